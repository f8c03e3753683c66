//! The role's trust policy, built as a JSON value (never by string templating): the cluster's
//! OIDC provider may call `sts:AssumeRoleWithWebIdentity` for exactly one ServiceAccount and
//! one audience, with `StringEquals` on both condition keys (IRSA); and, with Pod Identity, the
//! service principal `pods.eks.amazonaws.com` may call `sts:AssumeRole` and `sts:TagSession`
//! only with the session tags of exactly one ServiceAccount of one cluster.
//!
//! An IRSA-only policy is byte for byte what earlier versions wrote ([`document`]).

use serde_json::{Value, json};

use crate::aws::policy;
use crate::aws::{OidcProviderArn, Partition};

/// The service principal EKS Pod Identity assumes roles as.
pub const POD_IDENTITY_PRINCIPAL: &str = "pods.eks.amazonaws.com";
/// The `Sid` of the Pod Identity statement.
pub const POD_IDENTITY_SID: &str = "EksPodIdentity";
/// The session tags EKS Pod Identity passes, as `aws:RequestTag/...` condition keys.
pub const CLUSTER_ARN_TAG: &str = "aws:RequestTag/eks-cluster-arn";
/// See [`CLUSTER_ARN_TAG`].
pub const CLUSTER_NAME_TAG: &str = "aws:RequestTag/eks-cluster-name";
/// See [`CLUSTER_ARN_TAG`].
pub const NAMESPACE_TAG: &str = "aws:RequestTag/kubernetes-namespace";
/// See [`CLUSTER_ARN_TAG`].
pub const SERVICE_ACCOUNT_TAG: &str = "aws:RequestTag/kubernetes-service-account";

/// The cluster a Pod Identity statement admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentityCluster {
    /// The cluster's name.
    pub name: String,
    /// The cluster's ARN, `arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME`.
    pub arn: String,
}

impl PodIdentityCluster {
    /// The cluster `name` in `region` of `account`.
    pub fn new(partition: Partition, region: &str, account: &str, name: &str) -> Self {
        PodIdentityCluster {
            name: name.to_string(),
            arn: format!("arn:{partition}:eks:{region}:{account}:cluster/{name}"),
        }
    }
}

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

/// The Pod Identity statement: `pods.eks.amazonaws.com` may `sts:AssumeRole` and
/// `sts:TagSession` only with the session tags EKS passes for `namespace/service_account` of
/// `cluster`. EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity"
/// (<https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html>): principal and
/// actions, and conditions on the request tags; the tags are listed in "Grant Pods access to
/// AWS resources based on tags" (<https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html>):
/// `eks-cluster-arn`, `eks-cluster-name`, `kubernetes-namespace`,
/// `kubernetes-service-account`, `kubernetes-pod-name`, `kubernetes-pod-uid`. The cluster ARN
/// pins the region and account, so a cluster of the same name elsewhere is not admitted.
pub fn pod_identity_statement(
    cluster: &PodIdentityCluster,
    namespace: &str,
    service_account: &str,
) -> Value {
    let mut conditions = serde_json::Map::new();
    conditions.insert(
        CLUSTER_ARN_TAG.to_string(),
        Value::String(cluster.arn.clone()),
    );
    conditions.insert(
        CLUSTER_NAME_TAG.to_string(),
        Value::String(cluster.name.clone()),
    );
    conditions.insert(
        NAMESPACE_TAG.to_string(),
        Value::String(namespace.to_string()),
    );
    conditions.insert(
        SERVICE_ACCOUNT_TAG.to_string(),
        Value::String(service_account.to_string()),
    );
    json!({
        "Sid": POD_IDENTITY_SID,
        "Effect": "Allow",
        "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {"StringEquals": conditions},
    })
}

/// What the trust policy serves: IRSA through `oidc` (with `audience`), Pod Identity for
/// `cluster`, or both.
#[derive(Clone, Copy, Debug)]
pub struct Mechanisms<'a> {
    /// IRSA: the OIDC provider and the audience.
    pub irsa: Option<(&'a OidcProviderArn, &'a str)>,
    /// Pod Identity: the cluster.
    pub pod_identity: Option<&'a PodIdentityCluster>,
}

/// The trust policy for `mechanisms`: the IRSA statement (exactly [`document`]'s), then the Pod
/// Identity statement. With IRSA only it is [`document`] itself.
pub fn document_for(mechanisms: Mechanisms<'_>, namespace: &str, service_account: &str) -> Value {
    let mut policy = match mechanisms.irsa {
        Some((oidc, audience)) => document(oidc, namespace, service_account, audience),
        None => json!({"Version": "2012-10-17", "Statement": []}),
    };
    if let Some(cluster) = mechanisms.pod_identity
        && let Some(Value::Array(statements)) = policy.get_mut("Statement")
    {
        statements.push(pod_identity_statement(cluster, namespace, service_account));
    }
    policy
}

/// A policy with the statements of both `a` and `b` (each once, `a`'s first): the trust a
/// mechanism switch writes first, so that neither mechanism stops working before the new one
/// is in place. `None` when either does not parse.
pub fn union(a: &str, b: &str) -> Option<String> {
    let statements = |text: &str| policy::statements(&policy::parse_policy(text).ok()?);
    let mut all = statements(a)?;
    for statement in statements(b)? {
        if !all.contains(&statement) {
            all.push(statement);
        }
    }
    Some(json!({"Version": "2012-10-17", "Statement": all}).to_string())
}

