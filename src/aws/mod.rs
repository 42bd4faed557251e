//! One small trait per capability the handler needs, and their implementation on the AWS SDK
//! clients (`sdk.rs`; the state table on DynamoDB in `table.rs`), whose errors `error.rs`
//! classifies. Everything crossing this boundary is plain data from `state`; no decision is
//! made here.

mod error;
mod paced;
mod sdk;
pub mod spokes;
mod table;

use std::future::Future;

pub use paced::{Pace, ThrottleCounter, is_throttle};
pub use sdk::{Sdk, retry_concurrent_updates, retry_config, timeout_config};

use crate::error::{AwsError, ErrorKind};
use crate::schedule::{Account, Place};
use crate::state::{
    AutoScalingGroup, Capacity, CapacityProvider, ContainerInstance, Entry, GroupSize, Holder, OneTimeSchedule,
    RegisteredTarget, ScheduledAction, ServiceState, Snapshot, Target, TargetType, Task,
};

/// DescribeServices allows at most 10 services per call.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// DescribeTasks and DescribeContainerInstances allow at most 100 per call.
pub const DESCRIBE_TASKS_BATCH: usize = 100;
/// DescribeScalableTargets allows at most 50 resource ids per call.
pub const DESCRIBE_SCALABLE_TARGETS_BATCH: usize = 50;
/// DescribeTargetGroups allows at most 20 ARNs per call.
pub const DESCRIBE_TARGET_GROUPS_BATCH: usize = 20;
/// DescribeAutoScalingInstances allows at most 50 instance ids per call.
pub const DESCRIBE_AUTOSCALING_INSTANCES_BATCH: usize = 50;
/// BatchGetItem allows at most 100 keys per call.
pub const BATCH_GET_ITEMS: usize = 100;

/// The result of one DescribeServices call.
#[derive(Debug, Default)]
pub struct DescribedServices {
    pub found: Vec<(String, ServiceState)>,
    /// (service name, reason) for names ECS reported as failures, e.g. MISSING.
    pub missing: Vec<(String, String)>,
}

/// Reading and changing ECS services.
pub trait Services: Sync {
    /// DescribeServices with tags, for at most [`DESCRIBE_SERVICES_BATCH`] names of one cluster.
    /// Capacity and entry are left `None`: they come from [`ScalableTargets`] and [`SnapshotTable`].
    fn describe_services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> impl Future<Output = Result<DescribedServices, AwsError>> + Send;

