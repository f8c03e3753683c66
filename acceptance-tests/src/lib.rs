//! Acceptance-test harness for `terraform-provider-gitlabrunner`.
//!
//! Drives the real Terraform CLI (from `.tools/`, or `TF_ACC_TERRAFORM_PATH`) against the
//! provider built from this repository, a real AWS emulator (moto server or LocalStack, over
//! HTTP) and Kubernetes (a real cluster through `TF_ACC_KUBECONFIG`, else the project's
//! Kubernetes API emulator). See [`settings`] for the environment conventions.
//!
//! ```no_run
//! use gitlabrunner_acceptance::{harness, hcl, unique_name};
//!
//! #[tokio::test]
//! async fn plan_of_the_provider_block_is_empty() {
//!     let Some(h) = harness("plan_of_the_provider_block_is_empty").await else { return };
//!     let ws = h.workspace().unwrap();
//!     ws.write("main.tf", &hcl::with_provider("")).unwrap();
//!     let plan = ws.plan().await.unwrap();
//!     assert!(plan.is_empty(), "{}", plan.summary());
//! }
//! ```
//!
//! Tests run concurrently in one process against one emulator: give every object a
//! [`unique_name`] instead of resetting the emulators.

pub mod aws;
pub mod bench;
pub mod fault_proxy;
mod harness;
pub mod hcl;
mod http_probe;
pub mod kube_proxy;
pub mod kubernetes;
mod names;
pub mod namespaces;
pub mod plugin_client;
pub mod process;
pub mod provider_build;
pub mod provider_process;
pub mod runtime;
pub mod settings;
pub mod terraform;
pub mod workload;

pub use harness::{Harness, HarnessError, PROVIDER_ADDRESS, harness};
pub use names::{random_suffix, unique_name};
pub use namespaces::TestNamespaces;
pub use terraform::{Action, Diagnostic, Plan, RunOutput, Severity, State, Workspace};

/// Prints one line, prefixed `acceptance: `, to the test process's stderr past libtest's output
/// capture, so that counts and timings show in CI logs: `say!("fault matrix: {n} cases")`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "acceptance: {}", format_args!($($arg)*));
    }};
}

/// `error: cause: cause...`, for messages that must show the whole chain.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
