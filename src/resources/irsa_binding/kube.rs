//! [`Kube`] over the provider's Kubernetes client layer.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use crate::kubernetes::{KubeClient, KubeError};

use super::remote::Kube;

/// Kubernetes through [`KubeClient`].
pub struct ClientKube {
    client: KubeClient,
}

impl ClientKube {
    /// Wraps a client.
    pub fn new(client: KubeClient) -> ClientKube {
        ClientKube { client }
    }
}

fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

#[async_trait]
impl Kube for ClientKube {
    async fn create_service_account(
        &self,
        account: &ServiceAccount,
    ) -> Result<ServiceAccount, KubeError> {
        self.client
            .create(namespace_of(&account.metadata), account)
            .await
    }

    async fn get_service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ServiceAccount>, KubeError> {
        self.client.get_opt(namespace, name).await
    }

    async fn patch_service_account(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<ServiceAccount, KubeError> {
        self.client.merge_patch(namespace, name, patch).await
    }

    async fn apply_service_account(
        &self,
        namespace: &str,
        name: &str,
        intent: &serde_json::Value,
        force: bool,
    ) -> Result<ServiceAccount, KubeError> {
        self.client.apply(namespace, name, intent, force).await
    }

    async fn patch_service_account_as(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
        manager: &str,
    ) -> Result<ServiceAccount, KubeError> {
        self.client
            .merge_patch_as(namespace, name, patch, manager)
            .await
    }

    async fn delete_service_account(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<bool, KubeError> {
        self.client
            .delete::<ServiceAccount>(namespace, name, uid)
            .await
    }

    async fn create_role(&self, role: &Role) -> Result<Role, KubeError> {
        self.client.create(namespace_of(&role.metadata), role).await
    }

    async fn get_role(&self, namespace: &str, name: &str) -> Result<Option<Role>, KubeError> {
        self.client.get_opt(namespace, name).await
    }

    async fn replace_role(&self, role: &Role) -> Result<Role, KubeError> {
        self.client
            .replace(namespace_of(&role.metadata), name_of(&role.metadata), role)
            .await
    }

    async fn delete_role(&self, namespace: &str, name: &str) -> Result<bool, KubeError> {
        self.client.delete::<Role>(namespace, name, None).await
    }

    async fn create_role_binding(&self, binding: &RoleBinding) -> Result<RoleBinding, KubeError> {
        self.client
            .create(namespace_of(&binding.metadata), binding)
            .await
    }

    async fn get_role_binding(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<RoleBinding>, KubeError> {
        self.client.get_opt(namespace, name).await
    }

    async fn replace_role_binding(&self, binding: &RoleBinding) -> Result<RoleBinding, KubeError> {
        self.client
            .replace(
                namespace_of(&binding.metadata),
                name_of(&binding.metadata),
                binding,
            )
            .await
    }

    async fn delete_role_binding(&self, namespace: &str, name: &str) -> Result<bool, KubeError> {
        self.client
            .delete::<RoleBinding>(namespace, name, None)
            .await
    }

    async fn list_role_bindings(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<RoleBinding>, KubeError> {
        self.client.list_all(label, value).await
    }

    async fn get_json(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<Option<serde_json::Value>, KubeError> {
        self.client.get_json(path, accept).await
    }

    async fn create_token(
        &self,
        namespace: &str,
        name: &str,
        audience: &str,
        expiration_seconds: i64,
    ) -> Result<String, KubeError> {
        self.client
            .create_token(namespace, name, &[audience.to_string()], expiration_seconds)
            .await
    }
}
