//! RabbitMQ's example (three members, a quorum queue) on a swarm of several nodes, as a user
//! deploys it: its default `spread = "required"`, `prepare-nodes.sh` with one node per member, the
//! Erlang cookie as an external Swarm secret, `deploy.sh`. One cluster goes through every scenario
//! while one publisher, on the spare node, publishes with publisher confirms: a member's node
//! lost, the Swarm leader's node lost, a member's node cut off, a member's node drained, and a
//! rolling update. After each, the cluster has its three members back (`rabbitmqctl
//! cluster_status`, `rabbitmq-queues quorum_status`) and every confirmed message is read back from
//! the queue, exactly once.

use super::{
    compile, down_while_replaced, example_as_this_kernel_allows, leader, longest, longest_gap,
    member_containers, now, placement, prepare_and_deploy, replaced_on_heal,
    wait_started_nowhere_else,
};
use crate::common::engine::*;
use crate::common::nodes::Nodes;
use crate::common::{run_ok, stderr, stdout, write};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The Erlang cookie, created as the external secret `rabbitmq.cookie` the stack names.
const COOKIE: &str = "berth-e2e-erlang-cookie";
const QUEUE: &str = "berth-acks";
const NETWORK: &str = "rabbitmq-swarm";
/// The members' nodes, in member order; node 4 is the spare, which holds the publisher.
const MEMBER_NODES: [usize; 3] = [1, 2, 3];
const SPARE: usize = 4;
/// The issue's bound on a publish outage when a member's node is lost.
const LIMIT: f64 = 60.0;

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
struct Rabbitmq {
    client: String,
}

