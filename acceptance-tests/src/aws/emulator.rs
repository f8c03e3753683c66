//! The AWS emulator an acceptance run talks to: moto server or LocalStack, started by the
//! harness on a free loopback port, or one already running (`TF_ACC_AWS_ENDPOINT_URL`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::AwsClients;
use crate::http_probe;
use crate::process::{ManagedProcess, ProcessError};
use crate::settings::{AwsEmulatorKind, AwsTargetSetting};

/// The region every acceptance run uses.
pub const REGION: &str = "us-east-1";

const MOTO_READY_TIMEOUT: Duration = Duration::from_secs(30);
const LOCALSTACK_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the AWS emulator is not usable.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The emulator process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A scratch folder or port could not be had.
    #[error("could not prepare the {what} for the AWS emulator")]
    Io {
        /// What was being prepared.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `TF_ACC_AWS_ENDPOINT_URL` does not answer like an emulator.
    #[error(
        "TF_ACC_AWS_ENDPOINT_URL={0} does not answer (tried /_localstack/health and /moto-api/)"
    )]
    Unreachable(String),
    /// moto's IAM enforcement could not be switched.
    #[error("could not switch moto's IAM enforcement at {endpoint}: {message}")]
    Enforcement {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// STS GetCallerIdentity failed, so the account id is unknown.
    #[error("STS GetCallerIdentity at {endpoint} failed: {message}")]
    CallerIdentity {
        /// The endpoint.
        endpoint: String,
        /// The SDK's error, with its causes.
        message: String,
    },
}

/// A running AWS emulator and what the harness learnt about it.
#[derive(Debug)]
pub struct AwsEmulator {
    kind: Option<AwsEmulatorKind>,
    endpoint: String,
    version: Option<String>,
    account_id: String,
    startup: Option<Duration>,
    process: Option<ManagedProcess>,
    _scratch: Option<TempDir>,
}

impl AwsEmulator {
    /// Starts or connects to the emulator `setting` names; tools come from `tools_dir`.
    pub async fn from_setting(
        setting: &AwsTargetSetting,
        tools_dir: &Path,
    ) -> Result<Self, EmulatorError> {
        match setting {
            AwsTargetSetting::Start(kind) => Self::start(*kind, tools_dir).await,
            AwsTargetSetting::External { url, kind } => Self::connect(url, *kind).await,
        }
    }

    /// Starts `kind` on a free loopback port; it stops when this value is dropped (or the
    /// test process ends).
    pub async fn start(kind: AwsEmulatorKind, tools_dir: &Path) -> Result<Self, EmulatorError> {
        let scratch = tempfile::Builder::new()
            .prefix(&format!("acc-{}-", kind.name()))
            .tempdir()
            .map_err(|source| EmulatorError::Io {
                what: "scratch folder",
                source,
            })?;
        let port = free_loopback_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let log = scratch.path().join(format!("{}.log", kind.name()));
        let started = Instant::now();
        let (mut process, probe_url, timeout) = match kind {
            AwsEmulatorKind::Moto => {
                let program = installed(tools_dir, "moto_server", "moto")?;
                let port = port.to_string();
                let process = ManagedProcess::spawn(
                    "moto_server",
                    &program,
                    &["-H", "127.0.0.1", "-p", &port],
                    &[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")],
                    &log,
                    Some(scratch.path()),
                )?;
                (process, format!("{endpoint}/moto-api/"), MOTO_READY_TIMEOUT)
            }
            AwsEmulatorKind::LocalStack => {
                let program = installed(tools_dir, "localstack-python", "localstack")?;
                let listen = format!("127.0.0.1:{port}");
                let root = scratch.path().join("localstack");
                let root = root.to_string_lossy();
                let process = ManagedProcess::spawn(
                    "localstack",
                    &program,
                    &["-m", "localstack.runtime.main"],
                    &[
                        // The machine has /.dockerenv: without these LocalStack believes it is
                        // in a container and rewrites system files.
                        ("OVERRIDE_IN_DOCKER", "0"),
                        ("DNS_ADDRESS", "0"),
                        ("GATEWAY_LISTEN", &listen),
                        ("GATEWAY_SERVER", "hypercorn"),
                        ("SERVICES", "iam,sts,s3"),
                        ("PERSISTENCE", "0"),
                        ("SKIP_SSL_CERT_DOWNLOAD", "1"),
                        ("DISABLE_EVENTS", "1"),
                        ("FILESYSTEM_ROOT", &root),
                        ("EAGER_SERVICE_LOADING", "1"),
                    ],
                    &log,
                    Some(scratch.path()),
                )?;
                (
                    process,
                    format!("{endpoint}/_localstack/health"),
                    LOCALSTACK_READY_TIMEOUT,
                )
            }
        };
        process
            .wait_ready(timeout, || http_probe::is_ok(&probe_url))
            .await?;
        let startup = started.elapsed();
        let version = match kind {
            AwsEmulatorKind::Moto => moto_version(tools_dir).await,
            AwsEmulatorKind::LocalStack => localstack_version(&endpoint).await,
        };
        let account_id = caller_account(&endpoint).await?;
        Ok(Self {
            kind: Some(kind),
            endpoint,
            version,
            account_id,
            startup: Some(startup),
            process: Some(process),
            _scratch: Some(scratch),
        })
    }

    /// Connects to an emulator that is already running at `url`; `kind` is what the user said
    /// it is, used when the emulator does not tell.
    pub async fn connect(url: &str, kind: Option<AwsEmulatorKind>) -> Result<Self, EmulatorError> {
        let endpoint = url.trim_end_matches('/').to_string();
        let (kind, version) = if let Some(version) = localstack_version(&endpoint).await {
            (Some(AwsEmulatorKind::LocalStack), Some(version))
        } else if http_probe::is_ok(&format!("{endpoint}/moto-api/")).await {
            (Some(AwsEmulatorKind::Moto), None)
        } else if kind.is_some() {
            (kind, None)
        } else {
            return Err(EmulatorError::Unreachable(endpoint));
        };
        let account_id = caller_account(&endpoint).await?;
        Ok(Self {
            kind,
            endpoint,
            version,
            account_id,
            startup: None,
            process: None,
            _scratch: None,
        })
    }

    /// Which emulator this is, when known.
    pub fn kind(&self) -> Option<AwsEmulatorKind> {
        self.kind
    }

    /// The endpoint URL (`http://127.0.0.1:PORT`), for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The emulator's version, when known.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The account id STS GetCallerIdentity answered.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The region the harness uses.
    pub fn region(&self) -> &'static str {
        REGION
    }

