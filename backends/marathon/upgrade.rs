//! What a change of the Marathon output does to the running service (`berth diff --against`): a
//! persistent volume's size and a resident app's resources, which Marathon cannot change in place.

use berth_backend::plan::{MARATHON_RESIDENT_RESOURCES, MARATHON_VOLUME_SIZE};
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
    if a.get("apps").is_some() || a["id"] != b["id"] {
        return Vec::new();
    }
    let id = b["id"].as_str().unwrap_or("");
    let volume = service.persistent_volumes().next();
    let mut fired = Vec::new();
    if volume_sizes(&a) != volume_sizes(&b) {
        fired.push(MARATHON_VOLUME_SIZE.fire(
            service,
            volume.and_then(|v| v.span.clone()),
            format!(
                "`{path}`: the persistent volume size of `{id}` changes, which Marathon cannot do in place: the app would get a new, empty volume"
            ),
            "a new size",
            "plan it with `berth plan --backend marathon`, which moves each member to a new app on a new volume, one at a time",
        ));
    }
    let resident = volume_sizes(&b).is_some_and(|v| v.iter().any(|size| !size.is_null()));
    if resident && resources(&a) != resources(&b) {
        fired.push(MARATHON_RESIDENT_RESOURCES.fire(
            service,
            volume.and_then(|v| v.span.clone()),
            format!(
                "`{path}`: the CPUs, memory, disk or host ports of `{id}` change, which Marathon refuses on an app with a persistent volume"
            ),
            "a resident app",
            "plan it with `berth plan --backend marathon`, which moves each member to a new app on a new volume, one at a time",
        ));
    }
    fired
}

/// What a resident app reserves besides its volumes: `cpus`, `mem`, `disk`, `gpus` and the host
/// ports.
pub fn resources(app: &Value) -> Vec<Value> {
    let host_ports = app["container"]["portMappings"]
        .as_array()
        .map(|p| p.iter().map(|p| p["hostPort"].clone()).collect());
    vec![
        app["cpus"].clone(),
        app["mem"].clone(),
        app["disk"].clone(),
        app["gpus"].clone(),
        Value::Array(host_ports.unwrap_or_default()),
    ]
}

fn volume_sizes(app: &Value) -> Option<Vec<Value>> {
    app["container"]["volumes"]
        .as_array()
        .map(|v| v.iter().map(|v| v["persistent"]["size"].clone()).collect())
}
