//! The rig itself against the real emulator and the real CLI: account id, unique names, the
//! AWS proxy's faults and latency as the SDK sees them, and the Workspace lifecycle.

use std::time::{Duration, Instant};

use aws_sdk_iam::error::ProvideErrorMetadata as _;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::aws::proxy::{FaultAction, FaultRule, Latency, Matcher};
use gitlabrunner_acceptance::terraform::Action;
use gitlabrunner_acceptance::{harness, hcl, unique_name};

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[tokio::test]
async fn emulator_accounts_objects_to_the_account_sts_reports() {
    let Some(h) = harness("emulator_accounts_objects_to_the_account_sts_reports").await else {
        return;
    };
    let clients = h.aws_clients().await;
    let name = unique_name("acc-rig");

    let role = clients
        .iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(TRUST_POLICY)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();

    let account = h.account_id();
    assert_eq!(account.len(), 12, "{account}");
    assert!(account.chars().all(|c| c.is_ascii_digit()), "{account}");
    assert_eq!(role.arn, format!("arn:aws:iam::{account}:role/{name}"));
}

#[tokio::test]
async fn proxy_faults_reach_the_sdk_as_aws_error_codes() {
    let Some(h) = harness("proxy_faults_reach_the_sdk_as_aws_error_codes").await else {
        return;
    };
    let proxy = h.start_proxy().unwrap();
    let no_retries = AwsClients::with_max_attempts(proxy.url(), h.aws().region(), 1).await;
    let name = unique_name("acc-proxy");
    let bucket = unique_name("acc-proxy");
    proxy.add_fault(FaultRule::nth(
        Matcher::operation("iam", "CreateRole"),
        1,
        FaultAction::access_denied(),
    ));
    proxy.add_fault(FaultRule::always(
        Matcher::operation("sts", "GetCallerIdentity"),
        FaultAction::throttling(),
    ));
    proxy.add_fault(FaultRule::nth(
        Matcher::operation("s3", "PutBucketPolicy"),
        1,
        FaultAction::internal_error(),
    ));

    let create = |clients: &AwsClients| {
        clients
            .iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(TRUST_POLICY)
            .send()
    };
    let denied = create(&no_retries).await.unwrap_err();
    let created = create(&no_retries).await;
    let throttled = no_retries
        .sts
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    no_retries
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
    );
    let failed_policy = no_retries
        .s3
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(&policy)
        .send()
        .await
        .unwrap_err();

    assert_eq!(denied.code(), Some("AccessDenied"), "{denied:?}");
    assert!(
        created.is_ok(),
        "only the first CreateRole fails: {created:?}"
    );
    assert_eq!(throttled.code(), Some("Throttling"), "{throttled:?}");
    assert_eq!(
        failed_policy.code(),
        Some("InternalError"),
        "{failed_policy:?}"
    );
    let log: Vec<(String, Option<u16>)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.kind(), r.status))
        .collect();
    assert_eq!(
        log,
        [
            ("iam:CreateRole".to_string(), Some(403)),
            ("iam:CreateRole".to_string(), Some(200)),
            ("sts:GetCallerIdentity".to_string(), Some(400)),
            ("s3:CreateBucket".to_string(), Some(200)),
            ("s3:PutBucketPolicy".to_string(), Some(500)),
        ]
    );
}

#[tokio::test]
async fn sdk_retries_an_injected_throttle_and_latency_shows_in_the_log() {
    let Some(h) = harness("sdk_retries_an_injected_throttle_and_latency_shows_in_the_log").await
    else {
        return;
    };
    let proxy = h.start_proxy().unwrap();
    let clients = AwsClients::new(proxy.url(), h.aws().region()).await;
    proxy.set_latency(Latency::Fixed(Duration::from_millis(150)));
    proxy.add_fault(FaultRule::nth(
        Matcher::service("sts"),
        1,
        FaultAction::throttling(),
    ));

    let started = Instant::now();
    let identity = clients.sts.get_caller_identity().send().await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(identity.account(), Some(h.account_id()));
    let log = proxy.requests();
    assert_eq!(log.len(), 2, "one throttled attempt and one retry: {log:?}");
    assert_eq!(log[0].fault.as_deref(), Some("400 Throttling"));
    assert_eq!(log[1].status, Some(200));
    assert!(
        log.iter()
            .all(|r| r.duration() >= Duration::from_millis(150)),
        "{log:?}"
    );
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert_eq!(proxy.critical_path_depth(), 2);
}

