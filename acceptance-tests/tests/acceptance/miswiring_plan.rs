//! Issue 12's proof of wiring at plan and apply time, through the real CLI: each miswiring of
//! a `gitlabrunner_irsa_binding` is refused with its exact diagnostic, and where it fires is
//! asserted. Every plan reads the cluster's issuer (one request per provider process) and
//! refuses another cluster's OIDC provider from the ARN alone; a plan that creates the binding
//! (or changes its OIDC provider or audience) also reads the OIDC provider and refuses a deleted
//! one or a missing audience; when the ARN is known only during apply, apply refuses each before
//! anything is created. A correct wiring (also with the issuer's host written in another case)
//! passes, and an identity that cannot read the cluster's issuer gets a warning, never silence.
//!
//! Each test runs against a Kubernetes API emulator of its own whose issuer is a unique
//! EKS-style URL, so the IAM OIDC providers it registers belong to no other test. Against a
//! real cluster (`TF_ACC_KUBECONFIG`) these tests skip, saying so.

use std::path::{Path, PathBuf};

use aws_sdk_iam::error::ProvideErrorMetadata as _;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::runtime::run_in_background;
use gitlabrunner_acceptance::{Diagnostic, Harness, Severity, Workspace, hcl, random_suffix, say};
use gitlabrunner_acceptance::{harness, unique_name};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;

const ADDRESS: &str = "gitlabrunner_irsa_binding.runner";
const DISCOVERY: &str = "the cluster's /.well-known/openid-configuration";

/// A cluster of the test's own: an emulator with a unique EKS-style issuer, an admin
/// kubeconfig for the provider, and a namespace for the binding.
pub struct Cluster {
    /// The emulator (stops when dropped).
    pub emulator: kube_emulator::Emulator,
    /// `https://oidc.eks.us-east-1.amazonaws.com/id/MW...`.
    pub issuer: String,
    /// The admin kubeconfig's path.
    pub kubeconfig: PathBuf,
    client: kube::Client,
    namespace: String,
}

