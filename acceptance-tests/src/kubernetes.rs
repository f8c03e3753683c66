//! The Kubernetes side of an acceptance run: a real cluster (`TF_ACC_KUBECONFIG`) or the
//! project's Kubernetes API emulator.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::settings::KubernetesSetting;

/// Why no Kubernetes target is available.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KubernetesError {
    /// The emulator is not wired into the harness yet.
    #[error(
        "the Kubernetes API emulator (acceptance-tests/kube-emulator) is not wired into the harness yet; \
         set TF_ACC_KUBECONFIG to a real cluster's kubeconfig to run Kubernetes tests"
    )]
    EmulatorNotWired,
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
    },
    // INTEGRATION POINT (the lead wires this after merging the emulator):
    // Emulator {
    //     emulator: kube_emulator::Emulator,   // started on crate::runtime::shared_runtime()
    //     kubeconfig: PathBuf,                 // emulator.write_kubeconfig(scratch.join("kubeconfig"))
    // },
    // with fault/latency access for issue 6 through `emulator()` (add_fault, set_latency,
    // requests, reset).
}

impl KubernetesTarget {
    /// Resolves `setting`; `scratch` is a folder that lives as long as the harness.
    pub async fn from_setting(
        setting: &KubernetesSetting,
        scratch: &Path,
    ) -> Result<Self, KubernetesError> {
        let _ = scratch;
        match setting {
            KubernetesSetting::Kubeconfig(path) => Self::cluster(path).await,
            // INTEGRATION POINT: start the emulator here, e.g.
            //   let emulator = crate::runtime::run_in_background(
            //       kube_emulator::Emulator::start(kube_emulator::EmulatorConfig::default())).await?;
            //   let kubeconfig = scratch.join("kubeconfig");
            //   emulator.write_kubeconfig(&kubeconfig)?;
            //   Ok(Self::Emulator { emulator, kubeconfig })
            KubernetesSetting::Emulator => Err(KubernetesError::EmulatorNotWired),
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
        Ok(Self::Cluster {
            kubeconfig: path.to_path_buf(),
            context,
            server: config.cluster_url.to_string(),
        })
    }

    /// The kubeconfig the provider is given (`KUBECONFIG`).
    pub fn kubeconfig(&self) -> &Path {
        match self {
            Self::Cluster { kubeconfig, .. } => kubeconfig,
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
            } => format!(
                "REAL CLUSTER {server} (context {context}, kubeconfig {})",
                kubeconfig.display()
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
