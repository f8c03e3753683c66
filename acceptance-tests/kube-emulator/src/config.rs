//! How to start an emulator.

use std::net::SocketAddr;
use std::time::Duration;

use crate::authn::token_file::StaticToken;
use crate::faults::Latency;

/// The issuer of a cluster created with default settings (`--service-account-issuer`).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Emulator settings.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Listen address (loopback, any port by default).
    pub bind: SocketAddr,
    /// ServiceAccount token issuer (`iss` claim).
    pub issuer: String,
    /// Audiences the API accepts for ServiceAccount tokens (defaults to `[issuer]`).
    pub api_audiences: Option<Vec<String>>,
    /// PEM RSA private key signing ServiceAccount tokens (a shared generated key otherwise).
    pub signing_key_pem: Option<String>,
    /// `jwks_uri` advertised by `/.well-known/openid-configuration` (the emulator's own
    /// `/openid/v1/jwks` otherwise).
    pub jwks_uri: Option<String>,
    /// Extra static tokens (like `--token-auth-file`).
    pub static_tokens: Vec<StaticToken>,
    /// Token of the `admin` user (`system:masters`); random when `None`.
    pub admin_token: Option<String>,
    /// Latency added to every API request from the start.
    pub latency: Latency,
    /// How long after a namespace is created its `default` ServiceAccount and
    /// `kube-root-ca.crt` ConfigMap appear. kube-controller-manager creates them
    /// asynchronously, so clients must wait for them; the built-in namespaces have them at
    /// boot.
    pub controller_delay: Duration,
}

/// [`EmulatorConfig::controller_delay`] by default: about what a real controller-manager
/// takes on an idle machine.
pub const DEFAULT_CONTROLLER_DELAY: Duration = Duration::from_millis(150);

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            issuer: DEFAULT_ISSUER.to_string(),
            api_audiences: None,
            signing_key_pem: None,
            jwks_uri: None,
            static_tokens: Vec::new(),
            admin_token: None,
            latency: Latency::none(),
            controller_delay: DEFAULT_CONTROLLER_DELAY,
        }
    }
}
