//! When each environment stops and starts (evaluated in the schedule's zone, as EventBridge
//! Scheduler does), which scheduled starts a holiday skips, and the state an environment should be
//! in at a given instant.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::action::Action;
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
        Some(HolidayCalendar::Japan) => super::holidays::japan(date).map(|name| format!("{date} is {name}")),
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
/// do not count; a stop and a start at the same minute: the stop), or None for a manual-only
/// environment or one whose crons have not fired in [`LOOKBACK_DAYS`]. Each cron is searched
/// backwards from `at`, so the cost does not grow with the time since it last fired.
pub fn state_at(schedule: &Schedule, env: &Environment, at: DateTime<Utc>) -> Option<Transition> {
    let tz = schedule.timezone;
    let earliest = at - Duration::days(LOOKBACK_DAYS);
    let mut last: Option<Transition> = None;
    for (action, crons) in [(Action::Start, &env.start), (Action::Stop, &env.stop)] {
        for cron in crons {
            let mut upto = at;
            let ran = loop {
                let Some(t) = cron.last_at_or_before(upto, tz, LOOKBACK_DAYS as u32).filter(|&t| t >= earliest) else {
                    break None;
                };
                let skipped = match action {
                    Action::Start => holiday(schedule, t.with_timezone(&tz).date_naive()),
                    _ => None,
                };
                if skipped.is_none() {
                    break Some(t);
                }
                upto = t - Duration::seconds(1);
            };
            let Some(t) = ran else { continue };
            let later = last.as_ref().is_none_or(|l| (t, action == Action::Stop) > (l.at, l.action == Action::Stop));
            if later {
                last = Some(Transition { at: t, action, cron: cron.as_str().to_string(), skipped: None });
            }
        }
    }
    last
}

#[cfg(test)]
mod tests;
