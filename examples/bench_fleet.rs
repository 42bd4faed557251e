//! Benchmark of `stop` then `start` of one environment of N services (over 10 clusters, every
//! other one with a scalable target, each in a target group with two running tasks), against
//! moto on 127.0.0.1 behind a proxy that delays every request by a fixed time (a stand-in for
//! the round trip to AWS) and records it. Side by side, in the same run on the same world, the
//! naive loop users copy today: one service after another, every call waiting for the last.
//! Prints figures; asserts only that the work was done (every service changed, every task
//! registered, the counts restored).
//!
//!     cargo build --release --bin ecs-cost-saver
//!     cargo run --release --example bench_fleet [-- --services 10,100,200 --delays 0,50
//!         --clusters 10 --concurrency 8,16,32 --no-naive --rereads --table]
//!
//! Our binary keeps its snapshots in tags, its runs queued as with reserved concurrency 1
//! (ECS_COST_SAVER_SERIAL_RUNS=true); `--rereads` runs it as the CLI without a table does,
//! reading each service again around its writes; `--table` keeps them in the state table, as
//! the function is deployed.
//!
//! What it prints, per run: wall time (process spawn to exit); AWS calls by operation and
//! mutating calls per service; the sequential round trips observed (the most requests that
//! ran one after another without overlapping); the lower bound for concurrency C =
//! (batched describe round trips + ⌈N/C⌉ × sequential round trips per service) × delay;
//! wall / bound; peak RSS; and the naive loop's wall time and the speed-up over it.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::DesiredStatus;
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use ecs_cost_saver::Settings;
use ecs_cost_saver::aws::{Sdk, retry_config, timeout_config};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio::runtime::Runtime;

use support::{Failure, MUTATING, Moto, Proxy, Request, aws_env, capacity, release_binary, repo, service};

/// Batched reads, in the order their results are needed: the calls of one level go out
/// together (up to C at once), each level after the previous one.
const BATCHED_LEVELS: &[&[&str]] = &[
    &["DescribeServices", "DescribeScalableTargets"],
    &["DescribeTasks"],
    &["DescribeTargetGroups", "DescribeContainerInstances"],
];

struct Options {
    services: Vec<usize>,
    delays: Vec<u64>,
    clusters: usize,
    /// None: the binary's default.
    concurrency: Option<Vec<usize>>,
    naive: bool,
    /// Run as the CLI does (ECS_COST_SAVER_SERIAL_RUNS=false): with the re-reads that guard a
    /// snapshot against a concurrent run.
    rereads: bool,
    /// Keep the snapshots in the state table (as the function is deployed) instead of tags.
    table: bool,
}

/// The state table of `--table`.
const STATE_TABLE: &str = "ecs-cost-saver-bench-state";

fn options() -> Options {
    let mut o = Options {
        services: vec![10, 100, 200],
        delays: vec![0, 50],
        clusters: 10,
        concurrency: None,
        naive: true,
        rereads: false,
        table: false,
    };
    let list = |v: Option<String>| -> Vec<u64> {
        v.expect("a value").split(',').map(|n| n.trim().parse().expect("a whole number")).collect()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--services" => o.services = list(args.next()).into_iter().map(|n| n as usize).collect(),
            "--delays" => o.delays = list(args.next()),
            "--clusters" => o.clusters = list(args.next())[0] as usize,
            "--concurrency" => o.concurrency = Some(list(args.next()).into_iter().map(|c| c as usize).collect()),
            "--no-naive" => o.naive = false,
            "--rereads" => o.rereads = true,
            "--table" => o.table = true,
            other => panic!("unknown argument {other}; see the comment at the top of examples/bench_fleet.rs"),
        }
    }
    o
}

/// One service of the seeded world.
struct Service {
    cluster: String,
    name: String,
    desired: i32,
    scaling: Option<(i32, i32)>,
    target_group: String,
    ips: Vec<String>,
}

fn services(world: &Value) -> Vec<Service> {
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
            ips: s["tasks"].as_array().unwrap().iter().map(|t| t["ip"].as_str().unwrap().into()).collect(),
        })
        .collect()
}

/// What one run of our binary did.
struct Run {
    wall: Duration,
    peak_rss_kib: i64,
    report: Value,
    log: Vec<Request>,
}

