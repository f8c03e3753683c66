//! The examples under `examples/` as users run them: every example directory validates with
//! the real Terraform CLI and is formatted as `terraform fmt` wants, every `import.sh` imports
//! addresses its `resource.tf` declares, and `examples/complete` applies against the
//! emulators, produces the runner configuration and Helm values it promises, plans clean a
//! second time and destroys without leaving anything behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_iam::error::ProvideErrorMetadata as _;
use gitlabrunner_acceptance::kubernetes::service_account_issuer;
use gitlabrunner_acceptance::say;
use gitlabrunner_acceptance::{Harness, TestNamespaces, harness, hcl, unique_name};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::Api;

/// Every example directory: `examples/provider`, `examples/complete`, and one per resource
/// and data source.
fn example_dirs(root: &Path) -> Vec<PathBuf> {
    let examples = root.join("examples");
    let mut dirs = vec![examples.join("provider"), examples.join("complete")];
    for kind in ["resources", "data-sources"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(examples.join(kind))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .collect();
        found.sort();
        dirs.extend(found);
    }
    dirs
}

/// The example's files, by name.
fn files_of(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

fn relative(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root).unwrap_or(dir).display().to_string()
}

/// Validates one example in a workspace of its own; Registry-style snippets without a
/// `terraform` block get the provider's `required_providers`, as a user's configuration has.
async fn validate_example(h: &Harness, root: &Path, dir: &Path) -> Result<(), String> {
    let name = relative(root, dir);
    let ws = h.workspace().map_err(|e| format!("{name}: {e}"))?;
    let files = files_of(dir);
    for (file, text) in &files {
        ws.write(file, text).map_err(|e| format!("{name}: {e}"))?;
    }
    if !files
        .values()
        .any(|text| text.contains("required_providers"))
    {
        ws.write("providers.tf", hcl::REQUIRED_PROVIDERS)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    ws.validate()
        .await
        .map_err(|e| format!("{name}: terraform validate failed:\n{e}"))?;
    Ok(())
}

#[tokio::test]
async fn every_example_validates() {
    let Some(h) = harness("every_example_validates").await else {
        return;
    };
    let root = h.settings().repo_root.clone();
    let dirs = example_dirs(&root);
    let count = dirs.len();
    let mut validations = tokio::task::JoinSet::new();
    for dir in dirs {
        let (h, root) = (h.clone(), root.clone());
        validations.spawn(async move { validate_example(&h, &root, &dir).await });
    }
    let mut failures = Vec::new();
    while let Some(result) = validations.join_next().await {
        if let Err(failure) = result.unwrap() {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    say!("examples: {count} directories validate");
}

#[tokio::test]
async fn examples_are_formatted_as_terraform_fmt_wants() {
    let Some(h) = harness("examples_are_formatted_as_terraform_fmt_wants").await else {
        return;
    };
    let examples = h.settings().repo_root.join("examples");
    let ws = h.workspace().unwrap();
    let examples = examples.display().to_string();
    let output = ws
        .run(&[
            "fmt",
            "-check",
            "-diff",
            "-recursive",
            "-no-color",
            &examples,
        ])
        .await
        .unwrap();
    assert!(
        output.success(),
        "terraform fmt would change the examples:\n{}{}",
        output.stdout,
        output.stderr
    );
}

#[test]
fn import_examples_import_addresses_their_resource_example_declares() {
    let root = gitlabrunner_acceptance::settings::repo_root();
    let resources = root.join("examples/resources");
    for entry in std::fs::read_dir(&resources).unwrap() {
        let dir = entry.unwrap().path();
        let type_name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let resource_tf = std::fs::read_to_string(dir.join("resource.tf")).unwrap();
        let import_sh = std::fs::read_to_string(dir.join("import.sh"))
            .unwrap_or_else(|e| panic!("examples/resources/{type_name}/import.sh: {e}"));
        let commands: Vec<Vec<&str>> = import_sh
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("terraform import"))
            .map(|line| line.split_whitespace().collect())
            .collect();
        assert!(
            !commands.is_empty(),
            "{type_name}/import.sh imports nothing"
        );
        for words in commands {
            let [_, _, address, id] = words.as_slice() else {
                panic!("{type_name}/import.sh: expected `terraform import ADDRESS ID`: {words:?}");
            };
            let (resource_type, name) = address.split_once('.').unwrap();
            assert_eq!(resource_type, type_name, "{type_name}/import.sh: {address}");
            assert!(
                resource_tf.contains(&format!("resource \"{resource_type}\" \"{name}\"")),
                "{type_name}/import.sh imports {address}, which resource.tf does not declare"
            );
            assert!(!id.is_empty());
        }
    }
}

/// The cluster's service-account issuer, from its OIDC discovery document (as on EKS).
/// Registers `issuer` as an IAM OIDC provider (what EKS users do once per cluster), or finds
/// the one another test of this process registered. Shared: never deleted by a test.
async fn oidc_provider_for(h: &Harness, issuer: &str) -> String {
    let iam = h.aws_clients().await.iam;
    let created = iam
        .create_open_id_connect_provider()
        .url(issuer)
        .set_client_id_list(gitlabrunner_acceptance::workload::setup::cluster_client_ids())
        .thumbprint_list("0".repeat(40))
        .send()
        .await;
    match created {
        Ok(output) => output.open_id_connect_provider_arn.unwrap(),
        Err(error) if error.code() == Some("EntityAlreadyExists") => {
            let host_path = issuer.trim_start_matches("https://").trim_end_matches('/');
            format!("arn:aws:iam::{}:oidc-provider/{host_path}", h.account_id())
        }
        Err(error) => panic!("CreateOpenIDConnectProvider: {error:?}"),
    }
}

fn output<'a>(outputs: &'a serde_json::Value, name: &str) -> &'a str {
    outputs[name]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("output {name} is missing: {outputs:#}"))
}

