//! The spec file as written: serde types that mirror the TOML, with spans kept for diagnostics.
//!
//! Fields that may hold a template (`replicas = "{{params.replicas}}"`) are kept as raw TOML
//! values here; [`crate::resolve`] renders and type-checks them against the parameters.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub type SString = Spanned<String>;
/// A scalar that is either its own type or a string template rendering to it.
pub type SValue = Spanned<toml::Value>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub name: SString,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<Spanned<String>, Spanned<ParamDecl>>,
    pub container: Spanned<Container>,
    #[serde(default)]
    pub ports: Vec<Spanned<Port>>,
    #[serde(default)]
    pub volumes: Vec<Spanned<Volume>>,
    #[serde(default)]
    pub replication: Option<Spanned<Replication>>,
    #[serde(default)]
    pub health: Option<Spanned<Health>>,
    #[serde(default)]
    pub resources: Option<Spanned<Resources>>,
    #[serde(default)]
    pub lifecycle: Option<Spanned<Lifecycle>>,
    #[serde(default)]
    pub init: Option<Spanned<Init>>,
    #[serde(default)]
    pub tls: Option<Spanned<Tls>>,
    /// Options of each backend; each backend deserializes its own table (see [`crate::backend`]).
    #[serde(default)]
    pub backends: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub allow: Vec<Spanned<Allow>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    pub default: SValue,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub min: Option<Spanned<i64>>,
    #[serde(default)]
    pub max: Option<Spanned<i64>>,
    #[serde(default)]
    pub values: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub image: SString,
    #[serde(default)]
    pub command: Vec<SString>,
    #[serde(default)]
    pub args: Vec<SString>,
    #[serde(default)]
    pub env: BTreeMap<Spanned<String>, Spanned<EnvValue>>,
    /// The numeric user the image's process runs as; enables the non-root hardening.
    #[serde(default)]
    pub user: Option<SValue>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    Literal(String),
    Secret(SecretRef),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub secret: String,
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub name: SString,
    pub port: SValue,
    #[serde(default)]
    pub protocol: Option<SString>,
    #[serde(default)]
    pub expose: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub name: SString,
    pub path: SString,
    #[serde(default)]
    pub size: Option<SString>,
    #[serde(default)]
    pub class: Option<SString>,
    #[serde(default)]
    pub persistent: Option<SValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    #[serde(default)]
    pub replicas: Option<SValue>,
    #[serde(default)]
    pub quorum: Option<SString>,
    #[serde(default)]
    pub spread: Option<SString>,
    #[serde(default)]
    pub start: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    #[serde(default)]
    pub liveness: Option<Spanned<Check>>,
    #[serde(default)]
    pub readiness: Option<Spanned<Check>>,
    #[serde(default)]
    pub startup: Option<Spanned<Check>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[serde(default)]
    pub http: Option<SString>,
    #[serde(default)]
    pub port: Option<SString>,
    #[serde(default)]
    pub tcp: Option<SString>,
    #[serde(default)]
    pub exec: Option<Vec<SString>>,
    #[serde(default)]
    pub interval: Option<SString>,
    #[serde(default)]
    pub timeout: Option<SString>,
    #[serde(default)]
    pub failures: Option<SValue>,
    #[serde(default)]
    pub initial_delay: Option<SString>,
    #[serde(default)]
    pub needs_quorum: Option<SValue>,
    /// The same check as a command run inside the container, for the docker-family backends,
    /// whose health checks can only run commands.
    #[serde(default)]
    pub docker_exec: Option<Vec<SString>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub cpu: Option<SString>,
    #[serde(default)]
    pub memory: Option<SString>,
    #[serde(default)]
    pub cpu_limit: Option<SString>,
    #[serde(default)]
    pub memory_limit: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    #[serde(default)]
    pub stop_grace: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Init {
    pub command: Vec<SString>,
    #[serde(default)]
    pub image: Option<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub secret: SString,
    pub path: SString,
    #[serde(default)]
    pub extra_names: Vec<SString>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    pub rule: SString,
    pub reason: SString,
}

/// Parses a spec file; a syntax error, an unknown key or a value of the wrong type becomes one
/// diagnostic that points at the offending key.
pub fn parse(
    text: &str,
    file: crate::source::FileId,
) -> Result<Spec, crate::diagnostic::Diagnostic> {
    toml::from_str(text).map_err(|error| toml_error_to_diagnostic(&error, file))
}

/// Turns a `toml` error into a diagnostic, recognising serde's unknown/missing field messages so
/// the diagnostic can name the key and suggest the closest valid one.
pub fn toml_error_to_diagnostic(
    error: &toml::de::Error,
    file: crate::source::FileId,
) -> crate::diagnostic::Diagnostic {
    use crate::diagnostic::{Diagnostic, closest};
    let message = error.message().trim();
    let span = error
        .span()
        .map(|range| crate::source::Span::new(file, range));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let help = match closest(key, candidates.iter().copied()) {
            Some(best) => format!("rename it to `{best}`"),
            None if candidates.is_empty() => "remove it: this table takes no keys".to_string(),
            None => format!("remove it, or use one of {}", backticked(&candidates)),
        };
        return Diagnostic::input("spec/unknown-key", format!("unknown key `{key}`"))
            .at(span, "not a key of this table")
            .help(help);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::input("spec/missing-key", format!("missing required key `{key}`"))
            .at(span, format!("this table needs `{key}`"))
            .help(format!("add `{key} = ...` to this table"));
    }
    if message.contains("untagged enum EnvValue") {
        return Diagnostic::input("spec/invalid-value", "invalid `env` value")
            .at(span, "neither a string nor a secret reference")
            .help("write a string, or `{ secret = \"NAME\", key = \"KEY\" }` to read a secret");
    }
    if span.is_some()
        && (message.starts_with("invalid type") || message.starts_with("invalid value"))
    {
        return Diagnostic::input("spec/invalid-value", message.to_string())
            .at(span, "wrong type")
            .help("change the value to the type the message names");
    }
    Diagnostic::input("spec/syntax", format!("invalid TOML: {message}"))
        .at(span, "here")
        .help("fix the TOML syntax at this position")
}

pub fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
