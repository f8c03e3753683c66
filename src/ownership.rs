//! How this provider marks what it creates, so that ownership can be checked: before adopting
//! or deleting an object, and when an interrupted apply left objects behind that the next apply
//! must recognise as its own.

/// The standard Kubernetes label naming the tool that manages an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The value of [`MANAGED_BY_LABEL`] on Kubernetes objects this provider creates, and of
/// [`MANAGED_BY_TAG`] on IAM roles.
pub const MANAGED_BY: &str = "terraform-provider-gitlabrunner";

/// The IAM tag key naming the tool that manages a role.
pub const MANAGED_BY_TAG: &str = "managed-by";

/// The IAM tag and Kubernetes annotation key whose value names the owning resource instance:
/// `NAMESPACE/SERVICE_ACCOUNT` for `gitlabrunner_irsa_binding`.
pub const OWNER_KEY: &str = "terraform-provider-gitlabrunner/owner";

/// Every statement id in the inline policy `gitlabrunner_cache` puts on the runner manager's
/// role starts with this. The role belongs to a `gitlabrunner_irsa_binding`; marking the cache's
/// statements lets the binding tell, on import, which inline policy is not its own.
pub const CACHE_STATEMENT_ID_PREFIX: &str = "GitLabRunnerCache";

/// Whether `document` (as IAM returns it: plain or URL-encoded) is a policy written by
/// `gitlabrunner_cache`: one of its statements carries a [`CACHE_STATEMENT_ID_PREFIX`] id.
pub fn is_cache_policy(document: &str) -> bool {
    let Ok(policy) = crate::aws::policy::parse_policy(document) else {
        return false;
    };
    let statements = match policy.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    statements.iter().any(|statement| {
        statement
            .get("Sid")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|sid| sid.starts_with(CACHE_STATEMENT_ID_PREFIX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_policies_are_recognised_by_their_statement_ids() {
        let cache = r#"{"Version":"2012-10-17","Statement":[{"Sid":"GitLabRunnerCacheObjects","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/p/*"}]}"#;
        let other = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Logs","Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#;
        let encoded = "%7B%22Statement%22%3A%7B%22Sid%22%3A%22GitLabRunnerCacheList%22%7D%7D";
        assert!(is_cache_policy(cache));
        assert!(is_cache_policy(encoded));
        assert!(!is_cache_policy(other));
        assert!(!is_cache_policy("not json"));
    }
}
