//! AWS SDK clients pointed straight at the emulator, for assertions.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

/// IAM, STS, S3, EKS and EKS Auth clients for one endpoint, with the static test credentials.
///
/// Build a fresh set in each test (it is cheap): SDK clients keep connection pools that belong
/// to the runtime that used them first.
#[derive(Clone, Debug)]
pub struct AwsClients {
    /// Whether [`AwsClients::eks`] reaches the rig's EKS.
    serves_pod_identity: bool,
    /// IAM.
    pub iam: aws_sdk_iam::Client,
    /// STS.
    pub sts: aws_sdk_sts::Client,
    /// S3, path-style (the emulator is addressed by IP).
    pub s3: aws_sdk_s3::Client,
    /// EKS, whose Pod Identity operations the rig's EKS serves in the AWS proxy (see
    /// [`crate::aws::eks`]): for the emulator's own endpoint it goes to the harness's rig
    /// proxy, for a proxy's endpoint to that proxy.
    pub eks: aws_sdk_eks::Client,
    /// EKS Auth (`AssumeRoleForPodIdentity`), served by the rig like [`AwsClients::eks`].
    pub eks_auth: aws_sdk_eksauth::Client,
}

/// The access key id the harness gives the provider and its own clients.
pub const TEST_ACCESS_KEY_ID: &str = "test";
/// The secret access key the harness gives the provider and its own clients.
pub const TEST_SECRET_ACCESS_KEY: &str = "test";

impl AwsClients {
    /// Clients for `endpoint` in `region`, with the SDK's standard retries.
    pub async fn new(endpoint: &str, region: &str) -> Self {
        Self::with_max_attempts(endpoint, region, 3).await
    }

    /// Clients for `endpoint` in `region` that try each request at most `max_attempts` times
    /// (1 = no retries, to see an injected fault as the SDK reports it).
    pub async fn with_max_attempts(endpoint: &str, region: &str, max_attempts: u32) -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                TEST_ACCESS_KEY_ID,
                TEST_SECRET_ACCESS_KEY,
                None,
                None,
                "acceptance-harness",
            ))
            .retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(max_attempts),
            )
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .build();
        // The emulator lacks EKS Pod Identity: EKS goes to the proxy the harness serves the
        // rig's EKS from when `endpoint` is the emulator itself.
        let rig_proxy = crate::aws::eks::rig_for(endpoint)
            .and_then(|_| crate::aws::web_identity::gate_for(endpoint))
            .map(|entry| entry.sts_url)
            .filter(|url| !url.is_empty());
        let serves_pod_identity = rig_proxy.is_some() || is_rig_proxy(endpoint);
        let eks_shared = shared
            .to_builder()
            .endpoint_url(rig_proxy.as_deref().unwrap_or(endpoint))
            .build();
        Self {
            serves_pod_identity,
            iam: aws_sdk_iam::Client::new(&shared),
            sts: aws_sdk_sts::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(s3),
            eks: aws_sdk_eks::Client::new(&eks_shared),
            eks_auth: aws_sdk_eksauth::Client::new(&eks_shared),
        }
    }

    /// Whether [`AwsClients::eks`] and [`AwsClients::eks_auth`] reach the rig's EKS (the
    /// harness registered one for the emulator, or `endpoint` is a proxy serving it).
    pub fn serves_pod_identity(&self) -> bool {
        self.serves_pod_identity
    }
}

/// Whether `endpoint` is an AWS proxy that serves the rig's EKS.
fn is_rig_proxy(endpoint: &str) -> bool {
    crate::aws::proxy::serving_eks(endpoint)
}
