//! `gitlabrunner_cache` through the real CLI against the AWS emulator (issue 5): create with a
//! bucket of its own and with an existing bucket, empty second plans, import (CLI and import
//! block) that round-trips, update in place, drift in every part detected by plan and repaired
//! by apply, `force_destroy`, and destroy that leaves nothing behind.
//!
//! Both emulators make every check here. The one thing to work around: a bucket the provider
//! creates gets a bucket policy denying plain-HTTP requests, which moto enforces for object
//! requests (the harness talks plain HTTP), so objects are put with that policy lifted for the
//! write (see `aws_fixtures::put_object`).

use aws_sdk_s3::types::{PublicAccessBlockConfiguration, ServerSideEncryption};
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::terraform::Action;
use gitlabrunner_acceptance::{Plan, harness, hcl, unique_name};
use serde_json::{Value, json};

use crate::aws_fixtures::{
    bucket_exists, bucket_tags, create_bucket, create_role, delete_bucket, delete_role,
    emulator_name, inline_policy, put_object,
};

/// `resource "gitlabrunner_cache" "NAME"` with `role_name`, `bucket_name` and `extra` lines.
fn cache_block(name: &str, role: &str, bucket: &str, extra: &str) -> String {
    format!(
        "\nresource \"gitlabrunner_cache\" \"{name}\" {{\n  role_name   = {}\n  bucket_name = {}\n{extra}}}\n",
        hcl::quote(role),
        hcl::quote(bucket)
    )
}

fn default_policy_name(bucket: &str) -> String {
    format!("gitlabrunner-cache-{bucket}")
}

/// The computed attributes a plan promises and state must then hold.
const COMPUTED: [&str; 6] = [
    "id",
    "policy_name",
    "policy_document",
    "bucket_settings",
    "config_toml",
    "helm_values",
];

/// The permissions this resource grants for `bucket` and `path`, checked on the role.
fn assert_cache_policy(policy: &Value, bucket: &str, path: &str) {
    let statements = policy["Statement"].as_array().expect("statements");
    let objects = statements
        .iter()
        .find(|s| s["Sid"] == "GitLabRunnerCacheObjects")
        .unwrap_or_else(|| panic!("no object statement in {policy}"));
    assert_eq!(
        objects["Resource"],
        json!([format!("arn:aws:s3:::{bucket}/{path}/*")]),
        "{policy}"
    );
    assert_eq!(
        objects["Action"],
        json!([
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject"
        ]),
        "{policy}"
    );
    let list = statements
        .iter()
        .find(|s| s["Sid"] == "GitLabRunnerCacheList")
        .unwrap_or_else(|| panic!("no list statement in {policy}"));
    assert_eq!(list["Resource"], json!([format!("arn:aws:s3:::{bucket}")]));
    assert_eq!(list["Action"], json!(["s3:ListBucket"]));
    // No s3:prefix condition (issue 15): S3's 404-for-a-missing-key check carries no prefix.
    assert_eq!(list.get("Condition"), None, "{policy}");
}

/// The settings a bucket this resource creates has, read back with the SDK.
async fn assert_secure_bucket(clients: &AwsClients, bucket: &str, path: &str, days: i32) {
    let s3 = &clients.s3;
    let block = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .expect("GetPublicAccessBlock")
        .public_access_block_configuration
        .expect("a public access block");
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "{bucket}"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketEncryption");
    let algorithm = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().clone());
    assert_eq!(algorithm, Some(ServerSideEncryption::Aes256), "{bucket}");
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketPolicy")
        .policy
        .expect("a bucket policy");
    let policy: Value = serde_json::from_str(&policy).expect("JSON");
    assert_eq!(
        policy["Statement"][0]["Condition"],
        json!({"Bool": {"aws:SecureTransport": ["false"]}}),
        "{policy}"
    );
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .expect("GetBucketLifecycleConfiguration");
    let rule = lifecycle
        .rules()
        .iter()
        .find(|r| r.id() == Some("gitlabrunner-cache-expiration"))
        .unwrap_or_else(|| panic!("no expiration rule on {bucket}: {lifecycle:?}"));
    assert_eq!(
        rule.filter().and_then(|f| f.prefix()),
        Some(format!("{path}/").as_str())
    );
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(days));
    let tags = bucket_tags(clients, bucket).await;
    assert!(
        tags.contains(&(
            "managed-by".to_string(),
            "terraform-provider-gitlabrunner".to_string()
        )),
        "{tags:?}"
    );
}

