//! Input -> intent: what an input asks for, checked against the schedule, with the decisions that
//! need nothing but the schedule and the clock: an unknown environment, a bad `until`, what
//! `reconcile` means now, a scheduled start on a holiday. Pure: no I/O.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::action::Action;
use crate::error::Error;
use crate::event::{Input, Payload, SpotWarning, TaskStateChange};
use crate::schedule::{Environment, Schedule};
use crate::settings::Settings;
use crate::state::OneTimeSchedule;
use crate::text::escaped;
use crate::time::{local, timeline};

/// What an input asks for.
#[derive(Debug, Clone)]
pub enum Intent<'a> {
    /// A payload: act on (or look at) one environment's services.
    Environment(EnvironmentIntent<'a>),
    /// A Fargate Spot (or EC2) task about to be stopped.
    SpotTask(Box<TaskStateChange>),
    /// An EC2 Spot instance about to be reclaimed.
    SpotInstance(SpotWarning),
}

/// A payload, checked against the schedule.
#[derive(Debug, Clone)]
pub struct EnvironmentIntent<'a> {
    /// As asked (and reported).
    pub action: Action,
    pub environment: &'a Environment,
    pub dry_run: bool,
    /// Look for a pending override (an earlier `until`) first: it wins over the crons, so
    /// reconcile and scheduled runs leave the environment alone until it has run.
    pub defers_to_override: bool,
    /// What is carried out (`reconcile` becomes `stop` or `start` here), or why nothing is.
    pub effect: Result<Action, String>,
    /// The one-time schedule of `until`: the opposite action at that time.
    pub override_schedule: Option<OneTimeSchedule>,
    /// Why the run does what it does, for the report.
    pub notes: Vec<String>,
    /// A scheduled run (the payload's `scheduled`).
    pub scheduled: bool,
    /// Which continuation of an earlier run this is (0: none).
    pub continuation: u32,
    /// The invocation's time, and the schedule's zone: exclusion tags are read at it, in it.
    pub now: DateTime<Utc>,
    pub timezone: Tz,
}

/// The name of an environment's continuation schedule: the one-time run that finishes what the
/// buckets left no time for.
pub fn continuation_name(environment: &str) -> String {
    format!("ecs-cost-saver-continue-{environment}")
}

/// The longest `until` accepted.
pub const MAX_UNTIL_DAYS: i64 = 7;

/// The name of an environment's one-time override schedule: one per environment, so a new
/// `until` replaces the previous one.
pub fn override_name(environment: &str) -> String {
    format!("ecs-cost-saver-override-{environment}")
}

/// What `input` asks for at `now`. A payload naming an unknown environment, or with a bad
/// `until`, is an error that names the problem; a run the schedule says not to do is an intent
/// with a reason (`effect` is `Err`).
pub fn intent<'a>(
    schedule: &'a Schedule,
    input: Input,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Result<Intent<'a>, Error> {
    match input {
        Input::Payload(payload) => environment_intent(schedule, payload, now, settings).map(Intent::Environment),
        Input::TaskStateChange(event) => Ok(Intent::SpotTask(event)),
        Input::SpotWarning(event) => Ok(Intent::SpotInstance(event)),
    }
}

