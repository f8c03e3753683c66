//! The AWS region, resolved when the provider is configured: resources need it at plan time to
//! build ARNs. Order: the `aws` block, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's
//! `region`, then EC2 instance metadata with a hard time limit, so that a machine without IMDS
//! never makes `terraform plan` hang.

use std::fmt;
use std::time::Duration;

use aws_config::imds;
use aws_config::imds::region::ImdsRegionProvider;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use crate::aws::Partition;

/// How long configure may wait for the instance metadata service. On EC2 it answers in
/// milliseconds; elsewhere its address usually swallows packets until a timeout.
pub const IMDS_TIME_LIMIT: Duration = Duration::from_secs(1);

/// Where the region came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionSource {
    /// `aws.region` in the provider block.
    ProviderBlock,
    /// An environment variable (`AWS_REGION` or `AWS_DEFAULT_REGION`).
    Environment(&'static str),
    /// The `region` of a profile in the shared config file.
    Profile(String),
    /// The EC2 instance metadata service.
    InstanceMetadata,
}

impl fmt::Display for RegionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionSource::ProviderBlock => f.write_str("aws.region"),
            RegionSource::Environment(name) => f.write_str(name),
            RegionSource::Profile(name) => write!(f, "the region of AWS profile {name:?}"),
            RegionSource::InstanceMetadata => f.write_str("the EC2 instance metadata"),
        }
    }
}

/// The outcome of region resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionLookup {
    /// A valid region.
    Found {
        /// The region name.
        name: String,
        /// Where it came from.
        source: RegionSource,
    },
    /// `aws.region` is set but not known until apply.
    Unknown,
    /// No source names a region.
    Missing,
    /// A source names something that is not a region.
    Invalid {
        /// What it says.
        value: String,
        /// Which source.
        source: RegionSource,
    },
}

