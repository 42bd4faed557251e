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
            "s.yaml:6:9: unknown field `desired_cuont`, expected one of cluster, service, desired_count, min_capacity, max_capacity, target_groups"
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
    assert!(dup[0].starts_with("s.yaml:3:3: duplicate mapping key"), "{dup:?}");
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
            "s.yaml:3:41: unknown field `desired\\ncount`, expected one of cluster, service, desired_count, min_capacity, max_capacity, target_groups"
        ]
    );
}
