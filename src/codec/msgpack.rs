//! The msgpack `DynamicValue` encoding Terraform uses on every RPC, driven by the [`Type`].
//!
//! - null is `nil`; unknown is any extension (written as fixext1 type 0: `d4 00 00`);
//! - numbers are msgpack ints, floats or decimal strings;
//! - lists, sets and tuples are arrays; maps and objects are string-keyed maps (object keys
//!   written in sorted order, every attribute present);
//! - a known value at a `dynamic` position is `[typeJSON, value]`.
//!
//! Decoding treats its input as untrusted: it never panics, never preallocates from a length
//! prefix, bounds nesting depth, and reports the attribute path where it failed.

use std::collections::BTreeMap;
use std::fmt;

use rmp::Marker;

use super::path::{AttributePath, PathStep};
use super::types::{Type, TypeError};
use super::value::{Number, Value};

/// How deeply values may nest (each collection, object, tuple or dynamic wrapper is a level).
/// cty types bound the depth of a value; only `dynamic` can carry types nested beyond that.
pub const MAX_DEPTH: usize = 64;

/// Why decoding failed, and where.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{kind}{}", at(&self.path))]
pub struct DecodeError {
    /// Where in the value decoding failed (empty for the root).
    pub path: AttributePath,
    /// What went wrong.
    #[source]
    pub kind: DecodeErrorKind,
}

/// What went wrong while decoding.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeErrorKind {
    /// The input ended in the middle of a value.
    #[error("unexpected end of input")]
    Truncated,
    /// A msgpack value of the wrong kind for the type.
    #[error("expected {expected}, found msgpack {found}")]
    Unexpected {
        /// The type expected here.
        expected: String,
        /// The msgpack marker found.
        found: String,
    },
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A number that is not a valid cty number.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("value nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Bytes after the value.
    #[error("{0} unexpected bytes after the value")]
    TrailingBytes(usize),
    /// An object without one of its type's attributes.
    #[error("missing attribute {0:?}")]
    MissingAttribute(String),
    /// An object attribute the type does not have.
    #[error("unsupported attribute {0:?}")]
    ExtraAttribute(String),
    /// The same map key or attribute twice.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    /// A tuple with the wrong number of elements.
    #[error("tuple needs {expected} elements, found {found}")]
    TupleLength {
        /// The tuple type's length.
        expected: usize,
        /// The array's length.
        found: usize,
    },
    /// A dynamic value whose array is not `[type, value]`.
    #[error("dynamic value must be a [type, value] array of 2 elements, found {0} elements")]
    DynamicShape(usize),
    /// A dynamic value whose type JSON is not a cty type.
    #[error("invalid type in dynamic value")]
    DynamicType(#[source] TypeError),
}

/// Why encoding failed, and where.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{kind}{}", at(&self.path))]
pub struct EncodeError {
    /// Where in the value encoding failed (empty for the root).
    pub path: AttributePath,
    /// What went wrong.
    #[source]
    pub kind: EncodeErrorKind,
}

/// What went wrong while encoding.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeErrorKind {
    /// The value does not conform to the type.
    #[error("value {found} does not conform to type {expected}")]
    Mismatch {
        /// The type at this position.
        expected: String,
        /// What kind of value was there.
        found: &'static str,
    },
    /// An object value with an attribute its type does not have.
    #[error("unsupported attribute {0:?}")]
    ExtraAttribute(String),
    /// A tuple value with the wrong number of elements.
    #[error("tuple needs {expected} elements, found {found}")]
    TupleLength {
        /// The tuple type's length.
        expected: usize,
        /// The value's length.
        found: usize,
    },
    /// A known value at a `dynamic` position whose type cannot be inferred.
    #[error("a {0} at a dynamic position needs its type (Value::Dynamic)")]
    UntypedDynamic(&'static str),
    /// A collection longer than msgpack can express.
    #[error("collection of {0} elements is too long for msgpack")]
    TooLong(usize),
}

fn at(path: &AttributePath) -> String {
    if path.steps().is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

/// Decodes a msgpack value of type `ty`. The whole input must be one value.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let mut decoder = Decoder {
        input: bytes,
        pos: 0,
        path: Vec::new(),
    };
    let value = decoder.value(ty, 0)?;
    let rest = bytes.len() - decoder.pos;
    if rest > 0 {
        return Err(decoder.error(DecodeErrorKind::TrailingBytes(rest)));
    }
    Ok(value)
}

