//! The runner manager's wiring end to end, the way the runner uses it (issue 5): a
//! `gitlabrunner_irsa_binding` for the manager's ServiceAccount, trusting the cluster's OIDC
//! provider (the Kubernetes side's issuer, registered in IAM beforehand and found with the
//! `gitlabrunner_oidc_provider` data source), and a `gitlabrunner_cache` on its role. Then, as
//! the manager would: a ServiceAccount token from TokenRequest, exchanged for role credentials
//! with AssumeRoleWithWebIdentity, and those credentials used on the cache bucket.
//!
//! What each emulator can check:
//! - moto (its opt-in IAM enforcement, switched on for this test only, on a moto server of its
//!   own because the switch is server-global): object writes and reads under the cache path are
//!   allowed and outside it (another prefix, and the sibling prefix `PATHx/`) denied. The
//!   ListBucket statement has no `s3:prefix` condition (issue 15: S3 answers a missing key with
//!   404 only to callers with ListBucket, and that check carries no prefix); moto evaluates
//!   neither that condition nor the 404-versus-403 rule, so neither can be shown here. The bucket is one the test created (`create_bucket =
//!   false`): moto enforces the TLS-only policy of a bucket the provider creates against the
//!   harness's plain-HTTP requests, which would deny the allowed requests too.
//! - LocalStack (free build) enforces no IAM at all: the allowed requests are checked, the denied
//!   ones cannot be.
//! - Neither emulator verifies the web identity token or evaluates the role's trust policy in
//!   AssumeRoleWithWebIdentity, so the test checks that itself: the token's `iss`, `sub` and `aud`
//!   are exactly what the trust policy's `Federated` principal and `StringEquals` conditions
//!   require.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use gitlabrunner_acceptance::aws::AwsClients;
use gitlabrunner_acceptance::kubernetes::service_account_issuer;
use gitlabrunner_acceptance::terraform::Action;
use gitlabrunner_acceptance::{TestNamespaces, harness, hcl, unique_name};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::aws_fixtures::{
    bucket_exists, create_bucket, delete_bucket, ensure_oidc_provider, inline_policy, is_moto,
    put_object,
};

const SERVICE_ACCOUNT: &str = "gitlab-runner";
const CACHE_PATH: &str = "runner";

fn say(line: &str) {
    gitlabrunner_acceptance::say!("irsa_with_cache: {line}");
}

/// A ServiceAccount token for `sts.amazonaws.com`, as the EKS webhook projects it.
async fn service_account_token(client: &kube::Client, namespace: &str, name: &str) -> String {
    let request = TokenRequest {
        metadata: Default::default(),
        spec: TokenRequestSpec {
            audiences: vec!["sts.amazonaws.com".to_string()],
            bound_object_ref: None,
            expiration_seconds: Some(3600),
        },
        status: None,
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{name}: {e}"))
        .status
        .expect("TokenRequest returns a status")
        .token
}

/// The claims of a JWT (its signature is not checked here).
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("the payload is base64url");
    serde_json::from_slice(&bytes).expect("the payload is JSON")
}

/// An S3 client with the credentials STS issued, trying each request once.
async fn s3_as(
    endpoint: &str,
    region: &str,
    credentials: &aws_sdk_sts::types::Credentials,
) -> aws_sdk_s3::Client {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            None,
            "assume-role-with-web-identity",
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .build(),
    )
}

/// What one object request with the manager's credentials answered: `Ok` or the error code.
async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"cache.zip"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or("(no code)").to_string())
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), String> {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.code().unwrap_or("(no code)").to_string())
}

