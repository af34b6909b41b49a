//! What a change of the Kubernetes output does to the running service (`berth diff --against`):
//! fields of a StatefulSet or a Job that Kubernetes refuses to change on an existing object, with
//! the safe migration, and how a changed `[[files]]` entry reaches the pods.

use super::plan::MUTABLE;
use berth_backend::plan::{JOB_IMMUTABLE, STATEFULSET_IMMUTABLE, file_changed};
use berth_diagnostic::Diagnostic;
use berth_model::Service;
use serde_json::{Map, Value};

pub fn rules(service: &Service, path: &str, before: &str, after: &str) -> Vec<Diagnostic> {
    let mut notes: Vec<Diagnostic> = file_changed(service, path, |_| {
        "the pod template's `berth.dev/files` hash changes: the pods roll one at a time".to_string()
    })
    .into_iter()
    .collect();
    if path.ends_with(".yaml")
        && let (Ok(a), Ok(b)) = (
            serde_saphyr::from_str::<Value>(before),
            serde_saphyr::from_str::<Value>(after),
        )
    {
        notes.extend(immutable(service, path, &a, &b));
    }
    notes
}

/// StatefulSet fields other than [`MUTABLE`], and a Job's template, are immutable.
fn immutable(service: &Service, path: &str, old: &Value, new: &Value) -> Vec<Diagnostic> {
    match (old["kind"].as_str(), new["kind"].as_str()) {
        (Some("StatefulSet"), Some("StatefulSet")) => statefulset(service, path, old, new),
        (Some("Job"), Some("Job")) if old["spec"]["template"] != new["spec"]["template"] => {
            let rerun = if new["metadata"]["annotations"][super::RERUN_SAFE] == "true" {
                "it runs again, and `[init] done_output` makes it succeed on the initialized cluster"
            } else {
                "it runs again, and fails if its command cannot run twice (say what its output is then with `[init] done_output`)"
            };
            vec![JOB_IMMUTABLE.fire(
                service,
                service.init.as_ref().and_then(|i| i.span.clone()),
                format!("`{path}`: the Job's pod template changes, which Kubernetes refuses on an existing Job"),
                "a changed Job",
                format!("plan the change (`berth plan --backend kubernetes`), or delete the finished Job (`kubectl delete job NAME`) and apply: {rerun}"),
            )]
        }
        _ => Vec::new(),
    }
}

fn statefulset(service: &Service, path: &str, old: &Value, new: &Value) -> Vec<Diagnostic> {
    let empty = Map::new();
    let (a, b) = (
        old["spec"].as_object().unwrap_or(&empty),
        new["spec"].as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| !MUTABLE.contains(&k.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|key| {
            let help = if key == "volumeClaimTemplates" {
                "plan it with `berth plan --backend kubernetes`: it grows the claims where the class allows expansion, moves each member to new claims for a new class, and makes the StatefulSet again with its pods and claims kept"
            } else {
                "plan it with `berth plan --backend kubernetes`, which makes the StatefulSet again (`--cascade=orphan`, pods and claims kept) and restarts the pods one at a time"
            };
            STATEFULSET_IMMUTABLE.fire(
                service,
                service.replication.replicas.span.clone(),
                format!("`{path}`: `spec.{key}` changes, which Kubernetes refuses on an existing StatefulSet"),
                "an immutable field changes",
                help,
            )
        })
        .collect()
}
