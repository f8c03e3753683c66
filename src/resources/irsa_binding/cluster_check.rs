//! Proof of wiring: the binding's OIDC provider is the one of the cluster the provider is
//! configured for, it exists, and it accepts the audience.
//!
//! Real STS matches a web identity token to the IAM OIDC provider whose URL is the token's
//! `iss`, and refuses an `aud` missing from that provider's client IDs (STS API reference,
//! AssumeRoleWithWebIdentity, errors `InvalidIdentityToken` and `IDPRejectedClaim`,
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>).
//! Issuers are compared by [`crate::wiring::issuer`]'s rules.
//!
//! The checks are split by what they need, so that a plan that changes nothing adds one
//! request per provider process, whatever the number of bindings:
//! - [`check_issuer`]: the cluster's issuer (one read per process) against the issuer the ARN
//!   names. An OIDC provider's ARN is `arn:PARTITION:iam::ACCOUNT:oidc-provider/NAME`, and its
//!   NAME is the provider's URL without `https://` (Service Authorization Reference, IAM,
//!   resource type `oidc-provider`,
//!   <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html#awsidentityandaccessmanagementiam-resources-for-iam-policies>;
//!   the EKS user guide's trust policy,
//!   <https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html>),
//!   so "another cluster's provider" needs no IAM read. Every plan runs it.
//! - [`check_full`]: the same, and `iam:GetOpenIDConnectProvider` side by side with it (one
//!   round trip; each ARN once per process): the provider exists, IAM's URL is the cluster's
//!   issuer, and its client IDs include the audience. Plans that create a binding or change its
//!   OIDC provider or audience ([`rewires`]) run it, as only plans that write to IAM ask STS
//!   whose account the credentials are; apply runs it again before anything is created or the
//!   trust policy changes (Terraform plans again during apply, so the reads are usually kept
//!   from then); `verify` checks the same against a real token.

use crate::aws::OidcProviderArn;
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::framework::Context;
use crate::wiring::{ClusterIssuer, Issuer, ProviderRead, Relation};

use super::schema::DEFAULT_AUDIENCE;

/// Whether the change `prior` -> `planned` creates a binding or changes its OIDC provider or
/// audience: then the plan reads the OIDC provider too ([`check_full`]).
pub fn rewires(prior: &Value, planned: &Value) -> bool {
    prior.is_null()
        || ["oidc_provider_arn", "audience"]
            .iter()
            .any(|name| prior.get(name) != planned.get(name))
}

/// Reads the cluster's issuer (once per provider process) and compares it with the issuer
/// `oidc` names ([`check_arn`]). It reads nothing from IAM.
pub async fn check_issuer(ctx: &Context, oidc: &OidcProviderArn) -> Diagnostics {
    // Boxed: kube's futures are large, and the plan's stack is not.
    let cluster = Box::pin(ctx.provider.cluster_issuer(&ctx.cancel)).await;
    check_arn(&cluster, oidc)
}

/// Reads the cluster's issuer and the OIDC provider (each once per provider process, side by
/// side, so the check adds one round trip) and checks the wiring ([`check_arn`], then
/// [`check_provider`]).
pub async fn check_full(ctx: &Context, oidc: &OidcProviderArn, audience: &str) -> Diagnostics {
    let (cluster, read) = ctx
        .provider
        .fanout
        .both(
            // Boxed: the SDK's and kube's futures are large, and the plan's stack is not.
            Box::pin(ctx.provider.cluster_issuer(&ctx.cancel)),
            Box::pin(ctx.provider.oidc_provider(oidc)),
        )
        .await;
    let mut diags = check_arn(&cluster, oidc);
    if !diags.has_errors() {
        diags.extend(check_provider(&cluster, oidc, &read, audience));
    }
    diags
}

/// What the ARN alone shows: the issuer it is for against the cluster's (a warning when the
/// cluster's issuer could not be read).
pub fn check_arn(cluster: &ClusterIssuer, oidc: &OidcProviderArn) -> Diagnostics {
    let mut diags = Diagnostics::new();
    match cluster {
        ClusterIssuer::Known { .. } => {
            if let Some(mismatch) = issuer_mismatch(cluster, oidc, &oidc.issuer_host_path) {
                diags.push(mismatch);
            }
        }
        ClusterIssuer::Unreadable { reason } => diags.push(
            Diagnostic::warning(
                "OIDC provider not checked against the cluster",
                format!(
                    "The provider could not read the cluster's service account issuer, so it \
                     did not check that {oidc} is this cluster's OIDC provider: {reason}. To \
                     enable the check, bind the identity the provider uses to the ClusterRole \
                     system:service-account-issuer-discovery (it allows only GET on \
                     /.well-known/openid-configuration and /openid/v1/jwks)."
                ),
            )
            .at(AttributePath::new("oidc_provider_arn")),
        ),
    }
    diags
}

