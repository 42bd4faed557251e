//! EC2-backed environments end to end against moto (`seed.py ec2`): a cluster on an Auto
//! Scaling group (launch template, min 1 desired 2 max 4) backing a capacity provider with
//! managed scaling and managed termination protection, two bridge-mode services with instance
//! target groups, one task of each on each instance, and a service of another environment.
//!
//! Moto keeps AWS's state but runs nothing, so [`Ecs`] stands in front of the SDK adapter and
//! does, right after each call, what AWS's own services would:
//! - ECS's service scheduler: after an `UpdateService` to 0 the service's tasks are stopped;
//!   to N, N tasks are started on the container instances (`seed.py stop-service-tasks`,
//!   `run-service-tasks`); no target is registered (these are the services' own target groups,
//!   but registering them is left to the function, whose registration the test checks).
//! - ECS's managed termination protection: before the group is set to 0 its instances, empty
//!   by then, lose their scale-in protection (moto, like AWS, terminates no protected instance).
//! - The ECS agent: instances the group launched register as container instances
//!   (`register-instances`); those it terminated are deregistered (`deregister-instances`).
//! - DescribeTasks: a bridge task's `networkBindings` (its static host port, as ECS reports
//!   it; moto reports none).
//!
//! Not modelled: the time instances take to boot and register (moto launches them at once),
//! ECS managed scaling changing the group's desired count itself, placement strategies.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use ecs_cost_saver::aws::{
    AutoScalingGroups, DescribedServices, Paced, ScalableTargets, Schedules, Sdk, Services, SnapshotTable,
    TargetGroups, TaskDefinitions, Tasks,
};
use ecs_cost_saver::error::AwsError;
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::state::{
    AutoScalingGroup, Capacity, CapacityProvider, Container, ContainerInstance, Entry, GroupSize, Holder,
    OneTimeSchedule, RegisteredTarget, ScheduledAction, Snapshot, Target, TargetType, Task, TaskDefinition,
};
use serde_json::{Value, json};
use support::{Moto, e2e_run as run};

const CLUSTER: &str = "shop-stg";
const GROUP: &str = "shop-stg-ecs";

/// The container and host port of each bridge service's task definition (`seed.py ec2`).
const PORTS: [(&str, u16); 3] = [("api", 8080), ("web", 80), ("other", 9000)];

const SCHEDULE: &str = "\
environments:
  staging:
    capacity:
      - autoscaling_group: shop-stg-ecs
    services:
      - { cluster: shop-stg, service: api }
      - { cluster: shop-stg, service: web }
  shared:
    services:
      - { cluster: shop-stg, service: other }
";

/// The SDK adapter, followed by what AWS would do after each call (see the top of the file).
struct Ecs<'a> {
    sdk: &'a Sdk,
    moto: &'a Moto,
    /// Whether ECS stops a service's tasks after an `UpdateService` to 0 (false: they stay, as
    /// tasks that take longer to drain than the run has).
    stops_tasks: bool,
}

impl Ecs<'_> {
    fn seed(&self, args: &[&str]) -> Value {
        self.moto.seed(args)
    }
}

impl Services for Ecs<'_> {
    async fn describe_services(&self, cluster: &str, names: &[String]) -> Result<DescribedServices, AwsError> {
        self.sdk.describe_services(cluster, names).await
    }
    async fn set_desired_count(&self, cluster: &str, service: &str, desired: u32) -> Result<(), AwsError> {
        self.sdk.set_desired_count(cluster, service, desired).await?;
        if desired == 0 {
            if self.stops_tasks {
                self.seed(&["stop-service-tasks", "--cluster", cluster, "--service", service]);
            }
        } else {
            let count = desired.to_string();
            self.seed(&["run-service-tasks", "--cluster", cluster, "--service", service, "--count", &count]);
        }
        Ok(())
    }
    async fn tag_service(&self, arn: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.sdk.tag_service(arn, key, value).await
    }
    async fn untag_service(&self, arn: &str, key: &str) -> Result<(), AwsError> {
        self.sdk.untag_service(arn, key).await
    }
    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_services(cluster).await
    }
}

impl TaskDefinitions for Ecs<'_> {
    async fn describe_task_definition(&self, arn: &str) -> Result<TaskDefinition, AwsError> {
        self.sdk.describe_task_definition(arn).await
    }
}

