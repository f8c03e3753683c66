//! Create, read, update, delete and import against the in-memory fake: all or nothing at
//! every failing step, truthful state when rollback fails, drift in every part detected and
//! repaired, and the critical path measured in round trips on tokio's paused clock.

use std::time::Duration;

use crate::aws::AwsErrorKind;
use crate::codec::Value;
use crate::concurrency::Fanout;
use crate::ownership;

use super::create::{Outcome, create};
use super::delete::delete;
use super::eks_auth::NoEksAuth;
use super::fake::{Fake, Fault, LATENCY};
use super::import::import;
use super::model::Binding;
use super::read::read;
use super::remote::Remote;
use super::testing::{defaults, fake_remote, grant, manager_config, plan, plan_is_empty};
use super::update::update;

const NAMESPACES: [&str; 4] = ["ci-runner", "ci-jobs", "ci-jobs-2", "ci-jobs-3"];
const SA_NAME: &str = "ci-runner.gitlab-runner";

fn remote(fake: &Fake, fanout: Fanout) -> Remote<'_> {
    fake_remote(fake, &NoEksAuth, fanout, Duration::from_secs(120))
}

fn planned_create(config: &Value) -> Value {
    let (change, diags) = plan(&Value::Null, config);
    assert!(!diags.has_errors(), "{diags:?}");
    change.planned
}

fn state_value(outcome: &Outcome) -> Value {
    outcome
        .state
        .as_ref()
        .map_or(Value::Null, Binding::to_value)
}

async fn created(fake: &Fake, config: &Value) -> Value {
    let planned = planned_create(config);
    let outcome = create(
        &remote(fake, Fanout::Concurrent),
        &Binding::from_value(&planned),
    )
    .await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let state = state_value(&outcome);
    let schema = super::schema::schema();
    let diags = crate::framework::check_apply_for_tests(&schema, &planned, &state);
    assert!(diags.is_empty(), "{diags:?}");
    state
}

/// Refreshes like `terraform plan` does, then plans.
async fn refresh(fake: &Fake, state: &Value) -> Value {
    let (refreshed, _) = read(
        &remote(fake, Fanout::Concurrent),
        &Binding::from_value(state),
    )
    .await;
    refreshed.map_or(Value::Null, |b| b.to_value())
}

/// Refresh, plan, apply the update, and check that the next plan is empty.
async fn repair(fake: &Fake, state: &Value, config: &Value) -> Value {
    let refreshed = refresh(fake, state).await;
    let (change, diags) = plan(&refreshed, config);
    assert!(!diags.has_errors(), "{diags:?}");
    assert!(
        plan_is_empty(&refreshed, config).is_err(),
        "drift must make the plan non-empty"
    );
    let outcome = update(
        &remote(fake, Fanout::Concurrent),
        &Binding::from_value(&refreshed),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let repaired = state_value(&outcome);
    let schema = super::schema::schema();
    assert!(
        crate::framework::check_apply_for_tests(&schema, &change.planned, &repaired).is_empty()
    );
    let again = refresh(fake, &repaired).await;
    plan_is_empty(&again, config).expect("a second plan after apply is empty");
    again
}

#[tokio::test(start_paused = true)]
async fn create_makes_every_part_and_the_next_plan_is_empty() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    let state = created(&fake, &config).await;
    let inventory = fake.inventory();
    for expected in [
        "iam role ci-runner-gitlab-runner",
        "attached arn:aws:iam::aws:policy/ReadOnlyAccess",
        "attached arn:aws:iam::123456789012:policy/runner-extra",
        "inline cache",
        "serviceaccount ci-runner/gitlab-runner",
        "role ci-jobs/ci-runner.gitlab-runner",
        "rolebinding ci-jobs-3/ci-runner.gitlab-runner",
    ] {
        assert!(
            inventory.iter().any(|i| i == expected),
            "{expected} in {inventory:?}"
        );
    }
    let account = fake
        .edit(|w| w.account("ci-runner", "gitlab-runner").cloned())
        .unwrap();
    let annotations = account.metadata.annotations.unwrap();
    assert_eq!(
        annotations["eks.amazonaws.com/role-arn"],
        state.get("role_arn").as_str().unwrap()
    );
    assert_eq!(
        annotations["eks.amazonaws.com/sts-regional-endpoints"],
        "true"
    );
    let role = fake
        .edit(|w| w.role("ci-runner-gitlab-runner").cloned())
        .unwrap();
    assert_eq!(role.tags[ownership::OWNER_KEY], "ci-runner/gitlab-runner");
    assert_eq!(
        role.tags["env"], "test",
        "provider default tags are applied"
    );
    let refreshed = refresh(&fake, &state).await;
    assert_eq!(refreshed, state, "read right after create sees no drift");
    plan_is_empty(&refreshed, &config).unwrap();
}

