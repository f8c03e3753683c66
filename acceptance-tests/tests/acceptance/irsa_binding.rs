//! `gitlabrunner_irsa_binding` end to end: the real Terraform CLI creates, imports, updates
//! and destroys bindings, and the tests check the real objects in IAM (the AWS emulator) and
//! Kubernetes (the emulator or a real cluster) after every step.

use std::collections::BTreeMap;

use base64::Engine as _;
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::settings::AwsEmulatorKind;
use gitlabrunner_acceptance::{Action, State, Workspace, harness, hcl, unique_name};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use serde_json::{Value, json};

use crate::binding_support::{
    ADDRESS, Fixture, MANAGED_BY, MANAGED_BY_LABEL, OWNER_KEY, ROLE_ARN_ANNOTATION, binding,
    binding_named, changed_attributes, grant, hcl_map,
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
/// preset plus an explicit rule), a managed and an inline policy, tags over the provider's
/// default tags, labels, annotations.
fn full_binding(f: &Fixture, policy_arn: &str) -> String {
    let provider = format!(
        "  default_tags = {}",
        hcl_map(&[("env", "acceptance"), ("team", "platform")])
    );
    hcl::with_provider(&provider)
        + &format!(
            r#"
resource "gitlabrunner_irsa_binding" "runner" {{
  namespace            = "{namespace}"
  service_account_name = "{sa}"
  oidc_provider_arn    = "{oidc}"
  role_path            = "/gitlab/runners/"
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
  token_expiration                = 86400

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
        )
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
    let role_arn = format!(
        "arn:aws:iam::{}:role/gitlab/runners/{role_name}",
        f.h.account_id()
    );
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
            ("env", "acceptance"),
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
    assert_eq!(annotations["eks.amazonaws.com/token-expiration"], "86400");
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
    assert_eq!(
        binding.attr("tags"),
        &json!({"team": "ci", "cost-center": "1234"})
    );
    assert_eq!(
        binding.attr("tags_all"),
        &json!({"env": "acceptance", "team": "ci", "cost-center": "1234"})
    );
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

#[tokio::test]
async fn import_by_cli_and_by_import_block_round_trips_to_an_empty_plan() {
    let Some(f) = Fixture::new(
        "import_by_cli_and_by_import_block_round_trips_to_an_empty_plan",
        2,
    )
    .await
    else {
        return;
    };
    let policy_arn = f.managed_policy("sqs:ReceiveMessage").await;
    let configuration = full_binding(&f, &policy_arn);
    let origin = f.workspace();
    origin.write("main.tf", &configuration).unwrap();
    origin.apply().await.unwrap();
    let original = origin.show().await.unwrap();

    // terraform import, then a plan with the same configuration.
    let by_cli = f.workspace();
    by_cli.write("main.tf", &configuration).unwrap();
    let missing = by_cli
        .import_expect_error(ADDRESS, &format!("{}/no-such-account", f.namespace))
        .await
        .unwrap();
    assert!(
        missing.contains("Cannot import a binding without its ServiceAccount"),
        "{missing}"
    );
    by_cli.import(ADDRESS, &f.id()).await.unwrap();
    let imported = by_cli.show().await.unwrap();
    let plan = by_cli.plan().await.unwrap();
    assert!(
        plan.is_empty(),
        "plan after terraform import: {} {:?}",
        plan.summary(),
        plan.change(ADDRESS).map(changed_attributes)
    );
    for attribute in [
        "role_arn",
        "role_unique_id",
        "trust_policy",
        "service_account_uid",
        "irsa_annotations",
        "tags_all",
        "managed_policy_arns",
        "labels",
        "automount_service_account_token",
        "runner_config_toml",
    ] {
        assert_eq!(
            imported.resource(ADDRESS).unwrap().attr(attribute),
            original.resource(ADDRESS).unwrap().attr(attribute),
            "{attribute} after import"
        );
    }

    // An import block: the plan imports and changes nothing; apply imports.
    let by_block = f.workspace();
    by_block.write("main.tf", &configuration).unwrap();
    by_block.write_import_block(ADDRESS, &f.id()).unwrap();
    let plan = by_block.plan().await.unwrap();
    let change = plan.change(ADDRESS).unwrap();
    assert!(change.change.importing.is_some(), "{:?}", change.change);
    assert_eq!(
        change.change.actions,
        [Action::NoOp],
        "import block plan: {:?}",
        changed_attributes(change)
    );
    let applied = by_block.apply().await.unwrap();
    assert_eq!(applied.change_summary().map(|s| s.import), Some(1));
    assert!(by_block.plan().await.unwrap().is_empty());

    origin.destroy().await.unwrap();
    f.assert_gone(&f.default_role_name(), &f.jobs).await;
}

/// The update test's settings that change between steps.
struct Settings<'a> {
    role: &'a str,
    policies: &'a str,
    account: &'a str,
    grants: String,
}

fn updatable(f: &Fixture, s: &Settings<'_>) -> String {
    binding(
        f,
        &format!("{}\n{}\n{}\n{}", s.role, s.policies, s.account, s.grants),
    )
}

/// Applies the configuration and checks that it was an in-place update and that the next
/// plan is empty; returns the state.
async fn apply_update(ws: &Workspace, configuration: &str, step: &str) -> State {
    ws.write("main.tf", configuration).unwrap();
    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.actions(ADDRESS),
        [Action::Update],
        "{step}: {:?}",
        plan.change(ADDRESS).map(changed_attributes)
    );
    let applied = ws.apply().await.unwrap();
    assert_eq!(
        applied.change_summary().map(|s| s.change),
        Some(1),
        "{step}"
    );
    let again = ws.plan().await.unwrap();
    assert!(
        again.is_empty(),
        "{step}: the plan after the update is not empty: {:?}",
        again.change(ADDRESS).map(changed_attributes)
    );
    ws.show().await.unwrap()
}

fn tag_map(role: &aws_sdk_iam::types::Role) -> BTreeMap<String, String> {
    role.tags()
        .iter()
        .filter(|t| t.key() != "managed-by" && t.key() != OWNER_KEY)
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn strings(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn every_updatable_attribute_changes_in_place_rename_moves_the_role_identity_replaces() {
    let Some(f) = Fixture::new(
        "every_updatable_attribute_changes_in_place_rename_moves_the_role_identity_replaces",
        2,
    )
    .await
    else {
        return;
    };
    let (first, second, boundary) = (
        f.managed_policy("sqs:SendMessage").await,
        f.managed_policy("sns:Publish").await,
        f.managed_policy("s3:*").await,
    );
    let (job1, job2) = (&f.jobs[0], &f.jobs[1]);
    let role_v1 = format!(
        "  role_description = \"v1\"\n  tags = {}",
        hcl_map(&[("team", "ci"), ("stage", "one")])
    );
    let policies_v1 = format!(
        "  managed_policy_arns = [\"{first}\"]\n  inline_policies = {{ logs = jsonencode({{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"logs:PutLogEvents\", Resource = \"*\" }}] }}) }}"
    );
    let account_v1 = format!(
        "  labels = {}\n  annotations = {}\n  automount_service_account_token = true",
        hcl_map(&[("tier", "ci"), ("keep", "yes")]),
        hcl_map(&[("example.com/a", "1")])
    );
    let mut settings = Settings {
        role: &role_v1,
        policies: &policies_v1,
        account: &account_v1,
        grants: grant(job1, Some("kubernetes-executor"), &[]),
    };
    let ws = f.workspace();
    ws.write("main.tf", &updatable(&f, &settings)).unwrap();
    ws.apply().await.unwrap();
    let role_name = f.default_role_name();
    let role_id = f.iam_role(&role_name).await.unwrap().role_id().to_string();
    let account_uid = f.service_account().await.unwrap().metadata.uid;

    // 0. The same policy written differently (a heredoc, other key order, a list of one) is
    //    no change.
    let reformatted = "  managed_policy_arns = [\"FIRST\"]\n  inline_policies = {\n    logs = <<-EOT\n      {\n        \"Statement\": [ { \"Resource\": \"*\", \"Action\": [\"logs:PutLogEvents\"],\n                        \"Effect\": \"Allow\" } ],\n        \"Version\": \"2012-10-17\"\n      }\n    EOT\n  }"
        .replace("FIRST", &first);
    settings.policies = &reformatted;
    ws.write("main.tf", &updatable(&f, &settings)).unwrap();
    let plan = ws.plan().await.unwrap();
    assert!(
        plan.is_empty(),
        "a reformatted policy plans a change: {:?}",
        plan.change(ADDRESS).map(changed_attributes)
    );

    // 1. The role's settings and policies.
    let role_v2 = format!(
        "  role_description = \"v2\"\n  max_session_duration = 10800\n  permissions_boundary_arn = \"{boundary}\"\n  tags = {}",
        hcl_map(&[("team", "platform"), ("env", "acc")])
    );
    let policies_v2 = format!(
        "  managed_policy_arns = [\"{second}\"]\n  inline_policies = {{\n    logs = jsonencode({{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = [\"logs:PutLogEvents\", \"logs:CreateLogStream\"], Resource = \"*\" }}] }})\n    ecr  = jsonencode({{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"ecr:GetAuthorizationToken\", Resource = \"*\" }}] }})\n  }}"
    );
    settings.role = &role_v2;
    settings.policies = &policies_v2;
    apply_update(&ws, &updatable(&f, &settings), "role settings and policies").await;
    let role = f.iam_role(&role_name).await.unwrap();
    assert_eq!(role.role_id(), role_id, "updated in place, not re-created");
    assert_eq!(role.description(), Some("v2"));
    assert_eq!(role.max_session_duration(), Some(10800));
    assert_eq!(
        role.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        Some(boundary.as_str())
    );
    assert_eq!(
        tag_map(&role),
        strings(&[("team", "platform"), ("env", "acc")])
    );
    assert_eq!(
        f.attached_policies(&role_name).await,
        [second.clone()].into()
    );
    let inline = f.inline_policies(&role_name).await;
    assert_eq!(inline.keys().collect::<Vec<_>>(), ["ecr", "logs"]);
    assert_eq!(
        inline["logs"]["Statement"][0]["Action"],
        json!(["logs:PutLogEvents", "logs:CreateLogStream"])
    );

    // 2. The ServiceAccount and the audience (which changes the trust policy too).
    let account_v2 = format!(
        "  labels = {}\n  annotations = {}\n  automount_service_account_token = false\n  sts_regional_endpoints = true\n  token_expiration = 7200\n  audience = \"gitlab-acc\"",
        hcl_map(&[("tier", "build"), ("keep", "yes"), ("new", "label")]),
        hcl_map(&[("example.com/b", "2")])
    );
    settings.account = &account_v2;
    apply_update(&ws, &updatable(&f, &settings), "ServiceAccount settings").await;
    let account = f.service_account().await.unwrap();
    assert_eq!(account.metadata.uid, account_uid, "patched, not re-created");
    let labels = account.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels,
        strings(&[
            ("tier", "build"),
            ("keep", "yes"),
            ("new", "label"),
            (MANAGED_BY_LABEL, MANAGED_BY)
        ])
    );
    let annotations = account.metadata.annotations.clone().unwrap_or_default();
    assert!(
        !annotations.contains_key("example.com/a"),
        "{annotations:?}"
    );
    assert_eq!(annotations["example.com/b"], "2");
    assert_eq!(
        annotations["eks.amazonaws.com/sts-regional-endpoints"],
        "true"
    );
    assert_eq!(annotations["eks.amazonaws.com/token-expiration"], "7200");
    assert_eq!(annotations["eks.amazonaws.com/audience"], "gitlab-acc");
    assert_eq!(account.automount_service_account_token, Some(false));
    let trust = f.trust_policy(&role_name).await;
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"][format!("{}:aud", f.oidc.host_path)],
        "gitlab-acc"
    );

    // 3. Grants: more rules in one namespace, a new namespace.
    settings.grants = format!(
        "{}{}",
        grant(
            job1,
            Some("kubernetes-executor"),
            &[("configmaps", &["get"])]
        ),
        grant(job2, Some("none"), &[("pods", &["get", "list"])])
    );
    apply_update(&ws, &updatable(&f, &settings), "grants").await;
    let rules = f.rbac_role(job1).await.unwrap().rules.unwrap_or_default();
    assert_eq!(rules.len(), 9);
    assert_eq!(
        rules[8].resources.as_deref(),
        Some(&["configmaps".to_string()][..])
    );
    let rules = f.rbac_role(job2).await.unwrap().rules.unwrap_or_default();
    assert_eq!(
        serde_json::to_value(&rules).unwrap(),
        json!([rule("pods", &["get", "list"])])
    );
    assert!(f.role_binding(job2).await.is_some());

    // 4. Rename the role (and drop the first grant): the new role takes over, the old goes.
    let renamed = unique_name("acc-renamed");
    let role_v3 = format!("{role_v2}\n  role_name = \"{renamed}\"");
    settings.role = &role_v3;
    settings.grants = grant(job2, Some("none"), &[("pods", &["get", "list"])]);
    let state = apply_update(&ws, &updatable(&f, &settings), "role rename").await;
    let new_arn = format!("arn:aws:iam::{}:role/{renamed}", f.h.account_id());
    assert!(
        f.iam_role(&role_name).await.is_none(),
        "the old role is gone"
    );
    let role = f.iam_role(&renamed).await.expect("the new role exists");
    assert_eq!(role.arn(), new_arn);
    assert_eq!(role.description(), Some("v2"));
    assert_eq!(f.attached_policies(&renamed).await, [second.clone()].into());
    assert_eq!(f.inline_policies(&renamed).await.len(), 2);
    let annotations = f
        .service_account()
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert_eq!(
        annotations[ROLE_ARN_ANNOTATION], new_arn,
        "annotation switched"
    );
    assert_eq!(
        state.resource(ADDRESS).unwrap().str_attr("role_arn"),
        Some(new_arn.as_str())
    );
    assert!(f.rbac_role(job1).await.is_none() && f.role_binding(job1).await.is_none());

    // 5. A new path: IAM cannot move a role, so it is re-created under the same name.
    let role_v4 = format!("{role_v3}\n  role_path = \"/ci/runners/\"");
    settings.role = &role_v4;
    apply_update(&ws, &updatable(&f, &settings), "role path").await;
    let role = f.iam_role(&renamed).await.unwrap();
    assert_eq!(role.path(), "/ci/runners/");
    let moved_arn = format!(
        "arn:aws:iam::{}:role/ci/runners/{renamed}",
        f.h.account_id()
    );
    assert_eq!(role.arn(), moved_arn);
    assert_eq!(f.attached_policies(&renamed).await, [second.clone()].into());
    let annotations = f
        .service_account()
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert_eq!(annotations[ROLE_ARN_ANNOTATION], moved_arn);

    // 6. Every optional setting removed again.
    let role_bare = format!("  role_name = \"{renamed}\"\n  role_path = \"/ci/runners/\"");
    settings.role = &role_bare;
    settings.policies = "";
    settings.account = "";
    apply_update(&ws, &updatable(&f, &settings), "optional settings removed").await;
    let role = f.iam_role(&renamed).await.unwrap();
    assert_eq!(role.description().filter(|d| !d.is_empty()), None);
    assert_eq!(role.max_session_duration(), Some(3600));
    assert!(role.permissions_boundary().is_none(), "{role:?}");
    assert!(tag_map(&role).is_empty(), "{:?}", role.tags());
    assert!(f.attached_policies(&renamed).await.is_empty());
    assert!(f.inline_policies(&renamed).await.is_empty());
    let account = f.service_account().await.unwrap();
    assert_eq!(
        account.metadata.labels.clone().unwrap_or_default(),
        strings(&[(MANAGED_BY_LABEL, MANAGED_BY)])
    );
    let annotations = account.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.keys().map(String::as_str).collect::<Vec<_>>(),
        [ROLE_ARN_ANNOTATION, OWNER_KEY]
    );
    assert_eq!(account.automount_service_account_token, None);
    assert_eq!(
        f.trust_policy(&renamed).await["Statement"][0]["Condition"]["StringEquals"]
            [format!("{}:aud", f.oidc.host_path)],
        "sts.amazonaws.com"
    );

    // 7. Another ServiceAccount is another binding: replaced.
    let other = unique_name("runner");
    let configuration = binding_named(
        &f,
        &other,
        &format!(
            "{}\n{}\n{}\n{}",
            settings.role, settings.policies, settings.account, settings.grants
        ),
    );
    ws.write("main.tf", &configuration).unwrap();
    let plan = ws.plan().await.unwrap();
    let change = plan.change(ADDRESS).unwrap();
    assert!(change.is_replace(), "{:?}", change.change.actions);
    assert_eq!(
        change.change.replace_paths,
        [json!(["service_account_name"])]
    );
    ws.apply().await.unwrap();
    assert!(
        f.service_account().await.is_none(),
        "the old ServiceAccount is gone"
    );
    let replacement = f
        .service_accounts(&f.namespace)
        .get_opt(&other)
        .await
        .unwrap()
        .expect("the new ServiceAccount exists");
    assert_eq!(
        replacement.metadata.annotations.unwrap_or_default()[ROLE_ARN_ANNOTATION],
        moved_arn
    );
    let trust = f.trust_policy(&renamed).await;
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"][format!("{}:sub", f.oidc.host_path)],
        format!("system:serviceaccount:{}:{other}", f.namespace)
    );
    assert!(ws.plan().await.unwrap().is_empty());

    ws.destroy().await.unwrap();
    assert!(f.iam_role(&renamed).await.is_none());
    assert!(
        f.service_accounts(&f.namespace)
            .get_opt(&other)
            .await
            .unwrap()
            .is_none()
    );
    assert!(f.role_binding(job2).await.is_none());
}

