//! What the state upgrades of all resources share.

use serde_json::{Map, Value as Json};

use crate::codec::{Diagnostic, Diagnostics};

/// The attributes of a `resource` state written at schema `version`, to be upgraded to
/// `current`; an error diagnostic when the state is not an object of attributes.
pub fn attributes_of<'a>(
    state: &'a mut Json,
    resource: &str,
    version: i64,
    current: i64,
) -> Result<&'a mut Map<String, Json>, Diagnostics> {
    state.as_object_mut().ok_or_else(|| {
        Diagnostic::error(
            format!("Unreadable {resource} state"),
            format!(
                "The state at schema version {version} is not an object of attributes, so it \
                 cannot be upgraded to version {current}."
            ),
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_that_is_no_object_is_an_error_naming_the_resource_and_versions() {
        let mut state = Json::Array(Vec::new());
        let diagnostics = attributes_of(&mut state, "gitlabrunner_cache", 0, 1).unwrap_err();
        assert_eq!(diagnostics.0.len(), 1);
        assert_eq!(
            diagnostics.0[0].summary,
            "Unreadable gitlabrunner_cache state"
        );
        assert_eq!(
            diagnostics.0[0].detail,
            "The state at schema version 0 is not an object of attributes, so it cannot be \
             upgraded to version 1."
        );
        let mut object = serde_json::json!({"irsa": true});
        attributes_of(&mut object, "gitlabrunner_irsa_binding", 0, 1)
            .unwrap()
            .insert("pod_identity".into(), Json::Array(Vec::new()));
        assert_eq!(object["pod_identity"], Json::Array(Vec::new()));
    }
}
