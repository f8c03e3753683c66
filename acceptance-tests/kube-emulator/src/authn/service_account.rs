//! ServiceAccount tokens: RS256 JWTs with the claims of a v1.28 TokenRequest, their
//! verification, and the OIDC discovery documents that make them verifiable elsewhere.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Map, Value, json};

/// Why a signing key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a PEM private key.
    #[error("signing key is not a PEM private key: {0}")]
    Pem(String),
    /// Not an RSA key aws-lc accepts.
    #[error("signing key is not a usable RSA key: {0}")]
    Rejected(String),
}

/// The RSA key that signs ServiceAccount tokens.
pub struct Signer {
    key: KeyPair,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

static SHARED: OnceLock<Arc<Signer>> = OnceLock::new();

impl Signer {
    fn from_key(key: KeyPair) -> Signer {
        let der: PublicKeyX509Der = key.public_key().as_der().expect("public key DER");
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
        Signer {
            kid: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            key,
        }
    }

    /// A fresh 2048-bit key (about 0.2 s of CPU).
    pub fn generate() -> Signer {
        Signer::from_key(KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
    }

    /// A fresh key that signs under the key id `kid` instead of its own: a token signed by
    /// another key under an id the verifier knows, as tests of "another cluster's key" need.
    pub fn generate_with_kid(kid: &str) -> Signer {
        Signer {
            kid: kid.to_string(),
            ..Signer::generate()
        }
    }

    /// The process-wide default key, generated on first use and shared by every emulator
    /// that was not given a key.
    pub fn shared() -> Arc<Signer> {
        SHARED.get_or_init(|| Arc::new(Signer::generate())).clone()
    }

    /// True once [`Signer::shared`] has a key.
    pub fn shared_ready() -> bool {
        SHARED.get().is_some()
    }

    /// Loads a PEM RSA private key (PKCS#1 or PKCS#8).
    pub fn from_pem(pem: &str) -> Result<Signer, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        let key = match &der {
            PrivateKeyDer::Pkcs8(k) => KeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => KeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(KeyError::Rejected(
                    "only RSA keys sign ServiceAccount tokens".into(),
                ));
            }
        }
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(Signer::from_key(key))
    }

    /// Key id (`kid`): base64url SHA-256 of the PKIX public key, as the API server derives it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` as a compact RS256 JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Verifies a JWT's RS256 signature and returns its claims.
    pub fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key.public_key().as_ref(),
        )
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .ok()?;
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).ok()?)
            .ok()?
            .as_object()
            .cloned()
    }

    /// The JWKS document (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        let public = self.key.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        json!({"keys": [{
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(n),
            "e": URL_SAFE_NO_PAD.encode(e),
        }]})
    }
}

/// Where an emulator's signing key comes from.
#[derive(Debug, Clone)]
pub enum SignerSource {
    /// A configured key.
    Fixed(Arc<Signer>),
    /// The process-wide generated key.
    Shared,
}

impl SignerSource {
    /// The key (may block while the shared key is generated).
    pub fn get(&self) -> Arc<Signer> {
        match self {
            SignerSource::Fixed(s) => s.clone(),
            SignerSource::Shared => Signer::shared(),
        }
    }

    /// True when [`SignerSource::get`] will not block.
    pub fn ready(&self) -> bool {
        match self {
            SignerSource::Fixed(_) => true,
            SignerSource::Shared => Signer::shared_ready(),
        }
    }
}

/// The OIDC discovery document (`/.well-known/openid-configuration`).
pub fn openid_configuration(issuer: &str, jwks_uri: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

/// The claims of a TokenRequest-issued token.
pub fn claims(
    issuer: &str,
    audiences: &[String],
    namespace: &str,
    name: &str,
    uid: &str,
    issued_at: i64,
    expiration_seconds: i64,
) -> Value {
    json!({
        "aud": audiences,
        "exp": issued_at + expiration_seconds,
        "iat": issued_at,
        "iss": issuer,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": uid},
        },
        "nbf": issued_at,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_forged_ones_do_not() {
        let signer = Signer::shared();
        let token = signer.sign(&claims(
            "https://issuer",
            &["sts.amazonaws.com".into()],
            "ci",
            "sa",
            "u",
            1000,
            3600,
        ));
        let verified = signer.verify(&token).expect("valid");
        assert_eq!(verified["sub"], "system:serviceaccount:ci:sa");
        assert_eq!(verified["exp"], 4600);
        let mut forged = token.clone();
        forged.truncate(forged.len() - 4);
        forged.push_str("AAAA");
        assert!(signer.verify(&forged).is_none());
        assert_eq!(signer.jwks()["keys"][0]["kid"], signer.kid());
    }
}
