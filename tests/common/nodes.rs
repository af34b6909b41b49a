//! Several Docker engines on this one machine, each a node of its own, formed into one swarm: the
//! harness of the multi-node scenarios (tests/engine/multinode.rs).
//!
//! Each node is a network namespace with one veth onto a bridge in a namespace of the harness's
//! (addresses in 192.168.231.0/24, nothing outside this machine is addressed; the bridge's own,
//! .254, is the nodes' DNS server, which knows no name), and a `dockerd` as
//! the first process of its own PID, mount and UTS namespaces (`nsenter --net` then `unshare`;
//! `ip netns exec` would remount `/sys`, and the engine would find no cgroups). Taking its link
//! down and killing that first process with SIGKILL ends every process of the node at once, its
//! containers included, without a word to its peers, as a power cut would. A node that starts again comes back as after a reboot: its exec root, socket
//! and pid files (on `/run`) are gone, its data root (on disk) is kept.
//!
//! Everything lives under one run id: `/run/berth-nodes/ID`, `/var/lib/berth-nodes/ID`, and the
//! namespaces `ID-br`, `ID-n1`... `teardown.sh` there removes all of it; the harness runs it when
//! dropped, and a watchdog process runs it when the test process ends any other way (a panic that
//! aborts, SIGINT, SIGKILL). A run id whose test process is gone is torn down by the next run.

