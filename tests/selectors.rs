//! Selectors, the owners' exclusion tags and `start_order`, end to end against moto: state in
//! the emulator after each action, the report, and the order of the recorded requests. The
//! start-order test goes through the AWS-like world of `support/world.rs` (ECS's scheduler
//! starts and stops the tasks a short while after each UpdateService and registers them in the
//! services' own target groups; moto does neither), without its buckets.

mod support;

use std::time::Duration;

use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use serde_json::{Value, json};
use support::world::{Options, World};
use support::{Moto, capacity, e2e_run as run, frictionless, sdk_at, service};

const SCHEDULE: &str = "\
environments:
  staging:
    stop: [\"cron(0 22 ? * MON-FRI *)\"]
    start: [\"cron(0 8 ? * MON-FRI *)\"]
    start_order: [[migrate], [api, worker], [web]]
    services:
      - cluster: shop
        select: all
        except: [batch]
  ops:
    services:
      - cluster: shop
        select: { tags: { team: ops } }
";

const ENTRY: &str = "services[0], line 7";

fn outcomes(report: &Report) -> Vec<(String, Outcome)> {
    let mut all: Vec<(String, Outcome)> = report.services.iter().map(|s| (s.service.clone(), s.outcome)).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

async fn tag(sdk: &Sdk, arn: &str, key: &str, value: &str) {
    let tag = aws_sdk_ecs::types::Tag::builder().key(key).value(value).build();
    sdk.ecs.tag_resource().resource_arn(arn).tags(tag).send().await.unwrap();
}

/// A service made after the schedule file was written, like `batch` (no target group).
async fn add_service(sdk: &Sdk, world: &Value, name: &str) {
    let subnets: Vec<String> =
        world["subnets"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let network = aws_sdk_ecs::types::NetworkConfiguration::builder()
        .awsvpc_configuration(
            aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                .set_subnets(Some(subnets))
                .security_groups(world["security_group"].as_str().unwrap())
                .build()
                .unwrap(),
        )
        .build();
    sdk.ecs
        .create_service()
        .cluster("shop")
        .service_name(name)
        .task_definition(world["services"]["batch"]["task_definition"].as_str().unwrap())
        .desired_count(1)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .network_configuration(network)
        .send()
        .await
        .unwrap();
}

/// The services of the UpdateService requests among `requests`, in order.
fn updated(requests: &[(String, String)]) -> Vec<String> {
    requests
        .iter()
        .filter(|(op, _)| op == "UpdateService")
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["service"].as_str().unwrap().to_string())
        .collect()
}

/// Where the first request of `op` whose body contains `text` is among `requests`.
fn first(requests: &[(String, String)], op: &str, text: &str) -> usize {
    requests
        .iter()
        .position(|(o, body)| o == op && body.contains(text))
        .unwrap_or_else(|| panic!("no {op} with {text} in {:?}", requests.iter().map(|(o, _)| o).collect::<Vec<_>>()))
}

#[tokio::test]
async fn select_all_with_exclusions_a_late_service_and_start_order() {
    let moto = Moto::start();
    let world = moto.seed(&["select"]);
    let ecs = World::start(moto.port, Options::plain(Duration::from_millis(2)).task_start(Duration::from_millis(400)));
    let sdk = sdk_at(&ecs.endpoint(), &frictionless()).await;
    let arn = |name: &str| world["services"][name]["arn"].as_str().unwrap().to_string();
    tag(&sdk, &arn("cache"), "ecs-cost-saver:exclude", "true").await;
    tag(&sdk, &arn("docs"), "ecs-cost-saver:exclude-until", "2026-01-05T09:00+09:00").await;
    let schedule = Schedule::parse(SCHEDULE, "select.yaml").unwrap();
    // Made after the file was written: the selector chooses it all the same.
    add_service(&sdk, &world, "worker").await;

    // Stop: every service but `batch` (except) and `cache` (excluded by its owner's tag).
    let stop = json!({"action": "stop", "environment": "staging"});
    let (report, requests) = moto.recording_requests(run(&sdk, &schedule, stop, Duration::from_secs(20))).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(
        outcomes(&report),
        vec![
            ("api".into(), Outcome::Changed),
            ("cache".into(), Outcome::Skipped),
            ("docs".into(), Outcome::Changed),
            ("migrate".into(), Outcome::Changed),
            ("web".into(), Outcome::Changed),
            ("worker".into(), Outcome::Changed),
        ],
        "{report}"
    );
    assert!(report.services.iter().all(|s| s.selected_by.as_deref() == Some(ENTRY)), "{report}");
    let cache = report.services.iter().find(|s| s.service == "cache").unwrap();
    assert_eq!(cache.reason.as_deref(), Some("excluded by tag ecs-cost-saver:exclude (until the tag is removed)"));
    assert_eq!(report.exclusions.len(), 1, "{report}");
    assert_eq!((report.exclusions[0].service.as_str(), report.exclusions[0].until.as_ref()), ("cache", None));
    let docs = report.services.iter().find(|s| s.service == "docs").unwrap();
    assert_eq!(docs.notes, vec!["exclusion expired at 2026-01-05T09:00+09:00: the tag is ignored"], "{report}");
    for (name, desired) in
        [("migrate", 0), ("api", 0), ("web", 0), ("worker", 0), ("docs", 0), ("cache", 1), ("batch", 1)]
    {
        assert_eq!(service(&sdk, "shop", name).await.0, desired, "{name} after the stop");
    }
    assert_eq!(capacity(&sdk, "shop", "api").await, Some((0, 0)));
    // The groups in reverse: web, then api and worker, then migrate with the unnamed (docs).
    let order = updated(&requests);
    assert_eq!(order.len(), 5, "{order:?}");
    assert_eq!(order[0], "web", "{order:?}");
    let mut middle = order[1..3].to_vec();
    middle.sort();
    assert_eq!(middle, ["api", "worker"], "{order:?}");
    let mut last = order[3..].to_vec();
    last.sort();
    assert_eq!(last, ["docs", "migrate"], "{order:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n == "stop order (start_order reversed): [web], then [api, worker], then [migrate]")
    );

    // Start: a group starts only once the group before it runs, registered and healthy.
    let start = json!({"action": "start", "environment": "staging"});
    let (report, requests) = moto.recording_requests(run(&sdk, &schedule, start, Duration::from_secs(30))).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.services.iter().filter(|s| s.outcome == Outcome::Changed).count(), 5, "{report}");
    for (name, desired) in
        [("migrate", 1), ("api", 2), ("web", 2), ("worker", 1), ("docs", 1), ("cache", 1), ("batch", 1)]
    {
        assert_eq!(service(&sdk, "shop", name).await.0, desired, "{name} after the start");
    }
    assert_eq!(capacity(&sdk, "shop", "api").await, Some((1, 4)));
    let order = updated(&requests);
    let at = |name: &str| order.iter().position(|s| s == name).unwrap();
    assert!(at("migrate") < at("api") && at("migrate") < at("worker"), "{order:?}");
    assert!(at("api") < at("web") && at("worker") < at("web"), "{order:?}");
    // ECS started migrate's task before api was asked for, and api's targets were seen healthy
    // before web was.
    let migrate_ran = first(&requests, "RunTask", "service:migrate");
    let api_asked = first(&requests, "UpdateService", "\"service\":\"api\"");
    assert!(migrate_ran < api_asked, "migrate's task at {migrate_ran}, api's UpdateService at {api_asked}");
    let api_ran = first(&requests, "RunTask", "service:api");
    let health = requests[api_ran..].iter().position(|(op, _)| op == "DescribeTargetHealth").map(|i| i + api_ran);
    let web_asked = first(&requests, "UpdateService", "\"service\":\"web\"");
    assert!(health.is_some_and(|h| h < web_asked), "api's health at {health:?}, web's UpdateService at {web_asked}");
    for group in ["[migrate]", "[api, worker]"] {
        assert!(
            report.notes.iter().any(|n| n.starts_with(&format!("start_order group {group} ready after "))),
            "{report}"
        );
    }

    // Stop again, now that tasks run: api is asked to stop only once web's tasks are gone.
    assert!(ecs.wait_quiet(Duration::from_secs(30)), "ECS still busy after the start");
    // moto lists every task of the cluster whatever the service name: pick web's by group.
    let listed = sdk.ecs.list_tasks().cluster("shop").send().await.unwrap();
    let described = sdk.ecs.describe_tasks().cluster("shop").set_tasks(Some(listed.task_arns().to_vec())).send();
    let web_tasks: Vec<String> = described
        .await
        .unwrap()
        .tasks()
        .iter()
        .filter(|t| t.group() == Some("service:web"))
        .map(|t| t.task_arn().unwrap().to_string())
        .collect();
    assert_eq!(web_tasks.len(), 2);
    let stop = json!({"action": "stop", "environment": "staging"});
    let (report, requests) = moto.recording_requests(run(&sdk, &schedule, stop, Duration::from_secs(30))).await;
    assert!(report.error().is_none(), "{report}");
    let web_stopped =
        web_tasks.iter().map(|arn| first(&requests, "StopTask", arn)).max().expect("ECS stopped web's tasks");
    let api_asked = first(&requests, "UpdateService", "\"service\":\"api\"");
    assert!(web_stopped < api_asked, "web's last task stopped at {web_stopped}, api's UpdateService at {api_asked}");
    assert!(report.notes.iter().any(|n| n.starts_with("start_order group [web] gone after ")), "{report}");
}

#[tokio::test]
async fn a_group_that_is_not_ready_in_time_does_not_hold_the_rest() {
    let moto = Moto::start();
    moto.seed(&["select"]);
    // Tasks take 2.5 s; the run has 4.5 s: the first group's share is 1.5 s.
    let ecs = World::start(moto.port, Options::plain(Duration::from_millis(2)).task_start(Duration::from_millis(2500)));
    let sdk = sdk_at(&ecs.endpoint(), &frictionless()).await;
    let schedule = Schedule::parse(SCHEDULE, "select.yaml").unwrap();
    run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(10)).await;
    assert!(ecs.wait_quiet(Duration::from_secs(30)));
    let start = json!({"action": "start", "environment": "staging"});
    let report = run(&sdk, &schedule, start, Duration::from_millis(4500)).await;
    // Every group was asked for all the same.
    for name in ["migrate", "api", "web", "cache", "docs"] {
        assert!(service(&sdk, "shop", name).await.0 > 0, "{name}: {report}");
    }
    let late = report
        .notes
        .iter()
        .find(|n| {
            n.starts_with(
                "start_order group [migrate] was not ready within its 1 s; the next groups went on without it",
            )
        })
        .unwrap_or_else(|| panic!("{report}"));
    assert!(late.ends_with(" s late"), "migrate's tasks ran within the run, after its time: {late}");
}

#[tokio::test]
async fn a_service_two_environments_select_fails_in_both_and_is_not_touched() {
    let moto = Moto::start();
    let world = moto.seed(&["select"]);
    let sdk = moto.sdk().await;
    tag(&sdk, world["services"]["api"]["arn"].as_str().unwrap(), "team", "ops").await;
    let schedule = Schedule::parse(SCHEDULE, "select.yaml").unwrap();

    let staging =
        run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(5)).await;
    let api = staging.services.iter().find(|s| s.service == "api").unwrap();
    assert_eq!(api.outcome, Outcome::Failed, "{staging}");
    assert_eq!(
        api.error.as_deref(),
        Some(
            "service shop/api belongs to environment `staging` (services[0], line 7) and to `ops` (services[0], line 12): \
             a service belongs to one environment only; narrow a selector (`except`, tags) or remove one entry"
        )
    );
    // migrate, web, cache and docs (no exclusion tags in this test); batch is excepted.
    assert_eq!(staging.services.iter().filter(|s| s.outcome == Outcome::Changed).count(), 4, "{staging}");

    let ops = run(&sdk, &schedule, json!({"action": "stop", "environment": "ops"}), Duration::from_secs(5)).await;
    assert_eq!(ops.services.len(), 1, "{ops}");
    assert_eq!(ops.services[0].outcome, Outcome::Failed);
    assert!(ops.services[0].error.as_deref().unwrap().contains("and to `staging` (services[0], line 7)"), "{ops}");
    assert_eq!(service(&sdk, "shop", "api").await.0, 2, "neither environment stopped it");

    // A selector that chooses nothing is said, not an error.
    tag(&sdk, world["services"]["api"]["arn"].as_str().unwrap(), "team", "web").await;
    let status = run(&sdk, &schedule, json!({"action": "status", "environment": "ops"}), Duration::from_secs(5)).await;
    assert!(status.error().is_none() && status.services.is_empty(), "{status}");
    assert_eq!(status.notes, vec!["services[0], line 12 (shop: select tags team=ops) chooses no service"]);
}
