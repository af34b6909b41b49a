//! What each member keeps and reads: volumes, files (berth's start script read back), and
//! certificates.

use super::*;
use crate::compose::{FileRef, Mount};

/// A volume the spec gets: its name and path, whether it keeps data, a note, and the Compose
/// file's Docker volumes that hold the members' data.
struct VolumeMount {
    name: String,
    path: String,
    persistent: bool,
    note: Option<&'static str>,
    external: Option<String>,
}

impl<'a> Mapping<'a> {
    pub(super) fn volumes(&mut self, doc: &mut Document) {
        let first = self.first();
        let image = first.image_name().to_string();
        let mut mounts: Vec<VolumeMount> = Vec::new();
        for mount in &first.mounts {
            if self.certificates(mount) {
                continue;
            }
            let (persistent, note) = match mount.kind {
                MountKind::Volume if mount.source.is_some() => (true, None),
                MountKind::Volume => (
                    true,
                    Some("an anonymous volume in the Compose file: a named one here"),
                ),
                MountKind::Bind if mount.read_only || self.is_file(mount.source.as_deref()) => {
                    continue;
                }
                MountKind::Bind => (
                    true,
                    Some("a bind mount of a host directory in the Compose file: a volume here"),
                ),
                MountKind::Tmpfs => (false, Some("tmpfs in the Compose file")),
            };
            let sources = self.sources_at(&mount.target);
            if let [Some(shared), rest @ ..] = sources.as_slice()
                && !rest.is_empty()
                && mount.kind == MountKind::Volume
                && rest.iter().all(|s| s == &Some(*shared))
            {
                self.unmapped.push(format!("volume `{shared}` at `{}`: every member mounts this one Compose volume; berth gives each member its own, so what one member writes there the others do not see", mount.target));
            }
            let name = volume_name(&sources, &self.names, &mount.target);
            let external = match mount.kind {
                MountKind::Volume => self.docker_volumes(&name, &sources),
                _ => None,
            };
            mounts.push(VolumeMount {
                name,
                path: mount.target.clone(),
                persistent,
                note,
                external,
            });
        }
        let mut added = None;
        if known::software(&image).is_some() && !mounts.iter().any(|m| m.persistent) {
            match known::data_path(first) {
                Some((path, how)) => {
                    added = Some(format!("added: the Compose file keeps the data in the container; the path is from {how}"));
                    mounts.push(VolumeMount {
                        name: "data".into(),
                        path,
                        persistent: true,
                        note: None,
                        external: None,
                    });
                }
                None => self.refusals.push(format!(
                    "the Compose file mounts no volume for the data of `{}`, and berth does not know where the image `{image}` keeps it: mount a named volume at its data directory",
                    first.name
                )),
            }
        }
        let mut used: Vec<String> = Vec::new();
        for VolumeMount {
            mut name,
            path,
            persistent,
            note,
            external,
        } in mounts
        {
            if used.contains(&name) {
                name = format!("{name}-{}", used.len());
            }
            used.push(name.clone());
            doc.array_table(&["volumes"]);
            if let Some(note) = note {
                doc.comment(note);
            } else if let Some(note) = added.as_deref().filter(|_| name == "data") {
                doc.comment(note);
            }
            doc.pair("name", Item::Str(name.clone()), None);
            doc.pair("path", Item::Str(path), None);
            if persistent {
                let size = format!("{}_size", name.replace('-', "_"));
                self.params.entry(size.clone()).or_insert(Param {
                    default: "10Gi".into(),
                    required: false,
                    description: format!("Size of each member's `{name}` volume (guessed: a Compose file does not size volumes)"),
                });
                doc.pair("size", Item::Str(format!("{{{{params.{size}}}}}")), None);
                if self.input.probe {
                    doc.pair("class", Item::Str("probe".into()), None);
                    self.persistent.push(name.clone());
                } else {
                    doc.comment("class: the Compose file does not say; Kubernetes needs one (rule kubernetes/missing-storage-class)");
                    doc.comment("Cloud Foundry needs a volume service for it: `[backends.cloudfoundry] volume_services`");
                }
            } else {
                doc.pair("persistent", Item::Bool(false), None);
            }
            if let Some(external) = external {
                doc.pair("external", Item::Str(external), Some("the Compose file's volumes, with the data: the docker and compose outputs mount them; remove this for a new deployment"));
            }
        }
    }

