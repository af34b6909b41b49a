//! `berth import` on the engine: each corpus Compose file (tests/import/) whose images
//! tests/images/ builds runs as written, then as the compose backend's output of the spec
//! imported from it. Both runs must agree on what the user relied on: the same members with the
//! same image, the data on a volume at the same path, the same container ports published, and
//! the software answering its own client inside every member. Where a case says so, the data
//! written under the Compose file is read back from berth's output, which mounts the Compose
//! file's own volumes (`volumes.external`).
//!
//! Without an engine or docker-compose a test says SKIPPED, and fails under `CI=true`.

use crate::common::engine::*;
use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Case {
    corpus: &'static str,
    /// The spec `berth import` writes.
    spec: &'static str,
    /// The Compose services the spec comes from, started alone (the file may hold others).
    services: &'static [&'static str],
    /// The environment of `up`: the secrets the imported spec references.
    env: &'static [(&'static str, &'static str)],
    /// A command that succeeds inside each member once it serves.
    answers: &'static [&'static str],
    /// Data written in the first member under the Compose file, and read back from it under
    /// berth's output; `None` for a new deployment (the spec's `external` volumes removed).
    kept: Option<Kept>,
}

struct Kept {
    write: &'static [&'static str],
    read: &'static [&'static str],
    /// What `read` prints.
    holds: &'static str,
}

/// What a run is made of, per member in member order: image, volume mount paths, published
/// container ports.
type Facts = Vec<(String, Vec<String>, Vec<String>)>;

fn check(case: &Case) {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    images();
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    copy_dir(&root().join("tests/import").join(case.corpus), &original);
    let project = format!("imp{}", unique());
    let up = |cwd: &Path, extra: &[&str]| {
        let mut command = Command::new(&compose);
        command
            .current_dir(cwd)
            .envs(case.env.iter().copied())
            .args(extra);
        command
    };
    // Last: the Compose file's volumes outlive its containers, for berth's output to mount.
    let _volumes = Cleanup(vec![down_command(&compose, &original, Some(&project))]);
    let original_facts = {
        let mut args = vec!["-p", project.as_str(), "up", "-d"];
        args.extend(case.services);
        run_ok(
            &mut up(&original, &args),
            "docker-compose up (the Compose file as written)",
        );
        let members: Vec<String> = case
            .services
            .iter()
            .map(|s| container_of(&project, s))
            .collect();
        wait_serving(case, &members);
        if let Some(kept) = &case.kept {
            let mut args = vec!["exec", members[0].as_str()];
            args.extend(kept.write);
            run_ok(Command::new("docker").args(&args), "the data's write");
        }
        let facts = facts(&members);
        run_ok(
            &mut up(&original, &["-p", project.as_str(), "down"]),
            "docker-compose down (the volumes kept)",
        );
        facts
    };
    let imported = dir.path().join("imported");
    std::fs::create_dir(&imported).unwrap();
    let file = original.join("compose.yaml");
    berth_ok(
        &[
            "import",
            file.to_str().unwrap(),
            "--out",
            ".",
            "--project-name",
            &project,
        ],
        &imported,
    );
    let spec = imported.join(format!("{}.toml", case.spec));
    let text = std::fs::read_to_string(&spec).unwrap();
    if case.kept.is_some() {
        assert!(
            text.contains("\nexternal = "),
            "{}: the spec does not mount the Compose file's volumes:\n{text}",
            case.corpus
        );
    } else {
        as_new_deployment(&spec);
    }
    compile_ok(
        &imported,
        &format!("{}.toml", case.spec),
        &["--backend", "compose"],
    );
    let out = imported.join("out/compose");
    let _down = Cleanup(vec![down_command(&compose, &out, None)]);
    run_ok(
        &mut up(&out, &["up", "-d"]),
        "docker-compose up (the imported spec's output)",
    );
    let mut members = containers(case.spec);
    members.sort_by_key(|c| {
        stdout(&docker(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"berth.member\"}}",
            c,
        ]))
        .trim()
        .to_string()
    });
    wait_serving(case, &members);
    assert_eq!(
        facts(&members),
        original_facts,
        "{}: the imported spec's members differ from the Compose file's",
        case.corpus
    );
    if let Some(kept) = &case.kept {
        let mut args = vec!["exec", members[0].as_str()];
        args.extend(kept.read);
        let read = docker(&args);
        assert_eq!(
            stdout(&read).trim(),
            kept.holds,
            "{}: the data written under the Compose file is not in berth's output: {}",
            case.corpus,
            stderr(&read)
        );
    }
}

/// Takes `external` out of an imported spec: its outputs make volumes of their own.
fn as_new_deployment(spec: &Path) {
    let text = std::fs::read_to_string(spec).unwrap();
    let new: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("external = "))
        .collect();
    std::fs::write(spec, new.join("\n")).unwrap();
}

fn down_command(compose: &Path, dir: &Path, project: Option<&str>) -> Vec<String> {
    let mut words = vec!["sh".to_string(), "-c".to_string()];
    let project = project.map(|p| format!("-p {p} ")).unwrap_or_default();
    words.push(format!(
        "cd '{}' && '{}' {project}down -v --remove-orphans",
        dir.display(),
        compose.display()
    ));
    words
}

fn container_of(project: &str, service: &str) -> String {
    let output = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ]);
    let id = stdout(&output).trim().to_string();
    assert!(!id.is_empty(), "{service} is not running");
    id
}

