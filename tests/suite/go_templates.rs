//! The spec's templates written in Go's template language (`berth_language::go_template`, what a
//! chart will compute) render, under Helm's own engine, exactly what berth renders: every
//! `{{...}}` string of every example and a set of edge cases, each in many contexts drawn at
//! random (member counts, host names, parameter values, who joins).

use crate::common::{Draw, examples, tool};
use berth_language::go_template::to_go;
use berth_language::template::{Identity, Joining, Member, Templates};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::process::Command;

/// Contexts drawn for each group of strings.
const CONTEXTS: usize = 60;

/// Strings of one spec, with what its templates see: parameters as declared, and ports.
struct Group {
    name: String,
    params: Map<String, Value>,
    ports: Map<String, Value>,
    sources: Vec<String>,
}

const STRINGS: &[&str] = &[
    "v3.5.15",
    "a b",
    "quote\"d",
    "back\\slash",
    "{{not.a.template}}",
    "}}",
    "$(HOME)",
    "ünïcödé",
    "",
    "x: y",
    "#hash",
    "line\nbreak",
    "1000000",
    "true",
];

fn example_groups() -> Vec<Group> {
    examples()
        .into_iter()
        .map(|(name, path)| {
            let spec: toml::Value =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).expect("examples parse");
            let mut sources = Vec::new();
            collect_templates(&spec, &mut sources);
            let params = spec
                .get("params")
                .and_then(|p| p.as_table())
                .map(|table| {
                    table
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            let ports = spec
                .get("ports")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
                .map(|p| {
                    let port = serde_json::to_value(&p["port"]).unwrap();
                    (p["name"].as_str().unwrap().to_string(), port)
                })
                .collect();
            Group {
                name,
                params,
                ports,
                sources,
            }
        })
        .collect()
}

fn collect_templates(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) if s.contains("{{") && !out.contains(s) => out.push(s.clone()),
        toml::Value::Array(items) => items.iter().for_each(|v| collect_templates(v, out)),
        toml::Value::Table(table) => table.values().for_each(|v| collect_templates(v, out)),
        _ => {}
    }
}

