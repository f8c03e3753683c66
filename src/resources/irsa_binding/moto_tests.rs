//! The IAM and STS side against a real AWS emulator (moto or LocalStack) over HTTP, with the
//! Kubernetes side in memory. Runs when `GITLABRUNNER_TEST_AWS_ENDPOINT` names a running
//! emulator (e.g. `http://127.0.0.1:5000`); otherwise it says so and checks nothing. The
//! Terraform-driven acceptance suite covers the same ground with the Kubernetes emulator.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use tokio_util::sync::CancellationToken;

use crate::codec::Value;
use crate::concurrency::Fanout;
use crate::retry::Backoff;

use super::create::create;
use super::delete::delete;
use super::fake::Fake;
use super::iam::{SdkIam, SdkSts};
use super::model::Binding;
use super::plan::ProviderDefaults;
use super::read::read;
use super::remote::{Iam, Remote};
use super::testing::{manager_config, plan_is_empty_with, plan_with};

const ENDPOINT_ENV: &str = "GITLABRUNNER_TEST_AWS_ENDPOINT";

async fn sdk(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{nanos}")
}

/// Creates a customer managed policy and returns its ARN.
async fn managed_policy(config: &aws_config::SdkConfig) -> String {
    aws_sdk_iam::Client::new(config)
        .create_policy()
        .policy_name(unique("runner-extra-"))
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("CreatePolicy")
        .policy()
        .and_then(|p| p.arn())
        .unwrap()
        .to_string()
}

/// Creates an OIDC provider in the emulator and returns its ARN and issuer URL.
async fn oidc_provider(config: &aws_config::SdkConfig) -> (String, String) {
    let iam = aws_sdk_iam::Client::new(config);
    let issuer = format!("https://oidc.eks.example.com/id/{}", unique("MOTO"));
    let arn = iam
        .create_open_id_connect_provider()
        .url(&issuer)
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .send()
        .await
        .expect("CreateOpenIDConnectProvider")
        .open_id_connect_provider_arn()
        .unwrap()
        .to_string();
    (arn, issuer)
}

async fn scenario(endpoint: &str, region: &str) {
    let config = sdk(endpoint, region).await;
    let (iam, sts) = (
        SdkIam::new(aws_sdk_iam::Client::new(&config)),
        SdkSts::new(aws_sdk_sts::Client::new(&config)),
    );
    let fake = Fake::with_namespaces(&["ci-runner", "ci-jobs", "ci-jobs-2", "ci-jobs-3"]);
    let (oidc, issuer) = oidc_provider(&config).await;
    // The fake cluster's tokens come from the issuer registered in the emulator.
    fake.edit(|world| world.set_issuer(&issuer));
    let defaults = ProviderDefaults {
        region: Some(region.into()),
        oidc_provider_arn: Some(oidc.clone()),
        default_tags: [("env".to_string(), "test".to_string())].into(),
        account_id: None,
    };
    let remote = Remote {
        iam: &iam,
        sts: &sts,
        kube: &fake,
        eks: &fake,
        fanout: Fanout::Concurrent,
        cancel: CancellationToken::new(),
        propagation: Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(1),
            Duration::from_secs(10),
        ),
        default_tags: defaults.default_tags.clone(),
    };
    let role_name = unique("binding-");
    let policy_arn = managed_policy(&config).await;
    let mut tf = manager_config();
    tf.set_attr("role_name", role_name.clone().into());
    tf.set_attr(
        "managed_policy_arns",
        Value::string_set([policy_arn.as_str()]),
    );
    tf.set_attr(
        "verify",
        Value::object([("timeout_seconds", Value::int(10))]),
    );

    // Create: state equals the plan, and a refresh plans nothing.
    let (change, diags) = plan_with(&defaults, &Value::Null, &tf);
    assert!(!diags.has_errors(), "{diags:?}");
    let planned = change.planned;
    let partition = if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    assert!(
        planned
            .get("role_arn")
            .as_str()
            .unwrap()
            .starts_with(&format!("arn:{partition}:iam::")),
        "{:?}",
        planned.get("role_arn")
    );
    let outcome = create(&remote, &Binding::from_value(&planned)).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let state = outcome.state.unwrap().to_value();
    let schema = super::schema::schema();
    let diags = crate::framework::check_apply_for_tests(&schema, &planned, &state);
    assert!(diags.is_empty(), "{diags:?}");
    assert!(
        state
            .get("verified_identity_arn")
            .as_str()
            .unwrap()
            .contains(&role_name)
    );
    let (refreshed, warnings) = read(&remote, &Binding::from_value(&state)).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let refreshed = refreshed.unwrap().to_value();
    plan_is_empty_with(&defaults, &refreshed, &tf)
        .unwrap_or_else(|d| panic!("plan after create: {d}"));

    // Drift: the trust policy widened and a policy detached outside Terraform.
    iam.update_trust_policy(
        &role_name,
        &state
            .get("trust_policy")
            .as_str()
            .unwrap()
            .replace("StringEquals", "StringLike")
            .replace("ci-runner:gitlab-runner", "ci-runner:*"),
    )
    .await
    .unwrap();
    iam.detach_policy(&role_name, &policy_arn).await.unwrap();
    let (drifted, _) = read(&remote, &Binding::from_value(&state)).await;
    let drifted = drifted.unwrap().to_value();
    assert!(plan_is_empty_with(&defaults, &drifted, &tf).is_err());
    let (change, _) = plan_with(&defaults, &drifted, &tf);
    let outcome = super::update::update(
        &remote,
        &Binding::from_value(&drifted),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let (repaired, _) = read(&remote, &outcome.state.unwrap()).await;
    plan_is_empty_with(&defaults, &repaired.unwrap().to_value(), &tf).unwrap();

    // Delete: nothing remains.
    let outcome = delete(&remote, &Binding::from_value(&state)).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    assert!(iam.get_role(&role_name).await.unwrap().is_none());
    assert!(fake.inventory().is_empty());

    // A policy that does not exist fails the create after CreateRole: rolled back.
    let mut bad = tf.clone();
    bad.set_attr(
        "managed_policy_arns",
        Value::string_set([policy_arn.replace("runner-extra-", "does-not-exist-")]),
    );
    let (change, _) = plan_with(&defaults, &Value::Null, &bad);
    let outcome = create(&remote, &Binding::from_value(&change.planned)).await;
    assert!(outcome.state.is_none(), "{:?}", outcome.diagnostics);
    assert!(
        outcome.diagnostics.0[0]
            .detail
            .contains("iam:AttachRolePolicy")
    );
    assert!(iam.get_role(&role_name).await.unwrap().is_none());
    assert!(fake.inventory().is_empty());
}

#[tokio::test]
async fn iam_side_against_a_real_aws_emulator() {
    let Ok(endpoint) = std::env::var(ENDPOINT_ENV) else {
        eprintln!("skipped: set {ENDPOINT_ENV} to a running moto or LocalStack");
        return;
    };
    scenario(&endpoint, "us-east-1").await;
    scenario(&endpoint, "us-gov-west-1").await;
}
