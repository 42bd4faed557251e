//! Carries out plans: each service's program in order (services side by side, bounded), the
//! override schedule, registrations, deregistrations and draining. Only writes, and the re-reads
//! a program asks for; what each answer means is the planner's.

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use tracing::Instrument;

use crate::aws::{Aws, Schedules, TargetGroups, Tasks, resource_id};
use crate::error::{AwsError, Failure};
use crate::observe;
use crate::plan::{Decision, Op, Plan, Planned, ServicePlan, Step};
use crate::schedule::ServiceRef;
use crate::state::{OneTimeSchedule, SNAPSHOT_TAG, Target};

/// What one service's program did: the writes made, in order, and the failure that ended it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub done: Vec<String>,
    pub failure: Option<Failure>,
}

/// Create or replace the override schedule of `until`.
pub async fn put_override<A: Schedules>(aws: &A, schedule: &OneTimeSchedule) -> Result<(), AwsError> {
    aws.put_one_time_schedule(schedule).await
}

/// Run the program of every service that changes, `concurrency` at a time.
pub async fn services<A: Aws>(aws: &A, plan: &Plan, concurrency: usize) -> Vec<(ServiceRef, Applied)> {
    let changes = plan.services.iter().filter_map(|s| match s {
        Planned::Service(p) if matches!(p.decision, Decision::Change(_)) => Some(p),
        _ => None,
    });
    stream::iter(changes.map(|p| {
        let span = tracing::info_span!("service", cluster = %p.id.cluster, service = %p.id.service);
        async move { (p.id.clone(), execute(aws, p).await) }.instrument(span)
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await
}

/// One service's program, in order; it stops at the first failed write (later steps depend on
/// it: nothing is changed before the snapshot is saved, nothing cleared before the restore). A
/// re-read that fails leaves the program as planned.
async fn execute<A: Aws>(aws: &A, plan: &ServicePlan) -> Applied {
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
                            if let Err(e) = write(aws, plan, step).await {
                                return failed(applied, step, e);
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
        if let Err(e) = write(aws, plan, step).await {
            return failed(applied, step, e);
        }
        tracing::info!(step = %step, "done");
        applied.done.push(step.to_string());
    }
    applied
}

fn failed(mut applied: Applied, step: Step, e: AwsError) -> Applied {
    tracing::warn!(step = %step, error = %e, "failed");
    applied.failure = Some(Failure::aws(&e, format!("{step} failed: {e}")));
    applied
}

async fn write<A: Aws>(aws: &A, plan: &ServicePlan, step: Step) -> Result<(), AwsError> {
    let id = &plan.id;
    match step {
        Step::SaveSnapshot(s) => aws.tag_service(&plan.arn, SNAPSHOT_TAG, &s.encode()).await,
        Step::SetCapacity(c) => aws.set_capacity(&resource_id(&id.cluster, &id.service), c).await,
        Step::SetDesired(n) => aws.set_desired_count(&id.cluster, &id.service, n).await,
        Step::ClearSnapshot => aws.untag_service(&plan.arn, SNAPSHOT_TAG).await,
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
