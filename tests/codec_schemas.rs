//! Every schema the provider declares (provider, resources, data sources) survives the wire:
//! its protocol form is what Terraform accepts, and values of its type round-trip through the
//! msgpack `DynamicValue` encoding with nulls and unknowns anywhere.

use gitlabrunner::codec::{Attribute, Block, Schema, Type, Value};
use gitlabrunner::proto::tfplugin6 as pb;
use gitlabrunner::server::convert::{decode_dynamic, encode_dynamic, schema_to_proto};

fn all_schemas() -> Vec<(String, Schema)> {
    let mut schemas = vec![("provider".to_string(), gitlabrunner::provider::schema())];
    for resource in gitlabrunner::resources::all() {
        schemas.push((resource.type_name().to_string(), resource.schema()));
    }
    for data_source in gitlabrunner::data_sources::all() {
        schemas.push((data_source.type_name().to_string(), data_source.schema()));
    }
    schemas
}

fn check_attributes(owner: &str, attributes: &[Attribute], proto: &[pb::schema::Attribute]) {
    assert_eq!(attributes.len(), proto.len(), "{owner}");
    for (attribute, wire) in attributes.iter().zip(proto) {
        let name = format!("{owner}.{}", attribute.name);
        assert_eq!(attribute.name, wire.name);
        assert!(
            attribute.required ^ (attribute.optional || attribute.computed),
            "{name}: required excludes optional/computed, and one must be set"
        );
        match (&attribute.nested, &wire.nested_type) {
            (Some((_, nested)), Some(object)) => {
                assert!(
                    wire.r#type.is_empty(),
                    "{name}: nested attributes carry no type"
                );
                check_attributes(&name, nested, &object.attributes);
            }
            (None, None) => {
                let ty = Type::from_json_bytes(&wire.r#type).expect("type JSON parses");
                assert_eq!(ty, attribute.ty, "{name}");
            }
            _ => panic!("{name}: nested attributes must become nested_type"),
        }
    }
}

fn check_block(owner: &str, block: &Block, proto: &pb::schema::Block) {
    check_attributes(owner, &block.attributes, &proto.attributes);
    assert_eq!(block.blocks.len(), proto.block_types.len(), "{owner}");
    for (nested, wire) in block.blocks.iter().zip(&proto.block_types) {
        assert_eq!(nested.name, wire.type_name);
        let name = format!("{owner}.{}", nested.name);
        check_block(
            &name,
            &nested.block,
            wire.block.as_ref().expect("nested block body"),
        );
    }
}

/// A value of `ty` that is known at the top and unknown (or null) one level down.
fn sample(ty: &Type, leaf: &Value) -> Value {
    match ty {
        Type::Object(attrs) => Value::Object(
            attrs
                .iter()
                .map(|(name, attr)| (name.clone(), sample(attr, leaf)))
                .collect(),
        ),
        Type::List(_) => Value::List(vec![leaf.clone()]),
        Type::Set(_) => Value::Set(vec![leaf.clone()]),
        Type::Map(_) => Value::Map([("key".to_string(), leaf.clone())].into()),
        Type::Tuple(types) => Value::Tuple(types.iter().map(|_| leaf.clone()).collect()),
        _ => leaf.clone(),
    }
}

#[test]
fn every_declared_schema_converts_to_a_protocol_schema_terraform_accepts() {
    for (name, schema) in all_schemas() {
        let proto = schema_to_proto(&schema);
        assert_eq!(proto.version, schema.version, "{name}");
        check_block(
            &name,
            &schema.block,
            proto.block.as_ref().expect("top-level block"),
        );
    }
}

#[test]
fn values_of_every_declared_schema_round_trip_with_nulls_and_unknowns() {
    for (name, schema) in all_schemas() {
        let ty = schema.value_type();
        for leaf in [Value::Null, Value::Unknown] {
            for value in [leaf.clone(), sample(&ty, &leaf)] {
                let wire = encode_dynamic(&value, &ty).unwrap_or_else(|d| panic!("{name}: {d}"));
                let back =
                    decode_dynamic(Some(&wire), &ty).unwrap_or_else(|d| panic!("{name}: {d}"));
                assert!(
                    back.semantically_equal(&value),
                    "{name}: {value:?} -> {back:?}"
                );
                assert_eq!(
                    encode_dynamic(&back, &ty).unwrap(),
                    wire,
                    "{name}: stable encoding"
                );
            }
        }
    }
}
