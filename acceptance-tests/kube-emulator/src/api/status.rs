//! `metav1.Status` failures, built like `k8s.io/apimachinery/pkg/api/errors`.

use serde_json::{Map, Value, json};

use crate::validation::{self, FieldError};

/// One `StatusCause`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// `reason` (cause type).
    pub reason: String,
    /// `message`.
    pub message: String,
    /// `field`.
    pub field: String,
}

/// `StatusDetails`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// Object name.
    pub name: String,
    /// API group.
    pub group: String,
    /// Kind or plural resource, depending on the error.
    pub kind: String,
    /// Object UID.
    pub uid: String,
    /// Causes.
    pub causes: Vec<Cause>,
    /// `retryAfterSeconds`.
    pub retry_after_seconds: u64,
}

impl Details {
    fn named(group: &str, kind: &str, name: &str) -> Details {
        Details {
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
            ..Details::default()
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("name", &self.name),
            ("group", &self.group),
            ("kind", &self.kind),
            ("uid", &self.uid),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| {
                    let mut cm = Map::new();
                    for (k, v) in [
                        ("reason", &c.reason),
                        ("message", &c.message),
                        ("field", &c.field),
                    ] {
                        if !v.is_empty() {
                            cm.insert(k.into(), Value::String(v.clone()));
                        }
                    }
                    Value::Object(cm)
                })
                .collect();
            m.insert("causes".into(), Value::Array(causes));
        }
        if self.retry_after_seconds > 0 {
            m.insert("retryAfterSeconds".into(), json!(self.retry_after_seconds));
        }
        Value::Object(m)
    }
}

/// A failed request, rendered as a `Status` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct StatusError {
    /// HTTP status code.
    pub code: u16,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
    /// `details`, when the real server sends them.
    pub details: Option<Box<Details>>,
}

