//! Query options shared by the write verbs (`dryRun`, `fieldManager`) and the object
//! identity checks of PUT and PATCH (`checkName`).

use serde_json::Value;

use super::request::ApiRequest;
use super::status::StatusError;
use crate::kinds::{KindInfo, object};

/// `dryRun` (only `All` is valid).
pub fn dry_run(req: &ApiRequest) -> Result<bool, StatusError> {
    let values = req.params("dryRun");
    for v in &values {
        if *v != "All" {
            return Err(StatusError::bad_request(format!(
                "Invalid dryRun value: {v}; supported values: [All]"
            )));
        }
    }
    Ok(!values.is_empty())
}

/// The field manager of a non-apply write: `fieldManager` or the User-Agent prefix.
pub fn manager(req: &ApiRequest) -> Result<String, StatusError> {
    match req.param("fieldManager") {
        Some(m) if !m.is_empty() => {
            if m.len() > 128 {
                return Err(StatusError::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    &[crate::validation::FieldError::too_long("fieldManager", 128)],
                ));
            }
            Ok(m.to_string())
        }
        _ => Ok(req.default_manager()),
    }
}

/// `checkName`: the object must carry the URL's name (and namespace, when it has one).
pub fn check_name(
    obj: &Value,
    name: &str,
    namespace: &str,
    info: &KindInfo,
) -> Result<(), StatusError> {
    let obj_name = object::name(obj);
    if obj_name.is_empty() {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({name} based on URL) was undeterminable: name must be provided"
        )));
    }
    if obj_name != name {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({obj_name}) does not match the name on the URL ({name})"
        )));
    }
    let obj_ns = object::namespace(obj);
    if info.namespaced && !namespace.is_empty() && !obj_ns.is_empty() && obj_ns != namespace {
        return Err(StatusError::bad_request(format!(
            "the namespace of the object ({obj_ns}) does not match the namespace on the URL ({namespace})"
        )));
    }
    Ok(())
}

/// `EnsureObjectNamespaceMatchesRequestNamespace` for POST bodies.
pub fn ensure_namespace(
    obj: &mut Value,
    namespace: &str,
    info: &KindInfo,
) -> Result<(), StatusError> {
    let obj_ns = object::namespace(obj).to_string();
    if !info.namespaced {
        object::set_meta(obj, "namespace", Value::Null);
        return Ok(());
    }
    if obj_ns.is_empty() {
        object::set_meta(obj, "namespace", Value::String(namespace.to_string()));
        return Ok(());
    }
    if obj_ns != namespace {
        return Err(StatusError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}
