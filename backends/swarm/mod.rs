//! The swarm backend: `stack.yaml` for `docker stack deploy`, and `prepare-nodes.sh` for what a
//! stack file cannot say (node labels). `README.md` beside this file maps each concern; `rules/`
//! documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod plan;
mod rules;
mod scripts;
mod upgrade;

use berth_backend::{Input, Lowered, OutputFile, Setting, Spanned, header_comment};
use berth_backends_shared::single_host::{self, Publish};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_diagnostic::source::Span;
use berth_model::{Encryption, EnvValue, Identity, Member, Service, Spread};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub struct Swarm;

/// `[backends.swarm]`: the nodes, publication and updates of the stack.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SwarmOptions")]
pub struct Options {
    /// The node of each member, in member order (`prepare-nodes.sh`'s default arguments), each
    /// as `docker node ls` shows it.
    #[serde(default)]
    pub nodes: Option<Spanned<Vec<String>>>,
    /// Publish the public ports (default false: clients on the overlay network reach members).
    #[serde(default)]
    pub publish: Option<bool>,
    /// `"host"` (default: on the member's node) or `"ingress"` (the routing mesh, every node).
    #[serde(default)]
    pub publish_mode: Option<Spanned<PublishMode>>,
    /// Member `i` publishes `port + i × port_stride` (default 1).
    #[serde(default)]
    pub port_stride: Option<u16>,
    /// `"stop-first"` (default) or `"start-first"`.
    #[serde(default)]
    pub update_order: Option<Spanned<UpdateOrder>>,
    /// How long `deploy.sh` lets a replaced member run before it replaces the next (default `10s`).
    #[serde(default)]
    pub update_delay: Option<Spanned<String>>,
    /// Pin each member to its labelled node (default true).
    #[serde(default)]
    pub pin: Option<Spanned<bool>>,
    /// Volume driver (default `local`).
    #[serde(default)]
    pub volume_driver: Option<String>,
    /// Files of the TLS secret, each an external Swarm secret `<secret>.<file>` (default
    /// `ca.crt`, `tls.crt`, `tls.key`).
    #[serde(default)]
    pub tls_files: Option<Spanned<Vec<String>>>,
}

/// Where a member publishes its public ports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    #[default]
    Host,
    Ingress,
}

/// Whether Swarm starts a member's new task before it stops the old one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    #[default]
    StopFirst,
    StartFirst,
}

pub struct Settings {
    pub nodes: Setting<Vec<String>>,
    pub publish: bool,
    pub publish_mode: Setting<PublishMode>,
    pub port_stride: u16,
    pub update_order: Setting<UpdateOrder>,
    pub update_delay: u64,
    pub pin: Setting<bool>,
    pub volume_driver: String,
    pub tls_files: Vec<String>,
}

fn settings(input: &Input, o: Options) -> Result<Settings, Vec<Diagnostic>> {
    let nodes = input.setting(o.nodes, Vec::new());
    let tls_files = input.setting(
        o.tls_files,
        vec!["ca.crt".into(), "tls.crt".into(), "tls.key".into()],
    );
    let update_delay = o.update_delay.as_ref().map(|text| {
        berth_language::quantity::parse_duration(&text.value).map_err(|why| {
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("`backends.swarm.update_delay`: {why}"),
            )
            .at(Some(input.span(text)), "not a duration")
            .help("write a duration such as `10s` or `1m`")
        })
    });
    let errors: Vec<Diagnostic> = invalid_nodes(&nodes)
        .into_iter()
        .chain(invalid_tls_files(&tls_files))
        .chain(update_delay.clone().and_then(Result::err))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Settings {
        update_delay: update_delay.and_then(Result::ok).unwrap_or(10),
        nodes,
        publish: o.publish.unwrap_or(false),
        publish_mode: input.setting(o.publish_mode, PublishMode::Host),
        port_stride: o.port_stride.unwrap_or(1).max(1),
        update_order: input.setting(o.update_order, UpdateOrder::StopFirst),
        pin: input.setting(o.pin, true),
        volume_driver: o.volume_driver.unwrap_or_else(|| "local".into()),
        tls_files: tls_files.value,
    })
}

