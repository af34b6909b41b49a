//! The command line. Data goes to stdout (JSON diagnostics, diff tables, documents); diagnostics,
//! progress and summaries go to stderr. Exit codes: 0 done, 1 refused by a rule, 2 invalid input
//! or usage, 3 `compile --check` found the output stale.

mod build;
mod docs;
mod import;
mod init;
mod show;

use berth_compile::{Outcome, Request};
use berth_diagnostic::{Diagnostic, Severity};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Compile one spec of a stateful service into deployment files for several orchestrators"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print errors only.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Also print lifted rules and every file written.
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Colour diagnostics and tables (`auto`: on a terminal, unless NO_COLOR is set).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
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
        inputs: Inputs,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Parse a spec and run every rule; write nothing.
    Check {
        spec: PathBuf,
        #[command(flatten)]
        inputs: Inputs,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show how each backend realizes each concern of a spec, or diff generated files.
    Diff {
        spec: PathBuf,
        #[command(flatten)]
        inputs: Inputs,
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// A unified diff of the files of the two `--backend`s.
        #[arg(long, conflicts_with = "against")]
        files: bool,
        /// A unified diff between this directory (an earlier compile) and a fresh compile.
        #[arg(long, value_name = "DIR")]
        against: Option<PathBuf>,
    },
    /// Plan the change of a running cluster: compile SPEC into DIR/<backend>/ with `plan.sh`, which
    /// takes the members deployed from `--against` to the new ones one step at a time (members
    /// join and leave as `[membership]` says, and restart one at a time, with a check between
    /// steps). Plans are written for compose, swarm, kubernetes, docker and marathon (not
    /// cloudfoundry; for a Helm release, the kubernetes plan's steps, then `helm upgrade`):
    /// `--backend NAME`, the one the service is deployed with, is required. Give the `--set` and
    /// `--values` of the deployed compile again, with the changes.
    #[command(mut_arg("backends", |a| a.help("The backend the service is deployed with (required)")))]
    Plan {
        spec: PathBuf,
        /// The directory the deployed files were compiled to. Keep `--out` apart from it until
        /// the plan has run: it is the record of what runs (with `--lost` on compose and docker,
        /// `--out` is the deployed directory itself, whose files the members mount).
        #[arg(long, value_name = "DIR")]
        against: PathBuf,
        /// Replace this member by a new one on a new, empty volume, which catches up from the
        /// others: a data move (repeatable; one member at a time; on swarm, to a node that runs
        /// no member of the service).
        #[arg(long, value_name = "MEMBER")]
        replace: Vec<String>,
        /// Replace this member, down for good with its node or its disk, by a new one on a new,
        /// empty volume: the plan checks that it is down, the others remove it from the cluster,
        /// and it joins again (repeatable, while the others are a majority; compose, docker, swarm
        /// and kubernetes). Such a plan changes nothing else: give the values as deployed (on
        /// compose and docker, `--out` the deployed directory where members mount files).
        #[arg(long, value_name = "MEMBER")]
        lost: Vec<String>,
        #[arg(long, value_name = "DIR")]
        /// Where the new files and `plan.sh` go (DIR/<backend>/).
        out: PathBuf,
        /// Replace files in DIR that berth did not write where it needs their paths.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        inputs: Inputs,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write a commented spec to start from: NAME.toml.
    Init {
        /// The service name (default: the template's).
        name: Option<String>,
        /// The template: one of the examples (default: the one NAME names).
        #[arg(long = "from", value_name = "EXAMPLE")]
        template: Option<String>,
        /// Where to write the spec (default: NAME.toml here).
        #[arg(long, visible_alias = "out", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write a spec for each stateful service of a Compose file, and report the file's mistakes.
    Import {
        /// The Compose file (`compose.yaml`, `docker-compose.yml`).
        file: PathBuf,
        /// Import this service (repeatable; a member's name imports its cluster); default: every
        /// service that keeps data.
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// The spec to write (one service), or the directory for `<name>.toml` (default: here).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Let the Compose file's `.env`, `env_file`, `extends` and mounted files be read from
        /// this folder outside its own (repeatable); the report names every file read from it.
        #[arg(long = "allow-read", value_name = "DIR")]
        allow_read: Vec<PathBuf>,
        /// The Compose project the file runs as (`docker compose -p`), whose name prefixes its
        /// volumes' (default: the file's `name`, else its folder's name).
        #[arg(long = "project-name", value_name = "NAME")]
        project: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print a rule's document; without RULE, the concerns and the backends.
    Explain { rule: Option<String> },
    /// List the rules.
    Rules {
        /// List only the rules of this backend, or of `spec`, `plan` or `import`.
        #[arg(long, value_name = "NAME")]
        backend: Option<String>,
        #[arg(long, value_enum, default_value_t = DocFormat::Text)]
        format: DocFormat,
    },
    /// Print the JSON Schema of the spec language (draft-07).
    Schema,
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff).
    Man,
}

/// Writes a new file at `path`, never over what is there: not a file, and not through a symbolic
/// link, even a dangling one (`O_CREAT | O_EXCL`), which would create a file anywhere.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Every rule berth has: about a spec (the spec's own and each backend's), then `berth import`'s,
/// about Compose files. What `berth rules` lists and `berth explain` explains.
pub fn every_rule() -> impl Iterator<Item = &'static berth_diagnostic::Rule> {
    berth_compile::registry::rules().chain(berth_import::rules::RULES.iter().copied())
}

#[derive(clap::Args)]
struct Inputs {
    /// Only this backend (repeatable); default: all.
    #[arg(long = "backend", value_name = "NAME")]
    backends: Vec<String>,
    /// Override a parameter (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// A TOML file of `NAME = value` parameter overrides.
    #[arg(long, value_name = "FILE")]
    values: Option<PathBuf>,
    /// Let `[[files]] source` read from this folder outside the spec's own (repeatable); the
    /// report names every file read from it.
    #[arg(long = "allow-read", value_name = "DIR")]
    allow_read: Vec<PathBuf>,
}

impl Inputs {
    fn request<'d>(&self, spec: &Path) -> Request<'d> {
        Request {
            spec: spec.to_path_buf(),
            set: self.set.clone(),
            values: self.values.clone(),
            backends: self.backends.clone(),
            allow_read: self.allow_read.clone(),
            deployed: None,
        }
    }
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DocFormat {
    Text,
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How much to print, and whether in colour.
struct Ui {
    quiet: bool,
    verbose: bool,
    color: ColorChoice,
}

impl Ui {
    fn colored(&self, stream_is_terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    /// A progress or summary line (stderr), unless `--quiet`.
    fn info(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A line only `--verbose` prints (stderr).
    fn detail(&self, line: &str) {
        if self.verbose {
            eprintln!("{line}");
        }
    }

    /// Prints diagnostics: human on stderr (errors only with `--quiet`, lifted rules only with
    /// `--verbose`), or one JSON document on stdout.
    fn report(&self, outcomes: &[&Outcome], format: Format) {
        let mut reporter = self.reporter(format);
        for outcome in outcomes {
            reporter.add(outcome);
        }
        reporter.finish();
    }

    fn reporter(&self, format: Format) -> Reporter<'_> {
        Reporter {
            ui: self,
            format,
            exit_code: 0,
            json_diagnostics: Vec::new(),
            json_outputs: Vec::new(),
        }
    }

    /// Reports one diagnostic that stopped a command, and returns its exit code.
    fn fail(&self, diagnostic: Diagnostic, format: Format) -> i32 {
        let mut reporter = self.reporter(format);
        reporter.add_failure(diagnostic);
        reporter.finish()
    }
}

/// The diagnostic stream of one command: human diagnostics are printed as each outcome arrives;
/// the JSON document, which holds them all, when the command finishes.
struct Reporter<'a> {
    ui: &'a Ui,
    format: Format,
    exit_code: i32,
    json_diagnostics: Vec<serde_json::Value>,
    json_outputs: Vec<serde_json::Value>,
}

impl Reporter<'_> {
    fn add(&mut self, outcome: &Outcome) {
        self.exit_code = self.exit_code.max(outcome.exit_code());
        match self.format {
            Format::Human => {
                let shown: Vec<Diagnostic> = outcome
                    .diagnostics
                    .iter()
                    .filter(|d| match d.severity {
                        Severity::Error => true,
                        Severity::Warning => !self.ui.quiet,
                        Severity::Allowed => self.ui.verbose,
                    })
                    .cloned()
                    .collect();
                if !shown.is_empty() {
                    let color = self.ui.colored(std::io::stderr().is_terminal());
                    eprint!(
                        "{}",
                        berth_diagnostic::render(&shown, &outcome.sources, color)
                    );
                }
            }
            Format::Json => {
                self.json_diagnostics
                    .extend(outcome.diagnostics.iter().map(|d| {
                        serde_json::to_value(berth_diagnostic::to_json(d, &outcome.sources))
                            .expect("diagnostics serialize")
                    }));
                self.json_outputs
                    .extend(outcome.outputs.iter().map(|out| serde_json::json!({"backend": out.backend, "files": out.files.iter().map(|f| &f.path).collect::<Vec<_>>(), "tls_names": out.tls_names})));
            }
        }
    }

    /// A diagnostic that stopped the command after the compile (a write that failed).
    fn add_failure(&mut self, diagnostic: Diagnostic) {
        self.add(&Outcome {
            sources: Default::default(),
            diagnostics: vec![diagnostic],
            outputs: Vec::new(),
            service_name: None,
        });
    }

    /// Prints the JSON document; returns the exit code of everything reported.
    fn finish(self) -> i32 {
        if self.format == Format::Json {
            let value = serde_json::json!({"exit_code": self.exit_code, "diagnostics": self.json_diagnostics, "outputs": self.json_outputs});
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("JSON values serialize")
            );
        }
        self.exit_code
    }
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { 2 } else { 0 };
        }
    };
    let ui = Ui {
        quiet: cli.quiet,
        verbose: cli.verbose,
        color: cli.color,
    };
    match cli.command {
        Command::Compile {
            specs,
            out,
            check,
            force,
            inputs,
            format,
        } => build::compile(&ui, &specs, &out, check, force, &inputs, None, format),
        Command::Plan {
            spec,
            against,
            replace,
            lost,
            out,
            force,
            inputs,
            format,
        } => {
            let deployed = berth_output::against::Against {
                replace,
                lost,
                ..berth_output::against::Against::new(&against, &out)
            };
            build::plan_change(&ui, &spec, &deployed, &out, force, &inputs, format)
        }
        Command::Check {
            spec,
            inputs,
            format,
        } => build::check(&ui, &spec, &inputs, format),
        Command::Diff {
            spec,
            inputs,
            format,
            files,
            against,
        } => show::diff(&ui, &spec, &inputs, format, files, against.as_deref()),
        Command::Init {
            name,
            template,
            output,
        } => init::init(&ui, name.as_deref(), template.as_deref(), output.as_deref()),
        Command::Import {
            file,
            services,
            out,
            allow_read,
            project,
            format,
        } => import::import(
            &ui,
            &file,
            &services,
            out.as_deref(),
            &allow_read,
            project.as_deref(),
            format,
        ),
        Command::Explain { rule } => docs::explain(rule.as_deref()),
        Command::Rules { backend, format } => docs::rules(backend.as_deref(), format),
        Command::Schema => docs::schema(),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
    }
}

/// The clap definition, for completions and the manual page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
