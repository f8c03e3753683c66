//! Kubernetes client layer: get_opt, apply, error mapping.
