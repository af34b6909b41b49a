//! The compose backend's safety rules: what one engine cannot give, said plainly. The checks are
//! shared with the other single-engine backends (`docker::engine::check_single_host`).

use crate::engine::backends::docker::engine::check_single_host;
use crate::engine::diagnostic::Diagnostic;
use crate::model::Service;

crate::engine::backends::docker::engine::single_host_rules!("compose");

pub fn check(
    service: &Service,
    _: &crate::engine::backends::docker::engine::Publish,
) -> Vec<Diagnostic> {
    let mut found = check_single_host(service, &SINGLE_HOST, None);
    found.extend(crate::engine::backends::docker::files::owner_not_applied(
        service,
        &FILE_OWNER_NOT_APPLIED,
        "a bind mount",
        true,
    ));
    found
}
