//! `berth plan` on compose: `plan.sh` beside `compose.yaml` (written by
//! `berth_backends_shared::plan`), which takes the deployed members (read from the deployed
//! `compose.yaml`) to the new file's one step at a time; and for each joining member whose
//! definition differs from a founder's, an override file `plan/join-NAME.yaml` it starts with.

use berth_backend::plan::{self, Deployed};
use berth_backend::{OutputFile, header_comment};
use berth_backends_shared::plan::{self as plan_script, Orchestrator};
use berth_backends_shared::script::Script;
use berth_backends_shared::single_host::{self, Publish};
use berth_diagnostic::{Diagnostic, errors};
use berth_model::{Member, Service};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Where the deployed file is, below `--against`.
const DEPLOYED: &str = "compose/compose.yaml";

/// What a joining member's override may set: compose replaces these keys of a service (and
/// merges `environment` and `labels` by name), so the override says all that differs.
const OVERRIDABLE: [&str; 5] = ["command", "entrypoint", "environment", "image", "labels"];

pub fn plan(
    service: &Service,
    publish: &Publish,
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Result<(Vec<OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let old = read_deployed(service, deployed)?;
    let before = deployed_members(service, &old)?;
    let new = parse(compose_text(files)).map_err(|e| vec![bug(e)])?;
    let after = service.replicas();
    let lost = plan::lost(service, before, deployed).map_err(|d| vec![d])?;
    let moving = !deployed.replace().is_empty() || !lost.is_empty();
    let diagnostics = plan::check(service, before, moving)?;
    let replace = plan::replaced(service, before, deployed.replace()).map_err(|d| vec![d])?;
    if let Some(volume) = service.volumes.iter().find(|v| v.external.is_some())
        && (after > before || moving)
    {
        return Err(vec![plan::unsupported(format!(
            "a member joins on a new, empty volume, but `volumes.external` names the volume `{}` holds its data in",
            volume.name
        ))]);
    }
    let mut joins = BTreeMap::new();
    let joining = (before..after).map(|o| (o, o + 1));
    let replacing = plan::moved(&replace, &lost, before, after);
    for (ordinal, members) in joining.chain(replacing) {
        let join = join_override(service, publish, &new, files, ordinal, members)?;
        if !join.is_empty() {
            joins.insert(ordinal, join);
        }
    }
    let changed = |o: u32| {
        let name = member_name(service, o);
        let definition = |file: &Value| file["services"][&name].clone();
        definition(&old) != definition(&new)
            || member_files(files, &name).any(|f| deployed.read(&format!("compose/{}", f.path)).as_deref() != Some(&f.contents))
            // compose recreates a member that mounts files from another directory than its
            // container was made from: one at a time here, rather than all at the next `up`.
            || (!deployed.is_out() && mounts_files(&new, &name))
    };
    let steps = plan::steps(before, after, &replace, &lost, changed, |o| {
        joins.contains_key(&o)
    });
    let orchestrator = Steps {
        service,
        old: &old,
        new: &new,
        joins: &joins,
    };
    let script = plan_script::script(service, before, &orchestrator, &steps)?;
    let mut out = vec![OutputFile::script("plan.sh", script)];
    out.extend(joins.into_values().flatten());
    Ok((out, diagnostics))
}

fn compose_text(files: &[OutputFile]) -> &str {
    files
        .iter()
        .find(|f| f.path == "compose.yaml")
        .map_or("", |f| f.contents.as_str())
}

/// The files compose mounts into one member (`files/NAME/...`).
fn member_files<'a>(files: &'a [OutputFile], member: &str) -> impl Iterator<Item = &'a OutputFile> {
    let prefix = format!("files/{member}/");
    files.iter().filter(move |f| f.path.starts_with(&prefix))
}

fn mounts_files(file: &Value, member: &str) -> bool {
    file["services"][member]["volumes"]
        .as_array()
        .is_some_and(|volumes| volumes.iter().any(|v| v["type"] == "bind"))
}

fn read_deployed(service: &Service, deployed: &dyn Deployed) -> Result<Value, Vec<Diagnostic>> {
    let text = deployed.read(DEPLOYED).ok_or_else(|| {
        vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!("`--against` holds no `{DEPLOYED}` to plan from"),
            )
            .help(format!(
                "point `--against` at the directory `{}` was compiled to for compose",
                service.name()
            )),
        ]
    })?;
    parse(&text).map_err(|e| {
        vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!("the deployed `{DEPLOYED}` is no Compose file berth wrote: {e}"),
            )
            .help("compile the deployed spec again to `--against`, then plan"),
        ]
    })
}

