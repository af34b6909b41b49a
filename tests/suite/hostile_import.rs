//! `berth import` of hostile Compose files (issue 31): it copies no secret and no file of the
//! host into the spec, a string of the file cannot add a table or a line to the spec, reading
//! what the file names is bounded (no hang, no unbounded memory, nothing outside its folder
//! unless `--allow-read` names it), and numbers berth cannot carry are findings. Each test runs
//! the real binary in a scratch directory.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A variable of berth's own environment that must never reach a spec (through
/// `/proc/self/environ`, for one).
const CANARY: (&str, &str) = ("BERTH_TEST_CANARY", "s3cret-canary-31");

/// `berth import ARGS...` in `dir`, with [`CANARY`] in its environment; fails the test when it
/// runs longer than 30 seconds (a hang on a FIFO or an endless read), killing it.
fn import(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("import")
        .args(args)
        .args(["--color", "never"])
        .current_dir(dir)
        .env(CANARY.0, CANARY.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "`berth import {args:?}` did not finish in 30 s:\n{}",
                stderr(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `berth import` that must succeed with `--format json`: the spec it wrote to `out` and the report.
fn import_ok(dir: &Path, compose: &str, out: &str, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec![compose, "--out", out, "--format", "json"];
    args.extend(extra);
    let output = import(dir, &args);
    assert_exit(&output, 0, &[]);
    let report = serde_json::from_str(&stdout(&output)).unwrap();
    (std::fs::read_to_string(dir.join(out)).unwrap(), report)
}

/// The report's diagnostics with this code, as their messages.
fn said(report: &serde_json::Value, code: &str) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .map(|d| d["message"].as_str().unwrap().to_string())
        .collect()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The reproducer of issue 31, item 1: a private key and `/etc/passwd` bind-mounted read-only,
/// `/proc/self/environ` as a config, a private key under an innocent name, and passwords in
/// `.env`. None of it reaches the spec: the key files become secret references (with a finding
/// saying to create the secret), the host files are not copied (a finding each), and the
/// passwords are secret references or parameters without a default.
#[test]
fn host_files_and_secrets_are_never_copied() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("conf")).unwrap();
    std::fs::create_dir_all(dir.path().join("hostsecret")).unwrap();
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    write(&dir.path().join("hostsecret"), "id_rsa", key);
    write(&project.join("conf"), "identity", key);
    write(&project.join("conf"), "app.conf", "listen = 5432\n");
    write(
        &project,
        ".env",
        "ADMIN_PASSWORD=s3cret-admin-pass\nAPI_TOKEN=tok-s3cret\nVERSION=16.4\n",
    );
    write(
        &project,
        "compose.yaml",
        r#"services:
  db:
    image: postgres:${VERSION}
    restart: unless-stopped
    command: ["postgres", "-c", "password=${ADMIN_PASSWORD}", "-c", "key=${SIGNING_KEY:-default-s3cret}", "--token=${INITIAL_CLUSTER_TOKEN:-cluster-1}"]
    environment:
      ADMIN: ${ADMIN_PASSWORD}
      DATABASE_URL: postgres://app:${ADMIN_PASSWORD}@dbhost/app
      API: ${API_TOKEN}
    volumes:
      - data:/var/lib/postgresql/data
      - ../hostsecret/id_rsa:/root/.ssh/id_rsa:ro
      - /etc/passwd:/etc/passwd:ro
      - ./conf/identity:/etc/identity:ro
      - ./conf/app.conf:/etc/app.conf:ro
    configs:
      - source: environ
        target: /environ
configs:
  environ:
    file: /proc/self/environ
volumes:
  data:
"#,
    );
    let (spec, report) = import_ok(&project, "compose.yaml", "db.toml", &[]);
    let mut secrets = vec![
        "s3cret-admin-pass",
        "tok-s3cret",
        "default-s3cret",
        CANARY.1,
        "PRIVATE KEY",
    ];
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    secrets.extend(passwd.lines().filter(|l| l.contains(':')));
    for secret in secrets {
        assert!(!spec.contains(secret), "the spec holds `{secret}`:\n{spec}");
    }
    let value: toml::Table = toml::from_str(&spec).unwrap();
    // The files: two keys as secret references, `/etc/passwd` (named like one) too, the
    // project's own configuration as its text, and `/proc/self/environ` not at all.
    let files: Vec<(String, String)> = value["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let how = match (f.get("secret"), f.get("content")) {
                (Some(_), None) => format!("secret {}", f["key"].as_str().unwrap()),
                (None, Some(content)) => format!("content {}", content.as_str().unwrap()),
                _ => panic!("{f}"),
            };
            (f["path"].as_str().unwrap().to_string(), how)
        })
        .collect();
    let expected = [
        ("/root/.ssh/id_rsa", "secret id-rsa"),
        ("/etc/passwd", "secret passwd"),
        ("/etc/identity", "secret identity"),
        ("/etc/app.conf", "content listen = 5432\n"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, h)| (p.to_string(), h.to_string()))
        .collect();
    assert_eq!(files, expected, "{spec}");
    let secret_files = said(&report, "import/secret-file");
    assert_eq!(secret_files.len(), 3, "{report:#}");
    assert!(
        secret_files[0].contains("`../hostsecret/id_rsa`"),
        "{secret_files:?}"
    );
    assert!(
        secret_files[2].contains("holds a private key"),
        "{secret_files:?}"
    );
    let not_copied = said(&report, "import/file-not-copied");
    assert_eq!(not_copied.len(), 1, "{report:#}");
    assert!(
        not_copied[0].contains("`/proc/self/environ`") && not_copied[0].contains("outside"),
        "{not_copied:?}"
    );
    // The passwords: secret references in the environment, a required parameter (no default)
    // where a reference cannot go.
    let env = &value["container"]["env"];
    assert_eq!(
        env["ADMIN"]["key"].as_str(),
        Some("admin-password"),
        "{spec}"
    );
    assert_eq!(env["API"]["key"].as_str(), Some("api-token"), "{spec}");
    assert_eq!(
        env["DATABASE_URL"].as_str(),
        Some("postgres://app:{{params.admin_password}}@dbhost/app")
    );
    assert_eq!(
        value["params"]["admin_password"]["required"].as_bool(),
        Some(true)
    );
    assert_eq!(value["params"]["version"]["default"].as_str(), Some("16.4"));
    // A secret's default in the Compose file is not copied either; etcd's cluster token is an
    // identifier, whose default is.
    assert_eq!(
        value["params"]["signing_key"]["required"].as_bool(),
        Some(true)
    );
    assert!(value["params"]["signing_key"].get("default").is_none());
    assert_eq!(
        value["params"]["initial_cluster_token"]["default"].as_str(),
        Some("cluster-1")
    );
}

