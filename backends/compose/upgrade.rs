//! What `diff --against` says of a changed compose output: how a changed `[[files]]` entry
//! reaches the members.

use berth_backends_shared::files::changed_file_note;

pub fn notes(path: &str, _before: &str, _after: &str) -> Vec<String> {
    changed_file_note(path, |member| {
        format!(
            "`docker-compose up` recreates `{member}`, together with every other member whose file changed"
        )
    })
    .into_iter()
    .collect()
}
