//! `berth plan`'s part that every backend shares: what is deployed (the files berth wrote, read
//! back), the order of the steps from there to the new service, and the rules about a change to a
//! running service (`plan/...`: those that refuse a plan, and those each backend fires for a file
//! the change touches). Each backend writes the steps as its orchestrator's commands.

use berth_diagnostic::Diagnostic;
use berth_model::{Quorum, Service};

berth_diagnostic::rules!();

/// What a plan starts from: the files berth wrote for the deployed service, and the members the
/// user asks to replace.
pub trait Deployed: Sync {
    /// A file, `path` relative to `--out` (`compose/compose.yaml`); `None` when there is none or
    /// it cannot be read as text.
    fn read(&self, path: &str) -> Option<String>;
    /// Members to replace by new ones on new volumes (`--replace NAME`), by name.
    fn replace(&self) -> &[String] {
        &[]
    }
    /// Members that are down for good, with their node or their disk (`--lost NAME`), by name:
    /// replaced as by `--replace`, without stopping them first.
    fn lost(&self) -> &[String] {
        &[]
    }
    /// Whether each backend adds its plan (`berth plan`), or only says what the change does
    /// (`berth diff --against`).
    fn plans(&self) -> bool {
        true
    }
    /// Whether the plan's files go to the directory they are read from (`--out` is
    /// `--against`): a member's container then mounts its files from where they were.
    fn is_out(&self) -> bool {
        false
    }
}

/// The ordinals of the members to replace: each must be one that stays.
pub fn replaced(service: &Service, before: u32, names: &[String]) -> Result<Vec<u32>, Diagnostic> {
    ordinals_staying(service, before, names, "--replace")
}

/// The ordinals of the members lost (`--lost`): each one that stays, none also replaced, and
/// the others enough to remove them from the cluster (a majority of a quorum service's members,
/// at least one of any service's).
pub fn lost(
    service: &Service,
    before: u32,
    deployed: &dyn Deployed,
) -> Result<Vec<u32>, Diagnostic> {
    let mut lost = ordinals_staying(service, before, deployed.lost(), "--lost")?;
    lost.sort_unstable();
    if let Some(name) = deployed
        .lost()
        .iter()
        .find(|n| deployed.replace().contains(n))
    {
        return Err(Diagnostic::input(
            &berth_diagnostic::errors::PLAN_REPLACE,
            format!("`{name}` is named by both `--lost` and `--replace`"),
        )
        .help("name a member that is down for good with `--lost` only, a running one with `--replace`"));
    }
    let alive = before - lost.len() as u32;
    let needed = match service.replication.quorum.value {
        Quorum::Majority => before / 2 + 1,
        Quorum::None => 1,
    };
    if !lost.is_empty() && alive < needed {
        return Err(Diagnostic::input(
            &berth_diagnostic::errors::PLAN_REPLACE,
            format!(
                "{} of {before} members are lost: the {alive} left are fewer than the {needed} the cluster needs to remove a member",
                lost.len()
            ),
        )
        .help("bring lost members back with their data first (their node, their disk), or restore the service from a backup"));
    }
    Ok(lost)
}

/// Each member that joins again on a new volume, with the member count of the cluster it joins:
/// a lost one joins first, the cluster as deployed; a replaced one last, the cluster as it is then.
pub fn moved(replace: &[u32], lost: &[u32], before: u32, after: u32) -> Vec<(u32, u32)> {
    let lost = lost.iter().map(|&o| (o, before));
    lost.chain(replace.iter().map(|&o| (o, after))).collect()
}

/// The ordinals of the members `names` names after `flag`: each must be one that stays.
fn ordinals_staying(
    service: &Service,
    before: u32,
    names: &[String],
    flag: &str,
) -> Result<Vec<u32>, Diagnostic> {
    let staying = before.min(service.replicas());
    let mut ordinals = Vec::new();
    for name in names {
        let ordinal = name
            .strip_prefix(&format!("{}-", service.name()))
            .and_then(|o| o.parse::<u32>().ok())
            .filter(|o| *o < staying && name == &format!("{}-{o}", service.name()));
        match ordinal {
            Some(o) if !ordinals.contains(&o) => ordinals.push(o),
            Some(_) => {}
            None => {
                return Err(Diagnostic::input(
                    &berth_diagnostic::errors::PLAN_REPLACE,
                    format!("`{flag} {name}` names no member that stays"),
                )
                .help(format!(
                    "name a member from `{}-0` to `{}-{}`{}",
                    service.name(),
                    service.name(),
                    staying.saturating_sub(1),
                    match flag {
                        "--lost" => "; for a lost member the new spec removes, plan `--lost` first with the member count as deployed, then the change",
                        _ => "",
                    }
                )));
            }
        }
    }
    Ok(ordinals)
}

/// One step of a plan, about one member (its ordinal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The member leaves the cluster: it is removed, stopped, its volumes deleted, forgotten.
    Leave(u32),
    /// The member is stopped and started again with its new definition.
    Restart(u32),
    /// A new member joins the running cluster.
    Join(u32),
    /// A member that is down for good leaves the cluster: the others remove it, its container
    /// and volumes are given up, it is forgotten.
    Lose(u32),
}

