//! The binding as typed data, and its conversion to and from the resource's [`Value`]s.
//!
//! [`Binding::from_value`] reads a planned value (at apply time) or a state; computed
//! attributes still unknown in a plan read as `None`. [`Binding::to_value`] writes every
//! attribute and block, so the result always has the schema's shape.

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::Value;

use super::naming;
use super::schema::{DEFAULT_AUDIENCE, DEFAULT_MAX_SESSION_DURATION, DEFAULT_ROLE_PATH};

/// One RBAC rule (Kubernetes `PolicyRule`), as a Role holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct RbacRule {
    /// API groups (`""` is the core group).
    pub api_groups: Vec<String>,
    /// Resources, with subresources as `pods/log`.
    pub resources: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
    /// Object names the rule is restricted to (empty: all).
    pub resource_names: Vec<String>,
}

impl RbacRule {
    /// A rule on one resource of the core group.
    pub fn core(resource: &str, verbs: &[&str]) -> RbacRule {
        RbacRule {
            api_groups: vec![String::new()],
            resources: vec![resource.to_string()],
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            resource_names: Vec::new(),
        }
    }

    fn to_value(&self) -> Value {
        Value::object([
            ("api_groups", Value::string_list(&self.api_groups)),
            ("resources", Value::string_list(&self.resources)),
            ("verbs", Value::string_list(&self.verbs)),
            ("resource_names", Value::string_list(&self.resource_names)),
        ])
    }

    fn from_value(value: &Value) -> RbacRule {
        RbacRule {
            api_groups: value.get("api_groups").string_elements(),
            resources: value.get("resources").string_elements(),
            verbs: value.get("verbs").string_elements(),
            resource_names: value.get("resource_names").string_elements(),
        }
    }
}

/// A `rule` block as configured (`resource_names` may be left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleBlock {
    /// `api_groups`.
    pub api_groups: Vec<String>,
    /// `resources`.
    pub resources: Vec<String>,
    /// `verbs`.
    pub verbs: Vec<String>,
    /// `resource_names`, null when not configured.
    pub resource_names: Option<Vec<String>>,
}

impl RuleBlock {
    /// The rule this block adds to its Role.
    pub fn rule(&self) -> RbacRule {
        RbacRule {
            api_groups: self.api_groups.clone(),
            resources: self.resources.clone(),
            verbs: self.verbs.clone(),
            resource_names: self.resource_names.clone().unwrap_or_default(),
        }
    }

    /// The block that configures `rule` (import).
    pub fn from_rule(rule: &RbacRule) -> RuleBlock {
        RuleBlock {
            api_groups: rule.api_groups.clone(),
            resources: rule.resources.clone(),
            verbs: rule.verbs.clone(),
            resource_names: (!rule.resource_names.is_empty()).then(|| rule.resource_names.clone()),
        }
    }

    fn to_value(&self) -> Value {
        Value::object([
            ("api_groups", Value::string_list(&self.api_groups)),
            ("resources", Value::string_list(&self.resources)),
            ("verbs", Value::string_list(&self.verbs)),
            (
                "resource_names",
                self.resource_names
                    .as_ref()
                    .map_or(Value::Null, Value::string_list),
            ),
        ])
    }

    fn from_value(value: &Value) -> RuleBlock {
        let resource_names = value.get("resource_names");
        RuleBlock {
            api_groups: value.get("api_groups").string_elements(),
            resources: value.get("resources").string_elements(),
            verbs: value.get("verbs").string_elements(),
            resource_names: (!resource_names.is_null() && !resource_names.is_unknown())
                .then(|| resource_names.string_elements()),
        }
    }
}

