//! The fuzz targets of `fuzz/` (the same functions, `fuzz/targets.rs`) driven on stable Rust by
//! proptest: mutations of the fixtures (byte flips, truncations, inserted tokens; JSON fields
//! deleted, renamed or given another type), YAML documents built from the schedule grammar,
//! crons built from the cron alphabet, and raw bytes. A panic anywhere fails the test with the
//! smallest input proptest can shrink it to.
//!
//! `cargo test --test fuzz_loop` runs a fixed, seeded number of cases (CI); with
//! `FUZZ_SECONDS=N` each target runs for N seconds on random seeds and prints how many inputs
//! it ran (`scripts/fuzz`). `FUZZ_SEED` fixes the seed.

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::Value;

/// Cases per target in a plain `cargo test` (debug build): together well under a minute on
/// two cores.
const INPUT_CASES: u32 = 10_000;
const SCHEDULE_CASES: u32 = 5000;
const CRON_CASES: u32 = 5000;

// ---- seeds ----

fn files(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Event fixtures and payload seeds.
fn json_seeds() -> Vec<Vec<u8>> {
    let mut seeds = files("tests/fixtures/events", "json");
    seeds.extend(files("fuzz/seeds/input", "json"));
    seeds
}

fn yaml_seeds() -> Vec<Vec<u8>> {
    let mut seeds = files("tests/fixtures/schedules", "yaml");
    seeds.extend(files("schedules", "yaml"));
    seeds.push(std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo-schedule.yaml")).unwrap());
    seeds
}

/// `fuzz/seeds/crons.txt` and every `cron(…)` in the schedule seeds.
fn cron_seeds() -> Vec<Vec<u8>> {
    let list = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/crons.txt")).unwrap();
    let mut seeds: Vec<String> = list.lines().map(str::to_string).collect();
    for yaml in yaml_seeds() {
        let text = String::from_utf8(yaml).unwrap();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("cron(") {
            let end = rest[start..].find(')').map_or(rest.len(), |e| start + e + 1);
            seeds.push(rest[start..end].to_string());
            rest = &rest[end..];
        }
    }
    seeds.sort();
    seeds.dedup();
    seeds.into_iter().map(String::into_bytes).collect()
}

// ---- byte-level mutations, for every target ----

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize, usize),
    Insert(usize, Vec<u8>),
}

fn mutation(tokens: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>;
    prop_oneof![
        (pos(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        (pos(), any::<u8>()).prop_map(|(p, b)| Mutation::SetByte(p, b)),
        (pos(), 1usize..16).prop_map(|(p, n)| Mutation::Delete(p, n)),
        pos().prop_map(Mutation::Truncate),
        (pos(), 1usize..32, pos()).prop_map(|(p, n, at)| Mutation::Duplicate(p, n, at)),
        (pos(), proptest::sample::select(tokens)).prop_map(|(p, t)| Mutation::Insert(p, t.as_bytes().to_vec())),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |p: usize, len: usize| p % (len + 1);
        match m {
            Mutation::FlipBit(p, b) if !data.is_empty() => {
                let i = p % data.len();
                data[i] ^= 1 << b;
            }
            Mutation::SetByte(p, b) if !data.is_empty() => {
                let i = p % data.len();
                data[i] = *b;
            }
            Mutation::Delete(p, n) => {
                let i = at(*p, data.len());
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
            Mutation::Truncate(p) => data.truncate(at(*p, data.len())),
            Mutation::Duplicate(p, n, to) => {
                let i = at(*p, data.len());
                let piece = data[i..(i + n).min(data.len())].to_vec();
                let to = at(*to, data.len());
                data.splice(to..to, piece);
            }
            Mutation::Insert(p, bytes) => {
                let i = at(*p, data.len());
                data.splice(i..i, bytes.iter().copied());
            }
            _ => {}
        }
    }
    data
}

/// A seed with 1-8 byte-level mutations.
fn mutated(seeds: Vec<Vec<u8>>, tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (proptest::sample::select(seeds), proptest::collection::vec(mutation(tokens), 1..8))
        .prop_map(|(seed, ms)| mutate(seed, &ms))
}

fn raw_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..256)
}

// ---- (a) JSON input ----

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    ":",
    ",",
    "null",
    "true",
    "1e999",
    "-0",
    "18446744073709551616",
    "-1",
    "0.5",
    "\"\":",
    "{\"a\":",
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{1F600}",
    "\"action\":",
    "\"source\":",
];

