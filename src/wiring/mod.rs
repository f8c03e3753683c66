//! Proof of wiring: what the configured cluster says about itself (its service account
//! issuer), read once per provider process, and the rules for comparing it with an IAM OIDC
//! provider.
//!
//! - [`issuer`]: issuer URLs compared as IAM compares them (pure).
//! - [`discovery`]: the cluster's issuer from its discovery document, or a token's `iss`.
//! - [`cache`]: both reads kept per provider process.

pub mod cache;
pub mod discovery;
pub mod issuer;

pub use cache::{ProviderRead, WiringCache};
pub use discovery::{ClusterIssuer, IssuerSource};
pub use issuer::{Issuer, Relation};

#[cfg(test)]
pub(crate) mod tests;
