//! A temporary folder with Terraform configuration, and the terraform commands run in it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;

use super::{Diagnostic, Plan, State, TerraformError, parse_diagnostics};
use crate::process::tail_of_file;

/// What one terraform command printed.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The arguments after `terraform`.
    pub args: Vec<String>,
    /// The exit code (`None` when killed by a signal).
    pub exit_code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it ran.
    pub duration: Duration,
}

impl RunOutput {
    /// Whether the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The diagnostics in the command's `-json` output.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        parse_diagnostics(&self.stdout)
    }

    /// The JSON UI messages (`-json` output), one per line.
    pub fn json_messages(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The `change_summary` message of an apply or destroy.
    pub fn change_summary(&self) -> Option<ChangeSummary> {
        self.json_messages()
            .into_iter()
            .rev()
            .find(|m| m["type"] == "change_summary")
            .and_then(|m| serde_json::from_value(m["changes"].clone()).ok())
    }
}

/// The counts Terraform reports at the end of an apply or destroy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct ChangeSummary {
    /// Created.
    #[serde(default)]
    pub add: u64,
    /// Updated in place.
    #[serde(default)]
    pub change: u64,
    /// Imported.
    #[serde(default)]
    pub import: u64,
    /// Destroyed.
    #[serde(default)]
    pub remove: u64,
}

/// A temporary Terraform working directory with the provider installed through
/// `dev_overrides`. Every command runs with a clean environment: only what the harness sets
/// (CLI config, AWS endpoint and test credentials, kubeconfig, logging) plus `PATH`, `HOME`,
/// locale, TLS trust settings and `GITLABRUNNER_*` variables. AutoMTLS stays on: the harness
/// never sets `TF_DISABLE_PLUGIN_TLS`.
///
/// When a test panics the folder is kept and its path printed, with the provider log in it.
#[derive(Debug)]
pub struct Workspace {
    dir: Option<TempDir>,
    path: PathBuf,
    terraform: PathBuf,
    env: BTreeMap<String, String>,
    timeout: Duration,
    last: Mutex<Option<RunOutput>>,
    imports: Mutex<usize>,
}

const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "RUST_BACKTRACE",
];

