use std::collections::{BTreeMap, HashMap};

use super::service::*;
use super::targets::*;
use crate::action::Action;
use crate::error::{AwsError, ErrorKind, Failure};
use crate::schedule::{ExtraTargetGroup, ServiceConfig, ServiceRef};
use crate::state::{
    Capacity, Container, ObservedService, ObservedTasks, RegisteredTarget, SNAPSHOT_TAG, ServiceState, Snapshot, Store,
    Suspended, Target, TargetBinding, TargetFacts, TargetHealth, TargetType, Task, Unread,
};

fn config() -> ServiceConfig {
    ServiceConfig {
        id: ServiceRef::new("c", "s"),
        desired_count: None,
        min_capacity: None,
        max_capacity: None,
        target_groups: vec![],
        selected_by: None,
    }
}

fn state(desired: u32, capacity: Option<(u32, u32)>, snapshot: Option<&str>) -> ServiceState {
    let mut tags = BTreeMap::from([("team".to_string(), "web".to_string())]);
    if let Some(s) = snapshot {
        tags.insert(SNAPSHOT_TAG.to_string(), s.to_string());
    }
    ServiceState {
        arn: "arn:aws:ecs:ap-northeast-1:123456789012:service/c/s".into(),
        status: "ACTIVE".into(),
        desired,
        daemon: false,
        tags,
        load_balancers: vec![],
        task_set_load_balancers: vec![],
        // min 0 max 0 as a stop leaves it: every kind of scaling suspended too.
        capacity: capacity.map(|(min, max)| if (min, max) == (0, 0) { ZERO } else { Capacity::new(min, max) }),
        entry: None,
        placement: Default::default(),
    }
}

fn cap(min: u32, max: u32) -> Capacity {
    Capacity::new(min, max)
}

fn steps(action: Action, config: &ServiceConfig, state: &ServiceState) -> Decision {
    plan_service(action, config, state, Store::Tag).decision
}

// ---- snapshot ----

#[test]
fn snapshot_round_trips_and_stays_within_ecs_tag_rules() {
    for s in [
        Snapshot { desired: 3, capacity: Some(cap(1, 4)) },
        Snapshot { desired: 0, capacity: None },
        Snapshot { desired: 5000, capacity: Some(cap(5000, 5000)) },
    ] {
        let value = s.encode();
        assert_eq!(Snapshot::decode(&value), Ok(s));
        assert!(value.len() <= 256);
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric() || " +-=._:/@".contains(c)), "{value}");
    }
    assert_eq!(Snapshot { desired: 3, capacity: Some(cap(1, 4)) }.encode(), "desired=3 min=1 max=4");
    assert!(SNAPSHOT_TAG.len() <= 128 && !SNAPSHOT_TAG.starts_with("aws:"));
}

#[test]
fn snapshot_rejects_garbage_with_a_fix() {
    assert_eq!(
        Snapshot::decode("desired=3 min=1"),
        Err("the ecs-cost-saver:snapshot tag holds `desired=3 min=1`, which is not a snapshot (min and max go together); set it to e.g. `desired=2 min=1 max=4` or delete it".into())
    );
    for bad in ["", "3", "desired=x", "desired=1 desired=2", "desired=1 foo=2", "desired=-1"] {
        assert!(Snapshot::decode(bad).is_err(), "{bad}");
    }
}

// ---- stop ----

#[test]
fn stop_saves_snapshot_first_then_capacity_then_desired() {
    let plan = plan_service(Action::Stop, &config(), &state(3, Some((1, 4)), None), Store::Tag);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![
            Step::SaveSnapshot(Snapshot { desired: 3, capacity: Some(cap(1, 4)) }),
            Step::SetCapacity(ZERO),
            Step::SetDesired(0),
        ])
    );
    assert_eq!(plan.before, Counts { desired: 3, min: Some(1), max: Some(4) });
    assert_eq!(plan.after, Counts { desired: 0, min: Some(0), max: Some(0) });
}

#[test]
fn stop_without_scalable_target_only_sets_desired() {
    let plan = plan_service(Action::Stop, &config(), &state(2, None, None), Store::Tag);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![Step::SaveSnapshot(Snapshot { desired: 2, capacity: None }), Step::SetDesired(0)])
    );
    assert_eq!(plan.after, Counts { desired: 0, min: None, max: None });
}

#[test]
fn stop_of_a_stopped_service_makes_no_call() {
    assert_eq!(
        steps(Action::Stop, &config(), &state(0, Some((0, 0)), Some("desired=3 min=1 max=4"))),
        Decision::Unchanged
    );
    assert_eq!(steps(Action::Stop, &config(), &state(0, None, Some("desired=2"))), Decision::Unchanged);
    // Stopped by hand, no snapshot: saving zeros would erase the YAML fallback; do nothing.
    assert_eq!(steps(Action::Stop, &config(), &state(0, None, None)), Decision::Unchanged);
}

#[test]
fn second_stop_never_overwrites_the_snapshot() {
    // A first stop saved the snapshot and set capacity, then failed before desiredCount.
    assert_eq!(
        steps(Action::Stop, &config(), &state(3, Some((0, 0)), Some("desired=3 min=1 max=4"))),
        Decision::Change(vec![Step::SetDesired(0)])
    );
    // A deploy scaled a stopped service back up: stop again, keep the original snapshot.
    assert_eq!(
        steps(Action::Stop, &config(), &state(2, None, Some("desired=5"))),
        Decision::Change(vec![Step::SetDesired(0)])
    );
}