#[tokio::test]
async fn runner_manager_credentials_reach_the_cache_path_and_nothing_else() {
    let test = "runner_manager_credentials_reach_the_cache_path_and_nothing_else";
    let Some(h) = harness(test).await else {
        return;
    };
    // IAM enforcement is server-global: only ever on a moto server of this test's own.
    let dedicated = if is_moto(&h) {
        let started = std::time::Instant::now();
        let moto = h.start_dedicated_moto().await.unwrap();
        say(&format!(
            "dedicated moto started in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        Some(moto)
    } else {
        say(&format!(
            "{} enforces no IAM: allowed requests are checked, denied ones cannot be",
            h.aws().kind().map_or("this emulator", |k| k.name())
        ));
        None
    };
    let (endpoint, region) = match &dedicated {
        Some(moto) => (moto.endpoint().to_string(), moto.region()),
        None => (h.aws().endpoint().to_string(), h.aws().region()),
    };
    let admin = AwsClients::new(&endpoint, region).await;
    let kube = h.kubernetes().unwrap().client().await.unwrap();
    let mut namespaces = TestNamespaces::new(h.clone()).await.unwrap();
    let namespace = namespaces.create("acc-mgr").await;
    let jobs = namespaces.create("acc-jobs").await;
    let bucket = unique_name("acc-mgr-cache");
    create_bucket(&admin, &bucket).await;
    put_object(&admin, &bucket, "other/secret.txt", "not the runner's").await;
    // From the discovery document: a token of the `default` ServiceAccount would race
    // kube-controller-manager, which creates it some time after the namespace. The manager's
    // token below is checked against it.
    let issuer = service_account_issuer(&kube).await.unwrap();
    ensure_oidc_provider(&admin, &issuer).await;

    let mut ws = h.workspace().unwrap();
    ws.set_aws_endpoint(&endpoint, region);
    ws.write(
        "main.tf",
        &format!(
            r#"{provider}
data "gitlabrunner_oidc_provider" "cluster" {{
  url = {issuer}
}}

resource "gitlabrunner_irsa_binding" "manager" {{
  namespace            = {namespace}
  service_account_name = "{SERVICE_ACCOUNT}"
  oidc_provider_arn    = data.gitlabrunner_oidc_provider.cluster.arn

  grant {{
    namespace = {jobs}
    preset    = "kubernetes-executor"
  }}
}}

resource "gitlabrunner_cache" "cache" {{
  role_name   = gitlabrunner_irsa_binding.manager.role_name
  bucket_name = {bucket}
  path        = "{CACHE_PATH}"
}}
"#,
            provider = hcl::with_provider(""),
            issuer = hcl::quote(&issuer),
            namespace = hcl::quote(&namespace),
            jobs = hcl::quote(&jobs),
            bucket = hcl::quote(&bucket),
        ),
    )
    .unwrap();
    let applied = ws.apply().await.unwrap();
    say(&format!(
        "apply of binding + cache took {:.1} s",
        applied.duration.as_secs_f64()
    ));
    let state = ws.show().await.unwrap();
    let binding = state.resource("gitlabrunner_irsa_binding.manager").unwrap();
    let role_arn = binding.str_attr("role_arn").unwrap().to_string();
    let role_name = binding.str_attr("role_name").unwrap().to_string();
    let trust: Value = serde_json::from_str(binding.str_attr("trust_policy").unwrap()).unwrap();
    let cache = state.resource("gitlabrunner_cache.cache").unwrap();
    let policy_name = cache.str_attr("policy_name").unwrap().to_string();
    assert!(
        inline_policy(&admin, &role_name, &policy_name)
            .await
            .is_some()
    );
    assert!(ws.plan().await.unwrap().is_empty(), "second plan is empty");

    // The manager's token, as the pod gets it.
    let token = service_account_token(&kube, &namespace, SERVICE_ACCOUNT).await;
    let claims = jwt_claims(&token);
    let sub = format!("system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}");
    assert_eq!(claims["iss"], json!(issuer));
    assert_eq!(claims["sub"], json!(sub));
    assert!(
        claims["aud"] == json!(["sts.amazonaws.com"])
            || claims["aud"] == json!("sts.amazonaws.com"),
        "{claims}"
    );
    // What AWS would check in AssumeRoleWithWebIdentity, and the emulators do not.
    let issuer_host_path = issuer.trim_start_matches("https://");
    let statement = &trust["Statement"][0];
    assert_eq!(
        statement["Action"],
        json!("sts:AssumeRoleWithWebIdentity"),
        "{trust}"
    );
    let federated = statement["Principal"]["Federated"].as_str().unwrap();
    assert!(
        federated.ends_with(&format!(":oidc-provider/{issuer_host_path}")),
        "{trust}"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"],
        json!({
            format!("{issuer_host_path}:sub"): sub,
            format!("{issuer_host_path}:aud"): "sts.amazonaws.com",
        }),
        "{trust}"
    );

    let assumed = admin
        .sts
        .assume_role_with_web_identity()
        .role_arn(&role_arn)
        .role_session_name("gitlab-runner-manager")
        .web_identity_token(&token)
        .send()
        .await
        .unwrap();
    let credentials = assumed.credentials().expect("STS returns credentials");
    let manager = s3_as(&endpoint, region, credentials).await;
    let inside = format!("{CACHE_PATH}/project/1/default-protected/cache.zip");

    if let Some(moto) = &dedicated {
        moto.set_moto_iam_enforcement(true).await.unwrap();
    }
    let results = (
        put(&manager, &bucket, &inside).await,
        get(&manager, &bucket, &inside).await,
        put(&manager, &bucket, "other/cache.zip").await,
        get(&manager, &bucket, "other/secret.txt").await,
        put(&manager, &bucket, &format!("{CACHE_PATH}x/cache.zip")).await,
    );
    let harness_credentials = match &dedicated {
        Some(_) => Some(admin.s3.list_buckets().send().await.map(|_| ())),
        None => None,
    };
    if let Some(moto) = &dedicated {
        moto.set_moto_iam_enforcement(false).await.unwrap();
    }

    let (put_inside, get_inside, put_outside, get_outside, put_sibling) = results;
    assert_eq!(put_inside, Ok(()), "PutObject under {CACHE_PATH}/");
    assert_eq!(get_inside, Ok(()), "GetObject under {CACHE_PATH}/");
    if dedicated.is_some() {
        assert!(
            harness_credentials.is_some_and(|r| r.is_err()),
            "moto's IAM enforcement is on: credentials of no IAM identity are refused"
        );
        let denied = Err("AccessDenied".to_string());
        assert_eq!(put_outside, denied, "PutObject outside the cache path");
        assert_eq!(get_outside, denied, "GetObject outside the cache path");
        assert_eq!(
            put_sibling, denied,
            "PutObject under the sibling prefix {CACHE_PATH}x/"
        );
        say(
            "moto enforced IAM: under the path allowed, outside and the sibling prefix denied; \
             moto does not apply S3's 404-versus-403 rule for missing keys, so not checked",
        );
    } else {
        say(&format!(
            "not checked (no enforcement): put outside {put_outside:?}, get outside \
             {get_outside:?}, sibling prefix {put_sibling:?}"
        ));
    }

    let destroyed = ws.destroy().await.unwrap();
    say(&format!(
        "destroy took {:.1} s",
        destroyed.duration.as_secs_f64()
    ));
    let gone = admin.iam.get_role().role_name(&role_name).send().await;
    assert!(gone.is_err(), "the role is deleted");
    let accounts = Api::<ServiceAccount>::namespaced(kube.clone(), &namespace);
    assert!(accounts.get_opt(SERVICE_ACCOUNT).await.unwrap().is_none());
    let rbac_name = format!("{namespace}.{SERVICE_ACCOUNT}");
    assert!(
        Api::<Role>::namespaced(kube.clone(), &jobs)
            .get_opt(&rbac_name)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Api::<RoleBinding>::namespaced(kube.clone(), &jobs)
            .get_opt(&rbac_name)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        bucket_exists(&admin, &bucket).await,
        "the bucket was not the cache's to delete"
    );
    delete_bucket(&admin, &bucket).await;
}

/// Issue 15: renaming the manager's role (an in-place update of the binding) replaced the cache,
/// whose `role_name` forced replacement and whose bucket was tagged `ROLE/BUCKET`: a bucket
/// holding cache objects was then destroyed, or the replacement failed on it. Now the cache
/// updates in place, the bucket and its objects stay, and the permissions move to the new role.
#[tokio::test]
async fn renaming_the_manager_role_moves_the_cache_permissions_and_keeps_the_bucket() {
    let test = "renaming_the_manager_role_moves_the_cache_permissions_and_keeps_the_bucket";
    let Some(h) = harness(test).await else {
        return;
    };
    let admin = h.aws_clients().await;
    let kube = h.kubernetes().unwrap().client().await.unwrap();
    let mut namespaces = TestNamespaces::new(h.clone()).await.unwrap();
    let namespace = namespaces.create("acc-ren").await;
    let bucket = unique_name("acc-ren-cache");
    let (old_role, new_role) = (unique_name("acc-ren-a"), unique_name("acc-ren-b"));
    let issuer = service_account_issuer(&kube).await.unwrap();
    ensure_oidc_provider(&admin, &issuer).await;
    let config = |role: &str| {
        format!(
            r#"{provider}
data "gitlabrunner_oidc_provider" "cluster" {{
  url = {issuer}
}}

resource "gitlabrunner_irsa_binding" "manager" {{
  namespace            = {namespace}
  service_account_name = "{SERVICE_ACCOUNT}"
  oidc_provider_arn    = data.gitlabrunner_oidc_provider.cluster.arn
  role_name            = {role}
}}

resource "gitlabrunner_cache" "cache" {{
  role_name     = gitlabrunner_irsa_binding.manager.role_name
  bucket_name   = {bucket}
  path          = "{CACHE_PATH}"
  create_bucket = true
  force_destroy = true
}}
"#,
            provider = hcl::with_provider(""),
            issuer = hcl::quote(&issuer),
            namespace = hcl::quote(&namespace),
            role = hcl::quote(role),
            bucket = hcl::quote(&bucket),
        )
    };
    let ws = h.workspace().unwrap();
    ws.write("main.tf", &config(&old_role)).unwrap();
    ws.apply().await.unwrap();
    let before = ws.show().await.unwrap();
    let cache = before.resource("gitlabrunner_cache.cache").unwrap();
    let policy_name = cache.str_attr("policy_name").unwrap().to_string();
    let owner = cache.str_attr("bucket_owner_tag").unwrap().to_string();
    assert_eq!(owner, format!("{old_role}/{bucket}"));
    let object = format!("{CACHE_PATH}/project/1/default-protected/cache.zip");
    put_object(&admin, &bucket, &object, "a cache archive").await;

    ws.write("main.tf", &config(&new_role)).unwrap();
    let plan = ws.plan().await.unwrap();
    assert_eq!(
        plan.actions("gitlabrunner_cache.cache"),
        [Action::Update],
        "{}",
        plan.summary()
    );
    let applied = ws.apply().await.unwrap();
    say(&format!(
        "role rename applied in {:.1} s",
        applied.duration.as_secs_f64()
    ));

    let after = ws.show().await.unwrap();
    let cache = after.resource("gitlabrunner_cache.cache").unwrap();
    assert_eq!(cache.str_attr("role_name"), Some(new_role.as_str()));
    assert_eq!(
        cache.str_attr("bucket_owner_tag"),
        Some(owner.as_str()),
        "the owner tag survives the rename"
    );
    assert!(
        inline_policy(&admin, &new_role, &policy_name)
            .await
            .is_some(),
        "the new role has the cache permissions"
    );
    assert!(
        inline_policy(&admin, &old_role, &policy_name)
            .await
            .is_none(),
        "the old role (or what is left of it) no longer has them"
    );
    // Listed, not read: moto enforces the bucket's TLS-only policy on plain-HTTP object reads.
    let listed = admin
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(CACHE_PATH)
        .send()
        .await
        .expect("the bucket is still there");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [object.as_str()], "the cache object survives");
    assert!(
        ws.plan().await.unwrap().is_empty(),
        "the next plan is empty"
    );

    ws.destroy().await.unwrap();
    assert!(
        !bucket_exists(&admin, &bucket).await,
        "destroy still recognises the bucket as the cache's and removes it"
    );
}