/// A node reaches `docker node` as an argument: never one that reads as an option.
fn invalid_nodes(nodes: &Setting<Vec<String>>) -> Option<Diagnostic> {
    let bad = nodes.iter().find(|node| {
        node.is_empty()
            || node.starts_with('-')
            || node.chars().any(|c| c.is_whitespace() || c.is_control())
    })?;
    Some(
        Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!("`backends.swarm.nodes` holds `{bad}`, which is not a node name"),
        )
        .at(nodes.span.clone(), "invalid node")
        .help("name each node as `docker node ls` shows it"),
    )
}

fn invalid_tls_files(files: &Setting<Vec<String>>) -> Option<Diagnostic> {
    files
        .iter()
        .any(|f| f.is_empty() || f.contains('/') || f.starts_with('.'))
        .then(|| {
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                "`backends.swarm.tls_files` must hold plain file names",
            )
            .at(files.span.clone(), "not a plain file name")
            .help("write names such as `tls.crt`, without `/`")
        })
}

berth_backend::lowering!(Swarm, Options => Settings, settings; berth_backend::plans!(););

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    let header = header_comment(service, diagnostics);
    let options_span = service.backend_options.get(rules::BACKEND).cloned();
    let (stack, outputs) = lower(service, settings, options_span)?;
    let yaml =
        |stack: &Stack| single_host::compose_yaml_text(stack).map(|text| format!("{header}{text}"));
    let mut files = vec![
        OutputFile::new("stack.yaml", yaml(&stack)?),
        OutputFile::script(
            "prepare-nodes.sh",
            prepare_nodes(service, settings, &header),
        ),
        OutputFile::script("deploy.sh", deploy_script(service, settings, &header)),
    ];
    for member in service.members() {
        files.push(OutputFile::new(
            format!("members/{}.yaml", member.name),
            yaml(&member_stack(&stack, &member.name))?,
        ));
    }
    files.extend(outputs);
    Ok(Lowered {
        files,
        tls_names: tls_names(service),
    })
}

/// The stack file, in the v3.8 format that `docker stack deploy` and docker-compose 1.29 both know.
#[derive(Serialize, Clone)]
struct Stack {
    version: &'static str,
    services: BTreeMap<String, StackService>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, VolumeDecl>,
    networks: BTreeMap<String, NetworkDecl>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, SecretDecl>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    configs: BTreeMap<String, ConfigDecl>,
}

#[derive(Serialize, Default, Clone)]
struct StackService {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<PortDecl>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<ServiceVolume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretUse>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    configs: Vec<SecretUse>,
    networks: single_host::ServiceNetworks,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_grace_period: Option<String>,
    deploy: Deploy,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, Clone)]
struct PortDecl {
    target: u16,
    published: u16,
    protocol: &'static str,
    mode: PublishMode,
}

#[derive(Serialize, Clone)]
struct ServiceVolume {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    target: String,
}

/// A secret or config in a service: where it appears, and as whose file.
#[derive(Serialize, Clone, Default)]
struct SecretUse {
    source: String,
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<u32>,
}

/// A config whose name carries a hash of its content: a changed file is a new config, so the
/// member's task is replaced (configs cannot change in place).
#[derive(Serialize, Clone)]
struct ConfigDecl {
    name: String,
    file: String,
}

/// A task's health check, or `disable: true` (which also turns off the image's own).
#[derive(Serialize, Default, Clone)]
struct Healthcheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    disable: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_period: Option<String>,
}

#[derive(Serialize, Default, Clone)]
struct Deploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_mode: Option<&'static str>,
    replicas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_config: Option<UpdateConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollback_config: Option<UpdateConfig>,
    restart_policy: RestartPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Resources>,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize, Clone)]
struct Placement {
    constraints: Vec<String>,
}

#[derive(Serialize, Clone)]
struct UpdateConfig {
    parallelism: u32,
    order: UpdateOrder,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_action: Option<&'static str>,
}

#[derive(Serialize, Default, Clone)]
struct RestartPolicy {
    condition: &'static str,
    delay: &'static str,
}

#[derive(Serialize, Clone)]
struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<ResourceSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reservations: Option<ResourceSet>,
}

#[derive(Serialize, Clone)]
struct ResourceSet {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
}

#[derive(Serialize, Clone)]
struct VolumeDecl {
    name: String,
    driver: String,
}

/// The stack's own overlay network, or the shared one `deploy.sh` creates (`network.name`),
/// external: stacks that each declared it would each create a network of that name.
#[derive(Serialize, Clone)]
struct NetworkDecl {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachable: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    driver_opts: BTreeMap<String, String>,
}

#[derive(Serialize, Clone)]
struct SecretDecl {
    name: String,
    external: bool,
}

