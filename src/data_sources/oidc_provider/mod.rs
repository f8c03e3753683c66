//! `gitlabrunner_oidc_provider`: the cluster's IAM OIDC provider, by ARN, by issuer URL, or
//! (with no argument) by the issuer the configured cluster reports about itself.

pub mod lookup;
mod schema;
#[cfg(test)]
mod tests;

use async_trait::async_trait;

use crate::aws::{ArnError, OidcProviderArn, issuer_in_place_of_arn};
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Schema, Value};
use crate::framework::{Context, DataSource, ReadOutcome};
use crate::provider::url::HttpUrl;
use crate::wiring::{ClusterIssuer, Issuer};

use lookup::{Lookup, LookupError, OidcProvider};

/// The data source type.
pub struct OidcProviderDataSource;

#[async_trait]
impl DataSource for OidcProviderDataSource {
    fn type_name(&self) -> &'static str {
        "gitlabrunner_oidc_provider"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match lookup_from(config) {
            Err(diags) => diags,
            Ok(_) => Diagnostics::new(),
        }
    }

    async fn read(&self, ctx: &Context, config: &Value) -> ReadOutcome {
        let outcome = async {
            let query = match lookup_from(config) {
                Ok(Some(lookup)) => Query::Lookup(lookup),
                Ok(None) if config.get("arn").is_null() && config.get("url").is_null() => {
                    Query::Cluster
                }
                _ => {
                    return Err(Diagnostic::error(
                        "Invalid gitlabrunner_oidc_provider arguments",
                        "Set at most one of arn and url, with a known value.",
                    ));
                }
            };
            let (lookup, cluster) = match query {
                Query::Lookup(lookup) => (lookup, None),
                Query::Cluster => {
                    let cluster = ctx.provider.cluster_issuer(&ctx.cancel).await;
                    let ClusterIssuer::Known { issuer, .. } = &cluster else {
                        return Err(unreadable_cluster(&cluster));
                    };
                    (
                        Lookup::Issuer(Issuer::parse(issuer).host_path()),
                        Some(cluster),
                    )
                }
            };
            let iam = ctx.provider.iam().await?;
            let found = lookup::find(&iam, &lookup)
                .await
                .map_err(|error| lookup_diagnostic(&lookup, cluster.as_ref(), &error))?;
            Ok(state(config, &found, cluster.as_ref()))
        }
        .await;
        match outcome {
            Ok(state) => ReadOutcome {
                state,
                diagnostics: Diagnostics::new(),
            },
            Err(diagnostic) => ReadOutcome {
                state: Value::Null,
                diagnostics: diagnostic.into(),
            },
        }
    }
}

/// The "Invalid OIDC provider ARN" error for `text` (without an attribute path: callers add
/// theirs). When `text` is the cluster's issuer URL or host path instead of the ARN, the detail
/// shows how this data source looks the ARN up from it.
pub fn invalid_arn(text: &str, why: &ArnError) -> Diagnostic {
    let mut detail = format!("{text:?} is not a valid ARN: {why}.");
    if let Some(issuer) = issuer_in_place_of_arn(text) {
        detail.push_str(&format!(
            " This is the cluster's issuer, not the ARN of its IAM OIDC provider \
             (arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST_PATH). Look the ARN up with \
             data \"gitlabrunner_oidc_provider\" \"this\" {{ url = \"{issuer}\" }} and use \
             data.gitlabrunner_oidc_provider.this.arn (or, with no arguments, \
             data \"gitlabrunner_oidc_provider\" \"this\" {{}} finds the provider of the cluster \
             the provider is configured for)."
        ));
    }
    Diagnostic::error("Invalid OIDC provider ARN", detail)
}

/// What a read looks for.
enum Query {
    /// By `arn` or `url`.
    Lookup(Lookup),
    /// No argument: by the configured cluster's issuer.
    Cluster,
}

/// What the configuration asks to look up: `Ok(None)` while a value is unknown or when
/// neither argument is set (the configured cluster's issuer), the argument errors otherwise.
fn lookup_from(config: &Value) -> Result<Option<Lookup>, Diagnostics> {
    let (arn, url) = (config.get("arn"), config.get("url"));
    let mut diags = Diagnostics::new();
    if !arn.is_null() && !url.is_null() && !arn.is_unknown() && !url.is_unknown() {
        diags.error_at(
            AttributePath::new("url"),
            "Conflicting OIDC provider arguments",
            "Set either arn or url, not both: they are two ways to find the same provider.",
        );
        return Err(diags);
    }
    if let Some(text) = arn.as_str() {
        return match OidcProviderArn::parse(text) {
            Ok(parsed) => Ok(Some(Lookup::Arn(parsed))),
            Err(error) => {
                diags.push(invalid_arn(text, &error).at(AttributePath::new("arn")));
                Err(diags)
            }
        };
    }
    if let Some(text) = url.as_str() {
        return match check_issuer_url(text) {
            Ok(issuer) => Ok(Some(Lookup::Issuer(issuer))),
            Err(detail) => {
                diags.error_at(AttributePath::new("url"), "Invalid issuer URL", detail);
                Err(diags)
            }
        };
    }
    Ok(None)
}

