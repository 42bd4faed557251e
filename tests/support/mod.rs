//! Test setup for the emulator layer: a moto server of its own per test, on 127.0.0.1, seeded
//! by `tests/seed/seed.py`. A missing or unstartable moto fails the test; it never skips.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::config::{Credentials, Region};
use ecs_cost_saver::aws::Sdk;
use ecs_cost_saver::state::SNAPSHOT_TAG;
use serde_json::Value;

pub mod world;

pub const REGION: &str = "ap-northeast-1";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv that `scripts/test` installs moto into (override with ECS_COST_SAVER_VENV).
pub fn venv() -> PathBuf {
    std::env::var_os("ECS_COST_SAVER_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv"))
}

pub struct Moto {
    child: Child,
    dir: PathBuf,
    pub endpoint: String,
    pub port: u16,
}

/// `moto_server`, except that moto's list of its modules is read once: moto lists its package
/// folder (some 180 `stat` calls) on every request, a cost that would otherwise show in every
/// test and benchmark as ours. Nothing else changes.
const MOTO_SERVER: &str = "
import sys
import moto.backends as backends
modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: modules
from moto.server import main
sys.argv[0] = 'moto_server'
main(sys.argv[1:])
";

impl Moto {
    /// Start a fresh moto server and wait until it answers.
    pub fn start() -> Moto {
        let bin = venv().join("bin/moto_server");
        assert!(
            bin.exists(),
            "moto server not found at {}: run `bash scripts/test`, which installs it into .venv",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Each server records requests into a file of its own, so tests running side by side
        // never read or reset each other's recording.
        let dir = std::env::temp_dir().join(format!("ecs-cost-saver-moto-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(venv().join("bin/python"))
            .args(["-c", MOTO_SERVER, "-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(&dir)
            .env("MOTO_RECORDER_FILEPATH", dir.join("recording"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto { child, dir, endpoint: format!("http://127.0.0.1:{port}"), port };
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = moto.http("GET", "/moto-api/", "") {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto server exited at start: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "moto server did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Tasks stay in the state RunTask gives them (RUNNING) instead of advancing per read.
        moto.post(
            "/moto-api/state-manager/set-transition",
            r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000}}"#,
        );
        moto
    }

    /// A plain HTTP/1.0 request to the server (its management API).
    pub fn http(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = String::new();
        s.read_to_string(&mut response)?;
        let status = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((status, body))
    }

    pub fn post(&self, path: &str, body: &str) -> String {
        let (status, body) = self.http("POST", path, body).expect("moto answers");
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }

    /// Run `tests/seed/seed.py` with the given scenario arguments; its JSON output.
    pub fn seed(&self, args: &[&str]) -> Value {
        let out = Command::new(venv().join("bin/python"))
            .arg(repo().join("tests/seed/seed.py"))
            .args(["--endpoint", &self.endpoint])
            .args(args)
            .output()
            .expect("python from the test venv runs");
        assert!(out.status.success(), "seed {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("seed prints JSON")
    }

    /// SDK clients pointed at this server; one attempt per call so an emulator error shows at
    /// once. Paced by buckets that never bind: moto has none (tests that want AWS's use
    /// [`Moto::sdk_paced`] or the world of `world.rs`).
    pub async fn sdk(&self) -> Sdk {
        self.sdk_paced(&frictionless()).await
    }

    /// [`Moto::sdk`], paced by `limits` (a world of small token buckets).
    pub async fn sdk_paced(&self, limits: &ecs_cost_saver::pace::Limits) -> Sdk {
        sdk_at(&self.endpoint, limits).await
    }

    /// [`Moto::sdk`], with the state table made.
    pub async fn sdk_with_table(&self) -> Sdk {
        use ecs_cost_saver::aws::StateTables;
        let sdk = self.sdk().await;
        sdk.create_state_table(STATE_TABLE).await.expect("moto makes the state table");
        sdk
    }

    /// Record every AWS request made while `f` runs; the operation names, in order.
    pub async fn recording<F: std::future::Future>(&self, f: F) -> (F::Output, Vec<String>) {
        let (out, requests) = self.recording_requests(f).await;
        (out, requests.into_iter().map(|(op, _)| op).collect())
    }

    /// [`Moto::recording`], with each request's body (decoded).
    pub async fn recording_requests<F: std::future::Future>(&self, f: F) -> (F::Output, Vec<(String, String)>) {
        self.post("/moto-api/recorder/reset-recording", "");
        self.post("/moto-api/recorder/start-recording", "");
        let out = f.await;
        self.post("/moto-api/recorder/stop-recording", "");
        let (_, log) = self.http("GET", "/moto-api/recorder/download-recording", "").unwrap();
        let requests = log
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let entry = serde_json::from_str::<Value>(l).expect("recorder lines are JSON");
                (operation(&entry), body(&entry))
            })
            .collect();
        (out, requests)
    }
}

/// The AWS operation of a recorded request: `X-Amz-Target` for JSON protocols, `Action=` for
/// query protocols (ELB).
fn operation(entry: &Value) -> String {
    if let Some(target) = entry["headers"]["X-Amz-Target"].as_str() {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    // EventBridge Scheduler is REST: the operation is the method on /schedules/NAME.
    let url = entry["url"].as_str().unwrap_or_default();
    let path = url.split("://").nth(1).and_then(|rest| rest.split_once('/')).map(|(_, p)| p).unwrap_or(url);
    if let Some(rest) = path.strip_prefix("schedules") {
        let one = rest.starts_with('/') && rest.len() > 1;
        return match (entry["method"].as_str().unwrap_or_default(), one) {
            ("POST", true) => "CreateSchedule",
            ("PUT", true) => "UpdateSchedule",
            ("DELETE", true) => "DeleteSchedule",
            ("GET", true) => "GetSchedule",
            _ => "ListSchedules",
        }
        .to_string();
    }
    let body = body(entry);
    let url = entry["url"].as_str().unwrap_or_default();
    body.split('&')
        .chain(url.split(['?', '&']))
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("unknown")
        .to_string()
}

/// A recorded request's body, decoded.
fn body(entry: &Value) -> String {
    let body = entry["body"].as_str().unwrap_or_default();
    if entry["body_encoded"].as_bool() == Some(true) { decode_base64(body) } else { body.to_string() }
}

fn decode_base64(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SDK clients pointed at `endpoint` (moto, or a world in front of it), one attempt per call,
/// paced by `limits`.
pub async fn sdk_at(endpoint: &str, limits: &ecs_cost_saver::pace::Limits) -> Sdk {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    Sdk::paced(&config, limits)
}

/// The settings of the end-to-end tests: 8 services at a time, a look at the tasks every
/// 100 ms, no safety margin (the test's deadline is the run's).
pub fn e2e_settings() -> ecs_cost_saver::Settings {
    ecs_cost_saver::Settings {
        concurrency: 8,
        poll_interval: Duration::from_millis(100),
        safety_margin: Duration::ZERO,
        region: Some(REGION.into()),
        ..ecs_cost_saver::Settings::default()
    }
}

/// One invocation of `payload` with [`e2e_settings`], `wait` from now to its deadline.
pub async fn e2e_run<A: ecs_cost_saver::aws::Aws>(
    sdk: &A,
    schedule: &ecs_cost_saver::schedule::Schedule,
    payload: Value,
    wait: Duration,
) -> ecs_cost_saver::report::Report {
    let deadline = tokio::time::Instant::now() + wait;
    let settings = e2e_settings();
    let ctx = ecs_cost_saver::Context::new(sdk, schedule, &settings);
    ecs_cost_saver::handle(&ctx, payload, chrono::Utc::now(), deadline).await.unwrap()
}

/// (desiredCount, snapshot tag) of a service as ECS has it.
pub async fn service(sdk: &Sdk, cluster: &str, name: &str) -> (i32, Option<String>) {
    let out = sdk
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .unwrap();
    let s = &out.services()[0];
    let tag = s.tags().iter().find(|t| t.key() == Some(SNAPSHOT_TAG)).and_then(|t| t.value()).map(str::to_string);
    (s.desired_count(), tag)
}

/// (min, max) of a service's scalable target, if it has one.
pub async fn capacity(sdk: &Sdk, cluster: &str, name: &str) -> Option<(i32, i32)> {
    let out = sdk
        .scaling
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids(format!("service/{cluster}/{name}"))
        .send()
        .await
        .unwrap();
    out.scalable_targets().first().map(|t| (t.min_capacity(), t.max_capacity()))
}

/// Operations that change something in AWS.
pub const MUTATING: &[&str] = &[
    "UpdateService",
    "TagResource",
    "UntagResource",
    "RegisterScalableTarget",
    "RegisterTargets",
    "DeregisterTargets",
    "CreateSchedule",
    "UpdateSchedule",
    "DeleteSchedule",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
];

/// A service's counts set by hand, as its own Terraform or a person would: desiredCount, and
/// the scalable target's min/max with no scaling suspended.
pub async fn set_counts(sdk: &Sdk, cluster: &str, name: &str, desired: i32, capacity: Option<(i32, i32)>) {
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
    if let Some((min, max)) = capacity {
        let none = SuspendedState::builder()
            .dynamic_scaling_in_suspended(false)
            .dynamic_scaling_out_suspended(false)
            .scheduled_scaling_suspended(false)
            .build();
        sdk.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(format!("service/{cluster}/{name}"))
            .min_capacity(min)
            .max_capacity(max)
            .suspended_state(none)
            .send()
            .await
            .unwrap();
    }
    sdk.ecs.update_service().cluster(cluster).service(name).desired_count(desired).send().await.unwrap();
}

/// Buckets that never bind: a million tokens a second in every group.
pub fn frictionless() -> ecs_cost_saver::pace::Limits {
    let groups: Vec<String> =
        ecs_cost_saver::pace::Group::ALL.iter().map(|g| format!("{}=1000000/1000000", g.name())).collect();
    ecs_cost_saver::pace::Limits::parse(&groups.join(",")).expect("valid limits")
}

/// The services of `seed.py e2e`, as a schedule lists them (one environment's `services:`).
pub const E2E_SERVICES: &str = "    services:
      - { cluster: alpha, service: svc-a }
      - { cluster: alpha, service: svc-b }
      - { cluster: beta, service: svc-c }
";

/// The state table the tests make (`init-state` makes the same).
pub const STATE_TABLE: &str = "ecs-cost-saver-state";

/// The snapshot the state table holds for a service of the seeded account, as its tag would
/// spell it (`desired=3 min=1 max=4`).
pub async fn table_snapshot(sdk: &Sdk, cluster: &str, name: &str) -> Option<String> {
    use ecs_cost_saver::aws::SnapshotTable;
    let key = format!("123456789012/{REGION}/{cluster}/{name}");
    let found = sdk.entries(STATE_TABLE, std::slice::from_ref(&key)).await.unwrap();
    found.into_iter().find(|(k, _)| *k == key).map(|(_, e)| e.snapshot.encode())
}

/// (service, outcome, desired count after) of every service of a JSON report.
pub fn outcomes(report: &serde_json::Value) -> Vec<(&str, &str, i64)> {
    report["services"]
        .as_array()
        .expect("a report lists its services")
        .iter()
        .map(|s| {
            (s["service"].as_str().unwrap(), s["outcome"].as_str().unwrap(), s["after"]["desired"].as_i64().unwrap())
        })
        .collect()
}

/// The documented Fargate Spot event (fixture) from `account` in `region`, pointed at a task of
/// service `web` of cluster `spot` there that the emulator runs.
pub fn spot_interruption(account: &str, region: &str, task_arn: &str, ip: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/events/fargate-spot-interruption.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    event["account"] = serde_json::json!(account);
    event["region"] = serde_json::json!(region);
    let d = &mut event["detail"];
    d["clusterArn"] = serde_json::json!(format!("arn:aws:ecs:{region}:{account}:cluster/spot"));
    d["taskArn"] = serde_json::json!(task_arn);
    d["group"] = serde_json::json!("service:web");
    d["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] = serde_json::json!(ip);
    for detail in d["attachments"][0]["details"].as_array_mut().unwrap() {
        if detail["name"] == "privateIPv4Address" {
            detail["value"] = serde_json::json!(ip);
        }
    }
    event
}
