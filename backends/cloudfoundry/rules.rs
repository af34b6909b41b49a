//! The Cloud Foundry backend's safety rules. Cloud Foundry gives containers only ephemeral disk,
//! so data lives in a volume service: one shared directory for every instance.

use super::Settings;
use berth_backend::ServiceRule;
use berth_diagnostic::Diagnostic;
use berth_model::{CheckAction, Service};

berth_diagnostic::rules!();

/// Every rule, in the order the diagnostics are listed.
pub fn check(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    found.extend(files_need_start_command(service));
    found.extend(start_command_needs_shell(service));
    found.extend(volumes(service, settings));
    found.extend(service_bound_twice(service, settings));
    found.extend(NO_PERSISTENT_VOLUME.fire_without_volume(
        service,
        "Cloud Foundry containers have only ephemeral disk, emptied on every restart, push and evacuation",
        "add a `[[volumes]]` entry and a volume service for it",
    ));
    found.extend(shared_instance_directory(service, settings));
    found.extend(QUORUM_GATED_HEALTH.fire_on_quorum_liveness(
        service,
        "Cloud Foundry restarts instances that fail it, so losing a majority restarts the survivors too",
        "make `[health.liveness]` process-local and keep quorum in `[health.readiness]`",
    ));
    found.extend(rolling_push_shares_directory(service));
    found.extend(exec_health_checks(service));
    found.extend(entrypoint_replaced(service));
    found.extend(user_not_applied(service));
    found.extend(no_memory(service));
    found
}

fn has_volume(service: &Service) -> bool {
    service.persistent_volumes().next().is_some()
}

fn files_need_start_command(service: &Service) -> Option<Diagnostic> {
    (!service.files.is_empty() && !super::files_placeable(service)).then(|| {
        FILES_NEED_START_COMMAND.fire(
            service,
            service.files[0].span.clone(),
            "Cloud Foundry mounts no file content: the start command writes `[[files]]` and then starts the process, but the image has no shell or the spec names no process (`container.command` or `args`)",
            "files not written",
            "give the image's entrypoint in `container.command` (with an image that has `/bin/sh`), or bake the files into the image and allow this rule",
        )
    })
}

fn start_command_needs_shell(service: &Service) -> Option<Diagnostic> {
    if service.container.shell != Some(false) {
        return None;
    }
    let start = !(service.container.command.is_empty() && service.container.args.is_empty());
    let (what, span) = if start {
        (
            "the start command (`command` and `args`, with the steps that prepare each instance)",
            service.container.span.clone(),
        )
    } else {
        (
            "the init task (`[init] command`, retried in a loop)",
            service.init.as_ref()?.span.clone(),
        )
    };
    Some(START_COMMAND_NEEDS_SHELL.fire(
        service,
        span,
        format!("Cloud Foundry runs {what} with `/bin/sh -c`, but `container.shell = false`: the image has no shell, so nothing starts"),
        "run by a shell",
        "use an image with `/bin/sh` (and set `shell = true`), or leave Cloud Foundry out with `targets`",
    ))
}

/// `volume-without-service` and `mount-under-app`, volume by volume.
fn volumes(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for volume in service.persistent_volumes() {
        if !settings.volume_services.contains_key(&volume.name) {
            found.push(VOLUME_WITHOUT_SERVICE.fire(
                service,
                volume.span.clone(),
                format!("volume `{}` needs a volume service: Cloud Foundry containers have only ephemeral disk, lost on every restart", volume.name),
                "no volume service",
                format!("name an NFS or SMB service instance in `[backends.cloudfoundry] volume_services = {{ {} = \"INSTANCE\" }}`", volume.name),
            ));
        }
        let mount = settings.mount(&volume.name);
        for path in [volume.path.as_str(), mount.as_str()] {
            if path == "/app" || path.starts_with("/app/") {
                found.push(MOUNT_UNDER_APP.fire(
                    service,
                    volume.span.clone(),
                    format!("`{path}` is under `/app`, which Cloud Foundry replaces with the app's droplet on every push"),
                    "under /app",
                    "mount the volume outside `/app` (set `[backends.cloudfoundry] mounts` or the volume's `path`)",
                ));
            }
        }
    }
    found
}

