//! Acceptance-test harness.
