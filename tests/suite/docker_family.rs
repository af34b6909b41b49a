//! The docker and compose backends checked by tools nobody here wrote: `bash -n`, `shellcheck`,
//! the real docker CLI's flag parser (through a recording fake `docker` whose calls go to a daemon
//! socket that does not exist), `docker-compose config` and the Compose Spec schema.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn run_scripts_pass_bash_n_and_shellcheck() {
    let dir = tempfile::tempdir().unwrap();
    let specs = compile_all_specs(dir.path(), &["docker", "compose"]);
    let Some(shellcheck) = tool("shellcheck") else {
        return;
    };
    // run.sh never removes anything; down.sh removes containers, never a volume.
    let scripts = [
        (
            "run.sh",
            &["--rm", "docker rm", "rm -v", "prune", "volume rm"][..],
        ),
        ("down.sh", &["rm -v", "--volumes", "prune", "volume rm"][..]),
    ];
    for name in specs {
        for (file, forbidden) in scripts {
            let script = dir.path().join(&name).join("docker").join(file);
            run_ok(
                Command::new("bash").arg("-n").arg(&script),
                &format!("{name}: bash -n {file}"),
            );
            run_ok(
                Command::new(&shellcheck)
                    .args(["--shell=sh", "--severity=style"])
                    .arg(&script),
                &format!("{name}: shellcheck {file}"),
            );
            let text = std::fs::read_to_string(&script).unwrap();
            for forbidden in forbidden {
                assert!(
                    !text.lines().any(|l| !l.trim_start().starts_with('#')
                        && !l.contains("echo")
                        && l.contains(forbidden)),
                    "{name}: {file} must never run `{forbidden}`"
                );
            }
            assert!(
                std::fs::metadata(&script).unwrap().permissions().mode() & 0o111 != 0,
                "{name}: {file} is executable"
            );
        }
    }
}

use std::os::unix::fs::PermissionsExt;

fn verb(call: &[String]) -> String {
    call.iter().take(2).cloned().collect::<Vec<_>>().join(" ")
}

#[test]
fn run_scripts_drive_the_real_docker_cli() {
    let Some(fake) = FakeDocker::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for name in compile_all_specs(dir.path(), &["docker", "compose"]) {
        let script = dir.path().join(&name).join("docker/run.sh");
        let calls = fake.run(&script, false);
        let runs: Vec<&Vec<String>> = calls.iter().filter(|c| c[0] == "run").collect();
        assert!(!runs.is_empty(), "{name}: no docker run");
        for run in &runs {
            for flag in ["--detach", "--restart", "--network", "--stop-timeout"] {
                assert!(
                    run.iter().any(|a| a == flag),
                    "{name}: docker run without {flag}: {run:?}"
                );
            }
            assert!(
                run.windows(2)
                    .any(|w| w[0] == "--restart" && w[1] == "unless-stopped")
            );
            assert!(
                !run.iter().any(|a| a == "--rm"),
                "{name}: --rm would lose the container"
            );
        }
        assert!(
            calls.iter().any(|c| verb(c) == "network create"),
            "{name}: creates its network"
        );
        assert!(
            calls.iter().filter(|c| verb(c) == "volume create").count() >= runs.len(),
            "{name}: a volume per member"
        );

        // Everything exists: the script only starts what is there, and never creates or removes.
        let again = fake.run(&script, true);
        for call in &again {
            let v = verb(call);
            assert!(
                !matches!(call[0].as_str(), "run" | "create" | "rm")
                    && v != "volume create"
                    && v != "network create"
                    && v != "volume rm"
                    && v != "volume prune",
                "{name}: a re-run must not {call:?}"
            );
        }
        assert_eq!(
            again.iter().filter(|c| c[0] == "start").count(),
            runs.len(),
            "{name}: a re-run starts each member"
        );
    }
}

