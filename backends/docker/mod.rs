//! The docker backend: `run.sh`, a POSIX shell script that runs each member with `docker run`.
//! `README.md` beside this file maps each concern; `rules/` documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod plan;
mod rules;
mod scripts;
mod upgrade;

use berth_backend::{Lowered, OutputFile, header_comment};
use berth_backends_shared::script::Script;
use berth_backends_shared::{files, single_host};
use berth_diagnostic::Diagnostic;
use berth_model::shell::shell_quote;
use berth_model::{EnvValue, Identity, Service, Start};
use scripts::{InitRun, MemberRun, MemberVolume};
use single_host::{HealthCommand, Publish, PublishOptions, health_command, read_publish};

pub struct Docker;

berth_backend::lowering!(Docker, PublishOptions => Publish, read_publish; berth_backend::plans!(););

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    publish: &Publish,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    let header = header_comment(service, diagnostics);
    let (contents, mut files) = script(service, publish, &header)?;
    files.push(OutputFile::script("run.sh", contents));
    files.push(OutputFile::script("down.sh", down_script(service, &header)));
    Ok(Lowered {
        files,
        tls_names: single_host::tls_names(service),
    })
}

/// Arguments of one `docker run`/`docker create`, one option per line, each value shell-quoted.
struct Arguments {
    script: Script,
    /// What starts each line.
    indent: &'static str,
}

impl Arguments {
    fn new(indent: &'static str) -> Self {
        Arguments {
            script: Script::new(),
            indent,
        }
    }
    /// Starts a line, continuing the previous one with a backslash.
    fn line(&mut self) -> &mut Script {
        if !self.script.as_str().is_empty() {
            self.script.text(" \\\n");
        }
        self.script.text(self.indent)
    }
    fn flag(&mut self, flag: &'static str, value: &str) {
        self.line().text(flag).text(" ").word(value);
    }
    fn raw(&mut self, line: &'static str) {
        self.line().text(line);
    }
    fn words(&mut self, words: &[String]) {
        for word in words {
            self.line().word(word);
        }
    }
}

/// The members (with the ports they publish), each one's `docker run`, and the files they
/// bind-mount.
type MemberRuns = (Vec<berth_model::Member>, Vec<MemberRun>, Vec<OutputFile>);

fn member_runs(service: &Service, publish: &Publish) -> Result<MemberRuns, Vec<Diagnostic>> {
    member_runs_with_files(service, publish, None)
}

/// As [`member_runs`], with the files of the member with ordinal `files_at.0` written to and mounted from `files_at`.
fn member_runs_with_files(
    service: &Service,
    publish: &Publish,
    files_at: Option<(u32, &str)>,
) -> Result<MemberRuns, Vec<Diagnostic>> {
    let options_span = service.backend_options.get(rules::BACKEND).cloned();
    let ports = single_host::published_ports(service, publish, options_span)?;
    let members = single_host::members(service, publish, &ports);
    let mut runs = Vec::new();
    let mut outputs = Vec::new();
    for (member, published) in members.iter().zip(&ports) {
        let at = files_at
            .filter(|(o, _)| member.ordinal == o.to_string())
            .map(|(_, at)| at);
        let (run, files) = member_run(service, publish, member, &members, published, at)?;
        runs.push(run);
        outputs.extend(files);
    }
    Ok((members, runs, outputs))
}

/// `run.sh` and the files its members bind-mount.
fn script(
    service: &Service,
    publish: &Publish,
    header: &str,
) -> Result<(String, Vec<OutputFile>), Vec<Diagnostic>> {
    let (members, runs, outputs) = member_runs(service, publish)?;
    let init = service
        .init
        .as_ref()
        .map(|init| init_run(service, init, &members))
        .transpose()?;
    let network = service.network_name("docker");
    let run = scripts::Run {
        header,
        service: service.name(),
        network: &network,
        files: !service.files.is_empty(),
        secret_checks: secret_checks(service),
        tls_volumes: service
            .tls
            .iter()
            .map(|t| t.value.secret.as_str())
            .collect(),
        wait_healthy: service.replication.start.value == Start::Ordered
            && health_gates_start(service),
        members: runs,
        init,
    };
    Ok((scripts::run_sh(&run), outputs))
}

