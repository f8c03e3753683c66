//! The rig itself against the real emulator and the real CLI: account id, unique names, the
//! AWS proxy's faults and latency as the SDK sees them, the rig's EKS Pod Identity and EKS Auth
//! through the real SDK clients, and the Workspace lifecycle.

use std::time::{Duration, Instant};

use aws_sdk_iam::error::ProvideErrorMetadata as _;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::aws::eks::CLUSTER_NAME;
use gitlabrunner_acceptance::aws::proxy::{FaultAction, FaultRule, Latency, Matcher};
use gitlabrunner_acceptance::terraform::Action;
use gitlabrunner_acceptance::{TestNamespaces, harness, hcl, unique_name};

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
    assert_eq!(
        proxy.outcomes(),
        [
            "iam:CreateRole 403",
            "iam:CreateRole 200",
            "sts:GetCallerIdentity 400",
            "s3:CreateBucket 200",
            "s3:PutBucketPolicy 500",
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

/// The Pod Identity trust for `namespace/service_account` in the rig's cluster, as the EKS
/// user guide writes it (principal, both actions, the session-tag and source conditions).
fn pod_identity_trust(account: &str, region: &str, namespace: &str, sa: &str) -> String {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "pods.eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Condition": {
            "StringEquals": {
                "aws:RequestTag/eks-cluster-name": CLUSTER_NAME,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": sa,
                "aws:SourceAccount": account,
            },
            "ArnEquals": {"aws:SourceArn": format!("arn:aws:eks:{region}:{account}:cluster/{CLUSTER_NAME}")},
        },
    }]})
    .to_string()
}

/// A Pod Identity trust without the session-tag conditions.
const UNSCOPED_POD_IDENTITY_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"somewhere-else"}}}]}"#;

/// A token of `namespace/name` for `audience`, minted by the run's Kubernetes API.
async fn token_request(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    audience: &str,
) -> String {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_string()],
            expiration_seconds: Some(600),
            bound_object_ref: None,
        },
        ..TokenRequest::default()
    };
    kube::Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &kube::api::PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{name}: {e}"))
        .status
        .expect("TokenRequest answers a status")
        .token
}

