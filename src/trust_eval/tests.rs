use serde_json::{Value, json};

use super::*;

const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC";
const ISSUER: &str = "oidc.eks.eu-west-1.amazonaws.com/id/ABC";
const SUB: &str = "system:serviceaccount:ci:runner";

fn irsa(conditions: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }],
    })
}

fn exact() -> Value {
    irsa(json!({"StringEquals": {
        format!("{ISSUER}:sub"): SUB,
        format!("{ISSUER}:aud"): "sts.amazonaws.com",
    }}))
}

fn request(sub: &str) -> Request {
    Request::web_identity(ARN, ISSUER, sub, "sts.amazonaws.com")
}

fn decide(policy: &Value, request: &Request) -> Decision {
    evaluate(&TrustDocument::from_value(policy).unwrap(), request)
}

fn only_failure(decision: &Decision) -> ConditionFailure {
    let failures = decision.condition_failures();
    assert_eq!(failures.len(), 1, "{decision}");
    failures[0].clone()
}

#[test]
fn the_exact_trust_policy_admits_its_service_account() {
    assert_eq!(
        decide(&exact(), &request(SUB)),
        Decision::Allowed {
            statement: "Statement[0]".into()
        }
    );
}

#[test]
fn another_service_account_is_refused_naming_key_expected_and_found() {
    let decision = decide(&exact(), &request("system:serviceaccount:ci:other"));
    let failure = only_failure(&decision);
    assert_eq!(failure.operator, "StringEquals");
    assert_eq!(failure.key, format!("{ISSUER}:sub"));
    assert_eq!(failure.expected, vec![SUB.to_string()]);
    assert_eq!(
        failure.found,
        Some(vec!["system:serviceaccount:ci:other".to_string()])
    );
    assert_eq!(
        decision.to_string(),
        format!(
            "denied: no Allow statement applies; Statement[0]: condition StringEquals on key \
             \"{ISSUER}:sub\" expects \"{SUB}\" but the request has \
             \"system:serviceaccount:ci:other\""
        )
    );
}

#[test]
fn a_key_with_https_is_never_in_the_request_and_the_hint_says_so() {
    let policy = irsa(json!({"StringEquals": {
        format!("https://{ISSUER}:sub"): SUB,
        format!("{ISSUER}:aud"): "sts.amazonaws.com",
    }}));
    let failure = only_failure(&decide(&policy, &request(SUB)));
    assert_eq!(failure.found, None);
    assert!(
        failure
            .hint
            .as_deref()
            .unwrap()
            .contains("without https://"),
        "{failure}"
    );
}

#[test]
fn a_wildcard_under_string_equals_never_matches_and_the_hint_says_so() {
    let policy = irsa(json!({"StringEquals": {
        format!("{ISSUER}:sub"): "system:serviceaccount:ci:*",
    }}));
    let failure = only_failure(&decide(&policy, &request(SUB)));
    assert!(
        failure
            .hint
            .as_deref()
            .unwrap()
            .contains("compares literally"),
        "{failure}"
    );
    // Under StringLike the same value is a pattern.
    let like = irsa(json!({"StringLike": {format!("{ISSUER}:sub"): "system:serviceaccount:ci:*"}}));
    assert!(decide(&like, &request(SUB)).is_allowed());
}

#[test]
fn another_issuer_in_the_key_is_named() {
    let policy = irsa(json!({"StringEquals": {"oidc.other/id/X:sub": SUB}}));
    let failure = only_failure(&decide(&policy, &request(SUB)));
    assert!(
        failure
            .hint
            .as_deref()
            .unwrap()
            .contains(&format!("{ISSUER}:sub")),
        "{failure}"
    );
}

#[test]
fn another_provider_arn_is_a_principal_miss() {
    let other = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER";
    let decision = decide(
        &exact(),
        &Request::web_identity(other, ISSUER, SUB, "sts.amazonaws.com"),
    );
    let Decision::ImplicitlyDenied { misses } = &decision else {
        panic!("{decision}");
    };
    assert_eq!(
        misses[0].reason,
        MissReason::Principal {
            expected: vec![format!("Federated {ARN}")],
            found: format!("Federated {other}"),
        }
    );
}

