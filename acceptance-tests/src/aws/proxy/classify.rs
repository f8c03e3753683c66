//! Which AWS service and operation an HTTP request is, from what is on the wire.
//!
//! - service: the SigV4 credential scope (`Authorization: ... Credential=AKID/DATE/REGION/SERVICE/
//!   aws4_request` or `X-Amz-Credential` in a presigned URL); unsigned requests (STS
//!   AssumeRoleWithWebIdentity) fall back to the form's `Action`.
//! - IAM/STS (query protocol): the form's (or query string's) `Action=`.
//! - S3 (REST-XML): the SDK's `x-id` query parameter when present, else method + path-style
//!   path + sub-resource query keys (`PUT /bucket?policy` = PutBucketPolicy).
//! - EKS and EKS Auth (restJson1, signing names `eks` and `eks-auth`): method + path, for the
//!   Pod Identity operations the rig serves ([`crate::aws::eks::rest::operation_of`]); an
//!   unsigned request on one of their paths is taken for them too.

use crate::fault_proxy::{RequestKind, RequestTarget};

/// The target of a request already classified as `kind`.
pub fn target(kind: &RequestKind, path: &str, query: &str, body: &[u8]) -> RequestTarget {
    if matches!(kind.service.as_str(), "eks" | "eks-auth") {
        return RequestTarget {
            params: crate::aws::eks::rest::target_params(path, query, body),
            bucket: None,
        };
    }
    if kind.service == "s3" {
        let bucket = path.trim_start_matches('/').split('/').next().unwrap_or("");
        return RequestTarget {
            params: Default::default(),
            bucket: (!bucket.is_empty()).then(|| bucket.to_string()),
        };
    }
    let mut params = form_pairs(query.as_bytes());
    params.extend(form_pairs(body));
    params.remove("Action");
    params.remove("Version");
    RequestTarget {
        params,
        bucket: None,
    }
}

/// Every `key=value` pair of a form-encoded text, decoded (the first of repeated keys wins).
fn form_pairs(body: &[u8]) -> std::collections::BTreeMap<String, String> {
    let mut pairs = std::collections::BTreeMap::new();
    let Ok(text) = std::str::from_utf8(body) else {
        return pairs;
    };
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        pairs
            .entry(percent_decode(key))
            .or_insert_with(|| percent_decode(value));
    }
    pairs
}

const STS_ACTIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetCallerIdentity",
    "GetFederationToken",
    "GetSessionToken",
];

/// Classifies a request from its method, path, query string (without `?`), headers and body.
pub fn classify(
    method: &http::Method,
    path: &str,
    query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> RequestKind {
    let form_action = form_value(body, "Action").or_else(|| form_value(query.as_bytes(), "Action"));
    let eks_operation = crate::aws::eks::rest::operation_of(method, path);
    let service = signing_service(headers)
        .or_else(|| {
            form_value(query.as_bytes(), "X-Amz-Credential").and_then(|c| scope_service(&c))
        })
        .unwrap_or_else(|| match (&form_action, eks_operation) {
            (Some(action), _) if STS_ACTIONS.contains(&action.as_str()) => "sts".to_string(),
            (Some(_), _) => "iam".to_string(),
            (None, Some("AssumeRoleForPodIdentity")) => "eks-auth".to_string(),
            (None, Some(_)) => "eks".to_string(),
            (None, None) => "s3".to_string(),
        });
    let operation = match (service.as_str(), form_action) {
        ("s3", _) => s3_operation(method, path, query, headers),
        ("eks" | "eks-auth", _) => {
            eks_operation.map_or_else(|| format!("{method} {path}"), str::to_string)
        }
        (_, Some(action)) => action,
        (_, None) => format!("{method} {path}"),
    };
    RequestKind { service, operation }
}

fn signing_service(headers: &http::HeaderMap) -> Option<String> {
    let authorization = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = authorization
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    scope_service(credential)
}

/// `AKID/20260101/us-east-1/iam/aws4_request` -> `iam`.
fn scope_service(credential: &str) -> Option<String> {
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() >= 5).then(|| parts[parts.len() - 2].to_ascii_lowercase())
}

/// The first value of `key` in a form-encoded `body` (`a=1&Action=CreateRole&...`).
fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match hex_byte(bytes[i + 1], bytes[i + 2]) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

