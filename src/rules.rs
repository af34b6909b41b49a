//! Rules about the spec itself, whatever the backend (ids `spec/...`). Backends keep their own
//! rules in their folders; these run once per compile.

use crate::backend::Rule;
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{EnvValue, Service};

pub static RULES: &[Rule] = &[Rule {
    id: "spec/literal-secret",
    severity: Severity::Warning,
    summary: "an `env` value that looks like a secret is written literally",
    doc: include_str!("rules/literal-secret.md"),
}];

/// Words of an env name that mark a secret (`DB_PASSWORD`, `API_TOKEN`, `AWS_SECRET_ACCESS_KEY`).
const SECRET_WORDS: [&str; 8] = [
    "PASSWORD",
    "PASSWD",
    "PASS",
    "TOKEN",
    "SECRET",
    "KEY",
    "APIKEY",
    "CREDENTIALS",
];

pub fn check(service: &Service) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for var in &service.container.env {
        let EnvValue::Literal(value) = &var.value else {
            continue;
        };
        let upper = var.name.to_ascii_uppercase();
        if value.source.is_empty() || !upper.split('_').any(|word| SECRET_WORDS.contains(&word)) {
            continue;
        }
        found.push(RULES[0].fire(
            service,
            var.span.clone(),
            format!("`{}` looks like a secret but its value is written in the spec, and so into every output", var.name),
            "a literal value",
            format!("write `{} = {{ secret = \"NAME\", key = \"KEY\" }}` so each orchestrator reads it from its secret store", var.name),
        ));
    }
    found
}
