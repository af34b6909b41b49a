//! `berth-report.json`: for each service and backend, the files written, the diagnostics (lifted
//! ones with their reasons), how each concern was realized, and the TLS names to cover. Its shape
//! is `docs/berth-report.schema.json`.

use crate::compile::Outcome;
use crate::concern::Realization;
use crate::diagnostic::{JsonDiagnostic, to_json};
use serde::Serialize;
use std::collections::BTreeMap;

pub const FILE: &str = "berth-report.json";

#[derive(Serialize)]
struct Report<'a> {
    services: Vec<ServiceReport<'a>>,
    version: u32,
}

#[derive(Serialize)]
struct ServiceReport<'a> {
    backends: BTreeMap<&'static str, BackendReport<'a>>,
    service: &'a str,
    spec: &'a str,
}

#[derive(Serialize)]
struct BackendReport<'a> {
    concerns: &'a [Realization],
    diagnostics: Vec<JsonDiagnostic<'a>>,
    files: Vec<String>,
    tls_names: &'a [String],
}

/// `prefix` maps a service and backend to the directory its files were written to.
pub fn report(specs: &[(String, &Outcome)], prefix: impl Fn(&str, &str) -> String) -> String {
    let services = specs
        .iter()
        .map(|(spec, outcome)| {
            let service = outcome.service_name.as_deref().unwrap_or_default();
            let backends = outcome
                .outputs
                .iter()
                .map(|output| {
                    let dir = prefix(service, output.backend);
                    let report = BackendReport {
                        concerns: &output.concerns,
                        diagnostics: output
                            .diagnostics
                            .iter()
                            .map(|d| to_json(d, &outcome.sources))
                            .collect(),
                        files: output
                            .files
                            .iter()
                            .map(|f| format!("{dir}/{}", f.path))
                            .collect(),
                        tls_names: &output.tls_names,
                    };
                    (output.backend, report)
                })
                .collect();
            ServiceReport {
                backends,
                service,
                spec,
            }
        })
        .collect();
    serde_json::to_string_pretty(&Report {
        services,
        version: 1,
    })
    .expect("the report serializes")
        + "\n"
}
