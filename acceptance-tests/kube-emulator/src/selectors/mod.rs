//! Label and field selectors of list requests.

pub mod fields;
pub mod labels;
