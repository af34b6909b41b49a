//! `berth plan` on Marathon, which has no engine here: the examples whose membership commands run
//! in one-off containers planned through growth, shrinking, an upgrade, a data move and a volume
//! size Marathon cannot change in place. Each `plan.sh` passes shellcheck; every app it puts
//! passes Marathon's `AppDefinition.json`; each `curl` it runs, against a server that does not
//! exist, fails to connect rather than on its arguments, with the files it sends; and a one-off run's
//! job carries the command's words as they are. The refusals: `run = "member"`, and a member that
//! leaves by an id read from a listing.

use crate::common::*;
use std::path::Path;
use std::process::Command;

fn berth_marathon(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--backend", "marathon"]);
    berth(&all, dir)
}

/// The script's head: its variables and functions, before the first step.
fn functions(script: &str) -> &str {
    &script[..script.find("\nstep ").unwrap()]
}

/// Runs `command` after the functions of `plan.sh`, in its directory, against Marathon and
/// Metronome at an address nothing listens on.
fn run_after_functions(out: &Path, script: &str, command: &str) -> std::process::Output {
    Command::new("sh")
        .current_dir(out)
        .arg("-c")
        .arg(format!("{}\n{command}\n", functions(script)))
        .env("MARATHON_URL", "http://127.0.0.1:1")
        .env("METRONOME_URL", "http://127.0.0.1:1")
        .env("DCOS_TOKEN", "berth-test")
        .output()
        .unwrap()
}

fn assert_plan_checks(out: &Path, app_schema: &Option<(std::path::PathBuf, std::path::PathBuf)>) {
    let script_path = out.join("plan.sh");
    if let Some(shellcheck) = tool("shellcheck") {
        run_ok(
            Command::new(shellcheck).arg(&script_path),
            "shellcheck plan.sh",
        );
    }
    let script = std::fs::read_to_string(&script_path).unwrap();
    let commands: Vec<&str> = script
        .lines()
        .filter_map(|l| l.strip_prefix("run "))
        .filter(|l| l.starts_with("marathon ") || l.starts_with("metronome "))
        .collect();
    assert!(
        !commands.is_empty(),
        "{}: no curl in the plan",
        out.display()
    );
    for command in commands {
        // curl says it cannot read a file, and goes on: the plan's files must be there.
        for file in command.split(' ').filter_map(|w| w.strip_prefix('@')) {
            assert!(out.join(file).is_file(), "`{command}`: no {file}");
        }
        let output = run_after_functions(out, &script, command);
        // curl's exit code 7: it could not connect. A bad option (2) is the plan's mistake.
        assert_eq!(
            output.status.code(),
            Some(7),
            "`{command}`: {}",
            stderr(&output)
        );
    }
    let apps: Vec<std::path::PathBuf> = std::fs::read_dir(out.join("plan"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".json")
                && !p.to_string_lossy().ends_with(".metronome.json")
        })
        .collect();
    if let (Some((schema, check)), false) = (app_schema, apps.is_empty()) {
        run_ok(
            Command::new(check)
                .args(["--validator-class", "jsonschema:Draft4Validator"])
                .arg("--schemafile")
                .arg(schema)
                .args(&apps),
            "check-jsonschema AppDefinition.json",
        );
    }
}

