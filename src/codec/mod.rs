//! Terraform's value system (cty) and its wire formats.
//!
//! - [`Type`] and [`Value`]: cty types and values, including null and unknown.
//! - [`msgpack`]: the `DynamicValue` msgpack encoding Terraform uses on every RPC.
//! - [`json`]: the JSON encoding of `RawState`.
//! - [`schema`]: schemas as resources declare them, and their protocol form.
//! - [`diagnostics`] and [`path`]: user-facing errors with attribute paths.

pub mod diagnostics;
pub mod json;
pub mod msgpack;
pub mod path;
pub mod schema;
pub mod types;
pub mod value;

pub use diagnostics::{Diagnostic, Diagnostics, Severity};
pub use path::{AttributePath, PathStep};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use types::Type;
pub use value::{Number, Value};
