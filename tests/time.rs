//! Time against moto server: `until` override schedules in EventBridge Scheduler, `reconcile`
//! fixing drift with no call for the rest, holiday-skipped scheduled starts.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Error, Settings, handle};
use serde_json::{Value, json};
use support::{MUTATING, Moto};

const FUNCTION: &str = "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver";
const ROLE: &str = "arn:aws:iam::123456789012:role/ecs-cost-saver-scheduler";

fn settings() -> Settings {
    Settings {
        poll_interval: Duration::from_millis(100),
        safety_margin: Duration::ZERO,
        function_arn: Some(FUNCTION.into()),
        scheduler_role_arn: Some(ROLE.into()),
        region: Some(support::REGION.into()),
        ..Settings::default()
    }
}

fn schedule() -> Schedule {
    Schedule::parse(
        &format!(
            "timezone: Asia/Tokyo
holidays: {{ calendar: japan }}
environments:
  staging:
    stop: [\"cron(0 22 ? * MON-FRI *)\"]
    start: [\"cron(0 8 ? * MON-FRI *)\"]
{}",
            support::E2E_SERVICES
        ),
        "time.yaml",
    )
    .unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

async fn run(sdk: &Sdk, payload: Value, now: DateTime<Utc>) -> Result<Report, Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    handle(&Context::new(sdk, &schedule(), &settings()), payload, now, deadline).await
}

async fn desired(sdk: &Sdk, cluster: &str, name: &str) -> i32 {
    let out = sdk.ecs.describe_services().cluster(cluster).services(name).send().await.unwrap();
    out.services()[0].desired_count()
}

fn mutating(ops: &[String]) -> Vec<&str> {
    ops.iter().map(String::as_str).filter(|op| MUTATING.contains(op)).collect()
}

/// (expression, timezone, input, action after completion) of the override schedule.
async fn override_schedule(sdk: &Sdk) -> Option<(String, String, Value, String)> {
    let out = sdk.scheduler.get_schedule().name("ecs-cost-saver-override-staging").send().await.ok()?;
    let target = out.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (FUNCTION, ROLE));
    assert_eq!(out.flexible_time_window().unwrap().mode().as_str(), "OFF");
    Some((
        out.schedule_expression().unwrap().to_string(),
        out.schedule_expression_timezone().unwrap().to_string(),
        serde_json::from_str(target.input().unwrap()).unwrap(),
        out.action_after_completion().unwrap().as_str().to_string(),
    ))
}

async fn override_count(sdk: &Sdk) -> usize {
    sdk.scheduler.list_schedules().name_prefix("ecs-cost-saver-override-").send().await.unwrap().schedules().len()
}

#[tokio::test]
async fn until_creates_one_override_per_environment_and_replaces_it() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let now = Utc::now();
    let tokyo = |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Asia::Tokyo);

    // Stop until later: the services stop and a one-time start is scheduled.
    let until = tokyo(now + chrono::Duration::hours(3));
    let report =
        run(&sdk, json!({"action": "stop", "environment": "staging", "until": until.to_rfc3339()}), now).await.unwrap();
    assert!(report.error().is_none(), "{report}");
    let expected = format!("at({})", until.format("%Y-%m-%dT%H:%M:%S"));
    assert_eq!(report.override_schedule.as_ref().map(|o| o.expression.as_str()), Some(expected.as_str()));
    assert_eq!(
        override_schedule(&sdk).await,
        Some((expected, "Asia/Tokyo".into(), json!({"action": "start", "environment": "staging"}), "DELETE".into()))
    );
    assert_eq!(desired(&sdk, "alpha", "svc-a").await, 0);

    // A new override replaces the old one: same name, new time and action.
    let until = tokyo(now + chrono::Duration::days(2));
    run(&sdk, json!({"action": "start", "environment": "staging", "until": until.to_rfc3339()}), now).await.unwrap();
    let (expression, _, input, _) = override_schedule(&sdk).await.unwrap();
    assert_eq!(expression, format!("at({})", until.format("%Y-%m-%dT%H:%M:%S")));
    assert_eq!(input, json!({"action": "stop", "environment": "staging"}));
    assert_eq!(override_count(&sdk).await, 1);

    // A UTC `until` is written in the schedule's zone.
    let report = run(
        &sdk,
        json!({"action": "start", "environment": "staging", "until": "2099-01-01T00:00:00Z", "dry_run": true}),
        at("2098-12-31T20:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(report.override_schedule.unwrap().expression, "at(2099-01-01T09:00:00)");
}

#[tokio::test]
async fn bad_untils_are_refused_and_change_nothing() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    let now = at("2026-11-27T12:00:00+09:00");
    let cases = [
        (
            json!({"action": "start", "environment": "staging", "until": "2026-11-27T11:00:00+09:00"}),
            "invalid payload at `until`: 2026-11-27 (Fri) 11:00 JST is in the past (now is 2026-11-27 (Fri) 12:00 JST)",
        ),
        (
            json!({"action": "stop", "environment": "staging", "until": "2026-12-04T12:01:00+09:00"}),
            "invalid payload at `until`: 2026-12-04 (Fri) 12:01 JST is more than 7 days ahead (latest 2026-12-04 (Fri) 12:00 JST)",
        ),
        (
            json!({"action": "status", "environment": "staging", "until": "2026-11-27T13:00:00+09:00"}),
            "invalid payload at `until`: only start and stop take `until`, not status",
        ),
        (
            json!({"action": "start", "environment": "staging", "until": "tonight"}),
            "invalid payload at `until`: input contains invalid characters",
        ),
    ];
    let (results, ops) = moto
        .recording(async {
            let mut results = Vec::new();
            for (payload, _) in &cases {
                results.push(run(&sdk, payload.clone(), now).await.unwrap_err());
            }
            results
        })
        .await;
    for ((payload, expected), error) in cases.iter().zip(results) {
        assert_eq!(error.to_string(), *expected, "{payload}");
        assert!(!error.is_retryable());
    }
    assert!(ops.is_empty(), "{ops:?}");
    assert_eq!(override_count(&sdk).await, 0);
}

