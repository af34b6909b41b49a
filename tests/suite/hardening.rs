//! Hardening: hostile input through every stage (a proptest harness: cargo-fuzz needs a nightly
//! toolchain this project does not have), injection round trips for every output format, writes
//! that leave either the old or the new output when interrupted, `--force`, secrets never written
//! as values, and the upgrade warnings of `diff --against`.
//!
//! `PROPTEST_CASES=100000 cargo test --release --test suite hardening` runs the generators longer by hand;
//! failing inputs are kept in `tests/suite/hardening.proptest-regressions` and replayed first.

use crate::common::*;
use berth::compile::{Outcome, Request, compile_text};
use proptest::prelude::*;
use serde_json::Value;
use std::process::Command;

fn request(backends: &[&str]) -> Request<'static> {
    Request {
        spec: "fuzz.toml".into(),
        set: vec![],
        values: None,
        backends: backends.iter().map(|b| b.to_string()).collect(),
        allow_read: vec![],
        deployed: None,
    }
}

/// What must hold for any input: no panic (the call returned), no files from a backend that
/// reported an error, and every file that was made parses in its format (a chart's templates
/// aside).
fn check(outcome: &Outcome) {
    if outcome.diagnostics.iter().any(|d| d.is_input_error()) {
        assert!(
            outcome.outputs.iter().all(|o| o.files.is_empty()),
            "files despite an input error"
        );
    }
    for output in &outcome.outputs {
        if output
            .diagnostics
            .iter()
            .any(|d| d.is_rule_error() || d.is_input_error())
        {
            assert!(
                output.files.is_empty(),
                "{} wrote files despite an error",
                output.backend
            );
        }
        // A chart's templates are Go templates: tests/suite/helm_chart.rs renders them with Helm.
        let data = output
            .files
            .iter()
            .filter(|f| !f.path.contains("/templates/"));
        for file in data {
            if file.path.ends_with(".yaml")
                || file.path.ends_with(".yml")
                || file.path == "Kustomization"
            {
                serde_saphyr::from_str::<Value>(&file.contents).unwrap_or_else(|e| {
                    panic!("{}/{}: {e}\n{}", output.backend, file.path, file.contents)
                });
            } else if file.path.ends_with(".json") {
                serde_json::from_str::<Value>(&file.contents)
                    .unwrap_or_else(|e| panic!("{}/{}: {e}", output.backend, file.path));
            }
        }
    }
    // Rendering diagnostics must not panic either (spans inside their files).
    let _ = berth::diagnostic::render_human(&outcome.diagnostics, &outcome.sources);
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Strings with everything that breaks out of a place in YAML, JSON, shell or handlebars, but not
/// `{{`/`}}` (those are templates by design, tested separately).
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("yes".to_string()),
        Just("0755".to_string()),
        Just("1_000".to_string()),
        Just("2024-01-01".to_string()),
        Just("~".to_string()),
        Just("---".to_string()),
        Just("- item".to_string()),
        Just("key: value".to_string()),
        Just("# not a comment".to_string()),
        Just("".to_string()),
        "[a-zA-Z0-9 '\"$`:#\\-\n\t\r\\\\{}\\[\\],.&*!|>%@üé雪✓;<()=?~^]{0,24}",
    ]
    .prop_filter("templates are tested apart", |s| {
        !s.contains("{{") && !s.contains("}}")
    })
}

fn choice(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(str::to_string)
}

