//! The trait a managed resource implements.

use async_trait::async_trait;

use super::context::Context;
use super::plan::{PlanContext, PlannedChange};
use crate::codec::{Diagnostics, Schema, Value};

/// The result of create, update or delete.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// What exists now: the full new state, or `Value::Null` when nothing exists (after delete,
    /// or after a failed create that rolled everything back). On partial failure it is the real
    /// state of what exists, returned together with error diagnostics.
    pub new_state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

impl ApplyOutcome {
    /// Nothing was done: the state stays `state` (the prior state, or null before a create)
    /// and `diagnostics` say why.
    pub fn unchanged(state: &Value, diagnostics: impl Into<Diagnostics>) -> Self {
        ApplyOutcome {
            new_state: state.clone(),
            diagnostics: diagnostics.into(),
        }
    }
}

/// The result of read.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// The remote state; `Value::Null` when the object is gone (Terraform drops it from state).
    pub state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

impl ReadOutcome {
    /// Nothing could be read: the state stays `state` and `diagnostics` say why.
    pub fn unchanged(state: &Value, diagnostics: impl Into<Diagnostics>) -> Self {
        ReadOutcome {
            state: state.clone(),
            diagnostics: diagnostics.into(),
        }
    }
}

/// The result of import.
#[derive(Debug, Default)]
pub struct ImportOutcome {
    /// The imported state (Terraform calls read right after).
    pub state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// A managed resource type.
///
/// The framework (see [`super::plan`]) builds the base plan, applies schema-declared behaviour
/// (defaults, requires-replace, keeping prior computed values) and checks the result; the
/// resource only adds what it alone knows.
#[async_trait]
pub trait Resource: Send + Sync + 'static {
    /// The resource type name, e.g. `gitlabrunner_irsa_binding`.
    fn type_name(&self) -> &'static str;

    /// The schema.
    fn schema(&self) -> Schema;

    /// Checks that need only the configuration (values may be unknown: skip those). Called for
    /// `terraform validate` and again at plan time, before any API call.
    fn validate(&self, config: &Value) -> Diagnostics {
        let _ = config;
        Diagnostics::new()
    }

    /// Plan-time work that needs the provider configuration: checks against provider settings
    /// and computed values known before apply. `change.planned` already holds the framework's
    /// plan; set computed attributes there and push extra requires-replace paths.
    async fn modify_plan(&self, ctx: &PlanContext, change: &mut PlannedChange) -> Diagnostics {
        let _ = (ctx, change);
        Diagnostics::new()
    }

    /// Creates the remote objects for `planned`. All or nothing: on failure, remove what this
    /// call created and return `Value::Null`, or, if that fails too, the state of what remains.
    async fn create(&self, ctx: &Context, planned: &Value) -> ApplyOutcome;

    /// Updates in place from `prior` to `planned`.
    async fn update(&self, ctx: &Context, prior: &Value, planned: &Value) -> ApplyOutcome;

    /// Deletes the remote objects of `prior`; anything already gone is fine.
    async fn delete(&self, ctx: &Context, prior: &Value) -> ApplyOutcome;

    /// Reads the remote objects and returns the state they are in (drift shows as differences).
    async fn read(&self, ctx: &Context, current: &Value) -> ReadOutcome;

    /// Builds the state for `terraform import` from an import id.
    async fn import(&self, ctx: &Context, id: &str) -> ImportOutcome;

    /// Upgrades a JSON state from `version` to the current schema version.
    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        let _ = version;
        Ok(state)
    }
}
