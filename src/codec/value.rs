//! cty values: known, null or unknown, at any depth.

use std::collections::BTreeMap;

use super::types::Type;

/// A cty number. Terraform numbers are arbitrary precision; on the wire they arrive as msgpack
/// integers, float64 or decimal strings, and all three forms are kept without loss.
#[derive(Clone, Debug)]
pub enum Number {
    /// A whole number that fits in `i64`.
    Int(i64),
    /// A whole number above `i64::MAX` that fits in `u64`.
    UInt(u64),
    /// A float64.
    Float(f64),
    /// Any other number, as its decimal string (e.g. `"1e400"`, `"0.1000000000000000000001"`).
    Decimal(String),
}

impl Number {
    /// The number as `i64`, when it is whole and fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::UInt(u) => i64::try_from(*u).ok(),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Decimal(s) => s.parse().ok(),
        }
    }

    /// The number as `f64` (lossy for very large or very precise numbers).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::UInt(u) => Some(*u as f64),
            Number::Float(f) => Some(*f),
            Number::Decimal(s) => s.parse().ok(),
        }
    }

    /// A canonical decimal string, used to compare numbers given in different forms. Exact: two
    /// numbers have the same canonical string only when they are the same number (whole numbers
    /// render as integers, others as plain decimals, very large or small ones in `e` notation).
    pub fn canonical(&self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::UInt(u) => u.to_string(),
            Number::Float(f) if !f.is_finite() => format!("{f}"),
            Number::Float(f) if f.fract() == 0.0 => whole_float(*f),
            // A fraction compares by the shortest text that reads back as exactly this float
            // (`{:e}`), so that 0.1 given as a float equals 0.1 given as a decimal.
            Number::Float(f) => {
                canonical_decimal(&format!("{f:e}")).unwrap_or_else(|| format!("{f}"))
            }
            Number::Decimal(s) => canonical_decimal(s).unwrap_or_else(|| s.clone()),
        }
    }
}

/// The exact integer value of a whole, finite float, in decimal.
fn whole_float(f: f64) -> String {
    if f.abs() < 1e38 {
        // i128 holds every whole float below 2^127 exactly.
        return (f as i128).to_string();
    }
    // mantissa x 2^exponent, doubled digit by digit (little-endian decimal digits).
    let bits = f.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    let mut digits: Vec<u8> = mantissa
        .to_string()
        .bytes()
        .rev()
        .map(|b| b - b'0')
        .collect();
    for _ in 0..exponent {
        let mut carry = 0;
        for digit in &mut digits {
            let doubled = *digit * 2 + carry;
            *digit = doubled % 10;
            carry = doubled / 10;
        }
        if carry > 0 {
            digits.push(carry);
        }
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let text: String = digits.iter().rev().map(|d| char::from(b'0' + d)).collect();
    canonical_decimal(&format!("{sign}{text}")).unwrap_or(text)
}

/// The canonical rendering of a decimal `-?digits(.digits)?([eE][+-]?digits)?`, or `None` when
/// `text` is not one.
fn canonical_decimal(text: &str) -> Option<String> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    if mantissa.contains('.') && frac_part.is_empty() {
        return None;
    }
    // value = 0.DIGITS x 10^point
    let digits = format!("{int_part}{frac_part}");
    let leading = digits.bytes().take_while(|&b| b == b'0').count();
    let digits = digits[leading..].trim_end_matches('0');
    if digits.is_empty() {
        return Some("0".to_string());
    }
    let point = i64::try_from(int_part.len())
        .ok()?
        .checked_add(exponent)?
        .checked_sub(i64::try_from(leading).ok()?)?;
    let len = digits.len() as i64;
    let body = if !(-20..=40).contains(&point) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{}", point - 1)
    } else if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= len {
        format!("{digits}{}", "0".repeat((point - len) as usize))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    Some(if negative { format!("-{body}") } else { body })
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.canonical() == other.canonical()
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number::Int(i)
    }
}

