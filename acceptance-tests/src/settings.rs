//! The environment conventions that choose what an acceptance run drives.
//!
//! | variable | meaning |
//! |---|---|
//! | `TF_ACC=1` | run acceptance tests (otherwise they are skipped with a printed reason) |
//! | `TF_ACC_TERRAFORM_PATH` | the Terraform CLI (default `.tools/bin/terraform`) |
//! | `TF_ACC_AWS=moto\|localstack` | the AWS emulator the harness starts (default `moto`) |
//! | `TF_ACC_AWS_ENDPOINT_URL` | an already running AWS emulator instead |
//! | `TF_ACC_KUBECONFIG` | a real cluster's kubeconfig (otherwise the Kubernetes API emulator) |
//! | `TF_ACC_PROFILE` | cargo profile the provider is built with (`dev` default, `release`) |
//! | `TF_ACC_COMMAND_TIMEOUT` | seconds one terraform command may take (default 300) |

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the environment does not describe a usable run.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `TF_ACC_AWS` names no known emulator.
    #[error(
        "TF_ACC_AWS={0:?} is not an AWS emulator this harness knows (expected moto or localstack)"
    )]
    UnknownAwsEmulator(String),
    /// A numeric variable does not parse.
    #[error("{name}={value:?} is not a number of seconds")]
    NotSeconds {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
}

/// Which AWS emulator the harness starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsEmulatorKind {
    /// moto server (`.tools/bin/moto_server`): starts in about half a second.
    Moto,
    /// LocalStack (`.tools/bin/localstack-python -m localstack.runtime.main`): about 3 s.
    LocalStack,
}

impl AwsEmulatorKind {
    /// The lower-case name used by `TF_ACC_AWS`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Moto => "moto",
            Self::LocalStack => "localstack",
        }
    }
}

/// Where AWS requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsTargetSetting {
    /// The harness starts this emulator on a free loopback port and stops it.
    Start(AwsEmulatorKind),
    /// An already running emulator (`TF_ACC_AWS_ENDPOINT_URL`); `TF_ACC_AWS` says which kind,
    /// when set, for the banner and fidelity-dependent assertions.
    External {
        /// The endpoint URL.
        url: String,
        /// Which emulator it is, if said.
        kind: Option<AwsEmulatorKind>,
    },
}

/// Where Kubernetes requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubernetesSetting {
    /// A real cluster, through this kubeconfig (`TF_ACC_KUBECONFIG`).
    Kubeconfig(PathBuf),
    /// The project's Kubernetes API emulator.
    Emulator,
}

/// The settings of one acceptance run, read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether acceptance tests run (`TF_ACC` set to anything but empty or `0`).
    pub enabled: bool,
    /// The Terraform CLI.
    pub terraform_path: PathBuf,
    /// Where AWS requests go.
    pub aws: AwsTargetSetting,
    /// Where Kubernetes requests go.
    pub kubernetes: KubernetesSetting,
    /// The cargo profile the provider is built with.
    pub profile: String,
    /// How long one terraform command may take.
    pub command_timeout: Duration,
    /// The repository root (the workspace holding the provider).
    pub repo_root: PathBuf,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the settings through `lookup` (the environment, or a map in unit tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let repo_root = repo_root();
        let enabled = lookup("TF_ACC").is_some_and(|v| v != "0");
        let terraform_path = lookup("TF_ACC_TERRAFORM_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root.join(".tools/bin/terraform"));
        let kind = lookup("TF_ACC_AWS")
            .map(|value| match value.to_ascii_lowercase().as_str() {
                "moto" => Ok(AwsEmulatorKind::Moto),
                "localstack" => Ok(AwsEmulatorKind::LocalStack),
                _ => Err(SettingsError::UnknownAwsEmulator(value)),
            })
            .transpose()?;
        let aws = match lookup("TF_ACC_AWS_ENDPOINT_URL") {
            Some(url) => AwsTargetSetting::External {
                url: url.trim_end_matches('/').to_string(),
                kind,
            },
            None => AwsTargetSetting::Start(kind.unwrap_or(AwsEmulatorKind::Moto)),
        };
        let kubernetes = match lookup("TF_ACC_KUBECONFIG") {
            Some(path) => KubernetesSetting::Kubeconfig(PathBuf::from(path)),
            None => KubernetesSetting::Emulator,
        };
        let profile = lookup("TF_ACC_PROFILE").unwrap_or_else(|| "dev".to_string());
        let command_timeout = match lookup("TF_ACC_COMMAND_TIMEOUT") {
            Some(value) => {
                Duration::from_secs(value.parse().map_err(|_| SettingsError::NotSeconds {
                    name: "TF_ACC_COMMAND_TIMEOUT",
                    value: value.clone(),
                })?)
            }
            None => Duration::from_secs(300),
        };
        Ok(Self {
            enabled,
            terraform_path,
            aws,
            kubernetes,
            profile,
            command_timeout,
            repo_root,
        })
    }

    /// The folder the install scripts put tools in.
    pub fn tools_dir(&self) -> PathBuf {
        self.repo_root.join(".tools")
    }
}

/// The repository root: the workspace folder above the running package. Resolved at run time
/// (cargo sets `CARGO_MANIFEST_DIR` for `cargo test` and `cargo run`), so a test binary built in
/// one checkout never drives another checkout's provider and tools.
pub fn repo_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    workspace_root(&start).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("acceptance-tests has a parent folder")
            .to_path_buf()
    })
}

/// The nearest folder at or above `start` whose `Cargo.toml` declares a `[workspace]`.
fn workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|line| line.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn repo_root_is_the_workspace_above_the_running_package() {
        let root = repo_root();
        assert!(
            root.join("acceptance-tests").join("Cargo.toml").is_file(),
            "{}",
            root.display()
        );
        let nested = root
            .join("acceptance-tests")
            .join("kube-emulator")
            .join("src");
        assert_eq!(workspace_root(&nested), Some(root));
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_to_skipping_with_moto_and_the_emulator() {
        let s = settings(&[]).unwrap();
        assert!(!s.enabled);
        assert_eq!(s.aws, AwsTargetSetting::Start(AwsEmulatorKind::Moto));
        assert_eq!(s.kubernetes, KubernetesSetting::Emulator);
        assert!(s.terraform_path.ends_with(".tools/bin/terraform"));
        assert_eq!(s.profile, "dev");
    }

    #[test]
    fn tf_acc_zero_keeps_acceptance_tests_off() {
        assert!(!settings(&[("TF_ACC", "0")]).unwrap().enabled);
        assert!(settings(&[("TF_ACC", "1")]).unwrap().enabled);
    }

    #[test]
    fn endpoint_url_means_an_external_emulator_of_the_named_kind() {
        let s = settings(&[
            ("TF_ACC_AWS", "LocalStack"),
            ("TF_ACC_AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"),
        ])
        .unwrap();
        assert_eq!(
            s.aws,
            AwsTargetSetting::External {
                url: "http://127.0.0.1:4566".into(),
                kind: Some(AwsEmulatorKind::LocalStack)
            }
        );
    }

    #[test]
    fn unknown_emulator_names_the_variable_value() {
        let err = settings(&[("TF_ACC_AWS", "minio")]).unwrap_err();
        assert!(err.to_string().contains("\"minio\""), "{err}");
    }

    #[test]
    fn kubeconfig_selects_a_real_cluster() {
        let s = settings(&[("TF_ACC_KUBECONFIG", "/tmp/kc")]).unwrap();
        assert_eq!(
            s.kubernetes,
            KubernetesSetting::Kubeconfig("/tmp/kc".into())
        );
    }
}
