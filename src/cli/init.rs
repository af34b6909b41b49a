//! `berth init`: a spec to start from, made from one of the examples, that compiles with no error.
//! A trade-off that holds for every deployment of the template is acknowledged with an
//! `[[allow]]` saying why; one that needs the user's decision stays a warning, listed in a comment
//! at the end of the file with what to check.

use super::{Format, Ui};
use berth_compile::{Request, compile_text};
use berth_diagnostic::errors;
use berth_diagnostic::{Diagnostic, Severity};
use std::path::Path;

/// The examples `--from` accepts.
const TEMPLATES: [(&str, &str); 9] = [
    ("postgres", include_str!("../../examples/postgres.toml")),
    (
        "cockroachdb",
        include_str!("../../examples/cockroachdb.toml"),
    ),
    ("etcd", include_str!("../../examples/etcd.toml")),
    ("kafka", include_str!("../../examples/kafka.toml")),
    ("redis", include_str!("../../examples/redis.toml")),
    ("rabbitmq", include_str!("../../examples/rabbitmq.toml")),
    (
        "elasticsearch",
        include_str!("../../examples/elasticsearch.toml"),
    ),
    ("mongodb", include_str!("../../examples/mongodb.toml")),
    ("zookeeper", include_str!("../../examples/zookeeper.toml")),
];

/// Why a warning is accepted in a fresh spec: the trade-offs that hold for every deployment of
/// the template. Other warnings need the user's decision and stay visible.
fn accepted_because(rule: &str) -> Option<&'static str> {
    Some(match rule.split_once('/').map_or(rule, |(_, name)| name) {
        "replicas-share-host" => {
            "docker and compose run every member on one host: they are for development; deploy with kubernetes or swarm to spread members"
        }
        "quorum-on-one-host" => {
            "one host is one failure domain: fine for development, not for production"
        }
        "rolling-push-shares-directory" => {
            "push with the default strategy (stop, then start), never with --strategy rolling"
        }
        "exec-health-check" => "Cloud Foundry runs this command check as a process check",
        _ => return None,
    })
}

/// What to check before a warning can be settled, for the comment that lists it.
fn to_decide(rule: &str) -> &'static str {
    match rule.split_once('/').map_or(rule, |(_, name)| name) {
        "health-check-needs-tool" => {
            "check that the image has the tools the health check needs (curl or wget, /bin/sh), or add `docker_exec`"
        }
        "spread-not-enforced" => "name one agent per member in `[backends.marathon] hosts`",
        "secret-as-file" => "check that the image reads `NAME_FILE`",
        _ => "read `berth explain` for this rule, then fix the spec or allow it with your reason",
    }
}

pub fn init(ui: &Ui, name: Option<&str>, template: Option<&str>, output: Option<&Path>) -> i32 {
    // Without `--from`, NAME must name a template: a spec of one software under another's name
    // would describe what it is not.
    let Some(template) = template.or(name) else {
        return ui.fail(no_template(None), Format::Human);
    };
    let name = name.unwrap_or(template);
    let default_path = format!("{name}.toml");
    let path = output.unwrap_or(Path::new(&default_path));
    let written = template_text(template)
        .and_then(|text| check_name(name).map(|()| text))
        .and_then(|text| refuse_existing(path).map(|()| text))
        .and_then(|text| {
            let made = make(name, template, text).map_err(|problems| {
                Diagnostic::input(
                    &errors::INIT_TEMPLATE,
                    format!("the `{template}` template does not pass its rules: {problems}"),
                )
            })?;
            super::write_new(path, &made.spec).map_err(|e| {
                Diagnostic::input(
                    &errors::CLI_IO,
                    format!("cannot write `{}`: {e}", path.display()),
                )
            })?;
            Ok(made.open)
        });
    match written {
        Ok(open) => {
            say_written(ui, path, open);
            0
        }
        Err(d) => ui.fail(d, Format::Human),
    }
}

fn template_text(template: &str) -> Result<&'static str, Diagnostic> {
    match TEMPLATES.iter().find(|(t, _)| *t == template) {
        Some((_, text)) => Ok(text),
        None => Err(no_template(Some(template))),
    }
}

fn no_template(template: Option<&str>) -> Diagnostic {
    let names: Vec<&str> = TEMPLATES.iter().map(|(t, _)| *t).collect();
    let message = match template {
        Some(template) => format!("no template `{template}`"),
        None => "name the service or the template to start from".to_string(),
    };
    Diagnostic::input(&errors::CLI_USAGE, message).help(format!(
        "use `--from` with one of {} (`berth init NAME --from TEMPLATE`)",
        berth_language::spec::backticked(&names)
    ))
}

