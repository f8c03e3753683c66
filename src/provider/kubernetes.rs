//! The Kubernetes client configuration from the `kubernetes` block.
//!
//! Sources, first match wins: `host` with its credentials; a kubeconfig (`config_path`, else
//! the files in `KUBECONFIG`, merged, else `~/.kube/config`) at `config_context`; the in-cluster
//! ServiceAccount (`KUBERNETES_SERVICE_HOST`). Explicit and in-cluster settings are turned into
//! an in-memory kubeconfig, so that kube-rs's one loader handles every source alike (exec
//! plugins, token files, client certificates, CA bundles). TLS is verified unless `insecure`.
//!
//! Nothing here logs, and no error quotes `token` or `client_key`.

use std::path::{Path, PathBuf};

use aws_types::os_shim_internal::Env;
use base64::Engine as _;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use serde_json::json;

use crate::codec::{AttributePath, Diagnostic};
use crate::error_chain::error_chain;

use super::settings::KubernetesSettings;

/// Where a pod's ServiceAccount credentials are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The name of the cluster, user and context of the in-memory kubeconfig.
const ENTRY: &str = "gitlabrunner";

/// Where the connection settings come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KubeSource {
    /// `host` and its credentials from the provider block.
    ProviderBlock,
    /// Kubeconfig files: from `config_path`, `KUBECONFIG` or `~/.kube/config`.
    Kubeconfig {
        /// The files, merged in order.
        paths: Vec<PathBuf>,
        /// Which setting named them.
        origin: KubeconfigOrigin,
    },
    /// The pod's ServiceAccount.
    InCluster {
        /// `https://HOST:PORT` from `KUBERNETES_SERVICE_HOST`/`_PORT`.
        server: String,
        /// The directory with `token` and `ca.crt`.
        service_account_dir: PathBuf,
    },
}

/// Which setting named the kubeconfig files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KubeconfigOrigin {
    /// `kubernetes.config_path`.
    ConfigPath,
    /// The `KUBECONFIG` environment variable.
    EnvironmentVariable,
    /// `~/.kube/config`.
    HomeDirectory,
}

