use pb::attribute_path::step::Selector;

use super::*;

fn schema() -> Schema {
    let grant = Block::new("A namespace grant.")
        .attr(Attribute::required("namespace", Type::String, "Namespace."))
        .attr(Attribute::optional(
            "verbs",
            Type::set(Type::String),
            "Verbs.",
        ));
    let block = Block::new("An **IRSA** binding.")
        .attr(Attribute::computed("id", Type::String, "ID.").use_state_for_unknown())
        .attr(Attribute::required("role_name", Type::String, "Role.").requires_replace())
        .attr(
            Attribute::optional("token", Type::String, "Token.")
                .sensitive()
                .deprecated(),
        )
        .attr(Attribute::optional_computed(
            "tags",
            Type::map(Type::String),
            "Tags.",
        ))
        .attr(
            Attribute::optional("endpoints", Type::Dynamic, "x").with_nested(
                Nesting::List,
                vec![Attribute::required("url", Type::String, "URL.")],
            ),
        )
        .block(NestedBlock::new("grant", Nesting::List, grant).items(1, 5))
        .block(NestedBlock::new(
            "cache",
            Nesting::Single,
            Block::new("Cache."),
        ))
        .block(NestedBlock::new("group", Nesting::Group, Block::new("")))
        .block(NestedBlock::new("set", Nesting::Set, Block::new("")))
        .block(NestedBlock::new("map", Nesting::Map, Block::new("")));
    Schema::new(2, block)
}

