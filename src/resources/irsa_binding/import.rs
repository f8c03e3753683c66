//! Import by `NAMESPACE/NAME`: the ServiceAccount names its role (the role-arn annotation),
//! the role's trust policy names the OIDC provider and audience, and the RoleBindings that
//! carry the binding's marks name the grant namespaces. The result is the state a matching
//! configuration plans no change against, except `verify`: import cannot see the configuration
//! and a check leaves nothing to read back, so a configuration with `verify` plans one update
//! that runs it (docs/resources/irsa_binding.md, "Import").
//!
//! EKS Pod Identity: the import id has no cluster name, so import reads it from the role's
//! trust policy, whose Pod Identity statement names the cluster in its
//! `aws:RequestTag/eks-cluster-name` condition (the binding writes it there). It then finds the
//! association with `ListPodIdentityAssociations(cluster, namespace, ServiceAccount)` and takes
//! the one that gives the role. A trust without the OIDC statement is a Pod-Identity-only
//! binding (`irsa = false`). Without the role-arn annotation (Pod Identity only) the role is
//! looked for under its default name; for one with another `role_name`, the id
//! `CLUSTER/NAMESPACE/NAME` names the cluster, and the role is the one the ServiceAccount's
//! association there gives (EKS allows one association per ServiceAccount and cluster:
//! `ResourceInUseException`, EKS API reference, CreatePodIdentityAssociation).

use crate::aws::Arn;
use crate::codec::{Diagnostic, Diagnostics};
use crate::kubernetes::KubeErrorKind;
use crate::ownership;

use super::association;
use super::diagnostics;
use super::irsa;
use super::model::{Binding, Grant, RbacRule, RuleBlock};
use super::naming;
use super::objects;
use super::plan::ProviderDefaults;
use super::presets;
use super::read::observe;
use super::remote::Remote;
use super::schema::{DEFAULT_AUDIENCE, DEFAULT_MAX_SESSION_DURATION, DEFAULT_ROLE_PATH};
use super::state::{Scope, reconcile};
use super::trust;
use super::trust_drift::trust_drift;
use super::validate::{dns1123_label, dns1123_subdomain, eks_cluster_name};

