//! How this provider marks what it creates, so that ownership can be checked: before adopting
//! or deleting an object, and when an interrupted apply left objects behind that the next apply
//! must recognise as its own.

/// The standard Kubernetes label naming the tool that manages an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The value of [`MANAGED_BY_LABEL`] on Kubernetes objects this provider creates, and of
/// [`MANAGED_BY_TAG`] on IAM roles.
pub const MANAGED_BY: &str = "terraform-provider-gitlabrunner";

/// The IAM tag key naming the tool that manages a role.
pub const MANAGED_BY_TAG: &str = "managed-by";

/// The IAM tag and Kubernetes annotation key whose value names the owning resource instance:
/// `NAMESPACE/SERVICE_ACCOUNT` for `gitlabrunner_irsa_binding`.
pub const OWNER_KEY: &str = "terraform-provider-gitlabrunner/owner";
