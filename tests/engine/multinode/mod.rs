//! Node loss, proven on several engines formed into one swarm (tests/common/nodes.rs): this
//! machine's kernel and namespaces stand in for a cluster of hosts. What the scenarios share is
//! here; they run in `scenarios.rs`, on one swarm: etcd (`etcd.rs`) and RabbitMQ (`rabbitmq.rs`)
//! through the same events, then PostgreSQL (`postgres.rs`).

mod day_two;
mod etcd;
mod postgres;
mod rabbitmq;
mod scenarios;

use crate::common::engine::*;
use crate::common::nodes::{Nodes, esp_works};
use crate::common::{berth_ok, root, run_ok, stdout};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// The nodes of a cluster's members, in member order, one each.
const MEMBER_NODES: [usize; 3] = [1, 2, 3];
/// The spare worker: it holds the clients, and no member may ever start there.
const SPARE: usize = 4;

/// A replicated example deployed on the swarm, with a client of its own on the spare that writes
/// (or publishes) every 0.2 s and logs when each write was acknowledged.
trait Cluster: Sync {
    /// The example's name: its stack's, and the stem of its members' services.
    fn name(&self) -> &'static str;

    /// The node of each member, in member order.
    fn member_nodes(&self) -> &[usize];

    /// When each write acknowledged so far was acknowledged (seconds of the epoch).
    fn acknowledged_times(&self, nodes: &Nodes) -> Vec<f64>;

    /// The longest write outage the issue allows while a majority is up.
    fn outage_limit(&self) -> f64;

    /// Waits until the cluster is whole again (asked on manager `from`, which is up) and holds
    /// every acknowledged write on every member.
    fn assert_whole(&self, nodes: &Nodes, from: usize, when: &str);

    /// The example's output with a changed parameter, for a rolling update.
    fn updated(&self) -> PathBuf;

    /// When the member in container `id` on node `i` served again after it was replaced, in
    /// seconds of the epoch.
    fn serving_since(&self, nodes: &Nodes, i: usize, id: &str) -> f64;

    /// What the client said about writes that failed, for a failure's message.
    fn client_complaints(&self, _nodes: &Nodes) -> String {
        String::new()
    }

    /// Waits until the client has had five writes acknowledged after `since`.
    fn wait_serving_after(&self, nodes: &Nodes, since: f64, what: &str) {
        wait_until(
            &format!("{what}: {} acknowledges writes", self.name()),
            Duration::from_secs(120),
            || {
                let times = self.acknowledged_times(nodes);
                times.iter().filter(|&&t| t > since).count() >= 5
            },
        );
    }

    /// The longest time without an acknowledged write since `since` (seconds of the epoch).
    fn longest_outage(&self, nodes: &Nodes, since: f64) -> f64 {
        longest_gap(self.acknowledged_times(nodes).into_iter(), since)
    }

    fn assert_outage_within_limit(&self, nodes: &Nodes, outage: f64, what: &str) {
        assert!(
            outage <= self.outage_limit(),
            "{what}: no write acknowledged for {outage:.1} s\n{}",
            self.client_complaints(nodes)
        );
    }
}

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

/// Compiles `spec` in `dir` for swarm into `dir/out` with `sets`; the output and berth's report.
fn compile(dir: &Path, spec: &str, out: &str, sets: &[&str]) -> (std::path::PathBuf, Output) {
    let mut args = vec!["compile", spec, "--out", out, "--backend", "swarm"];
    for set in sets {
        args.extend(["--set", set]);
    }
    let report = berth_ok(&args, dir);
    (dir.join(out), report)
}

/// What a user runs on a manager: `prepare-nodes.sh` with the nodes, then `deploy.sh STACK`.
fn prepare_and_deploy(nodes: &Nodes, out: &Path, node_names: &[&str], stack: &str) {
    run_ok(
        nodes
            .command(1, "sh")
            .arg(out.join("swarm/prepare-nodes.sh"))
            .args(node_names),
        "prepare-nodes.sh",
    );
    run_ok(
        nodes
            .command(1, "sh")
            .arg(out.join("swarm/deploy.sh"))
            .arg(stack),
        "deploy.sh",
    );
}

