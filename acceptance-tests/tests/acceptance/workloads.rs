//! The two resources as workloads the fault-matrix, kill, throttling and scale tests drive the
//! same way: how an instance is configured before and after an update, what it needs before
//! Terraform runs, and whether a state tells the truth about it.

use std::sync::Arc;

use gitlabrunner_acceptance::Harness;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::terraform::StateResource;
use gitlabrunner_acceptance::workload::inventory::{BindingInventory, CacheInventory};
use gitlabrunner_acceptance::workload::setup;
use gitlabrunner_acceptance::workload::{
    BindingSpec, CacheSpec, Shape, binding_state_mismatches, cache_state_mismatches,
};

/// What exists of one instance, compared with its state.
pub struct Truth {
    /// The ways the state differs from what exists (empty: exactly truthful).
    pub mismatches: Vec<String>,
    /// Every object of the instance that exists.
    pub objects: Vec<String>,
}

/// A resource type driven by the generic tests.
pub trait Workload: Send + Sync + 'static {
    /// One instance's names and settings.
    type Spec: Clone + Send + Sync + std::fmt::Debug;

    /// `binding`, `cache`.
    const LABEL: &'static str;

    /// A new instance (as first created) named after `token`.
    fn initial(&self, token: &str) -> Self::Spec;

    /// The same instance after the update the tests apply (touching every part).
    fn updated(&self, spec: &Self::Spec) -> Self::Spec;

    /// The instance's token.
    fn token(spec: &Self::Spec) -> &str;

    /// The instance's address.
    fn address(spec: &Self::Spec) -> String;

    /// A configuration of `specs` behind a provider block with `provider_body`.
    fn config(&self, provider_body: &str, specs: &[Self::Spec]) -> String;

    /// Makes what the instances need before Terraform runs (namespaces, manager roles).
    fn prepare(&self, harness: &Harness, specs: &[Self::Spec]) -> impl Future<Output = ()>;

    /// What exists of `spec` (with `other`, the other side of an update, covered too), and
    /// how `state` differs from it.
    fn truth(
        &self,
        harness: &Harness,
        aws: &AwsClients,
        state: Option<&StateResource>,
        spec: &Self::Spec,
        other: &Self::Spec,
    ) -> impl Future<Output = Truth>;

    /// Removes what [`Workload::prepare`] made, once Terraform destroyed the instances.
    fn tidy(&self, harness: &Harness, specs: &[Self::Spec]) -> impl Future<Output = ()>;
}

/// `gitlabrunner_irsa_binding`: 2 grants, 2 managed policies, 2 inline policies, tags, a
/// description and a label; the update changes every one of them (a grant dropped, one added,
/// one's rules changed; a policy swapped; an inline policy changed, one added, one removed;
/// tags set and removed; description; label).
pub struct Bindings {
    oidc_provider_arn: String,
    policy_arns: Vec<String>,
}

impl Bindings {
    /// Registers the OIDC provider and the managed policies the instances use.
    pub async fn new(harness: &Harness) -> Arc<Self> {
        let aws = harness.aws_clients().await;
        let kube = harness.kubernetes().unwrap().client().await.unwrap();
        let oidc_provider_arn = setup::create_oidc_provider(&aws, &kube).await.unwrap();
        let prefix = gitlabrunner_acceptance::workload::token("wlpol");
        let policy_arns = setup::create_managed_policies(&aws, &prefix, 3)
            .await
            .unwrap();
        Arc::new(Self {
            oidc_provider_arn,
            policy_arns,
        })
    }
}