/// The cluster ARN the Pod Identity statement of a trust policy admits (its
/// `aws:RequestTag/eks-cluster-arn` condition), when it has one.
pub fn pod_identity_cluster_arn(document: &str) -> Option<String> {
    pod_identity_condition(document, CLUSTER_ARN_TAG)
}

/// The cluster name the Pod Identity statement of a trust policy admits (its
/// `aws:RequestTag/eks-cluster-name` condition), when it has one: how import learns
/// `pod_identity.cluster_name`.
pub fn pod_identity_cluster(document: &str) -> Option<String> {
    pod_identity_condition(document, CLUSTER_NAME_TAG)
}

/// The single `StringEquals` value of `key` in the Pod Identity statement of `document`.
fn pod_identity_condition(document: &str, key: &str) -> Option<String> {
    let statements = policy::statements(&policy::parse_policy(document).ok()?)?;
    statements.iter().find_map(|statement| {
        let service = statement.pointer("/Principal/Service")?;
        let is_pods = match service {
            Value::String(s) => s == POD_IDENTITY_PRINCIPAL,
            Value::Array(items) => items.iter().any(|s| s == POD_IDENTITY_PRINCIPAL),
            _ => false,
        };
        if !is_pods {
            return None;
        }
        policy::single_string(statement.pointer("/Condition/StringEquals")?.get(key)?)
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
    let statements = policy::statements(&policy::parse_policy(document).ok()?)?;
    // The one statement with a federated principal (a Pod Identity statement may stand beside
    // it); two of them is not a shape this provider writes.
    let federated_statements: Vec<&Value> = statements
        .iter()
        .filter(|s| s.pointer("/Principal/Federated").is_some())
        .collect();
    let [statement] = federated_statements.as_slice() else {
        return None;
    };
    let federated = policy::single_string(statement.pointer("/Principal/Federated")?)?;
    let issuer = OidcProviderArn::parse(&federated).ok()?.issuer_host_path;
    let equals = statement.pointer("/Condition/StringEquals");
    let condition = |key: &str| policy::single_string(equals?.get(format!("{issuer}:{key}"))?);
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

    fn cluster() -> PodIdentityCluster {
        PodIdentityCluster::new(
            Partition::Aws,
            "us-east-1",
            "123456789012",
            "gitlabrunner-acc",
        )
    }

    #[test]
    fn irsa_only_is_exactly_the_earlier_document() {
        let oidc = oidc(EKS);
        let only = Mechanisms {
            irsa: Some((&oidc, "sts.amazonaws.com")),
            pod_identity: None,
        };
        assert_eq!(
            document_for(only, "ci", "runner",).to_string(),
            document_text(&oidc, "ci", "runner", "sts.amazonaws.com")
        );
        // As 0.1.0 stored it, byte for byte.
        assert_eq!(
            document_text(&oidc, "ci", "runner", "sts.amazonaws.com"),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub":"system:serviceaccount:ci:runner","oidc.eks.eu-west-1.amazonaws.com/id/ABC123:aud":"sts.amazonaws.com"}}}]}"#
        );
    }

    #[test]
    fn pod_identity_statement_admits_exactly_one_service_account_of_one_cluster() {
        let doc = document_for(
            Mechanisms {
                irsa: None,
                pod_identity: Some(&cluster()),
            },
            "ci",
            "runner",
        );
        assert_eq!(
            doc,
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "EksPodIdentity",
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {"StringEquals": {
                        "aws:RequestTag/eks-cluster-arn":
                            "arn:aws:eks:us-east-1:123456789012:cluster/gitlabrunner-acc",
                        "aws:RequestTag/eks-cluster-name": "gitlabrunner-acc",
                        "aws:RequestTag/kubernetes-namespace": "ci",
                        "aws:RequestTag/kubernetes-service-account": "runner",
                    }},
                }],
            })
        );
        assert_eq!(
            pod_identity_cluster(&doc.to_string()).as_deref(),
            Some("gitlabrunner-acc")
        );
        assert_eq!(admits(&doc.to_string()), None, "no OIDC statement");
    }

    #[test]
    fn both_mechanisms_keep_the_irsa_statement_first_and_readable() {
        let oidc = oidc(EKS);
        let text = document_for(
            Mechanisms {
                irsa: Some((&oidc, "sts.amazonaws.com")),
                pod_identity: Some(&cluster()),
            },
            "ci",
            "runner",
        )
        .to_string();
        let admitted = admits(&text).unwrap();
        assert_eq!(admitted.oidc_provider_arn, EKS);
        assert_eq!(
            admitted.subject.as_deref(),
            Some("system:serviceaccount:ci:runner")
        );
        assert_eq!(
            pod_identity_cluster(&text).as_deref(),
            Some("gitlabrunner-acc")
        );
        let irsa_only = document_text(&oidc, "ci", "runner", "sts.amazonaws.com");
        assert_eq!(pod_identity_cluster(&irsa_only), None);
        // The union of IRSA-only and both is both; of two clusters, both statements.
        let merged = union(&irsa_only, &text).unwrap();
        assert!(policy::equivalent(&merged, &text));
        let other = PodIdentityCluster::new(Partition::Aws, "us-east-1", "123456789012", "b");
        let b = document_for(
            Mechanisms {
                irsa: None,
                pod_identity: Some(&other),
            },
            "ci",
            "runner",
        )
        .to_string();
        let merged: serde_json::Value = serde_json::from_str(&union(&text, &b).unwrap()).unwrap();
        assert_eq!(merged["Statement"].as_array().unwrap().len(), 3);
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
