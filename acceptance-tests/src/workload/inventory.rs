//! What exists of a workload instance in IAM, S3 and Kubernetes, read with the harness's own
//! clients, and whether a Terraform state says exactly that.
//!
//! The Kubernetes side lists every object carrying the provider's `managed-by` label in the
//! instance's (unique) namespaces, so an object the state does not know of, or a duplicate
//! under another name, shows up too.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::binding::{BindingSpec, SERVICE_ACCOUNT};
use super::cache::CacheSpec;
use crate::aws::AwsClients;
use crate::terraform::StateResource;

/// The label the provider puts on every Kubernetes object it creates.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by=terraform-provider-gitlabrunner";

/// The IAM tags that mark a role as the provider's (not part of `tags_all`).
const OWNERSHIP_TAGS: &[&str] = &["managed-by", "terraform-provider-gitlabrunner/owner"];

/// Reading what exists failed.
#[derive(Debug, thiserror::Error)]
#[error("inventory: {what}: {message}")]
pub struct InventoryError {
    what: String,
    message: String,
}

fn failed(what: impl Into<String>, error: impl std::error::Error) -> InventoryError {
    InventoryError {
        what: what.into(),
        message: crate::error_chain(&error),
    }
}

/// An IAM role as IAM describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleFacts {
    /// `AROA...`.
    pub role_id: String,
    /// Every tag.
    pub tags: BTreeMap<String, String>,
    /// The description (IAM drops an empty one).
    pub description: Option<String>,
    /// Seconds.
    pub max_session_duration: i64,
}

/// A rule as `(api_groups, resources, verbs, resource_names)`, comparable across state and API.
pub type Rule = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);

/// Everything of one binding that exists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BindingInventory {
    /// The role, if it exists.
    pub role: Option<RoleFacts>,
    /// Policy ARNs attached to it.
    pub attached: BTreeSet<String>,
    /// Its inline policies, parsed.
    pub inline: BTreeMap<String, Value>,
    /// Labelled ServiceAccounts in the binding's namespaces: `NS/NAME` to (uid, labels).
    pub service_accounts: BTreeMap<String, (String, BTreeMap<String, String>)>,
    /// Labelled Roles: `NS/NAME` to their rules.
    pub roles: BTreeMap<String, Vec<Rule>>,
    /// Labelled RoleBindings: `NS/NAME` to (roleRef name, subjects as `KIND:NS/NAME`).
    pub role_bindings: BTreeMap<String, (String, Vec<String>)>,
    /// EKS Pod Identity associations of the rig's cluster in the binding's namespaces:
    /// `NS/SERVICE_ACCOUNT` to (association id, role ARN). Empty when the clients do not reach
    /// the rig's EKS.
    pub pod_identity_associations: BTreeMap<String, (String, String)>,
}

impl BindingInventory {
    /// Reads what exists of `spec` (and of the grant namespaces in `extra_namespaces`, e.g.
    /// those of an update's other side).
    pub async fn read(
        aws: &AwsClients,
        kube: &kube::Client,
        spec: &BindingSpec,
        extra_namespaces: &[String],
    ) -> Result<Self, InventoryError> {
        let mut namespaces: BTreeSet<String> = spec.namespaces().into_iter().collect();
        namespaces.extend(extra_namespaces.iter().cloned());
        let (iam, kubernetes, associations) = tokio::join!(
            read_role(aws, &spec.role_name),
            read_labelled(kube, &namespaces),
            read_associations(aws, &namespaces)
        );
        let (role, attached, inline) = iam?;
        let (service_accounts, roles, role_bindings) = kubernetes?;
        Ok(Self {
            role,
            attached,
            inline,
            service_accounts,
            roles,
            role_bindings,
            pod_identity_associations: associations?,
        })
    }

