//! `gitlabrunner_irsa_binding` with EKS Pod Identity, end to end through the rig's EKS: create
//! in each mode; the move IRSA -> both -> Pod Identity only -> both -> IRSA in place (the role's
//! unique id never changes, no plan replaces anything, each plan warns, and the proxy's log
//! shows the trust statement added before the association is created and the association
//! deleted before the statement goes); the association deleted
//! or pointed at another role outside Terraform; import; adoption of an association for the
//! same role; and refusal of one for another role. After every step IAM, Kubernetes, EKS and
//! the state are read back (see `pod_identity_support::assert_mode`).
//!
//! `TF_ACC_CAPTURE_PLANS=DIR` makes the move test write the human-readable plan of each step
//! to `DIR/STEP.txt` (the migration guide quotes them).

use std::path::PathBuf;

use gitlabrunner_acceptance::fault_proxy::RequestRecord;
use gitlabrunner_acceptance::{Action, Severity, Workspace, say, unique_name};
use serde_json::json;

use crate::binding_support::{ADDRESS, Fixture, changed_attributes};
use crate::pod_identity_support::{
    Mode, assert_mode, associations, create_association, delete_association, other_role,
    pi_binding, plan_with_diagnostics, pod_identity_in_state, role_arn,
};

#[tokio::test]
async fn create_in_each_mode_writes_that_modes_trust_annotations_and_association() {
    let Some(f) = Fixture::new(
        "create_in_each_mode_writes_that_modes_trust_annotations_and_association",
        0,
    )
    .await
    else {
        return;
    };
    let create = async |mode: Mode| {
        let service_account = unique_name("runner");
        let ws = f.workspace();
        ws.write("main.tf", &pi_binding(&f, &service_account, mode, ""))
            .unwrap();
        let plan = ws.plan().await.unwrap();
        assert_eq!(plan.actions(ADDRESS), [Action::Create], "{}", mode.label());
        ws.apply().await.unwrap();
        assert_mode(&f, &ws, &service_account, mode).await;
        assert!(
            ws.plan().await.unwrap().is_empty(),
            "{}: plan after create",
            mode.label()
        );
        // Destroy removes the association with the role and the ServiceAccount.
        ws.destroy().await.unwrap();
        let role = format!("{}-{service_account}", f.namespace);
        assert!(
            f.iam_role(&role).await.is_none(),
            "{}: role left",
            mode.label()
        );
        assert!(
            associations(&f, &f.namespace, &service_account)
                .await
                .is_empty(),
            "{}: association left after destroy",
            mode.label()
        );
        mode.label()
    };
    let done =
        futures::future::join_all([Mode::Irsa, Mode::Both, Mode::PodIdentity].map(create)).await;
    say!("pod identity: created and destroyed in modes {done:?}");
}

/// Where the move test writes the human-readable plans, when asked to.
fn capture_dir() -> Option<PathBuf> {
    std::env::var_os("TF_ACC_CAPTURE_PLANS").map(PathBuf::from)
}

/// Writes the human-readable plan of the configuration in `ws` to the capture directory.
async fn capture_plan(ws: &Workspace, step: &str) {
    let Some(dir) = capture_dir() else { return };
    let output = ws
        .run_ok(&["plan", "-input=false", "-no-color"])
        .await
        .unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{step}.txt"));
    std::fs::write(&path, format!("{}{}", output.stdout, output.stderr)).unwrap();
    say!(
        "pod identity: plan of step {step} written to {}",
        path.display()
    );
}

/// The sequence number of the first call of `service:operation` in `calls` (about `role` for
/// IAM), if any.
fn first_call(calls: &[RequestRecord], service: &str, operation: &str, role: &str) -> Option<u64> {
    calls
        .iter()
        .filter(|r| r.service == service && r.operation == operation)
        .filter(|r| service != "iam" || r.param("RoleName") == Some(role))
        .map(|r| r.sequence)
        .min()
}

/// Asserts that a step added before it removed: the trust gains the Pod Identity statement
/// before the association is created (EKS wants the role to trust it), and the association
/// goes before the trust loses that statement.
fn assert_safe_order(calls: &[RequestRecord], step: &str, role: &str) {
    let trust = first_call(calls, "iam", "UpdateAssumeRolePolicy", role);
    let create = first_call(calls, "eks", "CreatePodIdentityAssociation", "");
    let delete = first_call(calls, "eks", "DeletePodIdentityAssociation", "");
    match step {
        "1-irsa-to-both" => {
            let (trust, create) = (trust.expect("trust written"), create.expect("created"));
            assert!(
                trust < create,
                "{step}: association created before the trust allowed it"
            );
        }
        "4-both-to-irsa" => {
            let (trust, delete) = (trust.expect("trust written"), delete.expect("deleted"));
            assert!(
                delete < trust,
                "{step}: trust narrowed before the association went"
            );
        }
        _ => assert!(
            create.is_none() && delete.is_none(),
            "{step}: the association was made again ({create:?}, {delete:?})"
        ),
    }
}

