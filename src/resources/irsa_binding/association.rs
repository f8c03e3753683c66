//! The binding's EKS Pod Identity association: made (or found and adopted) after the role
//! exists, read for drift, repaired, and removed. The provider never touches an association it
//! does not own beyond adopting the exact match: one for the same ServiceAccount and the same
//! role. An association is the binding's when its id is in the state, or when it carries the
//! binding's ownership tags (a leftover of an interrupted apply).

use crate::ownership;

use super::error::BindingError;
use super::journal::{Done, Journal};
use super::model::{Binding, PodIdentity};
use super::objects;
use super::remote::{Association, AssociationSpec, Remote};

/// How an apply came to hold the association (what undo does with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// This apply created it (undo deletes it).
    Created,
    /// An interrupted apply of this binding left it, marked as the binding's (undo deletes it).
    OwnLeftover,
    /// It existed for the same ServiceAccount and the same role (undo leaves it).
    Adopted,
    /// The state already knew it; this apply only pointed it at the role (undo leaves it).
    Kept,
}

/// Makes the association of `planned` give `role_arn` to the ServiceAccount, and records it.
/// `Ok(None)` without a `pod_identity` block.
pub async fn ensure(
    remote: &Remote<'_>,
    planned: &Binding,
    role_arn: &str,
    known: Option<&PodIdentity>,
    journal: &Journal,
) -> Result<Option<Association>, BindingError> {
    let Some(block) = &planned.pod_identity else {
        return Ok(None);
    };
    let cluster = block.cluster_name.as_str();
    // The association the state knows, in the same cluster: keep it, repair its role.
    if let Some(id) = known
        .filter(|k| k.cluster_name == cluster)
        .and_then(|k| k.association_id.as_deref())
        && let Some(found) = remote.eks.describe_association(cluster, id).await?
    {
        let found = if found.role_arn == role_arn {
            found
        } else {
            remote.eks.update_association(cluster, id, role_arn).await?
        };
        journal.record(Done::Association {
            association: found.clone(),
            origin: Origin::Kept,
        });
        return Ok(Some(found));
    }
    let spec = AssociationSpec {
        cluster: cluster.to_string(),
        namespace: planned.namespace.clone(),
        service_account: planned.service_account_name.clone(),
        role_arn: role_arn.to_string(),
        tags: objects::role_tags(planned),
    };
    let error = match remote.eks.create_association(&spec).await {
        Ok(created) => {
            journal.record(Done::Association {
                association: created.clone(),
                origin: Origin::Created,
            });
            return Ok(Some(created));
        }
        Err(error) if error.is_already_exists() => error,
        Err(error) => return Err(error.into()),
    };
    // One exists for this ServiceAccount already (eksctl#7753: re-running must not loop on
    // 409): adopt the exact match, take back the binding's own leftover, refuse the rest.
    let ids = remote
        .eks
        .list_associations(cluster, &planned.namespace, &planned.service_account_name)
        .await?;
    for id in ids {
        let Some(found) = remote.eks.describe_association(cluster, &id).await? else {
            continue;
        };
        if found.role_arn == role_arn {
            let origin = if is_own(&found, planned) {
                Origin::OwnLeftover
            } else {
                Origin::Adopted
            };
            journal.record(Done::Association {
                association: found.clone(),
                origin,
            });
            return Ok(Some(found));
        }
        if is_own(&found, planned) {
            let repaired = remote
                .eks
                .update_association(cluster, &id, role_arn)
                .await?;
            journal.record(Done::Association {
                association: repaired.clone(),
                origin: Origin::OwnLeftover,
            });
            return Ok(Some(repaired));
        }
        return Err(BindingError::AssociationTaken {
            cluster: cluster.to_string(),
            namespace: planned.namespace.clone(),
            service_account: planned.service_account_name.clone(),
            id: found.id,
            role_arn: found.role_arn,
        });
    }
    Err(error.into())
}

/// Whether `association` carries the ownership tags of `binding`.
pub fn is_own(association: &Association, binding: &Binding) -> bool {
    objects::owned_by(&association.tags, &binding.id())
        && association
            .tags
            .get(ownership::MANAGED_BY_TAG)
            .map(String::as_str)
            == Some(ownership::MANAGED_BY)
}

/// Deletes the association `block` records; one already gone is fine.
pub async fn delete(remote: &Remote<'_>, block: &PodIdentity) -> Result<(), BindingError> {
    let Some(id) = &block.association_id else {
        return Ok(());
    };
    match remote.eks.delete_association(&block.cluster_name, id).await {
        Err(error) if !error.is_not_found() => Err(error.into()),
        _ => Ok(()),
    }
}

/// The association `basis` records, as it is now (`None`: gone, or no block or id).
pub async fn read(
    remote: &Remote<'_>,
    basis: &Binding,
) -> Result<Option<Association>, BindingError> {
    let Some(block) = &basis.pod_identity else {
        return Ok(None);
    };
    let Some(id) = &block.association_id else {
        return Ok(None);
    };
    Ok(remote
        .eks
        .describe_association(&block.cluster_name, id)
        .await?)
}

/// The id of the association for `binding`'s ServiceAccount in `cluster` that gives it
/// `role_arn` (import), if there is one.
pub async fn find(
    remote: &Remote<'_>,
    binding: &Binding,
    cluster: &str,
    role_arn: &str,
) -> Result<Option<String>, BindingError> {
    let ids = remote
        .eks
        .list_associations(cluster, &binding.namespace, &binding.service_account_name)
        .await?;
    for id in ids {
        if let Some(found) = remote.eks.describe_association(cluster, &id).await?
            && found.role_arn == role_arn
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}
