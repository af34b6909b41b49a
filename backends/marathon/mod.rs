//! The Marathon backend: a group `/<name>` of one app per member, each with a local persistent
//! volume, posted to `/v2/groups`; the same apps one per file for `/v2/apps` (to upgrade one
//! member at a time); and a Metronome job for `[init]`. `README.md` beside this file maps each
//! concern; `rules/` documents each rule.

mod app;
#[cfg(test)]
mod claims;
mod concerns;
mod plan;
mod rules;
mod upgrade;

use app::*;
use berth_backend::{Input, Lowered, OutputFile, Setting, Spanned};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_language::quantity::parse_quantity;
use berth_model::{CheckAction, EnvValue, Identity, Member, Service, Start};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub struct Marathon;

/// `[backends.marathon]`: where the member apps run, how they are checked and upgraded.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MarathonOptions")]
pub struct Options {
    /// The agent of each member, in member order: pins member `i` with `hostname:LIKE`.
    #[serde(default)]
    pub hosts: Option<Spanned<Vec<String>>>,
    /// `"mesos"` (default: MESOS_HTTP/MESOS_TCP/COMMAND) or `"marathon"` (HTTP/TCP).
    #[serde(default)]
    pub health_checks: Option<Spanned<HealthChecks>>,
    /// `"disabled"` (default) or `"replace"`.
    #[serde(default)]
    pub unreachable_strategy: Option<Spanned<Unreachable>>,
    /// `upgradeStrategy.maximumOverCapacity`, from 0 (the default) to 1.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub maximum_over_capacity: Option<Spanned<f64>>,
    /// The Mesos disk of the persistent volumes: `"root"` (default), `"path"` or `"mount"`.
    #[serde(default)]
    pub disk_type: Option<DiskType>,
    /// The port ranges the agents offer, `"LOW-HIGH"` or `"PORT"` (default Mesos': `31000-32000`).
    #[serde(default)]
    pub agent_ports: Option<Spanned<Vec<String>>>,
}

/// Who runs the health checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthChecks {
    // The agent, next to the task.
    Mesos,
    // Marathon itself, over the network.
    Marathon,
}

/// What Marathon does with the member of an unreachable agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unreachable {
    Disabled,
    Replace,
}

/// The Mesos disk of a persistent volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiskType {
    Root,
    Path,
    Mount,
}

pub struct Settings {
    pub hosts: Setting<Vec<String>>,
    pub health_checks: Setting<HealthChecks>,
    pub unreachable_strategy: Setting<Unreachable>,
    pub maximum_over_capacity: Setting<f64>,
    pub disk_type: DiskType,
    pub agent_ports: Setting<Vec<(u16, u16)>>,
}

/// The ports a Mesos agent offers unless its `--resources` say otherwise.
const MESOS_DEFAULT_PORTS: (u16, u16) = (31000, 32000);

/// Parses `"LOW-HIGH"` or `"PORT"`.
fn port_range(text: &str) -> Option<(u16, u16)> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let (low, high) = (low.trim().parse().ok()?, high.trim().parse().ok()?);
    (low <= high).then_some((low, high))
}

fn settings(input: &Input, o: Options) -> Result<Settings, Vec<Diagnostic>> {
    let maximum_over_capacity = input.setting(o.maximum_over_capacity, 0.0);
    let hosts = input.setting(o.hosts, Vec::new());
    let agent_ports = input.setting(o.agent_ports, Vec::new());
    let errors: Vec<Diagnostic> = over_capacity_out_of_range(&maximum_over_capacity)
        .into_iter()
        .chain(invalid_hosts(&hosts))
        .chain(invalid_port_ranges(&agent_ports))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let ranges = match agent_ports.span {
        None => vec![MESOS_DEFAULT_PORTS],
        Some(_) => agent_ports.iter().filter_map(|r| port_range(r)).collect(),
    };
    Ok(Settings {
        agent_ports: Setting {
            value: ranges,
            span: agent_ports.span,
        },
        hosts,
        health_checks: input.setting(o.health_checks, HealthChecks::Mesos),
        unreachable_strategy: input.setting(o.unreachable_strategy, Unreachable::Disabled),
        maximum_over_capacity,
        disk_type: o.disk_type.unwrap_or(DiskType::Root),
    })
}

