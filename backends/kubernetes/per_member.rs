//! Values that differ per member in a way one pod template cannot say. The template substitutes
//! the pod's name and ordinal as text (`$(BERTH_POD_ORDINAL)`); `{{add self.ordinal 1}}` or a
//! condition on the ordinal needs arithmetic or logic at run time. berth knows every member when it
//! compiles, so it writes each member's command line into the start script, chosen by the pod's
//! ordinal: the image needs `/bin/sh`, and `container.command`, which the script `exec`s.

use berth_diagnostic::{Diagnostic, errors};
use berth_model::shell::shell_quote;
use berth_model::start::{computable_at_run_time, exec_per_member, own_identities, steps};
use berth_model::{EnvValue, Identity, Member, Service, Template};

/// The command that starts each member with its own command line, and the variables it sets
/// (which the pod template then leaves out); `None` when the pod template can say everything.
pub struct PerMember {
    pub command: Vec<String>,
    pub variables: Vec<String>,
}

/// `runtime` is the identity of stand-ins; `unmark` puts a member's values in their place;
/// `placements` are the files the start script puts in place first.
pub fn start(
    service: &Service,
    runtime: &Identity,
    unmark: &dyn Fn(&str, &Member) -> String,
    placements: &[berth_model::start::Placement],
    ordinal_variable: &str,
) -> Result<Option<PerMember>, Vec<Diagnostic>> {
    // A string that reads `self` in a helper or a condition takes the start script even where
    // these values leave it out: the pod template keeps one shape for every value set, as a
    // chart of the spec computes it.
    let own = own_identities(runtime);
    let computable = |t: &Template| {
        !berth_language::template::self_computed(&t.source)
            && computable_at_run_time(service, t, runtime, &own, unmark)
    };
    let container = &service.container;
    let argv_computable = container
        .command
        .iter()
        .chain(&container.args)
        .all(computable);
    let variables: Vec<&berth_model::EnvVar> = container
        .env
        .iter()
        .filter(|v| matches!(&v.value, EnvValue::Literal(t) if !computable(t)))
        .collect();
    if argv_computable && variables.is_empty() {
        return Ok(None);
    }
    if !berth_model::start::possible(service) {
        return Err(vec![not_possible(
            service,
            variables.first().map(|v| &v.span),
        )]);
    }
    let mut lines = Vec::new();
    for (member, own) in runtime.peers.iter().zip(&own) {
        let mut words: Vec<String> = Vec::new();
        for var in &variables {
            if let EnvValue::Literal(t) = &var.value {
                let value = service.render(t, own).map_err(|d| vec![d])?;
                words.push(shell_quote(&format!("{}={value}", var.name)));
            }
        }
        if !words.is_empty() {
            words.insert(0, "env".into());
        }
        let argv = service.render_argv(own).map_err(|d| vec![d])?;
        words.extend(argv.iter().map(|w| shell_quote(w)));
        lines.push((member.ordinal.clone(), words.join(" ")));
    }
    let mut script = steps(placements);
    script.push(exec_per_member(&format!("\"${ordinal_variable}\""), &lines));
    Ok(Some(PerMember {
        command: vec!["/bin/sh".into(), "-c".into(), script.join(" && ")],
        variables: variables.iter().map(|v| v.name.clone()).collect(),
    }))
}

fn not_possible(
    service: &Service,
    span: Option<&Option<berth_diagnostic::source::Span>>,
) -> Diagnostic {
    Diagnostic::input(
        &errors::SPEC_INVALID_VALUE,
        "kubernetes: a value differs per member in a way one pod template cannot compute (arithmetic or a condition on `self`), and berth can only write each member's value into a start script, which needs `/bin/sh` and `container.command`",
    )
    .at(
        span.cloned().flatten().or(service.container.span.clone()),
        "differs per member",
    )
    .help("set `container.command` to the image's entrypoint and `shell = true` if the image has `/bin/sh`; or use `self.ordinal` or `self.name` unchanged, which Kubernetes substitutes")
}
