//! A narrow Kubernetes client: the verbs this provider needs on namespaced built-in kinds, with
//! NotFound as `None`, every failure classified as a [`KubeError`], and bounded retries of
//! throttling (honouring `Retry-After`), server errors and dropped connections.
//!
//! Requests go through [`kube::Client::send`] so that status codes and headers stay visible;
//! request paths and query strings are built by `kube::core::Request`.

use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use kube::core::ObjectList;
use kube::core::Request;
use kube::core::params::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::error::{FieldConflict, KubeError, KubeErrorKind};
use crate::retry::{Backoff, RetryError, retry};

/// The field manager this provider writes as (create, update, patch and server-side apply).
pub const FIELD_MANAGER: &str = "terraform-provider-gitlabrunner";

/// How long and how often a failed request is retried: throttling, 5xx and transport failures.
pub const KUBE_RETRY: Backoff = Backoff::new(
    Duration::from_millis(200),
    Duration::from_secs(3),
    Duration::from_secs(30),
);

/// How long one attempt may take before it counts as a transport failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A namespaced built-in kind this client can read and write.
pub trait NamespacedObject:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
{
}

impl<K> NamespacedObject for K where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
{
}

/// The client, bound to the cancellation signal of one operation.
#[derive(Clone)]
pub struct KubeClient {
    pub(super) client: kube::Client,
    pub(super) cancel: CancellationToken,
    pub(super) backoff: Backoff,
}

/// A Kubernetes error response body (`Status`); only what diagnostics need.
#[derive(serde::Deserialize, Default)]
struct StatusBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    details: Option<StatusDetails>,
}

/// `Status.details`: only the causes' reasons, which tell a terminating namespace from RBAC.
#[derive(serde::Deserialize, Default)]
struct StatusDetails {
    #[serde(default)]
    causes: Vec<StatusCause>,
}

/// One `Status.details.causes[]` entry.
#[derive(serde::Deserialize, Default)]
struct StatusCause {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    field: String,
}

impl KubeClient {
    /// A client that stops retrying when `cancel` fires.
    pub fn new(client: kube::Client, cancel: CancellationToken) -> KubeClient {
        KubeClient {
            client,
            cancel,
            backoff: KUBE_RETRY,
        }
    }

    /// The same client with another retry budget (tests use a short one).
    pub fn with_backoff(mut self, backoff: Backoff) -> KubeClient {
        self.backoff = backoff;
        self
    }