#[tokio::test(start_paused = true)]
async fn create_takes_two_round_trips_concurrently_and_one_per_call_serially() {
    for (fanout, expected_depth) in [(Fanout::Concurrent, Some(2)), (Fanout::Serial, None)] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let planned = Binding::from_value(&planned_create(&manager_config()));
        let started = tokio::time::Instant::now();
        let outcome = create(&remote(&fake, fanout), &planned).await;
        assert!(outcome.diagnostics.is_empty());
        let depth = started.elapsed().as_millis() / LATENCY.as_millis();
        let calls = fake.calls().len() as u128;
        // CreateRole + 2 attach + 1 put; ServiceAccount; 3 x (Role + RoleBinding).
        assert_eq!(calls, 11);
        assert_eq!(depth, expected_depth.unwrap_or(calls), "{fanout:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_at_any_step_of_create_leaves_nothing_behind() {
    let reference = Fake::with_namespaces(&NAMESPACES);
    created(&reference, &manager_config()).await;
    let steps = reference.calls();
    let mut cases = 0;
    for fanout in [Fanout::Concurrent, Fanout::Serial] {
        for step in &steps {
            let fake = Fake::with_namespaces(&NAMESPACES);
            let fault = if step.starts_with("kube:") {
                Fault::Kube(403, "Forbidden")
            } else {
                Fault::Aws(AwsErrorKind::AccessDenied, "User is not authorized")
            };
            fake.fail(step, fault, 1);
            let planned = Binding::from_value(&planned_create(&manager_config()));
            let outcome = create(&remote(&fake, fanout), &planned).await;
            assert!(outcome.state.is_none(), "{step}: state must be empty");
            assert!(outcome.diagnostics.has_errors());
            let detail = &outcome.diagnostics.0[0].detail;
            // IAM errors name the operation, Kubernetes errors the verb, kind and object.
            let operation = match step.strip_prefix("kube:") {
                Some(rest) => rest,
                None => step.split_whitespace().next().unwrap(),
            };
            assert!(detail.contains(operation), "{step}: {detail}");
            assert_eq!(fake.inventory(), Vec::<String>::new(), "{step} {fanout:?}");
            cases += 1;
        }
    }
    assert_eq!(cases, 22);
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollback_returns_exactly_what_is_left() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    fake.fail(
        "kube:create RoleBinding ci-jobs-2/",
        Fault::Kube(403, "Forbidden"),
        1,
    );
    fake.fail(
        "iam:DeleteRole ci-runner-gitlab-runner",
        Fault::Aws(AwsErrorKind::Unavailable, "ServiceFailure"),
        1,
    );
    let planned = Binding::from_value(&planned_create(&manager_config()));
    let outcome = create(&remote(&fake, Fanout::Concurrent), &planned).await;
    let state = outcome
        .state
        .expect("the role is left and must be in the state");
    assert!(state.role_unique_id.is_some());
    assert_eq!(state.service_account_uid, None);
    assert!(state.grants.iter().all(|g| g.role_name.is_none()));
    assert_eq!(state.managed_policy_arns, Some(Default::default()));
    let summaries: Vec<&str> = outcome
        .diagnostics
        .iter()
        .map(|d| d.summary.as_str())
        .collect();
    assert_eq!(
        summaries,
        [
            "Failed to create IRSA binding ci-runner/gitlab-runner",
            "Rollback incomplete: some objects still exist"
        ]
    );
    assert!(
        outcome.diagnostics.0[1]
            .detail
            .contains("IAM role ci-runner-gitlab-runner")
    );
    assert_eq!(fake.inventory(), ["iam role ci-runner-gitlab-runner"]);
    // The tainted state is then destroyed by Terraform: nothing remains.
    let outcome = delete(&remote(&fake, Fanout::Concurrent), &state).await;
    assert!(outcome.state.is_none() && outcome.diagnostics.is_empty());
    assert!(fake.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_service_account_of_someone_else_is_an_error_naming_it() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    fake.edit(|w| {
        w.put_account(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "gitlab-runner", "namespace": "ci-runner", "uid": "helm",
                             "labels": {"app.kubernetes.io/managed-by": "Helm"}}
            }))
            .unwrap(),
        )
    });
    let planned = Binding::from_value(&planned_create(&manager_config()));
    let outcome = create(&remote(&fake, Fanout::Concurrent), &planned).await;
    assert!(outcome.state.is_none());
    let detail = &outcome.diagnostics.0[0].detail;
    assert!(
        detail.contains("ServiceAccount ci-runner/gitlab-runner already exists and is not managed by this binding"),
        "{detail}"
    );
    assert!(detail.contains("adopt_existing_service_account"));
    assert_eq!(fake.inventory(), ["serviceaccount ci-runner/gitlab-runner"]);
}

