//! RabbitMQ's example (three members, a quorum queue) on a swarm of several nodes, as a user
//! deploys it: its default `spread = "required"`, `prepare-nodes.sh` with one node per member, the
//! Erlang cookie as an external Swarm secret, `deploy.sh`. The cluster goes through the scenarios
//! of `scenarios.rs`, beside etcd's, and a partition of its own, while one publisher on the spare
//! node publishes with publisher confirms. After each, the cluster has its three members back (`rabbitmqctl
//! cluster_status`, `rabbitmq-queues quorum_status`) and every confirmed message is read back from
//! the queue, exactly once.

use super::{
    Cluster, MEMBER_NODES, SPARE, compile, example_as_this_kernel_allows, member_containers, now,
    placement, prepare_and_deploy, remove_stack, replaced_on_heal, wait_started_nowhere_else,
};
use crate::common::engine::*;
use crate::common::nodes::Nodes;
use crate::common::{run_ok, stderr, stdout, write};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The Erlang cookie, created as the external secret `rabbitmq.cookie` the stack names.
const COOKIE: &str = "berth-e2e-erlang-cookie";
const QUEUE: &str = "berth-acks";
const NETWORK: &str = "rabbitmq-swarm";

/// The publisher: one connection at a time, to one member; a message every 0.2 s, each confirmed
/// by the broker before the next (`<time> <n>` on stdout for each confirmed one). A connection
/// that fails, or a confirm that takes over 3 s, and it connects to the next member.
const PUBLISHER: &str = r#"
import signal, sys, time
import pika

hosts, queue = sys.argv[1:4], sys.argv[4]

def late(signum, frame):
    raise TimeoutError("no confirm within 3 s")

signal.signal(signal.SIGALRM, late)
n, at, channel = 0, 0, None
while True:
    n += 1
    try:
        signal.setitimer(signal.ITIMER_REAL, 3)
        if channel is None:
            params = pika.ConnectionParameters(host=hosts[at], connection_attempts=1,
                                               socket_timeout=1, stack_timeout=2)
            channel = pika.BlockingConnection(params).channel()
            channel.confirm_delivery()
        channel.basic_publish("", queue, str(n).encode(),
                              pika.BasicProperties(delivery_mode=2), mandatory=True)
        signal.setitimer(signal.ITIMER_REAL, 0)
        print(f"{time.time():.3f} {n}", flush=True)
    except Exception as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        print(f"{time.time():.3f} {n} not confirmed by {hosts[at]}: {e!r}", file=sys.stderr, flush=True)
        channel, at = None, (at + 1) % len(hosts)
    time.sleep(0.2)
"#;

/// The deployed example and what the test needs to talk to it.
pub struct Rabbitmq {
    /// Where the spec and its outputs are.
    dir: PathBuf,
    client: String,
}

impl Rabbitmq {
    /// The example as written, compiled in `dir`, one member on each of nodes 1 to 3, the
    /// quorum queue declared on every member.
    pub fn deploy(nodes: &Nodes, dir: &Path) -> Rabbitmq {
        write(
            dir,
            "rabbitmq.toml",
            &example_as_this_kernel_allows("rabbitmq"),
        );
        let (out, _) = compile(dir, "rabbitmq.toml", "out", &[]);
        let secret = format!("printf %s {COOKIE} | docker secret create rabbitmq.cookie -");
        run_ok(
            nodes.command(1, "sh").args(["-c", &secret]),
            "docker secret create",
        );
        let names: Vec<&str> = MEMBER_NODES.iter().map(|&i| nodes.name(i)).collect();
        prepare_and_deploy(nodes, &out, &names, "rabbitmq");
        let rabbit = Rabbitmq {
            dir: dir.to_path_buf(),
            client: image_tag("amqp-client"),
        };
        rabbit.wait_formed(nodes, 1, "deployed");
        rabbit.declare_queue(nodes);
        rabbit
    }