/// How the plan's warning names a mode.
fn described(mode: Mode) -> String {
    let cluster = crate::pod_identity_support::CLUSTER;
    match mode {
        Mode::Irsa => "IRSA".to_string(),
        Mode::Both => format!("IRSA and EKS Pod Identity (cluster {cluster})"),
        Mode::PodIdentity => format!("EKS Pod Identity (cluster {cluster})"),
    }
}

#[tokio::test]
async fn moving_between_modes_updates_in_place_keeping_the_role_and_warns() {
    let Some(f) = Fixture::new(
        "moving_between_modes_updates_in_place_keeping_the_role_and_warns",
        1,
    )
    .await
    else {
        return;
    };
    let sa = f.service_account.clone();
    let body = crate::binding_support::grant(&f.jobs[0], Some("kubernetes-executor"), &[]);
    // Through a proxy, whose log shows the order of the calls of each step.
    let proxy = f.h.start_proxy().unwrap();
    let ws = f.h.workspace_via(&proxy).unwrap();
    ws.write("main.tf", &pi_binding(&f, &sa, Mode::Irsa, &body))
        .unwrap();
    ws.apply().await.unwrap();
    assert_mode(&f, &ws, &sa, Mode::Irsa).await;
    let role_name = f.default_role_name();
    let role_id = f.iam_role(&role_name).await.unwrap().role_id().to_string();
    let uid = f.service_account().await.unwrap().metadata.uid;

    let steps = [
        ("1-irsa-to-both", Mode::Both),
        ("2-both-to-pod-identity", Mode::PodIdentity),
        ("3-pod-identity-to-both", Mode::Both),
        ("4-both-to-irsa", Mode::Irsa),
    ];
    let mut previous = Mode::Irsa;
    for (step, mode) in steps {
        ws.write("main.tf", &pi_binding(&f, &sa, mode, &body))
            .unwrap();
        capture_plan(&ws, step).await;
        let (plan, diagnostics) = plan_with_diagnostics(&ws).await;
        let change = plan.change(ADDRESS).unwrap();
        assert_eq!(
            change.change.actions,
            [Action::Update],
            "{step}: {}",
            plan.summary()
        );
        assert!(
            change.change.replace_paths.is_empty(),
            "{step}: replace paths {:?}",
            change.change.replace_paths
        );
        assert!(
            !change.is_unknown_after("role_unique_id") && !change.is_unknown_after("role_arn"),
            "{step}: the role is not kept"
        );
        let changed = changed_attributes(change);
        assert!(
            changed.contains("trust_policy") || change.is_unknown_after("trust_policy"),
            "{step}: {changed:?}"
        );
        // The warning: running pods keep their credentials until restarted, and while the
        // annotation exists the SDK chain prefers IRSA's web identity.
        let warning = diagnostics
            .iter()
            .find(|d| {
                d.severity == Severity::Warning
                    && d.summary == "Running pods keep their credentials until they restart"
            })
            .unwrap_or_else(|| {
                panic!("{step}: no warning about restarting pods: {diagnostics:#?}")
            });
        let change_text = format!(
            "changes from {} to {}",
            described(previous),
            described(mode)
        );
        for part in [
            change_text.as_str(),
            "web identity token (IRSA) before container credentials",
        ] {
            assert!(
                warning.detail.contains(part),
                "{step}: the warning does not say {part:?}: {}",
                warning.detail
            );
        }
        previous = mode;

        proxy.clear_requests();
        ws.run_ok(&["apply", "-input=false", "-no-color", "-json", "tfplan"])
            .await
            .unwrap();
        assert_safe_order(&proxy.requests(), step, &role_name);
        assert_mode(&f, &ws, &sa, mode).await;
        let role = f.iam_role(&role_name).await.unwrap();
        assert_eq!(role.role_id(), role_id, "{step}: the role was replaced");
        let state = ws.show().await.unwrap();
        assert_eq!(
            state.resource(ADDRESS).unwrap().str_attr("role_unique_id"),
            Some(role_id.as_str()),
            "{step}"
        );
        assert_eq!(
            f.service_account().await.unwrap().metadata.uid,
            uid,
            "{step}: the ServiceAccount was replaced"
        );
        assert!(
            f.rbac_role(&f.jobs[0]).await.is_some(),
            "{step}: the grant is kept"
        );
        let again = ws.plan().await.unwrap();
        assert!(
            again.is_empty(),
            "{step}: plan after apply: {:?}",
            again.change(ADDRESS).map(changed_attributes)
        );
        say!("pod identity: {step}: updated in place, role id {role_id} kept");
    }

    ws.destroy().await.unwrap();
    f.assert_gone(&role_name, &f.jobs).await;
}