/// Variables named like secrets by Docker's `*_FILE` convention hold a path, not the secret:
/// they stay plain values.
#[test]
fn file_variables_stay_plain_values() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".env", "PASSWORD_PATH_FILE=/run/secrets/pw\n");
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16.4\n    restart: unless-stopped\n    environment:\n      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n      OTHER_FILE: ${PASSWORD_PATH_FILE}\n    volumes: [data:/var/lib/postgresql/data]\nvolumes:\n  data:\n",
    );
    let (spec, _) = import_ok(dir.path(), "compose.yaml", "db.toml", &[]);
    let value: toml::Table = toml::from_str(&spec).unwrap();
    let env = &value["container"]["env"];
    assert_eq!(
        env["POSTGRES_PASSWORD_FILE"].as_str(),
        Some("/run/secrets/db_password"),
        "{spec}"
    );
    assert_eq!(
        value["params"]["password_path_file"]["default"].as_str(),
        Some("/run/secrets/pw")
    );
}

/// Characters that end a line for a TOML or YAML reader; none may stand in a comment.
const LINE_BREAKS: [char; 7] = [
    '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}', '\0',
];

/// Item 2: keys, values and names of the Compose file that close a table and open another, in
/// every place the spec writes them (a parameter's table, an environment key and value, the
/// comments that list what is not mapped, the header that names the file). The spec parses as
/// TOML with exactly the tables expected, and holds each value exactly.
#[test]
fn strings_of_the_compose_file_add_no_table_or_line() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "x]\n[injected]\nhello = 1\n[params.y";
    let value = "a\"\"\"\n[injected]\nhello = 1\n'''\\";
    // A YAML double-quoted string holds the escapes as characters.
    let yaml = |s: &str| serde_json::to_string(s).unwrap();
    let compose = format!(
        "services:\n  db:\n    image: postgres:16.4\n    restart: unless-stopped\n    environment:\n      {}:\n      GREETING: {}\n    {}: true\n    volumes:\n      - data:/var/lib/postgresql/data\n      - {}\nvolumes:\n  data:\n",
        yaml(hostile),
        yaml(value),
        yaml("cap_add\u{2028}[injected]\u{85}hello = 1\r[x]"),
        yaml("./in\u{2029}[injected]\u{c}\u{b}:/etc/x:ro"),
    );
    let name = "compose\n[injected]\u{2028}.yaml";
    write(dir.path(), name, &compose);
    let (spec, _) = import_ok(dir.path(), name, "db.toml", &[]);
    let parsed: toml::Table = toml::from_str(&spec).unwrap_or_else(|e| panic!("{e}\n{spec}"));
    let tables: Vec<&str> = parsed.keys().map(String::as_str).collect();
    assert_eq!(tables, ["container", "name", "params", "volumes"], "{spec}");
    let params: Vec<&str> = parsed["params"]
        .as_table()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(params, ["data_size"], "{spec}");
    let env = parsed["container"]["env"].as_table().unwrap();
    let keys: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(keys, ["GREETING"], "{spec}");
    assert_eq!(env["GREETING"].as_str(), Some(value));
    for line in spec.lines().filter(|l| l.starts_with('#')) {
        assert!(
            !line.contains(LINE_BREAKS),
            "a comment holds a line break: {line:?}"
        );
    }
    // What was not written is listed, escaped, in the comments.
    assert!(spec.contains("# - `environment.x]\\n[injected]"), "{spec}");
    assert!(spec.contains("cap_add\\u{2028}[injected]"), "{spec}");
}

