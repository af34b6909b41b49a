//! The rule registry: ids are unique and well-formed, every rule has a document, and each
//! document's example spec triggers its rule while the fixed spec does not.

use berth::backend::plan::Deployed;
use berth::compile::{Request, compile};
use berth::diagnostic::Rule;
use berth::diagnostic::Severity;
use std::collections::BTreeSet;

/// The `toml` blocks of a document, but for those of its `## Deployed` section.
fn toml_blocks(doc: &str) -> Vec<String> {
    blocks(doc.split("## Deployed").next().unwrap(), "toml")
}

fn blocks(doc: &str, language: &str) -> Vec<String> {
    doc.split(&format!("```{language}\n"))
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

/// What a rule's example fires; `dotenv` is the `.env` beside an import rule's Compose file.
fn fired(rule: &Rule, spec: &str, dotenv: Option<&str>) -> Vec<(String, Severity)> {
    if rule.id.starts_with("import/") {
        return imported(spec, dotenv);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, spec).unwrap();
    // The spec's own rules run whatever the backend; compile those examples for one.
    let backend = match rule.id.split('/').next().unwrap() {
        "spec" => "kubernetes".to_string(),
        "plan" => return planned(rule, &path),
        backend => backend.to_string(),
    };
    let outcome = compile(&Request {
        spec: path,
        set: vec![],
        values: None,
        backends: vec![backend],
        allow_read: vec![],
        deployed: None,
    });
    assert!(
        !outcome.diagnostics.iter().any(|d| d.is_input_error()),
        "{}: the document's spec is invalid: {:?}",
        rule.id,
        outcome
            .diagnostics
            .iter()
            .map(|d| &d.message)
            .collect::<Vec<_>>()
    );
    outcome
        .diagnostics
        .iter()
        .map(|d| (d.code.clone(), d.severity))
        .collect()
}

/// What a plan's rule fires for `spec` against the deployment its document names (`## Deployed`;
/// else the spec itself with `replicas = 1`): every backend's rules about the change, then a plan
/// on compose.
fn planned(rule: &Rule, spec: &std::path::Path) -> Vec<(String, Severity)> {
    let deployed_spec = spec.with_file_name("deployed.toml");
    let (deployed_text, set) = match rule.doc.split_once("## Deployed") {
        Some((_, section)) => (blocks(section, "toml").remove(0), vec![]),
        None => (
            std::fs::read_to_string(spec).unwrap(),
            vec!["replicas=1".into()],
        ),
    };
    std::fs::write(&deployed_spec, deployed_text).unwrap();
    let deployed = compile(&Request {
        spec: deployed_spec,
        set,
        ..Request::default()
    });
    let files = deployed.outputs.into_iter().flat_map(|o| {
        let backend = o.backend;
        o.files
            .into_iter()
            .map(move |f| (format!("{backend}/{}", f.path), f.contents))
    });
    let mut deployed = Files(files.collect(), false);
    let mut fired = Vec::new();
    for (backends, plans) in [(vec![], false), (vec!["compose".to_string()], true)] {
        deployed.1 = plans;
        let outcome = compile(&Request {
            spec: spec.to_path_buf(),
            backends,
            deployed: Some(&deployed),
            ..Request::default()
        });
        assert!(
            !outcome.diagnostics.iter().any(|d| d.is_input_error()),
            "{}: the document's spec is invalid: {:?}",
            rule.id,
            outcome
                .diagnostics
                .iter()
                .map(|d| &d.message)
                .collect::<Vec<_>>()
        );
        fired.extend(
            outcome
                .diagnostics
                .iter()
                .map(|d| (d.code.clone(), d.severity)),
        );
    }
    fired
}

/// A deployment's files by their path below `--out`, and whether the backends add plans.
struct Files(std::collections::BTreeMap<String, String>, bool);

impl Deployed for Files {
    fn read(&self, path: &str) -> Option<String> {
        self.0.get(path).cloned()
    }

    fn plans(&self) -> bool {
        self.1
    }
}

/// What `berth import` finds in a Compose file, with a `.env` beside it if given.
fn imported(compose: &str, dotenv: Option<&str>) -> Vec<(String, Severity)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compose.yaml");
    std::fs::write(&path, compose).unwrap();
    if let Some(dotenv) = dotenv {
        std::fs::write(dir.path().join(".env"), dotenv).unwrap();
    }
    let import = berth::import::import(&path, &[]).unwrap_or_else(|(e, _)| {
        panic!("the document's Compose file does not import: {}", e.message)
    });
    import
        .findings
        .iter()
        .map(|d| (d.code.clone(), d.severity))
        .collect()
}

