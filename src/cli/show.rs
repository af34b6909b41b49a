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
    if let Some(Err(d)) =
        against.map(|dir| berth_output::against::check(dir, &berth_compile::registry::names()))
    {
        return ui.fail(d, Format::Human);
    }
    // Against a directory, each backend also fires the rules about what the change does to the
    // running service (`plan/...`).
    let deployed = against.map(|dir| berth_output::against::Against {
        plans: false,
        ..berth_output::against::Against::new(dir, dir)
    });
    let request = berth_compile::Request {
        deployed: deployed
            .as_ref()
            .map(|d| d as &dyn berth_backend::plan::Deployed),
        ..inputs.request(spec)
    };
    let mut outcome = berth_compile::compile(&request);
    if let Some(dir) = against
        && inputs.backends.is_empty()
    {
        keep_deployed_backends(ui, dir, &mut outcome);
    }
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
                    let backends: Vec<&str> = outcome.outputs.iter().map(|o| o.backend).collect();
                    ui.info(&format!(
                        "to take a running deployment there one member at a time: `{}`",
                        plan_command(spec, inputs, &backends, dir)
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

/// The `berth plan` that takes what `dir` deploys to what `diff` compiled: the same spec, values
/// and backend (`NAME` where there are several), each argument quoted for the shell.
fn plan_command(spec: &Path, inputs: &Inputs, backends: &[&str], dir: &Path) -> String {
    let quote = |text: &str| berth_model::shell::shell_quote(text);
    let backend = match backends {
        [one] => quote(one),
        _ => "NAME".into(),
    };
    let mut command = format!(
        "berth plan {} --backend {backend} --against {} --out NEW",
        quote(&spec.display().to_string()),
        quote(&dir.display().to_string())
    );
    for set in &inputs.set {
        command.push_str(&format!(" --set {}", quote(set)));
    }
    if let Some(values) = &inputs.values {
        command.push_str(&format!(
            " --values {}",
            quote(&values.display().to_string())
        ));
    }
    command
}

/// Keeps of `outcome` the backends whose folders an earlier compile wrote into `dir` (no link
/// followed), with their diagnostics, and says which: the others are not deployed there.
fn keep_deployed_backends(ui: &Ui, dir: &Path, outcome: &mut berth_compile::Outcome) {
    let names = berth_compile::registry::names();
    let deployed = berth_output::against::held(dir, &names);
    if deployed.is_empty() {
        return;
    }
    outcome.outputs.retain(|o| deployed.contains(&o.backend));
    let elsewhere = |code: &str| {
        code.split_once('/')
            .is_some_and(|(group, _)| names.contains(&group) && !deployed.contains(&group))
    };
    outcome.diagnostics.retain(|d| !elsewhere(&d.code));
    let compared: Vec<&str> = outcome.outputs.iter().map(|o| o.backend).collect();
    ui.info(&format!(
        "comparing the backends `{}` holds: {} (name others with `--backend`)",
        dir.display(),
        compared.join(", ")
    ));
}
