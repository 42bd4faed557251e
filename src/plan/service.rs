//! What a stop or start changes for one service: the calls in order, what its snapshot says, and
//! how it stays safe from another invocation acting on the same service at the same time: with
//! the state table by conditional writes (the entry is held while counts are written), with the
//! tag store by reading the service again.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::action::Action;
use crate::error::{ErrorKind, Failure};
use crate::pace::Group;
use crate::schedule::{ServiceConfig, ServiceRef};
use crate::state::{Capacity, SNAPSHOT_TAG, ServiceState, Snapshot, Store, Suspended, TargetBinding, entry_key};

/// ECS allows at most 50 user tags per resource.
const MAX_TAGS: usize = 50;

/// The counts a report shows before and after (min/max null without a scalable target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub desired: u32,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl Counts {
    pub fn new(desired: u32, capacity: Option<Capacity>) -> Counts {
        Counts { desired, min: capacity.map(|c| c.min), max: capacity.map(|c| c.max) }
    }

    pub fn of(state: &ServiceState) -> Counts {
        Counts::new(state.desired, state.capacity)
    }
}

/// One mutating call, in the order they must happen for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Before anything changes. Tag store: TagResource. State table: PutItem only if the service
    /// has no entry yet, the new entry held by this run.
    SaveSnapshot(Snapshot),
    /// State table: hold the entry at this version for this run (UpdateItem only if the version is
    /// unchanged and nobody else holds it), so no other run clears it while this one writes counts.
    HoldSnapshot(u64),
    /// RegisterScalableTarget with new min/max and suspended state.
    SetCapacity(Capacity),
    /// UpdateService desiredCount.
    SetDesired(u32),
    /// Only after the whole restore succeeded. Tag store: UntagResource. State table: DeleteItem
    /// only if this run holds the entry.
    ClearSnapshot,
    /// State table: a stop's last call, letting go of the entry it holds (it stays saved).
    ReleaseSnapshot,
    /// State table: UntagResource of the snapshot tag an earlier version wrote, once its counts
    /// are in the table.
    RemoveSnapshotTag,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::SaveSnapshot(s) => write!(f, "save snapshot {}", s.encode()),
            Step::HoldSnapshot(version) => write!(f, "hold snapshot (version {version})"),
            Step::SetCapacity(c) if c.suspended.is_none() => {
                write!(f, "set scalable target min {} max {}", c.min, c.max)
            }
            Step::SetCapacity(c) => {
                write!(f, "set scalable target min {} max {} suspended {}", c.min, c.max, c.suspended.encode())
            }
            Step::SetDesired(n) => write!(f, "set desiredCount {n}"),
            Step::ClearSnapshot => write!(f, "clear snapshot"),
            Step::ReleaseSnapshot => write!(f, "release snapshot"),
            Step::RemoveSnapshotTag => write!(f, "remove the old snapshot tag"),
        }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where the snapshot a plan works from was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Tag,
    /// The state table, at this version.
    Table(u64),
}

