//! Fault rules: which requests the proxy fails, delays or drops, and per-request latency.

use std::time::Duration;

use super::request::{RequestKind, RequestTarget};

/// Which requests a rule applies to: a service, optionally one operation of it, optionally
/// only those naming given parameters or an S3 bucket (one call of one object). For the
/// Kubernetes API see [`crate::kube_proxy::call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    service: Option<String>,
    operation: Option<String>,
    params: Vec<(String, String)>,
    bucket: Option<String>,
}

impl Matcher {
    /// Every request.
    pub fn any() -> Self {
        Self {
            service: None,
            operation: None,
            params: Vec::new(),
            bucket: None,
        }
    }

    /// Every request to `service` (`iam`, `sts`, `s3`).
    pub fn service(service: &str) -> Self {
        Self {
            service: Some(service.to_ascii_lowercase()),
            ..Self::any()
        }
    }

    /// Requests for one operation, e.g. `Matcher::operation("iam", "CreateRole")`.
    pub fn operation(service: &str, operation: &str) -> Self {
        Self {
            service: Some(service.to_ascii_lowercase()),
            operation: Some(operation.to_string()),
            ..Self::any()
        }
    }

    /// Only requests whose parameter `name` is `value` (see [`RequestTarget::params`]), e.g.
    /// `Matcher::operation("iam", "AttachRolePolicy").param("RoleName", role)` or
    /// `Matcher::operation("eks", "CreatePodIdentityAssociation").param("namespace", ns)`.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// Only S3 requests to `bucket`.
    pub fn bucket(mut self, bucket: &str) -> Self {
        self.bucket = Some(bucket.to_string());
        self
    }

    /// Whether `kind` is one of the requests this matcher selects (a matcher with parameter or
    /// bucket conditions selects none: use [`Matcher::matches_request`]).
    pub fn matches(&self, kind: &RequestKind) -> bool {
        self.matches_request(kind, &RequestTarget::default())
    }

    /// Whether the request `kind` about `target` is one this matcher selects.
    pub fn matches_request(&self, kind: &RequestKind, target: &RequestTarget) -> bool {
        self.service.as_ref().is_none_or(|s| *s == kind.service)
            && self.operation.as_ref().is_none_or(|o| *o == kind.operation)
            && self
                .params
                .iter()
                .all(|(name, value)| target.params.get(name) == Some(value))
            && self
                .bucket
                .as_ref()
                .is_none_or(|b| target.bucket.as_ref() == Some(b))
    }
}

/// Which of the matching requests a rule fires on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// Only the n-th matching request (1-based) after the rule was added.
    Nth(u64),
    /// `count` consecutive matching requests from the `first` (1-based) on.
    Window {
        /// The first matching request that fires (1-based).
        first: u64,
        /// How many fire.
        count: u64,
    },
    /// Every matching request.
    Always,
    /// Each matching request with this probability (0.0..=1.0), drawn from the proxy's seeded
    /// generator: the same request order gives the same decisions.
    Probability(f64),
}

/// What the proxy does when a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answers with this status and an error body in the service's protocol (query XML for
    /// IAM/STS, REST-XML for S3, a `Status` object for Kubernetes), so the client parses
    /// `code`.
    Respond {
        /// HTTP status.
        status: u16,
        /// The AWS error code, e.g. `Throttling`; the Kubernetes `Status` reason, e.g.
        /// `TooManyRequests`.
        code: String,
        /// The error message.
        message: String,
        /// A `Retry-After` header (and, for Kubernetes, `details.retryAfterSeconds`).
        retry_after_seconds: Option<u64>,
    },
    /// Closes the connection without answering.
    DropConnection,
    /// Waits this long, then forwards the request normally.
    Delay(Duration),
    /// Forwards the request at once (it takes effect), then holds the answer this long: the
    /// client sees a call that hangs after it did its work. While held, the request is listed
    /// by [`super::AwsProxy::held_requests`].
    DelayResponse(Duration),
}