    /// Whether nothing of the binding exists.
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.service_accounts.is_empty()
            && self.roles.is_empty()
            && self.role_bindings.is_empty()
            && self.pod_identity_associations.is_empty()
    }

    /// Every object that exists, e.g. `IAM role wl-x`, `Role x-g1/x.runner`.
    pub fn objects(&self) -> Vec<String> {
        let mut objects = Vec::new();
        if self.role.is_some() {
            objects.push("IAM role".to_string());
        }
        objects.extend(self.attached.iter().map(|a| format!("attachment {a}")));
        objects.extend(self.inline.keys().map(|n| format!("inline policy {n}")));
        objects.extend(
            self.service_accounts
                .keys()
                .map(|k| format!("ServiceAccount {k}")),
        );
        objects.extend(self.roles.keys().map(|k| format!("Role {k}")));
        objects.extend(
            self.role_bindings
                .keys()
                .map(|k| format!("RoleBinding {k}")),
        );
        objects.extend(
            self.pod_identity_associations
                .iter()
                .map(|(k, (id, _))| format!("Pod Identity association {id} ({k})")),
        );
        objects
    }
}

/// The rig's associations in `namespaces` (of [`crate::aws::eks::CLUSTER_NAME`]), every page.
async fn read_associations(
    aws: &AwsClients,
    namespaces: &BTreeSet<String>,
) -> Result<BTreeMap<String, (String, String)>, InventoryError> {
    let mut found = BTreeMap::new();
    if !aws.serves_pod_identity() {
        return Ok(found);
    }
    let cluster = crate::aws::eks::CLUSTER_NAME;
    for namespace in namespaces {
        let mut pages = aws
            .eks
            .list_pod_identity_associations()
            .cluster_name(cluster)
            .namespace(namespace)
            .into_paginator()
            .items()
            .send();
        while let Some(summary) = pages.next().await {
            let summary = summary
                .map_err(|e| failed(format!("eks:ListPodIdentityAssociations {namespace}"), e))?;
            let Some(id) = summary.association_id() else {
                continue;
            };
            let role = aws
                .eks
                .describe_pod_identity_association()
                .cluster_name(cluster)
                .association_id(id)
                .send()
                .await
                .map_err(|e| failed(format!("eks:DescribePodIdentityAssociation {id}"), e))?
                .association
                .and_then(|a| a.role_arn)
                .unwrap_or_default();
            let subject = format!(
                "{}/{}",
                summary.namespace().unwrap_or_default(),
                summary.service_account().unwrap_or_default()
            );
            found.insert(subject, (id.to_string(), role));
        }
    }
    Ok(found)
}

type RoleSide = (Option<RoleFacts>, BTreeSet<String>, BTreeMap<String, Value>);

async fn read_role(aws: &AwsClients, name: &str) -> Result<RoleSide, InventoryError> {
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(output) => output.role,
        Err(error) if is_no_such_entity(&error) => None,
        Err(error) => return Err(failed(format!("iam:GetRole {name}"), error)),
    };
    let Some(role) = role else {
        return Ok((None, BTreeSet::new(), BTreeMap::new()));
    };
    let facts = RoleFacts {
        role_id: role.role_id.clone(),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        description: role
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        max_session_duration: role.max_session_duration().map_or(3600, i64::from),
    };
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| failed(format!("iam:ListAttachedRolePolicies {name}"), e))?
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    let names = aws
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| failed(format!("iam:ListRolePolicies {name}"), e))?
        .policy_names;
    let mut inline = BTreeMap::new();
    for policy in names {
        let document = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
            .map_err(|e| failed(format!("iam:GetRolePolicy {name} {policy}"), e))?
            .policy_document;
        inline.insert(policy, parse_document(&document));
    }
    Ok((Some(facts), attached, inline))
}

/// An IAM policy document (URL-encoded or not) as JSON (`Null` when it does not parse).
pub fn parse_document(document: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8_lossy()
        .into_owned();
    serde_json::from_str(&decoded)
        .or_else(|_| serde_json::from_str(document))
        .unwrap_or(Value::Null)
}

fn is_no_such_entity<E>(error: &aws_sdk_iam::error::SdkError<E>) -> bool
where
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    use aws_sdk_iam::error::ProvideErrorMetadata as _;
    error.code() == Some("NoSuchEntity")
}

type KubeSide = (
    BTreeMap<String, (String, BTreeMap<String, String>)>,
    BTreeMap<String, Vec<Rule>>,
    BTreeMap<String, (String, Vec<String>)>,
);