/// What happens to one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision", content = "steps")]
pub enum Decision {
    /// These calls, in order; never empty.
    Change(Vec<Step>),
    /// Already in the wanted state: no mutating call at all.
    Unchanged,
    /// Must not be touched, and why.
    Fail(Failure),
    /// Left alone by choice (an exclusion tag, a selected service being deleted), and why:
    /// reported `skipped`, not a failure.
    Skip(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePlan {
    #[serde(flatten)]
    pub id: ServiceRef,
    #[serde(skip)]
    pub arn: String,
    #[serde(skip)]
    pub action: Action,
    #[serde(skip)]
    pub store: Store,
    /// The state table's key of the service (with a table).
    #[serde(skip)]
    pub key: Option<String>,
    /// The snapshot as found (None when there is none, or it does not read).
    pub snapshot: Option<Snapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    pub before: Counts,
    /// What scaling the scalable target has suspended now (None without one).
    #[serde(skip)]
    pub suspended: Option<Suspended>,
    /// The counts once the steps are applied.
    pub after: Counts,
    #[serde(flatten)]
    pub decision: Decision,
    /// The calls of `decision`, with the reads against another invocation between them.
    #[serde(skip)]
    pub program: Vec<Op>,
    /// Made when the program fails after its first write (with the table, the one that holds
    /// the entry): let go of the entry (it stays saved).
    #[serde(skip)]
    pub on_failure: Vec<Step>,
    /// Every target group the service's tasks belong in (its own, then the YAML's).
    #[serde(skip)]
    pub bindings: Vec<TargetBinding>,
    /// Things the operator should know that do not fail the service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The selector entry that chose it (None: listed by name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_by: Option<String>,
    /// The owner's exclusion in force, if any.
    #[serde(skip)]
    pub excluded: Option<super::exclusion::ExclusionReport>,
}

/// Decide what `action` does to one observed service, keeping its snapshot in `store`. The
/// snapshot is the table's entry, else the tag (an earlier version's, adopted into the table by
/// the next stop or start), decoded here once. `program` holds the writes only; [`guard`] adds
/// the re-reads the tag store needs.
pub fn plan_service(action: Action, config: &ServiceConfig, state: &ServiceState, store: Store) -> ServicePlan {
    let before = Counts::of(state);
    let mut plan = ServicePlan {
        id: config.id.clone(),
        arn: state.arn.clone(),
        action,
        store,
        key: entry_key(&state.arn, &config.id),
        snapshot: None,
        source: None,
        before,
        suspended: state.capacity.map(|c| c.suspended),
        after: before,
        decision: Decision::Unchanged,
        program: Vec::new(),
        on_failure: Vec::new(),
        bindings: super::targets::bindings(config, state),
        notes: Vec::new(),
        selected_by: config.selected_by.clone(),
        excluded: None,
    };
    let tag = state.tags.get(SNAPSHOT_TAG).map(|v| Snapshot::decode(v)).transpose();
    let found = match (store, &state.entry) {
        (Store::Table, Some(entry)) => Ok(Some((entry.snapshot, Source::Table(entry.version)))),
        _ => tag.map(|s| s.map(|s| (s, Source::Tag))),
    };
    if let Ok(Some((snapshot, source))) = found {
        (plan.snapshot, plan.source) = (Some(snapshot), Some(source));
    }
    let stop = match action {
        Action::Stop => true,
        Action::Start => false,
        // Status and register change no count (they show the snapshot, if it reads); reconcile
        // is stop or start by now (the intent).
        Action::Status | Action::Register | Action::Reconcile => return plan,
    };
    if state.status != "ACTIVE" {
        // DRAINING: being deleted; INACTIVE: deleted.
        let why = format!("the service is {}, not ACTIVE", state.status);
        plan.decision = Decision::Fail(Failure::new(ErrorKind::NotFound, why));
        return plan;
    }
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            plan.decision = Decision::Fail(Failure::new(ErrorKind::Invalid, e));
            return plan;
        }
    };
    if store == Store::Table && plan.key.is_none() {
        let why = format!("cannot keep a snapshot of {}: its ARN names no account and region", state.arn);
        plan.decision = Decision::Fail(Failure::new(ErrorKind::Invalid, why));
        return plan;
    }
    // A tag an earlier version wrote, left beside a table entry: removed with the next write.
    let stale_tag = store == Store::Table && state.tags.contains_key(SNAPSHOT_TAG);
    let result = if stop {
        plan_stop(state, found, store, stale_tag)
    } else {
        Ok(plan_start(state, found, config, &mut plan.notes, store, stale_tag))
    };
    match result {
        Ok((steps, after)) => {
            plan.after = after;
            if !steps.is_empty() {
                let holds = steps.iter().any(|s| matches!(s, Step::SaveSnapshot(_) | Step::HoldSnapshot(_)));
                if store == Store::Table && holds {
                    plan.on_failure = vec![Step::ReleaseSnapshot];
                }
                plan.program = steps.iter().copied().map(Op::Write).collect();
                plan.decision = Decision::Change(steps);
            }
        }
        Err(why) => plan.decision = Decision::Fail(Failure::new(ErrorKind::Invalid, why)),
    }
    plan
}

/// The API group each write of the plan takes a token from, in order: what the deadline decision
/// weighs (`pace::fitting`).
pub fn calls(plan: &ServicePlan) -> Vec<Group> {
    let Decision::Change(steps) = &plan.decision else { return Vec::new() };
    steps
        .iter()
        .map(|step| match (plan.store, step) {
            (_, Step::SetCapacity(_)) => Group::Scaling,
            (_, Step::SetDesired(_)) => Group::EcsServiceModify,
            (_, Step::RemoveSnapshotTag) | (Store::Tag, _) => Group::EcsTagModify,
            (Store::Table, _) => Group::Table,
        })
        .collect()
}