#[test]
fn schema_to_proto_carries_attributes_blocks_and_flags() {
    let proto = schema_to_proto(&schema());
    assert_eq!(proto.version, 2);
    let block = proto.block.unwrap();
    assert_eq!(block.version, 2);
    assert_eq!(block.description, "An **IRSA** binding.");
    assert_eq!(block.description_kind, pb::StringKind::Markdown as i32);

    let names: Vec<&str> = block.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["id", "role_name", "token", "tags", "endpoints"]);
    let id = &block.attributes[0];
    assert!(id.computed && !id.optional && !id.required);
    assert_eq!(id.r#type, b"\"string\"");
    assert_eq!(id.description_kind, pb::StringKind::Markdown as i32);
    assert!(block.attributes[1].required);
    assert!(block.attributes[2].sensitive && block.attributes[2].deprecated);
    let tags = &block.attributes[3];
    assert!(tags.optional && tags.computed);
    assert_eq!(tags.r#type, br#"["map","string"]"#);

    let endpoints = &block.attributes[4];
    assert!(
        endpoints.r#type.is_empty(),
        "nested attributes carry no type"
    );
    let nested = endpoints.nested_type.as_ref().unwrap();
    assert_eq!(nested.nesting, ObjectNesting::List as i32);
    assert_eq!(nested.attributes[0].name, "url");
    assert_eq!(nested.attributes[0].r#type, b"\"string\"");

    let nestings: Vec<(&str, i32)> = block
        .block_types
        .iter()
        .map(|b| (b.type_name.as_str(), b.nesting))
        .collect();
    assert_eq!(
        nestings,
        [
            ("grant", BlockNesting::List as i32),
            ("cache", BlockNesting::Single as i32),
            ("group", BlockNesting::Group as i32),
            ("set", BlockNesting::Set as i32),
            ("map", BlockNesting::Map as i32),
        ]
    );
    let grant = &block.block_types[0];
    assert_eq!((grant.min_items, grant.max_items), (1, 5));
    let inner = grant.block.as_ref().unwrap();
    assert_eq!(inner.attributes.len(), 2);
    assert_eq!(inner.attributes[1].r#type, br#"["set","string"]"#);
}

#[test]
fn diagnostics_keep_severity_and_path() {
    let mut diagnostics = Diagnostics::new();
    diagnostics.error_at(
        AttributePath::new("grant")
            .index(1)
            .attr("tags")
            .key("team"),
        "Bad tag",
        "Fix it.",
    );
    diagnostics.warning("Careful", "");
    let proto = diagnostics_to_proto(&diagnostics);
    assert_eq!(proto.len(), 2);
    assert_eq!(proto[0].severity, pb::diagnostic::Severity::Error as i32);
    assert_eq!(
        (proto[0].summary.as_str(), proto[0].detail.as_str()),
        ("Bad tag", "Fix it.")
    );
    let steps: Vec<Selector> = proto[0]
        .attribute
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|s| s.selector.clone().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            Selector::AttributeName("grant".into()),
            Selector::ElementKeyInt(1),
            Selector::AttributeName("tags".into()),
            Selector::ElementKeyString("team".into()),
        ]
    );
    assert_eq!(proto[1].severity, pb::diagnostic::Severity::Warning as i32);
    assert!(proto[1].attribute.is_none());
}

#[test]
fn dynamic_values_round_trip_through_msgpack() {
    let ty = schema().value_type();
    let value = Value::object([
        ("role_name", Value::string("runner")),
        ("id", Value::Unknown),
        (
            "grant",
            Value::List(vec![Value::object([
                ("namespace", Value::string("ci")),
                ("verbs", Value::Null),
            ])]),
        ),
    ]);
    let wire = encode_dynamic(&value, &ty).unwrap();
    assert!(wire.json.is_empty());
    let back = decode_dynamic(Some(&wire), &ty).unwrap();
    assert_eq!(back.get("role_name").as_str(), Some("runner"));
    assert_eq!(back.get("id"), &Value::Unknown);
    assert_eq!(back.get("tags"), &Value::Null);
}

#[test]
fn absent_or_empty_dynamic_values_are_null_and_json_is_accepted() {
    let ty = Type::object([("a", Type::String)]);
    assert_eq!(decode_dynamic(None, &ty).unwrap(), Value::Null);
    assert_eq!(
        decode_dynamic(Some(&pb::DynamicValue::default()), &ty).unwrap(),
        Value::Null
    );
    let json = pb::DynamicValue {
        msgpack: Vec::new(),
        json: br#"{"a":"x"}"#.to_vec(),
    };
    assert_eq!(
        decode_dynamic(Some(&json), &ty).unwrap(),
        Value::object([("a", Value::string("x"))])
    );
}

#[test]
fn undecodable_values_are_error_diagnostics_naming_the_path() {
    let ty = Type::object([("a", Type::list(Type::String))]);
    // {"a": [true]}
    let wire = pb::DynamicValue {
        msgpack: b"\x81\xa1a\x91\xc3".to_vec(),
        json: Vec::new(),
    };
    let diagnostic = decode_dynamic(Some(&wire), &ty).unwrap_err();
    assert!(diagnostic.is_error());
    assert_eq!(diagnostic.summary, "Invalid value from Terraform");
    assert!(
        diagnostic.detail.contains("at a[0]"),
        "{}",
        diagnostic.detail
    );
    assert!(
        diagnostic.detail.contains("found msgpack bool"),
        "{}",
        diagnostic.detail
    );

    let bad_json = pb::DynamicValue {
        msgpack: Vec::new(),
        json: b"{".to_vec(),
    };
    assert_eq!(
        decode_dynamic(Some(&bad_json), &ty).unwrap_err().summary,
        "Invalid value from Terraform"
    );
}

#[test]
fn encoding_a_nonconforming_value_is_an_error_diagnostic() {
    let ty = Type::object([("a", Type::String)]);
    let diagnostic = encode_dynamic(&Value::object([("a", Value::Bool(true))]), &ty).unwrap_err();
    assert!(diagnostic.is_error());
    assert!(diagnostic.detail.contains("at a"), "{}", diagnostic.detail);
}

#[test]
fn raw_state_is_json_and_legacy_flatmap_is_refused() {
    let raw = pb::RawState {
        json: br#"{"id":"x"}"#.to_vec(),
        flatmap: Default::default(),
    };
    assert_eq!(
        decode_raw_state(&raw).unwrap(),
        serde_json::json!({"id": "x"})
    );
    let legacy = pb::RawState {
        json: Vec::new(),
        flatmap: [("id".to_string(), "x".to_string())].into(),
    };
    let diagnostic = decode_raw_state(&legacy).unwrap_err();
    assert!(
        diagnostic.detail.contains("flatmap"),
        "{}",
        diagnostic.detail
    );
    let broken = pb::RawState {
        json: b"{nope".to_vec(),
        flatmap: Default::default(),
    };
    assert_eq!(
        decode_raw_state(&broken).unwrap_err().summary,
        "Invalid value from Terraform"
    );
}

#[test]
fn upgraded_state_json_decodes_with_missing_attributes_as_null() {
    let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
    let value = json_decode(&serde_json::json!({"a": "x"}), &ty).unwrap();
    assert_eq!(
        value,
        Value::object([("a", Value::string("x")), ("b", Value::Null)])
    );
    let diagnostic = json_decode(&serde_json::json!({"c": 1}), &ty).unwrap_err();
    assert_eq!(diagnostic.summary, "Invalid value from Terraform");
}
