//! The helm backend's charts, proven with Helm's own code (helm-python-sdk): each example's chart
//! renders the kubernetes backend's objects for random value sets and lints clean; its values
//! (`values.yaml` read back as the spec's defaults, `values.schema.json` refusing exactly what
//! berth refuses) and helpers (the files' hash, shell quoting, image references) are berth's;
//! what berth refuses the chart refuses, one value or several together; `NOTES.txt` says berth's
//! warnings; specs made for one case each (identity, command lines, namespaces, aliases).

use crate::common::{Draw, compile_example, diff_kubernetes_with, example_text, examples, root};
use crate::go_templates::python_with_helm;
use berth_backend_helm::{helpers, values};
use berth_language::params::{self, Declared, Kind};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Value sets drawn for each spec.
const VALUE_SETS: usize = 80;

/// A spec with every kind of parameter, and defaults a YAML 1.1 reader would take for another type.
const EDGE_SPEC: &str = r#"
name = "edge"
[params.token]
required = true
description = "Required: no default.\nA second line, with # and `backticks`."
[params.port]
default = 7000
min = 1024
max = 65000
[params.offset]
default = -3
[params.mode]
default = "on"
values = ["on", "off", "0755", "x y"]
[params.flag]
default = false
[params.octal]
default = "0755"
description = "yes"
[params.empty]
default = ""
[container]
image = "busybox:1"
"#;

/// A value `parameter` allows.
fn valid(parameter: &Declared, draw: &mut Draw) -> Value {
    match (parameter.kind, &parameter.values) {
        (Kind::String, Some(values)) => json!(draw.pick(values)),
        (Kind::String, None) => {
            let texts = texts(parameter);
            json!(draw.pick(&texts))
        }
        (Kind::Integer, _) => {
            let (min, max) = (
                parameter.min.unwrap_or(-1000),
                parameter.max.unwrap_or(1 << 40),
            );
            let span = (max - min) as u64 + 1;
            json!(min + draw.below(span as usize) as i64)
        }
        (Kind::Boolean, _) => json!(draw.below(2) == 0),
    }
}

/// Strings for a parameter without `values`: hard ones, those its `pattern` allows.
fn texts(parameter: &Declared) -> Vec<&'static str> {
    let mut texts = vec![
        "v1.2.3",
        "yes",
        "0755",
        "ünï cödé",
        "a: b",
        "line\nbreak",
        "~",
        // A ZooKeeper digest, which the example's `super_digest` allows.
        "super:YSjihl7r+/3F7mqMeIpO4/h2vMI=",
    ];
    if parameter.default.is_some() {
        texts.push("");
    }
    texts.retain(|text| parameter.matches_pattern(text));
    texts
}

/// A value berth refuses for `parameter`.
fn invalid(parameter: &Declared, draw: &mut Draw) -> Value {
    let mut wrong = vec![json!([1]), json!({"a": 1})];
    match parameter.kind {
        Kind::String => {
            wrong.extend([json!(7), json!(true), json!("nul\u{0}"), json!("\u{F0000}")]);
            if parameter.values.is_some() {
                wrong.push(json!("not-listed"));
            }
            if !parameter.matches_pattern("not matched") {
                wrong.push(json!("not matched"));
            }
            if parameter.default.is_none() {
                wrong.push(json!(""));
            }
        }
        Kind::Integer => {
            wrong.extend([json!("3"), json!(false)]);
            wrong.extend(parameter.min.map(|min| json!(min - 1)));
            wrong.extend(parameter.max.map(|max| json!(max + 1)));
        }
        Kind::Boolean => wrong.extend([json!("true"), json!(1)]),
    }
    draw.pick(&wrong).clone()
}

/// A set of values: each parameter left to its default, given a valid value or, rarely, one
/// berth refuses (a required one left out or empty); now and then a misspelt name.
fn value_set(parameters: &[Declared], draw: &mut Draw) -> Map<String, Value> {
    let mut set = Map::new();
    for parameter in parameters {
        let required = parameter.default.is_none();
        let value = match draw.below(12) {
            0 => invalid(parameter, draw),
            1 if required => continue,
            2 if required => json!(""),
            1..=3 if !required => continue,
            _ => valid(parameter, draw),
        };
        set.insert(parameter.name.clone(), value);
    }
    if draw.below(25) == 0 {
        set.insert("replcias".into(), json!(3));
    }
    set
}

/// Whether berth accepts `set` as a `--values` file for `spec`.
fn berth_accepts(spec: &berth_language::spec::Spec, set: &Map<String, Value>) -> bool {
    let table: toml::Table = set
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::from_value(v.clone()).unwrap()))
        .collect();
    let text = toml::to_string(&table).unwrap();
    let Ok(overrides) = params::parse_values_file(&text, 1) else {
        return false;
    };
    let mut diagnostics = Vec::new();
    params::resolve(&spec.params, &overrides, 0, &mut diagnostics);
    diagnostics.is_empty()
}