#[tokio::test(start_paused = true)]
async fn an_adopted_service_account_keeps_everything_but_the_bindings_fields() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    fake.edit(|w| {
        w.put_account(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "gitlab-runner", "namespace": "ci-runner", "uid": "helm",
                             "labels": {"chart": "gitlab-runner"},
                             "annotations": {"meta.helm.sh/release-name": "runner",
                                             "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/old",
                                             "eks.amazonaws.com/audience": "stale"}}
            }))
            .unwrap(),
        )
    });
    let mut config = manager_config();
    config.set_attr("adopt_existing_service_account", true.into());
    let state = created(&fake, &config).await;
    assert_eq!(state.get("service_account_adopted"), &Value::Bool(true));
    assert_eq!(state.get("service_account_uid"), &Value::from("helm"));
    plan_is_empty(&refresh(&fake, &state).await, &config).unwrap();
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    assert!(outcome.state.is_none(), "{:?}", outcome.diagnostics);
    let account = fake
        .edit(|w| w.account("ci-runner", "gitlab-runner").cloned())
        .unwrap();
    let labels = account.metadata.labels.unwrap_or_default();
    let annotations = account.metadata.annotations.unwrap_or_default();
    assert_eq!(
        labels.get("chart").map(String::as_str),
        Some("gitlab-runner")
    );
    assert!(
        !labels.contains_key("app"),
        "the binding's label is removed"
    );
    assert!(annotations.contains_key("meta.helm.sh/release-name"));
    assert!(!annotations.contains_key("eks.amazonaws.com/role-arn"));
    assert_eq!(
        annotations
            .get("eks.amazonaws.com/audience")
            .map(String::as_str),
        Some("stale"),
        "another tool's IRSA annotation is not the binding's to remove"
    );
    assert!(!annotations.contains_key(ownership::OWNER_KEY));
}

#[tokio::test(start_paused = true)]
async fn leftovers_of_an_interrupted_create_are_taken_over_without_duplicates() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    // A first apply got as far as everything, then the provider was killed: no state.
    created(&fake, &manager_config()).await;
    let before = fake.inventory();
    let state = created(&fake, &manager_config()).await;
    assert_eq!(fake.inventory(), before, "no duplicates, nothing missing");
    plan_is_empty(&refresh(&fake, &state).await, &manager_config()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_role_owned_by_another_binding_is_never_taken_over() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let mut other = manager_config();
    other.set_attr("service_account_name", "other".into());
    other.set_attr("role_name", "ci-runner-gitlab-runner".into());
    other.set_attr("grant", Value::List(vec![]));
    created(&fake, &other).await;
    let planned = Binding::from_value(&planned_create(&manager_config()));
    let outcome = create(&remote(&fake, Fanout::Concurrent), &planned).await;
    assert!(outcome.state.is_none());
    assert!(
        outcome.diagnostics.0[0]
            .detail
            .contains("IAM role ci-runner-gitlab-runner already exists and is not managed by this binding (it is marked as owned by ci-runner/other)")
    );
    assert_eq!(
        fake.inventory()
            .iter()
            .filter(|i| i.starts_with("serviceaccount"))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_principal_right_after_the_oidc_provider_appears_is_retried() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    fake.fail(
        "iam:CreateRole",
        Fault::Aws(
            AwsErrorKind::Invalid,
            "Invalid principal in policy: \"Federated\"",
        ),
        3,
    );
    created(&fake, &manager_config()).await;
    let creates = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("iam:CreateRole"))
        .count();
    assert_eq!(creates, 4);
}

#[tokio::test(start_paused = true)]
async fn stop_provider_during_create_rolls_everything_back() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let remote = remote(&fake, Fanout::Serial);
    let cancel = remote.cancel.clone();
    let planned = Binding::from_value(&planned_create(&manager_config()));
    let stopper = async {
        tokio::time::sleep(LATENCY * 3 + LATENCY / 2).await;
        cancel.cancel();
    };
    let (outcome, ()) = tokio::join!(create(&remote, &planned), stopper);
    assert!(outcome.state.is_none());
    assert!(outcome.diagnostics.0[0].summary.contains("was cancelled"));
    assert!(fake.inventory().is_empty(), "{:?}", fake.inventory());
}

