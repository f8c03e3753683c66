//! AutoMTLS as go-plugin does it: a fresh self-signed server certificate per process, and the
//! one client certificate Terraform handed over in `PLUGIN_CLIENT_CERT`, pinned exactly.
//!
//! Terraform's client certificate is a self-signed CA certificate (ECDSA P-521). WebPKI path
//! validation rejects a CA certificate used as an end entity, so the client certificate is
//! verified by pinning: the presented certificate must be byte-for-byte the one Terraform gave
//! us, and the handshake signature must verify with its key (aws-lc-rs verifies P-521).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `PLUGIN_CLIENT_CERT` holds no PEM certificate.
    #[error("PLUGIN_CLIENT_CERT does not contain a PEM certificate")]
    NoClientCertificate,
    /// `PLUGIN_CLIENT_CERT` is not valid PEM.
    #[error("PLUGIN_CLIENT_CERT is not valid PEM")]
    InvalidClientCertificate(#[source] std::io::Error),
    /// The server certificate could not be generated.
    #[error("could not generate the server certificate")]
    Certificate(#[source] rcgen::Error),
    /// rustls refused the configuration.
    #[error("could not configure TLS")]
    Config(#[source] rustls::Error),
}

/// The server side of AutoMTLS: the rustls configuration and the certificate to announce.
pub struct ServerTls {
    /// Ready for `tokio_rustls::TlsAcceptor`.
    pub config: Arc<ServerConfig>,
    /// The server certificate (DER), printed base64 in the handshake line.
    pub certificate: CertificateDer<'static>,
}

impl ServerTls {
    /// Generates the server certificate and requires the client certificate in `client_pem`.
    pub fn new(client_pem: &str) -> Result<Self, TlsError> {
        let client = parse_client_certificate(client_pem)?;
        let (certificate, key) = server_certificate()?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = PinnedClientCertificate {
            expected: client,
            algorithms: provider.signature_verification_algorithms,
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Config)?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![certificate.clone()], key)
            .map_err(TlsError::Config)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            certificate,
        })
    }
}

fn parse_client_certificate(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .ok_or(TlsError::NoClientCertificate)?
        .map_err(TlsError::InvalidClientCertificate)
}

/// A self-signed certificate like go-plugin's: SAN `localhost`, a CA, usable for server and
/// client auth, valid from 30 s ago for 30 years.
fn server_certificate() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let key =
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(TlsError::Certificate)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string()]).map_err(TlsError::Certificate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "terraform-provider-gitlabrunner");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + time::Duration::days(30 * 365);
    let cert = params.self_signed(&key).map_err(TlsError::Certificate)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key))
}

/// Accepts exactly one client certificate.
#[derive(Debug)]
struct PinnedClientCertificate {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCertificate {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_client_certificate_is_rejected() {
        assert!(matches!(
            ServerTls::new("not pem"),
            Err(TlsError::NoClientCertificate)
        ));
    }
}
