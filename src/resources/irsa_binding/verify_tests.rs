//! `verify` and trust drift against the fake: each miswiring real STS refuses is named by the
//! local checks (claim or key, expected value, value found) even though the fake STS checks
//! neither signatures nor lifetimes, and a trust policy changed outside Terraform is reported
//! at refresh, louder when it widens who may assume the role.

use std::time::Duration;

use serde_json::json;

use crate::codec::{Diagnostics, Value};
use crate::concurrency::Fanout;

use super::create::create;
use super::eks_auth::NoEksAuth;
use super::fake::{Fake, ISSUER};
use super::model::Binding;
use super::read::read;
use super::remote::{OidcProvider, Remote};
use super::testing::{OIDC, fake_remote, manager_config, plan};
use super::verify::verify;

const NAMESPACES: [&str; 4] = ["ci-runner", "ci-jobs", "ci-jobs-2", "ci-jobs-3"];
const ROLE: &str = "ci-runner-gitlab-runner";
const KEY: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";
const SUB: &str = "system:serviceaccount:ci-runner:gitlab-runner";

fn remote(fake: &Fake) -> Remote<'_> {
    fake_remote(
        fake,
        &NoEksAuth,
        Fanout::Concurrent,
        Duration::from_secs(20),
    )
}

/// A created binding (without `verify`), as state.
async fn binding(fake: &Fake) -> Binding {
    let (change, diags) = plan(&Value::Null, &manager_config());
    assert!(!diags.has_errors(), "{diags:?}");
    let outcome = create(&remote(fake), &Binding::from_value(&change.planned)).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    outcome.state.unwrap()
}

fn set_trust(fake: &Fake, conditions: serde_json::Value) {
    let document = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": OIDC},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }],
    });
    fake.edit(|w| w.role(ROLE).unwrap().trust_policy = document.to_string());
}

/// The error `verify` ends with, and whether STS was called.
async fn refused(fake: &Fake, binding: &Binding) -> (String, bool) {
    let error = verify(&remote(fake), binding)
        .await
        .expect_err("verify refuses the miswiring");
    let called_sts = fake
        .calls()
        .iter()
        .any(|c| c.starts_with("sts:AssumeRoleWithWebIdentity"));
    (error.to_string(), called_sts)
}

