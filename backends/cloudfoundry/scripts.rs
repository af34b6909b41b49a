//! The text of `setup.sh`: berth's fixed shell (here and in `setup-flag.sh` beside this file)
//! with the spec's values as quoted words, validated names or numbers
//! ([`berth_backends_shared::script::Script`]).

use berth_backends_shared::script::Script;

/// What `setup.sh` does for one app.
pub struct Setup<'a> {
    pub header: &'a str,
    pub app: &'a str,
    pub domain: &'a str,
    /// The volume service instances to check for, each once.
    pub services: Vec<&'a str>,
    /// The ports instances reach each other on: (`tcp` or `udp`, port).
    pub ports: Vec<(&'static str, u16)>,
    /// The manifest takes variables, so `cf push` needs `--vars-file`.
    pub vars: bool,
    /// The init task, if the spec has `[init]`.
    pub init: Option<&'a super::InitTask>,
}

/// `setup.sh`: the service instances, the internal route, the network policies and the init task.
pub fn setup(p: &Setup) -> String {
    let mut s = Script::with_capacity(4096);
    s.text(
        r#"#!/bin/sh
# Commands for the platform are passed in single quotes: a `$` in them is for the task, not this shell.
# shellcheck disable=SC2016
"#,
    )
    .comments(p.header)
    .text("#\n# What the manifest cannot say for `")
    .name(p.app)
    .text(
        r#"`: the volume service instances it needs, its internal
# route, the network policy that lets instances reach each other, and the one-shot init task.
# Run it once before `cf push` (it checks the service instances), then again after the push.
# Running it again is safe.
set -eu

app="#,
    )
    .word(p.app)
    .text("\ndomain=")
    .word(p.domain)
    .text("\n\n")
    .text(include_str!("setup-flag.sh"));
    for service in &p.services {
        s.text("if ! cf service ")
            .word(service)
            .text(" >/dev/null 2>&1; then\n  echo ")
            .word(&format!("setup.sh: create the volume service instance {service} first, for example: cf create-service nfs Existing {service} -c '{{\"share\":\"SERVER/EXPORT\"}}'"))
            .text(" >&2\n  exit 1\nfi\n");
    }
    push_and_route(&mut s, p);
    if let Some(task) = p.init {
        init_task(&mut s, p.app, task);
    }
    s.into_string()
}

/// Stops before the push with what to push; afterwards, the internal route and the policies.
fn push_and_route(s: &mut Script, p: &Setup) {
    s.text(
        r#"if ! cf app "$app" >/dev/null 2>&1; then
  echo "setup.sh: the services exist. Now push, with the default strategy (not rolling: two processes would share an instance directory):" >&2
  echo "  cf push -f manifest.yml"#,
    )
    .text(if p.vars { " --vars-file VARS.yml" } else { "" })
    .text(
        r#"" >&2
  echo "then run this script again." >&2
  exit 0
fi

# Instances reach each other as INDEX.$app.$domain; container-to-container traffic is denied
# until a policy allows it.
cf map-route "$app" "$domain" --hostname "$app"
"#,
    );
    for &(protocol, port) in &p.ports {
        s.text("cf add-network-policy \"$app\" \"$app\" --protocol ")
            .text(protocol)
            .text(" --port ")
            .number(u64::from(port))
            .text("\n");
    }
}

/// Runs the init task unless `cf tasks` shows it succeeded.
fn init_task(s: &mut Script, app: &str, task: &super::InitTask) {
    let name = format!("{app}-init");
    s.text(
        r#"
# The init task runs once; its command retries until the cluster answers.
if cf tasks "$app" | grep -q "#,
    )
    .word(&format!("^[0-9][0-9]* *{name} *SUCCEEDED"))
    .text("; then\n  echo ")
    .word(&format!("setup.sh: {name} already succeeded"))
    .text(" >&2\nelse\n  cf run-task \"$app\" --name ")
    .word(&name)
    .text(" -m ")
    .word(&task.memory)
    .text(" --command ")
    .word(&task.command)
    .text("\nfi\n");
}
