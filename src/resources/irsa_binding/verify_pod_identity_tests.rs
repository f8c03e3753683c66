//! `verify` in EKS Pod Identity mode against the fakes: it passes for the trust the EKS user
//! guide describes, scoped to the ServiceAccount; each miswiring is named by the local checks
//! (statement, key, expected value, value found) before EKS Auth is asked; and EKS Auth's own
//! refusals end in a diagnostic that says what to check.

use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::codec::Value;
use crate::concurrency::Fanout;

use super::create::create;
use super::eks_auth::NoEksAuth;
use super::fake::Fake;
use super::fake_eks_auth::FakeEksAuth;
use super::model::{Binding, PodIdentity};
use super::remote::{Iam, Remote, RoleSpec};
use super::testing::{OIDC, fake_remote, manager_config, plan};
use super::verify::verify;

const NAMESPACES: [&str; 4] = ["ci-runner", "ci-jobs", "ci-jobs-2", "ci-jobs-3"];
const ROLE: &str = "ci-runner-gitlab-runner";
const CLUSTER: &str = "gitlabrunner-acc";
const CLUSTER_ARN: &str = "arn:aws:eks:us-east-1:123456789012:cluster/gitlabrunner-acc";
const KEY: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";
const SUB: &str = "system:serviceaccount:ci-runner:gitlab-runner";

fn remote<'a>(fake: &'a Fake, eks_auth: &'a FakeEksAuth<'a>) -> Remote<'a> {
    fake_remote(fake, eks_auth, Fanout::Concurrent, Duration::from_secs(20))
}

/// The Pod Identity statement for ServiceAccount `namespace/name` of the test cluster.
fn pod_identity_statement(namespace: &str, name: &str) -> Json {
    json!({
        "Sid": "EksPodIdentity",
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-name": CLUSTER,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": name,
                "aws:SourceAccount": "123456789012",
            },
            "ArnEquals": {"aws:SourceArn": CLUSTER_ARN},
        },
    })
}

fn irsa_statement() -> Json {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": OIDC},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{KEY}:sub"): SUB,
            format!("{KEY}:aud"): "sts.amazonaws.com",
        }},
    })
}

fn set_trust(fake: &Fake, statements: Vec<Json>) {
    let document = json!({"Version": "2012-10-17", "Statement": statements});
    fake.edit(|w| w.role(ROLE).unwrap().trust_policy = document.to_string());
}

/// A created binding in Pod Identity mode (`irsa` as given), its role associated with the
/// ServiceAccount and trusting it as pi-provider writes the trust.
async fn binding(fake: &Fake, eks_auth: &FakeEksAuth<'_>, irsa: bool) -> Binding {
    let (change, diags) = plan(&Value::Null, &manager_config());
    assert!(!diags.has_errors(), "{diags:?}");
    let without_eks_auth = Remote {
        eks_auth: &NoEksAuth,
        ..remote(fake, eks_auth)
    };
    let outcome = create(&without_eks_auth, &Binding::from_value(&change.planned)).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let mut binding = outcome.state.unwrap();
    binding.irsa = irsa;
    binding.pod_identity = Some(PodIdentity {
        cluster_name: CLUSTER.into(),
        ..PodIdentity::default()
    });
    let mut statements = vec![pod_identity_statement("ci-runner", "gitlab-runner")];
    if irsa {
        statements.insert(0, irsa_statement());
    }
    set_trust(fake, statements);
    eks_auth.associate("ci-runner", "gitlab-runner", &binding.role_arn);
    binding
}

/// The error `verify` ends with, and whether EKS Auth was asked.
async fn refused(fake: &Fake, eks_auth: &FakeEksAuth<'_>, binding: &Binding) -> (String, bool) {
    let error = verify(&remote(fake, eks_auth), binding)
        .await
        .expect_err("verify refuses the miswiring");
    (error.to_string(), !eks_auth.calls().is_empty())
}

fn would_be_refused(binding: &Binding, why: &str) -> String {
    format!(
        "verification failed: a token for ServiceAccount ci-runner/gitlab-runner (audience \
         \"pods.eks.amazonaws.com\") would be refused by EKS Pod Identity for {}: {why}.",
        binding.role_arn
    )
}

