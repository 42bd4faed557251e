//! The command line (DESIGN §6): `validate` and `invoke`. Argument parsing and printing only;
//! `invoke` runs the same handler as the Lambda.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::aws::{Sdk, retry_config};
use crate::dispatch::{Settings, handle, intent};
use crate::error::Error;
use crate::event::Input;
use crate::schedule::Schedule;

#[derive(Debug, Parser)]
#[command(name = "ecs-cost-saver", version, about = "Stop and start Amazon ECS services on JST schedules")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check schedule files; print FILE:LINE:COL: message for every problem.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run the Lambda handler locally against AWS (honours AWS_ENDPOINT_URL, AWS_PROFILE,
    /// AWS_REGION) and print the report.
    Invoke {
        /// The schedule file the Lambda would be deployed with.
        #[arg(long, value_name = "FILE")]
        schedule: PathBuf,
        /// The invocation payload, e.g. '{"action":"stop","environment":"staging"}'.
        #[arg(long, value_name = "JSON", conflicts_with = "event", required_unless_present = "event")]
        payload: Option<String>,
        /// A file holding the payload or event JSON.
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
        /// Compute and print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// How long the invocation may take, like the Lambda timeout (waiting for tasks ends
        /// before it).
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        timeout: u64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Parse the arguments and run; the process exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Invoke { schedule, payload, event, dry_run, timeout, format } => {
            match invoke(schedule, payload, event, dry_run, Duration::from_secs(timeout), format).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for file in files {
        if let Err(e) = Schedule::load(file) {
            eprintln!("{e}");
            ok = false;
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

async fn invoke(
    schedule: PathBuf,
    payload: Option<String>,
    event: Option<PathBuf>,
    dry_run: bool,
    timeout: Duration,
    format: Format,
) -> Result<ExitCode, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    let schedule = Schedule::load(&schedule)?;
    let text = match (payload, event) {
        (Some(p), _) => p,
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))?,
        (None, None) => unreachable!("clap requires --payload or --event"),
    };
    let mut input = crate::event::json(&text)?;
    if dry_run && let Some(object) = input.as_object_mut().filter(|o| o.contains_key("action")) {
        object.insert("dry_run".into(), Value::Bool(true));
    }
    // Reject a bad input before looking for credentials or a region: the answer to a typo
    // should not be "no AWS region".
    intent(&schedule, Input::parse(input.clone())?)?;
    let settings = Settings::from_env().map_err(Error::InvalidInput)?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(retry_config()).load().await;
    if config.region().is_none() {
        return Err(Error::InvalidInput("no AWS region: set AWS_REGION or use a profile that has one".into()));
    }
    let aws = Sdk::new(&config);
    let report = handle(&aws, &schedule, input, deadline, &settings).await?;
    match format {
        Format::Text => println!("{report}"),
        Format::Json => println!("{}", report.to_json_line()),
    }
    Ok(match report.error() {
        Some(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    })
}