#[tokio::test]
async fn association_deleted_or_repointed_outside_terraform_is_planned_and_repaired() {
    let Some(f) = Fixture::new(
        "association_deleted_or_repointed_outside_terraform_is_planned_and_repaired",
        0,
    )
    .await
    else {
        return;
    };
    let sa = f.service_account.clone();
    let ws = f.workspace();
    ws.write("main.tf", &pi_binding(&f, &sa, Mode::Both, ""))
        .unwrap();
    ws.apply().await.unwrap();
    let first = assert_mode(&f, &ws, &sa, Mode::Both).await.unwrap();

    // Deleted: refresh sees it gone, the plan updates the binding, apply makes a new one.
    delete_association(&f, &first.id).await;
    let refreshed = ws.plan_refresh_only().await.unwrap();
    let drift = refreshed
        .drift(ADDRESS)
        .expect("plan -refresh-only shows the deleted association");
    assert!(
        changed_attributes(drift).contains("pod_identity"),
        "{:?}",
        changed_attributes(drift)
    );
    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.actions(ADDRESS),
        [Action::Update],
        "{}",
        plan.summary()
    );
    assert!(changed_attributes(plan.change(ADDRESS).unwrap()).contains("pod_identity"));
    ws.apply().await.unwrap();
    let second = assert_mode(&f, &ws, &sa, Mode::Both).await.unwrap();
    assert_ne!(second.id, first.id, "a new association");
    assert!(ws.plan().await.unwrap().is_empty());

    // Pointed at another role: the plan shows it, apply points it back.
    let (other_name, other_arn) = other_role(&f).await;
    crate::pod_identity_support::eks(&f)
        .await
        .update_pod_identity_association()
        .cluster_name(crate::pod_identity_support::CLUSTER)
        .association_id(&second.id)
        .role_arn(&other_arn)
        .send()
        .await
        .unwrap();
    let refreshed = ws.plan_refresh_only().await.unwrap();
    assert!(
        refreshed.drift(ADDRESS).is_some(),
        "plan -refresh-only does not show the association pointing at {other_arn}"
    );
    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.actions(ADDRESS),
        [Action::Update],
        "{}",
        plan.summary()
    );
    ws.apply().await.unwrap();
    let repaired = assert_mode(&f, &ws, &sa, Mode::Both).await.unwrap();
    assert_eq!(repaired.role_arn, role_arn(&f, &sa));
    assert_eq!(
        repaired.id, second.id,
        "the same association is pointed back"
    );
    assert!(ws.plan().await.unwrap().is_empty());

    ws.destroy().await.unwrap();
    assert!(associations(&f, &f.namespace, &sa).await.is_empty());
    crate::pod_identity_support::delete_other_role(&f, &other_name).await;
    f.assert_gone(&f.default_role_name(), &[]).await;
}

#[tokio::test]
async fn import_finds_the_association_and_plans_no_change() {
    let Some(f) = Fixture::new("import_finds_the_association_and_plans_no_change", 0).await else {
        return;
    };
    let import = async |mode: Mode| {
        let sa = unique_name("runner");
        let configuration = pi_binding(&f, &sa, mode, "");
        let ws = f.workspace();
        ws.write("main.tf", &configuration).unwrap();
        ws.apply().await.unwrap();
        let association = assert_mode(&f, &ws, &sa, mode).await.unwrap();

        let imported = f.workspace();
        imported.write("main.tf", &configuration).unwrap();
        imported
            .import(ADDRESS, &format!("{}/{sa}", f.namespace))
            .await
            .unwrap();
        let state = imported.show().await.unwrap();
        let block = pod_identity_in_state(&state)
            .unwrap_or_else(|| panic!("{}: import found no association", mode.label()));
        assert_eq!(block["association_id"], json!(association.id));
        assert_eq!(
            block["cluster_name"],
            crate::pod_identity_support::CLUSTER,
            "{}: import found the cluster",
            mode.label()
        );
        let plan = imported.plan().await.unwrap();
        assert!(
            plan.is_empty(),
            "{}: plan after import: {:?}",
            mode.label(),
            plan.change(ADDRESS).map(|c| (
                changed_attributes(c),
                &c.change.before,
                &c.change.after
            ))
        );
        assert_mode(&f, &imported, &sa, mode).await;
        imported.destroy().await.unwrap();
        assert!(associations(&f, &f.namespace, &sa).await.is_empty());
        mode.label()
    };
    let done = futures::future::join_all([Mode::Both, Mode::PodIdentity].map(import)).await;
    say!("pod identity: imported in modes {done:?}");

    // Pod Identity only with another role_name: no annotation names the role and it is not at
    // its default name, so the id names the cluster and the association names the role.
    let sa = unique_name("runner");
    let role_name = format!("pi-{sa}");
    let configuration = pi_binding(
        &f,
        &sa,
        Mode::PodIdentity,
        &format!("  role_name            = \"{role_name}\"\n"),
    );
    let ws = f.workspace();
    ws.write("main.tf", &configuration).unwrap();
    ws.apply().await.unwrap();
    let association = associations(&f, &f.namespace, &sa).await;
    assert_eq!(association.len(), 1, "{association:?}");
    let imported = f.workspace();
    imported.write("main.tf", &configuration).unwrap();
    imported
        .import(
            ADDRESS,
            &format!(
                "{}/{}/{sa}",
                crate::pod_identity_support::CLUSTER,
                f.namespace
            ),
        )
        .await
        .unwrap();
    let state = imported.show().await.unwrap();
    assert_eq!(
        state.resource(ADDRESS).unwrap().str_attr("role_name"),
        Some(role_name.as_str())
    );
    assert_eq!(
        pod_identity_in_state(&state).unwrap()["association_id"],
        json!(association[0].id)
    );
    let plan = imported.plan().await.unwrap();
    assert!(plan.is_empty(), "plan after import: {}", plan.summary());
    imported.destroy().await.unwrap();
    assert!(associations(&f, &f.namespace, &sa).await.is_empty());
    f.assert_gone(&role_name, &[]).await;
    say!(
        "pod identity: imported a Pod-Identity-only binding with role_name {role_name} by CLUSTER/NAMESPACE/NAME"
    );
}

