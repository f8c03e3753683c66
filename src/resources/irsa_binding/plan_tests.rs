//! Plans: what is known before apply, what replaces the resource, and no perpetual diffs.

use crate::codec::{AttributePath, Value};

use super::testing::{
    OIDC, defaults, empty_config, grant, manager_config, plan, plan_is_empty, plan_with,
};

fn create_plan(config: &Value) -> Value {
    let (change, diags) = plan(&Value::Null, config);
    assert!(!diags.has_errors(), "{diags:?}");
    change.planned
}

/// A state as apply would leave it for `config`.
fn applied(config: &Value) -> Value {
    let mut state = create_plan(config);
    state.set_attr("role_unique_id", "AROAEXAMPLE".into());
    state.set_attr("service_account_uid", "uid-1".into());
    state.set_attr("service_account_adopted", false.into());
    state
}

#[test]
fn everything_derivable_is_known_at_plan_time() {
    let planned = create_plan(&manager_config());
    assert_eq!(planned.get("id"), &Value::from("ci-runner/gitlab-runner"));
    assert_eq!(planned.get("oidc_provider_arn"), &Value::from(OIDC));
    assert_eq!(
        planned.get("role_name"),
        &Value::from("ci-runner-gitlab-runner")
    );
    assert_eq!(
        planned.get("role_arn"),
        &Value::from("arn:aws:iam::123456789012:role/ci-runner-gitlab-runner")
    );
    let trust = planned.get("trust_policy").as_str().unwrap();
    assert!(trust.contains("\"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub\":\"system:serviceaccount:ci-runner:gitlab-runner\""));
    assert!(
        trust.contains("\"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:aud\":\"sts.amazonaws.com\"")
    );
    assert_eq!(
        planned.get("tags_all"),
        &Value::string_map([("env", "test"), ("team", "ci")])
    );
    assert_eq!(
        planned.get("irsa_annotations"),
        &Value::string_map([
            (
                "eks.amazonaws.com/role-arn",
                "arn:aws:iam::123456789012:role/ci-runner-gitlab-runner"
            ),
            ("eks.amazonaws.com/sts-regional-endpoints", "true"),
        ])
    );
    let grants = planned.get("grant").as_elements().unwrap();
    for grant in grants {
        assert_eq!(
            grant.get("role_name"),
            &Value::from("ci-runner.gitlab-runner")
        );
        assert_eq!(
            grant.get("role_binding_name"),
            &Value::from("ci-runner.gitlab-runner")
        );
        assert!(grant.get("role_rules").is_wholly_known());
    }
    assert_eq!(grants[0].get("role_rules").as_elements().unwrap().len(), 8);
    assert_eq!(grants[2].get("role_rules").as_elements().unwrap().len(), 1);
    let toml = planned.get("runner_config_toml").as_str().unwrap();
    assert!(toml.contains("namespace = \"ci-jobs\""));
    assert_eq!(planned.get("service_account_adopted"), &Value::Bool(false));
    assert_eq!(planned.get("verified_identity_arn"), &Value::Null);
    for unknown in ["role_unique_id", "service_account_uid"] {
        assert!(planned.get(unknown).is_unknown(), "{unknown}");
    }
    assert_eq!(planned.get("role_path"), &Value::from("/"));
    assert_eq!(planned.get("audience"), &Value::from("sts.amazonaws.com"));
    assert_eq!(planned.get("max_session_duration"), &Value::int(3600));
}

#[test]
fn values_that_depend_on_unknowns_are_unknown_and_the_rest_stay_known() {
    let mut config = manager_config();
    config.set_attr("role_name", Value::Unknown);
    let planned = create_plan(&config);
    assert!(planned.get("role_arn").is_unknown());
    assert!(planned.get("irsa_annotations").is_unknown());
    assert!(planned.get("trust_policy").as_str().is_some());

    let mut config = manager_config();
    config.set_attr("oidc_provider_arn", Value::Unknown);
    let planned = create_plan(&config);
    assert!(planned.get("role_arn").is_unknown());
    assert!(planned.get("trust_policy").is_unknown());
    assert!(planned.get("runner_config_toml").as_str().is_some());

    let mut config = manager_config();
    config.set_attr("tags", Value::Unknown);
    assert!(create_plan(&config).get("tags_all").is_unknown());
}

#[test]
fn govcloud_uses_its_partition_everywhere() {
    let gov = "arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/GOV";
    let mut defaults = defaults();
    defaults.region = Some("us-gov-west-1".into());
    defaults.oidc_provider_arn = Some(gov.into());
    let (change, diags) = plan_with(&defaults, &Value::Null, &manager_config());
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(
        change.planned.get("role_arn"),
        &Value::from("arn:aws-us-gov:iam::123456789012:role/ci-runner-gitlab-runner")
    );
    assert!(
        change
            .planned
            .get("trust_policy")
            .as_str()
            .unwrap()
            .contains(gov)
    );
}

