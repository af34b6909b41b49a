//! The kubernetes backend's objects, lowered from the tagged copy of the service ([`crate::tags`]),
//! made into the chart's templates: each tagged string becomes the Go action that computes it,
//! the stand-in name the release name, every namespace the release's, `managed-by` Helm, and what
//! the member count decides (the StatefulSet's `replicas`, the disruption budget and whether the
//! pods spread) is computed from the values. Each template starts by computing the chart's
//! context (`berth.context`): `$c.member`, `$c.init`, `$c.structural`, `$c.replicas`.

use crate::tags::{Computed, NAME_STAND_IN, TAG_OPEN, tagged};
use berth_model::Quorum;
use serde_json::Value;

/// What the member count decides, where a parameter sets it.
pub struct Replicas {
    pub quorum: Quorum,
}

/// One object of the kubernetes backend made into a template.
pub struct Lift<'a> {
    pub computed: &'a [Computed],
    /// Where the member count comes from the values.
    pub replicas: Option<&'a Replicas>,
    /// Go actions, by placeholder number.
    actions: Vec<String>,
    /// Fields present only with two members or more, by placeholder number.
    several: Vec<String>,
}

fn placeholder(index: usize) -> String {
    format!("zqberthgo{index}zq")
}

fn field_placeholder(index: usize) -> String {
    format!("zqberthfield{index}zq")
}

const PRELUDE: &str =
    "{{- $c := dict }}\n{{- $_ := include \"berth.context\" (dict \"out\" $c \"root\" $) }}\n";

impl<'a> Lift<'a> {
    pub fn new(computed: &'a [Computed], replicas: Option<&'a Replicas>) -> Self {
        Lift {
            computed,
            replicas,
            actions: Vec::new(),
            several: Vec::new(),
        }
    }

    /// The template of `object` (a kubernetes backend's YAML file).
    pub fn template(mut self, header: &str, yaml: &str) -> Result<String, String> {
        let mut object: Value =
            serde_saphyr::from_str(yaml).map_err(|e| format!("cannot read an object: {e}"))?;
        self.strings(&mut object)?;
        object["metadata"]["namespace"] = self.action("{{ $.Release.Namespace | toJson }}");
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let mut condition = None;
        if self.replicas.is_some() {
            match kind.as_str() {
                "StatefulSet" => self.statefulset(&mut object),
                "PodDisruptionBudget" => {
                    self.budget(&mut object);
                    condition = Some("{{- if ge (int $c.replicas) 2 }}");
                }
                _ => {}
            }
        }
        let text = berth_backend::yaml::to_yaml(&object)?;
        let text = self.fill(&text);
        Ok(match condition {
            Some(open) => format!("{header}{PRELUDE}{open}\n{text}{{{{- end }}}}\n"),
            None => format!("{header}{PRELUDE}{text}"),
        })
    }

    fn action(&mut self, go: &str) -> Value {
        self.actions.push(go.to_string());
        Value::String(placeholder(self.actions.len() - 1))
    }

    /// Every string: a tagged one computed, one holding the stand-in name joined around the
    /// release name; `managed-by` says Helm.
    fn strings(&mut self, value: &mut Value) -> Result<(), String> {
        match value {
            Value::String(text) => {
                if let Some(go) = self.computed_string(text)? {
                    *value = self.action(&go);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.strings(item)?;
                }
            }
            Value::Object(map) => {
                if let Some(key) = map
                    .keys()
                    .find(|k| k.contains(NAME_STAND_IN) || k.contains(TAG_OPEN))
                {
                    return Err(format!("a key holds a computed value (`{key}`)"));
                }
                if let Some(managed) = map.get_mut("app.kubernetes.io/managed-by") {
                    *managed = Value::String("Helm".into());
                }
                for item in map.values_mut() {
                    self.strings(item)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The Go action that writes `text`, where the chart computes it.
    fn computed_string(&self, text: &str) -> Result<Option<String>, String> {
        if let Some((index, _)) = tagged(text) {
            let computed = self.computed.get(index).ok_or("an unknown tag")?;
            let text = |context: &str, escaped: bool| {
                let rendered = format!("(include \"berth.s{index}\" $c.{context})");
                match escaped {
                    true => format!("{{{{ include \"berth.pod-text\" {rendered} | toJson }}}}"),
                    false => format!("{{{{ {rendered} | toJson }}}}"),
                }
            };
            return Ok(Some(match computed {
                Computed::Member { escaped, .. } => text("member", *escaped),
                Computed::Init { escaped, .. } => text("init", *escaped),
                Computed::Structural { .. } => text("structural", false),
            }));
        }
        if text.contains(TAG_OPEN) {
            return Err(format!(
                "a computed value is part of a longer string (`{}`), such as a start script",
                text.replace(TAG_OPEN, "<")
                    .replace(crate::tags::TAG_CLOSE, ">")
            ));
        }
        if !text.contains(NAME_STAND_IN) {
            return Ok(None);
        }
        let parts: Vec<String> = text
            .split(NAME_STAND_IN)
            .map(|part| serde_json::to_string(part).expect("a string serializes"))
            .collect();
        Ok(Some(format!(
            "{{{{ list {} | join $.Release.Name | toJson }}}}",
            parts.join(" ")
        )))
    }

    /// The member count from the values; spreading, which one member needs not, only with two.
    fn statefulset(&mut self, object: &mut Value) {
        object["spec"]["replicas"] = self.action("{{ $c.replicas }}");
        let Some(pod) = object["spec"]["template"]["spec"].as_object_mut() else {
            return;
        };
        for field in ["affinity", "topologySpreadConstraints"] {
            if let Some(value) = pod.remove(field) {
                self.several.push(field.to_string());
                pod.insert(field_placeholder(self.several.len() - 1), value);
            }
        }
    }

    /// At least one disruption, and a majority kept where the quorum is one.
    fn budget(&mut self, object: &mut Value) {
        let majority = match self.replicas.map(|r| r.quorum) {
            Some(Quorum::Majority) => "(add (div $r 2) 1)",
            _ => "1",
        };
        let go = format!("{{{{ $r := int $c.replicas }}}}{{{{ max 1 (sub $r {majority}) }}}}");
        object["spec"]["maxUnavailable"] = self.action(&go);
    }

    /// The YAML with each placeholder's action in its place, and each field of several members
    /// inside its condition.
    fn fill(&self, yaml: &str) -> String {
        let mut lines: Vec<String> = yaml.lines().map(str::to_string).collect();
        for (index, field) in self.several.iter().enumerate() {
            let key = format!("{}:", field_placeholder(index));
            let Some(at) = lines.iter().position(|l| l.trim_start().starts_with(&key)) else {
                continue;
            };
            let indent = lines[at].len() - lines[at].trim_start().len();
            lines[at] = lines[at].replacen(&field_placeholder(index), field, 1);
            let end = (at + 1..lines.len())
                .find(|&i| {
                    let line = &lines[i];
                    let own = line.len() - line.trim_start().len();
                    own < indent || (own == indent && !line.trim_start().starts_with("- "))
                })
                .unwrap_or(lines.len());
            lines.insert(end, "{{- end }}".into());
            lines.insert(at, "{{- if ge (int $c.replicas) 2 }}".into());
        }
        let mut text = lines.join("\n");
        text.push('\n');
        for (index, action) in self.actions.iter().enumerate() {
            text = text.replace(&placeholder(index), action);
        }
        text
    }
}
