//! Miswirings that only the cluster and IAM as they are now can reveal, each asserted with the
//! exact diagnostic and the phase where it fires:
//! - a trust policy edited outside Terraform (`https://ISSUER:sub`, a wildcard under
//!   `StringEquals`, another ServiceAccount): a warning at plan (refresh), and with `verify`
//!   an error at apply, before STS is asked (`apply -refresh=false` keeps the edit in place,
//!   as when IAM changes between plan and apply);
//! - the rig's STS refuses the same tokens with the code real STS gives (`AccessDenied`);
//! - a token signed by another cluster's key and an expired token: the API server mints
//!   neither (TokenRequest signs with the cluster's key and lasts at least 600 s), so these
//!   are shown at rig level: the rig's STS answers `InvalidIdentityToken` and
//!   `ExpiredTokenException` (the provider's own check is unit-tested against the fake in
//!   `src/resources/irsa_binding/verify_tests.rs`);
//! - a correct wiring still passes `verify` through the rig's STS.

use aws_sdk_sts::error::ProvideErrorMetadata as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::aws::web_identity::{gate_for, messages};
use gitlabrunner_acceptance::{Diagnostic, Severity, Workspace, say};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use kube::api::PostParams;
use kube_emulator::authn::service_account::Signer;
use serde_json::{Value, json};

use crate::binding_support::{ADDRESS, Fixture, binding};

/// One trust policy edited outside Terraform.
struct TrustEdit {
    name: &'static str,
    /// The conditions IAM holds after the edit.
    conditions: fn(&str, &str) -> Value,
    /// What the verify error names: (key, expected, found, hint).
    named: fn(&str, &str) -> Vec<String>,
}

const EDITS: [TrustEdit; 3] = [
    TrustEdit {
        name: "https:// in the condition key",
        conditions: |issuer, sub| {
            json!({"StringEquals": {
                format!("https://{issuer}:sub"): sub,
                format!("{issuer}:aud"): "sts.amazonaws.com",
            }})
        },
        named: |issuer, sub| {
            vec![
                format!(
                    "condition StringEquals on key \"https://{issuer}:sub\" expects \"{sub}\" but \
                     the request has no such key"
                ),
                format!("write \"{issuer}:sub\""),
            ]
        },
    },
    TrustEdit {
        name: "a wildcard under StringEquals",
        conditions: |issuer, sub| {
            let namespace_wide = format!("{}:*", sub.rsplit_once(':').unwrap().0);
            json!({"StringEquals": {
                format!("{issuer}:sub"): namespace_wide,
                format!("{issuer}:aud"): "sts.amazonaws.com",
            }})
        },
        named: |issuer, sub| {
            let namespace_wide = format!("{}:*", sub.rsplit_once(':').unwrap().0);
            vec![
                format!(
                    "condition StringEquals on key \"{issuer}:sub\" expects \"{namespace_wide}\" \
                     but the request has \"{sub}\""
                ),
                "compares literally".to_string(),
            ]
        },
    },
    TrustEdit {
        name: "another ServiceAccount",
        conditions: |issuer, sub| {
            json!({"StringEquals": {
                format!("{issuer}:sub"): format!("{sub}-other"),
                format!("{issuer}:aud"): "sts.amazonaws.com",
            }})
        },
        named: |issuer, sub| {
            vec![format!(
                "condition StringEquals on key \"{issuer}:sub\" expects \"{sub}-other\" but the \
                 request has \"{sub}\""
            )]
        },
    },
];

fn trust_document(f: &Fixture, conditions: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": f.oidc.arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": conditions,
        }],
    })
}

fn find<'a>(diagnostics: &'a [Diagnostic], severity: Severity, summary: &str) -> &'a Diagnostic {
    diagnostics
        .iter()
        .find(|d| d.severity == severity && d.summary == summary)
        .unwrap_or_else(|| panic!("no {severity:?} {summary:?} among {diagnostics:#?}"))
}

