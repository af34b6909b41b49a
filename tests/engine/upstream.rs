//! Real upstream software on the real engine: etcd (three members), Redis and PostgreSQL, in images
//! built here from Debian's packages and shaped like the upstream ones (`tests/images/`), running
//! the files their examples compile to, unmodified, on compose, docker run and swarm. Each scenario
//! uses the software's own client (etcdctl, redis-cli, psql) from a container on the deployment's
//! network:
//!
//! - formation: every member reports the full membership;
//! - a total crash: every member's process is killed at once from the host, the restart policy
//!   brings them back, the cluster forms again, and every acknowledged write is read back from
//!   every member;
//! - `down` and `up` (swarm: `stack rm` and `deploy`): the same accounting;
//! - on swarm, a rolling update: a changed parameter is deployed while a client writes; members are
//!   replaced one at a time and nothing acknowledged is lost.
//!
//! And the negative proofs: etcd's health check, claimed to pass alone, keeps the swarm members out
//! of each other's DNS forever; Redis without its volume loses every key on `down` and `up`.
//!
//! Without an engine (or with an engine already in a swarm) a test says SKIPPED, and fails under
//! `CI=true`. The examples' service names are fixed, so a test first makes sure that nothing of an
//! earlier run is left, and removes what it creates, also when it fails.

use crate::common::engine::*;
use crate::common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod day_two;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Compose,
    Docker,
    Swarm,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Compose => "compose",
            Backend::Docker => "docker",
            Backend::Swarm => "swarm",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Etcd,
    Redis,
    Postgres,
    Rabbitmq,
    Zookeeper,
}

/// One example and what a test needs to talk to it.
struct Software {
    kind: Kind,
    example: &'static str,
    members: usize,
    /// The name of the data volume in the example.
    volume: &'static str,
    /// The example's other volumes (ZooKeeper's transaction log).
    other_volumes: &'static [&'static str],
    /// Parameters for one host with two cores: no spread, small CPU reservations.
    sets: &'static [&'static str],
    /// The same, with one parameter changed: what the rolling update deploys.
    changed: &'static [&'static str],
    /// The image that runs the client, and its argv prefix.
    client_image: &'static str,
    user: Option<u32>,
}

const ETCD: Software = Software {
    kind: Kind::Etcd,
    example: "etcd",
    members: 3,
    volume: "data",
    other_volumes: &[],
    sets: &["spread=none", "cpu=0.5"],
    changed: &["spread=none", "cpu=0.4"],
    client_image: "etcd-client",
    user: None,
};

const REDIS: Software = Software {
    kind: Kind::Redis,
    example: "redis",
    members: 1,
    volume: "data",
    other_volumes: &[],
    sets: &["maxmemory=256mb"],
    changed: &["maxmemory=300mb"],
    client_image: "redis",
    user: Some(999),
};

const POSTGRES: Software = Software {
    kind: Kind::Postgres,
    example: "postgres",
    members: 1,
    volume: "data",
    other_volumes: &[],
    sets: &["cpu=1", "memory=1Gi"],
    changed: &["cpu=0.8", "memory=1Gi"],
    client_image: "postgres",
    user: Some(999),
};

/// Three RabbitMQ members whose cluster forms from the `rabbitmq.conf` berth writes and whose
/// Erlang cookie is a secret file; the rolling update changes that file.
const RABBITMQ: Software = Software {
    kind: Kind::Rabbitmq,
    example: "rabbitmq",
    members: 3,
    volume: "mnesia",
    other_volumes: &[],
    sets: &["spread=none", "cpu=0.5"],
    changed: &["spread=none", "cpu=0.5", "partition_handling=autoheal"],
    client_image: "amqp-client",
    user: Some(999),
};

/// Three ZooKeeper members whose ensemble changes by `reconfig` as the super user: the digest of
/// [`ZK_SUPER_PASSWORD`] is the example's parameter `super_digest`.
const ZOOKEEPER: Software = Software {
    kind: Kind::Zookeeper,
    example: "zookeeper",
    members: 3,
    volume: "data",
    other_volumes: &["datalog"],
    sets: &["super_digest=super:YSjihl7r+/3F7mqMeIpO4/h2vMI="],
    changed: &["super_digest=super:YSjihl7r+/3F7mqMeIpO4/h2vMI="],
    client_image: "zk-client",
    user: Some(1000),
};

/// The ZooKeeper super user's password the tests give the members and the plans' `reconfig`
/// (from the environment, as a user gives it to compose).
const ZK_SUPER_PASSWORD: &str = "berth-e2e-zk-super";