/// A stopped scalable target: min 0, max 0, and no scaling of any kind (a scheduled action would
/// otherwise set min/max back up at its hour).
pub const ZERO: Capacity = Capacity { min: 0, max: 0, suspended: Suspended::ALL };

fn plan_stop(
    state: &ServiceState,
    found: Option<(Snapshot, Source)>,
    store: Store,
    stale_tag: bool,
) -> Result<(Vec<Step>, Counts), String> {
    let after = Counts::new(0, state.capacity.map(|_| ZERO));
    let stopped = state.desired == 0 && state.capacity.is_none_or(|c| c == ZERO);
    let mut steps = Vec::new();
    match (store, found) {
        // Nothing to save (a zero snapshot would only erase what start falls back to) and
        // nothing to change: no call at all. An earlier version's tag is adopted into the table
        // now, before anyone's Terraform removes it.
        (Store::Table, Some((s, Source::Tag))) if stopped => {
            return Ok((vec![Step::SaveSnapshot(s), Step::RemoveSnapshotTag, Step::ReleaseSnapshot], after));
        }
        _ if stopped => return Ok((steps, after)),
        (Store::Tag, Some(_)) => {}
        (Store::Tag, None) => {
            if is_short_service_arn(&state.arn) {
                return Err(format!(
                    "cannot save the snapshot: {} uses the old short ARN format, which ECS cannot tag; \
                     opt in to the long format (aws ecs put-account-setting-default --name serviceLongArnFormat --value enabled) and recreate the service",
                    state.arn
                ));
            }
            if state.tags.len() >= MAX_TAGS {
                return Err(format!(
                    "cannot save the snapshot: the service already has {} tags, ECS's limit is {MAX_TAGS}; remove one",
                    state.tags.len()
                ));
            }
            steps.push(Step::SaveSnapshot(Snapshot { desired: state.desired, capacity: state.capacity }));
        }
        (Store::Table, None) => {
            steps.push(Step::SaveSnapshot(Snapshot { desired: state.desired, capacity: state.capacity }))
        }
        (Store::Table, Some((s, Source::Tag))) => steps.push(Step::SaveSnapshot(s)),
        (Store::Table, Some((_, Source::Table(version)))) => steps.push(Step::HoldSnapshot(version)),
    }
    if stale_tag {
        steps.push(Step::RemoveSnapshotTag);
    }
    // Capacity first, so Application Auto Scaling cannot scale the service back up.
    if state.capacity.is_some_and(|c| c != ZERO) {
        steps.push(Step::SetCapacity(ZERO));
    }
    if state.desired != 0 {
        steps.push(Step::SetDesired(0));
    }
    if store == Store::Table {
        steps.push(Step::ReleaseSnapshot);
    }
    Ok((steps, after))
}

