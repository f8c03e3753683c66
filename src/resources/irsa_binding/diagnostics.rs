//! The diagnostics users see when applying, reading or importing a binding fails: what failed,
//! why (with a hint for the usual causes), what was rolled back and what is left.

use crate::aws::AwsErrorKind;
use crate::codec::Diagnostic;
use crate::kubernetes::KubeErrorKind;

use super::error::BindingError;
use super::journal::{Done, Undone};
use super::model::Binding;

/// The explanation of one error, with a hint when the cause is a usual one.
pub fn explain(error: &BindingError) -> String {
    let hint = match error {
        BindingError::Aws(e) if e.kind == AwsErrorKind::AccessDenied => Some(
            "The AWS credentials the provider uses lack this IAM permission; grant it or use \
             credentials that have it.",
        ),
        BindingError::Aws(e) if e.is_invalid_principal() => Some(
            "IAM does not know the OIDC provider in the trust policy. Check oidc_provider_arn \
             (the provider was retried for two minutes in case it had just been created).",
        ),
        BindingError::Aws(e) if e.code.as_deref() == Some("LimitExceeded") => {
            Some("An IAM quota was reached (managed policies per role, roles per account, ...).")
        }
        BindingError::Kube(e)
            if e.kind == KubeErrorKind::NotFound && e.message.contains("namespaces") =>
        {
            Some("The namespace does not exist; create it before the binding.")
        }
        // The NamespaceLifecycle admission plugin (kubernetes/kubernetes
        // plugin/pkg/admission/namespace/lifecycle) refuses creates in a Terminating namespace.
        BindingError::Kube(e) if e.kind == KubeErrorKind::NamespaceTerminating => Some(
            "The namespace is being deleted (phase Terminating): Kubernetes refuses every new \
             object in it, whatever the provider's rights, until the namespace controller has \
             emptied it and its finalizers are gone. This is not a permission problem and \
             retrying now cannot help. Wait until the namespace is gone (kubectl get namespace \
             NAME; if it stays Terminating, an object or the namespace still carries a \
             finalizer nothing removes), then create it again and apply; or point the binding \
             at another namespace.",
        ),
        BindingError::Kube(e) if e.kind == KubeErrorKind::Forbidden => Some(
            "The Kubernetes identity the provider uses is not allowed to do this; it needs to \
             manage ServiceAccounts, Roles and RoleBindings in these namespaces (and, to \
             create a Role, to hold the permissions it grants).",
        ),
        BindingError::Kube(e) if e.kind == KubeErrorKind::Unauthorized => Some(
            "The Kubernetes credentials were refused; check the provider's kubernetes block \
             or KUBECONFIG.",
        ),
        BindingError::Kube(e) if e.kind == KubeErrorKind::Tls => Some(
            "The provider does not trust the Kubernetes API server's certificate (x509: \
             certificate signed by unknown authority). Give it the cluster's CA: \
             certificate-authority-data in the kubeconfig's cluster entry, or cluster_ca_certificate in the \
             provider's kubernetes block. insecure = true skips the check, for throwaway \
             clusters only.",
        ),
        BindingError::RoleTaken { .. } => Some(
            "Choose another role_name, or delete the role if nothing uses it. Importing it is \
             possible only through its ServiceAccount's binding \
             (terraform import ... NAMESPACE/NAME).",
        ),
        BindingError::ObjectTaken {
            kind: "ServiceAccount",
            ..
        } => Some(
            "Set adopt_existing_service_account = true to take it over (the binding then \
             changes only its own fields and leaves the object on destroy), or import the \
             binding if it was made by this provider.",
        ),
        BindingError::FieldConflicts { .. } => Some(
            "Another tool (the manager named) sets these fields. Change the binding's \
             configuration to the same values, make the other tool stop setting them, or set \
             take_over_conflicting_fields = true: the binding then takes them over, records \
             their values in taken_over_fields and gives them back on destroy (the other tool \
             may set them again on its next run).",
        ),
        BindingError::RoleReplaced { .. } => Some(
            "A role of the same name was created outside Terraform after this binding's role \
             went (a plan with -refresh=false does not notice). The provider deletes only the \
             role it created. Run terraform plan (with refresh) to see the binding's role as \
             gone, or remove the binding from the state with terraform state rm.",
        ),
        BindingError::ForeignPolicies { .. } => Some(
            "The binding detaches only the policies it manages. Detach the others (or move them \
             to another role), or set force_detach_policies = true and apply before destroying \
             to let the binding detach them.",
        ),
        BindingError::ObjectTaken { .. } => {
            Some("Delete it if nothing uses it, or remove the grant for that namespace.")
        }
        _ => None,
    };
    match hint {
        Some(hint) => format!("{error}\n\n{hint}"),
        None => error.to_string(),
    }
}

