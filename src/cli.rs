//! The command line (README, "The CLI"): `validate`, `plan`, `invoke` and `init-state`. Argument
//! parsing and printing only; `invoke` runs the same handler as the Lambda.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::aws::Sdk;
use crate::dispatch::{Context, handle};
use crate::error::Error;
use crate::event::Input;
use crate::intent::environment_intent;
use crate::report::Report;
use crate::schedule::{Environment, Schedule};
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(name = "ecs-cost-saver", version, about = "Stop and start Amazon ECS services on schedules (JST by default)")]
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
    /// The next transitions of each environment in the schedule's zone, holiday skips, a weekly
    /// on/off timeline and the share of the week each environment is up. Needs no AWS.
    Plan {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Only this environment.
        #[arg(long, value_name = "NAME")]
        environment: Option<String>,
        /// Start from this time (RFC 3339). Default: now.
        #[arg(long, value_name = "RFC3339")]
        from: Option<DateTime<FixedOffset>>,
        /// Transitions per environment.
        #[arg(long, value_name = "N", default_value_t = 10)]
        count: usize,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also read AWS (as `status` does: the services, their task definitions) and give the
        /// month's saving from the crons and the real task sizes, at the file's `pricing`.
        #[arg(long)]
        observe: bool,
    },
    /// Every service of the file (or of one environment) as one table: state, counts,
    /// snapshot, task size, cost per hour now, exclusion. Reads AWS, changes nothing.
    Status {
        #[arg(long, value_name = "FILE")]
        schedule: PathBuf,
        #[arg(long, value_name = "NAME")]
        environment: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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
        /// Evaluate as if it were this time (RFC 3339): which state `reconcile` wants, whether
        /// today is a holiday, how far ahead `until` is. Default: now.
        #[arg(long, value_name = "RFC3339")]
        now: Option<DateTime<FixedOffset>>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also print the run's metrics line (CloudWatch Embedded Metric Format), as the Lambda
        /// logs it.
        #[arg(long)]
        emf: bool,
    },
    /// Create the DynamoDB state table (on demand, key `service`) if it does not exist, as
    /// Terraform makes it; then set ECS_COST_SAVER_STATE_TABLE to its name. Idempotent.
    InitState {
        #[arg(long, value_name = "NAME")]
        table: String,
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
        Command::Plan { file, environment, from, count, format, observe } => {
            match forecast(&file, environment, from, count, format, observe).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::InitState { table } => match init_state(&table).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Status { schedule, environment, format } => match status(&schedule, environment, format).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Invoke { schedule, payload, event, dry_run, timeout, now, format, emf } => {
            let run = Run { dry_run, timeout: Duration::from_secs(timeout), now, format, emf };
            match invoke(schedule, payload, event, run).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Write to stdout; a reader that went away (`plan FILE | head`) is not an error.
fn emit(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write the output: {e}");
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

/// The environments a command names: one, or all of them.
fn chosen<'s>(schedule: &'s Schedule, environment: &Option<String>) -> Result<Vec<&'s Environment>, Error> {
    Ok(match environment {
        None => schedule.environments.values().collect(),
        Some(name) => vec![schedule.environments.get(name).ok_or_else(|| {
            Error::InvalidInput(format!(
                "unknown environment `{}`; valid environments: {}",
                crate::text::escaped(name),
                schedule.environment_names().join(", ")
            ))
        })?],
    })
}

/// `status` of each environment, one after another, against AWS: what `status` and
/// `plan --observe` print.
async fn statuses(schedule: &Schedule, environments: &[&Environment]) -> Result<Vec<Report>, Error> {
    let mut settings = Settings::from_env().map_err(Error::InvalidInput)?;
    let aws = Sdk::from_env(&settings.limits).await.map_err(Error::InvalidInput)?;
    settings.region = settings.region.or_else(|| aws.region());
    let schedule = schedule.clone().in_region(settings.region.as_deref());
    let ctx = Context::new(&aws, &schedule, &settings);
    let mut reports = Vec::new();
    for env in environments {
        let payload = serde_json::json!({"action": "status", "environment": env.name});
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        reports.push(handle(&ctx, payload, Utc::now(), deadline).await?);
    }
    Ok(reports)
}

/// The `status` command: one table of every chosen environment's services.
async fn status(file: &Path, environment: Option<String>, format: Format) -> Result<ExitCode, Error> {
    let schedule = Schedule::load(file)?;
    let environments = chosen(&schedule, &environment)?;
    let reports = statuses(&schedule, &environments).await?;
    match format {
        Format::Json => emit(format_args!("{}\n", serde_json::to_string(&reports).expect("reports serialize"))),
        Format::Text => {
            let all: Vec<&Report> = reports.iter().collect();
            emit(format_args!("{}", crate::report::status_table(&all)));
            for r in &reports {
                let mut lines = Vec::new();
                lines.extend(r.notes.iter().map(|n| format!("  note: {n}")));
                for g in &r.capacity {
                    let sizes = g.before.map_or("?".to_string(), |b| b.to_string());
                    let saved = g.snapshot.map_or(String::new(), |s| format!(", snapshot {}", s.to_tag()));
                    lines.push(format!("  group {} {}: {sizes}{saved}", g.group, g.outcome));
                    lines.extend(g.notes.iter().map(|n| format!("    note: {n}")));
                }
                if let Some(cost) = &r.cost {
                    let up = r.cost_when_up.as_ref().map_or(String::new(), |u| format!("; when up {}", u));
                    lines.push(format!("  now {}{up}", cost));
                }
                if !lines.is_empty() {
                    emit(format_args!("{}:\n{}\n", r.environment, lines.join("\n")));
                }
            }
        }
    }
    let failed = reports.iter().filter_map(Report::error).map(|e| eprintln!("error: {e}")).count();
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The `plan` command: the schedule's forecast (no AWS, no relation to the planner); with
/// `observe`, each environment's `status` too, for the real sizes and prices.
async fn forecast(
    file: &Path,
    environment: Option<String>,
    from: Option<DateTime<FixedOffset>>,
    count: usize,
    format: Format,
    observe: bool,
) -> Result<(), Error> {
    let schedule = Schedule::load(file)?;
    let environments = chosen(&schedule, &environment)?;
    let from = from.map(|t| t.with_timezone(&Utc)).unwrap_or_else(Utc::now);
    let mut forecast = crate::forecast::forecast(&schedule, &environments, from, count);
    if observe {
        for (env, report) in forecast.environments.iter_mut().zip(statuses(&schedule, &environments).await?) {
            let when_up = report.cost_when_up.clone().unwrap_or_else(|| crate::plan::cost::total(&[]));
            let mut notes: Vec<String> = report
                .notes
                .iter()
                .filter(|n| n.starts_with("cost:") || n.starts_with("no task size"))
                .cloned()
                .collect();
            if let Some(e) = report.error() {
                notes.push(e.to_string());
            }
            env.observe(report.services.len(), when_up, notes);
        }
    }
    match format {
        Format::Text => emit(format_args!("{forecast}")),
        Format::Json => {
            emit(format_args!("{}\n", serde_json::to_string(&forecast).expect("a forecast always serializes")))
        }
    }
    Ok(())
}

async fn init_state(table: &str) -> Result<(), Error> {
    use crate::aws::StateTables;
    let aws = Sdk::from_env(&Default::default()).await.map_err(Error::InvalidInput)?;
    let created = aws
        .create_state_table(table)
        .await
        .map_err(|source| Error::Aws { context: format!("cannot create the state table {table}"), source })?;
    let what = if created { "created" } else { "already exists:" };
    emit(format_args!("state table {what} {table}\nexport ECS_COST_SAVER_STATE_TABLE={table}\n"));
    Ok(())
}

/// How `invoke` runs the handler and prints its report.
struct Run {
    dry_run: bool,
    timeout: Duration,
    now: Option<DateTime<FixedOffset>>,
    format: Format,
    emf: bool,
}

async fn invoke(
    schedule: PathBuf,
    payload: Option<String>,
    event: Option<PathBuf>,
    run: Run,
) -> Result<ExitCode, Error> {
    let Run { dry_run, timeout, now, format, emf } = run;
    let now = now.map(|t| t.with_timezone(&Utc)).unwrap_or_else(Utc::now);
    let began = tokio::time::Instant::now();
    let deadline = began + timeout;
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
    let mut settings = Settings::from_env().map_err(Error::InvalidInput)?;
    if let Input::Payload(payload) = Input::parse(input.clone())? {
        environment_intent(&schedule, payload, now, &settings)?;
    }
    let aws = Sdk::from_env(&settings.limits).await.map_err(Error::InvalidInput)?;
    settings.region = settings.region.or_else(|| aws.region());
    if settings.state_table.is_none() {
        eprintln!("note: {}", Settings::NO_STATE_TABLE);
    }
    let schedule = schedule.in_region(settings.region.as_deref());
    let report = handle(&Context::new(&aws, &schedule, &settings), input, now, deadline).await?;
    match format {
        Format::Text => emit(format_args!("{report}\n")),
        Format::Json => emit(format_args!("{}\n", report.to_json_line())),
    }
    if emf && let Some(line) = crate::metrics::line(&report, began.elapsed(), Utc::now().timestamp_millis()) {
        emit(format_args!("{line}\n"));
    }
    Ok(match report.error() {
        Some(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    })
}
