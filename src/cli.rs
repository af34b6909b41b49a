//! The command line: `compile`, `check`, `explain` and `rules`. Diagnostics go to stderr (or JSON
//! to stdout with `--format json`); exit 0 done, 1 refused by a rule, 2 invalid input or usage.

use crate::backends;
use crate::compile::{self, Outcome, Request};
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::{diff, output};
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::Path;
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
        /// Write nothing; exit 3 with a diff if DIR is not what this compile would write.
        #[arg(long)]
        check: bool,
        /// Replace files in DIR that berth did not write where it needs their paths.
        #[arg(long, conflicts_with = "check")]
        force: bool,
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Parse a spec and run every rule; write nothing.
    Check {
        spec: PathBuf,
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show how each backend realizes each concern of a spec, or diff generated files.
    Diff {
        spec: PathBuf,
        #[command(flatten)]
        common: Common,
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// A unified diff of the files of the two `--backend`s.
        #[arg(long, conflicts_with = "against")]
        files: bool,
        /// A unified diff between this directory (an earlier compile) and a fresh compile.
        #[arg(long, value_name = "DIR")]
        against: Option<PathBuf>,
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
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Markdown,
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
        Command::Compile {
            specs,
            out,
            check,
            force,
            common,
            format,
        } => compile_command(&specs, &out, check, force, &common, format),
        Command::Check {
            spec,
            common,
            format,
        } => {
            let outcome = compile::compile(&request(&spec, &common));
            report(&[&outcome], format);
            outcome.exit_code()
        }
        Command::Diff {
            spec,
            common,
            format,
            files,
            against,
        } => diff_command(&spec, &common, format, files, against.as_deref()),
        Command::Explain { rule } => explain(&rule),
        Command::Rules { backend } => list_rules(backend.as_deref()),
    }
}

fn request(spec: &Path, common: &Common) -> Request {
    Request {
        spec: spec.to_path_buf(),
        set: common.set.clone(),
        values: common.values.clone(),
        backends: common.backends.clone(),
    }
}

/// Exit code of `compile --check` when the output directory is not what a compile would write.
const STALE: i32 = 3;

fn compile_command(
    specs: &[PathBuf],
    out: &Path,
    check: bool,
    force: bool,
    common: &Common,
    format: Format,
) -> i32 {
    let outcomes: Vec<Outcome> = specs
        .iter()
        .map(|spec| compile::compile(&request(spec, common)))
        .collect();
    let all: Vec<&Outcome> = outcomes.iter().collect();
    report(&all, format);
    let code = outcomes.iter().map(Outcome::exit_code).max().unwrap_or(0);
    if code != 0 {
        return code;
    }
    let files = match plan(specs, &outcomes) {
        Ok(files) => files,
        Err(d) => return fail(&d, format),
    };
    if check {
        return match output::drift(out, &files) {
            Ok(diff) if diff.is_empty() => {
                eprintln!("{} is up to date", out.display());
                0
            }
            Ok(diff) => {
                print!("{diff}");
                eprintln!(
                    "error: {} is stale: run `berth compile` without `--check` to update it",
                    out.display()
                );
                STALE
            }
            Err(d) => fail(&d, format),
        };
    }
    match output::write(out, &files, force) {
        Ok(written) => {
            if format == Format::Human {
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
        Err(d) => fail(&d, format),
    }
}

/// Every file a compile writes: each backend's files under `<backend>/` (`<service>/<backend>/`
/// for several specs) and the report.
fn plan(specs: &[PathBuf], outcomes: &[Outcome]) -> Result<Vec<output::Planned>, Diagnostic> {
    let several = outcomes.len() > 1;
    let prefix = |service: &str, backend: &str| {
        if several {
            format!("{service}/{backend}")
        } else {
            backend.to_string()
        }
    };
    let mut files = Vec::new();
    let mut services = BTreeSet::new();
    for (spec, outcome) in specs.iter().zip(outcomes) {
        let service = outcome.service_name.clone().unwrap_or_default();
        if !services.insert(service.clone()) {
            return Err(Diagnostic::input(
                "cli/usage",
                format!(
                    "two specs name the service `{service}` (the second is `{}`)",
                    spec.display()
                ),
            )
            .help("give each service its own `name`"));
        }
        for o in &outcome.outputs {
            let dir = prefix(&service, o.backend);
            files.extend(o.files.iter().map(|f| output::Planned {
                path: format!("{dir}/{}", f.path),
                contents: f.contents.clone(),
                executable: f.executable,
            }));
        }
    }
    let named: Vec<(String, &Outcome)> = specs
        .iter()
        .map(|s| s.display().to_string())
        .zip(outcomes)
        .collect();
    files.push(output::Planned {
        path: crate::report::FILE.into(),
        contents: crate::report::report(&named, prefix),
        executable: false,
    });
    Ok(files)
}

fn diff_command(
    spec: &Path,
    common: &Common,
    format: DiffFormat,
    files: bool,
    against: Option<&Path>,
) -> i32 {
    let outcome = compile::compile(&request(spec, common));
    if outcome.diagnostics.iter().any(Diagnostic::is_input_error) {
        report(&[&outcome], Format::Human);
        return 2;
    }
    if let Some(dir) = against {
        if outcome.exit_code() != 0 {
            report(&[&outcome], Format::Human);
            return outcome.exit_code();
        }
        let planned = match plan(&[spec.to_path_buf()], std::slice::from_ref(&outcome)) {
            Ok(planned) => planned,
            Err(d) => return fail(&d, Format::Human),
        };
        let read_old = |path: &str| std::fs::read_to_string(dir.join(path)).ok();
        for warning in diff::upgrade_warnings(&read_old, &planned) {
            eprintln!("{warning}");
        }
        return match output::drift(dir, &planned) {
            Ok(diff) => {
                print!("{diff}");
                0
            }
            Err(d) => fail(&d, Format::Human),
        };
    }
    if files {
        let [a, b] = outcome.outputs.as_slice() else {
            eprintln!(
                "error[cli/usage]: `--files` compares two backends\n  = help: name them: `--backend compose --backend swarm`"
            );
            return 2;
        };
        if a.files.is_empty() || b.files.is_empty() {
            report(&[&outcome], Format::Human);
            return outcome.exit_code().max(1);
        }
        print!(
            "{}",
            diff::backend_files((a.backend, &a.files), (b.backend, &b.files))
        );
        return 0;
    }
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    print!(
        "{}",
        match format {
            DiffFormat::Text => diff::text(&outcome, color),
            DiffFormat::Json => diff::json(&outcome),
            DiffFormat::Markdown => diff::markdown(&outcome),
        }
    );
    0
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
