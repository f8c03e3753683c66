//! The Kubernetes proxy in front of the project's emulator, driven by a kube-rs client over the
//! kubeconfig the proxy writes: TLS verified on both sides, the token passed through, faults
//! answered as kube-apiserver answers them.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::*;
use crate::fault_proxy::{FaultRule, Latency};
use crate::runtime::run_in_background;

const NAMESPACES: &str = "/api/v1/namespaces";

struct Upstream {
    _emulator: kube_emulator::Emulator,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

async fn emulator() -> Upstream {
    let emulator = run_in_background(kube_emulator::Emulator::start(
        kube_emulator::EmulatorConfig::default(),
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig).unwrap();
    Upstream {
        _emulator: emulator,
        kubeconfig,
        _dir: dir,
    }
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn namespace(name: &str) -> Namespace {
    serde_json::from_value(serde_json::json!({ "metadata": { "name": name } })).unwrap()
}

/// A GET through the proxy without kube-rs (and its retries), trusting the proxy's CA.
async fn raw_get(proxy: &KubeProxy, path: &str) -> crate::fault_proxy::UpstreamAnswer {
    let current = kubeconfig::Current::read(proxy.kubeconfig()).unwrap();
    let target = current.upstream(proxy.kubeconfig()).unwrap();
    let upstream =
        TlsUpstream::new(&target.server, &target.server_name, target.client_config).unwrap();
    let request = http::Request::get(path)
        .body(Full::new(Bytes::new()))
        .unwrap();
    crate::fault_proxy::Upstream::send(&upstream, request)
        .await
        .unwrap()
}

fn api_status(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn forwards_with_the_clients_token_over_verified_tls_and_logs_each_request() {
    let upstream = emulator().await;
    let proxy = KubeProxy::start(&upstream.kubeconfig).unwrap();
    assert!(proxy.url().starts_with("https://127.0.0.1:"));
    let namespaces = Api::<Namespace>::all(client(proxy.kubeconfig()).await);
    namespaces
        .create(&PostParams::default(), &namespace("through-proxy"))
        .await
        .unwrap();
    let listed = namespaces.list(&ListParams::default()).await.unwrap();
    assert!(
        listed
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("through-proxy"))
    );
    let log = proxy.requests();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[0].operation.as_str(), log[0].status),
        ("POST", Some(201))
    );
    assert_eq!(path_of(&log[0]), Some(NAMESPACES));
    assert_eq!(log[1].status, Some(200));
    assert_eq!(proxy.requests_about("through-proxy").len(), 0);
    // The object exists upstream: the emulator took the write from the token the kubeconfig
    // carries (an anonymous request may not create namespaces).
    let direct = Api::<Namespace>::all(client(&upstream.kubeconfig).await);
    direct.get("through-proxy").await.unwrap();
}

#[tokio::test]
async fn injected_failures_are_kubernetes_status_objects() {
    let upstream = emulator().await;
    let proxy = KubeProxy::start(&upstream.kubeconfig).unwrap();
    let namespaces = Api::<Namespace>::all(client(proxy.kubeconfig()).await);
    proxy.add_fault(FaultRule::nth(
        call("POST", NAMESPACES),
        1,
        FaultAction::kube_status(403),
    ));
    proxy.add_fault(FaultRule::always(
        call("GET", "/api/v1/namespaces/missing"),
        FaultAction::kube_too_many_requests(7),
    ));
    let refused = namespaces
        .create(&PostParams::default(), &namespace("refused"))
        .await
        .unwrap_err();
    let status = api_status(refused);
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    // Raw, as kube-rs itself retries 429s: the header and the Status as the server sends them.
    let throttled = raw_get(&proxy, "/api/v1/namespaces/missing").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.headers[http::header::RETRY_AFTER], "7");
    let body: serde_json::Value = serde_json::from_slice(&throttled.body).unwrap();
    assert_eq!(
        [&body["kind"], &body["reason"], &body["code"]],
        [
            &serde_json::json!("Status"),
            &serde_json::json!("TooManyRequests"),
            &serde_json::json!(429)
        ]
    );
    assert_eq!(body["details"]["retryAfterSeconds"], 7);
    // The first create failed without reaching the emulator; the second goes through.
    namespaces
        .create(&PostParams::default(), &namespace("refused"))
        .await
        .unwrap();
    let faults: Vec<Option<String>> = proxy.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            Some("403 Forbidden".to_string()),
            Some("429 TooManyRequests".to_string()),
            None
        ]
    );
}

#[tokio::test]
async fn dropped_connections_and_held_answers() {
    let upstream = emulator().await;
    let proxy = KubeProxy::start(&upstream.kubeconfig).unwrap();
    let namespaces = Api::<Namespace>::all(client(proxy.kubeconfig()).await);
    proxy.add_fault(FaultRule::nth(
        call("GET", "/api/v1/namespaces/default"),
        1,
        FaultAction::DropConnection,
    ));
    let dropped = namespaces.get("default").await.unwrap_err();
    assert!(!matches!(dropped, kube::Error::Api(_)), "{dropped:?}");
    assert_eq!(proxy.requests()[0].status, None);

    proxy.add_fault(FaultRule::nth(
        call("POST", NAMESPACES),
        1,
        FaultAction::DelayResponse(Duration::from_secs(60)),
    ));
    let held_create = tokio::spawn({
        let namespaces = namespaces.clone();
        async move {
            namespaces
                .create(&PostParams::default(), &namespace("held"))
                .await
        }
    });
    let started = Instant::now();
    while !proxy
        .held_requests()
        .iter()
        .any(|h| is_held(h, "POST", NAMESPACES))
    {
        assert!(started.elapsed() < Duration::from_secs(10), "never held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(proxy.in_flight(), 1);
    // Held after it took effect: the namespace exists while the client still waits.
    let direct = Api::<Namespace>::all(client(&upstream.kubeconfig).await);
    direct.get("held").await.unwrap();
    held_create.abort();
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let upstream = emulator().await;
    let proxy = KubeProxy::start(&upstream.kubeconfig).unwrap();
    proxy.set_latency(Latency::Fixed(Duration::from_millis(150)));
    let namespaces = Api::<Namespace>::all(client(proxy.kubeconfig()).await);
    let started = Instant::now();
    namespaces.get("default").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(proxy.requests()[0].duration() >= Duration::from_millis(150));
}

#[tokio::test]
async fn an_upstream_with_another_ca_is_not_trusted() {
    let upstream = emulator().await;
    let other = emulator().await;
    // The first emulator's address with the second one's CA: verification must fail.
    let text = std::fs::read_to_string(&upstream.kubeconfig).unwrap();
    let other_text = std::fs::read_to_string(&other.kubeconfig).unwrap();
    let ca = |t: &str| {
        t.lines()
            .find(|l| l.contains("certificate-authority-data"))
            .unwrap()
            .to_string()
    };
    let mixed = text.replace(&ca(&text), &ca(&other_text));
    let path = upstream.kubeconfig.with_file_name("mixed");
    std::fs::write(&path, mixed).unwrap();
    let proxy = KubeProxy::start(&path).unwrap();
    let namespaces = Api::<Namespace>::all(client(proxy.kubeconfig()).await);
    let status = api_status(namespaces.get("default").await.unwrap_err());
    assert_eq!(status.code, 502);
    assert!(status.message.contains("TLS"), "{}", status.message);
}

#[test]
fn insecure_upstreams_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
    )
    .unwrap();
    let error = KubeProxy::start(&path).unwrap_err().to_string();
    assert!(error.contains("insecure-skip-tls-verify"), "{error}");
}
