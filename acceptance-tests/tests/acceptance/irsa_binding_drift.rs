//! `gitlabrunner_irsa_binding` drift: every kind of change made outside Terraform shows in
//! `terraform plan` (naming the attributes that drifted) and in `plan -refresh-only`, `apply`
//! repairs it in the real objects, and the plan after that is empty. A binding deleted
//! entirely leaves state and is planned again.

use std::collections::BTreeSet;

use gitlabrunner_acceptance::{Action, Workspace};
use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::binding_support::{
    ADDRESS, Fixture, ROLE_ARN_ANNOTATION, binding, changed_attributes, grant, hcl_map,
};

/// Checks what `plan` and `plan -refresh-only` say about the drift, then applies and checks
/// that the next plan is empty.
async fn plan_shows_then_apply_repairs(ws: &Workspace, drifted: &[&str]) {
    let expected: BTreeSet<String> = drifted.iter().map(|a| a.to_string()).collect();

    let plan = ws.plan().await.unwrap();
    let change = plan.change(ADDRESS).expect("the binding is in the plan");
    assert_eq!(
        change.change.actions,
        [Action::Update],
        "{}",
        plan.summary()
    );
    let planned = changed_attributes(change);
    assert!(
        expected.is_subset(&planned),
        "the plan does not name every drifted attribute: expected {expected:?}, planned {planned:?}"
    );
    let refreshed = plan
        .drift(ADDRESS)
        .expect("the plan reports the drift it refreshed");
    let seen = changed_attributes(refreshed);
    assert!(
        expected.is_subset(&seen),
        "the plan's drift report misses attributes: expected {expected:?}, reported {seen:?}"
    );

    let refresh_only = ws.plan_refresh_only().await.unwrap();
    let drift = refresh_only
        .drift(ADDRESS)
        .expect("plan -refresh-only shows the drift");
    let seen = changed_attributes(drift);
    assert!(
        expected.is_subset(&seen),
        "plan -refresh-only misses attributes: expected {expected:?}, reported {seen:?}"
    );

    ws.apply().await.unwrap();
    let again = ws.plan().await.unwrap();
    assert!(
        again.is_empty(),
        "the plan after the repair is not empty: {:?}",
        again.change(ADDRESS).map(changed_attributes)
    );
}

fn statement(trust: &Value) -> &Value {
    &trust["Statement"][0]
}

#[tokio::test]
async fn iam_drift_and_a_deleted_service_account_are_planned_shown_and_repaired() {
    let Some(f) = Fixture::new(
        "iam_drift_and_a_deleted_service_account_are_planned_shown_and_repaired",
        0,
    )
    .await
    else {
        return;
    };
    let (listed, foreign) = (
        f.managed_policy("sqs:SendMessage").await,
        f.managed_policy("sns:Publish").await,
    );
    let ws = f.workspace();
    ws.write(
        "main.tf",
        &binding(
            &f,
            &format!(
                r#"
  role_description     = "runner manager"
  max_session_duration = 7200
  tags                 = {tags}
  managed_policy_arns  = ["{listed}"]
  inline_policies = {{
    logs = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "logs:PutLogEvents", Resource = "*" }}] }})
    ecr  = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "ecr:GetAuthorizationToken", Resource = "*" }}] }})
  }}
