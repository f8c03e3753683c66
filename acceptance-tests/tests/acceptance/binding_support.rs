//! What the `gitlabrunner_irsa_binding` acceptance tests share: a fixture with unique
//! namespaces (deleted when it is dropped), the cluster's real OIDC issuer registered as an IAM
//! OIDC provider, readers for the IAM and Kubernetes objects a binding makes, HCL helpers and
//! plan helpers. Everything here works the same against a real cluster (`TF_ACC_KUBECONFIG`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_iam::error::ProvideErrorMetadata as _;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::kubernetes::service_account_issuer;
use gitlabrunner_acceptance::terraform::ResourceChange;
use gitlabrunner_acceptance::{Harness, TestNamespaces, Workspace, harness, hcl, unique_name};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Api;
use serde_json::Value;

/// The address every binding test uses.
pub const ADDRESS: &str = "gitlabrunner_irsa_binding.runner";
/// The label the provider puts on what it creates.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The provider's value of [`MANAGED_BY_LABEL`] and of the IAM tag `managed-by`.
pub const MANAGED_BY: &str = "terraform-provider-gitlabrunner";
/// The annotation and IAM tag that name the owning binding.
pub const OWNER_KEY: &str = "terraform-provider-gitlabrunner/owner";
/// The annotation the EKS Pod Identity Webhook reads.
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// The cluster's OIDC issuer as IAM knows it.
#[derive(Clone, Debug)]
pub struct OidcProvider {
    /// `arn:PARTITION:iam::ACCOUNT:oidc-provider/HOST/PATH`.
    pub arn: String,
    /// The issuer URL the cluster puts in `iss`.
    pub issuer: String,
    /// The issuer without `https://`: the prefix of the trust policy's condition keys.
    pub host_path: String,
}

/// One test's world: clients, its own namespaces, a unique ServiceAccount name.
pub struct Fixture {
    /// The shared harness.
    pub h: Arc<Harness>,
    /// AWS clients in the fixture's region.
    pub aws: AwsClients,
    /// A Kubernetes client with the provider's kubeconfig.
    pub kube: kube::Client,
    /// The cluster's issuer, registered in IAM.
    pub oidc: OidcProvider,
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// Job namespaces (one grant each, as the test wants).
    pub jobs: Vec<String>,
    /// The AWS region of the provider and of [`Fixture::aws`].
    pub region: String,
    namespaces: TestNamespaces,
}

impl Fixture {
    /// A fixture with `jobs` job namespaces, or `None` when acceptance tests are off.
    pub async fn new(test: &str, jobs: usize) -> Option<Fixture> {
        let h = harness(test).await?;
        let region = h.aws().region();
        Some(Fixture::in_region(h, jobs, region).await)
    }

    /// A fixture whose AWS side (the provider's and the test's clients) is in `region`.
    pub async fn in_region(h: Arc<Harness>, jobs: usize, region: &str) -> Fixture {
        let kube = h.kubernetes().unwrap().client().await.unwrap();
        let aws = AwsClients::new(h.aws().endpoint(), region).await;
        let oidc = register_issuer(&kube, &aws).await;
        let namespaces = TestNamespaces::new(h.clone()).await.unwrap();
        let mut fixture = Fixture {
            h,
            aws,
            kube,
            oidc,
            namespace: String::new(),
            service_account: unique_name("runner"),
            jobs: Vec::new(),
            region: region.to_string(),
            namespaces,
        };
        fixture.namespace = fixture.create_namespace("acc-ci").await;
        for _ in 0..jobs {
            let job = fixture.create_namespace("acc-jobs").await;
            fixture.jobs.push(job);
        }
        // Import lists grants in namespace order; configurations here use that order too.
        fixture.jobs.sort();
        fixture
    }

    /// Creates a namespace that is deleted with the fixture.
    pub async fn create_namespace(&mut self, prefix: &str) -> String {
        self.namespaces.create(prefix).await
    }

