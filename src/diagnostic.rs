//! Diagnostics as values (cargo-deny's model): built by the parser, the resolver and the rules,
//! rendered once at the end as codespan-reporting text or as JSON.

use crate::source::{Sources, Span};
use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::term;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// A rule that fired but was lifted by `[[allow]]`; it neither fails nor warns.
    Allowed,
}

/// Whether a diagnostic is about the input (exit 2) or a safety rule (exit 1 at error severity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Input,
    Rule,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub code: String,
    pub origin: Origin,
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    pub label: String,
    pub help: Option<String>,
    /// The `[[allow]]` reason when a rule was lifted.
    pub allowed_because: Option<String>,
}

impl Diagnostic {
    /// An invalid-input error; `code` names its kind, for example `spec/unknown-key`.
    pub fn input(code: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.to_string(),
            origin: Origin::Input,
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            allowed_because: None,
        }
    }

    pub fn at(mut self, span: Option<Span>, label: impl Into<String>) -> Self {
        self.span = span;
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_input_error(&self) -> bool {
        self.origin == Origin::Input && self.severity == Severity::Error
    }

    pub fn is_rule_error(&self) -> bool {
        self.origin == Origin::Rule && self.severity == Severity::Error
    }
}

/// The process exit code for a set of diagnostics: 2 invalid input, 1 refused by a rule, 0 done.
pub fn exit_code(diagnostics: &[Diagnostic]) -> i32 {
    if diagnostics.iter().any(Diagnostic::is_input_error) {
        2
    } else if diagnostics.iter().any(Diagnostic::is_rule_error) {
        1
    } else {
        0
    }
}

/// Renders diagnostics as `error[CODE]: message` with a `┌─ file:line:column` pointer and a help line.
pub fn render_human(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    let config = term::Config::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut report = match diagnostic.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
            Severity::Allowed => Report::note(),
        }
        .with_code(diagnostic.code.clone())
        .with_message(&diagnostic.message);
        if let Some(span) = &diagnostic.span {
            report = report.with_labels(vec![
                Label::primary(span.file, span.range.clone()).with_message(&diagnostic.label),
            ]);
        }
        let mut notes = Vec::new();
        if let Some(reason) = &diagnostic.allowed_because {
            notes.push(format!("allowed by `[[allow]]`: {reason}"));
        }
        if let Some(help) = &diagnostic.help {
            notes.push(format!("help: {help}"));
        }
        report = report.with_notes(notes);
        match term::emit_into_string(&config, sources.files(), &report) {
            Ok(text) => out.push_str(&text),
            // A span outside its file is a bug of ours; still show the message itself.
            Err(_) => out.push_str(&format!(
                "{}[{}]: {}\n",
                severity_word(diagnostic.severity),
                diagnostic.code,
                diagnostic.message
            )),
        }
    }
    out
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Allowed => "note",
    }
}

#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'a str,
    pub origin: Origin,
    pub severity: Severity,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<&'a str>,
    pub allowed_because: Option<&'a str>,
}

pub fn to_json<'a>(diagnostic: &'a Diagnostic, sources: &'a Sources) -> JsonDiagnostic<'a> {
    let location = diagnostic
        .span
        .as_ref()
        .map(|span| (sources.name(span.file), sources.line_column(span)));
    JsonDiagnostic {
        code: &diagnostic.code,
        origin: diagnostic.origin,
        severity: diagnostic.severity,
        message: &diagnostic.message,
        file: location.map(|(file, _)| file),
        line: location.map(|(_, (line, _))| line),
        column: location.map(|(_, (_, column))| column),
        help: diagnostic.help.as_deref(),
        allowed_because: diagnostic.allowed_because.as_deref(),
    }
}

/// The closest candidate to `word`, for "did you mean" hints.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

impl From<Diagnostic> for Vec<Diagnostic> {
    fn from(diagnostic: Diagnostic) -> Self {
        vec![diagnostic]
    }
}