#[test]
fn a_missing_aud_condition_admits_and_is_reported_as_a_widening() {
    let policy = irsa(json!({"StringEquals": {format!("{ISSUER}:sub"): SUB}}));
    let any_audience = Request::web_identity(ARN, ISSUER, SUB, "anything");
    assert!(decide(&policy, &any_audience).is_allowed());
    let required = |_: &Statement| vec![format!("{ISSUER}:sub"), format!("{ISSUER}:aud")];
    let before = TrustDocument::from_value(&exact()).unwrap();
    let now = TrustDocument::from_value(&policy).unwrap();
    assert_eq!(
        widenings(&before, &now, &required),
        vec![Widening::Unconstrained {
            statement: "Statement[0]".into(),
            key: format!("{ISSUER}:aud"),
        }]
    );
    assert!(widenings(&before, &before, &required).is_empty());
}

#[test]
fn wildcards_extra_principals_and_statements_are_widenings() {
    let required = |_: &Statement| vec![format!("{ISSUER}:sub"), format!("{ISSUER}:aud")];
    let before = TrustDocument::from_value(&exact()).unwrap();
    let mut wide = irsa(json!({
        "StringLike": {format!("{ISSUER}:sub"): "system:serviceaccount:*"},
        "StringEquals": {format!("{ISSUER}:aud"): "sts.amazonaws.com"},
    }));
    wide["Statement"][0]["Principal"]["Federated"] = json!([ARN, "arn:aws:iam::1:oidc-provider/x"]);
    let extra = json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"});
    wide["Statement"].as_array_mut().unwrap().push(extra);
    let found = widenings(
        &before,
        &TrustDocument::from_value(&wide).unwrap(),
        &required,
    );
    let text: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        found.contains(&Widening::NewStatement {
            statement: "Statement[1]".into()
        }),
        "{text:?}"
    );
    assert!(
        found.contains(&Widening::NewPrincipal {
            statement: "Statement[0]".into(),
            principal: "Federated arn:aws:iam::1:oidc-provider/x".into(),
        }),
        "{text:?}"
    );
    assert!(
        found.contains(&Widening::AnyPrincipal {
            statement: "Statement[1]".into()
        }),
        "{text:?}"
    );
    assert!(
        found.contains(&Widening::Wildcard {
            statement: "Statement[0]".into(),
            key: format!("{ISSUER}:sub"),
            operator: "StringLike".into(),
            pattern: "system:serviceaccount:*".into(),
        }),
        "{text:?}"
    );
}

#[test]
fn explicit_deny_wins_over_allow() {
    let mut policy = exact();
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "NoRunner",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:*",
        "Condition": {"StringLike": {format!("{ISSUER}:sub"): "*:runner"}},
    }));
    assert_eq!(
        decide(&policy, &request(SUB)),
        Decision::ExplicitlyDenied {
            statement: "\"NoRunner\"".into()
        }
    );
}

#[test]
fn a_policy_without_allow_denies_implicitly() {
    let policy =
        json!({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "sts:Nothing"}});
    assert_eq!(
        decide(&policy, &request(SUB)),
        Decision::ImplicitlyDenied { misses: vec![] }
    );
}

#[test]
fn actions_match_case_insensitively_with_wildcards() {
    let mut policy = exact();
    policy["Statement"][0]["Action"] = json!(["STS:assumerole?ith*"]);
    assert!(decide(&policy, &request(SUB)).is_allowed());
    policy["Statement"][0]["Action"] = json!("sts:AssumeRole");
    let decision = decide(&policy, &request(SUB));
    assert!(matches!(
        &decision,
        Decision::ImplicitlyDenied { misses } if matches!(misses[0].reason, MissReason::Action { .. })
    ));
    policy["Statement"][0]["Action"] = Value::Null;
    policy["Statement"][0]
        .as_object_mut()
        .unwrap()
        .remove("Action");
    policy["Statement"][0]["NotAction"] = json!("sts:AssumeRole");
    assert!(decide(&policy, &request(SUB)).is_allowed());
}

