//! The configured cluster's service account issuer, read from the cluster itself.
//!
//! First the OIDC discovery document `/.well-known/openid-configuration`, which the API
//! server serves to identities bound to the ClusterRole `system:service-account-issuer-discovery`
//! (Kubernetes docs, "Service account issuer discovery",
//! <https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#service-account-issuer-discovery>).
//! If that is refused or missing, the `iss` claim of a token minted with TokenRequest for the
//! ServiceAccount `default/default` (the payload is only decoded: the issuer is what the
//! cluster signs into its tokens, nothing is trusted on its strength).

use base64::Engine as _;

use crate::kubernetes::{KubeClient, KubeError};

/// The discovery document's path.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The ServiceAccount whose token the fallback mints (every namespace has a `default` one).
const FALLBACK_NAMESPACE: &str = "default";
const FALLBACK_SERVICE_ACCOUNT: &str = "default";

/// What the provider learned about the cluster's issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterIssuer {
    /// The issuer, as the cluster writes it.
    Known {
        /// The issuer URL (`iss` of the cluster's tokens), e.g.
        /// `https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE`.
        issuer: String,
        /// The JWKS URI the discovery document advertises (`None` when the issuer came from
        /// a token).
        jwks_uri: Option<String>,
        /// Where it was read.
        source: IssuerSource,
    },
    /// Neither the discovery document nor a token could be read; says why.
    Unreadable {
        /// Each attempt and its failure.
        reason: String,
    },
}

/// Where the cluster's issuer was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerSource {
    /// `/.well-known/openid-configuration`.
    Discovery,
    /// The `iss` claim of a TokenRequest token.
    TokenRequest,
}

impl IssuerSource {
    /// How diagnostics name the source.
    pub fn describe(self) -> String {
        match self {
            IssuerSource::Discovery => format!("the cluster's {DISCOVERY_PATH}"),
            IssuerSource::TokenRequest => format!(
                "the iss claim of a TokenRequest token for \
                 {FALLBACK_NAMESPACE}/{FALLBACK_SERVICE_ACCOUNT}"
            ),
        }
    }
}

/// Reads the cluster's issuer (see the module docs).
pub async fn discover(kube: &KubeClient) -> ClusterIssuer {
    let discovery_failure = match kube.get_json(DISCOVERY_PATH, "application/json").await {
        Ok(Some(document)) => match from_discovery(&document) {
            Ok(known) => return known,
            Err(why) => why,
        },
        Ok(None) => format!("GET {DISCOVERY_PATH} answered 404 Not Found"),
        Err(error) => describe_kube_error(&error),
    };
    let token_failure = match kube
        .create_token(FALLBACK_NAMESPACE, FALLBACK_SERVICE_ACCOUNT, &[], 600)
        .await
    {
        Ok(token) => match issuer_claim(&token) {
            Ok(issuer) => {
                return ClusterIssuer::Known {
                    issuer,
                    jwks_uri: None,
                    source: IssuerSource::TokenRequest,
                };
            }
            Err(why) => why,
        },
        Err(error) => describe_kube_error(&error),
    };
    ClusterIssuer::Unreadable {
        reason: format!("{discovery_failure}; and the fallback failed too: {token_failure}"),
    }
}

fn from_discovery(document: &serde_json::Value) -> Result<ClusterIssuer, String> {
    let issuer = document
        .get("issuer")
        .and_then(serde_json::Value::as_str)
        .filter(|issuer| !issuer.is_empty())
        .ok_or_else(|| format!("the document at {DISCOVERY_PATH} names no issuer"))?;
    Ok(ClusterIssuer::Known {
        issuer: issuer.to_string(),
        jwks_uri: document
            .get("jwks_uri")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        source: IssuerSource::Discovery,
    })
}

fn describe_kube_error(error: &KubeError) -> String {
    let status = match (error.status, &error.reason) {
        (Some(status), Some(reason)) => format!("{status} {reason}"),
        (Some(status), None) => status.to_string(),
        _ => format!("{:?}", error.kind),
    };
    format!("{} failed ({status}): {}", error.operation, error.message)
}

/// The `iss` claim of a JWT, read without checking the signature.
pub fn issuer_claim(token: &str) -> Result<String, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or("the TokenRequest token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the TokenRequest token's payload is not base64url: {e}"))?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the TokenRequest token's payload is not JSON: {e}"))?;
    claims
        .get("iss")
        .and_then(serde_json::Value::as_str)
        .filter(|issuer| !issuer.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "the TokenRequest token has no iss claim".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        format!(
            "{}.{}.c2ln",
            encode(br#"{"alg":"RS256"}"#),
            encode(claims.to_string().as_bytes())
        )
    }

    #[test]
    fn the_issuer_claim_is_read_from_the_payload() {
        let token = jwt(serde_json::json!({"iss": "https://issuer.example/id/X", "sub": "s"}));
        assert_eq!(issuer_claim(&token).unwrap(), "https://issuer.example/id/X");
    }

    #[test]
    fn a_token_without_issuer_or_not_a_jwt_says_so() {
        assert_eq!(
            issuer_claim(&jwt(serde_json::json!({"sub": "s"}))).unwrap_err(),
            "the TokenRequest token has no iss claim"
        );
        assert_eq!(
            issuer_claim("opaque").unwrap_err(),
            "the TokenRequest token is not a JWT"
        );
        assert!(issuer_claim("a.!!!.c").unwrap_err().contains("base64url"));
    }

    #[test]
    fn the_discovery_document_gives_issuer_and_jwks_uri() {
        let document = serde_json::json!({
            "issuer": "https://kubernetes.default.svc.cluster.local",
            "jwks_uri": "https://10.0.0.1:6443/openid/v1/jwks",
        });
        assert_eq!(
            from_discovery(&document).unwrap(),
            ClusterIssuer::Known {
                issuer: "https://kubernetes.default.svc.cluster.local".into(),
                jwks_uri: Some("https://10.0.0.1:6443/openid/v1/jwks".into()),
                source: IssuerSource::Discovery,
            }
        );
        assert!(from_discovery(&serde_json::json!({"jwks_uri": "x"})).is_err());
    }
}
