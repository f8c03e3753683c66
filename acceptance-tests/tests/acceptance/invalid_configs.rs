//! The invalid-configuration corpus (issue 6; it also holds issue 4's binding cases and issue
//! 5's cache cases): every rule of `src/provider/validate.rs`, `src/resources/*/validate.rs`
//! and the plan-time checks against the provider block, each broken once, through the real
//! CLI. Each case must yield exactly one error with its summary, at its block's address, with
//! the source range on the line the case marks (`#!`; unmarked: the block's first line), and
//! nothing may reach AWS or Kubernetes: the AWS proxy in front of the emulator logs no request,
//! and the Kubernetes emulator none for the corpus's names.
//!
//! Terraform reports every block's validation errors in one `terraform validate`, so all the
//! cases Terraform can reject at validate time run in one command; the plan-time cases (which
//! need a configured provider) run in one `terraform plan`. Provider-block cases use aliased
//! provider blocks, each used by one valid resource (Terraform skips unused providers).

use std::collections::BTreeMap;
use std::time::Duration;

use gitlabrunner_acceptance::terraform::Diagnostic;
use gitlabrunner_acceptance::{PROVIDER_ADDRESS, harness, random_suffix};

const MARK: &str = "#!";
const OIDC_ARN: &str =
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/CORPUS";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Provider,
    Binding,
    Cache,
    DataSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Refused by `terraform validate` (the Validate*Config RPCs).
    Validate,
    /// Refused by `terraform plan` (ConfigureProvider or PlanResourceChange), after validate
    /// accepted it.
    Plan,
}

/// One invalid configuration: a block whose body breaks one rule. `{token}` in the body is
/// replaced by the run's unique token, `{ns}` by a valid namespace that contains it.
struct Case {
    kind: Kind,
    stage: Stage,
    summary: &'static str,
    body: String,
}

fn case(kind: Kind, stage: Stage, summary: &'static str, body: impl Into<String>) -> Case {
    Case {
        kind,
        stage,
        summary,
        body: body.into(),
    }
}

fn provider(summary: &'static str, body: impl Into<String>) -> Case {
    case(Kind::Provider, Stage::Validate, summary, body)
}

fn binding(summary: &'static str, body: impl Into<String>) -> Case {
    case(Kind::Binding, Stage::Validate, summary, body)
}

fn cache(summary: &'static str, body: impl Into<String>) -> Case {
    case(Kind::Cache, Stage::Validate, summary, body)
}

fn data(summary: &'static str, body: impl Into<String>) -> Case {
    case(Kind::DataSource, Stage::Validate, summary, body)
}

fn at_plan(mut case: Case) -> Case {
    case.stage = Stage::Plan;
    case
}

