//! Issue 2's "done means" through the real CLI: Terraform loads the provider over AutoMTLS,
//! `terraform validate` and `terraform plan` succeed on a configuration that sets the provider
//! block and reads `gitlabrunner_oidc_provider` by ARN and by issuer URL from the AWS emulator;
//! a missing OIDC provider and an invalid provider block fail with diagnostics that name the
//! attribute.

use gitlabrunner_acceptance::{PROVIDER_ADDRESS, harness, hcl, random_suffix};
use serde_json::{Value, json};

use crate::aws_fixtures::emulator_name;
use crate::miswiring_plan::{Cluster, register, unregister};

/// A unique EKS-style issuer host path (`oidc.eks.REGION.amazonaws.com/id/ID`).
fn unique_issuer(region: &str) -> String {
    format!(
        "oidc.eks.{region}.amazonaws.com/id/ACC{}",
        random_suffix().to_uppercase()
    )
}

/// The provider block every configuration here uses: AWS settings written out (the workspace's
/// AWS_ENDPOINT_URL and AWS_REGION are removed, so the block must carry them) and the
/// Kubernetes kubeconfig.
fn provider_block(endpoint: &str, region: &str, kubeconfig: &str) -> String {
    hcl::with_provider(&format!(
        "  aws {{\n    region       = {}\n    endpoint_url = {}\n    max_retries  = 3\n  }}\n  \
         kubernetes {{\n    config_path = {}\n  }}\n  default_tags = {{\n    team = \"ci\"\n  }}",
        hcl::quote(region),
        hcl::quote(endpoint),
        hcl::quote(kubeconfig),
    ))
}

fn data_source(name: &str, argument: &str, value: &str) -> String {
    format!(
        "\ndata \"gitlabrunner_oidc_provider\" \"{name}\" {{\n  {argument} = {}\n}}\n\n\
         output \"{name}\" {{\n  value = data.gitlabrunner_oidc_provider.{name}\n}}\n",
        hcl::quote(value)
    )
}

