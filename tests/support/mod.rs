//! The provider binary started the way Terraform starts it (go-plugin environment, AutoMTLS
//! with a P-521 client certificate like Terraform's), and a gRPC channel to it over its unix
//! socket. For integration tests that talk to a running provider.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The provider binary cargo built for the integration tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-gitlabrunner");
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client identity: certificate and key.
pub struct Identity {
    cert_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Like Terraform's: a self-signed ECDSA P-521 CA certificate for localhost.
    pub fn p521() -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert_pem: cert.pem(),
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    }
}

/// A running provider, killed when dropped.
pub struct Plugin {
    /// The process.
    pub child: Child,
    socket: PathBuf,
    server_cert: Vec<u8>,
    identity: Identity,
}

impl Plugin {
    /// Starts the provider with AutoMTLS and `env` added to the go-plugin environment.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with_stderr(env, Stdio::null())
    }

    /// Like [`Plugin::start`], with the provider's stderr (its log) going to `stderr`.
    pub fn start_with_stderr(env: &[(&str, &str)], stderr: impl Into<Stdio>) -> Self {
        let identity = Identity::p521();
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", &identity.cert_pem)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        assert_eq!(fields.len(), 6, "handshake line {line:?}");
        let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(fields[5])
            .unwrap();
        Self {
            socket: PathBuf::from(fields[3]),
            server_cert,
            identity,
            child,
        }
    }

    /// A gRPC channel to the provider.
    pub async fn channel(&self) -> Channel {
        let socket = self.socket.clone();
        let tls = Arc::new(client_tls(
            CertificateDer::from(self.server_cert.clone()),
            &self.identity,
        ));
        Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let (socket, tls) = (socket.clone(), tls.clone());
                async move {
                    let unix = tokio::net::UnixStream::connect(socket).await?;
                    let name = ServerName::try_from("localhost").unwrap();
                    let stream = tokio_rustls::TlsConnector::from(tls)
                        .connect(name, unix)
                        .await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .unwrap()
    }

    /// Whether the process runs and its health service answers `SERVING`.
    pub async fn is_serving(&mut self) -> bool {
        if self.child.try_wait().unwrap().is_some() {
            return false;
        }
        let response = HealthClient::new(self.channel().await)
            .check(HealthCheckRequest {
                service: "plugin".into(),
            })
            .await;
        response.is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_tls(server_cert: CertificateDer<'static>, client: &Identity) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServer {
        cert: server_cert,
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![client.cert.clone()], client.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// Trusts exactly the certificate from the handshake line, as go-plugin's client does.
#[derive(Debug)]
struct PinnedServer {
    cert: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the announced server certificate".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
