//! The seam between the core and the backends (mdBook's Renderer model): a backend receives the
//! resolved [`Service`], checks its own rules, and returns files in memory. It never touches the
//! filesystem; [`crate::output`] writes what it returns.

use crate::diagnostic::{Diagnostic, Origin, Severity};
use crate::model::Service;
use crate::source::{FileId, Span};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::marker::PhantomData;

/// A safety rule: a stable id (`kubernetes/ordered-ready-deadlock`), a severity, a one-line
/// summary, and the Markdown document that `berth explain ID` prints.
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub doc: &'static str,
}

impl Rule {
    /// A diagnostic for this rule, lifted to [`Severity::Allowed`] when the spec has an `[[allow]]` for it.
    pub fn fire(
        &self,
        service: &Service,
        span: Option<Span>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Diagnostic {
        let allowed = service.allowed(self.id);
        Diagnostic {
            code: self.id.to_string(),
            origin: Origin::Rule,
            severity: if allowed.is_some() {
                Severity::Allowed
            } else {
                self.severity
            },
            message: message.into(),
            span,
            label: label.into(),
            help: Some(help.into()),
            allowed_because: allowed.map(|a| a.reason.clone()),
            origins: Vec::new(),
        }
    }
}

/// One generated file, its path relative to the backend's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputFile {
    pub path: String,
    pub contents: String,
    /// Written with mode 0755 (scripts).
    pub executable: bool,
}

impl OutputFile {
    pub fn new(path: impl Into<String>, contents: String) -> Self {
        OutputFile {
            path: path.into(),
            contents,
            executable: false,
        }
    }

    pub fn script(path: impl Into<String>, contents: String) -> Self {
        OutputFile {
            path: path.into(),
            contents,
            executable: true,
        }
    }
}

/// What a backend makes of one service.
#[derive(Default)]
pub struct Compiled {
    pub diagnostics: Vec<Diagnostic>,
    pub files: Vec<OutputFile>,
    /// DNS names a node certificate must cover on this orchestrator.
    pub tls_names: Vec<String>,
    /// How each concern was realized, one entry per [`crate::concern::Concern`].
    pub concerns: Vec<crate::concern::Realization>,
}

pub struct Input<'a> {
    pub service: &'a Service,
    /// The spec's text, for deserializing `[backends.NAME]` with spans.
    pub source: &'a str,
    pub file: FileId,
}

pub trait Backend: Sync {
    /// The directory name under `--out` and the `--backend` value.
    fn name(&self) -> &'static str;
    fn rules(&self) -> &'static [Rule];
    /// Checks this backend's rules and, unless an input error occurred, lowers the service to files.
    fn compile(&self, input: &Input) -> Compiled;
}

impl Input<'_> {
    /// Deserializes this backend's `[backends.NAME]` table from the spec text, so that errors keep
    /// their position in the spec. A missing table gives `T::default()`.
    pub fn options<T: DeserializeOwned + Default>(&self, backend: &str) -> Result<T, Diagnostic> {
        let deserializer = toml::de::Deserializer::parse(self.source)
            .map_err(|e| crate::spec::toml_error_to_diagnostic(&e, self.file))?;
        let found = DocumentSeed::<T> {
            backend,
            _t: PhantomData,
        }
        .deserialize(deserializer)
        .map_err(|e| crate::spec::toml_error_to_diagnostic(&e, self.file))?;
        Ok(found.unwrap_or_default())
    }
}

/// Walks `backends.<backend>` of the document and deserializes only that table.
struct DocumentSeed<'a, T> {
    backend: &'a str,
    _t: PhantomData<T>,
}

struct BackendsSeed<'a, T> {
    backend: &'a str,
    _t: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for DocumentSeed<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for DocumentSeed<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a spec table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "backends" {
                found = map.next_value_seed(BackendsSeed::<T> {
                    backend: self.backend,
                    _t: PhantomData,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for BackendsSeed<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for BackendsSeed<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a table of backend options")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.backend {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// A header of comments for a generated file: what made it, and each rule an `[[allow]]` lifted.
pub fn header_comment(service: &Service, diagnostics: &[Diagnostic]) -> String {
    let mut header = format!(
        "# Generated by berth from the spec of `{}`. Do not edit: change the spec and compile again.\n",
        service.name()
    );
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Allowed)
    {
        let reason = d
            .allowed_because
            .as_deref()
            .unwrap_or("")
            .replace(['\n', '\r'], " ");
        header.push_str(&format!(
            "# berth: rule {} is allowed by the spec: {reason}\n",
            d.code
        ));
    }
    header
}

/// What a backend's lowering makes: its files and the TLS names it reports.
pub struct Lowered {
    pub files: Vec<OutputFile>,
    pub tls_names: Vec<String>,
}

/// The steps every backend takes: read its options (an input error stops here), check its rules,
/// record how it realizes each concern, and lower the service unless a rule refused it.
pub fn pipeline<S>(
    settings: Result<S, Diagnostic>,
    check: impl FnOnce(&S) -> Vec<Diagnostic>,
    concerns: impl FnOnce(&S) -> Vec<crate::concern::Realization>,
    lower: impl FnOnce(&S, &[Diagnostic]) -> Result<Lowered, Vec<Diagnostic>>,
) -> Compiled {
    let settings = match settings {
        Ok(settings) => settings,
        Err(diagnostic) => {
            return Compiled {
                diagnostics: vec![diagnostic],
                ..Compiled::default()
            };
        }
    };
    let diagnostics = check(&settings);
    let concerns = concerns(&settings);
    if diagnostics.iter().any(Diagnostic::is_rule_error) {
        return Compiled {
            diagnostics,
            concerns,
            ..Compiled::default()
        };
    }
    match lower(&settings, &diagnostics) {
        Ok(lowered) => Compiled {
            diagnostics,
            files: lowered.files,
            tls_names: lowered.tls_names,
            concerns,
        },
        Err(errors) => Compiled {
            diagnostics: errors.into_iter().chain(diagnostics).collect(),
            concerns,
            ..Compiled::default()
        },
    }
}

/// Declares one rule of a backend: `backend_rule!("kubernetes", "no-spread", Warning, "summary")`.
/// Its document is `rules/<name>.md` beside the file that declares it.
macro_rules! backend_rule {
    ($backend:literal, $name:literal, $severity:ident, $summary:literal) => {
        $crate::backend::Rule {
            id: concat!($backend, "/", $name),
            severity: $crate::diagnostic::Severity::$severity,
            summary: $summary,
            doc: include_str!(concat!("rules/", $name, ".md")),
        }
    };
}
pub(crate) use backend_rule;

/// The rule `<backend>/<name>` among a backend's `rules`; a missing one is a bug of ours.
pub fn rule_named(rules: &'static [Rule], backend: &str, name: &str) -> &'static Rule {
    rules
        .iter()
        .find(|r| {
            r.id.strip_prefix(backend)
                .and_then(|rest| rest.strip_prefix('/'))
                == Some(name)
        })
        .expect("rule is declared in RULES")
}
