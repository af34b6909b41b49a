//! The compose backend: `compose.yaml` with one service per member, for Docker Compose v2 and
//! docker-compose 1.29. `README.md` beside this file maps each concern; `rules/` documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod plan;
mod rules;
mod upgrade;

use berth_backend::{Lowered, OutputFile, header_comment};
use berth_backends_shared::single_host::{self, Publish, PublishOptions, read_publish};
use berth_diagnostic::Diagnostic;
use berth_model::{Check, CheckAction, EnvValue, Identity, Member, Service, Start};
use serde::Serialize;
use std::collections::BTreeMap;

pub struct Compose;

berth_backend::lowering!(Compose, PublishOptions => Publish, read_publish; berth_backend::plans!(););

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    publish: &Publish,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    let options_span = service.backend_options.get(rules::BACKEND).cloned();
    let (file, mut files) = lower(service, publish, options_span)?;
    let contents = format!(
        "{}{}",
        header_comment(service, diagnostics),
        single_host::compose_yaml_text(&file)?
    );
    // Compose reads `.env` beside the file: the project is the service, not `compose`
    // (the directory's name), so two services' files never share a project.
    let env = format!(
        "{}COMPOSE_PROJECT_NAME={}\n",
        header_comment(service, &[]),
        service.name()
    );
    files.push(OutputFile::new("compose.yaml", contents));
    files.push(OutputFile::new(".env", env));
    Ok(Lowered {
        files,
        tls_names: single_host::tls_names(service),
    })
}

/// The Compose file. No top-level `name:` and no `version:`: docker-compose 1.29 rejects the
/// first, Compose v2 ignores the second.
#[derive(Serialize)]
struct ComposeFile {
    services: BTreeMap<String, ComposeService>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, VolumeDecl>,
    networks: BTreeMap<String, NetworkDecl>,
}

#[derive(Serialize, Default)]
struct ComposeService {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    restart: String,
    /// `null` passes the variable through from the environment of `docker-compose up`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<ServiceVolume>,
    networks: single_host::ServiceNetworks,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_opt: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_reservation: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<String, DependsOn>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct ServiceVolume {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
}

#[derive(Serialize)]
struct Healthcheck {
    test: Vec<String>,
    interval: String,
    timeout: String,
    retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_period: Option<String>,
}

#[derive(Serialize)]
struct DependsOn {
    condition: &'static str,
}

#[derive(Serialize)]
struct VolumeDecl {
    /// Explicit, so the project name cannot change which volume is used.
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<bool>,
}

#[derive(Serialize)]
struct NetworkDecl {
    name: String,
}

fn lower(
    service: &Service,
    publish: &Publish,
    options_span: Option<berth_diagnostic::source::Span>,
) -> Result<(ComposeFile, Vec<OutputFile>), Vec<Diagnostic>> {
    let mut outputs = Vec::new();
    let network = service.network_name("compose");
    let ports = single_host::published_ports(service, publish, options_span)?;
    let members = single_host::members(service, publish, &ports);
    let limits = single_host::limits(service);
    let mut services = BTreeMap::new();
    let mut volumes = BTreeMap::new();
    for (i, (member, published)) in members.iter().zip(&ports).enumerate() {
        let identity = Identity::new(Some(member), &members);
        let mut entry = member_service(service, member, &identity, &network, &limits)?;
        member_files(
            service,
            member,
            &members,
            &identity,
            &mut entry,
            &mut outputs,
        )?;
        entry.environment = environment(service, &service.container.env, &identity)?;
        entry.ports = port_mappings(publish, published);
        member_volumes(service, member, &identity, &mut entry, &mut volumes)?;
        entry.volumes.extend(tls_volume(service, &mut volumes));
        entry.healthcheck = service.health.liveness.as_ref().map(|live| Healthcheck {
            test: single_host::compose_health_test(service, live),
            interval: single_host::seconds(live.interval),
            timeout: single_host::seconds(live.timeout),
            retries: live.failures.unwrap_or(3),
            start_period: live.initial_delay.map(single_host::seconds),
        });
        if service.replication.start.value == Start::Ordered && i > 0 {
            let (previous, dependency) = wait_for_previous(service, &members[i - 1]);
            entry.depends_on.insert(previous, dependency);
        }
        services.insert(member.name.clone(), entry);
    }
    if let Some(init) = &service.init {
        let mut entry = init_service(service, init, &members, &network)?;
        entry.volumes.extend(tls_volume(service, &mut volumes));
        services.insert(format!("{}-init", service.name()), entry);
    }
    let file = ComposeFile {
        services,
        volumes,
        networks: BTreeMap::from([(network.clone(), NetworkDecl { name: network })]),
    };
    Ok((file, outputs))
}

/// A member's service before its files, variables, ports and volumes: its image, name, limits
/// and restart policy.
fn member_service(
    service: &Service,
    member: &Member,
    identity: &Identity,
    network: &str,
    limits: &single_host::Limits,
) -> Result<ComposeService, Vec<Diagnostic>> {
    Ok(ComposeService {
        image: service.render(&service.container.image, identity)?,
        hostname: Some(member.name.clone()),
        user: service.container.user.map(|u| u.to_string()),
        restart: "unless-stopped".into(),
        security_opt: vec!["no-new-privileges:true".into()],
        networks: single_host::ServiceNetworks::new(network, service.aliases(identity)?),
        stop_grace_period: Some(single_host::seconds(service.stop_grace.value)),
        cpus: limits.cpus.as_ref().and_then(|c| c.parse().ok()),
        mem_limit: limits.memory.clone(),
        mem_reservation: limits.memory_reservation.clone(),
        labels: health_labels(service)
            .into_iter()
            .chain([
                ("berth.service".to_string(), service.name().to_string()),
                ("berth.member".to_string(), member.ordinal.clone()),
            ])
            .collect(),
        ..Default::default()
    })
}

/// What the compose format cannot say about the checks, as labels `berth import` reads back:
/// what the liveness check needs (`quorum`, `peers` or `nothing`), and the readiness check as
/// the spec's own inline table, with port numbers for the port names a Compose file lacks.
fn health_labels(service: &Service) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    if let Some(live) = &service.health.liveness {
        let needs = match (live.needs_quorum, live.needs_peers) {
            (true, _) => "quorum",
            (false, true) => "peers",
            (false, false) => "nothing",
        };
        labels.push(("berth.liveness-needs".to_string(), needs.to_string()));
    }
    if let Some(ready) = &service.health.readiness {
        labels.push(("berth.readiness".to_string(), spec_table(service, ready)));
    }
    labels
}

