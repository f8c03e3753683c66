//! The converging steps create and update are made of. Each step records what it did in the
//! journal, refuses to touch objects that are not the binding's, and takes over the binding's
//! own leftovers (an interrupted apply, recognised by the ownership markers) instead of
//! failing on them or duplicating them.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use crate::aws::{AwsError, policy};
use crate::kubernetes::{KubeError, KubeErrorKind};
use crate::ownership;
use crate::retry::{RetryError, retry};

use super::error::BindingError;
use super::journal::{Done, Journal};
use super::model::{Binding, Grant};
use super::objects;
use super::remote::{
    IamRole, ObservedRbacRole, ObservedRoleBinding, ObservedServiceAccount, Remote,
};
use super::{takeover, trust};

/// A boxed step, so that steps of different kinds can fan out together.
pub type Step<'a> = Pin<Box<dyn Future<Output = Result<(), BindingError>> + Send + 'a>>;

/// Stops steps that have not started yet once one has failed or Terraform asked to stop.
#[derive(Debug, Default)]
pub struct Gate {
    failed: AtomicBool,
}

impl Gate {
    /// Whether a step may start.
    pub fn open(&self, remote: &Remote<'_>) -> bool {
        !self.failed.load(Ordering::SeqCst) && !remote.cancel.is_cancelled()
    }

    /// Marks the operation failed.
    pub fn close(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }
}

/// Runs `steps` through the fan-out; returns every error (closing the gate at the first).
pub async fn run_all<'a>(
    remote: &Remote<'_>,
    gate: &Gate,
    steps: Vec<Step<'a>>,
) -> Vec<BindingError> {
    remote
        .fanout
        .all(steps)
        .await
        .into_iter()
        .filter_map(Result::err)
        .inspect(|_| gate.close())
        .collect()
}

/// A step that first checks the gate.
pub fn gated<'a>(
    remote: &'a Remote<'a>,
    gate: &'a Gate,
    step: impl Future<Output = Result<(), BindingError>> + Send + 'a,
) -> Step<'a> {
    Box::pin(async move {
        if !gate.open(remote) {
            return Ok(());
        }
        let result = step.await;
        if result.is_err() {
            gate.close();
        }
        result
    })
}

/// Retries a call IAM refuses while it does not yet see a new principal.
async fn with_propagation<T, F, Fut>(remote: &Remote<'_>, call: F) -> Result<T, BindingError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    retry(remote.propagation, &remote.cancel, call, |e: &AwsError| {
        e.is_invalid_principal().then_some(None)
    })
    .await
    .map_err(|e| match e {
        RetryError::Failed(e) => BindingError::Aws(e),
        RetryError::Cancelled => BindingError::Cancelled,
    })
}

/// Replaces the role's trust policy (retrying while IAM does not see the principal yet).
pub async fn update_trust_policy(
    remote: &Remote<'_>,
    role: &str,
    document: &str,
) -> Result<(), BindingError> {
    with_propagation(remote, || remote.iam.update_trust_policy(role, document)).await
}

/// Creates the role, or takes over the binding's own leftover role of that name.
pub async fn create_role(
    remote: &Remote<'_>,
    planned: &Binding,
    journal: &Journal,
) -> Result<IamRole, BindingError> {
    let spec = objects::role_spec(planned);
    match with_propagation(remote, || remote.iam.create_role(&spec)).await {
        Ok(role) => {
            journal.record(Done::Role(role.clone()));
            Ok(role)
        }
        Err(BindingError::Aws(e)) if e.is_already_exists() => {
            let existing = remote
                .iam
                .get_role(&spec.name)
                .await?
                .ok_or(BindingError::Aws(e))?;
            if !is_own_leftover(&existing, planned) {
                return Err(BindingError::RoleTaken {
                    name: spec.name.clone(),
                    owner: existing.tags.get(ownership::OWNER_KEY).cloned(),
                });
            }
            let role = converge_role(remote, planned, &existing).await?;
            journal.record(Done::Role(role.clone()));
            Ok(role)
        }
        Err(e) => Err(e),
    }
}

