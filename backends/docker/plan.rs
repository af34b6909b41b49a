//! `berth plan` on docker run: `plan.sh` beside `run.sh` (written by
//! `berth_backends_shared::plan`), which takes the deployed members (read from the deployed
//! `run.sh`) to the new ones one step at a time, each a `docker run` of a member as the new
//! `run.sh` starts it, or as a joining member where its arguments or files differ from a
//! founder's (its files then under `plan/join-NAME/`).

use berth_backend::OutputFile;
use berth_backend::plan::{self, Deployed};
use berth_backends_shared::plan::{self as plan_script, Orchestrator};
use berth_backends_shared::script::Script;
use berth_backends_shared::single_host::{self, Publish};
use berth_diagnostic::{Diagnostic, errors};
use berth_language::template::Joining;
use berth_model::{Member, Service};
use std::collections::BTreeMap;

use super::scripts::MemberRun;

/// Where the deployed script is, below `--against`.
const DEPLOYED: &str = "docker/run.sh";

/// What the deployed `run.sh` says of one member: the hash of its configuration, and the volumes
/// berth created for it.
#[derive(Default)]
struct DeployedMember {
    config: String,
    volumes: Vec<String>,
}

pub fn plan(
    service: &Service,
    publish: &Publish,
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Result<(Vec<OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let old = read_deployed(service, deployed)?;
    let before = old.len() as u32;
    let after = service.replicas();
    let lost = plan::lost(service, before, deployed).map_err(|d| vec![d])?;
    let moving = !deployed.replace().is_empty() || !lost.is_empty();
    let diagnostics = plan::check(service, before, moving)?;
    let replace = plan::replaced(service, before, deployed.replace()).map_err(|d| vec![d])?;
    let (_, runs, _) = super::member_runs(service, publish)?;
    let mut joins = BTreeMap::new();
    let mut out = Vec::new();
    let joining = (before..after).map(|o| (o, o + 1));
    for (ordinal, members) in joining.chain(plan::moved(&replace, &lost, before, after)) {
        let (run, files) = join_run(service, publish, files, ordinal, members)?;
        out.extend(files);
        joins.insert(ordinal, run);
    }
    let has_files = !service.files.is_empty();
    let changed = |o: u32| {
        old.get(&o).map(|m| &m.config) != Some(&runs[o as usize].config)
            // A member mounts its files from the directory its container was made from: moved to
            // the new one, one at a time here.
            || (has_files && !deployed.is_out())
    };
    let rejoins = |o: u32| joins[&o].config != runs[o as usize].config;
    let steps = plan::steps(before, after, &replace, &lost, changed, rejoins);
    let orchestrator = Steps {
        service,
        old: &old,
        runs: &runs,
        joins: &joins,
    };
    let script = plan_script::script(service, before, &orchestrator, &steps)?;
    out.insert(0, OutputFile::script("plan.sh", script));
    Ok((out, diagnostics))
}

/// The members the deployed `run.sh` starts (`start_member NAME CONFIG`), numbered from 0, with
/// the volumes it creates for each (`ensure_volume VOLUME NAME`; never an external one).
fn read_deployed(
    service: &Service,
    deployed: &dyn Deployed,
) -> Result<BTreeMap<u32, DeployedMember>, Vec<Diagnostic>> {
    let text = deployed.read(DEPLOYED).ok_or_else(|| {
        vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!("`--against` holds no `{DEPLOYED}` to plan from"),
            )
            .help(format!(
                "point `--against` at the directory `{}` was compiled to for docker",
                service.name()
            )),
        ]
    })?;
    let ordinal = |name: &str| {
        name.strip_prefix(&format!("{}-", service.name()))?
            .parse::<u32>()
            .ok()
            .filter(|o| name == format!("{}-{o}", service.name()))
    };
    let mut members: BTreeMap<u32, DeployedMember> = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["start_member", name, config, ..] => {
                if let Some(o) = ordinal(name) {
                    members.entry(o).or_default().config = config.to_string();
                }
            }
            ["ensure_volume", volume, name] => {
                if let Some(o) = ordinal(name) {
                    members.entry(o).or_default().volumes.push(volume.into());
                }
            }
            _ => {}
        }
    }
    let count = members.len() as u32;
    let numbered =
        members.keys().copied().eq(0..count) && members.values().all(|m| !m.config.is_empty());
    if count == 0 || count > plan::MOST_MEMBERS || !numbered {
        return Err(vec![
            Diagnostic::input(
                &errors::PLAN_DEPLOYED,
                format!(
                    "the deployed `{DEPLOYED}` starts no members of `{}` numbered from 0",
                    service.name()
                ),
            )
            .help("point `--against` at the directory this service was compiled to for docker"),
        ]);
    }
    Ok(members)
}

