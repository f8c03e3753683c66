//! PEM shapes for the Kubernetes certificates and key: checked at validate time so that a
//! pasted base64 blob or a truncated key is named before any connection is tried. Errors never
//! quote the input, which may be a private key.

use base64::Engine as _;
use rustls_pemfile::Item;

/// What a PEM setting must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemKind {
    /// One or more `CERTIFICATE` blocks.
    Certificates,
    /// Exactly one unencrypted private key (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`).
    PrivateKey,
}

/// Why a PEM setting is unusable. The text completes "`name` is not usable: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// Base64 of a PEM document instead of the PEM itself.
    #[error(
        "it is base64-encoded PEM; decode it first, e.g. with base64decode(), as EKS returns \
         certificate data base64-encoded"
    )]
    Base64Encoded,
    /// No PEM block at all.
    #[error("it holds no PEM block (-----BEGIN ...-----)")]
    NotPem,
    /// A block that does not decode.
    #[error("a PEM block is malformed or truncated")]
    Malformed,
    /// Certificates were expected, none found.
    #[error("it holds no CERTIFICATE block")]
    NoCertificate,
    /// A key was expected, none found.
    #[error("it holds no private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)")]
    NoKey,
    /// An encrypted key, which cannot be used without its passphrase.
    #[error("the private key is encrypted; give the unencrypted key")]
    EncryptedKey,
    /// More than one key.
    #[error("it holds more than one private key")]
    SeveralKeys,
}

/// Checks that `text` is PEM of the expected kind.
pub fn check(text: &str, kind: PemKind) -> Result<(), PemError> {
    if !text.contains("-----BEGIN") {
        return Err(if decodes_to_pem(text) {
            PemError::Base64Encoded
        } else {
            PemError::NotPem
        });
    }
    let mut certificates = 0;
    let mut keys = 0;
    for item in rustls_pemfile::read_all(&mut text.as_bytes()) {
        match item.map_err(|_| PemError::Malformed)? {
            Item::X509Certificate(der) if is_der_sequence(der.as_ref()) => certificates += 1,
            Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_) => keys += 1,
            Item::X509Certificate(_) => return Err(PemError::Malformed),
            _ => {}
        }
    }
    match kind {
        PemKind::Certificates if certificates == 0 => Err(PemError::NoCertificate),
        PemKind::Certificates => Ok(()),
        PemKind::PrivateKey if keys == 0 && text.contains("ENCRYPTED") => {
            Err(PemError::EncryptedKey)
        }
        PemKind::PrivateKey if keys == 0 => Err(PemError::NoKey),
        PemKind::PrivateKey if keys > 1 => Err(PemError::SeveralKeys),
        PemKind::PrivateKey => Ok(()),
    }
}

/// The DER certificates in `text` (call [`check`] first).
pub fn certificates(text: &str) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut text.as_bytes())
        .filter_map(Result::ok)
        .map(|der| der.as_ref().to_vec())
        .collect()
}

fn decodes_to_pem(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .is_ok_and(|bytes| bytes.windows(10).any(|w| w == b"-----BEGIN"))
}

/// A DER certificate is an ASN.1 SEQUENCE; this catches PEM blocks holding something else.
fn is_der_sequence(der: &[u8]) -> bool {
    der.len() > 2 && der[0] == 0x30
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::new(vec!["k8s.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem()
    }

    fn key_pem() -> String {
        rcgen::KeyPair::generate().unwrap().serialize_pem()
    }

    #[test]
    fn certificates_and_keys_are_accepted() {
        let cert = certificate_pem();
        assert_eq!(check(&cert, PemKind::Certificates), Ok(()));
        assert_eq!(certificates(&cert).len(), 1);
        let bundle = format!("{cert}\n{}", certificate_pem());
        assert_eq!(certificates(&bundle).len(), 2);
        assert_eq!(check(&key_pem(), PemKind::PrivateKey), Ok(()));
    }

    #[test]
    fn base64_encoded_pem_is_recognised() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(certificate_pem());
        assert_eq!(
            check(&encoded, PemKind::Certificates),
            Err(PemError::Base64Encoded)
        );
        assert_eq!(check("hello", PemKind::Certificates), Err(PemError::NotPem));
    }

    #[test]
    fn wrong_or_broken_blocks_are_refused() {
        assert_eq!(
            check(&key_pem(), PemKind::Certificates),
            Err(PemError::NoCertificate)
        );
        assert_eq!(
            check(&certificate_pem(), PemKind::PrivateKey),
            Err(PemError::NoKey)
        );
        let truncated = "-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            check(truncated, PemKind::Certificates),
            Err(PemError::Malformed)
        );
        let two_keys = format!("{}{}", key_pem(), key_pem());
        assert_eq!(
            check(&two_keys, PemKind::PrivateKey),
            Err(PemError::SeveralKeys)
        );
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBAA==\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            check(encrypted, PemKind::PrivateKey),
            Err(PemError::EncryptedKey)
        );
    }

    #[test]
    fn errors_never_quote_the_input() {
        let secret = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n";
        let error = check(secret, PemKind::PrivateKey).unwrap_err().to_string();
        assert!(!error.contains("c2VjcmV0"), "{error}");
    }
}
