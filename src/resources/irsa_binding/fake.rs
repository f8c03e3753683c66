//! An in-memory IAM, STS and Kubernetes for the orchestration tests: the semantics the binding
//! relies on (conflicts, not-found, DeleteConflict, roleRef immutability, uid preconditions),
//! a call log, injected failures, and a fixed latency per call so that tests running on
//! tokio's paused clock can measure the critical path in round trips.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use crate::aws::{AwsError, AwsErrorKind};
use crate::kubernetes::KubeError;

use super::remote::{
    Association, AssociationSpec, Eks, Iam, IamRole, Kube, OidcProvider, RoleSpec, Sts,
};
use super::testing::OIDC;
use super::trust;
use super::verify::JWKS_PATH;

/// The issuer of the fake cluster's tokens: the URL of [`OIDC`].
pub const ISSUER: &str = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";

/// Two RSA keys, made once per test process: the fake cluster's and "another cluster's".
fn keys() -> &'static [aws_lc_rs::rsa::KeyPair; 2] {
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    static KEYS: std::sync::OnceLock<[KeyPair; 2]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        [0, 1].map(|_| KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
    })
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An RS256 JWT signed with key `key` (kid "fake").
fn sign(key: usize, claims: &serde_json::Value) -> String {
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;
    let input = format!(
        "{}.{}",
        b64(serde_json::json!({"alg": "RS256", "kid": "fake"}).to_string()),
        b64(claims.to_string())
    );
    let pair = &keys()[key];
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing");
    format!("{input}.{}", b64(signature))
}

