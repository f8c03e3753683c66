//! Workloads for the fault-matrix tests and the benchmarks: many instances of the provider's
//! resources side by side, each with names derived from its own token; what they need before
//! Terraform runs; what exists of them afterwards; and the API calls an operation made.

pub mod binding;
pub mod cache;
pub mod calls;
pub mod inventory;
pub mod setup;

pub use binding::{BindingSpec, Shape, bindings_config};
pub use cache::{CacheSpec, caches_config};
pub use calls::{CallTemplate, FaultKind, templates};
pub use inventory::{
    BindingInventory, CacheInventory, binding_state_mismatches, cache_state_mismatches,
};

/// A token for a workload instance: `prefix` (a letter and digits) and a random suffix, valid
/// in every IAM, S3 and Kubernetes name the workloads derive from it.
pub fn token(prefix: &str) -> String {
    format!("{prefix}{}", crate::names::random_suffix())
}
