//! The remote operations the binding needs, as traits (implemented over the real clients in
//! `iam.rs` and `kube.rs`, and in memory for tests), and what it observes of each part.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use tokio_util::sync::CancellationToken;

use crate::aws::AwsError;
use crate::concurrency::Fanout;
use crate::kubernetes::{FIELD_MANAGER, KubeError, ManagedFields};
use crate::retry::Backoff;

use super::model::RbacRule;

/// An IAM role to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Description (empty for none).
    pub description: Option<String>,
    /// Maximum session duration in seconds.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    pub permissions_boundary_arn: Option<String>,
    /// All tags, ownership markers included.
    pub tags: BTreeMap<String, String>,
    /// The trust policy document.
    pub trust_policy: String,
}

/// An IAM role as it exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IamRole {
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Unique id (`AROA...`).
    pub role_id: String,
    /// Description, `None` when empty.
    pub description: Option<String>,
    /// Maximum session duration in seconds.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    pub permissions_boundary_arn: Option<String>,
    /// All tags.
    pub tags: BTreeMap<String, String>,
    /// The trust policy, decoded.
    pub trust_policy: String,
}

/// An IAM OIDC provider, as `GetOpenIDConnectProvider` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProvider {
    /// Its ARN.
    pub arn: String,
    /// Its URL as IAM holds it (AWS returns it without `https://`).
    pub url: String,
    /// The audiences it accepts (`ClientIDList`).
    pub client_ids: Vec<String>,
}

/// IAM, as the binding uses it. "Not found" is an [`AwsError`] of kind `NotFound` except where
/// a method returns `Option`.
#[async_trait]
pub trait Iam: Send + Sync {
    /// `CreateRole`; returns the role as created (what was sent, plus ARN and id).
    async fn create_role(&self, spec: &RoleSpec) -> Result<IamRole, AwsError>;
    /// `GetRole` (tags included).
    async fn get_role(&self, name: &str) -> Result<Option<IamRole>, AwsError>;
    /// `UpdateRole`: description (empty clears it) and maximum session duration.
    async fn update_role(
        &self,
        name: &str,
        description: &str,
        max_session_duration: i64,
    ) -> Result<(), AwsError>;
    /// `UpdateAssumeRolePolicy`.
    async fn update_trust_policy(&self, name: &str, document: &str) -> Result<(), AwsError>;
    /// `PutRolePermissionsBoundary`.
    async fn put_permissions_boundary(&self, name: &str, arn: &str) -> Result<(), AwsError>;
    /// `DeleteRolePermissionsBoundary`.
    async fn delete_permissions_boundary(&self, name: &str) -> Result<(), AwsError>;
    /// `TagRole`.
    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError>;
    /// `UntagRole`.
    async fn untag_role(&self, name: &str, keys: &[String]) -> Result<(), AwsError>;
    /// `AttachRolePolicy`.
    async fn attach_policy(&self, name: &str, policy_arn: &str) -> Result<(), AwsError>;
    /// `DetachRolePolicy`.
    async fn detach_policy(&self, name: &str, policy_arn: &str) -> Result<(), AwsError>;
    /// `ListAttachedRolePolicies`, all pages.
    async fn list_attached_policies(&self, name: &str) -> Result<BTreeSet<String>, AwsError>;
    /// `ListRolePolicies`, all pages.
    async fn list_inline_policies(&self, name: &str) -> Result<BTreeSet<String>, AwsError>;
    /// `GetRolePolicy`, the document decoded; `None` when the role or policy does not exist.
    async fn get_inline_policy(&self, name: &str, policy: &str)
    -> Result<Option<String>, AwsError>;
    /// `PutRolePolicy`.
    async fn put_inline_policy(
        &self,
        name: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), AwsError>;
    /// `DeleteRolePolicy`.
    async fn delete_inline_policy(&self, name: &str, policy: &str) -> Result<(), AwsError>;
    /// `DeleteRole`.
    async fn delete_role(&self, name: &str) -> Result<(), AwsError>;
    /// `GetOpenIDConnectProvider`; `None` when no provider has that ARN.
    async fn get_oidc_provider(&self, arn: &str) -> Result<Option<OidcProvider>, AwsError>;
}

/// An EKS Pod Identity association to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssociationSpec {
    /// The cluster's name.
    pub cluster: String,
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The role.
    pub role_arn: String,
    /// Tags (the ownership markers and the provider's default tags).
    pub tags: BTreeMap<String, String>,
}

/// An EKS Pod Identity association as it exists (`DescribePodIdentityAssociation`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Association {
    /// The cluster's name.
    pub cluster: String,
    /// `associationId`.
    pub id: String,
    /// `associationArn`.
    pub arn: String,
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The role it gives the ServiceAccount.
    pub role_arn: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// EKS, as the binding uses it: the Pod Identity associations of one cluster (EKS API
