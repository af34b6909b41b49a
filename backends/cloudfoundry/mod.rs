//! The Cloud Foundry backend: `manifest.yml` for `cf push`, and `setup.sh` for what a manifest
//! cannot say (service instances, the internal route, network policies, the init task).
//! `README.md` beside this file maps each concern; `rules/` documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod rules;
mod scripts;
mod upgrade;

use berth_backend::{Input, Lowered, OutputFile, Setting, Spanned, header_comment, yaml_text};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_language::quantity::parse_quantity;
use berth_model::shell::shell_quote;
use berth_model::start::{computable_at_run_time, exec_per_member, own_identities};
use berth_model::{CheckAction, EnvValue, Identity, Member, Service};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub struct CloudFoundry;

/// `[backends.cloudfoundry]`: the volume services that hold the data, and the app's routes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CloudFoundryOptions")]
pub struct Options {
    /// Volume name → the NFS/SMB volume service instance that holds it.
    #[serde(default)]
    pub volume_services: BTreeMap<String, Spanned<String>>,
    /// Volume name → where the service is mounted (default `/var/vcap/data/<volume>`).
    #[serde(default)]
    pub mounts: BTreeMap<String, Spanned<String>>,
    /// Each instance keeps its data under `<mount>/$CF_INSTANCE_INDEX` (default true).
    #[serde(default)]
    pub instance_directories: Option<Spanned<bool>>,
    /// The container's disk (default `1G`); the data is on the volume service.
    #[serde(default)]
    pub disk_quota: Option<Spanned<String>>,
    /// Public routes to add (default none: clients use the internal route).
    #[serde(default)]
    pub routes: Vec<String>,
    /// The internal domain (default `apps.internal`).
    #[serde(default)]
    pub internal_domain: Option<Spanned<String>>,
}

pub struct Settings {
    pub volume_services: BTreeMap<String, String>,
    pub mounts: BTreeMap<String, String>,
    pub instance_directories: Setting<bool>,
    pub disk_quota: String,
    pub routes: Vec<String>,
    pub domain: String,
}

impl Settings {
    pub fn mount(&self, volume: &str) -> String {
        self.mounts
            .get(volume)
            .cloned()
            .unwrap_or_else(|| format!("/var/vcap/data/{volume}"))
    }
}

fn settings(input: &Input, o: Options) -> Result<Settings, Vec<Diagnostic>> {
    let disk_quota = input.setting(o.disk_quota, "1G".into());
    let domain = input.setting(o.internal_domain, "apps.internal".into());
    let mut errors = unknown_volumes(input, &o.volume_services, "volume_services");
    errors.extend(unknown_volumes(input, &o.mounts, "mounts"));
    errors.extend(invalid_service_instances(input, &o.volume_services));
    errors.extend(invalid_mounts(input, &o.mounts));
    errors.extend(invalid_name(&disk_quota, "disk_quota"));
    errors.extend(invalid_name(&domain, "internal_domain"));
    if !errors.is_empty() {
        return Err(errors);
    }
    let values = |map: BTreeMap<String, Spanned<String>>| {
        map.into_iter()
            .map(|(key, value)| (key, value.value))
            .collect()
    };
    Ok(Settings {
        volume_services: values(o.volume_services),
        mounts: values(o.mounts),
        instance_directories: input.setting(o.instance_directories, true),
        disk_quota: disk_quota.value,
        routes: o.routes,
        domain: domain.value,
    })
}

/// The keys of `map` that name no volume of the spec.
fn unknown_volumes(
    input: &Input,
    map: &BTreeMap<String, Spanned<String>>,
    key: &str,
) -> Vec<Diagnostic> {
    let volumes: Vec<&str> = input
        .service
        .volumes
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    map.iter()
        .filter(|(volume, _)| !volumes.contains(&volume.as_str()))
        .map(|(volume, value)| {
            Diagnostic::input(
                &errors::SPEC_UNKNOWN_KEY,
                format!("`backends.cloudfoundry.{key}` names `{volume}`, which is not a volume"),
            )
            .at(Some(input.span(value)), "unknown volume")
            .help(if volumes.is_empty() {
                format!("declare `{volume}` under `[[volumes]]`, or remove this entry: the spec has no volume")
            } else {
                format!("use one of {}", berth_language::spec::backticked(&volumes))
            })
        })
        .collect()
}