/// A chart of `files` (path, text) in a new directory.
fn chart(name: &str, files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    let chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n");
    std::fs::write(dir.path().join("Chart.yaml"), chart_yaml).unwrap();
    for (path, text) in files {
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    dir
}

/// What `tests/common/helm_values.py` says of `chart` and `cases`.
pub fn helm_says(python: &Path, chart: &Path, cases: &Value) -> Value {
    let cases_file = chart.join("cases.json");
    std::fs::write(&cases_file, cases.to_string()).unwrap();
    let output = Command::new(python)
        .arg(root().join("tests/common/helm_values.py"))
        .arg(chart)
        .arg(&cases_file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "helm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What the named template `define` of `helpers` writes for each of `inputs`, rendered by Helm:
/// one ConfigMap per input, its text under `out`.
fn render_each(python: &Path, helpers: &str, define: &str, inputs: &Value) -> Vec<Value> {
    let template = format!(
        "{{{{- range $i, $input := .Values.inputs }}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c-{{{{ $i }}}}\ndata:\n  out: {{{{ include \"{define}\" $input | toJson }}}}\n{{{{- end }}}}\n"
    );
    let chart = chart(
        "each",
        &[
            ("templates/_helpers.tpl", helpers.to_string()),
            ("templates/each.yaml", template),
        ],
    );
    let cases = json!({"value_sets": [], "renders": [{"inputs": inputs}]});
    let helm = helm_says(python, chart.path(), &cases);
    let rendered = helm["rendered"][0]["each/templates/each.yaml"]
        .as_str()
        .unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(rendered).unwrap();
    documents.iter().map(|d| d["data"]["out"].clone()).collect()
}

/// Every example's parameters, and the edge spec's.
fn specs() -> Vec<(String, String)> {
    let mut specs: Vec<(String, String)> = examples()
        .into_iter()
        .map(|(name, path)| (name, std::fs::read_to_string(path).unwrap()))
        .collect();
    specs.push(("edge".into(), EDGE_SPEC.into()));
    specs
}

#[test]
fn values_schema_refuses_what_berth_refuses() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let mut draw = Draw(0x2545_f491_4f6c_dd1d);
    for (name, text) in specs() {
        let spec = berth_language::spec::parse(&text, 0).unwrap().spec;
        let parameters = params::declared(&spec.params);
        let feeds = std::collections::BTreeMap::new();
        let marks = values::Marks {
            feeds: &feeds,
            unused: std::collections::BTreeMap::new(),
        };
        let chart = chart(
            &name,
            &[
                (
                    "values.yaml",
                    values::values_yaml(&name, &parameters, &marks).unwrap(),
                ),
                (
                    "values.schema.json",
                    values::values_schema(&name, &parameters, &marks),
                ),
            ],
        );
        let sets: Vec<Map<String, Value>> = (0..VALUE_SETS)
            .map(|_| value_set(&parameters, &mut draw))
            .collect();
        let helm = helm_says(
            &python,
            chart.path(),
            &json!({"value_sets": sets, "renders": []}),
        );

        let defaults: Map<String, Value> = parameters
            .iter()
            .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
            .collect();
        assert_eq!(
            helm["defaults"],
            Value::Object(defaults),
            "{name}: values.yaml as Helm reads it"
        );
        let (mut accepted, mut refused) = (0, 0);
        for (set, verdict) in sets.iter().zip(helm["verdicts"].as_array().unwrap()) {
            let by_berth = berth_accepts(&spec, set);
            assert_eq!(
                by_berth,
                verdict.is_null(),
                "{name}: berth {} {set:?}, Helm says {verdict}",
                if by_berth { "accepts" } else { "refuses" }
            );
            if by_berth {
                accepted += 1
            } else {
                refused += 1
            }
        }
        assert!(
            accepted >= 20 && refused >= 5,
            "{name}: {accepted} accepted, {refused} refused"
        );
    }
}

#[test]
fn files_hash_is_the_kubernetes_annotation() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let mut data_sets: Vec<BTreeMap<String, String>> = Vec::new();
    let mut expected = Vec::new();
    for example in ["elasticsearch", "rabbitmq"] {
        let (_dir, out) = compile_example(example, &["--backend", "kubernetes"]);
        let read = |file: &str| -> Value {
            let text = std::fs::read_to_string(out.join("kubernetes").join(file)).unwrap();
            serde_saphyr::from_str(&text).unwrap()
        };
        let config_map = read(&format!("15-configmap-{example}-files.yaml"));
        let statefulset = read(&format!("40-statefulset-{example}.yaml"));
        data_sets.push(serde_json::from_value(config_map["data"].clone()).unwrap());
        expected.push(
            statefulset["spec"]["template"]["metadata"]["annotations"]["berth.dev/files"].clone(),
        );
    }
    for data in [
        vec![("a", "x")],
        vec![
            ("b", "2"),
            ("a", "1"),
            ("B", "3"),
            ("ä", "ünï\ncödé\n"),
            ("a.b", ""),
        ],
        vec![
            ("0.conf", "{{ not a template }}"),
            ("1.conf", "$(HOME) \"q\" \\"),
        ],
    ] {
        let data: BTreeMap<String, String> = data
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        expected.push(json!(berth_backends_shared::files::data_hash(&data)));
        data_sets.push(data);
    }
    let hashes = render_each(
        &python,
        helpers::FILES_HASH,
        "berth.files-hash",
        &json!(data_sets),
    );
    assert_eq!(hashes, expected);
}

/// The spec at `path`, resolved with its defaults.
fn resolved(path: &Path) -> berth_model::Service {
    let text = std::fs::read_to_string(path).unwrap();
    let spec = berth_language::spec::parse(&text, 0).unwrap().spec;
    let rules: Vec<&str> = berth_compile::registry::rules().map(|r| r.id).collect();
    let context = berth_resolve::Context {
        backends: &berth_compile::registry::names(),
        rules: &rules,
        spec_dir: path.parent().unwrap(),
        allow_read: &[],
    };
    berth_resolve::resolve(spec, 0, &text, &[], &context)
        .unwrap_or_else(|_| panic!("{} resolves", path.display()))
        .0
}

/// A value of `parameter` other than its default that its spec still accepts: another of its
/// `values`, the next integer, the other boolean, or the default with its first digit changed
/// (`100Gi` to `200Gi`, `v3.5.15` to `v4.5.15`) or, without a digit, an `x` added.
fn changed_value(parameter: &Declared) -> String {
    let default = parameter.default.as_ref().unwrap();
    match (parameter.kind, &parameter.values) {
        (Kind::String, Some(values)) => values.iter().find(|v| *v != default).unwrap().clone(),
        (Kind::Integer, _) => {
            let i = default.as_i64().unwrap();
            (if parameter.max == Some(i) {
                i - 1
            } else {
                i + 1
            })
            .to_string()
        }
        (Kind::Boolean, _) => (!default.as_bool().unwrap()).to_string(),
        (Kind::String, None) if parameter.pattern.is_some() => texts(parameter)
            .into_iter()
            .find(|text| json!(text) != *default)
            .unwrap()
            .to_string(),
        (Kind::String, None) => {
            let text = default.as_str().unwrap();
            match text.find(|c: char| c.is_ascii_digit()) {
                Some(at) => {
                    let digit = text.as_bytes()[at] - b'0';
                    let next = char::from(b'0' + digit % 9 + 1);
                    format!("{}{next}{}", &text[..at], &text[at + 1..])
                }
                None => format!("{text}x"),
            }
        }
    }
}

/// A parameter `values.yaml` marks as one Kubernetes refuses to change is one whose change
/// `berth diff --against` finds refused on the running StatefulSet, and no other.
#[test]
fn values_kubernetes_refuses_to_change_are_marked() {
    let mut marked = 0;
    for (name, path) in kubernetes_examples() {
        let service = resolved(&path);
        let (dir, out) = compile_example(&name, &["--backend", "kubernetes"]);
        for parameter in &service.parameters {
            let set = format!("{}={}", parameter.name, changed_value(parameter));
            let output = diff_kubernetes_with(dir.path(), path.to_str().unwrap(), &set);
            assert!(
                output.status.code().is_some_and(|c| c < 2),
                "{name} --set {set}: {}",
                crate::common::stderr(&output)
            );
            let refused = crate::common::stderr(&output).contains("plan/statefulset-immutable");
            let mark = values::upgrade_refused(service.parameter_feeds.get(&parameter.name));
            assert_eq!(
                mark.is_some(),
                refused,
                "{name} --set {set}: marked {mark:?}"
            );
            marked += usize::from(refused);
        }
        drop(out);
    }
    eprintln!("helm values: {marked} parameters marked as refused on a running StatefulSet");
    assert!(marked >= 3, "only {marked} parameters marked");
}

/// Values for `parameters` a compile mostly accepts: each left to its default, changed as
/// [`changed_value`] does, (an integer) drawn near its default within its bounds, or (a string no
/// structural key reads) one that needs escaping.
fn plausible_set(service: &berth_model::Service, draw: &mut Draw) -> Vec<(String, Value)> {
    const HARD: [&str; 8] = [
        "$(HOME)",
        "a$$b",
        "quote\"d 'q'",
        "ünï cödé",
        "{{x}}",
        // What a YAML reader refuses raw (DEL, C1, U+FFFE) or reads as a line break (NEL, U+2028).
        "del\u{7f} c1\u{80}\u{9f} nel\u{85}",
        "ls\u{2028}ps\u{2029} \u{fffe}\u{ffff} bom\u{feff} tab\t",
        "<html> & \u{1F600}",
    ];
    let mut set = Vec::new();
    for parameter in service.parameters.iter().filter(|p| p.default.is_some()) {
        let structural = service.parameter_feeds.contains_key(&parameter.name);
        let free = parameter.kind == Kind::String && parameter.values.is_none() && !structural;
        let value = match (draw.below(4), parameter.kind) {
            (0, _) => continue,
            (1, _) => json!(changed_value(parameter)),
            (_, Kind::Integer) => {
                let default = parameter.default.as_ref().and_then(Value::as_i64).unwrap();
                let drawn = default + draw.below(9) as i64 - 3;
                json!(drawn.clamp(
                    parameter.min.unwrap_or(i64::MIN),
                    parameter.max.unwrap_or(i64::MAX)
                ))
            }
            (_, Kind::String) if free => json!(draw.pick(&HARD)),
            (_, Kind::String) => json!(changed_value(parameter)),
            (_, Kind::Boolean) => json!(draw.below(2) == 0),
        };
        let value = match (parameter.kind, value) {
            (Kind::Integer, Value::String(text)) => json!(text.parse::<i64>().unwrap()),
            (Kind::Boolean, Value::String(text)) => json!(text == "true"),
            (_, value) => value,
        };
        set.push((parameter.name.clone(), value));
    }
    set
}

/// The member container's `command`, `args` and plain `env` values the kubernetes backend writes
/// for `spec` with `set`, by key (`command-0`, `args-1`, `env-NAME`), and the StatefulSet's name;
/// `None` when it refuses.
fn kubernetes_strings(
    spec: &Path,
    set: &[(String, Value)],
) -> Option<(Map<String, Value>, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "compile".to_string(),
        spec.display().to_string(),
        "--backend".into(),
        "kubernetes".into(),
        "--out".into(),
        "out".into(),
    ];
    for (key, value) in set {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        args.extend(["--set".to_string(), format!("{key}={text}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if !crate::common::berth(&args, dir.path()).status.success() {
        return None;
    }
    let pattern = dir.path().join("out/kubernetes/40-statefulset-*.yaml");
    let file = glob::glob(pattern.to_str().unwrap())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let statefulset: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let name = statefulset["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    let mut strings = Map::new();
    for key in ["command", "args"] {
        for (i, text) in container[key].as_array().into_iter().flatten().enumerate() {
            strings.insert(format!("{key}-{i}"), text.clone());
        }
    }
    for variable in container["env"].as_array().into_iter().flatten() {
        if let Some(value) = variable.get("value") {
            strings.insert(
                format!("env-{}", variable["name"].as_str().unwrap()),
                value.clone(),
            );
        }
    }
    Some((strings, name))
}

/// The chart of one spec's container strings: each written in Go (`to_go`) into a template, and a
/// ConfigMap per case whose data are those strings rendered in `berth.member-context` as the
/// kubernetes backend writes them (`berth.pod-text`), with the ports and the member count computed
/// from the case's values as the spec's `[[ports]]` and `replication.replicas` say.
fn container_chart(spec: &toml::Value, keys: &[(String, String)]) -> String {
    use berth_language::go_template::to_go;
    let mut text = String::new();
    let mut define = |name: &str, value: Option<&toml::Value>| {
        let go = match value {
            Some(toml::Value::String(source)) => to_go(source, "$ctx").unwrap(),
            Some(other) => other.to_string(),
            None => "1".into(),
        };
        text.push_str(&format!(
            "{{{{- define \"{name}\" }}}}{{{{ $ctx := . }}}}{go}{{{{ end }}}}\n"
        ));
    };
    for (i, (_, source)) in keys.iter().enumerate() {
        define(&format!("s{i}"), Some(&toml::Value::String(source.clone())));
    }
    define(
        "replicas",
        spec.get("replication").and_then(|r| r.get("replicas")),
    );
    let ports = spec
        .get("ports")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    for port in &ports {
        define(
            &format!("port-{}", port["name"].as_str().unwrap()),
            port.get("port"),
        );
    }
    text.push_str("{{- range $i, $case := .Values.cases }}\n{{- $ports := dict }}\n");
    for port in &ports {
        let name = port["name"].as_str().unwrap();
        text.push_str(&format!("{{{{- $_ := set $ports \"{name}\" (atoi (include \"port-{name}\" (dict \"name\" $case.name \"params\" $case.params))) }}}}\n"));
    }
    text.push_str("{{- $structural := dict \"name\" $case.name \"params\" $case.params \"port\" $ports }}\n{{- $ctx := dict }}\n{{- $_ := include \"berth.member-context\" (dict \"out\" $ctx \"name\" $case.name \"namespace\" $case.namespace \"domain\" \"cluster.local\" \"replicas\" (atoi (include \"replicas\" $structural)) \"params\" $case.params \"ports\" $ports \"me\" true) }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: case-{{ $i }}\ndata:\n");
    for (i, (key, _)) in keys.iter().enumerate() {
        text.push_str(&format!(
            "  {key}: {{{{ include \"berth.pod-text\" (include \"s{i}\" $ctx) | include \"berth.json\" }}}}\n"
        ));
    }
    text.push_str("{{- end }}\n");
    text
}

/// The container strings of every example whose pods run their command as written (not one with
/// `[[files]]` or a value per member that one pod template cannot say, which the kubernetes
/// backend starts through a script of its own, not yet in the chart), rendered by a
/// chart with Helm's engine for many value sets, are what `berth compile --backend kubernetes`
/// writes with those values: the member context, the member count, the translation of the
/// spec's templates and the escaping, together.
#[test]
fn container_strings_are_what_kubernetes_writes() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let mut draw = Draw(0x5851_f42d_4c95_7f2d);
    let (mut compared, mut covered) = (0, Vec::new());
    for (name, path) in kubernetes_examples() {
        let spec: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if spec.get("files").is_some() {
            continue;
        }
        let container = &spec["container"];
        let mut keys: Vec<(String, String)> = Vec::new();
        for key in ["command", "args"] {
            for (i, source) in container
                .get(key)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .enumerate()
            {
                keys.push((format!("{key}-{i}"), source.as_str().unwrap().to_string()));
            }
        }
        for (variable, source) in container
            .get("env")
            .and_then(|e| e.as_table())
            .into_iter()
            .flatten()
        {
            if let Some(source) = source.as_str() {
                keys.push((format!("env-{variable}"), source.to_string()));
            }
        }
        let service = resolved(&path);
        let namespace = spec
            .get("backends")
            .and_then(|b| b.get("kubernetes"))
            .and_then(|k| k.get("namespace"))
            .and_then(|n| n.as_str())
            .unwrap_or("default");
        let (mut cases, mut expected) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let set = plausible_set(&service, &mut draw);
            let Some((strings, compiled_name)) = kubernetes_strings(&path, &set) else {
                continue;
            };
            if strings.get("command-0") == Some(&json!("/bin/sh")) && keys[0].1 != "/bin/sh" {
                break;
            }
            let mut params: Map<String, Value> = service
                .parameters
                .iter()
                .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
                .collect();
            params.extend(set);
            cases.push(json!({"name": compiled_name, "namespace": namespace, "params": params}));
            expected.push(strings);
        }
        if cases.is_empty() {
            continue;
        }
        covered.push(name.clone());
        assert!(
            cases.len() >= 6,
            "{name}: only {} value sets compiled",
            cases.len()
        );
        let chart = chart(
            &name,
            &[
                (
                    "templates/_helpers.tpl",
                    format!(
                        "{}{}{}",
                        helpers::json(),
                        helpers::MEMBER_CONTEXT,
                        helpers::POD_TEXT
                    ),
                ),
                ("templates/cases.yaml", container_chart(&spec, &keys)),
            ],
        );
        let helm = helm_says(
            &python,
            chart.path(),
            &json!({"value_sets": [], "renders": [{"cases": cases}]}),
        );
        let rendered = helm["rendered"][0][format!("{name}/templates/cases.yaml")]
            .as_str()
            .unwrap();
        assert_yaml_printable(rendered);
        let documents: Vec<Value> = serde_saphyr::from_multiple(rendered).unwrap();
        for (i, strings) in expected.iter().enumerate() {
            let data = documents[i]["data"].as_object().unwrap();
            for (key, text) in strings {
                assert_eq!(
                    data.get(key),
                    Some(text),
                    "{name} case {i} `{key}`: {:?}",
                    cases[i]["params"]
                );
                compared += 1;
            }
        }
    }
    eprintln!(
        "helm chart: {compared} container strings of {covered:?} equal to the kubernetes backend's"
    );
    assert!(
        compared >= 100 && covered.len() >= 5,
        "only {compared} strings of {covered:?}"
    );
}

/// Every object of a compile into `dir/out` by kind and name, as berth's kubernetes backend wrote
/// it, `managed-by` Helm as a chart says (the one difference a chart may make).
fn kubernetes_objects(out: &Path) -> BTreeMap<String, Value> {
    let pattern = out.join("kubernetes/*.yaml");
    let mut objects = BTreeMap::new();
    for path in glob::glob(pattern.to_str().unwrap()).unwrap() {
        let mut object: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(path.unwrap()).unwrap()).unwrap();
        relabel(&mut object);
        objects.insert(object_key(&object), object);
    }
    objects
}

fn object_key(object: &Value) -> String {
    format!(
        "{} {}",
        object["kind"].as_str().unwrap(),
        object["metadata"]["name"].as_str().unwrap()
    )
}

fn relabel(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(managed) = map.get_mut("app.kubernetes.io/managed-by") {
                *managed = json!("Helm");
            }
            map.values_mut().for_each(relabel);
        }
        Value::Array(items) => items.iter_mut().for_each(relabel),
        _ => {}
    }
}

