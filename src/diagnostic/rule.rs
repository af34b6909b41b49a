//! A safety rule as a value: a stable id (`kubernetes/ordered-ready-deadlock`), a severity, a
//! one-line summary and the Markdown document that `berth explain ID` prints. Every crate with
//! rules declares them from its `rules/*.md` ([`rules!`](crate::rules), `build/rules.rs`).

use crate::source::Span;
use crate::{Diagnostic, Origin, Severity};

pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub doc: &'static str,
}

/// What lifts a rule to [`Severity::Allowed`]: a spec's `[[allow]]` entries, by rule id.
pub trait Allowances {
    /// The reason the spec gives for allowing `rule`, if it does.
    fn allowed_because(&self, rule: &str) -> Option<&str>;
}

impl Rule {
    /// A diagnostic for this rule, lifted to [`Severity::Allowed`] when the spec allows it.
    pub fn fire(
        &self,
        spec: &impl Allowances,
        span: Option<Span>,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Diagnostic {
        let allowed = spec.allowed_because(self.id);
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
            allowed_because: allowed.map(str::to_string),
            origins: Vec::new(),
        }
    }

    /// A finding of this rule about a file that is not a spec (`berth import`'s Compose file),
    /// where no `[[allow]]` can lift it.
    pub fn report(
        &self,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code: self.id.to_string(),
            origin: Origin::Rule,
            severity: self.severity,
            message: message.into(),
            span: Some(span),
            label: label.into(),
            help: Some(help.into()),
            allowed_because: None,
            origins: Vec::new(),
        }
    }
}

/// Declares the calling crate's rules, one static each, and `RULES` and `BACKEND` (the ids'
/// prefix), from what `build/rules.rs` made of its `rules/*.md`.
#[macro_export]
macro_rules! rules {
    () => {
        include!(concat!(env!("OUT_DIR"), "/rules.rs"));
    };
}
