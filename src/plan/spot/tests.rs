use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::event::{Input, SpotWarning};
use crate::state::TargetHealth;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn task_event(name: &str) -> TaskStateChange {
    match Input::parse(fixture(name)).unwrap() {
        Input::TaskStateChange(e) => *e,
        other => panic!("{name} parsed as {other:?}"),
    }
}

#[test]
fn interruptions_are_recognised_by_stop_code_or_reason_and_nothing_else() {
    for name in
        ["fargate-spot-interruption", "fargate-termination-notice", "spot-stopped-reason-only", "ec2-bridge-spot-task"]
    {
        assert_eq!(not_an_interruption(&task_event(name)), None, "{name}");
    }
    assert_eq!(
        not_an_interruption(&task_event("task-essential-exit")).as_deref(),
        Some("not a Spot interruption (stopCode EssentialContainerExited, desiredStatus STOPPED, lastStatus RUNNING)")
    );
    assert_eq!(
        not_an_interruption(&task_event("task-running")).as_deref(),
        Some("not a Spot interruption (stopCode none, desiredStatus RUNNING, lastStatus RUNNING)")
    );
    assert_eq!(
        not_an_interruption(&task_event("task-already-stopped")).as_deref(),
        Some("the task has already stopped")
    );
}

#[test]
fn the_event_gives_the_task_its_cluster_and_service() {
    let e = task_event("fargate-spot-interruption");
    assert_eq!((e.cluster(), e.service(), e.version), ("spot", Some("web"), 3));
    let task = e.task();
    assert_eq!(task.private_ip.as_deref(), Some("10.0.1.23"));
    assert_eq!(task.containers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["app"]);

    let bridge = task_event("ec2-bridge-spot-task");
    assert_eq!(bridge.service(), Some("legacy"));
    let task = bridge.task();
    assert_eq!(task.private_ip, None);
    assert!(task.container_instance_arn.is_some());
    assert_eq!(task.containers[0].bindings, vec![(8080, 32768)]);
}

#[test]
fn fixtures_round_trip_into_the_right_inputs() {
    assert!(matches!(Input::parse(fixture("ec2-spot-warning")).unwrap(),
        Input::SpotWarning(SpotWarning { ref instance_id, .. }) if instance_id == "i-0123456789abcdef0"));
    assert_eq!(
        Input::parse(fixture("truncated")).unwrap_err().to_string(),
        "invalid event at `detail`: missing field `taskArn`"
    );
}

fn binding(tg: &str, container: &str, port: u16) -> TargetBinding {
    TargetBinding { target_group_arn: tg.into(), container: container.into(), container_port: port }
}

#[test]
fn targets_are_ip_and_container_port_or_instance_and_host_port() {
    let fargate = task_event("fargate-spot-interruption").task();
    let bindings = [binding("alb", "app", 8080), binding("nlb", "app", 8080), binding("alb", "app", 8080)];
    let (targets, problems) = task_targets(&fargate, &bindings, None);
    let ip = Target { id: "10.0.1.23".into(), port: 8080 };
    assert_eq!(targets, vec![("alb".into(), ip.clone()), ("nlb".into(), ip)]);
    assert!(problems.is_empty());

    let bridge = task_event("ec2-bridge-spot-task").task();
    let (targets, problems) = task_targets(&bridge, &[binding("inst", "app", 8080)], Some("i-0abc"));
    assert_eq!(targets, vec![("inst".into(), Target { id: "i-0abc".into(), port: 32768 })]);
    assert!(problems.is_empty());

    let (targets, problems) = task_targets(&bridge, &[binding("inst", "app", 9090)], Some("i-0abc"));
    assert!(targets.is_empty());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("no host port for container `app` port 9090"), "{problems:?}");
    let (_, problems) = task_targets(&bridge, &[binding("inst", "app", 8080)], None);
    assert!(problems[0].message.contains("neither an ENI address nor a container instance"), "{problems:?}");
}

fn schedule(yaml: &str) -> Schedule {
    Schedule::parse(yaml, "spot.yaml").unwrap()
}

const EXTRA: &str = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/extra/0123456789abcdef";
const PLAIN: &str = "environments:\n  spot:\n    services: [{cluster: spot, service: web}]\n";
const LISTED: &str = "environments:\n  spot:\n    services:\n      - cluster: spot\n        service: web\n        target_groups: [{arn: \"arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/extra/0123456789abcdef\", container: app, port: 9000}]\n";

fn remembered(bindings: Vec<TargetBinding>, age: Duration, now: Instant) -> Option<Remembered> {
    Some(Remembered { at: now - age, bindings })
}

