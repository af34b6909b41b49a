//! The Marathon backend: a group `/<name>` of one app per member, each with a local persistent
//! volume, posted to `/v2/groups`; the same apps one per file for `/v2/apps` (to upgrade one
//! member at a time); and a Metronome job for `[init]`. `README.md` beside this file maps each
//! concern; `rules/` documents each rule.

mod concerns;
mod rules;

use crate::backend::{Backend, Compiled, Input, Lowered, OutputFile, Rule, pipeline};
use crate::diagnostic::Diagnostic;
use crate::model::{CheckAction, EnvValue, Identity, Member, Service, Start};
use crate::source::Span;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use toml::Spanned;

pub struct Marathon;

/// `[backends.marathon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The agent of each member, in member order: pins member `i` with `hostname:LIKE`.
    #[serde(default)]
    pub hosts: Option<Spanned<Vec<String>>>,
    /// `"mesos"` (default: MESOS_HTTP/MESOS_TCP/COMMAND) or `"marathon"` (HTTP/TCP).
    #[serde(default)]
    pub health_checks: Option<Spanned<String>>,
    /// `"disabled"` (default) or `"replace"`.
    #[serde(default)]
    pub unreachable_strategy: Option<Spanned<String>>,
    /// `upgradeStrategy.maximumOverCapacity` (default 0).
    #[serde(default)]
    pub maximum_over_capacity: Option<Spanned<f64>>,
    /// The Mesos disk of the persistent volumes: `"root"` (default), `"path"` or `"mount"`.
    #[serde(default)]
    pub disk_type: Option<Spanned<String>>,
}

pub struct Settings {
    pub hosts: Vec<String>,
    pub hosts_span: Option<Span>,
    pub health_checks: String,
    pub health_checks_span: Option<Span>,
    pub unreachable_strategy: String,
    pub unreachable_span: Option<Span>,
    pub maximum_over_capacity: f64,
    pub over_capacity_span: Option<Span>,
    pub disk_type: String,
}

fn settings(input: &Input) -> Result<Settings, Diagnostic> {
    let o: Options = input.options("marathon")?;
    let span = |r: std::ops::Range<usize>| Some(Span::new(input.file, r));
    let choice = |value: &Option<Spanned<String>>,
                  key: &str,
                  allowed: &[&str]|
     -> Result<(String, Option<Span>), Diagnostic> {
        let Some(v) = value else {
            return Ok((allowed[0].to_string(), None));
        };
        if !allowed.contains(&v.get_ref().as_str()) {
            return Err(Diagnostic::input(
                "spec/invalid-value",
                format!("`backends.marathon.{key}` is `{}`", v.get_ref()),
            )
            .at(span(v.span()), "unknown value")
            .help(format!("use one of {}", crate::spec::backticked(allowed))));
        }
        Ok((v.get_ref().clone(), span(v.span())))
    };
    let (health_checks, health_checks_span) =
        choice(&o.health_checks, "health_checks", &["mesos", "marathon"])?;
    let (unreachable_strategy, unreachable_span) = choice(
        &o.unreachable_strategy,
        "unreachable_strategy",
        &["disabled", "replace"],
    )?;
    let (disk_type, _) = choice(&o.disk_type, "disk_type", &["root", "path", "mount"])?;
    let maximum_over_capacity = o
        .maximum_over_capacity
        .as_ref()
        .map_or(0.0, |m| *m.get_ref());
    if !(0.0..=1.0).contains(&maximum_over_capacity) {
        return Err(Diagnostic::input(
            "spec/invalid-value",
            "`backends.marathon.maximum_over_capacity` must be between 0 and 1",
        )
        .at(
            o.maximum_over_capacity
                .as_ref()
                .and_then(|m| span(m.span())),
            "out of range",
        )
        .help("use 0"));
    }
    let hosts = o
        .hosts
        .as_ref()
        .map(|h| h.get_ref().clone())
        .unwrap_or_default();
    if let Some(bad) = hosts.iter().find(|h| {
        h.is_empty()
            || h.chars()
                .any(|c| !(c.is_ascii_alphanumeric() || "-.".contains(c)))
    }) {
        return Err(Diagnostic::input(
            "spec/invalid-value",
            format!("`backends.marathon.hosts` holds `{bad}`, which is not a host name"),
        )
        .at(
            o.hosts.as_ref().and_then(|h| span(h.span())),
            "invalid host",
        )
        .help("name each agent by its host name"));
    }
    Ok(Settings {
        hosts,
        hosts_span: o.hosts.as_ref().and_then(|h| span(h.span())),
        health_checks,
        health_checks_span,
        unreachable_strategy,
        unreachable_span,
        maximum_over_capacity,
        over_capacity_span: o
            .maximum_over_capacity
            .as_ref()
            .and_then(|m| span(m.span())),
        disk_type,
    })
}

