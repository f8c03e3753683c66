//! Namespaces: the automatic `kubernetes.io/metadata.name` label, the `kubernetes`
//! finalizer and the Active phase.

use serde_json::{Value, json};

use super::{Kind, KindInfo, object};
use crate::schema::definitions::NAMESPACE;
use crate::validation::meta::NameRule;
use crate::validation::{BadValue, FieldError, names};

/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

static INFO: KindInfo = KindInfo {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    namespaced: false,
    short_names: &["ns"],
    verbs: &[
        "create", "delete", "get", "list", "patch", "update", "watch",
    ],
    storage_version_hash: "Q3oi5N2YM8M=",
    schema: &NAMESPACE,
    name_rule: NameRule::Dns1123Label,
    create_on_update: false,
    return_deleted_object: true,
};

/// `v1.Namespace`.
pub struct Namespace;

impl Kind for Namespace {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn default(&self, obj: &mut Value) {
        let name = object::name(obj).to_string();
        if name.is_empty() {
            return;
        }
        let meta = object::meta_mut(obj);
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if !labels.is_object() {
            *labels = json!({});
        }
        labels[NAME_LABEL] = Value::String(name);
        let mut sorted: Vec<(String, Value)> = labels
            .as_object()
            .expect("labels")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        *labels = Value::Object(sorted.into_iter().collect());
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let mut finalizers = object::strings_at(obj, "/spec/finalizers");
        if !finalizers.iter().any(|f| f == "kubernetes") {
            finalizers.push("kubernetes".into());
        }
        obj["spec"] = json!({"finalizers": finalizers});
        obj["status"] = json!({"phase": "Active"});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        new["spec"]["finalizers"] = old
            .pointer("/spec/finalizers")
            .cloned()
            .unwrap_or(Value::Null);
        if new["spec"]["finalizers"].is_null()
            && let Some(spec) = new["spec"].as_object_mut()
        {
            spec.shift_remove("finalizers");
        }
        new["status"] = old.get("status").cloned().unwrap_or(json!({}));
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = crate::validation::meta::validate(
            object::meta(obj).unwrap_or(&Default::default()),
            false,
            NameRule::Dns1123Label,
        );
        for (i, f) in object::strings_at(obj, "/spec/finalizers")
            .iter()
            .enumerate()
        {
            let path = format!("spec.finalizers[{i}]");
            for msg in names::qualified_name(f) {
                errs.push(FieldError::invalid(
                    path.clone(),
                    BadValue::Str(f.clone()),
                    msg,
                ));
            }
        }
        errs
    }

    fn check_field_label(&self, label: &str) -> Result<(), String> {
        match label {
            "metadata.name" | "status.phase" => Ok(()),
            _ => Err(format!("field label not supported: {label}")),
        }
    }

    fn field_value(&self, obj: &Value, label: &str) -> Option<String> {
        match label {
            "metadata.name" => Some(object::name(obj).to_string()),
            "status.phase" => Some(object::str_at(obj, "/status/phase").to_string()),
            _ => None,
        }
    }

    fn reset_fields(&self) -> &'static [&'static str] {
        &["status"]
    }
}
