//! The resource framework: what a resource or data source implements, and the one place where
//! Terraform's plan/apply contract is enforced.
//!
//! Resources see [`crate::codec::Value`]s and return [`crate::codec::Diagnostics`]; they never see
//! protocol types. [`ProviderServer`] is the codec-level facade the gRPC service calls.

mod context;
mod data_source;
mod plan;
mod provider_server;
mod resource;

pub use context::Context;
pub use data_source::DataSource;
pub use plan::{PlanContext, PlannedChange, plan_change};
pub use provider_server::{
    ApplyResponse, ImportResponse, PlanResponse, ProviderServer, ReadResponse, Schemas,
};
pub use resource::{ApplyOutcome, ImportOutcome, ReadOutcome, Resource};

/// The framework's final plan steps, for resources' own plan tests.
#[cfg(test)]
pub(crate) use plan::{
    check_apply as check_apply_for_tests, check_plan as check_plan_for_tests,
    finish_plan as finish_plan_for_tests,
};