impl Tasks for Ecs<'_> {
    async fn list_running_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_running_tasks(cluster, service).await
    }
    async fn list_stopping_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_stopping_tasks(cluster, service).await
    }
    /// With each bridge container's binding, as ECS reports it for a static host port.
    async fn describe_tasks(&self, cluster: &str, arns: &[String]) -> Result<Vec<Task>, AwsError> {
        let mut tasks = self.sdk.describe_tasks(cluster, arns).await?;
        for task in &mut tasks {
            let service = task.group.as_deref().and_then(|g| g.strip_prefix("service:")).unwrap_or_default();
            if let Some((_, port)) = PORTS.iter().find(|(name, _)| *name == service) {
                for c in &mut task.containers {
                    if c.bindings.is_empty() {
                        c.bindings.push((*port, *port));
                    }
                }
                if task.containers.is_empty() {
                    task.containers.push(Container { name: "app".into(), bindings: vec![(*port, *port)] });
                }
            }
        }
        Ok(tasks)
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
    async fn list_cluster_tasks(&self, cluster: &str, max_pages: usize) -> Result<Option<Vec<String>>, AwsError> {
        self.sdk.list_cluster_tasks(cluster, max_pages).await
    }
    async fn list_tasks_on_instance(&self, cluster: &str, container_instance: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_tasks_on_instance(cluster, container_instance).await
    }
    async fn list_container_instances(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.sdk.list_container_instances(cluster).await
    }
    async fn describe_container_instance_states(
        &self,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<ContainerInstance>, AwsError> {
        self.sdk.describe_container_instance_states(cluster, arns).await
    }
    async fn capacity_providers(&self, clusters: &[String]) -> Result<Vec<CapacityProvider>, AwsError> {
        self.sdk.capacity_providers(clusters).await
    }
}

impl AutoScalingGroups for Ecs<'_> {
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, AwsError> {
        self.sdk.describe_groups(names).await
    }
    /// To 0: the (empty) instances lose their protection first, as ECS's managed termination
    /// protection leaves them, and the terminated ones are deregistered after; else the
    /// instances the group launched register.
    async fn set_group_size(&self, name: &str, size: GroupSize) -> Result<(), AwsError> {
        if size.desired == 0 {
            let group = self.sdk.describe_groups(&[name.to_string()]).await?.remove(0);
            if !group.instances.is_empty() {
                self.sdk
                    .autoscaling
                    .set_instance_protection()
                    .auto_scaling_group_name(name)
                    .set_instance_ids(Some(group.instances))
                    .protected_from_scale_in(false)
                    .send()
                    .await
                    .expect("moto removes the protection");
            }
        }
        self.sdk.set_group_size(name, size).await?;
        if size.desired == 0 {
            self.seed(&["deregister-instances", "--cluster", CLUSTER, "--group", name]);
        } else {
            self.seed(&["register-instances", "--cluster", CLUSTER, "--group", name]);
        }
        Ok(())
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

impl ScalableTargets for Ecs<'_> {
    async fn describe_capacities(&self, resource_ids: &[String]) -> Result<Vec<(String, Capacity)>, AwsError> {
        self.sdk.describe_capacities(resource_ids).await
    }
    async fn set_capacity(&self, resource_id: &str, capacity: Capacity) -> Result<(), AwsError> {
        self.sdk.set_capacity(resource_id, capacity).await
    }
    async fn scheduled_actions(&self) -> Result<Vec<ScheduledAction>, AwsError> {
        self.sdk.scheduled_actions().await
    }
}

impl TargetGroups for Ecs<'_> {
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

impl Schedules for Ecs<'_> {
    async fn put_one_time_schedule(&self, schedule: &OneTimeSchedule) -> Result<(), AwsError> {
        self.sdk.put_one_time_schedule(schedule).await
    }
    async fn schedule_expression(&self, group: &str, name: &str) -> Result<Option<String>, AwsError> {
        self.sdk.schedule_expression(group, name).await
    }
}

