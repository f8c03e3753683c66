//! IAM policy documents: decoding them as IAM returns them, and comparing them by meaning.
//!
//! IAM returns documents URL-encoded (GetRole, GetRolePolicy; moto's GetPolicyVersion returns
//! plain JSON), and users write the same policy in many textual forms: key order, whitespace, a
//! single action as a string or as a one-element list. Comparing canonical forms keeps plans
//! free of perpetual diffs without hiding real changes.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// Why a policy document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The text is not JSON.
    #[error("the policy is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON, but not a policy object.
    #[error("the policy must be a JSON object with a \"Statement\"")]
    NotAPolicy,
}

/// Decodes a document as IAM returns it: percent-encoded or plain. `+` is left alone (IAM
/// encodes spaces as `%20`, and `+` can appear in policies literally).
pub fn decode_document(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_string();
    }
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// Parses a policy document (decoding it first when needed) and checks its outer shape.
pub fn parse_policy(text: &str) -> Result<Value, PolicyError> {
    let value: Value = serde_json::from_str(&decode_document(text))?;
    let has_statement = value
        .as_object()
        .is_some_and(|o| o.contains_key("Statement"));
    if !has_statement {
        return Err(PolicyError::NotAPolicy);
    }
    Ok(value)
}

/// The statements of a policy: its `Statement` list, or the one statement it holds as a single
/// object (the grammar allows both: IAM JSON policy element reference, "Statement",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_statement.html>).
/// `None` when it has no `Statement`.
pub fn statements(policy: &Value) -> Option<Vec<Value>> {
    Some(match policy.get("Statement")? {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    })
}

/// The one string a policy element holds, written as a string or as a one-element list; `None`
/// for anything else.
pub fn single_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.len() == 1 => items[0].as_str().map(str::to_string),
        _ => None,
    }
}

/// The canonical form of a policy: keys sorted, single values and one-element lists unified,
/// and the order of statements and of values in `Action`, `Resource`, `Principal` and
/// `Condition` lists ignored (IAM evaluates them as sets).
pub fn canonical(policy: &Value) -> Value {
    let mut policy = sort_keys(policy);
    if let Some(statements) = policy.get_mut("Statement") {
        let mut list = match statements.take() {
            Value::Array(items) => items,
            single => vec![single],
        };
        for statement in &mut list {
            canonicalize_statement(statement);
        }
        list.sort_by_key(|s| s.to_string());
        *statements = Value::Array(list);
    }
    policy
}

/// Whether two policy documents mean the same thing (see [`canonical`]). Documents that do not
/// parse are equal only when their text is.
pub fn equivalent(a: &str, b: &str) -> bool {
    match (parse_policy(a), parse_policy(b)) {
        (Ok(a), Ok(b)) => canonical(&a) == canonical(&b),
        _ => decode_document(a) == decode_document(b),
    }
}

/// A compact, canonical JSON rendering: what this provider stores in state for policies it
/// builds itself, so that state never changes with the service's formatting.
pub fn to_canonical_json(policy: &Value) -> String {
    canonical(policy).to_string()
}

fn canonicalize_statement(statement: &mut Value) {
    let Some(fields) = statement.as_object_mut() else {
        return;
    };
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(value) = fields.get_mut(key) {
            *value = string_set(value.take());
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        if let Some(Value::Object(principals)) = fields.get_mut(key) {
            for value in principals.values_mut() {
                *value = string_set(value.take());
            }
        }
    }
    if let Some(Value::Object(operators)) = fields.get_mut("Condition") {
        for keys in operators.values_mut() {
            if let Value::Object(keys) = keys {
                for value in keys.values_mut() {
                    *value = string_set(value.take());
                }
            }
        }
    }
}

/// A string or list of strings as a sorted, de-duplicated list; anything else unchanged.
fn string_set(value: Value) -> Value {
    match value {
        Value::String(s) => Value::Array(vec![Value::String(s)]),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let mut strings: Vec<String> = items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            strings.sort();
            strings.dedup();
            Value::Array(strings.into_iter().map(Value::String).collect())
        }
        other => other,
    }
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sort_keys(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/p/*"}]}"#;

    #[test]
    fn key_order_whitespace_and_list_forms_are_equivalent() {
        let reordered = r#"{
            "Statement": {"Resource": ["arn:aws:s3:::b/p/*"], "Action": ["s3:PutObject", "s3:GetObject"], "Effect": "Allow"},
            "Version": "2012-10-17"
        }"#;
        assert!(equivalent(POLICY, reordered));
    }

    #[test]
    fn url_encoded_documents_decode() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22s3%3AGetObject%22%2C%22s3%3APutObject%22%5D%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Ab%2Fp%2F%2A%22%7D%5D%7D";
        assert!(equivalent(POLICY, encoded));
    }

    #[test]
    fn plus_signs_survive_decoding() {
        assert_eq!(decode_document("a+b%20c"), "a+b c");
    }

    #[test]
    fn a_different_action_is_a_difference() {
        let widened = POLICY.replace("s3:PutObject", "s3:*");
        assert!(!equivalent(POLICY, &widened));
    }

    #[test]
    fn a_different_condition_value_is_a_difference() {
        let a = r#"{"Statement":[{"Effect":"Allow","Condition":{"StringEquals":{"k:sub":"system:serviceaccount:a:b"}}}]}"#;
        let b = r#"{"Statement":[{"Effect":"Allow","Condition":{"StringEquals":{"k:sub":["system:serviceaccount:a:c"]}}}]}"#;
        let a_list = r#"{"Statement":[{"Effect":"Allow","Condition":{"StringEquals":{"k:sub":["system:serviceaccount:a:b"]}}}]}"#;
        assert!(!equivalent(a, b));
        assert!(equivalent(a, a_list));
    }

    #[test]
    fn non_policies_are_refused() {
        assert!(matches!(parse_policy("[1]"), Err(PolicyError::NotAPolicy)));
        assert!(matches!(parse_policy("{"), Err(PolicyError::Json(_))));
    }

    #[test]
    fn statements_are_read_as_a_list_or_as_one_object() {
        let list = serde_json::json!({"Statement": [{"Sid": "a"}, {"Sid": "b"}]});
        let single = serde_json::json!({"Statement": {"Sid": "a"}});
        assert_eq!(statements(&list).unwrap().len(), 2);
        assert_eq!(
            statements(&single).unwrap(),
            vec![serde_json::json!({"Sid": "a"})]
        );
        assert_eq!(
            statements(&serde_json::json!({"Version": "2012-10-17"})),
            None
        );
    }

    #[test]
    fn a_single_string_is_a_string_or_a_one_element_list() {
        assert_eq!(single_string(&serde_json::json!("x")), Some("x".into()));
        assert_eq!(single_string(&serde_json::json!(["x"])), Some("x".into()));
        assert_eq!(single_string(&serde_json::json!(["x", "y"])), None);
        assert_eq!(single_string(&serde_json::json!(1)), None);
    }
}
