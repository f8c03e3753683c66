//! Finding an IAM OIDC provider by ARN or by issuer URL.

use std::collections::BTreeMap;

use crate::aws::arn::issuer_host_path;
use crate::aws::{AwsError, NotFoundAsNone as _, OidcProviderArn, aws_error};

/// What to look up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The provider with this ARN.
    Arn(OidcProviderArn),
    /// The provider for this issuer (`https://` and a trailing `/` removed).
    Issuer(String),
}

/// An IAM OIDC provider as IAM describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProvider {
    /// Its ARN, with partition, account and issuer host path.
    pub arn: OidcProviderArn,
    /// The issuer URL IAM stores (`Url` of `GetOpenIDConnectProvider`, without `https://`);
    /// the ARN's host path when IAM returns none.
    pub url: String,
    /// The accepted audiences.
    pub client_ids: Vec<String>,
    /// The registered certificate thumbprints.
    pub thumbprints: Vec<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// Why the lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// No provider has this ARN.
    #[error("no IAM OIDC provider with the ARN {0} exists")]
    NoSuchArn(String),
    /// No provider of the account is for this issuer.
    #[error(
        "no IAM OIDC provider for the issuer https://{issuer}{account} exists; {}",
        known_issuers(.known)
    )]
    NoSuchIssuer {
        /// The issuer host path looked up.
        issuer: String,
        /// ` in account N` when known, else empty.
        account: String,
        /// The issuers the account does have.
        known: Vec<String>,
    },
    /// IAM listed an ARN that is not an OIDC provider ARN.
    #[error("IAM listed {0:?}, which is not an OIDC provider ARN")]
    UnexpectedArn(String),
    /// An IAM call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

fn known_issuers(known: &[String]) -> String {
    const SHOWN: usize = 5;
    match known.len() {
        0 => "the account has no OIDC providers".to_string(),
        n => {
            let mut list = known
                .iter()
                .take(SHOWN)
                .map(|issuer| format!("https://{issuer}"))
                .collect::<Vec<_>>()
                .join(", ");
            if n > SHOWN {
                list.push_str(&format!(" and {} more", n - SHOWN));
            }
            format!("the account's OIDC providers are for {list}")
        }
    }
}

/// Whether two issuer host paths name the same issuer: host case-insensitive, path exact.
pub fn same_issuer(a: &str, b: &str) -> bool {
    let split = |s: &str| {
        let (host, path) = s.split_once('/').unwrap_or((s, ""));
        (
            host.to_ascii_lowercase(),
            path.trim_end_matches('/').to_string(),
        )
    };
    split(a) == split(b)
}

/// The issuer host path of a URL given with or without `https://`.
pub fn issuer_of(url: &str) -> String {
    issuer_host_path(url)
}

/// Looks the provider up.
pub async fn find(iam: &aws_sdk_iam::Client, lookup: &Lookup) -> Result<OidcProvider, LookupError> {
    let arn = match lookup {
        Lookup::Arn(arn) => arn.clone(),
        Lookup::Issuer(issuer) => find_by_issuer(iam, issuer).await?,
    };
    let output = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(arn.to_string())
        .send()
        .await
        .map_err(aws_error("iam:GetOpenIDConnectProvider"))
        .not_found_as_none()?
        .ok_or_else(|| LookupError::NoSuchArn(arn.to_string()))?;
    Ok(OidcProvider {
        url: output
            .url()
            .filter(|url| !url.is_empty())
            .map_or_else(|| arn.issuer_host_path.clone(), str::to_string),
        arn,
        client_ids: output.client_id_list().to_vec(),
        thumbprints: output.thumbprint_list().to_vec(),
        tags: output
            .tags()
            .iter()
            .map(|tag| (tag.key().to_string(), tag.value().to_string()))
            .collect(),
    })
}

async fn find_by_issuer(
    iam: &aws_sdk_iam::Client,
    issuer: &str,
) -> Result<OidcProviderArn, LookupError> {
    let listed = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(aws_error("iam:ListOpenIDConnectProviders"))?;
    let mut known = Vec::new();
    let mut account = None;
    for entry in listed.open_id_connect_provider_list() {
        let Some(text) = entry.arn() else { continue };
        let arn = OidcProviderArn::parse(text)
            .map_err(|_| LookupError::UnexpectedArn(text.to_string()))?;
        if same_issuer(&arn.issuer_host_path, issuer) {
            return Ok(arn);
        }
        account.get_or_insert_with(|| arn.account.clone());
        known.push(arn.issuer_host_path);
    }
    Err(LookupError::NoSuchIssuer {
        issuer: issuer.to_string(),
        account: account
            .map(|a| format!(" in account {a}"))
            .unwrap_or_default(),
        known,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_match_with_any_host_case_and_trailing_slash() {
        assert!(same_issuer(
            "oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "OIDC.EKS.us-east-1.amazonaws.com/id/ABC/"
        ));
        assert!(!same_issuer(
            "oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "oidc.eks.us-east-1.amazonaws.com/id/abc"
        ));
        assert!(!same_issuer(
            "oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "oidc.eks.us-east-1.amazonaws.com/id/ABCD"
        ));
    }

    #[test]
    fn not_found_by_issuer_lists_what_the_account_has() {
        let error = LookupError::NoSuchIssuer {
            issuer: "oidc.example/id/X".into(),
            account: " in account 123456789012".into(),
            known: (1..=7).map(|i| format!("oidc.example/id/{i}")).collect(),
        };
        assert_eq!(
            error.to_string(),
            "no IAM OIDC provider for the issuer https://oidc.example/id/X in account \
             123456789012 exists; the account's OIDC providers are for \
             https://oidc.example/id/1, https://oidc.example/id/2, https://oidc.example/id/3, \
             https://oidc.example/id/4, https://oidc.example/id/5 and 2 more"
        );
    }
}
