//! etcd's example (three members) on a swarm of several nodes, as a user deploys it: its default
//! `spread = "required"`, `prepare-nodes.sh` with one node per member, `deploy.sh`. A writer on
//! the spare node puts a key against every member every 0.2 s; after each scenario every member
//! holds every acknowledged write. Also the negative proof: every member on one node stops with it.

use super::{
    Cluster, SPARE, compile, example_as_this_kernel_allows, member_containers, now, placement,
    prepare_and_deploy, remove_stack, replaced_on_heal, state_time, status_of,
};
use crate::common::engine::*;
use crate::common::nodes::Nodes;
use crate::common::{stderr, stdout, write};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ENDPOINTS: &str = "http://etcd-0:2379,http://etcd-1:2379,http://etcd-2:2379";

/// The deployed example and what the test needs to talk to it.
pub struct Etcd {
    /// Where the spec and its outputs are.
    dir: PathBuf,
    /// The nodes that hold the members, in member order; the spare holds none.
    member_nodes: Vec<usize>,
    client_image: String,
}

impl Etcd {
    /// The example as written (`spread = "required"`), compiled in `dir`, one member on each of
    /// nodes 1 to 3.
    pub fn deploy(nodes: &Nodes, dir: &Path) -> Etcd {
        write(dir, "etcd.toml", &example_as_this_kernel_allows("etcd"));
        let (out, _) = compile(dir, "etcd.toml", "out", &[]);
        Etcd::deploy_on(nodes, dir, &out, vec![1, 2, 3])
    }

    /// `prepare-nodes.sh` given `member_nodes` (a node named twice is named once: it then holds
    /// several members), and `deploy.sh` of the output `out`.
    fn deploy_on(nodes: &Nodes, dir: &Path, out: &Path, member_nodes: Vec<usize>) -> Etcd {
        let mut names: Vec<&str> = member_nodes.iter().map(|&i| nodes.name(i)).collect();
        names.dedup();
        prepare_and_deploy(nodes, out, &names, "etcd");
        Etcd {
            dir: dir.to_path_buf(),
            member_nodes,
            client_image: image_tag("etcd-client"),
        }
    }