#[test]
fn a_role_path_shows_in_the_arn() {
    let mut config = manager_config();
    config.set_attr("role_path", "/ci/runners/".into());
    config.set_attr("role_name", "manager".into());
    assert_eq!(
        create_plan(&config).get("role_arn"),
        &Value::from("arn:aws:iam::123456789012:role/ci/runners/manager")
    );
}

#[test]
fn the_same_configuration_plans_no_change() {
    let config = manager_config();
    plan_is_empty(&applied(&config), &config).unwrap();
}

#[test]
fn only_the_identity_requires_replacement() {
    let config = manager_config();
    let state = applied(&config);
    for (name, value) in [
        ("namespace", Value::from("other-ns")),
        ("service_account_name", Value::from("other")),
    ] {
        let mut changed = config.clone();
        changed.set_attr(name, value);
        let (change, _) = plan(&state, &changed);
        assert_eq!(change.requires_replace, vec![AttributePath::new(name)]);
    }
    for (name, value) in [
        ("role_name", Value::from("renamed")),
        ("role_path", Value::from("/x/")),
        ("audience", Value::from("other")),
        ("tags", Value::string_map([("a", "b")])),
        ("labels", Value::Null),
        ("adopt_existing_service_account", Value::Bool(true)),
        (
            "grant",
            Value::List(vec![grant("ci-jobs", Some("kubernetes-executor"), vec![])]),
        ),
    ] {
        let mut changed = config.clone();
        changed.set_attr(name, value);
        let (change, diags) = plan(&state, &changed);
        assert!(!diags.has_errors(), "{name}: {diags:?}");
        assert!(change.requires_replace.is_empty(), "{name}");
        assert_ne!(change.planned, state, "{name} is a change");
    }
}

#[test]
fn a_rename_plans_a_new_role_id_and_the_new_arn() {
    let config = manager_config();
    let state = applied(&config);
    let mut renamed = config.clone();
    renamed.set_attr("role_name", "renamed".into());
    let (change, _) = plan(&state, &renamed);
    assert!(change.planned.get("role_unique_id").is_unknown());
    assert_eq!(
        change.planned.get("service_account_uid"),
        &Value::from("uid-1")
    );
    assert_eq!(
        change
            .planned
            .get("irsa_annotations")
            .get("eks.amazonaws.com/role-arn"),
        &Value::from("arn:aws:iam::123456789012:role/renamed")
    );
    let mut labelled = config.clone();
    labelled.set_attr("labels", Value::string_map([("x", "y")]));
    let (change, _) = plan(&state, &labelled);
    assert_eq!(
        change.planned.get("role_unique_id"),
        &Value::from("AROAEXAMPLE")
    );
}

#[test]
fn equivalent_inline_policies_keep_the_prior_text() {
    let config = manager_config();
    let state = applied(&config);
    let mut reformatted = config.clone();
    reformatted.set_attr(
        "inline_policies",
        Value::string_map([(
            "cache",
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Resource\": [\"arn:aws:s3:::cache/*\"], \"Action\": [\"s3:PutObject\", \"s3:GetObject\"]}\n}",
        )]),
    );
    let (change, diags) = plan(&state, &reformatted);
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(
        change.planned.get("inline_policies"),
        state.get("inline_policies")
    );
    plan_is_empty(&state, &reformatted).unwrap();
    let mut widened = config.clone();
    widened.set_attr(
        "inline_policies",
        Value::string_map([(
            "cache",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        )]),
    );
    let (change, _) = plan(&state, &widened);
    assert_eq!(
        change.planned.get("inline_policies"),
        widened.get("inline_policies")
    );
}

