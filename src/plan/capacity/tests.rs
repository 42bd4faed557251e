use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn size(min: u32, desired: u32, max: u32) -> GroupSize {
    GroupSize { min, desired, max }
}

fn group(now: GroupSize, snapshot: Option<&str>) -> AutoScalingGroup {
    AutoScalingGroup {
        name: "shop-stg-ecs".into(),
        arn: "arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:u-1:autoScalingGroupName/shop-stg-ecs"
            .into(),
        size: now,
        instances: vec!["i-1".into(), "i-2".into()],
        tags: snapshot.map(|v| (SNAPSHOT_TAG.to_string(), v.to_string())).into_iter().collect(),
    }
}

fn config(min: Option<u32>, desired: Option<u32>, max: Option<u32>) -> GroupConfig {
    GroupConfig { name: "shop-stg-ecs".into(), min, desired, max }
}

fn id(cluster: &str, service: &str) -> ServiceRef {
    ServiceRef::new(cluster, service)
}

fn change(save: Option<GroupSize>, set: Option<GroupSize>, clear: bool) -> GroupDecision {
    GroupDecision::Change { save, set, clear }
}

#[test]
fn the_snapshot_tag_reads_back_what_it_writes_and_nothing_else() {
    assert_eq!(size(1, 2, 4).to_tag(), "min=1 desired=2 max=4");
    assert_eq!(GroupSize::from_tag("min=1 desired=2 max=4"), Ok(size(1, 2, 4)));
    for bad in [
        "",
        "min=1 desired=2",
        "min=1 desired=2 max=4 x",
        "desired=2 min=1 max=4",
        "min=3 desired=2 max=4",
        "min=1 desired=5 max=4",
        "min=-1 desired=2 max=4",
        "min=1  desired=2 max=4",
    ] {
        assert_eq!(GroupSize::from_tag(bad), Err(format!("`{bad}` is not `min=N desired=N max=N`")), "{bad}");
    }
}

#[test]
fn a_stop_saves_the_sizes_on_the_group_then_sets_min_and_desired_to_0_and_keeps_max() {
    let (decision, after) = stop(&group(size(1, 2, 4), None), &Occupants::default());
    assert_eq!(decision, change(Some(size(1, 2, 4)), Some(size(0, 0, 4)), false));
    assert_eq!(after, Some(size(0, 0, 4)));
    assert_eq!(actions(&decision), vec!["save snapshot min=1 desired=2 max=4", "set min 0 desired 0 max 4"]);
}

#[test]
fn a_second_stop_changes_nothing_and_an_earlier_snapshot_is_never_overwritten() {
    let (decision, _) = stop(&group(size(0, 0, 4), Some("min=1 desired=2 max=4")), &Occupants::default());
    assert_eq!(decision, GroupDecision::Unchanged);
    // Someone (the user's Terraform) put the sizes back at night: scaled in again, snapshot kept.
    let (decision, _) = stop(&group(size(2, 2, 6), Some("min=1 desired=2 max=4")), &Occupants::default());
    assert_eq!(decision, change(None, Some(size(0, 0, 6)), false));
}

#[test]
fn others_on_the_instances_keep_the_group_up_naming_five_of_them() {
    let others: BTreeSet<String> = (1..=7).map(|i| format!("shop-stg/team-{i}")).collect();
    let (decision, after) = stop(&group(size(1, 2, 4), None), &Occupants { others, ..Occupants::default() });
    assert_eq!(
        decision,
        GroupDecision::Skip(
            "tasks not stopped by this environment still run on its instances: shop-stg/team-1, shop-stg/team-2, \
             shop-stg/team-3, shop-stg/team-4, shop-stg/team-5 and 2 more; its capacity is theirs too"
                .into()
        )
    );
    assert_eq!(after, Some(size(1, 2, 4)), "left as it is");
}

#[test]
fn tasks_of_the_environment_still_there_when_the_wait_ended_leave_the_group_to_the_next_run() {
    let (decision, _) = stop(&group(size(1, 2, 4), None), &Occupants { ours: 3, ..Occupants::default() });
    let GroupDecision::Skip(reason) = decision else { panic!("{decision:?}") };
    assert!(
        reason.starts_with("3 tasks of this environment's stopped services were still on its instances"),
        "{reason}"
    );
}

