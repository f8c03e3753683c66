//! Field validation errors (`field.Error`) and the name/label rules of `apimachinery`.

pub mod meta;
pub mod names;

use crate::gostr;

/// `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// `FieldValueInvalid`.
    Invalid,
    /// `FieldValueRequired`.
    Required,
    /// `FieldValueNotSupported`.
    NotSupported,
    /// `FieldValueDuplicate`.
    Duplicate,
    /// `FieldValueForbidden`.
    Forbidden,
    /// `FieldValueTooLong`.
    TooLong,
}

impl ErrorType {
    /// The cause `reason` in a Status.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
        }
    }

    fn text(self) -> &'static str {
        match self {
            ErrorType::Invalid => "Invalid value",
            ErrorType::Required => "Required value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
        }
    }
}

/// The offending value, rendered the way Go's `%v`/`%q`/`%#v` would.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// A string (`%q`).
    Str(String),
    /// An integer (`%v`).
    Int(i64),
    /// A bool (`%v`).
    Bool(bool),
    /// Already rendered (`%#v` of a struct or slice).
    Rendered(String),
    /// Nil (`"null"`).
    Null,
}

/// One validation failure (`field.Error`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Error type.
    pub kind: ErrorType,
    /// Field path (`metadata.name`, `rules[0].verbs`).
    pub field: String,
    /// Offending value (unused for Required/Forbidden/TooLong).
    pub value: BadValue,
    /// Detail message.
    pub detail: String,
}

impl FieldError {
    /// `field.Invalid`.
    pub fn invalid(field: impl Into<String>, value: BadValue, detail: impl Into<String>) -> Self {
        FieldError {
            kind: ErrorType::Invalid,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    /// `field.Required`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: ErrorType::Required,
            field: field.into(),
            value: BadValue::Str(String::new()),
            detail: detail.into(),
        }
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: ErrorType::Forbidden,
            field: field.into(),
            value: BadValue::Str(String::new()),
            detail: detail.into(),
        }
    }

    /// `field.NotSupported`.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| gostr::quote(s)).collect();
        FieldError {
            kind: ErrorType::NotSupported,
            field: field.into(),
            value: BadValue::Str(value.to_string()),
            detail: format!("supported values: {}", quoted.join(", ")),
        }
    }

    /// `field.TooLong`.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        FieldError {
            kind: ErrorType::TooLong,
            field: field.into(),
            value: BadValue::Str(String::new()),
            detail: format!("must have at most {max} bytes"),
        }
    }

    /// `field.Error.ErrorBody()`: the cause message.
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong => {
                self.kind.text().to_string()
            }
            _ => {
                let value = match &self.value {
                    BadValue::Str(s) => gostr::quote(s),
                    BadValue::Int(i) => i.to_string(),
                    BadValue::Bool(b) => b.to_string(),
                    BadValue::Rendered(r) => r.clone(),
                    BadValue::Null => gostr::quote("null"),
                };
                format!("{}: {}", self.kind.text(), value)
            }
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// `ErrorList.ToAggregate().Error()`: one message, or `[a, b]` for several (deduplicated).
pub fn aggregate(errors: &[FieldError]) -> String {
    let mut seen = Vec::<String>::new();
    for e in errors {
        let msg = e.to_string();
        if !seen.contains(&msg) {
            seen.push(msg);
        }
    }
    match seen.len() {
        1 => seen.remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_errors_like_field_error() {
        let e = FieldError::invalid("metadata.name", BadValue::Str("Bad_Name".into()), "oops");
        assert_eq!(
            e.to_string(),
            r#"metadata.name: Invalid value: "Bad_Name": oops"#
        );
        let r = FieldError::required("roleRef.name", "");
        assert_eq!(r.to_string(), "roleRef.name: Required value");
        let n = FieldError::not_supported("roleRef.kind", "", &["Role", "ClusterRole"]);
        assert_eq!(
            aggregate(&[n, r]),
            r#"[roleRef.kind: Unsupported value: "": supported values: "Role", "ClusterRole", roleRef.name: Required value]"#
        );
    }
}
