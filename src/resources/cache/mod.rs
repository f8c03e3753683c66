//! `gitlabrunner_cache`: least-privilege S3 build-cache permissions on the runner manager's IAM
//! role (an inline policy), optionally the cache bucket with secure defaults, and the exact
//! `[runners.cache]` configuration and Helm values that match them.
//!
//! Layout: [`schema`] (attributes and their documentation), [`model`] (typed values),
//! [`naming`] and [`validate`] (plan-time refusals), [`permissions`] (the policies, built as
//! JSON), [`bucket`] (bucket settings), [`runner_config`] (TOML and Helm values), [`state`]
//! (planned outputs and state), [`api`]/[`sdk`] (the AWS calls), [`engine`] (all-or-nothing
//! create/update/delete, read), [`import`], [`upgrade`] (states of earlier schema versions).

mod api;
mod bucket;
mod engine;
#[cfg(test)]
mod fake;
mod import;
mod model;
mod naming;
mod permissions;
mod runner_config;
mod schema;
mod sdk;
mod state;
mod upgrade;
mod validate;

use async_trait::async_trait;

use crate::aws::{NotFoundAsNone, Partition};
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Schema, Value};
use crate::framework::{
    ApplyOutcome, Context, ImportOutcome, PlanContext, PlannedChange, ReadOutcome, Resource,
};

use api::CacheApi;
use bucket::SettingKind;
use engine::{Engine, Failure};
use model::{CacheSpec, Inputs, parse_id};
use schema::attr;
use sdk::SdkCacheApi;
use state::{drift_warnings, planned_outputs, state_value};

/// The `gitlabrunner_cache` resource type.
#[derive(Debug, Default)]
pub struct CacheResource;

impl CacheResource {
    /// The resource type, ready to register.
    pub fn new() -> Self {
        Self
    }
}

/// The AWS calls for a bucket in `region`, with the provider's clients.
async fn api_for(ctx: &Context, region: &str) -> Result<SdkCacheApi, Diagnostic> {
    Ok(SdkCacheApi::new(
        ctx.provider.iam().await?,
        ctx.provider.s3(Some(region)).await?,
    ))
}

/// The cache `value` (`what`: "plan" or "state") describes, and the API of its bucket's region.
async fn prepare(
    ctx: &Context,
    value: &Value,
    what: &str,
) -> Result<(CacheSpec, SdkCacheApi), Diagnostic> {
    let spec = spec_of(value, what)?;
    let api = api_for(ctx, &spec.bucket_region).await?;
    Ok((spec, api))
}

/// A value the framework has fully planned or stored, as a spec; a bug otherwise, except for a
/// bucket region of no known partition (a state written by a version that took it for `aws`).
fn spec_of(value: &Value, what: &str) -> Result<CacheSpec, Diagnostic> {
    if let Some(region) = value.get(attr::BUCKET_REGION).as_str()
        && let Err(error) = Partition::for_region(region)
    {
        return Err(Diagnostic::error(error.summary(), error.explain(region))
            .at(AttributePath::new(attr::BUCKET_REGION)));
    }
    Inputs::from_value(value).complete().ok_or_else(|| {
        Diagnostic::error(
            "Incomplete gitlabrunner_cache value",
            format!(
                "The {what} of this gitlabrunner_cache still has unknown or missing values. \
                 This is a bug in the provider."
            ),
        )
    })
}

/// The diagnostics of a failed create, update or delete of the cache `id`: what failed, what
/// was undone, what is left. The summary names the cache: a destroy's diagnostics carry no
/// resource address.
fn failure_diagnostics(operation: &str, id: &str, failure: &Failure) -> Diagnostics {
    let mut detail = failure.message.clone();
    if !failure.undone.is_empty() {
        detail.push_str(&format!(
            "\n\nUndone, so nothing is left half-applied: {}.",
            failure.undone.join("; ")
        ));
    }
    if !failure.not_undone.is_empty() {
        detail.push_str(&format!(
            "\n\nNOT undone: {}. The state records exactly what exists; the next apply \
             continues from there.",
            failure.not_undone.join("; ")
        ));
    }
    let summary = format!("Could not {operation} the GitLab Runner cache {id}");
    let diagnostic = Diagnostic::error(summary, detail);
    match failure.attribute {
        Some(name) => diagnostic.at(AttributePath::new(name)).into(),
        None => diagnostic.into(),
    }
}

