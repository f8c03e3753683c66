//! The fault-injecting HTTP proxy the AWS and Kubernetes proxies share: latency, fault rules
//! (error answers, dropped connections, delays, held answers), in-flight and held requests,
//! and a request log with timestamps. A [`Dialect`] says what a request is and how an error
//! answer looks; an [`Upstream`] carries requests on (plain HTTP to the AWS emulator, verified
//! TLS to a Kubernetes API server); the listener speaks plain HTTP or TLS.
//!
//! The proxy runs on the process-wide background runtime, so it works from any test and
//! stops (with its open connections) when the value is dropped.

mod faults;
mod log;
mod request;
mod upstream;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinSet;

pub use faults::{FaultAction, FaultRule, Latency, Matcher, Trigger};
pub use log::{RequestRecord, critical_path_depth};
pub use request::{RequestKind, RequestTarget};
pub use upstream::{HttpUpstream, TlsUpstream, Upstream, UpstreamAnswer};

use crate::runtime::shared_runtime;
use faults::FaultTable;

/// The protocol side of a proxy: what a request is, and how the service answers an error.
pub trait Dialect: Send + Sync + std::fmt::Debug + 'static {
    /// The kind and target of a request, from its head and body.
    fn describe(&self, parts: &http::request::Parts, body: &[u8]) -> (RequestKind, RequestTarget);

    /// The error answer the service would send (an injected [`FaultAction::Respond`], or a
    /// 502 when the upstream cannot be reached); the proxy adds `Retry-After` itself.
    fn error_response(
        &self,
        kind: &RequestKind,
        is_head: bool,
        error: &ErrorAnswer<'_>,
    ) -> Response<Full<Bytes>>;

    /// What the rig does in the service's place before a request is forwarded: refuse it
    /// with an error, or answer it itself (an API the emulator lacks); `None` forwards it.
    /// Forwards by default. It runs where forwarding would, so injected faults and latency
    /// apply to intercepted requests as to forwarded ones.
    fn intercept<'a>(
        &'a self,
        _kind: &'a RequestKind,
        _parts: &'a http::request::Parts,
        _body: &'a [u8],
    ) -> Interception<'a> {
        Box::pin(async { None })
    }
}

/// What [`Dialect::intercept`] decides instead of forwarding.
#[derive(Debug)]
pub enum Intercepted {
    /// Answer with this error (status, code, message) in the dialect's error format.
    Refuse(u16, String, String),
    /// Answer with this response.
    Answer(Response<Full<Bytes>>),
}

/// What [`Dialect::intercept`] returns: `Some` answers in the upstream's place.
pub type Interception<'a> =
    std::pin::Pin<Box<dyn Future<Output = Option<Intercepted>> + Send + 'a>>;

