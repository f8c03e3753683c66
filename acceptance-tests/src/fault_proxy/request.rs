//! What the proxy knows about one request: its kind (service and operation) and target.

/// The service and operation of one request, e.g. `iam` + `CreateRole`, `s3` + `HeadBucket`,
/// `kubernetes` + `POST`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKind {
    /// The SigV4 signing name, lower case: `iam`, `sts`, `s3`, ...; `kubernetes` for the
    /// Kubernetes API.
    pub service: String,
    /// The API operation name, e.g. `CreateRole`, `PutBucketPolicy`; the HTTP method for the
    /// Kubernetes API.
    pub operation: String,
}

/// What a request is about, beyond its operation: the query-protocol parameters (IAM, STS:
/// `RoleName`, `PolicyArn`, ...), the EKS parameters (`clusterName`, `associationId`,
/// `namespace`, ...), the S3 bucket of a path-style request, or a Kubernetes
/// request's `path` parameter (without the query). Fault rules use it to fail one call of one
/// object (see [`super::Matcher::param`], [`super::Matcher::bucket`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RequestTarget {
    /// The form (or query string) parameters of a query-protocol request, decoded, without
    /// `Action` and `Version`; for EKS and EKS Auth the URI labels (`clusterName`,
    /// `associationId`), the query parameters and the body's top-level strings (never the
    /// token); empty for S3; `path` for Kubernetes.
    pub params: std::collections::BTreeMap<String, String>,
    /// The bucket of an S3 request (the first path segment), if any.
    pub bucket: Option<String>,
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service, self.operation)
    }
}
