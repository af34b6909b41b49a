//! Resolves a parsed [`Spec`] against its parameters into the backend-neutral [`Service`]:
//! renders structural templates, checks every value's type and range, validates names, and
//! renders each `[container]`/`[init]` template once with a probe identity so that an undefined
//! variable is reported here, at its location, whatever backend is chosen.

use berth_diagnostic::errors;
use berth_diagnostic::source::{FileId, Span};
use berth_diagnostic::{Diagnostic, closest};
use berth_language::names::{self, absolute_path, dns_label, dns_name, port_name};
use berth_language::params::{self, Override};
use berth_language::quantity::{
    MIN_CPU, MIN_MEMORY, MIN_VOLUME, at_least, parse_duration, parse_quantity,
};
use berth_language::read;
use berth_language::spec::{self, SString, SValue, Spec, backticked};
use berth_language::template::{TemplateFailure, Templates};
use berth_model::*;
use std::collections::{BTreeMap, BTreeSet};

mod files;
mod health;
mod identity;
mod members;
mod membership;
mod meta;
mod network;
mod process;
mod replication;
mod storage;
mod tls;

/// What a resolution needs to know about the rest of the program.
pub struct Context<'a> {
    /// Names of the backends that exist, for `[backends.NAME]`.
    pub backends: &'a [&'a str],
    /// Ids of every rule, for `[[allow]]`.
    pub rules: &'a [&'a str],
    /// The spec's directory, where `[[files]] source` paths start.
    pub spec_dir: &'a std::path::Path,
    /// Folders outside `spec_dir` that `source` may read from, as the user named them.
    pub allow_read: &'a [std::path::PathBuf],
}

/// The service, and warnings about the input that did not refuse it.
pub fn resolve(
    spec: Spec,
    file: FileId,
    source: &str,
    overrides: &[Override],
    context: &Context,
) -> Result<(Service, Vec<Diagnostic>), Refused> {
    let mut r = Resolver {
        file,
        source,
        diagnostics: Vec::new(),
        templates: Templates::new("", Default::default(), Default::default()),
        warnings: Vec::new(),
        feeds: BTreeMap::new(),
        sources: Vec::new(),
    };
    let (params, param_origins) =
        params::resolve(&spec.params, overrides, file, &mut r.diagnostics);
    if !r.diagnostics.is_empty() {
        return Err(Refused {
            diagnostics: r.diagnostics,
            param_origins,
        });
    }
    let (name, ports) = r.name_and_ports(&spec, params);
    let replication = r.replication(spec.replication.as_ref(), spec.tls.is_some());
    let volumes = r.volumes(&spec.volumes);
    let health = r.health(spec.health.as_ref(), &ports, replication.replicas.value);
    let resources = spec.resources.as_ref().map(|res| r.resources(res));
    let stop_grace = r.stop_grace(spec.lifecycle.as_ref());
    let container = r.container(&spec.container);
    let files = r.files(&spec.files, context);
    let init = spec.init.as_ref().map(|init| r.init(init, &container));
    let tls = spec.tls.as_ref().map(|tls| r.tls(tls));
    let membership = spec.membership.as_ref().map(|m| r.membership(m));
    let network = r.network(spec.network.as_ref());
    let allow = r.allow(&spec.allow, context.rules);
    let backend_options = r.backend_tables(&spec.backends, context.backends);
    let targets = spec
        .targets
        .as_ref()
        .map(|t| r.targets(t, context.backends));

    if r.diagnostics.is_empty() {
        r.check_member_templates(
            &container,
            &files,
            init.as_ref(),
            &name,
            replication.replicas.value,
            &ports,
        );
        r.check_external_volumes(&volumes, &name, replication.replicas.value);
        r.check_aliases(&network, &name, replication.replicas.value);
        if let Some(membership) = &membership {
            r.check_membership_templates(membership, &name, replication.replicas.value);
        }
    }
    if !r.diagnostics.is_empty() {
        return Err(Refused {
            diagnostics: r.diagnostics,
            param_origins,
        });
    }
    let warnings = std::mem::take(&mut r.warnings);
    let parameters = params::declared(&spec.params);
    let parameter_feeds = std::mem::take(&mut r.feeds);
    let structural_sources = std::mem::take(&mut r.sources);
    let service = Service {
        name: Located::new(name, r.span(spec.name.span())),
        description: spec.description,
        container,
        ports,
        volumes,
        files,
        network,
        replication,
        health,
        resources,
        stop_grace,
        init,
        membership,
        tls,
        allow,
        targets,
        templates: r.templates,
        param_origins,
        parameters,
        parameter_feeds,
        structural_sources,
        backend_options,
    };
    Ok((service, warnings))
}

