//! The API server's field manager: `metadata.managedFields` for updates and server-side
//! apply (manager identifiers, stripped meta fields, timestamps, entry order, conflicts).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::status::{Cause, StatusError};
use crate::clock;
use crate::gostr;
use crate::kinds::object;
use crate::schema::Type;
use crate::schema::decode;
use crate::smd::Set;
use crate::smd::path::{PathElement, path_string};
use crate::smd::updater::{self, Conflict, Managers, VersionedSet};

const CURRENT_OPERATION: &str = "current-operation";

/// Field manager of one resource (or subresource) endpoint.
pub struct FieldManager<'a> {
    /// Schema of the object.
    pub schema: &'a Type,
    /// `group/version` the entries are recorded in.
    pub api_version: String,
    /// Top-level fields not tracked for this endpoint (`status` of namespaces).
    pub reset_fields: &'a [&'a str],
    /// Subresource name (`token`), empty for the main resource.
    pub subresource: &'a str,
}

type Times = BTreeMap<String, Option<String>>;

fn identifier(manager: &str, operation: &str, api_version: &str, subresource: &str) -> String {
    let mut m = Map::new();
    m.insert("manager".into(), json!(manager));
    m.insert("operation".into(), json!(operation));
    if operation != "Apply" && !api_version.is_empty() {
        m.insert("apiVersion".into(), json!(api_version));
    }
    if !subresource.is_empty() {
        m.insert("subresource".into(), json!(subresource));
    }
    Value::Object(m).to_string()
}

fn id_field(id: &str, key: &str) -> String {
    serde_json::from_str::<Value>(id)
        .ok()
        .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// `printManager` of the API server's conflict messages.
fn print_manager(id: &str) -> String {
    let mut s = gostr::quote(&id_field(id, "manager"));
    let sub = id_field(id, "subresource");
    if !sub.is_empty() {
        s = format!("{s} with subresource {}", gostr::quote(&sub));
    }
    if id_field(id, "operation") == "Update" {
        s = format!("{s} using {}", id_field(id, "apiVersion"));
    }
    s
}

/// The paths the API server never attributes to a manager.
fn stripped_paths() -> Set {
    let mut s = Set::new();
    let f = |n: &str| PathElement::Field(n.to_string());
    s.insert(&[f("apiVersion")]);
    s.insert(&[f("kind")]);
    s.insert(&[f("metadata")]);
    for field in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[f("metadata"), f(field)]);
    }
    s
}

fn decode_managed(obj: &Value) -> Option<(Managers, Times)> {
    let entries = object::meta(obj)?.get("managedFields")?.as_array()?;
    let mut managers = Managers::new();
    let mut times = Times::new();
    for e in entries {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = s("operation");
        if operation != "Apply" && operation != "Update" {
            return None;
        }
        let set = Set::from_fields_v1(e.get("fieldsV1").unwrap_or(&json!({})))?;
        let id = identifier(
            &s("manager"),
            &operation,
            &s("apiVersion"),
            &s("subresource"),
        );
        times.insert(
            id.clone(),
            e.get("time").and_then(Value::as_str).map(str::to_string),
        );
        managers.insert(
            id,
            VersionedSet {
                set,
                api_version: s("apiVersion"),
                applied: operation == "Apply",
            },
        );
    }
    Some((managers, times))
}

fn is_reset(obj: &Value) -> bool {
    match object::meta(obj).and_then(|m| m.get("managedFields")) {
        Some(Value::Array(a)) => a.is_empty() || (a.len() == 1 && a[0] == json!({})),
        _ => false,
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("managedFields");
    }
    out
}

fn encode(obj: &mut Value, managers: &Managers, times: &Times) {
    let mut entries: Vec<(String, i64, Value)> = managers
        .iter()
        .map(|(id, vs)| {
            let time = times.get(id).cloned().flatten();
            let seconds = time
                .as_deref()
                .and_then(clock::parse_timestamp)
                .map_or(0, |t| t.unix_timestamp());
            let mut e = Map::new();
            e.insert("manager".into(), json!(id_field(id, "manager")));
            e.insert("operation".into(), json!(id_field(id, "operation")));
            e.insert("apiVersion".into(), json!(vs.api_version));
            if let Some(t) = time {
                e.insert("time".into(), json!(t));
            }
            e.insert("fieldsType".into(), json!("FieldsV1"));
            e.insert("fieldsV1".into(), vs.set.to_fields_v1());
            let sub = id_field(id, "subresource");
            if !sub.is_empty() {
                e.insert("subresource".into(), json!(sub));
            }
            (id.clone(), seconds, Value::Object(e))
        })
        .collect();
    entries.sort_by(|(_, ta, a), (_, tb, b)| {
        let key = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        (
            key(a, "operation"),
            *ta,
            key(a, "manager"),
            key(a, "apiVersion"),
            key(a, "subresource"),
        )
            .cmp(&(
                key(b, "operation"),
                *tb,
                key(b, "manager"),
                key(b, "apiVersion"),
                key(b, "subresource"),
            ))
    });
    let list: Vec<Value> = entries.into_iter().map(|(_, _, e)| e).collect();
    if list.is_empty() {
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.shift_remove("managedFields");
        }
    } else {
        object::set_meta(obj, "managedFields", Value::Array(list));
    }
}

