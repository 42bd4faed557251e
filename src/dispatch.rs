//! The one entry point the Lambda runtime and the CLI both call: input -> intent (pure),
//! then observe -> plan -> apply -> report.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::aws::Aws;
use crate::error::Error;
use crate::event::{Action, Input};
use crate::report::Report;
use crate::schedule::{Environment, Schedule};

/// Knobs of a run; defaults are what users get.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Services handled at once (and AWS batches in flight).
    pub concurrency: usize,
    /// How often to look at a starting service's tasks.
    pub poll_interval: Duration,
    /// Time kept back from the invocation deadline to log the report and return.
    pub safety_margin: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { concurrency: 8, poll_interval: Duration::from_secs(5), safety_margin: Duration::from_secs(10) }
    }
}

impl Settings {
    /// Defaults, overridden by `ECS_COST_SAVER_CONCURRENCY`, `ECS_COST_SAVER_POLL_INTERVAL_MS`
    /// and `ECS_COST_SAVER_SAFETY_MARGIN_MS`.
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
        Ok(s)
    }
}

/// What an input asks for, checked against the schedule.
#[derive(Debug, Clone)]
pub struct Intent<'a> {
    pub action: Action,
    pub environment: &'a Environment,
    pub dry_run: bool,
}

/// Input -> intent: no I/O. Unknown environments are rejected naming the valid ones.
pub fn intent(schedule: &Schedule, input: Input) -> Result<Intent<'_>, Error> {
    let Input::Payload(payload) = input;
    let environment = schedule.environments.get(&payload.environment).ok_or_else(|| {
        Error::InvalidInput(format!(
            "unknown environment `{}`; valid environments: {}",
            payload.environment,
            schedule.environment_names().join(", ")
        ))
    })?;
    Ok(Intent { action: payload.action, environment, dry_run: payload.dry_run })
}

/// Handle one input. `deadline` is when the invocation must have returned; waiting for tasks
/// stops `settings.safety_margin` before it. Per-service failures are in the report (see
/// [`Report::error`]); `Err` means the input itself was rejected and nothing was done.
pub async fn handle<A: Aws>(
    aws: &A,
    schedule: &Schedule,
    input: Value,
    deadline: Instant,
    settings: &Settings,
) -> Result<Report, Error> {
    let intent = intent(schedule, Input::parse(input)?)?;
    let wait_until = deadline.checked_sub(settings.safety_margin).unwrap_or(deadline);
    Ok(crate::apply::run(aws, &intent, wait_until, settings).await)
}