/// The S3 operation of a path-style request.
fn s3_operation(
    method: &http::Method,
    path: &str,
    query: &str,
    headers: &http::HeaderMap,
) -> String {
    let keys: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(k, _)| k))
        .collect();
    if let Some(id) = form_value(query.as_bytes(), "x-id") {
        return id;
    }
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = match trimmed.split_once('/') {
        Some((bucket, key)) => (bucket, key),
        None => (trimmed, ""),
    };
    let has = |name: &str| keys.contains(&name);
    let copy = headers.contains_key("x-amz-copy-source");
    let m = method.as_str();
    if bucket.is_empty() {
        return match m {
            "GET" => "ListBuckets",
            _ => "UnknownServiceRequest",
        }
        .to_string();
    }
    if !key.is_empty() {
        return object_operation(m, &has, copy);
    }
    bucket_operation(m, &keys, &has)
}

fn object_operation(method: &str, has: &dyn Fn(&str) -> bool, copy: bool) -> String {
    if has("tagging") {
        return verb(method, "ObjectTagging");
    }
    if has("acl") {
        return verb(method, "ObjectAcl");
    }
    if has("retention") {
        return verb(method, "ObjectRetention");
    }
    if has("legal-hold") {
        return verb(method, "ObjectLegalHold");
    }
    let op = if has("uploadId") {
        match method {
            "PUT" if copy => "UploadPartCopy",
            "PUT" => "UploadPart",
            "POST" => "CompleteMultipartUpload",
            "DELETE" => "AbortMultipartUpload",
            _ => "ListParts",
        }
    } else if has("uploads") {
        "CreateMultipartUpload"
    } else if has("attributes") {
        "GetObjectAttributes"
    } else if has("restore") {
        "RestoreObject"
    } else {
        match method {
            "GET" => "GetObject",
            "PUT" if copy => "CopyObject",
            "PUT" => "PutObject",
            "HEAD" => "HeadObject",
            "DELETE" => "DeleteObject",
            "POST" => "PostObject",
            _ => "UnknownObjectRequest",
        }
    };
    op.to_string()
}

/// Bucket sub-resources and the noun their operations use (`GetBucketPolicy`, ...).
const BUCKET_SUBRESOURCES: &[(&str, &str)] = &[
    ("policy", "BucketPolicy"),
    ("policyStatus", "BucketPolicyStatus"),
    ("tagging", "BucketTagging"),
    ("versioning", "BucketVersioning"),
    ("encryption", "BucketEncryption"),
    ("lifecycle", "BucketLifecycleConfiguration"),
    ("publicAccessBlock", "PublicAccessBlock"),
    ("acl", "BucketAcl"),
    ("location", "BucketLocation"),
    ("ownershipControls", "BucketOwnershipControls"),
    ("cors", "BucketCors"),
    ("logging", "BucketLogging"),
    ("website", "BucketWebsite"),
    ("notification", "BucketNotificationConfiguration"),
    ("replication", "BucketReplication"),
    ("accelerate", "BucketAccelerateConfiguration"),
    ("requestPayment", "BucketRequestPayment"),
    ("object-lock", "ObjectLockConfiguration"),
    (
        "intelligent-tiering",
        "BucketIntelligentTieringConfiguration",
    ),
    ("metrics", "BucketMetricsConfiguration"),
    ("inventory", "BucketInventoryConfiguration"),
    ("analytics", "BucketAnalyticsConfiguration"),
];

fn bucket_operation(method: &str, keys: &[&str], has: &dyn Fn(&str) -> bool) -> String {
    if has("uploads") {
        return "ListMultipartUploads".to_string();
    }
    if has("versions") {
        return "ListObjectVersions".to_string();
    }
    if has("delete") && method == "POST" {
        return "DeleteObjects".to_string();
    }
    if let Some((_, noun)) = BUCKET_SUBRESOURCES
        .iter()
        .find(|(name, _)| keys.contains(name))
    {
        // The lifecycle delete keeps its old name.
        if *noun == "BucketLifecycleConfiguration" && method == "DELETE" {
            return "DeleteBucketLifecycle".to_string();
        }
        return verb(method, noun);
    }
    match method {
        "GET" if keys.contains(&"list-type") => "ListObjectsV2",
        "GET" => "ListObjects",
        "PUT" => "CreateBucket",
        "HEAD" => "HeadBucket",
        "DELETE" => "DeleteBucket",
        _ => "UnknownBucketRequest",
    }
    .to_string()
}

