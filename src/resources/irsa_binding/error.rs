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
    /// `StopProvider` arrived.
    #[error("cancelled: Terraform asked the provider to stop")]
    Cancelled,
    /// `verify` could not exchange a ServiceAccount token for role credentials in time.
    #[error("verification failed: {0}")]
    Verify(String),
}

impl BindingError {
    /// Whether this is the cancellation of the whole operation (not a failure of its own).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BindingError::Cancelled)
            || matches!(self, BindingError::Kube(e) if e.kind == crate::kubernetes::KubeErrorKind::Cancelled)
    }
}
