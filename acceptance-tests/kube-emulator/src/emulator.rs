//! The running emulator: start, inspect, control, stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::authn::service_account::{KeyError, Signer, SignerSource};
use crate::authn::token_file::StaticToken;
use crate::clock::Clock;
use crate::cluster::{Cluster, Ctx, Env};
use crate::config::EmulatorConfig;
use crate::faults::{Fault, FaultSet, Latency};
use crate::request_log::{RequestLog, RequestRecord};
use crate::{ids, kubeconfig, server, tls};

/// Starting the emulator failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Certificates or TLS setup failed.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The configured signing key is unusable.
    #[error(transparent)]
    SigningKey(#[from] KeyError),
}

/// State shared by the server tasks and the handle.
pub struct Shared {
    /// Fixed settings.
    pub env: Env,
    /// ServiceAccount token key.
    pub signer: SignerSource,
    /// Cluster state.
    pub cluster: Mutex<Cluster>,
    /// Injected faults.
    pub faults: Mutex<FaultSet>,
    /// Injected latency.
    pub latency: Mutex<Latency>,
    /// Latency configured at start (restored by reset).
    pub initial_latency: Latency,
    /// Request log.
    pub log: Mutex<RequestLog>,
    /// Requests processed whose answers a `delay_response` fault holds back right now.
    pub held: Mutex<Vec<HeldRequest>>,
    /// Start instant (request timings are relative to it).
    pub started: Instant,
    /// Token of the admin user (also guards `/__emulator/`).
    pub admin_token: String,
}

impl Shared {
    /// Runs `f` with the cluster locked.
    pub fn with_ctx<R>(&self, f: impl FnOnce(&mut Ctx) -> R) -> R {
        let mut cluster = self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ctx = Ctx {
            cluster: &mut cluster,
            env: &self.env,
            signer: &self.signer,
        };
        crate::controllers::run_due(&mut ctx, Instant::now());
        f(&mut ctx)
    }

    /// Back to the boot state: objects, faults, latency and the request log (static tokens
    /// and keys are kept).
    pub fn reset(&self) {
        let tokens = self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .static_tokens
            .clone();
        let fresh = Cluster::boot(&self.env, &self.signer, tokens);
        *self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        *self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = self.initial_latency;
        *self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = RequestLog::default();
    }

    /// Registers a static token for `user` and returns it.
    pub fn add_user(&self, user: &str, uid: &str, groups: &[String]) -> String {
        let token = ids::token();
        self.cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .static_tokens
            .push(StaticToken {
                token: token.clone(),
                user: user.into(),
                uid: uid.into(),
                groups: groups.to_vec(),
            });
        token
    }
}

/// Runs due controller work in the background, so that it happens (and watches see it)
/// without waiting for the next request.
async fn run_controllers(shared: Arc<Shared>, mut stopping: watch::Receiver<bool>) {
    let tick = std::time::Duration::from_millis(25);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stopping.changed() => return,
        }
        if *stopping.borrow() {
            return;
        }
        let idle = shared
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pending
            .is_empty();
        if !idle {
            shared.with_ctx(|_| ());
        }
    }
}

/// A request that was processed (it took effect) and whose answer a `delay_response` fault
/// holds back right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRequest {
    /// Its sequence number in the request log.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
}

/// A running Kubernetes API emulator.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    url: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

fn url_host(addr: &SocketAddr) -> String {
    let ip = addr.ip();
    let ip = if ip.is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        ip
    };
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

