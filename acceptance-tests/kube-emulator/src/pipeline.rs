//! What happens to every HTTP request: admin routing, latency and fault injection,
//! authentication, the API handler, and the request log.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use tokio::sync::mpsc;

use crate::api::{self, request::ApiRequest, request::ApiResponse, status::StatusError};
use crate::authn::{Authn, TokenAuthenticator};
use crate::emulator::{HeldRequest, Shared};
use crate::faults::FaultAction;
use crate::request_log::RequestRecord;
use crate::{admin, ids};

/// The connection must be closed without a response (an injected fault).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub struct Dropped;

const MAX_BODY: usize = 3 * 1024 * 1024;

fn decode_component(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a query string like Go's `url.ParseQuery`.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(pair), String::new()),
        })
        .collect()
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A response body: all at once, or streamed (watches).
pub enum Body {
    /// The whole body (taken when sent).
    Full(Option<Bytes>),
    /// Chunks until the sender closes.
    Stream(mpsc::Receiver<Vec<u8>>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| Ok(Frame::data(Bytes::from(c))))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

fn to_http(resp: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(resp.status)
        .header("Content-Type", resp.content_type)
        .header("Cache-Control", "no-cache, private")
        .header("Audit-Id", ids::uuid());
    for w in &resp.warnings {
        builder = builder.header("Warning", format!("299 - {}", crate::gostr::quote(w)));
    }
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match resp.stream {
        Some(rx) => Body::Stream(rx),
        None => Body::Full(Some(Bytes::from(resp.body))),
    };
    builder.body(body).expect("response")
}

fn needs_signing_key(req: &ApiRequest) -> bool {
    let jwt = req
        .authorization
        .as_deref()
        .is_some_and(|a| a.split('.').count() == 3);
    jwt || req.path.ends_with("/token")
        || req.path.contains("tokenreviews")
        || req.path.starts_with("/openid/")
}

/// Serves one HTTP request.
pub async fn handle(shared: &Shared, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let start = shared.started.elapsed();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let api_req_head = ApiRequest {
        method: method.clone(),
        path: path.clone(),
        query: parse_query(&raw_query),
        content_type: header(&req, "content-type"),
        user_agent: header(&req, "user-agent").unwrap_or_default(),
        authorization: header(&req, "authorization"),
        body: Vec::new(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                let value = value.to_str().ok()?;
                Some((name.as_str().to_string(), value.to_string()))
            })
            .collect(),
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => {
            let err = StatusError {
                code: 413,
                reason: "RequestEntityTooLarge".into(),
                message: "Request entity too large: limit is 3145728".into(),
                details: None,
            };
            return Ok(to_http(ApiResponse::error(&err)));
        }
    };
    let api_req = ApiRequest {
        body,
        ..api_req_head
    };
    if path.starts_with("/__emulator/") || path == "/__emulator" {
        return Ok(to_http(admin::handle(shared, &api_req)));
    }
    let seq = shared
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .next_seq();
    let delay = shared
        .latency
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .sample();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let fault = shared
        .faults
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .on_request(&method, &path);
    let mut record = RequestRecord {
        seq,
        method,
        path,
        query: raw_query,
        user: None,
        status: 0,
        start_ms: start.as_secs_f64() * 1000.0,
        end_ms: 0.0,
        fault: fault.clone(),
    };
    let mut delay_response = None;
    let response = match fault {
        Some(FaultAction::DropConnection) => {
            record.user = shared.with_ctx(|ctx| user_name(&authenticate(ctx, &api_req)));
            finish(shared, record, 0);
            return Err(Dropped);
        }
        Some(FaultAction::Status {
            code,
            message,
            retry_after_seconds,
        }) => {
            record.user = shared.with_ctx(|ctx| user_name(&authenticate(ctx, &api_req)));
            Some(ApiResponse::error(&StatusError::injected(
                code,
                message.as_deref(),
                retry_after_seconds,
            )))
        }
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Some(FaultAction::DelayResponse { ms }) => {
            delay_response = Some(Duration::from_millis(ms));
            None
        }
        None => None,
    };
    let response = match response {
        Some(r) => r,
        None => {
            if needs_signing_key(&api_req) && !shared.signer.ready() {
                let source = shared.signer.clone();
                let _ = tokio::task::spawn_blocking(move || source.get()).await;
            }
            let (resp, user) = shared.with_ctx(|ctx| {
                let authn = authenticate(ctx, &api_req);
                let user = user_name(&authn);
                (api::handle(ctx, &api_req, &authn), user)
            });
            record.user = user;
            resp
        }
    };
    if let Some(d) = delay_response {
        let held = HeldRequest {
            seq: record.seq,
            method: record.method.clone(),
            path: record.path.clone(),
        };
        shared
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(held);
        // Unlisted however the wait ends (the client may go away meanwhile).
        let _release = ReleaseHeld {
            shared,
            seq: record.seq,
        };
        tokio::time::sleep(d).await;
    }
    finish(shared, record, response.status);
    Ok(to_http(response))
}

/// Removes a held request from [`Shared::held`] when its wait ends or is abandoned.
struct ReleaseHeld<'a> {
    shared: &'a Shared,
    seq: u64,
}

impl Drop for ReleaseHeld<'_> {
    fn drop(&mut self) {
        self.shared
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|h| h.seq != self.seq);
    }
}

fn authenticate(ctx: &crate::cluster::Ctx, req: &ApiRequest) -> Authn {
    TokenAuthenticator {
        static_tokens: &ctx.cluster.static_tokens,
        signer: ctx.signer,
        issuer: &ctx.env.issuer,
        api_audiences: &ctx.env.api_audiences,
        store: &ctx.cluster.store,
        now: ctx.env.clock.now().unix_timestamp(),
    }
    .authenticate(req.authorization.as_deref())
}

fn user_name(authn: &Authn) -> Option<String> {
    match authn {
        Authn::User(u) => Some(u.name.clone()),
        Authn::Anonymous => Some(crate::authn::ANONYMOUS.to_string()),
        Authn::Failed => None,
    }
}

fn finish(shared: &Shared, mut record: RequestRecord, status: u16) {
    record.status = status;
    record.end_ms = shared.started.elapsed().as_secs_f64() * 1000.0;
    shared
        .log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_like_go() {
        assert_eq!(
            parse_query("labelSelector=a%3Db+c&limit=1&x"),
            vec![
                ("labelSelector".to_string(), "a=b c".to_string()),
                ("limit".to_string(), "1".to_string()),
                ("x".to_string(), String::new()),
            ]
        );
    }
}
