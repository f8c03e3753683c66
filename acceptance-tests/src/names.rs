//! Unique names, so tests running concurrently against one emulator never collide.

/// A random suffix of 8 lower-case letters and digits: valid in IAM, S3 and Kubernetes names.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// `prefix-` followed by a random suffix, e.g. `unique_name("runner")` = `runner-k3v9x0qa`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", random_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_kubernetes_names_and_differ() {
        let a = unique_name("acc");
        let b = unique_name("acc");
        assert_ne!(a, b);
        assert!(a.starts_with("acc-") && a.len() == 12, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