/// A member's `[[files]]`: each content file a config of its own (written beside the stack file),
/// each secret file an external secret `<secret>.<key>`, both with the file's owner and mode.
fn files_of_member(
    service: &Service,
    member: &berth_model::Member,
    members: &[berth_model::Member],
    entry: &mut StackService,
    secrets: &mut BTreeMap<String, SecretDecl>,
    configs: &mut BTreeMap<String, ConfigDecl>,
    outputs: &mut Vec<OutputFile>,
) -> Result<(), Vec<Diagnostic>> {
    let identity = Identity::new(Some(member), members);
    for (index, file) in service.files.iter().enumerate() {
        let owner = file.owner.map(|o| o.to_string());
        let mut used = SecretUse {
            target: file.path.clone(),
            uid: owner.clone(),
            gid: owner,
            mode: Some(file.mode),
            ..Default::default()
        };
        match service.file_content(file, &identity)? {
            Some(text) => {
                let key = file.key(index);
                let path = format!("files/{}/{key}", member.name);
                let hash = berth_backends_shared::files::hash(&text);
                let logical = format!("{}-{key}", member.name);
                configs.insert(
                    logical.clone(),
                    ConfigDecl {
                        name: format!("{}-{}-{}", member.name, index, &hash[..12]),
                        file: format!("./{path}"),
                    },
                );
                outputs.push(OutputFile::with_mode(path, text, file.mode));
                used.source = logical;
                entry.configs.push(used);
            }
            None => {
                let berth_model::FileBody::Secret { secret, key } = &file.body else {
                    unreachable!("a file without content is a secret")
                };
                let name = format!("{secret}.{key}");
                secrets.insert(
                    name.clone(),
                    SecretDecl {
                        name: name.clone(),
                        external: true,
                    },
                );
                used.source = name;
                entry.secrets.push(used);
            }
        }
    }
    Ok(())
}

fn label_prefix(service: &Service) -> String {
    format!("{}.member.", service.name())
}

fn lower(
    service: &Service,
    settings: &Settings,
    options_span: Option<Span>,
) -> Result<(Stack, Vec<OutputFile>), Vec<Diagnostic>> {
    let network = service.network_name("swarm");
    let members = service.members();
    let publish = Publish {
        enabled: settings.publish,
        address: String::new(),
        stride: settings.port_stride,
    };
    let ports = single_host::published_ports(service, &publish, options_span)?;
    let mut stack = empty_stack(service, &network);
    let mut outputs = Vec::new();
    let tls_secrets = tls_secrets(service, settings, &mut stack.secrets);
    for (member, published) in members.iter().zip(&ports) {
        let identity = Identity::new(Some(member), &members);
        let mut entry = member_service(service, settings, member, &identity, &network)?;
        files_of_member(
            service,
            member,
            &members,
            &mut entry,
            &mut stack.secrets,
            &mut stack.configs,
            &mut outputs,
        )?;
        env_entries(
            service,
            &service.container.env,
            &identity,
            &mut entry,
            &mut stack.secrets,
        )?;
        entry.secrets.extend(tls_secrets.iter().cloned());
        entry.ports = port_decls(settings, published);
        member_volumes(service, settings, member, &mut entry, &mut stack.volumes);
        entry.healthcheck = service
            .health
            .liveness
            .as_ref()
            .map(|live| healthcheck(service, live));
        stack.services.insert(member.name.clone(), entry);
    }
    if let Some(init) = &service.init {
        let mut entry = init_service(service, init, &members, &network, &tls_secrets)?;
        let bootstrap = Identity::new(None, &members);
        env_entries(
            service,
            &init.env,
            &bootstrap,
            &mut entry,
            &mut stack.secrets,
        )?;
        stack
            .services
            .insert(format!("{}-init", service.name()), entry);
    }
    Ok((stack, outputs))
}

/// A stack with nothing in it yet but its overlay network.
fn empty_stack(service: &Service, network: &str) -> Stack {
    Stack {
        version: "3.8",
        services: BTreeMap::new(),
        volumes: BTreeMap::new(),
        networks: BTreeMap::from([(network.to_string(), network_decl(service, network))]),
        secrets: BTreeMap::new(),
        configs: BTreeMap::new(),
    }
}