fn over_capacity_out_of_range(maximum: &Setting<f64>) -> Option<Diagnostic> {
    (!(0.0..=1.0).contains(&maximum.value)).then(|| {
        Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            "`backends.marathon.maximum_over_capacity` must be between 0 and 1",
        )
        .at(maximum.span.clone(), "out of range")
        .help("use 0")
    })
}

fn invalid_port_ranges(ranges: &Setting<Vec<String>>) -> Vec<Diagnostic> {
    ranges
        .iter()
        .filter(|r| port_range(r).is_none())
        .map(|r| {
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("`backends.marathon.agent_ports` holds `{r}`, which is not a port range"),
            )
            .at(ranges.span.clone(), "invalid port range")
            .help("write each range as \"LOW-HIGH\" or a single port, as in `[\"31000-32000\"]`")
        })
        .collect()
}

fn invalid_hosts(hosts: &Setting<Vec<String>>) -> Option<Diagnostic> {
    let bad = hosts.iter().find(|h| {
        h.is_empty()
            || h.chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-.".contains(c)))
    })?;
    Some(
        Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!("`backends.marathon.hosts` holds `{bad}`, which is not a host name"),
        )
        .at(hosts.span.clone(), "invalid host")
        .help("name each agent by its host name"),
    )
}

/// What `berth explain` and the backend list say of the platform.
const END_OF_LIFE: &str = "DC/OS reached its end of life in 2021 and Apache Mesos moved to the Apache Attic in 2025: this backend is a migration path for clusters that still run them, not a target for new deployments";

berth_backend::lowering!(
    Marathon,
    Options => Settings,
    settings;
    const STATUS: Option<&'static str> = Some(END_OF_LIFE);
    berth_backend::plans!();
);

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    Ok(Lowered {
        files: lower(service, settings, diagnostics)?,
        tls_names: tls_names(service),
    })
}

/// Mesos-DNS names a member app `/<group>/<app>` as `<app>-<group>.marathon.mesos`.
fn host(service: &Service, member: &str) -> String {
    format!("{member}-{}.marathon.mesos", service.name())
}

fn mebibytes(bytes: f64) -> u64 {
    (bytes / 1048576.0).ceil() as u64
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Vec<Diagnostic>> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| vec![Diagnostic::input(&errors::OUTPUT_JSON, e.to_string())])
}

fn lower(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
    let name = service.name();
    let members: Vec<Member> = (0..service.replicas())
        .map(|i| {
            let member = format!("{name}-{i}");
            // Pinned to its agent of `hosts`, a member publishes each port on it as it is.
            let published = settings.hosts.get(i as usize).map(|agent| {
                service
                    .public_ports()
                    .map(|p| (p.name.clone(), format!("{agent}:{}", p.port)))
                    .collect()
            });
            Member {
                ordinal: i.to_string(),
                host: host(service, &member),
                name: member,
                published: published.unwrap_or_default(),
            }
        })
        .collect();
    let mut apps = Vec::new();
    let mut files = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let app = member_app(service, settings, &members, member, i, diagnostics)?;
        files.push(OutputFile::new(
            format!("{}.json", member.name),
            to_json(&app)?,
        ));
        apps.push(app);
    }
    let group = Group {
        apps,
        id: format!("/{name}"),
    };
    files.insert(0, OutputFile::new(format!("{name}.json"), to_json(&group)?));
    if let Some(job) = init_job(service, &members)? {
        files.push(OutputFile::new(
            format!("{name}-init.metronome.json"),
            to_json(&job)?,
        ));
    }
    Ok(files)
}

