//! What real STS checks before `AssumeRoleWithWebIdentity` hands out credentials, checked
//! locally against a ServiceAccount token so that a miswiring is named instead of ending in
//! "Not authorized" (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html>):
//! - the signature, against the cluster's JWKS, and `exp`/`nbf`;
//! - `iss`, against the URL of the OIDC provider the role trusts;
//! - `aud`, against that provider's client ids;
//! - the role's trust policy as IAM holds it, evaluated for the token's `sub` and `aud`.
//!
//! Every failure names the claim (or condition key), the expected value and the value found.

use crate::jwt::{Jwks, TokenError, UnverifiedToken};
use crate::trust_eval::{Decision, Request, evaluate_text};

use super::remote::OidcProvider;

/// A check STS would fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WiringError {
    /// The token does not verify (signature, key, `exp`, `nbf`).
    #[error("the ServiceAccount token is refused: {0}")]
    Token(#[from] TokenError),
    /// The OIDC provider the binding trusts does not exist in IAM.
    #[error(
        "the OIDC provider {arn} does not exist in IAM: STS refuses every token for a role \
         that trusts it (InvalidIdentityToken). Create it for the cluster's issuer (eksctl utils \
         associate-iam-oidc-provider, or an aws_iam_openid_connect_provider resource) or point \
         oidc_provider_arn at the one that exists"
    )]
    ProviderMissing {
        /// The ARN.
        arn: String,
    },
    /// `iss` is not the provider's URL.
    #[error(
        "the token's iss claim is {found:?}, but the OIDC provider {arn} is for {expected:?}: \
         the provider belongs to another cluster (or another issuer). Use the OIDC provider \
         whose URL is this cluster's issuer"
    )]
    Issuer {
        /// The provider's ARN.
        arn: String,
        /// The provider's URL, with `https://`.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// No `aud` is among the provider's client ids.
    #[error(
        "the token's aud claim is {found:?}, but the OIDC provider {arn} accepts only the \
         client ids {expected:?}: add the audience to the provider's client ids, or set the \
         binding's audience to one of them"
    )]
    Audience {
        /// The provider's ARN.
        arn: String,
        /// Its client ids.
        expected: Vec<String>,
        /// The token's audiences.
        found: Vec<String>,
    },
    /// The trust policy does not admit the token.
    #[error(
        "the trust policy IAM holds for role {role} does not admit the token (sub {subject:?}, \
         aud {audience:?}): {decision}"
    )]
    Trust {
        /// The role's name.
        role: String,
        /// The token's `sub`.
        subject: String,
        /// The audience matched against the provider.
        audience: String,
        /// Why.
        decision: Decision,
    },
    /// The trust policy cannot be read as a policy.
    #[error("the trust policy IAM holds for role {role} cannot be evaluated: {problem}")]
    TrustUnreadable {
        /// The role's name.
        role: String,
        /// What is wrong.
        problem: String,
    },
}

/// The token's claims once its signature and lifetime are checked.
pub fn check_token(
    token: &str,
    jwks: Option<&Jwks>,
    now: i64,
) -> Result<UnverifiedToken, WiringError> {
    let parsed = UnverifiedToken::parse(token)?;
    if let Some(jwks) = jwks {
        parsed.verify_signature(jwks)?;
    }
    parsed.check_time(now)?;
    Ok(parsed)
}

/// The issuer's host and path, compared the way IAM matches an issuer to a provider: without
/// the scheme and a trailing `/`, the host case-insensitively.
pub fn normalized_issuer(url: &str) -> String {
    let bare = url
        .trim()
        .strip_prefix("https://")
        .unwrap_or(url.trim())
        .trim_end_matches('/');
    match bare.split_once('/') {
        Some((host, path)) => format!("{}/{path}", host.to_ascii_lowercase()),
        None => bare.to_ascii_lowercase(),
    }
}

/// Checks `iss` and `aud` against the provider; returns the audience STS matches.
pub fn check_provider(
    token: &UnverifiedToken,
    provider: &OidcProvider,
) -> Result<String, WiringError> {
    let issuer = token.claims.issuer().unwrap_or_default();
    if normalized_issuer(issuer) != normalized_issuer(&provider.url) {
        return Err(WiringError::Issuer {
            arn: provider.arn.clone(),
            expected: format!("https://{}", normalized_issuer(&provider.url)),
            found: issuer.to_string(),
        });
    }
    let audiences = token.claims.audiences();
    audiences
        .iter()
        .find(|aud| provider.client_ids.contains(aud))
        .cloned()
        .ok_or_else(|| WiringError::Audience {
            arn: provider.arn.clone(),
            expected: provider.client_ids.clone(),
            found: audiences.clone(),
        })
}

/// Evaluates the trust policy `document` of role `role` for the token, as STS does for
/// `provider` and the matched `audience`.
pub fn check_trust(
    role: &str,
    document: &str,
    token: &UnverifiedToken,
    provider: &OidcProvider,
    audience: &str,
) -> Result<(), WiringError> {
    let subject = token.claims.subject().unwrap_or_default();
    let request = Request::web_identity(
        &provider.arn,
        &normalized_issuer(&provider.url),
        subject,
        audience,
    );
    let decision = evaluate_text(document, &request).map_err(|e| WiringError::TrustUnreadable {
        role: role.to_string(),
        problem: e.to_string(),
    })?;
    match decision.is_allowed() {
        true => Ok(()),
        false => Err(WiringError::Trust {
            role: role.to_string(),
            subject: subject.to_string(),
            audience: audience.to_string(),
            decision,
        }),
    }
}
