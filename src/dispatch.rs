//! The one entry point the Lambda runtime and the CLI both call: input -> intent (pure),
//! then observe -> plan -> apply -> report.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use chrono::{DateTime, FixedOffset, Utc};

use crate::aws::{Aws, OneTimeSchedule};
use crate::error::Error;
use crate::event::{Action, Input, Payload};
use crate::report::{OverrideReport, Report};
use crate::schedule::{Environment, Schedule};
use crate::timeline;

/// Knobs of a run; defaults are what users get.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Services handled at once (and AWS batches in flight).
    pub concurrency: usize,
    /// How often to look at a starting service's tasks.
    pub poll_interval: Duration,
    /// Time kept back from the invocation deadline to log the report and return.
    pub safety_margin: Duration,
    /// This function's ARN: the target of `until` override schedules.
    pub function_arn: Option<String>,
    /// The role EventBridge Scheduler assumes to invoke the function.
    pub scheduler_role_arn: Option<String>,
    /// The Scheduler group of override schedules.
    pub schedule_group: String,
    /// Runs never overlap (the deployed function's reserved concurrency of 1 queues them): the
    /// re-reads that keep a snapshot safe from a concurrent invocation are skipped. Off by
    /// default: the CLI's `invoke` is not queued behind the function.
    pub serial_runs: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            concurrency: 16,
            poll_interval: Duration::from_secs(5),
            safety_margin: Duration::from_secs(10),
            function_arn: None,
            scheduler_role_arn: None,
            schedule_group: "default".into(),
            serial_runs: false,
        }
    }
}

impl Settings {
    /// Defaults, overridden by `ECS_COST_SAVER_CONCURRENCY`, `ECS_COST_SAVER_POLL_INTERVAL_MS`,
    /// `ECS_COST_SAVER_SAFETY_MARGIN_MS`, `ECS_COST_SAVER_FUNCTION_ARN`,
    /// `ECS_COST_SAVER_SCHEDULER_ROLE_ARN`, `ECS_COST_SAVER_SCHEDULE_GROUP` and
    /// `ECS_COST_SAVER_SERIAL_RUNS` (`true`/`false`).
    pub fn from_env() -> Result<Settings, String> {
        let mut s = Settings::default();
        let read = |name: &str| -> Result<Option<u64>, String> {
            match std::env::var(name) {
                Err(_) => Ok(None),
                Ok(v) => v.parse::<u64>().map(Some).map_err(|_| format!("{name}={v:?} is not a whole number")),
            }
        };
        if let Some(c) = read("ECS_COST_SAVER_CONCURRENCY")? {
            if c == 0 || c > 64 {
                return Err(format!("ECS_COST_SAVER_CONCURRENCY={c} must be between 1 and 64"));
            }
            s.concurrency = c as usize;
        }
        if let Some(ms) = read("ECS_COST_SAVER_POLL_INTERVAL_MS")? {
            s.poll_interval = Duration::from_millis(ms.max(10));
        }
        if let Some(ms) = read("ECS_COST_SAVER_SAFETY_MARGIN_MS")? {
            s.safety_margin = Duration::from_millis(ms);
        }
        let text = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        s.function_arn = text("ECS_COST_SAVER_FUNCTION_ARN");
        s.scheduler_role_arn = text("ECS_COST_SAVER_SCHEDULER_ROLE_ARN");
        if let Some(group) = text("ECS_COST_SAVER_SCHEDULE_GROUP") {
            s.schedule_group = group;
        }
        if let Some(v) = text("ECS_COST_SAVER_SERIAL_RUNS") {
            s.serial_runs = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(format!("ECS_COST_SAVER_SERIAL_RUNS={v:?} must be true or false")),
            };
        }
        Ok(s)
    }
}

/// What an input asks for, checked against the schedule.
#[derive(Debug, Clone)]
pub struct Intent<'a> {
    /// As asked (and reported).
    pub action: Action,
    /// What is carried out: `reconcile` becomes `stop` or `start` here.
    pub effect: Action,
    pub environment: &'a Environment,
    pub dry_run: bool,
    pub until: Option<DateTime<FixedOffset>>,
    pub scheduled: bool,
    /// Why the run does what it does, for the report.
    pub notes: Vec<String>,
}

/// The longest `until` accepted.
pub const MAX_UNTIL_DAYS: i64 = 7;

/// The name of an environment's one-time override schedule: one per environment, so a new
/// `until` replaces the previous one.
pub fn override_name(environment: &str) -> String {
    format!("ecs-cost-saver-override-{environment}")
}

/// Input -> intent: no I/O. Unknown environments are rejected naming the valid ones; `until`
/// must be a start or stop, in the future and at most [`MAX_UNTIL_DAYS`] ahead of `now`.
pub fn intent(schedule: &Schedule, payload: Payload, now: DateTime<Utc>) -> Result<Intent<'_>, Error> {
    let environment = schedule.environments.get(&payload.environment).ok_or_else(|| {
        Error::InvalidInput(format!(
            "unknown environment `{}`; valid environments: {}",
            crate::text::escaped(&payload.environment),
            schedule.environment_names().join(", ")
        ))
    })?;
    if let Some(until) = payload.until {
        let bad = |why: String| Error::InvalidInput(format!("invalid payload at `until`: {why}"));
        if !matches!(payload.action, Action::Start | Action::Stop) {
            return Err(bad(format!("only start and stop take `until`, not {}", payload.action.as_str())));
        }
        let tz = schedule.timezone;
        let shown = |t: DateTime<Utc>| crate::outlook::local(t, tz);
        let until_utc = until.with_timezone(&Utc);
        if until_utc <= now {
            return Err(bad(format!("{} is in the past (now is {})", shown(until_utc), shown(now))));
        }
        if until_utc > now + chrono::Duration::days(MAX_UNTIL_DAYS) {
            return Err(bad(format!(
                "{} is more than {MAX_UNTIL_DAYS} days ahead (latest {})",
                shown(until_utc),
                shown(now + chrono::Duration::days(MAX_UNTIL_DAYS))
            )));
        }
    }
    Ok(Intent {
        action: payload.action,
        effect: payload.action,
        environment,
        dry_run: payload.dry_run,
        until: payload.until,
        scheduled: payload.scheduled,
        notes: Vec::new(),
    })
}

