//! `berth plan` without an engine: every example with `[membership]` planned through growth,
//! shrinking, an upgrade and a data move on compose; each `plan.sh` passes `sh -n` and
//! shellcheck, and each joining member's override loads in `docker-compose config` with the file
//! it overrides. The refusals: a quorum service without `[membership]` whose member count changes,
//! a `--replace` of a member that does not stay, a backend without plans. (Run on the engine:
//! tests/engine/upstream/day_two.rs.)

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The examples whose spec says how members join and leave.
const WITH_MEMBERSHIP: [&str; 5] = ["etcd", "rabbitmq", "cockroachdb", "kafka", "zookeeper"];

fn deploy(dir: &Path, example: &str, sets: &[&str]) -> PathBuf {
    let spec = root().join(format!("examples/{example}.toml"));
    let out = dir.join("deployed");
    let mut args = vec![
        "compile",
        spec.to_str().unwrap(),
        "--backend",
        "compose",
        "--out",
    ];
    args.push(out.to_str().unwrap());
    for set in sets {
        args.extend(["--set", set]);
    }
    berth_ok(&args, dir);
    out
}

/// Compiles `spec` for `backend` into `dir/out`, and returns the start of a `berth plan` of `spec`
/// from there.
fn deployed_for_plan<'a>(
    dir: &Path,
    spec: &'a str,
    backend: &'a str,
    out: &'a str,
) -> [&'a str; 6] {
    berth_ok(&["compile", spec, "--backend", backend, "--out", out], dir);
    ["plan", spec, "--backend", backend, "--against", out]
}

