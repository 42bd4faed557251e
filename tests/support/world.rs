//! An AWS-like world in front of moto: a loopback HTTP proxy that adds what moto lacks and the
//! function has to cope with in a real account. Tests and benchmarks point the SDK (or the
//! binary, with `AWS_ENDPOINT_URL`) at [`World::endpoint`] instead of moto's.
//!
//! What it models:
//! - **Request-rate limits**: one token bucket per API group of `ecs_cost_saver::pace`
//!   (`Group::of(operation)`, and the account-wide bucket it shares, `Group::shared`: a call
//!   passes only with a token from both; every EventBridge Scheduler request, `/schedules…`,
//!   is `Group::Scheduler`), AWS's published figures by default (`Limits::default()`) or the
//!   caller's, on the proxy's own clock (seconds since the world started). The buckets are
//!   asked when the request would reach AWS, after the delay below. Operations of no group
//!   (e.g. `ListTagsForResource`, `sts:AssumeRole`) pass unthrottled.
//! - **Throttled answers in each protocol's own shape**; such a request never reaches moto:
//!   JSON protocols (`X-Amz-Target`: ECS, Application Auto Scaling, DynamoDB): HTTP 400,
//!   `x-amzn-ErrorType: ThrottlingException`, `{"__type":"ThrottlingException","message":"Rate
//!   exceeded"}` (`application/x-amz-json-1.1`; 1.0 for DynamoDB, whose protocol that is); the
//!   query protocol (ELBv2, `Action=`): HTTP 400 `text/xml` `<ErrorResponse>` with `Sender` /
//!   `Throttling` / `Rate exceeded` and a `RequestId`; REST-JSON (Scheduler): HTTP 429,
//!   `x-amzn-ErrorType: ThrottlingException`, `{"Message":"Rate exceeded"}`. The SDK
//!   classifies all of them as throttling and retries them (`tests/world.rs` shows it).
//! - **Latency**: every request waits a fixed delay (default 20 ms) before it goes on, a
//!   throttled one too.
//! - **A log** of every request (operation, group, arrival, answer, throttled), taken with
//!   [`World::take`] and counted per group with [`tally`] and [`served`].
//! - **ECS's service scheduler**, which moto does not run: when an `UpdateService` with a
//!   `desiredCount` succeeds, `task_start` later the service's RUNNING tasks (group
//!   `service:NAME`) are brought to that count, directly against moto (not through the buckets:
//!   AWS's own service does this, not the account's caller). Missing tasks are started (RunTask,
//!   FARGATE, the service's task definition and network configuration) and each new task's
//!   `IP:containerPort` is registered in the target groups of the service's own
//!   `loadBalancers` (never in target groups only a schedule file names: ECS does not know
//!   them); excess tasks are deregistered from those target groups, then stopped. A later
//!   `UpdateService` replaces a pending one. The work is done in batches per cluster (one at a
//!   time per cluster, four clusters at once); its calls are retried (moto, which is not
//!   thread-safe, answers HTTP 500 now and then), and a batch whose reads failed is tried again
//!   a second later.
//! - **Registered before seen RUNNING**: moto makes a task RUNNING the moment RunTask returns
//!   and chooses its IP itself, so the order cannot come from moto. Instead, while a batch runs
//!   in a cluster (from its first read to the last RegisterTargets / StopTask) the world holds
//!   back that cluster's `ListTasks` and `DescribeTasks` (they wait, then go on; the
//!   batch waits for those already in flight). So a caller sees a task either not yet started,
//!   or RUNNING and registered; and a stopped task either RUNNING and registered, or STOPPED
//!   and deregistered.
//!
//! Not modelled: read-after-write lag (moto answers every read with the latest write);
//! health checks and target states (moto's, a deregistered target is `unused` at once, no
//! draining); deployments, rolling updates, minimum healthy percent, circuit breakers;
//! capacity providers, Fargate capacity shortages and tasks that fail to start; the time a task
//! takes to stop (STOPPED at once); CreateService/DeleteService starting or stopping tasks;
//! Application Auto Scaling acting on its own (scaling policies, scheduled actions, and
//! raising a service's desiredCount to a new minimum of its scalable target); the
//! Scheduler firing its schedules; buckets per operation beyond the table in `pace` (AWS has a
//! few more, and Lambda's own limits), other callers drawing from the same buckets (use
//! `Limits::parse("share=…")` for that); latency jitter, 5xx answers and dropped connections;
//! the Lambda's timeout and cold starts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::error::DisplayErrorContext;
use aws_sdk_ecs::types::{DesiredStatus, LaunchType, LoadBalancer, NetworkConfiguration};
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use ecs_cost_saver::pace::{self, Bucket, Calls, Group, Limits};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

