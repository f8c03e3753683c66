//! Plan-time work: resolve what the provider block supplies (OIDC provider ARN, default tags),
//! check it against the provider's region, and compute everything that is known before apply
//! (role name and ARN, trust policy, tags, annotations, RBAC names and rules, runner config),
//! comparing policy documents by meaning so that formatting never shows as a change.

use std::collections::BTreeMap;

use crate::aws::{OidcProviderArn, Partition, arn, policy};
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::data_sources::oidc_provider::invalid_arn;
use crate::framework::PlannedChange;

use super::model::{RbacRule, RuleBlock};
use super::{irsa, naming, presets, trust};

/// What the provider block contributes to a plan.
#[derive(Clone, Debug, Default)]
pub struct ProviderDefaults {
    /// The AWS region, if known.
    pub region: Option<String>,
    /// The provider's `oidc_provider_arn`.
    pub oidc_provider_arn: Option<String>,
    /// The provider's `default_tags`.
    pub default_tags: BTreeMap<String, String>,
    /// The account of the provider's credentials (`sts:GetCallerIdentity`), asked only for a
    /// Pod-Identity-only binding, whose role ARN and trust cannot take it from an OIDC provider.
    pub account_id: Option<String>,
}

impl ProviderDefaults {
    fn partition(&self) -> Option<Partition> {
        self.region.as_deref().and_then(Partition::from_region)
    }
}

/// The plan-time error of a binding that would be created or changed while the provider has no
/// Kubernetes configuration: `missing` (from the provider) with what the binding needs it for,
/// at `service_account_name`, the object that lives in Kubernetes.
pub fn kubernetes_missing(missing: Diagnostic) -> Diagnostic {
    Diagnostic::error(
        missing.summary,
        format!(
            "This binding's ServiceAccount, Roles and RoleBindings are made through the \
             Kubernetes API, and the apply would fail: {}",
            missing.detail
        ),
    )
    .at(AttributePath::new("service_account_name"))
}

