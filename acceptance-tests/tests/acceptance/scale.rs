//! 50 bindings in one apply, every one granting in the same two job namespaces (the usual
//! layout: many runner managers, shared job namespaces): all created correctly, no conflict
//! between their Roles and RoleBindings, an empty plan after, and nothing left after destroy.
//! The workload is built from its own prerequisites (an OIDC provider and managed policies),
//! not from a request log, and checked through the Kubernetes API: it runs on any cluster.

use gitlabrunner_acceptance::harness;
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::workload::inventory::BindingInventory;
use gitlabrunner_acceptance::workload::setup::{create_namespaces, delete_namespaces};
use gitlabrunner_acceptance::workload::{BindingSpec, Shape, binding_state_mismatches, token};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams};

use crate::fault_matrix::PROVIDER_BODY;
use crate::workloads::{Bindings, Workload};

const BINDINGS: usize = 50;

/// The labelled Roles and RoleBindings in `namespace`, by name: `(Role names, RoleBinding
/// name to its subject)`.
async fn rbac_in(client: &kube::Client, namespace: &str) -> (Vec<String>, Vec<(String, String)>) {
    let params = ListParams::default()
        .labels(gitlabrunner_acceptance::workload::inventory::MANAGED_BY_LABEL);
    let roles = Api::<Role>::namespaced(client.clone(), namespace)
        .list(&params)
        .await
        .unwrap();
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .list(&params)
        .await
        .unwrap();
    (
        roles
            .items
            .iter()
            .filter_map(|r| r.metadata.name.clone())
            .collect(),
        bindings
            .items
            .iter()
            .map(|b| {
                let subject = b
                    .subjects
                    .iter()
                    .flatten()
                    .map(|s| format!("{}/{}", s.namespace.as_deref().unwrap_or(""), s.name))
                    .collect::<Vec<_>>()
                    .join(",");
                (b.metadata.name.clone().unwrap_or_default(), subject)
            })
            .collect(),
    )
}

#[tokio::test]
async fn fifty_bindings_sharing_job_namespaces_apply_without_conflict() {
    let test = "fifty_bindings_sharing_job_namespaces_apply_without_conflict";
    let Some(h) = harness(test).await else { return };
    let workload = Bindings::new(&h).await;
    let run = token("s");
    let jobs = [format!("{run}-jobs-a"), format!("{run}-jobs-b")];
    let shape = Shape {
        grants: 0,
        managed_policies: 1,
        inline_policies: 1,
    };
    let specs: Vec<BindingSpec> = (0..BINDINGS)
        .map(|i| {
            let reference = workload.initial(&token(&format!("s{i:02}")));
            let mut spec = BindingSpec::new(
                &reference.token,
                shape,
                &reference.oidc_provider_arn,
                &reference.managed_policy_arns,
            );
            spec.grants = jobs.iter().map(|ns| (ns.clone(), false)).collect();
            spec
        })
        .collect();
    let client = h.kubernetes().unwrap().client().await.unwrap();
    let namespaces: Vec<String> = specs
        .iter()
        .map(|s| s.namespace.clone())
        .chain(jobs.iter().cloned())
        .collect();
    create_namespaces(&client, namespaces.clone())
        .await
        .unwrap();

    let ws = h.workspace().unwrap();
    ws.write("main.tf", &workload.config(PROVIDER_BODY, &specs))
        .unwrap();
    let applied = ws.apply().await.unwrap();
    assert_eq!(
        applied.change_summary().map(|s| s.add),
        Some(BINDINGS as u64)
    );
    let errors: Vec<String> = applied
        .diagnostics()
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.one_line())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    let state = ws.show().await.unwrap();
    let aws = h.aws_clients().await;
    let mut problems = Vec::new();
    for spec in &specs {
        let mut found = BindingInventory::read(&aws, &client, spec, &[])
            .await
            .unwrap();
        // The job namespaces hold every binding's Role and RoleBinding: keep this one's.
        let own = |key: &String| key.ends_with(&format!("/{}", spec.rbac_name()));
        found.roles.retain(|k, _| own(k));
        found.role_bindings.retain(|k, _| own(k));
        let wrong = binding_state_mismatches(state.resource(&spec.address()), spec, &found);
        if !wrong.is_empty() {
            problems.push(format!("{}: {wrong:?}", spec.address()));
        }
    }
    for namespace in &jobs {
        let (roles, role_bindings) = rbac_in(&client, namespace).await;
        if roles.len() != BINDINGS || role_bindings.len() != BINDINGS {
            problems.push(format!(
                "{namespace}: {} Roles and {} RoleBindings for {BINDINGS} bindings",
                roles.len(),
                role_bindings.len()
            ));
        }
        for (name, subject) in &role_bindings {
            let namespace_of_account = name.trim_end_matches(".runner");
            if *subject != format!("{namespace_of_account}/runner") {
                problems.push(format!(
                    "RoleBinding {namespace}/{name} binds {subject}, not its own ServiceAccount"
                ));
            }
        }
    }
    say!(
        "scale: {BINDINGS} bindings (2 shared job namespaces) created in {:.1} s, {} problems",
        applied.duration.as_secs_f64(),
        problems.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let plan = ws.plan().await.unwrap();
    assert!(plan.is_empty(), "{}", plan.summary());

    let destroyed = ws.destroy().await.unwrap();
    assert_eq!(
        destroyed.change_summary().map(|s| s.remove),
        Some(BINDINGS as u64)
    );
    for namespace in &jobs {
        let (roles, role_bindings) = rbac_in(&client, namespace).await;
        assert!(
            roles.is_empty() && role_bindings.is_empty(),
            "{namespace} after destroy: {roles:?} {role_bindings:?}"
        );
    }
    for spec in &specs {
        let found = BindingInventory::read(&aws, &client, spec, &[])
            .await
            .unwrap();
        assert!(found.role.is_none(), "{} role left", spec.address());
    }
    delete_namespaces(&client, namespaces).await;
}