/// A check as the spec writes it, one TOML inline table, but with the number of the port it names.
fn spec_table(service: &Service, check: &Check) -> String {
    let text = |s: &str| toml::Value::String(s.to_string());
    let number = |name: &str| {
        let port = service.ports.iter().find(|p| p.name == name);
        toml::Value::Integer(port.map_or(0, |p| p.port.into()))
    };
    let words = |argv: &[String]| toml::Value::Array(argv.iter().map(|a| text(a)).collect());
    let mut table = toml::Table::new();
    match &check.action {
        CheckAction::Http { path, port } => {
            table.insert("http".into(), text(path));
            table.insert("port".into(), number(port));
        }
        CheckAction::Tcp { port } => {
            table.insert("tcp".into(), number(port));
        }
        CheckAction::Exec { argv } => {
            table.insert("exec".into(), words(argv));
        }
    }
    table.insert("interval".into(), text(&format!("{}s", check.interval)));
    table.insert("timeout".into(), text(&format!("{}s", check.timeout)));
    if let Some(failures) = check.failures {
        table.insert("failures".into(), toml::Value::Integer(failures.into()));
    }
    if let Some(delay) = check.initial_delay {
        table.insert("initial_delay".into(), text(&format!("{delay}s")));
    }
    table.insert("needs_quorum".into(), check.needs_quorum.into());
    table.insert("needs_peers".into(), check.needs_peers.into());
    if let Some(argv) = &check.docker_exec {
        table.insert("docker_exec".into(), words(argv));
    }
    toml::Value::Table(table).to_string()
}

/// A member's `environment`: literal values rendered for it, secrets passed through.
fn environment(
    service: &Service,
    vars: &[berth_model::EnvVar],
    identity: &Identity,
) -> Result<BTreeMap<String, Option<String>>, Vec<Diagnostic>> {
    let mut environment = BTreeMap::new();
    for var in vars {
        let value = match &var.value {
            EnvValue::Literal(t) => Some(service.render(t, identity)?),
            // Passed through from the environment of `up`, never written here. Not `${NAME:?}`:
            // compose interpolates every command, and `down` would then refuse to run.
            EnvValue::Secret { .. } => None,
        };
        environment.insert(var.name.clone(), value);
    }
    Ok(environment)
}

/// A member's `ports`, `ADDRESS:HOST_PORT:PORT/PROTOCOL`, each on its own host port.
fn port_mappings(publish: &Publish, published: &[single_host::Published]) -> Vec<String> {
    published
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}/{}",
                single_host::publish_host(&publish.address),
                p.host_port,
                p.port,
                p.protocol
            )
        })
        .collect()
}

