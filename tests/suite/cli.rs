//! The command line as a user meets it: exit codes, diagnostics with their location, and the
//! promise that nothing is written when a compile fails.

use crate::common::*;

/// A spec that passes every rule.
pub const CLEAN: &str = r#"name = "db"

[params.replicas]
default = 3
min = 1

[params.class]
default = "fast-ssd"

[container]
image = "postgres:16.4"

[[ports]]
name = "pg"
port = 5432

[[volumes]]
name = "data"
path = "/var/lib/postgresql/data"
size = "10Gi"
class = "{{params.class}}"

[replication]
replicas = "{{params.replicas}}"
quorum = "majority"

[health.liveness]
exec = ["pg_isready", "--host=127.0.0.1"]

[health.readiness]
tcp = "pg"

[resources]
cpu = "1"
memory = "2Gi"
"#;

struct Case {
    what: &'static str,
    spec: String,
    extra: &'static [&'static str],
    code: i32,
    expect: &'static [&'static str],
}

fn case(
    what: &'static str,
    spec: String,
    extra: &'static [&'static str],
    code: i32,
    expect: &'static [&'static str],
) -> Case {
    Case {
        what,
        spec,
        extra,
        code,
        expect,
    }
}

#[test]
fn bad_input_is_refused_with_its_location_and_nothing_is_written() {
    let cases = vec![
        case(
            "syntax error",
            CLEAN.replace("[container]", "[container"),
            &[],
            2,
            &["error[spec/syntax]", "spec.toml:10:11"],
        ),
        case(
            "unknown key",
            CLEAN.replace("image =", "imag ="),
            &[],
            2,
            &[
                "error[spec/unknown-key]",
                "unknown key `imag`",
                "spec.toml:11:1",
                "rename it to `image`",
            ],
        ),
        case(
            "missing image",
            CLEAN.replace("image = \"postgres:16.4\"", ""),
            &[],
            2,
            &[
                "error[spec/missing-key]",
                "missing required key `image`",
                "spec.toml:10:1",
            ],
        ),
        case(
            "a size written as a number",
            CLEAN.replace("size = \"10Gi\"", "size = 100"),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "spec.toml:20:8",
                "write `size` as a string (a quantity: `size = \"10Gi\"`)",
            ],
        ),
        case(
            "a file mode written as an octal number",
            format!("{CLEAN}\n[[files]]\npath = \"/etc/x.conf\"\ncontent = \"x\"\nmode = 0o400\n"),
            &[],
            2,
            &["write `mode` as a string (octal, in quotes: `mode = \"0400\"`)"],
        ),
        case(
            "a health check naming an unknown port, where a port is declared twice",
            CLEAN.replace("tcp = \"pg\"", "tcp = \"zzz\"").replace(
                "[[volumes]]",
                "[[ports]]\nname = \"pg\"\nport = 5433\n\n[[volumes]]",
            ),
            &[],
            2,
            &["port `pg` is declared twice", "name one of `pg`\n"],
        ),
        case(
            "bad name",
            CLEAN.replace("name = \"db\"", "name = \"My_DB\""),
            &[],
            2,
            &["error[spec/invalid-name]", "spec.toml:1:8"],
        ),
        case(
            "undefined template variable",
            CLEAN.replace("postgres:16.4", "postgres:{{params.version}}"),
            &[],
            2,
            &[
                "error[spec/undefined-variable]",
                "`params.version`",
                "spec.toml:11:19",
            ],
        ),
        case(
            "a required parameter not given",
            CLEAN.replace("default = \"fast-ssd\"", "required = true"),
            &[],
            2,
            &[
                "parameter `class` is required and has no value",
                "spec.toml:7:9",
                "give it with `--set class=VALUE`",
            ],
        ),
        case(
            "a required parameter given empty",
            CLEAN.replace("default = \"fast-ssd\"", "required = true"),
            &["--set", "class="],
            2,
            &["parameter `class` is required and has no value"],
        ),
        case(
            "a required parameter with a default",
            CLEAN.replace("default = \"fast-ssd\"", "default = \"fast-ssd\"\nrequired = true"),
            &["--set", "class=x"],
            2,
            &["parameter `class` is required, yet has a default", "spec.toml:8:11"],
        ),
        case(
            "a parameter with neither a default nor required",
            CLEAN.replace("default = \"fast-ssd\"", "description = \"the disk\""),
            &[],
            2,
            &["error[spec/missing-key]", "parameter `class` has no `default`"],
        ),
        case(
            "invalid image reference",
            CLEAN.replace("postgres:16.4", "Cockroach DB:latest"),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "`container.image` `Cockroach DB:latest`",
                "spec.toml:11:9",
            ],
        ),
        case(
            "misspelt parameter",
            CLEAN.replace("{{params.class}}", "{{params.clas}}"),
            &[],
            2,
            &["`params.clas`", "did you mean `params.class`?"],
        ),
        case(
            "misspelt member field",
            CLEAN.replace(
                "image = \"postgres:16.4\"",
                "image = \"postgres:16.4\"\nargs = [\"--me={{self.hostname}}\"]",
            ),
            &[],
            2,
            &["`self.hostname`", "did you mean `self.host`?"],
        ),
        case(
            "a top-level name inside `{{#each}}`",
            CLEAN.replace(
                "image = \"postgres:16.4\"",
                "image = \"postgres:16.4\"\nargs = [\"{{#each peers}}{{this.host}}:{{port.pg}} {{/each}}\"]",
            ),
            &[],
            2,
            &["`port.pg`", "write `{{@root.port.pg}}` for the spec's `port.pg`"],
        ),
        case(
            "a member field misspelt inside `{{#each}}`",
            CLEAN.replace(
                "image = \"postgres:16.4\"",
                "image = \"postgres:16.4\"\nargs = [\"{{#each peers}}{{this.hostname}} {{/each}}\"]",
            ),
            &[],
            2,
            &["did you mean `this.host`? a member of `peers` has `ordinal`, `name` and `host`"],
        ),
        case(
            "a volume service for a spec without volumes",
            format!("{}\n[backends.cloudfoundry]\nvolume_services = {{ data = \"nfs\" }}\n", CLEAN.replace("[[volumes]]\nname = \"data\"\npath = \"/var/lib/postgresql/data\"\nsize = \"10Gi\"\nclass = \"{{params.class}}\"\n", "")),
            &["--backend", "cloudfoundry"],
            2,
            &["declare `data` under `[[volumes]]`, or remove this entry"],
        ),
        case(
            "unclosed expression",
            CLEAN.replace("{{params.class}}", "{{params.class}"),
            &[],
            2,
            &["error[spec/invalid-template]", "every `{{` needs its `}}`"],
        ),
        case(
            "self outside the container",
            CLEAN.replace("\"{{params.class}}\"", "\"{{self.host}}\""),
            &[],
            2,
            &[
                "error[spec/undefined-variable]",
                "`self.host`",
                "spec.toml:21:10",
            ],
        ),
        case(
            "unknown port name",
            CLEAN.replace("tcp = \"pg\"", "tcp = \"postgres\""),
            &[],
            2,
            &[
                "error[spec/unknown-port]",
                "unknown port `postgres`",
                "spec.toml:31:7",
            ],
        ),
        case(
            "bad quantity",
            CLEAN.replace("\"10Gi\"", "\"10GB\""),
            &[],
            2,
            &["error[spec/invalid-value]", "`10GB`", "spec.toml:20:8"],
        ),
        case(
            "a file with both content and a secret",
            format!(
                "{CLEAN}\n[[files]]\npath = \"/etc/db.conf\"\ncontent = \"x\"\nsecret = \"s\"\nkey = \"k\"\n"
            ),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "exactly one of `content`, `source` and `secret`; this one has 2",
                "spec.toml:37:1",
            ],
        ),
        case(
            "two files at one path",
            format!(
                "{CLEAN}\n[[files]]\npath = \"/etc/db.conf\"\ncontent = \"a\"\n[[files]]\npath = \"/etc/db.conf\"\ncontent = \"b\"\n"
            ),
            &[],
            2,
            &[
                "error[spec/duplicate]",
                "two `[[files]]` are at `/etc/db.conf`",
                "spec.toml:41:8",
            ],
        ),
        case(
            "a mode that is not octal",
            format!(
                "{CLEAN}\n[[files]]\npath = \"/etc/db.conf\"\ncontent = \"a\"\nmode = \"0999\"\n"
            ),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "`files.mode` `0999` is not an octal mode",
                "spec.toml:40:8",
            ],
        ),
        case(
            "a source file that is not there",
            format!("{CLEAN}\n[[files]]\npath = \"/etc/db.conf\"\nsource = \"missing.conf\"\n"),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "`files.source`: cannot read `missing.conf`",
                "spec.toml:39:10",
            ],
        ),
        case(
            "a size past any orchestrator's field",
            CLEAN.replace("\"10Gi\"", "\"1e400\""),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "`1e400` is too large",
                "spec.toml:20:8",
            ],
        ),
        case(
            "a volume of half a byte",
            CLEAN.replace("\"10Gi\"", "\"500m\""),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "must be at least `1Mi`",
                "spec.toml:20:8",
            ],
        ),
        case(
            "memory that would round to nothing",
            CLEAN.replace("memory = \"2Gi\"", "memory = \"0.5\""),
            &[],
            2,
            &["error[spec/invalid-value]", "must be at least `6Mi`"],
        ),
        case(
            "a check every 0 seconds",
            CLEAN.replace("tcp = \"pg\"", "tcp = \"pg\"\ninterval = \"0s\""),
            &[],
            2,
            &["error[spec/invalid-value]", "must be at least `1s`"],
        ),
        case(
            "an image reference Docker refuses",
            CLEAN.replace("postgres:16.4", "Cockroach DB:latest"),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "`container.image`",
                "spec.toml:11:9",
            ],
        ),
        case(
            "bad duration",
            format!("{CLEAN}\n[lifecycle]\nstop_grace = \"sixty\"\n"),
            &[],
            2,
            &["error[spec/invalid-value]", "stop_grace", "spec.toml:38:14"],
        ),
        case(
            "unknown value",
            CLEAN.replace("quorum = \"majority\"", "quorum = \"majorty\""),
            &[],
            2,
            &[
                "error[spec/invalid-value]",
                "did you mean `majority`?",
                "spec.toml:25:10",
            ],
        ),
        case(
            "set of an unknown parameter",
            CLEAN.to_string(),
            &["--set", "replica=5"],
            2,
            &[
                "error[spec/unknown-parameter]",
                "--set:1:1",
                "did you mean `replicas`?",
            ],
        ),
        case(
            "set of the wrong type",
            CLEAN.to_string(),
            &["--set", "replicas=five"],
            2,
            &[
                "error[spec/invalid-value]",
                "must be an integer",
                "--set:1:1",
            ],
        ),
        case(
            "set below the minimum",
            CLEAN.to_string(),
            &["--set", "replicas=0"],
            2,
            &["error[spec/invalid-value]", "below its minimum 1"],
        ),
        case(
            "set without =",
            CLEAN.to_string(),
            &["--set", "replicas"],
            2,
            &["error[cli/usage]", "has no `=`"],
        ),
        case(
            "unknown rule in allow",
            format!("{CLEAN}\n[[allow]]\nrule = \"kubernetes/no-spred\"\nreason = \"x\"\n"),
            &[],
            2,
            &[
                "error[spec/unknown-rule]",
                "did you mean `kubernetes/no-spread`?",
            ],
        ),
        case(
            "unknown backend table",
            format!("{CLEAN}\n[backends.kubernets]\nnamespace = \"x\"\n"),
            &[],
            2,
            &["error[spec/unknown-key]", "`[backends.kubernetes]`"],
        ),
        case(
            "unknown backend option",
            format!("{CLEAN}\n[backends.kubernetes]\nnamespaces = \"x\"\n"),
            &[],
            2,
            &[
                "error[spec/unknown-key]",
                "unknown key `namespaces`",
                "spec.toml:38:1",
                "rename it to `namespace`",
            ],
        ),
        case(
            "unknown --backend",
            CLEAN.to_string(),
            &["--backend", "kubernets"],
            2,
            &["error[cli/usage]", "did you mean `--backend kubernetes`?"],
        ),
        case(
            "rule error",
            CLEAN
                .replace(
                    "quorum = \"majority\"",
                    "quorum = \"majority\"\nstart = \"ordered\"",
                )
                .replace("tcp = \"pg\"", "tcp = \"pg\"\nneeds_quorum = true"),
            &[],
            1,
            &[
                "error[kubernetes/ordered-ready-deadlock]",
                "spec.toml:26:9",
                "help: set `start = \"parallel\"`",
            ],
        ),
    ];
    for c in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "spec.toml", &c.spec);
        let mut args = vec!["compile", "spec.toml", "--out", "out"];
        args.extend(c.extra);
        let output = berth(&args, dir.path());
        let text = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(c.code),
            "{}: exit code\n{text}",
            c.what
        );
        for needle in c.expect {
            assert!(
                text.contains(needle),
                "{}: expected `{needle}` in\n{text}",
                c.what
            );
        }
        assert!(
            !dir.path().join("out").exists(),
            "{}: wrote output despite the error",
            c.what
        );
    }
}

