//! Where a new user lost time in the first hour (issue 15), each checked through the real CLI:
//! a binding without any Kubernetes configuration is refused at plan, not at apply; what a plan
//! shows after importing a binding whose configuration has `verify`, exactly as the docs say;
//! and how the human-readable plan renders the core API group `""` of `role_rules`.

use gitlabrunner_acceptance::terraform::Action;
use gitlabrunner_acceptance::{harness, hcl, unique_name};

use crate::binding_support::{ADDRESS, Fixture, binding, changed_attributes, grant};

#[tokio::test]
async fn a_binding_without_kubernetes_is_refused_at_plan_not_at_apply() {
    let Some(h) = harness("a_binding_without_kubernetes_is_refused_at_plan_not_at_apply").await
    else {
        return;
    };
    let mut ws = h.workspace().unwrap();
    // No kubernetes block, no KUBECONFIG, no ~/.kube/config, not in a pod.
    let home = ws.dir().join("home");
    std::fs::create_dir_all(&home).unwrap();
    ws.remove_env("KUBECONFIG")
        .remove_env("KUBERNETES_SERVICE_HOST")
        .set_env("HOME", &home.display().to_string());
    let config = format!(
        "{}\nresource \"gitlabrunner_irsa_binding\" \"runner\" {{\n  namespace            = \"gitlab-runner\"\n  service_account_name = {}\n  oidc_provider_arn    = \"arn:aws:iam::{}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/FIRSTHOUR\"\n}}\n",
        hcl::with_provider(""),
        hcl::quote(&unique_name("runner")),
        h.account_id(),
    );
    ws.write("main.tf", &config).unwrap();
    ws.validate().await.unwrap();

    let diagnostics = ws.plan_expect_error().await.unwrap();
    let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{diagnostics:#?}");
    let error = errors[0];
    assert_eq!(error.summary, "Kubernetes is not configured");
    assert_eq!(error.address.as_deref(), Some(ADDRESS));
    let service_account_line = config
        .lines()
        .position(|l| l.trim_start().starts_with("service_account_name"))
        .unwrap() as u64
        + 1;
    assert_eq!(
        error.line(),
        Some(service_account_line),
        "the error points at service_account_name: {error:#?}"
    );
    for needed in [
        "Kubernetes API",
        "kubernetes block",
        "KUBECONFIG is not set",
    ] {
        assert!(error.detail.contains(needed), "{needed}: {}", error.detail);
    }
}

#[tokio::test]
async fn a_plan_after_importing_a_binding_with_verify_only_runs_verify() {
    let Some(f) = Fixture::new(
        "a_plan_after_importing_a_binding_with_verify_only_runs_verify",
        1,
    )
    .await
    else {
        return;
    };
    let configuration = binding(
        &f,
        &format!(
            "{}  verify {{\n    timeout_seconds = 60\n  }}\n",
            grant(&f.jobs[0], Some("kubernetes-executor"), &[])
        ),
    );
    let origin = f.workspace();
    origin.write("main.tf", &configuration).unwrap();
    origin.apply().await.unwrap();
    let created = origin.show().await.unwrap();

    // Import cannot see the configuration, so the state it makes has no verify block and no
    // verified identity; the plan adds exactly those two, as the docs say.
    let imported = f.workspace();
    imported.write("main.tf", &configuration).unwrap();
    imported.import(ADDRESS, &f.id()).await.unwrap();
    let plan = imported.plan().await.unwrap();
    let change = plan.change(ADDRESS).unwrap();
    assert_eq!(
        change.change.actions,
        [Action::Update],
        "{}",
        plan.summary()
    );
    assert_eq!(
        changed_attributes(change),
        ["verified_identity_arn", "verify"]
            .into_iter()
            .map(String::from)
            .collect(),
        "the plan after import changes more than verify"
    );
    assert!(change.is_unknown_after("verified_identity_arn"));

    // Applying it runs the check and changes nothing in IAM or Kubernetes; then no change.
    imported.apply().await.unwrap();
    let applied = imported.show().await.unwrap();
    let (before, after) = (
        created.resource(ADDRESS).unwrap(),
        applied.resource(ADDRESS).unwrap(),
    );
    for attribute in [
        "role_unique_id",
        "service_account_uid",
        "trust_policy",
        "irsa_annotations",
        "grant",
    ] {
        assert_eq!(
            after.attr(attribute),
            before.attr(attribute),
            "{attribute} after the post-import apply"
        );
    }
    assert!(
        after
            .str_attr("verified_identity_arn")
            .is_some_and(|arn| arn.contains(":assumed-role/")),
        "verify ran: {:?}",
        after.attr("verified_identity_arn")
    );
    assert!(imported.plan().await.unwrap().is_empty());

    origin.destroy().await.unwrap();
    f.assert_gone(&f.default_role_name(), &f.jobs).await;
}

/// The lines `docs/resources/irsa_binding.md` quotes after `<!-- checked: core_api_group_in_plan -->`.
fn quoted_rendering() -> Vec<String> {
    let page = std::fs::read_to_string(
        gitlabrunner_acceptance::settings::repo_root().join("docs/resources/irsa_binding.md"),
    )
    .unwrap();
    let marker = "<!-- checked: core_api_group_in_plan -->";
    let block = &page[page.find(marker).expect("the page quotes the rendering") + marker.len()..];
    let block = block.trim_start().strip_prefix("```text\n").unwrap();
    block[..block.find("\n```").unwrap()]
        .lines()
        .map(normalized)
        .collect()
}

/// A line without its indentation and alignment.
fn normalized(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_core_api_group_is_sent_as_an_empty_string_and_rendered_as_the_docs_say() {
    let Some(h) =
        harness("the_core_api_group_is_sent_as_an_empty_string_and_rendered_as_the_docs_say").await
    else {
        return;
    };
    let kube = h.kubernetes().unwrap().client().await.unwrap();
    let oidc = crate::binding_support::register_issuer(&kube, &h.aws_clients().await).await;
    let ws = h.workspace().unwrap();
    ws.write(
        "main.tf",
        &format!(
            "{}\nresource \"gitlabrunner_irsa_binding\" \"runner\" {{\n  namespace            = \"gitlab-runner\"\n  service_account_name = {}\n  oidc_provider_arn    = {}\n  grant {{\n    namespace = \"gitlab-jobs\"\n    rule {{\n      api_groups = [\"\"]\n      resources  = [\"configmaps\"]\n      verbs      = [\"get\"]\n    }}\n  }}\n}}\n",
            hcl::with_provider(""),
            hcl::quote(&unique_name("runner")),
            hcl::quote(&oidc.arn),
        ),
    )
    .unwrap();

    // The provider plans "" (msgpack fixstr of length 0): the JSON plan has it, for the rule
    // and for the Role's rules.
    let plan = ws.plan().await.unwrap();
    let after = &plan.change(ADDRESS).unwrap().change.after;
    assert_eq!(
        after["grant"][0]["rule"][0]["api_groups"],
        serde_json::json!([""])
    );
    assert_eq!(
        after["grant"][0]["role_rules"][0]["api_groups"],
        serde_json::json!([""])
    );

    // Terraform's human-readable plan renders it the way the docs quote, for both.
    let text = ws
        .run_ok(&["plan", "-no-color", "-input=false"])
        .await
        .unwrap()
        .stdout;
    let lines: Vec<String> = text.lines().map(normalized).collect();
    let quoted = quoted_rendering();
    // Terraform before 1.8 (the oldest in CI is 1.6.6) renders the element as `""`.
    let older: Vec<String> = quoted
        .iter()
        .map(|line| line.replace("+ null,", "+ \"\","))
        .collect();
    let rendered = lines
        .windows(quoted.len())
        .filter(|window| *window == quoted.as_slice() || *window == older.as_slice())
        .count();
    assert_eq!(
        rendered, 2,
        "rule and role_rules as quoted {quoted:?}:\n{text}"
    );
}
