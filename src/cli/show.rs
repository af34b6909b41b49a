//! `berth diff`: the concern table, two backends' files side by side, or a fresh compile against
//! an output directory (with the rules about what the change does to the running service).

use super::{DiffFormat, Format, Inputs, Ui};
use berth_diagnostic::Diagnostic;
use berth_output::diff;
use std::io::IsTerminal;
use std::path::Path;

pub fn diff(
    ui: &Ui,
    spec: &Path,
    inputs: &Inputs,
    format: DiffFormat,
    files: bool,
    against: Option<&Path>,
) -> i32 {
    if let Some(Err(d)) = against.map(berth_output::against::check) {
        return ui.fail(d, Format::Human);
    }
    // Against a directory, each backend also fires the rules about what the change does to the
    // running service (`plan/...`).
    let deployed = against.map(|dir| berth_output::against::Against {
        plans: false,
        ..berth_output::against::Against::new(dir, dir)
    });
    let mut request = berth_compile::Request {
        deployed: deployed
            .as_ref()
            .map(|d| d as &dyn berth_backend::plan::Deployed),
        ..inputs.request(spec)
    };
    if let Some(dir) = against
        && request.backends.is_empty()
    {
        request.backends = deployed_backends(dir);
        if !request.backends.is_empty() {
            ui.info(&format!(
                "comparing the backends `{}` holds: {} (name others with `--backend`)",
                dir.display(),
                request.backends.join(", ")
            ));
        }
    }
    let mut outcome = berth_compile::compile(&request);
    if outcome.diagnostics.iter().any(Diagnostic::is_input_error) {
        ui.report(&[&outcome], Format::Human);
        return 2;
    }
    if let Some(dir) = against {
        ui.report(&[&outcome], Format::Human);
        if outcome.exit_code() != 0 {
            return outcome.exit_code();
        }
        let planned =
            match super::build::plan(&[spec.to_path_buf()], std::slice::from_mut(&mut outcome)) {
                Ok(planned) => planned,
                Err(d) => return ui.fail(d, Format::Human),
            };
        return match berth_output::drift(dir, &planned) {
            Ok(diff) => {
                print!("{diff}");
                if !diff.is_empty() {
                    ui.info(&format!(
                        "to take a running deployment there one member at a time: `berth plan {} --backend NAME --against {} --out NEW`",
                        spec.display(),
                        dir.display()
                    ));
                }
                0
            }
            Err(d) => ui.fail(d, Format::Human),
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
            ui.report(&[&outcome], Format::Human);
            return outcome.exit_code().max(1);
        }
        print!(
            "{}",
            diff::backend_files((a.backend, &a.files), (b.backend, &b.files))
        );
        return 0;
    }
    let color = ui.colored(std::io::stdout().is_terminal());
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

/// The backends whose folders an earlier compile wrote into `dir` (none followed if a link).
fn deployed_backends(dir: &Path) -> Vec<String> {
    berth_compile::registry::names()
        .into_iter()
        .filter(|name| dir.join(name).symlink_metadata().is_ok_and(|m| m.is_dir()))
        .map(str::to_string)
        .collect()
}
