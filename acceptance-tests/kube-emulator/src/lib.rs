//! Kubernetes API emulator: a dev-only stand-in for kube-apiserver v1.28 in tests.
//!
//! It serves the real REST paths over HTTPS with its own CA, authenticates bearer tokens
//! (static tokens and ServiceAccount JWTs it issued), authorizes with real RBAC, and keeps
//! Namespaces, ServiceAccounts, Secrets, ConfigMaps and RBAC objects in memory with the real
//! server's resourceVersion, validation, patch and server-side-apply semantics. Tests drive it
//! in-process through [`Emulator`] or out-of-process through the `kube-emulator` binary and
//! the `/__emulator/` admin endpoints. See the crate README for the fidelity notes.

#![warn(missing_docs)]

pub mod admin;
pub mod api;
pub mod authn;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod controllers;
pub mod emulator;
pub mod faults;
pub mod gostr;
pub mod ids;
pub mod kinds;
pub mod kubeconfig;
pub mod managed_fields;
pub mod patch;
pub mod pipeline;
pub mod rbac;
pub mod request_log;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod smd;
pub mod store;
pub mod tls;
pub mod validation;

pub use authn::token_file::StaticToken;
pub use config::EmulatorConfig;
pub use emulator::{Emulator, HeldRequest, StartError};
pub use faults::{Fault, FaultAction, Latency};
pub use request_log::RequestRecord;