/// A token of the fixture's ServiceAccount, minted by the cluster.
async fn cluster_token(f: &Fixture) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec!["sts.amazonaws.com".to_string()],
            expiration_seconds: Some(600),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    f.service_accounts(&f.namespace)
        .create_token_request(&f.service_account, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
}

/// STS clients that talk to the rig's STS.
async fn rig_sts(f: &Fixture) -> aws_sdk_sts::Client {
    let entry = gate_for(f.h.aws().endpoint()).expect("the harness registers the rig's STS");
    AwsClients::with_max_attempts(&entry.sts_url, &f.region, 1)
        .await
        .sts
}

/// The code and message the rig's STS answers for `token` on `role_arn`.
async fn rig_answer(f: &Fixture, role_arn: &str, token: &str) -> Result<(), (String, String)> {
    rig_sts(f)
        .await
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name("miswiring")
        .web_identity_token(token)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        })
}

fn role_arn(f: &Fixture) -> String {
    format!(
        "arn:aws:iam::{}:role/{}",
        f.h.account_id(),
        f.default_role_name()
    )
}

/// Applies a binding, edits its trust policy, and checks plan, the rig's STS and verify.
async fn trust_edit(edit: &TrustEdit) -> String {
    let f = Fixture::new("miswiring_verify", 0).await.unwrap();
    let ws: Workspace = f.workspace();
    ws.write("main.tf", &binding(&f, "")).unwrap();
    ws.apply().await.unwrap();
    let role = f.default_role_name();
    let sub = format!(
        "system:serviceaccount:{}:{}",
        f.namespace, f.service_account
    );
    let edited = trust_document(&f, (edit.conditions)(&f.oidc.host_path, &sub));
    f.aws
        .iam
        .update_assume_role_policy()
        .role_name(&role)
        .policy_document(edited.to_string())
        .send()
        .await
        .unwrap();

    // Plan (refresh): a warning, not only a diff line.
    let plan = ws
        .run_ok(&["plan", "-input=false", "-no-color", "-json"])
        .await
        .unwrap();
    let warning = find(
        &plan.diagnostics(),
        Severity::Warning,
        &format!("Trust policy of IAM role {role} was changed outside Terraform"),
    )
    .clone();
    assert!(
        warning
            .detail
            .contains("With it, STS refuses the binding's own ServiceAccount"),
        "{}: {}",
        edit.name,
        warning.detail
    );

    // The rig's STS refuses the cluster's own token as real STS would.
    let token = cluster_token(&f).await;
    assert_eq!(
        rig_answer(&f, &role_arn(&f), &token).await,
        Err((
            "AccessDenied".to_string(),
            messages::NOT_AUTHORIZED.to_string()
        )),
        "{}",
        edit.name
    );

    // Apply with verify, the edit still in place: the error names key, expected and found.
    ws.write(
        "main.tf",
        &binding(&f, "  verify {\n    timeout_seconds = 5\n  }"),
    )
    .unwrap();
    let diagnostics = ws
        .apply_expect_error_with(&["-refresh=false"])
        .await
        .unwrap();
    let error = find(
        &diagnostics,
        Severity::Error,
        &format!("Failed to update IRSA binding {}", f.id()),
    );
    assert_eq!(error.address.as_deref(), Some(ADDRESS));
    assert!(
        error.detail.contains(&format!(
            "verification failed: a token for ServiceAccount {} (audience \"sts.amazonaws.com\") \
             would be refused by STS for {}: the trust policy IAM holds for role {role} does not \
             admit the token",
            f.id(),
            role_arn(&f)
        )),
        "{}: {}",
        edit.name,
        error.detail
    );
    for part in (edit.named)(&f.oidc.host_path, &sub) {
        assert!(
            error.detail.contains(&part),
            "{}: {part:?} not in {}",
            edit.name,
            error.detail
        );
    }

    // A plain apply repairs the trust policy, and verify then passes.
    ws.apply().await.unwrap();
    let state = ws.show().await.unwrap();
    assert!(
        state
            .resource(ADDRESS)
            .unwrap()
            .str_attr("verified_identity_arn")
            .is_some(),
        "{}",
        edit.name
    );
    ws.destroy().await.unwrap();
    format!(
        "{}: plan warns, rig STS AccessDenied, verify error at apply",
        edit.name
    )
}

