//! Concurrent invocations for the same environment, against moto: two stops at once, a stop
//! and a start at once, each followed by a final start and stop that must find the original
//! counts.
//!
//! With the tag store (no state table: the CLI without `ECS_COST_SAVER_STATE_TABLE`), what keeps
//! a snapshot safe is ordering inside one invocation (the snapshot is saved before
//! anything changes and only when absent; a restore clears it only after the whole restore
//! succeeded). Nothing orders two invocations against each other: a plan is made from one read
//! of the service (DescribeServices with tags, DescribeScalableTargets alongside) and carried
//! out later, and ECS and Application Auto Scaling have no conditional write. So
//! `apply::execute` reads the service again where another invocation could lose the snapshot:
//! a stop, just before saving it (a snapshot there now was saved by another stop: keep it), and
//! after its last write (a start cleared the snapshot or restored counts: save it again, zero
//! again); a restore, after clearing it (a stop's zeros show: save it again). The tests here
//! pin the interleavings with a wrapper ([`Gated`]) that holds chosen calls of one invocation
//! until a point of the other is reached:
//!
//! - safe from the start: both stops read before either writes; a start reads a stopped
//!   service and a stop then finds it stopped; a stop that runs entirely before or after a start;
//! - lost updates before those reads again (each of these failed without them):
//!   1. two stops, the second reading ECS before the first's tag and the scalable target after
//!      its min/max 0: the second overwrote the snapshot with `min=0 max=0`;
//!   2. a stop reading between a start's restore and its ClearSnapshot: the stop kept the
//!      (about to vanish) snapshot, the start deleted it, the service ended stopped with none;
//!   3. a start reading between a stop's min/max 0 and its desiredCount 0: the start restored
//!      min/max and cleared the snapshot, the stop then set desiredCount 0: stopped, no snapshot.
//!
//! In each, the stop wins: the service ends stopped with the original snapshot. What is left
//! (see README, Reliability): a read that lags behind a write, and a stop's read again landing
//! between a start's min/max and desiredCount writes (the service keeps its snapshot but can
//! end running with min/max 0 until the next action).
//!
//! With the state table (the last tests, as the function is deployed) the guard is the table's
//! conditional writes instead: a run holds a service's entry while it writes its counts, and a
//! run whose write loses plans that service again from a new read. A stop during a start's
//! restore, a start during a stop, and a free-running stop and start at once all end with every
//! service whole.
//!
//! Free-running races (no gate) are run several times (`ECS_COST_SAVER_RACE_ROUNDS`, default 8).
//!
//! `ECS_COST_SAVER_RACES_WORLD=throttling` (a second pass of `scripts/test`) runs every race in
//! the AWS-like world of `tests/support/world.rs`: a fifth of AWS's request buckets (the function
//! still paces itself by AWS's own figures, so bursts are throttled and retried), 20 ms a
//! request, the production retry policy, and deadlines 40 times longer; the free-running races also check that the world really
//! throttled some of their calls.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_cost_saver::aws::{
    AutoScalingGroups, DescribedServices, Paced, ScalableTargets, Schedules, Sdk, Services, SnapshotTable,
    TargetGroups, TaskDefinitions, Tasks,
};
use ecs_cost_saver::error::AwsError;
use ecs_cost_saver::pace::Limits;
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::state::{
    Capacity, Entry, Holder, OneTimeSchedule, RegisteredTarget, SNAPSHOT_TAG, ScheduledAction, Snapshot, Target,
    TargetType, Task, TaskDefinition,
};
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::json;
use support::world::{Options, World};
use support::{Moto, capacity, service};
use tokio::sync::watch;

// ---- a gate: a latch that opens once and stays open ----

#[derive(Clone)]
struct Latch(Arc<watch::Sender<bool>>);

