//! The binding touches only what it owns (issue 15, security review items 1, 4 and 8), end to
//! end: fields of an adopted ServiceAccount that another field manager owns, an IAM role of
//! the same name that is not the binding's, policies attached outside Terraform, and AWS
//! credentials of another account than the OIDC provider's.

use std::collections::BTreeMap;

use gitlabrunner_acceptance::Diagnostic;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::binding_support::{ADDRESS, Fixture, OWNER_KEY, ROLE_ARN_ANNOTATION, binding, hcl_map};

/// The first error of `diagnostics`, as one line.
fn first_error(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("no error in {diagnostics:?}"))
        .one_line()
}

fn labels(account: &ServiceAccount) -> BTreeMap<String, String> {
    account.metadata.labels.clone().unwrap_or_default()
}

fn annotations(account: &ServiceAccount) -> BTreeMap<String, String> {
    account.metadata.annotations.clone().unwrap_or_default()
}

const BREAK_GLASS: &str = "arn:aws:iam::111122223333:role/break-glass";
const STS_REGIONAL: &str = "eks.amazonaws.com/sts-regional-endpoints";

#[tokio::test]
async fn adoption_refuses_fields_another_manager_owns_takes_them_only_when_asked_and_gives_them_back()
 {
    let Some(f) = Fixture::new(
        "adoption_refuses_fields_another_manager_owns_takes_them_only_when_asked_and_gives_them_back",
        0,
    )
    .await
    else {
        return;
    };
    // Another tool applies the ServiceAccount with its own role and IRSA settings.
    let platform = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": f.service_account,
            "namespace": f.namespace,
            "labels": {"team": "platform", "app": "gitlab-runner"},
            "annotations": {ROLE_ARN_ANNOTATION: BREAK_GLASS, STS_REGIONAL: "true"},
        },
    });
    let existing = f
        .service_accounts(&f.namespace)
        .patch(
            &f.service_account,
            &PatchParams::apply("platform-bootstrap"),
            &Patch::Apply(&platform),
        )
        .await
        .unwrap();
    let role_name = f.default_role_name();
    let body = |take_over: bool| {
        format!(
            "  adopt_existing_service_account = true\n  take_over_conflicting_fields = {take_over}\n  labels = {}\n",
            hcl_map(&[("team", "ci")])
        )
    };

    // Without the opt-in: an error naming the manager and both fields, nothing written.
    let ws = f.workspace();
    ws.write("main.tf", &binding(&f, &body(false))).unwrap();
    let error = first_error(&ws.apply_expect_error().await.unwrap());
    for expected in [
        "owned by platform-bootstrap",
        ".metadata.annotations.eks.amazonaws.com/role-arn",
        ".metadata.labels.team",
        "take_over_conflicting_fields = true",
    ] {
        assert!(error.contains(expected), "{expected:?} in: {error}");
    }
    assert!(ws.show().await.unwrap().is_empty(), "nothing in state");
    assert!(f.iam_role(&role_name).await.is_none(), "rolled back");
    let untouched = f.service_account().await.unwrap();
    assert_eq!(labels(&untouched), labels(&existing));
    assert_eq!(annotations(&untouched), annotations(&existing));

    // With it: the fields are taken, recorded, and the other tool's IRSA annotation stays.
    ws.write("main.tf", &binding(&f, &body(true))).unwrap();
    ws.apply().await.unwrap();
    let adopted = f.service_account().await.unwrap();
    let role_arn = format!("arn:aws:iam::{}:role/{role_name}", f.h.account_id());
    assert_eq!(annotations(&adopted)[ROLE_ARN_ANNOTATION], role_arn);
    assert_eq!(labels(&adopted)["team"], "ci");
    assert_eq!(labels(&adopted)["app"], "gitlab-runner");
    assert_eq!(
        annotations(&adopted)[STS_REGIONAL],
        "true",
        "another tool's eks.amazonaws.com/* annotation is not the binding's to remove"
    );
    let state = ws.show().await.unwrap();
    let mut taken: Vec<(String, String, String)> = state
        .resource(ADDRESS)
        .unwrap()
        .attr("taken_over_fields")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["field"].as_str().unwrap().to_string(),
                r["manager"].as_str().unwrap().to_string(),
                r["previous_value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    taken.sort();
    assert_eq!(
        taken,
        [
            (
                ".metadata.annotations.eks.amazonaws.com/role-arn".to_string(),
                "platform-bootstrap".to_string(),
                BREAK_GLASS.to_string()
            ),
            (
                ".metadata.labels.team".to_string(),
                "platform-bootstrap".to_string(),
                "platform".to_string()
            ),
        ]
    );
    let plan = ws.plan().await.unwrap();
    assert!(plan.is_empty(), "{}", plan.summary());

    // Destroy gives the values back to their manager and removes only the binding's own.
    ws.destroy().await.unwrap();
    let given_back = f
        .service_account()
        .await
        .expect("an adopted ServiceAccount stays");
    assert_eq!(given_back.metadata.uid, existing.metadata.uid);
    assert_eq!(labels(&given_back), labels(&existing));
    assert_eq!(annotations(&given_back), annotations(&existing));
    assert!(!annotations(&given_back).contains_key(OWNER_KEY));
    let managers: Vec<String> = given_back
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        !managers.contains(&"terraform-provider-gitlabrunner".to_string()),
        "the provider holds no field any more: {managers:?}"
    );
    assert!(f.iam_role(&role_name).await.is_none());
}

