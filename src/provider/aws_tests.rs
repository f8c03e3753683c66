//! The AWS configuration against an in-process fake: endpoint precedence, path-style S3,
//! bounded retries that survive sustained throttling, assume role, missing credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_types::os_shim_internal::{Env, Fs};

use super::*;
use crate::aws::{AwsErrorKind, aws_error};
use crate::provider::fake_aws::{FakeAws, query_error};
use crate::provider::settings::AssumeRoleSettings;

const LIST_ROLES: &str = "<ListRolesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <ListRolesResult><IsTruncated>false</IsTruncated><Roles/></ListRolesResult>\
    </ListRolesResponse>";

const CALLER: &str = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
    <GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci</Arn><UserId>AIDA</UserId>\
    <Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";

const ASSUMED: &str = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
    <AssumeRoleResult><Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId>\
    <SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken>\
    <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser>\
    <Arn>arn:aws:sts::123456789012:assumed-role/deployer/ci</Arn>\
    <AssumedRoleId>AROAEXAMPLE:ci</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
    </AssumeRoleResponse>";

/// Answers IAM ListRoles, STS GetCallerIdentity/AssumeRole and any S3 request.
fn fake() -> FakeAws {
    FakeAws::new(|seen| match seen.action() {
        "ListRoles" => (200, LIST_ROLES.into()),
        "GetCallerIdentity" => (200, CALLER.into()),
        "AssumeRole" => (200, ASSUMED.into()),
        _ => (
            404,
            "<Error><Code>NoSuchBucket</Code><Message>no</Message></Error>".into(),
        ),
    })
}

const STATIC_CREDENTIALS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIDBASE"),
    ("AWS_SECRET_ACCESS_KEY", "secret"),
];

async fn sdk(settings: &AwsSettings, fake: &FakeAws, env: &[(&str, &str)]) -> SdkConfig {
    let mut vars = vec![("AWS_EC2_METADATA_DISABLED", "true")];
    vars.extend_from_slice(env);
    let fake = fake.clone();
    let env = Env::from_slice(&vars);
    load(settings, "eu-central-1", &env.clone(), move |loader| {
        loader.env(env).fs(Fs::from_slice(&[])).http_client(fake)
    })
    .await
}

/// The host:port of each request, in order.
fn hosts(fake: &FakeAws) -> Vec<String> {
    fake.seen()
        .iter()
        .map(|s| {
            let rest = s.uri.split_once("://").map_or(s.uri.as_str(), |(_, r)| r);
            rest.split('/').next().unwrap_or_default().to_string()
        })
        .collect()
}

async fn call_each_service(sdk: &SdkConfig, settings: &AwsSettings) {
    let iam = aws_sdk_iam::Client::from_conf(iam_config(sdk, settings));
    let _ = iam.list_roles().send().await;
    let sts = aws_sdk_sts::Client::from_conf(sts_config(sdk, settings));
    let _ = sts.get_caller_identity().send().await;
    let s3 = aws_sdk_s3::Client::from_conf(s3_config(sdk, settings, None));
    let _ = s3.head_bucket().bucket("cache").send().await;
}

#[test]
fn a_service_endpoint_wins_over_the_general_one() {
    let settings = AwsSettings {
        endpoint_url: Some("http://all:1".into()),
        iam_endpoint: Some("http://iam:2".into()),
        ..AwsSettings::default()
    };
    assert_eq!(endpoint(&settings, Service::Iam), Some("http://iam:2"));
    assert_eq!(endpoint(&settings, Service::Sts), Some("http://all:1"));
    assert_eq!(endpoint(&AwsSettings::default(), Service::S3), None);
}

#[tokio::test]
async fn block_endpoints_win_over_the_environment() {
    let settings = AwsSettings {
        endpoint_url: Some("http://127.0.0.1:4566".into()),
        iam_endpoint: Some("http://127.0.0.2:5000".into()),
        ..AwsSettings::default()
    };
    let fake = fake();
    let env = [
        STATIC_CREDENTIALS[0],
        STATIC_CREDENTIALS[1],
        ("AWS_ENDPOINT_URL", "http://10.9.9.9:1"),
        ("AWS_ENDPOINT_URL_IAM", "http://10.9.9.9:2"),
        ("AWS_ENDPOINT_URL_STS", "http://10.9.9.9:3"),
    ];
    let sdk = sdk(&settings, &fake, &env).await;
    call_each_service(&sdk, &settings).await;
    assert_eq!(
        hosts(&fake),
        ["127.0.0.2:5000", "127.0.0.1:4566", "127.0.0.1:4566"]
    );
}

