//! `berth plan` on swarm: `plan.sh STACK` beside `deploy.sh` (written by
//! `berth_backends_shared::plan`), which takes the deployed members (read from the deployed
//! `members/NAME.yaml`) to the new ones one step at a time: a member joins or restarts by a
//! `docker stack deploy` of its own file (with `plan/join-NAME.yaml` where a joining member
//! differs from a founder), leaves by `docker service rm`; membership commands and checks run as
//! swarm jobs of the member image on the members' network. `prepare-nodes.sh` of the new
//! directory labels the nodes of new members first.

use berth_backend::plan::{self, Deployed};
use berth_backend::{OutputFile, header_comment};
use berth_backends_shared::plan::{self as plan_script, Orchestrator};
use berth_backends_shared::script::Script;
use berth_diagnostic::{Diagnostic, errors};
use berth_language::template::Joining;
use berth_model::{Member, RunOn, Service};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::Settings;

/// What a joining member's override may set: `docker stack deploy` with several files replaces
/// these keys of a service (and merges `environment` by name).
const OVERRIDABLE: [&str; 4] = ["command", "entrypoint", "environment", "image"];

pub fn plan(
    service: &Service,
    settings: &Settings,
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Result<(Vec<OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let before = deployed_members(service, deployed)?;
    let after = service.replicas();
    let lost = plan::lost(service, before, deployed).map_err(|d| vec![d])?;
    let moving = !deployed.replace().is_empty() || !lost.is_empty();
    let diagnostics = plan::check(service, before, moving)?;
    if service
        .membership
        .as_ref()
        .is_some_and(|m| m.run == RunOn::Member)
    {
        return Err(vec![plan::unsupported(
            "`[membership] run = \"member\"`: Swarm cannot run a command inside a member's container on another node",
        )
        .help("write the commands to address the members by `host`, with what they need in the image, and set `run = \"oneoff\"`: they then run as swarm jobs on the members' network")]);
    }
    refuse_split_entrypoint(service)?;
    let replace = plan::replaced(service, before, deployed.replace()).map_err(|d| vec![d])?;
    if moving && !*settings.pin {
        return Err(vec![plan::unsupported(
            "`--replace` and `--lost` move a member to a node where its volumes are new, and `pin = false` lets Swarm start it on any node, its old one too",
        )
        .help("plan without `--replace` and `--lost`, or set `pin = true` and run prepare-nodes.sh first")]);
    }
    if moving && settings.volume_driver != "local" {
        return Err(vec![plan::unsupported(format!(
            "`--replace` and `--lost` move a member to a node where its `local` volumes are new and empty; a volume of driver `{}` may follow it there with its data",
            settings.volume_driver
        ))
        .help("empty the member's volumes with the driver's own tools, or plan without `--replace` and `--lost`")]);
    }
    let definition = |text: Option<String>, o: u32| -> Value {
        let name = member_name(service, o);
        text.and_then(|t| serde_saphyr::from_str::<Value>(&t).ok())
            .map(|v| v["services"][&name].clone())
            .unwrap_or(Value::Null)
    };
    let new_file = |o: u32| {
        let path = format!("members/{}.yaml", member_name(service, o));
        files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.contents.clone())
    };
    let mut joins = BTreeMap::new();
    let joining = (before..after).map(|o| (o, o + 1));
    for (ordinal, members) in joining.chain(plan::moved(&replace, &lost, before, after)) {
        let founder = definition(new_file(ordinal), ordinal);
        if let Some(file) = join_override(service, settings, &founder, ordinal, members)? {
            joins.insert(ordinal, file);
        }
    }
    let changed = |o: u32| {
        let old = deployed.read(&format!("swarm/members/{}.yaml", member_name(service, o)));
        definition(old, o) != definition(new_file(o), o)
    };
    let steps = plan::steps(before, after, &replace, &lost, changed, |o| {
        joins.contains_key(&o)
    });
    let orchestrator = Steps {
        service,
        joins: &joins,
        before,
        moving: replace.len() + lost.len(),
    };
    let script = plan_script::script(service, before, &orchestrator, &steps)?;
    let mut out = vec![OutputFile::script("plan.sh", script)];
    out.extend(joins.into_values());
    Ok((out, diagnostics))
}

fn member_name(service: &Service, ordinal: u32) -> String {
    format!("{}-{ordinal}", service.name())
}

/// How many members are deployed: the member files, numbered from 0 without a gap.
fn deployed_members(service: &Service, deployed: &dyn Deployed) -> Result<u32, Vec<Diagnostic>> {
    let mut count = 0;
    let path = |o: u32| format!("swarm/members/{}.yaml", member_name(service, o));
    while count < plan::MOST_MEMBERS && deployed.read(&path(count)).is_some() {
        count += 1;
    }
    if count == 0 {
        return Err(vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!(
                    "`--against` holds no `swarm/members/{}.yaml` to plan from",
                    member_name(service, 0)
                ),
            )
            .help("point `--against` at the directory this service was compiled to for swarm"),
        ]);
    }
    Ok(count)
}

