//! Day two on the engine: the plans `berth plan` writes, run exactly as written (`plan.sh`), take
//! a running etcd cluster, a RabbitMQ cluster with a quorum queue, and a ZooKeeper ensemble, on
//! compose from 3 members to 5 and back to 3 (etcd and RabbitMQ then through an image upgrade,
//! etcd also through a data move and the loss of a member with its volume), while a client
//! writes; every acknowledged write is then read back from every member.
//!
//! (On a swarm of five member nodes and a spare: `multinode/day_two.rs`.)
//!
//! And the negative proofs: the same growth by changing `replicas` and running `up` never gets
//! the new members into the cluster, and the same shrinking to one member by `up` removes two of
//! three members at once, after which the cluster takes no write.

use super::*;

#[test]
fn etcd_on_compose_grows_shrinks_and_upgrades_by_plan() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut deployment, _cleanup, mut acked, mut next) = grow_shrink_upgrade(&ETCD, dir.path());
    let version = format!("version={}", upgraded_version(&ETCD));
    data_moves_to_a_new_volume(&mut deployment, dir.path(), &version, &mut acked, &mut next);
    a_lost_member_joins_again(
        &mut deployment,
        dir.path(),
        &[&version],
        &mut acked,
        &mut next,
    );
    new_members_started_as_founders_never_join(&deployment, dir.path(), &version);
    two_of_three_removed_at_once_lose_the_majority(&deployment, dir.path(), &version, next);
}

/// RabbitMQ with a quorum queue: its replicas follow the members (`rabbitmq-queues grow` and
/// `shrink` in the example's `[membership]`), and every confirmed message is read from every
/// member at each stage.
#[test]
fn rabbitmq_on_compose_grows_shrinks_and_upgrades_by_plan() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    grow_shrink_upgrade(&RABBITMQ, dir.path());
}

/// ZooKeeper's ensemble through `reconfig` (the example's `[membership]`, as the super user): 3 →
/// 5 → 3 members, every acknowledged znode read from every member at each stage.
#[test]
fn zookeeper_on_compose_grows_and_shrinks_by_plan() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    grow_and_shrink(&ZOOKEEPER, Backend::Compose, dir.path());
}

/// The release the upgrade deploys: the image tests/images builds, tagged as another release
/// (the same binary: what is proven is the procedure, one member at a time with a check between).
fn upgraded_version(software: &Software) -> String {
    let tag = image_tag(software.example);
    format!("{}-berth-upgrade", tag.rsplit(':').next().unwrap())
}

/// Deploys the example with 3 members, then plans and runs 3 → 5, 5 → 3 and an image upgrade,
/// each while the client writes, and reads every acknowledged write back from every member after
/// each. Returns the deployment (its cleanup with it), the writes acknowledged and the next
/// number to write.
fn grow_shrink_upgrade(
    software: &'static Software,
    dir: &Path,
) -> (Deployment, Cleanup, BTreeSet<u32>, u32) {
    let (mut deployment, cleanup, mut acked, mut next) =
        grow_and_shrink(software, Backend::Compose, dir);
    upgrade(&mut deployment, dir, &mut acked, &mut next);
    (deployment, cleanup, acked, next)
}

/// etcd on docker run: 3 → 5 → 3 by the plans of the docker backend, then a member lost with its
/// volume and replaced.
#[test]
fn etcd_on_docker_run_grows_and_shrinks_by_plan() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut deployment, _cleanup, mut acked, mut next) =
        grow_and_shrink(&ETCD, Backend::Docker, dir.path());
    a_lost_member_joins_again(&mut deployment, dir.path(), &[], &mut acked, &mut next);
}

