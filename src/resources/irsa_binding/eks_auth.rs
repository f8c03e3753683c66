//! EKS Auth as `verify` uses it: `AssumeRoleForPodIdentity`, the call the EKS Pod Identity
//! Agent makes for a pod: a ServiceAccount token (audience `pods.eks.amazonaws.com`) in,
//! credentials of the role the ServiceAccount's Pod Identity association names out
//! (<https://docs.aws.amazon.com/eks/latest/APIReference/API_auth_AssumeRoleForPodIdentity.html>).
//! The credentials themselves are dropped at once: `verify` keeps only who they are for.

use async_trait::async_trait;

use crate::aws::{AwsError, AwsErrorKind, aws_error};

/// The operation, as errors name it.
pub const OPERATION: &str = "eks-auth:AssumeRoleForPodIdentity";

/// What `AssumeRoleForPodIdentity` answered, without the credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodIdentityGrant {
    /// `assumedRoleUser.arn`: `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: String,
    /// `assumedRoleUser.assumeRoleId`: `ROLEID:SESSION`.
    pub assume_role_id: String,
    /// `subject.namespace`.
    pub namespace: String,
    /// `subject.serviceAccount`.
    pub service_account: String,
    /// `podIdentityAssociation.associationId`.
    pub association_id: String,
}

/// EKS Auth, as `verify` uses it.
#[async_trait]
pub trait EksAuth: Send + Sync {
    /// The region the calls go to. EKS Auth is regional: a cluster is found only through the
    /// endpoint of its own region, so this is the cluster's region.
    fn region(&self) -> Option<String>;

    /// `AssumeRoleForPodIdentity` for the cluster `cluster_name` with a ServiceAccount token.
    async fn assume_role_for_pod_identity(
        &self,
        cluster_name: &str,
        token: &str,
    ) -> Result<PodIdentityGrant, AwsError>;
}

/// EKS Auth through the SDK.
pub struct SdkEksAuth {
    client: aws_sdk_eksauth::Client,
}

impl SdkEksAuth {
    /// Wraps a client.
    pub fn new(client: aws_sdk_eksauth::Client) -> SdkEksAuth {
        SdkEksAuth { client }
    }
}

#[async_trait]
impl EksAuth for SdkEksAuth {
    fn region(&self) -> Option<String> {
        self.client.config().region().map(ToString::to_string)
    }

    async fn assume_role_for_pod_identity(
        &self,
        cluster_name: &str,
        token: &str,
    ) -> Result<PodIdentityGrant, AwsError> {
        let response = self
            .client
            .assume_role_for_pod_identity()
            .cluster_name(cluster_name)
            .token(token)
            .send()
            .await
            .map_err(aws_error(OPERATION))?;
        let user = response.assumed_role_user().ok_or_else(|| {
            AwsError::new(
                OPERATION,
                AwsErrorKind::Other,
                "the response carries no assumed-role user",
            )
        })?;
        Ok(PodIdentityGrant {
            assumed_role_arn: user.arn().to_string(),
            assume_role_id: user.assume_role_id().to_string(),
            namespace: response
                .subject()
                .map(|s| s.namespace().to_string())
                .unwrap_or_default(),
            service_account: response
                .subject()
                .map(|s| s.service_account().to_string())
                .unwrap_or_default(),
            association_id: response
                .pod_identity_association()
                .map(|a| a.association_id().to_string())
                .unwrap_or_default(),
        })
    }
}

/// Why EKS Auth refused, in the user's terms: the error codes of the API reference's
/// "Errors" section, each with what it means for the binding and what to check.
pub fn explain_refusal(error: &AwsError, cluster_name: &str, service_account: &str) -> String {
    let said = format!(
        "{} ({}: {})",
        OPERATION,
        error.code.as_deref().unwrap_or("no error code"),
        error.message
    );
    match error.code.as_deref() {
        Some("InvalidTokenException") => format!(
            "{said}: EKS Auth found the ServiceAccount token invalid. It accepts only tokens \
             signed by the cluster {cluster_name:?} with the audience pods.eks.amazonaws.com: \
             check that pod_identity.cluster_name names the cluster the provider's kubernetes \
             settings point at"
        ),
        Some("ExpiredTokenException") => format!(
            "{said}: the ServiceAccount token had expired when EKS Auth saw it; check the \
             clocks of the machine running Terraform and of the cluster"
        ),
        Some("AccessDeniedException") => format!(
            "{said}: either STS refused EKS the role (the trust policy, as STS evaluates it \
             with the session tags, does not admit pods.eks.amazonaws.com for \
             {service_account}), or the identity the provider uses may not call \
             eks-auth:AssumeRoleForPodIdentity (the EKS Pod Identity Agent's permission, in \
             the managed policy AmazonEKSWorkerNodePolicy)"
        ),
        Some("ResourceNotFoundException") => format!(
            "{said}: EKS knows no cluster {cluster_name:?} in this region, or the cluster has \
             no Pod Identity association for ServiceAccount {service_account} (associations \
             take a few seconds to be effective after they are created)"
        ),
        Some("InvalidParameterException" | "InvalidRequestException") => {
            format!("{said}: EKS Auth refused the request itself")
        }
        _ => error.to_string(),
    }
}

