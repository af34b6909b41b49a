//! The user's first hour: `init`, the JSON Schema, `explain`, `rules --format markdown`,
//! completions and the manual page, where a value came from, `--quiet`/`--verbose`/`--color`,
//! and the README's tour run command by command as a new user would.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const TEMPLATES: [&str; 7] = [
    "postgres",
    "cockroachdb",
    "etcd",
    "kafka",
    "redis",
    "rabbitmq",
    "elasticsearch",
];

#[test]
fn init_writes_a_spec_that_compiles_and_passes_every_rule() {
    for template in TEMPLATES {
        let dir = tempfile::tempdir().unwrap();
        let output = berth(&["init", "--from", template, "shop-db"], dir.path());
        assert_eq!(
            output.status.code(),
            Some(0),
            "{template}: {}",
            stderr(&output)
        );
        let spec = std::fs::read_to_string(dir.path().join("shop-db.toml")).unwrap();
        assert!(
            spec.starts_with("#:schema ./berth.schema.json\n# A berth spec, made by"),
            "{template}"
        );
        assert!(spec.contains("\nname = \"shop-db\"\n"));
        assert!(dir.path().join("berth.schema.json").exists());
        let output = berth(&["compile", "shop-db.toml", "--out", "deploy"], dir.path());
        assert_eq!(
            output.status.code(),
            Some(0),
            "{template}: {}",
            stderr(&output)
        );
        // Every warning the compile prints is one the file lists as still to decide, and the
        // file allows nothing with a reason still to be written.
        let said = stderr(&output);
        for line in said.lines().filter(|l| l.starts_with("warning[")) {
            let code = &line["warning[".len()..line.find(']').unwrap()];
            assert!(
                spec.contains(&format!("# - `{code}`: ")),
                "{template}: `{code}` warns but the spec does not list it"
            );
        }
        let listed = spec.lines().filter(|l| l.starts_with("# - `")).count();
        let warned: std::collections::BTreeSet<&str> =
            said.lines().filter(|l| l.starts_with("warning[")).collect();
        assert_eq!(
            listed,
            warned.len(),
            "{template}: the list and the warnings match"
        );
        assert!(
            !spec.contains("TODO"),
            "{template}: an `[[allow]]` hides a decision"
        );
        let check = berth(&["check", "shop-db.toml"], dir.path());
        assert_contains(&stderr(&check), &format!("{listed} warnings, "));
        assert!(stderr(&check).contains("allowed by `[[allow]]`"));
        let again = berth(&["init", "--from", template, "shop-db"], dir.path());
        assert_exit(&again, 2, &[]);
    }
    let dir = tempfile::tempdir().unwrap();
    let output = berth(&["init", "--from", "mongo"], dir.path());
    assert_exit(&output, 2, &["`cockroachdb`"]);
    assert_eq!(
        berth(&["init", "Bad_Name", "--from", "etcd"], dir.path())
            .status
            .code(),
        Some(2)
    );
    // Without `--from`, the name is the template: a `mongo` spec is not made from PostgreSQL's.
    let output = berth(&["init", "mongo"], dir.path());
    assert_exit(
        &output,
        2,
        &["no template `mongo`", "`berth init NAME --from TEMPLATE`"],
    );
    assert!(!dir.path().join("mongo.toml").exists());
    berth_ok(&["init", "etcd"], dir.path());
    let spec = std::fs::read_to_string(dir.path().join("etcd.toml")).unwrap();
    assert!(spec.contains("name = \"etcd\""), "{spec}");
}

#[test]
fn the_shipped_schema_is_current_and_every_example_matches_it() {
    let output = berth_ok(&["schema"], &root());
    let shipped = std::fs::read_to_string(root().join("berth.schema.json")).unwrap();
    assert_eq!(
        stdout(&output),
        shipped,
        "berth.schema.json is stale: run `berth schema > berth.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&shipped).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    for key in [
        "name",
        "params",
        "container",
        "ports",
        "volumes",
        "replication",
        "health",
        "resources",
        "lifecycle",
        "init",
        "tls",
        "backends",
        "allow",
    ] {
        assert!(
            schema["properties"][key]["description"].is_string(),
            "`{key}` has no description"
        );
    }
    let Some(check) = tool("check-jsonschema") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut specs = examples();
    specs.push((
        "everything".into(),
        root().join("tests/specs/everything.toml"),
    ));
    for (name, path) in specs {
        let text = std::fs::read_to_string(&path).unwrap();
        if name != "everything" {
            assert!(
                text.starts_with("#:schema ../berth.schema.json\n"),
                "{name} does not point editors at the schema"
            );
        }
        let value: toml::Value = toml::from_str(&text).unwrap();
        let json = dir.path().join(format!("{name}.json"));
        std::fs::write(&json, serde_json::to_string(&value).unwrap()).unwrap();
        files.push(json);
    }
    let schema = root().join("berth.schema.json");
    assert_schema_holds(&check, &schema, &files, "\"image\":", "\"imag\":");
}

