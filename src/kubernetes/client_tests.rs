//! The client against a scripted transport: which requests it sends, and what it makes of the
//! answers (recorded kube-apiserver bodies, throttling, server errors, dropped connections).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::Role;
use kube::client::Body;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::retry::Backoff;

/// One scripted answer: a status with a JSON body and headers, or a dropped connection.
enum Answer {
    Json(u16, serde_json::Value, Vec<(&'static str, &'static str)>),
    Drop,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    content_type: Option<String>,
    body: serde_json::Value,
}

struct Script {
    answers: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<Seen>>,
}

const FAST: Backoff = Backoff::new(
    Duration::from_millis(1),
    Duration::from_millis(5),
    Duration::from_secs(5),
);

fn scripted(answers: Vec<Answer>) -> (KubeClient, Arc<Script>) {
    let script = Arc::new(Script {
        answers: Mutex::new(answers.into()),
        seen: Mutex::new(Vec::new()),
    });
    let handle = script.clone();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let script = handle.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            script.seen.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string()),
                body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            });
            let answer = script
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("a scripted answer for every request");
            match answer {
                Answer::Json(status, body, headers) => {
                    let mut response = http::Response::builder().status(status);
                    for (name, value) in headers {
                        response = response.header(name, value);
                    }
                    Ok::<_, std::io::Error>(
                        response
                            .body(Body::from(serde_json::to_vec(&body).unwrap()))
                            .unwrap(),
                    )
                }
                Answer::Drop => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )),
            }
        }
    });
    let client = kube::Client::new(service, "default");
    (
        KubeClient::new(client, CancellationToken::new()).with_backoff(FAST),
        script,
    )
}

fn status(code: u16, reason: &str, message: &str) -> serde_json::Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn service_account(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
           "metadata": {"name": name, "namespace": "ci-runner", "uid": "u-1", "resourceVersion": "7"}})
}

#[tokio::test]
async fn get_opt_reads_an_object_and_maps_not_found_to_none() {
    let (client, script) = scripted(vec![
        Answer::Json(200, service_account("gitlab-runner"), vec![]),
        Answer::Json(
            404,
            status(404, "NotFound", "serviceaccounts \"missing\" not found"),
            vec![],
        ),
    ]);
    let found: Option<ServiceAccount> = client.get_opt("ci-runner", "gitlab-runner").await.unwrap();
    assert_eq!(found.unwrap().metadata.uid.as_deref(), Some("u-1"));
    let missing: Option<ServiceAccount> = client.get_opt("ci-runner", "missing").await.unwrap();
    assert!(missing.is_none());
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].uri,
        "/api/v1/namespaces/ci-runner/serviceaccounts/gitlab-runner"
    );
}

#[tokio::test]
async fn create_posts_with_field_manager_and_reports_already_exists() {
    let (client, script) = scripted(vec![Answer::Json(
        409,
        status(
            409,
            "AlreadyExists",
            "serviceaccounts \"gitlab-runner\" already exists",
        ),
        vec![],
    )]);
    let sa: ServiceAccount = serde_json::from_value(service_account("gitlab-runner")).unwrap();
    let error = client.create("ci-runner", &sa).await.unwrap_err();
    assert!(error.is_already_exists());
    assert_eq!(
        error.to_string(),
        "create ServiceAccount ci-runner/gitlab-runner failed (409 AlreadyExists): \
         serviceaccounts \"gitlab-runner\" already exists"
    );
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "a conflict is not retried");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].uri,
        "/api/v1/namespaces/ci-runner/serviceaccounts?&fieldManager=terraform-provider-gitlabrunner"
    );
    assert_eq!(seen[0].body["metadata"]["name"], "gitlab-runner");
}

#[tokio::test]
async fn throttling_is_retried_after_the_wait_the_server_asks_for() {
    let (client, script) = scripted(vec![
        Answer::Json(
            429,
            status(429, "TooManyRequests", "slow down"),
            vec![("Retry-After", "1")],
        ),
        Answer::Json(200, service_account("gitlab-runner"), vec![]),
    ]);
    let started = std::time::Instant::now();
    let found: Option<ServiceAccount> = client.get_opt("ci-runner", "gitlab-runner").await.unwrap();
    assert!(found.is_some());
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(script.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried() {
    let (client, script) = scripted(vec![
        Answer::Json(500, status(500, "InternalError", "etcd timeout"), vec![]),
        Answer::Drop,
        Answer::Json(
            201,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                                  "metadata": {"name": "r", "namespace": "ci-jobs"}}),
            vec![],
        ),
    ]);
    let role: Role = serde_json::from_value(
        json!({"metadata": {"name": "r", "namespace": "ci-jobs"}, "rules": []}),
    )
    .unwrap();
    client.create("ci-jobs", &role).await.unwrap();
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(
        seen[2]
            .uri
            .starts_with("/apis/rbac.authorization.k8s.io/v1/namespaces/ci-jobs/roles?")
    );
}