"#,
                tags = hcl_map(&[("team", "ci")])
            ),
        ),
    )
    .unwrap();
    ws.apply().await.unwrap();
    let role = f.default_role_name();
    let trust = f.trust_policy(&role).await;
    let uid = f.service_account().await.unwrap().metadata.uid;

    // Out of band: a wildcard trust, settings, tags, policies, and the ServiceAccount gone.
    let mut widened = trust.clone();
    widened["Statement"][0]["Condition"] = json!({"StringLike": {
        format!("{}:sub", f.oidc.host_path): format!("system:serviceaccount:{}:*", f.namespace),
    }});
    let iam = &f.aws.iam;
    iam.update_assume_role_policy()
        .role_name(&role)
        .policy_document(widened.to_string())
        .send()
        .await
        .unwrap();
    iam.update_role()
        .role_name(&role)
        .description("edited by hand")
        .max_session_duration(3600)
        .send()
        .await
        .unwrap();
    iam.tag_role()
        .role_name(&role)
        .tags(tag("team", "someone-else"))
        .tags(tag("rogue", "1"))
        .send()
        .await
        .unwrap();
    iam.detach_role_policy()
        .role_name(&role)
        .policy_arn(&listed)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name(&role)
        .policy_arn(&foreign)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("logs")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    iam.delete_role_policy()
        .role_name(&role)
        .policy_name("ecr")
        .send()
        .await
        .unwrap();
    f.service_accounts(&f.namespace)
        .delete(&f.service_account, &DeleteParams::default())
        .await
        .unwrap();

    plan_shows_then_apply_repairs(
        &ws,
        &[
            "trust_policy",
            "role_description",
            "max_session_duration",
            "tags",
            "tags_all",
            "managed_policy_arns",
            "inline_policies",
            "service_account_uid",
            "irsa_annotations",
        ],
    )
    .await;

    let repaired = f.trust_policy(&role).await;
    assert_eq!(
        statement(&repaired)["Condition"],
        statement(&trust)["Condition"]
    );
    let current = f.iam_role(&role).await.unwrap();
    assert_eq!(current.description(), Some("runner manager"));
    assert_eq!(current.max_session_duration(), Some(7200));
    let tags: Vec<(&str, &str)> = current
        .tags()
        .iter()
        .map(|t| (t.key(), t.value()))
        .filter(|(k, _)| !k.contains("managed-by") && !k.contains("owner"))
        .collect();
    assert_eq!(tags, [("team", "ci")]);
    assert_eq!(
        f.attached_policies(&role).await,
        [listed.clone(), foreign.clone()].into(),
        "the listed policy is attached again; one attached outside the binding is left alone"
    );
    let inline = f.inline_policies(&role).await;
    assert_eq!(inline.keys().collect::<Vec<_>>(), ["ecr", "logs"]);
    assert_eq!(
        inline["logs"]["Statement"][0]["Action"],
        "logs:PutLogEvents"
    );
    let account = f
        .service_account()
        .await
        .expect("the ServiceAccount is back");
    assert_ne!(account.metadata.uid, uid, "a new ServiceAccount");
    assert_eq!(
        account.metadata.annotations.unwrap_or_default()[ROLE_ARN_ANNOTATION],
        current.arn()
    );

    iam.detach_role_policy()
        .role_name(&role)
        .policy_arn(&foreign)
        .send()
        .await
        .unwrap();
    ws.destroy().await.unwrap();
    f.assert_gone(&role, &[]).await;
}

/// The rules of the binding's Role in every job namespace (`None` where it is missing).
async fn rules_of_every_grant(f: &Fixture) -> Vec<Option<Vec<PolicyRule>>> {
    let mut all = Vec::new();
    for namespace in &f.jobs {
        all.push(f.rbac_role(namespace).await.and_then(|r| r.rules));
    }
    all
}

fn tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn kubernetes_drift_and_a_deleted_role_are_planned_shown_and_repaired() {
    let Some(f) = Fixture::new(
        "kubernetes_drift_and_a_deleted_role_are_planned_shown_and_repaired",
        3,
    )
    .await
    else {
        return;
    };
    let (edited, role_deleted, binding_deleted) = (&f.jobs[0], &f.jobs[1], &f.jobs[2]);
    let ws = f.workspace();
    ws.write(
        "main.tf",
        &binding(
            &f,
            &format!(
                "  labels = {}\n  annotations = {}\n  automount_service_account_token = false\n  sts_regional_endpoints = true\n{}{}{}",
                hcl_map(&[("tier", "ci")]),
                hcl_map(&[("example.com/contact", "ci@example.com")]),
                grant(edited, Some("kubernetes-executor"), &[]),
                grant(role_deleted, Some("kubernetes-executor"), &[]),
                grant(binding_deleted, Some("none"), &[("pods", &["get"])]),
            ),
        ),
    )
    .unwrap();
    ws.apply().await.unwrap();
    let before = f.service_account().await.unwrap();
    let role_arn =
        before.metadata.annotations.clone().unwrap_or_default()[ROLE_ARN_ANNOTATION].clone();
    let rules_before = rules_of_every_grant(&f).await;

    // Out of band: the ServiceAccount's annotations, label and automount; one Role's rules
    // and its RoleBinding's subjects; a Role deleted; a RoleBinding deleted.
    let patch = json!({
        "metadata": {
            "labels": {"tier": "changed"},
            "annotations": {
                ROLE_ARN_ANNOTATION: format!("arn:aws:iam::{}:role/somebody-else", f.h.account_id()),
                "eks.amazonaws.com/sts-regional-endpoints": null,
                "example.com/contact": null,
            },
        },
        "automountServiceAccountToken": true,
    });
    f.service_accounts(&f.namespace)
        .patch(
            &f.service_account,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let mut role = f.rbac_role(edited).await.unwrap();
    role.rules = Some(vec![PolicyRule {
        api_groups: Some(vec!["*".into()]),
        resources: Some(vec!["*".into()]),
        verbs: vec!["*".into()],
        ..PolicyRule::default()
    }]);
    f.roles(edited)
        .replace(&f.rbac_name(), &PostParams::default(), &role)
        .await
        .unwrap();
    let mut role_binding = f.role_binding(edited).await.unwrap();
    role_binding
        .subjects
        .get_or_insert_with(Vec::new)
        .push(Subject {
            kind: "ServiceAccount".into(),
            name: "default".into(),
            namespace: Some("default".into()),
            api_group: None,
        });
    f.role_bindings(edited)
        .replace(&f.rbac_name(), &PostParams::default(), &role_binding)
        .await
        .unwrap();
    f.roles(role_deleted)
        .delete(&f.rbac_name(), &DeleteParams::default())
        .await
        .unwrap();
    f.role_bindings(binding_deleted)
        .delete(&f.rbac_name(), &DeleteParams::default())
        .await
        .unwrap();
    // And the IAM role, alone.
    let role_name = f.default_role_name();
    let old_role_id = f.iam_role(&role_name).await.unwrap().role_id().to_string();
    f.aws
        .iam
        .delete_role()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();

    plan_shows_then_apply_repairs(
        &ws,
        &[
            "role_unique_id",
            "trust_policy",
            "irsa_annotations",
            "annotations",
            "labels",
            "automount_service_account_token",
            "grant",
        ],
    )
    .await;

    let role = f.iam_role(&role_name).await.expect("the role is back");
    assert_ne!(role.role_id(), old_role_id);
    assert_eq!(role.arn(), role_arn);
    let account = f.service_account().await.unwrap();
    assert_eq!(
        account.metadata.uid, before.metadata.uid,
        "repaired in place"
    );
    let annotations = account.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations[ROLE_ARN_ANNOTATION], role_arn);
    assert_eq!(
        annotations["eks.amazonaws.com/sts-regional-endpoints"],
        "true"
    );
    assert_eq!(annotations["example.com/contact"], "ci@example.com");
    assert_eq!(account.metadata.labels.unwrap_or_default()["tier"], "ci");
    assert_eq!(account.automount_service_account_token, Some(false));
    let rules_after = rules_of_every_grant(&f).await;
    assert_eq!(rules_after, rules_before, "every Role has its rules again");
    for namespace in &f.jobs {
        let role_binding = f
            .role_binding(namespace)
            .await
            .unwrap_or_else(|| panic!("the RoleBinding in {namespace} is back"));
        let subjects = serde_json::to_value(role_binding.subjects.unwrap_or_default()).unwrap();
        assert_eq!(
            subjects,
            json!([{"kind": "ServiceAccount", "name": f.service_account, "namespace": f.namespace}]),
            "the RoleBinding in {namespace} binds only the runner"
        );
    }

    ws.destroy().await.unwrap();
    f.assert_gone(&role_name, &f.jobs).await;
}