/// Completes the framework's plan (see the module docs).
pub fn modify_plan(defaults: &ProviderDefaults, change: &mut PlannedChange) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if change.is_destroy() {
        return diags;
    }
    let config = change.config.clone();
    let prior = change.prior.clone();
    let namespace = config.get("namespace").clone();
    let service_account = config.get("service_account_name").clone();
    let identity = known_pair(&namespace, &service_account);

    change.set(
        "id",
        identity.map_or(Value::Unknown, |(ns, sa)| naming::identity(ns, sa).into()),
    );

    // The mechanisms: IRSA unless `irsa = false`, Pod Identity with the block.
    let irsa = change.planned.get("irsa").clone();
    let pod_identity_cluster = pod_identity_cluster_name(&change.planned);
    if irsa.as_bool() == Some(false) && matches!(pod_identity_cluster, ClusterName::None) {
        diags.push(super::validate::no_mechanism());
        return diags;
    }

    // The OIDC provider: configured, else the provider's default; none without IRSA.
    // (A configured value is planned as it is; validation refuses it with irsa = false.)
    let oidc_value = match (&irsa, config.get("oidc_provider_arn")) {
        (Value::Bool(false), Value::Null) => Value::Null,
        (Value::Unknown, Value::Null) => Value::Unknown,
        (_, Value::Null) => Value::opt_string(defaults.oidc_provider_arn.clone()),
        (_, other) => other.clone(),
    };
    if oidc_value.is_null() && irsa.as_bool() == Some(true) {
        diags.error_at(
            AttributePath::new("oidc_provider_arn"),
            "Missing OIDC provider ARN",
            "Neither the resource nor the provider block sets oidc_provider_arn. Set it to \
             the ARN of the cluster's IAM OIDC identity provider (the \
             gitlabrunner_oidc_provider data source looks it up).",
        );
        return diags;
    }
    change.set("oidc_provider_arn", oidc_value.clone());
    let oidc = match oidc_value.as_str().map(OidcProviderArn::parse) {
        Some(Ok(oidc)) => Some(oidc),
        Some(Err(why)) => {
            let text = oidc_value.as_str().unwrap_or_default();
            diags.push(invalid_arn(text, &why).at(AttributePath::new("oidc_provider_arn")));
            return diags;
        }
        None => None,
    };
    if let (Some(oidc), Some(partition)) = (&oidc, defaults.partition())
        && oidc.partition != partition
    {
        diags.error_at(
            AttributePath::new("oidc_provider_arn"),
            "OIDC provider in another partition",
            format!(
                "The OIDC provider {oidc} is in partition {}, but the provider's region {} is \
                 in partition {partition}. IAM roles cannot trust an identity provider of \
                 another partition; use the OIDC provider of a cluster in {partition}, or \
                 configure the provider for its region.",
                oidc.partition,
                defaults.region.as_deref().unwrap_or_default(),
            ),
        );
        return diags;
    }
    // The role's partition and account: the OIDC provider's, else (Pod Identity only) the
    // provider's region and credentials.
    let partition_account: Option<(Partition, String)> = match (&oidc, &irsa) {
        (Some(oidc), _) => Some((oidc.partition, oidc.account.clone())),
        (None, Value::Bool(false)) => defaults.partition().zip(defaults.account_id.clone()),
        _ => None,
    };

    // The role's name and ARN.
    let role_name = match config.get("role_name") {
        Value::Null => identity.map_or(Value::Unknown, |(ns, sa)| {
            naming::default_role_name(ns, sa).into()
        }),
        other => other.clone(),
    };
    change.set("role_name", role_name.clone());
    let role_path = change.planned.get("role_path").clone();
    let role_arn = match (&partition_account, role_path.as_str(), role_name.as_str()) {
        (Some((partition, account)), Some(path), Some(name)) => {
            Value::from(arn::role_arn(*partition, account, path, name))
        }
        _ => Value::Unknown,
    };
    change.set("role_arn", role_arn.clone());

    // The trust policy; a prior document that means the same is kept as it is.
    let audience = change.planned.get("audience").clone();
    let cluster = match (&pod_identity_cluster, &partition_account, &defaults.region) {
        (ClusterName::None, ..) => Some(None),
        (ClusterName::Known(name), Some((partition, account)), Some(region)) => Some(Some(
            trust::PodIdentityCluster::new(*partition, region, account, name),
        )),
        _ => None,
    };
    let trust_policy = match (&irsa, &oidc, identity, audience.as_str(), &cluster) {
        (Value::Bool(irsa), oidc, Some((ns, sa)), Some(audience), Some(cluster))
            if !*irsa || oidc.is_some() =>
        {
            let mechanisms = trust::Mechanisms {
                irsa: oidc.as_ref().filter(|_| *irsa).map(|o| (o, audience)),
                pod_identity: cluster.as_ref(),
            };
            let built = trust::document_for(mechanisms, ns, sa).to_string();
            match prior.get("trust_policy").as_str() {
                Some(previous) if policy::equivalent(previous, &built) => previous.into(),
                _ => built.into(),
            }
        }
        _ => Value::Unknown,
    };
    change.set("trust_policy", trust_policy);
    plan_association(&prior, &mut change.planned);

    // Tags: the provider's defaults with the resource's over them.
    let tags = config.get("tags");
    let tags_all = if tags.is_wholly_known() {
        let mut all = defaults.default_tags.clone();
        all.extend(tags.string_entries());
        if all.len() > 48 {
            diags.error_at(
                AttributePath::new("tags"),
                "Too many tags",
                format!(
                    "With the provider's default_tags the role would carry {} tags; IAM allows \
                     50 per role and the provider uses 2 to mark ownership.",
                    all.len()
                ),
            );
        }
        Value::string_map(all)
    } else {
        Value::Unknown
    };
    change.set("tags_all", tags_all);

    // The ServiceAccount's IRSA annotations.
    let sts_regional = config.get("sts_regional_endpoints");
    let token_expiration = config.get("token_expiration");
    let irsa_annotations = match (role_arn.as_str(), audience.as_str()) {
        _ if irsa.as_bool() == Some(false) => Value::string_map(BTreeMap::<String, String>::new()),
        _ if irsa.is_unknown() => Value::Unknown,
        (Some(role_arn), Some(audience))
            if !sts_regional.is_unknown() && !token_expiration.is_unknown() =>
        {
            Value::string_map(irsa::annotations(
                role_arn,
                audience,
                sts_regional.as_bool(),
                token_expiration.as_i64(),
            ))
        }
        _ => Value::Unknown,
    };
    change.set("irsa_annotations", irsa_annotations);

    // RBAC: names and rules per grant, and the runner's config that follows from them.
    plan_grants(identity, &mut change.planned);
    let grant_namespaces: Option<Vec<String>> =
        change
            .planned
            .get("grant")
            .as_elements()
            .and_then(|grants| {
                grants
                    .iter()
                    .map(|g| g.get("namespace").as_str().map(str::to_string))
                    .collect()
            });
    let runner_config = match (identity, &grant_namespaces) {
        (Some((ns, sa)), Some(grants)) => {
            let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
            Value::from(irsa::runner_config_toml(ns, sa, &grants))
        }
        _ => Value::Unknown,
    };
    change.set("runner_config_toml", runner_config);

    keep_equivalent_inline_policies(&prior, &config, &mut change.planned);
    plan_created_identifiers(&prior, &config, &mut change.planned, change.prior.is_null());

    // Verification runs with every apply that changes something.
    let verified = if config.get("verify").is_null() {
        Value::Null
    } else if prior.is_null() || !unchanged_apart_from_verification(&prior, &change.planned) {
        Value::Unknown
    } else {
        prior.get("verified_identity_arn").clone()
    };
    change.set("verified_identity_arn", verified);
    diags
}

