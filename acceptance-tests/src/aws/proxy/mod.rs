//! An HTTP proxy in front of the AWS emulator that injects latency and faults and logs every
//! request: the provider is pointed at it with `AWS_ENDPOINT_URL`.
//!
//! ```no_run
//! # use gitlabrunner_acceptance::aws::proxy::*;
//! # use std::time::Duration;
//! let proxy = AwsProxy::start("http://127.0.0.1:5000").unwrap();
//! proxy.set_latency(Latency::Fixed(Duration::from_millis(50)));
//! proxy.add_fault(FaultRule::nth(
//!     Matcher::operation("iam", "CreateRole"),
//!     1,
//!     FaultAction::service_failure(),
//! ));
//! // ... point a workspace at proxy.url(), run terraform ...
//! let depth = proxy.critical_path_depth();
//! ```
//!
//! The proxy runs on the process-wide background runtime, so it works from any test and
//! stops (with its open connections) when the value is dropped.

mod classify;
mod error_body;
mod faults;
mod log;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::JoinSet;

pub use classify::{RequestKind, RequestTarget, classify, target};
pub use error_body::error_response;
pub use faults::{FaultAction, FaultRule, Latency, Matcher, Trigger};
pub use log::{RequestRecord, critical_path_depth};

use crate::aws::web_identity::{self, WebIdentityGate};
use crate::runtime::shared_runtime;
use faults::FaultTable;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream URL is not `http://host:port`.
    #[error("the proxy's upstream {0:?} is not an http://host:port URL")]
    BadUpstream(String),
    /// No loopback port could be bound.
    #[error("the proxy could not listen on a loopback port")]
    Bind(#[source] std::io::Error),
}

/// The connection is closed without an answer (an injected `DropConnection`).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
struct DroppedConnection;

/// A request that has been forwarded (it took effect) and whose answer a
/// [`FaultAction::DelayResponse`] holds back right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRequest {
    /// Its arrival number (see [`RequestRecord::sequence`]).
    pub sequence: u64,
    /// The service and operation.
    pub kind: RequestKind,
    /// Its parameters or bucket.
    pub target: RequestTarget,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct AwsProxy {
    url: String,
    state: Arc<ProxyState>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct ProxyState {
    upstream_url: String,
    upstream: http::uri::Authority,
    faults: Mutex<FaultTable>,
    log: Mutex<Vec<RequestRecord>>,
    held: Mutex<Vec<HeldRequest>>,
    in_flight: AtomicU64,
    sequence: AtomicU64,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The rig's STS checks for `AssumeRoleWithWebIdentity`, when registered for the upstream.
    gate: Option<Arc<WebIdentityGate>>,
}

impl AwsProxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Result<Self, ProxyError> {
        let upstream_url = upstream.trim_end_matches('/').to_string();
        let uri: http::Uri = upstream_url
            .parse()
            .map_err(|_| ProxyError::BadUpstream(upstream.to_string()))?;
        let authority = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority)) if uri.path() == "/" || uri.path().is_empty() => {
                authority.clone()
            }
            _ => return Err(ProxyError::BadUpstream(upstream.to_string())),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(ProxyError::Bind)?;
        listener.set_nonblocking(true).map_err(ProxyError::Bind)?;
        let address = listener.local_addr().map_err(ProxyError::Bind)?;
        let runtime = shared_runtime();
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build_http()
        };
        let gate = web_identity::gate_for(&upstream_url).map(|entry| entry.gate);
        let state = Arc::new(ProxyState {
            upstream_url,
            upstream: authority,
            faults: Mutex::new(FaultTable::default()),
            log: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
            in_flight: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
            client,
            gate,
        });
        let server = runtime.spawn(serve(listener, Arc::clone(&state)));
        Ok(Self {
            url: format!("http://{address}"),
            state,
            server,
        })
    }

    /// The proxy's URL (`http://127.0.0.1:PORT`), for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether `AssumeRoleWithWebIdentity` is checked by the rig's STS before it is forwarded.
    pub fn checks_web_identity(&self) -> bool {
        self.state.gate.is_some()
    }

    /// The emulator the proxy forwards to.
    pub fn upstream(&self) -> &str {
        &self.state.upstream_url
    }

    /// Adds a fault rule; its match counter starts at zero now.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.faults().add(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }

    /// Sets the latency added to every request from now on.
    pub fn set_latency(&self, latency: Latency) {
        self.state.faults().set_latency(latency);
    }

    /// Reseeds the generator behind probabilistic faults and random latency.
    pub fn set_seed(&self, seed: u64) {
        self.state.faults().set_seed(seed);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        let mut log = self.state.log().clone();
        log.sort_by_key(|r| r.sequence);
        log
    }

    /// The requests `matcher` selects, in arrival order.
    pub fn requests_matching(&self, matcher: &Matcher) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| {
                let kind = RequestKind {
                    service: r.service.clone(),
                    operation: r.operation.clone(),
                };
                matcher.matches_request(&kind, &r.target)
            })
            .collect()
    }

    /// The requests whose answers a [`FaultAction::DelayResponse`] holds back now (they have
    /// reached the emulator): poll it to know that a client waits at a known call.
    pub fn held_requests(&self) -> Vec<HeldRequest> {
        self.state.held().clone()
    }

    /// How many requests arrived and are not answered yet (held ones included): with
    /// [`AwsProxy::held_requests`], tells when a client waits at a held call and nothing else.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst) as usize
    }

    /// Empties the request log (faults and latency stay).
    pub fn clear_requests(&self) {
        self.state.log().clear();
    }

    /// The number of sequential round trips in the log (see [`critical_path_depth`]).
    pub fn critical_path_depth(&self) -> usize {
        critical_path_depth(
            self.state
                .log()
                .iter()
                .map(|r| (r.started_at, r.finished_at)),
        )
    }

    /// Clears faults, latency and the log, and restores the default seed.
    pub fn reset(&self) {
        *self.state.faults() = FaultTable::default();
        self.state.log().clear();
        self.state.sequence.store(0, Ordering::SeqCst);
    }
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every open connection.
        self.server.abort();
    }
}