#[tokio::test]
async fn without_block_endpoints_the_environment_applies() {
    let settings = AwsSettings::default();
    let fake = fake();
    let env = [
        STATIC_CREDENTIALS[0],
        STATIC_CREDENTIALS[1],
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("AWS_ENDPOINT_URL_IAM", "http://127.0.0.2:5000"),
    ];
    let sdk = sdk(&settings, &fake, &env).await;
    call_each_service(&sdk, &settings).await;
    assert_eq!(
        hosts(&fake),
        ["127.0.0.2:5000", "127.0.0.1:4566", "127.0.0.1:4566"]
    );
}

#[tokio::test]
async fn an_empty_endpoint_variable_counts_as_unset_instead_of_crashing_the_sdk() {
    let fake = fake();
    let env = [
        STATIC_CREDENTIALS[0],
        STATIC_CREDENTIALS[1],
        ("AWS_ENDPOINT_URL", ""),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.3:4566"),
    ];
    let settings = with_endpoint_environment(AwsSettings::default(), &Env::from_slice(&env));
    assert!(settings.empty_endpoint_variables);
    let sdk = sdk(&settings, &fake, &env).await;
    call_each_service(&sdk, &settings).await;
    assert_eq!(
        hosts(&fake),
        [
            "iam.amazonaws.com",
            "127.0.0.3:4566",
            "s3.eu-central-1.amazonaws.com"
        ]
    );
}

#[test]
fn endpoint_variables_keep_their_precedence_when_taken_over() {
    let env = Env::from_slice(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("AWS_ENDPOINT_URL_IAM", " "),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.2:9000"),
    ]);
    let block = AwsSettings {
        sts_endpoint: Some("http://10.0.0.1:1".to_string()),
        ..AwsSettings::default()
    };
    let settings = with_endpoint_environment(block, &env);
    assert_eq!(
        settings.iam_endpoint.as_deref(),
        Some("http://127.0.0.1:4566")
    );
    assert_eq!(settings.sts_endpoint.as_deref(), Some("http://10.0.0.1:1"));
    assert_eq!(
        settings.s3_endpoint.as_deref(),
        Some("http://127.0.0.2:9000")
    );
    let untouched = with_endpoint_environment(
        AwsSettings::default(),
        &Env::from_slice(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]),
    );
    assert_eq!(untouched, AwsSettings::default());
}

#[tokio::test]
async fn eks_calls_go_to_its_endpoint_else_the_general_one() {
    let settings = AwsSettings {
        endpoint_url: Some("http://127.0.0.1:4566".into()),
        eks_endpoint: Some("http://127.0.0.3:7000".into()),
        ..AwsSettings::default()
    };
    assert_eq!(
        endpoint(&settings, Service::Eks),
        Some("http://127.0.0.3:7000")
    );
    let fake = fake();
    let sdk = sdk(&settings, &fake, &STATIC_CREDENTIALS).await;
    let eks = aws_sdk_eks::Client::from_conf(eks_config(&sdk, &settings));
    let _ = eks
        .list_pod_identity_associations()
        .cluster_name("gitlabrunner-acc")
        .send()
        .await;
    let uri = &fake.seen()[0].uri;
    assert!(
        uri.starts_with(
            "http://127.0.0.3:7000/clusters/gitlabrunner-acc/pod-identity-associations"
        ),
        "{uri}"
    );
    // An empty AWS_ENDPOINT_URL_EKS counts as unset, like the others.
    let env = Env::from_slice(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("AWS_ENDPOINT_URL_EKS", ""),
    ]);
    let settings = with_endpoint_environment(AwsSettings::default(), &env);
    assert_eq!(
        settings.eks_endpoint.as_deref(),
        Some("http://127.0.0.1:4566")
    );
}

#[tokio::test]
async fn s3_is_addressed_path_style() {
    let settings = AwsSettings {
        s3_endpoint: Some("http://127.0.0.1:9000".into()),
        ..AwsSettings::default()
    };
    let fake = fake();
    let sdk = sdk(&settings, &fake, &STATIC_CREDENTIALS).await;
    let s3 = aws_sdk_s3::Client::from_conf(s3_config(&sdk, &settings, Some("us-west-2")));
    let _ = s3.head_bucket().bucket("cache").send().await;
    let uri = &fake.seen()[0].uri;
    assert!(uri.starts_with("http://127.0.0.1:9000/cache"), "{uri}");
}

#[test]
fn retries_default_to_ten_with_bounded_backoff() {
    let config = retry_config(None);
    assert_eq!(config.max_attempts(), DEFAULT_MAX_RETRIES + 1);
    assert_eq!(config.initial_backoff(), INITIAL_BACKOFF);
    assert_eq!(config.max_backoff(), MAX_BACKOFF);
    assert_eq!(retry_config(Some(0)).max_attempts(), 1);
}