/// Deploys the example with 3 members on `backend`, then plans and runs 3 → 5 and 5 → 3, each
/// while the client writes, and reads every acknowledged write back from every member after each.
fn grow_and_shrink(
    software: &'static Software,
    backend: Backend,
    dir: &Path,
) -> (Deployment, Cleanup, BTreeSet<u32>, u32) {
    images();
    assert_clean(software);
    let name = software.example;
    let out = Deployment::compile(dir, software, backend, software.sets);
    let mut deployment = Deployment {
        software,
        members: software.members,
        backend,
        out,
        client: format!("berth-e2e-client-{}", unique()),
    };
    let image = image_tag(name);
    let upgraded = format!(
        "{}:{}",
        image.rsplit_once(':').unwrap().0,
        upgraded_version(software)
    );
    let mut cleanup = deployment.cleanup_commands();
    cleanup.extend([
        cmd(&["docker", "rmi", &upgraded]),
        cmd(&["sh", "-c", &format!(
            // The containers first: a volume in use is not removed, even with `--force`.
            "docker rm --force --volumes $(docker ps -aq --filter label=berth.service={name}); docker volume ls -q --filter name=^{name}-[34]- | xargs -r docker volume rm --force",
        )]),
    ]);
    let cleanup = Cleanup(cleanup);
    deployment.up();
    deployment.start_client();
    deployment.wait_formed();
    deployment.prepare();
    let mut acked = BTreeSet::new();
    deployment.write_many(0, 50, &mut acked);
    let mut next = 1000;

    let five = planned(dir, &deployment, &["replicas=5"], "five");
    run_plan(&deployment, &five, &mut acked, &mut next, "3 → 5");
    deployment.members = 5;
    deployment.out = five;
    deployment.wait_formed();
    deployment.assert_replicated();
    deployment.assert_kept(&acked, "after 3 → 5 members by plan");

    let three = planned(dir, &deployment, &[], "three");
    // The client writes through the members that stay.
    deployment.members = 3;
    run_plan(&deployment, &three, &mut acked, &mut next, "5 → 3");
    deployment.out = three;
    deployment.wait_formed();
    deployment.assert_replicated();
    deployment.assert_kept(&acked, "after 5 → 3 members by plan");
    for gone in 3..5 {
        let left = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=berth.service={name}"),
            "--filter",
            &format!("label=berth.member={gone}"),
        ]);
        assert!(
            stdout(&left).trim().is_empty(),
            "{name}-{gone}'s container is left"
        );
        for volume in std::iter::once(&software.volume).chain(software.other_volumes) {
            let volume = format!("{name}-{gone}-{volume}");
            let left = docker(&["volume", "inspect", &volume]);
            assert!(!left.status.success(), "{volume} is left");
        }
    }
    (deployment, cleanup, acked, next)
}

/// Plans and runs an image upgrade of every member while the client writes; every member runs
/// the new image, and every acknowledged write is read back.
fn upgrade(deployment: &mut Deployment, dir: &Path, acked: &mut BTreeSet<u32>, next: &mut u32) {
    let software = deployment.software;
    let name = software.example;
    let image = image_tag(name);
    let upgraded = format!(
        "{}:{}",
        image.rsplit_once(':').unwrap().0,
        upgraded_version(software)
    );
    run_ok(
        Command::new("docker").args(["tag", &image, &upgraded]),
        "docker tag",
    );
    let version = format!("version={}", upgraded_version(software));
    let upgrade = planned(dir, deployment, &[&version], "upgraded");
    run_plan(deployment, &upgrade, acked, next, "the image upgrade");
    deployment.out = upgrade;
    deployment.wait_formed();
    for id in containers(name) {
        let running = stdout(&docker(&["inspect", "--format", "{{.Config.Image}}", &id]));
        assert_eq!(
            running.trim(),
            upgraded,
            "a member still runs the old image"
        );
    }
    deployment.assert_kept(acked, "after the image upgrade by plan");
}

impl Deployment {
    /// RabbitMQ's quorum queue has a replica with its log on every member.
    fn assert_replicated(&self) {
        if self.software.kind == Kind::Rabbitmq {
            wait_until_or_explain(
                "the quorum queue has a replica on every member",
                Duration::from_secs(120),
                || self.quorum_members_in_sync() == self.members,
                || self.state(),
            );
        }
    }
}