use super::engine::{skip, wait_until};
use super::{stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const RUN: &str = "/run/berth-nodes";
const DATA: &str = "/var/lib/berth-nodes";
const SUBNET: &str = "192.168.231";

pub struct Nodes {
    id: String,
    dir: PathBuf,
    nodes: Vec<Node>,
    managers: usize,
    watchdog: Option<Child>,
    dns: Option<Child>,
}

struct Node {
    /// `node1`...: the hostname, and so the swarm node's name.
    name: String,
    netns: String,
    engine: Option<Child>,
}

impl Nodes {
    /// `managers` managers and `workers` workers formed into one swarm, or `None` (a loud skip,
    /// a failure under `CI=true`) when this machine cannot run them, with the reason.
    pub fn swarm(managers: usize, workers: usize) -> Option<Nodes> {
        if let Err(why) = prerequisites() {
            skip(&format!("several engines cannot run here: {why}"));
            return None;
        }
        reap_abandoned_runs();
        let mut nodes = match Nodes::create(managers + workers, managers) {
            Ok(nodes) => nodes,
            Err(why) => {
                skip(&format!("several engines could not be started: {why}"));
                return None;
            }
        };
        for i in 1..=nodes.nodes.len() {
            nodes.start(i);
        }
        if let Err(why) = nodes.form() {
            skip(&format!("the engines did not form a swarm: {why}"));
            return None;
        }
        Some(nodes)
    }

    fn create(count: usize, managers: usize) -> Result<Nodes, String> {
        let id = format!("bn{:05x}", std::process::id() % 0xfffff);
        let dir = Path::new(RUN).join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("owner"), std::process::id().to_string()).unwrap();
        std::fs::write(dir.join("empty.json"), "{}").unwrap();
        let teardown = dir.join("teardown.sh");
        std::fs::write(&teardown, TEARDOWN).unwrap();
        let mut harness = Nodes {
            watchdog: Some(watchdog(&teardown, &id)),
            id,
            dir,
            nodes: Vec::new(),
            managers,
            dns: None,
        };
        harness.network(count)?;
        Ok(harness)
    }

    /// The bridge namespace and one namespace per node, each with its address.
    fn network(&mut self, count: usize) -> Result<(), String> {
        let bridge = format!("{}-br", self.id);
        ip(&["netns", "add", &bridge])?;
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &bridge, "link", "set", "br0", "up"])?;
        let address = format!("{SUBNET}.254/24");
        ip(&["-n", &bridge, "addr", "add", &address, "dev", "br0"])?;
        self.dns = Some(self.responder(&bridge)?);
        for i in 1..=count {
            let netns = format!("{}-n{i}", self.id);
            let (outer, inner) = (format!("{}a{i}", self.id), format!("{}b{i}", self.id));
            ip(&["netns", "add", &netns])?;
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &outer, "netns", &bridge])?;
            ip(&["link", "set", &inner, "netns", &netns])?;
            ip(&["-n", &bridge, "link", "set", &outer, "master", "br0", "up"])?;
            ip(&["-n", &netns, "link", "set", &inner, "name", "eth0"])?;
            let address = format!("{SUBNET}.{i}/24");
            ip(&["-n", &netns, "addr", "add", &address, "dev", "eth0"])?;
            ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &netns, "link", "set", "lo", "up"])?;
            self.nodes.push(Node {
                name: format!("node{i}"),
                netns,
                engine: None,
            });
        }
        Ok(())
    }

    /// Starts `RESPONDER` in the bridge's namespace, at `SUBNET.254`; its pid is kept for
    /// `teardown.sh`.
    fn responder(&self, bridge: &str) -> Result<Child, String> {
        let child = Command::new("ip")
            .args(["netns", "exec", bridge, "python3", "-c", RESPONDER])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("dns.log")).unwrap())
            .spawn()
            .map_err(|e| format!("the DNS responder: {e}"))?;
        std::fs::write(self.dir.join("dns.pid"), child.id().to_string()).unwrap();
        Ok(child)
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("n{i}"))
    }

    fn data_root(&self, i: usize) -> PathBuf {
        Path::new(DATA).join(&self.id).join(format!("n{i}"))
    }

    /// The `DOCKER_HOST` of node `i` (from 1).
    pub fn host(&self, i: usize) -> String {
        format!("unix://{}/docker.sock", self.node_dir(i).display())
    }

    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i - 1].name
    }

    pub fn count(&self) -> usize {
        self.nodes.len()
    }

    /// `docker` against node `i`.
    pub fn docker(&self, i: usize, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.host(i))
            .args(args)
            .output()
            .expect("docker runs")
    }

    /// A command run as a user of node `i` would run it: `DOCKER_HOST` is that node's engine.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("DOCKER_HOST", self.host(i));
        command
    }

    /// Starts node `i`'s engine as after a boot: its link up, a fresh exec root, the same data
    /// root, and the harness's DNS server (see `RESPONDER`).
    pub fn start(&mut self, i: usize) {
        self.cut(i, false);
        let dir = self.node_dir(i);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("exec")).unwrap();
        std::fs::create_dir_all(self.data_root(i)).unwrap();
        let engine = format!(
            "hostname {name} && exec dockerd --data-root {data} --exec-root {dir}/exec \
             -H unix://{dir}/docker.sock --pidfile {dir}/docker.pid --bip 172.29.{i}.1/24 \
             --dns {SUBNET}.254 --config-file {empty} --storage-driver overlay2 >{dir}/engine.log 2>&1",
            name = self.nodes[i - 1].name,
            data = self.data_root(i).display(),
            dir = dir.display(),
            empty = self.dir.join("empty.json").display(),
        );
        let child = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", self.nodes[i - 1].netns))
            .args(["unshare", "--pid", "--fork", "--mount-proc", "--uts"])
            .args(["sh", "-c", &engine])
            .stdin(Stdio::null())
            // unshare's own complaint when its node is killed, beside the engine's log.
            .stderr(std::fs::File::create(dir.join("unshare.log")).unwrap())
            .spawn()
            .expect("nsenter runs");
        let init = first_child(child.id());
        std::fs::write(dir.join("init.pid"), init.to_string()).unwrap();
        self.nodes[i - 1].engine = Some(child);
        wait_until(
            &format!("node{i}'s engine answers"),
            Duration::from_secs(60),
            || {
                self.docker(i, &["info", "--format", "{{.ID}}"])
                    .status
                    .success()
            },
        );
        self.wait_leader_known(i);
    }

    /// A manager that returns answers "the swarm does not have a leader" until it has found
    /// the leader again (seconds); a test's next command on it must not meet that.
    fn wait_leader_known(&self, i: usize) {
        let control = self.docker(i, &["info", "--format", "{{.Swarm.ControlAvailable}}"]);
        if stdout(&control).trim() != "true" {
            return;
        }
        wait_until(
            &format!("node{i} knows the swarm's leader"),
            Duration::from_secs(60),
            || self.docker(i, &["node", "ls", "-q"]).status.success(),
        );
    }

    /// Ends every process of node `i` at once (SIGKILL to the first process of its PID
    /// namespace), as a power cut would; returns once they are gone. Its link goes down first:
    /// processes that die close their connections (a FIN, a RST), which tells their peers at
    /// once, where a host that loses its power says nothing and its peers learn it only from
    /// their own timeouts. (`start` brings the link up again.)
    pub fn kill(&mut self, i: usize) {
        self.cut(i, true);
        let init = std::fs::read_to_string(self.node_dir(i).join("init.pid")).unwrap();
        let _ = Command::new("kill").args(["-KILL", init.trim()]).status();
        if let Some(mut engine) = self.nodes[i - 1].engine.take() {
            let _ = engine.wait();
        }
    }

    /// Cuts node `i` off the network (its link down), or heals it.
    pub fn cut(&self, i: usize, off: bool) {
        let state = if off { "down" } else { "up" };
        ip(&["-n", &self.nodes[i - 1].netns, "link", "set", "eth0", state]).unwrap();
    }

    /// The first `managers` nodes become managers (node1 initializes), the rest workers.
    fn form(&self) -> Result<(), String> {
        let advertise = format!("{SUBNET}.1");
        let init = self.docker(1, &["swarm", "init", "--advertise-addr", &advertise]);
        if !init.status.success() {
            return Err(stderr(&init));
        }
        let token = |role| {
            let out = self.docker(1, &["swarm", "join-token", "-q", role]);
            stdout(&out).trim().to_string()
        };
        let (manager, worker) = (token("manager"), token("worker"));
        for i in 2..=self.count() {
            let token = if i <= self.managers {
                &manager
            } else {
                &worker
            };
            let address = format!("{SUBNET}.{i}");
            let remote = format!("{advertise}:2377");
            let join = self.docker(
                i,
                &[
                    "swarm",
                    "join",
                    "--advertise-addr",
                    &address,
                    "--token",
                    token,
                    &remote,
                ],
            );
            if !join.status.success() {
                return Err(format!("node{i}: {}", stderr(&join)));
            }
        }
        Ok(())
    }

    /// Copies images from this machine's engine into every node (no registry to pull from).
    pub fn load(&self, images: &[&str]) {
        let archive = self.dir.join("images.tar");
        let save = Command::new("docker")
            .args(["save", "-o"])
            .arg(&archive)
            .args(images)
            .output()
            .unwrap();
        assert!(save.status.success(), "docker save: {}", stderr(&save));
        for i in 1..=self.count() {
            let load = self.docker(i, &["load", "-q", "-i", archive.to_str().unwrap()]);
            assert!(
                load.status.success(),
                "node{i}: docker load: {}",
                stderr(&load)
            );
        }
        let _ = std::fs::remove_file(archive);
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .arg(self.dir.join("teardown.sh"))
            .arg(&self.id)
            .status();
        if let Some(mut dns) = self.dns.take() {
            let _ = dns.kill();
            let _ = dns.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Removes every trace of one run: its engines (and with them every process of their nodes),
/// its namespaces, what is still mounted below its data roots, and its folders. Run with the
/// run id; safe to run twice.
const TEARDOWN: &str = r#"#!/bin/sh
id=$1
run=/run/berth-nodes/$id
data=/var/lib/berth-nodes/$id
for pid in "$run"/n*/init.pid; do
  [ -f "$pid" ] && kill -KILL "$(cat "$pid")" 2>/dev/null
done
for pid in "$run"/n*/init.pid; do
  [ -f "$pid" ] || continue
  n=0
  while kill -0 "$(cat "$pid")" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
done
[ -f "$run/dns.pid" ] && kill -KILL "$(cat "$run/dns.pid")" 2>/dev/null
for ns in $(ip netns list | awk '{ print $1 }' | grep "^$id-"); do ip netns del "$ns"; done
grep " $data/" /proc/mounts | awk '{ print $2 }' | sort -r | while read -r mount; do umount -l "$mount"; done
rm -rf "$data" "$run"
rmdir /var/lib/berth-nodes /run/berth-nodes 2>/dev/null
true
"#;

/// The nodes' DNS server: it answers every question with "no such name" (NXDOMAIN) at once. The
/// engines forward to it what their own DNS does not hold, such as the name of a member whose task
/// is gone while its node is lost: a real server says at once that there is no such name, where
/// one that cannot be reached (nothing outside this machine is addressed) makes each such lookup
/// wait 10 to 20 s, and with it every client and every RabbitMQ node that looks the member up.
const RESPONDER: &str = r#"
import socket
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("0.0.0.0", 53))
while True:
    query, peer = server.recvfrom(4096)
    if len(query) < 12:
        continue
    end = 12
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    end += 5
    # A response to the same opcode and recursion flag, recursion available, NXDOMAIN; the
    # question only.
    flags = bytes([0x80 | (query[2] & 0x79), 0x83])
    server.sendto(query[:2] + flags + query[4:6] + bytes(6) + query[12:end], peer)
"#;

/// A process that runs `teardown` once the test process is gone, however it ended.
fn watchdog(teardown: &Path, id: &str) -> Child {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; exec sh {teardown} {id}",
        pid = std::process::id(),
        teardown = teardown.display(),
    );
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("setsid runs")
}

