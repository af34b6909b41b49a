//! End-to-end on a real Docker engine: the demo service (`demo/`) deployed with the compiled
//! `run.sh`, `compose.yaml` and `stack.yaml`, written to, torn down, killed all at once, and read
//! back. A negative proof shows that lifting the volume rule loses the data.
//!
//! Runs when a Docker engine answers (`docker info`); without one it says SKIPPED, and fails under
//! `CI=true`. Every name is unique to the run, and everything created is removed, also when a test
//! fails.

use crate::common::engine::*;
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Builds the demo image under a tag of this test's own (demo/build-image.sh); the test's
/// cleanup removes it.
fn build_image(name: &str) -> String {
    let tag = format!("berth-demo:{name}");
    run_ok(
        Command::new("sh")
            .arg(root().join("demo/build-image.sh"))
            .arg(&tag),
        "build-image.sh",
    );
    tag
}

/// Three consecutive free ports on 127.0.0.1.
fn free_ports() -> u16 {
    for _ in 0..50 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base < 60000
            && (1..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no three consecutive free ports");
}

fn http(method: &str, port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

fn health(container: &str) -> String {
    stdout(&docker(&[
        "inspect",
        "--format",
        "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        container,
    ]))
    .trim()
    .to_string()
}

/// Waits until `count` members run, their engine health check says healthy, and each answers
/// `/ready` (a quorum formed).
fn wait_ready(service: &str, count: usize, ports: &[u16]) {
    wait_until(
        &format!("{count} members of {service} are healthy"),
        Duration::from_secs(120),
        || {
            let running = containers(service);
            running.len() == count && running.iter().all(|c| health(c) == "healthy")
        },
    );
    for &port in ports {
        wait_until(
            &format!("port {port} is ready"),
            Duration::from_secs(120),
            || http("GET", port, "/ready", "").is_some_and(|(s, _)| s == 200),
        );
    }
}

/// Kills every member's process at once from the host (common::engine::crash).
fn crash_all(service: &str) -> Vec<String> {
    let before = containers(service);
    crash(&before);
    before
}

fn write_records(ports: &[u16], run: &str) -> Vec<String> {
    let mut written = Vec::new();
    for (i, &port) in ports.iter().enumerate() {
        let record = format!("{run} record for member {i}");
        let answer = http("POST", port, "/records", &record);
        assert_eq!(
            answer.as_ref().map(|(s, _)| *s),
            Some(201),
            "write to member {i}: {answer:?}"
        );
        written.push(record);
    }
    written
}

fn assert_records(ports: &[u16], written: &[String]) {
    for (i, (&port, record)) in ports.iter().zip(written).enumerate() {
        let (status, body) = http("GET", port, "/records", "").expect("member answers");
        assert_eq!(status, 200);
        assert_eq!(
            body.lines().collect::<Vec<_>>(),
            [record.as_str()],
            "member {i} kept exactly its record"
        );
    }
}

fn compile_demo(
    dir: &Path,
    name: &str,
    image: &str,
    port: u16,
    extra: &[&str],
    spec: &Path,
) -> PathBuf {
    let out = dir.join("out");
    let (n, i, p) = (
        format!("name={name}"),
        format!("image={image}"),
        format!("port={port}"),
    );
    let mut args = vec![
        "compile",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        &n,
        "--set",
        &i,
        "--set",
        &p,
    ];
    args.extend(extra);
    berth_ok(&args, dir);
    out
}

fn volumes_of(name: &str, members: usize) -> Vec<String> {
    (0..members).map(|i| format!("{name}-{i}-data")).collect()
}

#[test]
fn compose_keeps_every_record_through_down_up_and_a_total_crash() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("bdc{}", unique());
    let base = free_ports();
    let ports = [base, base + 1, base + 2];
    let image = build_image(&name);
    let out = compile_demo(
        dir.path(),
        &name,
        &image,
        base,
        &["--backend", "compose"],
        &root().join("examples/demo.toml"),
    );
    let file = out.join("compose/compose.yaml");
    let compose = compose.to_str().unwrap().to_string();
    let up = cmd(&[
        &compose,
        "-p",
        &name,
        "-f",
        file.to_str().unwrap(),
        "up",
        "-d",
    ]);
    let down = cmd(&[&compose, "-p", &name, "-f", file.to_str().unwrap(), "down"]);
    let mut cleanup = vec![cmd(&["docker", "rmi", &image])];
    for volume in volumes_of(&name, 3) {
        cleanup.push(cmd(&["docker", "volume", "rm", "-f", &volume]));
    }
    cleanup.push(down.clone());
    let _guard = Cleanup(cleanup);
    let run = |c: &[String]| {
        let output = Command::new(&c[0]).args(&c[1..]).output().unwrap();
        assert!(output.status.success(), "{c:?}: {}", stderr(&output));
    };

    run(&up);
    wait_ready(&name, 3, &ports);
    let written = write_records(&ports, &name);
    run(&down);
    assert!(containers(&name).is_empty());
    run(&up);
    wait_ready(&name, 3, &ports);
    assert_records(&ports, &written);

    // Every member crashes at once: the restart policy brings them back, and since no member
    // waits on another's quorum-gated health, the quorum forms again.
    let before = crash_all(&name);
    wait_until("every member restarted", Duration::from_secs(60), || {
        before.iter().all(|c| {
            stdout(&docker(&["inspect", "--format", "{{.RestartCount}}", c])).trim() != "0"
        })
    });
    wait_ready(&name, 3, &ports);
    assert_records(&ports, &written);
}

#[test]
fn run_sh_is_safe_to_rerun_and_survives_a_total_crash() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("bdd{}", unique());
    let base = free_ports();
    let ports = [base, base + 1, base + 2];
    let image = build_image(&name);
    let out = compile_demo(
        dir.path(),
        &name,
        &image,
        base,
        &["--backend", "docker"],
        &root().join("examples/demo.toml"),
    );
    let script = out.join("docker/run.sh");
    let mut cleanup = vec![
        cmd(&["docker", "rmi", &image]),
        cmd(&["docker", "network", "rm", &format!("{name}-docker")]),
    ];
    for volume in volumes_of(&name, 3) {
        cleanup.push(cmd(&["docker", "volume", "rm", "-f", &volume]));
    }
    for i in 0..3 {
        cleanup.push(cmd(&["docker", "rm", "-f", &format!("{name}-{i}")]));
    }
    let _guard = Cleanup(cleanup);
    let run_script = || {
        let output = Command::new("sh").arg(&script).output().unwrap();
        assert!(output.status.success(), "run.sh: {}", stderr(&output));
        stderr(&output)
    };

    run_script();
    wait_ready(&name, 3, &ports);
    let written = write_records(&ports, &name);
    let mut ids = containers(&name);
    ids.sort();
    // A second run reuses everything: same containers, same data, nothing recreated.
    let said = run_script();
    assert!(!said.contains("another spec"), "{said}");
    let mut again = containers(&name);
    again.sort();
    assert_eq!(ids, again, "run.sh twice recreated a container");
    assert_records(&ports, &written);

    crash_all(&name);
    wait_until("every member restarted", Duration::from_secs(60), || {
        ids.iter().all(|c| {
            stdout(&docker(&["inspect", "--format", "{{.RestartCount}}", c])).trim() != "0"
        })
    });
    wait_ready(&name, 3, &ports);
    assert_records(&ports, &written);
}

