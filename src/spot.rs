//! Spot interruptions (DESIGN §4), through the same dispatcher: a Fargate Spot task about to be
//! stopped is taken out of every target group of its service at once; an EC2 Spot instance
//! about to be reclaimed is set DRAINING and taken out of its instance target groups.
//!
//! The task path is built for speed: the target ids come from the event itself (ENI address or
//! host port), target groups from the YAML and a warm cache, so the first DeregisterTargets
//! goes out after at most one DescribeServices round trip, and with no round trip at all when
//! the service's target groups are already known.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Deserialize;

use crate::aws::{Aws, Deregistered};
use crate::event::Action;
use crate::report::{Outcome, Report, ServiceReport, TargetChange, TargetReport};
use crate::schedule::{Schedule, ServiceRef};
use crate::state::{Container, Target, TargetBinding, TargetType, Task};

/// The `detail` of an `ECS Task State Change` event (the fields this function reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    pub cluster_arn: String,
    pub task_arn: String,
    #[serde(default)]
    pub group: Option<String>,
    pub desired_status: String,
    pub last_status: String,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    pub version: u64,
    #[serde(default)]
    pub containers: Vec<EventContainer>,
    #[serde(default)]
    pub attachments: Vec<EventAttachment>,
    #[serde(default)]
    pub container_instance_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventContainer {
    pub name: String,
    #[serde(default)]
    pub network_interfaces: Vec<EventNetworkInterface>,
    #[serde(default)]
    pub network_bindings: Vec<EventNetworkBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNetworkInterface {
    #[serde(default)]
    pub private_ipv4_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNetworkBinding {
    #[serde(default)]
    pub container_port: Option<u16>,
    #[serde(default)]
    pub host_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventAttachment {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub details: Vec<EventDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventDetail {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// The `detail` of an `EC2 Spot Instance Interruption Warning` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SpotWarning {
    #[serde(rename = "instance-id")]
    pub instance_id: String,
    #[serde(default, rename = "instance-action")]
    pub instance_action: Option<String>,
}

/// The stop codes of a Spot interruption of a Fargate task.
pub const INTERRUPTION_STOP_CODES: &[&str] = &["SpotInterruption", "TerminationNotice"];
pub const INTERRUPTION_REASON_PREFIX: &str = "Your Spot Task was interrupted";

impl TaskStateChange {
    /// Why this change is not an interruption to act on, if it is not.
    pub fn not_an_interruption(&self) -> Option<String> {
        let interrupted = self.stop_code.as_deref().is_some_and(|c| INTERRUPTION_STOP_CODES.contains(&c))
            || self.stopped_reason.as_deref().is_some_and(|r| r.starts_with(INTERRUPTION_REASON_PREFIX));
        if !interrupted {
            return Some(format!(
                "not a Spot interruption (stopCode {}, desiredStatus {}, lastStatus {})",
                self.stop_code.as_deref().unwrap_or("none"),
                self.desired_status,
                self.last_status
            ));
        }
        if self.desired_status != "STOPPED" {
            return Some(format!("desiredStatus is {}, not STOPPED", self.desired_status));
        }
        if self.last_status == "STOPPED" {
            return Some("the task has already stopped".into());
        }
        None
    }

    /// The cluster's name (the event carries its ARN).
    pub fn cluster(&self) -> &str {
        self.cluster_arn.rsplit('/').next().unwrap_or(&self.cluster_arn)
    }

    /// The service the task belongs to (`group` is `service:NAME`).
    pub fn service(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// The task as the rest of the crate sees it.
    pub fn task(&self) -> Task {
        let eni = self
            .attachments
            .iter()
            .filter(|a| a.kind.as_deref().is_none_or(|k| k.eq_ignore_ascii_case("eni")))
            .flat_map(|a| &a.details)
            .find(|d| d.name == "privateIPv4Address")
            .and_then(|d| d.value.clone());
        let container_ip =
            self.containers.iter().flat_map(|c| &c.network_interfaces).find_map(|n| n.private_ipv4_address.clone());
        Task {
            arn: self.task_arn.clone(),
            group: self.group.clone(),
            last_status: self.last_status.clone(),
            private_ip: eni.or(container_ip),
            container_instance_arn: self.container_instance_arn.clone(),
            containers: self
                .containers
                .iter()
                .map(|c| Container {
                    name: c.name.clone(),
                    bindings: c
                        .network_bindings
                        .iter()
                        .filter_map(|b| Some((b.container_port?, b.host_port?)))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// The targets a task has in each target group. An awsvpc task (it has an ENI address) is an
/// `ip` target on the container port; a bridge/host task is an `instance` target on the host
/// port. No target group lookup is needed: ECS only allows these pairings.
pub fn task_targets(
    task: &Task,
    bindings: &[TargetBinding],
    instance_id: Option<&str>,
) -> (Vec<(String, Target)>, Vec<String>) {
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
                        problems.push(format!(
                            "task {} has no host port for container `{}` port {} ({tg})",
                            task.id(),
                            b.container,
                            b.container_port
                        ));
                        continue;
                    }
                }
            }
            (None, None) => {
                problems.push(format!("task {} has neither an ENI address nor a container instance ({tg})", task.id()));
                continue;
            }
        };
        targets.insert((tg.clone(), target));
    }
    (targets.into_iter().collect(), problems)
}

/// Warm-container memory: target groups per service, and the events already handled.
struct Memory {
    bindings: HashMap<ServiceRef, (Instant, Vec<TargetBinding>)>,
    order: VecDeque<ServiceRef>,
    handled: VecDeque<(String, u64)>,
}

/// How many services' target groups and handled events are remembered, and for how long
/// target groups are trusted before they are described again.
const MEMORY_SERVICES: usize = 512;
const MEMORY_EVENTS: usize = 1024;
const MEMORY_TTL: Duration = Duration::from_secs(600);

static MEMORY: LazyLock<Mutex<Memory>> =
    LazyLock::new(|| Mutex::new(Memory { bindings: HashMap::new(), order: VecDeque::new(), handled: VecDeque::new() }));

fn remembered_bindings(id: &ServiceRef) -> Option<Vec<TargetBinding>> {
    let memory = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    memory.bindings.get(id).filter(|(at, _)| at.elapsed() < MEMORY_TTL).map(|(_, b)| b.clone())
}

fn remember_bindings(id: &ServiceRef, bindings: &[TargetBinding]) {
    let mut memory = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    if memory.bindings.insert(id.clone(), (Instant::now(), bindings.to_vec())).is_none() {
        memory.order.push_back(id.clone());
        while memory.order.len() > MEMORY_SERVICES {
            if let Some(old) = memory.order.pop_front() {
                memory.bindings.remove(&old);
            }
        }
    }
}

fn already_handled(task_arn: &str, version: u64) -> bool {
    let memory = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    memory.handled.iter().any(|(arn, v)| arn == task_arn && *v == version)
}

fn mark_handled(task_arn: &str, version: u64) {
    let mut memory = MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    memory.handled.push_back((task_arn.to_string(), version));
    while memory.handled.len() > MEMORY_EVENTS {
        memory.handled.pop_front();
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
    (None, Vec::new())
}

fn report(action: Action, environment: Option<String>) -> Report {
    Report {
        action,
        environment: environment.unwrap_or_default(),
        dry_run: false,
        services: Vec::new(),
        targets: Vec::new(),
        skipped_reason: None,
        notes: Vec::new(),
        override_schedule: None,
    }
}

/// Deregister every target concurrently; "not registered" counts as done.
async fn deregister_all<A: Aws>(
    aws: &A,
    id: &ServiceRef,
    targets: Vec<(String, Target)>,
) -> (Vec<TargetReport>, Vec<String>) {
    let results = join_all(targets.into_iter().map(|(tg, target)| async move {
        let mut failure = None;
        let change = match aws.deregister_target(&tg, &target).await {
            Ok(Deregistered::Done) => TargetChange::Deregistered,
            Ok(Deregistered::NotRegistered) => TargetChange::NotRegistered,
            Err(e) => {
                tracing::error!(target_group = %tg, id = %target.id, port = target.port, error = %e, "deregistration failed");
                failure = Some(e.to_string());
                TargetChange::DeregisterFailed
            }
        };
        let failure = failure.map(|e| format!("{}:{} in {tg}: {e}", target.id, target.port));
        (TargetReport { cluster: id.cluster.clone(), service: id.service.clone(), target_group: tg, target, change }, failure)
    }))
    .await;
    let failures = results.iter().filter_map(|(_, f)| f.clone()).collect();
    (results.into_iter().map(|(r, _)| r).collect(), failures)
}

fn service_outcome(report: &mut Report, id: &ServiceRef, problems: Vec<String>) {
    let mut s = ServiceReport::new(&id.cluster, &id.service, Outcome::Unchanged);
    let mine: Vec<&TargetReport> =
        report.targets.iter().filter(|t| t.cluster == id.cluster && t.service == id.service).collect();
    let failed = problems;
    if mine.iter().any(|t| t.change == TargetChange::Deregistered) {
        s.outcome = Outcome::Changed;
    }
    if !failed.is_empty() {
        s.fail(failed.join("; "));
    }
    report.services.push(s);
}

/// A Fargate Spot (or EC2) task about to be stopped: out of all its target groups, now.
pub async fn task_interrupted<A: Aws>(aws: &A, schedule: &Schedule, event: &TaskStateChange) -> Report {
    let mut out = report(Action::SpotTask, None);
    if let Some(why) = event.not_an_interruption() {
        out.skipped_reason = Some(why);
        return out;
    }
    if already_handled(&event.task_arn, event.version) {
        out.skipped_reason = Some(format!("duplicate delivery of {} version {}", event.task_arn, event.version));
        return out;
    }
    let Some(service) = event.service() else {
        out.skipped_reason = Some(format!(
            "task {} belongs to no service (group {})",
            event.task_arn,
            event.group.as_deref().unwrap_or("none")
        ));
        return out;
    };
    let id = ServiceRef { cluster: event.cluster().to_string(), service: service.to_string() };
    let (environment, extra) = configured(schedule, &id);
    out.environment = environment.unwrap_or_default();
    let task = event.task();

    // The EC2 instance id (instance targets) is looked up alongside the service, not after it.
    let instance = async {
        match (&task.private_ip, &task.container_instance_arn) {
            (None, Some(ci)) => Some(aws.describe_container_instances(&id.cluster, std::slice::from_ref(ci)).await),
            _ => None,
        }
    };
    let known = remembered_bindings(&id);
    let service_bindings = async {
        match &known {
            Some(b) => Ok::<_, crate::error::AwsError>(b.clone()),
            None => {
                let described = aws.describe_services(&id.cluster, std::slice::from_ref(&id.service)).await?;
                match described.found.into_iter().next() {
                    Some((_, state)) => {
                        let mut all = state.load_balancers;
                        all.extend(state.task_set_load_balancers);
                        all.sort();
                        all.dedup();
                        remember_bindings(&id, &all);
                        Ok(all)
                    }
                    None => Ok(Vec::new()),
                }
            }
        }
    };

    // Fast path: target groups known from the YAML go first, while the service is described.
    let instance_id_of = |found: &Option<Result<Vec<(String, String)>, crate::error::AwsError>>| match found {
        Some(Ok(pairs)) => pairs.first().map(|(_, i)| i.clone()),
        _ => None,
    };
    let mut problems = Vec::new();
    let (early, (instance_found, described)) = if task.private_ip.is_some() && (!extra.is_empty() || known.is_some()) {
        let mut first: Vec<TargetBinding> = extra.clone();
        if let Some(k) = &known {
            first.extend(k.iter().cloned());
        }
        let (targets, p) = task_targets(&task, &first, None);
        problems.extend(p);
        tokio::join!(deregister_all(aws, &id, targets), async { tokio::join!(instance, service_bindings) })
    } else {
        ((Vec::new(), Vec::new()), tokio::join!(instance, service_bindings))
    };
    out.targets = early.0;
    problems.extend(early.1);

    let mut bindings = extra;
    match described {
        Ok(b) => bindings.extend(b),
        Err(e) => problems.push(format!("cannot read the service's target groups: {e}")),
    }
    if let Some(Err(e)) = &instance_found {
        problems.push(format!("cannot find the task's EC2 instance: {e}"));
    }
    let instance_id = instance_id_of(&instance_found);
    let (targets, p) = task_targets(&task, &bindings, instance_id.as_deref());
    problems.extend(p);
    let done: BTreeSet<(String, Target)> =
        out.targets.iter().map(|t| (t.target_group.clone(), t.target.clone())).collect();
    let rest: Vec<(String, Target)> = targets.into_iter().filter(|t| !done.contains(t)).collect();
    let (more, failures) = deregister_all(aws, &id, rest).await;
    out.targets.extend(more);
    problems.extend(failures);
    if bindings.is_empty() && problems.is_empty() {
        out.notes.push("the service has no target groups".into());
    }
    service_outcome(&mut out, &id, problems);
    if out.error().is_none() {
        mark_handled(&event.task_arn, event.version);
    }
    out
}

/// An EC2 Spot instance about to be reclaimed: DRAINING, and out of its instance target groups.
pub async fn instance_interrupted<A: Aws>(aws: &A, schedule: &Schedule, event: &SpotWarning) -> Report {
    let mut out = report(Action::SpotInstance, None);
    let clusters: BTreeSet<&str> =
        schedule.environments.values().flat_map(|e| &e.services).map(|s| s.id.cluster.as_str()).collect();
    let found = join_all(
        clusters.iter().map(|c| async move { (*c, aws.find_container_instance(c, &event.instance_id).await) }),
    )
    .await;
    let mut problems = Vec::new();
    let mut hits = Vec::new();
    for (cluster, result) in found {
        match result {
            Ok(Some(arn)) => hits.push((cluster.to_string(), arn)),
            Ok(None) => {}
            Err(e) => problems.push(format!("cannot search cluster {cluster}: {e}")),
        }
    }
    if hits.is_empty() && problems.is_empty() {
        out.skipped_reason = Some(format!(
            "instance {} is a container instance of none of the clusters {}",
            event.instance_id,
            clusters.iter().copied().collect::<Vec<_>>().join(", ")
        ));
        return out;
    }
    for (cluster, ci) in hits {
        let (drained, targets) = tokio::join!(aws.drain_container_instance(&cluster, &ci), async {
            instance_targets(aws, &cluster, &ci, &event.instance_id).await
        });
        match drained {
            Ok(()) => out.notes.push(format!("container instance {ci} set to DRAINING")),
            Err(e) => problems.push(format!("cannot set {ci} to DRAINING: {e}")),
        }
        let (per_service, p) = targets;
        problems.extend(p);
        for (id, targets, mut p) in per_service {
            let (reports, failures) = deregister_all(aws, &id, targets).await;
            out.targets.extend(reports);
            p.extend(failures);
            service_outcome(&mut out, &id, p);
        }
    }
    if !problems.is_empty() {
        let mut s = ServiceReport::new("", "", Outcome::Failed);
        s.fail(problems.join("; "));
        s.cluster = "-".into();
        s.service = format!("instance {}", event.instance_id);
        out.services.push(s);
    }
    out
}

type ServiceTargets = Vec<(ServiceRef, Vec<(String, Target)>, Vec<String>)>;

/// The instance-type targets of one EC2 instance, per service with tasks on it. The ports are
/// read from the target groups themselves (every port the instance is registered on), so no
/// task's host port can be missed.
async fn instance_targets<A: Aws>(
    aws: &A,
    cluster: &str,
    ci: &str,
    instance_id: &str,
) -> (ServiceTargets, Vec<String>) {
    let mut problems = Vec::new();
    let arns = match aws.list_tasks_on_instance(cluster, ci).await {
        Ok(arns) => arns,
        Err(e) => return (Vec::new(), vec![format!("cannot list the tasks on {ci}: {e}")]),
    };
    let mut services = BTreeSet::new();
    for chunk in arns.chunks(crate::aws::DESCRIBE_TASKS_BATCH) {
        match aws.describe_tasks(cluster, chunk).await {
            Ok(tasks) => services
                .extend(tasks.iter().filter_map(|t| t.group.as_deref()?.strip_prefix("service:").map(str::to_string))),
            Err(e) => problems.push(format!("cannot describe the tasks on {ci}: {e}")),
        }
    }
    let names: Vec<String> = services.into_iter().collect();
    let mut out = Vec::new();
    for chunk in names.chunks(crate::aws::DESCRIBE_SERVICES_BATCH) {
        let described = match aws.describe_services(cluster, chunk).await {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("cannot describe services {}: {e}", chunk.join(", ")));
                continue;
            }
        };
        let mut all_tgs: Vec<String> = described
            .found
            .iter()
            .flat_map(|(_, s)| s.load_balancers.iter().chain(&s.task_set_load_balancers))
            .map(|b| b.target_group_arn.clone())
            .collect();
        all_tgs.sort();
        all_tgs.dedup();
        let mut types: HashMap<String, TargetType> = HashMap::new();
        for tgs in all_tgs.chunks(crate::aws::DESCRIBE_TARGET_GROUPS_BATCH) {
            match aws.describe_target_types(tgs).await {
                Ok(t) => types.extend(t),
                Err(e) => problems.push(format!("cannot describe target groups: {e}")),
            }
        }
        let instance_tgs: Vec<&String> =
            all_tgs.iter().filter(|tg| types.get(*tg) == Some(&TargetType::Instance)).collect();
        let registered =
            join_all(instance_tgs.iter().map(|tg| async move { (*tg, aws.registered_targets(tg).await) })).await;
        let mut on_instance: HashMap<&str, Vec<Target>> = HashMap::new();
        for (tg, result) in registered {
            match result {
                Ok(targets) => {
                    on_instance.insert(tg, targets.into_iter().filter(|t| t.id == instance_id).collect());
                }
                Err(e) => problems.push(format!("cannot read the targets of {tg}: {e}")),
            }
        }
        for (name, state) in described.found {
            let id = ServiceRef { cluster: cluster.to_string(), service: name };
            let mut targets = BTreeSet::new();
            for b in state.load_balancers.iter().chain(&state.task_set_load_balancers) {
                for t in on_instance.get(b.target_group_arn.as_str()).into_iter().flatten() {
                    targets.insert((b.target_group_arn.clone(), t.clone()));
                }
            }
            out.push((id, targets.into_iter().collect(), Vec::new()));
        }
    }
    (out, problems)
}

#[cfg(test)]
mod tests;