async fn read_labelled(
    kube: &kube::Client,
    namespaces: &BTreeSet<String>,
) -> Result<KubeSide, InventoryError> {
    let params = ListParams::default().labels(MANAGED_BY_LABEL);
    let mut accounts = BTreeMap::new();
    let mut roles = BTreeMap::new();
    let mut bindings = BTreeMap::new();
    for namespace in namespaces {
        let key = |name: &Option<String>| format!("{namespace}/{}", name.as_deref().unwrap_or(""));
        let account_api = Api::<ServiceAccount>::namespaced(kube.clone(), namespace);
        let role_api = Api::<Role>::namespaced(kube.clone(), namespace);
        let binding_api = Api::<RoleBinding>::namespaced(kube.clone(), namespace);
        let (found_accounts, found_roles, found_bindings) = tokio::join!(
            account_api.list(&params),
            role_api.list(&params),
            binding_api.list(&params),
        );
        let what = |kind: &str| format!("list {kind} in {namespace}");
        for account in found_accounts.map_err(|e| failed(what("ServiceAccounts"), e))? {
            accounts.insert(
                key(&account.metadata.name),
                (
                    account.metadata.uid.clone().unwrap_or_default(),
                    account.metadata.labels.clone().unwrap_or_default(),
                ),
            );
        }
        for role in found_roles.map_err(|e| failed(what("Roles"), e))? {
            let rules = role.rules.iter().flatten().map(rule_of).collect();
            roles.insert(key(&role.metadata.name), rules);
        }
        for binding in found_bindings.map_err(|e| failed(what("RoleBindings"), e))? {
            let subjects = binding
                .subjects
                .iter()
                .flatten()
                .map(|s| {
                    format!(
                        "{}:{}/{}",
                        s.kind,
                        s.namespace.as_deref().unwrap_or(""),
                        s.name
                    )
                })
                .collect();
            bindings.insert(
                key(&binding.metadata.name),
                (binding.role_ref.name.clone(), subjects),
            );
        }
    }
    Ok((accounts, roles, bindings))
}

