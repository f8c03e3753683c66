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

/// The condition keys a statement must constrain: `ISSUER:sub` and `ISSUER:aud` of every OIDC
/// provider it names as `Federated` principal (IRSA), and the session tags of the cluster,
/// namespace and ServiceAccount when it names `pods.eks.amazonaws.com` (Pod Identity: without
/// them any association in the account may use the role).
pub fn required_keys(statement: &Statement) -> Vec<String> {
    use crate::trust_eval::{Listed, PrincipalPattern};
    let Listed::Only(principals) = &statement.principals else {
        return Vec::new();
    };
    let pods = principals.iter().any(|p| {
        matches!(p, PrincipalPattern::One(p)
            if p.kind == PrincipalKind::Service && p.value == trust::POD_IDENTITY_PRINCIPAL)
    });
    let pod_identity_keys = pods.then_some([
        trust::CLUSTER_NAME_TAG,
        trust::NAMESPACE_TAG,
        trust::SERVICE_ACCOUNT_TAG,
    ]);
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
        .chain(pod_identity_keys.into_iter().flatten().map(str::to_string))
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

#[cfg(test)]
mod tests {
    use super::super::model::{Binding, PodIdentity, tests::sample};
    use super::super::testing::OIDC;
    use super::*;

    /// The manager binding with both mechanisms, as state records it after apply.
    fn both() -> Binding {
        let mut binding = sample();
        binding.oidc_provider_arn = OIDC.to_string();
        binding.pod_identity = Some(PodIdentity {
            cluster_name: "gitlabrunner-acc".into(),
            association_id: Some("a-00000000000000001".into()),
            association_arn: Some(
                "arn:aws:eks:us-east-1:123456789012:podidentityassociation/gitlabrunner-acc/a-00000000000000001"
                    .into(),
            ),
        });
        binding
    }

    fn built(binding: &Binding) -> serde_json::Value {
        let oidc = OidcProviderArn::parse(&binding.oidc_provider_arn).unwrap();
        let cluster = trust::PodIdentityCluster::new(
            crate::aws::Partition::Aws,
            "us-east-1",
            "123456789012",
            "gitlabrunner-acc",
        );
        trust::document_for(
            trust::Mechanisms {
                irsa: binding.irsa.then_some((&oidc, binding.audience.as_str())),
                pod_identity: Some(&cluster),
            },
            &binding.namespace,
            &binding.service_account_name,
        )
    }

    #[test]
    fn the_pod_identity_statement_the_binding_writes_is_no_drift() {
        for irsa in [true, false] {
            let mut binding = both();
            binding.irsa = irsa;
            let held = built(&binding).to_string();
            assert!(trust_drift(&binding, &held, "").is_empty(), "irsa = {irsa}");
            // Without the association's ARN, the region comes from the held policy.
            binding.pod_identity.as_mut().unwrap().association_arn = None;
            assert!(trust_drift(&binding, &held, "").is_empty(), "irsa = {irsa}");
        }
    }

    #[test]
    fn a_pod_identity_statement_without_its_session_tag_conditions_is_a_widening() {
        let binding = both();
        let mut held = built(&binding);
        held["Statement"][1]["Condition"]["StringEquals"]
            .as_object_mut()
            .unwrap()
            .remove(trust::SERVICE_ACCOUNT_TAG);
        let warnings = trust_drift(&binding, &held.to_string(), "");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[1].detail.contains(trust::SERVICE_ACCOUNT_TAG),
            "{}",
            warnings[1].detail
        );
        // An IRSA-only binding whose role gained a Pod Identity statement: a new statement.
        let mut irsa_only = both();
        irsa_only.pod_identity = None;
        let warnings = trust_drift(&irsa_only, &built(&binding).to_string(), "");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }
}
