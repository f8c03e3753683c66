//! AWS partitions. Every ARN this provider builds takes its partition from here, derived from a
//! region or read from another ARN, never hard-coded.
//!
//! The partitions, their region patterns and DNS suffixes are the AWS SDKs' `partitions.json`
//! (the copy embedded in `aws-sdk-s3` 1.157, `src/endpoint_lib.rs`; upstream
//! github.com/aws/aws-sdk-js-v3 `packages/util-endpoints/src/lib/aws/partitions.json`). The SDKs
//! fall back to `aws` for a region no pattern matches; this provider refuses such a region
//! instead, because an ARN built in the wrong partition names nothing (or something else).

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
    /// AWS European Sovereign Cloud (`arn:aws-eusc:`, regions `eusc-de-*`).
    AwsEusc,
    /// The US ISO regions (`arn:aws-iso:`, regions `us-iso-*`).
    AwsIso,
    /// The US ISOB regions (`arn:aws-iso-b:`, regions `us-isob-*`).
    AwsIsoB,
    /// The EU ISOE regions (`arn:aws-iso-e:`, regions `eu-isoe-*`).
    AwsIsoE,
    /// The US ISOF regions (`arn:aws-iso-f:`, regions `us-isof-*`).
    AwsIsoF,
}

/// One row of `partitions.json`: the region pattern `^P1-P2-…-\w+-\d+$` as the alternatives of
/// each fixed leading part, the name and the DNS suffix.
struct Row {
    partition: Partition,
    name: &'static str,
    leading: &'static [&'static [&'static str]],
    dns_suffix: &'static str,
}

static ROWS: [Row; 8] = [
    Row {
        partition: Partition::Aws,
        name: "aws",
        // "^(us|eu|ap|sa|ca|me|af|il|mx)\\-\\w+\\-\\d+$"
        leading: &[&["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"]],
        dns_suffix: "amazonaws.com",
    },
    Row {
        partition: Partition::AwsCn,
        name: "aws-cn",
        leading: &[&["cn"]],
        dns_suffix: "amazonaws.com.cn",
    },
    Row {
        partition: Partition::AwsEusc,
        name: "aws-eusc",
        leading: &[&["eusc"], &["de"]],
        dns_suffix: "amazonaws.eu",
    },
    Row {
        partition: Partition::AwsIso,
        name: "aws-iso",
        leading: &[&["us"], &["iso"]],
        dns_suffix: "c2s.ic.gov",
    },
    Row {
        partition: Partition::AwsIsoB,
        name: "aws-iso-b",
        leading: &[&["us"], &["isob"]],
        dns_suffix: "sc2s.sgov.gov",
    },
    Row {
        partition: Partition::AwsIsoE,
        name: "aws-iso-e",
        leading: &[&["eu"], &["isoe"]],
        dns_suffix: "cloud.adc-e.uk",
    },
    Row {
        partition: Partition::AwsIsoF,
        name: "aws-iso-f",
        leading: &[&["us"], &["isof"]],
        dns_suffix: "csp.hci.ic.gov",
    },
    Row {
        partition: Partition::AwsUsGov,
        name: "aws-us-gov",
        leading: &[&["us"], &["gov"]],
        dns_suffix: "amazonaws.com",
    },
];

impl Row {
    /// Whether `parts` (a region name split at `-`) match this row's pattern: the leading
    /// parts, then one word, then a number.
    fn matches(&self, parts: &[&str]) -> bool {
        parts.len() == self.leading.len() + 2
            && self
                .leading
                .iter()
                .zip(parts)
                .all(|(choices, part)| choices.contains(part))
    }
}

/// Why a region has no partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// Not shaped like a region name at all (`Frankfurt`, `US-EAST-1`).
    Malformed,
    /// Shaped like a region name, but of no AWS partition (`xx-east-1`, `us-isoz-east-1`).
    NoKnownPartition,
}

impl RegionError {
    /// The summary of a diagnostic about such a region.
    pub fn summary(&self) -> &'static str {
        match self {
            RegionError::Malformed => "Invalid AWS region",
            RegionError::NoKnownPartition => "AWS region of no known partition",
        }
    }

    /// The sentence a diagnostic about `region` gives.
    pub fn explain(&self, region: &str) -> String {
        match self {
            RegionError::Malformed => format!(
                "{region:?} is not an AWS region name. Use a region such as us-east-1, \
                 eu-central-1, us-gov-west-1 or cn-north-1."
            ),
            RegionError::NoKnownPartition => format!(
                "{region:?} is not a region of any AWS partition this provider knows ({}), so \
                 the ARNs it builds would be wrong. Check the region name for a typo.",
                Partition::ALL.map(Partition::as_str).join(", ")
            ),
        }
    }
}

