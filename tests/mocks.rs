//! Exact requests, pinned with aws-smithy-mocks: what moto cannot show (the `Port` of every
//! target, that a no-op makes no call, that throttling and Application Auto Scaling's
//! concurrent-update conflicts are retried with our retry policy, that a paced client outlasts a
//! burst of throttles while the deadline allows and gives up at the deadline).

use std::time::Duration;

use aws_sdk_applicationautoscaling as aas;
use aws_sdk_ecs as ecs;
use aws_sdk_elasticloadbalancingv2 as elb;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use ecs_cost_saver::aws::{Pace, Sdk, retry_concurrent_updates, retry_config};
use ecs_cost_saver::error::ErrorKind;
use ecs_cost_saver::pace::Limits;
use ecs_cost_saver::report::{Outcome, Report, TargetChange};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::json;

const ACCOUNT: &str = "arn:aws:ecs:ap-northeast-1:123456789012";
const TG_IP: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/ip/0123456789abcdef";
const TG_INSTANCE: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/inst/0123456789abcdef";

fn settings() -> Settings {
    Settings {
        concurrency: 8,
        poll_interval: Duration::from_millis(10),
        safety_margin: Duration::ZERO,
        ..Settings::default()
    }
}

/// Our retry policy (mode, attempts) with the backoff shortened so the test does not sleep.
/// These clients also get the real clock instead of the frozen one `mock_client!` installs
/// (needed while the policy was adaptive, whose rate limiter waits forever on a frozen clock;
/// harmless with standard).
fn fast_retries() -> aws_config::retry::RetryConfig {
    retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(5))
}

async fn run(sdk: &Sdk, yaml: &str, action: &str) -> Report {
    let schedule = Schedule::parse(yaml, "mock.yaml").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let settings = settings();
    let ctx = Context::new(sdk, &schedule, &settings);
    handle(&ctx, json!({"action": action, "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap()
}

fn service(name: &str, desired: i32) -> ecs::types::builders::ServiceBuilder {
    ecs::types::Service::builder()
        .service_arn(format!("{ACCOUNT}:service/c/{name}"))
        .service_name(name)
        .status("ACTIVE")
        .desired_count(desired)
}

/// DescribeServices answering `name` with `desired` tasks and, if given, a snapshot tag.
fn described(
    name: &str,
    desired: i32,
    snapshot: Option<&str>,
) -> ecs::operation::describe_services::DescribeServicesOutput {
    let s = service(name, desired);
    let s = match snapshot {
        Some(value) => s.tags(tag("ecs-cost-saver:snapshot", value)),
        None => s,
    };
    ecs::operation::describe_services::DescribeServicesOutput::builder().services(s.build()).build()
}

fn tag(key: &str, value: &str) -> ecs::types::Tag {
    ecs::types::Tag::builder().key(key).value(value).build()
}

fn lb(tg: &str, port: i32) -> ecs::types::LoadBalancer {
    ecs::types::LoadBalancer::builder().target_group_arn(tg).container_name("app").container_port(port).build()
}

/// DescribeScalableTargets answering that `service/c/NAME` has a scalable target at min/max.
/// (At min 0 max 0, as a stop leaves it: every kind of scaling suspended.)
fn scalable_target(
    name: &str,
    min: i32,
    max: i32,
) -> aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput {
    let stopped = (min, max) == (0, 0);
    aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput::builder()
        .scalable_targets(
            aas::types::ScalableTarget::builder()
                .service_namespace(aas::types::ServiceNamespace::Ecs)
                .resource_id(format!("service/c/{name}"))
                .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(min)
                .max_capacity(max)
                .suspended_state(
                    aas::types::SuspendedState::builder()
                        .dynamic_scaling_in_suspended(stopped)
                        .dynamic_scaling_out_suspended(stopped)
                        .scheduled_scaling_suspended(stopped)
                        .build(),
                )
                .role_arn("arn:aws:iam::123456789012:role/x")
                .creation_time(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .unwrap(),
        )
        .build()
}

/// An `Sdk` whose clients answer only by these rules (a client without rules is never called).
fn sdk(ecs_rules: &[&Rule], scaling_rules: &[&Rule], elb_rules: &[&Rule]) -> Sdk {
    Sdk {
        ecs: mock_client!(ecs, RuleMode::MatchAny, ecs_rules),
        scaling: mock_client!(aas, RuleMode::MatchAny, scaling_rules),
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, Vec::<&Rule>::new()),
        elb: mock_client!(elb, RuleMode::MatchAny, elb_rules),
        scheduler: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, Vec::<&Rule>::new()),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, Vec::<&Rule>::new()),
        pace: Default::default(),
        spokes: None,
    }
}

fn no_scalable_targets() -> aws_smithy_mocks::Rule {
    mock!(aas::Client::describe_scalable_targets)
        .then_output(|| aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput::builder().build())
}

#[tokio::test]
async fn register_targets_carries_id_and_port_for_ip_and_instance_targets() {
    let describe_services = mock!(ecs::Client::describe_services).then_output(|| {
        ecs::operation::describe_services::DescribeServicesOutput::builder()
            .services(service("web", 1).load_balancers(lb(TG_IP, 8080)).build())
            .services(service("legacy", 1).load_balancers(lb(TG_INSTANCE, 8080)).build())
            .build()
    });
    // Of one service, or (no serviceName) of the cluster: both services' tasks.
    let list_tasks = mock!(ecs::Client::list_tasks).then_compute_output(|req| {
        let ids: &[&str] = match req.service_name() {
            Some("web") => &["t-web"],
            Some(_) => &["t-legacy"],
            None => &["t-web", "t-legacy"],
        };
        let arns = ids.iter().map(|id| format!("{ACCOUNT}:task/c/{id}")).collect();
        ecs::operation::list_tasks::ListTasksOutput::builder().set_task_arns(Some(arns)).build()
    });
    let describe_tasks = mock!(ecs::Client::describe_tasks).then_compute_output(|req| {
        let mut out = ecs::operation::describe_tasks::DescribeTasksOutput::builder();
        for arn in req.tasks() {
            let task = ecs::types::Task::builder().task_arn(arn).last_status("RUNNING");
            out = out.tasks(if arn.ends_with("t-web") {
                task.group("service:web")
                    .attachments(
                        ecs::types::Attachment::builder()
                            .r#type("ElasticNetworkInterface")
                            .details(
                                ecs::types::KeyValuePair::builder()
                                    .name("privateIPv4Address")
                                    .value("10.0.0.7")
                                    .build(),
                            )
                            .build(),
                    )
                    .containers(ecs::types::Container::builder().name("app").build())
                    .build()
            } else {
                task.group("service:legacy")
                    .container_instance_arn(format!("{ACCOUNT}:container-instance/c/ci-1"))
                    .containers(
                        ecs::types::Container::builder()
                            .name("app")
                            .network_bindings(
                                ecs::types::NetworkBinding::builder().container_port(8080).host_port(32768).build(),
                            )
                            .build(),
                    )
                    .build()
            });
        }
        out.build()
    });
    let describe_instances = mock!(ecs::Client::describe_container_instances).then_output(|| {
        ecs::operation::describe_container_instances::DescribeContainerInstancesOutput::builder()
            .container_instances(
                ecs::types::ContainerInstance::builder()
                    .container_instance_arn(format!("{ACCOUNT}:container-instance/c/ci-1"))
                    .ec2_instance_id("i-0abc")
                    .build(),
            )
            .build()
    });
    let describe_tgs = mock!(elb::Client::describe_target_groups).then_compute_output(|req| {
        let mut out = elb::operation::describe_target_groups::DescribeTargetGroupsOutput::builder();
        for arn in req.target_group_arns() {
            let kind = if arn == TG_IP { elb::types::TargetTypeEnum::Ip } else { elb::types::TargetTypeEnum::Instance };
            out = out.target_groups(elb::types::TargetGroup::builder().target_group_arn(arn).target_type(kind).build());
        }
        out.build()
    });
    let health = mock!(elb::Client::describe_target_health)
        .then_output(|| elb::operation::describe_target_health::DescribeTargetHealthOutput::builder().build());
    let target = |id: &str, port: i32| elb::types::TargetDescription::builder().id(id).port(port).build();
    let register_ip = mock!(elb::Client::register_targets)
        .match_requests(move |req| req.target_group_arn() == Some(TG_IP) && req.targets() == [target("10.0.0.7", 8080)])
        .then_output(|| elb::operation::register_targets::RegisterTargetsOutput::builder().build());
    let register_instance = mock!(elb::Client::register_targets)
        .match_requests(move |req| {
            req.target_group_arn() == Some(TG_INSTANCE) && req.targets() == [target("i-0abc", 32768)]
        })
        .then_output(|| elb::operation::register_targets::RegisterTargetsOutput::builder().build());

    let sdk = sdk(
        &[&describe_services, &list_tasks, &describe_tasks, &describe_instances],
        &[&no_scalable_targets()],
        &[&describe_tgs, &health, &register_ip, &register_instance],
    );
    let report = run(
        &sdk,
        "environments:\n  env:\n    services: [{cluster: c, service: web}, {cluster: c, service: legacy}]\n",
        "register",
    )
    .await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(register_ip.num_calls(), 1, "ip target registered with the container port");
    assert_eq!(register_instance.num_calls(), 1, "instance target registered with the host port");
    assert_eq!(describe_services.num_calls(), 1, "both services in one DescribeServices");
    assert_eq!(describe_tasks.num_calls(), 1, "both services' tasks in one DescribeTasks");
    let targets: Vec<(String, u16)> = report.targets.iter().map(|t| (t.target.id.clone(), t.target.port)).collect();
    assert_eq!(targets.len(), 2);
    assert!(targets.contains(&("10.0.0.7".into(), 8080)) && targets.contains(&("i-0abc".into(), 32768)));
}

#[tokio::test]
async fn an_already_stopped_service_gets_no_mutating_call() {
    let describe_services =
        mock!(ecs::Client::describe_services).then_output(|| described("api", 0, Some("desired=3 min=1 max=4")));
    let describe_targets = mock!(aas::Client::describe_scalable_targets).then_output(|| scalable_target("api", 0, 0));
    let update = mock!(ecs::Client::update_service)
        .then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build());
    let tag_resource = mock!(ecs::Client::tag_resource)
        .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let untag = mock!(ecs::Client::untag_resource)
        .then_output(|| ecs::operation::untag_resource::UntagResourceOutput::builder().build());
    let register_scalable = mock!(aas::Client::register_scalable_target)
        .then_output(|| aas::operation::register_scalable_target::RegisterScalableTargetOutput::builder().build());
    let sdk = sdk(&[&describe_services, &update, &tag_resource, &untag], &[&describe_targets, &register_scalable], &[]);
    let report = run(&sdk, "environments:\n  env:\n    services: [{cluster: c, service: api}]\n", "stop").await;
    assert_eq!(report.services[0].outcome, Outcome::Unchanged, "{report}");
    assert_eq!(
        (update.num_calls(), tag_resource.num_calls(), untag.num_calls(), register_scalable.num_calls()),
        (0, 0, 0, 0)
    );
    assert_eq!((describe_services.num_calls(), describe_targets.num_calls()), (1, 1));
}

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