fn edge_group() -> Group {
    let declared = |default: Value| json!({ "default": default });
    let params = [
        ("s", declared(json!("text"))),
        ("n", declared(json!(3))),
        ("f", declared(json!(0.25))),
        ("b", declared(json!(true))),
        ("list", declared(json!(["a", "b"]))),
        (
            "z",
            json!({ "default": "010", "values": ["010", "7", "0", "-3"] }),
        ),
    ];
    let sources = [
        "{{params.s}}|{{params.n}}|{{params.f}}|{{params.b}}",
        "{{#each peers}}{{#unless @first}},{{/unless}}{{this.name}}=http://{{this.host}}:{{@root.port.peer}}{{/each}}",
        "{{#each peers}}{{@index}}{{#if @last}}!{{/if}}{{/each}}",
        "{{#each peers}}{{#each ../peers}}{{../name}}>{{name}} {{/each}}{{/each}}",
        "{{join peer_hosts \",\"}}",
        "{{join params.list \" \"}}",
        "{{add self.ordinal 1}}/{{add params.n 2}}",
        "{{#if self.joining}}existing{{else}}new{{/if}}",
        "{{#if params.b}}yes{{else if params.s}}s{{else}}none{{/if}}",
        "{{#unless params.list}}empty{{else}}{{params.list.[0]}}{{/unless}}",
        "{{#if (eq self.ordinal \"0\")}}first{{/if}}{{#if (ne params.n 3)}}not3{{/if}}",
        "{{#if (and params.b params.s)}}both{{/if}}{{#if (or params.b params.s)}}either{{/if}}{{#if (not params.b)}}nb{{/if}}",
        "{{peers.[0].host}}:{{port.client}}",
        "{{!-- a comment --}}x{{! another }}y",
        "literal \\{{not}} and }} and {{{params.s}}}",
        "  {{~params.s~}}  |",
        "{{name}}-{{self.name}}",
        "{{#each params.list}}[{{this}}]{{else}}none{{/each}}",
        "{{#if self.published.client}}{{self.published.client}}{{else}}{{self.host}}{{/if}}",
        "{{member.name}}@{{member.host}}:{{#each members}}{{this.ordinal}}{{/each}}",
        "{{member.id}}",
        "{{#each self.published}}[{{this}}]{{else}}none{{/each}}",
        "{{#if (eq (add self.ordinal 1) \"2\")}}two{{/if}}|{{add params.z 1}}",
        "{{and params.b params.s}}|{{or params.s params.n}}|{{#if (eq (or params.b params.n) true)}}t{{/if}}",
        "{ {{~params.s~}} }{{join peer_hosts \"{\"}}",
        "{{#if peers.[1]}}several{{else}}one{{/if}}",
    ];
    Group {
        name: "edge cases".into(),
        params: params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ports: [("client", 2379), ("peer", 2380)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
        sources: sources.iter().map(|s| s.to_string()).collect(),
    }
}

/// A value of the parameter's kind: one of its `values`, within `min`/`max`, or a hard one.
fn draw_param(declared: &Value, draw: &mut Draw) -> Value {
    if let Some(values) = declared.get("values").and_then(Value::as_array) {
        return draw.pick(values).clone();
    }
    match &declared["default"] {
        Value::String(_) => json!(draw.pick(STRINGS)),
        Value::Number(n) if n.is_f64() => json!(draw.pick(&[0.25, 1.5, 0.125])),
        Value::Number(_) => {
            let min = declared.get("min").and_then(Value::as_i64);
            let max = declared.get("max").and_then(Value::as_i64);
            match (min, max) {
                (Some(min), Some(max)) => json!(min + draw.below((max - min + 1) as usize) as i64),
                _ => json!(draw.pick(&[0, 1, 3, 7, 1_000_000, -5])),
            }
        }
        Value::Bool(_) => json!(draw.below(2) == 1),
        Value::Array(_) => {
            let n = draw.below(4);
            json!((0..n).map(|_| *draw.pick(STRINGS)).collect::<Vec<_>>())
        }
        other => other.clone(),
    }
}

fn draw_members(service: &str, draw: &mut Draw) -> Vec<Member> {
    let count = 1 + draw.below(7);
    let style = draw.below(3);
    (0..count)
        .map(|i| {
            let name = format!("{service}-{i}");
            let host = match style {
                0 => name.clone(),
                1 => format!("{name}.{service}.ns.svc.cluster.local"),
                _ => format!("$(BERTH_POD_NAME).{service}"),
            };
            let mut published = BTreeMap::new();
            if draw.below(3) == 0 {
                published.insert("client".to_string(), format!("10.0.0.{i}:{}", 9092 + i));
            }
            Member {
                ordinal: i.to_string(),
                name,
                host,
                published,
            }
        })
        .collect()
}

/// One context's renderings by berth: (source index, whether it is a membership command's,
/// the text); a source that does not render there (a variable it lacks) is left out.
struct Rendered {
    member_context: Value,
    membership_context: Value,
    texts: Vec<(usize, bool, String)>,
}

fn render_group(group: &Group, draw: &mut Draw) -> Rendered {
    let service = draw.pick(&["etcd", "crdb1", "zk-a", "x"]).to_string();
    let params: Map<String, Value> = group
        .params
        .iter()
        .map(|(k, declared)| (k.clone(), draw_param(declared, draw)))
        .collect();
    // A port may come from a parameter (`port = "{{params.port}}"`), as berth resolves it.
    let structural = Templates::new(&service, params.clone(), Map::new());
    let ports = group
        .ports
        .iter()
        .map(|(name, port)| {
            let port = match port {
                Value::String(s) => json!(structural.try_structural(s).ok()?.parse::<i64>().ok()?),
                other => other.clone(),
            };
            Some((name.clone(), port))
        })
        .collect::<Option<Map<_, _>>>()
        .unwrap_or_default();
    let mut templates = Templates::new(&service, params, ports);
    let members = draw_members(&service, draw);
    let me = draw.pick(&members).clone();
    templates.set_joining(match draw.below(3) {
        0 => Joining::None,
        1 => Joining::Member(me.ordinal.clone()),
        _ => Joining::Every,
    });
    let identity = Identity::new(Some(&me), &members);
    let id = format!("{:x}", draw.next());
    let membership = templates.membership_context(&me, &members, Some(&id));
    let mut texts = Vec::new();
    for (i, source) in group.sources.iter().enumerate() {
        if let Ok(text) = templates.try_member(source, &identity) {
            texts.push((i, false, text));
        } else if let Ok(text) = templates.try_membership(source, &membership) {
            texts.push((i, true, text));
        }
    }
    Rendered {
        member_context: templates.member_context(&identity).data().clone(),
        membership_context: membership.data().clone(),
        texts,
    }
}

/// The chart of the cases: one named template per string (`g<group>-s<string>`), one ConfigMap per
/// context whose data is each string rendered there; what berth rendered, by ConfigMap and key;
/// how many contexts each string was rendered in.
#[derive(Default)]
struct Cases {
    defines: String,
    documents: String,
    contexts: Vec<Value>,
    expected: BTreeMap<String, BTreeMap<String, String>>,
    compared: Vec<Vec<usize>>,
}

impl Cases {
    fn add_group(&mut self, g: usize, group: &Group, draw: &mut Draw) {
        for (s, source) in group.sources.iter().enumerate() {
            let go = to_go(source, "$ctx")
                .unwrap_or_else(|e| panic!("{}: `{source}`: {}", group.name, e.reason));
            self.defines.push_str(&format!(
                "{{{{- define \"g{g}-s{s}\" }}}}{{{{ $ctx := . }}}}{go}{{{{ end }}}}\n"
            ));
        }
        self.compared.push(vec![0; group.sources.len()]);
        for c in 0..CONTEXTS {
            let rendered = render_group(group, draw);
            self.add_context(
                g,
                &format!("g{g}-c{c}-m"),
                rendered.member_context,
                &rendered.texts,
                false,
            );
            self.add_context(
                g,
                &format!("g{g}-c{c}-b"),
                rendered.membership_context,
                &rendered.texts,
                true,
            );
        }
    }

    fn add_context(
        &mut self,
        g: usize,
        doc: &str,
        context: Value,
        texts: &[(usize, bool, String)],
        membership: bool,
    ) {
        let at = self.contexts.len();
        self.contexts.push(context);
        let texts: BTreeMap<String, String> = texts
            .iter()
            .filter(|(_, b, _)| *b == membership)
            .map(|(s, _, text)| (format!("s{s}"), text.clone()))
            .collect();
        if texts.is_empty() {
            return;
        }
        self.documents.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {doc}\ndata:\n"
        ));
        for key in texts.keys() {
            self.documents.push_str(&format!(
                "  {key}: {{{{ include \"g{g}-{key}\" (index .Values.contexts {at}) | toJson }}}}\n"
            ));
            self.compared[g][key[1..].parse::<usize>().unwrap()] += 1;
        }
        self.expected.insert(doc.to_string(), texts);
    }

    /// Helm's rendering of the chart: by ConfigMap and key, the text.
    fn render(&self, python: &std::path::Path) -> BTreeMap<String, BTreeMap<String, String>> {
        let chart = tempfile::tempdir().unwrap();
        let at = |name: &str| chart.path().join(name);
        std::fs::create_dir(at("templates")).unwrap();
        std::fs::write(
            at("Chart.yaml"),
            "apiVersion: v2\nname: cases\nversion: 0.1.0\n",
        )
        .unwrap();
        std::fs::write(at("templates/_cases.tpl"), &self.defines).unwrap();
        std::fs::write(at("templates/cases.yaml"), &self.documents).unwrap();
        std::fs::write(
            at("values.json"),
            json!({ "contexts": self.contexts }).to_string(),
        )
        .unwrap();
        let output = Command::new(python)
            .arg(crate::common::root().join("tests/common/helm_render.py"))
            .arg(chart.path())
            .arg(at("values.json"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "helm render failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// The Python of the validators' venv, with helm-python-sdk (Helm's Go library).
pub fn python_with_helm() -> Option<std::path::PathBuf> {
    let python = tool("python3")?;
    let has_helm = Command::new(&python)
        .args(["-c", "import helm_python"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_helm {
        crate::common::engine::skip("helm-python-sdk is missing; run ./scripts/test");
        return None;
    }
    Some(python)
}

#[test]
fn go_templates_render_what_berth_renders() {
    let Some(python) = python_with_helm() else {
        return;
    };
    let mut groups = example_groups();
    groups.push(edge_group());
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let mut cases = Cases::default();
    for (g, group) in groups.iter().enumerate() {
        cases.add_group(g, group, &mut draw);
    }
    let rendered = cases.render(&python);
    let mut checked = 0;
    for (doc, texts) in &cases.expected {
        for (key, text) in texts {
            checked += 1;
            let go = rendered.get(doc).and_then(|d| d.get(key));
            assert_eq!(
                go,
                Some(text),
                "{doc} {key}: Helm's rendering differs from berth's"
            );
        }
    }
    eprintln!("go templates: {checked} renderings compared with Helm's");
    for (g, group) in groups.iter().enumerate() {
        for (s, source) in group.sources.iter().enumerate() {
            let count = cases.compared[g][s];
            assert!(
                count >= 10,
                "{}: `{source}` rendered in only {count} of {CONTEXTS} contexts",
                group.name
            );
        }
    }
}