/// Every call is throttled three times before it succeeds: the SDK's default retry quota
/// (500 tokens, 10 lost per such call) runs dry after about 50 calls.
async fn throttled_calls(iam: aws_sdk_iam::Client, fake: &FakeAws, calls: usize) -> usize {
    let _ = fake;
    let mut failed = 0;
    for _ in 0..calls {
        if iam.list_roles().send().await.is_err() {
            failed += 1;
        }
    }
    failed
}

fn throttling_fake() -> FakeAws {
    let counter = Arc::new(AtomicUsize::new(0));
    FakeAws::new(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) % 4 < 3 {
            (400, query_error("Throttling", "Rate exceeded"))
        } else {
            (200, LIST_ROLES.into())
        }
    })
}

fn no_wait(config: aws_sdk_iam::Config) -> aws_sdk_iam::Config {
    let retry = retry_config(Some(5)).with_initial_backoff(std::time::Duration::ZERO);
    config.to_builder().retry_config(retry).build()
}

#[tokio::test]
async fn sustained_throttling_does_not_exhaust_the_retries() {
    let fake = throttling_fake();
    let settings = AwsSettings::default();
    let sdk = sdk(&settings, &fake, &STATIC_CREDENTIALS).await;
    let iam = aws_sdk_iam::Client::from_conf(no_wait(iam_config(&sdk, &settings)));
    assert_eq!(throttled_calls(iam, &fake, 200).await, 0);
    assert_eq!(fake.seen().len(), 800);
}

#[tokio::test]
async fn the_sdk_default_retry_quota_would_give_up_under_the_same_throttling() {
    let fake = throttling_fake();
    let settings = AwsSettings::default();
    let sdk = sdk(&settings, &fake, &STATIC_CREDENTIALS).await;
    let default_partition = aws_sdk_iam::config::Builder::from(&sdk)
        .retry_partition(RetryPartition::custom("default-quota").build())
        .build();
    let iam = aws_sdk_iam::Client::from_conf(no_wait(default_partition));
    assert!(throttled_calls(iam, &fake, 200).await > 0);
}

#[tokio::test]
async fn assume_role_calls_sts_at_the_block_endpoint_and_uses_the_role() {
    let settings = AwsSettings {
        sts_endpoint: Some("http://127.0.0.3:4566".into()),
        iam_endpoint: Some("http://127.0.0.2:5000".into()),
        assume_role: Some(AssumeRoleSettings {
            role_arn: "arn:aws:iam::123456789012:role/deployer".into(),
            session_name: Some("terraform-ci".into()),
            external_id: Some("tenant-42".into()),
        }),
        ..AwsSettings::default()
    };
    let fake = fake();
    let env = [
        STATIC_CREDENTIALS[0],
        STATIC_CREDENTIALS[1],
        ("AWS_ENDPOINT_URL_STS", "http://10.9.9.9:3"),
    ];
    let sdk = sdk(&settings, &fake, &env).await;
    let iam = aws_sdk_iam::Client::from_conf(iam_config(&sdk, &settings));
    iam.list_roles().send().await.unwrap();
    let seen = fake.seen();
    assert_eq!(hosts(&fake), ["127.0.0.3:4566", "127.0.0.2:5000"]);
    assert_eq!(seen[0].action(), "AssumeRole");
    assert!(
        seen[0].body.contains("RoleSessionName=terraform-ci"),
        "{}",
        seen[0].body
    );
    assert!(
        seen[0].body.contains("ExternalId=tenant-42"),
        "{}",
        seen[0].body
    );
    assert!(seen[0].authorization.contains("AKIDBASE"));
    assert!(
        seen[1].authorization.contains("ASIAASSUMED"),
        "{}",
        seen[1].authorization
    );
}

#[tokio::test]
async fn missing_credentials_are_explained_when_a_call_needs_them() {
    let fake = fake();
    let settings = AwsSettings {
        profile: Some("ci".into()),
        ..AwsSettings::default()
    };
    let sdk = sdk(&settings, &fake, &[]).await;
    let iam = aws_sdk_iam::Client::from_conf(iam_config(&sdk, &settings));
    let error = iam
        .list_roles()
        .send()
        .await
        .map_err(aws_error("iam:ListRoles"))
        .unwrap_err();
    assert!(fake.seen().is_empty());
    let text = error.to_string();
    assert!(text.starts_with("iam:ListRoles failed"), "{text}");
    assert!(
        text.contains("no AWS credentials found (profile \"ci\")"),
        "{text}"
    );
    assert_eq!(
        error.kind,
        AwsErrorKind::Other,
        "not a transient failure to retry"
    );
}
