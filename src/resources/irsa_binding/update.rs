//! Update in place: only what differs between the (refreshed) prior state and the plan is
//! touched, IAM and Kubernetes work side by side. A role rename creates the new role first,
//! switches the ServiceAccount's annotation to it, and only then deletes the old role; if
//! anything fails before the switch, the new role is removed again and the old one stays in
//! use. A failure leaves the state describing what exists (re-read), so the next plan shows
//! exactly what is left to do.
//!
//! A change of mechanism (IRSA, Pod Identity, both, or another Pod Identity cluster) keeps the
//! role and runs in a safe order: the trust policy first gains the new statement (keeping the
//! old one) and the new association is made; then the ServiceAccount's annotations change with
//! the rest of the update; last the old statement goes and the old association is deleted. At
//! no point does a pod lose the mechanism it uses before the new one is in place.

use std::collections::{BTreeMap, BTreeSet};

use crate::codec::Diagnostics;

use super::association;
use super::create::Outcome;
use super::diagnostics;
use super::error::BindingError;
use super::journal::{self, Done, Journal};
use super::model::{Binding, Grant};
use super::naming;
use super::objects;
use super::read::observe_or_keep;
use super::remote::{IamRole, ObservedServiceAccount, Remote};
use super::state::{Scope, known_from_state, reconcile};
use super::steps::{self, Gate, RbacKind, Step, gated, ignore_not_found};
use super::{trust, verify};

/// Whether `prior` and `planned` serve different mechanisms (or another Pod Identity cluster).
fn mechanism_changed(prior: &Binding, planned: &Binding) -> bool {
    let cluster = |b: &Binding| b.pod_identity.as_ref().map(|p| p.cluster_name.clone());
    prior.irsa != planned.irsa || cluster(prior) != cluster(planned)
}

/// Whether the association must be made or repaired: a block whose association is not known
/// in the same cluster, or a role of another ARN.
fn association_needed(prior: &Binding, planned: &Binding) -> bool {
    let Some(block) = &planned.pod_identity else {
        return false;
    };
    let known = prior.pod_identity.as_ref().filter(|p| {
        p.cluster_name == block.cluster_name
            && p.association_id.is_some()
            && p.association_arn.is_some()
    });
    known.is_none() || prior.role_arn != planned.role_arn
}