#[test]
fn swarm_keeps_a_pinned_member_and_its_data() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let Some(swarm) = Swarm::init() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = format!("bds{}", unique());
    let base = free_ports();
    let volume = format!("{name}-swarm-0-data");
    let image = build_image(&name);
    let mut cleanup = vec![cmd(&["docker", "rmi", &image])];
    cleanup.extend([
        // Swarm removes the task's container a moment after `stack rm`; the volume can go after it.
        cmd(&["sh", "-c", &format!("for i in $(seq 60); do docker volume rm {volume} >/dev/null 2>&1 && exit 0; sleep 1; done")]),
        cmd(&["docker", "stack", "rm", &name]),
    ]);
    let _guard = Cleanup(cleanup);
    // One member: spread is required and this swarm has one node.
    let out = compile_demo(
        dir.path(),
        &name,
        &image,
        base,
        &["--backend", "swarm", "--set", "replicas=1"],
        &root().join("examples/demo.toml"),
    );
    run_ok(
        Command::new("sh")
            .arg(out.join("swarm/prepare-nodes.sh"))
            .arg(&swarm.node),
        "prepare-nodes.sh",
    );
    let output = docker(&[
        "stack",
        "deploy",
        "--resolve-image",
        "never",
        "-c",
        out.join("swarm/stack.yaml").to_str().unwrap(),
        &name,
    ]);
    assert!(output.status.success(), "stack deploy: {}", stderr(&output));
    wait_ready(&name, 1, &[base]);
    let written = write_records(&[base], &name);
    let before = crash_all(&name);
    wait_until("swarm replaced the task", Duration::from_secs(120), || {
        let now = containers(&name);
        now.len() == 1 && now != before
    });
    wait_ready(&name, 1, &[base]);
    assert_records(&[base], &written);
}

