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

/// What GitLab documents for the runner manager of the Kubernetes executor of GitLab Runner
/// 17.9 to 18.x, row for row.
///
/// Source: GitLab Runner documentation, "Kubernetes executor" > "Configure runner API
/// permissions" (<https://docs.gitlab.com/runner/executors/kubernetes/#configure-runner-api-permissions>,
/// `docs/executors/kubernetes/_index.md` in gitlab-org/gitlab-runner; the table is generated
/// from the `// kubeAPI:` annotations of `executors/kubernetes`). The 17.9 to 18.x table has
/// exactly these rows, in this order, including the verbs only some feature flags use (events,
/// pods/log, pods/attach, pods list/watch for the informers of 17.9.0 and later), so that
/// runners work whatever flags a job sets. Left out: `namespaces` create/delete, needed only
/// for `namespace_per_job` and not grantable by a namespaced Role (namespaces are
/// cluster-scoped). Newer documentation adds rows that only optional settings use; they are
/// [`OPTIONAL_ROWS`], not part of the preset.
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

/// Rows newer GitLab Runner documentation adds for optional settings, beyond the 17.9 to 18.x
/// table the preset matches: the `rule` blocks to add for each (the docs page shows them).
pub struct OptionalRows {
    /// The setting or feature flag that needs them, as GitLab's table names it.
    pub setting: &'static str,
    /// The namespaced rules, as (API group, resource, verbs).
    pub rules: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// Documented rows a namespaced Role cannot grant (cluster-scoped resources).
    pub cluster_scoped: &'static [&'static str],
}

/// The optional rows of the newer "Configure runner API permissions" table (the
/// `kubernetes.autoscaler` and `pod_disruption_budget` settings, and the
/// `FF_SUSPENDABLE_ENVIRONMENTS` feature flag: its `persistentvolumeclaims` and `configmaps`
/// calls are annotated `// kubeAPI: ..., FF_SUSPENDABLE_ENVIRONMENTS=true` in
/// gitlab-org/gitlab-runner `executors/kubernetes`).
pub const OPTIONAL_ROWS: [OptionalRows; 3] = [
    OptionalRows {
        setting: "kubernetes.autoscaler",
        rules: &[(
            "apps",
            "deployments",
            &["create", "delete", "get", "list", "update"],
        )],
        cluster_scoped: &["scheduling.k8s.io/priorityclasses create/get"],
    },
    OptionalRows {
        setting: "pod_disruption_budget=true",
        rules: &[("policy", "poddisruptionbudgets", &["create", "get"])],
        cluster_scoped: &[],
    },
    OptionalRows {
        setting: "FF_SUSPENDABLE_ENVIRONMENTS=true",
        rules: &[
            ("", "configmaps", &["create", "delete", "get", "update"]),
            ("", "persistentvolumeclaims", &["create", "delete"]),
        ],
        cluster_scoped: &["namespaces get"],
    },
];

/// A rule as the HCL `rule` block the docs show.
pub fn rule_block_hcl(api_group: &str, resource: &str, verbs: &[&str]) -> String {
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "rule {{\n  api_groups = [{api_group:?}]\n  resources  = [{resource:?}]\n  verbs      = [{}]\n}}",
        quoted(verbs)
    )
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

#[cfg(test)]
mod optional_rows_tests {
    use super::*;
    use crate::codec::Value;
    use crate::resources::irsa_binding::testing::{grant, manager_config, rule};
    use crate::resources::irsa_binding::validate::validate;

    fn docs_page() -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/resources/irsa_binding.md"),
        )
        .unwrap()
    }

    #[test]
    fn the_docs_show_the_rule_blocks_of_every_optional_row() {
        let page = docs_page();
        for rows in &OPTIONAL_ROWS {
            assert!(page.contains(rows.setting), "{} is not named", rows.setting);
            for (group, resource, verbs) in rows.rules {
                let block = rule_block_hcl(group, resource, verbs);
                let indented: String = block.lines().map(|l| format!("    {l}\n")).collect();
                assert!(page.contains(&indented), "the docs do not show\n{indented}");
            }
            for left_out in rows.cluster_scoped {
                assert!(page.contains(left_out), "{left_out} is not explained");
            }
        }
    }

    #[test]
    fn the_optional_rule_blocks_are_valid_and_need_no_opt_in() {
        let mut config = manager_config();
        let rules: Vec<Value> = OPTIONAL_ROWS
            .iter()
            .flat_map(|rows| rows.rules.iter())
            .map(|(group, resource, verbs)| rule(&[*group], &[*resource], verbs))
            .collect();
        config.set_attr(
            "grant",
            Value::List(vec![grant("ci-jobs", Some(KUBERNETES_EXECUTOR), rules)]),
        );
        let diags = validate(&config);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn the_schema_says_which_runner_versions_the_preset_matches() {
        let page = docs_page();
        let preset = page
            .lines()
            .find(|l| l.starts_with("- `preset` (String)"))
            .expect("the generated schema documents preset");
        assert!(preset.contains("GitLab Runner 17.9 to 18.x"), "{preset}");
        assert!(preset.contains("FF_SUSPENDABLE_ENVIRONMENTS"), "{preset}");
    }
}
