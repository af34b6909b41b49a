//! Node loss, proven on several engines formed into one swarm (tests/common/nodes.rs): this
//! machine's kernel and namespaces stand in for a cluster of hosts. etcd and PostgreSQL here,
//! RabbitMQ in `rabbitmq.rs`.

mod rabbitmq;

use crate::common::engine::*;
use crate::common::nodes::{Nodes, esp_works};
use crate::common::{berth_ok, root, run_ok, stdout, write};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
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
    /// The example as written (`spread = "required"`), one member on each of nodes 1 to 3.
    fn deploy(nodes: &Nodes, dir: &Path) -> Etcd {
        write(dir, "etcd.toml", &example_as_this_kernel_allows("etcd"));
        let (out, _) = compile(dir, "etcd.toml", "out", &[]);
        Etcd::deploy_on(nodes, out, vec![1, 2, 3])
    }

    /// `prepare-nodes.sh` given `member_nodes` (a node named twice is named once: it then holds
    /// several members), and `deploy.sh`.
    fn deploy_on(nodes: &Nodes, out: std::path::PathBuf, member_nodes: Vec<usize>) -> Etcd {
        let etcd = Etcd {
            out,
            member_nodes,
            spare: 4,
            client_image: image_tag("etcd-client"),
        };
        let mut names: Vec<&str> = etcd.member_nodes.iter().map(|&i| nodes.name(i)).collect();
        names.dedup();
        prepare_and_deploy(nodes, &etcd.out, &names, "etcd");
        etcd
    }

    /// The nodes each member's tasks are assigned to, as the managers see it from node `from`.
    fn placement(&self, nodes: &Nodes, from: usize) -> Vec<Vec<String>> {
        placement(nodes, from, "etcd", 3)
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
        longest_gap(acked.iter().map(|(t, _)| *t), since)
    }

    /// Waits until etcd has acknowledged five writes after `since`.
    fn wait_writes_after(&self, nodes: &Nodes, since: f64, what: &str) {
        wait_until(
            &format!("{what}: the majority acknowledges writes"),
            Duration::from_secs(120),
            || {
                let acked = self.acknowledged(nodes);
                acked.iter().filter(|(t, _)| *t > since).count() >= 5
            },
        );
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
fn wait_started_nowhere_else(
    nodes: &Nodes,
    from: usize,
    service: &str,
    m: usize,
    spare: usize,
    what: &str,
) {
    let task = format!("{service}_{service}-{m}");
    wait_until(
        &format!("{what}: Swarm has no node for {service}-{m}"),
        Duration::from_secs(90),
        || pending_on_no_node(nodes, from, &task),
    );
    let placed = placement(nodes, from, service, m + 1);
    assert!(
        placed[m].is_empty() && containers_on(nodes, spare, service).is_empty(),
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
/// the day.
fn state_time(nodes: &Nodes, i: usize, id: &str, field: &str) -> f64 {
    let format = format!("{{{{.State.{field}}}}}");
    seconds_of_day(&stdout(
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

    etcd_node_lost(&mut nodes, &etcd, 2);
    // The swarm leader's node: another manager leads, and etcd behaves the same.
    let lost = leader(&nodes, 1);
    etcd_node_lost(&mut nodes, &etcd, lost);
    etcd_partition(&nodes, &etcd, 3);
    etcd_drain(&nodes, &etcd, 2);
    etcd_rolling_update(&nodes, dir.path(), &etcd);
    etcd_on_one_node_stops_with_it(&mut nodes, dir.path(), etcd);
}

/// A member's node dies while the writer writes: the majority serves; Swarm starts the member on
/// no other node; back, the member holds every acknowledged write.
fn etcd_node_lost(nodes: &mut Nodes, etcd: &Etcd, lost: usize) {
    let m = etcd.member_nodes.iter().position(|&i| i == lost).unwrap();
    let from = (1..=3).find(|&i| i != lost).unwrap();
    let what = format!("{} (etcd-{m}) lost", nodes.name(lost));
    let since = now();
    nodes.kill(lost);
    wait_started_nowhere_else(nodes, from, "etcd", m, etcd.spare, &what);
    etcd.wait_writes_after(nodes, since, &what);
    let outage = etcd.longest_outage(nodes, since);
    let down = now() - since;
    nodes.start(lost);
    let back = now();
    etcd.assert_every_write_everywhere(nodes, &format!("{what}, back"));
    eprintln!(
        "etcd: {what} for {down:.0} s: longest write outage {outage:.1} s; every write on every member {:.0} s after the node returned",
        now() - back
    );
    assert!(outage <= 15.0, "{what}: writes stopped for {outage:.1} s");
}

/// Node `cut` is cut off the network: the majority serves, the member on the minority side
/// acknowledges nothing; healed, every member holds every write. The cut lasts as long as that
/// takes, a few seconds, less than the managers take to give the node up (RabbitMQ's partition
/// scenario goes on until they have, and shows what follows).
fn etcd_partition(nodes: &Nodes, etcd: &Etcd, cut: usize) {
    let m = etcd.member_nodes.iter().position(|&i| i == cut).unwrap();
    let what = format!("{} (etcd-{m}) cut off", nodes.name(cut));
    let member = member_containers(nodes, "etcd", &etcd.member_nodes)[m].clone();
    let member = member.expect("the member runs");
    let since = now();
    nodes.cut(cut, true);
    let minority = nodes.docker(
        cut,
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
        "{what}: the cut-off member acknowledged a write"
    );
    etcd.wait_writes_after(nodes, since, &what);
    let outage = etcd.longest_outage(nodes, since);
    let down = now() - since;
    nodes.cut(cut, false);
    let back = now();
    etcd.assert_every_write_everywhere(nodes, &format!("{what}, healed"));
    eprintln!(
        "etcd: {what} for {down:.0} s: longest write outage {outage:.1} s; every write on every member {:.0} s after the heal; {}",
        now() - back,
        replaced_on_heal(nodes, cut, "etcd", m, &member)
    );
    assert!(outage <= 15.0, "{what}: writes stopped for {outage:.1} s");
}

/// A drain of a member's node: the member stops and waits for its node, the majority serves.
fn etcd_drain(nodes: &Nodes, etcd: &Etcd, drained: usize) {
    let m = etcd
        .member_nodes
        .iter()
        .position(|&i| i == drained)
        .unwrap();
    let what = format!("{} (etcd-{m}) drained", nodes.name(drained));
    let availability = |to: &str| {
        let args = ["node", "update", "--availability", to, nodes.name(drained)];
        let out = nodes.docker(1, &args);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
    };
    let since = now();
    availability("drain");
    wait_started_nowhere_else(nodes, 1, "etcd", m, etcd.spare, &what);
    etcd.wait_writes_after(nodes, since, &what);
    let outage = etcd.longest_outage(nodes, since);
    availability("active");
    let back = now();
    etcd.assert_every_write_everywhere(nodes, &format!("{what}, active again"));
    eprintln!(
        "etcd: {what}: longest write outage {outage:.1} s; every write on every member {:.0} s after `active`",
        now() - back
    );
    assert!(outage <= 15.0, "{what}: writes stopped for {outage:.1} s");
}

/// `deploy.sh` with a changed parameter (each member's CPU reservation) while the writer writes:
/// every member is replaced, one at a time, the majority serves throughout, nothing is lost.
fn etcd_rolling_update(nodes: &Nodes, dir: &Path, etcd: &Etcd) {
    let (changed, _) = compile(dir, "etcd.toml", "out-update", &["cpu=0.9"]);
    let before = member_containers(nodes, "etcd", &etcd.member_nodes);
    let since = now();
    run_ok(
        nodes
            .command(1, "sh")
            .arg(changed.join("swarm/deploy.sh"))
            .arg("etcd"),
        "deploy.sh (the update)",
    );
    let took = now() - since;
    let after = member_containers(nodes, "etcd", &etcd.member_nodes);
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(a, b)| a.is_some() && a != b),
        "deploy.sh finished but not every member was replaced: {before:?} -> {after:?}"
    );
    let started = |i: usize, id: &str| state_time(nodes, i, id, "StartedAt");
    let down = down_while_replaced(nodes, &etcd.member_nodes, &before, &after, started);
    let at_once = most_overlapping(&down);
    let outage = etcd.longest_outage(nodes, since);
    eprintln!(
        "etcd: rolling update in {took:.0} s, each member down at most {:.1} s, at most {at_once} of 3 at once; longest write outage {outage:.1} s",
        longest(&down)
    );
    assert_eq!(at_once, 1, "members are replaced one at a time");
    assert!(outage <= 15.0, "writes stopped for {outage:.1} s");
    etcd.assert_every_write_everywhere(nodes, "after the rolling update");
}

/// The negative proof: every member on one node (`spread = "none"`, `prepare-nodes.sh` given
/// node3 alone; half a CPU each, for three on one node). berth says so when it compiles (rule `swarm/quorum-on-one-node`), and the loss
/// of that node stops the whole cluster: no write is acknowledged until it returns.
fn etcd_on_one_node_stops_with_it(nodes: &mut Nodes, dir: &Path, spread_out: Etcd) {
    let _ = nodes.docker(spread_out.spare, &["rm", "--force", "writer"]);
    remove_stack(nodes, "etcd", &[1, 2, 3]);
    let (out, report) = compile(
        dir,
        "etcd.toml",
        "out-one-node",
        &["spread=none", "cpu=0.5"],
    );
    let said = crate::common::stderr(&report);
    assert!(
        said.contains("swarm/quorum-on-one-node"),
        "berth compiled every member onto one node without rule `swarm/quorum-on-one-node`: {said}"
    );
    let etcd = Etcd::deploy_on(nodes, out, vec![3, 3, 3]);
    wait_until(
        "every member runs on node3",
        Duration::from_secs(120),
        || etcd.placement(nodes, 1) == [["node3"], ["node3"], ["node3"]],
    );
    etcd.start_writer(nodes);
    wait_until("etcd acknowledges writes", Duration::from_secs(120), || {
        etcd.acknowledged(nodes).len() > 10
    });
    let since = now();
    nodes.kill(3);
    // As long as the node of a member of the healthy cluster above took to be seen down.
    wait_until("node3 is seen down", Duration::from_secs(60), || {
        status_of(nodes, 1, 3) == "Down"
    });
    let down = now() - since;
    // A write in flight when the node died may be acknowledged a moment after.
    let during: Vec<u32> = etcd
        .acknowledged(nodes)
        .into_iter()
        .filter(|(t, _)| *t > since + 1.0)
        .map(|(_, n)| n)
        .collect();
    assert!(
        during.is_empty(),
        "writes were acknowledged with every member's node down: {during:?}"
    );
    nodes.start(3);
    wait_until(
        "etcd acknowledges writes again",
        Duration::from_secs(120),
        || {
            etcd.acknowledged(nodes)
                .iter()
                .any(|(t, _)| *t > since + down)
        },
    );
    let outage = etcd.longest_outage(nodes, since);
    eprintln!(
        "etcd, every member on node3: node3 lost for {down:.0} s: no write acknowledged; longest write outage {outage:.1} s"
    );
    etcd.assert_every_write_everywhere(nodes, "node3 back");
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
    wait_started_nowhere_else(&nodes, 1, "postgres", 0, 4, "node2 (postgres-0) lost");
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