/// The TLS certificates: the user's external volume, declared in `volumes`, mounted read-only.
fn tls_volume(
    service: &Service,
    volumes: &mut BTreeMap<String, VolumeDecl>,
) -> Option<ServiceVolume> {
    service.tls.as_ref().map(|tls| {
        let secret = &tls.value.secret;
        volumes.insert(
            secret.clone(),
            VolumeDecl {
                name: secret.clone(),
                external: Some(true),
            },
        );
        ServiceVolume {
            kind: "volume",
            source: Some(secret.clone()),
            target: tls.value.path.clone(),
            read_only: Some(true),
        }
    })
}

/// The member's `[[files]]`: bind mounts of the files written beside compose.yaml, the start
/// script that places them, and a label that changes with them.
fn member_files(
    service: &Service,
    member: &Member,
    members: &[Member],
    identity: &Identity,
    entry: &mut ComposeService,
    outputs: &mut Vec<OutputFile>,
) -> Result<(), Vec<Diagnostic>> {
    let files = berth_backends_shared::files::member_files(service, member, members)?;
    let line = single_host::compose_command(service, identity, &files.placements)?;
    (entry.entrypoint, entry.command) = (line.entrypoint, line.command);
    for (source, target) in &files.binds {
        entry.volumes.push(ServiceVolume {
            kind: "bind",
            source: Some(format!("./{source}")),
            target: target.clone(),
            read_only: Some(true),
        });
    }
    if !files.outputs.is_empty() {
        // A changed file changes the service's configuration: `up` recreates the member.
        entry.labels.insert(
            "berth.files".to_string(),
            berth_backends_shared::files::fingerprint(&files),
        );
    }
    outputs.extend(files.outputs);
    Ok(())
}

/// The member's volumes: each persistent one a named volume of its own, declared in `volumes`;
/// one the spec names as holding the member's data already (`volumes.external`) is declared
/// external, so that compose refuses to start without it instead of creating it empty.
fn member_volumes(
    service: &Service,
    member: &Member,
    identity: &Identity,
    entry: &mut ComposeService,
    volumes: &mut BTreeMap<String, VolumeDecl>,
) -> Result<(), Diagnostic> {
    for volume in &service.volumes {
        let source = volume
            .persistent
            .then(|| single_host::volume_name(member, &volume.name));
        if let Some(source) = &source {
            let external = service.external_volume(volume, identity)?;
            volumes.insert(
                source.clone(),
                VolumeDecl {
                    external: external.is_some().then_some(true),
                    name: external.unwrap_or_else(|| source.clone()),
                },
            );
        }
        entry.volumes.push(ServiceVolume {
            kind: "volume",
            source,
            target: volume.path.clone(),
            read_only: None,
        });
    }
    Ok(())
}

/// With `start = "ordered"`, what a member waits for: the previous member's (process-local)
/// health check. A check that needs the peers cannot pass before the next member starts, so the
/// wait is then only for the previous member to start. Members never wait on each other
/// otherwise: with a quorum-gated check that is the cold-start deadlock.
fn wait_for_previous(service: &Service, previous: &Member) -> (String, DependsOn) {
    let condition = if health_gates_start(service) {
        "service_healthy"
    } else {
        "service_started"
    };
    (previous.name.clone(), DependsOn { condition })
}

/// Whether an ordered start can wait for the previous member's health: only when its check
/// passes without the peers that are not started yet.
pub(crate) fn health_gates_start(service: &Service) -> bool {
    service
        .health
        .liveness
        .as_ref()
        .is_some_and(|live| !service.waits_for_peers(live))
}

/// The `[init]` step: a one-shot service that starts after the members and retries.
fn init_service(
    service: &Service,
    init: &berth_model::Init,
    members: &[Member],
    network: &str,
) -> Result<ComposeService, Vec<Diagnostic>> {
    let name = service.name();
    let (image, line) = single_host::compose_init(service, init, members)?;
    Ok(ComposeService {
        image,
        entrypoint: line.entrypoint,
        command: line.command,
        environment: environment(service, &init.env, &Identity::new(None, members))?,
        cpus: single_host::cpus(&init.resources.cpu).parse().ok(),
        mem_limit: Some(single_host::bytes(&init.resources.memory)),
        // Retries until the cluster answers; a bounded count so an init that fails forever
        // (for example because the cluster is already initialized) stops.
        restart: "on-failure:30".into(),
        networks: single_host::ServiceNetworks::new(network, Vec::new()),
        depends_on: members
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    DependsOn {
                        condition: "service_started",
                    },
                )
            })
            .collect(),
        labels: BTreeMap::from([("berth.service".to_string(), name.to_string())]),
        ..Default::default()
    })
}
