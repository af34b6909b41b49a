//! Lowers the service model to Kubernetes objects (k8s-openapi types) and then to YAML files,
//! or to documents for a backend built on this one, or to nothing but findings ([`Form`]).

use super::{Settings, ZoneSpread};
use berth_backend::{Form, OutputFile, header_comment};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_model::{CheckAction, EnvValue, Identity, Member, Service, Spread, Start};
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, ExecAction, HTTPGetAction, Namespace, ObjectFieldSelector, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecretVolumeSource, SecurityContext, Service as KubeService, ServicePort, ServiceSpec,
    TCPSocketAction, TopologySpreadConstraint, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use std::collections::BTreeMap;

/// Stand-ins rendered into `self` and replaced by downward-API references after `$` escaping.
const POD_NAME_MARK: &str = "\u{F0000}BERTH_POD_NAME\u{F0001}";
const POD_ORDINAL_MARK: &str = "\u{F0000}BERTH_POD_ORDINAL\u{F0001}";
const POD_NAME_ENV: &str = "BERTH_POD_NAME";
const POD_ORDINAL_ENV: &str = "BERTH_POD_ORDINAL";
const TLS_VOLUME: &str = "berth-tls";
use super::RERUN_SAFE;

struct Names<'a> {
    service: &'a str,
    settings: &'a Settings,
}

impl Names<'_> {
    /// The stable DNS name of a member: `<pod>.<headless service>.<namespace>.svc.<domain>`.
    fn host(&self, pod: &str) -> String {
        format!(
            "{pod}.{}.{}.svc.{}",
            self.service, self.settings.namespace, self.settings.cluster_domain
        )
    }
    fn client_service(&self) -> String {
        format!("{}-public", self.service)
    }
}

pub fn lower(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<(Vec<OutputFile>, Vec<String>), Vec<Diagnostic>> {
    let names = Names {
        service: service.name(),
        settings,
    };
    let member_labels = labels(service, "member");
    let mut out = Emitter {
        header: header_comment(service, diagnostics),
        form: settings.form,
        files: Vec::new(),
    };
    cluster_objects(settings, &mut out)?;
    services(service, settings, &names, &member_labels, &mut out)?;
    budget_and_policy(service, settings, &member_labels, &mut out)?;
    let peers: Vec<Member> = (0..service.replicas())
        .map(|i| {
            let pod = format!("{}-{i}", service.name());
            Member {
                ordinal: i.to_string(),
                host: names.host(&pod),
                name: pod,
                ..Default::default()
            }
        })
        .collect();
    statefulset(service, settings, &names, &member_labels, &peers, &mut out)?;
    if let Some(init) = &service.init {
        init_job(service, settings, init, &peers, &mut out)?;
    }
    let mut files = out.kustomized()?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, tls_names(service, &names, &peers)))
}

/// Collects the objects, one file each, numbered in the order `kubectl apply -f` must create them.
struct Emitter {
    header: String,
    form: Form,
    files: Vec<OutputFile>,
}

impl Emitter {
    fn emit(
        &mut self,
        order: u8,
        kind: &str,
        name: &str,
        object: &dyn ErasedSerialize,
    ) -> Result<(), Vec<Diagnostic>> {
        let path = format!("{order:02}-{kind}-{name}.yaml");
        let file = match self.form {
            Form::Text => object
                .to_yaml()
                .map(|yaml| OutputFile::new(path, format!("{}{yaml}", self.header))),
            Form::Documents => object
                .to_document()
                .map(|document| OutputFile::document(path, document)),
            Form::Omitted => return Ok(()),
        };
        self.files
            .push(file.map_err(|e| vec![Diagnostic::input(&errors::OUTPUT_YAML, e)])?);
        Ok(())
    }

