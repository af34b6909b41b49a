//! How the swarm backend realizes each concern.

use super::Settings;
use berth_backend::spelling;
use berth_model::concern::{Claim, Concerns};
use berth_model::{Service, Spread, Start};

pub fn concerns(service: &Service, settings: &Settings) -> Concerns {
    Concerns {
        storage: storage(settings),
        storage_class: Claim::degraded(format!(
            "the `{}` volume driver; `class` is ignored",
            settings.volume_driver
        )),
        identity: Claim::emulated("one service <name>-<ordinal> with replicas: 1 per member"),
        discovery: Claim::degraded(
            "overlay network DNS by service name (dnsrr: the task's own address); a task is in DNS only while healthy",
        ),
        network: Claim::native(
            "network aliases per member; the network `network.name` names is external to the stack, created by deploy.sh if missing",
        ),
        spread: match service.replication.spread.value {
            _ if service.replicas() < 2 => Claim::native("one replica: nothing to spread"),
            Spread::None => Claim::degraded("spread = none: members may share a node"),
            _ => Claim::emulated("node labels from prepare-nodes.sh and placement constraints"),
        },
        disruption_budget: Claim::unsupported(
            "a node drain moves tasks regardless; a pinned member waits for its node",
        ),
        liveness: liveness(service),
        readiness: Claim::unsupported("Swarm has one health check; it carries liveness"),
        start_order: match service.replication.start.value {
            Start::Parallel => Claim::native("all member services start together"),
            Start::Ordered => {
                Claim::unsupported("stack deploy starts services together; depends_on is ignored")
            }
        },
        rolling_update: Claim::emulated(format!(
            "deploy.sh deploys members/<member>.yaml one at a time, each once the one before runs the new spec; update_config and rollback_config {} within a member",
            spelling(&*settings.update_order)
        )),
        resources: Claim::native("deploy.resources limits and reservations"),
        init: Claim::emulated("a one-shot service with restart_policy on-failure"),
        secrets: Claim::degraded("external Swarm secrets as files; the container gets <NAME>_FILE"),
        files: Claim::native(
            "a config per member and file, named by a hash of its content, and external secrets `<secret>.<key>`, each with uid, gid and mode; a changed file is a new config, which deploy.sh rolls one member at a time",
        ),
        tls_names: Claim::native(
            "service names on the overlay network; certificate files as external Swarm secrets",
        ),
    }
}

/// Pinned members keep plain named volumes on their node; otherwise the driver must follow.
fn storage(settings: &Settings) -> Claim {
    if *settings.pin {
        Claim::emulated("a named volume per member on the node its placement constraint pins it to")
    } else {
        Claim::native(format!(
            "volumes of the `{}` driver, which follow the task",
            settings.volume_driver
        ))
    }
}

fn liveness(service: &Service) -> Claim {
    match &service.health.liveness {
        Some(_) if super::liveness_gates_discovery(service) => Claim::unsupported(
            "no health check: the check needs peers, or members look each other up only as they start, and a task is in DNS only once healthy; Swarm restarts a member when its process exits",
        ),
        _ => Claim::native("healthcheck with a start period; Swarm replaces unhealthy tasks"),
    }
}
