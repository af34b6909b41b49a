//! The Cloud Foundry backend's safety rules. Cloud Foundry gives containers only ephemeral disk,
//! so data lives in a volume service: one shared directory for every instance.

use super::Settings;
use berth_backend::ServiceRule;
use berth_diagnostic::Diagnostic;
use berth_model::{CheckAction, Service};

berth_diagnostic::rules!();

pub fn check(service: &Service, settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    if !service.files.is_empty() && !super::files_placeable(service) {
        found.push(FILES_NEED_START_COMMAND.fire(
            service,
            service.files[0].span.clone(),
            "Cloud Foundry mounts no file content: the start command writes `[[files]]` and then starts the process, but the image has no shell or the spec names no process (`container.command` or `args`)",
            "files not written",
            "give the image's entrypoint in `container.command` (with an image that has `/bin/sh`), or bake the files into the image and allow this rule",
        ));
    }
    if service.container.shell == Some(false) {
        let start = !(service.container.command.is_empty() && service.container.args.is_empty());
        if start || service.init.is_some() {
            let (what, span) = if start {
                (
                    "the start command (`command` and `args`, with the steps that prepare each instance)",
                    service.container.span.clone(),
                )
            } else {
                (
                    "the init task (`[init] command`, retried in a loop)",
                    service.init.as_ref().and_then(|i| i.span.clone()),
                )
            };
            found.push(START_COMMAND_NEEDS_SHELL.fire(
                service,
                span,
                format!("Cloud Foundry runs {what} with `/bin/sh -c`, but `container.shell = false`: the image has no shell, so nothing starts"),
                "run by a shell",
                "use an image with `/bin/sh` (and set `shell = true`), or leave Cloud Foundry out with `targets`",
            ));
        }
    }
    let mut has_volume = false;
    for volume in service.persistent_volumes() {
        has_volume = true;
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
    found.extend(NO_PERSISTENT_VOLUME.fire_without_volume(
        service,
        "Cloud Foundry containers have only ephemeral disk, emptied on every restart, push and evacuation",
        "add a `[[volumes]]` entry and a volume service for it",
    ));
    if has_volume && service.replicas() > 1 && !settings.instance_directories {
        found.push(SHARED_INSTANCE_DIRECTORY.fire(
            service,
            settings.instance_directories_span.clone(),
            format!("{} instances mount one volume service without per-instance directories: they write one data directory", service.replicas()),
            "shared data directory",
            "keep `instance_directories = true` (each instance uses `<mount>/$CF_INSTANCE_INDEX`)",
        ));
    }
    found.extend(QUORUM_GATED_HEALTH.fire_on_quorum_liveness(
        service,
        "Cloud Foundry restarts instances that fail it, so losing a majority restarts the survivors too",
        "make `[health.liveness]` process-local and keep quorum in `[health.readiness]`",
    ));
    if has_volume {
        found.push(ROLLING_PUSH_SHARES_DIRECTORY.fire(
            service,
            service.volumes.iter().find(|v| v.persistent).and_then(|v| v.span.clone()),
            "`cf push --strategy rolling` (or canary) starts a new instance with index N before the old instance N stops: two processes write `<mount>/N`",
            "shared by old and new instances",
            "push with the default strategy (stop, then start), and allow this rule saying so",
        ));
    }
    for (key, check) in [
        ("liveness", &service.health.liveness),
        ("readiness", &service.health.readiness),
    ] {
        if let Some(check) = check
            && matches!(check.action, CheckAction::Exec { .. })
        {
            found.push(EXEC_HEALTH_CHECK.fire(
                service,
                check.span.clone(),
                format!("`[health.{key}]` runs a command; Cloud Foundry checks only ports, HTTP endpoints and the process, so it becomes a `process` check"),
                "command check",
                format!("give `[health.{key}]` an `http` or `tcp` check"),
            ));
        }
    }
    if service.container.command.is_empty() && !service.container.args.is_empty() {
        found.push(ENTRYPOINT_REPLACED.fire(
            service,
            service.container.args.first().and_then(|a| a.span.clone()),
            "Cloud Foundry's start command replaces the image's entrypoint: `args` run as the command, and the entrypoint does not run",
            "run as the start command",
            "add `command = [...]` with the image's entrypoint if it prepares what the process needs (its Dockerfile's ENTRYPOINT, or `docker image inspect`), or allow this rule",
        ));
    }
    if let Some(user) = service.container.user {
        found.push(USER_NOT_APPLIED.fire(
            service,
            service.container.span.clone(),
            format!("`container.user = {user}` is not applied: a Cloud Foundry manifest cannot choose the user, so the process runs as the image's own user"),
            "user not applied",
            "check that the image's own `USER` is the one you want (bake it into the image if not), then allow this rule",
        ));
    }
    if service
        .resources
        .as_ref()
        .is_none_or(|r| r.value.memory.is_none())
    {
        found.push(NO_MEMORY.fire(
            service,
            service.resources.as_ref().and_then(|r| r.span.clone()).or(service.container.span.clone()),
            "`resources.memory` not set: Cloud Foundry gives the app the foundation's default (often 1G) and kills it above that",
            "no memory",
            "set `memory` under `[resources]`",
        ));
    }
    found
}
