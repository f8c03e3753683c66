//! `gitlabrunner_irsa_binding`: the IAM role with its OIDC trust policy, the annotated
//! ServiceAccount and namespaced RBAC, managed as one unit.
//!
//! - [`schema`], [`model`]: what users write and what state holds, typed.
//! - [`validate`] and [`plan`]: every check and every value known before any API call;
//!   [`account`]: the one plan-time question to AWS (whose account the credentials are).
//! - [`naming`], [`trust`], [`presets`], [`irsa`], [`objects`]: the pure builders.
//! - [`remote`]: the operations on IAM, STS, EKS and Kubernetes as traits; [`iam`], [`eks`]
//!   and [`kube`] implement them over the real clients.
//! - [`association`]: the EKS Pod Identity association (made, adopted, read, removed);
//!   [`upgrade`]: states of earlier schema versions.
//! - [`create`], [`read`], [`update`], [`delete`], [`import`], [`verify`]: the orchestration,
//!   built from [`steps`], with the [`journal`] for rollback and [`state`] for truthful state.

pub mod account;
pub mod association;
pub mod cluster_check;
pub mod create;
pub mod delete;
pub mod diagnostics;
pub mod eks;
pub mod error;
pub mod escalation;
pub mod iam;
pub mod import;
pub mod irsa;
pub mod journal;
pub mod kube;
pub mod model;
pub mod naming;
pub mod objects;
pub mod plan;
pub mod presets;
pub mod read;
pub mod remote;
pub mod schema;
pub mod state;
pub mod steps;
pub mod sts_checks;
pub mod takeover;
pub mod trust;
pub mod trust_drift;
pub mod update;
pub mod upgrade;
pub mod validate;
pub mod verify;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod moto_tests;
#[cfg(test)]
mod orchestration_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod pod_identity_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod validate_tests;
#[cfg(test)]
mod verify_tests;

use async_trait::async_trait;

use crate::aws::OidcProviderArn;
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Schema, Value};
use crate::framework::{
    ApplyOutcome, Context, ImportOutcome, PlanContext, PlannedChange, ReadOutcome, Resource,
};
use crate::kubernetes::KubeClient;
use crate::retry::Backoff;

use self::create::Outcome;
use self::eks::SdkEks;
use self::iam::{SdkIam, SdkSts};
use self::kube::ClientKube;
use self::model::Binding;
use self::plan::ProviderDefaults;
use self::remote::Remote;

/// The resource type.
pub struct IrsaBinding;

/// The resource type name.
pub const TYPE_NAME: &str = "gitlabrunner_irsa_binding";

/// The real clients of one operation.
struct Clients {
    iam: SdkIam,
    sts: SdkSts,
    kube: ClientKube,
    eks: SdkEks,
}

impl Clients {
    async fn new(ctx: &Context) -> Result<Clients, Diagnostic> {
        let provider = &ctx.provider;
        Ok(Clients {
            iam: SdkIam::new(provider.iam().await?),
            sts: SdkSts::new(provider.sts().await?),
            kube: ClientKube::new(KubeClient::new(provider.kube().await?, ctx.cancel.clone())),
            eks: SdkEks::new(provider.eks().await?),
        })
    }

    fn remote(&self, ctx: &Context) -> Remote<'_> {
        Remote {
            iam: &self.iam,
            sts: &self.sts,
            kube: &self.kube,
            eks: &self.eks,
            fanout: ctx.provider.fanout,
            cancel: ctx.cancel.clone(),
            propagation: Backoff::IAM_PROPAGATION,
            default_tags: ctx.provider.default_tags.clone(),
        }
    }
}

fn defaults(ctx: &Context) -> ProviderDefaults {
    ProviderDefaults {
        region: ctx.provider.region.clone(),
        oidc_provider_arn: ctx.provider.default_oidc_provider_arn.clone(),
        default_tags: ctx.provider.default_tags.clone(),
        account_id: None,
    }
}

