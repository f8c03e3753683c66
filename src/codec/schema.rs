//! Schemas as resources declare them. Besides what goes on the wire, attributes carry the plan
//! behaviour the framework enforces (requires replace, keep prior computed value).
//!
//! The conversion to the protocol's `Schema` message lives in [`crate::server`]'s conversion code.

use std::collections::BTreeMap;

use super::types::Type;

/// A resource, data source or provider schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// State schema version (for `UpgradeResourceState`).
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

/// A block: attributes plus nested blocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    /// Attributes, in declaration order.
    pub attributes: Vec<Attribute>,
    /// Nested block types, in declaration order.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description.
    pub description: String,
    /// Whether the whole block is deprecated.
    pub deprecated: bool,
}

/// How a nested block (or nested attribute object) repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one; absent is null.
    Single,
    /// Exactly one; absent is an object of nulls.
    Group,
    /// An ordered list.
    List,
    /// An unordered set.
    Set,
    /// A map keyed by the block label.
    Map,
}

/// A nested block type.
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    /// The block type name, as written in configuration.
    pub name: String,
    /// How it repeats.
    pub nesting: Nesting,
    /// Its contents.
    pub block: Block,
    /// Minimum count (list/set), 0 for no minimum.
    pub min_items: i64,
    /// Maximum count (list/set), 0 for no maximum.
    pub max_items: i64,
    /// Changing anything inside this block replaces the resource.
    pub requires_replace: bool,
}

/// An attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Name, as written in configuration.
    pub name: String,
    /// Value type (for nested attributes, the object type of one element wrapped by nesting).
    pub ty: Type,
    /// Nested attributes, when the attribute is an object or a collection of objects.
    pub nested: Option<(Nesting, Vec<Attribute>)>,
    /// Markdown description.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider (when optional too: when the configuration leaves it null).
    pub computed: bool,
    /// Hidden in plan output and logs.
    pub sensitive: bool,
    /// Deprecated.
    pub deprecated: bool,
    /// A change of this attribute (prior and planned both known, not equal) replaces the resource.
    pub requires_replace: bool,
    /// A computed value that stays as it was unless the provider's plan sets it: it is copied
    /// from prior state instead of becoming unknown when other attributes change.
    pub use_state_for_unknown: bool,
    /// The value used when configuration leaves an optional+computed attribute null.
    pub default: Option<super::value::Value>,
}

impl Attribute {
    fn new(name: &str, ty: Type, description: &str) -> Self {
        Self {
            name: name.to_string(),
            ty,
            nested: None,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
            default: None,
        }
    }

    /// A required attribute.
    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Self {
            required: true,
            ..Self::new(name, ty, description)
        }
    }

    /// An optional attribute.
    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Self {
            optional: true,
            ..Self::new(name, ty, description)
        }
    }

    /// An optional attribute the provider fills in when it is not set.
    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Self {
            optional: true,
            computed: true,
            ..Self::new(name, ty, description)
        }
    }

    /// An optional attribute with a default value (optional + computed, planned as `default`
    /// when configuration leaves it null).
    pub fn with_default(
        name: &str,
        ty: Type,
        default: super::value::Value,
        description: &str,
    ) -> Self {
        Self {
            default: Some(default),
            ..Self::optional_computed(name, ty, description)
        }
    }

    /// A read-only attribute set by the provider.
    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Self {
            computed: true,
            ..Self::new(name, ty, description)
        }
    }

    /// Marks the attribute sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Marks the attribute deprecated.
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    /// A change replaces the resource.
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }

    /// Keeps the prior computed value instead of planning it unknown.
    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }

    /// Turns this attribute into a nested-attributes attribute.
    pub fn with_nested(mut self, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        let object = Type::Object(
            attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone()))
                .collect(),
        );
        self.ty = match nesting {
            Nesting::Single | Nesting::Group => object,
            Nesting::List => Type::list(object),
            Nesting::Set => Type::set(object),
            Nesting::Map => Type::map(object),
        };
        self.nested = Some((nesting, attributes));
        self
    }
}

impl NestedBlock {
    /// A nested block type.
    pub fn new(name: &str, nesting: Nesting, block: Block) -> Self {
        Self {
            name: name.to_string(),
            nesting,
            block,
            min_items: 0,
            max_items: 0,
            requires_replace: false,
        }
    }

    /// Sets min/max item counts.
    pub fn items(mut self, min: i64, max: i64) -> Self {
        self.min_items = min;
        self.max_items = max;
        self
    }

    /// The type of this block's value in its parent object.
    pub fn value_type(&self) -> Type {
        let object = self.block.value_type();
        match self.nesting {
            Nesting::Single | Nesting::Group => object,
            Nesting::List => Type::list(object),
            Nesting::Set => Type::set(object),
            Nesting::Map => Type::map(object),
        }
    }
}

impl Block {
    /// A block with a description.
    pub fn new(description: &str) -> Self {
        Self {
            description: description.to_string(),
            ..Self::default()
        }
    }

    /// Adds an attribute.
    pub fn attr(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Adds a nested block type.
    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    /// The object type of this block's value.
    pub fn value_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        for b in &self.blocks {
            attrs.insert(b.name.clone(), b.value_type());
        }
        Type::Object(attrs)
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The nested block type called `name`.
    pub fn nested_block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.name == name)
    }
}

impl Schema {
    /// A schema at `version` with the given top-level block.
    pub fn new(version: i64, block: Block) -> Self {
        Self { version, block }
    }

    /// The object type of a whole value of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}