#[tokio::test]
async fn provider_block_and_oidc_provider_by_arn_and_url_validate_and_plan() {
    let test = "provider_block_and_oidc_provider_by_arn_and_url_validate_and_plan";
    let Some(h) = harness(test).await else {
        return;
    };
    let region = h.aws().region();
    let clients = h.aws_clients().await;
    let issuer = unique_issuer(region);
    let url = format!("https://{issuer}");
    let thumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
    let arn = clients
        .iam
        .create_open_id_connect_provider()
        .url(&url)
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list(thumbprint)
        .send()
        .await
        .unwrap()
        .open_id_connect_provider_arn
        .unwrap();
    let kubeconfig = h.kubernetes().unwrap().kubeconfig().display().to_string();
    let mut ws = h.workspace().unwrap();
    ws.remove_env("AWS_ENDPOINT_URL")
        .remove_env("AWS_REGION")
        .remove_env("AWS_DEFAULT_REGION");
    ws.write(
        "main.tf",
        &format!(
            "{}{}{}",
            provider_block(h.aws().endpoint(), region, &kubeconfig),
            data_source("by_arn", "arn", &arn),
            data_source("by_url", "url", &url),
        ),
    )
    .unwrap();

    let warnings = ws.validate().await.unwrap();
    let plan = ws.plan().await.unwrap();

    assert!(warnings.iter().all(|d| !d.is_error()), "{warnings:?}");
    assert!(!plan.errored);
    let output = |name: &str| plan.raw["output_changes"][name]["after"].clone();
    let expected = |url_as_configured: &str| {
        json!({
            "arn": arn,
            "url": url_as_configured,
            "issuer_host_path": issuer,
            "account_id": h.account_id(),
            "partition": "aws",
            "client_ids": ["sts.amazonaws.com"],
            "thumbprints": [thumbprint],
            // The cluster's issuer is read only by the argument-less lookup.
            "issuer": null,
            "jwks_uri": null,
        })
    };
    for (name, configured_url) in [("by_arn", url.clone()), ("by_url", url.clone())] {
        let mut found = output(name);
        let tags = found
            .as_object_mut()
            .and_then(|o| o.remove("tags"))
            .unwrap_or(Value::Null);
        assert_eq!(
            found,
            expected(&configured_url),
            "{name} against {}",
            emulator_name(&h)
        );
        assert_eq!(tags, json!({}), "{name}: the provider has no tags");
    }
    let log = ws.provider_log();
    assert!(
        log.contains("configuring client automatic mTLS") && !log.contains("AutoMTLS is off"),
        "Terraform and the provider did not use AutoMTLS:\n{}",
        ws.provider_log_tail(30)
    );
    assert!(
        log.contains("rpc=ReadDataSource"),
        "the data source was not read through the plugin:\n{}",
        ws.provider_log_tail(30)
    );
    clients
        .iam
        .delete_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_oidc_provider_fails_plan_naming_what_was_looked_up() {
    let test = "missing_oidc_provider_fails_plan_naming_what_was_looked_up";
    let Some(h) = harness(test).await else {
        return;
    };
    let issuer = unique_issuer(h.aws().region());
    let arn = format!("arn:aws:iam::{}:oidc-provider/{issuer}", h.account_id());
    let url = format!("https://{issuer}");
    let ws = h.workspace().unwrap();
    ws.write(
        "main.tf",
        &format!(
            "{}{}{}",
            hcl::with_provider(""),
            data_source("by_arn", "arn", &arn),
            data_source("by_url", "url", &url),
        ),
    )
    .unwrap();

    let diagnostics = ws.plan_expect_error().await.unwrap();

    for (address, argument, looked_up) in [
        ("data.gitlabrunner_oidc_provider.by_arn", "arn", &arn),
        ("data.gitlabrunner_oidc_provider.by_url", "url", &url),
    ] {
        let error = diagnostics
            .iter()
            .find(|d| d.is_error() && d.address.as_deref() == Some(address))
            .unwrap_or_else(|| panic!("no error for {address} in {diagnostics:#?}"));
        assert_eq!(error.summary, "OIDC provider not found", "{error:?}");
        assert_eq!(
            error.highlighted(),
            Some(hcl::quote(looked_up).as_str()),
            "the error points at {argument}: {error:?}"
        );
        assert!(
            error
                .detail
                .contains(looked_up.trim_start_matches("https://")),
            "the detail names what was looked up: {}",
            error.detail
        );
        assert!(
            error
                .detail
                .contains("Create the cluster's IAM OIDC provider first"),
            "{}",
            error.detail
        );
    }
}

#[tokio::test]
async fn invalid_provider_block_fails_validate_and_plan_naming_the_attribute() {
    let test = "invalid_provider_block_fails_validate_and_plan_naming_the_attribute";
    let Some(h) = harness(test).await else {
        return;
    };
    let proxy = h.start_proxy().unwrap();
    let ws = h.workspace_via(&proxy).unwrap();
    // The data source makes plan configure the provider (validate never does).
    ws.write(
        "main.tf",
        &format!(
            "{}{}",
            hcl::with_provider(
                "  aws {\n    region = \"mars-1\"\n  }\n  kubernetes {\n    host = \"ftp://cluster\"\n  }"
            ),
            data_source("cluster", "url", &format!("https://{}", unique_issuer("us-east-1"))),
        ),
    )
    .unwrap();

    let validated = ws.validate_expect_error().await.unwrap();
    let planned = ws.plan_expect_error().await.unwrap();

    let provider = format!("provider[\"{PROVIDER_ADDRESS}\"]");
    for (command, diagnostics) in [("validate", &validated), ("plan", &planned)] {
        let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
        // OpenTofu names the same provider under its own registry's host.
        let addresses: Vec<Option<String>> = errors
            .iter()
            .map(|d| {
                d.address
                    .as_deref()
                    .map(|a| a.replace("registry.opentofu.org/", "registry.terraform.io/"))
            })
            .collect();
        let found: Vec<(&str, Option<&str>, Option<&str>)> = errors
            .iter()
            .zip(&addresses)
            .map(|(d, address)| (d.summary.as_str(), d.highlighted(), address.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "Invalid AWS region",
                    Some("\"mars-1\""),
                    Some(provider.as_str())
                ),
                (
                    "Invalid Kubernetes API server URL",
                    Some("\"ftp://cluster\""),
                    Some(provider.as_str())
                ),
            ],
            "{command}: {errors:#?}"
        );
        assert!(errors[0].detail.contains("is not an AWS region name"));
    }
    assert_eq!(
        proxy.requests().len(),
        0,
        "an invalid provider block makes no AWS call: {:?}",
        proxy.requests()
    );
}

