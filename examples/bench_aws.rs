//! Benchmark of `stop` then `start` of one environment of N services in an AWS-like world
//! (`tests/support/world.rs` in front of moto): AWS's published token buckets per API group,
//! throttled answers in each service's real shape, a fixed delay per request, and ECS's
//! scheduler, which starts a service's tasks `--task-start` seconds after its UpdateService and
//! registers them in the service's own target groups (and deregisters and stops them when the
//! count goes down). Side by side, through the same world in the same run, the naive loop users
//! copy: one service after another, one call after another, with the SDK's default retry.
//! Prints figures and whether the targets of issue 13 are held; asserts nothing about time.
//!
//!     cargo build --release --bin ecs-cost-saver --examples
//!     cargo run --release --example bench_aws [-- --services 50,200,1000 --clusters 10,10,20
//!         --quick --delay 20 --task-start 10 --tags --no-naive --naive-max 200
//!         --timeout 900 --limits GROUP=BURST/REFILL,... --select all|tags]
//!     (or `bash scripts/bench aws [ARGS]`)
//!
//! The world: `seed.py aws-fleet`: every service Fargate with 2 RUNNING tasks registered in its
//! own ip target group, every other one a scalable target (2..4), every 4th also a second
//! target group that only the schedule file lists (`target_groups:`), which ECS does not fill:
//! our tool must register the tasks there. Clusters: `--clusters` per N, else max(10, N/50).
//! The binary (`ECS_COST_SAVER_BENCH_BIN` for another build) runs as deployed: runs queued
//! (`ECS_COST_SAVER_SERIAL_RUNS=true`), snapshots in the state table (made by its
//! `init-state`; `--tags` keeps them in tags), `--timeout` 900 s so that the deadline is not
//! what limits it. Every bucket is full at the start of each phase (hours pass between a stop
//! and a start); between stop and start the world's ECS stops the tasks and deregisters them
//! from their own target groups, and the benchmark waits for it to finish.
//!
//! `--select all` lists, besides the services with a YAML-only target group, one
//! `{cluster: C, select: all}` per cluster instead of every service by name; `--select tags`
//! tags every service `env=bench` (straight on moto) and selects by that tag: the calls the
//! selectors add (ListServices, and DescribeServices of every service for tags) are in each
//! phase's list of operations.
//!
//! Columns, per N, per run (ours, naive) and phase (stop, start):
//! - `wall`: seconds from spawning the binary to its exit (naive: the loop's time);
//! - `calls`, `thr`, `thr%`: requests through the world, throttled answers among them, and
//!   their share;
//! - `bucket`: the bucket bound, the least time the calls that drew a token can take from
//!   full buckets, `max over groups of max(0, (calls − burst) / refill)` (`pace::bound`), and
//!   the group it comes from; the details list every group's calls, throttled and bound;
//! - `RT`: the round-trip bound, the longest chain of requests observed one after another
//!   (each sent after the previous was answered) × the delay;
//! - `task` (start only): the last UpdateService cannot go before its bucket lets it
//!   (ecs-service-modify's bound), and its tasks come `--task-start` later: that sum;
//! - `w/max`: wall / the largest of those bounds;
//! - `chg`/`same`/`fail`: services changed / unchanged / failed (our report; naive: a service
//!   one of whose calls returned an error counts as failed, the others as changed);
//! - `unreg` (start only): RUNNING tasks missing from any target group of their service, its
//!   own and the YAML-only one, read straight from moto after ECS is done;
//! - `restored` (start only): services whose desiredCount, min/max and number of RUNNING
//!   tasks are as seeded.

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::DesiredStatus;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use ecs_cost_saver::pace::{self, Calls, Group, Limits};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio::runtime::Runtime;

use support::world::{served, tally};
use support::{Failure, Moto, Options as WorldOptions, Request, World, aws_env, release_binary};