/// Item 3: `extends.file` naming `/dev/zero` (directly, or through a link in the folder), a FIFO
/// as `.env` and as the Compose file, and a file over berth's limit: each ends promptly with a
/// clear error naming the Compose file, the key and the fix.
#[test]
fn reading_what_the_file_names_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let base = |file: &str| {
        format!(
            "services:\n  db:\n    image: postgres:16.4\n    volumes: [data:/var/lib/postgresql/data]\n    extends: {{file: {file}, service: db}}\nvolumes:\n  data:\n"
        )
    };
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.yaml")).unwrap();
    write(dir.path(), "zero.yaml.compose", &base("zero.yaml"));
    write(dir.path(), "dev.yaml", &base("/dev/zero"));
    let big = format!("# {}\n", "x".repeat(5 * 1024 * 1024));
    write(dir.path(), "big.yaml", &big);
    write(dir.path(), "big.compose", &base("big.yaml"));
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "dev.yaml",
            &[],
            &[
                "`services.db.extends.file`",
                "`/dev/zero`",
                "outside",
                "--allow-read /dev",
            ],
        ),
        (
            "dev.yaml",
            &["--allow-read", "/dev"],
            &["`/dev/zero` is not a regular file"],
        ),
        (
            "zero.yaml.compose",
            &[],
            &["`zero.yaml` leads to `/dev/zero`, outside"],
        ),
        ("big.compose", &[], &["`big.yaml` is larger than 4 MiB"]),
    ];
    for (compose, extra, says) in cases {
        let mut args = vec![compose];
        args.extend(extra);
        let output = import(dir.path(), &args);
        let mut expected = vec!["error[import/compose]", "= help: "];
        expected.extend(says);
        assert_exit(&output, 2, &expected);
    }
    // A FIFO where `.env` stands, and as the Compose file itself.
    let fifo_dir = dir.path().join("fifo");
    std::fs::create_dir(&fifo_dir).unwrap();
    mkfifo(&fifo_dir.join(".env"));
    mkfifo(&fifo_dir.join("fifo.yaml"));
    write(
        &fifo_dir,
        "compose.yaml",
        &base("compose.yaml").replace("    extends: {file: compose.yaml, service: db}\n", ""),
    );
    let output = import(&fifo_dir, &["compose.yaml"]);
    assert_exit(
        &output,
        2,
        &[
            "`compose.yaml`: `.env` is not a regular file",
            "or remove the `.env` beside `compose.yaml`",
        ],
    );
    let output = import(&fifo_dir, &["fifo.yaml"]);
    assert_exit(&output, 2, &["`fifo.yaml` is not a regular file"]);
    assert!(
        !fifo_dir.join("db.toml").exists(),
        "nothing is written after a refusal"
    );
}