#[tokio::test]
async fn govcloud_binding_uses_aws_us_gov_arns_everywhere() {
    let test = "govcloud_binding_uses_aws_us_gov_arns_everywhere";
    let Some(h) = harness(test).await else {
        return;
    };
    if h.aws().kind() != Some(AwsEmulatorKind::Moto) {
        say!(
            "skipped {test}: only moto keeps us-gov-west-1 apart ({} rewrites it \
             to us-east-1 and answers with arn:aws: ARNs; see test-rig.md)",
            h.aws()
                .kind()
                .map_or("this emulator", AwsEmulatorKind::name)
        );
        return;
    }
    let f = Fixture::in_region(h, 1, "us-gov-west-1").await;
    let account = f.h.account_id().to_string();
    assert!(
        f.oidc
            .arn
            .starts_with(&format!("arn:aws-us-gov:iam::{account}:oidc-provider/")),
        "{}",
        f.oidc.arn
    );
    let policy = f.managed_policy("sqs:SendMessage").await;
    assert!(policy.starts_with("arn:aws-us-gov:iam::"), "{policy}");
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
    let role_name = f.default_role_name();
    let role_arn = format!("arn:aws-us-gov:iam::{account}:role/{role_name}");

    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.change(ADDRESS).unwrap().change.after["role_arn"],
        json!(role_arn)
    );
    ws.apply().await.unwrap();

    let role = f.iam_role(&role_name).await.expect("the role exists");
    assert_eq!(role.arn(), role_arn);
    let trust = f.trust_policy(&role_name).await;
    assert_eq!(
        trust["Statement"][0]["Principal"]["Federated"],
        json!(f.oidc.arn)
    );
    assert_eq!(f.attached_policies(&role_name).await, [policy].into());
    let annotations = f
        .service_account()
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default();
    assert_eq!(annotations[ROLE_ARN_ANNOTATION], role_arn);
    let state = ws.show().await.unwrap();
    let trust_in_state: Value = serde_json::from_str(
        state
            .resource(ADDRESS)
            .unwrap()
            .str_attr("trust_policy")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        trust_in_state["Statement"][0]["Principal"]["Federated"],
        json!(f.oidc.arn)
    );
    let text = serde_json::to_string(&state.resource(ADDRESS).unwrap().values).unwrap();
    assert!(
        !text.contains("arn:aws:"),
        "a commercial ARN in state: {text}"
    );
    assert!(ws.plan().await.unwrap().is_empty());

    ws.destroy().await.unwrap();
    f.assert_gone(&role_name, &f.jobs).await;
}

