//! Values computed per member where one definition serves every member (the Kubernetes pod
//! template, the Cloud Foundry app): each member's start command, run by a real shell with the
//! ordinal the platform gives it, starts the process with that member's own values.

use crate::common::*;
use berth::compile::{Request, compile_text};
use serde_json::Value;
use std::process::Command;

const SPEC: &str = r#"name = "zk"
[container]
image = "zookeeper:3.9"
command = ["/usr/bin/env"]
shell = true
[container.env]
ZOO_MY_ID = "{{add self.ordinal 1}}"
ROLE = '{{#if (eq self.ordinal "0")}}first{{else}}other{{/if}}'
ME = "{{self.name}}"
[[ports]]
name = "client"
port = 2181
[[volumes]]
name = "data"
path = "/data"
size = "1Gi"
class = "fast"
[replication]
replicas = 3
[resources]
cpu = "500m"
memory = "1Gi"
[health.liveness]
tcp = "client"
[backends.cloudfoundry]
volume_services = { data = "zk-nfs" }
"#;

fn outputs(backend: &str, spec: &str) -> berth::compile::Outcome {
    let request = Request {
        spec: "zk.toml".into(),
        backends: vec![backend.to_string()],
        ..Default::default()
    };
    compile_text(&request, spec.to_string())
}

fn file(outcome: &berth::compile::Outcome, path: &str) -> String {
    let output = &outcome.outputs[0];
    let found = output.files.iter().find(|f| f.path == path);
    found.unwrap_or_else(|| panic!("{path}")).contents.clone()
}

/// What `sh -c SCRIPT` prints (the member's `env`) with `variable` set to the ordinal.
fn started(script: &str, variable: &str, ordinal: usize) -> String {
    let out = Command::new("/bin/sh")
        .args(["-c", script])
        .env_clear()
        .env(variable, ordinal.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn each_pod_starts_with_the_values_berth_computed_for_it() {
    let outcome = outputs("kubernetes", SPEC);
    assert_eq!(outcome.exit_code(), 0, "{:?}", outcome.diagnostics);
    let sts: Value = serde_saphyr::from_str(&file(&outcome, "40-statefulset-zk.yaml")).unwrap();
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    // Kubernetes reduces `$$` to `$` before the shell sees the script.
    let script = container["command"][2].as_str().unwrap().replace("$$", "$");
    for ordinal in 0..3 {
        let env = started(&script, "BERTH_POD_ORDINAL", ordinal);
        assert_contains(&env, &format!("ZOO_MY_ID={}\n", ordinal + 1));
        assert_contains(
            &env,
            if ordinal == 0 {
                "ROLE=first\n"
            } else {
                "ROLE=other\n"
            },
        );
    }
    // What Kubernetes substitutes itself stays in the pod template.
    let env = container["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|v| v["name"] == "ME" && v["value"] == "$(BERTH_POD_NAME)")
    );
    assert!(!env.iter().any(|v| v["name"] == "ZOO_MY_ID"));
}

#[test]
fn each_cloud_foundry_instance_starts_with_its_own_values() {
    let outcome = outputs("cloudfoundry", SPEC);
    assert_eq!(outcome.exit_code(), 0, "{:?}", outcome.diagnostics);
    let manifest: Value = serde_saphyr::from_str(&file(&outcome, "manifest.yml")).unwrap();
    let command = manifest["applications"][0]["command"].as_str().unwrap();
    // The steps before it link the volume service's directory; run the choice alone.
    let choice = &command[command.find("case ").unwrap()..];
    for ordinal in 0..3 {
        let env = started(choice, "CF_INSTANCE_INDEX", ordinal);
        assert_contains(&env, &format!("ZOO_MY_ID={}\n", ordinal + 1));
        assert_contains(&env, &format!("ME=zk-{ordinal}\n"));
    }
}

#[test]
fn a_per_member_value_without_a_command_to_start_is_refused_saying_why() {
    let spec = SPEC.replace("command = [\"/usr/bin/env\"]\n", "");
    let outcome = outputs("kubernetes", &spec);
    assert_eq!(outcome.exit_code(), 2);
    let message = &outcome
        .diagnostics
        .iter()
        .find(|d| d.is_input_error())
        .unwrap()
        .message;
    assert_contains(message, "one pod template cannot compute");
}

/// A member's published address, where the backend publishes each member on one: the Kafka
/// example advertises it to clients outside; where there is none, the template says so.
#[test]
fn a_member_advertises_its_published_address_where_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let kafka = root().join("examples/kafka.toml");
    let out = berth(
        &[
            "compile",
            kafka.to_str().unwrap(),
            "--backend",
            "compose",
            "--backend",
            "kubernetes",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let compose: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("out/compose/compose.yaml")).unwrap(),
    )
    .unwrap();
    for ordinal in 0..3 {
        let member = &compose["services"][format!("kafka-{ordinal}")];
        let host_port = 9094 + 10 * ordinal;
        assert_contains(
            member["environment"]["KAFKA_ADVERTISED_LISTENERS"]
                .as_str()
                .unwrap(),
            &format!("EXTERNAL://127.0.0.1:{host_port}"),
        );
        assert!(
            member["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == &Value::from(format!("127.0.0.1:{host_port}:9094/tcp")))
        );
    }
    // Kubernetes publishes no member: the example advertises the pod's name instead.
    let sts = std::fs::read_to_string(dir.path().join("out/kubernetes/40-statefulset-kafka.yaml"))
        .unwrap();
    assert_contains(
        &sts,
        "EXTERNAL://$(BERTH_POD_NAME).kafka.streaming.svc.cluster.local:9094",
    );
    // Without the choice, Kubernetes refuses it and says where the address exists.
    let spec = SPEC.replace(
        "ME = \"{{self.name}}\"",
        "ME = \"{{self.published.client}}\"",
    );
    for (backend, code) in [("kubernetes", 2), ("compose", 0)] {
        let outcome = outputs(backend, &spec);
        assert_eq!(
            outcome.exit_code(),
            code,
            "{backend}: {:?}",
            outcome.diagnostics
        );
    }
    let outcome = outputs("kubernetes", &spec);
    let help = outcome
        .diagnostics
        .iter()
        .find_map(|d| d.help.clone())
        .unwrap_or_default();
    assert_contains(
        &help,
        "docker and compose (with `publish_address` a real address, not `0.0.0.0`)",
    );
}