/// Encodes `value` as msgpack of type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut encoder = Encoder {
        out: Vec::new(),
        path: Vec::new(),
    };
    encoder.value(value, ty)?;
    Ok(encoder.out)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    path: Vec<PathStep>,
}

/// A human name for a msgpack marker, for error messages.
struct MarkerName(Marker);

impl fmt::Display for MarkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Marker::Null => "nil",
            Marker::True | Marker::False => "bool",
            Marker::FixPos(_)
            | Marker::FixNeg(_)
            | Marker::U8
            | Marker::U16
            | Marker::U32
            | Marker::U64
            | Marker::I8
            | Marker::I16
            | Marker::I32
            | Marker::I64 => "int",
            Marker::F32 | Marker::F64 => "float",
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "str",
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "bin",
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "array",
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "map",
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => "extension",
            Marker::Reserved => "reserved byte 0xc1",
        };
        f.write_str(name)
    }
}

impl<'a> Decoder<'a> {
    fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            path: AttributePath(self.path.clone()),
            kind,
        }
    }

    fn unexpected(&self, ty: &Type, marker: Marker) -> DecodeError {
        self.error(DecodeErrorKind::Unexpected {
            expected: type_name(ty),
            found: MarkerName(marker).to_string(),
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.input.len());
        match end {
            Some(end) => {
                let bytes = &self.input[self.pos..end];
                self.pos = end;
                Ok(bytes)
            }
            None => Err(self.error(DecodeErrorKind::Truncated)),
        }
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take_array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take_array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.take_array()?))
    }

    fn marker(&mut self) -> Result<Marker, DecodeError> {
        Ok(Marker::from_u8(self.u8()?))
    }

    /// The length that follows a str/bin/array/map/ext marker of the given width.
    fn length(&mut self, width: u8) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => usize::from(self.u8()?),
            2 => usize::from(self.u16()?),
            _ => self.u32()? as usize,
        })
    }

    /// Skips an extension's type byte and payload.
    fn skip_extension(&mut self, marker: Marker) -> Result<(), DecodeError> {
        let len = match marker {
            Marker::FixExt1 => 1,
            Marker::FixExt2 => 2,
            Marker::FixExt4 => 4,
            Marker::FixExt8 => 8,
            Marker::FixExt16 => 16,
            Marker::Ext8 => self.length(1)?,
            Marker::Ext16 => self.length(2)?,
            _ => self.length(4)?,
        };
        self.take(1)?;
        self.take(len)?;
        Ok(())
    }

    /// The bytes of a str or bin value whose marker was already read, or `None` for any other
    /// marker.
    fn raw_bytes(&mut self, marker: Marker) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = match marker {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 | Marker::Bin8 => self.length(1)?,
            Marker::Str16 | Marker::Bin16 => self.length(2)?,
            Marker::Str32 | Marker::Bin32 => self.length(4)?,
            _ => return Ok(None),
        };
        self.take(len).map(Some)
    }

    fn string(&mut self, marker: Marker, ty: &Type) -> Result<String, DecodeError> {
        let bytes = self
            .raw_bytes(marker)?
            .ok_or_else(|| self.unexpected(ty, marker))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.error(DecodeErrorKind::InvalidUtf8))
    }

    fn array_len(&mut self, marker: Marker) -> Result<Option<usize>, DecodeError> {
        Ok(match marker {
            Marker::FixArray(n) => Some(usize::from(n)),
            Marker::Array16 => Some(self.length(2)?),
            Marker::Array32 => Some(self.length(4)?),
            _ => None,
        })
    }

    fn map_len(&mut self, marker: Marker) -> Result<Option<usize>, DecodeError> {
        Ok(match marker {
            Marker::FixMap(n) => Some(usize::from(n)),
            Marker::Map16 => Some(self.length(2)?),
            Marker::Map32 => Some(self.length(4)?),
            _ => None,
        })
    }

    /// A capacity that an untrusted length cannot inflate: every element takes at least one
    /// byte of the remaining input.
    fn capacity(&self, len: usize) -> usize {
        len.min(self.input.len() - self.pos)
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, DecodeError> {
        let marker = self.marker()?;
        match marker {
            Marker::Null => return Ok(Value::Null),
            Marker::FixExt1
            | Marker::FixExt2
            | Marker::FixExt4
            | Marker::FixExt8
            | Marker::FixExt16
            | Marker::Ext8
            | Marker::Ext16
            | Marker::Ext32 => {
                self.skip_extension(marker)?;
                return Ok(Value::Unknown);
            }
            _ => {}
        }
        match ty {
            Type::String => self.string(marker, ty).map(Value::String),
            Type::Number => self.number(marker).map(Value::Number),
            Type::Bool => match marker {
                Marker::True => Ok(Value::Bool(true)),
                Marker::False => Ok(Value::Bool(false)),
                _ => Err(self.unexpected(ty, marker)),
            },
            _ if depth >= MAX_DEPTH => Err(self.error(DecodeErrorKind::TooDeep)),
            Type::List(elem) | Type::Set(elem) => {
                let len = self
                    .array_len(marker)?
                    .ok_or_else(|| self.unexpected(ty, marker))?;
                let mut elements = Vec::with_capacity(self.capacity(len));
                for i in 0..len {
                    self.path.push(PathStep::Index(i as i64));
                    elements.push(self.value(elem, depth + 1)?);
                    self.path.pop();
                }
                Ok(if matches!(ty, Type::List(_)) {
                    Value::List(elements)
                } else {
                    Value::Set(elements)
                })
            }
            Type::Tuple(types) => {
                let len = self
                    .array_len(marker)?
                    .ok_or_else(|| self.unexpected(ty, marker))?;
                if len != types.len() {
                    return Err(self.error(DecodeErrorKind::TupleLength {
                        expected: types.len(),
                        found: len,
                    }));
                }
                let mut elements = Vec::with_capacity(len);
                for (i, elem) in types.iter().enumerate() {
                    self.path.push(PathStep::Index(i as i64));
                    elements.push(self.value(elem, depth + 1)?);
                    self.path.pop();
                }
                Ok(Value::Tuple(elements))
            }
            Type::Map(elem) => {
                let len = self
                    .map_len(marker)?
                    .ok_or_else(|| self.unexpected(ty, marker))?;
                let mut entries = BTreeMap::new();
                for _ in 0..len {
                    let key = self.key()?;
                    if entries.contains_key(&key) {
                        return Err(self.error(DecodeErrorKind::DuplicateKey(key)));
                    }
                    self.path.push(PathStep::Key(key.clone()));
                    let value = self.value(elem, depth + 1)?;
                    self.path.pop();
                    entries.insert(key, value);
                }
                Ok(Value::Map(entries))
            }
            Type::Object(attrs) => {
                let len = self
                    .map_len(marker)?
                    .ok_or_else(|| self.unexpected(ty, marker))?;
                let mut values = BTreeMap::new();
                for _ in 0..len {
                    let key = self.key()?;
                    let Some(attr_ty) = attrs.get(&key) else {
                        return Err(self.error(DecodeErrorKind::ExtraAttribute(key)));
                    };
                    if values.contains_key(&key) {
                        return Err(self.error(DecodeErrorKind::DuplicateKey(key)));
                    }
                    self.path.push(PathStep::Attribute(key.clone()));
                    let value = self.value(attr_ty, depth + 1)?;
                    self.path.pop();
                    values.insert(key, value);
                }
                if let Some(missing) = attrs.keys().find(|name| !values.contains_key(*name)) {
                    return Err(self.error(DecodeErrorKind::MissingAttribute(missing.clone())));
                }
                Ok(Value::Object(values))
            }
            Type::Dynamic => {
                let len = self
                    .array_len(marker)?
                    .ok_or_else(|| self.unexpected(ty, marker))?;
                if len != 2 {
                    return Err(self.error(DecodeErrorKind::DynamicShape(len)));
                }
                let type_marker = self.marker()?;
                let type_json = self
                    .raw_bytes(type_marker)?
                    .ok_or_else(|| self.unexpected(&Type::String, type_marker))?;
                let concrete = Type::from_json_bytes(type_json)
                    .map_err(|e| self.error(DecodeErrorKind::DynamicType(e)))?;
                let value = self.value(&concrete, depth + 1)?;
                Ok(Value::Dynamic(concrete, Box::new(value)))
            }
        }
    }

    fn key(&mut self) -> Result<String, DecodeError> {
        let marker = self.marker()?;
        self.string(marker, &Type::String)
    }

    fn number(&mut self, marker: Marker) -> Result<Number, DecodeError> {
        Ok(match marker {
            Marker::FixPos(n) => Number::Int(i64::from(n)),
            Marker::FixNeg(n) => Number::Int(i64::from(n)),
            Marker::U8 => Number::Int(i64::from(self.u8()?)),
            Marker::U16 => Number::Int(i64::from(self.u16()?)),
            Marker::U32 => Number::Int(i64::from(self.u32()?)),
            Marker::U64 => {
                let n = self.u64()?;
                i64::try_from(n).map_or(Number::UInt(n), Number::Int)
            }
            Marker::I8 => Number::Int(i64::from(i8::from_be_bytes(self.take_array()?))),
            Marker::I16 => Number::Int(i64::from(i16::from_be_bytes(self.take_array()?))),
            Marker::I32 => Number::Int(i64::from(i32::from_be_bytes(self.take_array()?))),
            Marker::I64 => Number::Int(i64::from_be_bytes(self.take_array()?)),
            Marker::F32 => {
                let f = f32::from_be_bytes(self.take_array()?);
                self.float(f64::from(f))?
            }
            Marker::F64 => {
                let f = f64::from_be_bytes(self.take_array()?);
                self.float(f)?
            }
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                let text = self.string(marker, &Type::Number)?;
                if !is_decimal(&text) {
                    return Err(self.error(DecodeErrorKind::InvalidNumber(text)));
                }
                Number::Decimal(text)
            }
            _ => return Err(self.unexpected(&Type::Number, marker)),
        })
    }

    fn float(&self, f: f64) -> Result<Number, DecodeError> {
        if f.is_nan() {
            return Err(self.error(DecodeErrorKind::InvalidNumber("NaN".into())));
        }
        Ok(Number::Float(f))
    }
}

