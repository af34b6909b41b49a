//! Commands that print documents: `explain`, `rules`, `schema`, `completions`, `man`.

use super::DocFormat;
use berth_diagnostic::Rule;
use berth_diagnostic::Severity;
use berth_model::concern::Concern;

fn severity(rule: &Rule) -> &'static str {
    match rule.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Allowed => "allowed",
    }
}

/// The same check under other backends' ids (`kubernetes/no-persistent-volume` ↔
/// `docker/no-persistent-volume`), or, for the spec's own rules, a note that they apply everywhere.
fn per_backend_notes(rule: &Rule) -> String {
    let (prefix, name) = rule.id.split_once('/').unwrap_or(("", rule.id));
    if prefix == "spec" {
        return "## Per-backend notes\nThis rule is about the spec itself: it runs once, whatever the backends.\n".to_string();
    }
    if prefix == "import" {
        return "## Per-backend notes\nThis rule is about a Compose file that `berth import` reads (`docs/import.md`); the spec it writes\nno longer has the mistake, or says why in a comment.\n".to_string();
    }
    let siblings: Vec<String> = super::every_rule()
        .filter(|r| r.id != rule.id && r.id.split_once('/').is_some_and(|(_, n)| n == name))
        .map(|r| format!("- `{}` ({})", r.id, severity(r)))
        .collect();
    let mut notes = format!(
        "## Per-backend notes\nHow the `{prefix}` backend maps each concern: `backends/{prefix}/README.md`.\n"
    );
    if siblings.is_empty() {
        notes.push_str(
            "No other backend has this rule: the risk is particular to this orchestrator.\n",
        );
    } else {
        notes.push_str("The same check on other backends:\n");
        notes.push_str(&siblings.join("\n"));
        notes.push('\n');
    }
    notes
}

pub fn explain(id: Option<&str>) -> i32 {
    let Some(id) = id else {
        explain_overview();
        return 0;
    };
    if let Some(error) = berth_diagnostic::errors::input_error(id) {
        println!("{}", error.doc().trim_end());
        return 0;
    }
    // A rule's name without its backend is enough when only one backend has it.
    let by_name: Vec<&'static berth_diagnostic::Rule> = super::every_rule()
        .filter(|r| r.id.rsplit('/').next() == Some(id))
        .collect();
    let errors_by_name: Vec<&berth_diagnostic::errors::InputError> =
        berth_diagnostic::errors::INPUT_ERRORS
            .iter()
            .copied()
            .filter(|e| e.id.rsplit('/').next() == Some(id))
            .collect();
    if let ([], [only]) = (&by_name[..], &errors_by_name[..]) {
        println!("{}", only.doc().trim_end());
        return 0;
    }
    let found = super::every_rule()
        .find(|r| r.id == id)
        .or(match by_name[..] {
            [only] => Some(only),
            _ => None,
        });
    match found {
        Some(rule) => {
            explain_rule(rule);
            0
        }
        None if by_name.len() > 1 => {
            let ids: Vec<String> = by_name.iter().map(|r| format!("`{}`", r.id)).collect();
            eprintln!(
                "error[cli/usage]: several backends have a rule `{id}`\n  = help: name one: {}",
                ids.join(", ")
            );
            2
        }
        None => {
            unknown_rule(id);
            2
        }
    }
}

