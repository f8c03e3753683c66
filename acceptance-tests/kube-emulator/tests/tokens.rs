//! ServiceAccount tokens are verifiable like a real cluster's: through the OIDC discovery
//! document and JWKS, with a configurable issuer and signing key.

mod common;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::Client;
use kube_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

fn pem_of(key: &KeyPair) -> String {
    let der: Pkcs8V1Der = key.as_der().expect("pkcs8");
    let b64 = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

async fn mint_token(client: &Client, admin: &str, audience: &str) -> String {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ci-runner"}});
    client
        .json("POST", "/api/v1/namespaces", admin, &ns)
        .await
        .expect("namespace");
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "gitlab-runner"}});
    client
        .json(
            "POST",
            "/api/v1/namespaces/ci-runner/serviceaccounts",
            admin,
            &sa,
        )
        .await
        .expect("sa");
    let tr = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": {"audiences": [audience], "expirationSeconds": 3600}});
    let resp = client
        .json(
            "POST",
            "/api/v1/namespaces/ci-runner/serviceaccounts/gitlab-runner/token",
            admin,
            &tr,
        )
        .await
        .expect("token request");
    assert_eq!(resp.status, 201);
    resp.json()["status"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

fn verify_with_jwks(token: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("key with the token's kid");
    let n = URL_SAFE_NO_PAD
        .decode(key["n"].as_str().expect("n"))
        .expect("n");
    let e = URL_SAFE_NO_PAD
        .decode(key["e"].as_str().expect("e"))
        .expect("e");
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).expect("sig"),
        )
        .expect("signature verifies with the published JWKS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("claims")
}

#[tokio::test]
async fn tokens_verify_against_the_published_jwks_with_the_configured_issuer() {
    let key = KeyPair::generate(KeySize::Rsa2048).expect("key");
    let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";
    let emulator = Emulator::start(EmulatorConfig {
        issuer: issuer.into(),
        signing_key_pem: Some(pem_of(&key)),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let client = Client::new(emulator.url(), emulator.ca_pem());
    let admin = emulator.admin_token().to_string();
    let token = mint_token(&client, &admin, "sts.amazonaws.com").await;

    let discovery = client
        .get("/.well-known/openid-configuration", &admin)
        .await
        .expect("discovery")
        .json();
    assert_eq!(discovery["issuer"], issuer);
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/openid/v1/jwks", emulator.url())
    );
    let jwks_resp = client.get("/openid/v1/jwks", &admin).await.expect("jwks");
    assert_eq!(jwks_resp.content_type, "application/jwk-set+json");
    let claims = verify_with_jwks(&token, &jwks_resp.json());
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], json!(["sts.amazonaws.com"]));
    assert_eq!(
        claims["sub"],
        "system:serviceaccount:ci-runner:gitlab-runner"
    );
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        3600
    );

    // The API accepts tokens for its own audience (the issuer) only.
    let as_sts = client
        .get(
            "/api/v1/namespaces/ci-runner/serviceaccounts/gitlab-runner",
            &token,
        )
        .await
        .expect("get");
    assert_eq!(as_sts.status, 401);
    let api_token = mint_token(&client, &admin, issuer).await;
    let whoami = client
        .json(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &api_token,
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
        )
        .await
        .expect("whoami")
        .json();
    assert_eq!(
        whoami["status"]["userInfo"]["username"],
        "system:serviceaccount:ci-runner:gitlab-runner"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn service_accounts_may_read_the_discovery_documents_but_anonymous_users_may_not() {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let client = Client::new(emulator.url(), emulator.ca_pem());
    let admin = emulator.admin_token().to_string();
    let token = mint_token(&client, &admin, kube_emulator::config::DEFAULT_ISSUER).await;
    assert_eq!(
        client
            .get("/openid/v1/jwks", &token)
            .await
            .expect("sa")
            .status,
        200
    );
    let anonymous = client
        .send("GET", "/openid/v1/jwks", &[], None)
        .await
        .expect("anonymous");
    assert_eq!(anonymous.status, 403);
    emulator.shutdown().await;
}
