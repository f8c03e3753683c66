//! The settings of a bucket this resource creates: what they must be, and a one-line
//! description of each that state and plan compare (a difference is drift).

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::aws::policy;
use crate::ownership::{MANAGED_BY, MANAGED_BY_TAG, OWNER_KEY};

use super::model::{BucketSpec, CacheSpec};
use super::permissions::deny_insecure_transport_policy;

/// The ID of the expiration rule this resource writes.
pub const LIFECYCLE_RULE_ID: &str = "gitlabrunner-cache-expiration";

/// Incomplete multipart uploads under the cache path are aborted after this many days.
pub const ABORT_INCOMPLETE_UPLOAD_DAYS: i32 = 1;

/// Noncurrent object versions (only if someone enables versioning) expire after this many days.
pub const NONCURRENT_VERSION_DAYS: i32 = 1;

/// Which bucket setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SettingKind {
    PublicAccessBlock,
    Encryption,
    Policy,
    Lifecycle,
}

impl SettingKind {
    /// Every setting, in the order they are written and described.
    pub const ALL: [SettingKind; 4] = [
        SettingKind::PublicAccessBlock,
        SettingKind::Encryption,
        SettingKind::Policy,
        SettingKind::Lifecycle,
    ];

    /// The key in `bucket_settings`.
    pub fn key(self) -> &'static str {
        match self {
            SettingKind::PublicAccessBlock => "public_access_block",
            SettingKind::Encryption => "encryption",
            SettingKind::Policy => "bucket_policy",
            SettingKind::Lifecycle => "lifecycle",
        }
    }

    /// What the setting is, for messages ("set the bucket's default encryption").
    pub fn noun(self) -> &'static str {
        match self {
            SettingKind::PublicAccessBlock => "public access block",
            SettingKind::Encryption => "default encryption",
            SettingKind::Policy => "bucket policy",
            SettingKind::Lifecycle => "lifecycle configuration",
        }
    }
}

/// One bucket setting's value as S3 has it; `None` is "not configured".
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    PublicAccessBlock(Option<PublicAccessBlockConfiguration>),
    Encryption(Option<ServerSideEncryptionConfiguration>),
    /// The bucket policy document.
    Policy(Option<String>),
    Lifecycle(Option<Vec<LifecycleRule>>),
}

impl Setting {
    /// Which setting this is.
    pub fn kind(&self) -> SettingKind {
        match self {
            Setting::PublicAccessBlock(_) => SettingKind::PublicAccessBlock,
            Setting::Encryption(_) => SettingKind::Encryption,
            Setting::Policy(_) => SettingKind::Policy,
            Setting::Lifecycle(_) => SettingKind::Lifecycle,
        }
    }

    /// The value a bucket that has never been configured has.
    pub fn unset(kind: SettingKind) -> Setting {
        match kind {
            SettingKind::PublicAccessBlock => Setting::PublicAccessBlock(None),
            SettingKind::Encryption => Setting::Encryption(None),
            SettingKind::Policy => Setting::Policy(None),
            SettingKind::Lifecycle => Setting::Lifecycle(None),
        }
    }

    /// A one-line description; two settings with the same description mean the same.
    pub fn describe(&self) -> String {
        match self {
            Setting::PublicAccessBlock(None) => "none".to_string(),
            Setting::PublicAccessBlock(Some(block)) => format!(
                "BlockPublicAcls={}, IgnorePublicAcls={}, BlockPublicPolicy={}, \
                 RestrictPublicBuckets={}",
                block.block_public_acls().unwrap_or(false),
                block.ignore_public_acls().unwrap_or(false),
                block.block_public_policy().unwrap_or(false),
                block.restrict_public_buckets().unwrap_or(false),
            ),
            Setting::Encryption(None) => "none".to_string(),
            Setting::Encryption(Some(config)) => describe_encryption(config),
            Setting::Policy(None) => "none".to_string(),
            Setting::Policy(Some(document)) => match policy::parse_policy(document) {
                Ok(parsed) => policy::to_canonical_json(&parsed),
                Err(_) => policy::decode_document(document),
            },
            Setting::Lifecycle(None) => "none".to_string(),
            Setting::Lifecycle(Some(rules)) if rules.is_empty() => "none".to_string(),
            Setting::Lifecycle(Some(rules)) => {
                let mut lines: Vec<String> = rules.iter().map(describe_rule).collect();
                lines.sort();
                lines.join("; ")
            }
        }
    }

