//! What EKS and STS check before EKS Pod Identity hands a pod the role's credentials, checked
//! locally so that a miswiring is named instead of ending in "AccessDeniedException":
//! - the ServiceAccount token: its signature against the cluster's JWKS, `exp`/`nbf`, the
//!   audience `pods.eks.amazonaws.com` and the subject `system:serviceaccount:NS:NAME`
//!   (EKS Auth API reference, `AssumeRoleForPodIdentity`,
//!   <https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html>);
//! - the role's trust policy as IAM holds it, evaluated for the principal
//!   `Service: pods.eks.amazonaws.com` and both actions EKS needs, `sts:AssumeRole` and
//!   `sts:TagSession` ("Create IAM role with trust policy required by EKS Pod Identity",
//!   <https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html>), with the session tags
//!   EKS adds ("List of session tags added by EKS Pod Identity",
//!   <https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html>) and the source of the
//!   call, the cluster (`aws:SourceAccount`, `aws:SourceArn`,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcearn>;
//!   scoped to the cluster as in terraform-aws-modules/terraform-aws-eks#3743);
//! - that the trust admits only this ServiceAccount: a Pod Identity statement without
//!   conditions on the namespace, ServiceAccount and cluster lets every association in the
//!   account use the role.
//!
//! `verify` has a token but no pod, so EKS would pass no `kubernetes-pod-name` or
//! `kubernetes-pod-uid` tag: a trust policy that requires them cannot be verified this way,
//! and the failure says so.
//!
//! Every failure names the statement, the condition key, the expected value and the value
//! found.

use crate::aws::Partition;
use crate::jwt::{Jwks, TokenError, UnverifiedToken};
use crate::trust_eval::{
    Decision, Effect, Listed, MissReason, Principal, PrincipalKind, Request, TrustDocument,
    Widening, evaluate, unconstrained,
};

/// The audience of the tokens EKS Auth accepts, and the service principal EKS assumes roles as.
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";
/// The actions EKS Pod Identity needs the trust policy to allow.
pub const ACTIONS: [&str; 2] = ["sts:AssumeRole", "sts:TagSession"];
/// The session tags that only a pod's token yields.
pub const POD_TAGS: [&str; 2] = ["kubernetes-pod-name", "kubernetes-pod-uid"];

/// The session tags EKS passes to STS for a ServiceAccount's token without a pod, and where the
/// call comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodIdentitySession {
    /// The cluster's account.
    pub account: String,
    /// `eks-cluster-arn`, also `aws:SourceArn`.
    pub cluster_arn: String,
    /// `eks-cluster-name`.
    pub cluster_name: String,
    /// `kubernetes-namespace`.
    pub namespace: String,
    /// `kubernetes-service-account`.
    pub service_account: String,
}

impl PodIdentitySession {
    /// The session for ServiceAccount `namespace/service_account` of cluster `cluster_name` in
    /// `region` of `account`.
    pub fn new(
        partition: Partition,
        region: &str,
        account: &str,
        cluster_name: &str,
        namespace: &str,
        service_account: &str,
    ) -> PodIdentitySession {
        PodIdentitySession {
            account: account.to_string(),
            cluster_arn: format!(
                "arn:{}:eks:{region}:{account}:cluster/{cluster_name}",
                partition.as_str()
            ),
            cluster_name: cluster_name.to_string(),
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
        }
    }