#[test]
fn an_equivalent_trust_policy_in_state_is_kept() {
    let config = manager_config();
    let mut state = applied(&config);
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(state.get("trust_policy").as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    state.set_attr("trust_policy", pretty.into());
    plan_is_empty(&state, &config).unwrap();
}

#[test]
fn the_provider_default_oidc_provider_is_used_and_followed() {
    let config = manager_config();
    let state = applied(&config);
    let mut moved = defaults();
    moved.oidc_provider_arn = Some(
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/NEW".into(),
    );
    let (change, _) = plan_with(&moved, &state, &config);
    assert_eq!(
        change.planned.get("oidc_provider_arn"),
        &Value::from(moved.oidc_provider_arn.unwrap())
    );
    assert!(
        change
            .planned
            .get("trust_policy")
            .as_str()
            .unwrap()
            .contains("/id/NEW:sub")
    );
    assert!(change.requires_replace.is_empty());
}

#[test]
fn resource_tags_win_over_default_tags() {
    let mut config = manager_config();
    config.set_attr("tags", Value::string_map([("env", "prod")]));
    assert_eq!(
        create_plan(&config).get("tags_all"),
        &Value::string_map([("env", "prod")])
    );
}

#[test]
fn verification_is_planned_with_every_change_only() {
    let mut config = manager_config();
    config.set_attr("verify", Value::object([("timeout_seconds", Value::Null)]));
    assert!(
        create_plan(&config)
            .get("verified_identity_arn")
            .is_unknown()
    );
    let mut state = applied(&config);
    state.set_attr(
        "verified_identity_arn",
        "arn:aws:sts::123456789012:assumed-role/x/y".into(),
    );
    plan_is_empty(&state, &config).unwrap();
    let mut changed = config.clone();
    changed.set_attr("role_description", "changed".into());
    let (change, _) = plan(&state, &changed);
    assert!(change.planned.get("verified_identity_arn").is_unknown());
}

#[test]
fn adoption_is_known_only_when_not_asked_for() {
    let mut config = manager_config();
    config.set_attr("adopt_existing_service_account", true.into());
    assert!(
        create_plan(&config)
            .get("service_account_adopted")
            .is_unknown()
    );
}

#[test]
fn a_minimal_configuration_plans() {
    let mut config = empty_config();
    config.set_attr("namespace", "ci-jobs".into());
    config.set_attr("service_account_name", "job".into());
    let planned = create_plan(&config);
    let toml = planned.get("runner_config_toml").as_str().unwrap();
    assert_eq!(
        toml,
        "[runners.kubernetes]\nnamespace = \"ci-jobs\"\nservice_account = \"job\"\n"
    );
    assert_eq!(
        planned.get("tags_all"),
        &Value::string_map([("env", "test")])
    );
}

#[test]
fn drift_repairs_plan_the_known_values_again() {
    let config = manager_config();
    let mut state = applied(&config);
    // Read found the role gone and the first grant's Role rules changed.
    state.set_attr("role_unique_id", Value::Null);
    state.set_attr("trust_policy", Value::Null);
    let mut grants = state.get("grant").as_elements().unwrap().to_vec();
    grants[0].set_attr("role_rules", Value::List(vec![]));
    state.set_attr("grant", Value::List(grants));
    let (change, diags) = plan(&state, &config);
    assert!(!diags.has_errors());
    assert!(change.planned.get("role_unique_id").is_unknown());
    assert!(change.planned.get("trust_policy").as_str().is_some());
    let planned_grants = change.planned.get("grant").as_elements().unwrap();
    assert_eq!(
        planned_grants[0]
            .get("role_rules")
            .as_elements()
            .unwrap()
            .len(),
        8
    );
}

/// `config` with a `pod_identity` block, Pod Identity only when `irsa` is false.
fn with_pod_identity(mut config: Value, irsa: bool) -> Value {
    config.set_attr(
        "pod_identity",
        super::testing::pod_identity("gitlabrunner-acc"),
    );
    if !irsa {
        config.set_attr("irsa", false.into());
        config.set_attr("sts_regional_endpoints", Value::Null);
    }
    config
}

fn association(planned: &Value, name: &str) -> Value {
    planned.get("pod_identity").as_elements().unwrap()[0]
        .get(name)
        .clone()
}

#[test]
fn both_mechanisms_plan_two_statements_the_annotation_and_a_new_association() {
    let planned = create_plan(&with_pod_identity(manager_config(), true));
    let trust: serde_json::Value =
        serde_json::from_str(planned.get("trust_policy").as_str().unwrap()).unwrap();
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[0]["Principal"]["Federated"], OIDC);
    assert_eq!(
        statements[1]["Principal"]["Service"],
        "pods.eks.amazonaws.com"
    );
    assert_eq!(
        statements[1]["Condition"]["StringEquals"]["aws:RequestTag/eks-cluster-arn"],
        "arn:aws:eks:us-east-1:123456789012:cluster/gitlabrunner-acc"
    );
    assert!(
        planned
            .get("irsa_annotations")
            .as_map()
            .unwrap()
            .contains_key("eks.amazonaws.com/role-arn")
    );
    assert!(association(&planned, "association_id").is_unknown());
    assert!(association(&planned, "association_arn").is_unknown());
}