/// How member `ordinal` starts to join the running cluster of `members`: its `docker run`, and
/// its files where they differ from a founder's (`founder_files`), which it then mounts from
/// `plan/join-NAME/`.
fn join_run(
    service: &Service,
    publish: &Publish,
    founder_files: &[OutputFile],
    ordinal: u32,
    members: u32,
) -> Result<(MemberRun, Vec<OutputFile>), Vec<Diagnostic>> {
    let mut joining = service.clone();
    joining.replication.replicas.value = members;
    joining
        .templates
        .set_joining(Joining::Member(ordinal.to_string()));
    let name = format!("{}-{ordinal}", service.name());
    if let Some(volume) = joining.volumes.iter().find(|v| v.external.is_some()) {
        return Err(vec![plan::unsupported(format!(
            "`{name}` joins on a new, empty volume, but `volumes.external` names the volume `{}` holds its data in",
            volume.name
        ))]);
    }
    let (_, runs, files) = super::member_runs(&joining, publish)?;
    let prefix = format!("files/{name}/");
    let mine: Vec<&OutputFile> = files
        .iter()
        .filter(|f| f.path.starts_with(&prefix))
        .collect();
    let founder: Vec<&OutputFile> = founder_files
        .iter()
        .filter(|f| f.path.starts_with(&prefix))
        .collect();
    if mine == founder {
        let mut runs = runs;
        return Ok((runs.swap_remove(ordinal as usize), Vec::new()));
    }
    let at = format!("plan/join-{name}/");
    let (_, mut runs, files) =
        super::member_runs_with_files(&joining, publish, Some((ordinal, &at)))?;
    let moved = files
        .into_iter()
        .filter(|f| f.path.starts_with(&at))
        .collect();
    Ok((runs.swap_remove(ordinal as usize), moved))
}

/// How docker run starts, restarts and retires a member (`plan-functions.sh` beside this file).
struct Steps<'a> {
    service: &'a Service,
    old: &'a BTreeMap<u32, DeployedMember>,
    /// Each member as the new `run.sh` starts it.
    runs: &'a [MemberRun],
    /// Each joining member as it starts.
    joins: &'a BTreeMap<u32, MemberRun>,
}

impl Steps<'_> {
    /// `docker run` of a member as `run.sh` runs it, labelled with its configuration's hash.
    fn docker_run(&self, script: &mut Script, run: &MemberRun) {
        script
            .text("run docker run --detach --label ")
            .word(&format!("berth.config={}", run.config))
            .text(" \\\n")
            .script(&run.arguments)
            .text("\n");
    }

    fn grace(&self) -> u64 {
        self.service.stop_grace.value
    }
}

impl Orchestrator for Steps<'_> {
    fn backend(&self) -> &'static str {
        "docker"
    }

    fn member(&self, ordinal: u32) -> Member {
        plan_script::member_by_name(self.service, ordinal)
    }

    fn functions(&self, script: &mut Script) -> Result<(), Vec<Diagnostic>> {
        let service = self.service;
        script.text("service=").name(service.name()).text("\n");
        plan_script::network_and_image(script, service, "docker")?;
        script.text(include_str!("plan-functions.sh"));
        if !service.files.is_empty() {
            // Members bind-mount files beside this script.
            script.text("here=$(pwd)\n");
        }
        script.script(&super::secret_checks(service));
        Ok(())
    }

    /// The secrets the members take from the environment the plan runs in.
    fn environment(&self) -> Vec<String> {
        single_host::environment_secret_names(self.service)
    }

    fn start_joining(&self, script: &mut Script, ordinal: u32) {
        let run = &self.joins[&ordinal];
        for volume in &run.volumes {
            script.text("new_volume ").word(&volume.name).text("\n");
        }
        self.docker_run(script, run);
    }

    fn restart(&self, script: &mut Script, ordinal: u32) {
        let run = &self.runs[ordinal as usize];
        script
            .text("remove_member ")
            .name(&run.name)
            .text(" ")
            .number(self.grace())
            .text("\n");
        self.docker_run(script, run);
    }

    /// Its container, then the volumes berth named for it (`<member>-<volume>`) as the deployed
    /// `run.sh` created them: never an external one, which holds data berth did not create.
    fn retire(&self, script: &mut Script, ordinal: u32) {
        self.remove(script, ordinal, self.grace());
    }

    /// As it retires, with no time to stop: a lost member's container (its disk gone) is killed.
    fn abandon(&self, script: &mut Script, ordinal: u32) {
        self.remove(script, ordinal, 0);
    }
}

impl Steps<'_> {
    /// Member `ordinal`'s container, given `grace` seconds to stop, then its volumes.
    fn remove(&self, script: &mut Script, ordinal: u32, grace: u64) {
        let name = format!("{}-{ordinal}", self.service.name());
        script
            .text("remove_member ")
            .name(&name)
            .text(" ")
            .number(grace)
            .text("\n");
        let member = plan_script::member_by_name(self.service, ordinal);
        let ours = |volume: &&String| {
            self.service
                .volumes
                .iter()
                .any(|v| **volume == single_host::volume_name(&member, &v.name))
        };
        let deployed = self
            .old
            .get(&ordinal)
            .map(|m| &m.volumes[..])
            .unwrap_or_default();
        for volume in deployed.iter().filter(ours) {
            script.text("remove_volume ").word(volume).text("\n");
        }
    }
}
