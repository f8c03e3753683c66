//! The Kubernetes client from each source, against a tiny local HTTPS server that answers
//! `GET /version` and records what it was sent: TLS verified by default, `insecure` as asked,
//! and the credentials of the chosen source.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;
use crate::provider::settings::ExecSettings;

/// A CA and certificates it signed.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client_cert_pem: String,
    client_key_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            (cert, key)
        };
        let (server_cert, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
        let (client_cert, client_key) = leaf(vec!["runner-admin".into()]);
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server: (
                server_cert.der().clone(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            ),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }
}

/// What one request looked like.
#[derive(Clone, Debug)]
struct Seen {
    head: String,
    client_certificate: bool,
}

impl Seen {
    fn authorization(&self) -> Option<&str> {
        self.head.lines().find_map(|line| {
            line.strip_prefix("authorization: ")
                .or_else(|| line.strip_prefix("Authorization: "))
        })
    }
}

/// An HTTPS server on 127.0.0.1 that answers `/version`.
struct ApiServer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

const VERSION: &str = r#"{"major":"1","minor":"28","gitVersion":"v1.28.7","gitCommit":"c","gitTreeState":"clean","buildDate":"2024-01-01T00:00:00Z","goVersion":"go1.21","compiler":"gc","platform":"linux/amd64"}"#;

impl ApiServer {
    async fn start(pki: &Pki) -> ApiServer {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(vec![pki.server.0.clone()], pki.server.1.clone_key())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, record) = (acceptor.clone(), record.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let client_certificate = tls.get_ref().1.peer_certificates().is_some();
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    record.lock().unwrap().push(Seen {
                        head: String::from_utf8_lossy(&head).into_owned(),
                        client_certificate,
                    });
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \
                         {}\r\nconnection: close\r\n\r\n{VERSION}",
                        VERSION.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        ApiServer { url, seen }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn env(vars: &[(&str, &str)]) -> Env {
    Env::from_slice(vars)
}

fn explicit(server: &ApiServer) -> KubernetesSettings {
    KubernetesSettings {
        host: Some(server.url.clone()),
        ..KubernetesSettings::default()
    }
}

async fn version(connection: &KubeConnection, env: &Env) -> Result<String, String> {
    let client = connection.client(env).await.map_err(|d| d.to_string())?;
    client
        .apiserver_version()
        .await
        .map(|info| info.git_version)
        .map_err(|e| error_chain(&e))
}

/// A kubeconfig with two contexts on `server`: `prod` (token `prod-token`, the current one)
/// and `staging` (token `staging-token`).
fn kubeconfig_yaml(server: &str, ca_pem: &str) -> String {
    let ca = base64(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\n\
         clusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
         users:\n- name: prod\n  user:\n    token: prod-token\n- name: staging\n  user:\n    token: staging-token\n\
         contexts:\n- name: prod\n  context:\n    cluster: c\n    user: prod\n\
         - name: staging\n  context:\n    cluster: c\n    user: staging\n"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn host_with_its_ca_verifies_tls_and_sends_the_token() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let connection = KubeConnection::new(
        KubernetesSettings {
            cluster_ca_certificate: Some(pki.ca_pem.clone()),
            token: Some("block-token".into()),
            ..explicit(&server)
        },
        vec![],
    );
    assert_eq!(version(&connection, &env(&[])).await.unwrap(), "v1.28.7");
    let seen = server.requests();
    assert_eq!(seen[0].authorization(), Some("Bearer block-token"));
    assert!(seen[0].head.starts_with("GET /version"), "{}", seen[0].head);
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_refused_by_default() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let connection = KubeConnection::new(
        KubernetesSettings {
            token: Some("block-token".into()),
            ..explicit(&server)
        },
        vec![],
    );
    let error = version(&connection, &env(&[]))
        .await
        .expect_err("an untrusted certificate");
    assert!(
        error.to_lowercase().contains("certificate"),
        "expected a certificate error, got {error}"
    );
    assert!(server.requests().is_empty(), "the token must not be sent");
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_as_a_tls_error_not_after_retries() {
    use crate::kubernetes::{KubeClient, KubeErrorKind};
    use k8s_openapi::api::core::v1::ServiceAccount;

    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let connection = KubeConnection::new(explicit(&server), vec![]);
    let client = connection.client(&env(&[])).await.expect("a client");
    let started = std::time::Instant::now();
    let error = KubeClient::new(client, tokio_util::sync::CancellationToken::new())
        .get_opt::<ServiceAccount>("ci", "runner")
        .await
        .expect_err("an untrusted certificate");
    assert_eq!(error.kind, KubeErrorKind::Tls, "{error}");
    assert!(!error.is_transient());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "retried for {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn insecure_accepts_an_untrusted_server_certificate() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let connection = KubeConnection::new(
        KubernetesSettings {
            insecure: true,
            ..explicit(&server)
        },
        vec![],
    );
    assert_eq!(version(&connection, &env(&[])).await.unwrap(), "v1.28.7");
}

#[tokio::test]
async fn client_certificates_authenticate_over_tls() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let connection = KubeConnection::new(
        KubernetesSettings {
            cluster_ca_certificate: Some(pki.ca_pem.clone()),
            client_certificate: Some(pki.client_cert_pem.clone()),
            client_key: Some(pki.client_key_pem.clone()),
            ..explicit(&server)
        },
        vec![],
    );
    version(&connection, &env(&[])).await.unwrap();
    let seen = server.requests();
    assert!(seen[0].client_certificate);
    assert_eq!(seen[0].authorization(), None);
}

#[tokio::test]
async fn exec_plugins_supply_the_token() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let script = write(
        dir.path(),
        "get-token.sh",
        "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\
         \"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-'\"$CLUSTER\"'\"}}'\n",
    );
    let connection = KubeConnection::new(
        KubernetesSettings {
            cluster_ca_certificate: Some(pki.ca_pem.clone()),
            exec: Some(ExecSettings {
                api_version: "client.authentication.k8s.io/v1".into(),
                command: "sh".into(),
                args: vec![script],
                env: BTreeMap::from([("CLUSTER".to_string(), "prod".to_string())]),
            }),
            ..explicit(&server)
        },
        vec![],
    );
    version(&connection, &env(&[])).await.unwrap();
    assert_eq!(
        server.requests()[0].authorization(),
        Some("Bearer exec-prod")
    );
}

