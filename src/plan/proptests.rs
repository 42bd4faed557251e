//! Property tests of the planner against a model of one service: random sequences of stops,
//! starts, reconciles (some cut short by a failing call) and changes made by hand, each plan
//! applied exactly as `apply::execute` applies it. `PROPTEST_CASES` raises the case counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::service::*;
use crate::action::Action;
use crate::schedule::{Schedule, ServiceConfig, ServiceRef};
use crate::state::{Capacity, SNAPSHOT_TAG, ServiceState, Snapshot, Store, Suspended};

/// Case counts: these defaults, or `PROPTEST_CASES` for a longer run
/// (`PROPTEST_CASES=100000 cargo test --release --lib plan::proptests`).
fn cases(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    // Failures are reported with their smallest input; none is written into the work tree.
    Config { cases, failure_persistence: None, ..Config::default() }
}

const SEQUENCE_CASES: u32 = 5000;
const ANY_STATE_CASES: u32 = 10_000;
const SNAPSHOT_CASES: u32 = 5000;

const ARN: &str = "arn:aws:ecs:ap-northeast-1:123456789012:service/c/s";

fn config(desired: Option<u32>, min: Option<u32>, max: Option<u32>) -> ServiceConfig {
    ServiceConfig {
        id: ServiceRef::new("c", "s"),
        desired_count: desired,
        min_capacity: min,
        max_capacity: max,
        target_groups: vec![],
        selected_by: None,
    }
}

/// What a running service has: its desired count and its scalable target's min/max.
fn counts_of(state: &ServiceState) -> Snapshot {
    Snapshot { desired: state.desired, capacity: state.capacity }
}

fn snapshot_of(state: &ServiceState) -> Option<Snapshot> {
    state.tags.get(SNAPSHOT_TAG).map(|v| Snapshot::decode(v).expect("only the planner writes the tag here"))
}

/// Counts a start can be expected to put back: anything but stopped. A service with no tasks
/// and nothing to scale up (no scalable target, or min 0 max 0) and no snapshot is brought up
/// from the YAML by design, so it is out of this model. A service autoscaled to 0 tasks
/// (min 0 max 1) and one running tasks at min 0 max 0 are in it (tests `regression_*` below).
fn restorable(c: Snapshot) -> bool {
    !(c.desired == 0 && c.capacity.is_none_or(|c| c.is_zero()))
}

/// One mutating call, as `apply::execute` makes it (TagResource, RegisterScalableTarget,
/// UpdateService, UntagResource), on the model.
fn apply_step(state: &mut ServiceState, step: Step) {
    match step {
        Step::SaveSnapshot(s) => {
            state.tags.insert(SNAPSHOT_TAG.to_string(), s.encode());
        }
        Step::SetCapacity(c) => state.capacity = Some(c),
        Step::SetDesired(n) => state.desired = n,
        Step::ClearSnapshot => {
            state.tags.remove(SNAPSHOT_TAG);
        }
        Step::HoldSnapshot(_) | Step::ReleaseSnapshot | Step::RemoveSnapshotTag => {
            unreachable!("the tag store makes no state table call")
        }
    }
}

/// The schedule `reconcile` is evaluated against: weekdays 08:00-22:00 JST.
fn schedule() -> Schedule {
    Schedule::parse(
        "environments:\n  staging:\n    stop: [\"cron(0 22 ? * MON-FRI *)\"]\n    start: [\"cron(0 8 ? * MON-FRI *)\"]\n    services:\n      - { cluster: c, service: s }\n",
        "proptests.yaml",
    )
    .unwrap()
}

/// Monday 2026-11-23 00:00 JST; reconciles happen in the two weeks after it.
fn week_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 15, 0, 0).unwrap()
}

/// What `reconcile` turns into at `now`: the effect the intent gives it.
fn reconcile_effect(schedule: &Schedule, now: DateTime<Utc>) -> Action {
    let env = &schedule.environments["staging"];
    crate::intent::reconcile(schedule, env, now).expect("the crons fire every weekday").0
}

