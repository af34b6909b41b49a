//! One compilation: read the spec and its overrides, parse, resolve, check the spec's own rules
//! ([`spec_rules`]) and run the chosen backends from the [`registry`], all in memory. The CLI
//! decides what to print and whether to write.

pub mod registry;
pub mod spec_rules;

use berth_backend::{Backend, Findings, Form, Input, OutputFile};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_diagnostic::source::{FileId, Sources};
use berth_language::params::{self, Override};
use berth_language::spec;
use berth_model::Service;
use berth_resolve::Context;
use std::path::PathBuf;

#[derive(Default)]
pub struct Request<'d> {
    pub spec: PathBuf,
    pub set: Vec<String>,
    pub values: Option<PathBuf>,
    /// Empty means every backend.
    pub backends: Vec<String>,
    /// Folders outside the spec's own that `[[files]] source` may read from (`--allow-read`).
    pub allow_read: Vec<PathBuf>,
    /// What is deployed, for `berth plan`: each backend adds its plan to its files.
    pub deployed: Option<&'d dyn berth_backend::plan::Deployed>,
}

/// The files of one backend and the TLS names it reports.
pub struct BackendOutput {
    pub backend: &'static str,
    pub files: Vec<OutputFile>,
    pub tls_names: Vec<String>,
    pub concerns: Vec<berth_model::concern::Realization>,
    /// This backend's diagnostics (also in [`Outcome::diagnostics`]).
    pub diagnostics: Vec<Diagnostic>,
}

pub struct Outcome {
    pub sources: Sources,
    pub diagnostics: Vec<Diagnostic>,
    pub outputs: Vec<BackendOutput>,
    /// The service's `name`, once resolved.
    pub service_name: Option<String>,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        berth_diagnostic::exit_code(&self.diagnostics)
    }
}

pub fn compile(request: &Request) -> Outcome {
    compile_with(request, None)
}

/// Compiles spec text that is not in a file (fuzzing, editors); `request.spec` names it.
pub fn compile_text(request: &Request, text: String) -> Outcome {
    compile_with(request, Some(text))
}

fn compile_with(request: &Request, text: Option<String>) -> Outcome {
    let mut outcome = Outcome {
        sources: Sources::default(),
        diagnostics: Vec::new(),
        outputs: Vec::new(),
        service_name: None,
    };
    match run(request, text, &mut outcome) {
        Ok(()) => {}
        Err(mut diagnostics) => outcome.diagnostics.append(&mut diagnostics),
    }
    outcome
}

fn run(
    request: &Request,
    text: Option<String>,
    outcome: &mut Outcome,
) -> Result<(), Vec<Diagnostic>> {
    let chosen = choose_backends(&request.backends)?;
    let text = match text {
        Some(text) => text,
        None => read(&request.spec)?,
    };
    let spec_file = outcome
        .sources
        .add(request.spec.display().to_string(), text.clone());
    let overrides = read_overrides(request, &mut outcome.sources)?;
    let spec::Parsed {
        spec,
        backend_tables,
    } = spec::parse(&text, spec_file).map_err(|d| vec![d])?;
    let service = resolve(request, spec, spec_file, &text, &overrides, outcome)?;
    outcome.service_name = Some(service.name().to_string());
    outcome
        .diagnostics
        .extend(crate::spec_rules::check(&service));
    // An input error found by the spec's rules (an image that is no reference) stops here: no
    // backend lowers a value that is refused.
    if outcome.diagnostics.iter().any(Diagnostic::is_input_error) {
        return Ok(());
    }
    let chosen = within_targets(chosen, &service, &request.backends, &request.spec)?;
    let input = Input {
        service: &service,
        backend_tables: &backend_tables,
        file: spec_file,
        deployed: request.deployed,
        form: Form::Text,
        base: None,
    };
    run_backends(&chosen, &input, outcome);
    annotate_origins(
        &service.param_origins,
        &outcome.sources,
        &mut outcome.diagnostics,
    );
    for output in &mut outcome.outputs {
        annotate_origins(
            &service.param_origins,
            &outcome.sources,
            &mut output.diagnostics,
        );
    }
    // Invalid options of one backend make the whole compile invalid: no backend's files stand.
    if outcome.diagnostics.iter().any(Diagnostic::is_input_error) {
        outcome.outputs.iter_mut().for_each(|o| o.files.clear());
    }
    Ok(())
}

/// `--values` and `--set`, in that order (a later override wins).
fn read_overrides(
    request: &Request,
    sources: &mut Sources,
) -> Result<Vec<Override>, Vec<Diagnostic>> {
    let mut overrides: Vec<Override> = Vec::new();
    if let Some(path) = &request.values {
        let values_text = read(path)?;
        let file = sources.add(path.display().to_string(), values_text.clone());
        overrides.extend(params::parse_values_file(&values_text, file).map_err(|d| vec![d])?);
    }
    if !request.set.is_empty() {
        let file = sources.add("--set", request.set.join("\n"));
        overrides.extend(params::parse_set_args(&request.set, file).map_err(|d| vec![d])?);
    }
    Ok(overrides)
}

