//! A small IAM policy evaluator for trust policies: does this policy let this principal call
//! this action with this request context, and if not, why not.
//!
//! It implements the parts of IAM's evaluation that decide who may assume a role, each
//! anchored to AWS's documentation:
//! - policy evaluation logic: an explicit `Deny` wins, otherwise an `Allow` is needed
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>);
//! - condition operators, `...IfExists`, `Null`, and the `ForAnyValue:`/`ForAllValues:`
//!   qualifiers
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>);
//! - several operators or keys are ANDed, several values of one key ORed (NORed for negated
//!   operators)
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html>);
//! - `Action`/`NotAction` with `*` and `?`, case-insensitive
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html>);
//! - `Principal`/`NotPrincipal` by kind (`AWS`, `Federated`, `Service`, `CanonicalUser`) or `*`
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>).
//!
//! The input is the document as IAM returns it (URL-encoded or not, strings or lists, one
//! statement or many). A refusal names the statement, and for a condition the key, the values
//! the policy expects and the values the request has, with a hint for the classic
//! miswirings (a key prefixed with `https://`, a wildcard under `StringEquals`, another
//! issuer). [`widenings`] tells what a changed policy admits that the previous one did not.
//!
//! Nothing here knows about IRSA except [`Request::web_identity`]; EKS Pod Identity is a
//! `Service` principal with `aws:RequestTag/...` keys in the same model.

mod condition;
mod document;
mod evaluate;
mod glob;
mod widening;

#[cfg(test)]
mod tests;

pub use condition::{ConditionFailure, ConditionOutcome};
pub use document::{
    Condition, Effect, Listed, PrincipalPattern, Statement, TrustDocument, TrustDocumentError,
};
pub use evaluate::{Decision, Miss, MissReason, evaluate, evaluate_text};
pub use glob::glob_match;
pub use widening::{Widening, unconstrained, widenings};

use std::collections::BTreeMap;

/// The kind of a principal, as the `Principal` element names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    /// `"AWS"`: accounts, users, roles.
    Aws,
    /// `"Federated"`: OIDC and SAML providers.
    Federated,
    /// `"Service"`: AWS services such as `pods.eks.amazonaws.com`.
    Service,
    /// `"CanonicalUser"`.
    CanonicalUser,
}

impl PrincipalKind {
    /// The key in the `Principal` element.
    pub fn key(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::Service => "Service",
            PrincipalKind::CanonicalUser => "CanonicalUser",
        }
    }

    /// The kind a `Principal` key names (keys are case-sensitive in IAM).
    pub fn from_key(key: &str) -> Option<PrincipalKind> {
        [
            PrincipalKind::Aws,
            PrincipalKind::Federated,
            PrincipalKind::Service,
            PrincipalKind::CanonicalUser,
        ]
        .into_iter()
        .find(|kind| kind.key() == key)
    }
}

/// Who makes the request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    /// Its kind.
    pub kind: PrincipalKind,
    /// Its ARN, account id or service name.
    pub value: String,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.key(), self.value)
    }
}

/// The web-identity action.
pub const ASSUME_ROLE_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";

/// One request: principal, action and its context keys (each with one or more values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The caller.
    pub principal: Principal,
    /// The action, e.g. `sts:AssumeRoleWithWebIdentity`.
    pub action: String,
    /// Context keys and their values. Keys are matched case-insensitively, as IAM does.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    /// A request with no context keys.
    pub fn new(principal: Principal, action: &str) -> Request {
        Request {
            principal,
            action: action.to_string(),
            context: BTreeMap::new(),
        }
    }

    /// Adds a context key with its values.
    pub fn with(mut self, key: &str, values: &[&str]) -> Request {
        self.context.insert(
            key.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        );
        self
    }

    /// `sts:AssumeRoleWithWebIdentity` by the OIDC provider `provider_arn` with the token
    /// claims STS puts in the context: `ISSUER:sub` and `ISSUER:aud`, where `ISSUER` is the
    /// provider's URL without `https://`
    /// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif>).
    pub fn web_identity(
        provider_arn: &str,
        issuer_host_path: &str,
        subject: &str,
        audience: &str,
    ) -> Request {
        Request::new(
            Principal {
                kind: PrincipalKind::Federated,
                value: provider_arn.to_string(),
            },
            ASSUME_ROLE_WITH_WEB_IDENTITY,
        )
        .with(&format!("{issuer_host_path}:sub"), &[subject])
        .with(&format!("{issuer_host_path}:aud"), &[audience])
    }

    /// The values of context key `key` (case-insensitive), `None` when the request lacks it.
    pub fn values(&self, key: &str) -> Option<&[String]> {
        self.context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }
}