/// reference, <https://docs.aws.amazon.com/eks/latest/APIReference/API_Operations.html>).
/// An unknown cluster or association is an [`AwsError`] of kind `NotFound` except where a
/// method returns `Option`; an association that exists already for the ServiceAccount
/// (`ResourceInUseException`) is of kind `AlreadyExists`.
#[async_trait]
pub trait Eks: Send + Sync {
    /// `CreatePodIdentityAssociation`.
    async fn create_association(&self, spec: &AssociationSpec) -> Result<Association, AwsError>;
    /// `DescribePodIdentityAssociation`; `None` when the association does not exist.
    async fn describe_association(
        &self,
        cluster: &str,
        id: &str,
    ) -> Result<Option<Association>, AwsError>;
    /// `ListPodIdentityAssociations` for one ServiceAccount, all pages: the association ids.
    async fn list_associations(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Vec<String>, AwsError>;
    /// `UpdatePodIdentityAssociation`: points the association at `role_arn`.
    async fn update_association(
        &self,
        cluster: &str,
        id: &str,
        role_arn: &str,
    ) -> Result<Association, AwsError>;
    /// `DeletePodIdentityAssociation`.
    async fn delete_association(&self, cluster: &str, id: &str) -> Result<(), AwsError>;
}

/// STS, as `verify` uses it.
#[async_trait]
pub trait Sts: Send + Sync {
    /// `AssumeRoleWithWebIdentity`; returns the assumed-role ARN.
    async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        token: &str,
        session_name: &str,
    ) -> Result<String, AwsError>;
}

/// Kubernetes, as the binding uses it.
#[async_trait]
pub trait Kube: Send + Sync {
    /// Creates a ServiceAccount (`AlreadyExists` when the name is taken).
    async fn create_service_account(
        &self,
        account: &ServiceAccount,
    ) -> Result<ServiceAccount, KubeError>;
    /// Reads a ServiceAccount.
    async fn get_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServiceAccount>, KubeError>;
    /// Merge-patches a ServiceAccount.
    async fn patch_service_account(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<ServiceAccount, KubeError>;
    /// Server-side applies the binding's fields of a ServiceAccount; without `force`, fields
    /// another manager owns with other values are a `Conflict` listing them.
    async fn apply_service_account(
        &self,
        namespace: &str,
        name: &str,
        intent: &serde_json::Value,
        force: bool,
    ) -> Result<ServiceAccount, KubeError>;
    /// Merge-patches a ServiceAccount as the field manager `manager` (gives a taken-over field
    /// back to its manager).
    async fn patch_service_account_as(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
        manager: &str,
    ) -> Result<ServiceAccount, KubeError>;
    /// Deletes a ServiceAccount if its uid is `uid`; `Ok(false)` when already gone.
    async fn delete_service_account(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<bool, KubeError>;
    /// Creates a Role.
    async fn create_role(&self, role: &Role) -> Result<Role, KubeError>;
    /// Reads a Role.
    async fn get_role(&self, namespace: &str, name: &str) -> Result<Option<Role>, KubeError>;
    /// Replaces a Role.
    async fn replace_role(&self, role: &Role) -> Result<Role, KubeError>;
    /// Deletes a Role; `Ok(false)` when already gone.
    async fn delete_role(&self, namespace: &str, name: &str) -> Result<bool, KubeError>;
    /// Creates a RoleBinding.
    async fn create_role_binding(&self, binding: &RoleBinding) -> Result<RoleBinding, KubeError>;
    /// Reads a RoleBinding.
    async fn get_role_binding(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<RoleBinding>, KubeError>;
    /// Replaces a RoleBinding (its roleRef cannot change).
    async fn replace_role_binding(&self, binding: &RoleBinding) -> Result<RoleBinding, KubeError>;
    /// Deletes a RoleBinding; `Ok(false)` when already gone.
    async fn delete_role_binding(&self, namespace: &str, name: &str) -> Result<bool, KubeError>;
    /// Lists RoleBindings in every namespace carrying `label=value`.
    async fn list_role_bindings(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<RoleBinding>, KubeError>;
    /// Reads a non-resource path as JSON (the JWKS at `/openid/v1/jwks`); `None` on 404.
    async fn get_json(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<Option<serde_json::Value>, KubeError>;
    /// Mints a token for a ServiceAccount (TokenRequest).
    async fn create_token(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        expiration_seconds: i64,
    ) -> Result<String, KubeError>;
}

/// Everything one operation talks to, and how.
pub struct Remote<'a> {
    /// IAM.
    pub iam: &'a dyn Iam,
    /// STS.
    pub sts: &'a dyn Sts,
    /// Kubernetes.
    pub kube: &'a dyn Kube,
    /// EKS (Pod Identity associations).
    pub eks: &'a dyn Eks,
    /// Concurrent or serial fan-out.
    pub fanout: Fanout,
    /// `StopProvider`.
    pub cancel: CancellationToken,
    /// How long to wait for IAM to see a new principal, and for `verify` by default.
    pub propagation: Backoff,
    /// The provider's `default_tags` (read tells them apart from the resource's own tags).
    pub default_tags: BTreeMap<String, String>,
}

impl Remote<'_> {
    /// The backoff `verify` uses for a timeout of `seconds`.
    pub fn verify_backoff(&self, seconds: Option<i64>) -> Backoff {
        let deadline = seconds.map_or(self.propagation.deadline, |s| {
            Duration::from_secs(s.max(0) as u64)
        });
        Backoff::new(self.propagation.initial, self.propagation.max, deadline)
    }
}

/// A ServiceAccount as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedServiceAccount {
    /// uid.
    pub uid: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// `automountServiceAccountToken`.
    pub automount: Option<bool>,
    /// What this provider's field manager owns of it (`None`: the server did not say).
    pub owned: Option<ManagedFields>,
}

impl ObservedServiceAccount {
    /// Reads what the binding cares about.
    pub fn from_object(account: &ServiceAccount) -> ObservedServiceAccount {
        ObservedServiceAccount {
            uid: account.metadata.uid.clone().unwrap_or_default(),
            labels: account.metadata.labels.clone().unwrap_or_default(),
            annotations: account.metadata.annotations.clone().unwrap_or_default(),
            automount: account.automount_service_account_token,
            owned: ManagedFields::of(&account.metadata, FIELD_MANAGER),
        }
    }
}

/// A Role as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRbacRole {
    /// Name.
    pub name: String,
    /// Rules.
    pub rules: Vec<RbacRule>,
    /// Annotations (ownership).
    pub annotations: BTreeMap<String, String>,
}

impl ObservedRbacRole {
    /// Reads what the binding cares about.
    pub fn from_object(role: &Role) -> ObservedRbacRole {
        ObservedRbacRole {
            name: role.metadata.name.clone().unwrap_or_default(),
            rules: role
                .rules
                .iter()
                .flatten()
                .map(|rule| RbacRule {
                    api_groups: rule.api_groups.clone().unwrap_or_default(),
                    resources: rule.resources.clone().unwrap_or_default(),
                    verbs: rule.verbs.clone(),
                    resource_names: rule.resource_names.clone().unwrap_or_default(),
                })
                .collect(),
            annotations: role.metadata.annotations.clone().unwrap_or_default(),
        }
    }
}

/// A RoleBinding as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRoleBinding {
    /// Name.
    pub name: String,
    /// `roleRef.kind` and `roleRef.name`.
    pub role_ref: (String, String),
    /// Subjects as (kind, namespace, name).
    pub subjects: Vec<(String, String, String)>,
    /// Annotations (ownership).
    pub annotations: BTreeMap<String, String>,
}