/// Updates `prior` to `planned`.
pub async fn update(remote: &Remote<'_>, prior: &Binding, planned: &Binding) -> Outcome {
    let journal = Journal::new();
    let gate = Gate::default();
    let role_exists = prior.role_unique_id.is_some();
    let moved = role_exists
        && (prior.role_name != planned.role_name || prior.role_path != planned.role_path);
    // IAM names are unique whatever the path: a new path under the same name must wait for
    // the old role to go.
    let in_place_move = moved && prior.role_name == planned.role_name;
    let mut errors = Vec::new();
    let mut switched = !moved;
    let switch = mechanism_changed(prior, planned);
    // The trust with the old and the new statements, written before anything else changes.
    let both_trusts = match (&prior.trust_policy, &planned.trust_policy) {
        (Some(before), Some(after)) if switch && role_exists && !moved && before != after => {
            trust::union(before, after)
        }
        _ => None,
    };
    // Each write only when it changes something: the union is the old policy when the switch
    // only removes, the new one when it only adds.
    let differs = |both: &String, other: &Option<String>| {
        other
            .as_deref()
            .is_none_or(|other| !crate::aws::policy::equivalent(both, other))
    };
    let trust_in_two_steps = both_trusts
        .as_ref()
        .is_some_and(|both| differs(both, &planned.trust_policy));
    if let Some(both) = both_trusts
        .as_ref()
        .filter(|both| differs(both, &prior.trust_policy))
        && let Err(error) = steps::update_trust_policy(remote, &planned.role_name, both).await
    {
        errors.push(error);
    }
    if errors.is_empty()
        && role_exists
        && !moved
        && association_needed(prior, planned)
        && let Err(error) = association::ensure(
            remote,
            planned,
            &planned.role_arn,
            prior.pod_identity.as_ref(),
            &journal,
        )
        .await
    {
        errors.push(error);
    }

    if errors.is_empty() && in_place_move {
        match delete_old_role(remote, prior, planned).await {
            Ok(()) => switched = true,
            Err(error) => errors.push(error),
        }
    }
    let mut account = None;
    if errors.is_empty() {
        let role_work = async {
            if !role_exists || moved {
                let role = match steps::create_role(remote, planned, &journal).await {
                    Ok(role) => role,
                    Err(error) => {
                        gate.close();
                        return vec![error];
                    }
                };
                let policies = steps::policy_steps(remote, &gate, &journal, planned);
                let mut errors = steps::run_all(remote, &gate, policies).await;
                if errors.is_empty() && planned.pod_identity.is_some() {
                    let known = prior.pod_identity.as_ref();
                    if let Err(error) =
                        association::ensure(remote, planned, &role.arn, known, &journal).await
                    {
                        gate.close();
                        errors.push(error);
                    }
                }
                errors
            } else {
                let work = in_place_role_steps(
                    remote,
                    &gate,
                    &journal,
                    prior,
                    planned,
                    both_trusts.is_some(),
                );
                steps::run_all(remote, &gate, work).await
            }
        };
        let account_work = async {
            if (moved && !in_place_move) || !gate.open(remote) {
                return Ok(None);
            }
            let result = update_service_account(remote, prior, planned, &journal).await;
            if result.is_err() {
                gate.close();
            }
            result
        };
        let grant_work = async {
            let work = grant_steps(remote, &gate, &journal, prior, planned);
            steps::run_all(remote, &gate, work).await
        };
        let (role_errors, (account_result, grant_errors)) = remote
            .fanout
            .both(role_work, remote.fanout.both(account_work, grant_work))
            .await;
        errors.extend(role_errors);
        errors.extend(grant_errors);
        match account_result {
            Ok(result) => account = result,
            Err(error) => errors.push(error),
        }
    }
    if remote.cancel.is_cancelled() && errors.is_empty() {
        // Steps that had not started were skipped: report what exists, not the plan.
        errors.push(BindingError::Cancelled);
    }
    if moved && !in_place_move && errors.is_empty() {
        // The new role and its policies exist: point the ServiceAccount at it, then retire
        // the old role.
        match update_service_account(remote, prior, planned, &journal).await {
            Ok(result) => {
                account = result;
                switched = true;
                if let Err(error) = delete_old_role(remote, prior, planned).await {
                    errors.push(BindingError::OldRoleLeft {
                        new: planned.role_name.clone(),
                        old: prior.role_name.clone(),
                        source: Box::new(error),
                    });
                }
            }
            Err(error) => errors.push(error),
        }
    }
    // What pointed pods at the old mechanism goes before the trust that admitted it.
    if errors.is_empty()
        && let Some(old) = &prior.pod_identity
        && planned
            .pod_identity
            .as_ref()
            .is_none_or(|new| new.cluster_name != old.cluster_name)
        && let Err(error) = association::delete(remote, old).await
    {
        errors.push(error);
    }
    if errors.is_empty() && trust_in_two_steps {
        // Everything new is in place: drop the old statement.
        if let Some(document) = &planned.trust_policy
            && let Err(error) =
                steps::update_trust_policy(remote, &planned.role_name, document).await
        {
            errors.push(error);
        }
    }
    if moved && !switched {
        // Nothing uses the new role yet: remove it again, the old one stays in use.
        let new_role_only: Journal = Journal::new();
        for done in journal.entries() {
            if matches!(
                &done,
                Done::Role(_) | Done::Attached { .. } | Done::Inline { .. }
            ) {
                new_role_only.record(done);
            }
        }
        let undone = new_role_only.undo(remote).await;
        errors.extend(undone.leftovers.into_iter().map(|(_, e)| e));
        // An association this update pointed at the new role goes back to the old one; one it
        // created for the new role goes.
        for done in journal.entries() {
            let Done::Association {
                association,
                origin,
            } = done
            else {
                continue;
            };
            let result = match origin {
                association::Origin::Kept => remote
                    .eks
                    .update_association(&association.cluster, &association.id, &prior.role_arn)
                    .await
                    .map(drop),
                association::Origin::Created | association::Origin::OwnLeftover => {
                    remote
                        .eks
                        .delete_association(&association.cluster, &association.id)
                        .await
                }
                association::Origin::Adopted => Ok(()),
            };
            if let Err(error) = result
                && !error.is_not_found()
            {
                errors.push(error.into());
            }
        }
    }
    let mut verified = None;
    let mut skipped = Diagnostics::new();
    if errors.is_empty() && planned.verify.is_some() {
        match verify::verify(remote, planned).await {
            Ok(done) => {
                skipped = diagnostics::verify_skipped(planned, &done.skipped);
                verified = Some(done.identity_arn);
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        return Outcome {
            state: Some(applied_state(prior, planned, &journal, account, verified)),
            diagnostics: skipped,
        };
    }
    let basis = failure_basis(prior, planned, &journal, switched);
    let mut diagnostics = Diagnostics::new();
    diagnostics.push(diagnostics::update_failed(planned, &errors));
    // What a part that cannot be read again is taken to be: the prior state, plus what this
    // update created.
    let mut known = known_from_state(prior);
    known.overlay(journal::observed(&journal.entries()));
    let (observed, unread) = observe_or_keep(remote, &basis, &known, Scope::Managed).await;
    if !unread.is_empty() {
        diagnostics.push(diagnostics::reread_incomplete(&planned.id(), &unread));
    }
    let state = reconcile(&basis, &observed, &remote.default_tags, Scope::Managed);
    Outcome { state, diagnostics }
}

/// The state after a successful update: the plan, with what apply learnt filled in.
fn applied_state(
    prior: &Binding,
    planned: &Binding,
    journal: &Journal,
    account: Option<(ObservedServiceAccount, bool)>,
    verified: Option<String>,
) -> Binding {
    let mut state = planned.clone();
    let made = journal.entries().into_iter().find_map(|d| match d {
        Done::Association { association, .. } => Some(association),
        _ => None,
    });
    if let Some(block) = &mut state.pod_identity {
        let kept = prior
            .pod_identity
            .as_ref()
            .filter(|p| p.cluster_name == block.cluster_name);
        block.association_id = made
            .as_ref()
            .map(|a| a.id.clone())
            .or_else(|| kept.and_then(|p| p.association_id.clone()));
        block.association_arn = made
            .as_ref()
            .map(|a| a.arn.clone())
            .or_else(|| kept.and_then(|p| p.association_arn.clone()));
    }
    let new_role = journal.entries().into_iter().find_map(|d| match d {
        Done::Role(role) => Some(role),
        _ => None,
    });
    state.role_unique_id = new_role
        .map(|r| r.role_id)
        .or_else(|| prior.role_unique_id.clone());
    state.service_account_uid = account
        .as_ref()
        .map(|(a, _)| a.uid.clone())
        .or_else(|| prior.service_account_uid.clone());
    state.service_account_adopted = account
        .map(|(_, adopted)| adopted)
        .or(prior.service_account_adopted)
        .or(Some(false));
    state.verified_identity_arn = verified;
    state.taken_over_fields =
        journal::taken_over(&journal.entries()).unwrap_or_else(|| prior.taken_over_fields.clone());
    state
}

/// What to read after a failure: everything the prior state or the plan may have brought
/// into existence, so that the state covers all of it.
fn failure_basis(prior: &Binding, planned: &Binding, journal: &Journal, switched: bool) -> Binding {
    let mut basis = planned.clone();
    if !switched {
        basis.role_name = prior.role_name.clone();
        basis.role_path = prior.role_path.clone();
        basis.role_arn = prior.role_arn.clone();
        basis.role_unique_id = prior.role_unique_id.clone();
    }
    // An association the update was to remove is still known until it is gone.
    match (&mut basis.pod_identity, &prior.pod_identity) {
        (None, Some(old)) if old.association_id.is_some() => {
            basis.pod_identity = Some(old.clone());
        }
        (Some(new), Some(old)) if new.cluster_name == old.cluster_name => {
            new.association_id = old.association_id.clone();
            new.association_arn = old.association_arn.clone();
        }
        _ => {}
    }
    for done in journal.entries() {
        match done {
            Done::Association { association, .. } => {
                if let Some(block) = &mut basis.pod_identity
                    && block.cluster_name == association.cluster
                {
                    block.association_id = Some(association.id);
                    block.association_arn = Some(association.arn);
                }
            }
            Done::Role(role) if switched => basis.role_unique_id = Some(role.role_id),
            Done::ServiceAccount {
                account, adopted, ..
            } => {
                basis.service_account_uid = Some(account.uid);
                basis.service_account_adopted = Some(adopted);
            }
            _ => {}
        }
    }
    if basis.service_account_uid.is_none() {
        basis.service_account_uid = prior.service_account_uid.clone();
    }
    basis.taken_over_fields =
        journal::taken_over(&journal.entries()).unwrap_or_else(|| prior.taken_over_fields.clone());
    let union_set = |a: &Option<BTreeSet<String>>, b: &Option<BTreeSet<String>>| match (a, b) {
        (None, None) => None,
        _ => Some(a.iter().chain(b.iter()).flatten().cloned().collect()),
    };
    let union_map = |older: &Option<BTreeMap<String, String>>,
                     newer: &Option<BTreeMap<String, String>>| {
        match (older, newer) {
            (None, None) => None,
            _ => {
                let mut all = older.clone().unwrap_or_default();
                all.extend(newer.clone().unwrap_or_default());
                Some(all)
            }
        }
    };
    basis.managed_policy_arns = union_set(&prior.managed_policy_arns, &planned.managed_policy_arns);
    basis.inline_policies = union_map(&prior.inline_policies, &planned.inline_policies);
    basis.labels = union_map(&prior.labels, &planned.labels);
    basis.annotations = union_map(&prior.annotations, &planned.annotations);
    basis.tags = union_map(&prior.tags, &planned.tags);
    for grant in &prior.grants {
        if basis.grant(&grant.namespace).is_none() {
            basis.grants.push(grant.clone());
        }
    }
    basis
}

/// Deletes the role the prior state names, with the policies it knows of (and others only
/// when the plan sets `force_detach_policies`).
async fn delete_old_role(
    remote: &Remote<'_>,
    prior: &Binding,
    planned: &Binding,
) -> Result<(), BindingError> {
    steps::delete_role_fully(remote, prior, planned.force_detach_policies).await
}

/// The steps that bring an existing role from `prior` to `planned`.
fn in_place_role_steps<'a>(
    remote: &'a Remote<'a>,
    gate: &'a Gate,
    journal: &'a Journal,
    prior: &'a Binding,
    planned: &'a Binding,
    trust_written: bool,
) -> Vec<Step<'a>> {
    let role = planned.role_name.as_str();
    let current = IamRole {
        name: prior.role_name.clone(),
        path: prior.role_path.clone(),
        arn: prior.role_arn.clone(),
        role_id: prior.role_unique_id.clone().unwrap_or_default(),
        description: prior.role_description.clone(),
        max_session_duration: prior.max_session_duration,
        permissions_boundary_arn: prior.permissions_boundary_arn.clone(),
        tags: {
            let mut tags = prior.tags_all.clone();
            tags.extend(objects::ownership_tags(&prior.id()));
            tags
        },
        trust_policy: prior.trust_policy.clone().unwrap_or_default(),
    };
    let mut work: Vec<Step<'a>> = steps::role_setting_steps(remote, planned, &current)
        .into_iter()
        .map(|step| gated(remote, gate, step))
        .collect();
    if !trust_written
        && prior.trust_policy != planned.trust_policy
        && let Some(document) = planned.trust_policy.as_deref()
    {
        work.push(gated(remote, gate, async move {
            steps::update_trust_policy(remote, role, document).await
        }));
    }
    let before: BTreeSet<String> = prior.managed_policy_arns.clone().unwrap_or_default();
    let after: BTreeSet<String> = planned.managed_policy_arns.clone().unwrap_or_default();
    let added: Vec<String> = after.difference(&before).cloned().collect();
    let removed: Vec<String> = before.difference(&after).cloned().collect();
    for arn in added {
        work.push(gated(remote, gate, async move {
            steps::attach(remote, journal, role, &arn).await
        }));
    }
    for arn in removed {
        work.push(gated(remote, gate, async move {
            ignore_not_found(remote.iam.detach_policy(role, &arn).await)
        }));
    }
    let before = prior.inline_policies.clone().unwrap_or_default();
    for (name, document) in planned.inline_policies.iter().flatten() {
        if before.get(name) != Some(document) {
            work.push(gated(
                remote,
                gate,
                steps::put_inline(remote, journal, role, name, document),
            ));
        }
    }
    let after = planned.inline_policies.clone().unwrap_or_default();
    for name in before.into_keys().filter(|name| !after.contains_key(name)) {
        work.push(gated(remote, gate, async move {
            ignore_not_found(remote.iam.delete_inline_policy(role, &name).await)
        }));
    }
    work
}

