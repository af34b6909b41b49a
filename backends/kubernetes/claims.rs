//! Each concern the Kubernetes backend claims to realize, in full or in part, shows in the
//! objects it writes, for every example spec: the StatefulSet, its Services, budget, Job and
//! ConfigMap carry what the claim says.

use super::Kubernetes;
use berth_backends_testing::{Output, Value, all, array, check_claims, json};
use berth_model::concern::{Concern, Realization};
use berth_model::{EnvValue, FileBody, Spread};

/// Every object of `kind`, one per file.
fn objects(out: &Output, kind: &str) -> Vec<Value> {
    out.paths()
        .filter(|p| p.ends_with(".yaml"))
        .map(|p| out.yaml(p))
        .filter(|o| o["kind"] == kind)
        .collect()
}

/// The claim's text after its last `: ` or ` `: the policy or number it names.
fn last_word(claim: &Realization) -> &str {
    claim.detail.rsplit([' ', ':']).next().unwrap_or_default()
}

/// The member container's mount at `path`.
fn mount(pod: &Value, path: &str) -> Option<Value> {
    array(&pod["containers"][0]["volumeMounts"])
        .into_iter()
        .find(|m| m["mountPath"] == path)
}

/// The pod's volume that `mount` mounts; null when there is none.
fn volume(pod: &Value, mount: &Value) -> Value {
    array(&pod["volumes"])
        .into_iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_default()
}