#[tokio::test]
async fn dropped_connection_is_a_dispatch_failure_for_the_sdk() {
    let Some(h) = harness("dropped_connection_is_a_dispatch_failure_for_the_sdk").await else {
        return;
    };
    let proxy = h.start_proxy().unwrap();
    let clients = AwsClients::with_max_attempts(proxy.url(), h.aws().region(), 1).await;
    proxy.add_fault(FaultRule::always(
        Matcher::service("iam"),
        FaultAction::DropConnection,
    ));

    let error = clients.iam.list_roles().send().await.unwrap_err();

    assert!(
        matches!(error, aws_sdk_iam::error::SdkError::DispatchFailure(_)),
        "{error:?}"
    );
    assert_eq!(proxy.requests()[0].fault.as_deref(), Some("drop"));
}

/// `terraform_data` is built into Terraform, so the whole Workspace API can be exercised
/// before the provider has resources; the provider block is loaded alongside.
fn terraform_data_config(input: &str, postcondition: Option<&str>) -> String {
    let lifecycle = postcondition
        .map(|condition| {
            format!(
                "\n  lifecycle {{\n    postcondition {{\n      condition     = {condition}\n      error_message = \"the output is not what the test wants\"\n    }}\n  }}"
            )
        })
        .unwrap_or_default();
    format!(
        "{}\nresource \"terraform_data\" \"probe\" {{\n  input = {}{lifecycle}\n}}\n",
        hcl::with_provider(""),
        hcl::quote(input)
    )
}

#[tokio::test]
async fn workspace_runs_plan_apply_show_refresh_and_destroy() {
    let Some(h) = harness("workspace_runs_plan_apply_show_refresh_and_destroy").await else {
        return;
    };
    let ws = h.workspace().unwrap();
    let input = unique_name("probe");
    ws.write("main.tf", &terraform_data_config(&input, None))
        .unwrap();

    let plan = ws.plan().await.unwrap();
    assert_eq!(plan.actions("terraform_data.probe"), [Action::Create]);
    assert!(
        plan.change("terraform_data.probe")
            .unwrap()
            .is_unknown_after("id")
    );

    let applied = ws.apply().await.unwrap();
    assert_eq!(applied.change_summary().map(|s| s.add), Some(1));
    let state = ws.show().await.unwrap();
    let probe = state.resource("terraform_data.probe").unwrap();
    assert_eq!(probe.str_attr("input"), Some(input.as_str()));
    assert!(ws.plan().await.unwrap().is_empty(), "no perpetual diff");
    assert!(ws.plan_refresh_only().await.unwrap().is_empty());

    ws.write(
        "main.tf",
        &terraform_data_config(&unique_name("probe"), None),
    )
    .unwrap();
    let changed = ws.plan().await.unwrap();
    assert!(!changed.is_empty());

    let destroyed = ws.destroy().await.unwrap();
    assert_eq!(destroyed.change_summary().map(|s| s.remove), Some(1));
    assert!(ws.show().await.unwrap().is_empty());
}

#[tokio::test]
async fn failed_apply_returns_diagnostics_with_context_and_snippet() {
    let Some(h) = harness("failed_apply_returns_diagnostics_with_context_and_snippet").await else {
        return;
    };
    let ws = h.workspace().unwrap();
    ws.write(
        "main.tf",
        &terraform_data_config("kept", Some("self.output == \"something else\"")),
    )
    .unwrap();

    let diagnostics = ws.apply_expect_error().await.unwrap();

    let error = diagnostics
        .iter()
        .find(|d| d.is_error())
        .unwrap_or_else(|| panic!("no error in {diagnostics:?}"));
    assert_eq!(error.summary, "Resource postcondition failed", "{error:?}");
    assert_eq!(error.detail, "the output is not what the test wants");
    let snippet = error.snippet.as_ref().unwrap();
    assert_eq!(
        snippet.context.as_deref(),
        Some("resource \"terraform_data\" \"probe\"")
    );
    assert_eq!(
        error.highlighted(),
        Some("self.output == \"something else\""),
        "{error:?}"
    );
    // The postcondition is checked after the create: state holds what exists.
    let state = ws.show().await.unwrap();
    assert_eq!(state.addresses(), ["terraform_data.probe"]);
}