#[test]
fn secrets_are_taken_from_the_environment_never_written() {
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["docker", "compose"]);
    let script = std::fs::read_to_string(dir.path().join("postgres/docker/run.sh")).unwrap();
    assert!(script.contains(": \"${POSTGRES_PASSWORD:?"), "{script}");
    assert!(script.contains("--env POSTGRES_PASSWORD \\"), "{script}");
    // Without the variable the script stops before touching docker.
    let output = Command::new("/bin/sh")
        .arg(dir.path().join("postgres/docker/run.sh"))
        .env_remove("POSTGRES_PASSWORD")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_contains(&stderr(&output), "set POSTGRES_PASSWORD in the environment");
    let compose =
        std::fs::read_to_string(dir.path().join("postgres/compose/compose.yaml")).unwrap();
    // Passed through from the environment of `up`: no `${...:?}`, which would stop `down` too.
    assert!(compose.contains("POSTGRES_PASSWORD: null"), "{compose}");
    assert!(!compose.contains("${POSTGRES_PASSWORD"), "{compose}");
}

const HOSTILE: &[&str] = &[
    "it's \"quoted\"",
    "$(touch /tmp/berth-pwned)",
    "`id`",
    "$HOME ${HOME} $$",
    "line one\nline two",
    "tab\tand  spaces ",
    "ünïcödé ✓ 雪",
    "back\\slash\\",
    "*",
    "-rf",
    "",
    "a;b|c&d>e<f",
    "#not a comment",
];

fn hostile_spec() -> String {
    let list = HOSTILE
        .iter()
        .map(|s| toml::Value::String(s.to_string()).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "name = \"hostile\"\n[container]\nimage = \"busybox:1\"\ncommand = [\"/bin/echo\"]\nargs = [{list}]\nenv = {{ HOSTILE = {} }}\n[[volumes]]\nname = \"d\"\npath = \"/d\"\nsize = \"1Gi\"\nclass = \"x\"\n\n[[allow]]\nrule = \"spec/unexpanded-variable\"\nreason = \"the test hands `$` over as text\"\n",
        toml::Value::String(HOSTILE.join("|")),
    )
}

#[test]
fn hostile_strings_reach_docker_byte_for_byte() {
    let Some(fake) = FakeDocker::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", &hostile_spec());
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "docker"]);
    assert_exit(&output, 0, &[]);
    let calls = fake.run(&dir.path().join("out/docker/run.sh"), false);
    let run = calls.iter().find(|c| c[0] == "run").expect("a docker run");
    let image = run.iter().position(|a| a == "busybox:1").unwrap();
    assert_eq!(
        &run[image + 1..],
        HOSTILE,
        "every argument arrives as exactly one argv entry"
    );
    assert!(
        run.windows(2)
            .any(|w| w[0] == "--env" && w[1] == format!("HOSTILE={}", HOSTILE.join("|")))
    );
    assert!(!Path::new("/tmp/berth-pwned").exists());
}

#[test]
fn compose_files_load_in_docker_compose_and_match_the_compose_spec() {
    let dir = tempfile::tempdir().unwrap();
    let specs = compile_all_specs(dir.path(), &["docker", "compose"]);
    if let Some((schema, check)) = schema_checker("compose/compose-spec.json") {
        let files: Vec<PathBuf> = specs
            .iter()
            .map(|n| dir.path().join(n).join("compose/compose.yaml"))
            .collect();
        assert_schema_holds(&check, &schema, &files, "restart:", "restrat:");
    }
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    for name in &specs {
        run_ok(
            Command::new(&compose)
                .args(["config", "-q"])
                .current_dir(dir.path().join(name).join("compose"))
                .envs(SECRET_ENV),
            &format!("{name}: docker-compose config"),
        );
    }
}

