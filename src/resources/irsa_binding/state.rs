//! The state that describes what exists: a basis (the prior state, or the plan being applied)
//! brought in line with what was observed. Parts that are missing show as null identifiers
//! (`role_unique_id`, `service_account_uid`, a grant's `role_name`), parts that differ show
//! their remote values, and policy documents that mean the same keep the basis's text.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::policy;
use crate::ownership;

use super::irsa::{self, IRSA_ANNOTATIONS};
use super::model::Binding;
use super::remote::{
    IamRole, Observed, ObservedGrant, ObservedRbacRole, ObservedRoleBinding, ObservedServiceAccount,
};

/// What `state` says exists, as an observation (the inverse of [`reconcile`] for the parts
/// the state records): what an operation falls back to for a part it cannot read.
pub fn known_from_state(state: &Binding) -> Observed {
    let id = state.id();
    let owner = || BTreeMap::from([(ownership::OWNER_KEY.to_string(), id.clone())]);
    let role = state.role_unique_id.as_ref().map(|role_id| IamRole {
        name: state.role_name.clone(),
        path: state.role_path.clone(),
        arn: state.role_arn.clone(),
        role_id: role_id.clone(),
        description: state.role_description.clone(),
        max_session_duration: state.max_session_duration,
        permissions_boundary_arn: state.permissions_boundary_arn.clone(),
        tags: state.tags_all.clone(),
        trust_policy: state.trust_policy.clone().unwrap_or_default(),
    });
    let service_account = state
        .service_account_uid
        .as_ref()
        .map(|uid| ObservedServiceAccount {
            uid: uid.clone(),
            labels: state.labels.clone().unwrap_or_default(),
            annotations: {
                let mut annotations = state.annotations.clone().unwrap_or_default();
                annotations.extend(state.irsa_annotations.clone());
                annotations.extend(owner());
                annotations
            },
            automount: state.automount_service_account_token,
            owned: None,
        });
    let grants = state
        .grants
        .iter()
        .map(|grant| {
            let role = grant.role_name.as_ref().map(|name| ObservedRbacRole {
                name: name.clone(),
                rules: grant.role_rules.clone().unwrap_or_default(),
                annotations: owner(),
            });
            let binding = grant
                .role_binding_name
                .as_ref()
                .map(|name| ObservedRoleBinding {
                    name: name.clone(),
                    role_ref: ("Role".to_string(), name.clone()),
                    subjects: vec![(
                        "ServiceAccount".to_string(),
                        state.namespace.clone(),
                        state.service_account_name.clone(),
                    )],
                    annotations: owner(),
                });
            (grant.namespace.clone(), ObservedGrant { role, binding })
        })
        .collect();
    let association = state.pod_identity.as_ref().and_then(|block| {
        Some(super::remote::Association {
            cluster: block.cluster_name.clone(),
            id: block.association_id.clone()?,
            arn: block.association_arn.clone().unwrap_or_default(),
            namespace: state.namespace.clone(),
            service_account: state.service_account_name.clone(),
            // Without its ARN the state knows it gives another role.
            role_arn: match &block.association_arn {
                Some(_) => state.role_arn.clone(),
                None => String::new(),
            },
            tags: BTreeMap::new(),
        })
    });
    Observed {
        association,
        attached: match role {
            Some(_) => state.managed_policy_arns.clone().unwrap_or_default(),
            None => BTreeSet::new(),
        },
        inline: match role {
            Some(_) => state.inline_policies.clone().unwrap_or_default(),
            None => BTreeMap::new(),
        },
        role,
        service_account,
        grants,
    }
}

/// How much of the remote objects the state takes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only what the basis manages: its labels, annotations, policies (others' are ignored).
    Managed,
    /// Everything found (import, where there is no basis yet).
    Everything,
}

