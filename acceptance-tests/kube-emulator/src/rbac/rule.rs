//! Policy rules: matching requests (`RuleAllows`), coverage for escalation checks
//! (`Covers`, `BreakdownRule`, `CompactRules`) and the compact string of denial messages.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::authorizer::Attributes;
use crate::gostr;
use crate::kinds::object::strings_at;

/// `rbacv1.PolicyRule`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/exec`, `*`, `*/scale`).
    pub resources: Vec<String>,
    /// Resource names.
    pub resource_names: Vec<String>,
    /// Non-resource URLs.
    pub non_resource_urls: Vec<String>,
}

fn strs(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

impl PolicyRule {
    /// A resource rule, with sorted fields like `rbacv1helpers.NewRule(...).RuleOrDie()`.
    pub fn resource(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strs(verbs),
            api_groups: strs(groups),
            resources: strs(resources),
            ..PolicyRule::default()
        }
    }

    /// Adds sorted resource names.
    pub fn names(mut self, names: &[&str]) -> PolicyRule {
        self.resource_names = strs(names);
        self
    }

    /// A non-resource rule.
    pub fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: strs(verbs),
            non_resource_urls: strs(urls),
            ..PolicyRule::default()
        }
    }

    /// Parses a rule object.
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings_at(v, "/verbs"),
            api_groups: strings_at(v, "/apiGroups"),
            resources: strings_at(v, "/resources"),
            resource_names: strings_at(v, "/resourceNames"),
            non_resource_urls: strings_at(v, "/nonResourceURLs"),
        }
    }

    /// The rules of a Role/ClusterRole object.
    pub fn list_from(obj: &Value) -> Vec<PolicyRule> {
        obj.get("rules")
            .and_then(Value::as_array)
            .map(|rules| rules.iter().map(PolicyRule::from_json).collect())
            .unwrap_or_default()
    }

    /// The rule as a JSON object in Go field order.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("verbs".into(), serde_json::json!(self.verbs));
        for (k, v) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), serde_json::json!(v));
            }
        }
        Value::Object(m)
    }

    /// `RuleAllows`.
    pub fn allows(&self, a: &Attributes) -> bool {
        if a.resource_request {
            let combined = if a.subresource.is_empty() {
                a.resource.clone()
            } else {
                format!("{}/{}", a.resource, a.subresource)
            };
            self.verb_matches(&a.verb)
                && self
                    .api_groups
                    .iter()
                    .any(|g| g == "*" || *g == a.api_group)
                && self.resource_matches(&combined, &a.subresource)
                && (self.resource_names.is_empty() || self.resource_names.contains(&a.name))
        } else {
            self.verb_matches(&a.verb)
                && self
                    .non_resource_urls
                    .iter()
                    .any(|u| url_covers(u, &a.path))
        }
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn resource_matches(&self, combined: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            r == "*"
                || r == combined
                || (!subresource.is_empty()
                    && r.len() == subresource.len() + 2
                    && r.starts_with("*/")
                    && r.ends_with(subresource))
        })
    }
}

fn url_covers(owner: &str, requested: &str) -> bool {
    owner == "*"
        || owner == requested
        || (owner.ends_with('*') && requested.starts_with(owner.trim_end_matches('*')))
}

fn has(set: &[String], s: &str) -> bool {
    set.iter().any(|x| x == s)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|i| has(set, i))
}

fn resource_covers_all(owner: &[String], servant: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, servant) {
        return true;
    }
    servant.iter().all(|path| {
        if has(owner, path) {
            return true;
        }
        match path.split_once('/') {
            Some((_, sub)) => has(owner, &format!("*/{sub}")),
            None => false,
        }
    })
}

fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resource_covers_all(&owner.resources, &sub.resources);
    let urls = sub.non_resource_urls.iter().all(|u| {
        owner
            .non_resource_urls
            .iter()
            .any(|o| url_covers_owner(o, u))
    });
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && names && urls
}

fn url_covers_owner(owner: &str, sub: &str) -> bool {
    owner == sub || (owner.ends_with('*') && sub.starts_with(owner.trim_end_matches('*')))
}

/// `BreakdownRule`: one rule per group, resource, verb (and resource name).
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                let base = PolicyRule {
                    api_groups: vec![g.clone()],
                    resources: vec![r.clone()],
                    verbs: vec![v.clone()],
                    ..PolicyRule::default()
                };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    for n in &rule.resource_names {
                        out.push(PolicyRule {
                            resource_names: vec![n.clone()],
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: vec![u.clone()],
                verbs: vec![v.clone()],
                ..PolicyRule::default()
            });
        }
    }
    out
}

/// `Covers`: whether `owner` rules cover every servant rule, and the uncovered pieces.
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect()
}

/// `CompactRules`: merges single group/resource rules that differ only by verb.
pub fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut compacted = Vec::new();
    let mut simple: BTreeMap<(String, String, Option<String>), PolicyRule> = BTreeMap::new();
    for rule in rules {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            compacted.push(rule);
            continue;
        }
        let key = (
            rule.api_groups[0].clone(),
            rule.resources[0].clone(),
            rule.resource_names.first().cloned(),
        );
        match simple.get_mut(&key) {
            Some(existing) => existing.verbs.extend(rule.verbs),
            None => {
                simple.insert(key, rule);
            }
        }
    }
    compacted.extend(simple.into_values());
    compacted
}

/// `rbacv1helpers.CompactString`.
pub fn compact_string(r: &PolicyRule) -> String {
    let mut parts = Vec::new();
    if !r.api_groups.is_empty() {
        parts.push(format!("APIGroups:{}", gostr::quote_list(&r.api_groups)));
    }
    if !r.resources.is_empty() {
        parts.push(format!("Resources:{}", gostr::quote_list(&r.resources)));
    }
    if !r.non_resource_urls.is_empty() {
        parts.push(format!(
            "NonResourceURLs:{}",
            gostr::quote_list(&r.non_resource_urls)
        ));
    }
    if !r.resource_names.is_empty() {
        parts.push(format!(
            "ResourceNames:{}",
            gostr::quote_list(&r.resource_names)
        ));
    }
    if !r.verbs.is_empty() {
        parts.push(format!("Verbs:{}", gostr::quote_list(&r.verbs)));
    }
    format!("{{{}}}", parts.join(", "))
}

/// The sorted, deduplicated compact strings of the missing rules.
pub fn describe_missing(missing: Vec<PolicyRule>) -> Vec<String> {
    compact(missing)
        .iter()
        .map(compact_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rules_merge_verbs_per_resource() {
        let owner = vec![PolicyRule::resource(&["get"], &[""], &["secrets"])];
        let servant = vec![PolicyRule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec!["".into()],
            resources: vec!["secrets".into(), "pods".into()],
            ..PolicyRule::default()
        }];
        let missing = covers(&owner, &servant);
        assert_eq!(
            describe_missing(missing),
            vec![
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}"#.to_string(),
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["list"]}"#.to_string(),
            ]
        );
    }

    #[test]
    fn star_subresource_covers_subresources() {
        let owner = vec![PolicyRule::resource(&["get"], &["*"], &["*/scale"])];
        let servant = vec![PolicyRule::resource(
            &["get"],
            &["apps"],
            &["deployments/scale"],
        )];
        assert!(covers(&owner, &servant).is_empty());
    }
}