/// The model of the spec, its warnings added to `outcome`; refused, the errors with the
/// parameters they came from.
fn resolve(
    request: &Request,
    spec: spec::Spec,
    spec_file: FileId,
    text: &str,
    overrides: &[Override],
    outcome: &mut Outcome,
) -> Result<Service, Vec<Diagnostic>> {
    let rule_ids: Vec<&str> = registry::rules().map(|r| r.id).collect();
    let context = Context {
        backends: &registry::names(),
        rules: &rule_ids,
        spec_dir: request.spec.parent().unwrap_or(std::path::Path::new(".")),
        allow_read: &request.allow_read,
    };
    match berth_resolve::resolve(spec, spec_file, text, overrides, &context) {
        Ok((service, warnings)) => {
            outcome.diagnostics.extend(warnings);
            Ok(service)
        }
        Err(mut refused) => {
            annotate_origins(
                &refused.param_origins,
                &outcome.sources,
                &mut refused.diagnostics,
            );
            Err(refused.diagnostics)
        }
    }
}

/// Runs each chosen backend on `input`, in order, into `outcome`. A backend built on another
/// that ran before it gets that one's findings ([`Input::base`]), unless something is deployed:
/// then each compares it itself, and a base's findings would hold its own plan and upgrades.
fn run_backends(chosen: &[&'static dyn Backend], input: &Input, outcome: &mut Outcome) {
    let bases: Vec<&str> = match input.deployed {
        None => chosen.iter().filter_map(|b| b.built_on()).collect(),
        Some(_) => Vec::new(),
    };
    let mut found: Vec<(&str, Findings)> = Vec::new();
    for backend in chosen {
        let base = backend
            .built_on()
            .and_then(|name| found.iter().find(|(n, _)| *n == name));
        let input = Input {
            base: base.map(|(_, findings)| findings),
            ..*input
        };
        let (output, findings) = run_backend(*backend, &input, bases.contains(&backend.name()));
        found.extend(findings.map(|f| (backend.name(), f)));
        // A backend may report another's findings (helm the kubernetes backend's): each once.
        for diagnostic in &output.diagnostics {
            if !outcome.diagnostics.contains(diagnostic) {
                outcome.diagnostics.push(diagnostic.clone());
            }
        }
        outcome.outputs.push(output);
    }
}

/// What `backend` makes of `input`, its diagnostics naming it, and, where `keep_findings`, its
/// findings before they are renamed (for a backend built on this one). Findings of a compile
/// whose files could not be written (a bug of berth's, which stops its lowering) are partial:
/// none are kept, and the backend built on it finds them itself.
fn run_backend(
    backend: &dyn Backend,
    input: &Input,
    keep_findings: bool,
) -> (BackendOutput, Option<Findings>) {
    let service = input.service;
    let mut compiled = backend.compile(input);
    let written = !compiled
        .diagnostics
        .iter()
        .any(|d| d.code == errors::OUTPUT_YAML.id);
    let findings = (keep_findings && written).then(|| compiled.findings());
    for diagnostic in compiled.diagnostics.iter_mut() {
        name_the_backend(diagnostic, backend.name(), service.targets.is_some());
    }
    let output = BackendOutput {
        backend: backend.name(),
        files: compiled.files,
        // Names for certificates matter only to a service that has them.
        tls_names: if service.tls.is_some() {
            compiled.tls_names
        } else {
            Vec::new()
        },
        concerns: compiled.concerns,
        diagnostics: compiled.diagnostics,
    };
    (output, findings)
}

/// For each diagnostic whose span mentions `params.NAME`, says what value the parameter had and
/// where it came from (`--set`, a `--values` file, or its default).
fn annotate_origins(
    param_origins: &std::collections::BTreeMap<String, params::ParamOrigin>,
    sources: &Sources,
    diagnostics: &mut [Diagnostic],
) {
    for diagnostic in diagnostics.iter_mut() {
        let Some(span) = &diagnostic.span else {
            continue;
        };
        let text = sources
            .text(span.file)
            .get(span.range.clone())
            .unwrap_or("");
        for (name, origin) in param_origins {
            let mentioned = text
                .match_indices(&format!("params.{name}"))
                .any(|(at, _)| {
                    !text[at + 7 + name.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                });
            if mentioned {
                let where_ = origin.span.as_ref().map(|s| {
                    let (line, column) = sources.line_column(s);
                    format!(" ({}:{line}:{column})", sources.name(s.file))
                });
                diagnostic.origins.push((
                    format!(
                        "`params.{name}` is `{}`, from {}{}",
                        origin.value,
                        origin.origin,
                        where_.unwrap_or_default()
                    ),
                    origin.span.clone(),
                ));
            }
        }
    }
}

/// The backends to compile: those `--backend` named, each of which must be among the spec's
/// `targets`, or else every target.
fn within_targets(
    chosen: Vec<&'static dyn Backend>,
    service: &berth_model::Service,
    named: &[String],
    spec: &std::path::Path,
) -> Result<Vec<&'static dyn Backend>, Vec<Diagnostic>> {
    if named.is_empty() {
        return Ok(chosen
            .into_iter()
            .filter(|b| service.targets(b.name()))
            .collect());
    }
    if let Some(outside) = chosen.iter().find(|b| !service.targets(b.name())) {
        let name = outside.name();
        let targets: Vec<&str> = service
            .targets
            .iter()
            .flat_map(|t| t.value.iter().map(String::as_str))
            .collect();
        return Err(vec![
            Diagnostic::input(
                &errors::CLI_USAGE,
                format!(
                    "`--backend {name}` is not among the spec's `targets` ({})",
                    spec::backticked(&targets)
                ),
            )
            .at(
                service.targets.as_ref().and_then(|t| t.span.clone()),
                "the targets",
            )
            .help(format!(
                "add `\"{name}\"` to `targets` in `{}`, or leave out `--backend {name}`",
                spec.display()
            )),
        ]);
    }
    Ok(chosen)
}

/// Says which backend an error is about, and that a spec not meant for it can leave it out.
fn name_the_backend(diagnostic: &mut Diagnostic, backend: &str, has_targets: bool) {
    // A plan's errors are about the change, which the user makes on that backend.
    if diagnostic.severity != berth_diagnostic::Severity::Error
        || diagnostic.code.starts_with("plan/")
    {
        return;
    }
    if !diagnostic.code.starts_with(&format!("{backend}/")) && !diagnostic.message.contains(backend)
    {
        diagnostic.message = format!("{backend}: {}", diagnostic.message);
    }
    let drop = if has_targets {
        format!("remove `{backend}` from `targets` if you do not deploy with it")
    } else {
        format!(
            "add `targets = [...]` naming the backends you deploy with, if `{backend}` is not one"
        )
    };
    diagnostic.help = Some(match diagnostic.help.take() {
        Some(help) => format!("{help}; or {drop}"),
        None => drop,
    });
}

fn choose_backends(names: &[String]) -> Result<Vec<&'static dyn Backend>, Vec<Diagnostic>> {
    if names.is_empty() {
        return Ok(registry::all().to_vec());
    }
    let mut chosen: Vec<&'static dyn Backend> = Vec::new();
    for name in names {
        let Some(backend) = registry::by_name(name) else {
            let known = registry::names();
            let help = match berth_diagnostic::closest(name, known.iter().copied()) {
                Some(best) => format!("did you mean `--backend {best}`?"),
                None => format!("use one of {}", spec::backticked(&known)),
            };
            return Err(vec![
                Diagnostic::input(&errors::CLI_USAGE, format!("unknown backend `{name}`"))
                    .help(help),
            ]);
        };
        if !chosen.iter().any(|b| b.name() == backend.name()) {
            chosen.push(backend);
        }
    }
    Ok(chosen)
}

