//! [`ProviderData`]: the configured provider as resources see it. Clients are built on first
//! use, once per provider process, and shared; a setting that is missing or not known yet
//! becomes a diagnostic for the resource that needs it, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use aws_types::SdkConfig;
use aws_types::os_shim_internal::{Env, Fs};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::aws::Partition;
use crate::codec::{AttributePath, Diagnostic};
use crate::concurrency::Fanout;
use crate::kubernetes::KubeClient;
use crate::wiring::{ClusterIssuer, ProviderRead, WiringCache, discovery};

use super::aws;
use super::kubernetes::{KubeConnection, KubeError};
use super::region::{self, Imds, RegionLookup, RegionSource};
use super::settings::{AwsSettings, ProviderSettings};

/// Settings and clients from the provider block, shared by every resource in this process.
pub struct ProviderData {
    /// The Terraform version that configured the provider.
    pub terraform_version: String,
    /// The AWS region (provider block, else environment/profile/instance metadata), if known
    /// and valid. [`ProviderData::require_region`] says why when it is not.
    pub region: Option<String>,
    /// `oidc_provider_arn` from the provider block: the default for resources that leave theirs unset.
    pub default_oidc_provider_arn: Option<String>,
    /// `default_tags` from the provider block, merged under each resource's own tags.
    pub default_tags: BTreeMap<String, String>,
    /// Whether independent API calls run concurrently or (benchmark serial mode) one by one.
    pub fanout: Fanout,
    region_lookup: RegionLookup,
    aws_settings: AwsSettings,
    unknown: Vec<AttributePath>,
    kube_connection: KubeConnection,
    env: Env,
    sdk_config: OnceCell<SdkConfig>,
    iam: OnceCell<aws_sdk_iam::Client>,
    sts: OnceCell<aws_sdk_sts::Client>,
    eks: OnceCell<aws_sdk_eks::Client>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    kube: OnceCell<kube::Client>,
    caller_account: OnceCell<Option<String>>,
    wiring: WiringCache,
}

/// Builds the provider's configuration from the provider block (already validated). Only the
/// region is resolved here (resources need it at plan time); clients are built on first use.
pub async fn configure(
    settings: ProviderSettings,
    terraform_version: &str,
    env: Env,
    fs: &Fs,
    imds: Imds,
) -> Result<ProviderData, Diagnostic> {
    let region_unknown = settings
        .unknown
        .contains(&AttributePath::new("aws").attr("region"))
        || settings.unknown.contains(&AttributePath::new("aws"));
    let region_lookup = region::resolve(
        settings.aws.region.as_deref(),
        region_unknown,
        settings.aws.profile.as_deref(),
        &env,
        fs,
        imds,
    )
    .await;
    let data = ProviderData {
        terraform_version: terraform_version.to_string(),
        region: region_lookup.name().map(str::to_string),
        default_oidc_provider_arn: settings.oidc_provider_arn.clone(),
        default_tags: settings.default_tags.clone(),
        fanout: Fanout::from_env(),
        kube_connection: KubeConnection::new(
            settings.kubernetes.clone(),
            settings
                .unknown_under(&AttributePath::new("kubernetes"))
                .into_iter()
                .cloned()
                .collect(),
        ),
        region_lookup,
        aws_settings: aws::with_endpoint_environment(settings.aws, &env),
        unknown: settings.unknown,
        env,
        ..ProviderData::empty()
    };
    // Every resource and data source of this provider calls AWS, so a region that is not one
    // of a known partition is refused here, at plan, not at the first API call.
    if let RegionLookup::Invalid { value, source } = &data.region_lookup {
        return Err(invalid_region(value, source));
    }
    data.check_oidc_provider_partition()?;
    Ok(data)
}

impl ProviderData {
    fn empty() -> ProviderData {
        ProviderData {
            terraform_version: String::new(),
            region: None,
            default_oidc_provider_arn: None,
            default_tags: BTreeMap::new(),
            fanout: Fanout::default(),
            region_lookup: RegionLookup::Missing,
            aws_settings: AwsSettings::default(),
            unknown: Vec::new(),
            kube_connection: KubeConnection::default(),
            env: Env::real(),
            sdk_config: OnceCell::new(),
            iam: OnceCell::new(),
            sts: OnceCell::new(),
            eks: OnceCell::new(),
            s3: Mutex::new(HashMap::new()),
            kube: OnceCell::new(),
            caller_account: OnceCell::new(),
            wiring: WiringCache::default(),
        }
    }

    /// A provider for unit tests and tools: no provider block, the clients given.
    pub fn builder() -> ProviderDataBuilder {
        ProviderDataBuilder {
            data: ProviderData::empty(),
        }
    }

    /// The AWS region, if known.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The partition of the AWS region, if the region is known.
    pub fn partition(&self) -> Option<Partition> {
        self.region().and_then(Partition::from_region)
    }

