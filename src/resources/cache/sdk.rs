//! [`CacheApi`] over the AWS SDK: one IAM client, one S3 client for the bucket's region.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ObjectIdentifier, Tag, Tagging,
};

use crate::aws::policy::decode_document;
use crate::aws::{AwsError, AwsErrorKind, NotFoundAsNone, aws_error};

use super::api::{CacheApi, op};
use super::bucket::{Setting, SettingKind};

/// The real AWS calls.
pub struct SdkCacheApi {
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
}

impl SdkCacheApi {
    /// Calls IAM with `iam` and S3 with `s3` (a client for the bucket's region).
    pub fn new(iam: aws_sdk_iam::Client, s3: aws_sdk_s3::Client) -> Self {
        Self { iam, s3 }
    }
}

/// A "not configured" answer (e.g. `NoSuchLifecycleConfiguration`) becomes `unset`; a missing
/// bucket (`NoSuchBucket`) stays an error.
fn unset_when_absent<T>(result: Result<T, AwsError>, unset: T) -> Result<T, AwsError> {
    match result {
        Err(error) if error.is_not_found() && error.code.as_deref() != Some("NoSuchBucket") => {
            Ok(unset)
        }
        other => other,
    }
}

/// A delete of something already gone is success.
fn gone_is_fine(result: Result<(), AwsError>) -> Result<(), AwsError> {
    result.not_found_as_none().map(|_| ())
}

fn build_error(operation: &'static str, error: impl std::fmt::Display) -> AwsError {
    AwsError::new(operation, AwsErrorKind::Invalid, error.to_string())
}

#[async_trait]
impl CacheApi for SdkCacheApi {
    async fn role_arn(&self, role: &str) -> Result<Option<String>, AwsError> {
        let output = self
            .iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .map_err(aws_error(op::GET_ROLE))
            .not_found_as_none()?;
        Ok(output.and_then(|o| o.role().map(|r| r.arn().to_string())))
    }

    async fn role_policy(&self, role: &str, name: &str) -> Result<Option<String>, AwsError> {
        let output = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(aws_error(op::GET_ROLE_POLICY))
            .not_found_as_none()?;
        Ok(output.map(|o| decode_document(o.policy_document())))
    }

    async fn put_role_policy(
        &self,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map_err(aws_error(op::PUT_ROLE_POLICY))?;
        Ok(())
    }

