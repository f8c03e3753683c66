//! States written by earlier schema versions, brought to the current one.
//!
//! Version 0 (0.1.0, before issue 14) had neither `irsa` nor the `pod_identity` block: every
//! binding was an IRSA binding. The upgrade records exactly that (`irsa = true`, no block), so
//! an existing state plans no change and its trust policy stays byte for byte the same.

use serde_json::Value as Json;

use crate::codec::Diagnostics;
use crate::resources::upgrade::attributes_of;

use super::schema::SCHEMA_VERSION;

/// Upgrades the JSON `state` written at schema `version`.
pub fn upgrade(version: i64, mut state: Json) -> Result<Json, Diagnostics> {
    if version < 1 {
        let attributes = attributes_of(
            &mut state,
            "gitlabrunner_irsa_binding",
            version,
            SCHEMA_VERSION,
        )?;
        if !attributes.get("irsa").is_some_and(Json::is_boolean) {
            attributes.insert("irsa".to_string(), Json::Bool(true));
        }
        if !attributes.get("pod_identity").is_some_and(Json::is_array) {
            attributes.insert("pod_identity".to_string(), Json::Array(Vec::new()));
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::super::model::Binding;
    use super::super::schema::schema;
    use super::super::testing::{defaults, empty_config, grant, plan_is_empty, rule};
    use super::*;
    use crate::codec::Value;

    /// A binding's attributes as 0.1.0 wrote them to `terraform.tfstate` (schema version 0).
    const STATE_0_1_0: &str = include_str!("testdata/state_v0_0.1.0.json");

    /// The configuration that state was applied from.
    fn config() -> Value {
        let mut config = empty_config();
        config.set_attr("namespace", "ci-runner".into());
        config.set_attr("service_account_name", "gitlab-runner".into());
        config.set_attr("sts_regional_endpoints", true.into());
        config.set_attr(
            "grant",
            Value::List(vec![grant(
                "ci-jobs",
                None,
                vec![rule(&[""], &["configmaps"], &["get"])],
            )]),
        );
        config
    }

    #[test]
    fn a_0_1_0_state_becomes_irsa_only_and_plans_no_change() {
        let old: Json = serde_json::from_str(STATE_0_1_0).unwrap();
        assert!(old.get("irsa").is_none() && old.get("pod_identity").is_none());
        let upgraded = upgrade(0, old.clone()).unwrap();
        assert_eq!(upgraded["irsa"], Json::Bool(true));
        assert_eq!(upgraded["pod_identity"], Json::Array(Vec::new()));
        let ty = schema().block.value_type();
        let state = crate::codec::json::decode(&upgraded, &ty).unwrap();
        let binding = Binding::from_value(&state);
        assert!(binding.irsa && binding.pod_identity.is_none());
        // The trust policy is kept byte for byte, and nothing else changes either.
        assert_eq!(
            state.get("trust_policy").as_str(),
            old["trust_policy"].as_str()
        );
        let _ = defaults();
        plan_is_empty(&state, &config()).unwrap();
        // Without the upgrade the state would not even decode into the new schema.
        assert!(
            crate::codec::json::decode(&old, &ty).is_err() || {
                let raw = crate::codec::json::decode(&old, &ty).unwrap();
                plan_is_empty(&raw, &config()).is_err()
            }
        );
    }

    #[test]
    fn a_current_state_is_left_as_it_is() {
        let current = serde_json::json!({"irsa": false, "pod_identity": [{"cluster_name": "c"}]});
        assert_eq!(upgrade(1, current.clone()).unwrap(), current);
        assert_eq!(upgrade(0, current.clone()).unwrap(), current);
        assert!(upgrade(0, serde_json::json!("nonsense")).is_err());
    }
}