struct Options {
    services: Vec<usize>,
    /// Per N; None: max(10, N / 50).
    clusters: Option<Vec<usize>>,
    delay: Duration,
    task_start: Duration,
    table: bool,
    naive: bool,
    /// Run the naive loop only up to this N.
    naive_max: usize,
    timeout: u64,
    /// The world's buckets; also handed to the binary (ECS_COST_SAVER_RATE_LIMITS) when given.
    limits: Option<String>,
    /// `all` or `tags`: selectors instead of names (`--select`).
    select: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        services: vec![50, 200, 1000],
        clusters: None,
        delay: Duration::from_millis(20),
        task_start: Duration::from_secs(10),
        table: true,
        naive: true,
        naive_max: usize::MAX,
        timeout: 900,
        limits: None,
        select: None,
    };
    let list = |v: Option<String>| -> Vec<usize> {
        v.expect("a value").split(',').map(|n| n.trim().parse().expect("a whole number")).collect()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--services" => o.services = list(args.next()),
            "--clusters" => o.clusters = Some(list(args.next())),
            "--quick" => o.services = vec![50, 200],
            "--delay" => o.delay = Duration::from_millis(list(args.next())[0] as u64),
            "--task-start" => o.task_start = Duration::from_secs(list(args.next())[0] as u64),
            "--tags" => o.table = false,
            "--no-naive" => o.naive = false,
            "--naive-max" => o.naive_max = list(args.next())[0],
            "--timeout" => o.timeout = list(args.next())[0] as u64,
            "--limits" => o.limits = Some(args.next().expect("GROUP=BURST/REFILL,...")),
            "--select" => {
                let how = args.next().expect("all or tags");
                assert!(how == "all" || how == "tags", "--select takes all or tags, not {how}");
                o.select = Some(how);
            }
            other => panic!("unknown argument {other}; see the comment at the top of examples/bench_aws.rs"),
        }
    }
    o
}

impl Options {
    fn clusters(&self, i: usize, n: usize) -> usize {
        match &self.clusters {
            Some(c) => c.get(i).or(c.last()).copied().unwrap(),
            None => (n / 50).max(10),
        }
    }

    fn world_limits(&self) -> Limits {
        self.limits.as_deref().map_or_else(Limits::default, |l| Limits::parse(l).expect("--limits"))
    }
}

/// The state table of the default (table) runs.
const STATE_TABLE: &str = "ecs-cost-saver-bench-state";

/// One service of the seeded world.
struct Service {
    cluster: String,
    name: String,
    desired: i32,
    scaling: Option<(i32, i32)>,
    target_group: String,
    /// Target groups only the schedule file lists.
    yaml_target_groups: Vec<String>,
}

impl Service {
    fn target_groups(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.target_group).chain(&self.yaml_target_groups)
    }
}

fn services(world: &Value) -> Vec<Service> {
    let strings = |v: &Value| v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    world["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Service {
            cluster: s["cluster"].as_str().unwrap().into(),
            name: s["service"].as_str().unwrap().into(),
            desired: s["desired"].as_i64().unwrap() as i32,
            scaling: s["scaling"].as_array().map(|a| (a[0].as_i64().unwrap() as i32, a[1].as_i64().unwrap() as i32)),
            target_group: s["target_group"].as_str().unwrap().into(),
            yaml_target_groups: strings(&s["yaml_target_groups"]),
        })
        .collect()
}

fn schedule_yaml(fleet: &[Service], select: Option<&str>) -> String {
    let mut yaml = String::from("environments:\n  bench:\n    services:\n");
    if let Some(how) = select {
        let clusters: BTreeSet<&str> = fleet.iter().map(|s| s.cluster.as_str()).collect();
        let select = if how == "all" { "all" } else { "{tags: {env: bench}}" };
        for c in clusters {
            writeln!(yaml, "      - {{cluster: {c}, select: {select}}}").unwrap();
        }
    }
    for s in fleet {
        if s.yaml_target_groups.is_empty() && select.is_some() {
            continue;
        }
        if s.yaml_target_groups.is_empty() {
            writeln!(yaml, "      - {{cluster: {}, service: {}}}", s.cluster, s.name).unwrap();
        } else {
            writeln!(yaml, "      - cluster: {}\n        service: {}\n        target_groups:", s.cluster, s.name)
                .unwrap();
            for tg in &s.yaml_target_groups {
                writeln!(yaml, "          - {{arn: '{tg}', container: app, port: 8080}}").unwrap();
            }
        }
    }
    yaml
}