/// Specs built from the language's own pieces, valid or nearly so.
fn spec() -> impl Strategy<Value = String> {
    (
        prop_oneof![3 => "[a-z][a-z0-9-]{0,12}", 1 => hostile()],
        0u32..8,
        choice(&["majority", "none", "most"]),
        choice(&["required", "preferred", "none"]),
        choice(&["parallel", "ordered"]),
        proptest::collection::vec(("[a-z]{1,6}", 0u32..70000, choice(&["public", "peers"])), 0..3),
        proptest::option::of((choice(&["1Gi", "500Mi", "10", "lots"]), proptest::option::of(choice(&["fast", ""])), any::<bool>())),
        proptest::option::of((choice(&["http", "tcp", "exec"]), any::<bool>())),
        proptest::collection::vec(hostile(), 0..4),
        proptest::collection::vec(("[A-Z][A-Z_]{0,8}", hostile(), any::<bool>()), 0..3),
        any::<bool>(),
        proptest::option::of(choice(&["kubernetes/no-spread", "docker/no-resources", "nope/nothing"])),
    )
        .prop_map(|(name, replicas, quorum, spread, start, ports, volume, health, args, env, init, allow)| {
            let mut s = format!("name = {}\n", toml_string(&name));
            s += &format!("[container]\nimage = \"x:1\"\ncommand = [\"/bin/x\"]\nargs = [{}]\n", args.iter().map(|a| toml_string(a)).collect::<Vec<_>>().join(", "));
            if !env.is_empty() {
                s += "[container.env]\n";
                for (key, value, secret) in &env {
                    if *secret {
                        s += &format!("{key} = {{ secret = \"s\", key = \"k\" }}\n");
                    } else {
                        s += &format!("{key} = {}\n", toml_string(value));
                    }
                }
            }
            for (port_name, number, expose) in &ports {
                s += &format!("[[ports]]\nname = \"{port_name}\"\nport = {number}\nexpose = \"{expose}\"\n");
            }
            if let Some((size, class, persistent)) = &volume {
                s += &format!("[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"{size}\"\npersistent = {persistent}\n");
                if let Some(class) = class {
                    s += &format!("class = \"{class}\"\n");
                }
            }
            s += &format!("[replication]\nreplicas = {replicas}\nquorum = \"{quorum}\"\nspread = \"{spread}\"\nstart = \"{start}\"\n");
            if let Some((kind, quorum)) = &health {
                let port = ports.first().map_or("none".to_string(), |p| p.0.clone());
                let check = match kind.as_str() {
                    "http" => format!("http = \"/h\"\nport = \"{port}\""),
                    "tcp" => format!("tcp = \"{port}\""),
                    _ => "exec = [\"true\"]".to_string(),
                };
                s += &format!("[health.liveness]\n{check}\n[health.readiness]\n{check}\nneeds_quorum = {quorum}\n");
            }
            if init {
                s += "[init]\ncommand = [\"/bin/init\", \"{{peers.[0].host}}\"]\n";
            }
            s += "[backends.cloudfoundry]\nvolume_services = { data = \"nfs\" }\n";
            if let Some(rule) = allow {
                s += &format!("[[allow]]\nrule = \"{rule}\"\nreason = \"fuzz\"\n");
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_refused_or_compiled_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        check(&compile_text(&request(&[]), String::from_utf8_lossy(&bytes).into_owned()));
    }

    #[test]
    fn mangled_examples_are_refused_or_compiled_never_a_panic(cut in 0usize..4000, insert in "[\\[\\]{}=\"'#\n a-z.]{0,6}") {
        let text = std::fs::read_to_string(root().join("examples/cockroachdb.toml")).unwrap();
        let at = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        check(&compile_text(&request(&[]), format!("{}{insert}{}", &text[..at], &text[at..])));
    }

    #[test]
    fn generated_specs_are_refused_or_compiled_never_a_panic(spec in spec()) {
        check(&compile_text(&request(&[]), spec));
    }

    /// Every hostile string in `args` and `env` comes back exactly from every output format.
    #[test]
    fn hostile_strings_come_back_exactly(strings in proptest::collection::vec(hostile(), 1..5)) {
        let spec = format!(
            "name = \"h\"\n[container]\nimage = \"x:1\"\ncommand = [\"/x\"]\nargs = [{}]\nenv = {{ V = {} }}\n[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"1Gi\"\nclass = \"c\"\n[backends.cloudfoundry]\nvolume_services = {{ data = \"nfs\" }}\n",
            strings.iter().map(|s| toml_string(s)).collect::<Vec<_>>().join(", "),
            toml_string(&strings.join("|")),
        );
        // Cloud Foundry cannot write `((` literally (`cf push` reads it as a variable): it must
        // refuse such a value, alone; the other backends must carry it.
        let cf_refuses = strings.iter().any(|s| s.contains("(("));
        let backends: &[&str] = if cf_refuses { &["kubernetes", "compose", "swarm", "marathon"] } else { &[] };
        if cf_refuses {
            let refused = compile_text(&request(&["cloudfoundry"]), spec.clone());
            prop_assert!(refused.outputs.iter().all(|o| o.files.is_empty()));
            prop_assert!(refused.diagnostics.iter().any(|d| d.is_input_error() && d.message.contains("`((`")));
        }
        let outcome = compile_text(&request(backends), spec);
        prop_assert!(!outcome.diagnostics.iter().any(|d| d.is_input_error()), "{:?}", outcome.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let file = |backend: &str, path: &str| -> String {
            let output = outcome.outputs.iter().find(|o| o.backend == backend).unwrap();
            output.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{backend}/{path}")).contents.clone()
        };
        let yaml = |backend: &str, path: &str| serde_saphyr::from_str::<Value>(&file(backend, path)).unwrap();
        let strs = |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
        // Kubernetes and the compose formats double `$` (their own expansion); undo that only.
        let undollar = |v: Vec<String>| -> Vec<String> { v.into_iter().map(|s| s.replace("$$", "$")).collect() };
        let sts = yaml("kubernetes", "40-statefulset-h.yaml");
        let container = &sts["spec"]["template"]["spec"]["containers"][0];
        prop_assert_eq!(undollar(strs(&container["args"])), strings.clone());
        prop_assert_eq!(container["env"][0]["value"].as_str().unwrap().replace("$$", "$"), strings.join("|"));
        for (backend, path) in [("compose", "compose.yaml"), ("swarm", "stack.yaml")] {
            let service = &yaml(backend, path)["services"]["h-0"];
            prop_assert_eq!(undollar(strs(&service["command"])), strings.clone());
            prop_assert_eq!(service["environment"]["V"].as_str().unwrap().replace("$$", "$"), strings.join("|"));
        }
        let app: Value = serde_json::from_str(&file("marathon", "h-0.json")).unwrap();
        prop_assert_eq!(strs(&app["args"]), strings.clone());
        prop_assert_eq!(app["env"]["V"].as_str().unwrap(), strings.join("|"));
        if !cf_refuses {
            let manifest = yaml("cloudfoundry", "manifest.yml");
            prop_assert_eq!(manifest["applications"][0]["env"]["V"].as_str().unwrap(), strings.join("|"));
        }
        // The shell quoting of run.sh, setup.sh and prepare-nodes.sh: sh hands back every byte.
        let quoted: Vec<String> = strings.iter().map(|s| berth::model::shell::shell_quote(s)).collect();
        let output = Command::new("/bin/sh").arg("-c").arg(format!("printf '%s\\0' {}", quoted.join(" "))).output().unwrap();
        let back: Vec<String> = output.stdout.split(|b| *b == 0).map(|s| String::from_utf8(s.to_vec()).unwrap()).collect();
        prop_assert_eq!(&back[..back.len() - 1], &strings[..]);
    }
}

#[test]
fn a_parameter_holding_braces_stays_data() {
    let spec = "name = \"t\"\n[params.p]\ndefault = \"{{self.host}} {{{{raw}}}}\"\n[container]\nimage = \"x:1\"\nargs = [\"--x={{params.p}}\"]\n[[volumes]]\nname = \"d\"\npath = \"/d\"\nsize = \"1Gi\"\nclass = \"c\"\n";
    let outcome = compile_text(&request(&["marathon"]), spec.to_string());
    assert_eq!(
        outcome.exit_code(),
        0,
        "{:?}",
        outcome
            .diagnostics
            .iter()
            .map(|d| &d.message)
            .collect::<Vec<_>>()
    );
    let app: Value = serde_json::from_str(
        &outcome.outputs[0]
            .files
            .iter()
            .find(|f| f.path == "t-0.json")
            .unwrap()
            .contents,
    )
    .unwrap();
    assert_eq!(app["args"][0], "--x={{self.host}} {{{{raw}}}}");
}

#[test]
fn secret_references_never_appear_as_values() {
    let spec = "name = \"s\"\n[container]\nimage = \"x:1\"\ncommand = [\"/x\"]\nenv = { DB_PASSWORD = { secret = \"vault-entry\", key = \"the-key\" } }\n[[volumes]]\nname = \"d\"\npath = \"/d\"\nsize = \"1Gi\"\nclass = \"c\"\n[backends.cloudfoundry]\nvolume_services = { d = \"nfs\" }\n";
    let outcome = compile_text(&request(&[]), spec.to_string());
    assert!(!outcome.diagnostics.iter().any(|d| d.is_input_error()));
    let mut checked = 0;
    for output in &outcome.outputs {
        for file in &output.files {
            for line in file.contents.lines() {
                let assigned = [
                    "DB_PASSWORD=",
                    "DB_PASSWORD: vault",
                    "DB_PASSWORD: the-key",
                    "\"DB_PASSWORD\": \"",
                    "value: vault-entry",
                    "value: the-key",
                ];
                assert!(
                    !assigned.iter().any(|a| line.contains(a)),
                    "{}/{}: a secret written as a value: {line}",
                    output.backend,
                    file.path
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6);
    let warned = compile_text(
        &request(&["kubernetes"]),
        spec.replace(
            "{ secret = \"vault-entry\", key = \"the-key\" }",
            "\"hunter2\"",
        ),
    );
    assert!(
        warned
            .diagnostics
            .iter()
            .any(|d| d.code == "spec/literal-secret"),
        "a literal password is a warning"
    );
}

#[test]
fn force_replaces_a_foreign_file_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out/kubernetes")).unwrap();
    std::fs::write(dir.path().join("out/kubernetes/Kustomization"), "mine").unwrap();
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    assert_exit(
        &compile_in(dir.path(), spec, &["--backend", "kubernetes"]),
        2,
        &[],
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/kubernetes/Kustomization")).unwrap(),
        "mine"
    );
    compile_ok(dir.path(), spec, &["--backend", "kubernetes", "--force"]);
    assert!(
        std::fs::read_to_string(dir.path().join("out/kubernetes/Kustomization"))
            .unwrap()
            .contains("resources:")
    );
    // The file is berth's now: no `--force` needed.
    compile_ok(dir.path(), spec, &["--backend", "kubernetes"]);
}

/// Interrupt a write after each possible number of renames: the directory holds either no
/// Kustomization, or one whose files are all old or all new. The next compile repairs it.
#[test]
fn an_interrupted_write_never_leaves_a_mix_that_kubectl_apply_k_would_take() {
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    let compile = |dir: &std::path::Path, extra: &[&str], interrupt: Option<usize>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command
            .args(["compile", spec, "--out", "out", "--backend", "kubernetes"])
            .args(extra)
            .current_dir(dir);
        if let Some(n) = interrupt {
            command.env("BERTH_TEST_INTERRUPT_AFTER", n.to_string());
        }
        command.output().unwrap()
    };
    let snapshot = |extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(compile(dir.path(), extra, None).status.code(), Some(0));
        tree(&dir.path().join("out/kubernetes"))
    };
    let old = snapshot(&[]);
    let new = snapshot(&["--set", "replicas=5", "--set", "version=v23.2.0"]);
    assert_ne!(old, new);
    let mut interrupted_somewhere = false;
    for n in 1..=10 {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(compile(dir.path(), &[], None).status.code(), Some(0));
        let output = compile(
            dir.path(),
            &["--set", "replicas=5", "--set", "version=v23.2.0"],
            Some(n),
        );
        if output.status.code() == Some(99) {
            interrupted_somewhere = true;
        }
        let now: Vec<(String, Vec<u8>)> = tree(&dir.path().join("out/kubernetes"))
            .into_iter()
            .filter(|(p, _)| !p.contains(".berth-tmp-"))
            .collect();
        if now.iter().any(|(p, _)| p == "Kustomization") {
            assert!(
                now == old || now == new,
                "after {n} renames the directory mixes old and new files under a Kustomization"
            );
        }
        assert_eq!(
            compile(
                dir.path(),
                &["--set", "replicas=5", "--set", "version=v23.2.0"],
                None
            )
            .status
            .code(),
            Some(0),
            "the next compile repairs it"
        );
        let repaired: Vec<(String, Vec<u8>)> = tree(&dir.path().join("out/kubernetes"))
            .into_iter()
            .filter(|(p, _)| !p.contains(".berth-tmp-"))
            .collect();
        assert_eq!(repaired, new);
        assert_no_staging_left(&dir.path().join("out"));
    }
    assert!(interrupted_somewhere, "the interruption hook never fired");
}

#[test]
fn diff_against_warns_about_changes_the_orchestrator_cannot_apply() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/cockroachdb.toml");
    let spec = spec.to_str().unwrap();
    compile_ok(
        dir.path(),
        spec,
        &["--backend", "kubernetes", "--backend", "marathon"],
    );
    let output = berth_ok(
        &[
            "diff",
            spec,
            "--backend",
            "kubernetes",
            "--backend",
            "marathon",
            "--against",
            "out",
            "--set",
            "storage_size=200Gi",
        ],
        dir.path(),
    );
    let said = stderr(&output);
    assert!(
        said.contains("warning[plan/statefulset-immutable]")
            && said.contains("`spec.volumeClaimTemplates`")
            && said.contains("berth plan --backend kubernetes"),
        "{said}"
    );
    assert_eq!(
        said.matches("warning[plan/marathon-volume-size]").count(),
        3,
        "{said}"
    );
    let output = diff_kubernetes_with(dir.path(), spec, "replicas=5");
    assert!(
        !stderr(&output).contains("-immutable]"),
        "replicas change in place: {}",
        stderr(&output)
    );
}

/// Everything under `dir`: each entry's relative path, kind, mode and bytes, sorted.
fn state(dir: &std::path::Path) -> Vec<(String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = path.symlink_metadata().unwrap();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let bytes = if meta.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            if meta.is_dir() {
                stack.push(path);
            }
            found.push((name, meta.permissions().mode(), bytes));
        }
    }
    found.sort();
    found
}

