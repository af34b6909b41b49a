//! The registry of backends. Adding a backend is its crate in `backends/NAME`, one dependency
//! line in this crate's Cargo.toml and one line in [`all`].

use berth_backend::Backend;
use berth_diagnostic::Rule;

/// Every backend, in the order they are compiled and listed.
pub fn all() -> &'static [&'static dyn Backend] {
    &[
        &berth_backend_docker::Docker,
        &berth_backend_compose::Compose,
        &berth_backend_kubernetes::Kubernetes,
        &berth_backend_swarm::Swarm,
        &berth_backend_cloudfoundry::CloudFoundry,
        &berth_backend_marathon::Marathon,
        &berth_backend_helm::Helm {
            kubernetes: &berth_backend_kubernetes::Kubernetes,
        },
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Backend> {
    all().iter().copied().find(|b| b.name() == name)
}

/// The spec's JSON Schema, with each backend's options under `backends` (`berth schema`).
pub fn json_schema() -> String {
    berth_language::spec::json_schema(|generator| {
        all()
            .iter()
            .map(|backend| (backend.name(), backend.options_schema(generator)))
            .collect()
    })
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|b| b.name()).collect()
}

/// Every rule about a spec: the spec's own (`spec/...`), then each backend's. `berth import`'s
/// rules, about Compose files, are import's ([`crate::cli::every_rule`] lists all of them).
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    crate::spec_rules::RULES
        .iter()
        .chain(berth_backend::plan::RULES)
        .chain(all().iter().flat_map(|b| b.rules().iter()))
        .copied()
}
