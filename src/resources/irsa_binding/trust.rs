//! The role's trust policy, built as a JSON value (never by string templating): the cluster's
//! OIDC provider may call `sts:AssumeRoleWithWebIdentity` for exactly one ServiceAccount and
//! one audience, with `StringEquals` on both condition keys.

use serde_json::{Value, json};

use crate::aws::OidcProviderArn;
use crate::aws::policy;

/// The `sub` claim Kubernetes puts in tokens of the ServiceAccount `namespace/name`.
pub fn subject(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

/// The trust policy document.
pub fn document(
    oidc: &OidcProviderArn,
    namespace: &str,
    service_account: &str,
    audience: &str,
) -> Value {
    let issuer = &oidc.issuer_host_path;
    let mut conditions = serde_json::Map::new();
    conditions.insert(
        format!("{issuer}:sub"),
        Value::String(subject(namespace, service_account)),
    );
    conditions.insert(format!("{issuer}:aud"), Value::String(audience.to_string()));
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": oidc.to_string()},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": conditions},
        }],
    })
}

/// The trust policy as the JSON text stored in state.
pub fn document_text(
    oidc: &OidcProviderArn,
    namespace: &str,
    service_account: &str,
    audience: &str,
) -> String {
    document(oidc, namespace, service_account, audience).to_string()
}

/// What a trust policy (as IAM returns it, possibly URL-encoded) admits, when it has the
/// shape this provider writes: one web-identity statement with `StringEquals` conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admits {
    /// The `Principal.Federated` ARN.
    pub oidc_provider_arn: String,
    /// The `ISSUER:sub` value.
    pub subject: Option<String>,
    /// The `ISSUER:aud` value.
    pub audience: Option<String>,
}

/// Reads the principal and the `sub`/`aud` conditions of a trust policy; `None` when the
/// document does not have that shape.
pub fn admits(document: &str) -> Option<Admits> {
    let policy = policy::parse_policy(document).ok()?;
    let statements = match policy.get("Statement")? {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    };
    let [statement] = statements.as_slice() else {
        return None;
    };
    let federated = match statement.pointer("/Principal/Federated")? {
        Value::String(arn) => arn.clone(),
        Value::Array(arns) if arns.len() == 1 => arns[0].as_str()?.to_string(),
        _ => return None,
    };
    let issuer = OidcProviderArn::parse(&federated).ok()?.issuer_host_path;
    let equals = statement.pointer("/Condition/StringEquals");
    let condition = |key: &str| match equals?.get(format!("{issuer}:{key}"))? {
        Value::String(value) => Some(value.clone()),
        Value::Array(values) if values.len() == 1 => values[0].as_str().map(str::to_string),
        _ => None,
    };
    Some(Admits {
        subject: condition("sub"),
        audience: condition("aud"),
        oidc_provider_arn: federated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EKS: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123";

    fn oidc(arn: &str) -> OidcProviderArn {
        OidcProviderArn::parse(arn).unwrap()
    }

    #[test]
    fn trust_policy_admits_exactly_one_service_account_and_audience() {
        let doc = document(
            &oidc(EKS),
            "ci-runner",
            "gitlab-runner",
            "sts.amazonaws.com",
        );
        assert_eq!(
            doc,
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Federated": EKS},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {
                        "oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub":
                            "system:serviceaccount:ci-runner:gitlab-runner",
                        "oidc.eks.eu-west-1.amazonaws.com/id/ABC123:aud": "sts.amazonaws.com",
                    }},
                }],
            })
        );
        let text = doc.to_string();
        assert!(!text.contains("StringLike"));
        assert!(!text.contains('*'));
    }

    #[test]
    fn govcloud_principal_keeps_its_partition() {
        let gov = "arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/X";
        let doc = document(&oidc(gov), "ns", "sa", "sts.amazonaws.com");
        assert_eq!(doc["Statement"][0]["Principal"]["Federated"], gov);
    }

    #[test]
    fn names_with_json_special_characters_stay_data() {
        // Not reachable through validation, but the builder must never produce broken JSON.
        let doc = document_text(&oidc(EKS), "ns", "a\"b", "aud\\x");
        let admitted = admits(&doc).unwrap();
        assert_eq!(
            admitted.subject.as_deref(),
            Some("system:serviceaccount:ns:a\"b")
        );
        assert_eq!(admitted.audience.as_deref(), Some("aud\\x"));
    }

    #[test]
    fn admits_reads_back_what_iam_returns_url_encoded() {
        let doc = document_text(&oidc(EKS), "ci", "runner", "sts.amazonaws.com");
        let encoded: String =
            percent_encoding::utf8_percent_encode(&doc, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(
            admits(&encoded),
            Some(Admits {
                oidc_provider_arn: EKS.to_string(),
                subject: Some("system:serviceaccount:ci:runner".to_string()),
                audience: Some("sts.amazonaws.com".to_string()),
            })
        );
    }

    #[test]
    fn other_shapes_are_not_read() {
        assert_eq!(admits("{}"), None);
        assert_eq!(
            admits(r#"{"Statement":[{"Principal":{"Service":"ec2.amazonaws.com"}}]}"#),
            None
        );
        let two = format!(
            r#"{{"Statement":[{0},{0}]}}"#,
            document(&oidc(EKS), "a", "b", "c")["Statement"][0]
        );
        assert_eq!(admits(&two), None);
    }

    #[test]
    fn stored_text_is_equivalent_to_a_reformatted_copy() {
        let doc = document(&oidc(EKS), "ci", "runner", "sts.amazonaws.com");
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        assert!(policy::equivalent(&doc.to_string(), &pretty));
        let other = document_text(&oidc(EKS), "ci", "other", "sts.amazonaws.com");
        assert!(!policy::equivalent(&doc.to_string(), &other));
    }
}