fn plan(
    dir: &Path,
    example: &str,
    against: &Path,
    name: &str,
    more: &[&str],
) -> (std::process::Output, PathBuf) {
    let spec = root().join(format!("examples/{example}.toml"));
    let out = dir.join(name);
    let mut args = vec![
        "plan",
        spec.to_str().unwrap(),
        "--backend",
        "compose",
        "--against",
    ];
    args.extend([against.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    args.extend(more);
    (berth(&args, dir), out)
}

/// `plan.sh` parses, passes shellcheck, and each override loads with compose.yaml.
fn assert_plan_checks(out: &Path) -> String {
    let compose = out.join("compose");
    let script = compose.join("plan.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    run_ok(Command::new("sh").arg("-n").arg(&script), "sh -n plan.sh");
    if let Some(shellcheck) = tool("shellcheck") {
        run_ok(Command::new(shellcheck).arg(&script), "shellcheck plan.sh");
    }
    let overrides: Vec<PathBuf> = std::fs::read_dir(compose.join("plan"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    if !overrides.is_empty()
        && let Some(compose_tool) = tool("docker-compose")
    {
        provide_secret_files(out);
        for file in overrides {
            let mut command = Command::new(&compose_tool);
            command
                .current_dir(&compose)
                .args(["-f", "compose.yaml", "-f"])
                .arg(&file);
            run_ok(
                command.args(["config", "--quiet"]),
                "docker-compose config with the override",
            );
        }
    }
    text
}

#[test]
fn every_example_with_membership_plans_growth_shrinking_an_upgrade_and_a_data_move() {
    for example in WITH_MEMBERSHIP {
        let dir = tempfile::tempdir().unwrap();
        let deployed = deploy(dir.path(), example, &[]);
        let spec =
            std::fs::read_to_string(root().join(format!("examples/{example}.toml"))).unwrap();
        let moved = format!("{example}-1");
        let mut changes: Vec<(&str, Vec<&str>)> = vec![
            ("upgraded", vec!["--set", "version=99.0.0"]),
            ("moved", vec!["--replace", &moved]),
        ];
        if spec.contains("[params.replicas]") {
            changes.push(("grown", vec!["--set", "replicas=5"]));
        }
        for (name, more) in changes {
            let (output, out) = plan(dir.path(), example, &deployed, name, &more);
            assert_exit(&output, 0, &[]);
            let text = assert_plan_checks(&out);
            if name == "upgraded" {
                assert_contains(
                    &text,
                    &format!("'{example}-0 restarts with its new definition'"),
                );
            }
            if name == "moved" {
                assert_contains(&text, &format!("'{moved} leaves the cluster'"));
                assert_contains(&text, &format!("'{moved} joins the running cluster'"));
            }
            if name == "grown" {
                let shrunk = dir.path().join("shrunk");
                let (output, _) = plan(dir.path(), example, &out, "shrunk", &[]);
                assert_exit(&output, 0, &[]);
                let text = assert_plan_checks(&shrunk);
                assert_contains(&text, &format!("'{example}-4 leaves the cluster'"));
            }
        }
    }
}

#[test]
fn etcd_grows_one_member_at_a_time_with_a_joining_member_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = deploy(dir.path(), "etcd", &[]);
    let (output, out) = plan(
        dir.path(),
        "etcd",
        &deployed,
        "grown",
        &["--set", "replicas=5"],
    );
    assert_exit(&output, 0, &[]);
    let text = std::fs::read_to_string(out.join("compose/plan.sh")).unwrap();
    let order: Vec<&str> = text.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(
        order,
        [
            "step 'every deployed member healthy'",
            "step 'etcd-3 joins the running cluster'",
            "step 'etcd-4 joins the running cluster'",
            "step 'etcd-4 restarts with its new definition'",
            "step 'etcd-3 restarts with its new definition'",
            "step 'etcd-2 restarts with its new definition'",
            "step 'etcd-1 restarts with its new definition'",
            "step 'etcd-0 restarts with its new definition'",
            "step 'done: every member runs its new definition'",
        ]
    );
    let joining = std::fs::read_to_string(out.join("compose/plan/join-etcd-3.yaml")).unwrap();
    assert_contains(&joining, "--initial-cluster-state=existing");
    assert_contains(
        &joining,
        "--initial-cluster=etcd-0=http://etcd-0:2380,etcd-1=http://etcd-1:2380,etcd-2=http://etcd-2:2380,etcd-3=http://etcd-3:2380\n",
    );
    let founders = std::fs::read_to_string(out.join("compose/compose.yaml")).unwrap();
    assert!(
        !founders.contains("existing"),
        "the compiled file is a founded cluster's"
    );
    assert_contains(&text, "member add etcd-3 --peer-urls=http://etcd-3:2380");
}

/// A compose plan stops before its first step unless the environment holds the secrets compose
/// passes on to the members: ZooKeeper's `reconfig` reads the super user's password from there,
/// and would fail at every try until the plan's timeout.
#[test]
fn a_compose_plan_stops_before_its_first_step_without_the_secrets_it_passes_on() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = deploy(dir.path(), "zookeeper", &[]);
    let (output, out) = plan(
        dir.path(),
        "zookeeper",
        &deployed,
        "grown",
        &["--set", "replicas=5"],
    );
    assert_exit(&output, 0, &["run it (with ZOO_SUPER_PASSWORD set)"]);
    let script = out.join("compose/plan.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    assert_contains(&text, "# It needs in its environment: ZOO_SUPER_PASSWORD\n");
    let ran = Command::new("timeout")
        .arg("20")
        .arg("sh")
        .arg(&script)
        .env_remove("ZOO_SUPER_PASSWORD")
        .output()
        .unwrap();
    assert!(!ran.status.success(), "plan.sh ran without the secret");
    assert_contains(
        &stderr(&ran),
        "set ZOO_SUPER_PASSWORD in the environment: the value of key super-password of secret zookeeper",
    );
    assert!(
        !stdout(&ran).contains("==>"),
        "a step began without the secret: {}",
        stdout(&ran)
    );
}

#[test]
fn a_quorum_service_without_membership_keeps_its_member_count() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = deploy(dir.path(), "elasticsearch", &[]);
    let (output, _) = plan(
        dir.path(),
        "elasticsearch",
        &deployed,
        "grown",
        &["--set", "replicas=5"],
    );
    assert_exit(
        &output,
        1,
        &[
            "error[plan/membership-missing]",
            "from 3 to 5",
            "add a `[membership]` table",
        ],
    );
    assert!(!dir.path().join("grown").exists(), "nothing is written");
    // Without a change of the member count, the plan restarts the members one at a time.
    let (output, out) = plan(
        dir.path(),
        "elasticsearch",
        &deployed,
        "upgraded",
        &["--set", "version=8.15.1"],
    );
    assert_exit(&output, 0, &[]);
    assert_plan_checks(&out);
}

#[test]
fn a_plan_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = deploy(dir.path(), "etcd", &[]);
    let (output, _) = plan(dir.path(), "etcd", &deployed, "a", &["--replace", "etcd-3"]);
    assert_exit(
        &output,
        2,
        &[
            "error[plan/replace]",
            "`--replace etcd-3` names no member that stays",
        ],
    );
    let (output, _) = plan(dir.path(), "etcd", &dir.path().join("nothing"), "b", &[]);
    assert_exit(&output, 2, &["error[output/against]", "does not exist"]);
    let spec = root().join("examples/etcd.toml");
    let spec = spec.to_str().unwrap();
    let rabbitmq = root().join("examples/rabbitmq.toml");
    for (spec, backend, said) in [
        (spec, "marathon", "marathon/etcd-0.json"),
        (spec, "docker", "docker/run.sh"),
        (
            rabbitmq.to_str().unwrap(),
            "cloudfoundry",
            "berth writes no plans for cloudfoundry",
        ),
    ] {
        let args = ["plan", spec, "--backend", backend, "--against", "deployed"];
        let output = berth(&[&args[..], &["--out", "y"]].concat(), dir.path());
        assert_exit(&output, 2, &["error[plan/", said]);
    }
    let none = berth(&["plan", spec, "--against", "x", "--out", "y"], dir.path());
    assert_exit(&none, 2, &["`berth plan` needs the backend"]);
}

/// Members lost for good (`--lost`) are checked down, removed by the others (never asked whether
/// they may stop, never running a command), and join again on new volumes, the cluster as
/// deployed; a plan that also changes the cluster, a loss the others cannot mend (no majority
/// left), a member both lost and replaced are refused.
#[test]
fn lost_members_are_removed_by_the_others_and_join_again() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = deploy(dir.path(), "etcd", &["replicas=5"]);
    let five = ["--set", "replicas=5"];
    let more = [&five[..], &["--lost", "etcd-3", "--lost", "etcd-1"]].concat();
    let (output, out) = plan(dir.path(), "etcd", &deployed, "lost", &more);
    assert_exit(&output, 0, &[]);
    let text = assert_plan_checks(&out);
    assert_contains(
        &text,
        "until_passes 'every member healthy' every_member_healthy etcd-0 etcd-2 etcd-4\nneed_lost etcd-1\nneed_lost etcd-3\n",
    );
    // Both are removed before either joins, each by a member that answers.
    let order: Vec<usize> = [
        "'etcd-1 is lost: the others remove it from the cluster'",
        "'etcd-3 is lost: the others remove it from the cluster'",
        "'etcd-1 joins the running cluster'",
        "'etcd-3 joins the running cluster'",
    ]
    .iter()
    .map(|title| {
        text.find(title)
            .unwrap_or_else(|| panic!("no {title}:\n{text}"))
    })
    .collect();
    assert!(order.is_sorted(), "{text}");
    let removals = &text[order[0]..order[2]];
    assert!(!removals.contains("the cluster can lose"), "{removals}");
    assert!(!removals.contains("oneoff etcd-1 ") && !removals.contains("oneoff etcd-3 "));
    assert_contains(
        removals,
        "--endpoints=http://etcd-0:2379,http://etcd-2:2379,http://etcd-4:2379 member remove",
    );
    assert_contains(removals, "retire etcd-1 0\n");
    assert_contains(removals, "remove_volume etcd-1-data");
    let join = std::fs::read_to_string(out.join("compose/plan/join-etcd-1.yaml")).unwrap();
    assert_contains(&join, "--initial-cluster-state=existing");

    let three = ["--set", "replicas=3", "--lost", "etcd-1"];
    let (output, _) = plan(dir.path(), "etcd", &deployed, "shrunk", &three);
    assert_exit(
        &output,
        2,
        &["error[plan/unsupported]", "`--lost` with other changes"],
    );
    let (output, _) = plan(
        dir.path(),
        "etcd",
        &deployed,
        "gone",
        &[&five[..], &["--lost", "etcd-5"]].concat(),
    );
    assert_exit(&output, 2, &["`--lost etcd-5` names no member that stays"]);
    // A hostile name is refused as no member's, and nothing is written.
    for hostile in ["$(id)", "etcd-1'; rm -rf ~", "etcd-1\u{2028}x", "../etcd-1"] {
        let (output, out) = plan(
            dir.path(),
            "etcd",
            &deployed,
            "hostile",
            &["--lost", hostile],
        );
        assert_exit(
            &output,
            2,
            &["error[plan/replace]", "names no member that stays"],
        );
        assert!(
            !out.exists(),
            "{hostile}: the refused plan wrote {}",
            out.display()
        );
    }
    let lost = ["--lost", "etcd-0", "--lost", "etcd-1", "--lost", "etcd-2"];
    let (output, _) = plan(
        dir.path(),
        "etcd",
        &deployed,
        "three",
        &[&five[..], &lost].concat(),
    );
    assert_exit(
        &output,
        2,
        &[
            "error[plan/replace]",
            "the 2 left are fewer than the 3 the cluster needs",
        ],
    );
    let deployed = deploy(dir.path(), "etcd", &[]);
    let (output, _) = plan(
        dir.path(),
        "etcd",
        &deployed,
        "both",
        &["--lost", "etcd-1", "--replace", "etcd-1"],
    );
    assert_exit(
        &output,
        2,
        &["error[plan/replace]", "both `--lost` and `--replace`"],
    );
    let spec = root().join("examples/etcd.toml");
    let spec = spec.to_str().unwrap();
    let args = deployed_for_plan(dir.path(), spec, "marathon", "m");
    let marathon = berth(
        &[&args[..], &["--out", "n", "--lost", "etcd-1"]].concat(),
        dir.path(),
    );
    assert_exit(&marathon, 2, &["error[plan/unsupported]", "`--lost`"]);
}

/// A membership command's hostile argument reaches the program as one word: the plan quotes it.
#[test]
fn a_membership_argument_is_one_quoted_word() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "$(touch pwned); `id` 'x' \"y\"";
    let spec = std::fs::read_to_string(root().join("examples/etcd.toml"))
        .unwrap()
        .replace(
            "\"member\", \"add\",",
            &format!("\"member\", \"add\", {hostile:?},"),
        );
    let path = write(dir.path(), "etcd.toml", &spec);
    let deployed = dir.path().join("deployed");
    let (path, deployed_dir) = (path.to_str().unwrap(), deployed.to_str().unwrap());
    berth_ok(
        &[
            "compile",
            path,
            "--backend",
            "compose",
            "--out",
            deployed_dir,
        ],
        dir.path(),
    );
    let args = ["plan", path, "--backend", "compose", "--set", "replicas=4"];
    berth_ok(
        &[&args[..], &["--against", deployed_dir, "--out", "grown"]].concat(),
        dir.path(),
    );
    let out = dir.path().join("grown");
    let text = assert_plan_checks(&out);
    assert_contains(
        &text,
        &format!(
            " member add {} etcd-3",
            berth::model::shell::shell_quote(hostile)
        ),
    );
}

