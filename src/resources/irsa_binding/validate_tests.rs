//! Invalid configurations and their diagnostics.
