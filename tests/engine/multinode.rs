//! Node loss, proven on several engines formed into one swarm (tests/common/nodes.rs): this
//! machine's kernel and namespaces stand in for a cluster of hosts.

use crate::common::engine::*;
use crate::common::nodes::{Nodes, esp_works};
use crate::common::{berth_ok, root, run_ok, stdout, write};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// `docker node ls` as seen from node `from`: each node's hostname and status.
fn statuses(nodes: &Nodes, from: usize) -> Vec<(String, String)> {
    let out = nodes.docker(
        from,
        &["node", "ls", "--format", "{{.Hostname}} {{.Status}}"],
    );
    let mut seen: Vec<(String, String)> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(h, s)| (h.to_string(), s.to_string()))
        .collect();
    seen.sort();
    seen
}

fn status_of(nodes: &Nodes, from: usize, node: usize) -> String {
    statuses(nodes, from)
        .into_iter()
        .find(|(h, _)| h == nodes.name(node))
        .map(|(_, s)| s)
        .unwrap_or_default()
}

/// The harness itself: a swarm of three managers and a worker forms; a killed node (every
/// process of it) is seen down and comes back as after a reboot; a node cut off the network is
/// seen down and comes back when healed.
#[test]
fn several_engines_form_a_swarm_that_sees_nodes_die_and_return() {
    let _engine = exclusive();
    let Some(mut nodes) = Nodes::swarm(3, 1) else {
        return;
    };
    let all_ready = |nodes: &Nodes| statuses(nodes, 1).iter().all(|(_, s)| s == "Ready");
    wait_until("every node is ready", Duration::from_secs(60), || {
        statuses(&nodes, 1).len() == 4 && all_ready(&nodes)
    });
    nodes.kill(2);
    wait_until("node2 is seen down", Duration::from_secs(60), || {
        status_of(&nodes, 1, 2) == "Down"
    });
    nodes.start(2);
    wait_until("node2 is back", Duration::from_secs(60), || {
        status_of(&nodes, 1, 2) == "Ready"
    });
    nodes.cut(3, true);
    wait_until("node3 is seen down", Duration::from_secs(60), || {
        status_of(&nodes, 1, 3) == "Down"
    });
    nodes.cut(3, false);
    wait_until("node3 is back", Duration::from_secs(60), || {
        status_of(&nodes, 1, 3) == "Ready"
    });
}

/// etcd's example as a user deploys it on a swarm of several nodes: its default
/// `spread = "required"`, `prepare-nodes.sh` with one node per member, `deploy.sh`.
struct Etcd {
    out: std::path::PathBuf,
    /// The nodes that hold the members, in member order; the spare holds none.
    member_nodes: Vec<usize>,
    spare: usize,
    client_image: String,
}

const ENDPOINTS: &str = "http://etcd-0:2379,http://etcd-1:2379,http://etcd-2:2379";

impl Etcd {
    fn deploy(nodes: &Nodes, dir: &Path) -> Etcd {
        write(dir, "etcd.toml", &example_as_this_kernel_allows("etcd"));
        let out = dir.join("out");
        berth_ok(
            &["compile", "etcd.toml", "--out", "out", "--backend", "swarm"],
            dir,
        );
        let etcd = Etcd {
            out,
            member_nodes: vec![1, 2, 3],
            spare: 4,
            client_image: image_tag("etcd-client"),
        };
        let names: Vec<&str> = etcd.member_nodes.iter().map(|&i| nodes.name(i)).collect();
        run_ok(
            nodes
                .command(1, "sh")
                .arg(etcd.out.join("swarm/prepare-nodes.sh"))
                .args(&names),
            "prepare-nodes.sh",
        );
        run_ok(
            nodes
                .command(1, "sh")
                .arg(etcd.out.join("swarm/deploy.sh"))
                .arg("etcd"),
            "deploy.sh",
        );
        etcd
    }

