//! One cluster of a Compose file written as a commented spec. Every value the Compose file does
//! not state is a guess and says so; every key berth does not carry is listed at the end with
//! why. What the Compose file gets wrong is reported by `rules`, not here.

use super::cluster::{self, Cluster};
use super::compose::{ComposeFile, Healthcheck, MountKind, Service, Text};
use super::interpolate::{Interpolated, Part};
use super::known;
use super::write::{Document, Item};
use crate::engine::backends::docker::engine as docker;
use std::collections::BTreeMap;

/// A spec made from a Compose file.
pub struct Imported {
    pub name: String,
    /// The Compose services it came from.
    pub services: Vec<String>,
    pub text: String,
}

/// What the spec needs from the Compose file beyond the cluster: its one-shot init service.
pub struct Input<'a> {
    pub file: &'a ComposeFile,
    pub cluster: &'a Cluster<'a>,
    pub init: Option<&'a Service>,
    /// The Compose file's name, for the header.
    pub source: String,
    /// Backends the spec cannot target, with the reason, as a first compile of it found.
    pub excluded: Vec<(String, String)>,
    /// Write what the Compose file lacks as placeholders (a storage class, volume services), for
    /// the compile that finds what else a backend would refuse.
    pub probe: bool,
}

struct Param {
    default: String,
    description: String,
}

/// The state of one mapping: the parameters the strings referenced, what could not be mapped,
/// and whether any template counts members from 1.
struct Mapping<'a> {
    input: &'a Input<'a>,
    names: Vec<Vec<String>>,
    params: BTreeMap<String, Param>,
    unmapped: Vec<String>,
    ports: Vec<PortEntry>,
    /// The persistent volumes' names, for the probe's volume services.
    persistent: Vec<String>,
    /// What berth's own start script copies into place, if the members run one.
    copies: Vec<super::start::Copied>,
}

struct PortEntry {
    number: u16,
    name: String,
    protocol: String,
    peers_only: bool,
}

pub fn write(input: &Input) -> Imported {
    let cluster = input.cluster;
    let names = if cluster.members.len() > 1 || cluster.replicas == 1 {
        cluster
            .members
            .iter()
            .map(|m| cluster::names_of(m))
            .collect()
    } else {
        // `deploy.replicas`: one DNS name for every replica, which berth's members replace.
        Vec::new()
    };
    let mut mapping = Mapping {
        input,
        names,
        params: BTreeMap::new(),
        unmapped: Vec::new(),
        ports: Vec::new(),
        persistent: Vec::new(),
        copies: Vec::new(),
    };
    let body = mapping.body();
    let mut doc = Document::default();
    let services: Vec<String> = cluster
        .members
        .iter()
        .map(|m| m.name.clone())
        .chain(input.init.map(|i| i.name.clone()))
        .collect();
    doc.comment(&format!(
        "Imported by `berth import` from {} (services {}). Values marked \"guessed\" are not in the Compose file; check them. What the spec does not carry is listed at the end.",
        input.source,
        services.join(", ")
    ));
    doc.pair("name", Item::Str(cluster.name.clone()), None);
    if !input.excluded.is_empty() {
        for (backend, why) in &input.excluded {
            doc.comment(&format!("Not for {backend}: {why}"));
        }
        let targets = crate::engine::backends::names()
            .into_iter()
            .filter(|b| !input.excluded.iter().any(|(x, _)| x == b));
        doc.pair(
            "targets",
            Item::List(targets.map(str::to_string).collect()),
            None,
        );
    }
    for (name, param) in &mapping.params {
        doc.table(&format!("params.{name}"));
        doc.pair("default", Item::Str(param.default.clone()), None);
        doc.pair("description", Item::Str(param.description.clone()), None);
    }
    let mut text = doc.finish();
    text.push_str(&body);
    if !mapping.unmapped.is_empty() {
        let mut tail = Document::default();
        tail.blank();
        tail.comment("Not mapped from the Compose file:");
        for line in &mapping.unmapped {
            tail.comment(&format!("- {line}"));
        }
        text.push_str(&tail.finish());
    }
    Imported {
        name: cluster.name.clone(),
        services,
        text,
    }
}