    /// Reads `namespace/name`; `None` when it does not exist.
    pub async fn get_opt<K: NamespacedObject>(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<K>, KubeError> {
        let operation = describe::<K>("get", namespace, name);
        let request = Request::new(K::url_path(&(), Some(namespace)));
        match self
            .execute(&operation, || request.get(name, &Default::default()))
            .await
        {
            Ok(body) => parse(&operation, &body).map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Lists the objects in every namespace that carry the label `key=value`.
    pub async fn list_all<K: NamespacedObject + Clone>(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<K>, KubeError> {
        let operation = format!("list {} with {key}={value}", K::kind(&()));
        let request = Request::new(K::url_path(&(), None));
        let params = ListParams::default().labels(&format!("{key}={value}"));
        let body = self.execute(&operation, || request.list(&params)).await?;
        let list: ObjectList<K> = parse(&operation, &body)?;
        Ok(list.items)
    }

    /// Creates `object` in `namespace`. An existing object of that name is an error of kind
    /// [`KubeErrorKind::AlreadyExists`]; a missing namespace one of kind `NotFound`.
    pub async fn create<K: NamespacedObject>(
        &self,
        namespace: &str,
        object: &K,
    ) -> Result<K, KubeError> {
        let name = object.meta().name.clone().unwrap_or_default();
        let operation = describe::<K>("create", namespace, &name);
        let body = to_json(&operation, object)?;
        let request = Request::new(K::url_path(&(), Some(namespace)));
        let params = post_params();
        let response = self
            .execute(&operation, || request.create(&params, body.clone()))
            .await?;
        parse(&operation, &response)
    }

    /// Replaces `namespace/name` with `object` (PUT). Without `metadata.resourceVersion` the
    /// write is unconditional.
    pub async fn replace<K: NamespacedObject>(
        &self,
        namespace: &str,
        name: &str,
        object: &K,
    ) -> Result<K, KubeError> {
        let operation = describe::<K>("update", namespace, name);
        let body = to_json(&operation, object)?;
        let request = Request::new(K::url_path(&(), Some(namespace)));
        let params = post_params();
        let response = self
            .execute(&operation, || request.replace(name, &params, body.clone()))
            .await?;
        parse(&operation, &response)
    }

    /// Applies a JSON merge patch (RFC 7386) to `namespace/name`: `null` removes a key.
    pub async fn merge_patch<K: NamespacedObject>(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<K, KubeError> {
        self.merge_patch_as(namespace, name, patch, FIELD_MANAGER)
            .await
    }

    /// [`KubeClient::merge_patch`] recorded under the field manager `manager`: how a field
    /// taken over with a forced server-side apply is given back, with its value, to the
    /// manager it was taken from.
    pub async fn merge_patch_as<K: NamespacedObject>(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
        manager: &str,
    ) -> Result<K, KubeError> {
        let operation = describe::<K>("patch", namespace, name);
        let request = Request::new(K::url_path(&(), Some(namespace)));
        let params = PatchParams {
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        };
        let patch = Patch::Merge(patch);
        let response = self
            .execute(&operation, || request.patch(name, &params, &patch))
            .await?;
        parse(&operation, &response)
    }

    /// Server-side apply of `object` (a full intent: `apiVersion`, `kind`, `metadata.name` and
    /// the fields this manager owns) as [`FIELD_MANAGER`]. Fields this manager owned before and
    /// `object` leaves out are removed unless another manager also owns them.
    pub async fn apply<K: NamespacedObject>(
        &self,
        namespace: &str,
        name: &str,
        object: &serde_json::Value,
        force: bool,
    ) -> Result<K, KubeError> {
        let operation = describe::<K>("apply", namespace, name);
        let request = Request::new(K::url_path(&(), Some(namespace)));
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            force,
            ..PatchParams::default()
        };
        let patch = Patch::Apply(object);
        let response = self
            .execute(&operation, || request.patch(name, &params, &patch))
            .await?;
        parse(&operation, &response)
    }

    /// Deletes `namespace/name`, only if its uid is `uid` when given (else the server answers
    /// 409 `Conflict`). `Ok(false)` when it was already gone.
    pub async fn delete<K: NamespacedObject>(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<bool, KubeError> {
        let operation = describe::<K>("delete", namespace, name);
        let request = Request::new(K::url_path(&(), Some(namespace)));
        let params = DeleteParams {
            preconditions: uid.map(|uid| Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self
            .execute(&operation, || request.delete(name, &params))
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.is_not_found() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Mints a token for the ServiceAccount `namespace/name` (TokenRequest) with the given
    /// audiences and lifetime (at least 600 s).
    pub async fn create_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        expiration_seconds: i64,
    ) -> Result<String, KubeError> {
        use k8s_openapi::api::core::v1::ServiceAccount;
        let operation = format!("create token for ServiceAccount {namespace}/{name}");
        let token_request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.to_vec(),
                expiration_seconds: Some(expiration_seconds),
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let body = to_json(&operation, &token_request)?;
        let request = Request::new(<ServiceAccount as kube::Resource>::url_path(
            &(),
            Some(namespace),
        ));
        let params = PostParams::default();
        let response = self
            .execute(&operation, || {
                request.create_subresource("token", name, &params, body.clone())
            })
            .await?;
        let minted: TokenRequest = parse(&operation, &response)?;
        minted
            .status
            .map(|status| status.token)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                KubeError::new(
                    operation,
                    KubeErrorKind::Other,
                    "the TokenRequest response carries no token",
                )
            })
    }

    /// Reads a non-resource path such as `/.well-known/openid-configuration` or
    /// `/openid/v1/jwks` as JSON, sending `accept` (the API server serves the JWKS only to
    /// `Accept: application/jwk-set+json`, 406 otherwise); `None` on 404.
    pub async fn get_json(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<Option<serde_json::Value>, KubeError> {
        let operation = format!("GET {path}");
        let build = || {
            http::Request::get(path)
                .header(http::header::ACCEPT, accept)
                .body(Vec::new())
                .map_err(kube::core::request::Error::BuildRequest)
        };
        match self.execute(&operation, build).await {
            Ok(body) => parse(&operation, &body).map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sends the request `build` makes, retrying transient failures within the budget.
    async fn execute(
        &self,
        operation: &str,
        build: impl Fn() -> Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Vec<u8>, KubeError> {
        let attempt = || async {
            let request = build()
                .map_err(|e| KubeError::new(operation, KubeErrorKind::Invalid, e.to_string()))?;
            self.send_once(operation, request).await
        };
        let retryable = |error: &KubeError| error.is_transient().then_some(error.retry_after);
        retry(self.backoff, &self.cancel, attempt, retryable)
            .await
            .map_err(|error| match error {
                RetryError::Failed(error) => error,
                RetryError::Cancelled => KubeError::new(
                    operation,
                    KubeErrorKind::Cancelled,
                    "cancelled by Terraform (StopProvider) while waiting to retry",
                ),
            })
    }

    async fn send_once(
        &self,
        operation: &str,
        request: http::Request<Vec<u8>>,
    ) -> Result<Vec<u8>, KubeError> {
        let request = request.map(kube::client::Body::from);
        let response = match tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.send(request)).await
        {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err(KubeError::transport(operation, error)),
            Err(_) => {
                return Err(KubeError::new(
                    operation,
                    KubeErrorKind::Unavailable,
                    format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
                ));
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .into_body()
            .collect_bytes()
            .await
            .map_err(|error| KubeError::transport(operation, error))?;
        if (200..300).contains(&status) {
            return Ok(body.to_vec());
        }
        let parsed: StatusBody = serde_json::from_slice(&body).unwrap_or_default();
        let conflicts = parsed
            .details
            .iter()
            .flat_map(|d| d.causes.iter())
            .filter(|c| c.reason == "FieldManagerConflict")
            .filter_map(|c| FieldConflict::from_cause(&c.message, &c.field))
            .collect();
        let cause_reasons: Vec<String> = parsed
            .details
            .map(|details| details.causes.into_iter().map(|c| c.reason).collect())
            .unwrap_or_default();
        let message = parsed.message.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body).trim().to_string();
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text
            }
        });
        Err(KubeError::from_response(
            operation,
            status,
            parsed.reason.filter(|r| !r.is_empty()),
            message,
            retry_after,
        )
        .with_conflicts(conflicts)
        .with_causes(&cause_reasons))
    }
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    }
}

fn describe<K: NamespacedObject>(verb: &str, namespace: &str, name: &str) -> String {
    format!("{verb} {} {namespace}/{name}", K::kind(&()))
}

fn to_json<T: Serialize>(operation: &str, value: &T) -> Result<Vec<u8>, KubeError> {
    serde_json::to_vec(value)
        .map_err(|e| KubeError::new(operation, KubeErrorKind::Invalid, e.to_string()))
}

fn parse<T: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<T, KubeError> {
    serde_json::from_slice(body).map_err(|e| {
        KubeError::new(
            operation,
            KubeErrorKind::Other,
            format!("the response could not be read: {e}"),
        )
    })
}
