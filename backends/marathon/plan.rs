//! `berth plan` on Marathon: `plan.sh` beside the member apps (written by
//! `berth_backends_shared::plan`), which takes the deployed member apps (the deployed
//! `NAME-I.json`) to the new ones one step at a time through Marathon's REST API (`curl`): a
//! member joins or restarts by a `PUT` of its app (`plan/join-NAME.json` where a joining member
//! differs from a founder), leaves by a `DELETE`, which destroys its resident volume. A change
//! Marathon refuses on a resident app (its volumes, CPUs, memory, disk or host ports) moves every
//! member to a new app on a new volume, one at a time. Membership commands and checks run as
//! Metronome job runs of the member image (`plan/oneoff.metronome.json`). Not run here: no
//! Marathon; the tests validate its apps and parse its `curl` commands.

use berth_backend::OutputFile;
use berth_backend::plan::{self, Deployed, Step};
use berth_backends_shared::plan::{self as plan_script, Orchestrator};
use berth_backends_shared::script::Script;
use berth_diagnostic::{Diagnostic, errors};
use berth_language::template::Joining;
use berth_model::{Identity, Member, RunOn, Service};
use serde_json::Value;
use std::collections::BTreeMap;

use super::Settings;
use super::app::{Job, JobDocker, JobRestart, JobRun};

/// Where the one-off job's definition is, beside `plan.sh`.
const ONEOFF: &str = "plan/oneoff.metronome.json";

pub fn plan(
    service: &Service,
    settings: &Settings,
    files: &[OutputFile],
    deployed: &dyn Deployed,
) -> Result<(Vec<OutputFile>, Vec<Diagnostic>), Vec<Diagnostic>> {
    if service
        .membership
        .as_ref()
        .is_some_and(|m| m.run == RunOn::Member)
    {
        return Err(vec![plan::unsupported(
            "`[membership] run = \"member\"`: Marathon's Docker containerizer runs no command inside a member's container",
        )
        .help("run the membership commands in one-off containers (`run = \"oneoff\"`), which Marathon plans start as Metronome jobs")]);
    }
    if !deployed.lost().is_empty() {
        // Whether Marathon finishes deleting an app whose task is on an agent it cannot reach
        // depends on its unreachable strategy, and no Marathon runs here to show it.
        return Err(vec![plan::unsupported(
            "`--lost`: Marathon's plans delete a member's app and wait until it is gone, which an unreachable agent may never confirm",
        )
        .help("wait until Marathon replaces the task or marks it unreachable, then delete the member's app by hand and plan without `--lost`")]);
    }
    let old = read_deployed(service, deployed)?;
    let before = old.len() as u32;
    let after = service.replicas();
    let new: Vec<Value> = (0..after)
        .map(|o| app_of(files, &member_name(service, o)))
        .collect::<Result<_, _>>()?;
    let staying = before.min(after);
    let moved = (0..staying).any(|o| resident(&old[o as usize]) != resident(&new[o as usize]));
    let diagnostics = plan::check(service, before, moved || !deployed.replace().is_empty())?;
    let mut replace = plan::replaced(service, before, deployed.replace()).map_err(|d| vec![d])?;
    if moved {
        // Marathon refuses the change on a resident app: every member moves to a new one.
        replace = (0..staying).rev().collect();
    }
    if moved && before != after {
        return Err(vec![plan::unsupported(
            "the member count and a field Marathon cannot change on a resident app (volumes, CPUs, memory, disk, host ports) change together",
        )
        .help("plan them one after the other: first the member count with the rest as deployed, then the rest")]);
    }
    let mut out = Vec::new();
    let mut joins = BTreeMap::new();
    let joining = (before..after).map(|o| (o, o + 1));
    for (ordinal, members) in joining.chain(replace.iter().map(|&o| (o, after))) {
        let app = join_app(service, settings, ordinal, members)?;
        if app != new[ordinal as usize] {
            let path = join_path(service, ordinal);
            out.push(OutputFile::new(path.clone(), pretty(&app)?));
            joins.insert(ordinal, path);
        }
    }
    let changed = |o: u32| old[o as usize] != new[o as usize];
    let steps = plan::steps(before, after, &replace, &[], changed, |o| {
        joins.contains_key(&o)
    });
    refuse_id_lookup(service, &steps)?;
    if service.membership.is_some() {
        out.push(OutputFile::new(ONEOFF, pretty(&oneoff_job(service)?)?));
    }
    let orchestrator = Steps {
        service,
        settings,
        joins: &joins,
    };
    let script = plan_script::script(service, before, &orchestrator, &steps)?;
    out.insert(0, OutputFile::script("plan.sh", script));
    Ok((out, diagnostics))
}

