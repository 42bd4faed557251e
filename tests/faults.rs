//! Fault injection with aws-smithy-mocks: every kind of call the stop and start paths make
//! (DescribeServices, DescribeScalableTargets, TagResource, RegisterScalableTarget,
//! UpdateService, UntagResource, ListTasks, DescribeTasks, DescribeTargetGroups,
//! DescribeTargetHealth, RegisterTargets) fails at chosen or seeded-random points, in the
//! ways AWS fails: throttling, HTTP 500 with the service's own error code, HTTP 503 without a
//! body, Application Auto Scaling's `ConcurrentUpdateException`, operation timeouts, and
//! writes that were applied while the answer was lost. The mock rules read and update a small
//! in-memory AWS (services, scalable targets, tasks, target groups) so the end state can be
//! checked after every invocation:
//!
//! - a service is either where the action puts it (stop: desired 0, min/max 0, snapshot = the
//!   original counts; start: the original counts, no snapshot, every task registered) or
//!   reported `failed` with the injected fault named in its error;
//! - a snapshot is never lost (a service away from its original counts always has one) and
//!   never overwritten (it only ever holds the original counts);
//! - `report.error()` is `Some` exactly when a service failed.
//!
//! The same seeded and targeted faults also run in a throttling world: AWS answers every attempt
//! through a token bucket per API group (`pace::Group`, ELB's account-wide bucket as well) on
//! virtual time, with a throttle in the service's own shape when the bucket is empty, and the
//! clients are paced (`aws::Pace`, on the same virtual clock and sleep) and count every throttled
//! answer. There the properties also say that the buckets' throttles fail no service, hand none
//! on, and are all counted in the report (see [`throttling_violations`]).
//!
//! A test shows what the production timeouts (no operation timeout) do with a call that never
//! answers; ignored reproducers show what src/ gets wrong today.
//!
//! The clients have the production retry policy unchanged (`retry_config()`: standard, 5
//! attempts, its real backoff; `retry_concurrent_updates` on Application Auto Scaling) and an
//! operation timeout, and run on virtual time: the SDK's clock and every SDK sleep (backoff,
//! operation timeout; the pacing's waits in the throttling world) are a [`VirtualTime`] that a
//! small executor ([`run_virtual`]) moves forward only when every run is idle, straight to the
//! next timer. So the backoff and the buckets behave as over real seconds, a timeout costs no
//! real time, and a busy machine cannot make a call time out. Tokio's timers are not driven:
//! the dispatcher's `tokio::time::sleep` between looks at tasks that are not running yet (and
//! between replans) would never end, so the world's tasks run at once and there is no state
//! table; a run that waited on one would stop with "the runs wait for something other than
//! virtual time". The deadline is a `tokio::time::Instant` (real time) that the pacing turns
//! into virtual seconds once, when the run begins.
//! Each seeded run has clients and retry partitions of its own (the SDK keeps retry quotas per
//! partition for the whole process, as a warm Lambda would), and neither
//! an identity cache nor stalled-stream protection (their sleeps, a load timeout and a
//! throughput check, are not part of what is tested). aws-smithy-mocks answers synchronously
//! and cannot delay a response, so a timeout is made this way: the call gets a bare 503, the SDK
//! backs off to retry, and the test's sleep stretches that one backoff past the operation
//! timeout, so the SDK's own operation timeout fires and the caller gets a real
//! `SdkError::TimeoutError`.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_applicationautoscaling as aas;
use aws_sdk_ecs as ecs;
use aws_sdk_ecs::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
    FinalizerInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_sdk_ecs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecs::error::BoxError;
use aws_sdk_elasticloadbalancingv2 as elb;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, Sleep};
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use aws_smithy_mocks::{Rule, RuleBuilder, RuleMode, mock, mock_client};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use ecs_cost_saver::aws::{Pace, Sdk, retry_concurrent_updates, retry_config};
use ecs_cost_saver::pace::{Buckets, Group, Limit, Limits};
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::state::SNAPSHOT_TAG;
use ecs_cost_saver::{Context, Settings, handle};
use futures_util::StreamExt;
use serde_json::json;

const ACCOUNT: &str = "arn:aws:ecs:ap-northeast-1:123456789012";
const TG_API: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/api/0123456789abcdef";
const TG_WEB: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/0123456789abcdef";
const TG_EXTRA: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/extra/0123456789abcdef";

/// The SDK's operation timeout in these clients (virtual time): longer than the retry policy's
/// 4 backoffs (at most 20 s each).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);
/// Seeded runs per test (each: 2 faulty stops, 2 faulty starts and the clean runs between).
/// Seeded sequences per run; `ECS_COST_SAVER_FAULT_RUNS` sets more for a longer campaign.
fn runs() -> u64 {
    std::env::var("ECS_COST_SAVER_FAULT_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(60)
}

// ---------------------------------------------------------------------------------------------
// The simulated AWS
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    desired: i32,
    capacity: Option<(i32, i32)>,
}

impl Counts {
    /// The snapshot tag value the function writes for these counts.
    fn encode(self) -> String {
        match self.capacity {
            Some((min, max)) => format!("desired={} min={min} max={max}", self.desired),
            None => format!("desired={}", self.desired),
        }
    }
}

