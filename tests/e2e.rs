//! End to end against moto server: state in the emulator after each action.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::error::ErrorKind;
use ecs_cost_saver::report::{Outcome, Report, TargetChange};
use ecs_cost_saver::schedule::Schedule;
use serde_json::{Value, json};
use support::{MUTATING, Moto, capacity, e2e_run as run, service};

fn schedule(world: &Value, extra_services: &str) -> Schedule {
    let yaml = format!(
        "environments:
  staging:
    stop: [\"cron(0 22 ? * MON-FRI *)\"]
    start: [\"cron(0 8 ? * MON-FRI *)\"]
    services:
      - {{ cluster: alpha, service: svc-a }}
      - {{ cluster: alpha, service: svc-b }}
      - cluster: beta
        service: svc-c
        target_groups: [{{ arn: '{}', container: app, port: 8081 }}]
{extra_services}",
        world["target_groups"]["svc-c-extra"].as_str().unwrap()
    );
    Schedule::parse(&yaml, "e2e.yaml").unwrap()
}

async fn targets(sdk: &Sdk, tg: &str) -> BTreeSet<(String, i32)> {
    let out = sdk.elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
    out.target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .map(|t| (t.id().unwrap().to_string(), t.port().unwrap()))
        .collect()
}

fn ips(run_tasks: &Value, port: i32) -> BTreeSet<(String, i32)> {
    run_tasks["tasks"].as_array().unwrap().iter().map(|t| (t["ip"].as_str().unwrap().to_string(), port)).collect()
}

fn outcomes(report: &Report) -> Vec<(String, Outcome)> {
    report.services.iter().map(|s| (s.service.clone(), s.outcome)).collect()
}

#[tokio::test]
async fn stop_twice_then_start_restores_exactly_and_registers_tasks() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let schedule = schedule(&world, "");
    let tg = |name: &str| world["target_groups"][name].as_str().unwrap().to_string();

    // Stop: everything to zero, snapshots saved.
    let report =
        run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(5)).await;
    assert_eq!(
        outcomes(&report),
        vec![
            ("svc-a".into(), Outcome::Changed),
            ("svc-b".into(), Outcome::Changed),
            ("svc-c".into(), Outcome::Changed)
        ]
    );
    assert!(report.error().is_none());
    assert_eq!(
        report.services[0].actions,
        vec![
            "save snapshot desired=3 min=1 max=4",
            "set scalable target min 0 max 0 suspended in+out+scheduled",
            "set desiredCount 0"
        ]
    );
    assert_eq!(service(&sdk, "alpha", "svc-a").await, (0, Some("desired=3 min=1 max=4".into())));
    assert_eq!(capacity(&sdk, "alpha", "svc-a").await, Some((0, 0)));
    assert_eq!(service(&sdk, "alpha", "svc-b").await, (0, Some("desired=2".into())));
    assert_eq!(capacity(&sdk, "alpha", "svc-b").await, None);
    assert_eq!(service(&sdk, "beta", "svc-c").await, (0, Some("desired=1".into())));

    // Stop again: snapshots untouched, not one mutating call.
    let (report, ops) = moto
        .recording(run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(5)))
        .await;
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Unchanged && s.actions.is_empty()));
    assert_eq!(ops.iter().filter(|op| MUTATING.contains(&op.as_str())).count(), 0, "{ops:?}");
    assert_eq!(
        ops.iter().filter(|op| *op == "DescribeServices").count(),
        2,
        "one DescribeServices per cluster: {ops:?}"
    );
    assert_eq!(service(&sdk, "alpha", "svc-a").await, (0, Some("desired=3 min=1 max=4".into())));
    assert_eq!(service(&sdk, "alpha", "svc-b").await, (0, Some("desired=2".into())));

    // The emulator starts no tasks itself: start them as ECS would once desired is restored.
    let a = moto.seed(&["run-tasks", "--cluster", "alpha", "--service", "svc-a", "--count", "3"]);
    let b = moto.seed(&["run-tasks", "--cluster", "alpha", "--service", "svc-b", "--count", "2"]);
    let c = moto.seed(&["run-tasks", "--cluster", "beta", "--service", "svc-c", "--count", "1"]);

    // Start: exactly 3 (1..4), 2 and 1 restored, snapshots cleared, every task registered.
    let report =
        run(&sdk, &schedule, json!({"action": "start", "environment": "staging"}), Duration::from_secs(10)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(
        report.services[0].actions,
        vec!["set scalable target min 1 max 4", "set desiredCount 3", "clear snapshot"]
    );
    assert_eq!(service(&sdk, "alpha", "svc-a").await, (3, None));
    assert_eq!(capacity(&sdk, "alpha", "svc-a").await, Some((1, 4)));
    assert_eq!(service(&sdk, "alpha", "svc-b").await, (2, None));
    assert_eq!(service(&sdk, "beta", "svc-c").await, (1, None));
    assert_eq!(targets(&sdk, &tg("svc-a-tg")).await, ips(&a, 8080));
    assert_eq!(targets(&sdk, &tg("svc-b-tg")).await, ips(&b, 9090));
    assert_eq!(targets(&sdk, &tg("svc-c-tg")).await, ips(&c, 8080));
    assert_eq!(targets(&sdk, &tg("svc-c-extra")).await, ips(&c, 8081));
    assert_eq!(report.targets.len(), 3 + 2 + 1 + 1);
    assert!(report.targets.iter().all(|t| t.change == TargetChange::Registered));
    assert!(report.services.iter().all(|s| s.tasks_not_running.is_empty()));

    // Start again: nothing to restore, nothing to register.
    let (report, ops) = moto
        .recording(run(&sdk, &schedule, json!({"action": "start", "environment": "staging"}), Duration::from_secs(5)))
        .await;
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Unchanged), "{report}");
    assert!(report.targets.is_empty());
    assert_eq!(ops.iter().filter(|op| MUTATING.contains(&op.as_str())).count(), 0, "{ops:?}");
}

