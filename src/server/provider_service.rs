//! `tfplugin6.Provider`: decodes each request, calls [`ProviderServer`], encodes the answer.
//!
//! Every user-facing failure, including a request that does not decode, is an error
//! diagnostic in the response; `tonic::Status` is never returned for those. RPCs this provider
//! has no use for (ephemeral and list resources, functions, actions, state stores) keep the
//! generated `Unimplemented` answer: Terraform only calls them for types a provider declares.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{
    decode_dynamic, decode_raw_state, diagnostics_to_proto, encode_dynamic, path_to_proto,
    schema_to_proto,
};
use crate::codec::{Diagnostic, Diagnostics, Type, Value};
use crate::framework::ProviderServer;
use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server::Provider;

type RpcResult<T> = Result<Response<T>, Status>;

/// The `tfplugin6.Provider` gRPC service.
pub struct ProviderService {
    provider: Arc<ProviderServer>,
}

impl ProviderService {
    /// The service for `provider`.
    pub fn new(provider: Arc<ProviderServer>) -> Self {
        Self { provider }
    }

    fn resource_type(&self, type_name: &str) -> Result<Type, Diagnostic> {
        let schemas = self.provider.schemas();
        let schema = schemas
            .resources
            .get(type_name)
            .ok_or_else(|| unknown_type("resource type", type_name))?;
        Ok(schema.value_type())
    }

    fn data_source_type(&self, type_name: &str) -> Result<Type, Diagnostic> {
        let schemas = self.provider.schemas();
        let schema = schemas
            .data_sources
            .get(type_name)
            .ok_or_else(|| unknown_type("data source", type_name))?;
        Ok(schema.value_type())
    }

