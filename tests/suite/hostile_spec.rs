//! Hostile specs (issue 31): each reproducer of an attack through a spec's values is refused or
//! lands as data; berth's own scripts put every value in a context its quoting fits;
//! and hostile strings, compiled for docker, swarm and Cloud Foundry, run nothing when the
//! scripts run under dash, busybox sh and bash with fake tools.

use crate::common::*;
use berth::compile::{Outcome, Request, compile_text};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn request(backends: &[&str]) -> Request<'static> {
    Request {
        spec: "hostile.toml".into(),
        backends: backends.iter().map(|b| b.to_string()).collect(),
        ..Default::default()
    }
}

/// A valid spec with `extra` appended (TOML tables after the base).
fn spec(container: &str, extra: &str) -> String {
    format!(
        "name = \"h\"\n[container]\nimage = \"x:1\"\ncommand = [\"/x\"]\n{container}\n[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"1Gi\"\nclass = \"c\"\n[backends.cloudfoundry]\nvolume_services = {{ data = \"nfs\" }}\n{extra}"
    )
}

fn codes(outcome: &Outcome) -> Vec<String> {
    outcome.diagnostics.iter().map(|d| d.code.clone()).collect()
}

#[track_caller]
fn assert_refused(outcome: &Outcome, code: &str, words: &str) {
    let found = outcome
        .diagnostics
        .iter()
        .find(|d| d.code == code && d.message.contains(words));
    assert!(
        found.is_some(),
        "expected `{code}` saying `{words}`, got {:?}",
        outcome
            .diagnostics
            .iter()
            .map(|d| (&d.code, &d.message))
            .collect::<Vec<_>>()
    );
    assert_ne!(outcome.exit_code(), 0);
    assert!(outcome.outputs.iter().all(|o| o.files.is_empty()));
}

#[test]
fn a_tls_secret_that_is_no_name_is_refused() {
    for secret in [
        "x\" ; touch PWNED ; echo \"",
        "x$(touch PWNED)",
        "a b",
        "-x",
        "UPPER",
    ] {
        let outcome = compile_text(
            &request(&["docker"]),
            spec(
                "",
                &format!(
                    "[tls]\nsecret = {}\npath = \"/certs\"\n",
                    toml::Value::String(secret.into())
                ),
            ),
        );
        assert_refused(&outcome, "spec/invalid-name", "tls.secret");
    }
}

#[test]
fn images_that_read_as_options_are_refused() {
    let init = compile_text(
        &request(&["docker"]),
        spec(
            "",
            "[init]\nimage = \"--privileged\"\ncommand = [\"/bin/sh\", \"--volume=/:/host\", \"alpine:3\", \"-c\", \"chroot /host id\"]\n",
        ),
    );
    assert_refused(&init, "spec/invalid-value", "init.image");
    let per_member = compile_text(
        &request(&[]),
        spec("", "").replace(
            "image = \"x:1\"",
            "image = \"--volume=/:/h{{self.ordinal}}\"",
        ),
    );
    assert_refused(&per_member, "spec/invalid-value", "container.image");
}

