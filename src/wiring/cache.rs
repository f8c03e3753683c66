//! What the wiring checks read, kept once per provider process: the cluster's issuer, and each
//! IAM OIDC provider by ARN. Concurrent plans of many bindings wait for the one read in flight
//! instead of each sending their own (a plan of 100 bindings reads each once).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::aws::OidcProviderArn;
use crate::data_sources::oidc_provider::lookup::{self, Lookup, LookupError, OidcProvider};

use super::discovery::ClusterIssuer;

/// An IAM OIDC provider read by ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderRead {
    /// It exists.
    Found(OidcProvider),
    /// IAM answered NoSuchEntity.
    Missing,
    /// The read failed otherwise (e.g. AccessDenied); says why.
    Failed(String),
}

/// The per-process cache (held by `ProviderData`).
#[derive(Default)]
pub struct WiringCache {
    issuer: OnceCell<ClusterIssuer>,
    providers: Mutex<HashMap<String, Arc<OnceCell<ProviderRead>>>>,
}

impl WiringCache {
    /// The cluster's issuer, read with `read` on first use.
    pub async fn cluster_issuer(&self, read: impl Future<Output = ClusterIssuer>) -> ClusterIssuer {
        self.issuer.get_or_init(|| Box::pin(read)).await.clone()
    }

    /// The OIDC provider `arn`, read with `iam:GetOpenIDConnectProvider` on first use.
    pub async fn oidc_provider(
        &self,
        arn: &OidcProviderArn,
        iam: impl Future<Output = Result<aws_sdk_iam::Client, String>>,
    ) -> ProviderRead {
        let cell = self
            .providers
            .lock()
            .expect("OIDC provider cache")
            .entry(arn.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let iam = match iam.await {
                Ok(iam) => iam,
                Err(why) => return ProviderRead::Failed(why),
            };
            match Box::pin(lookup::find(&iam, &Lookup::Arn(arn.clone()))).await {
                Ok(found) => ProviderRead::Found(found),
                Err(LookupError::NoSuchArn(_)) => ProviderRead::Missing,
                Err(error) => ProviderRead::Failed(error.to_string()),
            }
        })
        .await
        .clone()
    }
}
