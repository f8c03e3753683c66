//! The runner configuration that matches the permissions: the `[runners.cache]` and
//! `[runners.cache.s3]` tables of `config.toml`, and the same as gitlab-runner Helm chart values.
//!
//! Keys and accepted values are GitLab Runner's (`CacheConfig`/`CacheS3Config` in the runner's
//! `common/config.go`, documented at
//! docs.gitlab.com/runner/configuration/advanced-configuration/#the-runnerscache-section):
//! `Type`, `Path`, `Shared`, and in `s3` `ServerAddress`, `BucketName`, `BucketLocation`,
//! `Insecure`, `AuthenticationType` (`iam` or `access-key`), `ServerSideEncryption` (`S3`,
//! `KMS`, `DSSE-KMS`) and `ServerSideEncryptionKeyID` (key ID, alias or ARN; the ARN also
//! works across accounts).
//!
//! The chart (gitlab-org/charts/gitlab-runner, `values.yaml`) takes the runner configuration as
//! one TOML string in `runners.config`; `runners.cache.secretName` is only for static keys and
//! is not needed with IAM (docs.gitlab.com/runner/install/kubernetes_helm_chart_configuration/).

use serde::Serialize;

use crate::aws::Partition;

/// Everything the runner needs to find and use the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerCache {
    pub path: String,
    pub shared: bool,
    pub server_address: String,
    pub bucket_name: String,
    pub bucket_location: String,
    pub insecure: bool,
    /// The SSE-KMS key (as an ARN), when the bucket uses one.
    pub kms_key_arn: Option<String>,
}

/// The `ServerAddress` for AWS S3 in `region`. In the `aws` partition GitLab's documented
/// `s3.amazonaws.com`, which the runner treats as "AWS, resolve the endpoint from
/// `BucketLocation`" (its S3 adapter, `cache/s3v2/s3.go`, `DEFAULT_AWS_S3_ENDPOINT`). In GovCloud
/// and China the global name fails with the older adapter (gitlab-org/charts/gitlab#1798), so the
/// regional endpoint is named instead (in every other partition too: the global name is
/// `aws`'s). `None` for a region of no known partition.
pub fn default_server_address(region: &str) -> Option<String> {
    match Partition::from_region(region)? {
        Partition::Aws => Some("s3.amazonaws.com".to_string()),
        partition => Some(format!("s3.{region}.{}", partition.dns_suffix())),
    }
}

#[derive(Serialize)]
struct CacheTable<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Path")]
    path: &'a str,
    #[serde(rename = "Shared")]
    shared: bool,
    s3: S3Table<'a>,
}

#[derive(Serialize)]
struct S3Table<'a> {
    #[serde(rename = "ServerAddress")]
    server_address: &'a str,
    #[serde(rename = "BucketName")]
    bucket_name: &'a str,
    #[serde(rename = "BucketLocation")]
    bucket_location: &'a str,
    #[serde(rename = "Insecure")]
    insecure: bool,
    #[serde(rename = "AuthenticationType")]
    authentication_type: &'a str,
    #[serde(
        rename = "ServerSideEncryption",
        skip_serializing_if = "Option::is_none"
    )]
    server_side_encryption: Option<&'a str>,
    #[serde(
        rename = "ServerSideEncryptionKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    server_side_encryption_key_id: Option<&'a str>,
}

#[derive(Serialize)]
struct RunnerEntry<'a> {
    cache: CacheTable<'a>,
}

/// `config.toml` as the runner reads it: `[[runners]]` is an array of tables.
#[derive(Serialize)]
struct ConfigFile<'a> {
    runners: Vec<RunnerEntry<'a>>,
}

/// The fragment `config_toml` holds: `[runners.cache]` tables that go below a `[[runners]]`.
#[derive(Serialize)]
struct Fragment<'a> {
    runners: RunnerEntry<'a>,
}

