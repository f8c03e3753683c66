//! RBAC escalation prevention on Role, ClusterRole and binding writes
//! (`pkg/registry/rbac/*/policybased` and `rbac/validation.ConfirmNoEscalation`).

use serde_json::Value;

use super::authorizer::{self, Attributes, MASTERS};
use super::resolver::{self, Lookup};
use super::rule::{self, PolicyRule};
use crate::api::status::StatusError;
use crate::authn::UserInfo;
use crate::gostr;
use crate::kinds::bindings::RBAC_GROUP;
use crate::kinds::object;
use crate::store::Store;

/// `EscalationAllowed`: members of `system:masters` may grant anything.
pub fn escalation_allowed(user: &UserInfo) -> bool {
    user.groups.iter().any(|g| g == MASTERS)
}

/// `RoleEscalationAuthorized`: the `escalate` verb on the role resource being written.
pub fn role_escalation_authorized(
    store: &Store,
    user: &UserInfo,
    resource: &str,
    namespace: &str,
    name: &str,
) -> bool {
    authorizer::authorize(
        store,
        &Attributes {
            user: user.clone(),
            verb: "escalate".into(),
            resource_request: true,
            namespace: namespace.into(),
            api_group: RBAC_GROUP.into(),
            api_version: "*".into(),
            resource: resource.into(),
            name: name.into(),
            ..Attributes::default()
        },
    )
    .allowed
}

/// `BindingAuthorized`: the `bind` verb on the referenced role.
pub fn binding_authorized(
    store: &Store,
    user: &UserInfo,
    role_ref: &Value,
    namespace: &str,
) -> bool {
    let resource = match object::str_at(role_ref, "/kind") {
        "ClusterRole" => "clusterroles",
        "Role" => "roles",
        _ => return false,
    };
    authorizer::authorize(
        store,
        &Attributes {
            user: user.clone(),
            verb: "bind".into(),
            resource_request: true,
            namespace: namespace.into(),
            api_group: object::str_at(role_ref, "/apiGroup").into(),
            resource: resource.into(),
            name: object::str_at(role_ref, "/name").into(),
            ..Attributes::default()
        },
    )
    .allowed
}

/// `ConfirmNoEscalation`: `Err` carries the denial text when `user` does not hold `rules`
/// in `namespace`.
pub fn confirm_no_escalation(
    store: &Store,
    user: &UserInfo,
    namespace: &str,
    rules: &[PolicyRule],
) -> Result<(), String> {
    let (owner, errors) = resolver::rules_for(store, user, namespace, Lookup::Registry);
    let missing = rule::covers(&owner, rules);
    if missing.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        gostr::quote(&user.name),
        gostr::quote_list(&user.groups),
        rule::describe_missing(missing).join("\n")
    );
    if !errors.is_empty() {
        let messages: Vec<String> = errors.iter().map(|e| e.message()).collect();
        let aggregate = if messages.len() == 1 {
            messages[0].clone()
        } else {
            format!("[{}]", messages.join(", "))
        };
        msg.push_str(&format!("; resolution errors: [{aggregate}]"));
    }
    Err(msg)
}

/// The whole check for a Role or ClusterRole write by `user`.
pub fn check_role_write(
    store: &Store,
    user: &UserInfo,
    resource: &str,
    namespace: &str,
    request_name: &str,
    obj: &Value,
) -> Result<(), StatusError> {
    if escalation_allowed(user)
        || role_escalation_authorized(store, user, resource, namespace, request_name)
    {
        return Ok(());
    }
    let name = object::name(obj);
    confirm_no_escalation(store, user, namespace, &PolicyRule::list_from(obj))
        .map_err(|msg| StatusError::forbidden(RBAC_GROUP, resource, name, &msg))?;
    let aggregated = obj.get("aggregationRule").is_some_and(|a| !a.is_null());
    if aggregated {
        let full = [
            PolicyRule::resource(&["*"], &["*"], &["*"]),
            PolicyRule::urls(&["*"], &["*"]),
        ];
        confirm_no_escalation(store, user, namespace, &full).map_err(|_| {
            StatusError::forbidden(
                RBAC_GROUP,
                resource,
                name,
                "must have cluster-admin privileges to use the aggregationRule",
            )
        })?;
    }
    Ok(())
}

/// The whole check for a RoleBinding or ClusterRoleBinding write by `user`.
pub fn check_binding_write(
    store: &Store,
    user: &UserInfo,
    resource: &str,
    namespace: &str,
    obj: &Value,
) -> Result<(), StatusError> {
    if escalation_allowed(user) {
        return Ok(());
    }
    let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
    if binding_authorized(store, user, &role_ref, namespace) {
        return Ok(());
    }
    let rules = resolver::role_ref_rules(store, &role_ref, namespace, Lookup::Registry)
        .map_err(|e| e.to_status())?;
    confirm_no_escalation(store, user, namespace, &rules)
        .map_err(|msg| StatusError::forbidden(RBAC_GROUP, resource, object::name(obj), &msg))
}
