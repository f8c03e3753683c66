//! Go-compatible string formatting (`%q` and `%#v` of the few types the API server prints).
//!
//! Status messages of the real server are produced with Go's `fmt`; reproducing them byte for
//! byte needs Go's quoting rules.

/// Go's `strconv.Quote`: a double-quoted string with Go escape sequences.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn quote_list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quote(s.as_ref())).collect();
    format!("[{}]", parts.join(" "))
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`.
pub fn go_syntax_string_slice<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quote(s.as_ref())).collect();
    format!("[]string{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(
            quote_list(&["dev-group", "system:authenticated"]),
            r#"["dev-group" "system:authenticated"]"#
        );
        assert_eq!(
            go_syntax_string_slice(&["/healthz"]),
            r#"[]string{"/healthz"}"#
        );
    }
}
