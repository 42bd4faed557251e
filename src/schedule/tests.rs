use super::*;

fn problems(yaml: &str) -> Vec<String> {
    match Schedule::parse(yaml, "s.yaml") {
        Ok(_) => vec![],
        Err(e) => e.to_string().lines().map(str::to_string).collect(),
    }
}

#[test]
fn example_file_validates() {
    let s = Schedule::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schedules/example.yaml"))).unwrap();
    assert_eq!(s.timezone, chrono_tz::Asia::Tokyo);
    assert_eq!(s.environment_names(), vec!["dev", "staging"]);
    let staging = &s.environments["staging"];
    assert_eq!(staging.stop.len(), 1);
    assert_eq!(staging.start[0].as_str(), "cron(0 8 ? * MON-FRI *)");
    let api = &staging.services[0];
    assert_eq!(api.id.to_string(), "example-cluster/api-stg");
    assert_eq!((api.desired_count, api.min_capacity, api.max_capacity), (Some(2), Some(1), Some(4)));
    assert_eq!(api.target_groups[0].container, "app");
    assert_eq!(api.target_groups[0].port, 8080);
    assert!(s.environments["dev"].stop.is_empty());
    assert_eq!(s.holidays.calendar, Some(HolidayCalendar::Japan));
    assert_eq!(s.holidays.dates.len(), 5);
}

#[test]
fn defaults_to_tokyo_and_no_holidays() {
    let s = Schedule::parse("environments:\n  dev:\n    services: [{cluster: c, service: s}]\n", "s.yaml").unwrap();
    assert_eq!(s.timezone, chrono_tz::Asia::Tokyo);
    assert!(s.holidays.dates.is_empty());
    assert_eq!(s.holidays.calendar, None);
}

#[test]
fn unknown_key_names_line_and_column() {
    let yaml =
        "environments:\n  dev:\n    services:\n      - cluster: c\n        service: s\n        desired_cuont: 2\n";
    assert_eq!(
        problems(yaml),
        vec![
            "s.yaml:6:9: unknown field `desired_cuont`, expected one of cluster, service, select, except, desired_count, min_capacity, max_capacity, target_groups, account, region"
        ]
    );
}

#[test]
fn every_value_problem_is_reported() {
    let yaml = "\
timezone: Asia/Tokio
holidays:
  calendar: korea
  dates: [2026-02-30]
environments:
  Staging:
    stop: [\"cron(0 22 * * MON-FRI *)\"]
    services:
      - { cluster: c, service: s, min_capacity: 5, max_capacity: 2 }
      - { cluster: 'arn:aws:ecs:x', service: t }
  dev:
    services:
      - { cluster: c, service: s }
      - cluster: c
        service: u
        target_groups: [{ arn: 'tg-1', container: app, port: 0 }]
";
    let got = problems(yaml);
    assert_eq!(
        got,
        vec![
            "s.yaml:1:11: unknown time zone `Asia/Tokio`: use an IANA name such as Asia/Tokyo",
            "s.yaml:3:13: unknown holiday calendar `korea`: the supported calendar is `japan`",
            "s.yaml:4:11: `2026-02-30` is not a date: write YYYY-MM-DD, e.g. 2026-12-29",
            "s.yaml:6:3: environment name `Staging` must be 1-32 characters of a-z, 0-9 and -",
            &format!(
                "s.yaml:7:12: cron(0 22 * * MON-FRI *): {}",
                "cron(0 22 * * MON-FRI *)".parse::<Cron>().unwrap_err()
            ),
            "s.yaml:9:49: min_capacity 5 is greater than max_capacity 2",
            "s.yaml:10:20: cluster `arn:aws:ecs:x` is not an ECS cluster name (1-255 letters, digits, - and _; not an ARN)",
            "s.yaml:13:32: service c/s is already listed in environment `Staging` (line 9); a service belongs to one environment only",
            "s.yaml:16:32: `tg-1` is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)",
            "s.yaml:16:62: port must be 1-65535",
        ]
    );
}

#[test]
fn empty_and_structural_errors() {
    assert_eq!(problems(""), vec!["s.yaml:1:1: the file is empty: expected a mapping with `environments`"]);
    assert_eq!(
        problems("environments: {}\n"),
        vec!["s.yaml:1:15: no environments: add at least one under `environments`"]
    );
    assert_eq!(
        problems("environments:\n  dev:\n    services: []\n"),
        vec!["s.yaml:3:15: environment `dev` lists no services"]
    );
    let dup = problems(
        "environments:\n  dev: {services: [{cluster: c, service: s}]}\n  dev: {services: [{cluster: c, service: t}]}\n",
    );
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0], "s.yaml:3:3: duplicate key `dev` (first at line 2): a key may appear once per mapping");
    let neg = problems("environments:\n  dev:\n    services: [{cluster: c, service: s, desired_count: -1}]\n");
    assert_eq!(neg, vec!["s.yaml:3:56: invalid u32"]);
}