impl Rabbitmq {
    fn deploy(nodes: &Nodes, dir: &Path) -> Rabbitmq {
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
        Rabbitmq {
            client: image_tag("amqp-client"),
        }
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

    fn start_publisher(&self, nodes: &Nodes) {
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

    fn longest_outage(&self, nodes: &Nodes, since: f64) -> f64 {
        longest_gap(self.confirmed(nodes).iter().map(|(t, _)| *t), since)
    }

    /// Waits until the publisher has had `count` messages confirmed after `since`.
    fn wait_confirms_after(&self, nodes: &Nodes, since: f64, what: &str) {
        wait_until(what, Duration::from_secs(120), || {
            self.confirmed(nodes)
                .iter()
                .filter(|(t, _)| *t > since)
                .count()
                >= 5
        });
    }

    /// Waits until Swarm (asked on node `from`) starts the member of node `gone` nowhere else.
    fn wait_started_nowhere_else(&self, nodes: &Nodes, from: usize, gone: usize, what: &str) {
        let m = MEMBER_NODES.iter().position(|&i| i == gone).unwrap();
        wait_started_nowhere_else(nodes, from, "rabbitmq", m, SPARE, what);
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
            wait_until(
                &format!("{when}: rabbitmq-{m} sees three members running"),
                Duration::from_secs(180),
                || self.running_members(nodes, m) == 3,
            );
        }
    }

    /// The cluster is whole again: formed, the quorum queue with its three members, and every
    /// message the broker confirmed is in the queue, once.
    fn assert_whole(&self, nodes: &Nodes, from: usize, when: &str) {
        self.wait_formed(nodes, from, when);
        wait_until(
            &format!("{when}: the quorum queue has its three members back"),
            Duration::from_secs(120),
            || self.queue_members(nodes, 0) == 3,
        );
        self.assert_every_confirmed_once(nodes, when);
    }

    /// Reads the queue (without consuming it) and finds each confirmed message there exactly
    /// once. A read right after a member rejoined may stop short, so it is tried for a while.
    fn assert_every_confirmed_once(&self, nodes: &Nodes, when: &str) {
        let confirmed: Vec<u32> = self.confirmed(nodes).iter().map(|(_, n)| *n).collect();
        assert!(
            confirmed.len() > 10,
            "{when}: only {} messages confirmed\n{}",
            confirmed.len(),
            self.publisher_log(nodes)
        );
        let started = std::time::Instant::now();
        let (mut missing, mut twice, mut why) = (Vec::new(), Vec::new(), String::new());
        while started.elapsed() < Duration::from_secs(60) {
            let read = self.amqp(nodes, &["read", "rabbitmq-0", QUEUE]);
            why = stderr(&read);
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
            "{when}: of {} confirmed messages, {} are not in the queue ({missing:?}) and {} are there twice ({twice:?}); {why}",
            confirmed.len(),
            missing.len(),
            twice.len()
        );
        eprintln!(
            "rabbitmq: {when}: all {} confirmed messages in the queue, once",
            confirmed.len()
        );
    }
}

/// A manager other than node `not`.
fn manager_but(not: usize) -> usize {
    (1..=3).find(|&i| i != not).unwrap()
}

/// RabbitMQ on three nodes of a swarm of four (three managers, a spare worker), each member
/// pinned to its node, a publisher on the spare: placement, the loss of a member's node, of the
/// Swarm leader's node, a partition, a drain and a rolling update, on one cluster.
#[test]
fn rabbitmq_keeps_every_confirmed_message_through_node_loss_partition_drain_and_update() {
    let _engine = exclusive();
    let test = now();
    let Some(mut nodes) = Nodes::swarm(3, 1) else {
        return;
    };
    images();
    nodes.load(&[&image_tag("rabbitmq"), &image_tag("amqp-client")]);
    let dir = tempfile::tempdir().unwrap();
    let started = now();
    eprintln!(
        "rabbitmq: a swarm of four nodes with the images in {:.0} s",
        started - test
    );
    let rabbit = Rabbitmq::deploy(&nodes, dir.path());
    rabbit.wait_formed(&nodes, 1, "deployed");
    eprintln!(
        "rabbitmq: formed on node1, node2, node3 in {:.0} s",
        now() - started
    );
    rabbit.declare_queue(&nodes);
    rabbit.start_publisher(&nodes);
    rabbit.wait_confirms_after(&nodes, started, "the publisher's messages are confirmed");

    node_lost(&mut nodes, &rabbit, 2);
    let lost = leader(&nodes, 1);
    node_lost(&mut nodes, &rabbit, lost);
    partition(&nodes, &rabbit, 3);
    drain(&nodes, &rabbit, 2);
    rolling_update(&nodes, &rabbit, dir.path());
    eprintln!("rabbitmq: every scenario in {:.0} s", now() - test);
}

/// Node `lost` dies while the publisher publishes: Swarm sees it down and finds no other node
/// for its member (the spare runs none); the majority confirms messages again (the longest
/// outage measured). Then the node returns, and its member rejoins with its messages.
fn node_lost(nodes: &mut Nodes, rabbit: &Rabbitmq, lost: usize) {
    let m = MEMBER_NODES.iter().position(|&i| i == lost).unwrap();
    let from = manager_but(lost);
    let what = format!("{} (rabbitmq-{m}) lost", nodes.name(lost));
    let since = now();
    nodes.kill(lost);
    rabbit.wait_started_nowhere_else(nodes, from, lost, &what);
    rabbit.wait_confirms_after(nodes, since, &format!("{what}: the majority confirms"));
    let outage = rabbit.longest_outage(nodes, since);
    let down = now() - since;
    nodes.start(lost);
    let back = now();
    rabbit.assert_whole(nodes, from, &format!("{what}, back"));
    eprintln!(
        "rabbitmq: {what} for {down:.0} s: longest publish outage {outage:.1} s; whole again {:.0} s after the node returned",
        now() - back
    );
    assert!(
        outage <= LIMIT,
        "{what}: no message confirmed for {outage:.1} s\n{}",
        rabbit.publisher_log(nodes)
    );
}

/// Node `cut` is cut off the network, for as long as RabbitMQ takes to see the partition (the
/// example's `net_ticktime`, 20 s, give or take a quarter): at once, and again once `pause_minority` has paused it, the
/// member on the minority side confirms nothing (a publish from its own network namespace, to
/// itself); Swarm starts it nowhere else; the majority confirms messages throughout, also when it
/// sees the member go. Healed, the member rejoins and nothing is lost.
fn partition(nodes: &Nodes, rabbit: &Rabbitmq, cut: usize) {
    let m = MEMBER_NODES.iter().position(|&i| i == cut).unwrap();
    let what = format!("{} (rabbitmq-{m}) cut off", nodes.name(cut));
    let member = rabbit.member(nodes, m).expect("the member runs");
    let since = now();
    nodes.cut(cut, true);
    rabbit.assert_confirms_nothing(nodes, cut, &member, &format!("{what}, at once"));
    rabbit.wait_started_nowhere_else(nodes, 1, cut, &what);
    let majority = MEMBER_NODES.iter().position(|&i| i != cut).unwrap();
    wait_until(
        &format!("{what}: rabbitmq-{majority} sees two members running"),
        Duration::from_secs(120),
        || rabbit.running_members(nodes, majority) == 2,
    );
    rabbit.assert_confirms_nothing(nodes, cut, &member, &format!("{what}, seen by RabbitMQ"));
    rabbit.wait_confirms_after(nodes, since, &format!("{what}: the majority confirms"));
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
        outage <= LIMIT,
        "{what}: no message confirmed for {outage:.1} s\n{}",
        rabbit.publisher_log(nodes)
    );
}

