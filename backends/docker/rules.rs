//! The docker backend's safety rules: what one engine cannot give, said plainly. The checks are
//! shared with the other single-engine backends ([`super::engine::check_single_host`]).

use super::engine::check_single_host;
use crate::engine::diagnostic::Diagnostic;
use crate::model::Service;

super::engine::single_host_rules!("docker");

pub fn check(
    service: &Service,
    _: &crate::engine::backends::docker::engine::Publish,
) -> Vec<Diagnostic> {
    let mut found = check_single_host(service, &SINGLE_HOST, Some(&HEALTH_CHECK_WITHOUT_SHELL));
    found.extend(super::files::owner_not_applied(
        service,
        &FILE_OWNER_NOT_APPLIED,
        "a bind mount",
        true,
    ));
    found
}
