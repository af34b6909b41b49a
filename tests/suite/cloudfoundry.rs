//! The Cloud Foundry backend checked by the manifest schema, shellcheck, a recording fake `cf`,
//! and by running the generated start command itself.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn manifests_match_the_cloud_foundry_schema() {
    let Some((schema, check)) =
        schema_checker("cloudfoundry/cloudfoundry-application-manifest.json")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = compile_all_specs(dir.path(), &["cloudfoundry"])
        .iter()
        .map(|n| dir.path().join(n).join("cloudfoundry/manifest.yml"))
        .collect();
    let mut files = files;
    for (name, spec) in [("args-only", ARGS_ONLY), ("image-as-is", IMAGE_AS_IS)] {
        write(dir.path(), &format!("{name}.toml"), spec);
        let out = format!("{name}-out");
        berth_ok(
            &[
                "compile",
                &format!("{name}.toml"),
                "--out",
                &out,
                "--backend",
                "cloudfoundry",
            ],
            dir.path(),
        );
        files.push(dir.path().join(out).join("cloudfoundry/manifest.yml"));
    }
    assert_schema_holds(
        &check,
        &schema,
        &files,
        "health-check-type: http",
        "health-check-type: tcp",
    );
}

#[test]
fn manifests_keep_secrets_out_and_peers_off_public_routes() {
    let dir = tempfile::tempdir().unwrap();
    compile_all_specs(dir.path(), &["cloudfoundry"]);
    let postgres: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("postgres/cloudfoundry/manifest.yml")).unwrap(),
    )
    .unwrap();
    let app = &postgres["applications"][0];
    assert_eq!(
        app["env"]["POSTGRES_PASSWORD"], "((postgres-credentials-password))",
        "a variable for `cf push --vars-file`"
    );
    assert_eq!(
        app["routes"],
        serde_json::json!([{"route": "postgres.apps.internal"}]),
        "only the internal route"
    );
    assert_eq!(
        app["services"][0]["parameters"]["mount"], "/var/lib/postgresql/data",
        "a single instance mounts its volume service at the spec's path"
    );
    let cockroachdb: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("cockroachdb/cloudfoundry/manifest.yml")).unwrap(),
    )
    .unwrap();
    let command = cockroachdb["applications"][0]["command"].as_str().unwrap();
    assert!(
        command.contains("--advertise-addr=\"$CF_INSTANCE_INDEX\".cockroachdb.apps.internal "),
        "{command}"
    );
    assert!(
        command.contains(
            "--join=0.cockroachdb.apps.internal,1.cockroachdb.apps.internal,2.cockroachdb.apps.internal "
        ),
        "{command}"
    );
    assert!(
        !dir.path().join("etcd/cloudfoundry").exists(),
        "etcd's image has no shell: its spec leaves Cloud Foundry out"
    );
}

/// The start command, run by `sh` as Diego runs it: each instance gets its own directory on the
/// mounted volume service, the spec's path points there, and the arguments arrive intact.
#[test]
fn the_start_command_gives_each_instance_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("image/var/data");
    let mount = dir.path().join("mnt");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&mount).unwrap();
    let spec = format!(
        "name = \"t\"\n[container]\nimage = \"x:1\"\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$ME\\\"; exec /bin/echo \\\"$@\\\"\", \"sh\"]\nargs = [\"--host={{{{self.host}}}}\", \"it's $HOME `x`\"]\nenv = {{ ME = \"{{{{self.name}}}}\" }}\n[replication]\nreplicas = 3\n[[volumes]]\nname = \"d\"\npath = \"{}\"\nsize = \"1Gi\"\nclass = \"x\"\n[backends.cloudfoundry]\nvolume_services = {{ d = \"t-nfs\" }}\nmounts = {{ d = \"{}\" }}\n",
        data.display(),
        mount.display()
    );
    write(dir.path(), "spec.toml", &spec);
    let output = compile_in(dir.path(), "spec.toml", &["--backend", "cloudfoundry"]);
    assert_exit(&output, 0, &[]);
    let manifest: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.path().join("out/cloudfoundry/manifest.yml")).unwrap(),
    )
    .unwrap();
    let command = manifest["applications"][0]["command"]
        .as_str()
        .unwrap()
        .to_string();
    for index in ["0", "2"] {
        let output = Command::new("/bin/sh")
            .args(["-c", &command])
            .env("CF_INSTANCE_INDEX", index)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            stdout(&output),
            format!("t-{index}\n--host={index}.t.apps.internal it's $HOME `x`\n")
        );
        assert_eq!(
            std::fs::read_link(&data).unwrap(),
            mount.join(index),
            "the data path points at this instance's directory"
        );
        assert!(mount.join(index).is_dir());
    }
}

const FAKE_CF: &str = r#"#!/bin/sh
{ printf '%s\0' "$@"; printf '\036\0'; } >> "$FAKE_CF_DIR/calls"
case "$1" in
  feature-flag) echo "diego_docker   enabled" ;;
  service) [ -z "${FAKE_CF_NO_SERVICE:-}" ] || exit 1 ;;
  tasks) [ -z "${FAKE_CF_INIT_DONE:-}" ] || echo "1   cockroachdb-init   SUCCEEDED   Mon Jan 1" ;;
esac
exit 0
"#;

