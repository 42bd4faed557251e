//! Carries out a plan: each service's steps in order, services side by side (bounded), then
//! the wait for tasks and their registration. Collects a report; never stops at the first
//! failure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;
use tracing::Instrument;

use crate::aws::{Aws, resource_id};
use crate::dispatch::{Intent, Settings};
use crate::error::AwsError;
use crate::event::Action;
use crate::plan::{self, Decision, Registration, SNAPSHOT_TAG, ServicePlan, Snapshot, Step};
use crate::report::{Outcome, Report, ServiceReport, TargetChange, TargetReport};
use crate::schedule::ServiceRef;
use crate::state::{ServiceState, TargetBinding, Task};
use crate::{observe, state::Target};

/// Run an intent to the end and report what happened to every service.
pub async fn run<A: Aws>(aws: &A, intent: &Intent<'_>, wait_until: Instant, settings: &Settings) -> Report {
    let configs = &intent.environment.services;
    let ids: Vec<ServiceRef> = configs.iter().map(|c| c.id.clone()).collect();
    let mut states = observe::services(aws, &ids, settings.concurrency).await;

    let mut reports: Vec<ServiceReport> = Vec::with_capacity(configs.len());
    let mut plans: Vec<Option<(ServicePlan, ServiceState)>> = Vec::with_capacity(configs.len());
    for config in configs {
        let mut report = ServiceReport::new(&config.id.cluster, &config.id.service, Outcome::Unchanged);
        match states.remove(&config.id).unwrap_or_else(|| Err("not observed".into())) {
            Err(e) => {
                report.fail(e);
                plans.push(None);
            }
            Ok(state) => {
                let plan = plan::plan_service(intent.effect, config, &state);
                report.before = Some(plan.before);
                report.after = Some(plan.after);
                report.notes = plan.notes.clone();
                report.snapshot = state.tags.get(SNAPSHOT_TAG).and_then(|v| Snapshot::decode(v).ok());
                match &plan.decision {
                    Decision::Unchanged => {}
                    Decision::Fail(why) => {
                        report.after = None;
                        report.fail(why.clone());
                    }
                    Decision::Change(steps) => {
                        report.outcome = Outcome::Changed;
                        report.actions = steps.iter().map(Step::to_string).collect();
                    }
                }
                plans.push(Some((plan, state)));
            }
        }
        reports.push(report);
    }

    if !intent.dry_run {
        let changes = plans.iter().enumerate().filter_map(|(i, p)| match p {
            Some((plan, _)) => match &plan.decision {
                Decision::Change(steps) => Some((i, plan, steps)),
                _ => None,
            },
            None => None,
        });
        let results = stream::iter(changes.map(|(i, plan, steps)| {
            let span = tracing::info_span!("service", cluster = %plan.id.cluster, service = %plan.id.service);
            async move { (i, execute(aws, plan, steps, settings.serial_runs).await) }.instrument(span)
        }))
        .buffer_unordered(settings.concurrency)
        .collect::<Vec<_>>()
        .await;
        for (i, (done, failure)) in results {
            let report = &mut reports[i];
            report.actions = done;
            if let Some((step, e)) = failure {
                report.after = None;
                report.fail(format!("{step} failed: {e}"));
            }
        }
    }

    let mut targets = Vec::new();
    if matches!(intent.effect, Action::Start | Action::Register) {
        let waiting: Vec<Waiting> = configs
            .iter()
            .zip(&plans)
            .zip(&reports)
            .filter(|(_, report)| report.outcome != Outcome::Failed)
            .filter_map(|((config, plan), _)| {
                let (plan, state) = plan.as_ref()?;
                Some(Waiting {
                    id: config.id.clone(),
                    bindings: plan::bindings(config, state),
                    desired: plan.after.desired,
                })
            })
            .collect();
        let registered = register(aws, waiting, intent.dry_run, wait_until, settings).await;
        for report in &mut reports {
            let id = ServiceRef { cluster: report.cluster.clone(), service: report.service.clone() };
            let Some(r) = registered.get(&id) else { continue };
            if r.targets.iter().any(|t| t.change != TargetChange::Failed) && report.outcome == Outcome::Unchanged {
                report.outcome = Outcome::Changed;
            }
            if !r.problems.is_empty() {
                report.fail(r.problems.join("; "));
            }
            report.notes.extend(r.notes.iter().cloned());
            report.tasks_not_running = r.not_running.clone();
            targets.extend(r.targets.iter().cloned());
        }
    }

    Report {
        action: intent.action,
        environment: intent.environment.name.clone(),
        dry_run: intent.dry_run,
        services: reports,
        targets,
        skipped_reason: None,
        notes: intent.notes.clone(),
        override_schedule: None,
    }
}

