//! PostgreSQL, one member, on a swarm of several nodes: as a plain Compose-to-Swarm conversion
//! writes it, the loss of its node loses its rows; as berth writes it, it waits for its node and
//! keeps them.

use super::{example_as_this_kernel_allows, wait_started_nowhere_else};
use crate::common::engine::*;
use crate::common::nodes::Nodes;
use crate::common::{berth_ok, run_ok, stdout, write};
use std::time::Duration;

const PASSWORD: &str = "berth-e2e-password";

/// `psql` from node `from`, in a container on `network`, against the server `host`.
fn psql(nodes: &Nodes, from: usize, network: &str, host: &str, sql: &str) -> std::process::Output {
    let password = format!("PGPASSWORD={PASSWORD}");
    nodes.docker(
        from,
        &[
            "run",
            "--rm",
            "--network",
            network,
            "--env",
            &password,
            &image_tag("postgres"),
            "psql",
            "-h",
            host,
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            "-c",
            sql,
        ],
    )
}

/// The node a service's running task is on, once it runs.
fn running_on(nodes: &Nodes, from: usize, service: &str) -> Option<String> {
    let out = nodes.docker(
        from,
        &[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        ],
    );
    stdout(&out)
        .lines()
        .find(|l| l.contains(" Running"))
        .and_then(|l| l.split(' ').next())
        .map(str::to_string)
}

fn node_index(nodes: &Nodes, name: &str) -> usize {
    (1..=nodes.count())
        .find(|&i| nodes.name(i) == name)
        .unwrap()
}

/// Writes 100 rows and waits until the server at `host` answers first.
fn write_rows(nodes: &Nodes, from: usize, network: &str, host: &str) {
    let started = std::time::Instant::now();
    loop {
        let out = psql(nodes, from, network, host, "select 1");
        if out.status.success() {
            break;
        }
        let why = crate::common::stderr(&out);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{host} never answered: {why}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let sql = "create table acks (n int); insert into acks select generate_series(1, 100)";
    let out = psql(nodes, from, network, host, sql);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
}

/// The negative proof and its fix, with one PostgreSQL: as a plain Compose-to-Swarm conversion
/// writes it (one service, a named volume, no placement), the loss of its node makes Swarm start it
/// on another node with an empty volume, and the acknowledged rows are gone; berth's output pins
/// the member to its node, is unavailable while the node is down, and keeps every row. On a
/// swarm whose other stacks are gone, with the image loaded.
pub fn waits_for_its_node_where_a_plain_stack_loses_its_rows(nodes: &mut Nodes) {
    let secret =
        format!("printf %s {PASSWORD} | docker secret create postgres-credentials.password -");
    run_ok(
        nodes.command(1, "sh").args(["-c", &secret]),
        "docker secret create",
    );
    let dir = tempfile::tempdir().unwrap();

    let plain = format!(
        "version: \"3.8\"\nservices:\n  db:\n    image: {}\n    environment:\n      POSTGRES_PASSWORD: {PASSWORD}\n    volumes:\n      - data:/var/lib/postgresql/data\nvolumes:\n  data: {{}}\nnetworks:\n  default:\n    attachable: true\n",
        image_tag("postgres")
    );
    let stack = write(dir.path(), "plain.yaml", &plain);
    run_ok(
        nodes
            .command(1, "docker")
            .args(["stack", "deploy", "-c"])
            .arg(&stack)
            .arg("plain"),
        "docker stack deploy (plain)",
    );
    let mut first = String::new();
    wait_until(
        "the plain stack's database runs",
        Duration::from_secs(120),
        || {
            first = running_on(nodes, 1, "plain_db").unwrap_or_default();
            !first.is_empty()
        },
    );
    let lost = node_index(nodes, &first);
    let client = if lost == 4 { 3 } else { 4 };
    let manager = if lost == 1 { 2 } else { 1 };
    // `tasks.db`: the task's own address. Swarm's virtual IP (IPVS) does not route between the
    // nodes of this machine; berth's stacks use `dnsrr`, without one.
    write_rows(nodes, client, "plain_default", "tasks.db");
    nodes.kill(lost);
    let mut moved = String::new();
    wait_until(
        "Swarm starts the plain database on another node",
        Duration::from_secs(180),
        || {
            moved = running_on(nodes, manager, "plain_db").unwrap_or_default();
            !moved.is_empty() && moved != first
        },
    );
    wait_until(
        "the moved database answers",
        Duration::from_secs(120),
        || {
            psql(nodes, client, "plain_default", "tasks.db", "select 1")
                .status
                .success()
        },
    );
    let count = psql(
        nodes,
        client,
        "plain_default",
        "tasks.db",
        "select count(*) from acks",
    );
    eprintln!(
        "postgres, plain stack: {first} lost, Swarm moved it to {moved}: {}",
        crate::common::stderr(&count).trim()
    );
    assert!(
        !count.status.success(),
        "the rows survived a move to an empty volume: {}",
        stdout(&count)
    );
    nodes.start(lost);
    // The network the clients attached to may be in use a moment longer: `stack rm` then fails
    // on it, and a second one removes what is left.
    wait_until(
        "`docker stack rm plain` succeeds",
        Duration::from_secs(60),
        || {
            let rm = nodes
                .command(manager, "docker")
                .args(["stack", "rm", "plain"])
                .output();
            rm.is_ok_and(|rm| rm.status.success())
        },
    );

    // berth's output: the member pinned to node2, as `prepare-nodes.sh node2` labels it.
    write(
        dir.path(),
        "postgres.toml",
        &example_as_this_kernel_allows("postgres"),
    );
    berth_ok(
        &[
            "compile",
            "postgres.toml",
            "--out",
            "out",
            "--backend",
            "swarm",
            "--set",
            "cpu=1",
            "--set",
            "memory=1Gi",
        ],
        dir.path(),
    );
    let out = dir.path().join("out/swarm");
    run_ok(
        nodes
            .command(1, "sh")
            .arg(out.join("prepare-nodes.sh"))
            .arg("node2"),
        "prepare-nodes.sh",
    );
    run_ok(
        nodes
            .command(1, "sh")
            .arg(out.join("deploy.sh"))
            .arg("postgres"),
        "deploy.sh",
    );
    wait_until("the member runs on node2", Duration::from_secs(120), || {
        running_on(nodes, 1, "postgres_postgres-0").as_deref() == Some("node2")
    });
    write_rows(nodes, 4, "postgres-swarm", "postgres-0");
    nodes.kill(2);
    wait_started_nowhere_else(nodes, 1, "postgres", 0, "node2 (postgres-0) lost");
    nodes.start(2);
    wait_until(
        "the member answers again on node2",
        Duration::from_secs(180),
        || {
            psql(nodes, 4, "postgres-swarm", "postgres-0", "select 1")
                .status
                .success()
        },
    );
    let count = psql(
        nodes,
        4,
        "postgres-swarm",
        "postgres-0",
        "select count(*) from acks",
    );
    assert_eq!(
        stdout(&count).trim(),
        "100",
        "{}",
        crate::common::stderr(&count)
    );
}
