//! How the Kubernetes backend realizes each concern.

use crate::model::concern::{Concern::*, Realization, Table, noting_unused};
use crate::model::{Service, Spread, Start};

pub fn concerns(service: &Service) -> Vec<Realization> {
    let mut t = Table::default();
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
        noting_unused(
            "livenessProbe, plus a startupProbe allowance for slow restarts",
            service.health.liveness.is_some(),
        ),
    );
    t.native(
        Readiness,
        noting_unused("readinessProbe", service.health.readiness.is_some()),
    );
    match service.replication.start.value {
        Start::Parallel => t.native(StartOrder, "podManagementPolicy: Parallel"),
        Start::Ordered => t.native(StartOrder, "podManagementPolicy: OrderedReady"),
    }
    t.native(
        RollingUpdate,
        "StatefulSet RollingUpdate, one pod at a time, gated on readiness",
    );
    t.native(
        Resources,
        noting_unused("requests and limits", service.resources.is_some()),
    );
    t.native(
        Init,
        noting_unused(
            "a Job retried with back-off until the cluster answers",
            service.init.is_some(),
        ),
    );
    t.native(
        Secrets,
        noting_unused(
            "env valueFrom.secretKeyRef; secret files from Secret volumes",
            service.uses_secrets(),
        ),
    );
    t.native(
        Files,
        noting_unused(
            "a ConfigMap (a key per member where content differs, picked by subPathExpr) and the user's Secrets, mounted by subPath with their modes; a start script copies in a file that needs an owner; a hash of the ConfigMap in the pod template rolls the pods one at a time",
            !service.files.is_empty(),
        ),
    );
    t.native(
        TlsNames,
        noting_unused("stable per-member DNS names through the headless Service; the Secret is mounted read-only", service.tls.is_some()),
    );
    t.0
}
