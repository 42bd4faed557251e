//! The state table against moto server, as the function is deployed: what a night-time
//! `terraform apply` of the services' own stack does (tags removed, desired count and min/max put
//! back) is undone by the scheduled reconcile, with the snapshot intact in the table; scheduled
//! scaling is suspended while stopped and resumed after; a snapshot tag an earlier version wrote
//! is adopted into the table.

mod support;

use std::time::Duration;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalableTargetAction, ServiceNamespace};
use chrono::{DateTime, Utc};
use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::{Value, json};
use support::{MUTATING, Moto, STATE_TABLE, capacity, service, table_snapshot};

fn settings(table: bool) -> Settings {
    Settings {
        poll_interval: Duration::from_millis(100),
        safety_margin: Duration::ZERO,
        state_table: table.then(|| STATE_TABLE.to_string()),
        ..Settings::default()
    }
}

/// Stopped at 22:00 and started at 08:00 on weekdays; reconciled every hour of the night.
fn schedule() -> Schedule {
    Schedule::parse(
        &format!(
            "environments:
  staging:
    stop: [\"cron(0 22 ? * MON-FRI *)\"]
    start: [\"cron(0 8 ? * MON-FRI *)\"]
    reconcile: [\"cron(0 0-7,23 ? * * *)\"]
{}",
            support::E2E_SERVICES
        ),
        "table.yaml",
    )
    .unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

async fn run(sdk: &Sdk, table: bool, payload: Value, now: &str) -> Report {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let (schedule, settings) = (schedule(), settings(table));
    handle(&Context::new(sdk, &schedule, &settings), payload, at(now), deadline).await.unwrap()
}

fn scheduled(action: &str) -> Value {
    json!({"action": action, "environment": "staging", "scheduled": true})
}

const SERVICES: [(&str, &str); 3] = [("alpha", "svc-a"), ("alpha", "svc-b"), ("beta", "svc-c")];

/// (desired, min/max, table snapshot, snapshot tag) of every service.
type Seen = (i32, Option<(i32, i32)>, Option<String>, Option<String>);

async fn seen(sdk: &Sdk) -> Vec<Seen> {
    let mut out = Vec::new();
    for (cluster, name) in SERVICES {
        let (desired, tag) = service(sdk, cluster, name).await;
        out.push((desired, capacity(sdk, cluster, name).await, table_snapshot(sdk, cluster, name).await, tag));
    }
    out
}

fn running() -> Vec<Seen> {
    vec![(3, Some((1, 4)), None, None), (2, None, None, None), (1, None, None, None)]
}

fn stopped() -> Vec<Seen> {
    vec![
        (0, Some((0, 0)), Some("desired=3 min=1 max=4".into()), None),
        (0, None, Some("desired=2".into()), None),
        (0, None, Some("desired=1".into()), None),
    ]
}

/// (in, out, scheduled) suspended of svc-a's scalable target.
async fn suspended(sdk: &Sdk) -> (bool, bool, bool) {
    let out = sdk
        .scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids("service/alpha/svc-a")
        .send()
        .await
        .unwrap();
    let s = out.scalable_targets()[0].suspended_state();
    let flag = |f: Option<bool>| f.unwrap_or(false);
    (
        flag(s.and_then(|s| s.dynamic_scaling_in_suspended())),
        flag(s.and_then(|s| s.dynamic_scaling_out_suspended())),
        flag(s.and_then(|s| s.scheduled_scaling_suspended())),
    )
}

/// What `terraform apply` of the services' own stack does at night: `default_tags` removes the
/// tags it does not manage, `desired_count` and the scalable target's min/max (and its
/// `suspended_state`, when the stack sets one) go back to the code's values.
async fn terraform_apply(sdk: &Sdk) {
    for ((cluster, name), (desired, capacity, _, _)) in SERVICES.into_iter().zip(running()) {
        let arn = format!("arn:aws:ecs:ap-northeast-1:123456789012:service/{cluster}/{name}");
        let tags = sdk.ecs.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
        let keys: Vec<String> = tags.tags().iter().filter_map(|t| t.key().map(str::to_string)).collect();
        if !keys.is_empty() {
            sdk.ecs.untag_resource().resource_arn(&arn).set_tag_keys(Some(keys)).send().await.unwrap();
        }
        support::set_counts(sdk, cluster, name, desired, capacity).await;
    }
}

fn actions<'a>(report: &'a Report, name: &str) -> &'a [String] {
    &report.services.iter().find(|s| s.service == name).unwrap().actions
}

#[tokio::test]
async fn a_night_time_terraform_apply_is_undone_by_the_reconcile_and_the_start_restores_exactly() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk_with_table().await;
    // A scheduled action that would raise svc-a at 09:00 every day, Saturdays included.
    sdk.scaling
        .put_scheduled_action()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id("service/alpha/svc-a")
        .scheduled_action_name("morning")
        .schedule("cron(0 9 * * ? *)")
        .scalable_target_action(ScalableTargetAction::builder().min_capacity(2).max_capacity(6).build())
        .send()
        .await
        .unwrap();

    // Friday 22:00: stopped, the snapshots in the table (no tag), scaling suspended.
    let (report, ops) = moto.recording(run(&sdk, true, scheduled("stop"), "2026-11-27T22:00:00+09:00")).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(seen(&sdk).await, stopped());
    assert_eq!(suspended(&sdk).await, (true, true, true), "no scheduled action can raise min/max while stopped");
    assert_eq!(
        actions(&report, "svc-a"),
        [
            "save snapshot desired=3 min=1 max=4",
            "set scalable target min 0 max 0 suspended in+out+scheduled",
            "set desiredCount 0",
            "release snapshot"
        ]
    );
    let mutating: Vec<&String> = ops.iter().filter(|op| MUTATING.contains(&op.as_str())).collect();
    assert!(!mutating.iter().any(|op| *op == "TagResource"), "no tag is written with a table: {mutating:?}");
    let status =
        run(&sdk, true, json!({"action": "status", "environment": "staging"}), "2026-11-27T23:00:00+09:00").await;
    let svc_a = status.services.iter().find(|s| s.service == "svc-a").unwrap();
    assert_eq!(
        svc_a.notes,
        ["scheduled actions: morning cron(0 9 * * ? *) (min 2 max 6) (suspended while stopped)"],
        "{status}"
    );
    assert_eq!(svc_a.snapshot.map(|s| s.encode()).as_deref(), Some("desired=3 min=1 max=4"), "{status}");

    // 23:30: someone's `terraform apply` wakes everything and wipes the tags.
    terraform_apply(&sdk).await;
    assert_eq!(
        seen(&sdk).await.iter().map(|s| (s.0, s.1)).collect::<Vec<_>>(),
        running().iter().map(|s| (s.0, s.1)).collect::<Vec<_>>()
    );

    // Saturday 00:00, the hourly reconcile: the schedule says stopped, so every service is
    // stopped again, from the snapshot in the table (untouched).
    let report = run(&sdk, true, scheduled("reconcile"), "2026-11-28T00:00:00+09:00").await;
    assert!(report.error().is_none(), "{report}");
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Changed), "{report}");
    assert_eq!(actions(&report, "svc-b"), ["hold snapshot (version 2)", "set desiredCount 0", "release snapshot"]);
    assert_eq!(seen(&sdk).await, stopped(), "stopped again with the original snapshots");
    assert_eq!(suspended(&sdk).await, (true, true, true));

    // An hour later there is nothing to do: no write at all.
    let (report, ops) = moto.recording(run(&sdk, true, scheduled("reconcile"), "2026-11-28T01:00:00+09:00")).await;
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Unchanged), "{report}");
    assert_eq!(ops.iter().filter(|op| MUTATING.contains(&op.as_str())).count(), 0, "{ops:?}");

    // Monday 08:00: exactly what the services had, scaling resumed, the table empty again.
    let report = run(&sdk, true, scheduled("start"), "2026-11-30T08:00:00+09:00").await;
    assert!(report.services.iter().all(|s| s.outcome != Outcome::Failed), "{report}");
    assert_eq!(seen(&sdk).await, running());
    assert_eq!(suspended(&sdk).await, (false, false, false), "scheduled scaling runs again");
}

