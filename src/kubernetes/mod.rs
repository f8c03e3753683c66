//! The narrow Kubernetes client layer: the verbs this provider needs on namespaced built-in
//! kinds (get with NotFound as `None`, create, replace, merge patch, server-side apply, delete
//! with a uid precondition, TokenRequest), classified errors, and bounded retries.
//!
//! The client built by `kube` retries some statuses itself unless its configuration turns
//! `default_retry` off; this layer's retries are bounded and honour `StopProvider` either way.

mod client;
mod error;
mod managed_fields;

#[cfg(test)]
mod client_tests;

pub use client::{FIELD_MANAGER, KUBE_RETRY, KubeClient, NamespacedObject};
pub use error::{FieldConflict, KubeError, KubeErrorKind};
pub use managed_fields::ManagedFields;