/// berth's own scripts are written by Rust (`berth_backends_shared::script::Script`), not
/// templates: no backend holds a `.hbs` file, and the fixed shell text beside a backend (its
/// `.sh` files, included whole) holds no placeholder: every `{{` in it is a Go template of
/// docker's own, inside single quotes.
#[test]
fn script_bodies_hold_no_placeholder() {
    let mut checked = 0;
    for backend in std::fs::read_dir(root().join("backends")).unwrap() {
        for file in std::fs::read_dir(backend.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".hbs"),
                "{}: a script template",
                path.display()
            );
            if !name.ends_with(".sh") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (offset, context) in expression_contexts(&text) {
                assert_eq!(
                    context,
                    Quoting::Single,
                    "{}: `{{{{` at byte {offset} is no docker format string: {}",
                    path.display(),
                    text[offset..].lines().next().unwrap_or("")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} script bodies found");
}

/// Every branch of docker's, swarm's and Cloud Foundry's scripts (every example, started in
/// parallel and in order, the spec with every feature, and hostile values) is written where
/// debug assertions are on, which is where `Script` follows the shell's quoting through berth's
/// fixed text and panics on a value that would stand inside quotes, backquotes or a comment.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the quoting checks run only with debug assertions"
)]
fn script_values_stand_only_where_their_quoting_fits() {
    // (name, where the spec stands, its text): `[[files]] source` reads beside the spec.
    let mut specs: Vec<(String, PathBuf, String)> = Vec::new();
    for (name, path) in crate::common::examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        let ordered = text.replace("start = \"parallel\"", "start = \"ordered\"");
        let ordered = if ordered.contains("start = \"ordered\"") {
            ordered
        } else {
            ordered.replacen("[replication]", "[replication]\nstart = \"ordered\"", 1)
        };
        specs.push((format!("{name}, ordered"), path.clone(), ordered));
        specs.push((name, path, text));
    }
    let everything = root().join("tests/specs/everything.toml");
    let text = std::fs::read_to_string(&everything).unwrap();
    specs.push(("everything".into(), everything, text));
    specs.push((
        "hostile".into(),
        PathBuf::from("hostile.toml"),
        spec(
            "args = [\"it's \\\"$HOME\\\"\", \"`id`\\n# x; touch PWNED\"]\n[container.env]\nA = \"a'b\\\"c$(touch PWNED)\"\nS = { secret = \"s.1\", key = \"k-1\" }\n",
            "[[allow]]\nrule = \"spec/unexpanded-variable\"\nreason = \"the test hands `$` over as text\"\n[init]\ncommand = [\"/x\", \"'\\\"$(touch PWNED)\"]\n[[files]]\npath = \"/etc/s\"\nsecret = \"s.1\"\nkey = \"k-1\"\n",
        ),
    ));
    // One backend at a time: a spec that leaves one out of its `targets`, or that one refuses,
    // still has its scripts written by the others.
    let mut scripts = 0;
    for (_, path, text) in &specs {
        for backend in ["docker", "swarm", "cloudfoundry"] {
            let mut request = request(&[backend]);
            request.spec = path.clone();
            let outcome = compile_text(&request, text.clone());
            scripts += outcome
                .outputs
                .iter()
                .flat_map(|o| &o.files)
                .filter(|f| f.path.ends_with(".sh"))
                .count();
        }
    }
    // 18 specs: 2 scripts each for docker and swarm, 1 for Cloud Foundry, unless refused.
    assert!(scripts >= 80, "only {scripts} scripts written");
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Quoting {
    Unquoted,
    Single,
    Double,
    Comment,
}

/// The shell quoting in force at each `{{` of a script body (none is escaped: a body is plain
/// shell, which nothing renders). `$(...)` opens a context of its own, even inside `"..."`.
fn expression_contexts(text: &str) -> Vec<(usize, Quoting)> {
    let bytes = text.as_bytes();
    let (mut state, mut found, mut i) = (Quoting::Unquoted, Vec::new(), 0);
    let mut outer = Vec::new();
    while i < bytes.len() {
        if text[i..].starts_with("{{") {
            found.push((i, state));
            i += 2;
            continue;
        }
        let c = bytes[i];
        match (state, c) {
            (Quoting::Unquoted | Quoting::Double, b'\\') => i += 1,
            (Quoting::Unquoted | Quoting::Double, b'$') if bytes.get(i + 1) == Some(&b'(') => {
                outer.push(state);
                state = Quoting::Unquoted;
                i += 1;
            }
            (Quoting::Unquoted, b'(') => outer.push(Quoting::Unquoted),
            (Quoting::Unquoted, b')') => state = outer.pop().unwrap_or(Quoting::Unquoted),
            (Quoting::Unquoted, b'\'') => state = Quoting::Single,
            (Quoting::Unquoted, b'"') => state = Quoting::Double,
            (Quoting::Unquoted, b'#') if i == 0 || b" \t\n;".contains(&bytes[i - 1]) => {
                state = Quoting::Comment
            }
            (Quoting::Single, b'\'') | (Quoting::Double, b'"') | (Quoting::Comment, b'\n') => {
                state = Quoting::Unquoted
            }
            _ => {}
        }
        i += 1;
    }
    found
}

#[test]
fn the_body_scanner_sees_quotes() {
    let contexts: Vec<Quoting> = expression_contexts(
        "a {{x}} \"{{y}}\" '{{z}}' # {{c}}\n\\'{{n}} \"$(f '{{s}}' \"{{d}}\")\"",
    )
    .into_iter()
    .map(|(_, q)| q)
    .collect();
    assert_eq!(
        contexts,
        [
            Quoting::Unquoted,
            Quoting::Double,
            Quoting::Single,
            Quoting::Comment,
            Quoting::Unquoted,
            Quoting::Single,
            Quoting::Double
        ]
    );
}

