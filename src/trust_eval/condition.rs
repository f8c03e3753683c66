//! One condition against a request's context, following the IAM condition operator reference
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>):
//! - a key missing from the context makes a condition false, a negated one (`StringNotEquals`,
//!   `StringNotLike`, ...) true, and one with `...IfExists` true;
//! - `Null: true` holds when the key is missing, `Null: false` when it is present;
//! - several values of the condition are ORed, for negated operators NORed
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html>);
//! - `ForAnyValue:` holds when some context value matches (false for a missing key),
//!   `ForAllValues:` when every context value does (true for a missing key)
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>);
//! - context keys are case-insensitive, values case-sensitive except `...IgnoreCase`;
//! - `ArnEquals` and `ArnLike` (alike) compare each of the six colon-delimited components of
//!   the ARN separately, case-sensitively, each with `*` and `?` wildcards
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>).

use super::Request;
use super::document::Condition;
use super::glob::{glob_match, has_wildcard};

/// A failed condition, with what it expected and what the request had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionFailure {
    /// The operator as written.
    pub operator: String,
    /// The key as written.
    pub key: String,
    /// The values the condition expects.
    pub expected: Vec<String>,
    /// The request's values of the key (`None`: the request does not have the key).
    pub found: Option<Vec<String>>,
    /// Why this is a usual miswiring, when it is one.
    pub hint: Option<String>,
}

impl std::fmt::Display for ConditionFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "condition {} on key {:?} expects {} but the request has {}",
            self.operator,
            self.key,
            list(&self.expected),
            match &self.found {
                Some(found) => list(found),
                None => "no such key".to_string(),
            }
        )?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// What one condition decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionOutcome {
    /// It holds.
    Holds,
    /// It does not.
    Fails(ConditionFailure),
}

/// The comparison of an operator, without qualifier and `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compare {
    Equals { ignore_case: bool },
    Like,
    Arn,
    Bool,
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qualifier {
    None,
    AnyValue,
    AllValues,
}

struct Operator {
    compare: Compare,
    negated: bool,
    if_exists: bool,
    qualifier: Qualifier,
}

fn parse_operator(text: &str) -> Option<Operator> {
    let (qualifier, rest) = if let Some(rest) = text.strip_prefix("ForAnyValue:") {
        (Qualifier::AnyValue, rest)
    } else if let Some(rest) = text.strip_prefix("ForAllValues:") {
        (Qualifier::AllValues, rest)
    } else {
        (Qualifier::None, text)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (compare, negated) = match base {
        "StringEquals" => (Compare::Equals { ignore_case: false }, false),
        "StringNotEquals" => (Compare::Equals { ignore_case: false }, true),
        "StringEqualsIgnoreCase" => (Compare::Equals { ignore_case: true }, false),
        "StringNotEqualsIgnoreCase" => (Compare::Equals { ignore_case: true }, true),
        "StringLike" => (Compare::Like, false),
        "StringNotLike" => (Compare::Like, true),
        "ArnLike" | "ArnEquals" => (Compare::Arn, false),
        "ArnNotLike" | "ArnNotEquals" => (Compare::Arn, true),
        "Bool" => (Compare::Bool, false),
        "Null" if !if_exists && qualifier == Qualifier::None => (Compare::Null, false),
        _ => return None,
    };
    Some(Operator {
        compare,
        negated,
        if_exists,
        qualifier,
    })
}

/// Decides `condition` for `request`.
pub fn decide(condition: &Condition, request: &Request) -> ConditionOutcome {
    let found = request.values(&condition.key);
    let fail = |hint: Option<String>| {
        ConditionOutcome::Fails(ConditionFailure {
            operator: condition.operator.clone(),
            key: condition.key.clone(),
            expected: condition.values.clone(),
            found: found.map(<[String]>::to_vec),
            hint,
        })
    };
    let Some(operator) = parse_operator(&condition.operator) else {
        return fail(Some(format!(
            "operator {} is not one this evaluator knows; it is treated as not met",
            condition.operator
        )));
    };
    let holds = match (operator.compare, found) {
        (Compare::Null, found) => {
            let wants_missing = condition.values.iter().any(|v| v == "true");
            wants_missing == found.is_none()
        }
        (_, None) => match operator.qualifier {
            Qualifier::AllValues => true,
            Qualifier::AnyValue => false,
            Qualifier::None => operator.if_exists || operator.negated,
        },
        (compare, Some(values)) => {
            let one = |value: &str| {
                let any = condition
                    .values
                    .iter()
                    .any(|expected| compares(compare, expected, value));
                any != operator.negated
            };
            match operator.qualifier {
                Qualifier::AllValues => values.iter().all(|v| one(v)),
                // A single-valued operator on a multivalued key: IAM matches when any value
                // does.
                Qualifier::AnyValue | Qualifier::None => values.iter().any(|v| one(v)),
            }
        }
    };
    match holds {
        true => ConditionOutcome::Holds,
        false => fail(hint(condition, &operator, request)),
    }
}

fn compares(compare: Compare, expected: &str, value: &str) -> bool {
    match compare {
        Compare::Equals { ignore_case: false } => expected == value,
        Compare::Equals { ignore_case: true } => expected.to_lowercase() == value.to_lowercase(),
        Compare::Like => glob_match(expected, value, false),
        Compare::Arn => arn_match(expected, value),
        Compare::Bool => expected.eq_ignore_ascii_case(value),
        Compare::Null => unreachable!("Null is decided on presence"),
    }
}

/// The six colon-delimited components of an ARN (the last one keeps its colons).
fn arn_components(text: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    (parts.len() == 6).then_some(parts)
}

/// `ArnEquals`/`ArnLike`: component by component, so a wildcard never spans a `:` of the
/// first five; a value or pattern that is not six components long matches nothing.
fn arn_match(pattern: &str, value: &str) -> bool {
    match (arn_components(pattern), arn_components(value)) {
        (Some(pattern), Some(value)) => pattern
            .iter()
            .zip(&value)
            .all(|(p, v)| glob_match(p, v, false)),
        _ => false,
    }
}

/// The usual miswiring behind a failed condition, when there is one.
fn hint(condition: &Condition, operator: &Operator, request: &Request) -> Option<String> {
    let key = condition.key.as_str();
    if let Some(stripped) = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        return Some(format!(
            "the key starts with a URL scheme; IAM's condition keys for an OIDC provider are \
             its URL without https://, so the request never has {key:?}: write {stripped:?}"
        ));
    }
    if matches!(operator.compare, Compare::Equals { .. })
        && condition.values.iter().any(|v| has_wildcard(v))
    {
        return Some(format!(
            "{} compares literally: * and ? in the expected value are not wildcards, so it \
             never matches a real value; StringLike is the operator that reads them as \
             patterns",
            condition.operator
        ));
    }
    if request.values(key).is_none()
        && let Some((_, claim)) = key.rsplit_once(':')
        && let Some(similar) = request.context.keys().find(|k| {
            k.rsplit_once(':')
                .is_some_and(|(_, c)| c.eq_ignore_ascii_case(claim))
        })
    {
        return Some(format!(
            "the request's key for this claim is {similar:?}: the condition names another \
             issuer"
        ));
    }
    None
}

fn list(values: &[String]) -> String {
    match values {
        [one] => format!("{one:?}"),
        many => format!(
            "one of [{}]",
            many.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