fn member_app(
    service: &Service,
    settings: &Settings,
    members: &[Member],
    member: &Member,
    index: usize,
    diagnostics: &[Diagnostic],
) -> Result<App, Vec<Diagnostic>> {
    let name = service.name();
    let identity = Identity::new(Some(member), members);
    let mut secrets = Secrets::default();
    let (args, parameters) = start(service, &identity, &mut secrets)?;
    environment(service, &service.container.env, &identity, &mut secrets)?;
    let (volumes, scratch) = volumes(service, settings);
    let port_mappings = port_mappings(service);
    let health_checks = health_checks(service, settings);
    let readiness_checks = readiness_checks(service);
    let (cpus, mem) = cpus_and_mem(service);
    let labels = app_labels(name, diagnostics);
    Ok(App {
        args,
        constraints: settings
            .hosts
            .get(index)
            .map(|host| ["hostname".into(), "LIKE".into(), regex_escape(host)])
            .into_iter()
            .collect(),
        container: Container {
            docker: Docker {
                force_pull_image: false,
                image: service.render(&service.container.image, &identity)?,
                parameters,
            },
            port_mappings,
            kind: "DOCKER",
            volumes,
        },
        cpus,
        dependencies: dependencies(service, members, index),
        disk: scratch,
        env: secrets.env,
        health_checks,
        id: format!("/{name}/{}", member.name),
        instances: 1,
        labels,
        mem,
        networks: vec![Network {
            mode: "container/bridge",
        }],
        readiness_checks,
        secrets: secrets.sources,
        task_kill_grace_period_seconds: service.stop_grace.value,
        unreachable_strategy: unreachable_strategy(settings),
        // One instance, never two: stop the old task (releasing the volume), then start the new.
        upgrade_strategy: UpgradeStrategy {
            maximum_over_capacity: *settings.maximum_over_capacity,
            minimum_health_capacity: 0,
        },
    })
}

/// An app's `env` and the DC/OS secret store entries its variables name, filled together.
#[derive(Default)]
struct Secrets {
    env: BTreeMap<String, EnvVar>,
    sources: BTreeMap<String, SecretSource>,
}

impl Secrets {
    /// Sets `variable` from the secret store's `source`, which the app's `secrets` name `reference`.
    fn insert(&mut self, variable: String, reference: String, source: String) {
        self.sources
            .insert(reference.clone(), SecretSource { source });
        self.env
            .insert(variable, EnvVar::Secret { secret: reference });
    }
}

/// The app's `args` and the Docker parameters that start it: the spec's command, behind a start
/// script when `[[files]]` must be written first.
fn start(
    service: &Service,
    identity: &Identity,
    secrets: &mut Secrets,
) -> Result<(Vec<String>, Vec<Parameter>), Vec<Diagnostic>> {
    let mut words = service.render_argv(identity)?;
    // Marathon mounts no file content: a start script writes each file (a secret's from the
    // variable the secret store fills), then runs the command (rule marathon/files-need-start-command).
    // A secret file's content comes from a variable that the DC/OS secret store fills.
    let placements = berth_model::start::written(
        service,
        identity,
        berth_model::shell::shell_quote,
        |index, secret, key| {
            let variable = format!("BERTH_FILE_{index}");
            secrets.insert(
                variable.clone(),
                format!("file-{index}"),
                format!("{}/{secret}/{key}", service.name()),
            );
            variable
        },
    )?;
    let wrapped = !placements.is_empty() && berth_model::start::possible(service);
    if wrapped {
        words = berth_model::start::wrap(&berth_model::start::steps(&placements), words);
        berth_model::start::check_length(service, "marathon", &words[2])?;
    }
    let mut parameters = Vec::new();
    if wrapped || !service.container.command.is_empty() {
        // The Docker containerizer's `--entrypoint`: Marathon's `args` follow the image's entrypoint.
        parameters.push(Parameter {
            key: "entrypoint",
            value: words.remove(0),
        });
    }
    if let Some(user) = service.container.user {
        // The Docker containerizer's `--user`; Marathon's own `user` is the Mesos agent's.
        parameters.push(Parameter {
            key: "user",
            value: user.to_string(),
        });
    }
    Ok((words, parameters))
}

/// The spec's variables: literal values rendered for the member, secrets named for the store.
fn environment(
    service: &Service,
    vars: &[berth_model::EnvVar],
    identity: &Identity,
    secrets: &mut Secrets,
) -> Result<(), Vec<Diagnostic>> {
    for var in vars {
        match &var.value {
            EnvValue::Literal(t) => {
                secrets.env.insert(
                    var.name.clone(),
                    EnvVar::Value(service.render(t, identity)?),
                );
            }
            // The DC/OS secret store holds the value; the app only names it.
            EnvValue::Secret { secret, key } => {
                let reference = format!("secret-{}", secrets.sources.len());
                secrets.insert(
                    var.name.clone(),
                    reference,
                    format!("{}/{secret}/{key}", service.name()),
                );
            }
        }
    }
    Ok(())
}

