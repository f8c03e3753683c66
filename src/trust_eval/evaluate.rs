//! The decision for one request: an explicit `Deny` that applies wins; otherwise a matching
//! `Allow` is needed; otherwise the request is implicitly denied
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
//! A refusal lists, for every `Allow` statement, the first thing that kept it from applying.

use super::condition::{ConditionFailure, ConditionOutcome, decide};
use super::document::{Effect, Listed, PrincipalPattern, Statement, TrustDocument};
use super::glob::glob_match;
use super::{Request, TrustDocumentError};

/// Why one statement does not apply to the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissReason {
    /// The statement names other principals.
    Principal {
        /// What the statement names (`NOT ` in front for `NotPrincipal`).
        expected: Vec<String>,
        /// The request's principal.
        found: String,
    },
    /// The statement names other actions.
    Action {
        /// What the statement names (`NOT ` in front for `NotAction`).
        expected: Vec<String>,
        /// The request's action.
        found: String,
    },
    /// A condition does not hold.
    Condition(ConditionFailure),
}

/// An `Allow` statement that did not apply, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Miss {
    /// The statement's label (`Sid` or `Statement[N]`).
    pub statement: String,
    /// Why.
    pub reason: MissReason,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            MissReason::Principal { expected, found } => write!(
                f,
                "{}: the principal {found} is not among {}",
                self.statement,
                expected.join(", ")
            ),
            MissReason::Action { expected, found } => write!(
                f,
                "{}: the action {found} is not among {}",
                self.statement,
                expected.join(", ")
            ),
            MissReason::Condition(failure) => write!(f, "{}: {failure}", self.statement),
        }
    }
}

/// What the policy decides for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement applies and no `Deny` does.
    Allowed {
        /// The first `Allow` statement that applies.
        statement: String,
    },
    /// A `Deny` statement applies.
    ExplicitlyDenied {
        /// The first `Deny` statement that applies.
        statement: String,
    },
    /// No `Allow` statement applies.
    ImplicitlyDenied {
        /// Why each `Allow` statement does not (empty: the policy has none).
        misses: Vec<Miss>,
    },
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }

    /// Every condition failure behind an implicit denial.
    pub fn condition_failures(&self) -> Vec<&ConditionFailure> {
        match self {
            Decision::ImplicitlyDenied { misses } => misses
                .iter()
                .filter_map(|m| match &m.reason {
                    MissReason::Condition(c) => Some(c),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Allowed { statement } => write!(f, "allowed by {statement}"),
            Decision::ExplicitlyDenied { statement } => {
                write!(f, "explicitly denied by the Deny statement {statement}")
            }
            Decision::ImplicitlyDenied { misses } if misses.is_empty() => {
                f.write_str("denied: the policy has no Allow statement")
            }
            Decision::ImplicitlyDenied { misses } => {
                f.write_str("denied: no Allow statement applies")?;
                for miss in misses {
                    write!(f, "; {miss}")?;
                }
                Ok(())
            }
        }
    }
}

/// Evaluates a policy document for `request`.
pub fn evaluate(document: &TrustDocument, request: &Request) -> Decision {
    let mut misses = Vec::new();
    let mut allowed = None;
    for statement in &document.statements {
        let applies = applies(statement, request);
        match (statement.effect, applies) {
            (Effect::Deny, Ok(())) => {
                return Decision::ExplicitlyDenied {
                    statement: statement.label.clone(),
                };
            }
            (Effect::Deny, Err(_)) => {}
            (Effect::Allow, Ok(())) => {
                allowed.get_or_insert_with(|| statement.label.clone());
            }
            (Effect::Allow, Err(reason)) => misses.push(Miss {
                statement: statement.label.clone(),
                reason,
            }),
        }
    }
    match allowed {
        Some(statement) => Decision::Allowed { statement },
        None => Decision::ImplicitlyDenied { misses },
    }
}

/// [`evaluate`] on the document text as IAM returns it.
pub fn evaluate_text(document: &str, request: &Request) -> Result<Decision, TrustDocumentError> {
    Ok(evaluate(&TrustDocument::parse(document)?, request))
}

/// Whether `statement` applies to `request`; else the first reason it does not.
fn applies(statement: &Statement, request: &Request) -> Result<(), MissReason> {
    let principal_miss = |patterns: &[PrincipalPattern], prefix: &str| MissReason::Principal {
        expected: patterns.iter().map(|p| format!("{prefix}{p}")).collect(),
        found: request.principal.to_string(),
    };
    match &statement.principals {
        Listed::Only(patterns) if !patterns.iter().any(|p| p.matches(&request.principal)) => {
            return Err(principal_miss(patterns, ""));
        }
        Listed::AllBut(patterns) if patterns.iter().any(|p| p.matches(&request.principal)) => {
            return Err(principal_miss(patterns, "NOT "));
        }
        _ => {}
    }
    let action_matches = |patterns: &[String]| {
        patterns
            .iter()
            .any(|p| glob_match(p, &request.action, true))
    };
    let action_miss = |patterns: &[String], prefix: &str| MissReason::Action {
        expected: patterns.iter().map(|p| format!("{prefix}{p}")).collect(),
        found: request.action.clone(),
    };
    match &statement.actions {
        Listed::Only(patterns) if !action_matches(patterns) => {
            return Err(action_miss(patterns, ""));
        }
        Listed::AllBut(patterns) if action_matches(patterns) => {
            return Err(action_miss(patterns, "NOT "));
        }
        _ => {}
    }
    for condition in &statement.conditions {
        if let ConditionOutcome::Fails(failure) = decide(condition, request) {
            return Err(MissReason::Condition(failure));
        }
    }
    Ok(())
}