/// `berth explain` alone: the concerns, the backends and the spec's own rules.
fn explain_overview() {
    println!("berth checks how each backend realizes these concerns of a stateful service:\n");
    for concern in Concern::ALL {
        println!("  {:<18} {}", concern.name(), concern.meaning());
    }
    println!(
        "\nBackends (`berth diff SPEC` shows each one's realization; `berth rules --backend NAME` its rules):\n"
    );
    for backend in berth_compile::registry::all() {
        println!(
            "  {:<13} {} rules, backends/{}/README.md",
            backend.name(),
            backend.rules().len(),
            backend.name()
        );
        if let Some(status) = backend.status() {
            println!("  {:<13} note: {status}", "");
        }
    }
    println!(
        "\nThe spec's own rules: {}.",
        berth_compile::spec_rules::RULES
            .iter()
            .map(|r| format!("`{}`", r.id))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Run `berth explain RULE` for one rule's document.");
}

fn explain_rule(rule: &berth_diagnostic::Rule) {
    println!(
        "{}\n\n{}",
        rule.doc.trim_end(),
        per_backend_notes(rule).trim_end()
    );
    let backend = rule
        .id
        .split('/')
        .next()
        .and_then(berth_compile::registry::by_name);
    if let Some(status) = backend.and_then(|b| b.status()) {
        println!("\nNote: {status}.");
    }
}

fn unknown_rule(id: &str) {
    let ids: Vec<&str> = super::every_rule()
        .map(|r| r.id)
        .chain(berth_diagnostic::errors::INPUT_ERRORS.iter().map(|e| e.id))
        .collect();
    let help = match berth_diagnostic::closest(id, ids.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => "run `berth rules` to list every rule".to_string(),
    };
    eprintln!("error[cli/usage]: unknown rule `{id}`\n  = help: {help}");
}

pub fn rules(backend: Option<&str>, format: DocFormat) -> i32 {
    // The groups are the rules' prefixes: each backend, and `spec`, `plan` and `import`.
    let groups: std::collections::BTreeSet<&str> = super::every_rule()
        .filter_map(|r| r.id.split_once('/').map(|(group, _)| group))
        .collect();
    if let Some(name) = backend
        && !groups.contains(name)
    {
        let groups: Vec<&str> = groups.into_iter().collect();
        eprintln!(
            "error[cli/usage]: no rules of `{name}`\n  = help: use one of {}",
            berth_language::spec::backticked(&groups)
        );
        return 2;
    }
    let chosen: Vec<&Rule> = super::every_rule()
        .filter(|r| backend.is_none_or(|b| r.id.starts_with(&format!("{b}/"))))
        .collect();
    match format {
        DocFormat::Text => {
            for rule in chosen {
                println!("{:<44} {:<8} {}", rule.id, severity(rule), rule.summary);
            }
        }
        DocFormat::Markdown => print!("{}", markdown(&chosen)),
    }
    0
}

/// `docs/rules.md`: a table of every rule, then each rule's document with its per-backend notes.
pub fn markdown(rules: &[&Rule]) -> String {
    let mut out = String::from(
        "# Rules\n\nGenerated by `berth rules --format markdown`; do not edit (a test keeps it current).\n\n| id | severity | summary |\n|---|---|---|\n",
    );
    for rule in rules {
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            rule.id,
            rule.id.replace('/', ""),
            severity(rule),
            rule.summary
        ));
    }
    for rule in rules {
        // One heading level down, so each rule sits under this page's title.
        let doc = berth_output::diff::demoted(rule.doc);
        let notes = berth_output::diff::demoted(&per_backend_notes(rule));
        out.push_str(&format!("\n{}\n{}", doc.trim_end(), notes));
    }
    out.push_str("\n## Input errors\n\nNot rules: they stop the compile (exit 2), and `[[allow]]` cannot lift them; a few only warn, and\nthose marked as a bug of berth's stop it with exit 70.\n\n| id | meaning | fix |\n|---|---|---|\n");
    for error in berth_diagnostic::errors::INPUT_ERRORS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            error.id, error.summary, error.fix
        ));
    }
    out
}

pub fn schema() -> i32 {
    print!("{}", berth_compile::registry::json_schema());
    0
}

pub fn completions(shell: clap_complete::Shell) -> i32 {
    clap_complete::generate(
        shell,
        &mut super::command(),
        "berth",
        &mut std::io::stdout(),
    );
    0
}

pub fn man() -> i32 {
    match clap_mangen::Man::new(super::command()).render(&mut std::io::stdout()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot write the manual page: {e}");
            1
        }
    }
}
