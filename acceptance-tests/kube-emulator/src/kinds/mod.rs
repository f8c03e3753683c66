//! The stored kinds and their registry strategies: defaulting, create/update preparation,
//! validation and field selectors, following `pkg/registry/<group>/<kind>/strategy.go`.

pub mod bindings;
pub mod config_map;
pub mod namespace;
pub mod object;
pub mod roles;
pub mod secret;
pub mod service_account;

use serde_json::Value;

use crate::schema::Type;
use crate::validation::FieldError;
use crate::validation::meta::{self, NameRule};

/// Static facts about a kind.
#[derive(Debug)]
pub struct KindInfo {
    /// API group (`""` for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural resource name.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Discovery short names.
    pub short_names: &'static [&'static str],
    /// Discovery verbs.
    pub verbs: &'static [&'static str],
    /// Discovery `storageVersionHash`.
    pub storage_version_hash: &'static str,
    /// Go type schema.
    pub schema: &'static Type,
    /// Name validation rule.
    pub name_rule: NameRule,
    /// PUT of a missing object creates it.
    pub create_on_update: bool,
    /// DELETE returns the object (else a Success Status).
    pub return_deleted_object: bool,
}

impl KindInfo {
    /// `group/version` (`version` for core).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Verbs of an ordinary read-write resource.
pub const READ_WRITE_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Strategy of a stored kind.
pub trait Kind: Send + Sync {
    /// Static facts.
    fn info(&self) -> &'static KindInfo;

    /// Defaulting applied when a request body is decoded (owned by the request's manager).
    fn default(&self, _obj: &mut Value) {}

    /// `PrepareForCreate`.
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// `PrepareForUpdate`.
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// `Validate`.
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let info = self.info();
        meta::validate(
            object::meta(obj).unwrap_or(&Default::default()),
            info.namespaced,
            info.name_rule,
        )
    }

    /// `ValidateUpdate`.
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let empty = Default::default();
        let mut errs = meta::validate_update(
            object::meta(new).unwrap_or(&empty),
            object::meta(old).unwrap_or(&empty),
        );
        errs.extend(self.validate(new));
        errs
    }

    /// Checks a field selector label (`Err` carries the API server's message).
    fn check_field_label(&self, label: &str) -> Result<(), String> {
        match label {
            "metadata.name" | "metadata.namespace" => Ok(()),
            _ => Err(format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                crate::gostr::quote(label)
            )),
        }
    }

    /// The value of a field selector label on `obj`.
    fn field_value(&self, obj: &Value, label: &str) -> Option<String> {
        match label {
            "metadata.name" => Some(object::name(obj).to_string()),
            "metadata.namespace" => Some(object::namespace(obj).to_string()),
            _ => None,
        }
    }

    /// Top-level fields the main resource does not track in managedFields (`status`).
    fn reset_fields(&self) -> &'static [&'static str] {
        &[]
    }
}

static ALL: [&dyn Kind; 8] = [
    &namespace::Namespace,
    &service_account::ServiceAccount,
    &secret::Secret,
    &config_map::ConfigMap,
    &roles::Role,
    &roles::ClusterRole,
    &bindings::RoleBinding,
    &bindings::ClusterRoleBinding,
];

/// Every stored kind.
pub fn all() -> &'static [&'static dyn Kind] {
    &ALL
}

/// The kind served at `group`/`version`/`plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static dyn Kind> {
    ALL.iter().copied().find(|k| {
        let i = k.info();
        i.group == group && i.version == version && i.plural == plural
    })
}

/// The kind whose plural resource is `plural`.
pub fn by_plural(plural: &str) -> &'static dyn Kind {
    ALL.iter()
        .copied()
        .find(|k| k.info().plural == plural)
        .expect("known resource")
}