#[test]
fn rule_ids_are_unique_and_name_their_backend() {
    let mut seen = BTreeSet::new();
    // The spec's own rules are `spec/...`, `berth import`'s `import/...`.
    for (prefix, rules) in [
        ("spec/", berth::compile::spec_rules::RULES),
        ("import/", berth::import::rules::RULES),
    ] {
        for rule in rules {
            assert!(seen.insert(rule.id), "duplicate rule id {}", rule.id);
            assert!(
                rule.id.starts_with(prefix),
                "{} is not {prefix}...",
                rule.id
            );
        }
    }
    for backend in berth::compile::registry::all() {
        for rule in backend.rules() {
            assert!(seen.insert(rule.id), "duplicate rule id {}", rule.id);
            let (prefix, name) = rule.id.split_once('/').expect("ids are BACKEND/NAME");
            assert_eq!(
                prefix,
                backend.name(),
                "{} belongs to {}",
                rule.id,
                backend.name()
            );
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{} is not kebab-case",
                rule.id
            );
            assert!(
                rule.summary
                    .chars()
                    .find(|c| c.is_alphabetic())
                    .is_some_and(char::is_lowercase),
                "{}: summaries are lowercase",
                rule.id
            );
        }
    }
    assert!(seen.len() >= 10);
}

#[test]
fn every_rule_has_a_document_with_a_triggering_and_a_fixed_spec() {
    for rule in berth::cli::every_rule() {
        assert!(
            rule.doc.starts_with(&format!("# {}\n", rule.id)),
            "{}: the document starts with its id",
            rule.id
        );
        for section in [
            "## What it checks",
            "## Why it matters",
            "## Example that triggers it",
            "## Fix",
        ] {
            assert!(
                rule.doc.contains(section),
                "{}: document lacks `{section}`",
                rule.id
            );
        }
        // `berth import`'s rules are about Compose files: their examples are YAML.
        let language = if rule.id.starts_with("import/") {
            "yaml"
        } else {
            "toml"
        };
        // An import rule about `.env` gives it as a `dotenv` block before each Compose file.
        let dotenv = blocks(rule.doc, "dotenv");
        let blocks = match language {
            "toml" => toml_blocks(rule.doc),
            _ => blocks(rule.doc, language),
        };
        assert_eq!(
            blocks.len(),
            2,
            "{}: a triggering example and a fixed one",
            rule.id
        );
        let triggered = fired(rule, &blocks[0], dotenv.first().map(String::as_str));
        assert!(
            triggered.contains(&(rule.id.to_string(), rule.severity)),
            "{}: the example does not trigger it: {triggered:?}",
            rule.id
        );
        // A fix may be an `[[allow]]` recording why the rule does not apply: it then fires as allowed.
        let fixed = fired(rule, &blocks[1], dotenv.get(1).map(String::as_str));
        let acknowledged = blocks[1].contains(&format!("rule = \"{}\"", rule.id));
        assert!(
            !fixed.iter().any(|(code, severity)| code == rule.id
                && !(acknowledged && *severity == Severity::Allowed)),
            "{}: the fixed spec still triggers it",
            rule.id
        );
    }
}

/// Every rule about a spec; `berth import`'s are about a Compose file, which has no `[[allow]]`.
#[test]
fn allow_lifts_every_rule() {
    for rule in berth::cli::every_rule().filter(|r| !r.id.starts_with("import/")) {
        let spec = format!(
            "{}\n[[allow]]\nrule = \"{}\"\nreason = \"tested\"\n",
            toml_blocks(rule.doc)[0],
            rule.id
        );
        let triggered = fired(rule, &spec, None);
        assert!(
            triggered.contains(&(rule.id.to_string(), Severity::Allowed)),
            "{}: not lifted: {triggered:?}",
            rule.id
        );
    }
}

/// The examples compile on every backend; on Kubernetes, which can give every guarantee they ask
/// for, they pass every rule without a warning.
#[test]
fn the_examples_pass_every_rule() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let path = entry.unwrap().path();
        let outcome = compile(&Request {
            spec: path.clone(),
            set: vec![],
            values: None,
            backends: vec![],
            allow_read: vec![],
            deployed: None,
        });
        assert_eq!(outcome.exit_code(), 0, "{}", path.display());
        let kubernetes: Vec<&str> = outcome
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .filter(|c| c.starts_with("kubernetes/"))
            .collect();
        assert!(kubernetes.is_empty(), "{}: {kubernetes:?}", path.display());
    }
}

