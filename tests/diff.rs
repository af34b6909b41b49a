//! `berth diff`, the concern table every backend fills, `berth-report.json`, and drift checks
//! (`compile --check`, `diff --against`).

mod common;
use berth::compile::{Request, compile};
use berth::concern::Concern;
use common::*;
use std::process::Command;

#[test]
fn every_backend_reports_every_concern_once() {
    let mut specs = examples();
    specs.push((
        "everything".into(),
        root().join("tests/specs/everything.toml"),
    ));
    for (name, spec) in specs {
        let text = std::fs::read_to_string(&spec).unwrap();
        let targets = text
            .lines()
            .find(|l| l.starts_with("targets = "))
            .map_or(berth::backends::all().len(), |l| l.matches('"').count() / 2);
        let outcome = compile(&Request {
            spec,
            set: vec![],
            values: None,
            backends: vec![],
        });
        assert_eq!(outcome.outputs.len(), targets, "{name}");
        for output in &outcome.outputs {
            for concern in Concern::ALL {
                let count = output
                    .concerns
                    .iter()
                    .filter(|r| r.concern == concern)
                    .count();
                assert_eq!(
                    count,
                    1,
                    "{name}: {} reports {} {count} times",
                    output.backend,
                    concern.name()
                );
            }
            assert!(output.concerns.iter().all(|r| !r.detail.is_empty()));
        }
    }
}

#[test]
fn diff_tables_match_their_snapshots() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for (name, spec) in examples() {
            for format in ["text", "json", "markdown"] {
                let output = berth(
                    &["diff", spec.to_str().unwrap(), "--format", format],
                    &root(),
                );
                assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
                let text = stdout(&output);
                if format == "json" {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(
                        value["concerns"].as_array().unwrap().len(),
                        Concern::ALL.len()
                    );
                    assert!(value["concerns"][4]["backends"]["kubernetes"]["status"].is_string());
                }
                assert!(
                    !text.contains('\u{1b}'),
                    "no colour when stdout is not a terminal"
                );
                insta::assert_snapshot!(format!("{name}@diff-{format}"), text);
            }
        }
    });
}

#[test]
fn diff_of_files_compares_compose_with_swarm() {
    let output = berth(
        &[
            "diff",
            "examples/cockroachdb.toml",
            "--backend",
            "compose",
            "--backend",
            "swarm",
            "--files",
        ],
        &root(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let diff = stdout(&output);
    assert!(
        diff.starts_with("--- compose/compose.yaml\n+++ swarm/stack.yaml\n"),
        "{diff}"
    );
    assert!(
        diff.contains("-    restart: unless-stopped\n") && diff.contains("+    deploy:\n"),
        "{diff}"
    );
    assert!(diff.contains("only in swarm: prepare-nodes.sh"), "{diff}");
    let output = berth(&["diff", "examples/cockroachdb.toml", "--files"], &root());
    assert_eq!(
        output.status.code(),
        Some(2),
        "`--files` needs exactly two backends"
    );
}

#[test]
fn compile_check_passes_on_fresh_output_and_fails_after_one_byte_changes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    assert_eq!(
        berth(&["compile", spec, "--out", "out"], dir.path())
            .status
            .code(),
        Some(0)
    );
    let output = berth(&["compile", spec, "--out", "out", "--check"], dir.path());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());

    let sts = dir
        .path()
        .join("out/kubernetes/40-statefulset-cockroachdb.yaml");
    let mut bytes = std::fs::read(&sts).unwrap();
    let at = bytes.iter().position(|b| *b == b'3').unwrap();
    bytes[at] = b'4';
    std::fs::write(&sts, &bytes).unwrap();
    let before = tree(&dir.path().join("out"));
    let output = berth(&["compile", spec, "--out", "out", "--check"], dir.path());
    assert_eq!(output.status.code(), Some(3), "a stale directory exits 3");
    let diff = stdout(&output);
    assert!(
        diff.contains("--- a/kubernetes/40-statefulset-cockroachdb.yaml")
            && diff.lines().any(|l| l.starts_with('-') && l.contains('4')),
        "{diff}"
    );
    assert!(stderr(&output).contains("is stale"));
    assert_eq!(
        tree(&dir.path().join("out")),
        before,
        "--check writes nothing"
    );

    // A file berth no longer makes is drift too.
    let output = berth(
        &[
            "compile",
            spec,
            "--out",
            "out",
            "--backend",
            "kubernetes",
            "--check",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stdout(&output).contains("--- a/docker/run.sh\n+++ /dev/null"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn diff_against_a_directory_shows_what_a_change_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    assert_eq!(
        berth(
            &["compile", spec, "--out", "out", "--backend", "kubernetes"],
            dir.path()
        )
        .status
        .code(),
        Some(0)
    );
    let output = berth(
        &["diff", spec, "--backend", "kubernetes", "--against", "out"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).is_empty(),
        "no change, no diff: {}",
        stdout(&output)
    );
    let output = berth(
        &[
            "diff",
            spec,
            "--backend",
            "kubernetes",
            "--against",
            "out",
            "--set",
            "replicas=5",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let diff = stdout(&output);
    assert!(diff.contains("-  replicas: 3\n+  replicas: 5\n"), "{diff}");
    assert!(
        diff.contains("-  maxUnavailable: 1\n+  maxUnavailable: 2\n"),
        "{diff}"
    );
}

#[test]
fn the_report_matches_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut specs: Vec<String> = examples()
        .into_iter()
        .map(|(_, p)| p.display().to_string())
        .collect();
    specs.push(
        root()
            .join("tests/specs/everything.toml")
            .display()
            .to_string(),
    );
    let mut args: Vec<&str> = vec!["compile"];
    args.extend(specs.iter().map(String::as_str));
    args.extend(["--out", "out"]);
    let output = berth(&args, dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let path = dir.path().join("out/berth-report.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cockroach = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "cockroachdb")
        .unwrap();
    let kubernetes = &cockroach["backends"]["kubernetes"];
    assert!(
        kubernetes["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "cockroachdb/kubernetes/40-statefulset-cockroachdb.yaml")
    );
    // Without `[tls]`, no certificate names; with it, each member's stable name.
    assert_eq!(kubernetes["tls_names"], serde_json::json!([]));
    let everything = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "everything")
        .unwrap();
    assert!(
        everything["backends"]["kubernetes"]["tls_names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "everything-2.everything.everything-ns.svc.cluster.example"),
        "{}",
        everything["backends"]["kubernetes"]["tls_names"]
    );
    let etcd = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "etcd")
        .unwrap();
    let allowed = etcd["backends"]["docker"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "docker/health-check-without-shell")
        .unwrap();
    assert_eq!(allowed["severity"], "allowed");
    assert!(
        allowed["allowed_because"]
            .as_str()
            .unwrap()
            .contains("distroless")
    );
    let Some(check) = tool("check-jsonschema") else {
        return;
    };
    let schema = root().join("docs/berth-report.schema.json");
    let output = Command::new(&check)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"native\"", "\"nativ\"", 1),
    )
    .unwrap();
    let output = Command::new(&check)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "the schema accepted an unknown status"
    );
}

/// A Markdown reader would take `<name>` for an HTML tag and drop it, and `|` for a cell's end.
#[test]
fn markdown_cells_keep_angle_brackets_and_bars() {
    let spec = root().join("examples/etcd.toml");
    let output = berth(
        &["diff", spec.to_str().unwrap(), "--format", "markdown"],
        &root(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("&lt;name&gt;-&lt;ordinal&gt;-&lt;volume&gt;"),
        "{table}"
    );
    assert!(!table.contains("<name>"), "{table}");
}