const KEYS: &[&str] = &[
    "action",
    "environment",
    "dry_run",
    "until",
    "scheduled",
    "source",
    "detail-type",
    "detail",
    "taskArn",
    "clusterArn",
    "version",
    "desiredStatus",
    "lastStatus",
    "stopCode",
    "stoppedReason",
    "group",
    "containers",
    "name",
    "networkBindings",
    "networkInterfaces",
    "privateIpv4Address",
    "containerPort",
    "hostPort",
    "attachments",
    "details",
    "type",
    "value",
    "containerInstanceArn",
    "instance-id",
    "instance-action",
    "dryrun",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(70000)),
        Just(Value::from(-1.5)),
        Just(Value::from(1e300)),
        proptest::sample::select(vec![
            "",
            "stop",
            "start",
            "register",
            "status",
            "reconcile",
            "spot-interruption",
            "staging",
            "aws.ecs",
            "aws.ec2",
            "ECS Task State Change",
            "EC2 Spot Instance Interruption Warning",
            "STOPPED",
            "RUNNING",
            "SpotInterruption",
            "TerminationNotice",
            "Your Spot Task was interrupted.",
            "service:web",
            "service:",
            "arn:aws:ecs:ap-northeast-1:123456789012:cluster/spot",
            "arn:aws:ecs:ap-northeast-1:123456789012:task/spot/abc",
            "/",
            "eni",
            "privateIPv4Address",
            "10.0.1.23",
            "i-0123456789abcdef0",
            "2026-11-25T23:00:00+09:00",
            "2026-11-25T23:00:00",
            "2026-02-30T00:00:00Z",
            "+275760-09-13T00:00:00Z",
            "yes",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum JsonEdit {
    /// Remove the child picked by the number (a field or an element).
    Remove(usize),
    Replace(Value),
    Insert(&'static str, Value),
    Rename(usize, &'static str),
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        any::<usize>().prop_map(JsonEdit::Remove),
        json_value().prop_map(JsonEdit::Replace),
        (proptest::sample::select(KEYS), json_value()).prop_map(|(k, v)| JsonEdit::Insert(k, v)),
        (any::<usize>(), proptest::sample::select(KEYS)).prop_map(|(i, k)| JsonEdit::Rename(i, k)),
    ]
}

/// Apply `edit` at the node `path` leads to (each number picks a child, or stops there).
fn edit_json(value: &mut Value, path: &[usize], edit: &JsonEdit) {
    let len = match value {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    };
    if let Some((&step, rest)) = path.split_first()
        && len > 0
        && step % 3 != 0
    {
        let i = step % len;
        let child = match value {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => o.values_mut().nth(i).unwrap(),
            _ => unreachable!(),
        };
        return edit_json(child, rest, edit);
    }
    match (edit, value) {
        (JsonEdit::Remove(i), Value::Array(a)) if !a.is_empty() => {
            a.remove(i % a.len());
        }
        (JsonEdit::Remove(i), Value::Object(o)) if !o.is_empty() => {
            let key = o.keys().nth(i % o.len()).unwrap().clone();
            o.remove(&key);
        }
        (JsonEdit::Insert(k, v), Value::Object(o)) => {
            o.insert(k.to_string(), v.clone());
        }
        (JsonEdit::Rename(i, k), Value::Object(o)) if !o.is_empty() => {
            let key = o.keys().nth(i % o.len()).unwrap().clone();
            let v = o.remove(&key).unwrap();
            o.insert(k.to_string(), v);
        }
        (JsonEdit::Replace(v), node) => *node = v.clone(),
        _ => {}
    }
}

/// A fixture parsed, edited (fields deleted, renamed, added, values of another type), and
/// written back out.
fn json_edited(seeds: Vec<Value>) -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((proptest::collection::vec(any::<usize>(), 0..5), json_edit()), 1..5);
    (proptest::sample::select(seeds), edits, any::<bool>()).prop_map(|(mut v, edits, pretty)| {
        for (path, edit) in &edits {
            edit_json(&mut v, path, edit);
        }
        if pretty { serde_json::to_vec_pretty(&v) } else { serde_json::to_vec(&v) }.unwrap()
    })
}

fn json_inputs() -> impl Strategy<Value = Vec<u8>> {
    let seeds = json_seeds();
    let values: Vec<Value> = seeds.iter().filter_map(|s| serde_json::from_slice(s).ok()).collect();
    prop_oneof![
        4 => json_edited(values),
        3 => mutated(seeds, JSON_TOKENS),
        2 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => raw_bytes(),
    ]
}

// ---- (b) YAML built from the schedule grammar ----

/// A YAML node, rendered with a style picked per node.
#[derive(Debug, Clone)]
enum Yaml {
    Map(Vec<(String, Yaml)>),
    List(Vec<Yaml>),
    Scalar(String),
    /// Written as is (aliases, tags, block scalars, broken fragments).
    Raw(String),
}

/// Mostly a valid value, sometimes one the validation must refuse.
fn value(valid: &'static [&'static str], invalid: &'static [&'static str]) -> impl Strategy<Value = Yaml> {
    prop_oneof![
        40 => proptest::sample::select(valid),
        1 => proptest::sample::select(invalid),
    ]
    .prop_map(|s| Yaml::Scalar(s.to_string()))
}