    /// `NAMESPACE/NAME` of the binding.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.service_account)
    }

    /// The role name the provider derives.
    pub fn default_role_name(&self) -> String {
        format!("{}-{}", self.namespace, self.service_account)
    }

    /// The Role and RoleBinding name of every grant.
    pub fn rbac_name(&self) -> String {
        format!("{}.{}", self.namespace, self.service_account)
    }

    /// A workspace of the harness, its provider in the fixture's region.
    pub fn workspace(&self) -> Workspace {
        let mut workspace = self.h.workspace().unwrap();
        workspace.set_aws_endpoint(self.h.aws().endpoint(), &self.region);
        workspace
    }

    /// The IAM role `name`, `None` when it does not exist.
    pub async fn iam_role(&self, name: &str) -> Option<aws_sdk_iam::types::Role> {
        iam_role(&self.aws, name).await
    }

    /// The decoded trust policy of role `name`.
    pub async fn trust_policy(&self, name: &str) -> Value {
        let role = self
            .iam_role(name)
            .await
            .unwrap_or_else(|| panic!("role {name} does not exist"));
        decode_policy(role.assume_role_policy_document().unwrap_or_default())
    }

    /// The managed policies attached to role `name`.
    pub async fn attached_policies(&self, name: &str) -> BTreeSet<String> {
        self.aws
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect()
    }

    /// The inline policies of role `name`, decoded.
    pub async fn inline_policies(&self, name: &str) -> BTreeMap<String, Value> {
        let names = self
            .aws
            .iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .policy_names()
            .to_vec();
        let mut documents = BTreeMap::new();
        for policy in names {
            let document = self
                .aws
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .unwrap();
            documents.insert(policy, decode_policy(document.policy_document()));
        }
        documents
    }

    /// Creates a customer managed policy (unique name) and returns its ARN.
    pub async fn managed_policy(&self, action: &str) -> String {
        create_managed_policy(&self.aws, action).await
    }

    /// The ServiceAccount of the binding.
    pub async fn service_account(&self) -> Option<ServiceAccount> {
        self.service_accounts(&self.namespace)
            .get_opt(&self.service_account)
            .await
            .unwrap()
    }

    /// The ServiceAccounts API of `namespace`.
    pub fn service_accounts(&self, namespace: &str) -> Api<ServiceAccount> {
        Api::namespaced(self.kube.clone(), namespace)
    }

    /// The Roles API of `namespace`.
    pub fn roles(&self, namespace: &str) -> Api<Role> {
        Api::namespaced(self.kube.clone(), namespace)
    }

    /// The RoleBindings API of `namespace`.
    pub fn role_bindings(&self, namespace: &str) -> Api<RoleBinding> {
        Api::namespaced(self.kube.clone(), namespace)
    }

    /// The binding's Role in `namespace`.
    pub async fn rbac_role(&self, namespace: &str) -> Option<Role> {
        self.roles(namespace)
            .get_opt(&self.rbac_name())
            .await
            .unwrap()
    }

    /// The binding's RoleBinding in `namespace`.
    pub async fn role_binding(&self, namespace: &str) -> Option<RoleBinding> {
        self.role_bindings(namespace)
            .get_opt(&self.rbac_name())
            .await
            .unwrap()
    }

    /// Asserts that nothing of the binding exists: no role `role_name`, no ServiceAccount,
    /// no Role or RoleBinding in any of `namespaces`.
    pub async fn assert_gone(&self, role_name: &str, namespaces: &[String]) {
        assert!(
            self.iam_role(role_name).await.is_none(),
            "IAM role {role_name} still exists"
        );
        assert!(
            self.service_account().await.is_none(),
            "ServiceAccount {} still exists",
            self.id()
        );
        for namespace in namespaces {
            assert!(
                self.rbac_role(namespace).await.is_none(),
                "Role {namespace}/{} still exists",
                self.rbac_name()
            );
            assert!(
                self.role_binding(namespace).await.is_none(),
                "RoleBinding {namespace}/{} still exists",
                self.rbac_name()
            );
        }
    }
}

/// The IAM role `name` seen through `aws`, `None` when it does not exist.
pub async fn iam_role(aws: &AwsClients, name: &str) -> Option<aws_sdk_iam::types::Role> {
    match aws.iam.get_role().role_name(name).send().await {
        Ok(output) => output.role,
        Err(error) if error.code() == Some("NoSuchEntity") => None,
        Err(error) => panic!("GetRole {name}: {error:?}"),
    }
}

/// Creates a customer managed policy allowing `action` and returns its ARN.
pub async fn create_managed_policy(aws: &AwsClients, action: &str) -> String {
    let document = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    });
    aws.iam
        .create_policy()
        .policy_name(unique_name("acc-policy"))
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .and_then(|p| p.arn)
        .unwrap()
}

