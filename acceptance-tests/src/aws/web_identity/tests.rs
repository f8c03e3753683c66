//! The rig's STS refuses each miswiring with the code real STS gives, against an in-memory
//! IAM and issuer.

use std::sync::Mutex;

use kube_emulator::authn::service_account::Signer;
use serde_json::json;

use super::test_issuer::{self, ISSUER};
use super::*;

const KEY: &str = "oidc.eks.eu-west-1.amazonaws.com/id/CLUSTER";
const PROVIDER: &str =
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/CLUSTER";
const ROLE: &str = "arn:aws:iam::123456789012:role/ci-runner";
const SUB: &str = "system:serviceaccount:ci:runner";
const NOW: i64 = 1_800_000_000;

struct World {
    providers: Mutex<Vec<ProviderRecord>>,
    trust: Mutex<Option<Value>>,
    jwks: Value,
}

impl IdentitySources for std::sync::Arc<World> {
    fn oidc_providers<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProviderRecord>, String>> {
        Box::pin(async move { Ok(self.providers.lock().unwrap().clone()) })
    }
}

impl RoleAndIssuerSources for std::sync::Arc<World> {
    fn trust_policy<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move { Ok(self.trust.lock().unwrap().clone()) })
    }

    fn fetch<'a>(
        &'a self,
        issuer: &'a str,
        path: &'a str,
        accept: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move { Ok(test_issuer::fetch(issuer, path, accept, &self.jwks)) })
    }
}

fn exact_trust() -> Value {
    trust_with(json!({"StringEquals": {
        format!("{KEY}:sub"): SUB,
        format!("{KEY}:aud"): "sts.amazonaws.com",
    }}))
}

fn trust_with(conditions: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": conditions,
    }]})
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": SUB, "aud": ["sts.amazonaws.com"],
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 590,
    })
}

struct Case {
    world: std::sync::Arc<World>,
    gate: Arc<WebIdentityGate>,
    signer: Signer,
}

fn new_case() -> Case {
    let signer = Signer::generate_with_kid("cluster");
    let world = std::sync::Arc::new(World {
        providers: Mutex::new(vec![ProviderRecord {
            arn: PROVIDER.into(),
            url: KEY.into(),
            client_ids: vec!["sts.amazonaws.com".into()],
        }]),
        trust: Mutex::new(Some(exact_trust())),
        jwks: signer.jwks(),
    });
    let gate = WebIdentityGate::with_clock(world.clone(), || NOW);
    Case {
        world,
        gate,
        signer,
    }
}

fn params(token: &str) -> Vec<(String, String)> {
    form_params(
        format!(
            "Action=AssumeRoleWithWebIdentity&RoleArn={}&RoleSessionName=s&WebIdentityToken={token}&Version=2011-06-15",
            ROLE.replace(':', "%3A").replace('/', "%2F")
        )
        .as_bytes(),
    )
}

async fn answer(case: &Case, token: &str) -> Result<(), (u16, &'static str, String)> {
    case.gate
        .check(&params(token))
        .await
        .map_err(|r| (r.status, r.code, r.message))
}

#[tokio::test]
async fn a_correct_wiring_passes() {
    let case = new_case();
    assert_eq!(answer(&case, &case.signer.sign(&claims())).await, Ok(()));
    assert!(case.gate.refusals().is_empty());
}

#[tokio::test]
async fn trust_miswirings_are_access_denied() {
    let denied = Err((403, "AccessDenied", messages::NOT_AUTHORIZED.to_string()));
    for conditions in [
        // https:// in the key.
        json!({"StringEquals": {format!("https://{KEY}:sub"): SUB, format!("{KEY}:aud"): "sts.amazonaws.com"}}),
        // A wildcard under StringEquals.
        json!({"StringEquals": {format!("{KEY}:sub"): "system:serviceaccount:ci:*"}}),
        // Another ServiceAccount.
        json!({"StringEquals": {format!("{KEY}:sub"): "system:serviceaccount:ci:other"}}),
        // Another audience.
        json!({"StringEquals": {format!("{KEY}:sub"): SUB, format!("{KEY}:aud"): "other"}}),
    ] {
        let case = new_case();
        *case.world.trust.lock().unwrap() = Some(trust_with(conditions.clone()));
        assert_eq!(
            answer(&case, &case.signer.sign(&claims())).await,
            denied,
            "{conditions}"
        );
    }
    // Another cluster's OIDC provider as principal.
    let case = new_case();
    let mut other = exact_trust();
    other["Statement"][0]["Principal"]["Federated"] =
        json!("arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER");
    *case.world.trust.lock().unwrap() = Some(other);
    assert_eq!(answer(&case, &case.signer.sign(&claims())).await, denied);
    // The same with StringLike admits (the wildcard is a pattern there).
    let case = new_case();
    *case.world.trust.lock().unwrap() = Some(trust_with(
        json!({"StringLike": {format!("{KEY}:sub"): "system:serviceaccount:ci:*"}}),
    ));
    assert_eq!(answer(&case, &case.signer.sign(&claims())).await, Ok(()));
    // A deleted role.
    let case = new_case();
    *case.world.trust.lock().unwrap() = None;
    assert_eq!(answer(&case, &case.signer.sign(&claims())).await, denied);
}

