//! The documents this resource writes, built as JSON values (never templated text): the
//! least-privilege inline policy for the runner manager's role, and the bucket policy that
//! refuses requests without TLS.
//!
//! The actions are the ones GitLab documents for the manager's role with an S3 cache
//! (docs.gitlab.com/runner/configuration/advanced-configuration/#the-runnerscaches3-section and
//! the runner's S3 adapter, `cache/s3v2/s3.go`, which pre-signs GetObject and PutObject URLs
//! and needs kms:Decrypt + kms:GenerateDataKey for SSE-KMS multipart uploads).
//!
//! `s3:ListBucket` is granted on the bucket without an `s3:prefix` condition (issue 15). S3
//! answers a GetObject or HeadObject of a missing key with 404 only when the caller has
//! `s3:ListBucket` on the bucket, and with 403 otherwise
//! (docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html and API_HeadObject.html,
//! "Permissions"). That check is made for the GetObject request, which has no `prefix`
//! parameter, and `s3:prefix` is a condition key of the list actions only, filled from the list
//! request's `prefix` (docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html,
//! docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html): a `StringLike`
//! on an absent key does not match, so the condition denied exactly the permission the 404
//! needs. The runner's helper then reports a cache miss as "403 Forbidden … Failed to extract
//! cache" (gitlab-org/gitlab-runner!5903, which added `s3:ListBucket` to the documented policy
//! for that message). `…IfExists` would not help: it would also allow a listing without a
//! prefix, that is the whole bucket. What the unconditioned grant adds is listing key names
//! (never reading objects) outside `PATH/`; in a bucket this resource creates there are none.

use serde_json::{Value, json};

use crate::aws::Partition;
use crate::aws::arn::{bucket_arn, objects_arn};
use crate::aws::policy::{single_string, statements};

/// Object actions the manager's role needs on `BUCKET/PATH/*`.
pub const OBJECT_ACTIONS: [&str; 4] = [
    "s3:PutObject",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:DeleteObject",
];

/// KMS actions on the bucket's key when it uses SSE-KMS.
pub const KMS_ACTIONS: [&str; 2] = ["kms:Decrypt", "kms:GenerateDataKey"];

/// Statement IDs, also used to recognise the policy on import. All start with
/// [`crate::ownership::CACHE_STATEMENT_ID_PREFIX`], so a binding importing the role leaves this policy
/// to this resource.
pub const OBJECTS_SID: &str = "GitLabRunnerCacheObjects";
/// See [`OBJECTS_SID`].
pub const LIST_SID: &str = "GitLabRunnerCacheList";
/// See [`OBJECTS_SID`].
pub const KMS_SID: &str = "GitLabRunnerCacheKms";

/// The inline permissions policy: object actions on `PATH/*` only, `s3:ListBucket` on the bucket
/// (unconditioned: see the module documentation), and KMS use of `kms_key_arn` only.
pub fn permissions_policy(
    partition: Partition,
    bucket: &str,
    path: &str,
    kms_key_arn: Option<&str>,
) -> Value {
    let mut statements = vec![
        json!({
            "Sid": OBJECTS_SID,
            "Effect": "Allow",
            "Action": OBJECT_ACTIONS,
            "Resource": objects_arn(partition, bucket, path),
        }),
        json!({
            "Sid": LIST_SID,
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn(partition, bucket),
        }),
    ];
    if let Some(key) = kms_key_arn {
        statements.push(json!({
            "Sid": KMS_SID,
            "Effect": "Allow",
            "Action": KMS_ACTIONS,
            "Resource": key,
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The bucket policy of a bucket this resource creates: deny every request that does not use
/// TLS (`aws:SecureTransport` false), for everyone.
pub fn deny_insecure_transport_policy(partition: Partition, bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn(partition, bucket), objects_arn(partition, bucket, "")],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }],
    })
}

/// What import recovers from a policy this resource wrote: the path and the KMS key.
#[derive(Debug, PartialEq, Eq)]
pub struct RecoveredPolicy {
    pub path: String,
    pub kms_key_arn: Option<String>,
}