#[tokio::test(start_paused = true)]
async fn read_is_one_round_trip_and_finds_the_binding_gone_when_everything_is() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    let started = tokio::time::Instant::now();
    refresh(&fake, &state).await;
    assert_eq!(started.elapsed(), LATENCY);
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    assert!(outcome.state.is_none());
    assert_eq!(refresh(&fake, &state).await, Value::Null);
}

#[tokio::test(start_paused = true)]
async fn delete_takes_three_round_trips_and_tolerates_what_is_already_gone() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    fake.edit(|w| {
        w.delete_rbac_role("ci-jobs", SA_NAME);
        w.inline("ci-runner-gitlab-runner").unwrap().clear();
    });
    let started = tokio::time::Instant::now();
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    // Re-read the role, detach its policies, delete it.
    assert_eq!(started.elapsed(), LATENCY * 3);
    assert!(outcome.state.is_none(), "{:?}", outcome.diagnostics);
    assert!(fake.inventory().is_empty(), "{:?}", fake.inventory());
}

/// A managed and an inline policy put on the binding's role outside Terraform.
fn attach_by_hand(fake: &Fake) {
    fake.edit(|w| {
        w.attached("ci-runner-gitlab-runner")
            .unwrap()
            .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
        w.inline("ci-runner-gitlab-runner")
            .unwrap()
            .insert("by-hand".into(), "{}".into());
    });
}

#[tokio::test(start_paused = true)]
async fn delete_leaves_policies_attached_outside_terraform_and_the_role_with_an_error() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    attach_by_hand(&fake);
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    let detail = &outcome.diagnostics.0[0].detail;
    assert!(
        detail.contains("IAM role ci-runner-gitlab-runner was not deleted")
            && detail.contains("managed policy arn:aws:iam::aws:policy/AdministratorAccess")
            && detail.contains("inline policy by-hand")
            && detail.contains("force_detach_policies = true"),
        "{detail}"
    );
    // The binding's own policies and Kubernetes objects went; the others stay, on the role.
    assert_eq!(
        fake.inventory(),
        [
            "iam role ci-runner-gitlab-runner",
            "attached arn:aws:iam::aws:policy/AdministratorAccess",
            "inline by-hand"
        ]
    );
    let left = outcome.state.expect("the role stays in the state");
    assert!(left.role_unique_id.is_some());
    assert_eq!(left.managed_policy_arns.iter().flatten().count(), 0);
    assert!(left.service_account_uid.is_none());
}

