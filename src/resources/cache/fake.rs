//! An in-process [`CacheApi`] with IAM and S3 semantics this resource relies on, and fault
//! injection by operation name (for the orchestration tests only).

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::aws::{AwsError, AwsErrorKind};

use super::api::{CacheApi, op};
use super::bucket::{Setting, SettingKind};

/// A bucket in the fake.
#[derive(Clone, Debug)]
pub struct FakeBucket {
    pub region: String,
    pub settings: BTreeMap<SettingKind, Setting>,
    pub tags: BTreeMap<String, String>,
    pub objects: usize,
}

#[derive(Default)]
struct World {
    roles: BTreeMap<String, String>,
    policies: BTreeMap<(String, String), String>,
    buckets: BTreeMap<String, FakeBucket>,
    /// Operation -> how many more calls fail (`usize::MAX`: all), and how.
    faults: BTreeMap<&'static str, (usize, AwsErrorKind, &'static str, u16)>,
    calls: Vec<&'static str>,
}

/// The fake AWS account.
#[derive(Default)]
pub struct FakeAws {
    world: Mutex<World>,
}

fn error(operation: &'static str, kind: AwsErrorKind, code: &str, status: u16) -> AwsError {
    let mut e = AwsError::new(operation, kind, format!("{code} (injected by the test)"));
    e.code = Some(code.to_string());
    e.status = Some(status);
    e
}

impl FakeAws {
    /// An account with the role `name` (ARN in `partition`).
    pub fn with_role(name: &str, partition: &str) -> FakeAws {
        let fake = FakeAws::default();
        fake.add_role(name, partition);
        fake
    }

    /// Adds the role `name` (ARN in `partition`).
    pub fn add_role(&self, name: &str, partition: &str) {
        self.world.lock().unwrap().roles.insert(
            name.to_string(),
            format!("arn:{partition}:iam::123456789012:role/{name}"),
        );
    }

    /// Deletes the role `name` and its inline policies (what the binding does on a rename).
    pub fn remove_role(&self, name: &str) {
        let mut world = self.world.lock().unwrap();
        world.roles.remove(name);
        world.policies.retain(|(role, _), _| role != name);
    }

    /// Every later call of `operation` fails with HTTP 500.
    pub fn fail(&self, operation: &'static str) {
        self.world.lock().unwrap().faults.insert(
            operation,
            (usize::MAX, AwsErrorKind::Unavailable, "InternalError", 500),
        );
    }

    /// The next call of `operation` fails with `code`.
    pub fn fail_once_with(
        &self,
        operation: &'static str,
        kind: AwsErrorKind,
        code: &'static str,
        status: u16,
    ) {
        self.world
            .lock()
            .unwrap()
            .faults
            .insert(operation, (1, kind, code, status));
    }

    /// Calls made so far, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.world.lock().unwrap().calls.clone()
    }

    /// Forgets the call log.
    pub fn clear_calls(&self) {
        self.world.lock().unwrap().calls.clear();
    }

    /// The inline policy `name` on `role`.
    pub fn policy(&self, role: &str, name: &str) -> Option<String> {
        let world = self.world.lock().unwrap();
        world
            .policies
            .get(&(role.to_string(), name.to_string()))
            .cloned()
    }

    /// Sets (or with `None` removes) an inline policy behind the resource's back.
    pub fn set_policy(&self, role: &str, name: &str, document: Option<&str>) {
        let mut world = self.world.lock().unwrap();
        let key = (role.to_string(), name.to_string());
        match document {
            Some(d) => world.policies.insert(key, d.to_string()),
            None => world.policies.remove(&key),
        };
    }

    /// The bucket `name`.
    pub fn bucket(&self, name: &str) -> Option<FakeBucket> {
        self.world.lock().unwrap().buckets.get(name).cloned()
    }

    /// Creates or changes a bucket behind the resource's back.
    pub fn edit_bucket(&self, name: &str, edit: impl FnOnce(&mut Option<FakeBucket>)) {
        let mut world = self.world.lock().unwrap();
        let mut bucket = world.buckets.remove(name);
        edit(&mut bucket);
        if let Some(bucket) = bucket {
            world.buckets.insert(name.to_string(), bucket);
        }
    }

    /// A bucket with nothing configured.
    pub fn new_bucket(region: &str) -> FakeBucket {
        FakeBucket {
            region: region.to_string(),
            settings: BTreeMap::new(),
            tags: BTreeMap::new(),
            objects: 0,
        }
    }

    /// Logs the call and applies an injected fault.
    fn enter(&self, operation: &'static str) -> Result<std::sync::MutexGuard<'_, World>, AwsError> {
        let mut world = self.world.lock().unwrap();
        world.calls.push(operation);
        if let Some((left, kind, code, status)) = world.faults.get_mut(operation)
            && *left > 0
        {
            if *left != usize::MAX {
                *left -= 1;
            }
            return Err(error(operation, *kind, code, *status));
        }
        Ok(world)
    }
}

