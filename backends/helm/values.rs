//! A chart's values: `values.yaml`, each parameter under its own name with its description and
//! allowed values as comments and its default, and `values.schema.json`, which holds every value
//! to what `berth compile --set` accepts (type, `min`/`max`, `values`, every value given and a
//! required one not empty, no character berth reserves) when Helm installs, upgrades, lints or
//! renders the chart. A value whose change Kubernetes refuses on a running StatefulSet says so in
//! both, with the procedure, and so does one no object of the chart reads.

use berth_backend::{comment_text, yaml::to_yaml};
use berth_language::params::{Declared, Kind};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Spec keys that land in a StatefulSet field Kubernetes refuses to change (`volumeClaimTemplates`,
/// `podManagementPolicy`), with the field.
const REFUSED_CHANGES: [(&str, &str); 5] = [
    ("volumes.size", "volumeClaimTemplates"),
    ("volumes.class", "volumeClaimTemplates"),
    ("volumes.name", "volumeClaimTemplates"),
    ("volumes.persistent", "volumeClaimTemplates"),
    ("replication.start", "podManagementPolicy"),
];

/// Where a parameter reaches a field Kubernetes refuses to change on a running StatefulSet, what
/// an installed release's user does instead.
pub fn upgrade_refused(feeds: Option<&BTreeSet<String>>) -> Option<String> {
    let mut fields: Vec<&str> = REFUSED_CHANGES
        .iter()
        .filter(|(key, _)| feeds.is_some_and(|keys| keys.contains(*key)))
        .map(|(_, field)| *field)
        .collect();
    fields.dedup();
    let fields: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    (!fields.is_empty()).then(|| {
        format!(
            "Kubernetes refuses a change of the StatefulSet's {} on an installed release: \
             `berth diff --against` names the migration, and `berth plan --backend kubernetes` makes it.",
            fields.join(" and ")
        )
    })
}

/// What a chart says of its values besides the parameters' declarations: by parameter, the
/// structural keys it reaches (`feeds`, for the values Kubernetes refuses to change) and why the
/// chart does not use it, where it does not (`unused`).
pub struct Marks<'a> {
    pub feeds: &'a BTreeMap<String, BTreeSet<String>>,
    pub unused: BTreeMap<&'a str, &'static str>,
}

impl Marks<'_> {
    /// The notes on `parameter`: the procedure for a change Kubernetes refuses, or why the chart
    /// does not use it.
    fn notes(&self, parameter: &str) -> Vec<String> {
        let refused = upgrade_refused(self.feeds.get(parameter));
        let unused = self.unused.get(parameter).map(|why| why.to_string());
        refused.into_iter().chain(unused).collect()
    }
}

/// `values.yaml` of the chart of `service`.
pub fn values_yaml(
    service: &str,
    parameters: &[Declared],
    marks: &Marks,
) -> Result<String, String> {
    let mut text = format!(
        "# Values of the chart of `{}`, one for each parameter of its spec: override them with\n\
         # `--set NAME=VALUE` or `--values FILE`. values.schema.json holds each to what berth allows.\n",
        comment_text(service)
    );
    for parameter in parameters {
        text.push('\n');
        for line in parameter.description.iter().flat_map(|d| d.lines()) {
            text.push_str(&format!("# {}\n", comment_text(line)));
        }
        let notes = allowed(parameter).into_iter();
        for note in notes.chain(marks.notes(&parameter.name)) {
            text.push_str(&format!("# {note}\n"));
        }
        let entry = BTreeMap::from([(&parameter.name, &parameter.default)]);
        match &parameter.default {
            Some(_) => text.push_str(&to_yaml(&entry)?),
            None => text.push_str(&format!(
                "# Required: give it with `--set {}=VALUE`.\n# {}",
                comment_text(&parameter.name),
                to_yaml(&BTreeMap::from([(&parameter.name, "")]))?
            )),
        }
    }
    Ok(text)
}

/// The values a parameter allows, in words, where its declaration limits them.
fn allowed(parameter: &Declared) -> Option<String> {
    let quoted = |values: &[String]| {
        let shown: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        comment_text(&shown.join(", "))
    };
    match (&parameter.values, parameter.min, parameter.max) {
        (Some(values), _, _) => Some(format!("One of {}.", quoted(values))),
        (None, Some(min), Some(max)) => Some(format!("From {min} to {max}.")),
        (None, Some(min), None) => Some(format!("At least {min}.")),
        (None, None, Some(max)) => Some(format!("At most {max}.")),
        (None, None, None) => None,
    }
}

/// A string holds no NUL and nothing from U+F0000 up, where berth marks what backends fill in.
const NO_RESERVED_CHARACTER: &str = "^[^\\x00\\x{F0000}-\\x{10FFFF}]*$";

#[derive(Serialize)]
struct Schema<'a> {
    #[serde(rename = "$schema")]
    dialect: &'static str,
    title: String,
    #[serde(rename = "type")]
    kind: &'static str,
    properties: BTreeMap<&'a str, Property<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    required: Vec<&'a str>,
    /// berth refuses a parameter its spec does not declare.
    #[serde(rename = "additionalProperties")]
    additional_properties: bool,
}

#[derive(Serialize)]
struct Property<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<i64>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    allowed: Option<&'a [String]>,
    /// A required value is given only when it is not empty.
    #[serde(rename = "minLength", skip_serializing_if = "Option::is_none")]
    min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<&'static str>,
    /// The spec's own `pattern`, beside the one above (a property has one `pattern`).
    #[serde(rename = "allOf", skip_serializing_if = "Vec::is_empty")]
    all_of: Vec<PatternOnly>,
}

#[derive(Serialize)]
struct PatternOnly {
    pattern: String,
}

/// `values.schema.json` of the chart of `service`.
pub fn values_schema(service: &str, parameters: &[Declared], marks: &Marks) -> String {
    let schema = Schema {
        dialect: "http://json-schema.org/draft-07/schema#",
        title: format!("Values of the chart of `{service}`"),
        kind: "object",
        properties: parameters
            .iter()
            .map(|p| (p.name.as_str(), property(p, marks.notes(&p.name))))
            .collect(),
        // Every value: `--set NAME=null` deletes one from the defaults, and berth has no unset.
        required: parameters.iter().map(|p| p.name.as_str()).collect(),
        additional_properties: false,
    };
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

fn property(parameter: &Declared, notes: Vec<String>) -> Property<'_> {
    let is_string = parameter.kind == Kind::String;
    let description: Vec<String> = parameter.description.iter().cloned().chain(notes).collect();
    Property {
        kind: match parameter.kind {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
        },
        description: (!description.is_empty()).then(|| description.join("\n")),
        default: parameter.default.as_ref(),
        minimum: parameter.min,
        maximum: parameter.max,
        allowed: parameter.values.as_deref(),
        min_length: parameter.default.is_none().then_some(1),
        pattern: is_string.then_some(NO_RESERVED_CHARACTER),
        // berth matches the whole value; JSON Schema's `pattern` matches anywhere in it.
        all_of: (parameter.pattern.iter())
            .map(|p| PatternOnly {
                pattern: format!("^(?:{p})$"),
            })
            .collect(),
    }
}