/// A name that reaches `cf` as an argument: never one that reads as an option.
fn safe_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn invalid_service_instances(
    input: &Input,
    services: &BTreeMap<String, Spanned<String>>,
) -> Vec<Diagnostic> {
    services
        .values()
        .filter(|service| !safe_name(&service.value))
        .map(|service| {
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!(
                    "volume service instance `{}` is not a service instance name",
                    service.value
                ),
            )
            .at(Some(input.span(service)), "invalid name")
            .help("use letters, digits, `-`, `_` and `.`, starting with a letter or digit")
        })
        .collect()
}

fn invalid_mounts(input: &Input, mounts: &BTreeMap<String, Spanned<String>>) -> Vec<Diagnostic> {
    mounts
        .values()
        .filter(|m| {
            !m.value.starts_with('/')
                || m.value.contains("..")
                || m.value.chars().any(|c| c.is_control())
        })
        .map(|mount| {
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("mount `{}` is not an absolute path", mount.value),
            )
            .at(Some(input.span(mount)), "invalid mount")
            .help("write an absolute path such as `/var/vcap/data/db`")
        })
        .collect()
}

fn invalid_name(value: &Setting<String>, key: &str) -> Option<Diagnostic> {
    (!safe_name(value)).then(|| {
        Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!("`backends.cloudfoundry.{key}` `{}` is invalid", value.value),
        )
        .at(value.span.clone(), "invalid value")
        .help("use letters, digits and `.`")
    })
}

berth_backend::lowering!(
    CloudFoundry,
    Options => Settings,
    settings;
    fn plan(
        &self,
        _service: &Service,
        _settings: &Settings,
        _lowered: &Lowered,
        _deployed: &dyn berth_backend::plan::Deployed,
    ) -> Result<(Vec<berth_backend::OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
        Err(vec![berth_backend::plan::unsupported(
            "berth writes no plans for cloudfoundry: every instance of an app runs one definition, which `cf push` and `cf scale -m` apply to all instances at once, and no cf command starts one instance with another (a joining member's)",
        )])
    }
);

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    let header = format!(
        "{}# Docker apps need the `diego_docker` feature flag (cf enable-feature-flag diego_docker); setup.sh checks it.\n",
        header_comment(service, diagnostics)
    );
    let (manifest, init) = manifest(service, settings)?;
    let yaml = yaml_text(&manifest)?;
    refuse_foreign_variables(service, &yaml)?;
    let script = setup(service, settings, &header, init.as_ref());
    Ok(Lowered {
        files: vec![
            OutputFile::new("manifest.yml", format!("{header}{yaml}")),
            OutputFile::script("setup.sh", script),
        ],
        tls_names: tls_names(service, settings),
    })
}

/// `cf push` replaces every `((NAME))` in a manifest with a variable, and has no escape for it:
/// a value of the spec that holds one would be filled from the operator's `--vars-file` or
/// CredHub. berth's own variables are whole values it writes itself (a secret variable's, and
/// each secret file's `BERTH_FILE_N`), one `((` each; any other `((` in the manifest is a value
/// of the spec's, and refused, whatever follows it.
fn refuse_foreign_variables(service: &Service, yaml: &str) -> Result<(), Vec<Diagnostic>> {
    let secret_variables = secret_variables(service).len();
    let secret_files = service
        .files
        .iter()
        .filter(|f| matches!(f.body, berth_model::FileBody::Secret { .. }))
        .count();
    let ours = secret_variables
        + if files_placeable(service) {
            secret_files
        } else {
            0
        };
    if yaml.matches("((").count() <= ours {
        return Ok(());
    }
    Err(vec![Diagnostic::input(
        &errors::SPEC_INVALID_VALUE,
        "cloudfoundry: a value holds `((`, which `cf push` reads as the start of a variable (`((NAME))`) and fills from `--vars-file` or CredHub; Cloud Foundry has no way to write it literally",
    )
    .at(service.container.span.clone(), "a value holds `((`")
    .help("remove `((` from the spec's values (split it, or write `( (`), or target other backends")])
}

