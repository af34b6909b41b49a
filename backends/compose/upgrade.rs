//! What a change of the compose output does to the running service (`berth diff --against`,
//! `berth plan`): how a changed `[[files]]` entry reaches the members.

use berth_backend::plan::file_changed;
use berth_diagnostic::Diagnostic;
use berth_model::Service;

pub fn rules(service: &Service, path: &str, _before: &str, _after: &str) -> Vec<Diagnostic> {
    file_changed(service, path, |member| {
        format!(
            "`docker-compose up` recreates `{member}`, together with every other member whose file changed"
        )
    })
    .into_iter()
    .collect()
}