/// The Erlang cookie the tests give RabbitMQ: a file beside run.sh and compose.yaml, an external
/// Swarm secret on swarm.
const COOKIE: &str = "berth-e2e-erlang-cookie";

/// The quorum queue the RabbitMQ scenarios publish to.
const QUEUE: &str = "berth-acks";

/// The password the tests give PostgreSQL: from the environment on compose and docker run, from an
/// external Swarm secret on swarm.
const PASSWORD: &str = "berth-e2e-password";

/// The secrets a user gives compose and docker run (and their plans) in the environment.
const SECRETS: [(&str, &str); 2] = [
    ("POSTGRES_PASSWORD", PASSWORD),
    ("ZOO_SUPER_PASSWORD", ZK_SUPER_PASSWORD),
];

fn run(command: &mut Command) -> Output {
    let what = format!("{command:?}");
    run_ok(command, &what)
}

/// One example deployed with one backend, and the client container next to it.
struct Deployment {
    software: &'static Software,
    /// How many members run now (day two changes it).
    members: usize,
    backend: Backend,
    out: PathBuf,
    client: String,
}

impl Deployment {
    fn name(&self) -> &str {
        self.software.example
    }

    fn network(&self) -> String {
        format!("{}-{}", self.name(), self.backend.name())
    }

    /// The members' data volumes: swarm's have names of their own.
    /// Every member's volumes, the data volume first.
    fn volumes(&self) -> Vec<String> {
        let names = std::iter::once(&self.software.volume).chain(self.software.other_volumes);
        names
            .flat_map(|volume| {
                (0..self.members).map(move |i| match self.backend {
                    Backend::Swarm => format!("{}-swarm-{i}-{volume}", self.name()),
                    _ => format!("{}-{i}-{volume}", self.name()),
                })
            })
            .collect()
    }

    fn members(&self) -> Vec<String> {
        (0..self.members)
            .map(|i| format!("{}-{i}", self.name()))
            .collect()
    }

    /// Compiles the example, whose image must be the one `tests/images/<example>` builds.
    fn compile(dir: &Path, software: &Software, backend: Backend, sets: &[&str]) -> PathBuf {
        let spec = root().join(format!("examples/{}.toml", software.example));
        let out = compile_spec(dir, &spec, backend, sets);
        let tag = image_tag(software.example);
        let written: String = tree(&out.join(backend.name()))
            .into_iter()
            .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
            .collect();
        assert!(
            written.contains(&format!("image: {tag}")) || written.contains(&format!(" {tag} ")),
            "{}'s output does not run {tag}, the image tests/images builds",
            software.example
        );
        out
    }

    fn up(&self) {
        let out = &self.out;
        if self.software.kind == Kind::Rabbitmq && self.backend != Backend::Swarm {
            // The secret file the user puts beside the script or compose file.
            let cookie = out
                .join(self.backend.name())
                .join("secrets/rabbitmq/cookie");
            std::fs::create_dir_all(cookie.parent().unwrap()).unwrap();
            std::fs::write(&cookie, COOKIE).unwrap();
        }
        match self.backend {
            Backend::Compose => {
                run(Command::new("docker-compose")
                    .arg("-f")
                    .arg(out.join("compose/compose.yaml"))
                    .args(["up", "-d"])
                    .envs(SECRETS));
            }
            Backend::Docker => {
                run(Command::new("sh")
                    .arg(out.join("docker/run.sh"))
                    .envs(SECRETS));
            }
            Backend::Swarm => self.deploy(out),
        }
    }

    /// `deploy.sh`: the whole stack the first time, one member at a time afterwards.
    fn deploy(&self, out: &Path) {
        run(Command::new("sh").arg(out.join("swarm/deploy.sh")).args([
            self.name(),
            "--resolve-image",
            "never",
        ]));
    }

    /// Takes the deployment down the backend's own way, keeping the volumes.
    fn down(&self) {
        self.stop_client();
        match self.backend {
            Backend::Compose => {
                // No POSTGRES_PASSWORD here: `down` must work without the secret.
                run(Command::new("docker-compose")
                    .arg("-f")
                    .arg(self.out.join("compose/compose.yaml"))
                    .arg("down")
                    .env_remove("POSTGRES_PASSWORD"));
            }
            Backend::Docker => {
                run(Command::new("sh")
                    .arg(self.out.join("docker/down.sh"))
                    .env_remove("POSTGRES_PASSWORD"));
            }
            Backend::Swarm => {
                // `stack rm` removes the network while the tasks may still be stopping, and then
                // fails with "network ... is in use by task": it is asked again until all is gone.
                wait_until(
                    "the stack's containers and network are gone",
                    Duration::from_secs(120),
                    || {
                        let _ = docker(&["stack", "rm", self.name()]);
                        containers(self.name()).is_empty()
                            && !docker(&["network", "inspect", &self.network()])
                                .status
                                .success()
                    },
                );
            }
        }
        assert!(
            containers(self.name()).is_empty(),
            "members left after down"
        );
    }