#[tokio::test]
async fn a_snapshot_tag_of_an_earlier_version_is_adopted_into_the_table() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk_with_table().await;
    // Stopped by a version without the table: the snapshots are in the tags.
    let report = run(&sdk, false, scheduled("stop"), "2026-11-27T22:00:00+09:00").await;
    assert!(report.error().is_none(), "{report}");
    let tagged: Vec<Option<String>> = seen(&sdk).await.into_iter().map(|s| s.3).collect();
    assert_eq!(tagged, stopped().into_iter().map(|s| s.2).collect::<Vec<_>>());

    // The first run with the table moves each snapshot into it and removes the tag.
    let report = run(&sdk, true, scheduled("reconcile"), "2026-11-28T00:00:00+09:00").await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(
        actions(&report, "svc-c"),
        ["save snapshot desired=1", "remove the old snapshot tag", "release snapshot"]
    );
    assert_eq!(seen(&sdk).await, stopped());

    let report = run(&sdk, true, scheduled("start"), "2026-11-30T08:00:00+09:00").await;
    assert!(report.services.iter().all(|s| s.outcome != Outcome::Failed), "{report}");
    assert_eq!(seen(&sdk).await, running());
}

#[tokio::test]
async fn a_service_an_earlier_version_stopped_is_started_from_its_tag() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk_with_table().await;
    run(&sdk, false, scheduled("stop"), "2026-11-27T22:00:00+09:00").await;
    // The upgrade lands over the weekend; the first run with the table is the Monday start.
    let report = run(&sdk, true, scheduled("start"), "2026-11-30T08:00:00+09:00").await;
    assert!(report.services.iter().all(|s| s.outcome != Outcome::Failed), "{report}");
    assert_eq!(
        actions(&report, "svc-a"),
        [
            "save snapshot desired=3 min=1 max=4",
            "remove the old snapshot tag",
            "set scalable target min 1 max 4",
            "set desiredCount 3",
            "clear snapshot"
        ]
    );
    assert_eq!(seen(&sdk).await, running());
}