/// Where `chart` and `berth` (two objects) first differ, and how.
fn difference(chart: &Value, berth: &Value, at: &str) -> String {
    match (chart, berth) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .find(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    difference(
                        a.get(k).unwrap_or(&Value::Null),
                        b.get(k).unwrap_or(&Value::Null),
                        &format!("{at}/{k}"),
                    )
                })
                .unwrap_or_default()
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => (0..a.len())
            .find(|i| a[*i] != b[*i])
            .map(|i| difference(&a[i], &b[i], &format!("{at}/{i}")))
            .unwrap_or_default(),
        _ => format!("at {at}: the chart writes {chart}, berth {berth}"),
    }
}

/// The objects of one rendering of a chart, by kind and name.
fn rendered_objects(rendered: &Value) -> BTreeMap<String, Value> {
    let mut objects = BTreeMap::new();
    let manifests = rendered.as_object().unwrap().iter();
    for (_, text) in manifests.filter(|(path, _)| !path.ends_with("NOTES.txt")) {
        let documents: Vec<Value> = serde_saphyr::from_multiple(text.as_str().unwrap()).unwrap();
        for object in documents.into_iter().filter(|d| !d.is_null()) {
            objects.insert(object_key(&object), object);
        }
    }
    objects
}

/// `text`, a spec named `name`, named `release` instead and, unless `namespace` is empty, with
/// its Kubernetes objects in `namespace`.
fn renamed(text: &str, name: &str, release: &str, namespace: &str) -> String {
    let text = text.replacen(
        &format!("name = \"{name}\""),
        &format!("name = \"{release}\""),
        1,
    );
    if namespace.is_empty() {
        return text;
    }
    let table = "[backends.kubernetes]\n";
    let options = text.split_once(table).map_or("", |(_, rest)| rest);
    let without = options
        .lines()
        .filter(|l| !l.starts_with("namespace ="))
        .collect::<Vec<_>>()
        .join("\n");
    let head = text
        .split_once(table)
        .map_or(text.as_str(), |(head, _)| head);
    format!("{head}{table}namespace = \"{namespace}\"\n{without}\n")
}

