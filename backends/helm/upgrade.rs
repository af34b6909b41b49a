//! What a chart's new defaults do to a release installed with the old ones (`berth diff
//! --against`): a value that changes and reaches a StatefulSet field Kubernetes refuses to
//! change, with what to do before `helm upgrade`.

use berth_backend::OutputFile;
use berth_backend::plan::{Deployed, STATEFULSET_IMMUTABLE};
use berth_diagnostic::Diagnostic;
use berth_model::Service;
use serde_json::{Map, Value};

/// The changed values of `files`' `values.yaml` against the deployed one that Kubernetes refuses
/// to apply in place.
pub fn changes(
    service: &Service,
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Vec<Diagnostic> {
    let Some(file) = files.iter().find(|f| f.path.ends_with("/values.yaml")) else {
        return Vec::new();
    };
    let path = format!("helm/{}", file.path);
    let Some(before) = deployed.read(&path) else {
        return Vec::new();
    };
    let read = |text: &str| serde_saphyr::from_str::<Map<String, Value>>(text).ok();
    let (Some(before), Some(after)) = (read(&before), read(&file.contents)) else {
        return Vec::new();
    };
    service
        .parameters
        .iter()
        .filter(|p| before.get(&p.name) != after.get(&p.name))
        .filter_map(|p| {
            let refused = crate::values::upgrade_refused(service.parameter_feeds.get(&p.name))?;
            let shown = |value: Option<&Value>| value.map_or("unset".to_string(), Value::to_string);
            Some(STATEFULSET_IMMUTABLE.fire(
                service,
                service.param_origins.get(&p.name).and_then(|o| o.span.clone()),
                format!(
                    "`{path}`: `{}` changes from {} to {}: {refused}",
                    p.name,
                    shown(before.get(&p.name)),
                    shown(after.get(&p.name))
                ),
                "a value Kubernetes refuses to change in place",
                "before `helm upgrade`, make the change with the steps `berth plan --backend kubernetes` writes for the same values, then upgrade the release with them",
            ))
        })
        .collect()
}
