//! The Marathon backend: every member app, from the group file and from its own file, validated
//! against Marathon's `AppDefinition.json` (draft 4), and the safety-relevant fields checked.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_app_matches_the_app_definition_schema() {
    let Some((schema, check)) = schema_checker("marathon/AppDefinition.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for example in compile_all_specs(dir.path(), &["marathon"]) {
        let report = read(&dir.path().join(&example).join("berth-report.json"));
        let name = report["services"][0]["service"]
            .as_str()
            .unwrap()
            .to_string();
        let group = read(
            &dir.path()
                .join(&example)
                .join(format!("marathon/{name}.json")),
        );
        // Group.json refers to AppDefinition.json by a network address; validate the apps one by one.
        for (i, app) in group["apps"].as_array().unwrap().iter().enumerate() {
            let path = dir.path().join(format!("{name}-group-app-{i}.json"));
            std::fs::write(&path, app.to_string()).unwrap();
            files.push(path);
            let own = dir
                .path()
                .join(&example)
                .join(format!("marathon/{name}-{i}.json"));
            assert_eq!(
                &read(&own),
                app,
                "{name}: the member file and the group's app are the same app"
            );
            files.push(own);
        }
    }
    // The fields only lifted rules produce: `dependencies`, replacement after unreachable, a
    // command check, over-capacity upgrades (and the `hosts` constraints of `everything`).
    let lifted = dir.path().join("lifted.toml");
    // `everything` reads one of its files from beside it.
    std::fs::copy(
        root().join("tests/specs/everything.conf"),
        dir.path().join("everything.conf"),
    )
    .unwrap();
    let everything = std::fs::read_to_string(root().join("tests/specs/everything.toml")).unwrap();
    std::fs::write(
        &lifted,
        everything
            .replace("start = \"parallel\"", "start = \"ordered\"")
            .replace("http = \"/live\"\nport = \"client\"", "exec = [\"/bin/db\", \"live\"]")
            .replace("[backends.marathon]", "[backends.marathon]\nunreachable_strategy = \"replace\"\nhealth_checks = \"marathon\"\nmaximum_over_capacity = 0.5")
            + "\n[[allow]]\nrule = \"marathon/unreachable-not-disabled\"\nreason = \"test\"\n\n[[allow]]\nrule = \"marathon/over-capacity\"\nreason = \"test\"\n\n[[allow]]\nrule = \"marathon/member-dependencies\"\nreason = \"test\"\n",
    )
    .unwrap();
    let out = dir.path().join("lifted");
    berth_ok(
        &[
            "compile",
            lifted.to_str().unwrap(),
            "--backend",
            "marathon",
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    );
    let second = out.join("marathon/everything-1.json");
    let app = read(&second);
    for key in [
        "dependencies",
        "constraints",
        "healthChecks",
        "unreachableStrategy",
    ] {
        assert!(app.get(key).is_some(), "lifted: no `{key}` in {app}");
    }
    assert_eq!(app["healthChecks"][0]["protocol"], "COMMAND");
    files.push(second);
    let run = |files: &[PathBuf]| {
        Command::new(&check)
            .args([
                "--validator-class",
                "jsonschema:Draft4Validator",
                "--schemafile",
            ])
            .arg(&schema)
            .args(files)
            .output()
            .unwrap()
    };
    let output = run(&files);
    assert!(
        output.status.success(),
        "AppDefinition.json:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    let mut broken = read(&files[0]);
    broken["instances"] = Value::from(-1);
    let path = dir.path().join("broken.json");
    std::fs::write(&path, broken.to_string()).unwrap();
    assert!(
        !run(&[path]).status.success(),
        "the schema accepted `instances: -1`"
    );
}

#[test]
fn members_are_resident_pinned_and_never_replaced_empty() {
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["marathon"]);
    let group = read(&dir.path().join("cockroachdb/marathon/cockroachdb.json"));
    assert_eq!(group["id"], "/cockroachdb");
    for (i, app) in group["apps"].as_array().unwrap().iter().enumerate() {
        assert_eq!(app["id"], format!("/cockroachdb/cockroachdb-{i}"));
        assert_eq!(app["instances"], 1);
        assert_eq!(app["unreachableStrategy"], "disabled");
        assert!(
            app["residency"].is_null(),
            "deprecated and without effect (app.raml)"
        );
        assert_eq!(app["upgradeStrategy"]["maximumOverCapacity"], 0.0);
        assert!(
            app["dependencies"].is_null(),
            "members never depend on each other"
        );
        let volumes = &app["container"]["volumes"];
        assert_eq!(
            volumes[0]["containerPath"], "datadir",
            "a single-level relative path"
        );
        assert_eq!(volumes[0]["persistent"]["size"], 102400, "100Gi in MiB");
        assert_eq!(
            volumes[1],
            serde_json::json!({"containerPath": "/cockroach/cockroach-data", "hostPath": "datadir", "mode": "RW"})
        );
        assert_eq!(app["healthChecks"][0]["protocol"], "MESOS_HTTP");
        assert_eq!(app["readinessChecks"][0]["path"], "/health?ready=1");
        assert_eq!(
            app["container"]["portMappings"][0]["labels"]["VIP_0"],
            "/cockroachdb:26257"
        );
        assert!(app["args"].as_array().unwrap().iter().any(|a| a
            == &Value::from(format!(
                "--advertise-addr=cockroachdb-{i}-cockroachdb.marathon.mesos"
            ))));
    }
    let job = read(
        &dir.path()
            .join("cockroachdb/marathon/cockroachdb-init.metronome.json"),
    );
    assert_eq!(job["run"]["restart"]["policy"], "ON_FAILURE");
    assert_eq!(
        job["run"]["args"].as_array().unwrap().last().unwrap(),
        "--host=cockroachdb-0-cockroachdb.marathon.mesos:26257"
    );

    let postgres = read(&dir.path().join("postgres/marathon/postgres-0.json"));
    assert_eq!(
        postgres["env"]["POSTGRES_PASSWORD"],
        serde_json::json!({"secret": "secret-0"})
    );
    assert_eq!(
        postgres["secrets"]["secret-0"]["source"],
        "postgres/postgres-credentials/password"
    );
    let etcd = read(&dir.path().join("etcd/marathon/etcd-0.json"));
    assert!(
        etcd["container"]["portMappings"][1]["labels"].is_null(),
        "a peers-only port gets no VIP"
    );
}
