//! Plan-time refusals: every check here runs before any API call and points at the attribute
//! to fix. Values still unknown are skipped (they are checked again once known).

use crate::aws::partition::RegionError;
use crate::aws::{Arn, Partition};
use crate::codec::{AttributePath, Diagnostics, Value};

use super::model::Inputs;
use super::naming::{
    EXPIRATION_DAYS, check_bucket_name, check_path, check_policy_name, check_role_name,
    check_server_address,
};
use super::schema::attr;

/// A naming rule: `Err` holds why a value breaks it.
type NameCheck = fn(&str) -> Result<(), String>;

/// Checks that need only the configuration.
pub fn validate_config(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut refuse = |name: &str, summary: &str, detail: String| {
        diags.error_at(AttributePath::new(name), summary, detail);
    };
    let string = |name: &str| config.get(name).as_str();

    let named_checks: [(&str, &str, NameCheck); 5] = [
        (attr::ROLE_NAME, "Invalid IAM role name", check_role_name),
        (
            attr::BUCKET_NAME,
            "Invalid S3 bucket name",
            check_bucket_name,
        ),
        (attr::PATH, "Invalid cache path", check_path),
        (
            attr::POLICY_NAME,
            "Invalid inline policy name",
            check_policy_name,
        ),
        (
            attr::SERVER_ADDRESS,
            "Invalid server address",
            check_server_address,
        ),
    ];
    for (name, summary, check) in named_checks {
        if let Some(value) = string(name)
            && let Err(reason) = check(value)
        {
            refuse(name, summary, format!("{value:?} is not valid: {reason}."));
        }
    }

    let region = string(attr::BUCKET_REGION);
    if let Some(region) = region
        && let Err(error) = Partition::for_region(region)
    {
        let summary = match error {
            RegionError::Malformed => "Invalid bucket region",
            RegionError::NoKnownPartition => "Bucket region of no known partition",
        };
        refuse(attr::BUCKET_REGION, summary, error.explain(region));
    }

    let create_bucket = match config.get(attr::CREATE_BUCKET) {
        Value::Null => Some(false),
        other => other.as_bool(),
    };
    let expiration = config.get(attr::EXPIRATION_DAYS);
    if let Value::Number(days) = expiration {
        let range = format!(
            "cache objects can expire after {} to {} days",
            EXPIRATION_DAYS.start(),
            EXPIRATION_DAYS.end()
        );
        match days.as_i64() {
            Some(whole) if EXPIRATION_DAYS.contains(&whole) => {}
            Some(_) => refuse(
                attr::EXPIRATION_DAYS,
                "Expiration out of range",
                format!("expiration_days is {}; {range}.", days.canonical()),
            ),
            None if days.as_f64().is_some_and(|f| f.fract() != 0.0) => refuse(
                attr::EXPIRATION_DAYS,
                "Expiration not a whole number",
                format!(
                    "expiration_days is {}; S3 expires objects after whole days, and {range}.",
                    days.canonical()
                ),
            ),
            None => refuse(
                attr::EXPIRATION_DAYS,
                "Expiration out of range",
                format!("expiration_days is {}; {range}.", days.canonical()),
            ),
        }
    }
    if create_bucket == Some(false) && !expiration.is_null() && !expiration.is_unknown() {
        refuse(
            attr::EXPIRATION_DAYS,
            "expiration_days needs create_bucket",
            "The expiration rule is part of a bucket this resource creates; with \
             create_bucket = false the bucket is never modified. Remove expiration_days, or set \
             create_bucket = true."
                .to_string(),
        );
    }
    if create_bucket == Some(false) && config.get(attr::FORCE_DESTROY).as_bool() == Some(true) {
        refuse(
            attr::FORCE_DESTROY,
            "force_destroy needs create_bucket",
            "With create_bucket = false the bucket is not this resource's and is never \
             deleted, so force_destroy has nothing to do. Remove it."
                .to_string(),
        );
    }

    if config.get(attr::INSECURE).as_bool() == Some(true)
        && config.get(attr::SERVER_ADDRESS).is_null()
    {
        refuse(
            attr::INSECURE,
            "insecure needs server_address",
            "insecure = true makes the runner talk plain HTTP to an S3-compatible endpoint; AWS \
             S3 is always HTTPS. Set server_address too, or remove insecure."
                .to_string(),
        );
    }

    if let Some(key) = string(attr::KMS_KEY_ARN) {
        check_kms_key(key, region, &mut refuse);
    }
    diags
}

