//! ARNs: parsing, the checks users need at plan time, and building the ARNs this provider
//! computes (roles, OIDC providers, S3 buckets and objects).

use std::fmt;

use super::partition::Partition;

/// A parsed ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn {
    /// The partition.
    pub partition: Partition,
    /// The service (`iam`, `s3`, `kms`, ...).
    pub service: String,
    /// The region; empty for global services (IAM, S3 buckets).
    pub region: String,
    /// The 12-digit account id; empty for S3 buckets.
    pub account: String,
    /// Everything after the fifth colon (`role/path/name`, `oidc-provider/host/path`, ...).
    pub resource: String,
}

/// Why a string is not a usable ARN. The text completes the sentence "... is not a valid ARN: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// Not of the form `arn:partition:service:region:account:resource`.
    #[error("an ARN has the form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE")]
    Shape,
    /// An unknown partition.
    #[error("unknown partition {0:?} (expected aws, aws-us-gov or aws-cn)")]
    Partition(String),
    /// The account is not 12 digits.
    #[error("the account id {0:?} is not 12 digits")]
    Account(String),
    /// Another service or resource type than the one required.
    #[error("expected {expected}, found {found:?}")]
    Kind {
        /// What was expected, e.g. `an IAM OIDC provider (arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER)`.
        expected: &'static str,
        /// What the ARN holds.
        found: String,
    },
}

impl Arn {
    /// Parses any ARN.
    pub fn parse(text: &str) -> Result<Arn, ArnError> {
        let mut parts = text.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(ArnError::Shape);
        };
        if service.is_empty() || resource.is_empty() {
            return Err(ArnError::Shape);
        }
        let partition = Partition::from_name(partition)
            .ok_or_else(|| ArnError::Partition(partition.to_string()))?;
        if !account.is_empty() && !is_account_id(account) {
            return Err(ArnError::Account(account.to_string()));
        }
        Ok(Arn {
            partition,
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    /// Whether the resource ends in a name (`role/NAME`, `policy/PATH/NAME`, `key/ID`): not
    /// empty after its last `/`.
    pub fn has_resource_name(&self) -> bool {
        self.resource
            .rsplit('/')
            .next()
            .is_some_and(|name| !name.is_empty())
    }

    /// Parses an IAM managed policy ARN (`arn:P:iam::ACCOUNT|aws:policy/PATH/NAME`).
    pub fn parse_policy(text: &str) -> Result<Arn, ArnError> {
        const EXPECTED: &str = "an IAM policy (arn:PARTITION:iam::ACCOUNT:policy/NAME)";
        // AWS managed policies carry the account `aws`, which `parse` rejects as not 12 digits.
        let normalized = text.replacen(":iam::aws:policy/", ":iam::000000000000:policy/", 1);
        let mut arn = Arn::parse(&normalized)?;
        if arn.service != "iam"
            || !arn.region.is_empty()
            || !arn.resource.starts_with("policy/")
            || !arn.has_resource_name()
        {
            return Err(ArnError::Kind {
                expected: EXPECTED,
                found: text.to_string(),
            });
        }
        if normalized != text {
            arn.account = "aws".to_string();
        }
        Ok(arn)
    }

    /// Parses a KMS key ARN (`arn:P:kms:REGION:ACCOUNT:key/ID` or `alias/NAME`).
    pub fn parse_kms_key(text: &str) -> Result<Arn, ArnError> {
        let arn = Arn::parse(text)?;
        let is_key = arn.resource.starts_with("key/") || arn.resource.starts_with("alias/");
        if arn.service != "kms"
            || arn.region.is_empty()
            || arn.account.is_empty()
            || !is_key
            || !arn.has_resource_name()
        {
            return Err(ArnError::Kind {
                expected: "a KMS key (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID)",
                found: text.to_string(),
            });
        }
        Ok(arn)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// An IAM OIDC identity provider ARN, with the parts IRSA needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProviderArn {
    /// The partition.
    pub partition: Partition,
    /// The account that owns the provider (and the roles that trust it).
    pub account: String,
    /// The issuer URL without `https://`, e.g. `oidc.eks.us-east-1.amazonaws.com/id/ABC`: the
    /// prefix of the `:sub` and `:aud` condition keys.
    pub issuer_host_path: String,
}

impl OidcProviderArn {
    /// Parses `arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST_PATH`.
    pub fn parse(text: &str) -> Result<OidcProviderArn, ArnError> {
        let kind = || ArnError::Kind {
            expected: "an IAM OIDC provider (arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST/PATH)",
            found: text.to_string(),
        };
        let arn = Arn::parse(text)?;
        if arn.service != "iam" || !arn.region.is_empty() || arn.account.is_empty() {
            return Err(kind());
        }
        let issuer = arn
            .resource
            .strip_prefix("oidc-provider/")
            .ok_or_else(kind)?;
        let host = issuer.split('/').next().unwrap_or_default();
        let valid_host = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid_host
            || issuer.contains("://")
            || issuer.ends_with('/')
            || issuer.contains(char::is_whitespace)
        {
            return Err(kind());
        }
        Ok(OidcProviderArn {
            partition: arn.partition,
            account: arn.account,
            issuer_host_path: issuer.to_string(),
        })
    }

    /// Builds the ARN of the OIDC provider for `issuer_url` (with or without `https://`).
    pub fn from_issuer(partition: Partition, account: &str, issuer_url: &str) -> OidcProviderArn {
        OidcProviderArn {
            partition,
            account: account.to_string(),
            issuer_host_path: issuer_host_path(issuer_url),
        }
    }

    /// The `https://` issuer URL.
    pub fn issuer_url(&self) -> String {
        format!("https://{}", self.issuer_host_path)
    }
}

impl fmt::Display for OidcProviderArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:oidc-provider/{}",
            self.partition, self.account, self.issuer_host_path
        )
    }
}

