//! Impersonation (`Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid`,
//! `Impersonate-Extra-*` headers), as kube-apiserver's filter does it
//! (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go):
//! every requested identity part is authorized with RBAC's `impersonate` verb for the real
//! requester, then the request runs as the impersonated user.

use super::{ANONYMOUS, AUTHENTICATED, UNAUTHENTICATED, UserInfo};
use crate::api::request::{ApiRequest, ApiResponse};
use crate::rbac::authorizer::{self, Attributes};
use crate::store::Store;

const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
const EXTRA_PREFIX: &str = "impersonate-extra-";

/// One identity part the request asks to act as (`v1.ObjectReference` in the filter).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requested {
    kind: &'static str,
    namespace: String,
    name: String,
    /// The extra key, for `UserExtra`.
    extra_key: String,
}

impl Requested {
    fn new(kind: &'static str, namespace: &str, name: &str) -> Requested {
        Requested {
            kind,
            namespace: namespace.into(),
            name: name.into(),
            extra_key: String::new(),
        }
    }

    /// Go's `%v` of the `ObjectReference` (Kind Namespace Name UID APIVersion
    /// ResourceVersion FieldPath), as the 500 for a group without a user prints it.
    fn go_value(&self) -> String {
        let api_version = if self.kind == "UserExtra" {
            "authentication.k8s.io/v1"
        } else {
            ""
        };
        format!(
            "{{{} {} {}  {api_version}  }}",
            self.kind, self.namespace, self.name
        )
    }

    /// The attributes the requester must be allowed (`impersonate` on this identity part).
    fn attributes(&self, requester: &UserInfo) -> Attributes {
        let (group, resource, subresource) = match self.kind {
            "ServiceAccount" => ("", "serviceaccounts", ""),
            "User" => ("", "users", ""),
            "Group" => ("", "groups", ""),
            "UID" => ("authentication.k8s.io", "uids", ""),
            _ => (
                "authentication.k8s.io",
                "userextras",
                self.extra_key.as_str(),
            ),
        };
        Attributes {
            user: requester.clone(),
            verb: "impersonate".into(),
            resource_request: true,
            namespace: self.namespace.clone(),
            api_group: group.into(),
            api_version: String::new(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: self.name.clone(),
            path: String::new(),
        }
    }
}

/// The parts in request order: user, groups, extras, uid (`buildImpersonationRequests`).
fn requested(req: &ApiRequest) -> Vec<Requested> {
    let mut parts = Vec::new();
    if let Some(user) = req.header("impersonate-user").filter(|u| !u.is_empty()) {
        let service_account = user
            .strip_prefix(SERVICE_ACCOUNT_PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'));
        parts.push(match service_account {
            Some((namespace, name)) => Requested::new("ServiceAccount", namespace, name),
            None => Requested::new("User", "", user),
        });
    }
    for group in req.header_values("impersonate-group") {
        parts.push(Requested::new("Group", "", group));
    }
    for (name, value) in &req.headers {
        if let Some(key) = name.strip_prefix(EXTRA_PREFIX) {
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .to_lowercase();
            parts.push(Requested {
                extra_key: key,
                ..Requested::new("UserExtra", "", value)
            });
        }
    }
    if let Some(uid) = req.header("impersonate-uid").filter(|u| !u.is_empty()) {
        parts.push(Requested::new("UID", "", uid));
    }
    parts
}

/// Who the request runs as: `Ok(None)` without impersonation headers, `Ok(Some(user))` when
/// `requester` may impersonate everything asked for, `Err(response)` otherwise (403 on the
/// first part refused, 500 for groups, extras or a uid without a user).
pub fn impersonate(
    store: &Store,
    requester: &UserInfo,
    req: &ApiRequest,
) -> Result<Option<UserInfo>, ApiResponse> {
    let parts = requested(req);
    if parts.is_empty() {
        return Ok(None);
    }
    if !parts
        .iter()
        .any(|p| matches!(p.kind, "User" | "ServiceAccount"))
    {
        let list: Vec<String> = parts.iter().map(Requested::go_value).collect();
        return Err(ApiResponse::text(
            500,
            &format!(
                "Internal Server Error: {}: requested [{}] without impersonating a user\n",
                crate::gostr::quote(&req.path),
                list.join(" ")
            ),
        ));
    }
    let mut user = UserInfo::default();
    for part in &parts {
        let attrs = part.attributes(requester);
        let decision = authorizer::authorize(store, &attrs);
        if !decision.allowed {
            return Err(ApiResponse::error(&authorizer::forbidden(
                &attrs,
                &decision.reason,
            )));
        }
        match part.kind {
            "ServiceAccount" => {
                user.name = format!("{SERVICE_ACCOUNT_PREFIX}{}:{}", part.namespace, part.name);
                user.groups.push("system:serviceaccounts".into());
                user.groups
                    .push(format!("system:serviceaccounts:{}", part.namespace));
            }
            "User" => user.name = part.name.clone(),
            "Group" => user.groups.push(part.name.clone()),
            "UID" => user.uid = part.name.clone(),
            _ => user
                .extra
                .entry(part.extra_key.clone())
                .or_default()
                .push(part.name.clone()),
        }
    }
    let (implied, excluded) = if user.name == ANONYMOUS {
        (UNAUTHENTICATED, AUTHENTICATED)
    } else {
        (AUTHENTICATED, UNAUTHENTICATED)
    };
    if !user.groups.iter().any(|g| g == implied || g == excluded) {
        user.groups.push(implied.into());
    }
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            path: "/api".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.to_string()))
                .collect(),
            ..ApiRequest::default()
        }
    }

    #[test]
    fn service_account_usernames_become_service_account_references() {
        let parts = requested(&request(&[(
            "Impersonate-User",
            "system:serviceaccount:ci:runner",
        )]));
        assert_eq!(
            parts,
            vec![Requested::new("ServiceAccount", "ci", "runner")]
        );
        let parts = requested(&request(&[(
            "Impersonate-User",
            "system:serviceaccount:ci",
        )]));
        assert_eq!(parts[0].kind, "User");
    }

    #[test]
    fn groups_without_a_user_print_like_go() {
        let parts = requested(&request(&[("Impersonate-Group", "system:masters")]));
        assert_eq!(parts[0].go_value(), "{Group  system:masters    }");
    }
}