/// A directory holding the cockroachdb example's output, for a second compile to fail over.
fn compiled_once() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/cockroachdb.toml");
    compile_ok(dir.path(), spec.to_str().unwrap(), &[]);
    dir
}

/// Compiles the example with other values into `dir/out`, as `as_user` (a uid) if given.
fn compile_changed(
    dir: &std::path::Path,
    env: &[(&str, String)],
    as_user: Option<u32>,
) -> std::process::Output {
    let spec = root().join("examples/cockroachdb.toml");
    let berth_args = [
        "compile",
        spec.to_str().unwrap(),
        "--out",
        "out",
        "--force",
        "--set",
        "replicas=5",
    ];
    let mut command = match as_user {
        Some(uid) => {
            let mut command = Command::new("setpriv");
            command
                .args([
                    format!("--reuid={uid}"),
                    format!("--regid={uid}"),
                    "--clear-groups".into(),
                ])
                .arg(env!("CARGO_BIN_EXE_berth"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_berth")),
    };
    command.args(berth_args).current_dir(dir);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

/// Asserts that a compile failed with an output error naming `names`, and left `out` as `before`.
fn assert_failed_cleanly(
    output: &std::process::Output,
    out: &std::path::Path,
    before: &[(String, u32, Vec<u8>)],
    names: &str,
) {
    let err = stderr(output);
    assert_exit(output, 2, &[]);
    assert!(err.contains(names), "the message names `{names}`:\n{err}");
    assert!(
        !err.contains(".berth-staging-"),
        "the message names the staging directory:\n{err}"
    );
    let after = state(out);
    let differ: Vec<&String> = after
        .iter()
        .filter(|entry| !before.contains(entry))
        .chain(before.iter().filter(|entry| !after.contains(entry)))
        .map(|(name, _, _)| name)
        .collect();
    assert!(differ.is_empty(), "`--out` changed at {differ:?}:\n{err}");
}

#[test]
fn a_directory_where_a_file_goes_fails_before_anything_is_written() {
    let dir = compiled_once();
    let out = dir.path().join("out");
    std::fs::remove_file(out.join("compose/compose.yaml")).unwrap();
    std::fs::create_dir(out.join("compose/compose.yaml")).unwrap();
    let before = state(&out);
    let output = compile_changed(dir.path(), &[], None);
    assert_failed_cleanly(
        &output,
        &out,
        &before,
        "compose/compose.yaml` is a directory",
    );
}

#[test]
fn a_file_where_a_directory_goes_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("docker"), "mine\n").unwrap();
    let before = state(&out);
    let output = compile_changed(dir.path(), &[], None);
    assert_failed_cleanly(&output, &out, &before, "out/docker` is a file");
}

/// Every step of the commit, failed in turn as a full disk would fail it: the steps before it
/// are undone. A step past the last one lets the write succeed, which proves the loop covered all.
#[test]
fn a_failure_at_any_step_of_the_commit_leaves_out_as_it_was() {
    let mut succeeded = false;
    for step in 1..200 {
        let dir = compiled_once();
        let out = dir.path().join("out");
        let before = state(&out);
        let output = compile_changed(
            dir.path(),
            &[("BERTH_TEST_FAIL_AT", step.to_string())],
            None,
        );
        if output.status.code() == Some(0) {
            assert!(
                step > 10,
                "the write succeeded after {step} steps: the hook never fired"
            );
            succeeded = true;
            break;
        }
        assert_failed_cleanly(&output, &out, &before, "No space left on device");
    }
    assert!(succeeded, "some step count lets the write through");
}

/// A directory the user cannot write: refused before anything is written (root ignores modes,
/// so the test runs berth as `nobody` then).
#[test]
fn an_unwritable_out_names_it_and_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = compiled_once();
    let out = dir.path().join("out");
    let root_user = current_uid() == 0;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = state(&out);
    let output = compile_changed(dir.path(), &[], root_user.then_some(65534));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_failed_cleanly(&output, &out, &before, "Permission denied");
    assert!(stderr(&output).contains("`out`"), "{}", stderr(&output));
}

/// A subdirectory the user cannot write, found only while files move into place: the files
/// already moved go back.
#[test]
fn a_write_refused_midway_is_undone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = compiled_once();
    let out = dir.path().join("out");
    let uid = if current_uid() == 0 {
        65534
    } else {
        current_uid()
    };
    chown_tree(dir.path(), uid);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = state(&out);
    std::fs::set_permissions(out.join("swarm"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let output = compile_changed(dir.path(), &[], (current_uid() == 0).then_some(uid));
    std::fs::set_permissions(out.join("swarm"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_failed_cleanly(&output, &out, &before, "out/swarm/");
}

/// A full disk, for real: a 2 MiB tmpfs in a mount namespace of its own (needs root).
#[test]
fn a_full_disk_leaves_out_as_it_was() {
    if current_uid() != 0 {
        crate::common::engine::skip("mounting a tmpfs needs root");
        return;
    }
    let spec = root().join("examples/cockroachdb.toml");
    let script = format!(
        r#"set -e
mount -t tmpfs -o size=2m tmpfs "$1"
cd "$1"
"{berth}" compile "{spec}" --out out >/dev/null 2>&1
dd if=/dev/zero of=filler bs=1k count=$(( $(df -k --output=avail . | tail -1) - 40 )) 2>/dev/null
before=$(find out -printf '%p %m %s\n' | sort; find out -type f -exec sha256sum {{}} + | sort)
set +e
"{berth}" compile "{spec}" --out out --set replicas=7 --set version=v23.2.0 2>"$2"
code=$?
set -e
after=$(find out -printf '%p %m %s\n' | sort; find out -type f -exec sha256sum {{}} + | sort)
echo "exit $code"
[ "$before" = "$after" ] && echo same || echo changed
cat "$2"
"#,
        berth = env!("CARGO_BIN_EXE_berth"),
        spec = spec.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let messages = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", &script, "sh"])
        .arg(dir.path())
        .arg(messages.path())
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    assert!(text.starts_with("exit 2\nsame\n"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(!text.contains(".berth-staging-"), "{text}");
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

fn chown_tree(dir: &std::path::Path, uid: u32) {
    let status = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A secret file is referenced by name on every backend; its value, which berth never reads, is
/// in no file berth writes, not even when it lies beside the outputs where docker run and compose
/// read it.
#[test]
fn secret_files_are_referenced_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let value = "cookie-value-that-must-not-leak";
    for backend in ["docker", "compose"] {
        let secret = dir
            .path()
            .join(format!("out/{backend}/secrets/rabbitmq/cookie"));
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(&secret, value).unwrap();
    }
    let spec = root().join("examples/rabbitmq.toml");
    compile_ok(dir.path(), spec.to_str().unwrap(), &[]);
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/.berth-manifest.json")).unwrap(),
    )
    .unwrap();
    let written: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(written.len() > 20, "{written:?}");
    let mut all = String::new();
    for path in &written {
        assert!(!path.contains("secrets/"), "berth wrote {path}");
        let text = std::fs::read_to_string(dir.path().join("out").join(path)).unwrap();
        assert!(!text.contains(value), "{path} holds the secret's value");
        all.push_str(&text);
    }
    for reference in [
        "secrets/rabbitmq/cookie",  // docker run and compose: the user's file
        "secretName: rabbitmq",     // Kubernetes: the user's Secret
        "rabbitmq.cookie",          // Swarm: an external secret
        "rabbitmq/rabbitmq/cookie", // Marathon: the DC/OS secret store
        "((rabbitmq-cookie))",      // Cloud Foundry: a `cf push` variable
    ] {
        assert!(
            all.contains(reference),
            "no output references the secret as `{reference}`"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/docker/secrets/rabbitmq/cookie")).unwrap(),
        value,
        "the user's file is left alone"
    );
}

/// `diff --against` says what a changed file does to the members on each backend.
#[test]
fn diff_against_says_how_a_changed_file_reaches_the_members() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/rabbitmq.toml");
    let spec = spec.to_str().unwrap();
    compile_ok(dir.path(), spec, &[]);
    let output = berth(
        &[
            "diff",
            spec,
            "--against",
            "out",
            "--set",
            "partition_handling=autoheal",
        ],
        dir.path(),
    );
    let said = stderr(&output);
    for expected in [
        "`compose/files/rabbitmq-0/0-rabbitmq.conf` changes: `docker-compose up` recreates `rabbitmq-0`",
        "`swarm/files/rabbitmq-2/0-rabbitmq.conf` changes: the file is a new config: deploy.sh replaces `rabbitmq-2`, one member at a time",
        "`kubernetes/15-configmap-rabbitmq-files.yaml` changes: the pod template's `berth.dev/files` hash changes: the pods roll one at a time",
        "`docker/files/rabbitmq-1/0-rabbitmq.conf` changes: run.sh reports `rabbitmq-1`",
    ] {
        assert!(said.contains(expected), "{expected}\nnot in:\n{said}");
    }
}
