//! A fault-injecting HTTPS proxy in front of whichever Kubernetes API server a test uses (the
//! emulator or a real kube-apiserver), built on the same [`crate::fault_proxy`] machinery as
//! the AWS proxy: latency, fault rules, held answers and a timestamped request log.
//!
//! - Towards the provider it serves HTTPS with a CA of its own, which the kubeconfig it writes
//!   ([`KubeProxy::kubeconfig`]) trusts; that kubeconfig keeps the upstream's users, so the
//!   client's bearer token passes through unchanged.
//! - Towards the upstream it verifies the server's certificate with the upstream kubeconfig's
//!   CA (and server name); a user with a client certificate has it presented by the proxy.
//! - Injected errors are `Status` objects as kube-apiserver writes them
//!   (<https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind>);
//!   a 429 carries `Retry-After` and `details.retryAfterSeconds`, as the API priority and
//!   fairness filter answers
//!   (<https://kubernetes.io/docs/concepts/cluster-administration/flow-control/>).
//!
//! ```no_run
//! # use gitlabrunner_acceptance::kube_proxy::*;
//! # use gitlabrunner_acceptance::fault_proxy::{FaultAction, FaultRule};
//! let proxy = KubeProxy::start(std::path::Path::new("kubeconfig")).unwrap();
//! proxy.add_fault(FaultRule::always(
//!     call("POST", "/api/v1/namespaces/ci/serviceaccounts"),
//!     FaultAction::kube_status(500),
//! ));
//! // ... give a workspace proxy.kubeconfig(), run terraform ...
//! ```

mod kubeconfig;
mod status;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::fault_proxy::{
    Dialect, ErrorAnswer, FaultAction, FaultProxy, HeldRequest, Matcher, ProxyError, RequestKind,
    RequestRecord, RequestTarget, TlsUpstream,
};

/// The service name of Kubernetes requests in the proxy's log and matchers.
pub const SERVICE: &str = "kubernetes";

/// The target parameter holding a request's path (without the query).
const PATH: &str = "path";

/// The requests with `method` to exactly `path` (no query), e.g.
/// `call("POST", "/api/v1/namespaces/ci/serviceaccounts")`.
pub fn call(method: &str, path: &str) -> Matcher {
    Matcher::operation(SERVICE, method).param(PATH, path)
}

/// The path (without the query) of a Kubernetes request in the log; `None` for other services.
pub fn path_of(record: &RequestRecord) -> Option<&str> {
    (record.service == SERVICE).then(|| record.param(PATH))?
}

/// Whether the held request `held` is `method` to `path`.
pub fn is_held(held: &HeldRequest, method: &str, path: &str) -> bool {
    held.kind.service == SERVICE
        && held.kind.operation == method
        && held.target.params.get(PATH).map(String::as_str) == Some(path)
}

impl FaultAction {
    /// A Kubernetes `Status` failure with `status` and kube-apiserver's reason and message
    /// for it (`500` InternalError, `403` Forbidden, `409` Conflict, `429` TooManyRequests,
    /// ...).
    pub fn kube_status(status: u16) -> Self {
        let (reason, message) = status::reason_and_message(status);
        Self::error(status, &reason, &message)
    }

    /// `429 TooManyRequests` with `Retry-After: seconds`.
    pub fn kube_too_many_requests(seconds: u64) -> Self {
        Self::kube_status(429).retry_after(seconds)
    }
}

/// A running Kubernetes proxy; dropping it stops it (and removes its kubeconfig).
#[derive(Debug)]
pub struct KubeProxy {
    proxy: FaultProxy,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl KubeProxy {
    /// Starts a proxy in front of the current context's cluster of `upstream_kubeconfig`.
    pub fn start(upstream_kubeconfig: &Path) -> Result<Self, ProxyError> {
        let current = kubeconfig::Current::read(upstream_kubeconfig)?;
        let target = current.upstream(upstream_kubeconfig)?;
        let upstream = TlsUpstream::new(&target.server, &target.server_name, target.client_config)?;
        let hosts = ["127.0.0.1".to_string(), "localhost".to_string()];
        let certificates =
            kube_emulator::tls::generate(&hosts).map_err(|e| ProxyError::Tls(e.to_string()))?;
        let proxy = FaultProxy::start(
            KubeDialect,
            upstream,
            Some(certificates.server_config.clone()),
        )?;
        let dir = tempfile::Builder::new()
            .prefix("kube-proxy-")
            .tempdir()
            .map_err(|e| ProxyError::Tls(format!("a folder for the kubeconfig: {e}")))?;
        let kubeconfig = dir.path().join("kubeconfig");
        let through = current.through_proxy(proxy.url(), &certificates.ca_pem);
        let text = serde_json::to_string_pretty(&through)
            .map_err(|e| ProxyError::Tls(format!("the proxy's kubeconfig: {e}")))?;
        std::fs::write(&kubeconfig, text)
            .map_err(|e| ProxyError::Tls(format!("writing {}: {e}", kubeconfig.display())))?;
        Ok(Self {
            proxy,
            kubeconfig,
            _dir: dir,
        })
    }

    /// The kubeconfig that reaches the upstream through the proxy (for `KUBECONFIG`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The requests to paths containing `text` (e.g. an instance's token), in arrival order.
    pub fn requests_about(&self, text: &str) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| path_of(r).is_some_and(|p| p.contains(text)))
            .collect()
    }
}

impl std::ops::Deref for KubeProxy {
    type Target = FaultProxy;

    fn deref(&self) -> &FaultProxy {
        &self.proxy
    }
}

/// Kubernetes requests: the method as operation, the path as target; errors as `Status`.
#[derive(Debug)]
struct KubeDialect;

impl Dialect for KubeDialect {
    fn describe(&self, parts: &http::request::Parts, _body: &[u8]) -> (RequestKind, RequestTarget) {
        let kind = RequestKind {
            service: SERVICE.to_string(),
            operation: parts.method.to_string(),
        };
        let target = RequestTarget {
            params: [(PATH.to_string(), parts.uri.path().to_string())].into(),
            bucket: None,
        };
        (kind, target)
    }

    fn error_response(
        &self,
        _kind: &RequestKind,
        is_head: bool,
        error: &ErrorAnswer<'_>,
    ) -> Response<Full<Bytes>> {
        status::response(is_head, error)
    }
}

#[cfg(test)]
mod tests;
