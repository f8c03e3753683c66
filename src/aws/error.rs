//! AWS errors, classified once: every SDK error becomes an [`AwsError`] naming the operation
//! that failed, with a [`AwsErrorKind`] callers branch on (not found, throttled, ...) instead of
//! matching error codes themselves.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error_chain::error_chain;

/// What kind of failure an AWS call had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The entity does not exist (`NoSuchEntity`, `NoSuchBucket`, HTTP 404, ...).
    NotFound,
    /// The entity exists already (`EntityAlreadyExists`, `BucketAlreadyOwnedByYou`, ...).
    AlreadyExists,
    /// The caller may not do this (`AccessDenied`, HTTP 403).
    AccessDenied,
    /// Rate limited (`Throttling`, `SlowDown`, HTTP 429), after the SDK's own retries.
    Throttled,
    /// The request was refused as invalid (`MalformedPolicyDocument`, `InvalidInput`, ...).
    Invalid,
    /// A conflicting change (`DeleteConflict`, `ConcurrentModification`, `BucketNotEmpty`).
    Conflict,
    /// No answer or a server-side failure (timeout, connection error, HTTP 5xx).
    Unavailable,
    /// Anything else.
    Other,
}

/// A failed AWS call: which operation, the service's error code and message, and the cause.
#[derive(Debug)]
pub struct AwsError {
    /// The API operation, e.g. `iam:CreateRole`.
    pub operation: &'static str,
    /// The classification.
    pub kind: AwsErrorKind,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    /// The service's message, or a description of the transport failure.
    pub message: String,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl AwsError {
    /// Classifies an SDK error from `operation`.
    pub fn from_sdk<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = error.code().map(str::to_string);
        let message = match (&error, error.message()) {
            (_, Some(message)) => message.to_string(),
            (SdkError::TimeoutError(_), None) => "the request timed out".to_string(),
            // The connector's cause says what failed: a refused connection, a TLS error, or
            // no credentials to sign with (which is not a connection problem at all).
            (SdkError::DispatchFailure(failure), None) => {
                match failure.as_connector_error().and_then(StdError::source) {
                    Some(cause) => format!("the request could not be sent: {}", error_chain(cause)),
                    None => "the request could not be sent (connection failed)".to_string(),
                }
            }
            (_, None) => error_chain(&error),
        };
        let kind = classify(code.as_deref(), status, &error);
        AwsError {
            operation,
            kind,
            code,
            message,
            status,
            source: Some(Box::new(error)),
        }
    }

    /// An error built by hand, e.g. for a response that lacks a field the provider needs.
    pub fn new(
        operation: &'static str,
        kind: AwsErrorKind,
        message: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation,
            kind,
            code: None,
            message: message.into(),
            status: None,
            source: None,
        }
    }

    /// Whether the entity does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    /// Whether the entity exists already.
    pub fn is_already_exists(&self) -> bool {
        self.kind == AwsErrorKind::AlreadyExists
    }

    /// Whether retrying the same call later may succeed (throttling, unavailability).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            AwsErrorKind::Throttled | AwsErrorKind::Unavailable
        )
    }

    /// Whether IAM refused a trust policy because it does not see the principal yet: IAM is
    /// eventually consistent, and a just-created OIDC provider or role can take seconds to appear.
    pub fn is_invalid_principal(&self) -> bool {
        self.kind == AwsErrorKind::Invalid && self.message.contains("Invalid principal in policy")
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.operation)?;
        match (&self.code, self.status) {
            (Some(code), _) => write!(f, " ({code})")?,
            (None, Some(status)) => write!(f, " (HTTP {status})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl StdError for AwsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

fn classify<E>(
    code: Option<&str>,
    status: Option<u16>,
    error: &SdkError<E, HttpResponse>,
) -> AwsErrorKind {
    if let Some(code) = code {
        match code {
            "NoSuchEntity"
            | "NoSuchBucket"
            | "NoSuchKey"
            | "NotFound"
            | "NoSuchBucketPolicy"
            | "NoSuchLifecycleConfiguration"
            | "NoSuchPublicAccessBlockConfiguration"
            | "ServerSideEncryptionConfigurationNotFoundError"
            | "NoSuchTagSet"
            | "NoSuchTagSetError" => {
                return AwsErrorKind::NotFound;
            }
            "EntityAlreadyExists" | "BucketAlreadyOwnedByYou" | "BucketAlreadyExists" => {
                return AwsErrorKind::AlreadyExists;
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken" => return AwsErrorKind::AccessDenied,
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "TooManyRequestsException"
            | "RequestThrottled" => return AwsErrorKind::Throttled,
            "MalformedPolicyDocument"
            | "InvalidInput"
            | "ValidationError"
            | "InvalidParameterValue"
            | "LimitExceeded"
            | "InvalidBucketName"
            | "InvalidArgument"
            | "UnmodifiableEntity"
            | "InvalidIdentityToken"
            | "IDPRejectedClaim" => return AwsErrorKind::Invalid,
            "DeleteConflict" | "ConcurrentModification" | "BucketNotEmpty" | "OperationAborted" => {
                return AwsErrorKind::Conflict;
            }
            "ServiceFailure" | "InternalError" | "ServiceUnavailable" | "InternalFailure" => {
                return AwsErrorKind::Unavailable;
            }
            _ => {}
        }
    }
    match (status, error) {
        (Some(404), _) => AwsErrorKind::NotFound,
        (Some(403), _) => AwsErrorKind::AccessDenied,
        (Some(429), _) => AwsErrorKind::Throttled,
        (Some(s), _) if s >= 500 => AwsErrorKind::Unavailable,
        (_, SdkError::DispatchFailure(failure)) if failure.is_other() || failure.is_user() => {
            AwsErrorKind::Other
        }
        (_, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) => AwsErrorKind::Unavailable,
        _ => AwsErrorKind::Other,
    }
}

/// `.map_err(aws_error("iam:GetRole"))` on an SDK call's result.
pub fn aws_error<E>(operation: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    move |error| AwsError::from_sdk(operation, error)
}

/// Turns "not found" into `Ok(None)`, like kube-rs's `get_opt`.
pub trait NotFoundAsNone<T> {
    /// `Ok(Some(t))` on success, `Ok(None)` when the entity does not exist.
    fn not_found_as_none(self) -> Result<Option<T>, AwsError>;
}

impl<T> NotFoundAsNone<T> for Result<T, AwsError> {
    fn not_found_as_none(self) -> Result<Option<T>, AwsError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }
}
