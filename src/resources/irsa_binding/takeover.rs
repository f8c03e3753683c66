//! Fields of an adopted ServiceAccount that another field manager owns. Server-side apply
//! without force refuses to change them (409 with `FieldManagerConflict` causes naming the
//! manager and the field); with `take_over_conflicting_fields` the binding records each one's
//! manager and value, applies with force, and gives the value back, as that manager, once the
//! binding no longer sets the field (destroy, or a configuration that drops it). Kubernetes:
//! <https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts>.

use k8s_openapi::api::core::v1::ServiceAccount;
use serde_json::{Value as Json, json};

use crate::codec::Value;
use crate::framework::PlannedChange;
use crate::kubernetes::FieldConflict;

use super::error::BindingError;
use super::model::TakenOverField;
use super::remote::Remote;

const ANNOTATIONS: &str = ".metadata.annotations.";
const LABELS: &str = ".metadata.labels.";
const AUTOMOUNT: &str = ".automountServiceAccountToken";

/// The value of `field` (as the API server names it) on `account`, as a string.
pub fn value_of(account: &ServiceAccount, field: &str) -> Option<String> {
    if let Some(key) = field.strip_prefix(ANNOTATIONS) {
        return account.metadata.annotations.as_ref()?.get(key).cloned();
    }
    if let Some(key) = field.strip_prefix(LABELS) {
        return account.metadata.labels.as_ref()?.get(key).cloned();
    }
    if field == AUTOMOUNT {
        return account
            .automount_service_account_token
            .map(|b| b.to_string());
    }
    None
}

/// The merge patch that sets `field` to `value`; `None` for a field the binding never writes.
pub fn restore_patch(field: &str, value: &str) -> Option<Json> {
    if let Some(key) = field.strip_prefix(ANNOTATIONS) {
        return Some(json!({"metadata": {"annotations": {key: value}}}));
    }
    if let Some(key) = field.strip_prefix(LABELS) {
        return Some(json!({"metadata": {"labels": {key: value}}}));
    }
    (field == AUTOMOUNT).then(|| json!({"automountServiceAccountToken": value == "true"}))
}

/// `recorded`, plus a record of each conflict's field as `current` has it (a field taken over
/// before keeps its first record: that is the value to give back).
pub fn record(
    recorded: &[TakenOverField],
    conflicts: &[FieldConflict],
    current: &ServiceAccount,
) -> Vec<TakenOverField> {
    let mut all = recorded.to_vec();
    for conflict in conflicts {
        if all.iter().any(|r| r.field == conflict.field) {
            continue;
        }
        all.push(TakenOverField {
            field: conflict.field.clone(),
            manager: conflict.manager.clone(),
            previous_value: value_of(current, &conflict.field),
        });
    }
    all
}

/// Gives every recorded field that `object` no longer has back to its manager, with its
/// previous value; returns the object as it is then and the records still held (fields the
/// binding still sets). A field someone set again since is not a field the binding holds, and
/// is left alone.
pub async fn give_back(
    remote: &Remote<'_>,
    mut object: ServiceAccount,
    records: Vec<TakenOverField>,
) -> Result<(ServiceAccount, Vec<TakenOverField>), BindingError> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let mut held = Vec::new();
    for record in records {
        if value_of(&object, &record.field).is_some() {
            held.push(record);
            continue;
        }
        let patch = record
            .previous_value
            .as_deref()
            .and_then(|value| restore_patch(&record.field, value));
        if let Some(patch) = patch {
            object = remote
                .kube
                .patch_service_account_as(&namespace, &name, &patch, &record.manager)
                .await?;
        }
    }
    Ok((object, held))
}

/// Plans `taken_over_fields`: the prior records, unless apply may take over or give back a
/// field (an adopted ServiceAccount whose fields change), then unknown.
pub fn plan(change: &mut PlannedChange) {
    if change.is_destroy() || change.planned == change.prior {
        return;
    }
    let prior = match change.prior.get("taken_over_fields") {
        Value::List(records) => records.clone(),
        _ => Vec::new(),
    };
    let adopting = !matches!(
        change.planned.get("service_account_adopted"),
        Value::Bool(false)
    );
    let may_take = !matches!(
        change.planned.get("take_over_conflicting_fields"),
        Value::Bool(false)
    );
    let account_changes = [
        "service_account_uid",
        "labels",
        "annotations",
        "automount_service_account_token",
        "irsa_annotations",
    ]
    .iter()
    .any(|name| change.changes(name) || !change.planned.get(name).is_wholly_known());
    let planned = if adopting && account_changes && (may_take || !prior.is_empty()) {
        Value::Unknown
    } else {
        Value::List(prior)
    };
    change.set("taken_over_fields", planned);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn helm_account() -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                labels: Some(BTreeMap::from([("team".into(), "platform".into())])),
                annotations: Some(BTreeMap::from([(
                    "eks.amazonaws.com/role-arn".into(),
                    "arn:aws:iam::111122223333:role/break-glass".into(),
                )])),
                ..ObjectMeta::default()
            },
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        }
    }

    #[test]
    fn the_fields_a_binding_writes_are_read_and_restored_by_their_server_names() {
        let account = helm_account();
        let role_arn = ".metadata.annotations.eks.amazonaws.com/role-arn";
        assert_eq!(
            value_of(&account, role_arn).as_deref(),
            Some("arn:aws:iam::111122223333:role/break-glass")
        );
        assert_eq!(
            value_of(&account, ".metadata.labels.team").as_deref(),
            Some("platform")
        );
        assert_eq!(value_of(&account, AUTOMOUNT).as_deref(), Some("false"));
        assert_eq!(value_of(&account, ".metadata.labels.other"), None);
        assert_eq!(
            restore_patch(role_arn, "arn:x"),
            Some(json!({"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:x"}}}))
        );
        assert_eq!(
            restore_patch(AUTOMOUNT, "false"),
            Some(json!({"automountServiceAccountToken": false}))
        );
        assert_eq!(restore_patch(".spec.other", "x"), None);
    }

    #[test]
    fn a_field_taken_over_again_keeps_its_first_previous_value() {
        let conflicts = [FieldConflict {
            manager: "helm".into(),
            field: ".metadata.labels.team".into(),
        }];
        let first = record(&[], &conflicts, &helm_account());
        assert_eq!(
            first,
            [TakenOverField {
                field: ".metadata.labels.team".into(),
                manager: "helm".into(),
                previous_value: Some("platform".into()),
            }]
        );
        let mut changed = helm_account();
        changed.metadata.labels = Some(BTreeMap::from([("team".into(), "ci".into())]));
        assert_eq!(record(&first, &conflicts, &changed), first);
    }
}
