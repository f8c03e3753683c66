//! Accessors for objects held as JSON.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::schema::Type;
use crate::schema::definitions::OBJECT_META;

/// `metadata` of an object, if it is a map.
pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// A string field of `metadata` (`""` when absent).
pub fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    meta(obj)
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata` as a mutable map, created when missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("object");
    if !map.get("metadata").is_some_and(Value::is_object) {
        map.insert("metadata".into(), Value::Object(Map::new()));
    }
    map.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("metadata map")
}

/// Sets (or, for `Value::Null`, removes) a `metadata` field.
pub fn set_meta(obj: &mut Value, key: &str, value: Value) {
    let m = meta_mut(obj);
    if value.is_null() {
        m.shift_remove(key);
    } else {
        m.insert(key.to_string(), value);
    }
}

/// Sets a `metadata` field keeping the Go field order of `ObjectMeta`.
pub fn set_meta_ordered(obj: &mut Value, key: &str, value: Value) {
    let Type::Struct(meta_type) = &OBJECT_META else {
        return;
    };
    let order = |k: &str| {
        meta_type
            .fields
            .iter()
            .position(|f| f.name == k)
            .unwrap_or(usize::MAX)
    };
    let m = meta_mut(obj);
    m.insert(key.to_string(), value);
    let mut entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
    entries.sort_by_key(|(k, _)| order(k));
    m.extend(entries);
}

/// `metadata.name`.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name")
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> &str {
    meta_str(obj, "namespace")
}

/// A string map field of `metadata` (labels, annotations).
pub fn string_map(obj: &Value, key: &str) -> BTreeMap<String, String> {
    meta(obj)
        .and_then(|m| m.get(key))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A top-level (or nested, `/`-separated pointer) string field.
pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// A list of strings at `pointer`.
pub fn strings_at(obj: &Value, pointer: &str) -> Vec<String> {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Inserts `kind`/`apiVersion` at the front of an object, as the server serializes them.
pub fn with_type_meta(obj: &Value, kind: &str, api_version: &str) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), Value::String(kind.into()));
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if k != "kind" && k != "apiVersion" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The object without `kind`/`apiVersion` (how items appear in lists).
pub fn without_type_meta(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.as_object_mut() {
        m.shift_remove("kind");
        m.shift_remove("apiVersion");
    }
    out
}
