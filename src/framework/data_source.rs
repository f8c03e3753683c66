//! The trait a data source implements.

use async_trait::async_trait;

use super::context::Context;
use super::resource::ReadOutcome;
use crate::codec::{Diagnostics, Schema, Value};

/// A data source type.
#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    /// The data source type name, e.g. `gitlabrunner_oidc_provider`.
    fn type_name(&self) -> &'static str;

    /// The schema.
    fn schema(&self) -> Schema;

    /// Checks that need only the configuration (values may be unknown: skip those).
    fn validate(&self, config: &Value) -> Diagnostics {
        let _ = config;
        Diagnostics::new()
    }

    /// Reads the data for `config` (wholly known) and returns the full object.
    async fn read(&self, ctx: &Context, config: &Value) -> ReadOutcome;
}