#[test]
fn stop_refuses_what_cannot_be_snapshotted() {
    let mut short = state(2, None, None);
    short.arn = "arn:aws:ecs:ap-northeast-1:123456789012:service/s".into();
    let Decision::Fail(Failure { message: why, kind: ErrorKind::Invalid, .. }) = steps(Action::Stop, &config(), &short)
    else {
        panic!()
    };
    assert!(
        why.starts_with(
            "cannot save the snapshot: arn:aws:ecs:ap-northeast-1:123456789012:service/s uses the old short ARN format"
        ),
        "{why}"
    );

    let mut full = state(2, None, None);
    full.tags = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(
        steps(Action::Stop, &config(), &full),
        Decision::Fail(Failure::new(
            ErrorKind::Invalid,
            "cannot save the snapshot: the service already has 50 tags, ECS's limit is 50; remove one"
        ))
    );

    let garbage = state(2, None, Some("two"));
    assert!(
        matches!(steps(Action::Stop, &config(), &garbage), Decision::Fail(w) if w.message.contains("not a snapshot") && w.kind == ErrorKind::Invalid)
    );

    let mut draining = state(2, None, None);
    draining.status = "DRAINING".into();
    assert_eq!(
        steps(Action::Stop, &config(), &draining),
        Decision::Fail(Failure::new(ErrorKind::NotFound, "the service is DRAINING, not ACTIVE"))
    );
}

// ---- start ----

#[test]
fn start_restores_the_snapshot_exactly_then_clears_it() {
    let plan =
        plan_service(Action::Start, &config(), &state(0, Some((0, 0)), Some("desired=3 min=1 max=4")), Store::Tag);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![Step::SetCapacity(cap(1, 4)), Step::SetDesired(3), Step::ClearSnapshot])
    );
    assert_eq!(plan.after, Counts { desired: 3, min: Some(1), max: Some(4) });
}

#[test]
fn snapshot_wins_over_yaml() {
    let mut c = config();
    c.desired_count = Some(9);
    c.min_capacity = Some(9);
    c.max_capacity = Some(9);
    assert_eq!(
        steps(Action::Start, &c, &state(0, Some((0, 0)), Some("desired=2 min=1 max=3"))),
        Decision::Change(vec![Step::SetCapacity(cap(1, 3)), Step::SetDesired(2), Step::ClearSnapshot])
    );
}

#[test]
fn start_without_snapshot_falls_back_to_yaml_then_one() {
    let mut c = config();
    c.desired_count = Some(2);
    c.min_capacity = Some(1);
    c.max_capacity = Some(4);
    assert_eq!(
        steps(Action::Start, &c, &state(0, Some((0, 0)), None)),
        Decision::Change(vec![Step::SetCapacity(cap(1, 4)), Step::SetDesired(2)])
    );
    assert_eq!(
        steps(Action::Start, &config(), &state(0, Some((0, 0)), None)),
        Decision::Change(vec![Step::SetCapacity(cap(1, 1)), Step::SetDesired(1)])
    );
    assert_eq!(steps(Action::Start, &config(), &state(0, None, None)), Decision::Change(vec![Step::SetDesired(1)]));
}

#[test]
fn start_leaves_a_running_service_without_snapshot_alone() {
    let mut c = config();
    c.desired_count = Some(2);
    assert_eq!(steps(Action::Start, &c, &state(5, Some((1, 8)), None)), Decision::Unchanged);
    assert_eq!(steps(Action::Start, &c, &state(1, None, None)), Decision::Unchanged);
}

#[test]
fn partial_snapshots() {
    // Snapshot without min/max, scalable target added while stopped: YAML fills min/max.
    let mut c = config();
    c.min_capacity = Some(2);
    c.max_capacity = Some(6);
    let plan = plan_service(Action::Start, &c, &state(0, Some((0, 0)), Some("desired=3")), Store::Tag);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![Step::SetCapacity(cap(2, 6)), Step::SetDesired(3), Step::ClearSnapshot])
    );
    assert_eq!(plan.notes.len(), 1);
    // Snapshot with min/max, scalable target deleted while stopped: desired only, noted.
    let plan = plan_service(Action::Start, &config(), &state(0, None, Some("desired=3 min=1 max=4")), Store::Tag);
    assert_eq!(plan.decision, Decision::Change(vec![Step::SetDesired(3), Step::ClearSnapshot]));
    assert!(plan.notes[0].contains("no longer has a scalable target"));
    // The restore half-done (capacity restored, desired not yet): finish and clear.
    assert_eq!(
        steps(Action::Start, &config(), &state(0, Some((1, 4)), Some("desired=3 min=1 max=4"))),
        Decision::Change(vec![Step::SetDesired(3), Step::ClearSnapshot])
    );
}

#[test]
fn start_after_a_restore_that_only_failed_to_clear_just_clears() {
    assert_eq!(
        steps(Action::Start, &config(), &state(3, Some((1, 4)), Some("desired=3 min=1 max=4"))),
        Decision::Change(vec![Step::ClearSnapshot])
    );
}

#[test]
fn status_and_register_never_change_counts() {
    for action in [Action::Status, Action::Register] {
        let plan = plan_service(action, &config(), &state(0, Some((0, 0)), Some("desired=3 min=1 max=4")), Store::Tag);
        assert_eq!(plan.decision, Decision::Unchanged);
        assert_eq!(plan.before, plan.after);
    }
}

// ---- another invocation at the same time ----

#[test]
fn a_snapshot_saved_meanwhile_is_kept() {
    assert_eq!(
        saved_meanwhile(&state(3, Some((0, 0)), Some("desired=3 min=1 max=4"))),
        Some(Snapshot { desired: 3, capacity: Some(cap(1, 4)) })
    );
    assert_eq!(saved_meanwhile(&state(3, Some((1, 4)), None)), None);
}

