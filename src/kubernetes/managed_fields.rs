//! Which fields of an object one field manager owns, as the API server records it in
//! `metadata.managedFields` (server-side apply and every write with a `fieldManager`).

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// The label keys, annotation keys and top-level fields one field manager owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedFields {
    /// Label keys.
    pub labels: BTreeSet<String>,
    /// Annotation keys.
    pub annotations: BTreeSet<String>,
    /// Top-level fields besides `metadata` (e.g. `automountServiceAccountToken`).
    pub fields: BTreeSet<String>,
}

impl ManagedFields {
    /// What `manager` owns of the object `meta` belongs to, over all its entries (Apply and
    /// Update); `None` when the server sent no `managedFields` at all.
    pub fn of(meta: &ObjectMeta, manager: &str) -> Option<ManagedFields> {
        let entries = meta.managed_fields.as_ref()?;
        let mut owned = ManagedFields::default();
        let entries = entries
            .iter()
            .filter(|e| e.manager.as_deref() == Some(manager) && e.subresource.is_none());
        for entry in entries {
            let Some(fields) = entry.fields_v1.as_ref().map(|f| &f.0) else {
                continue;
            };
            owned
                .labels
                .extend(keys(fields.pointer("/f:metadata/f:labels")));
            owned
                .annotations
                .extend(keys(fields.pointer("/f:metadata/f:annotations")));
            owned.fields.extend(
                keys(Some(fields))
                    .into_iter()
                    .filter(|field| field != "metadata"),
            );
        }
        Some(owned)
    }
}

/// The field names of a `FieldsV1` set (`{"f:name": {...}}`).
fn keys(set: Option<&Value>) -> Vec<String> {
    set.and_then(Value::as_object)
        .map(|set| {
            set.keys()
                .filter_map(|key| key.strip_prefix("f:"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    use serde_json::json;

    fn entry(manager: &str, operation: &str, fields: Value) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(fields)),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn a_managers_labels_annotations_and_fields_are_collected_over_its_entries() {
        let meta = ObjectMeta {
            managed_fields: Some(vec![
                entry(
                    "helm",
                    "Update",
                    json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}),
                ),
                entry(
                    "provider",
                    "Apply",
                    json!({"f:metadata": {
                        "f:labels": {"f:team": {}},
                        "f:annotations": {"f:eks.amazonaws.com/role-arn": {}},
                    }}),
                ),
                entry(
                    "provider",
                    "Update",
                    json!({"f:automountServiceAccountToken": {}}),
                ),
            ]),
            ..ObjectMeta::default()
        };
        let owned = ManagedFields::of(&meta, "provider").unwrap();
        assert_eq!(owned.labels, BTreeSet::from(["team".to_string()]));
        assert_eq!(
            owned.annotations,
            BTreeSet::from(["eks.amazonaws.com/role-arn".to_string()])
        );
        assert_eq!(
            owned.fields,
            BTreeSet::from(["automountServiceAccountToken".to_string()])
        );
        let helm = ManagedFields::of(&meta, "helm").unwrap();
        assert_eq!(helm.labels, BTreeSet::from(["app".to_string()]));
        assert_eq!(ManagedFields::of(&ObjectMeta::default(), "provider"), None);
    }
}
