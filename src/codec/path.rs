//! Attribute paths: where in a configuration a diagnostic points.

use std::fmt;

/// One step of an [`AttributePath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An attribute or nested block by name.
    Attribute(String),
    /// A map element by key.
    Key(String),
    /// A list or tuple element by index (also used for sets, where Terraform shows no index).
    Index(i64),
}

/// A path from the root of a configuration object to one attribute, element or block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttributePath(pub Vec<PathStep>);

impl AttributePath {
    /// The empty path (the whole object).
    pub fn root() -> Self {
        Self::default()
    }

    /// A path of one attribute name.
    pub fn new(attribute: &str) -> Self {
        Self::root().attr(attribute)
    }

    /// This path extended by an attribute.
    pub fn attr(mut self, name: &str) -> Self {
        self.0.push(PathStep::Attribute(name.to_string()));
        self
    }

    /// This path extended by a map key.
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }

    /// This path extended by a list index.
    pub fn index(mut self, index: usize) -> Self {
        self.0.push(PathStep::Index(index as i64));
        self
    }

    /// The steps.
    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    /// Whether this path starts with `prefix`.
    pub fn starts_with(&self, prefix: &AttributePath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for AttributePath {
    /// HCL-like rendering: `aws.endpoints.iam`, `grant[0].namespace`, `tags["team"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(idx) => write!(f, "[{idx}]")?,
            }
        }
        Ok(())
    }
}