/// A `[backends.NAME]` table with several bad options reports each of them, in the order the
/// spec writes them, whether the value is outside a closed set, of the wrong type, an unknown
/// key, or refused by the backend's own check; and nothing is compiled.
#[test]
fn every_bad_backend_option_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let options = "\n[backends.swarm]\npublish_mode = \"mesh\"\nupdate_order = \"start-frist\"\nnodes = [\"-x\"]\nport_stride = \"2\"\nupdate_delay = \"soon\"\npin = true\nnode = 3\n";
    write(dir.path(), "spec.toml", &format!("{CLEAN}{options}"));
    let output = berth(&["check", "spec.toml", "--backend", "swarm"], dir.path());
    let text = assert_exit(&output, 2, &[]);
    let expected = [
        "`backends.swarm.publish_mode` is `mesh`, not one of `host`, `ingress`",
        "use one of `host`, `ingress`",
        "`backends.swarm.update_order` is `start-frist`, not one of `stop-first`, `start-first`",
        "did you mean `start-first`?",
        "`backends.swarm.nodes` holds `-x`, which is not a node name",
        "invalid type: string \"2\", expected u16",
        "`backends.swarm.update_delay`: `soon` is not a duration",
        "unknown key `node`",
        "rename it to `nodes`",
    ];
    let mut from = 0;
    for needle in expected {
        let at = text[from..]
            .find(needle)
            .unwrap_or_else(|| panic!("expected `{needle}` after the earlier ones in\n{text}"));
        from += at + needle.len();
    }
    assert_eq!(text.matches("error[").count(), 6, "{text}");
    for (line, column) in [(38, 16), (39, 16), (40, 9), (41, 15), (42, 16), (44, 1)] {
        assert_contains(&text, &format!("spec.toml:{line}:{column}"));
    }
}