/// The claims of a JWT (its middle segment), unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three segments");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A token for `namespace/name` with `audience`, minted by TokenRequest.
async fn mint_token(f: &Fixture, namespace: &str, name: &str, audience: &str) -> String {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_string()],
            expiration_seconds: Some(600),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    f.service_accounts(namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .expect("TokenRequest answers with a status")
        .token
}

#[tokio::test]
async fn service_account_tokens_match_the_trust_policy_and_verify_assumes_the_role() {
    let Some(f) = Fixture::new(
        "service_account_tokens_match_the_trust_policy_and_verify_assumes_the_role",
        0,
    )
    .await
    else {
        return;
    };
    let ws = f.workspace();
    // The OIDC provider comes from the provider block here.
    let configuration = format!(
        "{}\nresource \"gitlabrunner_irsa_binding\" \"runner\" {{\n  namespace = {}\n  service_account_name = {}\n  verify {{\n    timeout_seconds = 30\n  }}\n}}\n",
        hcl::with_provider(&format!(
            "  oidc_provider_arn = {}",
            hcl::quote(&f.oidc.arn)
        )),
        hcl::quote(&f.namespace),
        hcl::quote(&f.service_account),
    );
    ws.write("main.tf", &configuration).unwrap();
    ws.apply().await.unwrap();
    let role_name = f.default_role_name();
    let state = ws.show().await.unwrap();
    let verified = state
        .resource(ADDRESS)
        .unwrap()
        .str_attr("verified_identity_arn")
        .expect("verify recorded the identity STS returned")
        .to_string();
    assert!(
        verified.starts_with(&format!(
            "arn:aws:sts::{}:assumed-role/{role_name}/",
            f.h.account_id()
        )),
        "{verified}"
    );

    // The conditions IAM holds, against the claims of a real token of the ServiceAccount.
    let trust = f.trust_policy(&role_name).await;
    let statement = &trust["Statement"][0];
    let conditions = &statement["Condition"]["StringEquals"];
    let token = mint_token(&f, &f.namespace, &f.service_account, "sts.amazonaws.com").await;
    let claims = claims(&token);
    assert_eq!(
        claims["iss"].as_str(),
        Some(f.oidc.issuer.as_str()),
        "the token's issuer is the one registered in IAM"
    );
    let federated = statement["Principal"]["Federated"].as_str().unwrap();
    assert!(
        federated.ends_with(&format!(":oidc-provider/{}", f.oidc.host_path)),
        "{federated}"
    );
    let key = |claim: &str| format!("{}:{claim}", f.oidc.host_path);
    assert_eq!(conditions[key("sub")], claims["sub"], "sub: {claims}");
    let audiences = match &claims["aud"] {
        Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    };
    assert!(
        audiences.contains(&conditions[key("aud")]),
        "aud {audiences:?} lacks {}",
        conditions[key("aud")]
    );
    // Another ServiceAccount's token does not meet the condition.
    let other = claims_of_another_account(&f).await;
    assert_ne!(conditions[key("sub")], other["sub"]);

    // The emulators exchange the token for credentials. They check neither its signature
    // nor the trust policy's conditions: that part is proved above, not by STS here.
    let assumed = f
        .aws
        .sts
        .assume_role_with_web_identity()
        .role_arn(
            state
                .resource(ADDRESS)
                .unwrap()
                .str_attr("role_arn")
                .unwrap(),
        )
        .role_session_name("acceptance")
        .web_identity_token(&token)
        .send()
        .await
        .unwrap();
    let user = assumed.assumed_role_user().unwrap();
    assert!(
        user.arn().contains(&format!(":assumed-role/{role_name}/")),
        "{}",
        user.arn()
    );
    assert!(ws.plan().await.unwrap().is_empty());

    ws.destroy().await.unwrap();
    f.assert_gone(&role_name, &[]).await;
}

