//! The orchestration against the in-process fake: all or nothing at every failing step,
//! truthful leftovers when undoing fails, drift repaired per setting.

use std::time::Duration;

use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use super::*;
use crate::resources::cache::api::op;
use crate::resources::cache::bucket::desired_setting;
use crate::resources::cache::fake::FakeAws;
use crate::resources::cache::state::state_value;

const FAST: Backoff = Backoff::new(
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(50),
);

fn spec(create_bucket: bool) -> CacheSpec {
    CacheSpec {
        role_name: "runner-manager".into(),
        bucket_name: "runner-cache".into(),
        bucket_region: "eu-central-1".into(),
        path: "runner".into(),
        shared: true,
        create_bucket,
        expiration_days: Some(7),
        force_destroy: false,
        kms_key_arn: None,
        server_address: None,
        insecure: false,
        policy_name: "gitlabrunner-cache-runner-cache".into(),
        owner: "runner-manager/runner-cache".into(),
    }
}

fn account() -> FakeAws {
    FakeAws::with_role("runner-manager", "aws")
}

struct Run {
    cancel: CancellationToken,
    fanout: Fanout,
}

impl Run {
    fn new() -> Self {
        Self {
            cancel: CancellationToken::new(),
            fanout: Fanout::Concurrent,
        }
    }

    fn engine<'a>(&'a self, api: &'a FakeAws) -> Engine<'a> {
        Engine::new(api, self.fanout, &self.cancel).with_settle(FAST)
    }
}

async fn create(api: &FakeAws, spec: &CacheSpec) -> Result<Observed, Failed> {
    Run::new().engine(api).create(spec).await
}

async fn read(api: &FakeAws, spec: &CacheSpec) -> Observed {
    Run::new().engine(api).read(spec).await.expect("read")
}

/// The state after `read` equals the state a clean apply of `spec` promises.
async fn assert_converged(api: &FakeAws, spec: &CacheSpec) {
    let found = read(api, spec).await;
    assert_eq!(
        state_value(spec, &found),
        state_value(spec, &Observed::expected(spec)),
        "remote objects differ from the plan"
    );
}

/// Nothing of `spec`'s exists.
fn assert_nothing_left(api: &FakeAws, spec: &CacheSpec) {
    assert_eq!(api.policy(&spec.role_name, &spec.policy_name), None);
    if spec.create_bucket {
        assert!(
            api.bucket(&spec.bucket_name).is_none(),
            "bucket left behind"
        );
    }
}

#[tokio::test]
async fn create_puts_the_policy_and_a_bucket_with_secure_defaults() {
    let api = account();
    let spec = spec(true);
    let observed = create(&api, &spec).await.expect("create");
    let bucket = api.bucket("runner-cache").expect("bucket");
    assert!(is_owned(&bucket.tags, &spec));
    for setting in desired_settings(&spec.bucket_spec()) {
        let found = bucket
            .settings
            .get(&setting.kind())
            .cloned()
            .unwrap_or_else(|| Setting::unset(setting.kind()));
        assert!(found.same_as(&setting), "{:?}", setting.kind());
    }
    assert_eq!(
        state_value(&spec, &observed),
        state_value(&spec, &Observed::expected(&spec))
    );
    assert_converged(&api, &spec).await;
}

#[tokio::test]
async fn create_takes_three_phases_and_ten_calls() {
    let api = account();
    create(&api, &spec(true)).await.expect("create");
    let calls = api.calls();
    assert_eq!(calls.len(), 10, "{calls:?}");
    assert_eq!(
        &calls[..3]
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        &[op::GET_ROLE, op::GET_ROLE_POLICY, op::HEAD_BUCKET].into()
    );
}

#[tokio::test]
async fn create_with_an_existing_bucket_only_puts_the_policy() {
    let api = account();
    api.edit_bucket("runner-cache", |b| {
        *b = Some(FakeAws::new_bucket("eu-central-1"))
    });
    let spec = spec(false);
    create(&api, &spec).await.expect("create");
    assert!(api.policy(&spec.role_name, &spec.policy_name).is_some());
    let bucket = api.bucket("runner-cache").unwrap();
    assert!(
        bucket.settings.is_empty() && bucket.tags.is_empty(),
        "bucket was modified"
    );
    assert_converged(&api, &spec).await;
}

