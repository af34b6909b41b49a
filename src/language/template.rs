//! Handlebars rendering of the spec's own `{{...}}` strings: strict mode (an undefined variable is
//! an error), HTML escaping off, and the `join LIST SEPARATOR` helper.
//!
//! Every string is rendered exactly once, so a parameter value that contains `{{` stays data.

use crate::engine::diagnostic::Diagnostic;
use crate::language::source::Span;
use crate::model::{Identity, Template};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, TemplateErrorReason,
};
use serde_json::{Map, Value, json};

/// The templates of a backend's scripts (strict, no escaping), compiled on first use, once per
/// process; a backend's [`crate::engine::backend::Backend::prepare`] may compile them ahead.
pub struct ScriptTemplates {
    sources: &'static [(&'static str, &'static str)],
    engine: std::sync::OnceLock<Handlebars<'static>>,
}

impl ScriptTemplates {
    /// Templates by name and source (the backend's `.hbs` files, with `include_str!`).
    pub const fn new(sources: &'static [(&'static str, &'static str)]) -> Self {
        ScriptTemplates {
            sources,
            engine: std::sync::OnceLock::new(),
        }
    }

    pub fn engine(&self) -> &Handlebars<'static> {
        self.engine.get_or_init(|| {
            let mut engine = Handlebars::new();
            engine.set_strict_mode(true);
            engine.register_escape_fn(handlebars::no_escape);
            for (name, source) in self.sources {
                if let Err(e) = engine.register_template_string(name, *source) {
                    panic!("the script template `{name}` of berth is invalid: {e}");
                }
            }
            engine
        })
    }
}

/// The template engine and the context every template sees: `name`, `params`, `port`.
#[derive(Clone, Debug)]
pub struct Templates {
    engine: Handlebars<'static>,
    base: Map<String, Value>,
    /// `base` as the engine takes it, built once for every structural rendering.
    structural: Context,
}

/// A failed rendering: the engine's reason and, when known, the line and column in the template.
#[derive(Debug)]
pub struct TemplateFailure {
    pub reason: String,
    pub help: String,
    pub position: Option<(usize, usize)>,
    /// The undefined variable's path, for a "did you mean".
    pub missing: Option<String>,
}

impl Templates {
    pub fn new(name: &str, params: Map<String, Value>, ports: Map<String, Value>) -> Self {
        let mut engine = Handlebars::new();
        engine.set_strict_mode(true);
        engine.register_escape_fn(handlebars::no_escape);
        engine.register_helper("join", Box::new(text_helper(join)));
        engine.register_helper("add", Box::new(text_helper(add)));
        let mut base = Map::new();
        base.insert("name".into(), Value::String(name.to_string()));
        base.insert("params".into(), Value::Object(params));
        base.insert("port".into(), Value::Object(ports));
        let structural = Context::from(Value::Object(base.clone()));
        Templates {
            engine,
            base,
            structural,
        }
    }

    /// Renders a structural string (`replicas`, `size`, backend options): params only.
    pub fn render_structural(
        &self,
        source: &str,
        span: Option<Span>,
    ) -> Result<String, Diagnostic> {
        self.try_structural(source)
            .map_err(|failure| failure.into_diagnostic(span))
    }

    pub fn try_structural(&self, source: &str) -> Result<String, TemplateFailure> {
        self.render_with(source, &self.structural)
    }

    /// Renders a `[container]` or `[init]` string with `self`, `peers` and `peer_hosts`.
    pub fn render_member(
        &self,
        template: &Template,
        identity: &Identity,
    ) -> Result<String, Diagnostic> {
        self.try_member(&template.source, identity)
            .map_err(|failure| failure.into_diagnostic(template.span.clone()))
    }

    pub fn try_member(&self, source: &str, identity: &Identity) -> Result<String, TemplateFailure> {
        if !source.contains("{{") {
            return Ok(source.to_string());
        }
        let context = identity.context.get_or_init(|| {
            let mut context = self.base.clone();
            if let Some(me) = identity.me {
                context.insert("self".into(), json!(me));
            }
            context.insert("peers".into(), json!(identity.peers));
            let hosts: Vec<&str> = identity.peers.iter().map(|p| p.host.as_str()).collect();
            context.insert("peer_hosts".into(), json!(hosts));
            Context::from(Value::Object(context))
        });
        self.render_with(source, context)
    }

    /// Compiles a template once, so rendering it for every member and backend only evaluates it.
    /// The template's own text is its name in the registry.
    pub fn precompile(&mut self, source: &str) -> Result<(), TemplateFailure> {
        if source.contains("{{") && !self.engine.has_template(source) {
            self.engine
                .register_template_string(source, source)
                .map_err(|e| explain_failure(RenderErrorReason::TemplateError(e).into()))?;
        }
        Ok(())
    }

    fn render_with(&self, source: &str, context: &Context) -> Result<String, TemplateFailure> {
        if !source.contains("{{") {
            return Ok(source.to_string());
        }
        let rendered = if self.engine.has_template(source) {
            self.engine.render_with_context(source, context)
        } else {
            self.engine.render_template_with_context(source, context)
        };
        rendered.map_err(|error| {
            let mut failure = explain_failure(error);
            if let Some(hint) = failure
                .missing
                .as_deref()
                .and_then(|path| did_you_mean(path, context.data()))
            {
                failure.help = hint;
            }
            failure
        })
    }
}

