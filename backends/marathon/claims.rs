//! Each concern the Marathon backend claims to realize, in full or in part, shows in the app
//! group and Metronome job it writes, for every example spec: each member's own app carries what
//! the claim says.

use super::Marathon;
use berth_backends_testing::{Output, Value, all, array, check_claims, json};
use berth_language::quantity::parse_quantity;
use berth_model::concern::{Concern, Realization, Status};
use berth_model::{CheckAction, EnvValue, FileBody, Spread, Start};

/// The member apps of the group, in member order; none when one is missing.
fn apps(out: &Output) -> Vec<Value> {
    let name = out.name();
    let group = out.json(&format!("{name}.json"));
    let apps = array(&group["apps"]);
    let members: Vec<Value> = out
        .service
        .members()
        .iter()
        .filter_map(|m| {
            apps.iter()
                .find(|a| a["id"] == format!("/{name}/{}", m.name))
                .cloned()
        })
        .collect();
    if group["id"] == format!("/{name}") && members.len() == apps.len() {
        members
    } else {
        Vec::new()
    }
}

/// Whether the secret `env` names comes from the store at `{service}/{secret}/{key}`.
fn from_store(app: &Value, env: &str, service: &str, secret: &str, key: &str) -> bool {
    app["env"][env]["secret"]
        .as_str()
        .is_some_and(|s| app["secrets"][s]["source"] == format!("{service}/{secret}/{key}"))
}

