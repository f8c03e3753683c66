//! [`Eks`] over the AWS SDK client: the Pod Identity association operations of the EKS API
//! reference (<https://docs.aws.amazon.com/eks/latest/APIReference/API_Operations.html>),
//! every error classified through [`aws_error`]. `ResourceInUseException` (an association for
//! the ServiceAccount exists, HTTP 409) counts as `AlreadyExists`.

use async_trait::async_trait;

use crate::aws::{AwsError, AwsErrorKind, aws_error};

use super::remote::{Association, AssociationSpec, Eks};

/// EKS through the SDK.
pub struct SdkEks {
    client: aws_sdk_eks::Client,
}

impl SdkEks {
    /// Wraps a client.
    pub fn new(client: aws_sdk_eks::Client) -> SdkEks {
        SdkEks { client }
    }
}

/// `error` with the EKS codes the shared classification does not know.
fn eks_kind(mut error: AwsError) -> AwsError {
    match error.code.as_deref() {
        Some("ResourceInUseException") => error.kind = AwsErrorKind::AlreadyExists,
        Some("ResourceNotFoundException") => error.kind = AwsErrorKind::NotFound,
        Some("InvalidParameterException" | "InvalidRequestException") => {
            error.kind = AwsErrorKind::Invalid
        }
        _ => {}
    }
    error
}