/// Every service tagged `env=bench`, straight on moto (for `--select tags`).
async fn tag_all(direct: &Clients, fleet: &[Service]) {
    for s in fleet {
        let arn = format!("arn:aws:ecs:ap-northeast-1:123456789012:service/{}/{}", s.cluster, s.name);
        let tag = aws_sdk_ecs::types::Tag::builder().key("env").value("bench").build();
        direct.ecs.tag_resource().resource_arn(arn).tags(tag).send().await.expect("moto tags the service");
    }
}

/// One phase of one run, as measured.
struct Phase {
    who: &'static str,
    action: &'static str,
    wall: Duration,
    log: Vec<Request>,
    changed: usize,
    unchanged: usize,
    failed: usize,
    /// What went wrong, in a few words (the first failures).
    problems: Vec<String>,
    /// After a start: RUNNING tasks missing from a target group of their service.
    unregistered: Option<usize>,
    /// After a start: services as seeded.
    restored: Option<usize>,
}

impl Phase {
    fn new(who: &'static str, action: &'static str, wall: Duration, log: Vec<Request>) -> Phase {
        Phase {
            who,
            action,
            wall,
            log,
            changed: 0,
            unchanged: 0,
            failed: 0,
            problems: Vec::new(),
            unregistered: None,
            restored: None,
        }
    }
}

/// Does the binary keep snapshots in a state table (does it have `init-state`)?
fn has_state_table(bin: &Path) -> bool {
    let out = Command::new(bin).arg("--help").output().expect("the binary runs");
    String::from_utf8_lossy(&out.stdout).contains("init-state")
}

fn init_state(bin: &Path, moto: &Moto) {
    let mut command = Command::new(bin);
    command.args(["init-state", "--table", STATE_TABLE]);
    aws_env(&mut command, &moto.endpoint);
    let out = command.output().unwrap();
    assert!(out.status.success(), "init-state: {}", String::from_utf8_lossy(&out.stderr));
}

/// `ecs-cost-saver invoke` of `action` through the world.
fn run_ours(bin: &Path, schedule: &Path, action: &'static str, world: &World, o: &Options, table: bool) -> Phase {
    world.refill();
    world.take();
    let mut command = Command::new(bin);
    command
        .args(["invoke", "--schedule"])
        .arg(schedule)
        .args(["--payload", &format!(r#"{{"environment":"bench","action":"{action}"}}"#)])
        .args(["--format", "json", "--timeout", &o.timeout.to_string()]);
    aws_env(&mut command, &world.endpoint());
    // As deployed (reserved concurrency 1): runs never overlap.
    command.env("ECS_COST_SAVER_SERIAL_RUNS", "true");
    if table {
        command.env("ECS_COST_SAVER_STATE_TABLE", STATE_TABLE);
    }
    if let Some(limits) = &o.limits {
        command.env("ECS_COST_SAVER_RATE_LIMITS", limits);
    }
    let spawned = Instant::now();
    let out = command.output().unwrap();
    let wall = spawned.elapsed();
    let mut phase = Phase::new("ours", action, wall, world.take());
    let stderr = String::from_utf8_lossy(&out.stderr);
    match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(report) => {
            for s in report["services"].as_array().into_iter().flatten() {
                match s["outcome"].as_str() {
                    Some("changed") => phase.changed += 1,
                    Some("unchanged") => phase.unchanged += 1,
                    _ => {
                        phase.failed += 1;
                        if phase.problems.len() < 3 {
                            phase.problems.push(format!("{}/{}: {}", s["cluster"], s["service"], s["error"]));
                        }
                    }
                }
            }
        }
        Err(_) => phase.problems.push(format!("no report (exit {}): {}", out.status, stderr.trim())),
    }
    if !out.status.success() && phase.problems.is_empty() {
        phase.problems.push(format!("exit {}: {}", out.status, stderr.lines().last().unwrap_or_default()));
    }
    phase
}

/// SDK configuration for `endpoint`: the SDK's defaults (standard retry, 3 attempts) unless
/// one attempt is asked for (the benchmark's own reads, straight to moto).
async fn sdk_config(endpoint: &str, one_attempt: bool) -> SdkConfig {
    let mut config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("ap-northeast-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"));
    if one_attempt {
        config = config.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1));
    }
    config.load().await
}

