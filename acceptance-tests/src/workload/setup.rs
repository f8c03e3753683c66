//! What a workload needs before Terraform runs: namespaces, an IAM OIDC provider, managed
//! policies, manager roles. Made with the harness's own clients, straight at the emulators.

use futures::stream::{self, StreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};

use crate::aws::AwsClients;

/// Why a prerequisite could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A Kubernetes call failed.
    #[error("creating namespace {name}: {message}")]
    Namespace {
        /// The namespace.
        name: String,
        /// Why.
        message: String,
    },
    /// An IAM call failed.
    #[error("{operation}: {message}")]
    Iam {
        /// What was attempted.
        operation: String,
        /// Why.
        message: String,
    },
}

/// How many setup calls run at once.
const SETUP_CONCURRENCY: usize = 16;

/// Creates every namespace in `names` (an existing one is fine).
pub async fn create_namespaces(
    client: &kube::Client,
    names: impl IntoIterator<Item = String>,
) -> Result<(), SetupError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let results: Vec<Result<(), SetupError>> = stream::iter(names)
        .map(|name| {
            let api = api.clone();
            async move {
                let namespace = Namespace {
                    metadata: kube::api::ObjectMeta {
                        name: Some(name.clone()),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                match api.create(&PostParams::default(), &namespace).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                    Err(error) => Err(SetupError::Namespace {
                        name,
                        message: crate::error_chain(&error),
                    }),
                }
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Deletes every namespace in `names` (a missing one is fine); says which could not be deleted.
pub async fn delete_namespaces(client: &kube::Client, names: impl IntoIterator<Item = String>) {
    let api: Api<Namespace> = Api::all(client.clone());
    stream::iter(names)
        .for_each_concurrent(SETUP_CONCURRENCY, |name| {
            let api = api.clone();
            async move {
                match api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(error) => crate::say!("could not delete namespace {name}: {error}"),
                }
            }
        })
        .await;
}

fn iam_error(operation: &str, error: impl std::error::Error) -> SetupError {
    SetupError::Iam {
        operation: operation.to_string(),
        message: crate::error_chain(&error),
    }
}

/// The client ids every test registers the shared cluster's issuer with: STS's own audience,
/// and a second audience that tests changing a binding's `audience` switch to. The provider
/// checks that a binding's audience is one of them (as STS does), and whichever test registers
/// the issuer first decides the list, so they all use this one.
pub const CLUSTER_CLIENT_IDS: [&str; 2] = ["sts.amazonaws.com", "gitlab-acc"];

/// [`CLUSTER_CLIENT_IDS`] as the SDK takes them.
pub fn cluster_client_ids() -> Option<Vec<String>> {
    Some(CLUSTER_CLIENT_IDS.map(String::from).to_vec())
}

/// Registers the cluster's service account issuer (its `/.well-known/openid-configuration`)
/// as an IAM OIDC identity provider, or finds it already registered; returns its ARN. The
/// provider checks at plan time that a binding's OIDC provider is the cluster's, so a made-up
/// issuer would be refused.
pub async fn create_oidc_provider(
    aws: &AwsClients,
    kube: &kube::Client,
) -> Result<String, SetupError> {
    let kube_error = |message: String| SetupError::Iam {
        operation: "GET /.well-known/openid-configuration".into(),
        message,
    };
    let request = http::Request::get("/.well-known/openid-configuration")
        .body(Vec::new())
        .map_err(|e| kube_error(e.to_string()))?;
    let text = kube
        .request_text(request)
        .await
        .map_err(|e| kube_error(crate::error_chain(&e)))?;
    let discovery: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| kube_error(e.to_string()))?;
    let url = discovery["issuer"]
        .as_str()
        .ok_or_else(|| kube_error(format!("no issuer in {text}")))?
        .to_string();
    let created = aws
        .iam
        .create_open_id_connect_provider()
        .url(&url)
        .set_client_id_list(cluster_client_ids())
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .send()
        .await;
    match created {
        Ok(created) => Ok(created
            .open_id_connect_provider_arn()
            .unwrap_or_default()
            .to_string()),
        Err(error)
            if aws_sdk_iam::error::ProvideErrorMetadata::code(&error)
                == Some("EntityAlreadyExists") =>
        {
            let host_path = url.trim_start_matches("https://").trim_end_matches('/');
            let listed = aws
                .iam
                .list_open_id_connect_providers()
                .send()
                .await
                .map_err(|e| iam_error("iam:ListOpenIDConnectProviders", e))?;
            listed
                .open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn())
                .find(|arn| arn.ends_with(&format!(":oidc-provider/{host_path}")))
                .map(str::to_string)
                .ok_or_else(|| SetupError::Iam {
                    operation: "iam:ListOpenIDConnectProviders".into(),
                    message: format!("{url} exists but is not listed"),
                })
        }
        Err(error) => Err(iam_error("iam:CreateOpenIDConnectProvider", error)),
    }
}

/// Creates `count` customer managed policies named `PREFIX-N`; returns their ARNs.
pub async fn create_managed_policies(
    aws: &AwsClients,
    prefix: &str,
    count: usize,
) -> Result<Vec<String>, SetupError> {
    let mut arns = Vec::with_capacity(count);
    for i in 1..=count {
        let created = aws
            .iam
            .create_policy()
            .policy_name(format!("{prefix}-{i}"))
            .policy_document(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#,
            )
            .send()
            .await
            .map_err(|e| iam_error("iam:CreatePolicy", e))?;
        arns.push(
            created
                .policy()
                .and_then(|p| p.arn())
                .unwrap_or_default()
                .to_string(),
        );
    }
    Ok(arns)
}

/// The trust policy of manager roles made by tests (an EC2 principal: never assumed here).
const MANAGER_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Creates the IAM roles `names` (the managers a `gitlabrunner_cache` puts its policy on).
pub async fn create_roles(
    aws: &AwsClients,
    names: impl IntoIterator<Item = String>,
) -> Result<(), SetupError> {
    let results: Vec<Result<(), SetupError>> = stream::iter(names)
        .map(|name| async move {
            aws.iam
                .create_role()
                .role_name(&name)
                .assume_role_policy_document(MANAGER_TRUST)
                .send()
                .await
                .map(drop)
                .map_err(|e| iam_error(&format!("iam:CreateRole {name}"), e))
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Deletes the IAM roles `names` (made by [`create_roles`]); missing ones are fine.
pub async fn delete_roles(aws: &AwsClients, names: impl IntoIterator<Item = String>) {
    stream::iter(names)
        .for_each_concurrent(SETUP_CONCURRENCY, |name| async move {
            let _ = aws.iam.delete_role().role_name(&name).send().await;
        })
        .await;
}
