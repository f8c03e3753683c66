//! The proxy's request log and the critical-path depth benchmarks derive from it.

use std::time::{Duration, Instant};

use super::request::RequestTarget;

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Arrival order, from 1.
    pub sequence: u64,
    /// The service (`iam`, `sts`, `s3`, `kubernetes`).
    pub service: String,
    /// The operation (`CreateRole`, `PutBucketPolicy`, ...; the method for Kubernetes).
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// What the request is about: its parameters (IAM, STS) or bucket (S3).
    pub target: RequestTarget,
    /// The status the client got; `None` when the connection was dropped or the upstream
    /// could not be reached.
    pub status: Option<u16>,
    /// The fault that fired, e.g. `500 ServiceFailure`, `drop`, `delay 50ms`.
    pub fault: Option<String>,
    /// When the request arrived.
    pub started_at: Instant,
    /// When the answer was sent (or the connection dropped).
    pub finished_at: Instant,
}

impl RequestRecord {
    /// How long the request took as the client saw it (latency included).
    pub fn duration(&self) -> Duration {
        self.finished_at.saturating_duration_since(self.started_at)
    }

    /// `service:operation`.
    pub fn kind(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }

    /// The query-protocol parameter `name`, if the request has it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.target.params.get(name).map(String::as_str)
    }
}

/// The length of the longest chain of requests in which each one started only after the
/// previous one finished: the number of sequential round trips on the critical path.
///
/// Takes any `(started, finished)` intervals, so the AWS and Kubernetes proxies' logs can be
/// merged into one figure.
pub fn critical_path_depth(intervals: impl IntoIterator<Item = (Instant, Instant)>) -> usize {
    let mut by_end: Vec<(Instant, Instant)> = intervals.into_iter().collect();
    by_end.sort_by_key(|&(start, end)| (end, start));
    // depth[i]: longest chain ending with interval i; best[i]: max depth over by_end[..=i].
    let mut best: Vec<usize> = Vec::with_capacity(by_end.len());
    for (i, &(start, _)) in by_end.iter().enumerate() {
        // Intervals finishing at or before `start` come first in `by_end`.
        let before = by_end[..i].partition_point(|&(_, end)| end <= start);
        let depth = 1 + if before == 0 { 0 } else { best[before - 1] };
        let running = best.last().copied().unwrap_or(0).max(depth);
        best.push(running);
    }
    best.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, from_ms: u64, to_ms: u64) -> (Instant, Instant) {
        (
            base + Duration::from_millis(from_ms),
            base + Duration::from_millis(to_ms),
        )
    }

    #[test]
    fn overlapping_requests_count_once_and_sequential_ones_add_up() {
        let t = Instant::now();
        // Three in parallel, then two in sequence: depth 3.
        let log = [
            at(t, 0, 50),
            at(t, 1, 51),
            at(t, 2, 52),
            at(t, 52, 100),
            at(t, 100, 150),
        ];
        assert_eq!(critical_path_depth(log), 3);
    }

    #[test]
    fn a_fully_serial_log_has_its_length_as_depth() {
        let t = Instant::now();
        let log: Vec<_> = (0..12).map(|i| at(t, i * 10, i * 10 + 10)).collect();
        assert_eq!(critical_path_depth(log), 12);
        assert_eq!(critical_path_depth(Vec::new()), 0);
    }
}
