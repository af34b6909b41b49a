//! The helm backend as a user meets it through `berth`: `helm/<name>/` from `berth compile`, the
//! chart's version option, `kubeVersion` that Helm's own install checks, the compiled values as
//! the chart's defaults, and what `berth diff --against` and `berth plan` say of a release.

use crate::common::*;
use crate::go_templates::python_with_helm;
use crate::helm_chart::helm_says;
use serde_json::{Value, json};
use std::path::Path;

/// The etcd example with `kubernetes` added to its `[backends.kubernetes]` table and `tail` after
/// it.
fn etcd_with(kubernetes: &str, tail: &str) -> String {
    let etcd = example_text("etcd");
    let table = "[backends.kubernetes]\n";
    assert!(etcd.contains(table));
    let etcd = etcd.replacen(table, &format!("{table}{kubernetes}"), 1);
    format!("{etcd}\n{tail}")
}

/// What `helm install --dry-run=client` (Helm v4, which assumes Kubernetes 1.36) says of the
/// chart in `chart`: the release, or Helm's refusal.
fn dry_install(python: &Path, chart: &Path) -> Value {
    let cases = json!({
        "value_sets": [],
        "install": {"name": "store", "namespace": "db", "values": {}},
    });
    helm_says(python, chart, &cases)["install"].clone()
}

/// `berth compile --backend helm` writes `helm/<name>/`; Helm installs the chart of a spec that
/// targets Kubernetes 1.35 or 1.36, and refuses one whose `kubeVersion` asks for 1.37, as it
/// would on a cluster older than the target.
#[test]
fn helm_installs_a_chart_on_the_kubernetes_release_it_targets_and_refuses_an_older() {
    let Some(python) = python_with_helm() else {
        return;
    };
    for (target, installs) in [
        ("", true),
        ("version = \"1.36\"\n", true),
        ("version = \"1.37\"\n", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "etcd.toml", &etcd_with(target, ""));
        compile_ok(dir.path(), "etcd.toml", &["--backend", "helm"]);
        let chart = dir.path().join("out/helm/etcd");
        let chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml")).unwrap();
        let minor = target
            .trim()
            .trim_start_matches("version = \"1.")
            .trim_end_matches('"');
        let minor = if minor.is_empty() { "35" } else { minor };
        assert_contains(&chart_yaml, &format!("kubeVersion: \">=1.{minor}.0-0\"\n"));
        let install = dry_install(&python, &chart);
        if installs {
            assert_eq!(install["chart_version"], "0.1.0", "{install}");
            assert_eq!(install["app_version"], "v3.5.15", "{install}");
            assert_contains(install["notes"].as_str().unwrap(), "`store`");
            assert_contains(install["manifest"].as_str().unwrap(), "kind: StatefulSet");
        } else {
            assert_contains(
                install.as_str().unwrap_or_default(),
                "chart requires kubeVersion: >=1.37.0-0 which is incompatible with Kubernetes v1.36",
            );
        }
    }
}

/// `[backends.helm] version` is the chart's version when it is SemVer 2, and refused, with the
/// place and the fix, when it is not.
#[test]
fn the_chart_version_is_the_option_and_semver_2() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good.toml",
        &etcd_with("", "[backends.helm]\nversion = \"2.1.0-rc.1\"\n"),
    );
    compile_ok(dir.path(), "good.toml", &["--backend", "helm"]);
    let chart_yaml = std::fs::read_to_string(dir.path().join("out/helm/etcd/Chart.yaml")).unwrap();
    assert_contains(&chart_yaml, "\nversion: 2.1.0-rc.1\n");

    let bad = etcd_with("", "[backends.helm]\nversion = \"2.1\"\n");
    let line = bad.lines().count();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.toml", &bad);
    let output = compile_in(dir.path(), "bad.toml", &[]);
    assert_exit(
        &output,
        2,
        &[
            "error[spec/invalid-value]: `backends.helm.version` `2.1` is not a SemVer 2 version",
            &format!("bad.toml:{line}:11"),
            "help: write the chart's version as SemVer 2",
        ],
    );
    assert!(!dir.path().join("out").exists(), "nothing is written");
}

