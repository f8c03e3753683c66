//! [`Iam`] and [`Sts`] over the AWS SDK clients: every error classified through
//! [`aws_error`], documents decoded as IAM returns them. Throttling and 5xx are retried by the
//! SDK (the provider configures its retry budget).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_iam::types::Tag;

use crate::aws::policy::decode_document;
use crate::aws::{AwsError, AwsErrorKind, NotFoundAsNone, OidcProviderArn, aws_error};
use crate::provider::ProviderData;
use crate::wiring::ProviderRead;

use super::remote::{Iam, IamRole, OidcProvider, RoleSpec, Sts};

/// IAM through the SDK.
pub struct SdkIam {
    client: aws_sdk_iam::Client,
    process: Option<Arc<ProviderData>>,
}

impl SdkIam {
    /// Wraps a client.
    pub fn new(client: aws_sdk_iam::Client) -> SdkIam {
        SdkIam {
            client,
            process: None,
        }
    }

    /// Reads OIDC providers through `process`'s per-process cache (the one the wiring check
    /// fills, [`ProviderData::oidc_provider`]); only a provider the cache did not find is read
    /// again directly, so that `verify` still sees one that appears while it waits.
    pub fn reading_oidc_providers_through(mut self, process: Arc<ProviderData>) -> SdkIam {
        self.process = Some(process);
        self
    }
}

/// STS through the SDK.
pub struct SdkSts {
    client: aws_sdk_sts::Client,
}

impl SdkSts {
    /// Wraps a client.
    pub fn new(client: aws_sdk_sts::Client) -> SdkSts {
        SdkSts { client }
    }
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| AwsError::new("iam:TagRole", AwsErrorKind::Invalid, e.to_string()))
        })
        .collect()
}

fn role_of(role: &aws_sdk_iam::types::Role) -> IamRole {
    IamRole {
        name: role.role_name().to_string(),
        path: role.path().to_string(),
        arn: role.arn().to_string(),
        role_id: role.role_id().to_string(),
        description: role
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        max_session_duration: role.max_session_duration().map_or(3600, i64::from),
        permissions_boundary_arn: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        trust_policy: role
            .assume_role_policy_document()
            .map(decode_document)
            .unwrap_or_default(),
    }
}