#[tokio::test]
async fn binding_deleted_out_of_band_leaves_state_and_the_next_plan_creates_it() {
    let Some(f) = Fixture::new(
        "binding_deleted_out_of_band_leaves_state_and_the_next_plan_creates_it",
        1,
    )
    .await
    else {
        return;
    };
    let policy = f.managed_policy("sqs:SendMessage").await;
    let ws = f.workspace();
    ws.write(
        "main.tf",
        &binding(
            &f,
            &format!(
                "  managed_policy_arns = [\"{policy}\"]\n{}",
                grant(&f.jobs[0], Some("kubernetes-executor"), &[])
            ),
        ),
    )
    .unwrap();
    ws.apply().await.unwrap();
    let role = f.default_role_name();

    // Everything goes, the way an operator cleaning up by hand would remove it.
    f.aws
        .iam
        .detach_role_policy()
        .role_name(&role)
        .policy_arn(&policy)
        .send()
        .await
        .unwrap();
    f.aws
        .iam
        .delete_role()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    f.service_accounts(&f.namespace)
        .delete(&f.service_account, &DeleteParams::default())
        .await
        .unwrap();
    f.roles(&f.jobs[0])
        .delete(&f.rbac_name(), &DeleteParams::default())
        .await
        .unwrap();
    f.role_bindings(&f.jobs[0])
        .delete(&f.rbac_name(), &DeleteParams::default())
        .await
        .unwrap();

    let refresh_only = ws.plan_refresh_only().await.unwrap();
    let drift = refresh_only
        .drift(ADDRESS)
        .expect("the deletion is reported");
    assert_eq!(drift.change.actions, [Action::Delete], "{:?}", drift.change);
    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.actions(ADDRESS),
        [Action::Create],
        "{}",
        plan.summary()
    );

    ws.apply().await.unwrap();
    assert!(f.iam_role(&role).await.is_some());
    assert_eq!(f.attached_policies(&role).await, [policy].into());
    assert!(f.service_account().await.is_some());
    assert!(f.rbac_role(&f.jobs[0]).await.is_some());
    assert!(f.role_binding(&f.jobs[0]).await.is_some());
    assert!(ws.plan().await.unwrap().is_empty());

    ws.destroy().await.unwrap();
    f.assert_gone(&role, &f.jobs).await;
}