/// Waits until every member runs and answers its client.
fn wait_serving(case: &Case, members: &[String]) {
    wait_until(
        &format!("{} answers in every member", case.corpus),
        Duration::from_secs(180),
        || {
            members.iter().all(|m| {
                let mut args = vec!["exec", m.as_str()];
                args.extend(case.answers);
                docker(&args).status.success()
            })
        },
    );
}

fn facts(members: &[String]) -> Facts {
    members
        .iter()
        .map(|m| {
            let inspect = |format: &str| {
                let text = stdout(&docker(&["inspect", "--format", format, m]));
                let mut words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
                words.sort();
                words
            };
            (
                inspect("{{.Config.Image}}").join(" "),
                inspect("{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Destination}} {{end}}{{end}}"),
                inspect("{{range $port, $bound := .NetworkSettings.Ports}}{{if $bound}}{{$port}} {{end}}{{end}}"),
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn imported_etcd_runs_like_the_compose_file() {
    check(&Case {
        corpus: "etcd",
        spec: "etcd",
        services: &["etcd1", "etcd2", "etcd3"],
        env: &[],
        answers: &[
            "/usr/local/bin/etcdctl",
            "--endpoints=http://127.0.0.1:2379",
            "endpoint",
            "health",
            "--cluster",
        ],
        // etcd keeps its peers' names with its data, and berth's members have other names
        // (`etcd1` becomes `etcd-0`): a new deployment until the old names can be kept.
        kept: None,
    });
}

#[test]
fn imported_postgres_runs_like_the_compose_file() {
    check(&Case {
        corpus: "postgres",
        spec: "db",
        services: &["db"],
        env: &[("POSTGRES_PASSWORD", "example")],
        answers: &["pg_isready", "--host=127.0.0.1"],
        // The Compose file keeps no volume: there is no data to keep.
        kept: None,
    });
}

#[test]
fn imported_redis_runs_like_the_compose_file() {
    check(&Case {
        corpus: "redis",
        spec: "cache",
        services: &["cache"],
        env: &[],
        answers: &["redis-cli", "ping"],
        kept: Some(Kept {
            write: &["sh", "-c", "redis-cli set berth-kept yes && redis-cli save"],
            read: &["redis-cli", "get", "berth-kept"],
            holds: "yes",
        }),
    });
}

#[test]
fn imported_rabbitmq_runs_like_the_compose_file() {
    check(&Case {
        corpus: "rabbitmq",
        spec: "rabbitmq",
        services: &["rabbitmq1", "rabbitmq2", "rabbitmq3"],
        env: &[("RABBITMQ_ERLANG_COOKIE", "secret-cookie-value")],
        answers: &["rabbitmq-diagnostics", "-q", "ping"],
        // A RabbitMQ node's data is under its node name, which changes with the member's name.
        kept: None,
    });
}

/// Two services of one Compose file that refer to each other (a Redis and its mirror, which names
/// it `db`), imported as two specs and run as two compose outputs, each its own project: the
/// mirror still reaches `db` by its Compose name on the network both join, and what is written
/// to `db` appears in the mirror.
#[test]
fn imported_services_still_reach_each_other_by_their_compose_names() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    let Some(compose) = tool("docker-compose") else {
        return;
    };
    images();
    let dir = tempfile::tempdir().unwrap();
    let file = root().join("tests/import/redis-mirror/compose.yaml");
    let project = format!("imp{}", unique());
    let args = ["import", file.to_str().unwrap(), "--out", "."];
    berth_ok(
        &[&args[..], &["--project-name", &project]].concat(),
        dir.path(),
    );
    let mut cleanup = vec![cmd(&["docker", "network", "rm", &project])];
    let (mut members, mut downs) = (Vec::new(), Vec::new());
    for spec in ["db", "mirror"] {
        // The Compose file never ran, so it has no volumes to mount.
        as_new_deployment(&dir.path().join(format!("{spec}.toml")));
        compile_ok(
            dir.path(),
            &format!("{spec}.toml"),
            &["--backend", "compose"],
        );
        let out = dir.path().join(format!("out-{spec}"));
        std::fs::rename(dir.path().join("out/compose"), &out).unwrap();
        let name = format!("{project}-{spec}");
        downs.push(down_command(&compose, &out, Some(&name)));
        cleanup.extend(downs.last().cloned());
        let up = Command::new(&compose)
            .current_dir(&out)
            .args(["-p", &name, "up", "-d"])
            .output()
            .unwrap();
        assert!(up.status.success(), "up {spec}: {}", stderr(&up));
        members.push(container_of(&name, &format!("{spec}-0")));
    }
    // Each project's `down` once more, after the others' (a cleanup runs last to first):
    // compose's `down` stops at the shared network while another project uses it, before it
    // removes the volumes.
    cleanup.extend(downs);
    let _cleanup = Cleanup(cleanup);
    let (db, mirror) = (&members[0], &members[1]);
    wait_until("db answers", Duration::from_secs(60), || {
        docker(&["exec", db, "redis-cli", "ping"]).status.success()
    });
    run_ok(
        Command::new("docker").args(["exec", db, "redis-cli", "set", "berth-mirrored", "yes"]),
        "the write to db",
    );
    wait_until_or_explain(
        "the mirror holds what was written to `db`",
        Duration::from_secs(60),
        || {
            stdout(&docker(&[
                "exec",
                mirror,
                "redis-cli",
                "get",
                "berth-mirrored",
            ]))
            .trim()
                == "yes"
        },
        || {
            stdout(&docker(&[
                "exec",
                mirror,
                "redis-cli",
                "info",
                "replication",
            ]))
        },
    );
}