fn entry(
    key: &'static str,
    weight: f64,
    value: impl Strategy<Value = Yaml>,
) -> impl Strategy<Value = Option<(String, Yaml)>> {
    proptest::option::weighted(weight, value.prop_map(move |v| (key.to_string(), v)))
}

fn map(entries: Vec<Option<(String, Yaml)>>) -> Yaml {
    Yaml::Map(entries.into_iter().flatten().collect())
}

const COUNTS: &[&str] = &["0", "1", "2", "4", "5000"];
const BAD_COUNTS: &[&str] = &["5001", "-1", "4294967296", "two", "1.5", "~", "0x10", "1e3", "[]"];
const ECS_NAMES: &[&str] = &["example-cluster", "api-stg", "web", "c", "s", "worker_1"];
const BAD_ECS_NAMES: &[&str] = &["", "arn:aws:ecs:ap-northeast-1:123456789012:service/c/s", "a b", "ü", "~", "[]"];
const ENV_NAMES: &[&str] = &["staging", "dev", "a-b-c", "x", "123", "a-thirty-two-character-name-abcd"];
const BAD_ENV_NAMES: &[&str] = &["Prod", "", "two words", "日本", "a-thirty-three-character-name-abcd", "[x]"];

fn yaml_service() -> impl Strategy<Value = Yaml> {
    let target_group = (
        entry(
            "arn",
            0.95,
            value(
                &["arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/extra/0123456789abcdef"],
                &[
                    "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/x/1",
                    "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/a//b",
                    "arn:aws:elasticloadbalancing::123456789012:targetgroup/a/b",
                    "targetgroup/x/1",
                ],
            ),
        ),
        entry("container", 0.99, value(&["app"], &[""])),
        entry("port", 0.99, value(&["80", "8080", "65535"], &["0", "65536", "-80", "http"])),
    )
        .prop_map(|(a, c, p)| map(vec![a, c, p]));
    (
        entry("cluster", 0.995, value(ECS_NAMES, BAD_ECS_NAMES)),
        entry("service", 0.995, value(ECS_NAMES, BAD_ECS_NAMES)),
        entry("desired_count", 0.5, value(COUNTS, BAD_COUNTS)),
        entry("min_capacity", 0.4, value(COUNTS, BAD_COUNTS)),
        entry("max_capacity", 0.4, value(COUNTS, BAD_COUNTS)),
        entry("target_groups", 0.2, proptest::collection::vec(target_group, 0..3).prop_map(Yaml::List)),
        entry("desired_cuont", 0.005, value(COUNTS, BAD_COUNTS)),
    )
        .prop_map(|(a, b, c, d, e, f, g)| map(vec![a, b, c, d, e, f, g]))
}

fn yaml_environment() -> impl Strategy<Value = Yaml> {
    let crons = || {
        let cron = prop_oneof![
            30 => cron_plausible(),
            1 => cron_text().prop_map(|c| String::from_utf8_lossy(&c).into_owned()),
        ];
        proptest::collection::vec(cron.prop_map(Yaml::Scalar), 0..3).prop_map(Yaml::List)
    };
    (
        entry("stop", 0.7, crons()),
        entry("start", 0.7, crons()),
        entry("services", 0.995, proptest::collection::vec(yaml_service(), 1..4).prop_map(Yaml::List)),
        entry("services", 0.005, Just(Yaml::List(vec![]))),
    )
        .prop_map(|(a, b, c, d)| map(vec![a, b, c, d]))
}