/// Item 3: `.env`, `env_file`, `extends.file` and a mounted file outside the Compose file's
/// folder are refused, naming the key and `--allow-read`; with `--allow-read` they are read, and
/// the report names each file read from outside.
#[test]
fn files_outside_the_folder_need_allow_read() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&shared).unwrap();
    write(&shared, "shared.env", "VERSION=16.4\n");
    write(&shared, "db.env", "LANGUAGE=de\n");
    write(
        &shared,
        "base.yaml",
        "services:\n  base:\n    image: postgres:${VERSION}\n    restart: unless-stopped\n",
    );
    write(&shared, "app.conf", "listen = 5432\n");
    std::os::unix::fs::symlink("../shared/shared.env", project.join(".env")).unwrap();
    write(
        &project,
        "compose.yaml",
        "services:\n  db:\n    extends: {file: ../shared/base.yaml, service: base}\n    env_file: ../shared/db.env\n    volumes:\n      - data:/var/lib/postgresql/data\n      - ../shared/app.conf:/etc/app.conf:ro\nvolumes:\n  data:\n",
    );
    let output = import(&project, &["compose.yaml"]);
    assert_exit(
        &output,
        2,
        &["`.env` leads to `", "outside", "--allow-read "],
    );
    std::fs::remove_file(project.join(".env")).unwrap();
    let output = import(&project, &["compose.yaml"]);
    assert_exit(&output, 2, &["`services.db.extends.file`", "outside"]);
    std::os::unix::fs::symlink("../shared/shared.env", project.join(".env")).unwrap();
    let allowed = shared.to_str().unwrap();
    let (spec, report) = import_ok(
        &project,
        "compose.yaml",
        "db.toml",
        &["--allow-read", allowed],
    );
    let value: toml::Table = toml::from_str(&spec).unwrap();
    assert_eq!(value["params"]["version"]["default"].as_str(), Some("16.4"));
    assert_eq!(value["container"]["env"]["LANGUAGE"].as_str(), Some("de"));
    assert_eq!(
        value["files"][0]["content"].as_str(),
        Some("listen = 5432\n")
    );
    let outside = said(&report, "spec/read-outside");
    for (key, file) in [
        ("`.env`", "shared.env"),
        ("`services.db.extends.file`", "base.yaml"),
        ("`services.db.env_file`", "db.env"),
        ("`services.db.volumes`", "app.conf"),
    ] {
        assert!(
            outside
                .iter()
                .any(|m| m.starts_with(key) && m.contains(file)),
            "no warning names {file}: {outside:?}"
        );
    }
    // Without `--allow-read`, the mounted file alone is a finding and not copied.
    std::fs::remove_file(project.join(".env")).unwrap();
    write(
        &project,
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16.4\n    restart: unless-stopped\n    volumes:\n      - data:/var/lib/postgresql/data\n      - ../shared/app.conf:/etc/app.conf:ro\nvolumes:\n  data:\n",
    );
    let (spec, report) = import_ok(&project, "compose.yaml", "db2.toml", &[]);
    assert!(!spec.contains("listen = 5432"), "{spec}");
    let not_copied = said(&report, "import/file-not-copied");
    assert_eq!(not_copied.len(), 1, "{report:#}");
    assert!(
        not_copied[0].contains("`../shared/app.conf`"),
        "{not_copied:?}"
    );
}