fn provider_cases() -> Vec<Case> {
    let region = "Invalid AWS region";
    vec![
        provider(region, "aws {\n  region = \"mars-1\" #!\n}"),
        provider(region, "aws {\n  region = \"US-EAST-1\" #!\n}"),
        // Issue 15: regions no partition pattern matches were taken for `aws`.
        provider(
            "AWS region of no known partition",
            "aws {\n  region = \"us-isoz-east-1\" #!\n}",
        ),
        provider(
            "AWS region of no known partition",
            "aws {\n  region = \"eusc-fr-east-1\" #!\n}",
        ),
        provider("Empty AWS profile name", "aws {\n  profile = \" \" #!\n}"),
        provider(
            "Invalid endpoint URL",
            "aws {\n  endpoint_url = \"localhost:4566\" #!\n}",
        ),
        provider(
            "Invalid endpoint URL",
            "aws {\n  endpoints {\n    s3 = \"ftp://s3.internal\" #!\n  }\n}",
        ),
        provider("Invalid max_retries", "aws {\n  max_retries = 26 #!\n}"),
        provider("Invalid max_retries", "aws {\n  max_retries = -1 #!\n}"),
        provider(
            "Invalid role ARN",
            "aws {\n  assume_role {\n    role_arn = \"arn:aws:iam::123456789012:user/ci\" #!\n  }\n}",
        ),
        provider(
            "Invalid session name",
            "aws {\n  assume_role {\n    role_arn     = \"arn:aws:iam::123456789012:role/ci\"\n    session_name = \"x\" #!\n  }\n}",
        ),
        provider(
            "Invalid external id",
            "aws {\n  assume_role {\n    role_arn    = \"arn:aws:iam::123456789012:role/ci\"\n    external_id = \"a b\" #!\n  }\n}",
        ),
        provider(
            "ARN in another AWS partition",
            "aws {\n  region = \"us-east-1\"\n  assume_role {\n    role_arn = \"arn:aws-cn:iam::123456789012:role/ci\" #!\n  }\n}",
        ),
        provider(
            "Invalid Kubernetes API server URL",
            "kubernetes {\n  host = \"ftp://cluster\" #!\n}",
        ),
        provider(
            "Conflicting Kubernetes settings",
            "kubernetes {\n  host        = \"https://cluster\"\n  config_path = \"/tmp/kubeconfig\" #!\n}",
        ),
        provider(
            "Empty Kubernetes setting",
            "kubernetes {\n  config_context = \" \" #!\n}",
        ),
        provider(
            "Kubernetes setting needs host",
            "kubernetes {\n  token = \"secret\" #!\n}",
        ),
        provider(
            "Conflicting Kubernetes credentials",
            "kubernetes {\n  host  = \"https://cluster\"\n  token = \"secret\"\n  exec { #!\n    api_version = \"client.authentication.k8s.io/v1\"\n    command     = \"aws\"\n  }\n}",
        ),
        provider(
            "Invalid PEM",
            "kubernetes {\n  host                   = \"https://cluster\"\n  cluster_ca_certificate = \"not a certificate\" #!\n}",
        ),
        provider(
            "Unsupported exec API version",
            "kubernetes {\n  host = \"https://cluster\"\n  exec {\n    api_version = \"client.authentication.k8s.io/v1alpha1\" #!\n    command     = \"aws\"\n  }\n}",
        ),
        provider(
            "Empty exec command",
            "kubernetes {\n  host = \"https://cluster\"\n  exec {\n    api_version = \"client.authentication.k8s.io/v1\"\n    command     = \" \" #!\n  }\n}",
        ),
        provider(
            "Invalid OIDC provider ARN",
            "oidc_provider_arn = \"arn:aws:iam::123456789012:role/not-a-provider\" #!",
        ),
        provider(
            "ARN in another AWS partition",
            format!(
                "aws {{\n  region = \"us-east-1\"\n}}\noidc_provider_arn = \"{}\" #!",
                OIDC_ARN.replace("arn:aws:", "arn:aws-us-gov:")
            ),
        ),
        provider(
            "Invalid tag key",
            "default_tags = {\n  \"aws:team\" = \"ci\" #!\n}",
        ),
        provider(
            "Invalid tag key",
            "default_tags = {\n  \"managed-by\" = \"me\" #!\n}",
        ),
        provider(
            "Invalid tag value",
            "default_tags = {\n  team = \"ci|cd\" #!\n}",
        ),
        provider(
            "Too many default tags",
            "default_tags = { for i in range(51) : \"k${i}\" => \"v\" } #!",
        ),
        provider("Invalid max_retries", "aws {\n  max_retries = 2.5 #!\n}"),
        provider(
            "Invalid endpoint URL",
            "aws {\n  endpoints {\n    iam = \"http://\" #!\n  }\n}",
        ),
        provider(
            "Invalid role ARN",
            "aws {\n  assume_role {\n    role_arn = \"arn:aws:iam::123456789012:role/\" #!\n  }\n}",
        ),
        provider("Invalid tag key", "default_tags = {\n  \"\" = \"ci\" #!\n}"),
        // The region comes from the profile (an .aws-config the plan workspace writes), so
        // only configuring the provider can see that the ARN's partition differs.
        at_plan(provider(
            "ARN in another AWS partition",
            format!("aws {{\n  profile = \"gov\"\n}}\noidc_provider_arn = \"{OIDC_ARN}\" #!"),
        )),
    ]
}