/// Whether `text` is a decimal number: `-?digits(.digits)?([eE][+-]?digits)?`.
pub(crate) fn is_decimal(text: &str) -> bool {
    fn digits(s: &str) -> (usize, &str) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (n, &s[n..])
    }
    let rest = text.strip_prefix('-').unwrap_or(text);
    let (n, mut rest) = digits(rest);
    if n == 0 {
        return false;
    }
    if let Some(fraction) = rest.strip_prefix('.') {
        let (n, after) = digits(fraction);
        if n == 0 {
            return false;
        }
        rest = after;
    }
    if let Some(exponent) = rest.strip_prefix(['e', 'E']) {
        let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        let (n, after) = digits(exponent);
        if n == 0 {
            return false;
        }
        rest = after;
    }
    rest.is_empty()
}

/// A short rendering of a type for error messages (its JSON form).
pub(crate) fn type_name(ty: &Type) -> String {
    ty.to_json().to_string()
}

/// What kind of value this is, for error messages.
pub(crate) fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
        Value::Dynamic(..) => "dynamic",
    }
}

/// The type of a primitive value at a dynamic position that did not say its type.
pub(crate) fn inferred_type(value: &Value) -> Option<Type> {
    match value {
        Value::String(_) => Some(Type::String),
        Value::Number(_) => Some(Type::Number),
        Value::Bool(_) => Some(Type::Bool),
        _ => None,
    }
}

