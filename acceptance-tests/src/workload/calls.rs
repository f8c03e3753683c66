//! The API calls one operation made, read from the AWS and Kubernetes proxies' request logs, as templates that can be aimed at another instance: every name a workload
//! instance uses contains its token, so replacing the token turns a call of the reference
//! instance into the same call of any other.
//!
//! A fault built from a template fails exactly that call of that instance, whatever runs
//! beside it: AWS faults match the operation and the parameters that name the object
//! (`RoleName`, `PolicyArn`, `PolicyName`, the bucket); Kubernetes faults match the method
//! and the exact path.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use crate::fault_proxy::{FaultAction, FaultRule, HeldRequest, Matcher, RequestRecord};
use crate::kube_proxy;

/// The placeholder for the token in templates.
const TOKEN: &str = "{token}";

/// The query-protocol parameters that say which object a call is about.
const NAMING_PARAMS: &[&str] = &["RoleName", "PolicyArn", "PolicyName"];

/// One API call of an operation, with the instance's token replaced by a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallTemplate {
    /// An AWS call through the proxy.
    Aws {
        /// `iam`, `s3`, `sts`.
        service: String,
        /// `CreateRole`, `PutBucketPolicy`, ...
        operation: String,
        /// The parameters that name the object.
        params: Vec<(String, String)>,
        /// The S3 bucket.
        bucket: Option<String>,
    },
    /// A Kubernetes API call through the Kubernetes proxy.
    Kube {
        /// HTTP method.
        method: String,
        /// Path (without the query).
        path: String,
    },
}

/// How a fault fails the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// HTTP 500 (IAM `ServiceFailure`, S3 `InternalError`, a Kubernetes `InternalError`).
    ServerError,
    /// HTTP 403 (`AccessDenied`, Kubernetes `Forbidden`).
    Forbidden,
    /// The connection is closed without an answer.
    Dropped,
}

impl FaultKind {
    /// The three kinds every call is failed with.
    pub const ALL: [FaultKind; 3] = [
        FaultKind::ServerError,
        FaultKind::Forbidden,
        FaultKind::Dropped,
    ];

    /// `500`, `403`, `drop`.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::ServerError => "500",
            FaultKind::Forbidden => "403",
            FaultKind::Dropped => "drop",
        }
    }
}

impl fmt::Display for CallTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallTemplate::Aws {
                service,
                operation,
                params,
                bucket,
            } => {
                write!(f, "{service}:{operation}")?;
                for (name, value) in params.iter().filter(|(n, _)| n != "RoleName") {
                    write!(f, " {name}={}", short(value))?;
                }
                if let Some(bucket) = bucket {
                    write!(f, " bucket={bucket}")?;
                }
                Ok(())
            }
            CallTemplate::Kube { method, path } => write!(f, "{method} {path}"),
        }
    }
}

/// The last path segment of an ARN, for short labels.
fn short(value: &str) -> &str {
    value.rsplit('/').next().unwrap_or(value)
}

impl CallTemplate {
    /// The template of an AWS request of the instance `token`; `None` when the request is not
    /// about the instance (e.g. the provider's own `sts:GetCallerIdentity`).
    pub fn from_aws(record: &RequestRecord, token: &str) -> Option<Self> {
        let params: Vec<(String, String)> = NAMING_PARAMS
            .iter()
            .filter_map(|name| {
                record
                    .param(name)
                    .map(|v| (name.to_string(), v.replace(token, TOKEN)))
            })
            .collect();
        let bucket = record
            .target
            .bucket
            .as_ref()
            .map(|b| b.replace(token, TOKEN));
        let about_instance = params.iter().any(|(_, v)| v.contains(TOKEN))
            || bucket.as_ref().is_some_and(|b| b.contains(TOKEN));
        about_instance.then(|| CallTemplate::Aws {
            service: record.service.clone(),
            operation: record.operation.clone(),
            params,
            bucket,
        })
    }

    /// The template of a Kubernetes request of the instance `token`; `None` when the request
    /// is not about the instance.
    pub fn from_kube(record: &RequestRecord, token: &str) -> Option<Self> {
        let path = kube_proxy::path_of(record)?;
        path.contains(token).then(|| CallTemplate::Kube {
            method: record.method.clone(),
            path: path.replace(token, TOKEN),
        })
    }

    /// Whether this is a Kubernetes call.
    pub fn is_kube(&self) -> bool {
        matches!(self, CallTemplate::Kube { .. })
    }

    /// The text a diagnostic about this call of instance `token` must contain: the AWS
    /// operation (`iam:CreateRole`), or the Kubernetes kind and object (`ServiceAccount
    /// NS/NAME`; for a create, `create Role NS/`).
    pub fn step_text(&self, token: &str) -> String {
        match self {
            CallTemplate::Aws {
                service, operation, ..
            } => format!("{service}:{operation}"),
            CallTemplate::Kube { method, path } => {
                let path = path.replace(TOKEN, token);
                let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
                let at = segments.iter().position(|s| *s == "namespaces");
                let namespace = at.and_then(|i| segments.get(i + 1)).copied().unwrap_or("");
                let plural = at.and_then(|i| segments.get(i + 2)).copied().unwrap_or("");
                let kind = match plural {
                    "serviceaccounts" => "ServiceAccount",
                    "roles" => "Role",
                    "rolebindings" => "RoleBinding",
                    other => other,
                };
                match (method.as_str(), at.and_then(|i| segments.get(i + 3))) {
                    ("POST", None) => format!("create {kind} {namespace}/"),
                    (_, Some(name)) => format!("{kind} {namespace}/{name}"),
                    (_, None) => format!("{kind} {namespace}/"),
                }
            }
        }
    }

