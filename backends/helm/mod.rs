//! The helm backend: a Helm chart whose values are the spec's parameters and whose templates
//! render what the kubernetes backend writes for those values. It lowers nothing itself: it
//! reports the findings of the kubernetes backend it is given (no backend imports another) on
//! the service, as the compile found them or by running it, then runs it on a tagged copy for
//! the chart ([`chart::chart`]). `README.md` beside this file maps each concern; `rules/`
//! documents its rule.

pub mod chart;
mod checks;
#[cfg(test)]
mod claims;
mod context;
pub mod helpers;
mod lift;
mod not_in_chart;
mod notes;
mod rules;
mod tags;
mod upgrade;
pub mod values;

use berth_backend::{Backend, Compiled, Findings, Form, Input, Spanned};
use berth_backends_shared::kubernetes_release::OLDEST_SUPPORTED;
use berth_diagnostic::{Diagnostic, Rule, errors};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

/// The helm backend, made with the kubernetes backend whose objects its charts render.
pub struct Helm {
    pub kubernetes: &'static dyn Backend,
}

/// `[backends.helm]`: how the chart is published.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HelmOptions")]
pub struct Options {
    /// The chart's `version`, in SemVer 2 (default `0.1.0`): raise it with every chart you
    /// publish, as Helm repositories tell charts apart by it.
    #[serde(default)]
    pub version: Option<Spanned<String>>,
}

/// What the chart reads of `[backends.kubernetes]`: the release its objects target, the
/// cluster's domain, which it does not compute from values, and the namespace, which the
/// release's stands for.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub(crate) struct KubernetesTarget {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    pub(crate) cluster_domain: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
}

impl Backend for Helm {
    fn name(&self) -> &'static str {
        rules::BACKEND
    }
    fn rules(&self) -> &'static [&'static Rule] {
        rules::RULES
    }
    fn options_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<Options>()
    }
    fn built_on(&self) -> Option<&'static str> {
        Some(self.kubernetes.name())
    }
    fn compile(&self, input: &Input) -> Compiled {
        let (options, mut diagnostics) = input.options::<Options>(rules::BACKEND);
        let version = chart_version(input, &options.version);
        let findings = self.kubernetes_findings(input);
        diagnostics.extend(findings.diagnostics);
        diagnostics.extend(version.as_ref().err().cloned());
        if input.deployed.is_some_and(|d| d.plans()) {
            diagnostics.push(no_plans());
        }
        let refused = diagnostics
            .iter()
            .any(|d| d.is_input_error() || d.is_rule_error());
        let (Ok(version), false) = (version, refused) else {
            return Compiled {
                diagnostics,
                concerns: findings.concerns,
                ..Compiled::default()
            };
        };
        let making = chart::Making {
            base: self.kubernetes,
            version: &version,
            kubernetes: input.options::<KubernetesTarget>("kubernetes").0,
        };
        let mut files = match chart::chart(input, &making) {
            Ok(files) => files,
            Err(not) => {
                diagnostics.push(rules::not_in_chart(input.service, not));
                Vec::new()
            }
        };
        let name = input.service.name();
        for file in &mut files {
            file.path = format!("{name}/{}", file.path);
        }
        if let Some(deployed) = input.deployed {
            diagnostics.extend(upgrade::changes(input.service, &files, deployed));
        }
        Compiled {
            diagnostics,
            files,
            tls_names: findings.tls_names,
            concerns: findings.concerns,
        }
    }
}

impl Helm {
    /// The kubernetes backend's findings on the values compiled, the chart's defaults: as the
    /// compile found them where it ran that backend first, else found here without its objects.
    fn kubernetes_findings(&self, input: &Input) -> Findings {
        if let Some(findings) = input.base {
            return findings.clone();
        }
        self.kubernetes
            .compile(&Input {
                deployed: None,
                form: Form::Omitted,
                base: None,
                ..*input
            })
            .findings()
    }
}

/// `berth plan` has no steps for a release: Helm upgrades it, after the steps the kubernetes
/// backend plans.
fn no_plans() -> Diagnostic {
    Diagnostic::input(&errors::PLAN_UNSUPPORTED, "berth writes no plans for helm")
        .help("plan the change with `--backend kubernetes`, whose steps hold for the release's objects, then `helm upgrade` the release")
}

/// The chart's version: `[backends.helm] version`, which must be SemVer 2, or `0.1.0`.
fn chart_version(input: &Input, version: &Option<Spanned<String>>) -> Result<String, Diagnostic> {
    let Some(version) = version else {
        return Ok("0.1.0".to_string());
    };
    if is_semver(&version.value) {
        return Ok(version.value.clone());
    }
    Err(Diagnostic::input(
        &errors::SPEC_INVALID_VALUE,
        format!("`backends.helm.version` `{}` is not a SemVer 2 version", version.value),
    )
    .at(Some(input.span(version)), "not MAJOR.MINOR.PATCH")
    .help("write the chart's version as SemVer 2, like `\"1.4.0\"` or `\"2.0.0-rc.1\"`: Helm refuses a chart whose version is not"))
}

/// Whether `text` is a SemVer 2 version: `MAJOR.MINOR.PATCH`, numbers without leading zeros, an
/// optional `-pre.release` and `+build`.
fn is_semver(text: &str) -> bool {
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let number = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let pre_word = |s: &str| word(s) && (number(s) || !s.bytes().all(|b| b.is_ascii_digit()));
    let core: Vec<&str> = core.split('.').collect();
    core.len() == 3
        && core.iter().all(|n| number(n))
        && pre.is_none_or(|p| p.split('.').all(pre_word))
        && build.is_none_or(|b| b.split('.').all(word))
}

impl KubernetesTarget {
    /// The Kubernetes minor release the objects target (`version`, which the kubernetes backend
    /// has checked), the oldest a chart installs on.
    pub(crate) fn minor(&self) -> u32 {
        let version = self.version.as_deref();
        version
            .and_then(|v| v.strip_prefix("1.").and_then(|m| m.parse().ok()))
            .unwrap_or(OLDEST_SUPPORTED)
    }
}

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn semver_is_semver_2() {
        for good in [
            "0.1.0",
            "1.4.0",
            "2.0.0-rc.1",
            "1.0.0-alpha-1.0+build.5",
            "10.20.30",
        ] {
            assert!(is_semver(good), "{good}");
        }
        for bad in [
            "1.4",
            "v1.4.0",
            "01.4.0",
            "1.4.0-",
            "1.4.0-01",
            "1.4.0+",
            "1.4.0-a..b",
            "",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