    /// Member `m`'s container, on its node.
    fn member(&self, nodes: &Nodes, m: usize) -> Option<String> {
        member_containers(nodes, "rabbitmq", &MEMBER_NODES)[m].clone()
    }

    /// A RabbitMQ command line tool, run in member `m`'s container.
    fn tool(&self, nodes: &Nodes, m: usize, argv: &[&str]) -> Option<String> {
        let id = self.member(nodes, m)?;
        let mut args = vec!["exec", id.as_str()];
        args.extend(argv);
        let out = nodes.docker(MEMBER_NODES[m], &args);
        out.status.success().then(|| stdout(&out))
    }

    /// How many members member `m` sees running (`rabbitmqctl cluster_status`; 0 if it fails).
    fn running_members(&self, nodes: &Nodes, m: usize) -> usize {
        let status = self.tool(
            nodes,
            m,
            &["rabbitmqctl", "cluster_status", "--formatter", "json"],
        );
        status
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|s| s["running_nodes"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// How many of the queue's members are a leader or a follower with its log, as member `m`
    /// sees them (`rabbitmq-queues quorum_status`), if the queue has a leader.
    fn queue_members(&self, nodes: &Nodes, m: usize) -> usize {
        let status = self.tool(
            nodes,
            m,
            &[
                "rabbitmq-queues",
                "quorum_status",
                QUEUE,
                "--formatter",
                "json",
            ],
        );
        let members: Vec<serde_json::Value> = status
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let state = |m: &serde_json::Value| m["Raft State"].as_str().unwrap_or("").to_string();
        let has_leader = members.iter().any(|m| state(m) == "leader");
        let in_sync = members
            .iter()
            .filter(|m| ["leader", "follower"].contains(&state(m).as_str()))
            .filter(|m| m["Commit Index"].as_u64().is_some_and(|i| i > 0))
            .count();
        if has_leader { in_sync } else { 0 }
    }

    /// `rabbitmq-queues quorum_status` of the queue from each member, for a failure's message.
    fn quorum_status(&self, nodes: &Nodes) -> String {
        (0..3)
            .map(|m| {
                let status = self.tool(nodes, m, &["rabbitmq-queues", "quorum_status", QUEUE]);
                format!("rabbitmq-{m}: {}\n", status.unwrap_or_default())
            })
            .collect()
    }

    /// The test's AMQP client (`amqp.py`) in a container on the spare node, cut off after 60 s.
    fn amqp(&self, nodes: &Nodes, argv: &[&str]) -> std::process::Output {
        let mut args = vec!["run", "--rm", "--network", NETWORK, &self.client];
        args.extend(["timeout", "60", "python3", "/usr/local/bin/amqp.py"]);
        args.extend(argv);
        nodes.docker(SPARE, &args)
    }

    /// Declares the quorum queue (a publish of no message) and waits until it is on every member.
    fn declare_queue(&self, nodes: &Nodes) {
        let declared = self.amqp(nodes, &["publish", "rabbitmq-0", QUEUE, "0", "0"]);
        assert!(declared.status.success(), "{}", stderr(&declared));
        wait_until(
            "the quorum queue is on every member",
            Duration::from_secs(60),
            || self.queue_members(nodes, 0) == 3,
        );
    }

    pub fn start_publisher(&self, nodes: &Nodes) {
        let out = nodes.docker(
            SPARE,
            &[
                "run",
                "--detach",
                "--name",
                "publisher",
                "--network",
                NETWORK,
                &self.client,
                "python3",
                "-c",
                PUBLISHER,
                "rabbitmq-0",
                "rabbitmq-1",
                "rabbitmq-2",
                QUEUE,
            ],
        );
        assert!(out.status.success(), "the publisher: {}", stderr(&out));
    }

    /// Every message the broker confirmed so far, with when.
    fn confirmed(&self, nodes: &Nodes) -> Vec<(f64, u32)> {
        let out = nodes.docker(SPARE, &["logs", "publisher"]);
        stdout(&out)
            .lines()
            .filter_map(|l| {
                let (time, n) = l.split_once(' ')?;
                Some((time.parse().ok()?, n.parse().ok()?))
            })
            .collect()
    }

    /// A publish from inside member `member`'s network namespace on node `i`, to that member:
    /// not confirmed within 10 s.
    fn assert_confirms_nothing(&self, nodes: &Nodes, i: usize, member: &str, what: &str) {
        let beside = format!("container:{member}");
        let minority = nodes.docker(
            i,
            &[
                "run",
                "--rm",
                "--network",
                &beside,
                &self.client,
                "timeout",
                "10",
                "python3",
                "/usr/local/bin/amqp.py",
                "publish",
                "127.0.0.1",
                QUEUE,
                "1000000",
                "1",
            ],
        );
        assert_ne!(
            stdout(&minority).trim(),
            "1",
            "{what}: the minority member confirmed a message"
        );
    }

    /// Removes the publisher and the stack (the stack's network goes only once the publisher,
    /// attached to it, is gone).
    pub fn remove(self, nodes: &Nodes) {
        let _ = nodes.docker(SPARE, &["rm", "--force", "publisher"]);
        remove_stack(nodes, "rabbitmq", &MEMBER_NODES);
    }

    /// The publisher's complaints, for a failure's message.
    fn publisher_log(&self, nodes: &Nodes) -> String {
        let out = nodes.docker(SPARE, &["logs", "--tail", "20", "publisher"]);
        stderr(&out)
    }
}

impl Rabbitmq {
    /// Waits until each member runs on its own node and sees all three running (from `from`, a
    /// manager that is up).
    fn wait_formed(&self, nodes: &Nodes, from: usize, when: &str) {
        wait_until(
            &format!("{when}: each member runs on its own node"),
            Duration::from_secs(180),
            || placement(nodes, from, "rabbitmq", 3) == [["node1"], ["node2"], ["node3"]],
        );
        for m in 0..3 {
            wait_until_or_explain(
                &format!("{when}: rabbitmq-{m} sees three members running"),
                Duration::from_secs(180),
                || self.running_members(nodes, m) == 3,
                || self.explain(nodes),
            );
        }
    }

    /// What each member's node runs, what the member says of the cluster, whether it reaches
    /// each peer over the overlay, what each node's engine knows of the network, and the end of
    /// the member's log: the account of a wait that timed out. (Docker's NetworkDB can miss a
    /// returning node's attachment for good, moby/moby#53437: its tasks then reach some peers and
    /// not others, which the reachability lines and the engines' peers and tasks show.)
    fn explain(&self, nodes: &Nodes) -> String {
        let mut account = engines_view(nodes);
        for (m, &i) in MEMBER_NODES.iter().enumerate() {
            let label = format!("label=berth.member={m}");
            let filter = ["ps", "--all", "--filter", "label=berth.service=rabbitmq"];
            let ps = nodes.docker(i, &[&filter[..], &["--filter", &label]].concat());
            account += &format!("--- rabbitmq-{m} on node{i}: containers\n{}", stdout(&ps));
            let Some(id) = self.member(nodes, m) else {
                continue;
            };
            let status = nodes.docker(i, &["exec", &id, "rabbitmqctl", "cluster_status"]);
            account += &format!("cluster_status: {}{}", stdout(&status), stderr(&status));
            account += &reachability(nodes, i, &id);
            let logs = nodes.docker(i, &["logs", "--tail", "40", &id]);
            account += &format!("log:\n{}{}", stdout(&logs), stderr(&logs));
        }
        account
    }

    /// Reads the queue (without consuming it) up to the newest confirmed message and finds each
    /// confirmed message there exactly once. A read right after a member rejoined may stop
    /// short, so it is tried for a while.
    fn assert_every_confirmed_once(&self, nodes: &Nodes, when: &str) {
        let confirmed: Vec<u32> = self.confirmed(nodes).iter().map(|(_, n)| *n).collect();
        assert!(
            confirmed.len() > 10,
            "{when}: only {} messages confirmed\n{}",
            confirmed.len(),
            self.publisher_log(nodes)
        );
        let newest = confirmed.iter().max().unwrap().to_string();
        let started = std::time::Instant::now();
        let (mut missing, mut twice, mut why) = (Vec::new(), Vec::new(), String::new());
        // A read for a message the queue lacks runs until its `timeout` (60 s), the publisher
        // writing on: this leaves time for a few.
        while started.elapsed() < Duration::from_secs(180) {
            let read = self.amqp(nodes, &["read", "rabbitmq-0", QUEUE, &newest]);
            why = format!("{}; {}", read.status, stderr(&read).trim());
            let mut held: BTreeMap<u32, usize> = BTreeMap::new();
            for n in stdout(&read).lines().filter_map(|l| l.trim().parse().ok()) {
                *held.entry(n).or_default() += 1;
            }
            missing = confirmed.iter().filter(|n| !held.contains_key(n)).collect();
            twice = confirmed
                .iter()
                .filter(|n| held.get(n) > Some(&1))
                .collect();
            if read.status.success() && missing.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        assert!(
            missing.is_empty() && twice.is_empty(),
            "{when}: of {} confirmed messages, {} are not in the queue ({missing:?}) and {} are there twice ({twice:?}); the read: {why}\nthe queue as each member sees it:\n{}",
            confirmed.len(),
            missing.len(),
            twice.len(),
            self.quorum_status(nodes)
        );
        eprintln!(
            "rabbitmq: {when}: all {} confirmed messages in the queue, once",
            confirmed.len()
        );
    }
}

impl Cluster for Rabbitmq {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    fn member_nodes(&self) -> &[usize] {
        &MEMBER_NODES
    }

    fn acknowledged_times(&self, nodes: &Nodes) -> Vec<f64> {
        self.confirmed(nodes).iter().map(|(t, _)| *t).collect()
    }

    fn outage_limit(&self) -> f64 {
        60.0
    }

    fn client_complaints(&self, nodes: &Nodes) -> String {
        self.publisher_log(nodes)
    }

    /// The cluster is whole again: formed, the quorum queue with its three members, and every
    /// message the broker confirmed is in the queue, once.
    fn assert_whole(&self, nodes: &Nodes, from: usize, when: &str) {
        self.wait_formed(nodes, from, when);
        wait_until_or_explain(
            &format!("{when}: the quorum queue has its three members back"),
            Duration::from_secs(120),
            || self.queue_members(nodes, 0) == 3,
            || self.explain(nodes),
        );
        self.assert_every_confirmed_once(nodes, when);
    }

    /// The example with a changed parameter (each member's CPU reservation), deployed as written:
    /// Swarm cannot see when a member has rejoined, so deploy.sh waits the example's
    /// `update_delay` (60 s) after each member. A shorter wait is not safe: a member took up to
    /// 37 s to rejoin on a loaded host, and the next one stopped before it did.
    fn updated(&self) -> PathBuf {
        let spec = std::fs::read_to_string(self.dir.join("rabbitmq.toml")).unwrap();
        assert!(
            spec.contains("update_delay = \"60s\""),
            "the example waits 60 s between members"
        );
        compile(&self.dir, "rabbitmq.toml", "out-update", &["cpu=0.9"]).0
    }

    /// A member serves again once its new container logs that RabbitMQ's startup is complete
    /// (the node has joined the cluster).
    fn serving_since(&self, nodes: &Nodes, i: usize, id: &str) -> f64 {
        startup_complete(nodes, i, id)
    }
}

/// Node `cut` is cut off the network, for as long as RabbitMQ takes to see the partition (the
/// example's `net_ticktime`, 20 s, give or take a quarter): at once, and again once `pause_minority` has paused it, the
/// member on the minority side confirms nothing (a publish from its own network namespace, to
/// itself); Swarm starts it nowhere else; the majority confirms messages throughout, also when it
/// sees the member go. Healed, the member rejoins and nothing is lost.
pub fn partition(nodes: &Nodes, rabbit: &Rabbitmq, cut: usize) {
    let m = MEMBER_NODES.iter().position(|&i| i == cut).unwrap();
    let what = format!("{} (rabbitmq-{m}) cut off", nodes.name(cut));
    let member = rabbit.member(nodes, m).expect("the member runs");
    let since = now();
    nodes.cut(cut, true);
    rabbit.assert_confirms_nothing(nodes, cut, &member, &format!("{what}, at once"));
    wait_started_nowhere_else(nodes, 1, "rabbitmq", m, &what);
    let majority = MEMBER_NODES.iter().position(|&i| i != cut).unwrap();
    wait_until(
        &format!("{what}: rabbitmq-{majority} sees two members running"),
        Duration::from_secs(120),
        || rabbit.running_members(nodes, majority) == 2,
    );
    rabbit.assert_confirms_nothing(nodes, cut, &member, &format!("{what}, seen by RabbitMQ"));
    rabbit.wait_serving_after(nodes, since, &what);
    let outage = rabbit.longest_outage(nodes, since);
    let down = now() - since;
    nodes.cut(cut, false);
    let back = now();
    rabbit.assert_whole(nodes, 1, &format!("{what}, healed"));
    eprintln!(
        "rabbitmq: {what} for {down:.0} s: the minority member confirmed nothing; longest publish outage {outage:.1} s; whole again {:.0} s after the heal; {}",
        now() - back,
        replaced_on_heal(nodes, cut, "rabbitmq", m, &member)
    );
    assert!(
        outage <= rabbit.outage_limit(),
        "{what}: no message confirmed for {outage:.1} s\n{}",
        rabbit.publisher_log(nodes)
    );
}

/// When the RabbitMQ in container `id` on node `i` logged that its startup was complete, in
/// seconds of the epoch (the engine's timestamp of the log line).
fn startup_complete(nodes: &Nodes, i: usize, id: &str) -> f64 {
    let logs = nodes.docker(i, &["logs", "--timestamps", id]);
    let text = format!("{}{}", stdout(&logs), stderr(&logs));
    let line = text
        .lines()
        .find(|l| l.contains("Server startup complete"))
        .unwrap_or_else(|| panic!("{id} on node{i} never logged its startup complete"));
    epoch_seconds(line.split(' ').next().unwrap())
}

/// What each member node's engine knows of the stack's network: its peers, and each task's
/// address and node.
fn engines_view(nodes: &Nodes) -> String {
    let format = r#"{{json .Peers}} {{range $n, $s := .Services}}{{range $s.Tasks}}{{.Name}}={{.EndpointIP}}@{{index .Info "Host IP"}} {{end}}{{end}}"#;
    let mut account = String::new();
    for &i in &MEMBER_NODES {
        let args = [
            "network",
            "inspect",
            "--verbose",
            "--format",
            format,
            NETWORK,
        ];
        let net = nodes.docker(i, &args);
        account += &format!(
            "--- node{i}'s engine on `{NETWORK}`: {}{}",
            stdout(&net),
            stderr(&net)
        );
    }
    account
}

/// Whether the member in container `id` on node `i` resolves each member's name and reaches its
/// Erlang distribution port.
fn reachability(nodes: &Nodes, i: usize, id: &str) -> String {
    let probe = r#"for h in rabbitmq-0 rabbitmq-1 rabbitmq-2; do
        if timeout 3 bash -c "</dev/tcp/$h/25672" 2>/dev/null; then r=reached; else r="not reached"; fi
        echo "$h: $(getent hosts "$h" | head -1): $r"
    done"#;
    let reach = nodes.docker(i, &["exec", id, "bash", "-c", probe]);
    format!(
        "peers' distribution port from here:\n{}{}",
        stdout(&reach),
        stderr(&reach)
    )
}
