//! Label selectors: a port of `k8s.io/apimachinery/pkg/labels` parsing (with its error
//! messages) and matching.

use std::collections::{BTreeMap, BTreeSet};

use crate::validation::names;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        if self.pos < self.s.len() {
            self.pos += 1;
            self.s[self.pos - 1]
        } else {
            0
        }
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Token::End, String::new());
        }
        self.unread();
        if is_special(ch) {
            self.special()
        } else {
            self.identifier()
        }
    }

    fn identifier(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            buf.push(ch);
        }
        let s = String::from_utf8_lossy(&buf).into_owned();
        match keyword(&s) {
            Some(t) => (t, s),
            None => (Token::Identifier, s),
        }
    }

    fn special(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        let mut last: Option<(Token, String)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special(ch) {
                buf.push(ch);
                let s = String::from_utf8_lossy(&buf).into_owned();
                if let Some(t) = keyword(&s) {
                    last = Some((t, s));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        last.unwrap_or_else(|| {
            (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buf)
                ),
            )
        })
    }
}

/// A selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `in`.
    In,
    /// `notin`.
    NotIn,
    /// `=`/`==`.
    Equals,
    /// `!=`.
    NotEquals,
    /// key present.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `>`.
    GreaterThan,
    /// `<`.
    LessThan,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            Operator::In | Operator::Equals => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), Some(bound)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values
                        .iter()
                        .next()
                        .and_then(|b| b.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == Operator::GreaterThan {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

/// A parsed label selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// True when `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True for the empty selector.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// A selector requiring every `key=value` of `match_labels`.
    pub fn from_match_labels(match_labels: &BTreeMap<String, String>) -> LabelSelector {
        LabelSelector {
            requirements: match_labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    op: Operator::Equals,
                    values: BTreeSet::from([v.clone()]),
                })
                .collect(),
        }
    }

    /// Adds a `matchExpressions` requirement (operators In, NotIn, Exists, DoesNotExist).
    pub fn push_expression(&mut self, key: &str, operator: &str, values: &[String]) -> bool {
        let op = match operator {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            _ => return false,
        };
        self.requirements.push(Requirement {
            key: key.into(),
            op,
            values: values.iter().cloned().collect(),
        });
        true
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    pos: usize,
}

impl Parser {
    fn adjust(tok: Token, ctx: Context) -> Token {
        if ctx == Context::Values && matches!(tok, Token::In | Token::NotIn) {
            Token::Identifier
        } else {
            tok
        }
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        let (t, l) = &self.items[self.pos];
        (Self::adjust(*t, ctx), l.clone())
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let (t, l) = self.items[self.pos].clone();
        self.pos = (self.pos + 1).min(self.items.len() - 1);
        (Self::adjust(t, ctx), l)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::End => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.key_and_operator()?;
        if let Some(op) = op {
            return new_requirement(key, op, BTreeSet::new());
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn key_and_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let (mut tok, mut lit) = self.consume(Context::Values);
        let mut op = None;
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Some(msg) = names::qualified_name(&lit).into_iter().next() {
            return Err(format!(
                "key: Invalid value: {}: {msg}",
                crate::gostr::quote(&lit)
            ));
        }
        let (t, _) = self.lookahead(Context::Values);
        if (t == Token::End || t == Token::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn values(&mut self) -> Result<BTreeSet<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.identifiers()?;
                let (t, _) = self.consume(Context::Values);
                if t != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<BTreeSet<String>, String> {
        let mut s = BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    s.insert(lit);
                    let (t2, l2) = self.lookahead(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if s.is_empty() {
                        s.insert(String::new());
                    }
                    let (t2, _) = self.lookahead(Context::Values);
                    if t2 == Token::ClosedPar {
                        s.insert(String::new());
                        return Ok(s);
                    }
                    if t2 == Token::Comma {
                        self.consume(Context::Values);
                        s.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Token::End || tok == Token::Comma {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            Ok(BTreeSet::from([lit]))
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

fn new_requirement(
    key: String,
    op: Operator,
    values: BTreeSet<String>,
) -> Result<Requirement, String> {
    match op {
        Operator::In | Operator::NotIn if values.is_empty() => {
            return Err("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty".into());
        }
        Operator::Equals | Operator::NotEquals if values.len() != 1 => {
            return Err(
                "values: Invalid value: exact-match compatibility requires one single value".into(),
            );
        }
        Operator::GreaterThan | Operator::LessThan => {
            let v = values.iter().next().cloned().unwrap_or_default();
            if v.parse::<i64>().is_err() {
                return Err(format!(
                    "values[0]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                    crate::gostr::quote(&v)
                ));
            }
        }
        _ => {}
    }
    if matches!(
        op,
        Operator::In | Operator::NotIn | Operator::Equals | Operator::NotEquals
    ) {
        for (i, v) in values.iter().enumerate() {
            if let Some(msg) = names::label_value(v).into_iter().next() {
                return Err(format!(
                    "values[{i}][{key}]: Invalid value: {}: {msg}",
                    crate::gostr::quote(v)
                ));
            }
        }
    }
    Ok(Requirement { key, op, values })
}

/// Parses a `labelSelector` query parameter.
pub fn parse(selector: &str) -> Result<LabelSelector, String> {
    let mut lexer = Lexer {
        s: selector.as_bytes(),
        pos: 0,
    };
    let mut items = Vec::new();
    loop {
        let (t, l) = lexer.lex();
        items.push((t, l));
        if t == Token::End || t == Token::Error {
            if t == Token::Error {
                items.push((Token::End, String::new()));
            }
            break;
        }
    }
    let mut parser = Parser { items, pos: 0 };
    parser
        .parse()
        .map(|requirements| LabelSelector { requirements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equality_set_and_existence_requirements_match() {
        let l = labels(&[
            (
                "app.kubernetes.io/managed-by",
                "terraform-provider-gitlabrunner",
            ),
            ("app.kubernetes.io/name", "x"),
        ]);
        assert!(
            parse("app.kubernetes.io/managed-by=terraform-provider-gitlabrunner")
                .expect("parse")
                .matches(&l)
        );
        assert!(parse("app.kubernetes.io/managed-by in (terraform-provider-gitlabrunner,helm),app.kubernetes.io/name!=gitlab-runner").expect("parse").matches(&l));
        assert!(
            !parse("!app.kubernetes.io/managed-by")
                .expect("parse")
                .matches(&l)
        );
        assert!(
            !parse("app.kubernetes.io/managed-by==")
                .expect("parse")
                .matches(&l)
        );
        assert!(parse("").expect("parse").is_empty());
    }

    #[test]
    fn unclosed_set_reports_like_the_api_server() {
        assert_eq!(
            parse("app.kubernetes.io/managed-by in (terraform-provider-gitlabrunner")
                .expect_err("error"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
    }

    #[test]
    fn numeric_comparisons_work() {
        let l = labels(&[("n", "5")]);
        assert!(parse("n>3").expect("parse").matches(&l));
        assert!(!parse("n<3").expect("parse").matches(&l));
    }
}