#[test]
fn a_duplicate_delivery_or_a_task_of_no_service_is_skipped() {
    let s = schedule(PLAIN);
    let now = Instant::now();
    let e = task_event("fargate-spot-interruption");
    let duplicate = task(&s, &e, &Place::default(), Memory { handled: true, remembered: None }, now).unwrap_err();
    assert_eq!(duplicate, format!("duplicate delivery of {} version 3", e.task_arn));
    let mut lone = e.clone();
    lone.group = Some("family:batch".into());
    assert_eq!(
        task(&s, &lone, &Place::default(), Memory::default(), now).unwrap_err(),
        format!("task {} belongs to no service (group family:batch)", e.task_arn)
    );
    let exit = task_event("task-essential-exit");
    assert!(
        task(&s, &exit, &Place::default(), Memory { handled: true, remembered: None }, now)
            .unwrap_err()
            .starts_with("not a Spot")
    );
}

#[test]
fn cold_and_unlisted_nothing_goes_before_the_service_is_described() {
    let now = Instant::now();
    let plan =
        task(&schedule(PLAIN), &task_event("fargate-spot-interruption"), &Place::default(), Memory::default(), now)
            .unwrap();
    assert_eq!(plan.id, ServiceRef::new("spot", "web"));
    assert_eq!(plan.environment.as_deref(), Some("spot"));
    assert!(plan.early.is_empty() && plan.known.is_none() && plan.instance_lookup.is_none());
}

#[test]
fn yaml_and_trusted_memory_go_first_stale_memory_does_not() {
    let now = Instant::now();
    let e = task_event("fargate-spot-interruption");
    let ip = |port| Target { id: "10.0.1.23".into(), port };
    let listed = task(&schedule(LISTED), &e, &Place::default(), Memory::default(), now).unwrap();
    assert_eq!(listed.early, vec![(EXTRA.to_string(), ip(9000))]);

    let known = vec![binding("alb", "app", 8080)];
    let warm = Memory { handled: false, remembered: remembered(known.clone(), Duration::from_secs(599), now) };
    let warm = task(&schedule(LISTED), &e, &Place::default(), warm, now).unwrap();
    assert_eq!(warm.known.as_deref(), Some(known.as_slice()), "trusted: no DescribeServices");
    assert_eq!(warm.early, vec![("alb".to_string(), ip(8080)), (EXTRA.to_string(), ip(9000))]);

    let stale = Memory { handled: false, remembered: remembered(known, TRUST_REMEMBERED, now) };
    let stale = task(&schedule(PLAIN), &e, &Place::default(), stale, now).unwrap();
    assert!(stale.known.is_none() && stale.early.is_empty(), "described again after {TRUST_REMEMBERED:?}");
}

#[test]
fn a_bridge_task_waits_for_its_instance_id() {
    let now = Instant::now();
    let e = task_event("ec2-bridge-spot-task");
    let known =
        Memory { handled: false, remembered: remembered(vec![binding("inst", "app", 8080)], Duration::ZERO, now) };
    let plan = task(&schedule(PLAIN), &e, &Place::default(), known, now).unwrap();
    assert!(plan.early.is_empty(), "an instance target needs the EC2 instance id first");
    assert_eq!(plan.instance_lookup, e.container_instance_arn);
    let reads = TaskReads { service: None, instance: Some(Ok(vec![("ci".into(), "i-0abc".into())])) };
    let (rest, problems, note) = task_rest(&plan, &reads);
    assert_eq!(rest, vec![("inst".to_string(), Target { id: "i-0abc".into(), port: 32768 })]);
    assert!(problems.is_empty() && note.is_none());
}

fn service_state(lbs: Vec<TargetBinding>, task_set_lbs: Vec<TargetBinding>) -> ServiceState {
    ServiceState {
        arn: "arn:aws:ecs:ap-northeast-1:123456789012:service/spot/web".into(),
        status: "ACTIVE".into(),
        desired: 2,
        daemon: false,
        tags: BTreeMap::new(),
        load_balancers: lbs,
        task_set_load_balancers: task_set_lbs,
        capacity: None,
        entry: None,
        placement: Default::default(),
    }
}