/// The clients of the naive loop and of the benchmark's checks.
struct Clients {
    ecs: aws_sdk_ecs::Client,
    scaling: aws_sdk_applicationautoscaling::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
}

impl Clients {
    fn new(config: &SdkConfig) -> Clients {
        Clients {
            ecs: aws_sdk_ecs::Client::new(config),
            scaling: aws_sdk_applicationautoscaling::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
        }
    }
}

/// The naive loop's first calls for one service ([`support::naive_set`]).
async fn naive_set(aws: &Clients, s: &Service, capacity: Option<(i32, i32)>, desired: i32) -> Result<(), Failure> {
    support::naive_set(&aws.scaling, &aws.ecs, &s.cluster, &s.name, capacity, desired).await
}

/// The naive start of one service: restore its counts (it knows them; it keeps no snapshot of
/// its own), then register the tasks running now in its target groups, its own and the YAML's.
async fn naive_start(aws: &Clients, s: &Service) -> Result<(), Failure> {
    naive_set(aws, s, s.scaling, s.desired).await?;
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(&s.cluster)
        .service_name(&s.name)
        .desired_status(DesiredStatus::Running)
        .send()
        .await?;
    let mut ips = Vec::new();
    if !listed.task_arns().is_empty() {
        let tasks =
            aws.ecs.describe_tasks().cluster(&s.cluster).set_tasks(Some(listed.task_arns().to_vec())).send().await?;
        let group = format!("service:{}", s.name);
        ips = tasks.tasks().iter().filter(|t| t.group() == Some(group.as_str())).filter_map(task_ip).collect();
    }
    let described = aws.ecs.describe_services().cluster(&s.cluster).services(&s.name).send().await?;
    let own = described.services().iter().flat_map(|s| s.load_balancers()).filter_map(|lb| lb.target_group_arn());
    let all: BTreeSet<String> = own.map(str::to_string).chain(s.yaml_target_groups.iter().cloned()).collect();
    for tg in all.iter().filter(|_| !ips.is_empty()) {
        let targets = ips.iter().map(|ip| TargetDescription::builder().id(ip).port(8080).build());
        aws.elb.register_targets().target_group_arn(tg).set_targets(Some(targets.collect())).send().await?;
    }
    Ok(())
}

fn task_ip(t: &aws_sdk_ecs::types::Task) -> Option<String> {
    t.attachments()
        .iter()
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value().map(str::to_string))
}

/// The naive loop of `action` over the fleet; a service whose call failed is counted failed.
fn run_naive(action: &'static str, world: &World, fleet: &[Service], rt: &Runtime) -> Phase {
    let aws = Clients::new(&rt.block_on(sdk_config(&world.endpoint(), false)));
    world.refill();
    world.take();
    let began = Instant::now();
    let results: Vec<Result<(), Failure>> = rt.block_on(async {
        let mut results = Vec::new();
        for s in fleet {
            results.push(match action {
                "stop" => naive_set(&aws, s, Some((0, 0)), 0).await,
                _ => naive_start(&aws, s).await,
            });
        }
        results
    });
    let mut phase = Phase::new("naive", action, began.elapsed(), world.take());
    for (s, r) in fleet.iter().zip(results) {
        match r {
            Ok(()) => phase.changed += 1,
            Err(e) => {
                phase.failed += 1;
                if phase.problems.len() < 3 {
                    let why = aws_sdk_ecs::error::DisplayErrorContext(&*e).to_string();
                    phase.problems.push(format!("{}/{}: {}", s.cluster, s.name, why));
                }
            }
        }
    }
    phase
}

