//! The crate's errors. Input problems are never retryable; AWS errors are classified once,
//! where they happen, before anything turns them into text.

use std::fmt;

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};

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
    #[error("{0}")]
    Aws(String, AwsErrorKind),
    /// The report was produced, but at least one service failed.
    #[error("{failed} of {total} services failed: {summary}")]
    ServicesFailed { failed: usize, total: usize, summary: String },
}

impl Error {
    /// Whether running the same input again could succeed. Scheduler retries and the DLQ
    /// only help for these.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ServicesFailed { .. } => true,
            Error::Aws(_, kind) => kind.is_retryable(),
            _ => false,
        }
    }

    /// A stable name for the error, used as the Lambda `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "InvalidInput",
            Error::UnsupportedEvent(_) => "UnsupportedEvent",
            Error::Schedule(_) => "InvalidSchedule",
            Error::ServicesFailed { .. } => "ServicesFailed",
            Error::Aws(..) => "AwsError",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic { error_type: error.kind().to_string(), error_message: error.to_string() }
    }
}

/// How an AWS call failed, decided from the SDK error before it becomes text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Rate limits and concurrent-update conflicts: the SDK already retried them (throttling
    /// codes by its standard classifier; Application Auto Scaling's `ConcurrentUpdateException`
    /// only through `aws::retry_concurrent_updates`); a later run will do.
    Throttled,
    /// Timeouts, connection failures, 5xx.
    Transient,
    /// The cluster, service, target group… does not exist.
    NotFound,
    AccessDenied,
    /// The request itself was rejected (bad parameter, limit exceeded).
    Invalid,
    Other,
}

impl AwsErrorKind {
    pub fn is_retryable(self) -> bool {
        matches!(self, AwsErrorKind::Throttled | AwsErrorKind::Transient)
    }
}

/// A failed AWS call: which operation, how it failed, and the service's own words.
#[derive(Debug, thiserror::Error)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    pub code: Option<String>,
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
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

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ConcurrentUpdateException",
    "ProvisionedThroughputExceededException",
];

impl AwsError {
    /// Classify an SDK error. Generic over every operation's error type, so each adapter
    /// call site is one `map_err`.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (kind, code, message) = match &err {
            SdkError::TimeoutError(_) => (AwsErrorKind::Transient, None, "request timed out".to_string()),
            SdkError::DispatchFailure(d) => {
                (AwsErrorKind::Transient, None, format!("could not reach the endpoint: {:?}", d.as_connector_error()))
            }
            SdkError::ServiceError(service) => {
                let e = service.err();
                let status = service.raw().status();
                let code = e.code().map(str::to_string);
                let message = match (e.message(), &code) {
                    (Some(m), Some(_)) => m.to_string(),
                    // Without the service's code or words (a bare 503 from a front end or a
                    // proxy), the HTTP status is all there is to say what happened.
                    (Some(m), None) => format!("{m} (HTTP {})", status.as_u16()),
                    (None, _) => format!("no message (HTTP {})", status.as_u16()),
                };
                let kind = match classify_code(code.as_deref(), &message) {
                    // A 5xx without a modeled code is transient whatever the body says.
                    AwsErrorKind::Other if status.is_server_error() => AwsErrorKind::Transient,
                    kind => kind,
                };
                (kind, code, message)
            }
            SdkError::ResponseError(response) => (
                AwsErrorKind::Transient,
                None,
                format!("unreadable response from the service (HTTP {})", response.raw().status().as_u16()),
            ),
            other => (AwsErrorKind::Other, None, format!("{other}")),
        };
        AwsError { operation, kind, code, message, source: Some(Box::new(err)) }
    }

    /// An error found in a successful response (e.g. DescribeServices `failures`).
    pub fn in_response(operation: &'static str, kind: AwsErrorKind, message: String) -> Self {
        AwsError { operation, kind, code: None, message, source: None }
    }
}

