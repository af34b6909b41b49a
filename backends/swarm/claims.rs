//! Each concern the swarm backend claims to realize, in full or in part, shows in the stack and
//! scripts it writes, for every example spec: each member's own service carries what the claim
//! says.

use super::Swarm;
use berth_backends_testing::{Output, Value, array, check_claims, json};
use berth_model::concern::{Concern, Realization};
use berth_model::{EnvValue, FileBody, Member, Spread, Start};

const STACK: &str = "stack.yaml";

/// The member's named volume for the spec's volume `volume`.
fn volume(out: &Output, member: &Member, volume: &str) -> String {
    format!("{}-swarm-{}-{volume}", out.name(), member.ordinal)
}

/// The text between the claim's first pair of backticks: the driver or order it names.
fn named(claim: &Realization) -> &str {
    claim.detail.split('`').nth(1).unwrap_or_default()
}

/// Whether `service` uses the external secret `source` at `target`.
fn uses_secret(stack: &Value, service: &Value, source: &str, target: &str) -> bool {
    stack["secrets"][source]["external"] == true
        && array(&service["secrets"])
            .iter()
            .any(|s| s["source"] == source && s["target"] == target)
}

/// Each member pinned by its placement constraint to the node labelled for it.
fn pinned(out: &Output) -> bool {
    out.each_service(STACK, |m, s| {
        s["deploy"]["placement"]["constraints"]
            == json!([format!(
                "node.labels.{}.member.{} == true",
                out.name(),
                m.ordinal
            )])
    })
}