fn binding_cases(token: &str) -> Vec<Case> {
    let rule = |api_groups: &str, resources: &str, verbs: &str| {
        format!(
            "grant {{\n  namespace = \"{{ns}}\"\n  rule {{\n    api_groups = {api_groups}\n    resources  = {resources}\n    verbs      = {verbs}\n  }}\n}}"
        )
    };
    let policy = "jsonencode({ Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = \"*\" }] })";
    let long_namespace = format!("{}-{token}", "n".repeat(63 - token.len()));
    let long_role = format!("{}-{token}", "r".repeat(64 - token.len()));
    vec![
        binding(
            "Invalid namespace name",
            "namespace = \"Runners-{token}\" #!",
        ),
        binding(
            "Invalid namespace name",
            format!("namespace = \"{long_namespace}\" #!"),
        ),
        binding("Invalid namespace name", "namespace = \"-ci-{token}\" #!"),
        binding(
            "Invalid ServiceAccount name",
            "service_account_name = \"Runner\" #!",
        ),
        binding(
            "Invalid ServiceAccount name",
            "service_account_name = \"runner..manager\" #!",
        ),
        binding(
            "The default ServiceAccount always exists",
            "service_account_name = \"default\" #!",
        ),
        binding(
            "Invalid OIDC provider ARN",
            "oidc_provider_arn = \"arn:aws:iam::123456789012:role/not-a-provider\" #!",
        ),
        binding(
            "Invalid OIDC provider ARN",
            "oidc_provider_arn = \"oidc.eks.us-east-1.amazonaws.com/id/CORPUS\" #!",
        ),
        binding(
            "Invalid IAM role name",
            format!("role_name = \"{long_role}\" #!"),
        ),
        binding("Invalid IAM role name", "role_name = \"runner manager\" #!"),
        binding("Invalid IAM role path", "role_path = \"ci\" #!"),
        binding(
            "Role description too long",
            format!("role_description = \"{}\" #!", "d".repeat(1001)),
        ),
        binding(
            "Invalid role description",
            "role_description = \"runner \u{20ac}\" #!",
        ),
        binding(
            "Invalid maximum session duration",
            "max_session_duration = 3599 #!",
        ),
        binding(
            "Invalid maximum session duration",
            "max_session_duration = 43201 #!",
        ),
        binding(
            "Invalid permissions boundary ARN",
            "permissions_boundary_arn = \"arn:aws:iam::123456789012:role/boundary\" #!",
        ),
        binding(
            "Reserved tag key",
            "tags = {\n  \"aws:team\" = \"ci\" #!\n}",
        ),
        binding(
            "Reserved tag key",
            "tags = {\n  \"managed-by\" = \"me\" #!\n}",
        ),
        binding("Invalid tag key", "tags = {\n  \"team|ci\" = \"ci\" #!\n}"),
        binding("Invalid tag value", "tags = {\n  team = \"ci|cd\" #!\n}"),
        binding(
            "Too many tags",
            "tags = { for i in range(49) : \"k${i}\" => \"v\" } #!",
        ),
        // A set: the diagnostic points at the attribute (Terraform orders set elements its
        // own way, so an element index would not match the configuration).
        binding(
            "Invalid managed policy ARN",
            "managed_policy_arns = [ #!\n  \"zzz-not-an-arn\",\n  \"arn:aws:iam::aws:policy/ReadOnlyAccess\",\n]",
        ),
        binding(
            "Too many managed policies",
            "managed_policy_arns = [for i in range(21) : \"arn:aws:iam::aws:policy/P${i}\"] #!",
        ),
        binding(
            "Invalid inline policy name",
            format!("inline_policies = {{\n  \"cache policy\" = {policy} #!\n}}"),
        ),
        binding(
            "Invalid inline policy document",
            "inline_policies = {\n  cache = \"{not json\" #!\n}",
        ),
        binding(
            "Invalid inline policy document",
            "inline_policies = {\n  cache = jsonencode({ Version = \"2012-10-17\", Statement = [] }) #!\n}",
        ),
        binding(
            "Inline policies too large",
            "inline_policies = { #!\n  cache = jsonencode({ Version = \"2012-10-17\", Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\", Resource = [for i in range(400) : \"arn:aws:s3:::corpus-bucket/object-${i}\"] }] })\n}",
        ),
        binding("Invalid audience", "audience = \"sts.*\" #!"),
        binding("Invalid audience", "audience = \"\" #!"),
        binding(
            "Reserved label",
            "labels = {\n  \"app.kubernetes.io/managed-by\" = \"helm\" #!\n}",
        ),
        binding(
            "Invalid label key",
            "labels = {\n  \"team name\" = \"ci\" #!\n}",
        ),
        binding(
            "Invalid label value",
            "labels = {\n  team = \"ci/cd\" #!\n}",
        ),
        binding(
            "Reserved annotation",
            "annotations = {\n  \"eks.amazonaws.com/role-arn\" = \"arn:aws:iam::123456789012:role/other\" #!\n}",
        ),
        binding(
            "Invalid annotation key",
            "annotations = {\n  \"-example.com/owner\" = \"ci\" #!\n}",
        ),
        binding("Invalid token expiration", "token_expiration = 599 #!"),
        binding(
            "Invalid namespace name",
            "grant {\n  namespace = \"Jobs-{token}\" #!\n  preset    = \"kubernetes-executor\"\n}",
        ),
        binding(
            "Duplicate grant namespace",
            "grant {\n  namespace = \"{ns}\"\n  preset    = \"kubernetes-executor\"\n}\ngrant {\n  namespace = \"{ns}\" #!\n  preset    = \"kubernetes-executor\"\n}",
        ),
        binding(
            "Unknown preset",
            "grant {\n  namespace = \"{ns}\"\n  preset    = \"cluster-admin\" #!\n}",
        ),
        binding(
            "Grant without permissions",
            "grant { #!\n  namespace = \"{ns}\"\n  preset    = \"none\"\n}",
        ),
        binding(
            "Invalid API group",
            rule("[\"Apps\"] #!", "[\"deployments\"]", "[\"get\"]"),
        ),
        binding(
            "Invalid resource",
            rule("[\"\"]", "[\"Pods\"] #!", "[\"get\"]"),
        ),
        binding("Invalid verb", rule("[\"\"]", "[\"pods\"]", "[\"GET\"] #!")),
        binding("Empty rule list", rule("[\"\"]", "[\"pods\"]", "[] #!")),
        binding(
            "Wildcard in RBAC rule",
            rule("[\"\"]", "[\"*\"] #!", "[\"get\"]"),
        ),
        binding(
            "Privilege escalation in RBAC rule",
            rule("[\"\"]", "[\"pods\"]", "[\"get\", \"escalate\"] #!"),
        ),
        binding(
            "Privilege escalation in RBAC rule",
            rule("[\"\"]", "[\"pods\"]", "[\"bind\"] #!"),
        ),
        binding(
            "Privilege escalation in RBAC rule",
            rule("[\"\"]", "[\"serviceaccounts\"]", "[\"impersonate\"] #!"),
        ),
        binding(
            "Privilege escalation in RBAC rule",
            rule("[\"\"]", "[\"serviceaccounts/token\"]", "[\"create\"] #!"),
        ),
        binding(
            "Privilege escalation in RBAC rule",
            rule(
                "[\"rbac.authorization.k8s.io\"]",
                "[\"roles\", \"rolebindings\"]",
                "[\"get\", \"update\"] #!",
            ),
        ),
        binding(
            "Privilege escalation in RBAC rule",
            rule(
                "[\"rbac.authorization.k8s.io\"]",
                "[\"clusterrolebindings\"]",
                "[\"create\"] #!",
            ),
        ),
        binding(
            "Empty resource name",
            "grant {\n  namespace = \"{ns}\"\n  rule {\n    api_groups     = [\"\"]\n    resources      = [\"secrets\"]\n    verbs          = [\"get\"]\n    resource_names = [\"\"] #!\n  }\n}",
        ),
        binding(
            "Invalid verify timeout",
            "verify {\n  timeout_seconds = 1 #!\n}",
        ),
        binding(
            "Invalid maximum session duration",
            "max_session_duration = 3600.5 #!",
        ),
        binding(
            "Invalid maximum session duration",
            "max_session_duration = 1e30 #!",
        ),
        binding("Invalid token expiration", "token_expiration = 3600.5 #!"),
        binding(
            "Invalid verify timeout",
            "verify {\n  timeout_seconds = 5.5 #!\n}",
        ),
        binding(
            "Invalid permissions boundary ARN",
            "permissions_boundary_arn = \"arn:aws:iam::aws:policy/\" #!",
        ),
        binding(
            "Invalid managed policy ARN",
            "managed_policy_arns = [\"arn:aws:iam::aws:policy/\"] #!",
        ),
        binding(
            "Invalid inline policy document",
            "inline_policies = {\n  cache = jsonencode({ Version = \"2012-10-17\", Statement = [{ Effect = \"Maybe\", Action = \"s3:GetObject\", Resource = \"*\" }] }) #!\n}",
        ),
        binding(
            "Invalid inline policy document",
            "inline_policies = {\n  cache = jsonencode({ Version = \"2012-10-17\", Statement = \"allow everything\" }) #!\n}",
        ),
        binding(
            "Invalid inline policy document",
            "inline_policies = {\n  cache = jsonencode({ Statement = [{ Effect = \"Allow\", Action = \"s3:GetObject\" }] }) #!\n}",
        ),
        binding(
            "Invalid inline policy document",
            "inline_policies = {\n  cache = jsonencode({ Statement = [{ Effect = \"Allow\", Principal = \"*\", Action = \"s3:GetObject\", Resource = \"*\" }] }) #!\n}",
        ),
        binding("Invalid tag key", "tags = {\n  \"\" = \"ci\" #!\n}"),
        binding("Invalid label key", "labels = {\n  \"\" = \"ci\" #!\n}"),
        binding("Invalid IAM role path", "role_path = \"/ci runners/\" #!"),
        binding("Invalid audience", "audience = \"sts.amazonaws.com \" #!"),
        binding(
            "Grant without permissions",
            "grant { #!\n  namespace = \"{ns}\"\n}",
        ),
        // EKS Pod Identity (issue 14): the cluster name rules of EKS CreateCluster, and what
        // irsa = false excludes.
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            format!(
                "pod_identity {{\n  cluster_name = \"{}\" #!\n}}",
                "c".repeat(101)
            ),
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"-runners\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"_runners\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"runners.prod\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"ci runners\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"l\u{e4}ufer\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"arn:aws:eks:us-east-1:123456789012:cluster/ci\" #!\n}",
        ),
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"ci/runners\" #!\n}",
        ),
        // (Two pod_identity blocks are refused by Terraform itself, from the schema's max_items,
        // with no resource address: not a case of this corpus.)
        binding(
            "Invalid EKS cluster name",
            "pod_identity {\n  cluster_name = \"ci:runners\" #!\n}",
        ),
        binding(
            "irsa = false without pod_identity",
            "irsa = false #!\noidc_provider_arn = null",
        ),
        binding(
            "Setting for IRSA with irsa = false",
            format!(
                "irsa = false\npod_identity {{\n  cluster_name = \"ci\"\n}}\noidc_provider_arn = \"{OIDC_ARN}\" #!"
            ),
        ),
        binding(
            "Setting for IRSA with irsa = false",
            "irsa = false\noidc_provider_arn = null\npod_identity {\n  cluster_name = \"ci\"\n}\naudience = \"sts.amazonaws.com\" #!",
        ),
        binding(
            "Setting for IRSA with irsa = false",
            "irsa = false\noidc_provider_arn = null\npod_identity {\n  cluster_name = \"ci\"\n}\nsts_regional_endpoints = true #!",
        ),
        binding(
            "Setting for IRSA with irsa = false",
            "irsa = false\noidc_provider_arn = null\npod_identity {\n  cluster_name = \"ci\"\n}\ntoken_expiration = 3600 #!",
        ),
        binding(
            "IRSA annotation with irsa = false",
            "irsa = false\noidc_provider_arn = null\npod_identity {\n  cluster_name = \"ci\"\n}\nannotations = {\n  \"eks.amazonaws.com/skip-containers\" = \"helper\" #!\n}",
        ),
        at_plan(binding(
            "Missing OIDC provider ARN",
            "oidc_provider_arn = null #!",
        )),
        at_plan(binding(
            "OIDC provider in another partition",
            "provider = gitlabrunner.gov\noidc_provider_arn = \"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X\" #!",
        )),
        at_plan(binding(
            "Too many tags",
            "provider = gitlabrunner.tags\ntags = { #!\n  a = \"1\"\n  b = \"2\"\n  c = \"3\"\n  d = \"4\"\n}",
        )),
    ]
}

