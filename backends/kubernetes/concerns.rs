//! How the Kubernetes backend realizes each concern.

use berth_model::concern::{Claim, Concerns};
use berth_model::{Service, Spread, Start};

pub fn concerns(service: &Service, _: &super::Settings) -> Concerns {
    Concerns {
        storage: Claim::native(
            "volumeClaimTemplates: one ReadWriteOnce claim per member, retained on delete and scale-down",
        ),
        storage_class: Claim::native(
            "storageClassName on every claim; StorageClass objects with Retain and WaitForFirstConsumer when declared",
        ),
        identity: Claim::native(
            "StatefulSet pods <name>-<ordinal>; self resolves through the downward API ($(BERTH_POD_NAME), pod-index label)",
        ),
        discovery: Claim::native(
            "headless Service with publishNotReadyAddresses: <pod>.<name>.<namespace>.svc.<domain>",
        ),
        network: Claim::emulated(
            "the namespace `network.name` names (unless set here); a headless Service per alias, selecting every member or one pod",
        ),
        spread: match service.replication.spread.value {
            _ if service.replicas() < 2 => Claim::native("one replica: nothing to spread"),
            Spread::Required => {
                Claim::native("required pod anti-affinity on kubernetes.io/hostname")
            }
            Spread::Preferred => {
                Claim::native("preferred pod anti-affinity on kubernetes.io/hostname")
            }
            Spread::None => Claim::degraded("spread = none: replicas may share a node"),
        },
        disruption_budget: if service.replicas() > 1 {
            Claim::native(format!(
                "PodDisruptionBudget maxUnavailable {}",
                (service.replicas() - service.replication.majority()).max(1)
            ))
        } else {
            Claim::native("no budget at one replica, so drains never block")
        },
        liveness: Claim::native("livenessProbe, plus a startupProbe allowance for slow restarts"),
        readiness: Claim::native("readinessProbe"),
        start_order: match service.replication.start.value {
            Start::Parallel => Claim::native("podManagementPolicy: Parallel"),
            Start::Ordered => Claim::native("podManagementPolicy: OrderedReady"),
        },
        rolling_update: Claim::native(
            "StatefulSet RollingUpdate, one pod at a time, gated on readiness",
        ),
        resources: Claim::native("requests and limits"),
        init: Claim::native("a Job retried with back-off until the cluster answers"),
        secrets: Claim::native("env valueFrom.secretKeyRef; secret files from Secret volumes"),
        files: Claim::native(
            "a ConfigMap (a key per member where content differs, picked by subPathExpr) and the user's Secrets, mounted by subPath with their modes; a start script copies in a file that needs an owner; a hash of the ConfigMap in the pod template rolls the pods one at a time",
        ),
        tls_names: Claim::native(
            "stable per-member DNS names through the headless Service; the Secret is mounted read-only",
        ),
    }
}