#[tokio::test]
async fn retries_are_bounded() {
    let answers = (0..200)
        .map(|_| Answer::Json(503, status(503, "ServiceUnavailable", "down"), vec![]))
        .collect();
    let (client, _script) = scripted(answers);
    let client = client.with_backoff(Backoff::new(
        Duration::from_millis(1),
        Duration::from_millis(2),
        Duration::from_millis(50),
    ));
    let error = client
        .get_opt::<ServiceAccount>("ci-runner", "x")
        .await
        .unwrap_err();
    assert_eq!(error.kind, KubeErrorKind::Unavailable);
}

#[tokio::test]
async fn forbidden_is_not_retried_and_keeps_the_server_message() {
    let message = "serviceaccounts is forbidden: User \"dev-user\" cannot create resource \
                   \"serviceaccounts\" in API group \"\" in the namespace \"ci-runner\"";
    let (client, script) = scripted(vec![Answer::Json(
        403,
        status(403, "Forbidden", message),
        vec![],
    )]);
    let sa: ServiceAccount = serde_json::from_value(service_account("gitlab-runner")).unwrap();
    let error = client.create("ci-runner", &sa).await.unwrap_err();
    assert_eq!(error.kind, KubeErrorKind::Forbidden);
    assert_eq!(error.message, message);
    assert_eq!(script.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn merge_patch_and_apply_use_their_content_types() {
    let (client, script) = scripted(vec![
        Answer::Json(200, service_account("gitlab-runner"), vec![]),
        Answer::Json(200, service_account("gitlab-runner"), vec![]),
    ]);
    let _: ServiceAccount = client
        .merge_patch(
            "ci-runner",
            "gitlab-runner",
            &json!({"metadata": {"annotations": {"a": null}}}),
        )
        .await
        .unwrap();
    let _: ServiceAccount = client
        .apply(
            "ci-runner",
            "gitlab-runner",
            &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "gitlab-runner"}}),
            true,
        )
        .await
        .unwrap();
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        seen[0].body["metadata"]["annotations"]["a"],
        serde_json::Value::Null
    );
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert!(
        seen[1]
            .uri
            .contains("fieldManager=terraform-provider-gitlabrunner")
    );
    assert!(seen[1].uri.contains("force=true"));
}

#[tokio::test]
async fn delete_sends_the_uid_precondition_and_treats_gone_as_done() {
    let (client, script) = scripted(vec![
        Answer::Json(200, service_account("gitlab-runner"), vec![]),
        Answer::Json(404, status(404, "NotFound", "not found"), vec![]),
        Answer::Json(
            409,
            status(
                409,
                "Conflict",
                "Precondition failed: UID in precondition: u-1, UID in object meta: u-2",
            ),
            vec![],
        ),
    ]);
    assert!(
        client
            .delete::<ServiceAccount>("ci-runner", "gitlab-runner", Some("u-1"))
            .await
            .unwrap()
    );
    assert!(
        !client
            .delete::<ServiceAccount>("ci-runner", "gitlab-runner", None)
            .await
            .unwrap()
    );
    let error = client
        .delete::<ServiceAccount>("ci-runner", "gitlab-runner", Some("u-1"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, KubeErrorKind::Conflict);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].method, "DELETE");
    assert_eq!(seen[0].body["preconditions"]["uid"], "u-1");
}

#[tokio::test]
async fn token_request_returns_the_minted_token() {
    let (client, script) = scripted(vec![Answer::Json(
        201,
        json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"name": "gitlab-runner", "namespace": "ci-runner"},
               "spec": {"audiences": ["sts.amazonaws.com"], "expirationSeconds": 600},
               "status": {"token": "eyJ.x.y", "expirationTimestamp": "2024-01-01T00:00:00Z"}}),
        vec![],
    )]);
    let token = client
        .create_token(
            "ci-runner",
            "gitlab-runner",
            &["sts.amazonaws.com".into()],
            600,
        )
        .await
        .unwrap();
    assert_eq!(token, "eyJ.x.y");
    let seen = script.seen.lock().unwrap();
    assert!(
        seen[0]
            .uri
            .starts_with("/api/v1/namespaces/ci-runner/serviceaccounts/gitlab-runner/token")
    );
    assert_eq!(seen[0].body["spec"]["audiences"][0], "sts.amazonaws.com");
    assert_eq!(seen[0].body["spec"]["expirationSeconds"], 600);
}

