//! Builds the provider binary once per test process and puts it where `dev_overrides` finds it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::process::tail_of_text;

/// The provider's binary name.
pub const PROVIDER_BINARY: &str = "terraform-provider-gitlabrunner";

/// Why the provider could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// cargo could not be started.
    #[error("could not run {cargo}")]
    Spawn {
        /// The cargo program.
        cargo: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// cargo failed.
    #[error("`cargo build --bin {PROVIDER_BINARY} --profile {profile}` failed:\n{stderr}")]
    Failed {
        /// The profile.
        profile: String,
        /// The end of cargo's stderr.
        stderr: String,
    },
    /// cargo did not say where the binary is.
    #[error("cargo built no {PROVIDER_BINARY} executable (profile {0})")]
    NoExecutable(String),
    /// The folder for `dev_overrides` could not be prepared.
    #[error("could not link the provider into {path}")]
    Link {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The built provider.
#[derive(Debug, Clone)]
pub struct ProviderBuild {
    /// The executable cargo produced.
    pub binary: PathBuf,
    /// A folder holding only a link to it: the `dev_overrides` target.
    pub override_dir: PathBuf,
    /// The cargo profile.
    pub profile: String,
    /// How long `cargo build` took (short when it was up to date).
    pub build_time: Duration,
}

/// Runs `cargo build --bin terraform-provider-gitlabrunner --profile PROFILE` in `repo_root` and
/// links the binary into `override_dir`.
pub async fn build_provider(
    repo_root: &Path,
    profile: &str,
    override_dir: &Path,
) -> Result<ProviderBuild, BuildError> {
    // Inside `cargo test`, CARGO names the cargo that runs us.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let started = Instant::now();
    let output = tokio::process::Command::new(&cargo)
        .current_dir(repo_root)
        .args([
            "build",
            "--package",
            "terraform-provider-gitlabrunner",
            "--bin",
            PROVIDER_BINARY,
            "--profile",
            profile,
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .await
        .map_err(|source| BuildError::Spawn {
            cargo: cargo.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            profile: profile.to_string(),
            stderr: tail_of_text(&String::from_utf8_lossy(&output.stderr), 60),
        });
    }
    let binary = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == PROVIDER_BINARY)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| BuildError::NoExecutable(profile.to_string()))?;
    let link_error = |source| BuildError::Link {
        path: override_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(override_dir).map_err(link_error)?;
    let link = override_dir.join(PROVIDER_BINARY);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&binary, &link).map_err(link_error)?;
    Ok(ProviderBuild {
        binary,
        override_dir: override_dir.to_path_buf(),
        profile: profile.to_string(),
        build_time: started.elapsed(),
    })
}
