//! An EC2-backed environment's Auto Scaling groups in a run: a start restores them before its
//! services, a stop scales them in after its services (and only once the guard allows it and
//! the environment's tasks are gone); status, dry runs and `plan` show them.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;

use super::{Context, gone};
use crate::action::Action;
use crate::aws::Aws;
use crate::error::Failure;
use crate::observe::capacity as observe;
use crate::plan::capacity::{self as plan, GroupDecision, GroupPlan, Occupants};
use crate::report::{GroupReport, Outcome, Report};
use crate::schedule::{Environment, ServiceRef};

/// The environment's clusters (those of its services, as resolved for this run).
fn clusters(environment: &Environment) -> BTreeSet<String> {
    environment.services.iter().map(|s| s.id.cluster.clone()).collect()
}

/// The services the report says this run stopped (or found stopped): their tasks are the
/// environment's own on the groups' instances. Skipped (excluded) and failed services keep
/// running: their tasks are someone else's to the guard. Named without their place: the groups and
/// the tasks on them are of the environment's one account and region.
fn stopped(report: &Report) -> BTreeSet<ServiceRef> {
    report
        .services
        .iter()
        .filter(|s| {
            matches!(s.outcome, Outcome::Changed | Outcome::Unchanged) && s.after.is_some_and(|a| a.desired == 0)
        })
        .map(|s| ServiceRef::new(&s.cluster, &s.service))
        .collect()
}

/// The groups and the capacity providers, read; a provider list that cannot be read is a note.
async fn read<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &Environment,
) -> (BTreeMap<String, Result<crate::state::AutoScalingGroup, Failure>>, Vec<crate::state::CapacityProvider>, Vec<String>)
{
    let names: Vec<String> = environment.capacity.iter().map(|g| g.name.clone()).collect();
    let groups = observe::groups(ctx.aws, &names).await;
    let mut notes = Vec::new();
    let clusters: Vec<String> = clusters(environment).into_iter().collect();
    let providers = match ctx.aws.capacity_providers(&clusters).await {
        Ok(providers) => providers,
        Err(e) => {
            notes.push(format!("cannot tell which capacity providers the groups back: {e}"));
            Vec::new()
        }
    };
    (groups, providers, notes)
}

/// Who runs on the groups that a stop would scale in (the others need no look).
async fn occupants<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &Environment,
    groups: &BTreeMap<String, Result<crate::state::AutoScalingGroup, Failure>>,
    planned: &[GroupPlan],
    stopped: &BTreeSet<ServiceRef>,
) -> Result<BTreeMap<String, Occupants>, crate::error::AwsError> {
    let to_look: Vec<&crate::state::AutoScalingGroup> = planned
        .iter()
        .filter(|p| matches!(p.decision, GroupDecision::Change { .. }))
        .filter_map(|p| groups.get(&p.group).and_then(|g| g.as_ref().ok()))
        .collect();
    if to_look.is_empty() {
        return Ok(BTreeMap::new());
    }
    observe::on_groups(ctx.aws, &to_look, &clusters(environment), stopped, ctx.settings.concurrency).await
}

/// A stop's decisions: the guard first; where only the environment's own tasks are left, the
/// wait for them to be gone (bounded by `wait_until`), then the guard again. A dry run
/// (`wait_until` None) does not wait: the services it would stop are still up, so their tasks
/// are only counted in a note.
async fn stop_plans<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &Environment,
    report: &Report,
    wait_until: Option<Instant>,
) -> (Vec<GroupPlan>, Vec<String>) {
    let (groups, providers, mut notes) = read(ctx, environment).await;
    let configs = &environment.capacity;
    let none = BTreeMap::new();
    let first = plan::plan(configs, &groups, &providers, Action::Stop, &none);
    let stopped = stopped(report);
    let mut found = match occupants(ctx, environment, &groups, &first, &stopped).await {
        Ok(found) => found,
        Err(e) => return (unguarded(first, &e), notes),
    };
    let Some(wait_until) = wait_until else {
        for (group, o) in found.iter_mut().filter(|(_, o)| o.ours > 0) {
            notes.push(format!(
                "{group}: scaled in once the {} tasks of this environment on its instances are gone",
                std::mem::take(&mut o.ours)
            ));
        }
        return (plan::plan(configs, &groups, &providers, Action::Stop, &found), notes);
    };
    // Only the services whose tasks are on the groups' instances are waited for (a stop of
    // hundreds of services looks at a few).
    let ids: Vec<ServiceRef> = found
        .values()
        .filter(|o| o.others.is_empty())
        .flat_map(|o| o.waiting_for.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !ids.is_empty() {
        gone(ctx, &ids, wait_until).await;
        found = match occupants(ctx, environment, &groups, &first, &stopped).await {
            Ok(found) => found,
            Err(e) => return (unguarded(first, &e), notes),
        };
    }
    (plan::plan(configs, &groups, &providers, Action::Stop, &found), notes)
}

/// The groups a stop would scale in fail when their instances cannot be looked at: never
/// scale in blind.
fn unguarded(plans: Vec<GroupPlan>, e: &crate::error::AwsError) -> Vec<GroupPlan> {
    plans
        .into_iter()
        .map(|mut p| {
            if matches!(p.decision, GroupDecision::Change { .. }) {
                let why = format!("could not tell who runs on its instances, so it is left as it is: {e}");
                p.decision = GroupDecision::Fail(Failure::aws(e, why));
                p.after = p.before;
            }
            p
        })
        .collect()
}

/// Carry out the plans, one group after another: the report's lines.
async fn apply<A: Aws>(ctx: &Context<'_, A>, plans: &[GroupPlan]) -> Vec<GroupReport> {
    let mut reports = Vec::new();
    for p in plans {
        let mut report = GroupReport::planned(p);
        if matches!(p.decision, GroupDecision::Change { .. }) {
            let (done, failure) = crate::apply::group(ctx.aws, p).await;
            report.actions = done;
            if let Some(failure) = failure {
                report.fail(&failure);
            }
        }
        reports.push(report);
    }
    reports
}

/// A stop's groups, after its services: decided and scaled in.
pub(super) async fn stop<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &Environment,
    report: &mut Report,
    wait_until: Instant,
) {
    let (plans, notes) = stop_plans(ctx, environment, report, Some(wait_until)).await;
    report.capacity = apply(ctx, &plans).await;
    report.notes.extend(notes);
}

