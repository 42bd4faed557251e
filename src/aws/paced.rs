//! Client-side pacing: every call of an environment run first takes a token from its API
//! group's bucket (`crate::pace`, AWS's figures unless the settings say otherwise), so the
//! function sends at the rate AWS accepts instead of learning it from throttles. The buckets
//! live as long as the clients (a warm container remembers what its last run spent). What the
//! SDK's retries could not get through (a bucket shared with another tool) is tried again here
//! while the run's deadline allows; no call outlives the deadline, and a throttled call never
//! fails for want of time that is there. Every throttled answer is counted (an interceptor on
//! each client), for the report.
//!
//! Outside an environment run (a Spot interruption, `init-state`) nothing is paced: those calls
//! must never wait behind a stop's tokens.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ecs::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_ecs::config::{AsyncSleep, ConfigBag, Intercept, RuntimeComponents, SharedAsyncSleep};
use aws_smithy_async::time::SharedTimeSource;
use futures_util::future::{Either, select};

use crate::error::{AwsError, ErrorKind};
use crate::pace::{Buckets, Group, Limits};

/// The longest a call outside an environment run may take, retries included (the SDK's own
/// operation timeout is off: it would count a throttled call's back-off against it).
const UNPACED_TIMEOUT: Duration = Duration::from_secs(30);

tokio::task_local! {
    /// Throttled answers to the attempts of the call in progress (see [`Pace::call`]).
    static CALL_THROTTLES: std::cell::Cell<u32>;
}

/// How long a call made at (or just after) the deadline may take.
const LAST_CALL: Duration = Duration::from_secs(2);

/// Back-off between our own tries of a call the SDK gave up on as throttled: 1, 2, 4, then 8 s
/// each time, until the deadline.
const BACKOFF: [f64; 4] = [1.0, 2.0, 4.0, 8.0];

#[derive(Clone)]
pub struct Pace(Arc<Inner>);

struct Inner {
    limits: Limits,
    clock: Option<(SharedAsyncSleep, SharedTimeSource)>,
    buckets: Mutex<Option<Buckets>>,
    /// An environment run is under way: pace, and finish by `deadline` (seconds on the clock).
    active: AtomicBool,
    deadline: Mutex<f64>,
    throttled: Arc<AtomicU64>,
}

impl std::fmt::Debug for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pace").field("limits", &self.0.limits).finish_non_exhaustive()
    }
}

impl Default for Pace {
    /// No pacing and no time limit at all: clients a test builds by hand.
    fn default() -> Pace {
        Pace::with(Limits::default(), None)
    }
}

impl Pace {
    /// Pacing by `limits` (with [`Limits::with_headroom`]) on the SDK's clock and sleep (the
    /// tests' virtual time when they set one).
    pub fn new(limits: Limits, sleep: SharedAsyncSleep, time: SharedTimeSource) -> Pace {
        Pace::with(limits.with_headroom(), Some((sleep, time)))
    }

    fn with(limits: Limits, clock: Option<(SharedAsyncSleep, SharedTimeSource)>) -> Pace {
        Pace(Arc::new(Inner {
            limits,
            clock,
            buckets: Mutex::new(None),
            active: AtomicBool::new(false),
            deadline: Mutex::new(f64::INFINITY),
            throttled: Arc::default(),
        }))
    }

    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// Seconds on the pacing clock.
    pub fn now(&self) -> f64 {
        let at = match &self.0.clock {
            Some((_, time)) => time.now(),
            None => SystemTime::now(),
        };
        at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
    }

    /// An environment run begins: pace its calls, none past `left` from now.
    pub fn begin(&self, left: Duration) {
        if self.0.clock.is_some() {
            *self.0.deadline.lock().unwrap() = self.now() + left.as_secs_f64();
            self.0.active.store(true, Ordering::SeqCst);
        }
    }

    /// The run has ended.
    pub fn end(&self) {
        self.0.active.store(false, Ordering::SeqCst);
    }

    /// Throttled answers so far (every attempt, the SDK's retries included).
    pub fn throttled(&self) -> u64 {
        self.0.throttled.load(Ordering::SeqCst)
    }

    /// The buckets as they are now, and the time: for deciding what fits before the deadline.
    /// None when nothing is paced.
    pub fn buckets(&self) -> Option<(Buckets, f64)> {
        self.0.clock.as_ref()?;
        let now = self.now();
        let mut buckets = self.0.buckets.lock().unwrap();
        Some((buckets.get_or_insert_with(|| Buckets::full(&self.0.limits, now)).clone(), now))
    }

    /// The interceptor that counts this pace's throttled answers; every client gets one.
    pub fn counter(&self) -> ThrottleCounter {
        ThrottleCounter(self.0.throttled.clone())
    }

    async fn sleep(&self, seconds: f64) {
        if let Some((sleep, _)) = &self.0.clock
            && seconds > 0.0
        {
            sleep.sleep(Duration::from_secs_f64(seconds)).await;
        }
    }