    /// Whether `self` and `other` mean the same.
    pub fn same_as(&self, other: &Setting) -> bool {
        self.kind() == other.kind() && self.describe() == other.describe()
    }
}

fn describe_encryption(config: &ServerSideEncryptionConfiguration) -> String {
    let rules: Vec<String> = config
        .rules()
        .iter()
        .map(|rule| {
            let Some(default) = rule.apply_server_side_encryption_by_default() else {
                return "no default".to_string();
            };
            match default.sse_algorithm() {
                ServerSideEncryption::Aes256 => "SSE-S3 (AES256)".to_string(),
                algorithm => format!(
                    "{} with key {}, bucket key {}",
                    algorithm.as_str(),
                    default.kms_master_key_id().unwrap_or("(AWS managed)"),
                    if rule.bucket_key_enabled().unwrap_or(false) {
                        "on"
                    } else {
                        "off"
                    }
                ),
            }
        })
        .collect();
    if rules.is_empty() {
        "none".to_string()
    } else {
        rules.join("; ")
    }
}

fn describe_rule(rule: &LifecycleRule) -> String {
    // Rules written with the legacy top-level `Prefix` still come back that way.
    #[allow(deprecated)]
    let legacy_prefix = rule.prefix();
    let filter = match (rule.filter(), legacy_prefix) {
        (Some(filter), _) if filter.tag().is_some() || filter.and().is_some() => {
            "a tag or combined filter".to_string()
        }
        (Some(filter), _)
            if filter.object_size_greater_than().is_some()
                || filter.object_size_less_than().is_some() =>
        {
            "an object size filter".to_string()
        }
        (Some(filter), _) => prefix_text(filter.prefix()),
        (None, prefix) => prefix_text(prefix),
    };
    let mut parts = vec![
        format!(
            "rule {:?} ({})",
            rule.id().unwrap_or(""),
            rule.status().as_str()
        ),
        filter,
    ];
    if let Some(expiration) = rule.expiration() {
        match (expiration.days(), expiration.date()) {
            (Some(days), _) => parts.push(format!("expire after {days} days")),
            (None, Some(date)) => parts.push(format!("expire on {date}")),
            (None, None) => {}
        }
        if expiration.expired_object_delete_marker() == Some(true) {
            parts.push("remove expired delete markers".to_string());
        }
    }
    if let Some(abort) = rule.abort_incomplete_multipart_upload() {
        parts.push(format!(
            "abort incomplete uploads after {} days",
            abort.days_after_initiation().unwrap_or(0)
        ));
    }
    if let Some(noncurrent) = rule.noncurrent_version_expiration() {
        parts.push(format!(
            "expire noncurrent versions after {} days",
            noncurrent.noncurrent_days().unwrap_or(0)
        ));
    }
    if !rule.transitions().is_empty() || !rule.noncurrent_version_transitions().is_empty() {
        parts.push("with transitions".to_string());
    }
    parts.join(", ")
}

fn prefix_text(prefix: Option<&str>) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("prefix {p:?}"),
        _ => "whole bucket".to_string(),
    }
}

/// The settings a bucket this resource creates must have.
pub fn desired_settings(spec: &BucketSpec) -> Vec<Setting> {
    SettingKind::ALL
        .iter()
        .map(|kind| desired_setting(spec, *kind))
        .collect()
}

/// One desired setting.
pub fn desired_setting(spec: &BucketSpec, kind: SettingKind) -> Setting {
    match kind {
        SettingKind::PublicAccessBlock => Setting::PublicAccessBlock(Some(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )),
        SettingKind::Encryption => Setting::Encryption(Some(encryption(spec))),
        SettingKind::Policy => Setting::Policy(Some(policy::to_canonical_json(
            &deny_insecure_transport_policy(spec.partition, &spec.name),
        ))),
        SettingKind::Lifecycle => Setting::Lifecycle(Some(vec![expiration_rule(spec)])),
    }
}