/// A `grant` block: configuration plus what exists in its namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// The namespace of the Role and RoleBinding.
    pub namespace: String,
    /// `preset`, when configured.
    pub preset: Option<String>,
    /// The `rule` blocks.
    pub rules: Vec<RuleBlock>,
    /// The Role's name; `None` when it is missing (or not yet known).
    pub role_name: Option<String>,
    /// The RoleBinding's name; `None` when it is missing or binds something else.
    pub role_binding_name: Option<String>,
    /// The Role's rules; `None` when not known.
    pub role_rules: Option<Vec<RbacRule>>,
}

impl Grant {
    /// The rules the Role should have: the preset's, then the `rule` blocks.
    pub fn desired_rules(&self) -> Vec<RbacRule> {
        let explicit: Vec<RbacRule> = self.rules.iter().map(RuleBlock::rule).collect();
        super::presets::effective_rules(self.preset.as_deref(), &explicit)
    }

    fn to_value(&self) -> Value {
        Value::object([
            ("namespace", Value::string(&self.namespace)),
            ("preset", Value::opt_string(self.preset.clone())),
            (
                "rule",
                Value::List(self.rules.iter().map(RuleBlock::to_value).collect()),
            ),
            ("role_name", Value::opt_string(self.role_name.clone())),
            (
                "role_binding_name",
                Value::opt_string(self.role_binding_name.clone()),
            ),
            (
                "role_rules",
                self.role_rules.as_ref().map_or(Value::Null, |rules| {
                    Value::List(rules.iter().map(RbacRule::to_value).collect())
                }),
            ),
        ])
    }

    fn from_value(value: &Value) -> Grant {
        let role_rules = value.get("role_rules");
        Grant {
            namespace: string(value.get("namespace")).unwrap_or_default(),
            preset: string(value.get("preset")),
            rules: elements(value.get("rule"))
                .iter()
                .map(RuleBlock::from_value)
                .collect(),
            role_name: string(value.get("role_name")),
            role_binding_name: string(value.get("role_binding_name")),
            role_rules: role_rules
                .as_elements()
                .filter(|_| role_rules.is_wholly_known())
                .map(|rules| rules.iter().map(RbacRule::from_value).collect()),
        }
    }
}

/// A field of an adopted ServiceAccount the binding took over from another field manager
/// (`take_over_conflicting_fields`), with what it was: given back on release.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TakenOverField {
    /// The field as the API server names it, e.g. `.metadata.labels.app`.
    pub field: String,
    /// The field manager that owned it.
    pub manager: String,
    /// Its value then (`automountServiceAccountToken` as `true`/`false`).
    pub previous_value: Option<String>,
}

impl TakenOverField {
    fn from_value(value: &Value) -> TakenOverField {
        TakenOverField {
            field: string(value.get("field")).unwrap_or_default(),
            manager: string(value.get("manager")).unwrap_or_default(),
            previous_value: string(value.get("previous_value")),
        }
    }

    fn to_value(&self) -> Value {
        Value::object([
            ("field", Value::string(&self.field)),
            ("manager", Value::string(&self.manager)),
            (
                "previous_value",
                Value::opt_string(self.previous_value.clone()),
            ),
        ])
    }
}

/// The `verify` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verify {
    /// `timeout_seconds`, when configured.
    pub timeout_seconds: Option<i64>,
}

