//! Issuer URLs compared the way IAM and STS compare them.
//!
//! - IAM stores an OIDC provider's URL without `https://` (the ARN ends with it, and
//!   `GetOpenIDConnectProvider` returns it so); a configured or discovered issuer has it. The
//!   URL "must begin with https:// and should correspond to the iss claim", with path
//!   components but no query and no port (IAM API reference, CreateOpenIDConnectProvider,
//!   <https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html>).
//! - The scheme and the host are compared case-insensitively (RFC 3986 §6.2.2.1), the path
//!   exactly: `oidc.eks.us-east-1.amazonaws.com/id/ABC` and
//!   `OIDC.EKS.us-east-1.amazonaws.com/id/ABC` are one provider, `.../id/abc` another. This is
//!   the rule `gitlabrunner_oidc_provider` has always applied to `url` (`lookup::same_issuer`).
//! - Trailing `/` are ignored: `https://host/id/X/` names the issuer `https://host/id/X`.
//! - EKS's dual-stack host `oidc-eks.REGION.api.aws` serves the same discovery document as
//!   `oidc.eks.REGION.amazonaws.com`, but tokens keep `iss` = the latter, so an IAM OIDC
//!   provider registered for the dual-stack host never matches a pod's token
//!   (terraform-aws-modules/terraform-aws-eks #3237, #3428, #3713; rancher/eks-operator #2284).

use std::fmt;

/// An issuer, normalized for comparison: no scheme, lowercase host, no trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Issuer {
    host: String,
    path: String,
}

/// How a provider's issuer relates to the cluster's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The same issuer (host case and trailing `/` aside).
    Same,
    /// The provider is registered for the cluster issuer's EKS dual-stack host.
    DualStackHost,
    /// Another issuer: another cluster, or a typo.
    Different,
}

impl Issuer {
    /// Reads an issuer written as a URL (`https://host/path`) or as a host path (`host/path`,
    /// as in an OIDC provider ARN and IAM's `Url`).
    pub fn parse(text: &str) -> Issuer {
        let text = text.trim();
        let rest = match text.get(..8) {
            Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &text[8..],
            _ => text,
        };
        let rest = rest.trim_end_matches('/');
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        Issuer {
            host: host.to_ascii_lowercase(),
            path: path.trim_end_matches('/').to_string(),
        }
    }

    /// `host/path`: the prefix of the `:sub` and `:aud` condition keys.
    pub fn host_path(&self) -> String {
        if self.path.is_empty() {
            self.host.clone()
        } else {
            format!("{}/{}", self.host, self.path)
        }
    }

    /// `https://host/path`: the `iss` claim of the cluster's tokens.
    pub fn url(&self) -> String {
        format!("https://{}", self.host_path())
    }

    /// How the IAM OIDC provider's issuer `provider` relates to this (the cluster's) issuer.
    pub fn relation_of(&self, provider: &Issuer) -> Relation {
        if self == provider {
            Relation::Same
        } else if self.path == provider.path
            && dual_stack_region(&provider.host)
                .is_some_and(|region| self.host == format!("oidc.eks.{region}.amazonaws.com"))
        {
            Relation::DualStackHost
        } else {
            Relation::Different
        }
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

/// The region of an EKS dual-stack issuer host `oidc-eks.REGION.api.aws`.
fn dual_stack_region(host: &str) -> Option<&str> {
    let region = host.strip_prefix("oidc-eks.")?.strip_suffix(".api.aws")?;
    (!region.is_empty() && !region.contains('.')).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EKS: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

    fn relation(cluster: &str, provider: &str) -> Relation {
        Issuer::parse(cluster).relation_of(&Issuer::parse(provider))
    }

    #[test]
    fn https_prefix_is_optional_on_either_side() {
        assert_eq!(relation(&format!("https://{EKS}"), EKS), Relation::Same);
        assert_eq!(relation(EKS, &format!("https://{EKS}")), Relation::Same);
        assert_eq!(relation(&format!("HTTPS://{EKS}"), EKS), Relation::Same);
    }

    #[test]
    fn host_case_is_ignored_but_path_case_is_not() {
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "OIDC.EKS.US-EAST-1.AMAZONAWS.COM/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
            ),
            Relation::Same
        );
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "oidc.eks.us-east-1.amazonaws.com/id/exampled539d4633e53de1b71example"
            ),
            Relation::Different
        );
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "oidc.eks.us-east-1.amazonaws.com/ID/EXAMPLED539D4633E53DE1B71EXAMPLE"
            ),
            Relation::Different
        );
    }

    #[test]
    fn trailing_slashes_are_ignored() {
        assert_eq!(relation(&format!("https://{EKS}/"), EKS), Relation::Same);
        assert_eq!(
            relation(&format!("https://{EKS}"), &format!("{EKS}//")),
            Relation::Same
        );
        assert_eq!(
            relation(
                "https://kubernetes.default.svc.cluster.local/",
                "kubernetes.default.svc.cluster.local"
            ),
            Relation::Same
        );
    }

    #[test]
    fn another_cluster_or_a_longer_path_is_different() {
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "oidc.eks.us-east-1.amazonaws.com/id/0THERCLUSTER0000000000000000000"
            ),
            Relation::Different
        );
        assert_eq!(
            relation(&format!("https://{EKS}"), &format!("{EKS}0")),
            Relation::Different
        );
        assert_eq!(
            relation(&format!("https://{EKS}"), &format!("{EKS}/extra")),
            Relation::Different
        );
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
            ),
            Relation::Different
        );
    }

    #[test]
    fn the_dual_stack_host_of_the_same_cluster_is_named_as_such() {
        let dual = "oidc-eks.us-east-1.api.aws/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
        assert_eq!(
            relation(&format!("https://{EKS}"), dual),
            Relation::DualStackHost
        );
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "OIDC-EKS.US-EAST-1.API.AWS/id/EXAMPLED539D4633E53DE1B71EXAMPLE/"
            ),
            Relation::DualStackHost
        );
        // Another region's or another cluster's dual-stack host is simply another issuer.
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "oidc-eks.eu-west-1.api.aws/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
            ),
            Relation::Different
        );
        assert_eq!(
            relation(
                &format!("https://{EKS}"),
                "oidc-eks.us-east-1.api.aws/id/OTHER"
            ),
            Relation::Different
        );
        assert_eq!(
            relation(&format!("https://{EKS}"), "oidc-eks..api.aws/id/X"),
            Relation::Different
        );
    }

    #[test]
    fn host_path_and_url_are_normalized() {
        let issuer = Issuer::parse("HTTPS://OIDC.EKS.us-east-1.amazonaws.com/id/ABC/");
        assert_eq!(
            issuer.host_path(),
            "oidc.eks.us-east-1.amazonaws.com/id/ABC"
        );
        assert_eq!(
            issuer.url(),
            "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
        );
        assert_eq!(
            Issuer::parse("https://kubernetes.default.svc.cluster.local").host_path(),
            "kubernetes.default.svc.cluster.local"
        );
    }
}
