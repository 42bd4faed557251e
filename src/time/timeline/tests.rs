use chrono::{DateTime, Utc};

use super::*;
use crate::schedule::Schedule;

fn example() -> Schedule {
    Schedule::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schedules/example.yaml"))).unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn holidays_come_from_the_list_and_the_calendar() {
    let s = example();
    assert_eq!(holiday(&s, date("2026-12-29")).as_deref(), Some("2026-12-29 is listed in holidays.dates"));
    assert_eq!(holiday(&s, date("2027-01-01")).as_deref(), Some("2027-01-01 is 元日 (New Year's Day)"));
    assert_eq!(holiday(&s, date("2026-11-27")), None);
    let mut no_calendar = s.clone();
    no_calendar.holidays.calendar = None;
    assert_eq!(holiday(&no_calendar, date("2027-01-01")), None);
}

#[test]
fn transitions_are_in_the_schedule_zone_and_skip_holiday_starts_only() {
    let s = example();
    let staging = &s.environments["staging"];
    // Mon 2026-12-28 00:00 JST .. Tue 2027-01-05 00:00 JST.
    let found = transitions(&s, staging, at("2026-12-28T00:00:00+09:00"), at("2027-01-05T00:00:00+09:00"));
    let view: Vec<(String, &str, Option<&str>)> = found
        .iter()
        .map(|t| {
            (t.at.with_timezone(&s.timezone).format("%m-%d %H:%M").to_string(), t.action.as_str(), t.skipped.as_deref())
        })
        .collect();
    let skipped = |d: &str| Some(format!("2026-12-{d} is listed in holidays.dates"));
    let (s29, s30, s31) = (skipped("29"), skipped("30"), skipped("31"));
    assert_eq!(
        view,
        vec![
            ("12-28 08:00".into(), "start", None),
            ("12-28 22:00".into(), "stop", None),
            ("12-29 08:00".into(), "start", s29.as_deref()),
            ("12-29 22:00".into(), "stop", None),
            ("12-30 08:00".into(), "start", s30.as_deref()),
            ("12-30 22:00".into(), "stop", None),
            ("12-31 08:00".into(), "start", s31.as_deref()),
            ("12-31 22:00".into(), "stop", None),
            ("01-01 08:00".into(), "start", Some("2027-01-01 is 元日 (New Year's Day)")),
            ("01-01 22:00".into(), "stop", None),
            ("01-04 08:00".into(), "start", None),
            ("01-04 22:00".into(), "stop", None),
        ]
    );
    // 08:00 JST on Monday is 23:00 UTC on Sunday: the weekday is taken in the zone.
    assert_eq!(found[0].at, at("2026-12-27T23:00:00Z"));
}

#[test]
fn state_at_is_the_last_transition_that_ran() {
    let s = example();
    let staging = &s.environments["staging"];
    let state = |t: &str| state_at(&s, staging, at(t)).map(|t| (t.action, t.at));
    // Saturday noon: stopped since Friday 22:00.
    assert_eq!(state("2026-11-28T12:00:00+09:00"), Some((Action::Stop, at("2026-11-27T22:00:00+09:00"))));
    // Monday 07:59 still stopped; 08:00 exactly and after: running.
    assert_eq!(state("2026-11-30T07:59:00+09:00"), Some((Action::Stop, at("2026-11-27T22:00:00+09:00"))));
    assert_eq!(state("2026-11-30T08:00:00+09:00"), Some((Action::Start, at("2026-11-30T08:00:00+09:00"))));
    assert_eq!(state("2026-11-30T21:59:00+09:00"), Some((Action::Start, at("2026-11-30T08:00:00+09:00"))));
    // New Year's Day: the 08:00 start is skipped, so still stopped since Dec 31 22:00.
    assert_eq!(state("2027-01-01T12:00:00+09:00"), Some((Action::Stop, at("2026-12-31T22:00:00+09:00"))));
    // Manual-only: no state.
    assert_eq!(state_at(&s, &s.environments["dev"], at("2026-11-28T12:00:00+09:00")), None);
}

#[test]
fn upcoming_widens_its_window_for_rare_crons() {
    let yearly = Schedule::parse(
        "environments:\n  e:\n    start: [\"cron(0 9 1 JAN ? *)\"]\n    services: [{cluster: c, service: s}]\n",
        "y.yaml",
    )
    .unwrap();
    let env = &yearly.environments["e"];
    let next = upcoming(&yearly, env, at("2026-11-27T00:00:00Z"), 2, 800);
    assert_eq!(
        next.iter().map(|t| t.at).collect::<Vec<_>>(),
        vec![at("2027-01-01T09:00:00+09:00"), at("2028-01-01T09:00:00+09:00")]
    );
}

/// `state_at` as the last transition of the window before `at`, found forwards: slower, and
/// obviously what the definition says.
fn state_by_window(schedule: &Schedule, env: &Environment, at: DateTime<Utc>) -> Option<Transition> {
    let from = at - Duration::days(LOOKBACK_DAYS);
    transitions(schedule, env, from, at + Duration::minutes(1))
        .into_iter()
        .rev()
        .find(|t| t.at <= at && t.skipped.is_none())
}

#[test]
fn state_at_agrees_with_the_window_search() {
    let s = example();
    let tie = Schedule::parse(
        "timezone: America/New_York\nholidays: {dates: [2026-12-25]}\nenvironments:\n  e:\n    start: [\"cron(0 8 ? * MON-FRI *)\", \"cron(30 1 * * ? *)\"]\n    stop: [\"cron(0 8 ? * FRI *)\", \"cron(0 22 ? * MON-FRI *)\"]\n    services: [{cluster: c, service: s}]\n",
        "tie.yaml",
    )
    .unwrap();
    for schedule in [&s, &tie] {
        for env in schedule.environments.values() {
            // A year and a half, a day and 97 minutes apart (every hour and weekday, both DST
            // changes); and the year-end holidays every 97 minutes.
            let spans = [(at("2026-03-01T00:00:00Z"), at("2027-09-01T00:00:00Z"), Duration::minutes(24 * 60 + 97))];
            let year_end = [(at("2026-12-24T00:00:00Z"), at("2027-01-06T00:00:00Z"), Duration::minutes(97))];
            for (from, to, step) in spans.into_iter().chain(year_end) {
                let mut t = from;
                while t < to {
                    assert_eq!(state_at(schedule, env, t), state_by_window(schedule, env, t), "{} at {t}", env.name);
                    t += step;
                }
            }
        }
    }
}