    /// The files, and the `Kustomization` listing them.
    fn kustomized(mut self) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
        if self.form == Form::Omitted {
            return Ok(Vec::new());
        }
        let mut resources: Vec<String> = self.files.iter().map(|f| f.path.clone()).collect();
        resources.sort();
        let kustomization = Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources,
        };
        let yaml = berth_backend::yaml::to_yaml(&kustomization)
            .map_err(|e| vec![Diagnostic::input(&errors::OUTPUT_YAML, e)])?;
        // Named `Kustomization` (a name kustomize accepts) so `kubectl apply -f DIR`, which reads
        // only .yaml/.yml/.json files, does not try to apply it as an object.
        self.files.push(OutputFile::new(
            "Kustomization",
            format!("{}{yaml}", self.header),
        ));
        Ok(self.files)
    }
}

/// The Namespace (with `create_namespace`) and the declared StorageClasses.
fn cluster_objects(settings: &Settings, out: &mut Emitter) -> Result<(), Vec<Diagnostic>> {
    if settings.create_namespace {
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(settings.namespace.clone()),
                labels: Some(managed()),
                ..Default::default()
            },
            ..Default::default()
        };
        out.emit(0, "namespace", &settings.namespace, &namespace)?;
    }
    for (class_name, decl) in &settings.storage_classes {
        if berth_language::names::dns_label(class_name, 63).is_err() {
            return Err(vec![
                Diagnostic::input(
                    &errors::SPEC_INVALID_NAME,
                    format!("storage class name `{class_name}` is not a DNS label"),
                )
                .help("use lowercase letters, digits and `-`"),
            ]);
        }
        let class = StorageClass {
            metadata: ObjectMeta {
                name: Some(class_name.clone()),
                labels: Some(managed()),
                ..Default::default()
            },
            provisioner: decl.provisioner.clone(),
            parameters: (!decl.parameters.is_empty()).then(|| decl.parameters.clone()),
            // Retain: deleting a claim must not delete the disk; WaitForFirstConsumer: the disk is
            // created in the zone where the pod is scheduled, not in a random one.
            reclaim_policy: Some("Retain".into()),
            volume_binding_mode: Some("WaitForFirstConsumer".into()),
            allow_volume_expansion: Some(true),
            ..Default::default()
        };
        out.emit(10, "storageclass", class_name, &class)?;
    }
    Ok(())
}

