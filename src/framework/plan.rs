//! Terraform's plan contract (plugin-protocol.md section 4), enforced in one place:
//! - a non-computed attribute is planned exactly as configured;
//! - an optional+computed attribute left null in configuration takes its default, else keeps its
//!   prior value, else is unknown until apply;
//! - a computed attribute becomes unknown only when the resource is created or something it may
//!   depend on changes, and never when it is marked `use_state_for_unknown`;
//! - a plan with no configured change returns the prior state unchanged (no perpetual diffs);
//! - requires-replace is reported only when prior and planned are both known and differ.

use crate::codec::{AttributePath, Block, Diagnostics, Schema, Value};

use super::context::Context;

/// Plan-time context: the configured provider (some of whose settings may be unknown).
pub type PlanContext = Context;

/// A planned change, as the resource's `modify_plan` sees and amends it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedChange {
    /// The prior state; null on create.
    pub prior: Value,
    /// The configuration (may hold unknowns).
    pub config: Value,
    /// The plan so far.
    pub planned: Value,
    /// Paths whose change replaces the resource.
    pub requires_replace: Vec<AttributePath>,
}

impl PlannedChange {
    /// Whether this change creates the resource.
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }

    /// Whether this change destroys the resource.
    pub fn is_destroy(&self) -> bool {
        self.planned.is_null()
    }

    /// Sets a computed attribute in the plan (no-op when destroying).
    pub fn set(&mut self, name: &str, value: Value) {
        if !self.planned.is_null() {
            self.planned.set_attr(name, value);
        }
    }

    /// Whether `name` is planned to differ from the prior state (always true on create).
    pub fn changes(&self, name: &str) -> bool {
        self.prior.is_null()
            || !self
                .prior
                .get(name)
                .semantically_equal(self.planned.get(name))
    }
}

/// Builds the framework's plan from what Terraform proposed. The resource's `modify_plan` runs
/// on the result, then [`check_plan`] verifies the contract still holds.
pub fn plan_change(
    schema: &Schema,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> PlannedChange {
    let mut change = PlannedChange {
        prior: prior.clone(),
        config: config.clone(),
        planned: proposed.clone(),
        requires_replace: Vec::new(),
    };
    if proposed.is_null() {
        return change;
    }
    let block = &schema.block;
    apply_defaults(block, config, &mut change.planned);

    if prior.is_null() {
        for attr in block.attributes.iter().filter(|a| a.computed) {
            if config.get(&attr.name).is_null() && attr.default.is_none() {
                change.planned.set_attr(&attr.name, Value::Unknown);
            }
        }
        return change;
    }

    if configured_values_unchanged(block, prior, &change.planned) {
        change.planned = prior.clone();
        return change;
    }
    for attr in block
        .attributes
        .iter()
        .filter(|a| a.computed && !a.use_state_for_unknown)
    {
        if config.get(&attr.name).is_null() && attr.default.is_none() {
            change.planned.set_attr(&attr.name, Value::Unknown);
        }
    }
    change.requires_replace = replace_paths(block, prior, &change.planned);
    change
}

/// Recomputes requires-replace after the resource amended the plan, keeping extra paths the
/// resource added.
pub(crate) fn finish_plan(schema: &Schema, change: &mut PlannedChange) {
    if change.prior.is_null() || change.planned.is_null() {
        change.requires_replace.clear();
        return;
    }
    for path in replace_paths(&schema.block, &change.prior, &change.planned) {
        if !change.requires_replace.contains(&path) {
            change.requires_replace.push(path);
        }
    }
}

/// Checks the final plan against the contract; a violation is a provider bug, reported as an
/// error naming the attribute instead of Terraform's generic "invalid plan".
pub(crate) fn check_plan(schema: &Schema, change: &PlannedChange) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if change.planned.is_null() {
        return diags;
    }
    for attr in &schema.block.attributes {
        let config = change.config.get(&attr.name);
        let planned = change.planned.get(&attr.name);
        let prior = change.prior.get(&attr.name);
        let must_equal_config = !attr.computed || !config.is_null();
        // Terraform also accepts the prior value in place of a configured one that means the
        // same (e.g. a JSON document with other whitespace): both non-null.
        let keeps_prior = !config.is_null() && !prior.is_null() && planned == prior;
        if must_equal_config && !keeps_prior && !config.semantically_equal(planned) {
            diags.error_at(
                AttributePath::new(&attr.name),
                "Provider produced an invalid plan",
                format!(
                    "The provider planned {planned:?} for {:?} but the configuration says \
                     {config:?}. This is a bug in the provider.",
                    attr.name
                ),
            );
        }
    }
    diags
}

