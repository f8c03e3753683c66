//! Strategic merge patch (`application/strategic-merge-patch+json`) for the served kinds:
//! maps merge, lists with a merge key merge item by item, `listType=set` lists union,
//! other lists are replaced; `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/...` and
//! `$setElementOrder/...` directives are honoured.

use serde_json::{Map, Value};

use crate::schema::{ListType, Type};

/// Why a strategic merge patch is rejected.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct StrategicError(pub String);

const DELETE_FROM: &str = "$deleteFromPrimitiveList/";
const ORDER: &str = "$setElementOrder/";

/// Applies `patch` to `original` of type `ty`.
pub fn apply(ty: &Type, original: &Value, patch: &Value) -> Result<Value, StrategicError> {
    let (Value::Object(orig), Value::Object(p)) = (original, patch) else {
        return Err(StrategicError(
            "strategic merge patch must be a JSON object".into(),
        ));
    };
    Ok(merge_map(Some(ty), orig, p)?
        .map(Value::Object)
        .unwrap_or(Value::Object(Map::new())))
}

fn child_ty(ty: Option<&Type>, key: &str) -> Option<&'static Type> {
    ty.and_then(|t| t.child(key))
}

/// Merges a patch map into an original map; `None` means the map was deleted.
fn merge_map(
    ty: Option<&Type>,
    original: &Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, StrategicError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => return Ok(Some(strip_directives(patch))),
        Some("merge") | None => {}
        Some(other) => return Err(StrategicError(format!("Unknown patch type: {other}"))),
    }
    let mut out = original.clone();
    for (key, pv) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with(ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM) {
            let remove: Vec<&Value> = pv
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            if let Some(Value::Array(items)) = out.get_mut(field) {
                items.retain(|v| !remove.contains(&v));
            }
            continue;
        }
        let cty = child_ty(ty, key);
        if pv.is_null() {
            out.shift_remove(key);
            continue;
        }
        let merged = match (out.get(key), pv) {
            (Some(Value::Object(o)), Value::Object(pm)) if !is_atomic(cty) => {
                merge_map(cty, o, pm)?.map(Value::Object)
            }
            (Some(Value::Array(o)), Value::Array(pl)) => Some(merge_list(cty, o, pl)?),
            (_, Value::Object(pm)) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    None
                } else {
                    Some(Value::Object(strip_directives(pm)))
                }
            }
            (_, Value::Array(pl)) => Some(Value::Array(strip_list(pl))),
            (_, other) => Some(other.clone()),
        };
        match merged {
            Some(v) => {
                out.insert(key.clone(), v);
            }
            None => {
                out.shift_remove(key);
            }
        }
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, order) in patch
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(ORDER)?, v)))
    {
        if let (Some(Value::Array(items)), Value::Array(order)) = (out.get_mut(key), order) {
            reorder(items, order, merge_key(child_ty(ty, key)));
        }
    }
    Ok(Some(out))
}

fn is_atomic(ty: Option<&Type>) -> bool {
    matches!(ty, Some(Type::Struct(st)) if st.atomic) || matches!(ty, Some(Type::Raw))
}

fn merge_key(ty: Option<&Type>) -> Option<&'static str> {
    match ty {
        Some(Type::List(_, ListType::Map(keys))) => keys.first().copied(),
        _ => None,
    }
}

fn merge_list(
    ty: Option<&Type>,
    original: &[Value],
    patch: &[Value],
) -> Result<Value, StrategicError> {
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        let items: Vec<Value> = patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .cloned()
            .collect();
        return Ok(Value::Array(strip_list(&items)));
    }
    match ty {
        Some(Type::List(elem, ListType::Map(keys))) => {
            let key = keys[0];
            let mut out: Vec<Value> = original.to_vec();
            for p in patch {
                let Some(pm) = p.as_object() else {
                    return Err(StrategicError(
                        "list items with a merge key must be objects".into(),
                    ));
                };
                let Some(kv) = pm.get(key) else {
                    return Err(StrategicError(format!(
                        "map: {p} does not contain declared merge key: {key}"
                    )));
                };
                let pos = out.iter().position(|o| o.get(key) == Some(kv));
                let delete = pm.get("$patch").and_then(Value::as_str) == Some("delete");
                match (pos, delete) {
                    (Some(i), true) => {
                        out.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => {
                        let orig = out[i].as_object().cloned().unwrap_or_default();
                        match merge_map(Some(elem), &orig, pm)? {
                            Some(m) => out[i] = Value::Object(m),
                            None => {
                                out.remove(i);
                            }
                        }
                    }
                    (None, false) => out.push(Value::Object(strip_directives(pm))),
                }
            }
            Ok(Value::Array(out))
        }
        Some(Type::List(_, ListType::Set)) => {
            let mut out: Vec<Value> = original.to_vec();
            for p in patch {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            Ok(Value::Array(out))
        }
        _ => Ok(Value::Array(strip_list(patch))),
    }
}

fn reorder(items: &mut [Value], order: &[Value], key: Option<&str>) {
    let position = |v: &Value| {
        let id = match key {
            Some(k) => v.get(k),
            None => Some(v),
        };
        order
            .iter()
            .position(|o| match key {
                Some(k) => o.get(k) == id,
                None => Some(o) == id,
            })
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(|v| position(v));
}

fn strip_directives(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_list(items: &[Value]) -> Vec<Value> {
    items.iter().map(strip_value).collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip_directives(m)),
        Value::Array(a) => Value::Array(strip_list(a)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::definitions::SERVICE_ACCOUNT;
    use serde_json::json;

    #[test]
    fn merges_labels_and_replaces_image_pull_secrets() {
        let original =
            json!({"metadata": {"labels": {"a": "1"}}, "imagePullSecrets": [{"name": "x"}]});
        let patch = json!({"metadata": {"labels": {"team": "platform"}}, "imagePullSecrets": [{"name": "y"}]});
        let out = apply(&SERVICE_ACCOUNT, &original, &patch).expect("patch");
        assert_eq!(
            out["metadata"]["labels"],
            json!({"a": "1", "team": "platform"})
        );
        assert_eq!(out["imagePullSecrets"], json!([{"name": "y"}]));
    }

    #[test]
    fn merges_secrets_by_name_and_deletes_with_directive() {
        let original = json!({"secrets": [{"name": "a"}, {"name": "b"}]});
        let patch = json!({"secrets": [{"name": "c"}, {"name": "a", "$patch": "delete"}]});
        let out = apply(&SERVICE_ACCOUNT, &original, &patch).expect("patch");
        assert_eq!(out["secrets"], json!([{"name": "b"}, {"name": "c"}]));
    }

    #[test]
    fn unions_finalizers() {
        let original = json!({"metadata": {"finalizers": ["a/x"]}});
        let patch = json!({"metadata": {"finalizers": ["b/y", "a/x"]}});
        let out = apply(&SERVICE_ACCOUNT, &original, &patch).expect("patch");
        assert_eq!(out["metadata"]["finalizers"], json!(["a/x", "b/y"]));
    }
}
