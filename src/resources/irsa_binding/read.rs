//! Read: observes every part of a binding concurrently (one round trip: GetRole with its tags,
//! the attached and the known inline policies, the ServiceAccount, every grant's Role and
//! RoleBinding; import adds a second for the inline policies it has to list first), keeps only
//! objects that are the binding's, and turns the observation into state.

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::{Diagnostic, Diagnostics};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use crate::kubernetes::KubeError;

use super::association;
use super::diagnostics;
use super::error::BindingError;
use super::model::Binding;
use super::naming;
use super::objects;
use super::remote::{
    Association, IamRole, Observed, ObservedGrant, ObservedRbacRole, ObservedRoleBinding,
    ObservedServiceAccount, Remote,
};
use super::state::{Scope, reconcile};
use super::trust_drift::trust_drift;

/// The state `prior` is in now: `None` when the whole binding is gone.
pub async fn read(remote: &Remote<'_>, prior: &Binding) -> (Option<Binding>, Diagnostics) {
    match observe(remote, prior, Scope::Managed).await {
        Ok((observed, mut warnings)) => {
            let state = reconcile(prior, &observed, &remote.default_tags, Scope::Managed);
            if state.is_some() {
                warnings.extend(missing_parts(prior, &observed).into_iter().collect());
            }
            if let Some(role) = &observed.role {
                let after = "The next apply restores the binding's policy.";
                warnings.extend(
                    trust_drift(prior, &role.trust_policy, after)
                        .into_iter()
                        .collect(),
                );
            }
            (state, warnings)
        }
        Err(error) => (
            Some(prior.clone()),
            diagnostics::read_failed(&prior.id(), &error).into(),
        ),
    }
}

/// Observes the objects of `basis`. With [`Scope::Managed`], objects that carry another
/// owner's marks count as missing (with a warning): the binding never adopts them by reading.
pub async fn observe(
    remote: &Remote<'_>,
    basis: &Binding,
    scope: Scope,
) -> Result<(Observed, Diagnostics), BindingError> {
    let reads = read_parts(remote, basis, scope).await;
    let (observed, warnings, mut unread) = assemble(basis, scope, reads, None);
    match unread.is_empty() {
        true => Ok((observed, warnings)),
        false => Err(unread.swap_remove(0)),
    }
}

/// Observes the objects of `basis` after a failed apply: a part that cannot be read is taken
/// from `known` (what the operation knows exists) instead of failing the whole read, so that
/// the state still says what the reads that worked found. Returns the errors of the reads
/// that did not.
pub async fn observe_or_keep(
    remote: &Remote<'_>,
    basis: &Binding,
    known: &Observed,
    scope: Scope,
) -> (Observed, Vec<BindingError>) {
    let reads = read_parts(remote, basis, scope).await;
    let (observed, _, unread) = assemble(basis, scope, reads, Some(known));
    (observed, unread)
}

/// Every read of one observation, each with its own outcome.
struct Reads {
    role: Result<Option<IamRole>, BindingError>,
    attached: Result<BTreeSet<String>, BindingError>,
    inline: Result<BTreeMap<String, String>, BindingError>,
    account: Result<Option<ServiceAccount>, BindingError>,
    grants: Vec<(String, Result<GrantObjects, BindingError>)>,
    association: Result<Option<Association>, BindingError>,
}

