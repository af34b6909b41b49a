//! The scenarios on one swarm of four nodes (three managers, a spare worker): etcd and RabbitMQ
//! side by side, each member pinned to its node, each cluster with a client of its own on the
//! spare. A node's loss, a drain and a rolling update happen to both at once, as they would to a
//! real fleet; each cluster is measured against its own bound, and after each event each is whole
//! again with every acknowledged write on every member. The partitions differ (etcd's ends before
//! the managers give the node up, RabbitMQ's goes on until they have), so they come one after the
//! other. Then, with those stacks gone, the negative proofs: every etcd member on one node, and
//! PostgreSQL as a plain stack against berth's.

use super::etcd::{self, Etcd};
use super::postgres;
use super::rabbitmq::{self, Rabbitmq};
use super::{
    Cluster, down_while_replaced, leader, longest, member_container, member_containers, now,
    wait_started_nowhere_else,
};
use crate::common::engine::*;
use crate::common::nodes::Nodes;
use crate::common::run_ok;
use std::time::Duration;

#[test]
fn node_loss_partition_drain_and_update_keep_every_acknowledged_write_on_several_nodes() {
    let _engine = exclusive();
    let test = now();
    let Some(mut nodes) = Nodes::swarm(3, 1) else {
        return;
    };
    images();
    let images = ["etcd", "etcd-client", "rabbitmq", "amqp-client", "postgres"].map(image_tag);
    nodes.load(&images.each_ref().map(String::as_str));
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let started = now();
    eprintln!(
        "a swarm of four nodes with the images in {:.0} s",
        started - test
    );
    let etcd = Etcd::deploy(&nodes, dirs[0].path());
    let rabbit = Rabbitmq::deploy(&nodes, dirs[1].path());
    eprintln!("etcd and rabbitmq formed in {:.0} s", now() - started);
    etcd.start_writer(&nodes);
    rabbit.start_publisher(&nodes);
    let both: [&dyn Cluster; 2] = [&etcd, &rabbit];
    for cluster in both {
        cluster.wait_serving_after(&nodes, started, "deployed");
    }

    node_lost(&mut nodes, &both, 2);
    let lost = leader(&nodes, 1);
    node_lost(&mut nodes, &both, lost);
    etcd::partition(&nodes, &etcd, 3);
    rabbitmq::partition(&nodes, &rabbit, 3);
    drain(&nodes, &both, 2);
    // One after the other: two rolling updates at once on a loaded host slowed RabbitMQ's
    // rejoins towards the 60 s deploy.sh waits between its members.
    for cluster in both {
        rolling_update(&nodes, cluster);
    }
    rabbit.remove(&nodes);
    etcd::on_one_node_stops_with_it(&mut nodes, etcd);
    postgres::waits_for_its_node_where_a_plain_stack_loses_its_rows(&mut nodes);
    eprintln!("every scenario in {:.0} s", now() - test);
}

/// The member of a cluster on node `i`.
fn member_on(cluster: &dyn Cluster, i: usize) -> usize {
    cluster.member_nodes().iter().position(|&n| n == i).unwrap()
}

/// What happens to each cluster's member on node `i`, for messages: `node2 (etcd-1) lost`.
fn events(nodes: &Nodes, clusters: &[&dyn Cluster], i: usize, event: &str) -> Vec<String> {
    let node = nodes.name(i);
    clusters
        .iter()
        .map(|&c| format!("{node} ({}-{}) {event}", c.name(), member_on(c, i)))
        .collect()
}

/// A manager other than node `not`.
fn manager_but(not: usize) -> usize {
    (1..=3).find(|&i| i != not).unwrap()
}