fn assert_empty(plan: &Plan, when: &str) {
    assert!(
        plan.is_empty(),
        "{when}: the plan is not empty: {}",
        plan.summary()
    );
}

#[tokio::test]
async fn cache_with_its_own_bucket_creates_imports_updates_and_destroys() {
    let test = "cache_with_its_own_bucket_creates_imports_updates_and_destroys";
    let Some(h) = harness(test).await else {
        return;
    };
    let clients = h.aws_clients().await;
    let role = unique_name("acc-cache-mgr");
    let bucket = unique_name("acc-cache");
    create_role(&clients, &role).await;
    let address = "gitlabrunner_cache.c";
    let config = |extra: &str| {
        format!(
            "{}{}",
            hcl::with_provider(""),
            cache_block(
                "c",
                &role,
                &bucket,
                &format!("  create_bucket = true\n{extra}")
            )
        )
    };
    let ws = h.workspace().unwrap();
    ws.write("main.tf", &config("  expiration_days = 7\n"))
        .unwrap();

    // Create: every computed attribute is known at plan time and is what apply delivers.
    let plan = ws.plan().await.unwrap();
    assert_eq!(plan.actions(address), [Action::Create]);
    let planned = plan.change(address).unwrap();
    for attribute in COMPUTED {
        assert!(
            !planned.is_unknown_after(attribute),
            "{attribute} is unknown at plan time"
        );
    }
    let planned = planned.change.after.clone();
    ws.apply().await.unwrap();
    let state = ws.show().await.unwrap();
    let created = state.resource(address).unwrap().clone();
    for attribute in COMPUTED {
        assert_eq!(created.attr(attribute), &planned[attribute], "{attribute}");
    }
    assert_eq!(
        created.str_attr("id"),
        Some(format!("{role}/{bucket}").as_str())
    );
    let policy = inline_policy(&clients, &role, &default_policy_name(&bucket))
        .await
        .expect("the inline policy is on the role");
    let documented: Value =
        serde_json::from_str(created.str_attr("policy_document").unwrap()).unwrap();
    assert_eq!(policy, documented);
    assert_cache_policy(&policy, &bucket, "runner");
    assert_secure_bucket(&clients, &bucket, "runner", 7).await;
    assert_empty(&ws.plan().await.unwrap(), "after create");

    // Import with the CLI into a fresh workspace: the same state, and nothing to do.
    let id = format!("{role}/{bucket}");
    let cli_import = h.workspace().unwrap();
    cli_import
        .write("main.tf", &config("  expiration_days = 7\n"))
        .unwrap();
    cli_import.import(address, &id).await.unwrap();
    let imported = cli_import.show().await.unwrap();
    assert_eq!(
        imported.resource(address).unwrap().values,
        created.values,
        "import recovers exactly the created state"
    );
    assert_empty(&cli_import.plan().await.unwrap(), "after terraform import");

    // Import with an import block; force_destroy exists only in configuration, so setting it
    // plans an in-place update of that attribute alone.
    let block_import = h.workspace().unwrap();
    block_import
        .write(
            "main.tf",
            &config("  expiration_days = 7\n  force_destroy   = true\n"),
        )
        .unwrap();
    block_import.write_import_block(address, &id).unwrap();
    let plan = block_import.plan().await.unwrap();
    let change = plan.change(address).unwrap();
    assert!(change.change.importing.is_some(), "{:?}", change.change);
    assert_eq!(change.change.actions, [Action::Update]);
    let (before, after) = (&change.change.before, &change.change.after);
    let differing: Vec<&String> = after
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| before[k.as_str()] != after[k.as_str()])
        .collect();
    assert_eq!(differing, ["force_destroy"]);
    block_import.apply().await.unwrap();
    assert_empty(
        &block_import.plan().await.unwrap(),
        "after the import block",
    );

    // force_destroy = false: destroying a bucket that holds objects fails and removes
    // nothing (the policy deleted alongside is put back).
    put_object(&clients, &bucket, "runner/project/1/cache.zip", "cache").await;
    let diagnostics = ws.destroy_expect_error_with(&[]).await.unwrap();
    let error = diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("{diagnostics:?}"));
    assert_eq!(
        error.summary,
        format!("Could not delete the GitLab Runner cache {role}/{bucket}")
    );
    assert!(
        error.detail.contains("set force_destroy = true"),
        "{}",
        error.detail
    );
    assert!(bucket_exists(&clients, &bucket).await);
    assert!(
        inline_policy(&clients, &role, &default_policy_name(&bucket))
            .await
            .is_some(),
        "the failed destroy put the policy back"
    );
    assert_eq!(ws.show().await.unwrap().addresses(), [address]);
    assert_empty(&ws.plan().await.unwrap(), "after the refused destroy");

    // Update in place: path, shared, expiration and force_destroy.
    ws.write(
        "main.tf",
        &config(
            "  path            = \"ci/cache\"\n  shared          = true\n  expiration_days = 14\n  force_destroy   = true\n",
        ),
    )
    .unwrap();
    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.actions(address),
        [Action::Update],
        "{}",
        plan.summary()
    );
    ws.apply().await.unwrap();
    let policy = inline_policy(&clients, &role, &default_policy_name(&bucket))
        .await
        .unwrap();
    assert_cache_policy(&policy, &bucket, "ci/cache");
    assert_secure_bucket(&clients, &bucket, "ci/cache", 14).await;
    let state = ws.show().await.unwrap();
    let toml = state
        .resource(address)
        .unwrap()
        .str_attr("config_toml")
        .unwrap()
        .to_string();
    assert!(
        toml.contains("Path = \"ci/cache\"") && toml.contains("Shared = true"),
        "{toml}"
    );
    assert_empty(&ws.plan().await.unwrap(), "after the update");

    // Destroy with force_destroy: the bucket goes with its objects, and the policy.
    ws.destroy().await.unwrap();
    assert!(
        !bucket_exists(&clients, &bucket).await,
        "the bucket is gone"
    );
    assert_eq!(
        inline_policy(&clients, &role, &default_policy_name(&bucket)).await,
        None
    );
    assert!(ws.show().await.unwrap().is_empty());
    delete_role(&clients, &role).await;
}