/// Whether `role` is what an interrupted apply of this very binding left behind: marked as
/// its own, and trusting the same OIDC provider (so another cluster's binding of the same
/// namespace and name is never taken over).
fn is_own_leftover(role: &IamRole, planned: &Binding) -> bool {
    let marked = objects::owned_by(&role.tags, &planned.id())
        && role.tags.get(ownership::MANAGED_BY_TAG).map(String::as_str)
            == Some(ownership::MANAGED_BY);
    let same_provider = trust::admits(&role.trust_policy)
        .is_some_and(|a| a.oidc_provider_arn == planned.oidc_provider_arn);
    // Pod Identity only: the same cluster instead.
    let same_cluster = !planned.irsa
        && planned.pod_identity.as_ref().is_some_and(|block| {
            trust::pod_identity_cluster(&role.trust_policy).as_deref()
                == Some(block.cluster_name.as_str())
        });
    marked && (same_provider || same_cluster)
}

/// Brings a leftover role to the plan: settings, trust, tags, and no policies it should not
/// have (policies it should have are attached afterwards like for a new role).
async fn converge_role(
    remote: &Remote<'_>,
    planned: &Binding,
    existing: &IamRole,
) -> Result<IamRole, BindingError> {
    let spec = objects::role_spec(planned);
    let name = spec.name.as_str();
    let gate = Gate::default();
    let mut steps: Vec<Step<'_>> = Vec::new();
    if !policy::equivalent(&existing.trust_policy, &spec.trust_policy) {
        let document = spec.trust_policy.clone();
        steps.push(Box::pin(async move {
            update_trust_policy(remote, name, &document).await
        }));
    }
    steps.extend(role_setting_steps(remote, planned, existing));
    steps.push(Box::pin(async move {
        let unwanted: Vec<String> = remote
            .iam
            .list_attached_policies(name)
            .await?
            .into_iter()
            .filter(|arn| {
                !planned
                    .managed_policy_arns
                    .iter()
                    .flatten()
                    .any(|a| a == arn)
            })
            .collect();
        for arn in unwanted {
            ignore_not_found(remote.iam.detach_policy(name, &arn).await)?;
        }
        Ok(())
    }));
    steps.push(Box::pin(async move {
        let unwanted: Vec<String> = remote
            .iam
            .list_inline_policies(name)
            .await?
            .into_iter()
            .filter(|p| {
                !planned
                    .inline_policies
                    .iter()
                    .flatten()
                    .any(|(n, _)| n == p)
            })
            .collect();
        for policy in unwanted {
            ignore_not_found(remote.iam.delete_inline_policy(name, &policy).await)?;
        }
        Ok(())
    }));
    if let Some(error) = run_all(remote, &gate, steps).await.into_iter().next() {
        return Err(error);
    }
    Ok(IamRole {
        name: spec.name,
        path: existing.path.clone(),
        arn: existing.arn.clone(),
        role_id: existing.role_id.clone(),
        description: spec.description,
        max_session_duration: spec.max_session_duration,
        permissions_boundary_arn: spec.permissions_boundary_arn,
        tags: spec.tags,
        trust_policy: spec.trust_policy,
    })
}

/// Steps that bring description, session duration, boundary and tags of `current` to the plan.
pub fn role_setting_steps<'a>(
    remote: &'a Remote<'a>,
    planned: &'a Binding,
    current: &IamRole,
) -> Vec<Step<'a>> {
    let name = planned.role_name.as_str();
    let mut steps: Vec<Step<'a>> = Vec::new();
    let description = planned.role_description.clone().unwrap_or_default();
    if current.description.clone().unwrap_or_default() != description
        || current.max_session_duration != planned.max_session_duration
    {
        let seconds = planned.max_session_duration;
        steps.push(Box::pin(async move {
            Ok(remote.iam.update_role(name, &description, seconds).await?)
        }));
    }
    if current.permissions_boundary_arn != planned.permissions_boundary_arn {
        let boundary = planned.permissions_boundary_arn.clone();
        steps.push(Box::pin(async move {
            match boundary {
                Some(arn) => Ok(remote.iam.put_permissions_boundary(name, &arn).await?),
                None => ignore_not_found(remote.iam.delete_permissions_boundary(name).await),
            }
        }));
    }
    let wanted = objects::role_tags(planned);
    let to_set: std::collections::BTreeMap<String, String> = wanted
        .iter()
        .filter(|(k, v)| current.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let to_remove: Vec<String> = current
        .tags
        .keys()
        .filter(|k| !wanted.contains_key(*k))
        .cloned()
        .collect();
    if !to_set.is_empty() {
        steps.push(Box::pin(async move {
            Ok(remote.iam.tag_role(name, &to_set).await?)
        }));
    }
    if !to_remove.is_empty() {
        steps.push(Box::pin(async move {
            Ok(remote.iam.untag_role(name, &to_remove).await?)
        }));
    }
    steps
}