fn encryption(spec: &BucketSpec) -> ServerSideEncryptionConfiguration {
    let (default, bucket_key) = match &spec.kms_key_arn {
        Some(key) => (
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key),
            // S3 Bucket Keys cut KMS requests (and cost) for SSE-KMS.
            Some(true),
        ),
        None => (
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
            None,
        ),
    };
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    default.build().expect("the algorithm is set"),
                )
                .set_bucket_key_enabled(bucket_key)
                .build(),
        )
        .build()
        .expect("one rule is set")
}

fn expiration_rule(spec: &BucketSpec) -> LifecycleRule {
    let days = i32::try_from(spec.expiration_days).unwrap_or(i32::MAX);
    LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .prefix(format!("{}/", spec.path))
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(days).build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(ABORT_INCOMPLETE_UPLOAD_DAYS)
                .build(),
        )
        // Versioning stays off; should someone enable it, old versions still go.
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(NONCURRENT_VERSION_DAYS)
                .build(),
        )
        .build()
        .expect("status is set")
}

/// The expiration days of this resource's rule in `rules`, if it is there (for import).
pub fn expiration_days_of(rules: &[LifecycleRule]) -> Option<i64> {
    rules
        .iter()
        .find(|r| r.id() == Some(LIFECYCLE_RULE_ID))
        .and_then(|r| r.expiration())
        .and_then(LifecycleExpiration::days)
        .map(i64::from)
}

/// The ownership tags of a bucket this resource creates: which tool, and which resource
/// instance (its `bucket_owner_tag`), so that a later apply recognises a bucket an interrupted
/// create left behind, and delete never removes a bucket that is not this instance's.
pub fn ownership_tags(spec: &CacheSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
        (OWNER_KEY.to_string(), spec.owner.clone()),
    ])
}

/// Whether `tags` mark the bucket as created by this resource instance. The owner recorded in
/// state is compared, not one derived from the current role: a renamed role keeps its bucket
/// (issue 15), and a bucket tagged before then (`ROLE/BUCKET`) is what that state records.
pub fn is_owned(tags: &BTreeMap<String, String>, spec: &CacheSpec) -> bool {
    tags.get(OWNER_KEY) == Some(&spec.owner)
        && tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY)
}

/// The owner tag found on a bucket of this provider whose tag names `bucket`, whatever role
/// it names (import: the role may have been renamed since the bucket was created).
pub fn owner_of_bucket(tags: &BTreeMap<String, String>, bucket: &str) -> Option<String> {
    let owner = tags.get(OWNER_KEY)?;
    let suffix = format!("/{}", sanitized(bucket));
    (tags.get(MANAGED_BY_TAG).map(String::as_str) == Some(MANAGED_BY) && owner.ends_with(&suffix))
        .then(|| owner.clone())
}

/// The owner tag a new resource instance gets: `ROLE/BUCKET`, with characters S3 refuses in
/// tag values (IAM allows `,` in role names) replaced by `_`. Derived from the names, so a
/// create interrupted before the state was saved is recognised by the next plan.
pub fn owner_value(role: &str, bucket: &str) -> String {
    sanitized(&format!("{role}/{bucket}"))
}

