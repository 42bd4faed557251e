//! The functions' IAM policy (`terraform/iam.tf`, `data "aws_iam_policy_document" "function"`)
//! grants exactly the AWS operations the code calls: no fewer (a call would be denied in AWS),
//! no more (least privilege). Both sides are read from the sources, so neither can change
//! without the other.
//!
//! The code side: the `Sdk` struct in `src/aws/sdk.rs` names one client per SDK crate; every
//! `.client.operation(` chain in `src/` is a call, named in IAM as `prefix:Operation`. Every
//! `from_sdk("Operation"` must be among them, so a call written another way is noticed.
//! The Terraform side: the quoted strings in the `actions = [...]` lists of that one policy.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The IAM service prefix of each SDK crate a client may come from. A new client fails the test
/// until its crate is added here.
const IAM_PREFIXES: &[(&str, &str)] = &[
    ("aws_sdk_ecs", "ecs"),
    ("aws_sdk_applicationautoscaling", "application-autoscaling"),
    ("aws_sdk_elasticloadbalancingv2", "elasticloadbalancing"),
    ("aws_sdk_scheduler", "scheduler"),
    ("aws_sdk_dynamodb", "dynamodb"),
    ("aws_sdk_autoscaling", "autoscaling"),
];

/// Called by the code, but only by the CLI, never by the function, and why.
const CLI_ONLY: &[(&str, &str)] = &[
    ("dynamodb:CreateTable", "`ecs-cost-saver init-state`; Terraform creates the deployed table"),
    ("dynamodb:DescribeTable", "`ecs-cost-saver init-state` waits for the table it created"),
];

/// Granted although the code makes no such call, and why.
const NOT_CALLS: &[(&str, &str)] = &[
    ("logs:CreateLogStream", "Lambda writes the functions' logs with their role"),
    ("logs:PutLogEvents", "Lambda writes the functions' logs with their role"),
    ("sqs:SendMessage", "Lambda sends the functions' dead letters with their role"),
    ("iam:PassRole", "CreateSchedule and UpdateSchedule hand the scheduler role to Scheduler"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn rust_sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.clone(), read(&path)));
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `describe_services` -> `DescribeServices`.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// (field, IAM prefix) of every `pub FIELD: CRATE::Client` in `struct Sdk`.
fn clients(sdk_rs: &str) -> Vec<(String, String)> {
    let start = sdk_rs.find("pub struct Sdk {").expect("src/aws/sdk.rs defines `pub struct Sdk {`");
    let body = &sdk_rs[start..start + sdk_rs[start..].find('}').unwrap()];
    let mut found = Vec::new();
    for line in body.lines().skip(1) {
        let line = line.trim().trim_end_matches(',');
        let Some((field, ty)) = line.strip_prefix("pub ").and_then(|l| l.split_once(':')) else { continue };
        // The pacing of the clients' calls: no AWS client of its own.
        if ty.trim() == "Pace" {
            continue;
        }
        let krate = ty.trim().strip_suffix("::Client").unwrap_or_else(|| panic!("Sdk field `{line}` is not a Client"));
        let prefix = IAM_PREFIXES
            .iter()
            .find(|(k, _)| *k == krate)
            .unwrap_or_else(|| panic!("Sdk has a client of {krate}: add its IAM prefix to IAM_PREFIXES"))
            .1;
        found.push((field.trim().to_string(), prefix.to_string()));
    }
    assert!(!found.is_empty(), "no client fields found in struct Sdk");
    found
}

/// `prefix:Operation` for every `.FIELD .operation(` (whitespace allowed between) in `text`.
fn calls_in(text: &str, clients: &[(String, String)]) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for (field, prefix) in clients {
        let needle = format!(".{field}");
        for (at, _) in text.match_indices(&needle) {
            let rest = &text[at + needle.len()..];
            if rest.starts_with(is_ident) {
                continue; // `.ecs_foo`, not the client
            }
            let Some(rest) = rest.trim_start().strip_prefix('.') else { continue };
            let op: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !op.is_empty() && rest[op.len()..].starts_with('(') {
                calls.insert(format!("{prefix}:{}", pascal(&op)));
            }
        }
    }
    calls
}