impl Latch {
    fn new() -> Latch {
        Latch(Arc::new(watch::channel(false).0))
    }
    fn open(&self) {
        self.0.send_replace(true);
    }
    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// Per operation: a latch to wait for before the call, and one to open after `n` calls.
#[derive(Clone, Default)]
struct Gates {
    before: HashMap<&'static str, Latch>,
    after: HashMap<&'static str, (Latch, usize)>,
    done: Arc<Mutex<HashMap<&'static str, usize>>>,
}

impl Gates {
    fn before(mut self, op: &'static str, latch: &Latch) -> Gates {
        self.before.insert(op, latch.clone());
        self
    }
    fn after(mut self, op: &'static str, calls: usize, latch: &Latch) -> Gates {
        self.after.insert(op, (latch.clone(), calls));
        self
    }
    async fn enter(&self, op: &'static str) {
        if let Some(latch) = self.before.get(op) {
            latch.wait().await;
        }
    }
    fn leave(&self, op: &'static str) {
        let n = {
            let mut done = self.done.lock().unwrap();
            let n = done.entry(op).or_default();
            *n += 1;
            *n
        };
        if let Some((latch, calls)) = self.after.get(op)
            && n >= *calls
        {
            latch.open();
        }
    }
}

/// The real SDK adapter, with calls held back or signalled by [`Gates`].
struct Gated<'a> {
    sdk: &'a Sdk,
    gates: Gates,
}

impl Gated<'_> {
    async fn call<T>(&self, op: &'static str, f: impl std::future::Future<Output = T>) -> T {
        self.gates.enter(op).await;
        let out = f.await;
        self.gates.leave(op);
        out
    }
}

impl Services for Gated<'_> {
    async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<DescribedServices, AwsError> {
        self.call("DescribeServices", self.sdk.describe_services(cluster, names)).await
    }
    async fn set_desired_count(&self, cluster: &str, service: &str, desired: u32) -> Result<(), AwsError> {
        self.call("UpdateService", self.sdk.set_desired_count(cluster, service, desired)).await
    }
    async fn tag_service(&self, arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.call("TagResource", self.sdk.tag_service(arn, key, value)).await
    }
    async fn untag_service(&self, arn: &str, key: &str) -> Result<(), AwsError> {
        self.call("UntagResource", self.sdk.untag_service(arn, key)).await
    }
    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListServices", self.sdk.list_services(cluster)).await
    }
}

impl TaskDefinitions for Gated<'_> {
    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        self.call("DescribeTaskDefinition", self.sdk.describe_task_definition(arn)).await
    }
}

impl Tasks for Gated<'_> {
    async fn list_running_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListTasks", self.sdk.list_running_tasks(cluster, service)).await
    }
    async fn list_stopping_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListTasks", self.sdk.list_stopping_tasks(cluster, service)).await
    }
    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> Result<Vec<Task>, AwsError> {
        self.call("DescribeTasks", self.sdk.describe_tasks(cluster, arns)).await
    }
    async fn describe_container_instances(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<(String, String)>, AwsError> {
        self.sdk.describe_container_instances(cluster, arns).await
    }
    async fn find_container_instance(&self, cluster: &str, instance_id: &str) -> Result<Option<String>, AwsError> {
        self.sdk.find_container_instance(cluster, instance_id).await
    }
    async fn drain_container_instance(&self, cluster: &str, arn: &str) -> Result<(), AwsError> {
        self.sdk.drain_container_instance(cluster, arn).await
    }
    async fn list_tasks_on_instance(&self, cluster: &str, container_instance: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_tasks_on_instance(cluster, container_instance).await
    }
    async fn list_cluster_tasks(&self, cluster: &str, max_pages: usize) -> Result<Option<Vec<String>>, AwsError> {
        self.call("ListTasks", self.sdk.list_cluster_tasks(cluster, max_pages)).await
    }
    async fn list_container_instances(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_container_instances(cluster).await
    }
    async fn describe_container_instance_states(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<ecs_cost_saver::state::ContainerInstance>, AwsError> {
        self.sdk.describe_container_instance_states(cluster, arns).await
    }
    async fn capacity_providers(
        &self,
        clusters: &[String],
    ) -> Result<Vec<ecs_cost_saver::state::CapacityProvider>, AwsError> {
        self.sdk.capacity_providers(clusters).await
    }
}

/// The races' environment has no `capacity`: never called.
impl AutoScalingGroups for Gated<'_> {
    async fn describe_groups(
        &self,
        names: &[String],
    ) -> Result<Vec<ecs_cost_saver::state::AutoScalingGroup>, AwsError> {
        self.sdk.describe_groups(names).await
    }
    async fn set_group_size(&self, name: &str, size: ecs_cost_saver::state::GroupSize) -> Result<(), AwsError> {
        self.sdk.set_group_size(name, size).await
    }
    async fn tag_group(&self, name: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.sdk.tag_group(name, key, value).await
    }
    async fn untag_group(&self, name: &str, key: &str) -> Result<(), AwsError> {
        self.sdk.untag_group(name, key).await
    }
    async fn groups_of_instances(&self, instance_ids: &[String]) -> Result<Vec<(String, String)>, AwsError> {
        self.sdk.groups_of_instances(instance_ids).await
    }
}