    /// The template of the Docker volumes the members mount at one path (`sources`, their keys
    /// in the Compose file), which hold their data: `None` unless each member has its own named
    /// volume whose Docker name is known.
    fn docker_volumes(&mut self, name: &str, sources: &[Option<&str>]) -> Option<String> {
        let file = &self.input.file;
        let names: Vec<String> = sources
            .iter()
            .map(|s| file.docker_volume((*s)?))
            .collect::<Option<_>>()
            .or_else(|| {
                if file.project.is_none() {
                    self.unmapped.push(format!("volume `{name}`: the Compose project's name is unknown, and with it the Docker volume that holds the data; import again with `--project-name`"));
                }
                None
            })?;
        // berth's docker and compose outputs name them so already (berth's own output read back).
        let cluster = &self.input.cluster.name;
        let berths_own =
            (names.iter().enumerate()).all(|(i, n)| *n == format!("{cluster}-{i}-{name}"));
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        // A name Docker refuses is no volume that holds data.
        let valid = names
            .iter()
            .all(|n| berth_language::names::docker_volume(n));
        (valid && distinct.len() == names.len() && !berths_own)
            .then(|| crate::template::by_ordinal(&names))
    }

    /// Each member's source of what it mounts at `target`.
    pub(super) fn sources_at(&self, target: &str) -> Vec<Option<&'a str>> {
        let at = |m: &'a Service| {
            m.mounts
                .iter()
                .find(|x| x.target == target)
                .and_then(|x| x.source.as_deref())
        };
        self.members().iter().map(|m| at(m)).collect()
    }

    /// Whether a bind mount's source is a file beside the Compose file (configuration), not a
    /// directory of data.
    pub(super) fn is_file(&self, source: Option<&str>) -> bool {
        source.is_some_and(|s| self.input.file.dir.join(s).is_file())
    }

    /// Read-only bind mounts of files, `configs` and `secrets` as `[[files]]`.
    pub(super) fn files(&mut self, doc: &mut Document) {
        let first = self.first();
        for mount in &first.mounts {
            self.mounted_file(doc, &first.name, mount);
        }
        for config in &first.configs {
            self.config_file(doc, config);
        }
        for secret in &first.secrets {
            self.secret_ref_file(doc, secret);
        }
    }

    /// A read-only bind mount of a file (or of any file beside the Compose file).
    fn mounted_file(&mut self, doc: &mut Document, service: &str, mount: &Mount) {
        let Some(source) = &mount.source else {
            return;
        };
        if mount.kind != MountKind::Bind || !(mount.read_only || self.is_file(Some(source))) {
            return;
        }
        // Copied into place by berth's start script: the file's own path, mode and owner.
        let copy = self.copies.iter().find(|c| c.aside == mount.target);
        let path = copy.map_or(mount.target.clone(), |c| c.path.clone());
        if let Some((secret, key)) = source
            .strip_prefix("./secrets/")
            .and_then(|s| s.split_once('/'))
        {
            doc.array_table(&["files"]);
            doc.pair("path", Item::Str(path), None);
            doc.pair("secret", Item::Str(secret.to_string()), None);
            doc.pair("key", Item::Str(key.to_string()), None);
            self.copied_mode(doc, &mount.target, 0o400, None);
            return;
        }
        let sources: Vec<String> = self
            .sources_at(&mount.target)
            .iter()
            .map(|s| s.unwrap_or(source).to_string())
            .collect();
        let mounted = Mounted {
            key: format!("services.{service}.volumes"),
            span: &mount.span,
            mounted_at: &mount.target,
        };
        match self.file_entry(doc, &path, &sources, &mounted) {
            Copy::Content => {
                let on_disk = std::fs::metadata(self.input.file.dir.join(source))
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
                    .unwrap_or(0o644);
                self.copied_mode(doc, &mount.target, 0o644, Some(on_disk));
            }
            Copy::Secret => self.copied_mode(doc, &mount.target, 0o400, None),
            Copy::Not => {}
        }
    }

    /// A `configs` entry of the service, as the file the top-level `configs` names.
    fn config_file(&mut self, doc: &mut Document, config: &FileRef) {
        let target = config
            .target
            .clone()
            .unwrap_or_else(|| format!("/{}", config.source));
        match self
            .input
            .file
            .configs
            .get(&config.source)
            .cloned()
            .flatten()
        {
            Some(path) => {
                let mounted = Mounted {
                    key: format!("configs.{}.file", config.source),
                    span: &config.span,
                    mounted_at: &target,
                };
                if self.file_entry(doc, &target, std::slice::from_ref(&path), &mounted) != Copy::Not
                {
                    self.file_mode(doc, config.mode.as_deref(), config.uid.as_deref());
                }
            }
            None => self.unmapped.push(format!(
                "config `{}`: not a `file:`; describe it as `[[files]]` with `content`",
                config.source
            )),
        }
    }

    /// A `secrets` entry of the service, as a reference to the cluster's secret.
    fn secret_ref_file(&mut self, doc: &mut Document, secret: &FileRef) {
        let target = match &secret.target {
            Some(t) if t.starts_with('/') => t.clone(),
            Some(t) => format!("/run/secrets/{t}"),
            None => format!("/run/secrets/{}", secret.source),
        };
        doc.array_table(&["files"]);
        doc.pair("path", Item::Str(target), None);
        doc.pair("secret", Item::Str(self.input.cluster.name.clone()), None);
        let key = crate::secrets::valid_key(&secret.source);
        let comment = if key == secret.source {
            "the Compose file's secret; provide it to each orchestrator's secret store".to_string()
        } else {
            format!(
                "guessed: the Compose file's secret `{}`, renamed to a key the spec takes; provide it to each orchestrator's secret store",
                secret.source
            )
        };
        doc.pair("key", Item::Str(key), Some(&comment));
        self.file_mode(doc, secret.mode.as_deref(), secret.uid.as_deref());
    }

    /// A file the Compose file mounts, as `[[files]]`: a reference to a secret when the file
    /// looks like one (by its name or a private key in it), else its text with member names
    /// templated (the spec may be written anywhere, so no path to the file is kept). The file is
    /// read by `berth_language::read`'s policy; one it refuses, or that is not text of at most
    /// 64 KiB, is not copied, and the spec lists it.
    pub(super) fn file_entry(
        &mut self,
        doc: &mut Document,
        target: &str,
        sources: &[String],
        mounted: &Mounted,
    ) -> Copy {
        let named = sources
            .iter()
            .chain(std::iter::once(&target.to_string()))
            .find_map(|s| crate::secrets::file_name(s).map(|why| (s.clone(), why)));
        if let Some((name, why)) = named {
            self.secret_file(doc, target, &name, why, mounted);
            return Copy::Secret;
        }
        let mut texts = Vec::new();
        for source in sources {
            let Some(text) = self.read_source(source, mounted) else {
                return Copy::Not;
            };
            if crate::secrets::holds_private_key(&text) {
                self.secret_file(doc, target, source, "it holds a private key", mounted);
                return Copy::Secret;
            }
            if text.len() > 64 * 1024 {
                self.unmapped.push(format!("file `{source}` (mounted at `{target}`): larger than 64 KiB; bake it into the image"));
                return Copy::Not;
            }
            texts.push(Interpolated {
                parts: vec![Part::Text(text)],
            });
        }
        // One file for every member, or each member's own: either way one template.
        let values: Vec<Option<&Interpolated>> = match texts.len() {
            1 => vec![Some(&texts[0]); self.members().len()],
            _ => texts.iter().map(Some).collect(),
        };
        let content = self.template(values, &format!("the file `{target}`"));
        doc.array_table(&["files"]);
        doc.pair("path", Item::Str(target.to_string()), None);
        doc.pair("content", Item::Text(content), None);
        Copy::Content
    }

    /// A mounted file's text, read by the policy. Refused, a directory or a missing file is
    /// listed (there is no file to copy), anything else also gets an `import/file-not-copied`
    /// finding.
    fn read_source(&mut self, source: &str, mounted: &Mounted) -> Option<String> {
        let dir = &self.input.file.dir;
        match berth_language::read::beside(dir, source, self.input.allowed) {
            Ok(read) => {
                if let Some(path) = &read.outside {
                    let warning =
                        crate::compose::read_outside(&mounted.key, path, Some(mounted.span));
                    self.findings.push(warning);
                }
                Some(read.text)
            }
            Err(_) if !dir.join(source).exists() || dir.join(source).is_dir() => {
                self.unmapped.push(format!("bind mount `{source}:{}`: not a file beside the Compose file; bake it into the image or describe it as `[[files]]`", mounted.mounted_at));
                None
            }
            Err(refused) => {
                self.findings.push(crate::rules::FILE_NOT_COPIED.report(
                    mounted.span.clone(),
                    format!(
                        "`{}`: `{source}` (mounted at `{}`) is not copied into the spec: {}",
                        mounted.key, mounted.mounted_at, refused.message
                    ),
                    "not copied",
                    refused.help,
                ));
                self.unmapped.push(format!("file `{source}` (mounted at `{}`): not copied (berth reads only regular text files inside the Compose file's folder, or in a folder of `--allow-read`); describe it as `[[files]]`", mounted.mounted_at));
                None
            }
        }
    }

    /// `[[files]]` with `secret` and `key` for a file that looks like a secret, and a finding
    /// telling the user to create the secret: its text is never copied.
    fn secret_file(
        &mut self,
        doc: &mut Document,
        target: &str,
        source: &str,
        why: &str,
        mounted: &Mounted,
    ) {
        let secret = self.input.cluster.name.clone();
        let key = crate::secrets::key(source);
        let service = &self.first().name;
        self.findings.push(crate::rules::SECRET_FILE.report(
            mounted.span.clone(),
            format!("`{service}` mounts `{source}` at `{target}`, which looks like a secret ({why}): the spec references the secret `{secret}`, key `{key}`, instead of copying it"),
            "a secret from the host",
            format!("create the secret `{secret}` with the key `{key}` in each orchestrator's secret store (for compose and docker, the file `secrets/{secret}/{key}` beside compose.yaml)"),
        ));
        doc.array_table(&["files"]);
        doc.comment(&format!("`{source}` looks like a secret ({why}): not copied; create the secret `{secret}` with the key `{key}` in each orchestrator's secret store"));
        doc.pair("path", Item::Str(target.to_string()), None);
        doc.pair("secret", Item::Str(secret), None);
        doc.pair("key", Item::Str(key), None);
    }

    /// A file's mode and owner where they differ from the default: from berth's start script
    /// when it copies the file, else the mode the file has beside the Compose file.
    pub(super) fn copied_mode(
        &self,
        doc: &mut Document,
        mounted_at: &str,
        default: u32,
        on_disk: Option<u32>,
    ) {
        let copy = self.copies.iter().find(|c| c.aside == mounted_at);
        let mode = copy.map(|c| c.mode).or(on_disk).unwrap_or(default);
        if mode != default {
            doc.pair("mode", Item::Str(format!("{mode:04o}")), None);
        }
        if let Some(owner) = copy.and_then(|c| c.owner) {
            doc.pair("owner", Item::Int(owner.into()), None);
        }
    }

    /// A `secrets:` or `configs:` entry's `mode` (octal text, as `compose` checked it) and `uid`.
    pub(super) fn file_mode(&mut self, doc: &mut Document, mode: Option<&str>, uid: Option<&str>) {
        if let Some(mode) = mode {
            doc.pair("mode", Item::Str(mode.to_string()), None);
        }
        if let Some(uid) = uid.and_then(|u| u.parse::<i64>().ok()) {
            doc.pair("owner", Item::Int(uid), None);
        }
    }

    /// Whether a mount is an external volume mounted read-only: certificates made outside the
    /// project, which is how berth's own compose output mounts `[tls]`.
    pub(super) fn certificates(&self, mount: &crate::compose::Mount) -> bool {
        mount.kind == MountKind::Volume
            && mount.read_only
            && mount
                .source
                .as_ref()
                .is_some_and(|s| self.input.file.external_volumes.contains(s))
    }

    pub(super) fn tls(&mut self, doc: &mut Document) {
        let Some(mount) = self.first().mounts.iter().find(|m| self.certificates(m)) else {
            return;
        };
        doc.table(&["tls"]);
        doc.comment("guessed: an external volume mounted read-only, as certificates are");
        doc.pair(
            "secret",
            Item::Str(mount.source.clone().unwrap_or_default()),
            None,
        );
        doc.pair("path", Item::Str(mount.target.clone()), None);
    }
}