/// The operation names of every `from_sdk("Name"` in `text`.
fn from_sdk_names(text: &str) -> BTreeSet<String> {
    text.match_indices("from_sdk(\"")
        .map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// What the code calls, as IAM actions, checked against the `from_sdk` names.
fn code_actions(sources: &[(PathBuf, String)], sdk_rs: &str) -> BTreeSet<String> {
    let clients = clients(sdk_rs);
    let mut calls = BTreeSet::new();
    let mut named = BTreeSet::new();
    for (_, text) in sources {
        calls.extend(calls_in(text, &clients));
        named.extend(from_sdk_names(text));
    }
    let operations: BTreeSet<String> = calls.iter().map(|a| a.split_once(':').unwrap().1.to_string()).collect();
    let unseen: Vec<_> = named.difference(&operations).collect();
    assert!(unseen.is_empty(), "from_sdk names {unseen:?} match no `.client.operation(` call the scan found");
    calls
}

/// The text of `data "aws_iam_policy_document" "NAME" { ... }` in `tf`, comments dropped.
fn policy_block(tf: &str, name: &str) -> String {
    let header = format!("data \"aws_iam_policy_document\" \"{name}\" {{");
    let start = tf.find(&header).unwrap_or_else(|| panic!("no `{header}` in terraform/iam.tf"));
    let mut depth = 0usize;
    let mut block = String::new();
    for line in tf[start..].lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        // Interpolations (`${...}`) balance within a line, so counting every brace is enough.
        depth += line.matches('{').count();
        depth -= line.matches('}').count();
        block.push_str(line);
        block.push('\n');
        if depth == 0 {
            return block;
        }
    }
    panic!("the `{header}` block does not close");
}

/// The quoted strings of every `actions = [...]` list in `block`.
fn granted_actions(block: &str) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    let mut rest = block;
    while let Some(at) = rest.find("actions") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "actions".len()..];
        if before.is_some_and(is_ident) {
            continue; // e.g. `not_actions`, which the policy must not use
        }
        let Some(list) = rest.trim_start().strip_prefix('=').map(str::trim_start) else { continue };
        let list = list.strip_prefix('[').expect("`actions =` is followed by a list");
        let list = &list[..list.find(']').expect("the actions list closes")];
        for quoted in list.split('"').skip(1).step_by(2) {
            actions.insert(quoted.to_string());
        }
    }
    actions
}

