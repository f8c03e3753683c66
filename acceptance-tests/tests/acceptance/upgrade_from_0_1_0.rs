//! Upgrading from release 0.1.0 (IRSA only) changes nothing: a state written by 0.1.0 for an
//! IRSA binding (with a grant, tags, labels, an inline policy) and a cache on its role, with the
//! configuration 0.1.0 users wrote, plans no change with this build, and `apply` with that
//! state changes nothing either, in IAM, S3 or Kubernetes.
//!
//! The state is a fixture recorded from a real run of 0.1.0 (the commit before EKS Pod
//! Identity support, `Cargo.toml` version 0.1.0) against moto and the Kubernetes emulator, with
//! the run's names and ids replaced by placeholders (see [`PLACEHOLDERS`]). This test creates
//! the real objects with this build's IRSA-only create (which must be what 0.1.0 made: the same
//! configuration), swaps in the 0.1.0 state filled with their names and ids, and plans.
//!
//! Re-recording (only ever with a build of the previous release):
//! `TF_ACC=1 TF_ACC_RECORD_UPGRADE_FIXTURE=1 cargo test -p gitlabrunner-acceptance --test
//! acceptance -- upgrade_from_0_1_0` writes [`FIXTURE`].

use std::path::PathBuf;

use gitlabrunner_acceptance::{Action, hcl, say};
use serde_json::Value;

use crate::binding_support::{ADDRESS, Fixture, config};

/// The 0.1.0 state, relative to the acceptance-tests crate.
const FIXTURE: &str = "tests/fixtures/irsa-binding-0.1.0.tfstate.json";

/// The cache's address.
const CACHE: &str = "gitlabrunner_cache.cache";

/// Placeholders of the fixture, for the values a run chooses or the emulators assign.
const PLACEHOLDERS: [&str; 8] = [
    "{{namespace}}",
    "{{service_account}}",
    "{{job_namespace}}",
    "{{oidc_host_path}}",
    "{{account_id}}",
    "{{role_unique_id}}",
    "{{service_account_uid}}",
    "{{bucket}}",
];

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// The configuration a 0.1.0 user has: nothing this release added.
fn configuration(f: &Fixture, bucket: &str) -> String {
    config(&format!(
        r#"resource "gitlabrunner_irsa_binding" "runner" {{
  namespace            = {namespace}
  service_account_name = {sa}
  oidc_provider_arn    = {oidc}
  role_description     = "runner manager, created by 0.1.0"
  tags                 = {{ team = "ci" }}
  labels               = {{ tier = "ci" }}
  inline_policies = {{
    logs = jsonencode({{ Version = "2012-10-17", Statement = [{{ Effect = "Allow", Action = "logs:PutLogEvents", Resource = "*" }}] }})
  }}
  grant {{
    namespace = {job}
    preset    = "kubernetes-executor"
  }}
}}

resource "gitlabrunner_cache" "cache" {{
  role_name       = gitlabrunner_irsa_binding.runner.role_name
  bucket_name     = {bucket}
  path            = "runner"
  create_bucket   = true
  expiration_days = 7
}}
"#,
        namespace = hcl::quote(&f.namespace),
        sa = hcl::quote(&f.service_account),
        oidc = hcl::quote(&f.oidc.arn),
        job = hcl::quote(&f.jobs[0]),
        bucket = hcl::quote(bucket),
    ))
}

/// The run's value of each of [`PLACEHOLDERS`], in that order.
async fn values(f: &Fixture, bucket: &str) -> [String; 8] {
    let role = f
        .iam_role(&f.default_role_name())
        .await
        .expect("the role exists");
    let account = f
        .service_account()
        .await
        .expect("the ServiceAccount exists");
    [
        f.namespace.clone(),
        f.service_account.clone(),
        f.jobs[0].clone(),
        f.oidc.host_path.clone(),
        f.h.account_id().to_string(),
        role.role_id().to_string(),
        account.metadata.uid.expect("a uid"),
        bucket.to_string(),
    ]
}

/// `state` with every value replaced by its placeholder (longest values first, so that a value
/// inside another, like the namespace inside the role name, is replaced as part of the longer).
fn to_fixture(state: &str, values: &[String; 8]) -> String {
    let mut pairs: Vec<(&String, &str)> = values.iter().zip(PLACEHOLDERS).collect();
    pairs.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    let mut text = state.to_string();
    for (value, placeholder) in pairs {
        text = text.replace(value.as_str(), placeholder);
    }
    text
}

