//! The rig's STS for `AssumeRoleWithWebIdentity`: it checks what real STS checks before the
//! emulator (moto and LocalStack accept any token for any role) hands out credentials, and
//! otherwise answers with the error real STS returns
//! (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>,
//! "Errors"):
//!
//! | check, in STS's order | refusal |
//! |---|---|
//! | an IAM OIDC provider has the token's `iss` as URL | 400 `InvalidIdentityToken` "No OpenIDConnect provider found in your account for ISS" |
//! | the issuer's discovery document and JWKS can be fetched, the token's `kid` is in it | 400 `InvalidIdentityToken` "Couldn't retrieve verification key from your identity provider, ..." |
//! | the signature verifies | 400 `InvalidIdentityToken` (API reference message) |
//! | `exp` is in the future | 400 `ExpiredTokenException` (API reference message) |
//! | `aud` is among the provider's client ids | 400 `InvalidIdentityToken` "Incorrect token audience" |
//! | the token has a `sub` | 403 `IDPRejectedClaim` (API reference message) |
//! | the role's trust policy admits the provider, `ISSUER:sub` and `ISSUER:aud` | 403 `AccessDenied` "Not authorized to perform sts:AssumeRoleWithWebIdentity" |
//!
//! The JWKS is found the way AWS finds it: `ISSUER/.well-known/openid-configuration`, then
//! its `jwks_uri`. The issuer is not reachable from the rig, so [`IdentitySources::fetch`]
//! maps it to the Kubernetes API whose discovery document names that issuer (the emulator,
//! or a real API server through `TF_ACC_KUBECONFIG`); any other issuer cannot be fetched.
//! The trust policy is evaluated by [`trust`], written apart from the provider's evaluator.

mod sources;
pub mod token;
pub mod trust;

#[cfg(test)]
pub(crate) mod test_issuer;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::Value;

pub use sources::RigSources;

/// An IAM OIDC provider as the emulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    /// Its ARN.
    pub arn: String,
    /// Its URL (with or without `https://`).
    pub url: String,
    /// `ClientIDList`.
    pub client_ids: Vec<String>,
}

/// What the rig's STS and its EKS Auth both read: roles' trust policies from the emulator's
/// IAM, and the documents of the cluster's issuer.
pub trait RoleAndIssuerSources: Send + Sync {
    /// The role's trust policy (decoded JSON); `None` when the role does not exist.
    fn trust_policy<'a>(
        &'a self,
        role_arn: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, String>>;
    /// `GET ISSUER + path` with `Accept: accept`, as JSON; `None` when the issuer cannot be
    /// reached (it is not the cluster's) or the document does not exist.
    fn fetch<'a>(
        &'a self,
        issuer: &'a str,
        path: &'a str,
        accept: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, String>>;
}

/// Where the gate reads the world from: beside roles and the issuer, the account's OIDC
/// providers.
pub trait IdentitySources: RoleAndIssuerSources {
    /// The OIDC providers of the account and partition of `role_arn`.
    fn oidc_providers<'a>(
        &'a self,
        role_arn: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProviderRecord>, String>>;
}

/// The JWKS of `issuer`, found the way AWS finds it: `ISSUER/.well-known/openid-configuration`
/// (whose `issuer` must be `issuer`), then the path of its `jwks_uri`, fetched as
/// `application/jwk-set+json`. `None` when any of that is missing; `Err` when a fetch failed.
pub async fn issuer_jwks<S: RoleAndIssuerSources + ?Sized>(
    sources: &S,
    issuer: &str,
) -> Result<Option<Value>, String> {
    let Some(discovery) = sources
        .fetch(
            issuer,
            "/.well-known/openid-configuration",
            "application/json",
        )
        .await?
        .filter(|d| d.get("issuer").and_then(Value::as_str) == Some(issuer))
    else {
        return Ok(None);
    };
    let Some(jwks_path) = discovery
        .get("jwks_uri")
        .and_then(Value::as_str)
        .and_then(|uri| uri.strip_prefix("https://"))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
    else {
        return Ok(None);
    };
    sources
        .fetch(issuer, &jwks_path, "application/jwk-set+json")
        .await
}

/// An STS error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRefusal {
    /// HTTP status.
    pub status: u16,
    /// The error code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

/// The messages of the STS API reference ("Errors" of AssumeRoleWithWebIdentity).
pub mod messages {
    /// `InvalidIdentityToken`, general.
    pub const INVALID_IDENTITY_TOKEN: &str = "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.";
    /// `InvalidIdentityToken` when the JWKS cannot be had (the text STS returns).
    pub const NO_VERIFICATION_KEY: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
    /// `InvalidIdentityToken` for an audience the provider does not list.
    pub const INCORRECT_AUDIENCE: &str = "Incorrect token audience";
    /// `ExpiredTokenException`.
    pub const EXPIRED: &str = "The web identity token that was passed is expired or is not valid. Get a new identity token from the identity provider and then retry the request.";
    /// `IDPRejectedClaim`.
    pub const IDP_REJECTED_CLAIM: &str = "The identity provider (IdP) reported that authentication failed. This might be because the claim is invalid. If this error is returned for the AssumeRoleWithWebIdentity operation, it can also mean that the claim has expired or has been explicitly revoked.";
    /// `AccessDenied`.
    pub const NOT_AUTHORIZED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
}

fn refuse(status: u16, code: &'static str, message: impl Into<String>) -> StsRefusal {
    StsRefusal {
        status,
        code,
        message: message.into(),
    }
}

fn invalid(message: impl Into<String>) -> StsRefusal {
    refuse(400, "InvalidIdentityToken", message)
}