/// Imports the binding `id`.
pub async fn import(
    remote: &Remote<'_>,
    defaults: &ProviderDefaults,
    id: &str,
) -> Result<(Binding, Diagnostics), Diagnostics> {
    let ImportId {
        cluster: id_cluster,
        namespace,
        name,
    } = parse_id(id)?;
    let binding_id = format!("{namespace}/{name}");
    let fail = |error| Diagnostics::from(diagnostics::read_failed(&binding_id, &error));
    let account = remote
        .kube
        .get_service_account(namespace, name)
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import a binding without its ServiceAccount",
                format!(
                    "ServiceAccount {binding_id} does not exist, so there is no binding to import."
                ),
            ))
        })?;
    let annotations = account.metadata.annotations.clone().unwrap_or_default();
    let annotated = annotations
        .get(irsa::ROLE_ARN_ANNOTATION)
        .and_then(|arn| role_path_and_name(arn));
    let (role_path, role_name) = match (annotated, id_cluster) {
        (Some(annotated), _) => annotated,
        (None, Some(cluster)) => role_of_association(remote, cluster, namespace, name)
            .await
            .map_err(fail)?
            .ok_or_else(|| no_association(cluster, &binding_id))?,
        (None, None) => (
            DEFAULT_ROLE_PATH.to_string(),
            naming::default_role_name(namespace, name),
        ),
    };
    let role = remote
        .iam
        .get_role(&role_name)
        .await
        .map_err(|e| fail(e.into()))?;
    let admitted = role.as_ref().and_then(|r| trust::admits(&r.trust_policy));
    let cluster = id_cluster.map(str::to_string).or_else(|| {
        role.as_ref()
            .and_then(|r| trust::pod_identity_cluster(&r.trust_policy))
    });
    // Pod Identity only: a Pod Identity statement and no OIDC one.
    let irsa = admitted.is_some() || cluster.is_none();
    let oidc_provider_arn = admitted
        .as_ref()
        .map(|a| a.oidc_provider_arn.clone())
        .or_else(|| defaults.oidc_provider_arn.clone())
        .or_else(|| (!irsa).then(String::new))
        .ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Cannot tell which OIDC provider the binding uses",
                format!(
                    "Neither a trust policy of IAM role {role_name} nor the provider's \
                     oidc_provider_arn names it."
                ),
            ))
        })?;
    let mut notes = Diagnostics::new();
    if role.is_none()
        && id_cluster.is_none()
        && !annotations.contains_key(irsa::ROLE_ARN_ANNOTATION)
    {
        notes.push(role_not_found(&role_name, &binding_id));
    }
    let bindings = match remote
        .kube
        .list_role_bindings(ownership::MANAGED_BY_LABEL, ownership::MANAGED_BY)
        .await
    {
        Ok(bindings) => bindings,
        // Without the right to list RoleBindings cluster-wide the grants cannot be found; an
        // apply takes the binding's own Roles and RoleBindings over when it meets them.
        Err(error) if error.kind == KubeErrorKind::Forbidden => {
            notes.push(Diagnostic::warning(
                "Grants were not imported",
                format!(
                    "Listing RoleBindings in all namespaces was refused ({error}), so the \
                     grants of {id} could not be found. Add the grant blocks to the \
                     configuration: the next apply recognises the binding's own Roles and \
                     RoleBindings by their marks and takes them over."
                ),
            ));
            Vec::new()
        }
        Err(error) => return Err(fail(error.into())),
    };
    let mut grant_namespaces: Vec<String> = bindings
        .iter()
        .filter(|b| {
            objects::owned_by(
                &b.metadata.annotations.clone().unwrap_or_default(),
                &binding_id,
            )
        })
        .filter_map(|b| b.metadata.namespace.clone())
        .collect();
    grant_namespaces.sort();
    grant_namespaces.dedup();

    let basis = Binding {
        namespace: namespace.to_string(),
        service_account_name: name.to_string(),
        oidc_provider_arn,
        role_name,
        role_path,
        role_description: None,
        max_session_duration: DEFAULT_MAX_SESSION_DURATION,
        permissions_boundary_arn: None,
        tags: None,
        tags_all: Default::default(),
        managed_policy_arns: None,
        inline_policies: None,
        audience: admitted
            .as_ref()
            .and_then(|a| a.audience.clone())
            .unwrap_or_else(|| DEFAULT_AUDIENCE.to_string()),
        labels: None,
        annotations: None,
        automount_service_account_token: None,
        sts_regional_endpoints: None,
        token_expiration: None,
        adopt_existing_service_account: false,
        allow_wildcards: false,
        allow_privilege_escalation: false,
        force_detach_policies: false,
        take_over_conflicting_fields: false,
        taken_over_fields: Vec::new(),
        irsa,
        pod_identity: None,
        grants: grant_namespaces
            .into_iter()
            .map(|namespace| Grant {
                namespace,
                ..Grant::default()
            })
            .collect(),
        verify: None,
        role_arn: role.as_ref().map(|r| r.arn.clone()).unwrap_or_default(),
        role_unique_id: None,
        trust_policy: None,
        service_account_uid: None,
        service_account_adopted: None,
        irsa_annotations: Default::default(),
        runner_config_toml: String::new(),
        verified_identity_arn: None,
    };
    let mut basis = basis;
    if !irsa {
        basis.oidc_provider_arn = String::new();
    }
    if let (Some(cluster), Some(role)) = (&cluster, &role) {
        let id = association::find(remote, &basis, cluster, &role.arn)
            .await
            .map_err(fail)?;
        basis.pod_identity = Some(super::model::PodIdentity {
            cluster_name: cluster.clone(),
            association_id: id,
            association_arn: None,
        });
    }
    let (observed, mut warnings) = observe(remote, &basis, Scope::Everything)
        .await
        .map_err(fail)?;
    warnings.extend(notes);
    let mut state = reconcile(&basis, &observed, &remote.default_tags, Scope::Everything)
        .expect("the ServiceAccount exists");
    if let Some(role) = &observed.role {
        let after = "A configuration matching the imported binding restores the binding's \
                     policy on its first apply.";
        warnings.extend(
            trust_drift(&state, &role.trust_policy, after)
                .into_iter()
                .collect(),
        );
    }
    for grant in &mut state.grants {
        let rules = grant.role_rules.clone().unwrap_or_default();
        let (preset, explicit) = infer_preset(&rules);
        grant.preset = preset;
        grant.rules = explicit;
        grant.allow_wildcards_needed(&mut state.allow_wildcards);
        grant.allow_privilege_escalation_needed(&mut state.allow_privilege_escalation);
    }
    let grant_namespaces: Vec<&str> = state.grants.iter().map(|g| g.namespace.as_str()).collect();
    state.runner_config_toml = irsa::runner_config_toml(namespace, name, &grant_namespaces);
    Ok((state, warnings))
}