/// A whole binding: configuration and computed attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// `namespace`.
    pub namespace: String,
    /// `service_account_name`.
    pub service_account_name: String,
    /// `oidc_provider_arn` (resolved at plan time).
    pub oidc_provider_arn: String,
    /// `role_name` (resolved at plan time).
    pub role_name: String,
    /// `role_path`.
    pub role_path: String,
    /// `role_description`.
    pub role_description: Option<String>,
    /// `max_session_duration`.
    pub max_session_duration: i64,
    /// `permissions_boundary_arn`.
    pub permissions_boundary_arn: Option<String>,
    /// `tags`.
    pub tags: Option<BTreeMap<String, String>>,
    /// `tags_all`.
    pub tags_all: BTreeMap<String, String>,
    /// `managed_policy_arns`.
    pub managed_policy_arns: Option<BTreeSet<String>>,
    /// `inline_policies`.
    pub inline_policies: Option<BTreeMap<String, String>>,
    /// `audience`.
    pub audience: String,
    /// `labels`.
    pub labels: Option<BTreeMap<String, String>>,
    /// `annotations`.
    pub annotations: Option<BTreeMap<String, String>>,
    /// `automount_service_account_token`.
    pub automount_service_account_token: Option<bool>,
    /// `sts_regional_endpoints`.
    pub sts_regional_endpoints: Option<bool>,
    /// `token_expiration`.
    pub token_expiration: Option<i64>,
    /// `adopt_existing_service_account`.
    pub adopt_existing_service_account: bool,
    /// `allow_wildcards`.
    pub allow_wildcards: bool,
    /// `allow_privilege_escalation`.
    pub allow_privilege_escalation: bool,
    /// `force_detach_policies`.
    pub force_detach_policies: bool,
    /// `take_over_conflicting_fields`.
    pub take_over_conflicting_fields: bool,
    /// `taken_over_fields` (empty while unknown).
    pub taken_over_fields: Vec<TakenOverField>,
    /// `irsa`: whether the role serves IRSA (OIDC trust statement and annotations).
    pub irsa: bool,
    /// The `pod_identity` block.
    pub pod_identity: Option<PodIdentity>,
    /// The `grant` blocks.
    pub grants: Vec<Grant>,
    /// The `verify` block.
    pub verify: Option<Verify>,
    /// `role_arn`.
    pub role_arn: String,
    /// `role_unique_id`; `None` when the role is missing (or not yet created).
    pub role_unique_id: Option<String>,
    /// `trust_policy`; `None` when the role is missing.
    pub trust_policy: Option<String>,
    /// `service_account_uid`; `None` when the ServiceAccount is missing.
    pub service_account_uid: Option<String>,
    /// `service_account_adopted`; `None` until known.
    pub service_account_adopted: Option<bool>,
    /// `irsa_annotations`.
    pub irsa_annotations: BTreeMap<String, String>,
    /// `runner_config_toml`.
    pub runner_config_toml: String,
    /// `verified_identity_arn`.
    pub verified_identity_arn: Option<String>,
}

/// The `pod_identity` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodIdentity {
    /// `cluster_name`.
    pub cluster_name: String,
    /// `association_id`; `None` when the association is missing (or not yet created).
    pub association_id: Option<String>,
    /// `association_arn`; `None` like `association_id`.
    pub association_arn: Option<String>,
}

impl PodIdentity {
    fn to_value(&self) -> Value {
        Value::object([
            ("cluster_name", Value::string(&self.cluster_name)),
            (
                "association_id",
                Value::opt_string(self.association_id.clone()),
            ),
            (
                "association_arn",
                Value::opt_string(self.association_arn.clone()),
            ),
        ])
    }

    fn from_value(value: &Value) -> PodIdentity {
        PodIdentity {
            cluster_name: string(value.get("cluster_name")).unwrap_or_default(),
            association_id: string(value.get("association_id")),
            association_arn: string(value.get("association_arn")),
        }
    }
}

impl Binding {
    /// The binding's id and ownership marker value, `NAMESPACE/NAME`.
    pub fn id(&self) -> String {
        naming::identity(&self.namespace, &self.service_account_name)
    }

    /// The grant for `namespace`.
    pub fn grant(&self, namespace: &str) -> Option<&Grant> {
        self.grants.iter().find(|g| g.namespace == namespace)
    }

