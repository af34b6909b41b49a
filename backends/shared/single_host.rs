//! What the backends that target Docker engines share (`docker`, `compose`, `swarm`): member
//! naming, unit conversion, health commands, published ports, TLS names, the compose format's
//! text, and the single-host safety rules. Each backend keeps its own rule ids and documents.

use crate::script::Script;
use berth_backend::{Input, ServiceRule, Spanned};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::Rule;
use berth_diagnostic::errors;
use berth_language::quantity::parse_quantity;
use berth_model::shell::shell_quote;
use berth_model::{Check, CheckAction, EnvValue, Member, Service, Spread};
use schemars::JsonSchema;
use serde::Deserialize;

/// `[backends.docker]` and `[backends.compose]`: where the public ports are published on the host.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishOptions {
    /// Publish the public ports at all (default true).
    #[serde(default)]
    pub publish: Option<bool>,
    /// Host address to publish on (default `127.0.0.1`: this host only); may hold templates.
    #[serde(default)]
    pub publish_address: Option<Spanned<String>>,
    /// Member `i` publishes `port + i × port_stride` (default 1).
    #[serde(default)]
    pub port_stride: Option<u16>,
}

/// Checks `[backends.<backend>]` of docker or compose.
pub fn read_publish(input: &Input, options: PublishOptions) -> Result<Publish, Vec<Diagnostic>> {
    let address = match &options.publish_address {
        Some(a) => {
            let span = Some(input.span(a));
            let text = input.service.render_option(&a.value, span.clone())?;
            if text.parse::<std::net::IpAddr>().is_err() {
                return Err(vec![
                    Diagnostic::input(
                        &errors::SPEC_INVALID_VALUE,
                        format!("`publish_address` `{text}` is not an IP address"),
                    )
                    .at(span, "not an address")
                    .help("write an address such as `127.0.0.1` or `0.0.0.0`"),
                ]);
            }
            text
        }
        None => "127.0.0.1".to_string(),
    };
    Ok(Publish {
        enabled: options.publish.unwrap_or(true),
        address,
        stride: options.port_stride.unwrap_or(1).max(1),
    })
}

/// The named volume of one member: `<name>-<ordinal>-<volume>`, shared by the docker and compose
/// backends so that moving from `run.sh` to compose keeps the data (run.sh refuses a volume that
/// another container has).
pub fn volume_name(member: &Member, volume: &str) -> String {
    format!("{}-{volume}", member.name)
}