fn rule_of(rule: &PolicyRule) -> Rule {
    (
        rule.api_groups.clone().unwrap_or_default(),
        rule.resources.clone().unwrap_or_default(),
        rule.verbs.clone(),
        rule.resource_names.clone().unwrap_or_default(),
    )
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What exists although the state has no instance at `address`: each of `objects`.
fn untracked(objects: Vec<String>, address: &str) -> Vec<String> {
    objects
        .into_iter()
        .map(|object| format!("{object} exists but the state has no {address}"))
        .collect()
}

/// The ways `state` (the binding's instance in `terraform show -json`, `None` when absent)
/// differs from what exists; empty when the state is exactly truthful.
pub fn binding_state_mismatches(
    state: Option<&StateResource>,
    spec: &BindingSpec,
    found: &BindingInventory,
) -> Vec<String> {
    let Some(state) = state else {
        return untracked(found.objects(), &spec.address());
    };
    let mut wrong = Vec::new();
    let check = |wrong: &mut Vec<String>, ok: bool, text: String| {
        if !ok {
            wrong.push(text);
        }
    };
    let state_role_id = state.str_attr("role_unique_id");
    let real_role_id = found.role.as_ref().map(|r| r.role_id.as_str());
    check(
        &mut wrong,
        state_role_id == real_role_id,
        format!("role_unique_id: state {state_role_id:?}, IAM {real_role_id:?}"),
    );
    if let Some(role) = &found.role {
        let state_attached: BTreeSet<String> = strings(state.attr("managed_policy_arns"))
            .into_iter()
            .collect();
        check(
            &mut wrong,
            state_attached == found.attached,
            format!(
                "managed_policy_arns: state {state_attached:?}, attached {:?}",
                found.attached
            ),
        );
        let state_inline: BTreeMap<String, Value> = string_map(state.attr("inline_policies"))
            .into_iter()
            .map(|(name, document)| (name, parse_document(&document)))
            .collect();
        check(
            &mut wrong,
            state_inline == found.inline,
            format!(
                "inline_policies: state {:?}, IAM {:?}",
                state_inline.keys().collect::<Vec<_>>(),
                found.inline.keys().collect::<Vec<_>>()
            ),
        );
        let real_tags: BTreeMap<String, String> = role
            .tags
            .iter()
            .filter(|(k, _)| !OWNERSHIP_TAGS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let state_tags = string_map(state.attr("tags_all"));
        check(
            &mut wrong,
            state_tags == real_tags,
            format!("tags_all: state {state_tags:?}, IAM {real_tags:?}"),
        );
        let state_description = state.str_attr("role_description").filter(|d| !d.is_empty());
        check(
            &mut wrong,
            state_description == role.description.as_deref(),
            format!(
                "role_description: state {state_description:?}, IAM {:?}",
                role.description
            ),
        );
    }
    let account_key = format!("{}/{SERVICE_ACCOUNT}", spec.namespace);
    let state_uid = state.str_attr("service_account_uid");
    let real_uid = found
        .service_accounts
        .get(&account_key)
        .map(|(uid, _)| uid.as_str());
    check(
        &mut wrong,
        state_uid == real_uid,
        format!("service_account_uid: state {state_uid:?}, Kubernetes {real_uid:?}"),
    );
    if let Some((_, labels)) = found.service_accounts.get(&account_key) {
        for (key, value) in string_map(state.attr("labels")) {
            check(
                &mut wrong,
                labels.get(&key) == Some(&value),
                format!(
                    "label {key}: state {value:?}, Kubernetes {:?}",
                    labels.get(&key)
                ),
            );
        }
    }
    for other in found.service_accounts.keys().filter(|k| **k != account_key) {
        wrong.push(format!(
            "ServiceAccount {other} exists, labelled, and no state knows it"
        ));
    }
    let mut known_roles = BTreeSet::new();
    let mut known_bindings = BTreeSet::new();
    for grant in state.attr("grant").as_array().into_iter().flatten() {
        let namespace = grant["namespace"].as_str().unwrap_or_default();
        let key = format!("{namespace}/{}", spec.rbac_name());
        let state_role = grant["role_name"].as_str();
        let real_rules = found.roles.get(&key);
        check(
            &mut wrong,
            state_role.is_some() == real_rules.is_some(),
            format!(
                "grant {namespace}: role_name {state_role:?}, Role exists: {}",
                real_rules.is_some()
            ),
        );
        if let (Some(_), Some(real_rules)) = (state_role, real_rules) {
            known_roles.insert(key.clone());
            let state_rules: Vec<Rule> = grant["role_rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        strings(&r["api_groups"]),
                        strings(&r["resources"]),
                        strings(&r["verbs"]),
                        strings(&r["resource_names"]),
                    )
                })
                .collect();
            check(
                &mut wrong,
                &state_rules == real_rules,
                format!("grant {namespace}: role_rules differ from the Role's rules"),
            );
        }
        let state_binding = grant["role_binding_name"].as_str();
        let real_binding = found.role_bindings.get(&key);
        check(
            &mut wrong,
            state_binding.is_some() == real_binding.is_some(),
            format!(
                "grant {namespace}: role_binding_name {state_binding:?}, RoleBinding exists: {}",
                real_binding.is_some()
            ),
        );
        if state_binding.is_some() {
            known_bindings.insert(key);
        }
    }
    for untracked in found.roles.keys().filter(|k| !known_roles.contains(*k)) {
        wrong.push(format!(
            "Role {untracked} exists and the state does not know it"
        ));
    }
    for untracked in found
        .role_bindings
        .keys()
        .filter(|k| !known_bindings.contains(*k))
    {
        wrong.push(format!(
            "RoleBinding {untracked} exists and the state does not know it"
        ));
    }
    wrong
}

/// Everything of one cache that exists (the manager role itself belongs to the test).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheInventory {
    /// The inline policy, parsed, if it exists.
    pub policy: Option<Value>,
    /// Whether the bucket exists.
    pub bucket: bool,
    /// Which bucket settings are present (`bucket_policy`, `public_access_block`,
    /// `lifecycle`, `encryption`).
    pub settings: BTreeSet<&'static str>,
}