/// One member's `docker run` arguments, the hash of its configuration, and its files.
fn member_run(
    service: &Service,
    publish: &Publish,
    member: &berth_model::Member,
    members: &[berth_model::Member],
    published: &[single_host::Published],
    files_at: Option<&str>,
) -> Result<(MemberRun, Vec<OutputFile>), Vec<Diagnostic>> {
    let identity = Identity::new(Some(member), members);
    let name = service.name();
    let mut args = Arguments::new("  ");
    args.flag("--name", &member.name);
    args.flag("--hostname", &member.name);
    args.raw("--network \"$network\"");
    args.flag("--network-alias", &member.host);
    for alias in service.aliases(&identity)? {
        args.flag("--network-alias", &alias);
    }
    args.raw("--restart unless-stopped");
    args.raw("--security-opt no-new-privileges");
    args.flag("--label", &format!("berth.service={name}"));
    args.flag("--label", &format!("berth.member={}", member.ordinal));
    if let Some(user) = service.container.user {
        args.flag("--user", &user.to_string());
    }
    let volumes = volume_flags(service, member, &identity, &mut args)?;
    health_flags(service, &mut args);
    limit_flags(service, &mut args);
    args.flag("--stop-timeout", &service.stop_grace.value.to_string());
    env_flags(service, &service.container.env, &identity, &mut args)?;
    for p in published {
        args.flag(
            "--publish",
            &format!(
                "{}:{}:{}/{}",
                single_host::publish_host(&publish.address),
                p.host_port,
                p.port,
                p.protocol
            ),
        );
    }
    let mut files = files::member_files(service, member, members)?;
    if let Some(at) = files_at {
        files.relocate(&format!("files/{}/", member.name), at);
    }
    for (source, target) in &files.binds {
        args.line()
            .text("--volume \"$here\"/")
            .word(&format!("{source}:{target}:ro"));
    }
    push_command(&mut args, service, &identity, &files)?;
    let arguments = args.script;
    // A changed file changes the member's configuration too.
    let config = if files.outputs.is_empty() {
        files::hash(arguments.as_str())
    } else {
        files::hash(&format!(
            "{}{}",
            arguments.as_str(),
            files::fingerprint(&files)
        ))
    };
    let run = MemberRun {
        name: member.name.clone(),
        config,
        volumes,
        arguments,
    };
    Ok((run, files.outputs))
}

/// `--memory`, `--memory-reservation` and `--cpus` from `[resources]`.
fn limit_flags(service: &Service, args: &mut Arguments) {
    let limits = single_host::limits(service);
    if let Some(memory) = &limits.memory {
        args.flag("--memory", memory);
    }
    if let Some(reservation) = &limits.memory_reservation {
        args.flag("--memory-reservation", reservation);
    }
    if let Some(cpus) = &limits.cpus {
        args.flag("--cpus", cpus);
    }
}

/// `--volume` for each volume and the TLS certificates; the member's own volumes, which run.sh
/// checks no other container has (and that an external one exists).
fn volume_flags(
    service: &Service,
    member: &berth_model::Member,
    identity: &Identity,
    args: &mut Arguments,
) -> Result<Vec<MemberVolume>, Diagnostic> {
    let mut volumes = Vec::new();
    for volume in &service.volumes {
        if volume.persistent {
            let external = service.external_volume(volume, identity)?;
            let name = external
                .clone()
                .unwrap_or_else(|| single_host::volume_name(member, &volume.name));
            args.flag("--volume", &format!("{name}:{}", volume.path));
            volumes.push(MemberVolume {
                name,
                external: external.is_some(),
            });
        } else {
            // An anonymous volume: scratch space that a recreated container does not keep.
            args.flag("--volume", &volume.path);
        }
    }
    if let Some(tls) = &service.tls {
        args.flag(
            "--volume",
            &format!("{}:{}:ro", tls.value.secret, tls.value.path),
        );
    }
    Ok(volumes)
}

/// `--health-*` from the liveness check, when the engine can run it.
fn health_flags(service: &Service, args: &mut Arguments) {
    if let Some(live) = engine_check(service) {
        let command = match health_command(service, live).0 {
            HealthCommand::Exec(argv) => argv
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
            HealthCommand::Shell(line) => line,
        };
        args.flag("--health-cmd", &command);
        args.flag("--health-interval", &single_host::seconds(live.interval));
        args.flag("--health-timeout", &single_host::seconds(live.timeout));
        args.flag("--health-retries", &live.failures.unwrap_or(3).to_string());
        if let Some(delay) = live.initial_delay {
            args.flag("--health-start-period", &single_host::seconds(delay));
        }
    }
}