fn network_decl(service: &Service, network: &str) -> NetworkDecl {
    if service.network.name.is_some() {
        return NetworkDecl {
            name: network.to_string(),
            external: Some(true),
            driver: None,
            attachable: None,
            driver_opts: BTreeMap::new(),
        };
    }
    // The members' traffic encrypted by the network: IPsec between the nodes.
    let driver_opts = if encrypted(service) {
        BTreeMap::from([("encrypted".to_string(), String::new())])
    } else {
        BTreeMap::new()
    };
    NetworkDecl {
        name: network.to_string(),
        external: None,
        driver: Some("overlay"),
        attachable: Some(true),
        driver_opts,
    }
}

fn encrypted(service: &Service) -> bool {
    service.replication.encryption.value == Encryption::Network
}

/// A member's service before its files, variables, ports and volumes: its image, command, name
/// and deployment.
fn member_service(
    service: &Service,
    settings: &Settings,
    member: &Member,
    identity: &Identity,
    network: &str,
) -> Result<StackService, Vec<Diagnostic>> {
    let mut entry = StackService {
        image: service.render(&service.container.image, identity)?,
        hostname: Some(member.name.clone()),
        user: service.container.user.map(|u| u.to_string()),
        networks: single_host::ServiceNetworks::new(network, service.aliases(identity)?),
        stop_grace_period: Some(single_host::seconds(service.stop_grace.value)),
        labels: BTreeMap::from([
            ("berth.service".to_string(), service.name().to_string()),
            ("berth.member".to_string(), member.ordinal.clone()),
        ]),
        deploy: member_deploy(service, settings, member),
        ..Default::default()
    };
    let line = single_host::compose_command(service, identity, &[])?;
    (entry.entrypoint, entry.command) = (line.entrypoint, line.command);
    Ok(entry)
}

/// A member's published ports, each on its own host port.
fn port_decls(settings: &Settings, published: &[single_host::Published]) -> Vec<PortDecl> {
    published
        .iter()
        .map(|p| PortDecl {
            target: p.port,
            published: p.host_port,
            protocol: p.protocol,
            mode: *settings.publish_mode,
        })
        .collect()
}

/// The TLS files as external Swarm secrets, declared in `secrets`; how each member mounts them.
fn tls_secrets(
    service: &Service,
    settings: &Settings,
    secrets: &mut BTreeMap<String, SecretDecl>,
) -> Vec<SecretUse> {
    let Some(tls) = &service.tls else {
        return Vec::new();
    };
    // Docker's default is 0444: with a group, the keys are that group's alone.
    let group = tls.value.group;
    let mut uses = Vec::new();
    for file in &settings.tls_files {
        let secret = format!("{}.{file}", tls.value.secret);
        secrets.insert(
            secret.clone(),
            SecretDecl {
                name: secret.clone(),
                external: true,
            },
        );
        uses.push(SecretUse {
            source: secret,
            target: format!("{}/{file}", tls.value.path.trim_end_matches('/')),
            gid: group.map(|g| g.to_string()),
            mode: group.map(|_| 0o440),
            ..Default::default()
        });
    }
    uses
}

/// One member's `deploy`: one replica, pinned to its node, updated and rolled back stop-first,
/// restarted on any exit.
fn member_deploy(service: &Service, settings: &Settings, member: &Member) -> Deploy {
    let name = service.name();
    let limits = single_host::limits(service);
    let requests = service.resources.as_ref().map(|r| &r.value);
    let update = || UpdateConfig {
        parallelism: 1,
        order: *settings.update_order,
        failure_action: Some("rollback"),
    };
    Deploy {
        endpoint_mode: endpoint_mode(settings),
        replicas: 1,
        placement: settings.pin.then(|| Placement {
            constraints: vec![format!(
                "node.labels.{}{} == true",
                label_prefix(service),
                member.ordinal
            )],
        }),
        // stop-first: the old task releases the volume before the new one starts.
        update_config: Some(update()),
        rollback_config: Some(UpdateConfig {
            failure_action: None,
            ..update()
        }),
        // Any exit restarts the member, without an attempt limit.
        restart_policy: RestartPolicy {
            condition: "any",
            delay: "5s",
        },
        resources: (limits.cpus.is_some() || limits.memory.is_some()).then(|| Resources {
            limits: Some(ResourceSet {
                cpus: limits.cpus.clone(),
                memory: limits.memory.clone(),
            }),
            reservations: requests.map(|r| ResourceSet {
                cpus: r.cpu.as_deref().map(single_host::cpus),
                memory: r.memory.as_deref().map(single_host::bytes),
            }),
        }),
        labels: BTreeMap::from([("berth.service".to_string(), name.to_string())]),
    }
}