/// Kubernetes, which has no engine here: every example with `[membership]` planned through
/// growth, shrinking, an upgrade and (where the example's size is a parameter) a disk's growth;
/// the objects each step applies pass `kubernetes-validate --strict`, and each `kubectl` command
/// of the plan parses: run against a server that does not exist, it fails to connect, not on its
/// arguments.
#[test]
fn kubernetes_plans_apply_valid_objects_with_commands_kubectl_parses() {
    let (Some(validator), Some(kubectl)) = (tool("kubernetes-validate"), tool("kubectl")) else {
        return;
    };
    for example in WITH_MEMBERSHIP {
        let dir = tempfile::tempdir().unwrap();
        let spec_path = root().join(format!("examples/{example}.toml"));
        let spec = std::fs::read_to_string(&spec_path).unwrap();
        let deployed = dir.path().join("deployed");
        let (spec_path, deployed_dir) = (spec_path.to_str().unwrap(), deployed.to_str().unwrap());
        berth_ok(
            &[
                "compile",
                spec_path,
                "--backend",
                "kubernetes",
                "--out",
                deployed_dir,
            ],
            dir.path(),
        );
        let moved = format!("{example}-1");
        let mut changes = vec![
            ("upgraded", vec!["--set", "version=99.0.0"]),
            ("moved", vec!["--replace", &moved]),
            ("lost", vec!["--lost", &moved]),
        ];
        if spec.contains("[params.replicas]") {
            changes.push(("grown", vec!["--set", "replicas=5"]));
        }
        if spec.contains("[params.storage_size]") {
            changes.push(("disk", vec!["--set", "storage_size=999Gi"]));
            // 100 GiB and 200 GiB, the examples' sizes, written in MiB.
            let same = if example == "kafka" {
                "storage_size=204800Mi"
            } else {
                "storage_size=102400Mi"
            };
            changes.push(("same-size", vec!["--set", same]));
        }
        if spec.contains("[params.storage_class]") {
            changes.push(("class", vec!["--set", "storage_class=berth-test-class"]));
        }
        for (name, sets) in changes {
            let mut args = vec![
                "plan",
                spec_path,
                "--backend",
                "kubernetes",
                "--against",
                deployed_dir,
            ];
            args.extend(["--out", name]);
            args.extend(sets);
            berth_ok(&args, dir.path());
            let out = dir.path().join(name).join("kubernetes");
            let script = out.join("plan.sh");
            if let Some(shellcheck) = tool("shellcheck") {
                run_ok(Command::new(shellcheck).arg(&script), "shellcheck plan.sh");
            }
            let objects: Vec<PathBuf> = std::fs::read_dir(out.join("plan"))
                .map(|entries| entries.map(|e| e.unwrap().path()).collect())
                .unwrap_or_default();
            if !objects.is_empty() {
                let output = Command::new(&validator)
                    .args(["--strict", "-k", "1.35.0"])
                    .args(&objects)
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{example} {name}: {}{}",
                    stdout(&output),
                    stderr(&output)
                );
            }
            let text = std::fs::read_to_string(&script).unwrap();
            assert_kubectl_parses(&kubectl, &out, &text, &format!("{example} {name}"));
            if name == "upgraded" && spec.contains("\n[init]") {
                assert_job_runs_again(&text, example);
            }
            if name == "lost" {
                // On a lost node no kubelet confirms the pod's end: it is deleted at once.
                assert_contains(
                    &text,
                    &format!(
                        "run kube delete pod {example}-1 --grace-period=0 --force --ignore-not-found\n"
                    ),
                );
                assert_contains(&text, &format!("need_node_down {example}-1\n"));
            }
            if name == "same-size" {
                assert!(
                    !text.contains("persistentvolumeclaim"),
                    "{example}: the same size moves claims:\n{text}"
                );
            }
            if name == "class" {
                assert_moves_every_member(&text, example);
                let join = std::fs::read_to_string(out.join(format!("plan/join-{example}-0.yaml")));
                assert_contains(&join.unwrap(), "storageClassName: berth-test-class");
            }
        }
    }
}

