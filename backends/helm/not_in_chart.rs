//! Why a spec has no chart: what the chart cannot compute from its values yet, said by rule
//! `helm/not-in-chart` rather than frozen at the value this compile gave it.

use berth_diagnostic::source::Span;
use berth_language::template::reads;
use berth_model::Service;

/// Why a chart cannot be written: what it cannot compute, and where the spec says it.
#[derive(Debug)]
pub struct NotInChart {
    pub reason: String,
    pub span: Option<Span>,
}

impl From<String> for NotInChart {
    fn from(reason: String) -> Self {
        NotInChart { reason, span: None }
    }
}

impl From<&str> for NotInChart {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Why the chart of `service` cannot be written yet, if it cannot: a structural template (one
/// that may read parameters, the name or ports) of a key the lifting does not compute so far.
pub fn not_yet(service: &Service) -> Option<NotInChart> {
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
    let param_ports = service
        .parameter_feeds
        .values()
        .any(|keys| keys.contains("ports.port"));
    let names = || service.parameters.iter().map(|p| p.name.as_str());
    for source in &service.structural_sources {
        let read = berth_language::params::mentioned(&source.template, names());
        let varies = !read.is_empty()
            || reads(&source.template, "name")
            || (param_ports && reads(&source.template, "port"));
        // Only the single-engine backends run `docker_exec`.
        let kubernetes_reads = !source.key.ends_with(".docker_exec");
        if varies && kubernetes_reads && !COMPUTED_KEYS.contains(&source.key.as_str()) {
            let what = match read.first() {
                Some(parameter) => format!("the value `{parameter}`"),
                None => "the release name or a port".to_string(),
            };
            return Some(NotInChart {
                reason: format!(
                    "`{}` is the template `{}`, which the chart does not compute from {what} yet",
                    source.key, source.template
                ),
                span: Some(source.span.clone()),
            });
        }
    }
    // The kubernetes backend's Services for the aliases are the chart's as they are, unless the
    // values or the release change which names there are.
    let replicas_from_values = service
        .parameter_feeds
        .values()
        .any(|keys| keys.contains("replication.replicas"));
    let members_read = ["self", "peers", "peer_hosts", "members"];
    for alias in &service.network.aliases {
        let source = &alias.source;
        let varies = !berth_language::params::mentioned(source, names()).is_empty()
            || reads(source, "name")
            || (param_ports && reads(source, "port"))
            || (replicas_from_values && members_read.iter().any(|word| reads(source, word)));
        if varies {
            return Some(NotInChart {
                reason: format!(
                    "the alias `{source}` reads what the values or the release change, which the chart does not compute for aliases yet"
                ),
                span: alias.span.clone(),
            });
        }
    }
    None
}
