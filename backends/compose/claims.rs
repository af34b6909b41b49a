//! Each concern the compose backend claims to realize shows in the `compose.yaml` it writes, for
//! every example spec: each member's own service carries what the claim says.

use super::Compose;
use berth_backends_testing::{Output, Value, array, check_claims};
use berth_model::concern::{Concern, Realization, Status};
use berth_model::{EnvValue, FileBody, Spread, Start};

const FILE: &str = "compose.yaml";

/// Whether `service` mounts `source` at `target` as a volume or bind of that `kind`, read-only
/// or not.
fn mounts(service: &Value, kind: &str, source: &str, target: &str, read_only: bool) -> bool {
    array(&service["volumes"]).iter().any(|v| {
        v["type"] == kind
            && v["source"] == source
            && v["target"] == target
            && (v["read_only"] == true) == read_only
    })
}

fn shows(claim: &Realization, out: &Output) -> bool {
    let service = &out.service;
    let name = out.name();
    let file = out.yaml(FILE);
    match claim.concern {
        // Each member's volume is its own, declared with that explicit name.
        Concern::Storage => out.each_service(FILE, |m, s| {
            service.persistent_volumes().all(|v| {
                let volume = format!("{}-{}", m.name, v.name);
                let external = out.external_volume(&m.name, v);
                let declared = &file["volumes"][&volume];
                mounts(s, "volume", &volume, &v.path, false)
                    && declared["external"].as_bool() == external.as_ref().map(|_| true)
                    && declared["name"] == external.unwrap_or(volume)
            })
        }),
        Concern::Identity => out.each_service(FILE, |m, s| s["hostname"] == m.name),
        // Every member joins the one network the file declares for the service, the shared one
        // by its name, with its aliases there.
        Concern::Discovery | Concern::Network => {
            let network = service.network_name("compose");
            file["networks"][&network]["name"] == network
                && out.each_service(FILE, |m, s| out.joins(m, s, &network))
        }
        Concern::Spread => {
            (service.replicas() == 1 || service.replication.spread.value == Spread::None)
                && out.each_service(FILE, |_, _| true)
        }
        Concern::Liveness => {
            let check = service.health.liveness.as_ref().expect("a used concern");
            out.each_service(FILE, |_, s| {
                s["healthcheck"]["interval"] == format!("{}s", check.interval)
                    && s["healthcheck"]["test"][0]
                        .as_str()
                        .is_some_and(|t| t.starts_with("CMD"))
            })
        }
        Concern::StartOrder => {
            let members = service.members();
            match service.replication.start.value {
                Start::Parallel => out.each_service(FILE, |_, s| {
                    s["depends_on"]
                        .as_object()
                        .is_none_or(|d| members.iter().all(|m| !d.contains_key(&m.name)))
                }),
                Start::Ordered => {
                    let condition = match claim.status {
                        Status::Degraded => "service_started",
                        _ => "service_healthy",
                    };
                    members.windows(2).all(|pair| {
                        file["services"][&pair[1].name]["depends_on"][&pair[0].name]["condition"]
                            == condition
                    })
                }
            }
        }
        // Each member is a service of its own, which `up` recreates when it changed: no rollout.
        Concern::RollingUpdate => out.each_service(FILE, |_, s| s["deploy"].is_null()),
        Concern::Resources => {
            let r = &service.resources.as_ref().expect("a used concern").value;
            let keys = [
                ("mem_limit", r.memory.is_some() || r.memory_limit.is_some()),
                ("cpus", r.cpu.is_some() || r.cpu_limit.is_some()),
                (
                    "mem_reservation",
                    r.memory.is_some() && r.memory_limit.is_some() && r.memory != r.memory_limit,
                ),
            ];
            out.each_service(FILE, |_, s| {
                keys.iter().all(|(key, set)| *set != s[key].is_null())
            })
        }
        Concern::Init => {
            let init = &file["services"][format!("{name}-init")];
            let step = service.init.as_ref().expect("a used concern");
            let env = step.env.iter().all(|v| match &v.value {
                EnvValue::Secret { .. } => init["environment"].get(&v.name) == Some(&Value::Null),
                EnvValue::Literal(_) => init["environment"][&v.name].is_string(),
            });
            env && init["mem_limit"].is_string()
                && init["cpus"].is_number()
                && init["restart"] == "on-failure:30"
                && service
                    .members()
                    .iter()
                    .all(|m| init["depends_on"][&m.name].is_object())
        }
        // A secret variable is passed through (`NAME: null`), never written; a secret file is the
        // user's, under secrets/, bound read-only.
        Concern::Secrets => out.each_service(FILE, |_, s| {
            service.container.env.iter().all(|v| match &v.value {
                EnvValue::Secret { .. } => s["environment"].get(&v.name) == Some(&Value::Null),
                EnvValue::Literal(_) => true,
            }) && service.files.iter().all(|f| match &f.body {
                FileBody::Secret { secret, key } => array(&s["volumes"]).iter().any(|v| {
                    v["type"] == "bind"
                        && v["source"] == format!("./secrets/{secret}/{key}")
                        && v["read_only"] == true
                }),
                FileBody::Content(_) => true,
            })
        }),
        // Each file is written per member beside compose.yaml (or is the user's secret there),
        // bound read-only; one with an owner is copied into place by the start script; a hash of
        // the files labels the member, so a change recreates it.
        Concern::Files => out.each_service(FILE, |m, s| {
            let command = s["command"][1].as_str().unwrap_or_default();
            // The label hashes what berth writes: the user's secret files are not berth's.
            let contents = service
                .files
                .iter()
                .any(|f| matches!(f.body, FileBody::Content(_)));
            let labelled = s["labels"]["berth.files"]
                .as_str()
                .is_some_and(|h| h.len() == 16);
            labelled == contents
                && service.files.iter().enumerate().all(|(i, f)| {
                    let key = f.key(i);
                    let source = match &f.body {
                        FileBody::Content(_) => format!("./files/{}/{key}", m.name),
                        FileBody::Secret { secret, key } => format!("./secrets/{secret}/{key}"),
                    };
                    let written = matches!(f.body, FileBody::Secret { .. })
                        || out.paths().any(|p| p == format!("files/{}/{key}", m.name));
                    let placed = match f.owner {
                        Some(owner) => {
                            mounts(s, "bind", &source, &format!("/run/berth/files/{key}"), true)
                                && command.contains(&format!(
                                    "cp /run/berth/files/{key} {path} && chown {owner} {path}",
                                    path = f.path
                                ))
                        }
                        None => mounts(s, "bind", &source, &f.path, true),
                    };
                    written && placed
                })
        }),
        // The user's certificate volume, external, mounted read-only at the spec's path.
        Concern::TlsNames => {
            let tls = &service.tls.as_ref().expect("a used concern").value;
            file["volumes"][&tls.secret]["external"] == true
                && out.each_service(FILE, |_, s| {
                    mounts(s, "volume", &tls.secret, &tls.path, true)
                })
        }
        // Claimed unsupported: a claim to realize them needs a check here first.
        Concern::StorageClass | Concern::DisruptionBudget | Concern::Readiness => false,
    }
}

#[test]
fn every_claim_shows_in_compose_yaml() {
    check_claims(&Compose, shows);
}
