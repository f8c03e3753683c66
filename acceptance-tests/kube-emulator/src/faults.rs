//! Fault and latency injection: fail, drop or delay the Nth request matching a method and a
//! path pattern; add fixed or random latency to every request.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids;

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with a `Status` of this code (a `Retry-After` header when given).
    Status {
        /// HTTP status code.
        code: u16,
        /// Status message (a default per code otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// `Retry-After` seconds (and `details.retryAfterSeconds`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_seconds: Option<u64>,
    },
    /// Close the connection without answering; the request is not processed.
    DropConnection,
    /// Wait before processing the request.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Process the request at once but wait before answering.
    DelayResponse {
        /// Milliseconds.
        ms: u64,
    },
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// HTTP method, or `*` for any.
    #[serde(default = "any")]
    pub method: String,
    /// Path pattern: `*` matches one segment, a trailing `**` any rest; the query is ignored.
    pub path: String,
    /// First matching request (1-based, counted from when the fault was added) that fires.
    #[serde(default = "one")]
    pub nth: u64,
    /// How many consecutive matching requests fire from the `nth` on.
    #[serde(default = "one")]
    pub times: u64,
    /// What happens.
    pub action: FaultAction,
}

fn any() -> String {
    "*".into()
}

fn one() -> u64 {
    1
}

impl Fault {
    fn new(method: &str, path: &str, action: FaultAction) -> Fault {
        Fault {
            method: method.to_string(),
            path: path.to_string(),
            nth: 1,
            times: 1,
            action,
        }
    }

    /// Answer matching requests with `code`.
    pub fn status(method: &str, path: &str, code: u16) -> Fault {
        Fault::new(
            method,
            path,
            FaultAction::Status {
                code,
                message: None,
                retry_after_seconds: None,
            },
        )
    }

    /// Answer with 429 and `Retry-After: seconds`.
    pub fn too_many_requests(method: &str, path: &str, seconds: u64) -> Fault {
        Fault::new(
            method,
            path,
            FaultAction::Status {
                code: 429,
                message: None,
                retry_after_seconds: Some(seconds),
            },
        )
    }

    /// Drop the connection.
    pub fn drop_connection(method: &str, path: &str) -> Fault {
        Fault::new(method, path, FaultAction::DropConnection)
    }

    /// Delay processing by `ms`.
    pub fn delay(method: &str, path: &str, ms: u64) -> Fault {
        Fault::new(method, path, FaultAction::Delay { ms })
    }

    /// Delay the response (after processing) by `ms`.
    pub fn delay_response(method: &str, path: &str, ms: u64) -> Fault {
        Fault::new(method, path, FaultAction::DelayResponse { ms })
    }

    /// Fire first on the `n`th matching request.
    pub fn nth(mut self, n: u64) -> Fault {
        self.nth = n.max(1);
        self
    }

    /// Fire on `t` consecutive matching requests.
    pub fn times(mut self, t: u64) -> Fault {
        self.times = t;
        self
    }

    /// True when `method` and `path` match.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && path_matches(&self.path, path)
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (i, p) in pat.iter().enumerate() {
        if *p == "**" && i == pat.len() - 1 {
            return true;
        }
        match segs.get(i) {
            Some(s) if *p == "*" || p == s => {}
            _ => return false,
        }
    }
    pat.len() == segs.len()
}

/// The active faults with their match counters.
#[derive(Debug, Default)]
pub struct FaultSet {
    faults: Vec<(Fault, u64)>,
}

impl FaultSet {
    /// Adds a fault.
    pub fn add(&mut self, fault: Fault) {
        self.faults.push((fault, 0));
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.faults.clear();
    }

    /// Removes the faults equal to `fault`.
    pub fn remove(&mut self, fault: &Fault) {
        self.faults.retain(|(f, _)| f != fault);
    }

    /// The active faults.
    pub fn list(&self) -> Vec<Fault> {
        self.faults.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Counts the request against every matching fault; returns the action of the first
    /// one that fires.
    pub fn on_request(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        let mut fired = None;
        for (fault, count) in &mut self.faults {
            if !fault.matches(method, path) {
                continue;
            }
            *count += 1;
            let window = fault.nth..fault.nth.saturating_add(fault.times);
            if fired.is_none() && window.contains(count) {
                fired = Some(fault.action.clone());
            }
        }
        fired
    }
}

/// Latency added to every API request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Always added.
    pub fixed: Duration,
    /// Up to this much more, uniformly at random.
    pub jitter: Duration,
}

impl Latency {
    /// No latency.
    pub fn none() -> Latency {
        Latency::default()
    }

    /// A fixed latency.
    pub fn fixed(ms: u64) -> Latency {
        Latency {
            fixed: Duration::from_millis(ms),
            jitter: Duration::ZERO,
        }
    }

    /// The delay for one request.
    pub fn sample(&self) -> Duration {
        let jitter_ms = self.jitter.as_millis() as u64;
        let extra = if jitter_ms == 0 {
            0
        } else {
            ids::below(jitter_ms + 1)
        };
        self.fixed + Duration::from_millis(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_one_segment_per_star() {
        let f = Fault::status("POST", "/api/v1/namespaces/*/serviceaccounts", 500);
        assert!(f.matches("POST", "/api/v1/namespaces/ci/serviceaccounts"));
        assert!(!f.matches("POST", "/api/v1/namespaces/ci/serviceaccounts/x"));
        assert!(!f.matches("GET", "/api/v1/namespaces/ci/serviceaccounts"));
        assert!(
            Fault::status("*", "/apis/**", 500)
                .matches("DELETE", "/apis/rbac.authorization.k8s.io/v1/roles")
        );
    }

    #[test]
    fn fires_on_the_nth_match_for_times_requests() {
        let mut set = FaultSet::default();
        set.add(Fault::status("GET", "/version", 503).nth(2).times(2));
        let fired: Vec<bool> = (0..5)
            .map(|_| set.on_request("GET", "/version").is_some())
            .collect();
        assert_eq!(fired, vec![false, true, true, false, false]);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let l = Latency {
            fixed: Duration::from_millis(5),
            jitter: Duration::from_millis(3),
        };
        for _ in 0..50 {
            let d = l.sample();
            assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(8));
        }
    }
}
