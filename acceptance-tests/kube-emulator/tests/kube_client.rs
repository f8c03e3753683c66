//! kube-rs (the provider's client) against the emulator, configured only from the emitted
//! kubeconfig, over TLS verified against the emulator's CA. (kubectl is not installed on
//! these machines, so only kube-rs is exercised here.)

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, ResourceExt};
use kube_emulator::{Emulator, EmulatorConfig};
use serde_json::json;

async fn client_from_kubeconfig_file(emulator: &Emulator) -> Client {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&path).expect("write kubeconfig");
    let kubeconfig = Kubeconfig::read_from(&path).expect("read kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

async fn client_from_yaml(yaml: &str) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(yaml).expect("parse kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn meta(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..ObjectMeta::default()
    }
}

/// Polls for the namespace's `default` ServiceAccount for up to 5 s.
async fn wait_for_default_service_account(sas: &Api<ServiceAccount>) {
    for _ in 0..100 {
        if sas.get_opt("default").await.expect("get default").is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no default ServiceAccount after 5 s");
}

#[tokio::test]
async fn the_default_service_account_appears_after_the_namespace_not_with_it() {
    let emulator = Emulator::start(EmulatorConfig {
        controller_delay: std::time::Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let client = client_from_yaml(&emulator.kubeconfig_yaml()).await;
    let namespace = Namespace {
        metadata: meta("ci-jobs", &[]),
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create namespace");
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "ci-jobs");
    assert!(
        sas.get_opt("default").await.expect("get").is_none(),
        "the default ServiceAccount must not exist the moment the namespace does"
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "ci-jobs");
    assert!(
        configmaps
            .get_opt("kube-root-ca.crt")
            .await
            .expect("get")
            .is_none()
    );
    wait_for_default_service_account(&sas).await;
    assert!(
        configmaps
            .get_opt("kube-root-ca.crt")
            .await
            .expect("get")
            .is_some()
    );
    emulator.shutdown().await;
}

async fn start() -> Emulator {
    Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator")
}

#[tokio::test]
async fn kube_client_creates_reads_patches_and_deletes_core_objects() {
    let emulator = start().await;
    let client = client_from_kubeconfig_file(&emulator).await;
    let pp = PostParams::default();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = namespaces
        .create(
            &pp,
            &Namespace {
                metadata: meta("ci-runner", &[]),
                ..Namespace::default()
            },
        )
        .await
        .expect("create namespace");
    assert_eq!(ns.labels()["kubernetes.io/metadata.name"], "ci-runner");
    assert_eq!(ns.status.and_then(|s| s.phase).as_deref(), Some("Active"));

    // The controllers' objects appear shortly after the namespace, as on a real cluster.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "ci-runner");
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "ci-runner");
    wait_for_default_service_account(&sas).await;
    let root_ca = configmaps
        .get("kube-root-ca.crt")
        .await
        .expect("kube-root-ca.crt");
    assert_eq!(root_ca.data.expect("data")["ca.crt"], emulator.ca_pem());
    let mut sa = ServiceAccount {
        metadata: meta(
            "gitlab-runner",
            &[(
                "app.kubernetes.io/managed-by",
                "terraform-provider-gitlabrunner",
            )],
        ),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    };
    sa.metadata.annotations = Some(BTreeMap::from([(
        "eks.amazonaws.com/role-arn".to_string(),
        "arn:aws:iam::111122223333:role/gitlab-runner".to_string(),
    )]));
    let created = sas.create(&pp, &sa).await.expect("create sa");
    let rv = created.metadata.resource_version.clone().expect("rv");

    let merged = sas
        .patch(
            "gitlab-runner",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "ci"}}})),
        )
        .await
        .expect("merge patch");
    assert_ne!(
        merged.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    let strategic = sas
        .patch(
            "gitlab-runner",
            &PatchParams::default(),
            &Patch::Strategic(json!({"imagePullSecrets": [{"name": "regcred"}]})),
        )
        .await
        .expect("strategic patch");
    assert_eq!(
        strategic.image_pull_secrets.expect("pull secrets")[0].name,
        "regcred"
    );
    let applied = sas
        .patch(
            "gitlab-runner",
            &PatchParams::apply("terraform-provider-gitlabrunner").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "gitlab-runner", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/v2"}}})),
        )
        .await
        .expect("apply");
    assert_eq!(
        applied.annotations()["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/v2"
    );

    let stale = ServiceAccount {
        metadata: ObjectMeta {
            resource_version: Some(rv),
            ..meta("gitlab-runner", &[])
        },
        ..ServiceAccount::default()
    };
    let err = sas
        .replace("gitlab-runner", &pp, &stale)
        .await
        .expect_err("stale update");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );

    let listed = sas
        .list(
            &ListParams::default()
                .labels("app.kubernetes.io/managed-by=terraform-provider-gitlabrunner"),
        )
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);

    let token = sas
        .create_token_request(
            "gitlab-runner",
            &pp,
            &TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec!["sts.amazonaws.com".into()],
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            },
        )
        .await
        .expect("token request");
    assert_eq!(token.status.expect("status").token.split('.').count(), 3);

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "ci-runner");
    let secret = secrets
        .create(
            &pp,
            &Secret {
                metadata: meta("runner-config", &[]),
                string_data: Some(BTreeMap::from([(
                    "token".to_string(),
                    "s3cr3t".to_string(),
                )])),
                ..Secret::default()
            },
        )
        .await
        .expect("create secret");
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(secret.data.expect("data")["token"].0, b"s3cr3t");
    let deleted = secrets
        .delete("runner-config", &DeleteParams::default())
        .await
        .expect("delete secret");
    assert!(deleted.is_right(), "secrets return a Status");

    let deleted = sas
        .delete("gitlab-runner", &DeleteParams::default())
        .await
        .expect("delete sa");
    assert!(deleted.is_left(), "service accounts return the object");
    assert!(sas.get_opt("gitlab-runner").await.expect("get").is_none());

    namespaces
        .delete("ci-runner", &DeleteParams::default())
        .await
        .expect("delete namespace");
    assert!(
        namespaces
            .get_opt("ci-runner")
            .await
            .expect("get")
            .is_none()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn kube_client_manages_rbac_objects() {
    let emulator = start().await;
    let client = client_from_yaml(&emulator.kubeconfig_yaml()).await;
    let pp = PostParams::default();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &pp,
            &Namespace {
                metadata: meta("ci-jobs", &[]),
                ..Namespace::default()
            },
        )
        .await
        .expect("namespace");

    let rule = PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["pods".into(), "pods/exec".into(), "secrets".into()]),
        verbs: vec!["get".into(), "create".into(), "delete".into()],
        ..PolicyRule::default()
    };
    let roles: Api<Role> = Api::namespaced(client.clone(), "ci-jobs");
    roles
        .create(
            &pp,
            &Role {
                metadata: meta("gitlab-runner", &[]),
                rules: Some(vec![rule.clone()]),
            },
        )
        .await
        .expect("role");
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "ci-jobs");
    let binding = RoleBinding {
        metadata: meta("gitlab-runner", &[]),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "gitlab-runner".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "gitlab-runner".into(),
            namespace: Some("ci-runner".into()),
            ..Subject::default()
        }]),
    };
    bindings.create(&pp, &binding).await.expect("role binding");
    let mut changed = binding.clone();
    changed.role_ref.name = "other".into();
    let err = bindings
        .replace("gitlab-runner", &pp, &changed)
        .await
        .expect_err("roleRef is immutable");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );

    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    let admin = cluster_roles
        .get("admin")
        .await
        .expect("aggregated admin role");
    assert!(admin.rules.expect("rules").len() > 20);
    cluster_roles
        .create(
            &pp,
            &ClusterRole {
                metadata: meta("runner-reader", &[]),
                rules: Some(vec![rule]),
                ..ClusterRole::default()
            },
        )
        .await
        .expect("cluster role");
    let crbs: Api<ClusterRoleBinding> = Api::all(client.clone());
    crbs.create(
        &pp,
        &ClusterRoleBinding {
            metadata: meta("runner-reader", &[]),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: "runner-reader".into(),
            },
            subjects: Some(vec![Subject {
                kind: "Group".into(),
                name: "readers".into(),
                ..Subject::default()
            }]),
        },
    )
    .await
    .expect("cluster role binding");
    let patched = roles
        .patch(
            "gitlab-runner",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect("patch role");
    assert_eq!(patched.labels()["a"], "b");
    for r in [
        roles
            .delete("gitlab-runner", &DeleteParams::default())
            .await
            .map(|_| ()),
        bindings
            .delete("gitlab-runner", &DeleteParams::default())
            .await
            .map(|_| ()),
        crbs.delete("runner-reader", &DeleteParams::default())
            .await
            .map(|_| ()),
        cluster_roles
            .delete("runner-reader", &DeleteParams::default())
            .await
            .map(|_| ()),
    ] {
        r.expect("delete");
    }
    assert!(roles.get_opt("gitlab-runner").await.expect("get").is_none());
    emulator.shutdown().await;
}