/// The issuer's host and path: no scheme, no trailing `/`, the host in lower case.
pub fn host_path(url: &str) -> String {
    let bare = url.trim();
    let bare = bare
        .strip_prefix("https://")
        .unwrap_or(bare)
        .trim_end_matches('/');
    match bare.split_once('/') {
        Some((host, path)) => format!("{}/{path}", host.to_ascii_lowercase()),
        None => bare.to_ascii_lowercase(),
    }
}

/// The checks, with the refusals they gave (for tests to assert on).
pub struct WebIdentityGate {
    sources: Box<dyn IdentitySources>,
    refusals: Mutex<Vec<StsRefusal>>,
    clock: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for WebIdentityGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebIdentityGate").finish_non_exhaustive()
    }
}

impl WebIdentityGate {
    /// A gate over `sources`, on the system clock.
    pub fn new(sources: impl IdentitySources + 'static) -> Arc<WebIdentityGate> {
        WebIdentityGate::with_clock(sources, || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    }

    /// A gate whose "now" (Unix seconds) is `clock()`.
    pub fn with_clock(
        sources: impl IdentitySources + 'static,
        clock: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Arc<WebIdentityGate> {
        Arc::new(WebIdentityGate {
            sources: Box::new(sources),
            refusals: Mutex::new(Vec::new()),
            clock: Box::new(clock),
        })
    }

    /// Every refusal so far.
    pub fn refusals(&self) -> Vec<StsRefusal> {
        self.refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checks one `AssumeRoleWithWebIdentity` form (its decoded parameters); `Ok` lets it
    /// through to the emulator.
    pub async fn check(&self, params: &[(String, String)]) -> Result<(), StsRefusal> {
        let result = self.decide(params).await;
        if let Err(refusal) = &result {
            self.refusals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(refusal.clone());
        }
        result
    }

    async fn decide(&self, params: &[(String, String)]) -> Result<(), StsRefusal> {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let (role_arn, token) = (param("RoleArn"), param("WebIdentityToken"));
        let jws =
            token::Jws::parse(token).ok_or_else(|| invalid(messages::INVALID_IDENTITY_TOKEN))?;
        let issuer = jws.claim("iss").unwrap_or_default().to_string();
        let unavailable = |e: String| refuse(400, "IDPCommunicationError", e);
        let providers = self
            .sources
            .oidc_providers(role_arn)
            .await
            .map_err(unavailable)?;
        let provider = providers
            .into_iter()
            .find(|p| host_path(&p.url) == host_path(&issuer))
            .ok_or_else(|| {
                invalid(format!(
                    "No OpenIDConnect provider found in your account for {issuer}"
                ))
            })?;
        let jwks = issuer_jwks(self.sources.as_ref(), &issuer)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| invalid(messages::NO_VERIFICATION_KEY))?;
        match jws.verifies_with(&jwks) {
            None => return Err(invalid(messages::NO_VERIFICATION_KEY)),
            Some(false) => return Err(invalid(messages::INVALID_IDENTITY_TOKEN)),
            Some(true) => {}
        }
        let now = (self.clock)();
        let expired = jws
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| now >= exp);
        if expired {
            return Err(refuse(400, "ExpiredTokenException", messages::EXPIRED));
        }
        let audience = jws
            .audiences()
            .into_iter()
            .find(|aud| provider.client_ids.contains(aud))
            .ok_or_else(|| invalid(messages::INCORRECT_AUDIENCE))?;
        let subject = jws
            .claim("sub")
            .ok_or_else(|| refuse(403, "IDPRejectedClaim", messages::IDP_REJECTED_CLAIM))?;
        let denied = || refuse(403, "AccessDenied", messages::NOT_AUTHORIZED);
        let policy = self
            .sources
            .trust_policy(role_arn)
            .await
            .map_err(unavailable)?
            .ok_or_else(denied)?;
        let key = host_path(&provider.url);
        let request = trust::WebIdentityRequest {
            provider_arn: provider.arn.clone(),
            context: vec![
                (format!("{key}:sub"), subject.to_string()),
                (format!("{key}:aud"), audience),
            ],
        };
        match trust::admits(&policy, &request) {
            true => Ok(()),
            false => Err(denied()),
        }
    }
}

/// The parameters of an `application/x-www-form-urlencoded` body.
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Gates registered for emulator endpoints: a proxy in front of such an endpoint checks web
/// identities with its gate, and workspaces pointed at it send STS to [`GateEntry::sts_url`].
#[derive(Debug, Clone)]
pub struct GateEntry {
    /// The emulator endpoint.
    pub upstream: String,
    /// The gate.
    pub gate: Arc<WebIdentityGate>,
    /// A proxy with the gate in front of `upstream`, for `AWS_ENDPOINT_URL_STS`.
    pub sts_url: String,
}

static GATES: Mutex<Vec<GateEntry>> = Mutex::new(Vec::new());

/// Registers the gate for `upstream` (before any proxy for it starts).
pub fn register_gate(upstream: &str, gate: Arc<WebIdentityGate>) {
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    gates.retain(|g| g.upstream != upstream.trim_end_matches('/'));
    gates.push(GateEntry {
        upstream: upstream.trim_end_matches('/').to_string(),
        gate,
        sts_url: String::new(),
    });
}

/// Records the URL of the STS proxy of `upstream`'s gate.
pub fn set_sts_url(upstream: &str, url: &str) {
    let mut gates = GATES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = gates
        .iter_mut()
        .find(|g| g.upstream == upstream.trim_end_matches('/'))
    {
        entry.sts_url = url.to_string();
    }
}

/// The gate registered for `upstream`.
pub fn gate_for(upstream: &str) -> Option<GateEntry> {
    GATES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|g| g.upstream == upstream.trim_end_matches('/'))
        .cloned()
}
