//! The schema of `gitlabrunner_cache`: the single source of its registry documentation.

use crate::codec::{Attribute, Block, Schema, Type, Value};

/// The type name.
pub const TYPE_NAME: &str = "gitlabrunner_cache";

/// Attribute names, shared by the model, the plan and the tests.
#[allow(missing_docs)]
pub mod attr {
    pub const ID: &str = "id";
    pub const ROLE_NAME: &str = "role_name";
    pub const BUCKET_NAME: &str = "bucket_name";
    pub const BUCKET_REGION: &str = "bucket_region";
    pub const PATH: &str = "path";
    pub const SHARED: &str = "shared";
    pub const CREATE_BUCKET: &str = "create_bucket";
    pub const EXPIRATION_DAYS: &str = "expiration_days";
    pub const FORCE_DESTROY: &str = "force_destroy";
    pub const KMS_KEY_ARN: &str = "kms_key_arn";
    pub const SERVER_ADDRESS: &str = "server_address";
    pub const INSECURE: &str = "insecure";
    pub const POLICY_NAME: &str = "policy_name";
    pub const POLICY_DOCUMENT: &str = "policy_document";
    pub const BUCKET_SETTINGS: &str = "bucket_settings";
    pub const CONFIG_TOML: &str = "config_toml";
    pub const HELM_VALUES: &str = "helm_values";
    pub const BUCKET_OWNER_TAG: &str = "bucket_owner_tag";
}

/// The schema version: 1 added `bucket_owner_tag` (see [`super::upgrade`]).
pub const SCHEMA_VERSION: i64 = 1;

/// The cache path used when `path` is not set (GitLab's own examples use `runner`).
pub const DEFAULT_PATH: &str = "runner";

/// Objects under the cache path expire after this many days when `expiration_days` is unset.
pub const DEFAULT_EXPIRATION_DAYS: i64 = 30;

const RESOURCE: &str = "\
Least-privilege S3 build-cache permissions on the GitLab Runner **manager's** IAM role, optionally a \
cache bucket with secure defaults, and the exact `[runners.cache]` configuration that matches them.

The runner manager (not the job pods) pre-signs the cache URLs, so the permissions belong on the \
manager's role: usually `gitlabrunner_irsa_binding.manager.role_name`. The resource attaches one \
**inline policy** to that role. An inline policy lives and dies with the role and this resource, needs \
no ARN of its own and cannot be attached anywhere else by mistake; a managed policy would be a second \
object to create, track, detach and version.

The policy is built, not templated, and grants exactly what GitLab documents for the cache:
`s3:PutObject`, `s3:GetObject`, `s3:GetObjectVersion` and `s3:DeleteObject` on \
`arn:PARTITION:s3:::BUCKET/PATH/*`, `s3:ListBucket` on the bucket (without an `s3:prefix` \
condition: S3 answers a missing key with 404, a cache miss, only to callers allowed to list the bucket, \
and that check carries no prefix), and `kms:Decrypt` plus `kms:GenerateDataKey` on the one key in \
`kms_key_arn` when the bucket is encrypted with a customer-managed key. The partition \
(`aws`, `aws-us-gov`, `aws-cn`, `aws-eusc` or an ISO partition) follows the region; a region of no known \
partition is refused at plan.

Create, update and delete are all or nothing: when a step fails, what this apply changed is undone, \
and if undoing fails too the state records exactly what exists. Drift (policy edited or removed, \
bucket settings changed, bucket deleted) shows in `terraform plan` and the next apply repairs it.";

