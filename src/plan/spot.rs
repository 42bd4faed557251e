//! Spot interruptions (README, "Spot interruptions"): which task state changes are interruptions to act on, which
//! deliveries were handled already, which target groups can be acted on before the service is
//! described (the fast path), which targets a task or an EC2 instance has in them, and what a
//! deregistration's answer means.
//!
//! The task path is built for speed: the target ids come from the event itself (ENI address or
//! host port), target groups from the YAML and a warm container's memory, so the first
//! DeregisterTargets goes out after at most one DescribeServices round trip, and with none at
//! all when the service's target groups are already known.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::error::{AwsError, ErrorKind, Failure};
use crate::event::TaskStateChange;
use crate::schedule::{Place, Schedule, ServiceRef};
use crate::state::{RegisteredTarget, ServiceState, Target, TargetBinding, TargetChange, TargetType, Task};
use crate::warm::Remembered;

/// The stop codes of a Spot interruption of a Fargate task.
pub const INTERRUPTION_STOP_CODES: &[&str] = &["SpotInterruption", "TerminationNotice"];
pub const INTERRUPTION_REASON_PREFIX: &str = "Your Spot Task was interrupted";

/// How long a warm container trusts a service's remembered target groups before it describes
/// the service again.
pub const TRUST_REMEMBERED: Duration = Duration::from_secs(600);

/// A target in a target group.
pub type GroupTarget = (String, Target);

/// Why this change is not an interruption to act on, if it is not.
pub fn not_an_interruption(event: &TaskStateChange) -> Option<String> {
    let interrupted = event.stop_code.as_deref().is_some_and(|c| INTERRUPTION_STOP_CODES.contains(&c))
        || event.stopped_reason.as_deref().is_some_and(|r| r.starts_with(INTERRUPTION_REASON_PREFIX));
    if !interrupted {
        return Some(format!(
            "not a Spot interruption (stopCode {}, desiredStatus {}, lastStatus {})",
            event.stop_code.as_deref().unwrap_or("none"),
            event.desired_status,
            event.last_status
        ));
    }
    if event.desired_status != "STOPPED" {
        return Some(format!("desiredStatus is {}, not STOPPED", event.desired_status));
    }
    if event.last_status == "STOPPED" {
        return Some("the task has already stopped".into());
    }
    None
}

/// What a warm container knows about an event before anything is read.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// This delivery (task ARN and `detail.version`) was handled already.
    pub handled: bool,
    /// The service's target groups as described earlier.
    pub remembered: Option<Remembered>,
}

/// A task interruption to act on: the first deregistrations, and what must be read for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlan {
    pub id: ServiceRef,
    /// The environment the YAML lists the service in (a service outside it is still protected).
    pub environment: Option<String>,
    pub task: Task,
    /// The YAML's target groups of the service.
    pub extra: Vec<TargetBinding>,
    /// The service's own target groups, remembered and still trusted: no DescribeServices.
    pub known: Option<Vec<TargetBinding>>,
    /// The container instance whose EC2 instance id is needed (an instance target).
    pub instance_lookup: Option<String>,
    /// Deregistered at once, while the rest is read.
    pub early: Vec<GroupTarget>,
    pub problems: Vec<Failure>,
}

/// Plan a task interruption from the event, the schedule and the container's memory at `now`;
/// or why nothing is done (not an interruption, a duplicate delivery, a task of no service).
/// `place`: where the event comes from, as the file names it (`dispatch::spot`).
pub fn task(
    schedule: &Schedule,
    event: &TaskStateChange,
    place: &Place,
    memory: Memory,
    now: Instant,
) -> Result<TaskPlan, String> {
    if let Some(why) = not_an_interruption(event) {
        return Err(why);
    }
    if memory.handled {
        return Err(format!("duplicate delivery of {} version {}", event.task_arn, event.version));
    }
    let Some(service) = event.service() else {
        return Err(format!(
            "task {} belongs to no service (group {})",
            event.task_arn,
            event.group.as_deref().unwrap_or("none")
        ));
    };
    let id = ServiceRef::at(place, event.cluster(), service);
    let (environment, extra) = configured(schedule, &id);
    let task = event.task();
    let known = trusted(memory.remembered, now);
    let instance_lookup = match (&task.private_ip, &task.container_instance_arn) {
        (None, Some(ci)) => Some(ci.clone()),
        _ => None,
    };
    let (early, problems) = match fast_path(&task, &extra, known.as_deref()) {
        Some(first) => task_targets(&task, &first, None),
        None => (Vec::new(), Vec::new()),
    };
    Ok(TaskPlan { id, environment, task, extra, known, instance_lookup, early, problems })
}

/// The remembered target groups, if young enough to trust at `now`.
pub fn trusted(remembered: Option<Remembered>, now: Instant) -> Option<Vec<TargetBinding>> {
    remembered.filter(|r| now.saturating_duration_since(r.at) < TRUST_REMEMBERED).map(|r| r.bindings)
}