struct Encoder {
    out: Vec<u8>,
    path: Vec<PathStep>,
}

/// Unknown: fixext1 with extension type 0 and a zero byte, as cty writes it.
const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

impl Encoder {
    fn error(&self, kind: EncodeErrorKind) -> EncodeError {
        EncodeError {
            path: AttributePath(self.path.clone()),
            kind,
        }
    }

    fn mismatch(&self, ty: &Type, value: &Value) -> EncodeError {
        self.error(EncodeErrorKind::Mismatch {
            expected: type_name(ty),
            found: value_kind(value),
        })
    }

    fn len(&self, len: usize) -> Result<u32, EncodeError> {
        u32::try_from(len).map_err(|_| self.error(EncodeErrorKind::TooLong(len)))
    }

    // Writes to a Vec cannot fail: the `Result`s below are discarded on purpose.
    fn array_len(&mut self, len: usize) -> Result<(), EncodeError> {
        let len = self.len(len)?;
        let _ = rmp::encode::write_array_len(&mut self.out, len);
        Ok(())
    }

    fn map_len(&mut self, len: usize) -> Result<(), EncodeError> {
        let len = self.len(len)?;
        let _ = rmp::encode::write_map_len(&mut self.out, len);
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        self.len(s.len())?;
        let _ = rmp::encode::write_str(&mut self.out, s);
        Ok(())
    }