/// Item 4: `deploy.replicas: 1001` (berth's most is 1000) and other numbers out of range are
/// findings naming the service and the key; the spec leaves them out rather than write them.
#[test]
fn numbers_out_of_range_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16.4\n    restart: unless-stopped\n    ports: [\"0:5432\", \"5433:5433\"]\n    healthcheck:\n      test: [CMD, pg_isready]\n      retries: 5000\n    volumes: [data:/var/lib/postgresql/data]\n    deploy:\n      replicas: 1001\nvolumes:\n  data:\n",
    );
    let (spec, report) = import_ok(dir.path(), "compose.yaml", "db.toml", &[]);
    let value: toml::Table = toml::from_str(&spec).unwrap();
    assert!(value.get("replication").is_none(), "{spec}");
    assert!(!spec.contains("1001") && !spec.contains("5000"), "{spec}");
    let ports: Vec<i64> = value["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_integer().unwrap())
        .collect();
    assert!(!ports.contains(&0), "{spec}");
    let findings = said(&report, "import/out-of-range");
    for (key, value) in [
        ("`deploy.replicas` of `db`", "is 1001, outside 1..=1000"),
        ("`ports` of `db`", "is 0, outside 1..=65535"),
        ("`healthcheck.retries` of `db`", "is 5000, outside 1..=1000"),
    ] {
        assert!(
            findings
                .iter()
                .any(|f| f.starts_with(key) && f.contains(value)),
            "no finding for {key}: {findings:?}"
        );
    }
}

/// A dangling symbolic link where import (or init) writes a spec is taken: writing through it
/// would create a file wherever it points, with text the Compose file chose.
#[test]
fn a_dangling_link_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim/authorized_keys");
    std::fs::create_dir_all(victim.parent().unwrap()).unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16.4\n    restart: always\n    volumes: [data:/var/lib/postgresql/data]\nvolumes:\n  data:\n",
    );
    std::os::unix::fs::symlink(&victim, dir.path().join("db.toml")).unwrap();
    assert_exit(
        &import(dir.path(), &["compose.yaml"]),
        2,
        &["`./db.toml` exists"],
    );
    assert!(!victim.exists(), "import wrote through the link");
    std::os::unix::fs::symlink(&victim, dir.path().join("mydb.toml")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("berth.schema.json")).unwrap();
    let init = berth(&["init", "mydb", "--from", "postgres"], dir.path());
    assert_exit(&init, 2, &["exists"]);
    assert!(!victim.exists(), "init wrote through the link");
}

/// Two services whose names meet in one spec name (`db` and `db_`; issue 29's `my_db` and
/// `my-db`) get specs of their own names: neither is written over the other.
#[test]
fn two_specs_are_never_written_to_one_path() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  db:\n    image: postgres:16.4\n    restart: always\n    volumes: [pg:/var/lib/postgresql/data]\n  db_:\n    image: redis:7.4\n    restart: always\n    volumes: [r:/data]\n  my_db:\n    image: postgres:16.4\n    restart: always\n    volumes: [a:/var/lib/postgresql/data]\n  my-db:\n    image: postgres:16.4\n    restart: always\n    volumes: [b:/var/lib/postgresql/data]\nvolumes: {pg: , r: , a: , b: }\n",
    );
    let output = import(dir.path(), &["compose.yaml"]);
    assert_exit(&output, 0, &[]);
    for (file, name, image) in [
        ("db.toml", "db", "postgres:16.4"),
        ("db-2.toml", "db-2", "redis:7.4"),
        ("my-db.toml", "my-db", "postgres:16.4"),
        ("my-db-2.toml", "my-db-2", "postgres:16.4"),
    ] {
        let spec = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let value: toml::Table = toml::from_str(&spec).unwrap();
        assert_eq!(value["name"].as_str(), Some(name), "{spec}");
        assert_eq!(value["container"]["image"].as_str(), Some(image), "{spec}");
    }
    let volume = |file: &str| {
        let spec = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let value: toml::Table = toml::from_str(&spec).unwrap();
        value["volumes"][0]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(
        (volume("my-db.toml"), volume("my-db-2.toml")),
        ("a".into(), "b".into())
    );
}
