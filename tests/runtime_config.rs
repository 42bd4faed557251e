//! A schedule that no longer matches AWS, found at run time against moto: a service that does
//! not exist, an extra target group that was deleted, a cluster that exists only in another
//! region. That service fails with a message that says what is wrong; the others are stopped
//! and started as usual.

mod support;

use std::time::Duration;

use aws_sdk_ecs::config::{Credentials, Region};
use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::report::{Outcome, Report, TargetChange};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::{Value, json};
use support::{Moto, capacity, service};

async fn run(sdk: &Sdk, schedule: &Schedule, action: &str, wait: Duration) -> Report {
    let settings =
        Settings { poll_interval: Duration::from_millis(100), safety_margin: Duration::ZERO, ..Settings::default() };
    let deadline = tokio::time::Instant::now() + wait;
    let ctx = Context::new(sdk, schedule, &settings);
    handle(&ctx, json!({"action": action, "environment": "staging"}), chrono::Utc::now(), deadline).await.unwrap()
}

/// The e2e services plus `extra` (YAML lines), svc-c with the given extra target groups.
fn schedule(svc_c_extra: &[(String, u16)], extra: &str) -> Schedule {
    let groups: Vec<String> =
        svc_c_extra.iter().map(|(arn, port)| format!("{{ arn: '{arn}', container: app, port: {port} }}")).collect();
    let yaml = format!(
        "environments:
  staging:
    services:
      - {{ cluster: alpha, service: svc-a }}
      - {{ cluster: alpha, service: svc-b }}
      - cluster: beta
        service: svc-c
        target_groups: [{}]
{extra}",
        groups.join(", ")
    );
    Schedule::parse(&yaml, "runtime.yaml").unwrap()
}

fn by_name<'a>(report: &'a Report, name: &str) -> &'a ecs_cost_saver::report::ServiceReport {
    report.services.iter().find(|s| s.service == name).unwrap_or_else(|| panic!("{name} not in {report}"))
}

/// The three e2e services are stopped (snapshots saved) or running as seeded.
async fn assert_e2e_services(sdk: &Sdk, stopped: bool) {
    if stopped {
        assert_eq!(service(sdk, "alpha", "svc-a").await, (0, Some("desired=3 min=1 max=4".into())));
        assert_eq!(capacity(sdk, "alpha", "svc-a").await, Some((0, 0)));
        assert_eq!(service(sdk, "alpha", "svc-b").await, (0, Some("desired=2".into())));
        assert_eq!(service(sdk, "beta", "svc-c").await, (0, Some("desired=1".into())));
    } else {
        assert_eq!(service(sdk, "alpha", "svc-a").await, (3, None));
        assert_eq!(capacity(sdk, "alpha", "svc-a").await, Some((1, 4)));
        assert_eq!(service(sdk, "alpha", "svc-b").await, (2, None));
        assert_eq!(service(sdk, "beta", "svc-c").await, (1, None));
    }
}

#[tokio::test]
async fn a_service_missing_from_aws_fails_alone() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let schedule = schedule(&[], "      - { cluster: alpha, service: svc-typo }\n");
    let missing = "service svc-typo not found in cluster alpha (DescribeServices: MISSING)";

    for (action, stopped) in [("stop", true), ("start", false)] {
        let report = run(&sdk, &schedule, action, Duration::from_millis(500)).await;
        let typo = by_name(&report, "svc-typo");
        assert_eq!((typo.outcome, typo.error.as_deref()), (Outcome::Failed, Some(missing)), "{action}");
        for ok in ["svc-a", "svc-b", "svc-c"] {
            assert_eq!(by_name(&report, ok).outcome, Outcome::Changed, "{action}: {report}");
        }
        assert_e2e_services(&sdk, stopped).await;
        assert_eq!(
            report.error().map(|e| e.to_string()),
            Some(format!("{action} staging: 1 of 4 failed: alpha/svc-typo [not_found]: {missing}"))
        );
    }
}

