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
    #[error("`{command}` failed:\n{stderr}")]
    Failed {
        /// The command.
        command: String,
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

/// Builds the provider with `profile` in `repo_root` and links the binary into `override_dir`.
///
/// - `dev`: `cargo test --workspace --no-run`, the build `cargo test --workspace` already made
///   (the provider binary is built for the root crate's integration tests), so inside the
///   test command this is a no-op, and features unify exactly as there: no second compile of
///   the dependency tree with another feature set.
/// - any other profile (`release` for benchmarks): `cargo build -p terraform-provider-gitlabrunner
///   --bin terraform-provider-gitlabrunner --profile PROFILE`, the build `scripts/release.sh`
///   makes.
pub async fn build_provider(
    repo_root: &Path,
    profile: &str,
    override_dir: &Path,
) -> Result<ProviderBuild, BuildError> {
    let started = Instant::now();
    let mut binary = None;
    if profile == "dev" {
        let messages = cargo(repo_root, profile, &["test", "--workspace", "--no-run"]).await?;
        binary = provider_executable(&messages);
    }
    if binary.is_none() {
        let messages = cargo(
            repo_root,
            profile,
            &[
                "build",
                "--package",
                "terraform-provider-gitlabrunner",
                "--bin",
                PROVIDER_BINARY,
            ],
        )
        .await?;
        binary = provider_executable(&messages);
    }
    let binary = binary.ok_or_else(|| BuildError::NoExecutable(profile.to_string()))?;
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

/// Runs `cargo ARGS --profile PROFILE --message-format=json-render-diagnostics` and returns its
/// JSON messages.
async fn cargo(
    repo_root: &Path,
    profile: &str,
    args: &[&str],
) -> Result<Vec<serde_json::Value>, BuildError> {
    // Inside `cargo test`, CARGO names the cargo that runs us.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = tokio::process::Command::new(&cargo);
    for name in variables_cargo_set_for_this_test() {
        command.env_remove(name);
    }
    let output = command
        .current_dir(repo_root)
        .args(args)
        .args([
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
            command: format!("cargo {} --profile {profile}", args.join(" ")),
            stderr: tail_of_text(&String::from_utf8_lossy(&output.stderr), 60),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// The variables the outer cargo set for this test binary (`CARGO_PKG_NAME`, `OUT_DIR`, ...).
///
/// They must not reach the inner cargo: build scripts such as ring's declare
/// `rerun-if-env-changed` on them, so an inner build that sees them rebuilds those crates and
/// everything above them, and the next outer build rebuilds them back.
fn variables_cargo_set_for_this_test() -> Vec<std::ffi::OsString> {
    const PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_", "CARGO_CFG_"];
    const NAMES: &[&str] = &[
        "OUT_DIR",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let name = name.to_string_lossy();
            NAMES.contains(&name.as_ref()) || PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .collect()
}

/// The provider binary (not its unit-test executable) among cargo's messages.
fn provider_executable(messages: &[serde_json::Value]) -> Option<PathBuf> {
    messages
        .iter()
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == PROVIDER_BINARY)
        .filter(|m| {
            m["target"]["kind"] == serde_json::json!(["bin"]) && m["profile"]["test"] == false
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}