/// A member's or the init's environment: literal values rendered for it; secrets as external
/// Swarm secrets, declared in `secrets`.
fn env_entries(
    service: &Service,
    vars: &[berth_model::EnvVar],
    identity: &Identity,
    entry: &mut StackService,
    secrets: &mut BTreeMap<String, SecretDecl>,
) -> Result<(), Vec<Diagnostic>> {
    for var in vars {
        match &var.value {
            EnvValue::Literal(t) => {
                entry
                    .environment
                    .insert(var.name.clone(), service.render(t, identity)?);
            }
            // Swarm secrets are files: the image reads `<NAME>_FILE` (rule swarm/secret-as-file).
            EnvValue::Secret { secret, key } => {
                let swarm_secret = format!("{secret}.{key}");
                secrets.insert(
                    swarm_secret.clone(),
                    SecretDecl {
                        name: swarm_secret.clone(),
                        external: true,
                    },
                );
                entry.environment.insert(
                    format!("{}_FILE", var.name),
                    format!("/run/secrets/{swarm_secret}"),
                );
                entry.secrets.push(SecretUse {
                    source: swarm_secret.clone(),
                    target: swarm_secret,
                    ..Default::default()
                });
            }
        }
    }
    Ok(())
}

/// The member's volumes: each persistent one a named volume of its own, declared in `volumes`.
fn member_volumes(
    service: &Service,
    settings: &Settings,
    member: &Member,
    entry: &mut StackService,
    volumes: &mut BTreeMap<String, VolumeDecl>,
) {
    for volume in &service.volumes {
        let source = volume
            .persistent
            .then(|| volume_name(service, member, &volume.name));
        if let Some(source) = &source {
            volumes.insert(
                source.clone(),
                VolumeDecl {
                    name: source.clone(),
                    driver: settings.volume_driver.clone(),
                },
            );
        }
        entry.volumes.push(ServiceVolume {
            kind: "volume",
            source,
            target: volume.path.clone(),
        });
    }
}