#[tokio::test]
async fn throttled_calls_are_retried() {
    // Throttled, the read, the read again before the snapshot is saved, the read after the writes.
    let describe_services = mock!(ecs::Client::describe_services)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| described("api", 2, None))
        .times(2)
        .output(|| described("api", 0, Some("desired=2")))
        .build();
    let tag_resource = mock!(ecs::Client::tag_resource)
        .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let update = mock!(ecs::Client::update_service)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build())
        .build();
    let sdk = Sdk {
        ecs: mock_client!(ecs, RuleMode::MatchAny, [&describe_services, &tag_resource, &update], |c| c
            .retry_config(fast_retries())
            .time_source(SystemTimeSource::new())),
        ..sdk(&[], &[&no_scalable_targets()], &[])
    };
    let report = run(&sdk, "environments:\n  env:\n    services: [{cluster: c, service: api}]\n", "stop").await;
    assert_eq!(report.services[0].outcome, Outcome::Changed, "{report}");
    assert_eq!(report.services[0].actions, vec!["save snapshot desired=2", "set desiredCount 0"]);
    assert_eq!(describe_services.num_calls(), 4, "DescribeServices retried once, then read again twice");
    assert_eq!(update.num_calls(), 3, "UpdateService retried twice");
}

#[tokio::test]
async fn queued_runs_skip_the_rereads_that_guard_against_a_concurrent_run() {
    // ECS_COST_SAVER_SERIAL_RUNS=true (the function with reserved concurrency 1): one read, the
    // two writes, nothing read again. Without it the same stop reads twice more (the test above).
    let describe_services = mock!(ecs::Client::describe_services).then_output(|| described("api", 2, None));
    let tag_resource = mock!(ecs::Client::tag_resource)
        .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let update = mock!(ecs::Client::update_service)
        .then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build());
    let sdk = sdk(&[&describe_services, &tag_resource, &update], &[&no_scalable_targets()], &[]);
    let schedule =
        Schedule::parse("environments:\n  env:\n    services: [{cluster: c, service: api}]\n", "m.yaml").unwrap();
    let settings = Settings { serial_runs: true, ..settings() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let ctx = Context::new(&sdk, &schedule, &settings);
    let report =
        handle(&ctx, json!({"action": "stop", "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap();
    assert_eq!(report.services[0].actions, vec!["save snapshot desired=2", "set desiredCount 0"], "{report}");
    assert_eq!(
        (describe_services.num_calls(), tag_resource.num_calls(), update.num_calls()),
        (1, 1, 1),
        "DescribeServices once, no re-read"
    );
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_fails_that_service_only() {
    // Once web's desiredCount is 0, a read (the one after its writes) shows it stopped.
    let web_stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = web_stopped.clone();
    let describe_services = mock!(ecs::Client::describe_services).then_output(move || {
        let web = if stopped.load(std::sync::atomic::Ordering::SeqCst) {
            service("web", 0).tags(tag("ecs-cost-saver:snapshot", "desired=1"))
        } else {
            service("web", 1)
        };
        ecs::operation::describe_services::DescribeServicesOutput::builder()
            .services(service("api", 2).build())
            .services(web.build())
            .build()
    });
    let tag_resource = mock!(ecs::Client::tag_resource)
        .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let update_api = mock!(ecs::Client::update_service)
        .match_requests(|r| r.service() == Some("api"))
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let update_web =
        mock!(ecs::Client::update_service).match_requests(|r| r.service() == Some("web")).then_output(move || {
            web_stopped.store(true, std::sync::atomic::Ordering::SeqCst);
            ecs::operation::update_service::UpdateServiceOutput::builder().build()
        });
    let sdk = Sdk {
        ecs: mock_client!(
            ecs,
            RuleMode::MatchAny,
            [&describe_services, &tag_resource, &update_api, &update_web],
            |c| c.retry_config(fast_retries()).time_source(SystemTimeSource::new())
        ),
        ..sdk(&[], &[&no_scalable_targets()], &[])
    };
    let report = run(
        &sdk,
        "environments:\n  env:\n    services: [{cluster: c, service: api}, {cluster: c, service: web}]\n",
        "stop",
    )
    .await;
    let api = &report.services[0];
    assert_eq!(api.outcome, Outcome::Failed);
    assert_eq!(
        api.error.as_deref(),
        Some("set desiredCount 0 failed: UpdateService: ThrottlingException: Rate exceeded")
    );
    assert_eq!(api.actions, vec!["save snapshot desired=2"], "the snapshot was saved before the failure");
    assert_eq!(update_api.num_calls(), 5, "our retry policy: 5 attempts");
    assert_eq!(report.services[1].outcome, Outcome::Changed);
    assert_eq!(report.services[1].actions, vec!["save snapshot desired=1", "set desiredCount 0"]);
    assert!(report.error().unwrap().is_retryable());
}

// ---- pacing: throttles outlasted while the deadline allows, the deadline kept ----

/// Clients paced by AWS's published figures on tokio's sleep and the system clock, as
/// `Sdk::paced` builds them, each with the counter of throttled answers; ECS answers by
/// `ecs_rules` with the retry policy `retries`, the service has no scalable target.
fn paced_sdk(ecs_rules: &[&Rule], retries: aws_config::retry::RetryConfig) -> Sdk {
    let sleep = default_async_sleep().expect("tokio's sleep");
    let pace = Pace::new(Limits::default(), sleep.clone(), SharedTimeSource::default());
    let counter = pace.counter();
    let (c1, c2, c3, c4, c5) = (counter.clone(), counter.clone(), counter.clone(), counter.clone(), counter);
    let no_scalable_targets = no_scalable_targets();
    Sdk {
        ecs: mock_client!(ecs, RuleMode::MatchAny, ecs_rules, move |c| c
            .retry_config(retries.clone())
            .time_source(SystemTimeSource::new())
            .sleep_impl(sleep.clone())
            .interceptor(c1.clone())),
        scaling: mock_client!(aas, RuleMode::MatchAny, [&no_scalable_targets], move |c| c.interceptor(c2.clone())),
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, Vec::<&Rule>::new()),
        elb: mock_client!(elb, RuleMode::MatchAny, Vec::<&Rule>::new(), move |c| c.interceptor(c3.clone())),
        scheduler: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, Vec::<&Rule>::new(), move |c| c
            .interceptor(c4.clone())),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, Vec::<&Rule>::new(), move |c| c
            .interceptor(c5.clone())),
        pace,
        spokes: None,
    }
}

/// A stop of `api` (2 tasks, no snapshot yet): the reads (the read, the read again before the
/// snapshot is saved, the read after the writes) and the snapshot's TagResource succeed;
/// UpdateService answers as each test makes it, every request logged.
struct PacedStop {
    describe_services: Rule,
    tag_resource: Rule,
    updates: std::sync::Arc<std::sync::Mutex<Vec<UpdateRequest>>>,
}

/// An UpdateService request: cluster, service, desiredCount.
type UpdateRequest = (Option<String>, Option<String>, Option<i32>);

impl PacedStop {
    fn new() -> PacedStop {
        let describe_services = mock!(ecs::Client::describe_services)
            .sequence()
            .output(|| described("api", 2, None))
            .times(2)
            .output(|| described("api", 0, Some("desired=2")))
            .build();
        let tag_resource = mock!(ecs::Client::tag_resource)
            .match_requests(|r| {
                r.resource_arn() == Some(format!("{ACCOUNT}:service/c/api").as_str())
                    && r.tags() == [tag("ecs-cost-saver:snapshot", "desired=2")]
            })
            .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
        PacedStop { describe_services, tag_resource, updates: Default::default() }
    }

    /// UpdateService, every request logged, answered as `answers` makes the rule.
    fn update(
        &self,
        answers: impl FnOnce(
            aws_smithy_mocks::RuleBuilder<
                ecs::operation::update_service::UpdateServiceInput,
                ecs::operation::update_service::UpdateServiceOutput,
                ecs::operation::update_service::UpdateServiceError,
            >,
        ) -> Rule,
    ) -> Rule {
        let updates = self.updates.clone();
        answers(mock!(ecs::Client::update_service).match_requests(move |r| {
            let request = (r.cluster().map(str::to_string), r.service().map(str::to_string), r.desired_count());
            updates.lock().unwrap().push(request);
            true
        }))
    }

    /// The requests UpdateService got: one per operation (the SDK's retries resend the same).
    fn updates(&self) -> Vec<UpdateRequest> {
        self.updates.lock().unwrap().clone()
    }
}

fn stop_api() -> UpdateRequest {
    (Some("c".into()), Some("api".into()), Some(0))
}

const API_ONLY: &str = "environments:\n  env:\n    services: [{cluster: c, service: api}]\n";

/// UpdateService throttled 8 times in a row, more than the SDK's 5 attempts: the function tries
/// the call again a second later (the deadline is 5 s away), and the service is stopped. The
/// report counts every throttled answer.
#[tokio::test]
async fn a_burst_of_throttles_longer_than_the_retries_does_not_fail_the_service() {
    let stop = PacedStop::new();
    let update = stop.update(|rule| {
        rule.sequence()
            .http_status(400, Some(THROTTLED.into()))
            .times(8)
            .output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build())
            .build()
    });
    let sdk = paced_sdk(&[&stop.describe_services, &stop.tag_resource, &update], fast_retries());
    let report = run(&sdk, API_ONLY, "stop").await;
    let api = &report.services[0];
    assert_eq!(api.outcome, Outcome::Changed, "{report}");
    assert_eq!(api.actions, vec!["save snapshot desired=2", "set desiredCount 0"]);
    assert!(report.error().is_none());
    assert_eq!(report.throttled, 8, "every throttled attempt");
    assert!(report.to_string().ends_with("; 8 throttled answers retried"), "{report}");
    assert_eq!(update.num_calls(), 9, "8 throttled attempts, then the one that went through");
    assert_eq!(
        stop.updates(),
        vec![stop_api(), stop_api()],
        "two operations: the SDK's 5 attempts, then the function's own try (4 more)"
    );
    assert_eq!((stop.describe_services.num_calls(), stop.tag_resource.num_calls()), (3, 1));
}