/// An `[[allow]]` reason reaches each file's header comment: no character a YAML reader takes as
/// a line break may carry it out of the comment.
#[test]
fn an_allow_reason_stays_inside_its_comment() {
    let payload = "ok\u{2028}kind: ClusterRoleBinding\u{2029}x: 1\u{85}y: 2\u{c}\u{b}z: 3\r\nw: 4";
    let outcome = compile_text(
        &request(&["kubernetes", "compose"]),
        spec(
            "",
            &format!(
                "[[allow]]\nrule = \"compose/no-resources\"\nreason = {0}\n[[allow]]\nrule = \"kubernetes/no-resources\"\nreason = {0}\n",
                toml::Value::String(payload.into())
            ),
        ),
    );
    assert_eq!(outcome.exit_code(), 0, "{:?}", codes(&outcome));
    let mut checked = 0;
    for output in &outcome.outputs {
        for file in output.files.iter().filter(|f| f.path.ends_with(".yaml")) {
            let header: Vec<&str> = file
                .contents
                .lines()
                .take_while(|l| l.starts_with('#'))
                .collect();
            if let Some(reason) = header.iter().find(|l| l.contains("allowed by the spec")) {
                assert!(reason.contains("ClusterRoleBinding") && reason.contains("w: 4"));
                checked += 1;
            }
            assert!(
                !file
                    .contents
                    .contains(['\u{2028}', '\u{2029}', '\u{85}', '\u{c}', '\u{b}']),
                "{}/{}",
                output.backend,
                file.path
            );
            let value: serde_json::Value = serde_saphyr::from_str(&file.contents).unwrap();
            assert!(value.get("x").is_none() && value.get("w").is_none());
        }
    }
    assert!(checked >= 2, "{checked} headers carry the reason");
}

fn source_spec(source: &str) -> String {
    spec(
        "",
        &format!(
            "[[files]]\npath = \"/etc/x.conf\"\nsource = {}\n",
            toml::Value::String(source.into())
        ),
    )
}