/// The state for `observed`, or `None` when nothing of the binding exists.
pub fn reconcile(
    basis: &Binding,
    observed: &Observed,
    default_tags: &BTreeMap<String, String>,
    scope: Scope,
) -> Option<Binding> {
    if observed.is_empty() {
        return None;
    }
    let mut state = basis.clone();
    reconcile_role(&mut state, basis, observed, default_tags, scope);
    reconcile_service_account(&mut state, basis, observed, scope);
    let role_arn = state.role_arn.clone();
    if let Some(block) = &mut state.pod_identity {
        let seen = observed
            .association
            .as_ref()
            .filter(|a| a.cluster == block.cluster_name);
        block.association_id = seen.map(|a| a.id.clone());
        // An association that gives another role keeps its id (the next apply points it back)
        // but not its ARN, so that the plan shows the repair.
        block.association_arn = seen
            .filter(|a| scope == Scope::Everything || a.role_arn == role_arn)
            .map(|a| a.arn.clone());
    }
    for grant in &mut state.grants {
        let seen = observed.grants.get(&grant.namespace);
        let role = seen.and_then(|g| g.role.as_ref());
        grant.role_name = role.map(|r| r.name.clone());
        if let Some(role) = role {
            grant.role_rules = Some(role.rules.clone());
        }
        grant.role_binding_name = seen
            .and_then(|g| g.binding.as_ref())
            .filter(|b| b.binds(&basis.namespace, &basis.service_account_name, &b.name))
            .map(|b| b.name.clone());
    }
    Some(state)
}

