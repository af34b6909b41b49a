//! The swarm backend checked by the docker CLI's own stack loader (`docker stack config`, and
//! `docker stack deploy` up to the point where it dials a daemon that does not exist), the compose
//! v3.8 schema, and shellcheck; `prepare-nodes.sh` driven through the recording fake `docker`.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A spec's stack files: `stack.yaml` and each member's own (`members/*.yaml`, for deploy.sh).
fn stack_files(spec_out: &Path) -> Vec<PathBuf> {
    let swarm = spec_out.join("swarm");
    let mut members: Vec<PathBuf> = std::fs::read_dir(swarm.join("members"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    members.sort();
    assert!(!members.is_empty(), "no member stack files");
    std::iter::once(swarm.join("stack.yaml"))
        .chain(members)
        .collect()
}

#[test]
fn stacks_load_in_the_docker_cli_without_ignored_options() {
    let Some(docker) = tool("docker") else { return };
    let dir = tempfile::tempdir().unwrap();
    for stack in compile_all_specs(dir.path(), &["swarm"])
        .iter()
        .flat_map(|name| stack_files(&dir.path().join(name)))
    {
        let name = stack.display();
        run_ok(
            Command::new(&docker)
                .args(["stack", "config", "-c"])
                .arg(&stack)
                .envs(SECRET_ENV),
            &format!("{name}: docker stack config"),
        );
        let output = Command::new(&docker)
            .args(["stack", "deploy", "-c"])
            .arg(&stack)
            .arg("probe")
            .env("DOCKER_HOST", "unix:///nonexistent/berth-test.sock")
            .output()
            .unwrap();
        let said = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            said.contains("Cannot connect to the Docker daemon"),
            "{name}: the loader stopped before dialing: {said}"
        );
        for ignored in [
            "Ignoring unsupported options",
            "Ignoring deprecated options",
        ] {
            assert!(!said.contains(ignored), "{name}: {said}");
        }
    }
}

#[test]
fn stacks_match_the_compose_v3_schema() {
    let Some((schema, check)) = schema_checker("compose/docker-cli-config_schema_v3.8.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = compile_all_specs(dir.path(), &["swarm"])
        .iter()
        .flat_map(|n| stack_files(&dir.path().join(n)))
        .collect();
    assert_schema_holds(&check, &schema, &files, "replicas: 1", "replicas: one");
}

#[test]
fn every_member_is_pinned_stops_first_and_restarts_without_limit() {
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["swarm"]);
    let stack: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("cockroachdb/swarm/stack.yaml")).unwrap(),
    )
    .unwrap();
    for i in 0..3 {
        let member = &stack["services"][format!("cockroachdb-{i}")];
        let deploy = &member["deploy"];
        assert_eq!(deploy["replicas"], 1);
        assert_eq!(
            deploy["placement"]["constraints"][0],
            format!("node.labels.cockroachdb.member.{i} == true")
        );
        assert_eq!(deploy["update_config"]["order"], "stop-first");
        assert_eq!(deploy["rollback_config"]["order"], "stop-first");
        assert_eq!(deploy["restart_policy"]["condition"], "any");
        assert!(deploy["restart_policy"]["max_attempts"].is_null());
        assert_eq!(
            member["volumes"][0]["source"],
            format!("cockroachdb-swarm-{i}-datadir")
        );
        assert_eq!(
            deploy["endpoint_mode"], "dnsrr",
            "names resolve to the task itself"
        );
        assert!(
            member["ports"].is_null(),
            "nothing is published unless asked"
        );
        for key in ["restart", "depends_on", "container_name"] {
            assert!(member[key].is_null(), "stack deploy ignores `{key}`");
        }
    }
    assert_eq!(
        stack["services"]["cockroachdb-init"]["deploy"]["restart_policy"]["condition"],
        "on-failure"
    );
    assert_eq!(stack["networks"]["cockroachdb-swarm"]["driver"], "overlay");
    assert!(
        stack["networks"]["cockroachdb-swarm"]["driver_opts"]["encrypted"].is_string(),
        "no TLS: the overlay encrypts"
    );
    let everything: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("everything/swarm/stack.yaml")).unwrap(),
    )
    .unwrap();
    let member = &everything["services"]["everything-0"];
    assert_eq!(
        member["environment"]["PASSWORD_FILE"],
        "/run/secrets/db-secret.password"
    );
    assert!(
        member["environment"]["PASSWORD"].is_null(),
        "a secret is never a value"
    );
    assert_eq!(
        everything["secrets"]["db-secret.password"]["external"],
        true
    );
    assert!(
        everything["networks"]["everything"]["driver_opts"].is_null(),
        "with TLS the members encrypt themselves"
    );
}

