//! Data source types.

pub mod oidc_provider;

use std::sync::Arc;

use crate::framework::DataSource;

/// Every data source type this provider serves.
pub fn all() -> Vec<Arc<dyn DataSource>> {
    vec![Arc::new(oidc_provider::OidcProviderDataSource)]
}