/// `check` ends with a summary whatever it found, as `compile` does.
#[test]
fn check_sums_up_an_invalid_spec() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "spec.toml",
        &CLEAN.replace("size = \"10Gi\"", "size = 100"),
    );
    let output = berth(&["check", "spec.toml"], dir.path());
    assert_exit(
        &output,
        2,
        &["spec.toml: the spec is invalid; 1 error, 0 warnings (nothing written)"],
    );
}

#[test]
fn values_file_errors_point_into_the_values_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", CLEAN);
    write(
        dir.path(),
        "prod.toml",
        "# production\nreplicas = \"five\"\n",
    );
    let output = berth(&["check", "spec.toml", "--values", "prod.toml"], dir.path());
    assert_exit(&output, 2, &[]);
    let text = stderr(&output);
    assert!(
        text.contains("prod.toml:2:1") && text.contains("must be an integer"),
        "{text}"
    );
}

/// A string parameter's `pattern` must match the whole value: from its default, `--values` and
/// `--set` alike; a pattern that is no regular expression, or on another type, is refused at its
/// place; the chart's `values.schema.json` carries it for Helm.
#[test]
fn a_pattern_refuses_a_value_it_does_not_match_whole() {
    let dir = tempfile::tempdir().unwrap();
    let with = |pattern: &str| {
        CLEAN.replace(
            "[params.class]\ndefault = \"fast-ssd\"",
            &format!("[params.class]\ndefault = \"fast-ssd\"\npattern = '{pattern}'"),
        )
    };
    write(dir.path(), "spec.toml", &with("[a-z-]+"));
    let check = |args: &[&str]| {
        let mut all = vec!["check", "spec.toml", "--backend", "kubernetes"];
        all.extend(args);
        berth(&all, dir.path())
    };
    assert_exit(&check(&["--set", "class=premium-rwo"]), 0, &[]);
    for (args, shown) in [
        (&["--set", "class=premium rwo"][..], "`premium rwo`"),
        (&["--set", "class=premium1"], "`premium1`"),
        (&["--set", "class=a\nb"], "`a\\nb`"),
    ] {
        assert_exit(
            &check(args),
            2,
            &[
                "error[spec/invalid-value]",
                &format!(
                    "parameter `class` is {shown}, which does not match its pattern `[a-z-]+`"
                ),
                "--set:1:1",
                "its `min`, `max`, `values` or `pattern`",
            ],
        );
    }
    write(dir.path(), "prod.toml", "class = \"fast ssd\"\n");
    assert_exit(
        &check(&["--values", "prod.toml"]),
        2,
        &["prod.toml:1:1", "does not match its pattern"],
    );
    write(dir.path(), "spec.toml", &with("[0-9]+"));
    assert_exit(
        &check(&[]),
        2,
        &["the default of `class` is `fast-ssd`, which does not match its pattern `[0-9]+`"],
    );
    write(dir.path(), "spec.toml", &with("[a-z"));
    assert_exit(
        &check(&[]),
        2,
        &[
            "`pattern` of parameter `class` is no regular expression",
            "spec.toml:9:11",
        ],
    );
    let on_integer = CLEAN.replace("min = 1", "min = 1\npattern = '[0-9]'");
    write(dir.path(), "spec.toml", &on_integer);
    assert_exit(
        &check(&[]),
        2,
        &["`pattern` of parameter `replicas` needs a string default"],
    );
    write(dir.path(), "spec.toml", &with("[a-z-]+"));
    let output = berth(
        &["compile", "spec.toml", "--backend", "helm", "--out", "out"],
        dir.path(),
    );
    assert_exit(&output, 0, &[]);
    let schema =
        std::fs::read_to_string(dir.path().join("out/helm/db/values.schema.json")).unwrap();
    assert_contains(
        &schema,
        "\"allOf\": [\n        {\n          \"pattern\": \"^(?:[a-z-]+)$\"",
    );
}