/// An `EksAuth` for tests of everything but Pod Identity: every call fails, saying so.
#[cfg(test)]
pub struct NoEksAuth;

#[cfg(test)]
#[async_trait]
impl EksAuth for NoEksAuth {
    fn region(&self) -> Option<String> {
        None
    }

    async fn assume_role_for_pod_identity(
        &self,
        _cluster_name: &str,
        _token: &str,
    ) -> Result<PodIdentityGrant, AwsError> {
        Err(AwsError::new(
            OPERATION,
            AwsErrorKind::Other,
            "this test has no EKS Auth",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::fake_aws::FakeAws;

    async fn client(fake: &FakeAws) -> aws_sdk_eksauth::Client {
        aws_sdk_eksauth::Client::new(&fake.sdk_config("eu-west-1").await)
    }

    #[tokio::test]
    async fn the_grant_is_read_from_the_api_references_response_shape() {
        let fake = FakeAws::new(|_| {
            (
                200,
                serde_json::json!({
                    "assumedRoleUser": {
                        "arn": "arn:aws:sts::123456789012:assumed-role/runner/eks-ci-x",
                        "assumeRoleId": "AROAEXAMPLE:eks-ci-x",
                    },
                    "audience": "pods.eks.amazonaws.com",
                    "credentials": {
                        "accessKeyId": "ASIA", "secretAccessKey": "s", "sessionToken": "t",
                        "expiration": 4102444800_i64,
                    },
                    "podIdentityAssociation": {
                        "associationArn": "arn:aws:eks:eu-west-1:123456789012:podidentityassociation/ci/a-abcdefghijklmnopq",
                        "associationId": "a-abcdefghijklmnopq",
                    },
                    "subject": {"namespace": "ci", "serviceAccount": "runner"},
                })
                .to_string(),
            )
        });
        let eks_auth = SdkEksAuth::new(client(&fake).await);
        assert_eq!(eks_auth.region().as_deref(), Some("eu-west-1"));
        let grant = eks_auth
            .assume_role_for_pod_identity("ci", "a.b.c")
            .await
            .unwrap();
        assert_eq!(
            grant,
            PodIdentityGrant {
                assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/runner/eks-ci-x".into(),
                assume_role_id: "AROAEXAMPLE:eks-ci-x".into(),
                namespace: "ci".into(),
                service_account: "runner".into(),
                association_id: "a-abcdefghijklmnopq".into(),
            }
        );
        let seen = &fake.seen()[0];
        assert!(
            seen.uri
                .ends_with("/clusters/ci/assume-role-for-pod-identity"),
            "{}",
            seen.uri
        );
        assert_eq!(seen.body, r#"{"token":"a.b.c"}"#);
    }

    #[tokio::test]
    async fn refusals_keep_their_code_and_are_explained() {
        let fake = FakeAws::new(|_| {
            (
                400,
                r#"{"__type":"InvalidTokenException","message":"Failed to verify token"}"#
                    .to_string(),
            )
        });
        let error = SdkEksAuth::new(client(&fake).await)
            .assume_role_for_pod_identity("ci", "a.b.c")
            .await
            .unwrap_err();
        assert_eq!(error.code.as_deref(), Some("InvalidTokenException"));
        let explained = explain_refusal(&error, "ci", "ci/runner");
        assert!(
            explained.starts_with(
                "eks-auth:AssumeRoleForPodIdentity (InvalidTokenException: Failed to verify \
                 token): EKS Auth found the ServiceAccount token invalid."
            ),
            "{explained}"
        );
        for (code, says) in [
            ("ExpiredTokenException", "had expired"),
            (
                "AccessDeniedException",
                "eks-auth:AssumeRoleForPodIdentity (the EKS",
            ),
            ("ResourceNotFoundException", "no Pod Identity association"),
            ("InvalidRequestException", "refused the request itself"),
        ] {
            let mut error = AwsError::new(OPERATION, AwsErrorKind::Other, "m");
            error.code = Some(code.into());
            let explained = explain_refusal(&error, "ci", "ci/runner");
            assert!(explained.contains(says), "{code}: {explained}");
        }
    }
}