fn association_of(a: &aws_sdk_eks::types::PodIdentityAssociation) -> Association {
    Association {
        cluster: a.cluster_name().unwrap_or_default().to_string(),
        id: a.association_id().unwrap_or_default().to_string(),
        arn: a.association_arn().unwrap_or_default().to_string(),
        namespace: a.namespace().unwrap_or_default().to_string(),
        service_account: a.service_account().unwrap_or_default().to_string(),
        role_arn: a.role_arn().unwrap_or_default().to_string(),
        tags: a
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

fn missing(operation: &'static str) -> AwsError {
    AwsError::new(
        operation,
        AwsErrorKind::Other,
        "the response has no association",
    )
}

#[async_trait]
impl Eks for SdkEks {
    async fn create_association(&self, spec: &AssociationSpec) -> Result<Association, AwsError> {
        const OP: &str = "eks:CreatePodIdentityAssociation";
        let response = self
            .client
            .create_pod_identity_association()
            .cluster_name(&spec.cluster)
            .namespace(&spec.namespace)
            .service_account(&spec.service_account)
            .role_arn(&spec.role_arn)
            .set_tags(Some(spec.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(aws_error(OP))
            .map_err(eks_kind)?;
        response
            .association()
            .map(association_of)
            .ok_or_else(|| missing(OP))
    }

    async fn describe_association(
        &self,
        cluster: &str,
        id: &str,
    ) -> Result<Option<Association>, AwsError> {
        const OP: &str = "eks:DescribePodIdentityAssociation";
        match self
            .client
            .describe_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .send()
            .await
            .map_err(aws_error(OP))
            .map_err(eks_kind)
        {
            Ok(response) => Ok(response.association().map(association_of)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn list_associations(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Vec<String>, AwsError> {
        const OP: &str = "eks:ListPodIdentityAssociations";
        let mut ids = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let response = self
                .client
                .list_pod_identity_associations()
                .cluster_name(cluster)
                .namespace(namespace)
                .service_account(service_account)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(aws_error(OP))
                .map_err(eks_kind)?;
            ids.extend(
                response
                    .associations()
                    .iter()
                    .filter(|a| {
                        a.namespace() == Some(namespace)
                            && a.service_account() == Some(service_account)
                    })
                    .filter_map(|a| a.association_id().map(str::to_string)),
            );
            match response.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => return Ok(ids),
            }
        }
    }

    async fn update_association(
        &self,
        cluster: &str,
        id: &str,
        role_arn: &str,
    ) -> Result<Association, AwsError> {
        const OP: &str = "eks:UpdatePodIdentityAssociation";
        let response = self
            .client
            .update_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .role_arn(role_arn)
            .send()
            .await
            .map_err(aws_error(OP))
            .map_err(eks_kind)?;
        response
            .association()
            .map(association_of)
            .ok_or_else(|| missing(OP))
    }

    async fn delete_association(&self, cluster: &str, id: &str) -> Result<(), AwsError> {
        const OP: &str = "eks:DeletePodIdentityAssociation";
        self.client
            .delete_pod_identity_association()
            .cluster_name(cluster)
            .association_id(id)
            .send()
            .await
            .map(drop)
            .map_err(aws_error(OP))
            .map_err(eks_kind)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::provider::fake_aws::FakeAws;

    const ROLE: &str = "arn:aws:iam::123456789012:role/ci-runner-gitlab-runner";

    fn association(id: &str) -> serde_json::Value {
        json!({"association": {
            "clusterName": "gitlabrunner-acc",
            "namespace": "ci-runner",
            "serviceAccount": "gitlab-runner",
            "roleArn": ROLE,
            "associationArn": format!("arn:aws:eks:us-east-1:123456789012:podidentityassociation/gitlabrunner-acc/{id}"),
            "associationId": id,
            "tags": {"managed-by": "terraform-provider-gitlabrunner"},
        }})
    }

    async fn client(fake: &FakeAws) -> SdkEks {
        let sdk = fake.sdk_config("us-east-1").await;
        let config = aws_sdk_eks::config::Builder::from(&sdk)
            .endpoint_url("http://eks.test")
            .build();
        SdkEks::new(aws_sdk_eks::Client::from_conf(config))
    }

    #[tokio::test]
    async fn requests_follow_the_eks_api_reference_and_answers_are_read() {
        let fake = FakeAws::new(|seen| {
            if seen.uri.contains("/pod-identity-associations/a-1") {
                (200, association("a-1").to_string())
            } else if seen.body.contains("roleArn") {
                (200, association("a-2").to_string())
            } else {
                let page = if seen.uri.contains("nextToken=p2") {
                    json!({"associations": [{"namespace": "ci-runner", "serviceAccount": "gitlab-runner", "associationId": "a-4"}]})
                } else {
                    json!({"associations": [{"namespace": "ci-runner", "serviceAccount": "gitlab-runner", "associationId": "a-3"}], "nextToken": "p2"})
                };
                (200, page.to_string())
            }
        });
        let eks = client(&fake).await;
        let spec = AssociationSpec {
            cluster: "gitlabrunner-acc".into(),
            namespace: "ci-runner".into(),
            service_account: "gitlab-runner".into(),
            role_arn: ROLE.into(),
            tags: BTreeMap::from([(
                "managed-by".into(),
                "terraform-provider-gitlabrunner".into(),
            )]),
        };
        let created = eks.create_association(&spec).await.unwrap();
        assert_eq!(
            (created.id.as_str(), created.role_arn.as_str()),
            ("a-2", ROLE)
        );
        assert_eq!(
            created.tags["managed-by"],
            "terraform-provider-gitlabrunner"
        );
        let seen = fake.seen();
        assert!(
            seen[0]
                .uri
                .starts_with("http://eks.test/clusters/gitlabrunner-acc/pod-identity-associations"),
            "{}",
            seen[0].uri
        );
        let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(body["namespace"], "ci-runner");
        assert_eq!(body["serviceAccount"], "gitlab-runner");
        assert_eq!(body["roleArn"], ROLE);
        assert_eq!(
            body["tags"]["managed-by"],
            "terraform-provider-gitlabrunner"
        );
        let found = eks
            .describe_association("gitlabrunner-acc", "a-1")
            .await
            .unwrap();
        assert_eq!(found.unwrap().id, "a-1");
        let ids = eks
            .list_associations("gitlabrunner-acc", "ci-runner", "gitlab-runner")
            .await
            .unwrap();
        assert_eq!(ids, ["a-3", "a-4"], "every page");
        let list = &fake.seen()[2].uri;
        assert!(
            list.contains("namespace=ci-runner") && list.contains("serviceAccount=gitlab-runner"),
            "{list}"
        );
    }

    #[tokio::test]
    async fn eks_errors_are_classified() {
        let fake = FakeAws::new(|seen| {
            let (status, kind) = if seen.uri.contains("/a-gone") {
                (404, "ResourceNotFoundException")
            } else if seen.body.contains("roleArn") {
                (409, "ResourceInUseException")
            } else {
                (400, "InvalidParameterException")
            };
            (status, json!({"__type": kind, "message": "m"}).to_string())
        });
        let eks = client(&fake).await;
        let spec = AssociationSpec {
            cluster: "c".into(),
            namespace: "n".into(),
            service_account: "s".into(),
            role_arn: ROLE.into(),
            tags: BTreeMap::new(),
        };
        let taken = eks.create_association(&spec).await.unwrap_err();
        assert!(taken.is_already_exists(), "{taken:?}");
        assert_eq!(eks.describe_association("c", "a-gone").await.unwrap(), None);
        let gone = eks.delete_association("c", "a-gone").await.unwrap_err();
        assert!(gone.is_not_found(), "{gone:?}");
        let invalid = eks.list_associations("c", "n", "s").await.unwrap_err();
        assert_eq!(invalid.kind, AwsErrorKind::Invalid, "{invalid:?}");
    }
}