/// Something changed outside Terraform, and where the plan must show it.
#[derive(Clone, Copy, Debug)]
enum Drift {
    PolicyEdited,
    PolicyRemoved,
    PublicAccessBlockWeakened,
    EncryptionChanged,
    LifecycleRemoved,
    BucketPolicyRemoved,
    BucketDeleted,
}

impl Drift {
    const ALL: [Drift; 7] = [
        Drift::PolicyEdited,
        Drift::PolicyRemoved,
        Drift::PublicAccessBlockWeakened,
        Drift::EncryptionChanged,
        Drift::LifecycleRemoved,
        Drift::BucketPolicyRemoved,
        Drift::BucketDeleted,
    ];

    fn name(self) -> &'static str {
        match self {
            Drift::PolicyEdited => "policy_edited",
            Drift::PolicyRemoved => "policy_removed",
            Drift::PublicAccessBlockWeakened => "public_access_block",
            Drift::EncryptionChanged => "encryption",
            Drift::LifecycleRemoved => "lifecycle",
            Drift::BucketPolicyRemoved => "bucket_policy",
            Drift::BucketDeleted => "bucket_deleted",
        }
    }

    /// The attribute (and `bucket_settings` key) whose refreshed value differs.
    fn drifted(self) -> (&'static str, Option<&'static str>) {
        match self {
            Drift::PolicyEdited | Drift::PolicyRemoved => ("policy_document", None),
            Drift::PublicAccessBlockWeakened => ("bucket_settings", Some("public_access_block")),
            Drift::EncryptionChanged => ("bucket_settings", Some("encryption")),
            Drift::LifecycleRemoved => ("bucket_settings", Some("lifecycle")),
            Drift::BucketPolicyRemoved => ("bucket_settings", Some("bucket_policy")),
            Drift::BucketDeleted => ("bucket_settings", Some("bucket")),
        }
    }

    async fn make(self, clients: &AwsClients, account: &str, role: &str, bucket: &str) {
        let s3 = &clients.s3;
        match self {
            Drift::PolicyEdited => {
                let widened = format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
                );
                clients
                    .iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(default_policy_name(bucket))
                    .policy_document(widened)
                    .send()
                    .await
                    .unwrap();
            }
            Drift::PolicyRemoved => {
                clients
                    .iam
                    .delete_role_policy()
                    .role_name(role)
                    .policy_name(default_policy_name(bucket))
                    .send()
                    .await
                    .unwrap();
            }
            Drift::PublicAccessBlockWeakened => {
                let open = PublicAccessBlockConfiguration::builder()
                    .block_public_acls(false)
                    .ignore_public_acls(false)
                    .block_public_policy(false)
                    .restrict_public_buckets(false)
                    .build();
                s3.put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(open)
                    .send()
                    .await
                    .unwrap();
            }
            Drift::EncryptionChanged => {
                use aws_sdk_s3::types::{
                    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
                    ServerSideEncryptionRule,
                };
                let kms = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(format!("arn:aws:kms:us-east-1:{account}:key/drifted"))
                    .build()
                    .unwrap();
                let config = ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(kms)
                            .build(),
                    )
                    .build()
                    .unwrap();
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(config)
                    .send()
                    .await
                    .unwrap();
            }
            Drift::LifecycleRemoved => {
                s3.delete_bucket_lifecycle()
                    .bucket(bucket)
                    .send()
                    .await
                    .unwrap();
            }
            Drift::BucketPolicyRemoved => {
                s3.delete_bucket_policy()
                    .bucket(bucket)
                    .send()
                    .await
                    .unwrap();
            }
            Drift::BucketDeleted => delete_bucket(clients, bucket).await,
        }
    }
}