#[test]
fn overrides_apply_in_order_defaults_values_then_set() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", CLEAN);
    write(
        dir.path(),
        "prod.toml",
        "replicas = 5\nclass = \"premium-rwo\"\n",
    );
    let output = compile_in(
        dir.path(),
        "spec.toml",
        &[
            "--backend",
            "kubernetes",
            "--values",
            "prod.toml",
            "--set",
            "replicas=7",
        ],
    );
    assert_exit(&output, 0, &[]);
    let sts =
        std::fs::read_to_string(dir.path().join("out/kubernetes/40-statefulset-db.yaml")).unwrap();
    assert!(sts.contains("replicas: 7\n"), "{sts}");
    assert!(sts.contains("storageClassName: premium-rwo\n"), "{sts}");
    let pdb = std::fs::read_to_string(
        dir.path()
            .join("out/kubernetes/30-poddisruptionbudget-db.yaml"),
    )
    .unwrap();
    assert!(
        pdb.contains("maxUnavailable: 3\n"),
        "a majority of 7 is 4, so 3 may be disrupted: {pdb}"
    );
    // A required parameter takes its value from `--values` like any other.
    let required = CLEAN.replace("default = \"fast-ssd\"", "required = true");
    write(dir.path(), "required.toml", &required);
    let args = ["--backend", "kubernetes", "--values", "prod.toml"];
    assert_exit(&compile_in(dir.path(), "required.toml", &args), 0, &[]);
}

#[test]
fn warnings_do_not_fail_and_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "spec.toml",
        &CLEAN.replace("[resources]\ncpu = \"1\"\nmemory = \"2Gi\"\n", ""),
    );
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert_exit(&output, 0, &["warning[kubernetes/no-resources]"]);
    assert!(
        dir.path()
            .join("out/kubernetes/40-statefulset-db.yaml")
            .exists()
    );
}

#[test]
fn compile_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, spec) in examples() {
        let a = dir.path().join(format!("{name}-a"));
        let b = dir.path().join(format!("{name}-b"));
        for out in [&a, &b] {
            berth_ok(
                &[
                    "compile",
                    spec.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ],
                dir.path(),
            );
        }
        assert_eq!(tree(&a), tree(&b), "{name}: two compiles differ");
    }
}

