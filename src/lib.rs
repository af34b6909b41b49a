//! berth: compile one spec of a stateful service into deployment files for several orchestrators.
//!
//! The pipeline, one folder a stage: [`language`] parses the spec (spans kept) and resolves its
//! parameters and templates into one backend-neutral [`model::Service`]; [`engine`] checks the
//! spec's rules and hands the service to each backend, which checks its own and lowers the model
//! to files in memory; [`output`] writes them, diffs them and reports. [`import`] reads a Compose
//! file back into specs, compiling them through [`engine`] to prove them. [`cli`] is the command
//! line over all of them. Backends never touch the filesystem.

pub mod cli;
pub mod diagnostic;
pub mod engine;
pub mod import;
pub mod language;
pub mod model;
pub mod output;
pub mod resolve;