impl ObservedRoleBinding {
    /// Reads what the binding cares about.
    pub fn from_object(binding: &RoleBinding) -> ObservedRoleBinding {
        ObservedRoleBinding {
            name: binding.metadata.name.clone().unwrap_or_default(),
            role_ref: (binding.role_ref.kind.clone(), binding.role_ref.name.clone()),
            subjects: binding
                .subjects
                .iter()
                .flatten()
                .map(|s| {
                    (
                        s.kind.clone(),
                        s.namespace.clone().unwrap_or_default(),
                        s.name.clone(),
                    )
                })
                .collect(),
            annotations: binding.metadata.annotations.clone().unwrap_or_default(),
        }
    }

    /// Whether it binds exactly the ServiceAccount `namespace/name` to the Role `role`.
    pub fn binds(&self, namespace: &str, name: &str, role: &str) -> bool {
        self.role_ref == ("Role".to_string(), role.to_string())
            && self.subjects
                == [(
                    "ServiceAccount".to_string(),
                    namespace.to_string(),
                    name.to_string(),
                )]
    }
}

/// The Role and RoleBinding of one grant namespace, as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedGrant {
    /// The Role, when it exists (and is the binding's).
    pub role: Option<ObservedRbacRole>,
    /// The RoleBinding, when it exists (and is the binding's).
    pub binding: Option<ObservedRoleBinding>,
}

/// Everything observed of a binding; absent parts are missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The IAM role.
    pub role: Option<IamRole>,
    /// Managed policies attached to the role.
    pub attached: BTreeSet<String>,
    /// Inline policies read (name to decoded document).
    pub inline: BTreeMap<String, String>,
    /// The ServiceAccount.
    pub service_account: Option<ObservedServiceAccount>,
    /// Per grant namespace.
    pub grants: BTreeMap<String, ObservedGrant>,
    /// The Pod Identity association, when it exists and gives the binding's role to its
    /// ServiceAccount.
    pub association: Option<Association>,
}

impl Observed {
    /// Adds what `done` says exists now (objects an apply created) over this observation.
    pub fn overlay(&mut self, done: Observed) {
        if done.role.is_some() {
            self.role = done.role;
        }
        self.attached.extend(done.attached);
        self.inline.extend(done.inline);
        if done.service_account.is_some() {
            self.service_account = done.service_account;
        }
        if done.association.is_some() {
            self.association = done.association;
        }
        for (namespace, grant) in done.grants {
            let known = self.grants.entry(namespace).or_default();
            if grant.role.is_some() {
                known.role = grant.role;
            }
            if grant.binding.is_some() {
                known.binding = grant.binding;
            }
        }
    }

    /// Whether nothing of the binding exists.
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.service_account.is_none()
            && self.association.is_none()
            && self
                .grants
                .values()
                .all(|g| g.role.is_none() && g.binding.is_none())
    }
}