fn run_setup(script: &Path, env: &[(&str, &str)]) -> (bool, String, Vec<Vec<String>>) {
    let fake = tempfile::tempdir().unwrap();
    std::fs::create_dir(fake.path().join("bin")).unwrap();
    std::fs::write(fake.path().join("bin/cf"), FAKE_CF).unwrap();
    std::fs::set_permissions(
        fake.path().join("bin/cf"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        fake.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("/bin/sh")
        .arg(script)
        .env("PATH", path)
        .env("FAKE_CF_DIR", fake.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let calls = recorded_calls(&fake.path().join("calls"));
    (output.status.success(), stderr(&output), calls)
}

#[test]
fn setup_script_maps_the_route_allows_peers_and_runs_init_once() {
    let dir = tempfile::tempdir().unwrap();
    let names = compile_all_specs(dir.path(), &["cloudfoundry"]);
    if let Some(shellcheck) = tool("shellcheck") {
        for name in &names {
            run_ok(
                Command::new(&shellcheck)
                    .args(["--shell=sh", "--severity=style"])
                    .arg(dir.path().join(name).join("cloudfoundry/setup.sh")),
                &format!("{name}: shellcheck"),
            );
        }
    }
    let script = dir.path().join("cockroachdb/cloudfoundry/setup.sh");
    let (ok, said, calls) = run_setup(&script, &[]);
    assert!(ok, "{said}");
    let call = |words: &[&str]| {
        calls
            .iter()
            .any(|c| c.iter().map(String::as_str).eq(words.iter().copied()))
    };
    assert!(
        call(&[
            "map-route",
            "cockroachdb",
            "apps.internal",
            "--hostname",
            "cockroachdb"
        ]),
        "{calls:?}"
    );
    for port in ["26257", "8080"] {
        assert!(
            call(&[
                "add-network-policy",
                "cockroachdb",
                "cockroachdb",
                "--protocol",
                "tcp",
                "--port",
                port
            ]),
            "{calls:?}"
        );
    }
    let task = calls
        .iter()
        .find(|c| c[0] == "run-task")
        .expect("the init task runs");
    assert!(
        task.last().unwrap().contains(
            "/cockroach/cockroach init --insecure --host=0.cockroachdb.apps.internal:26257"
        ),
        "{task:?}"
    );
    let (_, _, again) = run_setup(&script, &[("FAKE_CF_INIT_DONE", "1")]);
    assert!(!again.iter().any(|c| c[0] == "run-task"), "init runs once");
    let (ok, said, calls) = run_setup(&script, &[("FAKE_CF_NO_SERVICE", "1")]);
    assert!(
        !ok && said.contains("create the volume service instance cockroachdb-nfs"),
        "{said}"
    );
    assert!(!calls.iter().any(|c| c[0] == "map-route"));
}

/// Redis as its image's documentation starts it: the entrypoint kept, only `args` given.
const ARGS_ONLY: &str = "name = \"cache\"\n[container]\nimage = \"redis:7.4\"\nargs = [\"redis-server\", \"--appendonly\", \"yes\"]\n[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"10Gi\"\n[resources]\nmemory = \"1Gi\"\n[backends.cloudfoundry]\nvolume_services = { data = \"cache-nfs\" }\n";

/// The image run as it is: no `command`, no `args`.
const IMAGE_AS_IS: &str = "name = \"cache\"\n[container]\nimage = \"redis:7.4\"\n[[volumes]]\nname = \"data\"\npath = \"/data\"\nsize = \"10Gi\"\n[resources]\nmemory = \"1Gi\"\n[backends.cloudfoundry]\nvolume_services = { data = \"cache-nfs\" }\n";

fn cloudfoundry_app(dir: &Path, spec: &str) -> (std::process::Output, serde_json::Value) {
    write(dir, "spec.toml", spec);
    let output = compile_in(dir, "spec.toml", &["--backend", "cloudfoundry"]);
    let manifest =
        std::fs::read_to_string(dir.join("out/cloudfoundry/manifest.yml")).unwrap_or_default();
    let app = serde_saphyr::from_str::<serde_json::Value>(&manifest)
        .map_or(serde_json::Value::Null, |m| m["applications"][0].clone());
    (output, app)
}

#[test]
fn what_cloud_foundry_can_derive_it_does_and_says_what_is_lost() {
    // `args` alone become the start command, with a warning that the entrypoint does not run;
    // one instance mounts its volume service at the spec's own path.
    let dir = tempfile::tempdir().unwrap();
    let (output, app) = cloudfoundry_app(dir.path(), ARGS_ONLY);
    assert_exit(&output, 0, &["warning[cloudfoundry/entrypoint-replaced]"]);
    assert_eq!(app["command"], "exec redis-server --appendonly yes");
    assert_eq!(app["services"][0]["parameters"]["mount"], "/data");

    // Neither: no start command at all, so the image's entrypoint and command run unchanged.
    let (output, app) = cloudfoundry_app(dir.path(), IMAGE_AS_IS);
    assert_exit(&output, 0, &[]);
    assert!(
        !stderr(&output).contains("entrypoint-replaced"),
        "{}",
        stderr(&output)
    );
    assert!(app.get("command").is_none(), "{app}");

    // Three instances need a start command to prepare their directories: refused, in Cloud
    // Foundry's terms, when nothing names the process to start after it.
    let three = IMAGE_AS_IS.replace("[resources]", "[replication]\nreplicas = 3\n[resources]");
    let (output, _) = cloudfoundry_app(dir.path(), &three);
    assert_exit(&output, 2, &[]);
    let err = stderr(&output);
    assert!(
        err.contains("cloudfoundry: each of the 3 instances needs its own directory"),
        "{err}"
    );
    assert!(
        err.contains("add `command = [...]` with the image's entrypoint"),
        "{err}"
    );
}
