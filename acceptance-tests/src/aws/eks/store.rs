//! The associations the rig holds, and the rules EKS keeps among them: one association per
//! (cluster, namespace, service account), ids `a-` + 17 lower-case letters and digits, ARNs
//! `arn:PARTITION:eks:REGION:ACCOUNT:podidentityassociation/CLUSTER/ID`
//! (<https://docs.aws.amazon.com/eks/latest/APIReference/API_PodIdentityAssociation.html>,
//! <https://docs.aws.amazon.com/eks/latest/APIReference/API_CreatePodIdentityAssociation.html>).
//! No I/O: the role checks happen before, in [`super::rest`].

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Cluster;
use super::rest::ApiError;

/// One association, with every field of the API's `PodIdentityAssociation`.
#[derive(Debug, Clone, PartialEq)]
pub struct Association {
    /// The cluster's name.
    pub cluster_name: String,
    /// The namespace.
    pub namespace: String,
    /// The service account.
    pub service_account: String,
    /// The IAM role.
    pub role_arn: String,
    /// Its ARN.
    pub association_arn: String,
    /// Its id, `a-` + 17 characters.
    pub association_id: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds.
    pub modified_at: f64,
    /// Whether EKS Auth passes no session tags.
    pub disable_session_tags: bool,
    /// A role in another account to chain to (stored and echoed; EKS Auth does not chain).
    pub target_role_arn: Option<String>,
    /// An inline session policy (stored and echoed; EKS Auth does not pass it on).
    pub policy: Option<String>,
    /// The idempotency token of the create.
    pub client_request_token: Option<String>,
}

impl Association {
    /// The API's `PodIdentityAssociation` shape.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "clusterName": self.cluster_name,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "roleArn": self.role_arn,
            "associationArn": self.association_arn,
            "associationId": self.association_id,
            "tags": self.tags,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "disableSessionTags": self.disable_session_tags,
        });
        if let Some(target) = &self.target_role_arn {
            value["targetRoleArn"] = json!(target);
        }
        if let Some(policy) = &self.policy {
            value["policy"] = json!(policy);
        }
        value
    }

    /// The API's `PodIdentityAssociationSummary` shape.
    pub fn to_summary_json(&self) -> Value {
        json!({
            "clusterName": self.cluster_name,
            "namespace": self.namespace,
            "serviceAccount": self.service_account,
            "associationArn": self.association_arn,
            "associationId": self.association_id,
        })
    }
}

/// What a create asks for (already validated).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewAssociation {
    /// The namespace.
    pub namespace: String,
    /// The service account.
    pub service_account: String,
    /// The IAM role.
    pub role_arn: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// `disableSessionTags`.
    pub disable_session_tags: bool,
    /// `targetRoleArn`.
    pub target_role_arn: Option<String>,
    /// `policy`.
    pub policy: Option<String>,
    /// `clientRequestToken`.
    pub client_request_token: Option<String>,
}

/// What an update changes (already validated); `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssociationChanges {
    /// `roleArn`.
    pub role_arn: Option<String>,
    /// `disableSessionTags`.
    pub disable_session_tags: Option<bool>,
    /// `targetRoleArn`.
    pub target_role_arn: Option<String>,
    /// `policy`.
    pub policy: Option<String>,
}

/// Every association of every cluster of one rig.
#[derive(Debug, Default)]
pub struct Store {
    associations: Vec<Association>,
}

/// A new association id: `a-` + 17 lower-case letters and digits, as EKS's
/// (e.g. `a-kyevsbqhrnchy79jw`).
pub fn new_association_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..17)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect();
    format!("a-{tail}")
}

fn not_found(cluster: &Cluster, id: &str) -> ApiError {
    ApiError::new(
        404,
        "ResourceNotFoundException",
        format!(
            "Pod identity association {id} not found in cluster {}.",
            cluster.name
        ),
    )
    .with_cluster(&cluster.name)
}

impl Store {
    /// Every association, in creation order.
    pub fn all(&self) -> Vec<Association> {
        self.associations.clone()
    }

