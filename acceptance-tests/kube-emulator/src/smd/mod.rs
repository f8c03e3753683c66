//! A port of the parts of structured-merge-diff that server-side apply and `managedFields`
//! need: field paths and sets, schema-aware compare/merge/remove, and the updater that
//! tracks ownership and detects conflicts.

pub mod path;
pub mod set;
pub mod updater;
pub mod walk;

pub use path::PathElement;
pub use set::Set;