/// The nodes each member's tasks are assigned to, as the managers see it from node `from`
/// (`service` is the example's name, and the stack's).
fn placement(nodes: &Nodes, from: usize, service: &str, members: usize) -> Vec<Vec<String>> {
    (0..members)
        .map(|m| {
            let tasks = wanted_tasks(nodes, from, &format!("{service}_{service}-{m}"));
            // A task no node can take (its node is down) is pending on none.
            tasks
                .into_iter()
                .map(|(node, _)| node)
                .filter(|n| !n.is_empty())
                .collect()
        })
        .collect()
}

/// The tasks of a service that Swarm wants running: each one's node (empty when on none) and
/// current state.
fn wanted_tasks(nodes: &Nodes, from: usize, service: &str) -> Vec<(String, String)> {
    let out = nodes.docker(
        from,
        &[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}}|{{.CurrentState}}",
        ],
    );
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

/// Whether Swarm wants a task of `service` running that it could place on no node: the proof
/// that it tried to start the member elsewhere and found no node that may hold it.
fn pending_on_no_node(nodes: &Nodes, from: usize, service: &str) -> bool {
    wanted_tasks(nodes, from, service)
        .iter()
        .any(|(node, state)| node.is_empty() && state.starts_with("Pending"))
}

/// Waits until Swarm (asked on node `from`) has replaced the task of member `m` of `service`
/// (its node lost, cut off or drained) by one it can place on no node; the member then runs
/// nowhere, the spare included.
fn wait_started_nowhere_else(nodes: &Nodes, from: usize, service: &str, m: usize, what: &str) {
    let task = format!("{service}_{service}-{m}");
    wait_until(
        &format!("{what}: Swarm has no node for {service}-{m}"),
        // A lost leader's node takes an election and a grace period (47 s measured here).
        Duration::from_secs(180),
        || pending_on_no_node(nodes, from, &task),
    );
    let placed = placement(nodes, from, service, m + 1);
    assert!(
        placed[m].is_empty() && containers_on(nodes, SPARE, service).is_empty(),
        "{what}: {service}-{m} was started elsewhere: {placed:?}"
    );
}

/// Containers of `service` on node `i` (running ones), by berth's label.
fn containers_on(nodes: &Nodes, i: usize, service: &str) -> Vec<String> {
    let label = format!("label=berth.service={service}");
    let out = nodes.docker(i, &["ps", "--quiet", "--filter", &label]);
    stdout(&out).lines().map(str::to_string).collect()
}

/// The running container of each member (member `m` on `member_nodes[m]`), or `None` where a
/// member runs none.
fn member_containers(nodes: &Nodes, service: &str, member_nodes: &[usize]) -> Vec<Option<String>> {
    member_nodes
        .iter()
        .enumerate()
        .map(|(m, &i)| member_container(nodes, i, service, m))
        .collect()
}

/// The running container of member `m` of `service` on node `i`, by berth's labels.
fn member_container(nodes: &Nodes, i: usize, service: &str, m: usize) -> Option<String> {
    let labels = [
        format!("label=berth.service={service}"),
        format!("label=berth.member={m}"),
    ];
    let args = [
        "ps", "--quiet", "--filter", &labels[0], "--filter", &labels[1],
    ];
    stdout(&nodes.docker(i, &args))
        .lines()
        .next()
        .map(str::to_string)
}