/// Paced as the SDK adapter is.
/// One account and region: no other place's clients.
impl ecs_cost_saver::aws::Places for Gated<'_> {}

impl Paced for Gated<'_> {
    fn begin_run(&self, left: Duration) {
        self.sdk.begin_run(left);
    }
    fn end_run(&self) {
        self.sdk.end_run();
    }
    fn throttled(&self) -> u64 {
        self.sdk.throttled()
    }
    fn buckets(&self) -> Option<(ecs_cost_saver::pace::Buckets, f64)> {
        self.sdk.buckets()
    }
}

impl ScalableTargets for Gated<'_> {
    async fn describe_capacities(&self, resource_ids: &[String]) -> Result<Vec<(String, Capacity)>, AwsError> {
        self.call("DescribeScalableTargets", self.sdk.describe_capacities(resource_ids)).await
    }
    async fn set_capacity(&self, resource_id: &str, capacity: Capacity) -> Result<(), AwsError> {
        self.call("RegisterScalableTarget", self.sdk.set_capacity(resource_id, capacity)).await
    }
    async fn scheduled_actions(&self) -> Result<Vec<ScheduledAction>, AwsError> {
        self.sdk.scheduled_actions().await
    }
}

impl SnapshotTable for Gated<'_> {
    async fn entries(&self, table: &str, keys: &[String]) -> Result<Vec<(String, Entry)>, AwsError> {
        self.call("BatchGetItem", self.sdk.entries(table, keys)).await
    }
    async fn create_entry(&self, table: &str, key: &str, snapshot: &Snapshot, holder: &Holder) -> Result<(), AwsError> {
        self.call("PutItem", self.sdk.create_entry(table, key, snapshot, holder)).await
    }
    async fn hold_entry(&self, table: &str, key: &str, version: u64, holder: &Holder) -> Result<(), AwsError> {
        self.call("UpdateItem", self.sdk.hold_entry(table, key, version, holder)).await
    }
    async fn release_entry(&self, table: &str, key: &str, holder: &Holder) -> Result<(), AwsError> {
        self.call("UpdateItem", self.sdk.release_entry(table, key, holder)).await
    }
    async fn delete_entry(&self, table: &str, key: &str, holder: &Holder) -> Result<(), AwsError> {
        self.call("DeleteItem", self.sdk.delete_entry(table, key, holder)).await
    }
}

impl TargetGroups for Gated<'_> {
    async fn describe_target_types(&self, arns: &[String]) -> Result<Vec<(String, TargetType)>, AwsError> {
        self.sdk.describe_target_types(arns).await
    }
    async fn registered_targets(&self, arn: &str) -> Result<Vec<RegisteredTarget>, AwsError> {
        self.sdk.registered_targets(arn).await
    }
    async fn register_targets(&self, arn: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.sdk.register_targets(arn, targets).await
    }
    async fn deregister_target(&self, arn: &str, target: &Target) -> Result<(), AwsError> {
        self.sdk.deregister_target(arn, target).await
    }
}

impl Schedules for Gated<'_> {
    async fn put_one_time_schedule(&self, schedule: &OneTimeSchedule) -> Result<(), AwsError> {
        self.sdk.put_one_time_schedule(schedule).await
    }
    async fn schedule_expression(&self, group: &str, name: &str) -> Result<Option<String>, AwsError> {
        self.sdk.schedule_expression(group, name).await
    }
}

// ---- the world: the e2e scenario ----

/// (cluster, service, desired, scalable target min/max).
type Seeded = (&'static str, &'static str, i32, Option<(i32, i32)>);

/// The services as `seed.py e2e` creates them.
const ORIGINAL: [Seeded; 3] =
    [("alpha", "svc-a", 3, Some((1, 4))), ("alpha", "svc-b", 2, None), ("beta", "svc-c", 1, None)];

fn snapshot_of(desired: i32, capacity: Option<(i32, i32)>) -> String {
    match capacity {
        Some((min, max)) => format!("desired={desired} min={min} max={max}"),
        None => format!("desired={desired}"),
    }
}

fn schedule() -> Schedule {
    Schedule::parse(
        &format!(
            "environments:
  staging:
{}",
            support::E2E_SERVICES
        ),
        "races.yaml",
    )
    .unwrap()
}

