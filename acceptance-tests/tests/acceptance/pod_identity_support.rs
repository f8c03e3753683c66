//! What the EKS Pod Identity acceptance tests share: the three modes of a binding as HCL, the
//! trust statements each mode must write, the rig's EKS associations of a ServiceAccount, and a
//! check that IAM, Kubernetes, EKS and the state all show exactly one mode.
//!
//! The Pod Identity statement follows the EKS user guide, "Create IAM role with trust policy
//! required by EKS Pod Identity" and "Define permissions for EKS Pod Identities to assume roles
//! based on tags" (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html,
//! https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html).

use std::collections::BTreeSet;

use gitlabrunner_acceptance::{Diagnostic, Plan, Workspace};
use gitlabrunner_acceptance::{hcl, unique_name};
use serde_json::{Value, json};

use crate::binding_support::{ADDRESS, Fixture, ROLE_ARN_ANNOTATION, config};

/// The cluster the rig's EKS serves, bound to the run's Kubernetes API.
pub const CLUSTER: &str = gitlabrunner_acceptance::aws::eks::CLUSTER_NAME;

/// The service principal of EKS Pod Identity.
pub const POD_IDENTITY_PRINCIPAL: &str = "pods.eks.amazonaws.com";

/// Which mechanisms a binding serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No `pod_identity` block: the behaviour before Pod Identity.
    Irsa,
    /// `irsa = true` and a `pod_identity` block.
    Both,
    /// `irsa = false` and a `pod_identity` block.
    PodIdentity,
}

impl Mode {
    /// Whether the role trusts the OIDC provider and the ServiceAccount is annotated.
    pub fn irsa(self) -> bool {
        self != Mode::PodIdentity
    }

    /// Whether the role trusts EKS Pod Identity and an association exists.
    pub fn pod_identity(self) -> bool {
        self != Mode::Irsa
    }

    /// `irsa only`, `both`, `pod identity only`.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Irsa => "IRSA only",
            Mode::Both => "both",
            Mode::PodIdentity => "Pod Identity only",
        }
    }
}

/// The configuration of binding `runner` for ServiceAccount `service_account` of the fixture's
/// namespace in `mode`, with `body` (more attributes and blocks) inside. `oidc_provider_arn`
/// is set only where IRSA is served: with `irsa = false` it is an error.
pub fn pi_binding(f: &Fixture, service_account: &str, mode: Mode, body: &str) -> String {
    let mut text = format!(
        "resource \"gitlabrunner_irsa_binding\" \"runner\" {{\n  namespace            = {}\n  service_account_name = {}\n",
        hcl::quote(&f.namespace),
        hcl::quote(service_account),
    );
    if mode.irsa() {
        text.push_str(&format!(
            "  oidc_provider_arn    = {}\n",
            hcl::quote(&f.oidc.arn)
        ));
    } else {
        text.push_str("  irsa                 = false\n");
    }
    if mode.pod_identity() {
        text.push_str(&format!(
            "  pod_identity {{\n    cluster_name = {}\n  }}\n",
            hcl::quote(CLUSTER)
        ));
    }
    text.push_str(body);
    text.push_str("}\n");
    config(&text)
}

/// `arn:aws:iam::ACCOUNT:role/NAMESPACE-SA` of the default role name.
pub fn role_arn(f: &Fixture, service_account: &str) -> String {
    format!(
        "arn:aws:iam::{}:role/{}-{service_account}",
        f.h.account_id(),
        f.namespace
    )
}

/// The cluster's ARN as the rig's EKS (and the trust's `eks-cluster-arn` session tag) names it.
pub fn cluster_arn(f: &Fixture) -> String {
    format!(
        "arn:aws:eks:{}:{}:cluster/{CLUSTER}",
        f.region,
        f.h.account_id()
    )
}

/// A condition value as a sorted list (IAM takes `"x"` and `["x"]` alike).
fn values_of(value: &Value) -> Vec<String> {
    let mut list: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        Value::String(one) => vec![one.clone()],
        other => panic!("a condition value or action that is neither string nor list: {other}"),
    };
    list.sort();
    list
}

/// The statements of `trust` whose principal is of `kind` (`Federated`, `Service`).
pub fn statements_of<'a>(trust: &'a Value, kind: &str) -> Vec<&'a Value> {
    let statements = match &trust["Statement"] {
        Value::Array(list) => list.iter().collect(),
        single => vec![single],
    };
    statements
        .into_iter()
        .filter(|s| s["Principal"].get(kind).is_some())
        .collect()
}

