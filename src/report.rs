//! `berth-report.json`: for each service and backend, the files written, the diagnostics (lifted
//! ones with their reasons), how each concern was realized, and the TLS names to cover. Its shape
//! is `docs/berth-report.schema.json`.

use crate::compile::Outcome;
use crate::diagnostic::to_json;
use serde_json::{Map, Value, json};

pub const FILE: &str = "berth-report.json";

/// `prefix` maps a service and backend to the directory its files were written to.
pub fn report(specs: &[(String, &Outcome)], prefix: impl Fn(&str, &str) -> String) -> String {
    let services: Vec<Value> = specs
        .iter()
        .map(|(spec, outcome)| {
            let service = outcome.service_name.clone().unwrap_or_default();
            let mut backends = Map::new();
            for output in &outcome.outputs {
                let dir = prefix(&service, output.backend);
                backends.insert(
                    output.backend.to_string(),
                    json!({
                        "files": output.files.iter().map(|f| format!("{dir}/{}", f.path)).collect::<Vec<_>>(),
                        "diagnostics": output.diagnostics.iter().map(|d| to_json(d, &outcome.sources)).collect::<Vec<_>>(),
                        "concerns": output.concerns,
                        "tls_names": output.tls_names,
                    }),
                );
            }
            json!({ "service": service, "spec": spec, "backends": backends })
        })
        .collect();
    let value = json!({ "version": 1, "services": services });
    serde_json::to_string_pretty(&value).expect("JSON values serialize") + "\n"
}
