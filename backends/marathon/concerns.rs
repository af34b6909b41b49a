//! How the Marathon backend realizes each concern.

use super::Settings;
use berth_backend::spelling;
use berth_model::concern::{Claim, Concerns};
use berth_model::{CheckAction, Service, Spread, Start};

pub fn concerns(service: &Service, settings: &Settings) -> Concerns {
    Concerns {
        storage: Claim::native(
            "a local persistent volume per member app, mapped onto the spec's path",
        ),
        storage_class: Claim::degraded(format!(
            "the Mesos disk type `{}`; `class` is ignored",
            spelling(&settings.disk_type)
        )),
        identity: Claim::emulated("one single-instance app per member in the group /<name>"),
        discovery: Claim::native(
            "Mesos-DNS <member>-<name>.marathon.mesos with fixed host ports; a VIP for clients",
        ),
        network: Claim::unsupported(
            "apps are found by Mesos-DNS names of their own: no shared network or alias is carried",
        ),
        spread: spread(service, settings),
        disruption_budget: Claim::unsupported("Marathon has no drain budget"),
        liveness: Claim::native("Mesos-level health checks with a grace period"),
        readiness: match service.health.readiness.as_ref().map(|r| &r.action) {
            Some(CheckAction::Http { .. }) => Claim::degraded(
                "readinessChecks gate deployments only; the VIP still sends clients to a member that does not serve",
            ),
            Some(_) => Claim::degraded("readiness checks are HTTP only; this one is dropped"),
            None => Claim::degraded("readinessChecks gate deployments only"),
        },
        start_order: match service.replication.start.value {
            Start::Parallel => Claim::native("member apps deploy together, without dependencies"),
            Start::Ordered => Claim::native("dependencies between member apps"),
        },
        rolling_update: Claim::degraded(
            "stop-then-start per member app; a majority is kept only by upgrading member apps one at a time",
        ),
        resources: Claim::degraded("cpus (request) and mem (limit); no CPU limit"),
        init: Claim::emulated("a Metronome job restarted on failure"),
        secrets: Claim::native("the DC/OS secret store"),
        files: Claim::emulated(
            "a start script writes each file (secrets from variables the DC/OS secret store fills) before exec'ing the command; a changed file changes the app, which Marathon restarts",
        ),
        tls_names: Claim::degraded("Mesos-DNS names are stable; certificates are not mounted"),
    }
}

/// Members are kept apart by pinning each to its own agent when `hosts` names enough of them.
fn spread(service: &Service, settings: &Settings) -> Claim {
    let pinned = settings
        .hosts
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        >= service.replicas() as usize;
    match service.replication.spread.value {
        _ if service.replicas() < 2 => Claim::native("one member: nothing to spread"),
        Spread::None => Claim::degraded("spread = none: members may share an agent"),
        _ if pinned => Claim::emulated("each member pinned to its own agent with hostname:LIKE"),
        _ => Claim::degraded("only the members' fixed host ports keep them apart"),
    }
}