/// The planned `pod_identity.cluster_name`.
enum ClusterName {
    /// No `pod_identity` block.
    None,
    /// The block, with this cluster name.
    Known(String),
    /// Not known yet (an unknown block or name).
    Unknown,
}

fn pod_identity_cluster_name(planned: &Value) -> ClusterName {
    match planned.get("pod_identity") {
        Value::Null => ClusterName::None,
        Value::List(items) => match items.first() {
            None => ClusterName::None,
            Some(block) => match block.get("cluster_name").as_str() {
                Some(name) => ClusterName::Known(name.to_string()),
                None => ClusterName::Unknown,
            },
        },
        _ => ClusterName::Unknown,
    }
}

/// The association's id and ARN: kept while the association stays in the same cluster and
/// exists; unknown when apply creates it (a new block, another cluster, or one found missing
/// or pointing at another role by refresh).
fn plan_association(prior: &Value, planned: &mut Value) {
    let prior_block = prior
        .get("pod_identity")
        .as_elements()
        .and_then(|items| items.first())
        .cloned();
    let Value::List(blocks) = planned.attr_mut("pod_identity") else {
        return;
    };
    for block in blocks.iter_mut().filter(|b| matches!(b, Value::Object(_))) {
        let kept = prior_block.as_ref().filter(|before| {
            before.get("cluster_name") == block.get("cluster_name")
                && before.get("cluster_name").is_wholly_known()
                && !before.get("association_id").is_null()
        });
        for name in ["association_id", "association_arn"] {
            // A known id without its ARN: the association gives another role (refresh), and
            // apply points it back.
            let value = kept
                .map(|before| before.get(name).clone())
                .filter(|value| !value.is_null())
                .unwrap_or(Value::Unknown);
            block.set_attr(name, value);
        }
    }
}