/// How the world behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The buckets; `None`: no request is ever throttled (a plain recording proxy).
    pub limits: Option<Limits>,
    /// Every request waits this long before it goes on (or is throttled).
    pub delay: Duration,
    /// ECS's scheduler: how long after an `UpdateService` the service's tasks match its
    /// desired count; `None`: no tasks are started or stopped (moto's own behaviour).
    pub task_start: Option<Duration>,
    /// How long ECS takes between starting a task and registering it: hidden from callers by
    /// the held-back reads (a test widens it to show that they are held back).
    pub register_lag: Duration,
    /// Roles whose AssumeRole STS refuses (`AccessDenied`, as for a trust policy that does not
    /// name the caller): moto assumes any role.
    pub refused_roles: Vec<String>,
}

impl Options {
    /// AWS as the function meets it: AWS's published buckets, 20 ms a request, tasks 3 s after
    /// an `UpdateService`.
    pub fn aws() -> Options {
        Options {
            limits: Some(Limits::default()),
            delay: Duration::from_millis(20),
            task_start: Some(Duration::from_secs(3)),
            register_lag: Duration::ZERO,
            refused_roles: Vec::new(),
        }
    }

    /// Only the delay and the log: moto as it is, a round trip away.
    pub fn plain(delay: Duration) -> Options {
        Options { limits: None, delay, task_start: None, register_lag: Duration::ZERO, refused_roles: Vec::new() }
    }

    pub fn limits(self, limits: Limits) -> Options {
        Options { limits: Some(limits), ..self }
    }

    pub fn delay(self, delay: Duration) -> Options {
        Options { delay, ..self }
    }

    pub fn task_start(self, task_start: Duration) -> Options {
        Options { task_start: Some(task_start), ..self }
    }

    pub fn register_lag(self, register_lag: Duration) -> Options {
        Options { register_lag, ..self }
    }

    pub fn refuse_role(mut self, role_arn: &str) -> Options {
        self.refused_roles.push(role_arn.to_string());
        self
    }
}

/// One request as the world saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The AWS operation (X-Amz-Target's last part, the query protocol's Action, or the
    /// Scheduler operation of a method and path).
    pub operation: String,
    /// Its bucket, if it has one.
    pub group: Option<Group>,
    /// When its head arrived.
    pub arrived: Instant,
    /// When its response had been written back.
    pub answered: Instant,
    /// Answered with a throttling error instead of going to moto.
    pub throttled: bool,
}

/// Calls and throttled answers of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: u64,
    pub throttled: u64,
}

/// Calls and throttled answers per group in `log` (requests of no group are left out).
pub fn tally(log: &[Request]) -> BTreeMap<Group, Tally> {
    let mut out: BTreeMap<Group, Tally> = BTreeMap::new();
    for r in log {
        if let Some(g) = r.group {
            let t = out.entry(g).or_default();
            t.calls += 1;
            t.throttled += u64::from(r.throttled);
        }
    }
    out
}

/// The calls of `log` that drew a token (were not throttled), per group, as `pace::bound`
/// takes them.
pub fn served(log: &[Request]) -> Calls {
    let mut calls: Calls = Default::default();
    for r in log.iter().filter(|r| !r.throttled) {
        if let Some(g) = r.group {
            pace::add(&mut calls, g, 1);
        }
    }
    calls
}

/// The proxy and, when asked for, ECS's scheduler; runs until dropped.
pub struct World {
    pub port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: u16,
    options: Options,
    epoch: Instant,
    buckets: Mutex<HashMap<Group, Bucket>>,
    log: Mutex<Vec<Request>>,
    requests: AtomicU64,
    ecs: Option<Arc<Ecs>>,
}