#[async_trait]
impl Resource for CacheResource {
    fn type_name(&self) -> &'static str {
        schema::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate::validate_config(config)
    }

    async fn modify_plan(&self, ctx: &PlanContext, change: &mut PlannedChange) -> Diagnostics {
        amend_plan(change, ctx.provider.region())
    }

    async fn create(&self, ctx: &Context, planned: &Value) -> ApplyOutcome {
        let (spec, api) = match prepare(ctx, planned, "plan").await {
            Ok(prepared) => prepared,
            Err(diag) => return ApplyOutcome::unchanged(&Value::Null, diag),
        };
        let engine = Engine::new(&api, ctx.provider.fanout, &ctx.cancel);
        match engine.create(&spec).await {
            Ok(observed) => ApplyOutcome {
                new_state: state_value(&spec, &observed),
                diagnostics: Diagnostics::new(),
            },
            Err(failure) => ApplyOutcome {
                new_state: if failure.remaining.owns_nothing(&spec) {
                    Value::Null
                } else {
                    state_value(&spec, &failure.remaining)
                },
                diagnostics: failure_diagnostics("create", &spec.id(), &failure),
            },
        }
    }

    async fn update(&self, ctx: &Context, prior: &Value, planned: &Value) -> ApplyOutcome {
        let prepared = match spec_of(prior, "state") {
            Ok(prior_spec) => prepare(ctx, planned, "plan")
                .await
                .map(|(spec, api)| (prior_spec, spec, api)),
            Err(diag) => Err(diag),
        };
        let (prior_spec, spec, api) = match prepared {
            Ok(prepared) => prepared,
            Err(diag) => return ApplyOutcome::unchanged(prior, diag),
        };
        let engine = Engine::new(&api, ctx.provider.fanout, &ctx.cancel);
        match engine.update(&prior_spec, &spec).await {
            Ok(observed) => ApplyOutcome {
                new_state: state_value(&spec, &observed),
                diagnostics: Diagnostics::new(),
            },
            Err(failure) => ApplyOutcome {
                new_state: if failure.changed {
                    state_value(&prior_spec, &failure.remaining)
                } else {
                    prior.clone()
                },
                diagnostics: failure_diagnostics("update", &spec.id(), &failure),
            },
        }
    }

    async fn delete(&self, ctx: &Context, prior: &Value) -> ApplyOutcome {
        let (spec, api) = match prepare(ctx, prior, "state").await {
            Ok(prepared) => prepared,
            Err(diag) => return ApplyOutcome::unchanged(prior, diag),
        };
        let engine = Engine::new(&api, ctx.provider.fanout, &ctx.cancel);
        match engine.delete(&spec).await {
            Ok(()) => ApplyOutcome::default(),
            Err(failure) => ApplyOutcome {
                new_state: if failure.changed {
                    state_value(&spec, &failure.remaining)
                } else {
                    prior.clone()
                },
                diagnostics: failure_diagnostics("delete", &spec.id(), &failure),
            },
        }
    }

    async fn read(&self, ctx: &Context, current: &Value) -> ReadOutcome {
        let (spec, api) = match prepare(ctx, current, "state").await {
            Ok(prepared) => prepared,
            Err(diag) => return ReadOutcome::unchanged(current, diag),
        };
        let engine = Engine::new(&api, ctx.provider.fanout, &ctx.cancel);
        match engine.read(&spec).await {
            Ok(observed) if observed.owns_nothing(&spec) => ReadOutcome::default(),
            Ok(observed) => ReadOutcome {
                state: state_value(&spec, &observed),
                diagnostics: drift_warnings(&spec, &observed),
            },
            Err(error) => ReadOutcome::unchanged(
                current,
                Diagnostic::error(
                    format!("Could not read the GitLab Runner cache {}", spec.id()),
                    error.to_string(),
                ),
            ),
        }
    }

    fn upgrade_state(
        &self,
        version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        upgrade::upgrade(version, state)
    }

    async fn import(&self, ctx: &Context, id: &str) -> ImportOutcome {
        match import_state(ctx, id).await {
            Ok(state) => ImportOutcome {
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(diag) => ImportOutcome {
                state: Value::Null,
                diagnostics: diag.into(),
            },
        }
    }
}

