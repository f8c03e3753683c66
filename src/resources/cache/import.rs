//! Import by `ROLE_NAME/BUCKET_NAME` (or `ROLE_NAME/BUCKET_NAME/POLICY_NAME` for a policy not
//! under its default name): what the ID names is looked up, and the rest recovered from AWS.
//!
//! - `path` and `kms_key_arn` come from the inline policy, which this resource builds with
//!   recognisable statement IDs (the object statement's resource is `…:s3:::BUCKET/PATH/*`).
//! - `bucket_region` is the bucket's real region.
//! - `create_bucket` is true when the bucket carries this provider's ownership tags for this
//!   bucket (naming this role, or the one it had when the bucket was created), and then
//!   `expiration_days` comes from its expiration rule (left unset when it is the default);
//!   `bucket_owner_tag` is the tag's value.
//! - `shared`, `server_address`, `insecure` and `force_destroy` exist only in configuration:
//!   they import as their defaults, and a configuration that sets them plans an in-place update
//!   that changes nothing in AWS.

use std::collections::BTreeMap;

use aws_sdk_s3::types::LifecycleRule;

use crate::aws::policy::parse_policy;

use super::bucket::{expiration_days_of, owner_of_bucket, owner_value};
use super::model::{CacheSpec, ImportId};
use super::naming::default_policy_name;
use super::permissions::recover;
use super::schema::DEFAULT_EXPIRATION_DAYS;

/// What import found in AWS.
#[derive(Debug, Default)]
pub struct Found {
    /// The inline policy document.
    pub policy: Option<String>,
    /// The bucket's region, when it exists.
    pub region: Option<String>,
    /// The bucket's tags.
    pub tags: BTreeMap<String, String>,
    /// The bucket's lifecycle rules.
    pub lifecycle: Vec<LifecycleRule>,
}

/// The inline policy's name for an import ID.
pub fn policy_name(id: &ImportId) -> String {
    id.policy_name
        .clone()
        .unwrap_or_else(|| default_policy_name(&id.bucket_name))
}

/// The configuration that explains what was found, or why there is none.
pub fn recovered_spec(id: &ImportId, found: &Found) -> Result<CacheSpec, String> {
    let name = policy_name(id);
    let Some(document) = &found.policy else {
        return Err(format!(
            "The IAM role {:?} has no inline policy named {name:?}, so there is no cache to \
             import. If the policy has another name, import with the ID \
             ROLE_NAME/BUCKET_NAME/POLICY_NAME.",
            id.role_name
        ));
    };
    let recovered = parse_policy(document)
        .ok()
        .and_then(|policy| recover(&policy, &id.bucket_name))
        .ok_or_else(|| {
            format!(
                "The inline policy {name:?} on the IAM role {:?} was not written by \
                 gitlabrunner_cache for the bucket {:?} (its cache statements are missing), so \
                 the cache path cannot be recovered from it.",
                id.role_name, id.bucket_name
            )
        })?;
    let Some(region) = found.region.clone() else {
        return Err(format!(
            "The bucket {:?} does not exist (or this account cannot see it).",
            id.bucket_name
        ));
    };
    let mut spec = CacheSpec {
        role_name: id.role_name.clone(),
        bucket_name: id.bucket_name.clone(),
        bucket_region: region,
        path: recovered.path,
        shared: false,
        create_bucket: false,
        expiration_days: None,
        force_destroy: false,
        kms_key_arn: recovered.kms_key_arn,
        server_address: None,
        insecure: false,
        policy_name: name,
        owner: owner_value(&id.role_name, &id.bucket_name),
    };
    // The bucket may have been created for a role renamed since: any owner tag of this
    // provider that names this bucket marks it as the cache's.
    if let Some(owner) = owner_of_bucket(&found.tags, &id.bucket_name) {
        spec.create_bucket = true;
        spec.owner = owner;
    }
    if spec.create_bucket {
        spec.expiration_days =
            expiration_days_of(&found.lifecycle).filter(|d| *d != DEFAULT_EXPIRATION_DAYS);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Partition;
    use crate::aws::policy::to_canonical_json;
    use crate::ownership::{MANAGED_BY, MANAGED_BY_TAG, OWNER_KEY};
    use crate::resources::cache::bucket::{Setting, SettingKind, desired_setting, ownership_tags};
    use crate::resources::cache::permissions::permissions_policy;

    fn id() -> ImportId {
        ImportId {
            role_name: "runner".into(),
            bucket_name: "cache".into(),
            policy_name: None,
        }
    }

    fn found(kms: Option<&str>) -> Found {
        Found {
            policy: Some(to_canonical_json(&permissions_policy(
                Partition::Aws,
                "cache",
                "team/ci",
                kms,
            ))),
            region: Some("eu-west-1".into()),
            ..Found::default()
        }
    }

    #[test]
    fn path_key_and_region_are_recovered() {
        let key = "arn:aws:kms:eu-west-1:123456789012:key/k";
        let spec = recovered_spec(&id(), &found(Some(key))).unwrap();
        assert_eq!(spec.path, "team/ci");
        assert_eq!(spec.kms_key_arn.as_deref(), Some(key));
        assert_eq!(spec.bucket_region, "eu-west-1");
        assert_eq!(spec.policy_name, "gitlabrunner-cache-cache");
        assert!(!spec.create_bucket);
        assert_eq!(spec.id(), "runner/cache");
    }

    #[test]
    fn an_owned_bucket_imports_with_create_bucket_and_its_expiration() {
        let mut found = found(None);
        let mut spec = recovered_spec(&id(), &found).unwrap();
        spec.create_bucket = true;
        spec.expiration_days = Some(9);
        found.tags = ownership_tags(&spec);
        let Setting::Lifecycle(Some(rules)) =
            desired_setting(&spec.bucket_spec(), SettingKind::Lifecycle)
        else {
            panic!("lifecycle")
        };
        found.lifecycle = rules;
        assert_eq!(recovered_spec(&id(), &found).unwrap(), spec);
    }

    #[test]
    fn a_bucket_created_for_the_role_under_its_old_name_imports_as_owned() {
        let mut found = found(None);
        found.tags = BTreeMap::from([
            (OWNER_KEY.to_string(), "runner-old/cache".to_string()),
            (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
        ]);
        let spec = recovered_spec(&id(), &found).unwrap();
        assert!(spec.create_bucket);
        assert_eq!(spec.owner, "runner-old/cache");
        found
            .tags
            .insert(OWNER_KEY.to_string(), "runner/other".to_string());
        let spec = recovered_spec(&id(), &found).unwrap();
        assert!(!spec.create_bucket);
        assert_eq!(spec.owner, "runner/cache");
    }

    #[test]
    fn missing_or_foreign_policies_are_explained() {
        let mut none = found(None);
        none.policy = None;
        assert!(
            recovered_spec(&id(), &none)
                .unwrap_err()
                .contains("no inline policy")
        );
        let mut foreign = found(None);
        foreign.policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        assert!(
            recovered_spec(&id(), &foreign)
                .unwrap_err()
                .contains("not written")
        );
        let mut no_bucket = found(None);
        no_bucket.region = None;
        assert!(
            recovered_spec(&id(), &no_bucket)
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
