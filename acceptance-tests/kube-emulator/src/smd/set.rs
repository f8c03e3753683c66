//! Field sets (`fieldpath.Set`): which fields a manager owns, and their `fieldsV1` form.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::PathElement;

/// A set of field paths, stored as a trie: `members` end here, `children` continue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    /// The empty set.
    pub fn new() -> Set {
        Set::default()
    }

    /// True when the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// Adds `path` (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// True when `path` itself is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The paths below `pe`, relative to it.
    pub fn with_prefix(&self, pe: &PathElement) -> Set {
        self.children.get(pe).cloned().unwrap_or_default()
    }

    /// Set union.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out.prune()
    }

    /// Set intersection.
    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, child)| {
                other
                    .children
                    .get(pe)
                    .map(|o| (pe.clone(), child.intersection(o)))
            })
            .collect();
        Set { members, children }.prune()
    }

    /// Paths of `self` that are not paths of `other` (exact paths, not prefixes).
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, child)| match other.children.get(pe) {
                Some(o) => (pe.clone(), child.difference(o)),
                None => (pe.clone(), child.clone()),
            })
            .collect();
        Set { members, children }.prune()
    }

    /// Removes every path equal to or below a member of `other`.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !other.members.contains(pe))
            .map(|(pe, child)| match other.children.get(pe) {
                Some(o) => (pe.clone(), child.recursive_difference(o)),
                None => (pe.clone(), child.clone()),
            })
            .collect();
        Set { members, children }.prune()
    }

    fn prune(mut self) -> Set {
        self.children.retain(|_, c| !c.is_empty());
        self
    }

    /// Every path, members before children, each level in order.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let mut keys: BTreeSet<&PathElement> = self.members.iter().collect();
        keys.extend(
            self.children
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .map(|(k, _)| k),
        );
        for pe in keys {
            let child = self.children.get(pe).filter(|c| !c.is_empty());
            let value = match child {
                Some(c) => c.emit(self.members.contains(pe)),
                None => Map::new(),
            };
            out.insert(pe.to_fields_v1_key(), Value::Object(value));
        }
        out
    }

    /// Parses `fieldsV1` JSON.
    pub fn from_fields_v1(value: &Value) -> Option<Set> {
        let map = value.as_object()?;
        let mut set = Set::new();
        for (key, child) in map {
            if key == "." {
                continue;
            }
            let pe = PathElement::from_fields_v1_key(key)?;
            let child_map = child.as_object()?;
            if child_map.is_empty() || child_map.contains_key(".") {
                set.members.insert(pe.clone());
            }
            if child_map.keys().any(|k| k != ".") {
                let sub = Set::from_fields_v1(child)?;
                set.children.insert(pe, sub);
            }
        }
        Some(set.prune())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    #[test]
    fn fields_v1_round_trips_with_dot_for_members_that_have_children() {
        let v = json!({"f:automountServiceAccountToken":{},"f:metadata":{"f:annotations":{".":{},"f:eks.amazonaws.com/role-arn":{}},"f:labels":{".":{},"f:a":{}}}});
        let set = Set::from_fields_v1(&v).expect("parse");
        assert!(set.has(&[f("metadata"), f("labels")]));
        assert!(!set.has(&[f("metadata")]));
        assert_eq!(set.to_fields_v1(), v);
        assert_eq!(
            serde_json::to_string(&set.to_fields_v1()).expect("json"),
            serde_json::to_string(&v).expect("json")
        );
    }

    #[test]
    fn difference_and_intersection_work_per_path() {
        let mut a = Set::new();
        a.insert(&[f("metadata"), f("labels"), f("x")]);
        a.insert(&[f("spec")]);
        let mut b = Set::new();
        b.insert(&[f("metadata"), f("labels"), f("x")]);
        assert_eq!(a.difference(&b).paths(), vec![vec![f("spec")]]);
        assert_eq!(a.intersection(&b), b);
        let mut status = Set::new();
        status.insert(&[f("metadata")]);
        assert_eq!(
            a.recursive_difference(&status).paths(),
            vec![vec![f("spec")]]
        );
    }
}
