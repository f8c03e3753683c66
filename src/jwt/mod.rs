//! Kubernetes service-account tokens as STS reads them: a compact JWS (RFC 7515) whose
//! signature is checked against the issuer's JWKS (RFC 7517), and whose `exp`/`nbf` are
//! checked against the clock (RFC 7519 section 4.1.4-4.1.5).
//!
//! Signatures are verified with aws-lc-rs, the crypto library rustls already uses here:
//! RS256 (RSASSA-PKCS1-v1_5 with SHA-256, what kube-apiserver signs with by default) and ES256
//! (ECDSA P-256, for clusters with an EC signing key), RFC 7518 section 3.

mod jwks;

#[cfg(test)]
mod tests;

pub use jwks::{Jwk, Jwks};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// How far the token's `nbf` may lie in the future: the clock skew tolerated between the
/// cluster and the machine that checks.
pub const NOT_BEFORE_LEEWAY_SECONDS: i64 = 60;

/// Why a token is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with JSON header and claims.
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    /// An algorithm other than RS256/ES256.
    #[error("the token is signed with {0:?}; only RS256 and ES256 are verified")]
    UnsupportedAlgorithm(String),
    /// No key of the JWKS has the token's `kid` (and algorithm).
    #[error(
        "no key of the issuer's JWKS has the token's key id {} (the JWKS has {known:?}): \
         the token was signed by another key, e.g. another cluster's",
        quoted(kid)
    )]
    UnknownKey {
        /// The token's `kid`.
        kid: Option<String>,
        /// The key ids the JWKS has.
        known: Vec<String>,
    },
    /// The signature does not verify with the key.
    #[error(
        "the token's signature does not verify with key {} of the issuer's JWKS: it was \
         signed by another key, e.g. another cluster's",
        quoted(kid)
    )]
    BadSignature {
        /// The key tried.
        kid: Option<String>,
    },
    /// `exp` is past.
    #[error("the token expired at {exp} (now {now}, Unix seconds)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// `nbf` is in the future.
    #[error("the token is not valid before {nbf} (now {now}, Unix seconds)")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The time of the check.
        now: i64,
    },
}

fn quoted(kid: &Option<String>) -> String {
    kid.as_ref()
        .map_or_else(|| "(none)".to_string(), |kid| format!("{kid:?}"))
}

/// A token split into its parts, not verified yet.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedToken {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Claims,
    signing_input: String,
    signature: Vec<u8>,
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims(pub Map<String, Value>);

impl Claims {
    fn string(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.string("iss")
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.string("sub")
    }

    /// `aud`, a string or a list (RFC 7519 section 4.1.3), as a list.
    pub fn audiences(&self) -> Vec<String> {
        match self.0.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `exp` in Unix seconds.
    pub fn expires(&self) -> Option<i64> {
        self.0.get("exp").and_then(Value::as_i64)
    }

    /// `nbf` in Unix seconds.
    pub fn not_before(&self) -> Option<i64> {
        self.0.get("nbf").and_then(Value::as_i64)
    }
}

impl UnverifiedToken {
    /// Splits and decodes a compact JWS.
    pub fn parse(token: &str) -> Result<UnverifiedToken, TokenError> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        let [header, claims, signature] = parts.as_slice() else {
            return Err(TokenError::Malformed(format!(
                "{} dot-separated parts, not 3",
                parts.len()
            )));
        };
        let json = |part: &str, what: &str| -> Result<Map<String, Value>, TokenError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| TokenError::Malformed(format!("the {what} is not base64url: {e}")))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(TokenError::Malformed(format!(
                    "the {what} is not a JSON object"
                ))),
            }
        };
        Ok(UnverifiedToken {
            header: json(header, "header")?,
            claims: Claims(json(claims, "claims")?),
            signing_input: format!("{header}.{claims}"),
            signature: URL_SAFE_NO_PAD.decode(signature).map_err(|e| {
                TokenError::Malformed(format!("the signature is not base64url: {e}"))
            })?,
        })
    }

    /// `alg` from the header.
    pub fn algorithm(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }

    /// `kid` from the header.
    pub fn key_id(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Checks the signature with the JWKS key of the token's `kid` (or, without `kid`, with
    /// every key of the algorithm's type until one verifies).
    pub fn verify_signature(&self, jwks: &Jwks) -> Result<(), TokenError> {
        let algorithm = self.algorithm();
        if !matches!(algorithm, "RS256" | "ES256") {
            return Err(TokenError::UnsupportedAlgorithm(algorithm.to_string()));
        }
        let kid = self.key_id().map(str::to_string);
        let candidates: Vec<&Jwk> = jwks
            .keys
            .iter()
            .filter(|key| key.accepts(algorithm))
            .filter(|key| kid.is_none() || key.kid == kid)
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey {
                kid,
                known: jwks.keys.iter().filter_map(|k| k.kid.clone()).collect(),
            });
        }
        let verified = candidates
            .iter()
            .any(|key| key.verify(algorithm, self.signing_input.as_bytes(), &self.signature));
        match verified {
            true => Ok(()),
            false => Err(TokenError::BadSignature { kid }),
        }
    }

    /// Checks `exp` (required) and `nbf` (when present) at `now` (Unix seconds).
    pub fn check_time(&self, now: i64) -> Result<(), TokenError> {
        let exp = self
            .claims
            .expires()
            .ok_or_else(|| TokenError::Malformed("the token has no exp claim".into()))?;
        if now >= exp {
            return Err(TokenError::Expired { exp, now });
        }
        if let Some(nbf) = self.claims.not_before()
            && nbf > now + NOT_BEFORE_LEEWAY_SECONDS
        {
            return Err(TokenError::NotYetValid { nbf, now });
        }
        Ok(())
    }

    /// Signature, then time: the claims of a token that passes both.
    pub fn verify(&self, jwks: &Jwks, now: i64) -> Result<&Claims, TokenError> {
        self.verify_signature(jwks)?;
        self.check_time(now)?;
        Ok(&self.claims)
    }
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
