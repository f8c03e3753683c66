//! Field selectors (`k8s.io/apimachinery/pkg/fields`): `a=b`, `a==b`, `a!=b`, comma-separated,
//! with backslash escapes.

/// One term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Field label (`metadata.name`).
    pub field: String,
    /// Expected value.
    pub value: String,
    /// True for `!=`.
    pub negated: bool,
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// Terms, all of which must hold.
    pub terms: Vec<Term>,
}

impl FieldSelector {
    /// True when `lookup(field)` satisfies every term.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let v = lookup(&t.field).unwrap_or_default();
            (v == t.value) != t.negated
        })
    }

    /// The value an exact `field=value` term requires (`RequiresExactMatch`).
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && !t.negated)
            .map(|t| t.value.as_str())
    }
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if escaped {
        current.push('\\');
    }
    parts.push(current);
    parts
}

fn split_term(term: &str) -> Option<(String, &'static str, String)> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((term[..i].to_string(), op, term[i + op.len()..].to_string()));
            }
        }
        i += 1;
    }
    None
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    ));
                }
                None => return Err("invalid field selector: unterminated escape sequence".into()),
            }
        } else if c == ',' || c == '=' {
            return Err(format!("invalid field selector: unescaped character '{c}'"));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Parses a `fieldSelector` query parameter.
pub fn parse(selector: &str) -> Result<FieldSelector, String> {
    let mut parts = split_unescaped(selector, ',');
    parts.sort();
    let mut terms = Vec::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((field, op, value)) = split_term(&part) else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{part}'"
            ));
        };
        terms.push(Term {
            field,
            value: unescape(&value)?,
            negated: op == "!=",
        });
    }
    Ok(FieldSelector { terms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terms_and_matches() {
        let s =
            parse("metadata.name=gitlab-runner,metadata.namespace!=kube-system").expect("parse");
        assert_eq!(s.exact("metadata.name"), Some("gitlab-runner"));
        assert!(s.matches(|f| {
            Some(
                if f == "metadata.name" {
                    "gitlab-runner"
                } else {
                    "ci"
                }
                .into(),
            )
        }));
    }

    #[test]
    fn rejects_terms_without_operator() {
        assert_eq!(
            parse("foo").expect_err("error"),
            "invalid selector: 'foo'; can't understand 'foo'"
        );
    }
}