/// An issuer URL without its scheme and trailing slash: the form IAM uses in condition keys.
pub fn issuer_host_path(issuer_url: &str) -> String {
    issuer_url
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// The ARN of the IAM role `name` under `path` (`/` or `/a/b/`).
pub fn role_arn(partition: Partition, account: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{path}{name}")
}

/// The ARN of an S3 bucket.
pub fn bucket_arn(partition: Partition, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// The ARN of the objects under `prefix` (`""` for the whole bucket) in an S3 bucket.
pub fn objects_arn(partition: Partition, bucket: &str, prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        format!("arn:{partition}:s3:::{bucket}/*")
    } else {
        format!("arn:{partition}:s3:::{bucket}/{prefix}/*")
    }
}

/// The issuer URL (`https://HOST/PATH`) when `text` is a cluster's OIDC issuer rather than an
/// ARN: the issuer URL itself, or its host path (the form IAM condition keys use, and the end of
/// the OIDC provider's ARN). Users often paste one where the provider's ARN belongs.
pub fn issuer_in_place_of_arn(text: &str) -> Option<String> {
    let text = text.trim();
    if text.starts_with("arn:") {
        return None;
    }
    let host_path = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text)
        .trim_end_matches('/');
    let host = host_path.split('/').next().unwrap_or_default();
    let is_host = host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    is_host.then(|| format!("https://{host_path}"))
}

