//! Fault injection, latency injection, the request log, reset and the `/__emulator/`
//! admin endpoints.

mod common;

use std::time::{Duration, Instant};

use common::Client;
use kube_emulator::{Emulator, EmulatorConfig, Fault, Latency};
use serde_json::{Value, json};

async fn start() -> (Emulator, Client, String) {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::new(emulator.url(), emulator.ca_pem());
    let token = emulator.admin_token().to_string();
    (emulator, client, token)
}

fn service_account(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
}

async fn create_sa(client: &Client, token: &str, name: &str) -> u16 {
    client
        .json(
            "POST",
            "/api/v1/namespaces/default/serviceaccounts",
            token,
            &service_account(name),
        )
        .await
        .expect("response")
        .status
}

#[tokio::test]
async fn status_fault_fails_only_the_nth_matching_request() {
    let (emulator, client, token) = start().await;
    emulator.add_fault(Fault::status("POST", "/api/v1/namespaces/*/serviceaccounts", 500).nth(2));
    let statuses = [
        create_sa(&client, &token, "a").await,
        create_sa(&client, &token, "b").await,
        create_sa(&client, &token, "c").await,
    ];
    assert_eq!(statuses, [201, 500, 201]);
    let log = emulator.requests();
    assert_eq!(log[1].user.as_deref(), Some("admin"));
    assert!(log[1].fault.is_some());
    let b = client
        .get("/api/v1/namespaces/default/serviceaccounts/b", &token)
        .await
        .expect("get");
    assert_eq!(b.status, 404, "a failed request must not be processed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn too_many_requests_fault_carries_retry_after_and_a_status_body() {
    let (emulator, client, token) = start().await;
    emulator.add_fault(Fault::too_many_requests("GET", "/api/v1/namespaces/*", 3).times(2));
    for _ in 0..2 {
        let r = client
            .get("/api/v1/namespaces/default", &token)
            .await
            .expect("response");
        assert_eq!(r.status, 429);
        assert_eq!(r.retry_after.as_deref(), Some("3"));
        let body = r.json();
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "TooManyRequests");
        assert_eq!(body["details"]["retryAfterSeconds"], 3);
    }
    let r = client
        .get("/api/v1/namespaces/default", &token)
        .await
        .expect("response");
    assert_eq!(r.status, 200);
    emulator.clear_faults();
    emulator.shutdown().await;
}

