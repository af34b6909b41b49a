//! An init step that authenticates, on the engine: Redis started with `--requirepass` from a
//! secret, and an `[init]` that writes a key with `redis-cli -a "$REDIS_PASSWORD"`, its password
//! given by `[init.env]` as the members get theirs (the caller's environment for run.sh and
//! compose). Swarm hands secrets over as files (`<NAME>_FILE`), which the same command would not
//! read: that difference is rule `swarm/secret-as-file`'s, not tested here again.

use crate::common::engine::*;
use crate::common::*;
use std::process::Command;
use std::time::Duration;

const PASSWORD: &str = "berth-init-password";

fn spec(name: &str) -> String {
    format!(
        r#"name = "{name}"
targets = ["docker", "compose"]

[container]
shell = true
image = "redis:7.4"
command = ["sh", "-c", "exec redis-server --requirepass \"$REDIS_PASSWORD\" --dir /data"]
env = {{ REDIS_PASSWORD = {{ secret = "redis", key = "password" }} }}
user = 999

[[ports]]
name = "redis"
port = 6379

[[volumes]]
name = "data"
path = "/data"
size = "1Gi"
class = "fast-ssd"

[health.liveness]
tcp = "redis"
docker_exec = ["redis-cli", "ping"]

[resources]
cpu = "250m"
memory = "256Mi"

[init]
command = ["sh", "-c", "redis-cli --no-auth-warning -h {{{{peers.[0].host}}}} -a \"$REDIS_PASSWORD\" set berth:init done | grep -qx OK"]
env = {{ REDIS_PASSWORD = {{ secret = "redis", key = "password" }} }}
"#
    )
}

/// The member's running container (compose names it `<project>_<service>_1`), not the init's.
fn member(service: &str) -> Option<String> {
    let filter = format!("label=berth.service={service}");
    let ps = docker(&["ps", "--filter", &filter, "--format", "{{.ID}} {{.Names}}"]);
    stdout(&ps)
        .lines()
        .find(|l| !l.contains("-init"))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string)
}

/// What `GET berth:init` answers on the member, with the password or without.
fn get(service: &str, password: Option<&str>) -> String {
    let Some(member) = member(service) else {
        return String::new();
    };
    let mut args = vec!["exec", &member, "redis-cli", "--no-auth-warning"];
    if let Some(password) = password {
        args.extend(["-a", password]);
    }
    args.extend(["get", "berth:init"]);
    stdout(&docker(&args)).trim().to_string()
}

#[test]
fn an_init_step_authenticates_with_the_secret_its_spec_gives_it() {
    let Some(_engine) = exclusive_engine() else {
        return;
    };
    images();
    for backend in ["docker", "compose"] {
        let name = format!("authinit{}", &backend[..1]);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "spec.toml", &spec(&name));
        // Without `[init.env]`, the init's shell would expand `$REDIS_PASSWORD` to nothing.
        let text = spec(&name);
        let (refused, _init_env) = text.rsplit_once("env = ").unwrap();
        write(dir.path(), "refused.toml", refused);
        let out = berth(&["check", "refused.toml", "--backend", backend], dir.path());
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_contains(&stderr(&out), "spec/unexpanded-variable");

        let out = berth(
            &["compile", "spec.toml", "--backend", backend, "--out", "out"],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out_dir = dir.path().join("out").join(backend);
        let compose_file = out_dir.join("compose.yaml").display().to_string();
        let mut cleanup = vec![cmd(&[
            "docker",
            "volume",
            "rm",
            "--force",
            &format!("{name}-0-data"),
        ])];
        cleanup.push(match backend {
            "docker" => cmd(&["sh", &out_dir.join("down.sh").display().to_string()]),
            _ => cmd(&["docker-compose", "-f", &compose_file, "down"]),
        });
        let _cleanup = Cleanup(cleanup);
        let mut up = match backend {
            "docker" => {
                let mut c = Command::new("sh");
                c.arg(out_dir.join("run.sh"));
                c
            }
            _ => {
                let mut c = Command::new("docker-compose");
                c.args(["-f", &compose_file, "up", "-d"]);
                c
            }
        };
        run_ok(
            up.env("REDIS_PASSWORD", PASSWORD),
            &format!("{backend}: up"),
        );
        wait_until(
            &format!("{backend}: the init step writes its key, authenticated"),
            Duration::from_secs(90),
            || get(&name, Some(PASSWORD)) == "done",
        );
        assert_contains(&get(&name, None), "NOAUTH");
        eprintln!("{backend}: the init step authenticated with its own secret and wrote its key");
    }
}