/// A start's groups, before its services: restored. Returns the groups given instances now,
/// with their desired count, for [`registered`].
pub(super) async fn start<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &Environment,
) -> (Vec<GroupReport>, Vec<String>, Vec<(String, u32)>) {
    let (groups, providers, notes) = read(ctx, environment).await;
    let plans = plan::plan(&environment.capacity, &groups, &providers, Action::Start, &BTreeMap::new());
    let reports = apply(ctx, &plans).await;
    let scaled_out = plans
        .iter()
        .zip(&reports)
        .filter(|(p, r)| r.outcome == Outcome::Changed && p.before.is_some_and(|b| b.desired == 0))
        .filter_map(|(p, _)| Some((p.group.clone(), p.after?.desired)))
        .filter(|(_, desired)| *desired > 0)
        .collect();
    (reports, notes, scaled_out)
}

/// While a start's services come up: how long each scaled-out group's instances took to
/// register as container instances of the environment's clusters (looked at every poll
/// interval until `wait_until`). One note per group.
pub(super) async fn registered<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &Environment,
    scaled_out: &[(String, u32)],
    since: Instant,
    wait_until: Instant,
) -> Vec<(String, String)> {
    let clusters = clusters(environment);
    let mut notes = Vec::new();
    for (group, desired) in scaled_out {
        let last = std::sync::atomic::AtomicUsize::new(0);
        let ready = super::poll_until(ctx.settings.poll_interval, wait_until, || async {
            if let Ok(n) = observe::registered(ctx.aws, group, &clusters, ctx.settings.concurrency).await {
                last.store(n, std::sync::atomic::Ordering::SeqCst);
            }
            last.load(std::sync::atomic::Ordering::SeqCst) >= *desired as usize
        })
        .await;
        let last = last.into_inner();
        let took = Instant::now().saturating_duration_since(since).as_secs();
        let note = if ready {
            format!("its {desired} instances registered in the environment's clusters {took} s after it was restored")
        } else {
            format!(
                "{last} of its {desired} instances registered in the environment's clusters when the wait ended ({took} s)"
            )
        };
        notes.push((group.clone(), note));
    }
    notes
}

/// What a dry run, a status or a reconcile that changes nothing shows of the groups: their
/// sizes and snapshots, and (a stop) what the guard would say now; `status` also warns of the
/// clusters' instances of groups the file does not list.
pub(super) async fn look<A: Aws>(ctx: &Context<'_, A>, environment: &Environment, effect: Action, report: &mut Report) {
    if !environment.capacity.is_empty() {
        let plans = if effect == Action::Stop {
            let (plans, notes) = stop_plans(ctx, environment, report, None).await;
            report.notes.extend(notes);
            plans
        } else {
            let (groups, providers, notes) = read(ctx, environment).await;
            report.notes.extend(notes);
            plan::plan(&environment.capacity, &groups, &providers, effect, &BTreeMap::new())
        };
        report.capacity = plans.iter().map(GroupReport::planned).collect();
    }
    if effect == Action::Status {
        report.notes.extend(leaks(ctx, environment).await);
    }
}

/// `status`'s cost-leak warnings: instances of the environment's clusters whose Auto Scaling
/// group the file does not list keep running while it is stopped.
async fn leaks<A: Aws>(ctx: &Context<'_, A>, environment: &Environment) -> Vec<String> {
    let listed: BTreeSet<&str> = environment.capacity.iter().map(|g| g.name.as_str()).collect();
    match observe::groups_of_clusters(ctx.aws, &clusters(environment), ctx.settings.concurrency).await {
        Ok(counts) => counts
            .into_iter()
            .filter(|((_, group), _)| !listed.contains(group.as_str()))
            .map(|((cluster, group), n)| {
                format!(
                    "cost leak: {cluster}: {n} instances of {group} keep running while {} is stopped (list it under `capacity` to stop them too)",
                    environment.name
                )
            })
            .collect(),
        Err(e) => vec![format!("cannot tell which Auto Scaling groups the clusters' instances belong to: {e}")],
    }
}