/// `[[files]] source` reads regular files inside the spec's folder; elsewhere only from a folder
/// `--allow-read` names, with a warning; never a device or a FIFO.
#[test]
fn files_source_reads_only_inside_the_spec_folder() {
    let dir = tempfile::tempdir().unwrap();
    let spec_dir = dir.path().join("spec");
    std::fs::create_dir(&spec_dir).unwrap();
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    write(&dir.path().join("elsewhere"), "x", "outside\n");
    write(&spec_dir, "inside.conf", "inside\n");
    std::os::unix::fs::symlink("../elsewhere/x", spec_dir.join("link")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", spec_dir.join("zero")).unwrap();
    let fifo = std::ffi::CString::new(spec_dir.join("fifo").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let compile = |source: &str, extra: &[&str]| {
        let spec = write(&spec_dir, "s.toml", &source_spec(source));
        compile_in(dir.path(), spec.to_str().unwrap(), extra)
    };
    let canary = "BERTH_TEST_CANARY";
    for source in [
        "/etc/passwd",
        "../elsewhere/x",
        "link",
        "/proc/self/environ",
        "zero",
        "fifo",
    ] {
        let output = compile(source, &["--backend", "kubernetes"]);
        assert_exit(&output, 2, &["files.source"]);
        assert!(!stderr(&output).contains(canary) && !stderr(&output).contains("root:"));
    }
    assert!(!dir.path().join("out").exists());
    assert_exit(
        &compile("inside.conf", &["--backend", "kubernetes"]),
        0,
        &[],
    );
    let allowed = compile(
        "link",
        &[
            "--backend",
            "kubernetes",
            "--allow-read",
            dir.path().join("elsewhere").to_str().unwrap(),
        ],
    );
    assert_exit(&allowed, 0, &["spec/read-outside", "elsewhere/x"]);
}

/// Templates that recurse or nest without bound are refused before the engine parses them:
/// exit 2, no crash, nothing left in `--out`.
#[test]
fn templates_cannot_recurse_or_nest_without_bound() {
    let deep_if = format!(
        "{}x{}",
        "{{#if true}}".repeat(20_000),
        "{{/if}}".repeat(20_000)
    );
    let deep_sub = format!(
        "{{{{add {}1 1{}}}}}",
        "(add 1 ".repeat(5_000),
        ")".repeat(5_000)
    );
    let dir = tempfile::tempdir().unwrap();
    for template in [
        "{{#*inline \"r\"}}{{> r}}{{/inline}}{{> r}}".to_string(),
        "{{> r}}".to_string(),
        deep_if,
        deep_sub,
    ] {
        let text = spec(&format!("args = [{}]", toml::Value::String(template)), "");
        let spec = write(dir.path(), "t.toml", &text);
        let output = compile_in(dir.path(), spec.to_str().unwrap(), &[]);
        assert_exit(&output, 2, &["spec/invalid-template"]);
        assert!(!dir.path().join("out").exists());
    }
}

/// Loops that write nothing cost time all the same: `{{#each}}` nested deep over the members is
/// priced before it runs and refused; and an expression that never closes, repeated, is read
/// once, not once for each `{{`.
#[test]
fn loops_and_unclosed_expressions_cannot_stall_a_compile() {
    let bomb = format!(
        "{}x{}",
        "{{#each @root.peers}}".repeat(24),
        "{{/each}}".repeat(24)
    );
    let text = spec(
        &format!("args = [{}]", toml::Value::String(bomb)),
        "[replication]\nreplicas = 3\nspread = \"none\"\n",
    );
    assert_refused(
        &compile_text(&request(&[]), text),
        "spec/limit",
        "`{{#each}}` 24 deep",
    );
    let dir = tempfile::tempdir().unwrap();
    for unclosed in ["{{x".repeat(64_000), "{{add ".repeat(16_000)] {
        let spec = write(
            dir.path(),
            "u.toml",
            &spec(&format!("args = [{}]", toml::Value::String(unclosed)), ""),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["check", spec.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A guard against a hang, not a measure of speed.
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > std::time::Duration::from_secs(60) {
                let _ = child.kill();
                panic!("`berth check` still runs after a minute");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(child.wait().unwrap().code(), Some(2));
    }
}

/// Output that grows with the cube of `replicas` stops at berth's limit, naming the member and
/// the template, instead of exhausting memory.
#[test]
fn output_that_grows_with_the_cube_of_replicas_is_refused() {
    let file =
        "{{#each peers}}{{#each ../peers}}{{this.host}}.example.internal:2380,{{/each}}\n{{/each}}";
    let text = spec(
        "",
        &format!(
            "[replication]\nreplicas = 300\nquorum = \"none\"\n[[files]]\npath = \"/etc/members\"\ncontent = {}\n",
            toml::Value::String(file.into())
        ),
    );
    let outcome = compile_text(&request(&[]), text);
    let limit = outcome
        .diagnostics
        .iter()
        .find(|d| d.code == "spec/limit")
        .unwrap_or_else(|| panic!("{:?}", codes(&outcome)));
    assert!(
        limit.message.contains("for member `h-"),
        "{}",
        limit.message
    );
    assert!(limit.span.is_some());
    assert!(outcome.outputs.iter().all(|o| o.files.is_empty()));
}

/// A large file without expressions, copied for each of many members, counts too.
#[test]
fn a_large_file_copied_for_every_member_is_refused() {
    let text = spec(
        "",
        &format!(
            "[replication]\nreplicas = 1000\nquorum = \"none\"\n[[files]]\npath = \"/etc/big\"\ncontent = \"{}\"\n",
            "a".repeat(300 * 1024)
        ),
    );
    let outcome = compile_text(&request(&["compose"]), text);
    let limit = outcome.diagnostics.iter().find(|d| d.code == "spec/limit");
    assert!(
        limit.is_some_and(|d| d.message.contains("for member `h-")),
        "{:?}",
        codes(&outcome)
    );
    assert!(outcome.outputs.iter().all(|o| o.files.is_empty()));
}

#[test]
fn secret_variables_need_shell_variable_names() {
    for name in ["\"db.password\"", "\"--split-string\"", "\"A-B\""] {
        let outcome = compile_text(
            &request(&["docker"]),
            spec(
                &format!("env = {{ {name} = {{ secret = \"s\", key = \"k\" }} }}"),
                "",
            ),
        );
        assert_refused(&outcome, "spec/invalid-name", "secret env name");
    }
    // run.sh and plan.sh take a secret from the caller's environment under its name: not one of
    // their own variables (a plan's `member`, `timeout`), nor one the shell or docker reads.
    for (name, why) in [
        ("timeout", "is a variable of berth's own scripts"),
        ("member", "is a variable of berth's own scripts"),
        ("PATH", "is read by the shell"),
        ("IFS", "is read by the shell"),
        (
            "DOCKER_HOST",
            "is read by the shell or a program the scripts run",
        ),
        (
            "COMPOSE_PROJECT_NAME",
            "is read by the shell or a program the scripts run",
        ),
    ] {
        let outcome = compile_text(
            &request(&["docker"]),
            spec(
                &format!("env = {{ {name} = {{ secret = \"s\", key = \"k\" }} }}"),
                "",
            ),
        );
        assert_refused(
            &outcome,
            "spec/invalid-name",
            &format!("secret env name `{name}` {why}"),
        );
    }
    for name in ["Db_Password", "db_password"] {
        let outcome = compile_text(
            &request(&["docker"]),
            spec(
                &format!("env = {{ {name} = {{ secret = \"s\", key = \"k\" }} }}"),
                "",
            ),
        );
        let codes = codes(&outcome);
        assert!(
            !codes.contains(&"spec/invalid-name".to_string()),
            "{name}: {codes:?}"
        );
    }
    let literal = compile_text(
        &request(&["cloudfoundry"]),
        spec("env = { \"--chdir\" = \"/\" }", ""),
    );
    assert_refused(&literal, "spec/invalid-name", "--chdir");
}

#[test]
fn secret_names_never_leave_their_folder() {
    for (secret, key) in [(".", "k"), ("..", "k"), ("s", ".."), ("-s", "k")] {
        let env = compile_text(
            &request(&["docker"]),
            spec(
                &format!("env = {{ P = {{ secret = \"{secret}\", key = \"{key}\" }} }}"),
                "",
            ),
        );
        assert_refused(&env, "spec/invalid-value", "secret reference");
        let file = compile_text(
            &request(&["docker"]),
            spec(
                "",
                &format!("[[files]]\npath = \"/k\"\nsecret = \"{secret}\"\nkey = \"{key}\"\n"),
            ),
        );
        assert_refused(&file, "spec/invalid-value", "files.");
    }
}

#[test]
fn small_values_that_break_their_context_are_refused() {
    let cases = [
        (
            spec("args = [\"a\\u0000b\"]", ""),
            "spec/invalid-value",
            "NUL",
        ),
        (
            spec("args = [\"\\U000F0000CF_INSTANCE_INDEX\\U000F0001\"]", ""),
            "spec/invalid-value",
            "private use",
        ),
        (
            spec("", "[[files]]\npath = \"/etc/app/\"\ncontent = \"x\"\n"),
            "spec/invalid-value",
            "ends with `/`",
        ),
        (
            spec("args = [\"{{add 9223372036854775807 1}}\"]", ""),
            "spec/invalid-template",
            "overflows",
        ),
    ];
    for (text, code, words) in cases {
        assert_refused(&compile_text(&request(&[]), text), code, words);
    }
    // `cf push` fills `((NAME))` anywhere, also after a third `(`, and also with the name of a
    // secret the spec declares.
    for container in [
        "env = { V = \"((v-k))\" }",
        "args = [\"(((foo))\"]",
        "args = [\"--banner=((db-pw))\"]\nenv = { P = { secret = \"db\", key = \"pw\" } }",
    ] {
        let variable = compile_text(&request(&["cloudfoundry"]), spec(container, ""));
        assert_refused(&variable, "spec/invalid-value", "a value holds `((`");
    }
    let declared = compile_text(
        &request(&["cloudfoundry"]),
        spec("env = { P = { secret = \"db\", key = \"pw\" } }", ""),
    );
    assert_eq!(declared.exit_code(), 0, "{:?}", codes(&declared));
}

#[test]
fn file_contents_too_large_for_their_platform_are_refused() {
    let large = |kib: usize| {
        spec(
            "",
            &format!(
                "[[files]]\npath = \"/etc/big\"\ncontent = \"{}\"\n",
                "a".repeat(kib * 1024)
            ),
        )
    };
    for backend in ["marathon", "cloudfoundry"] {
        let outcome = compile_text(&request(&[backend]), large(130));
        assert_refused(&outcome, "spec/limit", "one argument");
    }
    let config_map = compile_text(&request(&["kubernetes"]), large(1100));
    assert_refused(&config_map, "spec/limit", "ConfigMap");
    assert_eq!(
        compile_text(&request(&["kubernetes"]), large(100)).exit_code(),
        0
    );
}

/// Compose and `docker stack deploy` interpolate `$` in every value: a path or driver holding
/// `${VAR}` reaches them as the literal text, never as the operator's variable.
#[test]
fn compose_never_interpolates_a_value_of_the_spec() {
    let allow = "[[allow]]\nrule = \"spec/unexpanded-variable\"\nreason = \"the test hands `$` over as text\"\n";
    let text = spec("args = [\"${HOME}\"]", allow).replace(
        "path = \"/data\"",
        "path = \"/data/${AWS_SECRET_ACCESS_KEY}\"",
    );
    let outcome = compile_text(&request(&["compose", "swarm"]), text);
    assert_eq!(outcome.exit_code(), 0, "{:?}", codes(&outcome));
    for output in &outcome.outputs {
        for file in output.files.iter().filter(|f| f.path.ends_with(".yaml")) {
            let interpolations = file.contents.matches("${").count();
            let escaped = file.contents.matches("$${").count();
            assert_eq!(interpolations, escaped, "{}/{}", output.backend, file.path);
            assert!(escaped >= 1, "{}/{}", output.backend, file.path);
        }
    }
}

/// Strings that break out of a shell context if quoted wrongly.
fn payload() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x\" ; touch PWNED ; echo \"".to_string()),
        Just("$(touch PWNED)".to_string()),
        Just("`touch PWNED`".to_string()),
        Just("'; touch PWNED; '".to_string()),
        Just("\\'; touch PWNED; #".to_string()),
        Just("--privileged".to_string()),
        Just("a\nb; touch PWNED".to_string()),
        Just("${PATH}".to_string()),
        "[ -~\n\t]{0,12}".prop_map(|s| format!("{s}$(touch PWNED)")),
    ]
    .prop_filter("templates are tested apart", |s| {
        !s.contains("{{") && !s.contains("}}")
    })
}

/// The shells the scripts must run under: Debian's `sh`, busybox's and bash.
fn shells() -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for shell in [vec!["dash"], vec!["busybox", "sh"], vec!["bash"]] {
        match tool(shell[0]) {
            Some(path) => {
                let mut argv = vec![path.to_string_lossy().into_owned()];
                argv.extend(shell[1..].iter().map(|s| s.to_string()));
                found.push(argv);
            }
            None => return Vec::new(),
        }
    }
    found
}

/// A `docker` and a `cf` that log their arguments (NUL-separated, a call per 0x1E) and succeed,
/// except that nothing exists yet.
const FAKE_TOOL: &str = "#!/bin/sh\n{ printf '%s\\0' \"$@\"; printf '\\036\\0'; } >> \"$FAKE_LOG\"\ncase \"$1 $2\" in *inspect*|\"app \"*|\"service \"*) exit 1 ;; esac\nexit 0\n";

fn run_script(shell: &[String], script: &Path, bin: &Path, log: &Path) -> std::process::Output {
    Command::new(&shell[0])
        .args(&shell[1..])
        .arg(script)
        .arg("stack")
        .current_dir(script.parent().unwrap())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("FAKE_LOG", log)
        .env("SECRET_VALUE", "s")
        .output()
        .unwrap()
}

/// What a YAML 1.1 reader (PyYAML's `safe_load`) reads back of the member's last argument and
/// variable `V` in the compose file, the StatefulSet and the Cloud Foundry manifest.
fn read_back_with_pyyaml(python: &Path, out: &Path) -> serde_json::Value {
    let script = "import json, sys, yaml\n\
        load = lambda p: yaml.safe_load(open(sys.argv[1] + '/' + p))\n\
        c = load('compose/compose.yaml')['services']['h-0']\n\
        k = load('kubernetes/40-statefulset-h.yaml')['spec']['template']['spec']['containers'][0]\n\
        f = load('cloudfoundry/manifest.yml')['applications'][0]\n\
        print(json.dumps({'compose': {'command': c['command'][-1], 'env': c['environment']['V']},\n\
          'kubernetes': {'args': k['args'][-1]}, 'cloudfoundry': {'env': f['env']['V']}}))\n";
    let output = Command::new(python)
        .args(["-c", script])
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Hostile strings in args, env values, file contents, the health command and the init
    /// command, compiled for docker, swarm and Cloud Foundry: each script runs under three
    /// shells with fake tools, creates no file, and hands the values to docker exactly.
    #[test]
    fn scripts_hand_hostile_values_over_as_data(values in proptest::collection::vec(payload(), 4)) {
        let shells = shells();
        if shells.is_empty() {
            return Ok(());
        }
        let q = |s: &str| toml::Value::String(s.into()).to_string();
        let text = spec(
            &format!("args = [{}]\nenv = {{ V = {}, SECRET_VALUE = {{ secret = \"s\", key = \"k\" }} }}", q(&values[0]), q(&values[1])),
            &format!(
                "[[allow]]\nrule = \"spec/unexpanded-variable\"\nreason = \"the test hands `$` over as text\"\n[[files]]\npath = \"/etc/f\"\ncontent = {}\n[health.liveness]\nexec = [\"/bin/check\", {}]\nneeds_peers = false\n[init]\ncommand = [\"/bin/init\", {}]\nenv = {{ W = {} }}\n",
                q(&values[2]), q(&values[3]), q(&values[0]), q(&values[1])
            ),
        );
        let dir = tempfile::tempdir().unwrap();
        let spec = write(dir.path(), "h.toml", &text);
        let output = compile_in(dir.path(), spec.to_str().unwrap(), &["--backend", "docker", "--backend", "swarm", "--backend", "cloudfoundry", "--backend", "compose", "--backend", "kubernetes"]);
        prop_assert!(output.status.success(), "{}", stderr(&output));
        if let Some(python) = tool("python3") {
            let read = read_back_with_pyyaml(&python, &dir.path().join("out"));
            let undollar = |v: &serde_json::Value| v.as_str().unwrap_or_default().replace("$$", "$");
            prop_assert_eq!(undollar(&read["compose"]["command"]), values[0].clone());
            prop_assert_eq!(undollar(&read["compose"]["env"]), values[1].clone());
            prop_assert_eq!(undollar(&read["kubernetes"]["args"]), values[0].clone());
            prop_assert_eq!(read["cloudfoundry"]["env"].as_str(), Some(&values[1][..]));
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for tool in ["docker", "cf"] {
            write(&bin, tool, FAKE_TOOL);
            std::fs::set_permissions(bin.join(tool), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let out = dir.path().join("out");
        for shell in &shells {
            for script in ["docker/run.sh", "docker/down.sh", "cloudfoundry/setup.sh", "swarm/prepare-nodes.sh"] {
                let log = dir.path().join("log");
                let _ = std::fs::remove_file(&log);
                let ran = run_script(shell, &out.join(script), &bin, &log);
                prop_assert!(!tree(dir.path()).iter().any(|(path, _)| path.ends_with("PWNED")), "{script} under {shell:?} ran a command: {}", stderr(&ran));
                if script == "docker/run.sh" {
                    prop_assert!(ran.status.success(), "{}", stderr(&ran));
                    let calls = recorded_calls(&log);
                    let member = calls.iter().find(|c| c.first().is_some_and(|w| w == "create" || w == "run") && c.iter().any(|w| w == "h-0")).unwrap();
                    prop_assert!(member.ends_with(&[values[0].clone()]), "{member:?}");
                    prop_assert!(member.contains(&format!("V={}", values[1])), "{member:?}");
                    let init = calls.iter().find(|c| c.first().is_some_and(|w| w == "create") && c.iter().any(|w| w == "h-init")).unwrap();
                    prop_assert!(init.ends_with(&[values[0].clone()]), "{init:?}");
                    let content = std::fs::read_to_string(out.join("docker/files/h-0/0-f"));
                    prop_assert_eq!(content.ok(), Some(values[2].clone()));
                }
            }
        }
    }
}

/// Names from backend options that reach a tool as arguments never read as its options.
#[test]
fn option_values_never_read_as_options() {
    let cases = [
        (
            "swarm",
            "[backends.swarm]\nnodes = [\"--availability=drain\"]\n",
            "not a node name",
        ),
        (
            "cloudfoundry",
            "[backends.cloudfoundry]\nvolume_services = { data = \"--help\" }\n",
            "not a service instance name",
        ),
        (
            "cloudfoundry",
            "[backends.cloudfoundry]\nvolume_services = { data = \"nfs\" }\ninternal_domain = \"-v\"\n",
            "internal_domain",
        ),
    ];
    for (backend, options, words) in cases {
        let text = spec("", "").replace(
            "[backends.cloudfoundry]\nvolume_services = { data = \"nfs\" }\n",
            options,
        );
        assert_refused(
            &compile_text(&request(&[backend]), text),
            "spec/invalid-value",
            words,
        );
    }
}

/// Every variable berth's scripts assign or loop over (in the shell functions beside the backends
/// and in the lines their Rust writes) is among the names a secret variable cannot take: else a
/// secret of that name would be replaced by the script's own value before it reaches a member.
#[test]
fn every_variable_of_the_scripts_is_reserved_for_them() {
    let mut texts = Vec::new();
    for entry in glob::glob(root().join("backends/*/*").to_str().unwrap()).unwrap() {
        let path = entry.unwrap();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match path.extension().and_then(|e| e.to_str()) {
            Some("sh") => texts.push(text),
            // What Rust writes into a script: the literals given to `Script::text`.
            Some("rs") => texts.extend(text.split(".text(\"").skip(1).map(|rest| {
                let end = rest.find("\")").unwrap_or(rest.len());
                rest[..end].replace("\\n", "\n")
            })),
            _ => {}
        }
    }
    let mut found = std::collections::BTreeSet::new();
    for text in &texts {
        for line in text.lines() {
            found.extend(assigned(line));
        }
    }
    let unreserved: Vec<&String> = found
        .iter()
        .filter(|name| !berth_language::names::SCRIPT_VARIABLES.contains(&name.as_str()))
        .collect();
    assert!(
        unreserved.is_empty(),
        "add these to `SCRIPT_VARIABLES` in src/language/names.rs: {unreserved:?}"
    );
    assert!(
        found.contains("member") && found.contains("timeout"),
        "{found:?}"
    );
}

/// The lowercase shell names `line` assigns (`name=`, after a boundary) or loops over (`for name
/// in`, `read -r a b`).
fn assigned(line: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let bytes: Vec<char> = line.chars().collect();
    let mut names = Vec::new();
    for (at, c) in bytes.iter().enumerate() {
        if *c != '=' {
            continue;
        }
        let start = (0..at).rev().take_while(|&i| is_name(bytes[i])).last();
        let Some(start) = start else { continue };
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let boundary = before.is_none_or(|b| " \t;(!&|\"".contains(b));
        let name: String = bytes[start..at].iter().collect();
        if boundary && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
            names.push(name);
        }
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        if *word == "for" && words.get(i + 2) == Some(&"in") {
            names.push(words[i + 1].to_string());
        }
        if *word == "read" && words.get(i + 1) == Some(&"-r") {
            let rest = words[i + 2..].iter().take_while(|w| w.chars().all(is_name));
            names.extend(rest.map(|w| w.to_string()));
        }
    }
    names
}

/// A diagnostic shows a hostile value, never lets the terminal act on it: escapes, a carriage
/// return, line separators and direction overrides in a spec's string or a `--set` value reach
/// standard error as visible characters, at the columns they stood at.
#[test]
fn diagnostics_show_what_a_terminal_would_act_on() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "x\u{1b}]0;owned\u{7}\u{1b}[2J\ry\u{2028}z\u{202E}w";
    // The same characters in the spec's image reference: TOML escapes for those TOML refuses
    // raw, the separator and the override as they are, so that the source line shows them.
    let escaped = "x\\u001b]0;owned\\u0007\\u001b[2J\\ry\u{2028}z\u{202E}w";
    let spec = format!(
        "name = \"db\"\n\n[params.class]\ndefault = \"a\"\nvalues = [\"a\"]\n\n[container]\nimage = \"{escaped}\"\n"
    );
    write(dir.path(), "spec.toml", &spec);
    let set = format!("class={hostile}");
    let with_value = [
        "check",
        "spec.toml",
        "--backend",
        "kubernetes",
        "--set",
        &set,
    ];
    let in_value = stderr(&berth(&with_value, dir.path()));
    assert_contains(&in_value, "parameter `class` is");
    let in_spec = stderr(&berth(
        &["check", "spec.toml", "--backend", "kubernetes"],
        dir.path(),
    ));
    assert_contains(&in_spec, "spec.toml:8:9");
    for (err, acted_on) in [&in_value, &in_spec]
        .into_iter()
        .flat_map(|err| ['\u{1b}', '\u{7}', '\r', '\u{2028}', '\u{202E}'].map(|c| (err, c)))
    {
        assert!(
            !err.contains(acted_on),
            "{acted_on:?} reached the terminal: {err:?}"
        );
    }
}