#[derive(Debug, Clone)]
struct Svc {
    cluster: &'static str,
    name: &'static str,
    original: Counts,
    now: Counts,
    /// The scalable target's scaling is suspended (all three kinds: a stop suspends them all).
    suspended: bool,
    tags: BTreeMap<String, String>,
    /// The service's own load balancer (target group, container port).
    lb: Option<(&'static str, u16)>,
    /// A target group from the YAML only.
    extra: Option<(&'static str, u16)>,
}

impl Svc {
    fn arn(&self) -> String {
        format!("{ACCOUNT}:service/{}/{}", self.cluster, self.name)
    }
    fn resource_id(&self) -> String {
        format!("service/{}/{}", self.cluster, self.name)
    }
    fn target_groups(&self) -> impl Iterator<Item = (&'static str, u16)> {
        self.lb.into_iter().chain(self.extra)
    }
}

/// Services, their scalable targets, their tasks (ECS starts `desired` tasks at once, each
/// RUNNING with its own IP) and the targets registered in each target group.
#[derive(Debug, Clone)]
struct World {
    services: Vec<Svc>,
    registered: BTreeMap<&'static str, BTreeSet<(String, u16)>>,
}

fn task_ip(index: usize, task: i32) -> String {
    format!("10.0.{index}.{}", 10 + task)
}

fn task_arn(svc: &Svc, task: i32) -> String {
    format!("{ACCOUNT}:task/{}/{}-{task}", svc.cluster, svc.name)
}

impl World {
    fn new() -> World {
        let svc = |cluster, name, desired, capacity, lb, extra| Svc {
            cluster,
            name,
            original: Counts { desired, capacity },
            now: Counts { desired, capacity },
            suspended: false,
            tags: BTreeMap::from([("team".to_string(), "shop".to_string())]),
            lb,
            extra,
        };
        let mut world = World {
            services: vec![
                svc("c", "api", 3, Some((1, 4)), Some((TG_API, 8080)), None),
                svc("c", "web", 2, None, Some((TG_WEB, 9090)), None),
                svc("c", "worker", 1, Some((1, 2)), None, None),
                svc("d", "batch", 2, None, None, Some((TG_EXTRA, 7070))),
            ],
            registered: [TG_API, TG_WEB, TG_EXTRA].into_iter().map(|tg| (tg, BTreeSet::new())).collect(),
        };
        // Running as before the first stop: every task in its target groups.
        for i in 0..world.services.len() {
            let s = world.services[i].clone();
            for (tg, port) in s.target_groups() {
                for t in 0..s.now.desired {
                    world.registered.get_mut(tg).unwrap().insert((task_ip(i, t), port));
                }
            }
        }
        world
    }

    fn index(&self, cluster: &str, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.cluster == cluster && s.name == name)
    }

    fn index_by_arn(&self, arn: &str) -> usize {
        self.services.iter().position(|s| s.arn() == arn).unwrap_or_else(|| panic!("no service {arn}"))
    }

    fn index_by_resource_id(&self, id: &str) -> Option<usize> {
        self.services.iter().position(|s| s.resource_id() == id)
    }

    /// UpdateService: ECS stops the tasks above the new count and takes them out of the
    /// service's target groups; new tasks are registered by the function, not here.
    fn set_desired(&mut self, i: usize, desired: i32) {
        let old = self.services[i].now.desired;
        self.services[i].now.desired = desired;
        for t in desired..old {
            for set in self.registered.values_mut() {
                set.retain(|(ip, _)| *ip != task_ip(i, t));
            }
        }
    }

    /// RegisterScalableTarget: Application Auto Scaling moves the desired count inside the new
    /// range (asynchronously in AWS; at once here).
    fn set_capacity(&mut self, i: usize, min: i32, max: i32, suspended: bool) {
        self.services[i].now.capacity = Some((min, max));
        self.services[i].suspended = suspended;
        let desired = self.services[i].now.desired.clamp(min, max);
        self.set_desired(i, desired);
    }
}

// ---- the mock rules' outputs, computed from the world ----

fn describe_services(
    w: &mut World,
    req: &ecs::operation::describe_services::DescribeServicesInput,
) -> ecs::operation::describe_services::DescribeServicesOutput {
    assert_eq!(req.include(), [ecs::types::ServiceField::Tags], "tags are read with the services");
    let cluster = req.cluster().expect("cluster is sent");
    let mut out = ecs::operation::describe_services::DescribeServicesOutput::builder();
    for name in req.services() {
        match w.index(cluster, name) {
            Some(i) => {
                let s = &w.services[i];
                let mut b = ecs::types::Service::builder()
                    .service_arn(s.arn())
                    .service_name(s.name)
                    .cluster_arn(format!("{ACCOUNT}:cluster/{}", s.cluster))
                    .status("ACTIVE")
                    .desired_count(s.now.desired)
                    .running_count(s.now.desired);
                for (k, v) in &s.tags {
                    b = b.tags(ecs::types::Tag::builder().key(k).value(v).build());
                }
                if let Some((tg, port)) = s.lb {
                    b = b.load_balancers(
                        ecs::types::LoadBalancer::builder()
                            .target_group_arn(tg)
                            .container_name("app")
                            .container_port(i32::from(port))
                            .build(),
                    );
                }
                out = out.services(b.build());
            }
            None => {
                out = out.failures(
                    ecs::types::Failure::builder()
                        .arn(format!("{ACCOUNT}:service/{cluster}/{name}"))
                        .reason("MISSING")
                        .build(),
                )
            }
        }
    }
    out.build()
}

fn update_service(
    w: &mut World,
    req: &ecs::operation::update_service::UpdateServiceInput,
) -> ecs::operation::update_service::UpdateServiceOutput {
    let i = w.index(req.cluster().unwrap(), req.service().unwrap()).expect("updates a known service");
    w.set_desired(i, req.desired_count().expect("desiredCount is sent"));
    ecs::operation::update_service::UpdateServiceOutput::builder().build()
}

fn tag_resource(
    w: &mut World,
    req: &ecs::operation::tag_resource::TagResourceInput,
) -> ecs::operation::tag_resource::TagResourceOutput {
    let i = w.index_by_arn(req.resource_arn().unwrap());
    for t in req.tags() {
        w.services[i].tags.insert(t.key().unwrap().to_string(), t.value().unwrap().to_string());
    }
    ecs::operation::tag_resource::TagResourceOutput::builder().build()
}

fn untag_resource(
    w: &mut World,
    req: &ecs::operation::untag_resource::UntagResourceInput,
) -> ecs::operation::untag_resource::UntagResourceOutput {
    let i = w.index_by_arn(req.resource_arn().unwrap());
    for k in req.tag_keys() {
        w.services[i].tags.remove(k);
    }
    ecs::operation::untag_resource::UntagResourceOutput::builder().build()
}

/// ListTasks of one service or, without `serviceName`, of the whole cluster (a start looks at
/// every waiting service of a cluster with one list).
fn list_tasks(
    w: &mut World,
    req: &ecs::operation::list_tasks::ListTasksInput,
) -> ecs::operation::list_tasks::ListTasksOutput {
    assert_eq!(req.desired_status(), Some(&ecs::types::DesiredStatus::Running));
    let cluster = req.cluster().unwrap();
    if let Some(name) = req.service_name() {
        w.index(cluster, name).expect("lists a known service");
    }
    let arns = w
        .services
        .iter()
        .filter(|s| s.cluster == cluster && req.service_name().is_none_or(|name| name == s.name))
        .flat_map(|s| (0..s.now.desired).map(move |t| task_arn(s, t)))
        .collect();
    ecs::operation::list_tasks::ListTasksOutput::builder().set_task_arns(Some(arns)).build()
}

fn describe_tasks(
    w: &mut World,
    req: &ecs::operation::describe_tasks::DescribeTasksInput,
) -> ecs::operation::describe_tasks::DescribeTasksOutput {
    let mut out = ecs::operation::describe_tasks::DescribeTasksOutput::builder();
    for arn in req.tasks() {
        let Some((i, t)) = w
            .services
            .iter()
            .enumerate()
            .find_map(|(i, s)| (0..s.now.desired).find(|t| task_arn(s, *t) == *arn).map(|t| (i, t)))
        else {
            continue;
        };
        let eni = ecs::types::Attachment::builder()
            .r#type("ElasticNetworkInterface")
            .details(ecs::types::KeyValuePair::builder().name("privateIPv4Address").value(task_ip(i, t)).build())
            .build();
        out = out.tasks(
            ecs::types::Task::builder()
                .task_arn(arn)
                .group(format!("service:{}", w.services[i].name))
                .last_status("RUNNING")
                .desired_status("RUNNING")
                .attachments(eni)
                .containers(ecs::types::Container::builder().name("app").build())
                .build(),
        );
    }
    out.build()
}

fn describe_scalable_targets(
    w: &mut World,
    req: &aas::operation::describe_scalable_targets::DescribeScalableTargetsInput,
) -> aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput {
    let mut out = aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput::builder();
    for id in req.resource_ids() {
        let Some(i) = w.index_by_resource_id(id) else { continue };
        let Some((min, max)) = w.services[i].now.capacity else { continue };
        let suspended = w.services[i].suspended;
        out = out.scalable_targets(
            aas::types::ScalableTarget::builder()
                .service_namespace(aas::types::ServiceNamespace::Ecs)
                .resource_id(id)
                .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(min)
                .max_capacity(max)
                .suspended_state(
                    aas::types::SuspendedState::builder()
                        .dynamic_scaling_in_suspended(suspended)
                        .dynamic_scaling_out_suspended(suspended)
                        .scheduled_scaling_suspended(suspended)
                        .build(),
                )
                .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/x")
                .creation_time(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .unwrap(),
        );
    }
    out.build()
}

fn register_scalable_target(
    w: &mut World,
    req: &aas::operation::register_scalable_target::RegisterScalableTargetInput,
) -> aas::operation::register_scalable_target::RegisterScalableTargetOutput {
    let i = w.index_by_resource_id(req.resource_id().unwrap()).expect("a known service");
    let s = req.suspended_state().expect("the suspended state is sent");
    let flags = [s.dynamic_scaling_in_suspended(), s.dynamic_scaling_out_suspended(), s.scheduled_scaling_suspended()];
    assert!(flags.iter().all(Option::is_some), "all three flags are sent: {s:?}");
    let suspended = flags.iter().all(|f| *f == Some(true));
    w.set_capacity(i, req.min_capacity().expect("min is sent"), req.max_capacity().expect("max is sent"), suspended);
    aas::operation::register_scalable_target::RegisterScalableTargetOutput::builder().build()
}

fn describe_target_groups(
    _: &mut World,
    req: &elb::operation::describe_target_groups::DescribeTargetGroupsInput,
) -> elb::operation::describe_target_groups::DescribeTargetGroupsOutput {
    let mut out = elb::operation::describe_target_groups::DescribeTargetGroupsOutput::builder();
    for arn in req.target_group_arns() {
        out = out.target_groups(
            elb::types::TargetGroup::builder()
                .target_group_arn(arn)
                .target_type(elb::types::TargetTypeEnum::Ip)
                .build(),
        );
    }
    out.build()
}

fn describe_target_health(
    w: &mut World,
    req: &elb::operation::describe_target_health::DescribeTargetHealthInput,
) -> elb::operation::describe_target_health::DescribeTargetHealthOutput {
    let mut out = elb::operation::describe_target_health::DescribeTargetHealthOutput::builder();
    for (ip, port) in &w.registered[req.target_group_arn().unwrap()] {
        out = out.target_health_descriptions(
            elb::types::TargetHealthDescription::builder()
                .target(elb::types::TargetDescription::builder().id(ip).port(i32::from(*port)).build())
                .target_health(
                    elb::types::TargetHealth::builder().state(elb::types::TargetHealthStateEnum::Healthy).build(),
                )
                .build(),
        );
    }
    out.build()
}

fn register_targets(
    w: &mut World,
    req: &elb::operation::register_targets::RegisterTargetsInput,
) -> elb::operation::register_targets::RegisterTargetsOutput {
    let tg = req.target_group_arn().unwrap();
    let set = w.registered.iter_mut().find(|(arn, _)| **arn == tg).map(|(_, set)| set).expect("a known target group");
    for t in req.targets() {
        let port = t.port().expect("every target carries its port");
        set.insert((t.id().expect("id").to_string(), u16::try_from(port).unwrap()));
    }
    elb::operation::register_targets::RegisterTargetsOutput::builder().build()
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    DescribeServices,
    DescribeScalableTargets,
    TagResource,
    RegisterScalableTarget,
    UpdateService,
    UntagResource,
    ListTasks,
    DescribeTasks,
    DescribeTargetGroups,
    DescribeTargetHealth,
    RegisterTargets,
}

impl Op {
    const ALL: [Op; 11] = [
        Op::DescribeServices,
        Op::DescribeScalableTargets,
        Op::TagResource,
        Op::RegisterScalableTarget,
        Op::UpdateService,
        Op::UntagResource,
        Op::ListTasks,
        Op::DescribeTasks,
        Op::DescribeTargetGroups,
        Op::DescribeTargetHealth,
        Op::RegisterTargets,
    ];

    fn mutating(self) -> bool {
        matches!(
            self,
            Op::TagResource | Op::RegisterScalableTarget | Op::UpdateService | Op::UntagResource | Op::RegisterTargets
        )
    }

    fn service(self) -> Api {
        match self {
            Op::DescribeScalableTargets | Op::RegisterScalableTarget => Api::Aas,
            Op::DescribeTargetGroups | Op::DescribeTargetHealth | Op::RegisterTargets => Api::Elb,
            _ => Api::Ecs,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Ecs,
    Aas,
    Elb,
}

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    /// HTTP 400 `ThrottlingException` (ECS, Application Auto Scaling) / `Throttling` (ELB).
    Throttle,
    /// HTTP 500 with the service's own code: `ServerException` (ECS),
    /// `InternalServiceException` (Application Auto Scaling), `InternalFailure` (ELB).
    ServerError,
    /// HTTP 503 with no body, as a proxy or an overloaded front end answers.
    Unavailable,
    /// HTTP 400 `ConcurrentUpdateException` (Application Auto Scaling only).
    Conflict,
    /// No answer within the operation timeout.
    Timeout,
}

impl Kind {
    const ALL: [Kind; 5] = [Kind::Throttle, Kind::ServerError, Kind::Unavailable, Kind::Conflict, Kind::Timeout];

    fn applies_to(self, op: Op) -> bool {
        self != Kind::Conflict || op.service() == Api::Aas
    }

    /// The HTTP answer (status, body) of one failed attempt. A timeout's attempts are answered
    /// 503 until the stretched backoff lets the operation timeout fire.
    fn response(self, op: Op) -> (u16, Option<&'static str>) {
        match (self, op.service()) {
            (Kind::Throttle, Api::Ecs | Api::Aas) => {
                (400, Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#))
            }
            (Kind::Throttle, Api::Elb) => (
                400,
                Some(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                     <Message>Rate exceeded</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
                ),
            ),
            (Kind::ServerError, Api::Ecs) => {
                (500, Some(r#"{"__type":"ServerException","message":"Service encountered an internal error"}"#))
            }
            (Kind::ServerError, Api::Aas) => {
                (500, Some(r#"{"__type":"InternalServiceException","message":"Internal service error"}"#))
            }
            (Kind::ServerError, Api::Elb) => (
                500,
                Some(
                    "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code>\
                     <Message>Internal failure</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
                ),
            ),
            (Kind::Conflict, _) => {
                (400, Some(r#"{"__type":"ConcurrentUpdateException","message":"Concurrent updates are not allowed"}"#))
            }
            (Kind::Unavailable | Kind::Timeout, _) => (503, None),
        }
    }

    /// What the service's error in the report must say (after `Operation: `).
    fn cause(self, op: Op) -> &'static str {
        match (self, op.service()) {
            (Kind::Throttle, Api::Elb) => "Throttling: Rate exceeded",
            (Kind::Throttle, _) => "ThrottlingException: Rate exceeded",
            (Kind::ServerError, Api::Ecs) => "ServerException: Service encountered an internal error",
            (Kind::ServerError, Api::Aas) => "InternalServiceException: Internal service error",
            (Kind::ServerError, Api::Elb) => "InternalFailure: Internal failure",
            (Kind::Conflict, _) => "ConcurrentUpdateException: Concurrent updates are not allowed",
            // What `AwsError` says for a 5xx with no body (see `named_in`).
            (Kind::Unavailable, _) => "no message (HTTP 503)",
            (Kind::Timeout, _) => "request timed out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Lasting {
    /// Every attempt fails: the SDK's retries run out (or the operation times out).
    Persistent,
    /// The first `n` attempts fail, then the call succeeds.
    Transient(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Fault {
    op: Op,
    kind: Kind,
    lasting: Lasting,
    /// A write that reached AWS although the caller got the error.
    applied: bool,
}

impl Fault {
    fn cause(&self) -> String {
        format!("{}: {}", self.op, self.kind.cause(self.op))
    }

    /// Whether a service's error names this fault. A 503 without a body reaches the report as
    /// `Op: no message (HTTP 503)` or, when the SDK cannot parse the empty body, as
    /// `Op: unreadable response from the service (HTTP 503)`. A call that never answers ends at
    /// the SDK's operation timeout or, when that is later, at the time the pacing gives it (the
    /// run's deadline; 30 s outside a run): `Op: no answer within the N s left ...`; or, when
    /// the SDK has no retry quota left for the backoff that would be stretched, at the 503 that
    /// stands for it.
    fn named_in(&self, error: &str) -> bool {
        error.contains(&self.cause())
            || (self.kind == Kind::Unavailable
                && error.contains(&format!("{}: unreadable response from the service (HTTP 503)", self.op)))
            || (self.kind == Kind::Timeout
                && (error.contains(&format!("{}: no answer within", self.op))
                    || Fault { kind: Kind::Unavailable, ..*self }.named_in(error)))
    }
}

/// Which calls fail.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Off,
    /// Each call fails with this probability, in a way drawn from the seeded generator.
    Random(f64),
    /// The first call of `fault.op` in each invocation fails this way.
    Targeted(Fault),
}

/// splitmix64: small, seeded, good enough to choose faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Where the rules send the call being matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Ok,
    /// The rule answering `kind` on every attempt.
    Persistent(Kind),
    /// A transient-fault rule (used once): `k` failed attempts, then the computed output.
    Slot(usize),
}

/// Transient-fault rules per operation and client (one client per run): slot `i` fails
/// `1 + i % 2` attempts.
const SLOTS: usize = 16;

struct LabState {
    world: World,
    rng: Rng,
    mode: Mode,
    calls: HashMap<Op, usize>,
    route: HashMap<Op, Route>,
    /// Per operation: whether each slot is used, and the answer its failed attempts give.
    slots: HashMap<Op, Vec<(bool, Kind)>>,
    injected: Vec<Fault>,
}

/// The shared state of one run: the world, the fault plan, what was injected.
struct Lab {
    state: Mutex<LabState>,
    /// Set when a timeout is injected: the next backoff sleep is stretched past the timeout.
    stretch_next_sleep: AtomicBool,
    timeouts_fired: AtomicUsize,
    /// In the throttling world: AWS's buckets, and the calls being answered attempt by attempt.
    throttling: Option<Mutex<Throttling>>,
}

impl Lab {
    fn new(seed: u64) -> Arc<Lab> {
        Lab::with(seed, None)
    }

    /// A lab whose AWS also throttles, by `limits`, on virtual time.
    fn throttling(seed: u64, limits: &Limits, time: &Arc<VirtualTime>) -> Arc<Lab> {
        let now = time.now().as_secs_f64();
        let throttling = Throttling {
            time: time.clone(),
            buckets: Buckets::full(limits, now),
            calls: HashMap::new(),
            next: 0,
            opened: None,
            throttles: Vec::new(),
        };
        Lab::with(seed, Some(Mutex::new(throttling)))
    }

    fn with(seed: u64, throttling: Option<Mutex<Throttling>>) -> Arc<Lab> {
        Arc::new(Lab {
            state: Mutex::new(LabState {
                world: World::new(),
                rng: Rng(seed),
                mode: Mode::Off,
                calls: HashMap::new(),
                route: HashMap::new(),
                slots: Op::ALL.iter().map(|op| (*op, vec![(false, Kind::Throttle); SLOTS])).collect(),
                injected: Vec::new(),
            }),
            stretch_next_sleep: AtomicBool::new(false),
            timeouts_fired: AtomicUsize::new(0),
            throttling,
        })
    }

    fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.state.lock().unwrap().world)
    }

    fn route(&self, op: Op) -> Route {
        self.state.lock().unwrap().route.get(&op).copied().unwrap_or(Route::Ok)
    }

    fn slot_response(&self, op: Op, slot: usize) -> ecs::config::http::HttpResponse {
        let kind = self.state.lock().unwrap().slots[&op][slot].1;
        let (status, body) = kind.response(op);
        let body = body.map(SdkBody::from).unwrap_or_else(SdkBody::empty);
        ecs::config::http::HttpResponse::new(status.try_into().unwrap(), body)
    }

    /// A new invocation: a new mode, no calls yet.
    fn begin(&self, mode: Mode) {
        let mut s = self.state.lock().unwrap();
        s.mode = mode;
        s.calls.clear();
        s.route.clear();
        self.stretch_next_sleep.store(false, Ordering::SeqCst);
    }

    fn take_injected(&self) -> Vec<Fault> {
        std::mem::take(&mut self.state.lock().unwrap().injected)
    }

    /// The throttles the throttling world answered since the last call, by operation.
    fn take_throttles(&self) -> Vec<Op> {
        self.throttling.as_ref().map_or_else(Vec::new, |t| std::mem::take(&mut t.lock().unwrap().throttles))
    }

    /// Called once per operation (not per attempt), before the answering rule is chosen.
    /// Returns whether the write must be applied to the world although the call fails.
    fn decide(&self, op: Op) -> bool {
        let mut guard = self.state.lock().unwrap();
        let s = &mut *guard;
        let call = {
            let n = s.calls.entry(op).or_default();
            *n += 1;
            *n
        };
        let fault = match s.mode {
            Mode::Off => None,
            Mode::Targeted(f) => (f.op == op && call == 1).then_some(f),
            Mode::Random(p) => {
                if s.rng.chance(p) {
                    let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.applies_to(op)).collect();
                    let kind = kinds[s.rng.below(kinds.len())];
                    let lasting = match (kind, s.rng.below(3)) {
                        (Kind::Timeout, _) | (_, 0) => Lasting::Persistent,
                        (_, n) => Lasting::Transient(n),
                    };
                    let applied = op.mutating() && s.rng.below(3) == 0;
                    Some(Fault { op, kind, lasting, applied })
                } else {
                    None
                }
            }
        };
        let route = match fault {
            None => Route::Ok,
            Some(f) => match f.lasting {
                Lasting::Transient(n) => {
                    let free = s.slots[&op].iter().enumerate().position(|(i, (used, _))| !used && 1 + i % 2 == n);
                    match free {
                        Some(i) => {
                            s.slots.get_mut(&op).unwrap()[i] = (true, f.kind);
                            Route::Slot(i)
                        }
                        None => Route::Ok,
                    }
                }
                Lasting::Persistent if f.kind == Kind::Timeout => {
                    self.stretch_next_sleep.store(true, Ordering::SeqCst);
                    Route::Persistent(Kind::Unavailable)
                }
                Lasting::Persistent => Route::Persistent(f.kind),
            },
        };
        s.route.insert(op, route);
        match (fault, route) {
            (Some(f), Route::Persistent(_) | Route::Slot(_)) => {
                s.injected.push(f);
                f.applied
            }
            _ => false,
        }
    }
}

/// A clock that moves only when [`run_virtual`] finds nothing to do, to the next deadline.
#[derive(Debug, Default)]
struct VirtualTime {
    inner: Mutex<Timers>,
}

#[derive(Debug, Default)]
struct Timers {
    now: Duration,
    next_id: u64,
    waiting: BTreeMap<(Duration, u64), std::task::Waker>,
}

impl VirtualTime {
    fn now(&self) -> Duration {
        self.inner.lock().unwrap().now
    }

    /// Move to the earliest deadline and wake its sleepers; false when nothing is waiting.
    fn advance(&self) -> bool {
        let mut t = self.inner.lock().unwrap();
        let Some(&(deadline, _)) = t.waiting.keys().next() else { return false };
        t.now = t.now.max(deadline);
        let now = t.now;
        let later = t.waiting.split_off(&(now, u64::MAX));
        for (_, waker) in std::mem::replace(&mut t.waiting, later) {
            waker.wake();
        }
        true
    }
}

struct VirtualSleep {
    time: Arc<VirtualTime>,
    deadline: Duration,
    id: u64,
}

impl std::future::Future for VirtualSleep {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let mut t = self.time.inner.lock().unwrap();
        if t.now >= self.deadline {
            t.waiting.remove(&(self.deadline, self.id));
            return std::task::Poll::Ready(());
        }
        t.waiting.insert((self.deadline, self.id), cx.waker().clone());
        std::task::Poll::Pending
    }
}

impl Drop for VirtualSleep {
    fn drop(&mut self) {
        self.time.inner.lock().unwrap().waiting.remove(&(self.deadline, self.id));
    }
}

/// Run `future` to the end on this thread: poll while something woke it, else move virtual
/// time to the next deadline. Nothing else drives it, so no tokio timer or I/O may be awaited.
fn run_virtual<F: std::future::Future>(time: &Arc<VirtualTime>, future: F) -> F::Output {
    struct Flag(AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _context = runtime.enter();
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = std::task::Waker::from(flag.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if flag.0.swap(false, Ordering::SeqCst) {
            if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        } else if !time.advance() {
            panic!("the runs wait for something other than virtual time");
        }
    }
}

/// The SDK's clock: virtual time from an arbitrary start.
#[derive(Debug)]
struct VirtualClock(Arc<VirtualTime>);

impl TimeSource for VirtualClock {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000) + self.0.now()
    }
}

/// The SDK's sleeps (and the pacing's), on virtual time, except the first one after a timeout
/// was injected: stretched far past the operation timeout, which then fires. (The operation
/// timeout's own sleep is told apart by its length.)
#[derive(Clone)]
struct FaultSleep(Arc<Lab>, Arc<VirtualTime>);

impl fmt::Debug for FaultSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaultSleep")
    }
}

impl AsyncSleep for FaultSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        let lab = &self.0;
        let duration = if duration != OPERATION_TIMEOUT && lab.stretch_next_sleep.swap(false, Ordering::SeqCst) {
            lab.timeouts_fired.fetch_add(1, Ordering::SeqCst);
            Duration::from_secs(36_000)
        } else {
            duration
        };
        Sleep::new(VirtualSleep::new(&self.1, duration))
    }
}

impl VirtualSleep {
    fn new(time: &Arc<VirtualTime>, duration: Duration) -> VirtualSleep {
        let (deadline, id) = {
            let mut t = time.inner.lock().unwrap();
            t.next_id += 1;
            (t.now + duration, t.next_id)
        };
        VirtualSleep { time: time.clone(), deadline, id }
    }
}

/// One operation's rules, in the order they are tried: the deciding rule (never matches),
/// one rule per persistent fault kind, the transient-fault slots, then the computed answer.
fn rules<I, O, E>(lab: &Arc<Lab>, op: Op, mk: fn() -> RuleBuilder<I, O, E>, apply: fn(&mut World, &I) -> O) -> Vec<Rule>
where
    I: fmt::Debug + Clone + Send + Sync + 'static,
    O: fmt::Debug + Send + Sync + 'static,
    E: fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    let mut rules = Vec::new();
    let l = lab.clone();
    rules.push(
        mk().match_requests(move |req| {
            if l.decide(op) {
                l.with_world(|w| apply(w, req));
            }
            false
        })
        .then_output(|| -> O { unreachable!("the deciding rule never matches") }),
    );
    for kind in [Kind::Throttle, Kind::ServerError, Kind::Unavailable, Kind::Conflict] {
        if !kind.applies_to(op) {
            continue;
        }
        let l = lab.clone();
        let (status, body) = kind.response(op);
        rules.push(
            mk().match_requests(move |_| l.route(op) == Route::Persistent(kind))
                .sequence()
                .http_status(status, body.map(str::to_string))
                .repeatedly()
                .build(),
        );
    }
    for slot in 0..SLOTS {
        let stash: Arc<Mutex<Option<I>>> = Arc::default();
        let (l1, l2, l3, s1) = (lab.clone(), lab.clone(), lab.clone(), stash.clone());
        rules.push(
            mk().match_requests(move |req| {
                let mine = l1.route(op) == Route::Slot(slot);
                if mine {
                    *s1.lock().unwrap() = Some(req.clone());
                }
                mine
            })
            .sequence()
            .http_response(move || l2.slot_response(op, slot))
            .times(1 + slot % 2)
            // A retry's input is not given to the rule: the matcher kept it.
            .output(move || {
                let req = stash.lock().unwrap().clone().expect("kept by the matcher");
                l3.with_world(|w| apply(w, &req))
            })
            .build(),
        );
    }
    let l = lab.clone();
    rules.push(mk().then_compute_output(move |req| l.with_world(|w| apply(w, req))));
    rules
}

fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder().operation_timeout(OPERATION_TIMEOUT).build()
}

