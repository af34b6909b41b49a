//! The swarm backend's safety rules. Swarm spans hosts, so its traps are rescheduling (a task
//! moved to another node finds a new, empty local volume), updates that run two tasks on one
//! volume, DNS that hides unhealthy tasks, and the routing mesh.

use super::Settings;
use berth_backend::ServiceRule;
use berth_backends_shared::single_host::health_command;
use berth_diagnostic::Diagnostic;
use berth_model::{EnvValue, Service, Spread};

berth_diagnostic::rules!();

pub fn check(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let has_volume = service.persistent_volumes().next().is_some();
    found.extend(NO_PERSISTENT_VOLUME.fire_without_volume(
        service,
        "the data lives in the task's container and is lost whenever Swarm replaces the task",
        "add a `[[volumes]]` entry whose `path` is the data directory",
    ));
    if has_volume && !settings.pin && settings.volume_driver == "local" {
        found.push(UNPINNED_LOCAL_VOLUME.fire(
            service,
            settings.pin_span.clone(),
            "members are not pinned to nodes but their volumes are `local`: a task rescheduled to another node starts on a new, empty volume",
            "`pin = false` with local volumes",
            "keep `pin = true`, or set `volume_driver` to a driver whose volumes follow the task between nodes",
        ));
    }
    if has_volume && settings.update_order == "start-first" {
        found.push(START_FIRST_UPDATE.fire(
            service,
            settings.update_order_span.clone(),
            "`update_order = \"start-first\"` starts the new task before stopping the old one: two processes write one data directory",
            "start-first",
            "use `update_order = \"stop-first\"` (the default)",
        ));
    }
    found.extend(QUORUM_GATED_HEALTH.fire_on_quorum_liveness(
        service,
        "Swarm keeps unhealthy tasks out of DNS and kills them, so after a full outage members never find each other (berth gives such members no health check)",
        "make `[health.liveness]` process-local and keep quorum in `[health.readiness]`, which Swarm does not use",
    ));
    if let Some(live) = &service.health.liveness
        && super::liveness_gates_discovery(service)
        && !service.liveness_needs_quorum()
    {
        let diagnostic = if service.waits_for_peers(live) {
            HEALTH_GATES_DISCOVERY.fire(
                service,
                live.span.clone(),
                "the liveness check passes only once the member found its peers, and Swarm keeps a task out of DNS until its health check passes: the members would never find each other, so berth gives them no health check and Swarm restarts a member only when its process exits",
                "needs peers (`needs_peers` unset or true)",
                "if the check passes on a member whose peers are down (a process-local check), say `needs_peers = false`; otherwise allow this rule",
            )
        } else {
            HEALTH_GATES_DISCOVERY.fire(
                service,
                service.replication.discovery.span.clone().or(live.span.clone()),
                "the members look each other up only as they start (`discovery = \"at-start\"`), and Swarm keeps a task out of DNS until its first health check passes, one `interval` after it started: members restarted together would find nobody, so berth gives them no health check and Swarm restarts a member only when its process exits",
                "peers looked up once",
                "allow this rule if a member whose process hangs may stay until someone restarts it; otherwise run the service where members are resolvable as they start",
            )
        };
        found.push(diagnostic);
    }
    if service.replication.spread.value == Spread::Required && !settings.nodes.is_empty() {
        let distinct: std::collections::BTreeSet<&String> = settings.nodes.iter().collect();
        if distinct.len() < service.replicas() as usize || distinct.len() < settings.nodes.len() {
            found.push(TOO_FEW_NODES.fire(
                service,
                settings.nodes_span.clone(),
                format!("`spread = \"required\"` with {} members, but `nodes` names {} distinct nodes{}", service.replicas(), distinct.len(), if distinct.len() < settings.nodes.len() { " and repeats one" } else { "" }),
                "not enough distinct nodes",
                "name one distinct node per member in `[backends.swarm] nodes`",
            ));
        }
    }
    if settings.publish
        && settings.publish_mode == "ingress"
        && service.public_ports().next().is_some()
    {
        found.push(ROUTING_MESH_PUBLICATION.fire(
            service,
            settings.publish_mode_span.clone(),
            "`publish_mode = \"ingress\"` opens the database ports on every node of the swarm, behind a load balancer that spreads connections over members",
            "routing mesh",
            "use `publish_mode = \"host\"` (each member on its own node), or do not publish and connect from services on the overlay network",
        ));
    }
    let missing = service.missing_resources();
    if !missing.is_empty() {
        found.push(NO_RESOURCES.fire(
            service,
            service.resources.as_ref().and_then(|r| r.span.clone()).or(service.container.span.clone()),
            format!("`resources.{}` not set: Swarm places tasks without knowing what they need, and nothing stops one from starving a node", missing.join("` and `resources.")),
            "limits missing",
            "set `cpu` and `memory` under `[resources]`",
        ));
    }
    if let Some(live) = &service.health.liveness
        && !super::liveness_gates_discovery(service)
        && let (_, Some(tools)) = health_command(service, live)
    {
        found.push(HEALTH_CHECK_NEEDS_TOOL.fire(
            service,
            live.span.clone(),
            format!("the liveness check runs inside the container and assumes {tools} in the image; Swarm kills tasks whose check fails"),
            "assumes tools in the image",
            "add `docker_exec = [...]` to `[health.liveness]` with a command the image has",
        ));
    }
    for var in service
        .container
        .env
        .iter()
        .filter(|v| matches!(v.value, EnvValue::Secret { .. }))
    {
        found.push(SECRET_AS_FILE.fire(
            service,
            var.span.clone(),
            format!("Swarm secrets are files: `{}` is not set; `{}_FILE` names the file instead", var.name, var.name),
            "becomes a file",
            format!("check that the image reads `{}_FILE` (the postgres and mysql images do), then allow this rule", var.name),
        ));
    }
    found
}
