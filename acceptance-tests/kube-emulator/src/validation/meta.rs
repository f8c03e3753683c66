//! `ValidateObjectMeta` and `ValidateObjectMetaUpdate` over JSON metadata.

use serde_json::{Map, Value};

use super::names;
use super::{BadValue, FieldError};

/// Which rule an object's name follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 label (namespaces).
    Dns1123Label,
    /// RFC 1123 subdomain (most core objects).
    Dns1123Subdomain,
    /// Anything that is a valid URL path segment (RBAC objects).
    PathSegment,
}

impl NameRule {
    /// Messages for `name` (`prefix` = it is a `generateName`).
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && self != NameRule::PathSegment && name.ends_with('-') {
            masked = format!("{}a", &name[..name.len() - 1]);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Label => names::dns1123_label(name),
            NameRule::Dns1123Subdomain => names::dns1123_subdomain(name),
            NameRule::PathSegment => names::path_segment_name(name),
        }
    }
}

fn str_of<'a>(meta: &'a Map<String, Value>, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or("")
}

fn string_map(meta: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = meta
        .get(key)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `ValidateObjectMeta`.
pub fn validate(meta: &Map<String, Value>, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate_name = str_of(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in rule.check(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                BadValue::Str(generate_name.into()),
                msg,
            ));
        }
    }
    let name = str_of(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid(
                "metadata.name",
                BadValue::Str(name.into()),
                msg,
            ));
        }
    }
    let namespace = str_of(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in names::dns1123_label(namespace) {
                errs.push(FieldError::invalid(
                    "metadata.namespace",
                    BadValue::Str(namespace.into()),
                    msg,
                ));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta
        .get("generation")
        .and_then(Value::as_i64)
        .filter(|g| *g < 0)
    {
        errs.push(FieldError::invalid(
            "metadata.generation",
            BadValue::Int(g),
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(validate_labels_and_annotations(meta));
    errs.extend(validate_owner_references(meta));
    errs.extend(validate_finalizers(meta));
    errs
}

fn validate_labels_and_annotations(meta: &Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in string_map(meta, "labels") {
        for msg in names::qualified_name(&k) {
            errs.push(FieldError::invalid(
                "metadata.labels",
                BadValue::Str(k.clone()),
                msg,
            ));
        }
        for msg in names::label_value(&v) {
            errs.push(FieldError::invalid(
                "metadata.labels",
                BadValue::Str(v.clone()),
                msg,
            ));
        }
    }
    let annotations = string_map(meta, "annotations");
    let mut total = 0;
    for (k, v) in &annotations {
        total += k.len() + v.len();
        for msg in names::qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(
                "metadata.annotations",
                BadValue::Str(k.clone()),
                msg,
            ));
        }
    }
    if total > 256 * 1024 {
        errs.push(FieldError::too_long("metadata.annotations", 256 * 1024));
    }
    errs
}

fn validate_owner_references(meta: &Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let refs = meta
        .get("ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut controllers = 0;
    for (i, r) in refs.iter().enumerate() {
        let path = format!("metadata.ownerReferences[{i}]");
        let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let api_version = field("apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                format!("{path}.apiVersion"),
                BadValue::Str(api_version.clone()),
                "version must not be empty",
            ));
        }
        for (key, what) in [("kind", "kind"), ("name", "name"), ("uid", "uid")] {
            let v = field(key);
            if v.is_empty() {
                errs.push(FieldError::invalid(
                    format!("{path}.{key}"),
                    BadValue::Str(v),
                    format!("{what} must not be empty"),
                ));
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers += 1;
        }
    }
    if controllers > 1 {
        errs.push(FieldError::invalid(
            "metadata.ownerReferences",
            BadValue::Rendered("[...]".into()),
            "Only one reference can have Controller set to true",
        ));
    }
    errs
}

fn validate_finalizers(meta: &Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let finalizers = meta
        .get("finalizers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, f) in finalizers.iter().enumerate() {
        let name = f.as_str().unwrap_or("");
        let path = format!("metadata.finalizers[{i}]");
        for msg in names::qualified_name(name) {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::Str(name.into()),
                msg,
            ));
        }
        if !name.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&name) {
            errs.push(FieldError::invalid(
                path,
                BadValue::Str(name.into()),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

fn immutable(new: &Map<String, Value>, old: &Map<String, Value>, key: &str) -> Option<FieldError> {
    let n = new.get(key).unwrap_or(&Value::Null);
    let o = old.get(key).unwrap_or(&Value::Null);
    (n != o).then(|| {
        let value = match n {
            Value::String(s) => BadValue::Str(s.clone()),
            Value::Number(x) => BadValue::Int(x.as_i64().unwrap_or(0)),
            Value::Null => BadValue::Null,
            other => BadValue::Rendered(other.to_string()),
        };
        FieldError::invalid(format!("metadata.{key}"), value, "field is immutable")
    })
}

/// `ValidateObjectMetaUpdate` (name and namespace mismatches are rejected earlier).
pub fn validate_update(new: &Map<String, Value>, old: &Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generation =
        |m: &Map<String, Value>| m.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if generation(new) < generation(old) {
        errs.push(FieldError::invalid(
            "metadata.generation",
            BadValue::Int(generation(new)),
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        errs.extend(immutable(new, old, key));
    }
    errs.extend(validate_labels_and_annotations(new));
    errs.extend(validate_owner_references(new));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn missing_name_is_required() {
        let errs = validate(
            &meta(json!({"namespace": "ci"})),
            true,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }

    #[test]
    fn rbac_names_only_need_to_be_path_segments() {
        assert!(
            validate(
                &meta(json!({"name": "Bad_Name", "namespace": "ci"})),
                true,
                NameRule::PathSegment
            )
            .is_empty()
        );
    }

    #[test]
    fn cluster_scoped_objects_reject_a_namespace() {
        let errs = validate(
            &meta(json!({"name": "x", "namespace": "ci"})),
            false,
            NameRule::Dns1123Label,
        );
        assert_eq!(
            errs[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
    }

    #[test]
    fn labels_are_checked() {
        let errs = validate(
            &meta(json!({"name": "x", "labels": {"bad key!": "v"}})),
            false,
            NameRule::Dns1123Label,
        );
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0]
                .to_string()
                .starts_with("metadata.labels: Invalid value: \"bad key!\": name part")
        );
    }
}