fn classify_code(code: Option<&str>, message: &str) -> AwsErrorKind {
    let Some(code) = code else {
        return AwsErrorKind::Other;
    };
    if THROTTLING_CODES.contains(&code) {
        AwsErrorKind::Throttled
    } else if code.ends_with("NotFoundException") || code.ends_with("NotFound") || code == "ObjectNotFoundException" {
        AwsErrorKind::NotFound
    } else if code.starts_with("AccessDenied") || code == "UnauthorizedOperation" {
        AwsErrorKind::AccessDenied
    } else if code == "ServerException" || code == "InternalFailure" || code == "ServiceUnavailable" {
        AwsErrorKind::Transient
    } else if code.starts_with("Invalid") || code.contains("Validation") || code.ends_with("LimitExceededException") {
        AwsErrorKind::Invalid
    } else if message.contains("Rate exceeded") {
        AwsErrorKind::Throttled
    } else {
        AwsErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(classify_code(Some("ThrottlingException"), ""), AwsErrorKind::Throttled);
        assert_eq!(classify_code(Some("ConcurrentUpdateException"), ""), AwsErrorKind::Throttled);
        assert_eq!(classify_code(Some("ServiceNotFoundException"), ""), AwsErrorKind::NotFound);
        assert_eq!(classify_code(Some("ClusterNotFoundException"), ""), AwsErrorKind::NotFound);
        assert_eq!(classify_code(Some("TargetGroupNotFound"), ""), AwsErrorKind::NotFound);
        assert_eq!(classify_code(Some("AccessDeniedException"), ""), AwsErrorKind::AccessDenied);
        assert_eq!(classify_code(Some("ServerException"), ""), AwsErrorKind::Transient);
        assert_eq!(classify_code(Some("InvalidParameterException"), ""), AwsErrorKind::Invalid);
        assert_eq!(classify_code(Some("ClientException"), "Rate exceeded"), AwsErrorKind::Throttled);
        assert_eq!(classify_code(None, ""), AwsErrorKind::Other);
    }

    fn response(status: u16, body: &'static str) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), aws_smithy_types::body::SdkBody::from(body))
    }

    fn service_error(code: Option<&str>, message: Option<&str>, status: u16) -> AwsError {
        let mut meta = aws_sdk_ecs::error::ErrorMetadata::builder();
        if let Some(c) = code {
            meta = meta.code(c);
        }
        if let Some(m) = message {
            meta = meta.message(m);
        }
        let e = aws_sdk_ecs::operation::update_service::UpdateServiceError::generic(meta.build());
        AwsError::from_sdk("UpdateService", SdkError::service_error(e, response(status, "")))
    }

    #[test]
    fn an_error_without_the_service_s_words_names_the_http_status() {
        let bare = service_error(None, None, 503);
        assert_eq!(bare.to_string(), "UpdateService: no message (HTTP 503)");
        assert_eq!(bare.kind, AwsErrorKind::Transient);
        assert_eq!(service_error(None, Some("Bad Gateway"), 502).to_string(), "UpdateService: Bad Gateway (HTTP 502)");
        assert_eq!(
            service_error(Some("ServerException"), None, 500).to_string(),
            "UpdateService: ServerException: no message (HTTP 500)"
        );
        // The service's own code and words say enough.
        assert_eq!(
            service_error(Some("ThrottlingException"), Some("Rate exceeded"), 400).to_string(),
            "UpdateService: ThrottlingException: Rate exceeded"
        );
        let unreadable: SdkError<aws_sdk_ecs::operation::update_service::UpdateServiceError, HttpResponse> =
            SdkError::response_error("not XML", response(503, "<html>"));
        let unreadable = AwsError::from_sdk("DescribeTargetHealth", unreadable);
        assert_eq!(unreadable.to_string(), "DescribeTargetHealth: unreadable response from the service (HTTP 503)");
        assert_eq!(unreadable.kind, AwsErrorKind::Transient);
    }
}
