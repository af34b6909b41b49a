//! `berth compile` and `berth check`: compile every spec, staging each one's files as it is done
//! (or comparing them with `--check`), then move them all into place and write the report.

use super::{Format, Inputs, Ui};
use berth_compile::Outcome;
use berth_diagnostic::errors;
use berth_diagnostic::{Diagnostic, Severity};
use berth_output::{report, signals};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code of `compile --check` when the output directory is not what a compile would write.
const STALE: i32 = 3;

pub fn check(ui: &Ui, spec: &Path, inputs: &Inputs, format: Format) -> i32 {
    let outcome = berth_compile::compile(&inputs.request(spec));
    ui.report(&[&outcome], format);
    let of = |severity| {
        outcome
            .diagnostics
            .iter()
            .filter(move |d| d.severity == severity)
    };
    let warnings = counted(of(Severity::Warning).count(), "warning");
    if outcome.exit_code() == 0 {
        let allowed: BTreeSet<&str> = of(Severity::Allowed).map(|d| d.code.as_str()).collect();
        ui.info(&format!(
            "{}: no rule refused it; {warnings}, {} allowed by `[[allow]]` (nothing written)",
            spec.display(),
            counted(allowed.len(), "rule"),
        ));
    } else {
        let errors = of(Severity::Error).count();
        let what = if outcome.diagnostics.iter().any(Diagnostic::is_input_error) {
            "the spec is invalid"
        } else {
            "refused by its rules"
        };
        ui.info(&format!(
            "{}: {what}; {}, {warnings} (nothing written)",
            spec.display(),
            counted(errors, "error"),
        ));
    }
    outcome.exit_code()
}

/// `1 warning`, `2 warnings`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `berth plan`: a compile of one spec whose backends each add the plan from what is
/// `deployed`; only backends named with `--backend`, since each deployment runs on one.
pub fn plan_change(
    ui: &Ui,
    spec: &Path,
    deployed: &berth_output::against::Against,
    out: &Path,
    force: bool,
    inputs: &Inputs,
    format: Format,
) -> i32 {
    if inputs.backends.is_empty() {
        return ui.fail(
            Diagnostic::input(
                &errors::CLI_USAGE,
                "`berth plan` needs the backend the service is deployed with",
            )
            .help("name it: `--backend compose`"),
            format,
        );
    }
    if let Err(d) = berth_output::against::check(deployed.dir, &berth_compile::registry::names()) {
        return ui.fail(d, format);
    }
    let specs = [spec.to_path_buf()];
    let code = compile(
        ui,
        &specs,
        out,
        false,
        force,
        inputs,
        Some(deployed),
        format,
    );
    if code == 0 && format == Format::Human {
        for backend in &inputs.backends {
            tell_plan(ui, out, backend);
        }
    }
    code
}

/// After `berth plan` wrote a backend's files: the outline of its `plan.sh` (the steps, how to
/// run it, what it needs), read from the comments that open it, which hold no spec string but
/// the steps' titles, each on one line.
fn tell_plan(ui: &Ui, out: &Path, backend: &str) {
    let Ok(Some(bytes)) = berth_output::inside::read_file(out, &format!("{backend}/plan.sh"))
    else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let header = text
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with('#'));
    let path =
        berth_model::shell::shell_quote(&out.join(backend).join("plan.sh").display().to_string());
    ui.info(&format!("the plan for {backend}, one step at a time:"));
    let (mut run, mut needs) = (None, None);
    for line in header {
        if let Some(step) = line.strip_prefix("#   ") {
            ui.info(&format!("  {step}"));
        } else if let Some(line) = line.strip_prefix("# Run it: ") {
            run = Some(line.replacen("plan.sh", &path, 1));
        } else if let Some(names) = line.strip_prefix("# It needs in its environment: ") {
            needs = Some(names.to_string());
        }
    }
    let environment = needs.map_or(String::new(), |names| format!(" (with {names} set)"));
    let run = run.unwrap_or_else(|| format!("sh {path}"));
    ui.info(&format!("read it, then run it{environment}: {run}"));
}