/// The deadline is nearer than the SDK's backoff (production figures without jitter: 1 s, then
/// 2 s): the throttled call gives up at the deadline, as a timeout that says so, instead of
/// holding the invocation past it.
#[tokio::test]
async fn a_throttled_call_gives_up_at_the_deadline_as_a_timeout() {
    let stop = PacedStop::new();
    let update = stop.update(|rule| rule.sequence().http_status(400, Some(THROTTLED.into())).repeatedly().build());
    let sdk = paced_sdk(
        &[&stop.describe_services, &stop.tag_resource, &update],
        retry_config().with_use_static_exponential_base(true),
    );
    let schedule = Schedule::parse(API_ONLY, "mock.yaml").unwrap();
    let settings = settings();
    let ctx = Context::new(&sdk, &schedule, &settings);
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let report =
        handle(&ctx, json!({"action": "stop", "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "returned after {took:?}:\n{report}");
    let api = &report.services[0];
    assert_eq!((api.outcome, api.error_kind), (Outcome::Failed, Some(ErrorKind::Timeout)), "{report}");
    let error = api.error.as_deref().unwrap();
    assert!(
        error.starts_with("set desiredCount 0 failed: UpdateService: no answer within the ")
            && error.ends_with(" s left before the deadline"),
        "{error}"
    );
    assert_eq!(api.actions, vec!["save snapshot desired=2"], "the snapshot was saved before");
    assert_eq!(update.num_calls(), 2, "attempts at 0 s and 1 s; the next was to be at 3 s");
    assert_eq!(report.throttled, 2);
    assert_eq!(stop.updates(), vec![stop_api()]);
    assert!(report.error().unwrap().is_retryable());
}

/// Reproducer, failing today: the reads of an environment run before `run` calls `begin_run`
/// (`dispatch::environment`: `observe::services`) are not paced, so a burst of throttles there
/// fails the service after the SDK's 5 attempts although the deadline is 5 s away, and those
/// throttles are not in the report's count.
#[tokio::test]
async fn throttles_of_the_first_read_are_outlasted_and_counted_too() {
    let describe_services = mock!(ecs::Client::describe_services)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(6)
        .output(|| described("api", 2, None))
        .times(2)
        .output(|| described("api", 0, Some("desired=2")))
        .build();
    let stop = PacedStop { describe_services, ..PacedStop::new() };
    let update =
        stop.update(|rule| rule.then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build()));
    let sdk = paced_sdk(&[&stop.describe_services, &stop.tag_resource, &update], fast_retries());
    let report = run(&sdk, API_ONLY, "stop").await;
    assert_eq!(report.services[0].outcome, Outcome::Changed, "{report}");
    assert_eq!(report.throttled, 6, "{report}");
}

/// Reproducer, failing today: the function's own tries stop after 4 (1 + 2 + 4 + 8 s of
/// back-off) however much time is left, so a throttled burst of 25 attempts fails the service
/// with 45 of its 60 s left. (Takes 15 s.)
#[tokio::test]
async fn throttles_are_outlasted_while_the_deadline_allows() {
    let stop = PacedStop::new();
    let update = stop.update(|rule| {
        rule.sequence()
            .http_status(400, Some(THROTTLED.into()))
            .times(25)
            .output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build())
            .build()
    });
    let sdk = paced_sdk(&[&stop.describe_services, &stop.tag_resource, &update], fast_retries());
    let schedule = Schedule::parse(API_ONLY, "mock.yaml").unwrap();
    let settings = settings();
    let ctx = Context::new(&sdk, &schedule, &settings);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let report =
        handle(&ctx, json!({"action": "stop", "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap();
    assert_eq!(report.services[0].outcome, Outcome::Changed, "{report}");
    assert_eq!(report.throttled, 25);
}

/// Reproducer, failing today: throttles take the SDK's first 4 attempts and the 5th gets a 500
/// (which one more attempt would get past): the function tries again only after a throttle, so
/// the service fails with the deadline 5 s away.
#[tokio::test]
async fn a_5xx_after_throttles_took_the_retries_does_not_fail_the_service() {
    let stop = PacedStop::new();
    let update = stop.update(|rule| {
        rule.sequence()
            .http_status(400, Some(THROTTLED.into()))
            .times(4)
            .http_status(
                500,
                Some(r#"{"__type":"ServerException","message":"Service encountered an internal error"}"#.into()),
            )
            .output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build())
            .build()
    });
    let sdk = paced_sdk(&[&stop.describe_services, &stop.tag_resource, &update], fast_retries());
    let report = run(&sdk, API_ONLY, "stop").await;
    assert_eq!(report.services[0].outcome, Outcome::Changed, "{report}");
    assert_eq!(report.throttled, 4);
}

/// Application Auto Scaling refuses an update while another one of the same scalable target is
/// in progress; the SDK's standard classifier does not retry that code, ours does.
#[tokio::test]
async fn a_concurrent_update_conflict_is_retried() {
    // The read, the read again before the snapshot is saved, the read after the writes.
    let describe_services = mock!(ecs::Client::describe_services)
        .sequence()
        .output(|| described("api", 2, None))
        .times(2)
        .output(|| described("api", 0, Some("desired=2 min=1 max=4")))
        .build();
    let describe_targets = mock!(aas::Client::describe_scalable_targets)
        .sequence()
        .output(|| scalable_target("api", 1, 4))
        .output(|| scalable_target("api", 0, 0))
        .build();
    let tag_resource = mock!(ecs::Client::tag_resource)
        .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let update = mock!(ecs::Client::update_service)
        .then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build());
    let register_scalable = mock!(aas::Client::register_scalable_target)
        .match_requests(|r| r.min_capacity() == Some(0) && r.max_capacity() == Some(0))
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ConcurrentUpdateException","message":"Concurrent updates are not allowed"}"#.into()),
        )
        .output(|| aas::operation::register_scalable_target::RegisterScalableTargetOutput::builder().build())
        .build();
    let sdk = Sdk {
        scaling: mock_client!(aas, RuleMode::MatchAny, [&describe_targets, &register_scalable], |c| {
            retry_concurrent_updates(c.retry_config(fast_retries()).time_source(SystemTimeSource::new()))
        }),
        ..sdk(&[&describe_services, &tag_resource, &update], &[], &[])
    };
    let report = run(&sdk, "environments:\n  env:\n    services: [{cluster: c, service: api}]\n", "stop").await;
    let api = &report.services[0];
    assert_eq!(api.outcome, Outcome::Changed, "{report}");
    assert_eq!(
        api.actions,
        vec![
            "save snapshot desired=2 min=1 max=4",
            "set scalable target min 0 max 0 suspended in+out+scheduled",
            "set desiredCount 0"
        ]
    );
    assert_eq!(register_scalable.num_calls(), 2, "the conflict, then the retry");
    assert!(report.error().is_none());
}

#[tokio::test]
async fn describes_are_batched() {
    let describe_services = mock!(ecs::Client::describe_services)
        .match_requests(|r| r.services().len() <= 10 && r.include() == [ecs::types::ServiceField::Tags])
        .then_compute_output(|req| {
            let mut out = ecs::operation::describe_services::DescribeServicesOutput::builder();
            for name in req.services() {
                out = out.services(service(name, 0).build());
            }
            out.build()
        });
    let describe_targets = mock!(aas::Client::describe_scalable_targets)
        .match_requests(|r| r.resource_ids().len() <= 50)
        .then_output(|| aas::operation::describe_scalable_targets::DescribeScalableTargetsOutput::builder().build());
    let sdk = sdk(&[&describe_services], &[&describe_targets], &[]);
    let services: Vec<String> = (0..25).map(|i| format!("{{cluster: c, service: s{i}}}")).collect();
    let yaml = format!("environments:\n  env:\n    services: [{}]\n", services.join(", "));
    let report = run(&sdk, &yaml, "stop").await;
    assert_eq!(report.services.len(), 25);
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Unchanged), "{report}");
    assert_eq!(describe_services.num_calls(), 3, "25 services: 10 + 10 + 5");
    assert_eq!(describe_targets.num_calls(), 1, "25 resource ids in one call");
}

