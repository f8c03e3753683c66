//! A JSON Web Key Set (RFC 7517) with the RSA (RFC 7518 section 6.3) and EC P-256 (section
//! 6.2) public keys that verify RS256 and ES256 signatures. Keys of other types are kept but
//! never match.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// One public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`.
    pub kid: Option<String>,
    /// `kty`: `RSA`, `EC`, ...
    pub kty: String,
    /// `alg` when the key names one.
    pub alg: Option<String>,
    material: Material,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> },
    Other,
}

/// A key set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Jwks {
    /// The keys, in document order.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Reads `{"keys": [...]}`; a key whose numbers are not base64url is skipped.
    pub fn from_json(value: &Value) -> Result<Jwks, String> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no \"keys\" list")?;
        Ok(Jwks {
            keys: keys.iter().filter_map(Jwk::from_json).collect(),
        })
    }
}

impl Jwk {
    fn from_json(value: &Value) -> Option<Jwk> {
        let text = |name: &str| value.get(name).and_then(Value::as_str);
        let bytes = |name: &str| URL_SAFE_NO_PAD.decode(text(name)?).ok();
        let kty = text("kty")?.to_string();
        let material = match (kty.as_str(), text("crv")) {
            ("RSA", _) => Material::Rsa {
                n: bytes("n")?,
                e: bytes("e")?,
            },
            ("EC", Some("P-256")) => {
                let mut point = vec![0x04];
                point.extend(bytes("x")?);
                point.extend(bytes("y")?);
                Material::P256 { point }
            }
            _ => Material::Other,
        };
        Some(Jwk {
            kid: text("kid").map(str::to_string),
            alg: text("alg").map(str::to_string),
            kty,
            material,
        })
    }

    /// Whether this key can verify `algorithm`.
    pub fn accepts(&self, algorithm: &str) -> bool {
        let by_type = matches!(
            (algorithm, &self.material),
            ("RS256", Material::Rsa { .. }) | ("ES256", Material::P256 { .. })
        );
        by_type && self.alg.as_deref().is_none_or(|alg| alg == algorithm)
    }

    /// Whether `signature` over `message` verifies with this key.
    pub fn verify(&self, algorithm: &str, message: &[u8], signature: &[u8]) -> bool {
        match (algorithm, &self.material) {
            ("RS256", Material::Rsa { n, e }) => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            ("ES256", Material::P256 { point }) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}
