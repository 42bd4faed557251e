//! Time, from the schedule file alone: when each environment stops and starts (evaluated in the
//! schedule's zone, as EventBridge Scheduler does), which scheduled starts a holiday skips, and
//! the state an environment should be in at a given instant. Pure: no AWS, no clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::event::Action;
use crate::schedule::eval::fire_times;
use crate::schedule::{Environment, HolidayCalendar, Schedule};

/// How far back `state_at` looks for the last transition: a schedule that has not fired in a
/// year says nothing about now.
pub const LOOKBACK_DAYS: i64 = 366;

/// One scheduled stop or start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub action: Action,
    /// The cron that fires it, as written.
    pub cron: String,
    /// Why a scheduled start does not run (a holiday); stops are never skipped.
    pub skipped: Option<String>,
}

/// Why a scheduled start on `date` (a local date in the schedule's zone) is skipped, if it is.
pub fn holiday(schedule: &Schedule, date: NaiveDate) -> Option<String> {
    if schedule.holidays.dates.contains(&date) {
        return Some(format!("{date} is listed in holidays.dates"));
    }
    match schedule.holidays.calendar {
        Some(HolidayCalendar::Japan) => crate::holidays::japan(date).map(|name| format!("{date} is {name}")),
        None => None,
    }
}

/// Every transition of `env` in `[from, to)`, in time order (a stop and a start at the same
/// minute: the start first, so the stop wins).
pub fn transitions(schedule: &Schedule, env: &Environment, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    let tz = schedule.timezone;
    let mut all = Vec::new();
    for (action, crons) in [(Action::Start, &env.start), (Action::Stop, &env.stop)] {
        for cron in crons {
            for at in fire_times(cron, tz, from, to) {
                let skipped = match action {
                    Action::Start => holiday(schedule, at.with_timezone(&tz).date_naive()),
                    _ => None,
                };
                all.push(Transition { at, action, cron: cron.as_str().to_string(), skipped });
            }
        }
    }
    all.sort_by_key(|t| (t.at, t.action == Action::Stop));
    all
}

/// The next `count` transitions after `from` (searching at most `horizon_days` ahead).
pub fn upcoming(
    schedule: &Schedule,
    env: &Environment,
    from: DateTime<Utc>,
    count: usize,
    horizon_days: i64,
) -> Vec<Transition> {
    // Widen the window until there are enough: most schedules fire daily, a few yearly.
    let mut days = 14;
    loop {
        let to = from + Duration::days(days.min(horizon_days));
        let found = transitions(schedule, env, from, to);
        if found.len() >= count || days >= horizon_days {
            return found.into_iter().take(count).collect();
        }
        days *= 4;
    }
}

/// The state `env` should be in at `at`: the last transition that ran (holiday-skipped starts
/// do not count), or None for a manual-only environment or one whose crons have not fired in
/// [`LOOKBACK_DAYS`].
pub fn state_at(schedule: &Schedule, env: &Environment, at: DateTime<Utc>) -> Option<Transition> {
    let end = at + Duration::minutes(1);
    let mut days = 8;
    loop {
        let from = at - Duration::days(days);
        let last = transitions(schedule, env, from, end).into_iter().rev().find(|t| t.at <= at && t.skipped.is_none());
        if last.is_some() || days >= LOOKBACK_DAYS {
            return last;
        }
        days = (days * 4).min(LOOKBACK_DAYS);
    }
}

/// The weekday label of a local date, `Mon`..`Sun`.
pub fn weekday(date: NaiveDate) -> &'static str {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][date.weekday().num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests;
