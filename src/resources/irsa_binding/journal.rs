//! The journal of what one apply created, so that a failure (or `StopProvider`) can undo it in
//! reverse, and so that what could not be undone is known exactly.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use super::association::Origin;
use super::error::BindingError;
use super::model::TakenOverField;
use super::remote::{
    Association, IamRole, Observed, ObservedGrant, ObservedRbacRole, ObservedRoleBinding,
    ObservedServiceAccount, Remote,
};
use super::{objects, takeover};

/// One thing an apply did that undo must reverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    /// Created (or took over its own leftover) the IAM role.
    Role(IamRole),
    /// Attached a managed policy.
    Attached {
        /// Role name.
        role: String,
        /// Policy ARN.
        arn: String,
    },
    /// Wrote an inline policy.
    Inline {
        /// Role name.
        role: String,
        /// Policy name.
        name: String,
        /// The document.
        document: String,
    },
    /// Created the ServiceAccount, or wrote the binding's fields on an adopted one.
    ServiceAccount {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// What it looks like now.
        account: ObservedServiceAccount,
        /// Whether it was adopted (undo releases the fields instead of deleting).
        adopted: bool,
    },
    /// Took fields of an adopted ServiceAccount over from other field managers; undo gives
    /// them back.
    TookOver {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The fields held, with their managers and previous values.
        fields: Vec<TakenOverField>,
    },
    /// Created, adopted or repointed the EKS Pod Identity association.
    Association {
        /// The association as it is now.
        association: Association,
        /// How the apply came to hold it.
        origin: Origin,
    },
    /// Created a grant's Role.
    RbacRole {
        /// Namespace.
        namespace: String,
        /// The Role.
        role: ObservedRbacRole,
    },
    /// Created a grant's RoleBinding.
    RoleBinding {
        /// Namespace.
        namespace: String,
        /// The RoleBinding.
        binding: ObservedRoleBinding,
    },
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Done::Role(role) => write!(f, "IAM role {}", role.name),
            Done::Attached { role, arn } => write!(f, "policy {arn} attached to IAM role {role}"),
            Done::Inline { role, name, .. } => {
                write!(f, "inline policy {name} of IAM role {role}")
            }
            Done::ServiceAccount {
                namespace,
                name,
                adopted: false,
                ..
            } => write!(f, "ServiceAccount {namespace}/{name}"),
            Done::ServiceAccount {
                namespace, name, ..
            } => write!(
                f,
                "the binding's fields on ServiceAccount {namespace}/{name}"
            ),
            Done::TookOver {
                namespace, name, ..
            } => write!(
                f,
                "the fields the binding took over on ServiceAccount {namespace}/{name}"
            ),
            Done::Association { association, .. } => write!(
                f,
                "EKS Pod Identity association {} in cluster {}",
                association.id, association.cluster
            ),
            Done::RbacRole { namespace, role } => write!(f, "Role {namespace}/{}", role.name),
            Done::RoleBinding { namespace, binding } => {
                write!(f, "RoleBinding {namespace}/{}", binding.name)
            }
        }
    }
}

/// What undo achieved.
#[derive(Debug, Default)]
pub struct Undone {
    /// What was removed.
    pub removed: Vec<Done>,
    /// What still exists, with the error that kept it.
    pub leftovers: Vec<(Done, BindingError)>,
}

/// The journal. Shared by the concurrent steps of one apply.
#[derive(Debug, Default)]
pub struct Journal {
    done: Mutex<Vec<Done>>,
}

type UndoStep<'a> = Pin<Box<dyn Future<Output = (Done, Result<(), BindingError>)> + Send + 'a>>;

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal::default()
    }

    /// Records one thing done.
    pub fn record(&self, done: Done) {
        self.done.lock().expect("journal lock").push(done);
    }

    /// Everything recorded, in order.
    pub fn entries(&self) -> Vec<Done> {
        self.done.lock().expect("journal lock").clone()
    }

    /// Undoes everything recorded, newest first: policies, ServiceAccount and RBAC objects
    /// concurrently, then the role (which IAM deletes only once nothing is attached to it).
    pub async fn undo(&self, remote: &Remote<'_>) -> Undone {
        let entries = self.entries();
        let (roles, others): (Vec<Done>, Vec<Done>) = entries
            .into_iter()
            .rev()
            .partition(|d| matches!(d, Done::Role(_)));
        let mut undone = Undone::default();
        for wave in [others, roles] {
            let steps: Vec<UndoStep<'_>> = wave
                .into_iter()
                .map(|done| -> UndoStep<'_> {
                    Box::pin(async move {
                        let result = undo_one(remote, &done).await;
                        (done, result)
                    })
                })
                .collect();
            for (done, result) in remote.fanout.all(steps).await {
                match result {
                    Ok(()) => undone.removed.push(done),
                    Err(error) => undone.leftovers.push((done, error)),
                }
            }
        }
        undone
    }
}

