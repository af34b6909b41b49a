//! One cluster of a Compose file written as a commented spec. Every value the Compose file does
//! not state is a guess and says so; every key berth does not carry is listed at the end with
//! why. What the Compose file gets wrong is reported by `rules`, not here. The sections are
//! written by `process` (the container, checks, replication, init), `storage` (volumes, files,
//! certificates) and `network` (ports and publishing), in Compose's units made the spec's by
//! `convert`.

pub(crate) mod convert;
mod network;
mod process;
mod storage;

use super::cluster::{self, Cluster};
use super::known;
use super::write::{Document, Item};
use crate::compose::{ComposeFile, Healthcheck, MountKind, Service, Text};
use crate::interpolate::{Interpolated, Part};
use berth_backends_shared::single_host as docker;
use berth_diagnostic::Diagnostic;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A spec made from a Compose file.
pub struct Imported {
    pub name: String,
    /// The Compose services it came from.
    pub services: Vec<String>,
    pub text: String,
    /// What writing it found: files it did not copy, or copied from outside the Compose file's
    /// folder, secrets it referenced instead of copying them.
    pub findings: Vec<Diagnostic>,
    /// Why no spec expresses the members (they differ in what one spec gives every member
    /// alike): the spec is not written.
    pub refused: Vec<String>,
    /// The backends a first compile found it cannot target, with why.
    pub excluded: Vec<(String, String)>,
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
    /// Folders outside the Compose file's where files may be read (`--allow-read`).
    pub allowed: &'a [PathBuf],
    /// The names the file's other services answer to (their Compose names, their members'
    /// names in berth's outputs), which no alias of these members may take.
    pub taken: &'a [String],
    /// Write what the Compose file lacks as placeholders (a storage class, volume services), for
    /// the compile that finds what else a backend would refuse.
    pub probe: bool,
}

struct Param {
    default: String,
    /// A value only the user can give (a secret, or a variable the Compose file requires): no
    /// default, and a compile without it fails.
    required: bool,
    description: String,
}

