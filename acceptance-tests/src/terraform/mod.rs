//! The real Terraform CLI: finding it, its CLI configuration, and workspaces to run it in.

mod diagnostics;
mod plan;
mod state;
mod workspace;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use diagnostics::{
    Diagnostic, Severity, Snippet, SourcePos, SourceRange, parse_diagnostics, render,
};
pub use plan::{Action, Change, Plan, ResourceChange};
pub use state::{State, StateResource};
pub use workspace::{ChangeSummary, RunOutput, Workspace};

use crate::process::tail_of_text;

/// Why a terraform command did not do what the test expected.
#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    /// The CLI is missing.
    #[error(
        "the Terraform CLI {0} does not exist; run acceptance-tests/scripts/install-tools.sh terraform or set TF_ACC_TERRAFORM_PATH"
    )]
    NotInstalled(PathBuf),
    /// The command could not be started.
    #[error("could not run {program}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command ran longer than `TF_ACC_COMMAND_TIMEOUT`.
    #[error(
        "`terraform {command}` was killed after {after:?} (TF_ACC_COMMAND_TIMEOUT); provider log:\n{provider_log}"
    )]
    Timeout {
        /// The arguments.
        command: String,
        /// The timeout.
        after: Duration,
        /// The end of the provider's log.
        provider_log: String,
    },
    /// The command failed.
    #[error("{}", failure_message(command, output, diagnostics, provider_log))]
    Failed {
        /// The arguments.
        command: String,
        /// What it printed.
        output: Box<RunOutput>,
        /// The diagnostics parsed from its `-json` output.
        diagnostics: Vec<Diagnostic>,
        /// The end of the provider's log.
        provider_log: String,
    },
    /// The command was expected to fail and succeeded.
    #[error("`terraform {command}` succeeded but the test expected it to fail; stdout:\n{stdout}")]
    UnexpectedSuccess {
        /// The arguments.
        command: String,
        /// The end of its stdout.
        stdout: String,
    },
    /// Terraform's JSON did not parse.
    #[error("could not parse the JSON of `terraform {command}`: {source}; it began: {head}")]
    Json {
        /// The arguments.
        command: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
        /// The start of the text.
        head: String,
    },
    /// A workspace file could not be written or read.
    #[error("could not {what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl TerraformError {
    /// The diagnostics of a failed command (empty for other errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Failed { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }
}

fn failure_message(
    command: &str,
    output: &RunOutput,
    diagnostics: &[Diagnostic],
    provider_log: &str,
) -> String {
    let mut text = format!(
        "`terraform {command}` failed (exit {}) after {:.1} s",
        output
            .exit_code
            .map_or("by signal".to_string(), |c| c.to_string()),
        output.duration.as_secs_f64()
    );
    if diagnostics.is_empty() {
        text.push_str(&format!(
            "\n--- stdout (tail) ---\n{}",
            tail_of_text(&output.stdout, 30)
        ));
    } else {
        text.push_str(&format!("\n--- diagnostics ---\n{}", render(diagnostics)));
    }
    if !output.stderr.trim().is_empty() {
        text.push_str(&format!(
            "\n--- stderr (tail) ---\n{}",
            tail_of_text(&output.stderr, 30)
        ));
    }
    if !provider_log.trim().is_empty() {
        text.push_str(&format!("\n--- provider log (tail) ---\n{provider_log}"));
    }
    text
}

/// The Terraform CLI and its version.
#[derive(Debug, Clone)]
pub struct TerraformCli {
    path: PathBuf,
    version: String,
}

impl TerraformCli {
    /// Finds the CLI at `path` and asks it for its version (with `cli_config` as its CLI
    /// configuration, so it does not warn about a missing `~/.terraformrc`).
    pub async fn discover(path: &Path, cli_config: &Path) -> Result<Self, TerraformError> {
        if !path.exists() {
            return Err(TerraformError::NotInstalled(path.to_path_buf()));
        }
        let output = tokio::process::Command::new(path)
            .args(["version", "-json"])
            .env("TF_CLI_CONFIG_FILE", cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .await
            .map_err(|source| TerraformError::Spawn {
                program: path.to_path_buf(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let version: serde_json::Value =
            serde_json::from_str(&stdout).map_err(|source| TerraformError::Json {
                command: "version -json".into(),
                source,
                head: stdout.chars().take(200).collect(),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            version: version["terraform_version"]
                .as_str()
                .unwrap_or("unknown")
                .to_string(),
        })
    }

    /// The CLI's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version, e.g. `1.15.5`.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Writes a CLI configuration whose `dev_overrides` load `provider_address` from `provider_dir`
/// (the folder holding `terraform-provider-gitlabrunner`). OpenTofu reads the same file but
/// resolves an unqualified `source` on its own registry (opentofu.org/docs/language/providers/
/// requirements/#source-addresses), so the same provider is overridden there too.
pub fn write_cli_config(
    path: &Path,
    provider_address: &str,
    provider_dir: &Path,
) -> Result<(), TerraformError> {
    let mut addresses = vec![provider_address.to_string()];
    if let Some(rest) = provider_address.strip_prefix("registry.terraform.io/") {
        addresses.push(format!("registry.opentofu.org/{rest}"));
    }
    let overrides: String = addresses
        .iter()
        .map(|address| format!("    \"{address}\" = \"{}\"\n", provider_dir.display()))
        .collect();
    let text = format!(
        "# Written by the acceptance harness.\n\
         provider_installation {{\n  dev_overrides {{\n{overrides}  }}\n  direct {{}}\n}}\n"
    );
    std::fs::write(path, text).map_err(|source| TerraformError::Io {
        what: "write",
        path: path.to_path_buf(),
        source,
    })
}