/// When each member was down while the members were replaced: member `m` from its old
/// container's finish until `back` says its new one serves (the nodes share this machine's
/// clock). `most_overlapping` of them is how many were down at once.
fn down_while_replaced(
    nodes: &Nodes,
    member_nodes: &[usize],
    old: &[Option<String>],
    new: &[Option<String>],
    back: impl Fn(usize, &str) -> f64,
) -> Vec<(f64, f64)> {
    (0..member_nodes.len())
        .map(|m| {
            let (i, old, new) = (member_nodes[m], &old[m], &new[m]);
            let (old, new) = (old.as_deref().unwrap(), new.as_deref().unwrap());
            (state_time(nodes, i, old, "FinishedAt"), back(i, new))
        })
        .collect()
}

/// The longest of the intervals.
fn longest(intervals: &[(f64, f64)]) -> f64 {
    intervals.iter().map(|(a, b)| b - a).fold(0.0, f64::max)
}

/// After a cut node is healed: whether Swarm replaced member `m`'s container `old` on node `i`
/// (the managers gave its task up while the node was down) and, if so, how long the old and the
/// new container ran at once on the member's one volume (the engine starts the new task as it
/// stops the old one). For the record: Swarm offers nothing to order them.
fn replaced_on_heal(nodes: &Nodes, i: usize, service: &str, m: usize, old: &str) -> String {
    match member_container(nodes, i, service, m).as_deref() {
        Some(new) if new != old => {
            let together =
                state_time(nodes, i, old, "FinishedAt") - state_time(nodes, i, new, "StartedAt");
            format!(
                "the member's task was replaced on the heal, the old and the new container ran together for {:.1} s",
                together.max(0.0)
            )
        }
        _ => "the member's container was kept".to_string(),
    }
}

/// A time of container `id`'s `.State` on node `i` (`StartedAt`, `FinishedAt`), in seconds of
/// the epoch.
fn state_time(nodes: &Nodes, i: usize, id: &str, field: &str) -> f64 {
    let format = format!("{{{{.State.{field}}}}}");
    epoch_seconds(&stdout(
        &nodes.docker(i, &["inspect", "--format", &format, id]),
    ))
}

/// The longest time without an acknowledgement from `since` until now, given when each
/// acknowledgement came (seconds of the epoch): an outage still going on counts up to now.
fn longest_gap(acknowledged: impl Iterator<Item = f64>, since: f64) -> f64 {
    let mut times: Vec<f64> = acknowledged.filter(|t| *t >= since).collect();
    times.insert(0, since);
    times.push(now());
    times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
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

/// `docker stack rm` of `stack`, and its members' volumes on `member_nodes`, once its containers
/// and network are gone (a stack's network goes only after its last task).
fn remove_stack(nodes: &Nodes, stack: &str, member_nodes: &[usize]) {
    let network = format!("{stack}-swarm");
    wait_until(
        &format!("the stack `{stack}` and its volumes are gone"),
        Duration::from_secs(120),
        || {
            let _ = nodes.docker(1, &["stack", "rm", stack]);
            member_nodes.iter().all(|&i| {
                let filter = format!("name={network}-");
                let volumes = nodes.docker(i, &["volume", "ls", "--quiet", "--filter", &filter]);
                for volume in stdout(&volumes).lines() {
                    let _ = nodes.docker(i, &["volume", "rm", volume]);
                }
                containers_on(nodes, i, stack).is_empty()
                    && stdout(&nodes.docker(i, &["volume", "ls", "--quiet", "--filter", &filter]))
                        .trim()
                        .is_empty()
            }) && !nodes
                .docker(1, &["network", "inspect", &network])
                .status
                .success()
        },
    );
}

/// The engine's timestamps as seconds of the epoch: a member down from before midnight until
/// after it is down for the seconds between, not for minus a day.
#[test]
fn engine_timestamps_keep_their_order_across_midnight() {
    assert_eq!(epoch_seconds("2026-12-07T11:45:15.5Z"), 1796643915.5);
    assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), 0.0);
    let before = epoch_seconds("2026-12-31T23:59:58.25Z");
    let after = epoch_seconds("2027-01-01T00:00:01.75Z");
    assert_eq!(after - before, 3.5);
}
