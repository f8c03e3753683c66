//! Random cty types (bounded depth) and random values conforming to them.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use crate::codec::{Number, Type, Value};

/// Primitive types, optionally `dynamic` too.
fn leaf(dynamic: bool) -> BoxedStrategy<Type> {
    let mut leaves = vec![Just(Type::String), Just(Type::Number), Just(Type::Bool)];
    if dynamic {
        leaves.push(Just(Type::Dynamic));
    }
    proptest::strategy::Union::new(leaves).boxed()
}

fn types(depth: u32, dynamic: bool) -> BoxedStrategy<Type> {
    leaf(dynamic)
        .prop_recursive(depth, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::map),
                btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
                vec(inner, 0..3).prop_map(Type::Tuple),
            ]
        })
        .boxed()
}

/// A random type, nested at most three levels, possibly containing `dynamic`.
pub fn any_type() -> BoxedStrategy<Type> {
    types(3, true)
}

/// A number in any of its four forms.
pub fn any_number() -> BoxedStrategy<Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        ((i64::MAX as u64) + 1..=u64::MAX).prop_map(Number::UInt),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::Float),
        "-?[0-9]{1,30}(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?".prop_map(Number::Decimal),
    ]
    .boxed()
}

/// A value of type `ty`; with `partial`, nulls and unknowns appear at any level.
pub fn value_of(ty: &Type, partial: bool) -> BoxedStrategy<Value> {
    let known = known_value_of(ty, partial);
    if partial {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => known].boxed()
    }
}

fn known_value_of(ty: &Type, partial: bool) -> BoxedStrategy<Value> {
    match ty {
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Number => any_number().prop_map(Value::Number).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::List(elem) => vec(value_of(elem, partial), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(elem) => vec(value_of(elem, partial), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(elem) => btree_map(".{0,4}", value_of(elem, partial), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object(attrs) => {
            let attrs: Vec<(String, BoxedStrategy<Value>)> = attrs
                .iter()
                .map(|(name, ty)| (name.clone(), value_of(ty, partial)))
                .collect();
            let names: Vec<String> = attrs.iter().map(|(n, _)| n.clone()).collect();
            let values: Vec<BoxedStrategy<Value>> = attrs.into_iter().map(|(_, s)| s).collect();
            values
                .prop_map(move |values| Value::object(names.clone().into_iter().zip(values)))
                .boxed()
        }
        Type::Tuple(types) => {
            let values: Vec<BoxedStrategy<Value>> =
                types.iter().map(|ty| value_of(ty, partial)).collect();
            values.prop_map(Value::Tuple).boxed()
        }
        Type::Dynamic => types(1, false)
            .prop_flat_map(move |concrete| {
                value_of(&concrete, partial)
                    .prop_map(move |v| Value::Dynamic(concrete.clone(), Box::new(v)))
            })
            .boxed(),
    }
}

/// A random type with a random value of it.
pub fn typed_value(partial: bool) -> BoxedStrategy<(Type, Value)> {
    any_type()
        .prop_flat_map(move |ty| (Just(ty.clone()), value_of(&ty, partial)))
        .boxed()
}
