//! An HTTP proxy in front of the AWS emulator that injects latency and faults and logs every
//! request: the provider is pointed at it with `AWS_ENDPOINT_URL`. The machinery is the shared
//! [`crate::fault_proxy`]; this module says what an AWS request is and how AWS answers errors.
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

mod classify;
mod error_body;

use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

pub use crate::fault_proxy::{
    ErrorAnswer, FaultAction, FaultProxy, FaultRule, HeldRequest, Latency, Matcher, ProxyError,
    RequestKind, RequestRecord, RequestTarget, Trigger, critical_path_depth,
};
pub use classify::{classify, target};
pub use error_body::error_response;

use crate::aws::eks::{self, EksRig};
use crate::aws::web_identity::{self, WebIdentityGate};
use crate::fault_proxy::{Dialect, HttpUpstream, Intercepted, Interception};

/// A running AWS proxy (a [`FaultProxy`] speaking the AWS protocols); dropping it stops it.
#[derive(Debug)]
pub struct AwsProxy {
    proxy: FaultProxy,
    checks_web_identity: bool,
    serves_eks: bool,
}

impl AwsProxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Result<Self, ProxyError> {
        // The rig's STS, when one is registered for this emulator, checks web identities here.
        let gate = web_identity::gate_for(upstream).map(|entry| entry.gate);
        // The rig's EKS and EKS Auth, when registered for this emulator, answer here.
        let eks = eks::rig_for(upstream);
        let upstream = HttpUpstream::new(upstream)?;
        let checks_web_identity = gate.is_some();
        let serves_eks = eks.is_some();
        let proxy = FaultProxy::start(AwsDialect { gate, eks }, upstream, None)?;
        if serves_eks {
            EKS_PROXIES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(proxy.url().to_string());
        }
        Ok(Self {
            proxy,
            checks_web_identity,
            serves_eks,
        })
    }

    /// Whether the rig's EKS Pod Identity and EKS Auth answer here (see [`crate::aws::eks`]).
    pub fn serves_eks(&self) -> bool {
        self.serves_eks
    }

    /// Whether `AssumeRoleWithWebIdentity` is checked by the rig's STS before it is forwarded.
    pub fn checks_web_identity(&self) -> bool {
        self.checks_web_identity
    }
}

/// The URLs of the proxies that serve the rig's EKS, while they run.
static EKS_PROXIES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Whether a running [`AwsProxy`] at `url` serves the rig's EKS.
pub fn serving_eks(url: &str) -> bool {
    let url = url.trim_end_matches('/');
    EKS_PROXIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|u| u == url)
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        let url = self.proxy.url().to_string();
        EKS_PROXIES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|u| *u != url);
    }
}

impl std::ops::Deref for AwsProxy {
    type Target = FaultProxy;

    fn deref(&self) -> &FaultProxy {
        &self.proxy
    }
}

/// AWS requests: service and operation from the wire, parameters or bucket as the target;
/// errors in the service's protocol.
#[derive(Debug)]
struct AwsDialect {
    /// The rig's STS checks for `AssumeRoleWithWebIdentity`, when registered for the upstream.
    gate: Option<Arc<WebIdentityGate>>,
    /// The rig's EKS and EKS Auth, when registered for the upstream.
    eks: Option<Arc<EksRig>>,
}

impl Dialect for AwsDialect {
    /// EKS Pod Identity and EKS Auth calls are answered by the rig's EKS (the emulators lack
    /// them); an `AssumeRoleWithWebIdentity` the rig's STS refuses is answered with STS's
    /// error instead of being forwarded (moto and LocalStack would accept any token).
    fn intercept<'a>(
        &'a self,
        kind: &'a RequestKind,
        parts: &'a http::request::Parts,
        body: &'a [u8],
    ) -> Interception<'a> {
        Box::pin(async move {
            if let Some(rig) = &self.eks
                && let Some(answer) = rig.handle(kind, parts, body).await
            {
                return Some(Intercepted::Answer(answer));
            }
            let gate = self.gate.as_ref()?;
            if kind.service != "sts" || kind.operation != "AssumeRoleWithWebIdentity" {
                return None;
            }
            let refusal = gate.check(&web_identity::form_params(body)).await.err()?;
            Some(Intercepted::Refuse(
                refusal.status,
                refusal.code.to_string(),
                refusal.message,
            ))
        })
    }

    fn describe(&self, parts: &http::request::Parts, body: &[u8]) -> (RequestKind, RequestTarget) {
        let path = parts.uri.path();
        let query = parts.uri.query().unwrap_or("");
        let kind = classify(&parts.method, path, query, &parts.headers, body);
        let target = target(&kind, path, query, body);
        (kind, target)
    }

    fn error_response(
        &self,
        kind: &RequestKind,
        is_head: bool,
        error: &ErrorAnswer<'_>,
    ) -> Response<Full<Bytes>> {
        error_response(
            &kind.service,
            is_head,
            error.status,
            error.code,
            error.message,
            error.request_id,
        )
    }
}

#[cfg(test)]
mod tests;
