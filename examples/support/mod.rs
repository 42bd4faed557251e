//! What the benchmarks share: the tests' moto setup (`tests/support`: moto server from `.venv`
//! on 127.0.0.1, the seed script), and a proxy in front of moto that delays every request (a
//! stand-in for the round trip to AWS) and records when each one arrived and was answered, and
//! which operation it was.

#![allow(dead_code)] // each benchmark uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// moto, its seed script and readers of what it holds: the emulator setup of the tests.
#[path = "../../tests/support/mod.rs"]
mod emulator;

#[allow(unused_imports)] // as above: each benchmark uses its own part
pub use emulator::{MUTATING, Moto, capacity, repo, service, venv};

/// The release binary, which the benchmark scripts build first.
pub fn release_binary() -> PathBuf {
    // Another build to compare with (e.g. a copy of an earlier version's).
    if let Some(bin) = std::env::var_os("ECS_COST_SAVER_BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    let bin = target_dir.join("release/ecs-cost-saver");
    assert!(bin.exists(), "build it first: cargo build --release --bin ecs-cost-saver ({})", bin.display());
    bin
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The AWS operation (X-Amz-Target's last part, or the query protocol's Action).
    pub operation: String,
    /// When its head arrived at the proxy.
    pub arrived: Instant,
    /// When its response had been written back.
    pub answered: Instant,
}

pub type Log = Arc<Mutex<Vec<Request>>>;

fn operation(head: &str, body: &[u8]) -> String {
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("X-Amz-Target:").or_else(|| line.strip_prefix("x-amz-target:")) {
            return v.trim().rsplit('.').next().unwrap_or_default().to_string();
        }
    }
    let body = String::from_utf8_lossy(body);
    body.split('&').find_map(|kv| kv.strip_prefix("Action=")).unwrap_or("other").to_string()
}

/// Forward one request to moto, `delay` after it arrived, and moto's response back. The
/// response says `Connection: close`, so the client opens a new connection for its next one.
fn relay(mut client: TcpStream, upstream: u16, delay: Duration, log: Log) {
    client.set_nodelay(true).unwrap();
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
    let arrived = Instant::now();
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let head = head.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    // One write, no Nagle: a head and a body in two small writes would wait for a delayed ACK.
    up.set_nodelay(true).unwrap();
    let mut request = head.clone().into_bytes();
    request.extend_from_slice(&body);
    up.write_all(&request).unwrap();
    // Say the request is complete: werkzeug otherwise waits 10 ms for more before it closes.
    up.shutdown(std::net::Shutdown::Write).unwrap();
    let mut response = Vec::new();
    up.read_to_end(&mut response).unwrap();
    // Tell the client this connection ends here (werkzeug may not have said so).
    if let Some(eol) = response.windows(2).position(|w| w == b"\r\n") {
        response.splice(eol + 2..eol + 2, b"Connection: close\r\n".iter().copied());
    }
    // Logged before the client can see the answer: a benchmark that takes the log as soon as
    // its last call returned must find that call in it.
    let operation = operation(&head, &body);
    log.lock().unwrap().push(Request { operation, arrived, answered: Instant::now() });
    let _ = client.write_all(&response);
    let _ = client.flush();
}

/// A proxy to `upstream` on a free loopback port: every request waits `delay` before it goes
/// on, and is logged.
pub struct Proxy {
    pub port: u16,
    pub log: Log,
}

impl Proxy {
    pub fn start(upstream: u16, delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Log = Default::default();
        let shared = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = shared.clone();
                std::thread::spawn(move || relay(client, upstream, delay, log));
            }
        });
        Proxy { port, log }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests logged since the last take, by arrival.
    pub fn take(&self) -> Vec<Request> {
        let mut log = std::mem::take(&mut *self.log.lock().unwrap());
        log.sort_by_key(|r| r.arrived);
        log
    }
}

/// The environment of an `ecs-cost-saver` process talking to `endpoint` with test credentials
/// and nothing from the user's AWS configuration.
pub fn aws_env(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("RUST_LOG", "warn")
        .env_remove("AWS_PROFILE");
}
