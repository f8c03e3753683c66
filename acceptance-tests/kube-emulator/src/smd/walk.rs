//! Schema-aware walks over objects: field sets, comparison, apply merge and item removal,
//! following structured-merge-diff's `typed` package.

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value};

use super::path::{PathElement, Scalar};
use super::set::Set;
use crate::schema::definitions::RAW;
use crate::schema::{ListType, Type};

/// How a schema node behaves in merges.
enum Atom<'a> {
    Leaf,
    Fields(&'a Type),
    List(&'a Type, &'a [&'static str], bool),
}

fn atom(ty: &Type) -> Atom<'_> {
    match ty {
        Type::Struct(st) if !st.atomic => Atom::Fields(ty),
        Type::Map(_) => Atom::Fields(ty),
        Type::List(elem, ListType::Map(keys)) => Atom::List(elem, keys, false),
        Type::List(elem, ListType::Set) => Atom::List(elem, &[], true),
        _ => Atom::Leaf,
    }
}

fn child_type<'a>(ty: &'a Type, key: &str) -> &'a Type {
    ty.child(key).unwrap_or(&RAW)
}

/// The path element of list item `index`.
fn item_element(keys: &[&str], set: bool, index: usize, item: &Value) -> PathElement {
    if set {
        return PathElement::Value(Scalar(item.clone()));
    }
    match item.as_object() {
        Some(map) if !keys.is_empty() => {
            let mut fields: Vec<(String, Scalar)> = keys
                .iter()
                .filter_map(|k| map.get(*k).map(|v| (k.to_string(), Scalar(v.clone()))))
                .collect();
            if fields.is_empty() {
                return PathElement::Index(index);
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            PathElement::Key(fields)
        }
        _ => PathElement::Index(index),
    }
}

/// Every leaf field and item `value` mentions (`TypedValue.ToFieldSet`).
pub fn to_field_set(ty: &Type, value: &Value) -> Set {
    let mut set = Set::new();
    field_set_walk(ty, value, &mut Vec::new(), &mut set);
    set
}

fn field_set_walk(ty: &Type, value: &Value, path: &mut Vec<PathElement>, set: &mut Set) {
    match atom(ty) {
        Atom::Leaf => set.insert(path),
        Atom::Fields(ty) => {
            let Some(map) = value.as_object() else { return };
            let declared = |k: &str| matches!(ty, Type::Struct(st) if st.field(k).is_some());
            for (key, child) in map {
                path.push(PathElement::Field(key.clone()));
                field_set_walk(child_type(ty, key), child, path, set);
                let empty_map = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_map || !declared(key) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Atom::List(elem, keys, is_set) => {
            let Some(items) = value.as_array() else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                path.push(item_element(keys, is_set, i, item));
                field_set_walk(elem, item, path, set);
                set.insert(path);
                path.pop();
            }
        }
    }
}

/// Fields that differ between two objects (`TypedValue.Compare`).
#[derive(Debug, Default)]
pub struct Comparison {
    /// Present in both with different values.
    pub modified: Set,
    /// Only in the new object.
    pub added: Set,
    /// Only in the old object.
    pub removed: Set,
}

enum Rule<'a> {
    Compare(&'a mut Comparison),
    KeepRhs,
}

/// Compares `lhs` (old) and `rhs` (new).
pub fn compare(ty: &Type, lhs: &Value, rhs: &Value) -> Comparison {
    let mut c = Comparison::default();
    walk(
        ty,
        Some(lhs),
        Some(rhs),
        &mut Vec::new(),
        &mut Rule::Compare(&mut c),
    );
    c
}

/// Merges an apply configuration into the live object (`TypedValue.Merge`): values of
/// `rhs` win, maps and keyed lists merge item by item, atomic values are replaced.
pub fn merge(ty: &Type, lhs: &Value, rhs: &Value) -> Value {
    walk(
        ty,
        Some(lhs),
        Some(rhs),
        &mut Vec::new(),
        &mut Rule::KeepRhs,
    )
    .unwrap_or(Value::Object(Map::new()))
}

fn leaf(
    rule: &mut Rule,
    path: &[PathElement],
    lhs: Option<&Value>,
    rhs: Option<&Value>,
) -> Option<Value> {
    if let Rule::Compare(c) = rule {
        match (lhs, rhs) {
            (None, _) => c.added.insert(path),
            (_, None) => c.removed.insert(path),
            (Some(l), Some(r)) if l != r => c.modified.insert(path),
            _ => {}
        }
    }
    rhs.or(lhs).cloned()
}

fn post(rule: &mut Rule, path: &[PathElement], lhs: Option<&Value>, rhs: Option<&Value>) {
    if let Rule::Compare(c) = rule {
        if lhs.is_none() {
            c.added.insert(path);
        } else if rhs.is_none() {
            c.removed.insert(path);
        }
    }
}

fn walk(
    ty: &Type,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Vec<PathElement>,
    rule: &mut Rule,
) -> Option<Value> {
    match atom(ty) {
        Atom::Leaf => leaf(rule, path, lhs, rhs),
        Atom::Fields(ty) => {
            let lmap = lhs.and_then(Value::as_object);
            let rmap = rhs.and_then(Value::as_object);
            let empty = |m: Option<&Map<String, Value>>| m.is_none_or(Map::is_empty);
            if empty(lmap) && empty(rmap) {
                return leaf(rule, path, lhs, rhs);
            }
            let mut keys: Vec<&String> = lmap.map(|m| m.keys().collect()).unwrap_or_default();
            if let Some(r) = rmap {
                keys.extend(
                    r.keys()
                        .filter(|k| lmap.is_none_or(|l| !l.contains_key(*k))),
                );
            }
            let mut out = Map::new();
            for key in keys {
                path.push(PathElement::Field(key.clone()));
                let l = lmap.and_then(|m| m.get(key));
                let r = rmap.and_then(|m| m.get(key));
                if let Some(v) = walk(child_type(ty, key), l, r, path, rule) {
                    out.insert(key.clone(), v);
                }
                path.pop();
            }
            post(rule, path, lhs, rhs);
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Atom::List(elem, keys, is_set) => {
            let llist = lhs.and_then(Value::as_array);
            let rlist = rhs.and_then(Value::as_array);
            let empty = |l: Option<&Vec<Value>>| l.is_none_or(Vec::is_empty);
            if empty(llist) && empty(rlist) {
                return leaf(rule, path, lhs, rhs);
            }
            let out = walk_list_items(elem, keys, is_set, llist, rlist, path, rule);
            post(rule, path, lhs, rhs);
            (!out.is_empty()).then_some(Value::Array(out))
        }
    }
}

type Indexed<'a> = (Vec<PathElement>, HashMap<PathElement, &'a Value>);

fn index_items<'a>(keys: &[&str], is_set: bool, list: Option<&'a Vec<Value>>) -> Indexed<'a> {
    let mut order = Vec::new();
    let mut seen = HashMap::new();
    for (i, item) in list.into_iter().flatten().enumerate() {
        let pe = item_element(keys, is_set, i, item);
        if seen.contains_key(&pe) {
            continue;
        }
        seen.insert(pe.clone(), item);
        order.push(pe);
    }
    (order, seen)
}

