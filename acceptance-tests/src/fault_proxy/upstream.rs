//! Where a proxy sends requests on: plain HTTP (the AWS emulator) or verified TLS with a
//! small connection pool (a Kubernetes API server).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;

use super::ProxyError;
use crate::runtime::shared_runtime;

/// The upstream's answer, its body read.
#[derive(Debug)]
pub struct UpstreamAnswer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Carries a request (origin-form URI, the client's headers) to the upstream.
pub trait Upstream: Send + Sync + std::fmt::Debug + 'static {
    /// The upstream's URL, for messages.
    fn url(&self) -> &str;

    /// Sends `request` and reads the whole answer; `Err` says why the upstream could not be
    /// reached.
    fn send(&self, request: Request<Full<Bytes>>) -> BoxFuture<'_, Result<UpstreamAnswer, String>>;
}

/// Reads a whole answer.
async fn read_answer(
    answer: http::Response<hyper::body::Incoming>,
) -> Result<UpstreamAnswer, String> {
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| crate::error_chain(&e))?
        .to_bytes();
    Ok(UpstreamAnswer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `scheme://host:port` split into its authority, or [`ProxyError::BadUpstream`].
fn authority_of(url: &str, scheme: &str) -> Result<http::uri::Authority, ProxyError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| ProxyError::BadUpstream(url.to_string()))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some(s), Some(authority)) if s == scheme && matches!(uri.path(), "" | "/") => {
            Ok(authority.clone())
        }
        _ => Err(ProxyError::BadUpstream(url.to_string())),
    }
}

/// Plain HTTP through a pooled client; the `Host` header stays as the client sent (and
/// signed) it.
#[derive(Debug)]
pub struct HttpUpstream {
    url: String,
    authority: http::uri::Authority,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpUpstream {
    /// An upstream at `url` (`http://host:port`).
    pub fn new(url: &str) -> Result<Self, ProxyError> {
        let url = url.trim_end_matches('/').to_string();
        let authority = authority_of(&url, "http")?;
        let client = {
            let _guard = shared_runtime().enter();
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build_http()
        };
        Ok(Self {
            url,
            authority,
            client,
        })
    }
}

impl Upstream for HttpUpstream {
    fn url(&self) -> &str {
        &self.url
    }

    fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> BoxFuture<'_, Result<UpstreamAnswer, String>> {
        Box::pin(async move {
            let path_and_query = request.uri().path_and_query().cloned();
            let uri = http::Uri::builder()
                .scheme("http")
                .authority(self.authority.clone())
                .path_and_query(path_and_query.map_or("/".to_string(), |pq| pq.to_string()))
                .build()
                .map_err(|e| e.to_string())?;
            *request.uri_mut() = uri;
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| crate::error_chain(&e))?;
            read_answer(answer).await
        })
    }
}

/// HTTPS with the server's certificate verified by `client_config` (its CA, the server name),
/// over HTTP/1.1 connections kept for reuse. The `Host` header names the upstream.
pub struct TlsUpstream {
    url: String,
    authority: http::uri::Authority,
    server_name: ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl TlsUpstream {
    /// An upstream at `url` (`https://host:port`), verified as `server_name` with
    /// `client_config` (which may also carry a client certificate).
    pub fn new(
        url: &str,
        server_name: &str,
        client_config: rustls::ClientConfig,
    ) -> Result<Self, ProxyError> {
        let url = url.trim_end_matches('/').to_string();
        let authority = authority_of(&url, "https")?;
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|e| ProxyError::Tls(format!("server name {server_name:?}: {e}")))?;
        Ok(Self {
            url,
            authority,
            server_name,
            connector: tokio_rustls::TlsConnector::from(Arc::new(client_config)),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn idle_connections(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<Full<Bytes>>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = tokio::net::TcpStream::connect(self.authority.as_str())
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| format!("TLS: {}", crate::error_chain(&e)))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| crate::error_chain(&e))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// An idle connection that is still open, or a new one.
    async fn connection(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        loop {
            let Some(mut sender) = self.idle_connections().pop() else {
                return self.connect().await;
            };
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
    }
}

impl std::fmt::Debug for TlsUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsUpstream")
            .field("url", &self.url)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Upstream for TlsUpstream {
    fn url(&self) -> &str {
        &self.url
    }

    fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> BoxFuture<'_, Result<UpstreamAnswer, String>> {
        Box::pin(async move {
            let host =
                http::HeaderValue::from_str(self.authority.as_str()).map_err(|e| e.to_string())?;
            request.headers_mut().insert(http::header::HOST, host);
            let mut sender = self.connection().await?;
            let answer = sender
                .send_request(request)
                .await
                .map_err(|e| crate::error_chain(&e))?;
            let answer = read_answer(answer).await?;
            // The answer is read: the connection can carry the next request.
            self.idle_connections().push(sender);
            Ok(answer)
        })
    }
}