fn no_bucket(operation: &'static str) -> AwsError {
    error(operation, AwsErrorKind::NotFound, "NoSuchBucket", 404)
}

#[async_trait]
impl CacheApi for FakeAws {
    async fn role_arn(&self, role: &str) -> Result<Option<String>, AwsError> {
        let world = self.enter(op::GET_ROLE)?;
        Ok(world.roles.get(role).cloned())
    }

    async fn role_policy(&self, role: &str, name: &str) -> Result<Option<String>, AwsError> {
        let world = self.enter(op::GET_ROLE_POLICY)?;
        Ok(world
            .policies
            .get(&(role.to_string(), name.to_string()))
            .cloned())
    }

    async fn put_role_policy(
        &self,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<(), AwsError> {
        let mut world = self.enter(op::PUT_ROLE_POLICY)?;
        if !world.roles.contains_key(role) {
            return Err(error(
                op::PUT_ROLE_POLICY,
                AwsErrorKind::NotFound,
                "NoSuchEntity",
                404,
            ));
        }
        world
            .policies
            .insert((role.to_string(), name.to_string()), document.to_string());
        Ok(())
    }

    async fn delete_role_policy(&self, role: &str, name: &str) -> Result<(), AwsError> {
        let mut world = self.enter(op::DELETE_ROLE_POLICY)?;
        world.policies.remove(&(role.to_string(), name.to_string()));
        Ok(())
    }

    async fn bucket_region(&self, bucket: &str) -> Result<Option<String>, AwsError> {
        let world = self.enter(op::HEAD_BUCKET)?;
        Ok(world.buckets.get(bucket).map(|b| b.region.clone()))
    }

    async fn create_bucket(&self, bucket: &str, region: &str) -> Result<(), AwsError> {
        let mut world = self.enter(op::CREATE_BUCKET)?;
        if world.buckets.contains_key(bucket) {
            return Err(error(
                op::CREATE_BUCKET,
                AwsErrorKind::AlreadyExists,
                "BucketAlreadyOwnedByYou",
                409,
            ));
        }
        world
            .buckets
            .insert(bucket.to_string(), FakeAws::new_bucket(region));
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        let mut world = self.enter(op::DELETE_BUCKET)?;
        if world.buckets.get(bucket).is_some_and(|b| b.objects > 0) {
            return Err(error(
                op::DELETE_BUCKET,
                AwsErrorKind::Conflict,
                "BucketNotEmpty",
                409,
            ));
        }
        world.buckets.remove(bucket);
        Ok(())
    }

    async fn empty_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        let mut world = self.enter(op::DELETE_OBJECTS)?;
        let found = world
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| no_bucket(op::LIST_OBJECT_VERSIONS))?;
        found.objects = 0;
        Ok(())
    }

    async fn bucket_tags(&self, bucket: &str) -> Result<BTreeMap<String, String>, AwsError> {
        let world = self.enter(op::GET_BUCKET_TAGGING)?;
        world
            .buckets
            .get(bucket)
            .map(|b| b.tags.clone())
            .ok_or_else(|| no_bucket(op::GET_BUCKET_TAGGING))
    }

    async fn put_bucket_tags(
        &self,
        bucket: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let mut world = self.enter(op::PUT_BUCKET_TAGGING)?;
        let found = world
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| no_bucket(op::PUT_BUCKET_TAGGING))?;
        found.tags = tags.clone();
        Ok(())
    }

    async fn setting(&self, bucket: &str, kind: SettingKind) -> Result<Setting, AwsError> {
        let world = self.enter(kind.get_operation())?;
        let found = world
            .buckets
            .get(bucket)
            .ok_or_else(|| no_bucket(kind.get_operation()))?;
        Ok(found
            .settings
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| Setting::unset(kind)))
    }

    async fn put_setting(&self, bucket: &str, setting: &Setting) -> Result<(), AwsError> {
        let operation = setting.put_operation();
        let mut world = self.enter(operation)?;
        let found = world
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| no_bucket(operation))?;
        found.settings.insert(setting.kind(), setting.clone());
        Ok(())
    }
}