/// A field Kubernetes cannot change on a StatefulSet (here its claims' class) is planned alone:
/// with a new member count, or with lost members, the plan is refused and says which to plan first.
#[test]
fn kubernetes_plans_an_immutable_change_alone() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/etcd.toml");
    let spec = spec.to_str().unwrap();
    let args = deployed_for_plan(dir.path(), spec, "kubernetes", "deployed");
    let class = ["--out", "next", "--set", "storage_class=berth-test-class"];
    for (more, said) in [
        (&["--set", "replicas=5"][..], "the member count and a field"),
        (&["--lost", "etcd-1"][..], "`--lost` members and a field"),
    ] {
        let refused = berth(&[&args[..], &class, more].concat(), dir.path());
        assert_exit(&refused, 2, &["error[plan/unsupported]", said]);
    }
}

/// The init Job's image changes, which Kubernetes refuses on an existing Job: the plan deletes it
/// before the last apply makes it again, then waits until it has run.
fn assert_job_runs_again(plan: &str, example: &str) {
    let mut from = 0;
    for line in [
        format!("run kube delete job {example}-init --ignore-not-found --cascade=foreground\n"),
        "run kubectl apply --kustomize .\n".to_string(),
        format!(
            "run kube wait --for=condition=complete job/{example}-init \"--timeout=${{timeout}}s\"\n"
        ),
    ] {
        let at = plan[from..]
            .find(&line)
            .unwrap_or_else(|| panic!("{example}: `{line}` after byte {from}:\n{plan}"));
        from += at + line.len();
    }
}