fn member_name(service: &Service, ordinal: u32) -> String {
    format!("{}-{ordinal}", service.name())
}

fn join_path(service: &Service, ordinal: u32) -> String {
    format!("plan/join-{}.json", member_name(service, ordinal))
}

fn pretty(value: &impl serde::Serialize) -> Result<String, Vec<Diagnostic>> {
    super::to_json(value)
}

/// The member apps of the deployed files (`NAME-0.json`, `NAME-1.json`, ... as long as they
/// follow), each of the id berth gives it.
fn read_deployed(
    service: &Service,
    deployed: &dyn Deployed,
) -> Result<Vec<Value>, Vec<Diagnostic>> {
    let mut apps = Vec::new();
    for ordinal in 0..=plan::MOST_MEMBERS {
        let name = member_name(service, ordinal);
        let Some(text) = deployed.read(&format!("marathon/{name}.json")) else {
            break;
        };
        let app: Option<Value> = serde_json::from_str(&text).ok();
        let expected = format!("/{}/{name}", service.name());
        match app {
            Some(app) if app["id"] == expected.as_str() && ordinal < plan::MOST_MEMBERS => {
                apps.push(app)
            }
            _ => {
                return Err(vec![deployed_error(
                    service,
                    format!(
                        "the deployed `marathon/{name}.json` is no member app `{expected}` berth wrote"
                    ),
                )]);
            }
        }
    }
    if apps.is_empty() {
        return Err(vec![deployed_error(
            service,
            format!(
                "`--against` holds no `marathon/{}.json` to plan from",
                member_name(service, 0)
            ),
        )]);
    }
    Ok(apps)
}

fn deployed_error(service: &Service, message: String) -> Diagnostic {
    Diagnostic::input(&errors::PLAN_DEPLOYED, message).help(format!(
        "point `--against` at the directory `{}` was compiled to for marathon",
        service.name()
    ))
}

fn app_of(files: &[OutputFile], member: &str) -> Result<Value, Vec<Diagnostic>> {
    let path = format!("{member}.json");
    files
        .iter()
        .find(|f| f.path == path)
        .and_then(|f| serde_json::from_str(&f.contents).ok())
        .ok_or_else(|| {
            vec![Diagnostic::input(
                &errors::OUTPUT_YAML,
                format!("`{path}` does not read back"),
            )]
        })
}

/// What Marathon refuses to change on a resident app (`residentUpdateIsValid`): its persistent
/// volumes and its resources, host ports among them.
fn resident(app: &Value) -> (Vec<&Value>, Vec<Value>) {
    let persistent = app["container"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("persistent").is_some())
        .collect();
    (persistent, super::upgrade::resources(app))
}

/// A member that leaves while `[membership.id]` names it by an id read from a listing: a
/// Metronome run's output stays in its Mesos sandbox, where this plan cannot read it.
fn refuse_id_lookup(service: &Service, steps: &[Step]) -> Result<(), Vec<Diagnostic>> {
    let leaves = steps.iter().any(|s| matches!(s, Step::Leave(_)));
    let by_id = service.membership.as_ref().is_some_and(|m| m.id.is_some());
    if leaves && by_id {
        return Err(vec![plan::unsupported(
            "a member leaves by an id `[membership.id]` reads from a listing, and the output of a Metronome run stays in its Mesos sandbox, where a Marathon plan cannot read it",
        )]);
    }
    Ok(())
}

/// Member `ordinal`'s app as a joining member of a cluster of `members`.
fn join_app(
    service: &Service,
    settings: &Settings,
    ordinal: u32,
    members: u32,
) -> Result<Value, Vec<Diagnostic>> {
    let mut joining = service.clone();
    joining.replication.replicas.value = members;
    joining
        .templates
        .set_joining(Joining::Member(ordinal.to_string()));
    let files = super::lower(&joining, settings, &[])?;
    app_of(&files, &member_name(service, ordinal))
}