/// Each volume whose service instance an earlier volume already names.
fn service_bound_twice(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut first: std::collections::BTreeMap<&str, &str> = Default::default();
    let mut found = Vec::new();
    for volume in service.persistent_volumes() {
        let Some(instance) = settings.volume_services.get(&volume.name) else {
            continue;
        };
        match first.get(instance.as_str()) {
            Some(earlier) => found.push(SERVICE_BOUND_TWICE.fire(
                service,
                volume.span.clone(),
                format!("volumes `{earlier}` and `{}` both name the volume service `{instance}`: an app binds a service instance once, so `cf push` fails", volume.name),
                "instance already bound",
                format!("create a volume service instance for `{}` and name it in `volume_services`", volume.name),
            )),
            None => {
                first.insert(instance, &volume.name);
            }
        }
    }
    found
}

fn shared_instance_directory(service: &Service, settings: &Settings) -> Option<Diagnostic> {
    let shared = service.replicas() > 1 && !*settings.instance_directories;
    (has_volume(service) && shared).then(|| {
        SHARED_INSTANCE_DIRECTORY.fire(
            service,
            settings.instance_directories.span.clone(),
            format!("{} instances mount one volume service without per-instance directories: they write one data directory", service.replicas()),
            "shared data directory",
            "keep `instance_directories = true` (each instance uses `<mount>/$CF_INSTANCE_INDEX`)",
        )
    })
}

fn rolling_push_shares_directory(service: &Service) -> Option<Diagnostic> {
    has_volume(service).then(|| {
        ROLLING_PUSH_SHARES_DIRECTORY.fire(
            service,
            service.volumes.iter().find(|v| v.persistent).and_then(|v| v.span.clone()),
            "`cf push --strategy rolling` (or canary) starts a new instance with index N before the old instance N stops: two processes write `<mount>/N`",
            "shared by old and new instances",
            "push with the default strategy (stop, then start), and allow this rule saying so",
        )
    })
}

fn exec_health_checks(service: &Service) -> Vec<Diagnostic> {
    [
        ("liveness", &service.health.liveness),
        ("readiness", &service.health.readiness),
    ]
    .into_iter()
    .filter_map(|(key, check)| Some((key, check.as_ref()?)))
    .filter(|(_, check)| matches!(check.action, CheckAction::Exec { .. }))
    .map(|(key, check)| {
        EXEC_HEALTH_CHECK.fire(
            service,
            check.span.clone(),
            format!("`[health.{key}]` runs a command; Cloud Foundry checks only ports, HTTP endpoints and the process, so it becomes a `process` check"),
            "command check",
            format!("give `[health.{key}]` an `http` or `tcp` check"),
        )
    })
    .collect()
}

fn entrypoint_replaced(service: &Service) -> Option<Diagnostic> {
    let container = &service.container;
    (container.command.is_empty() && !container.args.is_empty()).then(|| {
        ENTRYPOINT_REPLACED.fire(
            service,
            container.args.first().and_then(|a| a.span.clone()),
            "Cloud Foundry's start command replaces the image's entrypoint: `args` run as the command, and the entrypoint does not run",
            "run as the start command",
            "add `command = [...]` with the image's entrypoint if it prepares what the process needs (its Dockerfile's ENTRYPOINT, or `docker image inspect`), or allow this rule",
        )
    })
}

fn user_not_applied(service: &Service) -> Option<Diagnostic> {
    let user = service.container.user?;
    Some(USER_NOT_APPLIED.fire(
        service,
        service.container.span.clone(),
        format!("`container.user = {user}` is not applied: a Cloud Foundry manifest cannot choose the user, so the process runs as the image's own user"),
        "user not applied",
        "check that the image's own `USER` is the one you want (bake it into the image if not), then allow this rule",
    ))
}

fn no_memory(service: &Service) -> Option<Diagnostic> {
    let resources = service.resources.as_ref();
    resources.is_none_or(|r| r.value.memory.is_none()).then(|| {
        NO_MEMORY.fire(
            service,
            resources.and_then(|r| r.span.clone()).or(service.container.span.clone()),
            "`resources.memory` not set: Cloud Foundry gives the app the foundation's default (often 1G) and kills it above that",
            "no memory",
            "set `memory` under `[resources]`",
        )
    })
}
