//! The AWS SDK configuration built from the `aws` block: one shared `SdkConfig` (credentials
//! from the standard chain, optionally through `assume_role`), and per-service client
//! configurations with the block's endpoints and bounded retries.
//!
//! Retries: the SDK's standard strategy (exponential backoff, full jitter, waits capped at
//! 5 s) with `max_retries + 1` attempts, default 10 retries: at 30% throttling a call then
//! fails only with probability 0.3^11 (about 2 in a million), so an apply of hundreds of IAM
//! calls rides it out, while an unreachable endpoint still fails after about 20 s of waiting
//! (42 s at most). The standard strategy also keeps a client-side retry quota (a token bucket
//! of 500, 5 per throttled retry, lost for good when that retry fails again) that stops
//! retrying, whatever `max_attempts` says, once sustained throttling has drained it; every
//! client here gets an unlimited bucket instead, as terraform-provider-aws does
//! (`ratelimit.None`), so only `max_retries` bounds the retries.

use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::app_name::AppName;
use aws_types::origin::Origin;
use aws_types::os_shim_internal::Env;
use aws_types::region::Region;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use super::credentials::ExplainedCredentials;
use super::schema::DEFAULT_MAX_RETRIES;
use super::settings::AwsSettings;

/// The first retry waits up to this long (full jitter), doubling each time.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// No single wait between retries is longer than this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An AWS service the provider calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// IAM.
    Iam,
    /// STS.
    Sts,
    /// S3.
    S3,
    /// EKS (Pod Identity associations).
    Eks,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::S3 => "s3",
            Service::Eks => "eks",
        }
    }
}

/// The endpoint the block sets for `service` (`endpoints.<service>`, else `endpoint_url`);
/// `None` leaves it to the SDK (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the profile,
/// then the public endpoint).
pub fn endpoint(settings: &AwsSettings, service: Service) -> Option<&str> {
    let specific = match service {
        Service::Iam => &settings.iam_endpoint,
        Service::Sts => &settings.sts_endpoint,
        Service::S3 => &settings.s3_endpoint,
        Service::Eks => &settings.eks_endpoint,
    };
    specific.as_deref().or(settings.endpoint_url.as_deref())
}

/// The environment variables the SDK reads endpoints from: the general one, then one per service.
const ENDPOINT_VARIABLES: [(&str, Option<Service>); 5] = [
    ("AWS_ENDPOINT_URL", None),
    ("AWS_ENDPOINT_URL_IAM", Some(Service::Iam)),
    ("AWS_ENDPOINT_URL_STS", Some(Service::Sts)),
    ("AWS_ENDPOINT_URL_S3", Some(Service::S3)),
    ("AWS_ENDPOINT_URL_EKS", Some(Service::Eks)),
];

/// `settings` with the `AWS_ENDPOINT_URL*` variables taken over when one of them is set but
/// empty: the SDK would read the empty value as an endpoint and panic resolving it. Empty
/// variables count as unset, the others keep the SDK's precedence (the block, then the
/// service's variable, then the general one), and the SDK is told to read none itself.
pub fn with_endpoint_environment(mut settings: AwsSettings, env: &Env) -> AwsSettings {
    let values: Vec<_> = ENDPOINT_VARIABLES
        .iter()
        .filter_map(|(name, service)| env.get(name).ok().map(|value| (*service, value)))
        .collect();
    if !values.iter().any(|(_, value)| value.trim().is_empty()) {
        return settings;
    }
    let set = |service: Option<Service>| {
        values
            .iter()
            .find(|(s, value)| *s == service && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_string())
    };
    let general = set(None);
    for service in [Service::Iam, Service::Sts, Service::S3, Service::Eks] {
        let slot = match service {
            Service::Iam => &mut settings.iam_endpoint,
            Service::Sts => &mut settings.sts_endpoint,
            Service::S3 => &mut settings.s3_endpoint,
            Service::Eks => &mut settings.eks_endpoint,
        };
        if slot.is_none() && settings.endpoint_url.is_none() {
            *slot = set(Some(service)).or_else(|| general.clone());
        }
    }
    settings.empty_endpoint_variables = true;
    settings
}

/// Service configuration from the environment in which an empty variable counts as unset. It
/// replaces the SDK's own (which reads the profile too) only when an endpoint variable is empty.
#[derive(Debug)]
struct NonEmptyEnvironment(Env);

impl LoadServiceConfig for NonEmptyEnvironment {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        self.0
            .get(key.env())
            .ok()
            .filter(|value| !value.trim().is_empty())
    }
}

