use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::schedule::Schedule;

fn example() -> Schedule {
    Schedule::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schedules/example.yaml"))).unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn payload(value: serde_json::Value) -> Payload {
    match Input::parse(value).unwrap() {
        Input::Payload(p) => p,
        other => panic!("not a payload: {other:?}"),
    }
}

fn deployed() -> Settings {
    Settings {
        function_arn: Some("arn:aws:lambda:ap-northeast-1:123456789012:function:ecs-cost-saver".into()),
        scheduler_role_arn: Some("arn:aws:iam::123456789012:role/scheduler".into()),
        ..Settings::default()
    }
}

fn of<'a>(schedule: &'a Schedule, value: serde_json::Value, now: &str) -> Result<EnvironmentIntent<'a>, Error> {
    environment_intent(schedule, payload(value), at(now), &deployed())
}

#[test]
fn a_plain_payload_is_carried_out_as_asked() {
    let s = example();
    let i = of(&s, json!({"action": "stop", "environment": "staging"}), "2026-11-28T12:00:00+09:00").unwrap();
    assert_eq!((i.action, i.effect, i.defers_to_override, i.dry_run), (Action::Stop, Ok(Action::Stop), false, false));
    assert!(i.override_schedule.is_none() && i.notes.is_empty());
}

#[test]
fn reconcile_becomes_the_action_of_the_last_transition_and_says_so() {
    let s = example();
    let saturday =
        of(&s, json!({"action": "reconcile", "environment": "staging"}), "2026-11-28T12:00:00+09:00").unwrap();
    assert_eq!(saturday.effect, Ok(Action::Stop));
    assert!(saturday.defers_to_override, "a pending override wins over the crons");
    assert_eq!(
        saturday.notes,
        ["the schedule says stopped: last transition stop 2026-11-27 (Fri) 22:00 JST (cron(0 22 ? * MON-FRI *))"]
    );
    let monday = of(&s, json!({"action": "reconcile", "environment": "staging"}), "2026-11-30T09:00:00+09:00").unwrap();
    assert_eq!(monday.effect, Ok(Action::Start));
    let dev = of(&s, json!({"action": "reconcile", "environment": "dev"}), "2026-11-30T09:00:00+09:00").unwrap();
    assert_eq!(dev.effect, Err("manual only: the environment has no crons".into()));
}

#[test]
fn reconcile_of_crons_that_never_fired_does_nothing() {
    let s = Schedule::parse(
        "environments:\n  e:\n    stop: [\"cron(0 22 ? * MON-FRI 2030)\"]\n    services: [{cluster: c, service: s}]\n",
        "y.yaml",
    )
    .unwrap();
    let i = of(&s, json!({"action": "reconcile", "environment": "e"}), "2026-11-30T09:00:00+09:00").unwrap();
    assert_eq!(i.effect, Err("no transition in the last 366 days".into()));
}

#[test]
fn a_scheduled_start_on_a_holiday_is_skipped_a_manual_one_and_stops_are_not() {
    let s = example();
    // 2027-01-11 is 成人の日; 2026-12-29 is listed in holidays.dates.
    let scheduled = json!({"action": "start", "environment": "staging", "scheduled": true});
    let i = of(&s, scheduled.clone(), "2027-01-11T08:00:00+09:00").unwrap();
    assert_eq!(i.effect, Err("scheduled start skipped: 2027-01-11 is 成人の日 (Coming of Age Day)".into()));
    assert!(i.defers_to_override);
    let i = of(&s, scheduled.clone(), "2026-12-29T08:00:00+09:00").unwrap();
    assert_eq!(i.effect, Err("scheduled start skipped: 2026-12-29 is listed in holidays.dates".into()));
    // The date is the schedule's: 08:00 JST on the holiday is still the day before in UTC.
    assert_eq!(at("2027-01-11T08:00:00+09:00").date_naive().to_string(), "2027-01-10");
    let manual = of(&s, json!({"action": "start", "environment": "staging"}), "2027-01-11T08:00:00+09:00").unwrap();
    assert_eq!(manual.effect, Ok(Action::Start));
    let stop =
        of(&s, json!({"action": "stop", "environment": "staging", "scheduled": true}), "2027-01-11T22:00:00+09:00");
    assert_eq!(stop.unwrap().effect, Ok(Action::Stop));
    let workday = of(&s, scheduled, "2027-01-12T08:00:00+09:00").unwrap();
    assert_eq!(workday.effect, Ok(Action::Start));
}

#[test]
fn until_plans_the_opposite_action_as_a_one_time_schedule_in_the_zone() {
    let s = example();
    let i = of(
        &s,
        json!({"action": "stop", "environment": "staging", "until": "2026-11-30T23:00:00+09:00"}),
        "2026-11-30T12:00:00+09:00",
    )
    .unwrap();
    let o = i.override_schedule.unwrap();
    assert_eq!(o.name, "ecs-cost-saver-override-staging");
    assert_eq!((o.expression.as_str(), o.timezone.as_str()), ("at(2026-11-30T23:00:00)", "Asia/Tokyo"));
    assert_eq!(o.input, r#"{"action":"start","environment":"staging"}"#);
    assert_eq!(o.group, "default");
}

#[test]
fn bad_until_is_refused_naming_the_problem() {
    let s = example();
    let now = "2026-11-30T12:00:00+09:00";
    let err = |v| of(&s, v, now).unwrap_err().to_string();
    assert_eq!(
        err(json!({"action": "status", "environment": "staging", "until": "2026-11-30T23:00:00+09:00"})),
        "invalid payload at `until`: only start and stop take `until`, not status"
    );
    assert_eq!(
        err(json!({"action": "stop", "environment": "staging", "until": "2026-11-30T11:00:00+09:00"})),
        "invalid payload at `until`: 2026-11-30 (Mon) 11:00 JST is in the past (now is 2026-11-30 (Mon) 12:00 JST)"
    );
    assert_eq!(
        err(json!({"action": "stop", "environment": "staging", "until": "2026-12-08T12:00:01+09:00"})),
        "invalid payload at `until`: 2026-12-08 (Tue) 12:00 JST is more than 7 days ahead (latest 2026-12-07 (Mon) 12:00 JST)"
    );
    let undeployed = environment_intent(
        &s,
        payload(json!({"action": "stop", "environment": "staging", "until": "2026-11-30T23:00:00+09:00"})),
        at(now),
        &Settings::default(),
    );
    assert!(undeployed.unwrap_err().to_string().contains("`until` needs ECS_COST_SAVER_FUNCTION_ARN"));
}

#[test]
fn unknown_environments_name_the_valid_ones() {
    let s = example();
    assert_eq!(
        of(&s, json!({"action": "stop", "environment": "prod"}), "2026-11-30T12:00:00+09:00").unwrap_err().to_string(),
        "unknown environment `prod`; valid environments: dev, staging"
    );
}

#[test]
fn events_are_intents_of_their_own() {
    let s = example();
    let event = json!({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning",
                       "detail": {"instance-id": "i-0abc", "instance-action": "terminate"}});
    let i = intent(&s, Input::parse(event).unwrap(), at("2026-11-30T12:00:00+09:00"), &Settings::default()).unwrap();
    assert!(matches!(i, Intent::SpotInstance(SpotWarning { ref instance_id, .. }) if instance_id == "i-0abc"));
}
