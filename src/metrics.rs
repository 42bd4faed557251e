//! The run's metrics as one CloudWatch Embedded Metric Format (EMF) log line (README,
//! "Metrics"): CloudWatch Logs extracts them from the function's log group, so there is no
//! PutMetricData call and no permission beyond writing logs. Namespace `EcsCostSaver`, one
//! dimension set (`Environment`, `Action`). Built from the report, after the run.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::report::{Handled, Outcome, Report};

pub const NAMESPACE: &str = "EcsCostSaver";

/// The dimension set every metric is published under.
pub const DIMENSIONS: [&str; 2] = ["Environment", "Action"];

/// One metric of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    /// An EMF (CloudWatch) unit.
    pub unit: &'static str,
    pub value: f64,
}

/// What a run measured, in the order the line lists them. A figure the run has no value for
/// (a stop's time to ready, a cost without a price) is left out, not sent as 0.
pub fn metrics(report: &Report, duration: Duration) -> Vec<Metric> {
    let count = |o: Outcome| report.services.iter().filter(|s| s.outcome == o).count() as f64;
    let moved = |down: bool| {
        report
            .services
            .iter()
            .filter(|s| s.outcome == Outcome::Changed)
            .filter_map(|s| Some((s.before?.desired, s.after?.desired)))
            .map(|(before, after)| {
                f64::from(if down { before.saturating_sub(after) } else { after.saturating_sub(before) })
            })
            .sum::<f64>()
    };
    let succeeded = report.error().is_none();
    let mut out = vec![
        Metric { name: "ServicesChanged", unit: "Count", value: count(Outcome::Changed) },
        Metric { name: "ServicesUnchanged", unit: "Count", value: count(Outcome::Unchanged) },
        Metric { name: "ServicesSkipped", unit: "Count", value: count(Outcome::Skipped) },
        Metric { name: "ServicesFailed", unit: "Count", value: count(Outcome::Failed) },
        Metric { name: "TasksStopped", unit: "Count", value: moved(true) },
        Metric { name: "TasksStarted", unit: "Count", value: moved(false) },
        Metric { name: "ThrottledRetries", unit: "Count", value: report.throttled as f64 },
        Metric { name: "DurationMs", unit: "Milliseconds", value: duration.as_secs_f64() * 1000.0 },
        Metric { name: "RunSucceeded", unit: "Count", value: if succeeded { 1.0 } else { 0.0 } },
    ];
    if let Some(ms) = report.time_to_ready_ms {
        out.push(Metric { name: "TimeToReadyMs", unit: "Milliseconds", value: ms as f64 });
    }
    if let Some(saving) = &report.saving {
        out.push(Metric { name: "SavedVcpuPerHour", unit: "None", value: saving.vcpu_per_hour });
        out.push(Metric { name: "SavedGiBPerHour", unit: "None", value: saving.gib_per_hour });
        if let Some(cost) = saving.cost_per_hour {
            out.push(Metric { name: "SavedCostPerHour", unit: "None", value: cost });
        }
    }
    if let Some(cost) = report.cost.as_ref().and_then(|c| c.cost_per_hour) {
        out.push(Metric { name: "CostPerHour", unit: "None", value: cost });
    }
    out
}

/// The `Environment` dimension: the report's environment, `spot` for a Spot event (which
/// belongs to none).
pub fn environment(report: &Report) -> &str {
    if report.environment.is_empty() { "spot" } else { &report.environment }
}

/// The EMF document of a run that took `duration`, stamped `timestamp_ms` (Unix epoch ms).
/// None for a dry run: it changed nothing, and its counts would read as a run's on the
/// dashboard.
pub fn document(report: &Report, duration: Duration, timestamp_ms: i64) -> Option<Value> {
    if report.dry_run {
        return None;
    }
    let metrics = metrics(report, duration);
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [DIMENSIONS],
                "Metrics": metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert("Environment".into(), Value::from(environment(report)));
    root.insert("Action".into(), Value::from(action(report)));
    for m in &metrics {
        root.insert(m.name.into(), json!(m.value));
    }
    Some(Value::Object(root))
}

/// The document as the one log line CloudWatch reads.
pub fn line(report: &Report, duration: Duration, timestamp_ms: i64) -> Option<String> {
    document(report, duration, timestamp_ms).map(|d| d.to_string())
}

fn action(report: &Report) -> &'static str {
    match report.action {
        Handled::Payload(a) => a.as_str(),
        other => other.as_str(),
    }
}

#[cfg(test)]
mod tests;
