//! Benchmark of the Spot backstop on a cold start: from spawning `ecs-cost-saver invoke` with a
//! Fargate Spot interruption event to the first DeregisterTargets request arriving at the AWS
//! endpoint, and how many round trips (requests answered before it was sent) came before it. Runs moto
//! server on 127.0.0.1 (from `.venv`, as `scripts/test` installs it) behind a recording proxy.
//! Prints figures; asserts nothing.
//!
//!     cargo build --release --bin ecs-cost-saver
//!     cargo run --release --example bench_spot [-- ITERATIONS]

#[path = "support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{Moto, Proxy, aws_env, release_binary, repo, venv};

fn main() {
    let iterations: usize = std::env::args().nth(1).map(|n| n.parse().expect("ITERATIONS is a number")).unwrap_or(10);
    let bin = release_binary();
    let work = std::env::temp_dir().join(format!("ecs-cost-saver-bench-spot-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let moto = Moto::start();
    let endpoint = moto.endpoint.clone();
    let world = moto.seed(&["spot"]);
    let proxy = Proxy::start(moto.port, Duration::ZERO);
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/events/fargate-spot-interruption.json")).unwrap(),
    )
    .unwrap();
    let tgs: Vec<String> =
        ["web-alb-tg", "web-nlb-tg"].iter().map(|n| world["target_groups"][n].as_str().unwrap().to_string()).collect();

    println!(
        "Spot interruption, cold start: `ecs-cost-saver invoke --event` (release) against moto via a recording proxy"
    );
    let plain = work.join("plain.yaml");
    std::fs::write(&plain, "environments:\n  spot:\n    services: [{cluster: spot, service: web}]\n").unwrap();
    let listed = work.join("listed.yaml");
    std::fs::write(
        &listed,
        format!(
            "environments:\n  spot:\n    services:\n      - cluster: spot\n        service: web\n        target_groups:\n          - {{arn: '{}', container: app, port: 8080}}\n          - {{arn: '{}', container: app, port: 8080}}\n",
            tgs[0], tgs[1]
        ),
    )
    .unwrap();
    let mut version = 100;
    for (label, schedule) in
        [("target groups from DescribeServices", &plain), ("target groups listed in the YAML", &listed)]
    {
        println!("{label}:");
        let mut firsts = Vec::new();
        for i in 0..iterations {
            version += 1;
            // Each run interrupts the first task again: put its targets back first.
            let task = &world["web_tasks"][0];
            let ip = task["ip"].as_str().unwrap();
            for tg in &tgs {
                let out = Command::new(venv().join("bin/python"))
                .args([
                    "-c",
                    &format!(
                        "import boto3; boto3.client('elbv2', endpoint_url='{endpoint}', region_name='ap-northeast-1', \
                     aws_access_key_id='t', aws_secret_access_key='t').register_targets(TargetGroupArn='{tg}', \
                     Targets=[{{'Id': '{ip}', 'Port': 8080}}])"
                    ),
                ])
                .output()
                .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
            let mut event = fixture.clone();
            event["detail"]["clusterArn"] = json!("arn:aws:ecs:ap-northeast-1:123456789012:cluster/spot");
            event["detail"]["taskArn"] = task["arn"].clone();
            event["detail"]["group"] = json!("service:web");
            event["detail"]["version"] = json!(version);
            for d in event["detail"]["attachments"][0]["details"].as_array_mut().unwrap() {
                if d["name"] == "privateIPv4Address" {
                    d["value"] = json!(ip);
                }
            }
            let event_file = work.join("event.json");
            std::fs::write(&event_file, event.to_string()).unwrap();

            proxy.take();
            let spawned = Instant::now();
            let mut command = Command::new(&bin);
            command.args(["invoke", "--schedule"]).arg(schedule).arg("--event").arg(&event_file);
            aws_env(command.args(["--format", "json"]), &proxy.endpoint());
            let out = command.output().unwrap();
            let total = spawned.elapsed();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            let deregistered =
                report["targets"].as_array().unwrap().iter().filter(|t| t["change"] == "deregistered").count();
            let log = proxy.take();
            let first =
                log.iter().position(|r| r.operation == "DeregisterTargets").expect("a DeregisterTargets request");
            let to_first = log[first].arrived - spawned;
            // Round trips it waited for: requests answered before it was sent (a request sent at
            // the same moment, answered later, is not one).
            let before: Vec<&str> =
                log.iter().filter(|r| r.answered <= log[first].arrived).map(|r| r.operation.as_str()).collect();
            println!(
                "  run {i:>2}: first DeregisterTargets {:>7.1} ms after spawn; {} round trip(s) before it {before:?}; \
             {deregistered} target(s) deregistered; process done in {:>7.1} ms",
                to_first.as_secs_f64() * 1000.0,
                before.len(),
                total.as_secs_f64() * 1000.0
            );
            firsts.push(to_first);
        }
        firsts.sort();
        println!(
            "  first DeregisterTargets after spawn: min {:.1} ms, median {:.1} ms, max {:.1} ms ({iterations} cold starts)",
            firsts[0].as_secs_f64() * 1000.0,
            firsts[firsts.len() / 2].as_secs_f64() * 1000.0,
            firsts[firsts.len() - 1].as_secs_f64() * 1000.0
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}
