//! The resource's value: the computed attributes a plan promises (derived from the inputs,
//! known whenever those inputs are), and the state built from what exists remotely. Plan and
//! state use the same functions, so an apply that did its job returns exactly the plan.

use std::collections::BTreeMap;

use crate::aws::policy;
use crate::codec::{Diagnostic, Diagnostics, Value};

use super::bucket::{EXISTENCE_KEY, Setting, SettingKind, describe_existence, desired_settings};
use super::model::{CacheSpec, Inputs, resource_id};
use super::permissions::permissions_policy;
use super::runner_config::{RunnerCache, default_server_address};
use super::schema::attr;

/// What exists remotely, as far as one operation knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The inline policy document; `None` when the policy does not exist.
    pub policy: Option<String>,
    /// The bucket; `None` when it does not exist.
    pub bucket: Option<ObservedBucket>,
}

/// A bucket that exists.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedBucket {
    pub region: String,
    /// The settings read (all of them for a bucket this resource creates).
    pub settings: BTreeMap<SettingKind, Setting>,
    /// The tags, when read.
    pub tags: Option<BTreeMap<String, String>>,
}

impl ObservedBucket {
    /// A bucket just created: nothing configured yet.
    pub fn new_empty(region: &str) -> ObservedBucket {
        ObservedBucket {
            region: region.to_string(),
            settings: SettingKind::ALL
                .iter()
                .map(|k| (*k, Setting::unset(*k)))
                .collect(),
            tags: Some(BTreeMap::new()),
        }
    }
}

impl Observed {
    /// Whether none of the objects this resource owns exists (a bucket it did not create does
    /// not count).
    pub fn owns_nothing(&self, spec: &CacheSpec) -> bool {
        self.policy.is_none() && (!spec.create_bucket || self.bucket.is_none())
    }

    /// What exists after a successful apply of `spec`.
    pub fn expected(spec: &CacheSpec) -> Observed {
        let settings = if spec.create_bucket {
            desired_settings(&spec.bucket_spec())
                .into_iter()
                .map(|s| (s.kind(), s))
                .collect()
        } else {
            BTreeMap::new()
        };
        Observed {
            policy: Inputs::from(spec).expected_policy(),
            bucket: Some(ObservedBucket {
                region: spec.bucket_region.clone(),
                settings,
                tags: None,
            }),
        }
    }
}

impl Inputs {
    /// The runner configuration, when its inputs are known.
    pub fn runner_cache(&self) -> Option<RunnerCache> {
        let region = self.bucket_region.clone()?;
        let server_address = match self.server_address.clone()? {
            Some(address) => address,
            None => default_server_address(&region)?,
        };
        Some(RunnerCache {
            path: self.path.clone()?,
            shared: self.shared?,
            server_address,
            bucket_name: self.bucket_name.clone()?,
            bucket_location: region,
            insecure: self.insecure?,
            kms_key_arn: self.kms_key_arn.clone()?,
        })
    }

    /// The inline policy (compact canonical JSON), when its inputs are known.
    pub fn expected_policy(&self) -> Option<String> {
        let bucket = self.bucket_spec()?;
        Some(policy::to_canonical_json(&permissions_policy(
            bucket.partition,
            &bucket.name,
            &bucket.path,
            bucket.kms_key_arn.as_deref(),
        )))
    }

    /// `bucket_settings` as a successful apply leaves it, when its inputs are known.
    pub fn expected_bucket_settings(&self) -> Option<BTreeMap<String, String>> {
        let region = self.bucket_region.clone()?;
        let mut settings =
            BTreeMap::from([(EXISTENCE_KEY.to_string(), describe_existence(Some(&region)))]);
        if self.create_bucket? {
            for setting in desired_settings(&self.bucket_spec()?) {
                settings.insert(setting.kind().key().to_string(), setting.describe());
            }
        }
        Some(settings)
    }

    /// The resource ID, when its inputs are known.
    pub fn id(&self) -> Option<String> {
        Some(resource_id(
            self.role_name.as_deref()?,
            self.bucket_name.as_deref()?,
            &self.effective_policy_name()?,
        ))
    }
}

/// The computed attributes a plan promises for `inputs`: known where the inputs are.
pub fn planned_outputs(inputs: &Inputs) -> Vec<(&'static str, Value)> {
    let known = |v: Option<String>| v.map_or(Value::Unknown, Value::String);
    let runner = inputs.runner_cache();
    vec![
        (attr::ID, known(inputs.id())),
        (attr::POLICY_NAME, known(inputs.effective_policy_name())),
        (attr::POLICY_DOCUMENT, known(inputs.expected_policy())),
        (
            attr::BUCKET_SETTINGS,
            inputs
                .expected_bucket_settings()
                .map_or(Value::Unknown, Value::string_map),
        ),
        (
            attr::CONFIG_TOML,
            known(runner.as_ref().map(RunnerCache::config_toml)),
        ),
        (
            attr::HELM_VALUES,
            known(runner.as_ref().map(RunnerCache::helm_values)),
        ),
    ]
}

