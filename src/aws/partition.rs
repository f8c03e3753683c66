//! AWS partitions: `aws`, `aws-us-gov`, `aws-cn`. Every ARN this provider builds takes its
//! partition from here, derived from a region or read from another ARN, never hard-coded.

use std::fmt;

/// An AWS partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Partition {
    /// The commercial regions (`arn:aws:`).
    Aws,
    /// AWS GovCloud (US) (`arn:aws-us-gov:`).
    AwsUsGov,
    /// The China regions (`arn:aws-cn:`).
    AwsCn,
}

impl Partition {
    /// The partition a region belongs to, or `None` for a string that is not a region name
    /// (`xx-name-N`, with an optional `-gov`/`-iso` style infix).
    pub fn from_region(region: &str) -> Option<Partition> {
        if !is_region_name(region) {
            return None;
        }
        Some(if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else if region.starts_with("cn-") {
            Partition::AwsCn
        } else {
            Partition::Aws
        })
    }

    /// The partition called `name` (`aws`, `aws-us-gov`, `aws-cn`).
    pub fn from_name(name: &str) -> Option<Partition> {
        match name {
            "aws" => Some(Partition::Aws),
            "aws-us-gov" => Some(Partition::AwsUsGov),
            "aws-cn" => Some(Partition::AwsCn),
            _ => None,
        }
    }

    /// The name used in ARNs.
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsCn => "aws-cn",
        }
    }

    /// The DNS suffix of the partition's service endpoints.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `region` looks like an AWS region name: lower-case letters and digits in at least
/// three dash-separated parts, ending in a number (`us-east-1`, `us-gov-west-1`, `cn-north-1`).
pub fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_follows_the_region() {
        assert_eq!(Partition::from_region("us-east-1"), Some(Partition::Aws));
        assert_eq!(Partition::from_region("eu-central-2"), Some(Partition::Aws));
        assert_eq!(
            Partition::from_region("us-gov-west-1"),
            Some(Partition::AwsUsGov)
        );
        assert_eq!(
            Partition::from_region("cn-northwest-1"),
            Some(Partition::AwsCn)
        );
    }

    #[test]
    fn malformed_regions_have_no_partition() {
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "us--1",
            "1-east-1",
            "us-east-x",
        ] {
            assert_eq!(Partition::from_region(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_round_trip() {
        for p in [Partition::Aws, Partition::AwsUsGov, Partition::AwsCn] {
            assert_eq!(Partition::from_name(p.as_str()), Some(p));
        }
        assert_eq!(Partition::from_name("aws-iso"), None);
    }
}