/// The schema describes each registered backend's table, so that an editor completes its keys
/// and values and flags a value outside a closed set, an unknown key or an unknown backend.
#[test]
fn the_schema_describes_every_backend_table() {
    let shipped = std::fs::read_to_string(root().join("berth.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&shipped).unwrap();
    let backends = &schema["properties"]["backends"];
    assert_eq!(backends["additionalProperties"], false);
    let definition = |reference: &serde_json::Value| {
        let name = reference["$ref"].as_str().unwrap();
        schema["definitions"][name.trim_start_matches("#/definitions/")].clone()
    };
    for name in berth::compile::registry::names() {
        let table = definition(&backends["properties"][name]);
        assert_eq!(table["additionalProperties"], false, "{name}");
        for (key, property) in table["properties"].as_object().unwrap() {
            assert!(property["description"].is_string(), "{name}.{key}");
        }
    }
    let swarm = definition(&backends["properties"]["swarm"]);
    let order = definition(&swarm["properties"]["update_order"]["anyOf"][0]);
    assert_eq!(
        order["enum"],
        serde_json::json!(["stop-first", "start-first"])
    );

    let Some(check) = tool("check-jsonschema") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[backends.swarm]\nupdate_order = \"stop-first\"\npin = true\n",
        crate::cli::CLEAN
    );
    let value: toml::Value = toml::from_str(&text).unwrap();
    let json = dir.path().join("spec.json");
    std::fs::write(&json, serde_json::to_string(&value).unwrap()).unwrap();
    let schema = root().join("berth.schema.json");
    let files = [json];
    for (from, to) in [
        ("\"stop-first\"", "\"sideways\""),
        ("\"pin\":", "\"pinned\":"),
        ("\"swarm\":", "\"swarn\":"),
    ] {
        assert_schema_holds(&check, &schema, &files, from, to);
    }
}

#[test]
fn rules_markdown_is_current_and_explain_says_everything() {
    let output = berth_ok(&["rules", "--format", "markdown"], &root());
    assert_eq!(
        stdout(&output),
        std::fs::read_to_string(root().join("docs/rules.md")).unwrap(),
        "docs/rules.md is stale: run `berth rules --format markdown > docs/rules.md`"
    );
    let output = berth(&["explain", "docker/no-persistent-volume"], &root());
    let doc = stdout(&output);
    for section in [
        "## What it checks",
        "## Why it matters",
        "## Example that triggers it",
        "## Fix",
        "## Per-backend notes",
        "`kubernetes/no-persistent-volume`",
    ] {
        assert!(doc.contains(section), "explain lacks {section}:\n{doc}");
    }
    let output = berth_ok(&["explain"], &root());
    let overview = stdout(&output);
    for word in [
        "storage",
        "disruption-budget",
        "tls-names",
        "kubernetes",
        "cloudfoundry",
        "spec/literal-secret",
    ] {
        assert!(overview.contains(word), "{overview}");
    }
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let output = berth_ok(&["completions", shell], &root());
        assert!(
            stdout(&output).contains("compile") && stdout(&output).contains("--backend"),
            "{shell}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let bash = write(
        dir.path(),
        "berth.bash",
        &stdout(&berth(&["completions", "bash"], &root())),
    );
    assert!(
        Command::new("bash")
            .arg("-n")
            .arg(&bash)
            .status()
            .unwrap()
            .success()
    );
    let man = stdout(&berth(&["man"], &root()));
    assert!(man.starts_with(".ie") || man.contains(".TH berth"), "{man}");
    assert!(man.contains("compile"));
}

#[test]
fn a_diagnostic_says_where_a_parameter_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "prod.toml", "replicas = 4\n");
    let spec = root().join("examples/cockroachdb.toml");
    let output = berth(
        &[
            "check",
            spec.to_str().unwrap(),
            "--backend",
            "kubernetes",
            "--values",
            "prod.toml",
        ],
        dir.path(),
    );
    let said = stderr(&output);
    assert!(
        said.contains("warning[spec/quorum-size]")
            && said.contains("`params.replicas` is `4`, from --values (prod.toml:1:1)"),
        "{said}"
    );
    let output = berth(
        &[
            "check",
            spec.to_str().unwrap(),
            "--backend",
            "kubernetes",
            "--set",
            "replicas=2",
        ],
        dir.path(),
    );
    assert_contains(
        &stderr(&output),
        "`params.replicas` is `2`, from --set (--set:1:1)",
    );
}