fn check_kms_key(key: &str, region: Option<&str>, refuse: &mut impl FnMut(&str, &str, String)) {
    let arn = match Arn::parse_kms_key(key) {
        Ok(arn) => arn,
        Err(reason) => {
            refuse(
                attr::KMS_KEY_ARN,
                "Invalid KMS key ARN",
                format!("{key:?} is not valid: {reason}."),
            );
            return;
        }
    };
    if arn.resource.starts_with("alias/") {
        refuse(
            attr::KMS_KEY_ARN,
            "KMS alias instead of key",
            format!(
                "{key:?} is an alias ARN. IAM grants the use of a key by its key ARN \
                 (arn:{}:kms:{}:{}:key/KEY_ID), so a policy on the alias would not let the runner \
                 encrypt or decrypt. Use the key's ARN, e.g. aws_kms_key.cache.arn.",
                arn.partition, arn.region, arn.account
            ),
        );
        return;
    }
    if let Some(region) = region {
        check_kms_location(&arn, region, refuse);
    }
}

/// The key must be usable by the bucket: same partition, same region.
fn check_kms_location(arn: &Arn, region: &str, refuse: &mut impl FnMut(&str, &str, String)) {
    if let Some(bucket_partition) = Partition::from_region(region)
        && arn.partition != bucket_partition
    {
        refuse(
            attr::KMS_KEY_ARN,
            "KMS key in another partition",
            format!(
                "The key is in the {} partition but the bucket region {region} is in {}.",
                arn.partition, bucket_partition
            ),
        );
    } else if arn.region != region {
        refuse(
            attr::KMS_KEY_ARN,
            "KMS key in another region",
            format!(
                "The key is in {} but the bucket is in {region}; S3 encrypts a bucket only with \
                 a key of its own region.",
                arn.region
            ),
        );
    }
}

/// Checks against the provider's configuration: the bucket's (and so the policy's) partition
/// must be the provider's, which is the role's; and when the bucket's region is the provider's
/// by default, the KMS key must be in it (with a configured region, [`validate_config`] checks).
pub fn validate_against_provider(
    inputs: &Inputs,
    provider_region: Option<&str>,
    region_defaulted: bool,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if region_defaulted
        && let (Some(Some(key)), Some(region)) = (&inputs.kms_key_arn, &inputs.bucket_region)
        && let Ok(arn) = Arn::parse_kms_key(key)
        && arn.resource.starts_with("key/")
    {
        check_kms_location(
            &arn,
            region,
            &mut |name: &str, summary: &str, detail: String| {
                diags.error_at(AttributePath::new(name), summary, detail);
            },
        );
    }
    let Some(region) = &inputs.bucket_region else {
        if provider_region.is_none() {
            diags.error_at(
                AttributePath::new(attr::BUCKET_REGION),
                "Bucket region unknown",
                "bucket_region defaults to the provider's region, and the provider has none. \
                 Set bucket_region, or the provider's region (aws.region or AWS_REGION).",
            );
        }
        return diags;
    };
    let provider_partition = provider_region.and_then(Partition::from_region);
    if let (Some(bucket), Some(provider)) = (Partition::from_region(region), provider_partition)
        && bucket != provider
    {
        diags.error_at(
            AttributePath::new(attr::BUCKET_REGION),
            "Bucket region in another partition",
            format!(
                "The bucket region {region} is in the {bucket} partition, but the provider (and \
                 so the IAM role) is in {provider} ({}). An IAM role can only be granted \
                 buckets of its own partition.",
                provider_region.unwrap_or_default()
            ),
        );
    }
    diags
}
