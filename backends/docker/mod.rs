//! The docker backend: `run.sh`, a POSIX shell script that runs each member with `docker run`.
//! `README.md` beside this file maps each concern; `rules/` documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod rules;
mod upgrade;

use berth_backend::{Lowered, OutputFile, header_comment};
use berth_backends_shared::{files, single_host};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_language::template::ScriptTemplates;
use berth_model::shell::shell_quote;
use berth_model::{EnvValue, Identity, Service, Start};
use serde::Serialize;
use single_host::{HealthCommand, Publish, PublishOptions, health_command, read_publish};

pub struct Docker;

berth_backend::lowering!(Docker, PublishOptions => Publish, read_publish, scripts: SCRIPTS);

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    publish: &Publish,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    let header = header_comment(service, diagnostics);
    let options_span = service.backend_options.get(rules::BACKEND).cloned();
    let (contents, mut files) = script(service, publish, options_span, &header)?;
    files.push(OutputFile::script("run.sh", contents));
    files.push(OutputFile::script(
        "down.sh",
        down_script(service, &header)?,
    ));
    Ok(Lowered {
        files,
        tls_names: single_host::tls_names(service),
    })
}

#[derive(Serialize)]
struct Script {
    header: String,
    service: String,
    network: String,
    secret_checks: Vec<String>,
    /// The script's directory is needed: members bind-mount files beside it.
    files: bool,
    tls_volumes: Vec<TlsVolume>,
    /// Ordered start waits for the previous member's health, when its check can pass alone.
    wait_healthy: bool,
    members: Vec<MemberRun>,
    init: Option<InitRun>,
}

#[derive(Serialize)]
struct MemberRun {
    name: String,
    config: String,
    volumes: Vec<String>,
    arguments: String,
}

#[derive(Serialize)]
struct InitRun {
    name: String,
    arguments: String,
    /// The messages run.sh prints, each one shell word.
    succeeded: String,
    failed: String,
}

/// The user's TLS volume run.sh checks for, and the message (one shell word) when it is missing.
#[derive(Serialize)]
struct TlsVolume {
    name: String,
    missing: String,
}

static SCRIPTS: ScriptTemplates = ScriptTemplates::new(&[
    ("run.sh", include_str!("run.sh.hbs")),
    ("run-members", include_str!("run-members.hbs")),
    ("down.sh", include_str!("down.sh.hbs")),
]);

/// The parts of `run.sh` without data: plain text, so they cost no template parsing at start-up.
const FUNCTIONS: &str = include_str!("run-functions.sh");
const WAIT_HEALTHY: &str = include_str!("run-wait.sh");

/// Arguments of one `docker run`/`docker create`, one option per line, each word shell-quoted.
#[derive(Default)]
struct Arguments(Vec<String>);

impl Arguments {
    fn flag(&mut self, flag: &str, value: &str) {
        self.0.push(format!("{flag} {}", shell_quote(value)));
    }
    fn raw(&mut self, line: &str) {
        self.0.push(line.to_string());
    }
    fn words(&mut self, words: &[String]) {
        self.0.extend(words.iter().map(|w| shell_quote(w)));
    }
    fn block(&self, indent: &str) -> String {
        self.0
            .iter()
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join(" \\\n")
    }
}

fn script(
    service: &Service,
    publish: &Publish,
    options_span: Option<berth_diagnostic::source::Span>,
    header: &str,
) -> Result<(String, Vec<OutputFile>), Vec<Diagnostic>> {
    let members = service.members();
    let mut outputs = Vec::new();
    let ports = single_host::published_ports(service, publish, options_span)?;
    let limits = single_host::limits(service);
    let name = service.name();
    let mut runs = Vec::new();
    for (member, published) in members.iter().zip(&ports) {
        let identity = Identity::new(Some(member), &members);
        let mut args = Arguments::default();
        args.flag("--name", &member.name);
        args.flag("--hostname", &member.name);
        args.raw("--network \"$network\"");
        args.flag("--network-alias", &member.host);
        args.raw("--restart unless-stopped");
        args.raw("--security-opt no-new-privileges");
        args.flag("--label", &format!("berth.service={name}"));
        args.flag("--label", &format!("berth.member={}", member.ordinal));
        if let Some(user) = service.container.user {
            args.flag("--user", &user.to_string());
        }
        let volumes = volume_flags(service, member, &mut args);
        health_flags(service, &mut args);
        if let Some(memory) = &limits.memory {
            args.flag("--memory", memory);
        }
        if let Some(reservation) = &limits.memory_reservation {
            args.flag("--memory-reservation", reservation);
        }
        if let Some(cpus) = &limits.cpus {
            args.flag("--cpus", cpus);
        }
        args.flag("--stop-timeout", &service.stop_grace.value.to_string());
        env_flags(service, &identity, &mut args)?;
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
        let files = files::member_files(service, member, &members)?;
        for (source, target) in &files.binds {
            args.raw(&format!(
                "--volume \"$here\"/{}",
                shell_quote(&format!("{source}:{target}:ro"))
            ));
        }
        push_command(&mut args, service, &identity, &files)?;
        let arguments = args.block("  ");
        runs.push(MemberRun {
            name: shell_quote(&member.name),
            // A changed file changes the member's configuration too.
            config: if files.outputs.is_empty() {
                files::hash(&arguments)
            } else {
                files::hash(&format!("{arguments}{}", files::fingerprint(&files)))
            },
            volumes,
            arguments,
        });
        outputs.extend(files.outputs);
    }

    let init = service
        .init
        .as_ref()
        .map(|init| init_run(service, init, &members))
        .transpose()?;

    let secret_checks = secret_checks(service);
    let context = Script {
        header: header.to_string(),
        service: shell_quote(name),
        network: shell_quote(&single_host::network_name(service, "docker")),
        secret_checks,
        files: !service.files.is_empty(),
        tls_volumes: service
            .tls
            .iter()
            .map(|t| TlsVolume {
                name: shell_quote(&t.value.secret),
                missing: shell_quote(&format!(
                    "run.sh: create the volume {} holding the TLS certificates first",
                    t.value.secret
                )),
            })
            .collect(),
        wait_healthy: service.replication.start.value == Start::Ordered
            && health_gates_start(service),
        members: runs,
        init,
    };
    let render = |name: &str| {
        SCRIPTS.registry().render(name, &context).map_err(|e| {
            vec![Diagnostic::input(
                &errors::OUTPUT_TEMPLATE,
                format!("cannot render run.sh: {e}"),
            )]
        })
    };
    let wait = if context.wait_healthy {
        WAIT_HEALTHY
    } else {
        ""
    };
    let script = format!(
        "{}{FUNCTIONS}{wait}{}",
        render("run.sh")?,
        render("run-members")?
    );
    Ok((script, outputs))
}