/// Why no Kubernetes client could be made. Turned into a diagnostic by [`KubeError::diagnostic`].
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Parts of the `kubernetes` block are not known until apply.
    #[error("the provider settings {} are not known yet", join(.0))]
    Unknown(Vec<AttributePath>),
    /// No source applies.
    #[error(
        "no Kubernetes configuration found: the provider's kubernetes block sets neither host \
         nor config_path, KUBECONFIG is not set, {home} does not exist, and this is not a pod \
         (KUBERNETES_SERVICE_HOST is not set)"
    )]
    NotConfigured {
        /// The default kubeconfig path that was tried.
        home: String,
    },
    /// No file of the kubeconfig list exists.
    #[error("the kubeconfig file {} does not exist", join(&.0.iter().map(|p| p.display()).collect::<Vec<_>>()))]
    Missing(Vec<PathBuf>),
    /// A kubeconfig file could not be read or parsed.
    #[error("could not read the kubeconfig {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: KubeconfigError,
    },
    /// The kubeconfig does not yield a usable configuration (context, cluster, certificates).
    #[error("the kubeconfig is not usable")]
    Kubeconfig(#[source] KubeconfigError),
    /// The in-memory kubeconfig for `host` or in-cluster is not usable.
    #[error("the Kubernetes connection settings are not usable")]
    Settings(#[source] KubeconfigError),
    /// The in-memory kubeconfig could not be assembled.
    #[error("the Kubernetes connection settings could not be assembled")]
    InMemory(#[source] serde_json::Error),
    /// The client could not be built (TLS setup).
    #[error("the Kubernetes client could not be created")]
    Client(#[source] kube::Error),
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl KubeError {
    /// The diagnostic for this error. It carries no attribute path: it is reported from the
    /// resource operation that needed Kubernetes, where Terraform would read a path as one of
    /// the resource's own attributes; the detail names the provider setting instead.
    pub fn diagnostic(&self, source: Option<&KubeSource>) -> Diagnostic {
        let summary = match (self, source) {
            (KubeError::Unknown(_), _) => "Kubernetes settings not known yet",
            (KubeError::NotConfigured { .. }, _) => "Kubernetes is not configured",
            (
                KubeError::Missing(_) | KubeError::Read { .. } | KubeError::Kubeconfig(_),
                Some(KubeSource::Kubeconfig {
                    origin: KubeconfigOrigin::ConfigPath,
                    ..
                }),
            ) => "Unusable kubeconfig (provider setting kubernetes.config_path)",
            (KubeError::Missing(_) | KubeError::Read { .. } | KubeError::Kubeconfig(_), _) => {
                "Unusable kubeconfig"
            }
            (_, Some(KubeSource::ProviderBlock)) => {
                "Unusable Kubernetes settings (provider setting kubernetes.host)"
            }
            _ => "Unusable Kubernetes settings",
        };
        let hint = match self {
            KubeError::Unknown(_) => {
                " They depend on values Terraform learns during apply; this operation needs \
                 the Kubernetes API now. Apply the resources the provider block depends on \
                 first (terraform apply -target=...), or configure the provider from values \
                 known at plan time."
            }
            KubeError::NotConfigured { .. } => {
                " Set kubernetes.host (with a token, client certificates or exec) or \
                 kubernetes.config_path in the provider block."
            }
            KubeError::Kubeconfig(KubeconfigError::LoadContext(_)) => {
                " Check the provider setting kubernetes.config_context against \
                 `kubectl config get-contexts`."
            }
            _ => "",
        };
        Diagnostic::error(summary, format!("{}.{hint}", error_chain(self)))
    }
}

/// The Kubernetes side of the provider: the block's settings, turned into a client on demand.
#[derive(Clone, Debug, Default)]
pub struct KubeConnection {
    settings: KubernetesSettings,
    unknown: Vec<AttributePath>,
    service_account_dir: Option<PathBuf>,
}

impl KubeConnection {
    /// A connection from the block's `settings`; `unknown` lists its settings not known yet.
    pub fn new(settings: KubernetesSettings, unknown: Vec<AttributePath>) -> Self {
        Self {
            settings,
            unknown,
            service_account_dir: None,
        }
    }

    /// Uses `dir` instead of [`SERVICE_ACCOUNT_DIR`] (tests).
    pub fn with_service_account_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.service_account_dir = Some(dir.into());
        self
    }

    /// Picks the source, reading the environment through `env` (cheap: no file is read).
    pub fn source(&self, env: &Env) -> Result<KubeSource, KubeError> {
        if !self.unknown.is_empty() {
            return Err(KubeError::Unknown(self.unknown.clone()));
        }
        if self.settings.host.is_some() {
            return Ok(KubeSource::ProviderBlock);
        }
        if let Some(path) = &self.settings.config_path {
            return Ok(KubeSource::Kubeconfig {
                paths: vec![expand_home(path, env)],
                origin: KubeconfigOrigin::ConfigPath,
            });
        }
        if let Ok(list) = env.get("KUBECONFIG") {
            let paths: Vec<PathBuf> = list
                .split(':')
                .filter(|p| !p.is_empty())
                .map(|p| expand_home(p, env))
                .collect();
            if !paths.is_empty() {
                return Ok(KubeSource::Kubeconfig {
                    paths,
                    origin: KubeconfigOrigin::EnvironmentVariable,
                });
            }
        }
        let home = expand_home("~/.kube/config", env);
        if home.is_file() {
            return Ok(KubeSource::Kubeconfig {
                paths: vec![home],
                origin: KubeconfigOrigin::HomeDirectory,
            });
        }
        if let (Ok(host), Ok(port)) = (
            env.get("KUBERNETES_SERVICE_HOST"),
            env.get("KUBERNETES_SERVICE_PORT"),
        ) {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            return Ok(KubeSource::InCluster {
                server: format!("https://{host}:{port}"),
                service_account_dir: self
                    .service_account_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(SERVICE_ACCOUNT_DIR)),
            });
        }
        Err(KubeError::NotConfigured {
            home: home.display().to_string(),
        })
    }

    /// The kube-rs configuration for `source`.
    pub async fn config(&self, source: &KubeSource) -> Result<kube::Config, KubeError> {
        let settings = &self.settings;
        let mut config = match source {
            KubeSource::ProviderBlock => {
                let kubeconfig = explicit_kubeconfig(settings)?;
                from_kubeconfig(kubeconfig, None)
                    .await
                    .map_err(KubeError::Settings)?
            }
            KubeSource::Kubeconfig { paths, .. } => {
                let kubeconfig = read_kubeconfigs(paths)?;
                from_kubeconfig(kubeconfig, settings.config_context.clone())
                    .await
                    .map_err(KubeError::Kubeconfig)?
            }
            KubeSource::InCluster {
                server,
                service_account_dir,
            } => {
                let kubeconfig = in_cluster_kubeconfig(server, service_account_dir)?;
                from_kubeconfig(kubeconfig, None)
                    .await
                    .map_err(KubeError::Settings)?
            }
        };
        if settings.insecure {
            config.accept_invalid_certs = true;
        }
        // kube-rs's own retry layer allows 15 retries with waits up to 1000 s; the bounded
        // retries in `crate::kubernetes` are the only ones.
        config.default_retry = false;
        Ok(config)
    }

    /// Builds the client: picks the source, reads it, sets up TLS.
    pub async fn client(&self, env: &Env) -> Result<kube::Client, Diagnostic> {
        let source = self.source(env).map_err(|e| e.diagnostic(None))?;
        let config = self
            .config(&source)
            .await
            .map_err(|e| e.diagnostic(Some(&source)))?;
        kube::Client::try_from(config).map_err(|e| KubeError::Client(e).diagnostic(Some(&source)))
    }
}

/// `~/x` with `HOME` from `env`; other paths unchanged.
fn expand_home(path: &str, env: &Env) -> PathBuf {
    match (path.strip_prefix("~/"), env.get("HOME")) {
        (Some(rest), Ok(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

async fn from_kubeconfig(
    kubeconfig: Kubeconfig,
    context: Option<String>,
) -> Result<kube::Config, KubeconfigError> {
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
}

/// Reads and merges the kubeconfig files that exist (as kubectl does with `KUBECONFIG`).
fn read_kubeconfigs(paths: &[PathBuf]) -> Result<Kubeconfig, KubeError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths.iter().filter(|p| p.exists()) {
        let next = Kubeconfig::read_from(path).map_err(|source| KubeError::Read {
            path: path.clone(),
            source,
        })?;
        merged = Some(match merged {
            None => next,
            Some(merged) => merged.merge(next).map_err(|source| KubeError::Read {
                path: path.clone(),
                source,
            })?,
        });
    }
    merged.ok_or_else(|| KubeError::Missing(paths.to_vec()))
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A one-context kubeconfig for `cluster` and `user` (both kubeconfig JSON objects).
fn single_context(
    cluster: serde_json::Value,
    user: serde_json::Value,
) -> Result<Kubeconfig, KubeError> {
    let document = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": ENTRY, "cluster": cluster}],
        "users": [{"name": ENTRY, "user": user}],
        "contexts": [{"name": ENTRY, "context": {"cluster": ENTRY, "user": ENTRY}}],
        "current-context": ENTRY,
    });
    serde_json::from_value(document).map_err(KubeError::InMemory)
}

/// The kubeconfig equivalent of the block's `host` settings.
fn explicit_kubeconfig(settings: &KubernetesSettings) -> Result<Kubeconfig, KubeError> {
    let mut cluster = json!({ "server": settings.host });
    if let Some(ca) = &settings.cluster_ca_certificate {
        cluster["certificate-authority-data"] = json!(base64(ca));
    }
    let mut user = json!({});
    if let Some(token) = &settings.token {
        user["token"] = json!(token);
    }
    if let Some(certificate) = &settings.client_certificate {
        user["client-certificate-data"] = json!(base64(certificate));
    }
    if let Some(key) = &settings.client_key {
        user["client-key-data"] = json!(base64(key));
    }
    if let Some(exec) = &settings.exec {
        let env: Vec<serde_json::Value> = exec
            .env
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        user["exec"] = json!({
            "apiVersion": exec.api_version,
            "command": exec.command,
            "args": exec.args,
            "env": env,
            "interactiveMode": "Never",
        });
    }
    single_context(cluster, user)
}

/// The kubeconfig equivalent of a pod's ServiceAccount: its token file (re-read when it
/// rotates) and CA bundle.
fn in_cluster_kubeconfig(
    server: &str,
    service_account_dir: &Path,
) -> Result<Kubeconfig, KubeError> {
    let file = |name: &str| service_account_dir.join(name).display().to_string();
    single_context(
        json!({ "server": server, "certificate-authority": file("ca.crt") }),
        json!({ "tokenFile": file("token") }),
    )
}

#[cfg(test)]
#[path = "kubernetes_tests.rs"]
mod tests;
