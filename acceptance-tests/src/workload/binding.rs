//! `gitlabrunner_irsa_binding` instances for fault-matrix tests and benchmarks: names derived
//! from one token, so that every object of an instance (and every request about it) can be told
//! apart from those of the instances running beside it.

use std::collections::BTreeMap;

use crate::hcl::quote;

/// The Terraform type name.
pub const BINDING_TYPE: &str = "gitlabrunner_irsa_binding";

/// The ServiceAccount name every workload binding uses (its namespace is unique).
pub const SERVICE_ACCOUNT: &str = "runner";

/// How big a binding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Grant namespaces (a Role and a RoleBinding each).
    pub grants: usize,
    /// Managed policies attached.
    pub managed_policies: usize,
    /// Inline policies.
    pub inline_policies: usize,
}

impl Shape {
    /// The binding the benchmark creates: 3 grants, 2 managed policies, 1 inline policy.
    pub const BENCHMARK: Shape = Shape {
        grants: 3,
        managed_policies: 2,
        inline_policies: 1,
    };
}

/// One binding, every name derived from `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingSpec {
    /// Distinguishes this instance's names from every other's (lower-case letters and digits).
    pub token: String,
    /// The Terraform resource name.
    pub name: String,
    /// The ServiceAccount's namespace (`TOKEN`).
    pub namespace: String,
    /// The IAM role name (`wl-TOKEN`).
    pub role_name: String,
    /// Grant namespaces (`TOKEN-gN`) and whether the grant adds an explicit rule.
    pub grants: Vec<(String, bool)>,
    /// Managed policy ARNs.
    pub managed_policy_arns: Vec<String>,
    /// Inline policies: name to JSON document.
    pub inline_policies: BTreeMap<String, String>,
    /// Role tags.
    pub tags: BTreeMap<String, String>,
    /// Role description.
    pub description: Option<String>,
    /// ServiceAccount labels.
    pub labels: BTreeMap<String, String>,
    /// The OIDC provider ARN.
    pub oidc_provider_arn: String,
    /// The EKS cluster of a Pod-Identity-only binding (`irsa = false`); `None`: IRSA only.
    pub pod_identity_cluster: Option<String>,
}

/// A small valid inline policy document that names `marker`.
pub fn inline_document(marker: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{marker}/*"}}]}}"#
    )
}

impl BindingSpec {
    /// A binding of `shape` named after `token`, attaching the first
    /// `shape.managed_policies` of `policy_arns`.
    pub fn new(token: &str, shape: Shape, oidc_provider_arn: &str, policy_arns: &[String]) -> Self {
        assert!(
            policy_arns.len() >= shape.managed_policies,
            "{} managed policies wanted, {} given",
            shape.managed_policies,
            policy_arns.len()
        );
        Self {
            token: token.to_string(),
            name: format!("b_{token}"),
            namespace: token.to_string(),
            role_name: format!("wl-{token}"),
            grants: (1..=shape.grants)
                .map(|i| (format!("{token}-g{i}"), false))
                .collect(),
            managed_policy_arns: policy_arns[..shape.managed_policies].to_vec(),
            inline_policies: (1..=shape.inline_policies)
                .map(|i| {
                    (
                        format!("inline-{i}"),
                        inline_document(&format!("bucket-{i}")),
                    )
                })
                .collect(),
            tags: BTreeMap::new(),
            description: None,
            labels: BTreeMap::new(),
            oidc_provider_arn: oidc_provider_arn.to_string(),
            pod_identity_cluster: None,
        }
    }

    /// The resource address.
    pub fn address(&self) -> String {
        format!("{BINDING_TYPE}.{}", self.name)
    }

    /// The Role and RoleBinding name in every grant namespace.
    pub fn rbac_name(&self) -> String {
        format!("{}.{SERVICE_ACCOUNT}", self.namespace)
    }

    /// Every namespace this binding uses.
    pub fn namespaces(&self) -> Vec<String> {
        let mut all = vec![self.namespace.clone()];
        all.extend(self.grants.iter().map(|(ns, _)| ns.clone()));
        all
    }

    /// The resource block.
    pub fn hcl(&self) -> String {
        let mut text = format!(
            "resource \"{BINDING_TYPE}\" \"{}\" {{\n  namespace            = {}\n  service_account_name = {}\n  role_name            = {}\n",
            self.name,
            quote(&self.namespace),
            quote(SERVICE_ACCOUNT),
            quote(&self.role_name),
        );
        match &self.pod_identity_cluster {
            None => text.push_str(&format!(
                "  oidc_provider_arn    = {}\n",
                quote(&self.oidc_provider_arn)
            )),
            Some(cluster) => text.push_str(&format!(
                "  irsa                 = false\n  pod_identity {{\n    cluster_name = {}\n  }}\n",
                quote(cluster)
            )),
        }
        if let Some(description) = &self.description {
            text.push_str(&format!("  role_description = {}\n", quote(description)));
        }
        if !self.managed_policy_arns.is_empty() {
            let arns: Vec<String> = self.managed_policy_arns.iter().map(|a| quote(a)).collect();
            text.push_str(&format!("  managed_policy_arns = [{}]\n", arns.join(", ")));
        }
        for (attribute, map) in [
            ("inline_policies", &self.inline_policies),
            ("tags", &self.tags),
            ("labels", &self.labels),
        ] {
            if map.is_empty() {
                continue;
            }
            text.push_str(&format!("  {attribute} = {{\n"));
            for (key, value) in map {
                text.push_str(&format!("    {} = {}\n", quote(key), quote(value)));
            }
            text.push_str("  }\n");
        }
        for (namespace, extra_rule) in &self.grants {
            text.push_str(&format!(
                "  grant {{\n    namespace = {}\n    preset    = \"kubernetes-executor\"\n",
                quote(namespace)
            ));
            if *extra_rule {
                text.push_str(
                    "    rule {\n      api_groups = [\"\"]\n      resources  = [\"configmaps\"]\n      verbs      = [\"get\", \"list\"]\n    }\n",
                );
            }
            text.push_str("  }\n");
        }
        text.push_str("}\n");
        text
    }
}

/// A configuration of many bindings behind one provider block (`provider_body`, e.g.
/// `aws { max_retries = 0 }`).
pub fn bindings_config(provider_body: &str, bindings: &[BindingSpec]) -> String {
    let mut text = crate::hcl::with_provider(provider_body);
    for binding in bindings {
        text.push('\n');
        text.push_str(&binding.hcl());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_carries_the_token() {
        let arns = vec!["arn:aws:iam::1:policy/a".to_string(); 2];
        let spec = BindingSpec::new("t0ken", Shape::BENCHMARK, "arn:oidc", &arns);
        assert_eq!(
            spec.namespaces(),
            ["t0ken", "t0ken-g1", "t0ken-g2", "t0ken-g3"]
        );
        assert_eq!(spec.rbac_name(), "t0ken.runner");
        let hcl = spec.hcl();
        assert!(
            hcl.contains("resource \"gitlabrunner_irsa_binding\" \"b_t0ken\""),
            "{hcl}"
        );
        assert_eq!(hcl.matches("grant {").count(), 3, "{hcl}");
        assert!(hcl.contains("\"inline-1\" = "), "{hcl}");
    }
}
