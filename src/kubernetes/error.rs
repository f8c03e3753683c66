//! Kubernetes API errors, classified once: callers branch on [`KubeErrorKind`] instead of
//! matching status codes and reasons themselves.

use std::fmt;
use std::time::Duration;

use crate::error_chain::error_chain;

/// What kind of failure a Kubernetes call had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeErrorKind {
    /// 404: the object (or its namespace) does not exist.
    NotFound,
    /// 409 `AlreadyExists`: a create found an object of that name.
    AlreadyExists,
    /// 409 `Conflict`: a stale resourceVersion, a failed precondition or an apply conflict.
    Conflict,
    /// 403: RBAC refused the request.
    Forbidden,
    /// 403 with the cause `NamespaceTerminating`: the namespace is being deleted, and the API
    /// server refuses every create in it (even for `system:masters`) until it is gone. Not an
    /// RBAC refusal, and not transient within one apply: it lasts until the namespace
    /// controller has emptied the namespace and every finalizer is removed
    /// (kubernetes/kubernetes `plugin/pkg/admission/namespace/lifecycle`).
    NamespaceTerminating,
    /// 401: the credentials were refused.
    Unauthorized,
    /// 400 or 422: the request was refused as invalid.
    Invalid,
    /// 429, after the bounded retries.
    Throttled,
    /// 5xx or no answer, after the bounded retries.
    Unavailable,
    /// The API server's certificate was not trusted (or the TLS handshake failed otherwise):
    /// not retried, since it cannot heal by itself.
    Tls,
    /// `StopProvider` arrived while the call waited to retry.
    Cancelled,
    /// Anything else (including a response this client could not read).
    Other,
}

/// A failed Kubernetes call: what was attempted, the classification and the server's message.
#[derive(Debug, thiserror::Error)]
pub struct KubeError {
    /// What was attempted, e.g. `create ServiceAccount ci-runner/gitlab-runner`.
    pub operation: String,
    /// The classification.
    pub kind: KubeErrorKind,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The `Status.reason` the server sent (`AlreadyExists`, `Forbidden`, ...), if any.
    pub reason: Option<String>,
    /// The server's message, or a description of the transport failure.
    pub message: String,
    /// The wait the server asked for with `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    /// The field-manager conflicts a server-side apply without force ran into (the
    /// `FieldManagerConflict` causes of the 409 `Status`); boxed, as errors are passed by
    /// value everywhere and conflicts are rare.
    conflicts: Option<Box<Conflicts>>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl KubeError {
    /// An error built from a response status and message.
    pub fn new(
        operation: impl Into<String>,
        kind: KubeErrorKind,
        message: impl Into<String>,
    ) -> KubeError {
        KubeError {
            operation: operation.into(),
            kind,
            status: None,
            reason: None,
            message: message.into(),
            retry_after: None,
            conflicts: None,
            source: None,
        }
    }

    /// An error from a transport failure (connection refused or dropped, TLS, timeout).
    pub fn transport(
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> KubeError {
        let message = error_chain(&source);
        let kind = if is_tls_failure(&message) {
            KubeErrorKind::Tls
        } else {
            KubeErrorKind::Unavailable
        };
        KubeError {
            source: Some(Box::new(source)),
            ..KubeError::new(operation, kind, message)
        }
    }

    /// Classifies an HTTP error response.
    pub fn from_response(
        operation: impl Into<String>,
        status: u16,
        reason: Option<String>,
        message: String,
        retry_after: Option<Duration>,
    ) -> KubeError {
        let kind = match (status, reason.as_deref()) {
            (404, _) => KubeErrorKind::NotFound,
            (409, Some("AlreadyExists")) => KubeErrorKind::AlreadyExists,
            (409, _) => KubeErrorKind::Conflict,
            (403, _) => KubeErrorKind::Forbidden,
            (401, _) => KubeErrorKind::Unauthorized,
            (400 | 415 | 422, _) => KubeErrorKind::Invalid,
            (429, _) => KubeErrorKind::Throttled,
            (s, _) if s >= 500 => KubeErrorKind::Unavailable,
            _ => KubeErrorKind::Other,
        };
        KubeError {
            status: Some(status),
            reason,
            retry_after,
            ..KubeError::new(operation, kind, message)
        }
    }

    /// The same error with the field-manager conflicts the server listed.
    pub fn with_conflicts(mut self, conflicts: Vec<FieldConflict>) -> KubeError {
        self.conflicts = (!conflicts.is_empty()).then(|| Box::new(Conflicts(conflicts)));
        self
    }

    /// The field-manager conflicts of a refused server-side apply (empty for other errors).
    pub fn conflicts(&self) -> &[FieldConflict] {
        self.conflicts.as_ref().map_or(&[], |c| c.0.as_slice())
    }

    /// Refines the classification with the `details.causes[].reason` values of the server's
    /// `Status`: a 403 caused by `NamespaceTerminating` is the namespace lifecycle admission
    /// refusing a create, not RBAC.
    pub fn with_causes<S: AsRef<str>>(mut self, cause_reasons: &[S]) -> KubeError {
        let terminating = cause_reasons
            .iter()
            .any(|reason| reason.as_ref() == NAMESPACE_TERMINATING_CAUSE);
        if self.kind == KubeErrorKind::Forbidden && terminating {
            self.kind = KubeErrorKind::NamespaceTerminating;
        }
        self
    }

    /// Whether the object (or its namespace) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == KubeErrorKind::NotFound
    }

    /// Whether a create found an object of that name.
    pub fn is_already_exists(&self) -> bool {
        self.kind == KubeErrorKind::AlreadyExists
    }

    /// Whether a later attempt of the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            KubeErrorKind::Throttled | KubeErrorKind::Unavailable
        )
    }
}