#[derive(Debug, Clone)]
enum Op {
    /// An action; with `fail_at`, the call at that index (mod the number of steps) fails and
    /// the later ones are not made, as in `execute`.
    Stop {
        fail_at: Option<usize>,
    },
    Start {
        fail_at: Option<usize>,
    },
    Reconcile {
        minutes: i64,
        fail_at: Option<usize>,
    },
    /// A deploy (or someone in the console) setting desiredCount.
    Deploy(u32),
    /// Someone changing the scalable target's min/max (ignored without a scalable target).
    SetMinMax(u32, u32),
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..=6, 1 => Just(5000u32), 1 => any::<u32>()]
}

fn capacity() -> impl Strategy<Value = Capacity> {
    (0u32..=6, 0u32..=4, suspended()).prop_map(|(min, extra, suspended)| Capacity { min, max: min + extra, suspended })
}

fn suspended() -> impl Strategy<Value = Suspended> {
    prop_oneof![4 => Just(Suspended::NONE), 1 => any::<(bool, bool, bool)>().prop_map(|(dynamic_in, dynamic_out, scheduled)| Suspended { dynamic_in, dynamic_out, scheduled })]
}

fn fail_at() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![4 => Just(None), 1 => (0usize..3).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => fail_at().prop_map(|fail_at| Op::Stop { fail_at }),
        3 => fail_at().prop_map(|fail_at| Op::Start { fail_at }),
        2 => (0i64..14 * 24 * 60, fail_at()).prop_map(|(minutes, fail_at)| Op::Reconcile { minutes, fail_at }),
        2 => count().prop_map(Op::Deploy),
        1 => capacity().prop_map(|c| Op::SetMinMax(c.min, c.max)),
    ]
}

/// A running service: something to stop (a service at zero with no snapshot is left alone by
/// `stop`, and `start` brings it up from the YAML: there is nothing to restore).
fn running() -> impl Strategy<Value = ServiceState> {
    (count(), proptest::option::of(capacity()), 0usize..4)
        .prop_filter("running", |(desired, capacity, _)| {
            restorable(Snapshot { desired: *desired, capacity: *capacity })
        })
        .prop_map(|(desired, capacity, other_tags)| ServiceState {
            arn: ARN.into(),
            status: "ACTIVE".into(),
            desired,
            daemon: false,
            tags: (0..other_tags).map(|i| (format!("team{i}"), "web".to_string())).collect(),
            load_balancers: vec![],
            task_set_load_balancers: vec![],
            capacity,
            entry: None,
            placement: Default::default(),
        })
}

fn yaml_config() -> impl Strategy<Value = ServiceConfig> {
    (proptest::option::of(0u32..=6), proptest::option::of(capacity()), any::<bool>()).prop_map(|(d, c, only_min)| {
        match c {
            Some(c) if only_min => config(d, Some(c.min), None),
            Some(c) => config(d, Some(c.min), Some(c.max)),
            None => config(d, None, None),
        }
    })
}