/// The values a compile gives are the chart's defaults, in `values.yaml` and the schema; a
/// required parameter given to compile stays required in the chart, its value out of it; a value
/// deleted with `null` is refused.
#[test]
fn the_compiled_values_are_the_charts_defaults_but_a_required_one_stays_required() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = etcd_with(
        "",
        "[params.token]\nrequired = true\ndescription = \"The cluster's token\"\n",
    )
    .replacen(
        "\"--name={{self.name}}\"",
        "\"--name={{self.name}}\", \"--initial-cluster-token={{params.token}}\"",
        1,
    );
    assert!(spec.contains("{{params.token}}"));
    write(dir.path(), "etcd.toml", &spec);
    let set = ["--set", "replicas=5", "--set", "token=s3cret-value"];
    compile_ok(
        dir.path(),
        "etcd.toml",
        &[&["--backend", "helm"][..], &set].concat(),
    );
    let chart = dir.path().join("out/helm/etcd");
    let values = std::fs::read_to_string(chart.join("values.yaml")).unwrap();
    let schema = std::fs::read_to_string(chart.join("values.schema.json")).unwrap();
    assert_contains(&values, "\nreplicas: 5\n");
    assert_contains(&values, "# Required: give it with `--set token=VALUE`.");
    for text in [&values, &schema] {
        assert!(!text.contains("s3cret-value"), "{text}");
    }
    let schema: Value = serde_json::from_str(&schema).unwrap();
    assert_eq!(schema["properties"]["replicas"]["default"], 5);
    let required = schema["required"].as_array().unwrap();
    assert!(required.contains(&json!("token")) && required.contains(&json!("replicas")));
    let sets = json!([{}, {"token": "t"}, {"token": "t", "replicas": null}]);
    let helm = helm_says(&python, &chart, &json!({"value_sets": sets}));
    assert_eq!(helm["defaults"]["replicas"], 5);
    let missing = helm["verdicts"][0].as_str().unwrap_or_default();
    assert!(
        missing.contains("token"),
        "the token is required: {missing}"
    );
    assert!(helm["verdicts"][1].is_null(), "{}", helm["verdicts"][1]);
    // `--set replicas=null` deletes the default: berth has no unset value, and Helm refuses it.
    let unset = helm["verdicts"][2].as_str().unwrap_or_default();
    assert!(unset.contains("missing property 'replicas'"), "{unset}");
}

/// `berth diff --against` of a chart whose default changes names a value Kubernetes refuses to
/// change on the release's StatefulSet, and stays quiet for one it changes in place;
/// `berth plan --backend helm` writes no plan and says where the steps are.
#[test]
fn diff_against_names_a_value_kubernetes_refuses_to_change_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/etcd.toml");
    let spec = spec.to_str().unwrap();
    compile_ok(dir.path(), spec, &["--backend", "helm"]);
    let diff = |set: &str| {
        let args = [
            "diff",
            spec,
            "--backend",
            "helm",
            "--against",
            "out",
            "--set",
            set,
        ];
        berth(&args, dir.path())
    };
    let refused = diff("storage_class=standard-rwo");
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert_contains(
        &said,
        "-storage_class: fast-ssd\n+storage_class: standard-rwo",
    );
    assert_contains(
        &said,
        "warning[plan/statefulset-immutable]: `helm/etcd/values.yaml`: `storage_class` changes from \"fast-ssd\" to \"standard-rwo\": Kubernetes refuses a change of the StatefulSet's `volumeClaimTemplates`",
    );
    assert_contains(&said, "help: before `helm upgrade`");
    let in_place = diff("replicas=5");
    let said = format!("{}{}", stdout(&in_place), stderr(&in_place));
    assert_contains(&said, "-replicas: 3\n+replicas: 5");
    assert!(!said.contains("plan/statefulset-immutable"), "{said}");

    let plan = [
        "plan",
        spec,
        "--backend",
        "helm",
        "--against",
        "out",
        "--out",
        "next",
    ];
    let plan = berth(&plan, dir.path());
    assert_exit(
        &plan,
        2,
        &[
            "error[plan/unsupported]: berth writes no plans for helm",
            "--backend kubernetes",
        ],
    );
    assert!(!dir.path().join("next").exists(), "nothing is written");
}