impl Emulator {
    /// Binds, generates its CA, boots the cluster and starts serving.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, StartError> {
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        let host = url_host(&addr);
        let url = format!("https://{host}:{}", addr.port());
        let mut names: Vec<String> = vec![
            "127.0.0.1".into(),
            "::1".into(),
            "localhost".into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            "kubernetes.default.svc.cluster.local".into(),
        ];
        let bare = host.trim_matches(|c| c == '[' || c == ']').to_string();
        if !names.contains(&bare) {
            names.push(bare);
        }
        let certs = tls::generate(&names)?;
        let signer = match &config.signing_key_pem {
            Some(pem) => SignerSource::Fixed(Arc::new(Signer::from_pem(pem)?)),
            None => {
                if !Signer::shared_ready() {
                    std::thread::spawn(Signer::shared);
                }
                SignerSource::Shared
            }
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let env = Env {
            issuer: config.issuer.clone(),
            api_audiences: config
                .api_audiences
                .clone()
                .unwrap_or_else(|| vec![config.issuer.clone()]),
            ca_pem: certs.ca_pem.clone(),
            server_address: format!("{host}:{}", addr.port()),
            jwks_uri: config
                .jwks_uri
                .clone()
                .unwrap_or_else(|| format!("{url}/openid/v1/jwks")),
            clock: Arc::new(Clock::default()),
            stopping: shutdown_rx.clone(),
            controller_delay: config.controller_delay,
        };
        let admin_token = config.admin_token.clone().unwrap_or_else(ids::token);
        let mut tokens = vec![StaticToken {
            token: admin_token.clone(),
            user: "admin".into(),
            uid: "admin-uid".into(),
            groups: vec!["system:masters".into()],
        }];
        tokens.extend(config.static_tokens.iter().cloned());
        let cluster = Cluster::boot(&env, &signer, tokens);
        let shared = Arc::new(Shared {
            env,
            signer,
            cluster: Mutex::new(cluster),
            faults: Mutex::new(FaultSet::default()),
            latency: Mutex::new(config.latency),
            initial_latency: config.latency,
            log: Mutex::new(RequestLog::default()),
            held: Mutex::new(Vec::new()),
            started: Instant::now(),
            admin_token,
        });
        tokio::spawn(run_controllers(shared.clone(), shutdown_rx.clone()));
        let acceptor = tokio_rustls::TlsAcceptor::from(certs.server_config);
        let task = tokio::spawn(server::serve(
            listener,
            acceptor,
            shared.clone(),
            shutdown_rx,
        ));
        Ok(Emulator {
            shared,
            addr,
            url,
            shutdown,
            task: Some(task),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.shared.env.ca_pem
    }

    /// Bearer token of user `admin` (group `system:masters`).
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    /// ServiceAccount token issuer.
    pub fn issuer(&self) -> &str {
        &self.shared.env.issuer
    }

    /// A kubeconfig for the admin user.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(&self.url, self.ca_pem(), "admin", self.admin_token())
    }

    /// A kubeconfig authenticating with `token`.
    pub fn kubeconfig_for_token(&self, user: &str, token: &str) -> String {
        kubeconfig::render(&self.url, self.ca_pem(), user, token)
    }

    /// Writes the admin kubeconfig to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// Adds a static user (like a `--token-auth-file` line) and returns its token; the uid is
    /// `<user>-uid`.
    pub fn token_for(&self, user: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.shared.add_user(user, &format!("{user}-uid"), &groups)
    }

    /// Adds a static token with full control over the user.
    pub fn add_static_token(&self, token: StaticToken) {
        self.shared
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .static_tokens
            .push(token);
    }

    /// Every static token (admin first).
    pub fn static_tokens(&self) -> Vec<StaticToken> {
        self.shared
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .static_tokens
            .clone()
    }

    /// Replaces the latency added to every API request.
    pub fn set_latency(&self, latency: Latency) {
        *self
            .shared
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = latency;
    }

    /// Injects a fault.
    pub fn add_fault(&self, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(fault);
    }

    /// Removes the injected faults equal to `fault` (the others stay): for tests that share
    /// one emulator and must not clear each other's faults.
    pub fn remove_fault(&self, fault: &Fault) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(fault);
    }

    /// The requests whose answers a `delay_response` fault holds back now: they were
    /// processed, and the client is waiting. Poll it to act while a client waits at a known
    /// call.
    pub fn held_requests(&self) -> Vec<HeldRequest> {
        self.shared
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The instant the request log's `start_ms`/`end_ms` count from, so the log can be put on
    /// one time line with other logs: `started_at() + Duration::from_secs_f64(start_ms / 1e3)`.
    pub fn started_at(&self) -> Instant {
        self.shared.started
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The request log, in arrival order (admin endpoints excluded).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .records()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Back to the boot state (objects, faults, latency, request log).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Freezes the wall clock at `at` (`None` resumes real time).
    pub fn freeze_clock(&self, at: Option<time::OffsetDateTime>) {
        self.shared.env.clock.freeze(at);
    }

    /// The JWKS document of the ServiceAccount token key.
    pub fn jwks(&self) -> serde_json::Value {
        self.shared.signer.get().jwks()
    }

    /// Shared state (for in-process inspection).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, lets in-flight requests finish (up to 2 s) and returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl std::fmt::Debug for Emulator {
    /// The address and issuer; never the admin token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url())
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}
