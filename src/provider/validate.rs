//! Checks of the provider block that need no API call, run for `terraform validate` and again
//! when Terraform configures the provider. Unknown values are skipped; every diagnostic names
//! the attribute it is about (`aws.endpoints.iam`, `kubernetes.host`, `default_tags["team"]`).

use crate::aws::arn::Arn;
use crate::aws::{OidcProviderArn, Partition};
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::ownership::{MANAGED_BY_TAG, OWNER_KEY};

use super::pem::{self, PemKind};
use super::schema::MAX_RETRIES_LIMIT;
use super::url::HttpUrl;

/// The `exec` API versions client-go still speaks (`v1alpha1` was removed in Kubernetes 1.24).
pub const EXEC_API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// IAM allows at most this many tags on a role.
pub const MAX_TAGS: usize = 50;

/// Checks the provider block (values may be unknown: those are skipped).
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let aws = config.get("aws");
    check_aws(aws, &mut diags);
    check_kubernetes(config.get("kubernetes"), &mut diags);
    check_oidc_provider_arn(config, aws, &mut diags);
    check_default_tags(config.get("default_tags"), &mut diags);
    diags
}

/// The string at `value`, when it is known and not null.
fn known_str(value: &Value) -> Option<&str> {
    value.as_str()
}

/// Whether the configuration sets `value` (an unknown value is set, just not known yet).
fn is_set(value: &Value) -> bool {
    !value.is_null()
}

fn path(steps: &[&str]) -> AttributePath {
    steps
        .iter()
        .fold(AttributePath::root(), |path, step| path.attr(step))
}

fn check_aws(aws: &Value, diags: &mut Diagnostics) {
    if let Some(region) = known_str(aws.get("region"))
        && let Err(error) = Partition::for_region(region)
    {
        diags.error_at(
            path(&["aws", "region"]),
            error.summary(),
            error.explain(region),
        );
    }
    if known_str(aws.get("profile")).is_some_and(|profile| profile.trim().is_empty()) {
        diags.error_at(
            path(&["aws", "profile"]),
            "Empty AWS profile name",
            "Set the name of a profile of the shared config file, or remove `profile` to use \
             AWS_PROFILE or the default profile.",
        );
    }
    check_endpoint(
        aws.get("endpoint_url"),
        path(&["aws", "endpoint_url"]),
        diags,
    );
    let endpoints = aws.get("endpoints");
    for service in ["iam", "sts", "s3", "eks_auth"] {
        check_endpoint(
            endpoints.get(service),
            path(&["aws", "endpoints", service]),
            diags,
        );
    }
    check_max_retries(aws.get("max_retries"), diags);
    check_assume_role(aws.get("assume_role"), aws.get("region"), diags);
}

fn check_endpoint(value: &Value, at: AttributePath, diags: &mut Diagnostics) {
    if let Some(url) = known_str(value)
        && let Err(error) = HttpUrl::parse(url)
    {
        diags.error_at(
            at,
            "Invalid endpoint URL",
            format!(
                "{url:?} is not a valid URL: {error}. An endpoint looks like \
                 http://127.0.0.1:4566 or https://iam.amazonaws.com."
            ),
        );
    }
}

fn check_max_retries(value: &Value, diags: &mut Diagnostics) {
    let Value::Number(number) = value else {
        return;
    };
    let in_range = number
        .as_i64()
        .is_some_and(|n| (0..=i64::from(MAX_RETRIES_LIMIT)).contains(&n));
    if !in_range {
        diags.error_at(
            path(&["aws", "max_retries"]),
            "Invalid max_retries",
            format!(
                "max_retries is {}, but it must be a whole number from 0 (no retries) to \
                 {MAX_RETRIES_LIMIT}.",
                number.canonical()
            ),
        );
    }
}

fn check_assume_role(block: &Value, region: &Value, diags: &mut Diagnostics) {
    if let Some(role_arn) = known_str(block.get("role_arn")) {
        let at = path(&["aws", "assume_role", "role_arn"]);
        match Arn::parse(role_arn) {
            Ok(arn)
                if arn.service == "iam"
                    && arn.resource.starts_with("role/")
                    && arn.has_resource_name() =>
            {
                check_same_partition(arn.partition, region, at, "role_arn", diags);
            }
            Ok(_) => diags.error_at(
                at,
                "Invalid role ARN",
                format!(
                    "{role_arn:?} is not an IAM role ARN; one looks like \
                     arn:aws:iam::123456789012:role/NAME."
                ),
            ),
            Err(error) => diags.error_at(
                at,
                "Invalid role ARN",
                format!("{role_arn:?} is not a valid ARN: {error}."),
            ),
        }
    }
    if let Some(name) = known_str(block.get("session_name")) {
        let valid_chars = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !(2..=64).contains(&name.len()) || !valid_chars {
            diags.error_at(
                path(&["aws", "assume_role", "session_name"]),
                "Invalid session name",
                format!(
                    "{name:?} is not a valid role session name: it needs 2 to 64 letters, \
                     digits and the characters _ + = , . @ -"
                ),
            );
        }
    }
    if let Some(id) = known_str(block.get("external_id")) {
        let valid_chars = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
        if !(2..=1224).contains(&id.len()) || !valid_chars {
            diags.error_at(
                path(&["aws", "assume_role", "external_id"]),
                "Invalid external id",
                "The external id needs 2 to 1224 letters, digits and the characters \
                 _ + = , . @ : / -",
            );
        }
    }
}

