//! The provider binary started the way Terraform starts it (go-plugin environment, AutoMTLS
//! with a P-521 client certificate like Terraform's, or plaintext), and gRPC channels to it over
//! its unix socket. For integration tests that talk to a running provider.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
/// The go-plugin magic cookie Terraform sets.
pub const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client identity: certificate and key.
pub struct Identity {
    /// The certificate, PEM (what `PLUGIN_CLIENT_CERT` carries).
    pub cert_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Like Terraform's: self-signed ECDSA P-521 CA certificate for localhost.
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

    /// A P-521 CA certificate made by the openssl CLI, when it is installed.
    pub fn p521_from_openssl() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, cert_path) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-521",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/O=HashiCorp/CN=localhost"])
            .args(["-addext", "basicConstraints=critical,CA:TRUE"])
            .args(["-addext", "extendedKeyUsage=clientAuth,serverAuth"])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        assert!(
            status.success(),
            "openssl failed to make a P-521 certificate"
        );
        let cert_pem = std::fs::read_to_string(&cert_path).unwrap();
        let cert = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        let key_pem = std::fs::read(&key_path).unwrap();
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .unwrap()
            .unwrap();
        Some(Self {
            cert_pem,
            cert,
            key,
        })
    }
}

/// The provider process, killed when dropped.
pub struct Plugin {
    /// The process.
    pub child: Child,
    /// Its unix socket.
    pub socket: PathBuf,
    /// The server certificate of the handshake line (`None`: plaintext).
    pub server_cert: Option<Vec<u8>>,
    /// The handshake line.
    pub line: String,
}

impl Plugin {
    /// Starts the provider; `client` is the certificate Terraform would announce (AutoMTLS).
    pub fn start(client: Option<&Identity>) -> Self {
        Self::start_with(client, |_| {})
    }

    /// Like [`Plugin::start`], with `extra` changing the command (environment, stderr) first.
    pub fn start_with(client: Option<&Identity>, extra: impl FnOnce(&mut Command)) -> Self {
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(identity) = client {
            command.env("PLUGIN_CLIENT_CERT", &identity.cert_pem);
        }
        extra(&mut command);
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let line = line.trim_end().to_string();
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields.len(), 6, "handshake line {line:?}");
        let server_cert = (!fields[5].is_empty()).then(|| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(fields[5])
                .unwrap()
        });
        Self {
            socket: PathBuf::from(fields[3]),
            server_cert,
            line,
            child,
        }
    }

    /// A gRPC channel to the provider, presenting `client` (or no certificate).
    pub async fn channel(
        &self,
        client: Option<&Identity>,
    ) -> Result<Channel, tonic::transport::Error> {
        let socket = self.socket.clone();
        let tls = self
            .server_cert
            .clone()
            .map(|server_cert| Arc::new(client_tls(CertificateDer::from(server_cert), client)));
        Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let (socket, tls) = (socket.clone(), tls.clone());
                async move {
                    let unix = tokio::net::UnixStream::connect(socket).await?;
                    let io: Box<dyn IoStream> = match tls {
                        Some(config) => {
                            let name = ServerName::try_from("localhost").unwrap();
                            Box::new(
                                tokio_rustls::TlsConnector::from(config)
                                    .connect(name, unix)
                                    .await?,
                            )
                        }
                        None => Box::new(unix),
                    };
                    Ok::<_, std::io::Error>(TokioIo::new(io))
                }
            }))
            .await
    }

    /// The process id.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Plugin {
    /// Whether the process runs and its health service answers `SERVING` to `client`.
    pub async fn is_serving(&mut self, client: Option<&Identity>) -> bool {
        if self.child.try_wait().unwrap().is_some() {
            return false;
        }
        match self.channel(client).await {
            Ok(channel) => plugin_health(channel)
                .await
                .is_ok_and(|status| status == ServingStatus::Serving),
            Err(_) => false,
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> IoStream for T {}

fn client_tls(
    server_cert: CertificateDer<'static>,
    client: Option<&Identity>,
) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(PinnedServer {
        cert: server_cert,
        provider: provider.clone(),
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client {
        Some(identity) => builder
            .with_client_auth_cert(vec![identity.cert.clone()], identity.key.clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
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

/// The `plugin` service's status from the health service.
pub async fn plugin_health(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "plugin".into(),
        })
        .await?;
    Ok(response.into_inner().status())
}