fn yaml_schedule() -> impl Strategy<Value = Yaml> {
    let dates = &["2026-12-29", "2027-01-03", "2024-02-29"];
    let bad_dates = &["2026-02-30", "2026-1-5", "20261229", "", "2026-12-29T00:00", "2026-12-29 "];
    let holidays = (
        entry("calendar", 0.6, value(&["japan"], &["JAPAN", "us", "1"])),
        entry("dates", 0.6, proptest::collection::vec(value(dates, bad_dates), 0..4).prop_map(Yaml::List)),
    )
        .prop_map(|(c, d)| map(vec![c, d]));
    let environments =
        proptest::collection::vec((value(ENV_NAMES, BAD_ENV_NAMES), yaml_environment()), 1..4).prop_map(|envs| {
            Yaml::Map(
                envs.into_iter()
                    .map(|(k, v)| match k {
                        Yaml::Scalar(k) => (k, v),
                        _ => unreachable!(),
                    })
                    .collect(),
            )
        });
    let zones = &["Asia/Tokyo", "UTC", "America/New_York", "Australia/Lord_Howe", "America/Santiago"];
    let odd = &["*a", "&a x", "!!str 3", "!!binary aGk=", "|\n  x", ">-", "'", "? x", "{", "- x"];
    (
        entry("timezone", 0.5, value(zones, &["Mars/Olympus", "", "+09:00", "asia/tokyo", "JST"])),
        entry("holidays", 0.4, holidays),
        entry("environments", 0.98, environments),
        entry("unknown", 0.01, value(odd, odd)),
        proptest::option::weighted(0.01, proptest::sample::select(odd)),
    )
        .prop_map(|(tz, holidays, envs, unknown, raw)| {
            let mut top = map(vec![tz, holidays, envs, unknown]);
            if let (Some(raw), Yaml::Map(entries)) = (raw, &mut top) {
                entries.push(("anchored".to_string(), Yaml::Raw(raw.to_string())));
            }
            top
        })
}

/// Whether `s` can be written without quotes (in a flow collection, if `flow`).
fn plain(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let indicator = "-?:,[]{}#&*!|>'\"%@` \t".contains(first);
    let breaks = s.ends_with([' ', ':']) || s.contains(": ") || s.contains(" #") || s.chars().any(char::is_control);
    let in_flow = flow && s.contains([',', '[', ']', '{', '}']);
    let keyword = ["~", "null", "true", "false", "yes", "no"].contains(&s);
    !(indicator || breaks || in_flow || keyword)
}

/// A scalar, plain where it can be (always for numbers) or quoted one of two ways.
fn scalar(s: &str, how: u8, flow: bool) -> String {
    let numeric = s.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.') && !s.is_empty();
    match how % 4 {
        _ if plain(s, flow) && (numeric || how % 4 < 2) => s.to_string(),
        0 | 2 => format!("'{}'", s.replace('\'', "''")),
        _ => serde_json::to_string(s).unwrap(),
    }
}

/// Render `node` (block or flow style, quoting and indentation picked from `style`).
fn render(node: &Yaml, indent: usize, style: &mut impl Iterator<Item = u8>, out: &mut String) {
    let mut pick = || style.next().unwrap_or(0);
    let (a, b, c, d) = (pick(), pick(), pick(), pick());
    match node {
        Yaml::Scalar(s) => out.push_str(&scalar(s, a, false)),
        Yaml::Raw(s) => out.push_str(s),
        Yaml::List(items) if items.is_empty() || b % 3 == 0 => render_flow(node, a, out),
        Yaml::Map(entries) if entries.is_empty() || b % 4 == 0 => render_flow(node, a, out),
        Yaml::List(items) => {
            for item in items {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                match item {
                    // The first key on the dash's line, the others under it.
                    Yaml::Map(entries) if !entries.is_empty() && c % 2 == 0 => {
                        let mut inline = String::new();
                        render(item, indent + 2, style, &mut inline);
                        out.push_str(inline.trim_start_matches(['\n', ' ']));
                    }
                    _ => render(item, indent + 2, style, out),
                }
            }
        }
        Yaml::Map(entries) => {
            let step = if c % 8 == 0 { 4 } else { 2 };
            for (i, (key, value)) in entries.iter().enumerate() {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                out.push_str(&scalar(key, a.rotate_left(i as u32), false));
                out.push_str(": ");
                render(value, indent + step, style, out);
                if d.rotate_left(i as u32) % 16 == 0 {
                    out.push_str(" # a comment");
                }
            }
        }
    }
}

