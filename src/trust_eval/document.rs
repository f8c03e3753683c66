//! A policy document read into statements: every element that may be a string or a list is a
//! list here, and the document may come URL-encoded, as `GetRole` returns it
//! (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html>: "AssumeRolePolicyDocument
//! ... URL-encoded").

use serde_json::Value;

use super::{Principal, PrincipalKind};
use crate::aws::policy;

/// Why a document could not be read as a policy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustDocumentError {
    /// Not JSON, or no `Statement`.
    #[error("{0}")]
    Unreadable(String),
    /// A statement's element has a shape IAM does not accept.
    #[error("statement {statement}: {problem}")]
    Malformed {
        /// The statement's label.
        statement: String,
        /// What is wrong.
        problem: String,
    },
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, and wins over any `Allow`.
    Deny,
}

/// A principal pattern of a statement: one principal, or `*` (anyone, of that kind or of all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalPattern {
    /// `"Principal": "*"`.
    Anyone,
    /// One `KIND: VALUE` pair (`VALUE` may be `*`).
    One(Principal),
}

impl PrincipalPattern {
    /// Whether `principal` is one this pattern names.
    pub fn matches(&self, principal: &Principal) -> bool {
        match self {
            PrincipalPattern::Anyone => true,
            PrincipalPattern::One(p) => {
                p.kind == principal.kind && (p.value == "*" || p.value == principal.value)
            }
        }
    }

    /// Whether it admits any principal (of a kind or of all).
    pub fn is_wildcard(&self) -> bool {
        match self {
            PrincipalPattern::Anyone => true,
            PrincipalPattern::One(p) => p.value == "*",
        }
    }
}

impl std::fmt::Display for PrincipalPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrincipalPattern::Anyone => f.write_str("*"),
            PrincipalPattern::One(p) => p.fmt(f),
        }
    }
}

/// An element that lists values positively (`Action`) or negatively (`NotAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed<T> {
    /// `Action`, `Principal`.
    Only(Vec<T>),
    /// `NotAction`, `NotPrincipal`.
    AllBut(Vec<T>),
    /// Neither element is present.
    Absent,
}

/// One condition: `"OPERATOR": {"KEY": VALUES}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// The context key as written.
    pub key: String,
    /// The values (booleans and numbers as their JSON text).
    pub values: Vec<String>,
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// `Sid` when present, else `Statement[N]` (zero-based, in document order).
    pub label: String,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` / `NotPrincipal`.
    pub principals: Listed<PrincipalPattern>,
    /// `Action` / `NotAction`.
    pub actions: Listed<String>,
    /// Every condition, in document order.
    pub conditions: Vec<Condition>,
}

/// A policy document's statements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustDocument {
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

impl TrustDocument {
    /// Reads a document as IAM returns it (percent-encoded or plain JSON).
    pub fn parse(text: &str) -> Result<TrustDocument, TrustDocumentError> {
        let value = policy::parse_policy(text)
            .map_err(|e| TrustDocumentError::Unreadable(e.to_string()))?;
        TrustDocument::from_value(&value)
    }

    /// Reads an already parsed document.
    pub fn from_value(value: &Value) -> Result<TrustDocument, TrustDocumentError> {
        let statements = match value.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single @ Value::Object(_)) => vec![single],
            _ => {
                return Err(TrustDocumentError::Unreadable(
                    "the policy's Statement is neither an object nor a list".into(),
                ));
            }
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, statement)| read_statement(index, statement))
            .collect::<Result<_, _>>()?;
        Ok(TrustDocument { statements })
    }
}

fn read_statement(index: usize, value: &Value) -> Result<Statement, TrustDocumentError> {
    let label = match value.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => format!("{sid:?}"),
        _ => format!("Statement[{index}]"),
    };
    let bad = |problem: String| TrustDocumentError::Malformed {
        statement: label.clone(),
        problem,
    };
    let effect = match value.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => {
            return Err(bad(format!(
                "Effect is {other:?}, not \"Allow\" or \"Deny\""
            )));
        }
    };
    let principals = match (value.get("Principal"), value.get("NotPrincipal")) {
        (Some(p), None) => Listed::Only(principals(p).map_err(bad)?),
        (None, Some(p)) => Listed::AllBut(principals(p).map_err(bad)?),
        (None, None) => Listed::Absent,
        (Some(_), Some(_)) => return Err(bad("both Principal and NotPrincipal".into())),
    };
    let actions = match (value.get("Action"), value.get("NotAction")) {
        (Some(a), None) => Listed::Only(strings(a).map_err(|e| bad(format!("Action: {e}")))?),
        (None, Some(a)) => Listed::AllBut(strings(a).map_err(|e| bad(format!("NotAction: {e}")))?),
        (None, None) => Listed::Absent,
        (Some(_), Some(_)) => return Err(bad("both Action and NotAction".into())),
    };
    let mut conditions = Vec::new();
    match value.get("Condition") {
        None => {}
        Some(Value::Object(operators)) => {
            for (operator, keys) in operators {
                let Value::Object(keys) = keys else {
                    return Err(bad(format!("Condition {operator} is not an object")));
                };
                for (key, values) in keys {
                    conditions.push(Condition {
                        operator: operator.clone(),
                        key: key.clone(),
                        values: strings(values)
                            .map_err(|e| bad(format!("Condition {operator} {key}: {e}")))?,
                    });
                }
            }
        }
        Some(_) => return Err(bad("Condition is not an object".into())),
    }
    Ok(Statement {
        label,
        effect,
        principals,
        actions,
        conditions,
    })
}

fn principals(value: &Value) -> Result<Vec<PrincipalPattern>, String> {
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalPattern::Anyone]),
        Value::Object(kinds) => {
            let mut found = Vec::new();
            for (key, values) in kinds {
                let kind = PrincipalKind::from_key(key)
                    .ok_or_else(|| format!("Principal has an unknown kind {key:?}"))?;
                for value in strings(values).map_err(|e| format!("Principal {key}: {e}"))? {
                    found.push(PrincipalPattern::One(Principal { kind, value }));
                }
            }
            Ok(found)
        }
        other => Err(format!("Principal is {other}, not \"*\" or an object")),
    }
}

/// A string or a list of scalars, as a list of strings.
fn strings(value: &Value) -> Result<Vec<String>, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(_) | Value::Number(_) => Ok(v.to_string()),
        other => Err(format!("{other} is not a string")),
    };
    match value {
        Value::Array(items) => items.iter().map(scalar).collect(),
        single => Ok(vec![scalar(single)?]),
    }
}
