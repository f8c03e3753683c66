//! The provider binary started the way Terraform starts it (go-plugin environment, AutoMTLS
//! with a P-521 client certificate like Terraform's), timed: from spawn to the handshake line,
//! and one `GetProviderSchema` call over its unix socket (a raw gRPC request over HTTP/2 and
//! TLS: the schema's size is all the benchmark needs from the answer).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The go-plugin magic cookie Terraform sets.
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// Why the provider could not be started or asked.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The process did not start or print its handshake line.
    #[error("starting {binary}: {message}")]
    Start {
        /// The binary.
        binary: PathBuf,
        /// Why.
        message: String,
    },
    /// The gRPC call failed.
    #[error("GetProviderSchema: {0}")]
    Call(String),
}

/// A provider process, killed when dropped.
pub struct StartedProvider {
    child: Child,
    socket: PathBuf,
    server_cert: Vec<u8>,
    client_cert: CertificateDer<'static>,
    client_key: PrivateKeyDer<'static>,
    /// From spawn to the handshake line read.
    pub handshake: Duration,
}

impl Drop for StartedProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StartedProvider {
    /// Spawns `binary` with `env` added to the go-plugin environment and reads its handshake.
    pub fn start(binary: &Path, env: &[(&str, &str)]) -> Result<Self, PluginError> {
        let failed = |message: String| PluginError::Start {
            binary: binary.to_path_buf(),
            message,
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512)
            .map_err(|e| failed(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()])
            .map_err(|e| failed(e.to_string()))?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| failed(e.to_string()))?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env_clear()
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_CLIENT_CERT", cert.pem())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| failed(e.to_string()))?;
        let mut line = String::new();
        let stdout = child.stdout.as_mut().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| failed(e.to_string()))?;
        let handshake = started.elapsed();
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        if fields.len() != 6 {
            let _ = child.kill();
            return Err(failed(format!("handshake line {line:?}")));
        }
        let server_cert = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(fields[5])
            .map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            socket: PathBuf::from(fields[3]),
            server_cert,
            client_cert: cert.der().clone(),
            client_key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            handshake,
            child,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Connects (TLS over the unix socket, HTTP/2) and times one `GetProviderSchema`, from
    /// sending the request to the end of the answer; returns that time and the answer's size.
    pub async fn time_get_provider_schema(&self) -> Result<(Duration, usize), PluginError> {
        let call = |e: &dyn std::fmt::Display| PluginError::Call(e.to_string());
        let unix = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| call(&e))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
        let name = ServerName::try_from("localhost").map_err(|e| call(&e))?;
        let stream = tls.connect(name, unix).await.map_err(|e| call(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .map_err(|e| call(&e))?;
        let driver = tokio::spawn(connection);
        // An empty GetProviderSchema.Request: gRPC frame, not compressed, length 0.
        let request = http::Request::post("http://localhost/tfplugin6.Provider/GetProviderSchema")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
            .map_err(|e| call(&e))?;
        let started = Instant::now();
        let response = sender.send_request(request).await.map_err(|e| call(&e))?;
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.map_err(|e| call(&e))?;
        let elapsed = started.elapsed();
        driver.abort();
        let status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .or_else(|| parts.headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("missing")
            .to_string();
        if status != "0" {
            return Err(PluginError::Call(format!("grpc-status {status}")));
        }
        Ok((elapsed, collected.to_bytes().len()))
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, PluginError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(PinnedServer {
            cert: CertificateDer::from(self.server_cert.clone()),
            provider: provider.clone(),
        });
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PluginError::Call(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(vec![self.client_cert.clone()], self.client_key.clone_key())
            .map_err(|e| PluginError::Call(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
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
        dss: &rustls::DigitallySignedStruct,
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
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