    async fn delete_role_policy(&self, role: &str, name: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(op::DELETE_ROLE_POLICY)),
        )
    }

    async fn bucket_region(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let head = self.s3.head_bucket().bucket(bucket).send().await;
        let output = match head {
            Ok(output) => output,
            Err(error) => {
                // A bucket in another region answers 301 with its region in a header.
                let redirected = error
                    .raw_response()
                    .filter(|r| r.status().as_u16() == 301)
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_string);
                if let Some(region) = redirected {
                    return Ok(Some(region));
                }
                return Err(aws_error(op::HEAD_BUCKET)(error)).not_found_as_none();
            }
        };
        if let Some(region) = output.bucket_region() {
            return Ok(Some(region.to_string()));
        }
        // Emulators may leave out the header: ask for the location instead.
        let location = self
            .s3
            .get_bucket_location()
            .bucket(bucket)
            .send()
            .await
            .map_err(aws_error(op::GET_BUCKET_LOCATION))?;
        Ok(Some(match location.location_constraint() {
            None => "us-east-1".to_string(),
            Some(BucketLocationConstraint::Eu) => "eu-west-1".to_string(),
            Some(constraint) if constraint.as_str().is_empty() => "us-east-1".to_string(),
            Some(constraint) => constraint.as_str().to_string(),
        }))
    }

    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<(), AwsError> {
        let mut request = self.s3.create_bucket().bucket(bucket);
        // us-east-1 is the one region that refuses an explicit location constraint.
        if region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        request.send().await.map_err(aws_error(op::CREATE_BUCKET))?;
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        gone_is_fine(
            self.s3
                .delete_bucket()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(op::DELETE_BUCKET)),
        )
    }

    async fn empty_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(aws_error(op::LIST_OBJECT_VERSIONS))?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            let mut objects = Vec::new();
            for (key, version) in versions {
                let Some(key) = key else { continue };
                objects.push(
                    ObjectIdentifier::builder()
                        .key(key)
                        .set_version_id(version.filter(|v| *v != "null").map(str::to_string))
                        .build()
                        .map_err(|e| build_error(op::DELETE_OBJECTS, e))?,
                );
            }
            if !objects.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| build_error(op::DELETE_OBJECTS, e))?;
                let output = self
                    .s3
                    .delete_objects()
                    .bucket(bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(aws_error(op::DELETE_OBJECTS))?;
                if let Some(failed) = output.errors().first() {
                    return Err(AwsError::new(
                        op::DELETE_OBJECTS,
                        AwsErrorKind::Other,
                        format!(
                            "{} object(s) could not be deleted, e.g. {:?}: {} {}",
                            output.errors().len(),
                            failed.key().unwrap_or_default(),
                            failed.code().unwrap_or_default(),
                            failed.message().unwrap_or_default()
                        ),
                    ));
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(());
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
    }

    async fn bucket_tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let output = self
            .s3
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .map_err(aws_error(op::GET_BUCKET_TAGGING))
            .map(Some);
        Ok(unset_when_absent(output, None)?
            .map(|o| {
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn put_bucket_tags(
        &self,
        bucket: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let tag_set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| build_error(op::PUT_BUCKET_TAGGING, e))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| build_error(op::PUT_BUCKET_TAGGING, e))?;
        self.s3
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .map_err(aws_error(op::PUT_BUCKET_TAGGING))?;
        Ok(())
    }

    async fn setting(&self, bucket: &str, kind: SettingKind) -> Result<Setting, AwsError> {
        let operation = kind.get_operation();
        let s3 = &self.s3;
        let read = match kind {
            SettingKind::PublicAccessBlock => s3
                .get_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map(|o| Setting::PublicAccessBlock(o.public_access_block_configuration().cloned()))
                .map_err(aws_error(operation)),
            SettingKind::Encryption => s3
                .get_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .map(|o| Setting::Encryption(o.server_side_encryption_configuration().cloned()))
                .map_err(aws_error(operation)),
            SettingKind::Policy => s3
                .get_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .map(|o| Setting::Policy(o.policy().map(str::to_string)))
                .map_err(aws_error(operation)),
            SettingKind::Lifecycle => s3
                .get_bucket_lifecycle_configuration()
                .bucket(bucket)
                .send()
                .await
                .map(|o| Setting::Lifecycle(Some(o.rules().to_vec())))
                .map_err(aws_error(operation)),
        };
        unset_when_absent(read, Setting::unset(kind))
    }

    async fn put_setting(&self, bucket: &str, setting: &Setting) -> Result<(), AwsError> {
        let operation = setting.put_operation();
        let s3 = &self.s3;
        match setting {
            Setting::PublicAccessBlock(Some(block)) => s3
                .put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(block.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
            Setting::PublicAccessBlock(None) => s3
                .delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
            Setting::Encryption(Some(config)) => s3
                .put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(config.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
            Setting::Encryption(None) => s3
                .delete_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
            Setting::Policy(Some(document)) => s3
                .put_bucket_policy()
                .bucket(bucket)
                .policy(document)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
            Setting::Policy(None) => s3
                .delete_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
            Setting::Lifecycle(Some(rules)) if !rules.is_empty() => {
                let config = BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules.clone()))
                    .build()
                    .map_err(|e| build_error(operation, e))?;
                s3.put_bucket_lifecycle_configuration()
                    .bucket(bucket)
                    .lifecycle_configuration(config)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(aws_error(operation))
            }
            Setting::Lifecycle(_) => s3
                .delete_bucket_lifecycle()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(aws_error(operation)),
        }
    }
}
