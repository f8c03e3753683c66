//! Loud drift for the trust policy: when the policy IAM holds is not the one the binding
//! builds, refresh (and import) warns, naming what changed; when the change admits more
//! (an extra statement or principal, a wildcard, a dropped `sub` or `aud` condition) a second
//! warning says that it widens who may assume the role. Both come from evaluating the
//! policies ([`crate::trust_eval`]), not from comparing text.

use crate::aws::OidcProviderArn;
use crate::aws::policy;
use crate::codec::Diagnostic;
use crate::trust_eval::{
    Decision, PrincipalKind, Request, Statement, TrustDocument, evaluate, widenings,
};

use super::model::Binding;
use super::trust;

/// The condition keys an IRSA statement must constrain: `ISSUER:sub` and `ISSUER:aud` of
/// every OIDC provider it names as `Federated` principal.
pub fn required_keys(statement: &Statement) -> Vec<String> {
    use crate::trust_eval::{Listed, PrincipalPattern};
    let Listed::Only(principals) = &statement.principals else {
        return Vec::new();
    };
    principals
        .iter()
        .filter_map(|p| match p {
            PrincipalPattern::One(p) if p.kind == PrincipalKind::Federated => {
                OidcProviderArn::parse(&p.value).ok()
            }
            _ => None,
        })
        .flat_map(|oidc| {
            let issuer = oidc.issuer_host_path;
            [format!("{issuer}:sub"), format!("{issuer}:aud")]
        })
        .collect()
}

/// Warnings when `held` (the trust policy IAM holds for `binding`'s role) is not what the
/// binding builds. `after` says what happens next ("The next apply restores it.").
pub fn trust_drift(binding: &Binding, held: &str, after: &str) -> Vec<Diagnostic> {
    let Ok(oidc) = OidcProviderArn::parse(&binding.oidc_provider_arn) else {
        return Vec::new();
    };
    let wanted_value = trust::document(
        &oidc,
        &binding.namespace,
        &binding.service_account_name,
        &binding.audience,
    );
    let wanted = wanted_value.to_string();
    if policy::equivalent(&wanted, held) {
        return Vec::new();
    }
    let role = &binding.role_name;
    let held_text = match policy::parse_policy(held) {
        Ok(value) => policy::to_canonical_json(&value),
        Err(_) => policy::decode_document(held),
    };
    let mut detail = format!(
        "IAM role {role} (binding {}) has a trust policy this binding did not write:\n  \
         {held_text}\nThe binding's policy is:\n  {}\n",
        binding.id(),
        policy::to_canonical_json(&wanted_value),
    );
    let Ok(held_doc) = TrustDocument::parse(held) else {
        detail.push_str(after);
        return vec![Diagnostic::warning(changed_summary(role), detail)];
    };
    // What STS would now decide for the binding's own ServiceAccount.
    let own = Request::web_identity(
        &binding.oidc_provider_arn,
        &oidc.issuer_host_path,
        &trust::subject(&binding.namespace, &binding.service_account_name),
        &binding.audience,
    );
    match evaluate(&held_doc, &own) {
        Decision::Allowed { .. } => {
            detail.push_str("The binding's ServiceAccount is still admitted by it.\n")
        }
        refused => detail.push_str(&format!(
            "With it, STS refuses the binding's own ServiceAccount ({}): {refused}.\n",
            own.context
                .iter()
                .map(|(k, v)| format!("{k}={}", v.join(",")))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    detail.push_str(after);
    let mut warnings = vec![Diagnostic::warning(changed_summary(role), detail)];
    let wanted_doc = TrustDocument::from_value(&wanted_value).expect("the built policy reads");
    let widened = widenings(&wanted_doc, &held_doc, &required_keys);
    if !widened.is_empty() {
        warnings.push(Diagnostic::warning(
            format!("Trust policy of IAM role {role} admits more than the binding allows"),
            format!(
                "The trust policy changed outside Terraform widens who may assume IAM role \
                 {role}:\n{}\nUntil it is restored, tokens the binding never meant to trust can \
                 get the role's credentials. {after}",
                widened
                    .iter()
                    .map(|w| format!("- {w}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        ));
    }
    warnings
}

fn changed_summary(role: &str) -> String {
    format!("Trust policy of IAM role {role} was changed outside Terraform")
}