#[test]
fn files_berth_did_not_write_survive_and_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "spec.toml", CLEAN);
    std::fs::create_dir_all(dir.path().join("out/kubernetes")).unwrap();
    write(&dir.path().join("out"), "README.txt", "mine");
    write(
        &dir.path().join("out/kubernetes"),
        "notes.yaml",
        "also mine",
    );
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert_exit(&output, 0, &[]);
    // A second compile of a changed spec rewrites berth's files and still leaves the others alone.
    write(dir.path(), "spec.toml", &CLEAN.replace("2Gi", "3Gi"));
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert_exit(&output, 0, &[]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/README.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/kubernetes/notes.yaml")).unwrap(),
        "also mine"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("out/kubernetes/40-statefulset-db.yaml"))
            .unwrap()
            .contains("memory: 3Gi")
    );

    // A file of the user's where berth needs to write stops the compile before anything is written.
    let other = tempfile::tempdir().unwrap();
    write(other.path(), "spec.toml", CLEAN);
    std::fs::create_dir_all(other.path().join("out/kubernetes")).unwrap();
    write(
        &other.path().join("out/kubernetes"),
        "40-statefulset-db.yaml",
        "hand-written",
    );
    let output = compile_in(other.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert_exit(&output, 2, &["berth did not write it"]);
    assert_eq!(
        std::fs::read_to_string(other.path().join("out/kubernetes/40-statefulset-db.yaml"))
            .unwrap(),
        "hand-written"
    );
    assert!(
        !other
            .path()
            .join("out/kubernetes/20-service-db.yaml")
            .exists()
    );
}

#[test]
fn files_berth_no_longer_makes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "spec.toml",
        &format!("{CLEAN}\n[init]\ncommand = [\"psql\", \"--host={{{{peers.[0].host}}}}\"]\n"),
    );
    compile_ok(dir.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert!(
        dir.path()
            .join("out/kubernetes/50-job-db-init.yaml")
            .exists()
    );
    write(dir.path(), "spec.toml", CLEAN);
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "kubernetes"]);
    assert_exit(&output, 0, &[]);
    assert!(
        !dir.path()
            .join("out/kubernetes/50-job-db-init.yaml")
            .exists()
    );
    assert_contains(&stderr(&output), "2 stale removed");
}

#[test]
fn json_format_reports_diagnostics_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "spec.toml",
        &CLEAN.replace("[resources]\ncpu = \"1\"\nmemory = \"2Gi\"\n", ""),
    );
    let output = berth_ok(
        &[
            "check",
            "spec.toml",
            "--format",
            "json",
            "--backend",
            "kubernetes",
        ],
        dir.path(),
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("stdout is JSON");
    let first = &value["diagnostics"][0];
    assert_eq!(first["code"], "kubernetes/no-resources");
    assert_eq!(first["severity"], "warning");
    assert_eq!(first["file"], "spec.toml");
    assert!(first["line"].as_u64().unwrap() > 0 && first["column"].as_u64().unwrap() > 0);
    assert!(first["help"].as_str().unwrap().starts_with("set "));
}

#[test]
fn allow_lifts_a_rule_and_the_output_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CLEAN.replace("[[volumes]]\nname = \"data\"\npath = \"/var/lib/postgresql/data\"\nsize = \"10Gi\"\nclass = \"{{params.class}}\"\n", "");
    write(
        dir.path(),
        "spec.toml",
        &format!(
            "{spec}\n[[allow]]\nrule = \"kubernetes/no-persistent-volume\"\nreason = \"a cache: losing it costs a warm-up, nothing more\"\n"
        ),
    );
    let output = compile_in(
        dir.path(),
        "spec.toml",
        &["--backend", "kubernetes", "--verbose"],
    );
    assert_exit(&output, 0, &[]);
    assert!(
        stderr(&output).contains("note[kubernetes/no-persistent-volume]"),
        "--verbose shows lifted rules"
    );
    let sts =
        std::fs::read_to_string(dir.path().join("out/kubernetes/40-statefulset-db.yaml")).unwrap();
    assert!(sts.contains("# berth: rule kubernetes/no-persistent-volume is allowed by the spec: a cache: losing it costs a warm-up, nothing more\n"), "{sts}");
}

#[test]
fn explain_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let output = berth_ok(
        &["explain", "kubernetes/ordered-ready-deadlock"],
        dir.path(),
    );
    assert!(stdout(&output).starts_with("# kubernetes/ordered-ready-deadlock"));
    let output = berth(&["explain", "kubernetes/ordered-ready"], dir.path());
    assert_exit(
        &output,
        2,
        &["did you mean `kubernetes/ordered-ready-deadlock`?"],
    );
    // Without its backend: enough when one backend has the rule, a list of candidates otherwise.
    let output = berth_ok(&["explain", "ordered-ready-deadlock"], dir.path());
    assert!(stdout(&output).starts_with("# kubernetes/ordered-ready-deadlock"));
    let output = berth(&["explain", "no-persistent-volume"], dir.path());
    assert_exit(&output, 2, &["`swarm/no-persistent-volume`"]);
    // Marathon is a migration path: its rules and the overview say so.
    for args in [&["explain", "marathon/over-capacity"][..], &["explain"][..]] {
        let output = berth(args, dir.path());
        assert!(
            stdout(&output).contains("DC/OS reached its end of life in 2021"),
            "{args:?}: {}",
            stdout(&output)
        );
    }
    let output = berth_ok(&["rules", "--backend", "kubernetes"], dir.path());
    assert!(
        stdout(&output)
            .lines()
            .any(|l| l.starts_with("kubernetes/no-persistent-volume") && l.contains("error"))
    );
    assert_eq!(
        berth(&["rules", "--backend", "nomad"], dir.path())
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        berth(&["compile"], dir.path()).status.code(),
        Some(2),
        "a usage error exits 2"
    );
}