    fn set_desired_count(
        &self,
        cluster: &str,
        service: &str,
        desired: u32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn tag_service(&self, arn: &str, key: &str, value: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn untag_service(&self, arn: &str, key: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The names of every service of `cluster` (ListServices, all pages of 100).
    fn list_services(&self, cluster: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// Reading ECS task definitions (their size, for the cost figures).
pub trait TaskDefinitions: Sync {
    /// DescribeTaskDefinition of one ARN (family:revision).
    fn describe_task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<crate::state::TaskDefinition, AwsError>> + Send;
}

/// Reading ECS tasks and the instances they run on.
pub trait Tasks: Sync {
    /// Task ARNs whose desired status is RUNNING (all pages).
    fn list_running_tasks(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// Task ARNs of the service whose desired status is STOPPED (all pages): the tasks ECS is
    /// stopping, and those it stopped in the last hour or so.
    fn list_stopping_tasks(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// DescribeTasks for at most [`DESCRIBE_TASKS_BATCH`] ARNs.
    fn describe_tasks(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// (container instance ARN, EC2 instance id) for at most [`DESCRIBE_TASKS_BATCH`] ARNs.
    fn describe_container_instances(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;

    /// The container instance of `cluster` on EC2 instance `instance_id`, if any.
    fn find_container_instance(
        &self,
        cluster: &str,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;

    /// Set a container instance to DRAINING: ECS moves its tasks elsewhere.
    fn drain_container_instance(&self, cluster: &str, arn: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every task of `cluster` whose desired status is RUNNING, of every service; None when
    /// there are more than `max_pages` pages of them (100 a page).
    fn list_cluster_tasks(
        &self,
        cluster: &str,
        max_pages: usize,
    ) -> impl Future<Output = Result<Option<Vec<String>>, AwsError>> + Send;

    /// The ARNs of every container instance of `cluster` (ListContainerInstances, all pages).
    fn list_container_instances(&self, cluster: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// DescribeContainerInstances for at most [`DESCRIBE_TASKS_BATCH`] ARNs, with their status.
    fn describe_container_instance_states(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<ContainerInstance>, AwsError>> + Send;

    /// The capacity providers of these clusters that an Auto Scaling group backs
    /// (DescribeClusters, then DescribeCapacityProviders of their names).
    fn capacity_providers(
        &self,
        clusters: &[String],
    ) -> impl Future<Output = Result<Vec<CapacityProvider>, AwsError>> + Send;

    /// Every task on a container instance.
    fn list_tasks_on_instance(
        &self,
        cluster: &str,
        container_instance: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
}

/// Application Auto Scaling scalable targets of ECS services.
pub trait ScalableTargets: Sync {
    /// (resource id `service/CLUSTER/NAME`, capacity) for those that exist; at most
    /// [`DESCRIBE_SCALABLE_TARGETS_BATCH`] ids.
    fn describe_capacities(
        &self,
        resource_ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, Capacity)>, AwsError>> + Send;

    /// RegisterScalableTarget with min/max and the suspended state, all three flags sent.
    fn set_capacity(&self, resource_id: &str, capacity: Capacity) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every scheduled action of ECS services' scalable targets (all pages).
    fn scheduled_actions(&self) -> impl Future<Output = Result<Vec<ScheduledAction>, AwsError>> + Send;
}

/// EC2 Auto Scaling groups: the capacity behind an EC2-backed environment.
pub trait AutoScalingGroups: Sync {
    /// DescribeAutoScalingGroups of these names (all pages); a name that does not exist is
    /// left out.
    fn describe_groups(&self, names: &[String])
    -> impl Future<Output = Result<Vec<AutoScalingGroup>, AwsError>> + Send;

    /// UpdateAutoScalingGroup with all three sizes.
    fn set_group_size(&self, name: &str, size: GroupSize) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// CreateOrUpdateTags of one tag on the group, not propagated to its instances.
    fn tag_group(&self, name: &str, key: &str, value: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// DeleteTags of one tag of the group.
    fn untag_group(&self, name: &str, key: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// (EC2 instance id, group name) of those of at most [`DESCRIBE_AUTOSCALING_INSTANCES_BATCH`]
    /// instances that belong to a group (DescribeAutoScalingInstances).
    fn groups_of_instances(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;
}

/// Elastic Load Balancing target groups.
pub trait TargetGroups: Sync {
    /// (ARN, target type) for at most [`DESCRIBE_TARGET_GROUPS_BATCH`] ARNs.
    fn describe_target_types(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<(String, TargetType)>, AwsError>> + Send;

    /// Every target DescribeTargetHealth lists, with its health state.
    fn registered_targets(&self, arn: &str) -> impl Future<Output = Result<Vec<RegisteredTarget>, AwsError>> + Send;

    /// RegisterTargets; every target carries its port.
    fn register_targets(&self, arn: &str, targets: &[Target]) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// One target out of one target group, with its `Port` (always sent: without it a
    /// deregistration silently does nothing when the registered port differs). A target that is
    /// not registered is the service's `InvalidTarget` error, for the planner to judge.
    fn deregister_target(&self, arn: &str, target: &Target) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// EventBridge Scheduler: the one-time override schedules of `until`.
pub trait Schedules: Sync {
    /// Create the schedule, or replace the one of the same name (deleted after it runs).
    fn put_one_time_schedule(&self, schedule: &OneTimeSchedule) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// The expression (`at(…)`) of a schedule that still exists, or None.
    fn schedule_expression(
        &self,
        group: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}

/// The state table (DynamoDB), keyed by `service` (`ACCOUNT/REGION/CLUSTER/SERVICE`). Every write
/// is conditional; one whose condition does not hold fails as `conflict`
/// (`ConditionalCheckFailedException`).
pub trait SnapshotTable: Sync {
    /// The entries that exist among at most [`BATCH_GET_ITEMS`] keys (BatchGetItem, strongly
    /// consistent; keys it leaves unprocessed are asked again).
    fn entries(
        &self,
        table: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<(String, Entry)>, AwsError>> + Send;

    /// PutItem of a new entry (version 1) held by `holder`, only if the key has none.
    fn create_entry(
        &self,
        table: &str,
        key: &str,
        snapshot: &Snapshot,
        holder: &Holder,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// UpdateItem: held by `holder` and one version up, only if still at `version` and not held by
    /// another run whose hold has not lapsed.
    fn hold_entry(
        &self,
        table: &str,
        key: &str,
        version: u64,
        holder: &Holder,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// UpdateItem: held by nobody and one version up, only if `holder` holds it.
    fn release_entry(
        &self,
        table: &str,
        key: &str,
        holder: &Holder,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// DeleteItem, only if `holder` holds it.
    fn delete_entry(
        &self,
        table: &str,
        key: &str,
        holder: &Holder,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Making the state table (`ecs-cost-saver init-state`; Terraform makes it for a deployment).
pub trait StateTables: Sync {
    /// CreateTable (on demand, key `service`) unless it exists, then wait until it is ACTIVE.
    /// True when it was created now.
    fn create_state_table(&self, table: &str) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// The pacing of an environment run's calls to AWS's token buckets (see `paced.rs`). The
/// defaults pace nothing: a test's stand-in for AWS.
pub trait Paced: Sync {
    /// An environment run begins; none of its calls may go on past `left` from now.
    fn begin_run(&self, _left: std::time::Duration) {}

    /// The run has ended: calls are no longer paced.
    fn end_run(&self) {}

    /// Throttled answers so far, every attempt counted.
    fn throttled(&self) -> u64 {
        0
    }

    /// The buckets as they are now and the pacing clock's time, to decide what fits before the
    /// deadline; None when nothing is paced.
    fn buckets(&self) -> Option<(crate::pace::Buckets, f64)> {
        None
    }
}

/// The clients of another account or region (`accounts` and `region` in the schedule file).
pub trait Places: Sync + Sized {
    /// Clients whose ECS, Application Auto Scaling, EC2 Auto Scaling and ELB calls act at
    /// `place`, with `role` assumed (session `session`) when given; the state table and Scheduler
    /// stay the function's own. The default reaches no other place: a test's stand-in for AWS.
    fn at(
        &self,
        place: &Place,
        _role: Option<&Account>,
        _session: &str,
    ) -> impl Future<Output = Result<Self, AwsError>> + Send {
        let error = no_other_place(place);
        async move { Err(error) }
    }
}

/// What clients that reach only the function's own account and region answer for `place`.
pub fn no_other_place(place: &Place) -> AwsError {
    AwsError::in_response(
        "AssumeRole",
        ErrorKind::AccessDenied,
        format!("no clients for {place}: these reach only the function's own account and region"),
    )
}

/// Everything the handler needs.
pub trait Aws:
    Services
    + Tasks
    + TaskDefinitions
    + ScalableTargets
    + AutoScalingGroups
    + TargetGroups
    + Schedules
    + SnapshotTable
    + Paced
    + Places
{
}
impl<
    T: Services
        + Tasks
        + TaskDefinitions
        + ScalableTargets
        + AutoScalingGroups
        + TargetGroups
        + Schedules
        + SnapshotTable
        + Paced
        + Places,
> Aws for T
{
}

/// The Application Auto Scaling resource id of an ECS service.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}