/// Node `drained` is drained: its member stops and is started on no other node, the majority
/// confirms messages; `active` again, the member returns with its messages.
fn drain(nodes: &Nodes, rabbit: &Rabbitmq, drained: usize) {
    let m = MEMBER_NODES.iter().position(|&i| i == drained).unwrap();
    let what = format!("{} (rabbitmq-{m}) drained", nodes.name(drained));
    let availability = |to: &str| {
        let out = nodes.docker(
            1,
            &["node", "update", "--availability", to, nodes.name(drained)],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    };
    let since = now();
    availability("drain");
    wait_until(
        &format!("{what}: its member stops"),
        Duration::from_secs(90),
        || rabbit.member(nodes, m).is_none(),
    );
    rabbit.wait_started_nowhere_else(nodes, 1, drained, &what);
    rabbit.wait_confirms_after(nodes, since, &format!("{what}: the majority confirms"));
    let outage = rabbit.longest_outage(nodes, since);
    availability("active");
    let back = now();
    rabbit.assert_whole(nodes, 1, &format!("{what}, active again"));
    eprintln!(
        "rabbitmq: {what}: longest publish outage {outage:.1} s; whole again {:.0} s after `active`",
        now() - back
    );
    assert!(
        outage <= LIMIT,
        "{what}: no message confirmed for {outage:.1} s\n{}",
        rabbit.publisher_log(nodes)
    );
}

/// `deploy.sh` with a changed parameter (each member's CPU reservation) while the publisher
/// publishes: every member replaced, one at a time, the majority confirming throughout. A member
/// counts as down from its old container's end until its new one logs that RabbitMQ's startup is
/// complete (the node has joined the cluster), so a member replaced before the previous one has
/// rejoined counts as two down.
///
/// The example waits 60 s (`update_delay`) after each member, a margin for slower hosts, since
/// Swarm cannot see when a member has rejoined; a member rejoins within about 10 s here (the
/// scenarios above measure it), and the update is deployed with 20 s: the check above is what
/// says the shorter wait still kept the majority.
fn rolling_update(nodes: &Nodes, rabbit: &Rabbitmq, dir: &Path) {
    let spec = std::fs::read_to_string(dir.join("rabbitmq.toml")).unwrap();
    let shorter = spec.replacen("update_delay = \"60s\"", "update_delay = \"20s\"", 1);
    assert_ne!(shorter, spec, "the example waits 60 s between members");
    write(dir, "rabbitmq-update.toml", &shorter);
    let (changed, _) = compile(dir, "rabbitmq-update.toml", "out-update", &["cpu=0.9"]);
    let before = member_containers(nodes, "rabbitmq", &MEMBER_NODES);
    let since = now();
    run_ok(
        nodes
            .command(1, "sh")
            .arg(changed.join("swarm/deploy.sh"))
            .arg("rabbitmq"),
        "deploy.sh (the update)",
    );
    let took = now() - since;
    let after = member_containers(nodes, "rabbitmq", &MEMBER_NODES);
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(a, b)| a.is_some() && a != b),
        "deploy.sh finished but not every member was replaced: {before:?} -> {after:?}"
    );
    let rejoined = |i: usize, id: &str| startup_complete(nodes, i, id);
    let down = down_while_replaced(nodes, &MEMBER_NODES, &before, &after, rejoined);
    let at_once = most_overlapping(&down);
    let outage = rabbit.longest_outage(nodes, since);
    rabbit.assert_whole(nodes, 1, "after the rolling update");
    eprintln!(
        "rabbitmq: rolling update in {took:.0} s, each member down at most {:.1} s (until rejoined), at most {at_once} of 3 at once; longest publish outage {outage:.1} s",
        longest(&down)
    );
    assert_eq!(at_once, 1, "members are replaced one at a time");
    assert!(
        outage <= 15.0,
        "a majority kept serving, yet no message was confirmed for {outage:.1} s"
    );
}

/// When the RabbitMQ in container `id` on node `i` logged that its startup was complete, in
/// seconds of the day (the engine's timestamp of the log line).
fn startup_complete(nodes: &Nodes, i: usize, id: &str) -> f64 {
    let logs = nodes.docker(i, &["logs", "--timestamps", id]);
    let text = format!("{}{}", stdout(&logs), stderr(&logs));
    let line = text
        .lines()
        .find(|l| l.contains("Server startup complete"))
        .unwrap_or_else(|| panic!("{id} on node{i} never logged its startup complete"));
    seconds_of_day(line.split(' ').next().unwrap())
}
