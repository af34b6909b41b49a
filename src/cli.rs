//! The command line: `compile`, `check`, `explain` and `rules`. Diagnostics go to stderr (or JSON
//! to stdout with `--format json`); exit 0 done, 1 refused by a rule, 2 invalid input or usage.

use crate::backends;
use crate::compile::{self, Outcome, Request};
use crate::diagnostic::{self, Diagnostic, Severity};
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Compile one spec of a stateful service into deployment files for several orchestrators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile specs into DIR/<backend>/ (DIR/<service>/<backend>/ for several specs).
    Compile {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Parse a spec and run every rule; write nothing.
    Check {
        spec: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Print a rule's document.
    Explain { rule: String },
    /// List the rules.
    Rules {
        #[arg(long, value_name = "NAME")]
        backend: Option<String>,
    },
}

#[derive(clap::Args)]
struct Common {
    /// Only this backend (repeatable); default: all.
    #[arg(long = "backend", value_name = "NAME")]
    backends: Vec<String>,
    /// Override a parameter (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// A TOML file of `NAME = value` parameter overrides.
    #[arg(long, value_name = "FILE")]
    values: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::Compile { specs, out, common } => compile_command(&specs, &out, &common),
        Command::Check { spec, common } => {
            let outcome = compile::compile(&request(&spec, &common));
            report(&[&outcome], common.format);
            outcome.exit_code()
        }
        Command::Explain { rule } => explain(&rule),
        Command::Rules { backend } => list_rules(backend.as_deref()),
    }
}

fn request(spec: &std::path::Path, common: &Common) -> Request {
    Request {
        spec: spec.to_path_buf(),
        set: common.set.clone(),
        values: common.values.clone(),
        backends: common.backends.clone(),
    }
}

fn compile_command(specs: &[PathBuf], out: &std::path::Path, common: &Common) -> i32 {
    let outcomes: Vec<Outcome> = specs
        .iter()
        .map(|spec| compile::compile(&request(spec, common)))
        .collect();
    let all: Vec<&Outcome> = outcomes.iter().collect();
    report(&all, common.format);
    let code = outcomes.iter().map(Outcome::exit_code).max().unwrap_or(0);
    if code != 0 {
        return code;
    }
    let several = outcomes.len() > 1;
    let mut files = Vec::new();
    let mut services = BTreeSet::new();
    for (spec, outcome) in specs.iter().zip(&outcomes) {
        let service = outcome.service_name.clone().unwrap_or_default();
        if several && !services.insert(service.clone()) {
            let d = Diagnostic::input(
                "cli/usage",
                format!(
                    "two specs name the service `{service}` (the second is `{}`)",
                    spec.display()
                ),
            )
            .help("give each service its own `name`");
            return fail(&d, common.format);
        }
        for output in &outcome.outputs {
            let prefix = if several {
                format!("{service}/{}", output.backend)
            } else {
                output.backend.to_string()
            };
            files.extend(output.files.iter().map(|f| crate::output::Planned {
                path: format!("{prefix}/{}", f.path),
                contents: f.contents.clone(),
                executable: f.executable,
            }));
        }
    }
    match crate::output::write(out, &files) {
        Ok(written) => {
            if common.format == Format::Human {
                eprintln!(
                    "wrote {} files to {} ({} unchanged, {} stale removed)",
                    written.changed.len(),
                    out.display(),
                    written.unchanged.len(),
                    written.removed.len()
                );
                for outcome in &outcomes {
                    for output in outcome.outputs.iter().filter(|o| !o.tls_names.is_empty()) {
                        eprintln!(
                            "{}: node certificates must cover: {}",
                            output.backend,
                            output.tls_names.join(", ")
                        );
                    }
                }
            }
            0
        }
        Err(d) => fail(&d, common.format),
    }
}

fn fail(diagnostic: &Diagnostic, format: Format) -> i32 {
    let outcome = Outcome {
        sources: Default::default(),
        diagnostics: vec![diagnostic.clone()],
        outputs: Vec::new(),
        service_name: None,
    };
    report(&[&outcome], format);
    diagnostic::exit_code(&outcome.diagnostics)
}

fn report(outcomes: &[&Outcome], format: Format) {
    match format {
        Format::Human => {
            for outcome in outcomes {
                eprint!(
                    "{}",
                    diagnostic::render_human(&outcome.diagnostics, &outcome.sources)
                );
            }
        }
        Format::Json => {
            let diagnostics: Vec<_> = outcomes
                .iter()
                .flat_map(|o| {
                    o.diagnostics
                        .iter()
                        .map(|d| diagnostic::to_json(d, &o.sources))
                })
                .collect();
            let outputs: Vec<_> = outcomes
                .iter()
                .flat_map(|o| o.outputs.iter().map(|out| serde_json::json!({"backend": out.backend, "files": out.files.iter().map(|f| &f.path).collect::<Vec<_>>(), "tls_names": out.tls_names})))
                .collect();
            let code = outcomes.iter().map(|o| o.exit_code()).max().unwrap_or(0);
            let value = serde_json::json!({"exit_code": code, "diagnostics": diagnostics, "outputs": outputs});
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON values serialize")
            );
        }
    }
}

fn explain(id: &str) -> i32 {
    match backends::rule(id) {
        Some(rule) => {
            println!("{}", rule.doc.trim_end());
            0
        }
        None => {
            let ids: Vec<&str> = backends::rules().map(|r| r.id).collect();
            let help = match diagnostic::closest(id, ids.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "run `berth rules` to list every rule".to_string(),
            };
            eprintln!("error[cli/usage]: unknown rule `{id}`\n  = help: {help}");
            2
        }
    }
}

fn list_rules(backend: Option<&str>) -> i32 {
    if let Some(name) = backend
        && backends::by_name(name).is_none()
    {
        eprintln!(
            "error[cli/usage]: unknown backend `{name}`\n  = help: use one of {}",
            crate::spec::backticked(&backends::names())
        );
        return 2;
    }
    for rule in
        backends::rules().filter(|r| backend.is_none_or(|b| r.id.starts_with(&format!("{b}/"))))
    {
        let severity = match rule.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Allowed => "allowed",
        };
        println!("{:<44} {:<8} {}", rule.id, severity, rule.summary);
    }
    0
}
