use serde_json::Value;

use super::*;
use crate::event::Input;

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
        assert_eq!(task_event(name).not_an_interruption(), None, "{name}");
    }
    assert_eq!(
        task_event("task-essential-exit").not_an_interruption().as_deref(),
        Some("not a Spot interruption (stopCode EssentialContainerExited, desiredStatus STOPPED, lastStatus RUNNING)")
    );
    assert_eq!(
        task_event("task-running").not_an_interruption().as_deref(),
        Some("not a Spot interruption (stopCode none, desiredStatus RUNNING, lastStatus RUNNING)")
    );
    assert_eq!(
        task_event("task-already-stopped").not_an_interruption().as_deref(),
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
    assert!(problems[0].contains("no host port for container `app` port 9090"), "{problems:?}");
    let (_, problems) = task_targets(&bridge, &[binding("inst", "app", 8080)], None);
    assert!(problems[0].contains("neither an ENI address nor a container instance"), "{problems:?}");
}
