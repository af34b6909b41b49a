//! The Kubernetes backend: a StatefulSet with claim templates, a headless peer Service, a client
//! Service, a PodDisruptionBudget, an init Job, optional StorageClasses and a Kustomization.
//! `README.md` beside this file maps each concern; `rules/` documents each rule.

#[cfg(test)]
mod claims;
mod concerns;
mod files;
mod lower;
mod network;
mod rules;
mod upgrade;

use berth_backend::{Input, Lowered};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_diagnostic::source::Span;
use berth_model::Service;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub struct Kubernetes;

/// `[backends.kubernetes]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Namespace of every namespaced object (default `default`).
    #[serde(default)]
    pub namespace: Option<Spanned<String>>,
    /// Write a Namespace object too.
    #[serde(default)]
    pub create_namespace: bool,
    /// The cluster's DNS domain, for stable member host names (default `cluster.local`).
    #[serde(default)]
    pub cluster_domain: Option<Spanned<String>>,
    /// StorageClass objects to create, by name.
    #[serde(default)]
    pub storage_classes: BTreeMap<String, StorageClassDecl>,
    /// The Kubernetes release the output targets, `"1.N"` from [`OLDEST_SUPPORTED`] (the default)
    /// to [`NEWEST_VALIDATED`]: fields are written only where that release has them GA.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    /// Spread members over zones: `"preferred"` (default), `"required"` or `"none"`.
    #[serde(default)]
    pub zone_spread: Option<Spanned<String>>,
}

/// Marks an init Job that `[init] done_output` makes safe to run again (`berth diff` reads it).
pub const RERUN_SAFE: &str = "berth.dev/rerun-safe";

/// The oldest Kubernetes minor release still supported upstream (1.35 until February 2027): the
/// default target, and the release the output is typed for (k8s-openapi's `v1_35`).
pub const OLDEST_SUPPORTED: u32 = 35;
/// The newest release the output is validated against (kubernetes-validate's newest schemas).
pub const NEWEST_VALIDATED: u32 = 37;

/// The minor release where a field became GA, for fields newer than what berth otherwise needs.
pub mod ga {
    /// `PodDisruptionBudget.spec.unhealthyPodEvictionPolicy`.
    pub const UNHEALTHY_POD_EVICTION_POLICY: u32 = 31;
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageClassDecl {
    pub provisioner: String,
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneSpread {
    Required,
    Preferred,
    None,
}

berth_backend::lowering!(Kubernetes, Settings, settings);

/// Every file, once the rules let the service through.
fn lowered(
    service: &Service,
    settings: &Settings,
    diagnostics: &[Diagnostic],
) -> Result<Lowered, Vec<Diagnostic>> {
    lower::lower(service, settings, diagnostics)
        .map(|(files, tls_names)| Lowered { files, tls_names })
}

fn settings(input: &Input) -> Result<Settings, Diagnostic> {
    let options: Options = input.options("kubernetes")?;
    let render = |value: &Option<Spanned<String>>,
                  key: &str,
                  default: &str,
                  max: usize|
     -> Result<String, Diagnostic> {
        let Some(value) = value else {
            return Ok(default.to_string());
        };
        let span = Some(Span::new(input.file, value.span()));
        let text = input.service.render_option(value.get_ref(), span.clone())?;
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
    };
    let namespace = render(&options.namespace, "namespace", "default", 63)?;
    if namespace.contains('.') {
        let span = options
            .namespace
            .as_ref()
            .map(|n| Span::new(input.file, n.span()));
        return Err(Diagnostic::input(
            &errors::SPEC_INVALID_VALUE,
            format!("`backends.kubernetes.namespace` `{namespace}` may not contain `.`"),
        )
        .at(span, "invalid namespace")
        .help("use a DNS label: lowercase letters, digits and `-`"));
    }
    let span_of =
        |value: &Option<Spanned<String>>| value.as_ref().map(|v| Span::new(input.file, v.span()));
    let minor_version = match &options.version {
        None => OLDEST_SUPPORTED,
        Some(v) => v
            .get_ref()
            .strip_prefix("1.")
            .and_then(|minor| minor.parse::<u32>().ok())
            .filter(|minor| (OLDEST_SUPPORTED..=NEWEST_VALIDATED).contains(minor))
            .ok_or_else(|| {
                Diagnostic::input(
                    &errors::SPEC_INVALID_VALUE,
                    format!("`backends.kubernetes.version` `{}` is not a Kubernetes release berth targets", v.get_ref()),
                )
                .at(span_of(&options.version), "not a release berth targets")
                .help(format!("write a release from `\"1.{OLDEST_SUPPORTED}\"` to `\"1.{NEWEST_VALIDATED}\"`: the output is typed for 1.{OLDEST_SUPPORTED}, the oldest release supported upstream, and validated against 1.{OLDEST_SUPPORTED} and 1.{NEWEST_VALIDATED}"))
            })?,
    };
    let zone_spread = match options.zone_spread.as_ref().map(|z| z.get_ref().as_str()) {
        None | Some("preferred") => ZoneSpread::Preferred,
        Some("required") => ZoneSpread::Required,
        Some("none") => ZoneSpread::None,
        Some(other) => {
            return Err(Diagnostic::input(
                &errors::SPEC_INVALID_VALUE,
                format!("`backends.kubernetes.zone_spread` is `{other}`"),
            )
            .at(span_of(&options.zone_spread), "unknown value")
            .help("use one of `preferred`, `required`, `none`"));
        }
    };
    Ok(Settings {
        minor_version,
        zone_spread,
        namespace,
        create_namespace: options.create_namespace,
        cluster_domain: render(
            &options.cluster_domain,
            "cluster_domain",
            "cluster.local",
            253,
        )?,
        storage_classes: options.storage_classes,
    })
}
