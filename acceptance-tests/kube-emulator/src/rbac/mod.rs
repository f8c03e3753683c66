//! RBAC: rule evaluation, the authorizer, escalation prevention, the bootstrap policy and
//! ClusterRole aggregation.

pub mod aggregation;
pub mod authorizer;
pub mod bootstrap;
pub mod escalation;
pub mod resolver;
pub mod rule;
