//! Grammars of the names a spec gives that reach a script, a path or an orchestrator's object
//! name: checked here once, so a name either fits every place it lands or is refused.

/// What a secret's name or key may be: it becomes a Kubernetes Secret name or key, a file name
/// under run.sh's `secrets/` folder, and a Swarm secret name.
pub const SECRET_PART_HELP: &str = "use letters, digits, `-`, `.` and `_`, starting with a letter or digit, at most 253 characters";

/// A secret's name or key: `[A-Za-z0-9][A-Za-z0-9._-]*`, so never `.`, `..` (a path that leaves
/// its folder) or a leading `-` (an option).
pub fn secret_part(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("is empty or longer than 253 characters".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("does not start with a letter or digit".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err("holds a character other than letters, digits, `-`, `.` and `_`".into());
    }
    Ok(())
}

/// Kubernetes' env name rule, `[-._a-zA-Z][-._a-zA-Z0-9]*`, which every other backend accepts
/// too (dotted names are how images such as Elasticsearch take settings), less a leading `-`:
/// start scripts pass variables through `env NAME=value`, where such a name is an option.
pub fn env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit() || c == '-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A POSIX shell variable name, `[A-Za-z_][A-Za-z0-9_]*`: the only names a value can be taken
/// from the caller's environment under (run.sh's `--env NAME`, compose's `.env`).
pub fn shell_variable(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variables the scripts berth writes (`run.sh`, `plan.sh`, `deploy.sh`, ...) assign or read
/// as their own: a secret of such a name, which those scripts take from the caller's environment,
/// would be replaced by theirs. `tests/suite/hostile_spec.rs` finds every one in the scripts.
pub const SCRIPT_VARIABLES: [&str; 83] = [
    "attached",
    "availability",
    "base",
    "config",
    "container",
    "containers",
    "current",
    "deploy_options",
    "detach",
    "disable",
    "domain",
    "done_check",
    "embed",
    "encrypted",
    "entrypoint",
    "expandable",
    "found",
    "free",
    "group",
    "here",
    "host",
    "i",
    "id",
    "id_field",
    "image",
    "index",
    "job",
    "job_file",
    "job_label",
    "job_state",
    "job_status",
    "job_waited",
    "jobs",
    "jsonpath",
    "label",
    "label_prefix",
    "labels",
    "listed",
    "maker",
    "member",
    "member_id",
    "members",
    "method",
    "n",
    "name",
    "name_field",
    "namespace",
    "network",
    "new",
    "node",
    "nodes",
    "old",
    "other",
    "owner",
    "path",
    "previous_update",
    "project",
    "ready",
    "run_id",
    "s",
    "seen",
    "separator",
    "service",
    "settle",
    "shared_network",
    "spread_required",
    "stack",
    "state",
    "target",
    "template",
    "timeout",
    "token",
    "tries",
    "type",
    "update",
    "user",
    "volume",
    "volumes",
    "wait",
    "waited",
    "what",
    "x",
    "y",
];

/// Why the scripts berth writes, which take a secret from the caller's environment under its
/// variable's name, cannot take one named `name`: it is one of their own variables, or one the
/// shell or the programs they run read.
pub fn reserved_in_scripts(name: &str) -> Option<&'static str> {
    const READ_BY_THE_SCRIPTS: [&str; 20] = [
        "PATH",
        "HOME",
        "IFS",
        "PWD",
        "OLDPWD",
        "ENV",
        "CDPATH",
        "PS1",
        "PS2",
        "PS4",
        "PPID",
        "LINENO",
        "OPTIND",
        "OPTARG",
        "SHELL",
        "BASH_ENV",
        "KUBECONFIG",
        "MARATHON_URL",
        "METRONOME_URL",
        "DCOS_TOKEN",
    ];
    const PREFIXES: [&str; 3] = ["DOCKER_", "COMPOSE_", "LD_"];
    if SCRIPT_VARIABLES.contains(&name) {
        Some("is a variable of berth's own scripts")
    } else if READ_BY_THE_SCRIPTS.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)) {
        Some("is read by the shell or a program the scripts run")
    } else {
        None
    }
}

/// A DNS-1123 label of at most `max` characters.
pub fn dns_label(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "is {} characters long, more than {max}",
            name.len()
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("may only hold lowercase letters, digits and `-`".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("may not start or end with `-`".into());
    }
    Ok(())
}

/// A network other services share (`network.name`): a DNS label that is none of the networks
/// Docker makes itself (which take no aliases) and no namespace Kubernetes keeps for itself.
pub fn shared_network(name: &str) -> Result<(), String> {
    dns_label(name, 63)?;
    const DOCKER: [&str; 5] = ["bridge", "host", "none", "ingress", "docker-gwbridge"];
    if DOCKER.contains(&name) {
        return Err("is a network Docker makes itself".into());
    }
    if name.starts_with("kube-") {
        return Err("is a namespace Kubernetes keeps for itself".into());
    }
    Ok(())
}

/// An IANA service name, which Kubernetes requires for named ports.
pub fn port_name(name: &str) -> Result<(), String> {
    dns_label(name, 15)?;
    if name.contains("--") {
        return Err("may not contain `--`".into());
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return Err("needs at least one letter".into());
    }
    Ok(())
}

pub fn absolute_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("is not absolute".into());
    }
    if path == "/" {
        return Err("is the root directory".into());
    }
    if path.ends_with('/') {
        return Err("ends with `/`: it names a directory, not a file".into());
    }
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err("contains `.` or `..`".into());
    }
    if path.chars().any(|c| c.is_control() || c == ':' || c == ',') {
        return Err(
            "contains a control character, `:` or `,`, which docker's and Kubernetes' mount syntax cannot carry"
                .into(),
        );
    }
    Ok(())
}

/// A DNS subdomain name, optionally with a leading `*.` wildcard.
pub fn dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    name.len() <= 253 && name.split('.').all(|label| dns_label(label, 63).is_ok())
}

/// Docker's rule for a volume name: two or more of letters, digits, `_`, `.` and `-`, the first
/// a letter or digit.
pub fn docker_volume(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parts_never_leave_their_folder_or_read_as_options() {
        for bad in ["", ".", "..", "-x", "--split-string", "a/b", "a b", "x\"y"] {
            assert!(secret_part(bad).is_err(), "{bad}");
        }
        for good in ["db", "tls.crt", "a_b-c.1"] {
            assert!(secret_part(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn only_shell_variable_names_carry_secrets() {
        assert!(shell_variable("DB_PASSWORD") && shell_variable("_x1"));
        for bad in ["db.password", "A-B", "1A", "", "--split-string"] {
            assert!(!shell_variable(bad), "{bad}");
        }
    }
}