/// `berth plan` from the deployment to its example with `sets` (and the scenario's own), into a
/// new directory, with the secret file the user provides beside compose.yaml.
fn planned(dir: &Path, deployment: &Deployment, sets: &[&str], name: &str) -> PathBuf {
    planned_with(dir, deployment, sets, &[], name)
}

/// [`planned`], with more arguments.
fn planned_with(
    dir: &Path,
    deployment: &Deployment,
    sets: &[&str],
    more: &[&str],
    name: &str,
) -> PathBuf {
    let out = dir.join(format!("plan-{name}"));
    let spec = root().join(format!("examples/{}.toml", deployment.name()));
    let against = &deployment.out;
    let mut args = vec![
        "plan",
        spec.to_str().unwrap(),
        "--backend",
        deployment.backend.name(),
        "--against",
        against.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    for set in deployment.software.sets.iter().chain(sets) {
        args.extend(["--set", set]);
    }
    args.extend(more);
    berth_ok(&args, dir);
    if deployment.software.kind == Kind::Rabbitmq {
        let cookie = out
            .join(deployment.backend.name())
            .join("secrets/rabbitmq/cookie");
        std::fs::create_dir_all(cookie.parent().unwrap()).unwrap();
        std::fs::write(&cookie, COOKIE).unwrap();
    }
    out
}

/// Runs `plan.sh` as written while the client writes through the members that stay; the plan must
/// succeed, and writes must be acknowledged while it runs.
fn run_plan(
    deployment: &Deployment,
    out: &Path,
    acked: &mut BTreeSet<u32>,
    next: &mut u32,
    what: &str,
) {
    let backend = deployment.backend.name();
    let script = out.join(backend).join("plan.sh");
    let started = Instant::now();
    let before = acked.len();
    let (mut last_ack, mut longest_gap) = (Instant::now(), Duration::ZERO);
    let output = std::thread::scope(|scope| {
        let plan = scope.spawn(|| {
            Command::new("sh")
                .arg(&script)
                .envs(SECRETS)
                .output()
                .unwrap()
        });
        while !plan.is_finished() {
            if deployment.write(*next) {
                acked.insert(*next);
                longest_gap = longest_gap.max(last_ack.elapsed());
                last_ack = Instant::now();
            }
            *next += 1;
        }
        plan.join().unwrap()
    });
    assert!(
        output.status.success(),
        "{what}: plan.sh failed\n{}\n{}\n{}",
        stdout(&output),
        stderr(&output),
        deployment.state()
    );
    let during = acked.len() - before;
    eprintln!(
        "{} on {backend}: {what} by plan in {:?}; {during} writes acknowledged meanwhile, longest wait {longest_gap:?}",
        deployment.name(),
        started.elapsed()
    );
    assert!(
        during > 0,
        "{what}: no write was acknowledged while the plan ran"
    );
}

/// `--replace etcd-1`: the member leaves, its volume goes, and a new member of that name joins on
/// a new volume and catches up from the others, while the client writes.
fn data_moves_to_a_new_volume(
    deployment: &mut Deployment,
    dir: &Path,
    version: &str,
    acked: &mut BTreeSet<u32>,
    next: &mut u32,
) {
    let volume_created = || {
        let inspect = [
            "volume",
            "inspect",
            "--format",
            "{{.CreatedAt}}",
            "etcd-1-data",
        ];
        stdout(&docker(&inspect))
    };
    let old_volume = volume_created();
    let replace = ["--replace", "etcd-1"];
    let moved = planned_with(dir, deployment, &[version], &replace, "moved");
    run_plan(
        deployment,
        &moved,
        acked,
        next,
        "etcd-1 moved to a new volume",
    );
    deployment.out = moved;
    deployment.wait_formed();
    assert_ne!(
        volume_created(),
        old_volume,
        "etcd-1 still has its old volume"
    );
    deployment.assert_kept(acked, "after etcd-1 moved to a new volume by plan");
}

/// etcd-2 is lost with its disk (its container and its volume removed by force): `--lost etcd-2`
/// has the two others remove it from the cluster, and it joins again on a new volume and catches
/// up, while the client writes.
fn a_lost_member_joins_again(
    deployment: &mut Deployment,
    dir: &Path,
    sets: &[&str],
    acked: &mut BTreeSet<u32>,
    next: &mut u32,
) {
    let (service, member) = ("label=berth.service=etcd", "label=berth.member=2");
    let id = stdout(&docker(&[
        "ps", "-aq", "--filter", service, "--filter", member,
    ]));
    run_ok(
        Command::new("docker").args(["rm", "--force", id.trim()]),
        "docker rm --force etcd-2",
    );
    run_ok(
        Command::new("docker").args(["volume", "rm", "etcd-2-data"]),
        "docker volume rm etcd-2-data",
    );
    let lost = ["--lost", "etcd-2"];
    let replaced = planned_with(dir, deployment, sets, &lost, "lost");
    run_plan(
        deployment,
        &replaced,
        acked,
        next,
        "etcd-2 lost, and replaced",
    );
    deployment.out = replaced;
    deployment.wait_formed();
    deployment.assert_kept(acked, "after etcd-2 was lost and replaced by plan");
}

/// Growing by `replicas` alone: the new members start as founders of a new cluster and never
/// join the running one.
fn new_members_started_as_founders_never_join(deployment: &Deployment, dir: &Path, version: &str) {
    let spec = root().join("examples/etcd.toml");
    let grown = compile_spec(
        dir,
        &spec,
        Backend::Compose,
        &[ETCD.sets[0], ETCD.sets[1], version, "replicas=5"],
    );
    run(Command::new("docker-compose")
        .arg("-f")
        .arg(grown.join("compose/compose.yaml"))
        .args(["up", "-d"]));
    let first = [deployment.members()[0].clone()];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let list = stdout(&deployment.etcdctl(&first, &["member", "list"]));
        assert!(
            !list.contains("etcd-3") && !list.contains("etcd-4"),
            "a member started as a founder joined the running cluster: {list}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let id = stdout(&docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.service=etcd-3",
    ]));
    // The whole log: other lines (elections, probes) come between its complaints.
    let logs = docker(&["logs", id.trim()]);
    let logs = format!("{}{}", stdout(&logs), stderr(&logs));
    let why = logs.lines().find(|l| l.contains("cluster ID mismatch"));
    assert!(
        why.is_some(),
        "etcd-3 does not say why it cannot join: {}",
        logs.lines().rev().take(10).collect::<Vec<_>>().join("\n")
    );
    eprintln!(
        "etcd on compose: replicas 3 → 5 without the plan: after 30 s the cluster still lists 3 members; etcd-3 says:\n{}",
        why.unwrap()
    );
    wait_until(
        "the three members answer again",
        Duration::from_secs(120),
        || deployment.formed(),
    );
}

/// Shrinking to one member by `up --remove-orphans`: two of three members go at once, still
/// counted in the majority, and the one left takes no write.
fn two_of_three_removed_at_once_lose_the_majority(
    deployment: &Deployment,
    dir: &Path,
    version: &str,
    mut next: u32,
) {
    let spec = root().join("examples/etcd.toml");
    let one = compile_spec(
        dir,
        &spec,
        Backend::Compose,
        &[ETCD.sets[0], ETCD.sets[1], version, "replicas=1"],
    );
    run(Command::new("docker-compose")
        .arg("-f")
        .arg(one.join("compose/compose.yaml"))
        .args(["up", "-d", "--remove-orphans"]));
    let left = [deployment.members()[0].clone()];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let key = format!("berth/{next:06}");
        let put = deployment.etcdctl(&left, &["put", &key, "acknowledged"]);
        assert!(
            !put.status.success(),
            "the member left alone acknowledged a write: the majority was not lost"
        );
        next += 1;
    }
    eprintln!(
        "etcd on compose: replicas 3 → 1 without the plan: the member left takes no write for 20 s"
    );
}