    fn number(&mut self, n: &Number) -> Result<(), EncodeError> {
        match n {
            Number::Int(i) => {
                let _ = rmp::encode::write_sint(&mut self.out, *i);
            }
            Number::UInt(u) => {
                let _ = rmp::encode::write_uint(&mut self.out, *u);
            }
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                let _ = rmp::encode::write_sint(&mut self.out, *f as i64);
            }
            Number::Float(f) => {
                let _ = rmp::encode::write_f64(&mut self.out, *f);
            }
            Number::Decimal(s) => self.str(s)?,
        }
        Ok(())
    }

    fn elements(&mut self, elements: &[Value], types: &[&Type]) -> Result<(), EncodeError> {
        self.array_len(elements.len())?;
        for (i, (element, ty)) in elements.iter().zip(types).enumerate() {
            self.path.push(PathStep::Index(i as i64));
            self.value(element, ty)?;
            self.path.pop();
        }
        Ok(())
    }

    fn value(&mut self, value: &Value, ty: &Type) -> Result<(), EncodeError> {
        match (value, ty) {
            (Value::Null, _) => {
                let _ = rmp::encode::write_nil(&mut self.out);
            }
            (Value::Unknown, _) => self.out.extend_from_slice(&UNKNOWN),
            (Value::Dynamic(concrete, inner), Type::Dynamic) => {
                self.array_len(2)?;
                let _ = rmp::encode::write_bin(&mut self.out, &concrete.to_json_bytes());
                self.value(inner, concrete)?;
            }
            (Value::Dynamic(concrete, inner), _) if concrete == ty => self.value(inner, ty)?,
            (_, Type::Dynamic) => {
                let concrete = inferred_type(value).ok_or_else(|| {
                    self.error(EncodeErrorKind::UntypedDynamic(value_kind(value)))
                })?;
                self.value(&Value::Dynamic(concrete, Box::new(value.clone())), ty)?;
            }
            (Value::String(s), Type::String) => self.str(s)?,
            (Value::Number(n), Type::Number) => self.number(n)?,
            (Value::Bool(b), Type::Bool) => {
                let _ = rmp::encode::write_bool(&mut self.out, *b);
            }
            // The type decides the encoding: any sequence fits a list, set or tuple type, and a
            // map or an object fits a map or object type.
            (
                Value::List(elements) | Value::Set(elements) | Value::Tuple(elements),
                Type::List(elem) | Type::Set(elem),
            ) => {
                let types = vec![&**elem; elements.len()];
                self.elements(elements, &types)?;
            }
            (
                Value::List(elements) | Value::Set(elements) | Value::Tuple(elements),
                Type::Tuple(types),
            ) => {
                if elements.len() != types.len() {
                    return Err(self.error(EncodeErrorKind::TupleLength {
                        expected: types.len(),
                        found: elements.len(),
                    }));
                }
                let types: Vec<&Type> = types.iter().collect();
                self.elements(elements, &types)?;
            }
            (Value::Map(entries) | Value::Object(entries), Type::Map(elem)) => {
                self.map_len(entries.len())?;
                for (key, entry) in entries {
                    self.str(key)?;
                    self.path.push(PathStep::Key(key.clone()));
                    self.value(entry, elem)?;
                    self.path.pop();
                }
            }
            (Value::Object(values) | Value::Map(values), Type::Object(attrs)) => {
                if let Some(extra) = values.keys().find(|name| !attrs.contains_key(*name)) {
                    return Err(self.error(EncodeErrorKind::ExtraAttribute(extra.clone())));
                }
                self.map_len(attrs.len())?;
                for (name, attr_ty) in attrs {
                    self.str(name)?;
                    self.path.push(PathStep::Attribute(name.clone()));
                    self.value(values.get(name).unwrap_or(&Value::Null), attr_ty)?;
                    self.path.pop();
                }
            }
            _ => return Err(self.mismatch(ty, value)),
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;

/// proptest strategies for random types and conforming values, shared by the codec tests.
#[cfg(test)]
#[path = "test_strategies.rs"]
pub(crate) mod test_strategies;