impl Backend for Marathon {
    fn name(&self) -> &'static str {
        "marathon"
    }

    fn rules(&self) -> &'static [Rule] {
        rules::RULES
    }

    fn compile(&self, input: &Input) -> Compiled {
        let service = input.service;
        pipeline(
            settings(input),
            |settings| rules::check(service, settings),
            |settings| concerns::concerns(service, settings),
            |settings, diagnostics| {
                Ok(Lowered {
                    files: lower(service, settings, diagnostics)?,
                    tls_names: tls_names(service),
                })
            },
        )
    }
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
        .map_err(|e| vec![Diagnostic::input("output/json", e.to_string())])
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
            Member {
                ordinal: i.to_string(),
                host: host(service, &member),
                name: member,
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
    let group = json!({ "id": format!("/{name}"), "apps": apps });
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
) -> Result<Value, Vec<Diagnostic>> {
    let name = service.name();
    let identity = Identity::new(Some(member), members);
    let mut words = Vec::new();
    for t in service
        .container
        .command
        .iter()
        .chain(&service.container.args)
    {
        words.push(service.render(t, &identity)?);
    }
    let mut parameters = Vec::new();
    if !service.container.command.is_empty() {
        // The Docker containerizer's `--entrypoint`: Marathon's `args` follow the image's entrypoint.
        parameters.push(json!({ "key": "entrypoint", "value": words.remove(0) }));
    }
    let mut env = serde_json::Map::new();
    let mut secrets = serde_json::Map::new();
    for var in &service.container.env {
        match &var.value {
            EnvValue::Literal(t) => {
                env.insert(
                    var.name.clone(),
                    Value::String(service.render(t, &identity)?),
                );
            }
            // The DC/OS secret store holds the value; the app only names it.
            EnvValue::Secret { secret, key } => {
                let reference = format!("secret-{}", secrets.len());
                secrets.insert(
                    reference.clone(),
                    json!({ "source": format!("{name}/{secret}/{key}") }),
                );
                env.insert(var.name.clone(), json!({ "secret": reference }));
            }
        }
    }
    // A local persistent volume may only have a single-level relative path; a second, host-path
    // volume maps the spec's absolute path onto it.
    let mut volumes = Vec::new();
    for volume in service.persistent_volumes() {
        let size = volume
            .size
            .as_ref()
            .map_or(0, |(_, bytes)| mebibytes(*bytes as f64));
        volumes.push(json!({ "containerPath": volume.name, "mode": "RW", "persistent": { "type": settings.disk_type, "size": size } }));
        volumes
            .push(json!({ "containerPath": volume.path, "hostPath": volume.name, "mode": "RW" }));
    }
    let scratch: u64 = service
        .volumes
        .iter()
        .filter(|v| !v.persistent)
        .filter_map(|v| v.size.as_ref())
        .map(|(_, b)| mebibytes(*b as f64))
        .sum();
    // Fixed host ports: peers reach `<member>-<group>.marathon.mesos:<port>`.
    let port_mappings: Vec<Value> = service
        .ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut mapping = json!({
                "containerPort": p.port,
                "hostPort": p.port,
                "protocol": if p.protocol == crate::model::Protocol::Udp { "udp" } else { "tcp" },
                "name": p.name,
            });
            if p.expose == crate::model::Expose::Public {
                mapping["labels"] = json!({ format!("VIP_{i}"): format!("/{name}:{}", p.port) });
            }
            mapping
        })
        .collect();
    let port_index = |port: &str| {
        service
            .ports
            .iter()
            .position(|p| p.name == port)
            .unwrap_or(0)
    };
    let mesos = settings.health_checks == "mesos";
    let health_checks: Vec<Value> = service
        .health
        .liveness
        .iter()
        .map(|live| {
            let mut check = match &live.action {
                CheckAction::Http { path, port } => json!({ "protocol": if mesos { "MESOS_HTTP" } else { "HTTP" }, "path": path, "portIndex": port_index(port) }),
                CheckAction::Tcp { port } => json!({ "protocol": if mesos { "MESOS_TCP" } else { "TCP" }, "portIndex": port_index(port) }),
                CheckAction::Exec { argv } => {
                    let line = argv.iter().map(|a| crate::backends::docker::engine::shell_quote(a)).collect::<Vec<_>>().join(" ");
                    json!({ "protocol": "COMMAND", "command": { "value": line } })
                }
            };
            check["gracePeriodSeconds"] = json!(grace_period(service, live));
            check["intervalSeconds"] = json!(live.interval.unwrap_or(10));
            check["timeoutSeconds"] = json!(live.timeout.unwrap_or(5));
            check["maxConsecutiveFailures"] = json!(live.failures.unwrap_or(3));
            check
        })
        .collect();
    let readiness_checks: Vec<Value> = service
        .health
        .readiness
        .iter()
        .filter_map(|ready| match &ready.action {
            CheckAction::Http { path, port } => Some(json!({
                "name": "readiness",
                "protocol": "HTTP",
                "path": path,
                "portName": port,
                "intervalSeconds": ready.interval.unwrap_or(10),
                "timeoutSeconds": ready.timeout.unwrap_or(5),
            })),
            // Marathon's readiness checks are HTTP only.
            _ => None,
        })
        .collect();
    let limits = service.resources.as_ref().map(|r| &r.value);
    let cpus = limits
        .and_then(|r| r.cpu.as_ref().or(r.cpu_limit.as_ref()))
        .and_then(|q| crate::quantity::parse_quantity(q).ok())
        .unwrap_or(1.0);
    let mem = limits
        .and_then(|r| r.memory_limit.as_ref().or(r.memory.as_ref()))
        .and_then(|q| crate::quantity::parse_quantity(q).ok())
        .map_or(1024, mebibytes);
    let mut labels = serde_json::Map::new();
    labels.insert("berth.service".into(), json!(name));
    // Marathon refuses to scale this app above one instance and upgrades it stop-then-start.
    labels.insert("MARATHON_SINGLE_INSTANCE_APP".into(), json!("true"));
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == crate::diagnostic::Severity::Allowed)
    {
        labels.insert(
            format!("berth.allowed.{}", d.code.replace('/', ".")),
            json!(d.allowed_because.clone().unwrap_or_default()),
        );
    }
    let mut app = json!({
        "id": format!("/{name}/{}", member.name),
        "instances": 1,
        "cpus": cpus,
        "mem": mem,
        "disk": scratch,
        "container": {
            "type": "DOCKER",
            "docker": { "image": service.render(&service.container.image, &identity)?, "forcePullImage": false, "parameters": parameters },
            "volumes": volumes,
            "portMappings": port_mappings,
        },
        "networks": [{ "mode": "container/bridge" }],
        "residency": { "taskLostBehavior": "WAIT_FOREVER" },
        // An unreachable member waits for its agent: a replacement would start on an empty volume.
        "unreachableStrategy": if settings.unreachable_strategy == "disabled" { json!("disabled") } else { json!({ "inactiveAfterSeconds": 300, "expungeAfterSeconds": 600 }) },
        // One instance, never two: stop the old task (releasing the volume), then start the new.
        "upgradeStrategy": { "minimumHealthCapacity": 0, "maximumOverCapacity": settings.maximum_over_capacity },
        "taskKillGracePeriodSeconds": service.stop_grace.value,
        "env": env,
        "labels": labels,
    });
    if !words.is_empty() {
        app["args"] = json!(words);
    }
    if !secrets.is_empty() {
        app["secrets"] = Value::Object(secrets);
    }
    if !health_checks.is_empty() {
        app["healthChecks"] = json!(health_checks);
    }
    if !readiness_checks.is_empty() {
        app["readinessChecks"] = json!(readiness_checks);
    }
    if let Some(host) = settings.hosts.get(index) {
        app["constraints"] = json!([["hostname", "LIKE", regex_escape(host)]]);
    }
    if service.replication.start.value == Start::Ordered && index > 0 {
        app["dependencies"] = json!([format!("/{name}/{}", members[index - 1].name)]);
    }
    Ok(app)
}

