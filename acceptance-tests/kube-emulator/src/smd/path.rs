//! Path elements of structured-merge-diff field sets, their order and their encodings
//! (`f:name`, `k:{...}`, `v:...`, `i:N` in `fieldsV1`; `.name[key="v"]` in conflict messages).

use std::cmp::Ordering;

use serde_json::Value;

use crate::gostr;

/// A scalar used as a list-map key or a set element, ordered like `value.Compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub Value);

impl Eq for Scalar {}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

impl Ord for Scalar {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (a, b) if rank(a) != rank(b) => rank(a).cmp(&rank(b)),
            (a, b) => a.to_string().cmp(&b.to_string()),
        }
    }
}

impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Scalar {
    fn to_go_string(&self) -> String {
        match &self.0 {
            Value::String(s) => gostr::quote(s),
            other => other.to_string(),
        }
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElement {
    /// A struct field or map key.
    Field(String),
    /// An item of an associative list, by its key fields (sorted by name).
    Key(Vec<(String, Scalar)>),
    /// An item of a set.
    Value(Scalar),
    /// An item of a list by position.
    Index(usize),
}

impl PathElement {
    /// The `fieldsV1` key for this element.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let map: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.0.clone()))
                    .collect();
                format!("k:{}", Value::Object(map))
            }
            PathElement::Value(v) => format!("v:{}", v.0),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `fieldsV1` key.
    pub fn from_fields_v1_key(key: &str) -> Option<PathElement> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "f" => Some(PathElement::Field(rest.to_string())),
            "k" => {
                let Value::Object(map) = serde_json::from_str::<Value>(rest).ok()? else {
                    return None;
                };
                let mut fields: Vec<(String, Scalar)> =
                    map.into_iter().map(|(k, v)| (k, Scalar(v))).collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Some(PathElement::Key(fields))
            }
            "v" => serde_json::from_str(rest)
                .ok()
                .map(|v| PathElement::Value(Scalar(v))),
            "i" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }
}

impl std::hash::Hash for PathElement {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_fields_v1_key().hash(state);
    }
}

impl std::fmt::Display for PathElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.to_go_string()))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", v.to_go_string()),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A full path, printed like `fieldpath.Path.String()`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_sort_before_keys_and_values() {
        let f = PathElement::Field("z".into());
        let k = PathElement::Key(vec![("name".into(), Scalar(json!("a")))]);
        let v = PathElement::Value(Scalar(json!("a")));
        assert!(f < k && k < v);
    }

    #[test]
    fn encodes_keys_like_fields_v1() {
        let k = PathElement::Key(vec![("name".into(), Scalar(json!("x")))]);
        assert_eq!(k.to_fields_v1_key(), r#"k:{"name":"x"}"#);
        assert_eq!(
            PathElement::from_fields_v1_key(r#"k:{"name":"x"}"#),
            Some(k)
        );
    }

    #[test]
    fn prints_conflict_paths() {
        let path = vec![
            PathElement::Field("metadata".into()),
            PathElement::Field("annotations".into()),
            PathElement::Field("eks.amazonaws.com/role-arn".into()),
        ];
        assert_eq!(
            path_string(&path),
            ".metadata.annotations.eks.amazonaws.com/role-arn"
        );
    }
}