#[tokio::test]
async fn drift_in_each_part_is_planned_and_repaired() {
    let test = "drift_in_each_part_is_planned_and_repaired";
    let Some(h) = harness(test).await else {
        return;
    };
    let clients = h.aws_clients().await;
    let suffix = unique_name("d");
    let names = |drift: Drift| {
        (
            format!("acc-drift-{}-{suffix}", drift.name()),
            format!("acc-drift-{}-{suffix}", drift.name().replace('_', "-")),
        )
    };
    // One more cache on a bucket it did not create: only its policy counts as drift, never
    // the bucket's settings.
    let existing_role = format!("acc-drift-existing-{suffix}");
    let existing_bucket = format!("acc-drift-existing-{suffix}");
    let mut config = hcl::with_provider("");
    for drift in Drift::ALL {
        let (role, bucket) = names(drift);
        create_role(&clients, &role).await;
        config.push_str(&cache_block(
            drift.name(),
            &role,
            &bucket,
            "  create_bucket = true\n  force_destroy = true\n",
        ));
    }
    create_role(&clients, &existing_role).await;
    create_bucket(&clients, &existing_bucket).await;
    config.push_str(&cache_block(
        "existing",
        &existing_role,
        &existing_bucket,
        "",
    ));
    let ws = h.workspace().unwrap();
    ws.write("main.tf", &config).unwrap();
    ws.apply().await.unwrap();
    assert_empty(&ws.plan().await.unwrap(), "after create");

    for drift in Drift::ALL {
        let (role, bucket) = names(drift);
        drift.make(&clients, h.account_id(), &role, &bucket).await;
    }
    clients
        .iam
        .delete_role_policy()
        .role_name(&existing_role)
        .policy_name(default_policy_name(&existing_bucket))
        .send()
        .await
        .unwrap();
    Drift::PublicAccessBlockWeakened
        .make(&clients, h.account_id(), &existing_role, &existing_bucket)
        .await;
    let plan = ws.plan().await.unwrap();

    for drift in Drift::ALL {
        let (attribute, key) = drift.drifted();
        let address = format!("gitlabrunner_cache.{}", drift.name());
        let found = plan
            .drift(&address)
            .unwrap_or_else(|| panic!("no drift found for {address}"));
        let (before, after) = (&found.change.before, &found.change.after);
        let differing: Vec<String> = after
            .as_object()
            .unwrap_or_else(|| panic!("{address}: drift to {after}"))
            .keys()
            .filter(|k| before[k.as_str()] != after[k.as_str()])
            .cloned()
            .collect();
        assert_eq!(differing, [attribute], "{address}: {before} -> {after}");
        if let Some(key) = key {
            assert_ne!(
                before[attribute][key], after[attribute][key],
                "{address}: bucket_settings.{key}"
            );
        }
        assert_eq!(
            plan.actions(&address),
            [Action::Update],
            "{address} is repaired in place against {}",
            emulator_name(&h)
        );
    }
    // With create_bucket = false the policy is all the resource owns: without it the cache
    // is gone (refresh drops it from state) and the plan creates it again. The weakened public
    // access block of a bucket it does not own is no drift.
    let existing = plan.drift("gitlabrunner_cache.existing").unwrap();
    assert_eq!(existing.change.after, Value::Null, "{:?}", existing.change);
    assert_eq!(
        plan.actions("gitlabrunner_cache.existing"),
        [Action::Create]
    );
    let deleted = plan.drift("gitlabrunner_cache.bucket_deleted").unwrap();
    assert_eq!(
        deleted.change.after["bucket_settings"]["bucket"],
        "does not exist"
    );

    ws.apply().await.unwrap();
    for drift in Drift::ALL {
        let (role, bucket) = names(drift);
        let policy = inline_policy(&clients, &role, &default_policy_name(&bucket))
            .await
            .unwrap_or_else(|| panic!("{}: no policy after repair", drift.name()));
        assert_cache_policy(&policy, &bucket, "runner");
        assert_secure_bucket(&clients, &bucket, "runner", 30).await;
    }
    assert!(
        inline_policy(
            &clients,
            &existing_role,
            &default_policy_name(&existing_bucket)
        )
        .await
        .is_some()
    );
    let open = clients
        .s3
        .get_public_access_block()
        .bucket(&existing_bucket)
        .send()
        .await
        .unwrap()
        .public_access_block_configuration
        .unwrap();
    assert_eq!(
        open.block_public_acls(),
        Some(false),
        "a bucket the resource did not create is never modified"
    );
    assert_empty(&ws.plan().await.unwrap(), "after the repair");

    ws.destroy().await.unwrap();
    for drift in Drift::ALL {
        let (role, bucket) = names(drift);
        assert!(!bucket_exists(&clients, &bucket).await, "{bucket} remains");
        assert_eq!(
            inline_policy(&clients, &role, &default_policy_name(&bucket)).await,
            None
        );
        delete_role(&clients, &role).await;
    }
    assert!(bucket_exists(&clients, &existing_bucket).await);
    delete_bucket(&clients, &existing_bucket).await;
    delete_role(&clients, &existing_role).await;
}

