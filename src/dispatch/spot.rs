//! Spot interruptions: a Fargate Spot (or EC2) task about to be stopped leaves its target groups
//! at once; an EC2 Spot instance about to be reclaimed is set to DRAINING and leaves its instance
//! target groups. The Spot function's role (terraform/iam.tf `spot`) grants exactly what these
//! two handlers reach (tests/iam.rs derives it from here).

use super::Context;
use crate::aws::Aws;
use crate::event::{Origin, SpotWarning, TaskStateChange};
use crate::plan::spot::{self as spot_plan, TaskReads};
use crate::report::{self, Handled, Report};
use crate::schedule::{Place, ServiceRef};
use crate::{apply, observe};

/// The place of the file an event comes from (its `account` and `region`; one that says neither,
/// sent by hand, is the function's own), or why it is skipped: nothing of the file lives there.
fn origin_place(ctx: &Context<'_, impl Aws>, origin: &Origin) -> Result<Place, String> {
    let home = Place { account: ctx.settings.account.clone(), region: ctx.settings.region.clone() };
    match (&origin.account, &origin.region) {
        (Some(account), Some(region)) => ctx.schedule.place_of(account, region, &home).ok_or_else(|| {
            format!("the event comes from account {account} in {region}, where the schedule file has no services")
        }),
        _ => Ok(Place::default()),
    }
}

/// Run `handler` with the clients of the event's place: the function's own, or the role of its
/// account assumed (an unassumable role fails the event, naming the role, with no other call).
async fn at_origin<'c, A: Aws, F>(ctx: &'c Context<'_, A>, origin: &Origin, handled: Handled, handler: F) -> Report
where
    F: for<'x> AsyncFnOnce(&'x Context<'x, A>, &'x Place) -> Report,
{
    let place = match origin_place(ctx, origin) {
        Ok(place) => place,
        Err(reason) => {
            let mut report = Report::new(handled, String::new(), false);
            report.skipped_reason = Some(reason);
            return report;
        }
    };
    if place.is_home() {
        return handler(ctx, &place).await;
    }
    match ctx.place_clients(&place, "ecs-cost-saver-spot").await {
        Ok((aws, settings)) => handler(&ctx.at(&aws, &settings), &place).await,
        Err(e) => {
            let mut report = Report::new(handled, String::new(), false);
            let role = place.account.as_deref().and_then(|id| ctx.schedule.account(id));
            let id = ServiceRef::at(&place, "-", format!("role {}", role.map_or("-", |r| r.role_arn.as_str())));
            report.record_spot_service(&id, vec![crate::error::Failure::aws(&e, e.to_string())]);
            report
        }
    }
}

/// A task's interruption, with the clients of where it comes from.
pub(super) async fn spot_task_at<A: Aws>(ctx: &Context<'_, A>, event: &TaskStateChange) -> Report {
    at_origin(ctx, &event.origin, Handled::SpotInterruption, async |ctx, place| spot_task(ctx, event, place).await)
        .await
}

/// An instance's warning, with the clients of where it comes from.
pub(super) async fn spot_instance_at<A: Aws>(ctx: &Context<'_, A>, event: &SpotWarning) -> Report {
    at_origin(ctx, &event.origin, Handled::SpotInstanceWarning, async |ctx, place| {
        spot_instance(ctx, event, place).await
    })
    .await
}

/// A Fargate Spot (or EC2) task about to be stopped: out of all its target groups, now. The
/// target groups known before anything is read go first, while the rest is read.
async fn spot_task<A: Aws>(ctx: &Context<'_, A>, event: &TaskStateChange, place: &Place) -> Report {
    let aws = ctx.aws;
    let mut report = Report::new(Handled::SpotInterruption, String::new(), false);
    let memory = spot_plan::Memory {
        handled: ctx.warm.handled(&event.task_arn, event.version),
        remembered: event.service().and_then(|s| ctx.warm.bindings(&ServiceRef::at(place, event.cluster(), s))),
    };
    let plan = match spot_plan::task(ctx.schedule, event, place, memory, std::time::Instant::now()) {
        Ok(plan) => plan,
        Err(reason) => {
            report.skipped_reason = Some(reason);
            return report;
        }
    };
    report.environment = plan.environment.clone().unwrap_or_default();
    let (early, reads) = tokio::join!(
        apply::deregister(aws, plan.early.clone()),
        observe::interrupted_task(aws, &plan.id, plan.known.is_none(), plan.instance_lookup.as_deref())
    );
    let reads = TaskReads { service: reads.0, instance: reads.1 };
    if let Some(Ok(Some(state))) = &reads.service {
        ctx.warm.remember_bindings(&plan.id, &spot_plan::service_bindings(state), std::time::Instant::now());
    }
    let (rest, rest_problems, note) = spot_plan::task_rest(&plan, &reads);
    let (early, early_failures) = report::deregistrations(&plan.id, early);
    let (more, more_failures) = report::deregistrations(&plan.id, apply::deregister(aws, rest).await);
    report.targets = early.into_iter().chain(more).collect();
    let problems = [plan.problems.clone(), early_failures, rest_problems, more_failures].concat();
    report.notes.extend(note);
    report.record_spot_service(&plan.id, problems);
    if report.error().is_none() {
        ctx.warm.mark_handled(&event.task_arn, event.version);
    }
    report
}

/// An EC2 Spot instance about to be reclaimed: DRAINING, and out of its instance target groups.
async fn spot_instance<A: Aws>(ctx: &Context<'_, A>, event: &SpotWarning, place: &Place) -> Report {
    let (aws, concurrency) = (ctx.aws, ctx.settings.concurrency);
    let mut report = Report::new(Handled::SpotInstanceWarning, String::new(), false);
    let clusters = spot_plan::clusters(ctx.schedule, place);
    let found = observe::container_instance_of(aws, &clusters, &event.instance_id).await;
    let (hits, mut problems) = match spot_plan::instance_hits(&event.instance_id, &clusters, found) {
        Ok(hits) => (hits.found, hits.problems),
        Err(reason) => {
            report.skipped_reason = Some(reason);
            return report;
        }
    };
    for (cluster, ci) in hits {
        let (drained, on_instance) =
            tokio::join!(apply::drain(aws, &cluster, &ci), observe::on_instance(aws, &cluster, &ci));
        match drained {
            Ok(()) => report.notes.push(format!("container instance {ci} set to DRAINING")),
            Err(e) => problems.push(crate::error::Failure::aws(&e, format!("cannot set {ci} to DRAINING: {e}"))),
        }
        problems.extend(on_instance.problems);
        let groups = spot_plan::instance_target_groups(&on_instance.types);
        let registered = observe::registered(aws, &groups, concurrency).await;
        let (per_service, p) =
            spot_plan::instance_targets(place, &cluster, &event.instance_id, &on_instance.services, &registered);
        problems.extend(p);
        for (id, targets) in per_service {
            let (reports, failures) = report::deregistrations(&id, apply::deregister(aws, targets).await);
            report.targets.extend(reports);
            report.record_spot_service(&id, failures);
        }
    }
    if !problems.is_empty() {
        let id = ServiceRef::at(place, "-", format!("instance {}", event.instance_id));
        report.record_spot_service(&id, problems);
    }
    report
}
