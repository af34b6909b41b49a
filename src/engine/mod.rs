//! The engine: diagnostics and the ids of input errors ([`diagnostic`], [`errors`]), the seam to
//! the backends and their registry ([`backend`], [`backends`]), the spec's own rules ([`rules`]),
//! and [`compile`], which runs a spec through the language, the rules and every targeted backend.
//! It produces files in memory and never writes them: that is [`crate::output`]'s.

pub mod backend;
pub mod backends;
pub mod compile;
pub mod diagnostic;
pub mod errors;
pub mod rules;