impl ProxyState {
    fn faults(&self) -> MutexGuard<'_, FaultTable> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self) -> MutexGuard<'_, Vec<RequestRecord>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn held(&self) -> MutexGuard<'_, Vec<HeldRequest>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn serve(listener: std::net::TcpListener, state: Arc<ProxyState>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let state = Arc::clone(&state);
                connections.spawn(serve_connection(stream, peer, state));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    _peer: SocketAddr,
    state: Arc<ProxyState>,
) {
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { handle(&state, request).await }
    });
    // An error here is an injected drop or a client that went away: nothing to report.
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn handle(
    state: &ProxyState,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DroppedConnection> {
    let started_at = Instant::now();
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let _answered = InFlight(state);
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(DroppedConnection),
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let kind = classify(&parts.method, &path, &query, &parts.headers, &body);
    let target = target(&kind, &path, &query, &body);
    let sequence = state.sequence.fetch_add(1, Ordering::SeqCst) + 1;
    let (latency, action) = {
        let mut faults = state.faults();
        (faults.next_latency(), faults.decide(&kind, &target))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let is_head = parts.method == http::Method::HEAD;
    let request_id = format!("acceptance-proxy-{sequence}");
    let fault = action.as_ref().map(FaultAction::label);
    let outcome: Result<Response<Full<Bytes>>, DroppedConnection> = match action {
        Some(FaultAction::Respond {
            status,
            code,
            message,
        }) => Ok(error_response(
            &kind.service,
            is_head,
            status,
            &code,
            &message,
            &request_id,
        )),
        Some(FaultAction::DropConnection) => Err(DroppedConnection),
        Some(FaultAction::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(check_then_forward(state, &parts, body, &kind, &request_id).await)
        }
        Some(FaultAction::DelayResponse(delay)) => {
            let answer = forward(state, &parts, body, &kind, &request_id).await;
            let held = HeldRequest {
                sequence,
                kind: kind.clone(),
                target: target.clone(),
            };
            state.held().push(held);
            // Unlisted however the wait ends (the client may go away meanwhile).
            let _release = ReleaseOnDrop { state, sequence };
            tokio::time::sleep(delay).await;
            Ok(answer)
        }
        None => Ok(check_then_forward(state, &parts, body, &kind, &request_id).await),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path, |pq| pq.as_str().to_string());
    state.log().push(RequestRecord {
        sequence,
        service: kind.service,
        operation: kind.operation,
        method: parts.method.to_string(),
        path: path_and_query,
        target,
        status: outcome.as_ref().ok().map(|r| r.status().as_u16()),
        fault,
        started_at,
        finished_at: Instant::now(),
    });
    outcome
}

/// Counts a request out of [`ProxyState::in_flight`] however its handling ends.
struct InFlight<'a>(&'a ProxyState);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Removes a held request from [`ProxyState::held`] when its wait ends or is abandoned.
struct ReleaseOnDrop<'a> {
    state: &'a ProxyState,
    sequence: u64,
}

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        self.state.held().retain(|h| h.sequence != self.sequence);
    }
}