/// Whether the races run in the throttling world (see the top of this file).
fn throttling() -> bool {
    std::env::var("ECS_COST_SAVER_RACES_WORLD").as_deref() == Ok("throttling")
}

/// A deadline's length, longer in the throttling world: back-off takes seconds there (the
/// SDK's own, 1 s then 2 s then 4 s between throttled attempts, before the function's), and at
/// 20 times a read of two runs at once was still throttled past a 6 s deadline (CI, once).
fn scaled(d: Duration) -> Duration {
    if throttling() { d * 40 } else { d }
}

/// The clients of a race, and the world they talk through (kept alive with them).
async fn connect(moto: &Moto) -> (Sdk, Option<World>) {
    if !throttling() {
        return (moto.sdk().await, None);
    }
    let world =
        World::start(moto.port, Options::plain(Duration::from_millis(20)).limits(Limits::parse("share=0.2").unwrap()));
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(support::REGION))
        .endpoint_url(world.endpoint())
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("test", "test", None, None, "test"))
        .retry_config(ecs_cost_saver::aws::retry_config())
        .load()
        .await;
    (Sdk::new(&config), Some(world))
}

/// [`connect`], with the state table made.
async fn connect_with_table(moto: &Moto) -> (Sdk, Option<World>) {
    use ecs_cost_saver::aws::StateTables;
    let (sdk, world) = connect(moto).await;
    sdk.create_state_table(support::STATE_TABLE).await.expect("moto makes the state table");
    (sdk, world)
}

/// Moto starts no tasks, so a start waits for them until its deadline: keep it short.
async fn run<A: ecs_cost_saver::aws::Aws>(aws: &A, action: &str) -> Report {
    run_for(aws, action, Duration::from_millis(300)).await
}

/// [`run`] with its own deadline, for a run gated on the end of another run's deadline.
async fn run_for<A: ecs_cost_saver::aws::Aws>(aws: &A, action: &str, wait: Duration) -> Report {
    let settings =
        Settings { poll_interval: Duration::from_millis(50), safety_margin: Duration::ZERO, ..Settings::default() };
    let deadline = tokio::time::Instant::now() + scaled(wait);
    let schedule = schedule();
    let ctx = Context::new(aws, &schedule, &settings);
    handle(&ctx, json!({"action": action, "environment": "staging"}), chrono::Utc::now(), deadline).await.unwrap()
}

/// A service as AWS has it: desiredCount, scalable target min/max, snapshot tag.
type Seen = (i32, Option<(i32, i32)>, Option<String>);

/// Every service of the environment, in [`ORIGINAL`]'s order.
async fn state(sdk: &Sdk) -> Vec<Seen> {
    let mut out = Vec::new();
    for (cluster, name, _, _) in ORIGINAL {
        let (desired, tag) = service(sdk, cluster, name).await;
        out.push((desired, capacity(sdk, cluster, name).await, tag));
    }
    out
}

fn running() -> Vec<Seen> {
    ORIGINAL.iter().map(|(_, _, d, c)| (*d, *c, None)).collect()
}

fn stopped() -> Vec<Seen> {
    ORIGINAL.iter().map(|(_, _, d, c)| (0, c.map(|_| (0, 0)), Some(snapshot_of(*d, *c)))).collect()
}

/// After any race: a start must restore the original counts and clear the snapshots, and a
/// stop must then save the original counts again (never zeros).
async fn assert_recovers(sdk: &Sdk, what: &str) {
    let report = run(sdk, "start").await;
    assert!(report.error().is_none(), "{what}: final start failed: {report}");
    assert_eq!(state(sdk).await, running(), "{what}: the final start did not restore the original counts");
    let report = run(sdk, "stop").await;
    assert!(report.error().is_none(), "{what}: final stop failed: {report}");
    assert_eq!(state(sdk).await, stopped(), "{what}: the final stop did not save the original counts");
    run(sdk, "start").await;
    assert_eq!(state(sdk).await, running(), "{what}");
}

fn outcomes(report: &Report) -> Vec<Outcome> {
    report.services.iter().map(|s| s.outcome).collect()
}

// ---- safe interleavings ----

