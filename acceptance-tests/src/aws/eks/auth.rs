//! EKS Auth `AssumeRoleForPodIdentity`, what the EKS Pod Identity Agent calls with a pod's
//! service-account token (<https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html>):
//!
//! | check, in order | refusal |
//! |---|---|
//! | the body has a `token` of the documented pattern | 400 `InvalidParameterException` |
//! | the cluster is known | 404 `ResourceNotFoundException` |
//! | the token is a JWS whose signature verifies with the cluster's JWKS (found through its issuer's discovery document) | 400 `InvalidTokenException` |
//! | `aud` holds `pods.eks.amazonaws.com` | 400 `InvalidTokenException` |
//! | `exp` is in the future | 400 `ExpiredTokenException` |
//! | `sub` is `system:serviceaccount:NS:SA` | 400 `InvalidTokenException` |
//! | an association exists for (cluster, NS, SA) | 404 `ResourceNotFoundException` |
//! | the role's trust allows the `Service` `pods.eks.amazonaws.com` `sts:AssumeRole` and (with session tags) `sts:TagSession`, with the session tags as `aws:RequestTag/KEY`, `aws:SourceAccount` and `aws:SourceArn` (the cluster's) | 400 `AccessDeniedException` |
//!
//! Then the emulator's STS `AssumeRole` (with the session tags) gives the credentials. The
//! session tags EKS passes
//! (<https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html#pod-id-abac-tags>): `eks-cluster-arn`,
//! `eks-cluster-name`, `kubernetes-namespace`, `kubernetes-service-account`, and
//! `kubernetes-pod-name`, `kubernetes-pod-uid` when the token names a pod; none when the
//! association has `disableSessionTags`. Error statuses are those of the EKS Auth API model
//! (`AccessDeniedException`, `ExpiredTokenException`, `InvalidTokenException`,
//! `InvalidParameterException` 400; `ResourceNotFoundException` 404;
//! `InternalServerException` 500).

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::{Value, json};

use super::rest::{ApiError, json_response};
use super::{AssumeRoleCall, Cluster, EksRig, POD_IDENTITY_SERVICE};
use crate::aws::web_identity::issuer_jwks;
use crate::aws::web_identity::token::Jws;
use crate::aws::web_identity::trust;

/// The audience EKS Auth requires of a token.
pub const AUDIENCE: &str = POD_IDENTITY_SERVICE;

/// The messages the rig answers with.
pub mod messages {
    /// `InvalidTokenException` for a token that does not verify.
    pub const INVALID_TOKEN: &str = "Failed to validate the service account token.";
    /// `InvalidTokenException` for the wrong audience.
    pub const WRONG_AUDIENCE: &str =
        "The service account token does not have the audience pods.eks.amazonaws.com.";
    /// `ExpiredTokenException`.
    pub const EXPIRED: &str = "The service account token has expired.";
}

/// The answer to `AssumeRoleForPodIdentity` for `cluster_name`, signed for `region`.
pub async fn answer(
    rig: &EksRig,
    cluster_name: &str,
    region: Option<&str>,
    body: &[u8],
) -> Response<Full<Bytes>> {
    match assume(rig, cluster_name, region, body).await {
        Ok((value, call)) => {
            rig.auth_log().push(Ok(call));
            json_response(200, &value)
        }
        Err(error) => {
            rig.auth_log().push(Err(error.clone()));
            error.response()
        }
    }
}

fn invalid_token(message: &str) -> ApiError {
    ApiError::new(400, "InvalidTokenException", message)
}

/// `[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+`, the token pattern of the reference.
fn matches_token_pattern(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        })
}

