//! `verify` for EKS Pod Identity, as the EKS Pod Identity Agent gets a pod its credentials: a
//! ServiceAccount token with the audience `pods.eks.amazonaws.com` (TokenRequest), exchanged
//! with EKS Auth `AssumeRoleForPodIdentity` for the credentials of the role the association
//! names (<https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html>).
//!
//! Before the exchange the token and the role's trust policy as IAM holds it (`GetRole`) are
//! checked locally ([`pod_identity_checks`]), so that a refusal names the statement, key,
//! expected and found value instead of ending in `AccessDeniedException`. The trust read and
//! the exchange are retried until they pass or the timeout passes (IAM and Pod Identity
//! associations take seconds to propagate); refusals that waiting cannot change (an invalid or
//! expired token, an invalid request) end it at once.

use crate::aws::{Arn, AwsError};
use crate::jwt::unix_now;
use crate::retry::{RetryError, retry};

use super::eks_auth::{PodIdentityGrant, explain_refusal};
use super::error::BindingError;
use super::model::{Binding, PodIdentity};
use super::pod_identity_checks::{
    self, POD_IDENTITY_SERVICE, PodIdentityError, PodIdentitySession,
};
use super::remote::Remote;
use super::verify::{ClusterKeys, TOKEN_SECONDS, current_role};

/// One attempt's failure.
#[derive(Debug)]
enum AttemptError {
    /// A local check.
    Check(PodIdentityError),
    /// EKS Auth refused.
    Refused(AwsError),
    /// Another call failed.
    Remote(BindingError),
}

/// EKS Auth error codes that no amount of waiting changes.
const FINAL_REFUSALS: [&str; 4] = [
    "InvalidTokenException",
    "ExpiredTokenException",
    "InvalidParameterException",
    "InvalidRequestException",
];

/// Mints a Pod Identity token, checks it and the trust locally, and exchanges it with EKS
/// Auth; returns the assumed-role ARN.
pub async fn verify(
    remote: &Remote<'_>,
    binding: &Binding,
    pod: &PodIdentity,
    keys: &ClusterKeys,
) -> Result<String, BindingError> {
    let session = session(remote, binding, pod)?;
    let token = remote
        .kube
        .create_token(
            &binding.namespace,
            &binding.service_account_name,
            POD_IDENTITY_SERVICE,
            TOKEN_SECONDS,
        )
        .await?;
    let jwks = keys.get(remote).await?;
    pod_identity_checks::check_token(&token, jwks, unix_now(), &session)
        .map_err(|error| failed(binding, &error.to_string()))?;
    let timeout = binding.verify.as_ref().and_then(|v| v.timeout_seconds);
    let backoff = remote.verify_backoff(timeout);
    let attempt = || async {
        let role = current_role(remote, binding)
            .await
            .map_err(AttemptError::Remote)?;
        pod_identity_checks::check_trust(&binding.role_name, &role.trust_policy, &session)
            .map_err(AttemptError::Check)?;
        let grant = remote
            .eks_auth
            .assume_role_for_pod_identity(&pod.cluster_name, &token)
            .await
            .map_err(AttemptError::Refused)?;
        check_grant(binding, &grant).map_err(AttemptError::Check)?;
        Ok(grant.assumed_role_arn)
    };
    let retryable = |error: &AttemptError| match error {
        AttemptError::Refused(refusal)
            if refusal
                .code
                .as_deref()
                .is_some_and(|code| FINAL_REFUSALS.contains(&code)) =>
        {
            None
        }
        _ => Some(None),
    };
    match retry(backoff, &remote.cancel, attempt, retryable).await {
        Ok(identity_arn) => Ok(identity_arn),
        Err(RetryError::Cancelled) => Err(BindingError::Cancelled),
        Err(RetryError::Failed(AttemptError::Check(error))) => {
            Err(failed(binding, &error.to_string()))
        }
        Err(RetryError::Failed(AttemptError::Refused(error))) => Err(not_exchanged(
            binding,
            backoff.deadline.as_secs(),
            &explain_refusal(&error, &pod.cluster_name, &binding.id()),
        )),
        Err(RetryError::Failed(AttemptError::Remote(error))) => Err(not_exchanged(
            binding,
            backoff.deadline.as_secs(),
            &error.to_string(),
        )),
    }
}

/// What EKS passes to STS for the binding's ServiceAccount: the cluster is in the region of the
/// EKS Auth endpoint (EKS Auth is regional) and in the role's account.
fn session(
    remote: &Remote<'_>,
    binding: &Binding,
    pod: &PodIdentity,
) -> Result<PodIdentitySession, BindingError> {
    let role = Arn::parse(&binding.role_arn).map_err(|error| {
        BindingError::Verify(format!(
            "the role ARN {:?} is not an ARN ({error}), so the cluster's ARN cannot be known",
            binding.role_arn
        ))
    })?;
    let region = remote.eks_auth.region().ok_or_else(|| {
        BindingError::Verify(
            "the provider has no AWS region, so EKS Auth and the cluster's ARN cannot be known"
                .into(),
        )
    })?;
    Ok(PodIdentitySession::new(
        role.partition,
        &region,
        &role.account,
        &pod.cluster_name,
        &binding.namespace,
        &binding.service_account_name,
    ))
}

/// EKS Auth's answer is for the binding's ServiceAccount and role.
fn check_grant(binding: &Binding, grant: &PodIdentityGrant) -> Result<(), PodIdentityError> {
    let subject = format!("{}/{}", grant.namespace, grant.service_account);
    if subject != binding.id() {
        return Err(PodIdentityError::OtherSubject {
            expected: binding.id(),
            found: subject,
        });
    }
    pod_identity_checks::check_assumed_role(
        &binding.role_arn,
        &binding.role_name,
        &binding.id(),
        &grant.assumed_role_arn,
        &grant.association_id,
    )
}

fn failed(binding: &Binding, why: &str) -> BindingError {
    BindingError::Verify(format!(
        "a token for ServiceAccount {} (audience \"{POD_IDENTITY_SERVICE}\") would be refused \
         by EKS Pod Identity for {}: {why}.",
        binding.id(),
        binding.role_arn,
    ))
}

fn not_exchanged(binding: &Binding, seconds: u64, why: &str) -> BindingError {
    BindingError::Verify(format!(
        "a token for ServiceAccount {} (audience \"{POD_IDENTITY_SERVICE}\") passed every \
         local check but EKS Auth did not exchange it for credentials of {} within {seconds} \
         s: {why}.",
        binding.id(),
        binding.role_arn,
    ))
}
