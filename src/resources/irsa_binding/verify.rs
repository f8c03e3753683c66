//! `verify`: proves the wiring end to end the way a pod would use it. A token minted for the
//! ServiceAccount (TokenRequest, with the binding's audience) is first checked locally for
//! everything real STS checks ([`sts_checks`]): its signature against the cluster's JWKS, `exp`,
//! `iss` and `aud` against the OIDC provider (`GetOpenIDConnectProvider`), and the role's
//! trust policy as IAM holds it (`GetRole`). Then it is exchanged for role credentials with
//! STS `AssumeRoleWithWebIdentity`. The IAM reads and the exchange are retried until they
//! pass or the timeout passes: IAM takes a few seconds to show a new role or trust policy.
//! A local check that still fails at the deadline is the error, whatever STS answers. The
//! OIDC provider comes from the provider process's cache when the apply's wiring check
//! already read it ([`super::iam::SdkIam::reading_oidc_providers_through`]).
//!
//! A binding that serves EKS Pod Identity is verified the way the EKS Pod Identity Agent gets
//! a pod its credentials ([`verify_pod_identity`]); one that serves both mechanisms is
//! verified for both, side by side.

use tokio::sync::OnceCell;

use crate::jwt::{Jwks, unix_now};
use crate::retry::{RetryError, retry};

use super::error::BindingError;
use super::model::Binding;
use super::remote::{IamRole, Remote};
use super::sts_checks::{self, WiringError};
use super::verify_pod_identity;

/// The session name STS records for the check.
pub const SESSION_NAME: &str = "gitlabrunner-verify";
/// The token lifetime: the least Kubernetes accepts.
pub const TOKEN_SECONDS: i64 = 600;
/// Where the API server serves the service-account issuer's keys, and the only media type it
/// serves them as (`application/json` gets 406).
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// The JWKS media type (RFC 7517 section 8.5).
pub const JWKS_MEDIA_TYPE: &str = "application/jwk-set+json";

/// What `verify` established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The assumed-role ARN: STS's for IRSA, else EKS Auth's for Pod Identity.
    pub identity_arn: String,
    /// The assumed-role ARN EKS Auth returned, when the binding serves Pod Identity.
    pub pod_identity_arn: Option<String>,
    /// Checks that could not run, and why (warnings for the user).
    pub skipped: Vec<String>,
}

/// One attempt's failure: a local check, or STS itself.
#[derive(Debug)]
enum AttemptError {
    Wiring(WiringError),
    Remote(BindingError),
}

/// The cluster's service account signing keys, read once per `verify` however many
/// mechanisms need them, with the reason when they could not be read.
#[derive(Default)]
pub struct ClusterKeys {
    read: OnceCell<(Option<Jwks>, Vec<String>)>,
}

impl ClusterKeys {
    /// The JWKS (`None`: not checked, and [`ClusterKeys::skipped`] says why).
    pub async fn get(&self, remote: &Remote<'_>) -> Result<Option<&Jwks>, BindingError> {
        let (jwks, _) = self.read.get_or_try_init(|| read_jwks(remote)).await?;
        Ok(jwks.as_ref())
    }

    /// Why the signature was not checked, if it was not.
    pub fn skipped(&self) -> Vec<String> {
        self.read
            .get()
            .map(|(_, skipped)| skipped.clone())
            .unwrap_or_default()
    }
}

async fn read_jwks(remote: &Remote<'_>) -> Result<(Option<Jwks>, Vec<String>), BindingError> {
    let skipped = |why: String| Ok((None, vec![why]));
    match remote.kube.get_json(JWKS_PATH, JWKS_MEDIA_TYPE).await {
        Ok(Some(document)) => match Jwks::from_json(&document) {
            Ok(jwks) => Ok((Some(jwks), Vec::new())),
            Err(problem) => skipped(format!(
                "The token's signature was not checked: the cluster's {JWKS_PATH} is not \
                 a JWKS ({problem})."
            )),
        },
        Ok(None) => skipped(format!(
            "The token's signature was not checked: the cluster does not serve {JWKS_PATH}."
        )),
        Err(error) if !error.is_transient() => skipped(format!(
            "The token's signature was not checked: the provider's Kubernetes identity \
             cannot read {JWKS_PATH} ({error}). The ClusterRole \
             system:service-account-issuer-discovery grants it."
        )),
        Err(error) => Err(error.into()),
    }
}