/// Clients for one run (retry partitions of their own).
fn sdk(lab: &Arc<Lab>, time: &Arc<VirtualTime>, partition: &str) -> Sdk {
    sdk_with(lab, time, partition, timeouts())
}

fn sdk_with(
    lab: &Arc<Lab>,
    time: &Arc<VirtualTime>,
    partition: &str,
    timeouts: aws_config::timeout::TimeoutConfig,
) -> Sdk {
    let sleep = FaultSleep(lab.clone(), time.clone());
    let ecs_rules = [
        rules(
            lab,
            Op::DescribeServices,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::describe_services) },
            describe_services,
        ),
        rules(lab, Op::TagResource, || -> RuleBuilder<_, _, _> { mock!(ecs::Client::tag_resource) }, tag_resource),
        rules(
            lab,
            Op::UpdateService,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::update_service) },
            update_service,
        ),
        rules(
            lab,
            Op::UntagResource,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::untag_resource) },
            untag_resource,
        ),
        rules(lab, Op::ListTasks, || -> RuleBuilder<_, _, _> { mock!(ecs::Client::list_tasks) }, list_tasks),
        rules(
            lab,
            Op::DescribeTasks,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::describe_tasks) },
            describe_tasks,
        ),
    ]
    .concat();
    let aas_rules = [
        rules(
            lab,
            Op::DescribeScalableTargets,
            || -> RuleBuilder<_, _, _> { mock!(aas::Client::describe_scalable_targets) },
            describe_scalable_targets,
        ),
        rules(
            lab,
            Op::RegisterScalableTarget,
            || -> RuleBuilder<_, _, _> { mock!(aas::Client::register_scalable_target) },
            register_scalable_target,
        ),
    ]
    .concat();
    let elb_rules = [
        rules(
            lab,
            Op::DescribeTargetGroups,
            || -> RuleBuilder<_, _, _> { mock!(elb::Client::describe_target_groups) },
            describe_target_groups,
        ),
        rules(
            lab,
            Op::DescribeTargetHealth,
            || -> RuleBuilder<_, _, _> { mock!(elb::Client::describe_target_health) },
            describe_target_health,
        ),
        rules(
            lab,
            Op::RegisterTargets,
            || -> RuleBuilder<_, _, _> { mock!(elb::Client::register_targets) },
            register_targets,
        ),
    ]
    .concat();
    let (s1, s2, s3) = (sleep.clone(), sleep.clone(), sleep);
    let (t1, t2, t3) = (time.clone(), time.clone(), time.clone());
    let (o1, o2, o3) = (timeouts.clone(), timeouts.clone(), timeouts);
    let (p1, p2, p3) = (format!("{partition}-ecs"), format!("{partition}-aas"), format!("{partition}-elb"));
    Sdk {
        ecs: mock_client!(ecs, RuleMode::MatchAny, &ecs_rules, move |c| c
            .retry_config(retry_config())
            .time_source(VirtualClock(t1.clone()))
            .sleep_impl(s1.clone())
            .timeout_config(o1.clone())
            .identity_cache(ecs::config::IdentityCache::no_cache())
            .stalled_stream_protection(ecs::config::StalledStreamProtectionConfig::disabled())
            .retry_partition(ecs::config::retry::RetryPartition::new(p1.clone()))),
        scaling: mock_client!(aas, RuleMode::MatchAny, &aas_rules, move |c| retry_concurrent_updates(
            c.retry_config(retry_config())
                .time_source(VirtualClock(t2.clone()))
                .sleep_impl(s2.clone())
                .timeout_config(o2.clone())
                .identity_cache(aas::config::IdentityCache::no_cache())
                .stalled_stream_protection(aas::config::StalledStreamProtectionConfig::disabled())
                .retry_partition(aas::config::retry::RetryPartition::new(p2.clone()))
        )),
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, Vec::<&Rule>::new()),
        elb: mock_client!(elb, RuleMode::MatchAny, &elb_rules, move |c| c
            .retry_config(retry_config())
            .time_source(VirtualClock(t3.clone()))
            .sleep_impl(s3.clone())
            .timeout_config(o3.clone())
            .identity_cache(elb::config::IdentityCache::no_cache())
            .stalled_stream_protection(elb::config::StalledStreamProtectionConfig::disabled())
            .retry_partition(elb::config::retry::RetryPartition::new(p3.clone()))),
        scheduler: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, Vec::<&Rule>::new()),
        // The tag store: these runs have no state table.
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, Vec::<&Rule>::new()),
        pace: Default::default(),
        spokes: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The throttling world
