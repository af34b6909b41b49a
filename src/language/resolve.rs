//! Resolves a parsed [`Spec`] against its parameters into the backend-neutral [`Service`]:
//! renders structural templates, checks every value's type and range, validates names, and
//! renders each `[container]`/`[init]` template once with a probe identity so that an undefined
//! variable is reported here, at its location, whatever backend is chosen.

use crate::engine::diagnostic::{Diagnostic, closest};
use crate::engine::errors;
use crate::language::params::{self, Override};
use crate::language::quantity::{
    MIN_CPU, MIN_MEMORY, MIN_VOLUME, at_least, parse_duration, parse_quantity,
};
use crate::language::source::{FileId, Span};
use crate::language::spec::{self, SString, SValue, Spec, backticked};
use crate::language::template::{TemplateFailure, Templates};
use crate::language::{names, read};
use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};

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
    };
    let (params, param_origins) =
        params::resolve(&spec.params, overrides, file, &mut r.diagnostics);
    if !r.diagnostics.is_empty() {
        return Err(Refused {
            diagnostics: r.diagnostics,
            param_origins,
        });
    }
    // `name` may come from a parameter; it cannot refer to itself.
    r.templates = Templates::new("", params.clone(), Default::default());
    let name = r.name(&spec.name);
    r.templates = Templates::new(&name, params.clone(), Default::default());
    let ports = r.ports(&spec.ports);
    let port_numbers = ports
        .iter()
        .map(|p| (p.name.clone(), serde_json::Value::from(p.port)))
        .collect();
    r.templates = Templates::new(&name, params, port_numbers);

    let replication = r.replication(spec.replication.as_ref());
    let volumes = r.volumes(&spec.volumes);
    let health = r.health(spec.health.as_ref(), &ports, replication.replicas.value);
    let resources = spec.resources.as_ref().map(|res| r.resources(res));
    let stop_grace = match spec
        .lifecycle
        .as_ref()
        .and_then(|l| l.get_ref().stop_grace.as_ref())
    {
        Some(grace) => {
            let seconds = r
                .string(grace, "lifecycle.stop_grace")
                .and_then(|text| r.parsed(grace, "lifecycle.stop_grace", parse_duration(&text)));
            Located::new(seconds.unwrap_or(60), r.span(grace.span()))
        }
        None => Located::new(60, None),
    };
    let container = r.container(&spec.container);
    let files = r.files(&spec.files, context);
    let init = spec.init.as_ref().map(|init| r.init(init, container.shell));
    let tls = spec.tls.as_ref().map(|tls| r.tls(tls));
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
        );
    }
    if !r.diagnostics.is_empty() {
        return Err(Refused {
            diagnostics: r.diagnostics,
            param_origins,
        });
    }
    let warnings = std::mem::take(&mut r.warnings);
    let service = Service {
        name: Located::new(name, r.span(spec.name.span())),
        description: spec.description,
        container,
        ports,
        volumes,
        files,
        replication,
        health,
        resources,
        stop_grace,
        init,
        tls,
        allow,
        targets,
        templates: r.templates,
        param_origins,
        backend_options,
    };
    Ok((service, warnings))
}

/// Why a spec was refused, and where each parameter's value came from, so that an error about a
/// value that came through a parameter can say so.
#[derive(Debug)]
pub struct Refused {
    pub diagnostics: Vec<Diagnostic>,
    pub param_origins: BTreeMap<String, crate::language::params::ParamOrigin>,
}