#[test]
fn a_stop_puts_back_what_a_start_undid() {
    let s = Snapshot { desired: 3, capacity: Some(cap(1, 4)) };
    // Nothing undone: no call.
    assert_eq!(recheck_stop(s, &state(0, Some((0, 0)), Some("desired=3 min=1 max=4"))), vec![]);
    // A start cleared the snapshot and restored min/max after our writes: snapshot first.
    assert_eq!(recheck_stop(s, &state(0, Some((1, 4)), None)), vec![Step::SaveSnapshot(s), Step::SetCapacity(ZERO)]);
    assert_eq!(recheck_stop(s, &state(3, None, Some("desired=3 min=1 max=4"))), vec![Step::SetDesired(0)]);
}

#[test]
fn a_restore_saves_the_snapshot_again_only_when_a_stop_shows() {
    let s = Snapshot { desired: 3, capacity: Some(cap(1, 4)) };
    let restored = Counts { desired: 3, min: Some(1), max: Some(4) };
    assert_eq!(recheck_restore(restored, s, &state(3, Some((1, 4)), None)), vec![]);
    // Autoscaling moved the counts, no stop: nothing.
    assert_eq!(recheck_restore(restored, s, &state(5, Some((1, 4)), None)), vec![]);
    // A stop zeroed min/max or desiredCount after reading the snapshot we cleared.
    assert_eq!(recheck_restore(restored, s, &state(3, Some((0, 0)), None)), vec![Step::SaveSnapshot(s)]);
    assert_eq!(recheck_restore(restored, s, &state(0, Some((1, 4)), None)), vec![Step::SaveSnapshot(s)]);
    // ... and it is already back.
    assert_eq!(recheck_restore(restored, s, &state(0, Some((0, 0)), Some("desired=3 min=1 max=4"))), vec![]);
    // A restore of 0 tasks (autoscaled to 0) is not a stop's doing.
    let zero_tasks = Counts { desired: 0, min: Some(0), max: Some(1) };
    let s0 = Snapshot { desired: 0, capacity: Some(cap(0, 1)) };
    assert_eq!(recheck_restore(zero_tasks, s0, &state(0, Some((0, 1)), None)), vec![]);
}

// ---- registration ----

fn messages(problems: &[Failure]) -> Vec<&str> {
    problems.iter().map(|p| p.message.as_str()).collect()
}

fn task(id: &str, status: &str, ip: Option<&str>, instance: Option<&str>, bindings: Vec<(u16, u16)>) -> Task {
    Task {
        arn: format!("arn:aws:ecs:ap-northeast-1:123456789012:task/c/{id}"),
        group: Some("service:s".into()),
        last_status: status.into(),
        private_ip: ip.map(str::to_string),
        container_instance_arn: instance.map(str::to_string),
        containers: vec![Container { name: "app".into(), bindings }],
    }
}

fn binding(tg: &str, port: u16) -> TargetBinding {
    TargetBinding { target_group_arn: tg.into(), container: "app".into(), container_port: port }
}

#[test]
fn ip_targets_are_task_ip_and_container_port() {
    let facts = TargetFacts {
        types: HashMap::from([("tg-ip".into(), Ok(TargetType::Ip))]),
        registered: HashMap::from([("tg-ip".into(), Ok(vec![registered("10.0.0.1", TargetHealth::Healthy)]))]),
        ..TargetFacts::default()
    };
    let tasks = [
        task("t1", "RUNNING", Some("10.0.0.1"), None, vec![]),
        task("t2", "RUNNING", Some("10.0.0.2"), None, vec![]),
        task("t3", "PENDING", Some("10.0.0.3"), None, vec![]),
    ];
    let (wanted, problems) = plan_registrations(&[binding("tg-ip", 8080)], &tasks, &facts);
    assert!(problems.is_empty());
    assert_eq!(
        wanted.iter().map(|r| (r.target.id.as_str(), r.target.port)).collect::<Vec<_>>(),
        vec![("10.0.0.2", 8080)],
        "registered and not-running tasks are left out"
    );
}

fn registered(id: &str, health: TargetHealth) -> RegisteredTarget {
    RegisteredTarget { target: Target { id: id.into(), port: 8080 }, health }
}

#[test]
fn a_target_on_its_way_out_is_registered_again() {
    for (health, again) in [
        (TargetHealth::Draining, true),
        (TargetHealth::Unused, true),
        (TargetHealth::Initial, false),
        (TargetHealth::Healthy, false),
        (TargetHealth::Unhealthy, false),
        (TargetHealth::Unavailable, false),
    ] {
        let facts = TargetFacts {
            types: HashMap::from([("tg-ip".into(), Ok(TargetType::Ip))]),
            registered: HashMap::from([("tg-ip".into(), Ok(vec![registered("10.0.0.4", health)]))]),
            ..TargetFacts::default()
        };
        let tasks = [task("t4", "RUNNING", Some("10.0.0.4"), None, vec![])];
        let (wanted, _) = plan_registrations(&[binding("tg-ip", 8080)], &tasks, &facts);
        assert_eq!(wanted.len() == 1, again, "{health:?}");
    }
}

#[test]
fn instance_targets_are_ec2_id_and_host_port() {
    let facts = TargetFacts {
        types: HashMap::from([("tg-inst".into(), Ok(TargetType::Instance))]),
        instances: HashMap::from([("ci-1".into(), "i-0abc".into())]),
        ..TargetFacts::default()
    };
    let tasks = [
        task("t1", "RUNNING", None, Some("ci-1"), vec![(8080, 32768)]),
        task("t2", "RUNNING", None, Some("ci-2"), vec![(8080, 32769)]),
        task("t3", "RUNNING", None, Some("ci-1"), vec![(9090, 32770)]),
    ];
    let (wanted, problems) = plan_registrations(&[binding("tg-inst", 8080)], &tasks, &facts);
    assert_eq!(
        wanted.iter().map(|r| (r.target.id.as_str(), r.target.port)).collect::<Vec<_>>(),
        vec![("i-0abc", 32768)]
    );
    assert_eq!(
        messages(&problems),
        vec![
            "task t2 runs on no known EC2 instance for instance target group tg-inst",
            "container `app` of task t3 has no host port for container port 8080 (tg-inst)",
        ]
    );
}

