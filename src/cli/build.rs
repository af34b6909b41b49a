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
    let outcomes: Vec<Outcome> = specs
        .iter()
        .map(|spec| compile::compile(&inputs.request(spec)))
        .collect();
    let all: Vec<&Outcome> = outcomes.iter().collect();
    ui.report(&all, format);
    let code = outcomes.iter().map(Outcome::exit_code).max().unwrap_or(0);
    if code != 0 {
        return code;
    }
    let files = match plan(specs, &outcomes) {
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
pub fn plan(specs: &[PathBuf], outcomes: &[Outcome]) -> Result<Vec<output::Planned>, Diagnostic> {
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