/// Plan `action`, check the order of its steps, apply them (all, or up to a failing one) and
/// check what must hold after. Returns whether every step was applied.
fn act(
    action: Action,
    fail_at: Option<usize>,
    cfg: &ServiceConfig,
    state: &mut ServiceState,
) -> Result<bool, TestCaseError> {
    let plan = plan_service(action, cfg, state, Store::Tag);
    prop_assert_eq!(plan.before, Counts::of(state));
    let had_snapshot = snapshot_of(state);
    let steps = match &plan.decision {
        Decision::Unchanged => {
            prop_assert_eq!(plan.after, plan.before);
            return Ok(true);
        }
        Decision::Fail(failure) => return Err(TestCaseError::fail(format!("{action:?} failed: {failure}"))),
        Decision::Skip(why) => return Err(TestCaseError::fail(format!("plan_service never skips ({why})"))),
        Decision::Change(steps) => steps.clone(),
    };
    prop_assert!(!steps.is_empty());
    match action {
        Action::Stop => {
            // Never overwrite a snapshot; when one is saved, it goes first.
            for (i, step) in steps.iter().enumerate() {
                if let Step::SaveSnapshot(s) = step {
                    prop_assert!(had_snapshot.is_none(), "a stop overwrote snapshot {:?} with {:?}", had_snapshot, s);
                    prop_assert_eq!(i, 0, "the snapshot is saved before anything changes: {:?}", steps);
                    prop_assert_eq!(*s, counts_of(state));
                }
                prop_assert!(*step != Step::ClearSnapshot);
            }
        }
        Action::Start => {
            // Clear only at the end, after every count is back.
            for (i, step) in steps.iter().enumerate() {
                prop_assert!(!matches!(step, Step::SaveSnapshot(_)));
                if *step == Step::ClearSnapshot {
                    prop_assert!(had_snapshot.is_some());
                    prop_assert_eq!(i, steps.len() - 1, "the snapshot is cleared last: {:?}", steps);
                }
            }
        }
        _ => unreachable!("only stop and start change counts"),
    }
    let upto = fail_at.map_or(steps.len(), |k| k % steps.len());
    for &step in &steps[..upto] {
        match step {
            Step::SetCapacity(_) | Step::SetDesired(_) if action == Action::Stop => {
                prop_assert!(state.tags.contains_key(SNAPSHOT_TAG), "{:?} before the snapshot was saved", step);
            }
            Step::ClearSnapshot => {
                // Everything the snapshot says is back before it goes.
                let saved = snapshot_of(state).unwrap();
                prop_assert_eq!(state.desired, saved.desired);
                if let (Some(now), Some(then)) = (state.capacity, saved.capacity) {
                    prop_assert_eq!(now, then);
                }
            }
            _ => {}
        }
        apply_step(state, step);
    }
    if upto < steps.len() {
        return Ok(false);
    }
    prop_assert_eq!(Counts::of(state), plan.after, "the plan's `after` is what the steps leave");
    // With no other invocation, reading the service again after the steps finds nothing undone.
    match (action, snapshot_of(state), had_snapshot) {
        (Action::Stop, Some(s), _) => prop_assert_eq!(recheck_stop(s, state), vec![]),
        (Action::Start, None, Some(s)) => prop_assert_eq!(recheck_restore(plan.after, s, state), vec![]),
        _ => {}
    }
    // Idempotent: the same action again right away has nothing to do (but see `restorable`
    // for the starts that leave counts it excludes).
    if action == Action::Stop || restorable(counts_of(state)) {
        let again = plan_service(action, cfg, state, Store::Tag);
        prop_assert_eq!(again.decision, Decision::Unchanged, "second {:?} after {:?}", action, steps);
    }
    Ok(true)
}

