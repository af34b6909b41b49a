//! `templates/_helpers.tpl`: the Go that computes each tagged value (`berth.s<N>`) and
//! `berth.context`, which every template starts with: the member count, the ports, the pods'
//! contexts, the files' ConfigMap, and the `fail`s that refuse what berth refuses.

use crate::helpers;
use crate::tags::{Computed, Tagged};
use berth_diagnostic::Diagnostic;
use berth_language::go_template::to_go;
use berth_model::{FileBody, Service};
use std::sync::LazyLock;

/// The helpers every chart holds as they are, made once per process.
static SHARED_HELPERS: LazyLock<String> = LazyLock::new(|| {
    [
        &helpers::json(),
        helpers::MEMBER_CONTEXT,
        helpers::POD_TEXT,
        helpers::SHELL_QUOTE,
        helpers::FILES_HASH,
        crate::checks::QUANTITY,
        crate::checks::INTEGER,
        crate::checks::WORD,
        crate::checks::IMAGE_PROBLEM,
        crate::checks::MOVING_TAG,
        crate::checks::RELEASE_NAME,
    ]
    .concat()
});

/// The shared helpers, one template per computed value (`berth.s<N>`), and `berth.context`,
/// which refuses the `several` member-count refusals for more than one member.
pub fn helpers_tpl(
    service: &Service,
    tagged: &Tagged,
    replicas_source: Option<&str>,
    spread_source: Option<&str>,
    domain: &str,
    several: &[Diagnostic],
) -> Result<String, String> {
    let (computed, contents, ports) = (&tagged.computed, &tagged.contents, &tagged.ports);
    let mut text = SHARED_HELPERS.clone();
    let translated =
        |source: &str| to_go(source, "$ctx").map_err(|e| format!("`{source}`: {}", e.reason));
    for (index, value) in computed.iter().enumerate() {
        text.push_str(&format!(
            "{{{{- define \"berth.s{index}\" }}}}{{{{ $ctx := . }}}}{}{{{{ end }}}}\n",
            translated(value.source())?
        ));
    }
    let replicas = match replicas_source {
        Some(source) => {
            text.push_str(&format!(
                "{{{{- define \"berth.replicas\" }}}}{{{{ $ctx := . }}}}{}{{{{ end }}}}\n",
                translated(source)?
            ));
            let mut go = "{{- $replicasText := include \"berth.replicas\" $structural }}\n{{- $_ = include \"berth.integer\" (dict \"text\" $replicasText \"key\" \"replication.replicas\" \"min\" 1 \"max\" 1000) }}\n{{- $replicas := atoi (trim $replicasText) }}\n".to_string();
            for refusal in several {
                let text = format!(
                    "{}: {}; help: {}",
                    refusal.code,
                    refusal.message,
                    refusal.help.as_deref().unwrap_or_default()
                );
                let text = serde_json::to_string(&text).expect("a string serializes");
                go.push_str(&format!(
                    "{{{{- if gt (int $replicas) 1 }}}}{{{{- fail {text} }}}}{{{{- end }}}}\n"
                ));
            }
            go
        }
        None => format!("{{{{- $replicas := {} }}}}\n", service.replicas()),
    };
    let spread = match spread_source {
        Some(source) => {
            text.push_str(&format!(
                "{{{{- define \"berth.spread\" }}}}{{{{ $ctx := . }}}}{}{{{{ end }}}}\n",
                translated(source)?
            ));
            "{{- $spread := include \"berth.spread\" $structural }}\n{{- $_ = include \"berth.word\" (dict \"text\" $spread \"key\" \"replication.spread\" \"words\" (list \"required\" \"preferred\" \"none\")) }}\n{{- $_ = set .out \"spread\" $spread }}\n"
        }
        None => "",
    };
    for (i, (_, _, source)) in ports.iter().enumerate() {
        text.push_str(&format!(
            "{{{{- define \"berth.port{i}\" }}}}{{{{ $ctx := . }}}}{}{{{{ end }}}}\n",
            translated(source)?
        ));
    }
    text.push_str(&context_tpl(
        service, &replicas, spread, domain, contents, ports, computed,
    ));
    Ok(text)
}