/// A cty value. Collections and objects hold values that may themselves be null or unknown.
///
/// Values are untyped data: the schema's [`Type`] drives encoding. The one exception is
/// [`Value::Dynamic`], which a value at a `dynamic` position uses to carry its concrete type.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// Null (of whatever type the position has).
    #[default]
    Null,
    /// Not known until apply.
    Unknown,
    /// A bool.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// A list: ordered elements.
    List(Vec<Value>),
    /// A set: elements in no meaningful order (compared as sets by [`Value::semantically_equal`]).
    Set(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
    /// An object: one entry per attribute of its type.
    Object(BTreeMap<String, Value>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A known value at a `dynamic` position, with its concrete type.
    Dynamic(Type, Box<Value>),
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A whole-number value.
    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    /// A string value, or null for `None`.
    pub fn opt_string(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }

    /// An object from `(name, value)` pairs.
    pub fn object<I, S>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map of strings.
    pub fn string_map<I, K, V>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), Value::String(v.into())))
                .collect(),
        )
    }

    /// A set of strings.
    pub fn string_set<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::Set(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    /// A list of strings.
    pub fn string_list<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    /// Whether this value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this value itself is unknown (not looking inside).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// Whether this value and everything inside it is known.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
            _ => true,
        }
    }

    /// The string inside, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Dynamic(_, v) => v.as_str(),
            _ => None,
        }
    }

    /// The bool inside, if this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Dynamic(_, v) => v.as_bool(),
            _ => None,
        }
    }

    /// The number inside as `i64`, if this is a known whole number that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            Value::Dynamic(_, v) => v.as_i64(),
            _ => None,
        }
    }

    /// The attributes, if this is a known object.
    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(m) => Some(m),
            Value::Dynamic(_, v) => v.as_object(),
            _ => None,
        }
    }

    /// The entries, if this is a known map (or object).
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            Value::Dynamic(_, v) => v.as_map(),
            _ => None,
        }
    }

    /// The elements, if this is a known list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            Value::Dynamic(_, v) => v.as_elements(),
            _ => None,
        }
    }

    /// An attribute of a known object; `Value::Null` when absent or when `self` is null,
    /// `Value::Unknown` when `self` is unknown.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        static UNKNOWN: Value = Value::Unknown;
        match self {
            Value::Object(m) | Value::Map(m) => m.get(name).unwrap_or(&NULL),
            Value::Unknown => &UNKNOWN,
            Value::Dynamic(_, v) => v.get(name),
            _ => &NULL,
        }
    }

    /// A mutable attribute of an object, inserted as null when missing. Panics if `self` is not
    /// an object: callers build objects from their schema.
    pub fn attr_mut(&mut self, name: &str) -> &mut Value {
        match self {
            Value::Object(m) | Value::Map(m) => m.entry(name.to_string()).or_default(),
            other => panic!("attr_mut({name}) on a non-object value {other:?}"),
        }
    }

    /// Sets an attribute of an object value (see [`Value::attr_mut`]).
    pub fn set_attr(&mut self, name: &str, value: Value) {
        *self.attr_mut(name) = value;
    }

    /// The string elements of a known list or set of strings (nulls and unknowns skipped).
    pub fn string_elements(&self) -> Vec<String> {
        self.as_elements()
            .map(|els| {
                els.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The string entries of a known map of strings (nulls and unknowns skipped).
    pub fn string_entries(&self) -> BTreeMap<String, String> {
        self.as_map()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Equality that treats sets as unordered and numbers by value, at every depth.
    pub fn semantically_equal(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.iter().any(|y| x.semantically_equal(y)))
                    && b.iter().all(|y| a.iter().any(|x| x.semantically_equal(y)))
            }
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.semantically_equal(y))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, x)| b.get(k).is_some_and(|y| x.semantically_equal(y)))
            }
            (Value::Dynamic(ta, a), Value::Dynamic(tb, b)) => ta == tb && a.semantically_equal(b),
            _ => self == other,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::int(i)
    }
}
