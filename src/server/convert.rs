//! Conversions between the codec's types and the protocol's prost messages: schemas,
//! diagnostics, attribute paths and `DynamicValue`s. The rest of the provider never sees prost.

use crate::codec::{
    Attribute, AttributePath, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, PathStep,
    Schema, Severity, Type, Value, json, msgpack,
};
use crate::error_chain::error_chain;
use crate::proto::tfplugin6 as pb;
use pb::schema::nested_block::NestingMode as BlockNesting;
use pb::schema::object::NestingMode as ObjectNesting;

/// The summary of every diagnostic about a value Terraform sent that does not decode.
const INVALID_VALUE: &str = "Invalid value from Terraform";

/// A schema in its protocol form.
pub fn schema_to_proto(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block_to_proto(&schema.block, schema.version)),
    }
}

fn block_to_proto(block: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block.attributes.iter().map(attribute_to_proto).collect(),
        block_types: block.blocks.iter().map(nested_block_to_proto).collect(),
        description: block.description.clone(),
        description_kind: pb::StringKind::Markdown.into(),
        deprecated: block.deprecated,
        deprecation_message: String::new(),
    }
}

fn attribute_to_proto(attribute: &Attribute) -> pb::schema::Attribute {
    // Terraform requires exactly one of `type` and `nested_type`.
    let (ty, nested_type) = match &attribute.nested {
        Some((nesting, attributes)) => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute_to_proto).collect(),
                nesting: object_nesting(*nesting).into(),
                ..Default::default()
            }),
        ),
        None => (attribute.ty.to_json_bytes(), None),
    };
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: ty,
        nested_type,
        description: attribute.description.clone(),
        required: attribute.required,
        optional: attribute.optional,
        computed: attribute.computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Markdown.into(),
        deprecated: attribute.deprecated,
        write_only: false,
        deprecation_message: String::new(),
    }
}

fn object_nesting(nesting: Nesting) -> ObjectNesting {
    match nesting {
        // Nested attributes have no GROUP mode; a single object is the closest.
        Nesting::Single | Nesting::Group => ObjectNesting::Single,
        Nesting::List => ObjectNesting::List,
        Nesting::Set => ObjectNesting::Set,
        Nesting::Map => ObjectNesting::Map,
    }
}

fn nested_block_to_proto(block: &NestedBlock) -> pb::schema::NestedBlock {
    let nesting = match block.nesting {
        Nesting::Single => BlockNesting::Single,
        Nesting::Group => BlockNesting::Group,
        Nesting::List => BlockNesting::List,
        Nesting::Set => BlockNesting::Set,
        Nesting::Map => BlockNesting::Map,
    };
    pb::schema::NestedBlock {
        type_name: block.name.clone(),
        block: Some(block_to_proto(&block.block, 0)),
        nesting: nesting.into(),
        min_items: block.min_items,
        max_items: block.max_items,
    }
}

/// Diagnostics in their protocol form.
pub fn diagnostics_to_proto(diagnostics: &Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics.iter().map(diagnostic_to_proto).collect()
}

fn diagnostic_to_proto(diagnostic: &Diagnostic) -> pb::Diagnostic {
    let severity = match diagnostic.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity.into(),
        summary: diagnostic.summary.clone(),
        detail: diagnostic.detail.clone(),
        attribute: diagnostic.attribute.as_ref().map(path_to_proto),
    }
}

/// An attribute path in its protocol form.
pub fn path_to_proto(path: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    let steps = path
        .steps()
        .iter()
        .map(|step| pb::attribute_path::Step {
            selector: Some(match step {
                PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                PathStep::Index(index) => Selector::ElementKeyInt(*index),
            }),
        })
        .collect();
    pb::AttributePath { steps }
}

/// Decodes a `DynamicValue` of type `ty`: msgpack when present, else JSON, else null.
pub fn decode_dynamic(value: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostic> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    if !value.msgpack.is_empty() {
        return msgpack::decode(&value.msgpack, ty).map_err(|e| invalid_value("msgpack", &e));
    }
    if !value.json.is_empty() {
        let json: serde_json::Value =
            serde_json::from_slice(&value.json).map_err(|e| invalid_value("JSON", &e))?;
        return json_decode(&json, ty);
    }
    Ok(Value::Null)
}

/// Encodes a value of type `ty` as a msgpack `DynamicValue`.
pub fn encode_dynamic(value: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostic> {
    let msgpack = msgpack::encode(value, ty).map_err(|e| {
        Diagnostic::error(
            "Provider produced an invalid value",
            format!(
                "The provider built a value that does not fit its schema ({}). This is a bug in \
                 the provider; please report it.",
                error_chain(&e)
            ),
        )
    })?;
    Ok(pb::DynamicValue {
        msgpack,
        json: Vec::new(),
    })
}

/// The JSON of a stored state. The legacy flatmap form (Terraform 0.11 and older) is refused.
pub fn decode_raw_state(raw: &pb::RawState) -> Result<serde_json::Value, Diagnostic> {
    if raw.json.is_empty() && !raw.flatmap.is_empty() {
        return Err(Diagnostic::error(
            "Unsupported state format",
            "The stored state is in the legacy flatmap format written by Terraform 0.11 and \
             older, which this provider does not read. Upgrade the state with a newer Terraform \
             version first.",
        ));
    }
    if raw.json.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&raw.json).map_err(|e| invalid_value("state JSON", &e))
}

/// Decodes a JSON value (stored or upgraded state) of type `ty`.
pub fn json_decode(json: &serde_json::Value, ty: &Type) -> Result<Value, Diagnostic> {
    json::decode(json, ty).map_err(|e| invalid_value("JSON", &e))
}

fn invalid_value(format: &str, error: &dyn std::error::Error) -> Diagnostic {
    Diagnostic::error(
        INVALID_VALUE,
        format!(
            "Terraform sent a {format} value the provider could not decode: {}. This is a bug \
             in Terraform or in the provider's schema; please report it.",
            error_chain(error)
        ),
    )
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