    fn start_client(&self) {
        let image = image_tag(self.software.client_image);
        run(Command::new("docker").args([
            "run",
            "--detach",
            "--name",
            &self.client,
            "--network",
            &self.network(),
            "--entrypoint",
            "sleep",
            &image,
            "infinity",
        ]));
    }

    fn stop_client(&self) {
        let _ = docker(&["rm", "--force", "--volumes", &self.client]);
    }

    /// The software's own client, run in the client container.
    fn client(&self, argv: &[&str]) -> Output {
        let mut command = Command::new("docker");
        command.args(["exec", "--env", &format!("PGPASSWORD={PASSWORD}")]);
        command.arg(&self.client).args(argv);
        command.output().unwrap()
    }

    fn etcdctl(&self, endpoints: &[String], rest: &[&str]) -> Output {
        let endpoints = endpoints
            .iter()
            .map(|m| format!("http://{m}:2379"))
            .collect::<Vec<_>>()
            .join(",");
        let mut argv = vec!["etcdctl", "--dial-timeout=2s", "--command-timeout=3s"];
        let flag = format!("--endpoints={endpoints}");
        argv.push(&flag);
        argv.extend(rest);
        self.client(&argv)
    }

    fn psql(&self, member: &str, sql: &str) -> Output {
        self.client(&[
            "psql",
            "-h",
            member,
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            "-c",
            sql,
        ])
    }

    /// Every member answers and reports the full membership.
    fn formed(&self) -> bool {
        let members = self.members();
        members.iter().all(|member| match self.software.kind {
            Kind::Etcd => {
                let list = self.etcdctl(std::slice::from_ref(member), &["member", "list"]);
                let text = stdout(&list);
                list.status.success()
                    && text.lines().filter(|l| !l.trim().is_empty()).count() == members.len()
                    && members.iter().all(|m| {
                        text.lines()
                            .any(|l| l.contains(", started, ") && l.contains(&format!(", {m}, ")))
                    })
            }
            Kind::Redis => {
                let info = self.client(&["redis-cli", "-h", member, "info", "replication"]);
                stdout(&info).contains("role:master")
            }
            Kind::Postgres => {
                let ready = self.psql(member, "select not pg_is_in_recovery()");
                stdout(&ready).trim() == "t"
            }
            Kind::Rabbitmq => self.rabbitmq_running_nodes(member) == self.members,
            Kind::Zookeeper => {
                // Leading or following, with every member and no other in its configuration.
                let servers = self.zk(&["servers", &format!("{member}:2181")]);
                let text = stdout(&servers);
                let mut lines = text.lines();
                let mode = lines.next().unwrap_or_default();
                let ids: Vec<&str> = lines.collect();
                let expected: Vec<String> = (1..=members.len()).map(|i| i.to_string()).collect();
                servers.status.success()
                    && (mode == "leader" || mode == "follower")
                    && ids == expected
            }
        })
    }

