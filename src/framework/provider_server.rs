//! The provider as the gRPC service sees it: every protocol operation in codec terms.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};

use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::data_source::DataSource;
use super::plan::{check_apply, check_plan, finish_plan, plan_change};
use super::resource::{ApplyOutcome, Resource};
use crate::codec::{Diagnostic, Diagnostics, Schema, Value};
use crate::provider::ProviderData;

/// All schemas the provider serves.
pub struct Schemas {
    /// The provider block.
    pub provider: Schema,
    /// Managed resources by type name.
    pub resources: BTreeMap<String, Schema>,
    /// Data sources by type name.
    pub data_sources: BTreeMap<String, Schema>,
}

/// The answer to `PlanResourceChange`.
#[derive(Debug, Default)]
pub struct PlanResponse {
    /// The planned state (null when destroying).
    pub planned: Value,
    /// Paths whose change replaces the resource.
    pub requires_replace: Vec<crate::codec::AttributePath>,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// The answer to `ApplyResourceChange`.
#[derive(Debug, Default)]
pub struct ApplyResponse {
    /// The new state (null when nothing exists).
    pub new_state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// The answer to `ReadResource` and `ReadDataSource`.
#[derive(Debug, Default)]
pub struct ReadResponse {
    /// The state read (null when gone).
    pub state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// The answer to `ImportResourceState`.
#[derive(Debug, Default)]
pub struct ImportResponse {
    /// The imported state.
    pub state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// The provider: its resources and data sources, its configuration once configured, and the
/// stop signal.
pub struct ProviderServer {
    resources: BTreeMap<&'static str, Arc<dyn Resource>>,
    data_sources: BTreeMap<&'static str, Arc<dyn DataSource>>,
    schemas: Arc<Schemas>,
    configured: RwLock<Option<Arc<ProviderData>>>,
    stop: Mutex<CancellationToken>,
}

/// An error when one of `values` is unknown as a whole: Terraform sends resource values as
/// objects (or null), with unknowns only inside them.
fn wholly_unknown(rpc: &str, values: &[&Value]) -> Option<Diagnostic> {
    values.iter().any(|v| v.is_unknown()).then(|| {
        Diagnostic::error(
            "Invalid resource value from Terraform",
            format!(
                "{rpc} received a resource value that is unknown as a whole; Terraform sends \
                 objects with unknown attributes, never an unknown object. This is a bug in \
                 Terraform or in the provider."
            ),
        )
    })
}

impl ProviderServer {
    /// A provider serving `resources` and `data_sources`.
    pub fn new(resources: Vec<Arc<dyn Resource>>, data_sources: Vec<Arc<dyn DataSource>>) -> Self {
        let schemas = Schemas {
            provider: crate::provider::schema(),
            resources: resources
                .iter()
                .map(|r| (r.type_name().to_string(), r.schema()))
                .collect(),
            data_sources: data_sources
                .iter()
                .map(|d| (d.type_name().to_string(), d.schema()))
                .collect(),
        };
        Self {
            resources: resources.into_iter().map(|r| (r.type_name(), r)).collect(),
            data_sources: data_sources
                .into_iter()
                .map(|d| (d.type_name(), d))
                .collect(),
            schemas: Arc::new(schemas),
            configured: RwLock::new(None),
            stop: Mutex::new(CancellationToken::new()),
        }
    }

    /// The provider with every resource and data source this crate ships.
    pub fn with_all_types() -> Self {
        Self::new(crate::resources::all(), crate::data_sources::all())
    }

    /// Every schema.
    pub fn schemas(&self) -> Arc<Schemas> {
        self.schemas.clone()
    }

    /// `ValidateProviderConfig`.
    pub fn validate_provider_config(&self, config: &Value) -> Diagnostics {
        crate::provider::validate(config)
    }

    /// `ConfigureProvider`: validates again and builds the clients' configuration (clients
    /// themselves are created on first use).
    pub async fn configure(&self, config: &Value, terraform_version: &str) -> Diagnostics {
        let mut diags = crate::provider::validate(config);
        if diags.has_errors() {
            return diags;
        }
        match crate::provider::configure(config, terraform_version).await {
            Ok(data) => {
                *self.configured.write().expect("provider lock") = Some(Arc::new(data));
            }
            Err(errors) => diags.extend(errors),
        }
        diags
    }