/// What an import id names.
#[derive(Debug, PartialEq, Eq)]
struct ImportId<'a> {
    /// The EKS cluster whose Pod Identity association names the role (`CLUSTER/NAMESPACE/NAME`).
    cluster: Option<&'a str>,
    namespace: &'a str,
    name: &'a str,
}

/// `NAMESPACE/NAME` or `CLUSTER/NAMESPACE/NAME`, each part a valid name of its kind. None of
/// them can hold a `/`, so the parts are unambiguous.
fn parse_id(id: &str) -> Result<ImportId<'_>, Diagnostics> {
    let invalid = |why: String| {
        Diagnostics::from(Diagnostic::error(
            "Invalid import id",
            format!(
                "{id:?} is not an import id for gitlabrunner_irsa_binding: {why}. Use \
                 NAMESPACE/SERVICE_ACCOUNT_NAME, e.g. gitlab-runner/gitlab-runner, or \
                 CLUSTER/NAMESPACE/SERVICE_ACCOUNT_NAME for a Pod-Identity-only binding whose \
                 role_name is not the default."
            ),
        ))
    };
    let parts: Vec<&str> = id.split('/').collect();
    let (cluster, namespace, name) = match parts.as_slice() {
        [namespace, name] => (None, *namespace, *name),
        [cluster, namespace, name] => (Some(*cluster), *namespace, *name),
        [_] => return Err(invalid("it has no '/'".to_string())),
        _ => return Err(invalid("it has more than two '/'".to_string())),
    };
    if let Some(cluster) = cluster {
        eks_cluster_name(cluster)
            .map_err(|why| invalid(format!("the cluster name is invalid: {why}")))?;
    }
    dns1123_label(namespace).map_err(|why| invalid(format!("the namespace is invalid: {why}")))?;
    dns1123_subdomain(name)
        .map_err(|why| invalid(format!("the ServiceAccount name is invalid: {why}")))?;
    Ok(ImportId {
        cluster,
        namespace,
        name,
    })
}

/// The path and name of the role the ServiceAccount's Pod Identity association in `cluster`
/// gives; `None` when it has none.
async fn role_of_association(
    remote: &Remote<'_>,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<(String, String)>, super::error::BindingError> {
    for id in remote
        .eks
        .list_associations(cluster, namespace, name)
        .await?
    {
        if let Some(found) = remote.eks.describe_association(cluster, &id).await? {
            return Ok(role_path_and_name(&found.role_arn));
        }
    }
    Ok(None)
}

/// The warning for an import that found no role where none names one: a Pod-Identity-only
/// binding with another `role_name` is imported through its cluster.
fn role_not_found(role_name: &str, binding_id: &str) -> Diagnostic {
    Diagnostic::warning(
        "The binding's IAM role was not found",
        format!(
            "ServiceAccount {binding_id} has no eks.amazonaws.com/role-arn annotation and IAM role \
             {role_name} (the default name) does not exist, so the imported binding has no role \
             and the next apply creates it. If the binding uses EKS Pod Identity only with \
             another role_name, remove it from state and import it with \
             CLUSTER/{binding_id}: its association names the role."
        ),
    )
}

