//! The report every invocation returns and logs (README, "The report"): JSON for machines, text for people.
//! Built from the plan, then from what applying it did; a dry run's report is its plan.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::action::Action;
use crate::apply::{Applied, Registered};
use crate::error::{Error, ErrorKind, Failure};
use crate::intent::EnvironmentIntent;
use crate::plan::capacity::{GroupDecision, GroupPlan};
use crate::plan::cost::SizeReport;
use crate::plan::targets::ServiceRegistration;
use crate::plan::{Counts, Decision, Plan, Planned, Step};
use crate::pricing::Usage;
use crate::schedule::{Place, ServiceRef};
use crate::state::{GroupSize, Snapshot, Target};

pub use crate::state::TargetChange;

/// What an invocation handled: a payload's action, or a Spot event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Payload(Action),
    /// An ECS task state change (a Spot task interruption).
    SpotInterruption,
    /// An EC2 Spot instance interruption warning.
    SpotInstanceWarning,
}

impl Handled {
    pub fn as_str(self) -> &'static str {
        match self {
            Handled::Payload(action) => action.as_str(),
            Handled::SpotInterruption => "spot-interruption",
            Handled::SpotInstanceWarning => "spot-instance-warning",
        }
    }
}

impl Serialize for Handled {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub action: Handled,
    pub environment: String,
    pub dry_run: bool,
    pub services: Vec<ServiceReport>,
    pub targets: Vec<TargetReport>,
    pub skipped_reason: Option<String>,
    /// Why the run did what it did (e.g. what the crons say the state should be now).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The one-time schedule an `until` created or replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_schedule: Option<OverrideReport>,
    /// The services this run left to a continuation: the buckets leave no time for them before
    /// the deadline (each is `skipped` saying so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handed_on: Option<HandedOn>,
    /// Answers AWS throttled during the run (every attempt, the SDK's retries included).
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled: u64,
    /// Every exclusion tag in force on the environment's services, with its end.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<crate::plan::exclusion::ExclusionReport>,
    /// The environment's Auto Scaling groups (`capacity`), in the file's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<GroupReport>,
    /// A stop: what the environment's stopped services save per hour while stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saving: Option<Usage>,
    /// `status`: what the environment's services cost per hour now, and when they are all up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_when_up: Option<Usage>,
    /// A start: from the beginning of the run until every task of its started services was
    /// RUNNING and registered (absent when they were not all by the end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_ready_ms: Option<u64>,
    /// When the last started service was ready (what `time_to_ready_ms` is measured to).
    #[serde(skip)]
    pub ready_at: Option<std::time::Instant>,
    /// One line for people (notifications, the dashboard's log widget): the outcome counts,
    /// the time to ready, the saving or the cost.
    pub summary: String,
}

