//! What the function knows about AWS at a moment, and what it writes: plain data, no SDK types.
//! The adapters in `aws/` produce and take it, `observe` gathers it, the planner judges it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::error::AwsError;
use crate::schedule::ServiceRef;

/// The ECS tag that holds a stopped service's original counts.
pub const SNAPSHOT_TAG: &str = "ecs-cost-saver:snapshot";

/// What a service had before it was stopped: saved by a stop, restored and cleared by a start
/// (README, "Reliability").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub desired: u32,
    /// None when the service had no scalable target.
    #[serde(flatten)]
    pub capacity: Option<Capacity>,
}

impl Snapshot {
    /// The tag value, e.g. `desired=3 min=1 max=4`, with `suspended=in+out+scheduled` when the
    /// scalable target had scaling suspended. Only letters, digits, `=`, `+` and spaces: inside
    /// ECS's allowed set (letters, digits, spaces, `+ - = . _ : / @`) and far below 256 chars.
    pub fn encode(&self) -> String {
        match self.capacity {
            Some(c) if c.suspended.is_none() => format!("desired={} min={} max={}", self.desired, c.min, c.max),
            Some(c) => {
                format!("desired={} min={} max={} suspended={}", self.desired, c.min, c.max, c.suspended.encode())
            }
            None => format!("desired={}", self.desired),
        }
    }

    /// A tag value. One without `suspended` (as every version before suspension wrote) had no
    /// scaling suspended: those versions never changed it.
    pub fn decode(value: &str) -> Result<Snapshot, String> {
        let bad = |why: &str| {
            format!(
                "the {SNAPSHOT_TAG} tag holds `{value}`, which is not a snapshot ({why}); set it to e.g. `desired=2 min=1 max=4` or delete it"
            )
        };
        let (mut desired, mut min, mut max, mut suspended) = (None, None, None, None);
        for part in value.split_whitespace() {
            let (key, v) = part.split_once('=').ok_or_else(|| bad("expected key=number"))?;
            if key == "suspended" {
                let s = Suspended::decode(v).ok_or_else(|| bad("suspended takes in, out and scheduled joined by +"))?;
                if suspended.replace(s).is_some() {
                    return Err(bad("a key appears twice"));
                }
                continue;
            }
            let number: u32 = v.parse().map_err(|_| bad("counts must be whole numbers"))?;
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
            (Some(min), Some(max)) => Some(Capacity { min, max, suspended: suspended.unwrap_or_default() }),
            (None, None) if suspended.is_none() => None,
            (None, None) => return Err(bad("suspended needs min and max")),
            _ => return Err(bad("min and max go together")),
        };
        Ok(Snapshot { desired, capacity })
    }
}

/// Application Auto Scaling min/max of a service's scalable target, and which scaling is
/// suspended on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
    #[serde(skip_serializing_if = "Suspended::is_none")]
    pub suspended: Suspended,
}

impl Capacity {
    /// Min/max with no scaling suspended.
    pub const fn new(min: u32, max: u32) -> Capacity {
        Capacity { min, max, suspended: Suspended::NONE }
    }

    /// Min and max are 0: the target cannot run a task (whatever is suspended).
    pub fn is_zero(&self) -> bool {
        self.min == 0 && self.max == 0
    }
}

/// A scalable target's `SuspendedState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Suspended {
    /// `DynamicScalingInSuspended`.
    pub dynamic_in: bool,
    /// `DynamicScalingOutSuspended`.
    pub dynamic_out: bool,
    /// `ScheduledScalingSuspended`: scheduled actions do not run.
    pub scheduled: bool,
}

impl Suspended {
    pub const NONE: Suspended = Suspended { dynamic_in: false, dynamic_out: false, scheduled: false };
    pub const ALL: Suspended = Suspended { dynamic_in: true, dynamic_out: true, scheduled: true };

    pub fn is_none(&self) -> bool {
        *self == Suspended::NONE
    }