fn cache_cases(token: &str) -> Vec<Case> {
    let long_role = format!("{}-{token}", "r".repeat(64 - token.len()));
    vec![
        cache(
            "Invalid IAM role name",
            "role_name = \"arn:aws:iam::123456789012:role/runner\" #!",
        ),
        cache("Invalid IAM role name", "role_name = \"\" #!"),
        cache(
            "Invalid IAM role name",
            format!("role_name = \"{long_role}\" #!"),
        ),
        cache(
            "Invalid S3 bucket name",
            "bucket_name = \"Runner_Cache-{token}\" #!",
        ),
        cache("Invalid S3 bucket name", "bucket_name = \"ab\" #!"),
        cache(
            "Invalid S3 bucket name",
            "bucket_name = \"192.168.1.10\" #!",
        ),
        cache(
            "Invalid S3 bucket name",
            "bucket_name = \"xn--cache-{token}\" #!",
        ),
        cache(
            "Invalid S3 bucket name",
            "bucket_name = \"cache-{token}--ol-s3\" #!",
        ),
        cache(
            "Invalid S3 bucket name",
            "bucket_name = \"cache..{token}\" #!",
        ),
        cache("Invalid cache path", "path = \"/runner\" #!"),
        cache("Invalid cache path", "path = \"runner/\" #!"),
        cache("Invalid cache path", "path = \"runner/../other\" #!"),
        cache("Invalid cache path", "path = \"runner*\" #!"),
        cache("Invalid cache path", "path = \"ci cache\" #!"),
        cache("Invalid cache path", "path = \"\" #!"),
        cache(
            "Invalid inline policy name",
            "policy_name = \"cache policy\" #!",
        ),
        cache(
            "Invalid server address",
            "server_address = \"https://minio.internal:9000\" #!",
        ),
        cache(
            "Invalid server address",
            "server_address = \"minio.internal:0\" #!",
        ),
        cache("Invalid bucket region", "bucket_region = \"mars-1\" #!"),
        cache(
            "Bucket region of no known partition",
            "bucket_region = \"xx-east-1\" #!",
        ),
        cache(
            "Expiration out of range",
            "create_bucket   = true\nexpiration_days = 0 #!",
        ),
        cache(
            "expiration_days needs create_bucket",
            "expiration_days = 7 #!",
        ),
        cache(
            "force_destroy needs create_bucket",
            "force_destroy = true #!",
        ),
        cache("insecure needs server_address", "insecure = true #!"),
        cache(
            "KMS alias instead of key",
            "bucket_region = \"us-east-1\"\nkms_key_arn   = \"arn:aws:kms:us-east-1:123456789012:alias/cache\" #!",
        ),
        cache(
            "Invalid KMS key ARN",
            "kms_key_arn = \"arn:aws:s3:::not-a-key\" #!",
        ),
        cache(
            "KMS key in another partition",
            "bucket_region = \"us-east-1\"\nkms_key_arn   = \"arn:aws-cn:kms:cn-north-1:123456789012:key/k\" #!",
        ),
        cache(
            "KMS key in another region",
            "bucket_region = \"us-east-1\"\nkms_key_arn   = \"arn:aws:kms:eu-west-1:123456789012:key/k\" #!",
        ),
        cache(
            "Expiration not a whole number",
            "create_bucket   = true\nexpiration_days = 7.5 #!",
        ),
        cache(
            "Expiration out of range",
            "create_bucket   = true\nexpiration_days = 1e30 #!",
        ),
        cache(
            "Invalid KMS key ARN",
            "bucket_region = \"us-east-1\"\nkms_key_arn   = \"arn:aws:kms:us-east-1:123456789012:key/\" #!",
        ),
        cache(
            "Invalid KMS key ARN",
            "kms_key_arn = \"arn:aws:kms:us-east-1:12345:key/k\" #!",
        ),
        cache(
            "Invalid server address",
            "server_address = \"minio.internal:99999\" #!",
        ),
        cache(
            "Invalid server address",
            "server_address = \"minio internal\" #!",
        ),
        cache("Invalid inline policy name", "policy_name = \"\" #!"),
        cache("Invalid cache path", "path = \"runner/./cache\" #!"),
        at_plan(cache(
            "Bucket region in another partition",
            "bucket_region = \"us-gov-west-1\" #!",
        )),
        // Issue 15: an ISO region was taken for `aws`, the provider's partition.
        at_plan(cache(
            "Bucket region in another partition",
            "bucket_region = \"us-iso-east-1\" #!",
        )),
        at_plan(cache(
            "Bucket region in another partition",
            "provider      = gitlabrunner.gov\nbucket_region = \"us-east-1\" #!",
        )),
        // The bucket's region defaults to the provider's: only the plan knows it.
        at_plan(cache(
            "KMS key in another region",
            "kms_key_arn = \"arn:aws:kms:eu-west-1:123456789012:key/k\" #!",
        )),
        at_plan(cache(
            "Bucket region unknown",
            "provider = gitlabrunner.noregion",
        )),
    ]
}