// ---------------------------------------------------------------------------------------------
//
// AWS throttles every attempt, not every operation: each one takes a token from its API
// group's bucket (and ELB's account-wide one) or is answered with a throttle. The mock's rules
// choose an answer once per operation (retries replay the chosen rule), so here the rule only
// opens the call (the fault plan's decision, once per operation as above) and the [`Answers`]
// interceptor answers each attempt when it is made, on virtual time: a throttle in the
// service's own shape while the bucket is empty, else the injected fault, else the world's
// answer. A successful attempt is an empty 200 that the SDK parses into the operation's output,
// which the interceptor then fills with what the world computed at that attempt, so a write
// reaches the world only through an attempt that got a token.

/// AWS's side of the throttling world.
struct Throttling {
    time: Arc<VirtualTime>,
    buckets: Buckets,
    calls: HashMap<u64, Call>,
    next: u64,
    /// The call the rule has just opened, for the interceptor to take on in the same hook.
    opened: Option<u64>,
    /// The operations of the throttles answered since [`Lab::take_throttles`].
    throttles: Vec<Op>,
}

/// The world's answer to a call: its output, computed from (and applied to) the world.
type Answer = Box<dyn Fn(&mut World) -> Box<dyn Any + Send> + Send>;

/// One operation being answered.
struct Call {
    op: Op,
    /// The injected fault's answer, and how many attempts still get it (None: every one).
    fault: Option<(Kind, Option<usize>)>,
    /// The world's answer to a successful attempt.
    answer: Answer,
    /// The answer of the attempt under way, once it has succeeded.
    output: Option<Box<dyn Any + Send>>,
    /// An injected timeout: the next backoff sleep is stretched past the operation timeout.
    stretches: bool,
}

