//! What resources get for the duration of one RPC.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::codec::Diagnostic;
use crate::provider::ProviderData;

/// The configured provider and the cancellation signal for one RPC.
#[derive(Clone)]
pub struct Context {
    /// Clients and defaults from the provider block.
    pub provider: Arc<ProviderData>,
    /// Cancelled when Terraform sends `StopProvider` (e.g. on Ctrl-C).
    pub cancel: CancellationToken,
}

impl Context {
    /// A context for `provider`, cancelled by `cancel`.
    pub fn new(provider: Arc<ProviderData>, cancel: CancellationToken) -> Self {
        Self { provider, cancel }
    }

    /// Whether `StopProvider` has been received.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The diagnostic an operation returns when it stopped because of `StopProvider`.
    pub fn cancelled_diagnostic(operation: &str) -> Diagnostic {
        Diagnostic::error(
            "Operation cancelled",
            format!(
                "Terraform asked the provider to stop (StopProvider) while it was running \
                 {operation}; the operation was cancelled before it finished."
            ),
        )
    }
}
