//! What a service's tasks cost per hour, and which of its tasks a run's figure counts (README,
//! "How the savings are computed"). Pure: the task sizes were read, the prices are the table's
//! or the file's.

use serde::Serialize;

use crate::plan::Counts;
use crate::pricing::{self, LaunchCapacity, Pricing, TaskSize, Usage};
use crate::state::{Placement, Snapshot};

/// A service's task size as a report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeReport {
    pub vcpu: f64,
    pub gib: f64,
    pub architecture: pricing::Architecture,
    /// Where the counted tasks run: `FARGATE`, `FARGATE_SPOT`, `EC2`, or a split such as
    /// `FARGATE 1 + FARGATE_SPOT 3`.
    pub capacity: String,
}

/// The tasks a stop saves: those of a service it stopped (its count before), or of one that
/// was already stopped (its snapshot's count); none of one that runs.
pub fn saved_tasks(before: Option<Counts>, after: Option<Counts>, snapshot: Option<&Snapshot>) -> u32 {
    match (before, after) {
        (_, Some(after)) if after.desired > 0 => 0,
        (Some(before), Some(_)) if before.desired > 0 => before.desired,
        (_, Some(_)) => snapshot.map_or(0, |s| s.desired),
        (_, None) => 0,
    }
}

/// The tasks a service runs when it is up: its count now if it runs, else its snapshot's,
/// else what a start without a snapshot gives it (the file's `desired_count`).
pub fn up_tasks(now: Option<Counts>, snapshot: Option<&Snapshot>, default: u32) -> u32 {
    match now {
        Some(c) if c.desired > 0 => c.desired,
        _ => snapshot.map_or(default, |s| s.desired),
    }
}

/// `tasks` of a service of this size and placement, per hour, at `pricing`'s prices for
/// `region`. Its cost is `None` when a Fargate task has no price there (the reason is the
/// `Err` of the second value), or some of its tasks run on EC2 (the instances cost, not the
/// tasks: the group's line says what stopping them saves).
pub fn usage(
    size: &TaskSize,
    placement: &Placement,
    tasks: u32,
    pricing: &Pricing,
    region: Option<&str>,
) -> (Usage, SizeReport, Option<String>) {
    let split = placement.split(tasks);
    let report =
        SizeReport { vcpu: size.vcpu, gib: size.gib, architecture: size.architecture, capacity: capacity_text(&split) };
    let rates = match region {
        Some(region) => pricing.rates(region, size.architecture),
        None => Err("no AWS region known (set AWS_REGION) to price the tasks in".to_string()),
    };
    match rates {
        Ok(rates) => {
            let usage = pricing::usage(size, &split, &rates);
            let note = split
                .iter()
                .any(|(c, n)| *c == LaunchCapacity::Ec2 && *n > 0)
                .then(|| "its EC2 tasks are not priced: their instances cost, not the tasks".to_string());
            (usage, report, note)
        }
        Err(why) => {
            let usage = Usage {
                vcpu_per_hour: size.vcpu * f64::from(tasks),
                gib_per_hour: size.gib * f64::from(tasks),
                cost_per_hour: None,
                currency: String::new(),
            };
            (usage, report, Some(why))
        }
    }
}

/// `FARGATE`, or `FARGATE 1 + FARGATE_SPOT 3` when the tasks are split.
fn capacity_text(split: &[(LaunchCapacity, u32)]) -> String {
    let name = |c: &LaunchCapacity| match c {
        LaunchCapacity::Fargate => "FARGATE",
        LaunchCapacity::FargateSpot => "FARGATE_SPOT",
        LaunchCapacity::Ec2 => "EC2",
    };
    let used: Vec<&(LaunchCapacity, u32)> = split.iter().filter(|(_, n)| *n > 0).collect();
    match used.as_slice() {
        [] => split.first().map_or("FARGATE", |(c, _)| name(c)).to_string(),
        [(c, _)] => name(c).to_string(),
        many => many.iter().map(|(c, n)| format!("{} {n}", name(c))).collect::<Vec<_>>().join(" + "),
    }
}

/// The sum of the services' figures: the cost only when every service with tasks is priced.
pub fn total<'a>(usages: impl IntoIterator<Item = &'a Usage>) -> Usage {
    let mut total = Usage { vcpu_per_hour: 0.0, gib_per_hour: 0.0, cost_per_hour: Some(0.0), currency: String::new() };
    for u in usages {
        total.vcpu_per_hour += u.vcpu_per_hour;
        total.gib_per_hour += u.gib_per_hour;
        total.cost_per_hour = match (total.cost_per_hour, u.cost_per_hour) {
            (Some(sum), Some(cost)) => Some(sum + cost),
            (sum, None) if u.vcpu_per_hour == 0.0 && u.gib_per_hour == 0.0 => sum,
            _ => None,
        };
        if total.currency.is_empty() {
            total.currency = u.currency.clone();
        }
    }
    total
}