/// A create failed (and was rolled back, as far as possible).
pub fn create_failed(planned: &Binding, errors: &[BindingError], undone: &Undone) -> Diagnostic {
    let cancelled = errors.iter().any(BindingError::is_cancelled);
    let summary = if cancelled {
        format!("Creating IRSA binding {} was cancelled", planned.id())
    } else {
        format!("Failed to create IRSA binding {}", planned.id())
    };
    let mut detail = errors
        .iter()
        .filter(|e| !cancelled || e.is_cancelled())
        .map(explain)
        .collect::<Vec<_>>()
        .join("\n\n");
    if cancelled {
        detail = "Terraform asked the provider to stop (StopProvider) before the binding was \
                  complete."
            .to_string();
    }
    if undone.removed.is_empty() {
        detail.push_str("\n\nNothing had been created yet.");
    } else {
        detail.push_str("\n\nRolled back (removed again): ");
        detail.push_str(&list(&undone.removed));
        detail.push('.');
    }
    Diagnostic::error(summary, detail)
}

/// Rollback left objects behind; they are in the returned state.
pub fn rollback_incomplete(leftovers: &[(Done, BindingError)]) -> Diagnostic {
    let lines: Vec<String> = leftovers
        .iter()
        .map(|(done, error)| format!("- {done}: {error}"))
        .collect();
    Diagnostic::error(
        "Rollback incomplete: some objects still exist",
        format!(
            "These objects were created by this apply and could not be removed again:\n{}\n\n\
             They are recorded in the state (the resource is tainted), so the next apply \
             deletes and re-creates them; nothing is left untracked.",
            lines.join("\n")
        ),
    )
}

/// An update failed part way; the state says what exists now.
pub fn update_failed(planned: &Binding, errors: &[BindingError]) -> Diagnostic {
    Diagnostic::error(
        format!("Failed to update IRSA binding {}", planned.id()),
        format!(
            "{}\n\nThe state now records what exists; the next plan shows what is still to \
             change.",
            errors.iter().map(explain).collect::<Vec<_>>().join("\n\n")
        ),
    )
}

/// A delete failed part way; the state says what still exists.
pub fn delete_failed(prior: &Binding, errors: &[BindingError]) -> Diagnostic {
    Diagnostic::error(
        format!("Failed to delete IRSA binding {}", prior.id()),
        format!(
            "{}\n\nThe state keeps what still exists; run terraform destroy again to finish.",
            errors.iter().map(explain).collect::<Vec<_>>().join("\n\n")
        ),
    )
}

/// After a failed apply, some parts could not be read again; the state keeps what was known
/// of them.
pub fn reread_incomplete(id: &str, unread: &[BindingError]) -> Diagnostic {
    Diagnostic::warning(
        format!("Could not re-read every part of IRSA binding {id}"),
        format!(
            "After the failure, these reads failed too:\n{}\n\nFor those parts the state keeps \
             what was known before the apply (plus what it created); the next refresh reads \
             them again.",
            unread
                .iter()
                .map(|e| format!("- {}", explain(e)))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
}

/// A read failed.
pub fn read_failed(id: &str, error: &BindingError) -> Diagnostic {
    Diagnostic::error(format!("Failed to read IRSA binding {id}"), explain(error))
}

fn list(done: &[Done]) -> String {
    done.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `verify` passed, but some of its local checks could not run (one warning listing them).
pub fn verify_skipped(planned: &Binding, skipped: &[String]) -> crate::codec::Diagnostics {
    let mut diagnostics = crate::codec::Diagnostics::new();
    if !skipped.is_empty() {
        diagnostics.push(Diagnostic::warning(
            format!("verify of IRSA binding {} skipped a check", planned.id()),
            format!(
                "{}\n\nSTS accepted the token, so the wiring works; the named check was left \
                 to STS.",
                skipped.join("\n")
            ),
        ));
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::KubeError;

    fn forbidden(cause_reasons: &[&str]) -> BindingError {
        BindingError::Kube(
            KubeError::from_response(
                "create Role ci-jobs/gitlab-runner",
                403,
                Some("Forbidden".into()),
                "roles.rbac.authorization.k8s.io \"gitlab-runner\" is forbidden: unable to \
                 create new content in namespace ci-jobs because it is being terminated"
                    .into(),
                None,
            )
            .with_causes(cause_reasons),
        )
    }

    #[test]
    fn a_terminating_namespace_is_explained_as_such_not_as_missing_rights() {
        let text = explain(&forbidden(&["NamespaceTerminating"]));
        assert!(text.contains("The namespace is being deleted"), "{text}");
        assert!(text.contains("not a permission problem"), "{text}");
        assert!(!text.contains("is not allowed to do this"), "{text}");
    }

    #[test]
    fn an_rbac_refusal_keeps_the_permission_hint() {
        let text = explain(&forbidden(&[]));
        assert!(text.contains("is not allowed to do this"), "{text}");
        assert!(!text.contains("being deleted"), "{text}");
    }
}
