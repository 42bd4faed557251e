//! The capacity of an EC2-backed environment: what a stop or a start does to each Auto Scaling
//! group the schedule file lists (README, "EC2-backed environments"). Pure: the group, its
//! snapshot tag and who else runs on its instances are read by `observe`; this decides.
//!
//! A stop scales a group in only after the environment's services are stopped, only when no
//! one else's tasks run on its instances (the guard) and only once its own tasks are gone; it
//! saves `min/desired/max` on the group's own tag first (never over an earlier snapshot) and
//! keeps `max`. A start restores the group before any service starts, from its snapshot, else
//! from the file's sizes, and clears the snapshot only after the sizes are set.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::action::Action;
use crate::error::{ErrorKind, Failure};
use crate::schedule::{GroupConfig, ServiceRef};
use crate::state::{AutoScalingGroup, CapacityProvider, GroupSize, SNAPSHOT_TAG};

/// The most workloads of others a skipped group's reason names.
pub const NAMED_OTHERS: usize = 5;

/// What one group gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision", content = "detail")]
pub enum GroupDecision {
    /// Nothing to do.
    Unchanged,
    /// Left alone, and why (the guard; tasks of the environment still on it).
    Skip(String),
    Fail(Failure),
    /// The writes, in order: save the snapshot (`save`), set the sizes (`set`), clear the
    /// snapshot (`clear`).
    Change {
        save: Option<GroupSize>,
        set: Option<GroupSize>,
        clear: bool,
    },
}

/// One group of the plan: what it is now, what was saved, and the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupPlan {
    pub group: String,
    /// Its sizes now (None: it could not be read).
    pub before: Option<GroupSize>,
    /// Its sizes after the decision.
    pub after: Option<GroupSize>,
    /// Its snapshot tag, as found.
    pub saved: Option<GroupSize>,
    /// The capacity provider it backs, as the report names it.
    pub capacity_provider: Option<String>,
    pub decision: GroupDecision,
}

/// Who runs on a group's instances, in the environment's clusters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Occupants {
    /// Tasks of services this run stopped (or found stopped): waited for before scaling in.
    pub ours: usize,
    /// Those services: the ones the wait looks at.
    pub waiting_for: BTreeSet<ServiceRef>,
    /// Everything else that is not a daemon: `cluster/service`, or `cluster: task group G`
    /// for a task of no service; sorted, each once.
    pub others: BTreeSet<String>,
}

/// Whose a task on the group's instances is: ours (a service the run stopped), a daemon's
/// (ignored: one per instance, it goes with the instance), or someone else's.
pub fn occupants<'a>(
    tasks: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    stopped: &BTreeSet<ServiceRef>,
    daemons: &BTreeSet<ServiceRef>,
) -> Occupants {
    let mut found = Occupants::default();
    for (cluster, group) in tasks {
        match group.and_then(|g| g.strip_prefix("service:")) {
            Some(service) => {
                let id = ServiceRef::new(cluster, service);
                if stopped.contains(&id) {
                    found.ours += 1;
                    found.waiting_for.insert(id);
                } else if !daemons.contains(&id) {
                    found.others.insert(id.to_string());
                }
            }
            None => {
                found.others.insert(format!("{cluster}: task group {}", group.unwrap_or("(none)")));
            }
        }
    }
    found
}

/// The group's snapshot tag: None without one, an error naming the tag when it is malformed.
pub fn snapshot(group: &AutoScalingGroup) -> Result<Option<GroupSize>, Failure> {
    match group.tags.get(SNAPSHOT_TAG) {
        None => Ok(None),
        Some(value) => GroupSize::from_tag(value).map(Some).map_err(|e| {
            Failure::new(
                ErrorKind::Invalid,
                format!(
                    "Auto Scaling group {} has a malformed {SNAPSHOT_TAG} tag: {e}; set it to its sizes (`min=1 desired=2 max=4`) or delete it",
                    group.name
                ),
            )
        }),
    }
}

