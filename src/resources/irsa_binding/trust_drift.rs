//! Loud drift for the trust policy: when the policy IAM holds is not the one the binding
//! builds, refresh (and import) warns, naming what changed; when the change admits more
//! (an extra statement or principal, a wildcard, a dropped `sub` or `aud` condition) a second
//! warning says that it widens who may assume the role. Both come from evaluating the
//! policies ([`crate::trust_eval`]), not from comparing text.

use crate::aws::policy;
use crate::aws::{Arn, OidcProviderArn};
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
    let oidc = OidcProviderArn::parse(&binding.oidc_provider_arn).ok();
    let Some(wanted_value) = wanted(binding, oidc.as_ref(), held) else {
        return Vec::new();
    };
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
    // What STS would now decide for the binding's own ServiceAccount (IRSA; verify checks
    // the Pod Identity side).
    if let Some(oidc) = oidc.as_ref().filter(|_| binding.irsa) {
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

/// The trust policy the binding builds: its IRSA statement (with `irsa`), then its Pod
/// Identity statement. `None` when it cannot be told: an unreadable OIDC provider ARN, or a
/// Pod Identity cluster whose region is not known (from the association's ARN, else from the
/// held policy's `eks-cluster-arn` for this cluster in the role's account).
fn wanted(
    binding: &Binding,
    oidc: Option<&OidcProviderArn>,
    held: &str,
) -> Option<serde_json::Value> {
    let irsa = match binding.irsa {
        true => Some((oidc?, binding.audience.as_str())),
        false => None,
    };
    let cluster = match &binding.pod_identity {
        None => None,
        Some(block) => Some(cluster_of(
            binding,
            &block.cluster_name,
            block.association_arn.as_deref(),
            held,
        )?),
    };
    Some(trust::document_for(
        trust::Mechanisms {
            irsa,
            pod_identity: cluster.as_ref(),
        },
        &binding.namespace,
        &binding.service_account_name,
    ))
}

fn cluster_of(
    binding: &Binding,
    name: &str,
    association_arn: Option<&str>,
    held: &str,
) -> Option<trust::PodIdentityCluster> {
    let role = Arn::parse(&binding.role_arn).ok()?;
    let from_association = association_arn
        .and_then(|arn| Arn::parse(arn).ok())
        .filter(|arn| arn.account == role.account)
        .map(|arn| arn.region);
    let region = match from_association {
        Some(region) => region,
        None => {
            let written = trust::pod_identity_cluster_arn(held)?;
            let arn = Arn::parse(&written).ok()?;
            (arn.account == role.account && arn.resource == format!("cluster/{name}"))
                .then_some(arn.region)?
        }
    };
    Some(trust::PodIdentityCluster::new(
        role.partition,
        &region,
        &role.account,
        name,
    ))
}

fn changed_summary(role: &str) -> String {
    format!("Trust policy of IAM role {role} was changed outside Terraform")
}