    /// How many nodes `rabbitmqctl cluster_status` on `member` reports running (0 if it fails).
    fn rabbitmq_running_nodes(&self, member: &str) -> usize {
        let ordinal = member.rsplit('-').next().unwrap();
        let found = docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=berth.service={}", self.name()),
            "--filter",
            &format!("label=berth.member={ordinal}"),
        ]);
        let Some(id) = stdout(&found).lines().next().map(str::to_string) else {
            return 0;
        };
        let status = docker(&[
            "exec",
            &id,
            "rabbitmqctl",
            "cluster_status",
            "--formatter",
            "json",
        ]);
        serde_json::from_str::<serde_json::Value>(&stdout(&status))
            .ok()
            .and_then(|s| s["running_nodes"].as_array().map(Vec::len))
            .unwrap_or(0)
    }

    /// How many members of the test's quorum queue have its log (`rabbitmq-queues quorum_status`).
    fn quorum_members_in_sync(&self) -> usize {
        let status = docker(&[
            "exec",
            &containers(self.name())[0],
            "rabbitmq-queues",
            "quorum_status",
            QUEUE,
            "--formatter",
            "json",
        ]);
        let members: Vec<serde_json::Value> =
            serde_json::from_str(&stdout(&status)).unwrap_or_default();
        let has_leader = members.iter().any(|m| m["Raft State"] == "leader");
        let in_sync = members
            .iter()
            .filter(|m| m["Commit Index"].as_u64().is_some_and(|i| i > 0))
            .count();
        if has_leader { in_sync } else { 0 }
    }

    /// The test's AMQP client; a call that a broker without a queue leader would block is cut
    /// off after 30 s.
    /// What each member's server says of its cluster, for a failure's message (RabbitMQ: the
    /// cluster status and the queue's leader and members as each node sees them).
    fn state(&self) -> String {
        if self.software.kind != Kind::Rabbitmq {
            return String::new();
        }
        let mut said = String::new();
        for id in containers(self.name()) {
            for command in [
                vec!["rabbitmqctl", "-q", "cluster_status"],
                vec![
                    "rabbitmqctl",
                    "-q",
                    "list_queues",
                    "name",
                    "messages",
                    "leader",
                    "members",
                ],
            ] {
                let mut args = vec!["exec", id.as_str()];
                args.extend(command);
                let output = docker(&args);
                said.push_str(&format!("{id}: {}{}\n", stdout(&output), stderr(&output)));
            }
        }
        said
    }

    /// Every member's client address, as ZooKeeper's clients take them.
    fn zk_hosts(&self) -> String {
        let hosts: Vec<String> = self.members().iter().map(|m| format!("{m}:2181")).collect();
        hosts.join(",")
    }

    /// The test's ZooKeeper client (`tests/images/zk-client/zk.py`).
    fn zk(&self, argv: &[&str]) -> Output {
        let mut full = vec!["timeout", "30", "python3", "/usr/local/bin/zk.py"];
        full.extend(argv);
        self.client(&full)
    }

    fn amqp(&self, argv: &[&str]) -> Output {
        let mut full = vec!["timeout", "30", "python3", "/usr/local/bin/amqp.py"];
        full.extend(argv);
        self.client(&full)
    }

    fn wait_formed(&self) -> Duration {
        let start = Instant::now();
        wait_until(
            &format!("{} on {} formed", self.name(), self.backend.name()),
            Duration::from_secs(300),
            || self.formed(),
        );
        start.elapsed()
    }

    fn prepare(&self) {
        if self.software.kind == Kind::Rabbitmq {
            // The queue exists on every member before the first message: a total crash within a
            // second of its creation is another test (RabbitMQ then never elects its leader).
            let members = self.members();
            let declared = self.amqp(&["publish", &members[0], QUEUE, "0", "0"]);
            assert!(declared.status.success(), "{}", stderr(&declared));
            wait_until(
                "the quorum queue is on every member",
                Duration::from_secs(60),
                || self.quorum_members_in_sync() == self.members,
            );
        }
        if self.software.kind == Kind::Postgres {
            let made = self.psql(
                &self.members()[0],
                "create table if not exists acks (n integer primary key)",
            );
            assert!(made.status.success(), "{}", stderr(&made));
        }
    }

    /// One write through the client; true when the software acknowledged it.
    fn write(&self, n: u32) -> bool {
        let members = self.members();
        match self.software.kind {
            Kind::Etcd => {
                let key = format!("berth/{n:06}");
                self.etcdctl(&members, &["put", &key, "acknowledged"])
                    .status
                    .success()
            }
            Kind::Redis => {
                let key = format!("berth:{n:06}");
                stdout(&self.client(&["redis-cli", "-h", &members[0], "set", &key, "acknowledged"]))
                    .trim()
                    == "OK"
            }
            Kind::Postgres => self
                .psql(&members[0], &format!("insert into acks values ({n})"))
                .status
                .success(),
            // Published with a publisher confirm through the first member that takes it, one
            // connection attempt each: a member being replaced costs no retries.
            Kind::Rabbitmq => members.iter().any(|member| {
                let publish = ["publish", member, QUEUE, &n.to_string(), "1", "1"];
                stdout(&self.amqp(&publish)).trim() == "1"
            }),
            Kind::Zookeeper => {
                stdout(&self.zk(&["write", &self.zk_hosts(), &n.to_string()])).trim()
                    == n.to_string()
            }
        }
    }

    /// What one member holds, read through it (for RabbitMQ, up to the message `newest`, the
    /// newest one acknowledged: a read bounded by the queue's count can stop short).
    fn read(&self, member: &str, newest: u32) -> Option<BTreeSet<u32>> {
        let (output, prefix) = match self.software.kind {
            Kind::Etcd => (
                self.etcdctl(
                    &[member.to_string()],
                    &[
                        "get",
                        "berth/",
                        "--prefix",
                        "--keys-only",
                        "--consistency=s",
                    ],
                ),
                "berth/",
            ),
            Kind::Redis => (
                self.client(&["redis-cli", "-h", member, "--scan", "--pattern", "berth:*"]),
                "berth:",
            ),
            Kind::Postgres => (self.psql(member, "select n from acks"), ""),
            Kind::Rabbitmq => (self.amqp(&["read", member, QUEUE, &newest.to_string()]), ""),
            Kind::Zookeeper => (self.zk(&["read", &format!("{member}:2181")]), ""),
        };
        if !output.status.success() {
            return None;
        }
        Some(
            stdout(&output)
                .lines()
                .filter_map(|l| l.trim().strip_prefix(prefix)?.parse().ok())
                .collect(),
        )
    }

    fn write_many(&self, from: u32, count: u32, acked: &mut BTreeSet<u32>) {
        if self.software.kind == Kind::Rabbitmq {
            // One connection publishes them all; the broker confirms a prefix of them.
            let (first, count) = (from.to_string(), count.to_string());
            let confirmed: u32 =
                stdout(&self.amqp(&["publish", &self.members()[0], QUEUE, &first, &count]))
                    .trim()
                    .parse()
                    .unwrap_or(0);
            acked.extend(from..from + confirmed);
        } else if self.software.kind == Kind::Zookeeper {
            // One connection creates them all, one after the other, until one fails.
            let (first, count) = (from.to_string(), count.to_string());
            let written = self.zk(&["write", &self.zk_hosts(), &first, &count]);
            acked.extend(
                stdout(&written)
                    .lines()
                    .filter_map(|l| l.trim().parse::<u32>().ok()),
            );
        } else {
            for n in from..from + count {
                if self.write(n) {
                    acked.insert(n);
                }
            }
        }
        assert!(!acked.is_empty(), "no write was acknowledged");
    }

    /// Every member holds every acknowledged write (a member that just rejoined may still be
    /// catching up, so each gets a while).
    fn assert_kept(&self, acked: &BTreeSet<u32>, when: &str) {
        let newest = acked.last().copied().unwrap_or(0);
        for member in self.members() {
            let mut held = None;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                held = self.read(&member, newest);
                if held.as_ref().is_some_and(|h| h.is_superset(acked)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            let held = held.unwrap_or_default();
            let lost: Vec<_> = acked.difference(&held).collect();
            assert!(
                lost.is_empty(),
                "{when}: {member} lost {} of {} acknowledged writes: {lost:?}\n{}",
                lost.len(),
                acked.len(),
                self.state()
            );
        }
    }

    /// The server process runs as the spec's `user`, read from the host.
    fn assert_user(&self) {
        let Some(user) = self.software.user else {
            return;
        };
        for id in containers(self.name()) {
            let pid = stdout(&docker(&["inspect", "--format", "{{.State.Pid}}", &id]));
            let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next())
                .unwrap()
                .to_string();
            assert_eq!(uid, user.to_string(), "the member runs as uid {uid}");
        }
    }

    /// Kills every member's process at once and waits until the backend brought each back.
    fn crash_all(&self) {
        let before = containers(self.name());
        assert_eq!(before.len(), self.members);
        crash(&before);
        wait_until(
            "every member is back",
            Duration::from_secs(120),
            || match self.backend {
                // Swarm replaces a task's container; the others restart the same one.
                Backend::Swarm => {
                    let now = containers(self.name());
                    now.len() == before.len() && now.iter().all(|c| !before.contains(c))
                }
                _ => before.iter().all(|c| {
                    let state = stdout(&docker(&[
                        "inspect",
                        "--format",
                        "{{.State.Running}} {{.RestartCount}}",
                        c,
                    ]));
                    state.starts_with("true") && !state.trim().ends_with(" 0")
                }),
            },
        );
    }

    /// Removes everything, volumes and secret included: the test's own cleanup.
    fn cleanup_commands(&self) -> Vec<Vec<String>> {
        let mut commands = Vec::new();
        for volume in self.volumes() {
            commands.push(cmd(&["docker", "volume", "rm", "--force", &volume]));
        }
        commands.push(cmd(&[
            "docker",
            "secret",
            "rm",
            "postgres-credentials.password",
        ]));
        commands.push(cmd(&["docker", "secret", "rm", "rabbitmq.cookie"]));
        match self.backend {
            Backend::Compose => commands.push(vec![
                "docker-compose".into(),
                "-f".into(),
                self.out.join("compose/compose.yaml").display().to_string(),
                "down".into(),
            ]),
            Backend::Docker => commands.push(vec![
                "sh".into(),
                self.out.join("docker/down.sh").display().to_string(),
            ]),
            Backend::Swarm => {
                // Swarm removes the containers a moment after `stack rm`; the volumes go after,
                // and a network that the first `stack rm` found still in use goes with a second.
                commands.push(cmd(&["docker", "stack", "rm", self.name()]));
                commands.push(cmd(&["sh", "-c", &format!(
                    "for i in $(seq 60); do [ -z \"$(docker ps -aq --filter label=berth.service={})\" ] && exit 0; sleep 1; done",
                    self.name()
                )]));
                commands.push(cmd(&["docker", "stack", "rm", self.name()]));
            }
        }
        commands.push(cmd(&["docker", "rm", "--force", "--volumes", &self.client]));
        if matches!(self.software.kind, Kind::Rabbitmq | Kind::Zookeeper) {
            // The image declares a `VOLUME` the example mounts nothing at (RabbitMQ's
            // /var/lib/rabbitmq above its data volume, ZooKeeper's /logs): each container also
            // had an anonymous volume, which `down` leaves. (The commands run
            // last to first: this one after the containers are gone.)
            commands.insert(0, cmd(&[
                "sh",
                "-c",
                "docker volume ls -qf dangling=true | grep -E '^[0-9a-f]{64}$' | xargs -r docker volume rm",
            ]));
        }
        commands
    }
}

