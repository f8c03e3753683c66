//! Test helpers: configurations as Terraform sends them, and plans made by the real planning
//! code (framework plan contract plus the binding's `modify_plan`).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::codec::{Diagnostics, Value};
use crate::framework::{PlannedChange, plan_change};

use super::eks_auth::EksAuth;
use super::fake::Fake;
use super::plan::ProviderDefaults;
use super::remote::Remote;
use super::schema::schema;
use crate::concurrency::Fanout;
use crate::retry::Backoff;

/// The OIDC provider of the test cluster.
pub const OIDC: &str =
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";

/// Provider settings of the test provider block.
pub fn defaults() -> ProviderDefaults {
    ProviderDefaults {
        region: Some("us-east-1".into()),
        oidc_provider_arn: Some(OIDC.into()),
        default_tags: BTreeMap::from([("env".into(), "test".into())]),
        account_id: Some("123456789012".into()),
    }
}

/// The operations of one test over `fake` (IAM, STS, Kubernetes and EKS) and `eks_auth`, with
/// the provider defaults of [`defaults`]; IAM propagation is waited out for up to `give_up`.
pub fn fake_remote<'a>(
    fake: &'a Fake,
    eks_auth: &'a dyn EksAuth,
    fanout: Fanout,
    give_up: Duration,
) -> Remote<'a> {
    Remote {
        iam: fake,
        sts: fake,
        kube: fake,
        eks: fake,
        eks_auth,
        fanout,
        cancel: CancellationToken::new(),
        propagation: Backoff::new(Duration::from_millis(500), Duration::from_secs(5), give_up),
        default_tags: defaults().default_tags,
    }
}

/// A configuration with every attribute null and no blocks.
pub fn empty_config() -> Value {
    let schema = schema();
    let mut config = Value::object(
        schema
            .block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null)),
    );
    config.set_attr("grant", Value::List(Vec::new()));
    config.set_attr("pod_identity", Value::List(Vec::new()));
    config.set_attr("verify", Value::Null);
    config
}

/// A grant block.
pub fn grant(namespace: &str, preset: Option<&str>, rules: Vec<Value>) -> Value {
    Value::object([
        ("namespace", Value::from(namespace)),
        ("preset", Value::opt_string(preset)),
        ("rule", Value::List(rules)),
        ("role_name", Value::Null),
        ("role_binding_name", Value::Null),
        ("role_rules", Value::Null),
    ])
}

/// A `pod_identity` block for `cluster`, as configured.
pub fn pod_identity(cluster: &str) -> Value {
    Value::List(vec![Value::object([
        ("cluster_name", Value::from(cluster)),
        ("association_id", Value::Null),
        ("association_arn", Value::Null),
    ])])
}

/// A rule block.
pub fn rule(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    Value::object([
        ("api_groups", Value::string_list(api_groups.iter().copied())),
        ("resources", Value::string_list(resources.iter().copied())),
        ("verbs", Value::string_list(verbs.iter().copied())),
        ("resource_names", Value::Null),
    ])
}

/// The runner manager's binding: 3 grants, 2 managed policies, 1 inline policy.
pub fn manager_config() -> Value {
    let mut config = empty_config();
    config.set_attr("namespace", "ci-runner".into());
    config.set_attr("service_account_name", "gitlab-runner".into());
    config.set_attr("role_description", "GitLab Runner manager".into());
    config.set_attr("tags", Value::string_map([("team", "ci")]));
    config.set_attr(
        "managed_policy_arns",
        Value::string_set([
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::123456789012:policy/runner-extra",
        ]),
    );
    config.set_attr(
        "inline_policies",
        Value::string_map([(
            "cache",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::cache/*"}]}"#,
        )]),
    );
    config.set_attr("labels", Value::string_map([("app", "gitlab-runner")]));
    config.set_attr("sts_regional_endpoints", true.into());
    config.set_attr(
        "grant",
        Value::List(vec![
            grant("ci-jobs", Some("kubernetes-executor"), vec![]),
            grant("ci-jobs-2", Some("kubernetes-executor"), vec![]),
            grant(
                "ci-jobs-3",
                None,
                vec![rule(&[""], &["configmaps"], &["get", "list"])],
            ),
        ]),
    );
    config
}

/// Plans `config` against `prior` the way the provider server does (proposed new state as
/// Terraform makes it: the configuration, with prior computed values where it has none).
pub fn plan(prior: &Value, config: &Value) -> (PlannedChange, Diagnostics) {
    plan_with(&defaults(), prior, config)
}

/// [`plan`] with other provider settings.
pub fn plan_with(
    defaults: &ProviderDefaults,
    prior: &Value,
    config: &Value,
) -> (PlannedChange, Diagnostics) {
    let schema = schema();
    let proposed = propose(&schema.block, prior, config);
    let mut change = plan_change(&schema, prior, &proposed, config);
    let mut diags = super::plan_without_api(defaults, &mut change);
    crate::framework::finish_plan_for_tests(&schema, &mut change);
    diags.extend(crate::framework::check_plan_for_tests(&schema, &change));
    (change, diags)
}

/// Terraform's proposed new state: configured values, and prior values for computed
/// attributes the configuration leaves null (in blocks too, matched by index).
fn propose(block: &crate::codec::Block, prior: &Value, config: &Value) -> Value {
    if config.is_null() {
        return Value::Null;
    }
    let mut proposed = config.clone();
    for attr in &block.attributes {
        if attr.computed && config.get(&attr.name).is_null() {
            proposed.set_attr(&attr.name, prior.get(&attr.name).clone());
        }
    }
    for nested in &block.blocks {
        let configured = config.get(&nested.name);
        let before = prior.get(&nested.name);
        let value = match configured {
            Value::List(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let prior_item = before
                            .as_elements()
                            .and_then(|e| e.get(i))
                            .cloned()
                            .unwrap_or(Value::Null);
                        propose(&nested.block, &prior_item, item)
                    })
                    .collect(),
            ),
            Value::Object(_) => propose(&nested.block, before, configured),
            other => other.clone(),
        };
        proposed.set_attr(&nested.name, value);
    }
    proposed
}

/// Whether planning `config` against `state` changes nothing.
pub fn plan_is_empty(state: &Value, config: &Value) -> Result<(), String> {
    plan_is_empty_with(&defaults(), state, config)
}

/// [`plan_is_empty`] with other provider settings.
pub fn plan_is_empty_with(
    defaults: &ProviderDefaults,
    state: &Value,
    config: &Value,
) -> Result<(), String> {
    let (change, diags) = plan_with(defaults, state, config);
    if diags.has_errors() {
        return Err(format!("{diags:?}"));
    }
    if !change.requires_replace.is_empty() {
        return Err(format!("replace: {:?}", change.requires_replace));
    }
    let (Some(before), Some(after)) = (state.as_object(), change.planned.as_object()) else {
        return Err("not objects".into());
    };
    let differing: Vec<String> = before
        .iter()
        .filter(|(k, v)| !after.get(*k).is_some_and(|a| a.semantically_equal(v)))
        .map(|(k, v)| format!("{k}: {v:?} -> {:?}", after.get(k)))
        .collect();
    if differing.is_empty() {
        Ok(())
    } else {
        Err(differing.join("\n"))
    }
}