#[tokio::test]
async fn association_for_the_same_role_is_adopted_and_one_for_another_role_is_refused() {
    let Some(f) = Fixture::new(
        "association_for_the_same_role_is_adopted_and_one_for_another_role_is_refused",
        0,
    )
    .await
    else {
        return;
    };

    // Adoption: the binding exists with IRSA, someone (eksctl's migrate-to-pod-identity, say)
    // made the association; switching to both adopts it, with no 409 and no second one.
    let sa = f.service_account.clone();
    let ws = f.workspace();
    ws.write("main.tf", &pi_binding(&f, &sa, Mode::Irsa, ""))
        .unwrap();
    ws.apply().await.unwrap();
    // EKS accepts an association only for a role that trusts pods.eks.amazonaws.com, so the
    // other tool first adds a statement for it (as eksctl's migrate-to-pod-identity does).
    let role_name = f.default_role_name();
    let mut trust = f.trust_policy(&role_name).await;
    trust["Statement"].as_array_mut().unwrap().push(json!({
        "Effect": "Allow",
        "Principal": {"Service": crate::pod_identity_support::POD_IDENTITY_PRINCIPAL},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }));
    f.aws
        .iam
        .update_assume_role_policy()
        .role_name(&role_name)
        .policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let existing = create_association(&f, &sa, &role_arn(&f, &sa)).await;
    ws.write("main.tf", &pi_binding(&f, &sa, Mode::Both, ""))
        .unwrap();
    ws.apply().await.unwrap();
    let adopted = assert_mode(&f, &ws, &sa, Mode::Both).await.unwrap();
    assert_eq!(
        adopted.id, existing.id,
        "the existing association is adopted"
    );
    assert!(ws.plan().await.unwrap().is_empty());
    // A second apply is not a 409 loop either.
    ws.apply().await.unwrap();
    ws.destroy().await.unwrap();
    assert!(associations(&f, &f.namespace, &sa).await.is_empty());

    // Another role's association for the ServiceAccount: an error naming it, nothing made.
    let (other_name, other_arn) = other_role(&f).await;
    let taken = unique_name("runner");
    let foreign = create_association(&f, &taken, &other_arn).await;
    let refused = f.workspace();
    refused
        .write("main.tf", &pi_binding(&f, &taken, Mode::Both, ""))
        .unwrap();
    let diagnostics = refused.apply_expect_error().await.unwrap();
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.one_line())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&other_arn) && e.contains(&foreign.id)),
        "no error naming role {other_arn} and association {}: {errors:#?}",
        foreign.id
    );
    assert!(refused.show().await.unwrap().is_empty(), "nothing in state");
    let role = format!("{}-{taken}", f.namespace);
    assert!(
        f.iam_role(&role).await.is_none(),
        "the binding's role is left"
    );
    assert!(
        f.service_accounts(&f.namespace)
            .get_opt(&taken)
            .await
            .unwrap()
            .is_none(),
        "the ServiceAccount is left"
    );
    assert_eq!(
        associations(&f, &f.namespace, &taken).await,
        std::slice::from_ref(&foreign),
        "the other association is untouched"
    );

    delete_association(&f, &foreign.id).await;
    crate::pod_identity_support::delete_other_role(&f, &other_name).await;
}