/// Node `lost` dies (every process of it) while the clients write: Swarm sees it down and finds
/// no other node for its members (the spare runs none); each majority acknowledges writes again
/// (the longest outage measured). Then the node returns, and its members rejoin with their data.
fn node_lost(nodes: &mut Nodes, clusters: &[&dyn Cluster], lost: usize) {
    let from = manager_but(lost);
    let whats = events(nodes, clusters, lost, "lost");
    let since = now();
    nodes.kill(lost);
    let outages: Vec<f64> = clusters
        .iter()
        .zip(&whats)
        .map(|(&c, what)| {
            wait_started_nowhere_else(nodes, from, c.name(), member_on(c, lost), what);
            c.wait_serving_after(nodes, since, what);
            c.longest_outage(nodes, since)
        })
        .collect();
    let down = now() - since;
    nodes.start(lost);
    let back = now();
    for ((&c, what), outage) in clusters.iter().zip(&whats).zip(outages) {
        c.assert_whole(nodes, from, &format!("{what}, back"));
        eprintln!(
            "{}: {what} for {down:.0} s: longest outage {outage:.1} s; whole again {:.0} s after the node returned",
            c.name(),
            now() - back
        );
        c.assert_outage_within_limit(nodes, outage, what);
    }
}

/// Node `drained` is drained: its members stop and are started on no other node, each majority
/// acknowledges writes; `active` again, the members return with their data.
fn drain(nodes: &Nodes, clusters: &[&dyn Cluster], drained: usize) {
    let whats = events(nodes, clusters, drained, "drained");
    let availability = |to: &str| {
        let args = ["node", "update", "--availability", to, nodes.name(drained)];
        run_ok(nodes.command(1, "docker").args(args), "docker node update");
    };
    let since = now();
    availability("drain");
    let outages: Vec<f64> = clusters
        .iter()
        .zip(&whats)
        .map(|(&c, what)| {
            let m = member_on(c, drained);
            wait_until(
                &format!("{what}: its member stops"),
                Duration::from_secs(90),
                || member_container(nodes, drained, c.name(), m).is_none(),
            );
            wait_started_nowhere_else(nodes, 1, c.name(), m, what);
            c.wait_serving_after(nodes, since, what);
            c.longest_outage(nodes, since)
        })
        .collect();
    availability("active");
    let back = now();
    for ((&c, what), outage) in clusters.iter().zip(&whats).zip(outages) {
        c.assert_whole(nodes, 1, &format!("{what}, active again"));
        eprintln!(
            "{}: {what}: longest outage {outage:.1} s; whole again {:.0} s after `active`",
            c.name(),
            now() - back
        );
        c.assert_outage_within_limit(nodes, outage, what);
    }
}

/// `deploy.sh` of the cluster's output with a changed parameter while its client writes: every
/// member replaced, one at a time, the majority serving throughout, nothing lost. A member counts
/// as down from its old container's end until its new one serves, so a member replaced before
/// the previous one serves again counts as two down.
fn rolling_update(nodes: &Nodes, cluster: &dyn Cluster) {
    let name = cluster.name();
    let changed = cluster.updated();
    let member_nodes = cluster.member_nodes();
    let before = member_containers(nodes, name, member_nodes);
    let since = now();
    run_ok(
        nodes
            .command(1, "sh")
            .arg(changed.join("swarm/deploy.sh"))
            .arg(name),
        &format!("deploy.sh (the update of {name})"),
    );
    let took = now() - since;
    let after = member_containers(nodes, name, member_nodes);
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(a, b)| a.is_some() && a != b),
        "{name}: deploy.sh finished but not every member was replaced: {before:?} -> {after:?}"
    );
    let serving = |i: usize, id: &str| cluster.serving_since(nodes, i, id);
    let down = down_while_replaced(nodes, member_nodes, &before, &after, serving);
    let at_once = most_overlapping(&down);
    let outage = cluster.longest_outage(nodes, since);
    cluster.assert_whole(nodes, 1, "after the rolling update");
    eprintln!(
        "{name}: rolling update in {took:.0} s, each member down at most {:.1} s, at most {at_once} of 3 at once; longest outage {outage:.1} s",
        longest(&down)
    );
    assert_eq!(at_once, 1, "{name}: members are replaced one at a time");
    assert!(
        outage <= 15.0,
        "{name}: a majority kept serving, yet no write was acknowledged for {outage:.1} s\n{}",
        cluster.client_complaints(nodes)
    );
}