/// The Metronome job the plan runs each membership command and check in: the member image, as
/// the one-off containers of the other backends; `plan.sh` sets its entrypoint and arguments
/// before each run.
fn oneoff_job(service: &Service) -> Result<Job, Vec<Diagnostic>> {
    let members = service.members();
    let image = service.render(
        &service.container.image,
        &Identity::new(members.first(), &members),
    )?;
    let timeout = service.membership.as_ref().map_or(300, |m| m.timeout);
    Ok(Job {
        description: format!(
            "berth plan: one membership command or check of {} at a time",
            service.name()
        ),
        id: job_id(service),
        run: JobRun {
            args: Vec::new(),
            cpus: 0.1,
            disk: 0,
            docker: JobDocker {
                image,
                parameters: Vec::new(),
            },
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            mem: 256,
            restart: JobRestart {
                active_deadline_seconds: timeout,
                policy: "NEVER",
            },
        },
    })
}

fn job_id(service: &Service) -> String {
    format!("{}-plan", service.name())
}

/// How Marathon starts, restarts and retires a member (`plan-functions.sh` beside this file).
struct Steps<'a> {
    service: &'a Service,
    settings: &'a Settings,
    /// The file each joining member starts from, where it differs from its app in the new files.
    joins: &'a BTreeMap<u32, String>,
}

impl Steps<'_> {
    fn put(&self, script: &mut Script, ordinal: u32, file: &str) {
        let name = member_name(self.service, ordinal);
        script
            .text("run marathon PUT ")
            .word(&format!("/v2/apps/{}/{name}", self.service.name()))
            .text(" --data-binary ")
            .word(&format!("@{file}"))
            .text("\n");
        script
            .text("until_passes ")
            .word(&format!("{name} deployed"))
            .text(" deployed ")
            .name(&name)
            .text("\n");
    }
}

impl Orchestrator for Steps<'_> {
    fn backend(&self) -> &'static str {
        "marathon"
    }

    fn member(&self, ordinal: u32) -> Member {
        let name = member_name(self.service, ordinal);
        let published = self.settings.hosts.get(ordinal as usize).map(|agent| {
            self.service
                .public_ports()
                .map(|p| (p.name.clone(), format!("{agent}:{}", p.port)))
                .collect()
        });
        Member {
            ordinal: ordinal.to_string(),
            host: super::host(self.service, &name),
            name,
            published: published.unwrap_or_default(),
        }
    }

    fn environment(&self) -> Vec<String> {
        let urls = match self.service.membership {
            Some(_) => &["MARATHON_URL", "METRONOME_URL"][..],
            None => &["MARATHON_URL"],
        };
        urls.iter().map(|url| url.to_string()).collect()
    }

    fn functions(&self, script: &mut Script) -> Result<(), Vec<Diagnostic>> {
        script.text("group=").name(self.service.name()).text("\n");
        script.text("job=").name(&job_id(self.service)).text("\n");
        script.text(include_str!("plan-functions.sh"));
        if self.service.membership.is_some() {
            script.text(include_str!("plan-oneoff.sh"));
        }
        Ok(())
    }

    fn start_joining(&self, script: &mut Script, ordinal: u32) {
        let file = self
            .joins
            .get(&ordinal)
            .cloned()
            .unwrap_or_else(|| format!("{}.json", member_name(self.service, ordinal)));
        self.put(script, ordinal, &file);
    }

    fn restart(&self, script: &mut Script, ordinal: u32) {
        let file = format!("{}.json", member_name(self.service, ordinal));
        self.put(script, ordinal, &file);
    }

    /// The app goes, and Marathon destroys its resident volume with it.
    fn retire(&self, script: &mut Script, ordinal: u32) {
        let name = member_name(self.service, ordinal);
        script
            .text("run marathon DELETE ")
            .word(&format!("/v2/apps/{}/{name}", self.service.name()))
            .text("\n");
        script
            .text("until_passes ")
            .word(&format!("{name} gone"))
            .text(" gone ")
            .name(&name)
            .text("\n");
    }

    fn prepare(&self, script: &mut Script) {
        if self.service.membership.is_some() {
            script.step("the one-off job of the membership commands");
            script.text("ensure_job\n");
        }
    }

    fn finish(&self, script: &mut Script) {
        if self.service.membership.is_some() {
            script.step("the one-off job goes");
            script.text("run metronome DELETE \"/v1/jobs/$job\"\n");
        }
    }
}
