//! What `diff --against` says of a changed Marathon output: a persistent volume's size, which
//! Marathon cannot change in place.

use serde_json::Value;

pub fn notes(path: &str, before: &str, after: &str) -> Vec<String> {
    if !path.ends_with(".json") || path.ends_with(".metronome.json") {
        return Vec::new();
    }
    let (Ok(a), Ok(b)) = (
        serde_json::from_str::<Value>(before),
        serde_json::from_str::<Value>(after),
    ) else {
        return Vec::new();
    };
    // The group file repeats the member files; each member is reported once, from its own.
    if a.get("apps").is_some() || a["id"] != b["id"] || volume_sizes(&a) == volume_sizes(&b) {
        return Vec::new();
    }
    vec![format!(
        "warning[upgrade/marathon-volume-size]: {path}: the persistent volume size of `{}` changes, which Marathon cannot do in place: the app would get a new, empty volume\n  = help: add a member with the new size, let it catch up, then retire the old one",
        b["id"].as_str().unwrap_or("")
    )]
}

fn volume_sizes(app: &Value) -> Option<Vec<Value>> {
    app["container"]["volumes"]
        .as_array()
        .map(|v| v.iter().map(|v| v["persistent"]["size"].clone()).collect())
}
