//! The per-process acceptance context: settings, the built provider, the Terraform CLI, the AWS
//! emulator and the Kubernetes target, set up once and shared by every test in the process.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;
use tokio::sync::OnceCell;

use crate::aws::proxy::{AwsProxy, ProxyError};
use crate::aws::{AwsClients, AwsEmulator, EmulatorError};
use crate::kube_proxy::KubeProxy;
use crate::kubernetes::{KubernetesError, KubernetesTarget};
use crate::provider_build::{BuildError, ProviderBuild, build_provider};
use crate::runtime::run_in_background;
use crate::settings::{Settings, SettingsError};
use crate::terraform::{TerraformCli, TerraformError, Workspace, write_cli_config};

/// The provider's address in `required_providers` and `dev_overrides`.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/gitlabrunner/gitlabrunner";

/// Why the harness is not available.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// `TF_ACC` is not set.
    #[error("acceptance tests are off: set TF_ACC=1 to run them")]
    Disabled,
    /// The environment is inconsistent.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The provider did not build.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Terraform is missing or failed.
    #[error(transparent)]
    Terraform(#[from] TerraformError),
    /// The AWS emulator is not usable.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// No Kubernetes target.
    #[error(transparent)]
    Kubernetes(#[from] KubernetesError),
    /// The AWS or Kubernetes proxy did not start.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// Setup failed earlier in this process (the first error, repeated for every test).
    #[error("acceptance setup failed: {0}")]
    SetupFailed(String),
    /// A helper process could not be started.
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
    /// The harness's scratch folder could not be created.
    #[error("could not create the harness's scratch folder")]
    Scratch(#[source] std::io::Error),
}

/// Everything an acceptance test runs against. Obtain it with [`harness`] (or
/// [`Harness::shared`]); it is set up once per test process.
#[derive(Debug)]
pub struct Harness {
    settings: Settings,
    terraform: TerraformCli,
    provider: ProviderBuild,
    cli_config: PathBuf,
    aws: AwsEmulator,
    kubernetes: Result<KubernetesTarget, KubernetesError>,
    /// The rig's STS in front of the emulator (see [`crate::aws::web_identity`]); `None`
    /// without a Kubernetes target, whose issuer it needs.
    sts: Option<AwsProxy>,
    _scratch: TempDir,
}

static SHARED: OnceCell<Result<Arc<Harness>, String>> = OnceCell::const_new();

/// Registers the rig's STS and EKS for `aws` and starts the proxy that provider workspaces send
/// STS, EKS and EKS Auth to (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_EKS`,
/// `AWS_ENDPOINT_URL_EKS_AUTH`, set by [`Workspace::set_aws_endpoint`]). Every proxy started
/// for the emulator afterwards checks web identities and serves EKS too.
async fn start_sts(aws: &AwsEmulator, target: &KubernetesTarget) -> Result<AwsProxy, HarnessError> {
    use crate::aws::eks::{Cluster, EksRig, register_rig};
    use crate::aws::web_identity::{RigSources, WebIdentityGate, register_gate, set_sts_url};
    let kube = target.client().await?;
    register_gate(
        aws.endpoint(),
        WebIdentityGate::new(RigSources::new(aws.endpoint(), kube.clone())),
    );
    // The rig's EKS: the run's cluster, in the emulator's account and region, whose tokens
    // are the run's Kubernetes API's.
    register_rig(
        aws.endpoint(),
        EksRig::new(
            vec![Cluster::run_cluster(aws.account_id(), aws.region())],
            RigSources::new(aws.endpoint(), kube),
        ),
    );
    let proxy = AwsProxy::start(aws.endpoint())?;
    set_sts_url(aws.endpoint(), proxy.url());
    Ok(proxy)
}

/// The shared harness for an acceptance test, or `None` (with the reason printed) when
/// acceptance tests are off. Panics with the setup error when they are on but the harness
/// cannot be set up (a missing tool, a provider that does not build, an emulator that does not
/// start): that is a failure, not a skip.
///
/// ```no_run
/// # async fn example() {
/// let Some(harness) = gitlabrunner_acceptance::harness("validate_accepts_empty_provider_block").await else {
///     return;
/// };
/// let workspace = harness.workspace().unwrap();
/// # }
/// ```
pub async fn harness(test_name: &str) -> Option<Arc<Harness>> {
    match Harness::shared().await {
        Ok(harness) => Some(harness),
        Err(HarnessError::Disabled) => {
            let _ = writeln!(
                std::io::stderr(),
                "acceptance: skipped {test_name}: TF_ACC is not set (TF_ACC=1 runs it)"
            );
            None
        }
        Err(error) => panic!("{test_name}: {}", crate::error_chain(&error)),
    }
}

impl Harness {
    /// The harness of this test process, set up on first use; `Err(Disabled)` without `TF_ACC`.
    pub async fn shared() -> Result<Arc<Harness>, HarnessError> {
        let settings = Settings::from_env()?;
        if !settings.enabled {
            return Err(HarnessError::Disabled);
        }
        let shared = SHARED
            .get_or_init(|| async move {
                // Set up on the background runtime: the emulator and its clients outlive the
                // test that happened to come first.
                match run_in_background(Harness::set_up(settings)).await {
                    Ok(harness) => {
                        let _ = writeln!(std::io::stderr(), "{}", harness.banner());
                        Ok(Arc::new(harness))
                    }
                    Err(error) => Err(crate::error_chain(&error)),
                }
            })
            .await;
        shared.clone().map_err(HarnessError::SetupFailed)
    }

    async fn set_up(settings: Settings) -> Result<Self, HarnessError> {
        let scratch = tempfile::Builder::new()
            .prefix("tf-acc-harness-")
            .tempdir()
            .map_err(HarnessError::Scratch)?;
        // The harness lives in a static that is never dropped.
        crate::process::remove_at_exit(scratch.path())?;
        let override_dir = scratch.path().join("provider");
        let cli_config = scratch.path().join("terraform.rc");
        let tools_dir = settings.tools_dir();
        let (provider, aws, kubernetes) = tokio::join!(
            build_provider(&settings.repo_root, &settings.profile, &override_dir),
            AwsEmulator::from_setting(&settings.aws, &tools_dir),
            KubernetesTarget::from_setting(&settings.kubernetes, scratch.path()),
        );
        let provider = provider?;
        let aws = aws?;
        let sts = match &kubernetes {
            Ok(target) => Some(start_sts(&aws, target).await?),
            Err(_) => None,
        };
        write_cli_config(&cli_config, PROVIDER_ADDRESS, &provider.override_dir)?;
        let terraform = TerraformCli::discover(&settings.terraform_path, &cli_config).await?;
        Ok(Self {
            settings,
            terraform,
            provider,
            cli_config,
            aws,
            kubernetes,
            sts,
            _scratch: scratch,
        })
    }

    /// Which Terraform, provider build, AWS emulator and Kubernetes this process runs against.
    pub fn banner(&self) -> String {
        let kubernetes = match &self.kubernetes {
            Ok(target) => target.describe(),
            Err(error) => format!("not available ({error})"),
        };
        format!(
            "acceptance: Terraform v{} ({}), AutoMTLS on\n\
             acceptance: provider {} (profile {}, cargo build {:.1} s)\n\
             acceptance: AWS {}\n\
             acceptance: STS AssumeRoleWithWebIdentity {}\n\
             acceptance: EKS Pod Identity and EKS Auth {}\n\
             acceptance: Kubernetes {kubernetes}",
            self.terraform.version(),
            self.terraform.path().display(),
            self.provider.binary.display(),
            self.provider.profile,
            self.provider.build_time.as_secs_f64(),
            self.aws.describe(),
            match &self.sts {
                Some(proxy) => format!(
                    "checked by the rig's STS at {} (signature, iss, aud, exp, trust policy)",
                    proxy.url()
                ),
                None => "unchecked (no Kubernetes target to read the issuer's keys from)".into(),
            },
            match (&self.sts, crate::aws::eks::rig_for(self.aws.endpoint())) {
                (Some(proxy), Some(_)) => format!(
                    "served by the rig at {} (cluster {}, tokens of the Kubernetes target)",
                    proxy.url(),
                    crate::aws::eks::CLUSTER_NAME
                ),
                _ => "not served (no Kubernetes target to bind the cluster to)".into(),
            },
        )
    }

    /// The rig's EKS Pod Identity and EKS Auth (see [`crate::aws::eks`]). `None` without a
    /// Kubernetes target.
    pub fn eks_rig(&self) -> Option<Arc<crate::aws::eks::EksRig>> {
        crate::aws::eks::rig_for(self.aws.endpoint())
    }

    /// The rig's STS: what it refused so far. `None` without a Kubernetes target.
    pub fn sts_gate(&self) -> Option<std::sync::Arc<crate::aws::web_identity::WebIdentityGate>> {
        crate::aws::web_identity::gate_for(self.aws.endpoint()).map(|entry| entry.gate)
    }

    /// The settings read from the environment.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The Terraform CLI.
    pub fn terraform(&self) -> &TerraformCli {
        &self.terraform
    }

    /// The provider build.
    pub fn provider(&self) -> &ProviderBuild {
        &self.provider
    }

    /// The CLI configuration with `dev_overrides`.
    pub fn cli_config(&self) -> &std::path::Path {
        &self.cli_config
    }

    /// The AWS emulator.
    pub fn aws(&self) -> &AwsEmulator {
        &self.aws
    }

    /// The account id the emulator reported through STS.
    pub fn account_id(&self) -> &str {
        self.aws.account_id()
    }

    /// The Kubernetes target; an error (for the test to fail with) when none is available.
    pub fn kubernetes(&self) -> Result<&KubernetesTarget, HarnessError> {
        self.kubernetes
            .as_ref()
            .map_err(|error| HarnessError::Kubernetes(error.clone()))
    }

    /// The Kubernetes API emulator, for a test that needs it (`what`, e.g. "minting tokens
    /// with the emulator's key"); `None` against a real cluster, saying that `test` is skipped
    /// and why. Panics when there is no Kubernetes target at all.
    pub fn emulator_for(&self, test: &str, what: &str) -> Option<&kube_emulator::Emulator> {
        let emulator = self.kubernetes().unwrap().emulator_handle();
        if emulator.is_none() {
            crate::say!("{test}: skipped: {what} needs the Kubernetes API emulator");
        }
        emulator
    }

    /// A new workspace whose provider talks to the AWS emulator directly and, when a
    /// Kubernetes target exists, to it.
    pub fn workspace(&self) -> Result<Workspace, HarnessError> {
        self.workspace_for_endpoint(self.aws.endpoint())
    }

    /// A new workspace whose provider talks to AWS through `proxy`.
    pub fn workspace_via(&self, proxy: &AwsProxy) -> Result<Workspace, HarnessError> {
        self.workspace_for_endpoint(proxy.url())
    }

    /// A new workspace whose provider talks to AWS through `aws` and to Kubernetes through
    /// `kube`.
    pub fn workspace_through(
        &self,
        aws: &AwsProxy,
        kube: &KubeProxy,
    ) -> Result<Workspace, HarnessError> {
        let mut workspace = self.workspace_for_endpoint(aws.url())?;
        workspace.set_kubeconfig(kube.kubeconfig());
        Ok(workspace)
    }

    fn workspace_for_endpoint(&self, endpoint: &str) -> Result<Workspace, HarnessError> {
        let mut workspace = Workspace::new(
            self.terraform.path(),
            &self.cli_config,
            self.settings.command_timeout,
        )?;
        workspace.set_aws_endpoint(endpoint, self.aws.region());
        if let Ok(kubernetes) = &self.kubernetes {
            workspace.set_kubeconfig(kubernetes.kubeconfig());
        }
        Ok(workspace)
    }

    /// A fault-injecting proxy in front of the AWS emulator (see [`AwsProxy`]).
    pub fn start_proxy(&self) -> Result<AwsProxy, HarnessError> {
        Ok(AwsProxy::start(self.aws.endpoint())?)
    }

    /// A fault-injecting HTTPS proxy in front of the Kubernetes target, the emulator or a real
    /// cluster (see [`KubeProxy`]); an error when there is no Kubernetes target.
    pub fn start_kube_proxy(&self) -> Result<KubeProxy, HarnessError> {
        Ok(KubeProxy::start(self.kubernetes()?.kubeconfig())?)
    }

    /// A moto server of the test's own on a free port, for what must not touch the shared
    /// emulator (server-global switches such as IAM enforcement). It stops when dropped. Point
    /// a workspace at it with [`Workspace::set_aws_endpoint`].
    pub async fn start_dedicated_moto(&self) -> Result<AwsEmulator, HarnessError> {
        let tools_dir = self.settings.tools_dir();
        let start = async move {
            AwsEmulator::start(crate::settings::AwsEmulatorKind::Moto, &tools_dir).await
        };
        Ok(run_in_background(start).await?)
    }

    /// SDK clients pointed straight at the emulator, for assertions. Build them in the test
    /// that uses them.
    pub async fn aws_clients(&self) -> AwsClients {
        self.aws.clients().await
    }
}