#[test]
fn missing_target_groups_and_addresses_are_problems() {
    let facts = TargetFacts { types: HashMap::from([("tg-ip".into(), Ok(TargetType::Ip))]), ..TargetFacts::default() };
    let tasks = [task("t1", "RUNNING", None, None, vec![])];
    let (wanted, problems) = plan_registrations(&[binding("tg-gone", 80), binding("tg-ip", 80)], &tasks, &facts);
    assert!(wanted.is_empty());
    assert_eq!(
        messages(&problems),
        vec![
            "target group tg-gone was not found",
            "task t1 has no private IPv4 address for ip target group tg-ip (is it in awsvpc mode?)",
        ]
    );
}

#[test]
fn bindings_add_yaml_extras_once() {
    let mut c = config();
    c.target_groups = vec![
        ExtraTargetGroup { arn: "tg-extra".into(), container: "app".into(), port: 8081 },
        ExtraTargetGroup { arn: "tg-svc".into(), container: "app".into(), port: 8080 },
    ];
    let mut s = state(1, None, None);
    s.load_balancers = vec![binding("tg-svc", 8080)];
    assert_eq!(bindings(&c, &s), vec![binding("tg-svc", 8080), binding("tg-extra", 8081)]);
}

#[test]
fn settled_needs_enough_running_and_none_starting() {
    let running = task("a", "RUNNING", None, None, vec![]);
    let pending = task("b", "PENDING", None, None, vec![]);
    assert!(settled(&[running.clone(), running.clone()], 2));
    assert!(!settled(std::slice::from_ref(&running), 2));
    assert!(!settled(&[running.clone(), running, pending], 2));
    assert!(settled(&[], 0));
}

// ---- what was observed ----

fn id() -> ServiceRef {
    ServiceRef::new("c", "s")
}

fn aws(operation: &'static str, kind: ErrorKind) -> AwsError {
    AwsError::in_response(operation, kind, "it failed".into())
}

#[test]
fn a_service_that_cannot_be_read_fails_with_the_read_s_kind() {
    let observed = |service, capacity| ObservedService { service, capacity, entry: None };
    let missing = super::observed_state(&id(), observed(Err(Unread::Missing("MISSING".into())), Ok(None)));
    assert_eq!(
        missing.unwrap_err(),
        Failure::new(ErrorKind::NotFound, "service s not found in cluster c (DescribeServices: MISSING)")
    );
    let cluster = aws("DescribeServices", ErrorKind::NotFound);
    let gone = super::observed_state(&id(), observed(Err(Unread::Failed(cluster.clone())), Ok(None))).unwrap_err();
    assert_eq!(gone.message, "cluster c not found in this account and region (DescribeServices: it failed)");
    assert_eq!((gone.kind, gone.cause), (ErrorKind::NotFound, Some(cluster)));
    let denied = aws("DescribeScalableTargets", ErrorKind::AccessDenied);
    let capacity = super::observed_state(&id(), observed(Ok(state(2, None, None)), Err(denied))).unwrap_err();
    assert_eq!(
        (capacity.kind, capacity.message.as_str()),
        (ErrorKind::AccessDenied, "DescribeScalableTargets: it failed")
    );
    let fine = super::observed_state(&id(), observed(Ok(state(2, None, None)), Ok(Some(cap(1, 4))))).unwrap();
    assert_eq!(fine.capacity, Some(cap(1, 4)));
}

#[test]
fn tasks_belong_to_the_service_their_group_names() {
    let mut other = task("t2", "RUNNING", None, None, vec![]);
    other.group = Some("service:other".into());
    let mut lone = task("t3", "RUNNING", None, None, vec![]);
    lone.group = None;
    let mine = task("t1", "RUNNING", None, None, vec![]);
    let observed = ObservedTasks {
        list_failures: HashMap::new(),
        clusters: HashMap::from([("c".into(), Ok(vec![mine.clone(), other, lone]))]),
    };
    assert_eq!(tasks_of(&id(), &observed), Ok(vec![mine]));
    let unlisted =
        ObservedTasks { list_failures: HashMap::from([(id(), aws("ListTasks", ErrorKind::Throttled))]), ..observed };
    let failure = tasks_of(&id(), &unlisted).unwrap_err();
    assert_eq!(
        (failure.kind, failure.message.as_str()),
        (ErrorKind::Throttled, "could not read tasks: ListTasks: it failed")
    );
}

#[test]
fn target_groups_that_cannot_be_read_are_problems_of_their_kind_and_left_out() {
    let facts = TargetFacts {
        types: HashMap::from([
            ("tg-a".into(), Err(aws("DescribeTargetGroups", ErrorKind::AccessDenied))),
            ("tg-b".into(), Ok(TargetType::Ip)),
        ]),
        registered: HashMap::from([("tg-b".into(), Err(aws("DescribeTargetHealth", ErrorKind::Throttled)))]),
        ..TargetFacts::default()
    };
    let tasks = [task("t1", "RUNNING", Some("10.0.0.1"), None, vec![])];
    let (wanted, problems) = plan_registrations(&[binding("tg-a", 80), binding("tg-b", 80)], &tasks, &facts);
    assert!(wanted.is_empty());
    let kinds: Vec<(ErrorKind, &str)> = problems.iter().map(|p| (p.kind, p.message.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (ErrorKind::AccessDenied, "target group tg-a: DescribeTargetGroups: it failed"),
            (ErrorKind::Throttled, "target group tg-b: DescribeTargetHealth: it failed"),
        ]
    );
}

