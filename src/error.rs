//! The crate's errors, as plain data: what went wrong with an invocation, how an AWS call failed
//! (classified from the SDK's error in `aws/error.rs`, once, where it happened) and why one
//! service or target failed. A failure keeps its kind and its AWS error to the report.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// What went wrong with an invocation as a whole (per-service failures live in the report).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The payload or event is malformed or names something that does not exist.
    #[error("{0}")]
    InvalidInput(String),
    /// Valid JSON that is neither a payload nor an event this function handles.
    #[error("unsupported event: {0}")]
    UnsupportedEvent(String),
    /// The schedule file could not be read or is invalid.
    #[error("{0}")]
    Schedule(#[from] crate::schedule::ScheduleError),
    /// An AWS call the whole invocation depends on failed; nothing was changed.
    #[error("{context}: {source}")]
    Aws {
        context: String,
        #[source]
        source: AwsError,
    },
    /// The report was produced, but at least one service (or Auto Scaling group) failed.
    /// `run` is `ACTION ENVIRONMENT`; `summary` names each failure with its kind. `retryable`
    /// when at least one of the failures could go away on a later run.
    #[error("{run}: {failed} of {total} failed: {summary}")]
    ServicesFailed { run: String, failed: usize, total: usize, summary: String, retryable: bool },
}

impl Error {
    /// Whether running the same input again could succeed. Scheduler retries and the DLQ
    /// only help for these.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ServicesFailed { retryable, .. } => *retryable,
            Error::Aws { source, .. } => source.kind.is_retryable(),
            _ => false,
        }
    }

    /// A stable name for the error, used as the Lambda `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "InvalidInput",
            Error::UnsupportedEvent(_) => "UnsupportedEvent",
            Error::Schedule(_) => "InvalidSchedule",
            Error::ServicesFailed { retryable: true, .. } => "ServicesFailed",
            Error::ServicesFailed { retryable: false, .. } => "ServicesFailedPermanently",
            Error::Aws { .. } => "AwsError",
        }
    }
}

/// How something failed, in the report's words (`error_kind`, README "The report").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A rate limit: the SDK already retried it; a later run will do.
    Throttled,
    /// The credentials may not do this (or are not valid at all).
    AccessDenied,
    /// The cluster, service, target group… does not exist (or is being deleted).
    NotFound,
    /// The request or the configuration is wrong: a bad parameter, a limit, a bad snapshot tag.
    Invalid,
    /// Another actor is changing the same resource (Application Auto Scaling's
    /// `ConcurrentUpdateException`, an update in progress).
    Conflict,
    /// A connection failure, a 5xx, an unreadable answer.
    Transient,
    /// The call took longer than its timeout.
    Timeout,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Throttled,
        ErrorKind::AccessDenied,
        ErrorKind::NotFound,
        ErrorKind::Invalid,
        ErrorKind::Conflict,
        ErrorKind::Transient,
        ErrorKind::Timeout,
    ];

    /// Whether the same call could succeed later without anyone changing anything.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Conflict | ErrorKind::Transient | ErrorKind::Timeout)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Throttled => "throttled",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Transient => "transient",
            ErrorKind::Timeout => "timeout",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed AWS call: which operation, how it failed, and the service's own words. The SDK
/// error stays attached as its source.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code, e.g. `ThrottlingException`, `InvalidTarget`.
    pub code: Option<String>,
    pub message: String,
    /// Given up because the run's deadline left no time to try it (again), not because AWS
    /// refused it for good.
    pub out_of_time: bool,
    pub(crate) source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl AwsError {
    /// An error found in a successful response (e.g. DescribeServices `failures`).
    pub fn in_response(operation: &'static str, kind: ErrorKind, message: String) -> Self {
        AwsError { operation, kind, code: None, message, out_of_time: false, source: None }
    }

    /// The same error, given up on for the deadline.
    pub fn out_of_time(self) -> Self {
        AwsError { out_of_time: true, ..self }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.operation)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Equal when they say the same; the SDK error behind them is not compared.
impl PartialEq for AwsError {
    fn eq(&self, other: &Self) -> bool {
        (self.operation, self.kind, &self.code, &self.message)
            == (other.operation, other.kind, &other.code, &other.message)
    }
}

impl Eq for AwsError {}

/// Why one service (or one of its targets) failed: a stable kind, the words for people, and the
/// AWS error behind it when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(skip)]
    pub cause: Option<AwsError>,
}

impl Failure {
    /// A failure decided without an AWS error (a bad snapshot tag, a service not ACTIVE…).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into(), cause: None }
    }

    /// An AWS call's failure, told in `message`; its kind is the call's.
    pub fn aws(error: &AwsError, message: impl Into<String>) -> Failure {
        Failure { kind: error.kind, message: message.into(), cause: Some(error.clone()) }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_that_can_pass_by_themselves_are_retryable() {
        let retryable: Vec<&str> = ErrorKind::ALL.iter().filter(|k| k.is_retryable()).map(|k| k.as_str()).collect();
        assert_eq!(retryable, ["throttled", "conflict", "transient", "timeout"]);
        for kind in ErrorKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn services_failed_says_whether_a_retry_can_help() {
        let failed = |retryable| Error::ServicesFailed {
            run: "stop staging".into(),
            failed: 1,
            total: 2,
            summary: "c/s [throttled]: x".into(),
            retryable,
        };
        assert_eq!((failed(true).kind(), failed(true).is_retryable()), ("ServicesFailed", true));
        assert_eq!((failed(false).kind(), failed(false).is_retryable()), ("ServicesFailedPermanently", false));
    }

    #[test]
    fn a_failure_keeps_its_aws_error_as_source() {
        use std::error::Error as _;
        let aws = AwsError::in_response("DescribeServices", ErrorKind::NotFound, "MISSING".into());
        let failure = Failure::aws(&aws, "service s not found");
        assert_eq!(failure.kind, ErrorKind::NotFound);
        assert_eq!(failure.source().unwrap().to_string(), "DescribeServices: MISSING");
    }
}