fn seconds(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[async_trait]
impl Iam for SdkIam {
    async fn create_role(&self, spec: &RoleSpec) -> Result<IamRole, AwsError> {
        let response = self
            .client
            .create_role()
            .role_name(&spec.name)
            .path(&spec.path)
            .assume_role_policy_document(&spec.trust_policy)
            .set_description(spec.description.clone().filter(|d| !d.is_empty()))
            .max_session_duration(seconds(spec.max_session_duration))
            .set_permissions_boundary(spec.permissions_boundary_arn.clone())
            .set_tags(Some(sdk_tags(&spec.tags)?))
            .send()
            .await
            .map_err(aws_error("iam:CreateRole"))?;
        let created = response.role().ok_or_else(|| {
            AwsError::new(
                "iam:CreateRole",
                AwsErrorKind::Other,
                "the response carries no role",
            )
        })?;
        // The role as sent, with what IAM assigned.
        Ok(IamRole {
            name: spec.name.clone(),
            path: created.path().to_string(),
            arn: created.arn().to_string(),
            role_id: created.role_id().to_string(),
            description: spec.description.clone().filter(|d| !d.is_empty()),
            max_session_duration: spec.max_session_duration,
            permissions_boundary_arn: spec.permissions_boundary_arn.clone(),
            tags: spec.tags.clone(),
            trust_policy: spec.trust_policy.clone(),
        })
    }

    async fn get_role(&self, name: &str) -> Result<Option<IamRole>, AwsError> {
        let response = self
            .client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(aws_error("iam:GetRole"))
            .not_found_as_none()?;
        Ok(response.and_then(|r| r.role().map(role_of)))
    }

    async fn update_role(
        &self,
        name: &str,
        description: &str,
        max_session_duration: i64,
    ) -> Result<(), AwsError> {
        self.client
            .update_role()
            .role_name(name)
            .description(description)
            .max_session_duration(seconds(max_session_duration))
            .send()
            .await
            .map_err(aws_error("iam:UpdateRole"))?;
        Ok(())
    }

    async fn update_trust_policy(&self, name: &str, document: &str) -> Result<(), AwsError> {
        self.client
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(document)
            .send()
            .await
            .map_err(aws_error("iam:UpdateAssumeRolePolicy"))?;
        Ok(())
    }

    async fn put_permissions_boundary(&self, name: &str, arn: &str) -> Result<(), AwsError> {
        self.client
            .put_role_permissions_boundary()
            .role_name(name)
            .permissions_boundary(arn)
            .send()
            .await
            .map_err(aws_error("iam:PutRolePermissionsBoundary"))?;
        Ok(())
    }

    async fn delete_permissions_boundary(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_role_permissions_boundary()
            .role_name(name)
            .send()
            .await
            .map_err(aws_error("iam:DeleteRolePermissionsBoundary"))?;
        Ok(())
    }

    async fn tag_role(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.client
            .tag_role()
            .role_name(name)
            .set_tags(Some(sdk_tags(tags)?))
            .send()
            .await
            .map_err(aws_error("iam:TagRole"))?;
        Ok(())
    }

    async fn untag_role(&self, name: &str, keys: &[String]) -> Result<(), AwsError> {
        self.client
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(aws_error("iam:UntagRole"))?;
        Ok(())
    }

    async fn attach_policy(&self, name: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.client
            .attach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(aws_error("iam:AttachRolePolicy"))?;
        Ok(())
    }

    async fn detach_policy(&self, name: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.client
            .detach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(aws_error("iam:DetachRolePolicy"))?;
        Ok(())
    }

    async fn list_attached_policies(&self, name: &str) -> Result<BTreeSet<String>, AwsError> {
        let mut found = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_attached_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(aws_error("iam:ListAttachedRolePolicies"))?;
            found.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string)),
            );
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn list_inline_policies(&self, name: &str) -> Result<BTreeSet<String>, AwsError> {
        let mut found = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(aws_error("iam:ListRolePolicies"))?;
            found.extend(page.policy_names().iter().cloned());
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn get_inline_policy(
        &self,
        name: &str,
        policy: &str,
    ) -> Result<Option<String>, AwsError> {
        let response = self
            .client
            .get_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(aws_error("iam:GetRolePolicy"))
            .not_found_as_none()?;
        Ok(response.map(|r| decode_document(r.policy_document())))
    }

    async fn put_inline_policy(
        &self,
        name: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.client
            .put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map_err(aws_error("iam:PutRolePolicy"))?;
        Ok(())
    }

    async fn delete_inline_policy(&self, name: &str, policy: &str) -> Result<(), AwsError> {
        self.client
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(aws_error("iam:DeleteRolePolicy"))?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .map_err(aws_error("iam:DeleteRole"))?;
        Ok(())
    }

    async fn get_oidc_provider(&self, arn: &str) -> Result<Option<OidcProvider>, AwsError> {
        if let (Some(process), Ok(parsed)) = (&self.process, OidcProviderArn::parse(arn))
            && let ProviderRead::Found(found) = process.oidc_provider(&parsed).await
        {
            return Ok(Some(OidcProvider {
                arn: arn.to_string(),
                url: found.url,
                client_ids: found.client_ids,
            }));
        }
        let response = self
            .client
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(aws_error("iam:GetOpenIDConnectProvider"))
            .not_found_as_none()?;
        Ok(response.map(|provider| OidcProvider {
            arn: arn.to_string(),
            url: provider.url().unwrap_or_default().to_string(),
            client_ids: provider.client_id_list().to_vec(),
        }))
    }
}