/// The chart `berth compile --backend helm` writes for the spec at `path`, its paths relative to
/// the chart's folder, or the errors that refused it.
fn example_chart(path: &Path) -> Result<Vec<berth_backend::OutputFile>, String> {
    let outcome = berth_compile::compile(&berth_compile::Request {
        spec: path.to_path_buf(),
        backends: vec!["helm".into()],
        ..Default::default()
    });
    let errors: Vec<String> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.is_input_error() || d.is_rule_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    let folder = format!("{}/", outcome.service_name.unwrap());
    let mut files = outcome.outputs.into_iter().next().unwrap().files;
    for file in &mut files {
        file.path = file.path.strip_prefix(&folder).unwrap().to_string();
    }
    Ok(files)
}

/// `files` written into a new directory.
fn written(files: &[berth_backend::OutputFile]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let at = dir.path().join(&file.path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, &file.contents).unwrap();
    }
    dir
}

/// The examples that target Kubernetes.
fn kubernetes_examples() -> Vec<(String, std::path::PathBuf)> {
    let targets = |path: &Path| crate::common::targets(path);
    examples()
        .into_iter()
        .filter(|(_, path)| targets(path).is_none_or(|t| t.iter().any(|b| b == "kubernetes")))
        .collect()
}

/// The chart of each example, rendered by Helm for many value sets, holds the same objects, field
/// for field, as `berth compile --backend kubernetes` with those values, `managed-by` aside; a
/// release of another name in another namespace, what the spec gives with that name there.
#[test]
fn chart_renders_what_kubernetes_writes() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let mut draw = Draw(0x1405_7b7e_f767_814f);
    let (mut charted, mut not_yet) = (Vec::new(), Vec::new());
    for (name, path) in kubernetes_examples() {
        let service = resolved(&path);
        let files = match example_chart(&path) {
            Ok(files) => files,
            Err(reason) => {
                not_yet.push(format!("{name}: {reason}"));
                continue;
            }
        };
        let chart = written(&files);
        let (releases, expected) = compiled_releases(&path, &service, &mut draw, 60);
        assert!(
            releases.len() >= 50,
            "{name}: only {} value sets compiled",
            releases.len()
        );
        assert_chart_renders(&python, &name, chart.path(), &releases, &expected);
        charted.push(format!("{name} ({} value sets)", releases.len()));
    }
    eprintln!(
        "helm chart: equal to the kubernetes backend's objects: {charted:?}; not yet: {not_yet:?}"
    );
    assert!(
        not_yet.is_empty(),
        "every example that targets kubernetes has a chart"
    );
}

/// A spec whose `spread` follows its member count (left out, with a `replicas` parameter whose
/// default is one member): the chart places several members as berth does.
#[test]
fn a_spread_left_to_the_member_count_follows_it() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let etcd = example_text("etcd");
    let text = etcd
        .replacen("spread = \"{{params.spread}}\"\n", "", 1)
        .replacen(
            "[params.replicas]\ndefault = 3",
            "[params.replicas]\ndefault = 1",
            1,
        );
    assert!(!text.contains("params.spread}}") && text.contains("default = 1"));
    let c = spec_chart(&text, "etcd.toml", 0x3c6e_f372_fe94_f82b, 30);
    let counts: std::collections::BTreeSet<String> = c
        .releases
        .iter()
        .map(|r| r["values"]["replicas"].to_string())
        .collect();
    assert!(counts.len() >= 4, "member counts drawn: {counts:?}");
    assert_chart_renders(&python, "etcd", c.chart.path(), &c.releases, &c.expected);
    // Nor does NOTES.txt warn of a spread left to several members, as berth does not.
    let helm = helm_says(
        &python,
        c.chart.path(),
        &json!({"value_sets": [], "renders": [{"replicas": 3}]}),
    );
    let notes = helm["rendered"][0]["etcd/templates/NOTES.txt"]
        .as_str()
        .unwrap();
    assert!(
        notes.contains("runs as 3 member(s)") && !notes.contains("no-spread"),
        "{notes}"
    );
}

/// A spec whose members' command lines differ in ways one pod template cannot say, for some
/// values only (a condition on the ordinal under a condition on a value, arithmetic on it in one
/// branch): every value set starts each member with its own line, in the chart as in berth's
/// objects.
#[test]
fn member_command_lines_that_differ_for_some_values_only_follow_the_values() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let text = r#"
name = "pm"

[params.bootstrap]
default = false

[params.mode]
default = "offset"
values = ["offset", "plain"]

[params.replicas]
default = 3
min = 1
max = 9

[container]
image = "busybox:1.36"
command = ["/bin/server"]
args = [
  "--name={{self.name}}",
  "{{#if params.bootstrap}}{{#if (eq self.ordinal \"0\")}}--bootstrap{{/if}}{{/if}}",
  "--id={{#if (eq params.mode \"offset\")}}{{add self.ordinal 1}}{{else}}{{self.ordinal}}{{/if}}",
]

[[ports]]
name = "client"
port = 7000

[[volumes]]
name = "data"
path = "/data"
size = "1Gi"
class = "fast-ssd"

[replication]
replicas = "{{params.replicas}}"

[health.liveness]
tcp = "client"

[health.readiness]
exec = ["true"]

[resources]
cpu = "1"
memory = "1Gi"
"#;
    let c = spec_chart(text, "pm.toml", 0x9b05_688c_2b3e_6c1f, 30);
    let drawn: std::collections::BTreeSet<String> = c
        .releases
        .iter()
        .map(|r| format!("{} {}", r["values"]["bootstrap"], r["values"]["mode"]))
        .collect();
    assert!(drawn.len() >= 4, "values drawn: {drawn:?}");
    assert_chart_renders(&python, "pm", c.chart.path(), &c.releases, &c.expected);
}