/// Attaches one managed policy and records it.
pub async fn attach(
    remote: &Remote<'_>,
    journal: &Journal,
    role: &str,
    arn: &str,
) -> Result<(), BindingError> {
    remote.iam.attach_policy(role, arn).await?;
    journal.record(Done::Attached {
        role: role.to_string(),
        arn: arn.to_string(),
    });
    Ok(())
}

/// Writes one inline policy and records it.
pub async fn put_inline(
    remote: &Remote<'_>,
    journal: &Journal,
    role: &str,
    name: &str,
    document: &str,
) -> Result<(), BindingError> {
    with_propagation(remote, || {
        remote.iam.put_inline_policy(role, name, document)
    })
    .await?;
    journal.record(Done::Inline {
        role: role.to_string(),
        name: name.to_string(),
        document: document.to_string(),
    });
    Ok(())
}

/// The steps that attach every planned managed policy and write every planned inline policy.
pub fn policy_steps<'a>(
    remote: &'a Remote<'a>,
    gate: &'a Gate,
    journal: &'a Journal,
    planned: &'a Binding,
) -> Vec<Step<'a>> {
    let role = planned.role_name.as_str();
    let attaches = planned
        .managed_policy_arns
        .iter()
        .flatten()
        .map(move |arn| gated(remote, gate, attach(remote, journal, role, arn)));
    let puts = planned
        .inline_policies
        .iter()
        .flatten()
        .map(move |(name, document)| {
            gated(
                remote,
                gate,
                put_inline(remote, journal, role, name, document),
            )
        });
    attaches.chain(puts).collect()
}

/// Creates the ServiceAccount; when it exists, takes over the binding's own leftover, adopts
/// it when asked to, and otherwise fails naming it.
pub async fn create_service_account(
    remote: &Remote<'_>,
    planned: &Binding,
    journal: &Journal,
) -> Result<(ObservedServiceAccount, bool), BindingError> {
    let (namespace, name) = (&planned.namespace, &planned.service_account_name);
    let error = match remote
        .kube
        .create_service_account(&objects::service_account(planned))
        .await
    {
        Ok(created) => {
            return Ok(record_account(journal, planned, &created, false));
        }
        Err(error) if error.is_already_exists() => error,
        Err(error) => return Err(error.into()),
    };
    let existing = remote
        .kube
        .get_service_account(namespace, name)
        .await?
        .ok_or(BindingError::Kube(error))?;
    let observed = ObservedServiceAccount::from_object(&existing);
    let own_leftover = objects::owned_by(&observed.annotations, &planned.id())
        && observed
            .labels
            .get(ownership::MANAGED_BY_LABEL)
            .map(String::as_str)
            == Some(ownership::MANAGED_BY);
    if own_leftover {
        let patch = objects::service_account_patch(planned, planned);
        let patched = remote
            .kube
            .patch_service_account(namespace, name, &patch)
            .await?;
        return Ok(record_account(journal, planned, &patched, false));
    }
    if !planned.adopt_existing_service_account {
        return Err(BindingError::ObjectTaken {
            kind: "ServiceAccount",
            namespace: namespace.clone(),
            name: name.clone(),
        });
    }
    let applied = adopt_service_account(remote, planned, &[], journal).await?;
    Ok(record_account(journal, planned, &applied, true))
}