/// What IAM's answer shows: the provider exists, its URL is the cluster's issuer, and its
/// client IDs include `audience`.
pub fn check_provider(
    cluster: &ClusterIssuer,
    oidc: &OidcProviderArn,
    read: &ProviderRead,
    audience: &str,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let found = match read {
        ProviderRead::Found(found) => found,
        ProviderRead::Missing => {
            let issuer = match cluster {
                ClusterIssuer::Known { issuer, .. } => issuer.clone(),
                ClusterIssuer::Unreadable { .. } => oidc.issuer_url(),
            };
            diags.push(
                Diagnostic::error(
                    "OIDC provider not found",
                    format!(
                        "No IAM OIDC provider with the ARN {oidc} exists \
                         (iam:GetOpenIDConnectProvider answered NoSuchEntity): it was deleted, \
                         or the ARN names another account. Create the cluster's OIDC provider \
                         for {issuer} (eksctl utils associate-iam-oidc-provider --cluster \
                         CLUSTER --approve, or an aws_iam_openid_connect_provider resource), \
                         or set oidc_provider_arn to an existing one: data \
                         \"gitlabrunner_oidc_provider\" \"this\" {{}} finds the cluster's."
                    ),
                )
                .at(AttributePath::new("oidc_provider_arn")),
            );
            return diags;
        }
        ProviderRead::Failed(why) => {
            diags.push(
                Diagnostic::warning(
                    "OIDC provider not read",
                    format!(
                        "{why}. The provider did not check that {oidc} exists and accepts the \
                         audience \"{audience}\"; allow iam:GetOpenIDConnectProvider to \
                         enable the check.",
                        why = why.trim_end_matches('.'),
                    ),
                )
                .at(AttributePath::new("oidc_provider_arn")),
            );
            return diags;
        }
    };
    if let Some(mismatch) = issuer_mismatch(cluster, oidc, &found.url) {
        diags.push(mismatch);
        return diags;
    }
    if !found.client_ids.iter().any(|id| id == audience) {
        diags.push(audience_refused(oidc, audience, &found.client_ids));
    }
    diags
}

fn issuer_mismatch(
    cluster: &ClusterIssuer,
    oidc: &OidcProviderArn,
    provider_url: &str,
) -> Option<Diagnostic> {
    let ClusterIssuer::Known { issuer, source, .. } = cluster else {
        return None;
    };
    let provider = Issuer::parse(provider_url);
    let provider_url = format!("https://{}", provider_url.trim_start_matches("https://"));
    let source = source.describe();
    let (summary, detail) = match Issuer::parse(issuer).relation_of(&provider) {
        Relation::Same => return None,
        Relation::DualStackHost => (
            "OIDC provider registered for the dual-stack issuer host",
            format!(
                "The OIDC provider {oidc} is registered for {provider_url}, the dual-stack host \
                 of the cluster's issuer {issuer} (read from {source}). EKS signs service \
                 account tokens with iss = {issuer} whatever the cluster's IP family; the \
                 dual-stack host only serves the same discovery document and keys. STS \
                 matches a token to the OIDC provider of its iss, so this one never matches \
                 (terraform-aws-modules/terraform-aws-eks#3237). Register an OIDC provider for \
                 {issuer} and use its ARN."
            ),
        ),
        Relation::Different => (
            "OIDC provider of another cluster",
            format!(
                "The OIDC provider {oidc} is for the issuer {provider_url}, but the cluster the \
                 provider is configured for issues service account tokens as {issuer} (read \
                 from {source}). STS accepts a token only through the OIDC provider of its \
                 iss, so the pods' AssumeRoleWithWebIdentity would fail with \
                 InvalidIdentityToken. Use this cluster's OIDC provider (data \
                 \"gitlabrunner_oidc_provider\" \"this\" {{}} finds it), or point the \
                 provider's kubernetes settings at the cluster this OIDC provider belongs to."
            ),
        ),
    };
    Some(Diagnostic::error(summary, detail).at(AttributePath::new("oidc_provider_arn")))
}