    /// Creates an association in `cluster`; a repeated `clientRequestToken` with the same
    /// subject and role answers the association it created (an SDK retry: the SDK fills the
    /// idempotency token once per call).
    pub fn create(
        &mut self,
        cluster: &Cluster,
        new: NewAssociation,
        now: f64,
    ) -> Result<Association, ApiError> {
        if let Some(token) = &new.client_request_token
            && let Some(earlier) = self.associations.iter().find(|a| {
                a.cluster_name == cluster.name
                    && a.client_request_token.as_ref() == Some(token)
                    && a.namespace == new.namespace
                    && a.service_account == new.service_account
                    && a.role_arn == new.role_arn
            })
        {
            return Ok(earlier.clone());
        }
        if let Some(existing) =
            self.for_subject(&cluster.name, &new.namespace, &new.service_account)
        {
            return Err(ApiError::new(
                409,
                "ResourceInUseException",
                format!("Association already exists: {}", existing.association_id),
            )
            .with_cluster(&cluster.name));
        }
        let association_id = new_association_id();
        let association = Association {
            cluster_name: cluster.name.clone(),
            association_arn: format!(
                "arn:{}:eks:{}:{}:podidentityassociation/{}/{association_id}",
                cluster.partition, cluster.region, cluster.account, cluster.name
            ),
            association_id,
            namespace: new.namespace,
            service_account: new.service_account,
            role_arn: new.role_arn,
            tags: new.tags,
            created_at: now,
            modified_at: now,
            disable_session_tags: new.disable_session_tags,
            target_role_arn: new.target_role_arn,
            policy: new.policy,
            client_request_token: new.client_request_token,
        };
        self.associations.push(association.clone());
        Ok(association)
    }

    /// The association `id` of `cluster`.
    pub fn describe(&self, cluster: &Cluster, id: &str) -> Result<Association, ApiError> {
        self.associations
            .iter()
            .find(|a| a.cluster_name == cluster.name && a.association_id == id)
            .cloned()
            .ok_or_else(|| not_found(cluster, id))
    }

    /// The association of (`cluster`, `namespace`, `service_account`), if any.
    pub fn for_subject(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Option<&Association> {
        self.associations.iter().find(|a| {
            a.cluster_name == cluster
                && a.namespace == namespace
                && a.service_account == service_account
        })
    }

    /// The associations of `cluster`, filtered by namespace and service account when given.
    pub fn list(
        &self,
        cluster: &Cluster,
        namespace: Option<&str>,
        service_account: Option<&str>,
    ) -> Vec<Association> {
        self.associations
            .iter()
            .filter(|a| a.cluster_name == cluster.name)
            .filter(|a| namespace.is_none_or(|n| a.namespace == n))
            .filter(|a| service_account.is_none_or(|s| a.service_account == s))
            .cloned()
            .collect()
    }

    /// Applies `changes` to the association `id` of `cluster`.
    pub fn update(
        &mut self,
        cluster: &Cluster,
        id: &str,
        changes: AssociationChanges,
        now: f64,
    ) -> Result<Association, ApiError> {
        let association = self
            .associations
            .iter_mut()
            .find(|a| a.cluster_name == cluster.name && a.association_id == id)
            .ok_or_else(|| not_found(cluster, id))?;
        if let Some(role) = changes.role_arn {
            association.role_arn = role;
        }
        if let Some(disable) = changes.disable_session_tags {
            association.disable_session_tags = disable;
        }
        if let Some(target) = changes.target_role_arn {
            // An empty targetRoleArn removes it.
            association.target_role_arn = (!target.is_empty()).then_some(target);
        }
        if let Some(policy) = changes.policy {
            association.policy = (!policy.is_empty()).then_some(policy);
        }
        association.modified_at = now;
        Ok(association.clone())
    }

    /// Removes the association `id` of `cluster` and answers it.
    pub fn delete(&mut self, cluster: &Cluster, id: &str) -> Result<Association, ApiError> {
        let index = self
            .associations
            .iter()
            .position(|a| a.cluster_name == cluster.name && a.association_id == id)
            .ok_or_else(|| not_found(cluster, id))?;
        Ok(self.associations.remove(index))
    }
}
