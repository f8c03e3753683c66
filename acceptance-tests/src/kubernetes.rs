//! The Kubernetes side of an acceptance run: a real cluster (`TF_ACC_KUBECONFIG`) or the
//! project's Kubernetes API emulator.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::settings::KubernetesSetting;

/// Why no Kubernetes target is available.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KubernetesError {
    /// The Kubernetes API emulator did not start.
    #[error("the Kubernetes API emulator (acceptance-tests/kube-emulator) did not start: {0}")]
    EmulatorStart(String),
    /// The cluster's OIDC discovery document could not be read.
    #[error("the cluster's OIDC discovery document (/.well-known/openid-configuration): {0}")]
    Discovery(String),
    /// The kubeconfig is unusable.
    #[error("the kubeconfig {path} is not usable: {message}")]
    Kubeconfig {
        /// The kubeconfig.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Where the provider's Kubernetes calls go, and how tests reach it for assertions.
#[derive(Debug)]
pub enum KubernetesTarget {
    /// A real cluster, through a kubeconfig.
    Cluster {
        /// The kubeconfig file.
        kubeconfig: PathBuf,
        /// Its current context.
        context: String,
        /// The API server URL.
        server: String,
        /// What the API server's `/version` answered (`gitVersion`, e.g. `v1.37.2`).
        version: String,
    },
    /// The project's Kubernetes API emulator, serving on the harness's background runtime.
    Emulator {
        /// The running emulator.
        emulator: kube_emulator::Emulator,
        /// Its admin kubeconfig (system:masters), over verified TLS.
        kubeconfig: PathBuf,
    },
}

impl KubernetesTarget {
    /// Resolves `setting`; `scratch` is a folder that lives as long as the harness.
    pub async fn from_setting(
        setting: &KubernetesSetting,
        scratch: &Path,
    ) -> Result<Self, KubernetesError> {
        match setting {
            KubernetesSetting::Kubeconfig(path) => Self::cluster(path).await,
            KubernetesSetting::Emulator => Self::emulator(scratch).await,
        }
    }

    /// Starts the Kubernetes API emulator and writes its kubeconfig into `scratch`.
    pub async fn emulator(scratch: &Path) -> Result<Self, KubernetesError> {
        let failed = |e: &dyn std::fmt::Display| KubernetesError::EmulatorStart(e.to_string());
        let start = kube_emulator::Emulator::start(kube_emulator::EmulatorConfig::default());
        let emulator = crate::runtime::run_in_background(start)
            .await
            .map_err(|e| failed(&e))?;
        let kubeconfig = scratch.join("kubeconfig");
        emulator
            .write_kubeconfig(&kubeconfig)
            .map_err(|e| failed(&e))?;
        Ok(Self::Emulator {
            emulator,
            kubeconfig,
        })
    }

    /// The emulator, for what only it offers (its own request log); `None` on a real cluster.
    /// Faults and latency go through [`crate::kube_proxy::KubeProxy`] instead, on any target.
    pub fn emulator_handle(&self) -> Option<&kube_emulator::Emulator> {
        match self {
            Self::Emulator { emulator, .. } => Some(emulator),
            Self::Cluster { .. } => None,
        }
    }

    /// A real cluster through the kubeconfig at `path` (its current context).
    pub async fn cluster(path: &Path) -> Result<Self, KubernetesError> {
        let unusable = |message: String| KubernetesError::Kubeconfig {
            path: path.to_path_buf(),
            message,
        };
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| unusable(e.to_string()))?;
        let context = kubeconfig
            .current_context
            .clone()
            .unwrap_or_else(|| "(none)".to_string());
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| unusable(e.to_string()))?;
        let server = config.cluster_url.to_string();
        // Which Kubernetes answers, for the banner; a cluster that does not answer is unusable.
        let client = kube::Client::try_from(config).map_err(|e| unusable(e.to_string()))?;
        let version = client
            .apiserver_version()
            .await
            .map_err(|e| unusable(format!("GET /version on {server}: {e}")))?
            .git_version;
        Ok(Self::Cluster {
            kubeconfig: path.to_path_buf(),
            context,
            server,
            version,
        })
    }

    /// The kubeconfig the provider is given (`KUBECONFIG`).
    pub fn kubeconfig(&self) -> &Path {
        match self {
            Self::Cluster { kubeconfig, .. } | Self::Emulator { kubeconfig, .. } => kubeconfig,
        }
    }

    /// Whether this is a real cluster (not the emulator).
    pub fn is_real_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// One line for the banner.
    pub fn describe(&self) -> String {
        match self {
            Self::Cluster {
                kubeconfig,
                context,
                server,
                version,
            } => format!(
                "REAL CLUSTER Kubernetes {version} at {server} (context {context}, kubeconfig {})",
                kubeconfig.display()
            ),
            Self::Emulator { emulator, .. } => format!(
                "EMULATOR kube-emulator (recorded kube-apiserver v1.28 behaviour) at {}",
                emulator.url()
            ),
        }
    }

    /// A client for assertions, from the same kubeconfig the provider uses.
    pub async fn client(&self) -> Result<kube::Client, KubernetesError> {
        let path = self.kubeconfig();
        let unusable = |message: String| KubernetesError::Kubeconfig {
            path: path.to_path_buf(),
            message,
        };
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| unusable(e.to_string()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| unusable(e.to_string()))?;
        kube::Client::try_from(config).map_err(|e| unusable(e.to_string()))
    }
}

/// The issuer of the cluster's ServiceAccount tokens, from its OIDC discovery document
/// (`/.well-known/openid-configuration`, what `eksctl utils associate-iam-oidc-provider` reads
/// on EKS). Needs no ServiceAccount, so it does not wait for kube-controller-manager.
pub async fn service_account_issuer(client: &kube::Client) -> Result<String, KubernetesError> {
    let failed = |message: String| KubernetesError::Discovery(message);
    let request = http::Request::get("/.well-known/openid-configuration")
        .body(Vec::new())
        .expect("a GET request");
    let text = client
        .request_text(request)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let discovery: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| failed(format!("not JSON: {e}")))?;
    discovery["issuer"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| failed(format!("no issuer in {discovery}")))
}
