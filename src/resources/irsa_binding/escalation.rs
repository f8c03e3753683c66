//! Which RBAC rules are privilege-escalation paths, after Kubernetes "RBAC good practices"
//! (<https://kubernetes.io/docs/concepts/security/rbac-good-practices/>, "Privilege
//! escalation risks"): the `escalate`, `bind` and `impersonate` verbs, `create` on
//! `serviceaccounts/token` (minting tokens of any ServiceAccount in the namespace), and write
//! access to Roles and RoleBindings (and their cluster-wide kinds), which lets the holder
//! grant itself anything. A `rule` block that grants one of them is refused unless
//! `allow_privilege_escalation = true`.
//!
//! Wildcards match what they cover (`*` verbs on `roles` include `escalate`), so a wildcard
//! rule that reaches one of these paths needs both opt-ins.

/// The RBAC API group.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The verbs that escalate on any resource they are granted on.
const ESCALATING_VERBS: [&str; 3] = ["escalate", "bind", "impersonate"];

/// The verbs that write an object.
const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// The RBAC kinds whose write access lets the holder grant itself more.
const RBAC_RESOURCES: [&str; 4] = [
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
];

/// What makes the rule (`api_groups`, `resources`, `verbs`) an escalation path, one sentence
/// per path found; empty when it is none.
pub fn escalation_paths(
    api_groups: &[String],
    resources: &[String],
    verbs: &[String],
) -> Vec<String> {
    let mut paths = Vec::new();
    for verb in ESCALATING_VERBS {
        if verbs.iter().any(|v| v == verb) {
            paths.push(format!(
                "the verb {verb:?} {}",
                match verb {
                    "escalate" => "lets the holder write Roles with permissions it does not have",
                    "bind" => "lets the holder bind Roles with permissions it does not have",
                    _ => "lets the holder act as another user, group or ServiceAccount",
                }
            ));
        }
    }
    let group = |g: &str| api_groups.iter().any(|a| a == g || a == "*");
    let verb = |v: &str| verbs.iter().any(|a| a == v || a == "*");
    if verbs.iter().any(|v| v == "*") && group(RBAC_GROUP) {
        for target in ["roles", "clusterroles"] {
            if covers(resources, target) {
                paths.push(format!(
                    "\"*\" on {target} includes \"escalate\" and \"bind\""
                ));
            }
        }
    }
    if verbs.iter().any(|v| v == "*")
        && (group("")
            && ["users", "groups", "serviceaccounts"]
                .iter()
                .any(|r| covers(resources, r)))
    {
        paths.push("\"*\" on users, groups or serviceaccounts includes \"impersonate\"".into());
    }
    if group("") && verb("create") && covers(resources, "serviceaccounts/token") {
        paths.push(
            "create on serviceaccounts/token mints tokens of every ServiceAccount in the \
             namespace"
                .into(),
        );
    }
    if group(RBAC_GROUP) {
        let writes: Vec<&str> = WRITE_VERBS.iter().copied().filter(|v| verb(v)).collect();
        for target in RBAC_RESOURCES {
            if !writes.is_empty() && covers(resources, target) {
                paths.push(format!(
                    "{} on {target} lets the holder grant itself any permission",
                    writes.join(", ")
                ));
            }
        }
    }
    paths
}

/// Whether the rule's `resources` cover `target` (`pods` or `pods/log`), as RBAC matches them:
/// exactly, `*`, `RESOURCE/*` for every subresource, or `*/SUBRESOURCE`.
fn covers(resources: &[String], target: &str) -> bool {
    let (resource, sub) = match target.split_once('/') {
        Some((resource, sub)) => (resource, Some(sub)),
        None => (target, None),
    };
    resources.iter().any(|item| {
        item == target
            || item == "*"
            || sub
                .is_some_and(|sub| *item == format!("{resource}/*") || *item == format!("*/{sub}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn paths(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Vec<String> {
        escalation_paths(&strings(groups), &strings(resources), &strings(verbs))
    }

    #[test]
    fn each_escalation_path_of_the_good_practices_is_found() {
        let escalating = [
            (&[RBAC_GROUP][..], &["roles"][..], &["escalate"][..]),
            (&[RBAC_GROUP], &["clusterroles"], &["bind"]),
            (&[""], &["serviceaccounts"], &["impersonate"]),
            (&[""], &["users", "groups"], &["impersonate"]),
            (&[""], &["serviceaccounts/token"], &["create"]),
            (&[""], &["serviceaccounts/*"], &["create"]),
            (&[RBAC_GROUP], &["roles"], &["create"]),
            (&[RBAC_GROUP], &["rolebindings"], &["update"]),
            (&[RBAC_GROUP], &["rolebindings"], &["patch"]),
            (&[RBAC_GROUP], &["clusterrolebindings"], &["delete"]),
            (&[RBAC_GROUP], &["roles"], &["*"]),
            (&["*"], &["*"], &["create"]),
            (&[""], &["serviceaccounts"], &["*"]),
        ];
        for (groups, resources, verbs) in escalating {
            assert!(
                !paths(groups, resources, verbs).is_empty(),
                "{groups:?} {resources:?} {verbs:?}"
            );
        }
    }

    #[test]
    fn reading_rbac_objects_and_ordinary_runner_rules_are_no_escalation() {
        let harmless = [
            (
                &[RBAC_GROUP][..],
                &["roles", "rolebindings"][..],
                &["get", "list", "watch"][..],
            ),
            (&[""], &["serviceaccounts"], &["get"]),
            (&[""], &["secrets"], &["create", "delete", "get", "update"]),
            (
                &[""],
                &["pods", "pods/exec"],
                &["create", "delete", "get", "patch"],
            ),
            (&["apps"], &["roles"], &["create"]),
            (&[""], &["serviceaccounts/token"], &["get"]),
            (&[""], &["pods"], &["*"]),
        ];
        for (groups, resources, verbs) in harmless {
            assert_eq!(paths(groups, resources, verbs), Vec::<String>::new());
        }
    }
}
