//! What `diff --against` says of a changed Kubernetes output: fields of a StatefulSet or a Job
//! that Kubernetes refuses to change on an existing object, with the safe migration, and how a
//! changed `[[files]]` entry reaches the pods.

use berth_backends_shared::files::changed_file_note;
use serde_json::{Map, Value};

pub fn notes(path: &str, before: &str, after: &str) -> Vec<String> {
    let mut notes: Vec<String> = changed_file_note(path, |_| {
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
        notes.extend(immutable(path, &a, &b));
    }
    notes
}

/// StatefulSet fields other than these, and a Job's template, are immutable.
const STATEFULSET_MUTABLE: [&str; 6] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn immutable(path: &str, old: &Value, new: &Value) -> Vec<String> {
    match (old["kind"].as_str(), new["kind"].as_str()) {
        (Some("StatefulSet"), Some("StatefulSet")) => statefulset(path, old, new),
        (Some("Job"), Some("Job")) if old["spec"]["template"] != new["spec"]["template"] => {
            let rerun = if new["metadata"]["annotations"][super::RERUN_SAFE] == "true" {
                "it runs again, and `[init] done_output` makes it succeed on the initialized cluster"
            } else {
                "it runs again, and fails if its command cannot run twice (say what its output is then with `[init] done_output`)"
            };
            vec![format!(
                "warning[upgrade/job-immutable]: {path}: the Job's pod template changes, which Kubernetes refuses on an existing Job\n  = help: delete the finished Job (`kubectl delete job NAME`), then apply: {rerun}"
            )]
        }
        _ => Vec::new(),
    }
}

fn statefulset(path: &str, old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let (a, b) = (
        old["spec"].as_object().unwrap_or(&empty),
        new["spec"].as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| !STATEFULSET_MUTABLE.contains(&k.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|key| {
            let help = if key == "volumeClaimTemplates" {
                "to grow a disk, expand each claim (`kubectl patch pvc NAME -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"SIZE\"}}}}'`, where the class allows expansion), then `kubectl delete statefulset NAME --cascade=orphan` and apply: pods and claims stay"
            } else {
                "`kubectl delete statefulset NAME --cascade=orphan` (pods and claims stay), then apply the new files"
            };
            format!("warning[upgrade/statefulset-immutable]: {path}: `spec.{key}` changes, which Kubernetes refuses on an existing StatefulSet\n  = help: {help}")
        })
        .collect()
}
