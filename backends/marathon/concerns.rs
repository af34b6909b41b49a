//! How the Marathon backend realizes each concern.

use super::Settings;
use berth_backend::spelling;
use berth_model::concern::{Concern::*, Realization, Table};
use berth_model::{CheckAction, Service, Spread, Start};

pub fn concerns(service: &Service, settings: &Settings) -> Vec<Realization> {
    let mut t = Table::new(service);
    t.native(
        Storage,
        "a local persistent volume per member app, mapped onto the spec's path",
    );
    t.degraded(
        StorageClass,
        format!(
            "the Mesos disk type `{}`; `class` is ignored",
            spelling(&settings.disk_type)
        ),
    );
    t.emulated(
        Identity,
        "one single-instance app per member in the group /<name>",
    );
    t.native(
        Discovery,
        "Mesos-DNS <member>-<name>.marathon.mesos with fixed host ports; a VIP for clients",
    );
    let pinned = settings
        .hosts
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        >= service.replicas() as usize;
    match service.replication.spread.value {
        _ if service.replicas() < 2 => t.native(Spread, "one member: nothing to spread"),
        Spread::None => t.degraded(Spread, "spread = none: members may share an agent"),
        _ if pinned => t.emulated(
            Spread,
            "each member pinned to its own agent with hostname:LIKE",
        ),
        _ => t.degraded(Spread, "only the members' fixed host ports keep them apart"),
    }
    t.unsupported(DisruptionBudget, "Marathon has no drain budget");
    t.native(Liveness, "Mesos-level health checks with a grace period");
    match service.health.readiness.as_ref().map(|r| &r.action) {
        Some(CheckAction::Http { .. }) => t.degraded(
            Readiness,
            "readinessChecks gate deployments only; the VIP still sends clients to a member that does not serve",
        ),
        Some(_) => t.degraded(
            Readiness,
            "readiness checks are HTTP only; this one is dropped",
        ),
        None => t.degraded(
            Readiness,
            "readinessChecks gate deployments only",
        ),
    }
    match service.replication.start.value {
        Start::Parallel => t.native(
            StartOrder,
            "member apps deploy together, without dependencies",
        ),
        Start::Ordered => t.native(StartOrder, "dependencies between member apps"),
    }
    t.degraded(RollingUpdate, "stop-then-start per member app; a majority is kept only by upgrading member apps one at a time");
    t.degraded(Resources, "cpus (request) and mem (limit); no CPU limit");
    t.emulated(Init, "a Metronome job restarted on failure");
    t.native(Secrets, "the DC/OS secret store");
    t.emulated(
        Files,
        "a start script writes each file (secrets from variables the DC/OS secret store fills) before exec'ing the command; a changed file changes the app, which Marathon restarts",
    );
    t.degraded(
        TlsNames,
        "Mesos-DNS names are stable; certificates are not mounted",
    );
    t.realizations
}