/// A correct wiring passes verify through the rig's STS; tokens the cluster cannot mint are
/// refused by the rig's STS with the codes real STS gives.
async fn correct_wiring_and_rig_only_tokens() -> Vec<String> {
    let f = Fixture::new("miswiring_verify", 0).await.unwrap();
    let gate = f.h.sts_gate().expect("the rig's STS runs");
    let ws = f.workspace();
    ws.write(
        "main.tf",
        &binding(&f, "  verify {\n    timeout_seconds = 30\n  }"),
    )
    .unwrap();
    let applied = ws.apply().await.unwrap();
    let from_provider: Vec<Diagnostic> = applied
        .diagnostics()
        .into_iter()
        .filter(|d| d.summary != "Provider development overrides are in effect")
        .collect();
    assert!(from_provider.is_empty(), "{from_provider:#?}");
    let state = ws.show().await.unwrap();
    assert!(
        state
            .resource(ADDRESS)
            .unwrap()
            .str_attr("verified_identity_arn")
            .is_some()
    );
    let token = cluster_token(&f).await;
    assert_eq!(rig_answer(&f, &role_arn(&f), &token).await, Ok(()));

    // The same claims, signed by another cluster's key (same key id).
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let kid = header["kid"]
        .as_str()
        .expect("the cluster's tokens name their key");
    let other_key = Signer::generate_with_kid(kid);
    assert_eq!(
        rig_answer(&f, &role_arn(&f), &other_key.sign(&claims)).await,
        Err((
            "InvalidIdentityToken".to_string(),
            messages::INVALID_IDENTITY_TOKEN.to_string()
        ))
    );
    // An expired token with a valid signature: TokenRequest lasts at least 600 s, so the rig
    // signs the cluster's claims with the emulator's own key (only possible against the
    // emulator) and exp in the past.
    let mut lines = vec![
        "correct wiring: verify passes through the rig's STS".to_string(),
        "another cluster's signing key: rig STS InvalidIdentityToken".to_string(),
    ];
    match f.h.emulator_for(
        "miswiring_verify: expired token",
        "signing with the cluster's key",
    ) {
        Some(emulator) => {
            claims["exp"] = json!(claims["iat"].as_i64().unwrap() - 1);
            let expired = emulator.shared().signer.get().sign(&claims);
            let expired_refusals = || {
                gate.refusals()
                    .iter()
                    .filter(|r| r.code == "ExpiredTokenException")
                    .count()
            };
            let refusals_before = expired_refusals();
            assert_eq!(
                rig_answer(&f, &role_arn(&f), &expired).await,
                Err((
                    "ExpiredTokenException".to_string(),
                    messages::EXPIRED.to_string()
                ))
            );
            assert_eq!(expired_refusals(), refusals_before + 1);
            lines.push("expired token: rig STS ExpiredTokenException".to_string());
        }
        None => lines.push("expired token: skipped against a real cluster".to_string()),
    }
    ws.destroy().await.unwrap();
    lines
}

#[tokio::test]
async fn trust_edited_outside_terraform_and_foreign_tokens_are_named_where_they_fire() {
    if gitlabrunner_acceptance::harness("miswiring_verify")
        .await
        .is_none()
    {
        return;
    }
    let (edits, others) = tokio::join!(
        futures::future::join_all(EDITS.iter().map(trust_edit)),
        correct_wiring_and_rig_only_tokens()
    );
    let lines: Vec<String> = edits.into_iter().chain(others).collect();
    for line in &lines {
        say!("miswiring_verify: {line}");
    }
    say!("miswiring_verify: {} cases passed", lines.len());
}
