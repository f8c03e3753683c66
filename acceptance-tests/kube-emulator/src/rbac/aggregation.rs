//! The clusterrole-aggregation controller: a ClusterRole with an `aggregationRule` holds the
//! rules of every ClusterRole its selectors match (in name order, without duplicates).

use std::collections::BTreeMap;

use serde_json::Value;

use super::rule::PolicyRule;
use crate::kinds::object;
use crate::selectors::labels::LabelSelector;
use crate::store::Store;

fn selector_from(v: &Value) -> Option<LabelSelector> {
    let match_labels: BTreeMap<String, String> = v
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut selector = LabelSelector::from_match_labels(&match_labels);
    for expr in v
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let values = object::strings_at(expr, "/values");
        if !selector.push_expression(
            object::str_at(expr, "/key"),
            object::str_at(expr, "/operator"),
            &values,
        ) {
            return None;
        }
    }
    Some(selector)
}

/// The aggregated rules every aggregating ClusterRole should hold now, for the roles whose
/// rules differ from what is stored: `(name, rules)`.
pub fn pending_updates(store: &Store) -> Vec<(String, Vec<PolicyRule>)> {
    let roles: Vec<(&String, &Value)> = store
        .list("clusterroles", None)
        .map(|(k, v)| (&k.name, v))
        .collect();
    let mut updates = Vec::new();
    for (name, role) in &roles {
        let Some(selectors) = role
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
        else {
            continue;
        };
        let mut rules: Vec<PolicyRule> = Vec::new();
        for sel in selectors {
            let Some(selector) = selector_from(sel) else {
                continue;
            };
            for (other_name, other) in &roles {
                if other_name == name || !selector.matches(&object::string_map(other, "labels")) {
                    continue;
                }
                for rule in PolicyRule::list_from(other) {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
            }
        }
        if rules != PolicyRule::list_from(role) {
            updates.push((name.to_string(), rules));
        }
    }
    updates
}
