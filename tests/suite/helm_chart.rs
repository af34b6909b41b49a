//! The helm backend's pieces, proven with Helm's own code (helm-python-sdk): a chart's values
//! (`values.yaml` read back as the spec's defaults, `values.schema.json` refusing exactly the
//! value sets berth refuses) and its helpers (`berth.files-hash` giving the kubernetes backend's
//! `berth.dev/files` annotation).

use crate::common::{Draw, compile_example, diff_kubernetes_with, examples, root};
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
            let mut texts = vec![
                "v1.2.3",
                "yes",
                "0755",
                "ünï cödé",
                "a: b",
                "line\nbreak",
                "~",
            ];
            if parameter.default.is_some() {
                texts.push("");
            }
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

/// A value berth refuses for `parameter`.
fn invalid(parameter: &Declared, draw: &mut Draw) -> Value {
    let mut wrong = vec![json!([1]), json!({"a": 1})];
    match parameter.kind {
        Kind::String => {
            wrong.extend([json!(7), json!(true), json!("nul\u{0}"), json!("\u{F0000}")]);
            if parameter.values.is_some() {
                wrong.push(json!("not-listed"));
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
fn helm_says(python: &Path, chart: &Path, cases: &Value) -> Value {
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
        let feeds = BTreeMap::new();
        let chart = chart(
            &name,
            &[
                (
                    "values.yaml",
                    values::values_yaml(&name, &parameters, &feeds).unwrap(),
                ),
                (
                    "values.schema.json",
                    values::values_schema(&name, &parameters, &feeds),
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
    let template = "{{- range $i, $data := .Values.data }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hash-{{ $i }}\ndata:\n  hash: {{ include \"berth.files-hash\" $data | quote }}\n{{- end }}\n";
    let chart = chart(
        "hashes",
        &[
            ("templates/_helpers.tpl", helpers::FILES_HASH.to_string()),
            ("templates/hashes.yaml", template.to_string()),
        ],
    );
    let cases = json!({"value_sets": [], "renders": [{"data": data_sets}]});
    let helm = helm_says(&python, chart.path(), &cases);
    let rendered = helm["rendered"][0]["hashes/templates/hashes.yaml"]
        .as_str()
        .unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(rendered).unwrap();
    let hashes: Vec<Value> = documents
        .iter()
        .map(|d| d["data"]["hash"].clone())
        .collect();
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
    for (name, path) in examples() {
        if crate::common::targets(&path).is_some_and(|t| !t.iter().any(|b| b == "kubernetes")) {
            continue;
        }
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