impl Resolver<'_> {
    /// The service's name and ports, each made available to the templates after it: `name` may
    /// come from a parameter but cannot refer to itself, and the ports may use the name.
    fn name_and_ports(
        &mut self,
        spec: &Spec,
        params: serde_json::Map<String, serde_json::Value>,
    ) -> (String, Vec<Port>) {
        self.templates = Templates::new("", params.clone(), Default::default());
        let name = self.name(&spec.name);
        self.templates = Templates::new(&name, params.clone(), Default::default());
        let ports = self.ports(&spec.ports);
        let port_numbers = ports
            .iter()
            .map(|p| (p.name.clone(), serde_json::Value::from(p.port)))
            .collect();
        self.templates = Templates::new(&name, params, port_numbers);
        (name, ports)
    }

    fn stop_grace(&mut self, lifecycle: Option<&toml::Spanned<spec::Lifecycle>>) -> Located<u64> {
        let Some(grace) = lifecycle.and_then(|l| l.get_ref().stop_grace.as_ref()) else {
            return Located::new(60, None);
        };
        let seconds = self
            .string(grace, "lifecycle.stop_grace")
            .and_then(|text| self.parsed(grace, "lifecycle.stop_grace", parse_duration(&text)));
        Located::new(seconds.unwrap_or(60), self.span(grace.span()))
    }
}

/// Why a spec was refused, and where each parameter's value came from, so that an error about a
/// value that came through a parameter can say so.
#[derive(Debug)]
pub struct Refused {
    pub diagnostics: Vec<Diagnostic>,
    pub param_origins: BTreeMap<String, berth_language::params::ParamOrigin>,
}

struct Resolver<'a> {
    file: FileId,
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
    templates: Templates,
    /// Warnings about the input, which do not refuse the spec.
    warnings: Vec<Diagnostic>,
    /// By parameter, the structural keys its value may reach.
    feeds: BTreeMap<String, BTreeSet<String>>,
    /// The structural templates that read parameters.
    sources: Vec<StructuralSource>,
}

