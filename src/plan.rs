//! Every decision, made without I/O: what a stop or start changes for a service, what its
//! snapshot says, which targets a task needs. `apply` only carries these out.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

use crate::event::Action;
use crate::schedule::{ServiceConfig, ServiceRef};
use crate::state::{Capacity, ServiceState, Target, TargetBinding, TargetType, Task};

/// The ECS tag that holds a stopped service's original counts.
pub const SNAPSHOT_TAG: &str = "ecs-cost-saver:snapshot";
/// ECS allows at most 50 user tags per resource.
const MAX_TAGS: usize = 50;

/// What a service had before it was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub desired: u32,
    /// None when the service had no scalable target.
    #[serde(flatten)]
    pub capacity: Option<Capacity>,
}

impl Snapshot {
    /// The tag value, e.g. `desired=3 min=1 max=4`. Only digits, letters, `=` and spaces: inside
    /// ECS's allowed set (letters, digits, spaces, `+ - = . _ : / @`) and far below 256 chars.
    pub fn encode(&self) -> String {
        match self.capacity {
            Some(c) => format!("desired={} min={} max={}", self.desired, c.min, c.max),
            None => format!("desired={}", self.desired),
        }
    }

    pub fn decode(value: &str) -> Result<Snapshot, String> {
        let bad = |why: &str| {
            format!(
                "the {SNAPSHOT_TAG} tag holds `{value}`, which is not a snapshot ({why}); set it to e.g. `desired=2 min=1 max=4` or delete it"
            )
        };
        let (mut desired, mut min, mut max) = (None, None, None);
        for part in value.split_whitespace() {
            let (key, number) = part.split_once('=').ok_or_else(|| bad("expected key=number"))?;
            let number: u32 = number.parse().map_err(|_| bad("counts must be whole numbers"))?;
            let slot = match key {
                "desired" => &mut desired,
                "min" => &mut min,
                "max" => &mut max,
                _ => return Err(bad("unknown key")),
            };
            if slot.replace(number).is_some() {
                return Err(bad("a key appears twice"));
            }
        }
        let desired = desired.ok_or_else(|| bad("no desired count"))?;
        let capacity = match (min, max) {
            (Some(min), Some(max)) => Some(Capacity { min, max }),
            (None, None) => None,
            _ => return Err(bad("min and max go together")),
        };
        Ok(Snapshot { desired, capacity })
    }
}

/// The counts a report shows before and after (min/max null without a scalable target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub desired: u32,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl Counts {
    fn new(desired: u32, capacity: Option<Capacity>) -> Counts {
        Counts { desired, min: capacity.map(|c| c.min), max: capacity.map(|c| c.max) }
    }

    pub fn of(state: &ServiceState) -> Counts {
        Counts::new(state.desired, state.capacity)
    }
}

/// One mutating call, in the order they must happen for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// TagResource with the snapshot, before anything changes.
    SaveSnapshot(Snapshot),
    /// RegisterScalableTarget with new min/max.
    SetCapacity(Capacity),
    /// UpdateService desiredCount.
    SetDesired(u32),
    /// UntagResource, only after the whole restore succeeded.
    ClearSnapshot,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::SaveSnapshot(s) => write!(f, "save snapshot {}", s.encode()),
            Step::SetCapacity(c) => write!(f, "set scalable target min {} max {}", c.min, c.max),
            Step::SetDesired(n) => write!(f, "set desiredCount {n}"),
            Step::ClearSnapshot => write!(f, "clear snapshot"),
        }
    }
}

/// What happens to one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// These calls, in order; never empty.
    Change(Vec<Step>),
    /// Already in the wanted state: no mutating call at all.
    Unchanged,
    /// Must not be touched, and why.
    Fail(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub id: ServiceRef,
    pub arn: String,
    pub action: Action,
    /// The snapshot tag as read (None when absent).
    pub snapshot: Option<Snapshot>,
    pub before: Counts,
    /// The counts once the steps are applied.
    pub after: Counts,
    pub decision: Decision,
    /// Things the operator should know that do not fail the service.
    pub notes: Vec<String>,
}

