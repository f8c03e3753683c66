//! The rig's EKS Pod Identity and EKS Auth: moto implements no Pod Identity API and LocalStack
//! only in its paid tier, so the AWS proxy answers these calls itself, never forwarding them:
//!
//! | API | operation |
//! |---|---|
//! | EKS (restJson1) | `CreatePodIdentityAssociation`, `DescribePodIdentityAssociation`, `ListPodIdentityAssociations`, `UpdatePodIdentityAssociation`, `DeletePodIdentityAssociation` ([`rest`], [`store`]) |
//! | EKS Auth (restJson1) | `AssumeRoleForPodIdentity` ([`auth`]) |
//!
//! One [`EksRig`] per AWS emulator holds the associations of the clusters registered with it;
//! the harness registers the run's cluster, [`CLUSTER_NAME`], bound to the run's Kubernetes
//! API (the tokens EKS Auth verifies are that API's, with its JWKS) and to the emulator's
//! account and region. Every proxy in front of the emulator serves the same rig, so what a test
//! creates through one proxy is seen through another, as in one AWS account.

pub mod auth;
pub mod rest;
mod rig_sources;
pub mod store;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::Response;
use http_body_util::Full;

use crate::aws::web_identity::RoleAndIssuerSources;
use crate::fault_proxy::RequestKind;

/// The name under which the rig registers the run's cluster.
pub const CLUSTER_NAME: &str = "gitlabrunner-acc";

/// The EKS Pod Identity service principal
/// (<https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html>).
pub const POD_IDENTITY_SERVICE: &str = "pods.eks.amazonaws.com";

/// A cluster the rig knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Its name.
    pub name: String,
    /// The partition (`aws`).
    pub partition: String,
    /// The region.
    pub region: String,
    /// The account id.
    pub account: String,
}

impl Cluster {
    /// The run's cluster, [`CLUSTER_NAME`], in `account` and `region` of partition `aws`.
    pub fn run_cluster(account: &str, region: &str) -> Cluster {
        Cluster {
            name: CLUSTER_NAME.to_string(),
            partition: "aws".to_string(),
            region: region.to_string(),
            account: account.to_string(),
        }
    }

    /// `arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME`
    /// (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelastickubernetesservice.html#amazonelastickubernetesservice-resources-for-iam-policies>).
    pub fn arn(&self) -> String {
        format!(
            "arn:{}:eks:{}:{}:cluster/{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

/// Credentials the emulator's STS handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsCredentials {
    /// The assumed-role ARN.
    pub assumed_role_arn: String,
    /// `AROA...:SESSION`.
    pub assumed_role_id: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// Expiration, Unix seconds.
    pub expiration: i64,
}

/// An STS `AssumeRole` call EKS Auth makes for a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleCall {
    /// The role.
    pub role_arn: String,
    /// The session name.
    pub session_name: String,
    /// The session tags, in order.
    pub tags: Vec<(String, String)>,
}

/// Where the rig reads the world from: beside IAM roles and the issuer of the cluster's
/// tokens (what the rig's STS reads too), the emulator's STS.
pub trait EksSources: RoleAndIssuerSources {
    /// STS `AssumeRole` at the emulator; `Err((code, message))` as STS answered.
    fn assume_role<'a>(
        &'a self,
        call: &'a AssumeRoleCall,
    ) -> BoxFuture<'a, Result<StsCredentials, (String, String)>>;
}

/// The rig's EKS and EKS Auth for one emulator: its clusters, their associations, and where
/// it reads roles, keys and credentials.
pub struct EksRig {
    clusters: Vec<Cluster>,
    store: Mutex<store::Store>,
    /// What EKS Auth refused, and the `AssumeRole` calls it made, in order.
    auth_log: Mutex<Vec<Result<AssumeRoleCall, rest::ApiError>>>,
    sources: Box<dyn EksSources>,
    clock: Box<dyn Fn() -> f64 + Send + Sync>,
}

impl std::fmt::Debug for EksRig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksRig")
            .field("clusters", &self.clusters)
            .finish_non_exhaustive()
    }
}

