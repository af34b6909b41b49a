//! The swarm backend's safety rules. Swarm spans hosts, so its traps are rescheduling (a task
//! moved to another node finds a new, empty local volume), updates that run two tasks on one
//! volume, DNS that hides unhealthy tasks, and the routing mesh.

use super::{PublishMode, Settings, UpdateOrder};
use berth_backend::ServiceRule;
use berth_backends_shared::single_host::health_command;
use berth_diagnostic::Diagnostic;
use berth_model::{EnvValue, Quorum, Service, Spread};

berth_diagnostic::rules!();

/// Every rule, in the order the diagnostics are listed.
pub fn check(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    found.extend(NO_PERSISTENT_VOLUME.fire_without_volume(
        service,
        "the data lives in the task's container and is lost whenever Swarm replaces the task",
        "add a `[[volumes]]` entry whose `path` is the data directory",
    ));
    found.extend(unpinned_local_volume(service, settings));
    found.extend(start_first_update(service, settings));
    found.extend(QUORUM_GATED_HEALTH.fire_on_quorum_liveness(
        service,
        "Swarm keeps unhealthy tasks out of DNS and kills them, so after a full outage members never find each other (berth gives such members no health check)",
        "make `[health.liveness]` process-local and keep quorum in `[health.readiness]`, which Swarm does not use",
    ));
    found.extend(health_gates_discovery(service));
    found.extend(too_few_nodes(service, settings));
    found.extend(quorum_on_one_node(service));
    found.extend(routing_mesh_publication(service, settings));
    found.extend(no_resources(service));
    found.extend(health_check_needs_tool(service));
    found.extend(secrets_as_files(service));
    found
}

fn has_volume(service: &Service) -> bool {
    service.persistent_volumes().next().is_some()
}

fn unpinned_local_volume(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    (has_volume(service) && !*settings.pin && settings.volume_driver == "local").then(|| {
        UNPINNED_LOCAL_VOLUME.fire(
            service,
            settings.pin.span.clone(),
            "members are not pinned to nodes but their volumes are `local`: a task rescheduled to another node starts on a new, empty volume",
            "`pin = false` with local volumes",
            "keep `pin = true`, or set `volume_driver` to a driver whose volumes follow the task between nodes",
        )
    })
}

fn start_first_update(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    (has_volume(service) && *settings.update_order == UpdateOrder::StartFirst).then(|| {
        START_FIRST_UPDATE.fire(
            service,
            settings.update_order.span.clone(),
            "`update_order = \"start-first\"` starts the new task before stopping the old one: two processes write one data directory",
            "start-first",
            "use `update_order = \"stop-first\"` (the default)",
        )
    })
}

fn health_gates_discovery(service: &Service) -> Option<Diagnostic> {
    let live = service.health.liveness.as_ref()?;
    if !super::liveness_gates_discovery(service) || service.liveness_needs_quorum() {
        return None;
    }
    Some(if service.waits_for_peers(live) {
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
    })
}

fn too_few_nodes(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    if service.replication.spread.value != Spread::Required || settings.nodes.is_empty() {
        return None;
    }
    let distinct: std::collections::BTreeSet<&String> = settings.nodes.iter().collect();
    let repeats = distinct.len() < settings.nodes.len();
    (distinct.len() < service.replicas() as usize || repeats).then(|| {
        TOO_FEW_NODES.fire(
            service,
            settings.nodes.span.clone(),
            format!(
                "`spread = \"required\"` with {} members, but `nodes` names {} distinct nodes{}",
                service.replicas(),
                distinct.len(),
                if repeats { " and repeats one" } else { "" }
            ),
            "not enough distinct nodes",
            "name one distinct node per member in `[backends.swarm] nodes`",
        )
    })
}

fn quorum_on_one_node(service: &Service) -> Option<Diagnostic> {
    let spread = &service.replication.spread;
    let quorum = service.replication.quorum.value == Quorum::Majority;
    (quorum && service.replicas() > 1 && spread.value != Spread::Required).then(|| {
        QUORUM_ON_ONE_NODE.fire(
            service,
            spread.span.clone(),
            "members may share a node: `prepare-nodes.sh` puts them round the nodes it is given, and losing a node that holds a majority stops the cluster until the node returns",
            "spread not required",
            "set `spread = \"required\"` and give `prepare-nodes.sh` one node per member; allow this rule on a swarm of one node",
        )
    })
}

fn routing_mesh_publication(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    let mesh = settings.publish && *settings.publish_mode == PublishMode::Ingress;
    (mesh && service.public_ports().next().is_some()).then(|| {
        ROUTING_MESH_PUBLICATION.fire(
            service,
            settings.publish_mode.span.clone(),
            "`publish_mode = \"ingress\"` opens the database ports on every node of the swarm, behind a load balancer that spreads connections over members",
            "routing mesh",
            "use `publish_mode = \"host\"` (each member on its own node), or do not publish and connect from services on the overlay network",
        )
    })
}

fn no_resources(service: &Service) -> Option<Diagnostic> {
    let missing = service.missing_resources();
    (!missing.is_empty()).then(|| {
        NO_RESOURCES.fire(
            service,
            service.resources.as_ref().and_then(|r| r.span.clone()).or(service.container.span.clone()),
            format!("`resources.{}` not set: Swarm places tasks without knowing what they need, and nothing stops one from starving a node", missing.join("` and `resources.")),
            "limits missing",
            "set `cpu` and `memory` under `[resources]`",
        )
    })
}

fn health_check_needs_tool(service: &Service) -> Option<Diagnostic> {
    let live = service.health.liveness.as_ref()?;
    if super::liveness_gates_discovery(service) {
        return None;
    }
    let (_, Some(tools)) = health_command(service, live) else {
        return None;
    };
    Some(HEALTH_CHECK_NEEDS_TOOL.fire(
        service,
        live.span.clone(),
        format!("the liveness check runs inside the container and assumes {tools} in the image; Swarm kills tasks whose check fails"),
        "assumes tools in the image",
        "add `docker_exec = [...]` to `[health.liveness]` with a command the image has, or allow this rule once you checked the image",
    ))
}

fn secrets_as_files(service: &Service) -> Vec<Diagnostic> {
    service
        .container
        .env
        .iter()
        .filter(|v| matches!(v.value, EnvValue::Secret { .. }))
        .map(|var| {
            SECRET_AS_FILE.fire(
                service,
                var.span.clone(),
                format!("Swarm secrets are files: `{}` is not set; `{}_FILE` names the file instead", var.name, var.name),
                "becomes a file",
                format!("check that the image reads `{}_FILE` (the postgres and mysql images do), then allow this rule", var.name),
            )
        })
        .collect()
}