impl Workspace {
    /// A new empty workspace running `terraform` with `cli_config`; commands are killed after
    /// `timeout`.
    pub fn new(
        terraform: &Path,
        cli_config: &Path,
        timeout: Duration,
    ) -> Result<Self, TerraformError> {
        let dir = tempfile::Builder::new()
            .prefix("tf-acc-")
            .tempdir()
            .map_err(|source| TerraformError::Io {
                what: "create a workspace in",
                path: std::env::temp_dir(),
                source,
            })?;
        let path = dir.path().to_path_buf();
        let mut env = BTreeMap::new();
        for name in PASSED_THROUGH {
            if let Ok(value) = std::env::var(name) {
                env.insert(name.to_string(), value);
            }
        }
        for (name, value) in std::env::vars() {
            if name.starts_with("GITLABRUNNER_") {
                env.insert(name, value);
            }
        }
        let log = path.join("terraform.log");
        let fixed = [
            ("TF_CLI_CONFIG_FILE", cli_config.display().to_string()),
            ("CHECKPOINT_DISABLE", "1".into()),
            ("TF_IN_AUTOMATION", "1".into()),
            ("TF_INPUT", "0".into()),
            ("TF_LOG_PROVIDER", "DEBUG".into()),
            ("TF_LOG_PATH", log.display().to_string()),
            // No ambient AWS configuration leaks in; the harness sets endpoint and credentials.
            (
                "AWS_CONFIG_FILE",
                path.join(".aws-config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                path.join(".aws-credentials").display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ];
        for (name, value) in fixed {
            env.insert(name.to_string(), value);
        }
        Ok(Self {
            dir: Some(dir),
            path,
            terraform: terraform.to_path_buf(),
            env,
            timeout,
            last: Mutex::new(None),
            imports: Mutex::new(0),
        })
    }

    /// The workspace folder.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Sets an environment variable for every later command (e.g. `TF_LOG_PROVIDER=TRACE`).
    pub fn set_env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// Removes an environment variable from later commands.
    pub fn remove_env(&mut self, name: &str) -> &mut Self {
        self.env.remove(name);
        self
    }

    /// The environment commands run with.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// Points the provider at an AWS endpoint (the emulator or a proxy in front of it) with
    /// the test credentials and `region`.
    pub fn set_aws_endpoint(&mut self, endpoint: &str, region: &str) -> &mut Self {
        for (name, value) in [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", region),
            ("AWS_DEFAULT_REGION", region),
            ("AWS_ACCESS_KEY_ID", crate::aws::TEST_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", crate::aws::TEST_SECRET_ACCESS_KEY),
        ] {
            self.env.insert(name.to_string(), value.to_string());
        }
        // STS goes through the rig's STS when one checks web identities for this emulator, and
        // EKS and EKS Auth through the same proxy, where the rig serves them.
        let rig_url = crate::aws::web_identity::gate_for(endpoint)
            .map(|entry| entry.sts_url)
            .filter(|url| !url.is_empty());
        let serves_eks = crate::aws::eks::rig_for(endpoint).is_some();
        for (name, wanted) in [
            ("AWS_ENDPOINT_URL_STS", true),
            ("AWS_ENDPOINT_URL_EKS", serves_eks),
            ("AWS_ENDPOINT_URL_EKS_AUTH", serves_eks),
        ] {
            match &rig_url {
                Some(url) if wanted => {
                    self.env.insert(name.to_string(), url.clone());
                }
                _ => {
                    self.env.remove(name);
                }
            }
        }
        self
    }

    /// Points the provider at a Kubernetes cluster through `kubeconfig`.
    pub fn set_kubeconfig(&mut self, kubeconfig: &Path) -> &mut Self {
        self.env
            .insert("KUBECONFIG".to_string(), kubeconfig.display().to_string());
        self
    }

    /// Writes `contents` to `name` in the workspace (e.g. `main.tf`), replacing it.
    pub fn write(&self, name: &str, contents: &str) -> Result<&Self, TerraformError> {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| TerraformError::Io {
                what: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, contents).map_err(|source| TerraformError::Io {
            what: "write",
            path,
            source,
        })?;
        Ok(self)
    }

    /// Removes `name` from the workspace, if it exists.
    pub fn remove(&self, name: &str) -> Result<&Self, TerraformError> {
        let path = self.path.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(self),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(self),
            Err(source) => Err(TerraformError::Io {
                what: "remove",
                path,
                source,
            }),
        }
    }

    /// Adds an `import { to = TO, id = ID }` block (its own file) for the next plan/apply.
    pub fn write_import_block(&self, to: &str, id: &str) -> Result<&Self, TerraformError> {
        let mut count = self.imports.lock().unwrap_or_else(|e| e.into_inner());
        *count += 1;
        let id = serde_json::to_string(id).expect("a string serializes");
        self.write(
            &format!("import_{count}.tf"),
            &format!("import {{\n  to = {to}\n  id = {id}\n}}\n"),
        )
    }

    /// Runs `terraform ARGS` and returns what it printed, whatever its exit code.
    pub async fn run(&self, args: &[&str]) -> Result<RunOutput, TerraformError> {
        let command = args.join(" ");
        let started = Instant::now();
        let mut process = tokio::process::Command::new(&self.terraform);
        process
            .args(args)
            .current_dir(&self.path)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = process.spawn().map_err(|source| TerraformError::Spawn {
            program: self.terraform.clone(),
            source,
        })?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(source)) => {
                return Err(TerraformError::Spawn {
                    program: self.terraform.clone(),
                    source,
                });
            }
            Err(_) => {
                return Err(TerraformError::Timeout {
                    command,
                    after: self.timeout,
                    provider_log: self.provider_log_tail(40),
                });
            }
        };
        let output = RunOutput {
            args: args.iter().map(|a| a.to_string()).collect(),
            exit_code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            duration: started.elapsed(),
        };
        self.record(&output);
        Ok(output)
    }

    /// Runs `terraform ARGS` and fails unless it exits with 0.
    pub async fn run_ok(&self, args: &[&str]) -> Result<RunOutput, TerraformError> {
        let output = self.run(args).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(self.failure(output))
        }
    }