/// The steps from `before` members to the service's, one member at a time so that a majority
/// stays up: first the `lost` members are removed, all of them, and join again on new volumes,
/// so that the cluster is whole before anything stops; then members leave from the highest ordinal down, or new members join
/// from the lowest up (the cluster grows before members restart); the members to `replace` leave
/// and join again on a new volume, one after the other; then, from the highest ordinal down (as a
/// StatefulSet's partitioned rollout goes), restart the members that stay and `changed`, and the
/// new ones whose definition as a founder differs from the one they joined with (`rejoins`).
pub fn steps(
    before: u32,
    after: u32,
    replace: &[u32],
    lost: &[u32],
    changed: impl Fn(u32) -> bool,
    rejoins: impl Fn(u32) -> bool,
) -> Vec<Step> {
    let mut steps: Vec<Step> = lost.iter().map(|&o| Step::Lose(o)).collect();
    steps.extend(lost.iter().map(|&o| Step::Join(o)));
    steps.extend((after..before).rev().map(Step::Leave));
    steps.extend((before..after).map(Step::Join));
    for &o in replace {
        steps.extend([Step::Leave(o), Step::Join(o)]);
    }
    let joined = |o: u32| o >= before || replace.contains(&o) || lost.contains(&o);
    let restarts = (0..after)
        .rev()
        .filter(|&o| if joined(o) { rejoins(o) } else { changed(o) });
    steps.extend(restarts.map(Step::Restart));
    steps
}

/// Fires [`FILE_CHANGED`] for a changed file of a backend's output, `path` below `--out`,
/// when it is a `[[files]]` entry's (`.../files/<member>/...`, or Kubernetes' `...-files.yaml`):
/// `effect` says, for the member (or "each member"), how the change reaches it.
pub fn file_changed(
    service: &Service,
    path: &str,
    effect: impl Fn(&str) -> String,
) -> Option<Diagnostic> {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts
        .iter()
        .position(|p| *p == "files" || p.ends_with("-files.yaml"))?;
    let member = parts.get(at + 1).copied().unwrap_or("each member");
    Some(FILE_CHANGED.fire(
        service,
        None,
        format!("`{path}` changes: {}", effect(member)),
        "a changed file",
        "apply it with `berth plan` (every backend but cloudfoundry), which restarts the members one at a time with a check between them",
    ))
}

/// The most members a deployment read back may have: a count beyond it is no file berth wrote.
pub const MOST_MEMBERS: u32 = 1000;

/// A plan this backend cannot write, and why.
pub fn unsupported(message: impl Into<String>) -> Diagnostic {
    Diagnostic::input(&berth_diagnostic::errors::PLAN_UNSUPPORTED, message)
        .help("make this change by hand as `berth diff --against` describes it, or plan it on another backend")
}

/// What a plan from `before` members to the service, where members move to new volumes when
/// `moving`, gets from the rules every backend shares: its warnings, or every diagnostic when
/// one refuses it.
pub fn check(
    service: &Service,
    before: u32,
    moving: bool,
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let after = service.replication.replicas.value;
    if moving && before.min(after) < 2 {
        return Err(vec![Diagnostic::input(
            &berth_diagnostic::errors::PLAN_REPLACE,
            "a member would move to a new, empty volume with no other member to catch up from: its data would be gone",
        )
        .help("grow the cluster first and move its members then, or keep the volumes as deployed")]);
    }
    let changes_members = before != after || moving;
    let mut diagnostics = Vec::new();
    let quorum = service.replication.quorum.value == Quorum::Majority;
    // A member on a new, empty volume gets its data only from the others, by the spec's commands.
    if (moving || (before != after && quorum)) && service.membership.is_none() {
        let what = if moving {
            "members leave and join again on new volumes (`--replace`, `--lost`, a new storage class)"
                .to_string()
        } else {
            format!("the member count changes from {before} to {after}")
        };
        diagnostics.push(MEMBERSHIP_MISSING.fire(
            service,
            service.replication.replicas.span.clone(),
            format!("{what}, and the spec does not say how a member joins or leaves the running cluster"),
            "the membership changes",
            "add a `[membership]` table with the commands that add and remove a member (`berth explain plan/membership-missing`), or keep the members as deployed",
        ));
    }
    if changes_members
        && service
            .membership
            .as_ref()
            .is_some_and(|m| m.caught_up.is_none())
    {
        diagnostics.push(NO_CAUGHT_UP_CHECK.fire(
            service,
            service.membership.as_ref().and_then(|m| m.span.clone()),
            "`[membership]` has no `caught_up` check: each step waits only for the container's own health check",
            "no caught-up check",
            "add `caught_up`, a command that passes once the member concerned serves with the cluster's data",
        ));
    }
    if diagnostics.iter().any(Diagnostic::is_rule_error) {
        return Err(diagnostics);
    }
    Ok(diagnostics)
}
