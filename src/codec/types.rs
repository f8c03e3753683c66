//! cty types and their JSON form (`"string"`, `["list","string"]`, `["object",{...}]`, ...).

use std::collections::BTreeMap;

/// A cty type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// `string`
    String,
    /// `number` (arbitrary precision)
    Number,
    /// `bool`
    Bool,
    /// `dynamic`: any type; values at this position carry their concrete type on the wire.
    Dynamic,
    /// `list(T)`
    List(Box<Type>),
    /// `set(T)`
    Set(Box<Type>),
    /// `map(T)`
    Map(Box<Type>),
    /// `object({...})`; attribute names are sorted, as cty sorts them.
    Object(BTreeMap<String, Type>),
    /// `tuple([...])`
    Tuple(Vec<Type>),
}

/// A type JSON document that is not a cty type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid type JSON: {0}")]
pub struct TypeError(pub String);

impl Type {
    /// `list(elem)`.
    pub fn list(elem: Type) -> Type {
        Type::List(Box::new(elem))
    }

    /// `set(elem)`.
    pub fn set(elem: Type) -> Type {
        Type::Set(Box::new(elem))
    }

    /// `map(elem)`.
    pub fn map(elem: Type) -> Type {
        Type::Map(Box::new(elem))
    }

    /// `object({...})` from `(name, type)` pairs.
    pub fn object<I, S>(attrs: I) -> Type
    where
        I: IntoIterator<Item = (S, Type)>,
        S: Into<String>,
    {
        Type::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The type's JSON form, as `Attribute.type` carries it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value as J, json};
        match self {
            Type::String => J::from("string"),
            Type::Number => J::from("number"),
            Type::Bool => J::from("bool"),
            Type::Dynamic => J::from("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let map: serde_json::Map<String, J> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", map])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// The type's JSON form as bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).expect("type JSON always serializes")
    }

    /// Parses a type from its JSON form. Optional-attribute markers (the third element of an
    /// object type) are accepted and ignored.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, TypeError> {
        use serde_json::Value as J;
        match json {
            J::String(s) => match s.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(TypeError(format!("unknown primitive type {other:?}"))),
            },
            J::Array(items) => {
                let kind = items
                    .first()
                    .and_then(J::as_str)
                    .ok_or_else(|| TypeError("type array must start with a kind".into()))?;
                let arg = items
                    .get(1)
                    .ok_or_else(|| TypeError(format!("{kind} type needs an argument")))?;
                match kind {
                    "list" | "set" | "map" if items.len() == 2 => {
                        let elem = Box::new(Type::from_json(arg)?);
                        Ok(match kind {
                            "list" => Type::List(elem),
                            "set" => Type::Set(elem),
                            _ => Type::Map(elem),
                        })
                    }
                    "object" if items.len() <= 3 => {
                        let attrs = arg
                            .as_object()
                            .ok_or_else(|| TypeError("object attributes must be a map".into()))?;
                        let attrs = attrs
                            .iter()
                            .map(|(k, v)| Ok((k.clone(), Type::from_json(v)?)))
                            .collect::<Result<_, TypeError>>()?;
                        Ok(Type::Object(attrs))
                    }
                    "tuple" if items.len() == 2 => {
                        let elems = arg
                            .as_array()
                            .ok_or_else(|| TypeError("tuple elements must be an array".into()))?;
                        Ok(Type::Tuple(
                            elems
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    other => Err(TypeError(format!(
                        "unknown type kind {other:?} with {} elements",
                        items.len()
                    ))),
                }
            }
            other => Err(TypeError(format!("unexpected JSON {other}"))),
        }
    }

    /// Parses a type from JSON bytes.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, TypeError> {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| TypeError(e.to_string()))?;
        Type::from_json(&json)
    }
}
