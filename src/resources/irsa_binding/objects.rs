//! The remote objects a binding wants, built from its plan: the IAM role's specification, the
//! ServiceAccount (as a new object, as a server-side-apply intent, or as a merge patch), and
//! each grant's Role and RoleBinding. Every object carries the ownership markers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value as Json, json};

use crate::ownership;

use super::irsa::IRSA_ANNOTATIONS;
use super::model::{Binding, Grant, RbacRule};
use super::naming;
use super::remote::RoleSpec;

/// The tags that mark a role as the binding `id`'s.
pub fn ownership_tags(id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            ownership::MANAGED_BY_TAG.to_string(),
            ownership::MANAGED_BY.to_string(),
        ),
        (ownership::OWNER_KEY.to_string(), id.to_string()),
    ])
}

/// All tags the role should carry: `tags_all` and the ownership markers.
pub fn role_tags(binding: &Binding) -> BTreeMap<String, String> {
    let mut tags = binding.tags_all.clone();
    tags.extend(ownership_tags(&binding.id()));
    tags
}

/// The role to create.
pub fn role_spec(binding: &Binding) -> RoleSpec {
    RoleSpec {
        name: binding.role_name.clone(),
        path: binding.role_path.clone(),
        description: binding.role_description.clone(),
        max_session_duration: binding.max_session_duration,
        permissions_boundary_arn: binding.permissions_boundary_arn.clone(),
        tags: role_tags(binding),
        trust_policy: binding.trust_policy.clone().unwrap_or_default(),
    }
}

/// The annotations the binding writes on the ServiceAccount.
fn account_annotations(binding: &Binding) -> BTreeMap<String, String> {
    let mut annotations = binding.annotations.clone().unwrap_or_default();
    annotations.extend(binding.irsa_annotations.clone());
    annotations.insert(ownership::OWNER_KEY.to_string(), binding.id());
    annotations
}

/// The ServiceAccount to create (it carries the managed-by label: the binding made it).
pub fn service_account(binding: &Binding) -> ServiceAccount {
    let mut labels = binding.labels.clone().unwrap_or_default();
    labels.insert(
        ownership::MANAGED_BY_LABEL.to_string(),
        ownership::MANAGED_BY.to_string(),
    );
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(binding.service_account_name.clone()),
            namespace: Some(binding.namespace.clone()),
            labels: Some(labels),
            annotations: Some(account_annotations(binding)),
            ..ObjectMeta::default()
        },
        automount_service_account_token: binding.automount_service_account_token,
        ..ServiceAccount::default()
    }
}

/// The server-side-apply intent for an adopted ServiceAccount: only the binding's fields (no
/// managed-by label: someone else made the object).
pub fn service_account_intent(binding: &Binding) -> Json {
    let mut intent = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": binding.service_account_name,
            "namespace": binding.namespace,
            "annotations": account_annotations(binding),
        },
    });
    if let Some(labels) = binding.labels.as_ref().filter(|l| !l.is_empty()) {
        intent["metadata"]["labels"] = json!(labels);
    }
    if let Some(automount) = binding.automount_service_account_token {
        intent["automountServiceAccountToken"] = json!(automount);
    }
    intent
}

/// The intent that gives up every field of an adopted ServiceAccount: applied, it removes the
/// fields only the binding owned.
pub fn service_account_release(namespace: &str, name: &str) -> Json {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    })
}

/// The merge patch that takes a ServiceAccount the binding created from `prior`'s fields to
/// `planned`'s: every wanted key set, every key the binding set before and no longer wants
/// removed. Keys the binding never managed are untouched.
pub fn service_account_patch(prior: &Binding, planned: &Binding) -> Json {
    let mut labels = serde_json::Map::new();
    for key in prior.labels.iter().flatten().map(|(k, _)| k) {
        labels.insert(key.clone(), Json::Null);
    }
    for (key, value) in planned.labels.iter().flatten() {
        labels.insert(key.clone(), json!(value));
    }
    labels.insert(
        ownership::MANAGED_BY_LABEL.to_string(),
        json!(ownership::MANAGED_BY),
    );
    let mut annotations = serde_json::Map::new();
    let previously_set = prior
        .annotations
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .chain(IRSA_ANNOTATIONS);
    for key in previously_set {
        annotations.insert(key.to_string(), Json::Null);
    }
    for (key, value) in account_annotations(planned) {
        annotations.insert(key, json!(value));
    }
    let mut patch = json!({"metadata": {"labels": labels, "annotations": annotations}});
    match (
        prior.automount_service_account_token,
        planned.automount_service_account_token,
    ) {
        (_, Some(value)) => patch["automountServiceAccountToken"] = json!(value),
        (Some(_), None) => patch["automountServiceAccountToken"] = Json::Null,
        (None, None) => {}
    }
    patch
}