/// With `start = "ordered"`, the previous member's app, which Marathon starts first.
fn dependencies(service: &Service, members: &[Member], index: usize) -> Vec<String> {
    if service.replication.start.value == Start::Ordered && index > 0 {
        vec![format!("/{}/{}", service.name(), members[index - 1].name)]
    } else {
        Vec::new()
    }
}

/// An unreachable member waits for its agent: a replacement would start on an empty volume.
fn unreachable_strategy(settings: &Settings) -> UnreachableStrategy {
    if *settings.unreachable_strategy == Unreachable::Disabled {
        UnreachableStrategy::Disabled("disabled")
    } else {
        UnreachableStrategy::After {
            expunge_after_seconds: 600,
            inactive_after_seconds: 300,
        }
    }
}

/// Each persistent volume as Marathon requires it: a local persistent volume at a single-level
/// relative path, and a host-path volume mapping the spec's absolute path onto it; and the MiB
/// of scratch volumes, which add to the task's disk.
fn volumes(service: &Service, settings: &Settings) -> (Vec<Volume>, u64) {
    // A local persistent volume may only have a single-level relative path; a second, host-path
    // volume maps the spec's absolute path onto it.
    let mut volumes = Vec::new();
    for volume in service.persistent_volumes() {
        let size = volume
            .size
            .as_ref()
            .map_or(0, |(_, bytes)| mebibytes(*bytes as f64));
        volumes.push(Volume {
            container_path: volume.name.clone(),
            host_path: None,
            mode: "RW",
            persistent: Some(Persistent {
                size,
                kind: settings.disk_type,
            }),
        });
        volumes.push(Volume {
            container_path: volume.path.clone(),
            host_path: Some(volume.name.clone()),
            mode: "RW",
            persistent: None,
        });
    }
    let scratch: u64 = service
        .volumes
        .iter()
        .filter(|v| !v.persistent)
        .filter_map(|v| v.size.as_ref())
        .map(|(_, b)| mebibytes(*b as f64))
        .sum();
    (volumes, scratch)
}

fn port_mappings(service: &Service) -> Vec<PortMapping> {
    let name = service.name();
    // Fixed host ports: peers reach `<member>-<group>.marathon.mesos:<port>`.
    service
        .ports
        .iter()
        .enumerate()
        .map(|(i, p)| PortMapping {
            container_port: p.port,
            host_port: p.port,
            labels: if p.expose == berth_model::Expose::Public {
                BTreeMap::from([(format!("VIP_{i}"), format!("/{name}:{}", p.port))])
            } else {
                BTreeMap::new()
            },
            name: p.name.clone(),
            protocol: if p.protocol == berth_model::Protocol::Udp {
                "udp"
            } else {
                "tcp"
            },
        })
        .collect()
}

/// The liveness check, run by the agent (`mesos`) or by Marathon.
fn health_checks(service: &Service, settings: &Settings) -> Vec<HealthCheck> {
    let port_index = |port: &str| {
        service
            .ports
            .iter()
            .position(|p| p.name == port)
            .unwrap_or(0)
    };
    let mesos = *settings.health_checks == HealthChecks::Mesos;
    service
        .health
        .liveness
        .iter()
        .map(|live| {
            let (protocol, path, port_index, command) = match &live.action {
                CheckAction::Http { path, port } => (
                    if mesos { "MESOS_HTTP" } else { "HTTP" },
                    Some(path.clone()),
                    Some(port_index(port)),
                    None,
                ),
                CheckAction::Tcp { port } => (
                    if mesos { "MESOS_TCP" } else { "TCP" },
                    None,
                    Some(port_index(port)),
                    None,
                ),
                CheckAction::Exec { argv } => {
                    let line = argv
                        .iter()
                        .map(|a| berth_model::shell::shell_quote(a))
                        .collect::<Vec<_>>()
                        .join(" ");
                    ("COMMAND", None, None, Some(Command { value: line }))
                }
            };
            HealthCheck {
                command,
                grace_period_seconds: grace_period(service, live),
                interval_seconds: live.interval,
                max_consecutive_failures: live.failures.unwrap_or(3),
                path,
                port_index,
                protocol,
                timeout_seconds: live.timeout,
            }
        })
        .collect()
}

