//! The Lambda adapter: the schedule, settings and clients are loaded once per cold start, then the
//! runtime loop serves invocations, owning the [`Context`] (and so the warm memory) it lends to
//! each. An invocation's error becomes the Lambda `errorType`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::aws::Sdk;
use crate::dispatch::{Context, handle};
use crate::error::Error;
use crate::schedule::Schedule;
use crate::settings::Settings;

/// Serve invocations until the runtime stops.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let path = std::env::var_os("SCHEDULE_FILE").map(PathBuf::from).unwrap_or_else(|| {
        let root = std::env::var_os("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".into());
        PathBuf::from(root).join("schedule.yaml")
    });
    let schedule = Schedule::load(&path)?;
    let mut settings = Settings::from_env()?;
    let aws = Sdk::from_env(&settings.limits).await?;
    settings.region = settings.region.or_else(|| aws.region());
    if settings.state_table.is_none() {
        tracing::warn!("{}", Settings::NO_STATE_TABLE);
    }
    let schedule = schedule.in_region(settings.region.as_deref());
    let ctx = &Context::new(&aws, &schedule, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { invocation(ctx, event).await })).await
}

async fn invocation(ctx: &Context<'_, Sdk>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
    let began = tokio::time::Instant::now();
    let deadline = began + remaining;
    let report = handle(ctx, event.payload, chrono::Utc::now(), deadline).await.inspect_err(
        |e| tracing::error!(error = %e, kind = e.kind(), retryable = e.is_retryable(), "input rejected"),
    )?;
    // The report is the invocation's log record: one JSON line, whatever the log format. The
    // metrics are a second line, in Embedded Metric Format: Lambda passes a line that is a JSON
    // object on as it is (JSON log format), and CloudWatch Logs extracts its metrics.
    println!("{}", report.to_json_line());
    let stamp = chrono::Utc::now().timestamp_millis();
    if let Some(line) = crate::metrics::line(&report, began.elapsed(), stamp) {
        println!("{line}");
    }
    match report.error() {
        Some(e) => Err(e),
        None => Ok(serde_json::to_value(&report).expect("a report always serializes")),
    }
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        Diagnostic { error_type: error.kind().to_string(), error_message: error.to_string() }
    }
}