/// A spec whose members write their name or ordinal only for some values (`self` under a
/// condition on a parameter): the pod's identity variables are the same for every value set, in
/// the chart as in berth's objects.
#[test]
fn an_identity_written_for_some_values_only_is_the_same_pod() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let etcd = example_text("etcd");
    let text = etcd.replacen(
        "[params.replicas]",
        "[params.named]\ndefault = false\n\n[params.numbered]\ndefault = true\n\n[params.replicas]",
        1,
    );
    let text = text.replacen(
        "\"--name={{self.name}}\",",
        "\"--name={{self.name}}\",\n  \"{{#if params.named}}--log-outputs={{self.host}}{{/if}}\",\n  \"--x={{#if params.numbered}}{{self.ordinal}}{{/if}}\",",
        1,
    );
    assert!(text.contains("{{#if params.named}}") && text.contains("[params.numbered]"));
    let c = spec_chart(&text, "etcd.toml", 0x1f83_d9ab_fb41_bd6b, 30);
    let flips: std::collections::BTreeSet<String> = c
        .releases
        .iter()
        .map(|r| format!("{} {}", r["values"]["named"], r["values"]["numbered"]))
        .collect();
    assert!(flips.len() >= 4, "values drawn: {flips:?}");
    assert_chart_renders(&python, "etcd", c.chart.path(), &c.releases, &c.expected);
}

/// A spec made for a test, its chart, and up to `wanted` value sets berth accepts for it (drawn
/// from `seed`), each as a release with the objects `berth compile --backend kubernetes` writes.
struct SpecChart {
    /// The folder of the spec, kept while the test runs.
    _dir: tempfile::TempDir,
    chart: tempfile::TempDir,
    files: Vec<berth_backend::OutputFile>,
    releases: Vec<Value>,
    expected: Vec<BTreeMap<String, Value>>,
}

fn spec_chart(text: &str, file: &str, seed: u64, wanted: usize) -> SpecChart {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, text).unwrap();
    let service = resolved(&path);
    let files = example_chart(&path).unwrap();
    let (releases, expected) = compiled_releases(&path, &service, &mut Draw(seed), wanted);
    SpecChart {
        _dir: dir,
        chart: written(&files),
        files,
        releases,
        expected,
    }
}

/// Value sets berth accepts for the spec at `path` (`text`), up to `wanted`, each with the
/// release that plays it (another name and namespace now and then, or the name a parameter gives)
/// and the objects `berth compile --backend kubernetes` writes for it.
fn compiled_releases(
    path: &Path,
    service: &berth_model::Service,
    draw: &mut Draw,
    wanted: usize,
) -> (Vec<Value>, Vec<BTreeMap<String, Value>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let (mut releases, mut expected) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        if releases.len() == wanted {
            break;
        }
        let set = plausible_set(service, draw);
        let dir = tempfile::tempdir().unwrap();
        // A release of another name, in another namespace, is the spec with that name there.
        // Where a parameter names the service, the release's name is its value.
        let named_by = service
            .parameter_feeds
            .iter()
            .find(|(_, keys)| keys.contains("name"));
        let named = named_by.map(|(param, _)| {
            let given = set.iter().find(|(p, _)| p == param).map(|(_, v)| v.clone());
            let default = service.parameters.iter().find(|p| p.name == *param);
            given.or_else(|| default?.default.clone()).unwrap()
        });
        let (release, namespace) = match (&named, draw.below(4)) {
            (Some(name), _) => (name.as_str().unwrap(), ""),
            (None, 0) => (
                *draw.pick(&["db", "second-release", "a1"]),
                *draw.pick(&["default", "team-b"]),
            ),
            (None, _) => (service.name(), ""),
        };
        let spec = dir.path().join("spec.toml");
        std::fs::write(&spec, renamed(&text, service.name(), release, namespace)).unwrap();
        let mut args = vec![
            "compile",
            "spec.toml",
            "--backend",
            "kubernetes",
            "--out",
            "out",
        ];
        let sets: Vec<String> = set
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                )
            })
            .collect();
        for s in &sets {
            args.extend(["--set", s]);
        }
        if !crate::common::berth(&args, dir.path()).status.success() {
            continue;
        }
        for file in std::fs::read_dir(dir.path().join("out/kubernetes")).unwrap() {
            assert_yaml_printable(&std::fs::read_to_string(file.unwrap().path()).unwrap());
        }
        let objects = kubernetes_objects(&dir.path().join("out"));
        let namespace = objects
            .values()
            .find_map(|o| o["metadata"].get("namespace").cloned())
            .unwrap();
        let values: Map<String, Value> = set.into_iter().collect();
        releases.push(json!({"values": values, "name": release, "namespace": namespace}));
        expected.push(objects);
    }
    (releases, expected)
}

/// `text` holds only what Kubernetes' YAML reader (go-yaml) takes raw, and no character YAML 1.1
/// reads as a line break but `\n` and `\r`: the others must be escapes.
fn assert_yaml_printable(text: &str) {
    let raw = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
            && !matches!(c, '\u{2028}' | '\u{2029}')
    };
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !raw(*c)) {
        let line = text[..at].lines().last().unwrap_or_default();
        panic!("a raw {c:?} after `{line}` in:\n{text}");
    }
}

/// The chart at `chart` lints clean in strict mode at the Kubernetes release it targets and
/// renders, for each release, the objects expected, field for field.
fn assert_chart_renders(
    python: &Path,
    name: &str,
    chart: &Path,
    releases: &[Value],
    expected: &[BTreeMap<String, Value>],
) {
    // Linted at the release the chart targets, its `kubeVersion`'s lower bound.
    let chart_yaml = std::fs::read_to_string(chart.join("Chart.yaml")).unwrap();
    let target = chart_yaml
        .split("kubeVersion: \">=")
        .nth(1)
        .and_then(|rest| rest.split("-0\"").next())
        .unwrap_or_else(|| panic!("{name}: no kubeVersion in {chart_yaml}"));
    let lint = json!({"values": {}, "kube_version": target});
    let cases = json!({"value_sets": [], "releases": releases, "lint": lint});
    let helm = helm_says(python, chart, &cases);
    let lint = &helm["lint"];
    assert_eq!(lint["total_charts_linted"], 1, "{name}: {lint}");
    let findings = lint["messages"].as_array().unwrap();
    assert!(
        findings.iter().all(|m| m["severity"].as_i64() < Some(2)),
        "{name}: helm lint --strict: {findings:?}"
    );
    for (i, objects) in expected.iter().enumerate() {
        let rendered = &helm["releases"][i];
        assert!(
            rendered.is_object(),
            "{name}: Helm fails to render {}: {rendered}",
            releases[i]["values"]
        );
        for text in rendered.as_object().unwrap().values() {
            assert_yaml_printable(text.as_str().unwrap());
        }
        let rendered = rendered_objects(rendered);
        for (key, object) in objects {
            let chart_object = rendered.get(key).unwrap_or(&Value::Null);
            assert!(
                chart_object == object,
                "{name} {key} with {}: {}",
                releases[i]["values"],
                difference(chart_object, object, "")
            );
            assert_eq!(
                rendered.get(key),
                Some(object),
                "{name} {key} with {}",
                releases[i]["values"]
            );
        }
        assert_eq!(
            rendered.len(),
            objects.len(),
            "{name} with {}: {:?}",
            releases[i]["values"],
            rendered.keys()
        );
    }
}

/// `berth.shell-quote` quotes as `shell_quote` does: fixed cases of each of its forms, and
/// strings drawn from the characters that decide between them.
#[test]
fn shell_quote_is_berths() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let mut texts: Vec<String> = [
        "",
        "a",
        "a-b_c./=:,@%+",
        "a b",
        "it's",
        "end\\",
        "x\\'y",
        "$HOME",
        "`cmd`",
        "!bang",
        "\"q\"",
        "ünï",
        "a'b$c",
        "a'b\\",
        "a'\\'b",
        "line\nbreak",
        "tab\there",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    let alphabet = ['a', ' ', '\'', '"', '$', '`', '\\', '!', 'ü', '=', '\n'];
    let mut draw = Draw(0x6a09_e667_f3bc_c909);
    for _ in 0..400 {
        let length = draw.below(7);
        texts.push((0..length).map(|_| *draw.pick(&alphabet)).collect());
    }
    let quoted = render_each(
        &python,
        helpers::SHELL_QUOTE,
        "berth.shell-quote",
        &json!(texts),
    );
    assert_eq!(quoted.len(), texts.len());
    for (text, by_helm) in texts.iter().zip(&quoted) {
        let by_berth = berth_model::shell::shell_quote(text);
        assert_eq!(by_helm, &json!(by_berth), "{text:?}");
    }
}

