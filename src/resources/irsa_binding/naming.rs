//! Names the binding derives: the IAM role name and the Role/RoleBinding names. Deterministic,
//! valid for their system, and shortened with a stable hash suffix when too long, so that the
//! same configuration always yields the same names (and plans know them).

use sha2::{Digest, Sha256};

/// The longest IAM role name.
pub const ROLE_NAME_MAX: usize = 64;
/// The longest name an RBAC object gets from this provider (a DNS-1123 subdomain).
pub const RBAC_NAME_MAX: usize = 253;
/// Length of the hash suffix, in hex digits.
const HASH_LEN: usize = 8;

/// The default IAM role name for the ServiceAccount `namespace/name`:
/// `NAMESPACE-NAME`, or a shortened form with a hash of both when that is longer than 64.
pub fn default_role_name(namespace: &str, service_account: &str) -> String {
    shorten(
        &format!("{namespace}-{service_account}"),
        ROLE_NAME_MAX,
        &identity(namespace, service_account),
    )
}

/// The name of the Role and RoleBinding a grant creates for the ServiceAccount
/// `namespace/name`: `NAMESPACE.NAME` (unique per ServiceAccount, since a namespace holds no
/// dot), shortened with a hash when longer than 253.
pub fn rbac_name(namespace: &str, service_account: &str) -> String {
    shorten(
        &format!("{namespace}.{service_account}"),
        RBAC_NAME_MAX,
        &identity(namespace, service_account),
    )
}

/// The binding's identity, `NAMESPACE/NAME`: its id and the value of its ownership markers.
pub fn identity(namespace: &str, service_account: &str) -> String {
    format!("{namespace}/{service_account}")
}

/// `name` when it fits in `max`, else its prefix, `-` and 8 hex digits of SHA-256(`seed`).
fn shorten(name: &str, max: usize, seed: &str) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let digest = hex::encode(Sha256::digest(seed.as_bytes()));
    let keep = max - HASH_LEN - 1;
    // Names here are ASCII; a prefix never ends in a separator, so the result stays valid.
    let prefix = name[..keep].trim_end_matches(['-', '.']);
    format!("{prefix}-{}", &digest[..HASH_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept_readable() {
        assert_eq!(
            default_role_name("gitlab-runner", "gitlab-runner"),
            "gitlab-runner-gitlab-runner"
        );
        assert_eq!(rbac_name("ci-runner", "manager"), "ci-runner.manager");
    }

    #[test]
    fn long_role_names_are_shortened_to_64_with_a_stable_suffix() {
        let namespace = "a".repeat(40);
        let service_account = "b".repeat(40);
        let name = default_role_name(&namespace, &service_account);
        assert_eq!(name.len(), 64);
        assert_eq!(name, default_role_name(&namespace, &service_account));
        assert!(name.starts_with(&"a".repeat(40)));
        let other = default_role_name(&namespace, &"b".repeat(41));
        assert_ne!(name, other, "different ServiceAccounts get different names");
    }

    #[test]
    fn a_name_of_exactly_the_limit_is_kept() {
        let namespace = "n".repeat(31);
        let service_account = "s".repeat(32);
        assert_eq!(
            default_role_name(&namespace, &service_account),
            format!("{namespace}-{service_account}")
        );
    }

    #[test]
    fn shortened_names_never_end_a_prefix_with_a_separator() {
        // The cut would land right after the dash between namespace and name.
        let namespace = "x".repeat(54);
        let name = default_role_name(&namespace, &"y".repeat(30));
        assert_eq!(name.len(), 54 + 1 + 8);
        assert!(!name.contains("--"));
        let rbac = rbac_name(&"n".repeat(63), &"s".repeat(253));
        assert!(rbac.len() <= RBAC_NAME_MAX);
        assert!(rbac.starts_with(&"n".repeat(63)));
    }

    #[test]
    fn the_hash_is_the_documented_one() {
        // Pinned so that a refactoring can never rename existing roles.
        let name = default_role_name(&"a".repeat(40), &"b".repeat(40));
        let digest = hex::encode(Sha256::digest(format!(
            "{}/{}",
            "a".repeat(40),
            "b".repeat(40)
        )));
        assert!(name.ends_with(&format!("-{}", &digest[..8])));
        assert_eq!(identity("ci", "runner"), "ci/runner");
    }
}