#[test]
fn unreadable_file_names_the_file() {
    let e = Schedule::load(Path::new("/nonexistent/s.yaml")).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/s.yaml: cannot read the schedule file: "), "{e}");
}

#[test]
fn yaml_message_strips_positions() {
    assert_eq!(yaml_message("error: line 3 column 5: unknown field `x`\n --> snippet"), "unknown field `x`");
    assert_eq!(yaml_message("invalid type at line 1, column 1"), "invalid type");
}

#[test]
fn values_are_escaped_so_each_problem_is_one_line() {
    let yaml = "\
timezone: \"Asia/\\nTokyo\"
environments:
  dev:
    stop: [\"cron(0 22\\n? * MON-FRI)\"]
    services:
      - { cluster: \"shop\\nstg\", service: \"api\\t1\" }
";
    assert_eq!(
        problems(yaml),
        vec![
            "s.yaml:1:11: unknown time zone `Asia/\\nTokyo`: use an IANA name such as Asia/Tokyo",
            "s.yaml:4:12: cron(0 22\\n? * MON-FRI): cron has 5 fields, EventBridge Scheduler needs 6: minutes hours day-of-month month day-of-week year",
            "s.yaml:6:20: cluster `shop\\nstg` is not an ECS cluster name (1-255 letters, digits, - and _; not an ARN)",
            "s.yaml:6:42: service `api\\t1` is not an ECS service name (1-255 letters, digits, - and _; not an ARN)",
        ]
    );
}

/// The parser's own messages escape what they quote.
#[test]
fn an_unknown_key_with_a_newline_stays_on_one_line() {
    let yaml = "environments:\n  dev:\n    services: [{cluster: c, service: s, \"desired\\ncount\": 2}]\n";
    assert_eq!(
        problems(yaml),
        vec![
            "s.yaml:3:41: unknown field `desired\\ncount`, expected one of cluster, service, select, except, desired_count, min_capacity, max_capacity, target_groups, account, region"
        ]
    );
}

#[test]
fn selectors_and_start_order_are_read() {
    let yaml = "\
environments:
  staging:
    start_order: [[migrate], [api, worker], [shop-stg/web]]
    services:
      - cluster: shop-stg
        select: all
        except: [shop-stg-batch]
      - cluster: shared-stg
        select: { tags: { env: staging, team: web } }
      - { cluster: shop-stg, service: api, desired_count: 2 }
";
    let s = Schedule::parse(yaml, "s.yaml").unwrap_or_else(|e| panic!("{e}"));
    let env = &s.environments["staging"];
    assert_eq!(env.services.len(), 1);
    assert_eq!(env.services[0].desired_count, Some(2));
    assert_eq!(env.selectors.len(), 2);
    assert_eq!(env.selectors[0].to_string(), "services[0], line 5 (shop-stg: select all except shop-stg-batch)");
    assert_eq!(env.selectors[1].to_string(), "services[1], line 8 (shared-stg: select tags env=staging,team=web)");
    assert_eq!(
        env.start_order,
        vec![vec!["migrate".to_string()], vec!["api".into(), "worker".into()], vec!["shop-stg/web".into()]]
    );
    let tags = BTreeMap::from([("env".to_string(), "staging".to_string()), ("team".into(), "web".into())]);
    assert!(env.selectors[1].selects("x", &tags));
    assert!(!env.selectors[1].selects("x", &BTreeMap::from([("env".to_string(), "staging".to_string())])));
    assert!(!env.selectors[0].selects("shop-stg-batch", &BTreeMap::new()));
}

#[test]
fn every_selector_and_order_problem_is_reported_at_its_place() {
    let yaml = "\
environments:
  staging:
    start_order: [[api], [], [api, 'a b']]
    services:
      - { cluster: c, select: some }
      - { cluster: c, select: { labels: { a: b } } }
      - { cluster: c, select: all, desired_count: 2 }
      - { cluster: c, service: s, select: all }
      - { cluster: c }
      - { cluster: c, service: s2, except: [x] }
  dev:
    start_order: [[nope]]
    services: [{ cluster: c, service: d }]
";
    assert_eq!(
        problems(yaml),
        vec!["s.yaml:5:31: `select` takes `all` or `{ tags: { KEY: VALUE, ... } }`, not `some`",],
        "serde stops at the first shape error"
    );
    let yaml = yaml.replace("select: some", "select: all").replace("{ labels: { a: b } }", "{ tags: { a: b } }");
    assert_eq!(
        problems(&yaml),
        vec![
            "s.yaml:7:51: `desired_count` is a setting of one service: list the service by name (`service: NAME`, which wins over the selector) to give it one",
            "s.yaml:8:32: an entry has either `service` (one service) or `select` (services chosen when the function runs), not both",
            "s.yaml:9:20: this entry needs `service: NAME`, or `select: all` / `select: { tags: {...} }` to choose the cluster's services",
            "s.yaml:10:45: `except` belongs to a `select` entry, not to one service",
            "s.yaml:3:26: a `start_order` group is empty: name at least one service",
            "s.yaml:3:31: `api` is already in a `start_order` group (line 3): a service starts once",
            "s.yaml:3:36: `a b` is not a service name or CLUSTER/SERVICE",
            "s.yaml:12:20: `start_order` names `nope`, which is not a service of this environment",
        ]
    );
}

#[test]
fn capacity_lists_auto_scaling_groups_with_their_fallback_sizes() {
    let yaml = "\
environments:
  staging:
    capacity:
      - autoscaling_group: shop-stg-ecs
        min: 1
        desired: 2
        max: 4
      - { autoscaling_group: batch-ecs }
    services: [{cluster: c, service: s}]
";
    let s = Schedule::parse(yaml, "s.yaml").unwrap();
    assert_eq!(
        s.environments["staging"].capacity,
        vec![
            GroupConfig { name: "shop-stg-ecs".into(), min: Some(1), desired: Some(2), max: Some(4) },
            GroupConfig { name: "batch-ecs".into(), min: None, desired: None, max: None },
        ]
    );
    assert!(
        Schedule::parse("environments:\n  d:\n    services: [{cluster: c, service: s}]\n", "s.yaml")
            .unwrap()
            .environments["d"]
            .capacity
            .is_empty()
    );
}

#[test]
fn a_bad_capacity_entry_names_its_place_and_what_to_write() {
    let yaml = "\
environments:
  staging:
    capacity:
      - autoscaling_group: \"arn:aws:autoscaling:ap-northeast-1:1:autoScalingGroup:x\"
      - { autoscaling_group: shop-ecs, desired: 2 }
      - { autoscaling_group: batch-ecs, min: 3, desired: 2, max: 4 }
    services: [{cluster: c, service: s}]
  dev:
    capacity:
      - autoscaling_group: shop-ecs
      - { autoscaling_group: x, size: 2 }
    services: [{cluster: c, service: t}]
";
    assert_eq!(
        problems(yaml),
        vec!["s.yaml:11:33: unknown field `size`, expected one of autoscaling_group, min, desired, max".to_string(),]
    );
    let yaml = yaml.replace(", size: 2", "");
    assert_eq!(
        problems(&yaml),
        vec![
            "s.yaml:4:28: `arn:aws:autoscaling:ap-northeast-1:1:autoScalingGroup:x` is not an Auto Scaling group name (1-255 characters, no `:`, `*` or `?`; the name, not the ARN)",
            "s.yaml:5:49: `desired` needs `min` too: the sizes a start gives a group without a snapshot",
            "s.yaml:6:46: min 3 is greater than desired 2",
            "s.yaml:10:28: Auto Scaling group `shop-ecs` is already listed in environment `staging` (line 5); a group belongs to one environment only",
        ]
    );
}

#[test]
fn accounts_regions_and_their_references_are_checked_where_written() {
    let yaml = "accounts:
  stg: { role_arn: 'arn:aws:iam::222222222222:role/ecs-cost-saver-target', external_id: ext-1 }
  again: { role_arn: 'arn:aws:iam::222222222222:role/other' }
  Bad: { role_arn: 'arn:aws:iam::2222:role/x', external_id: 'a' }
environments:
  staging:
    account: prod
    region: osaka
    services:
      - { cluster: c, service: s, account: stg, region: ap-northeast-3 }
      - { cluster: c, service: s, account: stg, region: ap-northeast-3 }
";
    assert_eq!(
        problems(yaml),
        [
            "s.yaml:3:22: account 222222222222 is already named `stg` (line 2); an account has one entry and one role",
            "s.yaml:4:3: account name `Bad` must be 1-32 characters of a-z, 0-9, - and _",
            "s.yaml:4:20: `arn:aws:iam::2222:role/x` is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME, a path allowed before NAME)",
            "s.yaml:4:61: `external_id` must be 2-1224 characters of letters, digits and +=,.@:/-",
            "s.yaml:7:14: unknown account `prod`: `accounts` names stg",
            "s.yaml:8:13: `osaka` is not an AWS region name (e.g. ap-northeast-1, ap-northeast-3)",
            "s.yaml:11:32: service 222222222222/ap-northeast-3/c/s is already listed in environment `staging` (line 10); a service belongs to one environment only",
        ]
    );
    assert_eq!(
        problems("environments:\n  dev:\n    account: stg\n    services: [{cluster: c, service: s}]\n"),
        ["s.yaml:3:14: unknown account `stg`: the file has no `accounts` table"]
    );
}

#[test]
fn one_service_name_in_two_places_is_two_services_and_events_find_their_place() {
    let yaml = "accounts:
  stg: { role_arn: 'arn:aws:iam::222222222222:role/t' }
environments:
  staging:
    account: stg
    services: [{ cluster: c, service: s }, { cluster: c, service: s, region: ap-northeast-3 }]
  dev:
    services: [{ cluster: c, service: s }]
";
    let s = Schedule::parse(yaml, "s.yaml").unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = s.environments.values().flat_map(|e| &e.services).map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["c/s", "222222222222/c/s", "222222222222/ap-northeast-3/c/s"]);
    assert_eq!(s.account("222222222222").map(|a| a.name.as_str()), Some("stg"));
    let home = Place { account: Some("123456789012".into()), region: Some("ap-northeast-1".into()) };
    let place = |account: &str, region: &str| s.place_of(account, region, &home);
    let stg = |region: Option<&str>| Place { account: Some("222222222222".into()), region: region.map(Into::into) };
    assert_eq!(place("222222222222", "ap-northeast-1"), Some(stg(None)), "the function's region, named by none");
    assert_eq!(place("222222222222", "ap-northeast-3"), Some(stg(Some("ap-northeast-3"))));
    assert_eq!(place("222222222222", "eu-west-1"), None);
    assert_eq!(place("123456789012", "ap-northeast-1"), Some(Place::default()));
    assert_eq!(place("123456789012", "ap-northeast-3"), None, "the function's account has nothing in Osaka");
    assert_eq!(place("444444444444", "ap-northeast-1"), None, "an account not in the file");
    let unknown_home = Place { account: None, region: Some("ap-northeast-1".into()) };
    assert_eq!(
        s.place_of("444444444444", "ap-northeast-1", &unknown_home),
        Some(Place::default()),
        "the CLI: own account unknown"
    );
}

#[test]
fn the_functions_own_region_named_is_the_same_as_none() {
    let yaml = "environments:
  staging:
    region: ap-northeast-1
    services:
      - { cluster: c, service: a }
      - { cluster: c, service: b, region: ap-northeast-3 }
      - { cluster: d, select: all, region: ap-northeast-1 }
";
    let s = Schedule::parse(yaml, "s.yaml").unwrap().in_region(Some("ap-northeast-1"));
    let env = &s.environments["staging"];
    assert!(env.place.is_home() && env.selectors[0].place.is_home());
    let ids: Vec<String> = env.services.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["c/a", "ap-northeast-3/c/b"]);
    let osaka = Schedule::parse(yaml, "s.yaml").unwrap().in_region(Some("ap-northeast-3"));
    let ids: Vec<String> = osaka.environments["staging"].services.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(ids, ["ap-northeast-1/c/a", "c/b"], "a function in Osaka");
}
