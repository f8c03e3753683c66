//! The naming rules AWS enforces (or should): checked at plan time so that a bad name fails
//! before any API call. Each check returns the reason a value is refused, phrased to complete
//! "... is not valid: ".

use std::net::Ipv4Addr;

/// IAM role names: 1 to 64 characters from `[A-Za-z0-9+=,.@_-]` (IAM `CreateRole` reference).
pub fn check_role_name(name: &str) -> Result<(), String> {
    if name.starts_with("arn:") {
        return Err(
            "it is an ARN; give the role's name (the part after `role/`), for example \
             `gitlabrunner_irsa_binding.manager.role_name`"
                .to_string(),
        );
    }
    check_iam_name(name, 64)
}

/// Inline policy names: 1 to 128 characters from `[A-Za-z0-9+=,.@_-]` (IAM `PutRolePolicy`).
pub fn check_policy_name(name: &str) -> Result<(), String> {
    check_iam_name(name, 128)
}

fn check_iam_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("it is empty; IAM names have 1 to {max} characters"));
    }
    if name.len() > max {
        return Err(format!(
            "it is {} characters long; IAM allows at most {max}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(format!(
            "it contains {bad:?}; IAM allows only letters, digits and + = , . @ _ -"
        ));
    }
    Ok(())
}

/// Prefixes and suffixes S3 reserves for its own bucket kinds (general purpose bucket naming
/// rules, Amazon S3 User Guide, "Bucket naming rules").
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// S3 general purpose bucket names.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "it is {} characters long; bucket names have 3 to 63",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "it contains {bad:?}; bucket names use only lower-case letters, digits, dots and \
             hyphens"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must begin and end with a letter or digit".to_string());
    }
    if name.contains("..") {
        return Err("it contains two adjacent dots".to_string());
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Err("it has the form of an IP address".to_string());
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Err(format!("the prefix {prefix:?} is reserved by S3"));
    }
    if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(format!("the suffix {suffix:?} is reserved by S3"));
    }
    Ok(())
}

/// The longest cache path accepted: S3 keys have at most 1024 bytes, and the runner appends
/// `/project/ID/KEY/cache.zip` (and `/runner/TOKEN` when not shared).
pub const MAX_PATH_LEN: usize = 512;

/// Cache paths (`Path`): the key prefix the permissions and the expiration rule are scoped to.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err(
            "it is empty; the permissions are scoped to the path, so it must name a prefix"
                .to_string(),
        );
    }
    if path.len() > MAX_PATH_LEN {
        return Err(format!(
            "it is {} bytes long; at most {MAX_PATH_LEN} leave room for the keys the runner \
             appends",
            path.len()
        ));
    }
    if path.starts_with('/') {
        return Err(
            "it starts with `/`; S3 keys have no leading slash, so the runner would write \
             under a different prefix than the policy allows"
                .to_string(),
        );
    }
    if path.ends_with('/') {
        return Err("it ends with `/`; write the prefix without a trailing slash".to_string());
    }
    for segment in path.split('/') {
        match segment {
            "" => return Err("it contains an empty segment (`//`)".to_string()),
            "." | ".." => {
                return Err(format!(
                    "it contains a `{segment}` segment; cache paths must not climb or \
                     repeat directories"
                ));
            }
            _ => {}
        }
    }
    if let Some(bad) = path.chars().find(|c| matches!(c, '*' | '?' | '$')) {
        return Err(format!(
            "it contains {bad:?}, a wildcard or variable in IAM policies that would widen the \
             permissions beyond the path"
        ));
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.!'()/".contains(*c)))
    {
        return Err(format!(
            "it contains {bad:?}; use the characters S3 calls safe in keys: letters, digits \
             and - _ . ! ' ( ) /"
        ));
    }
    Ok(())
}

/// `ServerAddress`: `host` or `host:port`, without scheme or path (the runner adds the scheme
/// from `Insecure`).
pub fn check_server_address(address: &str) -> Result<(), String> {
    if address.contains("://") {
        return Err(
            "it has a scheme; give `host` or `host:port` (the runner picks https, or http with \
             `insecure = true`)"
                .to_string(),
        );
    }
    if address.is_empty() {
        return Err("it is empty; leave it unset to use AWS S3".to_string());
    }
    if address.contains('/') {
        return Err("it has a path; give `host` or `host:port` only".to_string());
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace".to_string());
    }
    if let Some((host, port)) = address.rsplit_once(':')
        && !host.ends_with(']')
        && !host.contains(':')
        && (host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0))
    {
        return Err(format!("{port:?} is not a port number (1 to 65535)"));
    }
    Ok(())
}

/// The expiration rule's range of days.
pub const EXPIRATION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

/// The inline policy name used when `policy_name` is unset.
pub fn default_policy_name(bucket_name: &str) -> String {
    format!("gitlabrunner-cache-{bucket_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass() {
        assert!(check_role_name("gitlab-runner_manager+ci=1,a.b@c").is_ok());
        assert!(check_bucket_name("my-runner-cache.eu-1").is_ok());
        assert!(check_path("runner/cache-v2").is_ok());
        assert!(check_server_address("minio.internal:9000").is_ok());
        assert!(check_server_address("s3.eu-central-1.amazonaws.com").is_ok());
        assert!(check_policy_name(&default_policy_name(&"b".repeat(63))).is_ok());
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "bucket_name",
            "-bucket",
            "bucket-",
            "a..b",
            "192.168.1.10",
            "xn--bucket",
            "sthree-cache",
            "cache-s3alias",
            "cache--ol-s3",
            "cache--x-s3",
        ] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_that_would_escape_or_widen_the_policy_are_refused() {
        for bad in [
            "",
            "/runner",
            "runner/",
            "a//b",
            "a/../b",
            "..",
            "./a",
            "run*",
            "run?",
            "${aws:username}",
            "ca che",
            "caché",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path(&"a".repeat(MAX_PATH_LEN + 1)).is_err());
    }

    #[test]
    fn role_arns_are_refused_with_a_hint() {
        let reason = check_role_name("arn:aws:iam::123456789012:role/runner").unwrap_err();
        assert!(reason.contains("role_name"), "{reason}");
        assert!(check_role_name(&"r".repeat(65)).is_err());
        assert!(check_role_name("runner role").is_err());
    }

    #[test]
    fn server_addresses_have_no_scheme_path_or_bad_port() {
        for bad in [
            "https://s3.example.com",
            "s3.example.com/bucket",
            "",
            "host:port",
            "host:0",
            ":9000",
        ] {
            assert!(check_server_address(bad).is_err(), "{bad:?}");
        }
        assert!(check_server_address("[::1]:9000").is_ok());
    }
}