/// The names of the app's variables that hold secrets: the members' and the init task's.
fn secret_variables(service: &Service) -> std::collections::BTreeSet<&str> {
    let init_env = service.init.iter().flat_map(|init| &init.env);
    service
        .container
        .env
        .iter()
        .chain(init_env)
        .filter(|v| matches!(v.value, EnvValue::Secret { .. }))
        .map(|v| v.name.as_str())
        .collect()
}

#[derive(Serialize)]
struct Manifest {
    version: u32,
    applications: Vec<Application>,
}

#[derive(Serialize)]
struct Application {
    name: String,
    docker: Docker,
    instances: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
    disk_quota: String,
    /// Absent when nothing must happen before the image's own entrypoint and command.
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(rename = "health-check-type")]
    health_check_type: &'static str,
    #[serde(
        rename = "health-check-http-endpoint",
        skip_serializing_if = "Option::is_none"
    )]
    health_check_http_endpoint: Option<String>,
    #[serde(
        rename = "health-check-invocation-timeout",
        skip_serializing_if = "Option::is_none"
    )]
    health_check_invocation_timeout: Option<u64>,
    #[serde(
        rename = "health-check-interval",
        skip_serializing_if = "Option::is_none"
    )]
    health_check_interval: Option<u64>,
    #[serde(
        rename = "readiness-health-check-type",
        skip_serializing_if = "Option::is_none"
    )]
    readiness_health_check_type: Option<&'static str>,
    #[serde(
        rename = "readiness-health-check-http-endpoint",
        skip_serializing_if = "Option::is_none"
    )]
    readiness_health_check_http_endpoint: Option<String>,
    #[serde(
        rename = "readiness-health-check-invocation-timeout",
        skip_serializing_if = "Option::is_none"
    )]
    readiness_health_check_invocation_timeout: Option<u64>,
    #[serde(
        rename = "readiness-health-check-interval",
        skip_serializing_if = "Option::is_none"
    )]
    readiness_health_check_interval: Option<u64>,
    timeout: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<String, String>,
    routes: Vec<Route>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    services: Vec<ServiceBinding>,
}

#[derive(Serialize)]
struct Docker {
    image: String,
}

#[derive(Serialize)]
struct Route {
    route: String,
}

#[derive(Serialize)]
struct ServiceBinding {
    name: String,
    parameters: BTreeMap<String, String>,
}

/// Stands in for the instance index while rendering; becomes `"$CF_INSTANCE_INDEX"` in the start command.
const INDEX_MARK: &str = "\u{F0000}CF_INSTANCE_INDEX\u{F0001}";

/// Shell-quotes `text`, letting the shell expand the instance index where it stood.
fn shell_word(text: &str) -> String {
    if !text.contains(INDEX_MARK) {
        return shell_quote(text);
    }
    text.split(INDEX_MARK)
        .map(|part| {
            if part.is_empty() {
                String::new()
            } else {
                shell_quote(part)
            }
        })
        .collect::<Vec<_>>()
        .join("\"$CF_INSTANCE_INDEX\"")
}

/// Cloud Foundry's memory units (`8Gi` → `8G`, rounding up to whole megabytes).
fn memory(quantity: &str) -> String {
    let mib = (parse_quantity(quantity).unwrap_or(0.0) / 1048576.0).ceil() as u64;
    if mib >= 1024 && mib.is_multiple_of(1024) {
        format!("{}G", mib / 1024)
    } else {
        format!("{mib}M")
    }
}

