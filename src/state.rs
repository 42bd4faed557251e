//! What the function knows about AWS at a moment, and what it writes: plain data, no SDK types.
//! The adapters in `aws/` produce and take it, `observe` gathers it, the planner judges it.

use std::collections::{BTreeMap, HashMap};

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

/// Application Auto Scaling min/max of a service's scalable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
}

/// One service as its reads found it, each read's own result: the planner judges them.
#[derive(Debug, Clone)]
pub struct ObservedService {
    /// DescribeServices (with tags); `capacity` is left `None` there.
    pub service: Result<ServiceState, Unread>,
    /// DescribeScalableTargets: None when the service has no scalable target.
    pub capacity: Result<Option<Capacity>, AwsError>,
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
    pub tags: BTreeMap<String, String>,
    pub load_balancers: Vec<TargetBinding>,
    /// Target groups of the service's task sets (CODE_DEPLOY and EXTERNAL deployment
    /// controllers): taken into account when deregistering, never when registering.
    pub task_set_load_balancers: Vec<TargetBinding>,
    /// None when the service has no scalable target.
    pub capacity: Option<Capacity>,
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