    /// Reads a planned value or a state.
    pub fn from_value(value: &Value) -> Binding {
        let verify = value.get("verify");
        Binding {
            namespace: string(value.get("namespace")).unwrap_or_default(),
            service_account_name: string(value.get("service_account_name")).unwrap_or_default(),
            oidc_provider_arn: string(value.get("oidc_provider_arn")).unwrap_or_default(),
            role_name: string(value.get("role_name")).unwrap_or_default(),
            role_path: string(value.get("role_path"))
                .unwrap_or_else(|| DEFAULT_ROLE_PATH.to_string()),
            role_description: string(value.get("role_description")),
            max_session_duration: value
                .get("max_session_duration")
                .as_i64()
                .unwrap_or(DEFAULT_MAX_SESSION_DURATION),
            permissions_boundary_arn: string(value.get("permissions_boundary_arn")),
            tags: string_map(value.get("tags")),
            tags_all: string_map(value.get("tags_all")).unwrap_or_default(),
            managed_policy_arns: known(value.get("managed_policy_arns"))
                .map(|v| v.string_elements().into_iter().collect()),
            inline_policies: string_map(value.get("inline_policies")),
            audience: string(value.get("audience")).unwrap_or_else(|| DEFAULT_AUDIENCE.to_string()),
            labels: string_map(value.get("labels")),
            annotations: string_map(value.get("annotations")),
            automount_service_account_token: value.get("automount_service_account_token").as_bool(),
            sts_regional_endpoints: value.get("sts_regional_endpoints").as_bool(),
            token_expiration: value.get("token_expiration").as_i64(),
            adopt_existing_service_account: value
                .get("adopt_existing_service_account")
                .as_bool()
                .unwrap_or(false),
            allow_wildcards: value.get("allow_wildcards").as_bool().unwrap_or(false),
            allow_privilege_escalation: value
                .get("allow_privilege_escalation")
                .as_bool()
                .unwrap_or(false),
            force_detach_policies: value
                .get("force_detach_policies")
                .as_bool()
                .unwrap_or(false),
            take_over_conflicting_fields: value
                .get("take_over_conflicting_fields")
                .as_bool()
                .unwrap_or(false),
            taken_over_fields: elements(value.get("taken_over_fields"))
                .iter()
                .map(TakenOverField::from_value)
                .collect(),
            // States of schema version 0 have no `irsa`: they are IRSA bindings.
            irsa: value.get("irsa").as_bool().unwrap_or(true),
            pod_identity: elements(value.get("pod_identity"))
                .first()
                .map(PodIdentity::from_value),
            grants: elements(value.get("grant"))
                .iter()
                .map(Grant::from_value)
                .collect(),
            verify: (!verify.is_null()).then(|| Verify {
                timeout_seconds: verify.get("timeout_seconds").as_i64(),
            }),
            role_arn: string(value.get("role_arn")).unwrap_or_default(),
            role_unique_id: string(value.get("role_unique_id")),
            trust_policy: string(value.get("trust_policy")),
            service_account_uid: string(value.get("service_account_uid")),
            service_account_adopted: value.get("service_account_adopted").as_bool(),
            irsa_annotations: string_map(value.get("irsa_annotations")).unwrap_or_default(),
            runner_config_toml: string(value.get("runner_config_toml")).unwrap_or_default(),
            verified_identity_arn: string(value.get("verified_identity_arn")),
        }
    }

