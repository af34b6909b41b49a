//! `berth plan` on docker run, without an engine: every example with `[membership]` planned
//! through growth, shrinking, an upgrade and a data move. Each `plan.sh` passes shellcheck and
//! runs against the real docker CLI's flag parser (a recording fake whose calls go to a daemon
//! socket that does not exist), which must accept every call; the calls are the ones each step
//! needs, in its order.

use crate::common::*;
use std::path::Path;
use std::process::Command;

/// The examples whose spec says how members join and leave, with the name of each one's volume.
const WITH_MEMBERSHIP: [(&str, &str); 4] = [
    ("etcd", "data"),
    ("rabbitmq", "mnesia"),
    ("cockroachdb", "datadir"),
    ("kafka", "data"),
];

/// What `member list` prints for etcd's `[membership.id]`: `ID, status, NAME, ...`.
fn listing(example: &str) -> String {
    (0..5)
        .map(|o| format!("id-{o}, started, {example}-{o}, http://peer, http://client, false\n"))
        .collect()
}

fn berth_docker(dir: &Path, args: &[&str]) {
    let mut all = args.to_vec();
    all.extend(["--backend", "docker"]);
    berth_ok(&all, dir);
}

/// The containers and volumes the `run.sh` below `out` makes: those of the deployed members.
fn made_by(out: &Path) -> Vec<String> {
    let script = std::fs::read_to_string(out.join("docker/run.sh")).unwrap();
    let mut made = Vec::new();
    for line in script.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["start_member", name, ..] => made.push(name.to_string()),
            ["ensure_volume", volume, _] => made.push(volume.to_string()),
            _ => {}
        }
    }
    made
}

/// The positions of the calls that match, in order; panics unless each is found after the last.
fn in_order(calls: &[Vec<String>], wanted: &[&[&str]], what: &str) {
    let mut from = 0;
    for words in wanted {
        let at = calls[from..]
            .iter()
            .position(|c| words.iter().all(|w| c.iter().any(|a| a == w)))
            .unwrap_or_else(|| {
                panic!("{what}: no call with {words:?} after call {from}: {calls:#?}")
            });
        from += at + 1;
    }
}

#[test]
fn docker_plans_drive_the_real_docker_cli_one_member_at_a_time() {
    let Some(fake) = FakeDocker::new() else {
        return;
    };
    for (example, volume) in WITH_MEMBERSHIP {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let spec = root().join(format!("examples/{example}.toml"));
        let spec = spec.to_str().unwrap();
        berth_docker(d, &["compile", spec, "--out", "deployed"]);
        let text = std::fs::read_to_string(root().join(format!("examples/{example}.toml")));
        let grows = text.unwrap().contains("[params.replicas]");
        let moved = format!("{example}-1");
        let mut changes = vec![
            ("upgraded", "deployed", vec!["--set", "version=99.0.0"]),
            ("moved", "deployed", vec!["--replace", &moved]),
        ];
        if grows {
            changes.push(("grown", "deployed", vec!["--set", "replicas=5"]));
            changes.push(("shrunk", "grown", vec![]));
        }
        for (name, against, sets) in changes {
            let mut args = vec!["plan", spec, "--against", against, "--out", name];
            args.extend(sets);
            berth_docker(d, &args);
            let out = d.join(name);
            provide_secret_files(&out);
            let script = out.join("docker/plan.sh");
            if let Some(shellcheck) = tool("shellcheck") {
                run_ok(Command::new(shellcheck).arg(&script), "shellcheck plan.sh");
            }
            let present = made_by(&d.join(against));
            let calls = fake
                .run_among(&script, &[], false, &present, &listing(example))
                .unwrap_or_else(|e| panic!("{example} {name}: plan.sh failed: {e}"));
            let what = format!("{example} {name}");
            for run in calls.iter().filter(|c| c[..2] == ["run", "--detach"]) {
                assert!(
                    run.windows(2)
                        .any(|w| w[0] == "--restart" && w[1] == "unless-stopped"),
                    "{what}: {run:?}"
                );
            }
            let member = |o: u32| format!("{example}-{o}");
            match name {
                "grown" => in_order(
                    &calls,
                    &[
                        &["volume", "create", &format!("{}-{volume}", member(3))],
                        &["run", "--detach", "--name", &member(3)],
                        &["volume", "create", &format!("{}-{volume}", member(4))],
                        &["run", "--detach", "--name", &member(4)],
                    ],
                    &what,
                ),
                "shrunk" => {
                    let volume = format!("{}-{volume}", member(4));
                    in_order(
                        &calls,
                        &[
                            &["stop", &member(4)],
                            &["rm", "--volumes", &member(4)],
                            &["volume", "rm", &volume],
                            &["stop", &member(3)],
                        ],
                        &what,
                    );
                    if example == "etcd" {
                        in_order(&calls, &[&["member", "remove", "id-4"]], &what);
                    }
                }
                "upgraded" => {
                    for o in (0..3).rev() {
                        in_order(
                            &calls,
                            &[
                                &["stop", &member(o)],
                                &["run", "--detach", "--name", &member(o)],
                            ],
                            &what,
                        );
                    }
                    assert!(!calls.iter().any(|c| c[..2] == ["volume", "rm"]), "{what}");
                }
                _ => in_order(
                    &calls,
                    &[
                        &["stop", &moved],
                        &["volume", "rm", &format!("{moved}-{volume}")],
                        &["volume", "create", &format!("{moved}-{volume}")],
                        &["run", "--detach", "--name", &moved],
                    ],
                    &what,
                ),
            }
        }
    }
}