/// Checks that the state returned by apply is wholly known and keeps every known planned value.
pub(crate) fn check_apply(schema: &Schema, planned: &Value, new_state: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if new_state.is_null() || planned.is_null() {
        return diags;
    }
    for attr in &schema.block.attributes {
        let planned_value = planned.get(&attr.name);
        let actual = new_state.get(&attr.name);
        if !actual.is_wholly_known() {
            diags.error_at(
                AttributePath::new(&attr.name),
                "Provider returned an unknown value after apply",
                format!(
                    "{:?} is still unknown after apply. This is a bug in the provider.",
                    attr.name
                ),
            );
        } else if planned_value.is_wholly_known() && !planned_value.semantically_equal(actual) {
            diags.error_at(
                AttributePath::new(&attr.name),
                "Provider produced an inconsistent result after apply",
                format!(
                    "{:?} was planned as {planned_value:?} but apply produced {actual:?}. \
                     This is a bug in the provider.",
                    attr.name
                ),
            );
        }
    }
    diags
}

fn apply_defaults(block: &Block, config: &Value, planned: &mut Value) {
    for attr in &block.attributes {
        if let Some(default) = &attr.default
            && config.get(&attr.name).is_null()
        {
            planned.set_attr(&attr.name, default.clone());
        }
    }
}

/// Whether every attribute and block the configuration controls has the same value in `planned`
/// as in `prior`. Computed-only attributes are ignored.
fn configured_values_unchanged(block: &Block, prior: &Value, planned: &Value) -> bool {
    let attrs_same = block
        .attributes
        .iter()
        .filter(|a| a.optional || a.required)
        .all(|a| prior.get(&a.name).semantically_equal(planned.get(&a.name)));
    let blocks_same = block
        .blocks
        .iter()
        .all(|b| prior.get(&b.name).semantically_equal(planned.get(&b.name)));
    attrs_same && blocks_same
}