#[test]
fn an_instance_that_cannot_be_read_says_why() {
    let facts = TargetFacts {
        types: HashMap::from([("tg-inst".into(), Ok(TargetType::Instance))]),
        instance_failures: HashMap::from([("ci-1".into(), aws("DescribeContainerInstances", ErrorKind::Transient))]),
        ..TargetFacts::default()
    };
    let tasks = [task("t1", "RUNNING", None, Some("ci-1"), vec![(8080, 32768)])];
    let (_, problems) = plan_registrations(&[binding("tg-inst", 8080)], &tasks, &facts);
    assert_eq!(problems[0].kind, ErrorKind::Transient);
    assert_eq!(
        problems[0].message,
        "task t1 runs on no known EC2 instance for instance target group tg-inst: DescribeContainerInstances: it failed"
    );
}

// ---- reads against a concurrent invocation ----

#[test]
fn the_re_reads_are_placed_before_the_save_and_after_the_last_write_unless_runs_are_serial() {
    let s = Snapshot { desired: 3, capacity: Some(cap(1, 4)) };
    let mut stop = plan_service(Action::Stop, &config(), &state(3, Some((1, 4)), None), Store::Tag);
    let writes = stop.program.clone();
    guard(&mut stop, true);
    assert_eq!(stop.program, writes, "serial runs: the writes only");
    guard(&mut stop, false);
    assert_eq!(
        stop.program,
        vec![
            Op::Recheck(Recheck::BeforeSave(s)),
            Op::Write(Step::SaveSnapshot(s)),
            Op::Write(Step::SetCapacity(ZERO)),
            Op::Write(Step::SetDesired(0)),
            Op::Recheck(Recheck::AfterStop { snapshot: s, capacity: true }),
        ]
    );
    let mut start = plan_service(Action::Start, &config(), &state(0, None, Some("desired=2")), Store::Tag);
    guard(&mut start, false);
    let restored = Counts { desired: 2, min: None, max: None };
    assert_eq!(
        start.program.last(),
        Some(&Op::Recheck(Recheck::AfterRestore {
            restored,
            snapshot: Snapshot { desired: 2, capacity: None },
            capacity: false
        }))
    );
    let mut unchanged = plan_service(Action::Stop, &config(), &state(0, None, None), Store::Tag);
    guard(&mut unchanged, false);
    assert!(unchanged.program.is_empty(), "no write, no read");
}

#[test]
fn another_stop_s_snapshot_is_kept_and_guarded_instead_of_ours() {
    let ours = Snapshot { desired: 3, capacity: None };
    let theirs = Snapshot { desired: 5, capacity: None };
    let rest = [
        Op::Write(Step::SaveSnapshot(ours)),
        Op::Write(Step::SetDesired(0)),
        Op::Recheck(Recheck::AfterStop { snapshot: ours, capacity: false }),
    ];
    let nothing_meanwhile = Recheck::BeforeSave(ours).then(&state(3, None, None), &rest);
    assert_eq!((nothing_meanwhile.rest.as_slice(), nothing_meanwhile.note), (rest.as_slice(), None));
    let meanwhile = Recheck::BeforeSave(ours).then(&state(0, None, Some("desired=5")), &rest);
    assert_eq!(
        meanwhile.rest,
        vec![Op::Write(Step::SetDesired(0)), Op::Recheck(Recheck::AfterStop { snapshot: theirs, capacity: false })]
    );
    assert!(meanwhile.again.is_empty());
    let undone = Recheck::AfterStop { snapshot: theirs, capacity: false }.then(&state(5, None, None), &[]);
    assert_eq!(undone.again, vec![Step::SaveSnapshot(theirs), Step::SetDesired(0)]);
}

// ---- the environment ----

#[test]
fn a_pending_override_wins_only_where_the_intent_defers_to_it() {
    let schedule = crate::schedule::Schedule::parse(
        "environments:\n  e:\n    stop: [\"cron(0 22 * * ? *)\"]\n    services: [{cluster: c, service: s}]\n",
        "e.yaml",
    )
    .unwrap();
    let now = chrono::Utc::now();
    let payload = |v| match crate::event::Input::parse(v).unwrap() {
        crate::event::Input::Payload(p) => p,
        _ => unreachable!("a payload"),
    };
    let settings = crate::settings::Settings::default();
    let reconcile = crate::intent::environment_intent(
        &schedule,
        payload(serde_json::json!({"action": "reconcile", "environment": "e"})),
        now,
        &settings,
    )
    .unwrap();
    let tz = chrono_tz::Asia::Tokyo;
    assert_eq!(
        super::pending_override(&reconcile, Some("at(2026-12-01T08:00:00)"), tz).as_deref(),
        Some("an override is pending: schedule ecs-cost-saver-override-e runs at(2026-12-01T08:00:00) Asia/Tokyo")
    );
    assert_eq!(super::pending_override(&reconcile, None, tz), None);
    let manual = crate::intent::environment_intent(
        &schedule,
        payload(serde_json::json!({"action": "stop", "environment": "e"})),
        now,
        &settings,
    )
    .unwrap();
    assert_eq!(super::pending_override(&manual, Some("at(2026-12-01T08:00:00)"), tz), None, "a manual run always runs");

    let observed = HashMap::from([(
        id(),
        ObservedService { service: Err(Unread::Missing("MISSING".into())), capacity: Ok(None), entry: None },
    )]);
    let plan = super::environment(&manual, Action::Stop, observed, Store::Tag, false);
    assert!(!plan.registers);
    assert!(
        matches!(&plan.services[..], [super::Planned::Unread { failure, .. }] if failure.kind == ErrorKind::NotFound)
    );
    let start = super::environment(&manual, Action::Start, HashMap::new(), Store::Tag, false);
    assert!(start.registers, "a start registers its tasks afterwards");
}