/// `--volume` for each volume and the TLS certificates; the names of the member's own volumes,
/// which run.sh checks no other container has.
fn volume_flags(
    service: &Service,
    member: &berth_model::Member,
    args: &mut Arguments,
) -> Vec<String> {
    let mut volumes = Vec::new();
    for volume in &service.volumes {
        if volume.persistent {
            let volume_name = single_host::volume_name(member, &volume.name);
            args.flag("--volume", &format!("{volume_name}:{}", volume.path));
            volumes.push(shell_quote(&volume_name));
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
    volumes
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
    identity: &Identity,
    args: &mut Arguments,
) -> Result<(), Vec<Diagnostic>> {
    for var in &service.container.env {
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
    let mut args = Arguments::default();
    args.flag("--name", &init_name);
    args.raw("--network \"$network\"");
    args.flag("--label", &format!("berth.service={name}"));
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
        name: shell_quote(&init_name),
        arguments: args.block("      "),
        succeeded: shell_quote(&format!("run.sh: {init_name} already succeeded")),
        failed: shell_quote(&format!(
            "run.sh: {init_name} failed 30 times; see the logs of the members"
        )),
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

#[derive(Serialize)]
struct DownScript {
    header: String,
    service: String,
    network: String,
    /// One shell word: the names, separated by spaces, which the script splits.
    containers: String,
}

/// `down.sh`: run.sh's counterpart, which removes the containers and the network, never a volume.
fn down_script(service: &Service, header: &str) -> Result<String, Vec<Diagnostic>> {
    // Container names are DNS labels, so splitting at spaces gives them back.
    let mut containers: Vec<String> = service.members().into_iter().map(|m| m.name).collect();
    if service.init.is_some() {
        containers.push(format!("{}-init", service.name()));
    }
    let context = DownScript {
        header: header.to_string(),
        service: shell_quote(service.name()),
        network: shell_quote(&single_host::network_name(service, "docker")),
        containers: shell_quote(&containers.join(" ")),
    };
    SCRIPTS.registry().render("down.sh", &context).map_err(|e| {
        vec![Diagnostic::input(
            &errors::OUTPUT_TEMPLATE,
            format!("cannot render down.sh: {e}"),
        )]
    })
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

/// Lines of `run.sh` that stop it unless the caller's environment holds each secret, which
/// `--env NAME` passes on without writing the value or putting it in a process's arguments. The
/// spec allows only shell variable names for secrets, so the name is the variable.
fn secret_checks(service: &Service) -> Vec<String> {
    let mut lines = Vec::new();
    for file in &service.files {
        if let berth_model::FileBody::Secret { secret, key } = &file.body {
            let source = files::secret_source(secret, key);
            lines.push(format!(
                "[ -f \"$here\"/{} ] || {{ echo {} >&2; exit 1; }}",
                shell_quote(&source),
                shell_quote(&format!("run.sh: put the value of key {key} of secret {secret} in {source} beside this script (it becomes {})", file.path))
            ));
        }
    }
    for var in &service.container.env {
        let EnvValue::Secret { secret, key } = &var.value else {
            continue;
        };
        // The message is a word inside `${NAME:?WORD}`, where quotes are not removed: it holds
        // only the names' own characters.
        let name = &var.name;
        lines.push(format!(
            ": \"${{{name}:?set {name} in the environment: the value of key {key} of secret {secret}}}\""
        ));
    }
    lines
}
