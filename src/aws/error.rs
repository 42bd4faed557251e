//! The one place an SDK error is classified: into an [`AwsError`] with a stable [`ErrorKind`],
//! before anything turns it into text. Every adapter call site is one `map_err`.

use std::sync::Arc;

use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};

use crate::error::{AwsError, ErrorKind};

/// Rate limits. The SDK's standard classifier retries these already; what reaches us has run out
/// of attempts.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
];

/// Another update of the same resource is in progress (retried by `retry_concurrent_updates`
/// for Application Auto Scaling; a later run will do).
const CONFLICT_CODES: &[&str] = &[
    "ConcurrentUpdateException",
    "ConflictException",
    "UpdateInProgressException",
    "ResourceInUse",
    "ResourceInUseException",
    "TransactionConflictException",
    "ConditionalCheckFailedException",
];

/// Credentials that may not do this, or are not credentials at all.
const ACCESS_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "IncompleteSignature",
];

const TRANSIENT_CODES: &[&str] =
    &["ServerException", "InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable"];

impl AwsError {
    /// Classify an SDK error. Generic over every operation's error type.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (kind, code, message) = match &err {
            SdkError::TimeoutError(_) => (ErrorKind::Timeout, None, "request timed out".to_string()),
            SdkError::DispatchFailure(d) => {
                let kind = if d.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Transient };
                (kind, None, format!("could not reach the endpoint: {:?}", d.as_connector_error()))
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
                let kind = classify_code(code.as_deref(), &message).unwrap_or(if status.is_server_error() {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Invalid
                });
                (kind, code, message)
            }
            SdkError::ResponseError(response) => (
                ErrorKind::Transient,
                None,
                format!("unreadable response from the service (HTTP {})", response.raw().status().as_u16()),
            ),
            // The request could not even be built: ours to fix, not the service's.
            other => (ErrorKind::Invalid, None, format!("{other}")),
        };
        AwsError { operation, kind, code, message, out_of_time: false, source: Some(Arc::new(err)) }
    }
}

/// The kind a service's error code says, if it says one.
fn classify_code(code: Option<&str>, message: &str) -> Option<ErrorKind> {
    let code = code?;
    let kind = if THROTTLING_CODES.contains(&code) {
        ErrorKind::Throttled
    } else if CONFLICT_CODES.contains(&code) {
        ErrorKind::Conflict
    } else if code.starts_with("AccessDenied") || ACCESS_CODES.contains(&code) {
        ErrorKind::AccessDenied
    } else if code.ends_with("NotFoundException")
        || code.ends_with("NotFound")
        || code == "ObjectNotFoundException"
        || code == "ServiceNotActiveException"
    {
        ErrorKind::NotFound
    } else if TRANSIENT_CODES.contains(&code) {
        ErrorKind::Transient
    } else if code == "RequestTimeout" || code == "RequestTimeoutException" {
        ErrorKind::Timeout
    } else if message.contains("Rate exceeded") {
        ErrorKind::Throttled
    } else if code.starts_with("Invalid")
        || code.contains("Validation")
        || code.ends_with("LimitExceededException")
        || code == "ClientException"
    {
        ErrorKind::Invalid
    } else {
        return None;
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::operation::update_service::UpdateServiceError;

    #[test]
    fn codes_are_classified() {
        let cases = [
            ("ThrottlingException", "", ErrorKind::Throttled),
            ("ClientException", "Rate exceeded", ErrorKind::Throttled),
            ("ConcurrentUpdateException", "", ErrorKind::Conflict),
            ("ConditionalCheckFailedException", "", ErrorKind::Conflict),
            ("ServiceNotFoundException", "", ErrorKind::NotFound),
            ("ClusterNotFoundException", "", ErrorKind::NotFound),
            ("TargetGroupNotFound", "", ErrorKind::NotFound),
            ("ServiceNotActiveException", "", ErrorKind::NotFound),
            ("AccessDeniedException", "", ErrorKind::AccessDenied),
            ("InvalidClientTokenId", "", ErrorKind::AccessDenied),
            ("ExpiredTokenException", "", ErrorKind::AccessDenied),
            ("ServerException", "", ErrorKind::Transient),
            ("RequestTimeout", "", ErrorKind::Timeout),
            ("InvalidParameterException", "", ErrorKind::Invalid),
            ("ClientException", "The service is missing", ErrorKind::Invalid),
            ("ValidationException", "", ErrorKind::Invalid),
        ];
        for (code, message, kind) in cases {
            assert_eq!(classify_code(Some(code), message), Some(kind), "{code}");
        }
        assert_eq!(classify_code(Some("SomethingNew"), ""), None);
        assert_eq!(classify_code(None, "Rate exceeded"), None);
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
        let e = UpdateServiceError::generic(meta.build());
        AwsError::from_sdk("UpdateService", SdkError::service_error(e, response(status, "")))
    }

    #[test]
    fn an_unknown_code_is_transient_on_5xx_and_invalid_on_4xx() {
        assert_eq!(service_error(Some("SomethingNew"), Some("x"), 503).kind, ErrorKind::Transient);
        assert_eq!(service_error(Some("SomethingNew"), Some("x"), 400).kind, ErrorKind::Invalid);
        assert_eq!(service_error(Some("AccessDeniedException"), Some("no"), 400).kind, ErrorKind::AccessDenied);
    }

    #[test]
    fn timeouts_are_their_own_kind() {
        let e: SdkError<UpdateServiceError, HttpResponse> = SdkError::timeout_error("slow");
        assert_eq!(AwsError::from_sdk("UpdateService", e).kind, ErrorKind::Timeout);
    }

    #[test]
    fn an_error_without_the_service_s_words_names_the_http_status() {
        let bare = service_error(None, None, 503);
        assert_eq!(bare.to_string(), "UpdateService: no message (HTTP 503)");
        assert_eq!(bare.kind, ErrorKind::Transient);
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
        let unreadable: SdkError<UpdateServiceError, HttpResponse> =
            SdkError::response_error("not XML", response(503, "<html>"));
        let unreadable = AwsError::from_sdk("DescribeTargetHealth", unreadable);
        assert_eq!(unreadable.to_string(), "DescribeTargetHealth: unreadable response from the service (HTTP 503)");
        assert_eq!(unreadable.kind, ErrorKind::Transient);
    }

    #[test]
    fn the_sdk_error_is_kept_as_the_source() {
        use std::error::Error as _;
        let e = service_error(Some("ThrottlingException"), Some("Rate exceeded"), 400);
        assert!(e.source().is_some());
    }
}
