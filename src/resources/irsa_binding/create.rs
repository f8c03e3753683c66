//! Create, all or nothing. The role's ARN is known from the plan, so IAM and Kubernetes work
//! overlap: CreateRole runs together with the ServiceAccount and every grant's Role and
//! RoleBinding; policies, and the Pod Identity association, are made as soon as the role
//! exists. Critical path: two round trips (CreateRole, then the policies and the association),
//! three with `verify`.
//!
//! Everything done is journalled; on any failure or `StopProvider` the journal is undone in
//! reverse, and what could not be undone is returned as the state, with an error naming it.

use crate::codec::Diagnostics;

use super::association;
use super::diagnostics;
use super::error::BindingError;
use super::journal::{self, Done, Journal};
use super::model::Binding;
use super::remote::Remote;
use super::state::{Scope, reconcile};
use super::steps::{self, Gate, Step, gated};
use super::verify;

/// What an apply produced: the state of what exists (`None`: nothing) and diagnostics.
#[derive(Debug)]
pub struct Outcome {
    /// The new state.
    pub state: Option<Binding>,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
}

/// Creates the binding `planned`.
pub async fn create(remote: &Remote<'_>, planned: &Binding) -> Outcome {
    let journal = Journal::new();
    let gate = Gate::default();
    let mut errors = build(remote, planned, &journal, &gate).await;
    let mut verified = None;
    let mut skipped = Diagnostics::new();
    if errors.is_empty() && !remote.cancel.is_cancelled() && planned.verify.is_some() {
        match verify::verify(remote, planned).await {
            Ok(done) => {
                skipped = diagnostics::verify_skipped(planned, &done.skipped);
                verified = Some(done.identity_arn);
            }
            Err(error) => errors.push(error),
        }
    }
    if remote.cancel.is_cancelled() && errors.is_empty() {
        errors.push(BindingError::Cancelled);
    }
    if errors.is_empty() {
        let observed = journal::observed(&journal.entries());
        let mut basis = planned.clone();
        basis.service_account_adopted = adopted(&journal.entries());
        let mut state = reconcile(&basis, &observed, &remote.default_tags, Scope::Managed);
        if let Some(state) = &mut state {
            state.verified_identity_arn = verified;
            state.service_account_adopted = adopted(&journal.entries());
            state.taken_over_fields = journal::taken_over(&journal.entries()).unwrap_or_default();
        }
        return Outcome {
            state,
            diagnostics: skipped,
        };
    }
    roll_back(remote, planned, &journal, errors).await
}

/// Runs the IAM chain and the Kubernetes work side by side.
async fn build(
    remote: &Remote<'_>,
    planned: &Binding,
    journal: &Journal,
    gate: &Gate,
) -> Vec<BindingError> {
    let iam = async {
        if !gate.open(remote) {
            return Vec::new();
        }
        let role = match steps::create_role(remote, planned, journal).await {
            Ok(role) => role,
            Err(error) => {
                gate.close();
                return vec![error];
            }
        };
        let mut work = steps::policy_steps(remote, gate, journal, planned);
        if planned.pod_identity.is_some() {
            work.push(gated(remote, gate, async move {
                association::ensure(remote, planned, &role.arn, None, journal)
                    .await
                    .map(drop)
            }));
        }
        steps::run_all(remote, gate, work).await
    };
    let kubernetes = async {
        let mut work: Vec<Step<'_>> = vec![gated(remote, gate, async {
            steps::create_service_account(remote, planned, journal)
                .await
                .map(drop)
        })];
        for grant in &planned.grants {
            work.push(gated(
                remote,
                gate,
                steps::ensure_rbac_role(remote, journal, planned, grant, false),
            ));
            work.push(gated(
                remote,
                gate,
                steps::ensure_role_binding(remote, journal, planned, grant),
            ));
        }
        steps::run_all(remote, gate, work).await
    };
    let (mut errors, kube_errors) = remote.fanout.both(iam, kubernetes).await;
    errors.extend(kube_errors);
    errors
}

/// Undoes the journal and reports: the failure, what was rolled back, what is left.
async fn roll_back(
    remote: &Remote<'_>,
    planned: &Binding,
    journal: &Journal,
    errors: Vec<BindingError>,
) -> Outcome {
    let undone = journal.undo(remote).await;
    let mut diagnostics = Diagnostics::new();
    diagnostics.push(diagnostics::create_failed(planned, &errors, &undone));
    let leftovers: Vec<_> = undone.leftovers.iter().map(|(d, _)| d.clone()).collect();
    let state = if leftovers.is_empty() {
        None
    } else {
        diagnostics.push(diagnostics::rollback_incomplete(&undone.leftovers));
        let observed = journal::observed(&leftovers);
        reconcile(planned, &observed, &remote.default_tags, Scope::Managed).map(|mut state| {
            state.service_account_adopted = adopted(&leftovers);
            state.taken_over_fields = journal::taken_over(&leftovers).unwrap_or_default();
            state
        })
    };
    Outcome { state, diagnostics }
}

/// Whether the journal took over an existing ServiceAccount (`None`: it has none).
fn adopted(entries: &[Done]) -> Option<bool> {
    entries.iter().find_map(|done| match done {
        Done::ServiceAccount { adopted, .. } => Some(*adopted),
        _ => None,
    })
}
