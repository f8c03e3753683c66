//! An in-memory EKS Auth over the [`Fake`] cloud, for the Pod Identity `verify` tests. It does
//! what `AssumeRoleForPodIdentity` does (API reference, "Errors"): refuses a token not for
//! `pods.eks.amazonaws.com` (`InvalidTokenException`), an unknown cluster or a ServiceAccount
//! without an association (`ResourceNotFoundException`), and a role whose trust policy, as
//! the fake IAM holds it, does not admit the session (`AccessDeniedException`). Refusals can
//! also be injected by error code.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::aws::{Arn, AwsError, AwsErrorKind, Partition};
use crate::jwt::UnverifiedToken;
use crate::trust_eval::{TrustDocument, evaluate};

use super::eks_auth::{EksAuth, OPERATION, PodIdentityGrant};
use super::fake::{Fake, LATENCY};
use super::pod_identity_checks::{ACTIONS, POD_IDENTITY_SERVICE, PodIdentitySession};

/// The region of the fake cluster.
pub const REGION: &str = "us-east-1";
/// The account of the fake cluster.
pub const ACCOUNT: &str = "123456789012";

#[derive(Default)]
struct State {
    /// (namespace, ServiceAccount) to role ARN.
    associations: BTreeMap<(String, String), String>,
    /// Refusals to answer with next: (code, message, times).
    refusals: Vec<(&'static str, &'static str, u32)>,
    calls: Vec<String>,
}

/// The fake EKS Auth of one cluster.
pub struct FakeEksAuth<'a> {
    fake: &'a Fake,
    cluster: String,
    state: Mutex<State>,
}

fn refusal(code: &str, message: impl Into<String>) -> AwsError {
    let mut error = AwsError::new(OPERATION, AwsErrorKind::Other, message);
    error.code = Some(code.to_string());
    error
}

impl<'a> FakeEksAuth<'a> {
    /// EKS Auth of cluster `cluster`, whose roles live in `fake`.
    pub fn new(fake: &'a Fake, cluster: &str) -> FakeEksAuth<'a> {
        FakeEksAuth {
            fake,
            cluster: cluster.to_string(),
            state: Mutex::default(),
        }
    }

    /// Associates ServiceAccount `namespace/name` with the role `role_arn`.
    pub fn associate(&self, namespace: &str, name: &str, role_arn: &str) {
        self.state.lock().unwrap().associations.insert(
            (namespace.to_string(), name.to_string()),
            role_arn.to_string(),
        );
    }

    /// Removes the association of ServiceAccount `namespace/name`.
    pub fn disassociate(&self, namespace: &str, name: &str) {
        self.state
            .lock()
            .unwrap()
            .associations
            .remove(&(namespace.to_string(), name.to_string()));
    }

    /// Answers the next `times` calls with the error `code`.
    pub fn refuse(&self, code: &'static str, message: &'static str, times: u32) {
        self.state
            .lock()
            .unwrap()
            .refusals
            .push((code, message, times));
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    fn answer(&self, cluster: &str, token: &str) -> Result<PodIdentityGrant, AwsError> {
        let mut state = self.state.lock().unwrap();
        state.calls.push(format!("{OPERATION} {cluster}"));
        if let Some((code, message, times)) =
            state.refusals.iter_mut().find(|(_, _, times)| *times > 0)
        {
            *times -= 1;
            return Err(refusal(code, *message));
        }
        if cluster != self.cluster {
            return Err(refusal(
                "ResourceNotFoundException",
                format!("No cluster found for name: {cluster}."),
            ));
        }
        let claims = UnverifiedToken::parse(token)
            .map_err(|e| refusal("InvalidTokenException", e.to_string()))?
            .claims;
        if !claims.audiences().iter().any(|a| a == POD_IDENTITY_SERVICE) {
            return Err(refusal(
                "InvalidTokenException",
                "Token audience is invalid",
            ));
        }
        let subject = claims.subject().unwrap_or_default();
        let parts: Vec<&str> = subject.split(':').collect();
        let ["system", "serviceaccount", namespace, name] = parts.as_slice() else {
            return Err(refusal("InvalidTokenException", "Token subject is invalid"));
        };
        let role_arn = state
            .associations
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| {
                refusal(
                    "ResourceNotFoundException",
                    "Pod Identity Association not found",
                )
            })?;
        let role_name = role_arn.rsplit('/').next().unwrap_or_default().to_string();
        let (trust, role_id) = self
            .fake
            .edit(|w| {
                w.role(&role_name)
                    .map(|r| (r.trust_policy.clone(), r.role_id.clone()))
            })
            .ok_or_else(|| refusal("AccessDeniedException", "Role not found"))?;
        let partition = Arn::parse(&role_arn).map_or(Partition::Aws, |arn| arn.partition);
        let session = PodIdentitySession::new(partition, REGION, ACCOUNT, cluster, namespace, name);
        let document = TrustDocument::parse(&trust)
            .map_err(|e| refusal("AccessDeniedException", e.to_string()))?;
        if !ACTIONS
            .iter()
            .all(|action| evaluate(&document, &session.request(action)).is_allowed())
        {
            return Err(refusal(
                "AccessDeniedException",
                "Unauthorized to perform sts:AssumeRole / sts:TagSession",
            ));
        }
        let session_name = format!("eks-{cluster}-verify");
        Ok(PodIdentityGrant {
            assumed_role_arn: format!(
                "arn:{}:sts::{ACCOUNT}:assumed-role/{role_name}/{session_name}",
                partition.as_str()
            ),
            assume_role_id: format!("{role_id}:{session_name}"),
            namespace: namespace.to_string(),
            service_account: name.to_string(),
            association_id: "a-fakeassociation0".to_string(),
        })
    }
}

#[async_trait]
impl EksAuth for FakeEksAuth<'_> {
    fn region(&self) -> Option<String> {
        Some(REGION.to_string())
    }

    async fn assume_role_for_pod_identity(
        &self,
        cluster_name: &str,
        token: &str,
    ) -> Result<PodIdentityGrant, AwsError> {
        tokio::time::sleep(LATENCY).await;
        self.answer(cluster_name, token)
    }
}