#[test]
fn status_and_register_show_the_snapshot_and_change_nothing() {
    for action in [Action::Status, Action::Register] {
        let plan = plan_service(action, &config(), &state(0, Some((0, 0)), Some("desired=3 min=1 max=4")), Store::Tag);
        assert_eq!(plan.snapshot, Some(Snapshot { desired: 3, capacity: Some(cap(1, 4)) }), "{action:?}");
        assert_eq!((plan.decision, plan.program.len()), (Decision::Unchanged, 0), "{action:?}");
        let garbage = plan_service(action, &config(), &state(0, None, Some("two")), Store::Tag);
        assert_eq!(
            (garbage.snapshot, garbage.decision),
            (None, Decision::Unchanged),
            "{action:?}: not a stop or start"
        );
    }
}

#[test]
fn a_zero_target_an_older_version_stopped_gets_its_scaling_suspended() {
    let mut older = state(0, None, Some("desired=3 min=1 max=4"));
    older.capacity = Some(cap(0, 0));
    assert_eq!(steps(Action::Stop, &config(), &older), Decision::Change(vec![Step::SetCapacity(ZERO)]));
    // ... and a start restores what the snapshot says: no scaling suspended.
    let plan = plan_service(Action::Start, &config(), &older, Store::Tag);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![Step::SetCapacity(cap(1, 4)), Step::SetDesired(3), Step::ClearSnapshot])
    );
}

#[test]
fn a_start_restores_the_suspended_state_the_snapshot_recorded() {
    let scheduled_off = Suspended { scheduled: true, ..Suspended::NONE };
    let snapshot = Snapshot { desired: 2, capacity: Some(Capacity { min: 1, max: 4, suspended: scheduled_off }) };
    assert_eq!(snapshot.encode(), "desired=2 min=1 max=4 suspended=scheduled");
    let plan = plan_service(Action::Start, &config(), &state(0, Some((0, 0)), Some(&snapshot.encode())), Store::Tag);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![
            Step::SetCapacity(Capacity { min: 1, max: 4, suspended: scheduled_off }),
            Step::SetDesired(2),
            Step::ClearSnapshot
        ])
    );
    assert_eq!(Step::SetCapacity(ZERO).to_string(), "set scalable target min 0 max 0 suspended in+out+scheduled");
}

// ---- the state table ----

fn entry(snapshot: &str, version: u64) -> crate::state::Entry {
    crate::state::Entry {
        snapshot: Snapshot::decode(snapshot).unwrap(),
        version,
        saved_by: "stop staging (1-0-0)".into(),
        saved_at: "2026-11-27T13:00:00Z".into(),
        held_by: None,
        held_until: 0,
    }
}

fn table_state(desired: u32, capacity: Option<(u32, u32)>, saved: Option<(&str, u64)>) -> ServiceState {
    let mut s = state(desired, capacity, None);
    s.entry = saved.map(|(snapshot, version)| entry(snapshot, version));
    s
}

#[test]
fn with_the_table_a_stop_saves_there_holding_it_and_lets_go_last() {
    let plan = plan_service(Action::Stop, &config(), &table_state(3, Some((1, 4)), None), Store::Table);
    let s = Snapshot::decode("desired=3 min=1 max=4").unwrap();
    assert_eq!(
        plan.decision,
        Decision::Change(vec![
            Step::SaveSnapshot(s),
            Step::SetCapacity(ZERO),
            Step::SetDesired(0),
            Step::ReleaseSnapshot
        ])
    );
    assert_eq!(plan.key.as_deref(), Some("123456789012/ap-northeast-1/c/s"));
    assert_eq!(plan.on_failure, [Step::ReleaseSnapshot], "a failed stop lets go of the entry (it stays saved)");
    let mut guarded = plan.clone();
    guard(&mut guarded, false);
    assert_eq!(guarded.program, plan.program, "the table needs no re-read");
}

#[test]
fn with_the_table_a_woken_service_is_stopped_again_holding_the_saved_entry() {
    // Someone's deploy put the counts back; the entry from the first stop is at version 2.
    let woken = table_state(3, Some((1, 4)), Some(("desired=3 min=1 max=4", 2)));
    let plan = plan_service(Action::Stop, &config(), &woken, Store::Table);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![
            Step::HoldSnapshot(2),
            Step::SetCapacity(ZERO),
            Step::SetDesired(0),
            Step::ReleaseSnapshot
        ])
    );
    assert_eq!(plan.source, Some(crate::plan::Source::Table(2)));
    // Stopped and saved: nothing at all.
    let stopped = table_state(0, Some((0, 0)), Some(("desired=3 min=1 max=4", 3)));
    assert_eq!(plan_service(Action::Stop, &config(), &stopped, Store::Table).decision, Decision::Unchanged);
}

#[test]
fn with_the_table_a_start_holds_restores_and_clears_last() {
    let stopped = table_state(0, Some((0, 0)), Some(("desired=3 min=1 max=4", 3)));
    let plan = plan_service(Action::Start, &config(), &stopped, Store::Table);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![
            Step::HoldSnapshot(3),
            Step::SetCapacity(cap(1, 4)),
            Step::SetDesired(3),
            Step::ClearSnapshot
        ])
    );
    // Already restored by hand: the entry is still held and cleared, and nothing else written.
    let restored = table_state(3, Some((1, 4)), Some(("desired=3 min=1 max=4", 3)));
    assert_eq!(
        plan_service(Action::Start, &config(), &restored, Store::Table).decision,
        Decision::Change(vec![Step::HoldSnapshot(3), Step::ClearSnapshot])
    );
    // No entry and running: nothing to do.
    let running = table_state(3, Some((1, 4)), None);
    assert_eq!(plan_service(Action::Start, &config(), &running, Store::Table).decision, Decision::Unchanged);
}