/// Writes the binding's fields on an adopted ServiceAccount with server-side apply, without
/// force: fields another manager owns with other values are an error naming them, unless the
/// plan sets `take_over_conflicting_fields` (then they are recorded with their values and
/// taken with force). Recorded fields the binding no longer sets are given back. Other
/// annotations, `eks.amazonaws.com/*` included, are not the binding's and stay as they are.
pub async fn adopt_service_account(
    remote: &Remote<'_>,
    planned: &Binding,
    recorded: &[super::model::TakenOverField],
    journal: &Journal,
) -> Result<k8s_openapi::api::core::v1::ServiceAccount, BindingError> {
    let (namespace, name) = (&planned.namespace, &planned.service_account_name);
    let intent = objects::service_account_intent(planned);
    let mut records = recorded.to_vec();
    let applied = match remote
        .kube
        .apply_service_account(namespace, name, &intent, false)
        .await
    {
        Ok(applied) => applied,
        Err(error) if !error.conflicts().is_empty() => {
            if !planned.take_over_conflicting_fields {
                return Err(BindingError::FieldConflicts {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    conflicts: error.conflicts().to_vec(),
                });
            }
            let conflicts = error.conflicts().to_vec();
            let current = remote
                .kube
                .get_service_account(namespace, name)
                .await?
                .ok_or(BindingError::Kube(error))?;
            records = takeover::record(&records, &conflicts, &current);
            // Recorded before the forced apply, so that a failure from here on still gives
            // the values back.
            journal.record(Done::TookOver {
                namespace: namespace.clone(),
                name: name.clone(),
                fields: records.clone(),
            });
            remote
                .kube
                .apply_service_account(namespace, name, &intent, true)
                .await?
        }
        Err(error) => return Err(error.into()),
    };
    let (applied, held) = takeover::give_back(remote, applied, records).await?;
    journal.record(Done::TookOver {
        namespace: namespace.clone(),
        name: name.clone(),
        fields: held,
    });
    Ok(applied)
}

fn record_account(
    journal: &Journal,
    planned: &Binding,
    object: &k8s_openapi::api::core::v1::ServiceAccount,
    adopted: bool,
) -> (ObservedServiceAccount, bool) {
    let observed = ObservedServiceAccount::from_object(object);
    journal.record(Done::ServiceAccount {
        namespace: planned.namespace.clone(),
        name: planned.service_account_name.clone(),
        account: observed.clone(),
        adopted,
    });
    (observed, adopted)
}

