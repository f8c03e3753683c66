//! `gitlabrunner_cache` instances for fault-matrix tests: a bucket the resource creates and the
//! inline policy on a manager role the test made, every name derived from one token.

use crate::hcl::quote;

/// The Terraform type name.
pub const CACHE_TYPE: &str = "gitlabrunner_cache";

/// One cache, every name derived from `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// Distinguishes this instance's names from every other's.
    pub token: String,
    /// The Terraform resource name.
    pub name: String,
    /// The manager role (`wl-TOKEN`), created by the test before the resource.
    pub role_name: String,
    /// The bucket (`wl-TOKEN-cache`).
    pub bucket_name: String,
    /// The cache path.
    pub path: String,
    /// Expiration of cache objects.
    pub expiration_days: u32,
    /// Whether destroy may empty the bucket.
    pub force_destroy: bool,
}

impl CacheSpec {
    /// A cache with `create_bucket = true` named after `token`.
    pub fn new(token: &str) -> Self {
        Self {
            token: token.to_string(),
            name: format!("c_{token}"),
            role_name: format!("wl-{token}"),
            bucket_name: format!("wl-{token}-cache"),
            path: "runner".to_string(),
            expiration_days: 14,
            force_destroy: true,
        }
    }

    /// The resource address.
    pub fn address(&self) -> String {
        format!("{CACHE_TYPE}.{}", self.name)
    }

    /// The inline policy name the resource uses by default.
    pub fn policy_name(&self) -> String {
        format!("gitlabrunner-cache-{}", self.bucket_name)
    }

    /// The resource block.
    pub fn hcl(&self) -> String {
        format!(
            "resource \"{CACHE_TYPE}\" \"{}\" {{\n  role_name       = {}\n  bucket_name     = {}\n  path            = {}\n  create_bucket   = true\n  expiration_days = {}\n  force_destroy   = {}\n}}\n",
            self.name,
            quote(&self.role_name),
            quote(&self.bucket_name),
            quote(&self.path),
            self.expiration_days,
            self.force_destroy,
        )
    }
}

/// A configuration of many caches behind one provider block.
pub fn caches_config(provider_body: &str, caches: &[CacheSpec]) -> String {
    let mut text = crate::hcl::with_provider(provider_body);
    for cache in caches {
        text.push('\n');
        text.push_str(&cache.hcl());
    }
    text
}