/// Asserts that `statement` is the Pod Identity statement for `namespace/service_account`
/// in the rig's cluster: the service principal, `sts:AssumeRole` and `sts:TagSession`, and the
/// session-tag conditions that admit exactly this ServiceAccount of this cluster.
pub fn assert_pod_identity_statement(f: &Fixture, statement: &Value, service_account: &str) {
    assert_eq!(statement["Effect"], "Allow", "{statement}");
    assert_eq!(statement["Sid"], "EksPodIdentity", "{statement}");
    assert_eq!(
        values_of(&statement["Principal"]["Service"]),
        [POD_IDENTITY_PRINCIPAL],
        "{statement}"
    );
    assert_eq!(
        values_of(&statement["Action"]),
        ["sts:AssumeRole", "sts:TagSession"],
        "{statement}"
    );
    let equals = statement["Condition"]["StringEquals"]
        .as_object()
        .unwrap_or_else(|| panic!("no StringEquals in {statement}"));
    let expected = [
        ("aws:RequestTag/eks-cluster-arn", cluster_arn(f)),
        ("aws:RequestTag/eks-cluster-name", CLUSTER.to_string()),
        ("aws:RequestTag/kubernetes-namespace", f.namespace.clone()),
        (
            "aws:RequestTag/kubernetes-service-account",
            service_account.to_string(),
        ),
    ];
    for (key, value) in &expected {
        let found = equals
            .get(*key)
            .unwrap_or_else(|| panic!("no StringEquals {key} in {statement}"));
        assert_eq!(values_of(found), [value.as_str()], "{key} in {statement}");
    }
    assert_eq!(
        equals.len(),
        expected.len(),
        "StringEquals holds other keys: {statement}"
    );
    assert_eq!(
        statement["Condition"].as_object().map(|c| c.len()),
        Some(1),
        "conditions besides StringEquals: {statement}"
    );
}

/// An EKS client that reaches the rig's EKS (`AwsClients::eks`: the emulator itself serves no
/// Pod Identity API, the rig in front of it does).
pub async fn eks(f: &Fixture) -> aws_sdk_eks::Client {
    f.aws.eks.clone()
}

/// [`eks`] for a harness.
pub async fn rig_eks(h: &gitlabrunner_acceptance::Harness) -> aws_sdk_eks::Client {
    h.aws_clients().await.eks
}

/// One association of the rig's EKS, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// `a-` and 17 lower-case letters and digits.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// The role it hands out.
    pub role_arn: String,
}

/// The associations of the rig's cluster for `namespace/service_account`, described (a list
/// summary has no role ARN).
pub async fn associations(f: &Fixture, namespace: &str, service_account: &str) -> Vec<Association> {
    let eks = eks(f).await;
    let listed = eks
        .list_pod_identity_associations()
        .cluster_name(CLUSTER)
        .namespace(namespace)
        .service_account(service_account)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ListPodIdentityAssociations: {e:?}"));
    let mut found = Vec::new();
    for summary in listed.associations() {
        let id = summary.association_id().unwrap().to_string();
        let described = eks
            .describe_pod_identity_association()
            .cluster_name(CLUSTER)
            .association_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribePodIdentityAssociation {id}: {e:?}"));
        let association = described.association().unwrap();
        found.push(Association {
            id,
            arn: association
                .association_arn()
                .unwrap_or_default()
                .to_string(),
            role_arn: association.role_arn().unwrap_or_default().to_string(),
        });
    }
    found
}

/// Creates an association outside Terraform and returns it.
pub async fn create_association(f: &Fixture, service_account: &str, role_arn: &str) -> Association {
    let created = eks(f)
        .await
        .create_pod_identity_association()
        .cluster_name(CLUSTER)
        .namespace(&f.namespace)
        .service_account(service_account)
        .role_arn(role_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreatePodIdentityAssociation: {e:?}"));
    let association = created.association().unwrap();
    Association {
        id: association.association_id().unwrap().to_string(),
        arn: association
            .association_arn()
            .unwrap_or_default()
            .to_string(),
        role_arn: association.role_arn().unwrap_or_default().to_string(),
    }
}

/// Deletes association `id` outside Terraform.
pub async fn delete_association(f: &Fixture, id: &str) {
    eks(f)
        .await
        .delete_pod_identity_association()
        .cluster_name(CLUSTER)
        .association_id(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeletePodIdentityAssociation {id}: {e:?}"));
}

/// An IAM role that is not the binding's (a Pod Identity trust, unique name); returns its ARN.
pub async fn other_role(f: &Fixture) -> (String, String) {
    let name = unique_name("acc-other-role");
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }],
    });
    let arn = f
        .aws
        .iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    (name, arn)
}

/// Deletes a role [`other_role`] made, once nothing points at it.
pub async fn delete_other_role(f: &Fixture, name: &str) {
    f.aws
        .iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteRole {name}: {e:?}"));
}

