//! Static bearer tokens in the `--token-auth-file` CSV format:
//! `token,user,uid,"group1,group2"`.

use serde::{Deserialize, Serialize};

/// One static token and the user it authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticToken {
    /// Bearer token.
    pub token: String,
    /// User name.
    pub user: String,
    /// User UID.
    pub uid: String,
    /// Groups (`system:authenticated` is added by the server).
    pub groups: Vec<String>,
}

/// A malformed token file line.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("token file line {line}: {reason}")]
pub struct TokenFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

fn quote_csv(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Parses a token file.
pub fn parse(text: &str) -> Result<Vec<StaticToken>, TokenFileError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = split_csv(line);
        if fields.len() < 3 {
            return Err(TokenFileError {
                line: i + 1,
                reason: "expected token,user,uid[,\"groups\"]".into(),
            });
        }
        let groups = fields
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.push(StaticToken {
            token: fields[0].trim().to_string(),
            user: fields[1].trim().to_string(),
            uid: fields[2].trim().to_string(),
            groups,
        });
    }
    Ok(out)
}

/// Renders tokens as a token file.
pub fn render(tokens: &[StaticToken]) -> String {
    tokens
        .iter()
        .map(|t| {
            format!(
                "{},{},{},{}\n",
                quote_csv(&t.token),
                quote_csv(&t.user),
                quote_csv(&t.uid),
                quote_csv(&t.groups.join(","))
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_quoted_groups() {
        let tokens = vec![StaticToken {
            token: "t1".into(),
            user: "admin".into(),
            uid: "admin-uid".into(),
            groups: vec!["system:masters".into(), "ops".into()],
        }];
        let text = render(&tokens);
        assert_eq!(text, "t1,admin,admin-uid,\"system:masters,ops\"\n");
        assert_eq!(parse(&text).expect("parse"), tokens);
    }

    #[test]
    fn rejects_short_lines() {
        assert_eq!(parse("tok,user").expect_err("error").line, 1);
    }
}