impl SnapshotTable for Ecs<'_> {
    async fn entries(&self, table: &str, keys: &[String]) -> Result<Vec<(String, Entry)>, AwsError> {
        self.sdk.entries(table, keys).await
    }
    async fn create_entry(&self, table: &str, key: &str, snapshot: &Snapshot, holder: &Holder) -> Result<(), AwsError> {
        self.sdk.create_entry(table, key, snapshot, holder).await
    }
    async fn hold_entry(&self, table: &str, key: &str, version: u64, holder: &Holder) -> Result<(), AwsError> {
        self.sdk.hold_entry(table, key, version, holder).await
    }
    async fn release_entry(&self, table: &str, key: &str, holder: &Holder) -> Result<(), AwsError> {
        self.sdk.release_entry(table, key, holder).await
    }
    async fn delete_entry(&self, table: &str, key: &str, holder: &Holder) -> Result<(), AwsError> {
        self.sdk.delete_entry(table, key, holder).await
    }
}

/// One account and region: no other place's clients.
impl ecs_cost_saver::aws::Places for Ecs<'_> {}

impl Paced for Ecs<'_> {
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

/// (min, desired, max) of the group, its snapshot tag, and its instances, as moto has them.
async fn group(sdk: &Sdk) -> (GroupSize, Option<String>, Vec<String>) {
    let g = sdk.describe_groups(&[GROUP.to_string()]).await.unwrap().remove(0);
    let snapshot = g.tags.get(ecs_cost_saver::state::SNAPSHOT_TAG).cloned();
    (g.size, snapshot, g.instances)
}

fn size(min: u32, desired: u32, max: u32) -> GroupSize {
    GroupSize { min, desired, max }
}

/// The registered targets (instance id, port) of a target group.
async fn targets(sdk: &Sdk, tg: &str) -> Vec<(String, u16)> {
    let mut all: Vec<(String, u16)> =
        sdk.registered_targets(tg).await.unwrap().into_iter().map(|t| (t.target.id, t.target.port)).collect();
    all.sort();
    all
}

