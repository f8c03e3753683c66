//! What a policy admits beyond another: the analysis behind "this trust policy was changed to
//! admit more". It looks at the `Allow` statements only (a `Deny` never widens), and at the
//! context keys the caller says each statement must constrain (for IRSA, `ISSUER:sub` and
//! `ISSUER:aud`; for EKS Pod Identity, `aws:RequestTag/...`).

use std::collections::BTreeSet;

use super::document::{Effect, Listed, PrincipalPattern, Statement, TrustDocument};
use super::glob::has_wildcard;

/// One way a policy admits more.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Widening {
    /// An `Allow` statement beyond the ones the other policy had.
    NewStatement {
        /// Its label.
        statement: String,
    },
    /// A principal no `Allow` statement of the other policy named.
    NewPrincipal {
        /// The statement that names it.
        statement: String,
        /// The principal.
        principal: String,
    },
    /// A `*` principal or a `NotPrincipal`: anyone (of a kind) may call.
    AnyPrincipal {
        /// The statement.
        statement: String,
    },
    /// A key that must be constrained has no positive condition in the statement.
    Unconstrained {
        /// The statement.
        statement: String,
        /// The key.
        key: String,
    },
    /// A key is matched with a wildcard pattern.
    Wildcard {
        /// The statement.
        statement: String,
        /// The key.
        key: String,
        /// The operator.
        operator: String,
        /// The pattern.
        pattern: String,
    },
}

impl Widening {
    /// The same widening without the statement label, to compare two policies.
    fn essence(&self) -> String {
        match self {
            Widening::NewStatement { .. } => "statement".into(),
            Widening::NewPrincipal { principal, .. } => format!("principal {principal}"),
            Widening::AnyPrincipal { .. } => "any principal".into(),
            Widening::Unconstrained { key, .. } => format!("unconstrained {}", key.to_lowercase()),
            Widening::Wildcard {
                key,
                operator,
                pattern,
                ..
            } => format!("wildcard {} {operator} {pattern}", key.to_lowercase()),
        }
    }
}

impl std::fmt::Display for Widening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Widening::NewStatement { statement } => {
                write!(
                    f,
                    "{statement} is an Allow statement the policy did not have"
                )
            }
            Widening::NewPrincipal {
                statement,
                principal,
            } => write!(f, "{statement} admits another principal: {principal}"),
            Widening::AnyPrincipal { statement } => {
                write!(
                    f,
                    "{statement} admits any principal (\"*\" or NotPrincipal)"
                )
            }
            Widening::Unconstrained { statement, key } => write!(
                f,
                "{statement} has no condition on {key:?}: any value of it is admitted"
            ),
            Widening::Wildcard {
                statement,
                key,
                operator,
                pattern,
            } => write!(
                f,
                "{statement} matches {key:?} with {operator} {pattern:?}: every value the \
                 pattern covers is admitted"
            ),
        }
    }
}

/// What statement `statement` leaves open among `required` keys, and its wildcard principals
/// and patterns.
pub fn unconstrained(statement: &Statement, required: &[String]) -> Vec<Widening> {
    let mut found = Vec::new();
    // A statement that requires a key with a URL scheme admits nobody: IAM's context keys
    // never start with one (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>).
    let dead = statement
        .conditions
        .iter()
        .any(|c| c.key.contains("://") && is_positive(&c.operator));
    if statement.effect != Effect::Allow || dead {
        return found;
    }
    let label = || statement.label.clone();
    let any_principal = match &statement.principals {
        Listed::Only(patterns) => patterns.iter().any(PrincipalPattern::is_wildcard),
        Listed::AllBut(_) => true,
        Listed::Absent => false,
    };
    if any_principal {
        found.push(Widening::AnyPrincipal { statement: label() });
    }
    for key in required {
        let constraining: Vec<_> = statement
            .conditions
            .iter()
            .filter(|c| c.key.eq_ignore_ascii_case(key) && is_positive(&c.operator))
            .collect();
        if constraining.is_empty() {
            found.push(Widening::Unconstrained {
                statement: label(),
                key: key.clone(),
            });
        }
        for condition in constraining {
            if condition.operator.contains("Like") {
                for pattern in condition.values.iter().filter(|v| has_wildcard(v)) {
                    found.push(Widening::Wildcard {
                        statement: label(),
                        key: key.clone(),
                        operator: condition.operator.clone(),
                        pattern: pattern.clone(),
                    });
                }
            }
        }
    }
    found
}

/// An operator that admits only listed values when the key is present and refuses a request
/// without the key: a real constraint. Negated operators, `...IfExists` and `ForAllValues:`
/// (true for a missing key) are not.
fn is_positive(operator: &str) -> bool {
    !operator.contains("Not")
        && !operator.ends_with("IfExists")
        && !operator.starts_with("ForAllValues:")
        && operator != "Null"
}

/// What `now` admits that `before` did not: new `Allow` statements, new principals, keys no
/// longer constrained, new wildcard patterns. `required` names the keys each statement must
/// constrain.
pub fn widenings(
    before: &TrustDocument,
    now: &TrustDocument,
    required: &dyn Fn(&Statement) -> Vec<String>,
) -> Vec<Widening> {
    let allows = |doc: &TrustDocument| -> Vec<Statement> {
        doc.statements
            .iter()
            .filter(|s| s.effect == Effect::Allow)
            .cloned()
            .collect()
    };
    let (before_allows, now_allows) = (allows(before), allows(now));
    let principals = |statements: &[Statement]| -> BTreeSet<String> {
        statements
            .iter()
            .filter_map(|s| match &s.principals {
                Listed::Only(patterns) => Some(patterns.iter().map(|p| p.to_string())),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let known_principals = principals(&before_allows);
    let issues = |statements: &[Statement]| -> Vec<Widening> {
        statements
            .iter()
            .flat_map(|s| unconstrained(s, &required(s)))
            .collect()
    };
    let known_issues: BTreeSet<String> = issues(&before_allows)
        .iter()
        .map(Widening::essence)
        .collect();
    let mut found = Vec::new();
    for statement in now_allows.iter().skip(before_allows.len()) {
        found.push(Widening::NewStatement {
            statement: statement.label.clone(),
        });
    }
    for statement in &now_allows {
        if let Listed::Only(patterns) = &statement.principals {
            for pattern in patterns {
                let text = pattern.to_string();
                if !known_principals.contains(&text) && !pattern.is_wildcard() {
                    found.push(Widening::NewPrincipal {
                        statement: statement.label.clone(),
                        principal: text,
                    });
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for issue in issues(&now_allows) {
        let essence = issue.essence();
        if !known_issues.contains(&essence) && seen.insert(essence) {
            found.push(issue);
        }
    }
    found
}