#[tokio::test]
async fn two_stops_that_both_read_before_either_writes_save_the_same_snapshot() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    let (a_read, b_read) = (Latch::new(), Latch::new());
    // Each stop's first write waits until both have read everything.
    let a = Gated {
        sdk: &sdk,
        gates: Gates::default()
            .after("DescribeScalableTargets", 1, &a_read)
            .before("TagResource", &b_read)
            .before("UpdateService", &b_read),
    };
    let b = Gated {
        sdk: &sdk,
        gates: Gates::default()
            .after("DescribeScalableTargets", 1, &b_read)
            .before("TagResource", &a_read)
            .before("UpdateService", &a_read),
    };
    let (ra, rb) = tokio::join!(run(&a, "stop"), run(&b, "stop"));
    assert!(ra.error().is_none() && rb.error().is_none(), "{ra}\n{rb}");
    assert_eq!(outcomes(&ra), vec![Outcome::Changed; 3]);
    assert_eq!(outcomes(&rb), vec![Outcome::Changed; 3], "both saw the running service and both acted");
    assert_eq!(state(&sdk).await, stopped(), "both wrote the same snapshot: the original counts");
    assert_recovers(&sdk, "two stops reading first").await;
}

#[tokio::test]
async fn a_stop_that_reads_after_a_start_read_a_stopped_service_changes_nothing() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    run(&sdk, "stop").await;
    let (start_read, stop_done) = (Latch::new(), Latch::new());
    // The start reads the stopped service, then waits for the whole stop before restoring.
    let start = Gated {
        sdk: &sdk,
        gates: Gates::default()
            .after("DescribeScalableTargets", 1, &start_read)
            .before("RegisterScalableTarget", &stop_done)
            .before("UpdateService", &stop_done),
    };
    let stop = Gated {
        sdk: &sdk,
        gates: Gates::default().before("DescribeServices", &start_read).before("DescribeScalableTargets", &start_read),
    };
    let (rs, rt) = tokio::join!(run(&start, "start"), async {
        let r = run(&stop, "stop").await;
        stop_done.open();
        r
    });
    assert_eq!(outcomes(&rt), vec![Outcome::Unchanged; 3], "the stop found the service stopped: {rt}");
    assert!(rs.error().is_none(), "{rs}");
    assert_eq!(state(&sdk).await, running());
    assert_recovers(&sdk, "stop reading before the start writes").await;
}

#[tokio::test]
async fn a_stop_after_a_whole_start_saves_a_fresh_snapshot() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    run(&sdk, "stop").await;
    let start_cleared = Latch::new();
    let start = Gated { sdk: &sdk, gates: Gates::default().after("UntagResource", 3, &start_cleared) };
    let stop = Gated {
        sdk: &sdk,
        gates: Gates::default()
            .before("DescribeServices", &start_cleared)
            .before("DescribeScalableTargets", &start_cleared),
    };
    // The stop's reads wait until the start has restored and cleared all three services, which
    // in the throttling world (paced, throttled writes) can take most of the start's deadline:
    // the stop's deadline is three times as long, so it still has time to read, save and stop.
    let (rs, rt) = tokio::join!(run(&start, "start"), run_for(&stop, "stop", Duration::from_millis(900)));
    assert!(rs.error().is_none() && rt.error().is_none(), "{rs}\n{rt}");
    assert_eq!(state(&sdk).await, stopped());
    assert_recovers(&sdk, "stop after the start cleared").await;
}

// ---- lost updates: reproducers ----

#[tokio::test]
async fn race_1_a_second_stop_reading_across_the_first_keeps_its_snapshot() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    let (b_read_ecs, a_done) = (Latch::new(), Latch::new());
    // A waits until B has read ECS (no tag yet, desired 3); B reads the scalable target only
    // after A is done (min 0 max 0).
    let a = Gated { sdk: &sdk, gates: Gates::default().before("DescribeServices", &b_read_ecs) };
    let b = Gated {
        sdk: &sdk,
        gates: Gates::default().after("DescribeServices", 2, &b_read_ecs).before("DescribeScalableTargets", &a_done),
    };
    let (ra, rb) = tokio::join!(
        async {
            let r = run(&a, "stop").await;
            a_done.open();
            r
        },
        run(&b, "stop")
    );
    assert!(ra.error().is_none() && rb.error().is_none(), "{ra}\n{rb}");
    // Without the read again before the save, svc-a's snapshot was `desired=3 min=0 max=0` and
    // the final start left the scalable target at min 0 max 0.
    assert_eq!(state(&sdk).await, stopped(), "second stop's actions: {:?}", rb.services[0].actions);
    assert!(!rb.services[0].actions.iter().any(|a| a.starts_with("save snapshot")), "{rb}");
    assert_recovers(&sdk, "race 1").await;
}

