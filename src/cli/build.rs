//! `berth compile` and `berth check`: compile every spec, staging each one's files as it is done
//! (or comparing them with `--check`), then move them all into place and write the report.

use super::{Format, Inputs, Ui};
use crate::compile::{self, Outcome};
use crate::diagnostic::{Diagnostic, Severity};
use crate::{output, report};
use std::collections::{BTreeSet, HashSet};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code of `compile --check` when the output directory is not what a compile would write.
const STALE: i32 = 3;

pub fn check(ui: &Ui, spec: &Path, inputs: &Inputs, format: Format) -> i32 {
    let outcome = compile::compile(&inputs.request(spec));
    ui.report(&[&outcome], format);
    if outcome.exit_code() == 0 {
        let of = |severity| {
            outcome
                .diagnostics
                .iter()
                .filter(move |d| d.severity == severity)
        };
        let allowed: BTreeSet<&str> = of(Severity::Allowed).map(|d| d.code.as_str()).collect();
        ui.info(&format!(
            "{}: no rule refused it; {}, {} allowed by `[[allow]]` (nothing written)",
            spec.display(),
            counted(of(Severity::Warning).count(), "warning"),
            counted(allowed.len(), "rule"),
        ));
    }
    outcome.exit_code()
}

/// `1 warning`, `2 warnings`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

