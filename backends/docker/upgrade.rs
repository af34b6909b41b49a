//! What a change of the docker output does to the running service (`berth diff --against`): how
//! a changed `[[files]]` entry reaches the members.

use berth_backend::plan::file_changed;
use berth_diagnostic::Diagnostic;
use berth_model::Service;

pub fn rules(service: &Service, path: &str, _before: &str, _after: &str) -> Vec<Diagnostic> {
    file_changed(service, path, |member| {
        format!(
            "run.sh reports `{member}` as made from another spec and keeps it: `berth plan --backend docker` recreates it (its volumes stay)"
        )
    })
    .into_iter()
    .collect()
}