/// Whether `account` is a 12-digit AWS account id.
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EKS: &str =
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123";

    #[test]
    fn an_issuer_url_or_host_path_is_recognised_in_place_of_an_arn() {
        let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123";
        for given in [
            issuer,
            "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123/",
            "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123",
        ] {
            assert_eq!(
                issuer_in_place_of_arn(given).as_deref(),
                Some(issuer),
                "{given}"
            );
        }
        for other in [
            EKS,
            "",
            "alias/gitlab-cache",
            "not an arn",
            "arn:aws:iam::1:role/x",
        ] {
            assert_eq!(issuer_in_place_of_arn(other), None, "{other}");
        }
    }

    #[test]
    fn oidc_provider_arn_yields_partition_account_and_condition_prefix() {
        let arn = OidcProviderArn::parse(EKS).unwrap();
        assert_eq!(arn.partition, Partition::Aws);
        assert_eq!(arn.account, "123456789012");
        assert_eq!(
            arn.issuer_host_path,
            "oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123"
        );
        assert_eq!(arn.to_string(), EKS);
        assert_eq!(
            arn.issuer_url(),
            "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123"
        );
    }

    #[test]
    fn govcloud_oidc_provider_keeps_its_partition() {
        let arn = OidcProviderArn::parse(
            "arn:aws-us-gov:iam::123456789012:oidc-provider/oidc.eks.us-gov-west-1.amazonaws.com/id/X",
        )
        .unwrap();
        assert_eq!(arn.partition, Partition::AwsUsGov);
    }

    #[test]
    fn malformed_oidc_provider_arns_are_refused() {
        for bad in [
            "",
            "oidc.eks.us-east-1.amazonaws.com/id/X",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:iam::12345:oidc-provider/host/id/X",
            "arn:aws:iam:us-east-1:123456789012:oidc-provider/host/id/X",
            "arn:aws:iam::123456789012:oidc-provider/https://host/id/X",
            "arn:aws:iam::123456789012:oidc-provider/",
            "arn:aws:iam::123456789012:oidc-provider/host/id/X/",
            "arn:aws-mars:iam::123456789012:oidc-provider/host/id/X",
            "arn:aws:s3::123456789012:oidc-provider/host/id/X",
        ] {
            assert!(OidcProviderArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_arns_accept_aws_managed_and_customer_managed() {
        let managed = Arn::parse_policy("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!(managed.account, "aws");
        assert_eq!(
            managed.to_string(),
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        );
        assert!(Arn::parse_policy("arn:aws-cn:iam::123456789012:policy/team/p").is_ok());
        assert!(Arn::parse_policy("arn:aws:iam::123456789012:role/p").is_err());
        assert!(Arn::parse_policy("arn:aws:s3:::bucket").is_err());
        assert!(Arn::parse_policy("arn:aws:iam::aws:policy/").is_err());
        assert!(Arn::parse_policy("arn:aws:iam::123456789012:policy/team/").is_err());
    }

    #[test]
    fn kms_key_arns_need_region_account_and_key() {
        assert!(Arn::parse_kms_key("arn:aws:kms:us-east-1:123456789012:key/1234abcd").is_ok());
        assert!(Arn::parse_kms_key("arn:aws:kms::123456789012:key/1234abcd").is_err());
        assert!(Arn::parse_kms_key("arn:aws:kms:us-east-1:123456789012:grant/x").is_err());
        assert!(Arn::parse_kms_key("arn:aws:kms:us-east-1:123456789012:key/").is_err());
        assert!(Arn::parse_kms_key("arn:aws:kms:us-east-1:123456789012:alias/").is_err());
    }

    #[test]
    fn built_arns_carry_the_partition() {
        assert_eq!(
            role_arn(Partition::AwsUsGov, "123456789012", "/ci/", "runner"),
            "arn:aws-us-gov:iam::123456789012:role/ci/runner"
        );
        assert_eq!(bucket_arn(Partition::AwsCn, "b"), "arn:aws-cn:s3:::b");
        assert_eq!(
            objects_arn(Partition::Aws, "b", "runner/"),
            "arn:aws:s3:::b/runner/*"
        );
        assert_eq!(objects_arn(Partition::Aws, "b", ""), "arn:aws:s3:::b/*");
    }

    #[test]
    fn issuer_urls_lose_scheme_and_trailing_slash() {
        assert_eq!(
            issuer_host_path("https://oidc.example.com/id/X/"),
            "oidc.example.com/id/X"
        );
    }
}