/// The plan-time warning of a change of mechanism (IRSA, Pod Identity, or the Pod Identity
/// cluster): pods keep the credentials they started with, and while the IRSA annotation is
/// there the SDKs' default credential chain takes the web identity token first.
pub fn mechanism_change_warning(prior: &Value, planned: &Value) -> Option<Diagnostic> {
    if prior.is_null() || planned.is_null() {
        return None;
    }
    let mechanisms = |v: &Value| {
        let cluster = v
            .get("pod_identity")
            .as_elements()
            .and_then(|items| items.first())
            .map(|b| b.get("cluster_name").clone());
        (v.get("irsa").clone(), cluster)
    };
    let (before, after) = (mechanisms(prior), mechanisms(planned));
    if before == after || !planned.get("irsa").is_wholly_known() {
        return None;
    }
    let describe = |(irsa, cluster): &(Value, Option<Value>)| {
        let irsa = irsa.as_bool() != Some(false);
        match (irsa, cluster.as_ref().and_then(Value::as_str)) {
            (true, None) => "IRSA".to_string(),
            (true, Some(c)) => format!("IRSA and EKS Pod Identity (cluster {c})"),
            (false, Some(c)) => format!("EKS Pod Identity (cluster {c})"),
            (false, None) => "nothing".to_string(),
        }
    };
    Some(
        Diagnostic::warning(
            "Running pods keep their credentials until they restart",
            format!(
                "The binding changes from {} to {}. The role stays the same and the change \
                 is made in a safe order (the new trust statement and association first, the \
                 old statement, annotation or association last), but pods that are running \
                 keep the credentials they were started with: the EKS Pod Identity Webhook \
                 and the Pod Identity association act when a pod is created, so restart the \
                 runner (and its job pods) to use the new mechanism. While the ServiceAccount \
                 carries the eks.amazonaws.com/role-arn annotation, pods get \
                 AWS_WEB_IDENTITY_TOKEN_FILE and the AWS SDKs' default credential chain takes \
                 the web identity token (IRSA) before container credentials (Pod Identity) \
                 (https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html): \
                 they keep using IRSA until irsa = false removes the annotation and they \
                 restart.",
                describe(&before),
                describe(&after)
            ),
        )
        .at(AttributePath::new("irsa")),
    )
}

fn known_pair<'a>(a: &'a Value, b: &'a Value) -> Option<(&'a str, &'a str)> {
    Some((a.as_str()?, b.as_str()?))
}

/// Sets each grant's Role and RoleBinding names and its rules.
fn plan_grants(identity: Option<(&str, &str)>, planned: &mut Value) {
    let Value::List(grants) = planned.attr_mut("grant") else {
        return;
    };
    for grant in grants.iter_mut().filter(|g| matches!(g, Value::Object(_))) {
        let name = identity.map_or(Value::Unknown, |(ns, sa)| naming::rbac_name(ns, sa).into());
        grant.set_attr("role_name", name.clone());
        grant.set_attr("role_binding_name", name);
        let preset = grant.get("preset").clone();
        let rules = grant.get("rule").clone();
        let role_rules = if preset.is_unknown() || !rules.is_wholly_known() {
            Value::Unknown
        } else {
            let explicit: Vec<RbacRule> = rules
                .as_elements()
                .unwrap_or_default()
                .iter()
                .map(|rule| {
                    RuleBlock {
                        api_groups: rule.get("api_groups").string_elements(),
                        resources: rule.get("resources").string_elements(),
                        verbs: rule.get("verbs").string_elements(),
                        resource_names: Some(rule.get("resource_names").string_elements()),
                    }
                    .rule()
                })
                .collect();
            Value::List(
                presets::effective_rules(preset.as_str(), &explicit)
                    .iter()
                    .map(rule_value)
                    .collect(),
            )
        };
        grant.set_attr("role_rules", role_rules);
    }
}

