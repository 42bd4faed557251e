//! Which targets a service's tasks need in its target groups: whose tasks they are, when a
//! starting service has settled, and which targets are missing and why others cannot be made.

use std::collections::BTreeSet;

use crate::error::{ErrorKind, Failure};
use crate::schedule::{ServiceConfig, ServiceRef};
use crate::state::{ObservedTasks, ServiceState, Target, TargetBinding, TargetFacts, TargetHealth, TargetType, Task};

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

/// The tasks of service `id` among those observed: its cluster's tasks whose `group` is
/// `service:NAME`, whatever list they came from (a task without a group belongs to no service).
pub fn tasks_of(id: &ServiceRef, observed: &ObservedTasks) -> Result<Vec<Task>, Failure> {
    let unreadable = |e| Failure::aws(e, format!("could not read tasks: {e}"));
    if let Some(e) = observed.list_failures.get(id) {
        return Err(unreadable(e));
    }
    let group = format!("service:{}", id.service);
    match observed.clusters.get(&id.cluster) {
        None => Ok(Vec::new()),
        Some(Err(e)) => Err(unreadable(e)),
        Some(Ok(tasks)) => Ok(tasks.iter().filter(|t| t.group.as_deref() == Some(group.as_str())).cloned().collect()),
    }
}

/// Whether the service's tasks are all up: enough RUNNING, none still starting.
pub fn settled(tasks: &[Task], desired: u32) -> bool {
    tasks.iter().all(Task::is_running) && tasks.len() >= desired as usize
}

/// Whether a target listed by DescribeTargetHealth is registered for our purposes: one on its
/// way out (draining, or unused after a deregistration) is registered again.
pub fn is_registered(health: TargetHealth) -> bool {
    !matches!(health, TargetHealth::Draining | TargetHealth::Unused)
}

/// The targets a service's RUNNING tasks make in those of its target groups whose type was
/// read: what must be `healthy` before the next `start_order` group starts.
pub fn expected(bindings: &[TargetBinding], tasks: &[Task], facts: &TargetFacts) -> Vec<(String, Target)> {
    let mut all = Vec::new();
    for binding in bindings {
        let Some(Ok(kind)) = facts.types.get(&binding.target_group_arn) else { continue };
        for task in tasks.iter().filter(|t| t.is_running()) {
            if let Ok(Some(target)) = target(binding, *kind, task, facts) {
                all.push((binding.target_group_arn.clone(), target));
            }
        }
    }
    all
}

/// Whether DescribeTargetHealth (`read`, per target group) shows every `expected` target
/// `healthy` (a target group that could not be read has none healthy).
pub fn all_healthy(
    expected: &[(String, Target)],
    read: &std::collections::HashMap<String, Result<Vec<crate::state::RegisteredTarget>, crate::error::AwsError>>,
) -> bool {
    expected.iter().all(|(tg, target)| {
        matches!(read.get(tg), Some(Ok(targets))
            if targets.iter().any(|t| &t.target == target && t.health == TargetHealth::Healthy))
    })
}

/// A target to register and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Registration {
    pub target_group_arn: String,
    pub target: Target,
    pub task_arn: String,
}

/// Which targets the RUNNING tasks need that are not registered yet, and what prevents others:
/// first the target groups that could not be read (they are left out), then each task's problem.
pub fn plan_registrations(
    bindings: &[TargetBinding],
    tasks: &[Task],
    facts: &TargetFacts,
) -> (Vec<Registration>, Vec<Failure>) {
    let mut problems = Vec::new();
    let mut readable = Vec::new();
    for binding in bindings {
        let tg = &binding.target_group_arn;
        match (facts.types.get(tg), facts.registered.get(tg)) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => problems.push(Failure::aws(e, format!("target group {tg}: {e}"))),
            _ => readable.push(binding),
        }
    }
    let mut wanted = BTreeSet::new();
    for binding in readable {
        let tg = &binding.target_group_arn;
        let kind = match facts.types.get(tg) {
            Some(Ok(kind)) => *kind,
            _ => {
                problems.push(Failure::new(ErrorKind::NotFound, format!("target group {tg} was not found")));
                continue;
            }
        };
        let registered: BTreeSet<&Target> = match facts.registered.get(tg) {
            Some(Ok(targets)) => targets.iter().filter(|t| is_registered(t.health)).map(|t| &t.target).collect(),
            _ => BTreeSet::new(),
        };
        for task in tasks.iter().filter(|t| t.is_running()) {
            match target(binding, kind, task, facts) {
                Ok(Some(target)) if !registered.contains(&target) => {
                    wanted.insert(Registration { target_group_arn: tg.clone(), target, task_arn: task.arn.clone() });
                }
                Ok(_) => {}
                Err(problem) => problems.push(problem),
            }
        }
    }
    (wanted.into_iter().collect(), problems)
}