/// The override a member joins with: its definition as the joining member of a cluster of
/// `members`, where that differs from `founder`'s.
fn join_override(
    service: &Service,
    settings: &Settings,
    founder: &Value,
    ordinal: u32,
    members: u32,
) -> Result<Option<OutputFile>, Vec<Diagnostic>> {
    let mut joining = service.clone();
    joining.replication.replicas.value = members;
    joining
        .templates
        .set_joining(Joining::Member(ordinal.to_string()));
    let name = member_name(service, ordinal);
    let lowered = super::lowered(&joining, settings, &[])?;
    let path = format!("members/{name}.yaml");
    let text = lowered
        .files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.contents.as_str())
        .unwrap_or("");
    let as_joining = serde_saphyr::from_str::<Value>(text)
        .ok()
        .map(|v| v["services"][&name].clone());
    let (Some(Value::Object(joining)), Value::Object(founder)) = (as_joining, founder) else {
        return Ok(None);
    };
    let differs = plan_script::joining_override(&joining, founder, &OVERRIDABLE).map_err(|key| {
        vec![plan::unsupported(format!(
            "`{name}` joins the running cluster with another `{key}` than a founding member's, which a swarm plan cannot give it"
        ))]
    })?;
    if differs.is_empty() {
        return Ok(None);
    }
    let file = JoinFile {
        version: "3.8",
        services: BTreeMap::from([(name.clone(), differs)]),
    };
    let yaml = berth_backend::yaml_text(&file)?;
    let contents = format!(
        "{}# {name} is deployed with this file after members/{name}.yaml to join the running cluster (plan.sh).\n{yaml}",
        header_comment(service, &[])
    );
    Ok(Some(OutputFile::new(
        format!("plan/join-{name}.yaml"),
        contents,
    )))
}

/// Refuses a membership command whose program (its first word, a job's `--entrypoint`) the docker
/// CLI would split into several words: it reads `--entrypoint` as a shell-like command line.
fn refuse_split_entrypoint(service: &Service) -> Result<(), Vec<Diagnostic>> {
    let Some(membership) = service.membership.as_ref() else {
        return Ok(());
    };
    let commands = [
        &membership.add,
        &membership.added,
        &membership.remove,
        &membership.forget,
    ];
    let checks = [&membership.caught_up, &membership.safe_to_stop];
    let listing = membership.id.as_ref().map(|id| &id.command);
    let programs = commands
        .into_iter()
        .flatten()
        .chain(checks.into_iter().flatten())
        .chain(listing)
        .filter_map(|command| command.first());
    for program in programs {
        // Outside the spec's `{{...}}`, whose own spaces render to nothing.
        let literal: String = program
            .source
            .split("{{")
            .enumerate()
            .map(|(i, part)| match i {
                0 => part,
                _ => part.split_once("}}").map_or("", |(_, after)| after),
            })
            .collect();
        if literal.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c)) {
            return Err(vec![plan::unsupported(format!(
                "the membership command `{}` starts with a program whose name has a space, a quote or a backslash, which a swarm job's `--entrypoint` splits",
                program.source
            ))
            .help("name the program by a path without spaces, quotes or backslashes")]);
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct JoinFile {
    version: &'static str,
    services: BTreeMap<String, Map<String, Value>>,
}

/// How swarm starts, restarts and retires a member (`plan-functions.sh` beside this file).
struct Steps<'a> {
    service: &'a Service,
    joins: &'a BTreeMap<u32, OutputFile>,
    before: u32,
    /// How many members move to new volumes (`--replace`, `--lost`), each to a node free of this
    /// service.
    moving: usize,
}

impl Orchestrator for Steps<'_> {
    fn backend(&self) -> &'static str {
        "swarm"
    }

    fn member(&self, ordinal: u32) -> Member {
        plan_script::member_by_name(self.service, ordinal)
    }

    fn run_line(&self) -> &'static str {
        "sh plan.sh STACK [DOCKER-STACK-DEPLOY-OPTION...]"
    }

    fn functions(&self, script: &mut Script) -> Result<(), Vec<Diagnostic>> {
        let service = self.service;
        plan_script::network_and_image(script, service, "swarm")?;
        script
            .text("label_prefix=")
            .word(&super::label_prefix(service))
            .text("\n");
        script.text(include_str!("plan-functions.sh"));
        for ordinal in self.before..service.replicas() {
            script.text("need_node ").number(ordinal.into()).text("\n");
        }
        if self.moving > 0 {
            script
                .text("need_free_nodes ")
                .number(self.moving as u64)
                .text("\n");
        }
        Ok(())
    }

    fn start_joining(&self, script: &mut Script, ordinal: u32) {
        let name = member_name(self.service, ordinal);
        script.text("deploy_member ").name(&name).text(" -c ");
        script.word(&format!("members/{name}.yaml"));
        if let Some(file) = self.joins.get(&ordinal) {
            script.text(" -c ").word(&file.path);
        }
        script.text("\n");
    }

    fn restart(&self, script: &mut Script, ordinal: u32) {
        let name = member_name(self.service, ordinal);
        script.text("deploy_member ").name(&name).text(" -c ");
        script.word(&format!("members/{name}.yaml")).text("\n");
    }

    fn retire(&self, script: &mut Script, ordinal: u32) {
        script.text("retire");
        self.name_and_volumes(script, ordinal);
    }

    fn vacate(&self, script: &mut Script, ordinal: u32) {
        script.text("vacate");
        self.name_and_volumes(script, ordinal);
    }

    fn abandon(&self, script: &mut Script, ordinal: u32) {
        script.text("abandon");
        self.name_and_volumes(script, ordinal);
    }
}

impl Steps<'_> {
    /// ` NAME VOLUME...\n`: a member and the volumes it leaves on its node.
    fn name_and_volumes(&self, script: &mut Script, ordinal: u32) {
        let member = self.member(ordinal);
        script.text(" ").name(&member.name);
        for volume in self.service.volumes.iter().filter(|v| v.persistent) {
            script
                .text(" ")
                .word(&super::volume_name(self.service, &member, &volume.name));
        }
        script.text("\n");
    }
}