/// The target groups to deregister from before the service is described: an awsvpc task's
/// (its target id is in the event) YAML and remembered target groups. None when there are none
/// or the task's targets need its EC2 instance.
pub fn fast_path(task: &Task, extra: &[TargetBinding], known: Option<&[TargetBinding]>) -> Option<Vec<TargetBinding>> {
    if task.private_ip.is_none() || (extra.is_empty() && known.is_none()) {
        return None;
    }
    let mut first = extra.to_vec();
    first.extend(known.into_iter().flatten().cloned());
    Some(first)
}

/// A service's target groups as DescribeServices shows them: its own and its task sets', once.
pub fn service_bindings(state: &ServiceState) -> Vec<TargetBinding> {
    let mut all: Vec<TargetBinding> =
        state.load_balancers.iter().chain(&state.task_set_load_balancers).cloned().collect();
    all.sort();
    all.dedup();
    all
}

/// What was read for a task interruption.
#[derive(Debug, Clone, Default)]
pub struct TaskReads {
    /// DescribeServices, when the target groups were not known: the service, if ECS has it.
    pub service: Option<Result<Option<ServiceState>, AwsError>>,
    /// DescribeContainerInstances of the task's container instance: (ARN, EC2 instance id).
    pub instance: Option<Result<Vec<(String, String)>, AwsError>>,
}

/// The rest of a task interruption: every target of the task in every target group of its
/// service not deregistered early, the problems found, and a note when there was nothing to do.
pub fn task_rest(plan: &TaskPlan, reads: &TaskReads) -> (Vec<GroupTarget>, Vec<Failure>, Option<String>) {
    let mut problems = Vec::new();
    let mut bindings = plan.extra.clone();
    match (&plan.known, &reads.service) {
        (Some(known), _) => bindings.extend(known.iter().cloned()),
        (None, Some(Ok(Some(state)))) => bindings.extend(service_bindings(state)),
        (None, Some(Err(e))) => problems.push(Failure::aws(e, format!("cannot read the service's target groups: {e}"))),
        (None, _) => {}
    }
    let instance_id = match &reads.instance {
        Some(Ok(pairs)) => pairs.first().map(|(_, id)| id.clone()),
        Some(Err(e)) => {
            problems.push(Failure::aws(e, format!("cannot find the task's EC2 instance: {e}")));
            None
        }
        None => None,
    };
    let (targets, p) = task_targets(&plan.task, &bindings, instance_id.as_deref());
    problems.extend(p);
    let done: BTreeSet<&GroupTarget> = plan.early.iter().collect();
    let rest = targets.into_iter().filter(|t| !done.contains(t)).collect();
    let note = (bindings.is_empty() && problems.is_empty()).then(|| "the service has no target groups".to_string());
    (rest, problems, note)
}

/// The targets a task has in each target group. An awsvpc task (it has an ENI address) is an
/// `ip` target on the container port; a bridge/host task is an `instance` target on the host
/// port. No target group lookup is needed: ECS only allows these pairings.
pub fn task_targets(
    task: &Task,
    bindings: &[TargetBinding],
    instance_id: Option<&str>,
) -> (Vec<GroupTarget>, Vec<Failure>) {
    let mut targets = BTreeSet::new();
    let mut problems = Vec::new();
    for b in bindings {
        let tg = &b.target_group_arn;
        let target = match (&task.private_ip, instance_id) {
            (Some(ip), _) => Target { id: ip.clone(), port: b.container_port },
            (None, Some(instance)) => {
                let host_port = task
                    .containers
                    .iter()
                    .filter(|c| c.name == b.container)
                    .flat_map(|c| &c.bindings)
                    .find(|(container_port, _)| *container_port == b.container_port)
                    .map(|(_, host)| *host);
                match host_port {
                    Some(port) => Target { id: instance.to_string(), port },
                    None => {
                        problems.push(Failure::new(
                            ErrorKind::Invalid,
                            format!(
                                "task {} has no host port for container `{}` port {} ({tg})",
                                task.id(),
                                b.container,
                                b.container_port
                            ),
                        ));
                        continue;
                    }
                }
            }
            (None, None) => {
                problems.push(Failure::new(
                    ErrorKind::NotFound,
                    format!("task {} has neither an ENI address nor a container instance ({tg})", task.id()),
                ));
                continue;
            }
        };
        targets.insert((tg.clone(), target));
    }
    (targets.into_iter().collect(), problems)
}

/// What a deregistration's answer means. Not registered (`InvalidTarget`: ELB's answer for a
/// target it does not have) is done: the target is out, which is all we wanted.
pub fn deregistered(result: &Result<(), AwsError>) -> TargetChange {
    match result {
        Ok(()) => TargetChange::Deregistered,
        Err(e) if e.code.as_deref() == Some("InvalidTarget") => TargetChange::NotRegistered,
        Err(_) => TargetChange::DeregisterFailed,
    }
}

