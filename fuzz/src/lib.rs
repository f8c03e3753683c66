//! The provider's value codec, compiled from the provider's own source files so the fuzzer
//! builds only what the decoder uses (not the AWS and Kubernetes clients).

#![allow(dead_code)]

// The modules of `gitlabrunner::codec` the msgpack decoder needs, from the same files; they
// refer to each other through `super::`, which is this crate's root.
#[path = "../../src/codec/msgpack.rs"]
pub mod msgpack;
#[path = "../../src/codec/path.rs"]
pub mod path;
#[path = "../../src/codec/types.rs"]
pub mod types;
#[path = "../../src/codec/value.rs"]
pub mod value;

use types::Type;

/// The types a fuzz input is decoded against, chosen by its first byte.
pub fn fuzz_types() -> Vec<Type> {
    let rule = Type::object([
        ("verbs", Type::set(Type::String)),
        ("resources", Type::list(Type::String)),
        ("namespace", Type::String),
    ]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::String),
        Type::set(Type::Number),
        Type::map(Type::Dynamic),
        Type::Tuple(vec![Type::String, Type::Number, Type::Dynamic]),
        Type::object([
            ("id", Type::String),
            ("role_name", Type::String),
            ("max_session", Type::Number),
            ("enabled", Type::Bool),
            ("tags", Type::map(Type::String)),
            ("rules", Type::list(rule.clone())),
            ("grants", Type::set(rule)),
            ("extra", Type::Dynamic),
            (
                "pair",
                Type::Tuple(vec![Type::Bool, Type::list(Type::Number)]),
            ),
        ]),
    ]
}
