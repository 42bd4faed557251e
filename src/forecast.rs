//! `ecs-cost-saver plan`: what the schedule file will do, for people (text) and scripts (JSON).
//! Upcoming transitions with holiday skips, a weekly on/off timeline, the fraction of the week
//! each environment is up and the task-hours that saves. Needs no AWS.

use std::fmt::{self, Write as _};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::action::Action;
use crate::schedule::{Environment, Holidays, Schedule};
use crate::time::timeline::{self, Transition};
use crate::time::{local, weekday};

/// How far ahead upcoming transitions are looked for.
const HORIZON_DAYS: i64 = 400;

#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    pub from: DateTime<Utc>,
    pub timezone: String,
    pub environments: Vec<EnvironmentForecast>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentForecast {
    pub name: String,
    /// No crons: started and stopped by hand only.
    pub manual_only: bool,
    pub transitions: Vec<TransitionView>,
    /// Monday of the week the timeline shows (holidays are not applied to it).
    pub week_of: NaiveDate,
    /// Seven days from Monday; each 24 hours, true when up at half past the hour.
    pub timeline: Vec<DayLine>,
    /// Hours up in that week, by the minute (None: manual only or never fired).
    pub up_hours_per_week: Option<f64>,
    pub hours_per_week: f64,
    pub up_fraction: Option<f64>,
    /// Tasks when up: the sum of each service's YAML `desired_count` (default 1).
    pub tasks: u32,
    pub task_hours_per_week: Option<TaskHours>,
    /// The selector entries, as written: their services are chosen when the function runs, so
    /// `tasks` does not count them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
    /// `start_order`, group by group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_order: Vec<Vec<String>>,
    /// The `capacity` entries, as written (their sizes are read when the function runs:
    /// `status` and dry runs show them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<String>,
    /// `plan --observe`: the services' real task sizes and prices, read from AWS now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
}

