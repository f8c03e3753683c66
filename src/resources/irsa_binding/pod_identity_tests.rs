//! EKS Pod Identity against the in-memory fake (issue 14): create in each mode, rollback when
//! the association cannot be made, mode switches that keep the role and order their steps
//! safely, drift of the association, import, adoption of the exact match and refusal of a
//! conflicting association.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::AwsErrorKind;
use crate::codec::Value;
use crate::concurrency::Fanout;
use crate::ownership;

use super::create::{Outcome, create};
use super::delete::delete;
use super::eks_auth::NoEksAuth;
use super::fake::{CLUSTER, Fake, Fault};
use super::import::import;
use super::model::Binding;
use super::read::read;
use super::remote::Remote;
use super::testing::{
    defaults, empty_config, fake_remote, grant, plan, plan_is_empty, pod_identity,
};
use super::update::update;

const NAMESPACES: [&str; 2] = ["ci-runner", "ci-jobs"];
const ROLE: &str = "ci-runner-gitlab-runner";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/ci-runner-gitlab-runner";

fn remote(fake: &Fake, fanout: Fanout) -> Remote<'_> {
    fake_remote(fake, &NoEksAuth, fanout, Duration::from_secs(120))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Irsa,
    Both,
    PodIdentity,
}

fn config(mode: Mode) -> Value {
    let mut config = empty_config();
    config.set_attr("namespace", "ci-runner".into());
    config.set_attr("service_account_name", "gitlab-runner".into());
    config.set_attr(
        "grant",
        Value::List(vec![grant("ci-jobs", Some("kubernetes-executor"), vec![])]),
    );
    if mode != Mode::Irsa {
        config.set_attr("pod_identity", pod_identity(CLUSTER));
    }
    if mode == Mode::PodIdentity {
        config.set_attr("irsa", false.into());
    }
    config
}

fn state_value(outcome: &Outcome) -> Value {
    outcome
        .state
        .as_ref()
        .map_or(Value::Null, Binding::to_value)
}