/// A customer managed policy attached to `role` outside Terraform.
async fn attach_by_hand(f: &Fixture, role: &str) -> String {
    let arn = f.managed_policy("s3:ListAllMyBuckets").await;
    f.aws
        .iam
        .attach_role_policy()
        .role_name(role)
        .policy_arn(&arn)
        .send()
        .await
        .unwrap();
    arn
}

#[tokio::test]
async fn destroy_leaves_policies_attached_outside_terraform_unless_force_detach_policies() {
    let Some(f) = Fixture::new(
        "destroy_leaves_policies_attached_outside_terraform_unless_force_detach_policies",
        0,
    )
    .await
    else {
        return;
    };
    let own = f.managed_policy("s3:GetObject").await;
    let role_name = f.default_role_name();
    let body = |force: bool| {
        format!("  managed_policy_arns = [\"{own}\"]\n  force_detach_policies = {force}\n")
    };
    let ws = f.workspace();
    ws.write("main.tf", &binding(&f, &body(false))).unwrap();
    ws.apply().await.unwrap();
    let foreign = attach_by_hand(&f, &role_name).await;

    let error = first_error(&ws.destroy_expect_error_with(&[]).await.unwrap());
    assert!(
        error.contains(&format!("IAM role {role_name} was not deleted"))
            && error.contains(&format!("managed policy {foreign}"))
            && error.contains("force_detach_policies = true"),
        "{error}"
    );
    assert!(f.iam_role(&role_name).await.is_some(), "the role stays");
    let attached = f.attached_policies(&role_name).await;
    assert!(attached.contains(&foreign), "{attached:?}");
    assert!(
        !attached.contains(&own),
        "the binding's own policy was detached"
    );
    assert!(f.service_account().await.is_none());

    // Opting in (applied first: destroy uses the state) lets destroy detach it.
    ws.write("main.tf", &binding(&f, &body(true))).unwrap();
    ws.apply().await.unwrap();
    ws.destroy().await.unwrap();
    assert!(f.iam_role(&role_name).await.is_none());
    assert!(ws.show().await.unwrap().is_empty());
}