/// A new storage class moves each member, from the highest ordinal down, to new claims: its
/// pod and claims deleted while no StatefulSet would make the pod again, then the StatefulSet
/// made again with the new class, from which the member joins.
fn assert_moves_every_member(plan: &str, example: &str) {
    let exists = "run kubectl get storageclass berth-test-class\n";
    let mut from = plan.find(exists).expect("the new class is checked") + exists.len();
    assert!(
        from < plan.find("leaves the cluster'").unwrap(),
        "{example}: the class is checked late"
    );
    for ordinal in (0..3).rev() {
        let member = format!("{example}-{ordinal}");
        for line in [
            format!("step '{member} leaves the cluster'"),
            format!("run kube delete statefulset {example} --cascade=orphan --ignore-not-found"),
            format!("run kube delete pod {member} --wait=true"),
            format!("-{member} --wait=true"),
            format!("step '{member} joins the running cluster'"),
            format!("run kubectl apply --filename plan/join-{member}.yaml"),
        ] {
            let at = plan[from..]
                .find(&line)
                .unwrap_or_else(|| panic!("{example}: `{line}` after byte {from}:\n{plan}"));
            from += at + line.len();
        }
    }
    assert!(
        !plan.contains("kube patch"),
        "{example}: a moved claim is patched"
    );
}

/// Runs each `kubectl` command of a plan (`run kube ...`, `run kubectl ...`, and the `kubectl
/// exec` a membership command runs in) against a server that does not exist.
fn assert_kubectl_parses(kubectl: &Path, dir: &Path, script: &str, what: &str) {
    let functions = format!(
        "kubectl() {{ {} --server=https://127.0.0.1:1 --token=berth-test --request-timeout=2s \"$@\" </dev/null; }}\nkube() {{ kubectl --namespace berth-test \"$@\"; }}\ncontainer=member\ntimeout=300\n",
        kubectl.display()
    );
    let mut commands: Vec<String> = script
        .lines()
        .filter_map(|l| l.strip_prefix("run "))
        .filter(|l| l.starts_with("kube ") || l.starts_with("kubectl "))
        .map(str::to_string)
        .collect();
    commands.push("kube exec member-0 --container \"$container\" -- /bin/true".into());
    assert!(commands.len() > 1, "{what}: no kubectl command in the plan");
    for command in commands {
        let output = Command::new("sh")
            .current_dir(dir)
            .arg("-c")
            .arg(format!("{functions}{command}"))
            .output()
            .unwrap();
        let err = stderr(&output);
        assert!(
            !output.status.success()
                && (err.contains("127.0.0.1:1") || err.contains("connection refused")),
            "{what}: `{command}` failed otherwise than by not reaching the server:\n{err}"
        );
    }
}