impl EksRig {
    /// A rig serving `clusters`, reading the world from `sources`, on the system clock.
    pub fn new(clusters: Vec<Cluster>, sources: impl EksSources + 'static) -> Arc<EksRig> {
        EksRig::with_clock(clusters, sources, || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        })
    }

    /// A rig whose "now" (Unix seconds) is `clock()`.
    pub fn with_clock(
        clusters: Vec<Cluster>,
        sources: impl EksSources + 'static,
        clock: impl Fn() -> f64 + Send + Sync + 'static,
    ) -> Arc<EksRig> {
        Arc::new(EksRig {
            clusters,
            store: Mutex::new(store::Store::default()),
            auth_log: Mutex::new(Vec::new()),
            sources: Box::new(sources),
            clock: Box::new(clock),
        })
    }

    /// The cluster named `name`, if the rig serves it.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The cluster named `name` in `region` (EKS is regional: a request signed for another
    /// region does not see it); any region when the request names none.
    pub fn cluster_in(&self, name: &str, region: Option<&str>) -> Option<&Cluster> {
        self.cluster(name)
            .filter(|c| region.is_none_or(|r| r == c.region))
    }

    /// Every association the rig holds, in creation order (for inventories).
    pub fn associations(&self) -> Vec<store::Association> {
        self.store().all()
    }

    /// Every `AssumeRoleForPodIdentity` EKS Auth refused (its error answer), in order.
    pub fn auth_refusals(&self) -> Vec<rest::ApiError> {
        self.auth_log()
            .iter()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect()
    }

    /// Every STS `AssumeRole` EKS Auth made for a pod (role, session name, session tags).
    pub fn assumed_roles(&self) -> Vec<AssumeRoleCall> {
        self.auth_log()
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect()
    }

    fn auth_log(&self) -> std::sync::MutexGuard<'_, Vec<Result<AssumeRoleCall, rest::ApiError>>> {
        self.auth_log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn store(&self) -> std::sync::MutexGuard<'_, store::Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> f64 {
        (self.clock)()
    }

    /// The answer to an EKS or EKS Auth request the rig serves; `None` for any other request
    /// (it is forwarded to the emulator).
    pub async fn handle(
        &self,
        kind: &RequestKind,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Option<Response<Full<Bytes>>> {
        let region = signing_region(&parts.headers);
        let region = region.as_deref();
        match (kind.service.as_str(), kind.operation.as_str()) {
            ("eks-auth", "AssumeRoleForPodIdentity") => {
                let cluster = rest::cluster_in_path(parts.uri.path())?;
                Some(auth::answer(self, &cluster, region, body).await)
            }
            ("eks", operation) if rest::OPERATIONS.contains(&operation) => {
                Some(rest::answer(self, operation, region, parts, body).await)
            }
            _ => None,
        }
    }
}

/// The region of the SigV4 credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`).
fn signing_region(headers: &http::HeaderMap) -> Option<String> {
    let authorization = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = authorization
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let parts: Vec<&str> = credential.split('/').collect();
    (parts.len() >= 5).then(|| parts[parts.len() - 3].to_string())
}

/// Rigs registered for emulator endpoints.
static RIGS: Mutex<Vec<(String, Arc<EksRig>)>> = Mutex::new(Vec::new());

/// Registers `rig` for the emulator at `upstream` (before any proxy for it starts).
pub fn register_rig(upstream: &str, rig: Arc<EksRig>) {
    let upstream = upstream.trim_end_matches('/').to_string();
    let mut rigs = RIGS.lock().unwrap_or_else(|e| e.into_inner());
    rigs.retain(|(u, _)| *u != upstream);
    rigs.push((upstream, rig));
}

/// The rig registered for the emulator at `upstream`.
pub fn rig_for(upstream: &str) -> Option<Arc<EksRig>> {
    let upstream = upstream.trim_end_matches('/');
    RIGS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(u, _)| u == upstream)
        .map(|(_, rig)| Arc::clone(rig))
}