#[test]
fn compose_keeps_hostile_strings_and_members_never_wait_on_each_other() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", &hostile_spec());
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "compose"]);
    assert_exit(&output, 0, &[]);
    let (Some(compose), Some(python)) = (tool("docker-compose"), tool("python3")) else {
        return;
    };
    // docker-compose parses the file, interpolates, and prints it again (with `$` as `$$`).
    let output = Command::new(&compose)
        .arg("config")
        .current_dir(dir.path().join("out/compose"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(dir.path().join("resolved.yaml"), &output.stdout).unwrap();
    let script = "import json, sys, yaml\ns = yaml.safe_load(open(sys.argv[1]))['services']['hostile-0']\nprint(json.dumps([s['command'], s['environment']['HOSTILE']]))";
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(dir.path().join("resolved.yaml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let read: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let unescape = |v: &serde_json::Value| v.as_str().unwrap().replace("$$", "$");
    let args: Vec<String> = read[0].as_array().unwrap().iter().map(unescape).collect();
    assert_eq!(args, HOSTILE);
    assert_eq!(unescape(&read[1]), HOSTILE.join("|"));

    let cockroach = tempfile::tempdir().unwrap();
    compile_ok(
        cockroach.path(),
        root().join("examples/cockroachdb.toml").to_str().unwrap(),
        &["--backend", "compose"],
    );
    let file: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(cockroach.path().join("out/compose/compose.yaml")).unwrap(),
    )
    .unwrap();
    for i in 0..3 {
        assert!(
            file["services"][format!("cockroachdb-{i}")]["depends_on"].is_null(),
            "members start in parallel and never gate on each other"
        );
    }
    assert_eq!(
        file["services"]["cockroachdb-init"]["depends_on"]["cockroachdb-0"]["condition"],
        "service_started",
        "init waits for the members to start, not to be healthy"
    );
    assert!(
        file.get("name").is_none(),
        "no top-level name: docker-compose 1.29 rejects it"
    );
}

/// Env names as images take them (Elasticsearch's dotted settings, Bitnami's `KAFKA_CFG_*`),
/// including a dotted secret, reach every backend's output exactly; docker run gets them as
/// arguments, Cloud Foundry's start command through `env`, never as shell variables.
const DOTTED_ENV_SPEC: &str = r#"
name = "search"
[container]
image = "docker.elastic.co/elasticsearch/elasticsearch:8.15.0"
command = ["printenv"]
[container.env]
"node.name" = "{{self.name}}"
"discovery.seed_hosts" = "{{join peer_hosts \",\"}}"
"bootstrap.memory_lock" = "true"
KAFKA_CFG_NODE_ID = "{{self.ordinal}}"
ELASTIC_PASSWORD = { secret = "search", key = "password" }
[[volumes]]
name = "data"
path = "/usr/share/elasticsearch/data"
size = "50Gi"
class = "fast-ssd"
[replication]
replicas = 3
[backends.cloudfoundry]
volume_services = { data = "search-nfs" }
"#;

#[test]
fn env_names_with_dots_and_dashes_arrive_exactly_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", DOTTED_ENV_SPEC);
    compile_ok(dir.path(), "spec.toml", &[]);
    let out = dir.path().join("out");
    let read = |path: &str| std::fs::read_to_string(out.join(path)).unwrap();
    let expected = |i: usize| {
        vec![
            ("node.name".to_string(), format!("search-{i}")),
            ("bootstrap.memory_lock".to_string(), "true".to_string()),
            ("KAFKA_CFG_NODE_ID".to_string(), i.to_string()),
        ]
    };
    for i in 0..3 {
        let compose: serde_json::Value =
            serde_saphyr::from_str(&read("compose/compose.yaml")).unwrap();
        let swarm: serde_json::Value =
            serde_saphyr::from_str(&read(&format!("swarm/members/search-{i}.yaml"))).unwrap();
        let marathon: serde_json::Value =
            serde_json::from_str(&read(&format!("marathon/search-{i}.json"))).unwrap();
        let member = format!("search-{i}");
        for (name, value) in expected(i) {
            assert_eq!(
                compose["services"][&member]["environment"][&name].as_str(),
                Some(&value[..]),
                "compose {name}"
            );
            assert_eq!(
                swarm["services"][&member]["environment"][&name].as_str(),
                Some(&value[..]),
                "swarm {name}"
            );
            assert_eq!(
                marathon["env"][&name].as_str(),
                Some(&value[..]),
                "marathon {name}"
            );
        }
        assert!(compose["services"][&member]["environment"]["discovery.seed_hosts"].is_string());
    }
    let statefulset: serde_json::Value =
        serde_saphyr::from_str(&read("kubernetes/40-statefulset-search.yaml")).unwrap();
    let names: Vec<&str> = statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for name in [
        "node.name",
        "discovery.seed_hosts",
        "bootstrap.memory_lock",
        "KAFKA_CFG_NODE_ID",
        "ELASTIC_PASSWORD",
    ] {
        assert!(names.contains(&name), "kubernetes lacks {name}: {names:?}");
    }

    // Cloud Foundry: the start command sets the per-instance names through `env`; run its last
    // step as an instance would, with the command (`printenv`) showing what the process gets.
    let manifest: serde_json::Value =
        serde_saphyr::from_str(&read("cloudfoundry/manifest.yml")).unwrap();
    let app = &manifest["applications"][0];
    assert_eq!(app["env"]["bootstrap.memory_lock"].as_str(), Some("true"));
    let command = app["command"].as_str().unwrap();
    let exec = &command[command.rfind("exec ").unwrap()..];
    let shown = Command::new("sh")
        .args(["-c", exec])
        .env_clear()
        .env("CF_INSTANCE_INDEX", "2")
        .output()
        .unwrap();
    let shown = stdout(&shown);
    for (name, value) in expected(2)
        .into_iter()
        .filter(|(n, _)| n != "bootstrap.memory_lock")
    {
        assert!(
            shown.lines().any(|l| l == format!("{name}={value}")),
            "{name} in:\n{shown}"
        );
    }

    // docker run: each name is one `--env` argument, as the real CLI parses it.
    let Some(fake) = FakeDocker::new() else {
        return;
    };
    if let Some(shellcheck) = tool("shellcheck") {
        let checked = Command::new(shellcheck)
            .args(["--shell=sh", "--severity=style"])
            .arg(out.join("docker/run.sh"))
            .output()
            .unwrap();
        assert!(checked.status.success(), "{}", stdout(&checked));
    }
    let calls = fake.run(&out.join("docker/run.sh"), false);
    let runs: Vec<&Vec<String>> = calls.iter().filter(|c| c[0] == "run").collect();
    assert_eq!(runs.len(), 3);
    for (i, run) in runs.iter().enumerate() {
        let envs: Vec<&str> = run
            .windows(2)
            .filter(|w| w[0] == "--env")
            .map(|w| w[1].as_str())
            .collect();
        for (name, value) in expected(i) {
            assert!(
                envs.contains(&format!("{name}={value}").as_str()),
                "{envs:?}"
            );
        }
        assert!(envs.contains(&"ELASTIC_PASSWORD"), "{envs:?}");
    }
}

/// A spec of two members whose data is in existing Docker volumes (`volumes.external`).
fn external_volume_spec(external: &str, extra: &str) -> String {
    format!(
        "name = \"db\"\ntargets = [\"docker\", \"compose\", \"kubernetes\"]\n\n[container]\nimage = \"redis:7.4\"\n\n[[volumes]]\nname = \"data\"\npath = \"/data\"\nclass = \"fast\"\nsize = \"1Gi\"\nexternal = '{external}'\n{extra}\n[replication]\nreplicas = 2\n"
    )
}

/// `volumes.external`: run.sh and compose mount each member's own existing volume and never
/// create one; the backends that make their own storage go on doing so; a name two members
/// would share, that Docker refuses, or on a volume that keeps nothing is an input error.
#[test]
fn external_volumes_are_mounted_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let spec = external_volume_spec("legacy_db{{add self.ordinal 1}}_data", "");
    write(dir.path(), "db.toml", &spec);
    compile_ok(dir.path(), "db.toml", &[]);
    let out = dir.path().join("out");
    let script = std::fs::read_to_string(out.join("docker/run.sh")).unwrap();
    for (volume, member) in [("legacy_db1_data", "db-0"), ("legacy_db2_data", "db-1")] {
        assert_contains(&script, &format!("existing_volume {volume} {member}\n"));
        assert_contains(&script, &format!("--volume {volume}:/data"));
    }
    assert!(!script.contains("\nensure_volume "), "{script}");
    let compose = std::fs::read_to_string(out.join("compose/compose.yaml")).unwrap();
    assert_contains(
        &compose,
        "  db-0-data:\n    name: legacy_db1_data\n    external: true\n",
    );
    if let Some(fake) = FakeDocker::new() {
        let refused = fake.run_with(&out.join("docker/run.sh"), &[], false);
        assert_contains(
            &refused.unwrap_err(),
            "volume legacy_db1_data, which the spec says holds the data of db-0 (volumes.external), does not exist",
        );
    }
    let kubernetes = tree(&out.join("kubernetes"));
    assert!(!kubernetes.is_empty());
    for (file, text) in kubernetes {
        assert!(
            !String::from_utf8_lossy(&text).contains("legacy_db"),
            "{file}"
        );
    }

    for (external, extra, says) in [
        (
            "legacy_data",
            "",
            "members 0 and 1 would share the external volume `legacy_data`",
        ),
        (
            "a b{{self.ordinal}}",
            "",
            "is `a b0` for member 0, not a Docker volume name",
        ),
        (
            "x{{self.ordinal}}",
            "persistent = false\n",
            "is not persistent, yet names an external volume",
        ),
    ] {
        write(
            dir.path(),
            "bad.toml",
            &external_volume_spec(external, extra),
        );
        let output = compile_in(dir.path(), "bad.toml", &[]);
        assert_exit(&output, 2, &["bad.toml:", says]);
    }
}

