//! The real Terraform CLI loads the provider and talks to it over AutoMTLS gRPC, and the
//! secrets of a provider block never reach a log or the state.

use gitlabrunner_acceptance::{TestNamespaces, harness, hcl, unique_name};

use crate::aws_fixtures::ensure_oidc_provider;

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

/// A random run of `len` base64 letters (also valid base64 when `len` is a multiple of 4).
fn random_letters(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// Issue 15: with `TF_LOG=trace` and `TF_LOG_PROVIDER=trace`, a configuration carrying every
/// kind of secret the provider takes (a Kubernetes token, a client key, `exec` env values, AWS
/// credentials from the environment) is applied, planned and destroyed, and no secret value
/// appears in the log (Terraform's and the provider's), in the output of apply and destroy, or
/// in the state. The token and the `exec` credentials are really used (the bindings reach the
/// emulator with them); the client key only passes through configuration, as the emulator takes
/// tokens. (Not checked: `terraform show -json PLANFILE`, whose `configuration` section repeats
/// the provider block's literal values, sensitive or not. That is Terraform's representation
/// of the configuration, not something a provider sees or can redact; secrets passed as
/// variables or environment appear there only as references.)
#[tokio::test]
async fn no_secret_reaches_a_trace_log_or_the_state() {
    let test = "no_secret_reaches_a_trace_log_or_the_state";
    let Some(h) = harness(test).await else {
        return;
    };
    let Some(emulator) = h.emulator_for(test, "minting tokens for the provider block") else {
        return;
    };
    let admin = h.aws_clients().await;
    let mut namespaces = TestNamespaces::new(h.clone()).await.unwrap();
    let ns_token = namespaces.create("acc-sec-t").await;
    let ns_exec = namespaces.create("acc-sec-e").await;
    let oidc_arn = ensure_oidc_provider(&admin, emulator.issuer()).await;
    let bucket = unique_name("acc-sec-cache");

    let kube_token = emulator.token_for(&unique_name("acc-secrets"), &["system:masters"]);
    let exec_token = emulator.token_for(&unique_name("acc-secrets-exec"), &["system:masters"]);
    let exec_env_secret = format!("execEnvSecret{}", random_letters(24));
    let key_body = format!("MIIE{}", random_letters(60));
    let client_key =
        format!("-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----\n");
    let access_key = format!("AKIA{}", random_letters(16).to_uppercase());
    let secret_key = random_letters(40);
    let session_token = format!("sessionToken{}", random_letters(40));
    let secrets = [
        ("kubernetes.token", kube_token.as_str()),
        ("the exec credential's token", exec_token.as_str()),
        ("kubernetes.exec.env", exec_env_secret.as_str()),
        ("kubernetes.client_key", key_body.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret_key.as_str()),
        ("AWS_SESSION_TOKEN", session_token.as_str()),
    ];

    let mut ws = h.workspace().unwrap();
    ws.set_env("TF_LOG", "trace")
        .set_env("TF_LOG_PROVIDER", "trace")
        .set_env("AWS_ACCESS_KEY_ID", &access_key)
        .set_env("AWS_SECRET_ACCESS_KEY", &secret_key)
        .set_env("AWS_SESSION_TOKEN", &session_token);
    let host = hcl::quote(emulator.url());
    let ca = hcl::quote(emulator.ca_pem());
    let credential = format!(
        r#"{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{exec_token}"}}}}"#
    );
    let binding = |name: &str, provider: &str, namespace: &str| {
        format!(
            r#"
resource "gitlabrunner_irsa_binding" "{name}" {{
  provider             = {provider}
  namespace            = {namespace}
  service_account_name = "gitlab-runner"
  oidc_provider_arn    = {oidc}
}}
"#,
            namespace = hcl::quote(namespace),
            oidc = hcl::quote(&oidc_arn),
        )
    };
    let config = format!(
        r#"{required}
provider "gitlabrunner" {{
  kubernetes {{
    host                   = {host}
    cluster_ca_certificate = {ca}
    token                  = {kube_token}
  }}
}}

provider "gitlabrunner" {{
  alias = "exec"
  kubernetes {{
    host                   = {host}
    cluster_ca_certificate = {ca}
    exec {{
      api_version = "client.authentication.k8s.io/v1"
      command     = "/bin/sh"
      args        = ["-c", "printf '%s' \"$EXEC_CREDENTIAL\""]
      env = {{
        EXEC_CREDENTIAL       = {credential}
        AWS_SECRET_ACCESS_KEY = {exec_env_secret}
      }}
    }}
  }}
}}

provider "gitlabrunner" {{
  alias = "key"
  kubernetes {{
    host               = {host}
    client_certificate = {ca}
    client_key         = {client_key}
  }}
}}
{token_binding}{exec_binding}
resource "gitlabrunner_cache" "cache" {{
  provider      = gitlabrunner.key
  role_name     = gitlabrunner_irsa_binding.token.role_name
  bucket_name   = {bucket}
  create_bucket = true
  force_destroy = true
}}
"#,
        required = hcl::REQUIRED_PROVIDERS,
        kube_token = hcl::quote(&kube_token),
        credential = hcl::quote(&credential),
        exec_env_secret = hcl::quote(&exec_env_secret),
        client_key = hcl::quote(&client_key),
        token_binding = binding("token", "gitlabrunner", &ns_token),
        exec_binding = binding("exec", "gitlabrunner.exec", &ns_exec),
        bucket = hcl::quote(&bucket),
    );
    ws.write("main.tf", &config).unwrap();
    let applied = ws.apply().await.unwrap();
    let state_file = std::fs::read_to_string(ws.dir().join("terraform.tfstate")).unwrap();
    let state = ws.show().await.unwrap();
    for address in [
        "gitlabrunner_irsa_binding.token",
        "gitlabrunner_irsa_binding.exec",
        "gitlabrunner_cache.cache",
    ] {
        assert!(state.resource(address).is_some(), "{address} was applied");
    }
    assert!(
        ws.plan().await.unwrap().is_empty(),
        "a plan after apply is empty"
    );
    let destroyed = ws.destroy().await.unwrap();

    let log = ws.provider_log();
    let output = [&applied, &destroyed]
        .iter()
        .map(|run| format!("{}\n{}", run.stdout, run.stderr))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains("[TRACE]") && log.contains("rpc=ConfigureProvider"),
        "the log is not at trace level with the provider's lines:\n{}",
        ws.provider_log_tail(20)
    );
    let mut leaks = Vec::new();
    for (what, secret) in secrets {
        for (place, text) in [
            ("the log", &log),
            ("the state", &state_file),
            ("the output of apply and destroy", &output),
        ] {
            if let Some(at) = text.find(secret) {
                let line = text[..at].lines().count();
                leaks.push(format!("{what} in {place}, line {line}"));
            }
        }
    }
    gitlabrunner_acceptance::say!(
        "{test}: {} secrets, {} log bytes at trace, {} state bytes: {} leaks",
        secrets.len(),
        log.len(),
        state_file.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}