#[test]
fn quiet_verbose_and_color() {
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let normal = berth(&["compile", spec, "--out", "a"], dir.path());
    assert!(stderr(&normal).contains("warning[") && stderr(&normal).contains("wrote "));
    assert!(stdout(&normal).is_empty(), "data only on stdout");
    let quiet = berth_ok(&["compile", spec, "--out", "b", "--quiet"], dir.path());
    assert!(stderr(&quiet).is_empty(), "{}", stderr(&quiet));
    let verbose = berth(&["compile", spec, "--out", "c", "--verbose"], dir.path());
    assert_contains(
        &stderr(&verbose),
        "wrote c/kubernetes/40-statefulset-cockroachdb.yaml",
    );
    let colored = berth(&["check", spec, "--color", "always"], dir.path());
    assert!(
        stderr(&colored).contains('\u{1b}'),
        "--color always colours"
    );
    assert!(
        !stderr(&berth(&["check", spec], dir.path())).contains('\u{1b}'),
        "not a terminal: no colour"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["diff", spec, "--color", "auto"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&output).contains('\u{1b}'));
    let output = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["diff", spec, "--color", "always"])
        .output()
        .unwrap();
    assert!(stdout(&output).contains("\u{1b}[32m"), "native is green");
}

/// `docs/backends.md`: every backend's README, in the order `berth diff` lists them.
fn backends_page() -> String {
    let mut page = String::from(
        "# Backends\n\nEach backend's README (`backends/NAME/README.md`), gathered; a test keeps this page current.\n",
    );
    for backend in berth::compile::registry::names() {
        let readme =
            std::fs::read_to_string(root().join("backends").join(backend).join("README.md"))
                .unwrap();
        let body = berth::output::diff::demoted(&readme);
        page.push_str(&format!("\n{}", body.trim_end()));
        page.push('\n');
    }
    page
}

const CLAIMS_BEGIN: &str = "<!-- claims: generated from concerns.rs by `BERTH_UPDATE_DOCS=1 cargo test --test suite first_hour` -->";
const CLAIMS_END: &str = "<!-- end of claims -->";

/// A backend's claim for each concern on tests/specs/everything.toml (which uses every key), as
/// `berth diff` reports them; each backend's `claims.rs` checks them against the files it writes.
fn claims_table(backend: &str) -> String {
    let outcome = berth::compile::compile(&berth::compile::Request {
        spec: root().join("tests/specs/everything.toml"),
        set: vec![],
        values: None,
        backends: vec![backend.to_string()],
        allow_read: vec![],
        deployed: None,
    });
    let mut table = format!("{CLAIMS_BEGIN}\n| concern | status | how |\n|---|---|---|\n");
    for claim in &outcome.outputs[0].concerns {
        table.push_str(&format!(
            "| {} | {} | {} |\n",
            claim.concern.name(),
            claim.status.name(),
            claim.detail.replace('|', "\\|")
        ));
    }
    table.push_str(CLAIMS_END);
    table
}

const RULES_BEGIN: &str = "<!-- rules: generated from rules.rs by `BERTH_UPDATE_DOCS=1 cargo test --test suite first_hour` -->";
const RULES_END: &str = "<!-- end of rules -->";

/// A backend's rules, as `berth rules --backend NAME` lists them.
fn rules_table(backend: &str) -> String {
    let mut table = format!("{RULES_BEGIN}\n| id | severity | summary |\n|---|---|---|\n");
    for rule in berth::compile::registry::by_name(backend).unwrap().rules() {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            rule.id,
            format!("{:?}", rule.severity).to_lowercase(),
            rule.summary.replace('|', "\\|")
        ));
    }
    table.push_str(RULES_END);
    table
}

/// `text` with the part from `begin` to `end` replaced by `generated`.
fn regenerate(text: &str, begin: &str, end: &str, generated: &str) -> String {
    let start = text.find(begin).unwrap_or_else(|| panic!("no `{begin}`"));
    let stop = text.find(end).unwrap_or_else(|| panic!("no `{end}`")) + end.len();
    format!("{}{generated}{}", &text[..start], &text[stop..])
}