/// The retry configuration for `max_retries` (the default when unset).
pub fn retry_config(max_retries: Option<u32>) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_retries.unwrap_or(DEFAULT_MAX_RETRIES) + 1)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// A retry partition whose quota never runs out (see the module documentation).
fn unlimited_retries(service: Service) -> RetryPartition {
    RetryPartition::custom(format!("gitlabrunner-{}", service.name()))
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// Loads the shared configuration: region, retries, the profile, and credentials from the
/// standard chain (assuming `assume_role` on top when set). Nothing is contacted here;
/// credentials are resolved on the first call.
pub async fn load_sdk_config(settings: &AwsSettings, region: &str) -> SdkConfig {
    load(settings, region, &Env::real(), std::convert::identity).await
}

/// [`load_sdk_config`], with `customize` applied to the loader last (tests: environment,
/// files, HTTP client); `env` is the environment the loader reads.
async fn load(
    settings: &AwsSettings,
    region: &str,
    env: &Env,
    customize: impl FnOnce(ConfigLoader) -> ConfigLoader,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(retry_config(settings.max_retries))
        .app_name(AppName::new("terraform-provider-gitlabrunner").expect("a valid app name"));
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    let mut base = customize(loader).load().await;
    if settings.empty_endpoint_variables {
        let mut builder = base.into_builder();
        builder.set_endpoint_url(None);
        builder.set_service_config(Some(NonEmptyEnvironment(env.clone())));
        base = builder.build();
    }
    let credentials = match &settings.assume_role {
        None => base.credentials_provider(),
        Some(role) => {
            let sts = with_endpoint(&base, endpoint(settings, Service::Sts));
            let mut builder = AssumeRoleProvider::builder(role.role_arn.clone()).configure(&sts);
            if let Some(name) = &role.session_name {
                builder = builder.session_name(name);
            }
            if let Some(id) = &role.external_id {
                builder = builder.external_id(id);
            }
            Some(SharedCredentialsProvider::new(builder.build().await))
        }
    };
    let explained = credentials.map(|inner| {
        SharedCredentialsProvider::new(ExplainedCredentials::new(
            inner,
            settings.profile.clone(),
            settings.assume_role.as_ref().map(|r| r.role_arn.clone()),
        ))
    });
    let mut builder = base.into_builder();
    builder.set_credentials_provider(explained);
    builder.build()
}

/// `config` with `url` as the endpoint of every client built from it, winning over the
/// `AWS_ENDPOINT_URL*` variables.
fn with_endpoint(config: &SdkConfig, url: Option<&str>) -> SdkConfig {
    let Some(url) = url else {
        return config.clone();
    };
    let mut builder = config.to_builder();
    builder.set_endpoint_url(Some(url.to_string()));
    builder.insert_origin("endpoint_url", Origin::shared_config());
    builder.build()
}

/// The IAM client configuration.
pub fn iam_config(sdk: &SdkConfig, settings: &AwsSettings) -> aws_sdk_iam::Config {
    let mut builder =
        aws_sdk_iam::config::Builder::from(sdk).retry_partition(unlimited_retries(Service::Iam));
    if let Some(url) = endpoint(settings, Service::Iam) {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// The STS client configuration.
pub fn sts_config(sdk: &SdkConfig, settings: &AwsSettings) -> aws_sdk_sts::Config {
    let mut builder =
        aws_sdk_sts::config::Builder::from(sdk).retry_partition(unlimited_retries(Service::Sts));
    if let Some(url) = endpoint(settings, Service::Sts) {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// The EKS client configuration (in the provider's region: the cluster's).
pub fn eks_config(sdk: &SdkConfig, settings: &AwsSettings) -> aws_sdk_eks::Config {
    let mut builder =
        aws_sdk_eks::config::Builder::from(sdk).retry_partition(unlimited_retries(Service::Eks));
    if let Some(url) = endpoint(settings, Service::Eks) {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// The S3 client configuration for buckets in `region` (the provider's when `None`),
/// path-style: emulators behind an IP address cannot serve `bucket.host` names.
pub fn s3_config(
    sdk: &SdkConfig,
    settings: &AwsSettings,
    region: Option<&str>,
) -> aws_sdk_s3::Config {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .retry_partition(unlimited_retries(Service::S3));
    if let Some(region) = region {
        builder = builder.region(Region::new(region.to_string()));
    }
    if let Some(url) = endpoint(settings, Service::S3) {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

#[cfg(test)]
#[path = "aws_tests.rs"]
mod tests;
