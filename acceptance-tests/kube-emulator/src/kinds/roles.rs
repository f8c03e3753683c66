//! Roles and ClusterRoles: rule validation (names of groups, resources and verbs are not
//! checked against anything, as in the real server).

use serde_json::Value;

use super::{Kind, KindInfo, READ_WRITE_VERBS, object};
use crate::gostr;
use crate::schema::definitions::{CLUSTER_ROLE, ROLE};
use crate::validation::meta::{self, NameRule};
use crate::validation::{BadValue, FieldError};

static ROLE_INFO: KindInfo = KindInfo {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    singular: "role",
    namespaced: true,
    short_names: &[],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "7FuwZcIIItM=",
    schema: &ROLE,
    name_rule: NameRule::PathSegment,
    create_on_update: true,
    return_deleted_object: false,
};

static CLUSTER_ROLE_INFO: KindInfo = KindInfo {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    singular: "clusterrole",
    namespaced: false,
    short_names: &[],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "bYE5ZWDrJ44=",
    schema: &CLUSTER_ROLE,
    name_rule: NameRule::PathSegment,
    create_on_update: true,
    return_deleted_object: false,
};

/// `rbac/v1.Role`.
pub struct Role;

/// `rbac/v1.ClusterRole`.
pub struct ClusterRole;

fn strings(rule: &Value, key: &str) -> Vec<String> {
    object::strings_at(rule, &format!("/{key}"))
}

/// `ValidatePolicyRule` for every rule of `obj`.
fn validate_rules(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rules = obj
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if strings(rule, "verbs").is_empty() {
            errs.push(FieldError::required(
                format!("{path}.verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = strings(rule, "nonResourceURLs");
        if !urls.is_empty() {
            let rendered = BadValue::Rendered(gostr::go_syntax_string_slice(&urls));
            if namespaced {
                errs.push(FieldError::invalid(
                    format!("{path}.nonResourceURLs"),
                    rendered.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if ["apiGroups", "resources", "resourceNames"]
                .iter()
                .any(|k| !strings(rule, k).is_empty())
            {
                errs.push(FieldError::invalid(
                    format!("{path}.nonResourceURLs"),
                    rendered,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if strings(rule, "apiGroups").is_empty() {
            errs.push(FieldError::required(
                format!("{path}.apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if strings(rule, "resources").is_empty() {
            errs.push(FieldError::required(
                format!("{path}.resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    errs
}

fn validate_meta(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    meta::validate(
        object::meta(obj).unwrap_or(&Default::default()),
        namespaced,
        NameRule::PathSegment,
    )
}

fn validate_role_update(kind: &dyn Kind, new: &Value, old: &Value) -> Vec<FieldError> {
    let empty = Default::default();
    let mut errs = kind.validate(new);
    errs.extend(meta::validate_update(
        object::meta(new).unwrap_or(&empty),
        object::meta(old).unwrap_or(&empty),
    ));
    errs
}

impl Kind for Role {
    fn info(&self) -> &'static KindInfo {
        &ROLE_INFO
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = validate_meta(obj, true);
        errs.extend(validate_rules(obj, true));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        validate_role_update(self, new, old)
    }
}

impl Kind for ClusterRole {
    fn info(&self) -> &'static KindInfo {
        &CLUSTER_ROLE_INFO
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = validate_meta(obj, false);
        errs.extend(validate_rules(obj, false));
        if let Some(rule) = obj.get("aggregationRule").filter(|v| !v.is_null()) {
            let selectors = rule
                .get("clusterRoleSelectors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if selectors.is_empty() {
                errs.push(FieldError::required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                ));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        validate_role_update(self, new, old)
    }
}