fn no_association(cluster: &str, binding_id: &str) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        "No Pod Identity association to import",
        format!(
            "Cluster {cluster} has no EKS Pod Identity association for ServiceAccount \
             {binding_id} (ListPodIdentityAssociations found none), so the import id \
             {cluster}/{binding_id} names no role. Import with {binding_id} when the role has its \
             default name or the ServiceAccount names it in its eks.amazonaws.com/role-arn \
             annotation."
        ),
    ))
}

/// The path and name of a role ARN (`arn:P:iam::A:role/PATH/NAME`).
fn role_path_and_name(arn: &str) -> Option<(String, String)> {
    let arn = Arn::parse(arn).ok()?;
    let rest = arn.resource.strip_prefix("role")?;
    let (path, name) = rest.rsplit_once('/')?;
    Some((format!("{path}/"), name.to_string()))
}

/// The preset and explicit rules that produce `rules`: the `kubernetes-executor` preset when
/// they start with its rules, else explicit rules only.
fn infer_preset(rules: &[RbacRule]) -> (Option<String>, Vec<RuleBlock>) {
    let preset = presets::rules(presets::KUBERNETES_EXECUTOR).unwrap_or_default();
    match rules.strip_prefix(preset.as_slice()) {
        Some(rest) => (
            Some(presets::KUBERNETES_EXECUTOR.to_string()),
            rest.iter().map(RuleBlock::from_rule).collect(),
        ),
        None => (None, rules.iter().map(RuleBlock::from_rule).collect()),
    }
}

impl Grant {
    /// Sets `allow` when an imported grant's explicit rules use a wildcard.
    fn allow_wildcards_needed(&self, allow: &mut bool) {
        let wildcard = |items: &[String]| items.iter().any(|i| i.contains('*'));
        if self
            .rules
            .iter()
            .any(|r| wildcard(&r.api_groups) || wildcard(&r.resources) || wildcard(&r.verbs))
        {
            *allow = true;
        }
    }
}

impl Grant {
    /// Sets `allow` when an imported grant's explicit rules are privilege-escalation paths.
    fn allow_privilege_escalation_needed(&self, allow: &mut bool) {
        if self.rules.iter().any(|r| {
            !super::escalation::escalation_paths(&r.api_groups, &r.resources, &r.verbs).is_empty()
        }) {
            *allow = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_are_namespace_slash_name_with_an_optional_cluster_first() {
        assert_eq!(
            parse_id("ci/runner").unwrap(),
            ImportId {
                cluster: None,
                namespace: "ci",
                name: "runner"
            }
        );
        assert_eq!(
            parse_id("prod-eu_1/ci/runner").unwrap(),
            ImportId {
                cluster: Some("prod-eu_1"),
                namespace: "ci",
                name: "runner"
            }
        );
        for bad in [
            "runner",
            "CI/runner",
            "ci/",
            "/runner",
            "-prod/ci/runner",
            "/ci/runner",
            "prod/ci/run/ner",
        ] {
            let diags = parse_id(bad).unwrap_err();
            assert_eq!(diags.0[0].summary, "Invalid import id", "{bad}");
        }
    }

    #[test]
    fn role_arns_split_into_path_and_name() {
        assert_eq!(
            role_path_and_name("arn:aws:iam::123456789012:role/ci/runners/manager"),
            Some(("/ci/runners/".to_string(), "manager".to_string()))
        );
        assert_eq!(
            role_path_and_name("arn:aws-us-gov:iam::123456789012:role/manager"),
            Some(("/".to_string(), "manager".to_string()))
        );
        assert_eq!(role_path_and_name("arn:aws:iam::123456789012:user/x"), None);
    }

    #[test]
    fn preset_is_recognised_with_extra_rules_after_it() {
        let mut rules = presets::rules(presets::KUBERNETES_EXECUTOR).unwrap();
        rules.push(RbacRule::core("configmaps", &["get"]));
        let (preset, explicit) = infer_preset(&rules);
        assert_eq!(preset.as_deref(), Some(presets::KUBERNETES_EXECUTOR));
        assert_eq!(explicit.len(), 1);
        let (preset, explicit) = infer_preset(&rules[1..]);
        assert_eq!(preset, None);
        assert_eq!(explicit.len(), 8);
    }
}