/// Mesos kills a task whose check fails after the grace period: give a slow start the startup
/// allowance (the startup check's budget, or five minutes).
fn grace_period(service: &Service, live: &crate::model::Check) -> u64 {
    let startup = service.health.startup.as_ref().map_or(300, |s| {
        s.interval.unwrap_or(10) * u64::from(s.failures.unwrap_or(30))
    });
    live.initial_delay.unwrap_or(0).max(startup)
}

/// `hostname:LIKE` takes a regular expression; a host name is matched literally.
fn regex_escape(host: &str) -> String {
    host.replace('.', "\\.")
}

/// A Metronome job that runs `[init]` once, restarting on failure until the cluster answers.
fn init_job(service: &Service, members: &[Member]) -> Result<Option<Value>, Vec<Diagnostic>> {
    let Some(init) = &service.init else {
        return Ok(None);
    };
    let identity = Identity::new(None, members);
    let image = service.render(
        init.image.as_ref().unwrap_or(&service.container.image),
        &Identity::new(members.first(), members),
    )?;
    let mut argv = Vec::new();
    for t in &init.command {
        argv.push(service.render(t, &identity)?);
    }
    Ok(Some(json!({
        "id": format!("{}-init", service.name()),
        "description": format!("berth: bootstrap of {}; run it once with POST /v1/jobs/{}-init/runs", service.name(), service.name()),
        "run": {
            "cpus": 0.1,
            "mem": 128,
            "disk": 0,
            "docker": { "image": image },
            "args": argv,
            "restart": { "policy": "ON_FAILURE", "activeDeadlineSeconds": 3600 },
        },
    })))
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