/// The headless Service the members find each other by, and the client Service.
fn services(
    service: &Service,
    settings: &Settings,
    names: &Names,
    member_labels: &BTreeMap<String, String>,
    out: &mut Emitter,
) -> Result<(), Vec<Diagnostic>> {
    let mut headless = headless_service(service, settings, service.name(), member_labels.clone());
    // Members must find each other before they are ready: readiness may need quorum.
    if let Some(spec) = headless.spec.as_mut() {
        spec.publish_not_ready_addresses = Some(true);
    }
    out.emit(20, "service", service.name(), &headless)?;
    let public: Vec<ServicePort> = service.public_ports().map(service_port).collect();
    if !public.is_empty() {
        let client = KubeService {
            metadata: metadata(service, settings, &names.client_service(), "member"),
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".into()),
                ports: Some(public),
                selector: Some(member_labels.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        out.emit(21, "service", &names.client_service(), &client)?;
    }
    alias_services(service, settings, names, member_labels, out)
}

/// A headless Service for each name in `network.aliases` (the governing Service already answers
/// to the service's own name): one every member shares selects them all, one member's its pod.
fn alias_services(
    service: &Service,
    settings: &Settings,
    names: &Names,
    member_labels: &BTreeMap<String, String>,
    out: &mut Emitter,
) -> Result<(), Vec<Diagnostic>> {
    let members = service.members();
    // Each alias: the members that answer to it, and the template it came from.
    let mut answering: BTreeMap<String, (Vec<&str>, usize)> = BTreeMap::new();
    for member in &members {
        let identity = Identity::new(Some(member), &members);
        for (t, template) in service.network.aliases.iter().enumerate() {
            let alias = service.render(template, &identity)?;
            if alias == member.host {
                continue;
            }
            let (by, _) = answering.entry(alias).or_insert((Vec::new(), t));
            if by.last() != Some(&member.name.as_str()) {
                by.push(&member.name);
            }
        }
    }
    for (alias, (by, t)) in answering {
        let every_member = by.len() == members.len();
        if alias == service.name() && every_member {
            continue;
        }
        let refuse = |message: String, help: &str| {
            let span = service.network.aliases[t].span.clone();
            let diagnostic = Diagnostic::input(&errors::SPEC_INVALID_VALUE, message);
            Err(vec![diagnostic.at(span, "alias").help(help)])
        };
        if alias == service.name() || alias == names.client_service() {
            return refuse(
                format!(
                    "the alias `{alias}` is the name of a Service berth writes for the members"
                ),
                "choose another alias: the service's name answers for every member already",
            );
        }
        let mut selector = member_labels.clone();
        match by[..] {
            _ if every_member => {}
            [pod] => {
                selector.insert("statefulset.kubernetes.io/pod-name".into(), pod.into());
            }
            _ => {
                return refuse(
                    format!(
                        "the alias `{alias}` is shared by some members but not all: no Kubernetes Service can select those members"
                    ),
                    "give every member the alias, or each member its own with `{{self.ordinal}}`",
                );
            }
        }
        let headless = headless_service(service, settings, &alias, selector);
        out.emit(22, "service", &alias, &headless)?;
    }
    Ok(())
}

/// A headless Service named `name` over every port of the pods `selector` picks: DNS answers
/// with their own addresses.
fn headless_service(
    service: &Service,
    settings: &Settings,
    name: &str,
    selector: BTreeMap<String, String>,
) -> KubeService {
    KubeService {
        metadata: metadata(service, settings, name, "member"),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            ports: Some(service.ports.iter().map(service_port).collect()),
            selector: Some(selector),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The PodDisruptionBudget (with several members) and the members' NetworkPolicy.
fn budget_and_policy(
    service: &Service,
    settings: &Settings,
    member_labels: &BTreeMap<String, String>,
    out: &mut Emitter,
) -> Result<(), Vec<Diagnostic>> {
    let replicas = service.replicas();
    if replicas > 1 {
        // Keep a majority up, but never block a drain: at least one disruption is always allowed.
        let max_unavailable = (replicas - service.replication.majority()).max(1);
        let budget = PodDisruptionBudget {
            metadata: metadata(service, settings, service.name(), "member"),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(max_unavailable as i32)),
                selector: Some(LabelSelector {
                    match_labels: Some(member_labels.clone()),
                    ..Default::default()
                }),
                // A member that runs but is not ready (catching up) may be evicted only while
                // the budget holds; AlwaysAllow would let a drain take it regardless.
                unhealthy_pod_eviction_policy: (settings.minor_version
                    >= super::ga::UNHEALTHY_POD_EVICTION_POLICY)
                    .then(|| "IfHealthyBudget".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        out.emit(30, "poddisruptionbudget", service.name(), &budget)?;
    }
    let members_policy = super::network::members(
        service,
        metadata(service, settings, service.name(), "member"),
        member_labels,
    );
    out.emit(35, "networkpolicy", service.name(), &members_policy)
}

/// The StatefulSet, and the ConfigMap of its files.
fn statefulset(
    service: &Service,
    settings: &Settings,
    names: &Names,
    member_labels: &BTreeMap<String, String>,
    peers: &[Member],
    out: &mut Emitter,
) -> Result<(), Vec<Diagnostic>> {
    let me = Member {
        ordinal: POD_ORDINAL_MARK.into(),
        name: POD_NAME_MARK.into(),
        host: names.host(POD_NAME_MARK),
        ..Default::default()
    };
    let pod_files = super::files::pod_files(service, peers, POD_NAME_ENV).map_err(|d| vec![d])?;
    if !pod_files.data.is_empty() {
        let name = super::files::config_map_name(service);
        let config_map = ConfigMap {
            metadata: metadata(service, settings, &name, "member"),
            data: Some(pod_files.data.clone()),
            ..Default::default()
        };
        out.emit(15, "configmap", &name, &config_map)?;
    }
    let member_container = container(service, &Identity::new(Some(&me), peers), Some(&pod_files))?;
    let mut statefulset_metadata = metadata(service, settings, service.name(), "member");
    statefulset_metadata.annotations = service
        .description
        .as_ref()
        .map(|d| BTreeMap::from([("berth.dev/description".to_string(), d.clone())]));
    let statefulset = StatefulSet {
        metadata: statefulset_metadata,
        spec: Some(StatefulSetSpec {
            service_name: Some(service.name().to_string()),
            replicas: Some(service.replicas() as i32),
            pod_management_policy: Some(match service.replication.start.value {
                Start::Parallel => "Parallel".into(),
                Start::Ordered => "OrderedReady".into(),
            }),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..Default::default()
            }),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            selector: LabelSelector {
                match_labels: Some(member_labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(member_labels.clone()),
                    annotations: files_annotation(&pod_files),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    affinity: affinity(service, member_labels),
                    topology_spread_constraints: zone_spread(service, settings, member_labels),
                    containers: vec![member_container],
                    volumes: pod_volumes(service, &pod_files),
                    termination_grace_period_seconds: Some(service.stop_grace.value as i64),
                    security_context: Some(pod_security(service)),
                    automount_service_account_token: Some(false),
                    ..Default::default()
                }),
            },
            volume_claim_templates: claim_templates(service),
            ..Default::default()
        }),
        ..Default::default()
    };
    out.emit(40, "statefulset", service.name(), &statefulset)
}

/// A hash of the files in the pod template: a changed file changes the template, and the pods
/// roll, one at a time.
fn files_annotation(pod_files: &super::files::PodFiles) -> Option<BTreeMap<String, String>> {
    (!pod_files.data.is_empty()).then(|| {
        BTreeMap::from([(
            "berth.dev/files".to_string(),
            berth_backends_shared::files::data_hash(&pod_files.data),
        )])
    })
}

/// The `[init]` Job and its NetworkPolicy.
fn init_job(
    service: &Service,
    settings: &Settings,
    init: &berth_model::Init,
    peers: &[Member],
    out: &mut Emitter,
) -> Result<(), Vec<Diagnostic>> {
    let name = format!("{}-init", service.name());
    let mut job_metadata = metadata(service, settings, &name, "init");
    let rerun_safe = init.done_output.is_some();
    if rerun_safe {
        job_metadata.annotations = Some(BTreeMap::from([(
            RERUN_SAFE.to_string(),
            "true".to_string(),
        )]));
    }
    let job = Job {
        metadata: job_metadata,
        spec: Some(JobSpec {
            // A finished Job is removed after an hour only where running it again is safe: the
            // next apply re-creates it.
            ttl_seconds_after_finished: rerun_safe.then_some(3600),
            // Retry with the Job's back-off until the members answer, instead of waiting for
            // readiness (which may need the quorum this job creates).
            backoff_limit: Some(30),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(service, "init")),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("OnFailure".into()),
                    containers: vec![init_container(service, init, peers)?],
                    volumes: tls_volume(service).map(|v| vec![v]),
                    security_context: Some(pod_security(service)),
                    automount_service_account_token: Some(false),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    out.emit(50, "job", &name, &job)?;
    let init_policy = super::network::init(
        metadata(service, settings, &name, "init"),
        &labels(service, "init"),
    );
    out.emit(51, "networkpolicy", &name, &init_policy)
}

fn init_container(
    service: &Service,
    init: &berth_model::Init,
    peers: &[Member],
) -> Result<Container, Vec<Diagnostic>> {
    let identity = Identity::new(None, peers);
    let image = match &init.image {
        Some(image) => service.render(image, &identity)?,
        None => service.render(
            &service.container.image,
            &Identity::new(peers.first(), peers),
        )?,
    };
    let command: Vec<String> = init
        .argv(service, &identity)?
        .iter()
        .map(|s| escape_dollars(s))
        .collect();
    Ok(Container {
        name: "init".into(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(command),
        env: Some(container_env(
            service,
            &init.env,
            &identity,
            &mut [false; 2],
        )?)
        .filter(|env| !env.is_empty()),
        // A namespace with a ResourceQuota admits no pod without them.
        resources: Some(ResourceRequirements {
            requests: Some(init_resources(&init.resources)),
            limits: Some(init_resources(&init.resources)),
            ..Default::default()
        }),
        volume_mounts: tls_mount(service),
        // A bootstrap client switches no user and binds no port: whatever user the image runs
        // it as needs no capability.
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    resources: Vec<String>,
}

/// Lets `emit` take any object without a generic closure.
trait ErasedSerialize {
    fn to_yaml(&self) -> Result<String, String>;
    fn to_document(&self) -> Result<serde_json::Value, String>;
}

impl<T: Serialize> ErasedSerialize for T {
    fn to_yaml(&self) -> Result<String, String> {
        berth_backend::yaml::to_yaml(self)
    }
    fn to_document(&self) -> Result<serde_json::Value, String> {
        serde_json::to_value(self).map_err(|e| e.to_string())
    }
}

fn managed() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "berth".to_string(),
    )])
}

fn labels(service: &Service, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            service.name().to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            component.to_string(),
        ),
    ])
}

