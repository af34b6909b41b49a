//! What every backend's tests share, as a dev-dependency only: the specs under `examples/` and
//! `tests/specs/`, each read, parsed and resolved into a [`Service`] as `berth compile` does,
//! compiled by one backend in memory ([`compile`]), its files read back as text, YAML or JSON
//! ([`Output`]), and [`check_claims`], which holds a backend to what its concerns claim.

use berth_backend::{Backend, Compiled, Form, Input, OutputFile};
use berth_diagnostic::Diagnostic;
use berth_model::concern::{Realization, Status};
use berth_model::{Member, Service};
/// The parsed form of the files, for the backends' checks.
pub use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The workspace's root, where `examples/` is.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example specs and `tests/specs/everything.toml` (which uses every section), as (name,
/// path), sorted by name.
pub fn specs() -> Vec<(String, PathBuf)> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("examples/ lists").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    let specs = std::fs::read_dir(root().join("tests/specs")).expect("tests/specs/ exists");
    found.extend(
        specs
            .map(|e| e.expect("tests/specs/ lists").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml")),
    );
    let mut specs: Vec<(String, PathBuf)> = found
        .into_iter()
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    specs.sort();
    specs
}

/// One backend's files for one spec, with the service they were made from.
pub struct Output {
    pub spec: String,
    pub service: Service,
    pub diagnostics: Vec<Diagnostic>,
    pub files: Vec<OutputFile>,
    pub concerns: Vec<Realization>,
    pub tls_names: Vec<String>,
}

/// Compiles the spec at `path` with `backend` in memory, or gives `None` when the spec's
/// `targets` leave the backend out. A spec that does not resolve fails the test. The names of
/// backends and rules the spec mentions are taken as they are: the registry, which knows them,
/// is above the backends, and checks them in its own tests.
pub fn compile(backend: &dyn Backend, path: &Path) -> Option<Output> {
    compile_as(backend, path, Form::Text)
}

/// [`compile`], the files handed over in `form`.
pub fn compile_as(backend: &dyn Backend, path: &Path, form: Form) -> Option<Output> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = berth_language::spec::parse(&text, 0)
        .unwrap_or_else(|d| panic!("{}: {}", path.display(), d.message));
    let spec = &parsed.spec;
    let mut backends: Vec<String> = spec.backends.keys().map(|k| k.get_ref().clone()).collect();
    backends.extend(
        spec.targets
            .iter()
            .flat_map(|t| t.get_ref().iter().map(|n| n.get_ref().clone())),
    );
    backends.push(backend.name().to_string());
    let rules: Vec<String> = spec
        .allow
        .iter()
        .map(|a| a.get_ref().rule.get_ref().clone())
        .collect();
    let backends: Vec<&str> = backends.iter().map(String::as_str).collect();
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let context = berth_resolve::Context {
        backends: &backends,
        rules: &rules,
        spec_dir: path.parent().expect("a spec is in a folder"),
        allow_read: &[],
    };
    let berth_language::spec::Parsed {
        spec,
        backend_tables,
    } = parsed;
    let (service, _) = berth_resolve::resolve(spec, 0, &text, &[], &context)
        .unwrap_or_else(|refused| panic!("{}: {:?}", path.display(), refused.diagnostics));
    if !service.targets(backend.name()) {
        return None;
    }
    let Compiled {
        diagnostics,
        files,
        concerns,
        tls_names,
    } = backend.compile(&Input {
        service: &service,
        backend_tables: &backend_tables,
        file: 0,
        deployed: None,
        form,
        base: None,
    });
    Some(Output {
        spec: path.file_stem().unwrap().to_string_lossy().into_owned(),
        service,
        diagnostics,
        files,
        concerns,
        tls_names,
    })
}

impl Output {
    /// The service's name.
    pub fn name(&self) -> &str {
        self.service.name()
    }

