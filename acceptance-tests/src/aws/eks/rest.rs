//! The EKS Pod Identity REST handlers (restJson1), per the EKS API reference:
//!
//! | operation | request | reference |
//! |---|---|---|
//! | `CreatePodIdentityAssociation` | `POST /clusters/NAME/pod-identity-associations` | <https://docs.aws.amazon.com/eks/latest/APIReference/API_CreatePodIdentityAssociation.html> |
//! | `DescribePodIdentityAssociation` | `GET /clusters/NAME/pod-identity-associations/ID` | <https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribePodIdentityAssociation.html> |
//! | `ListPodIdentityAssociations` | `GET /clusters/NAME/pod-identity-associations?namespace=&serviceAccount=&maxResults=&nextToken=` | <https://docs.aws.amazon.com/eks/latest/APIReference/API_ListPodIdentityAssociations.html> |
//! | `UpdatePodIdentityAssociation` | `POST /clusters/NAME/pod-identity-associations/ID` | <https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdatePodIdentityAssociation.html> |
//! | `DeletePodIdentityAssociation` | `DELETE /clusters/NAME/pod-identity-associations/ID` | <https://docs.aws.amazon.com/eks/latest/APIReference/API_DeletePodIdentityAssociation.html> |
//!
//! Shapes: `PodIdentityAssociation`
//! (<https://docs.aws.amazon.com/eks/latest/APIReference/API_PodIdentityAssociation.html>) and
//! `PodIdentityAssociationSummary`
//! (<https://docs.aws.amazon.com/eks/latest/APIReference/API_PodIdentityAssociationSummary.html>);
//! timestamps are epoch seconds, restJson1's default.
//!
//! Errors (<https://docs.aws.amazon.com/eks/latest/APIReference/CommonErrors.html> and each
//! operation's "Errors"): `x-amzn-ErrorType` names the code, the body is `{"message": ...}`
//! (<https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization>):
//! - `ResourceNotFoundException` 404: the cluster or the association is unknown;
//! - `ResourceInUseException` 409: the (namespace, service account) already has an association;
//! - `InvalidParameterException` 400: a missing or malformed field, `maxResults` outside 1..100,
//!   a bad `nextToken`; a role that does not exist ("Role provided in the request does not
//!   exist", what EKS answers while IAM is not yet consistent: hashicorp/terraform-provider-aws
//!   #34717), or whose trust does not name `pods.eks.amazonaws.com` ("Trust policy of the role
//!   provided is invalid": hashicorp/terraform-provider-aws #41483).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::store::{AssociationChanges, NewAssociation};
use super::{Cluster, EksRig, POD_IDENTITY_SERVICE};
use crate::aws::web_identity::trust;

/// The EKS operations the rig serves.
pub const OPERATIONS: &[&str] = &[
    "CreatePodIdentityAssociation",
    "DescribePodIdentityAssociation",
    "ListPodIdentityAssociations",
    "UpdatePodIdentityAssociation",
    "DeletePodIdentityAssociation",
];

/// An error answer of EKS or EKS Auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The error code (`x-amzn-ErrorType`).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The `clusterName` member EKS's errors carry, when known.
    pub cluster_name: Option<String>,
}

impl ApiError {
    /// An error without `clusterName`.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            cluster_name: None,
        }
    }

    /// `InvalidParameterException` (400).
    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidParameterException", message)
    }

    /// The same error naming the cluster.
    pub fn with_cluster(mut self, cluster: &str) -> ApiError {
        self.cluster_name = Some(cluster.to_string());
        self
    }

    /// The restJson1 answer.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut body = json!({ "message": self.message });
        if let Some(cluster) = &self.cluster_name {
            body["clusterName"] = json!(cluster);
        }
        let mut response = json_response(self.status, &body);
        if let Ok(code) = HeaderValue::from_str(self.code) {
            response.headers_mut().insert("x-amzn-ErrorType", code);
        }
        response
    }
}

/// A JSON answer with a fresh `x-amzn-RequestId`.
pub fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let id = format!("rig-eks-{:016x}", fastrand::u64(..));
    if let Ok(id) = HeaderValue::from_str(&id) {
        headers.insert("x-amzn-RequestId", id);
    }
    response
}

/// The path's segments after `/clusters/`, percent-decoded.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// The cluster name of `/clusters/NAME/...`.
pub fn cluster_in_path(path: &str) -> Option<String> {
    match segments(path).as_slice() {
        [clusters, name, ..] if clusters == "clusters" && !name.is_empty() => Some(name.clone()),
        _ => None,
    }
}