#[test]
fn several_specs_a_directory_or_a_pattern_compile_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("specs")).unwrap();
    for name in ["alpha", "beta", "gamma"] {
        write(
            &dir.path().join("specs"),
            &format!("{name}.toml"),
            &CLEAN.replace("name = \"db\"", &format!("name = \"{name}\"")),
        );
    }
    let output = compile_in(dir.path(), "specs", &["--backend", "kubernetes"]);
    assert_exit(&output, 0, &[]);
    for name in ["alpha", "beta", "gamma"] {
        assert!(
            dir.path()
                .join(format!("out/{name}/kubernetes/40-statefulset-{name}.yaml"))
                .exists()
        );
    }
    berth_ok(
        &[
            "compile",
            "specs/?eta.toml",
            "--out",
            "one",
            "--backend",
            "kubernetes",
        ],
        dir.path(),
    );
    assert!(
        dir.path()
            .join("one/kubernetes/40-statefulset-beta.yaml")
            .exists(),
        "one spec: no service directory"
    );
    // One bad spec: reported with its file name, and nothing is written for any.
    write(
        &dir.path().join("specs"),
        "delta.toml",
        &CLEAN
            .replace("name = \"db\"", "name = \"delta\"")
            .replace("image =", "imag ="),
    );
    let output = berth(
        &[
            "compile",
            "specs",
            "--out",
            "fresh",
            "--backend",
            "kubernetes",
        ],
        dir.path(),
    );
    assert_exit(&output, 2, &["specs/delta.toml:11:1"]);
    assert!(!dir.path().join("fresh").exists());
    // Into a directory of an earlier compile: the specs compiled before the bad one were staged,
    // and neither they nor their staging directory may remain.
    let before = tree(&dir.path().join("out"));
    let output = compile_in(dir.path(), "specs", &["--backend", "kubernetes"]);
    assert_exit(&output, 2, &[]);
    assert_eq!(
        tree(&dir.path().join("out")),
        before,
        "a refused spec changed `out`"
    );
    assert_no_staging_left(&dir.path().join("out"));
    let output = berth(&["compile", "specs/*.yaml", "--out", "none"], dir.path());
    assert_exit(&output, 2, &["no spec matches"]);
}

/// A stateful service on a moving tag is warned about once, for every backend.
#[test]
fn an_untagged_image_is_warned_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(
        dir.path(),
        "spec.toml",
        &CLEAN.replace("postgres:16.4", "postgres"),
    );
    let output = berth(&["check", spec.to_str().unwrap()], dir.path());
    let said = stderr(&output);
    assert_eq!(
        said.matches("warning[spec/mutable-image-tag]").count(),
        1,
        "{said}"
    );
    assert!(said.contains("has no tag, so it means `latest`"), "{said}");
}

#[test]
fn input_errors_are_explained_and_cannot_be_allowed() {
    let dir = tempfile::tempdir().unwrap();
    for id in ["spec/missing-key", "missing-key"] {
        let output = berth_ok(&["explain", id], dir.path());
        assert!(stdout(&output).starts_with("# spec/missing-key"));
        assert!(stdout(&output).contains("cannot be lifted with `[[allow]]`"));
    }
    let spec = "name = \"db\"\n[container]\nimage = \"postgres:16.4\"\n[[allow]]\nrule = \"spec/missing-key\"\nreason = \"no\"\n";
    write(dir.path(), "spec.toml", spec);
    let output = berth(&["check", "spec.toml"], dir.path());
    assert_exit(&output, 2, &[]);
    let err = stderr(&output);
    assert!(
        err.contains(
            "`spec/missing-key` is an input error, not a rule: `[[allow]]` cannot lift it"
        ),
        "{err}"
    );
    assert!(err.contains("spec.toml:5:8"), "{err}");
}

/// A concern every backend shares is reported once, by the spec, whatever the backends.
#[test]
fn a_two_member_majority_is_warned_about_once_for_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write(dir.path(), "spec.toml", CLEAN);
    for backends in [&[][..], &["--backend", "compose"][..]] {
        let mut args = vec!["check", spec.to_str().unwrap(), "--set", "replicas=2"];
        args.extend(backends);
        let said = stderr(&berth(&args, dir.path()));
        assert_eq!(
            said.matches("warning[spec/quorum-size]").count(),
            1,
            "{said}"
        );
        assert!(
            said.contains("losing one replica loses the quorum"),
            "{said}"
        );
    }
}

