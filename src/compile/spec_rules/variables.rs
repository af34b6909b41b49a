//! `spec/unexpanded-variable`: a `$NAME` in a command line that no shell expands, or that a shell
//! expands in a process that was not given the variable.

use super::UNEXPANDED_VARIABLE;
use berth_diagnostic::Diagnostic;
use berth_model::{EnvVar, Service, Template};

/// The programs that expand `$NAME` in the script they are given with `-c`.
const SHELLS: [&str; 6] = ["sh", "bash", "dash", "ash", "zsh", "ksh"];

pub fn check(service: &Service) -> Vec<Diagnostic> {
    let container = &service.container;
    let mut found = Vec::new();
    let argv: Vec<&Template> = container.command.iter().chain(&container.args).collect();
    found.extend(check_argv(
        service,
        "the container's command",
        &argv,
        &container.env,
    ));
    if let Some(init) = &service.init {
        let argv: Vec<&Template> = init.command.iter().collect();
        found.extend(check_argv(service, "the init step", &argv, &init.env));
    }
    found
}

/// `argv` run with `env`: a literal `$NAME` where no shell runs it; where one does, a variable
/// the spec gives the members but not this process.
fn check_argv(
    service: &Service,
    process: &str,
    argv: &[&Template],
    env: &[EnvVar],
) -> Vec<Diagnostic> {
    let defined = |name: &str| env.iter().any(|v| v.name == name);
    let members_have = |name: &str| service.container.env.iter().any(|v| v.name == name);
    let shell = runs_a_shell(argv);
    let mut found = Vec::new();
    for word in argv {
        for (name, written) in variables(&word.source) {
            let meant = defined(&name) || members_have(&name) || looks_like_a_variable(&name);
            if !shell && meant {
                found.push(UNEXPANDED_VARIABLE.fire(
                    service,
                    word.span.clone(),
                    format!("`{written}` reaches {process} as the text `{written}`: no shell runs this command, so nothing puts the variable's value there"),
                    "passed through as text",
                    format!("run it through a shell (`[\"sh\", \"-c\", \"... \\\"${name}\\\"\"]`) with `{name}` in its environment, or write the value"),
                ));
            } else if shell && !defined(&name) && members_have(&name) {
                found.push(UNEXPANDED_VARIABLE.fire(
                    service,
                    word.span.clone(),
                    format!("`{name}` is in `[container.env]` but not in `[init.env]`: the init step gets only its own variables, so its shell expands `{written}` to nothing"),
                    "not in the init step's environment",
                    format!("add `{name}` under `[init.env]`, in the form `[container.env]` gives it"),
                ));
            }
        }
    }
    found
}

/// Whether `argv` is `sh -c SCRIPT` (or another shell, or flags such as `-ec`).
fn runs_a_shell(argv: &[&Template]) -> bool {
    let Some(program) = argv.first() else {
        return false;
    };
    let name = program.source.rsplit('/').next().unwrap_or_default();
    SHELLS.contains(&name)
        && argv[1..].iter().any(|a| {
            let flag = a.source.as_str();
            flag.starts_with('-') && !flag.starts_with("--") && flag.contains('c')
        })
}

/// An upper-case name such as `MONGO_PASSWORD`: a variable, where `$pw` or `$1` in a literal
/// may be meant as text.
fn looks_like_a_variable(name: &str) -> bool {
    name.len() > 1
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The names written `$NAME`, `${NAME}` or `$(NAME)` (Kubernetes' form) in `text`, each with
/// its written form.
fn variables(text: &str) -> Vec<(String, String)> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let (open, close) = match bytes.get(i + 1) {
            Some(b'{') => (1, Some(b'}')),
            Some(b'(') => (1, Some(b')')),
            _ => (0, None),
        };
        let start = i + 1 + open;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let named = end > start && !bytes[start].is_ascii_digit();
        let closed = close.is_none_or(|c| bytes.get(end) == Some(&c));
        if named && closed {
            let written_end = if close.is_some() { end + 1 } else { end };
            names.push((
                text[start..end].to_string(),
                text[i..written_end].to_string(),
            ));
        }
        i = end.max(i + 1);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::variables;

    #[test]
    fn every_form_of_a_variable_is_found_and_nothing_else() {
        let found = variables("-p $PW ${USER}x $(POD) $$ $1 a$ ${X");
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        let written: Vec<&str> = found.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(names, ["PW", "USER", "POD"]);
        assert_eq!(written, ["$PW", "${USER}", "$(POD)"]);
        assert!(variables("pa$$word and 100$").is_empty());
    }
}
