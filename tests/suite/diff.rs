//! `berth diff`, the concern table every backend fills, `berth-report.json`, and drift checks
//! (`compile --check`, `diff --against`).

use crate::common::*;
use berth::compile::{Request, compile};
use berth::model::concern::Concern;

#[test]
fn every_backend_reports_every_concern_once() {
    let mut specs = examples();
    specs.push((
        "everything".into(),
        root().join("tests/specs/everything.toml"),
    ));
    for (name, spec) in specs {
        let targets = targets(&spec).map_or(berth::compile::registry::all().len(), |t| t.len());
        let outcome = compile(&Request {
            spec,
            set: vec![],
            values: None,
            backends: vec![],
            allow_read: vec![],
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
    let output = diff_five_replicas(dir.path(), spec);
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

/// What one backend wrote, parsed, for checking its concern claims.
struct Written {
    dir: std::path::PathBuf,
    name: String,
}

impl Written {
    fn text(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.join(path)).unwrap_or_default()
    }
    fn yaml(&self, path: &str) -> serde_json::Value {
        serde_saphyr::from_str(&self.text(path)).unwrap_or_default()
    }
    fn json(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.text(path)).unwrap_or_default()
    }
    /// Every Kubernetes object, one per file.
    fn objects(&self, kind: &str) -> Vec<serde_json::Value> {
        tree(&self.dir.join("kubernetes"))
            .into_iter()
            .filter(|(path, _)| path.ends_with(".yaml"))
            .map(|(path, _)| self.yaml(&format!("kubernetes/{path}")))
            .filter(|object| object["kind"] == kind)
            .collect()
    }
    /// The compose file's (or stack's) member services.
    fn members(&self, file: &str) -> Vec<serde_json::Value> {
        let services = self.yaml(file)["services"].clone();
        services
            .as_object()
            .map(|s| {
                s.values()
                    .filter(|s| !s["labels"]["berth.member"].is_null())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
    fn apps(&self) -> Vec<serde_json::Value> {
        self.json(&format!("marathon/{}.json", self.name))["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn all(values: &[serde_json::Value], check: impl Fn(&serde_json::Value) -> bool) -> bool {
    !values.is_empty() && values.iter().all(check)
}

/// Whether the files show what a `native` or `emulated` claim promises.
fn shows(backend: &str, concern: &str, detail: &str, w: &Written) -> Option<bool> {
    let name = &w.name;
    let sts = || w.objects("StatefulSet").pop().unwrap_or_default();
    let pod = || sts()["spec"]["template"]["spec"].clone();
    let container = || pod()["containers"][0].clone();
    let mounts_a_secret = || {
        let volumes = pod()["volumes"].as_array().cloned().unwrap_or_default();
        volumes.iter().any(|v| v["secret"].is_object())
    };
    let compose = || w.members("compose/compose.yaml");
    let stack = || w.members("swarm/stack.yaml");
    let app = || w.yaml("cloudfoundry/manifest.yml")["applications"][0].clone();
    let run = || w.text("docker/run.sh");
    let shown = match (backend, concern) {
        ("kubernetes", "storage") => {
            sts()["spec"]["volumeClaimTemplates"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
                && sts()["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
        }
        ("kubernetes", "storage-class") => all(
            &sts()["spec"]["volumeClaimTemplates"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            |c| c["spec"]["storageClassName"].is_string(),
        ),
        ("kubernetes", "identity") => sts()["metadata"]["name"] == *name,
        ("kubernetes", "discovery") => w.objects("Service").iter().any(|s| {
            s["spec"]["clusterIP"] == "None"
                && s["spec"]["publishNotReadyAddresses"] == true
                && s["metadata"]["name"] == sts()["spec"]["serviceName"]
        }),
        ("kubernetes", "spread") if detail.starts_with("one replica") => {
            sts()["spec"]["replicas"] == 1
        }
        ("kubernetes", "spread") => {
            let anti = &pod()["affinity"]["podAntiAffinity"];
            if detail.starts_with("required") {
                anti["requiredDuringSchedulingIgnoredDuringExecution"].is_array()
            } else {
                anti["preferredDuringSchedulingIgnoredDuringExecution"].is_array()
            }
        }
        ("kubernetes", "disruption-budget") if detail.starts_with("no budget") => {
            w.objects("PodDisruptionBudget").is_empty() && sts()["spec"]["replicas"] == 1
        }
        ("kubernetes", "disruption-budget") => w
            .objects("PodDisruptionBudget")
            .iter()
            .any(|b| detail.ends_with(&format!("maxUnavailable {}", b["spec"]["maxUnavailable"]))),
        ("kubernetes", "liveness") => {
            container()["livenessProbe"].is_object() && container()["startupProbe"].is_object()
        }
        ("kubernetes", "readiness") => container()["readinessProbe"].is_object(),
        ("kubernetes", "start-order") => {
            detail.ends_with(sts()["spec"]["podManagementPolicy"].as_str().unwrap_or(""))
        }
        ("kubernetes", "rolling-update") => {
            sts()["spec"]["updateStrategy"]["type"] == "RollingUpdate"
        }
        ("kubernetes", "resources") => {
            container()["resources"]["requests"].is_object()
                && container()["resources"]["limits"].is_object()
        }
        ("kubernetes", "init") => !w.objects("Job").is_empty(),
        ("kubernetes", "secrets") => {
            container()["env"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .any(|e| e["valueFrom"]["secretKeyRef"].is_object())
                || mounts_a_secret()
        }
        ("kubernetes", "files") => !w.objects("ConfigMap").is_empty() || mounts_a_secret(),
        ("kubernetes", "tls-names") => pod()["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .any(|v| v["secret"]["defaultMode"] == 0o440),
        ("compose", "storage") => all(&compose(), |s| {
            s["volumes"]
                .as_array()
                .is_some_and(|v| v.iter().any(|v| v["type"] == "volume"))
        }),
        ("compose", "identity") => all(&compose(), |s| s["hostname"].is_string()),
        // Every member joins a network the file declares.
        ("compose", "discovery") => {
            let declared = w.yaml("compose/compose.yaml")["networks"].clone();
            all(&compose(), |s| {
                s["networks"].as_array().is_some_and(|n| {
                    !n.is_empty()
                        && n.iter()
                            .all(|n| n.as_str().is_some_and(|n| declared.get(n).is_some()))
                })
            })
        }
        ("compose", "spread") | ("docker", "spread") => {
            detail == "nothing to spread"
                && compose().len() <= 1
                && run().matches("docker run").count() <= 1
        }
        ("compose", "start-order") => all(&compose(), |s| {
            s["depends_on"]
                .as_object()
                .is_none_or(|d| d.keys().all(|k| !k.starts_with(&format!("{name}-"))))
        }),
        ("compose", "init") => {
            w.yaml("compose/compose.yaml")["services"][format!("{name}-init")]["restart"]
                == "on-failure:30"
        }
        ("compose", "secrets") => ["${", ": null", "secrets/"]
            .iter()
            .any(|s| w.text("compose/compose.yaml").contains(s)),
        ("compose", "files") | ("docker", "files") => {
            w.dir.join(format!("{backend}/files")).exists()
                || w.text(&format!(
                    "{backend}/{}",
                    if backend == "compose" {
                        "compose.yaml"
                    } else {
                        "run.sh"
                    }
                ))
                .contains("secrets/")
        }
        ("compose", "tls-names") => all(&compose(), |s| {
            s["volumes"]
                .as_array()
                .is_some_and(|v| v.iter().any(|v| v["read_only"] == true))
        }),
        ("docker", "storage") => {
            run().contains("--volume") && run().contains("type=volume")
                || run().contains(&format!("{name}-0-"))
        }
        ("docker", "identity") => run().contains("--hostname") && run().contains("--network-alias"),
        ("docker", "discovery") => run().contains("docker network create"),
        ("docker", "start-order") if detail == "members start together" => {
            !run().contains("wait_healthy")
        }
        ("docker", "init") => run().contains(&format!("--name {name}-init")),
        // A secret variable is passed by name from the caller's environment (`--env NAME`, no
        // value), and run.sh stops unless that environment holds it; a secret file is the
        // user's, beside run.sh, and run.sh stops unless it is there.
        ("docker", "secrets") => {
            let passed: Vec<String> = run()
                .lines()
                .filter_map(|l| l.trim().strip_prefix("--env "))
                .map(|w| w.trim_end_matches(" \\").to_string())
                .filter(|w| !w.contains('='))
                .collect();
            let files = run().contains("[ -f \"$here\"/secrets/");
            (!passed.is_empty() || files)
                && passed
                    .iter()
                    .all(|n| run().contains(&format!(": \"${{{n}:?")))
        }
        // The user's certificate volume, mounted read-only: a volume, not a file beside run.sh.
        ("docker", "tls-names") => run().lines().any(|l| {
            let l = l.trim();
            l.starts_with("--volume ") && l.contains(":ro") && !l.contains("$here")
        }),
        ("swarm", "storage") => all(&stack(), |s| {
            s["volumes"]
                .as_array()
                .is_some_and(|v| v.iter().any(|v| v["type"] == "volume"))
                && s["deploy"]["placement"]["constraints"].is_array()
        }),
        ("swarm", "identity") => all(&stack(), |s| s["deploy"]["replicas"] == 1),
        ("swarm", "spread") if detail.starts_with("one replica") => stack().len() == 1,
        ("swarm", "spread") => {
            all(&stack(), |s| {
                s["deploy"]["placement"]["constraints"].is_array()
            }) && w.dir.join("swarm/prepare-nodes.sh").exists()
        }
        ("swarm", "liveness") => all(&stack(), |s| s["healthcheck"]["start_period"].is_string()),
        ("swarm", "start-order") => all(&stack(), |s| s["depends_on"].is_null()),
        ("swarm", "rolling-update") => {
            w.text("swarm/deploy.sh").contains("members/")
                && all(&stack(), |s| {
                    s["deploy"]["update_config"]["order"] == "stop-first"
                })
        }
        ("swarm", "resources") => all(&stack(), |s| {
            s["deploy"]["resources"]["limits"].is_object()
                && s["deploy"]["resources"]["reservations"].is_object()
        }),
        ("swarm", "init") => {
            w.yaml("swarm/stack.yaml")["services"][format!("{name}-init")]["deploy"]["restart_policy"]
                ["condition"]
                == "on-failure"
        }
        ("swarm", "files") => all(&stack(), |s| {
            s["configs"].is_array() || s["secrets"].is_array()
        }),
        ("swarm", "tls-names") => all(&stack(), |s| s["secrets"].is_array()),
        ("marathon", "storage") => all(&w.apps(), |a| {
            a["container"]["volumes"][0]["persistent"].is_object()
        }),
        ("marathon", "identity") => all(&w.apps(), |a| a["instances"] == 1),
        ("marathon", "discovery") => all(&w.apps(), |a| {
            a["container"]["portMappings"]
                .as_array()
                .is_some_and(|p| p.iter().all(|p| p["hostPort"] == p["containerPort"]))
        }),
        ("marathon", "spread") if detail.starts_with("one member") => w.apps().len() == 1,
        ("marathon", "spread") => all(&w.apps(), |a| a["constraints"][0][1] == "LIKE"),
        ("marathon", "liveness") => all(&w.apps(), |a| {
            a["healthChecks"][0]["protocol"]
                .as_str()
                .is_some_and(|p| p.starts_with("MESOS_") || p == "COMMAND")
        }),
        ("marathon", "start-order") => all(&w.apps(), |a| a["dependencies"].is_null()),
        ("marathon", "init") => {
            w.json(&format!("marathon/{name}-init.metronome.json"))["run"]["restart"]["policy"]
                == "ON_FAILURE"
        }
        ("marathon", "secrets") => all(&w.apps(), |a| a["secrets"].is_object()),
        ("marathon", "files") => all(&w.apps(), |a| {
            a["args"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .any(|arg| arg.as_str().unwrap_or("").contains("printf"))
        }),
        ("cloudfoundry", "storage") => app()["services"][0]["parameters"]["mount"].is_string(),
        ("cloudfoundry", "identity") => {
            app()["instances"] == 1
                || app()["command"]
                    .as_str()
                    .unwrap_or("")
                    .contains("$CF_INSTANCE_INDEX")
        }
        ("cloudfoundry", "discovery") => {
            w.text("cloudfoundry/setup.sh")
                .contains("cf add-network-policy")
                && app()["routes"][0]["route"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with(".apps.internal")
        }
        ("cloudfoundry", "liveness") => app()["health-check-type"] != "process",
        ("cloudfoundry", "readiness") => app()["readiness-health-check-type"].is_string(),
        // One push starts every instance; scaling one at a time would be an order.
        ("cloudfoundry", "start-order") => !w.text("cloudfoundry/setup.sh").contains("cf scale"),
        ("cloudfoundry", "init") => w.text("cloudfoundry/setup.sh").contains("cf run-task"),
        ("cloudfoundry", "secrets") => w.text("cloudfoundry/manifest.yml").contains("(("),
        ("cloudfoundry", "files") => app()["command"].as_str().unwrap_or("").contains("printf"),
        _ => return None,
    };
    Some(shown)
}

/// Every claim a backend makes of realizing a concern (natively or by emulation) is visible in
/// the files it wrote, for every spec and backend: the concern tables cannot drift from the output.
#[test]
fn every_realized_concern_shows_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut missing = Vec::new();
    for spec in compile_all_specs(dir.path(), &[]) {
        let out = dir.path().join(&spec);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("berth-report.json")).unwrap())
                .unwrap();
        let service = &report["services"][0];
        let written = Written {
            dir: out.clone(),
            name: service["service"].as_str().unwrap().to_string(),
        };
        for (backend, realized) in service["backends"].as_object().unwrap() {
            for claim in realized["concerns"].as_array().unwrap() {
                let (concern, detail) = (
                    claim["concern"].as_str().unwrap(),
                    claim["detail"].as_str().unwrap(),
                );
                if !["native", "emulated"].contains(&claim["status"].as_str().unwrap())
                    || detail.ends_with("(not used by this spec)")
                {
                    continue;
                }
                match shows(backend, concern, detail, &written) {
                    Some(true) => {}
                    Some(false) => missing.push(format!("{spec}: {backend} claims {concern} ({detail}), which its files do not show")),
                    None => missing.push(format!("{spec}: {backend} claims {concern} ({detail}), and no check of this test covers it")),
                }
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
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