/// Proves each mechanism the binding serves (IRSA, EKS Pod Identity, or both side by side)
/// the way a pod would use it.
pub async fn verify(remote: &Remote<'_>, binding: &Binding) -> Result<Verified, BindingError> {
    let keys = ClusterKeys::default();
    let irsa = async {
        match binding.irsa {
            true => Some(verify_irsa(remote, binding, &keys).await),
            false => None,
        }
    };
    let pod_identity = async {
        match &binding.pod_identity {
            Some(pod) => Some(verify_pod_identity::verify(remote, binding, pod, &keys).await),
            None => None,
        }
    };
    let (irsa, pod_identity) = remote.fanout.both(irsa, pod_identity).await;
    let (irsa, pod_identity) = match (irsa.transpose(), pod_identity.transpose()) {
        (Ok(irsa), Ok(pod_identity)) => (irsa, pod_identity),
        (Err(BindingError::Verify(a)), Err(BindingError::Verify(b))) => {
            return Err(BindingError::Verify(format!("{a} And {b}")));
        }
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    let identity_arn = irsa.or_else(|| pod_identity.clone()).ok_or_else(|| {
        BindingError::Verify("the binding serves neither IRSA nor EKS Pod Identity".into())
    })?;
    Ok(Verified {
        identity_arn,
        pod_identity_arn: pod_identity,
        skipped: keys.skipped(),
    })
}

/// The binding's role as IAM holds it now; a missing role is a `verify` error.
pub(super) async fn current_role(
    remote: &Remote<'_>,
    binding: &Binding,
) -> Result<IamRole, BindingError> {
    remote
        .iam
        .get_role(&binding.role_name)
        .await?
        .ok_or_else(|| {
            BindingError::Verify(format!("IAM role {} does not exist", binding.role_name))
        })
}

/// IRSA: mints a token, checks the wiring locally and assumes the role with it.
async fn verify_irsa(
    remote: &Remote<'_>,
    binding: &Binding,
    keys: &ClusterKeys,
) -> Result<String, BindingError> {
    let token = remote
        .kube
        .create_token(
            &binding.namespace,
            &binding.service_account_name,
            &binding.audience,
            TOKEN_SECONDS,
        )
        .await?;
    let jwks = keys.get(remote).await?;
    let token_checked = sts_checks::check_token(&token, jwks, unix_now())
        .map_err(|error| failed(binding, &error.to_string()))?;
    let timeout = binding.verify.as_ref().and_then(|v| v.timeout_seconds);
    let backoff = remote.verify_backoff(timeout);
    let attempt = || async {
        let provider = remote
            .iam
            .get_oidc_provider(&binding.oidc_provider_arn)
            .await
            .map_err(|e| AttemptError::Remote(e.into()))?
            .ok_or_else(|| {
                AttemptError::Wiring(WiringError::ProviderMissing {
                    arn: binding.oidc_provider_arn.clone(),
                })
            })?;
        let audience =
            sts_checks::check_provider(&token_checked, &provider).map_err(AttemptError::Wiring)?;
        let role = current_role(remote, binding)
            .await
            .map_err(AttemptError::Remote)?;
        sts_checks::check_trust(
            &binding.role_name,
            &role.trust_policy,
            &token_checked,
            &provider,
            &audience,
        )
        .map_err(AttemptError::Wiring)?;
        remote
            .sts
            .assume_role_with_web_identity(&binding.role_arn, &token, SESSION_NAME)
            .await
            .map_err(|e| AttemptError::Remote(e.into()))
    };
    // Every refusal may be propagation delay until the deadline says otherwise.
    match retry(backoff, &remote.cancel, attempt, |_| Some(None)).await {
        Ok(identity_arn) => Ok(identity_arn),
        Err(RetryError::Cancelled) => Err(BindingError::Cancelled),
        Err(RetryError::Failed(AttemptError::Wiring(error))) => {
            Err(failed(binding, &error.to_string()))
        }
        Err(RetryError::Failed(AttemptError::Remote(error))) => Err(BindingError::Verify(format!(
            "a token for ServiceAccount {} (audience {:?}) passed every local check but could \
             not be exchanged for credentials of {} within {} s: {error}",
            binding.id(),
            binding.audience,
            binding.role_arn,
            backoff.deadline.as_secs()
        ))),
    }
}

fn failed(binding: &Binding, why: &str) -> BindingError {
    BindingError::Verify(format!(
        "a token for ServiceAccount {} (audience {:?}) would be refused by STS for {}: {why}.",
        binding.id(),
        binding.audience,
        binding.role_arn,
    ))
}