    /// `StopProvider`: cancels every operation in flight.
    pub fn stop(&self) {
        self.stop.lock().expect("stop lock").cancel();
    }

    /// `ValidateResourceConfig`.
    pub fn validate_resource_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        match self.resource(type_name) {
            Ok(resource) => resource.validate(config),
            Err(diag) => diag.into(),
        }
    }

    /// `ValidateDataResourceConfig`.
    pub fn validate_data_source_config(&self, type_name: &str, config: &Value) -> Diagnostics {
        match self.data_source(type_name) {
            Ok(data_source) => data_source.validate(config),
            Err(diag) => diag.into(),
        }
    }

    /// `UpgradeResourceState`: JSON state at `version` to a value of the current schema.
    pub fn upgrade_resource_state(
        &self,
        type_name: &str,
        version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        let resource = self.resource(type_name).map_err(Diagnostics::from)?;
        let current = resource.schema().version;
        if version > current {
            return Err(Diagnostic::error(
                "State was written by a newer provider",
                format!(
                    "The state of this {type_name} has schema version {version}, but this \
                     provider only knows versions up to {current}. Upgrade the provider."
                ),
            )
            .into());
        }
        resource.upgrade_state(version, state)
    }

    /// `PlanResourceChange`.
    pub async fn plan_resource_change(
        &self,
        type_name: &str,
        prior: &Value,
        proposed: &Value,
        config: &Value,
    ) -> PlanResponse {
        let (resource, ctx) = match self.resource_and_context(type_name) {
            Ok(found) => found,
            Err(diag) => {
                return PlanResponse {
                    diagnostics: diag.into(),
                    ..Default::default()
                };
            }
        };
        if let Some(diag) = wholly_unknown("PlanResourceChange", &[prior, proposed, config]) {
            return PlanResponse {
                diagnostics: diag.into(),
                ..Default::default()
            };
        }
        let schema = &self.schemas.resources[type_name];
        let mut change = plan_change(schema, prior, proposed, config);
        let mut diagnostics = if change.is_destroy() {
            Diagnostics::new()
        } else {
            resource.validate(config)
        };
        if diagnostics.has_errors() {
            return PlanResponse {
                diagnostics,
                ..Default::default()
            };
        }
        let modified = self
            .cancellable(&ctx, "plan", resource.modify_plan(&ctx, &mut change))
            .await;
        diagnostics.extend(modified);
        finish_plan(schema, &mut change);
        diagnostics.extend(check_plan(schema, &change));
        PlanResponse {
            planned: change.planned,
            requires_replace: change.requires_replace,
            diagnostics,
        }
    }

    /// `ApplyResourceChange`: create, update or delete, depending on which side is null.
    pub async fn apply_resource_change(
        &self,
        type_name: &str,
        prior: &Value,
        planned: &Value,
    ) -> ApplyResponse {
        let (resource, ctx) = match self.resource_and_context(type_name) {
            Ok(found) => found,
            Err(diag) => {
                return ApplyResponse {
                    new_state: prior.clone(),
                    diagnostics: diag.into(),
                };
            }
        };
        if let Some(diag) = wholly_unknown("ApplyResourceChange", &[prior, planned]) {
            return ApplyResponse {
                new_state: prior.clone(),
                diagnostics: diag.into(),
            };
        }
        let ApplyOutcome {
            new_state,
            mut diagnostics,
        } = match (prior.is_null(), planned.is_null()) {
            (true, false) => resource.create(&ctx, planned).await,
            (false, false) => resource.update(&ctx, prior, planned).await,
            (false, true) => resource.delete(&ctx, prior).await,
            (true, true) => ApplyOutcome::default(),
        };
        if !diagnostics.has_errors() {
            diagnostics.extend(check_apply(
                &self.schemas.resources[type_name],
                planned,
                &new_state,
            ));
        }
        ApplyResponse {
            new_state,
            diagnostics,
        }
    }