/// `--env` for each variable: literal values rendered for the member; secrets by name only,
/// taken from the caller's environment when the script runs.
fn env_flags(
    service: &Service,
    vars: &[berth_model::EnvVar],
    identity: &Identity,
    args: &mut Arguments,
) -> Result<(), Vec<Diagnostic>> {
    for var in vars {
        match &var.value {
            EnvValue::Literal(t) => args.flag(
                "--env",
                &format!("{}={}", var.name, service.render(t, identity)?),
            ),
            // Taken from the caller's environment when the script runs; never written here.
            EnvValue::Secret { .. } => args.flag("--env", &var.name),
        }
    }
    Ok(())
}

/// The `[init]` container, created once and started until it succeeds.
fn init_run(
    service: &Service,
    init: &berth_model::Init,
    members: &[berth_model::Member],
) -> Result<InitRun, Vec<Diagnostic>> {
    let name = service.name();
    let identity = Identity::new(None, members);
    let init_name = format!("{name}-init");
    let mut args = Arguments::new("      ");
    args.flag("--name", &init_name);
    args.raw("--network \"$network\"");
    args.flag("--label", &format!("berth.service={name}"));
    args.flag("--memory", &single_host::bytes(&init.resources.memory));
    args.flag("--cpus", &single_host::cpus(&init.resources.cpu));
    env_flags(service, &init.env, &identity, &mut args)?;
    if let Some(tls) = &service.tls {
        args.flag(
            "--volume",
            &format!("{}:{}:ro", tls.value.secret, tls.value.path),
        );
    }
    let image = init.image.as_ref().unwrap_or(&service.container.image);
    let mut words = vec![service.render(image, &Identity::new(members.first(), members))?];
    words.extend(init.argv(service, &identity)?);
    // `--entrypoint` takes one word; the rest of the command follows the image.
    if words.len() > 1 {
        args.flag("--entrypoint", &words.remove(1));
    }
    args.words(&words);
    Ok(InitRun {
        name: init_name,
        arguments: args.script,
    })
}

/// The liveness check run.sh gives the engine. `--health-cmd` runs through `/bin/sh`: an image
/// without one gets none (rule docker/health-check-without-shell).
/// Whether run.sh can wait for each member's health before the next: only when the engine runs
/// its check and the check passes without the peers not yet started.
pub(crate) fn health_gates_start(service: &Service) -> bool {
    engine_check(service).is_some_and(|live| !service.waits_for_peers(live))
}

fn engine_check(service: &Service) -> Option<&berth_model::Check> {
    service
        .health
        .liveness
        .as_ref()
        .filter(|_| service.container.shell != Some(false))
}

/// `down.sh`: run.sh's counterpart, which removes the containers and the network, never a volume.
fn down_script(service: &Service, header: &str) -> String {
    let mut containers: Vec<String> = service.members().into_iter().map(|m| m.name).collect();
    if service.init.is_some() {
        containers.push(format!("{}-init", service.name()));
    }
    let network = service.network_name("docker");
    scripts::down_sh(header, service.name(), &network, &containers)
}

/// `--entrypoint` takes one word: the spec's `command[0]`; the rest of `command` and the `args`
/// follow the image, which is what Kubernetes' command and args mean.
/// The image and the member's command line; a start script that copies files into place goes
/// first when the member has any.
fn push_command(
    args: &mut Arguments,
    service: &Service,
    identity: &Identity,
    files: &files::MemberFiles,
) -> Result<(), Vec<Diagnostic>> {
    let mut words = service.render_argv(identity)?;
    if !files.placements.is_empty() {
        words = berth_model::start::wrap(&berth_model::start::steps(&files.placements), words);
    }
    if !service.container.command.is_empty() || !files.placements.is_empty() {
        args.flag("--entrypoint", &words.remove(0));
    }
    words.insert(0, service.render(&service.container.image, identity)?);
    args.words(&words);
    Ok(())
}

/// Lines of `run.sh` that stop it unless each secret file is beside it and the caller's
/// environment holds each secret, which `--env NAME` passes on without writing the value or
/// putting it in a process's arguments.
fn secret_checks(service: &Service) -> Script {
    let mut s = Script::new();
    for file in &service.files {
        if let berth_model::FileBody::Secret { secret, key } = &file.body {
            let source = files::secret_source(secret, key);
            s.text("[ -f \"$here\"/")
                .word(&source)
                .text(" ] || { echo ")
                .word(&format!("run.sh: put the value of key {key} of secret {secret} in {source} beside this script (it becomes {})", file.path))
                .text(" >&2; exit 1; }\n");
        }
    }
    s.script(&single_host::environment_secret_checks(service));
    s
}