#[tokio::test]
async fn cancellation_stops_the_retry_wait() {
    let (client, _script) = scripted(vec![Answer::Json(
        429,
        status(429, "TooManyRequests", "slow down"),
        vec![("Retry-After", "2")],
    )]);
    let cancel = CancellationToken::new();
    let client = KubeClient {
        cancel: cancel.clone(),
        ..client
    };
    cancel.cancel();
    let error = client
        .get_opt::<ServiceAccount>("ci-runner", "x")
        .await
        .unwrap_err();
    assert_eq!(error.kind, KubeErrorKind::Cancelled);
}

#[tokio::test]
async fn list_all_selects_by_label_across_namespaces() {
    let (client, script) = scripted(vec![Answer::Json(
        200,
        json!({"kind": "RoleBindingList", "apiVersion": "rbac.authorization.k8s.io/v1",
               "metadata": {"resourceVersion": "9"},
               "items": [{"metadata": {"name": "b", "namespace": "ci-jobs"},
                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "b"}}]}),
        vec![],
    )]);
    let items: Vec<k8s_openapi::api::rbac::v1::RoleBinding> = client
        .list_all(
            "app.kubernetes.io/managed-by",
            "terraform-provider-gitlabrunner",
        )
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].uri,
        "/apis/rbac.authorization.k8s.io/v1/rolebindings?&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dterraform-provider-gitlabrunner"
    );
}

/// The recorded kube-apiserver v1.28.7 exchanges (`../shared/kube-conformance`).
fn recorded(scenario: &str, step: usize) -> (u16, serde_json::Value) {
    let text = match scenario {
        "serviceaccount-crud" => {
            include_str!("../../../shared/kube-conformance/serviceaccount-crud.json")
        }
        "token-request" => include_str!("../../../shared/kube-conformance/token-request.json"),
        "role-and-rolebinding" => {
            include_str!("../../../shared/kube-conformance/role-and-rolebinding.json")
        }
        other => panic!("no scenario {other}"),
    };
    let scenario: serde_json::Value = serde_json::from_str(&denormalise(text)).unwrap();
    let response = &scenario["steps"][step]["response"];
    (
        response["status"].as_u64().unwrap() as u16,
        response["body"].clone(),
    )
}

#[tokio::test]
async fn recorded_api_server_answers_are_classified() {
    let answers = [
        (
            "serviceaccount-crud",
            3,
            KubeErrorKind::AlreadyExists,
            "already exists",
        ),
        (
            "serviceaccount-crud",
            4,
            KubeErrorKind::NotFound,
            "namespaces \"ci-missing\" not found",
        ),
        (
            "serviceaccount-crud",
            5,
            KubeErrorKind::Invalid,
            "Invalid value",
        ),
        (
            "serviceaccount-crud",
            26,
            KubeErrorKind::Conflict,
            "the UID in the precondition",
        ),
    ];
    for (scenario, step, kind, message) in answers {
        let (status, body) = recorded(scenario, step);
        let (client, _) = scripted(vec![Answer::Json(status, body, vec![])]);
        let sa: ServiceAccount = serde_json::from_value(service_account("gitlab-runner")).unwrap();
        let error = client.create("ci-runner", &sa).await.unwrap_err();
        assert_eq!(error.kind, kind, "{scenario} step {step}: {error}");
        assert!(
            error.message.contains(message),
            "{scenario} step {step}: {error}"
        );
    }
}

#[tokio::test]
async fn recorded_token_request_response_yields_the_token() {
    let (status, body) = recorded("token-request", 2);
    let (client, _) = scripted(vec![Answer::Json(status, body, vec![])]);
    let token = client
        .create_token(
            "ci-runner",
            "gitlab-runner",
            &["sts.amazonaws.com".into()],
            3600,
        )
        .await
        .unwrap();
    assert_eq!(token, "<jwt>", "the recording normalised the JWT");
}

#[tokio::test]
async fn recorded_role_and_role_binding_bodies_parse() {
    let scenario: serde_json::Value = serde_json::from_str(&denormalise(include_str!(
        "../../../shared/kube-conformance/role-and-rolebinding.json"
    )))
    .unwrap();
    let mut parsed = 0;
    for step in scenario["steps"].as_array().unwrap() {
        let response = &step["response"];
        match response["body"]["kind"].as_str() {
            Some("Role") => {
                let _: Role = serde_json::from_value(response["body"].clone()).unwrap();
                parsed += 1;
            }
            Some("RoleBinding") => {
                let _: k8s_openapi::api::rbac::v1::RoleBinding =
                    serde_json::from_value(response["body"].clone()).unwrap();
                parsed += 1;
            }
            _ => {}
        }
    }
    assert!(parsed >= 4, "{parsed}");
    let _ = recorded("role-and-rolebinding", 0);
}

/// The recordings replace timestamps with a placeholder; put a real one back so that typed
/// objects parse.
fn denormalise(text: &str) -> String {
    text.replace("\"<timestamp>\"", "\"2024-01-01T00:00:00Z\"")
}
