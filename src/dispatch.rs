//! The one entry point the Lambda runtime and the CLI both call. Every input takes the same
//! straight chain: parse -> intent (pure) -> observe -> plan (pure) -> apply -> report; the
//! functions below only wire those stages together, each decision is the planner's.

mod capacity;
mod spot;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio::time::Instant;

use crate::action::Action;
use crate::aws::Aws;
use crate::error::Error;
use crate::event::Input;
use crate::intent::{EnvironmentIntent, Intent, override_name};
use crate::plan::targets::{self, Waiting};
use crate::plan::{self, Plan, Planned};
use crate::report::{Outcome, Report};
use crate::schedule::{Place, Schedule, ServiceRef};
use crate::settings::Settings;
use crate::state::{Holder, Placement};
use crate::warm::Warm;
use crate::{apply, observe};

/// What outlives one invocation: the AWS clients, the schedule, the settings and a warm
/// container's memory. The Lambda runtime loop owns one and lends it to every invocation; the
/// CLI makes one for its one run. A test starts cold with a new one, warm by lending it again.
pub struct Context<'a, A> {
    pub aws: &'a A,
    pub schedule: &'a Schedule,
    pub settings: &'a Settings,
    pub warm: Arc<Warm>,
    /// Runs so far, to tell this process's runs apart in the state table.
    runs: Arc<AtomicU64>,
}

/// How long a run may hold a snapshot in the state table should it die before it lets go: longer
/// than any Lambda invocation (15 minutes).
pub const HOLD_SECONDS: u64 = 16 * 60;

impl<'a, A> Context<'a, A> {
    /// A cold start: nothing remembered.
    pub fn new(aws: &'a A, schedule: &'a Schedule, settings: &'a Settings) -> Self {
        Context { aws, schedule, settings, warm: Arc::default(), runs: Arc::default() }
    }

    /// The same container's context with another place's clients and settings.
    fn at<'b>(&'b self, aws: &'b A, settings: &'b Settings) -> Context<'b, A> {
        Context { aws, schedule: self.schedule, settings, warm: self.warm.clone(), runs: self.runs.clone() }
    }

    /// The clients of `place`, its account's role assumed (session `PREFIX-ENVIRONMENTS`), and
    /// the settings of a run there: to run there with [`Context::at`].
    async fn place_clients(&self, place: &Place, prefix: &str) -> Result<(A, Settings), crate::error::AwsError>
    where
        A: Aws,
    {
        let role = place.account.as_deref().and_then(|id| self.schedule.account(id));
        let session = plan::place::session_name(self.schedule, prefix, place);
        let aws = self.aws.at(place, role, &session).await?;
        let settings =
            Settings { region: place.region.clone().or(self.settings.region.clone()), ..self.settings.clone() };
        Ok((aws, settings))
    }

    /// This run, as the state table records it: a new id, the time on the clock (not the
    /// invocation's `now`, which the CLI may set), and when its holds lapse.
    fn holder(&self, doing: String) -> Holder {
        use std::hash::{BuildHasher, Hasher};
        let now = Utc::now();
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
        // Lambda sandboxes can share a process id: a randomly keyed hash sets them apart.
        let mut nonce = std::collections::hash_map::RandomState::new().build_hasher();
        nonce.write_u64(run);
        Holder {
            id: format!("{}-{}-{}-{:016x}", std::process::id(), run, now.timestamp_millis(), nonce.finish()),
            doing,
            now: seconds,
            now_text: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            until: seconds + HOLD_SECONDS,
        }
    }
}