    /// `in+out+scheduled` (the suspended ones), `none` when none is.
    pub fn encode(&self) -> String {
        let names: Vec<&str> = [(self.dynamic_in, "in"), (self.dynamic_out, "out"), (self.scheduled, "scheduled")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        if names.is_empty() { "none".into() } else { names.join("+") }
    }

    pub fn decode(value: &str) -> Option<Suspended> {
        let mut s = Suspended::NONE;
        if value == "none" {
            return Some(s);
        }
        for name in value.split('+') {
            let flag = match name {
                "in" => &mut s.dynamic_in,
                "out" => &mut s.dynamic_out,
                "scheduled" => &mut s.scheduled,
                _ => return None,
            };
            if std::mem::replace(flag, true) {
                return None;
            }
        }
        Some(s)
    }
}

/// A snapshot in the state table, with what the conditional writes need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub snapshot: Snapshot,
    /// Raised by every write; a run changes the entry only at the version it read.
    pub version: u64,
    /// The run that saved it, and when (RFC 3339).
    pub saved_by: String,
    pub saved_at: String,
    /// The run holding it (while that run writes the service's counts) and until when (Unix
    /// seconds): until then no other run may hold or clear it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
    #[serde(skip)]
    pub held_until: u64,
}

/// Where this run keeps snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The service's `ecs-cost-saver:snapshot` tag: no state table is configured.
    Tag,
    /// The state table (`ECS_COST_SAVER_STATE_TABLE`), with conditional writes.
    Table,
}

/// The state table's key of a service, `ACCOUNT/REGION/CLUSTER/SERVICE`, from its ARN
/// (`arn:aws:ecs:REGION:ACCOUNT:service/…`) and the schedule's names.
pub fn entry_key(arn: &str, id: &ServiceRef) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "ecs", region, account, _] if !region.is_empty() && !account.is_empty() => {
            Some(format!("{account}/{region}/{}/{}", id.cluster, id.service))
        }
        _ => None,
    }
}

/// This run, as the state table records it when it saves or holds an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Unique to the run.
    pub id: String,
    /// What it is doing, for `saved_by`: e.g. `stop staging`.
    pub doing: String,
    /// Now, as Unix seconds and as RFC 3339.
    pub now: u64,
    pub now_text: String,
    /// Its hold lapses then (Unix seconds), should the run die before it lets go.
    pub until: u64,
}

/// One service as its reads found it, each read's own result: the planner judges them.
#[derive(Debug, Clone)]
pub struct ObservedService {
    /// DescribeServices (with tags); `capacity` is left `None` there.
    pub service: Result<ServiceState, Unread>,
    /// DescribeScalableTargets: None when the service has no scalable target.
    pub capacity: Result<Option<Capacity>, AwsError>,
    /// The state table's entry (BatchGetItem), when there is a table: None when it holds none.
    pub entry: Option<Result<Option<Entry>, AwsError>>,
}

/// Why a service could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// The call failed.
    Failed(AwsError),
    /// ECS answered, listing the service as a failure with this reason (e.g. MISSING).
    Missing(String),
}

/// An ECS service as DescribeServices (with tags) and DescribeScalableTargets show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    pub arn: String,
    /// ACTIVE, DRAINING or INACTIVE.
    pub status: String,
    pub desired: u32,
    /// schedulingStrategy DAEMON: one task per container instance, no desiredCount to set.
    pub daemon: bool,
    pub tags: BTreeMap<String, String>,
    pub load_balancers: Vec<TargetBinding>,
    /// Target groups of the service's task sets (CODE_DEPLOY and EXTERNAL deployment
    /// controllers): taken into account when deregistering, never when registering.
    pub task_set_load_balancers: Vec<TargetBinding>,
    /// None when the service has no scalable target.
    pub capacity: Option<Capacity>,
    /// Its snapshot in the state table, when there is a table and it holds one.
    pub entry: Option<Entry>,
    /// What its tasks are and where they run: only the cost figures use it.
    pub placement: Placement,
}

/// The task definition of a service's primary deployment and where its tasks run, as
/// DescribeServices shows them: its `launchType`, or its capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    pub task_definition: Option<String>,
    pub launch_type: Option<String>,
    pub strategy: Vec<crate::pricing::StrategyItem>,
}

impl Placement {
    /// How the service's `tasks` are spread over Fargate, Fargate Spot and EC2: its strategy's
    /// split, else its launch type (EXTERNAL counts as EC2: not priced either), else (neither
    /// set: the cluster's default strategy, which DescribeServices does not show) Fargate.
    pub fn split(&self, tasks: u32) -> Vec<(crate::pricing::LaunchCapacity, u32)> {
        use crate::pricing::LaunchCapacity;
        if !self.strategy.is_empty() {
            return crate::pricing::split(&self.strategy, tasks);
        }
        let capacity = match self.launch_type.as_deref() {
            Some("FARGATE") | None => LaunchCapacity::Fargate,
            Some(_) => LaunchCapacity::Ec2,
        };
        vec![(capacity, tasks)]
    }
}