/// Sizes are rounded up to each orchestrator's unit, never down.
#[test]
fn quantities_round_up_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CLEAN
        .replace("\"10Gi\"", "\"1500Ki\"")
        .replace("memory = \"2Gi\"", "memory = \"6500Ki\"");
    let spec =
        format!("{spec}\n[backends.cloudfoundry]\nvolume_services = {{ data = \"db-nfs\" }}\n")
            .replace(
                "image = \"postgres:16.4\"",
                "image = \"postgres:16.4\"\ncommand = [\"docker-entrypoint.sh\", \"postgres\"]",
            );
    write(dir.path(), "spec.toml", &spec);
    compile_ok(dir.path(), "spec.toml", &[]);
    let read = |path: &str| std::fs::read_to_string(dir.path().join("out").join(path)).unwrap();
    let marathon: serde_json::Value = serde_json::from_str(&read("marathon/db-0.json")).unwrap();
    let volume = &marathon["container"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["persistent"].is_object())
        .unwrap()["persistent"];
    assert_eq!(volume["size"], 2, "1500Ki is 1.46 MiB: 2 MiB");
    assert_eq!(marathon["mem"], 7, "6500Ki is 6.35 MiB: 7 MiB");
    assert!(
        read("docker/run.sh").contains("--memory 6500k"),
        "6500Ki exactly, in docker's units"
    );
    assert!(read("cloudfoundry/manifest.yml").contains("memory: 7M"));
}

/// A value refused while the spec resolves names the parameter it came through and where that
/// parameter's value was given.
#[test]
fn a_refused_value_names_the_override_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CLEAN
        .replace(
            "[params.class]",
            "[params.storage_size]\ndefault = \"10Gi\"\n\n[params.class]",
        )
        .replace("size = \"10Gi\"", "size = \"{{params.storage_size}}\"");
    write(dir.path(), "spec.toml", &spec);
    write(dir.path(), "values.toml", "storage_size = \"5 GB\"\n");
    let cases: [(&[&str], &str); 2] = [
        (
            &["--set", "storage_size=10 GB"],
            "`params.storage_size` is `10 GB`, from --set (--set:1:1)",
        ),
        (
            &["--values", "values.toml"],
            "`params.storage_size` is `5 GB`, from --values (values.toml:1:1)",
        ),
    ];
    for (extra, says) in cases {
        let mut args = vec!["check", "spec.toml"];
        args.extend(extra);
        let output = berth(&args, dir.path());
        assert_exit(&output, 2, &[]);
        let err = stderr(&output);
        assert!(err.contains("invalid `volumes.size`"), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// Elasticsearch as its documentation describes it: the image's own entrypoint, settings as dotted
/// env names, and no Cloud Foundry details, because the spec does not target Cloud Foundry.
const NEW_USER_SEARCH: &str = r#"name = "search"
targets = ["docker", "compose", "kubernetes", "swarm", "marathon"]

[container]
image = "docker.elastic.co/elasticsearch/elasticsearch:8.15.0"

[container.env]
"node.name" = "{{self.name}}"
"discovery.seed_hosts" = "{{join peer_hosts \",\"}}"
"cluster.initial_master_nodes" = "{{#each peers}}{{#unless @first}},{{/unless}}{{this.name}}{{/each}}"
"bootstrap.memory_lock" = "true"
ES_JAVA_OPTS = "-Xms1g -Xmx1g"

[[ports]]
name = "http"
port = 9200

[[ports]]
name = "transport"
port = 9300
expose = "peers"

[[volumes]]
name = "data"
path = "/usr/share/elasticsearch/data"
size = "50Gi"
class = "fast-ssd"

[replication]
replicas = 3
quorum = "majority"

[health.liveness]
tcp = "transport"

[health.readiness]
http = "/_cluster/health?local=true"
port = "http"

[resources]
cpu = "2"
memory = "2Gi"
"#;

#[test]
fn a_spec_written_from_the_images_documentation_compiles_for_its_targets() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "search.toml", NEW_USER_SEARCH);
    let output = compile_ok(dir.path(), "search.toml", &[]);
    assert!(
        !stderr(&output).contains("certificates must cover"),
        "no TLS names for a service without `[tls]`"
    );
    let mut made: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !name.ends_with(".json"))
        .collect();
    made.sort();
    assert_eq!(
        made,
        ["compose", "docker", "kubernetes", "marathon", "swarm"]
    );

    // `diff` and `check` work on the targets too; `--backend` narrows within them.
    let diff = berth_ok(&["diff", "search.toml"], dir.path());
    assert!(!stdout(&diff).contains("cloudfoundry"), "{}", stdout(&diff));
    berth_ok(&["check", "search.toml", "--backend", "swarm"], dir.path());
    let outside = berth(
        &["check", "search.toml", "--backend", "cloudfoundry"],
        dir.path(),
    );
    assert_exit(&outside, 2, &[]);
    let err = stderr(&outside);
    assert!(
        err.contains("`--backend cloudfoundry` is not among the spec's `targets`"),
        "{err}"
    );
    assert!(err.contains("search.toml:2:11"), "{err}");
    assert!(err.contains("add `\"cloudfoundry\"` to `targets`"), "{err}");
}