/// Swarm: etcd planned 3 → 5 → 3 and upgraded; `plan.sh` passes shellcheck, and each joining
/// member's files load in the docker CLI's stack loader (`docker stack config -c MEMBER -c JOIN`),
/// as `plan.sh` deploys them. (Run on a swarm of one engine: tests/engine/upstream/day_two.rs.)
#[test]
fn swarm_plans_deploy_files_the_docker_cli_loads() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/etcd.toml");
    let spec = spec.to_str().unwrap();
    berth_ok(
        &["compile", spec, "--backend", "swarm", "--out", "deployed"],
        dir.path(),
    );
    for (name, against, set) in [
        ("grown", "deployed", "replicas=5"),
        ("shrunk", "grown", "replicas=3"),
        ("upgraded", "deployed", "version=v9.9.9"),
        ("moved", "deployed", "replicas=3"),
        ("lost", "deployed", "replicas=3"),
    ] {
        let args = [
            "plan",
            spec,
            "--backend",
            "swarm",
            "--against",
            against,
            "--out",
            name,
            "--set",
            set,
        ];
        let replace: &[&str] = match name {
            "moved" => &["--replace", "etcd-1"],
            "lost" => &["--lost", "etcd-1"],
            _ => &[],
        };
        berth_ok(&[&args[..], replace].concat(), dir.path());
        let out = dir.path().join(name).join("swarm");
        if let Some(shellcheck) = tool("shellcheck") {
            run_ok(
                Command::new(shellcheck).arg(out.join("plan.sh")),
                "shellcheck plan.sh",
            );
        }
        let text = std::fs::read_to_string(out.join("plan.sh")).unwrap();
        if name == "grown" {
            assert_contains(
                &text,
                "deploy_member etcd-3 -c members/etcd-3.yaml -c plan/join-etcd-3.yaml",
            );
            assert_contains(&text, "need_node 4");
            if let Some(loaded) = joining_stack(&out, "etcd-3") {
                assert_contains(&loaded, "--initial-cluster-state=existing");
            }
        }
        if name == "shrunk" {
            assert_contains(&text, "retire etcd-4 etcd-swarm-4-data\n");
        }
        if name == "moved" {
            // Checked before any member changes: a node free of etcd to move to.
            let free = text.find("need_free_nodes 1\n").expect("need_free_nodes");
            assert!(free < text.find("step 'every deployed member healthy'").unwrap());
            assert_contains(&text, "vacate etcd-1 etcd-swarm-1-data\n");
            assert_contains(&text, "until_passes 'the cluster can lose etcd-1'");
            if let Some(loaded) = joining_stack(&out, "etcd-1") {
                assert_contains(&loaded, "--initial-cluster-state=existing");
                assert_contains(&loaded, "etcd-2=http://etcd-2:2380");
            }
        }
        if name == "lost" {
            // Its service goes without a wait for its task, which no node would report stopped.
            assert_contains(&text, "need_free_nodes 1\n");
            let lost = text.find("'etcd-1 is lost: the others remove it from the cluster'");
            let rejoined = text.find("'etcd-1 joins the running cluster'");
            let step = &text[lost.unwrap()..rejoined.unwrap()];
            assert_contains(step, "abandon etcd-1 etcd-swarm-1-data\n");
            assert!(!step.contains("the cluster can lose"), "{step}");
        }
    }
    // A volume driver's volume may follow the member to its new node with its data.
    let driven =
        std::fs::read_to_string(spec).unwrap() + "\n[backends.swarm]\nvolume_driver = \"rexray\"\n";
    let driven = write(dir.path(), "driven.toml", &driven);
    let driven = driven.to_str().unwrap();
    let args = deployed_for_plan(dir.path(), driven, "swarm", "driven");
    let refused = berth(
        &[&args[..], &["--out", "x", "--replace", "etcd-0"]].concat(),
        dir.path(),
    );
    assert_exit(&refused, 2, &["error[plan/unsupported]", "driver `rexray`"]);
    swarm_refuses_what_its_jobs_cannot_run(dir.path());
}

/// What a swarm job cannot run is refused, not written to fail halfway: RabbitMQ's commands run
/// inside a member (its CLI needs the member's Erlang cookie), which Swarm cannot do on another
/// node; a program the docker CLI's `--entrypoint` would split into words.
fn swarm_refuses_what_its_jobs_cannot_run(dir: &Path) {
    let rabbitmq = root().join("examples/rabbitmq.toml");
    let rabbitmq = rabbitmq.to_str().unwrap();
    let args = deployed_for_plan(dir, rabbitmq, "swarm", "rabbit");
    let refused = berth(&[&args[..], &["--out", "next"]].concat(), dir);
    assert_exit(
        &refused,
        2,
        &["error[plan/unsupported]", "run = \"member\""],
    );
    let etcd = example_text("etcd");
    let split = etcd.replacen(
        "add = [[\n  \"/usr/local/bin/etcdctl\"",
        "add = [[\n  \"/usr/local/bin/etcd ctl\"",
        1,
    );
    assert_ne!(split, etcd);
    let split = write(dir, "split.toml", &split);
    let split = split.to_str().unwrap();
    let args = deployed_for_plan(dir, split, "swarm", "split");
    let refused = berth(
        &[&args[..], &["--out", "s", "--set", "replicas=5"]].concat(),
        dir,
    );
    assert_exit(
        &refused,
        2,
        &["error[plan/unsupported]", "`/usr/local/bin/etcd ctl`"],
    );
}

/// A joining member's stack as the docker CLI loads it from its member file and its join file, as
/// `plan.sh` deploys them (`None`, said SKIPPED, without the docker CLI).
fn joining_stack(out: &Path, member: &str) -> Option<String> {
    let mut command = Command::new(tool("docker")?);
    command.current_dir(out).args(["stack", "config"]);
    command.args(["-c", &format!("members/{member}.yaml")]);
    command.args(["-c", &format!("plan/join-{member}.yaml")]);
    Some(stdout(&run_ok(&mut command, "docker stack config")))
}