fn data_source_cases() -> Vec<Case> {
    vec![
        data(
            "Conflicting OIDC provider arguments",
            format!(
                "arn = \"{OIDC_ARN}\"\nurl = \"https://oidc.eks.us-east-1.amazonaws.com/id/CORPUS\" #!"
            ),
        ),
        data(
            "Invalid OIDC provider ARN",
            "arn = \"arn:aws:iam::123456789012:role/not-a-provider\" #!",
        ),
        data(
            "Invalid issuer URL",
            "url = \"http://oidc.eks.us-east-1.amazonaws.com/id/CORPUS\" #!",
        ),
        data(
            "Invalid issuer URL",
            "url = \"https://oidc.example.com/id/CORPUS?x=1\" #!",
        ),
        data("Invalid OIDC provider ARN", "arn = \"\" #!"),
        data(
            "Invalid OIDC provider ARN",
            "arn = \"https://oidc.eks.us-east-1.amazonaws.com/id/CORPUS\" #!",
        ),
        data("Invalid issuer URL", "url = \"https://\" #!"),
    ]
}

/// Where a case's error must be.
struct Expected {
    case: usize,
    summary: &'static str,
    address: String,
    context: String,
    line: u64,
    /// Where older Terraform versions put the error instead of `line` when `line` opens a
    /// nested block (`grant {`): an attribute path that ends at a block element is reported at
    /// the enclosing block's first line (seen with 1.6.6 and 1.11.4; 1.15.5 points at the
    /// nested block). `None` when the mark is on an attribute, which every version points at.
    block_fallback: Option<u64>,
}