impl Resolver<'_> {
    fn span(&self, range: std::ops::Range<usize>) -> Option<Span> {
        Some(Span::new(self.file, range))
    }

    fn error(
        &mut self,
        code: &'static errors::InputError,
        range: std::ops::Range<usize>,
        message: String,
        label: &str,
        help: String,
    ) {
        let diagnostic = Diagnostic::input(code, message)
            .at(self.span(range), label)
            .help(help);
        self.diagnostics.push(diagnostic);
    }

    /// Points a template failure at the expression inside the string when the string has no
    /// escapes (so template offsets equal source offsets), else at the whole string.
    fn template_error(
        &mut self,
        range: std::ops::Range<usize>,
        value: &str,
        failure: TemplateFailure,
    ) {
        let mut span = range.clone();
        let raw = self.source.get(range.clone()).unwrap_or("");
        if let (Some((line, column)), true) = (failure.position, raw.len() == value.len() + 2) {
            let line_start: usize = value
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            let at = (line_start + column.saturating_sub(1)).min(value.len());
            let start = range.start + 1 + at;
            let end = value[at..]
                .find("}}")
                .map(|i| start + i + 2)
                .unwrap_or(range.end - 1);
            span = start..end.max(start + 1);
        } else if let Some(pos) = value.find("{{").filter(|_| raw.len() == value.len() + 2) {
            span = range.start + 1 + pos..range.end - 1;
        }
        self.diagnostics
            .push(failure.into_diagnostic(self.span(span)));
    }

    /// Renders a structural template at `span`, noting which parameters reach `key`, and the
    /// template itself where it has an action (it may read `name` and `port` too).
    fn structural(
        &mut self,
        source: &str,
        key: &str,
        span: std::ops::Range<usize>,
    ) -> Result<String, TemplateFailure> {
        let mentioned = params::mentioned(source, self.templates.param_names());
        for name in &mentioned {
            let keys = self.feeds.entry(name.to_string()).or_default();
            keys.insert(key.to_string());
        }
        if source.contains("{{") {
            self.sources.push(StructuralSource {
                key: key.to_string(),
                span: Span::new(self.file, span),
                template: source.to_string(),
            });
        }
        self.templates.try_structural(source)
    }

    /// A structural string: rendered with params only.
    fn string(&mut self, s: &SString, key: &str) -> Option<String> {
        match self.structural(s.get_ref(), key, s.span()) {
            Ok(text) => Some(text),
            Err(failure) => {
                self.template_error(s.span(), s.get_ref(), failure);
                None
            }
        }
    }

    fn parsed<T>(&mut self, s: &SString, key: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                let help = if message.contains("duration") || message.contains("seconds") {
                    format!("write `{key}` as a duration such as `30s`, `2m` or `1m30s`")
                } else if key.contains("cpu") {
                    format!("write `{key}` as a number of cores such as `2`, `1.5` or `500m`")
                } else {
                    format!("write `{key}` as a Kubernetes quantity such as `10Gi` or `512Mi`")
                };
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    s.span(),
                    format!("invalid `{key}`: {message}"),
                    "invalid value",
                    help,
                );
                None
            }
        }
    }

    /// An integer, written as a TOML integer or as a template that renders to one.
    fn integer(&mut self, v: &SValue, key: &str, min: i64, max: i64) -> Option<i64> {
        let (value, shown) = match v.get_ref() {
            toml::Value::Integer(i) => (Some(*i), i.to_string()),
            toml::Value::String(s) => {
                let rendered = match self.structural(s, key, v.span()) {
                    Ok(text) => text,
                    Err(failure) => {
                        self.template_error(v.span(), s, failure);
                        return None;
                    }
                };
                (rendered.trim().parse().ok(), rendered)
            }
            other => (None, other.to_string()),
        };
        match value {
            Some(i) if (min..=max).contains(&i) => Some(i),
            Some(i) => {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    v.span(),
                    format!("`{key}` is {i}, outside {min}..={max}"),
                    "out of range",
                    format!("set `{key}` between {min} and {max}"),
                );
                None
            }
            None => {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    v.span(),
                    format!("`{key}` must be an integer, got `{shown}`"),
                    "not an integer",
                    format!("write `{key}` as an integer or a template rendering to one"),
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &SValue, key: &str) -> Option<bool> {
        let shown = match v.get_ref() {
            toml::Value::Boolean(b) => return Some(*b),
            toml::Value::String(s) => match self.structural(s, key, v.span()) {
                Ok(text) => text,
                Err(failure) => {
                    self.template_error(v.span(), s, failure);
                    return None;
                }
            },
            other => other.to_string(),
        };
        match shown.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    v.span(),
                    format!("`{key}` must be true or false, got `{shown}`"),
                    "not a boolean",
                    format!("write `{key} = true` or `{key} = false`"),
                );
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, s: &SString, key: &str, options: &[(&str, T)]) -> Option<T> {
        let text = self.string(s, key)?;
        if let Some((_, value)) = options.iter().find(|(word, _)| *word == text) {
            return Some(*value);
        }
        let words: Vec<&str> = options.iter().map(|(w, _)| *w).collect();
        let help = match closest(&text, words.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("use one of {}", backticked(&words)),
        };
        self.error(
            &errors::SPEC_INVALID_VALUE,
            s.span(),
            format!("`{key}` is `{text}`, not one of {}", backticked(&words)),
            "unknown value",
            help,
        );
        None
    }

    fn template(&self, s: &SString) -> Template {
        Template {
            source: s.get_ref().clone(),
            span: self.span(s.span()),
        }
    }
}