fn check_type(action: &CheckAction) -> &'static str {
    match action {
        CheckAction::Http { .. } => "http",
        CheckAction::Tcp { .. } => "port",
        CheckAction::Exec { .. } => "process",
    }
}

fn endpoint(action: &CheckAction) -> Option<String> {
    match action {
        CheckAction::Http { path, .. } => Some(path.clone()),
        _ => None,
    }
}

/// The manifest, and the init task's command for `setup.sh`.
fn manifest(
    service: &Service,
    settings: &Settings,
) -> Result<(Manifest, Option<InitTask>), Vec<Diagnostic>> {
    let (peers, me) = members(service, settings);
    // A single instance is always index 0: nothing depends on the index at run time.
    let identity = if service.replicas() == 1 {
        Identity::new(peers.first(), &peers)
    } else {
        Identity::new(Some(&me), &peers)
    };
    let start = instance_start(service, settings, &identity)?;
    let mut app = application(service, settings, &peers, start)?;
    let init = service
        .init
        .as_ref()
        .map(|init| init_task(service, init, &peers, &mut app.env))
        .transpose()?;
    Ok((
        Manifest {
            version: 1,
            applications: vec![app],
        },
        init,
    ))
}

/// Every instance by its internal route, and the running instance, whose index is
/// [`INDEX_MARK`] until the start command reads it.
fn members(service: &Service, settings: &Settings) -> (Vec<Member>, Member) {
    let name = service.name();
    let host = |index: &str| format!("{index}.{name}.{}", settings.domain);
    let peers = (0..service.replicas())
        .map(|i| Member {
            ordinal: i.to_string(),
            name: format!("{name}-{i}"),
            host: host(&i.to_string()),
            ..Default::default()
        })
        .collect();
    let me = Member {
        ordinal: INDEX_MARK.into(),
        name: format!("{name}-{INDEX_MARK}"),
        host: host(INDEX_MARK),
        ..Default::default()
    };
    (peers, me)
}

/// What an instance starts with: the manifest's `env`, the start command (if any) and the
/// volume service bindings whose directories it prepares.
struct InstanceStart {
    env: BTreeMap<String, String>,
    command: Option<String>,
    services: Vec<ServiceBinding>,
}

fn instance_start(
    service: &Service,
    settings: &Settings,
    identity: &Identity,
) -> Result<InstanceStart, Vec<Diagnostic>> {
    // The start command: give each instance its own directory on the volume service, link the
    // spec's path to it, and exec the process with the variables that depend on the instance.
    // With nothing of that to do, there is no start command and the image's own entrypoint runs.
    let mut steps = Vec::new();
    let own = own_identities(identity);
    let per_member = per_member_variables(service, identity, &own);
    let (mut env, instance_env) = environment(service, identity, &per_member)?;
    let services = volume_services(service, settings, &mut steps);
    let argv_computable = per_member.is_empty()
        && (service.container.command.iter())
            .chain(&service.container.args)
            .all(|t| computable_at_run_time(service, t, identity, &own, unmark));
    if files_placeable(service) {
        // A secret file's content comes from a variable that `cf push --vars-file` fills.
        let placements =
            berth_model::start::written(service, identity, shell_word, |index, secret, key| {
                let variable = format!("BERTH_FILE_{index}");
                env.insert(variable.clone(), format!("(({secret}-{key}))"));
                variable
            })?;
        steps.extend(berth_model::start::steps(&placements));
    }
    let exec = if argv_computable {
        exec_line(
            &instance_env,
            service.render_argv(identity)?.iter().map(|w| shell_word(w)),
        )
    } else {
        exec_each_member(service, identity, &own, &instance_env, &per_member)?
    };
    let command = start_command(service, steps, !instance_env.is_empty(), exec)?;
    Ok(InstanceStart {
        env,
        command,
        services,
    })
}

/// Puts an instance's values where the index stood in for them.
fn unmark(text: &str, member: &Member) -> String {
    text.replace(INDEX_MARK, &member.ordinal)
}