fn difference(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

/// Empty when the policy grants exactly `called` plus [`NOT_CALLS`]; else what differs.
fn drift(called: &BTreeSet<String>, granted: &BTreeSet<String>) -> Vec<String> {
    let mut expected = called.clone();
    for (a, _) in CLI_ONLY {
        expected.remove(*a);
    }
    expected.extend(NOT_CALLS.iter().map(|(a, _)| a.to_string()));
    let mut problems = Vec::new();
    for a in difference(&expected, granted) {
        problems.push(format!("called but not granted in terraform/iam.tf: {a}"));
    }
    for a in difference(granted, &expected) {
        problems.push(format!("granted in terraform/iam.tf but not called by src/: {a}"));
    }
    problems
}

struct Sources {
    rust: Vec<(PathBuf, String)>,
    sdk_rs: String,
    iam_tf: String,
}

fn sources() -> Sources {
    let mut rust = Vec::new();
    rust_sources(&root().join("src"), &mut rust);
    Sources { rust, sdk_rs: read(&root().join("src/aws/sdk.rs")), iam_tf: read(&root().join("terraform/iam.tf")) }
}

#[test]
fn the_function_policy_grants_exactly_what_the_code_calls() {
    let s = sources();
    let called = code_actions(&s.rust, &s.sdk_rs);
    let block = policy_block(&s.iam_tf, "function");
    assert!(!block.contains("not_actions"), "the policy must list its actions, not exclude some");
    let granted = granted_actions(&block);
    assert!(granted.iter().all(|a| !a.contains('*')), "wildcard actions granted: {granted:?}");
    let problems = drift(&called, &granted);
    assert!(problems.is_empty(), "{}\n(code calls: {called:?})", problems.join("\n"));
    // The scan found something for every client: a pattern it does not recognise is not silence.
    for (_, prefix) in clients(&s.sdk_rs) {
        assert!(called.iter().any(|a| a.starts_with(&format!("{prefix}:"))), "no call found for the {prefix} client");
    }
}

#[test]
fn the_policy_names_the_snapshot_tag_and_the_one_time_schedules_the_code_uses() {
    let s = sources();
    let block = policy_block(&s.iam_tf, "function");
    let state = read(&root().join("src/state.rs"));
    let tag = state
        .split("pub const SNAPSHOT_TAG: &str = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("src/state.rs defines SNAPSHOT_TAG");
    assert!(block.contains(&format!("[\"{tag}\"]")), "the tag condition must allow exactly {tag:?}");
    let intent = read(&root().join("src/intent.rs"));
    let prefixes: Vec<&str> =
        intent.split("format!(\"").filter_map(|r| r.split_once("{environment}\")")).map(|(p, _)| p).collect();
    for kind in ["override", "continue"] {
        let prefix = prefixes
            .iter()
            .find(|p| p.contains(kind))
            .unwrap_or_else(|| panic!("src/intent.rs names {kind} schedules `format!(\"...{{environment}}\")`"));
        assert!(block.contains(&format!("/{prefix}*\"")), "{kind} schedules are scoped to {prefix}*");
    }
}

/// The comparison itself notices a change on either side.
#[test]
fn drift_on_either_side_is_reported() {
    let s = sources();
    let called = code_actions(&s.rust, &s.sdk_rs);
    let block = policy_block(&s.iam_tf, "function");
    // Relative to today's drift (none, unless the test above fails), so this test fails only
    // when the comparison misses a change.
    let base = drift(&called, &granted_actions(&block));
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let with = |extra: &str| sorted([base.clone(), vec![extra.to_string()]].concat());

    let fewer = block.replacen("\"ecs:UpdateService\"", "", 1);
    assert_eq!(
        sorted(drift(&called, &granted_actions(&fewer))),
        with("called but not granted in terraform/iam.tf: ecs:UpdateService")
    );

    let more = block.replacen("\"ecs:UpdateService\"", "\"ecs:UpdateService\", \"ecs:DeleteCapacityProvider\"", 1);
    assert_eq!(
        sorted(drift(&called, &granted_actions(&more))),
        with("granted in terraform/iam.tf but not called by src/: ecs:DeleteCapacityProvider")
    );

    let mut rust = s.rust.clone();
    rust.push(("new.rs".into(), "self.ecs\n    .stop_task()\n    .send()".into()));
    assert_eq!(
        sorted(drift(&code_actions(&rust, &s.sdk_rs), &granted_actions(&block))),
        with("called but not granted in terraform/iam.tf: ecs:StopTask")
    );
}

#[test]
fn names_are_read_as_iam_spells_them() {
    assert_eq!(pascal("update_container_instances_state"), "UpdateContainerInstancesState");
    let clients = [("elb".to_string(), "elasticloadbalancing".to_string())];
    let text = "self.elb.deregister_targets().x; self.elbow.foo(); self.elb\n  .describe_target_health()";
    assert_eq!(
        calls_in(text, &clients).into_iter().collect::<Vec<_>>(),
        ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeTargetHealth"]
    );
    let block = "statement {\n  actions = [\"a:B\", \"c:D\"]\n  not_actions = [\"x:Y\"]\n}\n";
    assert_eq!(granted_actions(block).into_iter().collect::<Vec<_>>(), ["a:B", "c:D"]);
}