/// Decide what `action` does to one observed service.
pub fn plan_service(action: Action, config: &ServiceConfig, state: &ServiceState) -> ServicePlan {
    let before = Counts::of(state);
    let mut plan = ServicePlan {
        id: config.id.clone(),
        arn: state.arn.clone(),
        action,
        snapshot: None,
        before,
        after: before,
        decision: Decision::Unchanged,
        notes: Vec::new(),
    };
    // Reconcile never reaches here: the dispatcher turns it into stop or start first.
    if matches!(action, Action::Status | Action::Register | Action::Reconcile | Action::SpotTask | Action::SpotInstance)
    {
        return plan;
    }
    if state.status != "ACTIVE" {
        plan.decision = Decision::Fail(format!("the service is {}, not ACTIVE", state.status));
        return plan;
    }
    let snapshot = match state.tags.get(SNAPSHOT_TAG).map(|v| Snapshot::decode(v)).transpose() {
        Ok(s) => {
            plan.snapshot = s;
            s
        }
        Err(e) => {
            plan.decision = Decision::Fail(e);
            return plan;
        }
    };
    let result = match action {
        Action::Stop => plan_stop(state, snapshot),
        Action::Start => Ok(plan_start(state, snapshot, config, &mut plan.notes)),
        Action::Status | Action::Register | Action::Reconcile | Action::SpotTask | Action::SpotInstance => {
            unreachable!("returned above")
        }
    };
    match result {
        Ok((steps, after)) => {
            plan.after = after;
            if !steps.is_empty() {
                plan.decision = Decision::Change(steps);
            }
        }
        Err(why) => plan.decision = Decision::Fail(why),
    }
    plan
}

const ZERO: Capacity = Capacity { min: 0, max: 0 };

fn plan_stop(state: &ServiceState, snapshot: Option<Snapshot>) -> Result<(Vec<Step>, Counts), String> {
    let after = Counts::new(0, state.capacity.map(|_| ZERO));
    let stopped = state.desired == 0 && state.capacity.is_none_or(|c| c == ZERO);
    if stopped {
        // Nothing to save (a zero snapshot would only erase what start falls back to) and
        // nothing to change: no call at all.
        return Ok((Vec::new(), after));
    }
    let mut steps = Vec::new();
    if snapshot.is_none() {
        if is_short_service_arn(&state.arn) {
            return Err(format!(
                "cannot save the snapshot: {} uses the old short ARN format, which ECS cannot tag; \
                 opt in to the long format (aws ecs put-account-setting-default --name serviceLongArnFormat --value enabled) and recreate the service",
                state.arn
            ));
        }
        if state.tags.len() >= MAX_TAGS {
            return Err(format!(
                "cannot save the snapshot: the service already has {} tags, ECS's limit is {MAX_TAGS}; remove one",
                state.tags.len()
            ));
        }
        steps.push(Step::SaveSnapshot(Snapshot { desired: state.desired, capacity: state.capacity }));
    }
    // Capacity first, so Application Auto Scaling cannot scale the service back up.
    if state.capacity.is_some_and(|c| c != ZERO) {
        steps.push(Step::SetCapacity(ZERO));
    }
    if state.desired != 0 {
        steps.push(Step::SetDesired(0));
    }
    Ok((steps, after))
}