    /// `ReadResource`.
    pub async fn read_resource(&self, type_name: &str, current: &Value) -> ReadResponse {
        let (resource, ctx) = match self.resource_and_context(type_name) {
            Ok(found) => found,
            Err(diag) => {
                return ReadResponse {
                    state: current.clone(),
                    diagnostics: diag.into(),
                };
            }
        };
        if let Some(diag) = wholly_unknown("ReadResource", &[current]) {
            return ReadResponse {
                state: current.clone(),
                diagnostics: diag.into(),
            };
        }
        let read = resource.read(&ctx, current);
        match self.cancellable_value(&ctx, "read", read).await {
            Ok(outcome) => ReadResponse {
                state: outcome.state,
                diagnostics: outcome.diagnostics,
            },
            Err(diag) => ReadResponse {
                state: current.clone(),
                diagnostics: diag.into(),
            },
        }
    }

    /// `ImportResourceState`.
    pub async fn import_resource_state(&self, type_name: &str, id: &str) -> ImportResponse {
        let (resource, ctx) = match self.resource_and_context(type_name) {
            Ok(found) => found,
            Err(diag) => {
                return ImportResponse {
                    diagnostics: diag.into(),
                    ..Default::default()
                };
            }
        };
        match self
            .cancellable_value(&ctx, "import", resource.import(&ctx, id))
            .await
        {
            Ok(outcome) => ImportResponse {
                state: outcome.state,
                diagnostics: outcome.diagnostics,
            },
            Err(diag) => ImportResponse {
                diagnostics: diag.into(),
                ..Default::default()
            },
        }
    }

    /// `ReadDataSource`.
    pub async fn read_data_source(&self, type_name: &str, config: &Value) -> ReadResponse {
        let data_source = match self.data_source(type_name) {
            Ok(found) => found,
            Err(diag) => {
                return ReadResponse {
                    diagnostics: diag.into(),
                    ..Default::default()
                };
            }
        };
        let mut diagnostics = data_source.validate(config);
        if diagnostics.has_errors() {
            return ReadResponse {
                diagnostics,
                ..Default::default()
            };
        }
        let ctx = match self.context() {
            Ok(ctx) => ctx,
            Err(diag) => {
                return ReadResponse {
                    diagnostics: diag.into(),
                    ..Default::default()
                };
            }
        };
        match self
            .cancellable_value(&ctx, "read", data_source.read(&ctx, config))
            .await
        {
            Ok(outcome) => {
                diagnostics.extend(outcome.diagnostics);
                ReadResponse {
                    state: outcome.state,
                    diagnostics,
                }
            }
            Err(diag) => ReadResponse {
                diagnostics: diag.into(),
                ..Default::default()
            },
        }
    }

    /// The context for one RPC: the configured provider and the current stop signal.
    pub fn context(&self) -> Result<Context, Diagnostic> {
        let provider = self
            .configured
            .read()
            .expect("provider lock")
            .clone()
            .ok_or_else(|| {
                Diagnostic::error(
                    "Provider not configured",
                    "Terraform called the provider before ConfigureProvider. This is a bug in \
                 Terraform or in the provider.",
                )
            })?;
        let cancel = self.stop.lock().expect("stop lock").child_token();
        Ok(Context::new(provider, cancel))
    }

    fn resource(&self, type_name: &str) -> Result<Arc<dyn Resource>, Diagnostic> {
        self.resources.get(type_name).cloned().ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            )
        })
    }

    fn data_source(&self, type_name: &str) -> Result<Arc<dyn DataSource>, Diagnostic> {
        self.data_sources.get(type_name).cloned().ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source",
                format!("This provider has no data source {type_name:?}."),
            )
        })
    }

    fn resource_and_context(
        &self,
        type_name: &str,
    ) -> Result<(Arc<dyn Resource>, Context), Diagnostic> {
        Ok((self.resource(type_name)?, self.context()?))
    }

    async fn cancellable(
        &self,
        ctx: &Context,
        operation: &str,
        work: impl Future<Output = Diagnostics>,
    ) -> Diagnostics {
        self.cancellable_value(ctx, operation, work)
            .await
            .unwrap_or_else(Diagnostics::from)
    }

    /// Runs read-only work, abandoning it when `StopProvider` arrives. (Create, update and
    /// delete are not abandoned: resources watch the token themselves, so that they can roll
    /// back what they created before returning.)
    async fn cancellable_value<T>(
        &self,
        ctx: &Context,
        operation: &str,
        work: impl Future<Output = T>,
    ) -> Result<T, Diagnostic> {
        tokio::select! {
            result = work => Ok(result),
            () = ctx.cancel.cancelled() => Err(Context::cancelled_diagnostic(operation)),
        }
    }
}
