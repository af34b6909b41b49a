//! Day two on five member nodes and a spare (six engines in one swarm): etcd grown from 3
//! members to 5 and back by `berth plan`, one member moved to a new volume, then a node lost with
//! its member and the member replaced, while a client on the spare writes; every acknowledged
//! write on every member after each plan. (The plans on one engine: `upstream/day_two.rs`.)

use super::etcd::{self, Etcd};
use super::{Cluster, now};
use crate::common::engine::*;
use crate::common::nodes::Nodes;

#[test]
fn etcd_grows_to_five_nodes_and_back_by_plan() {
    let _engine = exclusive();
    let Some(mut nodes) = Nodes::swarm(3, 3) else {
        return;
    };
    images();
    let images = ["etcd", "etcd-client"].map(image_tag);
    nodes.load(&images.each_ref().map(String::as_str));
    let dir = tempfile::tempdir().unwrap();
    let started = now();
    let etcd = Etcd::deploy(&nodes, dir.path());
    etcd.start_writer(&nodes);
    etcd.wait_serving_after(&nodes, started, "deployed");
    let etcd = etcd::grows_to_five_nodes_and_back_by_plan(&nodes, etcd);
    etcd::loses_a_node_and_replaces_its_member_by_plan(&mut nodes, etcd);
}
