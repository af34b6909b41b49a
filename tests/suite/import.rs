//! `berth import`: the corpus of upstream Compose files (tests/import/) imports, each spec
//! compiles for every backend it targets once given what the Compose file lacks, the report names
//! each mistake by rule and line, and berth's own compose output imports back to itself.

use crate::common::*;
use std::path::{Path, PathBuf};

/// A corpus entry, the specs written from it (name, replicas), the services listed as skipped,
/// and the rules the report names (id, how often).
type Expected = (
    &'static str,
    &'static [(&'static str, u32)],
    &'static [&'static str],
    &'static [(&'static str, usize)],
);

const CORPUS: [Expected; 22] = [
    (
        "cockroach-anchors",
        &[("roach", 3)],
        &[],
        &[("import/floating-tag", 1)],
    ),
    (
        "cockroachdb",
        &[("roach", 3)],
        &[],
        &[("import/no-restart-policy", 3)],
    ),
    ("dns-and-secrets", &[("dns", 1), ("db", 1)], &[], &[]),
    (
        "elastic-dotenv",
        &[("es01", 1)],
        &["kibana"],
        &[
            ("import/anonymous-access", 1),
            ("import/not-waiting-for-health", 1),
            ("import/secret-in-dotenv", 2),
        ],
    ),
    (
        "elasticsearch",
        &[("es", 3)],
        &[],
        &[("import/no-restart-policy", 3)],
    ),
    ("etcd", &[("etcd", 3)], &[], &[]),
    (
        "etcd-bitnami",
        &[("etcd", 3)],
        &[],
        &[
            ("import/anonymous-access", 1),
            ("import/data-in-container", 3),
        ],
    ),
    (
        "gitea-postgres",
        &[("server", 1), ("db", 1), ("redis", 1)],
        &[],
        &[("import/not-waiting-for-health", 1)],
    ),
    (
        "kafka",
        &[("kafka", 3)],
        &[],
        &[("import/no-restart-policy", 3)],
    ),
    (
        "kafka-bitnami",
        &[("kafka", 3)],
        &[],
        &[("import/anonymous-access", 1)],
    ),
    (
        "mongo-lettered",
        &[("mongo", 3)],
        &[],
        &[
            ("import/data-in-container", 2),
            ("import/no-restart-policy", 2),
        ],
    ),
    (
        "mongodb",
        &[("mongo", 3)],
        &[],
        &[("import/no-restart-policy", 3)],
    ),
    (
        "mongodb-bitnami-roles",
        &[("cache", 1)],
        &["mongodb-primary", "mongodb-secondary", "mongodb-arbiter"],
        &[("import/data-in-container", 1)],
    ),
    ("name-collision", &[("my-db", 1), ("my-db-2", 1)], &[], &[]),
    (
        "postgres",
        &[("db", 1)],
        &["adminer"],
        &[
            ("import/data-in-container", 1),
            ("import/secret-in-environment", 1),
        ],
    ),
    (
        "rabbitmq",
        &[("rabbitmq", 3)],
        &[],
        &[("import/secret-in-environment", 3)],
    ),
    ("redis", &[("cache", 1)], &[], &[]),
    ("redis-mirror", &[("db", 1), ("mirror", 1)], &[], &[]),
    (
        "redis-tools",
        &[("redis", 1), ("mongo", 1)],
        &["redis-commander", "mongo-express"],
        &[],
    ),
    (
        "web-config-bind",
        &[("db", 1)],
        &["web", "kafka"],
        &[("import/data-in-container", 1)],
    ),
    ("zookeeper", &[("zoo", 3)], &[], &[]),
    ("zookeeper-unnumbered", &[("zoo", 3)], &[], &[]),
];

/// `berth import COMPOSE EXTRA...`, run in `dir`.
fn import(dir: &Path, compose: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["import", compose.to_str().unwrap()];
    args.extend(extra);
    berth(&args, dir)
}

fn corpus_file(name: &str) -> PathBuf {
    root().join("tests/import").join(name).join("compose.yaml")
}

/// Imports one corpus entry into a new directory; returns it and the JSON report.
fn import_corpus(name: &str) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let output = import(
        dir.path(),
        &corpus_file(name),
        &["--out", ".", "--format", "json"],
    );
    assert_exit(&output, 0, &[]);
    let report = serde_json::from_str(&stdout(&output)).unwrap();
    (dir, report)
}