fn plan_start(
    state: &ServiceState,
    found: Option<(Snapshot, Source)>,
    config: &ServiceConfig,
    notes: &mut Vec<String>,
    store: Store,
    stale_tag: bool,
) -> (Vec<Step>, Counts) {
    let snapshot = found.map(|(s, _)| s);
    // Without a snapshot a running service is left alone: its count may be autoscaled. It is
    // stopped only when it has no tasks *and* nothing to scale up (a service autoscaled to 0
    // tasks, or running with min/max 0/0, keeps its counts).
    let stopped = state.desired == 0 && state.capacity.is_none_or(|c| c.is_zero());
    let desired = match snapshot {
        Some(s) => s.desired,
        None if stopped => config.desired_count.unwrap_or(1),
        None => state.desired,
    };
    let capacity = state.capacity.map(|current| {
        match snapshot.and_then(|s| s.capacity) {
            Some(saved) => saved,
            None if current.is_zero() && (snapshot.is_some() || stopped) => {
                let min = config.min_capacity.unwrap_or(1);
                let max = config.max_capacity.unwrap_or(min.max(desired));
                if snapshot.is_some() {
                    notes.push(format!(
                        "the snapshot has no min/max (the scalable target was added after the stop); used min {min} max {max}"
                    ));
                }
                Capacity::new(min, max)
            }
            None => current,
        }
    });
    if state.capacity.is_none() && snapshot.is_some_and(|s| s.capacity.is_some()) {
        notes.push(
            "the snapshot has min/max but the service no longer has a scalable target; restored desiredCount only"
                .into(),
        );
    }
    let mut steps = Vec::new();
    // With the table, the entry is held through the restore so that no stop relies on it
    // when it is cleared; an earlier version's tag is first adopted into the table.
    match (store, found) {
        (Store::Table, Some((_, Source::Table(version)))) => steps.push(Step::HoldSnapshot(version)),
        (Store::Table, Some((s, Source::Tag))) => steps.push(Step::SaveSnapshot(s)),
        _ => {}
    }
    if stale_tag {
        steps.push(Step::RemoveSnapshotTag);
    }
    if let Some(c) = capacity.filter(|c| Some(*c) != state.capacity) {
        steps.push(Step::SetCapacity(c));
    }
    if desired != state.desired {
        steps.push(Step::SetDesired(desired));
    }
    if snapshot.is_some() {
        steps.push(Step::ClearSnapshot);
    }
    (steps, Counts::new(desired, capacity))
}

/// Whether a failed write means another run changed the entry since it was read: then the
/// service is read and planned again (a conditional write that lost is the table's `conflict`).
pub fn replans(step: Step, failure: &Failure) -> bool {
    failure.kind == ErrorKind::Conflict && matches!(step, Step::SaveSnapshot(_) | Step::HoldSnapshot(_))
}

// ---- another invocation at the same time ----
//
// Nothing orders two invocations (the CLI's `invoke` is not held by the Lambda's reserved
// concurrency), and ECS and Application Auto Scaling have no conditional write: a plan is
// made from one read and carried out later. [`guard`] places re-reads of the service in the
// program; apply carries out each one and these functions decide what the read calls for.

/// One operation of a service's program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Write(Step),
    /// Read the service again (DescribeServices, and DescribeScalableTargets when
    /// [`Recheck::reads_capacity`]) and go on as [`Recheck::then`] decides.
    Recheck(Recheck),
}

/// Why the service is read again, and with what it was planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Before a stop saves this snapshot: another stop may have saved one since our read.
    BeforeSave(Snapshot),
    /// After a stop's writes, keeping this snapshot: a start may have undone them.
    AfterStop { snapshot: Snapshot, capacity: bool },
    /// After a restore from this snapshot cleared it: a stop may rely on it.
    AfterRestore { restored: Counts, snapshot: Snapshot, capacity: bool },
}

/// What a re-read calls for: writes to make at once because another invocation undid ours
/// (`again`), then the rest of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rechecked {
    pub again: Vec<Step>,
    pub rest: Vec<Op>,
    /// What the read found, when it changed the program.
    pub note: Option<String>,
}

impl Recheck {
    pub fn reads_capacity(self) -> bool {
        match self {
            Recheck::BeforeSave(_) => false,
            Recheck::AfterStop { capacity, .. } | Recheck::AfterRestore { capacity, .. } => capacity,
        }
    }

    /// Given the service as read just now, what to do instead of `rest`.
    pub fn then(self, now: &ServiceState, rest: &[Op]) -> Rechecked {
        match self {
            Recheck::BeforeSave(ours) => match saved_meanwhile(now) {
                None => Rechecked { again: Vec::new(), rest: rest.to_vec(), note: None },
                // Keep the other stop's snapshot: do not save ours, and guard that one.
                Some(other) => Rechecked {
                    again: Vec::new(),
                    rest: rest
                        .iter()
                        .filter(|op| **op != Op::Write(Step::SaveSnapshot(ours)))
                        .map(|op| match *op {
                            Op::Recheck(Recheck::AfterStop { capacity, .. }) => {
                                Op::Recheck(Recheck::AfterStop { snapshot: other, capacity })
                            }
                            op => op,
                        })
                        .collect(),
                    note: Some(format!("another stop saved the snapshot meanwhile: kept {}", other.encode())),
                },
            },
            Recheck::AfterStop { snapshot, .. } => {
                let again = recheck_stop(snapshot, now);
                let note = (!again.is_empty()).then(|| "another invocation undid the stop".to_string());
                Rechecked { again, rest: rest.to_vec(), note }
            }
            Recheck::AfterRestore { restored, snapshot, .. } => {
                let again = recheck_restore(restored, snapshot, now);
                let note = (!again.is_empty()).then(|| "a stop relies on the cleared snapshot".to_string());
                Rechecked { again, rest: rest.to_vec(), note }
            }
        }
    }
}