/// `data "gitlabrunner_oidc_provider" "this" {}` with a cluster of the test's own.
fn cluster_lookup(kubeconfig: &str) -> String {
    format!(
        "{}\ndata \"gitlabrunner_oidc_provider\" \"this\" {{}}\n\noutput \"this\" {{\n  value = \
         data.gitlabrunner_oidc_provider.this\n}}\n",
        hcl::with_provider(&format!(
            "  kubernetes {{\n    config_path = {}\n  }}",
            hcl::quote(kubeconfig)
        )),
    )
}

#[tokio::test]
async fn oidc_provider_without_arguments_is_found_from_the_clusters_issuer() {
    let test = "oidc_provider_without_arguments_is_found_from_the_clusters_issuer";
    let Some(h) = harness(test).await else {
        return;
    };
    if h.emulator_for(test, "an issuer of its own").is_none() {
        return;
    }
    let aws = h.aws_clients().await;
    let cluster = Cluster::start().await;
    // Another provider of the account first, so the lookup has to pick.
    let other = register(
        &aws,
        &format!("https://{}", unique_issuer(h.aws().region())),
        &["sts.amazonaws.com"],
    )
    .await;
    let arn = register(&aws, &cluster.issuer, &["sts.amazonaws.com"]).await;
    let ws = h.workspace().unwrap();
    ws.write(
        "main.tf",
        &cluster_lookup(&cluster.kubeconfig.display().to_string()),
    )
    .unwrap();

    let plan = ws.plan().await.unwrap();

    let found = &plan.raw["output_changes"]["this"]["after"];
    let host_path = cluster.issuer.trim_start_matches("https://");
    assert_eq!(found["arn"], arn.as_str(), "{found:#}");
    assert_eq!(found["url"], cluster.issuer.as_str());
    assert_eq!(found["issuer_host_path"], host_path);
    assert_eq!(found["issuer"], cluster.issuer.as_str());
    assert_eq!(
        found["jwks_uri"],
        format!("{}/openid/v1/jwks", cluster.emulator.url()).as_str()
    );
    assert_eq!(found["client_ids"], json!(["sts.amazonaws.com"]));
    unregister(&aws, &arn).await;
    unregister(&aws, &other).await;
}

#[tokio::test]
async fn oidc_provider_without_arguments_shows_how_to_create_the_missing_one() {
    let test = "oidc_provider_without_arguments_shows_how_to_create_the_missing_one";
    let Some(h) = harness(test).await else {
        return;
    };
    if h.emulator_for(test, "an issuer of its own").is_none() {
        return;
    }
    let cluster = Cluster::start().await;
    let ws = h.workspace().unwrap();
    ws.write(
        "main.tf",
        &cluster_lookup(&cluster.kubeconfig.display().to_string()),
    )
    .unwrap();

    let diagnostics = ws.plan_expect_error().await.unwrap();

    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{diagnostics:#?}");
    let error = errors[0];
    assert_eq!(error.summary, "OIDC provider not found");
    assert_eq!(
        error.address.as_deref(),
        Some("data.gitlabrunner_oidc_provider.this")
    );
    let host_path = cluster.issuer.trim_start_matches("https://");
    // "in account N" and the account's other providers follow when it has any.
    assert!(
        error.detail.starts_with(&format!(
            "no IAM OIDC provider for the issuer https://{host_path} "
        )),
        "{}",
        error.detail
    );
    let tail = format!(
        "The issuer was read from the cluster's /.well-known/openid-configuration. Create the \
         cluster's IAM OIDC provider with eksctl:\n\n  eksctl utils \
         associate-iam-oidc-provider --cluster CLUSTER --approve\n\nor with Terraform \
         (hashicorp/aws):\n\n  resource \"aws_iam_openid_connect_provider\" \"cluster\" {{\n    \
         url            = \"{}\"\n    client_id_list = [\"sts.amazonaws.com\"]\n  }}\n\nThen \
         plan again; if it exists, check that this provider uses its AWS account and \
         partition (https://{host_path}).",
        cluster.issuer
    );
    assert!(
        error.detail.ends_with(&tail),
        "{}\n--- expected to end with ---\n{tail}",
        error.detail
    );
}
