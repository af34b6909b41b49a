//! Why a spec has no chart: what the chart cannot compute from its values yet, said by rule
//! `helm/not-in-chart` rather than frozen at the value this compile gave it.

use crate::KubernetesTarget;
use berth_backend::Input;
use berth_diagnostic::source::Span;
use berth_language::params::mentioned;
use berth_language::template::reads;
use berth_model::Service;

/// Why a chart cannot be written: what it cannot compute, where the spec says it, and whether
/// it is a value the values or the release change (which the spec can write otherwise).
#[derive(Debug)]
pub struct NotInChart {
    pub reason: String,
    pub span: Option<Span>,
    pub varies: bool,
}

impl From<String> for NotInChart {
    fn from(reason: String) -> Self {
        NotInChart {
            reason,
            span: None,
            varies: false,
        }
    }
}

impl From<&str> for NotInChart {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// The keys whose structural templates the chart computes from its values.
const COMPUTED_KEYS: [&str; 10] = [
    "name",
    "ports.port",
    "replication.replicas",
    "replication.spread",
    "volumes.size",
    "volumes.class",
    "resources.cpu",
    "resources.memory",
    "resources.cpu_limit",
    "resources.memory_limit",
];

/// What of the values or the release the template `source` reads: the first parameter it
/// mentions, or else the name, or a port a parameter sets.
fn varies_with(service: &Service, source: &str) -> Option<String> {
    let names = service.parameters.iter().map(|p| p.name.as_str());
    if let Some(parameter) = mentioned(source, names).first() {
        return Some(format!("the value `{parameter}`"));
    }
    let param_ports = service
        .parameter_feeds
        .values()
        .any(|keys| keys.contains("ports.port"));
    (reads(source, "name") || (param_ports && reads(source, "port")))
        .then(|| "the release name or a port".to_string())
}

/// Why the chart of `input`'s service cannot be written yet, if it cannot: a structural template
/// of a key the chart does not compute, an alias, or the cluster's domain, that reads what the
/// values or the release change.
pub fn not_yet(input: &Input, kubernetes: &KubernetesTarget) -> Option<NotInChart> {
    let service = input.service;
    for source in &service.structural_sources {
        // Only the single-engine backends run `docker_exec`.
        let kubernetes_reads = !source.key.ends_with(".docker_exec");
        if !kubernetes_reads || COMPUTED_KEYS.contains(&source.key.as_str()) {
            continue;
        }
        if let Some(what) = varies_with(service, &source.template) {
            return Some(NotInChart {
                reason: format!(
                    "`{}` is the template `{}`, which the chart does not compute from {what} yet",
                    source.key, source.template
                ),
                span: Some(source.span.clone()),
                varies: true,
            });
        }
    }
    aliases(service).or_else(|| domain(input, kubernetes))
}

/// An alias the values or the release change: the kubernetes backend's Services for a fixed one
/// are the chart's as they are.
fn aliases(service: &Service) -> Option<NotInChart> {
    let replicas_from_values = service
        .parameter_feeds
        .values()
        .any(|keys| keys.contains("replication.replicas"));
    let members_read = ["self", "peers", "peer_hosts", "members"];
    service.network.aliases.iter().find_map(|alias| {
        let source = &alias.source;
        let members = replicas_from_values && members_read.iter().any(|word| reads(source, word));
        (members || varies_with(service, source).is_some()).then(|| NotInChart {
            reason: format!(
                "the alias `{source}` reads what the values or the release change, which the chart does not compute for aliases yet"
            ),
            span: alias.span.clone(),
            varies: true,
        })
    })
}

/// `[backends.kubernetes] cluster_domain` as a template that reads the values or the name: every
/// member's host name holds it, computed once.
fn domain(input: &Input, kubernetes: &KubernetesTarget) -> Option<NotInChart> {
    let domain = kubernetes.cluster_domain.as_ref()?;
    let source = &domain.value;
    varies_with(input.service, source)?;
    Some(NotInChart {
        reason: format!(
            "`backends.kubernetes.cluster_domain` is the template `{source}`, which the chart does not compute from its values yet"
        ),
        span: Some(input.span(domain)),
        varies: true,
    })
}