    /// The paths of the files written, relative to the backend's folder.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.path.as_str())
    }

    /// A file's text, empty when the backend did not write it.
    pub fn text(&self, path: &str) -> &str {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map_or("", |f| f.contents.as_str())
    }

    /// A YAML file, parsed; null when the backend did not write it.
    pub fn yaml(&self, path: &str) -> Value {
        let text = self.text(path);
        if text.is_empty() {
            return Value::Null;
        }
        serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{}: {path}: {e}", self.spec))
    }

    /// A JSON file, parsed; null when the backend did not write it.
    pub fn json(&self, path: &str) -> Value {
        let text = self.text(path);
        if text.is_empty() {
            return Value::Null;
        }
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{}: {path}: {e}", self.spec))
    }

    /// Whether the compose-format file at `path` (compose.yaml, a swarm stack) has a service
    /// named after each member, and each passes `check`, given the member.
    pub fn each_service(&self, path: &str, check: impl Fn(&Member, &Value) -> bool) -> bool {
        let services = &self.yaml(path)["services"];
        self.service.members().iter().all(|m| {
            let service = &services[&m.name];
            service.is_object() && check(m, service)
        })
    }

    /// The existing Docker volume `volumes.external` names for member `member`, if it names one.
    pub fn external_volume(&self, member: &str, volume: &berth_model::Volume) -> Option<String> {
        let members = self.service.members();
        let member = members.iter().find(|m| m.name == member)?;
        let identity = berth_model::Identity::new(Some(member), &members);
        self.service.external_volume(volume, &identity).unwrap()
    }
}

impl Output {
    /// The names member `member` answers to besides its host name (`network.aliases`).
    pub fn aliases(&self, member: &str) -> Vec<String> {
        let members = self.service.members();
        let member = members.iter().find(|m| m.name == member).unwrap();
        let identity = berth_model::Identity::new(Some(member), &members);
        self.service.aliases(&identity).unwrap()
    }

    /// Whether a compose-format service joins `network`, with the member's aliases there.
    pub fn joins(&self, member: &Member, service: &Value, network: &str) -> bool {
        let aliases = self.aliases(&member.name);
        if aliases.is_empty() {
            service["networks"] == json!([network])
        } else {
            service["networks"] == json!({ network: { "aliases": aliases } })
        }
    }
}

/// Holds a backend to its claims: for every spec it compiles, each concern the spec uses and the
/// backend claims to realize (`native`, `emulated`) or to realize in part (`degraded`) must show
/// in its files as `shows` judges them, given the claim. Every failure is listed at once.
pub fn check_claims(backend: &dyn Backend, shows: impl Fn(&Realization, &Output) -> bool) {
    let mut compiled = 0;
    let mut failures = Vec::new();
    for (name, path) in specs() {
        let Some(output) = compile(backend, &path) else {
            continue;
        };
        // A spec the backend refuses by a rule of its own (or writes nothing for, the rule
        // allowed) is that rule's test (its document).
        let own = format!("{}/", backend.name());
        let refused = |d: &Diagnostic| {
            d.code.starts_with(&own)
                && (d.is_rule_error() || d.severity == berth_diagnostic::Severity::Allowed)
        };
        if output.files.is_empty() && output.diagnostics.iter().any(refused) {
            continue;
        }
        assert!(
            !output.files.is_empty(),
            "{name}: {} wrote no file: {:?}",
            backend.name(),
            output.diagnostics
        );
        compiled += 1;
        for claim in &output.concerns {
            if claim.status == Status::Unsupported || !claim.concern.used_by(&output.service) {
                continue;
            }
            if !shows(claim, &output) {
                failures.push(format!(
                    "{name}: {} claims {} {} ({}), which its files do not show",
                    backend.name(),
                    claim.status.name(),
                    claim.concern.name(),
                    claim.detail
                ));
            }
        }
    }
    assert!(compiled > 1, "{} compiled {compiled} specs", backend.name());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether `values` has one or more elements, each passing `check`.
pub fn all(values: &[Value], check: impl Fn(&Value) -> bool) -> bool {
    !values.is_empty() && values.iter().all(check)
}

/// A value's array elements, none when it is not an array.
pub fn array(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}