#[test]
fn whose_tasks_are_on_the_instances() {
    let stopped = BTreeSet::from([id("shop-stg", "api"), id("shop-stg", "web")]);
    let daemons = BTreeSet::from([id("shop-stg", "log-agent")]);
    let tasks = [
        ("shop-stg", Some("service:api")),
        ("shop-stg", Some("service:web")),
        ("shop-stg", Some("service:log-agent")),
        ("shop-stg", Some("service:other")),
        ("shop-stg", Some("service:other")),
        ("shop-stg", Some("family:batch")),
        ("shared-stg", Some("service:api")),
        ("shop-stg", None),
    ];
    let found = occupants(tasks, &stopped, &daemons);
    assert_eq!(found.ours, 2);
    assert_eq!(found.waiting_for, stopped, "the wait looks at these services only");
    assert_eq!(
        found.others.into_iter().collect::<Vec<_>>(),
        vec!["shared-stg/api", "shop-stg/other", "shop-stg: task group (none)", "shop-stg: task group family:batch"]
    );
}

#[test]
fn a_start_restores_the_snapshot_then_clears_it() {
    let (decision, after) = start(&group(size(0, 0, 4), Some("min=1 desired=2 max=4")), &config(None, None, None));
    assert_eq!(decision, change(None, Some(size(1, 2, 4)), true));
    assert_eq!(after, Some(size(1, 2, 4)));
    assert_eq!(actions(&decision), vec!["set min 1 desired 2 max 4", "clear snapshot"]);
    // Restored by a run whose clear failed: only the clear is left.
    let (decision, _) = start(&group(size(1, 2, 4), Some("min=1 desired=2 max=4")), &config(None, None, None));
    assert_eq!(decision, change(None, None, true));
}

#[test]
fn without_a_snapshot_a_start_falls_back_to_the_file_and_leaves_a_running_group_alone() {
    let empty = group(size(0, 0, 4), None);
    assert_eq!(start(&empty, &config(Some(1), Some(3), Some(5))).0, change(None, Some(size(1, 3, 5)), false));
    assert_eq!(
        start(&empty, &config(Some(2), None, None)).0,
        change(None, Some(size(2, 2, 4)), false),
        "desired = min, max kept"
    );
    assert_eq!(
        start(&group(size(0, 0, 1), None), &config(Some(1), Some(3), None)).0,
        change(None, Some(size(1, 3, 3)), false),
        "max raised to desired"
    );
    assert_eq!(start(&group(size(1, 1, 4), None), &config(Some(2), Some(3), None)).0, GroupDecision::Unchanged);
    let GroupDecision::Fail(failure) = start(&empty, &config(None, None, None)).0 else { panic!() };
    assert_eq!(failure.kind, ErrorKind::Invalid);
    assert_eq!(
        failure.message,
        "Auto Scaling group shop-stg-ecs is at min 0 desired 0 max 4 with no ecs-cost-saver:snapshot tag, and the file \
         gives no sizes: add `min` and `desired` to its `capacity` entry"
    );
}

#[test]
fn a_malformed_snapshot_tag_fails_the_group_naming_the_tag_and_its_form() {
    for decision in [
        stop(&group(size(0, 0, 4), Some("2")), &Occupants::default()).0,
        start(&group(size(0, 0, 4), Some("2")), &config(Some(1), None, None)).0,
    ] {
        let GroupDecision::Fail(failure) = decision else { panic!("{decision:?}") };
        assert_eq!(
            failure.message,
            "Auto Scaling group shop-stg-ecs has a malformed ecs-cost-saver:snapshot tag: `2` is not `min=N desired=N \
             max=N`; set it to its sizes (`min=1 desired=2 max=4`) or delete it"
        );
    }
}

#[test]
fn the_plan_names_missing_groups_and_capacity_providers() {
    let g = group(size(1, 2, 4), None);
    let providers = vec![CapacityProvider {
        name: "shop-stg-cp".into(),
        group_arn: g.arn.clone(),
        managed_scaling: true,
        managed_termination_protection: true,
    }];
    let groups = BTreeMap::from([(g.name.clone(), Ok(g))]);
    let configs = [config(None, None, None), GroupConfig { name: "gone".into(), ..config(None, None, None) }];
    let plans = plan(&configs, &groups, &providers, Action::Stop, &BTreeMap::new());
    assert_eq!(
        plans[0].capacity_provider.as_deref(),
        Some("shop-stg-cp (managed scaling, managed termination protection)")
    );
    assert_eq!((plans[0].before, plans[0].after, plans[0].saved), (Some(size(1, 2, 4)), Some(size(0, 0, 4)), None));
    let GroupDecision::Fail(failure) = &plans[1].decision else { panic!() };
    assert_eq!(
        (failure.kind, failure.message.as_str()),
        (ErrorKind::NotFound, "Auto Scaling group gone was not found")
    );
    let status = plan(&configs[..1], &groups, &providers, Action::Status, &BTreeMap::new());
    assert_eq!(status[0].decision, GroupDecision::Unchanged, "status only shows it");
}