/// Makes a grant's Role have the planned rules: creates it, or repairs the binding's own
/// Role of that name. `known` is the Role as the prior state saw it (update), if any.
pub async fn ensure_rbac_role(
    remote: &Remote<'_>,
    journal: &Journal,
    planned: &Binding,
    grant: &Grant,
    exists: bool,
) -> Result<(), BindingError> {
    let desired = objects::rbac_role(planned, grant);
    let namespace = grant.namespace.as_str();
    if !exists {
        match remote.kube.create_role(&desired).await {
            Ok(created) => {
                journal.record(Done::RbacRole {
                    namespace: namespace.to_string(),
                    role: ObservedRbacRole::from_object(&created),
                });
                return Ok(());
            }
            Err(error) if error.is_already_exists() => {}
            Err(error) => return Err(error.into()),
        }
    }
    let name = desired.metadata.name.clone().unwrap_or_default();
    for _ in 0..3 {
        let Some(current) = remote.kube.get_role(namespace, &name).await? else {
            let created = remote.kube.create_role(&desired).await?;
            journal.record(Done::RbacRole {
                namespace: namespace.to_string(),
                role: ObservedRbacRole::from_object(&created),
            });
            return Ok(());
        };
        let annotations = current.metadata.annotations.clone().unwrap_or_default();
        if !objects::owned_by(&annotations, &planned.id()) {
            return Err(BindingError::ObjectTaken {
                kind: "Role",
                namespace: namespace.to_string(),
                name,
            });
        }
        let mut replacement: Role = desired.clone();
        replacement.metadata.resource_version = current.metadata.resource_version.clone();
        match remote.kube.replace_role(&replacement).await {
            Ok(replaced) => {
                if !exists {
                    journal.record(Done::RbacRole {
                        namespace: namespace.to_string(),
                        role: ObservedRbacRole::from_object(&replaced),
                    });
                }
                return Ok(());
            }
            Err(error) if error.kind == KubeErrorKind::Conflict => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(KubeError::new(
        format!("update Role {namespace}/{name}"),
        KubeErrorKind::Conflict,
        "the Role kept changing while the provider updated it (409 three times)",
    )
    .into())
}

/// Makes a grant's RoleBinding bind exactly the ServiceAccount to the Role: creates it, or
/// repairs the binding's own RoleBinding of that name (re-creating it when its roleRef,
/// which Kubernetes never changes in place, is wrong).
pub async fn ensure_role_binding(
    remote: &Remote<'_>,
    journal: &Journal,
    planned: &Binding,
    grant: &Grant,
) -> Result<(), BindingError> {
    let desired = objects::role_binding(planned, grant);
    let namespace = grant.namespace.as_str();
    let record = |created: &RoleBinding| {
        journal.record(Done::RoleBinding {
            namespace: namespace.to_string(),
            binding: ObservedRoleBinding::from_object(created),
        })
    };
    match remote.kube.create_role_binding(&desired).await {
        Ok(created) => {
            record(&created);
            return Ok(());
        }
        Err(error) if error.is_already_exists() => {}
        Err(error) => return Err(error.into()),
    }
    let name = desired.metadata.name.clone().unwrap_or_default();
    for _ in 0..3 {
        let Some(current) = remote.kube.get_role_binding(namespace, &name).await? else {
            let created = remote.kube.create_role_binding(&desired).await?;
            record(&created);
            return Ok(());
        };
        let annotations = current.metadata.annotations.clone().unwrap_or_default();
        if !objects::owned_by(&annotations, &planned.id()) {
            return Err(BindingError::ObjectTaken {
                kind: "RoleBinding",
                namespace: namespace.to_string(),
                name,
            });
        }
        if current.role_ref != desired.role_ref {
            remote.kube.delete_role_binding(namespace, &name).await?;
            let created = remote.kube.create_role_binding(&desired).await?;
            record(&created);
            return Ok(());
        }
        let mut replacement = desired.clone();
        replacement.metadata.resource_version = current.metadata.resource_version.clone();
        match remote.kube.replace_role_binding(&replacement).await {
            Ok(replaced) => {
                record(&replaced);
                return Ok(());
            }
            Err(error) if error.kind == KubeErrorKind::Conflict => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(KubeError::new(
        format!("update RoleBinding {namespace}/{name}"),
        KubeErrorKind::Conflict,
        "the RoleBinding kept changing while the provider updated it (409 three times)",
    )
    .into())
}

/// Deletes the role `prior` names, after re-reading it: a role of that name that is not the
/// one the state knows (another RoleId, or marked as another binding's, e.g. recreated out of
/// band and planned with `-refresh=false`) is left alone with an error. The policies the
/// state knows are detached and deleted first (all at once), then the role. If IAM still
/// refuses (`DeleteConflict`: policies attached outside Terraform), those are detached too
/// only with `force_detach`; otherwise the role stays, with an error naming them. A role
/// already gone is fine.
pub async fn delete_role_fully(
    remote: &Remote<'_>,
    prior: &Binding,
    force_detach: bool,
) -> Result<(), BindingError> {
    let name = prior.role_name.as_str();
    let Some(current) = remote.iam.get_role(name).await? else {
        return Ok(());
    };
    ensure_same_role(prior, &current)?;
    let known_managed: Vec<&String> = prior.managed_policy_arns.iter().flatten().collect();
    let known_inline: Vec<&String> = prior
        .inline_policies
        .iter()
        .flatten()
        .map(|(name, _)| name)
        .collect();
    let gate = Gate::default();
    let mut steps: Vec<Step<'_>> = Vec::new();
    for arn in &known_managed {
        steps.push(Box::pin(async move {
            ignore_not_found(remote.iam.detach_policy(name, arn).await)
        }));
    }
    for policy in &known_inline {
        steps.push(Box::pin(async move {
            ignore_not_found(remote.iam.delete_inline_policy(name, policy).await)
        }));
    }
    if let Some(error) = run_all(remote, &gate, steps).await.into_iter().next() {
        return Err(error);
    }
    match remote.iam.delete_role(name).await {
        Ok(()) => return Ok(()),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) if e.kind == crate::aws::AwsErrorKind::Conflict => {}
        Err(e) => return Err(e.into()),
    }
    let (attached, inline) = remote
        .fanout
        .both(
            remote.iam.list_attached_policies(name),
            remote.iam.list_inline_policies(name),
        )
        .await;
    let attached: Vec<String> = attached?.into_iter().collect();
    let (cache, foreign) = split_cache_policies(remote, name, inline?).await?;
    let nothing_else = attached.is_empty() && foreign.is_empty();
    if !(force_detach || nothing_else) {
        return Err(BindingError::ForeignPolicies {
            name: name.to_string(),
            managed: attached,
            inline: foreign,
        });
    }
    let inline: Vec<String> = cache.into_iter().chain(foreign).collect();
    let mut steps: Vec<Step<'_>> = Vec::new();
    for arn in &attached {
        steps.push(Box::pin(async move {
            ignore_not_found(remote.iam.detach_policy(name, arn).await)
        }));
    }
    for policy in &inline {
        steps.push(Box::pin(async move {
            ignore_not_found(remote.iam.delete_inline_policy(name, policy).await)
        }));
    }
    if let Some(error) = run_all(remote, &gate, steps).await.into_iter().next() {
        return Err(error);
    }
    ignore_not_found(remote.iam.delete_role(name).await)
}

/// Splits the role's inline policies into those `gitlabrunner_cache` wrote (see
/// [`ownership::is_cache_policy`]) and the rest. The cache's policy is this provider's own: when
/// the binding renames its role, the old role goes before the cache moves its permissions to
/// the new one, so the binding may delete it without `force_detach_policies`.
async fn split_cache_policies(
    remote: &Remote<'_>,
    role: &str,
    inline: BTreeSet<String>,
) -> Result<(Vec<String>, Vec<String>), BindingError> {
    let mut lookups = Vec::with_capacity(inline.len());
    for policy in &inline {
        lookups.push(remote.iam.get_inline_policy(role, policy));
    }
    let documents = remote.fanout.all(lookups).await;
    let mut cache = Vec::new();
    let mut foreign = Vec::new();
    for (policy, document) in inline.into_iter().zip(documents) {
        match document? {
            Some(text) if ownership::is_cache_policy(&text) => cache.push(policy),
            Some(_) => foreign.push(policy),
            None => {}
        }
    }
    Ok((cache, foreign))
}

/// Fails unless `current` is the role `prior` records: the same RoleId (IAM never reuses
/// one), and not marked as another binding's.
fn ensure_same_role(prior: &Binding, current: &IamRole) -> Result<(), BindingError> {
    let owner = current.tags.get(ownership::OWNER_KEY);
    let same_id = prior.role_unique_id.as_deref() == Some(current.role_id.as_str());
    let same_owner = owner.is_none_or(|o| *o == prior.id());
    if same_id && same_owner {
        return Ok(());
    }
    Err(BindingError::RoleReplaced {
        name: current.name.clone(),
        expected_id: prior.role_unique_id.clone().unwrap_or_default(),
        found_id: current.role_id.clone(),
        owner: owner.cloned(),
    })
}

/// `Ok` for success and for "not found".
pub fn ignore_not_found(result: Result<(), AwsError>) -> Result<(), BindingError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map_err(BindingError::from),
    }
}

/// Deletes a grant's Role or RoleBinding named `name`: directly when the state knows it as the
/// binding's, else only after reading it and finding the binding's marks on it (an object
/// the binding made whose content was changed outside Terraform still goes).
pub async fn delete_rbac_object(
    remote: &Remote<'_>,
    kind: RbacKind,
    namespace: &str,
    name: &str,
    known: bool,
    id: &str,
) -> Result<(), BindingError> {
    if !known {
        let annotations = match kind {
            RbacKind::Role => remote
                .kube
                .get_role(namespace, name)
                .await?
                .map(|r| r.metadata.annotations.unwrap_or_default()),
            RbacKind::RoleBinding => remote
                .kube
                .get_role_binding(namespace, name)
                .await?
                .map(|b| b.metadata.annotations.unwrap_or_default()),
        };
        if !annotations.is_some_and(|a| objects::owned_by(&a, id)) {
            return Ok(());
        }
    }
    match kind {
        RbacKind::Role => remote.kube.delete_role(namespace, name).await?,
        RbacKind::RoleBinding => remote.kube.delete_role_binding(namespace, name).await?,
    };
    Ok(())
}

/// The two kinds a grant makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RbacKind {
    /// A Role.
    Role,
    /// A RoleBinding.
    RoleBinding,
}
