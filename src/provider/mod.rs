//! The provider block: schema, validation, and the configured clients (`ProviderData`).
//!
//! INTERFACE FIRST: the public API of [`ProviderData`] below is the contract the framework and
//! the resources rely on; the provider-configuration work (issue #2, part 5) fills in the
//! schema, validation and client construction behind it without changing these signatures.

use std::collections::BTreeMap;

use aws_config::BehaviorVersion;
use tokio::sync::OnceCell;

use crate::aws::Partition;
use crate::codec::{Block, Diagnostic, Diagnostics, Schema, Value};
use crate::concurrency::Fanout;

/// The provider block's schema.
pub fn schema() -> Schema {
    Schema::new(0, Block::new("GitLab Runner on EKS"))
}

/// Checks the provider block before any API call (values may be unknown).
pub fn validate(config: &Value) -> Diagnostics {
    let _ = config;
    Diagnostics::new()
}

/// Builds the provider's configuration from the provider block. Clients are not built here:
/// each is built on first use and then shared by every resource in this process.
pub async fn configure(
    config: &Value,
    terraform_version: &str,
) -> Result<ProviderData, Diagnostics> {
    let _ = config;
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok();
    Ok(ProviderData {
        terraform_version: terraform_version.to_string(),
        region,
        default_oidc_provider_arn: None,
        default_tags: BTreeMap::new(),
        fanout: Fanout::from_env(),
        sdk_config: OnceCell::new(),
        kube: OnceCell::new(),
    })
}

/// Settings and clients from the provider block, shared by every resource in this process.
pub struct ProviderData {
    /// The Terraform version that configured the provider.
    pub terraform_version: String,
    /// The AWS region (provider block, else environment/profile), if known.
    pub region: Option<String>,
    /// `oidc_provider_arn` from the provider block: the default for resources that leave theirs unset.
    pub default_oidc_provider_arn: Option<String>,
    /// `default_tags` from the provider block, merged under each resource's own tags.
    pub default_tags: BTreeMap<String, String>,
    /// Whether independent API calls run concurrently or (benchmark serial mode) one by one.
    pub fanout: Fanout,
    sdk_config: OnceCell<aws_config::SdkConfig>,
    kube: OnceCell<kube::Client>,
}

impl ProviderData {
    /// The AWS region, if known.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The partition of the AWS region, if the region is known.
    pub fn partition(&self) -> Option<Partition> {
        self.region().and_then(Partition::from_region)
    }

    /// The IAM client.
    pub async fn iam(&self) -> Result<aws_sdk_iam::Client, Diagnostic> {
        Ok(aws_sdk_iam::Client::new(self.sdk_config().await?))
    }

    /// The STS client.
    pub async fn sts(&self) -> Result<aws_sdk_sts::Client, Diagnostic> {
        Ok(aws_sdk_sts::Client::new(self.sdk_config().await?))
    }

    /// An S3 client for buckets in `region` (the provider's region when `None`), path-style.
    pub async fn s3(&self, region: Option<&str>) -> Result<aws_sdk_s3::Client, Diagnostic> {
        let mut builder =
            aws_sdk_s3::config::Builder::from(self.sdk_config().await?).force_path_style(true);
        if let Some(region) = region {
            builder = builder.region(aws_config::Region::new(region.to_string()));
        }
        Ok(aws_sdk_s3::Client::from_conf(builder.build()))
    }

    /// The Kubernetes client.
    pub async fn kube(&self) -> Result<kube::Client, Diagnostic> {
        self.kube
            .get_or_try_init(|| async {
                kube::Client::try_default().await.map_err(|e| {
                    Diagnostic::error(
                        "Kubernetes is not configured",
                        format!("No usable Kubernetes configuration: {e}"),
                    )
                })
            })
            .await
            .cloned()
    }

    async fn sdk_config(&self) -> Result<&aws_config::SdkConfig, Diagnostic> {
        self.sdk_config
            .get_or_try_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(region) = &self.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                Ok(loader.load().await)
            })
            .await
    }
}
