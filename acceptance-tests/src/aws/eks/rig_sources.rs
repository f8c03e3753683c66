//! The rig's EKS reads the same world as the rig's STS ([`RigSources`] as
//! [`crate::aws::web_identity::RoleAndIssuerSources`]): roles from the emulator's IAM, keys from
//! the run's Kubernetes API; and gets credentials from the emulator's STS `AssumeRole`
//! (<https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>).

use futures::future::BoxFuture;

use super::{AssumeRoleCall, EksSources, StsCredentials};
use crate::aws::web_identity::RigSources;

impl EksSources for RigSources {
    fn assume_role<'a>(
        &'a self,
        call: &'a AssumeRoleCall,
    ) -> BoxFuture<'a, Result<StsCredentials, (String, String)>> {
        Box::pin(async move {
            use aws_sdk_sts::error::ProvideErrorMetadata as _;
            let sts = self.clients_for(&call.role_arn).await.sts;
            let mut request = sts
                .assume_role()
                .role_arn(&call.role_arn)
                .role_session_name(&call.session_name);
            for (key, value) in &call.tags {
                let tag = aws_sdk_sts::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| ("InvalidParameterValue".to_string(), e.to_string()))?;
                request = request.tags(tag);
            }
            let output = request.send().await.map_err(|error| {
                (
                    error.code().unwrap_or("Unknown").to_string(),
                    error
                        .message()
                        .map_or_else(|| crate::error_chain(&error), str::to_string),
                )
            })?;
            let missing = |what: &str| {
                (
                    "Unknown".to_string(),
                    format!("AssumeRole answered no {what}"),
                )
            };
            let user = output
                .assumed_role_user()
                .ok_or_else(|| missing("AssumedRoleUser"))?;
            let credentials = output.credentials().ok_or_else(|| missing("Credentials"))?;
            Ok(StsCredentials {
                assumed_role_arn: user.arn().to_string(),
                assumed_role_id: user.assumed_role_id().to_string(),
                access_key_id: credentials.access_key_id().to_string(),
                secret_access_key: credentials.secret_access_key().to_string(),
                session_token: credentials.session_token().to_string(),
                expiration: credentials.expiration().secs(),
            })
        })
    }
}