/// The operation of an EKS request from its method and path, when it is one the rig serves.
pub fn operation_of(method: &http::Method, path: &str) -> Option<&'static str> {
    let segments = segments(path);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["clusters", _, "pod-identity-associations"]) => {
            Some("CreatePodIdentityAssociation")
        }
        ("GET", ["clusters", _, "pod-identity-associations"]) => {
            Some("ListPodIdentityAssociations")
        }
        ("GET", ["clusters", _, "pod-identity-associations", _]) => {
            Some("DescribePodIdentityAssociation")
        }
        ("POST", ["clusters", _, "pod-identity-associations", _]) => {
            Some("UpdatePodIdentityAssociation")
        }
        ("DELETE", ["clusters", _, "pod-identity-associations", _]) => {
            Some("DeletePodIdentityAssociation")
        }
        ("POST", ["clusters", _, "assume-role-for-pod-identity"]) => {
            Some("AssumeRoleForPodIdentity")
        }
        _ => None,
    }
}

/// The URI labels and query parameters of an EKS or EKS Auth request, and the top-level
/// string fields of its JSON body (never the token), for fault matchers and the request log.
pub fn target_params(path: &str, query: &str, body: &[u8]) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let segments = segments(path);
    if let [clusters, name, rest @ ..] = segments.as_slice()
        && clusters == "clusters"
    {
        params.insert("clusterName".to_string(), name.clone());
        if let [kind, id] = rest
            && kind == "pod-identity-associations"
        {
            params.insert("associationId".to_string(), id.clone());
        }
    }
    for (key, value) in query_pairs(query) {
        params.entry(key).or_insert(value);
    }
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) {
        for (key, value) in fields {
            if let (Value::String(text), false) = (value, key == "token") {
                params.entry(key).or_insert(text);
            }
        }
    }
    params
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    crate::aws::web_identity::form_params(query.as_bytes())
}

/// The answer to `operation` (one of [`OPERATIONS`]) signed for `region`.
pub async fn answer(
    rig: &EksRig,
    operation: &str,
    region: Option<&str>,
    parts: &http::request::Parts,
    body: &[u8],
) -> Response<Full<Bytes>> {
    match serve(rig, operation, region, parts, body).await {
        Ok(value) => json_response(200, &value),
        Err(error) => error.response(),
    }
}

async fn serve(
    rig: &EksRig,
    operation: &str,
    region: Option<&str>,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Value, ApiError> {
    let segments = segments(parts.uri.path());
    let name = segments.get(1).cloned().unwrap_or_default();
    let cluster = rig.cluster_in(&name, region).cloned().ok_or_else(|| {
        ApiError::new(
            404,
            "ResourceNotFoundException",
            format!("No cluster found for name: {name}."),
        )
        .with_cluster(&name)
    })?;
    let id = segments.get(3).cloned().unwrap_or_default();
    match operation {
        "CreatePodIdentityAssociation" => {
            let new = parse_create(&json_body(body)?)?;
            check_role(rig, &cluster, &new.role_arn).await?;
            let association = rig.store().create(&cluster, new, rig.now())?;
            Ok(json!({ "association": association.to_json() }))
        }
        "DescribePodIdentityAssociation" => {
            let association = rig.store().describe(&cluster, &id)?;
            Ok(json!({ "association": association.to_json() }))
        }
        "ListPodIdentityAssociations" => list(rig, &cluster, parts.uri.query().unwrap_or("")),
        "UpdatePodIdentityAssociation" => {
            let changes = parse_update(&json_body(body)?)?;
            // An unknown association is reported before the role is checked.
            rig.store().describe(&cluster, &id)?;
            if let Some(role) = &changes.role_arn {
                check_role(rig, &cluster, role).await?;
            }
            let association = rig.store().update(&cluster, &id, changes, rig.now())?;
            Ok(json!({ "association": association.to_json() }))
        }
        "DeletePodIdentityAssociation" => {
            let association = rig.store().delete(&cluster, &id)?;
            Ok(json!({ "association": association.to_json() }))
        }
        other => Err(ApiError::new(
            400,
            "InvalidRequestException",
            format!("{other} is not served by the rig"),
        )),
    }
}

fn json_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::invalid_parameter(
            "The request body is not a JSON object.",
        )),
    }
}

fn string_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid_parameter(format!(
            "{name} must be a string."
        ))),
    }
}

fn required(body: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    string_field(body, name)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter(format!("{name} is required.")))
}

fn bool_field(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid_parameter(format!(
            "{name} must be a boolean."
        ))),
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
fn check_role_arn(field: &str, arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
    );
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "{field} {arn} is not a valid IAM role ARN."
        )))
    }
}

