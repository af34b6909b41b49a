//! The compose backend's safety rules: what one engine cannot give, said plainly. The checks are
//! shared with the other single-engine backends (`docker::engine::check_single_host`).

use crate::backend::Rule;
use crate::backends::docker::engine::{SingleHostRules, check_single_host};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Service;

macro_rules! rule {
    ($name:literal, $severity:ident, $summary:literal) => {
        Rule {
            id: concat!("compose/", $name),
            severity: Severity::$severity,
            summary: $summary,
            doc: include_str!(concat!("rules/", $name, ".md")),
        }
    };
}

pub static RULES: &[Rule] = &[
    rule!(
        "no-persistent-volume",
        Error,
        "the service keeps its data without a persistent volume"
    ),
    rule!(
        "replicas-share-host",
        Warning,
        "several replicas run on one host: no spread is possible"
    ),
    rule!(
        "quorum-on-one-host",
        Warning,
        "a quorum service on one host is one failure domain"
    ),
    rule!(
        "quorum-gated-health",
        Error,
        "members are gated on a health check that needs quorum"
    ),
    rule!("no-resources", Warning, "memory or CPU limits are not set"),
    rule!("no-health-check", Warning, "no health check"),
    rule!(
        "health-check-needs-tool",
        Warning,
        "the health check assumes a tool in the image"
    ),
];

pub fn check(service: &Service) -> Vec<Diagnostic> {
    check_single_host(
        service,
        &SingleHostRules {
            no_persistent_volume: &RULES[0],
            replicas_share_host: &RULES[1],
            quorum_on_one_host: &RULES[2],
            quorum_gated_health: &RULES[3],
            no_resources: &RULES[4],
            no_health_check: &RULES[5],
            health_check_needs_tool: &RULES[6],
        },
        false,
    )
}