#[tokio::test]
async fn create_refuses_a_missing_or_misplaced_existing_bucket() {
    let api = account();
    let failure = create(&api, &spec(false)).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_NAME));
    assert!(
        failure.message.contains("does not exist"),
        "{}",
        failure.message
    );
    api.edit_bucket("runner-cache", |b| {
        *b = Some(FakeAws::new_bucket("us-west-2"))
    });
    let failure = create(&api, &spec(false)).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_REGION));
    assert!(failure.message.contains("us-west-2"), "{}", failure.message);
    assert_nothing_left(&api, &spec(false));
}

#[tokio::test]
async fn create_refuses_a_missing_role_before_changing_anything() {
    let api = FakeAws::default();
    let failure = create(&api, &spec(true)).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::ROLE_NAME));
    assert!(!failure.changed);
    assert!(!api.calls().contains(&op::CREATE_BUCKET));
}

#[tokio::test]
async fn create_refuses_a_role_in_another_partition() {
    let api = FakeAws::with_role("runner-manager", "aws-us-gov");
    let failure = create(&api, &spec(true)).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_REGION));
    assert!(
        failure.message.contains("aws-us-gov"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn create_refuses_a_role_arn_of_no_known_partition_before_changing_anything() {
    // Before issue 15 an ARN that did not parse fell through the partition check.
    let api = FakeAws::with_role("runner-manager", "aws-iso-z");
    let failure = create(&api, &spec(true)).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::ROLE_NAME));
    assert!(!failure.changed);
    assert!(
        failure
            .message
            .contains("arn:aws-iso-z:iam::123456789012:role/runner-manager"),
        "{}",
        failure.message
    );
    assert!(!api.calls().contains(&op::CREATE_BUCKET));
    assert!(!api.calls().contains(&op::PUT_ROLE_POLICY));
}

#[tokio::test]
async fn an_iso_bucket_is_granted_to_an_iso_role_in_its_own_partition() {
    let api = FakeAws::with_role("runner-manager", "aws-iso-b");
    let iso = CacheSpec {
        bucket_region: "us-isob-east-1".into(),
        ..spec(true)
    };
    let observed = create(&api, &iso).await.expect("same partition");
    let policy = observed.policy.expect("the policy is put");
    assert!(
        policy.contains("arn:aws-iso-b:s3:::runner-cache"),
        "{policy}"
    );
    let wrong = FakeAws::with_role("runner-manager", "aws");
    let failure = create(&wrong, &iso).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_REGION));
}

#[tokio::test]
async fn rollback_leaves_nothing_when_any_create_step_fails() {
    let steps = [
        op::GET_ROLE,
        op::GET_ROLE_POLICY,
        op::HEAD_BUCKET,
        op::PUT_ROLE_POLICY,
        op::CREATE_BUCKET,
        op::PUT_BUCKET_TAGGING,
        op::PUT_PUBLIC_ACCESS_BLOCK,
        op::PUT_BUCKET_ENCRYPTION,
        op::PUT_BUCKET_POLICY,
        op::PUT_BUCKET_LIFECYCLE,
    ];
    for failing in steps {
        for fanout in [Fanout::Concurrent, Fanout::Serial] {
            let api = account();
            api.fail(failing);
            let spec = spec(true);
            let run = Run {
                fanout,
                ..Run::new()
            };
            let failure = run.engine(&api).create(&spec).await.unwrap_err();
            assert!(
                failure.message.contains(failing),
                "{failing}: the message names the step: {}",
                failure.message
            );
            assert!(
                failure.not_undone.is_empty(),
                "{failing}: {:?}",
                failure.not_undone
            );
            assert!(failure.remaining.owns_nothing(&spec), "{failing}");
            assert_nothing_left(&api, &spec);
        }
    }
}