    /// The AWS fault rule that fails this call of instance `token` on every attempt.
    pub fn aws_rule(&self, token: &str, kind: FaultKind) -> Option<FaultRule> {
        let CallTemplate::Aws {
            service,
            operation,
            params,
            bucket,
        } = self
        else {
            return None;
        };
        let mut matcher = Matcher::operation(service, operation);
        for (name, value) in params {
            matcher = matcher.param(name, &value.replace(TOKEN, token));
        }
        if let Some(bucket) = bucket {
            matcher = matcher.bucket(&bucket.replace(TOKEN, token));
        }
        let action = match (kind, service.as_str()) {
            (FaultKind::ServerError, "s3") => FaultAction::internal_error(),
            (FaultKind::ServerError, _) => FaultAction::service_failure(),
            (FaultKind::Forbidden, _) => FaultAction::access_denied(),
            (FaultKind::Dropped, _) => FaultAction::DropConnection,
        };
        Some(FaultRule::always(matcher, action))
    }

    /// The AWS fault rule that forwards this call of instance `token` and then holds its
    /// answer for `hold`.
    pub fn aws_hold(&self, token: &str, hold: Duration) -> Option<FaultRule> {
        let mut rule = self.aws_rule(token, FaultKind::Forbidden)?;
        rule.action = FaultAction::DelayResponse(hold);
        rule.trigger = crate::aws::proxy::Trigger::Nth(1);
        Some(rule)
    }

    /// The Kubernetes fault rule that fails this call of instance `token` on every attempt.
    pub fn kube_rule(&self, token: &str, kind: FaultKind) -> Option<FaultRule> {
        let CallTemplate::Kube { method, path } = self else {
            return None;
        };
        let action = match kind {
            FaultKind::ServerError => FaultAction::kube_status(500),
            FaultKind::Forbidden => FaultAction::kube_status(403),
            FaultKind::Dropped => FaultAction::DropConnection,
        };
        Some(FaultRule::always(
            kube_proxy::call(method, &path.replace(TOKEN, token)),
            action,
        ))
    }

    /// The Kubernetes fault rule that forwards this call of instance `token` and then holds
    /// its answer for `hold`.
    pub fn kube_hold(&self, token: &str, hold: Duration) -> Option<FaultRule> {
        let CallTemplate::Kube { method, path } = self else {
            return None;
        };
        Some(FaultRule::nth(
            kube_proxy::call(method, &path.replace(TOKEN, token)),
            1,
            FaultAction::DelayResponse(hold),
        ))
    }

    /// Whether the held request `held` (of the Kubernetes proxy) is this call of instance
    /// `token`.
    pub fn is_held_kube(&self, held: &HeldRequest, token: &str) -> bool {
        matches!(self, CallTemplate::Kube { method, path }
            if kube_proxy::is_held(held, method, &path.replace(TOKEN, token)))
    }
}

/// The distinct calls about instance `token` in both logs, AWS calls first, each once, in the
/// order they were first made.
pub fn templates(aws: &[RequestRecord], kube: &[RequestRecord], token: &str) -> Vec<CallTemplate> {
    let mut seen = BTreeSet::new();
    let mut calls = Vec::new();
    let aws_calls = aws.iter().filter_map(|r| CallTemplate::from_aws(r, token));
    let kube_calls = kube
        .iter()
        .filter_map(|r| CallTemplate::from_kube(r, token));
    for call in aws_calls.chain(kube_calls) {
        if seen.insert(call.clone()) {
            calls.push(call);
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kube(method: &str, path: &str) -> CallTemplate {
        CallTemplate::Kube {
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn kubernetes_steps_name_kind_and_object() {
        let create = kube(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/{token}-g1/roles",
        );
        assert_eq!(create.step_text("abc"), "create Role abc-g1/");
        let delete = kube(
            "DELETE",
            "/api/v1/namespaces/{token}/serviceaccounts/runner",
        );
        assert_eq!(delete.step_text("abc"), "ServiceAccount abc/runner");
        let rule = delete.kube_rule("abc", FaultKind::Dropped).unwrap();
        assert_eq!(rule.action, FaultAction::DropConnection);
        let request = |path: &str| {
            let kind = crate::fault_proxy::RequestKind {
                service: kube_proxy::SERVICE.into(),
                operation: "DELETE".into(),
            };
            let target = crate::fault_proxy::RequestTarget {
                params: [("path".to_string(), path.to_string())].into(),
                bucket: None,
            };
            rule.matcher.matches_request(&kind, &target)
        };
        assert!(request("/api/v1/namespaces/abc/serviceaccounts/runner"));
        assert!(!request("/api/v1/namespaces/abd/serviceaccounts/runner"));
    }
}