/// The state of `spec` given what exists: the configured values, the derived outputs, and
/// the policy and bucket settings as found (equal to the plan's when nothing drifted).
pub fn state_value(spec: &CacheSpec, observed: &Observed) -> Value {
    let inputs = Inputs::from(spec);
    let runner = inputs
        .runner_cache()
        .expect("a complete spec has every runner input");
    let expected_policy = inputs.expected_policy().unwrap_or_default();
    Value::object([
        (attr::ID, Value::from(spec.id())),
        (attr::ROLE_NAME, spec.role_name.clone().into()),
        (attr::BUCKET_NAME, spec.bucket_name.clone().into()),
        (attr::BUCKET_REGION, spec.bucket_region.clone().into()),
        (attr::PATH, spec.path.clone().into()),
        (attr::SHARED, spec.shared.into()),
        (attr::CREATE_BUCKET, spec.create_bucket.into()),
        (
            attr::EXPIRATION_DAYS,
            spec.expiration_days.map_or(Value::Null, Value::int),
        ),
        (attr::FORCE_DESTROY, spec.force_destroy.into()),
        (
            attr::KMS_KEY_ARN,
            Value::opt_string(spec.kms_key_arn.clone()),
        ),
        (
            attr::SERVER_ADDRESS,
            Value::opt_string(spec.server_address.clone()),
        ),
        (attr::INSECURE, spec.insecure.into()),
        (attr::POLICY_NAME, spec.policy_name.clone().into()),
        (
            attr::POLICY_DOCUMENT,
            observed_policy(observed.policy.as_deref(), &expected_policy),
        ),
        (
            attr::BUCKET_SETTINGS,
            Value::string_map(observed_bucket_settings(spec, observed)),
        ),
        (attr::CONFIG_TOML, runner.config_toml().into()),
        (attr::HELM_VALUES, runner.helm_values().into()),
        (attr::BUCKET_OWNER_TAG, spec.owner.clone().into()),
    ])
}

/// The policy as found: the expected text when it means the same, else its canonical form.
fn observed_policy(found: Option<&str>, expected: &str) -> Value {
    match found {
        None => Value::Null,
        Some(document) if policy::equivalent(document, expected) => expected.into(),
        Some(document) => match policy::parse_policy(document) {
            Ok(parsed) => policy::to_canonical_json(&parsed).into(),
            Err(_) => policy::decode_document(document).into(),
        },
    }
}

fn observed_bucket_settings(spec: &CacheSpec, observed: &Observed) -> BTreeMap<String, String> {
    let Some(bucket) = &observed.bucket else {
        return BTreeMap::from([(EXISTENCE_KEY.to_string(), describe_existence(None))]);
    };
    let mut settings = BTreeMap::from([(
        EXISTENCE_KEY.to_string(),
        describe_existence(Some(&bucket.region)),
    )]);
    if spec.create_bucket {
        for (kind, setting) in &bucket.settings {
            settings.insert(kind.key().to_string(), setting.describe());
        }
    }
    settings
}

/// Warnings that say what drifted, shown when a refresh finds it (the plan then shows the
/// repair).
pub fn drift_warnings(spec: &CacheSpec, observed: &Observed) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let expected = Observed::expected(spec);
    let role = &spec.role_name;
    let name = &spec.policy_name;
    match (&observed.policy, &expected.policy) {
        (None, _) => diags.push(Diagnostic::warning(
            "Cache policy missing",
            format!(
                "The inline policy {name:?} is no longer on the IAM role {role:?} (removed, or \
                 the role was recreated). The next apply puts it back."
            ),
        )),
        (Some(found), Some(wanted)) if !policy::equivalent(found, wanted) => {
            diags.push(Diagnostic::warning(
                "Cache policy changed outside Terraform",
                format!(
                    "The inline policy {name:?} on the IAM role {role:?} differs from the one \
                     this resource manages. The next apply restores it."
                ),
            ));
        }
        _ => {}
    }
    let bucket = &spec.bucket_name;
    match &observed.bucket {
        None => diags.push(Diagnostic::warning(
            "Cache bucket missing",
            if spec.create_bucket {
                format!("The bucket {bucket:?} no longer exists. The next apply creates it again.")
            } else {
                format!(
                    "The bucket {bucket:?} no longer exists. This resource does not create it \
                     (create_bucket = false), so the cache will not work until the bucket is \
                     back."
                )
            },
        )),
        Some(found) if spec.create_bucket => {
            let wanted = expected.bucket.expect("expected has a bucket");
            let changed: Vec<&str> = wanted
                .settings
                .iter()
                .filter(|(kind, setting)| {
                    found.settings.get(kind).is_none_or(|f| !f.same_as(setting))
                })
                .map(|(kind, _)| kind.noun())
                .collect();
            if !changed.is_empty() {
                diags.push(Diagnostic::warning(
                    "Cache bucket settings changed outside Terraform",
                    format!(
                        "The {} of the bucket {bucket:?} changed. The next apply restores the \
                         secure defaults.",
                        changed.join(", ")
                    ),
                ));
            }
        }
        Some(_) => {}
    }
    diags
}