/// How many times each operation was called (printed: the README's calls per run).
fn tally(requests: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for r in requests {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    counts
}

/// The operations among `requests` that change something.
fn mutating(requests: &[String]) -> Vec<&str> {
    const READS: [&str; 4] = ["Describe", "List", "Get", "BatchGet"];
    requests.iter().map(String::as_str).filter(|op| !READS.iter().any(|r| op.starts_with(r))).collect()
}

fn position(requests: &[String], op: &str) -> Vec<usize> {
    requests.iter().enumerate().filter(|(_, r)| *r == op).map(|(i, _)| i).collect()
}

fn payload(action: &str) -> Value {
    json!({"action": action, "environment": "staging"})
}

#[tokio::test]
async fn an_ec2_environment_stops_its_services_then_its_group_and_starts_them_in_the_other_order() {
    let moto = Moto::start();
    let world = moto.seed(&["ec2"]);
    let sdk = moto.sdk().await;
    let ecs = Ecs { sdk: &sdk, moto: &moto, stops_tasks: true };
    let schedule = Schedule::parse(SCHEDULE, "capacity.yaml").unwrap();
    // The other environment's service is stopped here: the guard has its own test.
    moto.seed(&["stop-service-tasks", "--cluster", CLUSTER, "--service", "other"]);
    let (before, _, first_instances) = group(&sdk).await;
    assert_eq!((before, first_instances.len()), (size(1, 2, 4), 2));

    let (stop, requests) = moto.recording(run(&ecs, &schedule, payload("stop"), Duration::from_secs(20))).await;
    assert!(stop.error().is_none(), "{stop}");
    for name in ["api", "web"] {
        assert_eq!(support::service(&sdk, CLUSTER, name).await, (0, Some("desired=2".into())), "{name}\n{stop}");
    }
    assert_eq!(group(&sdk).await, (size(0, 0, 4), Some("min=1 desired=2 max=4".into()), vec![]), "{stop}");
    let g = &stop.capacity[0];
    assert_eq!((g.group.as_str(), g.outcome), (GROUP, Outcome::Changed), "{stop}");
    assert_eq!(g.actions, vec!["save snapshot min=1 desired=2 max=4", "set min 0 desired 0 max 4"]);
    assert_eq!(g.capacity_provider.as_deref(), Some("shop-stg-cp (managed scaling, managed termination protection)"));
    println!("stop: {:?}", tally(&requests));
    let (updates, scaled_in) = (position(&requests, "UpdateService"), position(&requests, "UpdateAutoScalingGroup"));
    assert_eq!((updates.len(), scaled_in.len()), (2, 1), "{requests:?}");
    assert!(updates.iter().all(|u| *u < scaled_in[0]), "services first, then the group: {requests:?}");
    assert!(
        position(&requests, "CreateOrUpdateTags")[0] < scaled_in[0],
        "the snapshot is on the group before it is scaled in: {requests:?}"
    );

    let (again, requests) = moto.recording(run(&ecs, &schedule, payload("stop"), Duration::from_secs(20))).await;
    assert!(again.error().is_none(), "{again}");
    println!("second stop: {:?}", tally(&requests));
    assert_eq!(mutating(&requests), Vec::<&str>::new(), "a second stop changes nothing:\n{again}");
    assert_eq!(again.capacity[0].outcome, Outcome::Unchanged, "{again}");
    assert_eq!(group(&sdk).await.1.as_deref(), Some("min=1 desired=2 max=4"), "the snapshot is never overwritten");

    let (start, requests) = moto.recording(run(&ecs, &schedule, payload("start"), Duration::from_secs(30))).await;
    assert!(start.error().is_none(), "{start}");
    let (after, snapshot, instances) = group(&sdk).await;
    assert_eq!((after, snapshot), (size(1, 2, 4), None), "{start}");
    assert_eq!(instances.len(), 2);
    assert!(instances.iter().all(|i| !first_instances.contains(i)), "new instances: {instances:?}");
    let g = &start.capacity[0];
    assert_eq!(g.actions, vec!["set min 1 desired 2 max 4", "clear snapshot"], "{start}");
    assert!(
        g.notes.iter().any(|n| n.starts_with("its 2 instances registered in the environment's clusters")),
        "{start}"
    );
    println!("start: {:?}", tally(&requests));
    let (restored, updates) = (position(&requests, "UpdateAutoScalingGroup"), position(&requests, "UpdateService"));
    assert!(updates.iter().all(|u| restored[0] < *u), "the group first, then the services: {requests:?}");
    for name in ["api", "web"] {
        assert_eq!(support::service(&sdk, CLUSTER, name).await, (2, None), "{name}\n{start}");
    }
    let tgs: BTreeMap<&str, &str> = [("api", "api-tg"), ("web", "web-tg")]
        .into_iter()
        .map(|(s, tg)| (s, world["target_groups"][tg].as_str().unwrap()))
        .collect();
    for (service, port) in [("api", 8080), ("web", 80)] {
        let mut expected: Vec<(String, u16)> = instances.iter().map(|i| (i.clone(), port)).collect();
        expected.sort();
        let registered = targets(&sdk, tgs[service]).await;
        assert!(
            expected.iter().all(|t| registered.contains(t)),
            "{service}: the new instances on host port {port}: {registered:?}\n{start}"
        );
        let reported: Vec<(String, u16)> = start
            .targets
            .iter()
            .filter(|t| t.service == service)
            .map(|t| (t.target.id.clone(), t.target.port))
            .collect();
        assert_eq!(reported.len(), 2, "{start}");
    }
}

#[tokio::test]
async fn another_environment_s_tasks_on_the_instances_keep_the_group_up() {
    let moto = Moto::start();
    moto.seed(&["ec2"]);
    let sdk = moto.sdk().await;
    let ecs = Ecs { sdk: &sdk, moto: &moto, stops_tasks: true };
    let schedule = Schedule::parse(SCHEDULE, "capacity.yaml").unwrap();

    let (stop, requests) = moto.recording(run(&ecs, &schedule, payload("stop"), Duration::from_secs(20))).await;
    assert!(stop.error().is_none(), "{stop}");
    for name in ["api", "web"] {
        assert_eq!(support::service(&sdk, CLUSTER, name).await.0, 0, "{name}: the services are stopped\n{stop}");
    }
    let g = &stop.capacity[0];
    assert_eq!(g.outcome, Outcome::Skipped, "{stop}");
    assert_eq!(
        g.reason.as_deref(),
        Some(
            "tasks not stopped by this environment still run on its instances: shop-stg/other; its capacity is theirs too"
        )
    );
    assert_eq!(group(&sdk).await.0, size(1, 2, 4), "{stop}");
    assert_eq!(group(&sdk).await.1, None, "no snapshot on a group left alone");
    assert!(
        position(&requests, "UpdateAutoScalingGroup").is_empty()
            && position(&requests, "CreateOrUpdateTags").is_empty()
    );
    let report: Report = stop;
    assert!(report.to_string().contains("group shop-stg-ecs"), "{report}");
}

#[tokio::test]
async fn status_shows_the_group_and_warns_of_instances_of_a_group_the_file_does_not_list() {
    let moto = Moto::start();
    moto.seed(&["ec2"]);
    let sdk = moto.sdk().await;
    let ecs = Ecs { sdk: &sdk, moto: &moto, stops_tasks: true };
    let listed = Schedule::parse(SCHEDULE, "capacity.yaml").unwrap();
    let status =
        run(&ecs, &listed, json!({"action": "status", "environment": "staging"}), Duration::from_secs(10)).await;
    let g = &status.capacity[0];
    assert_eq!((g.before, g.snapshot, g.outcome), (Some(size(1, 2, 4)), None, Outcome::Unchanged), "{status}");
    assert!(!status.notes.iter().any(|n| n.starts_with("cost leak")), "the group is listed:\n{status}");

    let unlisted =
        Schedule::parse(&SCHEDULE.replace("    capacity:\n      - autoscaling_group: shop-stg-ecs\n", ""), "x.yaml")
            .unwrap();
    let status =
        run(&ecs, &unlisted, json!({"action": "status", "environment": "staging"}), Duration::from_secs(10)).await;
    assert!(status.capacity.is_empty());
    assert!(
        status.notes.contains(
            &"cost leak: shop-stg: 2 instances of shop-stg-ecs keep running while staging is stopped (list it under `capacity` to stop them too)"
                .to_string()
        ),
        "{status}"
    );
}

#[tokio::test]
async fn a_dry_run_shows_the_group_and_tasks_still_there_at_the_deadline_leave_it_to_the_next_stop() {
    let moto = Moto::start();
    moto.seed(&["ec2"]);
    let sdk = moto.sdk().await;
    let ecs = Ecs { sdk: &sdk, moto: &moto, stops_tasks: false };
    let schedule = Schedule::parse(SCHEDULE, "capacity.yaml").unwrap();
    moto.seed(&["stop-service-tasks", "--cluster", CLUSTER, "--service", "other"]);

    let dry = json!({"action": "stop", "environment": "staging", "dry_run": true});
    let (plan, requests) = moto.recording(run(&ecs, &schedule, dry, Duration::from_secs(10))).await;
    assert_eq!(mutating(&requests), Vec::<&str>::new(), "a dry run writes nothing:\n{plan}");
    let g = &plan.capacity[0];
    assert_eq!((g.outcome, g.before, g.after), (Outcome::Changed, Some(size(1, 2, 4)), Some(size(0, 0, 4))), "{plan}");
    assert_eq!(g.actions, vec!["save snapshot min=1 desired=2 max=4", "set min 0 desired 0 max 4"]);
    assert!(plan.to_string().contains("      would set min 0 desired 0 max 4\n"), "{plan}");
    assert!(
        plan.notes
            .contains(&"shop-stg-ecs: scaled in once the 4 tasks of this environment on its instances are gone".into()),
        "{plan}"
    );

    let stop = run(&ecs, &schedule, payload("stop"), Duration::from_secs(3)).await;
    assert!(stop.error().is_none(), "{stop}");
    let g = &stop.capacity[0];
    assert_eq!(
        (g.outcome, g.reason.as_deref()),
        (
            Outcome::Skipped,
            Some(
                "4 tasks of this environment's stopped services were still on its instances when the wait ended; the next stop or reconcile scales it in"
            )
        ),
        "{stop}"
    );
    assert_eq!(group(&sdk).await, (size(1, 2, 4), None, group(&sdk).await.2), "left as it is, no snapshot");

    // ECS has stopped them by the next stop.
    for service in ["api", "web"] {
        moto.seed(&["stop-service-tasks", "--cluster", CLUSTER, "--service", service]);
    }
    let next = run(&ecs, &schedule, payload("stop"), Duration::from_secs(10)).await;
    assert!(next.error().is_none(), "{next}");
    assert_eq!(next.services.iter().map(|s| s.outcome).collect::<Vec<_>>(), vec![Outcome::Unchanged; 2], "{next}");
    assert_eq!(next.capacity[0].outcome, Outcome::Changed, "{next}");
    assert_eq!(group(&sdk).await, (size(0, 0, 4), Some("min=1 desired=2 max=4".into()), vec![]), "{next}");
}
