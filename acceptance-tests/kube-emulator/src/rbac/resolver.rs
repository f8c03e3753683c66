//! Which rules apply to a user (`DefaultRuleResolver`): ClusterRoleBindings first, then
//! the RoleBindings of the namespace, each in name order.

use serde_json::Value;

use super::rule::PolicyRule;
use crate::api::status::StatusError;
use crate::authn::UserInfo;
use crate::gostr;
use crate::kinds::bindings::RBAC_GROUP;
use crate::kinds::object;
use crate::store::{Key, Store};

/// How errors about missing roles read: the authorizer uses listers (`role.rbac...`), the
/// registry's escalation check uses storage (`roles.rbac...`, a real 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Informer listers (authorizer).
    Lister,
    /// Registry storage (escalation checks).
    Registry,
}

/// A role that could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleRefError {
    /// The role does not exist.
    NotFound {
        /// `roles` or `clusterroles`.
        resource: &'static str,
        /// Role name.
        name: String,
        /// Lookup flavour.
        lookup: Lookup,
    },
    /// The roleRef kind is neither Role nor ClusterRole.
    UnsupportedKind(String),
}

impl RoleRefError {
    /// The error message.
    pub fn message(&self) -> String {
        match self {
            RoleRefError::NotFound {
                resource,
                name,
                lookup: Lookup::Lister,
            } => format!(
                "{}.{RBAC_GROUP} {} not found",
                resource.trim_end_matches('s'),
                gostr::quote(name)
            ),
            RoleRefError::NotFound { resource, name, .. } => {
                StatusError::not_found(RBAC_GROUP, resource, name).message
            }
            RoleRefError::UnsupportedKind(kind) => {
                format!("unsupported role reference kind: {}", gostr::quote(kind))
            }
        }
    }

    /// The error as a Status (registry lookups).
    pub fn to_status(&self) -> StatusError {
        match self {
            RoleRefError::NotFound { resource, name, .. } => {
                StatusError::not_found(RBAC_GROUP, resource, name)
            }
            RoleRefError::UnsupportedKind(_) => StatusError::internal(&self.message()),
        }
    }
}

/// Rules of the role a binding refers to.
pub fn role_ref_rules(
    store: &Store,
    role_ref: &Value,
    binding_namespace: &str,
    lookup: Lookup,
) -> Result<Vec<PolicyRule>, RoleRefError> {
    let kind = object::str_at(role_ref, "/kind");
    let name = object::str_at(role_ref, "/name");
    let (resource, namespace) = match kind {
        "Role" => ("roles", binding_namespace),
        "ClusterRole" => ("clusterroles", ""),
        other => return Err(RoleRefError::UnsupportedKind(other.to_string())),
    };
    store
        .get(&Key::new(resource, namespace, name))
        .map(PolicyRule::list_from)
        .ok_or_else(|| RoleRefError::NotFound {
            resource,
            name: name.to_string(),
            lookup,
        })
}

/// Where a rule came from, for `RBAC: allowed by ...` reasons.
#[derive(Debug, Clone)]
pub struct Source {
    binding: String,
    binding_namespace: String,
    role_kind: String,
    role_name: String,
    subject: Value,
}

impl Source {
    /// `clusterRoleBindingDescriber` / `roleBindingDescriber`.
    pub fn describe(&self) -> String {
        let s = &self.subject;
        let kind = object::str_at(s, "/kind");
        let name = object::str_at(s, "/name");
        let subject = if kind == "ServiceAccount" {
            let ns = match object::str_at(s, "/namespace") {
                "" => self.binding_namespace.as_str(),
                ns => ns,
            };
            format!("{kind} {}", gostr::quote(&format!("{name}/{ns}")))
        } else {
            format!("{kind} {}", gostr::quote(name))
        };
        if self.binding_namespace.is_empty() {
            format!(
                "ClusterRoleBinding {} of {} {} to {subject}",
                gostr::quote(&self.binding),
                self.role_kind,
                gostr::quote(&self.role_name)
            )
        } else {
            format!(
                "RoleBinding {} of {} {} to {subject}",
                gostr::quote(&format!("{}/{}", self.binding, self.binding_namespace)),
                self.role_kind,
                gostr::quote(&self.role_name)
            )
        }
    }
}

fn applies_to(user: &UserInfo, subject: &Value, namespace: &str) -> bool {
    let name = object::str_at(subject, "/name");
    match object::str_at(subject, "/kind") {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = match object::str_at(subject, "/namespace") {
                "" => namespace,
                ns => ns,
            };
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// One step of a rule visit: a rule with its source, or an error.
pub enum Visit<'a> {
    /// A rule that applies to the user.
    Rule(&'a Source, &'a PolicyRule),
    /// A binding whose role could not be resolved.
    Error(RoleRefError),
}

/// `VisitRulesFor`: calls `visitor` for every rule that applies to `user` in `namespace`
/// until it returns false.
pub fn visit_rules_for(
    store: &Store,
    user: &UserInfo,
    namespace: &str,
    lookup: Lookup,
    visitor: &mut dyn FnMut(Visit) -> bool,
) {
    let mut scopes: Vec<(&'static str, Option<&str>)> = vec![("clusterrolebindings", None)];
    if !namespace.is_empty() {
        scopes.push(("rolebindings", Some(namespace)));
    }
    for (resource, ns) in scopes {
        for (key, binding) in store.list(resource, ns) {
            let subjects = binding.get("subjects").and_then(Value::as_array);
            let Some(subject) = subjects
                .into_iter()
                .flatten()
                .find(|s| applies_to(user, s, ns.unwrap_or("")))
            else {
                continue;
            };
            let role_ref = binding.get("roleRef").cloned().unwrap_or(Value::Null);
            match role_ref_rules(store, &role_ref, &key.namespace, lookup) {
                Err(e) => {
                    if !visitor(Visit::Error(e)) {
                        return;
                    }
                }
                Ok(rules) => {
                    let source = Source {
                        binding: key.name.clone(),
                        binding_namespace: key.namespace.clone(),
                        role_kind: object::str_at(&role_ref, "/kind").to_string(),
                        role_name: object::str_at(&role_ref, "/name").to_string(),
                        subject: subject.clone(),
                    };
                    for rule in &rules {
                        if !visitor(Visit::Rule(&source, rule)) {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// `RulesFor`: every rule that applies, plus resolution errors.
pub fn rules_for(
    store: &Store,
    user: &UserInfo,
    namespace: &str,
    lookup: Lookup,
) -> (Vec<PolicyRule>, Vec<RoleRefError>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    visit_rules_for(store, user, namespace, lookup, &mut |v| {
        match v {
            Visit::Rule(_, r) => rules.push(r.clone()),
            Visit::Error(e) => errors.push(e),
        }
        true
    });
    (rules, errors)
}