    /// Seconds to wait for the next token of `group` (and of the account-wide bucket it shares),
    /// reserved now.
    fn reserve(&self, group: Group) -> f64 {
        let now = self.now();
        let mut buckets = self.0.buckets.lock().unwrap();
        buckets.get_or_insert_with(|| Buckets::full(&self.0.limits, now)).reserve(group, now)
    }

    /// Make one call (`send` makes it again on a retry): paced during a run, with our own tries
    /// after the SDK's on a throttle while time remains, and never past the run's deadline.
    pub async fn call<T, F, Fut>(&self, operation: &'static str, send: F) -> Result<T, AwsError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        if self.0.clock.is_none() {
            return send().await;
        }
        let active = self.0.active.load(Ordering::SeqCst);
        let group = Group::of(operation);
        let deadline =
            if active { *self.0.deadline.lock().unwrap() } else { self.now() + UNPACED_TIMEOUT.as_secs_f64() };
        let mut tries = 0;
        loop {
            if active && let Some(group) = group {
                let wait = self.reserve(group);
                if wait > 0.0 && self.now() + wait >= deadline {
                    return Err(out_of_time(operation, group));
                }
                self.sleep(wait).await;
            }
            // A call that needs no wait still goes at the deadline (the registrations of the
            // last look at the tasks), with a short time of its own.
            let left = (deadline - self.now()).max(LAST_CALL.as_secs_f64());
            let attempts = CALL_THROTTLES.scope(std::cell::Cell::new(0), async {
                let result = select(Box::pin(send()), Box::pin(self.sleep(left))).await;
                (result, CALL_THROTTLES.with(std::cell::Cell::get))
            });
            let (result, throttled_attempts) = attempts.await;
            let result = match result {
                Either::Left((result, _)) => result,
                Either::Right(_) => {
                    return Err(AwsError::in_response(
                        operation,
                        ErrorKind::Timeout,
                        format!("no answer within the {left:.0} s left before the deadline"),
                    )
                    .out_of_time());
                }
            };
            match result {
                // Throttled, or a retryable failure after the SDK's attempts went to throttles.
                Err(e)
                    if active
                        && (e.kind == ErrorKind::Throttled || (e.kind.is_retryable() && throttled_attempts > 0)) =>
                {
                    let pause = BACKOFF[tries.min(BACKOFF.len() - 1)];
                    tries += 1;
                    if self.now() + pause >= deadline {
                        return Err(e.out_of_time());
                    }
                    tracing::warn!(operation, tries, error = %e, "throttled after the SDK's retries; trying again");
                    self.sleep(pause).await;
                }
                other => return other,
            }
        }
    }
}

fn out_of_time(operation: &'static str, group: Group) -> AwsError {
    AwsError::in_response(
        operation,
        ErrorKind::Timeout,
        format!("the {group} bucket has no token for it before the deadline"),
    )
    .out_of_time()
}

/// Counts throttled answers: a 400/429/503 whose error code says throttling, in any protocol
/// (`ThrottlingException` in JSON, `Throttling` in ELB's XML, DynamoDB's
/// `ProvisionedThroughputExceededException`, `TooManyRequestsException`, `RequestLimitExceeded`).
#[derive(Debug, Clone)]
pub struct ThrottleCounter(Arc<AtomicU64>);

/// The error codes of a throttle.
const THROTTLE_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

/// The error code of an answer: JSON's `__type` (after a `#` namespace), XML's `<Code>`.
fn error_code(body: &str) -> Option<&str> {
    if let Some(at) = body.find("\"__type\"") {
        let rest = body[at + 8..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
        let code = &rest[..rest.find('"')?];
        return Some(code.rsplit('#').next().unwrap_or(code));
    }
    let start = body.find("<Code>")? + 6;
    Some(body[start..start + body[start..].find("</Code>")?].trim())
}

/// Whether an error answer is a throttle.
pub fn is_throttle(status: u16, body: &[u8]) -> bool {
    if !matches!(status, 400 | 429 | 503) {
        return false;
    }
    error_code(&String::from_utf8_lossy(body)).is_some_and(|code| THROTTLE_CODES.contains(&code))
}

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_ecs::error::BoxError> {
        if let Some(response) = context.response()
            && is_throttle(response.status().as_u16(), response.body().bytes().unwrap_or_default())
        {
            self.0.fetch_add(1, Ordering::SeqCst);
            let _ = CALL_THROTTLES.try_with(|n| n.set(n.get() + 1));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_are_told_by_their_codes_in_every_protocol() {
        assert!(is_throttle(400, br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#));
        assert!(is_throttle(400, b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"));
        assert!(is_throttle(
            400,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}"#
        ));
        assert!(!is_throttle(400, br#"{"__type":"InvalidParameterException","message":"Throttling"}"#));
        assert!(!is_throttle(400, b"<ErrorResponse><Error><Code>InvalidTarget</Code></Error></ErrorResponse>"));
        assert!(!is_throttle(400, br#"{"__type":"ServiceNotFoundException"}"#));
        assert!(!is_throttle(200, b"Throttling"));
    }
}