#[tokio::test]
async fn reconcile_fixes_only_the_drifted_service_and_respects_a_pending_override() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    // Saturday noon in Tokyo: the crons say stopped since Friday 22:00.
    let saturday = at("2026-11-28T12:00:00+09:00");
    run(&sdk, json!({"action": "stop", "environment": "staging"}), saturday).await.unwrap();
    // A deploy at night puts svc-b back to 2 tasks.
    sdk.ecs.update_service().cluster("alpha").service("svc-b").desired_count(2).send().await.unwrap();

    let (report, ops) =
        moto.recording(run(&sdk, json!({"action": "reconcile", "environment": "staging"}), saturday)).await;
    let report = report.unwrap();
    assert_eq!(
        report.notes,
        vec!["the schedule says stopped: last transition stop 2026-11-27 (Fri) 22:00 JST (cron(0 22 ? * MON-FRI *))"]
    );
    let outcomes: Vec<(&str, Outcome)> = report.services.iter().map(|s| (s.service.as_str(), s.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![("svc-a", Outcome::Unchanged), ("svc-b", Outcome::Changed), ("svc-c", Outcome::Unchanged)]
    );
    assert_eq!(report.services[1].actions, vec!["set desiredCount 0"], "the saved snapshot is kept");
    assert_eq!(mutating(&ops), vec!["UpdateService"]);
    assert_eq!(desired(&sdk, "alpha", "svc-b").await, 0);

    // Safe to run every hour: nothing drifted, nothing called.
    let (report, ops) =
        moto.recording(run(&sdk, json!({"action": "reconcile", "environment": "staging"}), saturday)).await;
    assert!(report.unwrap().services.iter().all(|s| s.outcome == Outcome::Unchanged));
    assert_eq!(mutating(&ops), Vec::<&str>::new());

    // Monday 09:00: should be running; reconcile starts everything from the snapshots.
    let monday = at("2026-11-30T09:00:00+09:00");
    let report = run(&sdk, json!({"action": "reconcile", "environment": "staging"}), monday).await.unwrap();
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Changed), "{report}");
    assert_eq!(desired(&sdk, "alpha", "svc-a").await, 3);

    // Stopped by hand until later: reconcile leaves the environment alone while that is pending.
    let now = Utc::now();
    let until = (now + chrono::Duration::hours(2)).with_timezone(&chrono_tz::Asia::Tokyo);
    run(&sdk, json!({"action": "stop", "environment": "staging", "until": until.to_rfc3339()}), now).await.unwrap();
    let (report, ops) =
        moto.recording(run(&sdk, json!({"action": "reconcile", "environment": "staging"}), monday)).await;
    let report = report.unwrap();
    assert_eq!(
        report.skipped_reason,
        Some(format!(
            "an override is pending: schedule ecs-cost-saver-override-staging runs at({}) Asia/Tokyo",
            until.format("%Y-%m-%dT%H:%M:%S")
        ))
    );
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Skipped));
    assert_eq!(mutating(&ops), Vec::<&str>::new());
    assert_eq!(desired(&sdk, "alpha", "svc-a").await, 0);
}

#[tokio::test]
async fn a_scheduled_start_on_a_holiday_is_skipped_but_a_manual_one_runs() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk().await;
    // Monday 2027-01-11 is 成人の日 (Coming of Age Day).
    let holiday = at("2027-01-11T08:00:00+09:00");
    run(&sdk, json!({"action": "stop", "environment": "staging"}), holiday).await.unwrap();

    let (report, ops) = moto
        .recording(run(&sdk, json!({"action": "start", "environment": "staging", "scheduled": true}), holiday))
        .await;
    let report = report.unwrap();
    let reason = "scheduled start skipped: 2027-01-11 is 成人の日 (Coming of Age Day)";
    assert_eq!(report.skipped_reason.as_deref(), Some(reason));
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Skipped && s.reason.as_deref() == Some(reason)));
    assert_eq!(mutating(&ops), Vec::<&str>::new());
    assert_eq!(desired(&sdk, "alpha", "svc-a").await, 0);

    // Stops always run; a manual start always runs.
    let report = run(&sdk, json!({"action": "start", "environment": "staging"}), holiday).await.unwrap();
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Changed), "{report}");
    assert_eq!(desired(&sdk, "alpha", "svc-a").await, 3);
    let report =
        run(&sdk, json!({"action": "stop", "environment": "staging", "scheduled": true}), holiday).await.unwrap();
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Changed), "{report}");
}