/// Run one service's steps in order; stop at the first failure (later steps depend on it:
/// nothing is changed before the snapshot is saved, nothing cleared before the restore).
///
/// Another invocation may act on the same service at the same time (the CLI's `invoke` is not
/// held by the Lambda's reserved concurrency of 1), so the service is read again where that
/// could lose its snapshot: before a stop saves one (another stop may have saved it since our
/// read), and after a stop's or a restore's last write (a start may have cleared the snapshot
/// a stop relies on); `plan::saved_meanwhile` and `plan::recheck_*` decide. A read that fails
/// leaves the steps as planned. With `serial_runs` (runs queued by the function's reserved
/// concurrency of 1) nothing can interleave and the re-reads are skipped: they cost one
/// DescribeServices before the save and one (plus DescribeScalableTargets) after the writes,
/// round trips of every service's chain.
async fn execute<A: Aws>(
    aws: &A,
    plan: &ServicePlan,
    steps: &[Step],
    serial_runs: bool,
) -> (Vec<String>, Option<(Step, AwsError)>) {
    let mut done = Vec::new();
    // The snapshot the service keeps while stopped: as read, as saved, or as saved meanwhile.
    let mut snapshot = plan.snapshot;
    for step in steps {
        if let (Step::SaveSnapshot(s), false) = (*step, serial_runs) {
            let meanwhile = read_again(aws, plan, false).await.map(|now| plan::saved_meanwhile(&now));
            match meanwhile {
                Ok(Some(other)) => {
                    tracing::info!(snapshot = %other.encode(), "another stop saved the snapshot meanwhile: kept");
                    snapshot = Some(other);
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not read the snapshot tag again; saving as planned"),
            }
            snapshot = Some(s);
        }
        if let Err(e) = run_step(aws, plan, *step).await {
            tracing::warn!(step = %step, error = %e, "failed");
            return (done, Some((*step, e)));
        }
        tracing::info!(step = %step, "done");
        done.push(step.to_string());
    }
    let recheck = match (plan.action, snapshot) {
        _ if serial_runs => Ok(Vec::new()),
        (Action::Stop, Some(s)) => read_again(aws, plan, true).await.map(|now| plan::recheck_stop(s, &now)),
        (Action::Start, Some(s)) if steps.contains(&Step::ClearSnapshot) => {
            read_again(aws, plan, true).await.map(|now| plan::recheck_restore(plan.after, s, &now))
        }
        _ => Ok(Vec::new()),
    };
    let again = recheck.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read the service again to check for another invocation");
        Vec::new()
    });
    for step in again {
        if let Err(e) = run_step(aws, plan, step).await {
            tracing::warn!(step = %step, error = %e, "failed");
            return (done, Some((step, e)));
        }
        tracing::warn!(step = %step, "done again: another invocation undid it");
        done.push(format!("{step} (again: another invocation undid it)"));
    }
    (done, None)
}

async fn run_step<A: Aws>(aws: &A, plan: &ServicePlan, step: Step) -> Result<(), AwsError> {
    let id = &plan.id;
    match step {
        Step::SaveSnapshot(s) => aws.tag_service(&plan.arn, SNAPSHOT_TAG, &s.encode()).await,
        Step::SetCapacity(c) => aws.set_capacity(&resource_id(&id.cluster, &id.service), c).await,
        Step::SetDesired(n) => aws.set_desired_count(&id.cluster, &id.service, n).await,
        Step::ClearSnapshot => aws.untag_service(&plan.arn, SNAPSHOT_TAG).await,
    }
}

/// The service as it is now: with its tags, and with its scalable target's min/max when asked
/// and it had one when planned.
async fn read_again<A: Aws>(aws: &A, plan: &ServicePlan, capacity: bool) -> Result<ServiceState, AwsError> {
    let id = &plan.id;
    let rid = resource_id(&id.cluster, &id.service);
    let capacity = if capacity && plan.before.min.is_some() {
        aws.describe_capacities(std::slice::from_ref(&rid)).await?.into_iter().find(|(r, _)| *r == rid)
    } else {
        None
    };
    let described = aws.describe_services(&id.cluster, std::slice::from_ref(&id.service)).await?;
    let Some((_, mut state)) = described.found.into_iter().find(|(name, _)| *name == id.service) else {
        let why = described.missing.first().map_or("not found", |(_, reason)| reason.as_str()).to_string();
        return Err(AwsError::in_response("DescribeServices", crate::error::AwsErrorKind::NotFound, why));
    };
    state.capacity = capacity.map(|(_, c)| c);
    Ok(state)
}

/// A service whose running tasks must end up in its target groups.
struct Waiting {
    id: ServiceRef,
    bindings: Vec<TargetBinding>,
    desired: u32,
}