fn compile_spec(dir: &Path, spec: &Path, backend: Backend, sets: &[&str]) -> PathBuf {
    let out = dir.join(format!("out-{}", sets.join("-")));
    let mut args = vec![
        "compile",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        backend.name(),
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    berth_ok(&args, dir);
    out
}

/// Nothing of an earlier run may be left: the examples' names are fixed.
fn assert_clean(software: &Software) {
    let name = software.example;
    let left = stdout(&docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=berth.service={name}"),
    ]));
    let volumes = stdout(&docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name=^{name}-"),
    ]));
    assert!(
        left.trim().is_empty() && volumes.trim().is_empty(),
        "containers or volumes of `{name}` are left on this engine (from an earlier run?): {left} {volumes}; remove them first"
    );
}

fn scenario(software: &'static Software, backend: Backend) {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let swarm = match backend {
        Backend::Swarm => match Swarm::init() {
            Some(swarm) => Some(swarm),
            None => return,
        },
        _ => None,
    };
    images();
    assert_clean(software);
    let dir = tempfile::tempdir().unwrap();
    let out = Deployment::compile(dir.path(), software, backend, software.sets);
    let deployment = Deployment {
        software,
        members: software.members,
        backend,
        out,
        client: format!("berth-e2e-client-{}", unique()),
    };
    let _cleanup = Cleanup(deployment.cleanup_commands());
    if let Some(swarm) = &swarm {
        let mut prepare = Command::new("sh");
        prepare
            .arg(deployment.out.join("swarm/prepare-nodes.sh"))
            .arg(&swarm.node);
        run(&mut prepare);
        if software.kind == Kind::Postgres {
            run(Command::new("sh").args([
                "-c",
                &format!(
                    "printf %s {PASSWORD} | docker secret create postgres-credentials.password -"
                ),
            ]));
        }
        if software.kind == Kind::Rabbitmq {
            run(Command::new("sh").args([
                "-c",
                &format!("printf %s {COOKIE} | docker secret create rabbitmq.cookie -"),
            ]));
        }
    }
    let timer = Instant::now();
    deployment.up();
    deployment.start_client();
    let formed = deployment.wait_formed();
    eprintln!("{} on {backend:?}: formed in {formed:?}", software.example);
    deployment.assert_user();
    deployment.prepare();
    let mut acked = BTreeSet::new();
    deployment.write_many(0, 50, &mut acked);

    let crashed = Instant::now();
    deployment.crash_all();
    deployment.wait_formed();
    deployment.assert_kept(&acked, "after every member was killed at once");
    eprintln!(
        "{} on {backend:?}: back from a total crash in {:?}",
        software.example,
        crashed.elapsed()
    );
    deployment.write_many(100, 50, &mut acked);

    let cycled = Instant::now();
    deployment.down();
    deployment.up();
    deployment.start_client();
    deployment.wait_formed();
    deployment.assert_kept(&acked, "after down and up");
    eprintln!(
        "{} on {backend:?}: down and up in {:?}",
        software.example,
        cycled.elapsed()
    );

    if backend == Backend::Swarm {
        rolling_update(&deployment, dir.path(), &mut acked);
    }
    eprintln!(
        "{} on {backend:?}: {} acknowledged writes kept; scenario took {:?}",
        software.example,
        acked.len(),
        timer.elapsed()
    );
}

