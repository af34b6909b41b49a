//! The engine: the seam to the backends and their registry ([`backend`], [`backends`]), the
//! spec's own rules ([`rules`]), and [`compile`], which runs a spec through the language, the
//! rules and every targeted backend; [`yaml`] is the one way every YAML output is serialized.
//! It produces files in memory and never writes them: that is [`crate::output`]'s.

pub mod backend;
pub mod backends;
pub mod compile;
pub mod rules;
pub mod yaml;