fn audience_refused(oidc: &OidcProviderArn, audience: &str, client_ids: &[String]) -> Diagnostic {
    let listed = if client_ids.is_empty() {
        "it lists none".to_string()
    } else {
        format!(
            "it lists {}",
            client_ids
                .iter()
                .map(|id| format!("\"{id}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (which, attribute, alternative) = if audience == DEFAULT_AUDIENCE {
        (" (the default, which IRSA uses)", "oidc_provider_arn", "")
    } else {
        (
            "",
            "audience",
            ", or set audience to one of the client IDs it lists",
        )
    };
    Diagnostic::error(
        "Audience not accepted by the OIDC provider",
        format!(
            "The binding's audience \"{audience}\"{which} is not a client ID of the OIDC \
             provider {oidc}: {listed}. STS refuses tokens whose aud the OIDC provider does not \
             list (InvalidIdentityToken: Incorrect token audience). Add it to the OIDC provider \
             (aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn \
             {oidc} --client-id {audience}, or client_id_list of \
             aws_iam_openid_connect_provider){alternative}."
        ),
    )
    .at(AttributePath::new(attribute))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::super::{IrsaBinding, testing};
    use super::*;
    use crate::codec::Severity;
    use crate::data_sources::oidc_provider::lookup::OidcProvider;
    use crate::framework::Resource as _;
    use crate::provider::ProviderData;
    use crate::provider::fake_aws::{FakeAws, query_error};
    use crate::wiring::IssuerSource;

    const HOST_PATH: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

    fn arn(host_path: &str) -> OidcProviderArn {
        OidcProviderArn::parse(&format!(
            "arn:aws:iam::123456789012:oidc-provider/{host_path}"
        ))
        .unwrap()
    }

    fn cluster(issuer: &str) -> ClusterIssuer {
        ClusterIssuer::Known {
            issuer: issuer.into(),
            jwks_uri: None,
            source: IssuerSource::Discovery,
        }
    }

    fn found(host_path: &str, client_ids: &[&str]) -> ProviderRead {
        ProviderRead::Found(OidcProvider {
            arn: arn(host_path.trim_end_matches('/')),
            url: host_path.into(),
            client_ids: client_ids.iter().map(|s| s.to_string()).collect(),
            thumbprints: Vec::new(),
            tags: BTreeMap::new(),
        })
    }

    fn summaries(diags: &Diagnostics) -> Vec<(Severity, String, String)> {
        diags
            .iter()
            .map(|d| {
                (
                    d.severity,
                    d.summary.clone(),
                    d.attribute
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// A provider process over a Kubernetes API whose issuer is [`testing::OIDC`]'s and an
    /// IAM that knows that OIDC provider; both record what they are asked.
    async fn provider_process() -> (Context, crate::wiring::tests::Seen, FakeAws) {
        let (kube, seen) = crate::wiring::tests::scripted(|_, _| {
            (
                200,
                serde_json::json!({"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"}),
            )
        });
        let aws = FakeAws::new(|seen| match seen.action() {
            "GetOpenIDConnectProvider" => (
                200,
                crate::wiring::tests::oidc_provider_answer(
                    "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
                ),
            ),
            _ => (400, query_error("InvalidAction", "not in this test")),
        });
        let provider = ProviderData::builder()
            .region("us-east-1")
            .default_oidc_provider_arn(testing::OIDC)
            .sdk_config(aws.sdk_config("us-east-1").await)
            .kube_client(kube)
            .build();
        let ctx = Context::new(Arc::new(provider), CancellationToken::new());
        (ctx, seen, aws)
    }

    fn actions(aws: &FakeAws) -> Vec<String> {
        aws.seen().iter().map(|s| s.action().to_string()).collect()
    }

    fn plans(
        ctx: &Context,
        change: &crate::framework::PlannedChange,
        count: usize,
    ) -> impl std::future::Future<Output = Vec<Diagnostics>> {
        let plans = (0..count).map(|_| {
            let (ctx, mut change) = (ctx.clone(), change.clone());
            async move { IrsaBinding.modify_plan(&ctx, &mut change).await }
        });
        futures::future::join_all(plans)
    }

    fn oidc_reads(aws: &FakeAws) -> usize {
        actions(aws)
            .iter()
            .filter(|a| *a == "GetOpenIDConnectProvider")
            .count()
    }

    #[tokio::test]
    async fn a_plan_reads_the_issuer_once_and_the_oidc_provider_only_for_what_it_wires() {
        let (ctx, seen, aws) = provider_process().await;
        let config = testing::manager_config();
        let (created, _) = testing::plan(&Value::Null, &config);
        let mut applied = created.planned.clone();
        applied.set_attr("role_unique_id", "AROAEXAMPLE".into());
        applied.set_attr("service_account_uid", "uid-1".into());
        applied.set_attr("service_account_adopted", false.into());
        let (unchanged, _) = testing::plan(&applied, &config);
        // 100 plans that keep the wiring, all at once as Terraform sends them: one request for
        // the proof of wiring, the cluster's issuer, and nothing from IAM. (This fixture's
        // state differs from its plan elsewhere, so the account question may be asked: that is
        // another check's, and once per process.)
        for diags in plans(&ctx, &unchanged, 100).await {
            assert!(!diags.has_errors(), "{diags:?}");
        }
        let kube: Vec<String> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
        assert_eq!(kube, ["/.well-known/openid-configuration"]);
        assert_eq!(oidc_reads(&aws), 0, "{:?}", actions(&aws));

        // 100 creates: the OIDC provider (one ARN) is read once, beside the account question.
        for diags in plans(&ctx, &created, 100).await {
            assert!(!diags.has_errors(), "{diags:?}");
        }
        assert_eq!(oidc_reads(&aws), 1);
        assert_eq!(seen.lock().unwrap().len(), 1, "the issuer is kept");

        // Apply checks again from what the process has read.
        let oidc = OidcProviderArn::parse(testing::OIDC).unwrap();
        let checks = (0..20).map(|_| check_full(&ctx, &oidc, "sts.amazonaws.com"));
        for diags in futures::future::join_all(checks).await {
            assert!(diags.is_empty(), "{diags:?}");
        }
        assert_eq!(oidc_reads(&aws), 1);
    }

    #[test]
    fn creates_and_changed_oidc_providers_or_audiences_rewire() {
        let planned = Value::object([
            ("oidc_provider_arn", Value::from("arn:a")),
            ("audience", Value::from("sts.amazonaws.com")),
            ("role_name", Value::from("r")),
        ]);
        assert!(rewires(&Value::Null, &planned));
        let mut prior = planned.clone();
        prior.set_attr("role_name", "old".into());
        assert!(!rewires(&prior, &planned));
        prior.set_attr("audience", "other".into());
        assert!(rewires(&prior, &planned));
        let mut prior = planned.clone();
        prior.set_attr("oidc_provider_arn", "arn:b".into());
        assert!(rewires(&prior, &planned));
    }

    #[tokio::test]
    async fn the_plan_refuses_another_clusters_provider_from_its_arn_alone() {
        let (ctx, _, aws) = provider_process().await;
        let other = OidcProviderArn::parse(
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/OTHER",
        )
        .unwrap();
        let diags = check_issuer(&ctx, &other).await;
        assert_eq!(
            summaries(&diags),
            [(
                Severity::Error,
                "OIDC provider of another cluster".to_string(),
                "oidc_provider_arn".to_string()
            )]
        );
        assert!(aws.seen().is_empty());
    }

    #[test]
    fn the_clusters_own_provider_passes_whatever_the_host_case() {
        let upper = HOST_PATH.replace(
            "oidc.eks.us-east-1.amazonaws.com",
            "OIDC.EKS.US-EAST-1.AMAZONAWS.COM",
        );
        for (issuer, host_path) in [
            (format!("https://{HOST_PATH}"), HOST_PATH.to_string()),
            (format!("https://{HOST_PATH}"), upper.clone()),
            (format!("https://{upper}/"), HOST_PATH.to_string()),
        ] {
            let cluster = cluster(&issuer);
            let oidc = arn(&host_path);
            assert!(
                check_arn(&cluster, &oidc).is_empty(),
                "{issuer} {host_path}"
            );
            let read = found(&format!("{host_path}/"), &["sts.amazonaws.com"]);
            assert!(
                check_provider(&cluster, &oidc, &read, "sts.amazonaws.com").is_empty(),
                "{issuer} {host_path}"
            );
        }
    }

    #[test]
    fn another_clusters_provider_is_an_error_naming_both_issuers() {
        let cluster = cluster("https://kubernetes.default.svc.cluster.local");
        let diags = check_arn(&cluster, &arn(HOST_PATH));
        assert_eq!(
            summaries(&diags),
            [(
                Severity::Error,
                "OIDC provider of another cluster".to_string(),
                "oidc_provider_arn".to_string()
            )]
        );
        let detail = &diags.iter().next().unwrap().detail;
        assert!(
            detail.contains(&format!("for the issuer https://{HOST_PATH}")),
            "{detail}"
        );
        assert!(
            detail.contains("as https://kubernetes.default.svc.cluster.local (read from the cluster's /.well-known/openid-configuration)"),
            "{detail}"
        );
    }

    #[test]
    fn iams_url_is_compared_too() {
        let cluster = cluster(&format!("https://{HOST_PATH}"));
        let read = found("oidc.example.com/other", &["sts.amazonaws.com"]);
        let diags = check_provider(&cluster, &arn(HOST_PATH), &read, "sts.amazonaws.com");
        assert_eq!(
            diags.iter().next().unwrap().summary,
            "OIDC provider of another cluster"
        );
        assert!(
            diags
                .iter()
                .next()
                .unwrap()
                .detail
                .contains("https://oidc.example.com/other")
        );
    }

    #[test]
    fn the_dual_stack_host_is_an_error_that_says_so() {
        let cluster = cluster(&format!("https://{HOST_PATH}"));
        let dual = "oidc-eks.us-east-1.api.aws/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
        let diags = check_arn(&cluster, &arn(dual));
        let diagnostic = diags.iter().next().unwrap();
        assert_eq!(
            diagnostic.summary,
            "OIDC provider registered for the dual-stack issuer host"
        );
        assert!(diagnostic.detail.contains(&format!(
            "Register an OIDC provider for https://{HOST_PATH}"
        )));
    }

    #[test]
    fn an_unreadable_cluster_issuer_is_a_warning_with_the_reason() {
        let cluster = ClusterIssuer::Unreadable {
            reason: "GET /.well-known/openid-configuration failed (403 Forbidden): no".into(),
        };
        let diags = check_arn(&cluster, &arn(HOST_PATH));
        assert_eq!(
            summaries(&diags),
            [(
                Severity::Warning,
                "OIDC provider not checked against the cluster".to_string(),
                "oidc_provider_arn".to_string()
            )]
        );
        assert!(
            diags
                .iter()
                .next()
                .unwrap()
                .detail
                .contains("(403 Forbidden): no.")
        );
        // The audience is still checked.
        let read = found(HOST_PATH, &["other"]);
        let diags = check_provider(&cluster, &arn(HOST_PATH), &read, "sts.amazonaws.com");
        assert_eq!(
            diags.iter().next().unwrap().summary,
            "Audience not accepted by the OIDC provider"
        );
    }

    #[test]
    fn a_missing_audience_names_it_and_the_client_ids() {
        let cluster = cluster(&format!("https://{HOST_PATH}"));
        let read = found(HOST_PATH, &["a", "b"]);
        let default = check_provider(&cluster, &arn(HOST_PATH), &read, "sts.amazonaws.com");
        assert_eq!(
            summaries(&default),
            [(
                Severity::Error,
                "Audience not accepted by the OIDC provider".to_string(),
                "oidc_provider_arn".to_string()
            )]
        );
        let detail = &default.iter().next().unwrap().detail;
        assert!(
            detail.contains("\"sts.amazonaws.com\" (the default, which IRSA uses)"),
            "{detail}"
        );
        assert!(detail.contains("it lists \"a\", \"b\""), "{detail}");
        let custom = check_provider(&cluster, &arn(HOST_PATH), &read, "my-audience");
        assert_eq!(summaries(&custom)[0].2, "audience");
        assert!(
            custom
                .iter()
                .next()
                .unwrap()
                .detail
                .contains("or set audience")
        );
        let none = check_provider(&cluster, &arn(HOST_PATH), &found(HOST_PATH, &[]), "x");
        assert!(none.iter().next().unwrap().detail.contains("it lists none"));
    }

    #[test]
    fn a_deleted_provider_is_an_error_and_a_failed_read_a_warning() {
        let cluster = cluster(&format!("https://{HOST_PATH}"));
        let missing = check_provider(
            &cluster,
            &arn(HOST_PATH),
            &ProviderRead::Missing,
            "sts.amazonaws.com",
        );
        assert_eq!(
            summaries(&missing),
            [(
                Severity::Error,
                "OIDC provider not found".to_string(),
                "oidc_provider_arn".to_string()
            )]
        );
        assert!(
            missing
                .iter()
                .next()
                .unwrap()
                .detail
                .contains("eksctl utils associate-iam-oidc-provider")
        );
        let failed = check_provider(
            &cluster,
            &arn(HOST_PATH),
            &ProviderRead::Failed("iam:GetOpenIDConnectProvider failed (AccessDenied): no".into()),
            "sts.amazonaws.com",
        );
        assert_eq!(summaries(&failed)[0].0, Severity::Warning);
        assert_eq!(summaries(&failed)[0].1, "OIDC provider not read");
    }
}
