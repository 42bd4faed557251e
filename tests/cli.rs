//! The binary as users run it: exit codes and the exact texts of `validate` and `invoke`, with
//! `invoke` pointed at a moto server through `AWS_ENDPOINT_URL` like a user's shell would be.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{Moto, REGION};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with no AWS settings from the environment of whoever runs the tests.
fn bin(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-cost-saver"));
    cmd.current_dir(dir);
    for var in ["AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_LAMBDA_RUNTIME_API"] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true").env("AWS_CONFIG_FILE", "/dev/null");
    cmd
}

fn against(moto: &Moto) -> Command {
    let mut cmd = bin(&repo());
    cmd.env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// (exit code, stdout, stderr)
fn outcome(out: Output) -> (i32, String, String) {
    (out.status.code().unwrap(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn validate_prints_every_problem_with_file_line_and_column() {
    let out = bin(&repo().join("tests/fixtures/schedules")).args(["validate", "bad.yaml", "bad-cron.yaml"]).output();
    assert_eq!(
        outcome(out.unwrap()),
        (
            1,
            String::new(),
            "\
bad.yaml:9:9: unknown field `desired_cuont`, expected one of cluster, service, select, except, desired_count, min_capacity, max_capacity, target_groups, account, region
bad-cron.yaml:3:12: cron(0 25 ? * MON-FRI *): hours: 25 is out of range 0-23
bad-cron.yaml:4:13: cron(0 8 * * MON-FRI *): day-of-month and day-of-week cannot both be set; use ? in one of them
bad-cron.yaml:7:3: environment name `Prod` must be 1-32 characters of a-z, 0-9 and -
bad-cron.yaml:9:46: service example-cluster/api-stg is already listed in environment `staging` (line 6); a service belongs to one environment only
"
            .into()
        )
    );
}

#[test]
fn validate_accepts_the_shipped_schedules() {
    let out = bin(&repo()).args(["validate", "schedules/example.yaml", "scripts/demo-schedule.yaml"]).output();
    assert_eq!(outcome(out.unwrap()), (0, String::new(), String::new()));
}

#[test]
fn validate_names_a_missing_file() {
    let out = bin(&repo()).args(["validate", "schedules/nope.yaml"]).output().unwrap();
    let (code, stdout, stderr) = outcome(out);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.starts_with("schedules/nope.yaml: cannot read the schedule file: "), "{stderr}");
}

/// `plan` needs no AWS: the text is pinned for the shipped example, across the year end.
#[test]
fn plan_shows_transitions_holiday_skips_timeline_and_savings() {
    let out = bin(&repo())
        .args(["plan", "schedules/example.yaml", "--from", "2026-12-28T09:00:00+09:00", "--count", "5"])
        .output()
        .unwrap();
    let expected = "\
dev (Asia/Tokyo), from 2026-12-28 (Mon) 09:00 JST
  manual only: no crons; started and stopped by hand

staging (Asia/Tokyo), from 2026-12-28 (Mon) 09:00 JST
  2026-12-28 (Mon) 22:00 JST  stop  staging
  2026-12-29 (Tue) 08:00 JST  start  staging  (skipped: 2026-12-29 is listed in holidays.dates)
  2026-12-29 (Tue) 22:00 JST  stop  staging
  2026-12-30 (Wed) 08:00 JST  start  staging  (skipped: 2026-12-30 is listed in holidays.dates)
  2026-12-30 (Wed) 22:00 JST  stop  staging
  week of 2026-12-28 (JST; # up, . stopped; holidays not applied):
       0     6     12    18   23
  Mon  ........##############..
  Tue  ........##############..
  Wed  ........##############..
  Thu  ........##############..
  Fri  ........##############..
  Sat  ........................
  Sun  ........................
  up 70 of 168 hours a week (41.7%); 3 task(s): 504 -> 210 task-hours a week (-58.3%)
";
    assert_eq!(outcome(out), (0, expected.to_string(), String::new()));
}

#[test]
fn plan_json_has_the_same_data() {
    let out = bin(&repo())
        .args(["plan", "schedules/example.yaml", "--environment", "staging", "--from", "2026-11-27T12:00:00+09:00"])
        .args(["--count", "2", "--format", "json"])
        .output()
        .unwrap();
    let (code, stdout, _) = outcome(out);
    assert_eq!(code, 0);
    let plan: Value = serde_json::from_str(&stdout).unwrap();
    let staging = &plan["environments"][0];
    assert_eq!(plan["environments"].as_array().unwrap().len(), 1);
    assert_eq!(staging["name"], "staging");
    let transitions: Vec<(&str, &str, &str)> = staging["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["at"].as_str().unwrap(), t["local"].as_str().unwrap(), t["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        transitions,
        vec![
            ("2026-11-27T13:00:00Z", "2026-11-27 (Fri) 22:00 JST", "stop"),
            ("2026-11-29T23:00:00Z", "2026-11-30 (Mon) 08:00 JST", "start")
        ]
    );
    assert_eq!(staging["up_hours_per_week"], 70.0);
    assert_eq!(staging["task_hours_per_week"]["scheduled"], 210.0);
    assert_eq!(staging["timeline"][4]["day"], "Fri");
    assert_eq!(staging["timeline"][4]["up"][8], true);
    assert_eq!(staging["timeline"][4]["up"][22], false);
}

/// Bad inputs are refused with the exact message, exit 1, and not one request reaches AWS.
#[tokio::test]
async fn bad_inputs_are_refused_before_any_aws_call() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let cases = [
        (
            r#"{"action":"stop","environment":"prod"}"#,
            "error: unknown environment `prod`; valid environments: dev, staging\n",
        ),
        (
            r#"{"action":"stop","environment":"pr\nod"}"#,
            "error: unknown environment `pr\\nod`; valid environments: dev, staging\n",
        ),
        (
            r#"{"action":"stop","environment":"dev","":true}"#,
            "error: invalid payload at `[\"\"]`: unknown field ``, expected one of `action`, `environment`, `dry_run`, `until`, `scheduled`, `continuation`\n",
        ),
        (
            r#"{"action":"halt","environment":"dev"}"#,
            "error: invalid payload at `action`: unknown action `halt`; valid actions: stop, start, register, status, reconcile\n",
        ),
        (r#"{"action":"stop","#, "error: the input is not valid JSON: EOF while parsing a value at line 1 column 17\n"),
        (
            r#"{"action":"stop","environment":"dev","dry_run":"yes"}"#,
            "error: invalid payload at `dry_run`: invalid type: string \"yes\", expected a boolean\n",
        ),
        (
            r#"{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
            "error: unsupported event: source `aws.ec2`, detail-type `EC2 Instance State-change Notification` is not an event this function handles\n",
        ),
        (
            r#"{"source":"aws.ecs","detail-type":"ECS Task State Change","detail":{"taskArn":"t"}}"#,
            "error: invalid event at `detail`: missing field `clusterArn`\n",
        ),
        (
            r#"{"environment":"dev"}"#,
            "error: unsupported event: expected a payload with `action` and `environment`, received an object with keys [environment]\n",
        ),
    ];
    let (results, ops) = moto
        .recording(async {
            cases
                .iter()
                .map(|(payload, _)| {
                    let out = against(&moto)
                        .args(["invoke", "--schedule", "schedules/example.yaml", "--payload", payload])
                        .output()
                        .unwrap();
                    outcome(out)
                })
                .collect::<Vec<_>>()
        })
        .await;
    for ((payload, expected), got) in cases.iter().zip(results) {
        assert_eq!(got, (1, String::new(), expected.to_string()), "payload {payload}");
    }
    assert_eq!(ops, Vec::<String>::new(), "no request reached the emulator");
}

#[tokio::test]
async fn invoke_runs_the_lambda_handler_against_aws_endpoint_url() {
    let moto = Moto::start();
    let world = moto.seed(&["e2e"]);
    let dir = tempdir();
    let schedule = dir.join("schedule.yaml");
    std::fs::write(
        &schedule,
        "environments:\n  staging:\n    services:\n      - { cluster: alpha, service: svc-a }\n      - { cluster: alpha, service: svc-b }\n",
    )
    .unwrap();
    let event = dir.join("event.json");
    std::fs::write(&event, r#"{"action": "stop", "environment": "staging"}"#).unwrap();

    let out = against(&moto)
        .args(["invoke", "--schedule"])
        .arg(&schedule)
        .arg("--event")
        .arg(&event)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let (code, stdout, stderr) = outcome(out);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.starts_with("note: no state table (ECS_COST_SAVER_STATE_TABLE is not set): snapshots are kept in the ecs-cost-saver:snapshot tag"),
        "without a table it says what it does instead: {stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("one JSON report");
    assert_eq!(report["action"], "stop");
    assert_eq!(report["dry_run"], false);
    let services = support::outcomes(&report);
    assert_eq!(services, vec![("svc-a", "changed", 0), ("svc-b", "changed", 0)]);

    let sdk = moto.sdk().await;
    let described =
        sdk.ecs.describe_services().cluster("alpha").services("svc-a").services("svc-b").send().await.unwrap();
    let desired: Vec<i32> = described.services().iter().map(|s| s.desired_count()).collect();
    assert_eq!(desired, vec![0, 0], "the emulator at AWS_ENDPOINT_URL was changed");
    assert_eq!(world["services"]["svc-a"]["desired"], 3);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn init_state_makes_the_table_once_and_invoke_then_keeps_the_snapshots_there() {
    let moto = Moto::start();
    moto.seed(&["e2e"]);
    let init = || against(&moto).args(["init-state", "--table", "my-state"]).output().unwrap();
    let (code, stdout, stderr) = outcome(init());
    assert_eq!(
        (code, stdout.as_str()),
        (0, "state table created my-state\nexport ECS_COST_SAVER_STATE_TABLE=my-state\n"),
        "{stderr}"
    );
    let (code, stdout, _) = outcome(init());
    assert_eq!((code, stdout.lines().next()), (0, Some("state table already exists: my-state")), "idempotent");

    let out = against(&moto)
        .env("ECS_COST_SAVER_STATE_TABLE", "my-state")
        .args(["invoke", "--schedule", "schedules/example.yaml", "--format", "json", "--payload"])
        .arg(r#"{"action":"status","environment":"staging"}"#)
        .output()
        .unwrap();
    let (_, _, stderr) = outcome(out);
    assert!(!stderr.contains("no state table"), "{stderr}");
    let sdk = moto.sdk().await;
    let table = sdk.dynamodb.describe_table().table_name("my-state").send().await.unwrap();
    let key: Vec<&str> = table.table().unwrap().key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(key, ["service"]);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-cost-saver-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// YAML mistakes at the character to change, with what to do, wherever the parser stopped (its own
/// marks, in the comment below, are often on a later line).
#[test]
fn validate_points_at_the_yaml_mistake_and_says_how_to_fix_it() {
    let files = ["tab.yaml", "unclosed-quote.yaml", "unclosed-bracket.yaml", "duplicate-key.yaml", "bad-alias.yaml"];
    let out = bin(&repo().join("tests/fixtures/schedules")).arg("validate").args(files).output();
    assert_eq!(
        outcome(out.unwrap()),
        (
            1,
            String::new(),
            // The parser said: 7:18 while scanning a plain scalar, found a tab; 4:14 invalid trailing
            // content after double-quoted scalar; 4:10 illegal placement of ':' indicator; 8:5
            // duplicate mapping key: services; 8:11 alias references unknown anchor.
            "\
tab.yaml:8:1: tabs are not allowed in YAML indentation; use spaces
unclosed-quote.yaml:3:12: this quoted string is never closed: add the closing \"
unclosed-bracket.yaml:3:11: this `[` is never closed: add the closing `]`
duplicate-key.yaml:8:5: duplicate key `services` (first at line 4): a key may appear once per mapping
bad-alias.yaml:8:11: alias `*weeknight` is not defined: define it with `&weeknight` before its use
"
            .into()
        )
    );
}

/// `plan` shows a selector as written (its services are only known when the function runs)
/// and the start order.
#[test]
fn plan_shows_selectors_as_such_and_the_start_order() {
    let dir = tempdir();
    let file = dir.join("select.yaml");
    std::fs::write(
        &file,
        "environments:
  staging:
    stop: [\"cron(0 22 ? * MON-FRI *)\"]
    start: [\"cron(0 8 ? * MON-FRI *)\"]
    start_order: [[migrate], [api, worker], [web]]
    services:
      - { cluster: shop, select: all, except: [batch] }
      - { cluster: shared, select: { tags: { env: staging } } }
      - { cluster: shop, service: api, desired_count: 2 }
  dev:
    services: [{ cluster: shop-dev, select: all }]
",
    )
    .unwrap();
    let out = bin(&dir).args(["plan", "select.yaml", "--from", "2026-12-28T09:00:00+09:00", "--count", "1"]).output();
    let (code, stdout, stderr) = outcome(out.unwrap());
    assert_eq!((code, stderr.as_str()), (0, ""));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "dev (Asia/Tokyo), from 2026-12-28 (Mon) 09:00 JST",
            "  manual only: no crons; started and stopped by hand",
            "  selects services[0], line 11 (shop-dev: select all): chosen when the function runs, not counted above",
        ]
    );
    assert_eq!(
        lines[lines.len() - 4..],
        [
            "  up 70 of 168 hours a week (41.7%); 2 task(s): 336 -> 140 task-hours a week (-58.3%)",
            "  selects services[0], line 7 (shop: select all except batch): chosen when the function runs, not counted above",
            "  selects services[1], line 8 (shared: select tags env=staging): chosen when the function runs, not counted above",
            "  start order: [migrate], then [api, worker], then [web] (stop: the reverse)",
        ]
    );
}
