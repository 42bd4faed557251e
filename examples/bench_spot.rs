//! Benchmark of the Spot backstop on a cold start: from spawning `ecs-cost-saver invoke` with a
//! Fargate Spot interruption event to the first DeregisterTargets request arriving at the AWS
//! endpoint, and how many requests (and sequential round trips) came before it. Runs moto
//! server on 127.0.0.1 (from `.venv`, as `scripts/test` installs it) behind a recording proxy.
//! Prints figures; asserts nothing.
//!
//!     cargo build --release --bin ecs-cost-saver
//!     cargo run --release --example bench_spot [-- ITERATIONS]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One request as the proxy saw it: when it arrived, and which AWS operation it was.
type Log = Arc<Mutex<Vec<(Instant, String)>>>;

fn operation(head: &str, body: &[u8]) -> String {
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("X-Amz-Target:").or_else(|| line.strip_prefix("x-amz-target:")) {
            return v.trim().rsplit('.').next().unwrap_or_default().to_string();
        }
    }
    let body = String::from_utf8_lossy(body);
    body.split('&').find_map(|kv| kv.strip_prefix("Action=")).unwrap_or("other").to_string()
}

/// Forward one request to moto and its response back; the response says `Connection: close`,
/// so the client opens a new connection for its next request.
fn relay(mut client: TcpStream, upstream: u16, log: Log) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let end = line == "\r\n";
        if !line.to_ascii_lowercase().starts_with("connection:") {
            head.push_str(&line);
        }
        if end {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    log.lock().unwrap().push((Instant::now(), operation(&head, &body)));
    let head = head.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    up.write_all(head.as_bytes()).unwrap();
    up.write_all(&body).unwrap();
    let mut response = Vec::new();
    up.read_to_end(&mut response).unwrap();
    // Tell the client this connection ends here (werkzeug may not have said so).
    if let Some(eol) = response.windows(2).position(|w| w == b"\r\n") {
        response.splice(eol + 2..eol + 2, b"Connection: close\r\n".iter().copied());
    }
    let _ = client.write_all(&response);
}

fn start_proxy(upstream: u16, log: Log) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || relay(client, upstream, log));
        }
    });
    port
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let iterations: usize = std::env::args().nth(1).map(|n| n.parse().expect("ITERATIONS is a number")).unwrap_or(10);
    let venv = std::env::var_os("ECS_COST_SAVER_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    let bin = target_dir.join("release/ecs-cost-saver");
    assert!(bin.exists(), "build it first: cargo build --release --bin ecs-cost-saver ({})", bin.display());

    let moto_port = free_port();
    let work = std::env::temp_dir().join(format!("ecs-cost-saver-bench-spot-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let _moto = Moto(
        Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
            .current_dir(&work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto server from .venv (run scripts/test once)"),
    );
    let endpoint = format!("http://127.0.0.1:{moto_port}");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", moto_port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let seed = Command::new(venv.join("bin/python"))
        .arg(repo().join("tests/seed/seed.py"))
        .args(["--endpoint", &endpoint, "spot"])
        .output()
        .unwrap();
    assert!(seed.status.success(), "seed: {}", String::from_utf8_lossy(&seed.stderr));
    let world: Value = serde_json::from_slice(&seed.stdout).unwrap();

    let log: Log = Default::default();
    let proxy = start_proxy(moto_port, log.clone());
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
                let out = Command::new(venv.join("bin/python"))
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

            log.lock().unwrap().clear();
            let spawned = Instant::now();
            let out = Command::new(&bin)
                .args(["invoke", "--schedule"])
                .arg(schedule)
                .arg("--event")
                .arg(&event_file)
                .args(["--format", "json"])
                .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{proxy}"))
                .env("AWS_REGION", "ap-northeast-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_CONFIG_FILE", "/dev/null")
                .env("RUST_LOG", "warn")
                .env_remove("AWS_PROFILE")
                .output()
                .unwrap();
            let total = spawned.elapsed();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            let deregistered =
                report["targets"].as_array().unwrap().iter().filter(|t| t["change"] == "deregistered").count();
            let log = log.lock().unwrap();
            let first = log.iter().position(|(_, op)| op == "DeregisterTargets").expect("a DeregisterTargets request");
            let to_first = log[first].0 - spawned;
            let before: Vec<&str> = log[..first].iter().map(|(_, op)| op.as_str()).collect();
            println!(
                "  run {i:>2}: first DeregisterTargets {:>7.1} ms after spawn; {} request(s) before it {before:?}; \
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