async fn read_parts(remote: &Remote<'_>, basis: &Binding, scope: Scope) -> Reads {
    let role_name = basis.role_name.as_str();
    let tracked_inline: Vec<String> = basis
        .inline_policies
        .iter()
        .flatten()
        .map(|(n, _)| n.clone())
        .collect();
    let iam = remote.fanout.both(
        remote.iam.get_role(role_name),
        remote.fanout.both(
            remote.iam.list_attached_policies(role_name),
            read_inline(remote, role_name, &tracked_inline, scope),
        ),
    );
    let kubernetes = async {
        let account = remote
            .kube
            .get_service_account(&basis.namespace, &basis.service_account_name);
        let name = naming::rbac_name(&basis.namespace, &basis.service_account_name);
        let lookups: Vec<_> = basis
            .grants
            .iter()
            .map(|grant| read_grant(remote, grant.namespace.clone(), name.clone()))
            .collect();
        let grants = remote.fanout.all(lookups);
        remote.fanout.both(account, grants).await
    };
    let eks = association::read(remote, basis);
    let ((role, (attached, inline)), ((account, grants), association)) = remote
        .fanout
        .both(iam, remote.fanout.both(kubernetes, eks))
        .await;
    let attached = match attached {
        Err(e) if e.is_not_found() => Ok(BTreeSet::new()),
        other => other.map_err(BindingError::from),
    };
    Reads {
        role: role.map_err(BindingError::from),
        attached,
        inline,
        account: account.map_err(BindingError::from),
        grants: basis
            .grants
            .iter()
            .zip(grants)
            .map(|(grant, read)| (grant.namespace.clone(), read.map_err(BindingError::from)))
            .collect(),
        association,
    }
}

/// The observation from `reads`: parts whose read failed come from `known` when given (and
/// their errors are returned), else they are missing and the errors say why.
fn assemble(
    basis: &Binding,
    scope: Scope,
    reads: Reads,
    known: Option<&Observed>,
) -> (Observed, Diagnostics, Vec<BindingError>) {
    let id = basis.id();
    let mut unread = Vec::new();
    let mut warnings = Diagnostics::new();
    let role = match take(&mut unread, reads.role) {
        Some(role) => role.filter(|role| {
            let ours = scope == Scope::Everything
                || basis.role_unique_id.as_deref() == Some(role.role_id.as_str())
                || objects::owned_by(&role.tags, &id);
            if !ours {
                warnings.push(foreign("IAM role", &role.name, &id));
            }
            ours
        }),
        None => known.and_then(|k| k.role.clone()),
    };
    let attached = take(&mut unread, reads.attached)
        .or_else(|| known.map(|k| k.attached.clone()))
        .unwrap_or_default();
    let inline = take(&mut unread, reads.inline)
        .or_else(|| known.map(|k| k.inline.clone()))
        .unwrap_or_default();
    let (attached, inline) = match role {
        Some(_) => (attached, inline),
        None => Default::default(),
    };
    let service_account = match take(&mut unread, reads.account) {
        Some(account) => account
            .map(|a| ObservedServiceAccount::from_object(&a))
            .filter(|a| {
                let ours = scope == Scope::Everything
                    || basis.service_account_uid.as_deref() == Some(a.uid.as_str())
                    || objects::owned_by(&a.annotations, &id);
                if !ours {
                    warnings.push(foreign(
                        "ServiceAccount",
                        &format!("{}/{}", basis.namespace, basis.service_account_name),
                        &id,
                    ));
                }
                ours
            }),
        None => known.and_then(|k| k.service_account.clone()),
    };
    let mut observed_grants = BTreeMap::new();
    for (namespace, read) in reads.grants {
        let Some((_, role, binding)) = take(&mut unread, read) else {
            if let Some(grant) = known.and_then(|k| k.grants.get(&namespace)) {
                observed_grants.insert(namespace, grant.clone());
            }
            continue;
        };
        let role = role.map(|r| ObservedRbacRole::from_object(&r)).filter(|r| {
            let ours = scope == Scope::Everything || objects::owned_by(&r.annotations, &id);
            if !ours {
                warnings.push(foreign("Role", &format!("{namespace}/{}", r.name), &id));
            }
            ours
        });
        let binding = binding
            .map(|b| ObservedRoleBinding::from_object(&b))
            .filter(|b| {
                let ours = scope == Scope::Everything || objects::owned_by(&b.annotations, &id);
                if !ours {
                    warnings.push(foreign(
                        "RoleBinding",
                        &format!("{namespace}/{}", b.name),
                        &id,
                    ));
                }
                ours
            });
        observed_grants.insert(namespace, ObservedGrant { role, binding });
    }
    // The association is the binding's by its id; one that gives another role is drift (the
    // state then shows its id without its ARN, see `state::reconcile`).
    let association = match take(&mut unread, reads.association) {
        Some(found) => found.inspect(|a| {
            let ours = scope == Scope::Everything || a.role_arn == basis.role_arn;
            if !ours {
                warnings.push(Diagnostic::warning(
                    format!("EKS Pod Identity association {} gives another role", a.id),
                    format!(
                        "The association {} in cluster {} of binding {id} gives \
                         {}/{} the role {} instead of {} (changed outside Terraform). The \
                         next apply points it back at {}.",
                        a.id,
                        a.cluster,
                        a.namespace,
                        a.service_account,
                        a.role_arn,
                        basis.role_arn,
                        basis.role_arn
                    ),
                ));
            }
        }),
        None => known.and_then(|k| k.association.clone()),
    };
    let observed = Observed {
        role,
        attached,
        inline,
        service_account,
        grants: observed_grants,
        association,
    };
    (observed, warnings, unread)
}