/// The variables whose value the start command cannot compute from `$CF_INSTANCE_INDEX`
/// (arithmetic or a condition on `self`): berth writes each instance's own.
fn per_member_variables<'a>(
    service: &'a Service,
    identity: &Identity,
    own: &[Identity],
) -> Vec<&'a berth_model::EnvVar> {
    if identity.me.is_none_or(|me| me.ordinal != INDEX_MARK) {
        return Vec::new();
    }
    service
        .container
        .env
        .iter()
        .filter(|v| {
            matches!(&v.value, EnvValue::Literal(t) if !computable_at_run_time(service, t, identity, own, unmark))
        })
        .collect()
}

/// `exec env NAME=VALUE... ARGV`, or `None` without a command line.
fn exec_line(instance_env: &[String], argv: impl Iterator<Item = String>) -> Option<String> {
    let argv: Vec<String> = argv.collect();
    if argv.is_empty() {
        return None;
    }
    let env = if instance_env.is_empty() {
        String::new()
    } else {
        format!("env {} ", instance_env.join(" "))
    };
    Some(format!("exec {env}{}", argv.join(" ")))
}

/// Each instance's own command line, chosen by `$CF_INSTANCE_INDEX`, with the values berth
/// computed for it (`own`, each instance's identity).
fn exec_each_member(
    service: &Service,
    identity: &Identity,
    own: &[Identity],
    instance_env: &[String],
    per_member: &[&berth_model::EnvVar],
) -> Result<Option<String>, Vec<Diagnostic>> {
    let mut lines = Vec::new();
    for (member, own) in identity.peers.iter().zip(own) {
        let mut env = instance_env.to_vec();
        for var in per_member {
            if let EnvValue::Literal(t) = &var.value {
                let value = service.render(t, own)?;
                env.push(shell_quote(&format!("{}={value}", var.name)));
            }
        }
        let argv = service.render_argv(own)?;
        let Some(line) = exec_line(&env, argv.iter().map(|w| shell_quote(w))) else {
            return Ok(None);
        };
        lines.push((member.ordinal.clone(), line["exec ".len()..].to_string()));
    }
    Ok(Some(exec_per_member("\"$CF_INSTANCE_INDEX\"", &lines)))
}

/// The manifest's one application: its image, instances, start, health checks and routes.
fn application(
    service: &Service,
    settings: &Settings,
    peers: &[Member],
    start: InstanceStart,
) -> Result<Application, Vec<Diagnostic>> {
    let name = service.name();
    let live = service.health.liveness.as_ref();
    let ready = service.health.readiness.as_ref();
    let startup = service.health.startup.as_ref();
    Ok(Application {
        name: name.to_string(),
        docker: Docker {
            image: service.render(
                &service.container.image,
                &Identity::new(peers.first(), peers),
            )?,
        },
        instances: service.replicas(),
        memory: service
            .resources
            .as_ref()
            .and_then(|r| r.value.memory_limit.as_ref().or(r.value.memory.as_ref()))
            .map(|m| memory(m)),
        disk_quota: settings.disk_quota.clone(),
        command: start.command,
        health_check_type: live.map_or("process", |c| check_type(&c.action)),
        health_check_http_endpoint: live.and_then(|c| endpoint(&c.action)),
        health_check_invocation_timeout: live.map(|c| c.timeout),
        health_check_interval: live.map(|c| c.interval),
        readiness_health_check_type: ready.map(|c| check_type(&c.action)),
        readiness_health_check_http_endpoint: ready.and_then(|c| endpoint(&c.action)),
        readiness_health_check_invocation_timeout: ready.map(|c| c.timeout),
        readiness_health_check_interval: ready.map(|c| c.interval),
        // How long a starting instance may fail its checks: the startup allowance, or 180 s.
        timeout: startup
            .map_or(180, |s| s.interval * u64::from(s.failures.unwrap_or(18)))
            .max(live.and_then(|l| l.initial_delay).unwrap_or(0)),
        env: start.env,
        routes: std::iter::once(format!("{name}.{}", settings.domain))
            .chain(settings.routes.iter().cloned())
            .map(|route| Route { route })
            .collect(),
        services: start.services,
    })
}

