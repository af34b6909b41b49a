//! `berth diff`: the concern table, two backends' files side by side, or a fresh compile against
//! an output directory (with the upgrade warnings).

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
    let mut outcome = berth_compile::compile(&inputs.request(spec));
    if outcome.diagnostics.iter().any(Diagnostic::is_input_error) {
        ui.report(&[&outcome], Format::Human);
        return 2;
    }
    if let Some(dir) = against {
        if outcome.exit_code() != 0 {
            ui.report(&[&outcome], Format::Human);
            return outcome.exit_code();
        }
        let planned =
            match super::build::plan(&[spec.to_path_buf()], std::slice::from_mut(&mut outcome)) {
                Ok(planned) => planned,
                Err(d) => return ui.fail(d, Format::Human),
            };
        let deployed = berth_output::against::Against::new(dir, dir);
        let read_old = |path: &str| berth_backend::plan::Deployed::read(&deployed, path);
        for warning in diff::upgrade_warnings(&read_old, &planned) {
            eprintln!("{warning}");
        }
        return match berth_output::drift(dir, &planned) {
            Ok(diff) => {
                print!("{diff}");
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