/// An ARN in another partition than the configured region cannot work with it.
fn check_same_partition(
    partition: Partition,
    region: &Value,
    at: AttributePath,
    what: &str,
    diags: &mut Diagnostics,
) {
    let Some(region) = known_str(region) else {
        return;
    };
    let Some(region_partition) = Partition::from_region(region) else {
        return;
    };
    if region_partition != partition {
        diags.push(partition_mismatch(what, partition, region, region_partition).at(at));
    }
}

/// The error for an ARN whose partition differs from the region's.
pub fn partition_mismatch(
    what: &str,
    partition: Partition,
    region: &str,
    region_partition: Partition,
) -> Diagnostic {
    Diagnostic::error(
        "ARN in another AWS partition",
        format!(
            "{what} is in the {partition} partition, but the AWS region {region} is in \
             {region_partition}. Use an ARN of the {region_partition} partition or a region of \
             the {partition} partition."
        ),
    )
}

fn check_kubernetes(kube: &Value, diags: &mut Diagnostics) {
    let at = |name: &str| path(&["kubernetes", name]);
    let set = |name: &str| is_set(kube.get(name));
    let host_set = set("host");
    let exec_set = is_set(kube.get("exec"));

    if let Some(host) = known_str(kube.get("host")) {
        match HttpUrl::parse(host) {
            Err(error) => diags.error_at(
                at("host"),
                "Invalid Kubernetes API server URL",
                format!(
                    "{host:?} is not a valid URL: {error}. The API server URL looks like \
                     https://ABC.gr7.eu-central-1.eks.amazonaws.com."
                ),
            ),
            Ok(url) if !url.https && (set("token") || set("client_key") || exec_set) => diags.push(
                Diagnostic::warning(
                    "Kubernetes credentials sent without TLS",
                    format!(
                        "{host:?} is plain http, so the token or client key is sent \
                             unencrypted. Use https://."
                    ),
                )
                .at(at("host")),
            ),
            Ok(_) => {}
        }
    }
    for other in ["config_path", "config_context"] {
        if host_set && set(other) {
            diags.error_at(
                at(other),
                "Conflicting Kubernetes settings",
                format!(
                    "`{other}` selects a kubeconfig, and `host` configures the connection \
                     directly. Set one or the other."
                ),
            );
        }
    }
    for name in ["config_path", "config_context"] {
        if known_str(kube.get(name)).is_some_and(|v| v.trim().is_empty()) {
            diags.error_at(
                at(name),
                "Empty Kubernetes setting",
                format!("`{name}` is empty; remove it to use the default."),
            );
        }
    }

    let credentials = [
        ("token", set("token")),
        (
            "client_certificate",
            set("client_certificate") || set("client_key"),
        ),
        ("exec", exec_set),
    ];
    let chosen: Vec<&str> = credentials
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect();
    if chosen.len() > 1 {
        diags.error_at(
            at(chosen[1]),
            "Conflicting Kubernetes credentials",
            format!(
                "`{}` and `{}` are two ways to authenticate; set only one of `token`, \
                 `client_certificate` + `client_key` and `exec`.",
                chosen[0], chosen[1]
            ),
        );
    }
    for (name, partner) in [
        ("client_certificate", "client_key"),
        ("client_key", "client_certificate"),
    ] {
        if set(name) && !set(partner) {
            diags.error_at(
                at(partner),
                "Missing Kubernetes client credential",
                format!(
                    "`{name}` needs `{partner}`: a client certificate and its key go together."
                ),
            );
        }
    }
    for name in [
        "token",
        "client_certificate",
        "client_key",
        "cluster_ca_certificate",
        "exec",
    ] {
        if is_set(kube.get(name)) && !host_set {
            diags.error_at(
                at(name),
                "Kubernetes setting needs host",
                format!(
                    "`{name}` is used with `host` only. Set `host` to the API server URL, or \
                     remove `{name}` and put the credentials in the kubeconfig."
                ),
            );
        }
    }
    check_pem(kube, "cluster_ca_certificate", PemKind::Certificates, diags);
    check_pem(kube, "client_certificate", PemKind::Certificates, diags);
    check_pem(kube, "client_key", PemKind::PrivateKey, diags);

    if kube.get("insecure").as_bool() == Some(true) {
        if set("cluster_ca_certificate") {
            diags.error_at(
                at("insecure"),
                "Conflicting Kubernetes settings",
                "`insecure = true` skips the certificate check that `cluster_ca_certificate` \
                 configures. Remove one of them.",
            );
        } else {
            diags.push(insecure_warning());
        }
    }
    check_exec(kube.get("exec"), diags);
}