fn yaml(text: &str) -> yaml_rust2::Yaml {
    let mut documents = yaml_rust2::YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("helm_values is not YAML ({e}):\n{text}"));
    assert_eq!(documents.len(), 1, "{text}");
    documents.remove(0)
}

#[tokio::test]
async fn complete_example_applies_plans_clean_and_destroys() {
    let Some(h) = harness("complete_example_applies_plans_clean_and_destroys").await else {
        return;
    };
    let kubernetes = h.kubernetes().unwrap();
    let client = kubernetes.client().await.unwrap();
    let cluster = unique_name("ex");
    // The example needs both namespaces to exist, as on a real cluster.
    let mut namespaces = TestNamespaces::new(h.clone()).await.unwrap();
    let runner_namespace = namespaces.create("ex-runner").await;
    let job_namespace = namespaces.create("ex-jobs").await;
    let issuer = service_account_issuer(&client).await.unwrap();
    // Registered as eksctl would; the example finds it from the cluster's issuer.
    oidc_provider_for(&h, &issuer).await;

    let mut ws = h.workspace().unwrap();
    let example = h.settings().repo_root.join("examples/complete");
    for (file, text) in files_of(&example) {
        ws.write(&file, &text).unwrap();
    }
    // The inputs, as the quick start passes them: the OIDC provider is found from the
    // cluster's issuer, so only names.
    ws.set_env("TF_VAR_cluster_name", &cluster)
        .set_env("TF_VAR_runner_namespace", &runner_namespace)
        .set_env("TF_VAR_job_namespace", &job_namespace);

    let applied = ws.apply().await.unwrap();
    assert_eq!(applied.change_summary().map(|c| c.add), Some(3));
    let outputs = ws.outputs().await.unwrap();
    let manager_role_arn = output(&outputs, "manager_role_arn");
    let jobs_role_arn = output(&outputs, "jobs_role_arn");
    assert_eq!(
        manager_role_arn,
        format!(
            "arn:aws:iam::{}:role/{cluster}-gitlab-runner-manager",
            h.account_id()
        )
    );
    assert!(
        output(&outputs, "manager_verified_as")
            .contains(&format!(":assumed-role/{cluster}-gitlab-runner-manager/")),
        "{outputs:#}"
    );

    // config.toml: one [[runners]] entry whose jobs run in the job namespace as the jobs'
    // ServiceAccount, with the S3 cache on the bucket the example created.
    let config_text = output(&outputs, "runner_config_toml");
    let config: toml::Table = toml::from_str(config_text)
        .unwrap_or_else(|e| panic!("runner_config_toml is not TOML ({e}):\n{config_text}"));
    let runners = config["runners"].as_array().expect("[[runners]]");
    assert_eq!(runners.len(), 1, "{config_text}");
    let kube_config = &runners[0]["kubernetes"];
    assert_eq!(
        kube_config["namespace"].as_str(),
        Some(job_namespace.as_str())
    );
    assert_eq!(kube_config["service_account"].as_str(), Some("gitlab-job"));
    let cache = &runners[0]["cache"];
    assert_eq!(cache["Type"].as_str(), Some("s3"));
    let bucket = format!("gitlab-runner-cache-{}-{cluster}", h.account_id());
    assert_eq!(cache["s3"]["BucketName"].as_str(), Some(bucket.as_str()));
    assert_eq!(cache["s3"]["AuthenticationType"].as_str(), Some("iam"));

    // values.yaml: the chart uses the binding's ServiceAccount and creates no RBAC, and its
    // runners.config is exactly that config.toml entry.
    let values = yaml(output(&outputs, "helm_values"));
    assert_eq!(values["serviceAccount"]["create"].as_bool(), Some(false));
    assert_eq!(
        values["serviceAccount"]["name"].as_str(),
        Some("gitlab-runner")
    );
    assert_eq!(values["rbac"]["create"].as_bool(), Some(false));
    assert_eq!(
        values["runners"]["config"].as_str().map(str::trim),
        Some(config_text.trim())
    );

    // What the outputs point at exists and agrees: the manager's ServiceAccount carries its
    // role, the jobs' ServiceAccount mounts no API token, and the manager may start pods in
    // the job namespace.
    let manager_sa = Api::<ServiceAccount>::namespaced(client.clone(), &runner_namespace)
        .get("gitlab-runner")
        .await
        .unwrap();
    assert_eq!(
        manager_sa.metadata.annotations.unwrap_or_default()["eks.amazonaws.com/role-arn"],
        manager_role_arn
    );
    let jobs_sa = Api::<ServiceAccount>::namespaced(client.clone(), &job_namespace)
        .get("gitlab-job")
        .await
        .unwrap();
    assert_eq!(jobs_sa.automount_service_account_token, Some(false));
    assert_eq!(
        jobs_sa.metadata.annotations.unwrap_or_default()["eks.amazonaws.com/role-arn"],
        jobs_role_arn
    );
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), &job_namespace)
        .list(&Default::default())
        .await
        .unwrap();
    let manager_bound = bindings.items.iter().any(|binding| {
        binding.subjects.iter().flatten().any(|s| {
            s.kind == "ServiceAccount"
                && s.name == "gitlab-runner"
                && s.namespace.as_deref() == Some(runner_namespace.as_str())
        })
    });
    assert!(
        manager_bound,
        "no RoleBinding in {job_namespace} binds the manager"
    );

    let plan = ws.plan().await.unwrap();
    assert!(plan.is_empty(), "second plan: {}", plan.summary());

    ws.destroy().await.unwrap();
    assert!(ws.show().await.unwrap().is_empty());
    let iam = h.aws_clients().await.iam;
    for role in ["manager", "jobs"] {
        let name = format!("{cluster}-gitlab-runner-{role}");
        let error = iam.get_role().role_name(&name).send().await.unwrap_err();
        assert_eq!(
            error.code(),
            Some("NoSuchEntity"),
            "{name} survived destroy"
        );
    }
    let left = Api::<ServiceAccount>::namespaced(client.clone(), &runner_namespace)
        .get_opt("gitlab-runner")
        .await
        .unwrap();
    assert!(
        left.is_none(),
        "the manager's ServiceAccount survived destroy"
    );
}