/// The state of one mapping: the parameters the strings referenced, what could not be mapped,
/// and whether any template counts members from 1.
struct Mapping<'a> {
    input: &'a Input<'a>,
    names: std::rc::Rc<crate::template::Names>,
    params: BTreeMap<String, Param>,
    unmapped: Vec<String>,
    ports: Vec<PortEntry>,
    /// The persistent volumes' names, for the probe's volume services.
    persistent: Vec<String>,
    /// What berth's own start script copies into place, if the members run one.
    copies: Vec<crate::start::Copied>,
    findings: Vec<Diagnostic>,
    /// Why the members are not one spec.
    refusals: Vec<String>,
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
        names: std::rc::Rc::new(crate::template::Names::new(names)),
        params: BTreeMap::new(),
        unmapped: Vec::new(),
        ports: Vec::new(),
        persistent: Vec::new(),
        copies: Vec::new(),
        findings: Vec::new(),
        refusals: Vec::new(),
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
        let targets = berth_compile::registry::names()
            .into_iter()
            .filter(|b| !input.excluded.iter().any(|(x, _)| x == b));
        doc.pair(
            "targets",
            Item::List(targets.map(str::to_string).collect()),
            None,
        );
    }
    for (name, param) in &mapping.params {
        doc.table(&["params", name]);
        if param.required && !input.probe {
            doc.pair("required", Item::Bool(true), None);
        } else {
            doc.pair("default", Item::Str(param.default.clone()), None);
        }
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
        findings: mapping.findings,
        refused: mapping.refusals,
        excluded: input.excluded.clone(),
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
        self.readiness(&mut health);
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
        self.shared_network(&mut doc);
        self.publishing(&mut doc);
        if !self.persistent.is_empty() {
            doc.table(&["backends", "cloudfoundry"]);
            let services = self
                .persistent
                .iter()
                // One stand-in instance per volume: an app binds an instance once.
                .map(|v| (v.clone(), format!("probe-{v}")))
                .collect();
            doc.pair("volume_services", Item::Inline(services), None);
        }
        self.unmapped_keys();
        doc.finish()
    }

    /// One template for a string every member has, registering the parameters it references.
    fn template(&mut self, values: Vec<Option<&Interpolated>>, what: &str) -> String {
        let names = self.names.clone();
        self.template_over(values, what, &names, false)
    }

    /// [`Self::template`] of a value whose key says it holds hosts (`PRIMARY_HOST`, `SEEDS`): a
    /// member's name standing alone in it is that member's host.
    fn hosts(&mut self, values: Vec<Option<&Interpolated>>, what: &str) -> String {
        let names = self.names.clone();
        self.template_over(values, what, &names, true)
    }

    /// [`Self::template`] of a string that names no member (an image): its text stays text.
    fn literal(&mut self, values: Vec<Option<&Interpolated>>, what: &str) -> String {
        self.template_over(values, what, &Default::default(), false)
    }

    /// Values of members with roles (`primary` on one, `secondary` on the others) are each
    /// member's own, chosen by its ordinal; a peer list that leaves out the member itself
    /// (`es02,es03` on `es01`) is written as the first member's and listed.
    fn template_over(
        &mut self,
        values: Vec<Option<&Interpolated>>,
        what: &str,
        names: &crate::template::Names,
        hosts: bool,
    ) -> String {
        for value in values.iter().flatten() {
            for reference in value.references() {
                self.param(reference);
            }
        }
        let param = |name: &str| param_name(name);
        if let Some(t) = crate::template::template(&values, names, hosts, &param) {
            return t.template;
        }
        let every: Option<Vec<&Interpolated>> = values.iter().copied().collect();
        match every {
            Some(every) if every.len() > 1 && !crate::template::differ_by_names(&every, names) => {
                crate::template::per_member(&every, names, hosts, &param)
            }
            _ => {
                self.unmapped.push(format!("{what}: the members' values differ in a way no template over `self` and `peers` expresses; the first member's value is written"));
                let first = values.iter().flatten().next().copied();
                first.map_or(String::new(), |v| {
                    crate::template::first_member(v, names, hosts, &param)
                })
            }
        }
    }

    /// Registers the parameter a reference becomes. Its default is the `.env` file's value, else
    /// the Compose file's default; a variable that looks like a secret gets no default (its value
    /// was never kept), and the spec says how to give it.
    fn param(&mut self, reference: &crate::interpolate::Reference) {
        let file = self.input.file;
        let env = &file.env;
        let name = param_name(&reference.name);
        let withheld = file.withheld.contains(&reference.name);
        let secret = berth_compile::spec_rules::looks_like_secret(&reference.name);
        let required =
            withheld || (env.get(&reference.name).is_none() && (reference.required || secret));
        let (default, how) = match (env.get(&reference.name), &reference.default) {
            _ if file.withheld.contains(&reference.name) => {
                if !self.params.contains_key(&name) {
                    self.unmapped.push(format!("`${{{}}}`: a secret that the `.env` file sets; its value is not copied: give the parameter `{name}` with `--set {name}=...` or `--values`, or reference a secret instead", reference.name));
                }
                (
                    String::new(),
                    "a secret the `.env` file sets: give it when you compile".to_string(),
                )
            }
            (Some(value), _) => (value.clone(), "the `.env` file's value".to_string()),
            // A secret is never a default, wherever its value was written.
            (None, Some(_)) if berth_compile::spec_rules::looks_like_secret(&reference.name) => (
                String::new(),
                "a secret whose default in the Compose file is not copied: give it when you compile"
                    .to_string(),
            ),
            (None, Some(default)) => (
                Interpolated {
                    parts: crate::interpolate::parse(default)
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
        self.params.entry(name).or_insert(Param {
            default,
            required,
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

    fn unmapped_keys(&mut self) {
        let first = self.first();
        // What a Compose file cannot say, listed rather than lost.
        let said = |label: &str| first.labels.contains_key(label);
        if first.healthcheck.as_ref().is_some_and(|c| c.test.is_some())
            && !said(process::LIVENESS_NEEDS)
        {
            self.unmapped.push("`healthcheck`: whether it passes before the member found its peers is not in the Compose file; set `needs_peers` under `[health.liveness]` (Swarm gives a member whose check needs its peers no check, so that it can be found)".to_string());
        }
        if process::readiness_label(first).is_none() {
            self.unmapped.push("no readiness check: Compose has none; add `[health.readiness]` for the orchestrators that send clients by it (Kubernetes, Cloud Foundry, Marathon)".to_string());
        }
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

/// A parameter's name from a variable's: `POSTGRES_VERSION` → `postgres_version`. Anything but
/// letters, digits and `_` becomes `_`, so that the name is one key of `{{params.NAME}}`.
fn param_name(variable: &str) -> String {
    variable
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

impl Interpolated {
    /// Whether the string is text only, with no reference.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}