#[test]
fn with_the_table_an_earlier_version_s_tag_is_adopted_and_the_table_wins() {
    // Stopped by a version without the table: the tag is saved in the table and removed, even
    // with nothing else to do, before someone's Terraform removes it.
    let tagged = state(0, Some((0, 0)), Some("desired=3 min=1 max=4"));
    let s = Snapshot::decode("desired=3 min=1 max=4").unwrap();
    assert_eq!(
        plan_service(Action::Stop, &config(), &tagged, Store::Table).decision,
        Decision::Change(vec![Step::SaveSnapshot(s), Step::RemoveSnapshotTag, Step::ReleaseSnapshot])
    );
    assert_eq!(
        plan_service(Action::Start, &config(), &tagged, Store::Table).decision,
        Decision::Change(vec![
            Step::SaveSnapshot(s),
            Step::RemoveSnapshotTag,
            Step::SetCapacity(cap(1, 4)),
            Step::SetDesired(3),
            Step::ClearSnapshot
        ])
    );
    // Both there and different: the table's counts are restored, the tag removed on the way.
    let mut both = table_state(0, Some((0, 0)), Some(("desired=2 min=1 max=2", 5)));
    both.tags.insert(SNAPSHOT_TAG.into(), "desired=9".into());
    let plan = plan_service(Action::Start, &config(), &both, Store::Table);
    assert_eq!(
        plan.decision,
        Decision::Change(vec![
            Step::HoldSnapshot(5),
            Step::RemoveSnapshotTag,
            Step::SetCapacity(cap(1, 2)),
            Step::SetDesired(2),
            Step::ClearSnapshot
        ])
    );
}

#[test]
fn with_the_table_the_tag_limits_do_not_apply_but_a_garbage_tag_without_an_entry_fails() {
    let mut short = table_state(2, None, None);
    short.arn = "arn:aws:ecs:ap-northeast-1:123456789012:service/s".into();
    assert!(matches!(plan_service(Action::Stop, &config(), &short, Store::Table).decision, Decision::Change(_)));
    let mut full = table_state(2, None, None);
    full.tags = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    assert!(matches!(plan_service(Action::Stop, &config(), &full, Store::Table).decision, Decision::Change(_)));
    let garbage = state(2, None, Some("two"));
    assert!(matches!(
        plan_service(Action::Stop, &config(), &garbage, Store::Table).decision,
        Decision::Fail(f) if f.kind == ErrorKind::Invalid
    ));
    let mut entry_and_garbage = table_state(2, None, Some(("desired=2", 1)));
    entry_and_garbage.tags.insert(SNAPSHOT_TAG.into(), "two".into());
    assert!(
        matches!(plan_service(Action::Stop, &config(), &entry_and_garbage, Store::Table).decision, Decision::Change(_)),
        "the table wins over a tag that does not read"
    );
}

#[test]
fn only_a_lost_save_or_hold_is_planned_again() {
    let conflict = Failure::new(ErrorKind::Conflict, "PutItem: ConditionalCheckFailedException");
    let throttled = Failure::new(ErrorKind::Throttled, "PutItem: ThrottlingException");
    let s = Snapshot::decode("desired=1").unwrap();
    assert!(replans(Step::SaveSnapshot(s), &conflict));
    assert!(replans(Step::HoldSnapshot(1), &conflict));
    assert!(!replans(Step::SaveSnapshot(s), &throttled), "retried by the SDK, then reported");
    assert!(!replans(Step::ClearSnapshot, &conflict), "a lost hold is reported, not planned again");
    assert!(!replans(Step::SetDesired(0), &conflict));
}

/// An intent of `action` on the one-service environment `e`, at `now`.
fn intent_at<'a>(
    schedule: &'a crate::schedule::Schedule,
    action: &str,
    now: &str,
) -> crate::intent::EnvironmentIntent<'a> {
    let payload = match crate::event::Input::parse(serde_json::json!({"action": action, "environment": "e"})).unwrap() {
        crate::event::Input::Payload(p) => p,
        _ => unreachable!("a payload"),
    };
    let now = chrono::DateTime::parse_from_rfc3339(now).unwrap().with_timezone(&chrono::Utc);
    crate::intent::environment_intent(schedule, payload, now, &crate::settings::Settings::default()).unwrap()
}

