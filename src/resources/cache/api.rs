//! The AWS calls this resource makes, behind a small trait: the SDK implementation
//! ([`super::sdk`]) for real use, an in-process fake for the orchestration tests.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::AwsError;

use super::bucket::{Setting, SettingKind};

/// Operation names, as errors and the fault-injection fake name them.
#[allow(missing_docs)]
pub mod op {
    pub const GET_ROLE: &str = "iam:GetRole";
    pub const GET_ROLE_POLICY: &str = "iam:GetRolePolicy";
    pub const PUT_ROLE_POLICY: &str = "iam:PutRolePolicy";
    pub const DELETE_ROLE_POLICY: &str = "iam:DeleteRolePolicy";
    pub const HEAD_BUCKET: &str = "s3:HeadBucket";
    pub const GET_BUCKET_LOCATION: &str = "s3:GetBucketLocation";
    pub const CREATE_BUCKET: &str = "s3:CreateBucket";
    pub const DELETE_BUCKET: &str = "s3:DeleteBucket";
    pub const LIST_OBJECT_VERSIONS: &str = "s3:ListObjectVersions";
    pub const DELETE_OBJECTS: &str = "s3:DeleteObjects";
    pub const GET_BUCKET_TAGGING: &str = "s3:GetBucketTagging";
    pub const PUT_BUCKET_TAGGING: &str = "s3:PutBucketTagging";
    pub const GET_PUBLIC_ACCESS_BLOCK: &str = "s3:GetPublicAccessBlock";
    pub const PUT_PUBLIC_ACCESS_BLOCK: &str = "s3:PutPublicAccessBlock";
    pub const DELETE_PUBLIC_ACCESS_BLOCK: &str = "s3:DeletePublicAccessBlock";
    pub const GET_BUCKET_ENCRYPTION: &str = "s3:GetBucketEncryption";
    pub const PUT_BUCKET_ENCRYPTION: &str = "s3:PutBucketEncryption";
    pub const DELETE_BUCKET_ENCRYPTION: &str = "s3:DeleteBucketEncryption";
    pub const GET_BUCKET_POLICY: &str = "s3:GetBucketPolicy";
    pub const PUT_BUCKET_POLICY: &str = "s3:PutBucketPolicy";
    pub const DELETE_BUCKET_POLICY: &str = "s3:DeleteBucketPolicy";
    pub const GET_BUCKET_LIFECYCLE: &str = "s3:GetBucketLifecycleConfiguration";
    pub const PUT_BUCKET_LIFECYCLE: &str = "s3:PutBucketLifecycleConfiguration";
    pub const DELETE_BUCKET_LIFECYCLE: &str = "s3:DeleteBucketLifecycle";
}

impl SettingKind {
    /// The operation that reads this setting.
    pub fn get_operation(self) -> &'static str {
        match self {
            SettingKind::PublicAccessBlock => op::GET_PUBLIC_ACCESS_BLOCK,
            SettingKind::Encryption => op::GET_BUCKET_ENCRYPTION,
            SettingKind::Policy => op::GET_BUCKET_POLICY,
            SettingKind::Lifecycle => op::GET_BUCKET_LIFECYCLE,
        }
    }
}

impl Setting {
    /// The operation that writes this value (a delete for "not configured").
    pub fn put_operation(&self) -> &'static str {
        match self {
            Setting::PublicAccessBlock(Some(_)) => op::PUT_PUBLIC_ACCESS_BLOCK,
            Setting::PublicAccessBlock(None) => op::DELETE_PUBLIC_ACCESS_BLOCK,
            Setting::Encryption(Some(_)) => op::PUT_BUCKET_ENCRYPTION,
            Setting::Encryption(None) => op::DELETE_BUCKET_ENCRYPTION,
            Setting::Policy(Some(_)) => op::PUT_BUCKET_POLICY,
            Setting::Policy(None) => op::DELETE_BUCKET_POLICY,
            Setting::Lifecycle(Some(rules)) if !rules.is_empty() => op::PUT_BUCKET_LIFECYCLE,
            Setting::Lifecycle(_) => op::DELETE_BUCKET_LIFECYCLE,
        }
    }
}

/// The IAM and S3 calls of `gitlabrunner_cache`. "Not found" answers that are normal for a
/// call are part of its result (`Option`, unset setting); every other failure is an
/// [`AwsError`] naming the operation.
#[async_trait]
pub trait CacheApi: Send + Sync {
    /// `iam:GetRole`: the role's ARN, `None` when there is no such role.
    async fn role_arn(&self, role: &str) -> Result<Option<String>, AwsError>;

    /// `iam:GetRolePolicy`: the inline policy's document (decoded), `None` when the policy or
    /// the role does not exist.
    async fn role_policy(&self, role: &str, name: &str) -> Result<Option<String>, AwsError>;

    /// `iam:PutRolePolicy`: creates or replaces the inline policy.
    async fn put_role_policy(&self, role: &str, name: &str, document: &str)
    -> Result<(), AwsError>;

    /// `iam:DeleteRolePolicy`; a policy (or role) already gone is success.
    async fn delete_role_policy(&self, role: &str, name: &str) -> Result<(), AwsError>;

    /// `s3:HeadBucket`: the bucket's region, `None` when it does not exist. A bucket another
    /// account owns answers `AccessDenied`.
    async fn bucket_region(&self, bucket: &str) -> Result<Option<String>, AwsError>;

    /// `s3:CreateBucket` in `region`.
    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<(), AwsError>;

    /// `s3:DeleteBucket`; a bucket already gone is success. Fails with a conflict when the
    /// bucket still holds objects.
    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError>;

    /// Deletes every object version and delete marker (`s3:ListObjectVersions`,
    /// `s3:DeleteObjects`, page by page).
    async fn empty_bucket(&self, bucket: &str) -> Result<(), AwsError>;

    /// `s3:GetBucketTagging`; no tags is an empty map.
    async fn bucket_tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AwsError>;

    /// `s3:PutBucketTagging`: replaces the bucket's tags.
    async fn put_bucket_tags(
        &self,
        bucket: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError>;

    /// Reads one bucket setting; "not configured" is [`Setting::unset`]. A missing bucket is a
    /// not-found error.
    async fn setting(&self, bucket: &str, kind: SettingKind) -> Result<Setting, AwsError>;

    /// Writes one bucket setting (deleting it for "not configured").
    async fn put_setting(&self, bucket: &str, setting: &Setting) -> Result<(), AwsError>;
}
