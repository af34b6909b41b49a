//! How the Cloud Foundry backend realizes each concern.

use super::Settings;
use berth_model::concern::{Claim, Concerns};
use berth_model::{CheckAction, Service, Start};

pub fn concerns(service: &Service, settings: &Settings) -> Concerns {
    let command = |c: Option<&berth_model::Check>| {
        c.is_some_and(|c| matches!(c.action, CheckAction::Exec { .. }))
    };
    Concerns {
        storage: if service.replicas() == 1 && settings.mounts.is_empty() {
            Claim::native("a volume service mounted at the spec's path")
        } else {
            Claim::emulated(
                "a volume service with one directory per instance index, linked at the spec's path",
            )
        },
        storage_class: Claim::unsupported(
            "the volume service instance decides; `class` is ignored",
        ),
        identity: Claim::native(
            "instance indexes; self is $CF_INSTANCE_INDEX in the start command",
        ),
        discovery: Claim::native(format!(
            "internal route: <index>.<name>.{} and a network policy between instances",
            settings.domain
        )),
        network: Claim::unsupported(
            "apps reach each other by internal routes and network policies of their own: no alias is carried",
        ),
        spread: Claim::degraded(
            "Diego spreads instances over cells and zones as best it can; it cannot be required",
        ),
        disruption_budget: Claim::unsupported(
            "platform upgrades evacuate cells on their own schedule",
        ),
        liveness: if command(service.health.liveness.as_ref()) {
            Claim::degraded("command checks become `process` checks")
        } else {
            Claim::native("health-check-type http or port")
        },
        readiness: if command(service.health.readiness.as_ref()) {
            Claim::degraded("command checks become `process` checks")
        } else {
            Claim::native("readiness-health-check-type http or port")
        },
        start_order: match service.replication.start.value {
            Start::Parallel => Claim::native("instances start together"),
            Start::Ordered => Claim::unsupported("instances always start together"),
        },
        rolling_update: Claim::degraded(
            "cf push stops, then starts; a rolling push would share instance directories",
        ),
        resources: Claim::degraded("memory and disk_quota; CPU follows memory"),
        init: Claim::emulated("cf run-task once from setup.sh, retrying until the cluster answers"),
        secrets: Claim::emulated("((variables)) filled by cf push --vars-file"),
        files: Claim::emulated(
            "the start command writes each file (secrets from ((variables)) filled by cf push --vars-file); a changed file changes the app, which cf push restarts",
        ),
        tls_names: Claim::degraded(
            "instance names are stable; certificates come through a service binding, not a mount",
        ),
    }
}