/// A task definition as DescribeTaskDefinition gives it, reduced to its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinition {
    /// The task-level `cpu` and `memory` as registered: `256` (units, MiB), or `0.25 vCPU`,
    /// `0.5 GB`; absent on EC2 task definitions that size only their containers.
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// The containers' `cpu` units and `memory` (else `memoryReservation`) MiB, summed.
    pub containers_cpu: u32,
    pub containers_memory: u32,
    /// `runtimePlatform.cpuArchitecture` (absent: X86_64).
    pub architecture: Option<String>,
}

impl TaskDefinition {
    /// Its size: the task level where it is set, else what its containers reserve. `Err` names
    /// a value that is neither units nor a vCPU/GB figure.
    pub fn size(&self) -> Result<crate::pricing::TaskSize, String> {
        let cpu = match &self.cpu {
            Some(text) => units(text, "vcpu").ok_or_else(|| format!("task cpu `{text}` is not units or vCPU"))?,
            None => self.containers_cpu,
        };
        let memory = match &self.memory {
            Some(text) => units(text, "gb").ok_or_else(|| format!("task memory `{text}` is not MiB or GB"))?,
            None => self.containers_memory,
        };
        let architecture = crate::pricing::Architecture::from_ecs(self.architecture.as_deref())?;
        Ok(crate::pricing::TaskSize::from_units(cpu, memory, architecture))
    }
}

/// `256` -> 256; `0.25 vCPU` / `1 GB` (the `unit`, any case) -> ×1024.
fn units(text: &str, unit: &str) -> Option<u32> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    let lower = text.to_ascii_lowercase();
    let number = lower.strip_suffix(unit)?.trim().parse::<f64>().ok()?;
    (number.is_finite() && number >= 0.0).then(|| (number * 1024.0).round() as u32)
}

/// A container port that belongs in a target group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetBinding {
    pub target_group_arn: String,
    pub container: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Ip,
    Instance,
    /// lambda or alb targets: nothing of ours to register.
    Other,
}

/// An ECS task, reduced to what registration needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub arn: String,
    /// `service:NAME` for tasks a service started.
    pub group: Option<String>,
    pub last_status: String,
    /// The private IPv4 address of the task's ENI (awsvpc).
    pub private_ip: Option<String>,
    pub container_instance_arn: Option<String>,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    /// (container port, host port) pairs from `networkBindings` (bridge/host mode).
    pub bindings: Vec<(u16, u16)>,
}

impl Task {
    pub fn is_running(&self) -> bool {
        self.last_status == "RUNNING"
    }

    /// The service that started the task (`group` is `service:NAME`).
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// The task id: the last part of the ARN, what people see in the console.
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

/// A load balancer target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Target {
    pub id: String,
    pub port: u16,
}

/// What happened (or, in a dry run, would happen) to one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetChange {
    Registered,
    WouldRegister,
    Failed,
    Deregistered,
    /// Deregistration found the target already gone: done.
    NotRegistered,
    DeregisterFailed,
}

/// A target's health state as DescribeTargetHealth reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHealth {
    Initial,
    Healthy,
    Unhealthy,
    UnhealthyDraining,
    Unavailable,
    /// On its way out: deregistration has begun.
    Draining,
    /// Not in use (deregistered, or its target group has no listener).
    Unused,
    Other,
}

/// A target registered in a target group, with its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredTarget {
    pub target: Target,
    pub health: TargetHealth,
}

/// The tasks of some services, as ListTasks (per service) and DescribeTasks (per cluster, all its
/// listed tasks together) found them. Tasks are not yet matched to services.
#[derive(Debug, Default)]
pub struct ObservedTasks {
    /// Per service: a ListTasks that failed.
    pub list_failures: HashMap<ServiceRef, AwsError>,
    /// Per cluster: its listed tasks described, or why they could not be.
    pub clusters: HashMap<String, Result<Vec<Task>, AwsError>>,
}

