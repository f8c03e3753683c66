//! The resource's values as typed Rust: [`Inputs`] while some may be unknown (plan time),
//! [`CacheSpec`] once everything is known (apply, state).

use crate::aws::Partition;
use crate::codec::Value;

use super::naming::default_policy_name;
use super::schema::{DEFAULT_EXPIRATION_DAYS, DEFAULT_PATH, attr};

/// The configurable attributes as planned; `None` where a value is not known yet. Nullable
/// attributes are `Option<Option<T>>`: `Some(None)` is a known null.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    pub role_name: Option<String>,
    pub bucket_name: Option<String>,
    pub bucket_region: Option<String>,
    pub path: Option<String>,
    pub shared: Option<bool>,
    pub create_bucket: Option<bool>,
    pub expiration_days: Option<Option<i64>>,
    pub force_destroy: Option<bool>,
    pub kms_key_arn: Option<Option<String>>,
    pub server_address: Option<Option<String>>,
    pub insecure: Option<bool>,
    pub policy_name: Option<Option<String>>,
    /// Computed once, at create: see [`CacheSpec::owner`].
    pub bucket_owner_tag: Option<String>,
}

impl Inputs {
    /// Reads the configurable attributes of a planned or stored value. A null bool or path
    /// takes its schema default.
    pub fn from_value(value: &Value) -> Inputs {
        Inputs {
            role_name: known_string(value.get(attr::ROLE_NAME)),
            bucket_name: known_string(value.get(attr::BUCKET_NAME)),
            bucket_region: known_string(value.get(attr::BUCKET_REGION)),
            path: nullable_string(value.get(attr::PATH))
                .map(|p| p.unwrap_or_else(|| DEFAULT_PATH.to_string())),
            shared: known_bool(value.get(attr::SHARED)),
            create_bucket: known_bool(value.get(attr::CREATE_BUCKET)),
            expiration_days: nullable(value.get(attr::EXPIRATION_DAYS), Value::as_i64),
            force_destroy: known_bool(value.get(attr::FORCE_DESTROY)),
            kms_key_arn: nullable_string(value.get(attr::KMS_KEY_ARN)),
            server_address: nullable_string(value.get(attr::SERVER_ADDRESS)),
            insecure: known_bool(value.get(attr::INSECURE)),
            policy_name: nullable_string(value.get(attr::POLICY_NAME)),
            bucket_owner_tag: known_string(value.get(attr::BUCKET_OWNER_TAG)),
        }
    }

    /// The inline policy name, when known (the default derives from the bucket name).
    pub fn effective_policy_name(&self) -> Option<String> {
        match &self.policy_name {
            Some(Some(name)) => Some(name.clone()),
            Some(None) => self.bucket_name.as_deref().map(default_policy_name),
            None => None,
        }
    }

    /// The whole configuration, when every part of it is known (and the bucket's region is one
    /// of a known partition: see [`Inputs::bucket_spec`]).
    pub fn complete(&self) -> Option<CacheSpec> {
        self.bucket_spec()?;
        Some(CacheSpec {
            role_name: self.role_name.clone()?,
            bucket_name: self.bucket_name.clone()?,
            bucket_region: self.bucket_region.clone()?,
            path: self.path.clone()?,
            shared: self.shared?,
            create_bucket: self.create_bucket?,
            expiration_days: self.expiration_days?,
            force_destroy: self.force_destroy?,
            kms_key_arn: self.kms_key_arn.clone()?,
            server_address: self.server_address.clone()?,
            insecure: self.insecure?,
            policy_name: self.effective_policy_name()?,
            owner: self.bucket_owner_tag.clone()?,
        })
    }

    /// What a bucket this resource creates looks like, when those parts are known. `None` also
    /// for a region of no known partition: no ARN can be built for it (plan refuses it).
    pub fn bucket_spec(&self) -> Option<BucketSpec> {
        let region = self.bucket_region.clone()?;
        Some(BucketSpec {
            name: self.bucket_name.clone()?,
            partition: Partition::from_region(&region)?,
            region,
            path: self.path.clone()?,
            kms_key_arn: self.kms_key_arn.clone()?,
            expiration_days: self.expiration_days?.unwrap_or(DEFAULT_EXPIRATION_DAYS),
        })
    }
}

impl From<&CacheSpec> for Inputs {
    fn from(spec: &CacheSpec) -> Inputs {
        Inputs {
            role_name: Some(spec.role_name.clone()),
            bucket_name: Some(spec.bucket_name.clone()),
            bucket_region: Some(spec.bucket_region.clone()),
            path: Some(spec.path.clone()),
            shared: Some(spec.shared),
            create_bucket: Some(spec.create_bucket),
            expiration_days: Some(spec.expiration_days),
            force_destroy: Some(spec.force_destroy),
            kms_key_arn: Some(spec.kms_key_arn.clone()),
            server_address: Some(spec.server_address.clone()),
            insecure: Some(spec.insecure),
            policy_name: Some(Some(spec.policy_name.clone())),
            bucket_owner_tag: Some(spec.owner.clone()),
        }
    }
}

