//! The resource through its `Resource` implementation against a real AWS emulator (moto server
//! or LocalStack) over HTTP: every IAM and S3 call it makes, as Terraform would sequence them.
//!
//! Ignored by default; run with an emulator:
//! `AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test
//! AWS_SECRET_ACCESS_KEY=test cargo test --lib cache::tests::live -- --ignored --test-threads 1`.
//! The Terraform-driven acceptance suite covers the same ground through the CLI.
//!
//! What the emulators do with this resource's calls (moto 5.2.5, LocalStack 2026.3.0), all of
//! which pass these tests in us-east-1 and eu-central-1:
//! - moto enforces the bucket policy for object requests even without IAM enforcement: the
//!   created bucket denies plain-HTTP PutObject/DeleteObjects (403), as AWS would. Bucket-level
//!   calls (ListObjects, DeleteBucket, policy calls) are not checked. LocalStack (community)
//!   enforces no bucket policy. So an object test against a created bucket over HTTP needs the
//!   policy lifted (as below), or `create_bucket = false`.
//! - moto answers GetBucketVersioning with a `GetBucketVersioningResponse` root the Rust SDK
//!   refuses; LocalStack answers `VersioningConfiguration` like AWS. The resource does not read
//!   versioning (its lifecycle rule expires noncurrent versions instead).
//! - moto's opt-in IAM enforcement (`/moto-api/reset-auth`), checked by hand with the policy this
//!   resource builds and credentials from AssumeRole: object actions under `PATH/` allowed,
//!   outside (including the sibling prefix `PATHx/`) denied; moto evaluates no `s3:prefix`
//!   condition and answers a missing key with 404 whatever ListBucket allows (the policy has
//!   no such condition since issue 15); pre-signed URLs answer 500
//!   while enforcement is on, so the runner's pre-signed flow cannot be checked there.
//!   LocalStack's open-source build has no IAM enforcement at all.
//! - Both send `x-amz-bucket-region` on HeadBucket, accept a lifecycle rule with
//!   AbortIncompleteMultipartUpload and NoncurrentVersionExpiration, SSE-KMS defaults with a
//!   key ARN they never check, and return inline policies URL-encoded.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use tokio_util::sync::CancellationToken;

use super::*;

const ASSUME_ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

struct Live {
    ctx: Context,
    region: String,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
}

impl Live {
    async fn new() -> Live {
        let data = crate::provider::configure(&Value::Null, "test")
            .await
            .expect("provider from the environment");
        let region = data.region().expect("AWS_REGION").to_string();
        let ctx = Context::new(Arc::new(data), CancellationToken::new());
        let s3 = ctx.provider.s3(Some(&region)).await.unwrap();
        let iam = ctx.provider.iam().await.unwrap();
        Live {
            ctx,
            region,
            s3,
            iam,
        }
    }

    fn unique(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("{prefix}-{}", nanos % 1_000_000_000_000)
    }

    async fn role(&self) -> String {
        let name = Live::unique("runner-manager");
        self.iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(ASSUME_ROLE_POLICY)
            .send()
            .await
            .expect("CreateRole");
        name
    }

    fn plan(&self, prior: &Value, config: &Value) -> Value {
        let planned = plan_in(Some(&self.region), prior, config);
        assert!(
            !planned.diagnostics.has_errors(),
            "{:?}",
            planned.diagnostics
        );
        planned.change.planned
    }

    async fn apply(&self, prior: &Value, config: &Value) -> Value {
        let planned = self.plan(prior, config);
        let resource = CacheResource::new();
        let outcome = if prior.is_null() {
            resource.create(&self.ctx, &planned).await
        } else {
            resource.update(&self.ctx, prior, &planned).await
        };
        assert!(
            !outcome.diagnostics.has_errors(),
            "{:?}",
            outcome.diagnostics
        );
        assert_apply_keeps_the_plan(&planned, &outcome.new_state);
        outcome.new_state
    }

    async fn read(&self, state: &Value) -> ReadOutcome {
        CacheResource::new().read(&self.ctx, state).await
    }