/// The resource's part of a plan: the default region, the provider-dependent checks, the
/// computed outputs (known whenever their inputs are), and the replacements only this resource
/// knows about.
fn amend_plan(change: &mut PlannedChange, provider_region: Option<&str>) -> Diagnostics {
    if change.is_destroy() {
        return Diagnostics::new();
    }
    if change.planned.get(attr::BUCKET_REGION).is_unknown()
        && change.config.get(attr::BUCKET_REGION).is_null()
        && let Some(region) = provider_region
    {
        change.set(attr::BUCKET_REGION, region.into());
    }
    let mut inputs = Inputs::from_value(&change.planned);
    if change.config.get(attr::POLICY_NAME).is_null() && inputs.policy_name.is_none() {
        // Not configured: the default, derived from the bucket name.
        inputs.policy_name = Some(None);
    }
    let region_defaulted = change.config.get(attr::BUCKET_REGION).is_null();
    let diags = validate::validate_against_provider(&inputs, provider_region, region_defaulted);
    if diags.has_errors() {
        return diags;
    }
    for (name, value) in planned_outputs(&inputs) {
        change.set(name, value);
    }
    change.set(attr::BUCKET_OWNER_TAG, planned_owner(change));
    if !change.is_create() {
        let prior = Inputs::from_value(&change.prior);
        if prior.create_bucket == Some(false) && inputs.create_bucket == Some(true) {
            // The bucket was not this resource's: creating one is a new resource.
            change
                .requires_replace
                .push(AttributePath::new(attr::CREATE_BUCKET));
        }
        if inputs.create_bucket == Some(true)
            && prior.create_bucket == Some(true)
            && let (Some(before), Some(after)) = (&prior.bucket_region, &inputs.bucket_region)
            && before != after
        {
            change
                .requires_replace
                .push(AttributePath::new(attr::BUCKET_REGION));
        }
    }
    diags
}

/// The bucket's owner tag: the state's once the resource exists (a renamed role keeps its
/// bucket), else `ROLE/BUCKET` of the names it is created with.
fn planned_owner(change: &PlannedChange) -> Value {
    let recorded = change.prior.get(attr::BUCKET_OWNER_TAG);
    if recorded.as_str().is_some() {
        return recorded.clone();
    }
    let names = if change.is_create() {
        &change.planned
    } else {
        &change.prior
    };
    match (
        names.get(attr::ROLE_NAME).as_str(),
        names.get(attr::BUCKET_NAME).as_str(),
    ) {
        (Some(role), Some(bucket)) => bucket::owner_value(role, bucket).into(),
        _ => Value::Unknown,
    }
}

/// Looks up what the import ID names, recovers the configuration, and reads the state.
async fn import_state(ctx: &Context, id: &str) -> Result<Value, Diagnostic> {
    let invalid = |detail: String| Diagnostic::error("Invalid import ID", detail);
    let parsed = parse_id(id).ok_or_else(|| {
        invalid(format!(
            "{id:?} is not ROLE_NAME/BUCKET_NAME or ROLE_NAME/BUCKET_NAME/POLICY_NAME."
        ))
    })?;
    let policy_name = import::policy_name(&parsed);
    for (what, value, check) in [
        (
            "role name",
            &parsed.role_name,
            naming::check_role_name as fn(&str) -> Result<(), String>,
        ),
        (
            "bucket name",
            &parsed.bucket_name,
            naming::check_bucket_name,
        ),
        ("policy name", &policy_name, naming::check_policy_name),
    ] {
        check(value)
            .map_err(|reason| invalid(format!("The {what} {value:?} is not valid: {reason}.")))?;
    }
    let failed = |e: crate::aws::AwsError| {
        Diagnostic::error("Could not import the GitLab Runner cache", e.to_string())
    };
    let home_region = ctx.provider.region().unwrap_or("us-east-1").to_string();
    let home = api_for(ctx, &home_region).await?;
    let fanout = ctx.provider.fanout;
    let (policy, region) = fanout
        .both(
            home.role_policy(&parsed.role_name, &policy_name),
            home.bucket_region(&parsed.bucket_name),
        )
        .await;
    let mut found = import::Found {
        policy: policy.map_err(failed)?,
        region: region.map_err(failed)?,
        ..import::Found::default()
    };
    let region = found.region.clone().unwrap_or(home_region);
    let api = api_for(ctx, &region).await?;
    if found.region.is_some() {
        let (tags, lifecycle) = fanout
            .both(
                api.bucket_tags(&parsed.bucket_name),
                api.setting(&parsed.bucket_name, SettingKind::Lifecycle),
            )
            .await;
        found.tags = tags.map_err(failed)?;
        if let bucket::Setting::Lifecycle(Some(rules)) = lifecycle
            .not_found_as_none()
            .map_err(failed)?
            .unwrap_or(bucket::Setting::Lifecycle(None))
        {
            found.lifecycle = rules;
        }
    }
    let spec = import::recovered_spec(&parsed, &found)
        .map_err(|detail| Diagnostic::error("Nothing to import", detail))?;
    let engine = Engine::new(&api, fanout, &ctx.cancel);
    let observed = engine.read(&spec).await.map_err(failed)?;
    Ok(state_value(&spec, &observed))
}

#[cfg(test)]
mod tests;