fn plan_start(
    state: &ServiceState,
    snapshot: Option<Snapshot>,
    config: &ServiceConfig,
    notes: &mut Vec<String>,
) -> (Vec<Step>, Counts) {
    // Without a snapshot a running service is left alone: its count may be autoscaled. It is
    // stopped only as `plan_stop` sees it: no tasks *and* nothing to scale up (a service
    // autoscaled to 0 tasks, or running with min/max 0/0, keeps its counts).
    let stopped = state.desired == 0 && state.capacity.is_none_or(|c| c == ZERO);
    let desired = match snapshot {
        Some(s) => s.desired,
        None if stopped => config.desired_count.unwrap_or(1),
        None => state.desired,
    };
    let capacity = state.capacity.map(|current| {
        match snapshot.and_then(|s| s.capacity) {
            Some(saved) => saved,
            None if current == ZERO && (snapshot.is_some() || stopped) => {
                let min = config.min_capacity.unwrap_or(1);
                let max = config.max_capacity.unwrap_or(min.max(desired));
                if snapshot.is_some() {
                    notes.push(format!(
                        "the snapshot has no min/max (the scalable target was added after the stop); used min {min} max {max}"
                    ));
                }
                Capacity { min, max }
            }
            None => current,
        }
    });
    if state.capacity.is_none() && snapshot.is_some_and(|s| s.capacity.is_some()) {
        notes.push(
            "the snapshot has min/max but the service no longer has a scalable target; restored desiredCount only"
                .into(),
        );
    }
    let mut steps = Vec::new();
    if let Some(c) = capacity.filter(|c| Some(*c) != state.capacity) {
        steps.push(Step::SetCapacity(c));
    }
    if desired != state.desired {
        steps.push(Step::SetDesired(desired));
    }
    if snapshot.is_some() {
        steps.push(Step::ClearSnapshot);
    }
    (steps, Counts::new(desired, capacity))
}

// ---- another invocation at the same time ----
//
// Nothing orders two invocations (the CLI's `invoke` is not held by the Lambda's reserved
// concurrency), and ECS and Application Auto Scaling have no conditional write: a plan is
// made from one read and carried out later. `apply::execute` reads the service again at the
// points below and these functions decide what that read calls for.

/// Before a stop saves its snapshot: the snapshot tag as read again just now. One there means
/// another stop saved it after our read; keep it (ours may mix counts read before and after
/// that stop's writes) and do not save.
pub fn saved_meanwhile(now: &ServiceState) -> Option<Snapshot> {
    now.tags.get(SNAPSHOT_TAG).and_then(|v| Snapshot::decode(v).ok())
}

/// After a stop's steps, the service read again: a start that read the snapshot before our
/// writes may since have restored counts or cleared it. The steps that put the stop back, the
/// snapshot first as always; none when nothing was undone. A read that lags behind our own
/// writes only repeats them.
pub fn recheck_stop(snapshot: Snapshot, now: &ServiceState) -> Vec<Step> {
    let mut steps = Vec::new();
    if !now.tags.contains_key(SNAPSHOT_TAG) {
        steps.push(Step::SaveSnapshot(snapshot));
    }
    if now.capacity.is_some_and(|c| c != ZERO) {
        steps.push(Step::SetCapacity(ZERO));
    }
    if now.desired != 0 {
        steps.push(Step::SetDesired(0));
    }
    steps
}

/// After a restore cleared the snapshot, the service read again: if a stop's writes show
/// (min/max or desiredCount back at 0 where the restore set more), that stop read the snapshot
/// we have just cleared and relies on it, so save it again. Counts are the stop's to fix (it
/// checks them after its writes); a read that lags behind our own writes then costs only a
/// snapshot tag on a running service, which the next start clears.
pub fn recheck_restore(restored: Counts, snapshot: Snapshot, now: &ServiceState) -> Vec<Step> {
    let capacity_zeroed = restored.min.zip(restored.max).is_some_and(|c| c != (0, 0)) && now.capacity == Some(ZERO);
    let desired_zeroed = restored.desired > 0 && now.desired == 0;
    if (capacity_zeroed || desired_zeroed) && !now.tags.contains_key(SNAPSHOT_TAG) {
        vec![Step::SaveSnapshot(snapshot)]
    } else {
        Vec::new()
    }
}

