//! The Kubernetes REST API: routing, handlers and Status errors.

pub mod status;
