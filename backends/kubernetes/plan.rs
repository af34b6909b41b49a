//! `berth plan` on Kubernetes: `plan.sh` beside the Kustomization (written by
//! `berth_backends_shared::plan`), which takes the deployed StatefulSet's pods to the new
//! definition one at a time. While it runs the StatefulSet updates `OnDelete`, so that a pod
//! changes only when the plan deletes it: a joining member is made from `plan/join-NAME.yaml` (the
//! StatefulSet one pod larger, whose template is a joining member's, while the other pods keep
//! theirs), and every pod restarts from `plan/statefulset.yaml` (the new definition). A member
//! that moves to new claims (`--replace`; every member, when a claim template changes otherwise
//! than by growing, as a new storage class does) leaves, loses its pod and claims, and joins
//! again from its `plan/join-NAME.yaml`. The last step applies the Kustomization. Not run here:
//! no cluster; the tests validate its objects and parse its `kubectl` commands.

use berth_backend::plan::{self, Deployed};
use berth_backend::{OutputFile, header_comment};
use berth_backends_shared::plan::{self as plan_script, Orchestrator};
use berth_backends_shared::script::Script;
use berth_diagnostic::{Diagnostic, errors};
use berth_language::template::Joining;
use berth_model::{Member, Service};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetUpdateStrategy};
use serde_json::Value;
use std::collections::BTreeMap;

use super::Settings;

/// The fields of a StatefulSet's spec Kubernetes lets an apply change.
pub const MUTABLE: [&str; 6] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

const ON_DELETE: &str = "plan/statefulset.yaml";

pub fn plan(
    service: &Service,
    settings: &Settings,
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Result<(Vec<OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let path = format!("40-statefulset-{}.yaml", service.name());
    let old = read_deployed(service, deployed, &path)?;
    let before = deployed_replicas(service, &old, &path)?;
    let new_text = &files
        .iter()
        .find(|f| f.path == path)
        .expect("a StatefulSet")
        .contents;
    let new = parse(new_text)?;
    let after = service.replicas();
    let claims = claim_changes(&old, &new)?;
    let lost = plan::lost(service, before, deployed).map_err(|d| vec![d])?;
    let moving = claims.moved || !deployed.replace().is_empty() || !lost.is_empty();
    let diagnostics = plan::check(service, before, moving)?;
    let orphan = immutable_change(&old, &new);
    refuse_together(orphan, before != after, !lost.is_empty())?;
    let mut replace = plan::replaced(service, before, deployed.replace()).map_err(|d| vec![d])?;
    if claims.moved {
        // Every member moves to a claim of the new template, from the highest ordinal down.
        replace = (0..before.min(after)).rev().collect();
    }
    let mut out = vec![on_delete(service, new_text, ON_DELETE, None)?];
    let mut rejoining = Vec::new();
    // A new member joins a StatefulSet one pod larger; a replaced one, the StatefulSet as large
    // as it is by then (members have left or joined first).
    let joining = (before..after).map(|o| (o, o + 1));
    for (ordinal, replicas) in joining.chain(plan::moved(&replace, &lost, before, after)) {
        let (file, template) = join_variant(service, settings, ordinal, replicas)?;
        if template != new["spec"]["template"] {
            rejoining.push(ordinal);
        }
        out.push(file);
    }
    let template_changed = old["spec"]["template"] != new["spec"]["template"];
    let steps = plan::steps(
        before,
        after,
        &replace,
        &lost,
        |_| template_changed,
        |o| rejoining.contains(&o),
    );
    // A replaced member's claims are new: they have the new size already.
    let grown: Vec<u32> = (0..before)
        .filter(|o| !replace.contains(o) && !lost.contains(o))
        .collect();
    let growth = match grown.is_empty() {
        true => BTreeMap::new(),
        false => claims.growth,
    };
    // Where members move, the StatefulSet goes before each one's claims (`vacate`), not before
    // the first check: a check that times out then leaves it in place.
    let orphan = orphan && replace.is_empty();
    let classes = match replace.is_empty() && lost.is_empty() {
        true => (Vec::new(), Vec::new()),
        false => storage_classes(files, &new),
    };
    let orchestrator = Steps {
        service,
        settings,
        claims: claim_names(&new),
        orphan,
        growth,
        grown,
        classes,
        rerun: changed_jobs(files, deployed)?,
    };
    let script = plan_script::script(service, before, &orchestrator, &steps)?;
    out.insert(0, OutputFile::script("plan.sh", script));
    Ok((out, diagnostics))
}

/// Refuses a change of a field Kubernetes cannot change on a StatefulSet (`immutable`) together
/// with a change of the member count or with lost members: each is planned on its own.
fn refuse_together(immutable: bool, count: bool, lost: bool) -> Result<(), Vec<Diagnostic>> {
    let what = match (immutable, count, lost) {
        (true, true, _) => "the member count",
        (true, _, true) => "`--lost` members",
        _ => return Ok(()),
    };
    Err(vec![
        plan::unsupported(format!(
            "{what} and a field Kubernetes cannot change on a StatefulSet change together"
        ))
        .help(format!(
            "plan them one after the other: first {what} with the rest as deployed, then the rest"
        )),
    ])
}

fn read_deployed(
    service: &Service,
    deployed: &dyn Deployed,
    path: &str,
) -> Result<Value, Vec<Diagnostic>> {
    let text = deployed.read(&format!("kubernetes/{path}"));
    let old = text.as_deref().map(parse).transpose().ok().flatten();
    match old {
        Some(old) if old["kind"] == "StatefulSet" && old["metadata"]["name"] == service.name() => {
            Ok(old)
        }
        _ => Err(vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!(
                    "`--against` holds no StatefulSet of `{}` at `kubernetes/{path}` to plan from",
                    service.name()
                ),
            )
            .help("point `--against` at the directory this service was compiled to for kubernetes"),
        ]),
    }
}