/// The negative proof: the same service with the volume rule lifted loses every record on a
/// plain `down` and `up`. That is what `compose/no-persistent-volume` refuses.
#[test]
fn without_the_volume_rule_the_data_is_lost() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(root().join("examples/demo.toml")).unwrap();
    let unsafe_spec = demo.replace(
        "[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"1Gi\"\nclass = \"standard\"\n",
        "",
    ) + "\n[[allow]]\nrule = \"compose/no-persistent-volume\"\nreason = \"the negative proof\"\n";
    assert_ne!(unsafe_spec, demo + "\n");
    let spec = write(dir.path(), "unsafe.toml", &unsafe_spec);
    let refused = berth(
        &["check", spec.to_str().unwrap(), "--backend", "kubernetes"],
        dir.path(),
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "without the allow the rule refuses"
    );
    let name = format!("bdn{}", unique());
    let base = free_ports();
    let ports = [base, base + 1, base + 2];
    let image = build_image(&name);
    let out = compile_demo(
        dir.path(),
        &name,
        &image,
        base,
        &["--backend", "compose"],
        &spec,
    );
    let file = out.join("compose/compose.yaml");
    let compose = compose.to_str().unwrap().to_string();
    let up = cmd(&[
        &compose,
        "-p",
        &name,
        "-f",
        file.to_str().unwrap(),
        "up",
        "-d",
    ]);
    let down = cmd(&[&compose, "-p", &name, "-f", file.to_str().unwrap(), "down"]);
    // Without volumes, `down` leaves nothing but anonymous volumes; `-v` here is the test's cleanup.
    let _guard = Cleanup(vec![
        cmd(&["docker", "rmi", &image]),
        cmd(&[
            &compose,
            "-p",
            &name,
            "-f",
            file.to_str().unwrap(),
            "down",
            "-v",
        ]),
    ]);
    let run = |c: &[String]| {
        let output = Command::new(&c[0]).args(&c[1..]).output().unwrap();
        assert!(output.status.success(), "{c:?}: {}", stderr(&output));
    };
    run(&up);
    wait_ready(&name, 3, &ports);
    write_records(&ports, &name);
    run(&down);
    run(&up);
    wait_ready(&name, 3, &ports);
    for &port in &ports {
        let (_, body) = http("GET", port, "/records", "").unwrap();
        assert!(
            body.is_empty(),
            "the records survived without a volume: {body}"
        );
    }
}