fn shows(claim: &Realization, out: &Output) -> bool {
    let service = &out.service;
    let name = out.name();
    let apps = apps(out);
    match claim.concern {
        // A persistent volume per spec volume, mapped onto its path.
        Concern::Storage => all(&apps, |a| {
            let volumes = array(&a["container"]["volumes"]);
            service.persistent_volumes().all(|v| {
                volumes
                    .iter()
                    .any(|x| x["containerPath"] == v.name && x["persistent"].is_object())
                    && volumes
                        .iter()
                        .any(|x| x["containerPath"] == v.path && x["hostPath"] == v.name)
            })
        }),
        Concern::StorageClass => {
            let disk = claim.detail.split('`').nth(1).unwrap_or_default();
            all(&apps, |a| {
                array(&a["container"]["volumes"])
                    .iter()
                    .filter(|v| v["persistent"].is_object())
                    .all(|v| v["persistent"]["type"] == disk)
            })
        }
        Concern::Identity => {
            apps.len() == service.replicas() as usize && all(&apps, |a| a["instances"] == 1)
        }
        // Fixed host ports, so that Mesos-DNS names a member's own port; a VIP on each public one.
        Concern::Discovery => all(&apps, |a| {
            let mappings = array(&a["container"]["portMappings"]);
            mappings.iter().all(|p| p["hostPort"] == p["containerPort"])
                && service.public_ports().all(|port| {
                    mappings.iter().any(|p| {
                        p["containerPort"] == port.port
                            && p["labels"].as_object().is_some_and(|l| {
                                l.values().any(|v| *v == format!("/{name}:{}", port.port))
                            })
                    })
                })
                && service
                    .ports
                    .iter()
                    .all(|port| mappings.iter().any(|p| p["containerPort"] == port.port))
        }),
        Concern::Spread => match service.replication.spread.value {
            _ if service.replicas() == 1 => apps.len() == 1,
            Spread::None => all(&apps, |a| a["constraints"].is_null()),
            // Each member pinned to an agent of its own.
            _ if claim.status == Status::Emulated => {
                let agents: std::collections::BTreeSet<String> = apps
                    .iter()
                    .filter_map(|a| match &a["constraints"] {
                        c if c[0][0] == "hostname" && c[0][1] == "LIKE" => {
                            c[0][2].as_str().map(String::from)
                        }
                        _ => None,
                    })
                    .collect();
                agents.len() == apps.len() && !apps.is_empty()
            }
            _ => all(&apps, |a| {
                array(&a["container"]["portMappings"])
                    .iter()
                    .all(|p| p["hostPort"] == p["containerPort"])
            }),
        },
        Concern::Liveness => {
            let check = service.health.liveness.as_ref().expect("a used concern");
            all(&apps, |a| {
                let health = &a["healthChecks"][0];
                health["intervalSeconds"] == check.interval
                    && health["gracePeriodSeconds"].is_u64()
                    && health["protocol"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("MESOS_") || p == "COMMAND")
            })
        }
        // An HTTP check gates deployments; any other is dropped.
        Concern::Readiness => {
            let check = service.health.readiness.as_ref().expect("a used concern");
            all(&apps, |a| match &check.action {
                CheckAction::Http { path, .. } => {
                    a["readinessChecks"][0]["path"] == *path
                        && a["readinessChecks"][0]["intervalSeconds"] == check.interval
                }
                _ => a["readinessChecks"].is_null(),
            })
        }
        Concern::StartOrder => match service.replication.start.value {
            Start::Parallel => all(&apps, |a| a["dependencies"].is_null()),
            Start::Ordered => apps
                .windows(2)
                .all(|pair| pair[1]["dependencies"] == json!([pair[0]["id"]])),
        },
        // Each member app is stopped before it starts again: no capacity over or kept.
        Concern::RollingUpdate => all(&apps, |a| {
            a["upgradeStrategy"] == json!({"maximumOverCapacity": 0.0, "minimumHealthCapacity": 0})
                && a["labels"]["MARATHON_SINGLE_INSTANCE_APP"] == "true"
        }),
        // `cpus` the request (else the limit), `mem` the limit (else the request) in MiB.
        Concern::Resources => {
            let r = &service.resources.as_ref().expect("a used concern").value;
            let cpus = r
                .cpu
                .as_ref()
                .or(r.cpu_limit.as_ref())
                .map(|q| parse_quantity(q).unwrap());
            let memory = r
                .memory_limit
                .as_ref()
                .or(r.memory.as_ref())
                .map(|q| parse_quantity(q).unwrap());
            all(&apps, |a| {
                cpus.is_none_or(|c| a["cpus"].as_f64() == Some(c))
                    && memory.is_none_or(|m| {
                        a["mem"].as_f64().is_some_and(|mib| {
                            mib * 1_048_576.0 >= m && (mib - 1.0) * 1_048_576.0 < m
                        })
                    })
            })
        }
        // The job's variables (a secret from the store, as the apps get theirs) and resources.
        Concern::Init => {
            let job = out.json(&format!("{name}-init.metronome.json"));
            let step = service.init.as_ref().expect("a used concern");
            let env = step.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => job["run"]["env"][&v.name]["secret"]
                    .as_str()
                    .is_some_and(|r| {
                        job["run"]["secrets"][r]["source"] == format!("{name}/{secret}/{key}")
                    }),
                EnvValue::Literal(_) => job["run"]["env"][&v.name].is_string(),
            });
            env && job["run"]["mem"].as_u64().is_some_and(|m| m > 0)
                && job["run"]["restart"]["policy"] == "ON_FAILURE"
        }
        // Every secret from the store, as its variable or as `BERTH_FILE_N` for a secret file.
        Concern::Secrets => all(&apps, |a| {
            service.container.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => from_store(a, &v.name, name, secret, key),
                EnvValue::Literal(_) => true,
            }) && service
                .files
                .iter()
                .enumerate()
                .all(|(i, f)| match &f.body {
                    FileBody::Secret { secret, key } => {
                        from_store(a, &format!("BERTH_FILE_{i}"), name, secret, key)
                    }
                    FileBody::Content(_) => true,
                })
        }),
        // The start script writes each file, its content or its secret variable, with its owner
        // and mode, before it runs the command.
        Concern::Files => all(&apps, |a| {
            let script = a["args"][1].as_str().unwrap_or_default();
            script.ends_with("exec \"$0\" \"$@\"")
                && service.files.iter().enumerate().all(|(i, f)| {
                    let path = &f.path;
                    let written = match &f.body {
                        FileBody::Content(_) => format!("rm -f {path} && printf '%s' '"),
                        FileBody::Secret { .. } => {
                            format!("rm -f {path} && printf '%s' \"$BERTH_FILE_{i}\" > {path} && ")
                        }
                    };
                    let owned = f
                        .owner
                        .map_or(String::new(), |o| format!("chown {o} {path} && "));
                    script.contains(&written)
                        && script.contains(&format!(
                            "> {path} && {owned}chmod {} {path}",
                            f.octal_mode()
                        ))
                })
        }),
        // Stable names; no certificate volume.
        Concern::TlsNames => {
            let tls = &service.tls.as_ref().expect("a used concern").value;
            apps.len() == service.replicas() as usize
                && all(&apps, |a| {
                    array(&a["container"]["volumes"])
                        .iter()
                        .all(|v| v["containerPath"] != tls.path.as_str())
                })
        }
        // Claimed unsupported: a claim to realize it needs a check here first.
        Concern::DisruptionBudget | Concern::Network => false,
    }
}

#[test]
fn every_claim_shows_in_the_apps() {
    check_claims(&Marathon, shows);
}