/// Handle one input at `now`. `deadline` is when the invocation must have returned; waiting
/// for tasks stops `settings.safety_margin` before it. Per-service failures are in the report
/// (see [`Report::error`]); `Err` means the input itself was rejected and nothing was done.
pub async fn handle<A: Aws>(
    ctx: &Context<'_, A>,
    input: Value,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<Report, Error> {
    let input = Input::parse(input)?;
    // Boxed: each chain is a large future; boxing keeps `handle`'s own future small.
    let mut report = match crate::intent::intent(ctx.schedule, input, now, ctx.settings)? {
        Intent::Environment(intent) => Box::pin(places(ctx, intent, deadline)).await?,
        Intent::SpotTask(event) => Box::pin(spot::spot_task_at(ctx, &event)).await,
        Intent::SpotInstance(event) => Box::pin(spot::spot_instance_at(ctx, &event)).await,
    };
    report.finish();
    Ok(report)
}

/// A payload: the environment's services of each account and region run with that place's
/// clients, all places at once (each has its own buckets), in one report. A place whose role
/// cannot be assumed fails its services with `access_denied`; the others go on.
async fn places<A: Aws>(
    ctx: &Context<'_, A>,
    intent: EnvironmentIntent<'_>,
    deadline: Instant,
) -> Result<Report, Error> {
    let parts = plan::place::split(intent.environment);
    if let [only] = parts.as_slice()
        && only.place.is_home()
    {
        return environment(ctx, intent, deadline).await;
    }
    let runs = parts.iter().enumerate().map(|(i, part)| {
        let intent = EnvironmentIntent {
            environment: part,
            // One override schedule for the environment, put by the first part's run.
            override_schedule: if i == 0 { intent.override_schedule.clone() } else { None },
            ..intent.clone()
        };
        async move {
            if part.place.is_home() {
                return environment(ctx, intent, deadline).await;
            }
            if let Err(reason) = &intent.effect {
                return Ok(Report::skipped(&intent, reason.clone()));
            }
            match ctx.place_clients(&part.place, "ecs-cost-saver").await {
                Ok((aws, settings)) => environment(&ctx.at(&aws, &settings), intent, deadline).await,
                Err(e) => Ok(Report::unreachable(&intent, &e)),
            }
        }
    });
    let reports = futures_util::future::join_all(runs).await.into_iter().collect::<Result<Vec<Report>, Error>>()?;
    Ok(Report::merge(reports).unwrap_or_else(|| Report::skipped(&intent, "no services".into())))
}

/// One place's part of a payload: every call paced to AWS's buckets and bounded by the
/// deadline, from the first read to the last write; the report counts the throttled answers.
async fn environment<A: Aws>(
    ctx: &Context<'_, A>,
    intent: EnvironmentIntent<'_>,
    deadline: Instant,
) -> Result<Report, Error> {
    let aws = ctx.aws;
    let began = std::time::Instant::now();
    // The wait for tasks ends a safety margin before the deadline; the registrations of its
    // last look still go, in the first half of the margin (the second is for the report).
    let calls_until = deadline.checked_sub(ctx.settings.safety_margin / 2).unwrap_or(deadline);
    aws.begin_run(calls_until.saturating_duration_since(Instant::now()));
    let throttled = aws.throttled();
    let report = environment_paced(ctx, intent, deadline).await;
    aws.end_run();
    let mut report = report?;
    report.throttled = aws.throttled().saturating_sub(throttled);
    report.time_to_ready_ms = report.ready_at.map(|at| at.saturating_duration_since(began).as_millis() as u64);
    Ok(report)
}

/// The pending override (if the intent defers to one), then the services.
async fn environment_paced<A: Aws>(
    ctx: &Context<'_, A>,
    intent: EnvironmentIntent<'_>,
    deadline: Instant,
) -> Result<Report, Error> {
    let (aws, settings) = (ctx.aws, ctx.settings);
    if intent.defers_to_override {
        let name = override_name(&intent.environment.name);
        let pending = observe::pending_schedule(aws, &settings.schedule_group, &name).await.map_err(|source| {
            Error::Aws { context: format!("cannot tell whether an override is pending ({name})"), source }
        })?;
        if let Some(reason) = plan::pending_override(&intent, pending.as_deref(), ctx.schedule.timezone) {
            return Ok(Report::skipped(&intent, reason));
        }
    }
    let effect = match &intent.effect {
        Ok(effect) => *effect,
        Err(reason) => return Ok(Report::skipped(&intent, reason.clone())),
    };
    // The selectors, resolved against their clusters as they are now.
    let clusters = plan::select::clusters_to_read(ctx.schedule, intent.environment);
    let listings = if clusters.is_empty() {
        plan::select::Listings::new()
    } else {
        observe::listings(aws, &clusters, settings.concurrency).await
    };
    let resolved = plan::select::resolve(ctx.schedule, intent.environment, &listings);
    let known = plan::select::described(listings, &intent.environment.place);
    let environment = crate::schedule::Environment { services: resolved.services, ..intent.environment.clone() };
    let intent = EnvironmentIntent { environment: &environment, ..intent };
    let ids: Vec<ServiceRef> = intent.environment.services.iter().map(|c| c.id.clone()).collect();
    let table = settings.state_table.as_deref();
    let observed = observe::services(aws, &ids, &known, table, settings.concurrency).await;
    let placements: BTreeMap<ServiceRef, Placement> = observed
        .iter()
        .filter_map(|(id, o)| o.service.as_ref().ok().map(|s| (id.clone(), s.placement.clone())))
        .collect();
    let mut plan = plan::environment(&intent, effect, observed, settings.store(), settings.serial_runs);
    plan.notes.extend(resolved.notes);
    plan.services.extend(resolved.failed.into_iter().map(|(id, failure)| Planned::Unread { id, failure }));
    plan::order::arrange(&mut plan, &intent.environment.start_order);
    if effect == Action::Status {
        let rids: Vec<String> = ids.iter().map(|id| crate::aws::resource_id(&id.cluster, &id.service)).collect();
        match observe::scheduled_actions(aws, &rids).await {
            Ok(actions) => plan::note_scheduled_actions(&mut plan, &actions),
            Err(e) => plan.notes.push(format!("cannot list the scalable targets' scheduled actions: {e}")),
        }
    }
    tracing::info!(plan = %plan, "planned");
    let mut report = if plan.dry_run {
        let mut report = dry_run(ctx, &plan).await;
        capacity::look(ctx, intent.environment, effect, &mut report).await;
        report
    } else {
        run(ctx, &intent, plan, deadline).await?
    };
    if matches!(effect, Action::Stop | Action::Status) {
        costs(ctx, intent.environment, effect, placements, &mut report).await;
    }
    Ok(report)
}

/// The cost figures of a stop or `status`: the task definitions of the services' primary
/// deployments (one DescribeTaskDefinition per distinct revision), priced by the planner.
async fn costs<A: Aws>(
    ctx: &Context<'_, A>,
    environment: &crate::schedule::Environment,
    effect: Action,
    placements: BTreeMap<ServiceRef, Placement>,
    report: &mut Report,
) {
    let arns: BTreeSet<String> = placements.values().filter_map(|p| p.task_definition.clone()).collect();
    let definitions = observe::task_definitions(ctx.aws, &arns, ctx.settings.concurrency).await;
    let sizes: crate::report::Sizes = placements
        .into_iter()
        .map(|(id, placement)| {
            let size = match placement.task_definition.as_deref().map(|arn| definitions.get(arn)) {
                None => Err("the service shows no task definition".to_string()),
                Some(Some(Ok(definition))) => definition.size(),
                Some(Some(Err(e))) => Err(e.to_string()),
                Some(None) => Err("its task definition was not read".to_string()),
            };
            (id, (placement, size))
        })
        .collect();
    let defaults = environment.services.iter().map(|c| (c.id.clone(), c.desired_count.unwrap_or(1))).collect();
    report.record_costs(effect, &sizes, &defaults, &ctx.schedule.pricing, ctx.settings.region.as_deref());
}

/// A dry run: the plan as a report, with the targets registration would add now (one look at the
/// tasks, no wait). Nothing is written.
async fn dry_run<A: Aws>(ctx: &Context<'_, A>, plan: &Plan) -> Report {
    let mut report = Report::planned(plan);
    if plan.registers {
        let waiting = targets::waiting(plan, |id| failed(&report, id));
        let observed = observe::tasks(ctx.aws, &ids(&waiting), ctx.settings.concurrency).await;
        let look = targets::look(waiting, &observed, true);
        for (w, failure) in look.unreadable {
            report.record_failure(&w.id, failure);
        }
        let facts = observe_facts(ctx, &look.ready).await;
        for (w, tasks) in &look.ready {
            report.record_registration(&w.id, targets::registration(w, tasks, &facts, false), None);
        }
    }
    report
}

/// A real run: the override schedule first (if the action then fails, the environment still
/// returns to its state at `until`), then as much as fits before the deadline (the rest handed
/// on to a continuation), every service as a pipeline of its own: its writes, then (a start)
/// the wait for its tasks and their registration, while other services are still being
/// written.
async fn run<A: Aws>(
    ctx: &Context<'_, A>,
    intent: &EnvironmentIntent<'_>,
    mut plan: Plan,
    deadline: Instant,
) -> Result<Report, Error> {
    let wait_until = deadline.checked_sub(ctx.settings.safety_margin).unwrap_or(deadline);
    let environment = intent.environment;
    let effect = plan.effect;
    if environment.capacity.is_empty() && effect != Action::Status {
        return Box::pin(run_paced(ctx, intent, &mut plan, deadline, wait_until)).await;
    }
    match effect {
        // The groups first: ECS places the services' tasks as their instances register.
        Action::Start => {
            let (groups, notes, scaled_out) = capacity::start(ctx, environment).await;
            let since = Instant::now();
            let (report, registered) = futures_util::join!(
                Box::pin(run_paced(ctx, intent, &mut plan, deadline, wait_until)),
                capacity::registered(ctx, environment, &scaled_out, since, wait_until)
            );
            let mut report = report?;
            report.capacity = groups;
            for (group, note) in registered {
                if let Some(g) = report.capacity.iter_mut().find(|g| g.group == group) {
                    g.notes.push(note);
                }
            }
            report.notes.extend(notes);
            Ok(report)
        }
        // The services first: the groups are scaled in under them once their tasks are gone.
        Action::Stop => {
            let mut report = Box::pin(run_paced(ctx, intent, &mut plan, deadline, wait_until)).await?;
            capacity::stop(ctx, environment, &mut report, wait_until).await;
            Ok(report)
        }
        _ => {
            let mut report = Box::pin(run_paced(ctx, intent, &mut plan, deadline, wait_until)).await?;
            capacity::look(ctx, environment, effect, &mut report).await;
            Ok(report)
        }
    }
}

async fn run_paced<A: Aws>(
    ctx: &Context<'_, A>,
    intent: &EnvironmentIntent<'_>,
    plan: &mut Plan,
    deadline: Instant,
    wait_until: Instant,
) -> Result<Report, Error> {
    let (aws, settings) = (ctx.aws, ctx.settings);
    if let Some(o) = &plan.override_schedule {
        apply::put_override(aws, o).await.map_err(|source| Error::Aws {
            context: format!("cannot create the override schedule {}", o.name),
            source,
        })?;
    }
    let holder = ctx.holder(format!("{} {}", plan.effect.as_str(), plan.environment));
    let writer = apply::Writer { table: settings.state_table.as_deref(), holder: &holder };
    let mut report = Report::planned(plan);
    let handed_on = hand_on(ctx, plan, wait_until);
    if !handed_on.is_empty() {
        let continuation = continue_later(ctx, intent, &handed_on).await;
        report.record_handed_on(&handed_on, &continuation);
        plan.services.retain(|s| !handed_on.contains(s.id()));
    }
    let (ready, arrivals) = tokio::sync::mpsc::unbounded_channel::<Waiting>();
    let (up, ups) = tokio::sync::mpsc::unbounded_channel::<Up>();
    let groups = order_groups(plan, &intent.environment.start_order);
    let (registers, effect) = (plan.registers, plan.effect);
    // Every service whose tasks are waited for: a start is ready when each of them is up.
    let awaited = std::sync::Mutex::new(Vec::new());
    if registers {
        // Nothing to write first: their tasks are looked at now.
        for w in targets::waiting(plan, |id| failed(&report, id)) {
            let unchanged = plan
                .services
                .iter()
                .any(|s| matches!(s, Planned::Service(p) if p.id == w.id && p.decision == plan::Decision::Unchanged));
            if unchanged {
                awaited.lock().unwrap().push(w.id.clone());
                let _ = ready.send(w);
            }
        }
    }
    let awaiting = &awaited;
    let done = move |p: &plan::ServicePlan, a: &apply::Applied| {
        if registers && a.failure.is_none() {
            awaiting.lock().unwrap().push(p.id.clone());
            let _ = ready.send(Waiting { id: p.id.clone(), bindings: p.bindings.clone(), desired: p.after.desired });
        }
    };
    let writing = async move {
        let mut ups = ups;
        let (mut late, mut up) = (Vec::new(), BTreeMap::new());
        let applied = if groups.len() > 1 {
            let order = InOrder { groups: &groups, deadline, wait_until, ups: &mut ups, up: &mut up, late: &mut late };
            in_order(ctx, intent, plan, &mut report, writer, &done, order).await
        } else {
            apply_and_replan(ctx, intent, plan, &mut report, writer, deadline, &done).await
        };
        // Every service that will be registered has been handed on by now.
        drop(done);
        (applied, report, ups, up, late)
    };
    let ((applied, mut report, mut ups, mut up, late), registered) =
        futures_util::join!(writing, register(ctx, arrivals, wait_until, up));
    report.record_applied(applied);
    // The start groups that were not ready in time: when their tasks were up after all.
    while let Ok(u) = ups.try_recv() {
        up.insert(u.id.clone(), u);
    }
    for l in late {
        report.notes.push(l.note(&up));
    }
    let awaited = awaited.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    if effect == Action::Start && report.failed() == 0 && !awaited.is_empty() {
        let times: Option<Vec<Instant>> = awaited.iter().map(|id| up.get(id).map(|u| u.at)).collect();
        report.ready_at = times.and_then(|t| t.into_iter().max()).map(Instant::into_std);
    }
    for event in registered {
        match event {
            Registering::Unreadable(id, failure) => report.record_failure(&id, failure),
            Registering::Unconfirmed(id, note) => report.record_note(&id, note),
            Registering::Done(id, planned, results) => report.record_registration(&id, planned, Some(results)),
        }
    }
    Ok(report)
}

/// The `start_order` groups of a real start or stop, in the order they run (a stop's reversed);
/// empty without `start_order` (or with one group: nothing to wait for).
fn order_groups(plan: &Plan, order: &[Vec<String>]) -> Vec<plan::order::Group> {
    if !matches!(plan.effect, crate::action::Action::Start | crate::action::Action::Stop) {
        return Vec::new();
    }
    plan::order::run_order(plan, order).0
}

/// A started service whose tasks are all RUNNING and registered (the register loop tells the
/// `start_order` groups), with its tasks' targets, and when.
struct Up {
    id: ServiceRef,
    at: Instant,
    targets: Vec<(String, crate::state::Target)>,
}

/// What a run in `start_order` needs besides the plan.
struct InOrder<'g> {
    groups: &'g [plan::order::Group],
    deadline: Instant,
    wait_until: Instant,
    ups: &'g mut tokio::sync::mpsc::UnboundedReceiver<Up>,
    /// Every service heard of so far through `ups`.
    up: &'g mut BTreeMap<ServiceRef, Up>,
    late: &'g mut Vec<Late>,
}