    /// The AWS region, or the diagnostic explaining why there is none (not set anywhere, not
    /// known until apply, or not a region name). Like every diagnostic about provider settings
    /// that resources pass on, it has no attribute path (Terraform would read it as the
    /// resource's); the detail names the setting.
    pub fn require_region(&self) -> Result<&str, Diagnostic> {
        match &self.region_lookup {
            RegionLookup::Found { name, .. } => Ok(name),
            RegionLookup::Unknown => Err(Diagnostic::error(
                "AWS region not known yet",
                "The provider setting aws.region depends on a value Terraform learns only \
                 during apply, but this operation needs the region now (to build ARNs). Set it \
                 from a value known at plan time.",
            )),
            RegionLookup::Missing => Err(Diagnostic::error(
                "AWS region not set",
                "No AWS region is configured: set aws.region in the provider block, or \
                 AWS_REGION in the environment, or a region in the AWS profile.",
            )),
            RegionLookup::Invalid { value, source } => Err(invalid_region(value, source)),
        }
    }

    /// The partition of the AWS region, or why it cannot be known.
    pub fn require_partition(&self) -> Result<Partition, Diagnostic> {
        let region = self.require_region()?;
        Partition::for_region(region)
            .map_err(|error| Diagnostic::error(error.summary(), error.explain(region)))
    }

    /// Whether the provider-block setting at `path` (e.g. `default_tags`, `oidc_provider_arn`,
    /// `aws.region`) has a known value or is unset. When this is false, the matching field
    /// holds no value although the configuration sets one: plan what depends on it as unknown.
    pub fn is_known(&self, path: &str) -> bool {
        let within = |inner: &str, outer: &str| {
            inner == outer
                || inner.starts_with(&format!("{outer}."))
                || inner.starts_with(&format!("{outer}["))
        };
        !self.unknown.iter().any(|unknown| {
            let unknown = unknown.to_string();
            within(path, &unknown) || within(&unknown, path)
        })
    }

    /// The IAM client.
    pub async fn iam(&self) -> Result<aws_sdk_iam::Client, Diagnostic> {
        let sdk = self.sdk_config().await?;
        Ok(self
            .iam
            .get_or_init(|| async {
                aws_sdk_iam::Client::from_conf(aws::iam_config(sdk, &self.aws_settings))
            })
            .await
            .clone())
    }

    /// The STS client.
    pub async fn sts(&self) -> Result<aws_sdk_sts::Client, Diagnostic> {
        let sdk = self.sdk_config().await?;
        Ok(self
            .sts
            .get_or_init(|| async {
                aws_sdk_sts::Client::from_conf(aws::sts_config(sdk, &self.aws_settings))
            })
            .await
            .clone())
    }

    /// The EKS client (Pod Identity associations).
    pub async fn eks(&self) -> Result<aws_sdk_eks::Client, Diagnostic> {
        let sdk = self.sdk_config().await?;
        Ok(self
            .eks
            .get_or_init(|| async {
                aws_sdk_eks::Client::from_conf(aws::eks_config(sdk, &self.aws_settings))
            })
            .await
            .clone())
    }

    /// An S3 client for buckets in `region` (the provider's region when `None`), path-style.
    pub async fn s3(&self, region: Option<&str>) -> Result<aws_sdk_s3::Client, Diagnostic> {
        let sdk = self.sdk_config().await?;
        let mut clients = self.s3.lock().expect("s3 client cache");
        let client = clients
            .entry(region.unwrap_or_default().to_string())
            .or_insert_with(|| {
                aws_sdk_s3::Client::from_conf(aws::s3_config(sdk, &self.aws_settings, region))
            });
        Ok(client.clone())
    }

    /// The Kubernetes client.
    pub async fn kube(&self) -> Result<kube::Client, Diagnostic> {
        self.kube
            .get_or_try_init(|| self.kube_connection.client(&self.env))
            .await
            .cloned()
    }

