//! Diagnostics from Terraform's machine-readable output (`-json`).

use serde::Deserialize;

/// How severe a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The operation failed.
    Error,
    /// The operation went on.
    Warning,
}

/// One diagnostic as Terraform reports it (from the provider or from Terraform itself).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The one-line summary.
    pub summary: String,
    /// The detail text (may be empty).
    #[serde(default)]
    pub detail: String,
    /// The resource address the diagnostic belongs to, if any.
    #[serde(default)]
    pub address: Option<String>,
    /// Where in the configuration, if Terraform could tell.
    #[serde(default)]
    pub range: Option<SourceRange>,
    /// The configuration source around `range`.
    #[serde(default)]
    pub snippet: Option<Snippet>,
}

/// A range in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SourceRange {
    /// The file, relative to the workspace.
    pub filename: String,
    /// Where it starts.
    pub start: SourcePos,
    /// Where it ends.
    pub end: SourcePos,
}

/// A position in a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct SourcePos {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// 0-based byte offset.
    pub byte: u64,
}

/// The configuration source a diagnostic points into.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Snippet {
    /// The enclosing block, e.g. `provider "gitlabrunner"` or `resource "x" "y"`.
    #[serde(default)]
    pub context: Option<String>,
    /// The source lines shown.
    pub code: String,
    /// The line `code` starts at.
    pub start_line: u64,
    /// Byte offset into `code` where the highlighted part starts.
    pub highlight_start_offset: usize,
    /// Byte offset into `code` where the highlighted part ends.
    pub highlight_end_offset: usize,
}

impl Diagnostic {
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The highlighted source text, e.g. `region = "mars-1"` for an attribute diagnostic.
    pub fn highlighted(&self) -> Option<&str> {
        let snippet = self.snippet.as_ref()?;
        snippet
            .code
            .get(snippet.highlight_start_offset..snippet.highlight_end_offset)
    }

    /// The line the diagnostic points at.
    pub fn line(&self) -> Option<u64> {
        self.range.as_ref().map(|r| r.start.line)
    }

    /// One line for messages: `error: SUMMARY: DETAIL (at file:line, `highlight`)`.
    pub fn one_line(&self) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut text = format!("{severity}: {}", self.summary);
        if !self.detail.is_empty() {
            text.push_str(": ");
            text.push_str(&self.detail.replace('\n', " "));
        }
        if let Some(range) = &self.range {
            text.push_str(&format!(" (at {}:{}", range.filename, range.start.line));
            if let Some(highlight) = self.highlighted() {
                text.push_str(&format!(", `{highlight}`"));
            }
            text.push(')');
        }
        text
    }
}

/// The diagnostics in a `-json` UI stream (one JSON object per line, `type: diagnostic`) or in
/// `terraform validate -json`'s single object.
pub fn parse_diagnostics(stdout: &str) -> Vec<Diagnostic> {
    #[derive(Deserialize)]
    struct Validate {
        diagnostics: Vec<Diagnostic>,
    }
    if let Ok(validate) = serde_json::from_str::<Validate>(stdout) {
        return validate.diagnostics;
    }
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["type"] == "diagnostic")
        .filter_map(|message| serde_json::from_value(message["diagnostic"].clone()).ok())
        .collect()
}

/// Renders diagnostics one per line, for failure messages.
pub fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::one_line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_stream_diagnostics_keep_summary_detail_address_and_highlight() {
        let stream = r#"{"@level":"info","@message":"Terraform 1.15.5","type":"version"}
{"@level":"error","@message":"Error: Invalid region","type":"diagnostic","diagnostic":{"severity":"error","summary":"Invalid region","detail":"mars-1 is not a region","address":"gitlabrunner_cache.c","range":{"filename":"main.tf","start":{"line":3,"column":5,"byte":40},"end":{"line":3,"column":20,"byte":55}},"snippet":{"context":"provider \"gitlabrunner\"","code":"    region = \"mars-1\"","start_line":3,"highlight_start_offset":4,"highlight_end_offset":21,"values":[]}}}"#;
        let diagnostics = parse_diagnostics(stream);
        assert_eq!(diagnostics.len(), 1);
        let d = &diagnostics[0];
        assert!(d.is_error());
        assert_eq!(d.address.as_deref(), Some("gitlabrunner_cache.c"));
        assert_eq!(d.highlighted(), Some("region = \"mars-1\""));
        assert_eq!(d.line(), Some(3));
        assert!(
            d.one_line()
                .contains("mars-1 is not a region (at main.tf:3")
        );
    }

    #[test]
    fn validate_output_is_one_object() {
        let out = r#"{"format_version":"1.0","valid":false,"error_count":1,"warning_count":0,"diagnostics":[{"severity":"error","summary":"Unsupported argument","detail":"An argument named \"bogus\" is not expected here."}]}"#;
        let diagnostics = parse_diagnostics(out);
        assert_eq!(diagnostics[0].summary, "Unsupported argument");
        assert_eq!(diagnostics[0].snippet, None);
    }
}