/// The resource schema.
pub fn schema() -> Schema {
    Schema::new(
        SCHEMA_VERSION,
        Block::new(RESOURCE)
            .attr(
                Attribute::computed(
                    attr::ID,
                    Type::String,
                    "`ROLE_NAME/BUCKET_NAME`, or `ROLE_NAME/BUCKET_NAME/POLICY_NAME` when \
                     `policy_name` is not the default: the import ID.",
                )
                .use_state_for_unknown(),
            )
            .attr(Attribute::required(
                    attr::ROLE_NAME,
                    Type::String,
                    "Name (not ARN) of the runner manager's IAM role, usually \
                     `gitlabrunner_irsa_binding.manager.role_name`. The cache policy is attached \
                     to it as an inline policy. Changing it updates in place: the policy is put \
                     on the new role first, then removed from the old one (if that still \
                     exists); the bucket stays.",
            ))
            .attr(
                Attribute::required(
                    attr::BUCKET_NAME,
                    Type::String,
                    "Name of the S3 bucket that holds the cache. Checked against the S3 naming \
                     rules at plan time (3 to 63 lower-case letters, digits, dots and hyphens, \
                     no IP-address form, no reserved prefix or suffix).",
                )
                .requires_replace(),
            )
            .attr(
                Attribute::optional_computed(
                    attr::BUCKET_REGION,
                    Type::String,
                    "Region of the bucket, written to `BucketLocation`. Defaults to the \
                     provider's region when the resource is created (and then stays, even if \
                     the provider's region changes). Its partition must be the provider's \
                     (the role's): a `us-gov-*` bucket for a role in `aws` is refused at plan \
                     time. With `create_bucket = false` the bucket's real region is checked \
                     against it at apply; with `create_bucket = true` changing it replaces the \
                     bucket.",
                )
                .use_state_for_unknown(),
            )
            .attr(Attribute::with_default(
                attr::PATH,
                Type::String,
                Value::from(DEFAULT_PATH),
                "Key prefix of the cache objects (`Path` in `[runners.cache]`); the permissions \
                 and the expiration rule cover `PATH/*` only. No leading \
                 or trailing slash, no empty, `.` or `..` segments, and none of `*`, `?`, `$` \
                 (they are wildcards or variables in IAM policies).",
            ))
            .attr(Attribute::with_default(
                attr::SHARED,
                Type::Bool,
                Value::Bool(false),
                "`Shared` in `[runners.cache]`: whether all runners using this configuration \
                 share one cache (GitLab's default is `false`, a cache per runner).",
            ))
            .attr(Attribute::with_default(
                attr::CREATE_BUCKET,
                Type::Bool,
                Value::Bool(false),
                "When `true`, the resource creates the bucket with secure defaults: all public \
                 access blocked, default encryption (SSE-S3, or SSE-KMS with `kms_key_arn`), a \
                 bucket policy denying requests without TLS, an expiration rule on `PATH/`, \
                 and noncurrent versions expiring after a day (should anyone turn versioning on); drift in \
                 any of them is repaired. When `false` (the default) \
                 the bucket must already exist (checked at apply with a clear error) and is \
                 never modified. Changing `false` to `true` replaces the resource; changing \
                 `true` to `false` releases the bucket: it stays, unmanaged.",
            ))
            .attr(Attribute::optional(
                attr::EXPIRATION_DAYS,
                Type::Number,
                "Days after which cache objects under `PATH/` expire (1 to 3650). Defaults to \
                 30. Only with `create_bucket = true`: the provider never changes a bucket it \
                 did not create.",
            ))
            .attr(Attribute::with_default(
                attr::FORCE_DESTROY,
                Type::Bool,
                Value::Bool(false),
                "Only with `create_bucket = true`: whether destroy may delete the bucket while \
                 it still holds objects (every object version is deleted first). When `false`, \
                 destroying a non-empty bucket fails and nothing is removed.",
            ))
            .attr(Attribute::optional(
                attr::KMS_KEY_ARN,
                Type::String,
                "ARN of the KMS key (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`, not an alias: \
                 IAM grants key use by key ARN) that encrypts the bucket. Adds `kms:Decrypt` and \
                 `kms:GenerateDataKey` on this key only, sets `ServerSideEncryption = \"KMS\"` \
                 and `ServerSideEncryptionKeyID`, and, with `create_bucket = true`, makes it the \
                 bucket's default encryption. Must be in the bucket's region and partition.",
            ))
            .attr(Attribute::optional(
                attr::SERVER_ADDRESS,
                Type::String,
                "`ServerAddress` (`host` or `host:port`, without scheme) of an S3-compatible \
                 endpoint, for example a VPC endpoint. When unset, the configuration names \
                 AWS: `s3.amazonaws.com` in the `aws` partition (GitLab's documented value; the \
                 runner then resolves the regional endpoint from `BucketLocation`) and the \
                 regional endpoint (`s3.REGION.amazonaws.com[.cn]`) in GovCloud and China, where \
                 the global name does not work.",
            ))
            .attr(Attribute::with_default(
                attr::INSECURE,
                Type::Bool,
                Value::Bool(false),
                "`Insecure` in `[runners.cache.s3]`: talk plain HTTP to `server_address`. Only \
                 allowed together with `server_address`; AWS itself is always HTTPS.",
            ))
            .attr(
                Attribute::optional_computed(
                    attr::POLICY_NAME,
                    Type::String,
                    "Name of the inline policy on the role. Defaults to \
                     `gitlabrunner-cache-BUCKET_NAME`; set it when one role has two caches in \
                     the same bucket.",
                )
                .requires_replace()
                .use_state_for_unknown(),
            )
            .attr(Attribute::computed(
                attr::POLICY_DOCUMENT,
                Type::String,
                "The inline policy as compact JSON: in a plan, the policy the next apply \
                 writes; after refresh, the policy found on the role (a difference is drift \
                 that the next apply repairs; null when the policy is missing).",
            ))
            .attr(Attribute::computed(
                attr::BUCKET_SETTINGS,
                Type::map(Type::String),
                "What the provider ensures (in a plan) or found (after refresh) for the bucket, \
                 one line per setting: `bucket` (exists, and in which region), and with \
                 `create_bucket = true` also `public_access_block`, `encryption`, \
                 `bucket_policy` and `lifecycle`. A difference between refreshed \
                 state and plan is drift: the next apply repairs it.",
            ))
            .attr(Attribute::computed(
                attr::CONFIG_TOML,
                Type::String,
                "The `[runners.cache]` and `[runners.cache.s3]` tables for the runner's \
                 `config.toml`, ready to paste below a `[[runners]]` entry: `Type = \"s3\"`, \
                 `Path`, `Shared`, `ServerAddress`, `BucketName`, `BucketLocation`, `Insecure`, \
                 `AuthenticationType = \"iam\"`, and with `kms_key_arn` also \
                 `ServerSideEncryption = \"KMS\"` and `ServerSideEncryptionKeyID`. Known at \
                 plan time whenever its inputs are.",
            ))
            .attr(Attribute::computed(
                attr::HELM_VALUES,
                Type::String,
                "The same configuration as a values fragment for the `gitlab-runner` Helm \
                 chart: `runners.config` holding a `[[runners]]` entry with the cache tables. \
                 Helm replaces (does not merge) the `runners.config` string, so when you also \
                 configure `[runners.kubernetes]`, put `config_toml` into your own \
                 `runners.config` instead. No cache secret is needed: the runner authenticates \
                 with the ServiceAccount's IAM role (`AuthenticationType = \"iam\"`).",
            ))
            .attr(
                Attribute::computed(
                    attr::BUCKET_OWNER_TAG,
                    Type::String,
                    "The value of the bucket's `terraform-provider-gitlabrunner/owner` tag, by \
                     which this resource recognises a bucket it created (before deleting it, and \
                     when an interrupted create is resumed): `ROLE_NAME/BUCKET_NAME` as they were \
                     when the resource was created. It never changes afterwards, so renaming \
                     the role keeps the bucket.",
                )
                .use_state_for_unknown(),
            ),
    )
}
