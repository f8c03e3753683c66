//! A minimal HTTP client for readiness probes, version discovery and emulator control
//! endpoints.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// GETs `url` (plain HTTP) and returns the status and body, or `None` when nothing answers
/// within two seconds.
pub async fn get(url: &str) -> Option<(u16, String)> {
    let uri: http::Uri = url.parse().ok()?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let exchange = async {
        let response = client.get(uri).await.ok()?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

/// POSTs `body` as `content_type` to `url` (plain HTTP) and returns the status and body, or
/// `None` when nothing answers within two seconds.
pub async fn post(url: &str, content_type: &str, body: &str) -> Option<(u16, String)> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .ok()?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

/// Whether `url` answers 2xx.
pub async fn is_ok(url: &str) -> bool {
    get(url)
        .await
        .is_some_and(|(status, _)| (200..300).contains(&status))
}