/// Input errors are statics, so the compiler refuses an undeclared one; each id is declared once,
/// and no id is both a rule and an input error: each diagnostic id is exactly one of the two.
#[test]
fn every_diagnostic_id_is_a_rule_or_a_declared_input_error() {
    let mut seen = std::collections::BTreeSet::new();
    for error in berth::diagnostic::errors::INPUT_ERRORS {
        assert!(seen.insert(error.id), "`{}` is declared twice", error.id);
    }
    assert!(seen.len() > 15);
    for error in berth::diagnostic::errors::INPUT_ERRORS {
        assert!(
            berth::cli::every_rule().all(|r| r.id != error.id),
            "`{}` is both",
            error.id
        );
    }
}

/// The software berth knows to refuse a secret file others can read, each way it is named.
#[test]
fn a_secret_file_its_software_refuses_is_an_error_naming_the_software() {
    let doc = berth::compile::spec_rules::SECRET_FILE_REFUSED.doc;
    let fixed = &toml_blocks(doc)[1];
    let readable = fixed.replace("mode = \"0400\"", "mode = \"0440\"");
    let cases = [
        (
            "the keyFile as `--keyFile=PATH`",
            readable.replace(
                "\"--keyFile\", \"/etc/mongo/keyfile\"",
                "\"--keyFile=/etc/mongo/keyfile\"",
            ),
            "MongoDB",
        ),
        (
            "the Erlang cookie",
            readable.replace(
                "/etc/mongo/keyfile\"\nsecret",
                "/var/lib/rabbitmq/.erlang.cookie\"\nsecret",
            ),
            "Erlang",
        ),
        (
            "an OpenSSH key",
            readable.replace(
                "/etc/mongo/keyfile\"\nsecret",
                "/home/app/.ssh/id_ed25519\"\nsecret",
            ),
            "OpenSSH",
        ),
    ];
    for (what, spec, software) in cases {
        let found = fired(
            &berth::compile::spec_rules::SECRET_FILE_REFUSED,
            &spec,
            None,
        );
        assert!(
            found.contains(&("spec/secret-file-refused".into(), Severity::Error)),
            "{what}: {found:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.toml"), &spec).unwrap();
        let out = crate::common::berth(
            &["check", "spec.toml", "--backend", "kubernetes"],
            dir.path(),
        );
        assert!(
            crate::common::stderr(&out).contains(software),
            "{what}: {}",
            crate::common::stderr(&out)
        );
    }
    // A secret file berth knows nothing of is a warning.
    let other = readable.replace("\"--keyFile\", \"/etc/mongo/keyfile\"", "\"--auth\"");
    let found = fired(
        &berth::compile::spec_rules::SECRET_FILE_REFUSED,
        &other,
        None,
    );
    assert!(
        found.contains(&("spec/secret-file-readable".into(), Severity::Warning)),
        "{found:?}"
    );
}

/// A variable no shell expands, one the init step's shell would not have, and one secret under
/// two names: each refused where it is written.
#[test]
fn an_init_variable_that_would_not_reach_its_program_is_refused() {
    let rule = &berth::compile::spec_rules::UNEXPANDED_VARIABLE;
    let fixed = &toml_blocks(rule.doc)[1];
    let code =
        |spec: &str| -> Vec<String> { fired(rule, spec, None).into_iter().map(|f| f.0).collect() };
    assert!(!code(fixed).contains(&"spec/unexpanded-variable".to_string()));
    let without_env = fixed.replace(
        "env = { MONGO_INITDB_ROOT_PASSWORD = { secret = \"mongo\", key = \"root-password\" } }\n",
        "",
    );
    let without_init_env = format!(
        "{without_env}\n[container.env]\nMONGO_INITDB_ROOT_PASSWORD = {{ secret = \"mongo\", key = \"root-password\" }}\n"
    );
    assert!(
        code(&without_init_env).contains(&"spec/unexpanded-variable".to_string()),
        "a member's variable the init's shell does not get"
    );
    // Lower-case or numbered `$` in a literal is text, not a variable.
    let text = fixed.replace("\"--bind_ip_all\"", "\"--price=$5\", \"--pw=pa$sword\"");
    assert!(!code(&text).contains(&"spec/unexpanded-variable".to_string()));
    let two_secrets = fixed.replace(
        "[init]",
        "[init]\n# the same variable name, another secret\n",
    );
    let two_secrets = two_secrets.replacen(
        "key = \"root-password\" } }\n\n[[ports]]",
        "key = \"other\" } }\n\n[[ports]]",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.toml"), &two_secrets).unwrap();
    let out = crate::common::berth(&["check", "spec.toml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        crate::common::stderr(&out)
    );
    assert!(
        crate::common::stderr(&out).contains("`init.env.MONGO_INITDB_ROOT_PASSWORD` names secret `mongo` key `root-password`, and `container.env.MONGO_INITDB_ROOT_PASSWORD` names secret `mongo` key `other`"),
        "{}",
        crate::common::stderr(&out)
    );
}