#[tokio::test]
async fn destroy_without_refresh_leaves_a_role_recreated_under_the_same_name_alone() {
    let Some(f) = Fixture::new(
        "destroy_without_refresh_leaves_a_role_recreated_under_the_same_name_alone",
        0,
    )
    .await
    else {
        return;
    };
    let role_name = f.default_role_name();
    let ws = f.workspace();
    ws.write("main.tf", &binding(&f, "")).unwrap();
    ws.apply().await.unwrap();
    let state = ws.show().await.unwrap();
    let old_id = state
        .resource(ADDRESS)
        .unwrap()
        .str_attr("role_unique_id")
        .unwrap()
        .to_string();
    // Someone deletes the binding's role and makes another of the same name.
    f.aws
        .iam
        .delete_role()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    });
    let other = f
        .aws
        .iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let other_id = other.role().unwrap().role_id().to_string();
    assert_ne!(other_id, old_id);

    let error = first_error(
        &ws.destroy_expect_error_with(&["-refresh=false"])
            .await
            .unwrap(),
    );
    assert!(
        error.contains(&format!(
            "IAM role {role_name} is not the role this binding created"
        )) && error.contains(&other_id)
            && error.contains(&old_id)
            && error.contains("It was left alone"),
        "{error}"
    );
    let kept = f.iam_role(&role_name).await.expect("the other role stays");
    assert_eq!(kept.role_id(), other_id);
    f.aws
        .iam
        .delete_role()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_oidc_provider_of_another_account_fails_at_plan_naming_both_accounts_without_writes() {
    let Some(f) = Fixture::new(
        "an_oidc_provider_of_another_account_fails_at_plan_naming_both_accounts_without_writes",
        0,
    )
    .await
    else {
        return;
    };
    let caller = f.h.account_id().to_string();
    let other = if caller == "999999999999" {
        "888888888888"
    } else {
        "999999999999"
    };
    let elsewhere = f
        .oidc
        .arn
        .replace(&format!(":{caller}:"), &format!(":{other}:"));
    assert_ne!(elsewhere, f.oidc.arn);
    let proxy = f.h.start_proxy().unwrap();
    let ws = f.h.workspace_via(&proxy).unwrap();
    ws.write("main.tf", &binding(&f, "").replace(&f.oidc.arn, &elsewhere))
        .unwrap();
    let diagnostics = ws.plan_expect_error().await.unwrap();
    let error = diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("no error in {diagnostics:?}"));
    assert_eq!(error.summary, "OIDC provider in another AWS account");
    assert!(
        error.detail.contains(&format!("account {other}"))
            && error
                .detail
                .contains(&format!("belong to account {caller}")),
        "{}",
        error.detail
    );
    assert_eq!(error.address.as_deref(), Some(ADDRESS));
    let apply = first_error(&ws.apply_expect_error().await.unwrap());
    assert!(
        apply.contains("OIDC provider in another AWS account"),
        "{apply}"
    );
    let requests: Vec<String> = proxy
        .requests()
        .iter()
        .map(|r| format!("{}:{}", r.service, r.operation))
        .collect();
    // The identity question, and the wiring check's read of the OIDC provider: no write.
    assert!(
        requests.iter().any(|r| r == "sts:GetCallerIdentity")
            && requests
                .iter()
                .all(|r| r == "sts:GetCallerIdentity" || r == "iam:GetOpenIDConnectProvider"),
        "only reads reach AWS: {requests:?}"
    );
    assert!(f.iam_role(&f.default_role_name()).await.is_none());
    assert!(f.service_account().await.is_none());
}

#[tokio::test]
async fn a_plan_of_several_bindings_asks_sts_once_per_provider_process() {
    let Some(f) = Fixture::new(
        "a_plan_of_several_bindings_asks_sts_once_per_provider_process",
        0,
    )
    .await
    else {
        return;
    };
    let proxy = f.h.start_proxy().unwrap();
    let ws = f.h.workspace_via(&proxy).unwrap();
    let mut config = String::new();
    for index in 0..3 {
        config.push_str(&format!(
            "resource \"gitlabrunner_irsa_binding\" \"b{index}\" {{\n  namespace            = \"{}\"\n  service_account_name = \"{}-{index}\"\n  oidc_provider_arn    = \"{}\"\n}}\n",
            f.namespace, f.service_account, f.oidc.arn
        ));
    }
    ws.write("main.tf", &crate::binding_support::config(&config))
        .unwrap();
    let plan = ws.plan().await.unwrap();
    assert!(!plan.is_empty(), "three bindings to create");
    let asked = proxy
        .requests()
        .iter()
        .filter(|r| r.operation == "GetCallerIdentity")
        .count();
    assert_eq!(asked, 1, "{:?}", proxy.requests());
}