/// A spec of two members on the network `shop`, with `aliases`.
fn network_spec(aliases: &str) -> String {
    format!(
        "name = \"db\"\ntargets = [\"docker\", \"compose\", \"kubernetes\"]\n\n[container]\nimage = \"redis:7.4\"\n\n[[ports]]\nname = \"redis\"\nport = 6379\n\n[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"1Gi\"\nclass = \"fast\"\n\n[network]\nname = \"shop\"\naliases = {aliases}\n\n[replication]\nreplicas = 2\n"
    )
}

/// `[network]`: the members join the named network with their aliases on docker and compose;
/// on Kubernetes the network names the namespace, and each alias is a Service. An alias no
/// backend can carry, or another member's name, is an input error.
#[test]
fn network_names_and_aliases_reach_every_backend_that_has_them() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "db.toml",
        &network_spec(r#"["cache", "cache{{add self.ordinal 1}}"]"#),
    );
    compile_ok(dir.path(), "db.toml", &[]);
    let out = dir.path().join("out");
    let compose = std::fs::read_to_string(out.join("compose/compose.yaml")).unwrap();
    assert_contains(
        &compose,
        "    networks:\n      shop:\n        aliases:\n        - cache\n        - cache2\n",
    );
    assert_contains(&compose, "networks:\n  shop:\n    name: shop\n");
    let script = std::fs::read_to_string(out.join("docker/run.sh")).unwrap();
    assert_contains(
        &script,
        "--network-alias cache \\\n  --network-alias cache1 \\",
    );
    let service = std::fs::read_to_string(out.join("kubernetes/22-service-cache1.yaml")).unwrap();
    assert_contains(&service, "  namespace: shop\n");
    assert_contains(&service, "    statefulset.kubernetes.io/pod-name: db-0\n");

    for (aliases, says) in [
        (
            r#"["db-1"]"#,
            "member 0's alias `db-1` is member 1's host name",
        ),
        (
            r#"["9lives"]"#,
            "`network.aliases` `9lives` must start with a letter",
        ),
        (r#"["Cache"]"#, "may only hold lowercase letters"),
    ] {
        write(dir.path(), "bad.toml", &network_spec(aliases));
        let output = compile_in(dir.path(), "bad.toml", &[]);
        assert_exit(&output, 2, &["bad.toml:", says]);
    }
    // A network Docker makes itself takes no aliases; Kubernetes keeps `kube-*` for itself.
    for (name, says) in [
        (
            "bridge",
            "`network.name` `bridge` is a network Docker makes itself",
        ),
        ("kube-system", "is a namespace Kubernetes keeps for itself"),
    ] {
        let spec = network_spec("[]").replace("name = \"shop\"", &format!("name = \"{name}\""));
        write(dir.path(), "bad.toml", &spec);
        let output = compile_in(dir.path(), "bad.toml", &[]);
        assert_exit(&output, 2, &["bad.toml:", says]);
    }
}
