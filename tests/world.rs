//! The AWS-like world of `tests/support/world.rs`, against moto: its buckets throttle in each
//! protocol's real shape (and the SDK takes them for throttling and retries them), and its ECS
//! starts a service's tasks, registered in the service's own target groups before anyone sees
//! them RUNNING, and stops and deregisters them again.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::DesiredStatus;
use ecs_cost_saver::pace::{Group, Limits};
use support::world::{Options, World, tally};
use support::{Moto, REGION};

/// SDK configuration pointed at `endpoint`, `attempts` tries per call, retries at once.
async fn config(endpoint: &str, attempts: u32) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(1)),
        )
        .load()
        .await
}

fn world(moto: &Moto, limits: &str) -> World {
    World::start(moto.port, Options::aws().limits(Limits::parse(limits).unwrap()).task_start(Duration::from_secs(3)))
}

/// The error code of a failed call (None if it succeeded).
fn code<T, E: ProvideErrorMetadata>(result: &Result<T, E>) -> Option<String> {
    result.as_ref().err().and_then(|e| e.code()).map(str::to_string)
}

#[tokio::test]
async fn the_fourth_update_service_is_throttled_and_one_two_seconds_later_passes() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    // A token every 2 s: the three calls may take a while on a loaded machine.
    let world = world(&moto, "ecs-service-modify=3/0.5");
    let ecs = aws_sdk_ecs::Client::new(&config(&world.endpoint(), 1).await);
    // desiredCount 0 of a service with no tasks: ECS has nothing to do.
    let update = || ecs.update_service().cluster("alpha").service("svc-b").desired_count(0).send();
    for i in 0..3 {
        assert_eq!(code(&update().await), None, "call {i} has a token");
    }
    let fourth = update().await;
    assert_eq!(code(&fourth), Some("ThrottlingException".into()), "{fourth:?}");
    assert_eq!(fourth.unwrap_err().raw_response().map(|r| r.status().as_u16()), Some(400));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(code(&update().await), None, "a token came back");
    let log = world.take();
    assert_eq!(log.iter().filter(|r| r.throttled).count(), 1);
    let t = tally(&log)[&Group::EcsServiceModify];
    assert_eq!((t.calls, t.throttled), (5, 1));

    // The SDK's standard retry takes it for throttling: three attempts, all throttled.
    let retrying = aws_sdk_ecs::Client::new(&config(&world.endpoint(), 3).await);
    let again = retrying.update_service().cluster("alpha").service("svc-b").desired_count(0).send().await;
    assert_eq!(code(&again), Some("ThrottlingException".into()));
    let log = world.take();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.iter().all(|r| r.throttled && r.operation == "UpdateService"));
}

#[tokio::test]
async fn every_protocol_answers_throttling_as_the_sdk_expects_it() {
    let moto = Moto::start();
    let seeded = moto.seed(&["e2e"]);
    let tg = seeded["target_groups"]["svc-a-tg"].as_str().unwrap().to_string();
    let world = world(&moto, "elb-describe=2/0.01,application-autoscaling=1/0.01,scheduler=1/0.01,dynamodb=1/0.01");
    for attempts in [1, 3] {
        world.refill();
        world.take();
        let config = config(&world.endpoint(), attempts).await;
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let health = || elb.describe_target_health().target_group_arn(&tg).send();
        assert_eq!(code(&health().await), None);
        assert_eq!(code(&health().await), None);
        let throttled = health().await;
        assert_eq!(code(&throttled), Some("Throttling".into()), "{throttled:?}");

        let scaling = aws_sdk_applicationautoscaling::Client::new(&config);
        let describe = || {
            scaling
                .describe_scalable_targets()
                .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
                .send()
        };
        assert_eq!(code(&describe().await), None);
        assert_eq!(code(&describe().await), Some("ThrottlingException".into()));

        let scheduler = aws_sdk_scheduler::Client::new(&config);
        let get = || scheduler.get_schedule().name("nothing").send();
        assert_eq!(code(&get().await), Some("ResourceNotFoundException".into()), "the first goes to moto");
        let throttled = get().await;
        assert_eq!(code(&throttled), Some("ThrottlingException".into()), "{throttled:?}");

        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let table = || dynamodb.describe_table().table_name("nothing").send();
        assert_eq!(code(&table().await), Some("ResourceNotFoundException".into()));
        let throttled = table().await;
        assert_eq!(code(&throttled), Some("ThrottlingException".into()), "{throttled:?}");

        // Each throttled call was tried `attempts` times: the SDK retries them as throttling.
        let log = world.take();
        for group in [Group::ElbDescribe, Group::Scaling, Group::Scheduler, Group::Table] {
            assert_eq!(tally(&log)[&group].throttled, u64::from(attempts), "{group} with {attempts} attempts");
        }
    }
}

#[tokio::test]
async fn elb_calls_draw_from_the_account_wide_bucket_too() {
    let moto = Moto::start();
    let seeded = moto.seed(&["e2e"]);
    let tg = seeded["target_groups"]["svc-a-tg"].as_str().unwrap().to_string();
    let world = world(&moto, "elb-account=3/0.01");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config(&world.endpoint(), 1).await);
    assert_eq!(code(&elb.describe_target_health().target_group_arn(&tg).send().await), None);
    assert_eq!(code(&elb.describe_target_groups().send().await), None);
    let targets = aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder().id("10.0.1.9").port(8080).build();
    assert_eq!(code(&elb.register_targets().target_group_arn(&tg).targets(targets.clone()).send().await), None);
    // elb-describe and elb-register have tokens left; the account's bucket has none.
    let fourth = elb.deregister_targets().target_group_arn(&tg).targets(targets).send().await;
    assert_eq!(code(&fourth), Some("Throttling".into()), "{fourth:?}");
    assert_eq!(code(&elb.describe_target_groups().send().await), Some("Throttling".into()));
}