/// `group` + `resource` as `GroupResource.String()` prints it.
pub fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl StatusError {
    fn new(code: u16, reason: &str, message: String, details: Option<Details>) -> StatusError {
        StatusError {
            code,
            reason: reason.into(),
            message,
            details: details.map(Box::new),
        }
    }

    /// `NewNotFound`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> StatusError {
        StatusError::new(
            404,
            "NotFound",
            format!(
                "{} {} not found",
                group_resource(group, resource),
                crate::gostr::quote(name)
            ),
            Some(Details::named(group, resource, name)),
        )
    }

    /// The 404 for a path the server does not serve (`NewNotFound` without a resource).
    pub fn not_found_resource() -> StatusError {
        StatusError::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            Some(Details::default()),
        )
    }

    /// `NewAlreadyExists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> StatusError {
        StatusError::new(
            409,
            "AlreadyExists",
            format!(
                "{} {} already exists",
                group_resource(group, resource),
                crate::gostr::quote(name)
            ),
            Some(Details::named(group, resource, name)),
        )
    }

    /// `NewConflict`.
    pub fn conflict(group: &str, resource: &str, name: &str, err: &str) -> StatusError {
        StatusError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {}: {err}",
                group_resource(group, resource),
                crate::gostr::quote(name)
            ),
            Some(Details::named(group, resource, name)),
        )
    }

    /// The optimistic-concurrency conflict of an update with a stale resourceVersion.
    pub fn stale(group: &str, resource: &str, name: &str) -> StatusError {
        StatusError::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `NewInvalid`.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> StatusError {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.kind.reason().into(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        let message = if errors.is_empty() {
            format!("{qualified} {} is invalid", crate::gostr::quote(name))
        } else {
            format!(
                "{qualified} {} is invalid: {}",
                crate::gostr::quote(name),
                validation::aggregate(errors)
            )
        };
        StatusError::new(
            422,
            "Invalid",
            message,
            Some(Details {
                causes,
                ..Details::named(group, kind, name)
            }),
        )
    }

    /// The bare 422 of a JSON patch that cannot be applied.
    pub fn unprocessable() -> StatusError {
        StatusError::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request".into(),
            Some(Details::default()),
        )
    }

    /// `NewForbidden`.
    pub fn forbidden(group: &str, resource: &str, name: &str, err: &str) -> StatusError {
        let message = if group.is_empty() && resource.is_empty() {
            format!("forbidden: {err}")
        } else if name.is_empty() {
            format!("{} is forbidden: {err}", group_resource(group, resource))
        } else {
            format!(
                "{} {} is forbidden: {err}",
                group_resource(group, resource),
                crate::gostr::quote(name)
            )
        };
        StatusError::new(
            403,
            "Forbidden",
            message,
            Some(Details::named(group, resource, name)),
        )
    }

    /// `NewBadRequest`.
    pub fn bad_request(message: impl Into<String>) -> StatusError {
        StatusError::new(400, "BadRequest", message.into(), None)
    }

    /// The 401 of a failed authentication.
    pub fn unauthorized() -> StatusError {
        StatusError::new(401, "Unauthorized", "Unauthorized".into(), None)
    }

    /// `NewMethodNotSupported`-style 405.
    pub fn method_not_allowed() -> StatusError {
        StatusError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            Some(Details::default()),
        )
    }

    /// The 406 of an `Accept` header the endpoint cannot satisfy (go-restful's
    /// `NotAcceptable`, written as a Status by kube-apiserver).
    pub fn not_acceptable(available: &str) -> StatusError {
        StatusError::new(
            406,
            "NotAcceptable",
            format!("406: Not Acceptable\n\nAvailable representations: {available}"),
            Some(Details::default()),
        )
    }

    /// The 403 of the NamespaceLifecycle admission plugin for a create in a namespace that
    /// is being deleted, with the `NamespaceTerminating` cause clients branch on
    /// (kubernetes/kubernetes plugin/pkg/admission/namespace/lifecycle).
    pub fn namespace_terminating(
        group: &str,
        resource: &str,
        name: &str,
        namespace: &str,
    ) -> StatusError {
        let mut err = StatusError::forbidden(
            group,
            resource,
            name,
            &format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        );
        if let Some(details) = err.details.as_mut() {
            details.causes.push(Cause {
                reason: "NamespaceTerminating".into(),
                message: format!("namespace {namespace} is being terminated"),
                field: "metadata.namespace".into(),
            });
        }
        err
    }

    /// The 415 of an unsupported patch or body content type.
    pub fn unsupported_media_type() -> StatusError {
        StatusError::new(
            415,
            "UnsupportedMediaType",
            "415: Unsupported Media Type".into(),
            Some(Details::default()),
        )
    }

    /// `NewInternalError`.
    pub fn internal(err: &str) -> StatusError {
        StatusError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {err}"),
            Some(Details {
                causes: vec![Cause {
                    reason: String::new(),
                    message: err.into(),
                    field: String::new(),
                }],
                ..Details::default()
            }),
        )
    }

    /// The 409 of a server-side apply that would take fields from other managers.
    pub fn apply_conflict(message: String, causes: Vec<Cause>) -> StatusError {
        StatusError::new(
            409,
            "Conflict",
            message,
            Some(Details {
                causes,
                ..Details::default()
            }),
        )
    }

    /// A status of any code, for injected faults (reason from the code, as client-go maps it).
    pub fn injected(
        code: u16,
        message: Option<&str>,
        retry_after_seconds: Option<u64>,
    ) -> StatusError {
        let (reason, default_message) = match code {
            400 => (
                "BadRequest",
                "the server rejected our request for an unknown reason",
            ),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "forbidden: injected fault"),
            404 => (
                "NotFound",
                "the server could not find the requested resource",
            ),
            409 => (
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
            ),
            410 => ("Expired", "the resource version is too old"),
            422 => (
                "Invalid",
                "the server rejected our request due to an error in our request",
            ),
            429 => (
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            ),
            500 => ("InternalError", "Internal error occurred: injected fault"),
            503 => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            504 => (
                "Timeout",
                "the server was unable to return a response in the time allotted",
            ),
            _ => ("Unknown", "injected fault"),
        };
        StatusError::new(
            code,
            reason,
            message.unwrap_or(default_message).to_string(),
            Some(Details {
                retry_after_seconds: retry_after_seconds.unwrap_or(0),
                ..Details::default()
            }),
        )
    }

    /// The `Status` JSON body.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), json!({}));
        m.insert("status".into(), json!("Failure"));
        if !self.message.is_empty() {
            m.insert("message".into(), Value::String(self.message.clone()));
        }
        if !self.reason.is_empty() {
            m.insert("reason".into(), Value::String(self.reason.clone()));
        }
        if let Some(d) = &self.details {
            m.insert("details".into(), d.to_json());
        }
        m.insert("code".into(), json!(self.code));
        Value::Object(m)
    }
}

/// The `Status` of a successful delete of an object that is not returned.
pub fn delete_success(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    let details = Details {
        uid: uid.into(),
        ..Details::named(group, resource, name)
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
           "details": details.to_json()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_recording() {
        let s = StatusError::not_found("rbac.authorization.k8s.io", "roles", "gitlab-runner");
        assert_eq!(
            serde_json::to_string(&s.to_json()).expect("json"),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"roles.rbac.authorization.k8s.io \"gitlab-runner\" not found","reason":"NotFound","details":{"name":"gitlab-runner","group":"rbac.authorization.k8s.io","kind":"roles"},"code":404}"#
        );
    }

    #[test]
    fn unauthorized_has_no_details() {
        assert_eq!(
            serde_json::to_string(&StatusError::unauthorized().to_json()).expect("json"),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
        );
    }
}