/// A configuration holding many cases, and where each case's error must point.
struct Corpus {
    text: String,
    expected: Vec<Expected>,
}

impl Corpus {
    fn new(preamble: &str) -> Self {
        Self {
            text: preamble.to_string(),
            expected: Vec::new(),
        }
    }

    fn line(&self) -> u64 {
        self.text.lines().count() as u64 + 1
    }

    /// Appends `BLOCK {`, the `defaults` the body does not set at top level, the case's body
    /// with `{token}` and `{ns}` filled in, `}`; records the expected error on the marked
    /// line (or the block's first line).
    fn block(&mut self, index: usize, case: &Case, block: Block, defaults: &[(&str, String)]) {
        let namespace = format!("ns{index}-{}", block.token);
        let body = format!("{}{}", block.prefix, case.body)
            .replace("{token}", block.token)
            .replace("{ns}", &namespace);
        let mut depth = 0i32;
        let mut top_level = Vec::new();
        for line in body.lines() {
            if depth == 0
                && let Some((name, _)) = line.split_once('=')
            {
                top_level.push(name.trim().to_string());
            }
            depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        }
        // A blank line, then the header.
        let header_line = self.line() + 1;
        self.text.push_str(&format!("\n{} {{\n", block.context));
        for (name, value) in defaults {
            if !top_level.iter().any(|n| n == name) {
                self.text.push_str(&format!("{name} = {value}\n"));
            }
        }
        let body_start = self.line();
        let marked = body
            .lines()
            .enumerate()
            .find(|(_, text)| text.trim_end().ends_with(MARK));
        let line = marked.map_or(header_line, |(offset, _)| body_start + offset as u64);
        let opens_block = marked.is_some_and(|(_, text)| {
            text.trim_end()
                .trim_end_matches(MARK)
                .trim_end()
                .ends_with('{')
        });
        self.text.push_str(&body);
        self.text.push_str("\n}\n");
        self.expected.push(Expected {
            case: index,
            summary: case.summary,
            address: block.address,
            context: block.context,
            line,
            block_fallback: opens_block.then_some(header_line),
        });
    }

