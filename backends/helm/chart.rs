//! The chart of a service: the kubernetes backend's objects, lowered from the tagged copy of the
//! service, lifted into templates ([`crate::lift`]); the Go templates that compute each tagged
//! value (`templates/_helpers.tpl`); `Chart.yaml`, `values.yaml` and `values.schema.json`.

pub use crate::checks::IMAGE_PROBLEM;
use crate::lift::{Lift, PLACEMENT, Replicas, SpreadVariants};
use crate::tags::{Computed, tag_service};
use crate::{helpers, values};
use berth_backend::{Backend, Input, OutputFile};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::source::Span;
use berth_language::go_template::to_go;
use berth_language::params::Declared;
use berth_language::params::mentioned;
use berth_language::template::reads;
use berth_model::{Allow, FileBody, Service, Spread};
use serde::Serialize;
use std::collections::BTreeMap;

/// Why a chart cannot be written: what it cannot compute, and where the spec says it.
#[derive(Debug)]
pub struct NotInChart {
    pub reason: String,
    pub span: Option<Span>,
}

impl From<String> for NotInChart {
    fn from(reason: String) -> Self {
        NotInChart { reason, span: None }
    }
}

impl From<&str> for NotInChart {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Why the chart of `service` cannot be written yet, if it cannot: a structural template (one
/// that may read parameters, the name or ports) of a key the lifting does not compute so far.
fn not_yet(service: &Service) -> Option<NotInChart> {
    const COMPUTED_KEYS: [&str; 10] = [
        "name",
        "ports.port",
        "replication.replicas",
        "replication.spread",
        "volumes.size",
        "volumes.class",
        "resources.cpu",
        "resources.memory",
        "resources.cpu_limit",
        "resources.memory_limit",
    ];
    let param_ports = service
        .parameter_feeds
        .values()
        .any(|keys| keys.contains("ports.port"));
    let names = || service.parameters.iter().map(|p| p.name.as_str());
    for source in &service.structural_sources {
        let read = berth_language::params::mentioned(&source.template, names());
        let varies = !read.is_empty()
            || reads(&source.template, "name")
            || (param_ports && reads(&source.template, "port"));
        // Only the single-engine backends run `docker_exec`.
        let kubernetes_reads = !source.key.ends_with(".docker_exec");
        if varies && kubernetes_reads && !COMPUTED_KEYS.contains(&source.key.as_str()) {
            let what = match read.first() {
                Some(parameter) => format!("the value `{parameter}`"),
                None => "the release name or a port".to_string(),
            };
            return Some(NotInChart {
                reason: format!(
                    "`{}` is the template `{}`, which the chart does not compute from {what} yet",
                    source.key, source.template
                ),
                span: Some(source.span.clone()),
            });
        }
    }
    // The kubernetes backend's Services for the aliases are the chart's as they are, unless the
    // values or the release change which names there are.
    let replicas_from_values = service
        .parameter_feeds
        .values()
        .any(|keys| keys.contains("replication.replicas"));
    let members_read = ["self", "peers", "peer_hosts", "members"];
    for alias in &service.network.aliases {
        let source = &alias.source;
        let varies = !berth_language::params::mentioned(source, names()).is_empty()
            || reads(source, "name")
            || (param_ports && reads(source, "port"))
            || (replicas_from_values && members_read.iter().any(|word| reads(source, word)));
        if varies {
            return Some(NotInChart {
                reason: format!(
                    "the alias `{source}` reads what the values or the release change, which the chart does not compute for aliases yet"
                ),
                span: alias.span.clone(),
            });
        }
    }
    None
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChartYaml<'a> {
    api_version: &'static str,
    name: &'a str,
    description: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_version: Option<String>,
    kube_version: String,
}

/// What a chart is made with besides the service: the kubernetes backend, the chart's version
/// and the oldest Kubernetes minor release it installs on.
pub struct Making<'a> {
    pub base: &'a dyn Backend,
    pub version: &'a str,
    pub kube_minor: u32,
}

/// The chart's files, `Chart.yaml` first, or why there is none.
pub fn chart(input: &Input, making: &Making) -> Result<Vec<OutputFile>, NotInChart> {
    let base = making.base;
    let service = input.service;
    if let Some(reason) = not_yet(service) {
        return Err(reason);
    }
    let replication = &service.replication;
    let replicas_source = service.structural_source(
        "replication.replicas",
        replication.replicas.span.as_ref(),
        None,
    );
    let spread_source =
        service.structural_source("replication.spread", replication.spread.span.as_ref(), None);
    let mut tagged = tagged_copy(service, replicas_source.is_some());
    let (lowered, several) = lower_tagged(input, base, &mut tagged.service)?;
    let spread = match spread_source {
        Some(_) => Some(spread_variants(input, base, &tagged.service)?),
        None => None,
    };
    let domain = lowered
        .tls_names
        .iter()
        .find_map(|name| {
            name.split_once(".svc.")
                .map(|(_, domain)| domain.to_string())
        })
        .ok_or("the kubernetes backend names no member host")?;
    let parameters = compiled_defaults(service);
    let marks = values::Marks {
        feeds: service.parameter_feeds.clone(),
        unused: unused_values(input, &tagged.computed),
    };
    let helpers = helpers_tpl(
        service,
        &tagged,
        replicas_source,
        spread_source,
        &domain,
        &several,
    )?;
    let mut files = vec![
        OutputFile::new("Chart.yaml", chart_yaml(service, making)?),
        OutputFile::new(
            "values.yaml",
            values::values_yaml(service.name(), &parameters, &marks)?,
        ),
        OutputFile::new(
            "values.schema.json",
            values::values_schema(service.name(), &parameters, &marks),
        ),
        OutputFile::new("templates/_helpers.tpl", helpers),
        OutputFile::new(
            "templates/NOTES.txt",
            crate::notes::notes(service, &tagged.computed, spread_source.is_some()),
        ),
    ];
    let replicas = replicas_source.map(|_| Replicas {
        quorum: replication.quorum.value,
    });
    for file in lowered.files.iter().filter(|f| f.path.ends_with(".yaml")) {
        let lift = Lift::new(&tagged, replicas.as_ref(), spread.as_ref());
        files.extend(object_template(service, file, lift)?);
    }
    Ok(files)
}

/// The tagged copy of `service`; where the values give the member count, with several members,
/// so that the objects hold what several members need (the templates leave it out for one).
fn tagged_copy(service: &Service, replicas_from_values: bool) -> crate::tags::Tagged {
    let mut tagged = tag_service(service);
    if replicas_from_values {
        let replication = &mut tagged.service.replication;
        replication.replicas.value = 3;
        // A spread the spec leaves out follows the member count: with several, `required`.
        if !replication.spread_written {
            replication.spread.value = Spread::Required;
        }
    }
    tagged
}

/// The template of one of the kubernetes backend's files, under `templates/` by the same name;
/// none for a `Namespace`.
fn object_template(
    service: &Service,
    file: &OutputFile,
    lift: Lift,
) -> Result<Option<OutputFile>, String> {
    let header = format!(
        "# Generated by berth from the spec of `{}`. Do not edit: change the spec and compile again.\n",
        service.name()
    );
    let yaml: Vec<&str> = file
        .contents
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect();
    let Some(template) = lift.template(&header, &yaml.join("\n"))? else {
        return Ok(None);
    };
    let path = file
        .path
        .replace(crate::tags::NAME_STAND_IN, service.name());
    Ok(Some(OutputFile::new(format!("templates/{path}"), template)))
}

/// The kubernetes backend's files for the tagged copy, and, where the values give the member
/// count, its refusals (rule errors) that the copy's three members bring where one member does
/// not, which the chart makes with `fail` for more than one member: each is allowed in the copy,
/// so that it lowers.
fn lower_tagged(
    input: &Input,
    base: &dyn Backend,
    tagged: &mut Service,
) -> Result<(berth_backend::Compiled, Vec<Diagnostic>), NotInChart> {
    let compiled = compile(input, base, tagged);
    let refused = |d: &&Diagnostic| d.is_input_error() || d.is_rule_error();
    if tagged.replicas() == 1 || !compiled.diagnostics.iter().any(|d| refused(&d)) {
        return Ok((checked(compiled)?, Vec::new()));
    }
    let mut alone = tagged.clone();
    alone.replication.replicas.value = 1;
    let alone = compile(input, base, &alone).diagnostics;
    let several: Vec<Diagnostic> = compiled
        .diagnostics
        .iter()
        .filter(refused)
        .filter(|d| d.is_rule_error() && !alone.iter().any(|a| a.code == d.code))
        .cloned()
        .collect();
    for refusal in &several {
        tagged.allow.push(Allow {
            rule: refusal.code.clone(),
            reason: "the chart refuses more than one member".into(),
            span: None,
        });
    }
    Ok((checked(compile(input, base, tagged))?, several))
}

/// What the kubernetes backend makes of `service`, a tagged copy.
fn compile(input: &Input, base: &dyn Backend, service: &Service) -> berth_backend::Compiled {
    base.compile(&Input {
        service,
        backend_tables: input.backend_tables,
        file: input.file,
        deployed: None,
    })
}

/// `compiled`, unless the kubernetes backend refused it.
fn checked(compiled: berth_backend::Compiled) -> Result<berth_backend::Compiled, String> {
    match compiled
        .diagnostics
        .iter()
        .find(|d| d.is_input_error() || d.is_rule_error())
    {
        Some(refusal) => Err(format!("the kubernetes objects: {}", refusal.message)),
        None => Ok(compiled),
    }
}

/// The pods' placement the kubernetes backend writes for each spread.
fn spread_variants(
    input: &Input,
    base: &dyn Backend,
    tagged: &Service,
) -> Result<SpreadVariants, String> {
    let words = [
        ("required", Spread::Required),
        ("preferred", Spread::Preferred),
        ("none", Spread::None),
    ];
    let mut variants = Vec::new();
    for (word, spread) in words {
        let mut copy = tagged.clone();
        copy.replication.spread.value = spread;
        let lowered = checked(compile(input, base, &copy))?;
        let statefulset = lowered
            .files
            .iter()
            .find(|f| f.path.contains("-statefulset-"))
            .ok_or("no StatefulSet")?;
        let mut object: serde_json::Value = serde_saphyr::from_str(&statefulset.contents)
            .map_err(|e| format!("cannot read the StatefulSet: {e}"))?;
        let pod = object["spec"]["template"]["spec"]
            .as_object_mut()
            .ok_or("no pod template")?;
        let fields = PLACEMENT
            .iter()
            .filter_map(|f| Some((f.to_string(), pod.remove(*f)?)))
            .collect();
        variants.push((word, fields));
    }
    Ok(variants)
}

/// The parameters the chart's objects do not read, and why: one that gives only the service's
/// name (the release's name stands for it) or the namespace (the release's holds the objects),
/// or one only other backends read.
fn unused_values<'a>(input: &Input<'a>, computed: &[Computed]) -> BTreeMap<&'a str, &'static str> {
    let service = input.service;
    let sources: Vec<&str> = computed.iter().map(Computed::source).collect();
    let structural = service
        .structural_sources
        .iter()
        .filter(|s| s.key != "name");
    let read: Vec<&str> = sources
        .into_iter()
        .chain(structural.map(|s| s.template.as_str()))
        .collect();
    let mut unused = BTreeMap::new();
    for parameter in &service.parameters {
        let name = parameter.name.as_str();
        if read
            .iter()
            .any(|source| !mentioned(source, std::iter::once(name)).is_empty())
        {
            continue;
        }
        let gives_name = service
            .parameter_feeds
            .get(name)
            .is_some_and(|keys| keys.contains("name"));
        unused.insert(
            name,
            if gives_name {
                "Not used by the chart: the release's name stands for the service's `name`, which this value gives."
            } else {
                "Not used by the chart: no object of the release reads this value (the release's namespace stands for a namespace it gives)."
            },
        );
    }
    unused
}

