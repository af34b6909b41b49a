//! What `diff --against` says of a changed Swarm output: how a changed `[[files]]` entry
//! reaches the members.

use berth_backends_shared::files::changed_file_note;

pub fn notes(path: &str, _before: &str, _after: &str) -> Vec<String> {
    changed_file_note(path, |member| {
        format!("the file is a new config: deploy.sh replaces `{member}`, one member at a time")
    })
    .into_iter()
    .collect()
}
