//! `berth diff`, the concern table every backend fills, `berth-report.json`, and drift checks
//! (`compile --check`, `diff --against`).

use crate::common::*;
use berth::compile::{Request, compile};
use berth::model::concern::Concern;

/// Every backend compiled reports each concern once, in the order of `Concern::ALL`, for every
/// spec: the typed table each backend fills guarantees it in the backend, and this holds the
/// compilation to passing it on.
#[test]
fn every_backend_reports_every_concern_in_order() {
    let mut specs = examples();
    specs.push((
        "everything".into(),
        root().join("tests/specs/everything.toml"),
    ));
    for (name, spec) in specs {
        let targets = targets(&spec).map_or(berth::compile::registry::all().len(), |t| t.len());
        let outcome = compile(&Request {
            spec,
            ..Request::default()
        });
        assert_eq!(outcome.outputs.len(), targets, "{name}");
        for output in &outcome.outputs {
            let reported: Vec<Concern> = output.concerns.iter().map(|r| r.concern).collect();
            assert_eq!(reported, Concern::ALL, "{name}: {}", output.backend);
            assert!(
                output.concerns.iter().all(|r| !r.detail.is_empty()),
                "{name}: {}",
                output.backend
            );
        }
    }
}

/// Each registered backend holds itself to its concern claims in its own folder: its
/// `claims.rs`, a test module of the backend's crate, runs `check_claims` against the files it
/// writes for every example spec. A backend added to the registry without one fails here.
#[test]
fn every_registered_backend_checks_its_claims_in_its_folder() {
    for backend in berth::compile::registry::all() {
        let folder = root().join("backends").join(backend.name());
        let module = std::fs::read_to_string(folder.join("mod.rs")).unwrap();
        assert!(
            module.contains("#[cfg(test)]\nmod claims;\n"),
            "backends/{}/mod.rs declares no `claims` test module",
            backend.name()
        );
        let claims = std::fs::read_to_string(folder.join("claims.rs")).unwrap_or_default();
        assert!(
            claims.contains("#[test]") && claims.contains("check_claims(&"),
            "backends/{}/claims.rs does not check the backend's claims",
            backend.name()
        );
    }
}

#[test]
fn diff_tables_match_their_snapshots() {
    snapshot_settings().bind(|| {
        for (name, spec) in examples() {
            for format in ["text", "json", "markdown"] {
                let output = berth_ok(
                    &["diff", spec.to_str().unwrap(), "--format", format],
                    &root(),
                );
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
    let output = berth_ok(
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
    let (dir, out) = compile_example("cockroachdb", &[]);
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    let output = compile_in(dir.path(), spec, &["--check"]);
    assert_exit(&output, 0, &[]);
    assert!(stdout(&output).is_empty());

    let sts = out.join("kubernetes/40-statefulset-cockroachdb.yaml");
    let mut bytes = std::fs::read(&sts).unwrap();
    let at = bytes.iter().position(|b| *b == b'3').unwrap();
    bytes[at] = b'4';
    std::fs::write(&sts, &bytes).unwrap();
    let before = tree(&dir.path().join("out"));
    let output = compile_in(dir.path(), spec, &["--check"]);
    assert_exit(&output, 3, &[]);
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
    let output = compile_in(dir.path(), spec, &["--backend", "kubernetes", "--check"]);
    assert_exit(&output, 3, &[]);
    assert_contains(&stdout(&output), "--- a/docker/run.sh\n+++ /dev/null");
}

#[test]
fn diff_against_a_directory_shows_what_a_change_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    compile_ok(dir.path(), spec, &["--backend", "kubernetes"]);
    let output = berth_ok(
        &["diff", spec, "--backend", "kubernetes", "--against", "out"],
        dir.path(),
    );
    assert!(
        stdout(&output).is_empty(),
        "no change, no diff: {}",
        stdout(&output)
    );
    let output = diff_kubernetes_with(dir.path(), spec, "replicas=5");
    assert_exit(&output, 0, &[]);
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
    berth_ok(&args, dir.path());
    let path = dir.path().join("out/berth-report.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cockroach = report_service(&report, "cockroachdb");
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
    let everything = report_service(&report, "everything");
    assert!(
        everything["backends"]["kubernetes"]["tls_names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "everything-2.everything.everything-ns.svc.cluster.example"),
        "{}",
        everything["backends"]["kubernetes"]["tls_names"]
    );
    let etcd = report_service(&report, "etcd");
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
    assert_schema_holds(&check, &schema, &[path], "\"native\"", "\"nativ\"");
}

/// A Markdown reader would take `<name>` for an HTML tag and drop it, and `|` for a cell's end.
#[test]
fn markdown_cells_keep_angle_brackets_and_bars() {
    let spec = root().join("examples/etcd.toml");
    let output = berth_ok(
        &["diff", spec.to_str().unwrap(), "--format", "markdown"],
        &root(),
    );
    let table = stdout(&output);
    assert!(
        table.contains("&lt;name&gt;-&lt;ordinal&gt;-&lt;volume&gt;"),
        "{table}"
    );
    assert!(!table.contains("<name>"), "{table}");
}

/// One service's entry in `berth-report.json`.
fn report_service<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap()
}