fn walk_list_items(
    elem: &Type,
    keys: &[&str],
    is_set: bool,
    lhs: Option<&Vec<Value>>,
    rhs: Option<&Vec<Value>>,
    path: &mut Vec<PathElement>,
    rule: &mut Rule,
) -> Vec<Value> {
    let (rorder, robserved) = index_items(keys, is_set, rhs);
    let (lorder, lobserved) = index_items(keys, is_set, lhs);
    let mut shared: VecDeque<&PathElement> = rorder
        .iter()
        .filter(|pe| lobserved.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut out = Vec::new();
    let item = |pe: &PathElement, path: &mut Vec<PathElement>, rule: &mut Rule| {
        path.push(pe.clone());
        let v = walk(
            elem,
            lobserved.get(pe).copied(),
            robserved.get(pe).copied(),
            path,
            rule,
        );
        path.pop();
        v
    };
    let (llen, rlen) = (lorder.len(), rorder.len());
    let (mut li, mut ri) = (0, 0);
    while li < llen || ri < rlen {
        if li < llen && ri < rlen {
            let pe = &lorder[li];
            if *pe == rorder[ri] {
                out.extend(item(pe, path, rule));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if robserved.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < llen {
            let pe = &lorder[li];
            if !robserved.contains_key(pe) {
                out.extend(item(pe, path, rule));
                li += 1;
                continue;
            }
            if ri >= rlen {
                li += 1;
                continue;
            }
        }
        if ri < rlen {
            let pe = &rorder[ri];
            out.extend(item(pe, path, rule));
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

/// Removes every field and item in `to_remove` from `value` (`TypedValue.RemoveItems`).
pub fn remove_items(ty: &Type, value: &Value, to_remove: &Set) -> Value {
    match atom(ty) {
        Atom::Leaf => value.clone(),
        Atom::Fields(ty) => {
            let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
                return Value::Null;
            };
            let mut out = Map::new();
            for (key, child) in map {
                let pe = PathElement::Field(key.clone());
                if to_remove.has(std::slice::from_ref(&pe)) {
                    continue;
                }
                let subset = to_remove.with_prefix(&pe);
                let kept = if subset.is_empty() {
                    child.clone()
                } else {
                    remove_items(child_type(ty, key), child, &subset)
                };
                out.insert(key.clone(), kept);
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Object(out)
            }
        }
        Atom::List(elem, keys, is_set) => {
            let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
                return Value::Null;
            };
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let pe = item_element(keys, is_set, i, item);
                if to_remove.has(std::slice::from_ref(&pe)) {
                    continue;
                }
                let subset = to_remove.with_prefix(&pe);
                out.push(if subset.is_empty() {
                    item.clone()
                } else {
                    remove_items(elem, item, &subset)
                });
            }
            if out.is_empty() {
                Value::Null
            } else {
                Value::Array(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::decode::zero;
    use crate::schema::definitions::{NAMESPACE, SERVICE_ACCOUNT, SUBJECT_ACCESS_REVIEW};
    use serde_json::json;

    fn update_set(ty: &Type, old: &Value, new: &Value) -> Value {
        let c = compare(ty, old, new);
        c.modified.union(&c.added).to_fields_v1()
    }

    #[test]
    fn create_of_a_service_account_owns_labels_with_dot() {
        let new = json!({"metadata":{"name":"x","creationTimestamp":null,
            "labels":{"a":"1"}},"automountServiceAccountToken":false});
        let set = update_set(&SERVICE_ACCOUNT, &zero(&SERVICE_ACCOUNT), &new);
        assert_eq!(
            set,
            json!({"f:automountServiceAccountToken":{},"f:metadata":{"f:labels":{".":{},"f:a":{}},"f:name":{}}})
        );
    }

    #[test]
    fn namespace_spec_and_status_are_not_owned_when_empty() {
        let mut unknown = Vec::new();
        let new = crate::schema::decode::decode(
            &NAMESPACE,
            &json!({"metadata":{"name":"x","labels":{"a":"b"}}}),
            &mut unknown,
        )
        .expect("decode");
        let set = update_set(&NAMESPACE, &zero(&NAMESPACE), &new);
        assert_eq!(
            set,
            json!({"f:metadata":{"f:labels":{".":{},"f:a":{}},"f:name":{}}})
        );
    }

    #[test]
    fn access_review_attributes_are_added_as_a_map() {
        let mut unknown = Vec::new();
        let new = crate::schema::decode::decode(
            &SUBJECT_ACCESS_REVIEW,
            &json!({"spec":{"user":"u","groups":["g"],"resourceAttributes":{"verb":"get"}}}),
            &mut unknown,
        )
        .expect("decode");
        let set = update_set(&SUBJECT_ACCESS_REVIEW, &zero(&SUBJECT_ACCESS_REVIEW), &new);
        assert_eq!(
            set,
            json!({"f:spec":{"f:groups":{},"f:resourceAttributes":{".":{},"f:verb":{}},"f:user":{}}})
        );
    }

    #[test]
    fn apply_config_field_set_has_no_dot_for_maps() {
        let config =
            json!({"metadata":{"annotations":{"a":"1"}},"automountServiceAccountToken":false});
        assert_eq!(
            to_field_set(&SERVICE_ACCOUNT, &config).to_fields_v1(),
            json!({"f:automountServiceAccountToken":{},"f:metadata":{"f:annotations":{"f:a":{}}}})
        );
    }

    #[test]
    fn merge_keeps_live_fields_and_takes_config_values() {
        let live = json!({"metadata":{"annotations":{"a":"1","b":"2"}},"automountServiceAccountToken":true});
        let config = json!({"metadata":{"annotations":{"a":"9"}}});
        let merged = merge(&SERVICE_ACCOUNT, &live, &config);
        assert_eq!(merged["metadata"]["annotations"], json!({"a":"9","b":"2"}));
        assert_eq!(merged["automountServiceAccountToken"], json!(true));
    }

    #[test]
    fn keyed_list_items_get_key_paths() {
        let v = json!({"secrets":[{"name":"s1"}]});
        assert_eq!(
            to_field_set(&SERVICE_ACCOUNT, &v).to_fields_v1(),
            json!({"f:secrets":{"k:{\"name\":\"s1\"}":{}}})
        );
    }

    #[test]
    fn remove_items_drops_map_entries() {
        let v = json!({"metadata":{"annotations":{"a":"1","b":"2"}}});
        let mut set = Set::new();
        set.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field("annotations".into()),
            PathElement::Field("a".into()),
        ]);
        let out = remove_items(&SERVICE_ACCOUNT, &v, &set);
        assert_eq!(out, json!({"metadata":{"annotations":{"b":"2"}}}));
    }
}