/// An IAM policy document as IAM returns it (URL-encoded or not), parsed.
pub fn decode_policy(document: &str) -> Value {
    let decoded = if document.trim_start().starts_with('{') {
        document.into()
    } else {
        percent_encoding::percent_decode_str(document)
            .decode_utf8()
            .unwrap()
    };
    serde_json::from_str(&decoded)
        .unwrap_or_else(|e| panic!("policy document {decoded:?} is not JSON: {e}"))
}

/// The cluster's service account issuer (`/.well-known/openid-configuration`), registered as
/// an IAM OIDC provider (once; concurrent tests find it registered).
pub async fn register_issuer(kube: &kube::Client, aws: &AwsClients) -> OidcProvider {
    let issuer = service_account_issuer(kube).await.unwrap();
    let host_path = issuer.trim_start_matches("https://").to_string();
    let created = aws
        .iam
        .create_open_id_connect_provider()
        .url(&issuer)
        .set_client_id_list(gitlabrunner_acceptance::workload::setup::cluster_client_ids())
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
        .send()
        .await;
    let arn = match created {
        Ok(output) => output.open_id_connect_provider_arn.unwrap(),
        Err(error) if error.code() == Some("EntityAlreadyExists") => aws
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .find(|arn| arn.ends_with(&format!("oidc-provider/{host_path}")))
            .expect("the provider that already exists is listed")
            .to_string(),
        Err(error) => panic!("CreateOpenIDConnectProvider {issuer}: {error:?}"),
    };
    OidcProvider {
        arn,
        issuer,
        host_path,
    }
}

/// The provider block (empty: endpoint, region and kubeconfig come from the environment)
/// and `resources`.
pub fn config(resources: &str) -> String {
    format!("{}\n{resources}", hcl::with_provider(""))
}

/// The configuration of one binding `runner` for the fixture's ServiceAccount, trusting the
/// fixture's OIDC provider, with `body` (more attributes and blocks) inside.
pub fn binding(f: &Fixture, body: &str) -> String {
    binding_named(f, &f.service_account, body)
}

/// [`binding`] for the ServiceAccount `service_account` of the fixture's namespace.
pub fn binding_named(f: &Fixture, service_account: &str, body: &str) -> String {
    config(&format!(
        "resource \"gitlabrunner_irsa_binding\" \"runner\" {{\n  namespace            = {}\n  service_account_name = {}\n  oidc_provider_arn    = {}\n{body}\n}}\n",
        hcl::quote(&f.namespace),
        hcl::quote(service_account),
        hcl::quote(&f.oidc.arn),
    ))
}

/// A `grant` block for `namespace` with `preset` and `rule` blocks of core-group
/// `(resource, verbs)`.
pub fn grant(namespace: &str, preset: Option<&str>, rules: &[(&str, &[&str])]) -> String {
    let mut text = format!("  grant {{\n    namespace = {}\n", hcl::quote(namespace));
    if let Some(preset) = preset {
        text.push_str(&format!("    preset    = {}\n", hcl::quote(preset)));
    }
    for (resource, verbs) in rules {
        let verbs: Vec<String> = verbs.iter().map(|v| hcl::quote(v)).collect();
        text.push_str(&format!(
            "    rule {{\n      api_groups = [\"\"]\n      resources  = [{}]\n      verbs      = [{}]\n    }}\n",
            hcl::quote(resource),
            verbs.join(", ")
        ));
    }
    text.push_str("  }\n");
    text
}

/// `key = "value"` lines of an HCL map.
pub fn hcl_map(entries: &[(&str, &str)]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("    {} = {}", hcl::quote(k), hcl::quote(v)))
        .collect();
    format!("{{\n{}\n  }}", body.join("\n"))
}

/// The top-level attributes whose value differs between before and after (unknown-after
/// attributes count as changed).
pub fn changed_attributes(change: &ResourceChange) -> BTreeSet<String> {
    let empty = serde_json::Map::new();
    let before = change.change.before.as_object().unwrap_or(&empty);
    let after = change.change.after.as_object().unwrap_or(&empty);
    let unknown = change.change.after_unknown.as_object().unwrap_or(&empty);
    before
        .keys()
        .chain(after.keys())
        .filter(|key| {
            let is_unknown = unknown.get(*key).is_some_and(|u| u == &Value::Bool(true));
            is_unknown || before.get(*key) != after.get(*key)
        })
        .cloned()
        .collect()
}