    /// Writes the whole object.
    pub fn to_value(&self) -> Value {
        let opt_map = |m: &Option<BTreeMap<String, String>>| {
            m.as_ref()
                .map_or(Value::Null, |m| Value::string_map(m.clone()))
        };
        Value::object([
            ("id", Value::string(self.id())),
            ("namespace", Value::string(&self.namespace)),
            (
                "service_account_name",
                Value::string(&self.service_account_name),
            ),
            (
                "oidc_provider_arn",
                Value::opt_string(
                    (!self.oidc_provider_arn.is_empty()).then(|| self.oidc_provider_arn.clone()),
                ),
            ),
            ("irsa", Value::Bool(self.irsa)),
            ("role_name", Value::string(&self.role_name)),
            ("role_path", Value::string(&self.role_path)),
            (
                "role_description",
                Value::opt_string(self.role_description.clone()),
            ),
            (
                "max_session_duration",
                Value::int(self.max_session_duration),
            ),
            (
                "permissions_boundary_arn",
                Value::opt_string(self.permissions_boundary_arn.clone()),
            ),
            ("tags", opt_map(&self.tags)),
            ("tags_all", Value::string_map(self.tags_all.clone())),
            (
                "managed_policy_arns",
                self.managed_policy_arns
                    .as_ref()
                    .map_or(Value::Null, Value::string_set),
            ),
            ("inline_policies", opt_map(&self.inline_policies)),
            ("audience", Value::string(&self.audience)),
            ("labels", opt_map(&self.labels)),
            ("annotations", opt_map(&self.annotations)),
            (
                "automount_service_account_token",
                self.automount_service_account_token
                    .map_or(Value::Null, Value::Bool),
            ),
            (
                "sts_regional_endpoints",
                self.sts_regional_endpoints.map_or(Value::Null, Value::Bool),
            ),
            (
                "token_expiration",
                self.token_expiration.map_or(Value::Null, Value::int),
            ),
            (
                "adopt_existing_service_account",
                Value::Bool(self.adopt_existing_service_account),
            ),
            ("allow_wildcards", Value::Bool(self.allow_wildcards)),
            (
                "allow_privilege_escalation",
                Value::Bool(self.allow_privilege_escalation),
            ),
            (
                "force_detach_policies",
                Value::Bool(self.force_detach_policies),
            ),
            (
                "take_over_conflicting_fields",
                Value::Bool(self.take_over_conflicting_fields),
            ),
            (
                "taken_over_fields",
                Value::List(
                    self.taken_over_fields
                        .iter()
                        .map(TakenOverField::to_value)
                        .collect(),
                ),
            ),
            ("role_arn", Value::string(&self.role_arn)),
            (
                "role_unique_id",
                Value::opt_string(self.role_unique_id.clone()),
            ),
            ("trust_policy", Value::opt_string(self.trust_policy.clone())),
            (
                "service_account_uid",
                Value::opt_string(self.service_account_uid.clone()),
            ),
            (
                "service_account_adopted",
                self.service_account_adopted
                    .map_or(Value::Null, Value::Bool),
            ),
            (
                "irsa_annotations",
                Value::string_map(self.irsa_annotations.clone()),
            ),
            (
                "runner_config_toml",
                Value::string(&self.runner_config_toml),
            ),
            (
                "verified_identity_arn",
                Value::opt_string(self.verified_identity_arn.clone()),
            ),
            (
                "grant",
                Value::List(self.grants.iter().map(Grant::to_value).collect()),
            ),
            (
                "pod_identity",
                Value::List(
                    self.pod_identity
                        .iter()
                        .map(PodIdentity::to_value)
                        .collect(),
                ),
            ),
            (
                "verify",
                self.verify.as_ref().map_or(Value::Null, |v| {
                    Value::object([(
                        "timeout_seconds",
                        v.timeout_seconds.map_or(Value::Null, Value::int),
                    )])
                }),
            ),
        ])
    }
}

/// A known string, else `None` (null and unknown alike).
pub fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// A known map of strings, else `None`.
pub fn string_map(value: &Value) -> Option<BTreeMap<String, String>> {
    known(value).and_then(|v| v.as_map().map(|_| v.string_entries()))
}

fn known(value: &Value) -> Option<&Value> {
    (!value.is_null() && value.is_wholly_known()).then_some(value)
}

