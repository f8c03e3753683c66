//! Data source types.

use std::sync::Arc;

use crate::framework::DataSource;

/// Every data source type this provider serves.
pub fn all() -> Vec<Arc<dyn DataSource>> {
    vec![]
}
