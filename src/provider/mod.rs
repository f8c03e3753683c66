//! The provider block: schema, validation, and the configured clients ([`ProviderData`]).
//!
//! - [`schema`]: the block's schema, whose descriptions are the provider documentation.
//! - [`validate`]: checks that need no API call, with attribute paths.
//! - [`settings`]: the block read into typed settings, unknown values recorded by path.
//! - [`region`]: the AWS region, resolved at configure time without waiting on IMDS.
//! - [`aws`] and [`credentials`]: the AWS SDK configuration (endpoints, retries, assume role).
//! - [`kubernetes`]: the kube-rs configuration from the block, a kubeconfig or the pod.
//! - [`data`]: [`ProviderData`], the clients built lazily and shared.

pub mod aws;
pub mod credentials;
pub mod data;
#[cfg(test)]
pub mod fake_aws;
pub mod kubernetes;
pub mod pem;
pub mod region;
pub mod schema;
pub mod settings;
pub mod url;
pub mod validate;

use aws_types::os_shim_internal::{Env, Fs};

use crate::codec::{Diagnostics, Schema, Value};

pub use data::{ProviderData, ProviderDataBuilder};
pub use settings::ProviderSettings;

/// The provider block's schema.
pub fn schema() -> Schema {
    schema::schema()
}

/// Checks the provider block before any API call (values may be unknown: those are skipped).
pub fn validate(config: &Value) -> Diagnostics {
    validate::validate(config)
}

/// Builds the provider's configuration from the provider block. Clients are not built here:
/// each is built on first use and then shared by every resource in this process.
pub async fn configure(
    config: &Value,
    terraform_version: &str,
) -> Result<ProviderData, Diagnostics> {
    let imds = region::Imds::Ask {
        limit: region::IMDS_TIME_LIMIT,
        endpoint: None,
    };
    data::configure(
        ProviderSettings::from_config(config),
        terraform_version,
        Env::real(),
        &Fs::real(),
        imds,
    )
    .await
    .map_err(Diagnostics::from)
}
