//! What a change of the Marathon output does to the running service (`berth diff --against`): a
//! persistent volume's size, which Marathon cannot change in place.

use berth_backend::plan::MARATHON_VOLUME_SIZE;
use berth_diagnostic::Diagnostic;
use berth_model::Service;
use serde_json::Value;

pub fn rules(service: &Service, path: &str, before: &str, after: &str) -> Vec<Diagnostic> {
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
    let volume = service.persistent_volumes().next();
    vec![MARATHON_VOLUME_SIZE.fire(
        service,
        volume.and_then(|v| v.span.clone()),
        format!(
            "`{path}`: the persistent volume size of `{}` changes, which Marathon cannot do in place: the app would get a new, empty volume",
            b["id"].as_str().unwrap_or("")
        ),
        "a new size",
        "add a member with the new size, let it catch up, then retire the old one (`berth plan --replace`, where the backend has plans)",
    )]
}

fn volume_sizes(app: &Value) -> Option<Vec<Value>> {
    app["container"]["volumes"]
        .as_array()
        .map(|v| v.iter().map(|v| v["persistent"]["size"].clone()).collect())
}