    fn add(&mut self, index: usize, case: &Case, token: &str) {
        let quoted = |s: String| format!("\"{s}\"");
        match case.kind {
            Kind::Provider => {
                let alias = format!("p{index}");
                let block = Block {
                    context: "provider \"gitlabrunner\"".to_string(),
                    address: format!("provider[\"{PROVIDER_ADDRESS}\"].{alias}"),
                    prefix: format!("alias = \"{alias}\"\n"),
                    token,
                };
                self.block(index, case, block, &[]);
                // Terraform validates and configures only providers something uses.
                self.text.push_str(&format!(
                    "\nresource \"gitlabrunner_cache\" \"{alias}_user\" {{\n  provider      = gitlabrunner.{alias}\n  role_name     = \"corpus-{token}\"\n  bucket_name   = \"corpus-{alias}-{token}\"\n  bucket_region = \"us-east-1\"\n}}\n"
                ));
            }
            Kind::Binding => {
                let name = format!("b{index}");
                let defaults = [
                    ("namespace", quoted(format!("ns{index}-{token}"))),
                    ("service_account_name", quoted("runner".to_string())),
                    ("oidc_provider_arn", quoted(OIDC_ARN.to_string())),
                ];
                self.block(
                    index,
                    case,
                    Block::resource("gitlabrunner_irsa_binding", &name, token),
                    &defaults,
                );
            }
            Kind::Cache => {
                let name = format!("c{index}");
                let defaults = [
                    ("role_name", quoted(format!("corpus-{token}"))),
                    ("bucket_name", quoted(format!("corpus-{name}-{token}"))),
                ];
                self.block(
                    index,
                    case,
                    Block::resource("gitlabrunner_cache", &name, token),
                    &defaults,
                );
            }
            Kind::DataSource => {
                let name = format!("d{index}");
                let block = Block {
                    context: format!("data \"gitlabrunner_oidc_provider\" \"{name}\""),
                    address: format!("data.gitlabrunner_oidc_provider.{name}"),
                    prefix: String::new(),
                    token,
                };
                self.block(index, case, block, &[]);
            }
        }
    }
}

/// The block a case is written into: its first line without `{` (also the snippet context
/// Terraform reports), the address Terraform reports, lines written before the case's body.
struct Block<'t> {
    context: String,
    address: String,
    prefix: String,
    token: &'t str,
}

impl<'t> Block<'t> {
    fn resource(kind: &str, name: &str, token: &'t str) -> Self {
        Block {
            context: format!("resource \"{kind}\" \"{name}\""),
            address: format!("{kind}.{name}"),
            prefix: String::new(),
            token,
        }
    }
}

