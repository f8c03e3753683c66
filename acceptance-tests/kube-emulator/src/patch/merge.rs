//! JSON merge patch (RFC 7386, `application/merge-patch+json`).

use serde_json::Value;

/// Applies `patch` to `target`.
pub fn apply(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch_map) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    for (key, pv) in patch_map {
        if pv.is_null() {
            out.remove(key);
        } else {
            let current = out.get(key).cloned().unwrap_or(Value::Null);
            out.insert(key.clone(), apply(&current, pv));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_removes_and_objects_merge() {
        let target = json!({"metadata": {"annotations": {"a": "1", "b": "2"}}, "x": [1]});
        let patch = json!({"metadata": {"annotations": {"a": null, "c": "3"}}, "x": [2]});
        assert_eq!(
            apply(&target, &patch),
            json!({"metadata": {"annotations": {"b": "2", "c": "3"}}, "x": [2]})
        );
    }
}
