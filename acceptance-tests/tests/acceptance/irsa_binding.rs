//! `gitlabrunner_irsa_binding` end to end: the real Terraform CLI creates, imports, updates
//! and destroys bindings, and the tests check the real objects in IAM (the AWS emulator) and
//! Kubernetes (the emulator or a real cluster) after every step.

use std::collections::BTreeMap;

use gitlabrunner_acceptance::Action;
use serde_json::{Value, json};

use crate::binding_support::{
    ADDRESS, Fixture, MANAGED_BY, MANAGED_BY_LABEL, OWNER_KEY, ROLE_ARN_ANNOTATION, config, hcl_map,
};

/// The GitLab-documented rules of the `kubernetes-executor` preset, in order.
const EXECUTOR_RULES: [(&str, &[&str]); 8] = [
    ("events", &["list", "watch"]),
    ("pods", &["create", "delete", "get", "list", "watch"]),
    ("pods/attach", &["create", "delete", "get", "patch"]),
    ("pods/exec", &["create", "delete", "get", "patch"]),
    ("pods/log", &["get", "list"]),
    ("secrets", &["create", "delete", "get", "update"]),
    ("serviceaccounts", &["get"]),
    ("services", &["create", "get"]),
];

/// A runner manager's binding with every part in use: two job namespaces (a preset, and a
/// preset plus an explicit rule), a managed and an inline policy, tags, labels, annotations.
fn full_binding(f: &Fixture, policy_arn: &str) -> String {
    config(&format!(
        r#"
resource "gitlabrunner_irsa_binding" "runner" {{
  namespace            = "{namespace}"
  service_account_name = "{sa}"
  oidc_provider_arn    = "{oidc}"
  role_description     = "GitLab Runner manager (acceptance)"
  max_session_duration = 7200
  tags                 = {tags}
  managed_policy_arns  = ["{policy_arn}"]
  inline_policies = {{
    cache = jsonencode({{
      Version   = "2012-10-17"
      Statement = [{{ Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = "arn:aws:s3:::acc-cache/*" }}]
    }})
  }}
  labels                          = {labels}
  annotations                     = {annotations}
  automount_service_account_token = false
  sts_regional_endpoints          = true

  grant {{
    namespace = "{job1}"
    preset    = "kubernetes-executor"
  }}
  grant {{
    namespace = "{job2}"
    preset    = "kubernetes-executor"
    rule {{
      api_groups = [""]
      resources  = ["configmaps"]
      verbs      = ["get", "list"]
    }}
  }}
}}
"#,
        namespace = f.namespace,
        sa = f.service_account,
        oidc = f.oidc.arn,
        job1 = f.jobs[0],
        job2 = f.jobs[1],
        tags = hcl_map(&[("team", "ci"), ("cost-center", "1234")]),
        labels = hcl_map(&[("app.kubernetes.io/name", "gitlab-runner")]),
        annotations = hcl_map(&[("example.com/contact", "ci@example.com")]),
    ))
}

fn rule(resources: &str, verbs: &[&str]) -> Value {
    json!({"apiGroups": [""], "resources": [resources], "verbs": verbs})
}