proptest! {
    #![proptest_config(cases(SEQUENCE_CASES))]

    /// Whatever happens in between, a complete start puts back the counts the service had
    /// when it was last running, and the snapshot never disagrees with them.
    #[test]
    fn stop_start_sequences_restore_the_original_counts(
        initial in running(),
        cfg in yaml_config(),
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        let schedule = schedule();
        let mut state = initial.clone();
        // What a complete start must restore: the counts before the first stop, or as changed
        // by hand while the service was running (no snapshot).
        let mut original = counts_of(&initial);
        for op in ops {
            match op {
                Op::Stop { fail_at } => {
                    act(Action::Stop, fail_at, &cfg, &mut state)?;
                }
                Op::Start { fail_at } => {
                    act(Action::Start, fail_at, &cfg, &mut state)?;
                }
                Op::Reconcile { minutes, fail_at } => {
                    let effect = reconcile_effect(&schedule, week_start() + Duration::minutes(minutes));
                    act(effect, fail_at, &cfg, &mut state)?;
                }
                Op::Deploy(n) => {
                    let after = Snapshot { desired: n, capacity: state.capacity };
                    // Stopped by hand (0 tasks, nothing to scale up): out of this model (see `restorable`).
                    if state.tags.contains_key(SNAPSHOT_TAG) || restorable(after) {
                        state.desired = n;
                    }
                }
                Op::SetMinMax(min, max) => {
                    // Set by hand (RegisterScalableTarget without SuspendedState keeps it).
                    let suspended = state.capacity.map_or(Suspended::NONE, |c| c.suspended);
                    let after = Snapshot { desired: state.desired, capacity: Some(Capacity { min, max, suspended }) };
                    if state.capacity.is_some() && (state.tags.contains_key(SNAPSHOT_TAG) || restorable(after)) {
                        state.capacity = after.capacity;
                    }
                }
            }
            match snapshot_of(&state) {
                // Changed while running: that is what the next stop saves and start restores.
                None => original = counts_of(&state),
                Some(saved) => prop_assert_eq!(saved, original, "the snapshot holds the running counts"),
            }
        }
        prop_assert!(act(Action::Start, None, &cfg, &mut state)?);
        prop_assert_eq!(counts_of(&state), original);
        prop_assert!(!state.tags.contains_key(SNAPSHOT_TAG));
        prop_assert_eq!(state.tags.len(), initial.tags.len(), "other tags are left alone");
    }
}

// ---- any state, not only reachable ones ----

fn any_state() -> impl Strategy<Value = ServiceState> {
    let snapshot_tag = prop_oneof![
        3 => Just(None),
        3 => (count(), proptest::option::of(capacity()))
            .prop_map(|(desired, capacity)| Some(Snapshot { desired, capacity }.encode())),
        1 => ".{0,24}".prop_map(Some),
        1 => "(desired|min|max|x)=[0-9x-]{0,3}( (desired|min|max)=[0-9]{0,2}){0,3}".prop_map(Some),
    ];
    let arn = prop_oneof![
        6 => Just(ARN.to_string()),
        1 => Just("arn:aws:ecs:ap-northeast-1:123456789012:service/s".to_string()),
    ];
    let status = prop_oneof![8 => Just("ACTIVE"), 1 => Just("DRAINING"), 1 => Just("INACTIVE")];
    (count(), proptest::option::of(capacity()), snapshot_tag, arn, status, prop_oneof![0usize..4, 48usize..52])
        .prop_map(|(desired, capacity, snapshot, arn, status, other_tags)| {
            let mut tags: BTreeMap<String, String> = (0..other_tags).map(|i| (format!("k{i}"), "v".into())).collect();
            if let Some(s) = snapshot {
                tags.insert(SNAPSHOT_TAG.into(), s);
            }
            ServiceState {
                arn,
                status: status.into(),
                desired,
                daemon: false,
                tags,
                load_balancers: vec![],
                task_set_load_balancers: vec![],
                capacity,
                entry: None,
                placement: Default::default(),
            }
        })
}

proptest! {
    #![proptest_config(cases(ANY_STATE_CASES))]

    /// From any observed state (garbage tags, 50 tags, old ARNs, draining services included):
    /// no panic, a failure only for a documented reason, steps in order, and once applied the
    /// same action again changes nothing.
    #[test]
    fn any_state_plans_in_order_and_settles_in_one_run(
        state in any_state(),
        cfg in yaml_config(),
        stop in any::<bool>(),
    ) {
        let action = if stop { Action::Stop } else { Action::Start };
        let plan = plan_service(action, &cfg, &state, Store::Tag);
        match &plan.decision {
            Decision::Fail(failure) => {
                let why = &failure.message;
                prop_assert!(
                    why.starts_with("the service is ")
                        || why.starts_with(&format!("the {SNAPSHOT_TAG} tag holds `"))
                        || why.starts_with("cannot save the snapshot: "),
                    "{}", why
                );
                // Decided before any call: a failed service is not touched.
            }
            Decision::Skip(why) => prop_assert!(false, "plan_service never skips ({})", why),
            Decision::Unchanged | Decision::Change(_) => {
                prop_assert_eq!(state.status.as_str(), "ACTIVE");
                let mut state = state.clone();
                act(action, None, &cfg, &mut state)?;
            }
        }
        for other in [Action::Status, Action::Register, Action::Reconcile] {
            prop_assert_eq!(plan_service(other, &cfg, &state, Store::Tag).decision, Decision::Unchanged);
        }
    }
}

