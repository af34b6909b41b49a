//! How the Cloud Foundry backend realizes each concern.

use super::Settings;
use berth_model::concern::{Concern::*, Realization, Table};
use berth_model::{CheckAction, Service, Start};

pub fn concerns(service: &Service, settings: &Settings) -> Vec<Realization> {
    let mut t = Table::new(service);
    if service.replicas() == 1 && settings.mounts.is_empty() {
        t.native(Storage, "a volume service mounted at the spec's path");
    } else {
        t.emulated(
            Storage,
            "a volume service with one directory per instance index, linked at the spec's path",
        );
    }
    t.unsupported(
        StorageClass,
        "the volume service instance decides; `class` is ignored",
    );
    t.native(
        Identity,
        "instance indexes; self is $CF_INSTANCE_INDEX in the start command",
    );
    t.native(
        Discovery,
        format!(
            "internal route: <index>.<name>.{} and a network policy between instances",
            settings.domain
        ),
    );
    t.degraded(
        Spread,
        "Diego spreads instances over cells and zones as best it can; it cannot be required",
    );
    t.unsupported(
        DisruptionBudget,
        "platform upgrades evacuate cells on their own schedule",
    );
    let check =
        |c: Option<&berth_model::Check>| c.map(|c| matches!(c.action, CheckAction::Exec { .. }));
    match check(service.health.liveness.as_ref()) {
        Some(true) => t.degraded(Liveness, "command checks become `process` checks"),
        _ => t.native(Liveness, "health-check-type http or port"),
    }
    match check(service.health.readiness.as_ref()) {
        Some(true) => t.degraded(Readiness, "command checks become `process` checks"),
        _ => t.native(Readiness, "readiness-health-check-type http or port"),
    }
    match service.replication.start.value {
        Start::Parallel => t.native(StartOrder, "instances start together"),
        Start::Ordered => t.unsupported(StartOrder, "instances always start together"),
    }
    t.degraded(
        RollingUpdate,
        "cf push stops, then starts; a rolling push would share instance directories",
    );
    t.degraded(Resources, "memory and disk_quota; CPU follows memory");
    t.emulated(
        Init,
        "cf run-task once from setup.sh, retrying until the cluster answers",
    );
    t.emulated(Secrets, "((variables)) filled by cf push --vars-file");
    t.emulated(
        Files,
        "the start command writes each file (secrets from ((variables)) filled by cf push --vars-file); a changed file changes the app, which cf push restarts",
    );
    t.degraded(
        TlsNames,
        "instance names are stable; certificates come through a service binding, not a mount",
    );
    t.realizations
}
