//! `[[files]]` on Kubernetes: content files are keys of one ConfigMap (one key per member when
//! the content differs, picked by `subPathExpr` from the pod's name), secret files are keys of
//! the user's Secrets, each projected with its mode and mounted by `subPath` at its path. A hash
//! of the ConfigMap is a pod-template annotation, so a changed file rolls the pods one at a time.
//! Projected files belong to root (and the pod's `fsGroup`): a file with an `owner` is mounted
//! aside and copied into place by a start script.

use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_model::start::{Placement, Source};
use berth_model::{FileBody, Identity, Member, Service};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, KeyToPath, SecretVolumeSource, Volume, VolumeMount,
};
use std::collections::BTreeMap;

pub const CONFIG_VOLUME: &str = "berth-files";

#[derive(Default)]
pub struct PodFiles {
    /// The ConfigMap's data; empty when no file has content.
    pub data: BTreeMap<String, String>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    /// Files a start script copies into place.
    pub placements: Vec<Placement>,
    /// Whether a mount picks its key by the pod's name.
    pub uses_pod_name: bool,
}

pub fn config_map_name(service: &Service) -> String {
    format!("{}-files", service.name())
}

/// The files of the pod template; `pod_name_variable` is the container's variable holding the
/// pod's name.
pub fn pod_files(
    service: &Service,
    peers: &[Member],
    pod_name_variable: &str,
) -> Result<PodFiles, Diagnostic> {
    let copy = berth_model::start::possible(service);
    let mut files = PodFiles::default();
    let mut config_items = Vec::new();
    for (index, file) in service.files.iter().enumerate() {
        let key = file.key(index);
        let needs_copy = file.owner.is_some() && copy;
        let target = if needs_copy {
            format!("/run/berth/files/{key}")
        } else {
            file.path.clone()
        };
        let mode = Some(file.mode as i32);
        let mut mount = VolumeMount {
            mount_path: target.clone(),
            read_only: Some(true),
            ..Default::default()
        };
        match &file.body {
            FileBody::Content(_) => {
                let (keys, per_pod) = config_keys(service, peers, file, &key)?;
                for (config_key, text) in keys {
                    config_items.push(item(&config_key, mode));
                    files.data.insert(config_key, text);
                }
                mount.name = CONFIG_VOLUME.into();
                if per_pod {
                    mount.sub_path_expr = Some(format!("$({pod_name_variable}).{key}"));
                    files.uses_pod_name = true;
                } else {
                    mount.sub_path = Some(key.clone());
                }
            }
            FileBody::Secret {
                secret,
                key: secret_key,
            } => {
                let volume = format!("berth-secret-{index}");
                files
                    .volumes
                    .push(secret_volume(&volume, secret, secret_key, mode));
                mount.name = volume;
                mount.sub_path = Some(secret_key.clone());
            }
        }
        files.mounts.push(mount);
        if needs_copy {
            files.placements.push(Placement {
                path: file.path.clone(),
                source: Source::Mounted(target),
                mode: file.mode,
                owner: file.owner,
            });
        }
    }
    if !config_items.is_empty() {
        files
            .volumes
            .insert(0, config_volume(service, config_items));
    }
    check_config_map_size(service, &files.data)?;
    Ok(files)
}

/// A content file's ConfigMap keys and texts: `<pod>.<key>` for each member where its template
/// names `self` (then `true`: the mount picks by the pod's name), else the file's own key. The
/// template decides, not whether the texts differ, so that the pod template's shape follows from
/// the spec alone, as a chart computes it (the helm backend), whatever the values.
fn config_keys(
    service: &Service,
    peers: &[Member],
    file: &berth_model::File,
    key: &str,
) -> Result<(Vec<(String, String)>, bool), Diagnostic> {
    let contents = peers
        .iter()
        .map(|peer| {
            let text = service.file_content(file, &Identity::new(Some(peer), peers))?;
            Ok((peer.name.clone(), text.unwrap_or_default()))
        })
        .collect::<Result<Vec<_>, Diagnostic>>()?;
    let names_self = matches!(&file.body, FileBody::Content(t) if t.names_self());
    if !names_self {
        let text = contents
            .into_iter()
            .next()
            .map(|(_, t)| t)
            .unwrap_or_default();
        return Ok((vec![(key.to_string(), text)], false));
    }
    let keys = contents
        .into_iter()
        .map(|(pod, text)| (format!("{pod}.{key}"), text))
        .collect();
    Ok((keys, true))
}

/// The volume `name` projecting one key of the user's Secret with the file's mode.
fn secret_volume(name: &str, secret: &str, key: &str, mode: Option<i32>) -> Volume {
    Volume {
        name: name.to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_string()),
            items: Some(vec![item(key, mode)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The volume projecting the files' ConfigMap, each key with its file's mode.
fn config_volume(service: &Service, items: Vec<KeyToPath>) -> Volume {
    Volume {
        name: CONFIG_VOLUME.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name(service),
            items: Some(items),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The most a ConfigMap may hold: Kubernetes refuses larger objects (etcd's request limit).
const CONFIG_MAP_LIMIT: usize = 1024 * 1024;

/// Refuses a ConfigMap that `kubectl apply` would fail to create, here rather than on the cluster.
fn check_config_map_size(
    service: &Service,
    data: &BTreeMap<String, String>,
) -> Result<(), Diagnostic> {
    let size: usize = data.iter().map(|(key, text)| key.len() + text.len()).sum();
    if size <= CONFIG_MAP_LIMIT {
        return Ok(());
    }
    Err(Diagnostic::input(
        &errors::SPEC_LIMIT,
        format!(
            "kubernetes: the ConfigMap `{}` would hold {} KiB of `[[files]]` (every member's copy), over the 1 MiB Kubernetes stores in one object",
            config_map_name(service),
            size / 1024
        ),
    )
    .at(service.files.first().and_then(|f| f.span.clone()), "in the ConfigMap")
    .help("make the files smaller or the same for every member, or put large content in the image or a volume"))
}

fn item(key: &str, mode: Option<i32>) -> KeyToPath {
    KeyToPath {
        key: key.to_string(),
        path: key.to_string(),
        mode,
    }
}