/// Matches the errors to the expected ones: each case exactly one error, on its line and
/// block; no error left over. Returns the failures, one line each.
fn mismatches(corpus: &Corpus, cases: &[Case], diagnostics: &[Diagnostic]) -> Vec<String> {
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    let mut claimed = vec![false; errors.len()];
    let mut failures = Vec::new();
    for expected in &corpus.expected {
        let mine: Vec<usize> = (0..errors.len())
            .filter(|i| errors[*i].address.as_deref() == Some(expected.address.as_str()))
            .collect();
        for i in &mine {
            claimed[*i] = true;
        }
        let describe = || {
            format!(
                "case {} ({:?}, {}, expected at line {}): {}",
                expected.case,
                cases[expected.case].kind,
                expected.summary,
                expected.line,
                cases[expected.case].body.lines().next().unwrap_or("")
            )
        };
        match mine.as_slice() {
            [i] => {
                let error = errors[*i];
                let context = error.snippet.as_ref().and_then(|s| s.context.as_deref());
                let on_line = error.line() == Some(expected.line)
                    || (expected.block_fallback.is_some()
                        && error.line() == expected.block_fallback);
                if error.summary != expected.summary
                    || !on_line
                    || context != Some(expected.context.as_str())
                {
                    failures.push(format!("{}\n    got: {}", describe(), error.one_line()));
                }
            }
            [] => failures.push(format!("{}\n    got no error", describe())),
            several => failures.push(format!(
                "{}\n    got {} errors: {}",
                describe(),
                several.len(),
                several
                    .iter()
                    .map(|i| errors[*i].one_line())
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
        }
    }
    for (i, error) in errors.iter().enumerate() {
        if !claimed[i] {
            failures.push(format!(
                "unexpected error: {:?} {}",
                error.address,
                error.one_line()
            ));
        }
    }
    failures
}

fn say(line: &str) {
    gitlabrunner_acceptance::say!("invalid_configs: {line}");
}

/// The provider blocks plan-stage cases use.
const PLAN_PROVIDERS: &str = r#"
provider "gitlabrunner" {
  aws {
    region = "us-east-1"
  }
}

provider "gitlabrunner" {
  alias = "gov"
  aws {
    region = "us-gov-west-1"
  }
}

provider "gitlabrunner" {
  alias = "noregion"
}

provider "gitlabrunner" {
  alias = "tags"
  aws {
    region = "us-east-1"
  }
  default_tags = { for i in range(45) : "team${i}" => "ci" }
}
"#;

#[tokio::test]
async fn every_invalid_configuration_is_refused_before_any_api_call() {
    let test = "every_invalid_configuration_is_refused_before_any_api_call";
    let Some(h) = harness(test).await else {
        return;
    };
    let token = random_suffix();
    let cases: Vec<Case> = provider_cases()
        .into_iter()
        .chain(binding_cases(&token))
        .chain(cache_cases(&token))
        .chain(data_source_cases())
        .collect();
    let required = gitlabrunner_acceptance::hcl::REQUIRED_PROVIDERS;
    let mut validate_corpus = Corpus::new(&format!(
        "{required}\nprovider \"gitlabrunner\" {{\n  aws {{\n    region = \"us-east-1\"\n  }}\n}}\n"
    ));
    let mut plan_corpus = Corpus::new(&format!("{required}{PLAN_PROVIDERS}"));
    for (index, case) in cases.iter().enumerate() {
        match case.stage {
            Stage::Validate => validate_corpus.add(index, case, &token),
            Stage::Plan => plan_corpus.add(index, case, &token),
        }
    }

    let proxy = h.start_proxy().unwrap();
    let kube = h.start_kube_proxy().unwrap();
    let validate_ws = h.workspace_through(&proxy, &kube).unwrap();
    validate_ws.write("main.tf", &validate_corpus.text).unwrap();
    let mut plan_ws = h.workspace_through(&proxy, &kube).unwrap();
    plan_ws
        .remove_env("AWS_REGION")
        .remove_env("AWS_DEFAULT_REGION");
    plan_ws.write("main.tf", &plan_corpus.text).unwrap();
    plan_ws
        .write(".aws-config", "[profile gov]\nregion = us-gov-west-1\n")
        .unwrap();
    let (validated, planned) = tokio::join!(
        validate_ws.validate_expect_error(),
        plan_ws.plan_expect_error()
    );
    let (validated, planned) = (validated.unwrap(), planned.unwrap());
    let validate_time = validate_ws
        .last_output()
        .map_or(Duration::ZERO, |o| o.duration);
    let plan_time = plan_ws.last_output().map_or(Duration::ZERO, |o| o.duration);

    let mut failures = mismatches(&validate_corpus, &cases, &validated);
    failures.extend(mismatches(&plan_corpus, &cases, &planned));
    let aws_calls = proxy.requests();
    // The path as logged carries the query too.
    let kube_calls: Vec<_> = kube
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(&token))
        .collect();

    let mut sizes: BTreeMap<Kind, usize> = BTreeMap::new();
    for case in &cases {
        *sizes.entry(case.kind).or_default() += 1;
    }
    say(&format!(
        "{} invalid configurations (provider block {}, gitlabrunner_irsa_binding {}, \
         gitlabrunner_cache {}, gitlabrunner_oidc_provider {}): {} refused by one terraform \
         validate ({:.2} s), {} by one terraform plan ({:.2} s); {} AWS requests, {} Kubernetes \
         requests for the corpus's names",
        cases.len(),
        sizes[&Kind::Provider],
        sizes[&Kind::Binding],
        sizes[&Kind::Cache],
        sizes[&Kind::DataSource],
        validate_corpus.expected.len(),
        validate_time.as_secs_f64(),
        plan_corpus.expected.len(),
        plan_time.as_secs_f64(),
        aws_calls.len(),
        kube_calls.len()
    ));
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        sizes[&Kind::Provider] >= 5 && sizes[&Kind::Binding] >= 30 && sizes[&Kind::Cache] >= 15
    );
    assert!(cases.len() >= 50);
    assert!(aws_calls.is_empty(), "AWS calls: {aws_calls:?}");
    assert!(kube_calls.is_empty(), "Kubernetes calls: {kube_calls:?}");
}