async fn created(fake: &Fake, config: &Value) -> Value {
    let (change, diags) = plan(&Value::Null, config);
    assert!(!diags.has_errors(), "{diags:?}");
    let outcome = create(
        &remote(fake, Fanout::Concurrent),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let state = state_value(&outcome);
    let schema = super::schema::schema();
    let diags = crate::framework::check_apply_for_tests(&schema, &change.planned, &state);
    assert!(diags.is_empty(), "{diags:?}");
    state
}

async fn refresh(fake: &Fake, state: &Value) -> (Value, crate::codec::Diagnostics) {
    let (refreshed, warnings) = read(
        &remote(fake, Fanout::Concurrent),
        &Binding::from_value(state),
    )
    .await;
    (refreshed.map_or(Value::Null, |b| b.to_value()), warnings)
}

/// Plans `config` against `state`, applies the update, and checks the next plan is empty.
async fn apply(fake: &Fake, state: &Value, config: &Value) -> Value {
    let (change, diags) = plan(state, config);
    assert!(!diags.has_errors(), "{diags:?}");
    let outcome = update(
        &remote(fake, Fanout::Concurrent),
        &Binding::from_value(state),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    let applied = state_value(&outcome);
    let schema = super::schema::schema();
    let diags = crate::framework::check_apply_for_tests(&schema, &change.planned, &applied);
    assert!(diags.is_empty(), "{diags:?}");
    let (again, _) = refresh(fake, &applied).await;
    plan_is_empty(&again, config).expect("the plan after apply is empty");
    again
}

fn annotations(fake: &Fake) -> BTreeMap<String, String> {
    fake.edit(|w| w.account("ci-runner", "gitlab-runner").cloned())
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default()
}

fn trust(fake: &Fake) -> serde_json::Value {
    let text = fake
        .edit(|w| w.role(ROLE).map(|r| r.trust_policy.clone()))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn principals(fake: &Fake) -> Vec<String> {
    trust(fake)["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let p = &s["Principal"];
            p.get("Federated")
                .or_else(|| p.get("Service"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn associations(fake: &Fake) -> Vec<super::remote::Association> {
    fake.edit(|w| w.associations().values().cloned().collect())
}

fn association_id(state: &Value) -> Value {
    state.get("pod_identity").as_elements().unwrap()[0]
        .get("association_id")
        .clone()
}

#[tokio::test(start_paused = true)]
async fn create_in_each_mode_makes_what_the_mode_needs_and_nothing_else() {
    for mode in [Mode::Irsa, Mode::Both, Mode::PodIdentity] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let config = config(mode);
        let state = created(&fake, &config).await;
        let irsa = mode != Mode::PodIdentity;
        let pods = mode != Mode::Irsa;
        let annotations = annotations(&fake);
        assert_eq!(
            annotations.contains_key("eks.amazonaws.com/role-arn"),
            irsa,
            "{mode:?}"
        );
        if !irsa {
            assert!(
                annotations
                    .keys()
                    .all(|k| !k.starts_with("eks.amazonaws.com/")),
                "{mode:?}: {annotations:?}"
            );
        }
        let principals = principals(&fake);
        assert_eq!(
            principals.iter().any(|p| p.contains(":oidc-provider/")),
            irsa,
            "{mode:?}"
        );
        assert_eq!(
            principals.iter().any(|p| p == "pods.eks.amazonaws.com"),
            pods,
            "{mode:?}"
        );
        let made = associations(&fake);
        assert_eq!(made.len(), usize::from(pods), "{mode:?}");
        if pods {
            let association = &made[0];
            assert_eq!(
                (
                    association.namespace.as_str(),
                    association.service_account.as_str()
                ),
                ("ci-runner", "gitlab-runner")
            );
            assert_eq!(association.role_arn, ROLE_ARN);
            assert_eq!(
                association.tags[ownership::OWNER_KEY],
                "ci-runner/gitlab-runner"
            );
            assert_eq!(association_id(&state), Value::from(association.id.as_str()));
        }
        let (refreshed, warnings) = refresh(&fake, &state).await;
        assert!(warnings.is_empty(), "{mode:?}: {warnings:?}");
        assert_eq!(refreshed, state, "{mode:?}");
        plan_is_empty(&refreshed, &config).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn create_in_pod_identity_mode_keeps_the_critical_path_at_two_round_trips() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let start = tokio::time::Instant::now();
    created(&fake, &config(Mode::PodIdentity)).await;
    assert_eq!(start.elapsed(), super::fake::LATENCY * 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_association_create_rolls_everything_back() {
    for mode in [Mode::Both, Mode::PodIdentity] {
        for fault in [
            Fault::Aws(
                AwsErrorKind::AccessDenied,
                "not authorized to eks:CreatePodIdentityAssociation",
            ),
            Fault::Aws(AwsErrorKind::NotFound, "No cluster found"),
        ] {
            let fake = Fake::with_namespaces(&NAMESPACES);
            fake.fail("eks:CreatePodIdentityAssociation", fault, 1);
            let (change, _) = plan(&Value::Null, &config(mode));
            let outcome = create(
                &remote(&fake, Fanout::Concurrent),
                &Binding::from_value(&change.planned),
            )
            .await;
            assert!(outcome.state.is_none(), "{mode:?}");
            assert!(outcome.diagnostics.has_errors());
            assert!(
                outcome.diagnostics.0[0]
                    .detail
                    .contains("eks:CreatePodIdentityAssociation"),
                "{:?}",
                outcome.diagnostics
            );
            assert_eq!(fake.inventory(), Vec::<String>::new(), "{mode:?}");
        }
    }
    // A failure after the association was made removes it too.
    let fake = Fake::with_namespaces(&NAMESPACES);
    fake.fail("kube:create RoleBinding", Fault::Kube(403, "Forbidden"), 1);
    let (change, _) = plan(&Value::Null, &config(Mode::PodIdentity));
    let outcome = create(
        &remote(&fake, Fanout::Serial),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.state.is_none());
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.starts_with("eks:DeletePodIdentityAssociation"))
    );
    assert_eq!(fake.inventory(), Vec::<String>::new());
}

/// The positions in the call log of the first call starting with each prefix.
fn position(calls: &[String], prefix: &str) -> usize {
    calls
        .iter()
        .position(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {calls:#?}"))
}

fn last_position(calls: &[String], prefix: &str) -> usize {
    calls
        .iter()
        .rposition(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {calls:#?}"))
}

#[tokio::test(start_paused = true)]
async fn every_mode_switch_keeps_the_role_and_adds_before_it_removes() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let mut state = created(&fake, &config(Mode::Irsa)).await;
    let role_id = state.get("role_unique_id").clone();
    let moves = [
        Mode::Both,
        Mode::PodIdentity,
        Mode::Both,
        Mode::Irsa,
        Mode::PodIdentity,
        Mode::Irsa,
    ];
    let mut from = Mode::Irsa;
    for to in moves {
        let before = fake.calls().len();
        state = apply(&fake, &state, &config(to)).await;
        let calls: Vec<String> = fake.calls()[before..].to_vec();
        assert_eq!(state.get("role_unique_id"), &role_id, "{from:?} -> {to:?}");
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("iam:CreateRole") || c.starts_with("iam:DeleteRole ")),
            "{from:?} -> {to:?}: the role is never replaced: {calls:#?}"
        );
        let trust_writes: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| c.starts_with("iam:UpdateAssumeRolePolicy"))
            .map(|(i, _)| i)
            .collect();
        let sa_patch = calls
            .iter()
            .position(|c| c.starts_with("kube:patch ServiceAccount"));
        match (from, to) {
            (Mode::Irsa, Mode::Both) => {
                // New statement first, then the association; the annotation stays.
                assert_eq!(trust_writes.len(), 1);
                assert!(trust_writes[0] < position(&calls, "eks:CreatePodIdentityAssociation"));
                assert_eq!(sa_patch, None);
            }
            (Mode::Both, Mode::PodIdentity) => {
                // The annotation goes before the OIDC statement.
                assert_eq!(trust_writes.len(), 1);
                assert!(sa_patch.unwrap() < trust_writes[0], "{calls:#?}");
                assert!(!calls.iter().any(|c| c.starts_with("eks:Create")));
            }
            (Mode::PodIdentity, Mode::Both) => {
                // The OIDC statement before the annotation.
                assert_eq!(trust_writes.len(), 1);
                assert!(trust_writes[0] < sa_patch.unwrap(), "{calls:#?}");
            }
            (Mode::Both, Mode::Irsa) => {
                // The association goes before the Pod Identity statement.
                assert_eq!(trust_writes.len(), 1);
                assert!(
                    position(&calls, "eks:DeletePodIdentityAssociation") < trust_writes[0],
                    "{calls:#?}"
                );
            }
            (Mode::Irsa, Mode::PodIdentity) => {
                // Both statements, the association, then the annotation, then the OIDC
                // statement goes.
                assert_eq!(trust_writes.len(), 2, "{calls:#?}");
                let created = position(&calls, "eks:CreatePodIdentityAssociation");
                assert!(trust_writes[0] < created);
                assert!(created < sa_patch.unwrap());
                assert!(sa_patch.unwrap() < trust_writes[1]);
            }
            (Mode::PodIdentity, Mode::Irsa) => {
                // Both statements, the annotation, then the association and the Pod Identity
                // statement go.
                assert_eq!(trust_writes.len(), 2, "{calls:#?}");
                let deleted = position(&calls, "eks:DeletePodIdentityAssociation");
                assert!(trust_writes[0] < sa_patch.unwrap());
                assert!(sa_patch.unwrap() < deleted);
                assert!(deleted < trust_writes[1], "{calls:#?}");
                assert_eq!(
                    last_position(&calls, "iam:UpdateAssumeRolePolicy"),
                    trust_writes[1]
                );
            }
            other => panic!("unexpected move {other:?}"),
        }
        // What exists is what the mode needs.
        assert_eq!(
            associations(&fake).len(),
            usize::from(to != Mode::Irsa),
            "{to:?}"
        );
        assert_eq!(
            annotations(&fake).contains_key("eks.amazonaws.com/role-arn"),
            to != Mode::PodIdentity,
            "{to:?}"
        );
        from = to;
    }
}

#[tokio::test(start_paused = true)]
async fn a_deleted_association_shows_as_drift_and_apply_recreates_it() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let config = config(Mode::Both);
    let state = created(&fake, &config).await;
    let id = association_id(&state).as_str().unwrap().to_string();
    fake.edit(|w| w.associations().remove(&id));
    let (refreshed, warnings) = refresh(&fake, &state).await;
    assert!(association_id(&refreshed).is_null());
    assert!(
        warnings
            .iter()
            .any(|w| w.summary.contains(&id) && w.summary.contains("deleted outside Terraform")),
        "{warnings:?}"
    );
    assert!(plan_is_empty(&refreshed, &config).is_err());
    let repaired = apply(&fake, &refreshed, &config).await;
    let made = associations(&fake);
    assert_eq!(made.len(), 1);
    assert_eq!(association_id(&repaired), Value::from(made[0].id.as_str()));
}

#[tokio::test(start_paused = true)]
async fn an_association_pointed_at_another_role_shows_as_drift_and_apply_points_it_back() {
    // Made by the binding, or adopted: either way the state knows its id.
    for adopted in [false, true] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        if adopted {
            fake.edit(|w| {
                w.add_association("ci-runner", "gitlab-runner", ROLE_ARN, BTreeMap::new())
            });
        }
        let config = config(Mode::PodIdentity);
        let state = created(&fake, &config).await;
        let id = association_id(&state).as_str().unwrap().to_string();
        let other = "arn:aws:iam::123456789012:role/someone-else";
        fake.edit(|w| w.associations().get_mut(&id).unwrap().role_arn = other.to_string());
        let (refreshed, warnings) = refresh(&fake, &state).await;
        assert_eq!(association_id(&refreshed), Value::from(id.as_str()));
        let arn = refreshed.get("pod_identity").as_elements().unwrap()[0]
            .get("association_arn")
            .clone();
        assert!(arn.is_null(), "the ARN shows the drift: {arn:?}");
        assert!(
            warnings.iter().any(|w| w.detail.contains(other)),
            "{warnings:?}"
        );
        assert!(plan_is_empty(&refreshed, &config).is_err());
        let repaired = apply(&fake, &refreshed, &config).await;
        let made = associations(&fake);
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].id, id, "repaired in place, not replaced");
        assert_eq!(made[0].role_arn, ROLE_ARN);
        assert_eq!(association_id(&repaired), Value::from(id.as_str()));
    }
}

#[tokio::test(start_paused = true)]
async fn import_finds_the_cluster_in_the_trust_and_the_association_by_listing() {
    for mode in [Mode::Both, Mode::PodIdentity] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let config = config(mode);
        let state = created(&fake, &config).await;
        let (imported, warnings) = import(
            &remote(&fake, Fanout::Concurrent),
            &defaults(),
            "ci-runner/gitlab-runner",
        )
        .await
        .unwrap();
        assert!(warnings.is_empty(), "{mode:?}: {warnings:?}");
        assert_eq!(imported.irsa, mode != Mode::PodIdentity);
        let block = imported.pod_identity.clone().unwrap();
        assert_eq!(block.cluster_name, CLUSTER);
        assert_eq!(
            block.association_id.as_deref(),
            association_id(&state).as_str()
        );
        assert!(
            fake.calls()
                .iter()
                .any(|c| c.starts_with("eks:ListPodIdentityAssociations"))
        );
        let (refreshed, _) = refresh(&fake, &imported.to_value()).await;
        plan_is_empty(&refreshed, &config).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    }
}

#[tokio::test(start_paused = true)]
async fn import_with_the_cluster_in_the_id_finds_a_role_with_another_name_by_its_association() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let mut config = config(Mode::PodIdentity);
    config.set_attr("role_name", "runner-manager".into());
    let state = created(&fake, &config).await;
    let remote = remote(&fake, Fanout::Concurrent);

    // No annotation names the role, and it is not at its default name: the id must name the
    // cluster.
    let (without_cluster, warnings) = import(&remote, &defaults(), "ci-runner/gitlab-runner")
        .await
        .unwrap();
    assert_eq!(without_cluster.role_unique_id, None);
    assert!(
        warnings
            .0
            .iter()
            .any(|d| d.summary == "The binding's IAM role was not found"
                && d.detail.contains("CLUSTER/ci-runner/gitlab-runner")),
        "{warnings:?}"
    );

    let (imported, warnings) = import(
        &remote,
        &defaults(),
        &format!("{CLUSTER}/ci-runner/gitlab-runner"),
    )
    .await
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(imported.role_name, "runner-manager");
    assert!(!imported.irsa);
    assert_eq!(
        imported
            .pod_identity
            .as_ref()
            .unwrap()
            .association_id
            .as_deref(),
        association_id(&state).as_str()
    );
    let (refreshed, _) = refresh(&fake, &imported.to_value()).await;
    plan_is_empty(&refreshed, &config).unwrap();

    // An unknown cluster is EKS's error; a cluster without an association for the
    // ServiceAccount names no role.
    let unknown = import(
        &remote,
        &defaults(),
        "other-cluster/ci-runner/gitlab-runner",
    )
    .await
    .expect_err("an import through an unknown cluster fails");
    assert!(
        unknown
            .0
            .iter()
            .any(|d| d.detail.contains("ListPodIdentityAssociations")),
        "{unknown:?}"
    );
    fake.edit(|w| w.associations().clear());
    let none = import(
        &remote,
        &defaults(),
        &format!("{CLUSTER}/ci-runner/gitlab-runner"),
    )
    .await
    .expect_err("an import through a cluster without the association fails");
    assert_eq!(none.0.len(), 1, "{none:?}");
    assert_eq!(none.0[0].summary, "No Pod Identity association to import");
    assert!(
        none.0[0].detail.contains(&format!("Cluster {CLUSTER} has no EKS Pod Identity association for ServiceAccount ci-runner/gitlab-runner")),
        "{none:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_existing_association_for_the_same_role_is_adopted_without_a_409_loop() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let existing =
        fake.edit(|w| w.add_association("ci-runner", "gitlab-runner", ROLE_ARN, BTreeMap::new()));
    let state = created(&fake, &config(Mode::PodIdentity)).await;
    assert_eq!(association_id(&state), Value::from(existing.as_str()));
    let creates = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("eks:CreatePodIdentityAssociation"))
        .count();
    assert_eq!(creates, 1, "one 409, then adoption");
    assert_eq!(associations(&fake).len(), 1);
    // Applying again plans and changes nothing.
    let (refreshed, _) = refresh(&fake, &state).await;
    plan_is_empty(&refreshed, &config(Mode::PodIdentity)).unwrap();
    // Destroy removes the adopted association with the rest.
    let outcome = delete(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&refreshed),
    )
    .await;
    assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
    assert_eq!(fake.inventory(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn an_association_for_another_role_is_an_error_naming_it_and_is_left_alone() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let other = "arn:aws:iam::123456789012:role/another-team";
    let existing =
        fake.edit(|w| w.add_association("ci-runner", "gitlab-runner", other, BTreeMap::new()));
    let (change, _) = plan(&Value::Null, &config(Mode::Both));
    let outcome = create(
        &remote(&fake, Fanout::Concurrent),
        &Binding::from_value(&change.planned),
    )
    .await;
    assert!(outcome.state.is_none());
    let detail = &outcome.diagnostics.0[0].detail;
    assert!(
        detail.contains(other) && detail.contains(&existing),
        "{detail}"
    );
    let left = associations(&fake);
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].id.as_str(), left[0].role_arn.as_str()),
        (existing.as_str(), other)
    );
    assert_eq!(fake.inventory().len(), 1, "{:?}", fake.inventory());
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.starts_with("eks:UpdatePodIdentityAssociation")
                || c.starts_with("eks:DeletePodIdentityAssociation"))
    );
}