/// What an attacker's review found: a `--replace` without `[membership]`, a replace while members
/// leave, a deployed StatefulSet or Compose file changed by someone else.
#[test]
fn a_plan_holds_against_what_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A quorum service whose spec does not say how a member leaves and joins is not replaced.
    let etcd = example_text("etcd");
    let without = etcd.split("\n[membership]").next().unwrap().to_string()
        + "\n[resources]\ncpu = \"1\"\nmemory = \"2Gi\"\n";
    let spec = write(d, "bare.toml", &without);
    let spec = spec.to_str().unwrap();
    let args = deployed_for_plan(d, spec, "compose", "bare");
    let refused = berth(
        &[&args[..], &["--out", "x", "--replace", "etcd-0"]].concat(),
        d,
    );
    assert_exit(
        &refused,
        1,
        &["error[plan/membership-missing]", "`--replace`"],
    );

    // Shrinking and replacing at once: the replaced member joins the members that stay.
    let example = root().join("examples/etcd.toml");
    let example = example.to_str().unwrap();
    berth_ok(
        &[
            "compile",
            example,
            "--backend",
            "compose",
            "--out",
            "five",
            "--set",
            "replicas=5",
        ],
        d,
    );
    let args = [
        "plan",
        example,
        "--backend",
        "compose",
        "--against",
        "five",
        "--out",
        "three",
    ];
    berth_ok(&[&args[..], &["--replace", "etcd-0"]].concat(), d);
    let join = std::fs::read_to_string(d.join("three/compose/plan/join-etcd-0.yaml")).unwrap();
    assert_contains(
        &join,
        "--initial-cluster=etcd-0=http://etcd-0:2380,etcd-1=http://etcd-1:2380,etcd-2=http://etcd-2:2380\n",
    );

    // A deployed StatefulSet with a member count berth never writes, or a claim template of
    // another shape, is refused, not planned (nor a crash).
    berth_ok(
        &[
            "compile",
            example,
            "--backend",
            "kubernetes",
            "--out",
            "k8s",
        ],
        d,
    );
    // A move to a class berth declares: the class is made before any member loses its claims.
    let etcd = std::fs::read_to_string(example).unwrap();
    let gold = etcd.replace(
        "[backends.kubernetes]\n",
        "[backends.kubernetes.storage_classes.gold]\nprovisioner = \"pd.csi.storage.gke.io\"\n\n[backends.kubernetes]\n",
    );
    let gold_spec = write(d, "gold.toml", &gold);
    let args = [
        "plan",
        gold_spec.to_str().unwrap(),
        "--backend",
        "kubernetes",
    ];
    let more = [
        "--against",
        "k8s",
        "--out",
        "gold",
        "--set",
        "storage_class=gold",
    ];
    berth_ok(&[&args[..], &more[..]].concat(), d);
    let plan = std::fs::read_to_string(d.join("gold/kubernetes/plan.sh")).unwrap();
    let made = plan
        .find("run kubectl apply --filename 10-storageclass-gold.yaml\n")
        .expect("the class is applied");
    assert!(made < plan.find("run kube delete persistentvolumeclaim").unwrap());

    // Moving the one member there is would leave its data nowhere.
    berth_ok(
        &[
            "compile",
            example,
            "--backend",
            "kubernetes",
            "--out",
            "k8s1",
            "--set",
            "replicas=1",
        ],
        d,
    );
    let refused = berth(
        &[
            &args[..],
            &[
                "--against",
                "k8s1",
                "--out",
                "one",
                "--set",
                "replicas=1",
                "--set",
                "storage_class=gold",
            ],
        ]
        .concat(),
        d,
    );
    assert_exit(
        &refused,
        2,
        &["error[plan/replace]", "no other member to catch up from"],
    );

    let sts = d.join("k8s/kubernetes/40-statefulset-etcd.yaml");
    let original = std::fs::read_to_string(&sts).unwrap();
    for (from, to) in [
        ("replicas: 3", "replicas: 4294967295"),
        ("replicas: 3", "replicas: 0"),
        (
            "      resources:\n        requests:\n          storage: 20Gi",
            "      resources: 5",
        ),
    ] {
        assert!(original.contains(from), "{from}");
        std::fs::write(&sts, original.replace(from, to)).unwrap();
        let args = [
            "plan",
            example,
            "--backend",
            "kubernetes",
            "--against",
            "k8s",
            "--out",
            "k",
        ];
        let output = berth(
            &[&args[..], &["--set", "storage_class=fast-ssd"]].concat(),
            d,
        );
        assert!(
            matches!(output.status.code(), Some(0 | 2)),
            "{to}: {}",
            stderr(&output)
        );
        if to.starts_with("replicas") {
            assert_exit(
                &output,
                2,
                &["error[plan/deployed]", "no member count berth writes"],
            );
        }
    }

    // Volumes that hold data already (`external`): a member that joins would start on one.
    let external = etcd.replace(
        "path = \"/var/lib/etcd\"\n",
        "path = \"/var/lib/etcd\"\nexternal = \"old_etcd{{self.ordinal}}\"\n",
    );
    let external = write(d, "external.toml", &external);
    let external = external.to_str().unwrap();
    berth_ok(
        &[
            "compile",
            external,
            "--backend",
            "compose",
            "--out",
            "ext",
            "--set",
            "spread=none",
        ],
        d,
    );
    for backend in ["compose", "docker"] {
        if backend == "docker" {
            berth_ok(
                &["compile", external, "--backend", "docker", "--out", "ext"],
                d,
            );
        }
        let args = [
            "plan",
            external,
            "--backend",
            backend,
            "--against",
            "ext",
            "--out",
            "ext5",
        ];
        let output = berth(
            &[&args[..], &["--set", "spread=none", "--set", "replicas=5"]].concat(),
            d,
        );
        assert_exit(
            &output,
            2,
            &["error[plan/unsupported]", "`volumes.external`"],
        );
    }

    // A deployed Compose file whose volume is named otherwise than berth names it: the plan
    // never deletes that volume.
    let compose = d.join("five/compose/compose.yaml");
    let text = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(
        &compose,
        text.replace("name: etcd-4-data", "name: someone-elses-db"),
    )
    .unwrap();
    let args = [
        "plan",
        example,
        "--backend",
        "compose",
        "--against",
        "five",
        "--out",
        "shrunk",
    ];
    berth_ok(&args, d);
    let plan = std::fs::read_to_string(d.join("shrunk/compose/plan.sh")).unwrap();
    assert!(
        !plan.contains("someone-elses-db") && !plan.contains("volume rm etcd-4-data"),
        "{plan}"
    );
    assert_contains(&plan, "remove_volume etcd-3-data");
}

