//! Argument checks and lookups against an in-process fake IAM.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::codec::Severity;
use crate::provider::ProviderData;
use crate::provider::fake_aws::{FakeAws, query_error};

const ISSUER: &str = "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const OTHER_ARN: &str =
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

fn config(arn: Value, url: Value) -> Value {
    let mut config = Value::object([
        ("arn", arn),
        ("url", url),
        ("issuer_host_path", Value::Null),
        ("account_id", Value::Null),
        ("partition", Value::Null),
        ("client_ids", Value::Null),
        ("thumbprints", Value::Null),
        ("tags", Value::Null),
    ]);
    config.set_attr("tags", Value::Null);
    config
}

fn error_paths(config: &Value) -> Vec<String> {
    OidcProviderDataSource
        .validate(config)
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            d.attribute
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

fn list_body(arns: &[&str]) -> String {
    let members: String = arns
        .iter()
        .map(|arn| format!("<member><Arn>{arn}</Arn></member>"))
        .collect();
    format!(
        "<ListOpenIDConnectProvidersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
         <ListOpenIDConnectProvidersResult><OpenIDConnectProviderList>{members}\
         </OpenIDConnectProviderList></ListOpenIDConnectProvidersResult>\
         </ListOpenIDConnectProvidersResponse>"
    )
}

const GET_BODY: &str = "<GetOpenIDConnectProviderResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
    <GetOpenIDConnectProviderResult><ThumbprintList><member>9e99a48a9960b14926bb7f3b02e22da2b0ab7280</member>\
    </ThumbprintList><CreateDate>2024-01-01T00:00:00Z</CreateDate><ClientIDList>\
    <member>sts.amazonaws.com</member></ClientIDList>\
    <Url>oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE</Url>\
    <Tags><member><Key>team</Key><Value>platform</Value></member></Tags>\
    </GetOpenIDConnectProviderResult></GetOpenIDConnectProviderResponse>";

/// A fake IAM whose account has the providers `arns`.
fn iam(arns: &'static [&'static str]) -> FakeAws {
    FakeAws::new(move |seen| match seen.action() {
        "ListOpenIDConnectProviders" => (200, list_body(arns)),
        "GetOpenIDConnectProvider"
            if arns.iter().any(|arn| {
                percent_encoding::percent_decode_str(&seen.body)
                    .decode_utf8_lossy()
                    .contains(&format!("OpenIDConnectProviderArn={arn}"))
            }) =>
        {
            (200, GET_BODY.into())
        }
        "GetOpenIDConnectProvider" => (
            404,
            query_error("NoSuchEntity", "OpenIDConnect Provider not found"),
        ),
        _ => (400, query_error("InvalidAction", "unexpected")),
    })
}

async fn read(fake: &FakeAws, config: &Value) -> ReadOutcome {
    let provider = ProviderData::builder()
        .region("eu-central-1")
        .sdk_config(fake.sdk_config("eu-central-1").await)
        .build();
    let ctx = Context::new(Arc::new(provider), CancellationToken::new());
    OidcProviderDataSource.read(&ctx, config).await
}

#[test]
fn at_most_one_of_arn_and_url() {
    // Neither: the configured cluster's issuer is looked up.
    assert!(error_paths(&config(Value::Null, Value::Null)).is_empty());
    assert_eq!(
        error_paths(&config(ARN.into(), format!("https://{ISSUER}").into())),
        ["url"]
    );
    assert!(error_paths(&config(ARN.into(), Value::Null)).is_empty());
    assert!(error_paths(&config(Value::Null, format!("https://{ISSUER}").into())).is_empty());
}

#[test]
fn unknown_arguments_are_checked_once_known() {
    assert!(error_paths(&config(Value::Unknown, Value::Null)).is_empty());
    assert!(error_paths(&config(Value::Unknown, format!("https://{ISSUER}").into())).is_empty());
}

#[test]
fn a_malformed_arn_is_refused_at_arn() {
    assert_eq!(
        error_paths(&config(
            "arn:aws:iam::123456789012:role/x".into(),
            Value::Null
        )),
        ["arn"]
    );
    assert_eq!(error_paths(&config(ISSUER.into(), Value::Null)), ["arn"]);
}