fn parse(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
}

fn bug(message: String) -> Diagnostic {
    Diagnostic::input(
        &errors::OUTPUT_YAML,
        format!("compose.yaml does not read back: {message}"),
    )
}

fn member_name(service: &Service, ordinal: u32) -> String {
    format!("{}-{ordinal}", service.name())
}

/// How many members the deployed file has: services labelled as members of this service,
/// numbered from 0 without a gap.
fn deployed_members(service: &Service, old: &Value) -> Result<u32, Vec<Diagnostic>> {
    let services = old["services"].as_object().cloned().unwrap_or_default();
    let mut ordinals: Vec<u32> = services
        .values()
        .filter(|s| s["labels"]["berth.service"] == service.name())
        .filter_map(|s| s["labels"]["berth.member"].as_str()?.parse().ok())
        .collect();
    ordinals.sort_unstable();
    let count = ordinals.len() as u32;
    let numbered = count <= plan::MOST_MEMBERS && ordinals == (0..count).collect::<Vec<_>>();
    if count == 0 || !numbered {
        return Err(vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!(
                    "the deployed `{DEPLOYED}` holds no members of `{}` numbered from 0",
                    service.name()
                ),
            )
            .help("point `--against` at the directory this service was compiled to"),
        ]);
    }
    Ok(count)
}

/// The files a member starts with to join the running cluster: an override of its definition as
/// the joining member of a cluster of `members` where that differs from a founder's in `new`
/// (`plan/join-NAME.yaml`), and the mounted files whose text differs (`plan/join-NAME/...`, which
/// the override mounts instead). Empty when it starts as a founder would.
fn join_override(
    service: &Service,
    publish: &Publish,
    new: &Value,
    founder_files: &[OutputFile],
    ordinal: u32,
    members: u32,
) -> Result<Vec<OutputFile>, Vec<Diagnostic>> {
    let mut joining = service.clone();
    joining.replication.replicas.value = members;
    joining
        .templates
        .set_joining(berth_language::template::Joining::Member(
            ordinal.to_string(),
        ));
    let lowered = super::lowered(&joining, publish, &[])?;
    let name = member_name(service, ordinal);
    let as_joining =
        parse(compose_text(&lowered.files)).map_err(|e| vec![bug(e)])?["services"][&name].clone();
    let as_founder = &new["services"][&name];
    let (Some(joining), Some(founder)) = (as_joining.as_object(), as_founder.as_object()) else {
        return Ok(Vec::new());
    };
    let mut differs = plan_script::joining_override(joining, founder, &OVERRIDABLE)
        .map_err(|key| vec![unsupported_difference(service, &name, &key)])?;
    let mut out = Vec::new();
    let mut mounts = Vec::new();
    for file in member_files(&lowered.files, &name) {
        let same = founder_files
            .iter()
            .any(|f| f.path == file.path && f.contents == file.contents);
        if same {
            continue;
        }
        let moved = format!(
            "plan/join-{name}/{}",
            &file.path[format!("files/{name}/").len()..]
        );
        let source = format!("./{}", file.path);
        let mount = joining["volumes"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["source"] == source.as_str()))
            .cloned();
        let Some(mut mount) = mount else {
            return Err(vec![unsupported_difference(service, &name, "volumes")]);
        };
        mount["source"] = Value::from(format!("./{moved}"));
        mounts.push(mount);
        out.push(OutputFile::with_mode(
            moved,
            file.contents.clone(),
            file.mode,
        ));
    }
    if !mounts.is_empty() {
        // compose merges `volumes` by their target: these replace the founder's files.
        differs.insert("volumes".into(), Value::from(mounts));
    }
    if differs.is_empty() {
        return Ok(out);
    }
    let file = BTreeMap::from([("services", BTreeMap::from([(name.clone(), differs)]))]);
    let contents = format!(
        "{}# {name} starts with this file beside compose.yaml to join the running cluster (plan.sh).\n{}",
        header_comment(service, &[]),
        berth_backend::yaml::to_yaml(&file).map_err(|e| vec![bug(e.to_string())])?
    );
    out.insert(0, OutputFile::new(override_path(&name), contents));
    Ok(out)
}

