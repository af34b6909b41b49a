//! The registry of backends. Adding a backend is one `#[path]` module and one line in [`all`];
//! `shared` is what several of them use.

#[path = "../../backends/cloudfoundry/mod.rs"]
pub mod cloudfoundry;
#[path = "../../backends/compose/mod.rs"]
pub mod compose;
#[path = "../../backends/docker/mod.rs"]
pub mod docker;
#[path = "../../backends/kubernetes/mod.rs"]
pub mod kubernetes;
#[path = "../../backends/marathon/mod.rs"]
pub mod marathon;
/// What several backends share; not a backend.
#[path = "../../backends/shared/mod.rs"]
pub mod shared;
#[path = "../../backends/swarm/mod.rs"]
pub mod swarm;

use crate::engine::backend::{Backend, Rule};

/// Every backend, in the order they are compiled and listed.
pub fn all() -> &'static [&'static dyn Backend] {
    &[
        &docker::Docker,
        &compose::Compose,
        &kubernetes::Kubernetes,
        &swarm::Swarm,
        &cloudfoundry::CloudFoundry,
        &marathon::Marathon,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Backend> {
    all().iter().copied().find(|b| b.name() == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|b| b.name()).collect()
}

/// Every rule about a spec: the spec's own (`spec/...`), then each backend's. `berth import`'s
/// rules, about Compose files, are import's ([`crate::cli::every_rule`] lists all of them).
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    crate::engine::rules::RULES
        .iter()
        .chain(all().iter().flat_map(|b| b.rules().iter()))
        .copied()
}