/// The program of `plan` with the re-reads against a concurrent invocation: before a stop
/// saves its snapshot, and after a stop's or a restore's last write. None with `serial_runs`
/// (runs queued by the function's reserved concurrency of 1: nothing can interleave), which
/// saves one DescribeServices before the save and one (plus DescribeScalableTargets) after the
/// writes, round trips of every service's chain.
pub fn guard(plan: &mut ServicePlan, serial_runs: bool) {
    let Decision::Change(steps) = &plan.decision else { return };
    // The state table's conditional writes need no re-read.
    if serial_runs || plan.store == Store::Table {
        return;
    }
    let capacity = plan.before.min.is_some();
    let mut program = Vec::new();
    let mut kept = plan.snapshot;
    for step in steps {
        if let Step::SaveSnapshot(s) = *step {
            program.push(Op::Recheck(Recheck::BeforeSave(s)));
            kept = Some(s);
        }
        program.push(Op::Write(*step));
    }
    match (plan.action, kept, plan.snapshot) {
        (Action::Stop, Some(snapshot), _) => program.push(Op::Recheck(Recheck::AfterStop { snapshot, capacity })),
        (Action::Start, _, Some(snapshot)) if steps.contains(&Step::ClearSnapshot) => {
            program.push(Op::Recheck(Recheck::AfterRestore { restored: plan.after, snapshot, capacity }))
        }
        _ => {}
    }
    plan.program = program;
}

/// Before a stop saves its snapshot: the snapshot tag as read again just now. One there means
/// another stop saved it after our read; keep it (ours may mix counts read before and after
/// that stop's writes) and do not save.
pub fn saved_meanwhile(now: &ServiceState) -> Option<Snapshot> {
    now.tags.get(SNAPSHOT_TAG).and_then(|v| Snapshot::decode(v).ok())
}

/// After a stop's steps, the service read again: a start that read the snapshot before our
/// writes may since have restored counts or cleared it. The steps that put the stop back, the
/// snapshot first as always; none when nothing was undone. A read that lags behind our own
/// writes only repeats them.
pub fn recheck_stop(snapshot: Snapshot, now: &ServiceState) -> Vec<Step> {
    let mut steps = Vec::new();
    if !now.tags.contains_key(SNAPSHOT_TAG) {
        steps.push(Step::SaveSnapshot(snapshot));
    }
    if now.capacity.is_some_and(|c| c != ZERO) {
        steps.push(Step::SetCapacity(ZERO));
    }
    if now.desired != 0 {
        steps.push(Step::SetDesired(0));
    }
    steps
}

/// After a restore cleared the snapshot, the service read again: if a stop's writes show
/// (min/max or desiredCount back at 0 where the restore set more), that stop read the snapshot
/// we have just cleared and relies on it, so save it again. Counts are the stop's to fix (it
/// checks them after its writes); a read that lags behind our own writes then costs only a
/// snapshot tag on a running service, which the next start clears.
pub fn recheck_restore(restored: Counts, snapshot: Snapshot, now: &ServiceState) -> Vec<Step> {
    let capacity_zeroed =
        restored.min.zip(restored.max).is_some_and(|c| c != (0, 0)) && now.capacity.is_some_and(|c| c.is_zero());
    let desired_zeroed = restored.desired > 0 && now.desired == 0;
    if (capacity_zeroed || desired_zeroed) && !now.tags.contains_key(SNAPSHOT_TAG) {
        vec![Step::SaveSnapshot(snapshot)]
    } else {
        Vec::new()
    }
}

/// `arn:aws:ecs:REGION:ACCOUNT:service/NAME` (no cluster): ECS refuses to tag these.
fn is_short_service_arn(arn: &str) -> bool {
    arn.rsplit_once(":service/").is_some_and(|(_, rest)| !rest.contains('/'))
}
