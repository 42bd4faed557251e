use super::*;
use crate::action::Action;
use crate::error::{ErrorKind, Failure};
use crate::plan::Counts;
use crate::pricing::Usage;
use crate::report::ServiceReport;

/// Every rule of the EMF specification a line must meet for CloudWatch to extract its
/// metrics (AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification):
/// the `_aws` object with exactly `Timestamp` (ms) and `CloudWatchMetrics`; each directive's
/// `Namespace` (1-255 characters), `Dimensions` (sets of at most 30 names, each a root member
/// holding a non-empty string of at most 1,024 characters) and `Metrics` (at most 100, each a
/// `Name` of 1-255 characters and a known `Unit`, whose root member is a number or up to 100
/// numbers). The problems found, none for a valid line.
fn emf_problems(line: &str) -> Vec<String> {
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let mut problems = Vec::new();
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(line) else {
        return vec!["not a JSON object".into()];
    };
    if line.contains('\n') {
        problems.push("more than one line".into());
    }
    let Some(Value::Object(aws)) = root.get("_aws") else {
        return vec!["no `_aws` object".into()];
    };
    for key in aws.keys() {
        if key != "Timestamp" && key != "CloudWatchMetrics" {
            problems.push(format!("`_aws` has the extra member `{key}`"));
        }
    }
    match aws.get("Timestamp") {
        Some(Value::Number(n)) if n.as_i64().is_some_and(|t| t > 1_000_000_000_000) => {}
        other => problems.push(format!("`_aws.Timestamp` is not epoch milliseconds: {other:?}")),
    }
    let Some(Value::Array(directives)) = aws.get("CloudWatchMetrics") else {
        problems.push("no `_aws.CloudWatchMetrics` array".into());
        return problems;
    };
    for d in directives {
        let Value::Object(d) = d else {
            problems.push("a directive is not an object".into());
            continue;
        };
        match d.get("Namespace").and_then(Value::as_str) {
            Some(ns) if (1..=255).contains(&ns.len()) => {}
            other => problems.push(format!("bad Namespace {other:?}")),
        }
        match d.get("Dimensions") {
            Some(Value::Array(sets)) => {
                for set in sets {
                    let Some(names) = set.as_array() else {
                        problems.push("a dimension set is not an array".into());
                        continue;
                    };
                    if names.len() > 30 {
                        problems.push(format!("a dimension set has {} dimensions (at most 30)", names.len()));
                    }
                    for name in names {
                        match name.as_str().map(|n| (n, root.get(n))) {
                            Some((_, Some(Value::String(v)))) if !v.is_empty() && v.chars().count() <= 1024 => {}
                            _ => problems.push(format!("dimension {name} is not a root member holding a string")),
                        }
                    }
                }
            }
            _ => problems.push("no Dimensions array".into()),
        }
        match d.get("Metrics") {
            Some(Value::Array(metrics)) => {
                if metrics.len() > 100 {
                    problems.push(format!("{} metrics in one directive (at most 100)", metrics.len()));
                }
                for m in metrics {
                    let name = m.get("Name").and_then(Value::as_str).unwrap_or_default();
                    if !(1..=255).contains(&name.len()) {
                        problems.push(format!("bad metric Name in {m}"));
                    }
                    if let Some(unit) = m.get("Unit")
                        && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
                    {
                        problems.push(format!("metric {name} has the unknown unit {unit}"));
                    }
                    match root.get(name) {
                        Some(Value::Number(_)) => {}
                        Some(Value::Array(values)) if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                        other => problems.push(format!("metric {name} has no numeric value: {other:?}")),
                    }
                }
            }
            _ => problems.push("no Metrics array".into()),
        }
    }
    problems
}

fn counts(desired: u32) -> Option<Counts> {
    Some(Counts { desired, min: None, max: None })
}

fn service(name: &str, outcome: Outcome, before: u32, after: u32) -> ServiceReport {
    let mut s = ServiceReport::new(&crate::schedule::ServiceRef::new("shop-stg", name), outcome);
    s.before = counts(before);
    s.after = counts(after);
    s
}

fn stop() -> Report {
    let mut r = Report::new(Handled::Payload(Action::Stop), "staging".into(), false);
    r.services = vec![
        service("api", Outcome::Changed, 2, 0),
        service("web", Outcome::Changed, 3, 0),
        service("batch", Outcome::Unchanged, 0, 0),
    ];
    r.throttled = 4;
    r.saving = Some(Usage {
        vcpu_per_hour: 1.25,
        gib_per_hour: 2.5,
        cost_per_hour: Some(0.0770),
        currency: "USD".into(),
        unpriced_tasks: 0,
    });
    r
}

fn value(doc: &Value, name: &str) -> f64 {
    doc[name].as_f64().unwrap_or_else(|| panic!("{name} missing in {doc}"))
}

const T: i64 = 1_796_299_200_000; // 2026-12-03T13:20:00Z