impl World {
    /// A world in front of the moto server on `upstream` (127.0.0.1), on a free loopback port.
    pub fn start(upstream: u16, options: Options) -> World {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ecs = options.task_start.map(|task_start| Ecs::start(upstream, task_start, options.register_lag));
        let shared = Arc::new(Shared {
            upstream,
            epoch: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
            log: Mutex::default(),
            requests: AtomicU64::new(0),
            ecs,
            options,
        });
        shared.refill();
        let serving = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || shared.serve(client));
            }
        });
        World { port, shared }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests logged since the last take, by arrival.
    pub fn take(&self) -> Vec<Request> {
        let mut log = std::mem::take(&mut *self.shared.log.lock().unwrap());
        log.sort_by_key(|r| r.arrived);
        log
    }

    /// Every bucket full again, as after a quiet while (the hours between a stop and a start).
    pub fn refill(&self) {
        self.shared.refill();
    }

    /// Seconds on the world's clock, the one its buckets run on.
    pub fn now(&self) -> f64 {
        self.shared.now()
    }

    /// Wait until ECS has no work pending or under way; false if `timeout` passed first.
    pub fn wait_quiet(&self, timeout: Duration) -> bool {
        self.shared.ecs.as_ref().is_none_or(|ecs| ecs.wait_quiet(timeout))
    }

    /// Tasks ECS started and stopped, and what went wrong in its own calls to moto.
    pub fn ecs_counts(&self) -> EcsCounts {
        self.shared.ecs.as_ref().map(|ecs| ecs.counts()).unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(ecs) = &self.shared.ecs {
            ecs.closed.store(true, Ordering::SeqCst);
        }
    }
}

/// What ECS's scheduler did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcsCounts {
    pub started: u64,
    pub stopped: u64,
    /// Its calls to moto that failed after the SDK's retries (a test should find none).
    pub errors: Vec<String>,
    /// Services whose work failed before anything was changed and was tried again.
    pub retried: u64,
}

// ---- the proxy ----

/// A request as read from the client.
struct Incoming {
    method: String,
    path: String,
    /// The head as it goes on to moto: without the client's `Connection` header.
    head: String,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Incoming> {
    let mut head = String::new();
    let mut headers = Vec::new();
    let mut first = String::new();
    reader.read_line(&mut first).ok().filter(|n| *n > 0)?;
    head.push_str(&first);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            head.push_str(&line);
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let name = name.trim().to_ascii_lowercase();
        if name != "connection" {
            head.push_str(&line);
        }
        headers.push((name, value.trim().to_string()));
    }
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Incoming { method, path, head, headers, body })
}

/// How a service's protocol spells a throttling error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `X-Amz-Target` JSON, with its content type's version (1.1; DynamoDB 1.0).
    Json(&'static str),
    /// `Action=` in a form body (ELBv2, STS).
    Query,
    /// REST-JSON (EventBridge Scheduler).
    Rest,
}

/// The operation, its bucket and its protocol.
fn classify(req: &Incoming) -> (String, Option<Group>, Protocol) {
    if let Some(target) = req.header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        let version = if target.starts_with("DynamoDB_") { "1.0" } else { "1.1" };
        let group = Group::of(&operation);
        return (operation, group, Protocol::Json(version));
    }
    let path = req.path.split('?').next().unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/schedules") {
        let one = rest.len() > 1;
        let operation = match (req.method.as_str(), one) {
            ("POST", true) => "CreateSchedule",
            ("PUT", true) => "UpdateSchedule",
            ("DELETE", true) => "DeleteSchedule",
            ("GET", true) => "GetSchedule",
            _ => "ListSchedules",
        };
        return (operation.to_string(), Some(Group::Scheduler), Protocol::Rest);
    }
    let body = String::from_utf8_lossy(&req.body);
    let action = body.split('&').chain(req.path.split(['?', '&'])).find_map(|kv| kv.strip_prefix("Action="));
    match action {
        Some(op) => (op.to_string(), Group::of(op), Protocol::Query),
        None => ("other".to_string(), None, Protocol::Rest),
    }
}

