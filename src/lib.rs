//! `terraform-provider-gitlabrunner`: a Terraform provider (plugin protocol 6) that wires GitLab Runner
//! on EKS with IRSA: the IAM role with its OIDC trust policy, the annotated ServiceAccount, namespaced
//! RBAC, and the S3 build cache, each as one unit.
//!
//! Layers, from the wire inwards:
//! - [`server`]: go-plugin handshake, AutoMTLS, gRPC services; the only code that sees prost types.
//! - [`codec`]: cty values and types, msgpack/JSON wire formats, schemas, diagnostics.
//! - [`framework`]: the resource/data-source traits and the plan/apply contract, enforced in one place.
//! - [`provider`]: provider configuration and the clients built from it.
//! - [`aws`], [`kubernetes`]: narrow client layers.
//! - [`resources`], [`data_sources`]: what users write in their configuration.

pub mod aws;
pub mod codec;
pub mod concurrency;
pub mod data_sources;
pub mod docs;
pub mod error_chain;
pub mod framework;
pub mod jwt;
pub mod kubernetes;
pub mod ownership;
pub mod provider;
pub mod resources;
pub mod retry;
pub mod server;
pub mod trust_eval;
pub mod wiring;

/// Code generated from `proto/` by `build.rs`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    /// Terraform plugin protocol 6.10.
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    /// go-plugin's own services (controller, stdio, broker).
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}

/// The provider's registry address, as users write it in `required_providers`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/gitlabrunner/gitlabrunner";

/// The provider's version, from `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