#[test]
fn pod_identity_only_plans_no_oidc_statement_and_no_annotation() {
    let planned = create_plan(&with_pod_identity(manager_config(), false));
    assert!(planned.get("oidc_provider_arn").is_null());
    assert_eq!(
        planned.get("role_arn"),
        &Value::from("arn:aws:iam::123456789012:role/ci-runner-gitlab-runner"),
        "the account comes from the credentials"
    );
    let trust = planned.get("trust_policy").as_str().unwrap();
    assert!(!trust.contains("Federated") && !trust.contains("AssumeRoleWithWebIdentity"));
    assert!(trust.contains("pods.eks.amazonaws.com"));
    assert_eq!(
        planned.get("irsa_annotations").as_map().map(|m| m.len()),
        Some(0)
    );
    // Without the credentials' account the role ARN and trust wait for apply.
    let mut no_account = defaults();
    no_account.account_id = None;
    let (change, diags) = plan_with(
        &no_account,
        &Value::Null,
        &with_pod_identity(manager_config(), false),
    );
    assert!(!diags.has_errors(), "{diags:?}");
    assert!(change.planned.get("role_arn").is_unknown());
    assert!(change.planned.get("trust_policy").is_unknown());
}

#[test]
fn the_association_is_kept_in_its_cluster_and_recreated_when_missing() {
    let config = with_pod_identity(manager_config(), true);
    let mut state = applied(&config);
    let mut block = state.get("pod_identity").as_elements().unwrap()[0].clone();
    block.set_attr("association_id", "a-0123456789abcdefg".into());
    block.set_attr("association_arn", "arn:assoc".into());
    state.set_attr("pod_identity", Value::List(vec![block.clone()]));
    plan_is_empty(&state, &config).unwrap();
    // Refresh found it deleted (or pointing at another role): apply makes it again.
    block.set_attr("association_id", Value::Null);
    block.set_attr("association_arn", Value::Null);
    state.set_attr("pod_identity", Value::List(vec![block]));
    let (change, _) = plan(&state, &config);
    assert!(association(&change.planned, "association_id").is_unknown());
    assert!(plan_is_empty(&state, &config).is_err());
}

#[test]
fn a_mode_change_is_in_place_keeps_the_role_and_warns_about_running_pods() {
    let irsa = manager_config();
    let both = with_pod_identity(manager_config(), true);
    let only = with_pod_identity(manager_config(), false);
    let steps = [
        (&irsa, &both),
        (&both, &only),
        (&only, &both),
        (&both, &irsa),
        (&irsa, &only),
    ];
    for (from, to) in steps {
        let state = applied(from);
        let (change, diags) = plan(&state, to);
        assert!(!diags.has_errors(), "{diags:?}");
        assert!(
            change.requires_replace.is_empty(),
            "{:?}",
            change.requires_replace
        );
        assert_eq!(
            change.planned.get("role_unique_id"),
            &Value::from("AROAEXAMPLE")
        );
        assert_eq!(change.planned.get("role_arn"), state.get("role_arn"));
        let warning = diags
            .iter()
            .find(|d| d.summary == "Running pods keep their credentials until they restart")
            .unwrap_or_else(|| panic!("no warning: {diags:?}"));
        assert!(
            warning
                .detail
                .contains("web identity token (IRSA) before container")
        );
        assert!(warning.detail.contains("standardized-credentials"));
    }
    // No warning without a change of mechanism.
    let state = applied(&both);
    let (_, diags) = plan(&state, &both);
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn an_existing_irsa_configuration_plans_the_trust_byte_for_byte() {
    let planned = create_plan(&manager_config());
    assert_eq!(
        planned.get("trust_policy").as_str().unwrap(),
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{OIDC}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub":"system:serviceaccount:ci-runner:gitlab-runner","oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:aud":"sts.amazonaws.com"}}}}}}]}}"#
        )
    );
    assert_eq!(planned.get("irsa"), &Value::Bool(true));
    assert_eq!(planned.get("pod_identity"), &Value::List(Vec::new()));
}

#[test]
fn apply_completes_a_pod_identity_plan_that_waited_for_the_account() {
    let config = with_pod_identity(manager_config(), false);
    let mut no_account = defaults();
    no_account.account_id = None;
    let (waiting, _) = plan_with(&no_account, &Value::Null, &config);
    let mut binding = super::model::Binding::from_value(&waiting.planned);
    assert!(binding.role_arn.is_empty() && binding.trust_policy.is_none());
    assert!(super::plan::complete_pod_identity_only(
        &mut binding,
        Some("us-east-1"),
        "123456789012"
    ));
    let known = super::model::Binding::from_value(&create_plan(&config));
    assert_eq!(binding.role_arn, known.role_arn);
    assert_eq!(binding.trust_policy, known.trust_policy);
    assert!(!super::plan::complete_pod_identity_only(
        &mut super::model::Binding::from_value(&waiting.planned),
        None,
        "123456789012"
    ));
}