/// The throttling error AWS answers with, in `protocol`'s shape.
fn throttled_answer(protocol: Protocol, request_id: &str) -> Vec<u8> {
    let (status, kind, extra, body) = match protocol {
        Protocol::Json(version) => (
            "400 Bad Request",
            format!("application/x-amz-json-{version}"),
            "x-amzn-ErrorType: ThrottlingException\r\n",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
        ),
        Protocol::Query => (
            "400 Bad Request",
            "text/xml".to_string(),
            "",
            format!(
                "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error>\
                 <Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
                 <RequestId>{request_id}</RequestId></ErrorResponse>"
            ),
        ),
        Protocol::Rest => (
            "429 Too Many Requests",
            "application/json".to_string(),
            "x-amzn-ErrorType: ThrottlingException\r\n",
            r#"{"Message":"Rate exceeded"}"#.to_string(),
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n{extra}x-amzn-RequestId: {request_id}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// STS's answer to an AssumeRole the role's trust policy does not allow.
fn access_denied(role_arn: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/ecs-cost-saver/hub is not \
         authorized to perform: sts:AssumeRole on resource: {role_arn}</Message></Error>\
         <RequestId>00000000-0000-4000-8000-000000000403</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A form value as the query protocol encodes it (`:` and `/` escaped).
fn url_encoded(value: &str) -> String {
    value.replace(':', "%3A").replace('/', "%2F")
}

/// Send `req` to moto and read its whole response. The request says `Connection: close`, so
/// the client opens a new connection for its next one.
fn forward(upstream: u16, req: &Incoming) -> Vec<u8> {
    let head = req.head.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    // One write, no Nagle: a head and a body in two small writes would wait for a delayed ACK.
    up.set_nodelay(true).unwrap();
    let mut request = head.into_bytes();
    request.extend_from_slice(&req.body);
    up.write_all(&request).unwrap();
    // Say the request is complete: werkzeug otherwise waits 10 ms for more before it closes.
    up.shutdown(std::net::Shutdown::Write).unwrap();
    let mut response = Vec::new();
    up.read_to_end(&mut response).unwrap();
    // Tell the client this connection ends here (werkzeug may not have said so).
    if let Some(eol) = response.windows(2).position(|w| w == b"\r\n") {
        response.splice(eol + 2..eol + 2, b"Connection: close\r\n".iter().copied());
    }
    response
}

fn status(response: &[u8]) -> u16 {
    let line = response.split(|b| *b == b'\r').next().unwrap_or_default();
    String::from_utf8_lossy(line).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The last part of a name or ARN (`arn:…:cluster/NAME`, `arn:…:service/CLUSTER/NAME`).
fn short(name_or_arn: &str) -> String {
    name_or_arn.rsplit('/').next().unwrap_or(name_or_arn).to_string()
}

impl Shared {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    fn refill(&self) {
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap();
        buckets.clear();
        if let Some(limits) = &self.options.limits {
            buckets.extend(Group::ALL.iter().map(|g| (*g, Bucket::full(limits.get(*g), now))));
        }
    }

    /// Whether a request of `group` may go on now: a token taken from its bucket and from the
    /// account-wide one it shares (ELB's), both or neither. No bucket, no limit.
    fn admit(&self, group: Option<Group>) -> bool {
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap();
        let drawn: Vec<Group> =
            group.into_iter().chain(group.and_then(Group::shared)).filter(|g| buckets.contains_key(g)).collect();
        if drawn.iter().any(|g| buckets.get_mut(g).unwrap().tokens(now) < 1.0) {
            return false;
        }
        drawn.iter().all(|g| buckets.get_mut(g).unwrap().try_take(now))
    }

    fn serve(&self, client: TcpStream) {
        client.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let Some(req) = read_request(&mut reader) else { return };
        let arrived = Instant::now();
        let (operation, group, protocol) = classify(&req);
        if !self.options.delay.is_zero() {
            std::thread::sleep(self.options.delay);
        }
        let throttled = !self.admit(group);
        let refused = (operation == "AssumeRole")
            .then(|| String::from_utf8_lossy(&req.body).into_owned())
            .and_then(|body| self.options.refused_roles.iter().find(|r| body.contains(&url_encoded(r))).cloned());
        let response = if throttled {
            let n = self.requests.fetch_add(1, Ordering::Relaxed);
            throttled_answer(protocol, &format!("{:08x}-0000-4000-8000-{:012x}", self.upstream, n))
        } else if let Some(role) = refused {
            access_denied(&role)
        } else {
            self.pass(&operation, &req)
        };
        // Logged before the client can see the answer: a benchmark that takes the log as soon
        // as its last call returned must find that call in it.
        self.log.lock().unwrap().push(Request { operation, group, arrived, answered: Instant::now(), throttled });
        let mut client = client;
        let _ = client.write_all(&response);
        let _ = client.flush();
    }

    /// A request that goes on to moto, with what ECS does around it.
    fn pass(&self, operation: &str, req: &Incoming) -> Vec<u8> {
        let Some(ecs) = &self.ecs else { return forward(self.upstream, req) };
        match operation {
            "ListTasks" | "DescribeTasks" => {
                let cluster = short(req.json()["cluster"].as_str().unwrap_or("default"));
                let _reading = ecs.gate.read(&cluster);
                forward(self.upstream, req)
            }
            "UpdateService" => {
                let response = forward(self.upstream, req);
                let body = req.json();
                if let (200, Some(service), Some(desired)) =
                    (status(&response), body["service"].as_str(), body["desiredCount"].as_i64())
                {
                    let cluster = short(body["cluster"].as_str().unwrap_or("default"));
                    ecs.schedule(cluster, short(service), desired as i32);
                }
                response
            }
            _ => forward(self.upstream, req),
        }
    }
}

// ---- ECS's scheduler ----

/// The clients ECS's scheduler calls moto with; moto's occasional HTTP 500 (it is not
/// thread-safe) is retried.
#[derive(Clone)]
struct Clients {
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
}

impl Clients {
    fn new(upstream: u16) -> Clients {
        let endpoint = format!("http://127.0.0.1:{upstream}");
        let credentials = Credentials::new("test", "test", None, None, "world");
        let ecs = aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(super::REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials.clone())
            .retry_config(aws_sdk_ecs::config::retry::RetryConfig::standard().with_max_attempts(5))
            .build();
        let elb = aws_sdk_elasticloadbalancingv2::Config::builder()
            .behavior_version(aws_sdk_elasticloadbalancingv2::config::BehaviorVersion::latest())
            .region(aws_sdk_elasticloadbalancingv2::config::Region::new(super::REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials)
            .retry_config(aws_sdk_elasticloadbalancingv2::config::retry::RetryConfig::standard().with_max_attempts(5))
            .build();
        Clients {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(elb),
        }
    }
}

struct Ecs {
    task_start: Duration,
    register_lag: Duration,
    state: Mutex<EcsState>,
    changed: Condvar,
    gate: Arc<Gate>,
    closed: AtomicBool,
}

struct Pending {
    at: Instant,
    desired: i32,
    tries: u32,
}

#[derive(Default)]
struct EcsState {
    /// (cluster, service) → when, desired count, earlier tries: the latest UpdateService of
    /// each.
    pending: BTreeMap<(String, String), Pending>,
    /// Clusters with a batch under way.
    busy: BTreeSet<String>,
    counts: EcsCounts,
}

/// Batches under way at once, and services at once within one: moto serves one request at a
/// time (Python), and the world's own calls should not crowd out the caller's.
const MAX_BATCHES: usize = 4;
const SERVICES_AT_ONCE: usize = 2;
/// How often work that failed before it changed anything is tried.
const MAX_TRIES: u32 = 5;

/// RunTask starts at most 10 tasks a call; DescribeTasks and DescribeServices take 100 and 10.
const RUN_TASK_BATCH: i32 = 10;
const DESCRIBE_TASKS_BATCH: usize = 100;
const DESCRIBE_SERVICES_BATCH: usize = 10;

impl Ecs {
    fn start(upstream: u16, task_start: Duration, register_lag: Duration) -> Arc<Ecs> {
        // Tasks stay RUNNING however often they are read (moto advances a task one state after
        // `times` reads; `Moto::start` sets 1,000, which a long benchmark could reach).
        let body = r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000000}}"#;
        let mut s = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        write!(
            s,
            "POST /moto-api/state-manager/set-transition HTTP/1.0\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.split(' ').nth(1).is_some_and(|s| s.starts_with('2')), "moto: {answer}");

        let ecs = Arc::new(Ecs {
            task_start,
            register_lag,
            state: Mutex::default(),
            changed: Condvar::new(),
            gate: Arc::default(),
            closed: AtomicBool::new(false),
        });
        let running = ecs.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(running.run(Clients::new(upstream)));
        });
        ecs
    }

    fn schedule(&self, cluster: String, service: String, desired: i32) {
        let mut state = self.state.lock().unwrap();
        state.pending.insert((cluster, service), Pending { at: Instant::now() + self.task_start, desired, tries: 0 });
        self.changed.notify_all();
    }

    fn counts(&self) -> EcsCounts {
        self.state.lock().unwrap().counts.clone()
    }

    fn wait_quiet(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        while !(state.pending.is_empty() && state.busy.is_empty()) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
        true
    }

    /// The scheduler's loop: every few milliseconds, hand each cluster's due work to a batch
    /// of its own (one per cluster at a time).
    async fn run(self: Arc<Ecs>, clients: Clients) {
        while !self.closed.load(Ordering::SeqCst) {
            for (cluster, work) in self.take_due(Instant::now()) {
                let (ecs, clients) = (self.clone(), clients.clone());
                tokio::spawn(async move {
                    let writing = ecs.gate.write(&cluster).await;
                    let tries: HashMap<String, u32> = work.iter().map(|(s, p)| (s.clone(), p.tries)).collect();
                    let work = work.into_iter().map(|(s, p)| (s, p.desired)).collect();
                    let done = converge(&clients, &cluster, work, ecs.register_lag).await;
                    drop(writing);
                    let mut state = ecs.state.lock().unwrap();
                    state.busy.remove(&cluster);
                    state.counts.started += done.started;
                    state.counts.stopped += done.stopped;
                    state.counts.errors.extend(done.errors);
                    // Work that failed before it changed anything is tried again a second
                    // later, unless a newer UpdateService replaced it.
                    for (service, desired) in done.again {
                        let tries = tries.get(&service).copied().unwrap_or(0) + 1;
                        if tries < MAX_TRIES {
                            let at = Instant::now() + Duration::from_secs(1);
                            state.counts.retried += 1;
                            state.pending.entry((cluster.clone(), service)).or_insert(Pending { at, desired, tries });
                        }
                    }
                    ecs.changed.notify_all();
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The due work (service, what is pending for it) of clusters with no batch under
    /// way, by cluster, earliest first, as many clusters as may run batches now; those are
    /// busy then.
    fn take_due(&self, now: Instant) -> Vec<(String, Vec<(String, Pending)>)> {
        let mut state = self.state.lock().unwrap();
        let mut earliest: BTreeMap<&str, Instant> = BTreeMap::new();
        for ((cluster, _), p) in &state.pending {
            if p.at <= now && !state.busy.contains(cluster) {
                let e = earliest.entry(cluster.as_str()).or_insert(p.at);
                *e = (*e).min(p.at);
            }
        }
        let mut clusters: Vec<(Instant, String)> = earliest.into_iter().map(|(c, at)| (at, c.to_string())).collect();
        clusters.sort();
        clusters.truncate(MAX_BATCHES.saturating_sub(state.busy.len()));
        let mut batches = Vec::new();
        for (_, cluster) in clusters {
            let due: Vec<(String, String)> = state
                .pending
                .iter()
                .filter(|((c, _), p)| *c == cluster && p.at <= now)
                .map(|(key, _)| key.clone())
                .collect();
            let work = due
                .into_iter()
                .map(|key| {
                    let p = state.pending.remove(&key).unwrap();
                    (key.1, p)
                })
                .collect();
            state.busy.insert(cluster.clone());
            batches.push((cluster, work));
        }
        batches
    }
}

#[derive(Default)]
struct Converged {
    started: u64,
    stopped: u64,
    errors: Vec<String>,
    /// (service, desired count) to try again: nothing was changed for them yet.
    again: Vec<(String, i32)>,
}

/// A task as the scheduler needs it.
struct Running {
    arn: String,
    group: String,
    ip: Option<String>,
}

fn task_ip(task: &aws_sdk_ecs::types::Task) -> Option<String> {
    task.attachments()
        .iter()
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value().map(str::to_string))
}

/// Bring each service of `work` (name, desired count) in `cluster` to its desired count.
async fn converge(aws: &Clients, cluster: &str, work: Vec<(String, i32)>, register_lag: Duration) -> Converged {
    let mut done = Converged::default();
    let running = match running_tasks(aws, cluster).await {
        Ok(tasks) => tasks,
        Err(e) => {
            done.errors.push(e);
            done.again = work;
            return done;
        }
    };
    let mut services: HashMap<String, aws_sdk_ecs::types::Service> = HashMap::new();
    let mut work_now = Vec::new();
    for chunk in work.chunks(DESCRIBE_SERVICES_BATCH) {
        let names = chunk.iter().map(|(s, _)| s.clone()).collect();
        match aws.ecs.describe_services().cluster(cluster).set_services(Some(names)).send().await {
            Ok(out) => {
                services.extend(
                    out.services().iter().map(|s| (s.service_name().unwrap_or_default().to_string(), s.clone())),
                );
                work_now.extend(chunk.iter().cloned());
            }
            Err(e) => {
                done.errors.push(format!("DescribeServices {cluster}: {}", DisplayErrorContext(e)));
                done.again.extend(chunk.iter().cloned());
            }
        }
    }
    let results = stream::iter(work_now.into_iter().map(|(name, desired)| {
        let service = services.get(name.as_str()).cloned();
        let group = format!("service:{name}");
        let mine: Vec<&Running> = running.iter().filter(|t| t.group == group).collect();
        async move {
            let Some(service) = service else {
                return Converged { errors: vec![format!("{cluster}/{name}: not found")], ..Converged::default() };
            };
            let have = mine.len() as i32;
            if have < desired {
                start_tasks(aws, cluster, &service, desired - have, register_lag).await
            } else if have > desired {
                stop_tasks(aws, cluster, &service, &mine[desired.max(0) as usize..]).await
            } else {
                Converged::default()
            }
        }
    }))
    .buffer_unordered(SERVICES_AT_ONCE)
    .collect::<Vec<_>>()
    .await;
    for r in results {
        done.started += r.started;
        done.stopped += r.stopped;
        done.errors.extend(r.errors);
    }
    done
}

/// The cluster's tasks that are to be RUNNING.
async fn running_tasks(aws: &Clients, cluster: &str) -> Result<Vec<Running>, String> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let out = aws
            .ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(DesiredStatus::Running)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("ListTasks {cluster}: {}", DisplayErrorContext(e)))?;
        arns.extend(out.task_arns().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut tasks = Vec::new();
    for chunk in arns.chunks(DESCRIBE_TASKS_BATCH) {
        let out = aws
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| format!("DescribeTasks {cluster}: {}", DisplayErrorContext(e)))?;
        tasks.extend(out.tasks().iter().map(|t| Running {
            arn: t.task_arn().unwrap_or_default().to_string(),
            group: t.group().unwrap_or_default().to_string(),
            ip: task_ip(t),
        }));
    }
    Ok(tasks)
}

/// The service's own target groups and the container port registered in each.
fn own_target_groups(service: &aws_sdk_ecs::types::Service) -> Vec<(String, i32)> {
    service
        .load_balancers()
        .iter()
        .filter_map(|lb: &LoadBalancer| Some((lb.target_group_arn()?.to_string(), lb.container_port()?)))
        .collect()
}

async fn start_tasks(
    aws: &Clients,
    cluster: &str,
    service: &aws_sdk_ecs::types::Service,
    count: i32,
    register_lag: Duration,
) -> Converged {
    let mut done = Converged::default();
    let name = service.service_name().unwrap_or_default();
    let network: Option<NetworkConfiguration> = service.network_configuration().cloned();
    let mut ips = Vec::new();
    let mut left = count;
    while left > 0 {
        let batch = left.min(RUN_TASK_BATCH);
        left -= batch;
        let out = aws
            .ecs
            .run_task()
            .cluster(cluster)
            .set_task_definition(service.task_definition().map(str::to_string))
            .count(batch)
            .launch_type(LaunchType::Fargate)
            .group(format!("service:{name}"))
            .set_network_configuration(network.clone())
            .send()
            .await;
        match out {
            Ok(out) => {
                for f in out.failures() {
                    done.errors.push(format!("RunTask {cluster}/{name}: {:?} {:?}", f.reason(), f.detail()));
                }
                done.started += out.tasks().len() as u64;
                ips.extend(out.tasks().iter().filter_map(task_ip));
            }
            Err(e) => done.errors.push(format!("RunTask {cluster}/{name}: {}", DisplayErrorContext(e))),
        }
    }
    tokio::time::sleep(register_lag).await;
    for (tg, port) in own_target_groups(service) {
        if ips.is_empty() {
            break;
        }
        let targets = ips.iter().map(|ip| TargetDescription::builder().id(ip).port(port).build()).collect();
        if let Err(e) = aws.elb.register_targets().target_group_arn(&tg).set_targets(Some(targets)).send().await {
            done.errors.push(format!(
                "RegisterTargets {tg}: {}",
                aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(e)
            ));
        }
    }
    done
}

async fn stop_tasks(
    aws: &Clients,
    cluster: &str,
    service: &aws_sdk_ecs::types::Service,
    excess: &[&Running],
) -> Converged {
    let mut done = Converged::default();
    let leaving: BTreeSet<&str> = excess.iter().filter_map(|t| t.ip.as_deref()).collect();
    for (tg, port) in own_target_groups(service) {
        // moto refuses to deregister a target that is not registered (AWS accepts it).
        let registered = match aws.elb.describe_target_health().target_group_arn(&tg).send().await {
            Ok(out) => out
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_string))
                .collect::<BTreeSet<String>>(),
            Err(e) => {
                done.errors.push(format!(
                    "DescribeTargetHealth {tg}: {}",
                    aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(e)
                ));
                continue;
            }
        };
        let targets: Vec<TargetDescription> = leaving
            .iter()
            .filter(|ip| registered.contains(**ip))
            .map(|ip| TargetDescription::builder().id(*ip).port(port).build())
            .collect();
        if targets.is_empty() {
            continue;
        }
        if let Err(e) = aws.elb.deregister_targets().target_group_arn(&tg).set_targets(Some(targets)).send().await {
            done.errors.push(format!(
                "DeregisterTargets {tg}: {}",
                aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(e)
            ));
        }
    }
    for task in excess {
        match aws
            .ecs
            .stop_task()
            .cluster(cluster)
            .task(&task.arn)
            .reason("Scaling activity initiated by (deployment)")
            .send()
            .await
        {
            Ok(_) => done.stopped += 1,
            Err(e) => done.errors.push(format!("StopTask {}: {}", task.arn, DisplayErrorContext(e))),
        }
    }
    done
}

// ---- one cluster's task reads held back while ECS changes its tasks ----

/// Per cluster: readers (ListTasks, DescribeTasks on their way to moto) and at most one
/// writer (a batch of ECS's scheduler). A waiting writer keeps new readers out.
#[derive(Default)]
struct Gate {
    doors: Mutex<HashMap<String, Door>>,
    opened: Condvar,
}

#[derive(Default)]
struct Door {
    readers: usize,
    writing: bool,
    waiting: usize,
}

struct Reading<'a> {
    gate: &'a Gate,
    cluster: String,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let mut doors = self.gate.doors.lock().unwrap();
        doors.get_mut(&self.cluster).unwrap().readers -= 1;
        self.gate.opened.notify_all();
    }
}

struct Writing {
    gate: Arc<Gate>,
    cluster: String,
}

impl Drop for Writing {
    fn drop(&mut self) {
        let mut doors = self.gate.doors.lock().unwrap();
        doors.get_mut(&self.cluster).unwrap().writing = false;
        self.gate.opened.notify_all();
    }
}

impl Gate {
    /// Blocks while the cluster's tasks are being changed.
    fn read(&self, cluster: &str) -> Reading<'_> {
        let mut doors = self.doors.lock().unwrap();
        loop {
            let door = doors.entry(cluster.to_string()).or_default();
            if !door.writing && door.waiting == 0 {
                door.readers += 1;
                return Reading { gate: self, cluster: cluster.to_string() };
            }
            doors = self.opened.wait(doors).unwrap();
        }
    }

    /// Waits (asynchronously, it runs on the scheduler's thread) for the readers in flight.
    async fn write(self: &Arc<Gate>, cluster: &str) -> Writing {
        self.doors.lock().unwrap().entry(cluster.to_string()).or_default().waiting += 1;
        loop {
            {
                let mut doors = self.doors.lock().unwrap();
                let door = doors.get_mut(cluster).unwrap();
                if !door.writing && door.readers == 0 {
                    door.writing = true;
                    door.waiting -= 1;
                    return Writing { gate: self.clone(), cluster: cluster.to_string() };
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}