#[test]
fn the_rest_is_every_target_group_of_the_service_once_minus_what_went_early() {
    let now = Instant::now();
    let e = task_event("fargate-spot-interruption");
    let plan = task(&schedule(LISTED), &e, &Place::default(), Memory::default(), now).unwrap();
    let state = service_state(
        vec![binding("blue", "app", 8080)],
        vec![binding("blue", "app", 8080), binding("green", "app", 8080)],
    );
    assert_eq!(service_bindings(&state), vec![binding("blue", "app", 8080), binding("green", "app", 8080)]);
    let reads = TaskReads { service: Some(Ok(Some(state))), instance: None };
    let (rest, problems, _) = task_rest(&plan, &reads);
    let ip = Target { id: "10.0.1.23".into(), port: 8080 };
    assert_eq!(rest, vec![("blue".to_string(), ip.clone()), ("green".to_string(), ip)], "extra went early");
    assert!(problems.is_empty());

    let unreadable = AwsError::in_response("DescribeServices", ErrorKind::AccessDenied, "no".into());
    let (rest, problems, note) = task_rest(&plan, &TaskReads { service: Some(Err(unreadable)), instance: None });
    assert!(rest.is_empty() && note.is_none());
    assert_eq!(problems[0].kind, ErrorKind::AccessDenied);
    assert_eq!(problems[0].message, "cannot read the service's target groups: DescribeServices: no");

    let bare = task(&schedule(PLAIN), &e, &Place::default(), Memory::default(), now).unwrap();
    let (_, _, note) = task_rest(&bare, &TaskReads { service: Some(Ok(None)), instance: None });
    assert_eq!(note.as_deref(), Some("the service has no target groups"));
}

#[test]
fn not_registered_is_done_any_other_error_is_not() {
    let gone = AwsError {
        code: Some("InvalidTarget".into()),
        ..AwsError::in_response("DeregisterTargets", ErrorKind::Invalid, "x".into())
    };
    let denied = AwsError::in_response("DeregisterTargets", ErrorKind::AccessDenied, "no".into());
    assert_eq!(deregistered(&Ok(())), TargetChange::Deregistered);
    assert_eq!(deregistered(&Err(gone)), TargetChange::NotRegistered);
    assert_eq!(deregistered(&Err(denied)), TargetChange::DeregisterFailed);
}

#[test]
fn an_instance_is_searched_in_every_configured_cluster() {
    let s = schedule(
        "environments:\n  a:\n    services: [{cluster: c1, service: x}, {cluster: c2, service: y}]\n  b:\n    services: [{cluster: c1, service: z}]\n",
    );
    assert_eq!(clusters(&s, &Place::default()), ["c1", "c2"]);
    let none = instance_hits("i-1", &["c1", "c2"], vec![("c1", Ok(None)), ("c2", Ok(None))]);
    assert_eq!(none.unwrap_err(), "instance i-1 is a container instance of none of the clusters c1, c2");
    let denied = AwsError::in_response("ListContainerInstances", ErrorKind::AccessDenied, "no".into());
    let hits = instance_hits("i-1", &["c1", "c2"], vec![("c1", Ok(Some("ci".into()))), ("c2", Err(denied))]).unwrap();
    assert_eq!(hits.found, vec![("c1".to_string(), "ci".to_string())]);
    assert_eq!(hits.problems[0].message, "cannot search cluster c2: ListContainerInstances: no");
}

#[test]
fn an_instance_s_targets_are_its_live_registrations_in_instance_target_groups() {
    let types = HashMap::from([("inst".to_string(), TargetType::Instance), ("ip".to_string(), TargetType::Ip)]);
    assert_eq!(instance_target_groups(&types), ["inst"]);
    let t = |id: &str, port, health| RegisteredTarget { target: Target { id: id.into(), port }, health };
    let registered = HashMap::from([(
        "inst".to_string(),
        Ok(vec![
            t("i-1", 32768, TargetHealth::Healthy),
            t("i-1", 32769, TargetHealth::Draining),
            t("i-2", 32768, TargetHealth::Healthy),
        ]),
    )]);
    let services = vec![("legacy".to_string(), service_state(vec![binding("inst", "app", 8080)], vec![]))];
    let (per_service, problems) = instance_targets(&Place::default(), "c", "i-1", &services, &registered);
    assert!(problems.is_empty());
    assert_eq!(
        per_service,
        vec![(ServiceRef::new("c", "legacy"), vec![("inst".to_string(), Target { id: "i-1".into(), port: 32768 })])]
    );
}

#[test]
fn the_warning_fixture_parses() {
    let Input::SpotWarning(SpotWarning { instance_id, instance_action, .. }) =
        Input::parse(fixture("ec2-spot-warning")).unwrap()
    else {
        panic!()
    };
    assert_eq!((instance_id.as_str(), instance_action.as_deref()), ("i-0123456789abcdef0", Some("terminate")));
}
