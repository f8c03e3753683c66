//! The issuer the rig's unit tests (its STS and its EKS Auth) fetch keys from: an EKS-shaped
//! issuer that serves its discovery document and, like the API server, its JWKS only as
//! `application/jwk-set+json`.

use serde_json::{Value, json};

/// The issuer's URL.
pub const ISSUER: &str = "https://oidc.eks.eu-west-1.amazonaws.com/id/CLUSTER";

/// What `GET issuer + path` with `Accept: accept` answers, `jwks` being the issuer's keys;
/// `None` for another issuer, path or media type.
pub fn fetch(issuer: &str, path: &str, accept: &str, jwks: &Value) -> Option<Value> {
    if issuer != ISSUER {
        return None;
    }
    match (path, accept) {
        ("/.well-known/openid-configuration", _) => Some(json!({
            "issuer": ISSUER,
            "jwks_uri": "https://172.18.0.2:6443/openid/v1/jwks",
        })),
        ("/openid/v1/jwks", "application/jwk-set+json") => Some(jwks.clone()),
        _ => None,
    }
}