/// A throttle as each service sends it: HTTP 400, `ThrottlingException` in ECS's and
/// Application Auto Scaling's JSON, `Throttling` in ELB's XML.
fn throttle(api: Api) -> (u16, &'static str) {
    match api {
        Api::Ecs | Api::Aas => (400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
        Api::Elb => (
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>\
             </Error></ErrorResponse>",
        ),
    }
}

impl Lab {
    /// A new operation of `op` (the rule's matcher, once per operation): the fault plan decides
    /// and the call is opened for the interceptor.
    fn open_call<I, O>(&self, op: Op, req: &I, apply: fn(&mut World, &I) -> O)
    where
        I: Clone + Send + 'static,
        O: Send + 'static,
    {
        if self.decide(op) {
            self.with_world(|w| apply(w, req));
        }
        let fault = {
            let s = self.state.lock().unwrap();
            match s.route.get(&op).copied().unwrap_or(Route::Ok) {
                Route::Ok => None,
                Route::Persistent(kind) => Some((kind, None)),
                Route::Slot(slot) => Some((s.slots[&op][slot].1, Some(1 + slot % 2))),
            }
        };
        let stretches = fault == Some((Kind::Unavailable, None)) && self.stretch_next_sleep.load(Ordering::SeqCst);
        let req = req.clone();
        let answer = Box::new(move |w: &mut World| Box::new(apply(w, &req)) as Box<dyn Any + Send>);
        let mut t = self.throttling.as_ref().expect("a throttling lab").lock().unwrap();
        let id = t.next;
        t.next += 1;
        t.calls.insert(id, Call { op, fault, answer, output: None, stretches });
        assert!(t.opened.replace(id).is_none(), "a call was opened that no interceptor took on");
    }

    /// Answer one attempt of call `id` now: (HTTP status, body).
    fn attempt(&self, id: u64) -> (u16, String) {
        let mut guard = self.throttling.as_ref().expect("a throttling lab").lock().unwrap();
        let t = &mut *guard;
        let now = t.time.now().as_secs_f64();
        let call = t.calls.get_mut(&id).expect("an open call");
        let groups = Group::all_of(&call.op.to_string());
        assert!(!groups.is_empty(), "{} draws from no bucket", call.op);
        if groups.iter().any(|g| t.buckets.get(*g).tokens(now) < 1.0) {
            t.throttles.push(call.op);
            let (status, body) = throttle(call.op.service());
            return (status, body.to_string());
        }
        for g in groups {
            assert!(t.buckets.get(g).try_take(now));
        }
        if let Some((kind, left)) = &mut call.fault
            && left.is_none_or(|n| n > 0)
        {
            if let Some(n) = left {
                *n -= 1;
            }
            let (status, body) = kind.response(call.op);
            return (status, body.unwrap_or_default().to_string());
        }
        call.output = Some(self.with_world(|w| (call.answer)(w)));
        let body = match call.op.service() {
            Api::Ecs | Api::Aas => "{}".to_string(),
            Api::Elb => format!("<{op}Response><{op}Result/></{op}Response>", op = call.op),
        };
        (200, body)
    }
}

/// The call an operation is, in its config bag.
#[derive(Debug, Clone)]
struct CallId(u64);

impl Storable for CallId {
    type Storer = StoreReplace<CallId>;
}

/// Answers the throttling world's attempts (see the section's comment). Added to each client
/// after the mock's interceptor, so that its hooks run after the mock's.
#[derive(Clone)]
struct Answers(Arc<Lab>);

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Answers")
    }
}

/// Put the world's answer into the operation's output, whichever of these types it is.
macro_rules! put_output {
    ($output:expr, $value:expr, $($t:ty),+ $(,)?) => {{
        let mut value = Some($value);
        $(
            if let Some(slot) = $output.downcast_mut::<$t>() {
                *slot = *value.take().unwrap().downcast::<$t>().expect("the world answers with the operation's output");
            }
        )+
        assert!(value.is_none(), "an operation whose output put_output! does not know");
    }};
}