/// Each example's chart rendered with its defaults, as manifests: kubernetes-validate `--strict`
/// at the oldest and newest Kubernetes berth targets accepts them, and checkov finds only what
/// the kubernetes backend's README justifies (the chart's objects are that backend's).
#[test]
fn rendered_charts_pass_kubernetes_validate_and_checkov() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let (Some(validator), Some(checkov)) = (
        crate::common::tool("kubernetes-validate"),
        crate::common::tool("checkov"),
    ) else {
        return;
    };
    let manifests = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, path) in kubernetes_examples() {
        let chart = written(&example_chart(&path).unwrap());
        let helm = helm_says(
            &python,
            chart.path(),
            &json!({"value_sets": [], "renders": [{}]}),
        );
        for (i, object) in rendered_objects(&helm["rendered"][0]).values().enumerate() {
            let file = manifests.path().join(format!("{name}-{i}.yaml"));
            std::fs::write(&file, serde_json::to_string(object).unwrap()).unwrap();
            files.push(file);
        }
    }
    crate::common::assert_kubernetes_validate(&validator, &files);
    let readme = std::fs::read_to_string(root().join("backends/kubernetes/README.md")).unwrap();
    let mut command = Command::new(&checkov);
    command.args([
        "--framework",
        "kubernetes",
        "--quiet",
        "--compact",
        "--skip-download",
        "--output",
        "json",
    ]);
    for file in &files {
        command.arg("--file").arg(file);
    }
    let output = command.output().unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["summary"]["passed"].as_u64() > Some(100)
            && report["summary"]["parsing_errors"] == 0,
        "{}",
        report["summary"]
    );
    for failed in report["results"]["failed_checks"].as_array().unwrap() {
        let id = failed["check_id"].as_str().unwrap();
        assert!(
            readme.contains(&format!("`{id}`")),
            "checkov finding {id} on {} is not justified",
            failed["resource"]
        );
    }
}

/// The warnings whose firing the values decide, which NOTES.txt says.
const WARNINGS_BY_VALUE: [&str; 4] = [
    "spec/quorum-size",
    "spec/cleartext-peer-traffic",
    "kubernetes/no-spread",
    "spec/mutable-image-tag",
];

/// NOTES.txt names every member and says each warning berth gives for the values (the member
/// count, the spread, the image's tag, on a spec without encryption), word for word, exactly where
/// `berth compile --set` gives it; an `[[allow]]` keeps it out of both.
#[test]
fn notes_say_the_warnings_berth_gives() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let etcd = example_text("etcd");
    let cleartext = etcd.replacen(
        "quorum = \"majority\"\n",
        "quorum = \"majority\"\nencryption = \"none\"\n",
        1,
    );
    let allowed =
        format!("{cleartext}\n[[allow]]\nrule = \"spec/mutable-image-tag\"\nreason = \"a test\"\n");
    let mut value_sets = Vec::new();
    for replicas in [1, 2, 3, 4] {
        for (spread, version) in [
            ("required", "v3.5.15"),
            ("none", "latest"),
            (
                "preferred",
                "v3.5.15@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
        ] {
            value_sets.push(json!({"replicas": replicas, "spread": spread, "version": version}));
        }
    }
    let mut warned = std::collections::BTreeMap::new();
    for (name, text) in [
        ("etcd", &etcd),
        ("cleartext", &cleartext),
        ("allowed", &allowed),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.toml");
        std::fs::write(&path, text).unwrap();
        let chart = written(&example_chart(&path).unwrap());
        let renders: Vec<Value> = value_sets.clone();
        let helm = helm_says(
            &python,
            chart.path(),
            &json!({"value_sets": [], "renders": renders}),
        );
        for (i, values) in value_sets.iter().enumerate() {
            let notes = helm["rendered"][i]["etcd/templates/NOTES.txt"]
                .as_str()
                .unwrap();
            let sets: Vec<String> = values
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    )
                })
                .collect();
            let mut args = vec!["--backend", "kubernetes"];
            for set in &sets {
                args.extend(["--set", set]);
            }
            let output = crate::common::compile_ok(dir.path(), "etcd.toml", &args);
            let stderr = crate::common::stderr(&output);
            for id in WARNINGS_BY_VALUE {
                let said = format!("warning[{id}]");
                match stderr.lines().find(|l| l.starts_with(&said)) {
                    Some(line) => {
                        assert!(
                            notes.contains(line),
                            "{name} {values}: `{line}` not in the notes:\n{notes}"
                        );
                        *warned.entry(id).or_insert(0) += 1;
                    }
                    None => assert!(
                        !notes.contains(&said),
                        "{name} {values}: berth does not say {said}:\n{notes}"
                    ),
                }
            }
            let replicas = values["replicas"].as_u64().unwrap();
            for ordinal in 0..replicas {
                let host = format!("cases-{ordinal}.cases.default.svc.cluster.local");
                assert!(notes.contains(&host), "{host} not in the notes:\n{notes}");
            }
        }
    }
    // Each rule warned of, and not always: the quorum for 1, 2 and 4 members in each spec.
    assert_eq!(warned.get("spec/quorum-size"), Some(&27), "{warned:?}");
    assert_eq!(
        warned.get("spec/cleartext-peer-traffic"),
        Some(&18),
        "{warned:?}"
    );
    assert_eq!(warned.get("kubernetes/no-spread"), Some(&9), "{warned:?}");
    assert_eq!(warned.get("spec/mutable-image-tag"), Some(&8), "{warned:?}");
}

/// A value `berth compile --set` refuses for a parameter that sets a structural value, Helm
/// refuses too, by `values.schema.json` or by a `fail` whose message carries berth's id; a value
/// berth accepts, Helm renders. Each example with such parameters is tried with values of the
/// wrong form, below berth's smallest, out of range, and one right.
#[test]
fn values_berth_refuses_fail_the_chart() {
    let Some(python) = python_with_helm() else {
        return;
    };
    const TEXTS: [&str; 12] = [
        "banana",
        "",
        "0",
        "10GB",
        "1Ki",
        "-1Gi",
        "1e400",
        "0.0001",
        "2",
        "3Gi",
        "1e00000000003",
        "1e-0000000000009",
    ];
    const NUMBERS: [i64; 6] = [0, 1001, -3, 70000, 1, 5];
    let (mut refused, mut accepted) = (0, 0);
    for (name, path) in kubernetes_examples() {
        let service = resolved(&path);
        let chart = written(&example_chart(&path).unwrap());
        let mut tries: Vec<(String, Value)> = Vec::new();
        for parameter in &service.parameters {
            // The release's name is the service's, and Helm checks a release's name itself.
            let feeds = service.parameter_feeds.get(&parameter.name);
            if feeds.is_some_and(|keys| keys.contains("name")) {
                continue;
            }
            match parameter.kind {
                Kind::Integer => {
                    tries.extend(NUMBERS.iter().map(|n| (parameter.name.clone(), json!(n))))
                }
                Kind::String => {
                    tries.extend(TEXTS.iter().map(|t| (parameter.name.clone(), json!(t))))
                }
                Kind::Boolean => {}
            }
        }
        let releases: Vec<Value> = tries
            .iter()
            .map(|(p, v)| json!({"values": {p: v}, "name": service.name(), "namespace": "default"}))
            .collect();
        let helm = helm_says(
            &python,
            chart.path(),
            &json!({"value_sets": [], "releases": releases}),
        );
        for (i, (parameter, value)) in tries.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let shown = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            let set = format!("{parameter}={shown}");
            let args = [
                "compile",
                path.to_str().unwrap(),
                "--backend",
                "kubernetes",
                "--out",
                "out",
                "--set",
                &set,
            ];
            let output = crate::common::berth(&args, dir.path());
            let stderr = crate::common::stderr(&output);
            let by_helm = &helm["releases"][i];
            if output.status.success() {
                assert!(
                    by_helm.is_object(),
                    "{name} --set {set}: berth accepts, Helm says {by_helm}"
                );
                accepted += 1;
                continue;
            }
            refused += 1;
            let message = by_helm.as_str().unwrap_or_else(|| {
                panic!("{name} --set {set}: berth refuses ({stderr}), Helm renders")
            });
            let id = stderr
                .split("error[")
                .nth(1)
                .and_then(|rest| rest.split(']').next());
            let id = id.unwrap_or_else(|| {
                panic!("{name} --set {set}: berth refuses without an id: {stderr}")
            });
            assert!(
                message.contains("values don't meet the specifications of the schema")
                    || message.contains(id),
                "{name} --set {set}: berth refuses with `{id}`, Helm's message does not say it: {message}"
            );
        }
    }
    eprintln!("helm chart: {refused} values refused by both, {accepted} accepted by both");
    assert!(
        refused >= 60 && accepted >= 20,
        "{refused} refused, {accepted} accepted"
    );
}