/// Answers an `AssumeRoleWithWebIdentity` the gate refuses with STS's error; forwards
/// everything else.
async fn check_then_forward(
    state: &ProxyState,
    parts: &http::request::Parts,
    body: Bytes,
    kind: &RequestKind,
    request_id: &str,
) -> Response<Full<Bytes>> {
    if let Some(gate) = &state.gate
        && kind.service == "sts"
        && kind.operation == "AssumeRoleWithWebIdentity"
        && let Err(refusal) = gate.check(&web_identity::form_params(&body)).await
    {
        return error_response(
            "sts",
            false,
            refusal.status,
            refusal.code,
            &refusal.message,
            request_id,
        );
    }
    forward(state, parts, body, kind, request_id).await
}

/// Sends the request on to the emulator and returns its answer (a 502 AWS error when the
/// emulator cannot be reached).
async fn forward(
    state: &ProxyState,
    parts: &http::request::Parts,
    body: Bytes,
    kind: &RequestKind,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let uri = http::Uri::builder()
        .scheme("http")
        .authority(state.upstream.clone())
        .path_and_query(path_and_query)
        .build();
    let Ok(uri) = uri else {
        return upstream_error(kind, parts, request_id, "could not build the upstream URI");
    };
    let mut upstream_request = Request::new(Full::new(body));
    *upstream_request.method_mut() = parts.method.clone();
    *upstream_request.uri_mut() = uri;
    // The Host header stays as the client signed it.
    copy_end_to_end_headers(&parts.headers, upstream_request.headers_mut(), true);
    let answer = match state.client.request(upstream_request).await {
        Ok(answer) => answer,
        Err(error) => {
            return upstream_error(kind, parts, request_id, &crate::error_chain(&error));
        }
    };
    let (answer_parts, answer_body) = answer.into_parts();
    let answer_body = match answer_body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return upstream_error(kind, parts, request_id, &crate::error_chain(&error));
        }
    };
    let mut response = Response::new(Full::new(answer_body));
    *response.status_mut() = answer_parts.status;
    // HEAD answers carry the length of the body they do not send.
    let keep_length = parts.method == http::Method::HEAD;
    copy_end_to_end_headers(&answer_parts.headers, response.headers_mut(), keep_length);
    response
}

fn upstream_error(
    kind: &RequestKind,
    parts: &http::request::Parts,
    request_id: &str,
    detail: &str,
) -> Response<Full<Bytes>> {
    error_response(
        &kind.service,
        parts.method == http::Method::HEAD,
        502,
        "AcceptanceProxyUpstreamError",
        &format!("the acceptance proxy could not reach the AWS emulator: {detail}"),
        request_id,
    )
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

fn copy_end_to_end_headers(from: &HeaderMap, to: &mut HeaderMap, keep_content_length: bool) {
    for (name, value) in from {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower) {
            continue;
        }
        if lower == "content-length" && !keep_content_length {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests;
