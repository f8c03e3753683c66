//! The fault matrix over the EKS Pod Identity calls of `gitlabrunner_irsa_binding`: every
//! `eks:*PodIdentityAssociation` call that create, refresh, update (IRSA only -> both), adoption
//! (IRSA only -> both while another tool's association for the same role exists: Create answers
//! 409, List and Describe find it), repair (the association pointed at another role outside
//! Terraform: Update points it back) and destroy make, failed with a 500, a 403 and a dropped
//! connection, one call of one instance per case, through the AWS proxy in front of the rig's EKS.
//!
//! As in `fault_matrix` (which covers the IAM and Kubernetes calls), the calls are not listed by
//! hand: a reference instance goes through each phase with the proxy recording, and its EKS calls
//! become the cases. A fault is aimed at one instance by the request's `serviceAccount` (Create
//! and List carry it) or, for calls that name only the association (Describe, Update, Delete),
//! by the `associationId` the instance has in state before the phase; a call of a phase that
//! names neither before it runs (a Describe of an association the same apply creates) cannot be
//! aimed at one instance and is reported as not covered.
//!
//! Afterwards, for every case: the apply failed with an error about the case's instance that
//! names the operation; the state tells the truth (the role and the association it lists exist,
//! and what exists is listed); for a failed create nothing exists at all. Then the faults go,
//! `terraform destroy` runs, and every instance must have left nothing: no role, no
//! ServiceAccount, no association (the orphan check includes the associations).

use std::collections::{BTreeMap, BTreeSet};

use gitlabrunner_acceptance::aws::proxy::{AwsProxy, FaultAction, FaultRule, Matcher};
use gitlabrunner_acceptance::fault_proxy::RequestRecord;
use gitlabrunner_acceptance::terraform::render;
use gitlabrunner_acceptance::{State, Workspace, hcl, say, unique_name};
use serde_json::Value;

use crate::binding_support::{Fixture, config};
use crate::pod_identity_support::{
    CLUSTER, Mode, associations, create_association, delete_association,
};

/// Enough parallelism for every case of a phase to run at once.
const PARALLELISM: &str = "-parallelism=100";

/// The phases whose EKS calls are failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Create,
    Refresh,
    Update,
    /// IRSA only -> both while an association for the same role exists: adoption.
    Adopt,
    /// Both, the association pointed at another role outside Terraform: the saved plan's apply
    /// points it back (`UpdatePodIdentityAssociation`).
    Repoint,
    Delete,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Create,
        Phase::Refresh,
        Phase::Update,
        Phase::Adopt,
        Phase::Repoint,
        Phase::Delete,
    ];

    fn label(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Refresh => "refresh",
            Phase::Update => "update",
            Phase::Adopt => "adopt",
            Phase::Repoint => "repoint",
            Phase::Delete => "delete",
        }
    }

    /// The mode of the instances before the phase (`None`: they do not exist yet).
    fn before(self) -> Option<Mode> {
        match self {
            Phase::Create => None,
            Phase::Refresh | Phase::Repoint | Phase::Delete => Some(Mode::Both),
            Phase::Update | Phase::Adopt => Some(Mode::Irsa),
        }
    }

    /// The mode the phase's configuration asks for (`None`: destroyed).
    fn after(self) -> Option<Mode> {
        match self {
            Phase::Create | Phase::Refresh | Phase::Update | Phase::Adopt | Phase::Repoint => {
                Some(Mode::Both)
            }
            Phase::Delete => None,
        }
    }
}

/// The three ways a call fails.
const FAULTS: [&str; 3] = ["500", "403", "drop"];

fn fault_action(kind: &str) -> FaultAction {
    match kind {
        "500" => FaultAction::service_failure(),
        "403" => FaultAction::access_denied(),
        _ => FaultAction::DropConnection,
    }
}

/// One EKS operation of a phase, and how it names the instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Call {
    operation: String,
    /// Whether the request carries the ServiceAccount (else only the association id).
    by_service_account: bool,
}