/// The associations the rig's EKS holds for `namespace/service_account`: (id, role ARN).
async fn pod_identity_associations(
    h: &Harness,
    namespace: &str,
    service_account: &str,
) -> Vec<(String, String)> {
    let eks = crate::pod_identity_support::rig_eks(h).await;
    let cluster = gitlabrunner_acceptance::aws::eks::CLUSTER_NAME;
    let listed = eks
        .list_pod_identity_associations()
        .cluster_name(cluster)
        .namespace(namespace)
        .service_account(service_account)
        .send()
        .await
        .unwrap();
    let mut found = Vec::new();
    for summary in listed.associations() {
        let id = summary.association_id().unwrap().to_string();
        let described = eks
            .describe_pod_identity_association()
            .cluster_name(cluster)
            .association_id(&id)
            .send()
            .await
            .unwrap();
        let role = described
            .association()
            .and_then(|a| a.role_arn())
            .unwrap_or_default()
            .to_string();
        found.push((id, role));
    }
    found
}

#[tokio::test]
async fn complete_example_in_pod_identity_mode_applies_plans_clean_and_destroys() {
    let Some(h) =
        harness("complete_example_in_pod_identity_mode_applies_plans_clean_and_destroys").await
    else {
        return;
    };
    let client = h.kubernetes().unwrap().client().await.unwrap();
    let cluster = unique_name("expi");
    let mut namespaces = TestNamespaces::new(h.clone()).await.unwrap();
    let runner_namespace = namespaces.create("ex-runner").await;
    let job_namespace = namespaces.create("ex-jobs").await;
    // No OIDC provider is registered: Pod Identity only needs none.
    let mut ws = h.workspace().unwrap();
    let example = h.settings().repo_root.join("examples/complete");
    for (file, text) in files_of(&example) {
        ws.write(&file, &text).unwrap();
    }
    ws.set_env("TF_VAR_cluster_name", &cluster)
        .set_env("TF_VAR_runner_namespace", &runner_namespace)
        .set_env("TF_VAR_job_namespace", &job_namespace)
        .set_env("TF_VAR_identity_mode", "pod_identity")
        .set_env(
            "TF_VAR_eks_cluster_name",
            gitlabrunner_acceptance::aws::eks::CLUSTER_NAME,
        );

    let applied = ws.apply().await.unwrap();
    assert_eq!(applied.change_summary().map(|c| c.add), Some(3));
    let outputs = ws.outputs().await.unwrap();
    let manager_role_arn = output(&outputs, "manager_role_arn").to_string();
    let jobs_role_arn = output(&outputs, "jobs_role_arn").to_string();
    assert!(
        output(&outputs, "manager_verified_as")
            .contains(&format!(":assumed-role/{cluster}-gitlab-runner-manager/")),
        "verify passed through EKS Auth: {outputs:#}"
    );
    // Each ServiceAccount has its association and no IRSA annotation.
    for (namespace, name, role_arn) in [
        (&runner_namespace, "gitlab-runner", &manager_role_arn),
        (&job_namespace, "gitlab-job", &jobs_role_arn),
    ] {
        let found = pod_identity_associations(&h, namespace, name).await;
        assert_eq!(found.len(), 1, "{namespace}/{name}: {found:?}");
        assert_eq!(&found[0].1, role_arn, "{namespace}/{name}");
        let account = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
            .get(name)
            .await
            .unwrap();
        let annotations = account.metadata.annotations.unwrap_or_default();
        assert!(
            !annotations
                .keys()
                .any(|k| k.starts_with("eks.amazonaws.com/")),
            "{namespace}/{name}: {annotations:?}"
        );
    }
    // The cache and the runner configuration do not depend on the mechanism.
    let config: toml::Table = toml::from_str(output(&outputs, "runner_config_toml")).unwrap();
    let cache = &config["runners"].as_array().unwrap()[0]["cache"];
    assert_eq!(cache["s3"]["AuthenticationType"].as_str(), Some("iam"));

    let plan = ws.plan().await.unwrap();
    assert!(plan.is_empty(), "second plan: {}", plan.summary());

    // A mode outside the three is refused by the variable's validation.
    ws.set_env("TF_VAR_identity_mode", "kiam");
    let refused = ws.plan_expect_error().await.unwrap();
    assert!(
        refused.iter().any(|d| d
            .detail
            .contains("identity_mode must be \"irsa\", \"both\" or \"pod_identity\"")),
        "{refused:#?}"
    );
    ws.set_env("TF_VAR_identity_mode", "pod_identity");

    ws.destroy().await.unwrap();
    for (namespace, name) in [
        (&runner_namespace, "gitlab-runner"),
        (&job_namespace, "gitlab-job"),
    ] {
        assert!(
            pod_identity_associations(&h, namespace, name)
                .await
                .is_empty(),
            "{namespace}/{name}: association left after destroy"
        );
    }
}