    /// The writer: a client on the spare node that puts `k<N>` against every member, once every
    /// 0.2 s, and logs `<time> <N>` for each write etcd acknowledged.
    pub fn start_writer(&self, nodes: &Nodes) {
        let script = format!(
            "i=0; while :; do i=$((i + 1)); \
             if etcdctl --endpoints={ENDPOINTS} --dial-timeout=1s --command-timeout=2s put k$i v >/dev/null 2>&1; \
             then echo \"$(date +%s.%N) $i\"; fi; sleep 0.2; done"
        );
        let out = nodes.docker(
            SPARE,
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
        assert!(out.status.success(), "the writer: {}", stderr(&out));
    }

    /// Every acknowledged write so far, with when it was acknowledged.
    fn acknowledged(&self, nodes: &Nodes) -> Vec<(f64, u32)> {
        let out = nodes.docker(SPARE, &["logs", "writer"]);
        stdout(&out)
            .lines()
            .filter_map(|l| {
                let (time, n) = l.split_once(' ')?;
                Some((time.parse().ok()?, n.parse().ok()?))
            })
            .collect()
    }

    /// The keys member `m` holds, read locally (a serializable read).
    fn keys_of(&self, nodes: &Nodes, m: usize) -> Option<BTreeSet<u32>> {
        let endpoint = format!("--endpoints=http://etcd-{m}:2379");
        let out = nodes.docker(
            SPARE,
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
}

impl Cluster for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn member_nodes(&self) -> &[usize] {
        &self.member_nodes
    }

    fn acknowledged_times(&self, nodes: &Nodes) -> Vec<f64> {
        self.acknowledged(nodes).iter().map(|(t, _)| *t).collect()
    }

    fn outage_limit(&self) -> f64 {
        15.0
    }

    /// Waits until every member holds every write acknowledged so far.
    fn assert_whole(&self, nodes: &Nodes, _from: usize, when: &str) {
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
        for m in 0..self.member_nodes.len() {
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
        eprintln!(
            "etcd: {when}: all {} acknowledged writes on every member",
            acked.len()
        );
    }

    /// The example with a changed parameter (each member's CPU reservation).
    fn updated(&self) -> PathBuf {
        compile(&self.dir, "etcd.toml", "out-update", &["cpu=0.9"]).0
    }

    /// A member serves again once its new container has started.
    fn serving_since(&self, nodes: &Nodes, i: usize, id: &str) -> f64 {
        state_time(nodes, i, id, "StartedAt")
    }
}

/// Day two on five member nodes and the spare: `berth plan` takes etcd from 3 members to 5 (on
/// nodes 5 and 6) and back to 3, each plan run on a manager as a user runs it, after
/// `prepare-nodes.sh` of its directory, while the writer writes through the first three. Then
/// etcd-1 moves to a new volume (`--replace`): to the first node free of etcd, the spare, while its
/// old volume stays on node 2, where the command the plan prints removes it.
pub fn grows_to_five_nodes_and_back_by_plan(nodes: &Nodes, mut etcd: Etcd) -> Etcd {
    let changes: [(&str, &str, &[&str], Vec<usize>); 3] = [
        ("five", "out", &["--set", "replicas=5"], vec![1, 2, 3, 5, 6]),
        ("three", "five", &["--set", "replicas=3"], vec![1, 2, 3]),
        (
            "moved",
            "three",
            &["--replace", "etcd-1"],
            vec![1, SPARE, 3],
        ),
    ];
    for (name, against, change, member_nodes) in changes {
        let args = [
            "plan",
            "etcd.toml",
            "--backend",
            "swarm",
            "--against",
            against,
            "--out",
            name,
        ];
        crate::common::berth_ok(&[&args[..], change].concat(), &etcd.dir);
        let out = etcd.dir.join(name).join("swarm");
        if name != "moved" {
            let names: Vec<&str> = member_nodes.iter().map(|&i| nodes.name(i)).collect();
            let mut prepare = nodes.command(1, "sh");
            crate::common::run_ok(
                prepare.arg(out.join("prepare-nodes.sh")).args(&names),
                "prepare-nodes.sh",
            );
        }
        let started = now();
        let mut plan = nodes.command(1, "sh");
        let ran = crate::common::run_ok(plan.arg(out.join("plan.sh")).arg("etcd"), "plan.sh");
        let took = now() - started;
        etcd.member_nodes = member_nodes;
        let when = format!("{} by plan", change.join(" "));
        etcd.assert_whole(nodes, 1, &when);
        let outage = etcd.longest_outage(nodes, started);
        eprintln!(
            "etcd on several nodes: {when} in {took:.0} s; longest write outage {outage:.1} s"
        );
        etcd.assert_outage_within_limit(nodes, outage, &when);
        if name == "moved" {
            removes_the_old_volume(nodes, &stdout(&ran));
        }
    }
    etcd
}

/// Node 3 is lost with etcd-2 and its volume, for good: `berth plan --lost etcd-2` has the two
/// others remove it from the cluster and moves it to the first free node (node 2, whose old
/// volume the test removed), where it joins on a new volume and catches up, while the writer
/// writes. The plan does not wait for the lost member, nor ask it anything.
pub fn loses_a_node_and_replaces_its_member_by_plan(nodes: &mut Nodes, mut etcd: Etcd) {
    let since = now();
    nodes.kill(3);
    wait_until("node3 is seen down", Duration::from_secs(60), || {
        status_of(nodes, 1, 3) == "Down"
    });
    let args = ["plan", "etcd.toml", "--backend", "swarm"];
    let change = ["--against", "moved", "--out", "lost", "--lost", "etcd-2"];
    crate::common::berth_ok(&[&args[..], &change].concat(), &etcd.dir);
    let started = now();
    let mut plan = nodes.command(1, "sh");
    let script = etcd.dir.join("lost/swarm/plan.sh");
    let ran = crate::common::run_ok(plan.arg(script).arg("etcd"), "plan.sh");
    let took = now() - started;
    let said = stdout(&ran);
    for note in [
        format!("etcd-2 left its volumes on {}", nodes.name(3)),
        format!("etcd-2 moves to {}", nodes.name(2)),
    ] {
        assert!(
            said.contains(&note),
            "plan.sh did not say `{note}`:\n{said}"
        );
    }
    etcd.member_nodes = vec![1, SPARE, 2];
    let when = format!(
        "{} lost with etcd-2, `--lost etcd-2` by plan",
        nodes.name(3)
    );
    etcd.assert_whole(nodes, 1, &when);
    let outage = etcd.longest_outage(nodes, since);
    eprintln!(
        "etcd on several nodes: {when} in {took:.0} s; longest write outage {outage:.1} s since the node was lost"
    );
    etcd.assert_outage_within_limit(nodes, outage, &when);
}

/// The moved member's old volume is on node 2 and its new one on the spare; the commands the plan
/// printed remove the old one there (once Swarm has removed the old task's container), then the
/// label that marked it, on a manager: node 2 is free again.
fn removes_the_old_volume(nodes: &Nodes, said: &str) {
    let volume = "etcd-swarm-1-data";
    let note = format!("etcd-1 left its volumes on {}", nodes.name(2));
    assert!(
        said.contains(&note),
        "plan.sh did not say `{note}`:\n{said}"
    );
    let command = format!("docker volume rm {volume}");
    assert!(said.contains(&command), "plan.sh did not say `{command}`");
    let on_spare = nodes.docker(SPARE, &["volume", "inspect", volume]);
    assert!(on_spare.status.success(), "the spare has no {volume}");
    wait_until(
        &format!("`{command}` on {}", nodes.name(2)),
        Duration::from_secs(30),
        || nodes.docker(2, &["volume", "rm", volume]).status.success(),
    );
    let label = "etcd.member.1.old-volumes";
    let command = format!("docker node update --label-rm {label} {}", nodes.name(2));
    assert!(said.contains(&command), "plan.sh did not say `{command}`");
    let removed = nodes.docker(1, &["node", "update", "--label-rm", label, nodes.name(2)]);
    assert!(removed.status.success(), "{command}: {}", stderr(&removed));
}

/// Node `cut` is cut off the network: the majority serves, the member on the minority side
/// acknowledges nothing; healed, every member holds every write. The cut lasts as long as that
/// takes, a few seconds, less than the managers take to give the node up (RabbitMQ's partition
/// scenario goes on until they have, and shows what follows).
pub fn partition(nodes: &Nodes, etcd: &Etcd, cut: usize) {
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
    etcd.wait_serving_after(nodes, since, &what);
    let outage = etcd.longest_outage(nodes, since);
    let down = now() - since;
    nodes.cut(cut, false);
    let back = now();
    etcd.assert_whole(nodes, 1, &format!("{what}, healed"));
    eprintln!(
        "etcd: {what} for {down:.0} s: longest write outage {outage:.1} s; every write on every member {:.0} s after the heal; {}",
        now() - back,
        replaced_on_heal(nodes, cut, "etcd", m, &member)
    );
    assert!(outage <= 15.0, "{what}: writes stopped for {outage:.1} s");
}

/// The negative proof: every member on one node (`spread = "none"`, `prepare-nodes.sh` given
/// node3 alone; half a CPU each, for three on one node). berth says so when it compiles (rule
/// `swarm/quorum-on-one-node`), and the loss of that node stops the whole cluster: no write is
/// acknowledged until it returns. The stack spread out before is removed first, this one after.
pub fn on_one_node_stops_with_it(nodes: &mut Nodes, spread_out: Etcd) {
    let _ = nodes.docker(SPARE, &["rm", "--force", "writer"]);
    remove_stack(nodes, "etcd", &[1, 2, 3]);
    let dir = &spread_out.dir;
    let sets = ["spread=none", "cpu=0.5"];
    let (out, report) = compile(dir, "etcd.toml", "out-one-node", &sets);
    let said = stderr(&report);
    assert!(
        said.contains("swarm/quorum-on-one-node"),
        "berth compiled every member onto one node without rule `swarm/quorum-on-one-node`: {said}"
    );
    let etcd = Etcd::deploy_on(nodes, dir, &out, vec![3, 3, 3]);
    wait_until(
        "every member runs on node3",
        Duration::from_secs(120),
        || placement(nodes, 1, "etcd", 3) == [["node3"], ["node3"], ["node3"]],
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
    etcd.assert_whole(nodes, 1, "node3 back");
    let _ = nodes.docker(SPARE, &["rm", "--force", "writer"]);
    remove_stack(nodes, "etcd", &[3]);
}