impl Intercept for Answers {
    fn name(&self) -> &'static str {
        "Answers"
    }

    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let opened = self.0.throttling.as_ref().unwrap().lock().unwrap().opened.take();
        cfg.interceptor_state().store_put(CallId(opened.expect("the mock's rule opened the call")));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let id = cfg.load::<CallId>().expect("an opened call").0;
        let (status, body) = self.0.attempt(id);
        *context.response_mut() = ecs::config::http::HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(id) = cfg.load::<CallId>().map(|c| c.0) else { return Ok(()) };
        let value =
            self.0.throttling.as_ref().unwrap().lock().unwrap().calls.get_mut(&id).and_then(|c| c.output.take());
        let Some(value) = value else { return Ok(()) };
        let Some(Ok(output)) = context.output_or_error_mut() else {
            panic!("the SDK did not parse the empty 200 of call {id}: {:?}", context.output_or_error());
        };
        put_output!(
            output,
            value,
            ecs::operation::describe_services::DescribeServicesOutput,
            ecs::operation::tag_resource::TagResourceOutput,
            ecs::operation::update_service::UpdateServiceOutput,
            ecs::operation::untag_resource::UntagResourceOutput,
            ecs::operation::list_tasks::ListTasksOutput,
            ecs::operation::describe_tasks::DescribeTasksOutput,
            aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput,
            aas::operation::register_scalable_target::RegisterScalableTargetOutput,
            elb::operation::describe_target_groups::DescribeTargetGroupsOutput,
            elb::operation::describe_target_health::DescribeTargetHealthOutput,
            elb::operation::register_targets::RegisterTargetsOutput,
        );
        Ok(())
    }

    fn read_after_execution(
        &self,
        _: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(CallId(id)) = cfg.load::<CallId>() else { return Ok(()) };
        let call = self.0.throttling.as_ref().unwrap().lock().unwrap().calls.remove(id);
        // An injected timeout whose call ended here was not retried (no retry quota left): the
        // backoff sleep it was to stretch never came, and no other may be stretched instead. (A
        // stretched one ends with the operation timeout, which drops the call before this hook.)
        if call.is_some_and(|c| c.stretches) {
            self.0.stretch_next_sleep.store(false, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The throttling world's rule for `op`: every operation is opened, every attempt gets the
/// placeholder the interceptor replaces.
fn opening<I, O, E>(lab: &Arc<Lab>, op: Op, mk: fn() -> RuleBuilder<I, O, E>, apply: fn(&mut World, &I) -> O) -> Rule
where
    I: fmt::Debug + Clone + Send + Sync + 'static,
    O: fmt::Debug + Send + Sync + 'static,
    E: fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    let l = lab.clone();
    mk().match_requests(move |req| {
        l.open_call(op, req, apply);
        true
    })
    .then_http_response(|| ecs::config::http::HttpResponse::new(200.try_into().unwrap(), SdkBody::empty()))
}

/// Clients for one run in the throttling world: paced by `believed` on the SDK's own virtual
/// clock and sleep, every throttled answer counted, and AWS answering each attempt.
fn throttled_sdk(lab: &Arc<Lab>, time: &Arc<VirtualTime>, partition: &str, believed: &Limits) -> Sdk {
    let sleep = SharedAsyncSleep::new(FaultSleep(lab.clone(), time.clone()));
    let clock = SharedTimeSource::new(VirtualClock(time.clone()));
    let pace = Pace::new(believed.clone(), sleep.clone(), clock.clone());
    let counter = pace.counter();
    let ecs_rules = [
        opening(
            lab,
            Op::DescribeServices,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::describe_services) },
            describe_services,
        ),
        opening(lab, Op::TagResource, || -> RuleBuilder<_, _, _> { mock!(ecs::Client::tag_resource) }, tag_resource),
        opening(
            lab,
            Op::UpdateService,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::update_service) },
            update_service,
        ),
        opening(
            lab,
            Op::UntagResource,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::untag_resource) },
            untag_resource,
        ),
        opening(lab, Op::ListTasks, || -> RuleBuilder<_, _, _> { mock!(ecs::Client::list_tasks) }, list_tasks),
        opening(
            lab,
            Op::DescribeTasks,
            || -> RuleBuilder<_, _, _> { mock!(ecs::Client::describe_tasks) },
            describe_tasks,
        ),
    ];
    let aas_rules = [
        opening(
            lab,
            Op::DescribeScalableTargets,
            || -> RuleBuilder<_, _, _> { mock!(aas::Client::describe_scalable_targets) },
            describe_scalable_targets,
        ),
        opening(
            lab,
            Op::RegisterScalableTarget,
            || -> RuleBuilder<_, _, _> { mock!(aas::Client::register_scalable_target) },
            register_scalable_target,
        ),
    ];
    let elb_rules = [
        opening(
            lab,
            Op::DescribeTargetGroups,
            || -> RuleBuilder<_, _, _> { mock!(elb::Client::describe_target_groups) },
            describe_target_groups,
        ),
        opening(
            lab,
            Op::DescribeTargetHealth,
            || -> RuleBuilder<_, _, _> { mock!(elb::Client::describe_target_health) },
            describe_target_health,
        ),
        opening(
            lab,
            Op::RegisterTargets,
            || -> RuleBuilder<_, _, _> { mock!(elb::Client::register_targets) },
            register_targets,
        ),
    ];
    let answers = Answers(lab.clone());
    let (s1, s2, s3) = (sleep.clone(), sleep.clone(), sleep);
    let (t1, t2, t3) = (clock.clone(), clock.clone(), clock);
    let (c1, c2, c3) = (counter.clone(), counter.clone(), counter);
    let (a1, a2, a3) = (answers.clone(), answers.clone(), answers);
    let (p1, p2, p3) = (format!("{partition}-ecs"), format!("{partition}-aas"), format!("{partition}-elb"));
    Sdk {
        ecs: mock_client!(ecs, RuleMode::MatchAny, &ecs_rules, move |c| c
            .retry_config(retry_config())
            .time_source(t1.clone())
            .sleep_impl(s1.clone())
            .timeout_config(timeouts())
            .identity_cache(ecs::config::IdentityCache::no_cache())
            .stalled_stream_protection(ecs::config::StalledStreamProtectionConfig::disabled())
            .retry_partition(ecs::config::retry::RetryPartition::new(p1.clone()))
            .interceptor(c1.clone())
            .interceptor(a1.clone())),
        scaling: mock_client!(aas, RuleMode::MatchAny, &aas_rules, move |c| retry_concurrent_updates(
            c.retry_config(retry_config())
                .time_source(t2.clone())
                .sleep_impl(s2.clone())
                .timeout_config(timeouts())
                .identity_cache(aas::config::IdentityCache::no_cache())
                .stalled_stream_protection(aas::config::StalledStreamProtectionConfig::disabled())
                .retry_partition(aas::config::retry::RetryPartition::new(p2.clone()))
                .interceptor(c2.clone())
                .interceptor(a2.clone())
        )),
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, Vec::<&Rule>::new()),
        elb: mock_client!(elb, RuleMode::MatchAny, &elb_rules, move |c| c
            .retry_config(retry_config())
            .time_source(t3.clone())
            .sleep_impl(s3.clone())
            .timeout_config(timeouts())
            .identity_cache(elb::config::IdentityCache::no_cache())
            .stalled_stream_protection(elb::config::StalledStreamProtectionConfig::disabled())
            .retry_partition(elb::config::retry::RetryPartition::new(p3.clone()))
            .interceptor(c3.clone())
            .interceptor(a3.clone())),
        scheduler: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, Vec::<&Rule>::new()),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, Vec::<&Rule>::new()),
        pace,
        spokes: None,
    }
}

fn schedule() -> Schedule {
    let yaml = format!(
        "environments:
  env:
    services:
      - {{ cluster: c, service: api }}
      - {{ cluster: c, service: web }}
      - {{ cluster: c, service: worker }}
      - cluster: d
        service: batch
        target_groups: [{{ arn: '{TG_EXTRA}', container: app, port: 7070 }}]
"
    );
    Schedule::parse(&yaml, "faults.yaml").unwrap()
}

async fn invoke(sdk: &Sdk, schedule: &Schedule, action: &str) -> Report {
    invoke_within(sdk, schedule, action, Duration::from_secs(10)).await
}

/// An invocation that must return within `time` (on virtual time, as the clients' clock runs).
async fn invoke_within(sdk: &Sdk, schedule: &Schedule, action: &str, time: Duration) -> Report {
    let settings = Settings {
        concurrency: 8,
        poll_interval: Duration::from_millis(10),
        safety_margin: Duration::ZERO,
        ..Settings::default()
    };
    let deadline = tokio::time::Instant::now() + time;
    let ctx = Context::new(sdk, schedule, &settings);
    handle(&ctx, json!({"action": action, "environment": "env"}), chrono::Utc::now(), deadline)
        .await
        .expect("a valid payload is never refused")
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// Every violation of the properties after one invocation, as text naming the service.
fn violations(world: &World, report: &Report, action: &str, injected: &[Fault]) -> Vec<String> {
    let mut found = Vec::new();
    let mut any_failed = false;
    for (i, s) in world.services.iter().enumerate() {
        let name = format!("{}/{}", s.cluster, s.name);
        let snapshot = s.tags.get(SNAPSHOT_TAG);
        let original = s.original.encode();
        if snapshot.is_some_and(|v| *v != original) {
            found.push(format!("{name}: snapshot overwritten: {snapshot:?}, original {original}"));
        }
        if s.now != s.original && snapshot.is_none() {
            found.push(format!("{name}: snapshot lost: now {:?}, original {original}", s.now));
        }
        let Some(r) = report.services.iter().find(|r| r.cluster == s.cluster && r.service == s.name) else {
            found.push(format!("{name}: not in the report"));
            continue;
        };
        if r.outcome == Outcome::Failed {
            any_failed = true;
            let error = r.error.as_deref().unwrap_or("");
            if !injected.iter().any(|f| f.named_in(error)) {
                found.push(format!("{name}: failed, but its error names no injected fault: {error:?}"));
            }
            continue;
        }
        match action {
            "stop" => {
                // Min/max 0 and no scaling left that could raise them.
                let stopped = s.now.desired == 0 && s.now.capacity.is_none_or(|c| c == (0, 0) && s.suspended);
                if !stopped || snapshot != Some(&original) {
                    found.push(format!(
                        "{name}: reported {} but not stopped: now {:?}, snapshot {snapshot:?}",
                        r.outcome, s.now
                    ));
                }
            }
            _ => {
                if s.now != s.original || snapshot.is_some() || s.suspended {
                    found.push(format!(
                        "{name}: reported {} but not restored: now {:?}, snapshot {snapshot:?}",
                        r.outcome, s.now
                    ));
                }
                for (tg, port) in s.target_groups() {
                    for t in 0..s.now.desired {
                        if !world.registered[tg].contains(&(task_ip(i, t), port)) {
                            found.push(format!("{name}: reported {} but task {t} is not in {tg}", r.outcome));
                        }
                    }
                }
            }
        }
    }
    if report.error().is_some() != any_failed {
        found.push(format!("report.error() is {:?} while a service failed: {any_failed}", report.error()));
    }
    found
}

#[derive(Default)]
struct Tally {
    invocations: usize,
    faulty_invocations: usize,
    injected: BTreeMap<(Op, Kind), usize>,
    transient: usize,
    applied: usize,
    timeouts_fired: usize,
    failed_services: usize,
    /// `cluster/service: error` of every failed service.
    failures: Vec<String>,
    /// The throttling world: throttles its buckets answered, throttled answers the reports
    /// counted (the injected throttles too), and the longest invocation (virtual time).
    throttles_answered: usize,
    /// Of those, the ones in invocations without injected faults, by operation.
    clean_throttles: BTreeMap<Op, usize>,
    throttled_reported: u64,
    longest: Duration,
    violations: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.invocations += other.invocations;
        self.faulty_invocations += other.faulty_invocations;
        for (k, n) in other.injected {
            *self.injected.entry(k).or_default() += n;
        }
        self.transient += other.transient;
        self.applied += other.applied;
        self.timeouts_fired += other.timeouts_fired;
        self.failed_services += other.failed_services;
        self.failures.extend(other.failures);
        self.throttles_answered += other.throttles_answered;
        for (op, n) in other.clean_throttles {
            *self.clean_throttles.entry(op).or_default() += n;
        }
        self.throttled_reported += other.throttled_reported;
        self.longest = self.longest.max(other.longest);
        self.violations.extend(other.violations);
    }
}

/// The AWS a sequence runs against.
#[derive(Debug, Clone)]
enum Rates {
    /// Only the injected faults fail a call.
    Unlimited,
    /// AWS also throttles by `aws`; the function paces itself by what it `believes`.
    Throttled { aws: Box<Limits>, believed: Box<Limits> },
}

