use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;

struct RsaKey {
    key: RsaKeyPair,
    kid: String,
}

impl RsaKey {
    fn new(kid: &str) -> RsaKey {
        RsaKey {
            key: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            kid: kid.into(),
        }
    }

    fn jwk(&self) -> Value {
        let public = self.key.public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let input = signing_input(&json!({"alg": "RS256", "kid": self.kid}), claims);
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn claims(now: i64) -> Value {
    json!({
        "iss": "https://issuer.example",
        "sub": "system:serviceaccount:ci:runner",
        "aud": ["sts.amazonaws.com"],
        "iat": now, "nbf": now, "exp": now + 600,
    })
}

fn jwks(keys: &[Value]) -> Jwks {
    Jwks::from_json(&json!({"keys": keys})).unwrap()
}

#[test]
fn rs256_tokens_verify_against_their_key_and_not_another_clusters() {
    let now = 1_800_000_000;
    let ours = RsaKey::new("ours");
    let theirs = RsaKey::new("theirs");
    let token = ours.sign(&claims(now));
    let parsed = UnverifiedToken::parse(&token).unwrap();
    let verified = parsed
        .verify(&jwks(&[theirs.jwk(), ours.jwk()]), now)
        .unwrap();
    assert_eq!(verified.subject(), Some("system:serviceaccount:ci:runner"));
    assert_eq!(verified.audiences(), vec!["sts.amazonaws.com".to_string()]);
    assert_eq!(
        parsed.verify(&jwks(&[theirs.jwk()]), now),
        Err(TokenError::UnknownKey {
            kid: Some("ours".into()),
            known: vec!["theirs".into()]
        })
    );
    // Another cluster's key under the same key id: the signature itself fails.
    let mut impostor = theirs.jwk();
    impostor["kid"] = json!("ours");
    assert_eq!(
        parsed.verify(&jwks(&[impostor]), now),
        Err(TokenError::BadSignature {
            kid: Some("ours".into())
        })
    );
}

#[test]
fn tampered_claims_break_the_signature() {
    let now = 1_800_000_000;
    let key = RsaKey::new("k");
    let token = key.sign(&claims(now));
    let mut forged = claims(now);
    forged["sub"] = json!("system:serviceaccount:kube-system:admin");
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert!(matches!(
        UnverifiedToken::parse(&tampered)
            .unwrap()
            .verify_signature(&jwks(&[key.jwk()])),
        Err(TokenError::BadSignature { .. })
    ));
}

#[test]
fn expired_and_future_tokens_are_refused() {
    let now = 1_800_000_000;
    let key = RsaKey::new("k");
    let token = UnverifiedToken::parse(&key.sign(&claims(now))).unwrap();
    assert_eq!(
        token.verify(&jwks(&[key.jwk()]), now + 600),
        Err(TokenError::Expired {
            exp: now + 600,
            now: now + 600
        })
    );
    let early = now - NOT_BEFORE_LEEWAY_SECONDS - 1;
    assert_eq!(
        token.check_time(early),
        Err(TokenError::NotYetValid {
            nbf: now,
            now: early
        })
    );
    assert!(token.check_time(now - NOT_BEFORE_LEEWAY_SECONDS).is_ok());
}

#[test]
fn es256_tokens_verify() {
    let now = 1_800_000_000;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = key.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "ec",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let input = signing_input(&json!({"alg": "ES256", "kid": "ec"}), &claims(now));
    let signature = key.sign(&rng, input.as_bytes()).unwrap();
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
    let parsed = UnverifiedToken::parse(&token).unwrap();
    assert!(parsed.verify(&jwks(&[jwk]), now).is_ok());
    let rsa = RsaKey::new("ec");
    assert!(matches!(
        parsed.verify(&jwks(&[rsa.jwk()]), now),
        Err(TokenError::UnknownKey { .. })
    ));
}

#[test]
fn malformed_and_unsigned_tokens_are_refused() {
    assert!(matches!(
        UnverifiedToken::parse("a.b"),
        Err(TokenError::Malformed(_))
    ));
    let none = format!("{}.", signing_input(&json!({"alg": "none"}), &claims(0)));
    assert_eq!(
        UnverifiedToken::parse(&none)
            .unwrap()
            .verify_signature(&Jwks::default()),
        Err(TokenError::UnsupportedAlgorithm("none".into()))
    );
}