fn with_tags(mut s: ServiceState, tags: &[(&str, &str)]) -> ServiceState {
    s.tags.extend(tags.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    s
}

fn planned_one(intent: &crate::intent::EnvironmentIntent<'_>, effect: Action, state: ServiceState) -> ServicePlan {
    let observed = HashMap::from([(id(), ObservedService { service: Ok(state), capacity: Ok(None), entry: None })]);
    match super::environment(intent, effect, observed, Store::Tag, true).services.remove(0) {
        super::Planned::Service(p) => *p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_excluded_service_is_left_alone_by_stop_and_reconcile_and_restored_by_start_only_from_a_snapshot() {
    let schedule = crate::schedule::Schedule::parse(
        "environments:\n  e:\n    stop: [\"cron(0 22 * * ? *)\"]\n    start: [\"cron(0 8 * * ? *)\"]\n    services: [{cluster: c, service: s}]\n",
        "e.yaml",
    )
    .unwrap();
    let night = "2026-12-04T23:00:00+09:00";
    let excluded = [("ecs-cost-saver:exclude-until", "2026-12-05T09:00+09:00")];
    let reason = "excluded by tag ecs-cost-saver:exclude-until until 2026-12-05T09:00+09:00";

    let stop =
        planned_one(&intent_at(&schedule, "stop", night), Action::Stop, with_tags(state(2, None, None), &excluded));
    assert_eq!((stop.decision, stop.after.desired), (Decision::Skip(reason.into()), 2));
    assert!(stop.program.is_empty());
    let until = stop.excluded.unwrap().until;
    assert_eq!(until.as_deref(), Some("2026-12-05T09:00+09:00"));

    // Reconcile at night means stop: left alone too.
    let reconcile = planned_one(
        &intent_at(&schedule, "reconcile", night),
        Action::Stop,
        with_tags(state(2, None, None), &excluded),
    );
    assert_eq!(reconcile.decision, Decision::Skip(reason.into()));

    // Start: a service we stopped before its owner excluded it is restored.
    let stopped = with_tags(state(0, None, Some("desired=2")), &excluded);
    let start = planned_one(&intent_at(&schedule, "start", night), Action::Start, stopped);
    assert!(matches!(start.decision, Decision::Change(_)), "{:?}", start.decision);
    assert_eq!(start.after.desired, 2);
    assert!(start.notes.iter().any(|n| n.starts_with(reason) && n.ends_with("it has a snapshot to restore")));
    // Without a snapshot, start leaves it as its owner has it.
    let start =
        planned_one(&intent_at(&schedule, "start", night), Action::Start, with_tags(state(0, None, None), &excluded));
    assert_eq!(start.decision, Decision::Skip(reason.into()));

    // Status shows it and changes nothing; in the morning it has expired and is stopped again.
    let status =
        planned_one(&intent_at(&schedule, "status", night), Action::Status, with_tags(state(2, None, None), &excluded));
    assert_eq!((status.decision, status.notes), (Decision::Unchanged, vec![reason.to_string()]));
    let later = planned_one(
        &intent_at(&schedule, "stop", "2026-12-05T22:00:00+09:00"),
        Action::Stop,
        with_tags(state(2, None, None), &excluded),
    );
    assert!(matches!(later.decision, Decision::Change(_)));
    assert_eq!(later.notes, vec!["exclusion expired at 2026-12-05T09:00+09:00: the tag is ignored"]);
    assert!(later.excluded.is_none());

    // A tag that does not read never causes a stop.
    let typo = planned_one(
        &intent_at(&schedule, "stop", night),
        Action::Stop,
        with_tags(state(2, None, None), &[("ecs-cost-saver:exclude", "yes")]),
    );
    let Decision::Skip(why) = typo.decision else { panic!("{:?}", typo.decision) };
    assert!(why.starts_with("the tag ecs-cost-saver:exclude holds `yes`: expected `true`"), "{why}");
}

#[test]
fn a_selector_leaves_daemon_and_deleted_services_alone() {
    let schedule =
        crate::schedule::Schedule::parse("environments:\n  e:\n    services: [{cluster: c, select: all}]\n", "e.yaml")
            .unwrap();
    let env = &schedule.environments["e"];
    let selected = ServiceConfig::selected(id(), &env.selectors[0]);
    let resolved = crate::schedule::Environment { services: vec![selected], ..env.clone() };
    let intent = crate::intent::EnvironmentIntent {
        environment: &resolved,
        ..intent_at(&schedule, "stop", "2026-12-04T23:00:00+09:00")
    };
    let daemon = ServiceState { daemon: true, ..state(3, None, None) };
    let plan = planned_one(&intent, Action::Stop, daemon);
    assert!(
        matches!(&plan.decision, Decision::Skip(why) if why.starts_with("a DAEMON service")),
        "{:?}",
        plan.decision
    );
    assert_eq!(plan.selected_by.as_deref(), Some("services[0], line 3"));
    let draining = ServiceState { status: "DRAINING".into(), ..state(3, None, None) };
    let plan = planned_one(&intent, Action::Stop, draining);
    assert_eq!(
        plan.decision,
        Decision::Skip("the service is DRAINING, not ACTIVE: a selected service being deleted is left alone".into())
    );
    // Named, a DRAINING service still fails: the file names a service that is going away.
    let named =
        crate::schedule::Schedule::parse("environments:\n  e:\n    services: [{cluster: c, service: s}]\n", "e.yaml")
            .unwrap();
    let named = planned_one(
        &intent_at(&named, "stop", "2026-12-04T23:00:00+09:00"),
        Action::Stop,
        ServiceState { status: "DRAINING".into(), ..state(3, None, None) },
    );
    assert!(matches!(named.decision, Decision::Fail(_)), "{:?}", named.decision);
}

/// A look the deadline cut short leaves a service unconfirmed, not failed, only when no target
/// of it is known to be missing: it has no target group, or the look before saw none of its
/// tasks RUNNING (so none was left unregistered); a look cut short for another reason, or after
/// RUNNING tasks were seen, still fails it.
#[test]
fn a_look_cut_short_after_seeing_no_task_running_is_only_unconfirmed() {
    let id = ServiceRef::new("c", "s");
    let with_tg = Waiting { id: id.clone(), bindings: vec![binding("tg", 80)], desired: 2 };
    let observed = ObservedTasks {
        list_failures: HashMap::new(),
        clusters: HashMap::from([("c".to_string(), Ok(vec![task("t1", "PENDING", Some("10.0.0.1"), None, vec![])]))]),
    };
    let look = look(vec![with_tg.clone()], &observed, false);
    assert_eq!((look.again.len(), look.running.clone()), (1, vec![(id.clone(), 0)]));

    let throttled = AwsError::in_response("ListTasks", ErrorKind::Throttled, "no answer in time".into());
    let cut = Failure::aws(&throttled.clone().out_of_time(), "could not read tasks");
    let refused = Failure::aws(&throttled, "could not read tasks");
    assert!(cut_short_is_unconfirmed(&with_tg, &cut, Some(0)));
    assert!(!cut_short_is_unconfirmed(&with_tg, &cut, Some(1)), "a RUNNING task seen may be unregistered");
    assert!(!cut_short_is_unconfirmed(&with_tg, &cut, None), "never seen: its targets are not known");
    assert!(!cut_short_is_unconfirmed(&with_tg, &refused, Some(0)), "not the deadline: a failure");
    let no_tg = Waiting { bindings: vec![], ..with_tg };
    assert!(cut_short_is_unconfirmed(&no_tg, &cut, None));
}
