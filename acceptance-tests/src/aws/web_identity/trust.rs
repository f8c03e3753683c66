//! The rig's own trust-policy check for `sts:AssumeRoleWithWebIdentity` (a `Federated`
//! principal) and for EKS Pod Identity's `sts:AssumeRole` + `sts:TagSession` (the `Service`
//! principal `pods.eks.amazonaws.com`), written apart from the provider's evaluator
//! (`src/trust_eval`) so that a bug in one is caught by the other.
//! It follows the IAM evaluation rules
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>):
//! a matching `Deny` refuses, else one `Allow` whose principal, action and every condition
//! match is needed. Keys are case-insensitive; a missing key fails a condition unless the
//! operator is negated or ends in `IfExists`; values are ORed (NORed when negated).

use serde_json::Value;

/// What a web-identity request brings to the trust policy.
#[derive(Debug, Clone)]
pub struct WebIdentityRequest {
    /// The `Federated` principal: the ARN of the OIDC provider that matched `iss`.
    pub provider_arn: String,
    /// Context keys (`ISSUER:sub`, `ISSUER:aud`) and their values.
    pub context: Vec<(String, String)>,
}

/// What a service principal's request (EKS Pod Identity's) brings to the trust policy.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// The `Service` principal, e.g. `pods.eks.amazonaws.com`.
    pub service: String,
    /// The actions the request needs, each allowed on its own (`sts:AssumeRole`, and
    /// `sts:TagSession` when session tags are passed:
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required>).
    pub actions: Vec<String>,
    /// Context keys (`aws:RequestTag/KEY`, `aws:SourceAccount`, `aws:SourceArn`) and values.
    pub context: Vec<(String, String)>,
}

/// One action by one principal with its context, as a statement is matched against it.
struct Ask<'a> {
    principal_kind: &'a str,
    principal: &'a str,
    action: &'a str,
    context: &'a [(String, String)],
}

/// Whether `document` (decoded JSON) lets the request assume the role.
pub fn admits(document: &Value, request: &WebIdentityRequest) -> bool {
    allows(
        document,
        &Ask {
            principal_kind: "Federated",
            principal: &request.provider_arn,
            action: "sts:assumerolewithwebidentity",
            context: &request.context,
        },
    )
}

/// Whether `document` (decoded JSON) allows the service principal every action it needs.
pub fn admits_service(document: &Value, request: &ServiceRequest) -> bool {
    !request.actions.is_empty()
        && request.actions.iter().all(|action| {
            allows(
                document,
                &Ask {
                    principal_kind: "Service",
                    principal: &request.service,
                    action: &action.to_ascii_lowercase(),
                    context: &request.context,
                },
            )
        })
}

/// Whether some `Allow` statement of `document` names `service` as a `Service` principal for
/// `action` (conditions aside).
pub fn names_service(document: &Value, service: &str, action: &str) -> bool {
    statements(document).iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Principal").is_some_and(|p| {
                p.get("Service")
                    .is_some_and(|v| as_list(Some(v)).iter().any(|name| name == service))
            })
            && action_ok(s, &action.to_ascii_lowercase())
    })
}

fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    }
}

fn allows(document: &Value, request: &Ask<'_>) -> bool {
    let statements = statements(document);
    let applying = |effect: &str| {
        statements
            .iter()
            .any(|s| s.get("Effect").and_then(Value::as_str) == Some(effect) && applies(s, request))
    };
    !applying("Deny") && applying("Allow")
}

fn as_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn applies(statement: &Value, request: &Ask<'_>) -> bool {
    let principal_named = |p: &Value| match p {
        Value::String(s) => s == "*",
        Value::Object(kinds) => as_list(kinds.get(request.principal_kind))
            .iter()
            .any(|name| name == "*" || name == request.principal),
        _ => false,
    };
    let principal_ok = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(p), _) => principal_named(p),
        (None, Some(p)) => !principal_named(p),
        (None, None) => false,
    };
    principal_ok
        && action_ok(statement, request.action)
        && conditions_hold(statement.get("Condition"), request)
}

/// Whether the statement's `Action` (or `NotAction`) covers `action` (lower case).
fn action_ok(statement: &Value, action: &str) -> bool {
    let action_named = |v: Option<&Value>| {
        as_list(v)
            .iter()
            .any(|pattern| wildcard(&pattern.to_ascii_lowercase(), action))
    };
    match (statement.get("Action"), statement.get("NotAction")) {
        (Some(_), _) => action_named(statement.get("Action")),
        (None, Some(_)) => !action_named(statement.get("NotAction")),
        (None, None) => false,
    }
}

fn conditions_hold(conditions: Option<&Value>, request: &Ask<'_>) -> bool {
    let Some(Value::Object(operators)) = conditions else {
        return conditions.is_none();
    };
    operators.iter().all(|(operator, keys)| {
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().all(|(key, expected)| {
            let found = request
                .context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
            condition_holds(operator, found, &as_list(Some(expected)))
        })
    })
}

fn condition_holds(operator: &str, found: Option<&str>, expected: &[String]) -> bool {
    let (base, if_exists) = match operator.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (operator, false),
    };
    if base == "Null" {
        let wants_missing = expected.iter().any(|v| v == "true");
        return wants_missing == found.is_none();
    }
    let (negated, matcher): (bool, fn(&str, &str) -> bool) = match base {
        "StringEquals" => (false, |e, v| e == v),
        "StringNotEquals" => (true, |e, v| e == v),
        "StringEqualsIgnoreCase" => (false, |e, v| e.eq_ignore_ascii_case(v)),
        "StringNotEqualsIgnoreCase" => (true, |e, v| e.eq_ignore_ascii_case(v)),
        "StringLike" => (false, |e, v| wildcard(e, v)),
        "StringNotLike" => (true, |e, v| wildcard(e, v)),
        // ArnEquals and ArnLike match alike, with wildcards in the expected value.
        "ArnEquals" | "ArnLike" => (false, |e, v| wildcard(e, v)),
        "ArnNotEquals" | "ArnNotLike" => (true, |e, v| wildcard(e, v)),
        // Operators a trust policy of this provider never needs: not met, as unknown
        // operators are for IAM (the request is refused).
        _ => return false,
    };
    match found {
        None => negated || if_exists,
        Some(value) => expected.iter().any(|e| matcher(e, value)) != negated,
    }
}

/// `*` any run, `?` one character (recursive: patterns here are short).
fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}
