//! Benchmark of the schedule file: `validate` (read + parse + check) and `plan` (10 transitions
//! per environment, the weekly timeline and the up fraction) of a generated file with 1,000
//! services in 50 environments. Prints figures; asserts nothing.
//!
//!     cargo run --release --example bench_schedule [-- ITERATIONS]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ecs_cost_saver::forecast;
use ecs_cost_saver::schedule::{Environment, Schedule};

const ENVIRONMENTS: usize = 50;
const SERVICES_PER_ENVIRONMENT: usize = 20;

/// A realistic file: every environment has weekday crons (some with two stops, a few with `L`,
/// `#` or `W`), every fifth service has capacities and an extra target group.
fn generate() -> String {
    let mut y = String::from(
        "timezone: Asia/Tokyo\nholidays:\n  calendar: japan\n  dates: [2026-12-29, 2026-12-30, 2026-12-31]\nenvironments:\n",
    );
    for e in 0..ENVIRONMENTS {
        let (stop_h, start_h) = (18 + e % 6, 6 + e % 4);
        writeln!(y, "  env-{e:02}:").unwrap();
        match e % 5 {
            0 => {
                writeln!(y, "    stop: [\"cron(0 {stop_h} ? * MON-FRI *)\", \"cron(30 23 L * ? *)\"]").unwrap();
                writeln!(y, "    start: [\"cron(0 {start_h} ? * MON-FRI *)\"]").unwrap();
            }
            1 => {
                writeln!(y, "    stop: [\"cron(0/30 {stop_h} ? * 2-6 *)\"]").unwrap();
                writeln!(y, "    start: [\"cron(15 {start_h} ? * MON#1 *)\", \"cron(0 {start_h} 1W * ? *)\"]").unwrap();
            }
            2 => {
                writeln!(y, "    stop: [\"cron(0 {stop_h} ? * FRI-MON *)\"]").unwrap();
                writeln!(y, "    start: [\"cron(0 {start_h} ? * TUE-THU *)\"]").unwrap();
            }
            _ => {
                writeln!(y, "    stop: [\"cron(0 {stop_h} ? * MON-FRI *)\"]").unwrap();
                writeln!(y, "    start: [\"cron(0 {start_h} ? * MON-FRI *)\"]").unwrap();
            }
        }
        writeln!(y, "    services:").unwrap();
        for s in 0..SERVICES_PER_ENVIRONMENT {
            writeln!(y, "      - cluster: cluster-{}\n        service: svc-{e:02}-{s:02}", e % 7).unwrap();
            if s % 5 == 0 {
                writeln!(
                    y,
                    "        desired_count: {}\n        min_capacity: 1\n        max_capacity: 8\n        target_groups:\n          - arn: arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/tg-{e}-{s}/0123456789abcdef\n            container: app\n            port: 8080",
                    1 + s % 3
                )
                .unwrap();
            }
        }
    }
    y
}

fn measure(iterations: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[times.len() / 2])
}

fn main() {
    let iterations: usize = std::env::args().nth(1).map(|n| n.parse().expect("ITERATIONS is a number")).unwrap_or(20);
    let text = generate();
    let path = std::env::temp_dir().join(format!("ecs-cost-saver-bench-{}.yaml", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let schedule = Schedule::load(&path).expect("the generated file is valid");
    let services: usize = schedule.environments.values().map(|e| e.services.len()).sum();
    println!(
        "file: {} environments, {services} services, {} lines, {} KiB; {iterations} iterations",
        schedule.environments.len(),
        text.lines().count(),
        text.len() / 1024
    );

    let (min, median) = measure(iterations, || {
        Schedule::load(&path).unwrap();
    });
    println!("validate (read + parse + check):           min {min:>10.3?}  median {median:>10.3?}");

    let from: DateTime<Utc> = "2026-11-27T03:00:00Z".parse().unwrap();
    let envs: Vec<&Environment> = schedule.environments.values().collect();
    let mut transitions = 0;
    let (min, median) = measure(iterations, || {
        let o = forecast::forecast(&schedule, &envs, from, 10);
        transitions = o.environments.iter().map(|e| e.transitions.len()).sum();
        std::hint::black_box(o.to_string());
    });
    println!(
        "plan (10 transitions/env, timeline, text): min {min:>10.3?}  median {median:>10.3?}  ({transitions} transitions)"
    );

    let (min, median) = measure(iterations, || {
        let schedule = Schedule::load(&path).unwrap();
        let envs: Vec<&Environment> = schedule.environments.values().collect();
        std::hint::black_box(forecast::forecast(&schedule, &envs, from, 10).to_string());
    });
    println!("validate + plan, as `ecs-cost-saver plan`:  min {min:>10.3?}  median {median:>10.3?}");
    let _ = std::fs::remove_file(&path);
}
