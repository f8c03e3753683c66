//! The real Terraform CLI loads the provider and talks to it over AutoMTLS gRPC.

use gitlabrunner_acceptance::{harness, hcl};

#[tokio::test]
async fn terraform_loads_the_provider_with_automtls_then_validates_and_plans() {
    let Some(h) =
        harness("terraform_loads_the_provider_with_automtls_then_validates_and_plans").await
    else {
        return;
    };
    let ws = h.workspace().unwrap();
    assert!(
        !ws.env().contains_key("TF_DISABLE_PLUGIN_TLS"),
        "the harness must leave AutoMTLS on"
    );
    ws.write("main.tf", &hcl::with_provider("")).unwrap();

    let warnings = ws.validate().await.unwrap();
    let plan = ws.plan().await.unwrap();

    assert!(warnings.iter().all(|d| !d.is_error()), "{warnings:?}");
    assert!(plan.is_empty(), "{}", plan.summary());
    assert!(!plan.errored);
    let log = ws.provider_log();
    assert!(
        log.contains("rpc=GetProviderSchema"),
        "the provider log shows no RPCs; log:\n{}",
        ws.provider_log_tail(30)
    );
    assert!(
        log.contains("configuring client automatic mTLS") && !log.contains("AutoMTLS is off"),
        "Terraform and the provider did not use AutoMTLS:\n{}",
        ws.provider_log_tail(30)
    );
}
