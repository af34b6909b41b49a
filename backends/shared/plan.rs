//! `plan.sh`, the script of `berth plan`, written the same way for every backend: its steps in
//! order (`berth_backend::plan::steps`), the spec's `[membership]` commands and the checks
//! between them. Each backend says how its orchestrator names, starts, restarts and retires a
//! member ([`Orchestrator`]), and gives the shell functions its lines call.

use crate::script::Script;
use berth_backend::header_comment;
use berth_backend::plan::Step;
use berth_diagnostic::Diagnostic;
use berth_model::{Member, RunOn, Service, Template};
use serde_json::{Map, Value};

/// Stands in for a member's id while a command is rendered; the script puts `"$member_id"` there.
const ID_MARK: &str = "\u{e000}berth-member-id\u{e000}";

/// What one orchestrator does at each step. Its functions (`Orchestrator::functions`) define
/// `inside MEMBER COMMAND...` (a command in a running member, quietly), `oneoff MEMBER
/// COMMAND...` (in a container of the member image on the members' network, quietly; `MEMBER` is
/// a running one) and `healthy MEMBER`.
pub trait Orchestrator {
    /// The backend's name.
    fn backend(&self) -> &'static str;
    /// A member as this orchestrator names it, whose `host` the membership commands use.
    fn member(&self, ordinal: u32) -> Member;
    /// The script's variables and the backend's shell functions, after the shared ones.
    fn functions(&self, script: &mut Script) -> Result<(), Vec<Diagnostic>>;
    /// Files the user provides beside the script, checked before the first step.
    fn user_files(&self) -> Vec<String> {
        Vec::new()
    }
    /// Starts a member that joins the running cluster.
    fn start_joining(&self, script: &mut Script, ordinal: u32);
    /// Stops a member and starts it with its new definition.
    fn restart(&self, script: &mut Script, ordinal: u32);
    /// Stops and removes a member that left the cluster, with its data.
    fn retire(&self, script: &mut Script, ordinal: u32);
    /// Stops a member that left the cluster to join it again on a new volume, and removes its
    /// data; by default as it retires.
    fn vacate(&self, script: &mut Script, ordinal: u32) {
        self.retire(script, ordinal)
    }
    /// Gives up a member that is down for good (`--lost`) to join it again on a new volume:
    /// removes what is left of it without waiting for it to stop; by default as it vacates.
    fn abandon(&self, script: &mut Script, ordinal: u32) {
        self.vacate(script, ordinal)
    }
    /// Before any change, after the check that a member named lost is not healthy: what else
    /// this orchestrator needs to know it is down.
    fn check_lost(&self, _script: &mut Script, _ordinal: u32) {}
    /// After the first check, before any member changes: what the change needs first.
    fn prepare(&self, _script: &mut Script) {}
    /// Before the first restart: makes the new definition the one members restart with.
    fn before_restarts(&self, _script: &mut Script) {}
    /// After the last step: applies what else the new files change.
    fn finish(&self, _script: &mut Script) {}
    /// How the plan is run, from its directory.
    fn run_line(&self) -> &'static str {
        "sh plan.sh"
    }
    /// The variables the plan needs from the environment.
    fn environment(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The keys of a member's service (in the compose format) whose value as a joining member differs
/// from a founder's, with the joining values: what an override file gives it. `Err` names the
/// first key an override cannot change: one not `overridable`, or one the joining member lacks
/// (an override adds and replaces, never removes).
pub fn joining_override(
    joining: &Map<String, Value>,
    founder: &Map<String, Value>,
    overridable: &[&str],
) -> Result<Map<String, Value>, String> {
    let mut differs = Map::new();
    for key in joining.keys().chain(founder.keys()) {
        if joining.get(key) == founder.get(key) || differs.contains_key(key) {
            continue;
        }
        if !overridable.contains(&key.as_str()) || !joining.contains_key(key) {
            return Err(key.clone());
        }
        differs.insert(key.clone(), joining[key].clone());
    }
    Ok(differs)
}

/// A member whose host name is its name, `<service>-<ordinal>`: on one engine and on a swarm.
pub fn member_by_name(service: &Service, ordinal: u32) -> Member {
    let name = format!("{}-{ordinal}", service.name());
    Member {
        ordinal: ordinal.to_string(),
        host: name.clone(),
        name,
        ..Default::default()
    }
}

/// The variables `network` and `image` of a plan whose one-off containers run the member image
/// on the members' network of `backend`.
pub fn network_and_image(
    script: &mut Script,
    service: &Service,
    backend: &str,
) -> Result<(), Vec<Diagnostic>> {
    let members = service.members();
    let image = service.render(
        &service.container.image,
        &berth_model::Identity::new(None, &members),
    )?;
    script
        .text("network=")
        .word(&service.network_name(backend))
        .text("\n");
    script.text("image=").word(&image).text("\n");
    Ok(())
}

/// Writes `plan.sh` for `service`, whose deployment has `before` members.
pub fn script(
    service: &Service,
    before: u32,
    orchestrator: &dyn Orchestrator,
    steps: &[Step],
) -> Result<String, Vec<Diagnostic>> {
    let writer = Writer {
        service,
        orchestrator,
    };
    let mut script = Script::new();
    let timeout = service.membership.as_ref().map_or(300, |m| m.timeout);
    script.text("timeout=").number(timeout).text("\n");
    orchestrator.functions(&mut script)?;
    script.text("\n").text(include_str!("plan-functions.sh"));
    for file in orchestrator.user_files() {
        script.text("need_file ").word(&file).text("\n");
    }
    let lost = lost_only(steps)?;
    // The lost never run a command nor count as members: they are gone.
    let mut current: Vec<u32> = (0..before).filter(|o| !lost.contains(o)).collect();
    writer.first_check(&mut script, &current, &lost);
    orchestrator.prepare(&mut script);
    if steps.is_empty() {
        script.text("echo 'no member joins, leaves or restarts'\n");
    }
    let mut restarting = false;
    for step in steps {
        match *step {
            Step::Leave(o) => {
                let departure = if steps.contains(&Step::Join(o)) {
                    Departure::Moves
                } else {
                    Departure::Retires
                };
                writer.leave(&mut script, &mut current, o, departure)?
            }
            Step::Lose(o) => writer.leave(&mut script, &mut current, o, Departure::Lost)?,
            Step::Restart(o) => {
                if !restarting {
                    orchestrator.before_restarts(&mut script);
                    restarting = true;
                }
                writer.restart(&mut script, &current, o)?
            }
            Step::Join(o) => writer.join(&mut script, &mut current, o)?,
        }
    }
    orchestrator.finish(&mut script);
    script.step("done: every member runs its new definition");
    Ok(with_outline(service, before, orchestrator, &script))
}

/// The plan's script after its header and outline: the steps in order, how to run it, and what
/// it needs from the environment, as comments (`berth plan` prints them; a reader sees them
/// first). A title is one line: a control character in a spec's value there becomes a space.
fn with_outline(
    service: &Service,
    before: u32,
    orchestrator: &dyn Orchestrator,
    body: &Script,
) -> String {
    let mut outline = String::from("# Steps:\n");
    for (n, title) in body.steps().iter().enumerate() {
        let title: String = title
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        outline.push_str(&format!("#   {}. {title}\n", n + 1));
    }
    outline.push_str(&format!("# Run it: {}\n", orchestrator.run_line()));
    let needs = orchestrator.environment();
    if !needs.is_empty() {
        outline.push_str(&format!(
            "# It needs in its environment: {}\n",
            needs.join(", ")
        ));
    }
    let mut script = Script::new();
    script
        .text("#!/bin/sh\n# The spec's strings reach the programs literally, in single quotes.\n# shellcheck disable=SC2016\n")
        .comments(&header_comment(service, &[]))
        .comments(&format!(
            "# berth plan: `{}` on {} from {before} members to {}, one step at a time; each\n# command is printed before it runs, and the plan stops at the first that fails.\n",
            service.name(),
            orchestrator.backend(),
            service.replicas()
        ))
        .comments(&outline)
        .script(body);
    script.into_string()
}

/// The lost members (`Step::Lose`) of a plan that does nothing else: each is removed, then joins
/// again (and restarts where it joined otherwise than a founder). A plan that also changes the
/// member count or a member's definition is refused: a lost member would join an old cluster
/// with a new definition (etcd refuses a downgraded member).
fn lost_only(steps: &[Step]) -> Result<Vec<u32>, Vec<Diagnostic>> {
    let lost: Vec<u32> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Lose(o) => Some(*o),
            _ => None,
        })
        .collect();
    let other = steps.iter().any(|s| match s {
        Step::Leave(o) | Step::Join(o) | Step::Restart(o) => !lost.contains(o),
        Step::Lose(_) => false,
    });
    if !lost.is_empty() && other {
        return Err(vec![berth_backend::plan::unsupported(
            "`--lost` with other changes: a plan mends a lost member with the spec as deployed, or changes the cluster, not both",
        )
        .help("plan `--lost` first with the spec and values as deployed (into the deployed directory on compose and docker, whose members mount their files from there), then the change")]);
    }
    Ok(lost)
}

