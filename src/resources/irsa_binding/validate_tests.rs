//! Invalid configurations: each is refused before any API call, with the expected summary at
//! the expected attribute path. The list doubles as the corpus the report names.

use crate::codec::Value;

use super::testing::{grant, manager_config, plan_with, pod_identity, rule};
use super::validate::validate;

/// One invalid configuration: what is wrong, how to make it, and the expected diagnostic.
struct Case {
    what: &'static str,
    change: fn(&mut Value),
    summary: &'static str,
    path: &'static str,
}

fn set(config: &mut Value, name: &str, value: Value) {
    config.set_attr(name, value);
}

fn set_rule(config: &mut Value, field: &str, value: Value) {
    let mut grants = config.get("grant").as_elements().unwrap().to_vec();
    let mut rules = grants[2].get("rule").as_elements().unwrap().to_vec();
    rules[0].set_attr(field, value);
    grants[2].set_attr("rule", Value::List(rules));
    config.set_attr("grant", Value::List(grants));
}

/// A `pod_identity` block whose cluster is named `name`.
fn set_cluster(config: &mut Value, name: &str) {
    config.set_attr("pod_identity", pod_identity(name));
}

/// The manager's configuration, Pod Identity only (valid as it is).
fn pod_identity_only(config: &mut Value) {
    config.set_attr("irsa", false.into());
    config.set_attr("sts_regional_endpoints", Value::Null);
    config.set_attr("pod_identity", pod_identity("gitlabrunner-acc"));
}