#[tokio::test]
async fn a_failed_restore_keeps_the_snapshot() {
    let describe_services =
        mock!(ecs::Client::describe_services).then_output(|| described("api", 0, Some("desired=3 min=1 max=4")));
    let describe_targets = mock!(aas::Client::describe_scalable_targets).then_output(|| scalable_target("api", 0, 0));
    let register_scalable = mock!(aas::Client::register_scalable_target)
        .match_requests(|r| r.min_capacity() == Some(1) && r.max_capacity() == Some(4))
        .then_output(|| aas::operation::register_scalable_target::RegisterScalableTargetOutput::builder().build());
    let update = mock!(ecs::Client::update_service)
        .sequence()
        .http_status(400, Some(r#"{"__type":"AccessDeniedException","message":"not allowed to update api"}"#.into()))
        .repeatedly()
        .build();
    let untag = mock!(ecs::Client::untag_resource)
        .then_output(|| ecs::operation::untag_resource::UntagResourceOutput::builder().build());
    let sdk = sdk(&[&describe_services, &update, &untag], &[&describe_targets, &register_scalable], &[]);
    let report = run(&sdk, "environments:\n  env:\n    services: [{cluster: c, service: api}]\n", "start").await;
    let api = &report.services[0];
    assert_eq!(api.outcome, Outcome::Failed, "{report}");
    assert_eq!(api.actions, vec!["set scalable target min 1 max 4"]);
    assert_eq!(
        api.error.as_deref(),
        Some("set desiredCount 3 failed: UpdateService: AccessDeniedException: not allowed to update api")
    );
    assert_eq!((register_scalable.num_calls(), update.num_calls()), (1, 1));
    assert_eq!(untag.num_calls(), 0, "the snapshot stays until the whole restore succeeded");
}

// ---- Spot interruptions: exact DeregisterTargets requests and round trips ----

const TG_NLB: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/nlb/0123456789abcdef";
const TG_EXTRA: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/extra/0123456789abcdef";

/// The order in which AWS operations were sent, shared by every rule of a test.
type Calls = std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>;

fn log(calls: &Calls, op: &'static str) -> bool {
    calls.lock().unwrap().push(op);
    true
}

/// A Fargate Spot interruption of task `id` of `service` (awsvpc, ENI `ip`).
fn fargate_interruption(service: &str, id: &str, ip: &str, version: u64) -> serde_json::Value {
    json!({
        "version": "0", "id": "e1", "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-27T03:00:00Z", "region": "ap-northeast-1",
        "resources": [format!("{ACCOUNT}:task/c/{id}")],
        "detail": {
            "clusterArn": format!("{ACCOUNT}:cluster/c"), "taskArn": format!("{ACCOUNT}:task/c/{id}"),
            "group": format!("service:{service}"), "launchType": "FARGATE", "capacityProviderName": "FARGATE_SPOT",
            "desiredStatus": "STOPPED", "lastStatus": "RUNNING", "stopCode": "SpotInterruption",
            "stoppedReason": "Your Spot Task was interrupted.", "version": version,
            "containers": [{"name": "app", "lastStatus": "RUNNING",
                            "networkInterfaces": [{"attachmentId": "a1", "privateIpv4Address": ip}]}],
            "attachments": [{"id": "a1", "type": "eni", "status": "ATTACHED",
                             "details": [{"name": "privateIPv4Address", "value": ip}]}]
        }
    })
}

/// The event, handled on a cold start.
async fn handle_event(sdk: &Sdk, yaml: &str, event: serde_json::Value) -> Report {
    let (schedule, settings) = (Schedule::parse(yaml, "mock.yaml").unwrap(), settings());
    handle_in(&Context::new(sdk, &schedule, &settings), event).await
}

/// The event, handled in `ctx` (warm when it handled one before).
async fn handle_in(ctx: &Context<'_, Sdk>, event: serde_json::Value) -> Report {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    handle(ctx, event, chrono::Utc::now(), deadline).await.unwrap()
}

/// DescribeServices answering with `service`, every request logged in `calls`.
fn logged_describe(calls: &Calls, service: ecs::types::Service) -> Rule {
    let calls = calls.clone();
    mock!(ecs::Client::describe_services).match_requests(move |_| log(&calls, "DescribeServices")).then_output(
        move || ecs::operation::describe_services::DescribeServicesOutput::builder().services(service.clone()).build(),
    )
}

fn deregister_rule(calls: &Calls, tg: &'static str, id: &'static str, port: i32) -> aws_smithy_mocks::Rule {
    let calls = calls.clone();
    mock!(elb::Client::deregister_targets)
        .match_requests(move |r| {
            r.target_group_arn() == Some(tg)
                && r.targets() == [elb::types::TargetDescription::builder().id(id).port(port).build()]
                && log(&calls, "DeregisterTargets")
        })
        .then_output(|| elb::operation::deregister_targets::DeregisterTargetsOutput::builder().build())
}

#[tokio::test]
async fn spot_interruption_deregisters_id_and_port_after_one_describe_then_from_memory() {
    let calls: Calls = Default::default();
    let c = calls.clone();
    let describe_services = mock!(ecs::Client::describe_services)
        .match_requests(move |r| r.services() == ["spot-web"] && log(&c, "DescribeServices"))
        .then_output(|| {
            ecs::operation::describe_services::DescribeServicesOutput::builder()
                .services(
                    service("spot-web", 2).load_balancers(lb(TG_IP, 8080)).load_balancers(lb(TG_NLB, 8080)).build(),
                )
                .build()
        });
    let alb_23 = deregister_rule(&calls, TG_IP, "10.0.1.23", 8080);
    let nlb_23 = deregister_rule(&calls, TG_NLB, "10.0.1.23", 8080);
    let alb_24 = deregister_rule(&calls, TG_IP, "10.0.1.24", 8080);
    let nlb_24 = deregister_rule(&calls, TG_NLB, "10.0.1.24", 8080);
    let sdk = sdk(&[&describe_services], &[], &[&alb_23, &nlb_23, &alb_24, &nlb_24]);
    let yaml = "environments:\n  env:\n    services: [{cluster: c, service: spot-web}]\n";
    let (schedule, settings) = (Schedule::parse(yaml, "mock.yaml").unwrap(), settings());
    let ctx = Context::new(&sdk, &schedule, &settings);

    // Cold: DescribeServices, then both deregistrations at once: 2 round trips.
    let report = handle_in(&ctx, fargate_interruption("spot-web", "t1", "10.0.1.23", 3)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(*calls.lock().unwrap(), vec!["DescribeServices", "DeregisterTargets", "DeregisterTargets"]);
    assert_eq!((alb_23.num_calls(), nlb_23.num_calls()), (1, 1));
    let mut gone: Vec<(&str, &str, u16, TargetChange)> = report
        .targets
        .iter()
        .map(|t| (t.target_group.as_str(), t.target.id.as_str(), t.target.port, t.change))
        .collect();
    gone.sort();
    assert_eq!(
        gone,
        vec![
            (TG_IP, "10.0.1.23", 8080, TargetChange::Deregistered),
            (TG_NLB, "10.0.1.23", 8080, TargetChange::Deregistered)
        ]
    );
    assert_eq!((report.services[0].outcome, report.environment.as_str()), (Outcome::Changed, "env"));

    // Warm, another task of the same service: target groups from memory, 1 round trip.
    calls.lock().unwrap().clear();
    let report = handle_in(&ctx, fargate_interruption("spot-web", "t2", "10.0.1.24", 3)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(*calls.lock().unwrap(), vec!["DeregisterTargets", "DeregisterTargets"]);
    assert_eq!((alb_24.num_calls(), nlb_24.num_calls(), describe_services.num_calls()), (1, 1, 1));

    // The same event delivered again: no call at all.
    calls.lock().unwrap().clear();
    let report = handle_in(&ctx, fargate_interruption("spot-web", "t1", "10.0.1.23", 3)).await;
    assert_eq!(
        report.skipped_reason.as_deref(),
        Some("duplicate delivery of arn:aws:ecs:ap-northeast-1:123456789012:task/c/t1 version 3")
    );
    assert!(calls.lock().unwrap().is_empty());

    // A cold start remembers neither: the service is described again and the event handled.
    let report = handle_event(&sdk, yaml, fargate_interruption("spot-web", "t1", "10.0.1.23", 3)).await;
    assert!(report.skipped_reason.is_none(), "{report}");
    assert_eq!(*calls.lock().unwrap(), vec!["DescribeServices", "DeregisterTargets", "DeregisterTargets"]);
}

#[tokio::test]
async fn yaml_target_groups_are_deregistered_before_the_service_is_described() {
    let calls: Calls = Default::default();
    let describe_services = logged_describe(&calls, service("spot-api", 1).load_balancers(lb(TG_IP, 8080)).build());
    let extra = deregister_rule(&calls, TG_EXTRA, "10.0.2.9", 9000);
    let alb = deregister_rule(&calls, TG_IP, "10.0.2.9", 8080);
    let sdk = sdk(&[&describe_services], &[], &[&extra, &alb]);
    let yaml = format!(
        "environments:\n  env:\n    services:\n      - cluster: c\n        service: spot-api\n        target_groups: [{{arn: '{TG_EXTRA}', container: app, port: 9000}}]\n"
    );
    let report = handle_event(&sdk, &yaml, fargate_interruption("spot-api", "t9", "10.0.2.9", 1)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(calls.lock().unwrap()[0], "DeregisterTargets", "the first request is a deregistration");
    assert_eq!((extra.num_calls(), alb.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_ec2_task_is_an_instance_target_on_its_host_port() {
    let calls: Calls = Default::default();
    let c2 = calls.clone();
    let describe_services =
        logged_describe(&calls, service("spot-legacy", 1).load_balancers(lb(TG_INSTANCE, 8080)).build());
    let describe_instances = mock!(ecs::Client::describe_container_instances)
        .match_requests(move |_| log(&c2, "DescribeContainerInstances"))
        .then_output(|| {
            ecs::operation::describe_container_instances::DescribeContainerInstancesOutput::builder()
                .container_instances(
                    ecs::types::ContainerInstance::builder()
                        .container_instance_arn(format!("{ACCOUNT}:container-instance/c/ci-1"))
                        .ec2_instance_id("i-0abc")
                        .build(),
                )
                .build()
        });
    let instance = deregister_rule(&calls, TG_INSTANCE, "i-0abc", 32768);
    let sdk = sdk(&[&describe_services, &describe_instances], &[], &[&instance]);
    let event = json!({
        "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "detail": {
            "clusterArn": format!("{ACCOUNT}:cluster/c"), "taskArn": format!("{ACCOUNT}:task/c/t-legacy"),
            "group": "service:spot-legacy", "launchType": "EC2",
            "containerInstanceArn": format!("{ACCOUNT}:container-instance/c/ci-1"),
            "desiredStatus": "STOPPED", "lastStatus": "RUNNING", "stopCode": "TerminationNotice", "version": 2,
            "containers": [{"name": "app", "networkBindings": [
                {"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 32768, "protocol": "tcp"}]}]
        }
    });
    let report =
        handle_event(&sdk, "environments:\n  env:\n    services: [{cluster: c, service: other}]\n", event).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(instance.num_calls(), 1);
    let mut order = calls.lock().unwrap().clone();
    assert_eq!(order.pop(), Some("DeregisterTargets"));
    order.sort();
    assert_eq!(order, vec!["DescribeContainerInstances", "DescribeServices"], "looked up side by side");
    assert_eq!(report.environment, "", "a service outside the schedule is still protected");
}

#[tokio::test]
async fn other_task_changes_are_skipped_with_no_call_and_not_registered_is_done() {
    let calls: Calls = Default::default();
    let describe_services = logged_describe(&calls, service("spot-gone", 1).load_balancers(lb(TG_IP, 8080)).build());
    let not_registered = mock!(elb::Client::deregister_targets)
        .sequence()
        .http_status(
            400,
            Some(
                r#"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidTarget</Code><Message>The following targets are not registered</Message></Error></ErrorResponse>"#
                    .into(),
            ),
        )
        .repeatedly()
        .build();
    let sdk = sdk(&[&describe_services], &[], &[&not_registered]);
    let yaml = "environments:\n  env:\n    services: [{cluster: c, service: spot-gone}]\n";
    let mut exit = fargate_interruption("spot-gone", "t5", "10.0.3.5", 4);
    exit["detail"]["stopCode"] = json!("EssentialContainerExited");
    exit["detail"]["stoppedReason"] = json!("Essential container in task exited");
    let report = handle_event(&sdk, yaml, exit).await;
    assert_eq!(
        report.skipped_reason.as_deref(),
        Some("not a Spot interruption (stopCode EssentialContainerExited, desiredStatus STOPPED, lastStatus RUNNING)")
    );
    assert!(calls.lock().unwrap().is_empty());

    let report = handle_event(&sdk, yaml, fargate_interruption("spot-gone", "t5", "10.0.3.5", 4)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.targets[0].change, TargetChange::NotRegistered);
    assert_eq!(not_registered.num_calls(), 1);
}

#[tokio::test]
async fn a_blue_green_service_is_deregistered_from_its_task_sets_target_groups() {
    let calls: Calls = Default::default();
    let describe_services = mock!(ecs::Client::describe_services).then_output(|| {
        let task_set = |tg: &str| ecs::types::TaskSet::builder().load_balancers(lb(tg, 8080)).build();
        ecs::operation::describe_services::DescribeServicesOutput::builder()
            .services(
                service("spot-bg", 2)
                    .deployment_controller(
                        ecs::types::DeploymentController::builder()
                            .r#type(ecs::types::DeploymentControllerType::CodeDeploy)
                            .build()
                            .unwrap(),
                    )
                    .load_balancers(lb(TG_IP, 8080))
                    .task_sets(task_set(TG_IP))
                    .task_sets(task_set(TG_NLB))
                    .build(),
            )
            .build()
    });
    let blue = deregister_rule(&calls, TG_IP, "10.0.4.4", 8080);
    let green = deregister_rule(&calls, TG_NLB, "10.0.4.4", 8080);
    let sdk = sdk(&[&describe_services], &[], &[&blue, &green]);
    let yaml = "environments:\n  env:\n    services: [{cluster: c, service: spot-bg}]\n";
    let report = handle_event(&sdk, yaml, fargate_interruption("spot-bg", "t4", "10.0.4.4", 1)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!((blue.num_calls(), green.num_calls()), (1, 1), "each target group once, with the port");
    assert_eq!(report.targets.len(), 2);
}

// ---- error kinds, to the invocation's error ----

/// A stop of services that each have one task, whose UpdateService answers with the given HTTP
/// status and error code (`None`: success). Retries are off and runs serial, so each service
/// makes exactly DescribeServices, TagResource and UpdateService.
async fn stop_failing(answers: &[(&'static str, Option<(u16, &'static str)>)]) -> Report {
    let names: Vec<&'static str> = answers.iter().map(|(name, _)| *name).collect();
    let describe_services = mock!(ecs::Client::describe_services).then_output(move || {
        let mut out = ecs::operation::describe_services::DescribeServicesOutput::builder();
        for name in &names {
            out = out.services(service(name, 1).build());
        }
        out.build()
    });
    let tag_resource = mock!(ecs::Client::tag_resource)
        .then_output(|| ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let updates: Vec<Rule> = answers
        .iter()
        .map(|&(name, answer)| {
            let rule = mock!(ecs::Client::update_service).match_requests(move |r| r.service() == Some(name));
            match answer {
                None => rule.then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build()),
                Some((status, code)) => {
                    let body = format!(r#"{{"__type":"{code}","message":"{code} for {name}"}}"#);
                    rule.sequence().http_status(status, Some(body)).repeatedly().build()
                }
            }
        })
        .collect();
    let mut ecs_rules = vec![&describe_services, &tag_resource];
    ecs_rules.extend(updates.iter());
    let sdk = Sdk {
        ecs: mock_client!(ecs, RuleMode::MatchAny, &ecs_rules, |c| c
            .retry_config(aws_config::retry::RetryConfig::disabled())),
        ..sdk(&[], &[&no_scalable_targets()], &[])
    };
    let services: Vec<String> = answers.iter().map(|(name, _)| format!("{{cluster: c, service: {name}}}")).collect();
    let schedule =
        Schedule::parse(&format!("environments:\n  env:\n    services: [{}]\n", services.join(", ")), "m.yaml")
            .unwrap();
    let settings = Settings { serial_runs: true, ..settings() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let ctx = Context::new(&sdk, &schedule, &settings);
    handle(&ctx, json!({"action": "stop", "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap()
}

#[tokio::test]
async fn a_run_whose_only_failure_is_access_denied_fails_permanently() {
    let report = stop_failing(&[("api", Some((400, "AccessDeniedException"))), ("web", None)]).await;
    let api = &report.services[0];
    assert_eq!((api.outcome, api.error_kind), (Outcome::Failed, Some(ErrorKind::AccessDenied)));
    assert_eq!(
        api.error.as_deref(),
        Some("set desiredCount 0 failed: UpdateService: AccessDeniedException: AccessDeniedException for api")
    );
    assert_eq!(report.services[1].outcome, Outcome::Changed);
    let error = report.error().unwrap();
    assert_eq!((error.kind(), error.is_retryable()), ("ServicesFailedPermanently", false));
    let logged: serde_json::Value = serde_json::from_str(&report.to_json_line()).unwrap();
    assert_eq!(logged["services"][0]["error_kind"], "access_denied");
    assert!(logged["services"][1].get("error_kind").is_none());
}

#[tokio::test]
async fn one_retryable_failure_makes_the_run_retryable() {
    let report =
        stop_failing(&[("api", Some((400, "AccessDeniedException"))), ("web", Some((400, "ThrottlingException")))])
            .await;
    let kinds: Vec<Option<ErrorKind>> = report.services.iter().map(|s| s.error_kind).collect();
    assert_eq!(kinds, [Some(ErrorKind::AccessDenied), Some(ErrorKind::Throttled)]);
    let error = report.error().unwrap();
    assert_eq!((error.kind(), error.is_retryable()), ("ServicesFailed", true));
    assert_eq!(
        error.to_string(),
        "stop env: 2 of 2 failed: c/api [access_denied]: set desiredCount 0 failed: UpdateService: AccessDeniedException: AccessDeniedException for api; c/web [throttled]: set desiredCount 0 failed: UpdateService: ThrottlingException: ThrottlingException for web"
    );
}

#[tokio::test]
async fn every_error_kind_reaches_the_report() {
    // The SDK's own timeout (no answer in time) is `timeout` too: src/aws/error.rs and tests/faults.rs.
    let cases = [
        ("throttled", 400, "ThrottlingException", ErrorKind::Throttled),
        ("denied", 400, "AccessDeniedException", ErrorKind::AccessDenied),
        ("gone", 400, "ServiceNotFoundException", ErrorKind::NotFound),
        ("bad", 400, "InvalidParameterException", ErrorKind::Invalid),
        ("busy", 400, "UpdateInProgressException", ErrorKind::Conflict),
        ("down", 500, "ServerException", ErrorKind::Transient),
        ("slow", 408, "RequestTimeout", ErrorKind::Timeout),
    ];
    let answers: Vec<(&'static str, Option<(u16, &'static str)>)> =
        cases.iter().map(|(name, status, code, _)| (*name, Some((*status, *code)))).collect();
    let report = stop_failing(&answers).await;
    let found: Vec<(&str, Option<ErrorKind>)> =
        report.services.iter().map(|s| (s.service.as_str(), s.error_kind)).collect();
    let expected: Vec<(&str, Option<ErrorKind>)> =
        cases.iter().map(|(name, _, _, kind)| (*name, Some(*kind))).collect();
    assert_eq!(found, expected, "{report}");
    assert_eq!(ErrorKind::ALL.len(), cases.len(), "every kind has a case");
    for s in &report.services {
        assert!(s.failures[0].cause.is_some(), "the AWS error travels with the failure: {}", s.service);
    }
}

// ---- the state table's conditional writes ----

#[tokio::test]
async fn with_the_table_a_stop_writes_its_snapshot_only_where_none_is_and_holds_it_while_it_writes_counts() {
    use aws_sdk_dynamodb as ddb;
    use ddb::types::AttributeValue;
    let calls: Calls = Default::default();
    let (c1, c2, c3, c4) = (calls.clone(), calls.clone(), calls.clone(), calls.clone());
    let describe_services = mock!(ecs::Client::describe_services).then_output(|| described("api", 2, None));
    let update = mock!(ecs::Client::update_service)
        .match_requests(move |r| r.desired_count() == Some(0) && log(&c1, "UpdateService"))
        .then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build());
    let key = "123456789012/ap-northeast-1/c/api";
    let read = mock!(ddb::Client::batch_get_item)
        .match_requests(move |r| {
            let wanted = &r.request_items().unwrap()["ecs-cost-saver-state"];
            wanted.consistent_read() == Some(true)
                && wanted.keys()
                    == [std::collections::HashMap::from([("service".to_string(), AttributeValue::S(key.into()))])]
                && log(&c2, "BatchGetItem")
        })
        .then_output(|| ddb::operation::batch_get_item::BatchGetItemOutput::builder().build());
    let save = mock!(ddb::Client::put_item)
        .match_requests(move |r| {
            let item = r.item().unwrap();
            let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            let n = |k: &str| item.get(k).and_then(|v| v.as_n().ok()).cloned();
            r.condition_expression() == Some("attribute_not_exists(#key)")
                && r.expression_attribute_names().unwrap()["#key"] == "service"
                && s("service").as_deref() == Some(key)
                && n("desired").as_deref() == Some("2")
                && n("version").as_deref() == Some("1")
                && s("held_by").is_some()
                && n("held_until").is_some()
                && s("saved_by").is_some_and(|b| b.starts_with("stop env ("))
                && log(&c3, "PutItem")
        })
        .then_output(|| ddb::operation::put_item::PutItemOutput::builder().build());
    let release = mock!(ddb::Client::update_item)
        .match_requests(move |r| {
            r.condition_expression() == Some("held_by = :me")
                && r.update_expression() == Some("SET version = version + :one REMOVE held_by, held_until")
                && log(&c4, "UpdateItem")
        })
        .then_output(|| ddb::operation::update_item::UpdateItemOutput::builder().build());
    let sdk = Sdk {
        dynamodb: mock_client!(ddb, RuleMode::MatchAny, [&read, &save, &release]),
        pace: Default::default(),
        ..sdk(&[&describe_services, &update], &[&no_scalable_targets()], &[])
    };
    let schedule =
        Schedule::parse("environments:\n  env:\n    services: [{cluster: c, service: api}]\n", "m.yaml").unwrap();
    let settings = Settings { state_table: Some("ecs-cost-saver-state".into()), ..settings() };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let ctx = Context::new(&sdk, &schedule, &settings);
    let report =
        handle(&ctx, json!({"action": "stop", "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap();
    assert!(report.error().is_none(), "{report}");
    assert_eq!(*calls.lock().unwrap(), ["BatchGetItem", "PutItem", "UpdateService", "UpdateItem"], "in this order");
    assert_eq!(report.services[0].actions, ["save snapshot desired=2", "set desiredCount 0", "release snapshot"]);
}

/// A tag selector over a cluster of 101 services: ListServices follows `nextToken` with 100 a
/// page, DescribeServices asks 10 at a time with tags (11 calls for 101), and those answers are
/// the observation (no service is described twice); only the tagged service is in the run.
#[tokio::test]
async fn a_tag_selector_pages_through_list_services_and_describes_each_service_once() {
    let names: Vec<String> = (0..101).map(|i| format!("s{i:03}")).collect();
    let arns = |range: std::ops::Range<usize>| -> Vec<String> {
        names[range].iter().map(|n| format!("{ACCOUNT}:service/c/{n}")).collect()
    };
    let (first, second) = (arns(0..100), arns(100..101));
    let first_page = mock!(ecs::Client::list_services)
        .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(100) && r.cluster() == Some("c"))
        .then_output(move || {
            ecs::operation::list_services::ListServicesOutput::builder()
                .set_service_arns(Some(first.clone()))
                .next_token("page-2")
                .build()
        });
    let second_page =
        mock!(ecs::Client::list_services).match_requests(|r| r.next_token() == Some("page-2")).then_output(move || {
            ecs::operation::list_services::ListServicesOutput::builder().set_service_arns(Some(second.clone())).build()
        });
    let describe_services = mock!(ecs::Client::describe_services)
        .match_requests(|r| r.services().len() <= 10 && r.include() == [ecs::types::ServiceField::Tags])
        .then_compute_output(|r| {
            let services = r.services().iter().map(|n| {
                let s = service(n, 1);
                if n == "s100" { s.tags(tag("team", "web")).build() } else { s.build() }
            });
            ecs::operation::describe_services::DescribeServicesOutput::builder()
                .set_services(Some(services.collect()))
                .build()
        });
    let scheduled = mock!(aas::Client::describe_scheduled_actions)
        .then_output(|| aas::operation::describe_scheduled_actions::DescribeScheduledActionsOutput::builder().build());
    // Status also looks for instances of Auto Scaling groups the file does not list: none here.
    let no_instances = mock!(ecs::Client::list_container_instances)
        .then_output(|| ecs::operation::list_container_instances::ListContainerInstancesOutput::builder().build());
    let sdk = sdk(
        &[&first_page, &second_page, &describe_services, &no_instances],
        &[&no_scalable_targets(), &scheduled],
        &[],
    );
    let yaml = "environments:\n  env:\n    services: [{cluster: c, select: {tags: {team: web}}}]\n";
    let report = run(&sdk, yaml, "status").await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.services.len(), 1, "{report}");
    let s100 = &report.services[0];
    assert_eq!((s100.service.as_str(), s100.selected_by.as_deref()), ("s100", Some("services[0], line 3")));
    assert_eq!((first_page.num_calls(), second_page.num_calls()), (1, 1));
    assert_eq!(describe_services.num_calls(), 11, "101 services, 10 a call, each once");
    assert_eq!(no_instances.num_calls(), 1, "one cluster, no container instance: nothing more to read");
}

/// A start whose look at the tasks is throttled until the pacing has no time left to try it
/// again (the deadline 3 s away, backoff 1 s then 2 s): the writes are done and it has no target
/// group to keep right, so the service is `changed` and says its tasks are not confirmed,
/// instead of failing for a read the deadline cut short. (A look that fails for good, or of a
/// service with target groups, still fails the service: `tests/faults.rs`.)
#[tokio::test]
async fn a_start_whose_last_look_at_the_tasks_the_deadline_cut_short_is_changed_and_says_so() {
    let describe_services = mock!(ecs::Client::describe_services)
        .sequence()
        .output(|| described("api", 0, Some("desired=1")))
        .times(2)
        .output(|| described("api", 1, None))
        .repeatedly()
        .build();
    let update = mock!(ecs::Client::update_service)
        .match_requests(|r| r.desired_count() == Some(1))
        .then_output(|| ecs::operation::update_service::UpdateServiceOutput::builder().build());
    let untag = mock!(ecs::Client::untag_resource)
        .then_output(|| ecs::operation::untag_resource::UntagResourceOutput::builder().build());
    let list_tasks = mock!(ecs::Client::list_tasks)
        .sequence()
        .output(|| {
            ecs::operation::list_tasks::ListTasksOutput::builder().task_arns(format!("{ACCOUNT}:task/c/t1")).build()
        })
        .times(2)
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let describe_tasks = mock!(ecs::Client::describe_tasks).then_output(|| {
        let task = ecs::types::Task::builder()
            .task_arn(format!("{ACCOUNT}:task/c/t1"))
            .last_status("PENDING")
            .group("service:api")
            .build();
        ecs::operation::describe_tasks::DescribeTasksOutput::builder().tasks(task).build()
    });
    let sdk = paced_sdk(&[&describe_services, &update, &untag, &list_tasks, &describe_tasks], fast_retries());
    let schedule = Schedule::parse(API_ONLY, "mock.yaml").unwrap();
    let settings = settings();
    let ctx = Context::new(&sdk, &schedule, &settings);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let report =
        handle(&ctx, json!({"action": "start", "environment": "env"}), chrono::Utc::now(), deadline).await.unwrap();
    let api = &report.services[0];
    assert_eq!((api.outcome, api.error.as_deref()), (Outcome::Changed, None), "{report}");
    assert_eq!(api.actions, vec!["set desiredCount 1", "clear snapshot"]);
    assert_eq!(
        api.notes,
        vec![
            "could not read tasks: ListTasks: ThrottlingException: Rate exceeded: its tasks are not confirmed RUNNING \
             (the look before saw none RUNNING)"
        ],
        "{report}"
    );
    assert!(report.error().is_none());
    assert!(report.throttled >= 5, "the throttled looks are counted: {}", report.throttled);
    assert_eq!(update.num_calls(), 1);
}

/// An `Sdk` whose Auto Scaling client answers by these rules (the others are never called).
fn autoscaling_sdk(rules: &[&Rule]) -> Sdk {
    Sdk {
        autoscaling: mock_client!(aws_sdk_autoscaling, RuleMode::MatchAny, rules, |c| c
            .retry_config(fast_retries())
            .time_source(SystemTimeSource::new())),
        ..sdk(&[], &[], &[])
    }
}

fn group_plan(
    save: Option<ecs_cost_saver::state::GroupSize>,
    set: Option<ecs_cost_saver::state::GroupSize>,
    clear: bool,
) -> ecs_cost_saver::plan::capacity::GroupPlan {
    ecs_cost_saver::plan::capacity::GroupPlan {
        group: "shop-ecs".into(),
        before: None,
        after: None,
        saved: None,
        capacity_provider: None,
        decision: ecs_cost_saver::plan::capacity::GroupDecision::Change { save, set, clear },
    }
}

const GROUP_SIZE: ecs_cost_saver::state::GroupSize = ecs_cost_saver::state::GroupSize { min: 1, desired: 2, max: 4 };

/// A group's stop writes its snapshot tag on the group (not propagated to instances), then its
/// sizes, exactly so.
#[tokio::test]
async fn a_group_s_snapshot_tag_and_sizes_are_sent_exactly() {
    let tag = mock!(aws_sdk_autoscaling::Client::create_or_update_tags)
        .match_requests(|r| {
            r.tags()
                == [aws_sdk_autoscaling::types::Tag::builder()
                    .resource_id("shop-ecs")
                    .resource_type("auto-scaling-group")
                    .key("ecs-cost-saver:snapshot")
                    .value("min=1 desired=2 max=4")
                    .propagate_at_launch(false)
                    .build()]
        })
        .then_output(|| {
            aws_sdk_autoscaling::operation::create_or_update_tags::CreateOrUpdateTagsOutput::builder().build()
        });
    let update = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .match_requests(|r| {
            (r.auto_scaling_group_name(), r.min_size(), r.desired_capacity(), r.max_size())
                == (Some("shop-ecs"), Some(0), Some(0), Some(4))
        })
        .then_output(|| {
            aws_sdk_autoscaling::operation::update_auto_scaling_group::UpdateAutoScalingGroupOutput::builder().build()
        });
    let sdk = autoscaling_sdk(&[&tag, &update]);
    let stop =
        group_plan(Some(GROUP_SIZE), Some(ecs_cost_saver::state::GroupSize { min: 0, desired: 0, max: 4 }), false);
    let (done, failure) = ecs_cost_saver::apply::group(&sdk, &stop).await;
    assert_eq!(failure.map(|f| f.message), None);
    assert_eq!(done, vec!["save snapshot min=1 desired=2 max=4", "set min 0 desired 0 max 4"]);
    assert_eq!((tag.num_calls(), update.num_calls()), (1, 1));
}

/// A start whose UpdateAutoScalingGroup fails keeps the group's snapshot: DeleteTags is never
/// sent, and the failure names the call.
#[tokio::test]
async fn a_failed_restore_of_a_group_keeps_its_snapshot() {
    const DENIED: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                          <Message>not allowed</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    let update = mock!(aws_sdk_autoscaling::Client::update_auto_scaling_group)
        .sequence()
        .http_status(403, Some(DENIED.into()))
        .repeatedly()
        .build();
    let untag = mock!(aws_sdk_autoscaling::Client::delete_tags)
        .then_output(|| aws_sdk_autoscaling::operation::delete_tags::DeleteTagsOutput::builder().build());
    let sdk = autoscaling_sdk(&[&update, &untag]);
    let (done, failure) = ecs_cost_saver::apply::group(&sdk, &group_plan(None, Some(GROUP_SIZE), true)).await;
    let failure = failure.expect("the restore failed");
    assert_eq!(failure.kind, ErrorKind::AccessDenied);
    assert_eq!(failure.message, "set min 1 desired 2 max 4 failed: UpdateAutoScalingGroup: AccessDenied: not allowed");
    assert!(done.is_empty());
    assert_eq!(untag.num_calls(), 0, "the snapshot is cleared only after the sizes are set");
}