    fn provider_type(&self) -> Type {
        self.provider.schemas().provider.value_type()
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: false,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

fn unknown_type(kind: &str, type_name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Unknown {kind}"),
        format!("This provider has no {kind} {type_name:?}."),
    )
}

fn missing_state() -> Diagnostic {
    Diagnostic::error(
        "Missing state in UpgradeResourceState",
        "Terraform sent no raw state to upgrade. This is a bug in Terraform or in the provider.",
    )
}

fn undecodable_upgraded_state(type_name: &str, error: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(
        "Upgraded state does not match the schema",
        format!(
            "The stored state of this {type_name} could not be read with the current schema: \
             {error}. This is a bug in the provider's state upgrade."
        ),
    )
}

fn moves_unsupported(source_type: &str, target_type: &str) -> Diagnostic {
    Diagnostic::error(
        "Moving resources is not supported",
        format!(
            "A moved block asks to move {source_type} to {target_type}, but this provider does \
             not support moving state between resource types. Remove the moved block, and \
             import the object as {target_type} instead."
        ),
    )
}

/// Encodes `value`, adding a diagnostic when that fails.
fn encode_into(
    value: &Value,
    ty: &Type,
    diagnostics: &mut Diagnostics,
) -> Option<pb::DynamicValue> {
    match encode_dynamic(value, ty) {
        Ok(encoded) => Some(encoded),
        Err(diag) => {
            diagnostics.push(diag);
            None
        }
    }
}

fn wire(diagnostics: &Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics_to_proto(diagnostics)
}

#[tonic::async_trait]
impl Provider for ProviderService {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        tracing::debug!(rpc = "GetMetadata");
        let schemas = self.provider.schemas();
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: schemas
                .resources
                .keys()
                .map(|name| pb::get_metadata::ResourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            data_sources: schemas
                .data_sources
                .keys()
                .map(|name| pb::get_metadata::DataSourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        tracing::debug!(rpc = "GetProviderSchema");
        let schemas = self.provider.schemas();
        let convert_all = |map: &std::collections::BTreeMap<String, crate::codec::Schema>| {
            map.iter()
                .map(|(name, schema)| (name.clone(), schema_to_proto(schema)))
                .collect()
        };
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(schema_to_proto(&schemas.provider)),
            resource_schemas: convert_all(&schemas.resources),
            data_source_schemas: convert_all(&schemas.data_sources),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        tracing::debug!(rpc = "ValidateProviderConfig");
        let request = request.into_inner();
        let diagnostics = match decode_dynamic(request.config.as_ref(), &self.provider_type()) {
            Ok(config) => self.provider.validate_provider_config(&config),
            Err(diag) => diag.into(),
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: wire(&diagnostics),
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ValidateResourceConfig", type_name = %request.type_name);
        let diagnostics = self
            .resource_type(&request.type_name)
            .and_then(|ty| decode_dynamic(request.config.as_ref(), &ty))
            .map(|config| {
                self.provider
                    .validate_resource_config(&request.type_name, &config)
            })
            .unwrap_or_else(Diagnostics::from);
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: wire(&diagnostics),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ValidateDataResourceConfig", type_name = %request.type_name);
        let diagnostics = self
            .data_source_type(&request.type_name)
            .and_then(|ty| decode_dynamic(request.config.as_ref(), &ty))
            .map(|config| {
                self.provider
                    .validate_data_source_config(&request.type_name, &config)
            })
            .unwrap_or_else(Diagnostics::from);
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: wire(&diagnostics),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "UpgradeResourceState", type_name = %request.type_name, version = request.version);
        let upgrade = || -> Result<pb::DynamicValue, Diagnostics> {
            let ty = self.resource_type(&request.type_name)?;
            let raw = request.raw_state.as_ref().ok_or_else(missing_state)?;
            let json = decode_raw_state(raw)?;
            let upgraded =
                self.provider
                    .upgrade_resource_state(&request.type_name, request.version, json)?;
            let value = crate::codec::json::decode(&upgraded, &ty)
                .map_err(|e| undecodable_upgraded_state(&request.type_name, e))?;
            Ok(encode_dynamic(&value, &ty)?)
        };
        let (upgraded_state, diagnostics) = match upgrade() {
            Ok(state) => (Some(state), Diagnostics::new()),
            Err(diagnostics) => (None, diagnostics),
        };
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: wire(&diagnostics),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        tracing::debug!(rpc = "GetResourceIdentitySchemas");
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ConfigureProvider", terraform_version = %request.terraform_version);
        let diagnostics = match decode_dynamic(request.config.as_ref(), &self.provider_type()) {
            Ok(config) => {
                self.provider
                    .configure(&config, &request.terraform_version)
                    .await
            }
            Err(diag) => diag.into(),
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: wire(&diagnostics),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ReadResource", type_name = %request.type_name);
        let decoded = self
            .resource_type(&request.type_name)
            .and_then(|ty| Ok((decode_dynamic(request.current_state.as_ref(), &ty)?, ty)));
        let (new_state, diagnostics) = match decoded {
            Ok((current, ty)) => {
                let read = self
                    .provider
                    .read_resource(&request.type_name, &current)
                    .await;
                let mut diagnostics = read.diagnostics;
                (encode_into(&read.state, &ty, &mut diagnostics), diagnostics)
            }
            // Terraform keeps the prior state when reading fails.
            Err(diag) => (request.current_state.clone(), diag.into()),
        };
        Ok(Response::new(pb::read_resource::Response {
            new_state,
            diagnostics: wire(&diagnostics),
            private: request.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "PlanResourceChange", type_name = %request.type_name);
        let decode = || -> Result<_, Diagnostic> {
            let ty = self.resource_type(&request.type_name)?;
            let prior = decode_dynamic(request.prior_state.as_ref(), &ty)?;
            let proposed = decode_dynamic(request.proposed_new_state.as_ref(), &ty)?;
            let config = decode_dynamic(request.config.as_ref(), &ty)?;
            Ok((ty, prior, proposed, config))
        };
        let mut response = pb::plan_resource_change::Response {
            planned_private: request.prior_private.clone(),
            legacy_type_system: false,
            ..Default::default()
        };
        let diagnostics = match decode() {
            Ok((ty, prior, proposed, config)) => {
                let plan = self
                    .provider
                    .plan_resource_change(&request.type_name, &prior, &proposed, &config)
                    .await;
                let mut diagnostics = plan.diagnostics;
                response.planned_state = encode_into(&plan.planned, &ty, &mut diagnostics);
                response.requires_replace =
                    plan.requires_replace.iter().map(path_to_proto).collect();
                diagnostics
            }
            Err(diag) => diag.into(),
        };
        response.diagnostics = wire(&diagnostics);
        Ok(Response::new(response))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ApplyResourceChange", type_name = %request.type_name);
        let decode = || -> Result<_, Diagnostic> {
            let ty = self.resource_type(&request.type_name)?;
            let prior = decode_dynamic(request.prior_state.as_ref(), &ty)?;
            let planned = decode_dynamic(request.planned_state.as_ref(), &ty)?;
            Ok((ty, prior, planned))
        };
        let (new_state, diagnostics) = match decode() {
            Ok((ty, prior, planned)) => {
                let applied = self
                    .provider
                    .apply_resource_change(&request.type_name, &prior, &planned)
                    .await;
                let mut diagnostics = applied.diagnostics;
                (
                    encode_into(&applied.new_state, &ty, &mut diagnostics),
                    diagnostics,
                )
            }
            // Nothing was done: the prior state stands.
            Err(diag) => (request.prior_state.clone(), diag.into()),
        };
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state,
            private: request.planned_private,
            diagnostics: wire(&diagnostics),
            legacy_type_system: false,
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ImportResourceState", type_name = %request.type_name);
        let (imported_resources, diagnostics) = match self.resource_type(&request.type_name) {
            Ok(ty) => {
                let imported = self
                    .provider
                    .import_resource_state(&request.type_name, &request.id)
                    .await;
                let mut diagnostics = imported.diagnostics;
                let resources = if imported.state.is_null() {
                    Vec::new()
                } else {
                    encode_into(&imported.state, &ty, &mut diagnostics)
                        .map(|state| pb::import_resource_state::ImportedResource {
                            type_name: request.type_name.clone(),
                            state: Some(state),
                            ..Default::default()
                        })
                        .into_iter()
                        .collect()
                };
                (resources, diagnostics)
            }
            Err(diag) => (Vec::new(), diag.into()),
        };
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources,
            diagnostics: wire(&diagnostics),
            ..Default::default()
        }))
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "MoveResourceState", target_type_name = %request.target_type_name);
        let diagnostics: Diagnostics =
            moves_unsupported(&request.source_type_name, &request.target_type_name).into();
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: wire(&diagnostics),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let request = request.into_inner();
        tracing::debug!(rpc = "ReadDataSource", type_name = %request.type_name);
        let decoded = self
            .data_source_type(&request.type_name)
            .and_then(|ty| Ok((decode_dynamic(request.config.as_ref(), &ty)?, ty)));
        let (state, diagnostics) = match decoded {
            Ok((config, ty)) => {
                let read = self
                    .provider
                    .read_data_source(&request.type_name, &config)
                    .await;
                let mut diagnostics = read.diagnostics;
                (encode_into(&read.state, &ty, &mut diagnostics), diagnostics)
            }
            Err(diag) => (None, diag.into()),
        };
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics: wire(&diagnostics),
            ..Default::default()
        }))
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        tracing::debug!(rpc = "GetFunctions");
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        tracing::info!(rpc = "StopProvider", "cancelling operations in flight");
        self.provider.stop();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::codec::{Attribute, Block, Schema};
    use crate::framework::{
        ApplyOutcome, Context, DataSource, ImportOutcome, ReadOutcome, Resource,
    };

    fn schema(description: &str) -> Schema {
        Schema::new(
            0,
            Block::new(description).attr(Attribute::optional("name", Type::String, "")),
        )
    }

    /// A resource that does nothing; only decoding and the framework are exercised.
    struct Inert;

    #[async_trait]
    impl Resource for Inert {
        fn type_name(&self) -> &'static str {
            "test_inert"
        }
        fn schema(&self) -> Schema {
            schema("inert")
        }
        async fn create(&self, _: &Context, planned: &Value) -> ApplyOutcome {
            ApplyOutcome {
                new_state: planned.clone(),
                ..Default::default()
            }
        }
        async fn update(&self, _: &Context, _: &Value, planned: &Value) -> ApplyOutcome {
            ApplyOutcome {
                new_state: planned.clone(),
                ..Default::default()
            }
        }
        async fn delete(&self, _: &Context, _: &Value) -> ApplyOutcome {
            ApplyOutcome::default()
        }
        async fn read(&self, _: &Context, current: &Value) -> ReadOutcome {
            ReadOutcome {
                state: current.clone(),
                ..Default::default()
            }
        }
        async fn import(&self, _: &Context, _: &str) -> ImportOutcome {
            ImportOutcome::default()
        }
    }

    /// A data source whose read never finishes on its own.
    struct Slow;

    #[async_trait]
    impl DataSource for Slow {
        fn type_name(&self) -> &'static str {
            "test_slow"
        }
        fn schema(&self) -> Schema {
            schema("slow")
        }
        async fn read(&self, _: &Context, _: &Value) -> ReadOutcome {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            ReadOutcome::default()
        }
    }

    fn service() -> Arc<ProviderService> {
        let provider = ProviderServer::new(vec![Arc::new(Inert)], vec![Arc::new(Slow)]);
        Arc::new(ProviderService::new(Arc::new(provider)))
    }

    fn garbage() -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: vec![0xc1, 0x93, 0xff],
            json: vec![],
        })
    }

    fn errors(diagnostics: &[pb::Diagnostic]) -> Vec<&str> {
        diagnostics
            .iter()
            .filter(|d| d.severity == pb::diagnostic::Severity::Error as i32)
            .map(|d| d.summary.as_str())
            .collect()
    }

    /// A value of `ty`'s object shape with every attribute null.
    fn null_object(schema: &Schema) -> Value {
        let attrs = schema
            .block
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), Value::Null));
        let blocks = schema
            .block
            .blocks
            .iter()
            .map(|b| (b.name.as_str(), Value::Null));
        Value::object(attrs.chain(blocks))
    }

    async fn configure(service: &ProviderService) {
        let schemas = service.provider.schemas();
        let config = encode_dynamic(
            &null_object(&schemas.provider),
            &schemas.provider.value_type(),
        )
        .unwrap();
        let response = service
            .configure_provider(Request::new(pb::configure_provider::Request {
                terraform_version: "1.11.4".into(),
                config: Some(config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            errors(&response.diagnostics).is_empty(),
            "{:?}",
            response.diagnostics
        );
    }

    #[tokio::test]
    async fn malformed_config_in_validate_resource_config_is_an_error_diagnostic() {
        let response = service()
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "test_inert".into(),
                config: garbage(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(errors(&response.diagnostics).len(), 1);
    }

    #[tokio::test]
    async fn malformed_proposed_state_in_plan_is_an_error_diagnostic_and_private_passes_through() {
        let service = service();
        configure(&service).await;
        let response = service
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_inert".into(),
                prior_state: None,
                proposed_new_state: garbage(),
                config: garbage(),
                prior_private: b"opaque".to_vec(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(errors(&response.diagnostics).len(), 1);
        assert_eq!(response.planned_private, b"opaque");
        assert!(!response.legacy_type_system);
    }

    #[tokio::test]
    async fn a_wholly_unknown_resource_value_is_an_error_diagnostic_not_a_panic() {
        let service = service();
        configure(&service).await;
        let ty = service.resource_type("test_inert").unwrap();
        let unknown = Some(encode_dynamic(&Value::Unknown, &ty).unwrap());
        let known = Some(
            encode_dynamic(
                &null_object(&service.provider.schemas().resources["test_inert"]),
                &ty,
            )
            .unwrap(),
        );
        let plan = service
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_inert".into(),
                prior_state: known.clone(),
                proposed_new_state: unknown.clone(),
                config: known.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            errors(&plan.diagnostics),
            vec!["Invalid resource value from Terraform"]
        );
        let apply = service
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_inert".into(),
                prior_state: known,
                planned_state: unknown.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            errors(&apply.diagnostics),
            vec!["Invalid resource value from Terraform"]
        );
        let read = service
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "test_inert".into(),
                current_state: unknown,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            errors(&read.diagnostics),
            vec!["Invalid resource value from Terraform"]
        );
    }

    #[tokio::test]
    async fn unknown_resource_type_is_an_error_diagnostic() {
        let response = service()
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "test_missing".into(),
                private: b"kept".to_vec(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(errors(&response.diagnostics), vec!["Unknown resource type"]);
        assert_eq!(response.private, b"kept");
    }

    #[tokio::test]
    async fn stop_provider_cancels_a_read_in_flight() {
        let service = service();
        configure(&service).await;
        let ty = service.data_source_type("test_slow").unwrap();
        let config = Value::object([("name", Value::from("x"))]);
        let request = pb::read_data_source::Request {
            type_name: "test_slow".into(),
            config: Some(encode_dynamic(&config, &ty).unwrap()),
            ..Default::default()
        };
        let reading = tokio::spawn({
            let service = service.clone();
            async move { service.read_data_source(Request::new(request)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!reading.is_finished(), "the read is in flight");
        let stopped = service
            .stop_provider(Request::new(pb::stop_provider::Request {}))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stopped.error, "");
        let response = tokio::time::timeout(Duration::from_secs(2), reading)
            .await
            .expect("the read stops promptly")
            .unwrap()
            .unwrap()
            .into_inner();
        assert_eq!(errors(&response.diagnostics), vec!["Operation cancelled"]);
    }
}