/// One Auto Scaling group's line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub outcome: Outcome,
    /// Its sizes as found, and after the run (or the dry run's plan).
    pub before: Option<GroupSize>,
    pub after: Option<GroupSize>,
    /// Its snapshot tag as found before this invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<GroupSize>,
    /// The capacity provider it backs, with what ECS manages of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl GroupReport {
    /// The plan's line: a dry run's (the calls it would make), or before a run's calls.
    pub fn planned(plan: &GroupPlan) -> GroupReport {
        let mut report = GroupReport {
            group: plan.group.clone(),
            outcome: Outcome::Unchanged,
            before: plan.before,
            after: plan.after,
            snapshot: plan.saved,
            capacity_provider: plan.capacity_provider.clone(),
            actions: crate::plan::capacity::actions(&plan.decision),
            reason: None,
            error: None,
            error_kind: None,
            notes: Vec::new(),
        };
        match &plan.decision {
            GroupDecision::Unchanged => {}
            GroupDecision::Change { .. } => report.outcome = Outcome::Changed,
            GroupDecision::Skip(reason) => {
                report.outcome = Outcome::Skipped;
                report.reason = Some(reason.clone());
            }
            GroupDecision::Fail(failure) => report.fail(failure),
        }
        report
    }

    pub fn fail(&mut self, failure: &Failure) {
        self.outcome = Outcome::Failed;
        self.error = Some(failure.message.clone());
        self.error_kind = Some(failure.kind);
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a run handed on, and to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandedOn {
    /// `cluster/service`, in the plan's order.
    pub services: Vec<String>,
    /// The continuation (a one-time schedule and when), or what finishes them instead.
    pub to: String,
}

/// The one-time EventBridge Scheduler schedule of an `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideReport {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    /// The action it will run.
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Changed,
    Unchanged,
    Skipped,
    Failed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceReport {
    /// `account` and `region` away from the function's own (absent at home).
    #[serde(flatten)]
    pub place: Place,
    pub cluster: String,
    pub service: String,
    pub outcome: Outcome,
    pub before: Option<Counts>,
    pub after: Option<Counts>,
    /// The calls made (or, in a dry run, that would be made), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// The saved snapshot as found before this invocation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Why a service was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why a service failed (every failure, first first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How it failed: the first failure's kind, or the first retryable one's (a retry can still
    /// fix that part).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// The failures behind `error`, with their AWS errors.
    #[serde(skip)]
    pub failures: Vec<Failure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Tasks that were not RUNNING when the wait for them ended (`id (STATUS)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks_not_running: Vec<String>,
    /// The selector entry that chose the service this run (absent: listed by name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_by: Option<String>,
    /// Its task size, read on stop and `status` (one DescribeTaskDefinition per revision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_size: Option<SizeReport>,
    /// A stop: what it saves per hour while stopped; `status`: what it costs per hour now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_hour: Option<f64>,
}

impl ServiceReport {
    /// The service it is about.
    pub fn id(&self) -> ServiceRef {
        ServiceRef::at(&self.place, self.cluster.clone(), self.service.clone())
    }

    pub fn new(id: &ServiceRef, outcome: Outcome) -> ServiceReport {
        ServiceReport {
            place: id.place.clone(),
            cluster: id.cluster.clone(),
            service: id.service.clone(),
            outcome,
            before: None,
            after: None,
            actions: Vec::new(),
            snapshot: None,
            reason: None,
            error: None,
            error_kind: None,
            failures: Vec::new(),
            notes: Vec::new(),
            tasks_not_running: Vec::new(),
            selected_by: None,
            task_size: None,
            cost_per_hour: None,
        }
    }

    /// Record a failure; earlier failures stay first.
    pub fn fail(&mut self, failure: Failure) {
        self.outcome = Outcome::Failed;
        self.error = Some(match self.error.take() {
            Some(first) => format!("{first}; {}", failure.message),
            None => failure.message.clone(),
        });
        self.error_kind = match self.error_kind {
            Some(kind) if kind.is_retryable() || !failure.kind.is_retryable() => Some(kind),
            _ => Some(failure.kind),
        };
        self.failures.push(failure);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    pub cluster: String,
    pub service: String,
    pub target_group: String,
    #[serde(flatten)]
    pub target: Target,
    pub change: TargetChange,
}

impl Report {
    /// A report of `handled` with no services yet.
    pub fn new(action: Handled, environment: String, dry_run: bool) -> Report {
        Report {
            action,
            environment,
            dry_run,
            services: Vec::new(),
            targets: Vec::new(),
            skipped_reason: None,
            notes: Vec::new(),
            override_schedule: None,
            handed_on: None,
            throttled: 0,
            exclusions: Vec::new(),
            capacity: Vec::new(),
            saving: None,
            cost: None,
            cost_when_up: None,
            time_to_ready_ms: None,
            ready_at: None,
            summary: String::new(),
        }
    }

    /// One report of an environment whose services live in several places, from one report per
    /// place (each run with that place's clients): services, targets, groups, notes and figures
    /// together, in the order of `parts`.
    pub fn merge(parts: Vec<Report>) -> Option<Report> {
        let mut parts = parts.into_iter();
        let mut whole = parts.next()?;
        for part in parts {
            // A start is ready when every part with started services is.
            let started = |r: &Report| r.services.iter().any(|s| s.outcome == Outcome::Changed);
            whole.time_to_ready_ms = match (whole.time_to_ready_ms, part.time_to_ready_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (None, b) if !started(&whole) => b,
                (a, None) if !started(&part) => a,
                _ => None,
            };
            whole.ready_at = whole.ready_at.max(part.ready_at);
            whole.services.extend(part.services);
            whole.targets.extend(part.targets);
            whole.skipped_reason = match (whole.skipped_reason.take(), part.skipped_reason) {
                (Some(a), Some(b)) if a == b => Some(a),
                (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                _ => None,
            };
            for note in part.notes {
                if !whole.notes.contains(&note) {
                    whole.notes.push(note);
                }
            }
            whole.override_schedule = whole.override_schedule.or(part.override_schedule);
            whole.handed_on = match (whole.handed_on.take(), part.handed_on) {
                (Some(mut a), Some(b)) => {
                    a.services.extend(b.services);
                    Some(a)
                }
                (a, b) => a.or(b),
            };
            whole.throttled += part.throttled;
            whole.exclusions.extend(part.exclusions);
            whole.capacity.extend(part.capacity);
            let add = |a: Option<Usage>, b: Option<Usage>| match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            whole.saving = add(whole.saving.take(), part.saving);
            whole.cost = add(whole.cost.take(), part.cost);
            whole.cost_when_up = add(whole.cost_when_up.take(), part.cost_when_up);
        }
        Some(whole)
    }

    /// The part of an environment in a place whose clients could not be had (its role cannot be
    /// assumed): each of its services failed, each selector's too (named `CLUSTER/[ENTRY]`),
    /// nothing was called there.
    pub fn unreachable(intent: &EnvironmentIntent<'_>, error: &crate::error::AwsError) -> Report {
        let env = intent.environment;
        let mut report = Report::new(Handled::Payload(intent.action), env.name.clone(), intent.dry_run);
        let ids = env
            .services
            .iter()
            .map(|c| c.id.clone())
            .chain(env.selectors.iter().map(crate::plan::select::unread_selector));
        for id in ids {
            let mut s = ServiceReport::new(&id, Outcome::Failed);
            s.fail(Failure::aws(error, error.to_string()));
            report.services.push(s);
        }
        if !env.capacity.is_empty() {
            let groups: Vec<&str> = env.capacity.iter().map(|g| g.name.as_str()).collect();
            report.notes.push(format!("Auto Scaling groups {} not read: {error}", groups.join(", ")));
        }
        report.notes.extend(intent.notes.iter().cloned());
        report
    }

    /// Nothing was done for `reason` (a holiday, a pending override, a manual-only schedule).
    pub fn skipped(intent: &EnvironmentIntent<'_>, reason: String) -> Report {
        let mut report = Report::new(Handled::Payload(intent.action), intent.environment.name.clone(), intent.dry_run);
        report.services = intent
            .environment
            .services
            .iter()
            .map(|c| {
                let mut s = ServiceReport::new(&c.id, Outcome::Skipped);
                s.reason = Some(reason.clone());
                s
            })
            .collect();
        report.skipped_reason = Some(reason);
        report.notes = intent.notes.clone();
        report
    }

    /// What `plan` will do, as a report: every service's outcome, counts and calls as planned.
    /// A dry run returns this; a real run goes on to record what happened.
    pub fn planned(plan: &Plan) -> Report {
        let mut report = Report::new(Handled::Payload(plan.action), plan.environment.clone(), plan.dry_run);
        report.notes = plan.notes.clone();
        report.override_schedule = plan.override_schedule.as_ref().map(|o| OverrideReport {
            name: o.name.clone(),
            expression: o.expression.clone(),
            timezone: o.timezone.clone(),
            action: if plan.action == Action::Start { Action::Stop } else { Action::Start },
        });
        report.services = plan.services.iter().map(service_planned).collect();
        report.exclusions = plan
            .services
            .iter()
            .filter_map(|s| match s {
                Planned::Service(p) => p.excluded.clone(),
                Planned::Unread { .. } => None,
            })
            .collect();
        report
    }

    fn service_mut(&mut self, id: &ServiceRef) -> Option<&mut ServiceReport> {
        self.services.iter_mut().find(|s| s.place == id.place && s.cluster == id.cluster && s.service == id.service)
    }

    /// What each service's program did: the calls made replace the calls planned.
    pub fn record_applied(&mut self, applied: Vec<(ServiceRef, Applied)>) {
        for (id, applied) in applied {
            let Some(report) = self.service_mut(&id) else { continue };
            report.actions = applied.done;
            if let Some((_, failure)) = applied.failure {
                report.after = None;
                report.fail(failure);
            }
        }
    }

    /// The services handed on (`continuation` says to what): skipped in this run, nothing of
    /// them changed.
    pub fn record_handed_on(&mut self, services: &[ServiceRef], continuation: &str) {
        for id in services {
            let Some(report) = self.service_mut(id) else { continue };
            report.outcome = Outcome::Skipped;
            report.after = report.before;
            report.actions.clear();
            report.reason = Some(format!("handed on: {continuation}"));
        }
        self.handed_on = Some(HandedOn {
            services: services.iter().map(ServiceRef::to_string).collect(),
            to: continuation.to_string(),
        });
    }

    /// A service planned again after its conditional write lost to another run: its line as
    /// newly planned, saying why.
    pub fn record_replanned(&mut self, planned: &Planned, why: &Failure) {
        let Some(report) = self.service_mut(planned.id()) else { return };
        let mut line = service_planned(planned);
        line.notes.insert(0, format!("read and planned again: {why}"));
        *report = line;
    }

    /// A service's registration: its targets (`registered` by target group, or in a dry run
    /// `None`: what would be), problems, notes and tasks not running.
    pub fn record_registration(
        &mut self,
        id: &ServiceRef,
        planned: ServiceRegistration,
        registered: Option<Registered>,
    ) {
        let mut targets = Vec::new();
        let mut problems = planned.problems;
        let results = match registered {
            Some(results) => results,
            None => planned.wanted.into_iter().map(|(tg, t)| (tg, t, Ok(()))).collect(),
        };
        for (tg, group_targets, result) in results {
            let change = match (&result, self.dry_run) {
                (Err(e), _) => {
                    problems.push(Failure::aws(e, format!("registering in {tg} failed: {e}")));
                    TargetChange::Failed
                }
                (Ok(()), true) => TargetChange::WouldRegister,
                (Ok(()), false) => TargetChange::Registered,
            };
            targets.extend(group_targets.into_iter().map(|target| TargetReport {
                cluster: id.cluster.clone(),
                service: id.service.clone(),
                target_group: tg.clone(),
                target,
                change,
            }));
        }
        if let Some(report) = self.service_mut(id) {
            if targets.iter().any(|t| t.change != TargetChange::Failed) && report.outcome == Outcome::Unchanged {
                report.outcome = Outcome::Changed;
            }
            for p in problems {
                report.fail(p);
            }
            report.notes.extend(planned.notes);
            report.tasks_not_running = planned.not_running;
        }
        self.targets.extend(targets);
    }

    /// A service whose tasks could not be read for registration.
    pub fn record_failure(&mut self, id: &ServiceRef, failure: Failure) {
        if let Some(report) = self.service_mut(id) {
            report.fail(failure);
        }
    }

    pub fn record_note(&mut self, id: &ServiceRef, note: String) {
        if let Some(report) = self.service_mut(id) {
            report.notes.push(note);
        }
    }

    pub fn failed(&self) -> usize {
        self.services.iter().filter(|s| s.outcome == Outcome::Failed).count()
    }

    /// One line of JSON, as logged.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a report always serializes")
    }

    /// The error the invocation returns after the report is logged, if any service failed:
    /// retryable when at least one of the failures is.
    pub fn error(&self) -> Option<Error> {
        let failed: Vec<&ServiceReport> = self.services.iter().filter(|s| s.outcome == Outcome::Failed).collect();
        let groups: Vec<&GroupReport> = self.capacity.iter().filter(|g| g.outcome == Outcome::Failed).collect();
        let kind = |k: Option<ErrorKind>| k.map_or("failed", ErrorKind::as_str);
        let summary: Vec<String> = failed
            .iter()
            .map(|s| format!("{} [{}]: {}", s.id(), kind(s.error_kind), s.error.as_deref().unwrap_or("failed")))
            .chain(groups.iter().map(|g| {
                format!("group {} [{}]: {}", g.group, kind(g.error_kind), g.error.as_deref().unwrap_or("failed"))
            }))
            .collect();
        let kinds = failed.iter().map(|s| s.error_kind).chain(groups.iter().map(|g| g.error_kind));
        (!summary.is_empty()).then(|| Error::ServicesFailed {
            run: format!("{} {}", self.action.as_str(), self.environment).trim_end().to_string(),
            failed: summary.len(),
            total: self.services.len() + self.capacity.len(),
            summary: summary.join("; "),
            retryable: kinds.collect::<Vec<_>>().into_iter().any(|k| k.is_some_and(ErrorKind::is_retryable)),
        })
    }
}

/// A service's task size as read (or why it could not be), and where its tasks run.
pub type Sizes =
    std::collections::BTreeMap<ServiceRef, (crate::state::Placement, Result<crate::pricing::TaskSize, String>)>;

impl Report {
    /// The task sizes and the run's cost figures: a stop's saving per hour while stopped (the
    /// tasks it stopped, and those of services already stopped: their snapshots' counts);
    /// `status`'s cost per hour now and when every service is up. `defaults` are the file's
    /// `desired_count`s (what a start without a snapshot gives). Problems become one note each.
    pub fn record_costs(
        &mut self,
        effect: Action,
        sizes: &Sizes,
        defaults: &std::collections::BTreeMap<ServiceRef, u32>,
        pricing: &crate::pricing::Pricing,
        region: Option<&str>,
    ) {
        use crate::plan::cost;
        let mut saved = Vec::new();
        let (mut now, mut up) = (Vec::new(), Vec::new());
        let mut notes = std::collections::BTreeSet::new();
        for s in &mut self.services {
            let id = s.id();
            let Some((placement, size)) = sizes.get(&id) else { continue };
            let size = match size {
                Ok(size) => size,
                Err(why) => {
                    notes.insert(format!("no task size for {id}: {why}"));
                    continue;
                }
            };
            let mut price = |tasks: u32| {
                let (usage, report, note) = cost::usage(size, placement, tasks, pricing, region);
                if let Some(note) = note {
                    notes.insert(format!("cost: {note}"));
                }
                (usage, report)
            };
            match effect {
                Action::Stop => {
                    let (usage, report) = price(cost::saved_tasks(s.before, s.after, s.snapshot.as_ref()));
                    s.cost_per_hour = usage.cost_per_hour;
                    s.task_size = Some(report);
                    saved.push(usage);
                }
                Action::Status => {
                    let (usage, report) = price(s.before.map_or(0, |c| c.desired));
                    let default = defaults.get(&id).copied().unwrap_or(1);
                    let (when_up, _) = price(cost::up_tasks(s.before, s.snapshot.as_ref(), default));
                    s.cost_per_hour = usage.cost_per_hour;
                    s.task_size = Some(report);
                    now.push(usage);
                    up.push(when_up);
                }
                _ => {}
            }
        }
        match effect {
            Action::Stop => self.saving = Some(cost::total(&saved)),
            Action::Status => {
                self.cost = Some(cost::total(&now));
                self.cost_when_up = Some(cost::total(&up));
            }
            _ => {}
        }
        let unpriced = self.saving.as_ref().or(self.cost_when_up.as_ref()).and_then(Usage::note);
        notes.extend(unpriced.map(|n| format!("cost: {n}")));
        self.notes.extend(notes);
    }

    /// The outcome counts: `3 services: 1 changed, 2 unchanged, 0 skipped, 0 failed`, and the
    /// groups' when there are any.
    fn counts_line(&self) -> String {
        let count = |o: Outcome| self.services.iter().filter(|s| s.outcome == o).count();
        let mut line = format!(
            "{} {}: {} changed, {} unchanged, {} skipped, {} failed",
            self.services.len(),
            plural(self.services.len(), "service", "services"),
            count(Outcome::Changed),
            count(Outcome::Unchanged),
            count(Outcome::Skipped),
            count(Outcome::Failed)
        );
        if !self.capacity.is_empty() {
            let groups = |o: Outcome| self.capacity.iter().filter(|g| g.outcome == o).count();
            line.push_str(&format!(
                "; {} {}: {} changed, {} unchanged, {} skipped, {} failed",
                self.capacity.len(),
                plural(self.capacity.len(), "group", "groups"),
                groups(Outcome::Changed),
                groups(Outcome::Unchanged),
                groups(Outcome::Skipped),
                groups(Outcome::Failed)
            ));
        }
        line
    }

    /// Set [`Report::summary`] from what the report holds now: the last thing done to it.
    pub fn finish(&mut self) {
        let head = format!("{} {}", self.action.as_str(), self.environment);
        let mut line = format!("{}: {}", head.trim_end(), self.counts_line());
        if let Some(ms) = self.time_to_ready_ms {
            line.push_str(&format!("; ready in {}", seconds(ms)));
        }
        if let Some(saving) = &self.saving {
            line.push_str(&format!("; saves {} while stopped", saving));
        }
        if let Some(cost) = &self.cost {
            line.push_str(&format!("; costs {} now", cost));
        }
        if self.throttled > 0 {
            line.push_str(&format!("; {} throttled answers retried", self.throttled));
        }
        self.summary = line;
    }
}

/// `41 s`, `2.3 s` under ten seconds.
fn seconds(ms: u64) -> String {
    if ms < 10_000 { format!("{:.1} s", ms as f64 / 1000.0) } else { format!("{:.0} s", ms as f64 / 1000.0) }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// One service's line of a plan's report.
fn service_planned(planned: &Planned) -> ServiceReport {
    let id = planned.id();
    let mut report = ServiceReport::new(id, Outcome::Unchanged);
    match planned {
        Planned::Unread { failure, .. } => report.fail(failure.clone()),
        Planned::Service(plan) => {
            report.before = Some(plan.before);
            report.after = Some(plan.after);
            report.notes = plan.notes.clone();
            report.selected_by = plan.selected_by.clone();
            report.snapshot = plan.snapshot;
            match &plan.decision {
                Decision::Unchanged => {}
                Decision::Fail(failure) => {
                    report.after = None;
                    report.fail(failure.clone());
                }
                Decision::Skip(why) => {
                    report.outcome = Outcome::Skipped;
                    report.reason = Some(why.clone());
                }
                Decision::Change(steps) => {
                    report.outcome = Outcome::Changed;
                    report.actions = steps.iter().map(Step::to_string).collect();
                }
            }
        }
    }
    report
}

/// The reports of a Spot event's targets, and the failures among them.
pub fn deregistrations(
    id: &ServiceRef,
    results: Vec<((String, Target), Result<(), crate::error::AwsError>)>,
) -> (Vec<TargetReport>, Vec<Failure>) {
    let mut failures = Vec::new();
    let reports = results
        .into_iter()
        .map(|((tg, target), result)| {
            let change = crate::plan::spot::deregistered(&result);
            if let (TargetChange::DeregisterFailed, Err(e)) = (change, &result) {
                tracing::error!(target_group = %tg, id = %target.id, port = target.port, error = %e, "deregistration failed");
                failures.push(Failure::aws(e, format!("{}:{} in {tg}: {e}", target.id, target.port)));
            }
            TargetReport { cluster: id.cluster.clone(), service: id.service.clone(), target_group: tg, target, change }
        })
        .collect();
    (reports, failures)
}

impl Report {
    /// A Spot event's service: changed when one of its targets was deregistered, failed with
    /// every problem found.
    pub fn record_spot_service(&mut self, id: &ServiceRef, problems: Vec<Failure>) {
        let mut s = ServiceReport::new(id, Outcome::Unchanged);
        if self
            .targets
            .iter()
            .any(|t| t.cluster == id.cluster && t.service == id.service && t.change == TargetChange::Deregistered)
        {
            s.outcome = Outcome::Changed;
        }
        for p in problems {
            s.fail(p);
        }
        self.services.push(s);
    }
}

fn short_tg(arn: &str) -> &str {
    arn.split_once(":targetgroup/").map(|(_, name)| name).unwrap_or(arn)
}

fn counts(c: Option<Counts>) -> String {
    match c {
        None => "?".into(),
        Some(c) => match (c.min, c.max) {
            (Some(min), Some(max)) => format!("desired {} min {min} max {max}", c.desired),
            _ => format!("desired {}", c.desired),
        },
    }
}

impl Report {
    /// The indented lines under a service's or a group's line: its calls (a dry run's as what
    /// it would do), its snapshot (restored by a start that changed it, else saved), why it was
    /// skipped or failed, its notes.
    fn fmt_details(
        &self,
        f: &mut fmt::Formatter<'_>,
        outcome: Outcome,
        actions: &[String],
        snapshot: Option<String>,
        [reason, error]: [&Option<String>; 2],
        notes: &[String],
    ) -> fmt::Result {
        for a in actions {
            writeln!(f, "      {}{a}", if self.dry_run { "would " } else { "" })?;
        }
        if let Some(snapshot) = snapshot {
            let restored =
                self.action == Handled::Payload(Action::Start) && outcome == Outcome::Changed && !self.dry_run;
            let label = if restored { "restored from snapshot" } else { "saved snapshot" };
            writeln!(f, "      {label}: {snapshot}")?;
        }
        for (label, text) in [("reason", reason), ("error", error)] {
            if let Some(text) = text {
                writeln!(f, "      {label}: {text}")?;
            }
        }
        for n in notes {
            writeln!(f, "      note: {n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {}{}",
            self.action.as_str(),
            self.environment,
            if self.dry_run { " (dry run: nothing changed)" } else { "" }
        )?;
        if let Some(reason) = &self.skipped_reason {
            writeln!(f, "  skipped: {reason}")?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        if let Some(o) = &self.override_schedule {
            writeln!(
                f,
                "  {} {} at {} {} (schedule {}, deleted after it runs)",
                if self.dry_run { "would schedule" } else { "scheduled" },
                o.action.as_str(),
                o.expression,
                o.timezone,
                o.name
            )?;
        }
        if let Some(h) = &self.handed_on {
            writeln!(f, "  {}", h.to)?;
        }
        for e in &self.exclusions {
            let until = e.until.as_deref().map_or("until the tag is removed".to_string(), |u| format!("until {u}"));
            writeln!(f, "  excluded: {}/{} by {} {until}", e.cluster, e.service, e.tag)?;
        }
        let table = self.action == Handled::Payload(Action::Status);
        if table {
            write!(f, "{}", status_table(&[self]))?;
        }
        for s in self.services.iter().filter(|_| !table) {
            let name = s.id().to_string();
            write!(f, "  {name:<32} {:<9}", s.outcome.to_string())?;
            if s.before.is_some() && s.before != s.after && s.after.is_some() {
                write!(f, " {} -> {}", counts(s.before), counts(s.after))?;
            } else if s.before.is_some() {
                write!(f, " {}", counts(s.before))?;
            }
            writeln!(f)?;
            if let Some(entry) = &s.selected_by {
                writeln!(f, "      selected by {entry}")?;
            }
            let snapshot = s.snapshot.as_ref().map(Snapshot::encode);
            self.fmt_details(f, s.outcome, &s.actions, snapshot, [&s.reason, &s.error], &s.notes)?;
            if !s.tasks_not_running.is_empty() {
                writeln!(f, "      not running yet: {}", s.tasks_not_running.join(", "))?;
            }
        }
        for g in &self.capacity {
            write!(f, "  {:<32} {:<9}", format!("group {}", g.group), g.outcome.to_string())?;
            match (g.before, g.after) {
                (Some(before), Some(after)) if before != after => write!(f, " {before} -> {after}")?,
                (Some(before), _) => write!(f, " {before}")?,
                _ => {}
            }
            writeln!(f)?;
            if let Some(cp) = &g.capacity_provider {
                writeln!(f, "      capacity provider {cp}")?;
            }
            let snapshot = g.snapshot.map(GroupSize::to_tag);
            self.fmt_details(f, g.outcome, &g.actions, snapshot, [&g.reason, &g.error], &g.notes)?;
        }
        for t in &self.targets {
            let verb = match t.change {
                TargetChange::Registered => "registered",
                TargetChange::WouldRegister => "would register",
                TargetChange::Failed => "FAILED to register",
                TargetChange::Deregistered => "deregistered",
                TargetChange::NotRegistered => "already not registered",
                TargetChange::DeregisterFailed => "FAILED to deregister",
            };
            writeln!(
                f,
                "  {verb} {}:{} in {} ({}/{})",
                t.target.id,
                t.target.port,
                short_tg(&t.target_group),
                t.cluster,
                t.service
            )?;
        }
        if let Some(ms) = self.time_to_ready_ms {
            writeln!(f, "  ready in {}: every started task RUNNING and registered", seconds(ms))?;
        }
        if let Some(saving) = &self.saving {
            writeln!(f, "  saving while stopped: {}", saving)?;
        }
        if let Some(cost) = &self.cost {
            write!(f, "  cost now: {}", cost)?;
            if let Some(up) = &self.cost_when_up {
                write!(f, "; when up: {}", up)?;
            }
            writeln!(f)?;
        }
        write!(f, "{}", self.counts_line())?;
        if self.throttled > 0 {
            write!(f, "; {} throttled answers retried", self.throttled)?;
        }
        Ok(())
    }
}

/// `status` as a table, one row per service of every report (README, "The CLI"): its
/// environment, state, counts, snapshot, task size, cost per hour now and exclusion; then each
/// failed service's error.
pub fn status_table(reports: &[&Report]) -> String {
    const HEAD: [&str; 9] =
        ["ENVIRONMENT", "SERVICE", "STATE", "DESIRED", "MIN/MAX", "SNAPSHOT", "TASK SIZE", "COST/H", "EXCLUSION"];
    let mut rows: Vec<[String; 9]> = Vec::new();
    let mut errors = Vec::new();
    for r in reports {
        for s in &r.services {
            let exclusion = r
                .exclusions
                .iter()
                .find(|e| e.cluster == s.cluster && e.service == s.service)
                .map(|e| match &e.until {
                    Some(until) => format!("{} {until}", e.tag),
                    None => e.tag.to_string(),
                })
                .unwrap_or_else(|| "-".into());
            let state = match (s.outcome, s.before) {
                (Outcome::Failed, _) => "failed",
                (Outcome::Skipped, _) => "skipped",
                (_, Some(c)) if c.desired > 0 => "running",
                (_, Some(_)) if s.snapshot.is_some() => "stopped",
                (_, Some(_)) => "at 0",
                (_, None) => "?",
            };
            let min_max = match s.before {
                Some(Counts { min: Some(min), max: Some(max), .. }) => format!("{min}/{max}"),
                _ => "-".into(),
            };
            let size = s.task_size.as_ref().map_or("-".into(), |z| {
                let arch = match z.architecture {
                    crate::pricing::Architecture::X86_64 => "X86_64",
                    crate::pricing::Architecture::Arm64 => "ARM64",
                };
                format!(
                    "{} vCPU/{} GiB {arch} {}",
                    crate::pricing::number(z.vcpu),
                    crate::pricing::number(z.gib),
                    z.capacity
                )
            });
            let currency = r.cost.as_ref().map_or("", |c| c.currency.as_str());
            let cost = s.cost_per_hour.map_or("-".into(), |c| crate::pricing::fmt_money(c, currency));
            rows.push([
                r.environment.clone(),
                s.id().to_string(),
                state.into(),
                s.before.map_or("?".into(), |c| c.desired.to_string()),
                min_max,
                s.snapshot.as_ref().map_or("-".into(), Snapshot::encode),
                size,
                cost,
                exclusion,
            ]);
            if let Some(e) = &s.error {
                errors.push(format!("  {} [{}]: {e}", s.id(), s.error_kind.map_or("failed", ErrorKind::as_str)));
            }
        }
    }
    let mut widths = HEAD.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: &[&str], out: &mut String| {
        out.push_str("  ");
        let text: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(&HEAD, &mut out);
    for row in &rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>(), &mut out);
    }
    for e in errors {
        out.push_str(&e);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(desired: u32, capacity: Option<(u32, u32)>) -> Option<Counts> {
        Some(Counts { desired, min: capacity.map(|c| c.0), max: capacity.map(|c| c.1) })
    }

    /// A part of a start: its services' outcomes, its time to ready, its throttles and notes.
    fn part(services: &[(&str, Outcome)], ready_ms: Option<u64>, throttled: u64, notes: &[&str]) -> Report {
        let mut r = Report::new(Handled::Payload(Action::Start), "staging".into(), false);
        r.services = services
            .iter()
            .map(|(id, outcome)| {
                let (place, name) = id.rsplit_once(':').map_or((None, *id), |(p, n)| (Some(p.to_string()), n));
                ServiceReport::new(&ServiceRef::at(&Place { account: place, region: None }, "c", name), *outcome)
            })
            .collect();
        (r.time_to_ready_ms, r.throttled) = (ready_ms, throttled);
        r.notes = notes.iter().map(|n| n.to_string()).collect();
        r
    }

    #[test]
    fn the_parts_of_an_environment_in_several_places_are_one_report() {
        let home = part(&[("a", Outcome::Changed)], Some(4_000), 1, &["start_order: [a]"]);
        let stg = part(&[("222222222222:a", Outcome::Changed)], Some(9_000), 2, &["start_order: [a]", "x"]);
        let whole = Report::merge(vec![home.clone(), stg.clone()]).unwrap();
        let ids: Vec<String> = whole.services.iter().map(|s| s.id().to_string()).collect();
        assert_eq!(ids, ["c/a", "222222222222/c/a"]);
        assert_eq!((whole.time_to_ready_ms, whole.throttled), (Some(9_000), 3), "ready when the last part is");
        assert_eq!(whole.notes, ["start_order: [a]", "x"]);
        // A part whose started services were not all ready: the whole is not either.
        let late = part(&[("222222222222:a", Outcome::Changed)], None, 0, &[]);
        assert_eq!(Report::merge(vec![home.clone(), late]).unwrap().time_to_ready_ms, None);
        // A part that started nothing does not hold the time back.
        let idle = part(&[("222222222222:a", Outcome::Unchanged)], None, 0, &[]);
        assert_eq!(Report::merge(vec![home.clone(), idle]).unwrap().time_to_ready_ms, Some(4_000));
        // Skipped only when every part is, for the one reason they give.
        let skipped = |r: &Report| Report { skipped_reason: Some("a holiday".into()), ..r.clone() };
        assert_eq!(
            Report::merge(vec![skipped(&home), skipped(&stg)]).unwrap().skipped_reason.as_deref(),
            Some("a holiday")
        );
        assert_eq!(Report::merge(vec![skipped(&home), stg]).unwrap().skipped_reason, None);
        assert!(Report::merge(Vec::new()).is_none());
    }

    #[test]
    fn text_report_reads_at_a_glance() {
        let mut web = ServiceReport::new(&ServiceRef::new("shop", "web"), Outcome::Changed);
        web.before = counts(0, Some((0, 0)));
        web.after = counts(2, Some((2, 6)));
        web.actions =
            vec!["set scalable target min 2 max 6".into(), "set desiredCount 2".into(), "clear snapshot".into()];
        web.snapshot = Snapshot::decode("desired=2 min=2 max=6").ok();
        web.tasks_not_running = vec!["0a1b (PROVISIONING)".into()];
        let mut old = ServiceReport::new(&ServiceRef::new("shop", "old"), Outcome::Failed);
        old.before = counts(1, None);
        old.fail(Failure::new(ErrorKind::AccessDenied, "UpdateService: AccessDeniedException: no"));
        let report = Report {
            action: Handled::Payload(Action::Start),
            environment: "staging".into(),
            dry_run: false,
            services: vec![web, old],
            targets: vec![TargetReport {
                cluster: "shop".into(),
                service: "web".into(),
                target_group: "arn:aws:elasticloadbalancing:ap-northeast-1:1:targetgroup/web-tg/0123".into(),
                target: Target { id: "10.0.1.7".into(), port: 8080 },
                change: TargetChange::Registered,
            }],
            skipped_reason: None,
            notes: vec![],
            override_schedule: None,
            handed_on: Some(HandedOn {
                services: vec!["shop/api".into()],
                to: "1 services handed on to continuation 1 at 09:01:00 Asia/Tokyo (schedule ecs-cost-saver-continue-staging)"
                    .into(),
            }),
            throttled: 3,
            exclusions: vec![],
            saving: None,
            cost: None,
            cost_when_up: None,
            time_to_ready_ms: None,
            ready_at: None,
            summary: String::new(),
            capacity: vec![GroupReport {
                group: "shop-ecs".into(),
                outcome: Outcome::Changed,
                before: Some(GroupSize { min: 0, desired: 0, max: 4 }),
                after: Some(GroupSize { min: 1, desired: 2, max: 4 }),
                snapshot: Some(GroupSize { min: 1, desired: 2, max: 4 }),
                capacity_provider: Some("shop-cp (managed scaling)".into()),
                actions: vec!["set min 1 desired 2 max 4".into(), "clear snapshot".into()],
                reason: None,
                error: None,
                error_kind: None,
                notes: vec!["its 2 instances registered in the environment's clusters 41 s after it was restored".into()],
            }],
        };
        assert_eq!(
            report.to_string(),
            "\
start staging
  1 services handed on to continuation 1 at 09:01:00 Asia/Tokyo (schedule ecs-cost-saver-continue-staging)
  shop/web                         changed   desired 0 min 0 max 0 -> desired 2 min 2 max 6
      set scalable target min 2 max 6
      set desiredCount 2
      clear snapshot
      restored from snapshot: desired=2 min=2 max=6
      not running yet: 0a1b (PROVISIONING)
  shop/old                         failed    desired 1
      error: UpdateService: AccessDeniedException: no
  group shop-ecs                   changed   min 0 desired 0 max 4 -> min 1 desired 2 max 4
      capacity provider shop-cp (managed scaling)
      set min 1 desired 2 max 4
      clear snapshot
      restored from snapshot: min=1 desired=2 max=4
      note: its 2 instances registered in the environment's clusters 41 s after it was restored
  registered 10.0.1.7:8080 in web-tg/0123 (shop/web)
2 services: 1 changed, 0 unchanged, 0 skipped, 1 failed; 1 group: 1 changed, 0 unchanged, 0 skipped, 0 failed; 3 throttled answers retried"
        );
    }
}