#[tokio::test]
async fn race_2_a_stop_between_restore_and_clear_ends_stopped_with_its_snapshot() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    run(&sdk, "stop").await;
    let (restored, stop_done) = (Latch::new(), Latch::new());
    let start = Gated {
        sdk: &sdk,
        gates: Gates::default().after("UpdateService", 3, &restored).before("UntagResource", &stop_done),
    };
    let stop = Gated {
        sdk: &sdk,
        gates: Gates::default().before("DescribeServices", &restored).before("DescribeScalableTargets", &restored),
    };
    let (rs, rt) = tokio::join!(run(&start, "start"), async {
        let r = run(&stop, "stop").await;
        stop_done.open();
        r
    });
    assert!(rs.error().is_none() && rt.error().is_none(), "{rs}\n{rt}");
    // Without the read again after the clear, every service ended stopped with no snapshot;
    // the final start restored desired 1 (the YAML default) and svc-a's min 1 max 1.
    assert_eq!(state(&sdk).await, stopped(), "the stop relied on a snapshot that the start then deleted");
    assert!(
        rs.services
            .iter()
            .all(|s| s.actions.last().is_some_and(|a| a.ends_with("(again: another invocation undid it)"))),
        "{rs}"
    );
    assert_recovers(&sdk, "race 2").await;
}

#[tokio::test]
async fn race_3_a_start_in_the_middle_of_a_stop_ends_stopped_with_its_snapshot() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    let (zeroed, start_done) = (Latch::new(), Latch::new());
    // svc-a: TagResource, RegisterScalableTarget, then UpdateService waits for the start.
    let stop = Gated {
        sdk: &sdk,
        gates: Gates::default().after("RegisterScalableTarget", 1, &zeroed).before("UpdateService", &start_done),
    };
    let start = Gated {
        sdk: &sdk,
        gates: Gates::default().before("DescribeServices", &zeroed).before("DescribeScalableTargets", &zeroed),
    };
    let (rt, rs) = tokio::join!(run(&stop, "stop"), async {
        let r = run(&start, "start").await;
        start_done.open();
        r
    });
    assert!(rs.error().is_none() && rt.error().is_none(), "{rs}\n{rt}");
    // Without the read again after the stop's writes, svc-a ended stopped with no snapshot.
    assert_eq!(state(&sdk).await, stopped(), "the start cleared the snapshot of a service the stop then stopped");
    assert_recovers(&sdk, "race 3").await;
}

// ---- free-running races ----

/// Put every service back to its original counts with no snapshot, by hand.
async fn reset(sdk: &Sdk) {
    for (cluster, name, desired, capacity) in ORIGINAL {
        support::set_counts(sdk, cluster, name, desired, capacity).await;
        let arn = format!("arn:aws:ecs:ap-northeast-1:123456789012:service/{cluster}/{name}");
        sdk.ecs.untag_resource().resource_arn(arn).tag_keys(SNAPSHOT_TAG).send().await.unwrap();
    }
}

/// In the throttling world: the throttled answers of the calls so far (there must be some, or
/// the pass proves nothing), and the reports' count of them.
fn assert_throttled(world: &Option<World>, reports: &[&Report]) {
    let Some(world) = world else { return };
    let throttled: u64 = support::world::tally(&world.take()).values().map(|t| t.throttled).sum();
    let counted: u64 = reports.iter().map(|r| r.throttled).sum();
    println!("throttling world: {throttled} throttled answers; the last round's reports counted {counted}");
    assert!(throttled > 0, "the throttling world throttled nothing: the pass tests nothing");
}

/// Rounds of each free-running race (`ECS_COST_SAVER_RACE_ROUNDS`, default 8).
fn rounds() -> usize {
    std::env::var("ECS_COST_SAVER_RACE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(8)
}

#[tokio::test]
async fn two_stops_at_once_free_running() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, world) = connect(&moto).await;
    for round in 0..rounds() {
        let (ra, rb) = tokio::join!(run(&sdk, "stop"), run(&sdk, "stop"));
        assert!(ra.error().is_none() && rb.error().is_none(), "round {round}: {ra}\n{rb}");
        assert_eq!(state(&sdk).await, stopped(), "round {round}: {ra}\n{rb}");
        run(&sdk, "start").await;
        assert_eq!(state(&sdk).await, running(), "round {round}");
        if round + 1 == rounds() {
            assert_throttled(&world, &[&ra, &rb]);
        }
    }
    println!("two stops at once: {} rounds, snapshot intact in every one", rounds());
}

