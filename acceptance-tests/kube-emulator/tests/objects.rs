//! Object semantics beyond the recorded scenarios.

mod common;

use common::Client;
use kube_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

async fn start() -> (Emulator, Client, String) {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::new(emulator.url(), emulator.ca_pem());
    let token = emulator.admin_token().to_string();
    (emulator, client, token)
}

const SA_PATH: &str = "/api/v1/namespaces/default/serviceaccounts";
const ROLE_PATH: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles";

fn role(name: &str) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name},
           "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
}

#[tokio::test]
async fn put_creates_missing_rbac_objects_but_not_service_accounts() {
    let (emulator, client, token) = start().await;
    let r = client
        .json("PUT", &format!("{ROLE_PATH}/fresh"), &token, &role("fresh"))
        .await
        .expect("put role");
    assert_eq!(r.status, 201);
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "fresh"}});
    let r = client
        .json("PUT", &format!("{SA_PATH}/fresh"), &token, &sa)
        .await
        .expect("put sa");
    assert_eq!(r.status, 404);
    emulator.shutdown().await;
}

#[tokio::test]
async fn objects_with_finalizers_linger_until_the_last_finalizer_is_removed() {
    let (emulator, client, token) = start().await;
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
    assert_eq!(
        client
            .json("POST", SA_PATH, &token, &sa)
            .await
            .expect("create")
            .status,
        201
    );
    let deleted = client
        .send(
            "DELETE",
            &format!("{SA_PATH}/held"),
            &[("Authorization", format!("Bearer {token}"))],
            None,
        )
        .await
        .expect("delete");
    assert_eq!(deleted.status, 200);
    let still = client
        .get(&format!("{SA_PATH}/held"), &token)
        .await
        .expect("get")
        .json();
    assert!(still["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(still["metadata"]["deletionGracePeriodSeconds"], 0);
    let patch = client
        .send(
            "PATCH",
            &format!("{SA_PATH}/held"),
            &[
                ("Authorization", format!("Bearer {token}")),
                ("Content-Type", "application/merge-patch+json".into()),
            ],
            Some(br#"{"metadata":{"finalizers":null}}"#.to_vec()),
        )
        .await
        .expect("patch");
    assert_eq!(patch.status, 200);
    assert_eq!(
        client
            .get(&format!("{SA_PATH}/held"), &token)
            .await
            .expect("get")
            .status,
        404
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_warn_by_default_and_fail_strict_validation() {
    let (emulator, client, token) = start().await;
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "w"}, "bogus": 1});
    let r = client
        .json("POST", SA_PATH, &token, &sa)
        .await
        .expect("create");
    assert_eq!(r.status, 201);
    assert_eq!(r.warnings, vec!["unknown field \"bogus\"".to_string()]);
    let strict = client
        .json("POST", &format!("{SA_PATH}?fieldValidation=Strict"), &token, &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "s"}, "bogus": 1}))
        .await
        .expect("strict");
    assert_eq!(strict.status, 400);
    assert_eq!(
        strict.json()["message"],
        "strict decoding error: unknown field \"bogus\""
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn generate_name_gets_a_random_suffix() {
    let (emulator, client, token) = start().await;
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"generateName": "runner-"}});
    let a = client
        .json("POST", SA_PATH, &token, &sa)
        .await
        .expect("a")
        .json();
    let b = client
        .json("POST", SA_PATH, &token, &sa)
        .await
        .expect("b")
        .json();
    let (na, nb) = (
        a["metadata"]["name"].as_str().expect("name"),
        b["metadata"]["name"].as_str().expect("name"),
    );
    assert!(
        na.starts_with("runner-") && na.len() == "runner-".len() + 5,
        "{na}"
    );
    assert_ne!(na, nb);
    emulator.shutdown().await;
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let (emulator, client, token) = start().await;
    let r = client
        .json(
            "PUT",
            &format!("{ROLE_PATH}/dry?dryRun=All"),
            &token,
            &role("dry"),
        )
        .await
        .expect("put");
    assert_eq!(r.status, 201);
    assert_eq!(
        client
            .get(&format!("{ROLE_PATH}/dry"), &token)
            .await
            .expect("get")
            .status,
        404
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn deleting_a_namespace_removes_everything_in_it_but_builtins_are_immortal() {
    let (emulator, client, token) = start().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}});
    client
        .json("POST", "/api/v1/namespaces", &token, &ns)
        .await
        .expect("ns");
    client
        .json(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/scratch/roles",
            &token,
            &role("r"),
        )
        .await
        .expect("role");
    let auth = [("Authorization", format!("Bearer {token}"))];
    let r = client
        .send("DELETE", "/api/v1/namespaces/scratch", &auth, None)
        .await
        .expect("delete");
    assert_eq!(r.json()["status"]["phase"], "Terminating");
    let roles = client
        .get("/apis/rbac.authorization.k8s.io/v1/roles", &token)
        .await
        .expect("list")
        .json();
    assert!(
        roles["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["metadata"]["namespace"] != "scratch")
    );
    let sas = client
        .get("/api/v1/namespaces/scratch/serviceaccounts", &token)
        .await
        .expect("list")
        .json();
    assert_eq!(sas["items"], json!([]));
    let kept = client
        .send("DELETE", "/api/v1/namespaces/default", &auth, None)
        .await
        .expect("delete default");
    assert_eq!(kept.status, 403);
    assert_eq!(
        kept.json()["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn apply_into_a_missing_namespace_is_not_found_and_yaml_bodies_are_accepted() {
    let (emulator, client, token) = start().await;
    let headers = |t: &str| {
        vec![
            ("Authorization", format!("Bearer {t}")),
            ("Content-Type", "application/apply-patch+yaml".to_string()),
        ]
    };
    let yaml =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  key: value\n".to_vec();
    let missing = client
        .send(
            "PATCH",
            "/api/v1/namespaces/nope/configmaps/cfg?fieldManager=tf",
            &headers(&token),
            Some(yaml.clone()),
        )
        .await
        .expect("apply");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "namespaces \"nope\" not found");
    let created = client
        .send(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/cfg?fieldManager=tf",
            &headers(&token),
            Some(yaml),
        )
        .await
        .expect("apply");
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["data"], json!({"key": "value"}));
    emulator.shutdown().await;
}
