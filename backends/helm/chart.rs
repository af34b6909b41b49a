//! The chart of a service: the kubernetes backend's objects, lowered from the tagged copy of the
//! service, lifted into templates ([`crate::lift`]); the Go templates that compute each tagged
//! value (`templates/_helpers.tpl`, [`crate::context`]); `Chart.yaml`, `values.yaml` and
//! `values.schema.json`; or why there is no chart ([`crate::not_in_chart`]).

pub use crate::checks::IMAGE_PROBLEM;
use crate::context::helpers_tpl;
use crate::lift::{Lift, PLACEMENT, Replicas, SpreadVariants};
use crate::not_in_chart::NotInChart;
use crate::not_in_chart::not_yet;
use crate::tags::{Computed, tag_service};
use crate::values;
use berth_backend::{Backend, Form, Input, OutputFile};
use berth_diagnostic::Diagnostic;
use berth_language::params::Declared;
use berth_language::params::mentioned;
use berth_model::{Allow, Service, Spread};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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
/// and what it reads of the kubernetes backend's options.
pub(crate) struct Making<'a> {
    pub base: &'a dyn Backend,
    pub version: &'a str,
    /// What the chart reads of `[backends.kubernetes]`, read once.
    pub kubernetes: crate::KubernetesTarget,
}

/// The chart's files, `Chart.yaml` first, or why there is none.
pub(crate) fn chart(input: &Input, making: &Making) -> Result<Vec<OutputFile>, NotInChart> {
    let base = making.base;
    let service = input.service;
    if let Some(reason) = not_yet(input, &making.kubernetes) {
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
    let (lowered, several) =
        lower_tagged(input, base, &mut tagged.service, replicas_source.is_some())?;
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
        feeds: &service.parameter_feeds,
        unused: unused_values(input, making, &tagged.computed),
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
    // The header of every generated file; rules the spec allows are the kubernetes backend's
    // to name in its own files.
    let header = berth_backend::header_comment(service, &[]);
    for file in lowered
        .files
        .into_iter()
        .filter(|f| f.path.ends_with(".yaml"))
    {
        let lift = Lift::new(&tagged, replicas.as_ref(), spread.as_ref());
        files.extend(object_template(service, &header, file, lift)?);
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
    header: &str,
    mut file: OutputFile,
    lift: Lift,
) -> Result<Option<OutputFile>, String> {
    let Some(template) = lift.template(header, document(&mut file)?)? else {
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
    replicas_from_values: bool,
) -> Result<(berth_backend::Compiled, Vec<Diagnostic>), NotInChart> {
    let compiled = compile(input, base, tagged);
    if !replicas_from_values || !compiled.diagnostics.iter().any(Diagnostic::is_rule_error) {
        return Ok((checked(compiled)?, Vec::new()));
    }
    let mut alone = tagged.clone();
    alone.replication.replicas.value = 1;
    let alone = compile(input, base, &alone).diagnostics;
    let several: Vec<Diagnostic> = compiled
        .diagnostics
        .iter()
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
        form: Form::Documents,
        base: None,
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

/// The object of one of the kubernetes backend's files, handed over as a document.
fn document(file: &mut OutputFile) -> Result<serde_json::Value, String> {
    file.document
        .take()
        .ok_or_else(|| format!("the kubernetes backend gave `{}` as text", file.path))
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
        let mut statefulset = lowered
            .files
            .into_iter()
            .find(|f| f.path.contains("-statefulset-"))
            .ok_or("no StatefulSet")?;
        let mut object = document(&mut statefulset)?;
        let pod = object["spec"]["template"]["spec"]
            .as_object_mut()
            .ok_or("no pod template")?;
        let fields: serde_json::Map<String, serde_json::Value> = PLACEMENT
            .iter()
            .filter_map(|f| Some((f.to_string(), pod.remove(*f)?)))
            .collect();
        // Other compiles' objects than the one lifted, read for the chart's mark here.
        fields.values().try_for_each(crate::lift::refuse_marks)?;
        variants.push((word, fields));
    }
    Ok(variants)
}

/// The parameters the chart's objects do not read, and why: one that gives only the service's
/// name (the release's name stands for it) or the namespace (the release's stands for it), or
/// one only other backends read.
fn unused_values<'a>(
    input: &Input<'a>,
    making: &Making,
    computed: &[Computed],
) -> BTreeMap<&'a str, &'static str> {
    let service = input.service;
    let sources: Vec<&str> = computed.iter().map(Computed::source).collect();
    let structural = service
        .structural_sources
        .iter()
        .filter(|s| s.key != "name");
    let names = || service.parameters.iter().map(|p| p.name.as_str());
    // Each source scanned once for all the parameters.
    let read: BTreeSet<&str> = sources
        .into_iter()
        .chain(structural.map(|s| s.template.as_str()))
        .flat_map(|source| mentioned(source, names()))
        .collect();
    let namespace = making.kubernetes.namespace.as_deref();
    let in_namespace: BTreeSet<&str> = namespace
        .map(|source| mentioned(source, names()).into_iter().collect())
        .unwrap_or_default();
    let mut unused = BTreeMap::new();
    for name in names().filter(|name| !read.contains(name)) {
        let gives_name = service
            .parameter_feeds
            .get(name)
            .is_some_and(|keys| keys.contains("name"));
        let gives_namespace = in_namespace.contains(name);
        unused.insert(
            name,
            if gives_name {
                "Not used by the chart: the release's name stands for the service's `name`, which this value gives."
            } else if gives_namespace {
                "Not used by the chart: the release's namespace stands for the namespace this value gives."
            } else {
                "Not used by the chart: no object of the release reads this value."
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
        kube_version: format!(">=1.{}.0-0", making.kubernetes.minor()),
    };
    berth_backend::yaml::to_yaml(&chart)
}