#[tokio::test]
async fn create_wires_role_service_account_and_rbac_then_plan_is_empty_and_destroy_removes_all() {
    let Some(f) = Fixture::new(
        "create_wires_role_service_account_and_rbac_then_plan_is_empty_and_destroy_removes_all",
        2,
    )
    .await
    else {
        return;
    };
    let policy_arn = f.managed_policy("sqs:SendMessage").await;
    let ws = f.workspace();
    ws.write("main.tf", &full_binding(&f, &policy_arn)).unwrap();

    let plan = ws.plan().await.unwrap();
    let created = plan.change(ADDRESS).expect("the binding is planned");
    assert_eq!(created.change.actions, [Action::Create]);
    // Known before apply: the ARN follows from partition, account, path and name.
    let role_name = f.default_role_name();
    let role_arn = format!("arn:aws:iam::{}:role/{role_name}", f.h.account_id());
    assert_eq!(created.change.after["role_arn"], json!(role_arn));
    assert!(created.is_unknown_after("role_unique_id"));

    ws.apply().await.unwrap();

    // IAM: the role, its trust policy, tags, policies.
    let role = f.iam_role(&role_name).await.expect("the role exists");
    assert_eq!(role.arn(), role_arn);
    assert_eq!(
        role.description(),
        Some("GitLab Runner manager (acceptance)")
    );
    assert_eq!(role.max_session_duration(), Some(7200));
    let tags: BTreeMap<&str, &str> = role.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(
        tags,
        BTreeMap::from([
            ("team", "ci"),
            ("cost-center", "1234"),
            ("managed-by", MANAGED_BY),
            (OWNER_KEY, f.id().as_str()),
        ])
    );
    let trust = f.trust_policy(&role_name).await;
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    assert_eq!(statement["Principal"]["Federated"], json!(f.oidc.arn));
    let issuer = &f.oidc.host_path;
    assert_eq!(
        statement["Condition"],
        json!({"StringEquals": {
            format!("{issuer}:sub"): format!("system:serviceaccount:{}", f.id().replace('/', ":")),
            format!("{issuer}:aud"): "sts.amazonaws.com",
        }}),
        "exact-match conditions on both sub and aud"
    );
    assert_eq!(
        f.attached_policies(&role_name).await,
        [policy_arn.clone()].into()
    );
    let inline = f.inline_policies(&role_name).await;
    assert_eq!(inline.keys().collect::<Vec<_>>(), ["cache"]);
    assert_eq!(
        inline["cache"]["Statement"][0]["Action"],
        json!(["s3:GetObject", "s3:PutObject"])
    );

    // Kubernetes: the annotated ServiceAccount.
    let account = f
        .service_account()
        .await
        .expect("the ServiceAccount exists");
    let labels = account.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get(MANAGED_BY_LABEL).map(String::as_str),
        Some(MANAGED_BY)
    );
    assert_eq!(labels["app.kubernetes.io/name"], "gitlab-runner");
    let annotations = account.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations[ROLE_ARN_ANNOTATION], role_arn);
    assert_eq!(
        annotations["eks.amazonaws.com/sts-regional-endpoints"],
        "true"
    );
    assert_eq!(annotations["example.com/contact"], "ci@example.com");
    assert_eq!(annotations[OWNER_KEY], f.id());
    assert_eq!(account.automount_service_account_token, Some(false));

    // Kubernetes: a Role and a RoleBinding in each job namespace, nothing cluster-wide.
    let executor: Vec<Value> = EXECUTOR_RULES
        .iter()
        .map(|(resource, verbs)| rule(resource, verbs))
        .collect();
    let mut with_configmaps = executor.clone();
    with_configmaps.push(rule("configmaps", &["get", "list"]));
    for (job, expected_rules) in [(&f.jobs[0], &executor), (&f.jobs[1], &with_configmaps)] {
        let role = f.rbac_role(job).await.expect("the Role exists");
        assert_eq!(
            serde_json::to_value(role.rules.clone().unwrap_or_default()).unwrap(),
            json!(expected_rules),
            "rules of the Role in {job}"
        );
        let role_labels = role.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            role_labels.get(MANAGED_BY_LABEL).map(String::as_str),
            Some(MANAGED_BY)
        );
        let binding = f.role_binding(job).await.expect("the RoleBinding exists");
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(binding.role_ref.name, f.rbac_name());
        let subjects = serde_json::to_value(binding.subjects.clone().unwrap_or_default()).unwrap();
        assert_eq!(
            subjects,
            json!([{"kind": "ServiceAccount", "name": f.service_account, "namespace": f.namespace}])
        );
    }

    // State: what exists, with its identifiers.
    let state = ws.show().await.unwrap();
    let binding = state.resource(ADDRESS).unwrap();
    assert_eq!(binding.str_attr("id"), Some(f.id().as_str()));
    assert_eq!(binding.str_attr("role_unique_id"), role.role_id().into());
    assert_eq!(
        binding.str_attr("service_account_uid"),
        account.metadata.uid.as_deref()
    );
    assert_eq!(binding.attr("service_account_adopted"), &json!(false));
    let toml = binding.str_attr("runner_config_toml").unwrap();
    assert!(
        toml.contains(&format!("namespace = \"{}\"", f.jobs[0])),
        "{toml}"
    );

    let again = ws.plan().await.unwrap();
    assert!(again.is_empty(), "second plan: {}", again.summary());

    let destroyed = ws.destroy().await.unwrap();
    assert_eq!(destroyed.change_summary().map(|s| s.remove), Some(1));
    assert!(ws.show().await.unwrap().is_empty());
    f.assert_gone(&role_name, &f.jobs).await;
    let policy_still_there = f.aws.iam.get_policy().policy_arn(&policy_arn).send().await;
    assert!(
        policy_still_there.is_ok(),
        "destroy detaches managed policies, it does not delete them"
    );
}