#[tokio::test]
async fn dry_run_plans_and_changes_nothing() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let schedule = schedule(&world, "");
    let (report, ops) = moto
        .recording(run(
            &sdk,
            &schedule,
            json!({"action": "stop", "environment": "staging", "dry_run": true}),
            Duration::from_secs(5),
        ))
        .await;
    assert!(report.dry_run);
    assert_eq!(report.services[0].outcome, Outcome::Changed);
    assert_eq!(
        report.services[0].actions,
        vec![
            "save snapshot desired=3 min=1 max=4",
            "set scalable target min 0 max 0 suspended in+out+scheduled",
            "set desiredCount 0"
        ]
    );
    assert_eq!(ops.iter().filter(|op| MUTATING.contains(&op.as_str())).count(), 0, "{ops:?}");
    assert_eq!(service(&sdk, "alpha", "svc-a").await, (3, None));
    assert_eq!(capacity(&sdk, "alpha", "svc-a").await, Some((1, 4)));
}

#[tokio::test]
async fn one_failing_service_does_not_stop_the_others() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let schedule = schedule(
        &world,
        "      - { cluster: alpha, service: svc-gone }\n      - { cluster: nowhere, service: svc-x }\n",
    );
    let report =
        run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(5)).await;
    let by_name = |n: &str| report.services.iter().find(|s| s.service == n).unwrap();
    for ok in ["svc-a", "svc-b", "svc-c"] {
        assert_eq!(by_name(ok).outcome, Outcome::Changed);
    }
    assert_eq!(
        by_name("svc-gone").error.as_deref(),
        Some("service svc-gone not found in cluster alpha (DescribeServices: MISSING)")
    );
    assert_eq!(
        by_name("svc-x").error.as_deref(),
        Some(
            "cluster nowhere not found in this account and region (DescribeServices: ClusterNotFoundException: Cluster not found.)"
        )
    );
    assert_eq!(service(&sdk, "alpha", "svc-a").await.0, 0);
    for gone in ["svc-gone", "svc-x"] {
        assert_eq!(by_name(gone).error_kind, Some(ErrorKind::NotFound), "{gone}");
    }
    let error = report.error().expect("the invocation fails after the report");
    // Both are gone: a retry cannot help, someone must fix the schedule or the account.
    assert!(!error.is_retryable());
    assert_eq!(error.kind(), "ServicesFailedPermanently");
    assert_eq!(
        error.to_string(),
        "stop staging: 2 of 5 failed: alpha/svc-gone [not_found]: service svc-gone not found in cluster alpha (DescribeServices: MISSING); \
         nowhere/svc-x [not_found]: cluster nowhere not found in this account and region (DescribeServices: ClusterNotFoundException: Cluster not found.)"
    );
}

#[tokio::test]
async fn a_service_that_cannot_be_snapshotted_is_not_touched() {
    let moto = Moto::start();
    let legacy = moto.seed(&["legacy-service", "--cluster", "old-cluster", "--service", "old"]);
    let sdk = moto.sdk().await;
    let schedule = Schedule::parse(
        "environments:\n  legacy:\n    services: [{ cluster: old-cluster, service: old }]\n",
        "legacy.yaml",
    )
    .unwrap();
    let (report, ops) = moto
        .recording(run(&sdk, &schedule, json!({"action": "stop", "environment": "legacy"}), Duration::from_secs(5)))
        .await;
    let old = &report.services[0];
    assert_eq!(old.outcome, Outcome::Failed);
    assert_eq!(
        old.error.as_deref().unwrap(),
        format!(
            "cannot save the snapshot: {} uses the old short ARN format, which ECS cannot tag; opt in to the long format \
             (aws ecs put-account-setting-default --name serviceLongArnFormat --value enabled) and recreate the service",
            legacy["arn"].as_str().unwrap()
        )
    );
    assert_eq!(ops.iter().filter(|op| MUTATING.contains(&op.as_str())).count(), 0, "{ops:?}");
    assert_eq!(service(&sdk, "old-cluster", "old").await, (2, None));
}