/// Handle one input at `now`. `deadline` is when the invocation must have returned; waiting
/// for tasks stops `settings.safety_margin` before it. Per-service failures are in the report
/// (see [`Report::error`]); `Err` means the input itself was rejected and nothing was done.
pub async fn handle<A: Aws>(
    aws: &A,
    schedule: &Schedule,
    input: Value,
    now: DateTime<Utc>,
    deadline: Instant,
    settings: &Settings,
) -> Result<Report, Error> {
    let payload = match Input::parse(input)? {
        Input::Payload(p) => p,
        // Boxed: each handler is a large future; boxing keeps `handle`'s own future small.
        Input::TaskStateChange(event) => {
            return Ok(Box::pin(crate::spot::task_interrupted(aws, schedule, &event)).await);
        }
        Input::SpotWarning(event) => {
            return Ok(Box::pin(crate::spot::instance_interrupted(aws, schedule, &event)).await);
        }
    };
    let mut intent = intent(schedule, payload, now)?;
    let tz = schedule.timezone;
    let overrides = OverrideSettings::check(&intent, settings)?;

    // A pending override (an earlier `until`) wins over the crons: reconcile and scheduled
    // runs leave the environment alone until it has run.
    if intent.action == Action::Reconcile || intent.scheduled {
        let name = override_name(&intent.environment.name);
        let pending = aws
            .schedule_expression(&settings.schedule_group, &name)
            .await
            .map_err(|e| Error::Aws(format!("cannot tell whether an override is pending ({name}): {e}"), e.kind))?;
        if let Some(expression) = pending {
            return Ok(Report::skipped(
                &intent,
                format!("an override is pending: schedule {name} runs {expression} {}", tz.name()),
            ));
        }
    }

    match intent.action {
        Action::Reconcile => match timeline::state_at(schedule, intent.environment, now) {
            None if intent.environment.start.is_empty() && intent.environment.stop.is_empty() => {
                return Ok(Report::skipped(&intent, "manual only: the environment has no crons".into()));
            }
            None => {
                return Ok(Report::skipped(
                    &intent,
                    format!("no transition in the last {} days", timeline::LOOKBACK_DAYS),
                ));
            }
            Some(last) => {
                intent.effect = last.action;
                intent.notes.push(format!(
                    "the schedule says {}: last transition {} {} ({})",
                    if last.action == Action::Start { "running" } else { "stopped" },
                    last.action.as_str(),
                    crate::outlook::local(last.at, tz),
                    last.cron
                ));
            }
        },
        Action::Start if intent.scheduled => {
            let today = now.with_timezone(&tz).date_naive();
            if let Some(why) = timeline::holiday(schedule, today) {
                return Ok(Report::skipped(&intent, format!("scheduled start skipped: {why}")));
            }
        }
        _ => {}
    }

    // The override is made before the action: if the action then fails, the environment
    // still returns to its state at `until`.
    let mut override_schedule = None;
    if let (Some(until), Some(o)) = (intent.until, overrides) {
        let opposite = if intent.action == Action::Start { Action::Stop } else { Action::Start };
        let schedule = OneTimeSchedule {
            name: override_name(&intent.environment.name),
            group: settings.schedule_group.clone(),
            expression: format!("at({})", until.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S")),
            timezone: tz.name().to_string(),
            target_arn: o.function_arn,
            role_arn: o.role_arn,
            input: serde_json::json!({"action": opposite, "environment": intent.environment.name}).to_string(),
        };
        if !intent.dry_run {
            aws.put_one_time_schedule(&schedule).await.map_err(|e| {
                Error::Aws(format!("cannot create the override schedule {}: {e}", schedule.name), e.kind)
            })?;
        }
        override_schedule = Some(OverrideReport {
            name: schedule.name,
            expression: schedule.expression,
            timezone: schedule.timezone,
            action: opposite,
        });
    }

    let wait_until = deadline.checked_sub(settings.safety_margin).unwrap_or(deadline);
    let mut report = Box::pin(crate::apply::run(aws, &intent, wait_until, settings)).await;
    report.override_schedule = override_schedule;
    Ok(report)
}

/// Where an override schedule points: this function, invoked with the scheduler's role.
struct OverrideSettings {
    function_arn: String,
    role_arn: String,
}

impl OverrideSettings {
    fn check(intent: &Intent<'_>, settings: &Settings) -> Result<Option<OverrideSettings>, Error> {
        if intent.until.is_none() {
            return Ok(None);
        }
        match (&settings.function_arn, &settings.scheduler_role_arn) {
            (Some(function_arn), Some(role_arn)) => {
                Ok(Some(OverrideSettings { function_arn: function_arn.clone(), role_arn: role_arn.clone() }))
            }
            _ => Err(Error::InvalidInput(
                "`until` needs ECS_COST_SAVER_FUNCTION_ARN and ECS_COST_SAVER_SCHEDULER_ROLE_ARN \
                 (the Terraform module sets both)"
                    .into(),
            )),
        }
    }
}
