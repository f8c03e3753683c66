//! `gitlabrunner_oidc_provider`: the cluster's IAM OIDC provider, by ARN or by issuer URL.

mod lookup;
mod schema;
#[cfg(test)]
mod tests;

use async_trait::async_trait;

use crate::aws::{ArnError, OidcProviderArn, issuer_in_place_of_arn};
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Schema, Value};
use crate::framework::{Context, DataSource, ReadOutcome};
use crate::provider::url::HttpUrl;

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
            let Ok(Some(lookup)) = lookup_from(config) else {
                return Err(Diagnostic::error(
                    "Invalid gitlabrunner_oidc_provider arguments",
                    "Set exactly one of arn and url, with known values.",
                ));
            };
            let iam = ctx.provider.iam().await?;
            let found = lookup::find(&iam, &lookup)
                .await
                .map_err(|error| lookup_diagnostic(&lookup, &error))?;
            Ok(state(config, &found))
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
             data.gitlabrunner_oidc_provider.this.arn."
        ));
    }
    Diagnostic::error("Invalid OIDC provider ARN", detail)
}

/// What the configuration asks to look up: `Ok(None)` while a value is unknown, the argument
/// errors otherwise.
fn lookup_from(config: &Value) -> Result<Option<Lookup>, Diagnostics> {
    let (arn, url) = (config.get("arn"), config.get("url"));
    let mut diags = Diagnostics::new();
    if arn.is_null() && url.is_null() {
        diags.error(
            "Missing OIDC provider argument",
            "Set arn (the OIDC provider's ARN) or url (the cluster's issuer URL, e.g. \
             aws_eks_cluster.this.identity[0].oidc[0].issuer).",
        );
        return Err(diags);
    }
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

fn lookup_diagnostic(lookup: &Lookup, error: &LookupError) -> Diagnostic {
    let (attribute, summary) = match lookup {
        Lookup::Arn(_) => ("arn", "OIDC provider not found"),
        Lookup::Issuer(_) => ("url", "OIDC provider not found"),
    };
    match error {
        LookupError::NoSuchArn(_) | LookupError::NoSuchIssuer { .. } => Diagnostic::error(
            summary,
            format!(
                "{error}. Create the cluster's IAM OIDC provider first (eksctl utils \
                 associate-iam-oidc-provider, or the aws_iam_openid_connect_provider \
                 resource), or check that the provider uses the right AWS account and \
                 partition."
            ),
        )
        .at(AttributePath::new(attribute)),
        LookupError::UnexpectedArn(_) | LookupError::Aws(_) => Diagnostic::error(
            "Could not look up the IAM OIDC provider",
            format!("{}.", error.to_string().trim_end_matches('.')),
        ),
    }
}

/// The data source's state for `found`, keeping configured values as written.
fn state(config: &Value, found: &OidcProvider) -> Value {
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
    ])
}