/// Whether `id` has the form EKS gives association ids.
pub fn is_association_id(id: &str) -> bool {
    id.strip_prefix("a-").is_some_and(|rest| {
        rest.len() == 17
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// The `pod_identity` block in state (`None` when absent or empty).
pub fn pod_identity_in_state(state: &gitlabrunner_acceptance::terraform::State) -> Option<Value> {
    match state.resource(ADDRESS)?.attr("pod_identity") {
        Value::Array(blocks) => blocks.first().cloned(),
        Value::Object(_) => Some(state.resource(ADDRESS)?.attr("pod_identity").clone()),
        _ => None,
    }
}

/// Asserts that IAM, Kubernetes, EKS and the state show exactly `mode` for the binding of
/// `service_account` in `ws`; returns the association when there is one.
pub async fn assert_mode(
    f: &Fixture,
    ws: &Workspace,
    service_account: &str,
    mode: Mode,
) -> Option<Association> {
    let label = mode.label();
    let role_name = format!("{}-{service_account}", f.namespace);
    let trust = f.trust_policy(&role_name).await;

    // The trust: the OIDC statement where IRSA is served, the Pod Identity one where that is.
    let federated = statements_of(&trust, "Federated");
    let service = statements_of(&trust, "Service");
    if mode.irsa() {
        assert_eq!(federated.len(), 1, "{label}: one OIDC statement: {trust}");
        assert_eq!(federated[0]["Principal"]["Federated"], json!(f.oidc.arn));
        assert_eq!(
            values_of(&federated[0]["Action"]),
            ["sts:AssumeRoleWithWebIdentity"]
        );
        let sub = format!("{}:sub", f.oidc.host_path);
        assert_eq!(
            values_of(&federated[0]["Condition"]["StringEquals"][&sub]),
            [format!(
                "system:serviceaccount:{}:{service_account}",
                f.namespace
            )],
            "{label}: {trust}"
        );
    } else {
        assert!(federated.is_empty(), "{label}: an OIDC statement: {trust}");
    }
    if mode.pod_identity() {
        assert_eq!(
            service.len(),
            1,
            "{label}: one Pod Identity statement: {trust}"
        );
        assert_pod_identity_statement(f, service[0], service_account);
    } else {
        assert!(service.is_empty(), "{label}: a service statement: {trust}");
    }

    // The annotations: eks.amazonaws.com/* only where IRSA is served.
    let account = f
        .service_accounts(&f.namespace)
        .get(service_account)
        .await
        .unwrap();
    let annotations = account.metadata.annotations.unwrap_or_default();
    let eks_keys: BTreeSet<&String> = annotations
        .keys()
        .filter(|k| k.starts_with("eks.amazonaws.com/"))
        .collect();
    if mode.irsa() {
        assert_eq!(
            annotations.get(ROLE_ARN_ANNOTATION),
            Some(&role_arn(f, service_account)),
            "{label}: {annotations:?}"
        );
    } else {
        assert!(
            eks_keys.is_empty(),
            "{label}: IRSA annotations left: {eks_keys:?}"
        );
    }

    // The association, in EKS and in state.
    let found = associations(f, &f.namespace, service_account).await;
    let state = ws.show().await.unwrap();
    let resource = state.resource(ADDRESS).expect("the binding is in state");
    assert_eq!(resource.attr("irsa"), &json!(mode.irsa()), "{label}");
    let in_state = pod_identity_in_state(&state);
    if mode.pod_identity() {
        assert_eq!(found.len(), 1, "{label}: one association: {found:?}");
        let association = found[0].clone();
        assert_eq!(
            association.role_arn,
            role_arn(f, service_account),
            "{label}"
        );
        assert!(is_association_id(&association.id), "{}", association.id);
        let block = in_state.unwrap_or_else(|| panic!("{label}: no pod_identity in state"));
        assert_eq!(block["cluster_name"], CLUSTER);
        assert_eq!(block["association_id"], json!(association.id), "{label}");
        assert_eq!(block["association_arn"], json!(association.arn), "{label}");
        Some(association)
    } else {
        assert!(found.is_empty(), "{label}: associations left: {found:?}");
        assert!(in_state.is_none(), "{label}: pod_identity in state");
        None
    }
}

/// `terraform plan -json` to a plan file: the parsed plan and the diagnostics of planning.
pub async fn plan_with_diagnostics(ws: &Workspace) -> (Plan, Vec<Diagnostic>) {
    let planned = ws
        .run_ok(&["plan", "-input=false", "-no-color", "-json", "-out=tfplan"])
        .await
        .unwrap();
    let shown = ws
        .run_ok(&["show", "-json", "-no-color", "tfplan"])
        .await
        .unwrap();
    let plan = Plan::from_json(serde_json::from_str(&shown.stdout).unwrap()).unwrap();
    (plan, planned.diagnostics())
}