/// The plan-time work that needs no API call: [`plan::modify_plan`], then
/// `taken_over_fields` ([`takeover::plan`]).
fn plan_without_api(defaults: &ProviderDefaults, change: &mut PlannedChange) -> Diagnostics {
    let mut diagnostics = plan::modify_plan(defaults, change);
    if !diagnostics.has_errors() {
        takeover::plan(change);
        if let Some(warning) = plan::mechanism_change_warning(&change.prior, &change.planned) {
            diagnostics.push(warning);
        }
    }
    diagnostics
}

/// The apply-time proof of wiring, before anything is created or the trust policy changes.
async fn check_wiring(ctx: &Context, planned: &Binding) -> Diagnostics {
    match OidcProviderArn::parse(&planned.oidc_provider_arn) {
        Ok(oidc) => Box::pin(cluster_check::check(ctx, &oidc, &planned.audience)).await,
        Err(_) => Diagnostics::new(),
    }
}

/// `planned` with the role ARN and trust policy a Pod-Identity-only plan left unknown (the
/// credentials' account was not known at plan time), or the error saying why it cannot be.
async fn with_account(ctx: &Context, mut planned: Binding) -> Result<Binding, Diagnostic> {
    if planned.irsa || (!planned.role_arn.is_empty() && planned.trust_policy.is_some()) {
        return Ok(planned);
    }
    let account = ctx.provider.caller_account().await;
    let region = ctx.provider.region.clone();
    match account {
        Some(account)
            if plan::complete_pod_identity_only(&mut planned, region.as_deref(), &account) =>
        {
            Ok(planned)
        }
        _ => Err(Diagnostic::error(
            "Cannot tell the account of the Pod Identity role",
            "With irsa = false the role's account is the account of the provider's AWS \
             credentials (sts:GetCallerIdentity), and the provider's region is the cluster's; \
             one of them could not be found. Check the provider's aws block and credentials.",
        )
        .at(AttributePath::new("irsa"))),
    }
}

/// `outcome` with the wiring check's warnings before its own diagnostics.
fn with_warnings(mut warnings: Diagnostics, outcome: ApplyOutcome) -> ApplyOutcome {
    warnings.extend(outcome.diagnostics);
    ApplyOutcome {
        new_state: outcome.new_state,
        diagnostics: warnings,
    }
}

fn apply_outcome(outcome: Outcome) -> ApplyOutcome {
    ApplyOutcome {
        new_state: outcome.state.map_or(Value::Null, |s| s.to_value()),
        diagnostics: outcome.diagnostics,
    }
}

