//! A minimal HTTPS client for the emulator's tests: verified TLS against the emulator's
//! CA, one HTTP/1.1 connection per request.

#![allow(dead_code)]

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: String,
    /// Warning texts.
    pub warnings: Vec<String>,
    /// Retry-After header.
    pub retry_after: Option<String>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// HTTPS client bound to one emulator.
#[derive(Clone)]
pub struct Client {
    host: String,
    port: u16,
    connector: TlsConnector,
}

impl Client {
    /// A client for `url` (`https://host:port`) trusting `ca_pem`.
    pub fn new(url: &str, ca_pem: &str) -> Client {
        let authority = url.trim_start_matches("https://");
        let (host, port) = authority.rsplit_once(':').expect("host:port");
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA cert");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            host: host.trim_matches(|c| c == '[' || c == ']').to_string(),
            port: port.parse().expect("port"),
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// Sends a request; `Err` when the connection fails or is dropped.
    pub async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from(self.host.clone()).map_err(|e| e.to_string())?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("Host", format!("{}:{}", self.host, self.port));
        for (k, v) in headers {
            builder = builder.header(*k, v.as_str());
        }
        let req = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let warnings = resp
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|w| {
                let quoted = w.splitn(3, ' ').nth(2).unwrap_or("");
                serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.to_string())
            })
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Response {
            status,
            content_type,
            warnings,
            retry_after,
            body,
        })
    }

    /// GET with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Result<Response, String> {
        self.send(
            "GET",
            path,
            &[("Authorization", format!("Bearer {token}"))],
            None,
        )
        .await
    }

    /// A request with a JSON body and a bearer token.
    pub async fn json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> Result<Response, String> {
        self.send(
            method,
            path,
            &[
                ("Authorization", format!("Bearer {token}")),
                ("Content-Type", "application/json".into()),
            ],
            Some(serde_json::to_vec(body).expect("JSON")),
        )
        .await
    }
}
