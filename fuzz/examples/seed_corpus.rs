//! Writes the seed corpus: one small valid encoding per fuzz type, prefixed by its selector
//! byte. Run from `fuzz/`: `cargo run --example seed_corpus`.

use std::collections::BTreeMap;

use gitlabrunner_fuzz::fuzz_types;
use gitlabrunner_fuzz::msgpack::encode;
use gitlabrunner_fuzz::types::Type;
use gitlabrunner_fuzz::value::{Number, Value};

fn known(ty: &Type, depth: usize) -> Value {
    match ty {
        Type::String => Value::string("runner"),
        Type::Number if depth.is_multiple_of(2) => Value::Number(Number::Decimal("1e400".into())),
        Type::Number => Value::Number(Number::Float(2.5)),
        Type::Bool => Value::Bool(true),
        Type::Dynamic => Value::Dynamic(
            Type::list(Type::String),
            Box::new(Value::string_list(["a"])),
        ),
        Type::List(e) => Value::List(vec![known(e, depth + 1), Value::Unknown]),
        Type::Set(e) => Value::Set(vec![known(e, depth + 1)]),
        Type::Map(e) => Value::Map(BTreeMap::from([
            ("k".to_string(), known(e, depth + 1)),
            ("u".to_string(), Value::Unknown),
        ])),
        Type::Object(attrs) => Value::Object(
            attrs
                .iter()
                .enumerate()
                .map(|(i, (n, t))| {
                    let v = if i % 4 == 3 {
                        Value::Null
                    } else {
                        known(t, depth + 1)
                    };
                    (n.clone(), v)
                })
                .collect(),
        ),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(|t| known(t, depth + 1)).collect()),
    }
}

fn main() {
    let dir = std::path::Path::new("corpus/decode_dynamic");
    std::fs::create_dir_all(dir).expect("corpus directory");
    for (selector, ty) in fuzz_types().iter().enumerate() {
        for (name, value) in [
            ("known", known(ty, 0)),
            ("null", Value::Null),
            ("unknown", Value::Unknown),
        ] {
            if name != "known" && !selector.is_multiple_of(3) {
                continue;
            }
            let mut bytes = vec![selector as u8];
            bytes.extend(encode(&value, ty).expect("seed encodes"));
            std::fs::write(dir.join(format!("seed-{selector}-{name}")), bytes)
                .expect("seed written");
        }
    }
}
