//! The troubleshooting guide quotes what the provider really prints. Every diagnostic block of
//! `docs/guides/troubleshooting.md` marked `<!-- checked: KEY -->` is reproduced here with the
//! real Terraform CLI: the configuration of case KEY must make `terraform validate` (or
//! `plan`) report each quoted diagnostic with the same severity, summary, detail, address and
//! line. These are the plan-time checks, which make no API call, so their names are fixed.
//! Diagnostics of failed applies in the guide are quoted from runs against the emulators and
//! are not re-checked (their names depend on the run).

use gitlabrunner_acceptance::{Diagnostic, Severity, harness, hcl};

const OIDC: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

#[derive(Clone, Copy)]
enum Command {
    Validate,
    Plan,
}

/// A guide key, the command that reports its diagnostics, and the configuration (`main.tf`;
/// line numbers matter: the guide quotes them).
fn cases() -> Vec<(&'static str, Command, String)> {
    let wildcard_and_duplicate = format!(
        r#"resource "gitlabrunner_irsa_binding" "manager" {{
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"
  oidc_provider_arn    = "{OIDC}"
  grant {{
    namespace = "ci-jobs"
    rule {{
      api_groups = [""]
      resources  = ["*"]
      verbs      = ["*"]
    }}
  }}
  grant {{
    namespace = "ci-jobs"
    preset    = "kubernetes-executor"
  }}
}}
"#
    );
    vec![
        (
            "role_name_too_long",
            Command::Validate,
            format!(
                r#"resource "gitlabrunner_irsa_binding" "manager" {{
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"
  oidc_provider_arn    = "{OIDC}"
  role_name            = "production-eu-central-1-cluster-blue-gitlab-runner-manager-irsa-role"
}}
"#
            ),
        ),
        ("wildcard_rule", Command::Validate, wildcard_and_duplicate.clone()),
        ("duplicate_grant", Command::Validate, wildcard_and_duplicate),
        (
            "oidc_provider_partition",
            Command::Plan,
            format!(
                r#"provider "gitlabrunner" {{
  aws {{ region = "us-gov-west-1" }}
}}
resource "gitlabrunner_irsa_binding" "manager" {{
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"
  oidc_provider_arn    = "{OIDC}"
}}
"#
            ),
        ),
        (
            "cache_partition",
            Command::Plan,
            r#"provider "gitlabrunner" {
  aws { region = "us-gov-west-1" }
}
resource "gitlabrunner_cache" "runner" {
  role_name     = "gitlab-runner-manager"
  bucket_name   = "example-gitlab-runner-cache"
  bucket_region = "eu-central-1"
}
resource "gitlabrunner_cache" "kms" {
  role_name   = "gitlab-runner-manager"
  bucket_name = "example-gitlab-runner-cache-2"
  kms_key_arn = "arn:aws:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}
"#
            .to_string(),
        ),
        (
            "cache_inputs",
            Command::Validate,
            r#"resource "gitlabrunner_cache" "runner" {
  role_name   = "gitlab-runner-manager"
  bucket_name = "Example_GitLab_Cache"
  path        = "runner/$${CI_PROJECT_ID}"
  insecure    = true
}
"#
            .to_string(),
        ),
        (
            "cache_path_slash",
            Command::Validate,
            r#"resource "gitlabrunner_cache" "runner" {
  role_name   = "gitlab-runner-manager"
  bucket_name = "example-gitlab-runner-cache"
  path        = "/cache"
}
"#
            .to_string(),
        ),
        (
            "default_service_account",
            Command::Validate,
            r#"resource "gitlabrunner_irsa_binding" "jobs" {
  namespace            = "ci-jobs"
  service_account_name = "default"
  oidc_provider_arn    = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
}
"#
            .to_string(),
        ),
        (
            "kms_alias",
            Command::Validate,
            r#"resource "gitlabrunner_cache" "runner" {
  role_name   = "gitlab-runner-manager"
  bucket_name = "example-gitlab-runner-cache"
  kms_key_arn = "alias/gitlab-cache"
}
"#
            .to_string(),
        ),
    ]
}

/// One diagnostic as the guide quotes it (Terraform's human-readable rendering).
#[derive(Debug, PartialEq)]
struct Quoted {
    severity: Severity,
    summary: String,
    /// `with ADDRESS,` of the snippet, if any.
    address: Option<String>,
    /// `on main.tf line N` of the snippet, if any.
    line: Option<u64>,
    /// The detail, whitespace-normalized.
    detail: String,
}

fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The diagnostics in the ```text block after `<!-- checked: KEY -->`.
fn quoted(guide: &str, key: &str) -> Vec<Quoted> {
    let marker = format!("<!-- checked: {key} -->");
    let start = guide
        .find(&marker)
        .unwrap_or_else(|| panic!("the guide has no {marker}"));
    let block = &guide[start + marker.len()..];
    let block = block
        .trim_start()
        .strip_prefix("```text\n")
        .unwrap_or_else(|| panic!("{marker} is not followed by a ```text block"));
    let block = &block[..block.find("\n```").expect("closed block")];
    let mut found = Vec::new();
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let (severity, summary) = if let Some(s) = line.strip_prefix("Error: ") {
            (Severity::Error, s)
        } else if let Some(s) = line.strip_prefix("Warning: ") {
            (Severity::Warning, s)
        } else {
            continue;
        };
        let mut quote = Quoted {
            severity,
            summary: summary.to_string(),
            address: None,
            line: None,
            detail: String::new(),
        };
        // The snippet: "  with ADDRESS,", "  on FILE line N, in ...:", source lines; then a
        // blank line and the detail, up to the next diagnostic.
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
        if lines.peek().is_some_and(|l| l.starts_with("  with ")) {
            let with = lines.next().unwrap();
            quote.address = Some(
                with.trim()
                    .trim_start_matches("with ")
                    .trim_end_matches(',')
                    .to_string(),
            );
            let on = lines.next().unwrap_or_default();
            quote.line = on
                .split(" line ")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .and_then(|n| n.parse().ok());
            for source in lines.by_ref() {
                if source.trim().is_empty() {
                    break;
                }
            }
        }
        let mut detail = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("Error: ") || next.starts_with("Warning: ") {
                break;
            }
            detail.push(lines.next().unwrap());
        }
        quote.detail = normalized(&detail.join("\n"));
        found.push(quote);
    }
    assert!(!found.is_empty(), "{marker}: no diagnostic in its block");
    found
}

fn matches(quote: &Quoted, real: &Diagnostic) -> bool {
    real.severity == quote.severity
        && real.summary == quote.summary
        && normalized(&real.detail) == quote.detail
        && (quote.address.is_none() || real.address == quote.address)
        && (quote.line.is_none() || real.line() == quote.line)
}

#[test]
fn every_checked_block_of_the_guide_has_a_case() {
    let guide = std::fs::read_to_string(
        gitlabrunner_acceptance::settings::repo_root().join("docs/guides/troubleshooting.md"),
    )
    .unwrap();
    let keys: Vec<&str> = cases().iter().map(|(key, _, _)| *key).collect();
    for block in guide.split("<!-- checked: ").skip(1) {
        let key = &block[..block.find(" -->").unwrap()];
        assert!(
            keys.contains(&key),
            "the guide checks {key}, which has no case here"
        );
    }
    for key in keys {
        quoted(&guide, key);
    }
}

#[tokio::test]
async fn troubleshooting_guide_quotes_the_diagnostics_the_provider_prints() {
    let Some(h) = harness("troubleshooting_guide_quotes_the_diagnostics_the_provider_prints").await
    else {
        return;
    };
    let guide = std::fs::read_to_string(
        h.settings()
            .repo_root
            .join("docs/guides/troubleshooting.md"),
    )
    .unwrap();
    let mut runs = tokio::task::JoinSet::new();
    for (key, command, config) in cases() {
        let h = h.clone();
        runs.spawn(async move {
            let ws = h.workspace().unwrap();
            ws.write("main.tf", &config).unwrap();
            ws.write("providers.tf", hcl::REQUIRED_PROVIDERS).unwrap();
            let diagnostics = match command {
                Command::Validate => ws.validate_expect_error().await,
                Command::Plan => ws.plan_expect_error().await,
            };
            (key, diagnostics.unwrap())
        });
    }
    let mut failures = Vec::new();
    while let Some(result) = runs.join_next().await {
        let (key, real) = result.unwrap();
        for quote in quoted(&guide, key) {
            if !real.iter().any(|d| matches(&quote, d)) {
                failures.push(format!(
                    "{key}: the guide quotes {quote:#?}\nbut the provider printed:\n{}",
                    real.iter()
                        .map(|d| format!("  {} [address {:?}]", d.one_line(), d.address))
                        .collect::<Vec<_>>()
                        .join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
