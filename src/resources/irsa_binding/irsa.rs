//! What the binding writes on the ServiceAccount for IRSA, and what the runner's
//! `config.toml` needs to use the binding.

use std::collections::BTreeMap;

use crate::ownership;

use super::schema::DEFAULT_AUDIENCE;

/// The annotation the EKS Pod Identity Webhook reads the role ARN from.
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The annotation that overrides the token audience.
pub const AUDIENCE_ANNOTATION: &str = "eks.amazonaws.com/audience";
/// The annotation that selects the regional STS endpoint.
pub const STS_REGIONAL_ANNOTATION: &str = "eks.amazonaws.com/sts-regional-endpoints";
/// The annotation that sets the projected token's lifetime.
pub const TOKEN_EXPIRATION_ANNOTATION: &str = "eks.amazonaws.com/token-expiration";

/// The annotations the binding maintains itself (users may not set them in `annotations`).
pub const IRSA_ANNOTATIONS: [&str; 4] = [
    ROLE_ARN_ANNOTATION,
    AUDIENCE_ANNOTATION,
    STS_REGIONAL_ANNOTATION,
    TOKEN_EXPIRATION_ANNOTATION,
];

/// Annotation keys reserved for the binding.
pub const RESERVED_ANNOTATIONS: [&str; 5] = [
    ROLE_ARN_ANNOTATION,
    AUDIENCE_ANNOTATION,
    STS_REGIONAL_ANNOTATION,
    TOKEN_EXPIRATION_ANNOTATION,
    ownership::OWNER_KEY,
];

/// The IRSA annotations for a role ARN and the optional settings.
pub fn annotations(
    role_arn: &str,
    audience: &str,
    sts_regional_endpoints: Option<bool>,
    token_expiration: Option<i64>,
) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([(ROLE_ARN_ANNOTATION.to_string(), role_arn.to_string())]);
    if audience != DEFAULT_AUDIENCE {
        annotations.insert(AUDIENCE_ANNOTATION.to_string(), audience.to_string());
    }
    if let Some(regional) = sts_regional_endpoints {
        annotations.insert(STS_REGIONAL_ANNOTATION.to_string(), regional.to_string());
    }
    if let Some(seconds) = token_expiration {
        annotations.insert(TOKEN_EXPIRATION_ANNOTATION.to_string(), seconds.to_string());
    }
    annotations
}

/// The `[runners.kubernetes]` table a runner using this binding needs.
///
/// A binding with grants is a runner manager's: its jobs run in the first granted namespace,
/// and may be moved (`KUBERNETES_NAMESPACE_OVERWRITE`) only into the other granted ones. A
/// binding without grants is for job pods: they run in its namespace as its ServiceAccount.
pub fn runner_config_toml(
    namespace: &str,
    service_account: &str,
    grant_namespaces: &[&str],
) -> String {
    let mut kubernetes = toml::Table::new();
    match grant_namespaces {
        [] => {
            kubernetes.insert("namespace".into(), namespace.into());
            kubernetes.insert("service_account".into(), service_account.into());
        }
        [first, rest @ ..] => {
            kubernetes.insert("namespace".into(), (*first).into());
            if !rest.is_empty() {
                let alternatives: Vec<&str> = grant_namespaces.to_vec();
                kubernetes.insert(
                    "namespace_overwrite_allowed".into(),
                    format!("^({})$", alternatives.join("|")).into(),
                );
            }
        }
    }
    let mut runners = toml::Table::new();
    runners.insert("kubernetes".into(), kubernetes.into());
    let mut root = toml::Table::new();
    root.insert("runners".into(), runners.into());
    toml::to_string(&root).expect("a table of strings always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_audience_needs_no_annotation() {
        let a = annotations("arn:aws:iam::1:role/r", DEFAULT_AUDIENCE, None, None);
        assert_eq!(
            a,
            BTreeMap::from([(
                ROLE_ARN_ANNOTATION.to_string(),
                "arn:aws:iam::1:role/r".to_string()
            )])
        );
    }

    #[test]
    fn optional_settings_become_annotations() {
        let a = annotations("arn", "my-aud", Some(true), Some(7200));
        assert_eq!(a[AUDIENCE_ANNOTATION], "my-aud");
        assert_eq!(a[STS_REGIONAL_ANNOTATION], "true");
        assert_eq!(a[TOKEN_EXPIRATION_ANNOTATION], "7200");
    }

    #[test]
    fn job_pod_binding_names_its_service_account() {
        let text = runner_config_toml("ci-jobs", "job-sa", &[]);
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let kubernetes = parsed["runners"]["kubernetes"].as_table().unwrap();
        assert_eq!(kubernetes["namespace"].as_str(), Some("ci-jobs"));
        assert_eq!(kubernetes["service_account"].as_str(), Some("job-sa"));
        assert!(text.starts_with("[runners.kubernetes]"), "{text}");
    }

    #[test]
    fn manager_binding_points_jobs_at_the_granted_namespaces() {
        let text = runner_config_toml("ci-runner", "runner", &["ci-jobs", "ci-jobs-2"]);
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let kubernetes = parsed["runners"]["kubernetes"].as_table().unwrap();
        assert_eq!(kubernetes["namespace"].as_str(), Some("ci-jobs"));
        assert_eq!(
            kubernetes["namespace_overwrite_allowed"].as_str(),
            Some("^(ci-jobs|ci-jobs-2)$")
        );
        assert!(!kubernetes.contains_key("service_account"));
        let single = runner_config_toml("ci-runner", "runner", &["ci-jobs"]);
        assert!(!single.contains("namespace_overwrite_allowed"));
    }
}