fn rule_value(rule: &RbacRule) -> Value {
    Value::object([
        ("api_groups", Value::string_list(&rule.api_groups)),
        ("resources", Value::string_list(&rule.resources)),
        ("verbs", Value::string_list(&rule.verbs)),
        ("resource_names", Value::string_list(&rule.resource_names)),
    ])
}

/// Plans the prior `inline_policies` when every configured document means the same as the
/// prior one (Terraform accepts the prior value in place of an equivalent configured one).
fn keep_equivalent_inline_policies(prior: &Value, config: &Value, planned: &mut Value) {
    let (Some(before), Some(after)) = (
        prior.get("inline_policies").as_map(),
        config.get("inline_policies").as_map(),
    ) else {
        return;
    };
    if !config.get("inline_policies").is_wholly_known() {
        return;
    }
    let same_names = before.len() == after.len() && before.keys().all(|k| after.contains_key(k));
    let same_meaning = same_names
        && before.iter().all(
            |(name, document)| match (document.as_str(), after[name].as_str()) {
                (Some(a), Some(b)) => policy::equivalent(a, b),
                _ => false,
            },
        );
    if same_meaning {
        planned.set_attr("inline_policies", prior.get("inline_policies").clone());
    }
}

/// The identifiers IAM and Kubernetes assign: unknown when apply will create the object.
fn plan_created_identifiers(prior: &Value, config: &Value, planned: &mut Value, create: bool) {
    let role_recreated = create
        || prior.get("role_unique_id").is_null()
        || !planned.get("role_name").is_wholly_known()
        || !planned.get("role_path").is_wholly_known()
        || prior.get("role_name") != planned.get("role_name")
        || prior.get("role_path") != planned.get("role_path");
    planned.set_attr(
        "role_unique_id",
        if role_recreated {
            Value::Unknown
        } else {
            prior.get("role_unique_id").clone()
        },
    );
    let account_created = create || prior.get("service_account_uid").is_null();
    planned.set_attr(
        "service_account_uid",
        if account_created {
            Value::Unknown
        } else {
            prior.get("service_account_uid").clone()
        },
    );
    let adopted = if !account_created && !prior.get("service_account_adopted").is_null() {
        prior.get("service_account_adopted").clone()
    } else {
        match config.get("adopt_existing_service_account") {
            Value::Bool(true) | Value::Unknown => Value::Unknown,
            _ => Value::Bool(false),
        }
    };
    planned.set_attr("service_account_adopted", adopted);
}

fn unchanged_apart_from_verification(prior: &Value, planned: &Value) -> bool {
    let (Some(before), Some(after)) = (prior.as_object(), planned.as_object()) else {
        return false;
    };
    before
        .iter()
        .filter(|(name, _)| name.as_str() != "verified_identity_arn")
        .all(|(name, value)| after.get(name).is_some_and(|v| v.semantically_equal(value)))
}

/// Completes, at apply time, a Pod-Identity-only plan whose role ARN and trust policy waited for
/// the account (the credentials' account was not known at plan time): `false` when `binding`
/// still lacks what it needs (no region, no block).
pub fn complete_pod_identity_only(
    binding: &mut super::model::Binding,
    region: Option<&str>,
    account: &str,
) -> bool {
    let (Some(region), Some(block)) = (region, &binding.pod_identity) else {
        return false;
    };
    let Some(partition) = Partition::from_region(region) else {
        return false;
    };
    if binding.role_arn.is_empty() {
        binding.role_arn =
            arn::role_arn(partition, account, &binding.role_path, &binding.role_name);
    }
    if binding.trust_policy.is_none() {
        let cluster =
            trust::PodIdentityCluster::new(partition, region, account, &block.cluster_name);
        let mechanisms = trust::Mechanisms {
            irsa: None,
            pod_identity: Some(&cluster),
        };
        binding.trust_policy = Some(
            trust::document_for(
                mechanisms,
                &binding.namespace,
                &binding.service_account_name,
            )
            .to_string(),
        );
    }
    true
}
