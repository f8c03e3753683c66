//! Request bodies: JSON or YAML into objects of a kind (type meta checks, unknown-field
//! warnings or strict errors, decode-time defaulting).

use serde_json::Value;

use super::request::ApiRequest;
use super::status::StatusError;
use crate::kinds::{Kind, KindInfo, object};
use crate::schema::Type;
use crate::schema::decode;

/// Parses the body as JSON or YAML (by content type).
pub fn parse(req: &ApiRequest) -> Result<Value, StatusError> {
    match req.media_type() {
        "" | "application/json" | "*/*" => serde_json::from_slice(&req.body).map_err(|e| {
            StatusError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        }),
        "application/yaml" | "application/apply-patch+yaml" => parse_yaml(&req.body),
        _ => Err(StatusError {
            code: 415,
            reason: "UnsupportedMediaType".into(),
            message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml".into(),
            details: None,
        }),
    }
}

/// Parses YAML (or JSON, which is YAML) into JSON.
pub fn parse_yaml(body: &[u8]) -> Result<Value, StatusError> {
    if let Ok(v) = serde_json::from_slice(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| StatusError::bad_request(format!("error decoding YAML: {e}")))?;
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| StatusError::bad_request(format!("error decoding YAML: {e}")))
}

/// How unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Dropped silently.
    Ignore,
    /// Dropped with a warning (the default).
    Warn,
    /// Rejected.
    Strict,
}

impl FieldValidation {
    /// From the `fieldValidation` query parameter.
    pub fn from_request(req: &ApiRequest) -> Result<FieldValidation, StatusError> {
        match req.param("fieldValidation").unwrap_or("Warn") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(StatusError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}"
            ))),
        }
    }
}

/// Checks `apiVersion`/`kind` of a body against the endpoint (absent values are accepted).
pub fn check_type_meta(value: &Value, api_version: &str, kind: &str) -> Result<(), StatusError> {
    if !value.is_object() {
        return Err(StatusError::bad_request(
            "the object provided is unrecognized (must be of type object)",
        ));
    }
    let given_version = object::str_at(value, "/apiVersion");
    if !given_version.is_empty() && given_version != api_version {
        return Err(StatusError::bad_request(format!(
            "the API version in the data ({given_version}) does not match the expected API version ({api_version})"
        )));
    }
    let given_kind = object::str_at(value, "/kind");
    if !given_kind.is_empty() && given_kind != kind {
        return Err(StatusError::bad_request(format!(
            "the kind in the data ({given_kind}) does not match the expected kind ({kind})"
        )));
    }
    Ok(())
}

/// Decodes `value` as `schema` of kind `kind_name`; unknown fields become warnings (or a
/// 400 under strict validation).
pub fn decode_typed(
    schema: &Type,
    kind_name: &str,
    version: &str,
    value: &Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), StatusError> {
    let mut unknown = Vec::new();
    let decoded = decode::decode(schema, value, &mut unknown).map_err(|e| {
        StatusError::bad_request(format!(
            "{kind_name} in version \"{version}\" cannot be handled as a {kind_name}: {e}"
        ))
    })?;
    let messages: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {}", crate::gostr::quote(f)))
        .collect();
    match validation {
        FieldValidation::Strict if !messages.is_empty() => Err(StatusError::bad_request(format!(
            "strict decoding error: {}",
            messages.join(", ")
        ))),
        FieldValidation::Warn => Ok((decoded, messages)),
        _ => Ok((decoded, Vec::new())),
    }
}

/// Decodes a body into an object of `kind`, applies defaulting and sets the type meta.
pub fn decode_object(
    kind: &dyn Kind,
    value: &Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), StatusError> {
    let info: &KindInfo = kind.info();
    let api_version = info.api_version();
    check_type_meta(value, &api_version, info.kind)?;
    let (mut obj, warnings) =
        decode_typed(info.schema, info.kind, info.version, value, validation)?;
    kind.default(&mut obj);
    Ok((canonical(kind, &obj), warnings))
}

/// `obj` re-encoded in Go field order with its type meta.
pub fn canonical(kind: &dyn Kind, obj: &Value) -> Value {
    let info = kind.info();
    canonical_typed(info.schema, info.kind, &info.api_version(), obj)
}

/// `obj` re-encoded as `schema` with the given type meta.
pub fn canonical_typed(schema: &Type, kind: &str, api_version: &str, obj: &Value) -> Value {
    let mut ignored = Vec::new();
    let decoded = decode::decode(schema, obj, &mut ignored).unwrap_or_else(|_| obj.clone());
    object::with_type_meta(&decoded, kind, api_version)
}

/// `obj` as storage returns it (empty collections become nil).
pub fn stored_form(kind: &dyn Kind, obj: &Value) -> Value {
    let canonical = canonical(kind, obj);
    decode::to_storage(kind.info().schema, &canonical)
}