/// Each backend README's claims and rules tables are what `concerns.rs` and `rules.rs` say.
#[test]
fn the_readme_claims_and_rules_tables_are_current() {
    for backend in berth::compile::registry::names() {
        let path = root().join("backends").join(backend).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let current = regenerate(&readme, CLAIMS_BEGIN, CLAIMS_END, &claims_table(backend));
        let current = regenerate(&current, RULES_BEGIN, RULES_END, &rules_table(backend));
        if std::env::var_os("BERTH_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            current,
            "backends/{backend}/README.md: the claims or rules table is stale: run `BERTH_UPDATE_DOCS=1 cargo test --test suite first_hour`"
        );
    }
}

#[test]
fn the_backends_page_is_current() {
    let path = root().join("docs/backends.md");
    if std::env::var_os("BERTH_UPDATE_DOCS").is_some() {
        std::fs::write(&path, backends_page()).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        backends_page(),
        "docs/backends.md is stale: run `BERTH_UPDATE_DOCS=1 cargo test --test suite first_hour`"
    );
}

/// The README's tour, run as a new user would: each `berth` command as written (with the binary
/// on PATH), in one fresh directory. Commands that need a cluster or images run as far as this
/// machine allows: `kubectl apply -k DIR` as `kubectl kustomize DIR`, `sh DIR/docker/run.sh`
/// against the recording fake docker (which checks every flag with the real docker CLI), `helm`
/// with Helm's own library (`tests/common/helm_cli.py`; `install` as a client-side dry run).
#[test]
fn the_readme_tour_works_for_a_new_user() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let tour = readme
        .split("## A five-minute tour")
        .nth(1)
        .expect("README has a tour")
        .split("\n## ")
        .next()
        .unwrap();
    let commands: Vec<&str> = tour
        .split("```sh\n")
        .skip(1)
        .flat_map(|block| block.split("```").next().unwrap().lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(commands.len() >= 6, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_berth")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for command in commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let output = match words.as_slice() {
            ["berth", ..] => Command::new("sh")
                .args(["-c", command])
                .current_dir(dir.path())
                .env("PATH", &path)
                .output()
                .unwrap(),
            ["kubectl", "apply", "-k", target] => {
                let Some(kubectl) = tool("kubectl") else {
                    continue;
                };
                Command::new(kubectl)
                    .args(["kustomize", target])
                    .current_dir(dir.path())
                    .output()
                    .unwrap()
            }
            ["helm", arguments @ ..] => {
                let Some(python) = crate::go_templates::python_with_helm() else {
                    continue;
                };
                let output = Command::new(python)
                    .arg(root().join("tests/common/helm_cli.py"))
                    .args(arguments)
                    .current_dir(dir.path())
                    .output()
                    .unwrap();
                if arguments[0] == "template" {
                    assert!(stdout(&output).contains("kind: StatefulSet"), "`{command}`");
                }
                output
            }
            ["sh", script] if script.ends_with("run.sh") => {
                let Some(fake) = FakeDocker::new() else {
                    continue;
                };
                fake.run(&dir.path().join(script), false);
                continue;
            }
            other => panic!("the tour has a command the test does not know how to run: {other:?}"),
        };
        assert!(
            output.status.success(),
            "`{command}` failed:\n{}{}",
            stdout(&output),
            stderr(&output)
        );
    }
}

/// The image build takes its package mirror from this machine's apt (a local mirror, a
/// proxy's address), as a user behind one needs; `BERTH_DEBIAN_MIRROR` overrides it.
#[test]
fn the_image_build_uses_the_mirror_apt_uses() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = |indextargets: &str, env: &[(&str, &str)]| {
        let fake = dir.path().join("apt-get");
        std::fs::write(&fake, format!("#!/bin/sh\nprintf '{indextargets}'\n")).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let output = Command::new("sh")
            .arg(root().join("tests/images/build.sh"))
            .arg("--mirror")
            .env("PATH", path)
            .env_remove("BERTH_DEBIAN_MIRROR")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output).trim().to_string()
    };
    let local = "http://mirror.example/debian-security/ bookworm-security\\nhttp://mirror.example/debian/ bookworm\\n";
    assert_eq!(mirror(local, &[]), "http://mirror.example/debian/");
    let other_release = "http://mirror.example/debian-security/ trixie-security\\nhttp://mirror.example/debian/ trixie\\n";
    assert_eq!(mirror(other_release, &[]), "http://mirror.example/debian/");
    let chosen = [("BERTH_DEBIAN_MIRROR", "http://chosen.example/debian")];
    assert_eq!(mirror(local, &chosen), "http://chosen.example/debian");
    assert_eq!(mirror("", &[]), "http://deb.debian.org/debian");
}
