//! berth: compile one spec of a stateful service into deployment files for several orchestrators.
//!
//! The pipeline is parse (spans kept) → parameters and templates resolved → one backend-neutral
//! [`model::Service`] → each backend checks its rules and lowers the model to files in memory →
//! [`output`] writes them. Backends never touch the filesystem.

pub mod backend;
pub mod backends;
pub mod cli;
pub mod compile;
pub mod concern;
pub mod diagnostic;
pub mod diff;
pub mod errors;
pub mod image;
pub mod model;
pub mod output;
pub mod params;
pub mod quantity;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod source;
pub mod spec;
pub mod start;
pub mod template;
pub mod yaml;