/// A group that was not ready by its time: the rest went on without it.
struct Late {
    label: String,
    action: crate::action::Action,
    waited: std::time::Duration,
    due: Instant,
    services: Vec<ServiceRef>,
}

impl Late {
    fn note(&self, up: &BTreeMap<ServiceRef, Up>) -> String {
        let head = format!(
            "start_order group {} was not {} within its {} s; the next groups went on without it",
            self.label,
            done_word(self.action),
            self.waited.as_secs()
        );
        if self.action == crate::action::Action::Stop {
            return head;
        }
        let last = self.services.iter().map(|id| up.get(id).map(|u| u.at)).collect::<Option<Vec<_>>>();
        match last.and_then(|at| at.into_iter().max()) {
            Some(at) => format!(
                "{head}: its tasks were RUNNING and registered {:.0} s late",
                at.saturating_duration_since(self.due).as_secs_f64()
            ),
            None => format!("{head}: its tasks were still not all RUNNING and registered when the wait ended"),
        }
    }
}

/// A start or stop in `start_order`: each group's writes, then (but the last group) the wait
/// for it, up to its share of the time left: a start's group is ready when its services' tasks
/// are RUNNING and registered and their targets `healthy`; a stop's, when its tasks are gone.
async fn in_order<A: Aws>(
    ctx: &Context<'_, A>,
    intent: &EnvironmentIntent<'_>,
    plan: &mut Plan,
    report: &mut Report,
    writer: apply::Writer<'_>,
    done: &(dyn Fn(&plan::ServicePlan, &apply::Applied) + Sync),
    order: InOrder<'_>,
) -> Vec<(ServiceRef, apply::Applied)> {
    let InOrder { groups, deadline, wait_until, ups, up, late } = order;
    let mut applied = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let mut part = Plan {
            services: plan.services.iter().filter(|s| group.services.contains(s.id())).cloned().collect(),
            ..plan.clone()
        };
        let started = Instant::now();
        let written = apply_and_replan(ctx, intent, &mut part, report, writer, deadline, done).await;
        // Those whose writes went through and that have tasks to wait for.
        let wait_for: Vec<ServiceRef> = part
            .services
            .iter()
            .filter_map(|s| match s {
                Planned::Service(p)
                    if matches!(p.decision, plan::Decision::Change(_) | plan::Decision::Unchanged)
                        && !written.iter().any(|(id, a)| id == &p.id && a.failure.is_some()) =>
                {
                    Some(p.id.clone())
                }
                _ => None,
            })
            .collect();
        applied.extend(written);
        if i + 1 == groups.len() {
            break;
        }
        let share = wait_until.saturating_duration_since(Instant::now()) / (groups.len() - i) as u32;
        let due = Instant::now() + share;
        let ready = if plan.effect == crate::action::Action::Stop {
            gone(ctx, &wait_for, due).await
        } else {
            started_up(ctx, &wait_for, due, ups, up).await
        };
        let took = Instant::now().saturating_duration_since(started).as_secs();
        if ready {
            report.notes.push(format!("start_order group {} {} after {took} s", group.label(), done_word(plan.effect)));
        } else {
            late.push(Late {
                label: group.label(),
                action: plan.effect,
                waited: due.saturating_duration_since(started),
                due,
                services: wait_for,
            });
        }
    }
    applied
}