fn valid_policy() -> &'static str {
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "upper-case namespace",
            change: |c| set(c, "namespace", "CI-Runner".into()),
            summary: "Invalid namespace name",
            path: "namespace",
        },
        Case {
            what: "namespace over 63 characters",
            change: |c| set(c, "namespace", "a".repeat(64).into()),
            summary: "Invalid namespace name",
            path: "namespace",
        },
        Case {
            what: "namespace starting with a dash",
            change: |c| set(c, "namespace", "-ci".into()),
            summary: "Invalid namespace name",
            path: "namespace",
        },
        Case {
            what: "ServiceAccount name with underscore",
            change: |c| set(c, "service_account_name", "runner_1".into()),
            summary: "Invalid ServiceAccount name",
            path: "service_account_name",
        },
        Case {
            what: "ServiceAccount name over 253 characters",
            change: |c| set(c, "service_account_name", "a".repeat(254).into()),
            summary: "Invalid ServiceAccount name",
            path: "service_account_name",
        },
        Case {
            what: "ServiceAccount name with an empty label",
            change: |c| set(c, "service_account_name", "runner..x".into()),
            summary: "Invalid ServiceAccount name",
            path: "service_account_name",
        },
        Case {
            what: "the default ServiceAccount without adoption",
            change: |c| set(c, "service_account_name", "default".into()),
            summary: "The default ServiceAccount always exists",
            path: "service_account_name",
        },
        Case {
            what: "OIDC provider ARN with a short account",
            change: |c| {
                set(
                    c,
                    "oidc_provider_arn",
                    "arn:aws:iam::1234:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X".into(),
                )
            },
            summary: "Invalid OIDC provider ARN",
            path: "oidc_provider_arn",
        },
        Case {
            what: "issuer URL instead of an ARN",
            change: |c| {
                set(
                    c,
                    "oidc_provider_arn",
                    "https://oidc.eks.us-east-1.amazonaws.com/id/X".into(),
                )
            },
            summary: "Invalid OIDC provider ARN",
            path: "oidc_provider_arn",
        },
        Case {
            what: "role ARN instead of an OIDC provider",
            change: |c| {
                set(
                    c,
                    "oidc_provider_arn",
                    "arn:aws:iam::123456789012:role/x".into(),
                )
            },
            summary: "Invalid OIDC provider ARN",
            path: "oidc_provider_arn",
        },
        Case {
            what: "role name over 64 characters",
            change: |c| set(c, "role_name", "r".repeat(65).into()),
            summary: "Invalid IAM role name",
            path: "role_name",
        },
        Case {
            what: "role name with a space",
            change: |c| set(c, "role_name", "runner role".into()),
            summary: "Invalid IAM role name",
            path: "role_name",
        },
        Case {
            what: "role path without slashes",
            change: |c| set(c, "role_path", "ci".into()),
            summary: "Invalid IAM role path",
            path: "role_path",
        },
        Case {
            what: "role path with a space",
            change: |c| set(c, "role_path", "/ci x/".into()),
            summary: "Invalid IAM role path",
            path: "role_path",
        },
        Case {
            what: "description over 1000 characters",
            change: |c| set(c, "role_description", "d".repeat(1001).into()),
            summary: "Role description too long",
            path: "role_description",
        },
        Case {
            what: "description with an emoji",
            change: |c| set(c, "role_description", "runner \u{1f680}".into()),
            summary: "Invalid role description",
            path: "role_description",
        },
        Case {
            what: "session shorter than an hour",
            change: |c| set(c, "max_session_duration", Value::int(1800)),
            summary: "Invalid maximum session duration",
            path: "max_session_duration",
        },
        Case {
            what: "session longer than 12 hours",
            change: |c| set(c, "max_session_duration", Value::int(50000)),
            summary: "Invalid maximum session duration",
            path: "max_session_duration",
        },
        Case {
            what: "fractional maximum session duration",
            change: |c| {
                set(
                    c,
                    "max_session_duration",
                    Value::Number(crate::codec::Number::Float(3600.5)),
                )
            },
            summary: "Invalid maximum session duration",
            path: "max_session_duration",
        },
        Case {
            what: "maximum session duration beyond any integer",
            change: |c| {
                set(
                    c,
                    "max_session_duration",
                    Value::Number(crate::codec::Number::Decimal("1e30".into())),
                )
            },
            summary: "Invalid maximum session duration",
            path: "max_session_duration",
        },
        Case {
            what: "boundary that is not a policy",
            change: |c| {
                set(
                    c,
                    "permissions_boundary_arn",
                    "arn:aws:iam::123456789012:role/x".into(),
                )
            },
            summary: "Invalid permissions boundary ARN",
            path: "permissions_boundary_arn",
        },
        Case {
            what: "ownership tag key",
            change: |c| set(c, "tags", Value::string_map([("managed-by", "me")])),
            summary: "Reserved tag key",
            path: "tags[\"managed-by\"]",
        },
        Case {
            what: "aws: tag key",
            change: |c| set(c, "tags", Value::string_map([("aws:team", "x")])),
            summary: "Reserved tag key",
            path: "tags[\"aws:team\"]",
        },
        Case {
            what: "tag key with #",
            change: |c| set(c, "tags", Value::string_map([("team#1", "x")])),
            summary: "Invalid tag key",
            path: "tags[\"team#1\"]",
        },
        Case {
            what: "tag value over 256 characters",
            change: |c| {
                set(
                    c,
                    "tags",
                    Value::string_map([("team".to_string(), "v".repeat(257))]),
                )
            },
            summary: "Invalid tag value",
            path: "tags[\"team\"]",
        },
        Case {
            what: "49 tags",
            change: |c| {
                set(
                    c,
                    "tags",
                    Value::string_map((0..49).map(|i| (format!("k{i}"), "v".to_string()))),
                )
            },
            summary: "Too many tags",
            path: "tags",
        },
        Case {
            what: "bucket ARN as managed policy",
            change: |c| {
                set(
                    c,
                    "managed_policy_arns",
                    Value::string_set(["arn:aws:s3:::cache"]),
                )
            },
            summary: "Invalid managed policy ARN",
            path: "managed_policy_arns",
        },
        Case {
            what: "21 managed policies",
            change: |c| {
                set(
                    c,
                    "managed_policy_arns",
                    Value::string_set((0..21).map(|i| format!("arn:aws:iam::aws:policy/P{i}"))),
                )
            },
            summary: "Too many managed policies",
            path: "managed_policy_arns",
        },
        Case {
            what: "inline policy with an unknown effect",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([(
                        "cache",
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:GetObject","Resource":"*"}]}"#,
                    )]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"cache\"]",
        },
        Case {
            what: "inline policy statement without a resource",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([(
                        "cache",
                        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject"}}"#,
                    )]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"cache\"]",
        },
        Case {
            what: "inline policy with a principal",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([(
                        "cache",
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
                    )]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"cache\"]",
        },
        Case {
            what: "inline policy statement as a string",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([(
                        "cache",
                        r#"{"Version":"2012-10-17","Statement":"allow everything"}"#,
                    )]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"cache\"]",
        },
        Case {
            what: "inline policy of an unknown version",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([(
                        "cache",
                        r#"{"Version":"2024-01-01","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
                    )]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"cache\"]",
        },
        Case {
            what: "inline policy name with a space",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([("my policy", valid_policy())]),
                )
            },
            summary: "Invalid inline policy name",
            path: "inline_policies[\"my policy\"]",
        },
        Case {
            what: "inline policy that is not JSON",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([("p", "{\"Statement\": [")]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"p\"]",
        },
        Case {
            what: "inline policy that is a JSON array",
            change: |c| set(c, "inline_policies", Value::string_map([("p", "[1, 2]")])),
            summary: "Invalid inline policy document",
            path: "inline_policies[\"p\"]",
        },
        Case {
            what: "inline policy without statements",
            change: |c| {
                set(
                    c,
                    "inline_policies",
                    Value::string_map([("p", "{\"Version\":\"2012-10-17\",\"Statement\":[]}")]),
                )
            },
            summary: "Invalid inline policy document",
            path: "inline_policies[\"p\"]",
        },
        Case {
            what: "inline policies over 10240 characters",
            change: |c| {
                set(c, "inline_policies", Value::string_map((0..12).map(|i| (format!("p{i}"), format!("{{\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::{}\"}}]}}", "b".repeat(900))))))
            },
            summary: "Inline policies too large",
            path: "inline_policies",
        },
        Case {
            what: "empty audience",
            change: |c| set(c, "audience", "".into()),
            summary: "Invalid audience",
            path: "audience",
        },
        Case {
            what: "wildcard audience",
            change: |c| set(c, "audience", "sts.*".into()),
            summary: "Invalid audience",
            path: "audience",
        },
        Case {
            what: "managed-by label",
            change: |c| {
                set(
                    c,
                    "labels",
                    Value::string_map([("app.kubernetes.io/managed-by", "me")]),
                )
            },
            summary: "Reserved label",
            path: "labels[\"app.kubernetes.io/managed-by\"]",
        },
        Case {
            what: "label key with a space",
            change: |c| set(c, "labels", Value::string_map([("my app", "x")])),
            summary: "Invalid label key",
            path: "labels[\"my app\"]",
        },
        Case {
            what: "label value with a space",
            change: |c| set(c, "labels", Value::string_map([("app", "gitlab runner")])),
            summary: "Invalid label value",
            path: "labels[\"app\"]",
        },
        Case {
            what: "role-arn annotation",
            change: |c| {
                set(
                    c,
                    "annotations",
                    Value::string_map([("eks.amazonaws.com/role-arn", "arn")]),
                )
            },
            summary: "Reserved annotation",
            path: "annotations[\"eks.amazonaws.com/role-arn\"]",
        },
        Case {
            what: "owner annotation",
            change: |c| {
                set(
                    c,
                    "annotations",
                    Value::string_map([("terraform-provider-gitlabrunner/owner", "x")]),
                )
            },
            summary: "Reserved annotation",
            path: "annotations[\"terraform-provider-gitlabrunner/owner\"]",
        },
        Case {
            what: "annotation key with a bad prefix",
            change: |c| {
                set(
                    c,
                    "annotations",
                    Value::string_map([("-example.com/x", "y")]),
                )
            },
            summary: "Invalid annotation key",
            path: "annotations[\"-example.com/x\"]",
        },
        Case {
            what: "token expiration under ten minutes",
            change: |c| set(c, "token_expiration", Value::int(599)),
            summary: "Invalid token expiration",
            path: "token_expiration",
        },
        Case {
            what: "fractional token expiration",
            change: |c| {
                set(
                    c,
                    "token_expiration",
                    Value::Number(crate::codec::Number::Float(3600.5)),
                )
            },
            summary: "Invalid token expiration",
            path: "token_expiration",
        },
        Case {
            what: "upper-case grant namespace",
            change: |c| {
                set(
                    c,
                    "grant",
                    Value::List(vec![grant("Jobs", Some("kubernetes-executor"), vec![])]),
                )
            },
            summary: "Invalid namespace name",
            path: "grant[0].namespace",
        },
        Case {
            what: "duplicate grant namespaces",
            change: |c| {
                set(
                    c,
                    "grant",
                    Value::List(vec![
                        grant("ci-jobs", Some("kubernetes-executor"), vec![]),
                        grant(
                            "ci-jobs",
                            Some("none"),
                            vec![rule(&[""], &["pods"], &["get"])],
                        ),
                    ]),
                )
            },
            summary: "Duplicate grant namespace",
            path: "grant[1].namespace",
        },
        Case {
            what: "unknown preset",
            change: |c| {
                set(
                    c,
                    "grant",
                    Value::List(vec![grant("ci-jobs", Some("kubernetes_executor"), vec![])]),
                )
            },
            summary: "Unknown preset",
            path: "grant[0].preset",
        },
        Case {
            what: "preset none without rules",
            change: |c| {
                set(
                    c,
                    "grant",
                    Value::List(vec![grant("ci-jobs", Some("none"), vec![])]),
                )
            },
            summary: "Grant without permissions",
            path: "grant[0]",
        },
        Case {
            what: "no preset and no rules",
            change: |c| {
                set(
                    c,
                    "grant",
                    Value::List(vec![grant("ci-jobs", None, vec![])]),
                )
            },
            summary: "Grant without permissions",
            path: "grant[0]",
        },
        Case {
            what: "escalate verb",
            change: |c| set_rule(c, "verbs", Value::string_list(["escalate"])),
            summary: "Privilege escalation in RBAC rule",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "bind verb",
            change: |c| set_rule(c, "verbs", Value::string_list(["get", "bind"])),
            summary: "Privilege escalation in RBAC rule",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "impersonate verb",
            change: |c| {
                set_rule(c, "resources", Value::string_list(["serviceaccounts"]));
                set_rule(c, "verbs", Value::string_list(["impersonate"]));
            },
            summary: "Privilege escalation in RBAC rule",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "create on serviceaccounts/token",
            change: |c| {
                set_rule(
                    c,
                    "resources",
                    Value::string_list(["serviceaccounts/token"]),
                );
                set_rule(c, "verbs", Value::string_list(["create"]));
            },
            summary: "Privilege escalation in RBAC rule",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "write access to rolebindings",
            change: |c| {
                set_rule(
                    c,
                    "api_groups",
                    Value::string_list(["rbac.authorization.k8s.io"]),
                );
                set_rule(c, "resources", Value::string_list(["rolebindings"]));
                set_rule(c, "verbs", Value::string_list(["get", "patch"]));
            },
            summary: "Privilege escalation in RBAC rule",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "write access to clusterroles",
            change: |c| {
                set_rule(
                    c,
                    "api_groups",
                    Value::string_list(["rbac.authorization.k8s.io"]),
                );
                set_rule(c, "resources", Value::string_list(["clusterroles"]));
                set_rule(c, "verbs", Value::string_list(["create"]));
            },
            summary: "Privilege escalation in RBAC rule",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "wildcard verb",
            change: |c| set_rule(c, "verbs", Value::string_list(["*"])),
            summary: "Wildcard in RBAC rule",
            path: "grant[2].rule[0].verbs[0]",
        },
        Case {
            what: "wildcard resource",
            change: |c| set_rule(c, "resources", Value::string_list(["*"])),
            summary: "Wildcard in RBAC rule",
            path: "grant[2].rule[0].resources[0]",
        },
        Case {
            what: "wildcard subresource",
            change: |c| set_rule(c, "resources", Value::string_list(["pods/*"])),
            summary: "Wildcard in RBAC rule",
            path: "grant[2].rule[0].resources[0]",
        },
        Case {
            what: "wildcard API group",
            change: |c| set_rule(c, "api_groups", Value::string_list(["*"])),
            summary: "Wildcard in RBAC rule",
            path: "grant[2].rule[0].api_groups[0]",
        },
        Case {
            what: "empty verbs",
            change: |c| set_rule(c, "verbs", Value::List(vec![])),
            summary: "Empty rule list",
            path: "grant[2].rule[0].verbs",
        },
        Case {
            what: "empty API groups",
            change: |c| set_rule(c, "api_groups", Value::List(vec![])),
            summary: "Empty rule list",
            path: "grant[2].rule[0].api_groups",
        },
        Case {
            what: "capitalised verb",
            change: |c| set_rule(c, "verbs", Value::string_list(["Get"])),
            summary: "Invalid verb",
            path: "grant[2].rule[0].verbs[0]",
        },
        Case {
            what: "resource with two slashes",
            change: |c| set_rule(c, "resources", Value::string_list(["pods/log/x"])),
            summary: "Invalid resource",
            path: "grant[2].rule[0].resources[0]",
        },
        Case {
            what: "capitalised API group",
            change: |c| set_rule(c, "api_groups", Value::string_list(["Apps"])),
            summary: "Invalid API group",
            path: "grant[2].rule[0].api_groups[0]",
        },
        Case {
            what: "empty resource name",
            change: |c| set_rule(c, "resource_names", Value::string_list([""])),
            summary: "Empty resource name",
            path: "grant[2].rule[0].resource_names",
        },
        Case {
            what: "verify timeout of 1 s",
            change: |c| {
                set(
                    c,
                    "verify",
                    Value::object([("timeout_seconds", Value::int(1))]),
                )
            },
            summary: "Invalid verify timeout",
            path: "verify.timeout_seconds",
        },
        // EKS Pod Identity (issue 14): the cluster name rules of EKS CreateCluster, and what
        // irsa = false excludes.
        Case {
            what: "empty cluster name",
            change: |c| set_cluster(c, ""),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name over 100 characters",
            change: |c| set_cluster(c, &"c".repeat(101)),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name starting with a dash",
            change: |c| set_cluster(c, "-runners"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name starting with an underscore",
            change: |c| set_cluster(c, "_runners"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name with a dot",
            change: |c| set_cluster(c, "runners.prod"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name with a space",
            change: |c| set_cluster(c, "ci runners"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name with a non-ASCII letter",
            change: |c| set_cluster(c, "läufer"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster ARN instead of its name",
            change: |c| set_cluster(c, "arn:aws:eks:us-east-1:123456789012:cluster/ci"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "cluster name with a slash",
            change: |c| set_cluster(c, "ci/runners"),
            summary: "Invalid EKS cluster name",
            path: "pod_identity[0].cluster_name",
        },
        Case {
            what: "two pod_identity blocks",
            change: |c| {
                let block = pod_identity("a").as_elements().unwrap()[0].clone();
                c.set_attr("pod_identity", Value::List(vec![block.clone(), block]));
            },
            summary: "Too many pod_identity blocks",
            path: "pod_identity[1]",
        },
        Case {
            what: "irsa = false without a pod_identity block",
            change: |c| {
                pod_identity_only(c);
                set(c, "pod_identity", Value::List(Vec::new()));
            },
            summary: "irsa = false without pod_identity",
            path: "irsa",
        },
        Case {
            what: "irsa = false with oidc_provider_arn",
            change: |c| {
                pod_identity_only(c);
                set(c, "oidc_provider_arn", super::testing::OIDC.into());
            },
            summary: "Setting for IRSA with irsa = false",
            path: "oidc_provider_arn",
        },
        Case {
            what: "irsa = false with audience",
            change: |c| {
                pod_identity_only(c);
                set(c, "audience", "sts.amazonaws.com".into());
            },
            summary: "Setting for IRSA with irsa = false",
            path: "audience",
        },
        Case {
            what: "irsa = false with sts_regional_endpoints",
            change: |c| {
                pod_identity_only(c);
                set(c, "sts_regional_endpoints", false.into());
            },
            summary: "Setting for IRSA with irsa = false",
            path: "sts_regional_endpoints",
        },
        Case {
            what: "irsa = false with token_expiration",
            change: |c| {
                pod_identity_only(c);
                set(c, "token_expiration", Value::int(3600));
            },
            summary: "Setting for IRSA with irsa = false",
            path: "token_expiration",
        },
        Case {
            what: "irsa = false with an eks.amazonaws.com annotation",
            change: |c| {
                pod_identity_only(c);
                set(
                    c,
                    "annotations",
                    Value::string_map([("eks.amazonaws.com/skip-containers", "helper")]),
                );
            },
            summary: "IRSA annotation with irsa = false",
            path: "annotations[\"eks.amazonaws.com/skip-containers\"]",
        },
    ]
}

#[test]
fn the_base_configuration_is_valid() {
    assert!(validate(&manager_config()).is_empty());
}

#[test]
fn every_invalid_configuration_gets_its_diagnostic_at_its_path() {
    let cases = cases();
    for case in &cases {
        let mut config = manager_config();
        (case.change)(&mut config);
        let diags = validate(&config);
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{}: {errors:#?}", case.what);
        assert_eq!(errors[0].summary, case.summary, "{}", case.what);
        assert_eq!(
            errors[0]
                .attribute
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(case.path),
            "{}",
            case.what
        );
        assert!(!errors[0].detail.is_empty(), "{}", case.what);
    }
    assert!(cases.len() >= 30, "{} cases", cases.len());
    println!(
        "{} invalid configurations rejected at validate time",
        cases.len()
    );
}

#[test]
fn invalid_configurations_are_also_refused_at_plan_time() {
    use super::testing::defaults;
    let mut cases: Vec<(&str, super::plan::ProviderDefaults, Value, &str)> = Vec::new();
    let mut no_default = defaults();
    no_default.oidc_provider_arn = None;
    cases.push((
        "no OIDC provider anywhere",
        no_default,
        manager_config(),
        "Missing OIDC provider ARN",
    ));
    let mut gov_region = defaults();
    gov_region.region = Some("us-gov-west-1".into());
    cases.push((
        "commercial OIDC provider, GovCloud region",
        gov_region,
        manager_config(),
        "OIDC provider in another partition",
    ));
    let mut many_defaults = defaults();
    many_defaults.default_tags = (0..48)
        .map(|i| (format!("d{i}"), "v".to_string()))
        .collect();
    cases.push((
        "resource and default tags over the limit",
        many_defaults,
        manager_config(),
        "Too many tags",
    ));
    let mut bad_default = defaults();
    bad_default.oidc_provider_arn = Some("not-an-arn".into());
    cases.push((
        "invalid provider default",
        bad_default,
        manager_config(),
        "Invalid OIDC provider ARN",
    ));
    for (what, defaults, config, summary) in cases {
        let (_, diags) = plan_with(&defaults, &Value::Null, &config);
        let error = diags
            .iter()
            .find(|d| d.is_error())
            .unwrap_or_else(|| panic!("{what}"));
        assert_eq!(error.summary, summary, "{what}");
        assert_eq!(
            error.attribute.as_ref().map(ToString::to_string).as_deref(),
            Some(if summary == "Too many tags" {
                "tags"
            } else {
                "oidc_provider_arn"
            }),
            "{what}"
        );
    }
}

#[test]
fn every_pod_identity_mode_is_valid_and_unknowns_wait() {
    let mut both = manager_config();
    set_cluster(&mut both, "gitlabrunner-acc");
    assert!(validate(&both).is_empty());
    let mut only = manager_config();
    pod_identity_only(&mut only);
    assert!(validate(&only).is_empty(), "{:?}", validate(&only));
    // The longest name, upper case and underscores are EKS names.
    set_cluster(&mut both, &format!("A{}", "b_-9".repeat(24)));
    assert!(validate(&both).is_empty());
    // Unknown values are checked once known.
    let mut unknown = manager_config();
    unknown.set_attr("irsa", Value::Unknown);
    assert!(validate(&unknown).is_empty());
    let mut unknown = manager_config();
    pod_identity_only(&mut unknown);
    unknown.set_attr("pod_identity", Value::Unknown);
    assert!(validate(&unknown).is_empty());
    let mut unknown = manager_config();
    pod_identity_only(&mut unknown);
    let mut block = pod_identity("x").as_elements().unwrap()[0].clone();
    block.set_attr("cluster_name", Value::Unknown);
    unknown.set_attr("pod_identity", Value::List(vec![block]));
    assert!(validate(&unknown).is_empty());
}

#[test]
fn pod_identity_only_needs_no_oidc_provider_and_ignores_the_default() {
    use super::testing::defaults;
    let mut config = manager_config();
    pod_identity_only(&mut config);
    let mut no_default = defaults();
    no_default.oidc_provider_arn = None;
    for defaults in [defaults(), no_default] {
        let (change, diags) = plan_with(&defaults, &Value::Null, &config);
        assert!(!diags.has_errors(), "{diags:?}");
        assert!(change.planned.get("oidc_provider_arn").is_null());
    }
    // Refused again at plan time, before any API call.
    let mut config = manager_config();
    config.set_attr("irsa", false.into());
    let (_, diags) = plan_with(&defaults(), &Value::Null, &config);
    assert!(
        diags
            .iter()
            .any(|d| d.summary == "irsa = false without pod_identity"),
        "{diags:?}"
    );
}

#[test]
fn wildcards_are_accepted_when_asked_for_by_name() {
    let mut config = manager_config();
    set_rule(&mut config, "verbs", Value::string_list(["*"]));
    config.set_attr("allow_wildcards", true.into());
    assert!(validate(&config).is_empty());
}

#[test]
fn unknown_values_are_left_for_later() {
    let mut config = manager_config();
    for name in [
        "namespace",
        "service_account_name",
        "role_name",
        "tags",
        "inline_policies",
        "grant",
        "oidc_provider_arn",
    ] {
        config.set_attr(name, Value::Unknown);
    }
    assert!(validate(&config).is_empty());
}

#[test]
fn resource_names_with_create_is_a_warning_not_an_error() {
    let mut config = manager_config();
    set_rule(
        &mut config,
        "resource_names",
        Value::string_list(["runner-cm"]),
    );
    let diags = validate(&config);
    assert!(!diags.has_errors());
    assert_eq!(diags.0.len(), 1);
    assert_eq!(
        diags.0[0].summary,
        "resource_names does not restrict every verb"
    );
}

#[test]
fn what_the_apis_accept_is_accepted_ten_minute_tokens_and_empty_path_segments() {
    for (name, value) in [
        ("token_expiration", Value::int(600)),
        ("token_expiration", Value::int(86_400)),
        ("role_path", "/ci//x/".into()),
        ("role_path", "//".into()),
        ("role_path", "/".into()),
    ] {
        let mut config = manager_config();
        set(&mut config, name, value.clone());
        let diags = validate(&config);
        assert!(diags.is_empty(), "{name} = {value:?}: {diags:?}");
    }
}

#[test]
fn escalation_paths_are_accepted_when_asked_for_by_name() {
    let mut config = manager_config();
    set_rule(
        &mut config,
        "api_groups",
        Value::string_list(["rbac.authorization.k8s.io"]),
    );
    set_rule(
        &mut config,
        "resources",
        Value::string_list(["rolebindings"]),
    );
    set_rule(&mut config, "verbs", Value::string_list(["create", "bind"]));
    assert_eq!(
        validate(&config).0[0].summary,
        "Privilege escalation in RBAC rule"
    );
    config.set_attr("allow_privilege_escalation", true.into());
    assert!(validate(&config).is_empty());
}

#[test]
fn reading_rbac_objects_needs_no_opt_in() {
    let mut config = manager_config();
    set_rule(
        &mut config,
        "api_groups",
        Value::string_list(["rbac.authorization.k8s.io"]),
    );
    set_rule(
        &mut config,
        "resources",
        Value::string_list(["roles", "rolebindings"]),
    );
    set_rule(
        &mut config,
        "verbs",
        Value::string_list(["get", "list", "watch"]),
    );
    assert!(validate(&config).is_empty());
}

#[test]
fn an_issuer_where_the_arn_belongs_points_to_the_data_source() {
    for given in [
        "https://oidc.eks.us-east-1.amazonaws.com/id/X",
        "oidc.eks.us-east-1.amazonaws.com/id/X",
    ] {
        let mut config = manager_config();
        set(&mut config, "oidc_provider_arn", given.into());
        let diags = validate(&config);
        let error = diags.iter().find(|d| d.is_error()).expect("an error");
        assert_eq!(error.summary, "Invalid OIDC provider ARN");
        assert!(
            error.detail.contains(
                "data \"gitlabrunner_oidc_provider\" \"this\" { url = \
                 \"https://oidc.eks.us-east-1.amazonaws.com/id/X\" }"
            ) && error
                .detail
                .contains("data.gitlabrunner_oidc_provider.this.arn"),
            "{given}: {}",
            error.detail
        );
    }
    // Another wrong ARN gets no such hint.
    let mut config = manager_config();
    set(
        &mut config,
        "oidc_provider_arn",
        "arn:aws:iam::123456789012:role/x".into(),
    );
    let diags = validate(&config);
    assert!(
        !diags
            .iter()
            .any(|d| d.detail.contains("gitlabrunner_oidc_provider"))
    );
}

#[test]
fn a_role_name_too_long_mentions_the_shortened_default() {
    let mut config = manager_config();
    set(&mut config, "role_name", "r".repeat(65).into());
    let diags = validate(&config);
    let error = diags.iter().find(|d| d.is_error()).expect("an error");
    assert!(
        error.detail.contains("leave role_name out")
            && error.detail.contains("shortened to 64 characters"),
        "{}",
        error.detail
    );
    // A bad character is not cured by the default: no such hint.
    set(&mut config, "role_name", "runner role".into());
    let diags = validate(&config);
    assert!(
        !diags
            .iter()
            .any(|d| d.detail.contains("leave role_name out"))
    );
}
