//! `berth compile` and `berth check`: compile in memory, report, then write (or compare with
//! `--check`) every file and the report.

use super::{Format, Inputs, Ui};
use crate::compile::{self, Outcome};
use crate::diagnostic::Diagnostic;
use crate::output;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Exit code of `compile --check` when the output directory is not what a compile would write.
const STALE: i32 = 3;

pub fn check(ui: &Ui, spec: &Path, inputs: &Inputs, format: Format) -> i32 {
    let outcome = compile::compile(&inputs.request(spec));
    ui.report(&[&outcome], format);
    if outcome.exit_code() == 0 {
        ui.info(&format!(
            "{}: no rule refused it (nothing written)",
            spec.display()
        ));
    }
    outcome.exit_code()
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
    let specs = specs.as_slice();
    let requests: Vec<_> = specs.iter().map(|spec| inputs.request(spec)).collect();
    let mut outcomes = compile::compile_many(&requests);
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
    if check {
        return match output::drift(out, &files) {
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
        };
    }
    match output::write(out, &files, force) {
        Ok(written) => {
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
                for outcome in &outcomes {
                    for o in outcome.outputs.iter().filter(|o| !o.tls_names.is_empty()) {
                        ui.info(&format!(
                            "{}: node certificates must cover: {}",
                            o.backend,
                            o.tls_names.join(", ")
                        ));
                    }
                }
            }
            0
        }
        Err(d) => ui.fail(d, format),
    }
}

/// Every file a compile writes: each backend's files under `<backend>/` (`<service>/<backend>/`
/// for several specs) and the report.
/// Every file a compile writes: each backend's files under `<backend>/` (`<service>/<backend>/`
/// for several specs) and the report. The files' texts move out of `outcomes` (no copies).
pub fn plan(
    specs: &[PathBuf],
    outcomes: &mut [Outcome],
) -> Result<Vec<output::Planned>, Diagnostic> {
    let several = outcomes.len() > 1;
    let prefix = |service: &str, backend: &str| {
        if several {
            format!("{service}/{backend}")
        } else {
            backend.to_string()
        }
    };
    let mut services = BTreeSet::new();
    for (spec, outcome) in specs.iter().zip(outcomes.iter()) {
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
    }
    let named: Vec<(String, &Outcome)> = specs
        .iter()
        .map(|s| s.display().to_string())
        .zip(outcomes.iter())
        .collect();
    let report = crate::report::report(&named, prefix);
    let mut files = Vec::new();
    for outcome in outcomes.iter_mut() {
        let service = outcome.service_name.clone().unwrap_or_default();
        for o in &mut outcome.outputs {
            let dir = prefix(&service, o.backend);
            files.extend(o.files.iter_mut().map(|f| output::Planned {
                path: format!("{dir}/{}", f.path),
                contents: std::mem::take(&mut f.contents),
                executable: f.executable,
            }));
        }
    }
    files.push(output::Planned {
        path: crate::report::FILE.into(),
        contents: report,
        executable: false,
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
