//! The deadline, against moto with small token buckets: a run that the buckets leave no time
//! to finish does what fits, hands the rest on to a continuation (a one-time schedule that runs
//! the same payload again), and says which services it handed on; the continuation finishes
//! them and leaves the others alone.

mod support;

use std::time::Duration;

use ecs_cost_saver::aws::{Sdk, StateTables};
use ecs_cost_saver::pace::Limits;
use ecs_cost_saver::report::{Outcome, Report};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::{Value, json};
use support::{MUTATING, Moto, STATE_TABLE, capacity, service, table_snapshot};

const FUNCTION: &str = "arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver";
const ROLE: &str = "arn:aws:iam::123456789012:role/ecs-cost-saver-scheduler";

fn settings() -> Settings {
    Settings {
        poll_interval: Duration::from_millis(100),
        safety_margin: Duration::ZERO,
        state_table: Some(STATE_TABLE.into()),
        function_arn: Some(FUNCTION.into()),
        scheduler_role_arn: Some(ROLE.into()),
        ..Settings::default()
    }
}

fn schedule() -> Schedule {
    Schedule::parse(&format!("environments:\n  staging:\n{}", support::E2E_SERVICES), "deadline.yaml").unwrap()
}

/// Three UpdateService tokens, one every 100 s after them: the function keeps one back as
/// headroom, so the third service of a stop cannot be done within 30 s.
fn two_updates() -> Limits {
    Limits::parse("ecs-service-modify=3/0.01").unwrap()
}

async fn run(sdk: &Sdk, payload: Value, seconds: u64) -> Report {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let (schedule, settings) = (schedule(), settings());
    handle(&Context::new(sdk, &schedule, &settings), payload, chrono::Utc::now(), deadline).await.unwrap()
}

/// (expression, input) of the continuation schedule.
async fn continuation(sdk: &Sdk) -> Option<(String, Value)> {
    let out = sdk.scheduler.get_schedule().name("ecs-cost-saver-continue-staging").send().await.ok()?;
    let target = out.target().unwrap();
    assert_eq!((target.arn(), target.role_arn()), (FUNCTION, ROLE));
    Some((out.schedule_expression().unwrap().to_string(), serde_json::from_str(target.input().unwrap()).unwrap()))
}

#[tokio::test]
async fn what_the_buckets_leave_no_time_for_is_handed_on_and_finished_by_the_continuation() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk_paced(&two_updates()).await;
    sdk.create_state_table(STATE_TABLE).await.unwrap();

    let (report, calls) = moto.recording(run(&sdk, json!({"action": "stop", "environment": "staging"}), 30)).await;
    let outcomes: Vec<(&str, Outcome)> = report.services.iter().map(|s| (s.service.as_str(), s.outcome)).collect();
    assert_eq!(outcomes, [("svc-a", Outcome::Changed), ("svc-b", Outcome::Changed), ("svc-c", Outcome::Skipped)]);
    let handed = report.handed_on.as_ref().expect("the report says what was handed on");
    assert_eq!(handed.services, ["beta/svc-c"]);
    assert!(handed.to.starts_with("1 services handed on to continuation 1 at "), "{}", handed.to);
    let c = report.services.iter().find(|s| s.service == "svc-c").unwrap();
    assert!(c.reason.as_deref().unwrap().starts_with("handed on: "), "{c:?}");
    assert!(c.actions.is_empty() && c.before == c.after);
    assert!(report.error().is_none(), "handing on is not a failure");
    // Nothing of svc-c was touched: two UpdateService, no write of svc-c's at all.
    let updates = calls.iter().filter(|c| *c == "UpdateService").count();
    assert_eq!(updates, 2, "{calls:?}");
    assert_eq!(service(&sdk, "beta", "svc-c").await.0, 1);
    assert_eq!(table_snapshot(&sdk, "beta", "svc-c").await, None);
    assert_eq!(service(&sdk, "alpha", "svc-b").await.0, 0);

    // The continuation: the same payload, one minute on, numbered.
    let (expression, input) = continuation(&sdk).await.expect("a continuation schedule");
    assert!(expression.starts_with("at("), "{expression}");
    assert_eq!(input, json!({"action": "stop", "environment": "staging", "continuation": 1}));

    // It runs in a new sandbox (full buckets): svc-c is stopped, the others are unchanged.
    let fresh = moto.sdk_paced(&two_updates()).await;
    let (report, calls) = moto.recording(run(&fresh, input, 30)).await;
    let outcomes: Vec<(&str, Outcome)> = report.services.iter().map(|s| (s.service.as_str(), s.outcome)).collect();
    assert_eq!(outcomes, [("svc-a", Outcome::Unchanged), ("svc-b", Outcome::Unchanged), ("svc-c", Outcome::Changed)]);
    assert_eq!(report.handed_on, None);
    let mutating: Vec<&String> = calls.iter().filter(|c| MUTATING.contains(&c.as_str())).collect();
    assert_eq!(mutating.iter().filter(|c| **c == "UpdateService").count(), 1, "{calls:?}");
    assert_eq!(service(&sdk, "beta", "svc-c").await.0, 0);
    assert_eq!(table_snapshot(&sdk, "beta", "svc-c").await.as_deref(), Some("desired=1"));
    assert_eq!(capacity(&sdk, "alpha", "svc-a").await, Some((0, 0)));
}

#[tokio::test]
async fn a_run_with_time_for_everything_hands_nothing_on() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let sdk = moto.sdk_paced(&Limits::default()).await;
    sdk.create_state_table(STATE_TABLE).await.unwrap();
    let report = run(&sdk, json!({"action": "stop", "environment": "staging"}), 30).await;
    assert!(report.services.iter().all(|s| s.outcome == Outcome::Changed), "{report}");
    assert_eq!((report.handed_on.as_ref(), report.throttled), (None, 0));
    assert_eq!(continuation(&sdk).await, None);
}