impl FaultAction {
    /// An AWS error answer.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::Respond {
            status,
            code: code.to_string(),
            message: message.to_string(),
            retry_after_seconds: None,
        }
    }

    /// The same answer with a `Retry-After: seconds` header.
    pub fn retry_after(self, seconds: u64) -> Self {
        match self {
            Self::Respond {
                status,
                code,
                message,
                ..
            } => Self::Respond {
                status,
                code,
                message,
                retry_after_seconds: Some(seconds),
            },
            other => other,
        }
    }

    /// `400 Throttling: Rate exceeded`, as IAM and STS throttle.
    pub fn throttling() -> Self {
        Self::error(400, "Throttling", "Rate exceeded")
    }

    /// `503 SlowDown`, as S3 throttles.
    pub fn slow_down() -> Self {
        Self::error(503, "SlowDown", "Please reduce your request rate.")
    }

    /// `500 ServiceFailure`, IAM's internal error.
    pub fn service_failure() -> Self {
        Self::error(
            500,
            "ServiceFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// `500 InternalError`, S3's internal error.
    pub fn internal_error() -> Self {
        Self::error(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    }

    /// `500 ServerException`, EKS's internal error
    /// (<https://docs.aws.amazon.com/eks/latest/APIReference/CommonErrors.html>).
    pub fn server_exception() -> Self {
        Self::error(
            500,
            "ServerException",
            "These errors are usually caused by a server-side issue.",
        )
    }

    /// `429 ThrottlingException`, as the restJson1 services (EKS Auth) throttle
    /// (<https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html#API_auth_AssumeRoleForPodIdentity_Errors>).
    pub fn throttling_exception() -> Self {
        Self::error(429, "ThrottlingException", "Rate exceeded")
    }

    /// `403 AccessDenied`.
    pub fn access_denied() -> Self {
        Self::error(
            403,
            "AccessDenied",
            "User is not authorized to perform this action (injected by the acceptance proxy)",
        )
    }

    /// A short label for the request log, e.g. `500 ServiceFailure`, `drop`, `delay 50ms`.
    pub fn label(&self) -> String {
        match self {
            Self::Respond { status, code, .. } => format!("{status} {code}"),
            Self::DropConnection => "drop".to_string(),
            Self::Delay(delay) => format!("delay {delay:?}"),
            Self::DelayResponse(delay) => format!("delay-response {delay:?}"),
        }
    }
}

/// One fault: which requests, when, and what happens.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Which requests.
    pub matcher: Matcher,
    /// Which of them.
    pub trigger: Trigger,
    /// What happens.
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule.
    pub fn new(matcher: Matcher, trigger: Trigger, action: FaultAction) -> Self {
        Self {
            matcher,
            trigger,
            action,
        }
    }

    /// Fires on the n-th (1-based) matching request only.
    pub fn nth(matcher: Matcher, n: u64, action: FaultAction) -> Self {
        Self::new(matcher, Trigger::Nth(n), action)
    }

    /// Fires on `count` consecutive matching requests from the `first` (1-based) on.
    pub fn window(matcher: Matcher, first: u64, count: u64, action: FaultAction) -> Self {
        Self::new(matcher, Trigger::Window { first, count }, action)
    }

    /// Fires on every matching request.
    pub fn always(matcher: Matcher, action: FaultAction) -> Self {
        Self::new(matcher, Trigger::Always, action)
    }

    /// Fires on each matching request with probability `p`.
    pub fn probability(matcher: Matcher, p: f64, action: FaultAction) -> Self {
        Self::new(matcher, Trigger::Probability(p), action)
    }
}

/// Latency added to every request before it is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latency {
    /// None.
    #[default]
    None,
    /// The same delay for each request.
    Fixed(Duration),
    /// A delay drawn uniformly from `min..=max` (seeded generator).
    Uniform {
        /// The shortest delay.
        min: Duration,
        /// The longest delay.
        max: Duration,
    },
}

/// The rules in force, their match counters and the seeded generator.
#[derive(Debug)]
pub(crate) struct FaultTable {
    rules: Vec<(FaultRule, u64)>,
    latency: Latency,
    rng: fastrand::Rng,
}

/// The seed used until [`FaultTable::set_seed`] is called.
pub(crate) const DEFAULT_SEED: u64 = 0x5eed_2026;

impl Default for FaultTable {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            latency: Latency::None,
            rng: fastrand::Rng::with_seed(DEFAULT_SEED),
        }
    }
}

impl FaultTable {
    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn set_latency(&mut self, latency: Latency) {
        self.latency = latency;
    }

    pub(crate) fn set_seed(&mut self, seed: u64) {
        self.rng = fastrand::Rng::with_seed(seed);
    }

    /// The latency for the next request.
    pub(crate) fn next_latency(&mut self) -> Duration {
        match self.latency {
            Latency::None => Duration::ZERO,
            Latency::Fixed(delay) => delay,
            Latency::Uniform { min, max } => {
                let (low, high) = (min.as_micros() as u64, max.as_micros() as u64);
                Duration::from_micros(self.rng.u64(low.min(high)..=high.max(low)))
            }
        }
    }