/// The JWKS of key `key`.
fn jwks(key: usize) -> serde_json::Value {
    use aws_lc_rs::signature::KeyPair as _;
    let public = keys()[key].public_key();
    serde_json::json!({"keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "fake",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    }]})
}

/// The EKS cluster the fake knows (its Pod Identity associations live in the fake too).
pub const CLUSTER: &str = "gitlabrunner-acc";

/// The latency of every fake call.
pub const LATENCY: Duration = Duration::from_millis(100);

/// A failure to inject: the next call whose name starts with `call` fails this way.
#[derive(Clone, Debug)]
pub enum Fault {
    /// An AWS error of this kind and message.
    Aws(AwsErrorKind, &'static str),
    /// A Kubernetes error with this status and reason.
    Kube(u16, &'static str),
}

#[derive(Debug, Default)]
struct FakeRole {
    role: IamRole,
    attached: BTreeSet<String>,
    inline: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct World {
    roles: BTreeMap<String, FakeRole>,
    accounts: BTreeMap<(String, String), ServiceAccount>,
    rbac_roles: BTreeMap<(String, String), Role>,
    bindings: BTreeMap<(String, String), RoleBinding>,
    namespaces: BTreeSet<String>,
    faults: Vec<(String, Fault, u32)>,
    calls: Vec<String>,
    next_id: u64,
    oidc_providers: BTreeMap<String, OidcProvider>,
    /// EKS clusters that exist.
    clusters: BTreeSet<String>,
    /// Pod Identity associations by id.
    associations: BTreeMap<String, Association>,
    /// The `iss` of minted tokens.
    issuer: String,
    /// The key that signs tokens (the JWKS always serves key 0).
    signing_key: usize,
    /// Lifetime of minted tokens; `None`: as requested.
    token_seconds: Option<i64>,
}

/// The fake cloud and cluster.
#[derive(Debug, Default)]
pub struct Fake {
    world: Mutex<World>,
}

fn aws(op: &'static str, kind: AwsErrorKind, message: impl Into<String>) -> AwsError {
    AwsError::new(op, kind, message)
}

/// What the server records for the applier: the keys of `owned` (`a:KEY`, `l:KEY`,
/// `automount`) as one `Apply` entry of the provider's field manager.
fn managed_fields_entry(
    owned: &[String],
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    let set = |prefix: &str| -> serde_json::Map<String, serde_json::Value> {
        owned
            .iter()
            .filter_map(|k| k.strip_prefix(prefix))
            .map(|k| (format!("f:{k}"), serde_json::json!({})))
            .collect()
    };
    let mut fields = serde_json::json!({"f:metadata": {
        "f:annotations": set("a:"),
        "f:labels": set("l:"),
    }});
    if owned.iter().any(|k| k == "automount") {
        fields["f:automountServiceAccountToken"] = serde_json::json!({});
    }
    ManagedFieldsEntry {
        manager: Some(crate::kubernetes::FIELD_MANAGER.to_string()),
        operation: Some("Apply".to_string()),
        fields_type: Some("FieldsV1".to_string()),
        fields_v1: Some(FieldsV1(fields)),
        ..ManagedFieldsEntry::default()
    }
}

fn kube_error(op: String, status: u16, reason: &str, message: impl Into<String>) -> KubeError {
    KubeError::from_response(op, status, Some(reason.to_string()), message.into(), None)
}

impl Fake {
    /// A fake with these namespaces.
    pub fn with_namespaces(namespaces: &[&str]) -> Fake {
        let fake = Fake::default();
        {
            let mut world = fake.world.lock().unwrap();
            world.namespaces = namespaces.iter().map(|n| n.to_string()).collect();
            world.issuer = ISSUER.to_string();
            world.clusters.insert(CLUSTER.to_string());
            world.oidc_providers.insert(
                OIDC.to_string(),
                OidcProvider {
                    arn: OIDC.to_string(),
                    url: ISSUER.trim_start_matches("https://").to_string(),
                    client_ids: vec!["sts.amazonaws.com".to_string()],
                },
            );
        }
        fake
    }

    /// Makes the next `times` calls whose name starts with `call` fail.
    pub fn fail(&self, call: &str, fault: Fault, times: u32) {
        self.world
            .lock()
            .unwrap()
            .faults
            .push((call.to_string(), fault, times));
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.world.lock().unwrap().calls.clone()
    }

    /// Names of every object that exists, for "nothing left" assertions.
    pub fn inventory(&self) -> Vec<String> {
        let world = self.world.lock().unwrap();
        let mut all = Vec::new();
        for (name, role) in &world.roles {
            all.push(format!("iam role {name}"));
            all.extend(role.attached.iter().map(|a| format!("attached {a}")));
            all.extend(role.inline.keys().map(|p| format!("inline {p}")));
        }
        all.extend(
            world
                .accounts
                .keys()
                .map(|(n, s)| format!("serviceaccount {n}/{s}")),
        );
        all.extend(
            world
                .rbac_roles
                .keys()
                .map(|(n, s)| format!("role {n}/{s}")),
        );
        all.extend(
            world
                .bindings
                .keys()
                .map(|(n, s)| format!("rolebinding {n}/{s}")),
        );
        all.extend(world.associations.values().map(|a| {
            format!(
                "association {}/{}/{}",
                a.cluster, a.namespace, a.service_account
            )
        }));
        all
    }

    /// Runs `f` on the world (tests change things "outside Terraform" with it).
    pub fn edit<T>(&self, f: impl FnOnce(&mut FakeWorld<'_>) -> T) -> T {
        let mut world = self.world.lock().unwrap();
        f(&mut FakeWorld { world: &mut world })
    }

    /// Waits one latency, logs the call and returns the injected fault, if any.
    async fn call(&self, name: String) -> Option<Fault> {
        tokio::time::sleep(LATENCY).await;
        let mut world = self.world.lock().unwrap();
        world.calls.push(name.clone());
        let index = world
            .faults
            .iter()
            .position(|(prefix, _, times)| *times > 0 && name.starts_with(prefix.as_str()))?;
        let (_, fault, times) = &mut world.faults[index];
        *times -= 1;
        Some(fault.clone())
    }

    async fn aws_call(&self, op: &'static str, target: &str) -> Result<(), AwsError> {
        match self.call(format!("{op} {target}")).await {
            Some(Fault::Aws(kind, message)) => Err(aws(op, kind, message)),
            Some(Fault::Kube(..)) => panic!("a Kubernetes fault on an IAM call"),
            None => Ok(()),
        }
    }

    async fn kube_call(&self, op: String) -> Result<(), KubeError> {
        match self.call(op.clone()).await {
            Some(Fault::Kube(status, reason)) => Err(kube_error(
                op,
                status,
                reason,
                format!("injected {status} {reason}"),
            )),
            Some(Fault::Aws(..)) => panic!("an AWS fault on a Kubernetes call"),
            None => Ok(()),
        }
    }
}

/// Direct access to the fake's objects.
pub struct FakeWorld<'a> {
    world: &'a mut World,
}

impl FakeWorld<'_> {
    /// The Pod Identity associations, by id.
    pub fn associations(&mut self) -> &mut BTreeMap<String, Association> {
        &mut self.world.associations
    }

    /// Creates an association outside Terraform (another tool's, or a leftover); returns its id.
    pub fn add_association(
        &mut self,
        namespace: &str,
        service_account: &str,
        role_arn: &str,
        tags: BTreeMap<String, String>,
    ) -> String {
        self.world.next_id += 1;
        let id = format!("a-{:017}", self.world.next_id);
        self.world.associations.insert(
            id.clone(),
            Association {
                cluster: CLUSTER.to_string(),
                id: id.clone(),
                arn: association_arn(CLUSTER, &id),
                namespace: namespace.to_string(),
                service_account: service_account.to_string(),
                role_arn: role_arn.to_string(),
                tags,
            },
        );
        id
    }
}

fn association_arn(cluster: &str, id: &str) -> String {
    format!("arn:aws:eks:us-east-1:123456789012:podidentityassociation/{cluster}/{id}")
}

impl Fake {
    fn known_cluster(&self, op: &'static str, cluster: &str) -> Result<(), AwsError> {
        if self.world.lock().unwrap().clusters.contains(cluster) {
            Ok(())
        } else {
            Err(aws(
                op,
                AwsErrorKind::NotFound,
                format!("No cluster found for name: {cluster}."),
            ))
        }
    }
}

/// The semantics of the EKS API reference that the binding relies on: one association per
/// (cluster, namespace, ServiceAccount), `ResourceInUseException` for a second,
/// `ResourceNotFoundException` for an unknown cluster or association.
#[async_trait]
impl Eks for Fake {
    async fn create_association(&self, spec: &AssociationSpec) -> Result<Association, AwsError> {
        const OP: &str = "eks:CreatePodIdentityAssociation";
        let target = format!(
            "{}/{}/{}",
            spec.cluster, spec.namespace, spec.service_account
        );
        self.aws_call(OP, &target).await?;
        self.known_cluster(OP, &spec.cluster)?;
        let mut world = self.world.lock().unwrap();
        let taken = world.associations.values().any(|a| {
            a.cluster == spec.cluster
                && a.namespace == spec.namespace
                && a.service_account == spec.service_account
        });
        if taken {
            let mut error = aws(
                OP,
                AwsErrorKind::AlreadyExists,
                "Association already exists",
            );
            error.code = Some("ResourceInUseException".to_string());
            return Err(error);
        }
        world.next_id += 1;
        let id = format!("a-{:017}", world.next_id);
        let association = Association {
            cluster: spec.cluster.clone(),
            id: id.clone(),
            arn: association_arn(&spec.cluster, &id),
            namespace: spec.namespace.clone(),
            service_account: spec.service_account.clone(),
            role_arn: spec.role_arn.clone(),
            tags: spec.tags.clone(),
        };
        world.associations.insert(id, association.clone());
        Ok(association)
    }

    async fn describe_association(
        &self,
        cluster: &str,
        id: &str,
    ) -> Result<Option<Association>, AwsError> {
        const OP: &str = "eks:DescribePodIdentityAssociation";
        self.aws_call(OP, &format!("{cluster}/{id}")).await?;
        self.known_cluster(OP, cluster)?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .associations
            .get(id)
            .filter(|a| a.cluster == cluster)
            .cloned())
    }

    async fn list_associations(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Vec<String>, AwsError> {
        const OP: &str = "eks:ListPodIdentityAssociations";
        self.aws_call(OP, &format!("{cluster}/{namespace}/{service_account}"))
            .await?;
        self.known_cluster(OP, cluster)?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .associations
            .values()
            .filter(|a| {
                a.cluster == cluster
                    && a.namespace == namespace
                    && a.service_account == service_account
            })
            .map(|a| a.id.clone())
            .collect())
    }

    async fn update_association(
        &self,
        cluster: &str,
        id: &str,
        role_arn: &str,
    ) -> Result<Association, AwsError> {
        const OP: &str = "eks:UpdatePodIdentityAssociation";
        self.aws_call(OP, &format!("{cluster}/{id}")).await?;
        self.known_cluster(OP, cluster)?;
        let mut world = self.world.lock().unwrap();
        let association = world
            .associations
            .get_mut(id)
            .filter(|a| a.cluster == cluster)
            .ok_or_else(|| aws(OP, AwsErrorKind::NotFound, "Association not found"))?;
        association.role_arn = role_arn.to_string();
        Ok(association.clone())
    }

    async fn delete_association(&self, cluster: &str, id: &str) -> Result<(), AwsError> {
        const OP: &str = "eks:DeletePodIdentityAssociation";
        self.aws_call(OP, &format!("{cluster}/{id}")).await?;
        self.known_cluster(OP, cluster)?;
        let mut world = self.world.lock().unwrap();
        match world.associations.get(id) {
            Some(a) if a.cluster == cluster => {
                world.associations.remove(id);
                Ok(())
            }
            _ => Err(aws(OP, AwsErrorKind::NotFound, "Association not found")),
        }
    }
}

impl FakeWorld<'_> {
    /// Sets the `iss` of the tokens the cluster mints.
    pub fn set_issuer(&mut self, issuer: &str) {
        self.world.issuer = issuer.to_string();
    }

    /// Tokens are signed with another cluster's key from now on.
    pub fn sign_with_another_key(&mut self) {
        self.world.signing_key = 1;
    }

    /// Tokens are minted with this lifetime (negative: already expired).
    pub fn set_token_seconds(&mut self, seconds: i64) {
        self.world.token_seconds = Some(seconds);
    }

    /// The OIDC providers IAM knows, by ARN.
    pub fn oidc_providers(&mut self) -> &mut BTreeMap<String, OidcProvider> {
        &mut self.world.oidc_providers
    }

    /// Deletes a role (and its policies) as if done outside Terraform.
    pub fn delete_role(&mut self, name: &str) {
        self.world.roles.remove(name);
    }

    /// The role's attached policies.
    pub fn attached(&mut self, name: &str) -> Option<&mut BTreeSet<String>> {
        self.world.roles.get_mut(name).map(|r| &mut r.attached)
    }

    /// The role's inline policies.
    pub fn inline(&mut self, name: &str) -> Option<&mut BTreeMap<String, String>> {
        self.world.roles.get_mut(name).map(|r| &mut r.inline)
    }

    /// The role itself.
    pub fn role(&mut self, name: &str) -> Option<&mut IamRole> {
        self.world.roles.get_mut(name).map(|r| &mut r.role)
    }

    /// A ServiceAccount.
    pub fn account(&mut self, namespace: &str, name: &str) -> Option<&mut ServiceAccount> {
        self.world
            .accounts
            .get_mut(&(namespace.to_string(), name.to_string()))
    }

    /// Puts a ServiceAccount in place (someone else's).
    pub fn put_account(&mut self, account: ServiceAccount) {
        let key = (
            account.metadata.namespace.clone().unwrap_or_default(),
            account.metadata.name.clone().unwrap_or_default(),
        );
        self.world.accounts.insert(key, account);
    }

    /// Deletes a ServiceAccount.
    pub fn delete_account(&mut self, namespace: &str, name: &str) {
        self.world
            .accounts
            .remove(&(namespace.to_string(), name.to_string()));
    }

    /// A Role.
    pub fn rbac_role(&mut self, namespace: &str, name: &str) -> Option<&mut Role> {
        self.world
            .rbac_roles
            .get_mut(&(namespace.to_string(), name.to_string()))
    }

    /// Deletes a Role.
    pub fn delete_rbac_role(&mut self, namespace: &str, name: &str) {
        self.world
            .rbac_roles
            .remove(&(namespace.to_string(), name.to_string()));
    }

    /// A RoleBinding.
    pub fn binding(&mut self, namespace: &str, name: &str) -> Option<&mut RoleBinding> {
        self.world
            .bindings
            .get_mut(&(namespace.to_string(), name.to_string()))
    }

    /// Deletes a RoleBinding.
    pub fn delete_binding(&mut self, namespace: &str, name: &str) {
        self.world
            .bindings
            .remove(&(namespace.to_string(), name.to_string()));
    }
}

#[async_trait]
impl Iam for Fake {
    async fn create_role(&self, spec: &RoleSpec) -> Result<IamRole, AwsError> {
        self.aws_call("iam:CreateRole", &spec.name).await?;
        let mut world = self.world.lock().unwrap();
        if world.roles.contains_key(&spec.name) {
            return Err(aws(
                "iam:CreateRole",
                AwsErrorKind::AlreadyExists,
                format!("Role with name {} already exists.", spec.name),
            ));
        }
        world.next_id += 1;
        let role = IamRole {
            name: spec.name.clone(),
            path: spec.path.clone(),
            arn: format!("arn:aws:iam::123456789012:role{}{}", spec.path, spec.name),
            role_id: format!("AROA{:08}", world.next_id),
            description: spec.description.clone().filter(|d| !d.is_empty()),
            max_session_duration: spec.max_session_duration,
            permissions_boundary_arn: spec.permissions_boundary_arn.clone(),
            tags: spec.tags.clone(),
            trust_policy: spec.trust_policy.clone(),
        };
        world.roles.insert(
            spec.name.clone(),
            FakeRole {
                role: role.clone(),
                ..FakeRole::default()
            },
        );
        Ok(role)
    }

    async fn get_role(&self, name: &str) -> Result<Option<IamRole>, AwsError> {
        self.aws_call("iam:GetRole", name).await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .roles
            .get(name)
            .map(|r| r.role.clone()))
    }

    async fn update_role(
        &self,
        name: &str,
        description: &str,
        seconds: i64,
    ) -> Result<(), AwsError> {
        self.aws_call("iam:UpdateRole", name).await?;
        let mut world = self.world.lock().unwrap();
        let role = &mut with_role(&mut world, "iam:UpdateRole", name)?.role;
        role.description = Some(description.to_string()).filter(|d| !d.is_empty());
        role.max_session_duration = seconds;
        Ok(())
    }

    async fn update_trust_policy(&self, name: &str, document: &str) -> Result<(), AwsError> {
        self.aws_call("iam:UpdateAssumeRolePolicy", name).await?;
        let mut world = self.world.lock().unwrap();
        with_role(&mut world, "iam:UpdateAssumeRolePolicy", name)?
            .role
            .trust_policy = document.to_string();
        Ok(())
    }

    async fn put_permissions_boundary(&self, name: &str, arn: &str) -> Result<(), AwsError> {
        self.aws_call("iam:PutRolePermissionsBoundary", name)
            .await?;
        let mut world = self.world.lock().unwrap();
        with_role(&mut world, "iam:PutRolePermissionsBoundary", name)?
            .role
            .permissions_boundary_arn = Some(arn.to_string());
        Ok(())
    }

    async fn delete_permissions_boundary(&self, name: &str) -> Result<(), AwsError> {
        self.aws_call("iam:DeleteRolePermissionsBoundary", name)
            .await?;
        let mut world = self.world.lock().unwrap();
        with_role(&mut world, "iam:DeleteRolePermissionsBoundary", name)?
            .role
            .permissions_boundary_arn = None;
        Ok(())
    }

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.aws_call("iam:TagRole", name).await?;
        let mut world = self.world.lock().unwrap();
        with_role(&mut world, "iam:TagRole", name)?
            .role
            .tags
            .extend(tags.clone());
        Ok(())
    }

    async fn untag_role(&self, name: &str, keys: &[String]) -> Result<(), AwsError> {
        self.aws_call("iam:UntagRole", name).await?;
        let mut world = self.world.lock().unwrap();
        let role = with_role(&mut world, "iam:UntagRole", name)?;
        for key in keys {
            role.role.tags.remove(key);
        }
        Ok(())
    }

    async fn attach_policy(&self, name: &str, arn: &str) -> Result<(), AwsError> {
        self.aws_call("iam:AttachRolePolicy", &format!("{name} {arn}"))
            .await?;
        let mut world = self.world.lock().unwrap();
        if arn.contains("does-not-exist") {
            return Err(aws(
                "iam:AttachRolePolicy",
                AwsErrorKind::NotFound,
                format!("Policy {arn} does not exist or is not attachable."),
            ));
        }
        with_role(&mut world, "iam:AttachRolePolicy", name)?
            .attached
            .insert(arn.to_string());
        Ok(())
    }

    async fn detach_policy(&self, name: &str, arn: &str) -> Result<(), AwsError> {
        self.aws_call("iam:DetachRolePolicy", &format!("{name} {arn}"))
            .await?;
        let mut world = self.world.lock().unwrap();
        let role = with_role(&mut world, "iam:DetachRolePolicy", name)?;
        if !role.attached.remove(arn) {
            return Err(aws(
                "iam:DetachRolePolicy",
                AwsErrorKind::NotFound,
                "not attached",
            ));
        }
        Ok(())
    }

    async fn list_attached_policies(&self, name: &str) -> Result<BTreeSet<String>, AwsError> {
        self.aws_call("iam:ListAttachedRolePolicies", name).await?;
        let mut world = self.world.lock().unwrap();
        Ok(with_role(&mut world, "iam:ListAttachedRolePolicies", name)?
            .attached
            .clone())
    }

    async fn list_inline_policies(&self, name: &str) -> Result<BTreeSet<String>, AwsError> {
        self.aws_call("iam:ListRolePolicies", name).await?;
        let mut world = self.world.lock().unwrap();
        Ok(with_role(&mut world, "iam:ListRolePolicies", name)?
            .inline
            .keys()
            .cloned()
            .collect())
    }

    async fn get_inline_policy(
        &self,
        name: &str,
        policy: &str,
    ) -> Result<Option<String>, AwsError> {
        self.aws_call("iam:GetRolePolicy", &format!("{name} {policy}"))
            .await?;
        let world = self.world.lock().unwrap();
        Ok(world
            .roles
            .get(name)
            .and_then(|r| r.inline.get(policy).cloned()))
    }

    async fn put_inline_policy(
        &self,
        name: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.aws_call("iam:PutRolePolicy", &format!("{name} {policy}"))
            .await?;
        let mut world = self.world.lock().unwrap();
        with_role(&mut world, "iam:PutRolePolicy", name)?
            .inline
            .insert(policy.to_string(), document.to_string());
        Ok(())
    }

    async fn delete_inline_policy(&self, name: &str, policy: &str) -> Result<(), AwsError> {
        self.aws_call("iam:DeleteRolePolicy", &format!("{name} {policy}"))
            .await?;
        let mut world = self.world.lock().unwrap();
        let role = with_role(&mut world, "iam:DeleteRolePolicy", name)?;
        role.inline.remove(policy).map(drop).ok_or_else(|| {
            aws(
                "iam:DeleteRolePolicy",
                AwsErrorKind::NotFound,
                "no such policy",
            )
        })
    }

    async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        self.aws_call("iam:DeleteRole", name).await?;
        let mut world = self.world.lock().unwrap();
        let role = with_role(&mut world, "iam:DeleteRole", name)?;
        if !role.attached.is_empty() || !role.inline.is_empty() {
            return Err(aws(
                "iam:DeleteRole",
                AwsErrorKind::Conflict,
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        world.roles.remove(name);
        Ok(())
    }

    async fn get_oidc_provider(&self, arn: &str) -> Result<Option<OidcProvider>, AwsError> {
        self.aws_call("iam:GetOpenIDConnectProvider", arn).await?;
        Ok(self.world.lock().unwrap().oidc_providers.get(arn).cloned())
    }
}

fn with_role<'a>(
    world: &'a mut World,
    op: &'static str,
    name: &str,
) -> Result<&'a mut FakeRole, AwsError> {
    world.roles.get_mut(name).ok_or_else(|| {
        aws(
            op,
            AwsErrorKind::NotFound,
            format!("The role with name {name} cannot be found."),
        )
    })
}