impl<'a> Mapping<'a> {
    fn members(&self) -> &'a [&'a Service] {
        let input: &'a Input<'a> = self.input;
        &input.cluster.members
    }

    fn first(&self) -> &'a Service {
        self.members()[0]
    }

    /// Every section after the header and parameters.
    fn body(&mut self) -> String {
        self.port_table();
        // The health check may name a port the table lacks; it is written after the ports.
        let mut health = Document::default();
        self.health(&mut health);
        let mut doc = Document::default();
        self.container(&mut doc);
        self.environment(&mut doc);
        self.write_ports(&mut doc);
        self.volumes(&mut doc);
        self.files(&mut doc);
        self.replication(&mut doc);
        doc.raw(&health.finish());
        self.resources(&mut doc);
        self.lifecycle(&mut doc);
        self.init(&mut doc);
        self.tls(&mut doc);
        self.publishing(&mut doc);
        if !self.persistent.is_empty() {
            doc.table("backends.cloudfoundry");
            let services = self
                .persistent
                .iter()
                .map(|v| (v.clone(), "probe".to_string()))
                .collect();
            doc.pair("volume_services", Item::Inline(services), None);
        }
        self.unmapped_keys();
        doc.finish()
    }

    /// One template for a string every member has, registering the parameters it references.
    fn template(&mut self, values: Vec<Option<&Interpolated>>, what: &str) -> String {
        for value in values.iter().flatten() {
            for reference in value.references() {
                self.param(reference);
            }
        }
        let param = |name: &str| param_name(name);
        match cluster::template(&values, &self.names, &param) {
            Some(t) => t.template,
            None => {
                self.unmapped.push(format!("{what}: the members' values differ in a way no template over `self` and `peers` expresses; the first member's value is written"));
                let first = values.iter().flatten().next().copied();
                first.map_or(String::new(), |v| {
                    cluster::first_member(v, &self.names, &param)
                })
            }
        }
    }

    fn param(&mut self, reference: &super::interpolate::Reference) {
        let env = &self.input.file.env;
        let (default, how) = match (env.get(&reference.name), &reference.default) {
            (Some(value), _) => (value.clone(), "the `.env` file's value".to_string()),
            (None, Some(default)) => (
                Interpolated {
                    parts: super::interpolate::parse(default)
                        .map(|d| d.parts)
                        .unwrap_or_default(),
                }
                .resolve(env),
                "the Compose file's default".to_string(),
            ),
            (None, None) if reference.required => (
                String::new(),
                "required by the Compose file: set it".to_string(),
            ),
            (None, None) => (
                String::new(),
                "unset in the Compose file: set it".to_string(),
            ),
        };
        self.params
            .entry(param_name(&reference.name))
            .or_insert(Param {
                default,
                description: format!("`${{{}}}` in the Compose file ({how})", reference.name),
            });
    }

    /// Each member's value of one optional field, as references to the interpolated text.
    fn each(
        &self,
        field: impl Fn(&'a Service) -> Option<&'a Text>,
    ) -> Vec<Option<&'a Interpolated>> {
        self.members()
            .iter()
            .map(|m| field(m).map(|t| &t.raw))
            .collect()
    }

    fn container(&mut self, doc: &mut Document) {
        doc.table("container");
        let images = self.each(|m| m.image.as_ref());
        if images.iter().all(Option::is_some) {
            let image = self.template(images, "`image`");
            doc.pair("image", Item::Str(image), None);
        } else {
            let name = self.input.cluster.name.clone();
            self.unmapped.push(
                "`build`: berth deploys an image; build and push it, then set `container.image`"
                    .into(),
            );
            doc.pair(
                "image",
                Item::Str(format!("{name}:latest")),
                Some("guessed: the Compose file builds the image"),
            );
        }
        let argvs: Vec<Vec<&Text>> = self
            .members()
            .iter()
            .map(|m| {
                m.entrypoint
                    .iter()
                    .flatten()
                    .chain(m.command.iter().flatten())
                    .collect()
            })
            .collect();
        let first_words: Vec<&str> = argvs[0].iter().map(|t| t.value.as_str()).collect();
        if let Some((copies, used)) = super::start::read(&first_words) {
            // berth's own start script: the files it copies are `[[files]]`, the rest is the process.
            self.copies = copies;
            let rest: Vec<Vec<Text>> = argvs
                .iter()
                .map(|a| a.iter().skip(used).map(|t| (*t).clone()).collect())
                .collect();
            let lists: Vec<Option<&Vec<Text>>> = rest.iter().map(Some).collect();
            if let Some(list) = self.word_lists(&lists, "command") {
                doc.pair("command", Item::List(list), None);
            }
        } else {
            for (key, compose_key, field) in [
                (
                    "command",
                    "entrypoint",
                    (|m: &Service| m.entrypoint.as_ref()) as fn(&Service) -> Option<&Vec<Text>>,
                ),
                ("args", "command", |m: &Service| m.command.as_ref()),
            ] {
                let words: Vec<Option<&Vec<Text>>> =
                    self.members().iter().map(|m| field(m)).collect();
                if words.iter().all(Option::is_none) {
                    continue;
                }
                if let Some(list) = self.word_lists(&words, compose_key) {
                    doc.pair(key, Item::List(list), None);
                }
            }
        }
        if let Some(user) = &self.first().user {
            let uid = user.value.split(':').next().unwrap_or_default();
            match uid.parse::<i64>() {
                Ok(uid) => doc.pair("user", Item::Int(uid), user.value.contains(':').then_some("the group is the image's")),
                Err(_) => self.unmapped.push(format!("`user: {}`: the spec takes a numeric user; give the image's uid in `container.user`", user.value)),
            }
        }
    }

    /// The members' argv, word by word, as templates; `None` when their lengths differ.
    fn word_lists(&mut self, lists: &[Option<&Vec<Text>>], key: &str) -> Option<Vec<String>> {
        let length = lists[0].map_or(0, Vec::len);
        if lists.iter().any(|l| l.map_or(0, Vec::len) != length) {
            self.unmapped.push(format!(
                "`{key}`: the members' command lines differ in length; set `container` by hand"
            ));
            return None;
        }
        let mut words = Vec::new();
        for i in 0..length {
            let values = lists.iter().map(|l| l.map(|w| &w[i].raw)).collect();
            words.push(self.template(values, &format!("`{key}` word {}", i + 1)));
        }
        Some(words)
    }

    fn environment(&mut self, doc: &mut Document) {
        let mut keys: Vec<String> = Vec::new();
        for member in self.members() {
            for (key, _, _) in &member.environment {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        if keys.is_empty() {
            return;
        }
        doc.table("container.env");
        for key in keys {
            let values: Vec<Option<&Option<Text>>> = self
                .members()
                .iter()
                .map(|m| {
                    m.environment
                        .iter()
                        .find(|(k, _, _)| *k == key)
                        .map(|(_, v, _)| v)
                })
                .collect();
            if crate::engine::rules::looks_like_secret(&key) {
                let secret = vec![
                    ("secret".to_string(), self.input.cluster.name.clone()),
                    ("key".to_string(), key.to_lowercase().replace('_', "-")),
                ];
                doc.pair(&key, Item::Inline(secret), Some("a secret: set it in the environment of `up` (compose), or in each orchestrator's secret store"));
                continue;
            }
            if values.iter().any(|v| v.is_none()) {
                self.unmapped.push(format!(
                    "`environment.{key}`: only some members set it; it is written for every member"
                ));
            }
            let texts: Vec<Option<&Interpolated>> = values
                .iter()
                .map(|v| v.and_then(|v| v.as_ref()).map(|t| &t.raw))
                .collect();
            if texts.iter().all(Option::is_none) {
                // `- KEY` alone: compose passes the variable through from the environment of `up`.
                let reference = super::interpolate::Reference {
                    name: key.clone(),
                    default: None,
                    required: false,
                };
                self.param(&reference);
                doc.pair(
                    &key,
                    Item::Str(format!("{{{{params.{}}}}}", param_name(&key))),
                    Some("passed through from the environment in the Compose file"),
                );
                continue;
            }
            let fallback = texts.iter().flatten().next().copied();
            let texts = texts.into_iter().map(|t| t.or(fallback)).collect();
            let value = self.template(texts, &format!("`environment.{key}`"));
            doc.pair(&key, Item::Str(value), None);
        }
    }

    /// The service's ports, named: published ones are public, unpublished ones the members
    /// name next to a member's name are peers-only, `expose`d ones public.
    fn port_table(&mut self) {
        let first = self.first();
        let mut public: Vec<(u16, String)> = Vec::new();
        for p in &first.ports {
            if !public.iter().any(|(n, _)| *n == p.container) {
                public.push((p.container, p.protocol.clone()));
            }
        }
        let mut peers: Vec<u16> = Vec::new();
        for port in self.peer_ports() {
            if !public.iter().any(|(n, _)| *n == port) && !peers.contains(&port) {
                peers.push(port);
            }
        }
        let image = first.image_name();
        let known_peers = known::software(image).map_or(&[][..], |s| s.peer_ports);
        for port in known_peers {
            if !public.iter().any(|(n, _)| n == port) && !peers.contains(port) {
                peers.push(*port);
            }
        }
        for (port, _) in &first.expose {
            if !public.iter().any(|(n, _)| n == port) && !peers.contains(port) {
                public.push((*port, "tcp".into()));
            }
        }
        let all = public
            .into_iter()
            .map(|(p, proto)| (p, proto, false))
            .chain(peers.into_iter().map(|p| (p, "tcp".to_string(), true)));
        for (port, protocol, peers_only) in all {
            self.add_port(port, protocol, peers_only);
        }
    }

    /// A port's name, adding the port (public) when the table lacks it.
    fn add_port(&mut self, port: u16, protocol: String, peers_only: bool) -> String {
        if let Some(known) = self.ports.iter().find(|p| p.number == port) {
            return known.name.clone();
        }
        let mut name = known::port_name(port);
        if self.ports.iter().any(|p| p.name == name) {
            name = format!("port-{port}");
        }
        self.ports.push(PortEntry {
            number: port,
            name: name.clone(),
            protocol,
            peers_only,
        });
        name
    }

    fn write_ports(&self, doc: &mut Document) {
        for port in &self.ports {
            doc.array_table("ports");
            doc.pair(
                "name",
                Item::Str(port.name.clone()),
                Some("guessed from the number"),
            );
            doc.pair("port", Item::Int(port.number.into()), None);
            if port.protocol != "tcp" {
                doc.pair("protocol", Item::Str(port.protocol.clone()), None);
            }
            if port.peers_only {
                doc.pair(
                    "expose",
                    Item::Str("peers".into()),
                    Some("guessed: not published, and the members reach each other on it"),
                );
            }
        }
    }

    /// Ports the members name next to a member's name (`etcd1:2380`) in their strings.
    fn peer_ports(&self) -> Vec<u16> {
        let names: Vec<&String> = self.names.iter().flatten().collect();
        let mut found = Vec::new();
        for member in self.members() {
            let strings = member
                .environment
                .iter()
                .filter_map(|(_, v, _)| v.as_ref())
                .chain(member.command.iter().flatten())
                .chain(member.entrypoint.iter().flatten());
            for text in strings {
                for name in &names {
                    for (at, _) in text.value.match_indices(&format!("{name}:")) {
                        let digits: String = text.value[at + name.len() + 1..]
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .collect();
                        if let Ok(port) = digits.parse::<u16>()
                            && !found.contains(&port)
                        {
                            found.push(port);
                        }
                    }
                }
            }
        }
        found
    }

    fn volumes(&mut self, doc: &mut Document) {
        let first = self.first();
        let image = first.image_name().to_string();
        let mut mounts: Vec<(String, String, bool, Option<&'static str>)> = Vec::new();
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
            let name = volume_name(&sources, &self.names, &mount.target);
            mounts.push((name, mount.target.clone(), persistent, note));
        }
        if let Some(software) = known::software(&image)
            && !mounts.iter().any(|(_, _, persistent, _)| *persistent)
        {
            mounts.push((
                "data".into(),
                software.data.into(),
                true,
                Some("added: the Compose file keeps the data in the container"),
            ));
        }
        let mut used: Vec<String> = Vec::new();
        for (mut name, path, persistent, note) in mounts {
            if used.contains(&name) {
                name = format!("{name}-{}", used.len());
            }
            used.push(name.clone());
            doc.array_table("volumes");
            if let Some(note) = note {
                doc.comment(note);
            }
            doc.pair("name", Item::Str(name.clone()), None);
            doc.pair("path", Item::Str(path), None);
            if persistent {
                let size = format!("{}_size", name.replace('-', "_"));
                self.params.entry(size.clone()).or_insert(Param {
                    default: "10Gi".into(),
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
        }
    }

    /// Each member's source of what it mounts at `target`.
    fn sources_at(&self, target: &str) -> Vec<Option<&'a str>> {
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
    fn is_file(&self, source: Option<&str>) -> bool {
        source.is_some_and(|s| self.input.file.dir.join(s).is_file())
    }

    /// Read-only bind mounts of files, `configs` and `secrets` as `[[files]]`.
    fn files(&mut self, doc: &mut Document) {
        let first = self.first();
        let dir = &self.input.file.dir;
        for mount in &first.mounts {
            let Some(source) = &mount.source else {
                continue;
            };
            if mount.kind != MountKind::Bind || !(mount.read_only || self.is_file(Some(source))) {
                continue;
            }
            // Copied into place by berth's start script: the file's own path, mode and owner.
            let copy = self.copies.iter().find(|c| c.aside == mount.target);
            let path = copy.map_or(mount.target.clone(), |c| c.path.clone());
            if let Some((secret, key)) = source
                .strip_prefix("./secrets/")
                .and_then(|s| s.split_once('/'))
            {
                doc.array_table("files");
                doc.pair("path", Item::Str(path), None);
                doc.pair("secret", Item::Str(secret.to_string()), None);
                doc.pair("key", Item::Str(key.to_string()), None);
                self.copied_mode(doc, &mount.target, 0o400, None);
                continue;
            }
            if !dir.join(source).is_file() {
                self.unmapped.push(format!("bind mount `{source}:{}`: not a file beside the Compose file; bake it into the image or describe it as `[[files]]`", mount.target));
                continue;
            }
            let sources: Vec<String> = self
                .sources_at(&mount.target)
                .iter()
                .map(|s| s.unwrap_or(source).to_string())
                .collect();
            if self.file_entry(doc, &path, &sources) {
                let on_disk = std::fs::metadata(dir.join(source))
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
                    .unwrap_or(0o644);
                self.copied_mode(doc, &mount.target, 0o644, Some(on_disk));
            }
        }
        for config in &first.configs {
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
                    if self.file_entry(doc, &target, std::slice::from_ref(&path)) {
                        self.file_mode(doc, config.mode.as_deref(), config.uid.as_deref());
                    }
                }
                None => self.unmapped.push(format!(
                    "config `{}`: not a `file:`; describe it as `[[files]]` with `content`",
                    config.source
                )),
            }
        }
        for secret in &first.secrets {
            let target = match &secret.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("/run/secrets/{t}"),
                None => format!("/run/secrets/{}", secret.source),
            };
            doc.array_table("files");
            doc.pair("path", Item::Str(target), None);
            doc.pair("secret", Item::Str(self.input.cluster.name.clone()), None);
            doc.pair(
                "key",
                Item::Str(secret.source.clone()),
                Some("the Compose file's secret; provide it to each orchestrator's secret store"),
            );
            self.file_mode(doc, secret.mode.as_deref(), secret.uid.as_deref());
        }
    }

    /// A file beside the Compose file as `[[files]]` with its text, member names templated
    /// (the spec may be written anywhere, so no path to the file is kept). False when the file
    /// is not text berth can carry.
    fn file_entry(&mut self, doc: &mut Document, target: &str, sources: &[String]) -> bool {
        let mut texts = Vec::new();
        for source in sources {
            match std::fs::read(self.input.file.dir.join(source)).map(String::from_utf8) {
                Ok(Ok(text)) if text.len() <= 64 * 1024 => texts.push(Interpolated {
                    parts: vec![Part::Text(text)],
                }),
                _ => {
                    self.unmapped.push(format!("file `{source}` (mounted at `{target}`): not text of at most 64 KiB; bake it into the image"));
                    return false;
                }
            }
        }
        // One file for every member, or each member's own: either way one template.
        let values: Vec<Option<&Interpolated>> = match texts.len() {
            1 => vec![Some(&texts[0]); self.members().len()],
            _ => texts.iter().map(Some).collect(),
        };
        let content = self.template(values, &format!("the file `{target}`"));
        doc.array_table("files");
        doc.pair("path", Item::Str(target.to_string()), None);
        doc.pair("content", Item::Text(content), None);
        true
    }

    /// A file's mode and owner where they differ from the default: from berth's start script
    /// when it copies the file, else the mode the file has beside the Compose file.
    fn copied_mode(
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

    fn file_mode(&mut self, doc: &mut Document, mode: Option<&str>, uid: Option<&str>) {
        if let Some(mode) = mode {
            let octal = if mode.starts_with('0') {
                mode.to_string()
            } else {
                format!("0{:o}", mode.parse::<u32>().unwrap_or(0o444))
            };
            doc.pair("mode", Item::Str(octal), None);
        }
        if let Some(uid) = uid.and_then(|u| u.parse::<i64>().ok()) {
            doc.pair("owner", Item::Int(uid), None);
        }
    }

    fn replication(&mut self, doc: &mut Document) {
        let replicas = self.input.cluster.replicas;
        let image = self.first().image_name().to_string();
        let majority = known::software(&image).is_some_and(|s| s.majority) && replicas > 1;
        let member_names: Vec<&str> = self.members().iter().map(|m| m.name.as_str()).collect();
        let ordered = self.members().iter().any(|m| {
            m.depends_on
                .iter()
                .any(|d| member_names.contains(&d.service.as_str()))
        });
        if replicas == 1 && !ordered {
            return;
        }
        doc.table("replication");
        doc.pair("replicas", Item::Int(replicas.into()), None);
        if majority {
            doc.pair(
                "quorum",
                Item::Str("majority".into()),
                Some("guessed from the image"),
            );
        }
        if ordered {
            doc.pair(
                "start",
                Item::Str("ordered".into()),
                Some("members depend on each other in the Compose file"),
            );
        }
    }

    fn health(&mut self, doc: &mut Document) {
        let checks: Vec<Option<&Healthcheck>> = self
            .members()
            .iter()
            .map(|m| m.healthcheck.as_ref())
            .collect();
        let Some(check) = checks[0] else { return };
        let Some(test) = &check.test else { return };
        let tests: Vec<Option<&Vec<Text>>> = checks
            .iter()
            .map(|c| c.and_then(|c| c.test.as_ref()))
            .collect();
        let words: Vec<&str> = test.iter().map(|t| t.value.as_str()).collect();
        let probe = probe_of(&words);
        let timeout = check.timeout.as_deref().map_or(5, |t| {
            duration(t).trim_end_matches('s').parse().unwrap_or(5)
        });
        // berth's own line for the probe; any other command is kept for the docker family.
        let (mut action, berths_line) = match probe {
            Some(Probe::Http { port, path }) => {
                let line = docker::http_probe(port, &path, timeout);
                let name = self.add_port(port, "tcp".into(), false);
                (
                    vec![("http", Item::Str(path)), ("port", Item::Str(name))],
                    line,
                )
            }
            Some(Probe::Tcp { port }) => {
                let line = docker::tcp_probe(port);
                (
                    vec![("tcp", Item::Str(self.add_port(port, "tcp".into(), false)))],
                    line,
                )
            }
            None => (Vec::new(), String::new()),
        };
        if words != ["/bin/sh", "-c", berths_line.as_str()] {
            let Some(exec) = self.word_lists(&tests, "healthcheck.test") else {
                return;
            };
            let key = if action.is_empty() {
                "exec"
            } else {
                "docker_exec"
            };
            action.push((key, Item::List(exec)));
        }
        doc.table("health.liveness");
        for (key, value) in action {
            doc.pair(key, value, None);
        }
        for (key, value) in [
            ("interval", &check.interval),
            ("timeout", &check.timeout),
            ("initial_delay", &check.start_period),
        ] {
            if let Some(value) = value {
                doc.pair(key, Item::Str(duration(value)), None);
            }
        }
        if let Some(retries) = check.retries {
            doc.pair("failures", Item::Int(retries.into()), None);
        }
    }

    fn resources(&mut self, doc: &mut Document) {
        let first = self.first();
        let cpu = first.cpus.as_ref().map(|(c, _)| cpus(c));
        let limit = first.mem_limit.as_ref().map(|(m, _)| memory(m));
        let reservation = first.mem_reservation.as_ref().map(|(m, _)| memory(m));
        if cpu.is_none() && limit.is_none() && reservation.is_none() {
            return;
        }
        doc.table("resources");
        if let Some(cpu) = cpu {
            doc.pair("cpu", Item::Str(cpu), None);
        }
        match (reservation, limit) {
            (Some(request), Some(limit)) => {
                doc.pair("memory", Item::Str(request), None);
                doc.pair("memory_limit", Item::Str(limit), None);
            }
            (Some(memory), None) | (None, Some(memory)) => {
                doc.pair("memory", Item::Str(memory), None)
            }
            (None, None) => {}
        }
    }

    fn lifecycle(&mut self, doc: &mut Document) {
        if let Some((grace, _)) = &self.first().stop_grace_period {
            doc.table("lifecycle");
            doc.pair("stop_grace", Item::Str(duration(grace)), None);
        }
    }

    /// Whether a mount is an external volume mounted read-only: certificates made outside the
    /// project, which is how berth's own compose output mounts `[tls]`.
    fn certificates(&self, mount: &super::compose::Mount) -> bool {
        mount.kind == MountKind::Volume
            && mount.read_only
            && mount
                .source
                .as_ref()
                .is_some_and(|s| self.input.file.external_volumes.contains(s))
    }

    fn tls(&mut self, doc: &mut Document) {
        let Some(mount) = self.first().mounts.iter().find(|m| self.certificates(m)) else {
            return;
        };
        doc.table("tls");
        doc.comment("guessed: an external volume mounted read-only, as certificates are");
        doc.pair(
            "secret",
            Item::Str(mount.source.clone().unwrap_or_default()),
            None,
        );
        doc.pair("path", Item::Str(mount.target.clone()), None);
    }

    /// The one-shot service that initializes the cluster, as `[init]`.
    fn init(&mut self, doc: &mut Document) {
        let Some(init) = self.input.init else { return };
        let mut argv: Vec<Text> = init
            .entrypoint
            .iter()
            .flatten()
            .chain(init.command.iter().flatten())
            .cloned()
            .collect();
        let mut done_output = None;
        let words: Vec<&str> = argv.iter().map(|t| t.value.as_str()).collect();
        if let [sh, dash_c, script, marker, ..] = words.as_slice()
            && *sh == "/bin/sh"
            && *dash_c == "-c"
            && *marker == "berth-init"
            && let Some(done) = done_output_of(script)
        {
            done_output = Some(done);
            argv.drain(..4);
        }
        let mut command = Vec::new();
        for word in &argv {
            for reference in word.raw.references() {
                self.param(reference);
            }
            // Not a member: every member's name in it is a peer's (`{{peers.[i].host}}`).
            let t = cluster::template(&[Some(&word.raw)], &self.names, &|n: &str| param_name(n));
            command.push(t.map(|t| t.template).unwrap_or_default());
        }
        doc.table("init");
        doc.pair("command", Item::List(command), None);
        let own = Some(self.first().image_name());
        if let Some(image) = &init.image
            && Some(image.value.as_str()) != own
        {
            let image = self.template(vec![Some(&image.raw)], "the init service's `image`");
            doc.pair("image", Item::Str(image), None);
        }
        if let Some(done) = done_output {
            doc.pair("done_output", Item::Str(done), None);
        }
    }

    /// How the members' ports were published, as the docker and compose backends' options.
    fn publishing(&mut self, doc: &mut Document) {
        let members = self.members();
        let published: Vec<_> = members[0]
            .ports
            .iter()
            .filter(|p| p.host_port.is_some())
            .collect();
        if members[0].ports.is_empty() {
            return;
        }
        let ports_of = |m: &Service| m.ports.iter().map(|p| p.container).collect::<Vec<_>>();
        if members.iter().any(|m| ports_of(m) != ports_of(members[0])) {
            self.unmapped.push(format!(
                "`ports`: only some members publish them in the Compose file ({}); berth publishes every member's public ports",
                members.iter().filter(|m| !m.ports.is_empty()).map(|m| format!("`{}`", m.name)).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut options: Vec<(&str, Item, Option<String>)> = Vec::new();
        if published.is_empty() {
            options.push((
                "publish",
                Item::Bool(false),
                Some("the Compose file publishes no host port".into()),
            ));
        } else {
            let address = published[0]
                .host_ip
                .clone()
                .unwrap_or_else(|| "0.0.0.0".into());
            if address != "127.0.0.1" {
                options.push(("publish_address", Item::Str(address.clone()), Some(format!("as the Compose file publishes; berth's default, 127.0.0.1, keeps ports on this host{}", if address == "0.0.0.0" { " (the Compose file names no address: every interface)" } else { "" }))));
            }
            let port = published[0];
            let stride = members
                .get(1)
                .and_then(|m| m.ports.iter().find(|p| p.container == port.container))
                .and_then(|p| p.host_port)
                .map(|h| i64::from(h) - i64::from(port.host_port.unwrap_or(0)));
            if port.host_port != Some(port.container) {
                self.unmapped.push(format!("host port {} for {}: berth publishes each port on its own number (plus the member's ordinal times `port_stride`)", port.host_port.unwrap_or(0), port.container));
            }
            match stride {
                Some(stride) if stride > 1 => options.push(("port_stride", Item::Int(stride), None)),
                Some(stride) if stride < 1 => self.unmapped.push("members' host ports that do not grow with the ordinal: berth publishes member i on port + i × `port_stride`".into()),
                _ => {}
            }
        }
        if options.is_empty() {
            return;
        }
        for backend in ["compose", "docker"] {
            doc.table(&format!("backends.{backend}"));
            for (key, value, note) in &options {
                let value = match value {
                    Item::Str(s) => Item::Str(s.clone()),
                    Item::Int(i) => Item::Int(*i),
                    Item::Bool(b) => Item::Bool(*b),
                    _ => unreachable!("publishing options are scalars"),
                };
                doc.pair(key, value, note.as_deref());
            }
        }
    }

    fn unmapped_keys(&mut self) {
        let first = self.first();
        for (key, _) in &first.unmapped {
            self.unmapped
                .push(format!("`{key}`: berth has no such setting"));
        }
        let members: Vec<&str> = self.members().iter().map(|m| m.name.as_str()).collect();
        for dependency in &first.depends_on {
            if !members.contains(&dependency.service.as_str()) {
                self.unmapped.push(format!(
                    "`depends_on: {}`: another service; start it before this one",
                    dependency.service
                ));
            }
        }
        if let Some((policy, _)) = &first.restart
            && !matches!(policy.as_str(), "always" | "unless-stopped" | "deploy:any")
        {
            self.unmapped.push(format!(
                "`restart: {policy}`: berth restarts members unless stopped"
            ));
        }
    }
}

/// A health check that is an HTTP GET or a TCP connect on the member's own port.
enum Probe {
    Http { port: u16, path: String },
    Tcp { port: u16 },
}

/// Recognizes `curl`/`wget` of `http://localhost:PORT/PATH` and `nc -z localhost PORT` (berth's
/// own checks among them), so they import as `http` and `tcp` checks that every backend runs
/// its own way.
fn probe_of(words: &[&str]) -> Option<Probe> {
    let line = match words {
        ["/bin/sh", "-c", line] => line.to_string(),
        _ => words.join(" "),
    };
    let first = line.split_whitespace().next()?;
    if first == "curl" || first == "wget" {
        let url = line
            .split_whitespace()
            .map(|w| w.trim_matches(['\'', '"']))
            .find_map(|w| {
                w.strip_prefix("http://127.0.0.1:")
                    .or_else(|| w.strip_prefix("http://localhost:"))
            })?;
        let (port, path) = url.split_at(url.find('/').unwrap_or(url.len()));
        let path = if path.is_empty() { "/" } else { path };
        return Some(Probe::Http {
            port: port.parse().ok()?,
            path: path.to_string(),
        });
    }
    let mut tokens = line.split_whitespace();
    if first == "nc" && tokens.nth(1) == Some("-z") {
        let host = tokens.next()?;
        if host == "127.0.0.1" || host == "localhost" {
            return Some(Probe::Tcp {
                port: tokens.next()?.parse().ok()?,
            });
        }
    }
    None
}

/// A parameter's name from a variable's: `POSTGRES_VERSION` → `postgres_version`.
fn param_name(variable: &str) -> String {
    variable.to_lowercase()
}

/// The `[[volumes]]` name of a mount from its source on each member: without the members'
/// names (`etcd-0-data` → `data`), else what the sources share (`data01`, `data02` → `data`),
/// else the last word of the path.
fn volume_name(sources: &[Option<&str>], names: &[Vec<String>], target: &str) -> String {
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

/// The `[init] done_output` text of berth's own init wrapper, if `script` is one.
fn done_output_of(script: &str) -> Option<String> {
    let start = script.find("*\"")? + 2;
    let end = script.find("\"*)")?;
    let pattern = script.get(start..end)?;
    let mut done = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        done.push(if c == '\\' { chars.next()? } else { c });
    }
    (crate::model::done_output_script(&done) == script).then_some(done)
}

/// A compose duration as the spec writes one: `1m30s` → `90s`; plain `30s` stays.
fn duration(text: &str) -> String {
    let mut seconds = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().unwrap_or(0);
        number.clear();
        seconds += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return text.to_string(),
        };
    }
    if !number.is_empty() {
        return text.to_string();
    }
    format!("{seconds}s")
}

/// Compose's `cpus` (`"1.0"`, `0.5`) as a quantity (`1`, `0.5`).
fn cpus(text: &str) -> String {
    text.parse::<f64>()
        .map_or(text.to_string(), |c| c.to_string())
}

/// Docker's memory (`2g`, `512m`, `1024k`, bytes) as a quantity (`2Gi`, `512Mi`).
fn memory(text: &str) -> String {
    let lower = text.to_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (number, unit) = trimmed.split_at(
        trimmed
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(trimmed.len()),
    );
    match unit {
        "k" => format!("{number}Ki"),
        "m" => format!("{number}Mi"),
        "g" => format!("{number}Gi"),
        "t" => format!("{number}Ti"),
        "" => number.to_string(),
        _ => text.to_string(),
    }
}

impl Interpolated {
    /// Whether the string is text only, with no reference.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_durations() {
        type Convert = fn(&str) -> String;
        let cases: [(Convert, &str, &str); 7] = [
            (memory, "2g", "2Gi"),
            (memory, "512M", "512Mi"),
            (memory, "1073741824", "1073741824"),
            (cpus, "1.0", "1"),
            (cpus, "0.5", "0.5"),
            (duration, "1m30s", "90s"),
            (duration, "30s", "30s"),
        ];
        for (convert, compose, spec) in cases {
            assert_eq!(convert(compose), spec, "{compose}");
        }
    }

    #[test]
    fn berth_s_init_wrapper_reads_back() {
        let script = crate::model::done_output_script("already \"initialized\"");
        assert_eq!(
            done_output_of(&script).as_deref(),
            Some("already \"initialized\"")
        );
        assert_eq!(done_output_of("echo hi"), None);
    }
}