/// A stop and a start at once on a stopped environment, then on a running one. Which wins
/// is not defined; the end must be a consistent state from which a start and a stop recover.
/// Ignored because a round can still end in neither state: a stop's read after its writes
/// landing between a start's min/max and desiredCount writes leaves the service running with
/// min/max 0 and its snapshot (kept: the next stop or start puts it right), and a read that
/// lags behind a write can miss what the other invocation did. On loopback moto none of 48
/// rounds did, before (2026-11-27) or after the reads again were added, the windows being a few
/// milliseconds wide.
#[tokio::test]
#[ignore = "a round can still end neither running nor stopped (see above); run to measure how often"]
async fn stop_and_start_at_once_free_running() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect(&moto).await;
    let mut lost = Vec::new();
    for round in 0..rounds() {
        let from_stopped = round % 2 == 0;
        if from_stopped {
            run(&sdk, "stop").await;
        }
        let (rt, rs) = tokio::join!(run(&sdk, "stop"), run(&sdk, "start"));
        let after = state(&sdk).await;
        if after != running() && after != stopped() {
            lost.push(format!(
                "round {round} (from {}): {after:?}\n{rt}\n{rs}",
                if from_stopped { "stopped" } else { "running" }
            ));
        }
        if after != running() && after != stopped() {
            reset(&sdk).await;
        }
        run(&sdk, "start").await;
    }
    assert!(
        lost.is_empty(),
        "{} of {} rounds ended neither running nor stopped:\n{}",
        lost.len(),
        rounds(),
        lost.join("\n\n")
    );
}

// ---- against the state table, as the function is deployed ----

/// As [`run`], with snapshots in the state table. A conditional write that loses is planned
/// again after 20, 40, 60 ms, within the deadline.
async fn run_with_table<A: ecs_cost_saver::aws::Aws>(aws: &A, action: &str) -> Report {
    run_with_table_for(aws, action, Duration::from_millis(400)).await
}

/// [`run_with_table`] with time for a gated run to wait for the other and still plan again.
async fn gated_with_table<A: ecs_cost_saver::aws::Aws>(aws: &A, action: &str) -> Report {
    run_with_table_for(aws, action, Duration::from_millis(2000)).await
}

async fn run_with_table_for<A: ecs_cost_saver::aws::Aws>(aws: &A, action: &str, wait: Duration) -> Report {
    let settings = Settings {
        poll_interval: Duration::from_millis(20),
        safety_margin: Duration::ZERO,
        state_table: Some(support::STATE_TABLE.into()),
        ..Settings::default()
    };
    let deadline = tokio::time::Instant::now() + scaled(wait);
    let schedule = schedule();
    let ctx = Context::new(aws, &schedule, &settings);
    handle(&ctx, json!({"action": action, "environment": "staging"}), chrono::Utc::now(), deadline).await.unwrap()
}

/// Every service as AWS has it, the snapshot read from the state table. No service may carry
/// a snapshot tag: with a table, none is written.
async fn table_state(sdk: &Sdk) -> Vec<Seen> {
    let mut out = Vec::new();
    for (cluster, name, _, _) in ORIGINAL {
        let (desired, tag) = service(sdk, cluster, name).await;
        assert_eq!(tag, None, "{cluster}/{name} has a snapshot tag beside the table");
        let snapshot = support::table_snapshot(sdk, cluster, name).await;
        out.push((desired, capacity(sdk, cluster, name).await, snapshot));
    }
    out
}

async fn assert_recovers_with_table(sdk: &Sdk, what: &str) {
    let report = run_with_table(sdk, "start").await;
    assert!(report.error().is_none(), "{what}: final start failed: {report}");
    assert_eq!(table_state(sdk).await, running(), "{what}: the final start did not restore the original counts");
    let report = run_with_table(sdk, "stop").await;
    assert!(report.error().is_none(), "{what}: final stop failed: {report}");
    assert_eq!(table_state(sdk).await, stopped(), "{what}: the final stop did not save the original counts");
    run_with_table(sdk, "start").await;
    assert_eq!(table_state(sdk).await, running(), "{what}");
}

