//! The latency-bound benchmarks (issue 6): a fixed latency on every IAM and Kubernetes request,
//! figures as multiples of it with their critical-path depth, each in the default concurrent
//! mode and in serial mode side by side. Run by `acceptance-tests/scripts/bench.sh`, which
//! writes `docs/performance.md`.

pub mod machine;
pub mod measure;
pub mod report;

pub use measure::{Options, Results, run};
