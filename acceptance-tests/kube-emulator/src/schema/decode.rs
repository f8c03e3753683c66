//! JSON -> Go struct -> JSON round trips, as the API server performs them.
//!
//! [`decode`] mirrors `json.Unmarshal` into the Go type followed by `json.Marshal`: unknown
//! fields are dropped (and reported), `omitempty` fields disappear when empty, fields without
//! it appear with their zero value, map keys come out sorted. [`to_storage`] mirrors the
//! protobuf round trip through etcd, which turns empty slices and maps into nil.
//! [`check_unstructured`] validates an apply configuration without changing it.

use serde_json::{Map, Value};

use super::{Field, StructType, Type};
use crate::clock;

/// A value that does not fit the Go type.
#[derive(Debug, thiserror::Error)]
#[error("json: cannot unmarshal {found} into Go struct field {owner}.{path} of type {expected}")]
pub struct DecodeError {
    /// JSON kind found (`string`, `number`, ...).
    pub found: &'static str,
    /// Go struct owning the field.
    pub owner: String,
    /// Dotted JSON path of the field.
    pub path: String,
    /// Go type expected.
    pub expected: String,
}

/// An apply configuration that does not fit the schema.
#[derive(Debug, thiserror::Error)]
pub enum UnstructuredError {
    /// A field the type does not declare.
    #[error(".{0}: field not declared in schema")]
    UnknownField(String),
    /// A value of the wrong JSON kind.
    #[error(".{path}: expected {expected}, got {found}")]
    WrongKind {
        /// Dotted path.
        path: String,
        /// Expected kind.
        expected: &'static str,
        /// Found kind.
        found: &'static str,
    },
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Decodes `value` as the Go type `ty` and re-encodes it; unknown fields are appended to
/// `unknown` as dotted paths.
pub fn decode(ty: &Type, value: &Value, unknown: &mut Vec<String>) -> Result<Value, DecodeError> {
    let mut ctx = Ctx {
        unknown,
        owner: String::new(),
    };
    decode_value(ty, Some(value), "", &mut ctx)
}

/// The Go zero value of `ty`, encoded.
pub fn zero(ty: &Type) -> Value {
    let mut unknown = Vec::new();
    decode(ty, &Value::Object(Map::new()), &mut unknown).unwrap_or(Value::Null)
}

struct Ctx<'a> {
    unknown: &'a mut Vec<String>,
    owner: String,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn mismatch(ty: &Type, v: &Value, path: &str, ctx: &Ctx) -> DecodeError {
    DecodeError {
        found: json_kind(v),
        owner: ctx.owner.clone(),
        path: path.to_string(),
        expected: ty.go_name(),
    }
}

fn decode_value(
    ty: &Type,
    value: Option<&Value>,
    path: &str,
    ctx: &mut Ctx,
) -> Result<Value, DecodeError> {
    let v = match value {
        None | Some(Value::Null) => return Ok(zero_of(ty, path, ctx)),
        Some(v) => v,
    };
    match ty {
        Type::String => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::Int => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::Time => match v {
            Value::String(s) => clock::parse_timestamp(s)
                .map(|t| Value::String(clock::format_timestamp(t)))
                .ok_or_else(|| mismatch(ty, v, path, ctx)),
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::Bytes => match v {
            Value::String(s) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(|bytes| {
                        Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
                    })
                    .map_err(|_| mismatch(ty, v, path, ctx))
            }
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::Raw => Ok(v.clone()),
        Type::Struct(st) => match v {
            Value::Object(map) => decode_struct(st, map, path, ctx),
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::Map(elem) => match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    let child = decode_value(elem, map.get(key), &join(path, key), ctx)?;
                    out.insert(key.clone(), child);
                }
                Ok(Value::Object(out))
            }
            _ => Err(mismatch(ty, v, path, ctx)),
        },
        Type::List(elem, _) => match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(decode_value(elem, Some(item), path, ctx)?);
                }
                Ok(Value::Array(out))
            }
            _ => Err(mismatch(ty, v, path, ctx)),
        },
    }
}