/// How long an invocation may take in the throttling world: Lambda's longest. The buckets are
/// small, and what the property needs is that time is not what fails a service.
const THROTTLED_DEADLINE: Duration = Duration::from_secs(900);
/// The rest before each invocation in the throttling world: every bucket is full again.
const BETWEEN_INVOCATIONS: Duration = Duration::from_secs(60);

/// stop (faulty) -> stop (faulty) -> stop -> start (faulty) -> start (faulty) -> start, on one
/// world; the properties after each.
async fn run_sequence(time: Arc<VirtualTime>, seed: u64, faulty: Mode, rates: Rates) -> Tally {
    let mut tally = Tally::default();
    let schedule = schedule();
    let (lab, sdk, deadline) = match &rates {
        Rates::Unlimited => {
            let lab = Lab::new(seed);
            let sdk = sdk(&lab, &time, &format!("faults-{seed}-{faulty:?}"));
            (lab, sdk, Duration::from_secs(10))
        }
        Rates::Throttled { aws, believed } => {
            let lab = Lab::throttling(seed, aws, &time);
            let sdk = throttled_sdk(&lab, &time, &format!("throttled-{seed}-{faulty:?}"), believed);
            (lab, sdk, THROTTLED_DEADLINE)
        }
    };
    let steps = [
        ("stop", faulty),
        ("stop", faulty),
        ("stop", Mode::Off),
        ("start", faulty),
        ("start", faulty),
        ("start", Mode::Off),
    ];
    for (n, (action, mode)) in steps.into_iter().enumerate() {
        if let Rates::Throttled { .. } = rates {
            VirtualSleep::new(&time, BETWEEN_INVOCATIONS).await;
        }
        lab.begin(mode);
        lab.take_throttles();
        let started = time.now();
        let report = invoke_within(&sdk, &schedule, action, deadline).await;
        tally.longest = tally.longest.max(time.now() - started);
        let injected = lab.take_injected();
        let throttles = lab.take_throttles();
        let world = lab.with_world(|w| w.clone());
        tally.invocations += 1;
        if !matches!(mode, Mode::Off) {
            tally.faulty_invocations += 1;
        } else if report.error().is_some() {
            tally.violations.push(format!("seed {seed} step {n} ({action}, no faults): {report}"));
        }
        for f in &injected {
            *tally.injected.entry((f.op, f.kind)).or_default() += 1;
            tally.transient += usize::from(matches!(f.lasting, Lasting::Transient(_)));
            tally.applied += usize::from(f.applied);
        }
        tally.failed_services += report.failed();
        for r in report.services.iter().filter(|r| r.outcome == Outcome::Failed) {
            tally.failures.push(format!("{}/{}: {}", r.cluster, r.service, r.error.as_deref().unwrap_or("")));
        }
        let mut found = violations(&world, &report, action, &injected);
        if let Rates::Throttled { .. } = rates {
            found.extend(throttling_violations(&report, throttles.len(), &injected));
            tally.throttles_answered += throttles.len();
            if matches!(mode, Mode::Off) {
                for op in &throttles {
                    *tally.clean_throttles.entry(*op).or_default() += 1;
                }
            }
            tally.throttled_reported += report.throttled;
        }
        for v in found {
            tally.violations.push(format!("seed {seed} step {n} ({action}, {mode:?}, injected {injected:?}): {v}"));
        }
    }
    tally.timeouts_fired = lab.timeouts_fired.load(Ordering::SeqCst);
    tally
}

/// What the throttling world adds to the properties: its throttles fail no service (the SDK's
/// retries, then the function's own, outlast them while the deadline allows), none is handed
/// on, and the report counts every throttle the buckets answered. A service may still fail on an
/// injected persistent throttle (every attempt of one operation throttled) of a call made
/// before the run begins, which nothing retries: the buckets' throttles carry the same message,
/// so this cannot tell them apart on the same operation (see `tight` for why the buckets of
/// those calls do not run dry).
fn throttling_violations(report: &Report, throttles: usize, injected: &[Fault]) -> Vec<String> {
    let mut found = Vec::new();
    for s in &report.services {
        let error = s.error.as_deref().unwrap_or("");
        let throttled = error.contains("Throttling") || error.contains("has no token for it before the deadline");
        let injected_throttle = injected.iter().any(|f| f.kind == Kind::Throttle && f.named_in(error));
        if s.outcome == Outcome::Failed && throttled && !injected_throttle {
            found.push(format!("{}/{}: failed on the buckets' throttling: {error}", s.cluster, s.service));
        }
    }
    if let Some(h) = &report.handed_on {
        found.push(format!("services handed on: {}", h.to));
    }
    if report.throttled < throttles as u64 {
        found.push(format!(
            "the report counts {} throttled answers; the buckets answered {throttles}",
            report.throttled
        ));
    }
    found
}

/// Run sequences side by side on virtual time (one thread, one task).
fn run_all(cases: Vec<(u64, Mode)>) -> Vec<((u64, Mode), Tally)> {
    run_all_in(cases, &Rates::Unlimited)
}

fn run_all_in(cases: Vec<(u64, Mode)>, rates: &Rates) -> Vec<((u64, Mode), Tally)> {
    let time = Arc::new(VirtualTime::default());
    let runs = futures_util::stream::iter(cases.into_iter().map(|case| {
        let (time, rates) = (time.clone(), rates.clone());
        async move { (case, run_sequence(time, case.0, case.1, rates).await) }
    }))
    .buffered(SIDE_BY_SIDE)
    .collect();
    run_virtual(&time, runs)
}

/// Sequences run at once.
const SIDE_BY_SIDE: usize = 25;

fn print_tally(title: &str, tally: &Tally, elapsed: Duration) {
    println!(
        "{title}: {} invocations ({} with faults) in {:.1} s; {} faults injected ({} transient, {} applied writes, \
         {} timeouts fired), {} services failed",
        tally.invocations,
        tally.faulty_invocations,
        elapsed.as_secs_f64(),
        tally.injected.values().sum::<usize>(),
        tally.transient,
        tally.applied,
        tally.timeouts_fired,
        tally.failed_services
    );
    for op in Op::ALL {
        let row: Vec<String> = Kind::ALL
            .iter()
            .filter(|k| k.applies_to(op))
            .map(|k| format!("{k:?} {}", tally.injected.get(&(op, *k)).copied().unwrap_or(0)))
            .collect();
        println!("  {op:<24} {}", row.join(", "));
    }
    if tally.throttles_answered > 0 || tally.throttled_reported > 0 {
        println!(
            "  throttling: the buckets answered {} throttles ({} in invocations without faults: {:?}), the \
             reports counted {} throttled answers; longest invocation {:.0} s of virtual time",
            tally.throttles_answered,
            tally.clean_throttles.values().sum::<usize>(),
            tally.clean_throttles,
            tally.throttled_reported,
            tally.longest.as_secs_f64()
        );
    }
}

