//! State written by earlier schema versions, brought to the current one.
//!
//! Version 0 (before issue 15) had no `bucket_owner_tag`: the bucket's owner tag was always
//! `ROLE/BUCKET` of the current `role_name`, which is exactly what such a state's bucket carries.
//! The upgrade records that value, so existing states plan no change and keep their bucket when
//! the role is later renamed.

use serde_json::Value as Json;

use crate::codec::Diagnostics;
use crate::resources::upgrade::attributes_of;

use super::bucket::owner_value;
use super::schema::{SCHEMA_VERSION, attr};

/// Upgrades the JSON `state` written at schema `version`.
pub fn upgrade(version: i64, mut state: Json) -> Result<Json, Diagnostics> {
    if version < 1 {
        let attributes = attributes_of(&mut state, "gitlabrunner_cache", version, SCHEMA_VERSION)?;
        let recorded = attributes
            .get(attr::BUCKET_OWNER_TAG)
            .is_some_and(Json::is_string);
        let names = (
            attributes.get(attr::ROLE_NAME).and_then(Json::as_str),
            attributes.get(attr::BUCKET_NAME).and_then(Json::as_str),
        );
        if !recorded && let (Some(role), Some(bucket)) = names {
            let owner = owner_value(role, bucket);
            attributes.insert(attr::BUCKET_OWNER_TAG.to_string(), Json::String(owner));
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_version_0_state_records_the_owner_its_bucket_was_tagged_with() {
        let old = json!({"id": "runner/cache", "role_name": "runner", "bucket_name": "cache"});
        let upgraded = upgrade(0, old).unwrap();
        assert_eq!(upgraded[attr::BUCKET_OWNER_TAG], "runner/cache");
        let odd = json!({"role_name": "a,b", "bucket_name": "cache"});
        assert_eq!(
            upgrade(0, odd).unwrap()[attr::BUCKET_OWNER_TAG],
            "a_b/cache"
        );
    }

    #[test]
    fn a_current_state_is_left_as_it_is() {
        let current =
            json!({"role_name": "new", "bucket_name": "cache", "bucket_owner_tag": "old/cache"});
        assert_eq!(upgrade(1, current.clone()).unwrap(), current);
        assert_eq!(upgrade(0, current.clone()).unwrap(), current);
        assert!(upgrade(0, json!("nonsense")).is_err());
    }
}