#[tokio::test]
async fn another_clusters_signing_key_is_an_invalid_identity_token() {
    let case = new_case();
    let other = Signer::generate_with_kid("cluster");
    assert_eq!(
        answer(&case, &other.sign(&claims())).await,
        Err((
            400,
            "InvalidIdentityToken",
            messages::INVALID_IDENTITY_TOKEN.to_string()
        ))
    );
    let unknown_kid = Signer::generate_with_kid("elsewhere");
    assert_eq!(
        answer(&case, &unknown_kid.sign(&claims())).await,
        Err((
            400,
            "InvalidIdentityToken",
            messages::NO_VERIFICATION_KEY.to_string()
        ))
    );
}

#[tokio::test]
async fn an_expired_token_is_an_expired_token_exception() {
    let case = new_case();
    let mut expired = claims();
    expired["exp"] = json!(NOW);
    assert_eq!(
        answer(&case, &case.signer.sign(&expired)).await,
        Err((400, "ExpiredTokenException", messages::EXPIRED.to_string()))
    );
}

#[tokio::test]
async fn provider_mismatches_are_invalid_identity_tokens() {
    // No provider for the issuer (another cluster's provider, or a deleted one).
    let case = new_case();
    case.world.providers.lock().unwrap()[0].url =
        "oidc.eks.eu-west-1.amazonaws.com/id/OTHER".into();
    assert_eq!(
        answer(&case, &case.signer.sign(&claims())).await,
        Err((
            400,
            "InvalidIdentityToken",
            format!("No OpenIDConnect provider found in your account for {ISSUER}")
        ))
    );
    let case = new_case();
    case.world.providers.lock().unwrap().clear();
    assert!(matches!(
        answer(&case, &case.signer.sign(&claims())).await,
        Err((400, "InvalidIdentityToken", message)) if message.starts_with("No OpenIDConnect provider")
    ));
    // A provider without sts.amazonaws.com, or a token for an audience it does not list.
    let case = new_case();
    case.world.providers.lock().unwrap()[0].client_ids = vec!["other".into()];
    let incorrect = Err((
        400,
        "InvalidIdentityToken",
        messages::INCORRECT_AUDIENCE.to_string(),
    ));
    assert_eq!(answer(&case, &case.signer.sign(&claims())).await, incorrect);
    let case = new_case();
    let mut other_audience = claims();
    other_audience["aud"] = json!(["vault"]);
    assert_eq!(
        answer(&case, &case.signer.sign(&other_audience)).await,
        incorrect
    );
}

#[tokio::test]
async fn an_issuer_the_rig_cannot_reach_has_no_verification_key() {
    let case = new_case();
    case.world.providers.lock().unwrap().push(ProviderRecord {
        arn: "arn:aws:iam::123456789012:oidc-provider/elsewhere.example/id/X".into(),
        url: "https://elsewhere.example/id/X".into(),
        client_ids: vec!["sts.amazonaws.com".into()],
    });
    let mut elsewhere = claims();
    elsewhere["iss"] = json!("https://elsewhere.example/id/X");
    assert_eq!(
        answer(&case, &case.signer.sign(&elsewhere)).await,
        Err((
            400,
            "InvalidIdentityToken",
            messages::NO_VERIFICATION_KEY.to_string()
        ))
    );
}

#[tokio::test]
async fn a_token_without_sub_is_an_idp_rejected_claim() {
    let case = new_case();
    let mut no_sub = claims();
    no_sub.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        answer(&case, &case.signer.sign(&no_sub)).await,
        Err((
            403,
            "IDPRejectedClaim",
            messages::IDP_REJECTED_CLAIM.to_string()
        ))
    );
    assert_eq!(case.gate.refusals().len(), 1);
}

#[tokio::test]
async fn garbage_is_an_invalid_identity_token() {
    let case = new_case();
    assert!(matches!(
        answer(&case, "not-a-jwt").await,
        Err((400, "InvalidIdentityToken", _))
    ));
}

#[tokio::test]
async fn the_sdk_reads_the_proxys_refusals_as_sts_errors() {
    use aws_sdk_sts::error::ProvideErrorMetadata as _;
    {
        // Nothing listens upstream: a refusal never reaches it.
        let upstream = "http://127.0.0.1:9";
        let case = new_case();
        register_gate(upstream, case.gate.clone());
        let proxy = crate::aws::proxy::AwsProxy::start(upstream).unwrap();
        assert!(proxy.checks_web_identity());
        let sts = crate::aws::AwsClients::with_max_attempts(proxy.url(), "us-east-1", 1)
            .await
            .sts;
        let assume = |token: String| {
            sts.assume_role_with_web_identity()
                .role_arn(ROLE)
                .role_session_name("s")
                .web_identity_token(token)
                .send()
        };
        *case.world.trust.lock().unwrap() = Some(trust_with(
            json!({"StringEquals": {format!("{KEY}:sub"): "system:serviceaccount:ci:other"}}),
        ));
        let error = assume(case.signer.sign(&claims())).await.unwrap_err();
        assert_eq!(error.code(), Some("AccessDenied"));
        assert_eq!(error.message(), Some(messages::NOT_AUTHORIZED));
        let mut expired = claims();
        expired["exp"] = json!(NOW - 1);
        let error = assume(case.signer.sign(&expired)).await.unwrap_err();
        assert!(
            error
                .as_service_error()
                .is_some_and(|e| e.is_expired_token_exception()),
            "{error:?}"
        );
        let error = assume(Signer::generate_with_kid("x").sign(&claims()))
            .await
            .unwrap_err();
        assert!(
            error
                .as_service_error()
                .is_some_and(|e| e.is_invalid_identity_token_exception()),
            "{error:?}"
        );
    }
}