#[allow(clippy::too_many_arguments)]
pub fn compile(
    ui: &Ui,
    specs: &[PathBuf],
    out: &Path,
    check: bool,
    force: bool,
    inputs: &Inputs,
    deployed: Option<&dyn berth_backend::plan::Deployed>,
    format: Format,
) -> i32 {
    let specs = match expand(specs) {
        Ok(specs) => specs,
        Err(d) => return ui.fail(d, format),
    };
    if let Err(d) = berth_output::check_out(out) {
        return ui.fail(d, format);
    }
    let requests: Vec<_> = specs
        .iter()
        .map(|spec| berth_compile::Request {
            deployed,
            ..inputs.request(spec)
        })
        .collect();
    if check {
        return check_drift(ui, &specs, &requests, out, format);
    }
    let transaction = match berth_output::Transaction::begin(out, force) {
        Ok(transaction) => transaction,
        Err(d) => return ui.fail(d, format),
    };
    for note in transaction.notes() {
        ui.info(note);
    }
    let mut staging = Staging::new(ui, &transaction, format);
    let old_report = std::thread::scope(|scope| {
        // The old report, the largest file berth reads back, is checked while the specs compile.
        let old_report = scope.spawn(|| transaction.look(report::FILE));
        staging.stage_all(&specs, &requests, &transaction);
        old_report
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    if let Some(signal) = signals::received() {
        // Removes the staging directory and the directories made for `--out` before saying so.
        drop(transaction);
        staging
            .reporter
            .add_failure(berth_output::interrupted(signal));
        staging.reporter.exit_code = signals::exit_code(signal);
        return staging.reporter.finish();
    }
    if staging.reporter.exit_code != 0 {
        return staging.reporter.finish();
    }
    staging.commit(ui, out, transaction, old_report, format)
}

/// What compiling every spec staged: the groups of files, the report, what to tell the user,
/// and the first failure, which stops the commit.
struct Staging<'u> {
    reporter: super::Reporter<'u>,
    groups: Vec<berth_output::Staged>,
    report: Result<report::Writer<berth_output::StagedFile>, Diagnostic>,
    failure: Option<Diagnostic>,
    tls_lines: Vec<String>,
    quiet: bool,
}

impl<'u> Staging<'u> {
    fn new(ui: &'u Ui, transaction: &berth_output::Transaction, format: Format) -> Self {
        let report = match transaction.create_staged(report::FILE) {
            Ok(file) => report::Writer::new(file).map_err(report_error),
            Err(d) => Err(d),
        };
        Staging {
            reporter: ui.reporter(format),
            groups: Vec::new(),
            report,
            failure: None,
            tls_lines: Vec::new(),
            quiet: ui.quiet || format != Format::Human,
        }
    }

    /// Compiles every spec on every core, staging each one's files as it is done; once one
    /// spec is refused nothing will be written: later specs are still compiled, for their
    /// diagnostics, but not staged.
    fn stage_all(
        &mut self,
        specs: &[PathBuf],
        requests: &[berth_compile::Request],
        transaction: &berth_output::Transaction,
    ) {
        let prefix = backend_dir(specs.len() > 1);
        let refused = AtomicBool::new(false);
        let claimed = Mutex::new(HashSet::new());
        let mut services = BTreeSet::new();
        berth_compile::compile_each(
            requests,
            |i, mut outcome| {
                berth_output::signals::stall_for_test();
                let staged = (outcome.exit_code() == 0 && !refused.load(Ordering::Relaxed))
                    .then(|| stage_one(&mut outcome, &specs[i], &claimed, transaction, prefix))
                    .flatten();
                if outcome.exit_code() != 0 || staged.as_ref().is_some_and(|(_, s)| s.is_err()) {
                    refused.store(true, Ordering::Relaxed);
                }
                outcome.outputs.iter_mut().for_each(|o| o.concerns.clear());
                (outcome, staged)
            },
            |i, (outcome, staged)| {
                let service = outcome.service_name.clone().unwrap_or_default();
                if outcome.exit_code() == 0 && !services.insert(service.clone()) {
                    self.failure
                        .get_or_insert_with(|| duplicate_service(&service, &specs[i]));
                }
                self.take(&outcome, staged);
            },
        );
    }

    /// Takes one spec's outcome and staged files, in the order of the specs.
    fn take(&mut self, outcome: &Outcome, staged: Option<(String, StagedGroup)>) {
        self.reporter.add(outcome);
        if let Some((part, staged)) = staged {
            match staged {
                Ok(staged) => self.groups.push(staged),
                Err(d) => {
                    self.failure.get_or_insert(d);
                }
            }
            if let Ok(writer) = &mut self.report
                && let Err(e) = writer.push(&part)
            {
                self.report = Err(report_error(e));
            }
        }
        if !self.quiet {
            for o in outcome.outputs.iter().filter(|o| !o.tls_names.is_empty()) {
                self.tls_lines.push(format!(
                    "{}: node certificates must cover: {}",
                    o.backend,
                    o.tls_names.join(", ")
                ));
            }
        }
    }

    /// Moves every staged file into place with the report (`old_report` is what stands where
    /// it goes), and says what was written.
    fn commit(
        mut self,
        ui: &Ui,
        out: &Path,
        transaction: berth_output::Transaction,
        old_report: berth_output::Existing,
        format: Format,
    ) -> i32 {
        let mut groups = self.groups;
        let report = self.report;
        let written = self.failure.map_or(Ok(()), Err).and_then(|()| {
            let report = report?.finish().map_err(report_error)?;
            groups.push(transaction.settle(report, old_report)?);
            transaction.commit(groups)
        });
        let mut written = match written {
            Ok(written) => written,
            Err(d) => {
                self.reporter.add_failure(d);
                // The commit undid its steps; the exit code says what stopped it.
                if let Some(signal) = signals::received() {
                    self.reporter.exit_code = signals::exit_code(signal);
                }
                return self.reporter.finish();
            }
        };
        // A signal noted after the commit's last check found the write complete: it stands.
        add_warnings(&mut self.reporter, std::mem::take(&mut written.kept));
        for file in &written.changed {
            ui.detail(&format!("wrote {}", out.join(file).display()));
        }
        if format == Format::Human {
            ui.info(&format!(
                "wrote {} to {} ({} unchanged, {} stale removed)",
                counted(written.changed.len(), "file"),
                out.display(),
                written.unchanged,
                written.removed.len()
            ));
            for line in &self.tls_lines {
                ui.info(line);
            }
        }
        self.reporter.finish()
    }
}

type StagedGroup = Result<berth_output::Staged, Diagnostic>;

/// Stages one accepted spec's files, unless another spec of the same service came first (that
/// one is reported in order, by [`Staging::stage_all`]).
fn stage_one(
    outcome: &mut Outcome,
    spec: &Path,
    claimed: &Mutex<HashSet<String>>,
    transaction: &berth_output::Transaction,
    prefix: impl Fn(&str, &str) -> String + Copy,
) -> Option<(String, StagedGroup)> {
    let service = outcome.service_name.clone().unwrap_or_default();
    if !claimed
        .lock()
        .expect("no worker panics holding it")
        .insert(service)
    {
        return None;
    }
    let part = report::service_part(&spec.display().to_string(), outcome, prefix);
    let staged = transaction.stage(take_files(outcome, &prefix));
    Some((part, staged))
}

/// Where a backend's files go: `<backend>/`, or `<service>/<backend>/` when several specs compile.
fn backend_dir(several: bool) -> impl Fn(&str, &str) -> String + Copy {
    move |service, backend| {
        if several {
            format!("{service}/{backend}")
        } else {
            backend.to_string()
        }
    }
}

/// Warnings about `--out` found while writing (files left in place), reported as a compile's are.
fn add_warnings(reporter: &mut super::Reporter, warnings: Vec<Diagnostic>) {
    if !warnings.is_empty() {
        reporter.add(&Outcome {
            sources: Default::default(),
            diagnostics: warnings,
            outputs: Vec::new(),
            service_name: None,
        });
    }
}

fn duplicate_service(service: &str, second: &Path) -> Diagnostic {
    Diagnostic::input(
        &errors::CLI_USAGE,
        format!(
            "two specs name the service `{service}` (the second is `{}`)",
            second.display()
        ),
    )
    .help("give each service its own `name`")
}

fn report_error(e: std::io::Error) -> Diagnostic {
    Diagnostic::input(
        &errors::OUTPUT_IO,
        format!("cannot write `{}`: {e}", report::FILE),
    )
    .help("free space for the report in `--out`, or choose another `--out`; nothing was written")
}

/// `compile --check`: what a write would change, as a diff, without writing.
fn check_drift(
    ui: &Ui,
    specs: &[PathBuf],
    requests: &[berth_compile::Request],
    out: &Path,
    format: Format,
) -> i32 {
    let mut outcomes = berth_compile::compile_many(requests);
    let all: Vec<&Outcome> = outcomes.iter().collect();
    ui.report(&all, format);
    let code = outcomes.iter().map(Outcome::exit_code).max().unwrap_or(0);
    if code != 0 {
        return code;
    }
    let files = match plan(specs, &mut outcomes) {
        Ok(files) => files,
        Err(d) => return ui.fail(d, format),
    };
    match berth_output::drift(out, &files) {
        Ok(diff) if diff.is_empty() => {
            ui.info(&format!("{} is up to date", out.display()));
            0
        }
        Ok(diff) => {
            print!("{diff}");
            eprintln!(
                "error: {} is stale: run `berth compile` without `--check` to update it (with `--force` where a file was edited by hand)",
                out.display()
            );
            STALE
        }
        Err(d) => ui.fail(d, format),
    }
}

/// The files of one outcome, under the directory `prefix` names for each backend; their texts
/// move out of `outcome` (no copies).
fn take_files(
    outcome: &mut Outcome,
    prefix: &impl Fn(&str, &str) -> String,
) -> Vec<berth_output::Planned> {
    let service = outcome.service_name.clone().unwrap_or_default();
    let mut files = Vec::new();
    for o in &mut outcome.outputs {
        let dir = prefix(&service, o.backend);
        files.extend(o.files.iter_mut().map(|f| berth_output::Planned {
            path: format!("{dir}/{}", f.path),
            contents: std::mem::take(&mut f.contents),
            mode: f.mode,
        }));
    }
    files
}

/// Every file a compile writes: each backend's files under `<backend>/` (`<service>/<backend>/`
/// for several specs) and the report. The files' texts move out of `outcomes` (no copies).
pub fn plan(
    specs: &[PathBuf],
    outcomes: &mut [Outcome],
) -> Result<Vec<berth_output::Planned>, Diagnostic> {
    let prefix = backend_dir(outcomes.len() > 1);
    let mut services = BTreeSet::new();
    for (spec, outcome) in specs.iter().zip(outcomes.iter()) {
        let service = outcome.service_name.clone().unwrap_or_default();
        if !services.insert(service.clone()) {
            return Err(duplicate_service(&service, spec));
        }
    }
    let named: Vec<(String, &Outcome)> = specs
        .iter()
        .map(|s| s.display().to_string())
        .zip(outcomes.iter())
        .collect();
    let report = berth_output::report::report(&named, prefix);
    let mut files = Vec::new();
    for outcome in outcomes.iter_mut() {
        files.extend(take_files(outcome, &prefix));
    }
    files.push(berth_output::Planned {
        path: berth_output::report::FILE.into(),
        contents: report,
        mode: 0o644,
    });
    Ok(files)
}

/// Spec arguments as files: a directory stands for its `*.toml` files, and a path with `*`, `?`,
/// `[...]` or `**` in any component (quoted, so the shell left it) for the files it matches; both
/// sorted.
fn expand(specs: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut files = Vec::new();
    for spec in specs {
        let text = spec.to_string_lossy();
        let pattern = if spec.is_dir() {
            format!("{}/*.toml", glob::Pattern::escape(&text))
        } else if text.contains(['*', '?', '[']) {
            text.into_owned()
        } else {
            files.push(spec.clone());
            continue;
        };
        let options = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        let paths = glob::glob_with(&pattern, options).map_err(|e| {
            Diagnostic::input(
                &errors::CLI_USAGE,
                format!("`{}` is not a pattern: {e}", spec.display()),
            )
            .help("use `*`, `?`, `[abc]` and `**` as a shell does, such as `'specs/*.toml'`")
        })?;
        let mut matched = Vec::new();
        for path in paths {
            let path = path.map_err(|e| {
                Diagnostic::input(
                    &errors::CLI_IO,
                    format!("cannot read `{}`: {e}", e.path().display()),
                )
            })?;
            if path.is_file() {
                matched.push(path);
            }
        }
        if matched.is_empty() {
            return Err(Diagnostic::input(&errors::CLI_USAGE, format!("no spec matches `{}`", spec.display())).help("name spec files, a directory of `*.toml` files, or a quoted pattern such as `'specs/*.toml'`"));
        }
        matched.sort();
        files.extend(matched);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::expand;
    use std::path::PathBuf;

    #[test]
    fn patterns_match_whole_paths() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "a/crdb1.toml",
            "a/crdb10.toml",
            "b/pg.toml",
            "b/notes.yaml",
            "c.toml",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let names = |arg: &str| -> Vec<String> {
            expand(&[dir.path().join(arg)])
                .map(|files| {
                    let root = dir.path();
                    files
                        .iter()
                        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            names("*/*.toml"),
            ["a/crdb1.toml", "a/crdb10.toml", "b/pg.toml"]
        );
        assert_eq!(names("a/crdb?.toml"), ["a/crdb1.toml"]);
        assert_eq!(
            names("**/*.toml"),
            ["a/crdb1.toml", "a/crdb10.toml", "b/pg.toml", "c.toml"]
        );
        assert_eq!(
            names("b"),
            ["b/pg.toml"],
            "a directory stands for its *.toml files"
        );
        assert_eq!(names("[ab]/p*"), ["b/pg.toml"]);
        assert!(names("*.yaml").is_empty(), "no match is an error");
        let plain = expand(&[PathBuf::from("missing.toml")]).unwrap();
        assert_eq!(
            plain,
            [PathBuf::from("missing.toml")],
            "a plain path is passed on"
        );
    }
}