#[tokio::test]
async fn conflict_and_forbidden_faults_answer_with_their_reasons() {
    let (emulator, client, token) = start().await;
    emulator.add_fault(Fault::status("PUT", "/**", 409));
    emulator.add_fault(Fault::status("DELETE", "/**", 403));
    let put = client
        .json(
            "PUT",
            "/api/v1/namespaces/default/serviceaccounts/default",
            &token,
            &service_account("default"),
        )
        .await
        .expect("put");
    assert_eq!(
        (put.status, put.json()["reason"].clone()),
        (409, json!("Conflict"))
    );
    let del = client
        .send(
            "DELETE",
            "/api/v1/namespaces/default/serviceaccounts/default",
            &[("Authorization", format!("Bearer {token}"))],
            None,
        )
        .await
        .expect("delete");
    assert_eq!(
        (del.status, del.json()["reason"].clone()),
        (403, json!("Forbidden"))
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_fault_closes_without_a_response() {
    let (emulator, client, token) = start().await;
    emulator.add_fault(Fault::drop_connection("*", "/version"));
    assert!(client.get("/version", &token).await.is_err());
    assert_eq!(
        client.get("/version", &token).await.expect("second").status,
        200
    );
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 200]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn delay_fault_holds_the_request_before_processing_it() {
    let (emulator, client, token) = start().await;
    emulator.add_fault(Fault::delay(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts",
        400,
    ));
    let pending = {
        let client = client.clone();
        let token = token.clone();
        tokio::spawn(async move { create_sa(&client, &token, "slow").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let early = client
        .get("/api/v1/namespaces/default/serviceaccounts/slow", &token)
        .await
        .expect("get");
    assert_eq!(early.status, 404, "not processed while delayed");
    assert_eq!(pending.await.expect("join"), 201);
    emulator.shutdown().await;
}

#[tokio::test]
async fn delay_response_fault_processes_first_and_answers_late() {
    let (emulator, client, token) = start().await;
    emulator.add_fault(Fault::delay_response(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts",
        5_000,
    ));
    let pending = {
        let client = client.clone();
        let token = token.clone();
        tokio::spawn(async move { create_sa(&client, &token, "late").await })
    };
    let mut seen = false;
    for _ in 0..100 {
        let r = client
            .get("/api/v1/namespaces/default/serviceaccounts/late", &token)
            .await
            .expect("get");
        if r.status == 200 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the object exists before the response is sent");
    assert!(!pending.is_finished());
    pending.abort();
    emulator.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_to_every_request_and_intervals_overlap_when_concurrent() {
    let (emulator, client, token) = start().await;
    emulator.set_latency(Latency::fixed(200));
    let started = Instant::now();
    let (a, b) = tokio::join!(
        client.get("/version", &token),
        client.get("/healthz", &token)
    );
    assert_eq!((a.expect("a").status, b.expect("b").status), (200, 200));
    assert!(started.elapsed() >= Duration::from_millis(200));
    let log = emulator.requests();
    assert_eq!(log.len(), 2);
    for r in &log {
        assert!(r.end_ms - r.start_ms >= 200.0, "{r:?}");
    }
    assert!(
        log[1].start_ms < log[0].end_ms,
        "concurrent requests overlap: {log:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn request_log_records_order_users_queries_and_statuses() {
    let (emulator, client, token) = start().await;
    client
        .get(
            "/api/v1/namespaces/default/serviceaccounts?labelSelector=a%3Db&limit=5",
            &token,
        )
        .await
        .expect("list");
    client
        .send("GET", "/api/v1/namespaces", &[], None)
        .await
        .expect("anonymous");
    client
        .get("/version", "not-a-token")
        .await
        .expect("bad token");
    let log = emulator.requests();
    let summary: Vec<(u64, &str, &str, Option<&str>, u16)> = log
        .iter()
        .map(|r| {
            (
                r.seq,
                r.method.as_str(),
                r.path.as_str(),
                r.user.as_deref(),
                r.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                1,
                "GET",
                "/api/v1/namespaces/default/serviceaccounts",
                Some("admin"),
                200
            ),
            (
                2,
                "GET",
                "/api/v1/namespaces",
                Some("system:anonymous"),
                403
            ),
            (3, "GET", "/version", None, 401),
        ]
    );
    assert_eq!(log[0].query, "labelSelector=a%3Db&limit=5");
    assert!(log.iter().all(|r| r.start_ms <= r.end_ms));
    emulator.clear_requests();
    assert!(emulator.requests().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn reset_returns_to_the_boot_state() {
    let (emulator, client, token) = start().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}});
    assert_eq!(
        client
            .json("POST", "/api/v1/namespaces", &token, &ns)
            .await
            .expect("create")
            .status,
        201
    );
    emulator.add_fault(Fault::status("GET", "/version", 500));
    emulator.reset();
    assert_eq!(
        client
            .get("/api/v1/namespaces/scratch", &token)
            .await
            .expect("get")
            .status,
        404
    );
    assert_eq!(
        client
            .get("/api/v1/namespaces/default", &token)
            .await
            .expect("get")
            .status,
        200
    );
    assert_eq!(
        client
            .get("/version", &token)
            .await
            .expect("version")
            .status,
        200
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints_control_faults_latency_log_users_and_reset_over_http() {
    let (emulator, client, token) = start().await;
    let unauthorized = client
        .send("GET", "/__emulator/requests", &[], None)
        .await
        .expect("no token");
    assert_eq!(unauthorized.status, 401);

    let fault = json!({"method": "GET", "path": "/version", "nth": 1, "times": 1,
                       "action": {"type": "status", "code": 503}});
    assert_eq!(
        client
            .json("POST", "/__emulator/faults", &token, &fault)
            .await
            .expect("post")
            .status,
        201
    );
    assert_eq!(
        client
            .get("/version", &token)
            .await
            .expect("faulted")
            .status,
        503
    );
    assert_eq!(
        client
            .get("/version", &token)
            .await
            .expect("healthy")
            .status,
        200
    );

    let log = client
        .get("/__emulator/requests", &token)
        .await
        .expect("log")
        .json();
    let statuses: Vec<u64> = log
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, vec![503, 200], "admin calls are not logged");

    let latency = json!({"fixed_ms": 50, "jitter_ms": 0});
    assert_eq!(
        client
            .json("PUT", "/__emulator/latency", &token, &latency)
            .await
            .expect("latency")
            .status,
        200
    );
    let started = Instant::now();
    client.get("/healthz", &token).await.expect("healthz");
    assert!(started.elapsed() >= Duration::from_millis(50));

    let user = client
        .json(
            "POST",
            "/__emulator/users",
            &token,
            &json!({"user": "dev-user", "groups": ["dev-group"]}),
        )
        .await
        .expect("user")
        .json();
    let dev_token = user["token"].as_str().expect("token");
    let who = client
        .json(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            dev_token,
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await
        .expect("whoami")
        .json();
    assert_eq!(who["status"]["userInfo"]["username"], "dev-user");

    let deleted = client
        .send(
            "DELETE",
            "/__emulator/requests",
            &[("Authorization", format!("Bearer {token}"))],
            None,
        )
        .await
        .expect("clear");
    assert_eq!(deleted.status, 200);
    assert_eq!(
        client
            .json("POST", "/__emulator/reset", &token, &json!({}))
            .await
            .expect("reset")
            .status,
        200
    );
    assert!(emulator.requests().is_empty());
    emulator.shutdown().await;
}