/// Spawn `ecs-cost-saver invoke` and wait for it with wait4, which gives its peak RSS (and
/// reaps it: `Child::wait` would find nothing left to wait for).
#[allow(clippy::zombie_processes)]
fn run_ours(
    bin: &Path,
    schedule: &Path,
    action: &str,
    proxy: &Proxy,
    concurrency: Option<usize>,
    rereads: bool,
    table: bool,
) -> Run {
    proxy.take();
    let mut command = Command::new(bin);
    command
        .args(["invoke", "--schedule"])
        .arg(schedule)
        .args(["--payload", &format!(r#"{{"environment":"bench","action":"{action}"}}"#), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    aws_env(&mut command, &proxy.endpoint());
    if let Some(c) = concurrency {
        command.env("ECS_COST_SAVER_CONCURRENCY", c.to_string());
    }
    // As deployed (reserved concurrency 1): no re-reads against a concurrent run, unless asked.
    command.env("ECS_COST_SAVER_SERIAL_RUNS", if rereads { "false" } else { "true" });
    if table {
        command.env("ECS_COST_SAVER_STATE_TABLE", STATE_TABLE);
    }
    let spawned = Instant::now();
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own unwaited child; status and usage point to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = spawned.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{action} failed: {err}\n{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    Run { wall, peak_rss_kib: usage.ru_maxrss, report, log: proxy.take() }
}

/// An SDK pointed at `endpoint`, configured as the function configures its own.
async fn sdk(endpoint: &str) -> Sdk {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("ap-northeast-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await;
    Sdk::new(&config)
}

/// The naive loop's first calls for one service ([`support::naive_set`]).
async fn naive_set(aws: &Sdk, s: &Service, capacity: Option<(i32, i32)>, desired: i32) -> Result<(), Failure> {
    support::naive_set(&aws.scaling, &aws.ecs, &s.cluster, &s.name, capacity, desired).await
}

/// The loop users copy: per service, one call after another.
async fn naive_stop(aws: &Sdk, services: &[Service]) -> Result<(), Failure> {
    for s in services {
        naive_set(aws, s, Some((0, 0)), 0).await?;
    }
    Ok(())
}

/// The naive start, given the counts it should restore (it keeps no snapshot of its own).
async fn naive_start(aws: &Sdk, services: &[Service]) -> Result<(), Failure> {
    for s in services {
        naive_set(aws, s, s.scaling, s.desired).await?;
        let listed = aws
            .ecs
            .list_tasks()
            .cluster(&s.cluster)
            .service_name(&s.name)
            .desired_status(DesiredStatus::Running)
            .send()
            .await?;
        let tasks =
            aws.ecs.describe_tasks().cluster(&s.cluster).set_tasks(Some(listed.task_arns().to_vec())).send().await?;
        let described = aws.ecs.describe_services().cluster(&s.cluster).services(&s.name).send().await?;
        let group = format!("service:{}", s.name);
        let ips: Vec<String> = tasks
            .tasks()
            .iter()
            .filter(|t| t.group() == Some(group.as_str()))
            .flat_map(|t| t.attachments().iter().flat_map(|a| a.details()))
            .filter(|d| d.name() == Some("privateIPv4Address"))
            .filter_map(|d| d.value().map(String::from))
            .collect();
        for lb in described.services().iter().flat_map(|s| s.load_balancers()) {
            let targets = ips.iter().map(|ip| TargetDescription::builder().id(ip).port(8080).build());
            aws.elb
                .register_targets()
                .target_group_arn(lb.target_group_arn().unwrap_or_default())
                .set_targets(Some(targets.collect()))
                .send()
                .await?;
        }
    }
    Ok(())
}

/// What ECS does when a stopped service's tasks go: they leave their target groups. Straight
/// to moto, not counted.
async fn deregister_all(direct: &Sdk, services: &[Service]) {
    stream::iter(services.iter().map(|s| async move {
        let targets = s.ips.iter().map(|ip| TargetDescription::builder().id(ip).port(8080).build());
        // moto refuses targets that are not registered (AWS accepts them): nothing to undo then.
        let _ = direct
            .elb
            .deregister_targets()
            .target_group_arn(&s.target_group)
            .set_targets(Some(targets.collect()))
            .send()
            .await;
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
}

/// Desired counts, scalable targets and registered targets as the world was seeded, and no
/// snapshot tag left. Straight to moto.
async fn check_restored(direct: &Sdk, services: &[Service]) {
    for s in services {
        assert_eq!(service(direct, &s.cluster, &s.name).await, (s.desired, None), "{}/{}", s.cluster, s.name);
        assert_eq!(capacity(direct, &s.cluster, &s.name).await, s.scaling, "{} capacity", s.name);
        let health = direct.elb.describe_target_health().target_group_arn(&s.target_group).send().await.unwrap();
        assert_eq!(health.target_health_descriptions().len(), s.ips.len(), "{} targets", s.name);
    }
}

/// Calls per operation.
fn counts(log: &[Request]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for r in log {
        *counts.entry(r.operation.as_str()).or_default() += 1;
    }
    counts
}

/// The most requests that ran one after another, each starting after the last was answered:
/// the sequential round trips the run actually took (earliest-answer-first is optimal).
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

/// The lower bound, in round trips, for this run's calls at concurrency C: each level of
/// batched reads takes ⌈its calls / C⌉ round trips; every other call belongs to one service's
/// chain, which can't overlap itself: ⌈N / C⌉ × (those calls / N).
fn bound_round_trips(counts: &BTreeMap<&str, usize>, n: usize, c: usize) -> (f64, f64) {
    let batched: usize = BATCHED_LEVELS
        .iter()
        .map(|level| level.iter().map(|op| counts.get(op).copied().unwrap_or(0)).max().unwrap_or(0).div_ceil(c))
        .sum();
    let per_service_calls: usize =
        counts.iter().filter(|(op, _)| !BATCHED_LEVELS.iter().any(|l| l.contains(op))).map(|(_, calls)| calls).sum();
    let per_service = per_service_calls as f64 / n as f64;
    (batched as f64 + n.div_ceil(c) as f64 * per_service, per_service)
}

/// How long moto (and the proxy) took per request, the injected delay taken out.
fn median_service_ms(log: &[Request], delay: u64) -> f64 {
    let mut times: Vec<f64> = log.iter().map(|r| ms(r.answered - r.arrived) - delay as f64).collect();
    times.sort_by(f64::total_cmp);
    times.get(times.len() / 2).copied().unwrap_or(0.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Stop then start with our binary at concurrency `c` (None: its default); checks the work.
fn ours(
    schedule: &Path,
    proxy: &Proxy,
    c: Option<usize>,
    o: &Options,
    fleet: &[Service],
    direct: &Sdk,
    rt: &Runtime,
) -> [Run; 2] {
    let n = fleet.len();
    let bin = &release_binary();
    let stop = run_ours(bin, schedule, "stop", proxy, c, o.rereads, o.table);
    rt.block_on(deregister_all(direct, fleet));
    let start = run_ours(bin, schedule, "start", proxy, c, o.rereads, o.table);
    for (action, run) in [("stop", &stop), ("start", &start)] {
        let services = run.report["services"].as_array().unwrap();
        let changed = services.iter().filter(|s| s["outcome"] == "changed").count();
        assert_eq!(changed, n, "{action}: every service changed: {}", run.report);
    }
    let registered = start.report["targets"].as_array().unwrap().iter().filter(|t| t["change"] == "registered");
    assert_eq!(registered.count(), 2 * n, "start registers every task");
    rt.block_on(check_restored(direct, fleet));
    [stop, start]
}

/// The naive loop's stop then start: (wall, requests) of each.
fn naive(proxy: &Proxy, fleet: &[Service], direct: &Sdk, rt: &Runtime) -> [(Duration, Vec<Request>); 2] {
    let aws = rt.block_on(sdk(&proxy.endpoint()));
    proxy.take();
    let began = Instant::now();
    rt.block_on(naive_stop(&aws, fleet)).unwrap();
    let stop = (began.elapsed(), proxy.take());
    rt.block_on(deregister_all(direct, fleet));
    let began = Instant::now();
    rt.block_on(naive_start(&aws, fleet)).unwrap();
    let start = (began.elapsed(), proxy.take());
    rt.block_on(check_restored(direct, fleet));
    [stop, start]
}

fn ops(counts: &BTreeMap<&str, usize>) -> String {
    counts.iter().map(|(op, k)| format!("{op} {k}")).collect::<Vec<_>>().join(", ")
}

fn main() {
    let o = options();
    let bin = release_binary();
    let default_c = Settings::default().concurrency;
    let work = std::env::temp_dir().join(format!("ecs-cost-saver-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let moto = Moto::start();
    let rt = Runtime::new().unwrap();
    let direct = rt.block_on(sdk(&moto.endpoint));

    println!(
        "Fleet: stop then start of N services over {} clusters (half with scalable targets, 2 running tasks each \
         in its own target group), `ecs-cost-saver invoke` (release) at concurrency C (default {default_c}); naive = \
         one service after another, one call after another. Times in ms; RTs = round trips. {}",
        o.clusters,
        match (o.table, o.rereads) {
            (true, _) => "Snapshots in the state table (as deployed).",
            (false, true) => "Snapshots in tags, with the re-reads against a concurrent run (the CLI without a table).",
            (false, false) => "Snapshots in tags, runs queued by reserved concurrency 1 (no re-reads).",
        }
    );
    println!(
        "{:>4} {:>6} {:>3} {:>6} {:>8} {:>6} {:>7} {:>7} {:>15} {:>7} {:>7} {:>9} {:>8}",
        "N",
        "delay",
        "C",
        "action",
        "wall",
        "calls",
        "mut/svc",
        "seq RTs",
        "bound RTs (ms)",
        "w/bound",
        "RSS MiB",
        "naive",
        "speed-up"
    );
    let mut details = Vec::new();
    let mut largest_stop_rss = None;
    for &n in &o.services {
        for &delay in &o.delays {
            moto.post("/moto-api/reset", "");
            let world = moto.seed(&["fleet", "--services", &n.to_string(), "--clusters", &o.clusters.to_string()]);
            if o.table {
                use ecs_cost_saver::aws::StateTables;
                rt.block_on(direct.create_state_table(STATE_TABLE)).unwrap();
            }
            let fleet = services(&world);
            let schedule = work.join(format!("fleet-{n}.yaml"));
            let mut yaml = String::from("environments:\n  bench:\n    services:\n");
            for s in &fleet {
                yaml.push_str(&format!("      - {{cluster: {}, service: {}}}\n", s.cluster, s.name));
            }
            std::fs::write(&schedule, yaml).unwrap();
            let proxy = Proxy::start(moto.port, Duration::from_millis(delay));
            // Each stop-then-start leaves the world as seeded, so the runs follow one another.
            let runs: Vec<(usize, [Run; 2])> = match &o.concurrency {
                None => vec![(default_c, ours(&schedule, &proxy, None, &o, &fleet, &direct, &rt))],
                Some(cs) => {
                    cs.iter().map(|&c| (c, ours(&schedule, &proxy, Some(c), &o, &fleet, &direct, &rt))).collect()
                }
            };
            let naive = o.naive.then(|| naive(&proxy, &fleet, &direct, &rt));
            if let Some(runs) = &naive {
                for (i, action) in ["stop", "start"].into_iter().enumerate() {
                    details.push(format!(
                        "  N={n} {delay}ms naive {action}: {} calls, {} sequential round trips: {}",
                        runs[i].1.len(),
                        sequential_round_trips(&runs[i].1),
                        ops(&counts(&runs[i].1))
                    ));
                }
            }
            for (c, [stop, start]) in &runs {
                if Some(&n) == o.services.iter().max() && *c == default_c {
                    largest_stop_rss = Some((n, stop.peak_rss_kib));
                }
                for (i, (action, run)) in [("stop", stop), ("start", start)].into_iter().enumerate() {
                    let counts = counts(&run.log);
                    let mutating: usize = MUTATING.iter().map(|op| counts.get(op).copied().unwrap_or(0)).sum();
                    let (bound, per_service) = bound_round_trips(&counts, n, *c);
                    let bound_ms = bound * delay as f64;
                    let (naive_ms, speedup) = match &naive {
                        Some(runs) => {
                            (format!("{:.0}", ms(runs[i].0)), format!("{:.1}x", ms(runs[i].0) / ms(run.wall)))
                        }
                        None => ("-".into(), "-".into()),
                    };
                    println!(
                        "{n:>4} {:>6} {c:>3} {action:>6} {:>8.0} {:>6} {:>7.2} {:>7} {:>15} {:>7} {:>7.1} {naive_ms:>9} {speedup:>8}",
                        format!("{delay}ms"),
                        ms(run.wall),
                        run.log.len(),
                        mutating as f64 / n as f64,
                        sequential_round_trips(&run.log),
                        format!("{bound:.1} ({bound_ms:.0})"),
                        if delay > 0 { format!("{:.2}", ms(run.wall) / bound_ms) } else { "-".into() },
                        run.peak_rss_kib as f64 / 1024.0,
                    );
                    details.push(format!(
                        "  N={n} {delay}ms C={c} {action}: {} ({per_service:.2} per-service round trips); moto's own \
                         time per request (queueing included): median {:.1} ms",
                        ops(&counts),
                        median_service_ms(&run.log, delay)
                    ));
                }
                if let Some(runs) = &naive {
                    let ours = ms(stop.wall) + ms(start.wall);
                    let theirs = ms(runs[0].0) + ms(runs[1].0);
                    details.push(format!(
                        "  N={n} {delay}ms C={c} stop+start: ours {ours:.0} ms, naive {theirs:.0} ms: {:.1}x",
                        theirs / ours
                    ));
                }
            }
        }
    }
    println!();
    println!("Calls by operation:");
    for line in details {
        println!("{line}");
    }

    println!();
    println!("Footprint:");
    let size = |p: &Path| std::fs::metadata(p).map(|m| format!("{:.1} MB", m.len() as f64 / 1e6));
    println!("  release binary (not stripped) {}: {}", bin.display(), size(&bin).unwrap());
    for arch in ["x86_64", "arm64"] {
        let zip = format!("dist/ecs-cost-saver-{arch}.zip");
        match size(&repo().join(&zip)) {
            Ok(s) => println!("  Lambda zip {zip} (stripped bootstrap + schedule): {s}"),
            Err(_) => println!("  Lambda zip {zip}: not built (bash scripts/package FILE --{arch})"),
        }
    }
    if let Some((n, kib)) = largest_stop_rss {
        println!("  peak RSS of the {n}-service stop at the default C: {:.1} MiB", kib as f64 / 1024.0);
    }
    let _ = std::fs::remove_dir_all(&work);
}