/// The target of one task in one target group: the ENI address and container port for `ip`,
/// the EC2 instance and host port for `instance`; None for a type we do not register.
fn target(
    binding: &TargetBinding,
    kind: TargetType,
    task: &Task,
    facts: &TargetFacts,
) -> Result<Option<Target>, Failure> {
    let tg = &binding.target_group_arn;
    let Some(container) = task.containers.iter().find(|c| c.name == binding.container) else {
        let why = format!("task {} has no container `{}` for {tg}", task.id(), binding.container);
        return Err(Failure::new(ErrorKind::Invalid, why));
    };
    match kind {
        TargetType::Ip => match &task.private_ip {
            Some(ip) => Ok(Some(Target { id: ip.clone(), port: binding.container_port })),
            None => Err(Failure::new(
                ErrorKind::Invalid,
                format!(
                    "task {} has no private IPv4 address for ip target group {tg} (is it in awsvpc mode?)",
                    task.id()
                ),
            )),
        },
        TargetType::Instance => {
            let instance = task.container_instance_arn.as_ref().and_then(|a| facts.instances.get(a));
            let host_port = container
                .bindings
                .iter()
                .find(|(container_port, _)| *container_port == binding.container_port)
                .map(|(_, host)| *host);
            match (instance, host_port) {
                (Some(id), Some(port)) => Ok(Some(Target { id: id.clone(), port })),
                (None, _) => {
                    let why =
                        format!("task {} runs on no known EC2 instance for instance target group {tg}", task.id());
                    // Its container instance could not be read: say why.
                    let failure = task.container_instance_arn.as_ref().and_then(|a| facts.instance_failures.get(a));
                    Err(match failure {
                        Some(e) => Failure::aws(e, format!("{why}: {e}")),
                        None => Failure::new(ErrorKind::NotFound, why),
                    })
                }
                (_, None) => Err(Failure::new(
                    ErrorKind::Invalid,
                    format!(
                        "container `{}` of task {} has no host port for container port {} ({tg})",
                        binding.container,
                        task.id(),
                        binding.container_port
                    ),
                )),
            }
        }
        TargetType::Other => Ok(None),
    }
}

/// A service whose running tasks must end up in its target groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: ServiceRef,
    pub bindings: Vec<TargetBinding>,
    /// The tasks it should have once started.
    pub desired: u32,
}

/// The services of a start or register whose tasks are registered: every one planned that has
/// not failed.
pub fn waiting<'a>(plan: &'a super::Plan, failed: impl Fn(&ServiceRef) -> bool + 'a) -> Vec<Waiting> {
    plan.services
        .iter()
        .filter_map(|s| match s {
            super::Planned::Service(p) if !failed(&p.id) && !matches!(p.decision, super::Decision::Skip(_)) => {
                Some(Waiting { id: p.id.clone(), bindings: p.bindings.clone(), desired: p.after.desired })
            }
            _ => None,
        })
        .collect()
}

/// What one look at the waiting services' tasks calls for.
#[derive(Debug, Default)]
pub struct Look {
    /// Register these now, with their tasks.
    pub ready: Vec<(Waiting, Vec<Task>)>,
    /// Look at these again.
    pub again: Vec<Waiting>,
    /// Their tasks could not be read.
    pub unreadable: Vec<(Waiting, Failure)>,
    /// How many tasks were RUNNING of each service looked at again (none of them registered).
    pub running: Vec<(ServiceRef, usize)>,
}

/// Whether a service whose look the deadline cut short (the pacing had no time left to try
/// again) is only unconfirmed rather than failed: its writes are done, and no target of it is
/// known to be missing, because it has no target group or because the look before
/// (`running_before`) saw none of its tasks RUNNING. As with tasks not RUNNING when the wait
/// ends, a task that came up since is not registered by this run.
pub fn cut_short_is_unconfirmed(w: &Waiting, failure: &Failure, running_before: Option<usize>) -> bool {
    failure.cause.as_ref().is_some_and(|c| c.out_of_time) && (w.bindings.is_empty() || running_before == Some(0))
}

/// One look at the waiting services' tasks: a service is ready when it has settled, or on the
/// `last_look`.
pub fn look(waiting: Vec<Waiting>, observed: &ObservedTasks, last_look: bool) -> Look {
    let mut look = Look::default();
    for w in waiting {
        match tasks_of(&w.id, observed) {
            Err(failure) => look.unreadable.push((w, failure)),
            Ok(tasks) if last_look || settled(&tasks, w.desired) => look.ready.push((w, tasks)),
            Ok(tasks) => {
                look.running.push((w.id.clone(), tasks.iter().filter(|t| t.is_running()).count()));
                look.again.push(w);
            }
        }
    }
    look
}

/// What registering one service's tasks takes: the targets to register (by target group), what
/// prevents others, and, `after_wait`, which tasks were still not running when the wait ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRegistration {
    pub wanted: Vec<(String, Vec<Target>)>,
    pub problems: Vec<Failure>,
    pub notes: Vec<String>,
    pub not_running: Vec<String>,
}

/// Plan the registration of one service's tasks.
pub fn registration(w: &Waiting, tasks: &[Task], facts: &TargetFacts, after_wait: bool) -> ServiceRegistration {
    let mut r = ServiceRegistration::default();
    if after_wait && !settled(tasks, w.desired) {
        let running = tasks.iter().filter(|t| t.is_running()).count();
        r.not_running =
            tasks.iter().filter(|t| !t.is_running()).map(|t| format!("{} ({})", t.id(), t.last_status)).collect();
        r.notes.push(format!("{running} of {} tasks RUNNING when the wait ended; registered those", w.desired));
    }
    let (wanted, problems) = plan_registrations(&w.bindings, tasks, facts);
    r.problems = problems;
    let mut by_group: std::collections::BTreeMap<String, Vec<Target>> = std::collections::BTreeMap::new();
    for reg in wanted {
        by_group.entry(reg.target_group_arn).or_default().push(reg.target);
    }
    r.wanted = by_group.into_iter().collect();
    r
}