/// The issuer host path of an issuer URL, or why the URL cannot be one.
fn check_issuer_url(text: &str) -> Result<String, String> {
    let url = HttpUrl::parse_https(text)
        .map_err(|error| format!("{text:?} is not a valid issuer URL: {error}."))?;
    if url.rest.contains(['?', '#']) {
        return Err(format!(
            "{text:?} is not a valid issuer URL: an issuer has no query or fragment."
        ));
    }
    Ok(lookup::issuer_of(text))
}

fn lookup_diagnostic(
    lookup: &Lookup,
    cluster: Option<&ClusterIssuer>,
    error: &LookupError,
) -> Diagnostic {
    let attribute = match lookup {
        Lookup::Arn(_) => "arn",
        Lookup::Issuer(_) => "url",
    };
    match (error, cluster) {
        (
            LookupError::NoSuchIssuer { issuer, .. },
            Some(ClusterIssuer::Known {
                issuer: served,
                source,
                ..
            }),
        ) => Diagnostic::error(
            "OIDC provider not found",
            format!(
                "{error}. The issuer was read from {}. Create the cluster's IAM OIDC provider \
                 with eksctl:\n\n  eksctl utils associate-iam-oidc-provider --cluster CLUSTER \
                 --approve\n\nor with Terraform (hashicorp/aws):\n\n  resource \
                 \"aws_iam_openid_connect_provider\" \"cluster\" {{\n    url            = \
                 \"{served}\"\n    client_id_list = [\"sts.amazonaws.com\"]\n  }}\n\nThen \
                 plan again; if it exists, check that this provider uses its AWS account and \
                 partition (https://{issuer}).",
                source.describe(),
            ),
        ),
        (LookupError::NoSuchArn(_) | LookupError::NoSuchIssuer { .. }, _) => Diagnostic::error(
            "OIDC provider not found",
            format!(
                "{error}. Create the cluster's IAM OIDC provider first (eksctl utils \
                 associate-iam-oidc-provider, or the aws_iam_openid_connect_provider \
                 resource), or check that the provider uses the right AWS account and \
                 partition."
            ),
        )
        .at(AttributePath::new(attribute)),
        (LookupError::UnexpectedArn(_) | LookupError::Aws(_), _) => Diagnostic::error(
            "Could not look up the IAM OIDC provider",
            format!("{}.", error.to_string().trim_end_matches('.')),
        ),
    }
}

/// The argument-less lookup's error when the cluster's issuer could not be read.
fn unreadable_cluster(cluster: &ClusterIssuer) -> Diagnostic {
    let reason = match cluster {
        ClusterIssuer::Unreadable { reason } => reason.as_str(),
        ClusterIssuer::Known { .. } => "",
    };
    Diagnostic::error(
        "Cluster issuer not readable",
        format!(
            "Without arn or url, gitlabrunner_oidc_provider looks the OIDC provider up by the \
             configured cluster's service account issuer, but the provider could not read it: \
             {reason}. Bind the identity the provider uses to the ClusterRole \
             system:service-account-issuer-discovery, or set url to the cluster's issuer \
             (aws eks describe-cluster --query cluster.identity.oidc.issuer)."
        ),
    )
}

/// The data source's state for `found`, keeping configured values as written.
/// `issuer` and `jwks_uri` are the cluster's, known for the argument-less lookup only.
fn state(config: &Value, found: &OidcProvider, cluster: Option<&ClusterIssuer>) -> Value {
    let (issuer, jwks_uri) = match cluster {
        Some(ClusterIssuer::Known {
            issuer, jwks_uri, ..
        }) => (
            Value::string(issuer.clone()),
            Value::opt_string(jwks_uri.clone()),
        ),
        _ => (Value::Null, Value::Null),
    };
    let configured = |name: &str, otherwise: String| match config.get(name).as_str() {
        Some(text) => Value::string(text),
        None => Value::String(otherwise),
    };
    Value::object([
        ("arn", configured("arn", found.arn.to_string())),
        ("url", configured("url", found.arn.issuer_url())),
        (
            "issuer_host_path",
            Value::string(found.arn.issuer_host_path.clone()),
        ),
        ("account_id", Value::string(found.arn.account.clone())),
        ("partition", Value::string(found.arn.partition.as_str())),
        ("client_ids", Value::string_list(found.client_ids.clone())),
        ("thumbprints", Value::string_list(found.thumbprints.clone())),
        ("tags", Value::string_map(found.tags.clone())),
        ("issuer", issuer),
        ("jwks_uri", jwks_uri),
    ])
}