/// `Get`/`Put`/`Delete` + noun for the method.
fn verb(method: &str, noun: &str) -> String {
    let prefix = match method {
        "GET" | "HEAD" => "Get",
        "PUT" | "POST" => "Put",
        "DELETE" => "Delete",
        _ => "Unknown",
    };
    format!("{prefix}{noun}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn signed(service: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
        );
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        headers
    }

    fn kind(method: Method, path: &str, query: &str, headers: &HeaderMap, body: &str) -> String {
        classify(&method, path, query, headers, body.as_bytes()).to_string()
    }

    #[test]
    fn query_protocol_operations_come_from_the_form_action() {
        let body = "Action=CreateRole&Version=2010-05-08&RoleName=r";
        assert_eq!(
            kind(Method::POST, "/", "", &signed("iam"), body),
            "iam:CreateRole"
        );
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        assert_eq!(
            kind(Method::POST, "/", "", &signed("sts"), body),
            "sts:GetCallerIdentity"
        );
    }

    #[test]
    fn unsigned_sts_calls_are_recognised_by_their_action() {
        let body = "Action=AssumeRoleWithWebIdentity&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr";
        assert_eq!(
            kind(Method::POST, "/", "", &HeaderMap::new(), body),
            "sts:AssumeRoleWithWebIdentity"
        );
    }

    #[test]
    fn s3_operations_come_from_method_path_and_subresource() {
        let h = signed("s3");
        assert_eq!(kind(Method::GET, "/", "", &h, ""), "s3:ListBuckets");
        assert_eq!(kind(Method::PUT, "/b", "", &h, ""), "s3:CreateBucket");
        assert_eq!(kind(Method::HEAD, "/b", "", &h, ""), "s3:HeadBucket");
        assert_eq!(kind(Method::DELETE, "/b/", "", &h, ""), "s3:DeleteBucket");
        assert_eq!(
            kind(Method::PUT, "/b", "policy", &h, ""),
            "s3:PutBucketPolicy"
        );
        assert_eq!(
            kind(Method::GET, "/b", "policy=", &h, ""),
            "s3:GetBucketPolicy"
        );
        assert_eq!(
            kind(Method::DELETE, "/b", "policy", &h, ""),
            "s3:DeleteBucketPolicy"
        );
        assert_eq!(
            kind(Method::DELETE, "/b", "lifecycle", &h, ""),
            "s3:DeleteBucketLifecycle"
        );
        assert_eq!(
            kind(Method::GET, "/b", "list-type=2&prefix=a", &h, ""),
            "s3:ListObjectsV2"
        );
        assert_eq!(
            kind(Method::POST, "/b", "delete", &h, ""),
            "s3:DeleteObjects"
        );
        assert_eq!(kind(Method::PUT, "/b/k/x.txt", "", &h, ""), "s3:PutObject");
        assert_eq!(kind(Method::HEAD, "/b/k", "", &h, ""), "s3:HeadObject");
        assert_eq!(
            kind(Method::PUT, "/b/k", "tagging", &h, ""),
            "s3:PutObjectTagging"
        );
        assert_eq!(
            kind(Method::POST, "/b/k", "uploads", &h, ""),
            "s3:CreateMultipartUpload"
        );
        assert_eq!(
            kind(Method::PUT, "/b/k", "partNumber=1&uploadId=u", &h, ""),
            "s3:UploadPart"
        );
    }

    #[test]
    fn the_sdk_x_id_parameter_names_the_s3_operation() {
        let h = signed("s3");
        assert_eq!(
            kind(Method::GET, "/b/k", "x-id=GetObject", &h, ""),
            "s3:GetObject"
        );
    }

    #[test]
    fn copy_source_header_makes_a_put_a_copy() {
        let mut h = signed("s3");
        h.insert("x-amz-copy-source", HeaderValue::from_static("/a/b"));
        assert_eq!(kind(Method::PUT, "/b/k", "", &h, ""), "s3:CopyObject");
    }

    #[test]
    fn targets_carry_decoded_parameters_or_the_bucket() {
        let iam = RequestKind {
            service: "iam".into(),
            operation: "AttachRolePolicy".into(),
        };
        let body = b"Action=AttachRolePolicy&Version=2010-05-08&RoleName=r1&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX";
        let target = target(&iam, "/", "", body);
        assert_eq!(
            target.params.get("RoleName").map(String::as_str),
            Some("r1")
        );
        assert_eq!(
            target.params.get("PolicyArn").map(String::as_str),
            Some("arn:aws:iam::aws:policy/X")
        );
        assert!(!target.params.contains_key("Action"));
        let s3 = RequestKind {
            service: "s3".into(),
            operation: "PutBucketPolicy".into(),
        };
        assert_eq!(
            super::target(&s3, "/my-bucket", "policy", b"")
                .bucket
                .as_deref(),
            Some("my-bucket")
        );
    }

    #[test]
    fn eks_pod_identity_operations_come_from_method_and_path() {
        let h = signed("eks");
        let base = "/clusters/gitlabrunner-acc/pod-identity-associations";
        let id = format!("{base}/a-abcdefghijklmnopq");
        assert_eq!(
            kind(Method::POST, base, "", &h, "{}"),
            "eks:CreatePodIdentityAssociation"
        );
        assert_eq!(
            kind(Method::GET, base, "namespace=ci", &h, ""),
            "eks:ListPodIdentityAssociations"
        );
        assert_eq!(
            kind(Method::GET, &id, "", &h, ""),
            "eks:DescribePodIdentityAssociation"
        );
        assert_eq!(
            kind(Method::POST, &id, "", &h, "{}"),
            "eks:UpdatePodIdentityAssociation"
        );
        assert_eq!(
            kind(Method::DELETE, &id, "", &h, ""),
            "eks:DeletePodIdentityAssociation"
        );
        // Other EKS calls keep method and path.
        assert_eq!(
            kind(Method::GET, "/clusters/c", "", &h, ""),
            "eks:GET /clusters/c"
        );
        let auth = "/clusters/gitlabrunner-acc/assume-role-for-pod-identity";
        assert_eq!(
            kind(Method::POST, auth, "", &signed("eks-auth"), "{}"),
            "eks-auth:AssumeRoleForPodIdentity"
        );
        assert_eq!(
            kind(Method::POST, auth, "", &HeaderMap::new(), "{}"),
            "eks-auth:AssumeRoleForPodIdentity"
        );
        assert_eq!(
            kind(Method::DELETE, &id, "", &HeaderMap::new(), ""),
            "eks:DeletePodIdentityAssociation"
        );
    }

    #[test]
    fn eks_targets_carry_labels_query_and_body_fields_but_never_the_token() {
        let create = RequestKind {
            service: "eks".into(),
            operation: "CreatePodIdentityAssociation".into(),
        };
        let body = br#"{"namespace":"ci","serviceAccount":"runner","roleArn":"arn:aws:iam::123456789012:role/r","tags":{"a":"b"}}"#;
        let params = target(&create, "/clusters/c1/pod-identity-associations", "", body).params;
        assert_eq!(params["clusterName"], "c1");
        assert_eq!(params["namespace"], "ci");
        assert_eq!(params["serviceAccount"], "runner");
        assert_eq!(params["roleArn"], "arn:aws:iam::123456789012:role/r");
        let describe = RequestKind {
            service: "eks".into(),
            operation: "ListPodIdentityAssociations".into(),
        };
        let params = target(
            &describe,
            "/clusters/c1/pod-identity-associations",
            "namespace=ci&maxResults=2",
            b"",
        )
        .params;
        assert_eq!(params["namespace"], "ci");
        assert_eq!(params["maxResults"], "2");
        let id = target(
            &describe,
            "/clusters/c1/pod-identity-associations/a-1",
            "",
            b"",
        )
        .params;
        assert_eq!(id["associationId"], "a-1");
        let auth = RequestKind {
            service: "eks-auth".into(),
            operation: "AssumeRoleForPodIdentity".into(),
        };
        let params = target(
            &auth,
            "/clusters/c1/assume-role-for-pod-identity",
            "",
            br#"{"token":"a.b.c"}"#,
        )
        .params;
        assert_eq!(params["clusterName"], "c1");
        assert!(!params.contains_key("token"), "{params:?}");
    }

    #[test]
    fn percent_decoding_leaves_malformed_escapes_alone() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
