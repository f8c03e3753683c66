//! What can go wrong while applying a binding.

use crate::aws::AwsError;
use crate::kubernetes::KubeError;

/// A failed step of an apply, read or import.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// An IAM or STS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A Kubernetes call failed.
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// The IAM role name is taken by a role this binding does not own.
    #[error(
        "IAM role {name} already exists and is not managed by this binding{}",
        owner.as_ref().map(|o| format!(" (it is marked as owned by {o})")).unwrap_or_default()
    )]
    RoleTaken {
        /// The role name.
        name: String,
        /// The owner its tag names, if any.
        owner: Option<String>,
    },
    /// A Kubernetes object of the wanted name exists and is not the binding's.
    #[error("{kind} {namespace}/{name} already exists and is not managed by this binding")]
    ObjectTaken {
        /// `ServiceAccount`, `Role` or `RoleBinding`.
        kind: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// Server-side apply on an adopted ServiceAccount met fields another manager owns.
    #[error(
        "ServiceAccount {namespace}/{name} has fields another field manager owns with \
         different values: {}. Nothing was changed",
        conflicts
            .iter()
            .map(|c| format!("{} (owned by {})", c.field, c.manager))
            .collect::<Vec<_>>()
            .join(", ")
    )]
    FieldConflicts {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The fields and their managers.
        conflicts: Vec<crate::kubernetes::FieldConflict>,
    },
    /// After a rename the old role could not be deleted.
    #[error(
        "the binding now uses IAM role {new}, but the old role {old} could not be deleted: \
         {source}. Delete it by hand once nothing uses it; it is no longer in the state"
    )]
    OldRoleLeft {
        /// The role now in use.
        new: String,
        /// The role left behind.
        old: String,
        /// Why it could not be deleted.
        source: Box<BindingError>,
    },
    /// The role of the state's name is another role than the one the state records.
    #[error(
        "IAM role {name} is not the role this binding created: its RoleId is {found_id}, the \
         state records {expected_id}{}. It was left alone",
        owner.as_ref().map(|o| format!(", and it is marked as owned by {o}")).unwrap_or_default()
    )]
    RoleReplaced {
        /// The role name.
        name: String,
        /// The RoleId the state records.
        expected_id: String,
        /// The RoleId the role of that name has.
        found_id: String,
        /// The owner its tag names, if any.
        owner: Option<String>,
    },
    /// The role still has policies the binding does not manage, and may not detach them.
    #[error(
        "IAM role {name} was not deleted: it still has policies this binding does not manage \
         ({}). They were left in place",
        describe_policies(managed, inline)
    )]
    ForeignPolicies {
        /// The role name.
        name: String,
        /// Managed policy ARNs attached to it.
        managed: Vec<String>,
        /// Inline policy names.
        inline: Vec<String>,
    },
    /// An EKS Pod Identity association for the ServiceAccount gives another role.
    #[error(
        "EKS Pod Identity association {id} in cluster {cluster} already gives \
         {namespace}/{service_account} the role {role_arn}, which is not this binding's; it \
         was left alone"
    )]
    AssociationTaken {
        /// The cluster.
        cluster: String,
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount's name.
        service_account: String,
        /// The association's id.
        id: String,
        /// The role it gives.
        role_arn: String,
    },
    /// `StopProvider` arrived.
    #[error("cancelled: Terraform asked the provider to stop")]
    Cancelled,
    /// `verify` could not exchange a ServiceAccount token for role credentials in time.
    #[error("verification failed: {0}")]
    Verify(String),
}

/// `managed policy A, inline policy b` for an error message.
fn describe_policies(managed: &[String], inline: &[String]) -> String {
    managed
        .iter()
        .map(|arn| format!("managed policy {arn}"))
        .chain(inline.iter().map(|name| format!("inline policy {name}")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl BindingError {
    /// Whether this is the cancellation of the whole operation (not a failure of its own).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BindingError::Cancelled)
            || matches!(self, BindingError::Kube(e) if e.kind == crate::kubernetes::KubeErrorKind::Cancelled)
    }
}
