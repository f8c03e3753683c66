//! Every validation rule of the provider block, each with the attribute path it reports.

use super::*;
use crate::codec::Severity;

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

fn aws(pairs: &[(&str, Value)]) -> Value {
    obj(&[("aws", obj(pairs))])
}

fn kubernetes(pairs: &[(&str, Value)]) -> Value {
    obj(&[("kubernetes", obj(pairs))])
}

fn cert() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    rcgen::CertificateParams::new(vec!["k8s.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .pem()
}

fn key() -> String {
    rcgen::KeyPair::generate().unwrap().serialize_pem()
}

/// The paths of the errors, as text.
fn errors(config: &Value) -> Vec<String> {
    validate(config)
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            d.attribute
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

fn warnings(config: &Value) -> Vec<String> {
    validate(config)
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| {
            d.attribute
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

fn assert_error_at(config: &Value, path: &str) {
    assert_eq!(errors(config), [path], "{:#?}", validate(config));
}

const OIDC_ARN: &str =
    "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABC";

#[test]
fn an_empty_or_absent_provider_block_is_valid() {
    assert!(validate(&Value::Null).is_empty());
    assert!(validate(&obj(&[])).is_empty());
}

#[test]
fn a_complete_valid_block_has_no_diagnostics() {
    let config = obj(&[
        (
            "aws",
            obj(&[
                ("region", "eu-central-1".into()),
                ("profile", "ci".into()),
                ("endpoint_url", "http://127.0.0.1:4566".into()),
                ("max_retries", Value::int(25)),
                (
                    "endpoints",
                    obj(&[
                        ("iam", "https://iam.amazonaws.com".into()),
                        ("sts", "https://sts.eu-central-1.amazonaws.com".into()),
                        ("s3", "http://[::1]:9000".into()),
                    ]),
                ),
                (
                    "assume_role",
                    obj(&[
                        ("role_arn", "arn:aws:iam::123456789012:role/deployer".into()),
                        ("session_name", "terraform@ci".into()),
                        ("external_id", "tenant:42/x".into()),
                    ]),
                ),
            ]),
        ),
        (
            "kubernetes",
            obj(&[
                (
                    "host",
                    "https://ABC.gr7.eu-central-1.eks.amazonaws.com".into(),
                ),
                ("cluster_ca_certificate", cert().into()),
                ("client_certificate", cert().into()),
                ("client_key", key().into()),
            ]),
        ),
        ("oidc_provider_arn", OIDC_ARN.into()),
        (
            "default_tags",
            Value::string_map([("team", "platform"), ("cost-center", "ci 42 @eu")]),
        ),
    ]);
    assert!(validate(&config).is_empty(), "{:#?}", validate(&config));
}

#[test]
fn region_must_be_a_region_name() {
    assert_error_at(&aws(&[("region", "Frankfurt".into())]), "aws.region");
    assert_error_at(&aws(&[("region", "eu-central".into())]), "aws.region");
}

#[test]
fn a_region_of_no_known_partition_is_refused_not_taken_for_aws() {
    for region in ["us-isoz-east-1", "xx-east-1", "eusc-fr-east-1"] {
        let config = aws(&[("region", region.into())]);
        assert_error_at(&config, "aws.region");
        let diags = validate(&config);
        let errors: Vec<_> = diags.iter().collect();
        assert_eq!(errors.len(), 1, "{region}: {errors:#?}");
        assert_eq!(errors[0].summary, "AWS region of no known partition");
        assert!(errors[0].detail.contains(region), "{}", errors[0].detail);
    }
    for region in ["us-iso-east-1", "us-isob-east-1", "eusc-de-east-1"] {
        assert!(
            validate(&aws(&[("region", region.into())])).is_empty(),
            "{region}"
        );
    }
}

#[test]
fn profile_must_not_be_empty() {
    assert_error_at(&aws(&[("profile", " ".into())]), "aws.profile");
}

#[test]
fn endpoint_urls_are_checked_at_their_own_path() {
    assert_error_at(
        &aws(&[("endpoint_url", "127.0.0.1:4566".into())]),
        "aws.endpoint_url",
    );
    for service in ["iam", "sts", "s3", "eks_auth"] {
        let config = aws(&[(
            "endpoints",
            obj(&[(service, "http://localhost:45a6".into())]),
        )]);
        assert_error_at(&config, &format!("aws.endpoints.{service}"));
    }
}

#[test]
fn max_retries_must_be_a_whole_number_in_range() {
    use crate::codec::Number;
    assert_error_at(&aws(&[("max_retries", Value::int(-1))]), "aws.max_retries");
    assert_error_at(&aws(&[("max_retries", Value::int(26))]), "aws.max_retries");
    assert_error_at(
        &aws(&[("max_retries", Value::Number(Number::Float(2.5)))]),
        "aws.max_retries",
    );
    assert!(errors(&aws(&[("max_retries", Value::int(0))])).is_empty());
}

#[test]
fn assume_role_needs_an_iam_role_arn() {
    let role = |arn: &str| aws(&[("assume_role", obj(&[("role_arn", arn.into())]))]);
    assert_error_at(&role("deployer"), "aws.assume_role.role_arn");
    assert_error_at(
        &role("arn:aws:iam::123456789012:user/deployer"),
        "aws.assume_role.role_arn",
    );
    assert_error_at(&role("arn:aws:s3:::bucket"), "aws.assume_role.role_arn");
    assert_error_at(
        &role("arn:aws:iam::123456789012:role/"),
        "aws.assume_role.role_arn",
    );
}

#[test]
fn assume_role_session_name_and_external_id_follow_sts_rules() {
    let role = |name: &str, value: &str| {
        aws(&[(
            "assume_role",
            obj(&[
                ("role_arn", "arn:aws:iam::123456789012:role/r".into()),
                (name, value.into()),
            ]),
        )])
    };
    assert_error_at(&role("session_name", "x"), "aws.assume_role.session_name");
    assert_error_at(
        &role("session_name", "has space"),
        "aws.assume_role.session_name",
    );
    assert_error_at(
        &role("session_name", &"a".repeat(65)),
        "aws.assume_role.session_name",
    );
    assert_error_at(&role("external_id", "x"), "aws.assume_role.external_id");
    assert_error_at(
        &role("external_id", "no spaces"),
        "aws.assume_role.external_id",
    );
}

#[test]
fn arns_in_another_partition_than_the_region_are_refused() {
    let config = obj(&[
        ("aws", obj(&[("region", "us-gov-west-1".into())])),
        ("oidc_provider_arn", OIDC_ARN.into()),
    ]);
    assert_error_at(&config, "oidc_provider_arn");
    let config = aws(&[
        ("region", "cn-north-1".into()),
        (
            "assume_role",
            obj(&[("role_arn", "arn:aws:iam::123456789012:role/r".into())]),
        ),
    ]);
    assert_error_at(&config, "aws.assume_role.role_arn");
}

#[test]
fn oidc_provider_arn_must_be_an_oidc_provider() {
    assert_error_at(
        &obj(&[(
            "oidc_provider_arn",
            "arn:aws:iam::123456789012:role/x".into(),
        )]),
        "oidc_provider_arn",
    );
    assert_error_at(
        &obj(&[(
            "oidc_provider_arn",
            "oidc.eks.eu-central-1.amazonaws.com/id/ABC".into(),
        )]),
        "oidc_provider_arn",
    );
}

#[test]
fn kubernetes_host_must_be_a_url() {
    assert_error_at(
        &kubernetes(&[("host", "ABC.gr7.eks.amazonaws.com".into())]),
        "kubernetes.host",
    );
}

#[test]
fn plain_http_with_credentials_warns() {
    let config = kubernetes(&[
        ("host", "http://127.0.0.1:8080".into()),
        ("token", "secret".into()),
    ]);
    assert!(errors(&config).is_empty());
    assert_eq!(warnings(&config), ["kubernetes.host"]);
}

#[test]
fn host_conflicts_with_kubeconfig_settings() {
    assert_error_at(
        &kubernetes(&[
            ("host", "https://k8s.test".into()),
            ("config_path", "~/.kube/config".into()),
        ]),
        "kubernetes.config_path",
    );
    assert_error_at(
        &kubernetes(&[
            ("host", "https://k8s.test".into()),
            ("config_context", "prod".into()),
        ]),
        "kubernetes.config_context",
    );
}

#[test]
fn an_unknown_host_still_conflicts_with_config_path() {
    assert_error_at(
        &kubernetes(&[
            ("host", Value::Unknown),
            ("config_path", "~/.kube/config".into()),
        ]),
        "kubernetes.config_path",
    );
}

#[test]
fn only_one_way_to_authenticate() {
    let config = kubernetes(&[
        ("host", "https://k8s.test".into()),
        ("token", "t".into()),
        ("client_certificate", cert().into()),
        ("client_key", key().into()),
    ]);
    assert_error_at(&config, "kubernetes.client_certificate");
    let config = kubernetes(&[
        ("host", "https://k8s.test".into()),
        ("token", "t".into()),
        (
            "exec",
            obj(&[
                ("api_version", "client.authentication.k8s.io/v1".into()),
                ("command", "aws".into()),
            ]),
        ),
    ]);
    assert_error_at(&config, "kubernetes.exec");
}

#[test]
fn a_client_certificate_needs_its_key_and_the_key_its_certificate() {
    assert_error_at(
        &kubernetes(&[
            ("host", "https://k8s.test".into()),
            ("client_certificate", cert().into()),
        ]),
        "kubernetes.client_key",
    );
    assert_error_at(
        &kubernetes(&[
            ("host", "https://k8s.test".into()),
            ("client_key", key().into()),
        ]),
        "kubernetes.client_certificate",
    );
}

#[test]
fn credentials_without_host_are_refused() {
    assert_error_at(&kubernetes(&[("token", "t".into())]), "kubernetes.token");
    assert_error_at(
        &kubernetes(&[("cluster_ca_certificate", cert().into())]),
        "kubernetes.cluster_ca_certificate",
    );
}

#[test]
fn pem_settings_must_hold_the_right_blocks() {
    let host = ("host", Value::from("https://k8s.test"));
    assert_error_at(
        &kubernetes(&[host.clone(), ("cluster_ca_certificate", key().into())]),
        "kubernetes.cluster_ca_certificate",
    );
    assert_error_at(
        &kubernetes(&[
            host.clone(),
            ("client_certificate", "not pem".into()),
            ("client_key", key().into()),
        ]),
        "kubernetes.client_certificate",
    );
    assert_error_at(
        &kubernetes(&[
            host,
            ("client_certificate", cert().into()),
            ("client_key", cert().into()),
        ]),
        "kubernetes.client_key",
    );
}

#[test]
fn diagnostics_never_contain_the_token_or_the_key() {
    let secret_key = "-----BEGIN PRIVATE KEY-----\nU0VDUkVULUtFWS1NQVRFUklBTA==\n";
    let config = kubernetes(&[
        ("token", "SECRET-TOKEN-VALUE".into()),
        ("client_key", secret_key.into()),
        ("client_certificate", "x".into()),
    ]);
    let diagnostics = validate(&config);
    assert!(diagnostics.has_errors());
    for diagnostic in diagnostics.iter() {
        let text = diagnostic.to_string();
        assert!(!text.contains("SECRET-TOKEN-VALUE"), "{text}");
        assert!(!text.contains("U0VDUkVU"), "{text}");
    }
}

#[test]
fn insecure_warns_and_conflicts_with_a_ca_certificate() {
    let config = kubernetes(&[("insecure", Value::Bool(true))]);
    assert!(errors(&config).is_empty());
    assert_eq!(warnings(&config), ["kubernetes.insecure"]);
    assert!(warnings(&kubernetes(&[("insecure", Value::Bool(false))])).is_empty());
    assert_error_at(
        &kubernetes(&[
            ("host", "https://k8s.test".into()),
            ("cluster_ca_certificate", cert().into()),
            ("insecure", Value::Bool(true)),
        ]),
        "kubernetes.insecure",
    );
}

#[test]
fn exec_needs_a_supported_api_version_and_a_command() {
    let exec = |version: &str, command: &str| {
        kubernetes(&[
            ("host", "https://k8s.test".into()),
            (
                "exec",
                obj(&[("api_version", version.into()), ("command", command.into())]),
            ),
        ])
    };
    assert_error_at(
        &exec("client.authentication.k8s.io/v1alpha1", "aws"),
        "kubernetes.exec.api_version",
    );
    assert_error_at(
        &exec("client.authentication.k8s.io/v1beta1", " "),
        "kubernetes.exec.command",
    );
}

#[test]
fn empty_kubeconfig_settings_are_refused() {
    assert_error_at(
        &kubernetes(&[("config_path", "".into())]),
        "kubernetes.config_path",
    );
    assert_error_at(
        &kubernetes(&[("config_context", "".into())]),
        "kubernetes.config_context",
    );
}

#[test]
fn tag_keys_and_values_follow_iam_rules() {
    let tags = |key: &str, value: &str| obj(&[("default_tags", Value::string_map([(key, value)]))]);
    assert_error_at(&tags("", "v"), "default_tags[\"\"]");
    assert_error_at(
        &tags(&"k".repeat(129), "v"),
        &format!("default_tags[{:?}]", "k".repeat(129)),
    );
    assert_error_at(&tags("aws:owner", "v"), "default_tags[\"aws:owner\"]");
    assert_error_at(&tags("team!", "v"), "default_tags[\"team!\"]");
    assert_error_at(&tags("team", "a\tb"), "default_tags[\"team\"]");
    assert_error_at(&tags("team", &"v".repeat(257)), "default_tags[\"team\"]");
    assert!(errors(&tags("Équipe", "Plateforme 1")).is_empty());
}

#[test]
fn ownership_tag_keys_are_reserved() {
    for key in [
        crate::ownership::MANAGED_BY_TAG,
        crate::ownership::OWNER_KEY,
    ] {
        assert_error_at(
            &obj(&[("default_tags", Value::string_map([(key, "x")]))]),
            &format!("default_tags[{key:?}]"),
        );
    }
}

#[test]
fn at_most_fifty_tags() {
    let many = Value::string_map((0..51).map(|i| (format!("k{i}"), "v".to_string())));
    assert_error_at(&obj(&[("default_tags", many)]), "default_tags");
}

#[test]
fn unknown_values_are_skipped() {
    let config = obj(&[
        (
            "aws",
            obj(&[
                ("region", Value::Unknown),
                ("endpoint_url", Value::Unknown),
                ("max_retries", Value::Unknown),
                ("assume_role", obj(&[("role_arn", Value::Unknown)])),
            ]),
        ),
        (
            "kubernetes",
            obj(&[
                ("host", Value::Unknown),
                ("token", Value::Unknown),
                ("cluster_ca_certificate", Value::Unknown),
            ]),
        ),
        ("oidc_provider_arn", Value::Unknown),
        ("default_tags", Value::Unknown),
    ]);
    assert!(validate(&config).is_empty(), "{:#?}", validate(&config));
    let unknown_value = obj(&[(
        "default_tags",
        Value::Map([("team".to_string(), Value::Unknown)].into()),
    )]);
    assert!(validate(&unknown_value).is_empty());
}