fn read(path: &std::path::Path) -> Result<String, Vec<Diagnostic>> {
    berth_language::read::named(path).map_err(|refused| {
        vec![Diagnostic::input(&errors::CLI_IO, refused.message).help(refused.help)]
    })
}

/// Compiles several specs on every core, returning the outcomes in the order of `requests`.
/// Each spec is independent, so the result is the same as one after the other.
pub fn compile_many(requests: &[Request]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(requests.len());
    compile_each(
        requests,
        |_, outcome| outcome,
        |_, outcome| outcomes.push(outcome),
    );
    outcomes
}

/// Compiles every request on every core. `finish` runs on the thread that compiled a spec, with
/// its index and outcome (so heavy work on the result is spread over the cores too); `take`
/// receives what `finish` returned on the calling thread, in the order of `requests`, as soon as
/// the specs before it are done.
pub fn compile_each<T: Send>(
    requests: &[Request],
    finish: impl Fn(usize, Outcome) -> T + Sync,
    mut take: impl FnMut(usize, T),
) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(requests.len());
    if threads <= 1 {
        for (i, request) in requests.iter().enumerate() {
            take(i, finish(i, compile(request)));
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (next, finish, sender) = (&next, &finish, sender.clone());
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        break;
                    };
                    if sender.send((i, finish(i, compile(request)))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // A result waits here only until the specs before it are done.
        let mut waiting = std::collections::BTreeMap::new();
        let mut due = 0;
        for (i, result) in receiver {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&due) {
                take(due, result);
                due += 1;
            }
        }
        // A worker that panicked has closed its sender early; the scope re-raises its panic.
    });
}