/// Tag rules of EKS (`TagMap`: at most 50 tags, keys 1..128 characters not starting with
/// `aws:`, values at most 256): <https://docs.aws.amazon.com/eks/latest/userguide/eks-using-tags.html>.
fn parse_tags(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(tags) = body.get("tags") else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(tags) = tags else {
        return Err(ApiError::invalid_parameter("tags must be a map."));
    };
    if tags.len() > 50 {
        return Err(ApiError::invalid_parameter(
            "An association can have at most 50 tags.",
        ));
    }
    let mut parsed = BTreeMap::new();
    for (key, value) in tags {
        let Value::String(value) = value else {
            return Err(ApiError::invalid_parameter(format!(
                "The value of tag {key} must be a string."
            )));
        };
        if key.is_empty()
            || key.chars().count() > 128
            || key.to_ascii_lowercase().starts_with("aws:")
        {
            return Err(ApiError::invalid_parameter(format!(
                "Tag key {key:?} is not valid: 1 to 128 characters, not starting with aws:."
            )));
        }
        if value.chars().count() > 256 {
            return Err(ApiError::invalid_parameter(format!(
                "The value of tag {key} is longer than 256 characters."
            )));
        }
        parsed.insert(key.clone(), value.clone());
    }
    Ok(parsed)
}

fn parse_create(body: &Map<String, Value>) -> Result<NewAssociation, ApiError> {
    let namespace = required(body, "namespace")?;
    let service_account = required(body, "serviceAccount")?;
    let role_arn = required(body, "roleArn")?;
    check_role_arn("roleArn", &role_arn)?;
    let target_role_arn = string_field(body, "targetRoleArn")?;
    if let Some(target) = &target_role_arn {
        check_role_arn("targetRoleArn", target)?;
    }
    Ok(NewAssociation {
        namespace,
        service_account,
        role_arn,
        tags: parse_tags(body)?,
        disable_session_tags: bool_field(body, "disableSessionTags")?.unwrap_or(false),
        target_role_arn,
        policy: string_field(body, "policy")?,
        client_request_token: string_field(body, "clientRequestToken")?,
    })
}

fn parse_update(body: &Map<String, Value>) -> Result<AssociationChanges, ApiError> {
    let role_arn = string_field(body, "roleArn")?;
    if let Some(role) = &role_arn {
        check_role_arn("roleArn", role)?;
    }
    let target_role_arn = string_field(body, "targetRoleArn")?;
    if let Some(target) = target_role_arn.as_ref().filter(|t| !t.is_empty()) {
        check_role_arn("targetRoleArn", target)?;
    }
    Ok(AssociationChanges {
        role_arn,
        disable_session_tags: bool_field(body, "disableSessionTags")?,
        target_role_arn,
        policy: string_field(body, "policy")?,
    })
}

/// The role must be in the cluster's account, exist, and trust the Pod Identity principal.
async fn check_role(rig: &EksRig, cluster: &Cluster, role_arn: &str) -> Result<(), ApiError> {
    if role_arn.split(':').nth(4) != Some(cluster.account.as_str()) {
        return Err(ApiError::invalid_parameter(format!(
            "Role {role_arn} must be in the cluster's account {}.",
            cluster.account
        ))
        .with_cluster(&cluster.name));
    }
    let trust = rig
        .sources
        .trust_policy(role_arn)
        .await
        .map_err(|e| ApiError::new(500, "ServerException", e))?
        .ok_or_else(|| {
            ApiError::invalid_parameter("Role provided in the request does not exist")
                .with_cluster(&cluster.name)
        })?;
    if trust::names_service(&trust, POD_IDENTITY_SERVICE, "sts:AssumeRole") {
        Ok(())
    } else {
        Err(
            ApiError::invalid_parameter("Trust policy of the role provided is invalid")
                .with_cluster(&cluster.name),
        )
    }
}

/// `maxResults` 1..100 and an opaque `nextToken`; the token is the offset of the next page.
fn list(rig: &EksRig, cluster: &Cluster, query: &str) -> Result<Value, ApiError> {
    let params: BTreeMap<String, String> = query_pairs(query).into_iter().collect();
    let max_results = match params.get("maxResults") {
        None => 100,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!("maxResults {text} is not between 1 and 100."))
                    .with_cluster(&cluster.name)
            })?,
    };
    let start = match params.get("nextToken") {
        None => 0,
        Some(token) => decode_token(token).ok_or_else(|| {
            ApiError::invalid_parameter("The nextToken is not valid.").with_cluster(&cluster.name)
        })?,
    };
    let matching = rig.store().list(
        cluster,
        params.get("namespace").map(String::as_str),
        params.get("serviceAccount").map(String::as_str),
    );
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max_results)
        .map(|a| a.to_summary_json())
        .collect();
    let mut answer = json!({ "associations": page });
    if start + max_results < matching.len() {
        answer["nextToken"] = json!(encode_token(start + max_results));
    }
    Ok(answer)
}

fn encode_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("rig-pia:{offset}"))
}

fn decode_token(token: &str) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    decoded.strip_prefix("rig-pia:")?.parse().ok()
}
