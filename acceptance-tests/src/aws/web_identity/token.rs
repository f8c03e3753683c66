//! The token as STS reads it: a compact JWS (RFC 7515) whose RS256 or ES256 signature
//! (RFC 7518 section 3) is checked with a key of the issuer's JWKS (RFC 7517).

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A token split into its parts.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    signed: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Splits and decodes `token`; `None` when it is not a JWS with JSON parts.
    pub fn parse(token: &str) -> Option<Jws> {
        let mut parts = token.trim().split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let object = |part: &str| match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?)
        {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
        Some(Jws {
            header: object(h)?,
            claims: object(c)?,
            signed: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    /// A string claim.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `aud` as a list.
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a key of `jwks` with the token's `kid` verifies the signature; `None` when no
    /// key has that `kid`.
    pub fn verifies_with(&self, jwks: &Value) -> Option<bool> {
        let alg = self.header.get("alg").and_then(Value::as_str)?;
        let kid = self.header.get("kid").and_then(Value::as_str);
        let keys = jwks.get("keys")?.as_array()?;
        let candidates: Vec<&Value> = keys
            .iter()
            .filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        Some(candidates.iter().any(|key| self.verify_one(alg, key)))
    }

    fn verify_one(&self, alg: &str, key: &Value) -> bool {
        let field = |name: &str| {
            key.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        let message = self.signed.as_bytes();
        match (alg, key.get("kty").and_then(Value::as_str)) {
            ("RS256", Some("RSA")) => match (field("n"), field("e")) {
                (Some(n), Some(e)) => RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, message, &self.signature)
                    .is_ok(),
                _ => false,
            },
            ("ES256", Some("EC")) => match (field("x"), field("y")) {
                (Some(x), Some(y)) => {
                    let point = [&[4u8][..], &x, &y].concat();
                    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                        .verify(message, &self.signature)
                        .is_ok()
                }
                _ => false,
            },
            _ => false,
        }
    }
}