#[tokio::test]
async fn a_deleted_extra_target_group_fails_that_service_only_and_its_other_groups_still_register() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let tg = |name: &str| world["target_groups"][name].as_str().unwrap().to_string();
    // A target group made for svc-c, then deleted while the YAML still lists it.
    let gone = sdk
        .elb
        .create_target_group()
        .name("svc-c-old")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8082)
        .vpc_id(world["vpc"].as_str().unwrap())
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    sdk.elb.delete_target_group().target_group_arn(&gone).send().await.unwrap();
    let schedule = schedule(&[(tg("svc-c-extra"), 8081), (gone.clone(), 8082)], "");

    let report = run(&sdk, &schedule, "stop", Duration::from_millis(500)).await;
    assert!(report.error().is_none(), "a stop does not look at target groups: {report}");
    let a = moto.seed(&["run-tasks", "--cluster", "alpha", "--service", "svc-a", "--count", "3"]);
    let b = moto.seed(&["run-tasks", "--cluster", "alpha", "--service", "svc-b", "--count", "2"]);
    let c = moto.seed(&["run-tasks", "--cluster", "beta", "--service", "svc-c", "--count", "1"]);

    for action in ["start", "register"] {
        let report = run(&sdk, &schedule, action, Duration::from_secs(5)).await;
        let svc_c = by_name(&report, "svc-c");
        assert_eq!(svc_c.outcome, Outcome::Failed, "{action}: {report}");
        assert_eq!(
            svc_c.error.as_deref(),
            Some(
                format!(
                    "target group {gone}: DescribeTargetGroups: TargetGroupNotFound: One or more target groups not found"
                )
                .as_str()
            ),
            "{action}"
        );
        for ok in ["svc-a", "svc-b"] {
            assert_ne!(by_name(&report, ok).outcome, Outcome::Failed, "{action}: {report}");
        }
        assert_e2e_services(&sdk, false).await;
        // svc-c's other target groups got its task all the same.
        let registered = |tg: String, port: i32| {
            let sdk = sdk.clone();
            async move {
                let out = sdk.elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
                out.target_health_descriptions()
                    .iter()
                    .filter_map(|d| d.target())
                    .filter(|t| t.port() == Some(port))
                    .map(|t| t.id().unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        };
        let ip = |tasks: &Value, i: usize| tasks["tasks"][i]["ip"].as_str().unwrap().to_string();
        assert_eq!(registered(tg("svc-c-tg"), 8080).await, vec![ip(&c, 0)]);
        assert_eq!(registered(tg("svc-c-extra"), 8081).await, vec![ip(&c, 0)]);
        let mut a_ips = registered(tg("svc-a-tg"), 8080).await;
        a_ips.sort();
        let mut want: Vec<String> = (0..3).map(|i| ip(&a, i)).collect();
        want.sort();
        assert_eq!(a_ips, want);
        assert_eq!(registered(tg("svc-b-tg"), 9090).await.len(), 2, "{b}");
    }
    // The first start registered everything it could; the register after it had nothing left.
    let report = run(&sdk, &schedule, "register", Duration::from_secs(5)).await;
    assert!(report.targets.iter().all(|t| t.change != TargetChange::Failed), "{report}");
}

#[tokio::test]
async fn a_cluster_in_another_region_is_not_found_here() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    // gamma/svc-g exists, but in us-east-1; the function works in ap-northeast-1.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let us = aws_sdk_ecs::Client::new(&config);
    us.create_cluster().cluster_name("gamma").send().await.unwrap();
    let td = us
        .register_task_definition()
        .family("svc-g")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder().name("app").image("nginx").memory(256).build(),
        )
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    us.create_service()
        .cluster("gamma")
        .service_name("svc-g")
        .task_definition(td)
        .desired_count(2)
        .send()
        .await
        .unwrap();

    let schedule = schedule(&[], "      - { cluster: gamma, service: svc-g }\n");
    let not_here = "cluster gamma not found in this account and region \
                    (DescribeServices: ClusterNotFoundException: Cluster not found.)";
    for (action, stopped) in [("stop", true), ("start", false)] {
        let report = run(&sdk, &schedule, action, Duration::from_millis(500)).await;
        let g = by_name(&report, "svc-g");
        assert_eq!((g.outcome, g.error.as_deref()), (Outcome::Failed, Some(not_here)), "{action}");
        for ok in ["svc-a", "svc-b", "svc-c"] {
            assert_eq!(by_name(&report, ok).outcome, Outcome::Changed, "{action}: {report}");
        }
        assert_e2e_services(&sdk, stopped).await;
        // Untouched where it is.
        let there = us.describe_services().cluster("gamma").services("svc-g").send().await.unwrap();
        assert_eq!(there.services()[0].desired_count(), 2);
    }
}
