//! Secrets: `stringData` folds into `data`, the type defaults to Opaque and is immutable,
//! `immutable: true` freezes the data.

use base64::Engine;
use serde_json::{Map, Value};

use super::{Kind, KindInfo, READ_WRITE_VERBS, object};
use crate::schema::definitions::SECRET;
use crate::validation::meta::NameRule;
use crate::validation::{BadValue, FieldError, names};

static INFO: KindInfo = KindInfo {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    namespaced: true,
    short_names: &[],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "S6u1pOWzb84=",
    schema: &SECRET,
    name_rule: NameRule::Dns1123Subdomain,
    create_on_update: false,
    return_deleted_object: false,
};

const MAX_SIZE: usize = 1024 * 1024;

/// `v1.Secret`.
pub struct Secret;

fn data_keys(obj: &Value, field: &str) -> Vec<(String, usize)> {
    obj.get(field)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let len = v
                        .as_str()
                        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                        .map_or(0, |b| b.len());
                    (k.clone(), len)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Validates `data`-like maps (`data`, `binaryData`): keys and total size.
pub fn validate_data_keys(obj: &Value, field: &str, errs: &mut Vec<FieldError>) -> usize {
    let mut total = 0;
    for (key, len) in data_keys(obj, field) {
        for msg in names::config_map_key(&key) {
            errs.push(FieldError::invalid(
                format!("{field}[{key}]"),
                BadValue::Str(key.clone()),
                msg,
            ));
        }
        total += len;
    }
    total
}

fn required_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    }
}

impl Kind for Secret {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn default(&self, obj: &mut Value) {
        let Some(map) = obj.as_object_mut() else {
            return;
        };
        if let Some(Value::Object(string_data)) = map.shift_remove("stringData") {
            let data = map
                .entry("data")
                .or_insert_with(|| Value::Object(Map::new()));
            if !data.is_object() {
                *data = Value::Object(Map::new());
            }
            let data = data.as_object_mut().expect("data");
            for (k, v) in string_data {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
                data.insert(k, Value::String(encoded));
            }
            let mut sorted: Vec<(String, Value)> =
                data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            *data = sorted.into_iter().collect();
            // keep `type` last, as Go field order does
            if let Some(t) = map.shift_remove("type") {
                map.insert("type".into(), t);
            }
        }
        if map
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            map.insert("type".into(), Value::String("Opaque".into()));
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = crate::validation::meta::validate(
            object::meta(obj).unwrap_or(&Default::default()),
            true,
            NameRule::Dns1123Subdomain,
        );
        let total = validate_data_keys(obj, "data", &mut errs);
        if total > MAX_SIZE {
            errs.push(FieldError::too_long("data", MAX_SIZE));
        }
        let kind = object::str_at(obj, "/type");
        if kind == "kubernetes.io/service-account-token"
            && object::string_map(obj, "annotations")
                .get("kubernetes.io/service-account.name")
                .is_none_or(String::is_empty)
        {
            errs.push(FieldError::required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        let keys: Vec<String> = data_keys(obj, "data").into_iter().map(|(k, _)| k).collect();
        for key in required_keys(kind) {
            if !keys.iter().any(|k| k == key) {
                errs.push(FieldError::required(format!("data[{key}]"), ""));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let empty = Default::default();
        let mut errs = crate::validation::meta::validate_update(
            object::meta(new).unwrap_or(&empty),
            object::meta(old).unwrap_or(&empty),
        );
        if new.get("type") != old.get("type") {
            errs.push(FieldError::invalid(
                "type",
                BadValue::Str(object::str_at(new, "/type").into()),
                "field is immutable",
            ));
        }
        errs.extend(immutability_errors(new, old, "data"));
        errs.extend(self.validate(new));
        errs
    }

    fn check_field_label(&self, label: &str) -> Result<(), String> {
        match label {
            "metadata.name" | "metadata.namespace" | "type" => Ok(()),
            _ => Err(format!("field label not supported: {label}")),
        }
    }

    fn field_value(&self, obj: &Value, label: &str) -> Option<String> {
        match label {
            "metadata.name" => Some(object::name(obj).to_string()),
            "metadata.namespace" => Some(object::namespace(obj).to_string()),
            "type" => Some(object::str_at(obj, "/type").to_string()),
            _ => None,
        }
    }
}

/// The errors of changing an `immutable: true` Secret or ConfigMap.
pub fn immutability_errors(new: &Value, old: &Value, data_field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return errs;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for field in [data_field, "binaryData"] {
        if new.get(field) != old.get(field) && (field == data_field || old.get(field).is_some()) {
            errs.push(FieldError::forbidden(
                field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errs
}
