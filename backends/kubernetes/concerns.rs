//! How the Kubernetes backend realizes each concern.

use berth_model::concern::{Concern::*, Realization, Table};
use berth_model::{Service, Spread, Start};

pub fn concerns(service: &Service, _: &super::Settings) -> Vec<Realization> {
    let mut t = Table::new(service);
    t.native(Storage, "volumeClaimTemplates: one ReadWriteOnce claim per member, retained on delete and scale-down");
    t.native(StorageClass, "storageClassName on every claim; StorageClass objects with Retain and WaitForFirstConsumer when declared");
    t.native(Identity, "StatefulSet pods <name>-<ordinal>; self resolves through the downward API ($(BERTH_POD_NAME), pod-index label)");
    t.native(
        Discovery,
        "headless Service with publishNotReadyAddresses: <pod>.<name>.<namespace>.svc.<domain>",
    );
    match service.replication.spread.value {
        _ if service.replicas() < 2 => t.native(Spread, "one replica: nothing to spread"),
        Spread::Required => t.native(
            Spread,
            "required pod anti-affinity on kubernetes.io/hostname",
        ),
        Spread::Preferred => t.native(
            Spread,
            "preferred pod anti-affinity on kubernetes.io/hostname",
        ),
        Spread::None => t.degraded(Spread, "spread = none: replicas may share a node"),
    }
    if service.replicas() > 1 {
        t.native(
            DisruptionBudget,
            format!(
                "PodDisruptionBudget maxUnavailable {}",
                (service.replicas() - service.replication.majority()).max(1)
            ),
        );
    } else {
        t.native(
            DisruptionBudget,
            "no budget at one replica, so drains never block",
        );
    }
    t.native(
        Liveness,
        "livenessProbe, plus a startupProbe allowance for slow restarts",
    );
    t.native(Readiness, "readinessProbe");
    match service.replication.start.value {
        Start::Parallel => t.native(StartOrder, "podManagementPolicy: Parallel"),
        Start::Ordered => t.native(StartOrder, "podManagementPolicy: OrderedReady"),
    }
    t.native(
        RollingUpdate,
        "StatefulSet RollingUpdate, one pod at a time, gated on readiness",
    );
    t.native(Resources, "requests and limits");
    t.native(
        Init,
        "a Job retried with back-off until the cluster answers",
    );
    t.native(
        Secrets,
        "env valueFrom.secretKeyRef; secret files from Secret volumes",
    );
    t.native(
        Files,
        "a ConfigMap (a key per member where content differs, picked by subPathExpr) and the user's Secrets, mounted by subPath with their modes; a start script copies in a file that needs an owner; a hash of the ConfigMap in the pod template rolls the pods one at a time",
    );
    t.native(
        TlsNames,
        "stable per-member DNS names through the headless Service; the Secret is mounted read-only",
    );
    t.realizations
}
