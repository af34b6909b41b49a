//! `berth import FILE`: writes the specs `berth_import` made of a Compose file, and reports the
//! file's mistakes (human on stderr, or one JSON document on stdout). Never overwrites a file:
//! every target is checked before the first is written.

use super::{Format, Ui};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_import::Import;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub fn import(
    ui: &Ui,
    file: &Path,
    wanted: &[String],
    out: Option<&Path>,
    allow_read: &[PathBuf],
    project: Option<&str>,
    format: Format,
) -> i32 {
    if let Some(project) = project.filter(|p| !berth_import::compose::project_name(p)) {
        let error = Diagnostic::input(
            &errors::CLI_USAGE,
            format!("`--project-name` `{project}` is not a Compose project name"),
        )
        .help("use lowercase letters, digits, `_` and `-`, starting with a letter or digit");
        return ui.fail(error, format);
    }
    let import = match berth_import::import_reading(file, wanted, allow_read, project) {
        Ok(import) => import,
        Err((error, sources)) => {
            report(ui, &[error], &sources, format, &[], &[]);
            return 2;
        }
    };
    let targets = match targets(&import, out) {
        Ok(targets) => targets,
        Err(error) => return ui.fail(error, format),
    };
    // A dangling symbolic link is taken too: writing would create its target, anywhere.
    if let Some(taken) = targets.iter().find(|t| t.symlink_metadata().is_ok()) {
        let error = Diagnostic::input(
            &errors::CLI_USAGE,
            format!(
                "`{}` exists; berth import never overwrites a file",
                taken.display()
            ),
        )
        .help("move it away, or choose another `--out`");
        return ui.fail(error, format);
    }
    for (i, (spec, path)) in import.specs.iter().zip(&targets).enumerate() {
        if let Err(e) = super::write_new(path, &spec.text) {
            // Nothing half-done: the specs this import wrote go again.
            for written in &targets[..i] {
                let _ = std::fs::remove_file(written);
            }
            let error = Diagnostic::input(
                &errors::OUTPUT_IO,
                format!(
                    "cannot write `{}`: {e}; nothing was written",
                    path.display()
                ),
            );
            return ui.fail(error, format);
        }
    }
    report(
        ui,
        &import.findings,
        &import.sources,
        format,
        &import_summary(&import, &targets),
        &import.skipped,
    );
    0
}

/// Where each spec goes: `--out` itself for one spec, else `<name>.toml` in `--out` (a
/// directory) or here.
fn targets(import: &Import, out: Option<&Path>) -> Result<Vec<PathBuf>, Diagnostic> {
    if import.specs.is_empty() {
        // Each service's reason, so that the user sees what to change rather than only "none".
        let reasons: Vec<String> = (import.skipped.iter())
            .map(|(service, why)| format!("`{service}`: {why}"))
            .collect();
        let message = if reasons.is_empty() {
            "no stateful service in the Compose file".to_string()
        } else {
            format!(
                "no service of the Compose file can be imported: {}",
                reasons.join("; ")
            )
        };
        return Err(Diagnostic::input(&errors::CLI_USAGE, message).help(
            "fix what each reason names, or name the services to import with `--service NAME`",
        ));
    }
    let named = |dir: &Path| {
        import
            .specs
            .iter()
            .map(|s| dir.join(format!("{}.toml", s.name)))
            .collect()
    };
    let targets: Vec<PathBuf> = match out {
        Some(path) if import.specs.len() == 1 && !path.is_dir() => vec![path.to_path_buf()],
        Some(dir) if dir.is_dir() => named(dir),
        Some(path) => {
            return Err(Diagnostic::input(
                &errors::CLI_USAGE,
                format!(
                    "{} specs to write, and `{}` is not a directory",
                    import.specs.len(),
                    path.display()
                ),
            )
            .help("give `--out` an existing directory, or import one service with `--service`"));
        }
        None => named(Path::new(".")),
    };
    // Two services whose names meet in one spec name (`db` and `db_`, `Db` and `db`).
    for (i, target) in targets.iter().enumerate() {
        if targets[..i].contains(target) {
            return Err(Diagnostic::input(
                &errors::CLI_USAGE,
                format!(
                    "two specs would be written to `{}`: {}",
                    target.display(),
                    import
                        .specs
                        .iter()
                        .zip(&targets)
                        .filter(|(_, t)| *t == target)
                        .map(|(s, _)| format!("from {}", s.services.join(", ")))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            )
            .help("import them one at a time with `--service NAME --out FILE`"));
        }
    }
    Ok(targets)
}

/// Each written spec: its name, where it went, the Compose services it came from, and the
/// backends that refuse it until its user decides (see [`undecided`]).
type Written = (String, PathBuf, Vec<String>, Vec<String>);

fn import_summary(import: &Import, targets: &[PathBuf]) -> Vec<Written> {
    import
        .specs
        .iter()
        .zip(targets)
        .map(|(s, t)| {
            let refusing = undecided(&s.text, t);
            (s.name.clone(), t.clone(), s.services.clone(), refusing)
        })
        .collect()
}

/// The backends whose rules refuse a written spec until its user decides what the Compose file
/// did not say (a storage class, a volume service): its comments say what.
fn undecided(text: &str, path: &Path) -> Vec<String> {
    berth_import::refusing_backends(text, path)
        .into_iter()
        .map(|(backend, _)| backend)
        .collect()
}

fn report(
    ui: &Ui,
    findings: &[Diagnostic],
    sources: &berth_diagnostic::source::Sources,
    format: Format,
    written: &[Written],
    skipped: &[(String, String)],
) {
    match format {
        Format::Human => {
            let shown: Vec<Diagnostic> = findings
                .iter()
                .filter(|d| !ui.quiet || d.is_input_error())
                .cloned()
                .collect();
            if !shown.is_empty() {
                eprint!(
                    "{}",
                    berth_diagnostic::render(
                        &shown,
                        sources,
                        ui.colored(std::io::stderr().is_terminal())
                    )
                );
            }
            for (name, path, services, refusing) in written {
                ui.info(&format!(
                    "wrote {} (`{name}`, from {})",
                    path.display(),
                    services.join(", ")
                ));
                if !refusing.is_empty() {
                    ui.info(&format!(
                        "  {} refuse it until you decide what the Compose file does not say (its comments name each; `berth check {}`), or name your backends in `targets`",
                        refusing.join(", "),
                        path.display()
                    ));
                }
            }
            for (service, why) in skipped {
                ui.info(&format!("skipped {service}: {why}"));
            }
        }
        Format::Json => {
            let document = serde_json::json!({
                "specs": written.iter().map(|(name, path, services, refusing)| serde_json::json!({"name": name, "path": path, "services": services, "undecided_for": refusing})).collect::<Vec<_>>(),
                "skipped": skipped.iter().map(|(service, why)| serde_json::json!({"service": service, "reason": why})).collect::<Vec<_>>(),
                "diagnostics": findings.iter().map(|d| berth_diagnostic::to_json(d, sources)).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&document).expect("JSON values serialize")
            );
        }
    }
}