async fn undo_one(remote: &Remote<'_>, done: &Done) -> Result<(), BindingError> {
    let gone_is_fine = |result: Result<(), crate::aws::AwsError>| match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map_err(BindingError::from),
    };
    match done {
        Done::Role(role) => gone_is_fine(remote.iam.delete_role(&role.name).await),
        Done::Attached { role, arn } => gone_is_fine(remote.iam.detach_policy(role, arn).await),
        Done::Inline { role, name, .. } => {
            gone_is_fine(remote.iam.delete_inline_policy(role, name).await)
        }
        Done::ServiceAccount {
            namespace,
            name,
            account,
            adopted: false,
        } => {
            let uid = (!account.uid.is_empty()).then_some(account.uid.as_str());
            remote
                .kube
                .delete_service_account(namespace, name, uid)
                .await
                .map(drop)
                .map_err(BindingError::from)
        }
        Done::ServiceAccount {
            namespace, name, ..
        } => remote
            .kube
            .apply_service_account(
                namespace,
                name,
                &objects::service_account_release(namespace, name),
                false,
            )
            .await
            .map(drop)
            .map_err(BindingError::from),
        Done::TookOver {
            namespace,
            name,
            fields,
        } => {
            for field in fields {
                let patch = field
                    .previous_value
                    .as_deref()
                    .and_then(|value| takeover::restore_patch(&field.field, value));
                if let Some(patch) = patch {
                    remote
                        .kube
                        .patch_service_account_as(namespace, name, &patch, &field.manager)
                        .await?;
                }
            }
            Ok(())
        }
        Done::Association {
            association,
            origin: Origin::Created | Origin::OwnLeftover,
        } => gone_is_fine(
            remote
                .eks
                .delete_association(&association.cluster, &association.id)
                .await,
        ),
        Done::Association { .. } => Ok(()),
        Done::RbacRole { namespace, role } => remote
            .kube
            .delete_role(namespace, &role.name)
            .await
            .map(drop)
            .map_err(BindingError::from),
        Done::RoleBinding { namespace, binding } => remote
            .kube
            .delete_role_binding(namespace, &binding.name)
            .await
            .map(drop)
            .map_err(BindingError::from),
    }
}

/// The fields the journal says the binding holds on an adopted ServiceAccount (the last
/// record), if it took any over.
pub fn taken_over(entries: &[Done]) -> Option<Vec<TakenOverField>> {
    entries.iter().rev().find_map(|done| match done {
        Done::TookOver { fields, .. } => Some(fields.clone()),
        _ => None,
    })
}

/// What `entries` say exists: the observation a state is built from.
pub fn observed(entries: &[Done]) -> Observed {
    let mut observed = Observed::default();
    for done in entries {
        match done {
            Done::Role(role) => observed.role = Some(role.clone()),
            Done::Attached { arn, .. } => {
                observed.attached.insert(arn.clone());
            }
            Done::Inline { name, document, .. } => {
                observed.inline.insert(name.clone(), document.clone());
            }
            Done::ServiceAccount { account, .. } => {
                observed.service_account = Some(account.clone());
            }
            Done::TookOver { .. } => {}
            Done::Association { association, .. } => {
                observed.association = Some(association.clone());
            }
            Done::RbacRole { namespace, role } => {
                grant(&mut observed.grants, namespace).role = Some(role.clone());
            }
            Done::RoleBinding { namespace, binding } => {
                grant(&mut observed.grants, namespace).binding = Some(binding.clone());
            }
        }
    }
    observed
}

fn grant<'a>(
    grants: &'a mut BTreeMap<String, ObservedGrant>,
    namespace: &str,
) -> &'a mut ObservedGrant {
    grants.entry(namespace.to_string()).or_default()
}