/// The `[init]` step: a one-shot service restarted until it succeeds.
fn init_service(
    service: &Service,
    init: &berth_model::Init,
    members: &[Member],
    network: &str,
    tls_secrets: &[SecretUse],
) -> Result<StackService, Vec<Diagnostic>> {
    let name = service.name();
    let (image, line) = single_host::compose_init(service, init, members)?;
    Ok(StackService {
        image,
        entrypoint: line.entrypoint,
        command: line.command,
        networks: single_host::ServiceNetworks::new(network, Vec::new()),
        secrets: tls_secrets.to_vec(),
        labels: BTreeMap::from([("berth.service".to_string(), name.to_string())]),
        deploy: Deploy {
            replicas: 1,
            // Retries until the cluster answers; once it succeeded it is not run again.
            restart_policy: RestartPolicy {
                condition: "on-failure",
                delay: "10s",
            },
            resources: Some(Resources {
                limits: Some(ResourceSet {
                    cpus: Some(single_host::cpus(&init.resources.cpu)),
                    memory: Some(single_host::bytes(&init.resources.memory)),
                }),
                reservations: None,
            }),
            labels: BTreeMap::from([("berth.service".to_string(), name.to_string())]),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// A member's volume, `<name>-swarm-<ordinal>-<volume>`: not the docker and compose backends'
/// `<name>-<ordinal>-<volume>`, so that on a node that also runs run.sh or compose for the same
/// service, two processes never share one data directory.
fn volume_name(service: &Service, member: &berth_model::Member, volume: &str) -> String {
    format!("{}-swarm-{}-{volume}", service.name(), member.ordinal)
}

/// `dnsrr`: a member's name resolves to its task's own address, not to a virtual IP whose load
/// balancer keeps sending connections to a replaced task for a while; peers and clients then reach
/// a restarted member as soon as it runs. Ports published through the routing mesh need the
/// virtual IP.
fn endpoint_mode(settings: &Settings) -> Option<&'static str> {
    (!(settings.publish && *settings.publish_mode == PublishMode::Ingress)).then_some("dnsrr")
}

/// The stack of one member alone, with the networks, volumes and secrets it uses: `deploy.sh`
/// deploys these one after another to replace members one at a time, since `docker stack deploy`
/// updates every service of a stack at once.
fn member_stack(stack: &Stack, member: &str) -> Stack {
    let service = stack.services[member].clone();
    let volumes = service
        .volumes
        .iter()
        .filter_map(|v| v.source.as_ref())
        .filter_map(|name| Some((name.clone(), stack.volumes.get(name)?.clone())))
        .collect();
    let secrets = service
        .secrets
        .iter()
        .filter_map(|s| Some((s.source.clone(), stack.secrets.get(&s.source)?.clone())))
        .collect();
    // `members/<member>.yaml` is one directory down: its files are `../files/...`.
    let configs = service
        .configs
        .iter()
        .filter_map(|c| {
            let decl = stack.configs.get(&c.source)?;
            let file = format!("../{}", decl.file.trim_start_matches("./"));
            Some((
                c.source.clone(),
                ConfigDecl {
                    name: decl.name.clone(),
                    file,
                },
            ))
        })
        .collect();
    Stack {
        version: stack.version,
        services: BTreeMap::from([(member.to_string(), service)]),
        volumes,
        networks: stack.networks.clone(),
        secrets,
        configs,
    }
}

/// The task's health check. Swarm leaves a task out of DNS until its check passes, so a check
/// that needs the member's peers is turned off: with it, no member could ever find another
/// (rules `swarm/health-gates-discovery` and `swarm/quorum-gated-health`).
fn healthcheck(service: &Service, live: &berth_model::Check) -> Healthcheck {
    if liveness_gates_discovery(service) {
        return Healthcheck {
            disable: Some(true),
            ..Default::default()
        };
    }
    Healthcheck {
        test: single_host::compose_health_test(service, live),
        interval: Some(single_host::seconds(live.interval)),
        timeout: Some(single_host::seconds(live.timeout)),
        retries: Some(live.failures.unwrap_or(3)),
        start_period: Some(single_host::seconds(start_period(service, live))),
        ..Default::default()
    }
}

/// Whether the liveness check, given to Swarm, would keep members out of each other's DNS: it
/// needs the peers (or quorum) of a service that has them, or the members look each other up
/// only as they start, when a restarted task is out of DNS until its first check (one interval).
pub fn liveness_gates_discovery(service: &Service) -> bool {
    service.health.liveness.as_ref().is_some_and(|live| {
        service.waits_for_peers(live)
            || service.liveness_needs_quorum()
            || looks_up_peers_at_start(service)
    })
}

/// Members that resolve their peers once, as they start.
pub fn looks_up_peers_at_start(service: &Service) -> bool {
    service.replicas() > 1 && service.replication.discovery.value == berth_model::Discovery::AtStart
}

/// Swarm kills a task whose health check fails, so a member replaying its log after a crash needs
/// the allowance Kubernetes' startup probe gives: the startup check's budget, or five minutes.
fn start_period(service: &Service, live: &berth_model::Check) -> u64 {
    let startup = service
        .health
        .startup
        .as_ref()
        .map_or(300, |s| s.interval * u64::from(s.failures.unwrap_or(30)));
    live.initial_delay.unwrap_or(0).max(startup)
}

/// `deploy.sh`: every member at once the first time, one member at a time afterwards.
fn deploy_script(service: &Service, settings: &Settings, header: &str) -> String {
    let members: Vec<String> = service.members().into_iter().map(|m| m.name).collect();
    scripts::deploy(
        header,
        service.name(),
        &members.join(" "),
        settings.update_delay,
        service
            .network
            .name
            .as_ref()
            .map(|name| (name.value.as_str(), encrypted(service))),
    )
}

fn prepare_nodes(service: &Service, settings: &Settings, header: &str) -> String {
    scripts::prepare_nodes(&scripts::PrepareNodes {
        header,
        service: service.name(),
        label_prefix: &label_prefix(service),
        members: service.replicas(),
        spread_required: service.replication.spread.value == Spread::Required,
        default_nodes: &settings.nodes,
    })
}

/// Names a member certificate must cover: its service name (the overlay network's DNS name for
/// it), `tasks.<service>`, `localhost`, and the spec's extras.
fn tls_names(service: &Service) -> Vec<String> {
    let mut names = Vec::new();
    for member in service.members() {
        names.push(format!("tasks.{}", member.name));
        names.push(member.name);
    }
    names.push("localhost".into());
    if let Some(tls) = &service.tls {
        names.extend(tls.value.extra_names.iter().map(|n| n.value.clone()));
    }
    names
}