fn zero_of(ty: &Type, path: &str, ctx: &mut Ctx) -> Value {
    match ty {
        Type::String => Value::String(String::new()),
        Type::Bool => Value::Bool(false),
        Type::Int => Value::from(0),
        Type::Struct(st) => decode_struct(st, &Map::new(), path, ctx).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn decode_struct(
    st: &StructType,
    map: &Map<String, Value>,
    path: &str,
    ctx: &mut Ctx,
) -> Result<Value, DecodeError> {
    let outer_owner = std::mem::replace(
        &mut ctx.owner,
        st.go_name.trim_start_matches("v1.").to_string(),
    );
    let mut out = Map::new();
    for field in st.fields {
        let child_path = join(path, field.name);
        let raw = map.get(field.name);
        let present = !matches!(raw, None | Some(Value::Null));
        let value = if present {
            Some(decode_value(field.ty, raw, &child_path, ctx)?)
        } else {
            None
        };
        if let Some(v) = encode_field(field, value, &child_path, ctx) {
            out.insert(field.name.to_string(), v);
        }
    }
    for key in map.keys() {
        if st.field(key).is_none() {
            ctx.unknown.push(join(path, key));
        }
    }
    ctx.owner = outer_owner;
    Ok(Value::Object(out))
}

/// What `json.Marshal` writes for a field holding `value` (`None` = Go zero / nil).
fn encode_field(field: &Field, value: Option<Value>, path: &str, ctx: &mut Ctx) -> Option<Value> {
    let always = matches!(field.ty, Type::Struct(_) | Type::Time) && !field.pointer;
    match value {
        None => {
            if field.omitempty && !always {
                None
            } else if field.pointer {
                Some(Value::Null)
            } else {
                Some(zero_of(field.ty, path, ctx))
            }
        }
        Some(v) => {
            if field.omitempty && !always && !field.pointer && is_go_empty(&v) {
                None
            } else {
                Some(v)
            }
        }
    }
}

fn is_go_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// The protobuf round trip through storage: empty slices and maps become nil.
pub fn to_storage(ty: &Type, value: &Value) -> Value {
    match (ty, value) {
        (Type::Struct(st), Value::Object(map)) => {
            let mut out = Map::new();
            for (key, v) in map {
                let Some(field) = st.field(key) else {
                    out.insert(key.clone(), v.clone());
                    continue;
                };
                let stored = to_storage(field.ty, v);
                let collection = matches!(field.ty, Type::List(..) | Type::Map(_));
                let empty = match &stored {
                    Value::Array(a) => a.is_empty(),
                    Value::Object(m) => m.is_empty(),
                    _ => false,
                };
                if collection && empty {
                    if !field.omitempty {
                        out.insert(key.clone(), Value::Null);
                    }
                } else {
                    out.insert(key.clone(), stored);
                }
            }
            Value::Object(out)
        }
        (Type::Map(elem), Value::Object(map)) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_storage(elem, v)))
                .collect(),
        ),
        (Type::List(elem, _), Value::Array(items)) => {
            Value::Array(items.iter().map(|v| to_storage(elem, v)).collect())
        }
        _ => value.clone(),
    }
}

/// Checks an unstructured object (an apply configuration) against the schema without
/// changing it: unknown fields and wrong JSON kinds are errors.
pub fn check_unstructured(ty: &Type, value: &Value, path: &str) -> Result<(), UnstructuredError> {
    let wrong = |expected: &'static str| UnstructuredError::WrongKind {
        path: path.to_string(),
        expected,
        found: json_kind(value),
    };
    if value.is_null() {
        return Ok(());
    }
    match ty {
        Type::String | Type::Time | Type::Bytes => value
            .is_string()
            .then_some(())
            .ok_or_else(|| wrong("string")),
        Type::Bool => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| wrong("boolean")),
        Type::Int => value
            .is_number()
            .then_some(())
            .ok_or_else(|| wrong("number")),
        Type::Raw => Ok(()),
        Type::Struct(st) => {
            let map = value.as_object().ok_or_else(|| wrong("map"))?;
            for (key, v) in map {
                let field = st
                    .field(key)
                    .ok_or_else(|| UnstructuredError::UnknownField(join(path, key)))?;
                check_unstructured(field.ty, v, &join(path, key))?;
            }
            Ok(())
        }
        Type::Map(elem) => {
            let map = value.as_object().ok_or_else(|| wrong("map"))?;
            for (key, v) in map {
                check_unstructured(elem, v, &join(path, key))?;
            }
            Ok(())
        }
        Type::List(elem, _) => {
            let items = value.as_array().ok_or_else(|| wrong("list"))?;
            for item in items {
                check_unstructured(elem, item, path)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::definitions::{ROLE, SERVICE_ACCOUNT, TOKEN_REQUEST};
    use serde_json::json;

    #[test]
    fn decode_orders_fields_and_drops_unknown_ones() {
        let mut unknown = Vec::new();
        let out = decode(
            &SERVICE_ACCOUNT,
            &json!({"automountServiceAccountToken": false, "bogus": 1,
                    "metadata": {"labels": {"b": "2", "a": "1"}, "name": "x"}}),
            &mut unknown,
        )
        .expect("decode");
        assert_eq!(
            serde_json::to_string(&out).expect("json"),
            r#"{"metadata":{"name":"x","creationTimestamp":null,"labels":{"a":"1","b":"2"}},"automountServiceAccountToken":false}"#
        );
        assert_eq!(unknown, vec!["bogus".to_string()]);
    }

    #[test]
    fn zero_token_request_matches_go() {
        assert_eq!(
            serde_json::to_string(&zero(&TOKEN_REQUEST)).expect("json"),
            r#"{"metadata":{"creationTimestamp":null},"spec":{"audiences":null,"boundObjectRef":null},"status":{"token":"","expirationTimestamp":null}}"#
        );
    }

    #[test]
    fn storage_turns_empty_rules_into_null() {
        let mut unknown = Vec::new();
        let decoded = decode(&ROLE, &json!({"rules": []}), &mut unknown).expect("decode");
        assert_eq!(decoded["rules"], json!([]));
        assert_eq!(to_storage(&ROLE, &decoded)["rules"], Value::Null);
    }

    #[test]
    fn type_mismatch_is_reported_like_go() {
        let mut unknown = Vec::new();
        let err = decode(
            &SERVICE_ACCOUNT,
            &json!({"automountServiceAccountToken": "yes"}),
            &mut unknown,
        )
        .expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal string into Go struct field ServiceAccount.automountServiceAccountToken of type bool"
        );
    }
}