async fn assume(
    rig: &EksRig,
    cluster_name: &str,
    region: Option<&str>,
    body: &[u8],
) -> Result<(Value, AssumeRoleCall), ApiError> {
    let token = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string))
        .filter(|t| matches_token_pattern(t))
        .ok_or_else(|| {
            ApiError::invalid_parameter("token is required and must be a service account token.")
        })?;
    let cluster = rig
        .cluster_in(cluster_name, region)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                404,
                "ResourceNotFoundException",
                format!("No cluster found for name: {cluster_name}."),
            )
        })?;
    let jws = Jws::parse(&token).ok_or_else(|| invalid_token(messages::INVALID_TOKEN))?;
    verify_signature(rig, &jws).await?;
    if !jws.audiences().iter().any(|aud| aud == AUDIENCE) {
        return Err(invalid_token(messages::WRONG_AUDIENCE));
    }
    let now = rig.now();
    let expired = jws
        .claims
        .get("exp")
        .and_then(Value::as_f64)
        .is_none_or(|exp| now >= exp);
    if expired {
        return Err(ApiError::new(
            400,
            "ExpiredTokenException",
            messages::EXPIRED,
        ));
    }
    let subject = jws.claim("sub").unwrap_or_default();
    let (namespace, service_account) = subject
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, sa)| !ns.is_empty() && !sa.is_empty() && !sa.contains(':'))
        .ok_or_else(|| {
            invalid_token("The token's subject is not system:serviceaccount:NAMESPACE:NAME.")
        })?;
    let association = rig
        .store()
        .for_subject(&cluster.name, namespace, service_account)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                404,
                "ResourceNotFoundException",
                format!(
                    "No Pod Identity association found for service account {namespace}/{service_account} in cluster {}.",
                    cluster.name
                ),
            )
        })?;
    let tags = if association.disable_session_tags {
        Vec::new()
    } else {
        session_tags(&cluster, namespace, service_account, &jws)
    };
    let denied = || {
        ApiError::new(
            400,
            "AccessDeniedException",
            format!(
                "Not authorized to perform sts:AssumeRole{} on {}: the role's trust policy does not allow {POD_IDENTITY_SERVICE} with these session tags.",
                if tags.is_empty() {
                    ""
                } else {
                    " and sts:TagSession"
                },
                association.role_arn
            ),
        )
    };
    let policy = rig
        .sources
        .trust_policy(&association.role_arn)
        .await
        .map_err(|e| ApiError::new(500, "InternalServerException", e))?
        .ok_or_else(denied)?;
    if !trust::admits_service(&policy, &trust_request(&cluster, &tags)) {
        return Err(denied());
    }
    let call = AssumeRoleCall {
        role_arn: association.role_arn.clone(),
        session_name: session_name(&cluster, &jws, service_account),
        tags,
    };
    let credentials = rig
        .sources
        .assume_role(&call)
        .await
        .map_err(|(code, message)| match code.as_str() {
            "AccessDenied" => ApiError::new(400, "AccessDeniedException", message),
            _ => ApiError::new(
                500,
                "InternalServerException",
                format!("STS AssumeRole: {code}: {message}"),
            ),
        })?;
    let answer = json!({
        "subject": { "namespace": namespace, "serviceAccount": service_account },
        "audience": AUDIENCE,
        "podIdentityAssociation": {
            "associationArn": association.association_arn,
            "associationId": association.association_id,
        },
        "assumedRoleUser": {
            "arn": credentials.assumed_role_arn,
            "assumeRoleId": credentials.assumed_role_id,
        },
        "credentials": {
            "sessionToken": credentials.session_token,
            "secretAccessKey": credentials.secret_access_key,
            "accessKeyId": credentials.access_key_id,
            "expiration": credentials.expiration,
        },
    });
    Ok((answer, call))
}

/// The signature must verify with a key of the JWKS the token's issuer serves (only the
/// cluster's issuer can be fetched by the rig's sources).
async fn verify_signature(rig: &EksRig, jws: &Jws) -> Result<(), ApiError> {
    let unverifiable = || invalid_token(messages::INVALID_TOKEN);
    let unavailable = |e: String| ApiError::new(500, "InternalServerException", e);
    let issuer = jws.claim("iss").ok_or_else(unverifiable)?;
    let jwks = issuer_jwks(rig.sources.as_ref(), issuer)
        .await
        .map_err(unavailable)?
        .ok_or_else(unverifiable)?;
    match jws.verifies_with(&jwks) {
        Some(true) => Ok(()),
        _ => Err(unverifiable()),
    }
}

/// The session tags EKS passes for the token's pod.
pub fn session_tags(
    cluster: &Cluster,
    namespace: &str,
    service_account: &str,
    jws: &Jws,
) -> Vec<(String, String)> {
    let mut tags = vec![
        ("eks-cluster-arn".to_string(), cluster.arn()),
        ("eks-cluster-name".to_string(), cluster.name.clone()),
        ("kubernetes-namespace".to_string(), namespace.to_string()),
        (
            "kubernetes-service-account".to_string(),
            service_account.to_string(),
        ),
    ];
    let pod = jws.claims.get("kubernetes.io").and_then(|k| k.get("pod"));
    let pod_field = |name: &str| pod.and_then(|p| p.get(name)).and_then(Value::as_str);
    if let (Some(name), Some(uid)) = (pod_field("name"), pod_field("uid")) {
        tags.push(("kubernetes-pod-name".to_string(), name.to_string()));
        tags.push(("kubernetes-pod-uid".to_string(), uid.to_string()));
    }
    tags
}

/// What the trust policy sees: the service principal, the actions, and the context keys.
fn trust_request(cluster: &Cluster, tags: &[(String, String)]) -> trust::ServiceRequest {
    let mut actions = vec!["sts:AssumeRole".to_string()];
    if !tags.is_empty() {
        actions.push("sts:TagSession".to_string());
    }
    let mut context: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| (format!("aws:RequestTag/{k}"), v.clone()))
        .collect();
    context.push(("aws:SourceAccount".to_string(), cluster.account.clone()));
    context.push(("aws:SourceArn".to_string(), cluster.arn()));
    trust::ServiceRequest {
        service: POD_IDENTITY_SERVICE.to_string(),
        actions,
        context,
    }
}

/// `eks-CLUSTER-POD-RANDOM` (the service account when the token names no pod), cut to STS's
/// 64 characters of `[\w+=,.@-]`.
fn session_name(cluster: &Cluster, jws: &Jws, service_account: &str) -> String {
    let pod = jws
        .claims
        .get("kubernetes.io")
        .and_then(|k| k.get("pod"))
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(service_account);
    let suffix = format!("{:08x}", fastrand::u32(..));
    let head: String = format!("eks-{}-{pod}", cluster.name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64 - suffix.len() - 1)
        .collect();
    format!("{head}-{suffix}")
}