impl FieldManager<'_> {
    fn ignored(&self) -> Set {
        let mut s = Set::new();
        for f in self.reset_fields {
            s.insert(&[PathElement::Field(f.to_string())]);
        }
        s
    }

    fn strip(&self, managers: &mut Managers, id: &str) {
        if let Some(vs) = managers.get_mut(id) {
            vs.set = vs
                .set
                .difference(&stripped_paths())
                .recursive_difference(&self.ignored());
            if vs.set.is_empty() {
                managers.remove(id);
            }
        }
    }

    /// Records a create/update/patch of `live` into `new` by `manager` and writes the result
    /// into `new.metadata.managedFields`. `live` is the zero object on create.
    pub fn update(&self, live: &Value, new: &mut Value, manager: &str, now: &str) {
        let decoded = if is_reset(new) {
            Some((Managers::new(), Times::new()))
        } else {
            decode_managed(new)
                .filter(|(m, _)| !m.is_empty())
                .or_else(|| decode_managed(live))
        };
        let (mut managers, mut times) = decoded.unwrap_or_default();
        let live_v = without_managed_fields(live);
        let new_v = without_managed_fields(new);
        updater::record_update(
            self.schema,
            &live_v,
            &new_v,
            &self.api_version,
            &mut managers,
            CURRENT_OPERATION,
        );
        self.strip(&mut managers, CURRENT_OPERATION);
        if let Some(current) = managers.remove(CURRENT_OPERATION) {
            let id = identifier(manager, "Update", &self.api_version, self.subresource);
            let set = match managers.get(&id) {
                Some(previous) => current.set.union(&previous.set),
                None => current.set,
            };
            managers.insert(
                id.clone(),
                VersionedSet {
                    set,
                    api_version: self.api_version.clone(),
                    applied: false,
                },
            );
            times.insert(id, Some(now.to_string()));
        }
        times.retain(|id, _| managers.contains_key(id));
        *new = new_v;
        encode(new, &managers, &times);
    }

    /// Server-side apply of `config` onto `live` (the zero object when creating). Returns the
    /// object to store, with its managedFields.
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        manager: &str,
        force: bool,
        now: &str,
        gvk: &str,
    ) -> Result<Value, StatusError> {
        let patch_version = object::str_at(config, "/apiVersion");
        if patch_version != self.api_version {
            return Err(StatusError::bad_request(format!(
                "Incorrect version specified in apply patch. Specified patch version: {patch_version}, expected: {}",
                self.api_version
            )));
        }
        if object::meta(config)
            .and_then(|m| m.get("managedFields"))
            .is_some_and(|v| !v.is_null())
        {
            return Err(StatusError::bad_request(
                "metadata.managedFields must be nil",
            ));
        }
        decode::check_unstructured(self.schema, config, "").map_err(|e| {
            StatusError::bad_request(format!("failed to create typed patch object ({gvk}): {e}"))
        })?;
        let (mut managers, mut times) = decode_managed(live).unwrap_or_default();
        let live_v = without_managed_fields(live);
        let id = identifier(manager, "Apply", &self.api_version, self.subresource);
        let result = updater::apply(
            self.schema,
            &live_v,
            config,
            &self.api_version,
            &mut managers,
            &id,
            force,
        )
        .map_err(conflict_error)?;
        self.strip(&mut managers, &id);
        let mut obj = match result {
            Some(new) => {
                times.insert(id, Some(now.to_string()));
                new
            }
            None => live_v,
        };
        times.retain(|id, _| managers.contains_key(id));
        encode(&mut obj, &managers, &times);
        Ok(obj)
    }
}

fn conflict_error(conflicts: Vec<Conflict>) -> StatusError {
    let causes: Vec<Cause> = conflicts
        .iter()
        .map(|c| Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {}", print_manager(&c.manager)),
            field: path_string(&c.path),
        })
        .collect();
    let message = if conflicts.len() == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            print_manager(&conflicts[0].manager),
            path_string(&conflicts[0].path)
        )
    } else {
        let mut by_manager: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in &conflicts {
            by_manager
                .entry(&c.manager)
                .or_default()
                .push(path_string(&c.path));
        }
        let mut lines = Vec::new();
        for (manager, paths) in by_manager {
            lines.push(format!("conflict with {}:", print_manager(manager)));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    StatusError::apply_conflict(message, causes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::definitions::SERVICE_ACCOUNT;

    fn manager() -> FieldManager<'static> {
        FieldManager {
            schema: &SERVICE_ACCOUNT,
            api_version: "v1".into(),
            reset_fields: &[],
            subresource: "",
        }
    }

    #[test]
    fn create_records_one_update_entry_without_meta_fields() {
        let live = decode::zero(&SERVICE_ACCOUNT);
        let mut new = json!({"metadata":{"name":"sa","namespace":"ci","creationTimestamp":null,
            "labels":{"a":"1"}},"automountServiceAccountToken":false});
        manager().update(
            &live,
            &mut new,
            "kube-conformance-capture",
            "2024-01-01T00:00:00Z",
        );
        assert_eq!(
            new["metadata"]["managedFields"],
            json!([{"manager":"kube-conformance-capture","operation":"Update","apiVersion":"v1",
                    "time":"2024-01-01T00:00:00Z","fieldsType":"FieldsV1",
                    "fieldsV1":{"f:automountServiceAccountToken":{},"f:metadata":{"f:labels":{".":{},"f:a":{}}}}}])
        );
    }

    #[test]
    fn conflicting_apply_names_the_update_manager_and_version() {
        let live = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa","annotations":{"a":"x"},
            "managedFields":[{"manager":"kubectl-edit","operation":"Update","apiVersion":"v1","time":"2024-01-01T00:00:00Z",
            "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{"f:a":{}}}}}]}});
        let config = json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa","annotations":{"a":"y"}}});
        let err = manager()
            .apply(
                &live,
                &config,
                "tf",
                false,
                "2024-01-01T00:00:00Z",
                "/v1, Kind=ServiceAccount",
            )
            .expect_err("conflict");
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .metadata.annotations.a"
        );
    }
}