/// The fixture filled with this run's values.
fn from_fixture(fixture: &str, values: &[String; 8]) -> String {
    let mut text = fixture.to_string();
    for (value, placeholder) in values.iter().zip(PLACEHOLDERS) {
        text = text.replace(placeholder, value);
    }
    assert!(!text.contains("{{"), "a placeholder is left: {text}");
    text
}

#[tokio::test]
async fn irsa_state_and_configuration_of_0_1_0_plan_and_apply_no_change() {
    let Some(f) = Fixture::new("upgrade_from_0_1_0", 1).await else {
        return;
    };
    let bucket = gitlabrunner_acceptance::unique_name("acc-upgrade");
    let ws = f.workspace();
    ws.write("main.tf", &configuration(&f, &bucket)).unwrap();
    ws.apply().await.unwrap();
    let values = values(&f, &bucket).await;
    let state_file = ws.dir().join("terraform.tfstate");

    if std::env::var_os("TF_ACC_RECORD_UPGRADE_FIXTURE").is_some() {
        let state = std::fs::read_to_string(&state_file).unwrap();
        std::fs::create_dir_all(fixture_path().parent().unwrap()).unwrap();
        std::fs::write(fixture_path(), to_fixture(&state, &values)).unwrap();
        say!("upgrade: recorded {}", fixture_path().display());
        ws.destroy().await.unwrap();
        return;
    }

    // The objects as they are now, to compare after the apply with the old state.
    let role_before = f.iam_role(&f.default_role_name()).await.unwrap();
    let trust_before = f.trust_policy(&f.default_role_name()).await;
    let account_before = f.service_account().await.unwrap();

    let fixture = std::fs::read_to_string(fixture_path()).unwrap();
    let recorded: Value = serde_json::from_str(&fixture).unwrap();
    let binding = recorded["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "gitlabrunner_irsa_binding")
        .expect("the fixture holds the binding");
    let attributes = &binding["instances"][0]["attributes"];
    assert!(
        attributes.get("irsa").is_none() && attributes.get("pod_identity").is_none(),
        "the fixture is not a 0.1.0 state: it has attributes of this release"
    );
    ws.write("terraform.tfstate", &from_fixture(&fixture, &values))
        .unwrap();

    let plan = ws.plan().await.unwrap();
    assert!(
        plan.is_empty(),
        "0.1.0's state plans changes: {} {:?}",
        plan.summary(),
        plan.change(ADDRESS).map(|c| {
            let before = &c.change.before;
            let after = &c.change.after;
            (
                crate::binding_support::changed_attributes(c),
                before.clone(),
                after.clone(),
            )
        })
    );
    for address in [ADDRESS, CACHE] {
        assert_eq!(plan.actions(address), [Action::NoOp], "{address}");
    }

    let applied = ws.apply().await.unwrap();
    let summary = applied.change_summary().expect("apply reports its changes");
    assert_eq!(
        (summary.add, summary.change, summary.remove),
        (0, 0, 0),
        "apply with 0.1.0's state changed something"
    );
    let state = ws.show().await.unwrap();
    let resource = state.resource(ADDRESS).unwrap();
    assert_eq!(
        resource.attr("irsa"),
        &Value::Bool(true),
        "an upgraded binding serves IRSA"
    );
    assert!(
        resource
            .attr("pod_identity")
            .as_array()
            .is_none_or(Vec::is_empty),
        "an upgraded binding has no Pod Identity: {:?}",
        resource.attr("pod_identity")
    );
    let role_after = f.iam_role(&f.default_role_name()).await.unwrap();
    assert_eq!(role_after.role_id(), role_before.role_id());
    assert_eq!(f.trust_policy(&f.default_role_name()).await, trust_before);
    let account_after = f.service_account().await.unwrap();
    assert_eq!(account_after.metadata.uid, account_before.metadata.uid);
    assert_eq!(
        account_after.metadata.annotations,
        account_before.metadata.annotations
    );
    assert!(ws.plan().await.unwrap().is_empty());

    ws.destroy().await.unwrap();
    f.assert_gone(&f.default_role_name(), &f.jobs).await;
}