    /// The session tags, by key.
    pub fn tags(&self) -> [(&'static str, &str); 4] {
        [
            ("eks-cluster-arn", &self.cluster_arn),
            ("eks-cluster-name", &self.cluster_name),
            ("kubernetes-namespace", &self.namespace),
            ("kubernetes-service-account", &self.service_account),
        ]
    }

    /// The request STS evaluates for `action`: the tags as `aws:RequestTag/KEY` and
    /// `aws:TagKeys`, and the cluster as `aws:SourceAccount` and `aws:SourceArn`.
    pub fn request(&self, action: &str) -> Request {
        let principal = Principal {
            kind: PrincipalKind::Service,
            value: POD_IDENTITY_SERVICE.to_string(),
        };
        let mut request = Request::new(principal, action)
            .with("aws:SourceAccount", &[&self.account])
            .with("aws:SourceArn", &[&self.cluster_arn]);
        for (key, value) in self.tags() {
            request = request.with(&format!("aws:RequestTag/{key}"), &[value]);
        }
        let keys: Vec<&str> = self.tags().iter().map(|(key, _)| *key).collect();
        request.with("aws:TagKeys", &keys)
    }

    /// The token subject of the ServiceAccount.
    pub fn subject(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }
}

/// A check EKS Pod Identity would fail, or a trust wider than the binding allows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PodIdentityError {
    /// The token does not verify (signature, key, `exp`, `nbf`).
    #[error("the ServiceAccount token is refused: {0}")]
    Token(#[from] TokenError),
    /// The token is not for EKS Pod Identity.
    #[error(
        "the token's aud claim is {found:?}, but EKS Auth accepts only tokens for \
         \"{POD_IDENTITY_SERVICE}\""
    )]
    Audience {
        /// The token's audiences.
        found: Vec<String>,
    },
    /// The token is another ServiceAccount's.
    #[error("the token's sub claim is {found:?}, expected {expected:?}")]
    Subject {
        /// `system:serviceaccount:NS:NAME`.
        expected: String,
        /// The token's `sub`.
        found: String,
    },
    /// The trust policy does not admit one of the actions.
    #[error("{0}")]
    Trust(Box<TrustRefusal>),
    /// The trust admits this ServiceAccount, and others too.
    #[error(
        "the trust policy IAM holds for role {role} admits ServiceAccount {id}, but not only \
         it: {}. EKS Pod Identity would give the role to every association that names it; \
         a Pod Identity statement must require aws:RequestTag/kubernetes-namespace, \
         aws:RequestTag/kubernetes-service-account and the cluster (aws:RequestTag/eks-cluster-name, \
         aws:RequestTag/eks-cluster-arn or aws:SourceArn) with StringEquals or ArnEquals",
        widenings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    TooWide {
        /// The role's name.
        role: String,
        /// `NAMESPACE/NAME`.
        id: String,
        /// What is left open.
        widenings: Vec<Widening>,
    },
    /// The trust policy cannot be read as a policy.
    #[error("the trust policy IAM holds for role {role} cannot be evaluated: {problem}")]
    TrustUnreadable {
        /// The role's name.
        role: String,
        /// What is wrong.
        problem: String,
    },
    /// EKS Auth answered for another ServiceAccount.
    #[error("EKS Auth answered for ServiceAccount {found}, not for {expected}")]
    OtherSubject {
        /// `NAMESPACE/NAME` of the binding.
        expected: String,
        /// `NAMESPACE/NAME` of EKS Auth's `subject`.
        found: String,
    },
    /// EKS Auth gave credentials of another role.
    #[error(
        "EKS Auth answered with credentials of {found}, not of role {expected}: the Pod \
         Identity association {association} for ServiceAccount {id} names another role"
    )]
    OtherRole {
        /// The binding's role name.
        expected: String,
        /// The assumed-role ARN EKS Auth returned.
        found: String,
        /// The association id EKS Auth returned.
        association: String,
        /// `NAMESPACE/NAME`.
        id: String,
    },
}

/// Why the trust policy refuses what EKS asks STS for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the trust policy IAM holds for role {role} does not admit {action} by Service \
     {POD_IDENTITY_SERVICE} with the session tags EKS passes for ServiceAccount \
     {namespace}/{service_account} of cluster {cluster}: {decision}{hint}"
)]
pub struct TrustRefusal {
    /// The role's name.
    pub role: String,
    /// The action refused.
    pub action: String,
    /// The cluster name.
    pub cluster: String,
    /// The namespace.
    pub namespace: String,
    /// The ServiceAccount.
    pub service_account: String,
    /// Why.
    pub decision: Decision,
    /// Why this is a usual miswiring, when it is one (starts with `. `).
    pub hint: String,
}

/// The token's claims once its signature, lifetime, audience and subject are checked.
pub fn check_token(
    token: &str,
    jwks: Option<&Jwks>,
    now: i64,
    session: &PodIdentitySession,
) -> Result<UnverifiedToken, PodIdentityError> {
    let parsed = UnverifiedToken::parse(token)?;
    if let Some(jwks) = jwks {
        parsed.verify_signature(jwks)?;
    }
    parsed.check_time(now)?;
    let audiences = parsed.claims.audiences();
    if !audiences.iter().any(|aud| aud == POD_IDENTITY_SERVICE) {
        return Err(PodIdentityError::Audience { found: audiences });
    }
    let subject = parsed.claims.subject().unwrap_or_default();
    if subject != session.subject() {
        return Err(PodIdentityError::Subject {
            expected: session.subject(),
            found: subject.to_string(),
        });
    }
    Ok(parsed)
}