/// A value no object of the chart reads says so in `values.yaml` and the schema: one that gives
/// the service's name (the release's name stands for it) or the namespace (the release's holds
/// the objects); one the objects read does not.
#[test]
fn values_the_chart_does_not_read_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let spec = etcd_with(
        "namespace = \"{{params.team}}\"\n",
        "[params.team]\ndefault = \"storage\"\n",
    )
    .replacen("namespace = \"etcd\"\n", "", 1);
    write(dir.path(), "etcd.toml", &spec);
    compile_ok(dir.path(), "etcd.toml", &["--backend", "helm"]);
    let values = std::fs::read_to_string(dir.path().join("out/helm/etcd/values.yaml")).unwrap();
    let noted: Vec<&str> = values
        .split("\n\n")
        .filter(|entry| entry.contains("# Not used by the chart"))
        .collect();
    assert_eq!(noted.len(), 1, "{values}");
    assert!(noted[0].contains("\nteam: storage"), "{values}");

    let (_demo, out) = compile_example("demo", &["--backend", "helm"]);
    let chart = out.join("helm/berthdemo");
    let schema = std::fs::read_to_string(chart.join("values.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&schema).unwrap();
    let name = schema["properties"]["name"]["description"]
        .as_str()
        .unwrap();
    assert!(
        name.contains("the release's name stands for the service's `name`"),
        "{name}"
    );
    let replicas = schema["properties"]["replicas"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(!replicas.contains("Not used"), "{replicas}");
}

/// The chart, its diagnostics, concerns and TLS names are the same whether the compile ran the
/// kubernetes backend first (whose findings the chart then takes, [`berth_backend::Input::base`])
/// or the chart alone, for every example and for a spec the kubernetes backend refuses.
#[test]
fn the_chart_is_the_same_beside_the_kubernetes_backend_and_alone() {
    let refused = tempfile::tempdir().unwrap();
    let spec = refused.path().join("refused.toml");
    // An ordered start with a readiness check that needs the quorum: `ordered-ready-deadlock`.
    let ordered = example_text("etcd").replace("start = \"parallel\"", "start = \"ordered\"");
    std::fs::write(&spec, ordered).unwrap();
    let mut specs: Vec<std::path::PathBuf> = examples().into_iter().map(|(_, p)| p).collect();
    specs.push(spec.clone());
    for path in specs {
        let beside = helm_output(&path, Vec::new());
        assert_eq!(
            beside,
            helm_output(&path, vec!["helm".into()]),
            "{}",
            path.display()
        );
        if path == spec {
            let (_, diagnostics, _, _) = beside.unwrap();
            let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
            assert!(
                codes.contains(&"kubernetes/ordered-ready-deadlock"),
                "{codes:?}"
            );
        }
    }
}

type HelmOutput = (
    Vec<(String, String)>,
    Vec<berth_diagnostic::Diagnostic>,
    Vec<berth_model::concern::Realization>,
    Vec<String>,
);

/// The helm backend's files, diagnostics, concerns and TLS names when `spec` is compiled for
/// `backends` (every one when empty).
fn helm_output(spec: &Path, backends: Vec<String>) -> Option<HelmOutput> {
    let outcome = berth_compile::compile(&berth_compile::Request {
        spec: spec.to_path_buf(),
        backends,
        ..Default::default()
    });
    let output = outcome.outputs.into_iter().find(|o| o.backend == "helm")?;
    let files = output
        .files
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect();
    Some((files, output.diagnostics, output.concerns, output.tls_names))
}