/// The claims of a token of another ServiceAccount in the binding's namespace.
async fn claims_of_another_account(f: &Fixture) -> Value {
    let other = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(unique_name("other")),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    let other = f
        .service_accounts(&f.namespace)
        .create(&PostParams::default(), &other)
        .await
        .unwrap();
    let name = other.metadata.name.unwrap();
    claims(&mint_token(f, &f.namespace, &name, "sts.amazonaws.com").await)
}

/// A ServiceAccount as the gitlab-runner Helm chart makes it.
fn helm_service_account(f: &Fixture) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(f.service_account.clone()),
            namespace: Some(f.namespace.clone()),
            labels: Some(strings(&[
                (MANAGED_BY_LABEL, "Helm"),
                ("app", "gitlab-runner"),
            ])),
            annotations: Some(strings(&[
                ("meta.helm.sh/release-name", "gitlab-runner"),
                ("meta.helm.sh/release-namespace", &f.namespace),
            ])),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    }
}

#[tokio::test]
async fn existing_service_account_is_refused_unless_adopted_and_destroy_gives_it_back() {
    let Some(f) = Fixture::new(
        "existing_service_account_is_refused_unless_adopted_and_destroy_gives_it_back",
        1,
    )
    .await
    else {
        return;
    };
    let helm = PostParams {
        field_manager: Some("helm".into()),
        ..PostParams::default()
    };
    let existing = f
        .service_accounts(&f.namespace)
        .create(&helm, &helm_service_account(&f))
        .await
        .unwrap();
    let role_name = f.default_role_name();
    let body = |adopt: bool| {
        format!(
            "  adopt_existing_service_account = {adopt}\n  labels = {}\n  annotations = {}\n{}",
            hcl_map(&[("team", "ci")]),
            hcl_map(&[("example.com/contact", "ci@example.com")]),
            grant(&f.jobs[0], Some("kubernetes-executor"), &[])
        )
    };

    // Without adoption: an error naming the ServiceAccount, and nothing left behind.
    let ws = f.workspace();
    ws.write("main.tf", &binding(&f, &body(false))).unwrap();
    let diagnostics = ws.apply_expect_error().await.unwrap();
    let error = diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("no error in {diagnostics:?}"));
    let text = error.one_line();
    assert!(
        text.contains(&format!("ServiceAccount {}", f.id())),
        "the error names the ServiceAccount: {text}"
    );
    assert!(ws.show().await.unwrap().is_empty(), "nothing in state");
    assert!(f.iam_role(&role_name).await.is_none(), "no IAM role left");
    assert!(f.rbac_role(&f.jobs[0]).await.is_none());
    assert!(f.role_binding(&f.jobs[0]).await.is_none());
    let untouched = f.service_account().await.unwrap();
    assert_eq!(untouched.metadata.labels, existing.metadata.labels);
    assert_eq!(
        untouched.metadata.annotations,
        existing.metadata.annotations
    );

    // With adoption: the binding adds its fields and keeps the chart's.
    ws.write("main.tf", &binding(&f, &body(true))).unwrap();
    ws.apply().await.unwrap();
    let adopted = f.service_account().await.unwrap();
    assert_eq!(
        adopted.metadata.uid, existing.metadata.uid,
        "the same object"
    );
    let labels = adopted.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels[MANAGED_BY_LABEL], "Helm", "the chart still owns it");
    assert_eq!(labels["app"], "gitlab-runner");
    assert_eq!(labels["team"], "ci");
    let annotations = adopted.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations["meta.helm.sh/release-name"], "gitlab-runner");
    assert_eq!(
        annotations[ROLE_ARN_ANNOTATION],
        format!("arn:aws:iam::{}:role/{role_name}", f.h.account_id())
    );
    assert_eq!(annotations[OWNER_KEY], f.id());
    let state = ws.show().await.unwrap();
    assert_eq!(
        state
            .resource(ADDRESS)
            .unwrap()
            .attr("service_account_adopted"),
        &json!(true)
    );
    assert!(f.iam_role(&role_name).await.is_some());
    assert!(ws.plan().await.unwrap().is_empty());
    // Imported, the binding is just as adopted: the chart's labels and annotations are not
    // the binding's.
    let imported = f.workspace();
    imported
        .write("main.tf", &binding(&f, &body(true)))
        .unwrap();
    imported.import(ADDRESS, &f.id()).await.unwrap();
    let plan = imported.plan().await.unwrap();
    assert!(
        plan.is_empty(),
        "plan after importing an adopted binding: {:?}",
        plan.change(ADDRESS)
            .map(|c| (changed_attributes(c), &c.change.before))
    );

    // A Helm upgrade writes the chart's ServiceAccount back, without the binding's fields:
    // drift that plan shows and apply repairs, keeping what the chart wrote.
    let mut upgraded = helm_service_account(&f);
    upgraded.metadata.resource_version = adopted.metadata.resource_version.clone();
    f.service_accounts(&f.namespace)
        .replace(&f.service_account, &helm, &upgraded)
        .await
        .unwrap();
    let plan = ws.plan().await.unwrap();
    let drifted = changed_attributes(plan.change(ADDRESS).unwrap());
    assert!(
        drifted.contains("irsa_annotations") && drifted.contains("labels"),
        "{drifted:?}"
    );
    // ... and a changed label set: the label the binding no longer wants goes.
    let relabelled = body(true).replace("team", "tier");
    ws.write("main.tf", &binding(&f, &relabelled)).unwrap();
    ws.apply().await.unwrap();
    let repaired = f.service_account().await.unwrap();
    let labels = repaired.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels,
        strings(&[
            (MANAGED_BY_LABEL, "Helm"),
            ("app", "gitlab-runner"),
            ("tier", "ci")
        ])
    );
    let annotations = repaired.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations[ROLE_ARN_ANNOTATION],
        format!("arn:aws:iam::{}:role/{role_name}", f.h.account_id())
    );
    assert_eq!(annotations["meta.helm.sh/release-name"], "gitlab-runner");
    assert!(ws.plan().await.unwrap().is_empty());

    // Destroy removes the binding's fields only.
    ws.destroy().await.unwrap();
    let given_back = f
        .service_account()
        .await
        .expect("an adopted ServiceAccount stays");
    assert_eq!(given_back.metadata.uid, existing.metadata.uid);
    assert_eq!(given_back.metadata.labels, existing.metadata.labels);
    assert_eq!(
        given_back.metadata.annotations, existing.metadata.annotations,
        "no annotation of the binding is left"
    );
    assert!(f.iam_role(&role_name).await.is_none());
    assert!(f.rbac_role(&f.jobs[0]).await.is_none());
    assert!(f.role_binding(&f.jobs[0]).await.is_none());
}

