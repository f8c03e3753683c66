//! The three non-apply PATCH formats. Server-side apply lives in [`crate::managed_fields`].

pub mod json;
pub mod merge;
pub mod strategic;