    /// Refresh finds no drift: the next plan is empty.
    async fn assert_plan_empty(&self, state: &Value, config: &Value) {
        let refreshed = self.read(state).await;
        assert!(
            refreshed.diagnostics.is_empty(),
            "{:?}",
            refreshed.diagnostics
        );
        assert_eq!(self.plan(&refreshed.state, config), refreshed.state);
    }

    /// Refresh shows drift, the plan repairs it, and after apply the plan is empty.
    async fn assert_drift_repaired(&self, state: &Value, config: &Value, what: &str) -> Value {
        let refreshed = self.read(state).await;
        assert!(
            !refreshed.diagnostics.is_empty(),
            "{what}: no drift warning"
        );
        let planned = self.plan(&refreshed.state, config);
        assert_ne!(planned, refreshed.state, "{what}: the plan shows no change");
        let repaired = self.apply(&refreshed.state, config).await;
        self.assert_plan_empty(&repaired, config).await;
        repaired
    }
}

fn live_config(role: &str, bucket: &str, extra: &[(&str, Value)]) -> Value {
    let mut value = config(extra);
    value.set_attr(attr::ROLE_NAME, role.into());
    value.set_attr(attr::BUCKET_NAME, bucket.into());
    value
}

#[tokio::test]
#[ignore = "needs an AWS emulator: set AWS_ENDPOINT_URL, AWS_REGION and test credentials"]
async fn created_bucket_lifecycle_against_the_emulator() {
    let live = Live::new().await;
    let role = live.role().await;
    let bucket = Live::unique("runner-cache");
    let config = live_config(
        &role,
        &bucket,
        &[
            (attr::CREATE_BUCKET, true.into()),
            (attr::EXPIRATION_DAYS, Value::int(7)),
        ],
    );
    let state = live.apply(&Value::Null, &config).await;
    live.assert_plan_empty(&state, &config).await;

    // Drift, one setting at a time.
    live.s3
        .put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(false)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &config, "public access block")
        .await;
    live.s3
        .delete_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &config, "encryption")
        .await;
    live.s3
        .delete_bucket_lifecycle()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &config, "lifecycle")
        .await;
    live.s3
        .delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &config, "bucket policy")
        .await;
    let policy_name = state.get(attr::POLICY_NAME).as_str().unwrap().to_string();
    live.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name(&policy_name)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &config, "policy edited")
        .await;
    live.iam
        .delete_role_policy()
        .role_name(&role)
        .policy_name(&policy_name)
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &config, "policy removed")
        .await;

    // Update in place: path, expiration, shared.
    let changed = live_config(
        &role,
        &bucket,
        &[
            (attr::CREATE_BUCKET, true.into()),
            (attr::EXPIRATION_DAYS, Value::int(3)),
            (attr::PATH, "ci/cache".into()),
            (attr::SHARED, true.into()),
        ],
    );
    let state = live.apply(&state, &changed).await;
    live.assert_plan_empty(&state, &changed).await;

    // Import round-trips (shared is configuration only: it imports as its default).
    let imported = CacheResource::new()
        .import(&live.ctx, &format!("{role}/{bucket}"))
        .await;
    assert!(
        imported.diagnostics.is_empty(),
        "{:?}",
        imported.diagnostics
    );
    let mut expected = state.clone();
    expected.set_attr(attr::SHARED, false.into());
    let unshared = live_config(
        &role,
        &bucket,
        &[
            (attr::CREATE_BUCKET, true.into()),
            (attr::EXPIRATION_DAYS, Value::int(3)),
            (attr::PATH, "ci/cache".into()),
        ],
    );
    assert_eq!(imported.state, applied(&live.plan(&Value::Null, &unshared)));

    // A non-empty bucket is not destroyed without force_destroy; nothing is removed. (The
    // emulator speaks plain HTTP and moto enforces the bucket policy that denies it: lift the
    // policy for the upload, and let the next apply put it back.)
    live.s3
        .delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    live.s3
        .put_object()
        .bucket(&bucket)
        .key("ci/cache/project/1/default/cache.zip")
        .body(ByteStream::from_static(b"cache"))
        .send()
        .await
        .unwrap();
    let state = live
        .assert_drift_repaired(&state, &changed, "bucket policy lifted for the upload")
        .await;
    let refused = CacheResource::new().delete(&live.ctx, &state).await;
    assert!(refused.diagnostics.has_errors());
    let detail = &refused.diagnostics.0[0].detail;
    assert!(detail.contains("force_destroy"), "{detail}");
    live.assert_plan_empty(&refused.new_state, &changed).await;

    // With force_destroy, everything goes.
    let forced = live_config(
        &role,
        &bucket,
        &[
            (attr::CREATE_BUCKET, true.into()),
            (attr::EXPIRATION_DAYS, Value::int(3)),
            (attr::PATH, "ci/cache".into()),
            (attr::SHARED, true.into()),
            (attr::FORCE_DESTROY, true.into()),
        ],
    );
    let state = live.apply(&refused.new_state, &forced).await;
    let deleted = CacheResource::new().delete(&live.ctx, &state).await;
    assert!(deleted.diagnostics.is_empty(), "{:?}", deleted.diagnostics);
    assert!(deleted.new_state.is_null());
    assert!(live.s3.head_bucket().bucket(&bucket).send().await.is_err());
    let gone = live.read(&state).await;
    assert!(gone.state.is_null(), "read after delete: {:?}", gone.state);
}