struct Resolver<'a> {
    file: FileId,
    source: &'a str,
    diagnostics: Vec<Diagnostic>,
    templates: Templates,
    /// Warnings about the input, which do not refuse the spec.
    warnings: Vec<Diagnostic>,
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

    /// A structural string: rendered with params only.
    fn string(&mut self, s: &SString, _key: &str) -> Option<String> {
        match self.templates.try_structural(s.get_ref()) {
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
                } else {
                    format!(
                        "write `{key}` as a Kubernetes quantity such as `10Gi`, `512Mi`, `2` or `500m`"
                    )
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
                let rendered = match self.templates.try_structural(s) {
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
            toml::Value::String(s) => match self.templates.try_structural(s) {
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

    fn name(&mut self, s: &SString) -> String {
        let name = self.string(s, "name").unwrap_or_default();
        if let Err(why) = dns_label(&name, 52) {
            self.error(&errors::SPEC_INVALID_NAME, s.span(), format!("`name` `{name}` {why}"), "invalid name", "use lowercase letters, digits and `-`, starting with a letter, at most 52 characters (a StatefulSet name must leave room for its revision hash label)".to_string());
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            self.error(
                &errors::SPEC_INVALID_NAME,
                s.span(),
                format!("`name` `{name}` must start with a letter"),
                "invalid name",
                "start the name with a lowercase letter: it becomes host names and DNS labels"
                    .to_string(),
            );
        }
        name
    }

    fn ports(&mut self, ports: &[toml::Spanned<spec::Port>]) -> Vec<Port> {
        let mut seen_names = BTreeSet::new();
        let mut seen_numbers = BTreeSet::new();
        let mut out = Vec::new();
        for spanned in ports {
            let p = spanned.get_ref();
            let name = self.string(&p.name, "ports.name").unwrap_or_default();
            if let Err(why) = port_name(&name) {
                self.error(&errors::SPEC_INVALID_NAME, p.name.span(), format!("port name `{name}` {why}"), "invalid port name", "use at most 15 lowercase letters, digits and single `-`, with at least one letter (an IANA service name)".to_string());
            }
            if !seen_names.insert(name.clone()) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    p.name.span(),
                    format!("port `{name}` is declared twice"),
                    "duplicate",
                    "give each port its own name".to_string(),
                );
            }
            let number = self.integer(&p.port, "ports.port", 1, 65535).unwrap_or(1) as u16;
            let protocol = p
                .protocol
                .as_ref()
                .and_then(|s| {
                    self.choice(
                        s,
                        "ports.protocol",
                        &[("tcp", Protocol::Tcp), ("udp", Protocol::Udp)],
                    )
                })
                .unwrap_or(Protocol::Tcp);
            if !seen_numbers.insert((number, protocol == Protocol::Tcp)) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    p.port.span(),
                    format!("port number {number} is declared twice"),
                    "duplicate",
                    "give each port its own number".to_string(),
                );
            }
            let expose = p
                .expose
                .as_ref()
                .and_then(|s| {
                    self.choice(
                        s,
                        "ports.expose",
                        &[("public", Expose::Public), ("peers", Expose::Peers)],
                    )
                })
                .unwrap_or(Expose::Public);
            out.push(Port {
                name,
                port: number,
                protocol,
                expose,
                span: self.span(spanned.span()),
            });
        }
        out
    }

    fn replication(
        &mut self,
        replication: Option<&toml::Spanned<spec::Replication>>,
    ) -> Replication {
        let none = spec::Replication {
            replicas: None,
            quorum: None,
            spread: None,
            start: None,
            discovery: None,
        };
        let (rep, table_span) = match replication {
            Some(r) => (r.get_ref(), self.span(r.span())),
            None => (&none, None),
        };
        let replicas = match &rep.replicas {
            Some(v) => Located::new(
                self.integer(v, "replication.replicas", 1, 1000)
                    .unwrap_or(1) as u32,
                self.span(v.span()),
            ),
            None => Located::new(1, table_span.clone()),
        };
        let quorum = match &rep.quorum {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.quorum",
                    &[("majority", Quorum::Majority), ("none", Quorum::None)],
                )
                .unwrap_or(Quorum::None),
                self.span(s.span()),
            ),
            None => Located::new(Quorum::None, table_span.clone()),
        };
        let default_spread = if replicas.value > 1 {
            Spread::Required
        } else {
            Spread::None
        };
        let spread = match &rep.spread {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.spread",
                    &[
                        ("required", Spread::Required),
                        ("preferred", Spread::Preferred),
                        ("none", Spread::None),
                    ],
                )
                .unwrap_or(default_spread),
                self.span(s.span()),
            ),
            None => Located::new(default_spread, table_span.clone()),
        };
        let start = match &rep.start {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.start",
                    &[("parallel", Start::Parallel), ("ordered", Start::Ordered)],
                )
                .unwrap_or(Start::Parallel),
                self.span(s.span()),
            ),
            None => Located::new(Start::Parallel, table_span.clone()),
        };
        let discovery = match &rep.discovery {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.discovery",
                    &[
                        ("retrying", Discovery::Retrying),
                        ("at-start", Discovery::AtStart),
                    ],
                )
                .unwrap_or(Discovery::Retrying),
                self.span(s.span()),
            ),
            None => Located::new(Discovery::Retrying, table_span),
        };
        Replication {
            replicas,
            quorum,
            spread,
            start,
            discovery,
        }
    }

    fn volumes(&mut self, volumes: &[toml::Spanned<spec::Volume>]) -> Vec<Volume> {
        let mut names = BTreeSet::new();
        let mut paths = BTreeSet::new();
        let mut out = Vec::new();
        for spanned in volumes {
            let v = spanned.get_ref();
            let name = self.string(&v.name, "volumes.name").unwrap_or_default();
            if let Err(why) = dns_label(&name, 63) {
                self.error(
                    &errors::SPEC_INVALID_NAME,
                    v.name.span(),
                    format!("volume name `{name}` {why}"),
                    "invalid volume name",
                    "use lowercase letters, digits and `-`".to_string(),
                );
            }
            if !names.insert(name.clone()) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    v.name.span(),
                    format!("volume `{name}` is declared twice"),
                    "duplicate",
                    "give each volume its own name".to_string(),
                );
            }
            let path = self.string(&v.path, "volumes.path").unwrap_or_default();
            if let Err(why) = absolute_path(&path) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    v.path.span(),
                    format!("volume path `{path}` {why}"),
                    "invalid path",
                    "write an absolute path such as `/var/lib/data`".to_string(),
                );
            }
            if !paths.insert(path.clone()) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    v.path.span(),
                    format!("two volumes mount at `{path}`"),
                    "duplicate",
                    "give each volume its own path".to_string(),
                );
            }
            let persistent = v
                .persistent
                .as_ref()
                .and_then(|p| self.boolean(p, "volumes.persistent"))
                .unwrap_or(true);
            let size = match &v.size {
                Some(s) => self.string(s, "volumes.size").and_then(|text| {
                    let bytes = self.parsed(
                        s,
                        "volumes.size",
                        parse_quantity(&text).and_then(|v| at_least(v, MIN_VOLUME)),
                    )?;
                    Some((text, bytes as u128))
                }),
                None if persistent => {
                    self.error(
                        &errors::SPEC_MISSING_KEY,
                        spanned.span(),
                        format!("persistent volume `{name}` has no `size`"),
                        "needs `size`",
                        "add `size = \"10Gi\"` (a Kubernetes quantity)".to_string(),
                    );
                    None
                }
                None => None,
            };
            let class = v
                .class
                .as_ref()
                .and_then(|c| self.string(c, "volumes.class"))
                .filter(|c| !c.is_empty());
            out.push(Volume {
                name,
                path,
                size,
                class,
                persistent,
                span: self.span(spanned.span()),
            });
        }
        out
    }

    fn health(
        &mut self,
        health: Option<&toml::Spanned<spec::Health>>,
        ports: &[Port],
        replicas: u32,
    ) -> Health {
        let Some(health) = health else {
            return Health::default();
        };
        let h = health.get_ref();
        Health {
            liveness: h
                .liveness
                .as_ref()
                .and_then(|c| self.check(c, "health.liveness", ports, replicas)),
            readiness: h
                .readiness
                .as_ref()
                .and_then(|c| self.check(c, "health.readiness", ports, replicas)),
            startup: h
                .startup
                .as_ref()
                .and_then(|c| self.check(c, "health.startup", ports, replicas)),
        }
    }

    fn check(
        &mut self,
        spanned: &toml::Spanned<spec::Check>,
        key: &str,
        ports: &[Port],
        replicas: u32,
    ) -> Option<Check> {
        let c = spanned.get_ref();
        let port_ref = |r: &mut Self, s: &SString, which: &str| -> Option<String> {
            let name = r.string(s, which)?;
            if ports.iter().any(|p| p.name == name) {
                return Some(name);
            }
            let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
            let help = match closest(&name, names.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None if names.is_empty() => "declare the port under `[[ports]]`".to_string(),
                None => format!("name one of {}", backticked(&names)),
            };
            r.error(
                &errors::SPEC_UNKNOWN_PORT,
                s.span(),
                format!("`{which}` names unknown port `{name}`"),
                "no such port",
                help,
            );
            None
        };
        let kinds = [c.http.is_some(), c.tcp.is_some(), c.exec.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if kinds != 1 {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("`{key}` needs exactly one of `http`, `tcp` or `exec`"),
                "ambiguous check",
                "keep exactly one of `http = \"/path\"`, `tcp = \"port\"` or `exec = [...]`"
                    .to_string(),
            );
            return None;
        }
        let action = if let Some(path) = &c.http {
            let path = self.string(path, &format!("{key}.http"))?;
            let Some(port) = &c.port else {
                self.error(
                    &errors::SPEC_MISSING_KEY,
                    spanned.span(),
                    format!("`{key}` has `http` but no `port`"),
                    "needs `port`",
                    "add `port = \"NAME\"` naming one of `[[ports]]`".to_string(),
                );
                return None;
            };
            CheckAction::Http {
                path,
                port: port_ref(self, port, &format!("{key}.port"))?,
            }
        } else if let Some(tcp) = &c.tcp {
            CheckAction::Tcp {
                port: port_ref(self, tcp, &format!("{key}.tcp"))?,
            }
        } else {
            let argv: Vec<String> = c
                .exec
                .iter()
                .flatten()
                .filter_map(|a| self.string(a, &format!("{key}.exec")))
                .collect();
            if argv.is_empty() {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    spanned.span(),
                    format!("`{key}.exec` is empty"),
                    "empty command",
                    "give the command as a list, like `exec = [\"pg_isready\"]`".to_string(),
                );
                return None;
            }
            CheckAction::Exec { argv }
        };
        if let (Some(port), false) = (&c.port, c.http.is_some()) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                port.span(),
                format!("`{key}.port` only goes with `http`"),
                "unused",
                "remove `port`; `tcp` names its port itself".to_string(),
            );
        }
        // A check every 0 s, or one that times out at once, is refused by Kubernetes and
        // means "the default" to Docker: both periods must be at least a second.
        let seconds = |r: &mut Self, s: &Option<SString>, which: &str| {
            let at_least_one = which.ends_with("interval") || which.ends_with("timeout");
            s.as_ref().and_then(|s| {
                r.string(s, which).and_then(|t| {
                    let parsed = parse_duration(&t).and_then(|n| match n {
                        0 if at_least_one => Err("must be at least `1s`".to_string()),
                        n => Ok(n),
                    });
                    r.parsed(s, which, parsed)
                })
            })
        };
        let docker_exec: Option<Vec<String>> = c.docker_exec.as_ref().map(|argv| {
            argv.iter()
                .filter_map(|a| self.string(a, &format!("{key}.docker_exec")))
                .collect()
        });
        if docker_exec.as_ref().is_some_and(Vec::is_empty) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                spanned.span(),
                format!("`{key}.docker_exec` is empty"),
                "empty command",
                "give the command as a list, like `docker_exec = [\"curl\", \"-f\", \"http://127.0.0.1:8080/health\"]`".to_string(),
            );
        }
        let needs_quorum = c
            .needs_quorum
            .as_ref()
            .and_then(|q| self.boolean(q, &format!("{key}.needs_quorum")))
            .unwrap_or(false);
        let said_peers = c
            .needs_peers
            .as_ref()
            .and_then(|q| self.boolean(q, &format!("{key}.needs_peers")));
        if needs_quorum && said_peers == Some(false) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                c.needs_peers.as_ref().map_or(spanned.span(), |p| p.span()),
                format!("`{key}` needs quorum but says `needs_peers = false`"),
                "contradicts `needs_quorum = true`",
                "remove `needs_peers`: a check that needs a majority of the peers needs the peers"
                    .to_string(),
            );
        }
        // Unsaid, a check of a service with peers is taken to need them: the safe side, since a
        // check that needs peers must never gate how the peers find each other.
        let needs_peers = needs_quorum || said_peers.unwrap_or(replicas > 1);
        Some(Check {
            action,
            docker_exec,
            interval: seconds(self, &c.interval, &format!("{key}.interval"))
                .unwrap_or(crate::model::DEFAULT_INTERVAL),
            timeout: seconds(self, &c.timeout, &format!("{key}.timeout"))
                .unwrap_or(crate::model::DEFAULT_TIMEOUT),
            initial_delay: seconds(self, &c.initial_delay, &format!("{key}.initial_delay")),
            failures: c
                .failures
                .as_ref()
                .and_then(|f| self.integer(f, &format!("{key}.failures"), 1, 1000))
                .map(|f| f as u32),
            needs_quorum,
            needs_peers,
            span: self.span(spanned.span()),
        })
    }

    fn resources(&mut self, res: &toml::Spanned<spec::Resources>) -> Located<Resources> {
        let r = res.get_ref();
        let quantity = |me: &mut Self, s: &Option<SString>, key: &str| -> Option<(String, f64)> {
            let s = s.as_ref()?;
            let text = me.string(s, key)?;
            let minimum = if key.contains("cpu") {
                MIN_CPU
            } else {
                MIN_MEMORY
            };
            let value = me.parsed(
                s,
                key,
                parse_quantity(&text).and_then(|v| at_least(v, minimum)),
            )?;
            Some((text, value))
        };
        let cpu = quantity(self, &r.cpu, "resources.cpu");
        let memory = quantity(self, &r.memory, "resources.memory");
        let cpu_limit = quantity(self, &r.cpu_limit, "resources.cpu_limit");
        let memory_limit = quantity(self, &r.memory_limit, "resources.memory_limit");
        for (request, limit, key, s) in [
            (&cpu, &cpu_limit, "cpu", &r.cpu_limit),
            (&memory, &memory_limit, "memory", &r.memory_limit),
        ] {
            if let (Some((_, req)), Some((_, lim)), Some(s)) = (request, limit, s)
                && lim < req
            {
                self.error(&errors::SPEC_INVALID_VALUE, s.span(), format!("`resources.{key}_limit` is below `resources.{key}`"), "limit below request", format!("raise `{key}_limit` to at least `{key}`, or remove it so the limit equals the request"));
            }
        }
        Located::new(
            Resources {
                cpu: cpu.map(|q| q.0),
                memory: memory.map(|q| q.0),
                cpu_limit: cpu_limit.map(|q| q.0),
                memory_limit: memory_limit.map(|q| q.0),
            },
            self.span(res.span()),
        )
    }

    fn template(&self, s: &SString) -> Template {
        Template {
            source: s.get_ref().clone(),
            span: self.span(s.span()),
        }
    }

    fn container(&mut self, container: &toml::Spanned<spec::Container>) -> Container {
        let c = container.get_ref();
        if c.image.get_ref().trim().is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                c.image.span(),
                "`container.image` is empty".to_string(),
                "empty image",
                "name the image, like `postgres:16`".to_string(),
            );
        }
        let mut env = Vec::new();
        for (name, value) in &c.env {
            if !names::env_name(name.get_ref()) {
                self.error(
                    &errors::SPEC_INVALID_NAME,
                    name.span(),
                    format!("env name `{}` is not a name every orchestrator accepts", name.get_ref()),
                    "invalid name",
                    "use letters, digits, `_`, `.` and `-`, not starting with a digit or `-` (Kubernetes' rule for env names, without names that read as options)".to_string(),
                );
            }
            let value_span = self.span(value.span());
            if matches!(value.get_ref(), spec::EnvValue::Secret(_))
                && !names::shell_variable(name.get_ref())
            {
                self.error(
                    &errors::SPEC_INVALID_NAME,
                    name.span(),
                    format!("secret env name `{}` is not a shell variable name", name.get_ref()),
                    "not a variable name",
                    "name a secret variable with letters, digits and `_`, not starting with a digit: run.sh and compose read its value from the caller's environment under that name".to_string(),
                );
            }
            let value = match value.get_ref() {
                spec::EnvValue::Literal(text) => EnvValue::Literal(Template {
                    source: text.clone(),
                    span: value_span.clone(),
                }),
                spec::EnvValue::Secret(s) => {
                    for (what, v) in [("secret", &s.secret), ("key", &s.key)] {
                        if let Err(why) = names::secret_part(v) {
                            self.error(
                                &errors::SPEC_INVALID_VALUE,
                                value.span(),
                                format!("secret reference `{what}` `{v}` {why}"),
                                "invalid secret reference",
                                names::SECRET_PART_HELP.to_string(),
                            );
                        }
                    }
                    EnvValue::Secret {
                        secret: s.secret.clone(),
                        key: s.key.clone(),
                    }
                }
            };
            env.push(EnvVar {
                name: name.get_ref().clone(),
                value,
                span: value_span,
            });
        }
        let user = c
            .user
            .as_ref()
            .and_then(|u| self.integer(u, "container.user", 0, i64::from(u32::MAX)))
            .map(|u| u as u32);
        let shell = c
            .shell
            .as_ref()
            .and_then(|s| self.boolean(s, "container.shell"));
        Container {
            image: self.template(&c.image),
            command: c.command.iter().map(|s| self.template(s)).collect(),
            args: c.args.iter().map(|s| self.template(s)).collect(),
            env,
            user,
            shell,
            span: self.span(container.span()),
        }
    }

    fn init(&mut self, init: &toml::Spanned<spec::Init>, shell: Option<bool>) -> Init {
        let i = init.get_ref();
        if i.command.is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                init.span(),
                "`init.command` is empty".to_string(),
                "empty command",
                "give the bootstrap command as a list of arguments".to_string(),
            );
        }
        let done_output = i.done_output.as_ref().map(|d| d.get_ref().clone());
        if let Some(done) = &i.done_output
            && i.image.is_none()
            && shell == Some(false)
        {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                done.span(),
                "`init.done_output` runs the init command under `/bin/sh`, and `container.shell = false` says the image has none".to_string(),
                "needs a shell",
                "give `[init] image` an image with `/bin/sh`, or remove `done_output`".to_string(),
            );
        }
        if let Some(done) = &i.done_output
            && done.get_ref().trim().is_empty()
        {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                done.span(),
                "`init.done_output` is empty".to_string(),
                "matches any output",
                "give text that only the already-initialized case prints, such as `cluster has already been initialized`".to_string(),
            );
        }
        Init {
            command: i.command.iter().map(|s| self.template(s)).collect(),
            image: i.image.as_ref().map(|s| self.template(s)),
            done_output,
            span: self.span(init.span()),
        }
    }

    fn files(&mut self, files: &[toml::Spanned<spec::File>], context: &Context) -> Vec<File> {
        let mut out: Vec<File> = Vec::new();
        for spanned in files {
            let f = spanned.get_ref();
            let Some(path) = self.string(&f.path, "files.path") else {
                continue;
            };
            if let Err(why) = absolute_path(&path) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    f.path.span(),
                    format!("`files.path` `{path}` {why}"),
                    "invalid path",
                    "write the absolute path inside the container, like `/etc/app/app.conf`"
                        .to_string(),
                );
            }
            if path.chars().any(|c| c == ':' || c == ',' || c.is_control()) {
                self.error(&errors::SPEC_INVALID_VALUE, f.path.span(), format!("`files.path` `{}` has `:`, `,` or a control character, which docker's and Kubernetes' mount syntax cannot carry", path.escape_debug()), "invalid path", "rename the file, or point the software at a path without them".to_string());
            }
            if out.iter().any(|other| other.path == path) {
                self.error(
                    &errors::SPEC_DUPLICATE,
                    f.path.span(),
                    format!("two `[[files]]` are at `{path}`"),
                    "second file here",
                    "give each file its own path, or merge their contents".to_string(),
                );
            }
            let Some(body) = self.file_body(spanned, context) else {
                continue;
            };
            let secret = matches!(body, FileBody::Secret { .. });
            let mode = match &f.mode {
                Some(text) => {
                    let parsed = u32::from_str_radix(text.get_ref(), 8)
                        .ok()
                        .filter(|m| *m <= 0o7777 && !text.get_ref().is_empty());
                    if parsed.is_none() {
                        self.error(&errors::SPEC_INVALID_VALUE, text.span(), format!("`files.mode` `{}` is not an octal mode", text.get_ref()), "not a mode", "write the permissions as an octal string, like `\"0644\"` or `\"0400\"`".to_string());
                    }
                    parsed.unwrap_or(0o644)
                }
                None if secret => 0o400,
                None => 0o644,
            };
            let owner = f
                .owner
                .as_ref()
                .and_then(|o| self.integer(o, "files.owner", 0, i64::from(u32::MAX)))
                .map(|o| o as u32);
            out.push(File {
                path,
                body,
                mode,
                owner,
                span: self.span(spanned.span()),
            });
        }
        out
    }

    /// Exactly one of `content`, `source` (read beside the spec) or `secret` with `key`.
    fn file_body(
        &mut self,
        spanned: &toml::Spanned<spec::File>,
        context: &Context,
    ) -> Option<FileBody> {
        let f = spanned.get_ref();
        let given = [f.content.is_some(), f.source.is_some(), f.secret.is_some()]
            .iter()
            .filter(|g| **g)
            .count();
        if given != 1 {
            self.error(&errors::SPEC_INVALID_VALUE, spanned.span(), format!("a `[[files]]` entry needs exactly one of `content`, `source` and `secret`; this one has {given}"), "one of three", "give the text in `content`, a file beside the spec in `source`, or `secret` and `key`".to_string());
            return None;
        }
        if f.key.is_some() && f.secret.is_none() {
            self.error(
                &errors::SPEC_UNKNOWN_KEY,
                f.key.as_ref().map_or(0..0, |k| k.span()),
                "`files.key` goes with `secret`".to_string(),
                "no secret",
                "remove `key`, or name the `secret` it belongs to".to_string(),
            );
        }
        if let Some(content) = &f.content {
            return Some(FileBody::Content(Template {
                source: content.get_ref().clone(),
                span: self.span(content.span()),
            }));
        }
        if let Some(source) = &f.source {
            return self.source(source, context);
        }
        let secret = f.secret.as_ref()?;
        let Some(key) = &f.key else {
            self.error(
                &errors::SPEC_MISSING_KEY,
                secret.span(),
                "`files.secret` needs `key`: the key within the secret that holds the file"
                    .to_string(),
                "no key",
                "add `key = \"KEY\"`".to_string(),
            );
            return None;
        };
        for (what, v) in [("secret", secret), ("key", key)] {
            if let Err(why) = names::secret_part(v.get_ref()) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    v.span(),
                    format!("`files.{what}` `{}` {why}", v.get_ref()),
                    "invalid name",
                    names::SECRET_PART_HELP.to_string(),
                );
            }
        }
        Some(FileBody::Secret {
            secret: secret.get_ref().clone(),
            key: key.get_ref().clone(),
        })
    }

    /// A `source` file, read by [`read::beside`]'s policy: inside the spec's folder, or in a
    /// folder of `--allow-read` with a warning that names it.
    fn source(&mut self, source: &SString, context: &Context) -> Option<FileBody> {
        match read::beside(context.spec_dir, source.get_ref(), context.allow_read) {
            Ok(read) => {
                if let Some(outside) = read.outside {
                    self.warnings.push(
                        Diagnostic::input(
                            &errors::SPEC_READ_OUTSIDE,
                            format!(
                                "`files.source` read `{}`, outside the spec's folder, as `--allow-read` allows",
                                outside.display()
                            ),
                        )
                        .at(self.span(source.span()), "read from outside"),
                    );
                }
                Some(FileBody::Content(Template {
                    source: read.text,
                    span: self.span(source.span()),
                }))
            }
            Err(refused) => {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    source.span(),
                    format!("`files.source`: {}", refused.message),
                    "not read",
                    refused.help,
                );
                None
            }
        }
    }

    fn tls(&mut self, tls: &toml::Spanned<spec::Tls>) -> Located<Tls> {
        let t = tls.get_ref();
        let secret = self.string(&t.secret, "tls.secret").unwrap_or_default();
        if !dns_name(&secret) || secret.starts_with("*.") {
            self.error(
                &errors::SPEC_INVALID_NAME,
                t.secret.span(),
                format!("`tls.secret` `{}` is not a DNS subdomain name", secret.escape_debug()),
                "invalid name",
                "name the secret with lowercase letters, digits, `-` and `.`, like `db-certs`: it names a Kubernetes Secret, a Docker volume and Swarm secrets".to_string(),
            );
        }
        let path = self.string(&t.path, "tls.path").unwrap_or_default();
        if let Err(why) = absolute_path(&path) {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                t.path.span(),
                format!("`tls.path` `{path}` {why}"),
                "invalid path",
                "write an absolute path such as `/certs`".to_string(),
            );
        }
        let mut extra_names = Vec::new();
        for name in &t.extra_names {
            let Some(text) = self.string(name, "tls.extra_names") else {
                continue;
            };
            // IP addresses are kept so that each backend's rule can refuse them with its own reason.
            if text.parse::<std::net::IpAddr>().is_err() && !dns_name(&text) {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    name.span(),
                    format!("`{text}` is not a DNS name"),
                    "invalid name",
                    "write a DNS name such as `db.example.com` (a leading `*.` is allowed)"
                        .to_string(),
                );
            }
            extra_names.push(Located::new(text, self.span(name.span())));
        }
        Located::new(
            Tls {
                secret,
                path,
                extra_names,
                group: t.group.as_ref().map(|g| *g.get_ref()),
            },
            self.span(tls.span()),
        )
    }

    fn allow(&mut self, allows: &[toml::Spanned<spec::Allow>], rules: &[&str]) -> Vec<Allow> {
        let mut out = Vec::new();
        for a in allows {
            let rule = a.get_ref().rule.get_ref().clone();
            let reason = a.get_ref().reason.get_ref().trim().to_string();
            if let Some(error) = crate::engine::errors::input_error(&rule) {
                self.error(
                    &errors::SPEC_UNKNOWN_RULE,
                    a.get_ref().rule.span(),
                    format!("`{rule}` is an input error, not a rule: `[[allow]]` cannot lift it"),
                    "not a rule",
                    format!("{} instead (`berth explain {rule}`)", error.fix),
                );
            } else if !rules.contains(&rule.as_str()) {
                let help = match closest(&rule, rules.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`? (`berth rules` lists every id)"),
                    None => "name a rule id from `berth rules`".to_string(),
                };
                self.error(
                    &errors::SPEC_UNKNOWN_RULE,
                    a.get_ref().rule.span(),
                    format!("`[[allow]]` names unknown rule `{rule}`"),
                    "no such rule",
                    help,
                );
            }
            if reason.is_empty() {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    a.get_ref().reason.span(),
                    "`[[allow]]` needs a non-empty `reason`".to_string(),
                    "empty reason",
                    "say why this rule does not apply to this service".to_string(),
                );
            }
            out.push(Allow {
                rule,
                reason,
                span: self.span(a.span()),
            });
        }
        out
    }

    fn targets(
        &mut self,
        targets: &toml::Spanned<Vec<toml::Spanned<String>>>,
        backends: &[&str],
    ) -> Located<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        for name in targets.get_ref() {
            if !backends.contains(&name.get_ref().as_str()) {
                let help = match closest(name.get_ref(), backends.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("use some of {}", backticked(backends)),
                };
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    name.span(),
                    format!("`targets` names unknown backend `{}`", name.get_ref()),
                    "no such backend",
                    help,
                );
            } else if !names.contains(name.get_ref()) {
                names.push(name.get_ref().clone());
            }
        }
        if targets.get_ref().is_empty() {
            self.error(
                &errors::SPEC_INVALID_VALUE,
                targets.span(),
                "`targets` is empty: the spec would compile to nothing".to_string(),
                "no backend",
                format!("name the backends you deploy to, some of {}, or remove `targets` for all of them", backticked(backends)),
            );
        }
        Located::new(names, self.span(targets.span()))
    }

    fn backend_tables(
        &mut self,
        tables: &BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>>,
        backends: &[&str],
    ) -> BTreeMap<String, Span> {
        let mut out = BTreeMap::new();
        for (name, table) in tables {
            if !backends.contains(&name.get_ref().as_str()) {
                let help = match closest(name.get_ref(), backends.iter().copied()) {
                    Some(best) => format!("rename it to `[backends.{best}]`"),
                    None => format!("use one of {}", backticked(backends)),
                };
                self.error(
                    &errors::SPEC_UNKNOWN_KEY,
                    name.span(),
                    format!("unknown backend `{}`", name.get_ref()),
                    "no such backend",
                    help,
                );
            } else if !table.get_ref().is_table() {
                self.error(
                    &errors::SPEC_INVALID_VALUE,
                    table.span(),
                    format!("`backends.{}` must be a table", name.get_ref()),
                    "not a table",
                    format!(
                        "write `[backends.{}]` with its options below",
                        name.get_ref()
                    ),
                );
            }
            out.insert(name.get_ref().clone(), Span::new(self.file, table.span()));
        }
        out
    }

    /// Renders every member template once with a stand-in identity, so that a mistake is an input
    /// error at its location rather than a failure inside one backend.
    fn check_member_templates(
        &mut self,
        container: &Container,
        files: &[File],
        init: Option<&Init>,
        name: &str,
        replicas: u32,
    ) {
        let peers: Vec<Member> = (0..replicas)
            .map(|i| Member {
                ordinal: i.to_string(),
                name: format!("{name}-{i}"),
                host: format!("{name}-{i}"),
            })
            .collect();
        let member = Identity::new(peers.first(), &peers);
        let mut templates: Vec<&Template> = vec![&container.image];
        templates.extend(&container.command);
        templates.extend(&container.args);
        templates.extend(container.env.iter().filter_map(|e| match &e.value {
            EnvValue::Literal(t) => Some(t),
            EnvValue::Secret { .. } => None,
        }));
        templates.extend(files.iter().filter_map(|f| match &f.body {
            FileBody::Content(t) => Some(t),
            FileBody::Secret { .. } => None,
        }));
        // Compiled once here, each template is only evaluated for every member and backend.
        let check = |r: &mut Self, t: &Template, identity: &Identity| {
            let result = r
                .templates
                .precompile(&t.source)
                .and_then(|()| r.templates.try_member(&t.source, identity));
            if let Err(failure) = result {
                let range = t.span.as_ref().map(|s| s.range.clone()).unwrap_or(0..0);
                r.template_error(range, &t.source, failure);
            }
        };
        for t in templates {
            check(self, t, &member);
        }
        if let Some(init) = init {
            let bootstrap = Identity::new(None, &peers);
            for t in init.command.iter().chain(init.image.as_ref()) {
                check(self, t, &bootstrap);
            }
        }
    }
}

/// A DNS-1123 label of at most `max` characters.
pub fn dns_label(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "is {} characters long, more than {max}",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("may only hold lowercase letters, digits and `-`".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("may not start or end with `-`".into());
    }
    Ok(())
}

/// An IANA service name, which Kubernetes requires for named ports.
fn port_name(name: &str) -> Result<(), String> {
    dns_label(name, 15)?;
    if name.contains("--") {
        return Err("may not contain `--`".into());
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return Err("needs at least one letter".into());
    }
    Ok(())
}

fn absolute_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("is not absolute".into());
    }
    if path == "/" {
        return Err("is the root directory".into());
    }
    if path.ends_with('/') {
        return Err("ends with `/`: it names a directory, not a file".into());
    }
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err("contains `.` or `..`".into());
    }
    if path.chars().any(|c| c.is_control() || c == ':' || c == ',') {
        return Err("contains a control character, `:` or `,`".into());
    }
    Ok(())
}

/// A DNS subdomain name, optionally with a leading `*.` wildcard.
fn dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    name.len() <= 253 && name.split('.').all(|label| dns_label(label, 63).is_ok())
}