impl RegionLookup {
    /// The region name, when one was found.
    pub fn name(&self) -> Option<&str> {
        match self {
            RegionLookup::Found { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// Whether to ask the instance metadata service as the last resort.
#[derive(Clone, Debug)]
pub enum Imds {
    /// Never (tests, or when the caller knows there is none).
    Skip,
    /// Ask, giving up after `limit`; `endpoint` overrides the standard address.
    Ask {
        /// The overall time limit.
        limit: Duration,
        /// An endpoint override (tests); `None` for the standard one (or
        /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
        endpoint: Option<String>,
    },
}

/// Resolves the region from the block (`configured`, `configured_unknown`), then `env`, the
/// shared config files read through `fs`, then IMDS.
pub async fn resolve(
    configured: Option<&str>,
    configured_unknown: bool,
    profile: Option<&str>,
    env: &Env,
    fs: &Fs,
    imds: Imds,
) -> RegionLookup {
    if configured_unknown {
        return RegionLookup::Unknown;
    }
    if let Some(region) = configured {
        return checked(region, RegionSource::ProviderBlock);
    }
    for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Ok(region) = env.get(name)
            && !region.trim().is_empty()
        {
            return checked(region.trim(), RegionSource::Environment(name));
        }
    }
    if let Some((region, profile)) = profile_region(profile, env, fs).await {
        return checked(&region, RegionSource::Profile(profile));
    }
    match imds {
        Imds::Skip => RegionLookup::Missing,
        Imds::Ask { limit, endpoint } => match instance_metadata_region(limit, endpoint, env).await
        {
            Some(region) => checked(&region, RegionSource::InstanceMetadata),
            None => RegionLookup::Missing,
        },
    }
}

fn checked(region: &str, source: RegionSource) -> RegionLookup {
    if Partition::from_region(region).is_some() {
        RegionLookup::Found {
            name: region.to_string(),
            source,
        }
    } else {
        RegionLookup::Invalid {
            value: region.to_string(),
            source,
        }
    }
}

/// The `region` of the selected profile (the block's `profile`, else `AWS_PROFILE`, else
/// `default`) and that profile's name.
async fn profile_region(profile: Option<&str>, env: &Env, fs: &Fs) -> Option<(String, String)> {
    let selected = profile.map(|p| std::borrow::Cow::Owned(p.to_string()));
    let profiles = aws_config::profile::load(fs, env, &EnvConfigFiles::default(), selected)
        .await
        .ok()?;
    let region = profiles.get("region")?.trim().to_string();
    Some((region, profiles.selected_profile().to_string())).filter(|(r, _)| !r.is_empty())
}

async fn instance_metadata_region(
    limit: Duration,
    endpoint: Option<String>,
    env: &Env,
) -> Option<String> {
    if env
        .get("AWS_EC2_METADATA_DISABLED")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    let mut client = imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(limit)
        .read_timeout(limit);
    if let Some(endpoint) = endpoint {
        client = client.endpoint(endpoint).ok()?;
    }
    let provider = ImdsRegionProvider::builder()
        .imds_client(client.build())
        .build();
    tokio::time::timeout(limit, provider.region())
        .await
        .ok()
        .flatten()
        .map(|region| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(config: &str) -> Fs {
        Fs::from_slice(&[("/home/me/.aws/config", config)])
    }

    async fn lookup(
        configured: Option<&str>,
        profile: Option<&str>,
        env: &[(&str, &str)],
        fs: &Fs,
    ) -> RegionLookup {
        let mut vars = vec![("HOME", "/home/me")];
        vars.extend_from_slice(env);
        resolve(
            configured,
            false,
            profile,
            &Env::from_slice(&vars),
            fs,
            Imds::Skip,
        )
        .await
    }

    fn found(name: &str, source: RegionSource) -> RegionLookup {
        RegionLookup::Found {
            name: name.into(),
            source,
        }
    }

    #[tokio::test]
    async fn the_provider_block_wins_over_the_environment_and_profiles() {
        let fs = files("[default]\nregion = ap-south-1\n");
        let env = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-west-2"),
        ];
        assert_eq!(
            lookup(Some("us-gov-west-1"), None, &env, &fs).await,
            found("us-gov-west-1", RegionSource::ProviderBlock)
        );
    }

    #[tokio::test]
    async fn aws_region_wins_over_aws_default_region_and_profiles() {
        let fs = files("[default]\nregion = ap-south-1\n");
        assert_eq!(
            lookup(
                None,
                None,
                &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_DEFAULT_REGION", "us-west-2")
                ],
                &fs
            )
            .await,
            found("eu-west-1", RegionSource::Environment("AWS_REGION"))
        );
        assert_eq!(
            lookup(None, None, &[("AWS_DEFAULT_REGION", "us-west-2")], &fs).await,
            found("us-west-2", RegionSource::Environment("AWS_DEFAULT_REGION"))
        );
    }

    #[tokio::test]
    async fn the_selected_profile_supplies_the_region_last() {
        let fs = files(
            "[default]\nregion = ap-south-1\n[profile china]\nregion = cn-north-1\n\
             [profile noregion]\noutput = json\n",
        );
        assert_eq!(
            lookup(None, None, &[], &fs).await,
            found("ap-south-1", RegionSource::Profile("default".into()))
        );
        assert_eq!(
            lookup(None, Some("china"), &[], &fs).await,
            found("cn-north-1", RegionSource::Profile("china".into()))
        );
        assert_eq!(
            lookup(None, None, &[("AWS_PROFILE", "china")], &fs).await,
            found("cn-north-1", RegionSource::Profile("china".into()))
        );
        assert_eq!(
            lookup(None, Some("noregion"), &[], &fs).await,
            RegionLookup::Missing
        );
    }

    #[tokio::test]
    async fn an_unknown_configured_region_is_not_replaced_by_the_environment() {
        let env = Env::from_slice(&[("AWS_REGION", "eu-west-1")]);
        let lookup = resolve(None, true, None, &env, &Fs::from_slice(&[]), Imds::Skip).await;
        assert_eq!(lookup, RegionLookup::Unknown);
    }

    #[tokio::test]
    async fn a_malformed_region_from_the_environment_is_reported_with_its_source() {
        assert_eq!(
            lookup(
                None,
                None,
                &[("AWS_REGION", "Frankfurt")],
                &Fs::from_slice(&[])
            )
            .await,
            RegionLookup::Invalid {
                value: "Frankfurt".into(),
                source: RegionSource::Environment("AWS_REGION"),
            }
        );
    }

    #[tokio::test]
    async fn instance_metadata_that_never_answers_gives_up_at_the_time_limit() {
        // A listener that accepts connections and never answers, like a black-holed IMDS.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let started = std::time::Instant::now();
        let lookup = resolve(
            None,
            false,
            None,
            &Env::from_slice(&[]),
            &Fs::from_slice(&[]),
            Imds::Ask {
                limit: Duration::from_millis(200),
                endpoint: Some(endpoint),
            },
        )
        .await;
        assert_eq!(lookup, RegionLookup::Missing);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        drop(listener);
    }

    #[tokio::test]
    async fn instance_metadata_is_not_asked_when_disabled() {
        let env = Env::from_slice(&[("AWS_EC2_METADATA_DISABLED", "true")]);
        let lookup = resolve(
            None,
            false,
            None,
            &env,
            &Fs::from_slice(&[]),
            Imds::Ask {
                limit: Duration::from_secs(60),
                endpoint: Some("http://127.0.0.1:9".into()),
            },
        )
        .await;
        assert_eq!(lookup, RegionLookup::Missing);
    }
}