fn render_flow(node: &Yaml, how: u8, out: &mut String) {
    match node {
        Yaml::Scalar(s) => out.push_str(&scalar(s, how, true)),
        Yaml::Raw(s) => out.push_str(s),
        Yaml::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_flow(item, how.rotate_left(i as u32 + 1), out);
            }
            out.push(']');
        }
        Yaml::Map(entries) => {
            out.push_str("{ ");
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&scalar(k, how, true));
                out.push_str(": ");
                render_flow(v, how.rotate_left(i as u32 + 1), out);
            }
            out.push_str(" }");
        }
    }
}

const YAML_TOKENS: &[&str] = &[
    ": ",
    "- ",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!int ",
    "---\n",
    "...\n",
    "#",
    "{",
    "}",
    "[",
    "]",
    "'",
    "\"",
    "? ",
    "|\n",
    ">\n",
    "\\",
    "\u{feff}",
    "\r\n",
    "%YAML 1.2\n",
    "\u{0}",
    "~",
    "cron(",
];

fn yaml_built() -> impl Strategy<Value = Vec<u8>> {
    (yaml_schedule(), proptest::collection::vec(any::<u8>(), 64)).prop_map(|(doc, style)| {
        let mut out = String::new();
        render(&doc, 0, &mut style.into_iter().cycle(), &mut out);
        out.into_bytes()
    })
}

fn yaml_inputs() -> impl Strategy<Value = Vec<u8>> {
    let built_then_mutated = (yaml_built(), proptest::collection::vec(mutation(YAML_TOKENS), 1..4))
        .prop_map(|(doc, ms): (Vec<u8>, Vec<Mutation>)| mutate(doc, &ms));
    prop_oneof![
        5 => yaml_built(),
        2 => built_then_mutated,
        2 => mutated(yaml_seeds(), YAML_TOKENS),
        1 => raw_bytes(),
    ]
}

// ---- (c) crons from the cron alphabet ----

const CRON_ATOMS: &[&str] = &[
    "*", "?", "L", "W", "LW", "0", "1", "5", "7", "8", "12", "15", "23", "24", "29", "30", "31", "32", "59", "60",
    "-1", "1970", "2026", "2100", "2199", "2200", "JAN", "FEB", "NOV", "DEC", "jul", "JAM", "SUN", "MON", "FRI", "SAT",
    "sat", "XYZ", "",
];

fn cron_item() -> impl Strategy<Value = String> {
    let atom = || proptest::sample::select(CRON_ATOMS);
    let number = || prop_oneof![0u32..=60, 1968u32..=2201];
    prop_oneof![
        4 => atom().prop_map(str::to_string),
        3 => number().prop_map(|n| n.to_string()),
        3 => (atom(), atom()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => (number(), number()).prop_map(|(a, b)| format!("{a}-{b}")),
        2 => (atom(), 0u32..=70).prop_map(|(a, s)| format!("{a}/{s}")),
        1 => (number(), number(), 0u32..=13).prop_map(|(a, b, s)| format!("{a}-{b}/{s}")),
        1 => (0u32..=33).prop_map(|d| format!("{d}W")),
        1 => (atom(), 0u32..=6).prop_map(|(a, n)| format!("{a}#{n}")),
        1 => (atom()).prop_map(|a| format!("{a}L")),
        1 => (0u32..=8).prop_map(|n| format!("L-{n}")),
    ]
}

fn cron_field() -> impl Strategy<Value = String> {
    proptest::collection::vec(cron_item(), 1..4).prop_map(|items| items.join(","))
}

/// A cron that is often valid: each field from items plausible for it, `?` in one day field.
fn cron_plausible() -> impl Strategy<Value = String> {
    let list = |items: Vec<&'static str>| {
        proptest::collection::vec(proptest::sample::select(items), 1..3).prop_map(|v| v.join(","))
    };
    (
        prop_oneof![list(vec!["0", "15", "30", "59", "*", "*/5", "0/20", "10-40/7"])],
        prop_oneof![list(vec!["0", "2", "8", "22", "23", "*", "*/6", "1-3", "18-23"])],
        prop_oneof![
            list(vec!["1", "15", "29", "30", "31", "*", "1-7"]),
            Just("L".into()),
            Just("LW".into()),
            Just("15W".into())
        ],
        prop_oneof![list(vec!["*", "1", "2", "3", "10", "11", "12", "FEB", "NOV-FEB", "JAN,JUL", "*/2"])],
        prop_oneof![
            list(vec!["*", "1", "7", "MON-FRI", "SUN-THU", "FRI-MON", "SAT"]),
            Just("6L".into()),
            Just("2#5".into()),
            Just("MON#1".into())
        ],
        prop_oneof![list(vec!["*", "1970", "2026", "2026-2028", "2100", "2199", "2030/5"])],
        any::<bool>(),
    )
        .prop_map(|(mi, h, dom, mo, dow, y, dom_wins)| {
            let (dom, dow) = if dom_wins { (dom, "?".to_string()) } else { ("?".to_string(), dow) };
            format!("cron({mi} {h} {dom} {mo} {dow} {y})")
        })
}