#[test]
fn several_values_are_ored_and_negated_ones_nored() {
    let key = format!("{ISSUER}:sub");
    let policy = irsa(json!({"StringEquals": {&key: ["a", SUB]}}));
    assert!(decide(&policy, &request(SUB)).is_allowed());
    let not = irsa(json!({"StringNotEquals": {&key: ["a", SUB]}}));
    assert!(!decide(&not, &request(SUB)).is_allowed());
    assert!(decide(&not, &request("b")).is_allowed());
}

#[test]
fn several_keys_and_operators_are_anded() {
    let policy = irsa(json!({
        "StringEquals": {format!("{ISSUER}:sub"): SUB},
        "StringLike": {format!("{ISSUER}:aud"): "sts.*"},
    }));
    assert!(decide(&policy, &request(SUB)).is_allowed());
    let other = Request::web_identity(ARN, ISSUER, SUB, "other");
    assert_eq!(
        only_failure(&decide(&policy, &other)).operator,
        "StringLike"
    );
}

#[test]
fn missing_keys_follow_the_operator_rules() {
    let request = request(SUB);
    let holds = |condition: Value| decide(&irsa(condition), &request).is_allowed();
    assert!(!holds(json!({"StringEquals": {"k:missing": "x"}})));
    assert!(holds(json!({"StringNotEquals": {"k:missing": "x"}})));
    assert!(holds(json!({"StringEqualsIfExists": {"k:missing": "x"}})));
    assert!(!holds(
        json!({"StringEqualsIfExists": {format!("{ISSUER}:sub"): "x"}})
    ));
    assert!(holds(json!({"Null": {"k:missing": "true"}})));
    assert!(!holds(json!({"Null": {format!("{ISSUER}:sub"): "true"}})));
    assert!(holds(
        json!({"ForAllValues:StringEquals": {"k:missing": "x"}})
    ));
    assert!(!holds(
        json!({"ForAnyValue:StringEquals": {"k:missing": "x"}})
    ));
    assert!(!holds(
        json!({"NoSuchOperator": {format!("{ISSUER}:sub"): SUB}})
    ));
}

#[test]
fn ignore_case_and_set_qualifiers() {
    let request = Request::new(
        Principal {
            kind: PrincipalKind::Service,
            value: "pods.eks.amazonaws.com".into(),
        },
        "sts:TagSession",
    )
    .with("aws:TagKeys", &["a", "b"])
    .with("aws:RequestTag/kubernetes-namespace", &["CI"]);
    let policy = |condition: Value| {
        json!({"Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": condition,
        }]})
    };
    let holds = |condition: Value| decide(&policy(condition), &request).is_allowed();
    assert!(holds(
        json!({"StringEqualsIgnoreCase": {"aws:requesttag/kubernetes-namespace": "ci"}})
    ));
    assert!(!holds(
        json!({"StringEquals": {"aws:RequestTag/kubernetes-namespace": "ci"}})
    ));
    assert!(holds(
        json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]}})
    ));
    assert!(!holds(
        json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}})
    ));
    assert!(holds(
        json!({"ForAnyValue:StringLike": {"aws:TagKeys": ["?"]}})
    ));
}

#[test]
fn documents_come_url_encoded_with_single_values_or_lists() {
    let text = exact().to_string();
    let encoded = percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    assert!(evaluate_text(&encoded, &request(SUB)).unwrap().is_allowed());
    let mut listed = exact();
    listed["Statement"] = listed["Statement"][0].clone();
    listed["Statement"]["Principal"]["Federated"] = json!([ARN]);
    listed["Statement"]["Condition"]["StringEquals"][format!("{ISSUER}:aud")] =
        json!(["sts.amazonaws.com"]);
    assert!(decide(&listed, &request(SUB)).is_allowed());
    assert!(matches!(
        evaluate_text("{\"Statement\": [{\"Effect\": \"Maybe\"}]}", &request(SUB)),
        Err(TrustDocumentError::Malformed { .. })
    ));
    assert!(evaluate_text("not json", &request(SUB)).is_err());
}