#[tokio::test]
async fn rig_serves_eks_pod_identity_and_eks_auth_to_the_sdk() {
    use aws_sdk_eks::error::ProvideErrorMetadata as _;
    let Some(h) = harness("rig_serves_eks_pod_identity_and_eks_auth_to_the_sdk").await else {
        return;
    };
    let proxy = h.start_proxy().unwrap();
    assert!(proxy.serves_eks(), "the harness registers the rig's EKS");
    let region = h.aws().region();
    let account = h.account_id();
    let clients = AwsClients::with_max_attempts(proxy.url(), region, 1).await;
    let kube = h.kubernetes().unwrap().client().await.unwrap();
    let mut namespaces = TestNamespaces::new(h.clone()).await.unwrap();
    let namespace = namespaces.create("acc-pi").await;
    let service_account = "runner";
    let sa = k8s_openapi::api::core::v1::ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some(service_account.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    kube::Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(kube.clone(), &namespace)
        .create(&kube::api::PostParams::default(), &sa)
        .await
        .unwrap();
    let scoped = unique_name("acc-pi-scoped");
    let unscoped = unique_name("acc-pi-unscoped");
    let irsa_only = unique_name("acc-pi-irsa");
    let mut role_arns = Vec::new();
    for (name, trust) in [
        (
            &scoped,
            pod_identity_trust(account, region, &namespace, service_account),
        ),
        (&unscoped, UNSCOPED_POD_IDENTITY_TRUST.to_string()),
        (&irsa_only, TRUST_POLICY.to_string()),
    ] {
        let role = clients
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap();
        role_arns.push(role.role.unwrap().arn);
    }
    let (scoped_arn, unscoped_arn, irsa_arn) = (&role_arns[0], &role_arns[1], &role_arns[2]);
    let eks = &clients.eks;

    // Create, describe, list.
    let created = eks
        .create_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .namespace(&namespace)
        .service_account(service_account)
        .role_arn(scoped_arn)
        .tags("owner", "acceptance")
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    let id = created.association_id().unwrap().to_string();
    assert!(id.starts_with("a-") && id.len() == 19, "{id}");
    assert_eq!(
        created.association_arn(),
        Some(
            format!("arn:aws:eks:{region}:{account}:podidentityassociation/{CLUSTER_NAME}/{id}")
                .as_str()
        )
    );
    assert_eq!(created.role_arn(), Some(scoped_arn.as_str()));
    assert_eq!(created.created_at(), created.modified_at());
    let described = eks
        .describe_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    assert_eq!(described, created);
    let listed = eks
        .list_pod_identity_associations()
        .cluster_name(CLUSTER_NAME)
        .namespace(&namespace)
        .service_account(service_account)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .associations()
        .iter()
        .filter_map(|a| a.association_id())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    // Clients built for the emulator's own endpoint reach the rig's EKS too.
    let direct = h.aws_clients().await;
    assert!(direct.serves_pod_identity());
    let seen = direct
        .eks
        .list_pod_identity_associations()
        .cluster_name(CLUSTER_NAME)
        .namespace(&namespace)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.associations(), listed.associations());
    // Workspaces send EKS and EKS Auth to the rig: straight ones through the harness's rig
    // proxy, proxied ones through their proxy (which serves the rig too).
    let direct_ws = h.workspace().unwrap();
    let rig_url = direct_ws.env()["AWS_ENDPOINT_URL_EKS"].clone();
    assert_eq!(direct_ws.env()["AWS_ENDPOINT_URL_EKS_AUTH"], rig_url);
    assert_ne!(rig_url, h.aws().endpoint());
    let via_rig_url = AwsClients::with_max_attempts(&rig_url, region, 1).await;
    let seen = via_rig_url
        .eks
        .list_pod_identity_associations()
        .cluster_name(CLUSTER_NAME)
        .namespace(&namespace)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.associations(), listed.associations());
    let proxied_ws = h.workspace_via(&proxy).unwrap();
    assert!(!proxied_ws.env().contains_key("AWS_ENDPOINT_URL_EKS"));
    assert_eq!(proxied_ws.env()["AWS_ENDPOINT_URL"], proxy.url());

    // The conflicts and refusals.
    let conflict = eks
        .create_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .namespace(&namespace)
        .service_account(service_account)
        .role_arn(unscoped_arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        conflict
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception()),
        "{conflict:?}"
    );
    assert_eq!(
        conflict.raw_response().map(|r| r.status().as_u16()),
        Some(409)
    );
    let not_trusted = eks
        .create_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .namespace(&namespace)
        .service_account("other")
        .role_arn(irsa_arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        not_trusted
            .as_service_error()
            .is_some_and(|e| e.is_invalid_parameter_exception()),
        "{not_trusted:?}"
    );
    let unknown_id = eks
        .describe_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id("a-0000000000000000a")
        .send()
        .await
        .unwrap_err();
    assert!(
        unknown_id
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{unknown_id:?}"
    );
    let unknown_cluster = eks
        .list_pod_identity_associations()
        .cluster_name("no-such-cluster")
        .send()
        .await
        .unwrap_err();
    assert!(
        unknown_cluster
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{unknown_cluster:?}"
    );
    assert_eq!(
        unknown_cluster.raw_response().map(|r| r.status().as_u16()),
        Some(404)
    );

    // EKS Auth with a real token of the run's Kubernetes API.
    let token = token_request(&kube, &namespace, service_account, "pods.eks.amazonaws.com").await;
    let assumed = clients
        .eks_auth
        .assume_role_for_pod_identity()
        .cluster_name(CLUSTER_NAME)
        .token(&token)
        .send()
        .await
        .unwrap();
    let subject = assumed.subject().unwrap();
    assert_eq!(
        (subject.namespace(), subject.service_account()),
        (namespace.as_str(), service_account)
    );
    assert_eq!(assumed.audience(), "pods.eks.amazonaws.com");
    assert_eq!(
        assumed.pod_identity_association().unwrap().association_id(),
        id
    );
    let user = assumed.assumed_role_user().unwrap();
    assert!(
        user.arn()
            .contains(&format!(":assumed-role/{scoped}/eks-{CLUSTER_NAME}-")),
        "{user:?}"
    );
    // STS was asked with the session tags EKS passes (no pod tags: the token names no pod).
    let call = h
        .eks_rig()
        .unwrap()
        .assumed_roles()
        .into_iter()
        .find(|c| {
            c.tags
                .contains(&("kubernetes-namespace".to_string(), namespace.clone()))
        })
        .expect("the rig called AssumeRole for this namespace");
    assert_eq!(&call.role_arn, scoped_arn);
    let tags: std::collections::BTreeMap<String, String> = call.tags.into_iter().collect();
    assert_eq!(
        tags,
        std::collections::BTreeMap::from([
            (
                "eks-cluster-arn".to_string(),
                format!("arn:aws:eks:{region}:{account}:cluster/{CLUSTER_NAME}")
            ),
            ("eks-cluster-name".to_string(), CLUSTER_NAME.to_string()),
            ("kubernetes-namespace".to_string(), namespace.clone()),
            (
                "kubernetes-service-account".to_string(),
                service_account.to_string()
            ),
        ])
    );
    // The credentials are the emulator's: STS knows them.
    let credentials = assumed.credentials().unwrap();
    let as_pod = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&aws_config::SdkConfig::builder().build())
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(region.to_string()))
            .endpoint_url(h.aws().endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_string()),
                None,
                "eks-auth",
            ))
            .build(),
    );
    let identity = as_pod.get_caller_identity().send().await.unwrap();
    assert!(
        identity.arn().unwrap_or_default().contains(&scoped),
        "{identity:?}"
    );
    // A token for another audience.
    let sts_token = token_request(&kube, &namespace, service_account, "sts.amazonaws.com").await;
    let wrong_audience = clients
        .eks_auth
        .assume_role_for_pod_identity()
        .cluster_name(CLUSTER_NAME)
        .token(&sts_token)
        .send()
        .await
        .unwrap_err();
    assert!(
        wrong_audience
            .as_service_error()
            .is_some_and(|e| e.is_invalid_token_exception()),
        "{wrong_audience:?}"
    );

    // Update to a role whose trust lacks the session-tag conditions for this ServiceAccount.
    let updated = eks
        .update_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .role_arn(unscoped_arn)
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    assert_eq!(updated.role_arn(), Some(unscoped_arn.as_str()));
    let denied = clients
        .eks_auth
        .assume_role_for_pod_identity()
        .cluster_name(CLUSTER_NAME)
        .token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(
        denied
            .as_service_error()
            .is_some_and(|e| e.is_access_denied_exception()),
        "{denied:?}"
    );
    assert_eq!(denied.code(), Some("AccessDeniedException"));

    // Delete; then nothing is found.
    let deleted = eks
        .delete_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .send()
        .await
        .unwrap()
        .association
        .unwrap();
    assert_eq!(deleted.association_id(), Some(id.as_str()));
    let after = eks
        .describe_pod_identity_association()
        .cluster_name(CLUSTER_NAME)
        .association_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        after
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())
    );
    let orphaned = clients
        .eks_auth
        .assume_role_for_pod_identity()
        .cluster_name(CLUSTER_NAME)
        .token(&token)
        .send()
        .await
        .unwrap_err();
    assert!(
        orphaned
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{orphaned:?}"
    );
    let log: Vec<String> = proxy
        .outcomes()
        .into_iter()
        .filter(|outcome| outcome.starts_with("eks"))
        .collect();
    assert_eq!(
        log,
        [
            "eks:CreatePodIdentityAssociation 200",
            "eks:DescribePodIdentityAssociation 200",
            "eks:ListPodIdentityAssociations 200",
            "eks:CreatePodIdentityAssociation 409",
            "eks:CreatePodIdentityAssociation 400",
            "eks:DescribePodIdentityAssociation 404",
            "eks:ListPodIdentityAssociations 404",
            "eks-auth:AssumeRoleForPodIdentity 200",
            "eks-auth:AssumeRoleForPodIdentity 400",
            "eks:UpdatePodIdentityAssociation 200",
            "eks-auth:AssumeRoleForPodIdentity 400",
            "eks:DeletePodIdentityAssociation 200",
            "eks:DescribePodIdentityAssociation 404",
            "eks-auth:AssumeRoleForPodIdentity 404",
        ]
    );
    for name in [&scoped, &unscoped, &irsa_only] {
        clients
            .iam
            .delete_role()
            .role_name(name)
            .send()
            .await
            .unwrap();
    }
}
