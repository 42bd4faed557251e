//! Thin entry point: the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, else the CLI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ecs_cost_saver::aws::{Sdk, retry_config, timeout_config};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Error, Settings, handle};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        lambda_runtime::tracing::init_default_subscriber();
        match run_lambda().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "the runtime stopped");
                ExitCode::FAILURE
            }
        }
    } else {
        lambda_runtime::tracing::init_default_subscriber_with_writer(std::io::stderr);
        ecs_cost_saver::cli::main().await
    }
}

/// Load the schedule and the SDK clients once per cold start, then serve invocations.
async fn run_lambda() -> Result<(), lambda_runtime::Error> {
    let path = std::env::var_os("SCHEDULE_FILE").map(PathBuf::from).unwrap_or_else(|| {
        let root = std::env::var_os("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".into());
        PathBuf::from(root).join("schedule.yaml")
    });
    let schedule = Schedule::load(&path)?;
    let settings = Settings::from_env()?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await;
    let aws = Sdk::new(&config);
    let (aws, schedule, settings) = (&aws, &schedule, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        invocation(aws, schedule, settings, event).await
    }))
    .await
}

async fn invocation(
    aws: &Sdk,
    schedule: &Schedule,
    settings: &Settings,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
    let deadline = tokio::time::Instant::now() + remaining;
    let report = handle(aws, schedule, event.payload, chrono::Utc::now(), deadline, settings).await.inspect_err(
        |e| tracing::error!(error = %e, kind = e.kind(), retryable = e.is_retryable(), "input rejected"),
    )?;
    // The report is the invocation's log record: one JSON line, whatever the log format.
    println!("{}", report.to_json_line());
    match report.error() {
        Some(e) => Err(e),
        None => Ok(serde_json::to_value(&report).expect("a report always serializes")),
    }
}