#[test]
fn glob_matches_like_iam() {
    assert!(glob_match("a*c", "abbbc", false));
    assert!(glob_match("a*", "a", false));
    assert!(glob_match("a?c", "abc", false));
    assert!(!glob_match("a?c", "ac", false));
    assert!(!glob_match("A*", "abc", false));
    assert!(glob_match("A*", "abc", true));
    assert!(glob_match(
        "*:runner",
        "system:serviceaccount:ci:runner",
        false
    ));
    assert!(!glob_match(
        "*:runner",
        "system:serviceaccount:ci:runner2",
        false
    ));
}

/// `ArnEquals`/`ArnLike` as the IAM condition operator reference describes them: "Each of the
/// six colon-delimited components of the ARN is checked separately and each can include
/// multi-character match wildcards (*) or single-character match wildcards (?)"
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>).
#[test]
fn arn_operators_compare_component_by_component() {
    const CLUSTER: &str = "arn:aws:eks:us-east-1:123456789012:cluster/ci";
    let request = Request::new(
        Principal {
            kind: PrincipalKind::Service,
            value: "pods.eks.amazonaws.com".into(),
        },
        "sts:AssumeRole",
    )
    .with("aws:SourceArn", &[CLUSTER]);
    let policy = |condition: Value| {
        json!({"Statement": {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": condition,
        }})
    };
    let holds = |operator: &str, pattern: &str| {
        decide(
            &policy(json!({operator: {"aws:SourceArn": pattern}})),
            &request,
        )
        .is_allowed()
    };
    for operator in ["ArnEquals", "ArnLike"] {
        assert!(holds(operator, CLUSTER), "{operator}");
        assert!(holds(operator, "arn:aws:eks:*:123456789012:cluster/*"));
        assert!(holds(
            operator,
            "arn:aws:eks:us-east-?:123456789012:cluster/c?"
        ));
        // Case-sensitive, and a wildcard stays within its component.
        assert!(!holds(
            operator,
            "arn:aws:eks:us-east-1:123456789012:cluster/CI"
        ));
        assert!(!holds(operator, "arn:aws:eks:*:cluster/ci"));
        assert!(!holds(operator, "arn:*"));
        assert!(!holds(
            operator,
            "arn:aws:eks:us-east-1:210987654321:cluster/ci"
        ));
        assert!(!holds(
            operator,
            "arn:aws:eks:us-east-1:123456789012:cluster/other"
        ));
    }
    for operator in ["ArnNotEquals", "ArnNotLike"] {
        assert!(
            !holds(operator, "arn:aws:eks:*:123456789012:cluster/*"),
            "{operator}"
        );
        assert!(holds(operator, "arn:aws:eks:*:123456789012:cluster/other"));
    }
    // The last component keeps its colons: a resource part may contain them.
    let colons = request
        .clone()
        .with("aws:SourceArn", &["arn:aws:logs:us-east-1:1:log-group:g:*"]);
    assert!(
        decide(
            &policy(json!({"ArnLike": {"aws:SourceArn": "arn:aws:logs:*:1:log-group:*"}})),
            &colons
        )
        .is_allowed()
    );
    // A missing key: false for ArnEquals, true for its negation and with IfExists.
    let bare = Request::new(request.principal.clone(), "sts:AssumeRole");
    let missing = |operator: &str| {
        decide(
            &policy(json!({operator: {"aws:SourceArn": CLUSTER}})),
            &bare,
        )
        .is_allowed()
    };
    assert!(!missing("ArnEquals"));
    assert!(missing("ArnNotEquals"));
    assert!(missing("ArnEqualsIfExists"));
    // A value that is not an ARN matches no pattern.
    let text = request.clone().with("aws:SourceArn", &["cluster/ci"]);
    let failure = only_failure(&decide(
        &policy(json!({"ArnLike": {"aws:SourceArn": "*"}})),
        &text,
    ));
    assert_eq!(failure.operator, "ArnLike");
    assert_eq!(failure.found, Some(vec!["cluster/ci".to_string()]));
}