/// Deploys a changed parameter while a client writes: every member is replaced, nothing
/// acknowledged is lost, and the longest gap between acknowledged writes and how many members
/// were down at once are measured (from the containers' own start and finish times).
fn rolling_update(deployment: &Deployment, dir: &Path, acked: &mut BTreeSet<u32>) {
    let software = deployment.software;
    let changed = Deployment::compile(dir, software, Backend::Swarm, software.changed);
    let before = containers(deployment.name());
    let started = Instant::now();
    let (mut last_ack, mut longest_gap, mut n) = (Instant::now(), Duration::ZERO, 1000);
    std::thread::scope(|scope| {
        let update = scope.spawn(|| deployment.deploy(&changed));
        while !update.is_finished() {
            if deployment.write(n) {
                acked.insert(n);
                longest_gap = longest_gap.max(last_ack.elapsed());
                last_ack = Instant::now();
            }
            n += 1;
        }
        if let Err(panic) = update.join() {
            std::panic::resume_unwind(panic);
        }
    });
    // The writes stopped with deploy.sh: the time since the last one is part of the outage,
    // the time the checks below take is not.
    longest_gap = longest_gap.max(last_ack.elapsed());
    let after = containers(deployment.name());
    assert!(
        after.len() == software.members && after.iter().all(|c| !before.contains(c)),
        "deploy.sh finished but not every member was replaced"
    );
    deployment.wait_formed();
    let down_at_once = most_down_at_once(&before, &after);
    eprintln!(
        "{} on swarm: rolling update in {:?}; at most {down_at_once} of {} members down at once; longest write outage {longest_gap:?}",
        software.example,
        started.elapsed(),
        software.members
    );
    assert_eq!(down_at_once, 1, "members are replaced one at a time");
    if software.members > 1 {
        assert!(
            longest_gap < Duration::from_secs(10),
            "a majority kept serving, so no write waited {longest_gap:?}"
        );
    }
    deployment.assert_kept(acked, "after the rolling update");
}

