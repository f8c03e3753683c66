//! The reads against a scripted Kubernetes API and an in-process IAM: what is requested, what
//! each answer makes of the issuer, and that a provider process reads each thing once.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use kube::client::Body;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::aws::OidcProviderArn;
use crate::kubernetes::KubeClient;
use crate::provider::ProviderData;
use crate::provider::fake_aws::{FakeAws, query_error};

/// What the scripted API server saw: method, path, `Accept`.
/// IAM's `GetOpenIDConnectProvider` answer for an OIDC provider of `url` (without `https://`)
/// whose only client id is `sts.amazonaws.com`.
pub(crate) fn oidc_provider_answer(url: &str) -> String {
    format!(
        "<GetOpenIDConnectProviderResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <GetOpenIDConnectProviderResult><ClientIDList><member>sts.amazonaws.com</member>\
         </ClientIDList><Url>{url}</Url></GetOpenIDConnectProviderResult>\
         </GetOpenIDConnectProviderResponse>"
    )
}

pub(crate) type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A Kubernetes client whose server answers `(status, body)` = `answer(method, path)`.
pub(crate) fn scripted(answer: fn(&str, &str) -> (u16, serde_json::Value)) -> (kube::Client, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let log = log.clone();
        async move {
            let method = request.method().to_string();
            let path = request.uri().path().to_string();
            let accept = request
                .headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            log.lock()
                .unwrap()
                .push((method.clone(), path.clone(), accept));
            let (status, body) = answer(&method, &path);
            Ok::<_, std::convert::Infallible>(
                http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).unwrap()))
                    .unwrap(),
            )
        }
    });
    (kube::Client::new(service, "default"), seen)
}

fn forbidden(message: &str) -> serde_json::Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
           "reason": "Forbidden", "code": 403})
}

fn token_response(iss: &str) -> serde_json::Value {
    let encode = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let token = format!(
        "{}.{}.c2ln",
        encode(json!({"alg": "RS256"})),
        encode(json!({"iss": iss, "sub": "system:serviceaccount:default:default"}))
    );
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
           "spec": {"audiences": []}, "status": {"token": token,
           "expirationTimestamp": "2030-01-01T00:00:00Z"}})
}

const TOKEN_PATH: &str = "/api/v1/namespaces/default/serviceaccounts/default/token";

async fn discover_with(
    answer: fn(&str, &str) -> (u16, serde_json::Value),
) -> (ClusterIssuer, Seen) {
    let (client, seen) = scripted(answer);
    let issuer = discovery::discover(&KubeClient::new(client, CancellationToken::new())).await;
    (issuer, seen)
}

#[tokio::test]
async fn the_discovery_document_is_read_first_as_json() {
    let (issuer, seen) = discover_with(|_, _| {
        (
            200,
            json!({"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
                   "jwks_uri": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC/keys"}),
        )
    })
    .await;
    assert_eq!(
        issuer,
        ClusterIssuer::Known {
            issuer: "https://oidc.eks.us-east-1.amazonaws.com/id/ABC".into(),
            jwks_uri: Some("https://oidc.eks.us-east-1.amazonaws.com/id/ABC/keys".into()),
            source: IssuerSource::Discovery,
        }
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            "GET".to_string(),
            "/.well-known/openid-configuration".to_string(),
            "application/json".to_string()
        )]
    );
}

#[tokio::test]
async fn a_refused_discovery_document_falls_back_to_a_tokens_issuer() {
    let (issuer, seen) = discover_with(|method, path| match (method, path) {
        ("GET", "/.well-known/openid-configuration") => (403, forbidden("forbidden: no")),
        ("POST", TOKEN_PATH) => (201, token_response("https://issuer.example/id/T")),
        _ => (500, json!({})),
    })
    .await;
    assert_eq!(
        issuer,
        ClusterIssuer::Known {
            issuer: "https://issuer.example/id/T".into(),
            jwks_uri: None,
            source: IssuerSource::TokenRequest,
        }
    );
    let paths: Vec<String> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
    assert_eq!(paths, ["/.well-known/openid-configuration", TOKEN_PATH]);
}

#[tokio::test]
async fn when_both_are_refused_the_reason_names_both() {
    let (issuer, _) = discover_with(|method, _| match method {
        "GET" => (
            403,
            forbidden(
                "forbidden: User \"x\" cannot get path \"/.well-known/openid-configuration\"",
            ),
        ),
        _ => (403, forbidden("serviceaccounts \"default\" is forbidden")),
    })
    .await;
    let ClusterIssuer::Unreadable { reason } = issuer else {
        panic!("{issuer:?}");
    };
    assert_eq!(
        reason,
        "GET /.well-known/openid-configuration failed (403 Forbidden): forbidden: User \"x\" \
         cannot get path \"/.well-known/openid-configuration\"; and the fallback failed too: \
         create token for ServiceAccount default/default failed (403 Forbidden): \
         serviceaccounts \"default\" is forbidden"
    );
}

#[tokio::test]
async fn a_missing_discovery_document_says_404() {
    let (issuer, _) = discover_with(|method, _| match method {
        "GET" => (
            404,
            json!({"kind": "Status", "reason": "NotFound", "code": 404}),
        ),
        _ => (
            404,
            json!({"kind": "Status", "reason": "NotFound", "code": 404,
                          "message": "serviceaccounts \"default\" not found"}),
        ),
    })
    .await;
    let ClusterIssuer::Unreadable { reason } = issuer else {
        panic!("{issuer:?}");
    };
    assert!(
        reason.starts_with("GET /.well-known/openid-configuration answered 404 Not Found; "),
        "{reason}"
    );
}

#[tokio::test]
async fn a_provider_process_reads_the_issuer_and_each_oidc_provider_once() {
    let (client, seen) = scripted(|_, _| {
        (
            200,
            json!({"issuer": "https://oidc.example/id/X", "jwks_uri": "https://k/jwks"}),
        )
    });
    let fake = FakeAws::new(|seen| match seen.action() {
        "GetOpenIDConnectProvider" => (200, oidc_provider_answer("oidc.example/id/X")),
        _ => (400, query_error("InvalidAction", "unexpected")),
    });
    let provider = Arc::new(
        ProviderData::builder()
            .region("us-east-1")
            .sdk_config(fake.sdk_config("us-east-1").await)
            .kube_client(client)
            .build(),
    );
    let arn = OidcProviderArn::parse("arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X")
        .unwrap();
    let reads = (0..20).map(|_| {
        let (provider, arn) = (provider.clone(), arn.clone());
        async move {
            let cancel = CancellationToken::new();
            futures::join!(
                provider.cluster_issuer(&cancel),
                provider.oidc_provider(&arn)
            )
        }
    });
    let results = futures::future::join_all(reads).await;
    assert!(results.iter().all(|(issuer, read)| matches!(
        (issuer, read),
        (ClusterIssuer::Known { .. }, ProviderRead::Found(found)) if found.url == "oidc.example/id/X"
    )));
    assert_eq!(seen.lock().unwrap().len(), 1, "one discovery read");
    assert_eq!(fake.seen().len(), 1, "one GetOpenIDConnectProvider");
}
