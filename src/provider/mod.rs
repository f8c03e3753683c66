//! The provider block: schema, validation, and the configured clients (`ProviderData`).
//!
//! PLACEHOLDER: being written (issue #2, part 5). The signatures below are the contract the
//! framework and the resources rely on.

use std::collections::BTreeMap;

use crate::codec::{Block, Diagnostic, Diagnostics, Schema, Value};

/// The provider block's schema.
pub fn schema() -> Schema {
    Schema::new(0, Block::new("GitLab Runner on EKS"))
}

/// Checks the provider block before any API call (values may be unknown).
pub fn validate(config: &Value) -> Diagnostics {
    let _ = config;
    Diagnostics::new()
}

/// Builds the provider's configuration from the provider block.
pub async fn configure(
    config: &Value,
    terraform_version: &str,
) -> Result<ProviderData, Diagnostics> {
    let _ = config;
    Ok(ProviderData {
        terraform_version: terraform_version.to_string(),
        region: None,
        default_oidc_provider_arn: None,
        default_tags: BTreeMap::new(),
    })
}

/// Settings and clients from the provider block, shared by every resource in this process.
pub struct ProviderData {
    /// The Terraform version that configured the provider.
    pub terraform_version: String,
    /// The AWS region (provider block, else environment), if known.
    pub region: Option<String>,
    /// `oidc_provider_arn` from the provider block.
    pub default_oidc_provider_arn: Option<String>,
    /// `default_tags` from the provider block.
    pub default_tags: BTreeMap<String, String>,
}

impl ProviderData {
    /// The IAM client.
    pub async fn iam(&self) -> Result<aws_sdk_iam::Client, Diagnostic> {
        Err(Diagnostic::error("not yet", ""))
    }
}
