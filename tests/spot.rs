//! Spot interruptions end to end against moto server: what is left in the target groups and the
//! container instance's status after each event.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::report::{Outcome, Report, TargetChange};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::{Value, json};
use support::Moto;

fn repo_file(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn schedule() -> Schedule {
    Schedule::parse(
        "environments:\n  spot:\n    services:\n      - { cluster: spot, service: web }\n      - { cluster: spot-ec2, service: legacy }\n",
        "spot.yaml",
    )
    .unwrap()
}

async fn run(sdk: &Sdk, event: Value) -> Report {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let settings = Settings { safety_margin: Duration::ZERO, ..Settings::default() };
    handle(&Context::new(sdk, &schedule(), &settings), event, chrono::Utc::now(), deadline).await.unwrap()
}

async fn targets(sdk: &Sdk, tg: &str) -> BTreeSet<(String, i32)> {
    let out = sdk.elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
    out.target_health_descriptions()
        .iter()
        .map(|d| {
            let t = d.target().unwrap();
            (t.id().unwrap().to_string(), t.port().unwrap())
        })
        .collect()
}

/// The documented Fargate Spot event (fixture) from the test account, for a task the emulator
/// runs.
fn interruption(task_arn: &str, ip: &str) -> Value {
    support::spot_interruption("123456789012", "ap-northeast-1", task_arn, ip)
}

#[tokio::test]
async fn an_interrupted_task_leaves_both_target_groups_and_its_sibling_stays() {
    let moto = Moto::start();
    let world = moto.seed(&["spot"]);
    let sdk = moto.sdk().await;
    let tg = |name: &str| world["target_groups"][name].as_str().unwrap().to_string();
    let task = |i: usize| {
        let t = &world["web_tasks"][i];
        (t["arn"].as_str().unwrap().to_string(), t["ip"].as_str().unwrap().to_string())
    };
    let ((arn1, ip1), (_, ip2)) = (task(0), task(1));
    let both = BTreeSet::from([(ip1.clone(), 8080), (ip2.clone(), 8080)]);
    assert_eq!(targets(&sdk, &tg("web-alb-tg")).await, both);
    assert_eq!(targets(&sdk, &tg("web-nlb-tg")).await, both);

    let report = run(&sdk, interruption(&arn1, &ip1)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.services[0].outcome, Outcome::Changed);
    let mut gone: Vec<(String, String, u16, TargetChange)> =
        report.targets.iter().map(|t| (t.target_group.clone(), t.target.id.clone(), t.target.port, t.change)).collect();
    gone.sort();
    let mut expected = vec![
        (tg("web-alb-tg"), ip1.clone(), 8080, TargetChange::Deregistered),
        (tg("web-nlb-tg"), ip1.clone(), 8080, TargetChange::Deregistered),
    ];
    expected.sort();
    assert_eq!(gone, expected);
    let sibling = BTreeSet::from([(ip2.clone(), 8080)]);
    assert_eq!(targets(&sdk, &tg("web-alb-tg")).await, sibling, "only the interrupted task left the ALB");
    assert_eq!(targets(&sdk, &tg("web-nlb-tg")).await, sibling, "only the interrupted task left the NLB");

    // A later event for the same task (lastStatus DEACTIVATING, version 4): its targets are
    // already gone, which counts as done.
    let mut later = interruption(&arn1, &ip1);
    later["detail"]["version"] = json!(4);
    later["detail"]["lastStatus"] = json!("DEACTIVATING");
    let report = run(&sdk, later).await;
    assert!(report.error().is_none(), "{report}");
    assert!(report.targets.iter().all(|t| t.change == TargetChange::NotRegistered), "{report}");
    assert_eq!(targets(&sdk, &tg("web-alb-tg")).await, sibling);
}

#[tokio::test]
async fn an_ec2_spot_warning_drains_the_instance_and_takes_it_out_of_instance_target_groups() {
    let moto = Moto::start();
    let world = moto.seed(&["spot"]);
    let sdk = moto.sdk().await;
    let instance = world["instance_id"].as_str().unwrap();
    let legacy_tg = world["target_groups"]["legacy-tg"].as_str().unwrap();
    let port = world["legacy_task"]["host_port"].as_i64().unwrap() as i32;
    assert_eq!(targets(&sdk, legacy_tg).await, BTreeSet::from([(instance.to_string(), port)]));

    let mut event = repo_file("tests/fixtures/events/ec2-spot-warning.json");
    event["detail"]["instance-id"] = json!(instance);
    let report = run(&sdk, event).await;
    assert!(report.error().is_none(), "{report}");
    let ci = world["container_instance_arn"].as_str().unwrap();
    assert_eq!(report.notes, vec![format!("container instance {ci} set to DRAINING")]);
    let described = sdk.ecs.describe_container_instances().cluster("spot-ec2").container_instances(ci).send().await;
    assert_eq!(described.unwrap().container_instances()[0].status(), Some("DRAINING"));
    assert_eq!(targets(&sdk, legacy_tg).await, BTreeSet::new(), "the instance left its target group");
    assert_eq!(
        report.targets.iter().map(|t| (t.target.id.as_str(), t.target.port, t.change)).collect::<Vec<_>>(),
        vec![(instance, port as u16, TargetChange::Deregistered)]
    );
    // The Fargate targets in the other cluster are untouched.
    assert_eq!(targets(&sdk, world["target_groups"]["web-alb-tg"].as_str().unwrap()).await.len(), 2);

    // An instance in none of the clusters: skipped, not an error.
    let mut event = repo_file("tests/fixtures/events/ec2-spot-warning.json");
    event["detail"]["instance-id"] = json!("i-0000000000000dead");
    let report = run(&sdk, event).await;
    assert_eq!(
        report.skipped_reason.as_deref(),
        Some("instance i-0000000000000dead is a container instance of none of the clusters spot, spot-ec2")
    );
    assert!(report.error().is_none());
}
