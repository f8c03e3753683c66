//! The proxy against a tiny local HTTP server that echoes what it received.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::*;
use crate::runtime::shared_runtime;

/// An upstream that answers `METHOD PATH?QUERY host=HOST body=BODY` and counts requests.
struct EchoServer {
    url: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn echo_server() -> EchoServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let task = shared_runtime().spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let text = format!(
                            "{} {} host={} body={}",
                            parts.method,
                            parts.uri,
                            parts
                                .headers
                                .get("host")
                                .map_or("", |h| h.to_str().unwrap()),
                            String::from_utf8_lossy(&body)
                        );
                        let mut response = Response::new(Full::new(Bytes::from(
                            if parts.method == http::Method::HEAD {
                                String::new()
                            } else {
                                text
                            },
                        )));
                        response
                            .headers_mut()
                            .insert("x-echo", http::HeaderValue::from_static("yes"));
                        if parts.method == http::Method::HEAD {
                            response
                                .headers_mut()
                                .insert("content-length", http::HeaderValue::from_static("42"));
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    EchoServer { url, hits, task }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

async fn send(
    method: &str,
    url: &str,
    authorization_service: &str,
    body: &str,
) -> Result<Answer, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::new(Full::new(Bytes::from(body.to_string())));
    *request.method_mut() = method.parse().unwrap();
    *request.uri_mut() = url.parse().unwrap();
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{authorization_service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    request
        .headers_mut()
        .insert("authorization", authorization.parse().unwrap());
    let response = client
        .request(request)
        .await
        .map_err(|e| crate::error_chain(&e))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[tokio::test]
async fn forwards_method_path_host_and_body_and_returns_the_answer() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    let url = format!("{}/bucket/key?tagging", proxy.url());
    let answer = send("PUT", &url, "s3", "payload").await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["x-echo"], "yes");
    let host = proxy.url().trim_start_matches("http://");
    assert_eq!(
        answer.body,
        format!("PUT /bucket/key?tagging host={host} body=payload")
    );
    let log = proxy.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind(), "s3:PutObjectTagging");
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[0].path, "/bucket/key?tagging");
}

#[tokio::test]
async fn head_answers_keep_their_content_length() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    let answer = send("HEAD", &format!("{}/b/k", proxy.url()), "s3", "")
        .await
        .unwrap();
    assert_eq!(answer.headers["content-length"], "42");
    assert_eq!(answer.body, "");
}

#[tokio::test]
async fn nth_fault_answers_an_aws_error_instead_of_forwarding() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    proxy.add_fault(FaultRule::nth(
        Matcher::operation("iam", "CreateRole"),
        2,
        FaultAction::service_failure(),
    ));
    let body = "Action=CreateRole&Version=2010-05-08";
    let statuses = [
        send("POST", proxy.url(), "iam", body).await.unwrap(),
        send("POST", proxy.url(), "iam", body).await.unwrap(),
        send("POST", proxy.url(), "iam", body).await.unwrap(),
    ];
    assert_eq!(
        statuses.iter().map(|a| a.status).collect::<Vec<_>>(),
        [200, 500, 200]
    );
    assert!(
        statuses[1].body.contains("<Code>ServiceFailure</Code>"),
        "{}",
        statuses[1].body
    );
    assert_eq!(
        upstream.hits.load(Ordering::SeqCst),
        2,
        "the failed call never reached upstream"
    );
    let faults: Vec<_> = proxy.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(faults, [None, Some("500 ServiceFailure".to_string()), None]);
}

#[tokio::test]
async fn dropped_connection_gives_the_client_no_answer() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    proxy.add_fault(FaultRule::always(
        Matcher::service("sts"),
        FaultAction::DropConnection,
    ));
    let error = send("POST", proxy.url(), "sts", "Action=GetCallerIdentity")
        .await
        .err()
        .expect("no answer");
    assert!(!error.is_empty());
    assert_eq!(upstream.hits.load(Ordering::SeqCst), 0);
    let log = proxy.requests();
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].fault.as_deref(), Some("drop"));
}

#[tokio::test]
async fn fixed_latency_and_delay_faults_hold_requests_back() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    proxy.set_latency(Latency::Fixed(Duration::from_millis(80)));
    proxy.add_fault(FaultRule::nth(
        Matcher::service("iam"),
        1,
        FaultAction::Delay(Duration::from_millis(120)),
    ));
    let started = Instant::now();
    let answer = send("POST", proxy.url(), "iam", "Action=GetRole")
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "a delay still forwards");
    assert!(started.elapsed() >= Duration::from_millis(200));
    let answer = send("POST", proxy.url(), "iam", "Action=GetRole")
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    let log = proxy.requests();
    assert!(
        log[0].duration() >= Duration::from_millis(200),
        "{:?}",
        log[0]
    );
    assert!(
        log[1].duration() >= Duration::from_millis(80),
        "{:?}",
        log[1]
    );
    assert!(
        log[1].duration() < Duration::from_millis(200),
        "{:?}",
        log[1]
    );
}

#[tokio::test]
async fn probabilistic_faults_repeat_for_the_same_seed() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        proxy.reset();
        proxy.set_seed(42);
        proxy.add_fault(FaultRule::probability(
            Matcher::service("iam"),
            0.3,
            FaultAction::throttling(),
        ));
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                send("POST", proxy.url(), "iam", "Action=GetRole")
                    .await
                    .unwrap()
                    .status,
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let throttled = runs[0].iter().filter(|s| **s == 400).count();
    assert!(
        (4..=22).contains(&throttled),
        "about 12 of 40 expected, got {throttled}"
    );
}

#[tokio::test]
async fn unreachable_upstream_answers_502_with_an_aws_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = AwsProxy::start(&format!("http://127.0.0.1:{port}")).unwrap();
    let answer = send("POST", proxy.url(), "iam", "Action=GetRole")
        .await
        .unwrap();
    assert_eq!(answer.status, 502);
    assert!(
        answer.body.contains("AcceptanceProxyUpstreamError"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn concurrent_requests_count_as_one_round_trip() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    proxy.set_latency(Latency::Fixed(Duration::from_millis(50)));
    let call = || send("POST", proxy.url(), "iam", "Action=GetRole");
    let (a, b, c) = tokio::join!(call(), call(), call());
    for answer in [a, b, c] {
        assert_eq!(answer.unwrap().status, 200);
    }
    send("POST", proxy.url(), "iam", "Action=GetRole")
        .await
        .unwrap();
    assert_eq!(proxy.requests().len(), 4);
    assert_eq!(proxy.critical_path_depth(), 2);
}

#[test]
fn upstream_must_be_a_plain_http_origin() {
    assert!(matches!(
        AwsProxy::start("https://127.0.0.1:1"),
        Err(ProxyError::BadUpstream(_))
    ));
    assert!(AwsProxy::start("http://127.0.0.1:1/some/path").is_err());
}

#[tokio::test]
async fn dropping_the_proxy_closes_its_port() {
    let upstream = echo_server();
    let proxy = AwsProxy::start(&upstream.url).unwrap();
    let url = proxy.url().to_string();
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    assert!(client.get(url.parse().unwrap()).await.is_err());
}
