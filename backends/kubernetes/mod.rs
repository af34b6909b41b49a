//! The Kubernetes backend: a StatefulSet with claim templates, a headless peer Service, a client
//! Service, a PodDisruptionBudget, an init Job, optional StorageClasses and a Kustomization.
//! `README.md` beside this file maps each concern; `rules/` documents each rule.

mod concerns;
mod files;
mod lower;
mod rules;

use crate::backend::{Backend, Compiled, Input, Lowered, Rule, pipeline};
use crate::diagnostic::Diagnostic;
use crate::source::Span;
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
}

impl Backend for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn rules(&self) -> &'static [Rule] {
        rules::RULES
    }

    fn compile(&self, input: &Input) -> Compiled {
        let service = input.service;
        pipeline(
            settings(input),
            |_| rules::check(service),
            |_| concerns::concerns(service),
            |settings, diagnostics| {
                lower::lower(service, settings, diagnostics)
                    .map(|(files, tls_names)| Lowered { files, tls_names })
            },
        )
    }
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
            .all(|label| crate::resolve::dns_label(label, 63).is_ok())
            && text.len() <= max;
        if !valid {
            return Err(Diagnostic::input(
                "spec/invalid-value",
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
            "spec/invalid-value",
            format!("`backends.kubernetes.namespace` `{namespace}` may not contain `.`"),
        )
        .at(span, "invalid namespace")
        .help("use a DNS label: lowercase letters, digits and `-`"));
    }
    Ok(Settings {
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
