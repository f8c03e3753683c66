//! ConfigMaps.

use serde_json::Value;

use super::secret::{immutability_errors, validate_data_keys};
use super::{Kind, KindInfo, READ_WRITE_VERBS, object};
use crate::schema::definitions::CONFIG_MAP;
use crate::validation::meta::NameRule;
use crate::validation::{BadValue, FieldError};

static INFO: KindInfo = KindInfo {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    namespaced: true,
    short_names: &["cm"],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "qFsyl6wFWjQ=",
    schema: &CONFIG_MAP,
    name_rule: NameRule::Dns1123Subdomain,
    create_on_update: false,
    return_deleted_object: false,
};

const MAX_SIZE: usize = 1024 * 1024;

/// `v1.ConfigMap`.
pub struct ConfigMap;

fn string_data_size(obj: &Value) -> usize {
    obj.get("data")
        .and_then(Value::as_object)
        .map(|m| m.values().map(|v| v.as_str().map_or(0, str::len)).sum())
        .unwrap_or(0)
}

impl Kind for ConfigMap {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = crate::validation::meta::validate(
            object::meta(obj).unwrap_or(&Default::default()),
            true,
            NameRule::Dns1123Subdomain,
        );
        let mut keys_errs = Vec::new();
        if let Some(data) = obj.get("data").and_then(Value::as_object) {
            for key in data.keys() {
                for msg in crate::validation::names::config_map_key(key) {
                    keys_errs.push(FieldError::invalid(
                        format!("data[{key}]"),
                        BadValue::Str(key.clone()),
                        msg,
                    ));
                }
            }
        }
        errs.extend(keys_errs);
        let binary = validate_data_keys(obj, "binaryData", &mut errs);
        if let (Some(data), Some(bin)) = (
            obj.get("data").and_then(Value::as_object),
            obj.get("binaryData").and_then(Value::as_object),
        ) {
            for key in bin.keys().filter(|k| data.contains_key(*k)) {
                errs.push(FieldError::invalid(
                    format!("binaryData[{key}]"),
                    BadValue::Str(key.clone()),
                    "duplicate of key present in data",
                ));
            }
        }
        if string_data_size(obj) + binary > MAX_SIZE {
            errs.push(FieldError::too_long("", MAX_SIZE));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let empty = Default::default();
        let mut errs = crate::validation::meta::validate_update(
            object::meta(new).unwrap_or(&empty),
            object::meta(old).unwrap_or(&empty),
        );
        errs.extend(immutability_errors(new, old, "data"));
        errs.extend(self.validate(new));
        errs
    }
}