fn check_name(name: &str) -> Result<(), Diagnostic> {
    berth_language::names::dns_label(name, 52)
        .and_then(|()| {
            if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                Ok(())
            } else {
                Err("must start with a letter".into())
            }
        })
        .map_err(|why| {
            Diagnostic::input(&errors::CLI_USAGE, format!("service name `{name}` {why}"))
                .help("use lowercase letters, digits and `-`, starting with a letter")
        })
}

/// A dangling symbolic link is refused too: writing would create its target, anywhere.
fn refuse_existing(path: &Path) -> Result<(), Diagnostic> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    Err(Diagnostic::input(
        &errors::CLI_USAGE,
        format!(
            "`{}` exists; berth init never overwrites a file",
            path.display()
        ),
    )
    .help("choose another NAME or `--output FILE`"))
}

/// Writes the schema beside the spec for editors (unless a file is there), and says what next.
fn say_written(ui: &Ui, path: &Path, open: usize) {
    let schema = path
        .parent()
        .unwrap_or(Path::new("."))
        .join("berth.schema.json");
    if super::write_new(&schema, &berth_compile::registry::json_schema()).is_ok() {
        ui.info(&format!(
            "wrote {} (for editors: the spec's first line points at it)",
            schema.display()
        ));
    }
    ui.info(&format!(
        "wrote {}: compile it with `berth compile {} --out deploy`",
        path.display(),
        path.display()
    ));
    if open > 0 {
        ui.info(&format!(
            "{open} rules still warn: the end of {} says what to check, and `berth check {}` shows them",
            path.display(),
            path.display()
        ));
    }
}

/// A spec made by `init`, and how many rules it leaves to decide.
pub struct Made {
    pub spec: String,
    pub open: usize,
}

/// The template with the service's name, a header, an `[[allow]]` for each accepted trade-off and
/// a comment listing the warnings left to decide; checked to compile with no error and no other
/// warning.
pub fn make(name: &str, template: &str, text: &str) -> Result<Made, String> {
    // The service's `name` is the first `name = ` line, before any table.
    let mut named = false;
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("#:schema"))
        .map(|l| {
            if !named && l.starts_with("name = ") {
                named = true;
                format!("name = \"{name}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>()
        .replace(&format!("\"{template}-nfs\""), &format!("\"{name}-nfs\""));
    let mut spec = format!(
        "#:schema ./berth.schema.json\n# A berth spec, made by `berth init --from {template}`. The spec language: docs/spec.md.\n# `berth check {name}.toml` runs every rule; `berth diff {name}.toml` shows what each orchestrator makes of it.\n\n{body}"
    );
    let request = Request {
        spec: format!("{name}.toml").into(),
        set: vec![],
        values: None,
        backends: vec![],
        allow_read: vec![],
        deployed: None,
    };
    let warnings: Vec<String> = {
        let outcome = compile_text(&request, spec.clone());
        let mut codes: Vec<String> = outcome
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .map(|d| d.code.clone())
            .collect();
        codes.sort();
        codes.dedup();
        codes
    };
    let (accepted, open): (Vec<&String>, Vec<&String>) = warnings
        .iter()
        .partition(|rule| accepted_because(rule).is_some());
    if !accepted.is_empty() {
        spec.push_str("\n# What some backends cannot give this service, accepted here. Remove an entry to see its\n# warning again; `berth explain RULE` says why it matters.\n");
        for rule in &accepted {
            let reason = accepted_because(rule).unwrap_or_default();
            spec.push_str(&format!(
                "\n[[allow]]\nrule = \"{rule}\"\nreason = \"{reason}\"\n"
            ));
        }
    }
    if !open.is_empty() {
        spec.push_str(
            "\n# Still to decide: `berth check` warns about these until the spec settles them.\n",
        );
        for rule in &open {
            spec.push_str(&format!("# - `{rule}`: {}\n", to_decide(rule)));
        }
    }
    let outcome = compile_text(&request, spec.clone());
    let unexpected: Vec<&str> = outcome
        .diagnostics
        .iter()
        .filter(|d| {
            d.severity == Severity::Error
                || (d.severity == Severity::Warning && !open.contains(&&d.code))
        })
        .map(|d| d.code.as_str())
        .collect();
    if unexpected.is_empty() {
        Ok(Made {
            spec,
            open: open.len(),
        })
    } else {
        Err(unexpected.join(", "))
    }
}