/// The warning shown whenever `kubernetes.insecure` is true.
pub fn insecure_warning() -> Diagnostic {
    Diagnostic::warning(
        "Kubernetes TLS verification is off",
        "`insecure = true`: the provider does not check the API server's certificate, so \
         anyone on the network path can impersonate the cluster and read the credentials. Use \
         it only for throwaway test clusters; set `cluster_ca_certificate` instead.",
    )
    .at(path(&["kubernetes", "insecure"]))
}

fn check_pem(kube: &Value, name: &str, kind: PemKind, diags: &mut Diagnostics) {
    if let Some(text) = known_str(kube.get(name))
        && let Err(error) = pem::check(text, kind)
    {
        // The detail never quotes the value: it may be a private key.
        diags.error_at(
            path(&["kubernetes", name]),
            "Invalid PEM",
            format!("`{name}` is not usable: {error}."),
        );
    }
}

fn check_exec(exec: &Value, diags: &mut Diagnostics) {
    if let Some(version) = known_str(exec.get("api_version"))
        && !EXEC_API_VERSIONS.contains(&version)
    {
        diags.error_at(
            path(&["kubernetes", "exec", "api_version"]),
            "Unsupported exec API version",
            format!(
                "{version:?} is not an API version of client-go credential plugins; use \
                 {} or {}.",
                EXEC_API_VERSIONS[0], EXEC_API_VERSIONS[1]
            ),
        );
    }
    if known_str(exec.get("command")).is_some_and(|c| c.trim().is_empty()) {
        diags.error_at(
            path(&["kubernetes", "exec", "command"]),
            "Empty exec command",
            "Set the command that prints the ExecCredential, e.g. `aws`.",
        );
    }
}

fn check_oidc_provider_arn(config: &Value, aws: &Value, diags: &mut Diagnostics) {
    let Some(text) = known_str(config.get("oidc_provider_arn")) else {
        return;
    };
    let at = AttributePath::new("oidc_provider_arn");
    match OidcProviderArn::parse(text) {
        Ok(arn) => check_same_partition(
            arn.partition,
            aws.get("region"),
            at,
            "oidc_provider_arn",
            diags,
        ),
        Err(error) => {
            diags.push(crate::data_sources::oidc_provider::invalid_arn(text, &error).at(at))
        }
    }
}

fn check_default_tags(tags: &Value, diags: &mut Diagnostics) {
    let Some(entries) = tags.as_map() else {
        return;
    };
    if entries.len() > MAX_TAGS {
        diags.error_at(
            AttributePath::new("default_tags"),
            "Too many default tags",
            format!(
                "default_tags has {} entries; IAM allows at most {MAX_TAGS} tags per role.",
                entries.len()
            ),
        );
    }
    for (key, value) in entries {
        let at = AttributePath::new("default_tags").key(key);
        if let Err(problem) = check_tag_key(key) {
            diags.error_at(at.clone(), "Invalid tag key", format!("{key:?} {problem}."));
        }
        if let Some(value) = known_str(value)
            && let Err(problem) = check_tag_value(value)
        {
            diags.error_at(
                at,
                "Invalid tag value",
                format!("The value of {key:?} {problem}."),
            );
        }
    }
}

/// IAM's tag characters: letters, digits, spaces and `_ . : / = + - @`.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// Checks an IAM tag key; the error completes a sentence starting with the key.
pub fn check_tag_key(key: &str) -> Result<(), String> {
    let length = key.chars().count();
    if !(1..=128).contains(&length) {
        return Err(format!("has {length} characters; a tag key has 1 to 128"));
    }
    if !key.chars().all(is_tag_char) {
        return Err(
            "contains characters IAM does not allow in tags (allowed: letters, \
                    digits, spaces and _ . : / = + - @)"
                .to_string(),
        );
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err("starts with aws:, which is reserved for AWS".to_string());
    }
    if key == MANAGED_BY_TAG || key == OWNER_KEY {
        return Err(
            "is reserved for the ownership markers this provider sets on what it creates"
                .to_string(),
        );
    }
    Ok(())
}

/// Checks an IAM tag value; the error completes a sentence starting with "The value".
pub fn check_tag_value(value: &str) -> Result<(), String> {
    let length = value.chars().count();
    if length > 256 {
        return Err(format!(
            "has {length} characters; a tag value has at most 256"
        ));
    }
    if !value.chars().all(is_tag_char) {
        return Err(
            "contains characters IAM does not allow in tags (allowed: letters, \
                    digits, spaces and _ . : / = + - @)"
                .to_string(),
        );
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
