//! Configure-time behaviour: region and partition, unknown settings, defaults, and the
//! diagnostics a resource gets when it needs a client that cannot be built.

use super::*;
use crate::codec::Value;

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

async fn configured(config: &Value, env: &[(&str, &str)]) -> Result<ProviderData, Diagnostic> {
    configure(
        ProviderSettings::from_config(config),
        "1.15.5",
        Env::from_slice(env),
        &Fs::from_slice(&[]),
        Imds::Skip,
    )
    .await
}

fn region(region: Value) -> Value {
    obj(&[("aws", obj(&[("region", region)]))])
}

#[tokio::test]
async fn the_partition_follows_the_region() {
    for (name, partition) in [
        ("eu-central-1", Partition::Aws),
        ("us-gov-west-1", Partition::AwsUsGov),
        ("cn-northwest-1", Partition::AwsCn),
    ] {
        let data = configured(&region(name.into()), &[]).await.unwrap();
        assert_eq!(data.region(), Some(name));
        assert_eq!(data.partition(), Some(partition));
        assert_eq!(data.require_partition().unwrap(), partition);
    }
}

#[tokio::test]
async fn the_block_region_wins_over_the_environment() {
    let env = [("AWS_REGION", "cn-north-1")];
    let data = configured(&region("us-east-1".into()), &env).await.unwrap();
    assert_eq!(data.region(), Some("us-east-1"));
    let data = configured(&Value::Null, &env).await.unwrap();
    assert_eq!(data.region(), Some("cn-north-1"));
    assert_eq!(data.partition(), Some(Partition::AwsCn));
}

#[tokio::test]
async fn an_unknown_region_is_not_guessed_and_says_so_when_needed() {
    let env = [("AWS_REGION", "eu-west-1")];
    let data = configured(&region(Value::Unknown), &env).await.unwrap();
    assert_eq!(data.region(), None);
    assert_eq!(data.partition(), None);
    assert!(!data.is_known("aws.region"));
    let diagnostic = data.require_region().unwrap_err();
    assert_eq!(diagnostic.summary, "AWS region not known yet");
    let diagnostic = data.iam().await.unwrap_err();
    assert_eq!(diagnostic.summary, "AWS settings not known yet");
    assert!(
        diagnostic.detail.contains("setting aws.region depends"),
        "{}",
        diagnostic.detail
    );
    assert_eq!(diagnostic.attribute, None);
}

