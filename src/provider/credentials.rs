//! Credentials failures in words a Terraform user can act on. The SDK's own message for "no
//! credentials anywhere" is "the credential provider was not enabled"; this wrapper says where
//! the provider looked and what to set, and names the role when `assume_role` failed.

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use crate::error_chain::error_chain;

/// What went wrong getting AWS credentials. The text is what the user sees after
/// "failed to resolve identity"/"dispatch failure" in the SDK error chain.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsProblem {
    /// Nothing in the standard chain had credentials.
    #[error(
        "no AWS credentials found{profile}{cause}. The provider looks, in order, at \
         AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile's credentials in the shared config \
         and credentials files (including SSO: run `aws sso login`), web identity \
         (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), and container or EC2 instance \
         credentials"
    )]
    NoCredentials {
        /// ` (profile "x")` or empty.
        profile: String,
        /// `; the last source tried failed: ...` or empty.
        cause: String,
    },
    /// `assume_role` failed (or its base credentials did).
    #[error("could not assume role {role_arn} (aws.assume_role): {cause}")]
    AssumeRole {
        /// The role.
        role_arn: String,
        /// The SDK's error chain.
        cause: String,
    },
}

/// A credentials provider that explains its inner provider's failures.
#[derive(Debug)]
pub struct ExplainedCredentials {
    inner: SharedCredentialsProvider,
    profile: Option<String>,
    role_arn: Option<String>,
}

impl ExplainedCredentials {
    /// Wraps `inner`, which uses `profile` and, when set, assumes `role_arn`.
    pub fn new(
        inner: SharedCredentialsProvider,
        profile: Option<String>,
        role_arn: Option<String>,
    ) -> Self {
        Self {
            inner,
            profile,
            role_arn,
        }
    }

    fn explain(&self, error: CredentialsError) -> CredentialsError {
        if let Some(role_arn) = &self.role_arn {
            let problem = CredentialsProblem::AssumeRole {
                role_arn: role_arn.clone(),
                cause: error_chain(&error),
            };
            return CredentialsError::provider_error(problem);
        }
        let profile = self
            .profile
            .as_ref()
            .map(|p| format!(" (profile {p:?})"))
            .unwrap_or_default();
        match error {
            CredentialsError::CredentialsNotLoaded(_) => {
                CredentialsError::not_loaded(CredentialsProblem::NoCredentials {
                    profile,
                    cause: String::new(),
                })
            }
            // The chain stops at the first source that fails rather than having nothing
            // (e.g. instance metadata refusing the request): say which, in context.
            CredentialsError::ProviderError(_) | CredentialsError::ProviderTimedOut(_) => {
                let cause = format!(
                    "; the last source tried failed: {}",
                    error_chain(&error).trim_end_matches('.')
                );
                CredentialsError::provider_error(CredentialsProblem::NoCredentials {
                    profile,
                    cause,
                })
            }
            other => other,
        }
    }
}

impl ProvideCredentials for ExplainedCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner
                .provide_credentials()
                .await
                .map_err(|error| self.explain(error))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;

    #[derive(Debug)]
    struct Failing(fn() -> CredentialsError);

    impl ProvideCredentials for Failing {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err((self.0)()))
        }
    }

    fn explained(error: fn() -> CredentialsError, role: Option<&str>) -> String {
        let provider = ExplainedCredentials::new(
            SharedCredentialsProvider::new(Failing(error)),
            Some("ci".into()),
            role.map(str::to_string),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let error = runtime
            .block_on(provider.provide_credentials())
            .unwrap_err();
        error_chain(&error)
    }

    #[test]
    fn missing_credentials_say_where_the_provider_looked() {
        let text = explained(CredentialsError::not_loaded_no_source, None);
        assert!(
            text.contains("no AWS credentials found (profile \"ci\")"),
            "{text}"
        );
        assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
    }

    #[test]
    fn a_failing_last_source_is_named_in_context() {
        let text = explained(
            || CredentialsError::provider_error("IMDS is disabled"),
            None,
        );
        assert!(
            text.contains(
                "no AWS credentials found (profile \"ci\"); the last source tried failed"
            ),
            "{text}"
        );
        assert!(text.contains("IMDS is disabled"), "{text}");
    }

    #[test]
    fn assume_role_failures_name_the_role() {
        let text = explained(
            || CredentialsError::provider_error("AccessDenied: not authorized"),
            Some("arn:aws:iam::123456789012:role/deployer"),
        );
        assert!(
            text.contains("could not assume role arn:aws:iam::123456789012:role/deployer"),
            "{text}"
        );
        assert!(text.contains("AccessDenied: not authorized"), "{text}");
    }
}