fn elements(value: &Value) -> &[Value] {
    value.as_elements().unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete binding with every optional part set, for tests across the module.
    pub fn sample() -> Binding {
        Binding {
            namespace: "ci-runner".into(),
            service_account_name: "gitlab-runner".into(),
            oidc_provider_arn:
                "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
                    .into(),
            role_name: "ci-runner-gitlab-runner".into(),
            role_path: "/".into(),
            role_description: Some("runner manager".into()),
            max_session_duration: 3600,
            permissions_boundary_arn: None,
            tags: Some(BTreeMap::from([("team".into(), "ci".into())])),
            tags_all: BTreeMap::from([("team".into(), "ci".into())]),
            managed_policy_arns: Some(BTreeSet::from([
                "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
            ])),
            inline_policies: Some(BTreeMap::from([(
                "s3".to_string(),
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#
                    .to_string(),
            )])),
            audience: "sts.amazonaws.com".into(),
            labels: Some(BTreeMap::from([("app".into(), "runner".into())])),
            annotations: None,
            automount_service_account_token: Some(true),
            sts_regional_endpoints: Some(true),
            token_expiration: None,
            adopt_existing_service_account: false,
            allow_wildcards: false,
            allow_privilege_escalation: false,
            force_detach_policies: false,
            take_over_conflicting_fields: false,
            taken_over_fields: Vec::new(),
            irsa: true,
            pod_identity: None,
            grants: vec![Grant {
                namespace: "ci-jobs".into(),
                preset: Some("kubernetes-executor".into()),
                rules: vec![RuleBlock {
                    api_groups: vec!["".into()],
                    resources: vec!["configmaps".into()],
                    verbs: vec!["get".into()],
                    resource_names: None,
                }],
                role_name: Some("ci-runner.gitlab-runner".into()),
                role_binding_name: Some("ci-runner.gitlab-runner".into()),
                role_rules: None,
            }],
            verify: None,
            role_arn: "arn:aws:iam::123456789012:role/ci-runner-gitlab-runner".into(),
            role_unique_id: Some("AROAEXAMPLE".into()),
            trust_policy: Some("{}".into()),
            service_account_uid: Some("uid-1".into()),
            service_account_adopted: Some(false),
            irsa_annotations: BTreeMap::new(),
            runner_config_toml: String::new(),
            verified_identity_arn: None,
        }
    }

    #[test]
    fn a_binding_survives_the_round_trip_through_its_value() {
        let mut binding = sample();
        binding.grants[0].role_rules = Some(binding.grants[0].desired_rules());
        binding.verify = Some(Verify {
            timeout_seconds: Some(30),
        });
        assert_eq!(Binding::from_value(&binding.to_value()), binding);
        binding.irsa = false;
        binding.oidc_provider_arn = String::new();
        binding.pod_identity = Some(PodIdentity {
            cluster_name: "gitlabrunner-acc".into(),
            association_id: Some("a-abcdefghij0123456".into()),
            association_arn: Some(
                "arn:aws:eks:us-east-1:123456789012:podidentityassociation/gitlabrunner-acc/a-abcdefghij0123456"
                    .into(),
            ),
        });
        let value = binding.to_value();
        assert!(value.get("oidc_provider_arn").is_null());
        assert_eq!(Binding::from_value(&value), binding);
    }

    #[test]
    fn the_value_has_exactly_the_schema_attributes() {
        let value = sample().to_value();
        let schema = super::super::schema::schema();
        let expected: BTreeSet<String> = schema
            .block
            .attributes
            .iter()
            .map(|a| a.name.clone())
            .chain(schema.block.blocks.iter().map(|b| b.name.clone()))
            .collect();
        let actual: BTreeSet<String> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(actual, expected);
        let grant = &value.get("grant").as_elements().unwrap()[0];
        let grant_schema = &schema.block.nested_block("grant").unwrap().block;
        let expected: BTreeSet<String> = grant_schema
            .attributes
            .iter()
            .map(|a| a.name.clone())
            .chain(grant_schema.blocks.iter().map(|b| b.name.clone()))
            .collect();
        let actual: BTreeSet<String> = grant.as_object().unwrap().keys().cloned().collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn unknown_computed_values_read_as_absent() {
        let mut value = sample().to_value();
        value.set_attr("role_unique_id", Value::Unknown);
        value.set_attr("service_account_adopted", Value::Unknown);
        let binding = Binding::from_value(&value);
        assert_eq!(binding.role_unique_id, None);
        assert_eq!(binding.service_account_adopted, None);
    }
}