/// Whether the pod's anti-affinity of `kind` keeps members on different hosts.
fn anti_affinity(sts: &Value, kind: &str) -> bool {
    let terms = array(&sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][kind]);
    all(&terms, |t| {
        let term = if t["podAffinityTerm"].is_object() {
            &t["podAffinityTerm"]
        } else {
            t
        };
        term["topologyKey"] == "kubernetes.io/hostname"
            && term["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    })
}

fn shows(claim: &Realization, out: &Output) -> bool {
    let service = &out.service;
    let name = out.name();
    let Some(sts) = objects(out, "StatefulSet").pop() else {
        return false;
    };
    let pod = &sts["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let claims = array(&sts["spec"]["volumeClaimTemplates"]);
    match claim.concern {
        // One ReadWriteOnce claim per persistent volume, mounted at its path, kept on delete and
        // scale-down.
        Concern::Storage => {
            let retention = &sts["spec"]["persistentVolumeClaimRetentionPolicy"];
            retention == &json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
                && claims.len() == service.persistent_volumes().count()
                && service.persistent_volumes().all(|v| {
                    claims.iter().any(|c| {
                        c["metadata"]["name"] == v.name
                            && c["spec"]["accessModes"] == json!(["ReadWriteOnce"])
                    }) && mount(pod, &v.path).is_some_and(|m| m["name"] == v.name)
                })
        }
        Concern::StorageClass => {
            service.persistent_volumes().all(|v| {
                claims.iter().any(|c| {
                    c["metadata"]["name"] == v.name
                        && v.class
                            .as_ref()
                            .is_some_and(|class| c["spec"]["storageClassName"] == *class)
                })
            }) && objects(out, "StorageClass").iter().all(|c| {
                c["reclaimPolicy"] == "Retain" && c["volumeBindingMode"] == "WaitForFirstConsumer"
            })
        }
        Concern::Identity => {
            // A member that refers to itself does so through the pod's own name.
            let refers = container.to_string().contains("$(BERTH_POD_NAME)");
            sts["metadata"]["name"] == name
                && sts["spec"]["replicas"] == service.replicas()
                && refers
                    == array(&container["env"]).iter().any(|e| {
                        e["name"] == "BERTH_POD_NAME"
                            && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
                    })
        }
        Concern::Discovery => objects(out, "Service").iter().any(|s| {
            s["spec"]["clusterIP"] == "None"
                && s["spec"]["publishNotReadyAddresses"] == true
                && s["metadata"]["name"] == sts["spec"]["serviceName"]
                && s["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
        }),
        // A headless Service of each alias selecting those who answer to it.
        Concern::Network => {
            let members = service.members();
            let selects = |alias: &str, s: &Value| {
                let by: Vec<&str> = members
                    .iter()
                    .filter(|m| out.aliases(&m.name).iter().any(|a| a == alias))
                    .map(|m| m.name.as_str())
                    .collect();
                let pod = &s["spec"]["selector"]["statefulset.kubernetes.io/pod-name"];
                s["spec"]["clusterIP"] == "None"
                    && if by.len() == members.len() {
                        pod.is_null()
                    } else {
                        by == [pod.as_str().unwrap_or("")]
                    }
            };
            let services = objects(out, "Service");
            members
                .iter()
                .flat_map(|m| out.aliases(&m.name))
                .all(|alias| {
                    services
                        .iter()
                        .any(|s| s["metadata"]["name"] == alias.as_str() && selects(&alias, s))
                })
        }
        Concern::Spread => match service.replication.spread.value {
            _ if service.replicas() == 1 => sts["spec"]["replicas"] == 1,
            Spread::Required => {
                anti_affinity(&sts, "requiredDuringSchedulingIgnoredDuringExecution")
            }
            Spread::Preferred => {
                anti_affinity(&sts, "preferredDuringSchedulingIgnoredDuringExecution")
            }
            Spread::None => pod["affinity"]["podAntiAffinity"].is_null(),
        },
        Concern::DisruptionBudget => {
            let budgets = objects(out, "PodDisruptionBudget");
            if service.replicas() == 1 {
                budgets.is_empty()
            } else {
                budgets.len() == 1
                    && budgets[0]["spec"]["maxUnavailable"].as_u64()
                        == last_word(claim).parse().ok()
                    && budgets[0]["spec"]["selector"] == sts["spec"]["selector"]
            }
        }
        Concern::Liveness => {
            let check = service.health.liveness.as_ref().expect("a used concern");
            container["livenessProbe"]["periodSeconds"] == check.interval
                && container["startupProbe"].is_object()
        }
        Concern::Readiness => {
            let check = service.health.readiness.as_ref().expect("a used concern");
            container["readinessProbe"]["periodSeconds"] == check.interval
        }
        Concern::StartOrder => sts["spec"]["podManagementPolicy"] == last_word(claim),
        Concern::RollingUpdate => {
            sts["spec"]["updateStrategy"]["type"] == "RollingUpdate"
                && sts["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"].is_null()
        }
        // A request for each quantity the spec asks for; a limit for each, or the request.
        Concern::Resources => {
            let r = &service.resources.as_ref().expect("a used concern").value;
            let resources = &container["resources"];
            [
                ("cpu", &r.cpu, &r.cpu_limit),
                ("memory", &r.memory, &r.memory_limit),
            ]
            .iter()
            .all(|(key, request, limit)| {
                resources["requests"][key] == json!(request)
                    && resources["limits"][key] == json!(limit.as_ref().or(request.as_ref()))
            })
        }
        // The Job's container has the step's variables and its resources, request and limit.
        Concern::Init => objects(out, "Job").iter().any(|j| {
            let step = service.init.as_ref().expect("a used concern");
            let container = &j["spec"]["template"]["spec"]["containers"][0];
            let env = array(&container["env"]);
            let names: Vec<&str> = env.iter().filter_map(|e| e["name"].as_str()).collect();
            let quota = json!({"cpu": step.resources.cpu, "memory": step.resources.memory});
            j["metadata"]["name"] == format!("{name}-init")
                && j["spec"]["backoffLimit"].as_u64().is_some_and(|b| b > 1)
                && step.env.iter().all(|v| names.contains(&v.name.as_str()))
                && container["resources"] == json!({"requests": quota, "limits": quota})
        }),
        // A secret variable from its Secret's key; a secret file from a Secret volume.
        Concern::Secrets => {
            service.container.env.iter().all(|v| match &v.value {
                EnvValue::Secret { secret, key } => array(&container["env"]).iter().any(|e| {
                    e["name"] == v.name
                        && e["valueFrom"]["secretKeyRef"]["name"] == *secret
                        && e["valueFrom"]["secretKeyRef"]["key"] == *key
                }),
                EnvValue::Literal(_) => true,
            }) && service.files.iter().all(|f| match &f.body {
                FileBody::Secret { secret, .. } => array(&pod["volumes"])
                    .iter()
                    .any(|v| v["secret"]["secretName"] == *secret),
                FileBody::Content(_) => true,
            })
        }
        // The annotation hashes the ConfigMap berth writes: the user's Secrets are not berth's.
        Concern::Files => {
            let contents = service
                .files
                .iter()
                .any(|f| matches!(f.body, FileBody::Content(_)));
            let annotated =
                sts["spec"]["template"]["metadata"]["annotations"]["berth.dev/files"].is_string();
            files(out, pod) && annotated == contents
        }
        // The user's certificate Secret, mounted read-only at the spec's path.
        Concern::TlsNames => {
            let tls = &service.tls.as_ref().expect("a used concern").value;
            mount(pod, &tls.path).is_some_and(|m| {
                m["readOnly"] == true && volume(pod, &m)["secret"]["secretName"] == tls.secret
            })
        }
    }
}

/// Each file mounted read-only by subPath from the ConfigMap (a key per member where the
/// content differs) or from its Secret, with its mode; one with an owner where the start script
/// copies it from.
fn files(out: &Output, pod: &Value) -> bool {
    let service = &out.service;
    let data = objects(out, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == format!("{}-files", out.name()))
        .map(|c| c["data"].clone())
        .unwrap_or_default();
    service.files.iter().enumerate().all(|(i, f)| {
        let key = f.key(i);
        let target = match f.owner {
            Some(_) => format!("/run/berth/files/{key}"),
            None => f.path.clone(),
        };
        let Some(mount) = mount(pod, &target) else {
            return false;
        };
        let volume = volume(pod, &mount);
        // This file's items of the volume.
        let items: Vec<Value> = match &f.body {
            FileBody::Content(_) => array(&volume["configMap"]["items"]),
            FileBody::Secret { .. } => array(&volume["secret"]["items"]),
        }
        .into_iter()
        .filter(|item| match &f.body {
            FileBody::Content(_) => {
                item["key"] == key
                    || item["key"]
                        .as_str()
                        .is_some_and(|k| k.ends_with(&format!(".{key}")))
            }
            FileBody::Secret { key, .. } => item["key"] == *key,
        })
        .collect();
        let picked = match &f.body {
            FileBody::Content(_) if mount["subPath"] == key => data[&key].is_string(),
            FileBody::Content(_) => {
                mount["subPathExpr"] == format!("$(BERTH_POD_NAME).{key}")
                    && service
                        .members()
                        .iter()
                        .all(|m| data[format!("{}.{key}", m.name)].is_string())
            }
            FileBody::Secret { secret, key } => {
                volume["secret"]["secretName"] == *secret && mount["subPath"] == *key
            }
        };
        let copied = f.owner.is_none_or(|owner| {
            pod["containers"][0]["command"][2]
                .as_str()
                .is_some_and(|c| {
                    c.contains(&format!(
                        "cp {target} {path} && chown {owner} {path}",
                        path = f.path
                    ))
                })
        });
        mount["readOnly"] == true
            && picked
            && copied
            && !items.is_empty()
            && items.iter().all(|item| item["mode"] == f.mode)
    })
}

#[test]
fn every_claim_shows_in_the_objects() {
    check_claims(&Kubernetes, shows);
}