/// The deployed member count: 1 to [`plan::MOST_MEMBERS`], else no StatefulSet berth wrote.
fn deployed_replicas(service: &Service, old: &Value, path: &str) -> Result<u32, Vec<Diagnostic>> {
    let replicas = match &old["spec"]["replicas"] {
        Value::Null => Some(1),
        n => n.as_u64().and_then(|n| u32::try_from(n).ok()),
    };
    replicas
        .filter(|n| (1..=plan::MOST_MEMBERS).contains(n))
        .ok_or_else(|| {
            vec![Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!(
                    "the deployed `kubernetes/{path}` of `{}` has no member count berth writes (1 to {})",
                    service.name(),
                    plan::MOST_MEMBERS
                ),
            )
            .help("compile the deployed spec again to `--against`, then plan")]
        })
}

fn parse(text: &str) -> Result<Value, Vec<Diagnostic>> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        vec![Diagnostic::input(
            &errors::OUTPUT_YAML,
            format!("a StatefulSet does not read back: {e}"),
        )]
    })
}

/// Whether a field other than the claim templates changes that an apply cannot change.
fn immutable_change(old: &Value, new: &Value) -> bool {
    let empty = serde_json::Map::new();
    let (a, b) = (
        old["spec"].as_object().unwrap_or(&empty),
        new["spec"].as_object().unwrap_or(&empty),
    );
    a.keys()
        .chain(b.keys())
        .filter(|k| !MUTABLE.contains(&k.as_str()))
        .any(|k| a.get(k) != b.get(k))
}