fn sanitized(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The `bucket_settings` entry that says whether the bucket exists, and where.
pub const EXISTENCE_KEY: &str = "bucket";

/// The description of a bucket's existence.
pub fn describe_existence(region: Option<&str>) -> String {
    match region {
        Some(region) => format!("exists in {region}"),
        None => "does not exist".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BucketSpec {
        BucketSpec {
            name: "cache".into(),
            partition: crate::aws::Partition::Aws,
            region: "eu-central-1".into(),
            path: "runner".into(),
            kms_key_arn: None,
            expiration_days: 7,
        }
    }

    fn cache_spec(role: &str) -> CacheSpec {
        CacheSpec {
            role_name: role.into(),
            bucket_name: "cache".into(),
            bucket_region: "eu-central-1".into(),
            path: "runner".into(),
            shared: false,
            create_bucket: true,
            expiration_days: None,
            force_destroy: false,
            kms_key_arn: None,
            server_address: None,
            insecure: false,
            policy_name: "gitlabrunner-cache-cache".into(),
            owner: owner_value(role, "cache"),
        }
    }

    #[test]
    fn secure_defaults_describe_themselves() {
        let described: Vec<String> = desired_settings(&spec())
            .iter()
            .map(Setting::describe)
            .collect();
        assert_eq!(
            described[0],
            "BlockPublicAcls=true, IgnorePublicAcls=true, BlockPublicPolicy=true, \
             RestrictPublicBuckets=true"
        );
        assert_eq!(described[1], "SSE-S3 (AES256)");
        assert!(
            described[2].contains("aws:SecureTransport"),
            "{}",
            described[2]
        );
        assert_eq!(
            described[3],
            "rule \"gitlabrunner-cache-expiration\" (Enabled), prefix \"runner/\", expire \
             after 7 days, abort incomplete uploads after 1 days, expire noncurrent versions after 1 \
             days"
        );
    }

    #[test]
    fn kms_encryption_names_the_key_and_the_bucket_key() {
        let mut with_key = spec();
        with_key.kms_key_arn = Some("arn:aws:kms:eu-central-1:123456789012:key/k".into());
        assert_eq!(
            desired_setting(&with_key, SettingKind::Encryption).describe(),
            "aws:kms with key arn:aws:kms:eu-central-1:123456789012:key/k, bucket key on"
        );
    }

    #[test]
    fn changed_settings_differ_and_equal_ones_do_not() {
        let desired = desired_setting(&spec(), SettingKind::PublicAccessBlock);
        let weakened = Setting::PublicAccessBlock(Some(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(true)
                .build(),
        ));
        assert!(!desired.same_as(&weakened));
        assert!(desired.same_as(&desired.clone()));
        assert!(!desired.same_as(&Setting::PublicAccessBlock(None)));
        let reformatted = Setting::Policy(Some(
            serde_json::to_string_pretty(&deny_insecure_transport_policy(
                crate::aws::Partition::Aws,
                "cache",
            ))
            .unwrap(),
        ));
        assert!(reformatted.same_as(&desired_setting(&spec(), SettingKind::Policy)));
    }

    #[test]
    fn the_rule_is_found_again_for_import() {
        let Setting::Lifecycle(Some(rules)) = desired_setting(&spec(), SettingKind::Lifecycle)
        else {
            panic!("a lifecycle");
        };
        assert_eq!(expiration_days_of(&rules), Some(7));
        assert_eq!(expiration_days_of(&[]), None);
    }

    #[test]
    fn ownership_marks_the_instance() {
        let tags = ownership_tags(&cache_spec("runner"));
        assert!(is_owned(&tags, &cache_spec("runner")));
        assert!(!is_owned(&tags, &cache_spec("other")));
        assert_eq!(ownership_tags(&cache_spec("a,b"))[OWNER_KEY], "a_b/cache");
    }

    #[test]
    fn ownership_survives_a_renamed_role() {
        // Issue 15: the owner tag was ROLE/BUCKET of the current role, so a rename lost it.
        let tags = ownership_tags(&cache_spec("runner"));
        let renamed = CacheSpec {
            role_name: "runner-v2".into(),
            ..cache_spec("runner")
        };
        assert!(is_owned(&tags, &renamed));
        assert_eq!(
            owner_of_bucket(&tags, "cache").as_deref(),
            Some("runner/cache")
        );
        assert_eq!(owner_of_bucket(&tags, "other"), None);
        let foreign = BTreeMap::from([(OWNER_KEY.to_string(), "runner/cache".to_string())]);
        assert_eq!(owner_of_bucket(&foreign, "cache"), None);
    }
}
