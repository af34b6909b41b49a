//! The Kubernetes backend: a StatefulSet with claim templates, a headless peer Service, a client
//! Service, a PodDisruptionBudget, an init Job, optional StorageClasses and a Kustomization.
//! `README.md` beside this file maps each concern; `rules/` documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod files;
#[cfg(test)]
mod forms;
mod lower;
mod network;
mod per_member;
mod plan;
mod rules;
mod upgrade;

use berth_backend::{Form, Input, Lowered, Spanned};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_model::Service;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

pub struct Kubernetes;

/// `[backends.kubernetes]`: where the objects go and which release they target.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesOptions")]
pub struct Options {
    /// Namespace of every namespaced object (default `network.name`, else `default`); may hold templates.
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// Write a Namespace object too.
    #[serde(default)]
    pub create_namespace: bool,
    /// The cluster's DNS domain, for stable member host names (default `cluster.local`); may
    /// hold templates.
    #[serde(default)]
    pub cluster_domain: Option<Spanned<String>>,
    /// StorageClass objects to create, by name.
    #[serde(default)]
    pub storage_classes: BTreeMap<String, StorageClassDecl>,
    /// The Kubernetes release the output targets, `"1.N"` from the oldest release supported
    /// upstream (the default) to the newest berth validates against: fields are written only
    /// where that release has them GA.
    #[serde(default)]
    #[schemars(regex(pattern = r"^1\.[0-9]+$"))]
    pub version: Option<Spanned<String>>,
    /// Spread members over zones: `"preferred"` (default), `"required"` or `"none"`.
    #[serde(default)]
    pub zone_spread: Option<ZoneSpread>,
}

/// Marks an init Job that `[init] done_output` makes safe to run again (`berth diff` reads it).
pub const RERUN_SAFE: &str = "berth.dev/rerun-safe";

pub use berth_backends_shared::kubernetes_release::{NEWEST_VALIDATED, OLDEST_SUPPORTED};

/// The minor release where a field became GA, for fields newer than what berth otherwise needs.
pub mod ga {
    /// `PodDisruptionBudget.spec.unhealthyPodEvictionPolicy`.
    pub const UNHEALTHY_POD_EVICTION_POLICY: u32 = 31;
}

/// A StorageClass object to create.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageClassDecl {
    /// The provisioner, such as `pd.csi.storage.gke.io`.
    pub provisioner: String,
    /// The provisioner's parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// Options after templates and validation.
pub struct Settings {
    pub namespace: String,
    pub create_namespace: bool,
    pub cluster_domain: String,
    pub storage_classes: BTreeMap<String, StorageClassDecl>,
    /// The minor version of Kubernetes 1.x the output targets.
    pub minor_version: u32,
    pub zone_spread: ZoneSpread,
    /// How the objects are handed over: as text, or as documents to a backend built on this one.
    pub form: Form,
}

/// Whether members must, should or need not run in distinct zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ZoneSpread {
    Preferred,
    Required,
    None,
}

berth_backend::lowering!(Kubernetes, Options => Settings, settings; berth_backend::plans!(););

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    lower::lower(service, settings, diagnostics)
        .map(|(files, tls_names)| Lowered { files, tls_names })
}

fn settings(input: &Input, options: Options) -> Result<Settings, Vec<Diagnostic>> {
    // Services that share a network find each other by short names: on Kubernetes, in one namespace.
    let shared = input.service.network.name.as_ref();
    let default = shared.map_or("default", |name| name.value.as_str());
    let namespace = dns_name(input, &options.namespace, "namespace", default, 63)
        .and_then(|namespace| dns_label(input, &options.namespace, namespace));
    let cluster_domain = dns_name(
        input,
        &options.cluster_domain,
        "cluster_domain",
        "cluster.local",
        253,
    );
    let minor_version = minor_version(input, &options.version);
    match (namespace, cluster_domain, minor_version) {
        (Ok(namespace), Ok(cluster_domain), Ok(minor_version)) => Ok(Settings {
            minor_version,
            zone_spread: options.zone_spread.unwrap_or(ZoneSpread::Preferred),
            namespace,
            create_namespace: options.create_namespace,
            cluster_domain,
            storage_classes: options.storage_classes,
            form: input.form,
        }),
        (namespace, cluster_domain, minor_version) => Err(namespace
            .err()
            .into_iter()
            .chain(cluster_domain.err())
            .chain(minor_version.err())
            .collect()),
    }
}

/// The option `key` rendered (it may hold templates), which must be a DNS name of at most `max`
/// characters; `default` where the spec does not set it.
fn dns_name(
    input: &Input,
    value: &Option<Spanned<String>>,
    key: &str,
    default: &str,
    max: usize,
) -> Result<String, Diagnostic> {
    let Some(value) = value else {
        return Ok(default.to_string());
    };
    let span = Some(input.span(value));
    let text = input.service.render_option(&value.value, span.clone())?;
    let valid = text
        .split('.')
        .all(|label| berth_language::names::dns_label(label, 63).is_ok())
        && text.len() <= max;
    if !valid {
        return Err(Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!("`backends.kubernetes.{key}` `{text}` is not a valid DNS name"),
        )
        .at(span, "invalid name")
        .help("use lowercase letters, digits and `-`"));
    }
    Ok(text)
}

/// A namespace is one DNS label.
fn dns_label(
    input: &Input,
    value: &Option<Spanned<String>>,
    namespace: String,
) -> Result<String, Diagnostic> {
    if !namespace.contains('.') {
        return Ok(namespace);
    }
    Err(Diagnostic::input(
        &errors::SPEC_INVALID_VALUE,
        format!("`backends.kubernetes.namespace` `{namespace}` may not contain `.`"),
    )
    .at(value.as_ref().map(|v| input.span(v)), "invalid namespace")
    .help("use a DNS label: lowercase letters, digits and `-`"))
}

/// The minor release of `version = "1.N"`, one berth targets.
fn minor_version(input: &Input, version: &Option<Spanned<String>>) -> Result<u32, Diagnostic> {
    let Some(version) = version else {
        return Ok(OLDEST_SUPPORTED);
    };
    version
        .value
        .strip_prefix("1.")
        .and_then(|minor| minor.parse::<u32>().ok())
        .filter(|minor| (OLDEST_SUPPORTED..=NEWEST_VALIDATED).contains(minor))
        .ok_or_else(|| {
            Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("`backends.kubernetes.version` `{}` is not a Kubernetes release berth targets", version.value),
            )
            .at(Some(input.span(version)), "not a release berth targets")
            .help(format!("write a release from `\"1.{OLDEST_SUPPORTED}\"` to `\"1.{NEWEST_VALIDATED}\"`: the output is typed for 1.{OLDEST_SUPPORTED}, the oldest release supported upstream, and validated against 1.{OLDEST_SUPPORTED} and 1.{NEWEST_VALIDATED}"))
        })
}