#[tokio::test]
async fn service_account_token_authenticates_a_kube_client() {
    let emulator = start().await;
    let admin = client_from_yaml(&emulator.kubeconfig_yaml()).await;
    let pp = PostParams::default();
    Api::<Namespace>::all(admin.clone())
        .create(
            &pp,
            &Namespace {
                metadata: meta("ci-runner", &[]),
                ..Namespace::default()
            },
        )
        .await
        .expect("namespace");
    let sas: Api<ServiceAccount> = Api::namespaced(admin.clone(), "ci-runner");
    sas.create(
        &pp,
        &ServiceAccount {
            metadata: meta("runner", &[]),
            ..ServiceAccount::default()
        },
    )
    .await
    .expect("sa");
    let token = sas
        .create_token_request("runner", &pp, &TokenRequest::default())
        .await
        .expect("token")
        .status
        .expect("status")
        .token;
    let as_sa = client_from_yaml(&emulator.kubeconfig_for_token("runner", &token)).await;
    let own: Api<ServiceAccount> = Api::namespaced(as_sa, "ci-runner");
    let err = own.get("runner").await.expect_err("no RBAC grant yet");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn kube_client_refuses_a_server_signed_by_another_ca() {
    let emulator = start().await;
    let other = start().await;
    let yaml = emulator
        .kubeconfig_yaml()
        .replace(&base64_of(emulator.ca_pem()), &base64_of(other.ca_pem()));
    let client = client_from_yaml(&yaml).await;
    let err = Api::<Namespace>::all(client)
        .get("default")
        .await
        .expect_err("untrusted CA");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "the TLS handshake must fail: {err:?}"
    );
    emulator.shutdown().await;
    other.shutdown().await;
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn kube_client_watches_changes_from_a_list_resource_version() {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::{WatchEvent, WatchParams};

    let emulator = start().await;
    let client = client_from_yaml(&emulator.kubeconfig_yaml()).await;
    let sas: Api<ServiceAccount> = Api::namespaced(client, "default");
    let list = sas.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("list rv");
    let mut stream = sas
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    sas.create(
        &PostParams::default(),
        &ServiceAccount {
            metadata: meta("watched", &[]),
            ..ServiceAccount::default()
        },
    )
    .await
    .expect("create");
    sas.delete("watched", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    while let Some(event) = stream.try_next().await.expect("event") {
        match event {
            WatchEvent::Added(sa) => seen.push(format!("ADDED {}", sa.name_any())),
            WatchEvent::Deleted(sa) => {
                seen.push(format!("DELETED {}", sa.name_any()));
                break;
            }
            other => seen.push(format!("{other:?}")),
        }
    }
    assert_eq!(seen, vec!["ADDED watched", "DELETED watched"]);
    emulator.shutdown().await;
}
