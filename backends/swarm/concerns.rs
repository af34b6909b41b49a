//! How the swarm backend realizes each concern.

use super::Settings;
use berth_backend::spelling;
use berth_model::concern::{Concern::*, Realization, Table};
use berth_model::{Service, Spread, Start};

pub fn concerns(service: &Service, settings: &Settings) -> Vec<Realization> {
    let mut t = Table::new(service);
    if *settings.pin {
        t.emulated(
            Storage,
            "a named volume per member on the node its placement constraint pins it to",
        );
    } else {
        t.native(
            Storage,
            format!(
                "volumes of the `{}` driver, which follow the task",
                settings.volume_driver
            ),
        );
    }
    t.degraded(
        StorageClass,
        format!(
            "the `{}` volume driver; `class` is ignored",
            settings.volume_driver
        ),
    );
    t.emulated(
        Identity,
        "one service <name>-<ordinal> with replicas: 1 per member",
    );
    t.degraded(
        Discovery,
        "overlay network DNS by service name (dnsrr: the task's own address); a task is in DNS only while healthy",
    );
    match service.replication.spread.value {
        _ if service.replicas() < 2 => t.native(Spread, "one replica: nothing to spread"),
        Spread::None => t.degraded(Spread, "spread = none: members may share a node"),
        _ => t.emulated(
            Spread,
            "node labels from prepare-nodes.sh and placement constraints",
        ),
    }
    t.unsupported(
        DisruptionBudget,
        "a node drain moves tasks regardless; a pinned member waits for its node",
    );
    match &service.health.liveness {
        Some(_) if super::liveness_gates_discovery(service) => t
            .unsupported(
                Liveness,
                "no health check: the check needs peers, or members look each other up only as they start, and a task is in DNS only once healthy; Swarm restarts a member when its process exits",
            ),
        _ => t.native(
            Liveness,
            "healthcheck with a start period; Swarm replaces unhealthy tasks",
        ),
    }
    t.unsupported(Readiness, "Swarm has one health check; it carries liveness");
    match service.replication.start.value {
        Start::Parallel => t.native(StartOrder, "all member services start together"),
        Start::Ordered => t.unsupported(
            StartOrder,
            "stack deploy starts services together; depends_on is ignored",
        ),
    }
    t.emulated(
        RollingUpdate,
        format!(
            "deploy.sh deploys members/<member>.yaml one at a time, each once the one before runs the new spec; update_config and rollback_config {} within a member",
            spelling(&*settings.update_order)
        ),
    );
    t.native(Resources, "deploy.resources limits and reservations");
    t.emulated(Init, "a one-shot service with restart_policy on-failure");
    t.degraded(
        Secrets,
        "external Swarm secrets as files; the container gets <NAME>_FILE",
    );
    t.native(
        Files,
        "a config per member and file, named by a hash of its content, and external secrets `<secret>.<key>`, each with uid, gid and mode; a changed file is a new config, which deploy.sh rolls one member at a time",
    );
    t.native(
        TlsNames,
        "service names on the overlay network; certificate files as external Swarm secrets",
    );
    t.realizations
}