/// Recovers the path (from the object statement's `arn:P:s3:::BUCKET/PATH/*`) and the KMS key
/// (from the KMS statement) of a policy built by [`permissions_policy`] for `bucket`. `None`
/// when the document does not have that shape.
pub fn recover(policy: &Value, bucket: &str) -> Option<RecoveredPolicy> {
    let statements = statements(policy)?;
    let by_sid = |sid: &str| {
        statements
            .iter()
            .find(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
    };
    let resource = single_string(by_sid(OBJECTS_SID)?.get("Resource")?)?;
    let (_, after_bucket) = resource.split_once(&format!(":s3:::{bucket}/"))?;
    let path = after_bucket.strip_suffix("/*")?.to_string();
    let kms_key_arn = match by_sid(KMS_SID) {
        Some(statement) => Some(single_string(statement.get("Resource")?)?),
        None => None,
    };
    Some(RecoveredPolicy { path, kms_key_arn })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership;

    #[test]
    fn statement_ids_carry_the_cache_mark_the_binding_recognises() {
        for sid in [OBJECTS_SID, LIST_SID, KMS_SID] {
            assert!(
                sid.starts_with(ownership::CACHE_STATEMENT_ID_PREFIX),
                "{sid}"
            );
        }
    }
    use crate::aws::policy::{canonical, equivalent};

    const KEY: &str =
        "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn policy_grants_exactly_the_documented_actions_on_the_path() {
        let policy = permissions_policy(Partition::Aws, "cache", "runner", None);
        let expected = r#"{
          "Version": "2012-10-17",
          "Statement": [
            {"Sid": "GitLabRunnerCacheObjects", "Effect": "Allow",
             "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"],
             "Resource": "arn:aws:s3:::cache/runner/*"},
            {"Sid": "GitLabRunnerCacheList", "Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": "arn:aws:s3:::cache"}
          ]
        }"#;
        assert!(equivalent(&policy.to_string(), expected), "{policy}");
    }

    #[test]
    fn policy_has_no_wildcard_actions_and_no_bucket_wide_object_access() {
        let policy = permissions_policy(Partition::Aws, "cache", "a/b", Some(KEY));
        let text = canonical(&policy).to_string();
        assert!(!text.contains("s3:*"));
        assert!(!text.contains("\"*\""));
        assert!(!text.contains("arn:aws:s3:::cache/*"));
        assert!(text.contains("arn:aws:s3:::cache/a/b/*"));
    }

    #[test]
    fn kms_statement_names_the_one_key() {
        let policy = permissions_policy(Partition::Aws, "cache", "runner", Some(KEY));
        let kms = &policy["Statement"][2];
        assert_eq!(kms["Sid"], KMS_SID);
        assert_eq!(kms["Action"], json!(["kms:Decrypt", "kms:GenerateDataKey"]));
        assert_eq!(kms["Resource"], KEY);
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn arns_carry_the_partition() {
        for (partition, prefix) in [
            (Partition::AwsUsGov, "arn:aws-us-gov:s3:::"),
            (Partition::AwsCn, "arn:aws-cn:s3:::"),
        ] {
            let policy = permissions_policy(partition, "cache", "runner", None);
            assert_eq!(
                policy["Statement"][0]["Resource"],
                format!("{prefix}cache/runner/*")
            );
            assert_eq!(policy["Statement"][1]["Resource"], format!("{prefix}cache"));
            let tls = deny_insecure_transport_policy(partition, "cache");
            assert_eq!(
                tls["Statement"][0]["Resource"],
                json!([format!("{prefix}cache"), format!("{prefix}cache/*")])
            );
        }
    }

    /// S3 decides 404-versus-403 for a missing key with an `s3:ListBucket` check made for the
    /// GetObject/HeadObject request, which carries no `s3:prefix`: any condition on that key
    /// would turn the runner's cache misses into 403s (issue 15).
    #[test]
    fn list_bucket_has_no_condition_a_get_of_a_missing_key_could_not_meet() {
        let policy = permissions_policy(Partition::Aws, "cache", "runner", Some(KEY));
        let list = &policy["Statement"][1];
        assert_eq!(list["Sid"], LIST_SID);
        assert_eq!(list["Action"], "s3:ListBucket");
        assert_eq!(list["Resource"], "arn:aws:s3:::cache");
        assert_eq!(list.get("Condition"), None, "{policy}");
        assert!(!policy.to_string().contains("s3:prefix"), "{policy}");
    }

    #[test]
    fn tls_policy_denies_plain_http_for_everyone() {
        let policy = deny_insecure_transport_policy(Partition::Aws, "cache");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(statement["Principal"], "*");
        assert_eq!(
            statement["Condition"],
            json!({"Bool": {"aws:SecureTransport": "false"}})
        );
    }

    #[test]
    fn import_recovers_path_and_key_from_a_built_policy() {
        for (path, key) in [("runner", None), ("team/a-b", Some(KEY))] {
            let built = permissions_policy(Partition::AwsUsGov, "cache", path, key);
            // IAM may return single-element lists: recover from the canonical form too.
            for form in [built.clone(), canonical(&built)] {
                assert_eq!(
                    recover(&form, "cache"),
                    Some(RecoveredPolicy {
                        path: path.to_string(),
                        kms_key_arn: key.map(str::to_string)
                    })
                );
            }
        }
        let foreign = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        assert_eq!(recover(&foreign, "cache"), None);
        let other_bucket = permissions_policy(Partition::Aws, "other", "runner", None);
        assert_eq!(recover(&other_bucket, "cache"), None);
    }
}