/// `berth.image-problem` finds a problem exactly where `berth_language::image::pin` refuses a
/// reference: fixed cases and references drawn from the pieces that decide.
#[test]
fn image_problems_are_berths() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let digest = format!("sha256:{}", "a".repeat(64));
    let mut references: Vec<String> = [
        "postgres:16.4",
        "redis",
        "quay.io/coreos/etcd:v3.5.15",
        "localhost:5000/team/db",
        "registry.example.com:5000/db:1",
        "Cockroach DB:latest",
        "Postgres:16",
        "db:",
        "db:-x",
        "db@sha256:abc",
        "a//b",
        "db-:1",
        "registry:port/db",
        "",
        "[::1]:5000/db",
        "a__b",
        "a___b",
        "a--b:1",
        "a.-b",
        "Reg.io/x",
        "x]:1/y",
        "Reg/x",
        "Q/a:1",
    ]
    .iter()
    .map(|r| r.to_string())
    .collect();
    references.push(format!("db@{digest}"));
    references.push(format!("db:1@{digest}"));
    let pieces = [
        "a",
        "b0",
        "Q",
        ".",
        "_",
        "__",
        "-",
        "/",
        ":",
        "@",
        "5000",
        "io",
        "localhost",
        "[",
        "]",
        " ",
        "ü",
    ];
    let mut draw = Draw(0xbb67_ae85_84ca_a73b);
    for _ in 0..600 {
        let length = 1 + draw.below(6);
        references.push((0..length).map(|_| *draw.pick(&pieces)).collect());
    }
    let problems = render_each(
        &python,
        berth_backend_helm::chart::IMAGE_PROBLEM,
        "berth.image-problem",
        &json!(references),
    );
    assert_eq!(problems.len(), references.len());
    let mut refused = 0;
    for (reference, problem) in references.iter().zip(&problems) {
        let problem = problem.as_str().unwrap();
        let by_berth = berth_language::image::pin(reference).is_err();
        assert_eq!(
            !problem.is_empty(),
            by_berth,
            "{reference:?}: Helm finds {problem:?}"
        );
        refused += usize::from(by_berth);
    }
    assert!(
        refused >= 100 && references.len() - refused >= 50,
        "{refused} of {} refused",
        references.len()
    );
}

/// The release's name plays the service's: a name berth refuses for `name`, the chart refuses.
#[test]
fn release_names_berth_refuses_fail_the_chart() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let path = root().join("examples/postgres.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let chart = written(&example_chart(&path).unwrap());
    let long = "x".repeat(53);
    let names = [
        "1db",
        "a.b",
        "-db",
        "db-",
        "x",
        &long[..52],
        &long[..],
        "second-release",
    ];
    let releases: Vec<Value> = names
        .iter()
        .map(|name| json!({"values": {}, "name": name, "namespace": "default"}))
        .collect();
    let helm = helm_says(
        &python,
        chart.path(),
        &json!({"value_sets": [], "releases": releases}),
    );
    let mut refused = 0;
    for (i, name) in names.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("spec.toml"),
            renamed(&text, "postgres", name, ""),
        )
        .unwrap();
        let args = [
            "compile",
            "spec.toml",
            "--backend",
            "kubernetes",
            "--out",
            "out",
        ];
        let by_berth = crate::common::berth(&args, dir.path()).status.success();
        let by_helm = &helm["releases"][i];
        assert_eq!(
            by_berth,
            by_helm.is_object(),
            "release `{name}`: Helm says {by_helm}"
        );
        if !by_berth {
            assert!(
                by_helm.as_str().unwrap().contains("spec/invalid-name"),
                "{by_helm}"
            );
            refused += 1;
        }
    }
    assert_eq!(
        refused, 5,
        "`1db`, `a.b`, `-db`, `db-` and 53 characters are refused"
    );
}

/// The chart of the spec `text`, written beside nothing else.
fn chart_of(text: &str) -> Result<Vec<berth_backend::OutputFile>, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, text).unwrap();
    example_chart(&path)
}

/// A structural value the chart would keep at the spec's default although the release or the
/// values change it (here a TLS secret named by a parameter) refuses the chart, saying
/// which; the spec's own `{{` in a string the chart writes as it is stays text, not an action.
#[test]
fn the_chart_keeps_no_value_it_cannot_compute_and_reads_no_spec_text_as_go() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let etcd = example_text("etcd");
    let with_tls =
        format!("{etcd}\n[tls]\nsecret = \"{{{{params.version}}}}-tls\"\npath = \"/tls\"\n");
    let refused = chart_of(&with_tls).unwrap_err();
    assert!(
        refused.contains("helm/not-in-chart")
            && refused.contains("`tls.secret`")
            && refused.contains("`version`"),
        "{refused}"
    );
    // The values are resolved with the spec's name: one the release names cannot follow it yet.
    let named = format!("{etcd}\n[tls]\nsecret = \"{{{{name}}}}-tls\"\npath = \"/tls\"\n");
    let refused = chart_of(&named).unwrap_err();
    assert!(
        refused.contains("`tls.secret`") && refused.contains("release name"),
        "{refused}"
    );

    let described = etcd.replacen("description = \"", "description = \"{{ not Go }} $x }} ", 1);
    let described = format!(
        "{described}\n[backends.kubernetes.storage_classes.fast-ssd]\nprovisioner = \"pd.csi.storage.gke.io\"\nparameters = {{ \"a{{{{ .Release.Namespace }}}}\" = \"x\", \"{{{{ fail .Release.Name }}}}\\\"\" = \"y\" }}\n"
    );
    assert!(
        described.contains("{{ not Go }}") && described.contains("\"a{{ .Release.Namespace }}\"")
    );
    let chart = written(&chart_of(&described).unwrap());
    let helm = helm_says(
        &python,
        chart.path(),
        &json!({"value_sets": [], "renders": [{}]}),
    );
    let objects = rendered_objects(&helm["rendered"][0]);
    let statefulset = &objects["StatefulSet cases"];
    let description = statefulset["metadata"]["annotations"]["berth.dev/description"].as_str();
    assert!(
        description.unwrap().starts_with("{{ not Go }} $x }} "),
        "{statefulset}"
    );
    let class = &objects["StorageClass fast-ssd"];
    assert_eq!(
        class["parameters"],
        json!({"a{{ .Release.Namespace }}": "x", "{{ fail .Release.Name }}\"": "y"}),
        "{class}"
    );
}

/// A spec whose values meet in berth's checks: a limit and its request, two port numbers, the
/// files' ConfigMap, whose size is the member count times a value, and a member that must exist.
const PAIRS_SPEC: &str = r#"
name = "pairs"

[params.replicas]
default = 3
min = 1
max = 9

[params.cpu]
default = "1"

[params.cpu_limit]
default = "2"

[params.memory]
default = "1Gi"

[params.client_port]
default = 7000
min = 1
max = 65535

[params.peer_port]
default = 7001
min = 1
max = 65535

[params.config]
default = "x"

[container]
image = "busybox:1.36"
command = ["sleep", "infinity"]
env = { THIRD = "{{peers.[2].host}}" }

