//! The compose backend's safety rules: what one engine cannot give, said plainly. The checks are
//! shared with the other single-engine backends (`shared::single_host::check_single_host`).

use crate::diagnostic::Diagnostic;
use crate::engine::backends::shared::single_host::check_single_host;
use crate::model::Service;

crate::engine::backends::shared::single_host::single_host_rules!("compose");

pub fn check(
    service: &Service,
    _: &crate::engine::backends::shared::single_host::Publish,
) -> Vec<Diagnostic> {
    let mut found = check_single_host(service, &SINGLE_HOST, None);
    found.extend(crate::engine::backends::shared::files::owner_not_applied(
        service,
        &FILE_OWNER_NOT_APPLIED,
        "a bind mount",
        true,
    ));
    found
}