#[tokio::test]
async fn tasks_still_starting_are_reported_when_time_is_up() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let schedule = schedule(&world, "");
    run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(5)).await;
    // Only one of svc-a's three tasks comes up.
    let a = moto.seed(&["run-tasks", "--cluster", "alpha", "--service", "svc-a", "--count", "1"]);
    let started = std::time::Instant::now();
    let report =
        run(&sdk, &schedule, json!({"action": "start", "environment": "staging"}), Duration::from_secs(1)).await;
    assert!(started.elapsed() < Duration::from_secs(3), "the wait is bounded by the deadline");
    let svc_a = &report.services[0];
    assert_eq!(svc_a.outcome, Outcome::Changed);
    assert_eq!(svc_a.notes, vec!["1 of 3 tasks RUNNING when the wait ended; registered those"]);
    assert_eq!(targets(&sdk, world["target_groups"]["svc-a-tg"].as_str().unwrap()).await, ips(&a, 8080));
}

#[tokio::test]
async fn register_only_registers_and_status_only_reads() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let schedule = schedule(&world, "");
    let b = moto.seed(&["run-tasks", "--cluster", "alpha", "--service", "svc-b", "--count", "2"]);

    let (report, ops) = moto
        .recording(run(&sdk, &schedule, json!({"action": "status", "environment": "staging"}), Duration::from_secs(5)))
        .await;
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Unchanged));
    assert_eq!(report.services[0].before.unwrap().desired, 3);
    assert_eq!(ops.iter().filter(|op| MUTATING.contains(&op.as_str())).count(), 0, "{ops:?}");

    let report =
        run(&sdk, &schedule, json!({"action": "register", "environment": "staging"}), Duration::from_secs(1)).await;
    let svc_b = &report.services[1];
    assert_eq!(svc_b.outcome, Outcome::Changed);
    assert!(svc_b.actions.is_empty(), "register changes no counts");
    assert_eq!(targets(&sdk, world["target_groups"]["svc-b-tg"].as_str().unwrap()).await, ips(&b, 9090));
    assert_eq!(service(&sdk, "alpha", "svc-a").await, (3, None));
}

/// The cost figures: one DescribeTaskDefinition per distinct revision (two services share one
/// here), the saving a stop reports from the real task sizes (0.25 vCPU, 0.5 GB on Fargate in
/// ap-northeast-1), and `status`'s cost now and when up.
#[tokio::test]
async fn a_stop_reads_each_task_definition_once_and_says_what_it_saves() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    // A fourth service on svc-a's task definition revision, 2 tasks.
    let a = sdk.ecs.describe_services().cluster("alpha").services("svc-a").send().await.unwrap();
    let a = &a.services()[0];
    sdk.ecs
        .create_service()
        .cluster("alpha")
        .service_name("svc-d")
        .task_definition(world["services"]["svc-a"]["task_definition"].as_str().unwrap())
        .desired_count(2)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .set_network_configuration(a.network_configuration().cloned())
        .send()
        .await
        .unwrap();
    let schedule = schedule(&world, "      - { cluster: alpha, service: svc-d }\n");

    let (report, ops) = moto
        .recording(run(&sdk, &schedule, json!({"action": "stop", "environment": "staging"}), Duration::from_secs(5)))
        .await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(
        ops.iter().filter(|op| *op == "DescribeTaskDefinition").count(),
        3,
        "svc-a and svc-d share a revision: {ops:?}"
    );
    // A task: 0.25 x 0.05056 + 0.5 x 0.00553 = 0.015405 USD an hour; svc-a 3 tasks, svc-b 2,
    // svc-c 1, svc-d 2: 8 tasks, 2 vCPU, 4 GiB, 0.12324 USD an hour.
    let task = 0.25 * 0.05056 + 0.5 * 0.00553;
    let saving = report.saving.clone().unwrap();
    assert_eq!((saving.vcpu_per_hour, saving.gib_per_hour, saving.currency.as_str()), (2.0, 4.0, "USD"));
    assert!((saving.cost_per_hour.unwrap() - 8.0 * task).abs() < 1e-9, "{saving:?}");
    let a = &report.services[0];
    let size = a.task_size.as_ref().unwrap();
    assert_eq!((a.service.as_str(), size.vcpu, size.gib, size.capacity.as_str()), ("svc-a", 0.25, 0.5, "FARGATE"));
    assert!((a.cost_per_hour.unwrap() - 3.0 * task).abs() < 1e-9);
    assert!(report.summary.contains("saves 2 vCPU, 4 GiB, $0.1232/hour while stopped"), "{}", report.summary);

    // Status while stopped: nothing runs; up again (the snapshots' counts) it costs the same.
    let status =
        run(&sdk, &schedule, json!({"action": "status", "environment": "staging"}), Duration::from_secs(5)).await;
    let (now, up) = (status.cost.clone().unwrap(), status.cost_when_up.clone().unwrap());
    assert_eq!((now.vcpu_per_hour, now.cost_per_hour), (0.0, Some(0.0)));
    assert!((up.cost_per_hour.unwrap() - 8.0 * task).abs() < 1e-9, "{up:?}");
    let table = status.to_string();
    assert!(
        table.contains("staging      alpha/svc-a  stopped  0        0/0      desired=3 min=1 max=4  0.25 vCPU/0.5 GiB X86_64 FARGATE"),
        "{table}"
    );
}