#[tokio::test(start_paused = true)]
async fn pod_identity_only_mints_a_pod_identity_token_and_exchanges_it_with_eks_auth() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    let before = fake.calls().len();
    let verified = verify(&remote(&fake, &eks_auth), &binding).await.unwrap();
    let expected = format!("arn:aws:sts::123456789012:assumed-role/{ROLE}/eks-{CLUSTER}-verify");
    assert_eq!(verified.identity_arn, expected);
    assert_eq!(
        verified.pod_identity_arn.as_deref(),
        Some(expected.as_str())
    );
    assert!(verified.skipped.is_empty(), "{:?}", verified.skipped);
    assert_eq!(
        eks_auth.calls(),
        [format!("eks-auth:AssumeRoleForPodIdentity {CLUSTER}")]
    );
    let calls = fake.calls()[before..].to_vec();
    assert_eq!(
        calls,
        [
            "kube:create token ci-runner/gitlab-runner",
            "kube:get /openid/v1/jwks",
            &format!("iam:GetRole {ROLE}"),
        ],
        "no IRSA call: no OIDC provider read, no AssumeRoleWithWebIdentity"
    );
}

#[tokio::test(start_paused = true)]
async fn mode_both_verifies_both_mechanisms_and_reads_the_keys_once() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, true).await;
    let before = fake.calls().len();
    let verified = verify(&remote(&fake, &eks_auth), &binding).await.unwrap();
    assert_eq!(
        verified.identity_arn,
        format!("arn:aws:sts::123456789012:assumed-role/{ROLE}/gitlabrunner-verify")
    );
    assert_eq!(
        verified.pod_identity_arn,
        Some(format!(
            "arn:aws:sts::123456789012:assumed-role/{ROLE}/eks-{CLUSTER}-verify"
        ))
    );
    let calls = fake.calls()[before..].to_vec();
    let count = |prefix: &str| calls.iter().filter(|c| c.starts_with(prefix)).count();
    assert_eq!(count("kube:create token"), 2, "{calls:?}");
    assert_eq!(count("kube:get /openid/v1/jwks"), 1, "{calls:?}");
    assert_eq!(count("sts:AssumeRoleWithWebIdentity"), 1, "{calls:?}");
    assert_eq!(eks_auth.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn mode_both_names_the_failures_of_both_mechanisms() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, true).await;
    let mut irsa = irsa_statement();
    irsa["Condition"]["StringEquals"][format!("{KEY}:sub")] =
        json!("system:serviceaccount:ci-runner:other");
    set_trust(
        &fake,
        vec![irsa, pod_identity_statement("ci-other", "gitlab-runner")],
    );
    let (error, _) = refused(&fake, &eks_auth, &binding).await;
    assert!(error.contains("would be refused by STS for"), "{error}");
    assert!(
        error.contains(" And a token for ServiceAccount ci-runner/gitlab-runner (audience \"pods.eks.amazonaws.com\") would be refused by EKS Pod Identity"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_trust_without_the_session_tag_conditions_for_this_service_account_fails() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    let mut open = pod_identity_statement("ci-runner", "gitlab-runner");
    open.as_object_mut().unwrap().remove("Condition");
    set_trust(&fake, vec![open]);
    let (error, asked_eks_auth) = refused(&fake, &eks_auth, &binding).await;
    assert!(
        !asked_eks_auth,
        "EKS Auth would hand out credentials: the check stops first"
    );
    assert_eq!(
        error,
        would_be_refused(
            &binding,
            &format!(
                "the trust policy IAM holds for role {ROLE} admits ServiceAccount \
                 ci-runner/gitlab-runner, but not only it: \"EksPodIdentity\" has no condition \
                 on \"aws:RequestTag/eks-cluster-name\": any value of it is admitted; \
                 \"EksPodIdentity\" has no condition on \
                 \"aws:RequestTag/kubernetes-namespace\": any value of it is admitted; \
                 \"EksPodIdentity\" has no condition on \
                 \"aws:RequestTag/kubernetes-service-account\": any value of it is admitted. \
                 EKS Pod Identity would give the role to every association that names it; a \
                 Pod Identity statement must require aws:RequestTag/kubernetes-namespace, \
                 aws:RequestTag/kubernetes-service-account and the cluster \
                 (aws:RequestTag/eks-cluster-name, aws:RequestTag/eks-cluster-arn or \
                 aws:SourceArn) with StringEquals or ArnEquals"
            )
        )
    );
}

#[tokio::test(start_paused = true)]
async fn another_namespaces_tag_is_named_with_key_expected_and_found() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    set_trust(
        &fake,
        vec![pod_identity_statement("ci-jobs", "gitlab-runner")],
    );
    let (error, asked_eks_auth) = refused(&fake, &eks_auth, &binding).await;
    assert!(!asked_eks_auth);
    assert_eq!(
        error,
        would_be_refused(
            &binding,
            &format!(
                "the trust policy IAM holds for role {ROLE} does not admit sts:AssumeRole by \
                 Service pods.eks.amazonaws.com with the session tags EKS passes for \
                 ServiceAccount ci-runner/gitlab-runner of cluster {CLUSTER}: denied: no Allow \
                 statement applies; \"EksPodIdentity\": condition StringEquals on key \
                 \"aws:RequestTag/kubernetes-namespace\" expects \"ci-jobs\" but the request \
                 has \"ci-runner\""
            )
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_tag_session_action_is_named() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    let mut assume_only = pod_identity_statement("ci-runner", "gitlab-runner");
    assume_only["Action"] = json!(["sts:AssumeRole"]);
    set_trust(&fake, vec![assume_only]);
    let (error, asked_eks_auth) = refused(&fake, &eks_auth, &binding).await;
    assert!(!asked_eks_auth);
    assert_eq!(
        error,
        would_be_refused(
            &binding,
            &format!(
                "the trust policy IAM holds for role {ROLE} does not admit sts:TagSession by \
                 Service pods.eks.amazonaws.com with the session tags EKS passes for \
                 ServiceAccount ci-runner/gitlab-runner of cluster {CLUSTER}: denied: no Allow \
                 statement applies; \"EksPodIdentity\": the action sts:TagSession is not among \
                 sts:AssumeRole. EKS Pod Identity always tags the session it asks STS for, so \
                 the trust policy must allow sts:TagSession as well as sts:AssumeRole"
            )
        )
    );
}

#[tokio::test(start_paused = true)]
async fn an_eks_auth_refusal_is_waited_out_then_explained() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    eks_auth.disassociate("ci-runner", "gitlab-runner");
    let (error, _) = refused(&fake, &eks_auth, &binding).await;
    assert_eq!(
        error,
        format!(
            "verification failed: a token for ServiceAccount ci-runner/gitlab-runner (audience \
             \"pods.eks.amazonaws.com\") passed every local check but EKS Auth did not \
             exchange it for credentials of {} within 20 s: \
             eks-auth:AssumeRoleForPodIdentity (ResourceNotFoundException: Pod Identity \
             Association not found): EKS knows no cluster \"gitlabrunner-acc\" in this region, or the cluster has no Pod Identity association for ServiceAccount \
             ci-runner/gitlab-runner (associations take a few seconds to be effective after \
             they are created).",
            binding.role_arn
        )
    );
    // Not found may be propagation: asked again until the deadline.
    assert!(eks_auth.calls().len() > 3, "{:?}", eks_auth.calls());
}

#[tokio::test(start_paused = true)]
async fn an_invalid_token_refusal_ends_at_once() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    eks_auth.refuse("InvalidTokenException", "Failed to verify token", 1);
    let (error, _) = refused(&fake, &eks_auth, &binding).await;
    assert!(
        error.ends_with(
            "eks-auth:AssumeRoleForPodIdentity (InvalidTokenException: Failed to verify \
             token): EKS Auth found the ServiceAccount token invalid. It accepts only tokens \
             signed by the cluster \"gitlabrunner-acc\" with the audience \
             pods.eks.amazonaws.com: check that pod_identity.cluster_name names the cluster \
             the provider's kubernetes settings point at."
        ),
        "{error}"
    );
    assert_eq!(eks_auth.calls().len(), 1, "waiting cannot change it");
}