#[tokio::test]
async fn rollback_removes_the_policy_when_the_existing_bucket_check_passes_but_the_put_fails() {
    let api = account();
    api.edit_bucket("runner-cache", |b| {
        *b = Some(FakeAws::new_bucket("eu-central-1"))
    });
    api.fail(op::PUT_ROLE_POLICY);
    let spec = spec(false);
    let failure = create(&api, &spec).await.unwrap_err();
    assert!(failure.remaining.owns_nothing(&spec));
    assert!(
        api.bucket("runner-cache").is_some(),
        "a bucket it does not own stays"
    );
}

#[tokio::test]
async fn failed_rollback_reports_exactly_what_is_left() {
    let api = account();
    api.fail(op::PUT_BUCKET_ENCRYPTION);
    api.fail(op::DELETE_BUCKET);
    let spec = spec(true);
    let failure = create(&api, &spec).await.unwrap_err();
    assert_eq!(api.policy(&spec.role_name, &spec.policy_name), None);
    assert!(api.bucket("runner-cache").is_some());
    assert_eq!(failure.remaining.policy, None);
    let left = failure
        .remaining
        .bucket
        .as_ref()
        .expect("the bucket is reported");
    assert_eq!(left.region, "eu-central-1");
    assert!(
        failure
            .not_undone
            .iter()
            .any(|s| s.contains("delete the bucket"))
    );
    assert!(failure.undone.iter().any(|s| s.contains("inline policy")));
    // What the state will say about the bucket matches what the fake has.
    let state = state_value(&spec, &failure.remaining);
    let found = read(&api, &spec).await;
    assert_eq!(state, state_value(&spec, &found));
}

#[tokio::test]
async fn an_interrupted_create_is_adopted_on_the_next_apply() {
    let api = account();
    let spec = spec(true);
    // A create killed after phase 2 and its tags: the bucket is tagged but unconfigured.
    api.fail(op::PUT_BUCKET_ENCRYPTION);
    api.fail(op::DELETE_BUCKET);
    api.fail(op::DELETE_ROLE_POLICY);
    let _ = create(&api, &spec).await.unwrap_err();
    assert!(api.policy(&spec.role_name, &spec.policy_name).is_some());
    let api_next = account();
    api_next.set_policy(
        &spec.role_name,
        &spec.policy_name,
        api.policy(&spec.role_name, &spec.policy_name).as_deref(),
    );
    let leftover = api.bucket("runner-cache").unwrap();
    api_next.edit_bucket("runner-cache", |b| *b = Some(leftover));
    create(&api_next, &spec)
        .await
        .expect("adopts its leftovers");
    assert!(!api_next.calls().contains(&op::CREATE_BUCKET));
    assert!(!api_next.calls().contains(&op::PUT_ROLE_POLICY));
    assert_converged(&api_next, &spec).await;
}

#[tokio::test]
async fn a_bucket_someone_else_made_is_not_adopted() {
    let api = account();
    api.edit_bucket("runner-cache", |b| {
        *b = Some(FakeAws::new_bucket("eu-central-1"))
    });
    let spec = spec(true);
    let failure = create(&api, &spec).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_NAME));
    assert!(
        failure.message.contains("create_bucket = false"),
        "{}",
        failure.message
    );
    assert_eq!(api.policy(&spec.role_name, &spec.policy_name), None);
    assert!(api.bucket("runner-cache").unwrap().tags.is_empty());
}

#[tokio::test]
async fn a_different_policy_under_the_same_name_is_not_overwritten() {
    let api = account();
    let spec = spec(false);
    api.edit_bucket("runner-cache", |b| {
        *b = Some(FakeAws::new_bucket("eu-central-1"))
    });
    let theirs = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    api.set_policy(&spec.role_name, &spec.policy_name, Some(theirs));
    let failure = create(&api, &spec).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::POLICY_NAME));
    assert!(
        failure.message.contains("terraform import"),
        "{}",
        failure.message
    );
    assert_eq!(
        api.policy(&spec.role_name, &spec.policy_name).as_deref(),
        Some(theirs)
    );
}