/// What the environment's services are, as `status` read them now, and what the crons'
/// stopped hours save with them.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub services: usize,
    /// Every service up (its count now, else its snapshot's, else the file's): per hour.
    pub when_up: crate::pricing::Usage,
    /// The stopped share of the week times AWS's pricing month (730 hours).
    pub stopped_hours_per_month: Option<f64>,
    /// What those hours save, in `when_up`'s currency (None: a service is not priced).
    pub saved_per_month: Option<f64>,
    /// What could not be read or priced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl EnvironmentForecast {
    /// Add what `status` observed: the month's saving from the crons and the real sizes.
    pub fn observe(&mut self, services: usize, when_up: crate::pricing::Usage, notes: Vec<String>) {
        let down = self.up_fraction.map(|up| 1.0 - up);
        let saved = match (when_up.cost_per_hour, down) {
            (Some(cost), Some(down)) => Some(crate::pricing::monthly(cost, down)),
            _ => None,
        };
        let stopped_hours_per_month = down.map(|d| crate::pricing::monthly(1.0, d));
        self.observed = Some(Observed { services, when_up, stopped_hours_per_month, saved_per_month: saved, notes });
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TransitionView {
    #[serde(flatten)]
    pub transition: Transition,
    /// The same instant in the schedule's zone, as the text shows it.
    pub local: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayLine {
    pub day: &'static str,
    pub up: Vec<bool>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TaskHours {
    pub always_on: f64,
    pub scheduled: f64,
    /// 1 - scheduled / always_on.
    pub reduction: f64,
}

/// The forecast of `environments` (all when empty) from `from`.
pub fn forecast(schedule: &Schedule, environments: &[&Environment], from: DateTime<Utc>, count: usize) -> Forecast {
    let tz = schedule.timezone;
    // The typical week: the one holding `from`, without holidays.
    let typical = Schedule { holidays: Holidays::default(), ..schedule.clone() };
    let monday = from.with_timezone(&tz).date_naive().week(chrono::Weekday::Mon).first_day();
    let week_start = start_of(tz, monday);
    let week_end = start_of(tz, monday + Duration::days(7));
    let hours_per_week = (week_end - week_start).num_minutes() as f64 / 60.0;

    let environments = environments
        .iter()
        .map(|env| {
            let transitions = timeline::upcoming(schedule, env, from, count, HORIZON_DAYS)
                .into_iter()
                .map(|t| TransitionView { local: local(t.at, tz), transition: t })
                .collect();
            let manual_only = env.start.is_empty() && env.stop.is_empty();
            // The week's state changes, once; each hour is then a lookup, not a search.
            let initial = timeline::state_at(&typical, env, week_start - Duration::minutes(1));
            let changes = timeline::transitions(&typical, env, week_start, week_end);
            let up_at = |at: DateTime<Utc>| {
                changes.iter().rev().find(|t| t.at <= at).or(initial.as_ref()).map(|t| t.action == Action::Start)
            };
            let timeline = (0..7)
                .map(|d| {
                    let date = monday + Duration::days(d);
                    let up = (0..24)
                        .map(|h| {
                            let at = tz
                                .from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(h, 30, 0).unwrap()))
                                .earliest();
                            at.and_then(|at| up_at(at.with_timezone(&Utc))).unwrap_or(false)
                        })
                        .collect();
                    DayLine { day: weekday(date), up }
                })
                .collect();
            let up_hours = up_minutes(initial.as_ref(), &changes, week_start, week_end).map(|m| m as f64 / 60.0);
            let tasks = env.services.iter().map(|s| s.desired_count.unwrap_or(1)).sum::<u32>();
            let task_hours = up_hours.map(|up| {
                let always_on = f64::from(tasks) * hours_per_week;
                let scheduled = f64::from(tasks) * up;
                TaskHours { always_on, scheduled, reduction: 1.0 - up / hours_per_week }
            });
            EnvironmentForecast {
                name: env.name.clone(),
                manual_only,
                transitions,
                week_of: monday,
                timeline,
                up_hours_per_week: up_hours,
                hours_per_week,
                up_fraction: up_hours.map(|up| up / hours_per_week),
                tasks,
                task_hours_per_week: task_hours,
                selectors: env.selectors.iter().map(ToString::to_string).collect(),
                start_order: env.start_order.clone(),
                capacity: env.capacity.iter().map(capacity_entry).collect(),
                observed: None,
            }
        })
        .collect();
    Forecast { from, timezone: tz.name().to_string(), environments }
}

/// A `capacity` entry as `plan` shows it: the group and the sizes a start gives it without a
/// snapshot.
fn capacity_entry(g: &crate::schedule::GroupConfig) -> String {
    let sizes: Vec<String> = [("min", g.min), ("desired", g.desired.or(g.min)), ("max", g.max)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect();
    let fallback = if sizes.is_empty() {
        "without a snapshot on the group a start fails it".to_string()
    } else {
        format!("without a snapshot: {}", sizes.join(" "))
    };
    format!("Auto Scaling group {}: scaled in after the services stop, out before they start ({fallback})", g.name)
}

/// The first instant of a local date (midnight, or the first minute after a DST gap).
fn start_of(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    (0..=180)
        .find_map(|m| tz.from_local_datetime(&(date.and_time(NaiveTime::MIN) + Duration::minutes(m))).earliest())
        .expect("every day has a first minute")
        .with_timezone(&Utc)
}

/// Minutes up in `[from, to)`, from the state before `from` and the changes in it; None when
/// the environment never fired (manual only).
fn up_minutes(
    initial: Option<&Transition>,
    changes: &[Transition],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<i64> {
    if initial.is_none() && changes.is_empty() {
        return None;
    }
    let mut up = initial.map(|t| t.action == Action::Start).unwrap_or(false);
    let (mut since, mut total) = (from, 0);
    for t in changes.iter().filter(|t| t.skipped.is_none()) {
        if up {
            total += (t.at - since).num_minutes();
        }
        since = t.at;
        up = t.action == Action::Start;
    }
    if up {
        total += (to - since).num_minutes();
    }
    Some(total)
}

impl EnvironmentForecast {
    /// The selectors, the start order and the capacity, as written.
    fn fmt_selection(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for group in &self.capacity {
            writeln!(f, "  capacity: {group}")?;
        }
        for selector in &self.selectors {
            writeln!(f, "  selects {selector}: chosen when the function runs, not counted above")?;
        }
        if !self.start_order.is_empty() {
            let groups: Vec<String> = self.start_order.iter().map(|g| format!("[{}]", g.join(", "))).collect();
            writeln!(f, "  start order: {} (stop: the reverse)", groups.join(", then "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Forecast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tz: Tz = self.timezone.parse().expect("the forecast's own zone");
        for (i, env) in self.environments.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{} ({}), from {}", env.name, self.timezone, local(self.from, tz))?;
            if env.manual_only {
                writeln!(f, "  manual only: no crons; started and stopped by hand")?;
                env.fmt_selection(f)?;
                continue;
            }
            for t in &env.transitions {
                let action = t.transition.action.as_str();
                write!(f, "  {}  {action}  {}", t.local, env.name)?;
                match &t.transition.skipped {
                    Some(why) => writeln!(f, "  (skipped: {why})")?,
                    None => writeln!(f)?,
                }
            }
            if env.transitions.is_empty() {
                writeln!(f, "  no transition in the next {HORIZON_DAYS} days")?;
            }
            let zone = local(self.from, tz).rsplit(' ').next().unwrap_or_default().to_string();
            writeln!(f, "  week of {} ({zone}; # up, . stopped; holidays not applied):", env.week_of)?;
            writeln!(f, "       0     6     12    18   23")?;
            for day in &env.timeline {
                let mut line = String::new();
                for up in &day.up {
                    line.push(if *up { '#' } else { '.' });
                }
                writeln!(f, "  {}  {line}", day.day)?;
            }
            match (env.up_hours_per_week, env.task_hours_per_week) {
                (Some(up), Some(th)) => {
                    let mut text = String::new();
                    write!(
                        text,
                        "  up {} of {} hours a week ({:.1}%); {} task(s): {} -> {} task-hours a week (-{:.1}%)",
                        hours(up),
                        hours(env.hours_per_week),
                        100.0 * up / env.hours_per_week,
                        env.tasks,
                        hours(th.always_on),
                        hours(th.scheduled),
                        100.0 * th.reduction
                    )?;
                    writeln!(f, "{text}")?;
                }
                _ => writeln!(f, "  up: unknown (no transition in the last year)")?,
            }
            if let Some(o) = &env.observed {
                write!(f, "  observed now: {} service(s), up: {}", o.services, &o.when_up)?;
                match (o.saved_per_month, o.stopped_hours_per_month) {
                    (Some(saved), Some(stopped)) => writeln!(
                        f,
                        "; stopped {} h a month (of 730): saves {} a month",
                        hours(stopped),
                        crate::pricing::fmt_money(saved, &o.when_up.currency)
                    )?,
                    (None, Some(stopped)) => writeln!(f, "; stopped {} h a month (of 730)", hours(stopped))?,
                    _ => writeln!(f)?,
                }
                for n in &o.notes {
                    writeln!(f, "    note: {n}")?;
                }
            }
            env.fmt_selection(f)?;
        }
        Ok(())
    }
}

/// Hours without a needless `.0`.
fn hours(h: f64) -> String {
    if (h - h.round()).abs() < 1e-9 { format!("{}", h.round() as i64) } else { format!("{h:.1}") }
}

#[cfg(test)]
mod tests;