/// `arn:aws:ecs:REGION:ACCOUNT:service/NAME` (no cluster): ECS refuses to tag these.
fn is_short_service_arn(arn: &str) -> bool {
    arn.rsplit_once(":service/").is_some_and(|(_, rest)| !rest.contains('/'))
}

// ---- target registration ----

/// Every target group a service's tasks belong in: the service's own, then the YAML's extras.
pub fn bindings(config: &ServiceConfig, state: &ServiceState) -> Vec<TargetBinding> {
    let mut all: Vec<TargetBinding> = state.load_balancers.clone();
    for extra in &config.target_groups {
        let b = TargetBinding {
            target_group_arn: extra.arn.clone(),
            container: extra.container.clone(),
            container_port: extra.port,
        };
        if !all.contains(&b) {
            all.push(b);
        }
    }
    all
}

/// Whether the service's tasks are all up: enough RUNNING, none still starting.
pub fn settled(tasks: &[Task], desired: u32) -> bool {
    tasks.iter().all(Task::is_running) && tasks.len() >= desired as usize
}

/// A target to register and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Registration {
    pub target_group_arn: String,
    pub target: Target,
    pub task_arn: String,
}

/// What registration needs to know about AWS beyond the tasks.
#[derive(Debug, Default)]
pub struct TargetFacts {
    pub types: HashMap<String, TargetType>,
    /// Container instance ARN -> EC2 instance id.
    pub instances: HashMap<String, String>,
    /// Target group -> targets already registered (not draining).
    pub registered: HashMap<String, BTreeSet<Target>>,
}

/// Which targets the RUNNING tasks need that are not registered yet, and what prevents others.
pub fn plan_registrations(
    bindings: &[TargetBinding],
    tasks: &[Task],
    facts: &TargetFacts,
) -> (Vec<Registration>, Vec<String>) {
    let mut wanted = BTreeSet::new();
    let mut problems = Vec::new();
    for binding in bindings {
        let tg = &binding.target_group_arn;
        let Some(kind) = facts.types.get(tg) else {
            problems.push(format!("target group {tg} was not found"));
            continue;
        };
        for task in tasks.iter().filter(|t| t.is_running()) {
            let Some(container) = task.containers.iter().find(|c| c.name == binding.container) else {
                problems.push(format!("task {} has no container `{}` for {tg}", task.id(), binding.container));
                continue;
            };
            let target = match kind {
                TargetType::Ip => match &task.private_ip {
                    Some(ip) => Target { id: ip.clone(), port: binding.container_port },
                    None => {
                        problems.push(format!(
                            "task {} has no private IPv4 address for ip target group {tg} (is it in awsvpc mode?)",
                            task.id()
                        ));
                        continue;
                    }
                },
                TargetType::Instance => {
                    let instance = task.container_instance_arn.as_ref().and_then(|a| facts.instances.get(a));
                    let host_port = container
                        .bindings
                        .iter()
                        .find(|(container_port, _)| *container_port == binding.container_port)
                        .map(|(_, host)| *host);
                    match (instance, host_port) {
                        (Some(id), Some(port)) => Target { id: id.clone(), port },
                        (None, _) => {
                            problems.push(format!(
                                "task {} runs on no known EC2 instance for instance target group {tg}",
                                task.id()
                            ));
                            continue;
                        }
                        (_, None) => {
                            problems.push(format!(
                                "container `{}` of task {} has no host port for container port {} ({tg})",
                                binding.container,
                                task.id(),
                                binding.container_port
                            ));
                            continue;
                        }
                    }
                }
                TargetType::Other => continue,
            };
            if !facts.registered.get(tg).is_some_and(|r| r.contains(&target)) {
                wanted.insert(Registration { target_group_arn: tg.clone(), target, task_arn: task.arn.clone() });
            }
        }
    }
    (wanted.into_iter().collect(), problems)
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