/// The manifest's `env`, and `NAME=VALUE` words for the start command.
type Environment = (BTreeMap<String, String>, Vec<String>);

/// The variables: those that do not depend on the instance for the manifest's `env` (secrets as
/// `((variables))` that `cf push --vars-file` fills), and `NAME=VALUE` words for those that do,
/// which the start command sets.
fn environment(
    service: &Service,
    identity: &Identity,
    per_member: &[&berth_model::EnvVar],
) -> Result<Environment, Vec<Diagnostic>> {
    let mut instance_env = Vec::new();
    let mut env = BTreeMap::new();
    let skipped = |var: &berth_model::EnvVar| per_member.iter().any(|v| v.name == var.name);
    for var in service.container.env.iter().filter(|v| !skipped(v)) {
        match &var.value {
            EnvValue::Literal(t) => {
                let value = service.render(t, identity)?;
                if value.contains(INDEX_MARK) {
                    // `env NAME=VALUE` rather than `export`: names such as `node.name` are not
                    // shell variables.
                    instance_env.push(shell_word(&format!("{}={value}", var.name)));
                } else {
                    env.insert(var.name.clone(), value);
                }
            }
            // Filled in by `cf push --vars-file`; the value is never written here.
            EnvValue::Secret { secret, key } => {
                env.insert(var.name.clone(), format!("(({secret}-{key}))"));
            }
        }
    }
    Ok((env, instance_env))
}

/// The volume service bindings, each mounted at the spec's path for a single instance, else at
/// its mount with the start command's `steps` linking the instance's own directory there.
fn volume_services(
    service: &Service,
    settings: &Settings,
    steps: &mut Vec<String>,
) -> Vec<ServiceBinding> {
    let mut services = Vec::new();
    for volume in service.persistent_volumes() {
        let direct = service.replicas() == 1 && !settings.mounts.contains_key(&volume.name);
        let mount = if direct {
            volume.path.clone()
        } else {
            settings.mount(&volume.name)
        };
        if let Some(instance) = settings.volume_services.get(&volume.name) {
            services.push(ServiceBinding {
                name: instance.clone(),
                parameters: BTreeMap::from([("mount".to_string(), mount.clone())]),
            });
        }
        // The only instance gets the service mounted at the spec's own path.
        if direct {
            continue;
        }
        let dir = if *settings.instance_directories {
            format!("{}/\"$CF_INSTANCE_INDEX\"", shell_quote(&mount))
        } else {
            shell_quote(&mount)
        };
        let path = shell_quote(&volume.path);
        steps.push(format!("mkdir -p {dir}"));
        // The path in the container's own disk only holds what the image put there; move it aside.
        steps.push(format!("if [ -d {path} ] && [ ! -L {path} ]; then rmdir {path} 2>/dev/null || mv {path} {path}.image; fi"));
        steps.push(format!("mkdir -p \"$(dirname {path})\""));
        steps.push(format!("ln -sfn {dir} {path}"));
    }
    services
}

