//! Node loss, proven on several engines formed into one swarm (tests/common/nodes.rs): this
//! machine's kernel and namespaces stand in for a cluster of hosts.

use crate::common::engine::*;
use crate::common::nodes::{Nodes, esp_works};
use crate::common::stdout;
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
    eprintln!("IPsec ESP on this kernel: {}", esp_works());
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