/// Re-creates, adopts or patches the ServiceAccount as needed; `None` when untouched.
async fn update_service_account(
    remote: &Remote<'_>,
    prior: &Binding,
    planned: &Binding,
    journal: &Journal,
) -> Result<Option<(ObservedServiceAccount, bool)>, BindingError> {
    if prior.service_account_uid.is_none() {
        return steps::create_service_account(remote, planned, journal)
            .await
            .map(Some);
    }
    let changed = prior.labels != planned.labels
        || prior.annotations != planned.annotations
        || prior.automount_service_account_token != planned.automount_service_account_token
        || prior.irsa_annotations != planned.irsa_annotations;
    if !changed {
        return Ok(None);
    }
    let (namespace, name) = (&planned.namespace, &planned.service_account_name);
    let adopted = prior.service_account_adopted == Some(true);
    let object = if adopted {
        steps::adopt_service_account(remote, planned, &prior.taken_over_fields, journal).await?
    } else {
        remote
            .kube
            .patch_service_account(
                namespace,
                name,
                &objects::service_account_patch(prior, planned),
            )
            .await?
    };
    Ok(Some((
        ObservedServiceAccount::from_object(&object),
        adopted,
    )))
}

/// The steps that bring every grant from `prior` to `planned`: Roles and RoleBindings of
/// dropped grants deleted, missing ones created, changed rules replaced.
fn grant_steps<'a>(
    remote: &'a Remote<'a>,
    gate: &'a Gate,
    journal: &'a Journal,
    prior: &'a Binding,
    planned: &'a Binding,
) -> Vec<Step<'a>> {
    let mut work: Vec<Step<'a>> = Vec::new();
    for old in prior
        .grants
        .iter()
        .filter(|g| planned.grant(&g.namespace).is_none())
    {
        work.push(gated(remote, gate, delete_grant(remote, prior, old)));
    }
    for grant in &planned.grants {
        let before = prior.grant(&grant.namespace);
        let role_exists = before.is_some_and(|g| g.role_name.is_some());
        let rules_differ = before.and_then(|g| g.role_rules.clone()) != Some(grant.desired_rules());
        if !role_exists || rules_differ {
            work.push(gated(
                remote,
                gate,
                steps::ensure_rbac_role(remote, journal, planned, grant, role_exists),
            ));
        }
        if before.is_none_or(|g| g.role_binding_name.is_none()) {
            work.push(gated(
                remote,
                gate,
                steps::ensure_role_binding(remote, journal, planned, grant),
            ));
        }
    }
    work
}

/// Deletes a grant's RoleBinding and Role.
pub async fn delete_grant(
    remote: &Remote<'_>,
    binding: &Binding,
    grant: &Grant,
) -> Result<(), BindingError> {
    let name = naming::rbac_name(&binding.namespace, &binding.service_account_name);
    let id = binding.id();
    let (role, role_binding) = remote
        .fanout
        .both(
            steps::delete_rbac_object(
                remote,
                RbacKind::Role,
                &grant.namespace,
                &name,
                grant.role_name.is_some(),
                &id,
            ),
            steps::delete_rbac_object(
                remote,
                RbacKind::RoleBinding,
                &grant.namespace,
                &name,
                grant.role_binding_name.is_some(),
                &id,
            ),
        )
        .await;
    role?;
    role_binding
}