    /// Runs `terraform ARGS` (with `-json`) expecting it to fail; returns its diagnostics.
    pub async fn run_expect_error(&self, args: &[&str]) -> Result<Vec<Diagnostic>, TerraformError> {
        let output = self.run(args).await?;
        if output.success() {
            return Err(TerraformError::UnexpectedSuccess {
                command: args.join(" "),
                stdout: crate::process::tail_of_text(&output.stdout, 40),
            });
        }
        Ok(output.diagnostics())
    }

    /// `terraform init`. With `dev_overrides` Terraform 1.15 skips the overridden provider; run
    /// it when a configuration needs modules or other providers.
    pub async fn init(&self) -> Result<RunOutput, TerraformError> {
        self.run_ok(&["init", "-input=false", "-no-color"]).await
    }

    /// `terraform validate -json`; fails when the configuration is invalid. Returns warnings.
    pub async fn validate(&self) -> Result<Vec<Diagnostic>, TerraformError> {
        let output = self.run_ok(&["validate", "-json", "-no-color"]).await?;
        Ok(output.diagnostics())
    }

    /// `terraform validate -json` expecting errors; returns every diagnostic.
    pub async fn validate_expect_error(&self) -> Result<Vec<Diagnostic>, TerraformError> {
        self.run_expect_error(&["validate", "-json", "-no-color"])
            .await
    }

    /// `terraform plan` (refreshing) saved to a file, parsed with `terraform show -json`.
    pub async fn plan(&self) -> Result<Plan, TerraformError> {
        self.plan_with(&[]).await
    }

    /// `terraform plan -refresh-only`: what changed outside Terraform.
    pub async fn plan_refresh_only(&self) -> Result<Plan, TerraformError> {
        self.plan_with(&["-refresh-only"]).await
    }

    /// `terraform plan EXTRA...` (e.g. `-destroy`, `-target=ADDR`, `-parallelism=N`), parsed.
    pub async fn plan_with(&self, extra: &[&str]) -> Result<Plan, TerraformError> {
        let mut args = vec!["plan", "-input=false", "-no-color", "-json", "-out=tfplan"];
        args.extend_from_slice(extra);
        self.run_ok(&args).await?;
        let shown = self
            .run_ok(&["show", "-json", "-no-color", "tfplan"])
            .await?;
        let raw = parse_json("show -json tfplan", &shown.stdout)?;
        Plan::from_json(raw).map_err(|source| TerraformError::Json {
            command: "show -json tfplan".into(),
            source,
            head: shown.stdout.chars().take(200).collect(),
        })
    }

    /// `terraform plan -json` expecting errors; returns every diagnostic.
    pub async fn plan_expect_error(&self) -> Result<Vec<Diagnostic>, TerraformError> {
        self.run_expect_error(&["plan", "-input=false", "-no-color", "-json"])
            .await
    }

    /// `terraform apply -auto-approve -json`; fails on any error. Returns its output (see
    /// [`RunOutput::change_summary`] and [`RunOutput::diagnostics`] for warnings).
    pub async fn apply(&self) -> Result<RunOutput, TerraformError> {
        self.apply_with(&[]).await
    }

    /// `terraform apply -auto-approve -json EXTRA...` (e.g. `-parallelism=N`).
    pub async fn apply_with(&self, extra: &[&str]) -> Result<RunOutput, TerraformError> {
        self.run_ok(&auto_approved("apply", extra)).await
    }

    /// `terraform apply` expecting it to fail; returns every diagnostic (severity, summary,
    /// detail, address, snippet).
    pub async fn apply_expect_error(&self) -> Result<Vec<Diagnostic>, TerraformError> {
        self.apply_expect_error_with(&[]).await
    }