/// The conflicts of one refused apply.
#[derive(Debug)]
struct Conflicts(Vec<FieldConflict>);

/// One `FieldManagerConflict` cause of a refused server-side apply: another field manager owns
/// a field the apply sets to a different value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConflict {
    /// The manager that owns the field (`helm`, `kubectl-edit`, ...).
    pub manager: String,
    /// The field as the server names it, e.g. `.metadata.annotations.eks.amazonaws.com/role-arn`.
    pub field: String,
}

impl FieldConflict {
    /// Reads a cause (`message` is `conflict with "MANAGER"`, optionally followed by
    /// ` using API_VERSION` for a manager whose ownership came from an update).
    pub fn from_cause(message: &str, field: &str) -> Option<FieldConflict> {
        let rest = message.strip_prefix("conflict with \"")?;
        let (manager, _) = rest.split_once('"')?;
        Some(FieldConflict {
            manager: manager.to_string(),
            field: field.to_string(),
        })
    }
}

impl fmt::Display for KubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.operation)?;
        match (&self.reason, self.status) {
            (Some(reason), Some(status)) => write!(f, " ({status} {reason})")?,
            (None, Some(status)) => write!(f, " (HTTP {status})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// The `StatusCause.reason` the API server gives when a create lands in a namespace that is
/// being deleted (k8s.io/api/core/v1 `NamespaceTerminatingCause`).
pub const NAMESPACE_TERMINATING_CAUSE: &str = "NamespaceTerminating";

/// Whether a transport failure's description is a TLS verification failure (rustls words it
/// "invalid peer certificate: ..."; handshake alerts mention the certificate too).
fn is_tls_failure(description: &str) -> bool {
    [
        "invalid peer certificate",
        "certificate verify failed",
        "received fatal alert: BadCertificate",
    ]
    .iter()
    .any(|marker| description.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_told_apart_by_reason() {
        let exists =
            KubeError::from_response("x", 409, Some("AlreadyExists".into()), "m".into(), None);
        let stale = KubeError::from_response("x", 409, Some("Conflict".into()), "m".into(), None);
        assert!(exists.is_already_exists());
        assert_eq!(stale.kind, KubeErrorKind::Conflict);
    }

    #[test]
    fn field_manager_conflicts_name_the_manager_and_the_field() {
        // As kube-apiserver v1.28.7 words them (shared/kube-conformance,
        // serviceaccount-server-side-apply.json, steps 8 and 12).
        let field = ".metadata.annotations.eks.amazonaws.com/role-arn";
        assert_eq!(
            FieldConflict::from_cause("conflict with \"platform-bootstrap\"", field),
            Some(FieldConflict {
                manager: "platform-bootstrap".into(),
                field: field.into()
            })
        );
        assert_eq!(
            FieldConflict::from_cause("conflict with \"kubectl-edit\" using v1", field)
                .unwrap()
                .manager,
            "kubectl-edit"
        );
        assert_eq!(FieldConflict::from_cause("something else", field), None);
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for status in [429, 500, 502, 503, 504] {
            assert!(KubeError::from_response("x", status, None, "m".into(), None).is_transient());
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(!KubeError::from_response("x", status, None, "m".into(), None).is_transient());
        }
    }

    #[test]
    fn a_terminating_namespace_is_not_an_rbac_refusal_nor_transient() {
        let forbidden = || {
            KubeError::from_response(
                "create Role ci-jobs/runner",
                403,
                Some("Forbidden".into()),
                "roles.rbac.authorization.k8s.io \"runner\" is forbidden: unable to create new \
                 content in namespace ci-jobs because it is being terminated"
                    .into(),
                None,
            )
        };
        let terminating = forbidden().with_causes(&["NamespaceTerminating"]);
        assert_eq!(terminating.kind, KubeErrorKind::NamespaceTerminating);
        assert!(!terminating.is_transient());
        assert_eq!(
            forbidden().with_causes::<&str>(&[]).kind,
            KubeErrorKind::Forbidden
        );
        assert_eq!(
            forbidden().with_causes(&["FieldValueInvalid"]).kind,
            KubeErrorKind::Forbidden
        );
        let not_found = KubeError::from_response("x", 404, None, "m".into(), None)
            .with_causes(&["NamespaceTerminating"]);
        assert_eq!(not_found.kind, KubeErrorKind::NotFound);
    }

    #[test]
    fn display_names_operation_status_and_message() {
        let error = KubeError::from_response(
            "create ServiceAccount ci/runner",
            403,
            Some("Forbidden".into()),
            "serviceaccounts is forbidden".into(),
            None,
        );
        assert_eq!(
            error.to_string(),
            "create ServiceAccount ci/runner failed (403 Forbidden): serviceaccounts is forbidden"
        );
    }
}