    /// Counts `kind` against every matching rule and returns the action of the first rule
    /// that fires.
    pub(crate) fn decide(
        &mut self,
        kind: &RequestKind,
        target: &RequestTarget,
    ) -> Option<FaultAction> {
        let mut fired = None;
        for (rule, seen) in &mut self.rules {
            if !rule.matcher.matches_request(kind, target) {
                continue;
            }
            *seen += 1;
            let fires = match rule.trigger {
                Trigger::Nth(n) => *seen == n,
                Trigger::Window { first, count } => {
                    (first..first.saturating_add(count)).contains(seen)
                }
                Trigger::Always => true,
                Trigger::Probability(p) => self.rng.f64() < p,
            };
            if fires && fired.is_none() {
                fired = Some(rule.action.clone());
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(service: &str, operation: &str) -> RequestKind {
        RequestKind {
            service: service.into(),
            operation: operation.into(),
        }
    }

    fn decide(table: &mut FaultTable, kind: &RequestKind) -> Option<FaultAction> {
        table.decide(kind, &RequestTarget::default())
    }

    #[test]
    fn parameter_and_bucket_conditions_select_one_object() {
        let mut table = FaultTable::default();
        table.add(FaultRule::always(
            Matcher::operation("iam", "AttachRolePolicy").param("RoleName", "a"),
            FaultAction::access_denied(),
        ));
        table.add(FaultRule::always(
            Matcher::service("s3").bucket("b1"),
            FaultAction::internal_error(),
        ));
        let role = |name: &str| RequestTarget {
            params: [("RoleName".to_string(), name.to_string())].into(),
            bucket: None,
        };
        let bucket = |name: &str| RequestTarget {
            params: Default::default(),
            bucket: Some(name.to_string()),
        };
        let attach = kind("iam", "AttachRolePolicy");
        assert!(table.decide(&attach, &role("a")).is_some());
        assert_eq!(table.decide(&attach, &role("b")), None);
        assert_eq!(decide(&mut table, &attach), None);
        let put = kind("s3", "PutBucketPolicy");
        assert!(table.decide(&put, &bucket("b1")).is_some());
        assert_eq!(table.decide(&put, &bucket("b2")), None);
    }

    #[test]
    fn nth_fires_once_on_exactly_that_matching_request() {
        let mut table = FaultTable::default();
        table.add(FaultRule::nth(
            Matcher::operation("iam", "CreateRole"),
            2,
            FaultAction::service_failure(),
        ));
        assert_eq!(decide(&mut table, &kind("iam", "CreateRole")), None);
        assert_eq!(decide(&mut table, &kind("iam", "GetRole")), None);
        assert_eq!(
            decide(&mut table, &kind("iam", "CreateRole")),
            Some(FaultAction::service_failure())
        );
        assert_eq!(decide(&mut table, &kind("iam", "CreateRole")), None);
    }

    #[test]
    fn a_window_fires_on_count_consecutive_matches() {
        let mut table = FaultTable::default();
        table.add(FaultRule::window(
            Matcher::operation("kubernetes", "POST"),
            2,
            2,
            FaultAction::error(429, "TooManyRequests", "slow down").retry_after(1),
        ));
        let fired: Vec<bool> = (0..5)
            .map(|_| decide(&mut table, &kind("kubernetes", "POST")).is_some())
            .collect();
        assert_eq!(fired, [false, true, true, false, false]);
    }

    #[test]
    fn probability_decisions_repeat_for_the_same_seed() {
        let run = |seed| {
            let mut table = FaultTable::default();
            table.set_seed(seed);
            table.add(FaultRule::probability(
                Matcher::service("iam"),
                0.3,
                FaultAction::throttling(),
            ));
            (0..200)
                .map(|_| decide(&mut table, &kind("iam", "GetRole")).is_some())
                .collect::<Vec<_>>()
        };
        let first = run(7);
        assert_eq!(first, run(7));
        let hits = first.iter().filter(|hit| **hit).count();
        assert!(
            (35..=85).contains(&hits),
            "30% of 200 should be near 60, got {hits}"
        );
    }

    #[test]
    fn other_services_are_not_matched() {
        let mut table = FaultTable::default();
        table.add(FaultRule::always(
            Matcher::service("iam"),
            FaultAction::access_denied(),
        ));
        assert_eq!(decide(&mut table, &kind("s3", "PutBucketPolicy")), None);
        assert!(decide(&mut table, &kind("iam", "ListRoles")).is_some());
    }

    #[test]
    fn uniform_latency_stays_in_its_bounds() {
        let mut table = FaultTable::default();
        let (min, max) = (Duration::from_millis(10), Duration::from_millis(20));
        table.set_latency(Latency::Uniform { min, max });
        for _ in 0..100 {
            let delay = table.next_latency();
            assert!(delay >= min && delay <= max, "{delay:?}");
        }
    }
}
