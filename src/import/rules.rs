//! What a Compose file gets wrong about a stateful service, by rule id (`import/...`), each
//! pointing at the line that says it. Each rule's document is `rules/<name>.md`, whose first
//! `yaml` block triggers it and second does not.

use super::cluster::Cluster;
use super::compose::{ComposeFile, MountKind, Service};
use super::known;
use berth_diagnostic::Diagnostic;

berth_diagnostic::rules!();

/// Every finding about one cluster of the file. A line several members share (an anchor's
/// `image:`) is named once.
pub fn check(cluster: &Cluster, dir: &std::path::Path) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for member in &cluster.members {
        found.extend(data_in_container(member));
        found.extend(no_restart_policy(member));
        found.extend(bind_mount_data(member, dir));
        found.extend(secrets_in_environment(member));
        found.extend(gated_on_health(member, cluster));
    }
    // The members share one image, and usually one environment: each is said once.
    found.extend(floating_tag(cluster.first()));
    let mut switched: Vec<String> = Vec::new();
    for member in &cluster.members {
        for (key, finding) in anonymous_access(member) {
            if !switched.contains(&key) {
                switched.push(key);
                found.push(finding);
            }
        }
    }
    found.extend(quorum_of_two(cluster));
    let mut seen = Vec::new();
    found.retain(|d| {
        let key = (d.code.clone(), d.span.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    found
}

/// Findings about the file as a whole, whichever services are imported: services that start
/// before another's health check passes, and secrets in a committed `.env`.
/// `owner_of` gives the cluster an init step belongs to (itself for any other).
pub fn check_file(
    file: &ComposeFile,
    clusters: &[Cluster],
    owner_of: &dyn Fn(usize) -> usize,
) -> Vec<Diagnostic> {
    let mut found = not_waiting_for_health(file, clusters, owner_of);
    if !file.ignores_dotenv {
        found.extend(file.dotenv_secrets.iter().map(|(name, span)| {
            SECRET_IN_DOTENV.report(
                span.clone(),
                format!("`.env` sets `{name}`, a secret, in plain text beside the Compose file"),
                "a secret in `.env`",
                format!("give `{name}` in the environment of `up` instead, or list `.env` in `.gitignore`"),
            )
        }));
    }
    found
}

/// Variables that switch a database's authentication off, and the values that do.
const ANONYMOUS: [(&str, &[&str]); 7] = [
    ("ALLOW_NONE_AUTHENTICATION", &["yes", "true", "1"]),
    ("ALLOW_ANONYMOUS_LOGIN", &["yes", "true", "1"]),
    ("ALLOW_EMPTY_PASSWORD", &["yes", "true", "1"]),
    ("ALLOW_EMPTY_ROOT_PASSWORD", &["yes", "true", "1"]),
    ("ALLOW_PLAINTEXT_LISTENER", &["yes", "true", "1"]),
    ("POSTGRES_HOST_AUTH_METHOD", &["trust"]),
    ("xpack.security.enabled", &["false"]),
];

fn anonymous_access(service: &Service) -> Vec<(String, Diagnostic)> {
    service
        .environment
        .iter()
        .filter_map(|(key, value, span)| {
            let value = value.as_ref()?.value.trim().to_ascii_lowercase();
            let switches = ANONYMOUS.iter().any(|(name, values)| {
                let named = key == name || key.ends_with(&format!("_{name}"));
                named && values.contains(&value.as_str())
            });
            switches.then(|| {
                let finding = ANONYMOUS_ACCESS.report(
                    span.clone(),
                    format!(
                        "`{key}: {value}` lets any client of `{}` in without a password",
                        service.name
                    ),
                    "authentication switched off",
                    "remove it and give the software its credentials from a secret",
                );
                (key.clone(), finding)
            })
        })
        .collect()
}

/// An image without a version: no tag, `latest`, or a tag without a digit (`alpine`). A tag a
/// variable gives is the user's to set.
fn floating_tag(service: &Service) -> Option<Diagnostic> {
    let image = service.image.as_ref()?;
    if !image.raw.is_literal() {
        return None;
    }
    let tag = match berth_language::image::pin(&image.value).ok()? {
        Some(pin) if pin.contains(':') && pin.starts_with("sha") => return None,
        Some(tag) => tag,
        None => String::new(),
    };
    let floating = tag.is_empty() || tag == "latest" || !tag.contains(|c: char| c.is_ascii_digit());
    floating.then(|| {
        let what = if tag.is_empty() {
            "no tag, which is `latest`".to_string()
        } else {
            format!("the tag `{tag}`, which moves")
        };
        FLOATING_TAG.report(
            image.span.clone(),
            format!("`{}` runs `{}`: {what}", service.name, image.value),
            "a tag that moves",
            "pin a version (`image: NAME:VERSION`) and upgrade by changing it",
        )
    })
}

/// A `depends_on` without `condition: service_healthy` on a service with a health check,
/// between services that are not of one cluster (its members and its init step).
fn not_waiting_for_health(
    file: &ComposeFile,
    clusters: &[Cluster],
    owner_of: &dyn Fn(usize) -> usize,
) -> Vec<Diagnostic> {
    let cluster_of = |name: &str| {
        clusters
            .iter()
            .position(|c| c.members.iter().any(|m| m.name == name))
            .map(owner_of)
    };
    let mut found = Vec::new();
    for service in &file.services {
        for dependency in &service.depends_on {
            let Some(target) = file.services.iter().find(|s| s.name == dependency.service) else {
                continue;
            };
            let checked = target
                .healthcheck
                .as_ref()
                .is_some_and(|h| h.test.is_some());
            let same = cluster_of(&service.name).is_some()
                && cluster_of(&service.name) == cluster_of(&target.name);
            if checked && !same && dependency.condition == "service_started" {
                found.push(NOT_WAITING_FOR_HEALTH.report(
                    dependency.span.clone(),
                    format!(
                        "`{}` starts once `{}` has started, not once its health check passes",
                        service.name, target.name
                    ),
                    "does not wait for health",
                    format!(
                        "write `depends_on: {{{}: {{condition: service_healthy}}}}`",
                        target.name
                    ),
                ));
            }
        }
    }
    found
}

/// A database with no volume at all, or an anonymous one: its data goes with the container.
fn data_in_container(service: &Service) -> Option<Diagnostic> {
    known::software(service.image_name())?;
    let kept = |m: &super::compose::Mount| match m.kind {
        MountKind::Volume => m.source.is_some(),
        MountKind::Bind => !m.read_only,
        MountKind::Tmpfs => false,
    };
    if service.mounts.iter().any(kept) {
        return None;
    }
    let anonymous = service.mounts.iter().find(|m| m.kind == MountKind::Volume);
    Some(match anonymous {
        Some(anonymous) => DATA_IN_CONTAINER.report(
            anonymous.span.clone(),
            format!(
                "`{}` keeps its data in an anonymous volume: `up` after `down` starts it empty",
                service.name
            ),
            "anonymous volume",
            format!(
                "name the volume (`data:{}`) and declare it under `volumes`",
                anonymous.target
            ),
        ),
        None => DATA_IN_CONTAINER.report(
            service.span.clone(),
            format!(
                "`{}` mounts no volume: its data lives in the container and goes with it",
                service.name
            ),
            "no volume for the data",
            match known::data_path(service) {
                Some((path, how)) => {
                    format!("mount a named volume at its data directory (`{path}`, from {how})")
                }
                None => "mount a named volume at its data directory".to_string(),
            },
        ),
    })
}

fn no_restart_policy(service: &Service) -> Option<Diagnostic> {
    let missing = match &service.restart {
        None => true,
        Some((policy, _)) => policy == "no" || policy == "false",
    };
    missing.then(|| {
        let span = service.restart.as_ref().map_or(service.span.clone(), |(_, s)| s.clone());
        NO_RESTART_POLICY.report(
            span,
            format!("`{}` is not restarted: after a crash or a reboot it stays down until `up` runs again", service.name),
            "no restart policy",
            "set `restart: unless-stopped`",
        )
    })
}

fn bind_mount_data(service: &Service, dir: &std::path::Path) -> Vec<Diagnostic> {
    service
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind && !m.read_only)
        .filter(|m| !m.source.as_ref().is_some_and(|s| dir.join(s).is_file()))
        .map(|m| {
            BIND_MOUNT_DATA.report(
                m.span.clone(),
                format!(
                    "`{}` writes to the host directory `{}`",
                    service.name,
                    m.source.as_deref().unwrap_or("?")
                ),
                "bind mount of a host directory",
                format!("mount a named volume at `{}` instead", m.target),
            )
        })
        .collect()
}

fn secrets_in_environment(service: &Service) -> Vec<Diagnostic> {
    service
        .environment
        .iter()
        .filter(|(key, _, _)| berth_compile::spec_rules::looks_like_secret(key))
        // An `env_file` keeps its secrets out of the Compose file, as it should.
        .filter(|(key, _, _)| !service.from_env_files.contains(key))
        .filter_map(|(key, value, span)| {
            let value = value.as_ref()?;
            (value.raw.is_literal() && !value.value.is_empty()).then(|| {
                SECRET_IN_ENVIRONMENT.report(
                    span.clone(),
                    format!("`{key}` of `{}` is written in the file", service.name),
                    "a literal secret",
                    format!("write `{key}: ${{{key}:?set it}}` and provide it in the environment of `up`"),
                )
            })
        })
        .collect()
}

fn gated_on_health(service: &Service, cluster: &Cluster) -> Vec<Diagnostic> {
    let members: Vec<&str> = cluster.members.iter().map(|m| m.name.as_str()).collect();
    service
        .depends_on
        .iter()
        .filter(|d| d.condition == "service_healthy" && members.contains(&d.service.as_str()))
        .map(|d| {
            MEMBERS_GATED_ON_HEALTH.report(
                d.span.clone(),
                format!("`{}` starts only once `{}` is healthy; after every member went down, the cluster may never form", service.name, d.service),
                "a member waits for a member's health",
                "remove the dependency: members start together",
            )
        })
        .collect()
}

fn quorum_of_two(cluster: &Cluster) -> Option<Diagnostic> {
    let image = cluster.first().image_name();
    (cluster.replicas == 2 && known::software(image)?.majority).then(|| {
        QUORUM_OF_TWO.report(
            cluster.first().span.clone(),
            format!(
                "`{}` has two members: a majority of two is both, so losing either stops it",
                cluster.name
            ),
            "two members",
            "run three members, or one",
        )
    })
}