/// The init task: its memory, and its command, `[init] command` retried until the cluster
/// answers. A task runs in the app's environment: the step's literal variables are set on its
/// command (`env NAME=VALUE`), its secrets join the app's `env` as `((variables))`, which the
/// spec keeps from naming another secret than the members' variable of the same name.
fn init_task(
    service: &Service,
    init: &berth_model::Init,
    peers: &[Member],
    app_env: &mut BTreeMap<String, String>,
) -> Result<InitTask, Vec<Diagnostic>> {
    let bootstrap = Identity::new(None, peers);
    let mut words = Vec::new();
    for var in &init.env {
        match &var.value {
            EnvValue::Literal(t) => {
                let value = service.render(t, &bootstrap)?;
                words.push(shell_quote(&format!("{}={value}", var.name)));
            }
            EnvValue::Secret { secret, key } => {
                app_env.insert(var.name.clone(), format!("(({secret}-{key}))"));
            }
        }
    }
    if !words.is_empty() {
        words.insert(0, "env".to_string());
    }
    words.extend(
        init.argv(service, &bootstrap)?
            .iter()
            .map(|s| shell_quote(s)),
    );
    let command = words.join(" ");
    Ok(InitTask {
        memory: memory(&init.resources.memory),
        command: format!(
            "tries=0; until {command}; do tries=$((tries + 1)); if [ \"$tries\" -ge 60 ]; then exit 1; fi; sleep 5; done"
        ),
    })
}

/// What `setup.sh` runs as the init task.
pub struct InitTask {
    /// `cf run-task -m`, as the manifest writes memory.
    pub memory: String,
    /// One shell word to `cf run-task --command`.
    pub command: String,
}

/// Whether the start command can write `[[files]]`: it runs under the image's shell and must
/// have a process to start after them (rule `cloudfoundry/files-need-start-command`).
pub fn files_placeable(service: &Service) -> bool {
    service.container.shell != Some(false)
        && !(service.container.command.is_empty() && service.container.args.is_empty())
}

/// The start command, if one is needed: it replaces the image's entrypoint and command, so it
/// must name the process to run.
fn start_command(
    service: &Service,
    mut steps: Vec<String>,
    instance_env: bool,
    exec: Option<String>,
) -> Result<Option<String>, Vec<Diagnostic>> {
    if steps.is_empty() && !instance_env && exec.is_none() {
        return Ok(None);
    }
    let Some(exec) = exec else {
        return Err(vec![Diagnostic::input(
            &errors::SPEC_MISSING_KEY,
            format!("cloudfoundry: each of the {} instances needs its own directory on the volume service, which only a start command can prepare, and a start command replaces the image's entrypoint: the spec names no process to start after it", service.replicas()),
        )
        .at(service.container.span.clone(), "no `command` or `args`")
        .help("add `command = [...]` with the image's entrypoint (its Dockerfile's ENTRYPOINT, or `docker image inspect`) and `args` with its command")]);
    };
    for volume in service.volumes.iter().filter(|v| !v.persistent) {
        steps.push(format!("mkdir -p {}", shell_quote(&volume.path)));
    }
    steps.push(exec);
    let command = steps.join(" && ");
    berth_model::start::check_length(service, "cloudfoundry", &command)?;
    Ok(Some(command))
}

fn setup(service: &Service, settings: &Settings, header: &str, init: Option<&InitTask>) -> String {
    let mut services: Vec<&str> = settings
        .volume_services
        .values()
        .map(String::as_str)
        .collect();
    services.dedup();
    let ports = service
        .ports
        .iter()
        .map(|p| {
            let protocol = if p.protocol == berth_model::Protocol::Udp {
                "udp"
            } else {
                "tcp"
            };
            (protocol, p.port)
        })
        .collect();
    let vars = !secret_variables(service).is_empty()
        || service
            .files
            .iter()
            .any(|f| matches!(f.body, berth_model::FileBody::Secret { .. }));
    scripts::setup(&scripts::Setup {
        header,
        app: service.name(),
        domain: &settings.domain,
        services,
        ports,
        vars,
        init,
    })
}

/// Each instance's internal name, the app's internal route, and the spec's extras.
fn tls_names(service: &Service, settings: &Settings) -> Vec<String> {
    let mut names: Vec<String> = (0..service.replicas())
        .map(|i| format!("{i}.{}.{}", service.name(), settings.domain))
        .collect();
    names.push(format!("{}.{}", service.name(), settings.domain));
    if let Some(tls) = &service.tls {
        names.extend(tls.value.extra_names.iter().map(|n| n.value.clone()));
    }
    names
}
