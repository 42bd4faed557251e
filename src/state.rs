//! What the function knows about AWS at a moment: plain data, no SDK types. The adapters in
//! `aws/` produce it, the planner consumes it.

use std::collections::BTreeMap;

use serde::Serialize;

/// Application Auto Scaling min/max of a service's scalable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub min: u32,
    pub max: u32,
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