    /// The AWS account the provider's credentials belong to (`sts:GetCallerIdentity`), asked
    /// at most once per provider process; `None` when it cannot be known (no credentials,
    /// STS unreachable: the operation that needs AWS reports that itself).
    pub async fn caller_account(&self) -> Option<String> {
        self.caller_account
            .get_or_init(|| async {
                let sts = self.sts().await.ok()?;
                match sts.get_caller_identity().send().await {
                    Ok(identity) => identity.account().map(str::to_string),
                    Err(error) => {
                        tracing::debug!(
                            error = %crate::error_chain::error_chain(&error),
                            "sts:GetCallerIdentity failed; the account is not checked"
                        );
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// At plan time, whether the Kubernetes API will be reachable at all: the error an apply
    /// would meet first when no source is configured (no `kubernetes` block settings, no
    /// `KUBECONFIG`, no `~/.kube/config`, not in a pod). It reads no file and calls no API;
    /// settings not known yet, and files that may appear during apply, are left to apply.
    pub fn require_kubernetes_source(&self) -> Result<(), Diagnostic> {
        if self.kube.initialized() {
            return Ok(());
        }
        match self.kube_connection.source(&self.env) {
            Err(error @ KubeError::NotConfigured { .. }) => Err(error.diagnostic(None)),
            _ => Ok(()),
        }
    }

    /// The configured cluster's service account issuer, read on first use and kept for this
    /// process (see [`crate::wiring::discovery`]). `cancel` stops the first read's retries.
    pub async fn cluster_issuer(&self, cancel: &CancellationToken) -> ClusterIssuer {
        self.wiring
            .cluster_issuer(async {
                match self.kube().await {
                    Ok(client) => {
                        let kube = KubeClient::new(client, cancel.clone());
                        Box::pin(discovery::discover(&kube)).await
                    }
                    Err(why) => ClusterIssuer::Unreadable {
                        reason: format!("{}: {}", why.summary, why.detail),
                    },
                }
            })
            .await
    }

    /// The IAM OIDC provider `arn` (`iam:GetOpenIDConnectProvider`), read on first use and
    /// kept for this process.
    pub async fn oidc_provider(&self, arn: &crate::aws::OidcProviderArn) -> ProviderRead {
        self.wiring
            .oidc_provider(arn, async {
                self.iam()
                    .await
                    .map_err(|why| format!("{}: {}", why.summary, why.detail))
            })
            .await
    }

    async fn sdk_config(&self) -> Result<&SdkConfig, Diagnostic> {
        let aws_unknown: Vec<String> = self
            .unknown
            .iter()
            .filter(|p| p.starts_with(&AttributePath::new("aws")))
            .map(ToString::to_string)
            .collect();
        if !aws_unknown.is_empty() {
            let (settings, verb) = match aws_unknown.len() {
                1 => ("setting", "depends"),
                _ => ("settings", "depend"),
            };
            return Err(Diagnostic::error(
                "AWS settings not known yet",
                format!(
                    "The provider {settings} {} {verb} on values Terraform learns only during \
                     apply, but this operation needs AWS now. Apply the resources the provider \
                     block depends on first (terraform apply -target=...), or configure the \
                     provider from values known at plan time.",
                    aws_unknown.join(", ")
                ),
            ));
        }
        self.sdk_config
            .get_or_try_init(|| async {
                let region = self.require_region()?;
                Ok(aws::load_sdk_config(&self.aws_settings, region).await)
            })
            .await
    }

    fn check_oidc_provider_partition(&self) -> Result<(), Diagnostic> {
        let (Some(arn), Some(region), Some(region_partition)) = (
            &self.default_oidc_provider_arn,
            self.region(),
            self.partition(),
        ) else {
            return Ok(());
        };
        match crate::aws::OidcProviderArn::parse(arn) {
            Ok(parsed) if parsed.partition != region_partition => {
                Err(super::validate::partition_mismatch(
                    "oidc_provider_arn",
                    parsed.partition,
                    region,
                    region_partition,
                )
                .at(AttributePath::new("oidc_provider_arn")))
            }
            _ => Ok(()),
        }
    }
}

/// The error for a region from `source` that is not a region of a known partition.
fn invalid_region(region: &str, source: &RegionSource) -> Diagnostic {
    let error = Partition::for_region(region)
        .err()
        .unwrap_or(crate::aws::partition::RegionError::Malformed);
    Diagnostic::error(
        error.summary(),
        format!(
            "The AWS region comes from {source}. {}",
            error.explain(region)
        ),
    )
}

/// Builds a [`ProviderData`] without a provider block (see [`ProviderData::builder`]).
pub struct ProviderDataBuilder {
    data: ProviderData,
}

impl ProviderDataBuilder {
    /// The AWS region.
    pub fn region(mut self, region: &str) -> Self {
        self.data.region = Some(region.to_string());
        self.data.region_lookup = RegionLookup::Found {
            name: region.to_string(),
            source: RegionSource::ProviderBlock,
        };
        self
    }

    /// The default OIDC provider ARN.
    pub fn default_oidc_provider_arn(mut self, arn: &str) -> Self {
        self.data.default_oidc_provider_arn = Some(arn.to_string());
        self
    }

    /// The default tags.
    pub fn default_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.data.default_tags = tags;
        self
    }

    /// Serial or concurrent API calls.
    pub fn fanout(mut self, fanout: Fanout) -> Self {
        self.data.fanout = fanout;
        self
    }

    /// The AWS configuration every AWS client is built from (e.g. with a fake HTTP client).
    pub fn sdk_config(mut self, sdk_config: SdkConfig) -> Self {
        self.data.sdk_config = OnceCell::from(sdk_config);
        self
    }

    /// The Kubernetes client (e.g. over a scripted transport).
    pub fn kube_client(mut self, client: kube::Client) -> Self {
        self.data.kube = OnceCell::from(client);
        self
    }

    /// The provider data.
    pub fn build(self) -> ProviderData {
        self.data
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