/// "did you mean" for an undefined path whose parent exists: `self.hostname` → `self.host`,
/// `params.versoin` → `params.version`.
fn did_you_mean(path: &str, data: &Value) -> Option<String> {
    let path = path.trim_start_matches("this.");
    let (parent, last) = path.rsplit_once('.')?;
    let mut node = data;
    for key in parent.split('.') {
        node = node.get(key)?;
    }
    let best =
        crate::engine::diagnostic::closest(last, node.as_object()?.keys().map(String::as_str))?;
    Some(format!("did you mean `{parent}.{best}`?"))
}

fn explain_failure(error: RenderError) -> TemplateFailure {
    let mut position = error.line_no.zip(error.column_no);
    let mut missing = None;
    let (reason, help) = match error.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            let root = path
                .trim_start_matches("this.")
                .split(['.', '['])
                .next()
                .unwrap_or("");
            let help = match root {
                "self" => "use `self` only in `[container]` strings; `[init]` and structural keys are not a member (use `peers.[0]` in `[init]`)".to_string(),
                "peers" | "peer_hosts" => "use `peers` only in `[container]` and `[init]` strings, and only indexes below the replica count".to_string(),
                "params" => "declare the parameter under `[params.NAME]` or fix its name".to_string(),
                "port" => "name a port declared under `[[ports]]`".to_string(),
                _ => "use one of `name`, `params.*`, `port.*`, `self`, `peers`, `peer_hosts`".to_string(),
            };
            missing = Some(path.clone());
            (format!("undefined template variable `{path}`"), help)
        }
        RenderErrorReason::TemplateError(inner) => {
            position = position.or(inner.pos());
            // The parser's own words name its grammar rules; say what is wrong instead.
            let unclosed = "close every `{{` with `}}`, or write a literal `{{` as `\\{{`";
            let (reason, help) = match inner.reason() {
                TemplateErrorReason::InvalidSyntax(_) => (
                    "an expression is not closed: every `{{` needs its `}}`".to_string(),
                    unclosed.to_string(),
                ),
                TemplateErrorReason::MismatchingClosedHelper(open, close) => (
                    format!("block `{{{{#{open}}}}}` is closed by `{{{{/{close}}}}}`"),
                    format!("close `{{{{#{open}}}}}` with `{{{{/{open}}}}}`"),
                ),
                other => (other.to_string(), unclosed.to_string()),
            };
            (format!("invalid template: {reason}"), help)
        }
        RenderErrorReason::HelperNotFound(name) => (
            format!("unknown template helper `{name}`"),
            "use `join LIST SEPARATOR` or a built-in handlebars helper".to_string(),
        ),
        other => (
            format!("template failed: {other}"),
            "check the expression against the template context in docs/spec.md".to_string(),
        ),
    };
    TemplateFailure {
        reason,
        help,
        position,
        missing,
    }
}

impl TemplateFailure {
    pub fn into_diagnostic(self, span: Option<Span>) -> Diagnostic {
        let code = if self.reason.starts_with("undefined") {
            "spec/undefined-variable"
        } else {
            "spec/invalid-template"
        };
        Diagnostic::input(code, self.reason)
            .at(span, "in this template")
            .help(self.help)
    }
}

/// A helper made of a function from its parameters to the text it writes.
fn text_helper(
    write: fn(&Helper) -> Result<String, RenderErrorReason>,
) -> impl HelperDef + Send + Sync {
    move |helper: &Helper,
          _: &Handlebars,
          _: &Context,
          _: &mut RenderContext,
          out: &mut dyn Output|
          -> HelperResult {
        out.write(&write(helper)?)?;
        Ok(())
    }
}

/// `{{add A B}}`: the sum of two integers, or of integers written as strings (`self.ordinal`):
/// `{{add self.ordinal 1}}` counts members from 1, as ZooKeeper's and Kafka's ids do.
fn add(helper: &Helper) -> Result<String, RenderErrorReason> {
    let integer = |index: usize| -> Result<i64, RenderErrorReason> {
        let param = helper
            .param(index)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("add", index))?;
        match param.value() {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            RenderErrorReason::Other(
                "`add` needs integers; on Kubernetes and Cloud Foundry `self.ordinal` is known only once the member runs, so it cannot be added to".into(),
            )
        })
    };
    Ok((integer(0)? + integer(1)?).to_string())
}

/// `{{join LIST "SEP"}}`: the items of a list of strings or numbers, separated by SEP.
fn join(helper: &Helper) -> Result<String, RenderErrorReason> {
    let list = helper
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("join", 0))?;
    let separator = helper
        .param(1)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("join", 1))?;
    let items = list
        .value()
        .as_array()
        .ok_or(RenderErrorReason::InvalidParamType(
            "list (for example `peer_hosts`)",
        ))?;
    let mut rendered = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => rendered.push(s.clone()),
            Value::Number(n) => rendered.push(n.to_string()),
            Value::Bool(b) => rendered.push(b.to_string()),
            _ => {
                return Err(RenderErrorReason::InvalidParamType(
                    "list of strings (use `peer_hosts`, not `peers`)",
                ));
            }
        }
    }
    Ok(rendered.join(separator))
}