pub fn compile(
    ui: &Ui,
    specs: &[PathBuf],
    out: &Path,
    check: bool,
    force: bool,
    inputs: &Inputs,
    format: Format,
) -> i32 {
    let specs = match expand(specs) {
        Ok(specs) => specs,
        Err(d) => return ui.fail(d, format),
    };
    let requests: Vec<_> = specs.iter().map(|spec| inputs.request(spec)).collect();
    if check {
        return check_drift(ui, &specs, &requests, out, format);
    }
    let transaction = match output::Transaction::begin(out, force) {
        Ok(transaction) => transaction,
        Err(d) => return ui.fail(d, format),
    };
    let prefix = backend_dir(specs.len() > 1);
    // Once one spec is refused nothing will be written: later specs are still compiled, for
    // their diagnostics, but not staged.
    let refused = AtomicBool::new(false);
    let claimed = Mutex::new(HashSet::new());
    let mut reporter = ui.reporter(format);
    let mut failure = None;
    let mut report = match transaction.create_staged(report::FILE) {
        Ok(file) => report::Writer::new(BufWriter::new(file)).map_err(report_error),
        Err(d) => Err(d),
    };
    let mut groups = Vec::with_capacity(specs.len() + 1);
    let mut services = BTreeSet::new();
    let mut tls_lines = Vec::new();
    compile::compile_each(
        &requests,
        |i, mut outcome| {
            let staged = (outcome.exit_code() == 0 && !refused.load(Ordering::Relaxed))
                .then(|| {
                    let service = outcome.service_name.clone().unwrap_or_default();
                    // A second spec of the same service is reported in order below.
                    if !claimed
                        .lock()
                        .expect("no worker panics holding it")
                        .insert(service.clone())
                    {
                        return None;
                    }
                    let part =
                        report::service_part(&specs[i].display().to_string(), &outcome, prefix);
                    let staged = transaction.stage(take_files(&mut outcome, &prefix));
                    Some((part, staged))
                })
                .flatten();
            if outcome.exit_code() != 0 || staged.as_ref().is_some_and(|(_, s)| s.is_err()) {
                refused.store(true, Ordering::Relaxed);
            }
            outcome.outputs.iter_mut().for_each(|o| o.concerns.clear());
            (outcome, staged)
        },
        |i, (outcome, staged)| {
            reporter.add(&outcome);
            let service = outcome.service_name.clone().unwrap_or_default();
            if outcome.exit_code() == 0 && !services.insert(service.clone()) {
                failure.get_or_insert_with(|| duplicate_service(&service, &specs[i]));
            }
            if let Some((part, staged)) = staged {
                match staged {
                    Ok(staged) => groups.push(staged),
                    Err(d) => {
                        failure.get_or_insert(d);
                    }
                }
                if let Ok(writer) = &mut report
                    && let Err(e) = writer.push(&part)
                {
                    report = Err(report_error(e));
                }
            }
            if !ui.quiet && format == Format::Human {
                for o in outcome.outputs.iter().filter(|o| !o.tls_names.is_empty()) {
                    tls_lines.push(format!(
                        "{}: node certificates must cover: {}",
                        o.backend,
                        o.tls_names.join(", ")
                    ));
                }
            }
        },
    );
    if reporter.exit_code != 0 {
        return reporter.finish();
    }
    let written = failure.map_or(Ok(()), Err).and_then(|()| {
        report?.finish().map_err(report_error)?;
        groups.push(transaction.settle(report::FILE)?);
        transaction.commit(groups)
    });
    let written = match written {
        Ok(written) => written,
        Err(d) => {
            reporter.add_failure(d);
            return reporter.finish();
        }
    };
    for file in &written.changed {
        ui.detail(&format!("wrote {}", out.join(file).display()));
    }
    if format == Format::Human {
        ui.info(&format!(
            "wrote {} files to {} ({} unchanged, {} stale removed)",
            written.changed.len(),
            out.display(),
            written.unchanged.len(),
            written.removed.len()
        ));
        for line in &tls_lines {
            ui.info(line);
        }
    }
    reporter.finish()
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

fn duplicate_service(service: &str, second: &Path) -> Diagnostic {
    Diagnostic::input(
        "cli/usage",
        format!(
            "two specs name the service `{service}` (the second is `{}`)",
            second.display()
        ),
    )
    .help("give each service its own `name`")
}

fn report_error(e: std::io::Error) -> Diagnostic {
    Diagnostic::input("output/io", format!("cannot write `{}`: {e}", report::FILE)).help(
        "free space for the report in `--out`, or choose another `--out`; nothing was written",
    )
}

/// `compile --check`: what a write would change, as a diff, without writing.
fn check_drift(
    ui: &Ui,
    specs: &[PathBuf],
    requests: &[compile::Request],
    out: &Path,
    format: Format,
) -> i32 {
    let mut outcomes = compile::compile_many(requests);
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
    match output::drift(out, &files) {
        Ok(diff) if diff.is_empty() => {
            ui.info(&format!("{} is up to date", out.display()));
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
        Err(d) => ui.fail(d, format),
    }
}

/// The files of one outcome, under the directory `prefix` names for each backend; their texts
/// move out of `outcome` (no copies).
fn take_files(
    outcome: &mut Outcome,
    prefix: &impl Fn(&str, &str) -> String,
) -> Vec<output::Planned> {
    let service = outcome.service_name.clone().unwrap_or_default();
    let mut files = Vec::new();
    for o in &mut outcome.outputs {
        let dir = prefix(&service, o.backend);
        files.extend(o.files.iter_mut().map(|f| output::Planned {
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
) -> Result<Vec<output::Planned>, Diagnostic> {
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
    let report = crate::report::report(&named, prefix);
    let mut files = Vec::new();
    for outcome in outcomes.iter_mut() {
        files.extend(take_files(outcome, &prefix));
    }
    files.push(output::Planned {
        path: crate::report::FILE.into(),
        contents: report,
        mode: 0o644,
    });
    Ok(files)
}

/// Spec arguments as files: a directory stands for its `*.toml` files, and a last path component
/// with `*` or `?` (quoted, so the shell left it) for the files it matches; both sorted.
fn expand(specs: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut files = Vec::new();
    for spec in specs {
        let name = spec
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (dir, pattern) = if spec.is_dir() {
            (spec.clone(), "*.toml".to_string())
        } else if name.contains(['*', '?']) {
            (
                spec.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
                name,
            )
        } else {
            files.push(spec.clone());
            continue;
        };
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Diagnostic::input("cli/io", format!("cannot read `{}`: {e}", dir.display()))
        })?;
        let mut matched: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    && glob(&pattern, &e.file_name().to_string_lossy())
            })
            .map(|e| {
                if spec.is_dir() {
                    spec.join(e.file_name())
                } else {
                    dir.join(e.file_name())
                }
            })
            .collect();
        if matched.is_empty() {
            return Err(Diagnostic::input("cli/usage", format!("no spec matches `{}`", spec.display())).help("name spec files, a directory of `*.toml` files, or a quoted pattern such as `'specs/*.toml'`"));
        }
        matched.sort();
        files.extend(matched);
    }
    Ok(files)
}

/// Matches `*` (any run of characters) and `?` (one character).
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("*.toml", "a.toml"));
        assert!(glob("crdb?.toml", "crdb1.toml"));
        assert!(!glob("crdb?.toml", "crdb10.toml"));
        assert!(!glob("*.toml", "a.yaml"));
        assert!(glob("*", ""));
    }
}