/// The Jobs whose pod template changes (the init step's, with a new image or new peers), which
/// Kubernetes refuses on an existing Job: each is deleted before the Kustomization is applied,
/// and runs again. Refused where running it again is not known to be safe.
fn changed_jobs(
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Result<Vec<String>, Vec<Diagnostic>> {
    let mut names = Vec::new();
    for file in files.iter().filter(|f| f.path.contains("-job-")) {
        let new = parse(&file.contents)?;
        let old = deployed.read(&format!("kubernetes/{}", file.path));
        let Some(old) = old.as_deref().and_then(|t| parse(t).ok()) else {
            continue;
        };
        if new["kind"] != "Job" || old["spec"]["template"] == new["spec"]["template"] {
            continue;
        }
        let name = new["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if new["metadata"]["annotations"][super::RERUN_SAFE] != "true" {
            return Err(vec![plan::unsupported(format!(
                "the Job `{name}` changes, which Kubernetes refuses on an existing Job, and running `[init]` again is not known to be safe"
            ))
            .help("say what `[init] command` prints on an initialized cluster with `[init] done_output`: the plan then deletes the Job and it runs again")]);
        }
        names.push(name);
    }
    Ok(names)
}

/// How the claim templates change.
struct ClaimChanges {
    /// Claims that grow in place: by claim template name, the new size and the class.
    growth: BTreeMap<String, (String, String)>,
    /// A template changes otherwise (a new class, a smaller size): every member moves to a claim
    /// of the new template, one at a time.
    moved: bool,
}

/// What the claim templates' change asks: growth in place, or a move of every member. A volume
/// added or taken away is refused: the plan would need to know which data goes where.
fn claim_changes(old: &Value, new: &Value) -> Result<ClaimChanges, Vec<Diagnostic>> {
    let templates = |v: &Value| -> BTreeMap<String, Value> {
        v["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    t["metadata"]["name"].as_str()?.to_string(),
                    t["spec"].clone(),
                ))
            })
            .collect()
    };
    let (a, b) = (templates(old), templates(new));
    let mut changes = ClaimChanges {
        growth: BTreeMap::new(),
        moved: false,
    };
    for (name, new_spec) in &b {
        let Some(old_spec) = a.get(name) else {
            return Err(vec![plan::unsupported(format!(
                "the volume `{name}` is new: every member would need a new claim"
            ))]);
        };
        if old_spec == new_spec {
            continue;
        }
        let size = |s: &Value| {
            s["resources"]["requests"]["storage"]
                .as_str()
                .map(str::to_string)
        };
        let class = |s: &Value| s["storageClassName"].as_str().unwrap_or("").to_string();
        let parsed = |size: &Option<String>| {
            size.as_deref()
                .and_then(|s| berth_language::quantity::parse_quantity(s).ok())
        };
        let (old_size, new_size) = (size(old_spec), size(new_spec));
        let (from, to) = (parsed(&old_size), parsed(&new_size));
        let same_shape = without_size(old_spec) == without_size(new_spec);
        if same_shape && from.is_some() && from == to {
            // The same size written otherwise (`20Gi`, `20480Mi`): the claims stay as they are.
            continue;
        }
        let grows = matches!((from, to), (Some(a), Some(b)) if b > a);
        if grows && same_shape {
            let new_size = new_size.unwrap_or_default();
            changes
                .growth
                .insert(name.clone(), (new_size, class(new_spec)));
        } else {
            changes.moved = true;
        }
    }
    if a.keys().any(|name| !b.contains_key(name)) {
        return Err(vec![plan::unsupported(
            "a volume goes away: every member would need a new claim",
        )]);
    }
    if changes.moved {
        // The moved members' new claims have the new size: nothing grows in place.
        changes.growth.clear();
    }
    Ok(changes)
}

/// A claim template's spec without its requested size.
fn without_size(spec: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(requests) = spec
        .pointer_mut("/resources/requests")
        .and_then(Value::as_object_mut)
    {
        requests.remove("storage");
    }
    spec
}

/// The StorageClass files among `files`, and the classes `sts`'s claim templates name.
fn storage_classes(files: &[OutputFile], sts: &Value) -> (Vec<String>, Vec<String>) {
    let written = files
        .iter()
        .filter(|f| f.path.starts_with("10-storageclass-"))
        .map(|f| f.path.clone())
        .collect();
    let mut named: Vec<String> = sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["spec"]["storageClassName"].as_str().map(str::to_string))
        .collect();
    named.sort();
    named.dedup();
    (written, named)
}

