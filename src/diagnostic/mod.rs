//! Diagnostics as values (cargo-deny's model): built by the parser, the resolver and the rules,
//! rendered once at the end as codespan-reporting text or as JSON. The bottom of the pipeline:
//! with the input errors ([`errors`]) and the spans they point at ([`source`]), it uses no other
//! part of berth.

pub mod errors;
pub mod rule;
pub mod source;

pub use rule::{Allowances, Rule};

use crate::errors::InputError;
use crate::source::{Sources, Span, visible};
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
    /// berth itself failed: a bug to report, not a mistake in the input.
    Bug,
}

#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Where values in the span came from (a parameter's `--set`, `--values` or default), with
    /// a pointer to that place.
    pub origins: Vec<(String, Option<Span>)>,
}

impl Diagnostic {
    /// An invalid-input error of kind `error`, or a warning if that kind is one.
    pub fn input(error: &'static InputError, message: impl Into<String>) -> Self {
        use crate::errors::Kind;
        Diagnostic {
            code: error.id.to_string(),
            origin: if error.kind == Kind::Bug {
                Origin::Bug
            } else {
                Origin::Input
            },
            severity: if error.kind == Kind::Warning {
                Severity::Warning
            } else {
                Severity::Error
            },
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            allowed_because: None,
            origins: Vec::new(),
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

/// The process exit code for a set of diagnostics: 70 a bug of berth's (`EX_SOFTWARE`), 2 invalid
/// input, 1 refused by a rule, 0 done.
pub fn exit_code(diagnostics: &[Diagnostic]) -> i32 {
    if diagnostics.iter().any(|d| d.origin == Origin::Bug) {
        70
    } else if diagnostics.iter().any(Diagnostic::is_input_error) {
        2
    } else if diagnostics.iter().any(Diagnostic::is_rule_error) {
        1
    } else {
        0
    }
}

/// Renders diagnostics as `error[CODE]: message` with a `┌─ file:line:column` pointer and a help line.
pub fn render_human(diagnostics: &[Diagnostic], sources: &Sources) -> String {
    render(diagnostics, sources, false)
}

/// Renders diagnostics, with ANSI colours when `color`.
pub fn render(diagnostics: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let config = term::Config::default();
    // What the terminal shows, never what it would act on: a value or a spec can hold escapes.
    let files = sources.shown_files();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut report = match diagnostic.severity {
            Severity::Error => Report::error(),
            Severity::Warning => Report::warning(),
            Severity::Allowed => Report::note(),
        }
        .with_code(diagnostic.code.clone())
        .with_message(visible(&diagnostic.message));
        let mut labels = Vec::new();
        if let Some(span) = &diagnostic.span {
            labels.push(
                Label::primary(span.file, span.range.clone())
                    .with_message(visible(&diagnostic.label)),
            );
        }
        for (what, span) in &diagnostic.origins {
            if let Some(span) = span {
                labels.push(
                    Label::secondary(span.file, span.range.clone()).with_message(visible(what)),
                );
            }
        }
        report = report.with_labels(labels);
        let mut notes: Vec<String> = diagnostic
            .origins
            .iter()
            .map(|(what, _)| format!("note: {what}"))
            .collect();
        if let Some(reason) = &diagnostic.allowed_because {
            notes.push(format!("allowed by `[[allow]]`: {reason}"));
        }
        if let Some(help) = &diagnostic.help {
            notes.push(format!("help: {help}"));
        }
        report = report.with_notes(notes.iter().map(|n| visible(n).into_owned()).collect());
        let mut buffer = if color {
            term::termcolor::Buffer::ansi()
        } else {
            term::termcolor::Buffer::no_color()
        };
        match term::emit_to_write_style(&mut buffer, &config, files.as_ref(), &report) {
            Ok(()) => out.push_str(&String::from_utf8_lossy(buffer.as_slice())),
            // A span outside its file is a bug of ours; still show the message itself.
            Err(_) => out.push_str(&format!(
                "{}[{}]: {}\n",
                severity_word(diagnostic.severity),
                diagnostic.code,
                visible(&diagnostic.message)
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

/// A diagnostic in JSON (`--format json` and the report); fields in alphabetical order.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub allowed_because: Option<&'a str>,
    pub code: &'a str,
    pub column: Option<usize>,
    pub file: Option<&'a str>,
    pub help: Option<&'a str>,
    pub line: Option<usize>,
    pub message: &'a str,
    pub origin: Origin,
    pub severity: Severity,
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
