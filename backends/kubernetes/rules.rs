//! The Kubernetes backend's safety rules. Each rule's document is `rules/<name>.md`; its first
//! ```toml block is a spec that triggers the rule and its second a fixed spec that does not.

use berth_backend::ServiceRule;
use berth_diagnostic::Diagnostic;
use berth_model::{Service, Spread, Start};

berth_diagnostic::rules!();

/// Every rule, in the order the diagnostics are listed.
pub fn check(service: &Service, _: &super::Settings) -> Vec<Diagnostic> {
    let mut found: Vec<Diagnostic> = Vec::new();
    found.extend(berth_backends_shared::files::owner_not_applied(
        service,
        &FILE_OWNER_NOT_APPLIED,
        "a projected ConfigMap or Secret file (root, with the pod's `fsGroup`)",
        false,
    ));
    found.extend(NO_PERSISTENT_VOLUME.fire_without_volume(
        service,
        "the data lives in the container's filesystem and is lost when the pod is deleted or rescheduled",
        "add a `[[volumes]]` entry with `name`, `path` (the data directory), `size` and `class`",
    ));
    found.extend(missing_storage_class(service));
    found.extend(no_spread(service));
    found.extend(ordered_ready_deadlock(service));
    found.extend(liveness(service));
    found.extend(no_readiness(service));
    found.extend(no_resources(service));
    found.extend(tls_ip_names(service));
    found.extend(tls_keys_root_only(service));
    found.extend(short_stop_grace(service));
    found
}

fn missing_storage_class(service: &Service) -> Vec<Diagnostic> {
    service
        .persistent_volumes()
        .filter(|v| v.class.is_none())
        .map(|volume| {
            MISSING_STORAGE_CLASS.fire(
                service,
                volume.span.clone(),
                format!("volume `{}` has no `class`: the cluster's default storage class is often a slow disk (GCE pd-standard, AWS gp2)", volume.name),
                "no `class`",
                "set `class` to an SSD-backed storage class, or declare one under `[backends.kubernetes.storage_classes]`",
            )
        })
        .collect()
}

fn no_spread(service: &Service) -> Option<Diagnostic> {
    let replicas = service.replicas();
    let spread = &service.replication.spread;
    (replicas > 1 && spread.value == Spread::None).then(|| {
        NO_SPREAD.fire(
            service,
            spread.span.clone(),
            format!("{replicas} replicas with `spread = \"none\"`: several replicas may land on one node, and losing that node loses them together"),
            "no anti-affinity",
            "set `spread = \"required\"` (or `\"preferred\"` on clusters with fewer nodes than replicas)",
        )
    })
}

fn ordered_ready_deadlock(service: &Service) -> Option<Diagnostic> {
    let start = &service.replication.start;
    let ready = service.health.readiness.as_ref()?;
    if start.value != Start::Ordered || !service.waits_for_peers(ready) {
        return None;
    }
    let (what, help) = if ready.needs_quorum {
        ("needs quorum", "set `start = \"parallel\"`")
    } else {
        (
            "needs the peers (`needs_peers` unset or true)",
            "set `start = \"parallel\"`, or say `needs_peers = false` under `[health.readiness]` if the check passes on a pod alone",
        )
    };
    Some(ORDERED_READY_DEADLOCK.fire(
        service,
        start.span.clone(),
        format!("`start = \"ordered\"` with a readiness check that {what}: pod 0 must be ready before pod 1 starts, so it waits for peers that are never started"),
        "OrderedReady pod management",
        help,
    ))
}

/// `liveness-needs-quorum`, or else `liveness-same-as-readiness`.
fn liveness(service: &Service) -> Option<Diagnostic> {
    let live = service.health.liveness.as_ref()?;
    if service.liveness_needs_quorum() {
        return Some(LIVENESS_NEEDS_QUORUM.fire(
            service,
            live.span.clone(),
            "the liveness check needs quorum: when a majority is down, Kubernetes restarts the surviving pods too",
            "quorum-gated liveness",
            "make `[health.liveness]` a process-local check (for example the process's own health endpoint) and keep quorum in readiness",
        ));
    }
    let readiness = service.health.readiness.as_ref();
    readiness.is_some_and(|r| r.action == live.action).then(|| {
        LIVENESS_SAME_AS_READINESS.fire(
            service,
            live.span.clone(),
            "the liveness check is the readiness check: a replica that is merely busy or catching up is killed instead of taken out of rotation",
            "same check as readiness",
            "make liveness a cheaper process-local check, or readiness a stricter one",
        )
    })
}

fn no_readiness(service: &Service) -> Option<Diagnostic> {
    service.health.readiness.is_none().then(|| {
        NO_READINESS.fire(
            service,
            service.container.span.clone(),
            "no readiness check: clients are sent to a replica before it accepts connections",
            "no `[health.readiness]`",
            "add `[health.readiness]` that passes when the replica accepts connections",
        )
    })
}

fn no_resources(service: &Service) -> Option<Diagnostic> {
    let missing = service.missing_resources();
    (!missing.is_empty()).then(|| {
        let span = service
            .resources
            .as_ref()
            .and_then(|r| r.span.clone())
            .or(service.container.span.clone());
        NO_RESOURCES.fire(
            service,
            span,
            format!("`resources.{}` not set: the scheduler may pack the database onto a busy node and the kernel may kill it first under memory pressure", missing.join("` and `resources.")),
            "requests missing",
            "set `cpu` and `memory` under `[resources]`",
        )
    })
}

fn tls_ip_names(service: &Service) -> Vec<Diagnostic> {
    let Some(tls) = &service.tls else {
        return Vec::new();
    };
    tls.value
        .extra_names
        .iter()
        .filter(|n| n.value.parse::<std::net::IpAddr>().is_ok())
        .map(|name| {
            TLS_IP_NAME.fire(
                service,
                name.span.clone(),
                format!("TLS name `{}` is an IP address: pod IPs change when a pod is rescheduled, and the certificate stops matching", name.value),
                "an IP address",
                "remove the address and rely on the stable DNS names berth reports",
            )
        })
        .collect()
}

fn tls_keys_root_only(service: &Service) -> Option<Diagnostic> {
    let tls = service.tls.as_ref()?;
    (service.container.user.is_none() && tls.value.group.is_none()).then(|| {
        TLS_KEYS_ROOT_ONLY.fire(
            service,
            tls.span.clone(),
            "`[tls]` without `container.user`: the Secret's files are mounted root-owned with mode 0440 and the pod has no `fsGroup`, so an image that starts as root and drops to its own user cannot read its key",
            "keys readable by root only",
            "set `[tls] group` to the image's group id (the pod's `fsGroup` then makes the keys readable), or `container.user` to run the pod as the image's user",
        )
    })
}

fn short_stop_grace(service: &Service) -> Option<Diagnostic> {
    (service.stop_grace.value < 30).then(|| {
        SHORT_STOP_GRACE.fire(
            service,
            service.stop_grace.span.clone(),
            format!("`stop_grace` is {}s: a database killed before it finishes shutting down replays its log or loses in-flight writes", service.stop_grace.value),
            "short grace period",
            "set `[lifecycle] stop_grace` to at least `30s`",
        )
    })
}
