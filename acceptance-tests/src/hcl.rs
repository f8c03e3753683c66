//! Small helpers for writing test configurations.

/// The `terraform { required_providers { ... } }` block every test configuration starts with.
pub const REQUIRED_PROVIDERS: &str = r#"terraform {
  required_providers {
    gitlabrunner = {
      source = "gitlabrunner/gitlabrunner"
    }
  }
}
"#;

/// `REQUIRED_PROVIDERS` followed by `provider "gitlabrunner" { BODY }`.
pub fn with_provider(body: &str) -> String {
    format!("{REQUIRED_PROVIDERS}\nprovider \"gitlabrunner\" {{\n{body}\n}}\n")
}

/// `text` as an HCL string literal (quotes, backslashes and `${` / `%{` escaped).
pub fn quote(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace("${", "$${")
        .replace("%{", "%%{");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_interpolation_and_quotes() {
        assert_eq!(quote(r#"a"b${c}"#), r#""a\"b$${c}""#);
    }

    #[test]
    fn provider_block_follows_required_providers() {
        let text = with_provider("  aws { region = \"eu-west-1\" }");
        assert!(text.starts_with("terraform {"));
        assert!(text.contains("provider \"gitlabrunner\" {\n  aws"));
    }
}