#[async_trait]
impl Sts for SdkSts {
    async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        token: &str,
        session_name: &str,
    ) -> Result<String, AwsError> {
        let response = self
            .client
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .web_identity_token(token)
            .duration_seconds(900)
            .send()
            .await
            .map_err(aws_error("sts:AssumeRoleWithWebIdentity"))?;
        response
            .assumed_role_user()
            .map(|user| user.arn().to_string())
            .ok_or_else(|| {
                AwsError::new(
                    "sts:AssumeRoleWithWebIdentity",
                    AwsErrorKind::Other,
                    "the response carries no assumed-role user",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::framework::Context;
    use crate::provider::fake_aws::{FakeAws, query_error};

    const ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X";

    const PROVIDER: &str = "<GetOpenIDConnectProviderResponse \
        xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetOpenIDConnectProviderResult>\
        <ClientIDList><member>sts.amazonaws.com</member></ClientIDList>\
        <Url>oidc.example/id/X</Url></GetOpenIDConnectProviderResult>\
        </GetOpenIDConnectProviderResponse>";

    /// A provider process over a fake IAM whose OIDC provider exists once `exists` is set.
    async fn process(exists: Arc<AtomicBool>) -> (Context, FakeAws) {
        let fake = FakeAws::new(move |seen| match seen.action() {
            "GetOpenIDConnectProvider" if exists.load(Ordering::SeqCst) => {
                (200, PROVIDER.to_string())
            }
            "GetOpenIDConnectProvider" => (404, query_error("NoSuchEntity", "not found")),
            _ => (400, query_error("InvalidAction", "unexpected")),
        });
        let provider = ProviderData::builder()
            .region("us-east-1")
            .sdk_config(fake.sdk_config("us-east-1").await)
            .build();
        (
            Context::new(Arc::new(provider), CancellationToken::new()),
            fake,
        )
    }

    fn reads(fake: &FakeAws) -> usize {
        fake.seen()
            .iter()
            .filter(|s| s.action() == "GetOpenIDConnectProvider")
            .count()
    }

    #[tokio::test]
    async fn an_apply_reads_the_oidc_provider_once_for_the_wiring_check_and_verify() {
        let (ctx, fake) = process(Arc::new(AtomicBool::new(true))).await;
        // The apply's wiring check (cluster_check::check) reads it through the process cache.
        let arn = OidcProviderArn::parse(ARN).unwrap();
        assert!(matches!(
            ctx.provider.oidc_provider(&arn).await,
            ProviderRead::Found(_)
        ));
        // verify's attempts read it through the IAM the apply's clients are built with.
        let iam = crate::resources::irsa_binding::sdk_iam(&ctx).await.unwrap();
        for _ in 0..3 {
            assert_eq!(
                iam.get_oidc_provider(ARN).await.unwrap(),
                Some(OidcProvider {
                    arn: ARN.into(),
                    url: "oidc.example/id/X".into(),
                    client_ids: vec!["sts.amazonaws.com".into()],
                })
            );
        }
        assert_eq!(reads(&fake), 1, "one read per provider process");
        // Without the process cache every attempt would read it again.
        let direct = SdkIam::new(ctx.provider.iam().await.unwrap());
        direct.get_oidc_provider(ARN).await.unwrap();
        assert_eq!(reads(&fake), 2);
    }

    #[tokio::test]
    async fn a_provider_the_cache_did_not_find_is_read_again_until_it_appears() {
        let exists = Arc::new(AtomicBool::new(false));
        let (ctx, fake) = process(exists.clone()).await;
        let iam = crate::resources::irsa_binding::sdk_iam(&ctx).await.unwrap();
        assert_eq!(iam.get_oidc_provider(ARN).await.unwrap(), None);
        exists.store(true, Ordering::SeqCst);
        assert!(iam.get_oidc_provider(ARN).await.unwrap().is_some());
        // The cache's NoSuchEntity, then a direct read each time.
        assert_eq!(reads(&fake), 3);
    }
}
