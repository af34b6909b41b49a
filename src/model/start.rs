//! Start scripts that put `[[files]]` in place before the image's process starts: for
//! orchestrators whose mounts cannot give a file its owner and mode (docker run, compose and
//! Kubernetes bind or project files as they are), and for those that cannot mount file content at
//! all (Marathon, Cloud Foundry). The script runs under the image's `/bin/sh`, then `exec`s the
//! process the spec names, so the image's own entrypoint still runs.

use crate::shell::shell_quote;
use berth_diagnostic::errors;

/// Where a file's bytes come from when the script runs.
pub enum Source {
    /// Text written by the script: a shell word, so that it may expand a variable such as
    /// Cloud Foundry's instance index.
    Word(String),
    /// A file mounted elsewhere in the container.
    Mounted(String),
    /// An environment variable holding the content (a secret the platform injects).
    Variable(String),
}

/// One file the script puts in place.
pub struct Placement {
    pub path: String,
    pub source: Source,
    pub mode: u32,
    pub owner: Option<u32>,
}

/// Shell steps that put each file in place, to be joined with `&&`. A file from an earlier start
/// is removed first: it may be read-only to its owner.
pub fn steps(placements: &[Placement]) -> Vec<String> {
    let mut steps = Vec::new();
    for placement in placements {
        let path = shell_quote(&placement.path);
        let dir = placement.path.rsplit_once('/').map_or("/", |(dir, _)| dir);
        if !dir.is_empty() {
            steps.push(format!("mkdir -p {}", shell_quote(dir)));
        }
        steps.push(format!("rm -f {path}"));
        steps.push(match &placement.source {
            Source::Word(word) => format!("printf '%s' {word} > {path}"),
            Source::Mounted(from) => format!("cp {} {path}", shell_quote(from)),
            Source::Variable(name) => format!("printf '%s' \"${name}\" > {path}"),
        });
        if let Some(owner) = placement.owner {
            steps.push(format!("chown {owner} {path}"));
        }
        steps.push(format!("chmod {:04o} {path}", placement.mode));
    }
    steps
}

/// The argv that runs `steps` and then `argv` (the spec's command and args) in their place:
/// `/bin/sh -c 'STEPS && exec "$0" "$@"' argv...`.
pub fn wrap(steps: &[String], argv: Vec<String>) -> Vec<String> {
    let mut wrapped = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        format!("{} && exec \"$0\" \"$@\"", steps.join(" && ")),
    ];
    wrapped.extend(argv);
    wrapped
}

/// The longest single argument Linux passes to a program (`MAX_ARG_STRLEN`, 32 pages, with its
/// closing NUL): a start script that carries file contents inline must fit in it.
pub const ARGUMENT_LIMIT: usize = 128 * 1024 - 1;

/// Refuses a start script longer than one argument can be: `exec` would fail on every start
/// with "argument list too long", on a platform where berth cannot show the error.
pub fn check_length(
    service: &crate::Service,
    backend: &str,
    script: &str,
) -> Result<(), berth_diagnostic::Diagnostic> {
    if script.len() <= ARGUMENT_LIMIT {
        return Ok(());
    }
    Err(berth_diagnostic::Diagnostic::input(
        &errors::SPEC_LIMIT,
        format!(
            "{backend}: the start command that writes `[[files]]` is {} KiB, over the {} KiB Linux allows in one argument",
            script.len() / 1024,
            (ARGUMENT_LIMIT + 1) / 1024
        ),
    )
    .at(service.files.first().and_then(|f| f.span.clone()), "written by the start command")
    .help("make the files smaller, or put large content in the image or a volume"))
}

/// Each of the service's files as a start script writes it, for platforms that mount no file
/// content: the text as the shell word `word` makes of it, a secret from the variable that
/// `secret_variable(index, secret, key)` declares and names.
pub fn written(
    service: &crate::Service,
    identity: &crate::Identity,
    word: impl Fn(&str) -> String,
    mut secret_variable: impl FnMut(usize, &str, &str) -> String,
) -> Result<Vec<Placement>, berth_diagnostic::Diagnostic> {
    let mut placements = Vec::new();
    for (index, file) in service.files.iter().enumerate() {
        let source = match &file.body {
            crate::FileBody::Content(t) => Source::Word(word(&service.render(t, identity)?)),
            crate::FileBody::Secret { secret, key } => {
                Source::Variable(secret_variable(index, secret, key))
            }
        };
        placements.push(Placement {
            path: file.path.clone(),
            source,
            mode: file.mode,
            owner: file.owner,
        });
    }
    Ok(placements)
}

/// Whether a start script can run in this service's image before its process: the image has a
/// shell, and the spec names the process (`container.command`), which the script must `exec`.
pub fn possible(service: &crate::Service) -> bool {
    service.container.shell != Some(false) && !service.container.command.is_empty()
}

/// Each member's own identity among `runtime`'s members, for [`computable_at_run_time`]: made
/// once for all the templates it checks, since each builds its rendering context once.
pub fn own_identities<'a>(runtime: &crate::Identity<'a>) -> Vec<crate::Identity<'a>> {
    let members = runtime.peers;
    members
        .iter()
        .map(|m| crate::Identity::new(Some(m), members))
        .collect()
}

/// Whether the platform computes `template` right for every member at run time: its rendering
/// with the platform's stand-ins (`runtime`), each stand-in replaced by `unmark` with a member's
/// value, is that member's own rendering (as `own`, [`own_identities`]). `{{add self.ordinal 1}}`
/// or `{{#if (eq self.ordinal "0")}}` are not: the platform only substitutes the stand-in's text.
pub fn computable_at_run_time(
    service: &crate::Service,
    template: &crate::Template,
    runtime: &crate::Identity,
    own: &[crate::Identity],
    unmark: impl Fn(&str, &crate::Member) -> String,
) -> bool {
    // Only `self` differs between members: a template that never names it renders alike.
    if !template.names_self() {
        return true;
    }
    let Ok(marked) = service.render(template, runtime) else {
        return false;
    };
    debug_assert_eq!(
        own.len(),
        runtime.peers.len(),
        "an identity for each member"
    );
    runtime.peers.iter().zip(own).all(|(m, identity)| {
        service
            .render(template, identity)
            .is_ok_and(|rendered| unmark(&marked, m) == rendered)
    })
}

/// A shell step that `exec`s each member's own command line (words already quoted for the
/// shell), chosen by `selector`, a shell word that expands to the member's ordinal: values that
/// the platform cannot compute per member are computed by berth, one line per member.
pub fn exec_per_member(selector: &str, lines: &[(String, String)]) -> String {
    let mut step = format!("case {selector} in ");
    for (ordinal, line) in lines {
        step += &format!("{ordinal}) exec {line} ;; ");
    }
    step + "*) echo 'berth: no command line for this member' >&2; exit 1 ;; esac"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_places_each_file_and_then_runs_the_process() {
        let steps = steps(&[Placement {
            path: "/var/lib/app/.cookie".into(),
            source: Source::Mounted("/run/secrets/app.cookie".into()),
            mode: 0o400,
            owner: Some(999),
        }]);
        let argv = wrap(&steps, vec!["docker-entrypoint.sh".into(), "it's".into()]);
        assert_eq!(
            argv[2],
            "mkdir -p /var/lib/app && rm -f /var/lib/app/.cookie && cp /run/secrets/app.cookie /var/lib/app/.cookie && chown 999 /var/lib/app/.cookie && chmod 0400 /var/lib/app/.cookie && exec \"$0\" \"$@\""
        );
        assert_eq!(&argv[3..], ["docker-entrypoint.sh", "it's"]);
    }
}