[[ports]]
name = "client"
port = "{{params.client_port}}"

[[ports]]
name = "peer"
port = "{{params.peer_port}}"
expose = "peers"

[[volumes]]
name = "data"
path = "/data"
size = "1Gi"
class = "fast-ssd"

[[files]]
path = "/etc/pairs.conf"
content = "{{self.name}} {{params.config}}"

[replication]
replicas = "{{params.replicas}}"

[health.liveness]
tcp = "client"

[health.readiness]
exec = ["true"]

[resources]
cpu = "{{params.cpu}}"
cpu_limit = "{{params.cpu_limit}}"
memory = "{{params.memory}}"
memory_limit = "2Gi"
"#;

/// What berth refuses only for two values together, Helm refuses too, with berth's id, and what
/// berth accepts beside it, Helm renders: a CPU or memory limit below its request, two ports of
/// one number, the files' ConfigMap past 1 MiB for a member count, and a template that reads a
/// member past the member count.
#[test]
fn values_berth_refuses_together_fail_the_chart() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let (big, fits) = ("y".repeat(400 * 1024), "y".repeat(300 * 1024));
    let cases: Vec<(Value, Option<&str>)> = vec![
        (json!({}), None),
        (json!({"cpu": "3"}), Some("spec/invalid-value")),
        (json!({"cpu": "2"}), None),
        (json!({"cpu_limit": "500m"}), Some("spec/invalid-value")),
        (json!({"cpu": "1500m", "cpu_limit": "1.5"}), None),
        (json!({"memory": "3Gi"}), Some("spec/invalid-value")),
        (json!({"memory": "2Gi"}), None),
        (json!({"client_port": 7001}), Some("spec/duplicate")),
        (json!({"peer_port": 7000}), Some("spec/duplicate")),
        (json!({"client_port": 7002}), None),
        (json!({"config": big, "replicas": 3}), Some("spec/limit")),
        (json!({"config": fits, "replicas": 3}), None),
        (json!({"config": fits, "replicas": 4}), Some("spec/limit")),
        (json!({"replicas": 2}), Some("spec/undefined-variable")),
        (json!({"replicas": 4}), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("pairs.toml");
    std::fs::write(&spec, PAIRS_SPEC).unwrap();
    let chart = written(&example_chart(&spec).unwrap());
    let releases: Vec<Value> = cases
        .iter()
        .map(|(values, _)| json!({"values": values, "name": "pairs", "namespace": "default"}))
        .collect();
    let helm = helm_says(
        &python,
        chart.path(),
        &json!({"value_sets": [], "releases": releases}),
    );
    for (i, (values, refusal)) in cases.iter().enumerate() {
        let shown: String = values.to_string().chars().take(80).collect();
        let values_file = dir.path().join(format!("values-{i}.toml"));
        let table: toml::Table = serde_json::from_value(values.clone()).unwrap();
        std::fs::write(&values_file, toml::to_string(&table).unwrap()).unwrap();
        let args = [
            "compile",
            "pairs.toml",
            "--backend",
            "kubernetes",
            "--out",
            "out",
        ];
        let values_arg = values_file.to_str().unwrap();
        let output =
            crate::common::berth(&[&args[..], &["--values", values_arg]].concat(), dir.path());
        let by_helm = &helm["releases"][i];
        match refusal {
            None => {
                crate::common::assert_exit(&output, 0, &[]);
                assert!(
                    by_helm.is_object(),
                    "{shown}: berth accepts, Helm says {by_helm}"
                );
            }
            Some(id) => {
                crate::common::assert_exit(&output, 2, &[&format!("error[{id}]")]);
                let message = by_helm
                    .as_str()
                    .unwrap_or_else(|| panic!("{shown}: Helm renders"));
                assert!(message.contains(&format!("{id}: ")), "{shown}: {message}");
            }
        }
    }
}

/// A refusal only several members bring (`kubernetes/ordered-ready-deadlock`: ordered start with
/// a readiness check that waits for the peers), on a spec whose default is one member: the chart
/// renders one member and refuses more, with berth's id, as `berth compile --set` does.
#[test]
fn a_refusal_only_several_members_bring_fails_the_chart_for_several() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let text = r#"
name = "od"

[params.replicas]
default = 1
min = 1
max = 9

[container]
image = "busybox:1.36"
command = ["sleep", "infinity"]

[[ports]]
name = "client"
port = 7000

[[volumes]]
name = "data"
path = "/data"
size = "1Gi"
class = "fast-ssd"

[replication]
replicas = "{{params.replicas}}"
start = "ordered"

[health.liveness]
tcp = "client"

[health.readiness]
http = "/ready"
port = "client"

[resources]
cpu = "1"
memory = "1Gi"
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("od.toml"), text).unwrap();
    let chart = written(&example_chart(&dir.path().join("od.toml")).unwrap());
    let counts = [1, 2, 3];
    let releases: Vec<Value> = counts
        .iter()
        .map(|r| json!({"values": {"replicas": r}, "name": "od", "namespace": "default"}))
        .collect();
    let helm = helm_says(
        &python,
        chart.path(),
        &json!({"value_sets": [], "releases": releases}),
    );
    let id = "kubernetes/ordered-ready-deadlock";
    for (i, replicas) in counts.iter().enumerate() {
        let set = format!("replicas={replicas}");
        let args = [
            "compile",
            "od.toml",
            "--backend",
            "kubernetes",
            "--out",
            "out",
            "--set",
            &set,
        ];
        let output = crate::common::berth(&args, dir.path());
        let by_helm = &helm["releases"][i];
        if *replicas == 1 {
            crate::common::assert_exit(&output, 0, &[]);
            assert!(by_helm.is_object(), "{set}: {by_helm}");
        } else {
            crate::common::assert_exit(&output, 1, &[&format!("error[{id}]")]);
            let message = by_helm.as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("{id}: `start = \"ordered\"`")),
                "{set}: {message}"
            );
        }
    }
}

/// What a chart makes of the kubernetes backend's namespace, domain and aliases: the `Namespace`
/// object of `create_namespace` is left to `helm install --create-namespace`, a fixed cluster
/// domain and an alias that names the same Service for any values are the kubernetes backend's
/// own; a domain or an alias the values or the release would change refuses the chart.
#[test]
fn namespaces_domains_and_aliases_in_a_chart() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let etcd = example_text("etcd");
    let table = "[backends.kubernetes]\n";
    let with = |options: &str, aliases: &str| {
        let text = etcd.replacen(table, &format!("{table}{options}"), 1);
        format!("{text}\n[network]\naliases = [{aliases}]\n")
    };
    let text = with(
        "create_namespace = true\ncluster_domain = \"corp.internal\"\n",
        "\"store\"",
    );
    let mut c = spec_chart(&text, "etcd.toml", 0x510e_527f_ade6_82d1, 12);
    assert!(
        !c.files.iter().any(|f| f.path.contains("namespace")),
        "a Namespace template"
    );
    for objects in &mut c.expected {
        let namespaces: Vec<String> = objects
            .keys()
            .filter(|k| k.starts_with("Namespace "))
            .cloned()
            .collect();
        assert_eq!(namespaces.len(), 1, "berth writes the Namespace");
        objects.remove(&namespaces[0]);
        assert!(
            objects.contains_key("Service store"),
            "{:?}",
            objects.keys()
        );
    }
    assert_chart_renders(&python, "etcd", c.chart.path(), &c.releases, &c.expected);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("etcd.toml");
    for (options, aliases, refused) in [
        (
            "cluster_domain = \"{{params.version}}.internal\"\n",
            "\"store\"",
            "cluster_domain",
        ),
        ("", "\"store-{{self.ordinal}}\"", "store-{{self.ordinal}}"),
        ("", "\"{{name}}-store\"", "{{name}}-store"),
    ] {
        std::fs::write(&path, with(options, aliases)).unwrap();
        let reason = example_chart(&path).unwrap_err();
        assert!(
            reason.contains("helm/not-in-chart") && reason.contains(refused),
            "{reason}"
        );
    }
}