/// A bucket this resource creates.
#[derive(Clone, Debug, PartialEq)]
pub struct BucketSpec {
    pub name: String,
    /// The partition of `region` (never guessed: see [`Inputs::bucket_spec`]).
    pub partition: Partition,
    pub region: String,
    pub path: String,
    pub kms_key_arn: Option<String>,
    pub expiration_days: i64,
}

/// One cache, wholly known.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    pub role_name: String,
    pub bucket_name: String,
    pub bucket_region: String,
    pub path: String,
    pub shared: bool,
    pub create_bucket: bool,
    /// As configured; see [`CacheSpec::expiration_days`].
    pub expiration_days: Option<i64>,
    pub force_destroy: bool,
    pub kms_key_arn: Option<String>,
    pub server_address: Option<String>,
    pub insecure: bool,
    /// The effective name (default applied).
    pub policy_name: String,
    /// The value of the owner tag on a bucket this resource creates (`bucket_owner_tag`):
    /// `ROLE/BUCKET` as of create, kept when the role is renamed.
    pub owner: String,
}

impl CacheSpec {
    /// The partition of the bucket (and, validated at plan time, of the role).
    pub fn partition(&self) -> Partition {
        self.bucket_spec().partition
    }

    /// The bucket as this resource creates it.
    pub fn bucket_spec(&self) -> BucketSpec {
        Inputs::from(self)
            .bucket_spec()
            .expect("a complete spec has every bucket part and a known partition")
    }

    /// The import ID.
    pub fn id(&self) -> String {
        resource_id(&self.role_name, &self.bucket_name, &self.policy_name)
    }
}

/// `ROLE/BUCKET`, or `ROLE/BUCKET/POLICY` when the policy name is not the default. None of
/// the three names can contain `/`, so the ID splits back unambiguously.
pub fn resource_id(role: &str, bucket: &str, policy_name: &str) -> String {
    if policy_name == default_policy_name(bucket) {
        format!("{role}/{bucket}")
    } else {
        format!("{role}/{bucket}/{policy_name}")
    }
}

/// The parts of an import ID.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportId {
    pub role_name: String,
    pub bucket_name: String,
    /// `Some` only when the ID names a non-default policy.
    pub policy_name: Option<String>,
}

/// Splits `ROLE/BUCKET` or `ROLE/BUCKET/POLICY`.
pub fn parse_id(id: &str) -> Option<ImportId> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        [role, bucket] if !role.is_empty() && !bucket.is_empty() => Some(ImportId {
            role_name: role.to_string(),
            bucket_name: bucket.to_string(),
            policy_name: None,
        }),
        [role, bucket, policy] if !role.is_empty() && !bucket.is_empty() && !policy.is_empty() => {
            Some(ImportId {
                role_name: role.to_string(),
                bucket_name: bucket.to_string(),
                policy_name: Some(policy.to_string()),
            })
        }
        _ => None,
    }
}

fn known_string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn known_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Null => Some(false),
        other => other.as_bool(),
    }
}

fn nullable_string(value: &Value) -> Option<Option<String>> {
    nullable(value, |v| v.as_str().map(str::to_string))
}

fn nullable<T>(value: &Value, read: impl Fn(&Value) -> Option<T>) -> Option<Option<T>> {
    match value {
        Value::Null => Some(None),
        Value::Unknown => None,
        other => read(other).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        assert_eq!(resource_id("r", "b", "gitlabrunner-cache-b"), "r/b");
        assert_eq!(resource_id("r", "b", "p"), "r/b/p");
        assert_eq!(
            parse_id("r/b").unwrap(),
            ImportId {
                role_name: "r".into(),
                bucket_name: "b".into(),
                policy_name: None
            }
        );
        assert_eq!(parse_id("r/b/p").unwrap().policy_name.as_deref(), Some("p"));
        for bad in ["", "r", "r/", "/b", "r/b/", "r/b/p/q"] {
            assert!(parse_id(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_parts_leave_the_spec_incomplete() {
        let mut value = Value::object([
            (attr::ROLE_NAME, Value::Unknown),
            (attr::BUCKET_NAME, "b".into()),
            (attr::BUCKET_REGION, "eu-central-1".into()),
        ]);
        let inputs = Inputs::from_value(&value);
        assert_eq!(inputs.role_name, None);
        assert_eq!(
            inputs.effective_policy_name().as_deref(),
            Some("gitlabrunner-cache-b")
        );
        assert!(inputs.complete().is_none());
        value.set_attr(attr::ROLE_NAME, "r".into());
        assert!(
            Inputs::from_value(&value).complete().is_none(),
            "no owner yet"
        );
        value.set_attr(attr::BUCKET_OWNER_TAG, "r/b".into());
        let spec = Inputs::from_value(&value).complete().unwrap();
        assert_eq!(spec.path, DEFAULT_PATH);
        assert_eq!(spec.id(), "r/b");
        assert_eq!(spec.bucket_spec().expiration_days, DEFAULT_EXPIRATION_DAYS);
    }
}