fn call_of(record: &RequestRecord) -> Option<Call> {
    (record.service == "eks").then(|| Call {
        operation: record.operation.clone(),
        by_service_account: record.param("serviceAccount").is_some(),
    })
}

/// One instance: its resource name and ServiceAccount.
#[derive(Debug, Clone)]
struct Instance {
    name: String,
    service_account: String,
}

impl Instance {
    fn new(prefix: &str) -> Self {
        let service_account = unique_name(prefix);
        Self {
            name: service_account.replace('-', "_"),
            service_account,
        }
    }

    fn address(&self) -> String {
        format!("gitlabrunner_irsa_binding.{}", self.name)
    }

    fn role_name(&self, f: &Fixture) -> String {
        format!("{}-{}", f.namespace, self.service_account)
    }
}

/// The configuration of `instances` in `mode`.
fn configuration(f: &Fixture, instances: &[Instance], mode: Mode) -> String {
    let mut text = String::new();
    for instance in instances {
        text.push_str(&format!(
            "resource \"gitlabrunner_irsa_binding\" \"{}\" {{\n  namespace            = {}\n  service_account_name = {}\n  oidc_provider_arn    = {}\n",
            instance.name,
            hcl::quote(&f.namespace),
            hcl::quote(&instance.service_account),
            hcl::quote(&f.oidc.arn),
        ));
        if mode.pod_identity() {
            text.push_str(&format!(
                "  pod_identity {{\n    cluster_name = {}\n  }}\n",
                hcl::quote(CLUSTER)
            ));
        }
        text.push_str("}\n");
    }
    config(&text)
}

/// The association id of `address` in `state`.
fn association_in_state(state: &State, address: &str) -> Option<String> {
    let resource = state.resource(address)?;
    match resource.attr("pod_identity") {
        Value::Array(blocks) => blocks
            .first()
            .and_then(|b| b["association_id"].as_str())
            .map(str::to_string),
        _ => None,
    }
}

async fn run(ws: &Workspace, args: &[&str]) {
    ws.run_ok(args).await.unwrap();
}

/// What [`prepare`] made outside Terraform.
struct Prepared {
    /// The associations made for the bindings' roles (adopt), by ServiceAccount.
    made: BTreeMap<String, String>,
    /// The role the associations were pointed at (repoint); deleted by [`Prepared::remove`].
    other_role: Option<String>,
}

impl Prepared {
    /// Deletes the other role, once nothing points at it.
    async fn remove(&self, f: &Fixture) {
        if let Some(name) = &self.other_role {
            crate::pod_identity_support::delete_other_role(f, name).await;
        }
    }
}

/// Brings `ws` to the state before `phase`, and writes the phase's plan (update, adopt,
/// repoint, delete).
async fn prepare(ws: &Workspace, f: &Fixture, instances: &[Instance], phase: Phase) -> Prepared {
    if let Some(mode) = phase.before() {
        ws.write("main.tf", &configuration(f, instances, mode))
            .unwrap();
        run(
            ws,
            &[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                PARALLELISM,
            ],
        )
        .await;
    }
    let mut made = BTreeMap::new();
    if phase == Phase::Adopt {
        for instance in instances {
            let association = made_outside_terraform(f, instance).await;
            made.insert(instance.service_account.clone(), association);
        }
    }
    let mut other_role = None;
    if phase == Phase::Repoint {
        let (name, arn) = crate::pod_identity_support::other_role(f).await;
        let state = ws.show().await.unwrap();
        for instance in instances {
            let id = association_in_state(&state, &instance.address())
                .expect("the binding has an association before the repoint");
            crate::pod_identity_support::eks(f)
                .await
                .update_pod_identity_association()
                .cluster_name(CLUSTER)
                .association_id(&id)
                .role_arn(&arn)
                .send()
                .await
                .unwrap();
        }
        other_role = Some(name);
    }
    if let Some(mode) = phase.after() {
        ws.write("main.tf", &configuration(f, instances, mode))
            .unwrap();
    }
    match phase {
        Phase::Update | Phase::Adopt | Phase::Repoint => {
            run(
                ws,
                &[
                    "plan",
                    "-input=false",
                    "-no-color",
                    "-out=tfplan",
                    PARALLELISM,
                ],
            )
            .await
        }
        Phase::Delete => {
            run(
                ws,
                &[
                    "plan",
                    "-input=false",
                    "-no-color",
                    "-out=tfplan",
                    "-destroy",
                    PARALLELISM,
                ],
            )
            .await
        }
        Phase::Create | Phase::Refresh => {}
    }
    Prepared { made, other_role }
}