#[tokio::test(start_paused = true)]
async fn a_correct_wiring_passes_every_check_and_assumes_the_role() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    let verified = verify(&remote(&fake), &binding).await.unwrap();
    assert_eq!(
        verified.identity_arn,
        format!("arn:aws:sts::123456789012:assumed-role/{ROLE}/gitlabrunner-verify")
    );
    assert!(verified.skipped.is_empty(), "{:?}", verified.skipped);
    let calls = fake.calls();
    for call in [
        "kube:get /openid/v1/jwks",
        "iam:GetOpenIDConnectProvider",
        "sts:AssumeRoleWithWebIdentity",
    ] {
        assert!(
            calls.iter().any(|c| c.starts_with(call)),
            "{call}: {calls:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_condition_key_with_https_is_named_with_its_fix() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    set_trust(
        &fake,
        json!({"StringEquals": {
            format!("https://{KEY}:sub"): SUB,
            format!("{KEY}:aud"): "sts.amazonaws.com",
        }}),
    );
    let (error, called_sts) = refused(&fake, &binding).await;
    assert!(!called_sts, "the local check stops before STS");
    assert!(
        error.contains(&format!(
            "condition StringEquals on key \"https://{KEY}:sub\" expects \"{SUB}\" but the \
             request has no such key"
        )),
        "{error}"
    );
    assert!(error.contains(&format!("write \"{KEY}:sub\"")), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_wildcard_under_string_equals_is_named() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    set_trust(
        &fake,
        json!({"StringEquals": {
            format!("{KEY}:sub"): "system:serviceaccount:ci-runner:*",
            format!("{KEY}:aud"): "sts.amazonaws.com",
        }}),
    );
    let (error, _) = refused(&fake, &binding).await;
    assert!(
        error.contains(&format!(
            "expects \"system:serviceaccount:ci-runner:*\" but the request has \"{SUB}\""
        )),
        "{error}"
    );
    assert!(error.contains("compares literally"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_trust_policy_naming_another_service_account_is_named() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    set_trust(
        &fake,
        json!({"StringEquals": {
            format!("{KEY}:sub"): "system:serviceaccount:ci-runner:other",
            format!("{KEY}:aud"): "sts.amazonaws.com",
        }}),
    );
    let (error, _) = refused(&fake, &binding).await;
    assert!(
        error.contains(&format!(
            "condition StringEquals on key \"{KEY}:sub\" expects \
             \"system:serviceaccount:ci-runner:other\" but the request has \"{SUB}\""
        )),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_of_another_clusters_key_is_refused_though_sts_would_accept_it() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    fake.edit(|w| w.sign_with_another_key());
    let (error, called_sts) = refused(&fake, &binding).await;
    assert!(!called_sts);
    assert!(
        error.contains("the token's signature does not verify with key \"fake\""),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_token_is_refused() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    fake.edit(|w| w.set_token_seconds(-10));
    let (error, called_sts) = refused(&fake, &binding).await;
    assert!(!called_sts);
    assert!(error.contains("the token expired at"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn another_clusters_issuer_is_named_with_both_urls() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    fake.edit(|w| w.set_issuer("https://oidc.eks.eu-west-1.amazonaws.com/id/OTHER"));
    let (error, _) = refused(&fake, &binding).await;
    assert!(
        error.contains(&format!(
            "the token's iss claim is \"https://oidc.eks.eu-west-1.amazonaws.com/id/OTHER\", \
             but the OIDC provider {OIDC} is for \"{ISSUER}\""
        )),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_audience_the_provider_does_not_list_is_named() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    fake.edit(|w| {
        w.oidc_providers().insert(
            OIDC.into(),
            OidcProvider {
                arn: OIDC.into(),
                url: KEY.into(),
                client_ids: vec!["other".into()],
            },
        )
    });
    let (error, _) = refused(&fake, &binding).await;
    assert!(
        error.contains(
            "the token's aud claim is [\"sts.amazonaws.com\"], but the OIDC provider \
             arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE \
             accepts only the client ids [\"other\"]"
        ),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deleted_oidc_provider_is_named() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    fake.edit(|w| w.oidc_providers().clear());
    let (error, _) = refused(&fake, &binding).await;
    assert!(
        error.contains(&format!("the OIDC provider {OIDC} does not exist in IAM")),
        "{error}"
    );
}

async fn refreshed_warnings(fake: &Fake, binding: &Binding) -> Diagnostics {
    let (state, diagnostics) = read(&remote(fake), binding).await;
    assert!(state.is_some());
    assert!(!diagnostics.has_errors(), "{diagnostics:?}");
    diagnostics
}

#[tokio::test(start_paused = true)]
async fn trust_changed_outside_terraform_warns_at_refresh_and_says_why_sts_refuses() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    assert!(refreshed_warnings(&fake, &binding).await.is_empty());
    set_trust(
        &fake,
        json!({"StringEquals": {
            format!("https://{KEY}:sub"): SUB,
            format!("{KEY}:aud"): "sts.amazonaws.com",
        }}),
    );
    let warnings = refreshed_warnings(&fake, &binding).await;
    assert_eq!(warnings.0.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings.0[0].summary,
        format!("Trust policy of IAM role {ROLE} was changed outside Terraform")
    );
    assert!(
        warnings.0[0]
            .detail
            .contains("With it, STS refuses the binding's own ServiceAccount"),
        "{}",
        warnings.0[0].detail
    );
    assert!(warnings.0[0].detail.contains("without https://"));
}

#[tokio::test(start_paused = true)]
async fn a_widening_trust_change_gets_its_own_warning() {
    for (conditions, widening) in [
        (
            json!({"StringLike": {format!("{KEY}:sub"): "system:serviceaccount:*", format!("{KEY}:aud"): "sts.amazonaws.com"}}),
            format!("matches \"{KEY}:sub\" with StringLike \"system:serviceaccount:*\""),
        ),
        (
            json!({"StringEquals": {format!("{KEY}:sub"): SUB}}),
            format!("has no condition on \"{KEY}:aud\": any value of it is admitted"),
        ),
    ] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let binding = binding(&fake).await;
        set_trust(&fake, conditions);
        let warnings = refreshed_warnings(&fake, &binding).await;
        assert_eq!(warnings.0.len(), 2, "{warnings:?}");
        assert_eq!(
            warnings.0[1].summary,
            format!("Trust policy of IAM role {ROLE} admits more than the binding allows")
        );
        assert!(
            warnings.0[1].detail.contains(&widening),
            "{}",
            warnings.0[1].detail
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_extra_principal_is_a_widening() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let binding = binding(&fake).await;
    let other = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER";
    fake.edit(|w| {
        let role = w.role(ROLE).unwrap();
        let mut document: serde_json::Value =
            serde_json::from_str(&crate::aws::policy::decode_document(&role.trust_policy)).unwrap();
        document["Statement"][0]["Principal"]["Federated"] = json!([OIDC, other]);
        role.trust_policy = document.to_string();
    });
    let warnings = refreshed_warnings(&fake, &binding).await;
    assert_eq!(warnings.0.len(), 2, "{warnings:?}");
    let detail = &warnings.0[1].detail;
    assert!(
        detail.contains(&format!("admits another principal: Federated {other}")),
        "{detail}"
    );
    // The other provider's keys are not constrained either.
    assert!(
        detail.contains("oidc.eks.eu-west-1.amazonaws.com/id/OTHER:sub"),
        "{detail}"
    );
}