#[tokio::test(start_paused = true)]
async fn a_refusal_that_passes_is_propagation_and_verify_waits_it_out() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    eks_auth.refuse("AccessDeniedException", "not yet", 2);
    assert!(verify(&remote(&fake, &eks_auth), &binding).await.is_ok());
    assert_eq!(eks_auth.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_association_of_another_role_is_named() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let eks_auth = FakeEksAuth::new(&fake, CLUSTER);
    let binding = binding(&fake, &eks_auth, false).await;
    let trust = fake.edit(|w| w.role(ROLE).unwrap().trust_policy.clone());
    let other = Iam::create_role(
        &fake,
        &RoleSpec {
            name: "other-role".into(),
            path: "/".into(),
            description: None,
            max_session_duration: 3600,
            permissions_boundary_arn: None,
            tags: Default::default(),
            trust_policy: trust,
        },
    )
    .await
    .unwrap();
    eks_auth.associate("ci-runner", "gitlab-runner", &other.arn);
    let (error, asked_eks_auth) = refused(&fake, &eks_auth, &binding).await;
    assert!(asked_eks_auth);
    assert!(
        error.ends_with(&format!(
            "EKS Auth answered with credentials of \
             arn:aws:sts::123456789012:assumed-role/other-role/eks-{CLUSTER}-verify, not of \
             role {}: the Pod Identity association a-fakeassociation0 for ServiceAccount \
             ci-runner/gitlab-runner names another role.",
            binding.role_arn
        )),
        "{error}"
    );
}