/// A payload against the schedule: the checks of [`check_payload`], then what the run does.
pub fn environment_intent<'a>(
    schedule: &'a Schedule,
    payload: Payload,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Result<EnvironmentIntent<'a>, Error> {
    let environment = check_payload(schedule, &payload, now)?;
    let tz = schedule.timezone;
    let override_schedule = match payload.until {
        None => None,
        Some(until) => {
            let (Some(function_arn), Some(role_arn)) = (&settings.function_arn, &settings.scheduler_role_arn) else {
                return Err(Error::InvalidInput(
                    "`until` needs ECS_COST_SAVER_FUNCTION_ARN and ECS_COST_SAVER_SCHEDULER_ROLE_ARN \
                     (the Terraform module sets both)"
                        .into(),
                ));
            };
            let opposite = if payload.action == Action::Start { Action::Stop } else { Action::Start };
            Some(OneTimeSchedule {
                name: override_name(&environment.name),
                group: settings.schedule_group.clone(),
                expression: format!("at({})", until.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S")),
                timezone: tz.name().to_string(),
                target_arn: function_arn.clone(),
                role_arn: role_arn.clone(),
                input: serde_json::json!({"action": opposite, "environment": environment.name}).to_string(),
            })
        }
    };
    let mut notes = Vec::new();
    let effect = match payload.action {
        Action::Reconcile => reconcile(schedule, environment, now).map(|(effect, note)| {
            notes.push(note);
            effect
        }),
        Action::Start if payload.scheduled => match holiday_skip(schedule, now.with_timezone(&tz)) {
            Some(why) => Err(why),
            None => Ok(Action::Start),
        },
        action => Ok(action),
    };
    Ok(EnvironmentIntent {
        action: payload.action,
        environment,
        dry_run: payload.dry_run,
        defers_to_override: payload.action == Action::Reconcile || payload.scheduled,
        effect,
        override_schedule,
        notes,
        scheduled: payload.scheduled,
        continuation: payload.continuation,
        now,
        timezone: tz,
    })
}

/// The checks a payload must pass before anything is read: its environment exists; `until` is
/// on a start or stop, in the future and at most [`MAX_UNTIL_DAYS`] ahead of `now`.
pub fn check_payload<'a>(
    schedule: &'a Schedule,
    payload: &Payload,
    now: DateTime<Utc>,
) -> Result<&'a Environment, Error> {
    let environment = schedule.environments.get(&payload.environment).ok_or_else(|| {
        Error::InvalidInput(format!(
            "unknown environment `{}`; valid environments: {}",
            escaped(&payload.environment),
            schedule.environment_names().join(", ")
        ))
    })?;
    if let Some(until) = payload.until {
        let bad = |why: String| Error::InvalidInput(format!("invalid payload at `until`: {why}"));
        if !matches!(payload.action, Action::Start | Action::Stop) {
            return Err(bad(format!("only start and stop take `until`, not {}", payload.action.as_str())));
        }
        let shown = |t: DateTime<Utc>| local(t, schedule.timezone);
        let until = until.with_timezone(&Utc);
        let latest = now + chrono::Duration::days(MAX_UNTIL_DAYS);
        if until <= now {
            return Err(bad(format!("{} is in the past (now is {})", shown(until), shown(now))));
        }
        if until > latest {
            return Err(bad(format!(
                "{} is more than {MAX_UNTIL_DAYS} days ahead (latest {})",
                shown(until),
                shown(latest)
            )));
        }
    }
    Ok(environment)
}

/// What `reconcile` does at `now`: the action of the last transition that ran, and a note saying
/// so; or why it does nothing.
pub fn reconcile(
    schedule: &Schedule,
    environment: &Environment,
    now: DateTime<Utc>,
) -> Result<(Action, String), String> {
    match timeline::state_at(schedule, environment, now) {
        None if environment.start.is_empty() && environment.stop.is_empty() => {
            Err("manual only: the environment has no crons".into())
        }
        None => Err(format!("no transition in the last {} days", timeline::LOOKBACK_DAYS)),
        Some(last) => Ok((
            last.action,
            format!(
                "the schedule says {}: last transition {} {} ({})",
                if last.action == Action::Start { "running" } else { "stopped" },
                last.action.as_str(),
                local(last.at, schedule.timezone),
                last.cron
            ),
        )),
    }
}

/// Why a scheduled start at local time `now` is skipped, if it is: today is a holiday.
pub fn holiday_skip(schedule: &Schedule, now: DateTime<Tz>) -> Option<String> {
    timeline::holiday(schedule, now.date_naive()).map(|why| format!("scheduled start skipped: {why}"))
}

#[cfg(test)]
mod tests;