/// An error answer for [`Dialect::error_response`].
#[derive(Debug, Clone, Copy)]
pub struct ErrorAnswer<'a> {
    /// HTTP status.
    pub status: u16,
    /// The service's error code (AWS) or `Status` reason (Kubernetes).
    pub code: &'a str,
    /// The message.
    pub message: &'a str,
    /// `Retry-After` seconds, if any.
    pub retry_after_seconds: Option<u64>,
    /// The request id the proxy gave the request.
    pub request_id: &'a str,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream URL is not `http://host:port` (`https://` for a TLS upstream).
    #[error("the proxy's upstream {0:?} is not a scheme://host:port URL")]
    BadUpstream(String),
    /// No loopback port could be bound.
    #[error("the proxy could not listen on a loopback port")]
    Bind(#[source] std::io::Error),
    /// The TLS configuration (the proxy's own certificate, or trust in the upstream's) could
    /// not be built.
    #[error("the proxy's TLS setup failed: {0}")]
    Tls(String),
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
pub struct FaultProxy {
    url: String,
    state: Arc<ProxyState>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct ProxyState {
    dialect: Box<dyn Dialect>,
    upstream: Box<dyn Upstream>,
    faults: Mutex<FaultTable>,
    log: Mutex<Vec<RequestRecord>>,
    held: Mutex<Vec<HeldRequest>>,
    in_flight: AtomicU64,
    sequence: AtomicU64,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards to `upstream`, speaking TLS with
    /// `tls` (plain HTTP without it).
    pub fn start(
        dialect: impl Dialect,
        upstream: impl Upstream,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Self, ProxyError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(ProxyError::Bind)?;
        listener.set_nonblocking(true).map_err(ProxyError::Bind)?;
        let address = listener.local_addr().map_err(ProxyError::Bind)?;
        let state = Arc::new(ProxyState {
            dialect: Box::new(dialect),
            upstream: Box::new(upstream),
            faults: Mutex::new(FaultTable::default()),
            log: Mutex::new(Vec::new()),
            held: Mutex::new(Vec::new()),
            in_flight: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let server = shared_runtime().spawn(serve(listener, acceptor, Arc::clone(&state)));
        Ok(Self {
            url: format!("{scheme}://{address}"),
            state,
            server,
        })
    }

    /// The proxy's URL (`http://127.0.0.1:PORT` or `https://...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of what the proxy forwards to.
    pub fn upstream(&self) -> &str {
        self.state.upstream.url()
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

    /// Every request so far as `service:Operation STATUS` (`-` for a request that got no answer),
    /// in arrival order: the call sequence tests compare with what they expect.
    pub fn outcomes(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| match r.status {
                Some(status) => format!("{} {status}", r.kind()),
                None => format!("{} -", r.kind()),
            })
            .collect()
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
    /// reached the upstream): poll it to know that a client waits at a known call.
    pub fn held_requests(&self) -> Vec<HeldRequest> {
        self.state.held().clone()
    }

    /// How many requests arrived and are not answered yet (held ones included): with
    /// [`FaultProxy::held_requests`], tells when a client waits at a held call and nothing else.
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

impl Drop for FaultProxy {
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

async fn serve(
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<ProxyState>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                let state = Arc::clone(&state);
                match tls.clone() {
                    None => connections.spawn(serve_connection(stream, state)),
                    Some(acceptor) => connections.spawn(async move {
                        // A client that fails the handshake (e.g. does not trust the CA) is
                        // simply not served.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_connection(stream, state).await;
                        }
                    }),
                };
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<S>(stream: S, state: Arc<ProxyState>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
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
    let (kind, target) = state.dialect.describe(&parts, &body);
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
            retry_after_seconds,
        }) => Ok(state.error_response(
            &kind,
            is_head,
            &ErrorAnswer {
                status,
                code: &code,
                message: &message,
                retry_after_seconds,
                request_id: &request_id,
            },
        )),
        Some(FaultAction::DropConnection) => Err(DroppedConnection),
        Some(FaultAction::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(forward(state, &parts, body, &kind, &request_id).await)
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
        None => Ok(forward(state, &parts, body, &kind, &request_id).await),
    };
    let path_and_query = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
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

impl ProxyState {
    /// The dialect's error answer, with `Retry-After` when the answer carries one.
    fn error_response(
        &self,
        kind: &RequestKind,
        is_head: bool,
        error: &ErrorAnswer<'_>,
    ) -> Response<Full<Bytes>> {
        let mut response = self.dialect.error_response(kind, is_head, error);
        if let Some(seconds) = error.retry_after_seconds {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response
    }
}

/// Sends the request on to the upstream and returns its answer (a 502 in the dialect's error
/// format when the upstream cannot be reached).
async fn forward(
    state: &ProxyState,
    parts: &http::request::Parts,
    body: Bytes,
    kind: &RequestKind,
    request_id: &str,
) -> Response<Full<Bytes>> {
    match state.dialect.intercept(kind, parts, &body).await {
        Some(Intercepted::Refuse(status, code, message)) => {
            let refusal = ErrorAnswer {
                status,
                code: &code,
                message: &message,
                retry_after_seconds: None,
                request_id,
            };
            return state.error_response(kind, parts.method == http::Method::HEAD, &refusal);
        }
        Some(Intercepted::Answer(answer)) => return answer,
        None => {}
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let mut upstream_request = Request::new(Full::new(body));
    *upstream_request.method_mut() = parts.method.clone();
    *upstream_request.uri_mut() = match path_and_query.parse() {
        Ok(uri) => uri,
        Err(_) => return upstream_error(state, kind, parts, request_id, "a bad request path"),
    };
    copy_end_to_end_headers(&parts.headers, upstream_request.headers_mut(), true);
    let answer = match state.upstream.send(upstream_request).await {
        Ok(answer) => answer,
        Err(detail) => return upstream_error(state, kind, parts, request_id, &detail),
    };
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() = answer.status;
    // HEAD answers carry the length of the body they do not send.
    let keep_length = parts.method == http::Method::HEAD;
    copy_end_to_end_headers(&answer.headers, response.headers_mut(), keep_length);
    response
}

fn upstream_error(
    state: &ProxyState,
    kind: &RequestKind,
    parts: &http::request::Parts,
    request_id: &str,
    detail: &str,
) -> Response<Full<Bytes>> {
    let message = format!(
        "the acceptance proxy could not reach {}: {detail}",
        state.upstream.url()
    );
    state.error_response(
        kind,
        parts.method == http::Method::HEAD,
        &ErrorAnswer {
            status: 502,
            code: "AcceptanceProxyUpstreamError",
            message: &message,
            retry_after_seconds: None,
            request_id,
        },
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