#[test]
fn marathon_plans_put_valid_apps_with_curl_commands_that_parse() {
    let schema = schema_checker("marathon/AppDefinition.json");
    for example in ["etcd", "cockroachdb", "kafka"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let spec = root().join(format!("examples/{example}.toml"));
        let text = std::fs::read_to_string(&spec).unwrap();
        let spec = spec.to_str().unwrap();
        assert_exit(
            &berth_marathon(d, &["compile", spec, "--out", "deployed"]),
            0,
            &[],
        );
        let moved = format!("{example}-1");
        let mut changes = vec![
            ("upgraded", "deployed", vec!["--set", "version=99.0.0"]),
            ("moved", "deployed", vec!["--replace", &moved]),
        ];
        if text.contains("[params.replicas]") {
            changes.push(("grown", "deployed", vec!["--set", "replicas=5"]));
            changes.push(("shrunk", "grown", vec![]));
        }
        if text.contains("[params.storage_size]") {
            changes.push(("disk", "deployed", vec!["--set", "storage_size=999Gi"]));
        }
        for (name, against, sets) in changes {
            let mut args = vec!["plan", spec, "--against", against, "--out", name];
            args.extend(sets);
            let output = berth_marathon(d, &args);
            let leaves = matches!(name, "moved" | "shrunk" | "disk");
            if example == "etcd" && leaves {
                assert_exit(
                    &output,
                    2,
                    &["error[plan/unsupported]", "`[membership.id]`"],
                );
                continue;
            }
            assert_exit(&output, 0, &[]);
            let out = d.join(name).join("marathon");
            assert_plan_checks(&out, &schema);
            let script = std::fs::read_to_string(out.join("plan.sh")).unwrap();
            if name == "disk" {
                // Marathon refuses a new volume size on a resident app: each member moves.
                for o in (0..3).rev() {
                    let member = format!("{example}-{o}");
                    assert_contains(
                        &script,
                        &format!("run marathon DELETE /v2/apps/{example}/{member}\n"),
                    );
                    assert_contains(
                        &script,
                        &format!("run marathon PUT /v2/apps/{example}/{member} "),
                    );
                }
            }
        }
    }
}

/// A membership command's words reach the one-off job's `args` as they are, its first word as
/// the job's entrypoint, through the plan's own `oneoff` with a Metronome that records the job.
#[test]
fn a_one_off_run_carries_the_command_word_for_word() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    assert_exit(
        &berth_marathon(d, &["compile", spec, "--out", "deployed"]),
        0,
        &[],
    );
    let output = berth_marathon(
        d,
        &[
            "plan",
            spec,
            "--against",
            "deployed",
            "--out",
            "next",
            "--set",
            "version=99.0.0",
        ],
    );
    assert_exit(&output, 0, &[]);
    let out = d.join("next/marathon");
    let script = std::fs::read_to_string(out.join("plan.sh")).unwrap();
    let recording = r#"
metronome() {
  case "$1 $2" in
    "PUT /v1/jobs/$job") cat "${4#@}" >recorded.json ;;
    "POST /v1/jobs/$job/runs") echo '{"id": "run-1"}' ;;
    "GET /v1/jobs/$job/runs/run-1") return 22 ;;
    *) echo '{"history": {"successfulFinishedRuns": [{"id": "run-1"}]}}' ;;
  esac
}
oneoff cockroachdb-0 /bin/prog 'two words' '$(touch pwned)' "it's" '' --insecure -e --args --
"#;
    let ran = run_after_functions(&out, &script, recording);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let job: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("recorded.json")).unwrap()).unwrap();
    assert_eq!(
        job["run"]["args"],
        serde_json::json!([
            "two words",
            "$(touch pwned)",
            "it's",
            "",
            "--insecure",
            "-e",
            "--args",
            "--"
        ])
    );
    assert_eq!(
        job["run"]["docker"]["parameters"],
        serde_json::json!([{"key": "entrypoint", "value": "/bin/prog"}])
    );
    assert_eq!(job["id"], "cockroachdb-plan");
    assert!(!out.join("pwned").exists());

    // A run Metronome does not start, or a job it refuses, is a failed command, never a pass.
    for refusing in [
        r#"metronome() { case "$1" in POST) echo '{}' ;; *) echo '{"history": {"successfulFinishedRuns": []}}' ;; esac; }"#,
        r#"metronome() { case "$1" in PUT) return 22 ;; POST) echo '{"id": "run-1"}' ;; GET) return 22 ;; esac; }"#,
    ] {
        let command = format!("{refusing}\nif oneoff cockroachdb-0 /bin/prog; then exit 1; fi");
        let ran = run_after_functions(&out, &script, &command);
        assert!(ran.status.success(), "{refusing}: oneoff passed");
    }
}

#[test]
fn a_marathon_plan_refuses_commands_inside_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = root().join("examples/rabbitmq.toml");
    let spec = spec.to_str().unwrap();
    assert_exit(
        &berth_marathon(d, &["compile", spec, "--out", "deployed"]),
        0,
        &[],
    );
    let output = berth_marathon(d, &["plan", spec, "--against", "deployed", "--out", "next"]);
    assert_exit(&output, 2, &["error[plan/unsupported]", "run = \"member\""]);
}
