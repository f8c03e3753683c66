//! Managed resource types.

use std::sync::Arc;

use crate::framework::Resource;

pub mod cache;
pub mod irsa_binding;
mod upgrade;

/// Every managed resource type this provider serves.
pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(irsa_binding::IrsaBinding),
        Arc::new(cache::CacheResource::new()),
    ]
}