#[tokio::test]
async fn config_path_with_a_context_selects_that_context() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let home = tempfile::tempdir().unwrap();
    write(
        home.path(),
        "kc.yaml",
        &kubeconfig_yaml(&server.url, &pki.ca_pem),
    );
    let home_var = home.path().display().to_string();
    let connection = KubeConnection::new(
        KubernetesSettings {
            config_path: Some("~/kc.yaml".into()),
            config_context: Some("staging".into()),
            ..KubernetesSettings::default()
        },
        vec![],
    );
    version(&connection, &env(&[("HOME", &home_var)]))
        .await
        .unwrap();
    assert_eq!(
        server.requests()[0].authorization(),
        Some("Bearer staging-token")
    );
}

#[tokio::test]
async fn kubeconfig_files_in_kubeconfig_are_merged_and_the_current_context_used() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let full = kubeconfig_yaml(&server.url, &pki.ca_pem);
    // The first file has only the current-context; the second has the rest.
    let first = write(
        dir.path(),
        "a.yaml",
        "apiVersion: v1\nkind: Config\ncurrent-context: staging\n",
    );
    let second = write(
        dir.path(),
        "b.yaml",
        &full.replace("current-context: prod\n", ""),
    );
    let missing = dir.path().join("missing.yaml").display().to_string();
    let list = format!("{first}:{missing}:{second}");
    let connection = KubeConnection::new(KubernetesSettings::default(), vec![]);
    version(&connection, &env(&[("KUBECONFIG", &list)]))
        .await
        .unwrap();
    assert_eq!(
        server.requests()[0].authorization(),
        Some("Bearer staging-token")
    );
}

#[tokio::test]
async fn the_pods_service_account_is_used_in_a_cluster() {
    let pki = Pki::new();
    let server = ApiServer::start(&pki).await;
    let account = tempfile::tempdir().unwrap();
    write(account.path(), "token", "pod-token");
    write(account.path(), "ca.crt", &pki.ca_pem);
    write(account.path(), "namespace", "gitlab-runner");
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let connection = KubeConnection::new(KubernetesSettings::default(), vec![])
        .with_service_account_dir(account.path());
    let environment = env(&[
        ("HOME", "/nonexistent"),
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", &port),
    ]);
    version(&connection, &environment).await.unwrap();
    assert_eq!(
        server.requests()[0].authorization(),
        Some("Bearer pod-token")
    );
}