impl CacheInventory {
    /// Reads what exists of `spec`.
    pub async fn read(aws: &AwsClients, spec: &CacheSpec) -> Result<Self, InventoryError> {
        use aws_sdk_s3::error::ProvideErrorMetadata as _;
        let policy = match aws
            .iam
            .get_role_policy()
            .role_name(&spec.role_name)
            .policy_name(spec.policy_name())
            .send()
            .await
        {
            Ok(output) => Some(parse_document(&output.policy_document)),
            Err(error) if is_no_such_entity(&error) => None,
            Err(error) => return Err(failed("iam:GetRolePolicy", error)),
        };
        let bucket = spec.bucket_name.as_str();
        let exists = match aws.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => true,
            Err(error)
                if error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
            {
                false
            }
            Err(error) => return Err(failed(format!("s3:HeadBucket {bucket}"), error)),
        };
        let mut settings = BTreeSet::new();
        if exists {
            let present = |code: Option<&str>, absent: &str| code != Some(absent);
            let s3 = &aws.s3;
            let (policy_found, block, lifecycle, encryption) = tokio::join!(
                s3.get_bucket_policy().bucket(bucket).send(),
                s3.get_public_access_block().bucket(bucket).send(),
                s3.get_bucket_lifecycle_configuration()
                    .bucket(bucket)
                    .send(),
                s3.get_bucket_encryption().bucket(bucket).send(),
            );
            let outcomes = [
                (
                    "bucket_policy",
                    policy_found.as_ref().err().map(|e| e.code()),
                    "NoSuchBucketPolicy",
                ),
                (
                    "public_access_block",
                    block.as_ref().err().map(|e| e.code()),
                    "NoSuchPublicAccessBlockConfiguration",
                ),
                (
                    "lifecycle",
                    lifecycle.as_ref().err().map(|e| e.code()),
                    "NoSuchLifecycleConfiguration",
                ),
                (
                    "encryption",
                    encryption.as_ref().err().map(|e| e.code()),
                    "ServerSideEncryptionConfigurationNotFoundError",
                ),
            ];
            for (name, error, absent) in outcomes {
                match error {
                    None => {
                        settings.insert(name);
                    }
                    Some(code) if !present(code, absent) => {}
                    Some(code) => {
                        return Err(InventoryError {
                            what: format!("s3 {name} of {bucket}"),
                            message: format!("error code {code:?}"),
                        });
                    }
                }
            }
        }
        Ok(Self {
            policy,
            bucket: exists,
            settings,
        })
    }

    /// Whether neither the policy nor the bucket exists.
    pub fn is_empty(&self) -> bool {
        self.policy.is_none() && !self.bucket
    }

    /// Every object that exists.
    pub fn objects(&self) -> Vec<String> {
        let mut objects = Vec::new();
        if self.policy.is_some() {
            objects.push("inline policy".to_string());
        }
        if self.bucket {
            objects.push("bucket".to_string());
        }
        objects
    }
}

/// The ways `state` differs from what exists of the cache; empty when exactly truthful.
pub fn cache_state_mismatches(
    state: Option<&StateResource>,
    spec: &CacheSpec,
    found: &CacheInventory,
) -> Vec<String> {
    let Some(state) = state else {
        return untracked(found.objects(), &spec.address());
    };
    let mut wrong = Vec::new();
    let state_policy = state.str_attr("policy_document").map(parse_document);
    if state_policy != found.policy {
        wrong.push(format!(
            "policy_document: state {}, IAM {}",
            describe(state_policy.as_ref()),
            describe(found.policy.as_ref())
        ));
    }
    let settings = string_map(state.attr("bucket_settings"));
    let state_bucket = settings
        .get("bucket")
        .is_some_and(|line| line.starts_with("exists"));
    if state_bucket != found.bucket {
        wrong.push(format!(
            "bucket_settings.bucket: state {:?}, bucket exists: {}",
            settings.get("bucket"),
            found.bucket
        ));
    }
    if found.bucket {
        for key in [
            "bucket_policy",
            "public_access_block",
            "lifecycle",
            "encryption",
        ] {
            let Some(line) = settings.get(key) else {
                continue;
            };
            let state_present = line != "none";
            if state_present != found.settings.contains(key) {
                wrong.push(format!(
                    "bucket_settings.{key}: state {line:?}, present: {}",
                    found.settings.contains(key)
                ));
            }
        }
    }
    wrong
}

fn describe(policy: Option<&Value>) -> &'static str {
    if policy.is_some() {
        "present"
    } else {
        "absent"
    }
}
