//! berth: compile one spec of a stateful service into deployment files for several orchestrators.
//!
//! The pipeline is a workspace of crates, one a stage, each depending only on those below it, so
//! that the compiler refuses an import that goes up (docs/architecture.md):
//! [`diagnostic`] (diagnostics, spans, input errors and rules) → [`language`] (the spec parsed
//! with spans, parameters, templates) → [`model`] (one backend-neutral service) → [`resolve`]
//! (a parsed spec made into the model) → [`backend`] (the seam every backend implements, and the
//! one YAML writer) → the backends, each a crate in `backends/NAME` → [`compile`] (their
//! registry, the spec's own rules, one compilation in memory) → [`output`] (writes, diffs and
//! reports) and [`import`] (Compose files into specs) → [`cli`], this crate. Backends never touch
//! the filesystem.

pub mod cli;

pub use berth_backend as backend;
pub use berth_compile as compile;
pub use berth_diagnostic as diagnostic;
pub use berth_import as import;
pub use berth_language as language;
pub use berth_model as model;
pub use berth_output as output;
pub use berth_resolve as resolve;
