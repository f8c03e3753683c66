//! `verify`: proves the wiring end to end the way a pod would use it. A token minted for the
//! ServiceAccount (TokenRequest, with the binding's audience) is exchanged for role
//! credentials with STS `AssumeRoleWithWebIdentity`, retried until it works or the timeout
//! passes: IAM takes a few seconds to see a new role or trust policy.

use crate::retry::{RetryError, retry};

use super::error::BindingError;
use super::model::Binding;
use super::remote::Remote;

/// The session name STS records for the check.
pub const SESSION_NAME: &str = "gitlabrunner-verify";
/// The token lifetime: the least Kubernetes accepts.
const TOKEN_SECONDS: i64 = 600;

/// Mints a token and assumes the role with it; returns the assumed-role ARN.
pub async fn verify(remote: &Remote<'_>, binding: &Binding) -> Result<String, BindingError> {
    let token = remote
        .kube
        .create_token(
            &binding.namespace,
            &binding.service_account_name,
            &binding.audience,
            TOKEN_SECONDS,
        )
        .await?;
    let timeout = binding.verify.as_ref().and_then(|v| v.timeout_seconds);
    let backoff = remote.verify_backoff(timeout);
    let attempt = || {
        remote
            .sts
            .assume_role_with_web_identity(&binding.role_arn, &token, SESSION_NAME)
    };
    // Every refusal may be propagation delay until the deadline says otherwise.
    match retry(backoff, &remote.cancel, attempt, |_| Some(None)).await {
        Ok(arn) => Ok(arn),
        Err(RetryError::Cancelled) => Err(BindingError::Cancelled),
        Err(RetryError::Failed(error)) => Err(BindingError::Verify(format!(
            "a token for ServiceAccount {} (audience {:?}) could not be exchanged for \
             credentials of {} within {} s: {error}. Check that the OIDC provider in the trust \
             policy is the cluster's and that its client ids include the audience.",
            binding.id(),
            binding.audience,
            binding.role_arn,
            backoff.deadline.as_secs()
        ))),
    }
}
