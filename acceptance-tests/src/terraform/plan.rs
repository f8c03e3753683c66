//! A saved plan as `terraform show -json PLANFILE` describes it.

use serde::Deserialize;
use serde_json::Value;

/// What Terraform will do to one resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Nothing.
    NoOp,
    /// Create it.
    Create,
    /// Read it (a data source whose configuration is not known yet).
    Read,
    /// Update it in place.
    Update,
    /// Delete it.
    Delete,
    /// Drop it from state without destroying it.
    Forget,
    /// An action this harness does not know yet.
    #[serde(other)]
    Other,
}

/// A planned change (or drift) of one resource instance.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceChange {
    /// `gitlabrunner_irsa_binding.runner`.
    pub address: String,
    /// `managed` or `data`.
    #[serde(default)]
    pub mode: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The resource name.
    pub name: String,
    /// Why Terraform chose the action, e.g. `replace_because_cannot_update`.
    #[serde(default)]
    pub action_reason: Option<String>,
    /// Before, after and which parts are unknown.
    pub change: Change,
}

/// The before/after of a change.
#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    /// What happens: `[create]`, `[update]`, `[delete, create]` (replace), `[no-op]`, ...
    pub actions: Vec<Action>,
    /// The prior value (null when creating).
    #[serde(default)]
    pub before: Value,
    /// The planned value, unknown parts left out (null when deleting).
    #[serde(default)]
    pub after: Value,
    /// Which parts of `after` are unknown until apply (`true` leaves).
    #[serde(default)]
    pub after_unknown: Value,
    /// Attribute paths that force replacement.
    #[serde(default)]
    pub replace_paths: Vec<Value>,
    /// Present when the change imports the object.
    #[serde(default)]
    pub importing: Option<Value>,
}

impl ResourceChange {
    /// Whether nothing happens to this instance.
    pub fn is_no_op(&self) -> bool {
        self.change.actions == [Action::NoOp]
    }

    /// Whether the instance is destroyed and created again (either order).
    pub fn is_replace(&self) -> bool {
        self.change.actions.contains(&Action::Delete)
            && self.change.actions.contains(&Action::Create)
    }

    /// Whether the attribute at top level `name` is unknown until apply.
    pub fn is_unknown_after(&self, name: &str) -> bool {
        self.change.after_unknown.get(name) == Some(&Value::Bool(true))
    }
}

/// The parsed plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every resource instance in configuration or state, and what happens to it.
    pub resource_changes: Vec<ResourceChange>,
    /// Changes made outside Terraform that refresh found.
    pub resource_drift: Vec<ResourceChange>,
    /// Whether planning stopped on an error.
    pub errored: bool,
    /// Whether the plan can be applied.
    pub applyable: bool,
    /// The whole `show -json` document.
    pub raw: Value,
}

impl Plan {
    /// Parses `terraform show -json PLANFILE`.
    pub fn from_json(raw: Value) -> Result<Self, serde_json::Error> {
        let list = |key: &str| -> Result<Vec<ResourceChange>, serde_json::Error> {
            match raw.get(key) {
                Some(value) => serde_json::from_value(value.clone()),
                None => Ok(Vec::new()),
            }
        };
        Ok(Self {
            resource_changes: list("resource_changes")?,
            resource_drift: list("resource_drift")?,
            errored: raw["errored"].as_bool().unwrap_or(false),
            applyable: raw["applyable"].as_bool().unwrap_or(false),
            raw,
        })
    }

    /// Whether applying the plan would change nothing: every resource change is a no-op and
    /// no output changes.
    pub fn is_empty(&self) -> bool {
        let outputs_unchanged = self
            .raw
            .get("output_changes")
            .and_then(Value::as_object)
            .is_none_or(|outputs| {
                outputs
                    .values()
                    .all(|change| change["actions"] == serde_json::json!(["no-op"]))
            });
        self.resource_changes.iter().all(ResourceChange::is_no_op) && outputs_unchanged
    }

    /// The change planned for `address`.
    pub fn change(&self, address: &str) -> Option<&ResourceChange> {
        self.resource_changes.iter().find(|c| c.address == address)
    }

    /// The actions planned for `address` (empty when it is not in the plan).
    pub fn actions(&self, address: &str) -> Vec<Action> {
        self.change(address)
            .map(|c| c.change.actions.clone())
            .unwrap_or_default()
    }

    /// The drift refresh found on `address`.
    pub fn drift(&self, address: &str) -> Option<&ResourceChange> {
        self.resource_drift.iter().find(|c| c.address == address)
    }

    /// Addresses with anything but a no-op, with their actions, for failure messages.
    pub fn summary(&self) -> String {
        let changed: Vec<String> = self
            .resource_changes
            .iter()
            .filter(|c| !c.is_no_op())
            .map(|c| format!("{} {:?}", c.address, c.change.actions))
            .collect();
        if changed.is_empty() {
            "no changes".to_string()
        } else {
            changed.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_and_unknown_attributes_are_visible() {
        let raw = serde_json::json!({
            "format_version": "1.2",
            "applyable": true,
            "errored": false,
            "resource_changes": [{
                "address": "gitlabrunner_irsa_binding.a", "mode": "managed",
                "type": "gitlabrunner_irsa_binding", "name": "a",
                "action_reason": "replace_because_cannot_update",
                "change": {"actions": ["delete", "create"], "before": {"namespace": "x"},
                           "after": {"namespace": "y"}, "after_unknown": {"role_arn": true},
                           "replace_paths": [["namespace"]]}
            }, {
                "address": "gitlabrunner_cache.c", "mode": "managed",
                "type": "gitlabrunner_cache", "name": "c",
                "change": {"actions": ["no-op"], "before": {}, "after": {}, "after_unknown": {}}
            }]
        });
        let plan = Plan::from_json(raw).unwrap();
        let binding = plan.change("gitlabrunner_irsa_binding.a").unwrap();
        assert!(binding.is_replace());
        assert!(binding.is_unknown_after("role_arn"));
        assert!(!binding.is_unknown_after("namespace"));
        assert!(!plan.is_empty());
        assert_eq!(plan.actions("gitlabrunner_cache.c"), [Action::NoOp]);
        assert_eq!(
            plan.summary(),
            "gitlabrunner_irsa_binding.a [Delete, Create]"
        );
    }

    #[test]
    fn a_plan_without_resources_is_empty() {
        let plan = Plan::from_json(serde_json::json!({"format_version": "1.2"})).unwrap();
        assert!(plan.is_empty());
        assert!(plan.resource_changes.is_empty());
    }
}