/// What a group that is through has become: a stop's is `gone`, a start's `ready`.
fn done_word(effect: crate::action::Action) -> &'static str {
    if effect == crate::action::Action::Stop { "gone" } else { "ready" }
}

/// Whether `look` says yes by `due`, asking it every poll interval.
async fn poll_until<F: std::future::Future<Output = bool>>(
    poll: std::time::Duration,
    due: Instant,
    mut look: impl FnMut() -> F,
) -> bool {
    loop {
        if look().await {
            return true;
        }
        if Instant::now() + poll >= due {
            return false;
        }
        tokio::time::sleep(poll).await;
    }
}

/// Whether every task of `ids` is gone by `due`.
async fn gone<A: Aws>(ctx: &Context<'_, A>, ids: &[ServiceRef], due: Instant) -> bool {
    poll_until(ctx.settings.poll_interval, due, || async {
        observe::tasks_gone(ctx.aws, ids, ctx.settings.concurrency).await.values().all(|g| matches!(g, Ok(true)))
    })
    .await
}

/// Whether every service of `ids` is up by `due` (the register loop says so through `ups`;
/// earlier groups' news is kept in `up`), then its targets `healthy` (DescribeTargetHealth of
/// its target groups, every poll interval).
async fn started_up<A: Aws>(
    ctx: &Context<'_, A>,
    ids: &[ServiceRef],
    due: Instant,
    ups: &mut tokio::sync::mpsc::UnboundedReceiver<Up>,
    up: &mut BTreeMap<ServiceRef, Up>,
) -> bool {
    while !ids.iter().all(|id| up.contains_key(id)) {
        match tokio::time::timeout_at(due, ups.recv()).await {
            Ok(Some(u)) => {
                up.insert(u.id.clone(), u);
            }
            // The register loop has ended: nothing more will come up.
            Ok(None) | Err(_) => return false,
        }
    }
    let expected: Vec<(String, crate::state::Target)> =
        ids.iter().flat_map(|id| up.get(id).map(|u| u.targets.clone()).unwrap_or_default()).collect();
    if expected.is_empty() {
        return true;
    }
    let target_groups: Vec<String> =
        expected.iter().map(|(tg, _)| tg.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    poll_until(ctx.settings.poll_interval, due, || async {
        targets::all_healthy(&expected, &observe::registered(ctx.aws, &target_groups, ctx.settings.concurrency).await)
    })
    .await
}

/// The services with writes to make that the buckets leave no time for before `wait_until`, in
/// the plan's order: every one after the first that does not fit. A start keeps
/// `settings.task_start` back for each one's tasks to run and be registered, when the run is
/// long enough to wait for them at all (more than twice that); a shorter run (a CLI
/// `--timeout 30`) writes what it can and reports the tasks not yet running.
fn hand_on<A: Aws>(ctx: &Context<'_, A>, plan: &Plan, wait_until: Instant) -> Vec<ServiceRef> {
    let Some((buckets, now)) = ctx.aws.buckets() else { return Vec::new() };
    let budget = wait_until.saturating_duration_since(Instant::now()).as_secs_f64();
    let task_start = ctx.settings.task_start.as_secs_f64();
    let after = if plan.registers && budget > 2.0 * task_start { task_start } else { 0.0 };
    let changing: Vec<&plan::ServicePlan> = plan
        .services
        .iter()
        .filter_map(|s| match s {
            Planned::Service(p) if matches!(p.decision, plan::Decision::Change(_)) => Some(&**p),
            _ => None,
        })
        .collect();
    let work: Vec<Vec<crate::pace::Group>> = changing.iter().map(|p| plan::service::calls(p)).collect();
    let fits = crate::pace::fitting(&work, &buckets, now, budget, after);
    changing[fits..].iter().map(|p| p.id.clone()).collect()
}

/// The most continuations one run hands on to, one after another.
pub const MAX_CONTINUATIONS: u32 = 10;

/// Where the services handed on go: a one-time schedule that runs the same payload again in a
/// minute (services already done are `unchanged` there), or, without the function's ARN and
/// the Scheduler role (the CLI), the next run. What the report says of it.
async fn continue_later<A: Aws>(
    ctx: &Context<'_, A>,
    intent: &EnvironmentIntent<'_>,
    services: &[ServiceRef],
) -> String {
    let settings = ctx.settings;
    let environment = &intent.environment.name;
    let (Some(function), Some(role)) = (&settings.function_arn, &settings.scheduler_role_arn) else {
        return format!(
            "{} services handed on: the buckets leave no time for them in this run; run the same {} again (or let the next reconcile) finish them",
            services.len(),
            intent.action.as_str()
        );
    };
    if intent.continuation >= MAX_CONTINUATIONS {
        return format!(
            "{} services handed on, but this is continuation {} of {MAX_CONTINUATIONS}: not continued again; the next reconcile finishes them",
            services.len(),
            intent.continuation
        );
    }
    let tz = ctx.schedule.timezone;
    let at = (chrono::Utc::now() + chrono::Duration::seconds(60)).with_timezone(&tz);
    let mut input = serde_json::json!({"action": intent.action, "environment": environment, "continuation": intent.continuation + 1});
    if intent.scheduled {
        input["scheduled"] = Value::Bool(true);
    }
    let schedule = crate::state::OneTimeSchedule {
        name: crate::intent::continuation_name(environment),
        group: settings.schedule_group.clone(),
        expression: format!("at({})", at.format("%Y-%m-%dT%H:%M:%S")),
        timezone: tz.name().to_string(),
        target_arn: function.clone(),
        role_arn: role.clone(),
        input: input.to_string(),
    };
    match apply::put_override(ctx.aws, &schedule).await {
        Ok(()) => format!(
            "{} services handed on to continuation {} at {} {} (schedule {})",
            services.len(),
            intent.continuation + 1,
            at.format("%H:%M:%S"),
            tz.name(),
            schedule.name
        ),
        Err(e) => format!(
            "{} services handed on, but the continuation schedule {} could not be created ({e}); the next reconcile finishes them",
            services.len(),
            schedule.name
        ),
    }
}

/// Every service's program; a service whose conditional write lost to another run is read again,
/// planned again and run again, up to [`plan::REPLANS`] times, 1, 2, 3 poll intervals apart.
/// `done` hears of each service whose program ended (the first time it succeeded, or its last
/// try). What is returned is still to be recorded (the earlier tries' calls first).
async fn apply_and_replan<A: Aws>(
    ctx: &Context<'_, A>,
    intent: &EnvironmentIntent<'_>,
    plan: &mut Plan,
    report: &mut Report,
    writer: apply::Writer<'_>,
    deadline: Instant,
    done: &(dyn Fn(&plan::ServicePlan, &apply::Applied) + Sync),
) -> Vec<(ServiceRef, apply::Applied)> {
    let (aws, settings) = (ctx.aws, ctx.settings);
    let until = deadline.checked_sub(settings.safety_margin).unwrap_or(deadline);
    let mut applied = apply::services(aws, plan, writer, settings.concurrency, done).await;
    for attempt in 1..=plan::REPLANS {
        let (lost, kept): (Vec<_>, Vec<_>) = applied
            .into_iter()
            .partition(|(_, a)| a.failure.as_ref().is_some_and(|(step, f)| plan::service::replans(*step, f)));
        if lost.is_empty() || Instant::now() + settings.poll_interval * attempt >= until {
            return lost.into_iter().chain(kept).collect();
        }
        report.record_applied(kept);
        tokio::time::sleep(settings.poll_interval * attempt).await;
        let ids: Vec<ServiceRef> = lost.iter().map(|(id, _)| id.clone()).collect();
        let no_one = std::collections::HashMap::new();
        let observed =
            observe::services(aws, &ids, &no_one, settings.state_table.as_deref(), settings.concurrency).await;
        plan::replan(plan, intent, &ids, observed, settings.store(), settings.serial_runs);
        for (id, a) in &lost {
            if let (Some(planned), Some((_, why))) = (plan.services.iter().find(|s| s.id() == id), &a.failure) {
                report.record_replanned(planned, why);
            }
        }
        let only =
            Plan { services: plan.services.iter().filter(|s| ids.contains(s.id())).cloned().collect(), ..plan.clone() };
        // A replanned service that is unchanged now has nothing to write: its tasks are next.
        for s in &only.services {
            if let Planned::Service(p) = s
                && p.decision == plan::Decision::Unchanged
            {
                done(p, &apply::Applied::default());
            }
        }
        applied = apply::services(aws, &only, writer, settings.concurrency, done).await;
        for (id, a) in &mut applied {
            if let Some((_, earlier)) = lost.iter().find(|(lost, _)| lost == id) {
                a.done.splice(0..0, earlier.done.iter().cloned());
            }
        }
    }
    applied
}

fn failed(report: &Report, id: &ServiceRef) -> bool {
    report.services.iter().any(|s| s.cluster == id.cluster && s.service == id.service && s.outcome == Outcome::Failed)
}

fn ids(waiting: &[Waiting]) -> Vec<ServiceRef> {
    waiting.iter().map(|w| w.id.clone()).collect()
}

/// What the registration of one service came to.
enum Registering {
    Unreadable(ServiceRef, crate::error::Failure),
    /// Its tasks could not be read before the deadline, and it has no target group: the note
    /// says so.
    Unconfirmed(ServiceRef, String),
    Done(ServiceRef, targets::ServiceRegistration, apply::Registered),
}

/// The second half of a start's pipeline: each service is looked at from when its writes are
/// done (`arrivals`), its tasks are waited for (until `wait_until`) and, once they are RUNNING,
/// registered in every target group of its service, while others are still arriving. One look
/// covers every waiting service (ListTasks per cluster, DescribeTasks by the hundred), every
/// poll interval.
async fn register<A: Aws>(
    ctx: &Context<'_, A>,
    mut arrivals: tokio::sync::mpsc::UnboundedReceiver<Waiting>,
    wait_until: Instant,
    up: tokio::sync::mpsc::UnboundedSender<Up>,
) -> Vec<Registering> {
    let (aws, settings) = (ctx.aws, ctx.settings);
    let mut events = Vec::new();
    // Per service, how many of its tasks the last look that read them saw RUNNING.
    let mut running: BTreeMap<ServiceRef, usize> = BTreeMap::new();
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut open = true;
    loop {
        while open {
            match arrivals.try_recv() {
                Ok(w) => waiting.push(w),
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => open = false,
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
            }
        }
        if waiting.is_empty() {
            if !open {
                return events;
            }
            match arrivals.recv().await {
                Some(w) => waiting.push(w),
                None => return events,
            }
            continue;
        }
        let observed = observe::tasks(aws, &ids(&waiting), settings.concurrency).await;
        let last_look = Instant::now() + settings.poll_interval >= wait_until;
        let look = targets::look(std::mem::take(&mut waiting), &observed, last_look);
        // A look that the deadline cut short (the pacing had no time left to try it again), of
        // a service with no target group to keep right: the writes are done, only their
        // confirmation is missing, as when the tasks are not all RUNNING by the end; the service
        // is reported unconfirmed, not failed. Any other failure fails the service (`changed`
        // says its targets are right).
        for (w, failure) in look.unreadable {
            let before = running.get(&w.id).copied();
            if targets::cut_short_is_unconfirmed(&w, &failure, before) {
                events.push(Registering::Unconfirmed(w.id, unconfirmed(&failure, before)));
            } else {
                events.push(Registering::Unreadable(w.id, failure));
            }
        }
        running.extend(look.running);
        if !look.ready.is_empty() {
            let facts = observe_facts(ctx, &look.ready).await;
            let facts = &facts;
            let up = &up;
            let registered = stream::iter(look.ready.iter().map(|(w, tasks)| async move {
                let planned = targets::registration(w, tasks, facts, true);
                let results = apply::register(aws, &planned.wanted).await;
                if targets::settled(tasks, w.desired) && results.iter().all(|(_, _, r)| r.is_ok()) {
                    let targets = targets::expected(&w.bindings, tasks, facts);
                    let _ = up.send(Up { id: w.id.clone(), at: Instant::now(), targets });
                }
                (w.id.clone(), planned, results)
            }))
            .buffer_unordered(settings.concurrency)
            .collect::<Vec<_>>()
            .await;
            events.extend(registered.into_iter().map(|(id, planned, results)| Registering::Done(id, planned, results)));
        }
        waiting = look.again;
        if !waiting.is_empty() {
            tokio::time::sleep(settings.poll_interval).await;
        }
    }
}

/// What the report says of a started service whose tasks could not be read before the deadline.
fn unconfirmed(failure: &crate::error::Failure, running_before: Option<usize>) -> String {
    match running_before {
        Some(0) => {
            format!("{}: its tasks are not confirmed RUNNING (the look before saw none RUNNING)", failure.message)
        }
        _ => format!("{}: its tasks are not confirmed RUNNING", failure.message),
    }
}

/// The target facts of the ready services: their target groups' types and targets, and the EC2
/// instances of their tasks' container instances.
async fn observe_facts<A: Aws>(
    ctx: &Context<'_, A>,
    ready: &[(Waiting, Vec<crate::state::Task>)],
) -> crate::state::TargetFacts {
    let target_groups: BTreeSet<String> =
        ready.iter().flat_map(|(w, _)| w.bindings.iter().map(|b| b.target_group_arn.clone())).collect();
    let mut container_instances: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (w, tasks) in ready {
        for arn in tasks.iter().filter_map(|t| t.container_instance_arn.clone()) {
            container_instances.entry(w.id.cluster.clone()).or_default().insert(arn);
        }
    }
    observe::targets(ctx.aws, &target_groups, &container_instances, ctx.settings.concurrency).await
}
