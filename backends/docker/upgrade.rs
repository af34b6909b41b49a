//! What `diff --against` says of a changed docker run output: how a changed `[[files]]` entry
//! reaches the members.

use berth_backends_shared::files::changed_file_note;

pub fn notes(path: &str, _before: &str, _after: &str) -> Vec<String> {
    changed_file_note(path, |member| {
        format!(
            "run.sh reports `{member}` as made from another spec: stop and remove it (its volumes stay) and run run.sh again to apply the file"
        )
    })
    .into_iter()
    .collect()
}