#[async_trait]
impl Sts for Fake {
    async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        token: &str,
        session: &str,
    ) -> Result<String, AwsError> {
        self.aws_call("sts:AssumeRoleWithWebIdentity", role_arn)
            .await?;
        let world = self.world.lock().unwrap();
        let denied = || {
            aws(
                "sts:AssumeRoleWithWebIdentity",
                AwsErrorKind::AccessDenied,
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            )
        };
        let role = world
            .roles
            .values()
            .find(|r| r.role.arn == role_arn)
            .ok_or_else(denied)?;
        let admitted = trust::admits(&role.role.trust_policy).ok_or_else(denied)?;
        let claims = crate::jwt::UnverifiedToken::parse(token)
            .map_err(|_| denied())?
            .claims;
        let (sub, aud) = (claims.subject(), claims.audiences());
        if admitted.subject.as_deref() != sub
            || !aud.iter().any(|a| admitted.audience.as_deref() == Some(a))
        {
            return Err(denied());
        }
        Ok(format!(
            "arn:aws:sts::123456789012:assumed-role/{}/{session}",
            role.role.name
        ))
    }
}

fn key(namespace: &str, name: &str) -> (String, String) {
    (namespace.to_string(), name.to_string())
}

fn meta_key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    key(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl Fake {
    fn check_namespace(&self, op: &str, namespace: &str) -> Result<(), KubeError> {
        if self.world.lock().unwrap().namespaces.contains(namespace) {
            Ok(())
        } else {
            Err(kube_error(
                op.to_string(),
                404,
                "NotFound",
                format!("namespaces \"{namespace}\" not found"),
            ))
        }
    }

    fn stamp(&self, meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
        let mut world = self.world.lock().unwrap();
        world.next_id += 1;
        if meta.uid.is_none() {
            meta.uid = Some(format!("uid-{}", world.next_id));
        }
        meta.resource_version = Some(world.next_id.to_string());
    }
}

#[async_trait]
impl Kube for Fake {
    async fn create_service_account(
        &self,
        account: &ServiceAccount,
    ) -> Result<ServiceAccount, KubeError> {
        let k = meta_key(&account.metadata);
        let op = format!("kube:create ServiceAccount {}/{}", k.0, k.1);
        self.kube_call(op.clone()).await?;
        self.check_namespace(&op, &k.0)?;
        if self.world.lock().unwrap().accounts.contains_key(&k) {
            return Err(kube_error(
                op,
                409,
                "AlreadyExists",
                format!("serviceaccounts \"{}\" already exists", k.1),
            ));
        }
        let mut created = account.clone();
        self.stamp(&mut created.metadata);
        self.world
            .lock()
            .unwrap()
            .accounts
            .insert(k, created.clone());
        Ok(created)
    }

    async fn get_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServiceAccount>, KubeError> {
        self.kube_call(format!("kube:get ServiceAccount {namespace}/{name}"))
            .await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .accounts
            .get(&key(namespace, name))
            .cloned())
    }

    async fn patch_service_account(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<ServiceAccount, KubeError> {
        let op = format!("kube:patch ServiceAccount {namespace}/{name}");
        self.kube_call(op.clone()).await?;
        let mut world = self.world.lock().unwrap();
        let account = world
            .accounts
            .get_mut(&key(namespace, name))
            .ok_or_else(|| {
                kube_error(
                    op,
                    404,
                    "NotFound",
                    format!("serviceaccounts \"{name}\" not found"),
                )
            })?;
        let mut json = serde_json::to_value(&*account).unwrap();
        merge(&mut json, patch);
        *account = serde_json::from_value(json).unwrap();
        Ok(account.clone())
    }

    async fn patch_service_account_as(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
        manager: &str,
    ) -> Result<ServiceAccount, KubeError> {
        self.world
            .lock()
            .unwrap()
            .calls
            .push(format!("(as {manager})"));
        self.patch_service_account(namespace, name, patch).await
    }

    /// Conflicts are not modelled (the acceptance tests meet real ones in the emulator).
    async fn apply_service_account(
        &self,
        namespace: &str,
        name: &str,
        intent: &serde_json::Value,
        _force: bool,
    ) -> Result<ServiceAccount, KubeError> {
        let op = format!("kube:apply ServiceAccount {namespace}/{name}");
        self.kube_call(op.clone()).await?;
        self.check_namespace(&op, namespace)?;
        // Server-side apply, reduced to what the binding uses: the applier owns the keys it
        // sent; keys it owned before and no longer sends are removed.
        let mut world = self.world.lock().unwrap();
        world.next_id += 1;
        let next = world.next_id;
        let account = world
            .accounts
            .entry(key(namespace, name))
            .or_insert_with(|| ServiceAccount {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(namespace.to_string()),
                    uid: Some(format!("uid-{next}")),
                    ..Default::default()
                },
                ..Default::default()
            });
        let owned_key = "fake/applied-keys";
        let previously: Vec<String> = account
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(owned_key))
            .map(|s| {
                s.split(',')
                    .filter(|k| !k.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let annotations = account
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        for k in &previously {
            if let Some(stripped) = k.strip_prefix("a:") {
                annotations.remove(stripped);
            }
        }
        let labels = account.metadata.labels.get_or_insert_with(BTreeMap::new);
        for k in &previously {
            if let Some(stripped) = k.strip_prefix("l:") {
                labels.remove(stripped);
            }
        }
        if previously.iter().any(|k| k == "automount") {
            account.automount_service_account_token = None;
        }
        let mut owned = Vec::new();
        for (k, v) in intent["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            account
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(k.clone(), v.as_str().unwrap().to_string());
            owned.push(format!("a:{k}"));
        }
        for (k, v) in intent["metadata"]["labels"]
            .as_object()
            .into_iter()
            .flatten()
        {
            account
                .metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(k.clone(), v.as_str().unwrap().to_string());
            owned.push(format!("l:{k}"));
        }
        if let Some(automount) = intent["automountServiceAccountToken"].as_bool() {
            account.automount_service_account_token = Some(automount);
            owned.push("automount".to_string());
        }
        let annotations = account
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        if owned.is_empty() {
            annotations.remove(owned_key);
        } else {
            annotations.insert(owned_key.to_string(), owned.join(","));
        }
        account.metadata.managed_fields = Some(vec![managed_fields_entry(&owned)]);
        Ok(account.clone())
    }

    async fn delete_service_account(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<bool, KubeError> {
        let op = format!("kube:delete ServiceAccount {namespace}/{name}");
        self.kube_call(op.clone()).await?;
        let mut world = self.world.lock().unwrap();
        let Some(account) = world.accounts.get(&key(namespace, name)) else {
            return Ok(false);
        };
        if let Some(uid) = uid
            && account.metadata.uid.as_deref() != Some(uid)
        {
            return Err(kube_error(
                op,
                409,
                "Conflict",
                "Precondition failed: UID in precondition",
            ));
        }
        world.accounts.remove(&key(namespace, name));
        Ok(true)
    }

    async fn create_role(&self, role: &Role) -> Result<Role, KubeError> {
        let k = meta_key(&role.metadata);
        let op = format!("kube:create Role {}/{}", k.0, k.1);
        self.kube_call(op.clone()).await?;
        self.check_namespace(&op, &k.0)?;
        if self.world.lock().unwrap().rbac_roles.contains_key(&k) {
            return Err(kube_error(op, 409, "AlreadyExists", "already exists"));
        }
        let mut created = role.clone();
        self.stamp(&mut created.metadata);
        self.world
            .lock()
            .unwrap()
            .rbac_roles
            .insert(k, created.clone());
        Ok(created)
    }

    async fn get_role(&self, namespace: &str, name: &str) -> Result<Option<Role>, KubeError> {
        self.kube_call(format!("kube:get Role {namespace}/{name}"))
            .await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .rbac_roles
            .get(&key(namespace, name))
            .cloned())
    }

    async fn replace_role(&self, role: &Role) -> Result<Role, KubeError> {
        let k = meta_key(&role.metadata);
        let op = format!("kube:update Role {}/{}", k.0, k.1);
        self.kube_call(op.clone()).await?;
        let mut world = self.world.lock().unwrap();
        let current = world
            .rbac_roles
            .get(&k)
            .ok_or_else(|| kube_error(op.clone(), 404, "NotFound", "not found"))?;
        if role.metadata.resource_version.is_some()
            && role.metadata.resource_version != current.metadata.resource_version
        {
            return Err(kube_error(
                op,
                409,
                "Conflict",
                "the object has been modified",
            ));
        }
        let mut replaced = role.clone();
        replaced.metadata.uid = current.metadata.uid.clone();
        world.next_id += 1;
        replaced.metadata.resource_version = Some(world.next_id.to_string());
        world.rbac_roles.insert(k, replaced.clone());
        Ok(replaced)
    }

    async fn delete_role(&self, namespace: &str, name: &str) -> Result<bool, KubeError> {
        self.kube_call(format!("kube:delete Role {namespace}/{name}"))
            .await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .rbac_roles
            .remove(&key(namespace, name))
            .is_some())
    }

    async fn create_role_binding(&self, binding: &RoleBinding) -> Result<RoleBinding, KubeError> {
        let k = meta_key(&binding.metadata);
        let op = format!("kube:create RoleBinding {}/{}", k.0, k.1);
        self.kube_call(op.clone()).await?;
        self.check_namespace(&op, &k.0)?;
        if self.world.lock().unwrap().bindings.contains_key(&k) {
            return Err(kube_error(op, 409, "AlreadyExists", "already exists"));
        }
        let mut created = binding.clone();
        self.stamp(&mut created.metadata);
        self.world
            .lock()
            .unwrap()
            .bindings
            .insert(k, created.clone());
        Ok(created)
    }

    async fn get_role_binding(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<RoleBinding>, KubeError> {
        self.kube_call(format!("kube:get RoleBinding {namespace}/{name}"))
            .await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .bindings
            .get(&key(namespace, name))
            .cloned())
    }

    async fn replace_role_binding(&self, binding: &RoleBinding) -> Result<RoleBinding, KubeError> {
        let k = meta_key(&binding.metadata);
        let op = format!("kube:update RoleBinding {}/{}", k.0, k.1);
        self.kube_call(op.clone()).await?;
        let mut world = self.world.lock().unwrap();
        let current = world
            .bindings
            .get(&k)
            .ok_or_else(|| kube_error(op.clone(), 404, "NotFound", "not found"))?;
        if current.role_ref != binding.role_ref {
            return Err(kube_error(
                op,
                422,
                "Invalid",
                "roleRef: Invalid value: cannot change roleRef",
            ));
        }
        let mut replaced = binding.clone();
        replaced.metadata.uid = current.metadata.uid.clone();
        world.bindings.insert(k, replaced.clone());
        Ok(replaced)
    }

    async fn delete_role_binding(&self, namespace: &str, name: &str) -> Result<bool, KubeError> {
        self.kube_call(format!("kube:delete RoleBinding {namespace}/{name}"))
            .await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .bindings
            .remove(&key(namespace, name))
            .is_some())
    }

    async fn list_role_bindings(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<RoleBinding>, KubeError> {
        self.kube_call("kube:list RoleBinding".to_string()).await?;
        Ok(self
            .world
            .lock()
            .unwrap()
            .bindings
            .values()
            .filter(|b| {
                b.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(label))
                    .map(String::as_str)
                    == Some(value)
            })
            .cloned()
            .collect())
    }

    async fn create_token(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        seconds: i64,
    ) -> Result<String, KubeError> {
        let op = format!("kube:create token {namespace}/{name}");
        self.kube_call(op.clone()).await?;
        if !self
            .world
            .lock()
            .unwrap()
            .accounts
            .contains_key(&key(namespace, name))
        {
            return Err(kube_error(
                op,
                404,
                "NotFound",
                format!("serviceaccounts \"{name}\" not found"),
            ));
        }
        let world = self.world.lock().unwrap();
        // The paused test clock does not move the wall clock: real time, as the cluster's.
        let now = crate::jwt::unix_now();
        let claims = serde_json::json!({
            "iss": world.issuer,
            "sub": trust::subject(namespace, name),
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + world.token_seconds.unwrap_or(seconds),
        });
        Ok(sign(world.signing_key, &claims))
    }

    async fn get_json(
        &self,
        path: &str,
        _accept: &str,
    ) -> Result<Option<serde_json::Value>, KubeError> {
        self.kube_call(format!("kube:get {path}")).await?;
        Ok((path == JWKS_PATH).then(|| jwks(0)))
    }
}

/// RFC 7386 merge patch.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match patch {
        serde_json::Value::Object(entries) => {
            if !target.is_object() {
                *target = serde_json::json!({});
            }
            let object = target.as_object_mut().unwrap();
            for (k, v) in entries {
                if v.is_null() {
                    object.remove(k);
                } else {
                    merge(
                        object.entry(k.clone()).or_insert(serde_json::Value::Null),
                        v,
                    );
                }
            }
        }
        other => *target = other.clone(),
    }
}