#[test]
fn the_corpus_imports_with_its_mistakes_named() {
    let entries: Vec<String> = std::fs::read_dir(root().join("tests/import"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries.len(),
        CORPUS.len(),
        "every corpus entry has its expectations"
    );
    for (name, specs, skipped, findings) in CORPUS {
        let (dir, report) = import_corpus(name);
        let listed: Vec<&str> = report["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["service"].as_str().unwrap())
            .collect();
        assert_eq!(listed, skipped, "{name}: skipped: {report:#}");
        // No service vanishes: each is in a spec or listed as skipped.
        let services = compose_services(&corpus_file(name));
        let reported = report["specs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["services"].as_array().unwrap())
            .map(|s| s.as_str().unwrap())
            .chain(listed.iter().copied())
            .count();
        assert_eq!(reported, services.len(), "{name}: {services:?}: {report:#}");
        let written: Vec<(String, u32)> = report["specs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let name = s["name"].as_str().unwrap().to_string();
                let text =
                    std::fs::read_to_string(dir.path().join(format!("{name}.toml"))).unwrap();
                (name, replicas(&text))
            })
            .collect();
        let expected: Vec<(String, u32)> = specs.iter().map(|(n, r)| (n.to_string(), *r)).collect();
        assert_eq!(written, expected, "{name}: specs");
        for (rule, count) in findings {
            let said = report["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["code"] == *rule)
                .count();
            assert_eq!(said, *count, "{name}: {rule}: {report:#}");
        }
        let every: usize = findings.iter().map(|(_, c)| c).sum();
        assert_eq!(
            report["diagnostics"].as_array().unwrap().len(),
            every,
            "{name}: {report:#}"
        );
        for diagnostic in report["diagnostics"].as_array().unwrap() {
            assert!(
                diagnostic["line"].as_u64().is_some_and(|l| l > 0),
                "{name}: {diagnostic}"
            );
        }
    }
}

/// The services of a Compose file, as berth reads it.
fn compose_services(path: &Path) -> Vec<String> {
    let mut sources = berth::diagnostic::source::Sources::default();
    let file = berth::import::compose::read(path, &[], &mut sources).unwrap();
    file.services.into_iter().map(|s| s.name).collect()
}

fn replicas(spec: &str) -> u32 {
    let value: toml::Value = toml::from_str(spec).unwrap();
    value
        .get("replication")
        .and_then(|r| r.get("replicas"))
        .and_then(toml::Value::as_integer)
        .map_or(1, |r| r as u32)
}

/// Each imported spec passes `berth check`, failing only on what the Compose file lacks (a
/// storage class, which Kubernetes needs), and with one given compiles for every backend it targets.
#[test]
fn every_imported_spec_compiles_for_every_backend_it_targets() {
    for (name, specs, _, _) in CORPUS {
        let (dir, _) = import_corpus(name);
        for (spec, _) in specs {
            let file = format!("{spec}.toml");
            let set = required_values(&dir.path().join(&file));
            let set: Vec<&str> = set.iter().map(String::as_str).collect();
            let mut args = vec!["check", &file, "--format", "json"];
            args.extend(&set);
            let output = berth(&args, dir.path());
            let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
            let errors: Vec<&str> = report["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["severity"] == "error")
                .map(|d| d["code"].as_str().unwrap())
                .collect();
            let lacks = [
                "kubernetes/missing-storage-class",
                "cloudfoundry/volume-without-service",
            ];
            assert!(
                errors.iter().all(|e| lacks.contains(e)),
                "{name}: {errors:?}"
            );
            let path = dir.path().join(&file);
            let text = std::fs::read_to_string(&path).unwrap();
            let value: toml::Value = toml::from_str(&text).unwrap();
            let volumes: Vec<String> = value["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| format!("{} = \"nfs\"", v["name"].as_str().unwrap()))
                .collect();
            let given = text.replace(
                "# class: the Compose file does not say; Kubernetes needs one (rule kubernetes/missing-storage-class)",
                "class = \"fast-ssd\"",
            ) + &format!("\n[backends.cloudfoundry]\nvolume_services = {{ {} }}\n", volumes.join(", "));
            std::fs::write(&path, given).unwrap();
            let output = compile_in(dir.path(), &file, &set);
            assert_exit(&output, 0, &[]);
        }
    }
}

/// `--set NAME=VALUE` for each parameter the spec at `path` requires: what its user gives.
fn required_values(path: &Path) -> Vec<String> {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let params = value.get("params").and_then(toml::Value::as_table);
    params
        .into_iter()
        .flatten()
        .filter(|(_, p)| p.get("required").and_then(toml::Value::as_bool) == Some(true))
        .flat_map(|(name, _)| ["--set".to_string(), format!("{name}=given")])
        .collect()
}

/// The human report points at the Compose file's line, names the rule, and says how to fix it.
#[test]
fn the_report_points_at_the_compose_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = import(dir.path(), &corpus_file("postgres"), &["--color", "never"]);
    let said = assert_exit(
        &output,
        0,
        &[
            "warning[import/secret-in-environment]",
            "compose.yaml:17:7",
            "= help: write `POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}`",
            "skipped adminer",
        ],
    );
    assert!(said.contains("wrote ./db.toml"), "{said}");
    let spec = std::fs::read_to_string(dir.path().join("db.toml")).unwrap();
    assert!(
        !spec.contains("example"),
        "the literal password is carried over:\n{spec}"
    );
    for line in [
        // A secret reference, a volume for the data, and what the spec does not carry.
        "POSTGRES_PASSWORD = { secret = \"db\", key = \"postgres-password\" }",
        "path = \"/var/lib/postgresql/data\"",
        "- `shm_size`: berth has no such setting",
    ] {
        assert!(spec.contains(line), "no `{line}`:\n{spec}");
    }
}

/// A second import never overwrites what the first wrote, and `--service` picks services: a
/// stateless one is a clear error, not a spec that compiles nowhere (issue 29 item 7).
#[test]
fn import_never_overwrites_and_picks_services() {
    let dir = tempfile::tempdir().unwrap();
    let compose = corpus_file("postgres");
    let db = ["--service", "db", "--out", "mine.toml"];
    assert_exit(&import(dir.path(), &compose, &db), 0, &[]);
    let first = std::fs::read_to_string(dir.path().join("mine.toml")).unwrap();
    assert!(first.contains("name = \"db\""), "{first}");
    assert_exit(&import(dir.path(), &compose, &db), 2, &["never overwrites"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine.toml")).unwrap(),
        first
    );
    let adminer = ["--service", "adminer", "--out", "admin.toml"];
    assert_exit(
        &import(dir.path(), &compose, &adminer),
        2,
        &["no spec of `adminer`: stateless"],
    );
    assert!(!dir.path().join("admin.toml").exists());
    let output = import(dir.path(), &compose, &["--service", "nosuch"]);
    assert_exit(&output, 2, &["no such service", "name one of: db, adminer"]);
}

/// A Compose file that does not parse is an input error at its line.
#[test]
fn a_broken_compose_file_is_an_input_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  db:\n    image: [postgres\n",
    );
    let output = berth(&["import", "compose.yaml", "--color", "never"], dir.path());
    assert_exit(&output, 2, &["error[import/compose]", "compose.yaml:"]);
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "nothing written: {entries:?}");
}

/// berth's own compose output imports to a spec that compiles to the same files, for every
/// example: the members, their templates, `[[files]]` (berth's start script and per-member files
/// read back), `[init]` with `done_output`, and `[tls]`.
#[test]
fn berths_compose_output_imports_back_to_itself() {
    for (name, spec) in examples() {
        let dir = tempfile::tempdir().unwrap();
        compile_ok(
            dir.path(),
            spec.to_str().unwrap(),
            &["--backend", "compose"],
        );
        let compose = dir.path().join("out/compose/compose.yaml");
        assert_exit(
            &import(dir.path(), &compose, &["--out", "imported.toml"]),
            0,
            &[],
        );
        let again = dir.path().join("again");
        berth_ok(
            &[
                "compile",
                "imported.toml",
                "--out",
                again.to_str().unwrap(),
                "--backend",
                "compose",
            ],
            dir.path(),
        );
        assert_eq!(
            tree(&again.join("compose")),
            tree(&dir.path().join("out/compose")),
            "{name}: the imported spec compiles to other files"
        );
    }
}

/// Interpolation as compose does it: `.env` beside the file and defaults become parameters.
#[test]
fn references_become_parameters_with_the_env_files_values() {
    let (dir, _) = import_corpus("elasticsearch");
    let spec = std::fs::read_to_string(dir.path().join("es.toml")).unwrap();
    assert!(
        spec.contains(
            "image = \"docker.elastic.co/elasticsearch/elasticsearch:{{params.stack_version}}\""
        ),
        "{spec}"
    );
    let value: toml::Value = toml::from_str(&spec).unwrap();
    assert_eq!(
        value["params"]["stack_version"]["default"].as_str(),
        Some("7.17.22")
    );
    assert!(
        spec.contains("`ulimits`: berth has no such setting"),
        "{spec}"
    );
}

/// A file of which no service can be imported says why for each, and writes nothing.
#[test]
fn a_file_with_nothing_to_import_says_why_for_each_service() {
    let dir = tempfile::tempdir().unwrap();
    let compose = write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx:1.27\n  cache:\n    image: rediscommander/redis-commander:latest\n",
    );
    let out = import(dir.path(), &compose, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert_contains(&said, "`web`: stateless");
    assert_contains(&said, "`cache`: stateless");
    assert!(!dir.path().join("web.toml").exists() && !dir.path().join("cache.toml").exists());
}

/// berth's compose output carries what the compose format cannot say about the checks in labels,
/// which the import reads back; a Compose file without them gets the same listed in the spec, not
/// lost. One volume service per volume keeps Cloud Foundry among the targets.
#[test]
fn the_round_trip_keeps_the_checks_and_lists_what_compose_cannot_carry() {
    let dir = tempfile::tempdir().unwrap();
    let zookeeper = root().join("examples/zookeeper.toml");
    let out = berth(
        &[
            "compile",
            zookeeper.to_str().unwrap(),
            "--backend",
            "compose",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Imports `compose` (in `dir`) to `spec`, which it returns.
    let imported = |compose: &str, spec: &str| {
        let out = import(dir.path(), &dir.path().join(compose), &["--out", spec]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::read_to_string(dir.path().join(spec)).unwrap()
    };
    let spec = imported("out/compose/compose.yaml", "zk.toml");
    // What the checks need, and the readiness check, from berth's own labels.
    assert_contains(&spec, "needs_peers = false  # berth's own label");
    assert_contains(&spec, "[health.readiness]\n# berth's own label");
    assert!(!spec.contains("set `needs_peers` under"), "{spec}");
    assert!(
        !spec.contains("no readiness check: Compose has none"),
        "{spec}"
    );
    assert!(!spec.contains("Not for cloudfoundry"), "{spec}");

    let compose = dir.path().join("out/compose/compose.yaml");
    let text = std::fs::read_to_string(&compose).unwrap();
    let unlabelled = text
        .replace("berth.liveness-needs:", "x-a:")
        .replace("berth.readiness:", "x-b:");
    write(dir.path(), "plain.yaml", &unlabelled);
    let spec = imported("plain.yaml", "plain.toml");
    assert_contains(&spec, "set `needs_peers` under `[health.liveness]`");
    assert_contains(&spec, "no readiness check: Compose has none");
}

/// Specs from one Compose file keep the names the services reach each other by: each joins the
/// project's network with its Compose names as aliases (`server` reaches `db:5432`), on every
/// backend that has such names.
#[test]
fn an_application_imports_as_one_network() {
    let (dir, _) = import_corpus("gitea-postgres");
    for (spec, aliases) in [
        ("server", vec!["server", "gitea"]),
        ("db", vec!["db"]),
        ("redis", vec!["redis"]),
    ] {
        let text = std::fs::read_to_string(dir.path().join(format!("{spec}.toml"))).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            value["network"]["name"].as_str(),
            Some("gitea-postgres"),
            "{text}"
        );
        let written: Vec<&str> = value["network"]["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(written, aliases, "{spec}");
    }
    let output = berth(
        &["compile", "db.toml", "--backend", "compose", "--out", "db"],
        dir.path(),
    );
    assert_exit(&output, 0, &[]);
    let compose = std::fs::read_to_string(dir.path().join("db/compose/compose.yaml")).unwrap();
    assert!(
        compose.contains("    networks:\n      gitea-postgres:\n        aliases:\n        - db\n"),
        "{compose}"
    );
}

/// An alias never takes a name another service of the file answers to: here `pg`'s container
/// name is what berth names redis's member, and `mongo`'s is `pg`'s service name.
#[test]
fn aliases_never_take_another_services_name() {
    let dir = tempfile::tempdir().unwrap();
    let compose = "services:\n  redis:\n    image: redis:7.4\n    restart: always\n    volumes: [\"r:/data\"]\n  pg:\n    image: postgres:16\n    restart: always\n    container_name: redis-0\n    volumes: [\"p:/var/lib/postgresql/data\"]\n  mongo:\n    image: mongo:7\n    restart: always\n    container_name: pg\n    volumes: [\"m:/data/db\"]\n  app:\n    image: nginx:1.27\nvolumes: {r: {}, p: {}, m: {}}\n";
    write(dir.path(), "compose.yaml", compose);
    berth_ok(&["import", "compose.yaml", "--out", "."], dir.path());
    for (spec, aliases) in [("redis", ["redis"]), ("pg", ["pg"]), ("mongo", ["mongo"])] {
        let text = std::fs::read_to_string(dir.path().join(format!("{spec}.toml"))).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            value["network"]["aliases"],
            toml::Value::from(aliases.to_vec()),
            "{text}"
        );
    }
}
