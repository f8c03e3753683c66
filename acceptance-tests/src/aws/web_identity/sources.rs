//! The gate's view of the rig: IAM read from the AWS emulator (in the partition of the role,
//! since moto keeps one IAM per partition), and the issuer mapped to the Kubernetes API of the
//! run, which serves the discovery document and the JWKS at the paths the issuer would.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{IdentitySources, ProviderRecord, RoleAndIssuerSources, host_path};
use crate::aws::AwsClients;

/// IAM of the emulator at `endpoint`, and the Kubernetes API of `kube`.
pub struct RigSources {
    endpoint: String,
    clients: Mutex<BTreeMap<&'static str, AwsClients>>,
    kube: kube::Client,
    cluster_issuer: OnceCell<Option<String>>,
}

impl RigSources {
    /// Sources for the emulator at `endpoint` and the cluster behind `kube`.
    pub fn new(endpoint: &str, kube: kube::Client) -> RigSources {
        RigSources {
            endpoint: endpoint.to_string(),
            clients: Mutex::new(BTreeMap::new()),
            kube,
            cluster_issuer: OnceCell::new(),
        }
    }

    /// IAM clients in a region of the partition of `role_arn`.
    async fn iam(&self, role_arn: &str) -> aws_sdk_iam::Client {
        self.clients_for(role_arn).await.iam
    }

    /// Clients of the emulator in a region of the partition of `role_arn`.
    pub(crate) async fn clients_for(&self, role_arn: &str) -> AwsClients {
        let region = match role_arn.split(':').nth(1) {
            Some("aws-us-gov") => "us-gov-west-1",
            Some("aws-cn") => "cn-north-1",
            _ => "us-east-1",
        };
        let known = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(region)
            .cloned();
        match known {
            Some(clients) => clients,
            None => {
                let clients = AwsClients::new(&self.endpoint, region).await;
                self.clients
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(region, clients.clone());
                clients
            }
        }
    }

    /// GETs `path` from the Kubernetes API; `None` on 404.
    async fn kube_get(&self, path: &str, accept: &str) -> Result<Option<Value>, String> {
        let request = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        match self.kube.request_text(request).await {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{path} is not JSON: {e}")),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
            Err(error) => Err(format!("GET {path}: {error}")),
        }
    }

    /// The issuer the cluster's discovery document names.
    async fn cluster_issuer(&self) -> Option<String> {
        self.cluster_issuer
            .get_or_init(|| async {
                let discovery = self
                    .kube_get("/.well-known/openid-configuration", "application/json")
                    .await
                    .ok()??;
                discovery.get("issuer")?.as_str().map(str::to_string)
            })
            .await
            .clone()
    }
}

impl RoleAndIssuerSources for RigSources {
    fn trust_policy<'a>(
        &'a self,
        role_arn: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move {
            let name = role_arn.rsplit('/').next().unwrap_or_default();
            let iam = self.iam(role_arn).await;
            let role = match iam.get_role().role_name(name).send().await {
                Ok(output) => output.role,
                Err(error)
                    if aws_sdk_iam::error::ProvideErrorMetadata::code(&error)
                        == Some("NoSuchEntity") =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(format!("GetRole {name}: {error:?}")),
            };
            let Some(document) = role.and_then(|r| r.assume_role_policy_document) else {
                return Ok(None);
            };
            let decoded = if document.trim_start().starts_with('{') {
                document
            } else {
                percent_encoding::percent_decode_str(&document)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            serde_json::from_str(&decoded)
                .map(Some)
                .map_err(|e| format!("the trust policy of {name} is not JSON: {e}"))
        })
    }

    fn fetch<'a>(
        &'a self,
        issuer: &'a str,
        path: &'a str,
        accept: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, String>> {
        Box::pin(async move {
            match self.cluster_issuer().await {
                Some(cluster) if host_path(&cluster) == host_path(issuer) => {
                    self.kube_get(path, accept).await
                }
                // Another issuer: as unreachable for the rig as an unknown host for STS.
                _ => Ok(None),
            }
        })
    }
}

impl IdentitySources for RigSources {
    fn oidc_providers<'a>(
        &'a self,
        role_arn: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ProviderRecord>, String>> {
        Box::pin(async move {
            let iam = self.iam(role_arn).await;
            let listed = iam
                .list_open_id_connect_providers()
                .send()
                .await
                .map_err(|e| format!("ListOpenIDConnectProviders: {e:?}"))?;
            let mut providers = Vec::new();
            for arn in listed
                .open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn())
            {
                let Ok(provider) = iam
                    .get_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .send()
                    .await
                else {
                    continue; // deleted meanwhile
                };
                providers.push(ProviderRecord {
                    arn: arn.to_string(),
                    url: provider.url().unwrap_or_default().to_string(),
                    client_ids: provider.client_id_list().to_vec(),
                });
            }
            Ok(providers)
        })
    }
}