/// A removal whose answer was lost (etcd's "server stopped" when the leader itself goes) took
/// effect: once the listing no longer names the member, `retry_unless unlisted` stops trying;
/// while it does, the plan stops after `timeout`.
#[test]
fn a_removal_is_done_once_the_listing_no_longer_names_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = deploy(dir.path(), "etcd", &["replicas=5", "spread=none"]);
    let (output, out) = plan(
        dir.path(),
        "etcd",
        &deployed,
        "three",
        &["--set", "spread=none"],
    );
    assert_exit(&output, 0, &[]);
    let script = std::fs::read_to_string(out.join("compose/plan.sh")).unwrap();
    let functions = &script[..script.find("\nstep ").unwrap()];
    assert_contains(
        &script,
        "find_id etcd-4 , 3 1 listing\nretry_unless unlisted oneoff etcd-0 ",
    );
    let run = |listed: &str| {
        let test = format!(
            "{functions}\ntimeout=0\nlisting() {{ printf '%s\\n' {listed}; }}\nname=etcd-4 separator=, name_field=3 id_field=1\nretry_unless unlisted false\necho done\n"
        );
        Command::new("sh").arg("-c").arg(test).output().unwrap()
    };
    let gone = run("'a1, started, etcd-0, x, y' 'a2, started, etcd-1, x, y'");
    assert!(stdout(&gone).contains("failed, but unlisted: done") && stdout(&gone).contains("done"));
    let still = run("'a1, started, etcd-0, x, y' 'a5, started, etcd-4, x, y'");
    assert!(
        !still.status.success() && !stdout(&still).contains("done"),
        "{}",
        stdout(&still)
    );
}

/// An init Job changes with the image; without `[init] done_output` nothing says it can run again
/// on the initialized cluster, so the Kubernetes plan is refused rather than stopped at its end.
#[test]
fn a_changed_init_job_is_planned_only_where_it_can_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let cockroachdb = std::fs::read_to_string(root().join("examples/cockroachdb.toml")).unwrap();
    let once = cockroachdb.replace(
        "done_output = \"cluster has already been initialized\"\n",
        "",
    );
    assert_ne!(once, cockroachdb);
    let spec = write(dir.path(), "once.toml", &once);
    let spec = spec.to_str().unwrap();
    let args = deployed_for_plan(dir.path(), spec, "kubernetes", "deployed");
    let upgraded = berth(
        &[&args[..], &["--out", "new", "--set", "version=99.0.0"]].concat(),
        dir.path(),
    );
    assert_exit(
        &upgraded,
        2,
        &[
            "error[plan/unsupported]",
            "the Job `cockroachdb-init` changes",
            "`[init] done_output`",
        ],
    );
    // The Job's template unchanged: nothing to run again, the plan is written.
    let moved = berth(
        &[&args[..], &["--out", "moved", "--replace", "cockroachdb-1"]].concat(),
        dir.path(),
    );
    assert_exit(&moved, 0, &[]);
}