/// Where a file `[[files]]` copies is named: the key (for messages), the line, and where the
/// container mounts it.
pub(super) struct Mounted<'s> {
    key: String,
    span: &'s berth_diagnostic::source::Span,
    mounted_at: &'s str,
}

/// What became of a file to copy.
#[derive(PartialEq, Eq)]
pub(super) enum Copy {
    /// Its text, in `content`.
    Content,
    /// A reference to a secret.
    Secret,
    /// Nothing: the spec lists it.
    Not,
}

/// The `[[volumes]]` name of a mount from its source on each member: without the members'
/// names (`etcd-0-data` → `data`), else what the sources share (`data01`, `data02` → `data`),
/// else the last word of the path.
fn volume_name(sources: &[Option<&str>], names: &crate::template::Names, target: &str) -> String {
    let stripped: Vec<String> = sources
        .iter()
        .map(|source| {
            let mut s = source
                .unwrap_or_default()
                .trim_start_matches("./")
                .to_string();
            for name in names.iter().flatten() {
                s = s.replace(name.as_str(), "");
            }
            s.trim_matches(['-', '_', '.', '/']).to_string()
        })
        .collect();
    let shared = if stripped.iter().all(|s| *s == stripped[0]) {
        stripped[0].clone()
    } else {
        let first = sources[0].unwrap_or_default();
        let prefix_len = sources
            .iter()
            .map(|s| common_prefix(first, s.unwrap_or_default()))
            .min()
            .unwrap_or(0);
        first[..prefix_len]
            .trim_end_matches(|c: char| c.is_ascii_digit() || "-_.".contains(c))
            .to_string()
    };
    let name = if shared.is_empty() {
        target
            .rsplit('/')
            .find(|w| !w.is_empty())
            .unwrap_or("data")
            .to_string()
    } else {
        shared
    };
    let label: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let label = label.trim_matches('-').to_string();
    if label.starts_with(|c: char| c.is_ascii_lowercase()) {
        label
    } else {
        format!("v-{label}")
    }
}

/// The length in bytes of what two strings start with alike.
fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .take_while(|((_, x), y)| x == y)
        .last()
        .map_or(0, |((i, c), _)| i + c.len_utf8())
}
