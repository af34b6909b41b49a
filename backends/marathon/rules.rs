//! The Marathon backend's safety rules. Marathon keeps state with local persistent volumes that
//! pin a task to an agent; its defaults replace unreachable tasks and over-provision during
//! upgrades, and both lose that pinning.

use super::{HealthChecks, Settings, Unreachable};
use berth_backend::ServiceRule;
use berth_diagnostic::Diagnostic;
use berth_model::{Service, Spread, Start};

berth_diagnostic::rules!();

/// Every rule, in the order the diagnostics are listed.
pub fn check(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    found.extend(files_need_start_command(service));
    found.extend(NO_PERSISTENT_VOLUME.fire_without_volume(
        service,
        "the data lives in the task's sandbox, which Mesos deletes when the task ends",
        "add a `[[volumes]]` entry: it becomes a local persistent volume that pins the member to its agent",
    ));
    found.extend(unreachable_not_disabled(service, settings));
    found.extend(over_capacity(service, settings));
    found.extend(member_dependencies(service));
    found.extend(QUORUM_GATED_HEALTH.fire_on_quorum_liveness(
        service,
        "Marathon kills members whose check fails, so losing a majority kills the survivors too",
        "make `[health.liveness]` process-local and keep quorum in `[health.readiness]`",
    ));
    found.extend(marathon_health_checks(service, settings));
    found.extend(host_ports_not_offered(service, settings));
    found.extend(spread_not_enforced(service, settings));
    found
}

fn files_need_start_command(service: &Service) -> Option<Diagnostic> {
    (!service.files.is_empty() && !berth_model::start::possible(service)).then(|| {
        FILES_NEED_START_COMMAND.fire(
            service,
            service.files[0].span.clone(),
            "Marathon mounts no file content: a start script writes `[[files]]` and then starts the process, but the image has no shell or the spec no `container.command` to start",
            "files not written",
            "give the image's entrypoint in `container.command` (with an image that has `/bin/sh`), or bake the files into the image and allow this rule",
        )
    })
}

fn unreachable_not_disabled(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    let resident = service.persistent_volumes().next().is_some();
    (resident && *settings.unreachable_strategy != Unreachable::Disabled).then(|| {
        UNREACHABLE_NOT_DISABLED.fire(
            service,
            settings.unreachable_strategy.span.clone(),
            "`unreachable_strategy = \"replace\"`: when an agent is unreachable, Marathon starts the member elsewhere on a new, empty volume and expunges the old one with its data",
            "replaces unreachable members",
            "keep `unreachable_strategy = \"disabled\"` (the default): the member waits for its agent",
        )
    })
}

fn over_capacity(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    (*settings.maximum_over_capacity > 0.0).then(|| {
        OVER_CAPACITY.fire(
            service,
            settings.maximum_over_capacity.span.clone(),
            format!("`maximum_over_capacity = {}`: an upgrade starts the new member before the old one stops, on another agent without the data, or beside it on one volume", *settings.maximum_over_capacity),
            "over capacity during upgrades",
            "keep `maximum_over_capacity = 0` (the default)",
        )
    })
}

fn member_dependencies(service: &Service) -> Option<Diagnostic> {
    (service.replication.start.value == Start::Ordered && service.replicas() > 1).then(|| {
        MEMBER_DEPENDENCIES.fire(
            service,
            service.replication.start.span.clone(),
            "`start = \"ordered\"` becomes Marathon `dependencies` between members: Marathon deploys a member only once the previous one is healthy, so after a full outage, or with a quorum-gated check, the cluster never forms",
            "members depend on each other",
            "set `start = \"parallel\"`",
        )
    })
}

fn marathon_health_checks(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    let by_marathon = *settings.health_checks == HealthChecks::Marathon;
    (by_marathon && service.health.liveness.is_some()).then(|| {
        MARATHON_HEALTH_CHECKS.fire(
            service,
            settings.health_checks.span.clone(),
            "`health_checks = \"marathon\"`: Marathon itself probes every task over the network, which does not scale and mistakes a network partition for a dead member",
            "Marathon-level checks",
            "use `health_checks = \"mesos\"` (the default): the agent runs the check next to the task",
        )
    })
}

fn host_ports_not_offered(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    let unoffered: Vec<String> = service
        .ports
        .iter()
        .filter(|p| {
            !settings
                .agent_ports
                .iter()
                .any(|(low, high)| (*low..=*high).contains(&p.port))
        })
        .map(|p| format!("`{}` ({})", p.port, p.name))
        .collect();
    (!unoffered.is_empty()).then(|| {
        HOST_PORTS_NOT_OFFERED.fire(
            service,
            settings.agent_ports.span.clone().or(service.ports[0].span.clone()),
            format!("host ports {} are fixed (peers reach members at them), but Mesos agents offer only {} unless configured: the members wait for offers that never come", unoffered.join(", "), ranges(&settings.agent_ports)),
            "ports not offered",
            "offer these ports on the agents (`--resources=ports:[...]`) and list their ranges in `[backends.marathon] agent_ports`",
        )
    })
}

fn spread_not_enforced(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    if service.replicas() < 2 || service.replication.spread.value == Spread::None {
        return None;
    }
    let distinct: std::collections::BTreeSet<&String> = settings.hosts.iter().collect();
    (distinct.len() < service.replicas() as usize).then(|| {
        SPREAD_NOT_ENFORCED.fire(
            service,
            settings.hosts.span.clone().or(service.replication.spread.span.clone()),
            format!("{} members but {} distinct hosts named: Marathon constraints act within one app and each member is its own app, so only the members' fixed host ports keep two of them off one agent", service.replicas(), distinct.len()),
            "spread not enforced",
            "name one host per member in `[backends.marathon] hosts` to pin each member with `hostname:LIKE`",
        )
    })
}

fn ranges(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|(low, high)| format!("{low}-{high}"))
        .collect::<Vec<_>>()
        .join(", ")
}
