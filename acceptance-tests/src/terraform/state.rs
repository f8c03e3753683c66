//! State as `terraform show -json` describes it.

use serde::Deserialize;
use serde_json::Value;

/// One resource instance in state.
#[derive(Debug, Clone, Deserialize)]
pub struct StateResource {
    /// `gitlabrunner_irsa_binding.runner`, `module.m.gitlabrunner_cache.c[0]`.
    pub address: String,
    /// `managed` or `data`.
    pub mode: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The resource name.
    pub name: String,
    /// The attribute values.
    #[serde(default)]
    pub values: Value,
    /// Which values are sensitive (`true` leaves).
    #[serde(default)]
    pub sensitive_values: Value,
}

impl StateResource {
    /// The top-level attribute `name`.
    pub fn attr(&self, name: &str) -> &Value {
        self.values.get(name).unwrap_or(&Value::Null)
    }

    /// The top-level string attribute `name`, if it is a string.
    pub fn str_attr(&self, name: &str) -> Option<&str> {
        self.attr(name).as_str()
    }
}

/// The parsed state.
#[derive(Debug, Clone)]
pub struct State {
    /// Every resource instance, modules flattened.
    pub resources: Vec<StateResource>,
    /// The whole `show -json` document.
    pub raw: Value,
}

impl State {
    /// Parses `terraform show -json`.
    pub fn from_json(raw: Value) -> Result<Self, serde_json::Error> {
        let mut resources = Vec::new();
        if let Some(root) = raw.pointer("/values/root_module") {
            collect(root, &mut resources)?;
        }
        Ok(Self { resources, raw })
    }

    /// Whether state holds no resources at all.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The instance at `address`.
    pub fn resource(&self, address: &str) -> Option<&StateResource> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Every address in state, sorted.
    pub fn addresses(&self) -> Vec<String> {
        let mut addresses: Vec<String> = self.resources.iter().map(|r| r.address.clone()).collect();
        addresses.sort();
        addresses
    }
}

fn collect(module: &Value, into: &mut Vec<StateResource>) -> Result<(), serde_json::Error> {
    if let Some(resources) = module.get("resources") {
        let parsed: Vec<StateResource> = serde_json::from_value(resources.clone())?;
        into.extend(parsed);
    }
    if let Some(children) = module.get("child_modules").and_then(Value::as_array) {
        for child in children {
            collect(child, into)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_of_child_modules_are_included() {
        let raw = serde_json::json!({
            "format_version": "1.0",
            "values": {"root_module": {
                "resources": [{"address": "gitlabrunner_cache.c", "mode": "managed",
                               "type": "gitlabrunner_cache", "name": "c",
                               "values": {"bucket": "b"}, "sensitive_values": {}}],
                "child_modules": [{"address": "module.m", "resources": [
                    {"address": "module.m.gitlabrunner_cache.d", "mode": "managed",
                     "type": "gitlabrunner_cache", "name": "d", "values": {}}]}]
            }}
        });
        let state = State::from_json(raw).unwrap();
        assert_eq!(
            state.addresses(),
            ["gitlabrunner_cache.c", "module.m.gitlabrunner_cache.d"]
        );
        assert_eq!(
            state
                .resource("gitlabrunner_cache.c")
                .unwrap()
                .str_attr("bucket"),
            Some("b")
        );
    }

    #[test]
    fn no_state_is_empty() {
        let state = State::from_json(serde_json::json!({"format_version": "1.0"})).unwrap();
        assert!(state.is_empty());
    }
}