/// Edits one thing behind the resource's back, checks read shows it, update repairs it.
async fn drift_is_detected_and_repaired(spec: &CacheSpec, edit: impl FnOnce(&FakeAws)) {
    let api = account();
    if !spec.create_bucket {
        api.edit_bucket("runner-cache", |b| {
            *b = Some(FakeAws::new_bucket("eu-central-1"))
        });
    }
    create(&api, spec).await.expect("create");
    edit(&api);
    let drifted = read(&api, spec).await;
    assert_ne!(
        state_value(spec, &drifted),
        state_value(spec, &Observed::expected(spec)),
        "read does not show the drift"
    );
    assert!(drift_warnings_for(spec, &drifted));
    let run = Run::new();
    run.engine(&api).update(spec, spec).await.expect("repair");
    assert_converged(&api, spec).await;
}

fn drift_warnings_for(spec: &CacheSpec, observed: &Observed) -> bool {
    !crate::resources::cache::state::drift_warnings(spec, observed).is_empty()
}

#[tokio::test]
async fn edited_policy_is_restored() {
    drift_is_detected_and_repaired(&spec(false), |api| {
        api.set_policy(
            "runner-manager",
            "gitlabrunner-cache-runner-cache",
            Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#),
        );
    })
    .await;
}

#[tokio::test]
async fn removed_policy_is_put_back() {
    drift_is_detected_and_repaired(&spec(true), |api| {
        api.set_policy("runner-manager", "gitlabrunner-cache-runner-cache", None);
    })
    .await;
}