impl Bindings {
    /// Every namespace `specs` use, before and after the update.
    fn namespaces(&self, specs: &[BindingSpec]) -> Vec<String> {
        let mut all: Vec<String> = specs
            .iter()
            .flat_map(|spec| {
                let mut both = self.updated(spec).namespaces();
                both.extend(spec.namespaces());
                both
            })
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

impl Workload for Bindings {
    type Spec = BindingSpec;
    const LABEL: &'static str = "binding";

    fn initial(&self, token: &str) -> BindingSpec {
        let shape = Shape {
            grants: 2,
            managed_policies: 2,
            inline_policies: 0,
        };
        let mut spec = BindingSpec::new(token, shape, &self.oidc_provider_arn, &self.policy_arns);
        spec.inline_policies = [("alpha", "alpha-1"), ("gamma", "gamma-1")]
            .into_iter()
            .map(|(name, marker)| {
                (
                    name.to_string(),
                    gitlabrunner_acceptance::workload::binding::inline_document(marker),
                )
            })
            .collect();
        spec.tags = [("team", "a"), ("old", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        spec.description = Some("before".to_string());
        spec.labels = [("tier".to_string(), "one".to_string())].into();
        spec
    }

    fn updated(&self, spec: &BindingSpec) -> BindingSpec {
        let mut next = spec.clone();
        let token = &spec.token;
        next.grants = vec![
            (format!("{token}-g1"), true),
            (format!("{token}-g3"), false),
        ];
        next.managed_policy_arns = vec![self.policy_arns[1].clone(), self.policy_arns[2].clone()];
        let document = gitlabrunner_acceptance::workload::binding::inline_document;
        next.inline_policies = [
            ("alpha".to_string(), document("alpha-2")),
            ("beta".to_string(), document("beta-1")),
        ]
        .into();
        next.tags = [("team", "b"), ("new", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        next.description = Some("after".to_string());
        next.labels = [("tier".to_string(), "two".to_string())].into();
        next
    }

    fn token(spec: &BindingSpec) -> &str {
        &spec.token
    }

    fn address(spec: &BindingSpec) -> String {
        spec.address()
    }

    fn config(&self, provider_body: &str, specs: &[BindingSpec]) -> String {
        gitlabrunner_acceptance::workload::bindings_config(provider_body, specs)
    }

    async fn prepare(&self, harness: &Harness, specs: &[BindingSpec]) {
        let client = harness.kubernetes().unwrap().client().await.unwrap();
        setup::create_namespaces(&client, self.namespaces(specs))
            .await
            .unwrap();
    }

    async fn truth(
        &self,
        harness: &Harness,
        aws: &AwsClients,
        state: Option<&StateResource>,
        spec: &BindingSpec,
        other: &BindingSpec,
    ) -> Truth {
        let client = harness.kubernetes().unwrap().client().await.unwrap();
        let found = BindingInventory::read(aws, &client, spec, &other.namespaces())
            .await
            .unwrap();
        Truth {
            mismatches: binding_state_mismatches(state, spec, &found),
            objects: found.objects(),
        }
    }

    async fn tidy(&self, harness: &Harness, specs: &[BindingSpec]) {
        let client = harness.kubernetes().unwrap().client().await.unwrap();
        setup::delete_namespaces(&client, self.namespaces(specs)).await;
    }
}

/// `gitlabrunner_cache` with a bucket it creates (and may empty on destroy); the update
/// changes the path (policy and lifecycle rule) and the expiration.
pub struct Caches;

impl Workload for Caches {
    type Spec = CacheSpec;
    const LABEL: &'static str = "cache";

    fn initial(&self, token: &str) -> CacheSpec {
        CacheSpec::new(token)
    }

    fn updated(&self, spec: &CacheSpec) -> CacheSpec {
        let mut next = spec.clone();
        next.path = "runner-v2".to_string();
        next.expiration_days = 7;
        next
    }

    fn token(spec: &CacheSpec) -> &str {
        &spec.token
    }

    fn address(spec: &CacheSpec) -> String {
        spec.address()
    }

    fn config(&self, provider_body: &str, specs: &[CacheSpec]) -> String {
        gitlabrunner_acceptance::workload::caches_config(provider_body, specs)
    }

    async fn prepare(&self, harness: &Harness, specs: &[CacheSpec]) {
        let aws = harness.aws_clients().await;
        setup::create_roles(&aws, specs.iter().map(|s| s.role_name.clone()))
            .await
            .unwrap();
    }

    async fn truth(
        &self,
        _harness: &Harness,
        aws: &AwsClients,
        state: Option<&StateResource>,
        spec: &CacheSpec,
        _other: &CacheSpec,
    ) -> Truth {
        let found = CacheInventory::read(aws, spec).await.unwrap();
        Truth {
            mismatches: cache_state_mismatches(state, spec, &found),
            objects: found.objects(),
        }
    }

    async fn tidy(&self, harness: &Harness, specs: &[CacheSpec]) {
        let aws = harness.aws_clients().await;
        setup::delete_roles(&aws, specs.iter().map(|s| s.role_name.clone())).await;
    }
}
