//! Delete: the role is re-read and must still be the one the state records; the policies the
//! state knows are detached and deleted at the same time as the Kubernetes objects go, then
//! the role. Policies attached outside Terraform are detached only with
//! `force_detach_policies` (otherwise the role stays, with an error naming them). An adopted
//! ServiceAccount keeps everything but the binding's own fields. Anything already gone is
//! fine.

use std::sync::Mutex;

use crate::codec::{Diagnostic, Diagnostics};
use crate::kubernetes::KubeErrorKind;

use super::create::Outcome;
use super::diagnostics;
use super::error::BindingError;
use super::model::Binding;
use super::read::observe_or_keep;
use super::remote::Remote;
use super::state::{Scope, known_from_state, reconcile};
use super::steps::{self, Gate, Step};
use super::update::delete_grant;
use super::{association, objects, takeover};

/// Deletes the binding `prior`.
pub async fn delete(remote: &Remote<'_>, prior: &Binding) -> Outcome {
    let gate = Gate::default();
    let warnings = Mutex::new(Diagnostics::new());
    let iam = async {
        if prior.role_unique_id.is_none() {
            return Ok(());
        }
        steps::delete_role_fully(remote, prior, prior.force_detach_policies).await
    };
    let kubernetes = async {
        let mut work: Vec<Step<'_>> = prior
            .grants
            .iter()
            .map(|grant| -> Step<'_> { Box::pin(delete_grant(remote, prior, grant)) })
            .collect();
        if let Some(block) = &prior.pod_identity {
            work.push(Box::pin(association::delete(remote, block)));
        }
        work.push(Box::pin(async {
            if let Some(warning) = delete_service_account(remote, prior).await? {
                warnings.lock().expect("warnings lock").push(warning);
            }
            Ok(())
        }));
        steps::run_all(remote, &gate, work).await
    };
    let (iam_result, mut errors) = remote.fanout.both(iam, kubernetes).await;
    if let Err(error) = iam_result {
        errors.insert(0, error);
    }
    let mut diagnostics = warnings.into_inner().expect("warnings lock");
    if errors.is_empty() {
        return Outcome {
            state: None,
            diagnostics,
        };
    }
    diagnostics.push(diagnostics::delete_failed(prior, &errors));
    let known = known_from_state(prior);
    let (observed, unread) = observe_or_keep(remote, prior, &known, Scope::Managed).await;
    if !unread.is_empty() {
        diagnostics.push(diagnostics::reread_incomplete(&prior.id(), &unread));
    }
    let state = reconcile(prior, &observed, &remote.default_tags, Scope::Managed);
    Outcome { state, diagnostics }
}

/// Deletes the ServiceAccount the binding created (only if it is still the same object), or
/// releases the binding's fields on an adopted one. A warning when it was left in place.
async fn delete_service_account(
    remote: &Remote<'_>,
    prior: &Binding,
) -> Result<Option<Diagnostic>, BindingError> {
    let (namespace, name) = (&prior.namespace, &prior.service_account_name);
    let Some(uid) = &prior.service_account_uid else {
        return Ok(None);
    };
    if prior.service_account_adopted == Some(true) {
        let released = remote
            .kube
            .apply_service_account(
                namespace,
                name,
                &objects::service_account_release(namespace, name),
                false,
            )
            .await?;
        takeover::give_back(remote, released, prior.taken_over_fields.clone()).await?;
        return Ok(None);
    }
    match remote
        .kube
        .delete_service_account(namespace, name, Some(uid))
        .await
    {
        Ok(_) => Ok(None),
        Err(error) if error.kind == KubeErrorKind::Conflict => Ok(Some(Diagnostic::warning(
            format!("ServiceAccount {namespace}/{name} was left in place"),
            format!(
                "It was replaced outside Terraform (its uid is no longer {uid}), so it is not \
                 the object this binding created."
            ),
        ))),
        Err(error) => Err(error.into()),
    }
}