#[test]
fn a_stop_line_meets_the_emf_specification_and_carries_its_figures() {
    let line = line(&stop(), Duration::from_millis(1234), T).unwrap();
    assert_eq!(emf_problems(&line), Vec::<String>::new(), "{line}");
    let doc: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(doc["_aws"]["Timestamp"], T);
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "EcsCostSaver");
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Environment", "Action"]]));
    assert_eq!((doc["Environment"].as_str(), doc["Action"].as_str()), (Some("staging"), Some("stop")));
    let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ServicesChanged",
            "ServicesUnchanged",
            "ServicesSkipped",
            "ServicesFailed",
            "TasksStopped",
            "TasksStarted",
            "ThrottledRetries",
            "DurationMs",
            "RunSucceeded",
            "SavedVcpuPerHour",
            "SavedGiBPerHour",
            "SavedCostPerHour",
        ]
    );
    let figures: Vec<f64> = names.iter().map(|n| value(&doc, n)).collect();
    assert_eq!(figures, [2.0, 1.0, 0.0, 0.0, 5.0, 0.0, 4.0, 1234.0, 1.0, 1.25, 2.5, 0.0770]);
}

#[test]
fn a_start_carries_its_time_to_ready_and_no_saving() {
    let mut r = Report::new(Handled::Payload(Action::Start), "staging".into(), false);
    r.services = vec![service("api", Outcome::Changed, 0, 2), service("web", Outcome::Changed, 0, 3)];
    r.time_to_ready_ms = Some(41_200);
    let line = line(&r, Duration::from_secs(45), T).unwrap();
    assert_eq!(emf_problems(&line), Vec::<String>::new(), "{line}");
    let doc: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((value(&doc, "TasksStarted"), value(&doc, "TasksStopped")), (5.0, 0.0));
    assert_eq!(value(&doc, "TimeToReadyMs"), 41_200.0);
    assert!(doc.get("SavedCostPerHour").is_none() && !line.contains("SavedCostPerHour"), "{line}");
}

#[test]
fn a_failed_run_says_so_and_a_status_carries_the_cost_now() {
    let mut r = Report::new(Handled::Payload(Action::Status), "dev".into(), false);
    let mut broken = service("api", Outcome::Unchanged, 1, 1);
    broken.fail(Failure::new(ErrorKind::AccessDenied, "DescribeServices: AccessDeniedException"));
    r.services = vec![broken];
    r.cost = Some(Usage {
        vcpu_per_hour: 0.5,
        gib_per_hour: 1.0,
        cost_per_hour: Some(0.0308),
        currency: "USD".into(),
        unpriced_tasks: 0,
    });
    let line = line(&r, Duration::from_millis(80), T).unwrap();
    assert_eq!(emf_problems(&line), Vec::<String>::new(), "{line}");
    let doc: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((value(&doc, "RunSucceeded"), value(&doc, "ServicesFailed")), (0.0, 1.0));
    assert_eq!(value(&doc, "CostPerHour"), 0.0308);
}

#[test]
fn a_spot_event_is_its_own_environment_and_a_dry_run_sends_nothing() {
    let r = Report::new(Handled::SpotInterruption, String::new(), false);
    let doc = document(&r, Duration::from_millis(30), T).unwrap();
    assert_eq!((doc["Environment"].as_str(), doc["Action"].as_str()), (Some("spot"), Some("spot-interruption")));
    assert_eq!(emf_problems(&doc.to_string()), Vec::<String>::new());
    let dry = Report::new(Handled::Payload(Action::Stop), "staging".into(), true);
    assert_eq!(document(&dry, Duration::ZERO, T), None);
}

/// The check itself finds each way a line can break the specification.
#[test]
fn the_check_finds_what_breaks_the_specification() {
    let good: Value = serde_json::from_str(&line(&stop(), Duration::from_millis(5), T).unwrap()).unwrap();
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        f(&mut doc);
        emf_problems(&doc.to_string())
    };
    assert!(broken(&|d| d["TasksStopped"] = json!("5"))[0].contains("TasksStopped has no numeric value"));
    assert!(
        broken(&|d| {
            d.as_object_mut().unwrap().remove("Environment");
        })[0]
            .contains("dimension \"Environment\"")
    );
    assert!(broken(&|d| d["_aws"]["LogGroupName"] = json!("x"))[0].contains("extra member `LogGroupName`"));
    assert!(broken(&|d| d["_aws"]["Timestamp"] = json!("now"))[0].contains("Timestamp"));
    assert!(
        broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0] = json!(vec!["Environment"; 31]))[0]
            .contains("31 dimensions")
    );
    let many: Vec<Value> = (0..101).map(|i| json!({"Name": format!("M{i}"), "Unit": "Count"})).collect();
    assert!(
        broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(many))
            .iter()
            .any(|p| p.contains("101 metrics"))
    );
    assert!(
        broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Tasks"))[0]
            .contains("unknown unit")
    );
}