fn metadata(service: &Service, settings: &Settings, name: &str, component: &str) -> ObjectMeta {
    let mut all = labels(service, component);
    all.extend(managed());
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(settings.namespace.clone()),
        labels: Some(all),
        ..Default::default()
    }
}

fn service_port(port: &berth_model::Port) -> ServicePort {
    ServicePort {
        name: Some(port.name.clone()),
        port: i32::from(port.port),
        target_port: Some(IntOrString::String(port.name.clone())),
        protocol: Some(protocol(port)),
        ..Default::default()
    }
}

fn protocol(port: &berth_model::Port) -> String {
    match port.protocol {
        berth_model::Protocol::Tcp => "TCP".into(),
        berth_model::Protocol::Udp => "UDP".into(),
    }
}

fn affinity(service: &Service, member_labels: &BTreeMap<String, String>) -> Option<Affinity> {
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some(member_labels.clone()),
            ..Default::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..Default::default()
    };
    let anti = match service.replication.spread.value {
        _ if service.replicas() < 2 => return None,
        Spread::Required => PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term]),
            ..Default::default()
        },
        Spread::Preferred => PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term,
                },
            ]),
            ..Default::default()
        },
        Spread::None => return None,
    };
    Some(Affinity {
        pod_anti_affinity: Some(anti),
        ..Default::default()
    })
}

