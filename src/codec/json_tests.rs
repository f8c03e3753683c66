use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::codec::msgpack::test_strategies::typed_value;

fn ty() -> Type {
    Type::object([
        ("name", Type::String),
        ("port", Type::Number),
        ("on", Type::Bool),
        ("tags", Type::map(Type::String)),
        ("ids", Type::set(Type::Number)),
        ("rules", Type::list(Type::object([("verb", Type::String)]))),
        ("pair", Type::Tuple(vec![Type::String, Type::Bool])),
        ("extra", Type::Dynamic),
    ])
}

#[test]
fn state_json_decodes_by_type() {
    let state = json!({
        "name": "runner", "port": 443, "on": true, "tags": {"a": "b"}, "ids": [1, 2.5],
        "rules": [{"verb": "get"}], "pair": ["x", null],
        "extra": {"value": ["a"], "type": ["list", "string"]}
    });
    let value = decode(&state, &ty()).unwrap();
    assert_eq!(value.get("name").as_str(), Some("runner"));
    assert_eq!(value.get("port").as_i64(), Some(443));
    assert_eq!(
        value
            .get("tags")
            .string_entries()
            .get("a")
            .map(String::as_str),
        Some("b")
    );
    assert_eq!(
        value.get("rules").as_elements().unwrap()[0]
            .get("verb")
            .as_str(),
        Some("get")
    );
    assert_eq!(
        value.get("pair"),
        &Value::Tuple(vec![Value::string("x"), Value::Null])
    );
    assert_eq!(
        value.get("extra"),
        &Value::Dynamic(
            Type::list(Type::String),
            Box::new(Value::string_list(["a"]))
        )
    );
    assert_eq!(encode(&value, &ty()).unwrap(), state);
}

#[test]
fn attributes_missing_from_older_state_decode_as_null_but_extra_ones_are_errors() {
    let value = decode(&json!({"name": "x"}), &ty()).unwrap();
    assert_eq!(value.get("port"), &Value::Null);
    assert_eq!(value.as_object().unwrap().len(), 8);
    let err = decode(&json!({"name": "x", "legacy": 1}), &ty()).unwrap_err();
    assert_eq!(err.kind, JsonErrorKind::ExtraAttribute("legacy".into()));
}

#[test]
fn errors_carry_their_path() {
    let err = decode(&json!({"rules": [{"verb": ["no"]}]}), &ty()).unwrap_err();
    assert_eq!(err.path, AttributePath::new("rules").index(0).attr("verb"));
    assert_eq!(
        err.to_string(),
        "expected \"string\", found array at rules[0].verb"
    );
    let err = decode(&json!({"pair": ["x"]}), &ty()).unwrap_err();
    assert_eq!(
        err.kind,
        JsonErrorKind::TupleLength {
            expected: 2,
            found: 1
        }
    );
    let err = decode(&json!({"extra": {"value": 1}}), &ty()).unwrap_err();
    assert_eq!(err.kind, JsonErrorKind::DynamicShape);
    let err = decode(&json!({"extra": {"value": 1, "type": "strung"}}), &ty()).unwrap_err();
    assert!(matches!(err.kind, JsonErrorKind::DynamicType(_)));
    let err = decode(&json!({"port": "eighty"}), &ty()).unwrap_err();
    assert_eq!(err.kind, JsonErrorKind::InvalidNumber("eighty".into()));
}

#[test]
fn numbers_keep_their_precision() {
    assert_eq!(
        decode(&json!(u64::MAX), &Type::Number).unwrap(),
        Value::Number(Number::UInt(u64::MAX))
    );
    assert_eq!(decode(&json!(-5), &Type::Number).unwrap(), Value::int(-5));
    assert_eq!(
        decode(&json!(0.5), &Type::Number).unwrap(),
        Value::Number(Number::Float(0.5))
    );
    // Numbers a float64 cannot hold travel as decimal strings, as cty accepts them.
    let big = Value::Number(Number::Decimal("123456789012345678901234567890".into()));
    let text = encode(&big, &Type::Number).unwrap();
    assert_eq!(text, json!("123456789012345678901234567890"));
    assert_eq!(decode(&text, &Type::Number).unwrap(), big);
    let exact = Value::Number(Number::Decimal("0.25".into()));
    assert_eq!(encode(&exact, &Type::Number).unwrap(), json!(0.25));
}

#[test]
fn primitives_are_converted_like_cty_does() {
    assert_eq!(
        decode(&json!(5), &Type::String).unwrap(),
        Value::string("5")
    );
    assert_eq!(
        decode(&json!(true), &Type::String).unwrap(),
        Value::string("true")
    );
    assert_eq!(
        decode(&json!("false"), &Type::Bool).unwrap(),
        Value::Bool(false)
    );
    assert!(decode(&json!("yes"), &Type::Bool).is_err());
    assert!(decode(&json!([1]), &Type::map(Type::Number)).is_err());
}

#[test]
fn unknown_values_cannot_be_written() {
    let value = Value::object([("name", Value::Unknown)]);
    let err = encode(&value, &ty()).unwrap_err();
    assert_eq!(err.kind, JsonErrorKind::Unknown);
    assert_eq!(err.path, AttributePath::new("name"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_known_value_round_trips_through_json((ty, value) in typed_value(false)) {
        let json = encode(&value, &ty).expect("a known conforming value encodes");
        let text = serde_json::to_string(&json).unwrap();
        let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let back = decode(&reparsed, &ty).expect("its JSON decodes");
        prop_assert!(back.semantically_equal(&value), "{:?} came back as {:?} via {}", value, back, text);
    }
}

#[test]
fn the_type_decides_the_json_of_sequences_and_mappings() {
    let set = Type::set(Type::String);
    assert_eq!(
        encode(&Value::string_list(["a"]), &set).unwrap(),
        json!(["a"])
    );
    let object = Type::object([("k", Type::String)]);
    assert_eq!(
        encode(&Value::string_map([("k", "v")]), &object).unwrap(),
        json!({"k": "v"})
    );
    assert!(encode(&Value::string_set(["a"]), &Type::map(Type::String)).is_err());
}
