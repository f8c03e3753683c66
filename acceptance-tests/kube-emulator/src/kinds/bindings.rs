//! RoleBindings and ClusterRoleBindings: defaulted API groups, subject and roleRef
//! validation, immutable roleRef.

use serde_json::Value;

use super::{Kind, KindInfo, READ_WRITE_VERBS, object};
use crate::gostr;
use crate::schema::definitions::ROLE_BINDING;
use crate::validation::meta::{self, NameRule};
use crate::validation::{BadValue, FieldError, names};

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

static ROLE_BINDING_INFO: KindInfo = KindInfo {
    group: RBAC_GROUP,
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    singular: "rolebinding",
    namespaced: true,
    short_names: &[],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "eGsCzGH6b1g=",
    schema: &ROLE_BINDING,
    name_rule: NameRule::PathSegment,
    create_on_update: true,
    return_deleted_object: false,
};

static CLUSTER_ROLE_BINDING_INFO: KindInfo = KindInfo {
    group: RBAC_GROUP,
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    namespaced: false,
    short_names: &[],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "48tpQ8gZHFc=",
    schema: &ROLE_BINDING,
    name_rule: NameRule::PathSegment,
    create_on_update: true,
    return_deleted_object: false,
};

/// `rbac/v1.RoleBinding`.
pub struct RoleBinding;

/// `rbac/v1.ClusterRoleBinding`.
pub struct ClusterRoleBinding;

/// `SetDefaults_RoleBinding` / `SetDefaults_Subject`.
fn default_binding(obj: &mut Value) {
    if let Some(role_ref) = obj.get_mut("roleRef").and_then(Value::as_object_mut)
        && role_ref
            .get("apiGroup")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        role_ref.insert("apiGroup".into(), Value::String(RBAC_GROUP.into()));
    }
    if let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) {
        for s in subjects.iter_mut().filter_map(Value::as_object_mut) {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let empty = s
                .get("apiGroup")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
            if empty && (kind == "User" || kind == "Group") {
                // Rebuild to keep Go field order (kind, apiGroup, name, namespace).
                let mut rebuilt = serde_json::Map::new();
                for key in ["kind", "apiGroup", "name", "namespace"] {
                    if key == "apiGroup" {
                        rebuilt.insert(key.into(), Value::String(RBAC_GROUP.into()));
                    } else if let Some(v) = s.get(key) {
                        rebuilt.insert(key.into(), v.clone());
                    }
                }
                *s = rebuilt;
            }
        }
    }
}

/// The internal `rbac.RoleRef` as Go's `%#v` prints it.
pub fn render_role_ref(obj: &Value) -> String {
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        gostr::quote(object::str_at(obj, "/roleRef/apiGroup")),
        gostr::quote(object::str_at(obj, "/roleRef/kind")),
        gostr::quote(object::str_at(obj, "/roleRef/name")),
    )
}

fn validate_binding(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = meta::validate(
        object::meta(obj).unwrap_or(&Default::default()),
        namespaced,
        NameRule::PathSegment,
    );
    let group = object::str_at(obj, "/roleRef/apiGroup");
    if group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[RBAC_GROUP],
        ));
    }
    let kind = object::str_at(obj, "/roleRef/kind");
    if kind != "Role" && kind != "ClusterRole" {
        errs.push(FieldError::not_supported(
            "roleRef.kind",
            kind,
            &["Role", "ClusterRole"],
        ));
    }
    let name = object::str_at(obj, "/roleRef/name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in names::path_segment_name(name) {
            errs.push(FieldError::invalid(
                "roleRef.name",
                BadValue::Str(name.into()),
                msg,
            ));
        }
    }
    let subjects = obj
        .get("subjects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, s) in subjects.iter().enumerate() {
        errs.extend(validate_subject(s, namespaced, &format!("subjects[{i}]")));
    }
    errs
}

fn validate_subject(s: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (name, group) = (field("name"), field("apiGroup"));
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    }
    match field("kind").as_str() {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in names::dns1123_subdomain(&name) {
                    errs.push(FieldError::invalid(
                        format!("{path}.name"),
                        BadValue::Str(name.clone()),
                        msg,
                    ));
                }
            }
            if !group.is_empty() {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    &group,
                    &[""],
                ));
            }
            if !namespaced && field("namespace").is_empty() {
                errs.push(FieldError::required(format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != RBAC_GROUP {
                errs.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    &group,
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{path}.kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

fn validate_binding_update(kind: &dyn Kind, new: &Value, old: &Value) -> Vec<FieldError> {
    let empty = Default::default();
    let mut errs = kind.validate(new);
    errs.extend(meta::validate_update(
        object::meta(new).unwrap_or(&empty),
        object::meta(old).unwrap_or(&empty),
    ));
    if new.get("roleRef") != old.get("roleRef") {
        errs.push(FieldError::invalid(
            "roleRef",
            BadValue::Rendered(render_role_ref(new)),
            "cannot change roleRef",
        ));
    }
    errs
}

impl Kind for RoleBinding {
    fn info(&self) -> &'static KindInfo {
        &ROLE_BINDING_INFO
    }

    fn default(&self, obj: &mut Value) {
        default_binding(obj);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_binding(obj, true)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        validate_binding_update(self, new, old)
    }
}

impl Kind for ClusterRoleBinding {
    fn info(&self) -> &'static KindInfo {
        &CLUSTER_ROLE_BINDING_INFO
    }

    fn default(&self, obj: &mut Value) {
        default_binding(obj);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        validate_binding(obj, false)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        validate_binding_update(self, new, old)
    }
}