/// Each member is down from its old container's finish to its new container's start; the most
/// intervals that overlap at one moment.
fn most_down_at_once(old: &[String], new: &[String]) -> usize {
    let member_time = |id: &String, field: &str| {
        let text = stdout(&docker(&[
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"berth.member\"}}}} {{{{.State.{field}}}}}"),
            id,
        ]));
        let (member, time) = text.trim().split_once(' ').unwrap();
        (member.to_string(), epoch_seconds(time))
    };
    let finished: Vec<_> = old.iter().map(|c| member_time(c, "FinishedAt")).collect();
    let intervals: Vec<(f64, f64)> = new
        .iter()
        .map(|c| member_time(c, "StartedAt"))
        .filter_map(|(member, start)| {
            let (_, stop) = finished.iter().find(|(m, _)| *m == member)?;
            Some((*stop, start))
        })
        .collect();
    most_overlapping(&intervals)
}

/// One test per service and backend.
macro_rules! scenarios {
    ($($test:ident: $software:ident on $backend:ident;)*) => {
        $(
            #[test]
            fn $test() {
                scenario(&$software, Backend::$backend);
            }
        )*
    };
}

scenarios! {
    etcd_on_compose: ETCD on Compose;
    etcd_on_docker_run: ETCD on Docker;
    etcd_on_swarm: ETCD on Swarm;
    redis_on_compose: REDIS on Compose;
    redis_on_docker_run: REDIS on Docker;
    redis_on_swarm: REDIS on Swarm;
    postgres_on_compose: POSTGRES on Compose;
    postgres_on_docker_run: POSTGRES on Docker;
    postgres_on_swarm: POSTGRES on Swarm;
    rabbitmq_on_compose: RABBITMQ on Compose;
    rabbitmq_on_docker_run: RABBITMQ on Docker;
    rabbitmq_on_swarm: RABBITMQ on Swarm;
}

/// A copy of an example with `edit` applied, for the negative proofs.
fn edited_example(dir: &Path, example: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let original =
        std::fs::read_to_string(root().join(format!("examples/{example}.toml"))).unwrap();
    let edited = edit(original.clone());
    assert_ne!(edited, original, "the edit changed nothing");
    write(dir, &format!("{example}.toml"), &edited)
}