fn shows(claim: &Realization, out: &Output) -> bool {
    let service = &out.service;
    let name = out.name();
    let stack = out.yaml(STACK);
    match claim.concern {
        // Pinned members keep a local named volume on their node; otherwise every member's
        // volume is of the claimed driver.
        Concern::Storage => {
            let driver = if claim.detail.contains("pins") {
                "local"
            } else {
                named(claim)
            };
            (!claim.detail.contains("pins") || pinned(out))
                && out.each_service(STACK, |m, s| {
                    service.persistent_volumes().all(|v| {
                        let volume = volume(out, m, &v.name);
                        stack["volumes"][&volume]["driver"] == driver
                            && array(&s["volumes"]).iter().any(|mount| {
                                mount["type"] == "volume"
                                    && mount["source"] == volume
                                    && mount["target"] == v.path
                            })
                    })
                })
        }
        Concern::StorageClass => stack["volumes"]
            .as_object()
            .is_some_and(|v| !v.is_empty() && v.values().all(|v| v["driver"] == named(claim))),
        Concern::Identity => out.each_service(STACK, |m, s| {
            s["hostname"] == m.name && s["deploy"]["replicas"] == 1
        }),
        // Every member on the service's overlay network, found by its own address unless
        // published through the ingress.
        Concern::Discovery => {
            let network = service.network_name("swarm");
            let overlay = stack["networks"][&network]["driver"] == "overlay";
            (overlay || stack["networks"][&network]["external"] == true)
                && out.each_service(STACK, |m, s| {
                    out.joins(m, s, &network)
                        && (s["deploy"]["endpoint_mode"] == "dnsrr"
                            || array(&s["ports"]).iter().any(|p| p["mode"] == "ingress"))
                })
        }
        // A shared network is external, and deploy.sh creates it; every member joins it with
        // its aliases.
        Concern::Network => {
            let network = service.network_name("swarm");
            let declared = &stack["networks"][&network];
            let shared = service.network.name.is_some();
            let created = out
                .text("deploy.sh")
                .contains(&format!("\nshared_network={network}\n"));
            declared["name"] == network
                && (declared["external"] == true) == shared
                && created == shared
                && out.each_service(STACK, |m, s| out.joins(m, s, &network))
        }
        Concern::Spread => match service.replication.spread.value {
            _ if service.replicas() == 1 => out.each_service(STACK, |_, _| true),
            // Members may share a node: prepare-nodes.sh lets them go round fewer nodes.
            Spread::None => out
                .text("prepare-nodes.sh")
                .contains("\nspread_required=0\n"),
            spread => {
                let required = if spread == Spread::Required { 1 } else { 0 };
                pinned(out)
                    && out.text("prepare-nodes.sh").contains(&format!(
                        "\nlabel_prefix={name}.member.\nmembers={}\nspread_required={required}\n",
                        service.replicas()
                    ))
            }
        },
        Concern::Liveness => {
            let check = service.health.liveness.as_ref().expect("a used concern");
            out.each_service(STACK, |_, s| {
                s["healthcheck"]["interval"] == format!("{}s", check.interval)
                    && s["healthcheck"]["start_period"].is_string()
            })
        }
        Concern::StartOrder => {
            service.replication.start.value == Start::Parallel
                && out.each_service(STACK, |_, s| s["depends_on"].is_null())
        }
        // deploy.sh deploys one member's own stack at a time; within a member, the claimed order.
        Concern::RollingUpdate => {
            let order = claim
                .detail
                .rsplit(" rollback_config ")
                .next()
                .unwrap_or_default();
            let order = order.split(' ').next().unwrap_or_default();
            out.text("deploy.sh")
                .contains("--compose-file \"$here/members/$member.yaml\"")
                && out.each_service(STACK, |m, s| {
                    out.yaml(&format!("members/{}.yaml", m.name))["services"][&m.name] == *s
                        && s["deploy"]["update_config"]["order"] == order
                        && s["deploy"]["update_config"]["parallelism"] == 1
                        && s["deploy"]["rollback_config"]["order"] == order
                })
        }
        Concern::Resources => {
            let r = &service.resources.as_ref().expect("a used concern").value;
            out.each_service(STACK, |_, s| {
                let resources = &s["deploy"]["resources"];
                resources["limits"]["memory"].is_null()
                    == (r.memory.is_none() && r.memory_limit.is_none())
                    && resources["limits"]["cpus"].is_null()
                        == (r.cpu.is_none() && r.cpu_limit.is_none())
                    && resources["reservations"]["memory"].is_null() == r.memory.is_none()
                    && resources["reservations"]["cpus"].is_null() == r.cpu.is_none()
            })
        }
        // The step's variables as the members get theirs (a secret as `<NAME>_FILE`), its limits.
        Concern::Init => {
            let init = &stack["services"][format!("{name}-init")];
            let step = service.init.as_ref().expect("a used concern");
            let env = step.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => {
                    init["environment"][format!("{}_FILE", v.name)]
                        == format!("/run/secrets/{secret}.{key}")
                }
                EnvValue::Literal(_) => init["environment"][&v.name].is_string(),
            });
            let limits = &init["deploy"]["resources"]["limits"];
            env && limits["memory"].is_string()
                && limits["cpus"].is_string()
                && init["deploy"]["restart_policy"]["condition"] == "on-failure"
        }
        // A secret variable becomes `<NAME>_FILE`, naming the external secret's file; a secret
        // file is the external secret at the file's path.
        Concern::Secrets => out.each_service(STACK, |_, s| {
            service.container.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => {
                    let source = format!("{secret}.{key}");
                    s["environment"][format!("{}_FILE", v.name)] == format!("/run/secrets/{source}")
                        && s["environment"].get(&v.name).is_none()
                        && uses_secret(&stack, s, &source, &source)
                }
                EnvValue::Literal(_) => true,
            }) && service.files.iter().all(|f| match &f.body {
                FileBody::Secret { secret, key } => {
                    uses_secret(&stack, s, &format!("{secret}.{key}"), &f.path)
                }
                FileBody::Content(_) => true,
            })
        }),
        // A config per member and file, named by its content's hash, or an external secret,
        // each at the file's path with its mode and owner.
        Concern::Files => out.each_service(STACK, |m, s| {
            service.files.iter().enumerate().all(|(i, f)| {
                let (list, source) = match &f.body {
                    FileBody::Content(_) => ("configs", format!("{}-{}", m.name, f.key(i))),
                    FileBody::Secret { secret, key } => ("secrets", format!("{secret}.{key}")),
                };
                let declared = match &f.body {
                    FileBody::Content(_) => {
                        let config = &stack["configs"][&source];
                        config["file"] == format!("./files/{}/{}", m.name, f.key(i))
                            && config["name"]
                                .as_str()
                                .is_some_and(|n| n.starts_with(&format!("{}-{i}-", m.name)))
                    }
                    FileBody::Secret { .. } => stack["secrets"][&source]["external"] == true,
                };
                declared
                    && array(&s[list]).iter().any(|u| {
                        u["source"] == source
                            && u["target"] == f.path
                            && u["mode"] == f.mode
                            && f.owner.is_none_or(|o| {
                                u["uid"].as_str().and_then(|u| u.parse().ok()) == Some(o)
                            })
                    })
            })
        }),
        // Each certificate file an external secret, at the spec's path.
        Concern::TlsNames => {
            let tls = &service.tls.as_ref().expect("a used concern").value;
            out.each_service(STACK, |_, s| {
                let certificates: Vec<Value> = array(&s["secrets"])
                    .into_iter()
                    .filter(|u| {
                        u["source"]
                            .as_str()
                            .is_some_and(|x| x.starts_with(&format!("{}.", tls.secret)))
                    })
                    .collect();
                !certificates.is_empty()
                    && certificates.iter().all(|u| {
                        let file =
                            u["source"].as_str().unwrap()[tls.secret.len() + 1..].to_string();
                        u["target"] == format!("{}/{file}", tls.path)
                            && uses_secret(
                                &stack,
                                s,
                                u["source"].as_str().unwrap(),
                                &format!("{}/{file}", tls.path),
                            )
                    })
            })
        }
        // Claimed unsupported: a claim to realize it needs a check here first.
        Concern::DisruptionBudget | Concern::Readiness => false,
    }
}

#[test]
fn every_claim_shows_in_the_stack() {
    check_claims(&Swarm, shows);
}
