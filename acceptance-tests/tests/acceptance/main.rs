//! The acceptance suite: the real Terraform CLI, the provider built from this repository, an AWS
//! emulator and Kubernetes. One test process sets up the harness once (see the banner it
//! prints); tests run concurrently against it with unique names.
//!
//! `TF_ACC=1 cargo test -p gitlabrunner-acceptance --test acceptance` runs it against moto;
//! `TF_ACC_AWS=localstack` against LocalStack. Without `TF_ACC` every test is skipped.

mod aws_fixtures;
mod binding_safety;
mod binding_support;
mod cache;
mod data_source;
mod examples;
mod fault_matrix;
mod first_hour;
mod invalid_configs;
mod irsa_binding;
mod irsa_binding_drift;
mod irsa_with_cache;
mod kill_provider;
mod miswiring_plan;
mod miswiring_verify;
mod namespace_terminating;
mod pod_identity;
mod pod_identity_faults;
mod pod_identity_support;
mod pod_identity_verify;
mod provider_block;
mod quickstart;
mod release;
mod rig;
mod scale;
mod throttling;
mod troubleshooting;
mod upgrade_from_0_1_0;
mod workloads;
