//! Each concern the Cloud Foundry backend claims to realize, in full or in part, shows in the
//! manifest and `setup.sh` it writes, for every example spec.

use super::CloudFoundry;
use berth_backends_testing::{Output, Value, array, check_claims};
use berth_model::concern::{Concern, Realization, Status};
use berth_model::{Check, CheckAction, EnvValue, FileBody, Start};

/// The one application of the manifest.
fn app(out: &Output) -> Value {
    out.yaml("manifest.yml")["applications"][0].clone()
}

/// Whether the manifest's keys `{prefix}health-check-*` say what `claim` claims of `check`: its
/// type and interval, or the `process` check a command check becomes.
fn health(app: &Value, prefix: &str, claim: &Realization, check: &Check) -> bool {
    let kind = &app[format!("{prefix}health-check-type")];
    match (&check.action, claim.status) {
        (CheckAction::Exec { .. }, Status::Degraded) => kind == "process",
        (CheckAction::Http { path, .. }, Status::Native) => {
            kind == "http"
                && app[format!("{prefix}health-check-http-endpoint")] == *path
                && app[format!("{prefix}health-check-interval")] == check.interval
        }
        (CheckAction::Tcp { .. }, Status::Native) => {
            kind == "port" && app[format!("{prefix}health-check-interval")] == check.interval
        }
        _ => false,
    }
}

/// The `((variable))` that `cf push --vars-file` fills with a secret's key.
fn variable(secret: &str, key: &str) -> String {
    format!("(({secret}-{key}))")
}

fn shows(claim: &Realization, out: &Output) -> bool {
    let service = &out.service;
    let name = out.name();
    let app = app(out);
    let command = app["command"].as_str().unwrap_or_default();
    let setup = out.text("setup.sh");
    let mounts: Vec<String> = array(&app["services"])
        .iter()
        .filter_map(|s| s["parameters"]["mount"].as_str().map(String::from))
        .collect();
    match claim.concern {
        // Mounted at the spec's path, or one directory per instance index linked there.
        Concern::Storage => service.persistent_volumes().all(|v| match claim.status {
            Status::Native => mounts.contains(&v.path),
            _ => mounts.iter().any(|m| {
                command.contains(&format!("ln -sfn {m}/\"$CF_INSTANCE_INDEX\" {}", v.path))
            }),
        }),
        Concern::Identity => {
            app["instances"] == service.replicas()
                && (service.replicas() == 1 || command.contains("\"$CF_INSTANCE_INDEX\""))
        }
        // The internal route of the claimed domain, and a policy for each port between instances.
        Concern::Discovery => {
            let domain = claim.detail.split(".<name>.").nth(1).unwrap_or_default();
            let domain = domain.split(' ').next().unwrap_or_default();
            array(&app["routes"])
                .iter()
                .any(|r| r["route"] == format!("{name}.{domain}"))
                && setup.contains(&format!("\ndomain={domain}\n"))
                && service.ports.iter().all(|p| {
                    setup.contains(&format!(
                        "cf add-network-policy \"$app\" \"$app\" --protocol {} --port {}\n",
                        serde_name(p.protocol),
                        p.port
                    ))
                })
        }
        // One app of every instance, placed by Diego.
        Concern::Spread => app["instances"] == service.replicas(),
        Concern::Liveness => health(
            &app,
            "",
            claim,
            service.health.liveness.as_ref().expect("a used concern"),
        ),
        Concern::Readiness => health(
            &app,
            "readiness-",
            claim,
            service.health.readiness.as_ref().expect("a used concern"),
        ),
        // One push starts every instance; scaling one at a time would be an order.
        Concern::StartOrder => {
            service.replication.start.value == Start::Parallel
                && app["instances"] == service.replicas()
                && !setup.contains("cf scale")
        }
        // The push is the default stop-then-start one, never rolling.
        Concern::RollingUpdate => {
            setup.contains("push, with the default strategy (not rolling")
                && !setup.contains("--strategy")
        }
        Concern::Resources => {
            let r = &service.resources.as_ref().expect("a used concern").value;
            app["memory"].is_string() == (r.memory.is_some() || r.memory_limit.is_some())
                && app["disk_quota"].is_string()
        }
        // The task runs in the app's environment: the step's secrets are the app's variables,
        // its literal variables are set on its command.
        Concern::Init => {
            let step = service.init.as_ref().expect("a used concern");
            let env = step.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => app["env"][&v.name] == variable(secret, key),
                EnvValue::Literal(_) => {
                    setup.contains(&format!("until env {}=", v.name))
                        || setup.contains(&format!(" {}=", v.name))
                }
            });
            env && setup.contains(&format!(
                "cf run-task \"$app\" --name {name}-init -m {} --command ",
                super::memory(&step.resources.memory)
            )) && setup.contains("tries=0; until ")
        }
        // Every secret a `((variable))`, as a variable or as `BERTH_FILE_N` for a secret file.
        Concern::Secrets => {
            service.container.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => app["env"][&v.name] == variable(secret, key),
                EnvValue::Literal(_) => true,
            }) && service
                .files
                .iter()
                .enumerate()
                .all(|(i, f)| match &f.body {
                    FileBody::Secret { secret, key } => {
                        app["env"][format!("BERTH_FILE_{i}")] == variable(secret, key)
                    }
                    FileBody::Content(_) => true,
                })
        }
        // The start command writes each file, its content or its secret variable, with its
        // owner and mode.
        Concern::Files => service.files.iter().enumerate().all(|(i, f)| {
            let path = &f.path;
            let written = match &f.body {
                FileBody::Content(_) => command.contains(&format!("rm -f {path} && printf '%s' '")),
                FileBody::Secret { .. } => command.contains(&format!(
                    "rm -f {path} && printf '%s' \"$BERTH_FILE_{i}\" > {path} && "
                )),
            };
            let owned = f
                .owner
                .map_or(String::new(), |o| format!("chown {o} {path} && "));
            written
                && command.contains(&format!(
                    "> {path} && {owned}chmod {} {path}",
                    f.octal_mode()
                ))
        }),
        // Stable names through the internal route; no certificate mounted.
        Concern::TlsNames => {
            let tls = &service.tls.as_ref().expect("a used concern").value;
            let domain = setup
                .split("\ndomain=")
                .nth(1)
                .and_then(|d| d.lines().next());
            domain.is_some_and(|domain| {
                array(&app["routes"])
                    .iter()
                    .any(|r| r["route"] == format!("{name}.{domain}"))
            }) && !command.contains(&tls.path)
        }
        // Claimed unsupported: a claim to realize them needs a check here first.
        Concern::StorageClass | Concern::DisruptionBudget | Concern::Network => false,
    }
}

/// A protocol as `cf add-network-policy` names it.
fn serde_name(protocol: berth_model::Protocol) -> &'static str {
    match protocol {
        berth_model::Protocol::Tcp => "tcp",
        berth_model::Protocol::Udp => "udp",
    }
}

#[test]
fn every_claim_shows_in_the_manifest() {
    check_claims(&CloudFoundry, shows);
}