#[test]
fn the_url_must_be_an_https_issuer() {
    for bad in [
        ISSUER.to_string(),
        format!("http://{ISSUER}"),
        format!("https://{ISSUER}?x=1"),
        "https://".to_string(),
    ] {
        assert_eq!(
            error_paths(&config(Value::Null, bad.clone().into())),
            ["url"],
            "{bad}"
        );
    }
}

#[tokio::test]
async fn finds_the_provider_by_url_among_the_accounts_providers() {
    let fake = iam(&[OTHER_ARN, ARN]);
    let url = format!("https://{}/", ISSUER.replace("oidc.eks", "OIDC.EKS"));
    let outcome = read(&fake, &config(Value::Null, url.clone().into())).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let state = outcome.state;
    assert_eq!(state.get("arn"), &Value::from(ARN));
    assert_eq!(state.get("url"), &Value::from(url.as_str()));
    assert_eq!(state.get("issuer_host_path"), &Value::from(ISSUER));
    assert_eq!(state.get("account_id"), &Value::from("123456789012"));
    assert_eq!(state.get("partition"), &Value::from("aws"));
    assert_eq!(
        state.get("client_ids"),
        &Value::string_list(["sts.amazonaws.com"])
    );
    assert_eq!(
        state.get("thumbprints"),
        &Value::string_list(["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    );
    assert_eq!(
        state.get("tags"),
        &Value::string_map([("team", "platform")])
    );
    let actions: Vec<String> = fake.seen().iter().map(|s| s.action().to_string()).collect();
    assert_eq!(
        actions,
        ["ListOpenIDConnectProviders", "GetOpenIDConnectProvider"]
    );
}

#[tokio::test]
async fn finds_the_provider_by_arn_with_one_call() {
    let fake = iam(&[ARN]);
    let outcome = read(&fake, &config(ARN.into(), Value::Null)).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    assert_eq!(
        outcome.state.get("url"),
        &Value::from(format!("https://{ISSUER}").as_str())
    );
    assert_eq!(outcome.state.get("issuer_host_path"), &Value::from(ISSUER));
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_missing_arn_is_an_error_naming_the_arn() {
    let fake = iam(&[OTHER_ARN]);
    let outcome = read(&fake, &config(ARN.into(), Value::Null)).await;
    assert!(outcome.state.is_null());
    let diagnostic = &outcome.diagnostics.0[0];
    assert_eq!(diagnostic.summary, "OIDC provider not found");
    assert_eq!(diagnostic.attribute, Some(AttributePath::new("arn")));
    assert!(diagnostic.detail.contains(ARN), "{}", diagnostic.detail);
}

#[tokio::test]
async fn a_missing_issuer_is_an_error_naming_the_issuer_and_what_exists() {
    let fake = iam(&[OTHER_ARN]);
    let outcome = read(
        &fake,
        &config(Value::Null, format!("https://{ISSUER}").into()),
    )
    .await;
    let diagnostic = &outcome.diagnostics.0[0];
    assert_eq!(diagnostic.attribute, Some(AttributePath::new("url")));
    assert!(
        diagnostic.detail.contains(&format!("https://{ISSUER}")),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic.detail.contains("in account 123456789012"),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic
            .detail
            .contains("https://token.actions.githubusercontent.com"),
        "{}",
        diagnostic.detail
    );
}

#[tokio::test]
async fn access_denied_is_reported_with_the_operation() {
    let fake = FakeAws::new(|_| {
        (
            403,
            query_error(
                "AccessDenied",
                "not authorized to iam:ListOpenIDConnectProviders",
            ),
        )
    });
    let outcome = read(
        &fake,
        &config(Value::Null, format!("https://{ISSUER}").into()),
    )
    .await;
    let diagnostic = &outcome.diagnostics.0[0];
    assert_eq!(
        diagnostic.summary,
        "Could not look up the IAM OIDC provider"
    );
    assert!(
        diagnostic
            .detail
            .starts_with("iam:ListOpenIDConnectProviders failed (AccessDenied)"),
        "{}",
        diagnostic.detail
    );
}

/// A Kubernetes client whose `/.well-known/openid-configuration` answers `(status, body)`
/// and which refuses TokenRequest.
fn cluster(status: u16, body: serde_json::Value) -> kube::Client {
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let (status, body) = if request.uri().path() == "/.well-known/openid-configuration" {
            (status, body.clone())
        } else {
            (
                403,
                serde_json::json!({"kind": "Status", "reason": "Forbidden", "code": 403,
                                   "message": "no tokens for you"}),
            )
        };
        async move {
            Ok::<_, std::convert::Infallible>(
                http::Response::builder()
                    .status(status)
                    .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
                    .unwrap(),
            )
        }
    });
    kube::Client::new(service, "default")
}

async fn read_with_cluster(fake: &FakeAws, kube: kube::Client) -> ReadOutcome {
    let provider = ProviderData::builder()
        .region("eu-central-1")
        .sdk_config(fake.sdk_config("eu-central-1").await)
        .kube_client(kube)
        .build();
    let ctx = Context::new(Arc::new(provider), CancellationToken::new());
    OidcProviderDataSource
        .read(&ctx, &config(Value::Null, Value::Null))
        .await
}

fn discovery(issuer: &str) -> serde_json::Value {
    serde_json::json!({"issuer": issuer, "jwks_uri": "https://10.0.0.1/openid/v1/jwks"})
}

#[tokio::test]
async fn without_arguments_finds_the_provider_of_the_clusters_issuer() {
    let fake = iam(&[OTHER_ARN, ARN]);
    let issuer = format!("https://{}", ISSUER.replace("oidc.eks", "OIDC.EKS"));
    let outcome = read_with_cluster(&fake, cluster(200, discovery(&issuer))).await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let state = outcome.state;
    assert_eq!(state.get("arn"), &Value::from(ARN));
    assert_eq!(
        state.get("url"),
        &Value::from(format!("https://{ISSUER}").as_str())
    );
    assert_eq!(state.get("issuer_host_path"), &Value::from(ISSUER));
    assert_eq!(state.get("issuer"), &Value::from(issuer.as_str()));
    assert_eq!(
        state.get("jwks_uri"),
        &Value::from("https://10.0.0.1/openid/v1/jwks")
    );
}

#[tokio::test]
async fn by_arn_the_clusters_issuer_is_not_read() {
    let fake = iam(&[ARN]);
    let outcome = read(&fake, &config(ARN.into(), Value::Null)).await;
    assert!(outcome.state.get("issuer").is_null());
    assert!(outcome.state.get("jwks_uri").is_null());
}

#[tokio::test]
async fn without_arguments_and_no_provider_shows_the_block_and_the_command() {
    let fake = iam(&[OTHER_ARN]);
    let issuer = format!("https://{ISSUER}");
    let outcome = read_with_cluster(&fake, cluster(200, discovery(&issuer))).await;
    assert!(outcome.state.is_null());
    let diagnostic = &outcome.diagnostics.0[0];
    assert_eq!(diagnostic.summary, "OIDC provider not found");
    assert_eq!(diagnostic.attribute, None);
    for expected in [
        format!("no IAM OIDC provider for the issuer https://{ISSUER} in account 123456789012"),
        "eksctl utils associate-iam-oidc-provider --cluster CLUSTER --approve".to_string(),
        format!(
            "resource \"aws_iam_openid_connect_provider\" \"cluster\" {{\n    url            = \
             \"{issuer}\"\n    client_id_list = [\"sts.amazonaws.com\"]\n  }}"
        ),
        "read from the cluster's /.well-known/openid-configuration".to_string(),
    ] {
        assert!(
            diagnostic.detail.contains(&expected),
            "{expected}\n--- not in ---\n{}",
            diagnostic.detail
        );
    }
}

#[tokio::test]
async fn without_arguments_an_unreadable_issuer_is_an_error_saying_why() {
    let fake = iam(&[ARN]);
    let refused = serde_json::json!({"kind": "Status", "reason": "Forbidden", "code": 403,
                                     "message": "cannot get path"});
    let outcome = read_with_cluster(&fake, cluster(403, refused)).await;
    let diagnostic = &outcome.diagnostics.0[0];
    assert_eq!(diagnostic.summary, "Cluster issuer not readable");
    assert!(
        diagnostic.detail.contains(
            "GET /.well-known/openid-configuration failed (403 Forbidden): cannot get path; and \
             the fallback failed too: create token for ServiceAccount default/default failed \
             (403 Forbidden): no tokens for you."
        ),
        "{}",
        diagnostic.detail
    );
    assert!(fake.seen().is_empty(), "no IAM call without an issuer");
}