/// Members spread evenly over `topology.kubernetes.io/zone`, so that losing a zone loses a
/// minority. Only where members are spread over hosts at all.
fn zone_spread(
    service: &Service,
    settings: &Settings,
    member_labels: &BTreeMap<String, String>,
) -> Option<Vec<TopologySpreadConstraint>> {
    let when_unsatisfiable = match settings.zone_spread {
        _ if service.replicas() < 2 || service.replication.spread.value == Spread::None => {
            return None;
        }
        ZoneSpread::None => return None,
        // A node without the zone label is no candidate under DoNotSchedule.
        ZoneSpread::Required => "DoNotSchedule",
        ZoneSpread::Preferred => "ScheduleAnyway",
    };
    Some(vec![TopologySpreadConstraint {
        label_selector: Some(LabelSelector {
            match_labels: Some(member_labels.clone()),
            ..Default::default()
        }),
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone".into(),
        when_unsatisfiable: when_unsatisfiable.into(),
        ..Default::default()
    }])
}

/// Kubernetes expands `$(VAR)` and reduces `$$` to `$` in command, args and env values; doubling
/// every `$` keeps the spec's strings literal.
fn escape_dollars(text: &str) -> String {
    text.replace('$', "$$")
}

/// Renders a member string, then swaps the identity stand-ins for downward-API variables; `used`
/// notes which of them the pod needs.
fn render_member(
    service: &Service,
    template: &berth_model::Template,
    identity: &Identity,
    used: &mut [bool; 2],
) -> Result<String, Vec<Diagnostic>> {
    let text = escape_dollars(&service.render(template, identity)?);
    // What the template can read, not only what these values wrote: the pod's variables stay
    // the same for any values, as a chart of the spec computes them.
    let [name, ordinal] = berth_language::template::self_reads(&template.source);
    used[0] |= name || text.contains(POD_NAME_MARK);
    used[1] |= ordinal || text.contains(POD_ORDINAL_MARK);
    Ok(text
        .replace(POD_NAME_MARK, &format!("$({POD_NAME_ENV})"))
        .replace(POD_ORDINAL_MARK, &format!("$({POD_ORDINAL_ENV})")))
}