impl RunnerCache {
    fn cache_table(&self) -> CacheTable<'_> {
        CacheTable {
            kind: "s3",
            path: &self.path,
            shared: self.shared,
            s3: S3Table {
                server_address: &self.server_address,
                bucket_name: &self.bucket_name,
                bucket_location: &self.bucket_location,
                insecure: self.insecure,
                authentication_type: "iam",
                server_side_encryption: self.kms_key_arn.as_ref().map(|_| "KMS"),
                server_side_encryption_key_id: self.kms_key_arn.as_deref(),
            },
        }
    }

    /// The `[runners.cache]` and `[runners.cache.s3]` tables, to paste below `[[runners]]`.
    pub fn config_toml(&self) -> String {
        let fragment = Fragment {
            runners: RunnerEntry {
                cache: self.cache_table(),
            },
        };
        toml::to_string(&fragment).expect("the cache tables serialize as TOML")
    }

    /// A values fragment for the gitlab-runner chart: `runners.config` with one `[[runners]]`
    /// entry holding the cache tables.
    pub fn helm_values(&self) -> String {
        let file = ConfigFile {
            runners: vec![RunnerEntry {
                cache: self.cache_table(),
            }],
        };
        let config = toml::to_string(&file).expect("the runner entry serializes as TOML");
        let mut config_entry = yaml_rust2::yaml::Hash::new();
        config_entry.insert(
            yaml_rust2::Yaml::String("config".into()),
            yaml_rust2::Yaml::String(config),
        );
        let mut root = yaml_rust2::yaml::Hash::new();
        root.insert(
            yaml_rust2::Yaml::String("runners".into()),
            yaml_rust2::Yaml::Hash(config_entry),
        );
        let mut out = String::new();
        let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
        emitter.multiline_strings(true);
        emitter
            .dump(&yaml_rust2::Yaml::Hash(root))
            .expect("writing YAML to a string cannot fail");
        // The emitter indents the blank lines inside the literal block too; drop that.
        let body = out.strip_prefix("---\n").unwrap_or(&out);
        let lines: Vec<&str> = body.lines().map(str::trim_end).collect();
        format!("{}\n", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn cache(kms: Option<&str>) -> RunnerCache {
        RunnerCache {
            path: "runner/main".into(),
            shared: true,
            server_address: default_server_address("eu-central-1").unwrap(),
            bucket_name: "my-cache".into(),
            bucket_location: "eu-central-1".into(),
            insecure: false,
            kms_key_arn: kms.map(str::to_string),
        }
    }

    const KEY: &str =
        "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn keys(table: &toml::Table) -> BTreeSet<&str> {
        table.keys().map(String::as_str).collect()
    }

    /// The keys GitLab Runner reads in `[runners.cache]` and `[runners.cache.s3]`
    /// (`CacheConfig`/`CacheS3Config` toml tags).
    const RUNNER_CACHE_KEYS: [&str; 7] = [
        "Type",
        "Path",
        "Shared",
        "MaxUploadedArchiveSize",
        "s3",
        "gcs",
        "azure",
    ];
    const RUNNER_S3_KEYS: [&str; 15] = [
        "ServerAddress",
        "AccessKey",
        "SecretKey",
        "SessionToken",
        "BucketName",
        "BucketLocation",
        "Insecure",
        "AuthenticationType",
        "ServerSideEncryption",
        "ServerSideEncryptionKeyID",
        "DualStack",
        "PathStyle",
        "Accelerate",
        "RoleARN",
        "UploadRoleARN",
    ];

    /// Parses `config_toml` the way the runner does: below a `[[runners]]` entry.
    fn parse_in_runner_entry(fragment: &str) -> toml::Table {
        let file = format!("[[runners]]\nname = \"eks\"\nexecutor = \"kubernetes\"\n{fragment}");
        let mut parsed: toml::Table = toml::from_str(&file).expect("valid TOML");
        let runners = parsed.remove("runners").unwrap();
        let entry = runners.as_array().unwrap()[0].as_table().unwrap().clone();
        entry["cache"].as_table().unwrap().clone()
    }

    #[test]
    fn config_toml_has_exactly_the_keys_the_runner_reads_for_iam() {
        let cache_table = parse_in_runner_entry(&cache(None).config_toml());
        assert_eq!(
            keys(&cache_table),
            BTreeSet::from(["Type", "Path", "Shared", "s3"])
        );
        assert_eq!(cache_table["Type"].as_str(), Some("s3"));
        assert_eq!(cache_table["Path"].as_str(), Some("runner/main"));
        assert_eq!(cache_table["Shared"].as_bool(), Some(true));
        let s3 = cache_table["s3"].as_table().unwrap();
        assert_eq!(
            keys(s3),
            BTreeSet::from([
                "ServerAddress",
                "BucketName",
                "BucketLocation",
                "Insecure",
                "AuthenticationType"
            ])
        );
        assert_eq!(s3["ServerAddress"].as_str(), Some("s3.amazonaws.com"));
        assert_eq!(s3["BucketName"].as_str(), Some("my-cache"));
        assert_eq!(s3["BucketLocation"].as_str(), Some("eu-central-1"));
        assert_eq!(s3["Insecure"].as_bool(), Some(false));
        assert_eq!(s3["AuthenticationType"].as_str(), Some("iam"));
        assert!(
            keys(&cache_table)
                .iter()
                .all(|k| RUNNER_CACHE_KEYS.contains(k))
        );
        assert!(keys(s3).iter().all(|k| RUNNER_S3_KEYS.contains(k)));
    }

    #[test]
    fn config_toml_names_the_kms_key_with_sse_kms() {
        let cache_table = parse_in_runner_entry(&cache(Some(KEY)).config_toml());
        let s3 = cache_table["s3"].as_table().unwrap();
        assert_eq!(s3["ServerSideEncryption"].as_str(), Some("KMS"));
        assert_eq!(s3["ServerSideEncryptionKeyID"].as_str(), Some(KEY));
        assert_eq!(keys(s3).len(), 7);
    }

    #[test]
    fn config_toml_starts_with_the_cache_table_and_nothing_else() {
        let text = cache(None).config_toml();
        assert!(text.starts_with("[runners.cache]\n"), "{text}");
        assert!(!text.contains("[[runners]]"));
        assert!(!text.contains("\n[runners]\n"));
    }

    #[test]
    fn strings_are_escaped_not_spliced() {
        let mut odd = cache(None);
        odd.server_address = "minio\"\n[evil]".into();
        let cache_table = parse_in_runner_entry(&odd.config_toml());
        assert_eq!(
            cache_table["s3"]["ServerAddress"].as_str(),
            Some("minio\"\n[evil]")
        );
    }

    #[test]
    fn govcloud_and_china_name_their_regional_endpoint() {
        for (region, address) in [
            ("us-gov-west-1", "s3.us-gov-west-1.amazonaws.com"),
            ("cn-north-1", "s3.cn-north-1.amazonaws.com.cn"),
            ("us-isob-east-1", "s3.us-isob-east-1.sc2s.sgov.gov"),
            ("eusc-de-east-1", "s3.eusc-de-east-1.amazonaws.eu"),
            ("eu-west-1", "s3.amazonaws.com"),
        ] {
            assert_eq!(default_server_address(region).as_deref(), Some(address));
        }
        assert_eq!(default_server_address("xx-east-1"), None);
    }

    #[test]
    fn helm_values_put_one_runner_entry_into_runners_config() {
        let values = cache(Some(KEY)).helm_values();
        let docs = yaml_rust2::YamlLoader::load_from_str(&values).expect("valid YAML");
        assert_eq!(docs.len(), 1, "{values}");
        let root = docs[0].as_hash().unwrap();
        assert_eq!(root.len(), 1, "only `runners`: {values}");
        let runners = docs[0]["runners"].as_hash().unwrap();
        assert_eq!(runners.len(), 1, "only `runners.config`: {values}");
        let config = docs[0]["runners"]["config"].as_str().expect("a string");
        let parsed: toml::Table = toml::from_str(config).expect("TOML inside the YAML");
        let entries = parsed["runners"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        let from_helm = entries[0]["cache"].as_table().unwrap();
        let from_toml = parse_in_runner_entry(&cache(Some(KEY)).config_toml());
        assert_eq!(from_helm, &from_toml);
        assert!(values.starts_with("runners:\n  config: |"), "{values}");
        assert!(values.lines().all(|l| l == l.trim_end()), "{values}");
    }
}