#[test]
fn sources_are_chosen_in_order() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".kube")).unwrap();
    write(&home.path().join(".kube"), "config", "");
    let home_var = home.path().display().to_string();
    let in_cluster = [
        ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
    ];
    let source = |settings: KubernetesSettings, vars: &[(&str, &str)]| {
        KubeConnection::new(settings, vec![]).source(&env(vars))
    };
    let with_path = KubernetesSettings {
        config_path: Some("/etc/kc".into()),
        ..KubernetesSettings::default()
    };
    let everything = [
        ("KUBECONFIG", "/from/env"),
        ("HOME", home_var.as_str()),
        in_cluster[0],
        in_cluster[1],
    ];
    assert_eq!(
        source(with_path, &everything).unwrap(),
        KubeSource::Kubeconfig {
            paths: vec!["/etc/kc".into()],
            origin: KubeconfigOrigin::ConfigPath
        }
    );
    assert_eq!(
        source(KubernetesSettings::default(), &everything).unwrap(),
        KubeSource::Kubeconfig {
            paths: vec!["/from/env".into()],
            origin: KubeconfigOrigin::EnvironmentVariable
        }
    );
    assert_eq!(
        source(KubernetesSettings::default(), &everything[1..]).unwrap(),
        KubeSource::Kubeconfig {
            paths: vec![home.path().join(".kube/config")],
            origin: KubeconfigOrigin::HomeDirectory
        }
    );
    assert_eq!(
        source(
            KubernetesSettings::default(),
            &[("HOME", "/nonexistent"), in_cluster[0], in_cluster[1]]
        )
        .unwrap(),
        KubeSource::InCluster {
            server: "https://10.0.0.1:443".into(),
            service_account_dir: SERVICE_ACCOUNT_DIR.into()
        }
    );
    let host = KubernetesSettings {
        host: Some("https://k8s.test".into()),
        ..KubernetesSettings::default()
    };
    assert_eq!(
        source(host, &everything).unwrap(),
        KubeSource::ProviderBlock
    );
}

#[tokio::test]
async fn no_source_at_all_is_a_clear_diagnostic() {
    let connection = KubeConnection::new(KubernetesSettings::default(), vec![]);
    let diagnostic = connection
        .client(&env(&[("HOME", "/nonexistent")]))
        .await
        .err()
        .expect("an error");
    assert_eq!(diagnostic.summary, "Kubernetes is not configured");
    assert!(
        diagnostic.detail.contains("KUBECONFIG is not set"),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic.detail.contains("/nonexistent/.kube/config"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn a_missing_config_path_names_config_path() {
    let connection = KubeConnection::new(
        KubernetesSettings {
            config_path: Some("/nonexistent/kubeconfig".into()),
            ..KubernetesSettings::default()
        },
        vec![],
    );
    let diagnostic = connection.client(&env(&[])).await.err().expect("an error");
    // No attribute path: it would be read as one of the resource's attributes.
    assert_eq!(diagnostic.attribute, None);
    assert!(diagnostic.summary.contains("kubernetes.config_path"));
    assert!(
        diagnostic
            .detail
            .contains("/nonexistent/kubeconfig does not exist")
    );
}

#[tokio::test]
async fn an_unknown_context_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "kc.yaml",
        &kubeconfig_yaml("https://127.0.0.1:1", "x"),
    );
    let connection = KubeConnection::new(
        KubernetesSettings {
            config_path: Some(path),
            config_context: Some("qa".into()),
            ..KubernetesSettings::default()
        },
        vec![],
    );
    let diagnostic = connection.client(&env(&[])).await.err().expect("an error");
    assert!(diagnostic.detail.contains("qa"), "{}", diagnostic.detail);
    assert!(
        diagnostic.detail.contains("config_context"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn unknown_settings_are_reported_when_the_client_is_needed() {
    let path = AttributePath::new("kubernetes").attr("host");
    let connection = KubeConnection::new(KubernetesSettings::default(), vec![path]);
    let diagnostic = connection.client(&env(&[])).await.err().expect("an error");
    assert_eq!(diagnostic.attribute, None);
    assert!(
        diagnostic.detail.contains("kubernetes.host"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn building_errors_never_quote_the_token_or_key() {
    let connection = KubeConnection::new(
        KubernetesSettings {
            host: Some("https://k8s.test".into()),
            token: Some("SECRET-TOKEN".into()),
            client_key: Some(
                "-----BEGIN PRIVATE KEY-----\nU0VDUkVU\n-----END PRIVATE KEY-----\n".into(),
            ),
            client_certificate: Some("garbage".into()),
            ..KubernetesSettings::default()
        },
        vec![],
    );
    if let Err(diagnostic) = connection.client(&env(&[])).await {
        let text = diagnostic.to_string();
        assert!(
            !text.contains("SECRET-TOKEN") && !text.contains("U0VDUkVU"),
            "{text}"
        );
    }
}
