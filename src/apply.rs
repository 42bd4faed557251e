//! Carries out plans: each service's program in order (services side by side, bounded), the
//! override schedule, registrations, deregistrations and draining. Only writes, and the re-reads
//! a program asks for; what each answer means is the planner's.

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use tracing::Instrument;

use crate::aws::{Aws, Schedules, TargetGroups, Tasks, resource_id};
use crate::error::{AwsError, ErrorKind, Failure};
use crate::observe;
use crate::plan::{Decision, Op, Plan, Planned, ServicePlan, Step};
use crate::schedule::ServiceRef;
use crate::state::{Holder, OneTimeSchedule, SNAPSHOT_TAG, Store, Target};

/// What one service's program did: the writes made, in order, and the write that failed and why.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub done: Vec<String>,
    pub failure: Option<(Step, Failure)>,
}

/// Where the state table's writes go and who makes them: this run.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The state table, with `Store::Table`.
    pub table: Option<&'a str>,
    pub holder: &'a Holder,
}

/// Create or replace the override schedule of `until`.
pub async fn put_override<A: Schedules>(aws: &A, schedule: &OneTimeSchedule) -> Result<(), AwsError> {
    aws.put_one_time_schedule(schedule).await
}

/// Run the program of every service that changes, `concurrency` at a time; `done` hears of each
/// service as soon as its program has ended (a start's next step for it need not wait for the
/// others).
pub async fn services<A: Aws>(
    aws: &A,
    plan: &Plan,
    writer: Writer<'_>,
    concurrency: usize,
    done: &(dyn Fn(&ServicePlan, &Applied) + Sync),
) -> Vec<(ServiceRef, Applied)> {
    let changes = plan.services.iter().filter_map(|s| match s {
        Planned::Service(p) if matches!(p.decision, Decision::Change(_)) => Some(p),
        _ => None,
    });
    stream::iter(changes.map(|p| {
        let span = tracing::info_span!("service", cluster = %p.id.cluster, service = %p.id.service);
        async move {
            let applied = execute(aws, p, writer).await;
            done(p, &applied);
            (p.id.clone(), applied)
        }
        .instrument(span)
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await
}

/// One service's program, in order; it stops at the first failed write (later steps depend on
/// it: nothing is changed before the snapshot is saved, nothing cleared before the restore), then
/// makes the plan's `on_failure` calls as best it can. A re-read that fails leaves the program as
/// planned.
async fn execute<A: Aws>(aws: &A, plan: &ServicePlan, writer: Writer<'_>) -> Applied {
    let mut applied = Applied::default();
    let mut program = plan.program.clone();
    while !program.is_empty() {
        let op = program.remove(0);
        let step = match op {
            Op::Write(step) => step,
            Op::Recheck(check) => {
                match observe::service_again(aws, &plan.id, check.reads_capacity()).await {
                    Ok(now) => {
                        let rechecked = check.then(&now, &program);
                        if let Some(note) = &rechecked.note {
                            tracing::warn!(note = %note, "read again");
                        }
                        for step in rechecked.again {
                            if let Err(e) = write(aws, plan, writer, step).await {
                                return failed(aws, plan, writer, applied, step, e).await;
                            }
                            tracing::warn!(step = %step, "done again: another invocation undid it");
                            applied.done.push(format!("{step} (again: another invocation undid it)"));
                        }
                        program = rechecked.rest;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not read the service again; going on as planned"),
                }
                continue;
            }
        };
        if let Err(e) = write(aws, plan, writer, step).await {
            return failed(aws, plan, writer, applied, step, e).await;
        }
        tracing::info!(step = %step, "done");
        applied.done.push(step.to_string());
    }
    applied
}

async fn failed<A: Aws>(
    aws: &A,
    plan: &ServicePlan,
    writer: Writer<'_>,
    mut applied: Applied,
    step: Step,
    e: AwsError,
) -> Applied {
    tracing::warn!(step = %step, error = %e, "failed");
    applied.failure = Some((step, Failure::aws(&e, format!("{step} failed: {e}"))));
    // Only a program that got past its first write (the one that holds the entry) has
    // anything to let go of.
    let undo = if applied.done.is_empty() { &[][..] } else { &plan.on_failure[..] };
    for &undo in undo {
        match write(aws, plan, writer, undo).await {
            Ok(()) => applied.done.push(format!("{undo} (after the failure)")),
            Err(e) => tracing::warn!(step = %undo, error = %e, "could not undo; the hold lapses by itself"),
        }
    }
    applied
}

async fn write<A: Aws>(aws: &A, plan: &ServicePlan, writer: Writer<'_>, step: Step) -> Result<(), AwsError> {
    let id = &plan.id;
    let holder = writer.holder;
    let entry = || match (writer.table, plan.key.as_deref()) {
        (Some(table), Some(key)) => Ok((table, key)),
        _ => Err(AwsError::in_response("(state table)", ErrorKind::Invalid, format!("{step} needs the state table"))),
    };
    match (plan.store, step) {
        (_, Step::SetCapacity(c)) => aws.set_capacity(&resource_id(&id.cluster, &id.service), c).await,
        (_, Step::SetDesired(n)) => aws.set_desired_count(&id.cluster, &id.service, n).await,
        (Store::Tag, Step::SaveSnapshot(s)) => aws.tag_service(&plan.arn, SNAPSHOT_TAG, &s.encode()).await,
        (Store::Tag, Step::ClearSnapshot) | (_, Step::RemoveSnapshotTag) => {
            aws.untag_service(&plan.arn, SNAPSHOT_TAG).await
        }
        (Store::Table, Step::SaveSnapshot(s)) => {
            let (table, key) = entry()?;
            aws.create_entry(table, key, &s, holder).await
        }
        (Store::Table, Step::HoldSnapshot(version)) => {
            let (table, key) = entry()?;
            aws.hold_entry(table, key, version, holder).await
        }
        (Store::Table, Step::ReleaseSnapshot) => {
            let (table, key) = entry()?;
            aws.release_entry(table, key, holder).await
        }
        (Store::Table, Step::ClearSnapshot) => {
            let (table, key) = entry()?;
            aws.delete_entry(table, key, holder).await
        }
        (Store::Tag, Step::HoldSnapshot(_) | Step::ReleaseSnapshot) => {
            Err(AwsError::in_response("(state table)", ErrorKind::Invalid, format!("{step} needs the state table")))
        }
    }
}

/// Per target group: the targets registered in one call, and its answer.
pub type Registered = Vec<(String, Vec<Target>, Result<(), AwsError>)>;

/// RegisterTargets, one call per target group, side by side.
pub async fn register<A: TargetGroups>(aws: &A, wanted: &[(String, Vec<Target>)]) -> Registered {
    join_all(wanted.iter().map(|(tg, targets)| async move {
        let result = aws.register_targets(tg, targets).await;
        (tg.clone(), targets.clone(), result)
    }))
    .await
}

/// DeregisterTargets, one call per target (each with its port), all side by side.
pub async fn deregister<A: TargetGroups>(
    aws: &A,
    targets: Vec<(String, Target)>,
) -> Vec<((String, Target), Result<(), AwsError>)> {
    join_all(targets.into_iter().map(|(tg, target)| async move {
        let result = aws.deregister_target(&tg, &target).await;
        ((tg, target), result)
    }))
    .await
}

/// Set a container instance to DRAINING.
pub async fn drain<A: Tasks>(aws: &A, cluster: &str, container_instance: &str) -> Result<(), AwsError> {
    aws.drain_container_instance(cluster, container_instance).await
}

/// A group's writes, in order (save the snapshot, set the sizes, clear the snapshot), until
/// one fails: the calls made, and the failure.
pub async fn group<A: crate::aws::AutoScalingGroups>(
    aws: &A,
    plan: &crate::plan::capacity::GroupPlan,
) -> (Vec<String>, Option<crate::error::Failure>) {
    use crate::plan::capacity::GroupDecision;
    let GroupDecision::Change { save, set, clear } = &plan.decision else { return (Vec::new(), None) };
    let name = plan.group.as_str();
    let mut done = Vec::new();
    let failed = |what: &str, e: AwsError| crate::error::Failure::aws(&e, format!("{what} failed: {e}"));
    if let Some(save) = save {
        let what = format!("save snapshot {}", save.to_tag());
        if let Err(e) = aws.tag_group(name, crate::state::SNAPSHOT_TAG, &save.to_tag()).await {
            return (done, Some(failed(&what, e)));
        }
        done.push(what);
    }
    if let Some(set) = set {
        let what = format!("set {set}");
        if let Err(e) = aws.set_group_size(name, *set).await {
            return (done, Some(failed(&what, e)));
        }
        done.push(what);
    }
    if *clear {
        let what = "clear snapshot".to_string();
        if let Err(e) = aws.untag_group(name, crate::state::SNAPSHOT_TAG).await {
            return (done, Some(failed(&what, e)));
        }
        done.push(what);
    }
    (done, None)
}