fn claim_names(sts: &Value) -> Vec<String> {
    sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// `text`'s StatefulSet updating `OnDelete`, as `path`, with a comment saying what it is for.
fn on_delete(
    service: &Service,
    text: &str,
    path: &str,
    note: Option<&str>,
) -> Result<OutputFile, Vec<Diagnostic>> {
    let mut sts: StatefulSet = serde_saphyr::from_str(text).map_err(|e| {
        vec![Diagnostic::input(
            &errors::OUTPUT_YAML,
            format!("a StatefulSet does not read back: {e}"),
        )]
    })?;
    if let Some(spec) = sts.spec.as_mut() {
        spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
    }
    let yaml = berth_backend::yaml_text(&sts)?;
    let note = note.unwrap_or(
        "The new definition, updating OnDelete: plan.sh restarts each pod from it in turn.",
    );
    Ok(OutputFile::new(
        path,
        format!("{}# {note}\n{yaml}", header_comment(service, &[])),
    ))
}

/// The StatefulSet of `replicas` pods whose template is a joining member's, from which the
/// controller makes the missing pod `ordinal` (the others keep theirs), and that template.
fn join_variant(
    service: &Service,
    settings: &Settings,
    ordinal: u32,
    replicas: u32,
) -> Result<(OutputFile, Value), Vec<Diagnostic>> {
    let mut joining = service.clone();
    joining.replication.replicas.value = replicas;
    joining.templates.set_joining(Joining::Every);
    let lowered = super::lowered(&joining, settings, &[])?;
    let path = format!("40-statefulset-{}.yaml", service.name());
    let text = &lowered
        .files
        .iter()
        .find(|f| f.path == path)
        .expect("a StatefulSet")
        .contents;
    let template = parse(text)?["spec"]["template"].clone();
    let name = format!("{}-{ordinal}", service.name());
    let note =
        format!("{name} is made from this StatefulSet to join the running cluster (plan.sh).");
    let file = on_delete(
        service,
        text,
        &format!("plan/join-{name}.yaml"),
        Some(&note),
    )?;
    Ok((file, template))
}

/// How Kubernetes starts, restarts and retires a member (`plan-functions.sh` beside this file).
struct Steps<'a> {
    service: &'a Service,
    settings: &'a Settings,
    claims: Vec<String>,
    /// The StatefulSet is deleted with `--cascade=orphan` and made again: a field an apply cannot
    /// change changes.
    orphan: bool,
    /// Claims that grow: by claim template, the new size and the class.
    growth: BTreeMap<String, (String, String)>,
    /// The members whose claims grow in place: those deployed and not replaced.
    grown: Vec<u32>,
    /// Where members move to new claims: the StorageClass files berth writes, and the classes the
    /// new claims ask for.
    classes: (Vec<String>, Vec<String>),
    /// The Jobs deleted before the last apply, which makes them again (`changed_jobs`).
    rerun: Vec<String>,
}