#[test]
fn prepare_nodes_labels_one_node_per_member_and_refuses_sharing() {
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["swarm"]);
    let script = dir.path().join("cockroachdb/swarm/prepare-nodes.sh");
    if let Some(shellcheck) = tool("shellcheck") {
        let output = Command::new(shellcheck)
            .args(["--shell=sh", "--severity=style"])
            .arg(&script)
            .arg(dir.path().join("cockroachdb/swarm/deploy.sh"))
            .output()
            .unwrap();
        assert!(output.status.success(), "shellcheck:\n{}", stdout(&output));
    }
    let Some(fake) = FakeDocker::new() else {
        return;
    };
    let calls = fake
        .run_with(&script, &["node-a", "node-b", "node-c"], false)
        .unwrap();
    let labels: Vec<(String, String)> = calls
        .iter()
        .filter(|c| c.len() == 5 && c[0] == "node" && c[1] == "update" && c[2] == "--label-add")
        .map(|c| (c[3].clone(), c[4].clone()))
        .collect();
    assert_eq!(
        labels,
        [
            ("cockroachdb.member.0=true", "node-a"),
            ("cockroachdb.member.1=true", "node-b"),
            ("cockroachdb.member.2=true", "node-c")
        ]
        .map(|(l, n)| (l.to_string(), n.to_string()))
    );
    assert!(
        calls.iter().any(|c| c[..2] == ["node", "ls"]),
        "clears the member's label from other nodes first"
    );
    for refused in [vec!["node-a", "node-a", "node-b"], vec!["node-a", "node-b"]] {
        let error = fake.run_with(&script, &refused, false).unwrap_err();
        assert!(error.contains("requires"), "{refused:?}: {error}");
    }
    // Member 1 left node-b's volumes behind (`berth plan`, which marked them): never put back there.
    let marked = ["label node-b cockroachdb.member.1.old-volumes".to_string()];
    let nodes = ["node-a", "node-b", "node-c"];
    let error = fake
        .run_among(&script, &nodes, false, &marked, "")
        .unwrap_err();
    assert_contains(&error, "node-b holds the old volumes of member 1");
    assert_contains(
        &error,
        "docker node update --label-rm cockroachdb.member.1.old-volumes node-b",
    );
    let elsewhere = ["node-b", "node-a", "node-c"];
    fake.run_among(&script, &elsewhere, false, &marked, "")
        .expect("member 1 on another node");
}

/// `[replication] encryption` decides whether the overlay network is encrypted (IPsec), and
/// cleartext between several members is said; `tls` needs `[tls]`.
#[test]
fn the_spec_chooses_how_the_members_traffic_is_encrypted() {
    let etcd = example_text("etcd");
    let with = |encryption: &str| {
        etcd.replacen(
            "[replication]\n",
            &format!("[replication]\nencryption = \"{encryption}\"\n"),
            1,
        )
    };
    let network_of = |spec: &str| {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "etcd.toml", spec);
        let output = compile_ok(dir.path(), "etcd.toml", &["--backend", "swarm"]);
        let stack = std::fs::read_to_string(dir.path().join("out/swarm/stack.yaml")).unwrap();
        let stack: serde_json::Value = serde_saphyr::from_str(&stack).unwrap();
        (stack["networks"]["etcd-swarm"].clone(), stderr(&output))
    };
    let (default, _) = network_of(&etcd);
    assert_eq!(default["driver_opts"]["encrypted"], "", "{default}");
    let (network, _) = network_of(&with("network"));
    assert_eq!(network, default);
    let (none, said) = network_of(&with("none"));
    assert!(none["driver_opts"].get("encrypted").is_none(), "{none}");
    assert_contains(&said, "warning[spec/cleartext-peer-traffic]");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "etcd.toml", &with("tls"));
    let refused = berth(&["compile", "etcd.toml", "--out", "out"], dir.path());
    assert_exit(
        &refused,
        2,
        &["`replication.encryption` is `tls`, but the spec has no `[tls]`"],
    );
}