/// Evaluates the trust policy `document` of role `role` for both actions EKS needs, then
/// checks that it admits no other ServiceAccount.
pub fn check_trust(
    role: &str,
    document: &str,
    session: &PodIdentitySession,
) -> Result<(), PodIdentityError> {
    let parsed = TrustDocument::parse(document).map_err(|e| PodIdentityError::TrustUnreadable {
        role: role.to_string(),
        problem: e.to_string(),
    })?;
    for action in ACTIONS {
        let decision = evaluate(&parsed, &session.request(action));
        if !decision.is_allowed() {
            return Err(PodIdentityError::Trust(Box::new(TrustRefusal {
                role: role.to_string(),
                action: action.to_string(),
                cluster: session.cluster_name.clone(),
                namespace: session.namespace.clone(),
                service_account: session.service_account.clone(),
                hint: refusal_hint(&decision, action),
                decision,
            })));
        }
    }
    let widenings = too_wide(&parsed, session);
    match widenings.is_empty() {
        true => Ok(()),
        false => Err(PodIdentityError::TooWide {
            role: role.to_string(),
            id: format!("{}/{}", session.namespace, session.service_account),
            widenings,
        }),
    }
}

/// What the `Allow` statements that trust EKS Pod Identity leave open: a key of the namespace,
/// the ServiceAccount or the cluster without a positive condition, a wildcard pattern, or any
/// principal.
fn too_wide(document: &TrustDocument, session: &PodIdentitySession) -> Vec<Widening> {
    let principal = session.request(ACTIONS[0]).principal;
    let tag = |key: &str| format!("aws:RequestTag/{key}");
    let required = [
        tag("kubernetes-namespace"),
        tag("kubernetes-service-account"),
    ];
    let cluster_keys = [
        tag("eks-cluster-name"),
        tag("eks-cluster-arn"),
        "aws:SourceArn".to_string(),
    ];
    let mut found = Vec::new();
    for statement in &document.statements {
        let trusts_eks = match &statement.principals {
            Listed::Only(patterns) => patterns.iter().any(|p| p.matches(&principal)),
            Listed::AllBut(patterns) => !patterns.iter().any(|p| p.matches(&principal)),
            Listed::Absent => false,
        };
        if statement.effect != Effect::Allow || !trusts_eks {
            continue;
        }
        found.extend(unconstrained(statement, &required));
        // The cluster may be named by any one of its keys.
        let cluster_open: Vec<Vec<Widening>> = cluster_keys
            .iter()
            .map(|key| unconstrained(statement, std::slice::from_ref(key)))
            .collect();
        if cluster_open.iter().all(|open| !open.is_empty()) {
            found.extend(cluster_open.into_iter().next().unwrap_or_default());
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The usual miswiring behind a refusal: the `sts:TagSession` action missing, or a condition
/// on a tag only a pod's token yields.
fn refusal_hint(decision: &Decision, action: &str) -> String {
    let Decision::ImplicitlyDenied { misses } = decision else {
        return String::new();
    };
    let tag_session_missing = action == ACTIONS[1]
        && misses
            .iter()
            .any(|m| matches!(m.reason, MissReason::Action { .. }));
    if tag_session_missing {
        return ". EKS Pod Identity always tags the session it asks STS for, so the trust \
                policy must allow sts:TagSession as well as sts:AssumeRole"
            .to_string();
    }
    let pod_tag = misses.iter().find_map(|m| match &m.reason {
        MissReason::Condition(failure) => POD_TAGS
            .iter()
            .find(|tag| {
                failure
                    .key
                    .eq_ignore_ascii_case(&format!("aws:RequestTag/{tag}"))
            })
            .copied(),
        _ => None,
    });
    match pod_tag {
        Some(tag) => format!(
            ". EKS passes {tag} only for a pod's token; verify mints a token without a pod, \
             so a trust policy that requires it cannot be verified"
        ),
        None => String::new(),
    }
}

/// Checks that EKS Auth's credentials are the binding's role's: `arn:PARTITION:sts::ACCOUNT:
/// assumed-role/ROLE/SESSION` of the role's account and name.
pub fn check_assumed_role(
    role_arn: &str,
    role_name: &str,
    id: &str,
    assumed_role_arn: &str,
    association: &str,
) -> Result<(), PodIdentityError> {
    let account = crate::aws::Arn::parse(role_arn)
        .map(|arn| arn.account)
        .unwrap_or_default();
    let matches = crate::aws::Arn::parse(assumed_role_arn).is_ok_and(|arn| {
        arn.service == "sts"
            && arn.account == account
            && arn
                .resource
                .strip_prefix("assumed-role/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(name, _)| name == role_name)
    });
    match matches {
        true => Ok(()),
        false => Err(PodIdentityError::OtherRole {
            expected: role_arn.to_string(),
            found: assumed_role_arn.to_string(),
            association: association.to_string(),
            id: id.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn session() -> PodIdentitySession {
        PodIdentitySession::new(
            Partition::Aws,
            "us-east-1",
            "123456789012",
            "ci",
            "ci-runner",
            "gitlab-runner",
        )
    }

    /// The statement the EKS user guide shows, scoped to one ServiceAccount of one cluster.
    fn exact() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "EksPodIdentity",
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:RequestTag/eks-cluster-name": "ci",
                    "aws:RequestTag/kubernetes-namespace": "ci-runner",
                    "aws:RequestTag/kubernetes-service-account": "gitlab-runner",
                    "aws:SourceAccount": "123456789012",
                },
                "ArnEquals": {"aws:SourceArn": "arn:aws:eks:us-east-1:123456789012:cluster/ci"},
            },
        }]})
    }

    fn check(document: &Value) -> Result<(), String> {
        check_trust("r", &document.to_string(), &session()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_session_carries_the_tags_eks_documents_and_the_cluster_as_source() {
        let request = session().request("sts:TagSession");
        let value = |key: &str| request.values(key).unwrap().to_vec();
        assert_eq!(
            value("aws:RequestTag/eks-cluster-arn"),
            ["arn:aws:eks:us-east-1:123456789012:cluster/ci"]
        );
        assert_eq!(value("aws:RequestTag/eks-cluster-name"), ["ci"]);
        assert_eq!(value("aws:RequestTag/kubernetes-namespace"), ["ci-runner"]);
        assert_eq!(
            value("aws:RequestTag/kubernetes-service-account"),
            ["gitlab-runner"]
        );
        assert_eq!(value("aws:SourceAccount"), ["123456789012"]);
        assert_eq!(
            value("aws:SourceArn"),
            ["arn:aws:eks:us-east-1:123456789012:cluster/ci"]
        );
        assert_eq!(value("aws:TagKeys").len(), 4);
        assert!(
            request
                .values("aws:RequestTag/kubernetes-pod-name")
                .is_none()
        );
        assert_eq!(
            PodIdentitySession::new(Partition::AwsCn, "cn-north-1", "1", "c", "n", "s").cluster_arn,
            "arn:aws-cn:eks:cn-north-1:1:cluster/c"
        );
    }

    #[test]
    fn the_exact_statement_and_its_cluster_arn_variant_pass() {
        assert_eq!(check(&exact()), Ok(()));
        let mut by_arn = exact();
        let conditions = &mut by_arn["Statement"][0]["Condition"];
        conditions["StringEquals"]
            .as_object_mut()
            .unwrap()
            .remove("aws:RequestTag/eks-cluster-name");
        conditions.as_object_mut().unwrap().remove("ArnEquals");
        conditions["StringEquals"]["aws:RequestTag/eks-cluster-arn"] =
            json!("arn:aws:eks:us-east-1:123456789012:cluster/ci");
        assert_eq!(check(&by_arn), Ok(()));
    }

    #[test]
    fn another_namespace_names_statement_key_expected_and_found() {
        let mut other = exact();
        other["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-namespace"] =
            json!("ci-other");
        assert_eq!(
            check(&other).unwrap_err(),
            "the trust policy IAM holds for role r does not admit sts:AssumeRole by Service \
             pods.eks.amazonaws.com with the session tags EKS passes for ServiceAccount \
             ci-runner/gitlab-runner of cluster ci: denied: no Allow statement applies; \
             \"EksPodIdentity\": condition StringEquals on key \
             \"aws:RequestTag/kubernetes-namespace\" expects \"ci-other\" but the request has \
             \"ci-runner\""
        );
    }

    #[test]
    fn another_clusters_arn_is_named() {
        let mut other = exact();
        other["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] =
            json!("arn:aws:eks:us-east-1:123456789012:cluster/prod");
        let error = check(&other).unwrap_err();
        assert!(
            error.ends_with(
                "condition ArnEquals on key \"aws:SourceArn\" expects \
                 \"arn:aws:eks:us-east-1:123456789012:cluster/prod\" but the request has \
                 \"arn:aws:eks:us-east-1:123456789012:cluster/ci\""
            ),
            "{error}"
        );
    }

    #[test]
    fn a_missing_tag_session_action_is_named_with_why_it_is_needed() {
        let mut assume_only = exact();
        assume_only["Statement"][0]["Action"] = json!("sts:AssumeRole");
        assert_eq!(
            check(&assume_only).unwrap_err(),
            "the trust policy IAM holds for role r does not admit sts:TagSession by Service \
             pods.eks.amazonaws.com with the session tags EKS passes for ServiceAccount \
             ci-runner/gitlab-runner of cluster ci: denied: no Allow statement applies; \
             \"EksPodIdentity\": the action sts:TagSession is not among sts:AssumeRole. EKS \
             Pod Identity always tags the session it asks STS for, so the trust policy must \
             allow sts:TagSession as well as sts:AssumeRole"
        );
    }

    #[test]
    fn a_trust_without_session_tag_conditions_is_too_wide() {
        let mut open = exact();
        open["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Condition");
        assert_eq!(
            check(&open).unwrap_err(),
            "the trust policy IAM holds for role r admits ServiceAccount \
             ci-runner/gitlab-runner, but not only it: \"EksPodIdentity\" has no condition on \
             \"aws:RequestTag/eks-cluster-name\": any value of it is admitted; \
             \"EksPodIdentity\" has no condition on \"aws:RequestTag/kubernetes-namespace\": \
             any value of it is admitted; \"EksPodIdentity\" has no condition on \
             \"aws:RequestTag/kubernetes-service-account\": any value of it is admitted. EKS \
             Pod Identity would give the role to every association that names it; a Pod \
             Identity statement must require aws:RequestTag/kubernetes-namespace, \
             aws:RequestTag/kubernetes-service-account and the cluster \
             (aws:RequestTag/eks-cluster-name, aws:RequestTag/eks-cluster-arn or \
             aws:SourceArn) with StringEquals or ArnEquals"
        );
        // A second, open statement widens an exact one too; a wildcard does as well.
        let mut second = exact();
        second["Statement"].as_array_mut().unwrap().push(
            json!({"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"},
                         "Action": ["sts:AssumeRole", "sts:TagSession"]}),
        );
        assert!(check(&second).unwrap_err().contains("Statement[1]"));
        let mut like = exact();
        let conditions = &mut like["Statement"][0]["Condition"];
        conditions["StringEquals"]
            .as_object_mut()
            .unwrap()
            .remove("aws:RequestTag/kubernetes-service-account");
        conditions["StringLike"] = json!({"aws:RequestTag/kubernetes-service-account": "*"});
        assert!(check(&like).unwrap_err().contains(
            "matches \"aws:RequestTag/kubernetes-service-account\" with StringLike \"*\""
        ));
    }

    #[test]
    fn a_condition_on_a_pod_tag_says_verify_cannot_pass_it() {
        let mut pods = exact();
        pods["Statement"][0]["Condition"]["StringLike"] =
            json!({"aws:RequestTag/kubernetes-pod-name": "runner-*"});
        let error = check(&pods).unwrap_err();
        assert!(
            error.ends_with(
                "but the request has no such key. EKS passes kubernetes-pod-name only for a \
                 pod's token; verify mints a token without a pod, so a trust policy that \
                 requires it cannot be verified"
            ),
            "{error}"
        );
    }

    #[test]
    fn only_the_bindings_role_passes_the_assumed_role_check() {
        let role = "arn:aws:iam::123456789012:role/ci/runner";
        let ok = "arn:aws:sts::123456789012:assumed-role/runner/eks-ci-x";
        assert_eq!(check_assumed_role(role, "runner", "n/s", ok, "a-1"), Ok(()));
        for other in [
            "arn:aws:sts::123456789012:assumed-role/other/eks-ci-x",
            "arn:aws:sts::210987654321:assumed-role/runner/eks-ci-x",
            "not an arn",
        ] {
            let error = check_assumed_role(role, "runner", "n/s", other, "a-1").unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "EKS Auth answered with credentials of {other}, not of role {role}: the \
                     Pod Identity association a-1 for ServiceAccount n/s names another role"
                )
            );
        }
    }
}