#[tokio::test]
async fn with_the_table_a_stop_during_a_restore_waits_for_it_and_saves_the_original_counts() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect_with_table(&moto).await;
    run_with_table(&sdk, "stop").await;
    assert_eq!(table_state(&sdk).await, stopped());
    // The start holds every entry and restores; the stop reads then and tries to hold an entry
    // (it cannot: the start holds it); only then does the start clear.
    let (restored, stop_tried) = (Latch::new(), Latch::new());
    let start = Gated {
        sdk: &sdk,
        gates: Gates::default().after("UpdateService", 3, &restored).before("DeleteItem", &stop_tried),
    };
    let stop = Gated {
        sdk: &sdk,
        gates: Gates::default().before("DescribeServices", &restored).after("UpdateItem", 1, &stop_tried),
    };
    let (rs, rt) = tokio::join!(gated_with_table(&start, "start"), gated_with_table(&stop, "stop"));
    assert!(rs.error().is_none() && rt.error().is_none(), "{rs}\n{rt}");
    // The stop lost its holds, read the services again after the start had cleared them, and
    // saved what the start had restored: the original counts.
    assert!(rt.services.iter().all(|s| s.notes.iter().any(|n| n.starts_with("read and planned again"))), "{rt}");
    assert_eq!(table_state(&sdk).await, stopped(), "{rs}\n{rt}");
    assert_recovers_with_table(&sdk, "a stop during a restore").await;
}

#[tokio::test]
async fn with_the_table_a_start_during_a_stop_waits_for_it() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, _world) = connect_with_table(&moto).await;
    // The stop saves (holding) and sets svc-a's min/max 0; its desiredCount writes wait until
    // the start has tried to hold an entry.
    let (zeroed, start_tried) = (Latch::new(), Latch::new());
    let stop = Gated {
        sdk: &sdk,
        gates: Gates::default().after("RegisterScalableTarget", 1, &zeroed).before("UpdateService", &start_tried),
    };
    let start = Gated {
        sdk: &sdk,
        gates: Gates::default().before("DescribeServices", &zeroed).after("UpdateItem", 1, &start_tried),
    };
    let (rt, rs) = tokio::join!(gated_with_table(&stop, "stop"), gated_with_table(&start, "start"));
    assert!(rt.error().is_none(), "{rt}");
    // Whether the start got through once the stop let go, or gave up with a conflict, the
    // service is whole: running with no snapshot, or stopped with the original one.
    let after = table_state(&sdk).await;
    assert!(after == running() || after == stopped(), "{after:?}\n{rt}\n{rs}");
    if after == stopped() {
        assert!(rs.services.iter().any(|s| s.error_kind == Some(ecs_cost_saver::error::ErrorKind::Conflict)), "{rs}");
        assert!(rs.error().is_some_and(|e| e.is_retryable()), "a conflict is worth a retry: {rs}");
    }
    assert_recovers_with_table(&sdk, "a start during a stop").await;
}

/// A stop and a start at once on a stopped environment, then on a running one. Which wins is
/// not defined, and may differ per service (one run may also lose with a retryable conflict);
/// every service ends whole, running with no snapshot or stopped with its original one, and a
/// start and a stop then recover the original counts.
#[tokio::test]
async fn with_the_table_stop_and_start_at_once_free_running() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let (sdk, world) = connect_with_table(&moto).await;
    let mut broken = Vec::new();
    let mut ends = [0usize; 2];
    for round in 0..rounds() {
        let from_stopped = round % 2 == 0;
        if from_stopped {
            run_with_table(&sdk, "stop").await;
        }
        let (rt, rs) = tokio::join!(run_with_table(&sdk, "stop"), run_with_table(&sdk, "start"));
        let after = table_state(&sdk).await;
        let whole = after.iter().zip(running().iter().zip(stopped())).all(|(s, (up, down))| s == up || *s == down);
        if !whole {
            broken.push(format!("round {round} (from {from_stopped}): {after:?}\n{rt}\n{rs}"));
            reset(&sdk).await;
        }
        for (s, up) in after.iter().zip(running()) {
            ends[usize::from(*s != up)] += 1;
        }
        run_with_table(&sdk, "start").await;
        assert_eq!(table_state(&sdk).await, running(), "round {round}: a start puts the original counts back");
        if round + 1 == rounds() {
            assert_throttled(&world, &[&rt, &rs]);
        }
    }
    assert!(broken.is_empty(), "{} of {} rounds ended broken:\n{}", broken.len(), rounds(), broken.join("\n\n"));
    println!(
        "stop and start at once with the table: {} rounds, services ended running {} and stopped {} times",
        rounds(),
        ends[0],
        ends[1]
    );
}