/// Without `targets`, a backend's need is an error that names the backend and how to leave it out.
#[test]
fn a_backends_need_names_the_backend_and_how_to_leave_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NEW_USER_SEARCH.replace(
        "targets = [\"docker\", \"compose\", \"kubernetes\", \"swarm\", \"marathon\"]\n",
        "",
    );
    write(dir.path(), "search.toml", &spec);
    let output = berth(&["check", "search.toml"], dir.path());
    assert_exit(&output, 1, &[]);
    let err = stderr(&output);
    assert!(
        err.contains("error[cloudfoundry/volume-without-service]"),
        "{err}"
    );
    assert!(err.contains("add `targets = [...]` naming the backends you deploy with, if `cloudfoundry` is not one"), "{err}");
    let typo = NEW_USER_SEARCH.replace("\"marathon\"]", "\"marathn\"]");
    write(dir.path(), "typo.toml", &typo);
    let err = stderr(&berth(&["check", "typo.toml"], dir.path()));
    assert!(
        err.contains("`targets` names unknown backend `marathn`"),
        "{err}"
    );
    assert!(err.contains("did you mean `marathon`?"), "{err}");
}

/// `[init] command` is a whole argv: on every backend the init step's entrypoint plus its
/// arguments is that argv, whatever the image's own entrypoint is.
#[test]
fn every_backend_runs_the_init_command_as_written() {
    let (_dir, out) = compile_example("cockroachdb", &[]);
    let expected = |mut argv: Vec<String>, backend: &str| {
        // `[init] done_output` wraps the command: `/bin/sh -c SCRIPT berth-init COMMAND...`.
        if let Some(at) = argv.iter().position(|w| w == "berth-init") {
            assert_eq!(argv[..2], ["/bin/sh", "-c"], "{backend}: {argv:?}");
            argv.drain(..=at);
        }
        assert_eq!(
            argv[..3],
            ["/cockroach/cockroach", "init", "--insecure"],
            "{backend}: {argv:?}"
        );
        assert!(
            argv.len() == 4 && argv[3].starts_with("--host=") && argv[3].ends_with(":26257"),
            "{backend}: {argv:?}"
        );
    };
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let yaml = |path: &str| -> serde_json::Value {
        serde_saphyr::from_str(&std::fs::read_to_string(out.join(path)).unwrap()).unwrap()
    };

    let job: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("marathon/cockroachdb-init.metronome.json")).unwrap(),
    )
    .unwrap();
    let parameters = job["run"]["docker"]["parameters"].as_array().unwrap();
    let entrypoint = parameters
        .iter()
        .find(|p| p["key"] == "entrypoint")
        .unwrap();
    let mut argv = vec![entrypoint["value"].as_str().unwrap().to_string()];
    argv.extend(strings(&job["run"]["args"]));
    expected(argv, "marathon");

    let job = yaml("kubernetes/50-job-cockroachdb-init.yaml");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let mut argv = strings(&container["command"]);
    argv.extend(strings(&container["args"]));
    expected(argv, "kubernetes");

    for (backend, file) in [
        ("compose", "compose/compose.yaml"),
        ("swarm", "swarm/stack.yaml"),
    ] {
        let service = &yaml(file)["services"]["cockroachdb-init"];
        let mut argv = strings(&service["entrypoint"]);
        argv.extend(strings(&service["command"]));
        expected(argv, backend);
    }

    let setup = std::fs::read_to_string(out.join("cloudfoundry/setup.sh")).unwrap();
    let task = &setup[setup
        .find("; until ")
        .expect("the task retries its command")
        + 8..];
    let task = &task[task.find("berth-init ").expect("the wrapped command") + 11..];
    let task = &task[..task.find("; do").unwrap()];
    assert!(!task.contains(['\'', '"', '\\']), "plain words: {task}");
    expected(task.split(' ').map(String::from).collect(), "cloudfoundry");

    if let Some(docker) = FakeDocker::new() {
        let calls = docker.run(&out.join("docker/run.sh"), false);
        let create = calls
            .iter()
            .find(|c| c[0] == "create" && c.contains(&"cockroachdb-init".to_string()))
            .expect("run.sh creates the init container");
        let flag = create.iter().position(|w| w == "--entrypoint").unwrap();
        let image = create
            .iter()
            .position(|w| w.starts_with("cockroachdb/cockroach:"))
            .unwrap();
        let mut argv = vec![create[flag + 1].clone()];
        argv.extend(create[image + 1..].iter().cloned());
        expected(argv, "docker");
    }
}

/// `[init] done_output`: the wrapped command, run by `sh` as every backend runs it, succeeds on
/// that output, passes other failures and successes through, and prints what the command printed.
#[test]
fn init_done_output_makes_a_second_run_succeed() {
    let (_dir, out) = compile_example("cockroachdb", &["--backend", "marathon"]);
    let job: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("marathon/cockroachdb-init.metronome.json")).unwrap(),
    )
    .unwrap();
    let entrypoint = &job["run"]["docker"]["parameters"][0]["value"];
    assert_eq!(entrypoint, "/bin/sh");
    let args: Vec<&str> = job["run"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "-c");
    assert_eq!(args[3..6], ["/cockroach/cockroach", "init", "--insecure"]);
    // The same wrapper around stand-ins for the command.
    let run = |prints: &str, status: i32| {
        let command = format!("echo '{prints}'; exit {status}");
        std::process::Command::new("sh")
            .args(&args[..3])
            .args(["sh", "-c", &command])
            .output()
            .unwrap()
    };
    let again = run("ERROR: cluster has already been initialized", 1);
    assert!(again.status.success());
    assert!(stdout(&again).contains("ERROR: cluster has already been initialized"));
    let refused = run("ERROR: connection refused", 1);
    assert_exit(&refused, 1, &[]);
    assert!(stdout(&refused).contains("connection refused"));
    assert!(run("Cluster successfully initialized", 0).status.success());
}