/// A member's container (with its files), or the init Job's (`files` is `None`).
fn container(
    service: &Service,
    identity: &Identity,
    files: Option<&super::files::PodFiles>,
) -> Result<Container, Vec<Diagnostic>> {
    let image = container_image(service, identity)?;
    // Which identity variables the rendered strings use: the pod's name, its ordinal.
    let mut used = [false; 2];
    let unmark = |text: &str, member: &Member| {
        text.replace(POD_NAME_MARK, &member.name)
            .replace(POD_ORDINAL_MARK, &member.ordinal)
    };
    let placements = files.map_or(&[][..], |f| &f.placements[..]);
    let per_member = match files {
        Some(_) => {
            super::per_member::start(service, identity, &unmark, placements, POD_ORDINAL_ENV)?
        }
        None => None,
    };
    let (command, args, env_vars) = match per_member {
        Some(per_member) => {
            used[1] = true;
            let mut command = per_member.command;
            command[2] = escape_dollars(&command[2]);
            let env_vars: Vec<_> = service
                .container
                .env
                .iter()
                .filter(|v| !per_member.variables.contains(&v.name))
                .cloned()
                .collect();
            (command, Vec::new(), env_vars)
        }
        None => {
            let (command, args) = command_and_args(service, identity, files, &mut used)?;
            (command, args, service.container.env.clone())
        }
    };
    used[0] |= files.is_some_and(|f| f.uses_pod_name);
    let env = container_env(service, &env_vars, identity, &mut used)?;
    let mounts = volume_mounts(service, files);
    Ok(Container {
        name: service.name().to_string(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        command: (!command.is_empty()).then_some(command),
        args: (!args.is_empty()).then_some(args),
        env: (!env.is_empty()).then_some(env),
        ports: Some(container_ports(service)),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        liveness_probe: service.health.liveness.as_ref().map(probe),
        readiness_probe: service.health.readiness.as_ref().map(probe),
        startup_probe: startup_probe(service, files.is_some()),
        resources: resources(service),
        security_context: Some(container_security(service)),
        ..Default::default()
    })
}

/// The image, the same for every member: one pod template serves them all.
fn container_image(service: &Service, identity: &Identity) -> Result<String, Vec<Diagnostic>> {
    let c = &service.container;
    let image = service.render(&c.image, identity)?;
    if image.contains(POD_NAME_MARK) || image.contains(POD_ORDINAL_MARK) {
        return Err(vec![Diagnostic::input(&errors::SPEC_INVALID_VALUE, "`container.image` uses `self`, but one pod template serves every member on Kubernetes")
            .at(c.image.span.clone(), "uses `self`")
            .help("use the same image for every member")]);
    }
    Ok(image)
}

/// The command and args, the command behind a start script that copies `[[files]]` into place.
fn command_and_args(
    service: &Service,
    identity: &Identity,
    files: Option<&super::files::PodFiles>,
    used: &mut [bool; 2],
) -> Result<(Vec<String>, Vec<String>), Vec<Diagnostic>> {
    let c = &service.container;
    let mut command = c
        .command
        .iter()
        .map(|t| render_member(service, t, identity, used))
        .collect::<Result<Vec<_>, _>>()?;
    let args = c
        .args
        .iter()
        .map(|t| render_member(service, t, identity, used))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(files) = files.filter(|f| !f.placements.is_empty()) {
        // The start script copies files into place, then runs the command and args.
        let mut script =
            berth_model::start::wrap(&berth_model::start::steps(&files.placements), Vec::new());
        script[2] = escape_dollars(&script[2]);
        command.splice(0..0, script);
    }
    Ok((command, args))
}

/// The spec's variables (secrets from the user's Secrets), after the identity variables that
/// `used` says the container's strings refer to.
fn container_env(
    service: &Service,
    vars: &[berth_model::EnvVar],
    identity: &Identity,
    used: &mut [bool; 2],
) -> Result<Vec<EnvVar>, Vec<Diagnostic>> {
    let mut env = Vec::new();
    for var in vars {
        env.push(match &var.value {
            EnvValue::Literal(t) => EnvVar {
                name: var.name.clone(),
                value: Some(render_member(service, t, identity, used)?),
                ..Default::default()
            },
            EnvValue::Secret { secret, key } => EnvVar {
                name: var.name.clone(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.clone(),
                        key: key.clone(),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        });
    }
    // Identity variables come first: `$(VAR)` in env values only sees variables defined above it.
    let mut identity_env = Vec::new();
    if used[0] {
        identity_env.push(field_env(POD_NAME_ENV, "metadata.name"));
    }
    if used[1] {
        identity_env.push(field_env(
            POD_ORDINAL_ENV,
            "metadata.labels['apps.kubernetes.io/pod-index']",
        ));
    }
    identity_env.extend(env);
    Ok(identity_env)
}

/// The spec's volumes, the TLS files, and a member's `[[files]]`.
fn volume_mounts(service: &Service, files: Option<&super::files::PodFiles>) -> Vec<VolumeMount> {
    let mut mounts: Vec<VolumeMount> = service
        .volumes
        .iter()
        .map(|v| VolumeMount {
            name: v.name.clone(),
            mount_path: v.path.clone(),
            ..Default::default()
        })
        .collect();
    mounts.extend(tls_mount(service).unwrap_or_default());
    mounts.extend(files.map(|f| f.mounts.clone()).unwrap_or_default());
    mounts
}

fn container_ports(service: &Service) -> Vec<ContainerPort> {
    service
        .ports
        .iter()
        .map(|p| ContainerPort {
            name: Some(p.name.clone()),
            container_port: i32::from(p.port),
            protocol: Some(protocol(p)),
            ..Default::default()
        })
        .collect()
}

/// The startup probe: the spec's, or for a `member` the liveness check with a longer allowance.
fn startup_probe(service: &Service, member: bool) -> Option<Probe> {
    // Without a startup probe, a replica replaying its log after a crash is killed by liveness
    // before it finishes; give it the liveness check with a five-minute allowance instead.
    match (&service.health.startup, &service.health.liveness) {
        (Some(startup), _) => Some(probe(startup)),
        (None, Some(live)) if member => Some(Probe {
            failure_threshold: Some(30),
            period_seconds: Some(10),
            initial_delay_seconds: None,
            ..probe(live)
        }),
        _ => None,
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn probe(check: &berth_model::Check) -> Probe {
    let mut probe = Probe {
        period_seconds: Some(check.interval as i32),
        timeout_seconds: Some(check.timeout as i32),
        failure_threshold: check.failures.map(|f| f as i32),
        initial_delay_seconds: check.initial_delay.map(|s| s as i32),
        ..Default::default()
    };
    match &check.action {
        CheckAction::Http { path, port } => {
            probe.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::String(port.clone()),
                scheme: Some("HTTP".into()),
                ..Default::default()
            })
        }
        CheckAction::Tcp { port } => {
            probe.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::String(port.clone()),
                ..Default::default()
            })
        }
        CheckAction::Exec { argv } => {
            probe.exec = Some(ExecAction {
                command: Some(argv.clone()),
            })
        }
    }
    probe
}

fn resources(service: &Service) -> Option<ResourceRequirements> {
    let r = &service.resources.as_ref()?.value;
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for (key, request, limit) in [
        ("cpu", &r.cpu, &r.cpu_limit),
        ("memory", &r.memory, &r.memory_limit),
    ] {
        if let Some(request) = request {
            requests.insert(key.to_string(), Quantity(request.clone()));
        }
        if let Some(limit) = limit.as_ref().or(request.as_ref()) {
            limits.insert(key.to_string(), Quantity(limit.clone()));
        }
    }
    Some(ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..Default::default()
    })
}

