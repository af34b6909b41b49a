//! The kubernetes backend's objects, lowered from the tagged copy of the service ([`crate::tags`]),
//! made into the chart's templates: each tagged string becomes the Go action that computes it,
//! the stand-in name the release name, every namespace the release's, `managed-by` Helm, and what
//! the member count decides (the StatefulSet's `replicas`, the disruption budget and whether the
//! pods spread) is computed from the values. Each template starts by computing the chart's
//! context (`berth.context`): `$c.member`, `$c.init`, `$c.structural`, `$c.replicas`.

use crate::tags::{Computed, NAME_STAND_IN, TAG_OPEN, Tagged, tagged};
use berth_model::Quorum;
use serde_json::{Map, Value};

/// What the member count decides, where a parameter sets it.
pub struct Replicas {
    pub quorum: Quorum,
}

/// The pod's placement fields (`affinity`, `topologySpreadConstraints`) the kubernetes backend
/// writes for each `replication.spread`, where a parameter sets it: by the word that picks it.
pub type SpreadVariants = Vec<(&'static str, Map<String, Value>)>;

/// The fields that place the pods over hosts and zones.
pub const PLACEMENT: [&str; 2] = ["affinity", "topologySpreadConstraints"];

/// One object of the kubernetes backend made into a template.
pub struct Lift<'a> {
    pub computed: &'a [Computed],
    /// The numbers that stand in for ports the values set, with the ports' names.
    pub ports: Vec<(u16, &'a str)>,
    /// Where the member count comes from the values.
    pub replicas: Option<&'a Replicas>,
    /// Where the spreading comes from the values.
    pub spread: Option<&'a SpreadVariants>,
    /// Go actions, by placeholder number.
    actions: Vec<String>,
    /// Blocks of YAML (with their Go conditions) in the place of the placeholder key, by number.
    blocks: Vec<String>,
}

/// How the name's stand-in starts: a string holding this but not the whole stand-in holds the
/// name cut or changed.
const STAND_IN_START: &str = "zq9berth";

/// What every placeholder of the chart holds, and no string or key of the spec may: so a string
/// that holds it is one of the chart's own.
const MARK: &str = "zqberth";

/// How an action's placeholder starts ([`MARK`] and more).
const ACTION_MARK: &str = "zqberthgo";

fn placeholder(index: usize) -> String {
    format!("{ACTION_MARK}{index}zq")
}

/// How a block's placeholder key starts ([`MARK`] and more).
const FIELD_MARK: &str = "zqberthfield";

fn field_placeholder(index: usize) -> String {
    format!("{FIELD_MARK}{index}zq")
}

const PRELUDE: &str =
    "{{- $c := dict }}\n{{- $_ := include \"berth.context\" (dict \"out\" $c \"root\" $) }}\n";

impl<'a> Lift<'a> {
    pub fn new(
        tagged: &'a Tagged,
        replicas: Option<&'a Replicas>,
        spread: Option<&'a SpreadVariants>,
    ) -> Self {
        Lift {
            computed: &tagged.computed,
            ports: tagged
                .ports
                .iter()
                .map(|(n, name, _)| (*n, name.as_str()))
                .collect(),
            replicas,
            spread,
            actions: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// The template of `object` (one of the kubernetes backend's documents); none for a `Namespace`
    /// (`create_namespace`): a release's namespace is `helm install --namespace`'s, made with
    /// `--create-namespace`.
    pub fn template(mut self, header: &str, mut object: Value) -> Result<Option<String>, String> {
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        if kind == "Namespace" {
            return Ok(None);
        }
        refuse_marks(&object)?;
        self.files(&kind, &mut object);
        self.strings(&mut object)?;
        if object["metadata"].get("namespace").is_some() {
            object["metadata"]["namespace"] =
                self.action("{{ $.Release.Namespace | include \"berth.json\" }}");
        }
        let mut condition = None;
        match kind.as_str() {
            "StatefulSet" => self.statefulset(&mut object)?,
            "PodDisruptionBudget" if self.replicas.is_some() => {
                self.budget(&mut object);
                condition = Some("{{- if ge (int $c.replicas) 2 }}");
            }
            _ => {}
        }
        let text = as_text(&berth_backend::yaml::to_yaml(&object)?);
        let text = self.fill(&text);
        Ok(Some(match condition {
            Some(open) => format!("{header}{PRELUDE}{open}\n{text}{{{{- end }}}}\n"),
            None => format!("{header}{PRELUDE}{text}"),
        }))
    }

    /// The files' ConfigMap, its hash on the pod template and the keys its volume projects, as
    /// `berth.context` computes them (`$c.files`).
    fn files(&mut self, kind: &str, object: &mut Value) {
        let config_map = format!("{NAME_STAND_IN}-files");
        match kind {
            "ConfigMap" if object["metadata"]["name"] == config_map.as_str() => {
                object["data"] = self.action("{{ $c.files.data | include \"berth.json\" }}");
            }
            "StatefulSet" => {
                let hash = "/spec/template/metadata/annotations/berth.dev~1files";
                if object.pointer(hash).is_some() {
                    let go =
                        "{{ include \"berth.files-hash\" $c.files.data | include \"berth.json\" }}";
                    *object.pointer_mut(hash).expect("just found") = self.action(go);
                }
                let items = "{{ $c.files.items | include \"berth.json\" }}";
                let volumes = object.pointer_mut("/spec/template/spec/volumes");
                let volumes = volumes.and_then(Value::as_array_mut).into_iter().flatten();
                for volume in volumes.filter(|v| v["configMap"]["name"] == config_map.as_str()) {
                    self.actions.push(items.to_string());
                    volume["configMap"]["items"] =
                        Value::String(placeholder(self.actions.len() - 1));
                }
            }
            _ => {}
        }
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
                // After `files`: the files' ConfigMap, whose keys hold the name, is an action.
                if let Some(key) = map.keys().find(|k| {
                    may_hold_a_mark(k) && (k.contains(NAME_STAND_IN) || k.contains(TAG_OPEN))
                }) {
                    return Err(format!("a key holds a computed value (`{key}`)"));
                }
                if let Some(managed) = map.get_mut("app.kubernetes.io/managed-by") {
                    *managed = Value::String("Helm".into());
                }
                for (key, item) in map.iter_mut() {
                    match self.port(key, item) {
                        Some(go) => *item = self.action(&go),
                        None => self.strings(item)?,
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The Go action that writes a port's number, where `value` stands in for one the values set.
    fn port(&self, key: &str, value: &Value) -> Option<String> {
        if !matches!(key, "port" | "containerPort" | "targetPort") {
            return None;
        }
        let number = value.as_u64()?;
        let (_, name) = self.ports.iter().find(|(n, _)| u64::from(*n) == number)?;
        let name = serde_json::to_string(name).expect("a string serializes");
        Some(format!("{{{{ index $c.structural.port {name} }}}}"))
    }

    /// The Go action that writes `text`, where the chart computes it.
    fn computed_string(&self, text: &str) -> Result<Option<String>, String> {
        if !may_hold_a_mark(text) && !text.contains(['{', ')']) {
            // Most strings: no tag, mark or stand-in, no `{{` and no member script (`0) exec`).
            return Ok(None);
        }
        if let Some((index, _)) = tagged(text) {
            let computed = self.computed.get(index).ok_or("an unknown tag")?;
            let text = |context: &str, escaped: bool| {
                let rendered = format!("(include \"berth.s{index}\" $c.{context})");
                match escaped {
                    true => format!(
                        "{{{{ include \"berth.pod-text\" {rendered} | include \"berth.json\" }}}}"
                    ),
                    false => format!("{{{{ {rendered} | include \"berth.json\" }}}}"),
                }
            };
            return Ok(Some(match computed {
                Computed::Member { escaped, .. } => text("member", *escaped),
                Computed::Init { escaped, .. } => text("init", *escaped),
                Computed::Image { init, .. } => text(if *init { "init" } else { "member" }, false),
                Computed::Structural { .. } => text("structural", false),
            }));
        }
        if let Some(go) = member_script(text)? {
            return Ok(Some(go));
        }
        if text.contains(TAG_OPEN) {
            return Err(format!(
                "a computed value is part of a longer string (`{}`), such as a start script",
                text.replace(TAG_OPEN, "<")
                    .replace(crate::tags::TAG_CLOSE, ">")
            ));
        }
        if text.contains(MARK) {
            // A placeholder already: the spec's strings that hold the mark were refused.
            return Ok(None);
        }
        // What is left of the stand-in once each whole one is taken out is the name cut or
        // changed, which the chart cannot write as the release's.
        if text
            .split(NAME_STAND_IN)
            .any(|part| part.contains(STAND_IN_START))
        {
            return Err(format!(
                "the name is cut or changed in `{text}`, where the chart writes the release name"
            ));
        }
        let literal = serde_json::to_string(text).expect("a string serializes");
        if !text.contains(NAME_STAND_IN) {
            // Go would read the spec's own `{{` as an action.
            return Ok(text
                .contains("{{")
                .then(|| format!("{{{{ {literal} | include \"berth.json\" }}}}")));
        }
        let parts: Vec<String> = text
            .split(NAME_STAND_IN)
            .map(|part| serde_json::to_string(part).expect("a string serializes"))
            .collect();
        Ok(Some(format!(
            "{{{{ list {} | join $.Release.Name | include \"berth.json\" }}}}",
            parts.join(" ")
        )))
    }

    /// The member count from the values, and the pods' placement: as the spread the values pick
    /// says, and only with two members or more.
    fn statefulset(&mut self, object: &mut Value) -> Result<(), String> {
        if self.replicas.is_some() {
            object["spec"]["replicas"] = self.action("{{ $c.replicas }}");
        }
        let Some(pod) = object["spec"]["template"]["spec"].as_object_mut() else {
            return Ok(());
        };
        let written: Map<String, Value> = PLACEMENT
            .iter()
            .filter_map(|field| Some((field.to_string(), pod.remove(*field)?)))
            .collect();
        let variants = match self.spread {
            Some(variants) => variants.clone(),
            None if self.replicas.is_some() => vec![("", written)],
            None => {
                pod.extend(written);
                return Ok(());
            }
        };
        let mut block = String::new();
        for (i, (word, mut fields)) in variants.into_iter().enumerate() {
            if !word.is_empty() {
                let branch = if i == 0 { "if" } else { "else if" };
                block.push_str(&format!("{{{{- {branch} eq $c.spread {word:?} }}}}\n"));
            }
            let mut fields = Value::Object(std::mem::take(&mut fields));
            self.strings(&mut fields)?;
            if fields.as_object().is_some_and(|f| !f.is_empty()) {
                block.push_str(&as_text(&berth_backend::yaml::to_yaml(&fields)?));
            }
        }
        if self.spread.is_some() {
            block.push_str("{{- end }}\n");
        }
        if self.replicas.is_some() {
            block = format!("{{{{- if ge (int $c.replicas) 2 }}}}\n{block}{{{{- end }}}}\n");
        }
        self.blocks.push(block);
        pod.insert(field_placeholder(self.blocks.len() - 1), Value::Null);
        Ok(())
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

    /// The YAML with each placeholder's action in its place, and each block, indented as its
    /// placeholder key was, in the place of that key.
    fn fill(&self, yaml: &str) -> String {
        let mut text = String::new();
        for line in yaml.lines() {
            let content = line.trim_start();
            let indent = &line[..line.len() - content.len()];
            let block = if content.starts_with(FIELD_MARK) {
                (0..self.blocks.len())
                    .find(|i| content.starts_with(&format!("{}:", field_placeholder(*i))))
            } else {
                None
            };
            match block {
                Some(i) => {
                    for block_line in self.blocks[i].lines() {
                        if !block_line.starts_with("{{") {
                            text.push_str(indent);
                        }
                        text.push_str(block_line);
                        text.push('\n');
                    }
                }
                None => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        self.with_actions(&text)
    }

    /// `text` with each action's placeholder replaced by the action, in one pass.
    fn with_actions(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(ACTION_MARK) {
            out.push_str(&rest[..at]);
            let after = &rest[at + ACTION_MARK.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let number = &after[..digits];
            let index = number
                .parse::<usize>()
                .ok()
                .filter(|i| i.to_string() == number && after[digits..].starts_with("zq"));
            match index.and_then(|i| self.actions.get(i)) {
                Some(action) => {
                    out.push_str(action);
                    rest = &after[digits + 2..];
                }
                None => {
                    out.push_str(ACTION_MARK);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Whether `text` may hold one of the chart's marks, stand-ins or tags: the marks and stand-ins
/// start with `zq`, the tags are U+F0100 and U+F0101, whose UTF-8 starts with `F3` (any byte from
/// `F3` up passes). A scan for bytes before the searches for whole marks, which most strings of
/// an object would not pass.
fn may_hold_a_mark(text: &str) -> bool {
    text.bytes().any(|b| b == b'z' || b >= 0xF3)
}

/// An object's YAML as text Go writes as it is: a `{{` the spec put in a key (a StorageClass
/// parameter's name) would open an action, so each becomes one that writes it.
fn as_text(yaml: &str) -> String {
    yaml.replace("{{", "{{ \"{{\" }}")
}

/// Refuses a string or key of the kubernetes backend's object that holds [`MARK`], which only the
/// chart's placeholders may hold.
pub(crate) fn refuse_marks(value: &Value) -> Result<(), String> {
    match value {
        Value::String(text) if may_hold_a_mark(text) && text.contains(MARK) => Err(format!(
            "the spec's text `{text}` looks like what the chart writes in its place"
        )),
        Value::Array(items) => items.iter().try_for_each(refuse_marks),
        Value::Object(map) => {
            if let Some(key) = map.keys().find(|k| may_hold_a_mark(k) && k.contains(MARK)) {
                return Err(format!(
                    "the spec's key `{key}` looks like what the chart writes in its place"
                ));
            }
            map.values().try_for_each(refuse_marks)
        }
        _ => Ok(()),
    }
}

/// The start script that runs each member's own command line (`case "$BERTH_POD_ORDINAL" in 0)
/// exec WORDS ;; ...`, the kubernetes backend's, `$` doubled) computed for the values' members:
/// member 0's line says which words are computed, and from what.
fn member_script(text: &str) -> Result<Option<String>, String> {
    const OPEN: &str = "case \"$BERTH_POD_ORDINAL\" in 0) exec ";
    const CLOSE: &str = "*) echo 'berth: no command line for this member' >&2; exit 1 ;; esac";
    if !text.contains(" in 0) exec ") {
        return Ok(None);
    }
    let script = text.replace("$$", "$");
    // Steps that put files in place may come first; they hold nothing computed.
    let Some((steps, first)) = script.split_once(OPEN) else {
        return Ok(None);
    };
    if steps.contains(TAG_OPEN) || !(steps.is_empty() || steps.ends_with(" && ")) {
        return Ok(None);
    }
    let line = first.split(" ;; ").next().unwrap_or_default();
    let mut words = Vec::new();
    for word in shell_words(line)? {
        words.push(match word.split_once(TAG_OPEN) {
            Some((before, rest)) => {
                let index = tagged(&format!("{TAG_OPEN}{rest}")).ok_or("a broken tag")?.0;
                let before = serde_json::to_string(before).expect("a string serializes");
                format!("(include \"berth.shell-quote\" (print {before} (include \"berth.s{index}\" $m)))")
            }
            None => format!(
                "(include \"berth.shell-quote\" {})",
                serde_json::to_string(&word).expect("a string serializes")
            ),
        });
    }
    let close = serde_json::to_string(CLOSE).expect("a string serializes");
    Ok(Some(format!(
        "{{{{ $script := print {} \"case \\\"$BERTH_POD_ORDINAL\\\" in \" }}}}{{{{ range $i := until (int $c.replicas) }}}}{{{{ $m := dict }}}}{{{{ $_ := include \"berth.member-context\" (merge (dict \"out\" $m \"me\" true \"ordinal\" $i) $c.args) }}}}{{{{ $script = print $script $i \") exec \" (list {} | join \" \") \" ;; \" }}}}{{{{ end }}}}{{{{ $script = print $script {close} }}}}{{{{ include \"berth.pod-text\" $script | include \"berth.json\" }}}}",
        serde_json::to_string(steps).expect("a string serializes"),
        words.join(" ")
    )))
}

/// The words of a line of a POSIX shell script as `shell_quote` writes them: bare, in single
/// quotes, in double quotes with `\` before `"`, `$`, `` ` `` and `\`, and `\'` between quotes.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let text = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err("an open single quote".into()),
                    }
                }
            }
            '"' => {
                let text = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => text.extend(chars.next()),
                        Some(c) => text.push(c),
                        None => return Err("an open double quote".into()),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lift() -> Lift<'static> {
        Lift {
            computed: &[],
            ports: Vec::new(),
            replicas: None,
            spread: None,
            actions: Vec::new(),
            blocks: Vec::new(),
        }
    }

    #[test]
    fn a_spec_string_or_key_like_a_placeholder_is_refused() {
        let files = format!("{NAME_STAND_IN}-files");
        let objects = [
            // The files' data becomes action 0 before the labels are read.
            serde_json::json!({"kind": "ConfigMap", "metadata": {"name": files, "labels": {"a": "zqberthgo0zq"}}, "data": {}}),
            serde_json::json!({"kind": "StorageClass", "metadata": {"name": "x"}, "parameters": {"zqberthfield0zq": "1"}}),
        ];
        for object in objects {
            let error = lift().template("", object).unwrap_err();
            assert!(
                error.contains("looks like what the chart writes"),
                "{error}"
            );
        }
    }

    #[test]
    fn every_mark_passes_the_scan_before_the_searches() {
        let tag = crate::tags::TAG_CLOSE.to_string();
        let marks = [MARK, ACTION_MARK, FIELD_MARK, STAND_IN_START, NAME_STAND_IN];
        for mark in marks.into_iter().chain([&*crate::tags::tag(0), &*tag]) {
            assert!(may_hold_a_mark(&format!("a{mark}b")), "{mark:?}");
        }
        assert!(!may_hold_a_mark("cockroachdb-0.cockroachdb.default.svc"));
    }

    #[test]
    fn each_placeholder_becomes_its_action_once() {
        let mut lift = lift();
        for go in ["{{ a }}", "{{ b }}", "zqberthgo0zq"] {
            lift.action(go);
        }
        assert_eq!(
            lift.with_actions("x: zqberthgo0zq\ny: [zqberthgo1zq, zqberthgo2zq]\n"),
            "x: {{ a }}\ny: [{{ b }}, zqberthgo0zq]\n",
            "an action is not read again for placeholders"
        );
        assert_eq!(
            lift.with_actions("é:zqberthgozqberthgo0zqzqberthgo1zqé"),
            "é:zqberthgo{{ a }}{{ b }}é"
        );
        for kept in [
            "zqberthgo01zq",
            "zqberthgo3zq",
            "zqberthgo1",
            "zqberthgozq",
            "é zqberthgo",
        ] {
            assert_eq!(lift.with_actions(kept), kept);
        }
    }
}