/// What registration needs to know about AWS beyond the tasks.
#[derive(Debug, Default)]
pub struct TargetFacts {
    /// Per target group asked for: its type, or why it could not be read. A target group that
    /// DescribeTargetGroups did not return is absent.
    pub types: HashMap<String, Result<TargetType, AwsError>>,
    /// Container instance ARN -> EC2 instance id.
    pub instances: HashMap<String, String>,
    /// Per container instance ARN: the DescribeContainerInstances that failed for it.
    pub instance_failures: HashMap<String, AwsError>,
    /// Per target group whose type was read: its registered targets, or why they could not be read.
    pub registered: HashMap<String, Result<Vec<RegisteredTarget>, AwsError>>,
}

/// An Application Auto Scaling scheduled action of an ECS service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledAction {
    /// `service/CLUSTER/NAME`.
    pub resource_id: String,
    pub name: String,
    /// `cron(…)`, `rate(…)` or `at(…)`.
    pub schedule: String,
    pub timezone: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

/// A one-time EventBridge Scheduler schedule that invokes this function once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OneTimeSchedule {
    pub name: String,
    pub group: String,
    /// `at(2026-11-25T23:00:00)`, local time in `timezone`.
    pub expression: String,
    pub timezone: String,
    pub target_arn: String,
    pub role_arn: String,
    /// The payload the function will receive.
    pub input: String,
}

/// An EC2 Auto Scaling group's three sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GroupSize {
    pub min: u32,
    pub desired: u32,
    pub max: u32,
}

impl GroupSize {
    /// The snapshot tag's value: `min=1 desired=2 max=4`.
    pub fn to_tag(self) -> String {
        format!("min={} desired={} max={}", self.min, self.desired, self.max)
    }

    /// A snapshot tag's value, exactly as [`GroupSize::to_tag`] writes it.
    pub fn from_tag(value: &str) -> Result<GroupSize, String> {
        let bad = || format!("`{value}` is not `min=N desired=N max=N`");
        let mut parts = value.split(' ');
        let mut next = |key: &str| -> Result<u32, String> {
            let part = parts.next().ok_or_else(bad)?;
            part.strip_prefix(key).and_then(|n| n.strip_prefix('=')).and_then(|n| n.parse().ok()).ok_or_else(bad)
        };
        let size = GroupSize { min: next("min")?, desired: next("desired")?, max: next("max")? };
        if parts.next().is_some() || size.min > size.desired || size.desired > size.max {
            return Err(bad());
        }
        Ok(size)
    }
}

impl fmt::Display for GroupSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "min {} desired {} max {}", self.min, self.desired, self.max)
    }
}

/// An EC2 Auto Scaling group as DescribeAutoScalingGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoScalingGroup {
    pub name: String,
    pub arn: String,
    pub size: GroupSize,
    /// Its instances' EC2 ids (every lifecycle state).
    pub instances: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// An ECS container instance: its ARN, its EC2 instance and its status (ACTIVE, DRAINING…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInstance {
    pub arn: String,
    pub ec2_instance_id: String,
    pub status: String,
}

/// An ECS capacity provider backed by an Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityProvider {
    pub name: String,
    /// The group's ARN.
    pub group_arn: String,
    pub managed_scaling: bool,
    pub managed_termination_protection: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(cpu: Option<&str>, memory: Option<&str>) -> TaskDefinition {
        TaskDefinition {
            cpu: cpu.map(str::to_string),
            memory: memory.map(str::to_string),
            containers_cpu: 128,
            containers_memory: 300,
            architecture: Some("ARM64".into()),
        }
    }

    #[test]
    fn a_task_size_is_the_task_level_else_what_its_containers_reserve() {
        let size = definition(Some("256"), Some("512")).size().unwrap();
        assert_eq!((size.vcpu, size.gib, size.architecture), (0.25, 0.5, crate::pricing::Architecture::Arm64));
        let size = definition(Some("0.5 vCPU"), Some("1 GB")).size().unwrap();
        assert_eq!((size.vcpu, size.gib), (0.5, 1.0));
        let size = definition(None, None).size().unwrap();
        assert_eq!((size.vcpu, size.gib), (0.125, 300.0 / 1024.0));
        assert_eq!(definition(Some("lots"), None).size().unwrap_err(), "task cpu `lots` is not units or vCPU");
    }
}