/// An `http` readiness check; Marathon's readiness checks are HTTP only.
fn readiness_checks(service: &Service) -> Vec<ReadinessCheck> {
    service
        .health
        .readiness
        .iter()
        .filter_map(|ready| match &ready.action {
            CheckAction::Http { path, port } => Some(ReadinessCheck {
                interval_seconds: ready.interval,
                name: "readiness",
                path: path.clone(),
                port_name: port.clone(),
                protocol: "HTTP",
                timeout_seconds: ready.timeout,
            }),
            // Marathon's readiness checks are HTTP only.
            _ => None,
        })
        .collect()
}

/// `cpus` (the request, else the limit) and `mem` (the limit, else the request), in MiB.
fn cpus_and_mem(service: &Service) -> (f64, u64) {
    let limits = service.resources.as_ref().map(|r| &r.value);
    let cpus = limits
        .and_then(|r| r.cpu.as_ref().or(r.cpu_limit.as_ref()))
        .and_then(|q| parse_quantity(q).ok())
        .unwrap_or(1.0);
    let mem = limits
        .and_then(|r| r.memory_limit.as_ref().or(r.memory.as_ref()))
        .and_then(|q| parse_quantity(q).ok())
        .map_or(1024, mebibytes);
    (cpus, mem)
}

fn app_labels(name: &str, diagnostics: &[Diagnostic]) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert("berth.service".to_string(), name.to_string());
    // Marathon refuses to scale this app above one instance and upgrades it stop-then-start.
    labels.insert("MARATHON_SINGLE_INSTANCE_APP".into(), "true".into());
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == berth_diagnostic::Severity::Allowed)
    {
        labels.insert(
            format!("berth.allowed.{}", d.code.replace('/', ".")),
            d.allowed_because.clone().unwrap_or_default(),
        );
    }
    labels
}

/// Mesos kills a task whose check fails after the grace period: give a slow start the startup
/// allowance (the startup check's budget, or five minutes).
fn grace_period(service: &Service, live: &berth_model::Check) -> u64 {
    let startup = service
        .health
        .startup
        .as_ref()
        .map_or(300, |s| s.interval * u64::from(s.failures.unwrap_or(30)));
    live.initial_delay.unwrap_or(0).max(startup)
}

/// `hostname:LIKE` takes a regular expression; a host name is matched literally.
fn regex_escape(host: &str) -> String {
    host.replace('.', "\\.")
}

/// A Metronome job that runs `[init]` once, restarting on failure until the cluster answers.
fn init_job(service: &Service, members: &[Member]) -> Result<Option<Job>, Vec<Diagnostic>> {
    let Some(init) = &service.init else {
        return Ok(None);
    };
    let identity = Identity::new(None, members);
    let image = service.render(
        init.image.as_ref().unwrap_or(&service.container.image),
        &Identity::new(members.first(), members),
    )?;
    let mut argv = init.argv(service, &identity)?;
    // `[init] command` is the whole argv: its first word replaces the image's entrypoint.
    let entrypoint = Parameter {
        key: "entrypoint",
        value: argv.remove(0),
    };
    let mut secrets = Secrets::default();
    environment(service, &init.env, &identity, &mut secrets)?;
    let name = service.name();
    Ok(Some(Job {
        description: format!(
            "berth: bootstrap of {name}; run it once with POST /v1/jobs/{name}-init/runs"
        ),
        id: format!("{name}-init"),
        run: JobRun {
            args: argv,
            cpus: parse_quantity(&init.resources.cpu).unwrap_or(0.1),
            disk: 0,
            docker: JobDocker {
                image,
                parameters: vec![entrypoint],
            },
            env: secrets.env,
            secrets: secrets.sources,
            mem: parse_quantity(&init.resources.memory).map_or(128, mebibytes),
            restart: JobRestart {
                active_deadline_seconds: 3600,
                policy: "ON_FAILURE",
            },
        },
    }))
}

/// Each member's Mesos-DNS name, and the spec's extras.
fn tls_names(service: &Service) -> Vec<String> {
    let mut names: Vec<String> = (0..service.replicas())
        .map(|i| host(service, &format!("{}-{i}", service.name())))
        .collect();
    names.push(format!(
        "{}.marathon.l4lb.thisdcos.directory",
        service.name()
    ));
    if let Some(tls) = &service.tls {
        names.extend(tls.value.extra_names.iter().map(|n| n.value.clone()));
    }
    names
}