/// The metadata of a Role or RoleBinding the binding makes.
fn rbac_metadata(binding: &Binding, grant: &Grant) -> ObjectMeta {
    ObjectMeta {
        name: Some(naming::rbac_name(
            &binding.namespace,
            &binding.service_account_name,
        )),
        namespace: Some(grant.namespace.clone()),
        labels: Some(BTreeMap::from([(
            ownership::MANAGED_BY_LABEL.to_string(),
            ownership::MANAGED_BY.to_string(),
        )])),
        annotations: Some(BTreeMap::from([(
            ownership::OWNER_KEY.to_string(),
            binding.id(),
        )])),
        ..ObjectMeta::default()
    }
}

/// The Role of a grant.
pub fn rbac_role(binding: &Binding, grant: &Grant) -> Role {
    let rules: Vec<PolicyRule> = grant.desired_rules().iter().map(policy_rule).collect();
    Role {
        metadata: rbac_metadata(binding, grant),
        rules: Some(rules),
    }
}

fn policy_rule(rule: &RbacRule) -> PolicyRule {
    PolicyRule {
        api_groups: Some(rule.api_groups.clone()),
        resources: Some(rule.resources.clone()),
        verbs: rule.verbs.clone(),
        resource_names: (!rule.resource_names.is_empty()).then(|| rule.resource_names.clone()),
        non_resource_urls: None,
    }
}

/// The RoleBinding of a grant: its Role, bound to the binding's ServiceAccount only.
pub fn role_binding(binding: &Binding, grant: &Grant) -> RoleBinding {
    let metadata = rbac_metadata(binding, grant);
    RoleBinding {
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "Role".to_string(),
            name: metadata.name.clone().unwrap_or_default(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: binding.service_account_name.clone(),
            namespace: Some(binding.namespace.clone()),
            api_group: None,
        }]),
        metadata,
    }
}

/// Whether annotations mark an object as the binding `id`'s.
pub fn owned_by(annotations: &BTreeMap<String, String>, id: &str) -> bool {
    annotations.get(ownership::OWNER_KEY).map(String::as_str) == Some(id)
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::sample;
    use super::*;

    #[test]
    fn created_service_account_carries_irsa_annotation_and_ownership_markers() {
        let mut binding = sample();
        binding.irsa_annotations = BTreeMap::from([(
            "eks.amazonaws.com/role-arn".to_string(),
            binding.role_arn.clone(),
        )]);
        let account = service_account(&binding);
        let annotations = account.metadata.annotations.unwrap();
        assert_eq!(annotations["eks.amazonaws.com/role-arn"], binding.role_arn);
        assert_eq!(annotations[ownership::OWNER_KEY], "ci-runner/gitlab-runner");
        let labels = account.metadata.labels.unwrap();
        assert_eq!(labels[ownership::MANAGED_BY_LABEL], ownership::MANAGED_BY);
        assert_eq!(labels["app"], "runner");
        assert_eq!(account.automount_service_account_token, Some(true));
    }

    #[test]
    fn adoption_intent_does_not_claim_the_object() {
        let intent = service_account_intent(&sample());
        assert!(
            intent["metadata"]["labels"]
                .get(ownership::MANAGED_BY_LABEL)
                .is_none()
        );
        assert_eq!(
            intent["metadata"]["annotations"][ownership::OWNER_KEY],
            "ci-runner/gitlab-runner"
        );
    }

    #[test]
    fn patch_removes_what_the_binding_no_longer_wants_and_keeps_others() {
        let prior = sample();
        let mut planned = sample();
        planned.labels = Some(BTreeMap::from([("tier".into(), "ci".into())]));
        planned.automount_service_account_token = None;
        planned.irsa_annotations = BTreeMap::from([(
            "eks.amazonaws.com/role-arn".to_string(),
            "arn:new".to_string(),
        )]);
        let patch = service_account_patch(&prior, &planned);
        assert_eq!(patch["metadata"]["labels"]["app"], Json::Null);
        assert_eq!(patch["metadata"]["labels"]["tier"], "ci");
        assert_eq!(
            patch["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
            "arn:new"
        );
        assert_eq!(
            patch["metadata"]["annotations"]["eks.amazonaws.com/sts-regional-endpoints"],
            Json::Null
        );
        assert_eq!(patch["automountServiceAccountToken"], Json::Null);
        assert!(patch["metadata"]["annotations"].get("unrelated").is_none());
    }

    #[test]
    fn role_binding_binds_only_the_service_account_to_its_role() {
        let binding = sample();
        let rb = role_binding(&binding, &binding.grants[0]);
        assert_eq!(rb.metadata.namespace.as_deref(), Some("ci-jobs"));
        assert_eq!(rb.role_ref.kind, "Role");
        assert_eq!(rb.role_ref.name, "ci-runner.gitlab-runner");
        let subjects = rb.subjects.unwrap();
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].namespace.as_deref(), Some("ci-runner"));
        let role = rbac_role(&binding, &binding.grants[0]);
        assert_eq!(role.rules.unwrap().len(), 9);
    }

    #[test]
    fn role_spec_carries_tags_and_ownership() {
        let spec = role_spec(&sample());
        assert_eq!(spec.tags["team"], "ci");
        assert_eq!(spec.tags[ownership::MANAGED_BY_TAG], ownership::MANAGED_BY);
        assert_eq!(spec.tags[ownership::OWNER_KEY], "ci-runner/gitlab-runner");
    }
}