fn cron_text() -> impl Strategy<Value = Vec<u8>> {
    let fields = proptest::collection::vec(cron_field(), 4..8);
    let sep = proptest::sample::select(vec![" ", " ", " ", "  ", "\t", " \u{a0}"]);
    let wrapper = proptest::sample::select(vec![
        ("cron(", ")"),
        ("cron(", ")"),
        (" cron( ", " ) "),
        ("CRON(", ")"),
        ("cron(", ""),
        ("rate(", ")"),
        ("", ""),
    ]);
    let built = (fields, sep, wrapper).prop_map(|(f, sep, (open, close))| format!("{open}{}{close}", f.join(sep)));
    prop_oneof![
        5 => cron_plausible().prop_map(String::into_bytes),
        3 => built.prop_map(String::into_bytes),
        2 => mutated(cron_seeds(), CRON_ATOMS),
        1 => "[0-9A-Za-z*?,/#() -]{0,40}".prop_map(String::into_bytes),
        1 => raw_bytes(),
    ]
}

// ---- the driver ----

/// Run `target` on inputs from `strategy`: `cases` of them with a fixed seed, or with
/// `FUZZ_SECONDS` as many as fit in that time. Prints what it ran.
fn drive(name: &str, cases: u32, strategy: impl Strategy<Value = Vec<u8>>, target: fn(&[u8]) -> bool) {
    let seconds: Option<u64> = std::env::var("FUZZ_SECONDS").ok().map(|s| s.parse().expect("FUZZ_SECONDS: a number"));
    let seed: u64 = match std::env::var("FUZZ_SEED") {
        Ok(s) => s.parse().expect("FUZZ_SEED: a number"),
        Err(_) if seconds.is_some() => rand_seed(),
        // CI: the same inputs every run.
        Err(_) => name.bytes().fold(7, |h, b| h * 31 + u64::from(b)),
    };
    let started = Instant::now();
    let deadline = seconds.map(|s| started + Duration::from_secs(s));
    let batch = if deadline.is_some() { 2000 } else { cases };
    let mut executions: u64 = 0;
    let accepted = std::sync::atomic::AtomicU64::new(0);
    let mut round = 0;
    loop {
        let config = Config {
            cases: batch,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(seed.wrapping_add(round)),
            max_shrink_iters: 10_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        if let Err(e) = runner.run(&(&strategy).prop_map(Data), |data| {
            if target(&data.0) {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }) {
            // The first `batch` cases of a seed are the same whatever the case count.
            let again = seed.wrapping_add(round);
            panic!("{name}: {e}\nrerun: FUZZ_SEED={again} cargo test --test fuzz_loop -- --exact {name}");
        }
        executions += u64::from(batch);
        round += 1;
        match deadline {
            Some(d) if Instant::now() < d => continue,
            _ => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let accepted = accepted.into_inner();
    println!(
        "fuzz_loop {name}: {executions} executions ({accepted} accepted) in {secs:.1} s, no failure (seed {seed})"
    );
}

/// An input, shown as text with escapes when a failure is reported.
struct Data(Vec<u8>);

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

#[test]
fn seeds_run_clean() {
    // Every seed as it is: the fixtures themselves must pass the targets' checks.
    for s in json_seeds() {
        targets::input(&s);
    }
    for s in yaml_seeds() {
        targets::schedule(&s);
    }
    for s in cron_seeds() {
        targets::cron(&s);
    }
    assert!(json_seeds().len() >= 20 && yaml_seeds().len() >= 4 && cron_seeds().len() >= 20);
}

#[test]
fn input() {
    drive("input", INPUT_CASES, json_inputs(), targets::input);
}

#[test]
fn schedule() {
    drive("schedule", SCHEDULE_CASES, yaml_inputs(), targets::schedule);
}

#[test]
fn cron() {
    drive("cron", CRON_CASES, cron_text(), targets::cron);
}
