//! RBAC behaviours beyond the recorded scenarios: wildcards, groups, dangling bindings,
//! aggregation and escalation rules.

mod common;

use common::Client;
use kube_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

struct Env {
    emulator: Emulator,
    client: Client,
    admin: String,
}

async fn env() -> Env {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::new(emulator.url(), emulator.ca_pem());
    let admin = emulator.admin_token().to_string();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ci-jobs"}});
    client
        .json("POST", "/api/v1/namespaces", &admin, &ns)
        .await
        .expect("namespace");
    Env {
        emulator,
        client,
        admin,
    }
}

impl Env {
    async fn post(&self, path: &str, token: &str, body: Value) -> common::Response {
        self.client
            .json("POST", path, token, &body)
            .await
            .expect("response")
    }

    async fn role(&self, name: &str, rules: Value) {
        let r = self
            .post("/apis/rbac.authorization.k8s.io/v1/namespaces/ci-jobs/roles", &self.admin.clone(),
                  json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": name}, "rules": rules}))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }

    async fn bind(&self, name: &str, role_kind: &str, role: &str, subject: Value) {
        let r = self
            .post("/apis/rbac.authorization.k8s.io/v1/namespaces/ci-jobs/rolebindings", &self.admin.clone(),
                  json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
                         "subjects": [subject], "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}}))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }

    async fn can(&self, token: &str, attrs: Value) -> Value {
        self.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", token,
                  json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attrs}}))
            .await
            .json()["status"]
            .clone()
    }
}

#[tokio::test]
async fn wildcard_and_star_subresource_rules_allow_matching_requests() {
    let env = env().await;
    let dev = env.emulator.token_for("dev", &[]);
    env.role(
        "scaler",
        json!([{"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]}]),
    )
    .await;
    env.bind(
        "dev-scaler",
        "Role",
        "scaler",
        json!({"kind": "User", "name": "dev"}),
    )
    .await;
    let scale = env.can(&dev, json!({"namespace": "ci-jobs", "verb": "update", "group": "apps", "resource": "deployments", "subresource": "scale"})).await;
    assert_eq!(scale["allowed"], true);
    let plain = env.can(&dev, json!({"namespace": "ci-jobs", "verb": "update", "group": "apps", "resource": "deployments"})).await;
    assert_eq!(plain, json!({"allowed": false}));
    env.emulator.shutdown().await;
}

#[tokio::test]
async fn group_and_namespace_service_account_group_bindings_apply_to_members() {
    let env = env().await;
    let member = env.emulator.token_for("alice", &["runners"]);
    env.role(
        "secret-reader",
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
    )
    .await;
    env.bind(
        "runners",
        "Role",
        "secret-reader",
        json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "runners"}),
    )
    .await;
    let status = env
        .can(
            &member,
            json!({"namespace": "ci-jobs", "verb": "get", "resource": "secrets"}),
        )
        .await;
    assert_eq!(
        status["reason"],
        "RBAC: allowed by RoleBinding \"runners/ci-jobs\" of Role \"secret-reader\" to Group \"runners\""
    );
    env.emulator.shutdown().await;
}

#[tokio::test]
async fn dangling_binding_is_reported_in_the_forbidden_message() {
    let env = env().await;
    let dev = env.emulator.token_for("dev", &[]);
    env.bind(
        "dangling",
        "Role",
        "missing-role",
        json!({"kind": "User", "name": "dev"}),
    )
    .await;
    let r = env
        .client
        .get("/api/v1/namespaces/ci-jobs/secrets", &dev)
        .await
        .expect("list");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "secrets is forbidden: User \"dev\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ci-jobs\": RBAC: role.rbac.authorization.k8s.io \"missing-role\" not found"
    );
    env.emulator.shutdown().await;
}

#[tokio::test]
async fn cluster_roles_labelled_for_aggregation_extend_view_edit_and_admin() {
    let env = env().await;
    let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                    "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]});
    assert_eq!(
        env.post(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            &env.admin,
            cr
        )
        .await
        .status,
        201
    );
    for role in ["view", "edit", "admin"] {
        let r = env
            .client
            .get(
                &format!("/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}"),
                &env.admin,
            )
            .await
            .expect("get")
            .json();
        let has = r["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|rule| rule["resources"] == json!(["widgets"]));
        assert!(has, "{role} aggregates widgets");
        let managers: Vec<&str> = r["metadata"]["managedFields"]
            .as_array()
            .expect("mf")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert!(
            managers.contains(&"clusterrole-aggregation-controller"),
            "{managers:?}"
        );
    }
    env.emulator.shutdown().await;
}

#[tokio::test]
async fn only_cluster_admins_may_create_aggregating_cluster_roles() {
    let env = env().await;
    let dev = env.emulator.token_for("dev", &[]);
    let grant = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "role-writer"},
                       "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["create"]}]});
    env.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        &env.admin,
        grant,
    )
    .await;
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "dev-role-writer"},
                         "subjects": [{"kind": "User", "name": "dev"}],
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "role-writer"}});
    assert_eq!(
        env.post(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            &env.admin,
            binding
        )
        .await
        .status,
        201
    );
    let aggregating = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "sneaky"},
                             "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}});
    let r = env
        .post(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            &dev,
            aggregating,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "clusterroles.rbac.authorization.k8s.io \"sneaky\" is forbidden: must have cluster-admin privileges to use the aggregationRule"
    );
    env.emulator.shutdown().await;
}

#[tokio::test]
async fn binding_to_a_missing_role_without_bind_permission_is_not_found() {
    let env = env().await;
    let dev = env.emulator.token_for("dev", &[]);
    env.role("binder", json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]}])).await;
    env.bind(
        "dev-binder",
        "Role",
        "binder",
        json!({"kind": "User", "name": "dev"}),
    )
    .await;
    let r = env
        .post("/apis/rbac.authorization.k8s.io/v1/namespaces/ci-jobs/rolebindings", &dev,
              json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "x"},
                     "subjects": [{"kind": "User", "name": "dev"}],
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "nope"}}))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["message"],
        "roles.rbac.authorization.k8s.io \"nope\" not found"
    );
    env.emulator.shutdown().await;
}