#[tokio::test(start_paused = true)]
async fn the_bindings_own_leftover_association_is_taken_back() {
    let fake = Fake::with_namespaces(&NAMESPACES);
    let tags = super::objects::ownership_tags("ci-runner/gitlab-runner");
    let leftover = fake.edit(|w| {
        w.add_association(
            "ci-runner",
            "gitlab-runner",
            "arn:aws:iam::123456789012:role/old-name",
            tags,
        )
    });
    let state = created(&fake, &config(Mode::Both)).await;
    assert_eq!(association_id(&state), Value::from(leftover.as_str()));
    assert_eq!(associations(&fake)[0].role_arn, ROLE_ARN);
}

#[tokio::test(start_paused = true)]
async fn delete_removes_the_association_and_one_already_gone_is_fine() {
    for gone in [false, true] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let state = created(&fake, &config(Mode::Both)).await;
        if gone {
            fake.edit(|w| w.associations().clear());
        }
        let outcome = delete(
            &remote(&fake, Fanout::Concurrent),
            &Binding::from_value(&state),
        )
        .await;
        assert!(outcome.diagnostics.is_empty(), "{:?}", outcome.diagnostics);
        assert!(outcome.state.is_none());
        assert_eq!(fake.inventory(), Vec::<String>::new());
    }
}

#[tokio::test(start_paused = true)]
async fn a_rename_moves_the_association_and_a_failed_switch_moves_it_back() {
    for fails in [false, true] {
        let fake = Fake::with_namespaces(&NAMESPACES);
        let config = config(Mode::Both);
        let state = created(&fake, &config).await;
        let id = association_id(&state).as_str().unwrap().to_string();
        let mut renamed = config.clone();
        renamed.set_attr("role_name", "renamed-runner".into());
        if !fails {
            let after = apply(&fake, &state, &renamed).await;
            assert_eq!(association_id(&after), Value::from(id.as_str()));
            assert_eq!(
                associations(&fake)[0].role_arn,
                "arn:aws:iam::123456789012:role/renamed-runner"
            );
            continue;
        }
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
        assert_eq!(outcome.state.unwrap().role_name, ROLE);
        let left = associations(&fake);
        assert_eq!(left.len(), 1);
        assert_eq!(
            (left[0].id.as_str(), left[0].role_arn.as_str()),
            (id.as_str(), ROLE_ARN)
        );
    }
}