/// `berth.context`: sets into `out` what the templates compute from: `replicas`, `structural`
/// (what a structural template sees), `member` (a pod's context, its identity as marks), `init`,
/// `args` (what `berth.member-context` needs for any member), `spread` where the values set it,
/// and `files`: the ConfigMap's `data` and its volume's `items`, as the kubernetes backend
/// writes them.
fn context_tpl(
    service: &Service,
    replicas: &str,
    spread: &str,
    domain: &str,
    contents: &[(usize, usize)],
    computed_ports: &[(u16, String, String)],
    computed: &[Computed],
) -> String {
    let quoted = |text: &str| serde_json::to_string(text).expect("a string serializes");
    let ports: String = service
        .ports
        .iter()
        .map(|p| {
            let name = quoted(&p.name);
            match computed_ports.iter().position(|(_, port, _)| *port == p.name) {
                Some(i) => format!(
                    "{{{{- $port := include \"berth.port{i}\" (dict \"name\" $name \"params\" $params) }}}}\n{{{{- $_ = include \"berth.integer\" (dict \"text\" $port \"key\" \"ports.port\" \"min\" 1 \"max\" 65535) }}}}\n{{{{- $_ = set $ports {name} (atoi (trim $port)) }}}}\n"
                ),
                None => format!("{{{{- $_ = set $ports {name} {} }}}}\n", p.port),
            }
        })
        .collect::<String>()
        + &distinct_ports(service, computed_ports);
    let domain = quoted(domain);
    let files = files_tpl(service, contents);
    let class_allowed = service
        .allow
        .iter()
        .any(|a| a.rule == "kubernetes/missing-storage-class");
    let resources = service.resources.as_ref().map(|r| &r.value);
    let checks = crate::checks::structural_checks(computed, resources, class_allowed);
    let images = crate::checks::image_checks(computed);
    format!(
        r#"{{{{- define "berth.context" }}}}
{{{{- $root := .root }}}}
{{{{- $name := $root.Release.Name }}}}
{{{{- include "berth.release-name" $name }}}}
{{{{- $params := $root.Values | toJson | fromJson }}}}
{{{{- $_ := "" }}}}
{{{{- $ports := dict }}}}
{ports}{{{{- $structural := dict "name" $name "params" $params "port" $ports }}}}
{checks}{replicas}
{{{{- $args := dict "name" $name "namespace" $root.Release.Namespace "domain" {domain} "replicas" $replicas "params" $params "ports" $ports }}}}
{{{{- $member := dict }}}}
{{{{- $_ = include "berth.member-context" (merge (dict "out" $member "me" true) $args) }}}}
{{{{- $init := dict }}}}
{{{{- $_ = include "berth.member-context" (merge (dict "out" $init "me" false) $args) }}}}
{images}{files}{{{{- $_ = set .out "replicas" $replicas }}}}
{{{{- $_ = set .out "structural" $structural }}}}
{{{{- $_ = set .out "member" $member }}}}
{{{{- $_ = set .out "init" $init }}}}
{{{{- $_ = set .out "args" $args }}}}
{spread}{{{{- end }}}}
"#
    )
}

/// The Go that refuses two ports of one number and protocol where the values give a number, as
/// berth does (`spec/duplicate`).
fn distinct_ports(service: &Service, computed_ports: &[(u16, String, String)]) -> String {
    if computed_ports.is_empty() {
        return String::new();
    }
    let mut go = String::from("{{- $seen := dict }}\n");
    for port in &service.ports {
        let name = serde_json::to_string(&port.name).expect("a string serializes");
        let protocol = format!("{:?}", port.protocol);
        go.push_str(&format!(
            "{{{{- $number := get $ports {name} }}}}{{{{- $key := printf \"%d/{protocol}\" $number }}}}{{{{- if hasKey $seen $key }}}}{{{{- fail (printf \"spec/duplicate: port number %d is declared twice; help: give each port its own number\" $number) }}}}{{{{- end }}}}{{{{- $_ = set $seen $key true }}}}\n"
        ));
    }
    go
}

/// The Go that computes `$data` and `$items` of the files' ConfigMap: each content file under its
/// key, or where its template names `self`, under `<pod>.<key>` for each member.
fn files_tpl(service: &Service, contents: &[(usize, usize)]) -> String {
    let mut go = String::from("{{- $data := dict }}\n{{- $items := list }}\n");
    for &(index, tag) in contents {
        let file = &service.files[index];
        let key = serde_json::to_string(&file.key(index)).expect("a string serializes");
        let mode = file.mode;
        let per_pod = matches!(&file.body, FileBody::Content(t) if t.names_self());
        if per_pod {
            go.push_str(&format!(
                "{{{{- range $i := until (int $replicas) }}}}{{{{- $m := dict }}}}{{{{- $_ := include \"berth.member-context\" (merge (dict \"out\" $m \"me\" true \"ordinal\" $i) $args) }}}}{{{{- $key := printf \"%s-%d.%s\" $name $i {key} }}}}{{{{- $_ = set $data $key (include \"berth.s{tag}\" $m) }}}}{{{{- $items = append $items (dict \"key\" $key \"path\" $key \"mode\" {mode}) }}}}{{{{- end }}}}\n"
            ));
        } else {
            go.push_str(&format!(
                "{{{{- $_ = set $data {key} (include \"berth.s{tag}\" $member) }}}}{{{{- $items = append $items (dict \"key\" {key} \"path\" {key} \"mode\" {mode}) }}}}\n"
            ));
        }
    }
    if !contents.is_empty() {
        // The kubernetes backend refuses a ConfigMap Kubernetes would not store.
        go.push_str(&format!(
            "{{{{- $size := 0 }}}}{{{{- range $key, $text := $data }}}}{{{{- $size = add $size (len $key) (len $text) }}}}{{{{- end }}}}\n{{{{- if gt $size {CONFIG_MAP_LIMIT} }}}}{{{{- fail (printf \"spec/limit: kubernetes: the ConfigMap `%s-files` would hold %d KiB of `[[files]]` (every member's copy), over the 1 MiB Kubernetes stores in one object; help: make the files smaller or the same for every member, or put large content in the image or a volume\" $name (div $size 1024)) }}}}{{{{- end }}}}\n"
        ));
    }
    go + "{{- $_ = set .out \"files\" (dict \"data\" $data \"items\" $items) }}\n"
}

/// The most the kubernetes backend puts in the files' ConfigMap: what Kubernetes stores in one object.
const CONFIG_MAP_LIMIT: usize = 1024 * 1024;