fn replace_paths(block: &Block, prior: &Value, planned: &Value) -> Vec<AttributePath> {
    let differs = |name: &str| {
        let (before, after) = (prior.get(name), planned.get(name));
        !before.is_null() && after.is_wholly_known() && !before.semantically_equal(after)
            || before.is_null() && !after.is_null() && after.is_wholly_known()
    };
    let attrs = block
        .attributes
        .iter()
        .filter(|a| a.requires_replace)
        .map(|a| a.name.as_str());
    let blocks = block
        .blocks
        .iter()
        .filter(|b| b.requires_replace)
        .map(|b| b.name.as_str());
    attrs
        .chain(blocks)
        .filter(|name| differs(name))
        .map(AttributePath::new)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Attribute, Type};

    fn schema() -> Schema {
        Schema::new(
            0,
            Block::new("test")
                .attr(Attribute::required("name", Type::String, "").requires_replace())
                .attr(Attribute::optional("description", Type::String, ""))
                .attr(Attribute::with_default(
                    "audience",
                    Type::String,
                    "sts".into(),
                    "",
                ))
                .attr(Attribute::computed("id", Type::String, "").use_state_for_unknown())
                .attr(Attribute::computed("etag", Type::String, "")),
        )
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
    }

    #[test]
    fn create_plans_computed_unknown_and_defaults_known() {
        let config = obj(&[
            ("name", "a".into()),
            ("description", Value::Null),
            ("audience", Value::Null),
            ("id", Value::Null),
            ("etag", Value::Null),
        ]);
        let change = plan_change(&schema(), &Value::Null, &config, &config);
        assert_eq!(change.planned.get("audience"), &Value::from("sts"));
        assert!(change.planned.get("id").is_unknown());
        assert!(change.planned.get("etag").is_unknown());
        assert!(change.requires_replace.is_empty());
        assert!(check_plan(&schema(), &change).is_empty());
    }

    #[test]
    fn unchanged_configuration_plans_prior_state_exactly() {
        let prior = obj(&[
            ("name", "a".into()),
            ("description", Value::Null),
            ("audience", "sts".into()),
            ("id", "x".into()),
            ("etag", "e1".into()),
        ]);
        let config = obj(&[
            ("name", "a".into()),
            ("description", Value::Null),
            ("audience", Value::Null),
            ("id", Value::Null),
            ("etag", Value::Null),
        ]);
        let change = plan_change(&schema(), &prior, &prior, &config);
        assert_eq!(change.planned, prior);
    }

    #[test]
    fn update_keeps_stable_computed_and_unknowns_the_rest() {
        let prior = obj(&[
            ("name", "a".into()),
            ("description", Value::Null),
            ("audience", "sts".into()),
            ("id", "x".into()),
            ("etag", "e1".into()),
        ]);
        let mut proposed = prior.clone();
        proposed.set_attr("description", "new".into());
        let mut config = proposed.clone();
        for k in ["audience", "id", "etag"] {
            config.set_attr(k, Value::Null);
        }
        let change = plan_change(&schema(), &prior, &proposed, &config);
        assert_eq!(change.planned.get("id"), &Value::from("x"));
        assert!(change.planned.get("etag").is_unknown());
        assert!(change.requires_replace.is_empty());
    }

    #[test]
    fn identity_change_requires_replace() {
        let prior = obj(&[
            ("name", "a".into()),
            ("description", Value::Null),
            ("audience", "sts".into()),
            ("id", "x".into()),
            ("etag", "e1".into()),
        ]);
        let mut proposed = prior.clone();
        proposed.set_attr("name", "b".into());
        let change = plan_change(&schema(), &prior, &proposed, &proposed);
        assert_eq!(change.requires_replace, vec![AttributePath::new("name")]);
    }

    #[test]
    fn check_plan_flags_a_non_computed_attribute_that_differs_from_config() {
        let config = obj(&[("name", "a".into()), ("description", Value::Null)]);
        let mut change = plan_change(&schema(), &Value::Null, &config, &config);
        change.planned.set_attr("name", "changed".into());
        let diags = check_plan(&schema(), &change);
        assert!(diags.has_errors());
        assert_eq!(diags.0[0].attribute, Some(AttributePath::new("name")));
    }

    #[test]
    fn check_plan_accepts_the_prior_value_in_place_of_an_equivalent_configured_one() {
        let prior = obj(&[("name", "a".into()), ("description", "{\"a\": 1}".into())]);
        let config = obj(&[("name", "a".into()), ("description", "{\"a\":1}".into())]);
        let mut change = plan_change(&schema(), &prior, &config, &config);
        change.planned.set_attr("description", "{\"a\": 1}".into());
        assert!(check_plan(&schema(), &change).is_empty());
        // Without a prior value there is nothing to keep: the plan must follow the config.
        let mut create = plan_change(&schema(), &Value::Null, &config, &config);
        create.planned.set_attr("description", "{\"a\": 1}".into());
        assert!(check_plan(&schema(), &create).has_errors());
    }

    #[test]
    fn check_apply_rejects_unknowns_and_broken_promises() {
        let planned = obj(&[("name", "a".into()), ("id", Value::Unknown)]);
        let state = obj(&[("name", "b".into()), ("id", Value::Unknown)]);
        let diags = check_apply(&schema(), &planned, &state);
        assert_eq!(diags.0.len(), 2);
    }
}