    /// How long the harness waited for the emulator it started.
    pub fn startup(&self) -> Option<Duration> {
        self.startup
    }

    /// The emulator process's log, when the harness started it.
    pub fn log_path(&self) -> Option<PathBuf> {
        self.process.as_ref().map(|p| p.log_path().to_path_buf())
    }

    /// One line for the banner: `moto 5.2.5 at http://127.0.0.1:PORT, account 123456789012`.
    pub fn describe(&self) -> String {
        let name = self.kind.map_or("unknown emulator", AwsEmulatorKind::name);
        let version = self.version.as_deref().unwrap_or("(version unknown)");
        let origin = match self.startup {
            Some(startup) => format!("started in {:.1} s", startup.as_secs_f64()),
            None => "already running".to_string(),
        };
        format!(
            "{name} {version} at {} ({origin}), account {}, region {REGION}",
            self.endpoint, self.account_id
        )
    }

    /// Switches moto's opt-in IAM enforcement (`POST /moto-api/reset-auth`) on or off. When on,
    /// every request must be signed by a known identity whose policies allow it: the harness's
    /// static `test` credentials are refused, and credentials from STS get exactly their role's
    /// permissions. The switch is server-global, so use it only on a moto server of your own
    /// ([`crate::Harness::start_dedicated_moto`]), never on the shared one.
    pub async fn set_moto_iam_enforcement(&self, enforced: bool) -> Result<(), EmulatorError> {
        let failed = |message: String| EmulatorError::Enforcement {
            endpoint: self.endpoint.clone(),
            message,
        };
        if self.kind != Some(AwsEmulatorKind::Moto) {
            return Err(failed("the emulator is not moto".to_string()));
        }
        // The body is how many requests may still go unauthenticated: 0 enforces from the next
        // request on, infinity never does.
        let allowance = if enforced { "0" } else { "inf" };
        let url = format!("{}/moto-api/reset-auth", self.endpoint);
        match http_probe::post(&url, "text/plain", allowance).await {
            Some((200, _)) => Ok(()),
            Some((status, body)) => Err(failed(format!("HTTP {status}: {body}"))),
            None => Err(failed("no answer".to_string())),
        }
    }

    /// SDK clients pointed straight at the emulator (not through any proxy).
    pub async fn clients(&self) -> AwsClients {
        AwsClients::new(&self.endpoint, REGION).await
    }
}

fn installed(tools_dir: &Path, program: &str, tool: &str) -> Result<PathBuf, EmulatorError> {
    let path = tools_dir.join("bin").join(program);
    if path.exists() {
        Ok(path)
    } else {
        Err(ProcessError::NotInstalled {
            program: path,
            hint: format!("run acceptance-tests/scripts/install-tools.sh {tool}"),
        }
        .into())
    }
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_loopback_port() -> Result<u16, EmulatorError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| EmulatorError::Io {
            what: "loopback port",
            source,
        })
}

async fn moto_version(tools_dir: &Path) -> Option<String> {
    let python = tools_dir.join("moto-venv/bin/python");
    let output = tokio::process::Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('moto'))",
        ])
        .output()
        .await
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !version.is_empty()).then_some(version)
}

async fn localstack_version(endpoint: &str) -> Option<String> {
    let (status, body) = http_probe::get(&format!("{endpoint}/_localstack/health")).await?;
    if status != 200 {
        return None;
    }
    let health: serde_json::Value = serde_json::from_str(&body).ok()?;
    health["version"].as_str().map(str::to_string)
}

async fn caller_account(endpoint: &str) -> Result<String, EmulatorError> {
    let clients = AwsClients::new(endpoint, REGION).await;
    let identity = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| EmulatorError::CallerIdentity {
            endpoint: endpoint.to_string(),
            message: crate::error_chain(&error),
        })?;
    identity
        .account
        .ok_or_else(|| EmulatorError::CallerIdentity {
            endpoint: endpoint.to_string(),
            message: "the answer has no Account".to_string(),
        })
}