impl Partition {
    /// Every partition, in `partitions.json` order.
    pub const ALL: [Partition; 8] = [
        Partition::Aws,
        Partition::AwsCn,
        Partition::AwsEusc,
        Partition::AwsIso,
        Partition::AwsIsoB,
        Partition::AwsIsoE,
        Partition::AwsIsoF,
        Partition::AwsUsGov,
    ];

    fn row(self) -> &'static Row {
        ROWS.iter()
            .find(|row| row.partition == self)
            .expect("every partition has a row")
    }

    /// The partition a region belongs to, or why it has none.
    pub fn for_region(region: &str) -> Result<Partition, RegionError> {
        if !is_region_name(region) {
            return Err(RegionError::Malformed);
        }
        let parts: Vec<&str> = region.split('-').collect();
        ROWS.iter()
            .find(|row| row.matches(&parts))
            .map(|row| row.partition)
            .ok_or(RegionError::NoKnownPartition)
    }

    /// The partition a region belongs to, or `None` for a string that is not a region name or
    /// a region of no known partition (see [`Partition::for_region`] for which).
    pub fn from_region(region: &str) -> Option<Partition> {
        Partition::for_region(region).ok()
    }

    /// The partition called `name` (`aws`, `aws-us-gov`, `aws-cn`, `aws-iso-b`, …).
    pub fn from_name(name: &str) -> Option<Partition> {
        ROWS.iter()
            .find(|row| row.name == name)
            .map(|row| row.partition)
    }

    /// The name used in ARNs.
    pub fn as_str(self) -> &'static str {
        self.row().name
    }

    /// The DNS suffix of the partition's service endpoints.
    pub fn dns_suffix(self) -> &'static str {
        self.row().dns_suffix
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
        for (region, partition) in [
            ("us-east-1", Partition::Aws),
            ("eu-central-2", Partition::Aws),
            ("il-central-1", Partition::Aws),
            ("mx-central-1", Partition::Aws),
            ("us-gov-west-1", Partition::AwsUsGov),
            ("cn-northwest-1", Partition::AwsCn),
            ("eusc-de-east-1", Partition::AwsEusc),
            ("us-iso-east-1", Partition::AwsIso),
            ("us-isob-east-1", Partition::AwsIsoB),
            ("eu-isoe-west-1", Partition::AwsIsoE),
            ("us-isof-south-1", Partition::AwsIsoF),
        ] {
            assert_eq!(Partition::for_region(region), Ok(partition), "{region}");
        }
    }

    #[test]
    fn a_region_of_no_known_partition_is_not_taken_for_aws() {
        for region in [
            "xx-east-1",
            "us-isoz-east-1",
            "eusc-fr-east-1",
            "eu-iso-west-1",
            "us-gov-west-east-1",
            "useast-north-1",
        ] {
            assert_eq!(
                Partition::for_region(region),
                Err(RegionError::NoKnownPartition),
                "{region}"
            );
            assert_eq!(Partition::from_region(region), None, "{region}");
        }
        let detail = RegionError::NoKnownPartition.explain("us-isoz-east-1");
        assert!(detail.contains("\"us-isoz-east-1\""), "{detail}");
        assert!(detail.contains("aws-iso-b"), "{detail}");
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
            assert_eq!(
                Partition::for_region(bad),
                Err(RegionError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Partition::ALL {
            assert_eq!(Partition::from_name(p.as_str()), Some(p));
        }
        assert_eq!(Partition::from_name("aws-iso-z"), None);
    }

    #[test]
    fn dns_suffixes_are_the_partitions() {
        assert_eq!(Partition::AwsCn.dns_suffix(), "amazonaws.com.cn");
        assert_eq!(Partition::AwsUsGov.dns_suffix(), "amazonaws.com");
        assert_eq!(Partition::AwsIsoB.dns_suffix(), "sc2s.sgov.gov");
        assert_eq!(Partition::AwsEusc.dns_suffix(), "amazonaws.eu");
    }
}