impl Cluster {
    /// Starts it (on the shared runtime, so it outlives the test's own).
    pub async fn start() -> Cluster {
        let issuer = format!(
            "https://oidc.eks.us-east-1.amazonaws.com/id/MW{}",
            random_suffix().to_uppercase()
        );
        let config = kube_emulator::EmulatorConfig {
            issuer: issuer.clone(),
            ..Default::default()
        };
        let emulator = run_in_background(kube_emulator::Emulator::start(config))
            .await
            .expect("the emulator starts");
        let kubeconfig = std::env::temp_dir().join(unique_name("mw-kubeconfig"));
        emulator.write_kubeconfig(&kubeconfig).unwrap();
        let client = client_for(&emulator.kubeconfig_yaml()).await;
        let namespace = unique_name("mw");
        Api::<Namespace>::all(client.clone())
            .create(
                &PostParams::default(),
                &Namespace {
                    metadata: ObjectMeta {
                        name: Some(namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    ..Namespace::default()
                },
            )
            .await
            .unwrap();
        Cluster {
            emulator,
            issuer,
            kubeconfig,
            client,
            namespace,
        }
    }

    /// A kubeconfig for a user with no RBAC grants at all.
    fn kubeconfig_without_grants(&self) -> PathBuf {
        let token = self.emulator.token_for("no-grants", &[]);
        let path = std::env::temp_dir().join(unique_name("mw-nogrants"));
        std::fs::write(
            &path,
            self.emulator.kubeconfig_for_token("no-grants", &token),
        )
        .unwrap();
        path
    }

    async fn service_account_exists(&self, name: &str) -> bool {
        Api::<ServiceAccount>::namespaced(self.client.clone(), &self.namespace)
            .get_opt(name)
            .await
            .unwrap()
            .is_some()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

async fn client_for(yaml: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Registers an IAM OIDC provider for `url` with `client_ids`; returns its ARN.
pub async fn register(aws: &AwsClients, url: &str, client_ids: &[&str]) -> String {
    let mut request = aws
        .iam
        .create_open_id_connect_provider()
        .url(url)
        .thumbprint_list("9e99a48a9960b14926bb7f3b02e22da2b0ab7280");
    for id in client_ids {
        request = request.client_id_list(*id);
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateOpenIDConnectProvider {url}: {e:?}"))
        .open_id_connect_provider_arn
        .unwrap()
}

/// Deletes the IAM OIDC provider `arn`.
pub async fn unregister(aws: &AwsClients, arn: &str) {
    aws.iam
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(arn)
        .send()
        .await
        .unwrap();
}

async fn role_exists(aws: &AwsClients, name: &str) -> bool {
    match aws.iam.get_role().role_name(name).send().await {
        Ok(_) => true,
        Err(error) if error.code() == Some("NoSuchEntity") => false,
        Err(error) => panic!("GetRole {name}: {error:?}"),
    }
}

/// A binding in the cluster's namespace; `oidc_provider_arn` and `extra` as HCL.
fn binding(cluster: &Cluster, role: &str, oidc_provider_arn: &str, extra: &str) -> String {
    format!(
        "{}resource \"gitlabrunner_irsa_binding\" \"runner\" {{\n  namespace            = {}\n  \
         service_account_name = {}\n  role_name            = {}\n  oidc_provider_arn    = \
         {oidc_provider_arn}\n{extra}}}\n",
        hcl::with_provider(""),
        hcl::quote(&cluster.namespace),
        hcl::quote(role),
        hcl::quote(role),
    )
}

fn workspace(h: &Harness, kubeconfig: &Path) -> Workspace {
    let mut ws = h.workspace().unwrap();
    ws.set_kubeconfig(kubeconfig);
    ws
}

/// The diagnostics about the binding (not Terraform's own, such as the dev-override warning).
fn ours(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.address.as_deref() == Some(ADDRESS))
        .collect()
}

/// The one diagnostic of `severity` for the binding, as (summary, detail, highlighted).
fn the_one(diagnostics: &[Diagnostic], severity: Severity) -> (String, String, Option<String>) {
    let found: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == severity && d.address.as_deref() == Some(ADDRESS))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {severity:?} expected: {diagnostics:#?}"
    );
    (
        found[0].summary.clone(),
        found[0].detail.clone(),
        found[0].highlighted().map(str::to_string),
    )
}

fn another_cluster(arn: &str, provider_url: &str, issuer: &str) -> String {
    format!(
        "The OIDC provider {arn} is for the issuer {provider_url}, but the cluster the provider \
         is configured for issues service account tokens as {issuer} (read from {DISCOVERY}). \
         STS accepts a token only through the OIDC provider of its iss, so the pods' \
         AssumeRoleWithWebIdentity would fail with InvalidIdentityToken. Use this cluster's \
         OIDC provider (data \"gitlabrunner_oidc_provider\" \"this\" {{}} finds it), or point \
         the provider's kubernetes settings at the cluster this OIDC provider belongs to."
    )
}

/// Plans (which must say nothing about the binding: it cannot see this miswiring), then
/// applies: the one error, and nothing exists afterwards (role, ServiceAccount, state).
async fn refused_at_apply(
    ws: &Workspace,
    aws: &AwsClients,
    cluster: &Cluster,
    role: &str,
) -> (String, String, Option<String>) {
    let planned = ws
        .run_ok(&["plan", "-input=false", "-no-color", "-json"])
        .await;
    assert!(
        planned
            .as_ref()
            .is_ok_and(|run| ours(&run.diagnostics()).is_empty()),
        "the plan cannot see it and says nothing: {planned:?}"
    );
    let refused = the_one(&ws.apply_expect_error().await.unwrap(), Severity::Error);
    assert!(!role_exists(aws, role).await, "no role {role}");
    assert!(!cluster.service_account_exists(role).await);
    assert!(
        ws.show().await.unwrap().resource(ADDRESS).is_none(),
        "the binding is not in state"
    );
    refused
}

/// What one case showed: where it fired and whether nothing was created.
struct Outcome {
    case: &'static str,
    stage: &'static str,
}

#[tokio::test]
async fn miswirings_are_refused_at_plan_or_apply_before_anything_exists() {
    let test = "miswirings_are_refused_at_plan_or_apply_before_anything_exists";
    let Some(h) = harness(test).await else {
        return;
    };
    if h.emulator_for(test, "an issuer of its own").is_none() {
        return;
    }
    let aws = h.aws_clients().await;
    let cluster = Cluster::start().await;
    let issuer = &cluster.issuer;
    let host_path = issuer.trim_start_matches("https://");
    let mut outcomes = Vec::new();

    // 1. Another cluster's OIDC provider: refused at plan, naming both issuers.
    let other_url = format!(
        "https://oidc.eks.us-east-1.amazonaws.com/id/MWOTHER{}",
        random_suffix().to_uppercase()
    );
    let other = register(&aws, &other_url, &["sts.amazonaws.com"]).await;
    let role = unique_name("mw-other");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write(
        "main.tf",
        &binding(&cluster, &role, &hcl::quote(&other), ""),
    )
    .unwrap();
    let (summary, detail, highlighted) =
        the_one(&ws.plan_expect_error().await.unwrap(), Severity::Error);
    assert_eq!(summary, "OIDC provider of another cluster");
    assert_eq!(detail, another_cluster(&other, &other_url, issuer));
    assert_eq!(highlighted.as_deref(), Some(hcl::quote(&other).as_str()));
    outcomes.push(Outcome {
        case: "another cluster's OIDC provider",
        stage: "plan",
    });

    // 2. The same, with the ARN known only during apply: refused at apply, nothing created.
    let role = unique_name("mw-late");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write(
        "main.tf",
        &format!(
            "resource \"terraform_data\" \"oidc\" {{\n  input = {}\n}}\n\n{}",
            hcl::quote(&other),
            binding(&cluster, &role, "terraform_data.oidc.output", "")
        ),
    )
    .unwrap();
    // The plan cannot check an unknown ARN.
    let (summary, detail, _) = refused_at_apply(&ws, &aws, &cluster, &role).await;
    assert_eq!(summary, "OIDC provider of another cluster");
    assert_eq!(detail, another_cluster(&other, &other_url, issuer));
    outcomes.push(Outcome {
        case: "another cluster's OIDC provider, ARN known at apply",
        stage: "apply",
    });
    unregister(&aws, &other).await;

    // 3. The cluster's provider without sts.amazonaws.com: refused at plan.
    let own = register(&aws, issuer, &["some-other-client"]).await;
    let role = unique_name("mw-nosts");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write("main.tf", &binding(&cluster, &role, &hcl::quote(&own), ""))
        .unwrap();
    let (summary, detail, highlighted) =
        the_one(&ws.plan_expect_error().await.unwrap(), Severity::Error);
    assert_eq!(summary, "Audience not accepted by the OIDC provider");
    assert_eq!(
        detail,
        format!(
            "The binding's audience \"sts.amazonaws.com\" (the default, which IRSA uses) is not \
             a client ID of the OIDC provider {own}: it lists \"some-other-client\". STS refuses \
             tokens whose aud the OIDC provider does not list (InvalidIdentityToken: Incorrect \
             token audience). Add it to the OIDC provider (aws iam \
             add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {own} \
             --client-id sts.amazonaws.com, or client_id_list of \
             aws_iam_openid_connect_provider)."
        )
    );
    assert_eq!(highlighted.as_deref(), Some(hcl::quote(&own).as_str()));
    assert!(!role_exists(&aws, &role).await);
    outcomes.push(Outcome {
        case: "OIDC provider without sts.amazonaws.com",
        stage: "plan",
    });

    // 4. An audience the provider does not list: refused at plan, at `audience`.
    // (moto answers AddClientIDToOpenIDConnectProvider with a 500: register it again.)
    unregister(&aws, &own).await;
    let own = register(&aws, issuer, &["some-other-client", "sts.amazonaws.com"]).await;
    let role = unique_name("mw-aud");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write(
        "main.tf",
        &binding(
            &cluster,
            &role,
            &hcl::quote(&own),
            "  audience             = \"gitlab-runner\"\n",
        ),
    )
    .unwrap();
    let (summary, detail, highlighted) =
        the_one(&ws.plan_expect_error().await.unwrap(), Severity::Error);
    assert_eq!(summary, "Audience not accepted by the OIDC provider");
    assert!(
        detail.starts_with(&format!(
            "The binding's audience \"gitlab-runner\" is not a client ID of the OIDC provider \
             {own}: it lists "
        )) && detail.contains("\"some-other-client\"")
            && detail.contains("\"sts.amazonaws.com\"")
            && detail.ends_with(
                "--client-id gitlab-runner, or client_id_list of \
                 aws_iam_openid_connect_provider), or set audience to one of the client IDs it \
                 lists."
            ),
        "{detail}"
    );
    assert_eq!(highlighted.as_deref(), Some("\"gitlab-runner\""));
    outcomes.push(Outcome {
        case: "audience the OIDC provider does not list",
        stage: "plan",
    });

    // 5. A correct wiring passes plan and apply.
    let role = unique_name("mw-ok");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write("main.tf", &binding(&cluster, &role, &hcl::quote(&own), ""))
        .unwrap();
    let applied = ws.apply().await.unwrap();
    assert!(
        ours(&applied.diagnostics()).is_empty(),
        "{:#?}",
        applied.diagnostics()
    );
    assert!(role_exists(&aws, &role).await);
    ws.destroy().await.unwrap();
    outcomes.push(Outcome {
        case: "correct wiring",
        stage: "passes",
    });

    // 6. The OIDC provider deleted: refused at plan.
    unregister(&aws, &own).await;
    let role = unique_name("mw-gone");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write("main.tf", &binding(&cluster, &role, &hcl::quote(&own), ""))
        .unwrap();
    let (summary, detail, _) = the_one(&ws.plan_expect_error().await.unwrap(), Severity::Error);
    assert_eq!(summary, "OIDC provider not found");
    assert_eq!(
        detail,
        format!(
            "No IAM OIDC provider with the ARN {own} exists (iam:GetOpenIDConnectProvider \
             answered NoSuchEntity): it was deleted, or the ARN names another account. Create \
             the cluster's OIDC provider for {issuer} (eksctl utils associate-iam-oidc-provider \
             --cluster CLUSTER --approve, or an aws_iam_openid_connect_provider resource), or \
             set oidc_provider_arn to an existing one: data \"gitlabrunner_oidc_provider\" \
             \"this\" {{}} finds the cluster's."
        )
    );
    assert!(!role_exists(&aws, &role).await);
    outcomes.push(Outcome {
        case: "deleted OIDC provider",
        stage: "plan",
    });

    // 7. The provider registered with the issuer's host in upper case: IAM compares hosts
    // case-insensitively, so this is the cluster's provider and the plan passes.
    let upper = format!(
        "https://{}",
        host_path.replacen(
            "oidc.eks.us-east-1.amazonaws.com",
            "OIDC.EKS.US-EAST-1.AMAZONAWS.COM",
            1
        )
    );
    let shouting = register(&aws, &upper, &["sts.amazonaws.com"]).await;
    let role = unique_name("mw-case");
    let ws = workspace(&h, &cluster.kubeconfig);
    ws.write(
        "main.tf",
        &binding(&cluster, &role, &hcl::quote(&shouting), ""),
    )
    .unwrap();
    let planned = ws
        .run_ok(&["plan", "-input=false", "-no-color", "-json"])
        .await
        .unwrap();
    assert!(
        ours(&planned.diagnostics()).is_empty(),
        "{shouting}: {:#?}",
        planned.diagnostics()
    );
    outcomes.push(Outcome {
        case: "issuer host in another case",
        stage: "passes",
    });

    // 8. An identity that can read neither the discovery document nor mint a token: the
    // plan passes with a warning that says why the check was skipped.
    let ws = workspace(&h, &cluster.kubeconfig_without_grants());
    ws.write(
        "main.tf",
        &binding(&cluster, &role, &hcl::quote(&shouting), ""),
    )
    .unwrap();
    let planned = ws
        .run_ok(&["plan", "-input=false", "-no-color", "-json"])
        .await
        .unwrap();
    let (summary, detail, highlighted) = the_one(&planned.diagnostics(), Severity::Warning);
    assert_eq!(summary, "OIDC provider not checked against the cluster");
    assert_eq!(
        detail,
        format!(
            "The provider could not read the cluster's service account issuer, so it did not \
             check that {shouting} is this cluster's OIDC provider: GET \
             /.well-known/openid-configuration failed (403 Forbidden): forbidden: User \
             \"no-grants\" cannot get path \"/.well-known/openid-configuration\"; and the \
             fallback failed too: create token for ServiceAccount default/default failed (403 \
             Forbidden): serviceaccounts \"default\" is forbidden: User \"no-grants\" cannot \
             create resource \"serviceaccounts/token\" in API group \"\" in the namespace \
             \"default\". To enable the check, bind the identity the provider uses to the \
             ClusterRole system:service-account-issuer-discovery (it allows only GET on \
             /.well-known/openid-configuration and /openid/v1/jwks)."
        )
    );
    assert_eq!(highlighted.as_deref(), Some(hcl::quote(&shouting).as_str()));
    outcomes.push(Outcome {
        case: "discovery document not readable",
        stage: "plan (warning)",
    });
    unregister(&aws, &shouting).await;

    let refused = outcomes
        .iter()
        .filter(|o| o.stage == "plan" || o.stage == "apply")
        .count();
    say!(
        "{test}: {} cases: {refused} miswirings refused ({} at plan, {} at apply), {} \
         correct wirings passed, {} skipped with a warning",
        outcomes.len(),
        outcomes.iter().filter(|o| o.stage == "plan").count(),
        outcomes.iter().filter(|o| o.stage == "apply").count(),
        outcomes.iter().filter(|o| o.stage == "passes").count(),
        outcomes
            .iter()
            .filter(|o| o.stage == "plan (warning)")
            .count(),
    );
    for outcome in &outcomes {
        say!("{test}:   {:<52} {}", outcome.case, outcome.stage);
    }
}
