//! What a change of the swarm output does to the running service (`berth diff --against`): how a
//! changed `[[files]]` entry reaches the members.

use berth_backend::plan::file_changed;
use berth_diagnostic::Diagnostic;
use berth_model::Service;

pub fn rules(service: &Service, path: &str, _before: &str, _after: &str) -> Vec<Diagnostic> {
    file_changed(service, path, |member| {
        format!("the file is a new config: deploy.sh replaces `{member}`, one member at a time")
    })
    .into_iter()
    .collect()
}