#[tokio::test]
async fn a_missing_region_is_a_diagnostic_when_a_client_is_needed() {
    let data = configured(&Value::Null, &[]).await.unwrap();
    assert_eq!(data.region(), None);
    let diagnostic = data.sts().await.unwrap_err();
    assert_eq!(diagnostic.summary, "AWS region not set");
    assert!(
        diagnostic.detail.contains("AWS_REGION"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn an_invalid_region_from_the_environment_names_its_source() {
    let Err(diagnostic) = configured(&Value::Null, &[("AWS_DEFAULT_REGION", "moon-1")]).await
    else {
        panic!("configure accepted the region moon-1");
    };
    assert_eq!(diagnostic.summary, "Invalid AWS region");
    assert!(
        diagnostic.detail.contains("AWS_DEFAULT_REGION"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn a_region_of_no_known_partition_from_the_environment_is_refused_at_configure() {
    for region in ["us-isoz-east-1", "xx-east-1", "eusc-fr-east-1"] {
        let Err(diagnostic) = configured(&Value::Null, &[("AWS_REGION", region)]).await else {
            panic!("configure accepted the region {region}");
        };
        assert_eq!(diagnostic.summary, "AWS region of no known partition");
        assert!(diagnostic.detail.contains(region), "{}", diagnostic.detail);
        assert!(
            diagnostic.detail.contains("AWS_REGION"),
            "{}",
            diagnostic.detail
        );
    }
}

#[tokio::test]
async fn iso_and_sovereign_regions_have_their_own_partitions() {
    for (name, partition) in [
        ("us-iso-east-1", Partition::AwsIso),
        ("us-isob-east-1", Partition::AwsIsoB),
        ("eu-isoe-west-1", Partition::AwsIsoE),
        ("us-isof-south-1", Partition::AwsIsoF),
        ("eusc-de-east-1", Partition::AwsEusc),
    ] {
        let data = configured(&region(name.into()), &[]).await.unwrap();
        assert_eq!(data.require_partition().unwrap(), partition, "{name}");
    }
}

#[tokio::test]
async fn unknown_aws_settings_block_only_aws() {
    let config = obj(&[("aws", obj(&[("endpoint_url", Value::Unknown)]))]);
    let data = configured(&config, &[("AWS_REGION", "eu-west-1")])
        .await
        .unwrap();
    assert_eq!(
        data.region(),
        Some("eu-west-1"),
        "the region is still known"
    );
    let diagnostic = data.iam().await.unwrap_err();
    assert!(
        diagnostic.detail.contains("aws.endpoint_url"),
        "{}",
        diagnostic.detail
    );
    let diagnostic = data
        .kube()
        .await
        .err()
        .expect("no kubeconfig in an empty environment");
    assert_eq!(diagnostic.summary, "Kubernetes is not configured");
    // Plan sees the same, without reading a file or calling the API.
    let at_plan = data.require_kubernetes_source().unwrap_err();
    assert_eq!(at_plan.summary, diagnostic.summary);
    assert_eq!(at_plan.detail, diagnostic.detail);
}

#[tokio::test]
async fn unknown_kubernetes_settings_block_only_kubernetes() {
    let config = obj(&[("kubernetes", obj(&[("host", Value::Unknown)]))]);
    let data = configured(&config, &[("AWS_REGION", "eu-west-1")])
        .await
        .unwrap();
    let diagnostic = data.kube().await.err().expect("unknown host");
    assert_eq!(diagnostic.summary, "Kubernetes settings not known yet");
    assert!(
        data.require_kubernetes_source().is_ok(),
        "known at apply: not an error at plan"
    );
    assert!(
        diagnostic.detail.contains("kubernetes.host"),
        "{}",
        diagnostic.detail
    );
    assert!(data.iam().await.is_ok());
}

#[tokio::test]
async fn defaults_for_resources_are_passed_on() {
    let arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X";
    let config = obj(&[
        ("oidc_provider_arn", arn.into()),
        ("default_tags", Value::string_map([("team", "platform")])),
    ]);
    let data = configured(&config, &[("AWS_REGION", "eu-west-1")])
        .await
        .unwrap();
    assert_eq!(data.default_oidc_provider_arn.as_deref(), Some(arn));
    assert_eq!(data.default_tags["team"], "platform");
    assert!(data.is_known("default_tags") && data.is_known("oidc_provider_arn"));
    assert_eq!(data.terraform_version, "1.15.5");
}

#[tokio::test]
async fn unknown_defaults_are_flagged() {
    let config = obj(&[
        ("oidc_provider_arn", Value::Unknown),
        (
            "default_tags",
            Value::Map([("team".to_string(), Value::Unknown)].into()),
        ),
    ]);
    let data = configured(&config, &[]).await.unwrap();
    assert_eq!(data.default_oidc_provider_arn, None);
    assert!(!data.is_known("oidc_provider_arn"));
    assert!(!data.is_known("default_tags"));
    assert!(data.is_known("aws.region"));
}

#[tokio::test]
async fn an_oidc_provider_arn_in_another_partition_than_the_environment_region_is_refused() {
    let config = obj(&[(
        "oidc_provider_arn",
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/X".into(),
    )]);
    let diagnostic = configured(&config, &[("AWS_REGION", "us-gov-east-1")])
        .await
        .err()
        .expect("a partition mismatch");
    assert_eq!(
        diagnostic.attribute,
        Some(AttributePath::new("oidc_provider_arn"))
    );
    assert!(
        diagnostic.detail.contains("aws-us-gov"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn the_builder_serves_injected_clients() {
    let fake = super::super::fake_aws::FakeAws::new(|_| (500, String::new()));
    let data = ProviderData::builder()
        .region("us-gov-west-1")
        .sdk_config(fake.sdk_config("us-gov-west-1").await)
        .build();
    assert_eq!(data.partition(), Some(Partition::AwsUsGov));
    assert!(data.iam().await.is_ok());
    assert!(data.s3(Some("us-gov-east-1")).await.is_ok());
}

#[tokio::test]
async fn the_caller_account_is_asked_once_per_process_and_failures_are_not_retried() {
    let fake = super::super::fake_aws::FakeAws::new(|seen| {
        assert_eq!(seen.action(), "GetCallerIdentity");
        (
            200,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Arn>arn:aws:iam::444455556666:user/ci</Arn>\
             <UserId>AIDAEXAMPLE</UserId><Account>444455556666</Account>\
             </GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId>\
             </ResponseMetadata></GetCallerIdentityResponse>"
                .to_string(),
        )
    });
    let data = ProviderData::builder()
        .region("us-east-1")
        .sdk_config(fake.sdk_config("us-east-1").await)
        .build();
    for _ in 0..3 {
        assert_eq!(data.caller_account().await.as_deref(), Some("444455556666"));
    }
    assert_eq!(fake.seen().len(), 1);

    let refusing = super::super::fake_aws::FakeAws::new(|_| {
        (
            403,
            super::super::fake_aws::query_error("InvalidClientTokenId", "no such key"),
        )
    });
    let data = ProviderData::builder()
        .region("us-east-1")
        .sdk_config(refusing.sdk_config("us-east-1").await)
        .build();
    assert_eq!(data.caller_account().await, None);
    assert_eq!(data.caller_account().await, None);
    assert_eq!(
        refusing.seen().len(),
        1,
        "a failure is kept, not asked again"
    );
}