#[tokio::test]
async fn existing_bucket_is_used_never_modified_and_kept_on_destroy() {
    let test = "existing_bucket_is_used_never_modified_and_kept_on_destroy";
    let Some(h) = harness(test).await else {
        return;
    };
    let clients = h.aws_clients().await;
    let role = unique_name("acc-cache-mgr");
    let bucket = unique_name("acc-cache-existing");
    let policy_name = unique_name("team-a-cache");
    create_role(&clients, &role).await;
    create_bucket(&clients, &bucket).await;
    put_object(&clients, &bucket, "team-a/keep.zip", "kept").await;
    let address = "gitlabrunner_cache.c";
    let extra = format!(
        "  path        = \"team-a\"\n  policy_name = {}\n",
        hcl::quote(&policy_name)
    );
    let config = format!(
        "{}{}",
        hcl::with_provider(""),
        cache_block("c", &role, &bucket, &extra)
    );
    let ws = h.workspace().unwrap();
    ws.write("main.tf", &config).unwrap();

    ws.apply().await.unwrap();
    let state = ws.show().await.unwrap();
    let created = state.resource(address).unwrap().clone();
    assert_eq!(
        created.str_attr("id"),
        Some(format!("{role}/{bucket}/{policy_name}").as_str())
    );
    assert_eq!(
        created.attr("bucket_settings"),
        &json!({"bucket": "exists in us-east-1"})
    );
    let policy = inline_policy(&clients, &role, &policy_name).await.unwrap();
    assert_cache_policy(&policy, &bucket, "team-a");
    assert!(
        bucket_tags(&clients, &bucket).await.is_empty(),
        "not tagged"
    );
    assert!(
        clients
            .s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "no bucket policy was added"
    );
    assert!(
        clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "no lifecycle rule was added"
    );
    assert_empty(&ws.plan().await.unwrap(), "after create");

    // Import by ROLE/BUCKET/POLICY (a policy under a name of its own).
    let imported = h.workspace().unwrap();
    imported.write("main.tf", &config).unwrap();
    imported
        .write_import_block(address, created.str_attr("id").unwrap())
        .unwrap();
    let plan = imported.plan().await.unwrap();
    let change = plan.change(address).unwrap();
    assert!(change.change.importing.is_some());
    assert_eq!(change.change.actions, [Action::NoOp]);
    assert_eq!(change.change.after, created.values);

    // A bucket that does not exist is refused at apply, naming the attribute; nothing is
    // created.
    let missing_bucket = unique_name("acc-cache-missing");
    let missing = h.workspace().unwrap();
    missing
        .write(
            "main.tf",
            &format!(
                "{}{}",
                hcl::with_provider(""),
                cache_block("m", &role, &missing_bucket, "")
            ),
        )
        .unwrap();
    let diagnostics = missing.apply_expect_error().await.unwrap();
    let error = diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert_eq!(
        error.summary,
        format!("Could not create the GitLab Runner cache {role}/{missing_bucket}")
    );
    assert!(error.detail.contains("does not exist"), "{}", error.detail);
    assert_eq!(
        error.highlighted(),
        Some(hcl::quote(&missing_bucket).as_str())
    );
    assert!(missing.show().await.unwrap().is_empty());
    assert_eq!(
        inline_policy(&clients, &role, &default_policy_name(&missing_bucket)).await,
        None
    );

    // The bucket deleted outside Terraform: plan shows it, apply cannot repair what this
    // resource does not own and says so; with the bucket back, nothing is left to do.
    delete_bucket(&clients, &bucket).await;
    let plan = ws.plan().await.unwrap();
    let drift = plan.drift(address).expect("the deleted bucket is drift");
    assert_eq!(
        drift.change.after["bucket_settings"]["bucket"],
        "does not exist"
    );
    let diagnostics = ws.apply_expect_error().await.unwrap();
    let error = diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert_eq!(
        error.summary,
        format!("Could not update the GitLab Runner cache {role}/{bucket}/{policy_name}")
    );
    assert!(
        error
            .detail
            .contains("With create_bucket = false the bucket must exist"),
        "{}",
        error.detail
    );
    create_bucket(&clients, &bucket).await;
    put_object(&clients, &bucket, "team-a/keep.zip", "kept").await;
    assert_empty(&ws.plan().await.unwrap(), "with the bucket back");

    // Destroy removes the policy and keeps the bucket and its objects.
    ws.destroy().await.unwrap();
    assert_eq!(inline_policy(&clients, &role, &policy_name).await, None);
    let kept = clients
        .s3
        .get_object()
        .bucket(&bucket)
        .key("team-a/keep.zip")
        .send()
        .await;
    assert!(kept.is_ok(), "the bucket and its objects stay: {kept:?}");
    delete_bucket(&clients, &bucket).await;
    delete_role(&clients, &role).await;
}
