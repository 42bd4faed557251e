use chrono::{DateTime, Utc};

use super::*;
use crate::schedule::Schedule;

fn example() -> Schedule {
    Schedule::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schedules/example.yaml"))).unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn of(schedule: &Schedule, from: &str, count: usize) -> Forecast {
    let envs: Vec<&Environment> = schedule.environments.values().collect();
    forecast(schedule, &envs, at(from), count)
}

#[test]
fn weekday_business_hours_are_up_70_of_168_hours() {
    let s = example();
    let o = of(&s, "2026-11-27T12:00:00+09:00", 3);
    let staging = o.environments.iter().find(|e| e.name == "staging").unwrap();
    assert_eq!(staging.week_of.to_string(), "2026-11-23");
    assert_eq!(staging.up_hours_per_week, Some(70.0));
    assert_eq!(staging.hours_per_week, 168.0);
    assert_eq!(staging.tasks, 3, "api-stg desired_count 2 + web-stg default 1");
    let th = staging.task_hours_per_week.unwrap();
    assert_eq!((th.always_on, th.scheduled), (504.0, 210.0));
    assert!((th.reduction - 98.0 / 168.0).abs() < 1e-12);
    let monday: String = staging.timeline[0].up.iter().map(|u| if *u { '#' } else { '.' }).collect();
    assert_eq!(monday, "........##############..");
    let saturday: String = staging.timeline[5].up.iter().map(|u| if *u { '#' } else { '.' }).collect();
    assert_eq!(saturday, "........................");
    let dev = o.environments.iter().find(|e| e.name == "dev").unwrap();
    assert!(dev.manual_only);
    assert_eq!((dev.up_hours_per_week, dev.transitions.len()), (None, 0));
}

#[test]
fn a_week_with_a_dst_change_has_its_real_length() {
    let s = Schedule::parse(
        "timezone: America/New_York\nenvironments:\n  e:\n    stop: [\"cron(0 20 ? * * *)\"]\n    start: [\"cron(0 8 ? * * *)\"]\n    services: [{cluster: c, service: s}]\n",
        "ny.yaml",
    )
    .unwrap();
    // The week of Mon 2026-10-26 holds Sun 2026-11-01, when 01:00-02:00 happens twice.
    let o = of(&s, "2026-10-28T12:00:00-04:00", 1);
    let e = &o.environments[0];
    assert_eq!(e.hours_per_week, 169.0);
    assert_eq!(e.up_hours_per_week, Some(84.0), "12 hours a day, 7 days");
}