#[tokio::test]
#[ignore = "needs an AWS emulator: set AWS_ENDPOINT_URL, AWS_REGION and test credentials"]
async fn existing_bucket_is_used_and_never_modified_against_the_emulator() {
    let live = Live::new().await;
    let role = live.role().await;
    let bucket = Live::unique("shared-cache");
    let config = live_config(&role, &bucket, &[]);

    // Missing bucket: a clear error at apply, nothing left.
    let planned = live.plan(&Value::Null, &config);
    let missing = CacheResource::new().create(&live.ctx, &planned).await;
    assert!(missing.new_state.is_null());
    let diag = &missing.diagnostics.0[0];
    assert_eq!(diag.attribute, Some(AttributePath::new(attr::BUCKET_NAME)));

    let mut create = live.s3.create_bucket().bucket(&bucket);
    if live.region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(live.region.as_str().into())
                .build(),
        );
    }
    create.send().await.unwrap();
    let state = live.apply(&Value::Null, &config).await;
    live.assert_plan_empty(&state, &config).await;
    let tags = live.s3.get_bucket_tagging().bucket(&bucket).send().await;
    assert!(
        tags.is_err() || tags.unwrap().tag_set().is_empty(),
        "not tagged"
    );
    let deleted = CacheResource::new().delete(&live.ctx, &state).await;
    assert!(deleted.diagnostics.is_empty(), "{:?}", deleted.diagnostics);
    live.s3
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket stays");
    let policies = live
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    assert!(policies.policy_names().is_empty());
}

#[tokio::test]
#[ignore = "needs an AWS emulator: set AWS_ENDPOINT_URL, AWS_REGION and test credentials"]
async fn kms_encrypted_bucket_against_the_emulator() {
    let live = Live::new().await;
    let role = live.role().await;
    let bucket = Live::unique("kms-cache");
    let key = format!(
        "arn:aws:kms:{}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        live.region
    );
    let config = live_config(
        &role,
        &bucket,
        &[
            (attr::CREATE_BUCKET, true.into()),
            (attr::KMS_KEY_ARN, key.clone().into()),
        ],
    );
    let state = live.apply(&Value::Null, &config).await;
    live.assert_plan_empty(&state, &config).await;
    let encryption = live
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.kms_master_key_id(), Some(key.as_str()));
    let deleted = CacheResource::new().delete(&live.ctx, &state).await;
    assert!(deleted.diagnostics.is_empty(), "{:?}", deleted.diagnostics);
}