/// The value of a read that worked; a failed read's error goes to `unread`.
fn take<T>(unread: &mut Vec<BindingError>, result: Result<T, BindingError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            unread.push(error);
            None
        }
    }
}

type GrantObjects = (String, Option<Role>, Option<RoleBinding>);

/// Reads a grant's Role and RoleBinding.
async fn read_grant(
    remote: &Remote<'_>,
    namespace: String,
    name: String,
) -> Result<GrantObjects, KubeError> {
    let (role, binding) = remote
        .fanout
        .both(
            remote.kube.get_role(&namespace, &name),
            remote.kube.get_role_binding(&namespace, &name),
        )
        .await;
    Ok((namespace, role?, binding?))
}

/// The inline policies to observe: the ones the basis knows (one round trip), or all of them
/// (import: list, then read each).
async fn read_inline(
    remote: &Remote<'_>,
    role: &str,
    tracked: &[String],
    scope: Scope,
) -> Result<BTreeMap<String, String>, BindingError> {
    let names: Vec<String> = match scope {
        Scope::Managed => tracked.to_vec(),
        Scope::Everything => match remote.iam.list_inline_policies(role).await {
            Ok(names) => names.into_iter().collect(),
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e.into()),
        },
    };
    let reads: Vec<_> = names
        .iter()
        .map(|name| remote.iam.get_inline_policy(role, name))
        .collect();
    let documents = remote.fanout.all(reads).await;
    let mut found = BTreeMap::new();
    for (name, document) in names.into_iter().zip(documents) {
        if let Some(document) = document? {
            found.insert(name, document);
        }
    }
    Ok(found)
}

fn foreign(kind: &str, name: &str, id: &str) -> Diagnostic {
    Diagnostic::warning(
        format!("{kind} {name} is not managed by this binding"),
        format!(
            "{kind} {name} exists but does not carry the marks of binding {id} (it was \
             replaced outside Terraform). The binding treats it as missing; the next apply \
             stops with an error instead of overwriting it."
        ),
    )
}

/// Warnings for the parts of a binding that disappeared outside Terraform.
fn missing_parts(prior: &Binding, observed: &Observed) -> Vec<Diagnostic> {
    let mut missing = Vec::new();
    if prior.role_unique_id.is_some() && observed.role.is_none() {
        missing.push(format!("IAM role {}", prior.role_name));
    }
    if prior.service_account_uid.is_some() && observed.service_account.is_none() {
        missing.push(format!("ServiceAccount {}", prior.id()));
    }
    if let Some(block) = &prior.pod_identity
        && let Some(id) = &block.association_id
        && observed.association.is_none()
    {
        missing.push(format!(
            "EKS Pod Identity association {id} in cluster {}",
            block.cluster_name
        ));
    }
    for grant in &prior.grants {
        let seen = observed.grants.get(&grant.namespace);
        if let Some(name) = &grant.role_name
            && seen.is_none_or(|g| g.role.is_none())
        {
            missing.push(format!("Role {}/{name}", grant.namespace));
        }
        if let Some(name) = &grant.role_binding_name
            && seen.is_none_or(|g| g.binding.is_none())
        {
            missing.push(format!("RoleBinding {}/{name}", grant.namespace));
        }
    }
    missing
        .into_iter()
        .map(|what| {
            Diagnostic::warning(
                format!("{what} was deleted outside Terraform"),
                format!("{what} no longer exists; the next apply re-creates it."),
            )
        })
        .collect()
}