/// The parameters, each default the value this compile gave it (`--set`, `--values`), but for a
/// required parameter's, which stays required: a secret given to compile stays out of the chart.
fn compiled_defaults(service: &Service) -> Vec<Declared> {
    let mut parameters = service.parameters.clone();
    for parameter in parameters.iter_mut().filter(|p| p.default.is_some()) {
        parameter.default = service.templates.param(&parameter.name).cloned();
    }
    parameters
}

fn chart_yaml(service: &Service, making: &Making) -> Result<String, String> {
    let members = service.members();
    let identity = berth_model::Identity::new(members.first(), &members);
    let image = service
        .render(&service.container.image, &identity)
        .map_err(|d| d.message)?;
    let chart = ChartYaml {
        api_version: "v2",
        name: service.name(),
        description: service.description.as_deref(),
        kind: "application",
        version: making.version,
        app_version: berth_language::image::pin(&image).ok().flatten(),
        // `-0` admits the pre-release versions that managed clusters report (`1.35.2-gke.1`).
        kube_version: format!(">=1.{}.0-0", making.kube_minor),
    };
    berth_backend::yaml::to_yaml(&chart)
}

/// The shared helpers, one template per computed value (`berth.s<N>`), and `berth.context`,
/// which refuses the `several` member-count refusals for more than one member.
fn helpers_tpl(
    service: &Service,
    tagged: &crate::tags::Tagged,
    replicas_source: Option<&str>,
    spread_source: Option<&str>,
    domain: &str,
    several: &[Diagnostic],
) -> Result<String, String> {
    let (computed, contents, ports) = (&tagged.computed, &tagged.contents, &tagged.ports);
    let json = helpers::json();
    let mut text = [
        &json,
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
    .concat();
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