    /// The nodes each member's tasks are assigned to, as the managers see it from node `from`.
    fn placement(&self, nodes: &Nodes, from: usize) -> Vec<Vec<String>> {
        (0..3)
            .map(|m| {
                let service = format!("etcd_etcd-{m}");
                let out = nodes.docker(
                    from,
                    &[
                        "service",
                        "ps",
                        &service,
                        "--filter",
                        "desired-state=running",
                        "--format",
                        "{{.Node}}",
                    ],
                );
                // A task no node can take (its node is down) is pending on none.
                stdout(&out)
                    .lines()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }

    /// The writer: a client on the spare node that puts `k<N>` against every member, once every
    /// 0.2 s, and logs `<time> <N>` for each write etcd acknowledged.
    fn start_writer(&self, nodes: &Nodes) {
        let script = format!(
            "i=0; while :; do i=$((i + 1)); \
             if etcdctl --endpoints={ENDPOINTS} --dial-timeout=1s --command-timeout=2s put k$i v >/dev/null 2>&1; \
             then echo \"$(date +%s.%N) $i\"; fi; sleep 0.2; done"
        );
        let out = nodes.docker(
            self.spare,
            &[
                "run",
                "--detach",
                "--name",
                "writer",
                "--network",
                "etcd-swarm",
                "--entrypoint",
                "sh",
                &self.client_image,
                "-c",
                &script,
            ],
        );
        assert!(
            out.status.success(),
            "the writer: {}",
            crate::common::stderr(&out)
        );
    }

    /// Every acknowledged write so far, with when it was acknowledged.
    fn acknowledged(&self, nodes: &Nodes) -> Vec<(f64, u32)> {
        let out = nodes.docker(self.spare, &["logs", "writer"]);
        stdout(&out)
            .lines()
            .filter_map(|l| {
                let (time, n) = l.split_once(' ')?;
                Some((time.parse().ok()?, n.parse().ok()?))
            })
            .collect()
    }

    /// The longest time without an acknowledged write since `since` (seconds of the epoch).
    fn longest_outage(&self, nodes: &Nodes, since: f64) -> f64 {
        let acked = self.acknowledged(nodes);
        let times: Vec<f64> = acked
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| *t >= since)
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
    }

    /// The keys member `m` holds, read locally (a serializable read).
    fn keys_of(&self, nodes: &Nodes, m: usize) -> Option<BTreeSet<u32>> {
        let endpoint = format!("--endpoints=http://etcd-{m}:2379");
        let out = nodes.docker(
            self.spare,
            &[
                "run",
                "--rm",
                "--network",
                "etcd-swarm",
                &self.client_image,
                "etcdctl",
                &endpoint,
                "--command-timeout=5s",
                "get",
                "k",
                "--prefix",
                "--keys-only",
                "--consistency=s",
            ],
        );
        out.status.success().then(|| {
            stdout(&out)
                .lines()
                .filter_map(|l| l.strip_prefix('k')?.parse().ok())
                .collect()
        })
    }

    /// Waits until every member holds every write acknowledged so far.
    fn assert_every_write_everywhere(&self, nodes: &Nodes, when: &str) {
        let acked: BTreeSet<u32> = self
            .acknowledged(nodes)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert!(
            acked.len() > 10,
            "{when}: only {} writes acknowledged",
            acked.len()
        );
        for m in 0..3 {
            wait_until(
                &format!(
                    "{when}: etcd-{m} holds all {} acknowledged writes",
                    acked.len()
                ),
                Duration::from_secs(90),
                || {
                    self.keys_of(nodes, m)
                        .is_some_and(|keys| acked.is_subset(&keys))
                },
            );
        }
    }
}

/// An example as written, but for the encryption of its members' traffic where this kernel
/// cannot carry IPsec ESP, which Swarm's encrypted overlay (the default without `[tls]`) needs
/// between nodes: then `encryption = "none"`, and the test says so.
fn example_as_this_kernel_allows(name: &str) -> String {
    let example = std::fs::read_to_string(root().join("examples").join(format!("{name}.toml")));
    let example = example.unwrap();
    if esp_works() {
        return example;
    }
    eprintln!(
        "{name}: this kernel has no IPsec ESP for Swarm's encrypted overlay; the members' traffic is cleartext here (`encryption = \"none\"`)"
    );
    let spec = example.replacen(
        "[replication]\n",
        "[replication]\nencryption = \"none\"\n",
        1,
    );
    assert_ne!(spec, example, "{name} has a [replication] table");
    spec
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The node of the swarm's leader.
fn leader(nodes: &Nodes, from: usize) -> usize {
    let out = nodes.docker(
        from,
        &["node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}"],
    );
    let name = stdout(&out)
        .lines()
        .find_map(|l| l.strip_suffix(" Leader").map(str::to_string))
        .expect("the swarm has a leader");
    (1..=nodes.count())
        .find(|&i| nodes.name(i) == name)
        .unwrap()
}

/// etcd on three nodes of a swarm of four (three managers, a spare worker), each member pinned
/// to its node: placement, the loss of a member's node, of the leader's node, a partition and a
/// drain.
#[test]
fn etcd_survives_node_loss_partition_and_drain_on_a_swarm_of_several_nodes() {
    let _engine = exclusive();
    let Some(mut nodes) = Nodes::swarm(3, 1) else {
        return;
    };
    images();
    nodes.load(&[&image_tag("etcd"), &image_tag("etcd-client")]);
    let dir = tempfile::tempdir().unwrap();
    let etcd = Etcd::deploy(&nodes, dir.path());
    wait_until(
        "every member runs on its own node",
        Duration::from_secs(120),
        || etcd.placement(&nodes, 1) == [["node1"], ["node2"], ["node3"]],
    );
    etcd.start_writer(&nodes);
    wait_until("etcd acknowledges writes", Duration::from_secs(120), || {
        etcd.acknowledged(&nodes).len() > 20
    });

    // A member's node dies: the majority serves; the member starts nowhere else.
    let since = now();
    nodes.kill(2);
    std::thread::sleep(Duration::from_secs(30));
    let placed = etcd.placement(&nodes, 1);
    assert!(
        placed[1].iter().all(|n| n == "node2"),
        "etcd-1 moved off its node: {placed:?}"
    );
    let outage = etcd.longest_outage(&nodes, since);
    eprintln!("etcd: node2 (etcd-1) lost: longest write outage {outage:.1} s");
    assert!(outage <= 15.0, "writes stopped for {outage:.1} s");
    nodes.start(2);
    etcd.assert_every_write_everywhere(&nodes, "node2 back");

    // The swarm leader's node dies: another manager leads, and etcd behaves as above.
    let lost = leader(&nodes, 1);
    let from = (1..=3).find(|&i| i != lost).unwrap();
    let since = now();
    nodes.kill(lost);
    wait_until("another manager leads", Duration::from_secs(60), || {
        let out = nodes.docker(from, &["node", "ls", "--format", "{{.ManagerStatus}}"]);
        stdout(&out).contains("Leader") && leader(&nodes, from) != lost
    });
    std::thread::sleep(Duration::from_secs(20));
    let member = etcd.member_nodes.iter().position(|&n| n == lost).unwrap();
    let placed = etcd.placement(&nodes, from);
    let home = nodes.name(lost).to_string();
    assert!(
        placed[member].iter().all(|n| *n == home),
        "etcd-{member} moved off its node: {placed:?}"
    );
    let outage = etcd.longest_outage(&nodes, since);
    eprintln!(
        "etcd: the leader's node ({home}, etcd-{member}) lost: longest write outage {outage:.1} s"
    );
    assert!(outage <= 15.0, "writes stopped for {outage:.1} s");
    nodes.start(lost);
    etcd.assert_every_write_everywhere(&nodes, "the leader's node back");

    // A partition: node3 cut off; the majority serves, the minority member acknowledges nothing.
    let since = now();
    nodes.cut(3, true);
    std::thread::sleep(Duration::from_secs(10));
    let member = nodes.docker(
        3,
        &[
            "ps",
            "--quiet",
            "--filter",
            "label=com.docker.swarm.service.name=etcd_etcd-2",
        ],
    );
    let member = stdout(&member).trim().to_string();
    let minority = nodes.docker(
        3,
        &[
            "exec",
            &member,
            "/usr/local/bin/etcdctl",
            "--endpoints=http://127.0.0.1:2379",
            "--command-timeout=3s",
            "put",
            "minority",
            "x",
        ],
    );
    assert!(
        !minority.status.success(),
        "the cut-off member acknowledged a write"
    );
    let outage = etcd.longest_outage(&nodes, since);
    eprintln!("etcd: node3 (etcd-2) cut off: longest write outage {outage:.1} s");
    assert!(outage <= 15.0, "writes stopped for {outage:.1} s");
    nodes.cut(3, false);
    etcd.assert_every_write_everywhere(&nodes, "node3 healed");

    // A drain of a member's node: the member stops and waits for its node, the majority serves.
    let since = now();
    let drain = |availability: &str| {
        let out = nodes.docker(
            1,
            &["node", "update", "--availability", availability, "node2"],
        );
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
    };
    drain("drain");
    wait_until(
        "etcd-1 stops on the drained node",
        Duration::from_secs(60),
        || etcd.placement(&nodes, 1)[1].is_empty(),
    );
    std::thread::sleep(Duration::from_secs(10));
    assert!(
        etcd.placement(&nodes, 1)[1].is_empty(),
        "etcd-1 was started elsewhere"
    );
    let outage = etcd.longest_outage(&nodes, since);
    eprintln!("etcd: node2 (etcd-1) drained: longest write outage {outage:.1} s");
    assert!(outage <= 15.0, "writes stopped for {outage:.1} s");
    drain("active");
    etcd.assert_every_write_everywhere(&nodes, "node2 active again");
}

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
/// the member to its node, is unavailable while the node is down, and keeps every row.
#[test]
fn postgres_waits_for_its_node_where_a_plain_stack_loses_its_rows() {
    let _engine = exclusive();
    let Some(mut nodes) = Nodes::swarm(3, 1) else {
        return;
    };
    images();
    nodes.load(&[&image_tag("postgres")]);
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
            first = running_on(&nodes, 1, "plain_db").unwrap_or_default();
            !first.is_empty()
        },
    );
    let lost = node_index(&nodes, &first);
    let client = if lost == 4 { 3 } else { 4 };
    let manager = if lost == 1 { 2 } else { 1 };
    // `tasks.db`: the task's own address. Swarm's virtual IP (IPVS) does not route between the
    // nodes of this machine; berth's stacks use `dnsrr`, without one.
    write_rows(&nodes, client, "plain_default", "tasks.db");
    nodes.kill(lost);
    let mut moved = String::new();
    wait_until(
        "Swarm starts the plain database on another node",
        Duration::from_secs(180),
        || {
            moved = running_on(&nodes, manager, "plain_db").unwrap_or_default();
            !moved.is_empty() && moved != first
        },
    );
    wait_until(
        "the moved database answers",
        Duration::from_secs(120),
        || {
            psql(&nodes, client, "plain_default", "tasks.db", "select 1")
                .status
                .success()
        },
    );
    let count = psql(
        &nodes,
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
    run_ok(
        nodes
            .command(manager, "docker")
            .args(["stack", "rm", "plain"]),
        "docker stack rm",
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
        running_on(&nodes, 1, "postgres_postgres-0").as_deref() == Some("node2")
    });
    write_rows(&nodes, 4, "postgres-swarm", "postgres-0");
    nodes.kill(2);
    std::thread::sleep(Duration::from_secs(40));
    assert_eq!(
        running_on(&nodes, 1, "postgres_postgres-0"),
        None,
        "the member was started elsewhere"
    );
    nodes.start(2);
    wait_until(
        "the member answers again on node2",
        Duration::from_secs(180),
        || {
            psql(&nodes, 4, "postgres-swarm", "postgres-0", "select 1")
                .status
                .success()
        },
    );
    let count = psql(
        &nodes,
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