fn reconcile_role(
    state: &mut Binding,
    basis: &Binding,
    observed: &Observed,
    default_tags: &BTreeMap<String, String>,
    scope: Scope,
) {
    let Some(role) = &observed.role else {
        state.role_unique_id = None;
        state.trust_policy = None;
        return;
    };
    state.role_name = role.name.clone();
    state.role_path = role.path.clone();
    state.role_arn = role.arn.clone();
    state.role_unique_id = Some(role.role_id.clone());
    state.trust_policy = Some(match &basis.trust_policy {
        Some(known) if policy::equivalent(known, &role.trust_policy) => known.clone(),
        _ => compact(&role.trust_policy),
    });
    state.role_description = match role.description.clone().filter(|d| !d.is_empty()) {
        // IAM stores an empty description as none; keep the configured empty string.
        None => basis.role_description.clone().filter(String::is_empty),
        some => some,
    };
    state.max_session_duration = role.max_session_duration;
    state.permissions_boundary_arn = role.permissions_boundary_arn.clone();
    let remote_tags: BTreeMap<String, String> = role
        .tags
        .iter()
        .filter(|(k, _)| !is_ownership_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    state.tags = own_tags(&remote_tags, basis.tags.as_ref(), default_tags, scope);
    state.tags_all = remote_tags;
    state.managed_policy_arns = match scope {
        Scope::Everything => non_empty_set(observed.attached.clone()),
        Scope::Managed => basis
            .managed_policy_arns
            .as_ref()
            .map(|wanted| wanted.intersection(&observed.attached).cloned().collect()),
    };
    state.inline_policies = match scope {
        // Import claims every inline policy but the one `gitlabrunner_cache` owns on this role.
        Scope::Everything => non_empty_map(
            observed
                .inline
                .iter()
                .filter(|(_, document)| !ownership::is_cache_policy(document))
                .map(|(name, document)| (name.clone(), compact(document)))
                .collect(),
        ),
        Scope::Managed => basis.inline_policies.as_ref().map(|wanted| {
            wanted
                .iter()
                .filter_map(|(name, known)| {
                    let remote = observed.inline.get(name)?;
                    let text = if policy::equivalent(known, remote) {
                        known.clone()
                    } else {
                        compact(remote)
                    };
                    Some((name.clone(), text))
                })
                .collect()
        }),
    };
}

fn reconcile_service_account(
    state: &mut Binding,
    basis: &Binding,
    observed: &Observed,
    scope: Scope,
) {
    let Some(account) = &observed.service_account else {
        // Nothing of what the binding writes on the ServiceAccount exists any more.
        state.service_account_uid = None;
        state.irsa_annotations = BTreeMap::new();
        if scope == Scope::Managed {
            state.labels = tracked(basis.labels.as_ref(), &BTreeMap::new());
            state.annotations = tracked(basis.annotations.as_ref(), &BTreeMap::new());
            state.automount_service_account_token = None;
        }
        return;
    };
    state.service_account_uid = Some(account.uid.clone());
    // On an adopted ServiceAccount, IRSA annotations another manager owns are not the
    // binding's (it leaves them alone); on one it created, every one is.
    let adopted = basis.service_account_adopted == Some(true);
    let owned = account.owned.as_ref();
    state.irsa_annotations = account
        .annotations
        .iter()
        .filter(|(k, _)| IRSA_ANNOTATIONS.contains(&k.as_str()))
        .filter(|(k, _)| !adopted || owned.is_none_or(|o| o.annotations.contains(*k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match scope {
        Scope::Managed => {
            state.labels = tracked(basis.labels.as_ref(), &account.labels);
            state.annotations = tracked(basis.annotations.as_ref(), &account.annotations);
            // Managed only when configured; then the remote value, even when unset.
            state.automount_service_account_token =
                basis.automount_service_account_token.and(account.automount);
        }
        Scope::Everything => {
            let created = account
                .labels
                .get(ownership::MANAGED_BY_LABEL)
                .map(String::as_str)
                == Some(ownership::MANAGED_BY);
            // Only what the provider wrote is the binding's: an adopted ServiceAccount's
            // other labels and annotations (the Helm chart's) are not. Without managedFields,
            // everything that is not reserved counts.
            let owned = account.owned.as_ref();
            let owns_label = |k: &str| owned.is_none_or(|o| o.labels.contains(k));
            let owns_annotation = |k: &str| owned.is_none_or(|o| o.annotations.contains(k));
            state.labels = non_empty_map(
                account
                    .labels
                    .iter()
                    .filter(|(k, _)| k.as_str() != ownership::MANAGED_BY_LABEL || !created)
                    .filter(|(k, _)| owns_label(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            state.annotations = non_empty_map(
                account
                    .annotations
                    .iter()
                    .filter(|(k, _)| {
                        !irsa::RESERVED_ANNOTATIONS.contains(&k.as_str())
                            && !k.starts_with("kubectl.kubernetes.io/")
                            && owns_annotation(k)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            let owns_automount =
                owned.is_none_or(|o| o.fields.contains("automountServiceAccountToken"));
            state.automount_service_account_token = account.automount.filter(|_| owns_automount);
            state.sts_regional_endpoints = account
                .annotations
                .get(irsa::STS_REGIONAL_ANNOTATION)
                .and_then(|v| v.parse().ok());
            state.token_expiration = account
                .annotations
                .get(irsa::TOKEN_EXPIRATION_ANNOTATION)
                .and_then(|v| v.parse().ok());
            state.service_account_adopted = Some(!created);
            state.adopt_existing_service_account = !created;
        }
    }
}

/// The entries of `remote` whose keys `wanted` lists (`None` stays `None`).
fn tracked(
    wanted: Option<&BTreeMap<String, String>>,
    remote: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    wanted.map(|wanted| {
        wanted
            .keys()
            .filter_map(|k| remote.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    })
}

/// The role's own tags: the ones the basis sets, and any that are not the provider's default.
fn own_tags(
    remote: &BTreeMap<String, String>,
    wanted: Option<&BTreeMap<String, String>>,
    default_tags: &BTreeMap<String, String>,
    scope: Scope,
) -> Option<BTreeMap<String, String>> {
    let own: BTreeMap<String, String> = remote
        .iter()
        .filter(|(k, v)| {
            wanted.is_some_and(|w| w.contains_key(*k)) || default_tags.get(*k) != Some(*v)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match (wanted, scope) {
        (Some(_), Scope::Managed) => Some(own),
        _ => non_empty_map(own),
    }
}

/// Whether `key` is one of the provider's ownership tags.
pub fn is_ownership_tag(key: &str) -> bool {
    key == ownership::MANAGED_BY_TAG || key == ownership::OWNER_KEY
}

/// A document as compact JSON when it parses, else as it is.
fn compact(document: &str) -> String {
    let decoded = policy::decode_document(document);
    serde_json::from_str::<serde_json::Value>(&decoded)
        .map(|v| v.to_string())
        .unwrap_or(decoded)
}

fn non_empty_map(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

fn non_empty_set(set: BTreeSet<String>) -> Option<BTreeSet<String>> {
    (!set.is_empty()).then_some(set)
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::sample;
    use super::super::remote::{IamRole, ObservedServiceAccount};
    use super::*;

    #[test]
    fn a_deleted_service_account_leaves_none_of_its_fields_in_state() {
        let mut basis = sample();
        basis.irsa_annotations = BTreeMap::from([(
            irsa::ROLE_ARN_ANNOTATION.to_string(),
            basis.role_arn.clone(),
        )]);
        let observed = Observed {
            role: Some(IamRole {
                name: basis.role_name.clone(),
                role_id: "AROAEXAMPLE".into(),
                ..IamRole::default()
            }),
            ..Observed::default()
        };
        let state = reconcile(&basis, &observed, &BTreeMap::new(), Scope::Managed).unwrap();
        assert_eq!(state.service_account_uid, None);
        assert!(state.irsa_annotations.is_empty());
        assert_eq!(state.labels, Some(BTreeMap::new()));
        assert_eq!(state.automount_service_account_token, None);

        let present = Observed {
            service_account: Some(ObservedServiceAccount {
                uid: "uid-2".into(),
                ..ObservedServiceAccount::default()
            }),
            ..observed
        };
        let state = reconcile(&basis, &present, &BTreeMap::new(), Scope::Managed).unwrap();
        assert_eq!(state.service_account_uid.as_deref(), Some("uid-2"));
    }

    #[test]
    fn import_of_an_adopted_service_account_takes_only_the_fields_the_provider_owns() {
        let entries = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let owned = crate::kubernetes::ManagedFields {
            labels: ["team".to_string()].into(),
            annotations: [
                "example.com/contact".to_string(),
                ownership::OWNER_KEY.to_string(),
            ]
            .into(),
            fields: Default::default(),
        };
        let account = ObservedServiceAccount {
            uid: "uid-1".into(),
            labels: entries(&[
                (ownership::MANAGED_BY_LABEL, "Helm"),
                ("app", "gitlab-runner"),
                ("team", "ci"),
            ]),
            annotations: entries(&[
                ("meta.helm.sh/release-name", "gitlab-runner"),
                ("example.com/contact", "ci@example.com"),
                (ownership::OWNER_KEY, "ci-runner/gitlab-runner"),
            ]),
            automount: Some(true),
            owned: Some(owned),
        };
        let observed = Observed {
            service_account: Some(account.clone()),
            ..Observed::default()
        };
        let state = reconcile(&sample(), &observed, &BTreeMap::new(), Scope::Everything).unwrap();
        assert_eq!(state.labels, Some(entries(&[("team", "ci")])));
        assert_eq!(
            state.annotations,
            Some(entries(&[("example.com/contact", "ci@example.com")]))
        );
        assert_eq!(state.automount_service_account_token, None, "the chart's");
        assert_eq!(state.service_account_adopted, Some(true));

        // Without managedFields, everything that is not reserved counts.
        let observed = Observed {
            service_account: Some(ObservedServiceAccount {
                owned: None,
                ..account
            }),
            ..Observed::default()
        };
        let state = reconcile(&sample(), &observed, &BTreeMap::new(), Scope::Everything).unwrap();
        assert_eq!(state.labels.map(|l| l.len()), Some(3));
        assert_eq!(state.automount_service_account_token, Some(true));
    }
}