/// (IP, port) of the targets of `tg` that are registered (not on their way out).
async fn registered(elb: &aws_sdk_elasticloadbalancingv2::Client, tg: &str) -> BTreeSet<(String, i32)> {
    use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
    let out = elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
    out.target_health_descriptions()
        .iter()
        .filter(|d| {
            !matches!(
                d.target_health().and_then(|h| h.state()),
                Some(TargetHealthStateEnum::Unused | TargetHealthStateEnum::Draining)
            )
        })
        .filter_map(|d| d.target())
        .map(|t| (t.id().unwrap().to_string(), t.port().unwrap()))
        .collect()
}

/// (ARN, lastStatus, IP) of the service's tasks that are to be RUNNING.
async fn tasks(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Vec<(String, String, String)> {
    let listed = ecs.list_tasks().cluster(cluster).desired_status(DesiredStatus::Running).send().await.unwrap();
    if listed.task_arns().is_empty() {
        return Vec::new();
    }
    let described = ecs.describe_tasks().cluster(cluster).set_tasks(Some(listed.task_arns().to_vec())).send().await;
    let group = format!("service:{service}");
    described
        .unwrap()
        .tasks()
        .iter()
        .filter(|t| t.group() == Some(group.as_str()))
        .map(|t| {
            let ip = t
                .attachments()
                .iter()
                .flat_map(|a| a.details())
                .find(|d| d.name() == Some("privateIPv4Address"))
                .and_then(|d| d.value())
                .unwrap_or_default();
            (t.task_arn().unwrap().to_string(), t.last_status().unwrap_or_default().to_string(), ip.to_string())
        })
        .collect()
}

#[tokio::test]
async fn ecs_starts_tasks_registered_in_the_services_own_target_groups_and_stops_them() {
    let moto = Moto::start();
    let seeded = moto.seed(&["e2e"]);
    let own = seeded["target_groups"]["svc-c-tg"].as_str().unwrap().to_string();
    let yaml_only = seeded["target_groups"]["svc-c-extra"].as_str().unwrap().to_string();
    // Reads unthrottled: the test looks as often as it likes. ECS registers a task a second
    // after it started it: without the held-back reads the test would see it unregistered.
    let limits = Limits::parse("ecs-cluster-read=100000/100000").unwrap();
    let options = Options::aws().limits(limits).task_start(Duration::from_secs(3));
    let world = World::start(moto.port, options.register_lag(Duration::from_secs(1)));
    let through = aws_sdk_ecs::Client::new(&config(&world.endpoint(), 1).await);
    let direct = moto.sdk().await;

    through.update_service().cluster("beta").service("svc-c").desired_count(2).send().await.unwrap();
    let asked = Instant::now();
    // Whenever a task is seen RUNNING through the world, it is registered already.
    let mut seen = BTreeSet::new();
    while seen.len() < 2 {
        assert!(asked.elapsed() < Duration::from_secs(3 + 1 + 5), "2 tasks within task_start + 5 s; saw {seen:?}");
        for (arn, status, ip) in tasks(&through, "beta", "svc-c").await {
            if status == "RUNNING" {
                assert!(
                    registered(&direct.elb, &own).await.contains(&(ip.clone(), 8080)),
                    "{arn} {ip} seen unregistered"
                );
                seen.insert(ip);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(asked.elapsed() >= Duration::from_millis(2900), "not before task_start: {:?}", asked.elapsed());
    assert!(world.wait_quiet(Duration::from_secs(10)));
    let running: BTreeSet<String> = tasks(&direct.ecs, "beta", "svc-c").await.into_iter().map(|t| t.2).collect();
    assert_eq!(running, seen);
    let expected: BTreeSet<(String, i32)> = seen.iter().map(|ip| (ip.clone(), 8080)).collect();
    assert_eq!(registered(&direct.elb, &own).await, expected, "the service's own target group, container port");
    assert_eq!(registered(&direct.elb, &yaml_only).await, BTreeSet::new(), "ECS does not know the YAML's");

    through.update_service().cluster("beta").service("svc-c").desired_count(0).send().await.unwrap();
    assert!(world.wait_quiet(Duration::from_secs(3 + 10)));
    assert_eq!(tasks(&direct.ecs, "beta", "svc-c").await, Vec::new(), "stopped");
    assert_eq!(registered(&direct.elb, &own).await, BTreeSet::new(), "deregistered");
    let counts = world.ecs_counts();
    assert_eq!((counts.started, counts.stopped, counts.errors), (2, 2, Vec::<String>::new()));
}

#[tokio::test]
async fn a_later_update_service_replaces_a_pending_one() {
    let moto = Moto::start();
    let seeded = moto.seed(&["e2e"]);
    let tg = seeded["target_groups"]["svc-a-tg"].as_str().unwrap().to_string();
    let world = world(&moto, "");
    let through = aws_sdk_ecs::Client::new(&config(&world.endpoint(), 1).await);
    through.update_service().cluster("alpha").service("svc-a").desired_count(3).send().await.unwrap();
    through.update_service().cluster("alpha").service("svc-a").desired_count(1).send().await.unwrap();
    assert!(world.wait_quiet(Duration::from_secs(3 + 10)));
    let direct = moto.sdk().await;
    let running = tasks(&direct.ecs, "alpha", "svc-a").await;
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(registered(&direct.elb, &tg).await, BTreeSet::from([(running[0].2.clone(), 8080)]));
    assert_eq!(world.ecs_counts().started, 1);
}
