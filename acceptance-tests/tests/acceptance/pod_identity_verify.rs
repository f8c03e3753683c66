//! `verify` in Pod Identity mode, through the rig's EKS Auth: a binding with `irsa = false`
//! passes (the provider mints a token with audience `pods.eks.amazonaws.com` and EKS Auth
//! `AssumeRoleForPodIdentity` hands out the role's credentials), and a trust policy without the
//! session-tag conditions, or whose condition names another ServiceAccount (edited outside
//! Terraform, kept in place with `apply -refresh=false` as when IAM changes between plan and
//! apply), fails the apply with an error that names the condition key and what is wrong.

use gitlabrunner_acceptance::{Diagnostic, Severity, say};
use serde_json::Value;

use crate::binding_support::{ADDRESS, Fixture};
use crate::pod_identity_support::{Mode, assert_mode, pi_binding};

const VERIFY: &str = "  verify {\n    timeout_seconds = 30\n  }\n";

/// The condition key EKS fills with the ServiceAccount's name.
const SERVICE_ACCOUNT_TAG: &str = "aws:RequestTag/kubernetes-service-account";

/// An edit of the Pod Identity statement (given the other ServiceAccount's name).
type TrustEdit = fn(&mut Value, &str);

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

#[tokio::test]
async fn verify_in_pod_identity_mode_passes_and_fails_for_another_service_accounts_trust() {
    let Some(f) = Fixture::new(
        "verify_in_pod_identity_mode_passes_and_fails_for_another_service_accounts_trust",
        0,
    )
    .await
    else {
        return;
    };
    let sa = f.service_account.clone();
    let role_name = f.default_role_name();
    let ws = f.workspace();
    ws.write("main.tf", &pi_binding(&f, &sa, Mode::PodIdentity, VERIFY))
        .unwrap();
    ws.apply().await.unwrap();
    assert_mode(&f, &ws, &sa, Mode::PodIdentity).await;
    let state = ws.show().await.unwrap();
    let verified = state
        .resource(ADDRESS)
        .unwrap()
        .str_attr("verified_identity_arn")
        .expect("verify recorded the identity EKS Auth returned")
        .to_string();
    assert!(
        verified.starts_with(&format!(
            "arn:aws:sts::{}:assumed-role/{role_name}/",
            f.h.account_id()
        )),
        "{verified}"
    );

    // The trust edited outside Terraform, two ways; each time verify must fail, naming why.
    let role_arn = crate::pod_identity_support::role_arn(&f, &sa);
    let other = format!("{sa}-other");
    let edits: [(&str, TrustEdit, String); 2] = [
        (
            "without the session-tag conditions",
            |statement, _| {
                statement.as_object_mut().unwrap().remove("Condition");
            },
            format!(
                "\"EksPodIdentity\" has no condition on \"{SERVICE_ACCOUNT_TAG}\": any value of it is admitted"
            ),
        ),
        (
            "with another ServiceAccount's tag",
            |statement, other| {
                statement["Condition"]["StringEquals"][SERVICE_ACCOUNT_TAG] =
                    Value::String(other.to_string());
            },
            format!(
                "condition StringEquals on key \"{SERVICE_ACCOUNT_TAG}\" expects \"{other}\" but the request has \"{sa}\""
            ),
        ),
    ];
    for (round, (name, edit, expected)) in edits.iter().enumerate() {
        let mut trust = f.trust_policy(&role_name).await;
        let statements = trust["Statement"].as_array_mut().unwrap();
        let statement = statements
            .iter_mut()
            .find(|s| s["Principal"].get("Service").is_some())
            .expect("the Pod Identity statement");
        edit(statement, &other);
        f.aws
            .iam
            .update_assume_role_policy()
            .role_name(&role_name)
            .policy_document(trust.to_string())
            .send()
            .await
            .unwrap();

        // A change that makes the provider verify again, with the edit still in place.
        ws.write(
            "main.tf",
            &pi_binding(
                &f,
                &sa,
                Mode::PodIdentity,
                &format!("  role_description = \"verified again {round}\"\n{VERIFY}"),
            ),
        )
        .unwrap();
        let diagnostics = ws
            .apply_expect_error_with(&["-refresh=false"])
            .await
            .unwrap();
        let found = errors(&diagnostics);
        let error = found
            .iter()
            .find(|d| d.address.as_deref() == Some(ADDRESS))
            .unwrap_or_else(|| panic!("{name}: no error about the binding: {diagnostics:#?}"));
        let text = format!("{} {}", error.summary, error.detail);
        for part in [
            format!(
                "a token for ServiceAccount {}/{sa} (audience \"pods.eks.amazonaws.com\") would be refused by EKS Pod Identity for {role_arn}",
                f.namespace
            ),
            expected.clone(),
        ] {
            assert!(
                text.contains(&part),
                "{name}: the verify error does not say {part:?}: {text}"
            );
        }

        // A plain apply repairs the trust, and verify passes again.
        ws.apply().await.unwrap();
        assert_mode(&f, &ws, &sa, Mode::PodIdentity).await;
        let state = ws.show().await.unwrap();
        assert!(
            state
                .resource(ADDRESS)
                .unwrap()
                .str_attr("verified_identity_arn")
                .is_some(),
            "{name}"
        );
        say!("pod identity verify: a trust {name} fails verify, naming it");
    }

    ws.destroy().await.unwrap();
    f.assert_gone(&role_name, &[]).await;
}