#[tokio::test]
async fn values_known_only_after_apply_plan_as_unknown_then_apply_and_settle() {
    let Some(f) = Fixture::new(
        "values_known_only_after_apply_plan_as_unknown_then_apply_and_settle",
        1,
    )
    .await
    else {
        return;
    };
    // terraform_data outputs are unknown until applied, like a namespace or a policy
    // document coming from other resources.
    let configuration = format!(
        r#"{provider}
resource "terraform_data" "namespace" {{
  input = {namespace}
}}
resource "terraform_data" "policy" {{
  input = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }}] }})
}}
resource "gitlabrunner_irsa_binding" "runner" {{
  namespace            = terraform_data.namespace.output
  service_account_name = {sa}
  oidc_provider_arn    = {oidc}
  tags                 = {{ namespace = terraform_data.namespace.output }}
  labels               = {{ namespace = terraform_data.namespace.output }}
  inline_policies      = {{ read = terraform_data.policy.output }}
  grant {{
    namespace = {job}
    preset    = "kubernetes-executor"
    rule {{
      api_groups = [""]
      resources  = ["configmaps"]
      verbs      = [terraform_data.namespace.output == "" ? "list" : "get"]
    }}
  }}
}}
"#,
        provider = hcl::with_provider(""),
        namespace = hcl::quote(&f.namespace),
        sa = hcl::quote(&f.service_account),
        oidc = hcl::quote(&f.oidc.arn),
        job = hcl::quote(&f.jobs[0]),
    );
    let ws = f.workspace();
    ws.write("main.tf", &configuration).unwrap();

    let plan = ws.plan().await.unwrap();
    let change = plan.change(ADDRESS).unwrap();
    for attribute in [
        "id",
        "role_arn",
        "trust_policy",
        "irsa_annotations",
        "tags_all",
    ] {
        assert!(change.is_unknown_after(attribute), "{attribute} is unknown");
    }
    ws.apply().await.unwrap();

    let role_name = f.default_role_name();
    let role = f.iam_role(&role_name).await.expect("the role exists");
    assert!(
        role.tags()
            .iter()
            .any(|t| t.key() == "namespace" && t.value() == f.namespace)
    );
    assert_eq!(
        f.inline_policies(&role_name).await["read"]["Statement"][0]["Action"],
        "s3:GetObject"
    );
    let rules = f
        .rbac_role(&f.jobs[0])
        .await
        .unwrap()
        .rules
        .unwrap_or_default();
    assert_eq!(rules.last().unwrap().verbs, ["get"]);
    let again = ws.plan().await.unwrap();
    assert!(
        again.is_empty(),
        "{:?}",
        again.change(ADDRESS).map(changed_attributes)
    );

    ws.destroy().await.unwrap();
    f.assert_gone(&role_name, &f.jobs).await;
}