/// How a member leaves the cluster, and what becomes of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// It stops for good, with its data.
    Retires,
    /// It stops to join again on a new volume (`--replace`).
    Moves,
    /// It is down for good (`--lost`): the others remove it, and it joins again on a new volume.
    Lost,
}

struct Writer<'a> {
    service: &'a Service,
    orchestrator: &'a dyn Orchestrator,
}

impl Writer<'_> {
    fn name(&self, ordinal: u32) -> String {
        format!("{}-{ordinal}", self.service.name())
    }

    /// Waits until every member `alive` is healthy, and checks that each `lost` one is down:
    /// their absence is what the plan mends.
    fn first_check(&self, script: &mut Script, alive: &[u32], lost: &[u32]) {
        if lost.is_empty() {
            script.step("every deployed member healthy");
        } else {
            script.step("every deployed member healthy but the lost, which are down");
        }
        self.wait_healthy(script, alive);
        // One that serves would be removed without its checks.
        for &o in lost {
            script.text("need_lost ").name(&self.name(o)).text("\n");
            self.orchestrator.check_lost(script, o);
        }
    }

    fn join(
        &self,
        script: &mut Script,
        current: &mut Vec<u32>,
        o: u32,
    ) -> Result<(), Vec<Diagnostic>> {
        script.step(&format!("{} joins the running cluster", self.name(o)));
        let membership = self.service.membership.as_ref();
        for command in membership.map(|m| &m.add[..]).unwrap_or_default() {
            self.command(script, command, o, current, None)?;
        }
        self.orchestrator.start_joining(script, o);
        current.push(o);
        current.sort_unstable();
        self.caught_up(script, current, o)?;
        for command in membership.map(|m| &m.added[..]).unwrap_or_default() {
            self.command(script, command, o, current, None)?;
        }
        Ok(())
    }

    fn leave(
        &self,
        script: &mut Script,
        current: &mut Vec<u32>,
        o: u32,
        departure: Departure,
    ) -> Result<(), Vec<Diagnostic>> {
        let name = self.name(o);
        if departure == Departure::Lost {
            // Nothing stops: the member is gone, and the commands address the others only.
            script.step(&format!(
                "{name} is lost: the others remove it from the cluster"
            ));
        } else {
            script.step(&format!("{name} leaves the cluster"));
            self.safe_to_stop(script, current, o)?;
        }
        let membership = self.service.membership.as_ref();
        let id = match membership.and_then(|m| m.id.as_ref()) {
            Some(id) => {
                // The listing as a function: `find_id` reads the id from it, and a removal whose
                // answer was lost (etcd's "server stopped") is seen done when it no longer names
                // the member, rather than tried again against a member that is gone.
                // `unlisted` calls it too, which shellcheck cannot follow.
                script.text("# shellcheck disable=SC2317\nlisting() {\n  ");
                self.words(script, &id.command, o, current, None)?;
                script.text("\n}\nfind_id ").name(&name).text(" ");
                script.word(&id.separator.to_string()).text(" ");
                script.number(id.name_field.into()).text(" ");
                script.number(id.id_field.into()).text(" listing\n");
                for command in membership.map(|m| &m.remove[..]).unwrap_or_default() {
                    script.text("retry_unless unlisted ");
                    self.words(script, command, o, current, Some(ID_MARK))?;
                    script.text("\n");
                }
                Some(ID_MARK)
            }
            None => {
                for command in membership.map(|m| &m.remove[..]).unwrap_or_default() {
                    self.command(script, command, o, current, None)?;
                }
                None
            }
        };
        match departure {
            Departure::Retires => self.orchestrator.retire(script, o),
            Departure::Moves => self.orchestrator.vacate(script, o),
            Departure::Lost => self.orchestrator.abandon(script, o),
        }
        current.retain(|&m| m != o);
        for command in membership.map(|m| &m.forget[..]).unwrap_or_default() {
            self.command(script, command, o, current, id)?;
        }
        Ok(())
    }

    fn restart(&self, script: &mut Script, current: &[u32], o: u32) -> Result<(), Vec<Diagnostic>> {
        script.step(&format!(
            "{} restarts with its new definition",
            self.name(o)
        ));
        self.safe_to_stop(script, current, o)?;
        self.orchestrator.restart(script, o);
        self.caught_up(script, current, o)
    }

    /// Waits until member `o` serves with the cluster's data: `caught_up`, else its health.
    fn caught_up(
        &self,
        script: &mut Script,
        current: &[u32],
        o: u32,
    ) -> Result<(), Vec<Diagnostic>> {
        let name = self.name(o);
        let check = self
            .service
            .membership
            .as_ref()
            .and_then(|m| m.caught_up.as_ref());
        match check {
            Some(check) => self.until(script, &format!("{name} caught up"), check, o, current),
            None => {
                script
                    .text("until_passes ")
                    .word(&format!("{name} healthy"));
                script.text(" healthy ").name(&name).text("\n");
                Ok(())
            }
        }
    }

    /// Waits until the cluster can lose member `o`: `safe_to_stop`, else every member healthy.
    fn safe_to_stop(
        &self,
        script: &mut Script,
        current: &[u32],
        o: u32,
    ) -> Result<(), Vec<Diagnostic>> {
        let check = self
            .service
            .membership
            .as_ref()
            .and_then(|m| m.safe_to_stop.as_ref());
        match check {
            Some(check) => {
                let what = format!("the cluster can lose {}", self.name(o));
                self.until(script, &what, check, o, current)
            }
            None => {
                self.wait_healthy(script, current);
                Ok(())
            }
        }
    }

    /// A membership check, asked again until it passes.
    fn until(
        &self,
        script: &mut Script,
        what: &str,
        check: &[Template],
        o: u32,
        current: &[u32],
    ) -> Result<(), Vec<Diagnostic>> {
        script.text("until_passes ").word(what).text(" ");
        self.words(script, check, o, current, None)?;
        script.text("\n");
        Ok(())
    }

    fn wait_healthy(&self, script: &mut Script, current: &[u32]) {
        script.text("until_passes 'every member healthy' every_member_healthy");
        for &m in current {
            script.text(" ").name(&self.name(m));
        }
        script.text("\n");
    }

    /// A membership command, printed and run until it succeeds.
    fn command(
        &self,
        script: &mut Script,
        command: &[Template],
        o: u32,
        current: &[u32],
        id: Option<&str>,
    ) -> Result<(), Vec<Diagnostic>> {
        script.text("retry ");
        self.words(script, command, o, current, id)?;
        script.text("\n");
        Ok(())
    }

    /// A membership command as the words of a shell command: run inside a current member other
    /// than the one concerned (the concerned one when it is alone), or in a one-off container.
    fn words(
        &self,
        script: &mut Script,
        command: &[Template],
        o: u32,
        current: &[u32],
        id: Option<&str>,
    ) -> Result<(), Vec<Diagnostic>> {
        let service = self.service;
        let members: Vec<Member> = current
            .iter()
            .map(|&m| self.orchestrator.member(m))
            .collect();
        let concerned = self.orchestrator.member(o);
        let mut words = Vec::with_capacity(command.len());
        let context = service
            .templates
            .membership_context(&concerned, &members, id);
        for t in command {
            let word = service
                .templates
                .try_membership(&t.source, &context)
                .map_err(|failure| vec![failure.into_diagnostic(t.span.clone())])?;
            words.push(word);
        }
        // `oneoff` is told the member too: where one-off containers cannot join the members'
        // network (Kubernetes' restricted pods), a member's container serves as one.
        let runner = current.iter().copied().find(|&m| m != o).unwrap_or(o);
        match service.membership.as_ref().map_or(RunOn::Member, |m| m.run) {
            RunOn::Member => script.text("inside "),
            RunOn::Oneoff => script.text("oneoff "),
        };
        script.name(&self.name(runner));
        for word in &words {
            script.text(" ");
            match id {
                Some(_) => with_member_id(script, word),
                None => {
                    script.word(word);
                }
            }
        }
        Ok(())
    }
}

/// One word, where each mark of the member's id becomes `"$member_id"`.
fn with_member_id(script: &mut Script, word: &str) {
    if !word.contains(ID_MARK) {
        script.word(word);
        return;
    }
    let mut parts = word.split(ID_MARK).peekable();
    while let Some(part) = parts.next() {
        if !part.is_empty() {
            script.word(part);
        }
        if parts.peek().is_some() {
            script.text("\"$member_id\"");
        }
    }
}