/// What the init Job's pod asks for and is limited to, as Marathon's Metronome job.
fn init_resources(resources: &berth_model::InitResources) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(resources.cpu.clone())),
        ("memory".to_string(), Quantity(resources.memory.clone())),
    ])
}

fn pod_security(service: &Service) -> PodSecurityContext {
    let user = service.container.user.map(i64::from);
    PodSecurityContext {
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        run_as_user: user,
        run_as_group: user,
        // The claim's files become writable by the image's user, and the TLS keys readable.
        fs_group: user.or(service
            .tls
            .as_ref()
            .and_then(|t| t.value.group)
            .map(i64::from)),
        run_as_non_root: user.map(|u| u != 0),
        ..Default::default()
    }
}

fn container_security(service: &Service) -> SecurityContext {
    // Dropping every capability only works once the image does not start as root (entrypoints
    // that chown the data directory or switch user need CHOWN, SETUID and SETGID).
    let non_root = service.container.user.is_some_and(|u| u != 0);
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: non_root.then(|| Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_volumes(service: &Service, files: &super::files::PodFiles) -> Option<Vec<Volume>> {
    let mut volumes: Vec<Volume> = service
        .volumes
        .iter()
        .filter(|v| !v.persistent)
        .map(|v| Volume {
            name: v.name.clone(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: v.size.as_ref().map(|(text, _)| Quantity(text.clone())),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(tls_volume(service));
    volumes.extend(files.volumes.iter().cloned());
    (!volumes.is_empty()).then_some(volumes)
}

fn claim_templates(service: &Service) -> Option<Vec<PersistentVolumeClaim>> {
    let claims: Vec<PersistentVolumeClaim> = service
        .persistent_volumes()
        .map(|v| PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(v.name.clone()),
                labels: Some(labels(service, "member")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: v.class.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: v.size.as_ref().map(|(text, _)| {
                        BTreeMap::from([("storage".to_string(), Quantity(text.clone()))])
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    (!claims.is_empty()).then_some(claims)
}

fn tls_volume(service: &Service) -> Option<Volume> {
    let tls = &service.tls.as_ref()?.value;
    Some(Volume {
        name: TLS_VOLUME.into(),
        // 0440 with the pod's fsGroup: readable by the image's user, never world-readable.
        secret: Some(SecretVolumeSource {
            secret_name: Some(tls.secret.clone()),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn tls_mount(service: &Service) -> Option<Vec<VolumeMount>> {
    let tls = &service.tls.as_ref()?.value;
    Some(vec![VolumeMount {
        name: TLS_VOLUME.into(),
        mount_path: tls.path.clone(),
        read_only: Some(true),
        ..Default::default()
    }])
}

/// Every name a node certificate must cover: each member's stable names at every level of
/// qualification, the client service's names, and the spec's extra names.
fn tls_names(service: &Service, names: &Names, peers: &[Member]) -> Vec<String> {
    let ns = &names.settings.namespace;
    let domain = &names.settings.cluster_domain;
    let mut out = Vec::new();
    for peer in peers {
        let base = format!("{}.{}", peer.name, service.name());
        out.extend([
            base.clone(),
            format!("{base}.{ns}"),
            format!("{base}.{ns}.svc"),
            format!("{base}.{ns}.svc.{domain}"),
        ]);
    }
    if service.public_ports().next().is_some() {
        let client = names.client_service();
        out.extend([
            client.clone(),
            format!("{client}.{ns}"),
            format!("{client}.{ns}.svc"),
            format!("{client}.{ns}.svc.{domain}"),
        ]);
    }
    if let Some(tls) = &service.tls {
        out.extend(tls.value.extra_names.iter().map(|n| n.value.clone()));
    }
    out
}