#[tokio::test]
async fn each_changed_bucket_setting_is_restored() {
    let weakened: Vec<Setting> = vec![
        Setting::PublicAccessBlock(Some(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .build(),
        )),
        Setting::PublicAccessBlock(None),
        Setting::Encryption(None),
        Setting::Policy(None),
        Setting::Policy(Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::runner-cache/*"}]}"#.into())),
        Setting::Lifecycle(None),
        desired_setting(
            &CacheSpec {
                expiration_days: Some(365),
                ..spec(true)
            }
            .bucket_spec(),
            SettingKind::Lifecycle,
        ),
    ];
    for setting in weakened {
        drift_is_detected_and_repaired(&spec(true), |api| {
            api.edit_bucket("runner-cache", |b| {
                let bucket = b.as_mut().unwrap();
                bucket.settings.insert(setting.kind(), setting.clone());
            });
        })
        .await;
    }
}

#[tokio::test]
async fn deleted_bucket_is_created_again() {
    drift_is_detected_and_repaired(&spec(true), |api| {
        api.edit_bucket("runner-cache", |b| *b = None);
    })
    .await;
}

#[tokio::test]
async fn update_without_drift_or_change_writes_nothing() {
    let api = account();
    let spec = spec(true);
    create(&api, &spec).await.unwrap();
    api.clear_calls();
    Run::new().engine(&api).update(&spec, &spec).await.unwrap();
    assert!(
        api.calls()
            .iter()
            .all(|c| c.contains(":Get") || c.contains(":Head")),
        "{:?}",
        api.calls()
    );
}

#[tokio::test]
async fn update_changes_policy_and_rule_together_or_not_at_all() {
    let api = account();
    let before = spec(true);
    create(&api, &before).await.unwrap();
    let after = CacheSpec {
        path: "other".into(),
        expiration_days: Some(3),
        ..before.clone()
    };
    api.fail(op::PUT_BUCKET_LIFECYCLE);
    let failure = Run::new()
        .engine(&api)
        .update(&before, &after)
        .await
        .unwrap_err();
    assert!(failure.message.contains(op::PUT_BUCKET_LIFECYCLE));
    assert!(failure.changed && failure.not_undone.is_empty());
    assert_converged(&api, &before).await;
    assert_eq!(
        state_value(&before, &failure.remaining),
        state_value(&before, &Observed::expected(&before))
    );
}

/// The cache of `spec(true)` with its role renamed (issue 15): same bucket, same owner tag.
fn renamed(before: &CacheSpec) -> CacheSpec {
    CacheSpec {
        role_name: "runner-manager-v2".into(),
        ..before.clone()
    }
}

#[tokio::test]
async fn a_renamed_role_gets_the_policy_before_the_old_role_loses_it_and_the_bucket_stays() {
    let api = account();
    api.add_role("runner-manager-v2", "aws");
    let before = spec(true);
    create(&api, &before).await.unwrap();
    api.edit_bucket("runner-cache", |b| b.as_mut().unwrap().objects = 3);
    let after = renamed(&before);
    api.clear_calls();
    let observed = Run::new()
        .engine(&api)
        .update(&before, &after)
        .await
        .expect("an in-place rename");
    let wanted = Observed::expected(&after).policy.unwrap();
    assert_eq!(
        api.policy("runner-manager-v2", &after.policy_name),
        Some(wanted)
    );
    assert_eq!(api.policy("runner-manager", &before.policy_name), None);
    let calls = api.calls();
    let put = calls.iter().position(|c| *c == op::PUT_ROLE_POLICY);
    let delete = calls.iter().position(|c| *c == op::DELETE_ROLE_POLICY);
    assert!(put.is_some() && put < delete, "{calls:?}");
    for untouched in [op::CREATE_BUCKET, op::DELETE_BUCKET, op::DELETE_OBJECTS] {
        assert!(!calls.contains(&untouched), "{calls:?}");
    }
    let bucket = api.bucket("runner-cache").expect("the bucket stays");
    assert_eq!(bucket.objects, 3);
    assert!(is_owned(&bucket.tags, &after));
    assert_converged(&api, &after).await;
    assert_eq!(
        state_value(&after, &observed),
        state_value(&after, &Observed::expected(&after))
    );
}

#[tokio::test]
async fn a_rename_after_the_old_role_is_gone_still_succeeds() {
    let api = account();
    api.add_role("runner-manager-v2", "aws");
    let before = spec(true);
    create(&api, &before).await.unwrap();
    api.remove_role("runner-manager");
    let after = renamed(&before);
    Run::new()
        .engine(&api)
        .update(&before, &after)
        .await
        .expect("nothing left to move away from");
    assert_converged(&api, &after).await;
}

#[tokio::test]
async fn a_rename_that_fails_to_clear_the_old_role_puts_everything_back() {
    let api = account();
    api.add_role("runner-manager-v2", "aws");
    let before = spec(true);
    create(&api, &before).await.unwrap();
    api.fail_once_with(
        op::DELETE_ROLE_POLICY,
        AwsErrorKind::Unavailable,
        "ServiceFailure",
        500,
    );
    let after = renamed(&before);
    let failure = Run::new()
        .engine(&api)
        .update(&before, &after)
        .await
        .unwrap_err();
    assert!(failure.not_undone.is_empty(), "{failure:?}");
    assert!(!failure.changed, "the prior state holds again");
    assert_eq!(api.policy("runner-manager-v2", &after.policy_name), None);
    assert_converged(&api, &before).await;
}

#[tokio::test]
async fn a_rename_onto_a_role_with_a_foreign_policy_of_that_name_changes_nothing() {
    let api = account();
    api.add_role("runner-manager-v2", "aws");
    let before = spec(true);
    create(&api, &before).await.unwrap();
    let foreign = r#"{"Version":"2012-10-17","Statement":[]}"#;
    api.set_policy("runner-manager-v2", &before.policy_name, Some(foreign));
    api.clear_calls();
    let failure = Run::new()
        .engine(&api)
        .update(&before, &renamed(&before))
        .await
        .unwrap_err();
    assert_eq!(failure.attribute, Some(attr::ROLE_NAME));
    assert!(!failure.changed);
    assert_eq!(
        api.policy("runner-manager-v2", &before.policy_name)
            .as_deref(),
        Some(foreign)
    );
    assert!(
        !api.calls()
            .iter()
            .any(|c| c.contains(":Put") || c.contains(":Delete"))
    );
    assert_converged(&api, &before).await;
}

#[tokio::test]
async fn update_to_a_kms_key_grants_the_key_and_encrypts_with_it() {
    let api = account();
    let before = spec(true);
    create(&api, &before).await.unwrap();
    let after = CacheSpec {
        kms_key_arn: Some("arn:aws:kms:eu-central-1:123456789012:key/abc".into()),
        ..before.clone()
    };
    Run::new()
        .engine(&api)
        .update(&before, &after)
        .await
        .unwrap();
    let policy = api.policy(&after.role_name, &after.policy_name).unwrap();
    assert!(policy.contains("kms:GenerateDataKey") && policy.contains("key/abc"));
    assert_converged(&api, &after).await;
}

#[tokio::test]
async fn update_refuses_an_existing_bucket_that_disappeared() {
    let api = account();
    let spec = spec(false);
    api.edit_bucket("runner-cache", |b| {
        *b = Some(FakeAws::new_bucket("eu-central-1"))
    });
    create(&api, &spec).await.unwrap();
    api.edit_bucket("runner-cache", |b| *b = None);
    let failure = Run::new()
        .engine(&api)
        .update(&spec, &spec)
        .await
        .unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_NAME));
    assert!(!failure.changed);
    assert!(
        api.bucket("runner-cache").is_none(),
        "never created by this resource"
    );
}

#[tokio::test]
async fn delete_removes_policy_and_bucket() {
    let api = account();
    let spec = spec(true);
    create(&api, &spec).await.unwrap();
    Run::new().engine(&api).delete(&spec).await.unwrap();
    assert_nothing_left(&api, &spec);
}

#[tokio::test]
async fn delete_of_a_non_empty_bucket_keeps_everything_without_force_destroy() {
    let api = account();
    let spec = spec(true);
    create(&api, &spec).await.unwrap();
    api.edit_bucket("runner-cache", |b| b.as_mut().unwrap().objects = 3);
    let failure = Run::new().engine(&api).delete(&spec).await.unwrap_err();
    assert!(
        failure.message.contains("force_destroy"),
        "{}",
        failure.message
    );
    assert!(
        api.policy(&spec.role_name, &spec.policy_name).is_some(),
        "policy restored"
    );
    assert_eq!(api.bucket("runner-cache").unwrap().objects, 3);
    assert_eq!(
        failure.remaining.policy,
        api.policy(&spec.role_name, &spec.policy_name)
    );
}

#[tokio::test]
async fn force_destroy_empties_the_bucket_first() {
    let api = account();
    let spec = CacheSpec {
        force_destroy: true,
        ..spec(true)
    };
    create(&api, &spec).await.unwrap();
    api.edit_bucket("runner-cache", |b| b.as_mut().unwrap().objects = 3);
    Run::new().engine(&api).delete(&spec).await.unwrap();
    assert_nothing_left(&api, &spec);
}

#[tokio::test]
async fn delete_never_removes_a_bucket_without_its_ownership_tags() {
    let api = account();
    let spec = spec(true);
    create(&api, &spec).await.unwrap();
    api.edit_bucket("runner-cache", |b| b.as_mut().unwrap().tags.clear());
    let failure = Run::new().engine(&api).delete(&spec).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::CREATE_BUCKET));
    assert!(!failure.changed);
    assert!(api.bucket("runner-cache").is_some());
    assert!(api.policy(&spec.role_name, &spec.policy_name).is_some());
}

#[tokio::test]
async fn delete_that_removes_the_bucket_but_not_the_policy_says_so() {
    let api = account();
    let spec = spec(true);
    create(&api, &spec).await.unwrap();
    api.fail(op::DELETE_ROLE_POLICY);
    let failure = Run::new().engine(&api).delete(&spec).await.unwrap_err();
    assert!(failure.message.contains(op::DELETE_ROLE_POLICY));
    assert!(failure.remaining.bucket.is_none());
    assert!(failure.remaining.policy.is_some());
    assert!(api.bucket("runner-cache").is_none());
}

#[tokio::test]
async fn delete_rolls_back_the_policy_at_each_failing_bucket_step() {
    for failing in [
        op::DELETE_BUCKET,
        op::GET_BUCKET_TAGGING,
        op::DELETE_BUCKET_POLICY,
        op::DELETE_OBJECTS,
    ] {
        let api = account();
        let spec = CacheSpec {
            force_destroy: true,
            ..spec(true)
        };
        create(&api, &spec).await.unwrap();
        api.fail(failing);
        let failure = Run::new().engine(&api).delete(&spec).await.unwrap_err();
        assert!(
            failure.message.contains(failing),
            "{failing}: {}",
            failure.message
        );
        assert!(
            failure.not_undone.is_empty(),
            "{failing}: {:?}",
            failure.not_undone
        );
        assert!(
            api.policy(&spec.role_name, &spec.policy_name).is_some(),
            "{failing}"
        );
        assert!(api.bucket("runner-cache").is_some(), "{failing}");
        // The bucket policy is back too.
        assert_converged(&api, &spec).await;
    }
}

#[tokio::test]
async fn delete_of_objects_already_gone_succeeds() {
    let api = account();
    let spec = spec(true);
    Run::new().engine(&api).delete(&spec).await.unwrap();
}

#[tokio::test]
async fn cancellation_before_a_phase_rolls_back() {
    let api = account();
    let spec = spec(true);
    let run = Run::new();
    run.cancel.cancel();
    let failure = run.engine(&api).create(&spec).await.unwrap_err();
    assert!(
        failure.message.contains("StopProvider"),
        "{}",
        failure.message
    );
    assert_nothing_left(&api, &spec);
}

#[tokio::test]
async fn writes_to_a_bucket_s3_has_not_settled_are_retried() {
    for (kind, code, status) in [
        (AwsErrorKind::NotFound, "NoSuchBucket", 404),
        (AwsErrorKind::Conflict, "OperationAborted", 409),
    ] {
        let api = account();
        api.fail_once_with(op::PUT_BUCKET_POLICY, kind, code, status);
        create(&api, &spec(true)).await.expect(code);
        let attempts = api
            .calls()
            .iter()
            .filter(|c| **c == op::PUT_BUCKET_POLICY)
            .count();
        assert_eq!(attempts, 2, "{code}");
    }
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    let api = account();
    api.fail_once_with(
        op::PUT_BUCKET_POLICY,
        AwsErrorKind::AccessDenied,
        "AccessDenied",
        403,
    );
    let failure = create(&api, &spec(true)).await.unwrap_err();
    assert!(failure.message.contains("AccessDenied"));
    assert_nothing_left(&api, &spec(true));
}

#[tokio::test]
async fn a_role_iam_does_not_show_yet_is_waited_for() {
    let fake_missing_once = FakeAws::default();
    let spec = spec(true);
    let run = Run::new();
    let engine = run.engine(&fake_missing_once);
    let waiting = engine.create(&spec);
    let add_role = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        fake_missing_once.add_role("runner-manager", "aws");
    };
    let (created, ()) = tokio::join!(waiting, add_role);
    created.expect("the role appeared while waiting");
}

#[tokio::test]
async fn a_bucket_of_another_account_is_explained() {
    let api = account();
    api.fail_once_with(
        op::HEAD_BUCKET,
        AwsErrorKind::AccessDenied,
        "AccessDenied",
        403,
    );
    let failure = create(&api, &spec(true)).await.unwrap_err();
    assert_eq!(failure.attribute, Some(attr::BUCKET_NAME));
    assert!(
        failure.message.contains("another AWS account"),
        "{}",
        failure.message
    );
    assert_nothing_left(&api, &spec(true));
}

#[tokio::test]
async fn releasing_the_bucket_leaves_it_as_it_is() {
    let api = account();
    let managed = spec(true);
    create(&api, &managed).await.unwrap();
    let released = CacheSpec {
        expiration_days: None,
        ..spec(false)
    };
    api.clear_calls();
    let observed = Run::new()
        .engine(&api)
        .update(&managed, &released)
        .await
        .unwrap();
    assert!(
        api.calls()
            .iter()
            .all(|c| !c.starts_with("s3:Put") && !c.starts_with("s3:Delete")),
        "{:?}",
        api.calls()
    );
    assert_eq!(
        state_value(&released, &observed),
        state_value(&released, &Observed::expected(&released))
    );
    Run::new().engine(&api).delete(&released).await.unwrap();
    let bucket = api.bucket("runner-cache").expect("a released bucket stays");
    assert!(is_owned(&bucket.tags, &managed));
}