#[tokio::test(start_paused = true)]
async fn force_detach_policies_lets_delete_remove_policies_attached_outside_terraform() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let mut state = created(&fake, &manager_config()).await;
    state.set_attr("force_detach_policies", true.into());
    attach_by_hand(&fake);
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    assert!(outcome.state.is_none(), "{:?}", outcome.diagnostics);
    assert!(fake.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn delete_removes_the_cache_policy_of_this_provider_without_force_detach() {
    // What a rename of the manager role meets: gitlabrunner_cache's inline policy is still on
    // the old role, and the cache moves it to the new role after the binding's update.
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    let cache_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}Objects","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::cache/*"}}]}}"#,
        crate::ownership::CACHE_STATEMENT_ID_PREFIX
    );
    fake.edit(|w| {
        w.inline("ci-runner-gitlab-runner")
            .unwrap()
            .insert("gitlab-runner-cache".into(), cache_policy.clone());
    });
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    assert!(outcome.state.is_none(), "{:?}", outcome.diagnostics);
    assert!(fake.inventory().is_empty());

    // Beside a policy of someone else's, the cache's alone does not make the delete go ahead.
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    attach_by_hand(&fake);
    fake.edit(|w| {
        w.inline("ci-runner-gitlab-runner")
            .unwrap()
            .insert("gitlab-runner-cache".into(), cache_policy.clone());
    });
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    let detail = &outcome.diagnostics.0[0].detail;
    assert!(
        detail.contains("inline policy by-hand") && !detail.contains("gitlab-runner-cache"),
        "{detail}"
    );
}

#[tokio::test(start_paused = true)]
async fn delete_leaves_a_role_recreated_under_the_same_name_alone() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    // The binding's role went and someone made another of that name (what a destroy with
    // -refresh=false then finds).
    fake.edit(|w| {
        let role = w.role("ci-runner-gitlab-runner").unwrap();
        role.role_id = "AROAOTHERROLE".into();
        role.tags.clear();
        w.attached("ci-runner-gitlab-runner").unwrap().clear();
        w.inline("ci-runner-gitlab-runner").unwrap().clear();
    });
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    let detail = &outcome.diagnostics.0[0].detail;
    assert!(
        detail.contains("IAM role ci-runner-gitlab-runner is not the role this binding created")
            && detail.contains("AROAOTHERROLE")
            && detail.contains("It was left alone"),
        "{detail}"
    );
    assert_eq!(fake.inventory(), ["iam role ci-runner-gitlab-runner"]);
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.starts_with("iam:Detach") || c.starts_with("iam:DeleteRole")),
        "{:?}",
        fake.calls()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_delete_keeps_what_still_exists_in_the_state() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let state = created(&fake, &manager_config()).await;
    fake.fail(
        "kube:delete ServiceAccount",
        Fault::Kube(403, "Forbidden"),
        1,
    );
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
    )
    .await;
    let left = outcome.state.expect("the ServiceAccount is left");
    assert!(left.service_account_uid.is_some());
    assert_eq!(left.role_unique_id, None);
    assert!(left.grants.iter().all(|g| g.role_name.is_none()));
    assert_eq!(fake.inventory(), ["serviceaccount ci-runner/gitlab-runner"]);
    assert!(
        outcome.diagnostics.0[0]
            .summary
            .starts_with("Failed to delete")
    );
}

#[tokio::test(start_paused = true)]
async fn an_update_that_cannot_read_a_role_again_still_records_what_it_changed() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    let state = created(&fake, &config).await;
    // New rules for ci-jobs-3 (read, then replaced), a new description, one grant fewer: the
    // Role of ci-jobs-3 can be neither read nor re-read.
    let mut next = config.clone();
    next.set_attr("role_description", "changed".into());
    next.set_attr(
        "grant",
        Value::List(vec![
            grant("ci-jobs", Some("kubernetes-executor"), vec![]),
            grant(
                "ci-jobs-3",
                None,
                vec![super::testing::rule(&[""], &["configmaps"], &["get"])],
            ),
        ]),
    );
    let (change, diags) = plan(&state, &next);
    assert!(!diags.has_errors(), "{diags:?}");
    fake.fail(
        &format!("kube:get Role ci-jobs-3/{SA_NAME}"),
        Fault::Kube(403, "Forbidden"),
        100,
    );
    let outcome = update(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
        &Binding::from_value(&change.planned),
    )
    .await;
    let summaries: Vec<&str> = outcome
        .diagnostics
        .0
        .iter()
        .map(|d| d.summary.as_str())
        .collect();
    assert!(
        summaries[0].starts_with("Failed to update"),
        "{summaries:?}"
    );
    assert!(
        summaries.iter().any(|s| s.starts_with("Could not re-read")),
        "{summaries:?}"
    );
    let left = outcome.state.expect("the binding exists");
    // What the reads found: the new description, the dropped grant gone.
    assert_eq!(left.role_description.as_deref(), Some("changed"));
    let removed = left.grant("ci-jobs-2").expect("kept in the failure basis");
    assert_eq!(removed.role_name, None);
    assert!(!fake.edit(|w| w.rbac_role("ci-jobs-2", SA_NAME).is_some()));
    // What could not be read: as known before, the old rules (never replaced).
    let unreadable = left.grant("ci-jobs-3").unwrap();
    assert_eq!(unreadable.role_name.as_deref(), Some(SA_NAME));
    let before = Binding::from_value(&state);
    assert_eq!(
        unreadable.role_rules,
        before.grant("ci-jobs-3").unwrap().role_rules
    );
}

/// One kind of change made outside Terraform.
struct Drift {
    name: &'static str,
    apply: fn(&Fake),
}

fn drifts() -> Vec<Drift> {
    const ROLE: &str = "ci-runner-gitlab-runner";
    vec![
        Drift {
            name: "role deleted",
            apply: |f| f.edit(|w| w.delete_role(ROLE)),
        },
        Drift {
            name: "trust policy widened",
            apply: |f| {
                f.edit(|w| {
                    let role = w.role(ROLE).unwrap();
                    role.trust_policy = role
                        .trust_policy
                        .replace("ci-runner:gitlab-runner", "ci-runner:*")
                        .replace("StringEquals", "StringLike");
                })
            },
        },
        Drift {
            name: "role description changed",
            apply: |f| f.edit(|w| w.role(ROLE).unwrap().description = Some("hacked".into())),
        },
        Drift {
            name: "max session duration changed",
            apply: |f| f.edit(|w| w.role(ROLE).unwrap().max_session_duration = 43200),
        },
        Drift {
            name: "tag changed",
            apply: |f| {
                f.edit(|w| {
                    w.role(ROLE)
                        .unwrap()
                        .tags
                        .insert("team".into(), "other".into());
                })
            },
        },
        Drift {
            name: "default tag removed",
            apply: |f| {
                f.edit(|w| {
                    w.role(ROLE).unwrap().tags.remove("env");
                })
            },
        },
        Drift {
            name: "tag added",
            apply: |f| {
                f.edit(|w| {
                    w.role(ROLE)
                        .unwrap()
                        .tags
                        .insert("extra".into(), "x".into());
                })
            },
        },
        Drift {
            name: "permissions boundary added",
            apply: |f| {
                f.edit(|w| {
                    w.role(ROLE).unwrap().permissions_boundary_arn =
                        Some("arn:aws:iam::aws:policy/X".into())
                })
            },
        },
        Drift {
            name: "managed policy detached",
            apply: |f| {
                f.edit(|w| {
                    w.attached(ROLE)
                        .unwrap()
                        .remove("arn:aws:iam::aws:policy/ReadOnlyAccess");
                })
            },
        },
        Drift {
            name: "inline policy edited",
            apply: |f| {
                f.edit(|w| {
                    w.inline(ROLE).unwrap().insert(
                        "cache".into(),
                        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
                            .into(),
                    );
                })
            },
        },
        Drift {
            name: "inline policy deleted",
            apply: |f| {
                f.edit(|w| {
                    w.inline(ROLE).unwrap().remove("cache");
                })
            },
        },
        Drift {
            name: "service account deleted",
            apply: |f| f.edit(|w| w.delete_account("ci-runner", "gitlab-runner")),
        },
        Drift {
            name: "role-arn annotation changed",
            apply: |f| {
                f.edit(|w| {
                    w.account("ci-runner", "gitlab-runner")
                        .unwrap()
                        .metadata
                        .annotations
                        .as_mut()
                        .unwrap()
                        .insert(
                            "eks.amazonaws.com/role-arn".into(),
                            "arn:aws:iam::123456789012:role/other".into(),
                        );
                })
            },
        },
        Drift {
            name: "role-arn annotation removed",
            apply: |f| {
                f.edit(|w| {
                    w.account("ci-runner", "gitlab-runner")
                        .unwrap()
                        .metadata
                        .annotations
                        .as_mut()
                        .unwrap()
                        .remove("eks.amazonaws.com/role-arn");
                })
            },
        },
        Drift {
            name: "label changed",
            apply: |f| {
                f.edit(|w| {
                    w.account("ci-runner", "gitlab-runner")
                        .unwrap()
                        .metadata
                        .labels
                        .as_mut()
                        .unwrap()
                        .insert("app".into(), "x".into());
                })
            },
        },
        Drift {
            name: "automount switched on",
            apply: |f| {
                f.edit(|w| {
                    w.account("ci-runner", "gitlab-runner")
                        .unwrap()
                        .automount_service_account_token = Some(true)
                })
            },
        },
        Drift {
            name: "role rules widened",
            apply: |f| {
                f.edit(|w| {
                    w.rbac_role("ci-jobs", SA_NAME)
                        .unwrap()
                        .rules
                        .as_mut()
                        .unwrap()[0]
                        .verbs
                        .push("*".into())
                })
            },
        },
        Drift {
            name: "rbac role deleted",
            apply: |f| f.edit(|w| w.delete_rbac_role("ci-jobs-2", SA_NAME)),
        },
        Drift {
            name: "role binding subjects changed",
            apply: |f| {
                f.edit(|w| {
                    w.binding("ci-jobs", SA_NAME)
                        .unwrap()
                        .subjects
                        .as_mut()
                        .unwrap()[0]
                        .name = "intruder".into()
                })
            },
        },
        Drift {
            name: "role binding deleted",
            apply: |f| f.edit(|w| w.delete_binding("ci-jobs-3", SA_NAME)),
        },
    ]
}

#[tokio::test(start_paused = true)]
async fn drift_in_every_part_shows_in_the_plan_and_apply_repairs_it() {
    let mut config = manager_config();
    config.set_attr("automount_service_account_token", false.into());
    for drift in drifts() {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let state = created(&fake, &config).await;
        (drift.apply)(&fake);
        let refreshed = refresh(&fake, &state).await;
        assert_ne!(refreshed, state, "{}: read must show the drift", drift.name);
        assert!(
            plan_is_empty(&refreshed, &config).is_err(),
            "{}",
            drift.name
        );
        repair(&fake, &state, &config).await;
        let expected = Fake::with_namespaces(&NAMESPACES);
        created(&expected, &config).await;
        assert_eq!(fake.inventory(), expected.inventory(), "{}", drift.name);
    }
}

#[tokio::test(start_paused = true)]
async fn policy_formatting_never_shows_as_a_change() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    let state = created(&fake, &config).await;
    // IAM hands documents back in its own form.
    fake.edit(|w| {
        let inline = w.inline("ci-runner-gitlab-runner").unwrap();
        let compact = inline["cache"].clone();
        let value: serde_json::Value = serde_json::from_str(&compact).unwrap();
        inline.insert(
            "cache".into(),
            serde_json::to_string_pretty(&value).unwrap(),
        );
        let role = w.role("ci-runner-gitlab-runner").unwrap();
        let trust: serde_json::Value = serde_json::from_str(&role.trust_policy).unwrap();
        role.trust_policy = percent_encoding::utf8_percent_encode(
            &serde_json::to_string_pretty(&trust).unwrap(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
    });
    let refreshed = refresh(&fake, &state).await;
    assert!(refreshed.semantically_equal(&state));
    // A reformatted configuration plans no change either.
    let mut reformatted = config.clone();
    reformatted.set_attr(
        "inline_policies",
        Value::string_map([(
            "cache",
            r#"{ "Statement": { "Resource": "arn:aws:s3:::cache/*", "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"] }, "Version": "2012-10-17" }"#,
        )]),
    );
    plan_is_empty(&refreshed, &reformatted).unwrap();
}

#[tokio::test(start_paused = true)]
async fn updates_apply_in_place_and_the_next_plan_is_empty() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    let mut state = created(&fake, &config).await;
    type Change = (&'static str, Box<dyn Fn(&mut Value)>);
    let changes: Vec<Change> = vec![
        (
            "description",
            Box::new(|c| c.set_attr("role_description", "new".into())),
        ),
        (
            "session",
            Box::new(|c| c.set_attr("max_session_duration", Value::int(7200))),
        ),
        (
            "boundary",
            Box::new(|c| {
                c.set_attr(
                    "permissions_boundary_arn",
                    "arn:aws:iam::aws:policy/PowerUserAccess".into(),
                )
            }),
        ),
        (
            "tags",
            Box::new(|c| {
                c.set_attr(
                    "tags",
                    Value::string_map([("team", "platform"), ("cost", "ci")]),
                )
            }),
        ),
        (
            "managed",
            Box::new(|c| {
                c.set_attr(
                    "managed_policy_arns",
                    Value::string_set(["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
                )
            }),
        ),
        (
            "inline",
            Box::new(|c| {
                c.set_attr("inline_policies", Value::string_map([("other", r#"{"Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#)]))
            }),
        ),
        (
            "audience",
            Box::new(|c| c.set_attr("audience", "my-audience".into())),
        ),
        (
            "labels",
            Box::new(|c| c.set_attr("labels", Value::string_map([("tier", "ci")]))),
        ),
        (
            "annotations",
            Box::new(|c| {
                c.set_attr(
                    "annotations",
                    Value::string_map([("example.com/note", "x")]),
                )
            }),
        ),
        (
            "automount",
            Box::new(|c| c.set_attr("automount_service_account_token", false.into())),
        ),
        (
            "regional",
            Box::new(|c| c.set_attr("sts_regional_endpoints", false.into())),
        ),
        (
            "expiration",
            Box::new(|c| c.set_attr("token_expiration", Value::int(7200))),
        ),
        (
            "grants",
            Box::new(|c| {
                c.set_attr(
                    "grant",
                    Value::List(vec![grant(
                        "ci-jobs",
                        None,
                        vec![super::testing::rule(&[""], &["pods"], &["get"])],
                    )]),
                )
            }),
        ),
        (
            "rename",
            Box::new(|c| c.set_attr("role_name", "renamed-runner".into())),
        ),
        ("path", Box::new(|c| c.set_attr("role_path", "/ci/".into()))),
    ];
    let mut config = config;
    for (name, change) in changes {
        change(&mut config);
        state = repair(&fake, &state, &config).await;
        assert!(
            fake.inventory()
                .iter()
                .filter(|i| i.starts_with("iam role"))
                .count()
                == 1,
            "{name}"
        );
    }
    let role = state.get("role_arn").as_str().unwrap();
    assert_eq!(role, "arn:aws:iam::123456789012:role/ci/renamed-runner");
    let account = fake
        .edit(|w| w.account("ci-runner", "gitlab-runner").cloned())
        .unwrap();
    assert_eq!(
        account.metadata.annotations.unwrap()["eks.amazonaws.com/role-arn"],
        role
    );
    let inventory = fake.inventory();
    assert!(
        !inventory.iter().any(|i| i.contains("ci-jobs-2")),
        "{inventory:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rename_that_fails_before_the_switch_keeps_the_old_role_in_use() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    let state = created(&fake, &config).await;
    let mut renamed = config.clone();
    renamed.set_attr("role_name", "renamed-runner".into());
    let (change, _) = plan(&state, &renamed);
    fake.fail(
        "kube:patch ServiceAccount",
        Fault::Kube(403, "Forbidden"),
        1,
    );
    let outcome = update(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&state),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.diagnostics.has_errors());
    let left = outcome.state.unwrap();
    assert_eq!(left.role_name, "ci-runner-gitlab-runner");
    let roles: Vec<String> = fake
        .inventory()
        .into_iter()
        .filter(|i| i.starts_with("iam role"))
        .collect();
    assert_eq!(roles, ["iam role ci-runner-gitlab-runner"]);
}

#[tokio::test(start_paused = true)]
async fn import_round_trips_to_an_empty_plan() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let mut config = manager_config();
    config.set_attr("automount_service_account_token", false.into());
    created(&fake, &config).await;
    let (imported, warnings) = import(
        &remote(&fake, Fanout::Concurrent),
        &defaults(),
        "ci-runner/gitlab-runner",
    )
    .await
    .unwrap();
    assert!(warnings.is_empty());
    let refreshed = refresh(&fake, &imported.to_value()).await;
    plan_is_empty(&refreshed, &config).unwrap();
}

#[tokio::test(start_paused = true)]
async fn import_leaves_the_cache_resources_inline_policy_to_it() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    created(&fake, &config).await;
    let cache_policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"GitLabRunnerCacheObjects","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::cache/runner/*"}]}"#;
    fake.edit(|w| {
        w.inline("ci-runner-gitlab-runner")
            .unwrap()
            .insert("gitlabrunner-cache".to_string(), cache_policy.to_string());
    });
    let (imported, _) = import(
        &remote(&fake, Fanout::Concurrent),
        &defaults(),
        "ci-runner/gitlab-runner",
    )
    .await
    .unwrap();
    let claimed = imported.inline_policies.clone().unwrap_or_default();
    assert!(!claimed.contains_key("gitlabrunner-cache"), "{claimed:?}");
    assert!(
        !claimed.is_empty(),
        "the binding's own inline policy is still imported"
    );
}

#[tokio::test(start_paused = true)]
async fn verify_exchanges_a_token_for_role_credentials() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let mut config = manager_config();
    config.set_attr(
        "verify",
        Value::object([("timeout_seconds", Value::int(30))]),
    );
    let state = created(&fake, &config).await;
    assert_eq!(
        state.get("verified_identity_arn"),
        &Value::from(
            "arn:aws:sts::123456789012:assumed-role/ci-runner-gitlab-runner/gitlabrunner-verify"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn verify_failure_rolls_the_create_back() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    fake.fail(
        "sts:AssumeRoleWithWebIdentity",
        Fault::Aws(
            AwsErrorKind::AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
        1000,
    );
    let mut config = manager_config();
    config.set_attr(
        "verify",
        Value::object([("timeout_seconds", Value::int(10))]),
    );
    let planned = Binding::from_value(&planned_create(&config));
    let outcome = create(&remote(&fake, Fanout::Concurrent), &planned).await;
    assert!(outcome.state.is_none());
    assert!(
        outcome.diagnostics.0[0]
            .detail
            .contains("verification failed")
    );
    assert!(fake.inventory().is_empty());
}

#[tokio::test(start_paused = true)]
async fn stop_provider_during_update_reports_what_exists() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = manager_config();
    let state = created(&fake, &config).await;
    let mut changed = config.clone();
    changed.set_attr("role_description", "new".into());
    changed.set_attr("labels", Value::string_map([("tier", "ci")]));
    let (change, _) = plan(&state, &changed);
    let remote = remote(&fake, Fanout::Serial);
    let cancel = remote.cancel.clone();
    let stopper = async {
        tokio::time::sleep(LATENCY / 2).await;
        cancel.cancel();
    };
    let (prior, planned) = (
        Binding::from_value(&state),
        Binding::from_value(&change.planned),
    );
    let (outcome, ()) = tokio::join!(update(&remote, &prior, &planned), stopper);
    assert!(outcome.diagnostics.has_errors());
    let left = outcome.state.unwrap();
    // The first step (UpdateRole) finished; the label patch never started.
    assert_eq!(left.role_description.as_deref(), Some("new"));
    assert_eq!(
        left.labels,
        Some([("app".to_string(), "gitlab-runner".to_string())].into())
    );
}