fn assert_no_violations(tally: &Tally) {
    assert!(
        tally.violations.is_empty(),
        "{} violations, first ones:\n{}",
        tally.violations.len(),
        tally.violations.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Seeded random faults at random calls: 60 sequences by default (200 in the figures of the
/// README, `ECS_COST_SAVER_FAULT_RUNS=200`), each with 2 faulty stops and 2 faulty
/// starts, at four fault rates.
#[test]
fn random_faults_never_lose_a_snapshot_and_every_failure_is_reported() {
    let started = std::time::Instant::now();
    let cases = (0..runs()).map(|seed| (seed, Mode::Random([0.05, 0.1, 0.2, 0.4][(seed % 4) as usize]))).collect();
    let mut tally = Tally::default();
    for (_, t) in run_all(cases) {
        tally.add(t);
    }
    print_tally("random faults", &tally, started.elapsed());
    assert_no_violations(&tally);
    for op in Op::ALL {
        for kind in Kind::ALL.into_iter().filter(|k| k.applies_to(op)) {
            assert!(tally.injected.contains_key(&(op, kind)), "{op} never got {kind:?}");
        }
    }
}

/// Every operation, every way it can fail, on its first call in each invocation; with exact
/// expectations: a persistent fault fails a service, a transient one fails none (the SDK
/// retries throttling, 500 and 503; our classifier adds Application Auto Scaling's conflict).
#[test]
fn each_call_fails_each_way() {
    let started = std::time::Instant::now();
    let mut cases = Vec::new();
    for op in Op::ALL {
        for kind in Kind::ALL.into_iter().filter(|k| k.applies_to(op)) {
            let lastings: &[Lasting] = if kind == Kind::Timeout {
                &[Lasting::Persistent]
            } else {
                &[Lasting::Persistent, Lasting::Transient(1)]
            };
            for &lasting in lastings {
                for applied in [false, true] {
                    if !applied || op.mutating() {
                        let seed = cases.len() as u64;
                        cases.push((seed, Mode::Targeted(Fault { op, kind, lasting, applied })));
                    }
                }
            }
        }
    }
    let count = cases.len();
    let mut tally = Tally::default();
    for ((_, mode), t) in run_all(cases) {
        let Mode::Targeted(fault) = mode else { unreachable!() };
        let injected: usize = t.injected.values().sum();
        let expected = match fault.lasting {
            _ if injected == 0 => Some("the fault was never injected"),
            Lasting::Persistent if t.failed_services == 0 => Some("no service failed"),
            Lasting::Transient(_) if t.failed_services > 0 => Some("the retries did not absorb it"),
            _ => None,
        };
        if let Some(why) = expected {
            tally.violations.push(format!("{fault:?}: {why} ({} services failed)", t.failed_services));
        }
        tally.add(t);
    }
    print_tally(&format!("targeted faults ({count} cases)"), &tally, started.elapsed());
    assert_no_violations(&tally);
}

/// AWS's buckets at 5 % of its figures, small enough that every run is throttled: ECS service
/// modify 2.5 / 0.25 per second, tag modify 1 / 0.5, cluster read 5 / 1, ELB registration 1 /
/// 0.2, ELB describe and the account 2 / 0.5. Except the two groups of the reads made before
/// the run begins (DescribeServices, DescribeScalableTargets): those are not paced, not retried
/// after the SDK's attempts and not counted in the report (`dispatch::environment` observes
/// before `run` calls `begin_run`; `tests/mocks.rs` has the reproducer), so here their buckets
/// hold what those reads take, retries of a faulty one included, and the runs rest a minute
/// between invocations (as Lambda's retries of an asynchronous invocation do) so that every
/// invocation starts with full buckets.
fn tight() -> Limits {
    let mut limits = Limits::parse("share=0.05").unwrap();
    limits.set(Group::EcsServiceRead, Limit { burst: 12.0, refill: 1.0 });
    limits.set(Group::Scaling, Limit { burst: 8.0, refill: 0.25 });
    limits
}

/// `limits` with every bucket `factor` times as large and as fast.
fn scaled(limits: &Limits, factor: f64) -> Limits {
    let mut scaled = limits.clone();
    for g in Group::ALL {
        let l = limits.get(g);
        scaled.set(g, Limit { burst: l.burst * factor, refill: l.refill * factor });
    }
    scaled
}

/// The worlds the throttling tests run in: the function paced by the buckets' true figures (the
/// throttles left are those of retries, which draw tokens the pacing did not reserve), and by
/// figures four times too high (another tool draws from the same buckets).
fn throttling_worlds() -> [(&'static str, Rates); 2] {
    [
        ("paced by the true figures", Rates::Throttled { aws: Box::new(tight()), believed: Box::new(tight()) }),
        (
            "paced by figures 4 times too high",
            Rates::Throttled { aws: Box::new(tight()), believed: Box::new(scaled(&tight(), 4.0)) },
        ),
    ]
}

/// The seeded random faults again, in a world whose AWS also throttles each attempt by its
/// API group's token bucket (on virtual time, as AWS does): the same properties, and its
/// throttles fail no service and are all in the report.
#[test]
fn random_faults_in_a_throttling_world_keep_the_properties_and_throttles_fail_nothing() {
    // Which faults landed where, over both worlds: the sequences run side by side on one
    // virtual clock, so the calls a seed's faults fall on vary from run to run, and a rare call
    // (one DescribeTargetGroups per start) can miss a kind in one world's 60 sequences.
    let mut covered = std::collections::BTreeSet::new();
    for (name, rates) in throttling_worlds() {
        let started = std::time::Instant::now();
        let cases = (0..runs()).map(|seed| (seed, Mode::Random([0.05, 0.1, 0.2, 0.4][(seed % 4) as usize]))).collect();
        let mut tally = Tally::default();
        for (_, t) in run_all_in(cases, &rates) {
            tally.add(t);
        }
        print_tally(&format!("random faults, throttled, {name}"), &tally, started.elapsed());
        assert_no_violations(&tally);
        assert!(tally.throttles_answered > 0, "the buckets never throttled");
        covered.extend(tally.injected.keys().copied());
    }
    for op in Op::ALL {
        for kind in Kind::ALL.into_iter().filter(|k| k.applies_to(op)) {
            assert!(covered.contains(&(op, kind)), "{op} never got {kind:?} in either world");
        }
    }
}

/// Every targeted fault in the throttling world, with the properties; whether a service fails
/// is not as exact here: a persistent fault need not fail one (a throttle on the SDK's last
/// attempt hands the call to the function's own tries, new operations the fault is not part
/// of), and a transient one may (when throttles took the SDK's other attempts, its 5xx is the
/// last answer, and the function tries again only after throttles: the reproducer in
/// `tests/mocks.rs`). How many transient faults failed a service is printed.
#[test]
fn each_call_fails_each_way_in_a_throttling_world() {
    let started = std::time::Instant::now();
    let (name, rates) = throttling_worlds()[1].clone();
    let mut cases = Vec::new();
    for op in Op::ALL {
        for kind in Kind::ALL.into_iter().filter(|k| k.applies_to(op)) {
            let lastings: &[Lasting] = if kind == Kind::Timeout {
                &[Lasting::Persistent]
            } else {
                &[Lasting::Persistent, Lasting::Transient(1)]
            };
            for &lasting in lastings {
                for applied in [false, true] {
                    if !applied || op.mutating() {
                        let seed = cases.len() as u64;
                        cases.push((seed, Mode::Targeted(Fault { op, kind, lasting, applied })));
                    }
                }
            }
        }
    }
    let count = cases.len();
    let (mut tally, mut unabsorbed) = (Tally::default(), Vec::new());
    for ((_, mode), t) in run_all_in(cases, &rates) {
        let Mode::Targeted(fault) = mode else { unreachable!() };
        if t.injected.values().sum::<usize>() == 0 {
            tally.violations.push(format!("{fault:?}: the fault was never injected"));
        }
        if matches!(fault.lasting, Lasting::Transient(_)) && t.failed_services > 0 {
            unabsorbed.push(format!("{fault:?}: {:?}", t.failures));
        }
        tally.add(t);
    }
    print_tally(&format!("targeted faults, throttled, {name} ({count} cases)"), &tally, started.elapsed());
    println!("  transient faults that failed a service: {}", unabsorbed.len());
    for u in &unabsorbed {
        println!("    {u}");
    }
    assert_no_violations(&tally);
    assert!(tally.throttles_answered > 0, "the buckets never throttled");
}

/// Paced by the buckets' true figures, a sequence without faults (so without retries, which draw
/// tokens nothing reserved) is never throttled. (Every seed runs the same calls.)
#[test]
fn paced_by_the_true_figures_a_sequence_without_faults_is_never_throttled() {
    let (_, rates) = throttling_worlds()[0].clone();
    let mut tally = Tally::default();
    for (_, t) in run_all_in(vec![(0, Mode::Off)], &rates) {
        tally.add(t);
    }
    assert_no_violations(&tally);
    assert_eq!(tally.invocations, 6);
    assert!(tally.clean_throttles.is_empty(), "throttled: {:?}", tally.clean_throttles);
}

/// Reproducer, failing today: an ELB call paced by the true figures is throttled. `Pace`
/// takes the call's token of its own bucket when it reserves, but the call goes only when ELB's
/// account-wide bucket has a token too; AWS takes the token when the call arrives, and a full
/// bucket gains nothing while it waits, so the client's bucket then holds more than AWS's. Here
/// (5 % of the figures: registration 1 / 0.2 per s, account 2 / 0.5 per s) two
/// DescribeTargetHealth empty the account bucket, the first RegisterTargets goes at 2 s, the
/// second is let go at 5 s, when AWS's registration bucket holds 0.6 of a token.
#[test]
fn paced_elb_calls_are_not_throttled_by_the_figures_they_are_paced_by() {
    let time = Arc::new(VirtualTime::default());
    let limits = tight();
    let sleep = SharedAsyncSleep::new(FaultSleep(Lab::new(0), time.clone()));
    let pace = Pace::new(limits.clone(), sleep, SharedTimeSource::new(VirtualClock(time.clone())));
    let aws = Mutex::new(Buckets::full(&limits, 0.0));
    // AWS's answer at the time the call arrives: (operation, seconds, whether it had tokens).
    let call = |operation: &'static str| {
        let (pace, aws, time) = (&pace, &aws, &time);
        async move {
            pace.call(operation, || async {
                let now = time.now().as_secs_f64();
                let mut b = aws.lock().unwrap();
                let groups = Group::all_of(operation);
                let ok = groups.iter().all(|g| b.get(*g).tokens(now) >= 1.0);
                for g in groups.into_iter().filter(|_| ok) {
                    b.get(g).try_take(now);
                }
                Ok::<_, ecs_cost_saver::error::AwsError>((operation, now, ok))
            })
            .await
            .unwrap()
        }
    };
    pace.begin(Duration::from_secs(60));
    let answers = run_virtual(&time, async {
        let (a, b, c) =
            futures_util::join!(call("DescribeTargetHealth"), call("DescribeTargetHealth"), call("RegisterTargets"));
        vec![a, b, c, call("RegisterTargets").await]
    });
    assert!(answers.iter().all(|(.., ok)| *ok), "AWS throttled some: {answers:?}");
}

/// One call that never answers must not hold the whole invocation (the report would not be
/// logged before the Lambda timeout kills it, and the services behind it would not be handled):
/// with the production timeouts (`aws::timeout_config`), a stop whose UpdateService goes
/// unanswered (10 hours of virtual time) returns well within any Lambda deadline.
#[test]
fn an_unanswered_call_does_not_hold_the_invocation_past_its_deadline() {
    let time = Arc::new(VirtualTime::default());
    let lab = Lab::new(0);
    let fault = Fault { op: Op::UpdateService, kind: Kind::Timeout, lasting: Lasting::Persistent, applied: false };
    lab.begin(Mode::Targeted(fault));
    let sdk = sdk_with(&lab, &time, "unanswered", ecs_cost_saver::aws::timeout_config());
    let report = run_virtual(&time, invoke(&sdk, &schedule(), "stop"));
    let took = time.now();
    assert!(took <= Duration::from_secs(900), "the stop returned after {took:?} of virtual time:\n{report}");
}