impl Orchestrator for Steps<'_> {
    fn backend(&self) -> &'static str {
        "kubernetes"
    }

    fn member(&self, ordinal: u32) -> Member {
        let name = format!("{}-{ordinal}", self.service.name());
        let host = format!(
            "{name}.{}.{}.svc.{}",
            self.service.name(),
            self.settings.namespace,
            self.settings.cluster_domain
        );
        Member {
            ordinal: ordinal.to_string(),
            name,
            host,
            ..Default::default()
        }
    }

    fn functions(&self, script: &mut Script) -> Result<(), Vec<Diagnostic>> {
        script
            .text("namespace=")
            .word(&self.settings.namespace)
            .text("\n");
        script
            .text("container=")
            .name(self.service.name())
            .text("\n");
        script.text(include_str!("plan-functions.sh"));
        Ok(())
    }

    fn start_joining(&self, script: &mut Script, ordinal: u32) {
        let name = format!("{}-{ordinal}", self.service.name());
        script
            .text("run kubectl apply --filename ")
            .word(&format!("plan/join-{name}.yaml"))
            .text("\n");
    }

    fn restart(&self, script: &mut Script, ordinal: u32) {
        let name = format!("{}-{ordinal}", self.service.name());
        script.text("recreate ").name(&name).text("\n");
    }

    /// The StatefulSet one pod smaller, then the pod's claims (kept by the retention policy).
    fn retire(&self, script: &mut Script, ordinal: u32) {
        let name = format!("{}-{ordinal}", self.service.name());
        script
            .text("run kube scale statefulset ")
            .name(self.service.name());
        script
            .text(" --replicas=")
            .number(ordinal.into())
            .text("\n");
        script
            .text("until_passes ")
            .word(&format!("{name} gone"))
            .text(" gone ")
            .name(&name)
            .text("\n");
        self.delete_claims(script, &name, "");
    }

    /// The StatefulSet deleted (its other pods and claims kept), so that no controller makes the
    /// pod again before its claims are gone; then the pod, then its claims. A claim's volume stays
    /// where its class's `reclaimPolicy` is `Retain` (the classes berth declares), and goes with
    /// the claim under `Delete`. `start_joining` makes the StatefulSet again, and the pod on new
    /// claims.
    fn vacate(&self, script: &mut Script, ordinal: u32) {
        self.delete_member(script, ordinal, " --wait=true");
    }

    /// As `vacate`, with the pod deleted at once: on a lost node no kubelet confirms that its
    /// containers stopped, so a graceful delete would never end (Kubernetes' own advice for a
    /// StatefulSet pod on an unreachable node).
    fn abandon(&self, script: &mut Script, ordinal: u32) {
        self.delete_member(
            script,
            ordinal,
            " --grace-period=0 --force --ignore-not-found",
        );
    }

    /// On a node that is gone or no longer reports: a pod forced off a node that still runs it
    /// (one cut off the network) would run the member twice.
    fn check_lost(&self, script: &mut Script, ordinal: u32) {
        let name = format!("{}-{ordinal}", self.service.name());
        script.text("need_node_down ").name(&name).text("\n");
    }

    /// Checks that each growing claim's class can expand before anything changes, grows the
    /// claims, then makes the StatefulSet again where a field an apply cannot change changes
    /// (after the claims: a patch that fails leaves the StatefulSet as it was).
    fn prepare(&self, script: &mut Script) {
        let (written, named) = &self.classes;
        if !named.is_empty() {
            // Before any member loses its claims: a claim of a class that does not exist stays
            // Pending, and its member out of the cluster.
            script.step("the storage classes of the new claims");
            for file in written {
                script
                    .text("run kubectl apply --filename ")
                    .word(file)
                    .text("\n");
            }
            for class in named {
                script
                    .text("run kubectl get storageclass ")
                    .word(class)
                    .text("\n");
            }
        }
        for (size, class) in self.growth.values() {
            let title = match class.as_str() {
                "" => format!("the default storage class can grow a claim to {size}"),
                class => format!("the class {class} can grow a claim to {size}"),
            };
            script.step(&title);
            script.text("expandable=$(kubectl get storageclass ");
            match class.as_str() {
                "" => script.text("--output 'jsonpath={.items[?(@.metadata.annotations.storageclass\\.kubernetes\\.io/is-default-class==\"true\")].allowVolumeExpansion}')\n"),
                class => script.word(class).text(" --output 'jsonpath={.allowVolumeExpansion}')\n"),
            };
            script.text("if [ \"$expandable\" != true ]; then\n  printf 'berth plan stopped: the storage class %s does not allow volume expansion; plan again with --replace for each member, which moves them to new claims\\n' ");
            script
                .word(if class.is_empty() {
                    "(the default)"
                } else {
                    class
                })
                .text(" >&2\n  exit 1\nfi\n");
        }
        for (claim, (size, _)) in &self.growth {
            script.step(&format!("the claims `{claim}` grow to {size}"));
            let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": size}}}});
            for &ordinal in &self.grown {
                let pvc = format!("{claim}-{}-{ordinal}", self.service.name());
                script
                    .text("run kube patch persistentvolumeclaim ")
                    .name(&pvc);
                script.text(" --patch ").word(&patch.to_string()).text("\n");
            }
        }
        if self.orphan {
            script.step("the StatefulSet is made again, its pods and claims kept");
            script
                .text("run kube delete statefulset ")
                .name(self.service.name());
            script.text(" --cascade=orphan\n");
        }
    }

    fn before_restarts(&self, script: &mut Script) {
        script
            .text("run kubectl apply --filename ")
            .word(ON_DELETE)
            .text("\n");
    }

    fn finish(&self, script: &mut Script) {
        script.step("every object as the Kustomization says");
        for job in &self.rerun {
            script
                .text("run kube delete job ")
                .name(job)
                .text(" --ignore-not-found --cascade=foreground\n");
        }
        script.text("run kubectl apply --kustomize .\n");
        for job in &self.rerun {
            script
                .text("run kube wait --for=condition=complete ")
                .word(&format!("job/{job}"))
                .text(" \"--timeout=${timeout}s\"\n");
        }
    }
}

impl Steps<'_> {
    /// The StatefulSet deleted without its pods, then member `ordinal`'s pod (with `pod_flags`),
    /// then its claims.
    fn delete_member(&self, script: &mut Script, ordinal: u32, pod_flags: &'static str) {
        let name = format!("{}-{ordinal}", self.service.name());
        script
            .text("run kube delete statefulset ")
            .name(self.service.name());
        script.text(" --cascade=orphan --ignore-not-found\n");
        script
            .text("run kube delete pod ")
            .name(&name)
            .text(pod_flags)
            .text("\n");
        self.delete_claims(script, &name, " --wait=true --ignore-not-found");
    }

    /// Member `name`'s claims, each deleted with `flags`.
    fn delete_claims(&self, script: &mut Script, name: &str, flags: &'static str) {
        for claim in &self.claims {
            script
                .text("run kube delete persistentvolumeclaim ")
                .name(&format!("{claim}-{name}"))
                .text(flags)
                .text("\n");
        }
    }
}