/// The YAML's extra target groups of a service, and its environment's name.
fn configured(schedule: &Schedule, id: &ServiceRef) -> (Option<String>, Vec<TargetBinding>) {
    for env in schedule.environments.values() {
        if let Some(s) = env.services.iter().find(|s| &s.id == id) {
            let extra = s
                .target_groups
                .iter()
                .map(|t| TargetBinding {
                    target_group_arn: t.arn.clone(),
                    container: t.container.clone(),
                    container_port: t.port,
                })
                .collect();
            return (Some(env.name.clone()), extra);
        }
    }
    // A service `select: all` chooses (a selector by tags cannot be told without its tags).
    let chooses = |s: &crate::schedule::Selector| {
        s.is_on(&id.place, &id.cluster) && !s.needs_tags() && s.selects(&id.service, &Default::default())
    };
    let environment = schedule.environments.values().find(|e| e.selectors.iter().any(chooses)).map(|e| e.name.clone());
    (environment, Vec::new())
}

// ---- EC2 Spot instance warnings ----

/// The clusters searched for the instance: every cluster the schedule names in its place.
pub fn clusters<'a>(schedule: &'a Schedule, place: &Place) -> Vec<&'a str> {
    let named = schedule
        .environments
        .values()
        .flat_map(|e| &e.services)
        .filter(|s| &s.id.place == place)
        .map(|s| s.id.cluster.as_str());
    let selected = schedule
        .environments
        .values()
        .flat_map(|e| &e.selectors)
        .filter(|s| &s.place == place)
        .map(|s| s.cluster.as_str());
    let all: BTreeSet<&str> = named.chain(selected).collect();
    all.into_iter().collect()
}

/// The container instances of an EC2 instance: (cluster, container instance ARN) pairs, and the
/// searches that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hits {
    pub found: Vec<(String, String)>,
    pub problems: Vec<Failure>,
}

/// The container instances found for the instance, and the searches that failed; or why nothing
/// is done (the instance is in none of the clusters).
pub fn instance_hits(
    instance_id: &str,
    clusters: &[&str],
    found: Vec<(&str, Result<Option<String>, AwsError>)>,
) -> Result<Hits, String> {
    let mut problems = Vec::new();
    let mut hits = Vec::new();
    for (cluster, result) in found {
        match result {
            Ok(Some(arn)) => hits.push((cluster.to_string(), arn)),
            Ok(None) => {}
            Err(e) => problems.push(Failure::aws(&e, format!("cannot search cluster {cluster}: {e}"))),
        }
    }
    if hits.is_empty() && problems.is_empty() {
        return Err(format!(
            "instance {instance_id} is a container instance of none of the clusters {}",
            clusters.join(", ")
        ));
    }
    Ok(Hits { found: hits, problems })
}

/// The `instance` target groups among the services' (only those have the EC2 instance as a
/// target; `ip` targets of awsvpc tasks are the task events' to take out).
pub fn instance_target_groups(types: &HashMap<String, TargetType>) -> Vec<String> {
    let mut tgs: Vec<String> =
        types.iter().filter(|(_, t)| **t == TargetType::Instance).map(|(arn, _)| arn.clone()).collect();
    tgs.sort();
    tgs
}

/// Per service on the instance: its targets on that instance (every port the instance is
/// registered on, so no task's host port can be missed), and the target groups that could not
/// be read.
pub fn instance_targets(
    place: &Place,
    cluster: &str,
    instance_id: &str,
    services: &[(String, ServiceState)],
    registered: &HashMap<String, Result<Vec<RegisteredTarget>, AwsError>>,
) -> (Vec<(ServiceRef, Vec<GroupTarget>)>, Vec<Failure>) {
    let mut problems = Vec::new();
    let mut on_instance: HashMap<&str, Vec<&Target>> = HashMap::new();
    let mut tgs: Vec<&String> = registered.keys().collect();
    tgs.sort();
    for tg in tgs {
        match &registered[tg] {
            Ok(targets) => {
                let mine = targets
                    .iter()
                    .filter(|t| super::targets::is_registered(t.health) && t.target.id == instance_id)
                    .map(|t| &t.target)
                    .collect();
                on_instance.insert(tg, mine);
            }
            Err(e) => problems.push(Failure::aws(e, format!("cannot read the targets of {tg}: {e}"))),
        }
    }
    let per_service = services
        .iter()
        .map(|(name, state)| {
            let mut targets = BTreeSet::new();
            for b in state.load_balancers.iter().chain(&state.task_set_load_balancers) {
                for t in on_instance.get(b.target_group_arn.as_str()).into_iter().flatten() {
                    targets.insert((b.target_group_arn.clone(), (*t).clone()));
                }
            }
            (ServiceRef::at(place, cluster, name.clone()), targets.into_iter().collect())
        })
        .collect();
    (per_service, problems)
}

#[cfg(test)]
mod tests;
