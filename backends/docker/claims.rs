//! Each concern the docker backend claims to realize shows in the `run.sh` it writes, for every
//! example spec: the member's own `docker run` arguments carry what the claim says.

use super::Docker;
use berth_backends_testing::{Output, check_claims};
use berth_model::concern::{Concern, Realization, Status};
use berth_model::{EnvValue, FileBody, Spread, Start};

/// Each member's `start_member NAME CONFIG` line and the `docker run` arguments after it, one per
/// line, without the line continuations.
fn members(out: &Output) -> Vec<(String, Vec<String>)> {
    let mut members = Vec::new();
    let mut lines = out.text("run.sh").lines();
    while let Some(line) = lines.next() {
        let Some(start) = line.strip_prefix("start_member ") else {
            continue;
        };
        let mut args = Vec::new();
        for arg in lines.by_ref() {
            let arg = arg.trim();
            match arg.strip_suffix(" \\") {
                Some(arg) => args.push(arg.to_string()),
                None => {
                    args.push(arg.to_string());
                    break;
                }
            }
        }
        members.push((start.trim_end_matches(" \\").to_string(), args));
    }
    members
}

/// Whether every member of the spec runs, each with every argument `wanted` gives it.
fn each_member(out: &Output, wanted: impl Fn(&str) -> Vec<String>) -> bool {
    let members = members(out);
    members.len() == out.service.replicas() as usize
        && out.service.members().iter().all(|m| {
            members.iter().any(|(start, args)| {
                start.split(' ').next() == Some(m.name.as_str())
                    && wanted(&m.name).iter().all(|w| args.contains(w))
            })
        })
}

/// The `--volume` argument that mounts file `index` read-only for `member`: at its path, or, for
/// a file with an owner, where the start script copies it from.
fn file_mount(out: &Output, index: usize, member: &str) -> String {
    let file = &out.service.files[index];
    let source = match &file.body {
        FileBody::Content(_) => format!("\"$here\"/files/{member}/{}", file.key(index)),
        FileBody::Secret { secret, key } => format!("\"$here\"/secrets/{secret}/{key}"),
    };
    let target = match file.owner {
        Some(_) => format!("/run/berth/files/{}", file.key(index)),
        None => file.path.clone(),
    };
    format!("--volume {source}:{target}:ro")
}

