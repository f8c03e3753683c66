//! The JSON encoding of values, as Terraform stores state (`RawState.json` in
//! UpgradeResourceState and MoveResourceState).
//!
//! Objects and maps are JSON objects; lists, sets and tuples are arrays; a value at a `dynamic`
//! position is `{"value": ..., "type": ...}`. Numbers are JSON numbers, except numbers a float64
//! cannot hold exactly, which are written as decimal strings (cty reads numbers from strings
//! too). An object attribute missing from stored state decodes as null: state written by an
//! older schema may lack newer attributes. Unknown values have no JSON form.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::msgpack::{inferred_type, is_decimal, type_name, value_kind};
use super::path::{AttributePath, PathStep};
use super::types::{Type, TypeError};
use super::value::{Number, Value};

/// Why a JSON value could not be decoded, and where.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{kind}{}", if path.steps().is_empty() { String::new() } else { format!(" at {path}") })]
pub struct JsonError {
    /// Where in the value the failure is (empty for the root).
    pub path: AttributePath,
    /// What went wrong.
    #[source]
    pub kind: JsonErrorKind,
}

/// What went wrong converting between JSON and a value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonErrorKind {
    /// The JSON (or value) does not fit the type.
    #[error("expected {expected}, found {found}")]
    Mismatch {
        /// The type at this position.
        expected: String,
        /// What was there.
        found: String,
    },
    /// A number that is not a valid cty number.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// An object attribute the type does not have.
    #[error("unsupported attribute {0:?}")]
    ExtraAttribute(String),
    /// A tuple with the wrong number of elements.
    #[error("tuple needs {expected} elements, found {found}")]
    TupleLength {
        /// The tuple type's length.
        expected: usize,
        /// The array's length.
        found: usize,
    },
    /// A dynamic value that is not `{"value": ..., "type": ...}`.
    #[error("dynamic value must be an object with exactly \"value\" and \"type\"")]
    DynamicShape,
    /// A dynamic value whose type is not a cty type.
    #[error("invalid type in dynamic value")]
    DynamicType(#[source] TypeError),
    /// An unknown value, which JSON cannot hold.
    #[error("unknown values cannot be written as JSON")]
    Unknown,
    /// A known value at a `dynamic` position whose type cannot be inferred.
    #[error("a {0} at a dynamic position needs its type (Value::Dynamic)")]
    UntypedDynamic(&'static str),
}

/// Decodes a JSON value of type `ty`.
pub fn decode(json: &J, ty: &Type) -> Result<Value, JsonError> {
    Walker::default().decode(json, ty)
}

/// Encodes a wholly known `value` of type `ty` as JSON.
pub fn encode(value: &Value, ty: &Type) -> Result<J, JsonError> {
    Walker::default().encode(value, ty)
}

#[derive(Default)]
struct Walker {
    path: Vec<PathStep>,
}

fn json_kind(json: &J) -> &'static str {
    match json {
        J::Null => "null",
        J::Bool(_) => "bool",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

impl Walker {
    fn error(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            path: AttributePath(self.path.clone()),
            kind,
        }
    }

    fn mismatch(&self, ty: &Type, found: &str) -> JsonError {
        self.error(JsonErrorKind::Mismatch {
            expected: type_name(ty),
            found: found.to_string(),
        })
    }

    fn nested<T>(
        &mut self,
        step: PathStep,
        f: impl FnOnce(&mut Self) -> Result<T, JsonError>,
    ) -> Result<T, JsonError> {
        self.path.push(step);
        let result = f(self)?;
        self.path.pop();
        Ok(result)
    }

    fn decode(&mut self, json: &J, ty: &Type) -> Result<Value, JsonError> {
        match (json, ty) {
            (J::Null, _) => Ok(Value::Null),
            (J::String(s), Type::String) => Ok(Value::String(s.clone())),
            // cty converts JSON numbers and bools found at a string position.
            (J::Number(n), Type::String) => Ok(Value::String(n.to_string())),
            (J::Bool(b), Type::String) => Ok(Value::String(b.to_string())),
            (J::Number(n), Type::Number) => Ok(Value::Number(self.number(n)?)),
            (J::String(s), Type::Number) if is_decimal(s) => {
                Ok(Value::Number(Number::Decimal(s.clone())))
            }
            (J::String(s), Type::Number) => {
                Err(self.error(JsonErrorKind::InvalidNumber(s.clone())))
            }
            (J::Bool(b), Type::Bool) => Ok(Value::Bool(*b)),
            (J::String(s), Type::Bool) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (J::Array(items), Type::List(elem)) => Ok(Value::List(self.elements(items, elem)?)),
            (J::Array(items), Type::Set(elem)) => Ok(Value::Set(self.elements(items, elem)?)),
            (J::Array(items), Type::Tuple(types)) => {
                if items.len() != types.len() {
                    return Err(self.error(JsonErrorKind::TupleLength {
                        expected: types.len(),
                        found: items.len(),
                    }));
                }
                let elements = items
                    .iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (item, ty))| {
                        self.nested(PathStep::Index(i as i64), |w| w.decode(item, ty))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Value::Tuple(elements))
            }
            (J::Object(entries), Type::Map(elem)) => {
                let entries = entries
                    .iter()
                    .map(|(key, item)| {
                        let value =
                            self.nested(PathStep::Key(key.clone()), |w| w.decode(item, elem))?;
                        Ok((key.clone(), value))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Value::Map(entries))
            }
            (J::Object(entries), Type::Object(attrs)) => {
                if let Some(extra) = entries.keys().find(|name| !attrs.contains_key(*name)) {
                    return Err(self.error(JsonErrorKind::ExtraAttribute(extra.clone())));
                }
                let values = attrs
                    .iter()
                    .map(|(name, attr_ty)| {
                        let item = entries.get(name).unwrap_or(&J::Null);
                        let value = self.nested(PathStep::Attribute(name.clone()), |w| {
                            w.decode(item, attr_ty)
                        })?;
                        Ok((name.clone(), value))
                    })
                    .collect::<Result<BTreeMap<_, _>, _>>()?;
                Ok(Value::Object(values))
            }
            (J::Object(wrapper), Type::Dynamic) => {
                let (Some(value), Some(type_json), 2) =
                    (wrapper.get("value"), wrapper.get("type"), wrapper.len())
                else {
                    return Err(self.error(JsonErrorKind::DynamicShape));
                };
                let concrete = Type::from_json(type_json)
                    .map_err(|e| self.error(JsonErrorKind::DynamicType(e)))?;
                let value = self.decode(value, &concrete)?;
                Ok(Value::Dynamic(concrete, Box::new(value)))
            }
            (json, ty) => Err(self.mismatch(ty, json_kind(json))),
        }
    }

    fn elements(&mut self, items: &[J], elem: &Type) -> Result<Vec<Value>, JsonError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.nested(PathStep::Index(i as i64), |w| w.decode(item, elem)))
            .collect()
    }

    fn number(&self, n: &serde_json::Number) -> Result<Number, JsonError> {
        if let Some(i) = n.as_i64() {
            Ok(Number::Int(i))
        } else if let Some(u) = n.as_u64() {
            Ok(Number::UInt(u))
        } else {
            n.as_f64()
                .map(Number::Float)
                .ok_or_else(|| self.error(JsonErrorKind::InvalidNumber(n.to_string())))
        }
    }

    fn encode(&mut self, value: &Value, ty: &Type) -> Result<J, JsonError> {
        Ok(match (value, ty) {
            (Value::Null, _) => J::Null,
            (Value::Unknown, _) => return Err(self.error(JsonErrorKind::Unknown)),
            (Value::Dynamic(concrete, inner), Type::Dynamic) => {
                let mut wrapper = serde_json::Map::new();
                wrapper.insert("value".into(), self.encode(inner, concrete)?);
                wrapper.insert("type".into(), concrete.to_json());
                J::Object(wrapper)
            }
            (Value::Dynamic(concrete, inner), _) if concrete == ty => self.encode(inner, ty)?,
            (_, Type::Dynamic) => {
                let concrete = inferred_type(value)
                    .ok_or_else(|| self.error(JsonErrorKind::UntypedDynamic(value_kind(value))))?;
                self.encode(&Value::Dynamic(concrete, Box::new(value.clone())), ty)?
            }
            (Value::String(s), Type::String) => J::String(s.clone()),
            (Value::Number(n), Type::Number) => number_json(n),
            (Value::Bool(b), Type::Bool) => J::Bool(*b),
            // The type decides the encoding: any sequence fits a list, set or tuple type, and a
            // map or an object fits a map or object type.
            (
                Value::List(elements) | Value::Set(elements) | Value::Tuple(elements),
                Type::List(elem) | Type::Set(elem),
            ) => J::Array(
                elements
                    .iter()
                    .enumerate()
                    .map(|(i, e)| self.nested(PathStep::Index(i as i64), |w| w.encode(e, elem)))
                    .collect::<Result<_, _>>()?,
            ),
            (
                Value::List(elements) | Value::Set(elements) | Value::Tuple(elements),
                Type::Tuple(types),
            ) => {
                if elements.len() != types.len() {
                    return Err(self.error(JsonErrorKind::TupleLength {
                        expected: types.len(),
                        found: elements.len(),
                    }));
                }
                J::Array(
                    elements
                        .iter()
                        .zip(types)
                        .enumerate()
                        .map(|(i, (e, ty))| {
                            self.nested(PathStep::Index(i as i64), |w| w.encode(e, ty))
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            (Value::Map(entries) | Value::Object(entries), Type::Map(elem)) => J::Object(
                entries
                    .iter()
                    .map(|(k, e)| {
                        let json = self.nested(PathStep::Key(k.clone()), |w| w.encode(e, elem))?;
                        Ok((k.clone(), json))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (Value::Object(values) | Value::Map(values), Type::Object(attrs)) => {
                if let Some(extra) = values.keys().find(|name| !attrs.contains_key(*name)) {
                    return Err(self.error(JsonErrorKind::ExtraAttribute(extra.clone())));
                }
                J::Object(
                    attrs
                        .iter()
                        .map(|(name, attr_ty)| {
                            let value = values.get(name).unwrap_or(&Value::Null);
                            let json = self.nested(PathStep::Attribute(name.clone()), |w| {
                                w.encode(value, attr_ty)
                            })?;
                            Ok((name.clone(), json))
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            (value, ty) => return Err(self.mismatch(ty, value_kind(value))),
        })
    }
}

/// A number as JSON: a JSON number when float64 (or i64/u64) holds it exactly, otherwise its
/// decimal string.
fn number_json(n: &Number) -> J {
    match n {
        Number::Int(i) => J::from(*i),
        Number::UInt(u) => J::from(*u),
        Number::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| J::String(n.canonical()), J::Number)
        }
        Number::Decimal(s) => {
            if let Ok(i) = s.parse::<i64>() {
                return J::from(i);
            }
            if let Ok(u) = s.parse::<u64>() {
                return J::from(u);
            }
            // Only when float64 holds exactly this text; anything else stays a string.
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() && f.to_string() == *s => {
                    serde_json::Number::from_f64(f).map_or_else(|| J::String(s.clone()), J::Number)
                }
                _ => J::String(s.clone()),
            }
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
