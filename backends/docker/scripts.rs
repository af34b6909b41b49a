//! The text of `run.sh` and `down.sh`: berth's fixed shell (here, and in `run-functions.sh`,
//! `run-wait.sh` and `down-body.sh` beside this file) with the spec's values as quoted words or
//! validated names ([`berth_backends_shared::script::Script`]).

use berth_backends_shared::script::Script;

/// What `run.sh` says about one service, its members and its init step.
pub struct Run<'a> {
    pub header: &'a str,
    pub service: &'a str,
    pub network: &'a str,
    /// Members bind-mount files beside the script, which therefore finds its directory.
    pub files: bool,
    /// Lines that stop the script unless each secret is at hand.
    pub secret_checks: Script,
    /// The user's TLS volumes the script checks for.
    pub tls_volumes: Vec<&'a str>,
    /// Ordered start waits for the previous member's health, when its check can pass alone.
    pub wait_healthy: bool,
    pub members: Vec<MemberRun>,
    pub init: Option<InitRun>,
}

/// One member's line of `run.sh`: its volumes, then `start_member NAME CONFIG ARGUMENTS...`.
pub struct MemberRun {
    pub name: String,
    /// The hash of the member's configuration, by which run.sh sees a changed spec.
    pub config: String,
    pub volumes: Vec<MemberVolume>,
    pub arguments: Script,
}

/// A member's named volume: berth's own, created on the first run, or one the spec names as
/// holding the member's data already (`volumes.external`), which must exist.
pub struct MemberVolume {
    pub name: String,
    pub external: bool,
}

/// The `[init]` container: `docker create`'s arguments, under its name.
pub struct InitRun {
    pub name: String,
    pub arguments: Script,
}

/// The parts of `run.sh` without data, read by the functions from the variables the head sets.
const FUNCTIONS: &str = include_str!("run-functions.sh");
const WAIT_HEALTHY: &str = include_str!("run-wait.sh");
const DOWN_BODY: &str = include_str!("down-body.sh");

/// `run.sh`: a network, one named volume per member and persistent volume, one container per
/// member, then the init step.
pub fn run_sh(run: &Run) -> String {
    let mut s = Script::with_capacity(8192);
    s.text(
        r#"#!/bin/sh
# The spec's strings reach docker literally, in single quotes: a `$` in them is not for this shell.
# shellcheck disable=SC2016
"#,
    )
    .comments(run.header)
    .text("#\n# Starts `")
    .name(run.service)
    .text(
        r#"` on this Docker engine: a network, one named volume per member and persistent
# volume, and one container per member. Running it again is safe: existing networks, volumes and
# containers are reused, never recreated empty. It never removes a container or a volume.
set -eu

"#,
    );
    if run.files {
        s.text(
            r#"# Members bind-mount files beside this script.
here=$(cd "$(dirname "$0")" && pwd)
"#,
        );
    }
    s.script(&run.secret_checks)
        .text("service=")
        .word(run.service)
        .text("\nnetwork=")
        .word(run.network)
        .text("\n")
        .text(FUNCTIONS);
    if run.wait_healthy {
        s.text(WAIT_HEALTHY);
    }
    for volume in &run.tls_volumes {
        tls_volume(&mut s, volume);
    }
    for member in &run.members {
        member_lines(&mut s, member, run.wait_healthy);
    }
    if let Some(init) = &run.init {
        init_lines(&mut s, init);
    }
    s.into_string()
}

/// Stops run.sh unless the user's TLS volume exists.
fn tls_volume(s: &mut Script, volume: &str) {
    s.text("\ndocker volume inspect ")
        .word(volume)
        .text(" >/dev/null 2>&1 || {\n  echo ")
        .word(&format!(
            "run.sh: create the volume {volume} holding the TLS certificates first"
        ))
        .text(" >&2\n  exit 1\n}\n");
}

fn member_lines(s: &mut Script, member: &MemberRun, wait_healthy: bool) {
    s.text("\n");
    for volume in &member.volumes {
        let function = if volume.external {
            "existing_volume "
        } else {
            "ensure_volume "
        };
        s.text(function)
            .word(&volume.name)
            .text(" ")
            .word(&member.name)
            .text("\n");
    }
    s.text("start_member ")
        .word(&member.name)
        .text(" ")
        .word(&member.config)
        .text(" \\\n")
        .script(&member.arguments)
        .text("\n");
    if wait_healthy {
        s.text("wait_healthy ").word(&member.name).text("\n");
    }
}

/// The init step: created once, started until it succeeds, never again once it has.
fn init_lines(s: &mut Script, init: &InitRun) {
    s.text(
        r#"
# The init step runs once, after the members started, and retries until the cluster answers.
init_state=$(docker container inspect --format '{{.State.Status}} {{.State.ExitCode}}' "#,
    )
    .word(&init.name)
    .text(
        r#" 2>/dev/null || true)
if [ "$init_state" = "exited 0" ]; then
  echo "#,
    )
    .word(&format!("run.sh: {} already succeeded", init.name))
    .text(
        r#" >&2
else
  if [ -z "$init_state" ]; then
    docker create \
"#,
    )
    .script(&init.arguments)
    .text(
        r#" >/dev/null
  fi
  attempt=1
  until docker start --attach "#,
    )
    .word(&init.name)
    .text(
        r#"; do
    if [ "$attempt" -ge 30 ]; then
      echo "#,
    )
    .word(&format!(
        "run.sh: {} failed 30 times; see the logs of the members",
        init.name
    ))
    .text(
        r#" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep 5
  done
fi
"#,
    );
}

/// `down.sh`: run.sh's counterpart, which removes the containers and the network, never a volume.
/// `containers` are DNS labels, so the script splits the word they make at spaces.
pub fn down_sh(header: &str, service: &str, network: &str, containers: &[String]) -> String {
    let mut s = Script::with_capacity(2048);
    s.text("#!/bin/sh\n")
        .comments(header)
        .text("#\n# Removes what run.sh created for `")
        .name(service)
        .text(
            r#"` on this Docker engine: its containers (each stopped
# first, within its stop timeout) and its network. Never a volume: the data stays, and run.sh
# starts the members on it again. Containers that run.sh did not create are left alone.
set -eu

service="#,
        )
        .word(service)
        .text("\nnetwork=")
        .word(network)
        .text("\ncontainers=")
        .word(&containers.join(" "))
        .text("\n")
        .text(DOWN_BODY);
    s.into_string()
}