    /// `terraform apply -auto-approve -json EXTRA...` (e.g. `-refresh=false`) expecting it to
    /// fail; returns every diagnostic.
    pub async fn apply_expect_error_with(
        &self,
        extra: &[&str],
    ) -> Result<Vec<Diagnostic>, TerraformError> {
        self.run_expect_error(&auto_approved("apply", extra)).await
    }

    /// `terraform show -json`: the current state.
    pub async fn show(&self) -> Result<State, TerraformError> {
        let shown = self.run_ok(&["show", "-json", "-no-color"]).await?;
        let raw = parse_json("show -json", &shown.stdout)?;
        State::from_json(raw).map_err(|source| TerraformError::Json {
            command: "show -json".into(),
            source,
            head: shown.stdout.chars().take(200).collect(),
        })
    }

    /// `terraform output -json`: every output's value and type.
    pub async fn outputs(&self) -> Result<serde_json::Value, TerraformError> {
        let shown = self.run_ok(&["output", "-json", "-no-color"]).await?;
        parse_json("output -json", &shown.stdout)
    }

    /// `terraform import ADDRESS ID` (the resource block must be in the configuration).
    pub async fn import(&self, address: &str, id: &str) -> Result<RunOutput, TerraformError> {
        self.run_ok(&["import", "-input=false", "-no-color", address, id])
            .await
    }

    /// `terraform import ADDRESS ID` expecting it to fail; returns stderr (import has no
    /// `-json` output).
    pub async fn import_expect_error(
        &self,
        address: &str,
        id: &str,
    ) -> Result<String, TerraformError> {
        let output = self
            .run(&["import", "-input=false", "-no-color", address, id])
            .await?;
        if output.success() {
            return Err(TerraformError::UnexpectedSuccess {
                command: format!("import {address} {id}"),
                stdout: output.stdout,
            });
        }
        Ok(output.stderr)
    }

    /// `terraform destroy -auto-approve -json`.
    pub async fn destroy(&self) -> Result<RunOutput, TerraformError> {
        self.run_ok(&auto_approved("destroy", &[])).await
    }

    /// `terraform destroy -auto-approve -json EXTRA...` expecting it to fail; returns every
    /// diagnostic.
    pub async fn destroy_expect_error_with(
        &self,
        extra: &[&str],
    ) -> Result<Vec<Diagnostic>, TerraformError> {
        self.run_expect_error(&auto_approved("destroy", extra))
            .await
    }

    /// The last command's output.
    pub fn last_output(&self) -> Option<RunOutput> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything the provider logged so far (`TF_LOG_PROVIDER` into `TF_LOG_PATH`).
    pub fn provider_log(&self) -> String {
        std::fs::read_to_string(self.path.join("terraform.log")).unwrap_or_default()
    }

    /// The last `lines` lines of the provider log.
    pub fn provider_log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.path.join("terraform.log"), lines)
    }

    fn failure(&self, output: RunOutput) -> TerraformError {
        TerraformError::Failed {
            command: output.args.join(" "),
            diagnostics: output.diagnostics(),
            provider_log: self.provider_log_tail(40),
            output: Box::new(output),
        }
    }

    fn record(&self, output: &RunOutput) {
        // A transcript for the folder kept after a failure.
        if let Ok(mut transcript) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join("commands.log"))
        {
            let _ = writeln!(
                transcript,
                "$ terraform {}  # exit {:?}, {:.2} s\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
                output.args.join(" "),
                output.exit_code,
                output.duration.as_secs_f64(),
                output.stdout,
                output.stderr
            );
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(output.clone());
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            let _ = writeln!(
                std::io::stderr(),
                "acceptance: kept the workspace of the failed test at {} (commands.log, terraform.log)",
                kept.display()
            );
        }
    }
}

/// `COMMAND -auto-approve -input=false -no-color -json EXTRA...`: how the tests run apply and
/// destroy.
fn auto_approved<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        command,
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-json",
    ];
    args.extend_from_slice(extra);
    args
}

fn parse_json(command: &str, text: &str) -> Result<serde_json::Value, TerraformError> {
    serde_json::from_str(text).map_err(|source| TerraformError::Json {
        command: command.to_string(),
        source,
        head: text.chars().take(200).collect(),
    })
}
