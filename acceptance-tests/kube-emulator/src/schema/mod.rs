//! Static type schemas of the served kinds.
//!
//! One schema drives four things the real server derives from Go structs and OpenAPI:
//! decoding (field order, `omitempty`, unknown fields), storage round trips, strategic merge
//! patch strategies and the structured-merge-diff field sets behind `managedFields`.

pub mod decode;
pub mod definitions;

/// A node of a schema.
#[derive(Debug)]
pub enum Type {
    /// A Go string.
    String,
    /// A Go bool.
    Bool,
    /// A Go int32/int64.
    Int,
    /// `metav1.Time`: RFC 3339 string or null.
    Time,
    /// `[]byte`: base64 string.
    Bytes,
    /// Arbitrary JSON owned as a whole (e.g. `fieldsV1`).
    Raw,
    /// A Go struct.
    Struct(&'static StructType),
    /// `map[string]T`: each key owned separately.
    Map(&'static Type),
    /// A slice.
    List(&'static Type, ListType),
}

/// A Go struct: ordered JSON fields.
#[derive(Debug)]
pub struct StructType {
    /// Go type name, for decode error messages.
    pub go_name: &'static str,
    /// Fields in Go declaration (= JSON output) order.
    pub fields: &'static [Field],
    /// `+structType=atomic`: owned and replaced as a whole.
    pub atomic: bool,
}

/// How a list merges (SMP) and is owned (SSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars (`listType=set`, SMP `patchStrategy=merge`).
    Set,
    /// Items identified by key fields (`listType=map`, SMP merge key = first key).
    Map(&'static [&'static str]),
}

/// A struct field.
#[derive(Debug)]
pub struct Field {
    /// JSON name.
    pub name: &'static str,
    /// Field type.
    pub ty: &'static Type,
    /// `json:",omitempty"`.
    pub omitempty: bool,
    /// Go pointer: `false`/`0`/`""` survive `omitempty`; absent means null.
    pub pointer: bool,
}

impl Field {
    /// An `omitempty` value field.
    pub const fn opt(name: &'static str, ty: &'static Type) -> Field {
        Field {
            name,
            ty,
            omitempty: true,
            pointer: false,
        }
    }

    /// A field without `omitempty` (always serialized, zero value when unset).
    pub const fn req(name: &'static str, ty: &'static Type) -> Field {
        Field {
            name,
            ty,
            omitempty: false,
            pointer: false,
        }
    }

    /// An `omitempty` pointer field.
    pub const fn ptr(name: &'static str, ty: &'static Type) -> Field {
        Field {
            name,
            ty,
            omitempty: true,
            pointer: true,
        }
    }

    /// A pointer field without `omitempty` (serialized as null when unset).
    pub const fn nullable(name: &'static str, ty: &'static Type) -> Field {
        Field {
            name,
            ty,
            omitempty: false,
            pointer: true,
        }
    }
}

impl StructType {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Type {
    /// The type of child `key` of a struct or map.
    pub fn child(&self, key: &str) -> Option<&'static Type> {
        match self {
            Type::Struct(st) => st.field(key).map(|f| f.ty),
            Type::Map(elem) => Some(elem),
            _ => None,
        }
    }

    /// Go-ish type name for decode errors.
    pub fn go_name(&self) -> String {
        match self {
            Type::String => "string".into(),
            Type::Bool => "bool".into(),
            Type::Int => "int64".into(),
            Type::Time => "v1.Time".into(),
            Type::Bytes => "[]uint8".into(),
            Type::Raw => "json.RawMessage".into(),
            Type::Struct(st) => st.go_name.into(),
            Type::Map(elem) => format!("map[string]{}", elem.go_name()),
            Type::List(elem, _) => format!("[]{}", elem.go_name()),
        }
    }
}