fn override_path(member: &str) -> String {
    format!("plan/join-{member}.yaml")
}

fn unsupported_difference(service: &Service, member: &str, key: &str) -> Diagnostic {
    plan::unsupported(format!(
        "`{member}` joins the running cluster with another `{key}` than a founding member's, which a compose plan cannot give it"
    ))
    .help(format!(
        "let `self.joining` change only the command, entrypoint, environment, image or files of `{}`",
        service.name()
    ))
}

/// How compose starts, restarts and retires a member (`plan-functions.sh` beside this file).
struct Steps<'a> {
    service: &'a Service,
    old: &'a Value,
    new: &'a Value,
    /// The files each joining member starts with, where it does not start as a founder.
    joins: &'a BTreeMap<u32, Vec<OutputFile>>,
}

impl Orchestrator for Steps<'_> {
    fn backend(&self) -> &'static str {
        "compose"
    }

    fn member(&self, ordinal: u32) -> Member {
        plan_script::member_by_name(self.service, ordinal)
    }

    fn functions(&self, script: &mut Script) -> Result<(), Vec<Diagnostic>> {
        let service = self.service;
        script.text("service=").name(service.name()).text("\n");
        plan_script::network_and_image(script, service, "compose")?;
        script.text(include_str!("plan-functions.sh"));
        // compose.yaml passes these on from the environment `docker compose` runs in.
        script.script(&single_host::environment_secret_checks(service));
        Ok(())
    }

    /// The files the user puts beside compose.yaml (secrets) that the new members mount.
    fn user_files(&self) -> Vec<String> {
        let sources: BTreeSet<&str> = self.new["services"]
            .as_object()
            .into_iter()
            .flat_map(|services| services.values())
            .flat_map(|s| s["volumes"].as_array().into_iter().flatten())
            .filter(|v| v["type"] == "bind")
            .filter_map(|v| v["source"].as_str())
            .filter(|source| source.starts_with("./secrets/"))
            .collect();
        sources.into_iter().map(str::to_string).collect()
    }

    /// The secrets the members take from the environment the plan runs in.
    fn environment(&self) -> Vec<String> {
        single_host::environment_secret_names(self.service)
    }

    fn start_joining(&self, script: &mut Script, ordinal: u32) {
        let name = member_name(self.service, ordinal);
        script.text("run compose -f compose.yaml ");
        if self.joins.contains_key(&ordinal) {
            script.text("-f ").word(&override_path(&name)).text(" ");
        }
        script.text("up -d --no-deps ").name(&name).text("\n");
    }

    fn restart(&self, script: &mut Script, ordinal: u32) {
        let name = member_name(self.service, ordinal);
        script
            .text("run compose -f compose.yaml up -d --no-deps ")
            .name(&name)
            .text("\n");
    }

    /// Its container (found by compose's labels: the new file may not define it), then its
    /// volumes, never an external one, which holds data berth did not create.
    fn retire(&self, script: &mut Script, ordinal: u32) {
        self.remove(script, ordinal, self.service.stop_grace.value);
    }

    /// As it retires, with no time to stop: a lost member's container (its disk gone) is killed.
    fn abandon(&self, script: &mut Script, ordinal: u32) {
        self.remove(script, ordinal, 0);
    }
}

impl Steps<'_> {
    /// Member `ordinal`'s container, given `grace` seconds to stop, then its volumes.
    fn remove(&self, script: &mut Script, ordinal: u32, grace: u64) {
        let name = member_name(self.service, ordinal);
        script
            .text("retire ")
            .name(&name)
            .text(" ")
            .number(grace)
            .text("\n");
        for volume in berth_volumes(self.service, self.old, &name) {
            script.text("remove_volume ").word(volume).text("\n");
        }
    }
}

/// The volumes of member `name` in the Compose `file` that berth names for it (`<member>-<volume>`,
/// declared under that name, not external): a deployed file may have been changed by someone else.
fn berth_volumes<'a>(service: &Service, file: &'a Value, name: &str) -> Vec<&'a str> {
    let declared = &file["volumes"];
    file["services"][name]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] == "volume")
        .filter_map(|v| v["source"].as_str())
        .filter(|source| declared[*source]["external"] != true)
        .filter(|source| declared[*source]["name"].as_str() == Some(source))
        .filter(|source| {
            service
                .volumes
                .iter()
                .any(|v| **source == format!("{name}-{}", v.name))
        })
        .collect()
}
