//! Named rule sets for `grant.preset`, and the effective rules of a grant.

use super::model::RbacRule;

/// The preset names, as users write them.
pub const PRESET_NAMES: [&str; 2] = [KUBERNETES_EXECUTOR, NONE];

/// The runner manager of GitLab's Kubernetes executor.
pub const KUBERNETES_EXECUTOR: &str = "kubernetes-executor";
/// No rules besides the grant's `rule` blocks.
pub const NONE: &str = "none";

/// The rules of the preset `name`; `None` for an unknown name.
pub fn rules(name: &str) -> Option<Vec<RbacRule>> {
    match name {
        KUBERNETES_EXECUTOR => Some(kubernetes_executor()),
        NONE => Some(Vec::new()),
        _ => None,
    }
}

/// The rules of a grant: its preset's, then its explicit rules.
pub fn effective_rules(preset: Option<&str>, explicit: &[RbacRule]) -> Vec<RbacRule> {
    let mut all = preset.and_then(rules).unwrap_or_default();
    all.extend(explicit.iter().cloned());
    all
}

/// What GitLab documents for the runner manager of the Kubernetes executor.
///
/// Source: GitLab Runner documentation, "Kubernetes executor" > "Configure runner API
/// permissions" (<https://docs.gitlab.com/runner/executors/kubernetes/#configure-runner-api-permissions>,
/// `docs/executors/kubernetes/_index.md` in gitlab-org/gitlab-runner, the version that
/// describes the informers of GitLab Runner 17.9.0 and later; checked for this provider's
/// 0.1 release). Every resource and verb of that table is here, in its order, including the
/// ones only some feature flags use (events, pods/log, pods/attach, pods list/watch), so that
/// runners work whatever flags a job sets. Left out: `namespaces` create/delete, needed only for
/// `namespace_per_job` and not grantable by a namespaced Role (namespaces are cluster-scoped).
fn kubernetes_executor() -> Vec<RbacRule> {
    let core = |resource: &str, verbs: &[&str]| RbacRule::core(resource, verbs);
    vec![
        core("events", &["list", "watch"]),
        core("pods", &["create", "delete", "get", "list", "watch"]),
        core("pods/attach", &["create", "delete", "get", "patch"]),
        core("pods/exec", &["create", "delete", "get", "patch"]),
        core("pods/log", &["get", "list"]),
        core("secrets", &["create", "delete", "get", "update"]),
        core("serviceaccounts", &["get"]),
        core("services", &["create", "get"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verbs_of(rules: &[RbacRule], resource: &str) -> Vec<String> {
        rules
            .iter()
            .find(|r| r.resources == [resource])
            .map(|r| r.verbs.clone())
            .unwrap_or_default()
    }

    #[test]
    fn kubernetes_executor_is_exactly_the_documented_table() {
        let rules = rules(KUBERNETES_EXECUTOR).unwrap();
        let table: Vec<(&str, Vec<&str>)> = vec![
            ("events", vec!["list", "watch"]),
            ("pods", vec!["create", "delete", "get", "list", "watch"]),
            ("pods/attach", vec!["create", "delete", "get", "patch"]),
            ("pods/exec", vec!["create", "delete", "get", "patch"]),
            ("pods/log", vec!["get", "list"]),
            ("secrets", vec!["create", "delete", "get", "update"]),
            ("serviceaccounts", vec!["get"]),
            ("services", vec!["create", "get"]),
        ];
        assert_eq!(rules.len(), table.len());
        for (resource, verbs) in table {
            assert_eq!(verbs_of(&rules, resource), verbs, "{resource}");
        }
        for rule in &rules {
            assert_eq!(rule.api_groups, [""], "core group only");
            assert!(rule.resource_names.is_empty());
        }
    }

    #[test]
    fn kubernetes_executor_grants_no_wildcard_and_nothing_cluster_scoped() {
        let rules = rules(KUBERNETES_EXECUTOR).unwrap();
        for rule in &rules {
            assert!(!rule.verbs.iter().any(|v| v.contains('*')));
            assert!(!rule.resources.iter().any(|r| r.contains('*')));
            assert!(
                !rule
                    .resources
                    .iter()
                    .any(|r| r == "namespaces" || r == "nodes")
            );
        }
        // The classic failure "secrets is forbidden ... cannot create resource secrets".
        assert!(verbs_of(&rules, "secrets").contains(&"create".to_string()));
    }

    #[test]
    fn none_adds_only_the_explicit_rules() {
        let explicit = vec![RbacRule::core("configmaps", &["get"])];
        assert_eq!(effective_rules(Some(NONE), &explicit), explicit);
        assert_eq!(effective_rules(None, &explicit), explicit);
        assert!(rules("kubernetes_executor").is_none());
    }

    #[test]
    fn explicit_rules_follow_the_preset() {
        let explicit = vec![RbacRule::core("configmaps", &["get"])];
        let all = effective_rules(Some(KUBERNETES_EXECUTOR), &explicit);
        assert_eq!(all.len(), 9);
        assert_eq!(all.last(), Some(&explicit[0]));
    }
}