/// How the report names the capacity provider a group backs, with what ECS manages of it.
pub fn provider_of(group: &AutoScalingGroup, providers: &[CapacityProvider]) -> Option<String> {
    let p = providers.iter().find(|p| p.group_arn == group.arn)?;
    let managed: Vec<&str> = [
        p.managed_scaling.then_some("managed scaling"),
        p.managed_termination_protection.then_some("managed termination protection"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(if managed.is_empty() { p.name.clone() } else { format!("{} ({})", p.name, managed.join(", ")) })
}

/// A stop's decision for a group whose environment's services are stopped now: `occupants` as
/// they were when the wait for the environment's tasks ended.
pub fn stop(group: &AutoScalingGroup, occupants: &Occupants) -> (GroupDecision, Option<GroupSize>) {
    let saved = match snapshot(group) {
        Ok(saved) => saved,
        Err(failure) => return (GroupDecision::Fail(failure), None),
    };
    let now = group.size;
    if now.min == 0 && now.desired == 0 {
        return (GroupDecision::Unchanged, Some(now));
    }
    if !occupants.others.is_empty() {
        let named: Vec<&str> = occupants.others.iter().take(NAMED_OTHERS).map(String::as_str).collect();
        let more = occupants.others.len().saturating_sub(NAMED_OTHERS);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        let reason = format!(
            "tasks not stopped by this environment still run on its instances: {}{more}; its capacity is theirs too",
            named.join(", ")
        );
        return (GroupDecision::Skip(reason), Some(now));
    }
    if occupants.ours > 0 {
        let reason = format!(
            "{} tasks of this environment's stopped services were still on its instances when the wait ended; the next stop or reconcile scales it in",
            occupants.ours
        );
        return (GroupDecision::Skip(reason), Some(now));
    }
    let after = GroupSize { min: 0, desired: 0, max: now.max };
    let save = saved.is_none().then_some(now);
    (GroupDecision::Change { save, set: Some(after), clear: false }, Some(after))
}

/// A start's decision: the snapshot's sizes, else the file's (`min`, `desired` or `min`, `max`
/// or the group's own), else nothing to restore from.
pub fn start(group: &AutoScalingGroup, config: &GroupConfig) -> (GroupDecision, Option<GroupSize>) {
    let saved = match snapshot(group) {
        Ok(saved) => saved,
        Err(failure) => return (GroupDecision::Fail(failure), None),
    };
    let now = group.size;
    if let Some(saved) = saved {
        let set = (now != saved).then_some(saved);
        return (GroupDecision::Change { save: None, set, clear: true }, Some(saved));
    }
    if now.desired > 0 || now.min > 0 {
        return (GroupDecision::Unchanged, Some(now));
    }
    let Some(min) = config.min else {
        let why = format!(
            "Auto Scaling group {} is at {now} with no {SNAPSHOT_TAG} tag, and the file gives no sizes: add `min` and `desired` to its `capacity` entry",
            group.name
        );
        return (GroupDecision::Fail(Failure::new(ErrorKind::Invalid, why)), None);
    };
    let desired = config.desired.unwrap_or(min);
    let max = config.max.unwrap_or(now.max.max(desired));
    let after = GroupSize { min, desired, max };
    (GroupDecision::Change { save: None, set: Some(after), clear: false }, Some(after))
}

/// The plan of every listed group: `groups` as read (a name missing there does not exist),
/// decided for `effect` (a stop's with its occupants; status and register only show them).
pub fn plan(
    configs: &[GroupConfig],
    groups: &BTreeMap<String, Result<AutoScalingGroup, Failure>>,
    providers: &[CapacityProvider],
    effect: Action,
    occupants: &BTreeMap<String, Occupants>,
) -> Vec<GroupPlan> {
    configs
        .iter()
        .map(|config| {
            let name = config.name.clone();
            let group = match groups.get(&name) {
                Some(Ok(group)) => group,
                Some(Err(failure)) => return failed(name, failure.clone()),
                None => {
                    let why = format!("Auto Scaling group {name} was not found");
                    return failed(name, Failure::new(ErrorKind::NotFound, why));
                }
            };
            let (decision, after) = match effect {
                Action::Stop => stop(group, occupants.get(&name).unwrap_or(&Occupants::default())),
                Action::Start => start(group, config),
                Action::Status | Action::Register | Action::Reconcile => match snapshot(group) {
                    Ok(_) => (GroupDecision::Unchanged, Some(group.size)),
                    Err(failure) => (GroupDecision::Fail(failure), None),
                },
            };
            GroupPlan {
                group: name,
                before: Some(group.size),
                after,
                saved: snapshot(group).ok().flatten(),
                capacity_provider: provider_of(group, providers),
                decision,
            }
        })
        .collect()
}

fn failed(group: String, failure: Failure) -> GroupPlan {
    GroupPlan {
        group,
        before: None,
        after: None,
        saved: None,
        capacity_provider: None,
        decision: GroupDecision::Fail(failure),
    }
}

/// The calls a group's decision makes, as the report lists them.
pub fn actions(decision: &GroupDecision) -> Vec<String> {
    let GroupDecision::Change { save, set, clear } = decision else { return Vec::new() };
    let mut actions = Vec::new();
    if let Some(save) = save {
        actions.push(format!("save snapshot {}", save.to_tag()));
    }
    if let Some(set) = set {
        actions.push(format!("set {set}"));
    }
    if *clear {
        actions.push("clear snapshot".to_string());
    }
    actions
}

#[cfg(test)]
mod tests;
