//! JSON patch (RFC 6902, `application/json-patch+json`), with the error behaviour of
//! `evanphx/json-patch` that the API server uses.

use serde_json::Value;

/// Why a patch could not be decoded or applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JsonPatchError {
    /// The body is not a list of operations.
    #[error("{0}")]
    Malformed(String),
    /// An operation failed against the document.
    #[error("{0}")]
    Failed(String),
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<Vec<String>, JsonPatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(JsonPatchError::Failed(format!("invalid path: {path}")));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn fail(msg: impl Into<String>) -> JsonPatchError {
    JsonPatchError::Failed(msg.into())
}

fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, JsonPatchError> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| fail(format!("missing path element {t}")))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| fail(format!("invalid index {t}")))?;
                a.get_mut(i)
                    .ok_or_else(|| fail(format!("index out of range {i}")))?
            }
            _ => return Err(fail("cannot traverse a scalar")),
        };
    }
    Ok(cur)
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), JsonPatchError> {
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| fail(format!("invalid index {last}")))?
            };
            if i > a.len() {
                return Err(fail(format!("index out of range {i}")));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(fail("cannot add to a scalar")),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, JsonPatchError> {
    let Some((last, parents)) = tokens.split_last() else {
        return Err(fail("cannot remove the document root"));
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => m.shift_remove(last).ok_or_else(|| {
            fail(format!(
                "unable to remove nonexistent key: {last}: missing value"
            ))
        }),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| fail(format!("invalid index {last}")))?;
            if i >= a.len() {
                return Err(fail(format!("index out of range {i}")));
            }
            Ok(a.remove(i))
        }
        _ => Err(fail("cannot remove from a scalar")),
    }
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a Value, JsonPatchError> {
    op.get(name)
        .ok_or_else(|| fail(format!("missing '{name}' in operation")))
}

fn path_field(op: &Value, name: &str) -> Result<Vec<String>, JsonPatchError> {
    let p = field(op, name)?
        .as_str()
        .ok_or_else(|| fail(format!("'{name}' must be a string")))?;
    split_pointer(p)
}

/// Applies the JSON patch `patch` (already parsed) to `doc`.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, JsonPatchError> {
    let Value::Array(ops) = patch else {
        return Err(JsonPatchError::Malformed(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into(),
        ));
    };
    let mut doc = doc.clone();
    for op in ops {
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("missing 'op' in operation"))?;
        match name {
            "add" => add(
                &mut doc,
                &path_field(op, "path")?,
                field(op, "value")?.clone(),
            )?,
            "remove" => {
                remove(&mut doc, &path_field(op, "path")?)?;
            }
            "replace" => {
                let tokens = path_field(op, "path")?;
                if get(&doc, &tokens).is_none() {
                    return Err(fail("replace operation does not apply: doc is missing key"));
                }
                if !tokens.is_empty() {
                    remove(&mut doc, &tokens)?;
                }
                add(&mut doc, &tokens, field(op, "value")?.clone())?;
            }
            "move" => {
                let from = path_field(op, "from")?;
                let v = remove(&mut doc, &from)?;
                add(&mut doc, &path_field(op, "path")?, v)?;
            }
            "copy" => {
                let from = path_field(op, "from")?;
                let v = get(&doc, &from)
                    .cloned()
                    .ok_or_else(|| fail("copy from a missing path"))?;
                add(&mut doc, &path_field(op, "path")?, v)?;
            }
            "test" => {
                let tokens = path_field(op, "path")?;
                let expected = field(op, "value")?;
                if get(&doc, &tokens) != Some(expected) {
                    return Err(fail("testing value failed"));
                }
            }
            other => return Err(fail(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_replaces_and_tests() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "x": false});
        let out = apply(
            &doc,
            &json!([{"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
                    {"op": "replace", "path": "/x", "value": true},
                    {"op": "test", "path": "/metadata/labels/a", "value": "1"}]),
        )
        .expect("patch");
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"a": "1"}, "annotations": {"k": "v"}}, "x": true})
        );
    }

    #[test]
    fn failing_test_and_missing_remove_are_errors() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}});
        assert!(
            apply(
                &doc,
                &json!([{"op": "test", "path": "/metadata/labels/a", "value": "2"}])
            )
            .is_err()
        );
        assert!(
            apply(
                &doc,
                &json!([{"op": "remove", "path": "/metadata/labels/nope"}])
            )
            .is_err()
        );
        assert!(
            apply(
                &doc,
                &json!([{"op": "add", "path": "/missing/x", "value": 1}])
            )
            .is_err()
        );
    }
}
