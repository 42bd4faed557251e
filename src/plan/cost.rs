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
/// `region`, and why it has no cost: a Fargate task with no price there. Tasks on EC2 are
/// counted in `unpriced_tasks` (the instances cost, not the tasks).
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
            // Its EC2 tasks are the total's note, once (`Usage::note`).
            (pricing::usage(size, &split, &rates), report, None)
        }
        Err(why) => {
            let usage = Usage {
                vcpu_per_hour: size.vcpu * f64::from(tasks),
                gib_per_hour: size.gib * f64::from(tasks),
                cost_per_hour: None,
                currency: String::new(),
                unpriced_tasks: tasks,
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
    let mut total = Usage { cost_per_hour: Some(0.0), ..Usage::default() };
    for u in usages {
        total.vcpu_per_hour += u.vcpu_per_hour;
        total.gib_per_hour += u.gib_per_hour;
        total.unpriced_tasks += u.unpriced_tasks;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{Architecture, StrategyItem};

    fn counts(desired: u32) -> Option<Counts> {
        Some(Counts { desired, min: None, max: None })
    }

    fn snapshot(desired: u32) -> Snapshot {
        Snapshot { desired, capacity: None }
    }

    #[test]
    fn a_stop_saves_the_tasks_it_stopped_and_those_already_stopped() {
        // Stopped now: its count before.
        assert_eq!(saved_tasks(counts(3), counts(0), None), 3);
        // Already stopped: its snapshot's count (the tasks a start gives back).
        assert_eq!(saved_tasks(counts(0), counts(0), Some(&snapshot(2))), 2);
        // At 0 with no snapshot, or still running (excluded, failed to stop): nothing.
        assert_eq!(saved_tasks(counts(0), counts(0), None), 0);
        assert_eq!(saved_tasks(counts(2), counts(2), None), 0);
        assert_eq!(saved_tasks(counts(2), None, None), 0);
    }

    #[test]
    fn up_is_the_count_now_else_the_snapshot_else_the_file() {
        assert_eq!(up_tasks(counts(2), Some(&snapshot(5)), 1), 2);
        assert_eq!(up_tasks(counts(0), Some(&snapshot(5)), 1), 5);
        assert_eq!(up_tasks(counts(0), None, 3), 3);
        assert_eq!(up_tasks(None, None, 1), 1);
    }

    #[test]
    fn a_service_is_priced_by_its_placement_and_said_so_when_it_cannot_be() {
        let size = TaskSize::from_units(256, 512, Architecture::X86_64);
        let spot = Placement {
            task_definition: Some("td:1".into()),
            launch_type: None,
            strategy: vec![
                StrategyItem { provider: "FARGATE".into(), base: 1, weight: 1 },
                StrategyItem { provider: "FARGATE_SPOT".into(), base: 0, weight: 3 },
            ],
        };
        let (used, report, note) = usage(&size, &spot, 5, &Pricing::default(), Some("ap-northeast-1"));
        assert_eq!(report.capacity, "FARGATE 2 + FARGATE_SPOT 3");
        assert_eq!(note, None);
        // 1 base + 4 by weight 1:3 -> FARGATE 2, FARGATE_SPOT 3; a task is 0.25 x 0.05056 +
        // 0.5 x 0.00553 = 0.015405 an hour, Spot 70 % less: 2 x 0.015405 + 3 x 0.0046215.
        let expected = 2.0 * 0.015405 + 3.0 * 0.015405 * 0.3;
        assert!((used.cost_per_hour.unwrap() - expected).abs() < 1e-9, "{used:?}");
        assert_eq!((used.vcpu_per_hour, used.gib_per_hour), (1.25, 2.5));

        let ec2 = Placement { launch_type: Some("EC2".into()), ..spot.clone() };
        let ec2 = Placement { strategy: vec![], ..ec2 };
        let (used, report, note) = usage(&size, &ec2, 2, &Pricing::default(), Some("ap-northeast-1"));
        assert_eq!((report.capacity.as_str(), used.unpriced_tasks, note), ("EC2", 2, None));
        assert!(used.note().unwrap().contains("EC2"));

        let (used, _, note) = usage(&size, &spot, 2, &Pricing::default(), Some("sa-east-1"));
        assert_eq!((used.cost_per_hour, used.vcpu_per_hour), (None, 0.5));
        assert!(note.unwrap().contains("sa-east-1"));
    }

    #[test]
    fn a_total_has_a_cost_only_when_every_service_with_tasks_has_one() {
        let u = |vcpu: f64, cost: Option<f64>| Usage {
            vcpu_per_hour: vcpu,
            gib_per_hour: vcpu * 2.0,
            cost_per_hour: cost,
            currency: "USD".into(),
            unpriced_tasks: 0,
        };
        let t = total(&[u(0.5, Some(0.1)), u(1.0, Some(0.2))]);
        assert_eq!((t.vcpu_per_hour, t.gib_per_hour, t.currency.as_str()), (1.5, 3.0, "USD"));
        assert!((t.cost_per_hour.unwrap() - 0.3).abs() < 1e-12);
        // A service with no tasks and no price does not make the total unknown; one with tasks does.
        assert!(total(&[u(0.5, Some(0.1)), u(0.0, None)]).cost_per_hour.is_some());
        assert_eq!(total(&[u(0.5, Some(0.1)), u(1.0, None)]).cost_per_hour, None);
    }
}
