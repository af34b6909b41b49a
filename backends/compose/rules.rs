//! The compose backend's safety rules: what one engine cannot give, said plainly. The checks are
//! shared with the other single-engine backends (`shared::single_host::check_single_host`).

use berth_backends_shared::single_host::check_single_host;
use berth_diagnostic::Diagnostic;
use berth_model::Service;

berth_backends_shared::single_host_rules!();

pub fn check(
    service: &Service,
    _: &berth_backends_shared::single_host::Publish,
) -> Vec<Diagnostic> {
    let mut found = check_single_host(service, &SINGLE_HOST, None);
    found.extend(berth_backends_shared::files::owner_not_applied(
        service,
        &FILE_OWNER_NOT_APPLIED,
        "a bind mount",
        true,
    ));
    found
}