/// A CPU quantity as docker's `--cpus` decimal (`500m` → `0.5`).
pub fn cpus(quantity: &str) -> String {
    let cores = parse_quantity(quantity).unwrap_or(0.0);
    let text = format!("{cores:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A memory quantity in docker's units (`8Gi` → `8g`; docker's suffixes are binary).
pub fn bytes(quantity: &str) -> String {
    // Rounded up: a limit is never below what the spec asked for.
    let bytes = parse_quantity(quantity).unwrap_or(0.0).ceil() as u128;
    for (suffix, unit) in [("g", 1u128 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    format!("{bytes}b")
}

/// A duration in docker's syntax.
pub fn seconds(s: u64) -> String {
    format!("{s}s")
}

/// Memory and CPU for one member: (cpus limit, memory limit, memory reservation).
pub struct Limits {
    pub cpus: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
}

pub fn limits(service: &Service) -> Limits {
    let Some(r) = service.resources.as_ref().map(|r| &r.value) else {
        return Limits {
            cpus: None,
            memory: None,
            memory_reservation: None,
        };
    };
    let memory_limit = r.memory_limit.as_ref().or(r.memory.as_ref());
    Limits {
        cpus: r.cpu_limit.as_ref().or(r.cpu.as_ref()).map(|q| cpus(q)),
        memory: memory_limit.map(|q| bytes(q)),
        // Docker's soft limit only means something below the hard one.
        memory_reservation: r
            .memory
            .as_ref()
            .filter(|m| Some(*m) != memory_limit)
            .map(|q| bytes(q)),
    }
}

/// How a check runs inside the container.
pub enum HealthCommand {
    /// An argv run directly (`["CMD", ...]`).
    Exec(Vec<String>),
    /// A command line for `/bin/sh -c` (`["CMD-SHELL", ...]`).
    Shell(String),
}

/// The check as a command, and the tools it assumes in the image when berth had to invent it.
pub fn health_command(service: &Service, check: &Check) -> (HealthCommand, Option<&'static str>) {
    if let Some(argv) = &check.docker_exec {
        return (HealthCommand::Exec(argv.clone()), None);
    }
    let port = |name: &str| service.port(name).map(|p| p.port).unwrap_or(0);
    match &check.action {
        CheckAction::Exec { argv } => (HealthCommand::Exec(argv.clone()), None),
        CheckAction::Http { path, port: name } => (
            HealthCommand::Shell(http_probe(port(name), path, check.timeout)),
            Some("`curl` or `wget` and `/bin/sh`"),
        ),
        CheckAction::Tcp { port: name } => (
            HealthCommand::Shell(tcp_probe(port(name))),
            Some("`nc` or `bash` and `/bin/sh`"),
        ),
    }
}

/// The shell line of an `http` check on one engine.
pub fn http_probe(port: u16, path: &str, timeout: u64) -> String {
    let url = shell_quote(&format!("http://127.0.0.1:{port}{path}"));
    format!(
        "curl -fsS --max-time {timeout} {url} >/dev/null || wget -q -T {timeout} -O /dev/null {url}"
    )
}

/// The shell line of a `tcp` check on one engine.
pub fn tcp_probe(port: u16) -> String {
    format!("nc -z 127.0.0.1 {port} || bash -c '</dev/tcp/127.0.0.1/{port}'")
}

/// The text of a compose-format file (compose.yaml, a Swarm stack). Compose and `docker stack
/// deploy` interpolate `$` in every value, and `$$` is a literal `$`; berth writes no
/// interpolation of its own, so every `$` is doubled here, in the one writer of the format, and
/// no value (an image, a path, a driver, a secret's name) can reach the operator's environment.
/// Keys hold no `$`: names are checked against their grammars.
pub fn compose_yaml_text<T: serde::Serialize>(value: &T) -> Result<String, Vec<Diagnostic>> {
    berth_backend::yaml_text(value).map(|text| text.replace('$', "$$"))
}

/// A check as a compose-format `healthcheck.test`: `CMD` with an argv, or `CMD-SHELL`.
pub fn compose_health_test(service: &Service, check: &Check) -> Vec<String> {
    match health_command(service, check).0 {
        HealthCommand::Exec(argv) => std::iter::once("CMD".to_string())
            .chain(argv.iter().cloned())
            .collect(),
        HealthCommand::Shell(line) => vec!["CMD-SHELL".to_string(), line],
    }
}

/// The `[init]` step in compose-format terms (compose and Swarm stacks): its image (the
/// container's unless it names one, rendered for the first member) and its command line, the
/// first word as the entrypoint.
pub fn compose_init(
    service: &Service,
    init: &berth_model::Init,
    members: &[berth_model::Member],
) -> Result<(String, ComposeCommand), Vec<Diagnostic>> {
    let identity = berth_model::Identity::new(None, members);
    let first = berth_model::Identity::new(members.first(), members);
    let image = init.image.as_ref().unwrap_or(&service.container.image);
    let mut command: Vec<String> = init.argv(service, &identity)?;
    let rest = command.split_off(1.min(command.len()));
    let line = ComposeCommand {
        entrypoint: Some(command),
        command: Some(rest),
    };
    Ok((service.render(image, &first)?, line))
}

/// A member's command line in compose-format terms.
pub struct ComposeCommand {
    /// The spec's `command[0]`.
    pub entrypoint: Option<Vec<String>>,
    /// The rest of `command`, then `args` (what Kubernetes calls command and args).
    pub command: Option<Vec<String>>,
}

/// Renders a member's command line for `identity`, escaped for a compose-format file.
/// With `placements`, a start script copies those files into place first.
pub fn compose_command(
    service: &Service,
    identity: &berth_model::Identity,
    placements: &[berth_model::start::Placement],
) -> Result<ComposeCommand, Vec<Diagnostic>> {
    let render = |t| service.render(t, identity);
    let mut command: Vec<String> = service
        .container
        .command
        .iter()
        .map(render)
        .collect::<Result<_, _>>()?;
    let mut args: Vec<String> = service
        .container
        .args
        .iter()
        .map(render)
        .collect::<Result<_, _>>()?;
    if !placements.is_empty() {
        command.append(&mut args);
        command = berth_model::start::wrap(&berth_model::start::steps(placements), command);
    }
    Ok(if !command.is_empty() {
        let rest = command.split_off(1);
        ComposeCommand {
            entrypoint: Some(command),
            command: Some(rest.into_iter().chain(args).collect()),
        }
    } else {
        ComposeCommand {
            entrypoint: None,
            command: (!args.is_empty()).then_some(args),
        }
    })
}

/// Where public ports are published on the host.
pub struct Publish {
    pub enabled: bool,
    pub address: String,
    pub stride: u16,
}

/// The host part of a `--publish`/`ports` entry (IPv6 addresses in brackets).
pub fn publish_host(address: &str) -> String {
    if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    }
}

/// A published port of one member.
pub struct Published {
    /// The port's name in the spec.
    pub name: String,
    pub host_port: u16,
    pub port: u16,
    pub protocol: &'static str,
}

/// The service's members, each with the `HOST:PORT` of its published ports (`published`), which
/// its templates may advertise to clients outside the engine.
pub fn members(
    service: &Service,
    publish: &Publish,
    ports: &[Vec<Published>],
) -> Vec<berth_model::Member> {
    let mut members = service.members();
    // `0.0.0.0` and `::` take connections on every address, and are none a client can dial.
    if matches!(publish.address.as_str(), "0.0.0.0" | "::" | "[::]") {
        return members;
    }
    for (member, published) in members.iter_mut().zip(ports) {
        member.published = published
            .iter()
            .map(|p| {
                let address = format!("{}:{}", publish_host(&publish.address), p.host_port);
                (p.name.clone(), address)
            })
            .collect();
    }
    members
}

/// Host ports of each member: member `i` publishes `port + i × stride`, so members on one host
/// never collide. An overflow or a collision between two ports is an input error.
pub fn published_ports(
    service: &Service,
    publish: &Publish,
    options_span: Option<berth_diagnostic::source::Span>,
) -> Result<Vec<Vec<Published>>, Diagnostic> {
    let mut seen = std::collections::BTreeMap::new();
    let mut all = Vec::new();
    for i in 0..service.replicas() {
        let mut mine = Vec::new();
        if publish.enabled {
            for port in service.public_ports() {
                let protocol = match port.protocol {
                    berth_model::Protocol::Tcp => "tcp",
                    berth_model::Protocol::Udp => "udp",
                };
                let host_port = u32::from(port.port) + i * u32::from(publish.stride);
                let clash = u16::try_from(host_port)
                    .ok()
                    .filter(|p| *p > 0)
                    .map(|p| seen.insert((p, protocol), (i, port.name.clone())));
                match clash {
                    Some(None) => mine.push(Published {
                        name: port.name.clone(),
                        host_port: host_port as u16,
                        port: port.port,
                        protocol,
                    }),
                    _ => {
                        return Err(Diagnostic::input(
                            &errors::SPEC_PORT_COLLISION,
                            format!("member {i}'s port `{}` would be published on host port {host_port}, which another port already takes or which does not exist", port.name),
                        )
                        .at(options_span.or(port.span.clone()), "host ports collide")
                        .help("set `port_stride` under this backend's options to a step larger than the distance between your ports, or `publish = false`"));
                    }
                }
            }
        }
        all.push(mine);
    }
    Ok(all)
}

/// The names a member's certificate must cover on one engine: its container name, and the spec's extras.
pub fn tls_names(service: &Service) -> Vec<String> {
    let mut names: Vec<String> = service.members().into_iter().map(|m| m.host).collect();
    names.push("localhost".into());
    if let Some(tls) = &service.tls {
        names.extend(tls.value.extra_names.iter().map(|n| n.value.clone()));
    }
    names
}

/// Declares a single-engine backend's rules from its documents, and `SINGLE_HOST`, the ones
/// every such backend keeps, for [`check_single_host`].
#[macro_export]
macro_rules! single_host_rules {
    () => {
        ::berth_diagnostic::rules!();
        static SINGLE_HOST: $crate::single_host::SingleHostRules =
            $crate::single_host::SingleHostRules {
                no_persistent_volume: &NO_PERSISTENT_VOLUME,
                replicas_share_host: &REPLICAS_SHARE_HOST,
                quorum_on_one_host: &QUORUM_ON_ONE_HOST,
                quorum_gated_health: &QUORUM_GATED_HEALTH,
                no_resources: &NO_RESOURCES,
                no_health_check: &NO_HEALTH_CHECK,
                health_check_needs_tool: &HEALTH_CHECK_NEEDS_TOOL,
            };
    };
}

/// The rules [`single_host_rules!`] declares for one backend.
pub struct SingleHostRules {
    pub no_persistent_volume: &'static Rule,
    pub replicas_share_host: &'static Rule,
    pub quorum_on_one_host: &'static Rule,
    pub quorum_gated_health: &'static Rule,
    pub no_resources: &'static Rule,
    pub no_health_check: &'static Rule,
    pub health_check_needs_tool: &'static Rule,
}

/// The checks of the rules every single-engine backend keeps. `without_shell`: the backend can
/// only give the engine a shell command line (docker run's `--health-cmd`), so every check
/// assumes `/bin/sh` in the image, and this rule says when it has none.
pub fn check_single_host(
    service: &Service,
    rules: &SingleHostRules,
    without_shell: Option<&'static Rule>,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    found.extend(rules.no_persistent_volume.fire_without_volume(
        service,
        "the data lives in the container's writable layer and is lost when the container is removed or recreated",
        "add a `[[volumes]]` entry whose `path` is the data directory",
    ));
    found.extend(replicas_share_host(service, rules));
    found.extend(quorum_on_one_host(service, rules));
    found.extend(rules.quorum_gated_health.fire_on_quorum_liveness(
        service,
        "after every member went down, each waits for the others' health before the quorum can form",
        "make `[health.liveness]` process-local and keep quorum in `[health.readiness]`",
    ));
    found.extend(no_resources(service, rules));
    found.extend(liveness(service, rules, without_shell));
    found
}

fn replicas_share_host(service: &Service, rules: &SingleHostRules) -> Option<Diagnostic> {
    let replicas = service.replicas();
    (replicas > 1 && service.replication.spread.value != Spread::None).then(|| {
        rules.replicas_share_host.fire(
            service,
            service.replication.spread.span.clone().or(service.replication.replicas.span.clone()),
            format!("{replicas} replicas run on one host: one engine cannot spread them, so one host failure takes every replica"),
            "spread is not possible",
            "deploy with a multi-host backend (kubernetes, swarm) for spread, or set `spread = \"none\"` to accept one host",
        )
    })
}

fn quorum_on_one_host(service: &Service, rules: &SingleHostRules) -> Option<Diagnostic> {
    (service.replication.quorum.value == berth_model::Quorum::Majority).then(|| {
        rules.quorum_on_one_host.fire(
            service,
            service.replication.quorum.span.clone(),
            "a quorum service on a single host is one failure domain: the majority survives a member's crash, not the host's",
            "one failure domain",
            "use this backend for development and single-host deployments only, or deploy with kubernetes or swarm",
        )
    })
}

fn no_resources(service: &Service, rules: &SingleHostRules) -> Option<Diagnostic> {
    let missing = service.missing_resources();
    (!missing.is_empty()).then(|| {
        rules.no_resources.fire(
            service,
            service.resources.as_ref().and_then(|r| r.span.clone()).or(service.container.span.clone()),
            format!("`resources.{}` not set: one member can starve the others and everything else on the host", missing.join("` and `resources.")),
            "limits missing",
            "set `cpu` and `memory` under `[resources]`",
        )
    })
}

/// `no-health-check`, the backend's `without_shell` rule, or `health-check-needs-tool`.
fn liveness(
    service: &Service,
    rules: &SingleHostRules,
    without_shell: Option<&'static Rule>,
) -> Option<Diagnostic> {
    let Some(live) = &service.health.liveness else {
        return Some(rules.no_health_check.fire(
            service,
            service.container.span.clone(),
            "no liveness check: the engine cannot tell a hung member from a healthy one",
            "no `[health.liveness]`",
            "add `[health.liveness]`, a process-local check",
        ));
    };
    if let Some(without_shell) = without_shell
        && service.container.shell == Some(false)
    {
        return Some(without_shell.fire(
            service,
            live.span.clone(),
            "the image has no `/bin/sh` (`container.shell = false`) and docker run's `--health-cmd` runs through it: run.sh gives the members no health check, so the engine reports no health and an ordered start waits only for each member to start",
            "no shell for `--health-cmd`",
            "accept it and allow this rule (docker run restarts a member when it exits, never because it is unhealthy), or deploy with compose, whose `exec` and `docker_exec` checks need no shell",
        ));
    }
    let (tools, help) = match health_command(service, live) {
        (_, Some(tools)) => (
            tools,
            "add `docker_exec = [...]` to `[health.liveness]` with a command the image has, or allow this rule once you checked the image",
        ),
        (HealthCommand::Exec(_), None)
            if without_shell.is_some() && service.container.shell != Some(true) =>
        {
            (
                "`/bin/sh` (docker run's `--health-cmd` runs through the shell)",
                "say whether the image has `/bin/sh`: `shell = true` under `[container]`, or `shell = false`, and run.sh then gives the members no health check",
            )
        }
        _ => return None,
    };
    Some(rules.health_check_needs_tool.fire(
        service,
        live.span.clone(),
        format!("the liveness check runs inside the container and assumes {tools} in the image"),
        "assumes tools in the image",
        help,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(cpus("500m"), "0.5");
        assert_eq!(cpus("2"), "2");
        assert_eq!(cpus("1.25"), "1.25");
        assert_eq!(bytes("8Gi"), "8g");
        assert_eq!(bytes("1536Mi"), "1536m");
        assert_eq!(bytes("1G"), "1000000000b");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("plain-word"), "plain-word");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's $(x)"), r"'it'\''s $(x)'");
    }
}

/// A compose-format service's network: the short form, or the long one where the member has
/// aliases there (`network.aliases`).
#[derive(serde::Serialize, Clone)]
#[serde(untagged)]
pub enum ServiceNetworks {
    Names([String; 1]),
    WithAliases(std::collections::BTreeMap<String, Attachment>),
}

#[derive(serde::Serialize, Clone)]
pub struct Attachment {
    aliases: Vec<String>,
}

impl ServiceNetworks {
    pub fn new(network: &str, aliases: Vec<String>) -> Self {
        if aliases.is_empty() {
            return ServiceNetworks::Names([network.to_string()]);
        }
        let attachment = Attachment { aliases };
        ServiceNetworks::WithAliases([(network.to_string(), attachment)].into())
    }
}

impl Default for ServiceNetworks {
    fn default() -> Self {
        ServiceNetworks::Names(Default::default())
    }
}

/// The secrets the members or the init step take from the caller's environment (`run.sh` passes
/// them on with `--env NAME`, compose with `NAME: null`), each variable once: its name, secret and
/// key. The spec allows only shell variable names for secrets, so the name is the variable.
pub fn environment_secrets(service: &Service) -> Vec<(&str, &str, &str)> {
    let init_env = service.init.iter().flat_map(|init| &init.env);
    let mut seen = std::collections::BTreeSet::new();
    service
        .container
        .env
        .iter()
        .chain(init_env)
        .filter_map(|var| match &var.value {
            EnvValue::Secret { secret, key } => {
                Some((var.name.as_str(), secret.as_str(), key.as_str()))
            }
            EnvValue::Literal(_) => None,
        })
        .filter(|(name, _, _)| seen.insert(*name))
        .collect()
}

/// The variables of [`environment_secrets`], for a plan's outline.
pub fn environment_secret_names(service: &Service) -> Vec<String> {
    let secrets = environment_secrets(service).into_iter();
    secrets.map(|(name, _, _)| name.to_string()).collect()
}

/// Lines that stop a script unless the caller's environment holds each of
/// [`environment_secrets`], without writing a value.
pub fn environment_secret_checks(service: &Service) -> Script {
    let mut s = Script::new();
    for (name, secret, key) in environment_secrets(service) {
        // The message is a word inside `${NAME:?WORD}`, where quotes are not removed: it holds
        // only the names' own characters, which their grammars keep to letters, digits, `-`, `.`
        // and `_`.
        s.text(": \"${")
            .name(name)
            .text(":?set ")
            .name(name)
            .text(" in the environment: the value of key ")
            .name(key)
            .text(" of secret ")
            .name(secret)
            .text("}\"\n");
    }
    s
}
