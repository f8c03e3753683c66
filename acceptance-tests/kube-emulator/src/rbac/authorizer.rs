//! The authorizer chain of the recorded server: the `system:masters` privileged group, then
//! RBAC. Also renders the 403 of a denied request.

use super::resolver::{self, Lookup, Visit};
use crate::api::status::StatusError;
use crate::authn::UserInfo;
use crate::gostr;
use crate::store::Store;

/// The group authorized for everything before RBAC runs.
pub const MASTERS: &str = "system:masters";

/// `authorizer.Attributes` of a request or an access review.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    /// Who asks.
    pub user: UserInfo,
    /// Verb (`get`, `list`, `create`, ..., `bind`, `escalate`).
    pub verb: String,
    /// True for API resources, false for non-resource paths.
    pub resource_request: bool,
    /// Namespace (empty at cluster scope).
    pub namespace: String,
    /// API group.
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Object name.
    pub name: String,
    /// Request path (non-resource requests).
    pub path: String,
}

/// The authorizer's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed or not (no opinion = not allowed).
    pub allowed: bool,
    /// Reason (`RBAC: allowed by ...`, or resolution errors on denial).
    pub reason: String,
}

/// Authorizes `attrs` against the RBAC objects in `store`.
pub fn authorize(store: &Store, attrs: &Attributes) -> Decision {
    if attrs.user.groups.iter().any(|g| g == MASTERS) {
        return Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    let mut allowed_by = None;
    let mut errors = Vec::new();
    resolver::visit_rules_for(
        store,
        &attrs.user,
        &attrs.namespace,
        Lookup::Lister,
        &mut |v| {
            match v {
                Visit::Rule(source, rule) if rule.allows(attrs) => {
                    allowed_by = Some(source.describe());
                    return false;
                }
                Visit::Rule(..) => {}
                Visit::Error(e) => errors.push(e.message()),
            }
            true
        },
    );
    match allowed_by {
        Some(source) => Decision {
            allowed: true,
            reason: format!("RBAC: allowed by {source}"),
        },
        None => Decision {
            allowed: false,
            reason: match errors.len() {
                0 => String::new(),
                1 => format!("RBAC: {}", errors[0]),
                _ => format!("RBAC: [{}]", errors.join(", ")),
            },
        },
    }
}

/// The 403 of a denied request (`responsewriters.Forbidden`).
pub fn forbidden(attrs: &Attributes, reason: &str) -> StatusError {
    let user = gostr::quote(&attrs.user.name);
    let mut msg = if !attrs.resource_request {
        format!(
            "User {user} cannot {} path {}",
            attrs.verb,
            gostr::quote(&attrs.path)
        )
    } else {
        let resource = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        let scope = if attrs.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {}", gostr::quote(&attrs.namespace))
        };
        format!(
            "User {user} cannot {} resource {} in API group {} {scope}",
            attrs.verb,
            gostr::quote(&resource),
            gostr::quote(&attrs.api_group)
        )
    };
    if !reason.is_empty() {
        msg = format!("{msg}: {reason}");
    }
    if attrs.resource_request {
        StatusError::forbidden(&attrs.api_group, &attrs.resource, &attrs.name, &msg)
    } else {
        StatusError::forbidden("", "", "", &msg)
    }
}