/// After a start, straight from moto: (RUNNING tasks missing from a target group of their
/// service, services whose desiredCount, min/max and RUNNING tasks are as seeded).
async fn check_started(direct: &Clients, fleet: &[Service]) -> (usize, usize) {
    let clusters: BTreeSet<&str> = fleet.iter().map(|s| s.cluster.as_str()).collect();
    // service name → IPs of its RUNNING tasks, per cluster.
    let running: BTreeMap<(String, String), Vec<String>> = stream::iter(clusters.into_iter().map(|c| async move {
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let out = direct
                .ecs
                .list_tasks()
                .cluster(c)
                .desired_status(DesiredStatus::Running)
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            arns.extend(out.task_arns().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut found: Vec<((String, String), String)> = Vec::new();
        for chunk in arns.chunks(100) {
            let out = direct.ecs.describe_tasks().cluster(c).set_tasks(Some(chunk.to_vec())).send().await.unwrap();
            for t in out.tasks().iter().filter(|t| t.last_status() == Some("RUNNING")) {
                let service = t.group().unwrap_or_default().trim_start_matches("service:").to_string();
                found.extend(task_ip(t).map(|ip| ((c.to_string(), service), ip)));
            }
        }
        found
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .flatten()
    .fold(BTreeMap::new(), |mut m, (k, ip)| {
        m.entry(k).or_insert_with(Vec::new).push(ip);
        m
    });

    let target_groups: BTreeSet<&String> = fleet.iter().flat_map(Service::target_groups).collect();
    let registered: BTreeMap<&String, BTreeSet<String>> =
        stream::iter(target_groups.into_iter().map(|tg| async move {
            let out = direct.elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
            let ids = out
                .target_health_descriptions()
                .iter()
                .filter(|d| {
                    !matches!(
                        d.target_health().and_then(|h| h.state()),
                        Some(TargetHealthStateEnum::Unused | TargetHealthStateEnum::Draining)
                    )
                })
                .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
                .collect();
            (tg, ids)
        }))
        .buffer_unordered(8)
        .collect()
        .await;

    // DescribeServices takes 10 services of one cluster a call.
    let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for s in fleet {
        by_cluster.entry(&s.cluster).or_default().push(s.name.clone());
    }
    let chunks = by_cluster.iter().flat_map(|(c, names)| names.chunks(10).map(move |chunk| (*c, chunk.to_vec())));
    let desired: BTreeMap<(String, String), i32> = stream::iter(chunks.map(|(c, names)| async move {
        let d = direct.ecs.describe_services().cluster(c).set_services(Some(names)).send().await.unwrap();
        d.services()
            .iter()
            .map(|s| ((c.to_string(), s.service_name().unwrap_or_default().to_string()), s.desired_count()))
            .collect::<Vec<_>>()
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .flatten()
    .collect();

    let ids: Vec<String> = fleet.iter().map(|s| format!("service/{}/{}", s.cluster, s.name)).collect();
    let capacity: BTreeMap<String, (i32, i32)> = stream::iter(ids.chunks(50).map(|chunk| async move {
        let out = direct
            .scaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        out.scalable_targets()
            .iter()
            .map(|t| (t.resource_id().to_string(), (t.min_capacity(), t.max_capacity())))
            .collect::<Vec<_>>()
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .flatten()
    .collect();

    let mut unregistered = 0;
    let mut restored = 0;
    for s in fleet {
        let key = (s.cluster.clone(), s.name.clone());
        let ips = running.get(&key).map(Vec::as_slice).unwrap_or_default();
        unregistered += ips.iter().filter(|ip| s.target_groups().any(|tg| !registered[tg].contains(*ip))).count();
        let rid = format!("service/{}/{}", s.cluster, s.name);
        if desired.get(&key) == Some(&s.desired)
            && capacity.get(&rid).copied() == s.scaling
            && ips.len() == s.desired as usize
        {
            restored += 1;
        }
    }
    (unregistered, restored)
}

/// The most requests that ran one after another, each starting after the last was answered
/// (earliest-answer-first finds the longest such chain).
fn sequential_round_trips(log: &[Request]) -> usize {
    let mut by_answer: Vec<&Request> = log.iter().collect();
    by_answer.sort_by_key(|r| r.answered);
    let mut chain = 0;
    let mut free_at: Option<Instant> = None;
    for r in by_answer {
        if free_at.is_none_or(|t| r.arrived >= t) {
            chain += 1;
            free_at = Some(r.answered);
        }
    }
    chain
}

/// The bounds of one phase, in seconds.
struct Bounds {
    bucket: (f64, Option<Group>),
    round_trips: f64,
    /// Start only: ecs-service-modify's bound + the time tasks take.
    tasks: Option<f64>,
}

impl Bounds {
    fn of(phase: &Phase, limits: &Limits, o: &Options) -> Bounds {
        let calls = served(&phase.log);
        let modify = one_group_bound(&calls, Group::EcsServiceModify, limits);
        let updates = phase.log.iter().any(|r| r.operation == "UpdateService" && !r.throttled);
        Bounds {
            bucket: pace::bound(&calls, limits),
            round_trips: sequential_round_trips(&phase.log) as f64 * o.delay.as_secs_f64(),
            tasks: (phase.action == "start" && updates).then_some(modify + o.task_start.as_secs_f64()),
        }
    }

    fn max(&self) -> f64 {
        self.bucket.0.max(self.round_trips).max(self.tasks.unwrap_or(0.0))
    }
}

/// `pace::bound` of one group's calls alone.
fn one_group_bound(calls: &Calls, group: Group, limits: &Limits) -> f64 {
    let mut only: Calls = Default::default();
    pace::add(&mut only, group, calls[index(group)]);
    pace::bound(&only, limits).0
}

/// A group's place in `Calls`.
fn index(group: Group) -> usize {
    Group::ALL.iter().position(|g| *g == group).unwrap()
}

/// One N: the seeded fleet, and our phases and the naive loop's.
struct Measured {
    n: usize,
    clusters: usize,
    phases: Vec<Phase>,
    ecs: support::world::EcsCounts,
    seeding: Duration,
}

#[allow(clippy::too_many_arguments)]
fn measure(
    n: usize,
    clusters: usize,
    moto: &Moto,
    bin: &Path,
    work: &Path,
    table: bool,
    o: &Options,
    rt: &Runtime,
) -> Measured {
    moto.post("/moto-api/reset", "");
    let began = Instant::now();
    let seeded = moto.seed(&["aws-fleet", "--services", &n.to_string(), "--clusters", &clusters.to_string()]);
    let seeding = began.elapsed();
    if table {
        init_state(bin, moto);
    }
    let fleet = services(&seeded);
    let schedule = work.join(format!("fleet-{n}.yaml"));
    std::fs::write(&schedule, schedule_yaml(&fleet, o.select.as_deref())).unwrap();
    let direct = Clients::new(&rt.block_on(sdk_config(&moto.endpoint, true)));
    if o.select.as_deref() == Some("tags") {
        rt.block_on(tag_all(&direct, &fleet));
    }
    let world =
        World::start(moto.port, WorldOptions::aws().limits(o.world_limits()).delay(o.delay).task_start(o.task_start));
    let quiet = Duration::from_secs(600);
    let mut phases = Vec::new();

    let stop = run_ours(bin, &schedule, "stop", &world, o, table);
    phases.push(stop);
    assert!(world.wait_quiet(quiet), "ECS still busy {quiet:?} after the stop");
    let mut start = run_ours(bin, &schedule, "start", &world, o, table);
    assert!(world.wait_quiet(quiet), "ECS still busy {quiet:?} after the start");
    let (unregistered, restored) = rt.block_on(check_started(&direct, &fleet));
    (start.unregistered, start.restored) = (Some(unregistered), Some(restored));
    phases.push(start);

    if o.naive && n <= o.naive_max {
        let stop = run_naive("stop", &world, &fleet, rt);
        phases.push(stop);
        assert!(world.wait_quiet(quiet), "ECS still busy {quiet:?} after the naive stop");
        let mut start = run_naive("start", &world, &fleet, rt);
        assert!(world.wait_quiet(quiet), "ECS still busy {quiet:?} after the naive start");
        let (unregistered, restored) = rt.block_on(check_started(&direct, &fleet));
        (start.unregistered, start.restored) = (Some(unregistered), Some(restored));
        phases.push(start);
    }
    Measured { n, clusters, phases, ecs: world.ecs_counts(), seeding }
}

fn main() {
    let o = options();
    let bin = release_binary();
    let limits = o.world_limits();
    let table = o.table && has_state_table(&bin);
    let work = std::env::temp_dir().join(format!("ecs-cost-saver-bench-aws-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let moto = Moto::start();
    let rt = Runtime::new().unwrap();

    println!(
        "AWS-like world: stop then start of N services (2 Fargate tasks each, half with scalable targets, every 4th \
         with a target group only the YAML lists), `{}` invoke --timeout {}; {} ms per request; tasks {} s after \
         UpdateService; buckets {}; snapshots in {}. Naive = one service after another, one call after another, \
         the SDK's default retry. Times in seconds.",
        bin.display(),
        o.timeout,
        o.delay.as_millis(),
        o.task_start.as_secs(),
        o.limits.as_deref().unwrap_or("AWS's published (pace::GROUPS)"),
        match (o.table, table) {
            (true, true) => "the state table",
            (true, false) => "tags (this binary has no state table)",
            _ => "tags",
        }
    );
    let mut all = Vec::new();
    for (i, &n) in o.services.iter().enumerate() {
        let clusters = o.clusters(i, n);
        let m = measure(n, clusters, &moto, &bin, &work, table, &o, &rt);
        print_one(&m, &limits, &o);
        all.push(m);
    }
    println!();
    print_targets(&all, &limits, &o);
    let _ = std::fs::remove_dir_all(&work);
}

fn dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn print_one(m: &Measured, limits: &Limits, o: &Options) {
    println!();
    println!(
        "N = {} over {} clusters (seeded in {:.0} s; ECS started {} and stopped {} tasks; {} of its calls failed, \
         {} services' work tried again)",
        m.n,
        m.clusters,
        m.seeding.as_secs_f64(),
        m.ecs.started,
        m.ecs.stopped,
        m.ecs.errors.len(),
        m.ecs.retried
    );
    for e in m.ecs.errors.iter().take(3) {
        println!("  ECS error: {}", e.chars().take(300).collect::<String>());
    }
    println!(
        "{:>5} {:>5} {:>5} {:>7} {:>6} {:>5} {:>6} {:>30} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>6} {:>9}",
        "who",
        "phase",
        "N",
        "wall",
        "calls",
        "thr",
        "thr%",
        "bucket (group)",
        "RT",
        "task",
        "w/max",
        "chg",
        "same",
        "fail",
        "unreg",
        "restored"
    );
    let mut details = Vec::new();
    for p in &m.phases {
        let b = Bounds::of(p, limits, o);
        let calls = p.log.len();
        let throttled = p.log.iter().filter(|r| r.throttled).count();
        println!(
            "{:>5} {:>5} {:>5} {:>7.1} {:>6} {:>5} {:>5.1}% {:>30} {:>6.1} {:>6} {:>6.2} {:>5} {:>5} {:>5} {:>6} {:>9}",
            p.who,
            p.action,
            m.n,
            p.wall.as_secs_f64(),
            calls,
            throttled,
            percent(throttled, calls),
            format!("{:.1} ({})", b.bucket.0, dash(b.bucket.1)),
            b.round_trips,
            dash(b.tasks.map(|t| format!("{t:.1}"))),
            p.wall.as_secs_f64() / b.max(),
            p.changed,
            p.unchanged,
            p.failed,
            dash(p.unregistered),
            p.restored.map_or("-".into(), |r| format!("{r}/{}", m.n)),
        );
        let calls = served(&p.log);
        let mut groups: Vec<String> = tally(&p.log)
            .into_iter()
            .map(|(g, t)| {
                let bound = one_group_bound(&calls, g, limits);
                format!("{g} {} ({} thr, bound {bound:.1})", t.calls, t.throttled)
            })
            .collect();
        // An account-wide bucket that several groups draw from: all their served calls.
        let shared: BTreeSet<Group> = Group::ALL.iter().filter_map(|g| g.shared()).collect();
        for s in shared {
            let sharing: Vec<Group> = Group::ALL.iter().copied().filter(|g| g.shared() == Some(s)).collect();
            let n: u64 = sharing.iter().map(|g| calls[index(*g)]).sum();
            if n > 0 {
                let l = limits.get(s);
                let names: Vec<&str> = sharing.iter().map(|g| g.name()).collect();
                let bound = ((n as f64 - l.burst) / l.refill).max(0.0);
                groups.push(format!("{s} (shared by {}) {n} served, bound {bound:.1}", names.join(", ")));
            }
        }
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &p.log {
            *ops.entry(r.operation.as_str()).or_default() += 1;
        }
        let ops: Vec<String> = ops.iter().map(|(op, k)| format!("{op} {k}")).collect();
        details.push(format!("  {} {}: {}", p.who, p.action, groups.join("; ")));
        details.push(format!("    {}", ops.join(", ")));
        for problem in &p.problems {
            details.push(format!("    failed: {problem}"));
        }
    }
    for line in details {
        println!("{line}");
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}

fn print_targets(all: &[Measured], limits: &Limits, o: &Options) {
    let held = |ok: bool| if ok { "held" } else { "NOT held" };
    let ours = || all.iter().flat_map(|m| m.phases.iter().filter(|p| p.who == "ours").map(move |p| (m.n, p)));
    println!("Targets (ours):");
    let broken: Vec<String> = ours()
        .filter(|(_, p)| p.failed > 0 || p.unregistered.unwrap_or(0) > 0)
        .map(|(n, p)| format!("N={n} {}: {} failed, {} unregistered", p.action, p.failed, dash(p.unregistered)))
        .collect();
    println!(
        "  0 failed services and 0 unregistered tasks at every N: {} {}",
        held(broken.is_empty()),
        broken.join("; ")
    );
    let ratios: Vec<(String, bool)> = ours()
        .filter(|(n, _)| *n == 200 || *n == 1000)
        .map(|(n, p)| {
            let r = p.wall.as_secs_f64() / Bounds::of(p, limits, o).max();
            (format!("N={n} {} {r:.2}", p.action), r <= 1.15)
        })
        .collect();
    if ratios.is_empty() {
        println!("  wall ≤ 1.15 × the largest bound at N = 200 and 1,000: not measured");
    } else {
        let list: Vec<&str> = ratios.iter().map(|(s, _)| s.as_str()).collect();
        println!(
            "  wall ≤ 1.15 × the largest bound (bucket, RT, a start's task) at N = 200 and 1,000: {} ({})",
            held(ratios.iter().all(|(_, ok)| *ok)),
            list.join(", ")
        );
    }
    let shares: Vec<(String, bool)> = ours()
        .map(|(n, p)| {
            let throttled = p.log.iter().filter(|r| r.throttled).count();
            let share = percent(throttled, p.log.len());
            (format!("N={n} {} {share:.1}%", p.action), share <= 2.0)
        })
        .collect();
    let list: Vec<&str> = shares.iter().map(|(s, _)| s.as_str()).collect();
    println!("  throttled answers ≤ 2 % of calls: {} ({})", held(shares.iter().all(|(_, ok)| *ok)), list.join(", "));
    match ours().find(|(n, p)| *n == 50 && p.action == "start") {
        Some((_, p)) => {
            let r = p.wall.as_secs_f64() / Bounds::of(p, limits, o).max();
            println!("  the 50-service start within 1.5 × its bound: {} ({r:.2})", held(r <= 1.5));
        }
        None => println!("  the 50-service start within 1.5 × its bound: not measured"),
    }
}