/// What another tool does first (eksctl's migrate-to-pod-identity): a trust statement for
/// `pods.eks.amazonaws.com` (EKS refuses an association for a role without it), then the
/// association for the binding's role. Returns its id.
async fn made_outside_terraform(f: &Fixture, instance: &Instance) -> String {
    let role_name = instance.role_name(f);
    let mut trust = f.trust_policy(&role_name).await;
    trust["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
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
    let role_arn = crate::pod_identity_support::role_arn(f, &instance.service_account);
    create_association(f, &instance.service_account, &role_arn)
        .await
        .id
}

/// The run of the phase (faults in place).
async fn faulted_run(ws: &Workspace, phase: Phase) -> gitlabrunner_acceptance::RunOutput {
    let mut args = vec!["apply", "-input=false", "-no-color", "-json", PARALLELISM];
    match phase {
        Phase::Create | Phase::Refresh => args.push("-auto-approve"),
        Phase::Update | Phase::Adopt | Phase::Repoint | Phase::Delete => args.push("tfplan"),
    }
    ws.run(&args).await.unwrap()
}

/// The EKS calls one phase of a reference instance makes.
async fn reference_calls(f: &Fixture, phase: Phase) -> Vec<Call> {
    let proxy = f.h.start_proxy().unwrap();
    let ws = f.h.workspace_via(&proxy).unwrap();
    let instance = Instance::new("ref");
    let prepared = prepare(&ws, f, std::slice::from_ref(&instance), phase).await;
    proxy.clear_requests();
    let output = faulted_run(&ws, phase).await;
    assert!(
        output.success(),
        "reference {}: {}",
        phase.label(),
        render(&output.diagnostics())
    );
    let mut seen = BTreeSet::new();
    let calls: Vec<Call> = proxy
        .requests()
        .iter()
        .filter(|r| {
            r.param("serviceAccount") == Some(instance.service_account.as_str())
                || r.param("serviceAccount").is_none()
        })
        .filter_map(call_of)
        .filter(|c| seen.insert(c.clone()))
        .collect();
    run(
        &ws,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    )
    .await;
    // The reference adopted the association, so destroy removed it; whether that holds under
    // faults is the phase's own orphan check, not the reference's.
    for id in prepared.made.values() {
        if associations(f, &f.namespace, &instance.service_account)
            .await
            .iter()
            .any(|a| &a.id == id)
        {
            delete_association(f, id).await;
        }
    }
    prepared.remove(f).await;
    calls
}

/// What exists of `instance`, and the problems of the state about it. `foreign` is an
/// association made outside Terraform that the binding does not own unless its state lists it.
async fn truth(
    f: &Fixture,
    state: &State,
    instance: &Instance,
    foreign: Option<&String>,
) -> (Vec<String>, Vec<String>) {
    let mut exists = Vec::new();
    let mut problems = Vec::new();
    let role = f.iam_role(&instance.role_name(f)).await;
    if role.is_some() {
        exists.push(format!("role {}", instance.role_name(f)));
    }
    let account = f
        .service_accounts(&f.namespace)
        .get_opt(&instance.service_account)
        .await
        .unwrap();
    if account.is_some() {
        exists.push(format!("ServiceAccount {}", instance.service_account));
    }
    let found = associations(f, &f.namespace, &instance.service_account).await;
    let in_state = association_in_state(state, &instance.address());
    for association in &found {
        let owned = in_state.as_ref() == Some(&association.id);
        if foreign != Some(&association.id) || owned {
            exists.push(format!("association {}", association.id));
        }
    }
    let address = instance.address();
    match state.resource(&address) {
        None => {
            if !exists.is_empty() {
                problems.push(format!("not in state, but exists: {exists:?}"));
            }
        }
        Some(resource) => {
            let real: Vec<&str> = found
                .iter()
                .map(|a| a.id.as_str())
                .filter(|id| {
                    foreign.map(String::as_str) != Some(*id) || in_state.as_deref() == Some(*id)
                })
                .collect();
            match &in_state {
                Some(id) if !real.contains(&id.as_str()) => {
                    problems.push(format!("state lists association {id}, EKS has {real:?}"))
                }
                None if !real.is_empty() => {
                    problems.push(format!("state lists no association, EKS has {real:?}"))
                }
                _ => {}
            }
            let role_in_state = resource.str_attr("role_unique_id").is_some();
            if role_in_state != role.is_some() {
                problems.push(format!(
                    "state role_unique_id {:?}, role exists: {}",
                    resource.str_attr("role_unique_id"),
                    role.is_some()
                ));
            }
        }
    }
    (exists, problems)
}

/// What one phase found.
struct PhaseReport {
    /// The operations failed, one case per fault each.
    covered: Vec<String>,
    /// Cases run.
    cases: usize,
    /// Calls that could not be aimed at one instance.
    not_covered: Vec<String>,
    /// One line per problem.
    problems: Vec<String>,
}

/// Runs every case of `phase`.
async fn run_phase(f: &Fixture, phase: Phase) -> PhaseReport {
    let calls = reference_calls(f, phase).await;
    let (covered, uncovered): (Vec<Call>, Vec<Call>) = calls.into_iter().partition(|c| {
        c.by_service_account
            || phase == Phase::Adopt
            || phase.before().is_some_and(Mode::pod_identity)
    });
    let cases: Vec<(Call, &str, Instance)> = covered
        .iter()
        .flat_map(|call| FAULTS.map(|fault| (call.clone(), fault)))
        .map(|(call, fault)| (call, fault, Instance::new(&phase.label()[..1])))
        .collect();
    let instances: Vec<Instance> = cases.iter().map(|(_, _, i)| i.clone()).collect();
    let proxy: AwsProxy = f.h.start_proxy().unwrap();
    let ws = f.h.workspace_via(&proxy).unwrap();
    let prepared = prepare(&ws, f, &instances, phase).await;
    let made = &prepared.made;
    let before = if phase.before().is_some() {
        Some(ws.show().await.unwrap())
    } else {
        None
    };

    for (call, fault, instance) in &cases {
        let mut matcher = Matcher::operation("eks", &call.operation);
        if call.by_service_account {
            matcher = matcher.param("serviceAccount", &instance.service_account);
        } else {
            let id = before
                .as_ref()
                .and_then(|s| association_in_state(s, &instance.address()))
                .or_else(|| made.get(&instance.service_account).cloned())
                .expect("an association known before the phase");
            matcher = matcher.param("associationId", &id);
        }
        proxy.add_fault(FaultRule::always(matcher, fault_action(fault)));
    }
    proxy.clear_requests();
    let output = faulted_run(&ws, phase).await;
    proxy.clear_faults();
    if std::env::var_os("TF_ACC_DEBUG_PI_FAULTS").is_some() {
        for r in proxy.requests().iter().filter(|r| r.service == "eks") {
            say!(
                "pod identity fault matrix: {} {} {:?} fault {:?} status {:?}",
                phase.label(),
                r.operation,
                r.target.params,
                r.fault,
                r.status
            );
        }
    }
    let diagnostics = output.diagnostics();
    let state = ws.show().await.unwrap();

    let mut problems = Vec::new();
    for (call, fault, instance) in &cases {
        let label = format!(
            "{} [{} eks:{} {fault}]",
            instance.address(),
            phase.label(),
            call.operation
        );
        // Destroy's diagnostics carry no address: those name the instance's ServiceAccount.
        let about = crate::fault_matrix::errors_about(
            &diagnostics,
            &instance.address(),
            &instance.service_account,
        );
        if !about
            .iter()
            .any(|d| format!("{} {}", d.summary, d.detail).contains(&call.operation))
        {
            let lines: Vec<String> = about.iter().map(|d| d.one_line()).collect();
            problems.push(format!(
                "{label}: no error naming {}; errors about it: {lines:?}",
                call.operation
            ));
        }
        let foreign = made.get(&instance.service_account);
        let (exists, mismatches) = truth(f, &state, instance, foreign).await;
        for mismatch in mismatches {
            problems.push(format!("{label}: state is not truthful: {mismatch}"));
        }
        if phase == Phase::Create && !exists.is_empty() {
            problems.push(format!("{label}: a failed create left {exists:?}"));
        }
    }

    // The cleanup, faults gone; then nothing of any instance may be left.
    let cleanup = ws
        .run(&[
            "destroy",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-json",
            PARALLELISM,
        ])
        .await
        .unwrap();
    if !cleanup.success() {
        problems.push(format!(
            "{}: destroy after the faults failed: {}",
            phase.label(),
            render(&cleanup.diagnostics())
        ));
    }
    let empty = ws.show().await.unwrap();
    for instance in &instances {
        // An association made outside Terraform and never adopted is not the binding's to
        // delete; one the binding adopted (its state listed it) is.
        let adopted = association_in_state(&state, &instance.address());
        let foreign = made
            .get(&instance.service_account)
            .filter(|id| adopted.as_ref() != Some(*id));
        let (exists, _) = truth(f, &empty, instance, foreign).await;
        let left = associations(f, &f.namespace, &instance.service_account).await;
        if let Some(id) = foreign.filter(|id| left.iter().any(|a| &a.id == *id)) {
            delete_association(f, id).await;
        }
        if !exists.is_empty() {
            problems.push(format!(
                "{} [{}]: orphans after destroy: {exists:?}",
                instance.address(),
                phase.label()
            ));
        }
    }
    prepared.remove(f).await;
    PhaseReport {
        covered: covered.iter().map(|c| c.operation.clone()).collect(),
        cases: cases.len(),
        not_covered: uncovered
            .iter()
            .map(|c| format!("{} eks:{}", phase.label(), c.operation))
            .collect(),
        problems,
    }
}

#[tokio::test]
async fn pod_identity_calls_fail_cleanly_in_every_phase_and_leave_no_orphans() {
    let Some(f) = Fixture::new(
        "pod_identity_calls_fail_cleanly_in_every_phase_and_leave_no_orphans",
        0,
    )
    .await
    else {
        return;
    };
    let results = futures::future::join_all(Phase::ALL.map(|phase| run_phase(&f, phase))).await;
    let mut cases = 0;
    let mut problems = Vec::new();
    let mut operations = BTreeSet::new();
    for (phase, report) in Phase::ALL.iter().zip(results) {
        say!(
            "pod identity fault matrix: {}: {} cases over {:?}, {} problems; not aimable at one instance: {:?}",
            phase.label(),
            report.cases,
            report.covered,
            report.problems.len(),
            report.not_covered
        );
        cases += report.cases;
        problems.extend(report.problems);
        operations.extend(report.covered);
    }
    say!(
        "pod identity fault matrix: {cases} cases in all, {} problems",
        problems.len()
    );
    for problem in &problems {
        say!("pod identity fault matrix: problem: {problem}");
    }
    for operation in [
        "CreatePodIdentityAssociation",
        "ListPodIdentityAssociations",
        "UpdatePodIdentityAssociation",
        "DeletePodIdentityAssociation",
    ] {
        assert!(
            operations.contains(operation),
            "the matrix never failed eks:{operation}: {operations:?}"
        );
    }
    assert!(
        problems.is_empty(),
        "{} problems in the Pod Identity fault matrix:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