// ---- the snapshot tag ----

proptest! {
    #![proptest_config(cases(SNAPSHOT_CASES))]

    #[test]
    fn snapshots_round_trip_within_ecs_tag_rules(desired in any::<u32>(), capacity in proptest::option::of(
        (any::<u32>(), any::<u32>(), suspended()).prop_map(|(min, max, suspended)| Capacity { min, max, suspended }),
    )) {
        let s = Snapshot { desired, capacity };
        let value = s.encode();
        prop_assert_eq!(Snapshot::decode(&value), Ok(s));
        prop_assert!(value.len() <= 256);
        prop_assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || " +-=._:/@".contains(c)), "{}", value);
    }

    /// Whatever someone wrote into the tag: no panic, and an error says which tag and how to fix it.
    #[test]
    fn any_tag_value_decodes_or_says_how_to_fix_it(
        value in prop_oneof![".{0,40}", "((desired|min|max|mix)=[0-9+-]{0,11}[ \t]{1,2}){0,4}"],
    ) {
        match Snapshot::decode(&value) {
            Ok(s) => prop_assert_eq!(Snapshot::decode(&s.encode()), Ok(s)),
            Err(e) => {
                let prefix = format!("the {SNAPSHOT_TAG} tag holds `{value}`, which is not a snapshot (");
                prop_assert!(e.starts_with(&prefix), "{}", e);
                prop_assert!(e.ends_with("or delete it"), "{}", e);
            }
        }
    }
}

fn service(desired: u32, min: u32, max: u32) -> ServiceState {
    ServiceState {
        arn: ARN.into(),
        status: "ACTIVE".into(),
        desired,
        daemon: false,
        tags: BTreeMap::new(),
        load_balancers: vec![],
        task_set_load_balancers: vec![],
        capacity: Some(Capacity::new(min, max)),
        entry: None,
        placement: Default::default(),
    }
}

/// A queue worker autoscaled to 0 tasks (min 0, max 1) when the evening stop came: the morning
/// start restores 0 tasks and clears the snapshot; a second start (a retry, or the hourly
/// `reconcile`) must not start one. `plan_start` once took `desired == 0` without a snapshot for
/// "stopped by hand" even with the scalable target up, while `plan_stop` called it running.
#[test]
fn regression_a_service_restored_to_zero_tasks_stays_at_zero() {
    let mut state = service(0, 0, 1);
    stop_start_start(&mut state);
}

/// A service running 1 task with its scalable target at min 0 max 0: stop and start restore
/// exactly that, and the next start must keep it. `plan_start` once replaced min/max with the
/// YAML's (default 1/1), taking a zero scalable target for "stopped" whatever the desired count.
#[test]
fn regression_a_running_service_with_a_zero_scalable_target_keeps_it() {
    let mut state = service(1, 0, 0);
    stop_start_start(&mut state);
}

/// Stop, start: the counts are back; a second start must then change nothing.
fn stop_start_start(state: &mut ServiceState) {
    let before = counts_of(state);
    let cfg = config(None, None, None);
    for action in [Action::Stop, Action::Start] {
        if let Decision::Change(steps) = plan_service(action, &cfg, state, Store::Tag).decision {
            steps.into_iter().for_each(|step| apply_step(state, step));
        }
    }
    assert_eq!(counts_of(state), before);
    // Once SetDesired(1) for the first service, SetCapacity(min 1 max 1) for the second.
    assert_eq!(plan_service(Action::Start, &cfg, state, Store::Tag).decision, Decision::Unchanged);
}
