//! The compose backend's safety rules: what one engine cannot give, said plainly. The checks are
//! shared with the other single-engine backends (`docker::engine::check_single_host`).

use crate::backend::Rule;
use crate::backends::docker::engine::check_single_host;
use crate::diagnostic::Diagnostic;
use crate::model::Service;

macro_rules! rule {
    ($($rule:tt)*) => {
        crate::backend::backend_rule!("compose", $($rule)*)
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
    rule!(
        "file-owner-not-applied",
        Warning,
        "a file keeps the owner and mode its mount gives it"
    ),
];

pub fn check(service: &Service) -> Vec<Diagnostic> {
    let mut found = check_single_host(service, "compose", RULES, false);
    found.extend(crate::backends::docker::files::owner_not_applied(
        service,
        crate::backend::rule_named(RULES, "compose", "file-owner-not-applied"),
        "a bind mount",
        true,
    ));
    found
}