#[derive(Default)]
struct Registered {
    targets: Vec<TargetReport>,
    problems: Vec<String>,
    notes: Vec<String>,
    not_running: Vec<String>,
}

/// Wait (until `wait_until`) for each service's tasks to be RUNNING, then register every
/// running task in every target group of its service. A dry run looks once and waits for
/// nothing.
async fn register<A: Aws>(
    aws: &A,
    mut waiting: Vec<Waiting>,
    dry_run: bool,
    wait_until: Instant,
    settings: &Settings,
) -> HashMap<ServiceRef, Registered> {
    let mut results = HashMap::new();
    loop {
        let ids: Vec<ServiceRef> = waiting.iter().map(|w| w.id.clone()).collect();
        let mut tasks = observe::tasks(aws, &ids, settings.concurrency).await;
        let last_round = dry_run || Instant::now() + settings.poll_interval >= wait_until;
        let mut ready = Vec::new();
        let mut still = Vec::new();
        for w in waiting {
            match tasks.remove(&w.id).unwrap_or_else(|| Err("not observed".into())) {
                Err(e) => {
                    let r =
                        Registered { problems: vec![format!("could not read tasks: {e}")], ..Registered::default() };
                    results.insert(w.id, r);
                }
                Ok(t) if last_round || plan::settled(&t, w.desired) => ready.push((w, t)),
                Ok(_) => still.push(w),
            }
        }
        if !ready.is_empty() {
            results.extend(register_ready(aws, ready, dry_run, settings).await);
        }
        if still.is_empty() {
            return results;
        }
        waiting = still;
        tokio::time::sleep(settings.poll_interval).await;
    }
}

async fn register_ready<A: Aws>(
    aws: &A,
    ready: Vec<(Waiting, Vec<Task>)>,
    dry_run: bool,
    settings: &Settings,
) -> Vec<(ServiceRef, Registered)> {
    let target_groups: BTreeSet<String> =
        ready.iter().flat_map(|(w, _)| w.bindings.iter().map(|b| b.target_group_arn.clone())).collect();
    let mut container_instances: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (w, tasks) in &ready {
        for arn in tasks.iter().filter_map(|t| t.container_instance_arn.clone()) {
            container_instances.entry(w.id.cluster.clone()).or_default().insert(arn);
        }
    }
    let (facts, errors) = observe::targets(aws, &target_groups, &container_instances, settings.concurrency).await;

    let facts = &facts;
    let errors = &errors;
    stream::iter(ready.into_iter().map(|(w, tasks)| async move {
        let mut r = Registered::default();
        let running = tasks.iter().filter(|t| t.is_running()).count();
        if !plan::settled(&tasks, w.desired) && !dry_run {
            r.not_running =
                tasks.iter().filter(|t| !t.is_running()).map(|t| format!("{} ({})", t.id(), t.last_status)).collect();
            r.notes.push(format!("{running} of {} tasks RUNNING when the wait ended; registered those", w.desired));
        }
        for b in &w.bindings {
            if let Some(e) = errors.get(&b.target_group_arn) {
                r.problems.push(format!("target group {}: {e}", b.target_group_arn));
            }
        }
        let bindings: Vec<TargetBinding> =
            w.bindings.iter().filter(|b| !errors.contains_key(&b.target_group_arn)).cloned().collect();
        let (wanted, problems) = plan::plan_registrations(&bindings, &tasks, facts);
        r.problems.extend(problems);
        let mut by_group: BTreeMap<&str, Vec<&Registration>> = BTreeMap::new();
        for reg in &wanted {
            by_group.entry(reg.target_group_arn.as_str()).or_default().push(reg);
        }
        let calls = by_group.into_iter().map(|(tg, regs)| async move {
            let targets: Vec<Target> = regs.iter().map(|r| r.target.clone()).collect();
            let result = if dry_run { Ok(()) } else { aws.register_targets(tg, &targets).await };
            (tg, targets, result)
        });
        for (tg, targets, result) in futures_util::future::join_all(calls).await {
            let change = match (&result, dry_run) {
                (Err(e), _) => {
                    r.problems.push(format!("registering in {tg} failed: {e}"));
                    TargetChange::Failed
                }
                (Ok(()), true) => TargetChange::WouldRegister,
                (Ok(()), false) => TargetChange::Registered,
            };
            r.targets.extend(targets.into_iter().map(|target| TargetReport {
                cluster: w.id.cluster.clone(),
                service: w.id.service.clone(),
                target_group: tg.to_string(),
                target,
                change,
            }));
        }
        (w.id, r)
    }))
    .buffer_unordered(settings.concurrency)
    .collect()
    .await
}