/// Tears down the runs whose test process is gone (a run killed before its watchdog started).
fn reap_abandoned_runs() {
    let Ok(entries) = std::fs::read_dir(RUN) else {
        return;
    };
    for entry in entries.flatten() {
        let owner = std::fs::read_to_string(entry.path().join("owner")).unwrap_or_default();
        let alive = Path::new("/proc").join(owner.trim()).exists() && !owner.trim().is_empty();
        if !alive && entry.path().join("teardown.sh").exists() {
            let _ = Command::new("sh")
                .arg(entry.path().join("teardown.sh"))
                .arg(entry.file_name())
                .status();
        }
    }
}

/// What several engines need: root, iproute2, util-linux's nsenter and unshare, dockerd, and
/// python3 (the DNS responder).
fn prerequisites() -> Result<(), String> {
    if !stdout(&Command::new("id").arg("-u").output().unwrap())
        .trim()
        .eq("0")
    {
        return Err("namespaces and engines need root".into());
    }
    for tool in ["ip", "nsenter", "unshare", "setsid", "dockerd", "python3"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), stderr(&output).trim()))
    }
}

/// The pid of the first child of `parent` (unshare's child: the node's first process).
fn first_child(parent: u32) -> u32 {
    let children = format!("/proc/{parent}/task/{parent}/children");
    let mut found = 0;
    wait_until(
        "the node's first process starts",
        Duration::from_secs(10),
        || {
            found = std::fs::read_to_string(&children)
                .ok()
                .and_then(|c| c.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            found != 0
        },
    );
    found
}

/// Whether this kernel can carry IPsec ESP, which Swarm's encrypted overlay networks need: an
/// ESP security association with the AEAD Swarm uses, tried in a namespace of its own.
pub fn esp_works() -> bool {
    let netns = format!("bnesp{:05x}", std::process::id() % 0xfffff);
    if ip(&["netns", "add", &netns]).is_err() {
        return false;
    }
    let key = format!("0x{}", "11".repeat(20));
    let works = ip(&[
        "-n",
        &netns,
        "xfrm",
        "state",
        "add",
        "src",
        "192.0.2.1",
        "dst",
        "192.0.2.2",
        "proto",
        "esp",
        "spi",
        "0x100",
        "mode",
        "transport",
        "aead",
        "rfc4106(gcm(aes))",
        &key,
        "128",
    ])
    .is_ok();
    let _ = ip(&["netns", "del", &netns]);
    works
}