/// The negative proof of `swarm/health-gates-discovery`: the etcd spec claims that its health
/// check passes on a member alone (it does not: etcd answers only once its cluster formed), so
/// berth gives Swarm the check, Swarm keeps every task out of DNS until it is healthy, and the
/// members never find each other.
#[test]
fn etcd_with_a_health_check_that_gates_swarm_dns_never_forms() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let Some(swarm) = Swarm::init() else {
        return;
    };
    images();
    assert_clean(&ETCD);
    let dir = tempfile::tempdir().unwrap();
    let spec = edited_example(dir.path(), "etcd", |s| {
        s.replace("needs_peers = true", "needs_peers = false")
    });
    let out = compile_spec(dir.path(), &spec, Backend::Swarm, ETCD.sets);
    let stack = std::fs::read_to_string(out.join("swarm/stack.yaml")).unwrap();
    assert!(
        stack.contains("- /usr/local/bin/etcdctl"),
        "the check is given to Swarm"
    );
    let deployment = Deployment {
        software: &ETCD,
        members: ETCD.members,
        backend: Backend::Swarm,
        out,
        client: format!("berth-e2e-client-{}", unique()),
    };
    let _cleanup = Cleanup(deployment.cleanup_commands());
    run(Command::new("sh")
        .arg(deployment.out.join("swarm/prepare-nodes.sh"))
        .arg(&swarm.node));
    deployment.up();
    deployment.start_client();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        assert!(
            !deployment.formed(),
            "the cluster formed although its check gates DNS"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    for member in deployment.members() {
        let lookup = deployment.client(&["getent", "hosts", &member]);
        assert!(
            !lookup.status.success(),
            "{member} is in DNS: {}",
            stdout(&lookup)
        );
    }
    let healthy = containers("etcd")
        .iter()
        .filter(|c| {
            stdout(&docker(&[
                "inspect",
                "--format",
                "{{.State.Health.Status}}",
                c,
            ]))
            .trim()
                == "healthy"
        })
        .count();
    assert_eq!(healthy, 0, "no member can become healthy");
}

/// The negative proof of `compose/no-persistent-volume`, with real Redis: without its volume, a
/// plain `down` and `up` loses every acknowledged key.
#[test]
fn redis_without_its_volume_loses_every_key() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    images();
    assert_clean(&REDIS);
    let dir = tempfile::tempdir().unwrap();
    let spec = edited_example(dir.path(), "redis", |s| {
        s.replace(
            "[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"10Gi\"\nclass = \"fast-ssd\"\n",
            "",
        ) + "\n[[allow]]\nrule = \"compose/no-persistent-volume\"\nreason = \"the negative proof\"\n"
    });
    let refused = berth(
        &["check", spec.to_str().unwrap(), "--backend", "docker"],
        dir.path(),
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "without the allow the rule refuses"
    );
    let out = compile_spec(dir.path(), &spec, Backend::Compose, REDIS.sets);
    let deployment = Deployment {
        software: &REDIS,
        members: REDIS.members,
        backend: Backend::Compose,
        out,
        client: format!("berth-e2e-client-{}", unique()),
    };
    let mut cleanup = deployment.cleanup_commands();
    // Without a volume of its own, the image's VOLUME is anonymous: `down -v` is the test's cleanup.
    cleanup.push(vec![
        "docker-compose".into(),
        "-f".into(),
        deployment
            .out
            .join("compose/compose.yaml")
            .display()
            .to_string(),
        "down".into(),
        "-v".into(),
    ]);
    let _cleanup = Cleanup(cleanup);
    deployment.up();
    deployment.start_client();
    deployment.wait_formed();
    let mut acked = BTreeSet::new();
    deployment.write_many(0, 20, &mut acked);
    // `down` leaves the first container's anonymous volume behind: the test removes it.
    let anonymous: Vec<String> = containers("redis")
        .iter()
        .flat_map(|c| {
            let names = docker(&[
                "inspect",
                "--format",
                "{{range .Mounts}}{{.Name}} {{end}}",
                c,
            ]);
            stdout(&names)
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let _anonymous = Cleanup(
        anonymous
            .iter()
            .map(|v| cmd(&["docker", "volume", "rm", "--force", v]))
            .collect(),
    );
    deployment.down();
    deployment.up();
    deployment.start_client();
    deployment.wait_formed();
    let held = deployment.read("redis-0", 0).unwrap();
    assert!(held.is_empty(), "keys survived without a volume: {held:?}");
}