fn shows(claim: &Realization, out: &Output) -> bool {
    let service = &out.service;
    let name = out.name();
    let run = out.text("run.sh");
    match claim.concern {
        Concern::Storage => each_member(out, |m| {
            service
                .persistent_volumes()
                .map(|v| {
                    let own = format!("{m}-{}", v.name);
                    let source = out.external_volume(m, v).unwrap_or(own);
                    format!("--volume {source}:{}", v.path)
                })
                .collect()
        }),
        Concern::Identity => each_member(out, |m| {
            vec![
                format!("--name {m}"),
                format!("--hostname {m}"),
                format!("--network-alias {m}"),
            ]
        }),
        Concern::Discovery => {
            run.contains(&format!("network={}\n", service.network_name("docker")))
                && run.contains(
                    "docker network create --label \"berth.service=$service\" \"$network\"",
                )
                && each_member(out, |_| vec!["--network \"$network\"".into()])
        }
        // Each alias a `--network-alias`; down.sh removes a network only once nothing uses it.
        Concern::Network => {
            let down = out.text("down.sh");
            run.contains(&format!("network={}\n", service.network_name("docker")))
                && down.contains("elif [ \"$attached\" != 0 ]; then")
                && each_member(out, |m| {
                    let aliases = out.aliases(m).into_iter();
                    aliases.map(|a| format!("--network-alias {a}")).collect()
                })
        }
        // Nothing to spread: one member, or a spec that lets its members share the host.
        Concern::Spread => {
            (service.replicas() == 1 || service.replication.spread.value == Spread::None)
                && each_member(out, |_| vec![])
        }
        Concern::Liveness => {
            let check = service.health.liveness.as_ref().expect("a used concern");
            each_member(out, |_| {
                vec![format!("--health-interval {}s", check.interval)]
            }) && members(out)
                .iter()
                .all(|(_, args)| args.iter().any(|a| a.starts_with("--health-cmd ")))
        }
        // Each member but the last is waited for before the next starts; degraded, none is.
        Concern::StartOrder => match service.replication.start.value {
            Start::Parallel => !run.contains("\nwait_healthy "),
            Start::Ordered if claim.status == Status::Degraded => !run.contains("\nwait_healthy "),
            Start::Ordered => service
                .members()
                .iter()
                .rev()
                .skip(1)
                .all(|m| run.contains(&format!("\nwait_healthy {}\n", m.name))),
        },
        // A member made from another spec is reported, not replaced.
        Concern::RollingUpdate => {
            members(out)
                .iter()
                .all(|(start, _)| start.split(' ').nth(1).is_some_and(|c| c.len() == 16))
                && run.contains("was created from another spec; it keeps running as it is")
        }
        Concern::Resources => {
            let r = &service.resources.as_ref().expect("a used concern").value;
            let flags = [
                ("--memory ", r.memory.is_some() || r.memory_limit.is_some()),
                ("--cpus ", r.cpu.is_some() || r.cpu_limit.is_some()),
                (
                    "--memory-reservation ",
                    r.memory.is_some() && r.memory_limit.is_some() && r.memory != r.memory_limit,
                ),
            ];
            members(out).iter().all(|(_, args)| {
                flags
                    .iter()
                    .all(|(flag, set)| *set == args.iter().any(|a| a.starts_with(flag)))
            })
        }
        // The step's own variables (a secret by name only) and limits, on its container.
        Concern::Init => {
            let init = service.init.as_ref().expect("a used concern");
            let create = run
                .split(&format!("\n      --name {name}-init \\\n"))
                .nth(1)
                .and_then(|rest| rest.split("\nfi\n").next())
                .unwrap_or_default();
            let env = init.env.iter().all(|v| match &v.value {
                EnvValue::Secret { .. } => create.contains(&format!("--env {} \\", v.name)),
                EnvValue::Literal(_) => create.contains(&format!("--env {}=", v.name)),
            });
            env && create.contains("--memory ")
                && create.contains("--cpus ")
                && run.contains(&format!("until docker start --attach {name}-init; do"))
        }
        // A secret variable is passed by name only (`--env NAME`), and run.sh stops unless the
        // caller's environment holds it; a secret file is the user's, beside run.sh, and run.sh
        // stops unless it is there.
        Concern::Secrets => {
            let variables: Vec<&str> = service
                .container
                .env
                .iter()
                .filter(|v| matches!(v.value, EnvValue::Secret { .. }))
                .map(|v| v.name.as_str())
                .collect();
            let files = service.files.iter().filter_map(|f| match &f.body {
                FileBody::Secret { secret, key } => Some(format!("{secret}/{key}")),
                FileBody::Content(_) => None,
            });
            each_member(out, |_| {
                variables.iter().map(|v| format!("--env {v}")).collect()
            }) && variables
                .iter()
                .all(|v| run.contains(&format!(": \"${{{v}:?set {v} in the environment")))
                && files
                    .into_iter()
                    .all(|f| run.contains(&format!("[ -f \"$here\"/secrets/{f} ] ||")))
        }
        // Each file is written per member beside run.sh (or is the user's secret there), mounted
        // read-only; one with an owner is copied into place by the start script.
        Concern::Files => {
            let written = service.files.iter().enumerate().all(|(i, f)| {
                matches!(f.body, FileBody::Secret { .. })
                    || service.members().iter().all(|m| {
                        out.paths()
                            .any(|p| p == format!("files/{}/{}", m.name, f.key(i)))
                    })
            });
            let copied = service.files.iter().enumerate().all(|(i, f)| {
                f.owner.is_none_or(|owner| {
                    run.contains(&format!(
                        "cp /run/berth/files/{key} {path} && chown {owner} {path}",
                        key = f.key(i),
                        path = f.path
                    ))
                })
            });
            written
                && copied
                && each_member(out, |m| {
                    (0..service.files.len())
                        .map(|i| file_mount(out, i, m))
                        .collect()
                })
        }
        // The user's certificate volume, mounted read-only at the spec's path.
        Concern::TlsNames => {
            let tls = &service.tls.as_ref().expect("a used concern").value;
            each_member(out, |_| {
                vec![format!("--volume {}:{}:ro", tls.secret, tls.path)]
            })
        }
        // Claimed unsupported: a claim to realize them needs a check here first.
        Concern::StorageClass | Concern::DisruptionBudget | Concern::Readiness => false,
    }
}

#[test]
fn every_claim_shows_in_run_sh() {
    check_claims(&Docker, shows);
}