#[async_trait]
impl Resource for IrsaBinding {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate::validate(config)
    }

    async fn modify_plan(&self, ctx: &PlanContext, change: &mut PlannedChange) -> Diagnostics {
        let mut defaults = defaults(ctx);
        // Pod Identity only: the role's account is the credentials' (asked once per process).
        if change.planned.get("irsa").as_bool() == Some(false) {
            defaults.account_id = ctx.provider.caller_account().await;
        }
        let mut diagnostics = plan_without_api(&defaults, change);
        if diagnostics.has_errors() || change.is_destroy() {
            return diagnostics;
        }
        // A create or update needs the Kubernetes API; without any Kubernetes configuration the
        // apply would fail, so say it now. (No-op plans are left alone.)
        let changes = change.is_create() || change.planned != change.prior;
        let kubernetes_missing = ctx.provider.require_kubernetes_source().err();
        if changes && let Some(missing) = kubernetes_missing.clone() {
            diagnostics.push(plan::kubernetes_missing(missing));
        }
        // Only plans that write to IAM ask STS, and the answer is kept for the process.
        if let Some(role_account) = account::planned_account(&change.prior, &change.planned)
            && let Some(caller) = ctx.provider.caller_account().await
            && let Some(error) = account::mismatch(&change.planned, &role_account, &caller)
        {
            diagnostics.push(error);
        }
        // Proof of wiring, once both sides are known (else apply checks it); with no Kubernetes
        // configuration at all there is no cluster to check against (said above).
        let planned = &change.planned;
        if kubernetes_missing.is_none()
            && let (Some(arn), Some(audience)) = (
                planned.get("oidc_provider_arn").as_str(),
                planned.get("audience").as_str(),
            )
            && let Ok(oidc) = OidcProviderArn::parse(arn)
        {
            diagnostics.extend(Box::pin(cluster_check::check(ctx, &oidc, audience)).await);
        }
        diagnostics
    }

    async fn create(&self, ctx: &Context, planned: &Value) -> ApplyOutcome {
        let planned = match with_account(ctx, Binding::from_value(planned)).await {
            Ok(planned) => planned,
            Err(diag) => return ApplyOutcome::unchanged(&Value::Null, diag),
        };
        let wired = check_wiring(ctx, &planned).await;
        if wired.has_errors() {
            return ApplyOutcome::unchanged(&Value::Null, wired);
        }
        let clients = match Clients::new(ctx).await {
            Ok(clients) => clients,
            Err(diag) => return ApplyOutcome::unchanged(&Value::Null, diag),
        };
        with_warnings(
            wired,
            apply_outcome(create::create(&clients.remote(ctx), &planned).await),
        )
    }

    async fn update(&self, ctx: &Context, prior: &Value, planned: &Value) -> ApplyOutcome {
        let (prior_state, prior, planned) = (
            prior,
            Binding::from_value(prior),
            Binding::from_value(planned),
        );
        let planned = match with_account(ctx, planned).await {
            Ok(planned) => planned,
            Err(diag) => return ApplyOutcome::unchanged(prior_state, diag),
        };
        let rewired = prior.oidc_provider_arn != planned.oidc_provider_arn
            || prior.audience != planned.audience;
        let wired = if rewired {
            check_wiring(ctx, &planned).await
        } else {
            Diagnostics::new()
        };
        if wired.has_errors() {
            return ApplyOutcome::unchanged(prior_state, wired);
        }
        let clients = match Clients::new(ctx).await {
            Ok(clients) => clients,
            Err(diag) => return ApplyOutcome::unchanged(prior_state, diag),
        };
        with_warnings(
            wired,
            apply_outcome(update::update(&clients.remote(ctx), &prior, &planned).await),
        )
    }

    async fn delete(&self, ctx: &Context, prior: &Value) -> ApplyOutcome {
        let clients = match Clients::new(ctx).await {
            Ok(clients) => clients,
            Err(diag) => return ApplyOutcome::unchanged(prior, diag),
        };
        let prior = Binding::from_value(prior);
        apply_outcome(delete::delete(&clients.remote(ctx), &prior).await)
    }

    async fn read(&self, ctx: &Context, current: &Value) -> ReadOutcome {
        let clients = match Clients::new(ctx).await {
            Ok(clients) => clients,
            Err(diag) => return ReadOutcome::unchanged(current, diag),
        };
        let current = Binding::from_value(current);
        let (state, diagnostics) = read::read(&clients.remote(ctx), &current).await;
        ReadOutcome {
            state: state.map_or(Value::Null, |s| s.to_value()),
            diagnostics,
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
        let clients = match Clients::new(ctx).await {
            Ok(clients) => clients,
            Err(diag) => {
                return ImportOutcome {
                    state: Value::Null,
                    diagnostics: diag.into(),
                };
            }
        };
        match import::import(&clients.remote(ctx), &defaults(ctx), id).await {
            Ok((state, diagnostics)) => ImportOutcome {
                state: state.to_value(),
                diagnostics,
            },
            Err(diagnostics) => ImportOutcome {
                state: Value::Null,
                diagnostics,
            },
        }
    }
}
