//! Ownership bookkeeping for updates and applies (`merge.Updater`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::path::PathElement;
use super::set::Set;
use super::walk::{self, Comparison};
use crate::schema::Type;

/// The fields one manager owns.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedSet {
    /// Owned fields.
    pub set: Set,
    /// API version the fields were recorded in.
    pub api_version: String,
    /// True for appliers (server-side apply), false for updaters.
    pub applied: bool,
}

/// Managers by identifier (the JSON manager identifier of the API server).
pub type Managers = BTreeMap<String, VersionedSet>;

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Identifier of the owning manager.
    pub manager: String,
    /// The contested field.
    pub path: Vec<PathElement>,
}

/// Strips conflicting and removed fields from every manager but `workflow`; with
/// `force == false` conflicts are returned instead.
fn update(
    ty: &Type,
    old: &Value,
    new: &Value,
    managers: &mut Managers,
    workflow: &str,
    force: bool,
) -> Result<Comparison, Vec<Conflict>> {
    let compare = walk::compare(ty, old, new);
    let touched = compare.modified.union(&compare.added);
    let mut conflicts = Vec::new();
    let mut conflict_sets = BTreeMap::new();
    for (manager, owned) in managers.iter() {
        if manager == workflow {
            continue;
        }
        let contested = owned.set.intersection(&touched);
        if !contested.is_empty() {
            for path in contested.paths() {
                conflicts.push(Conflict {
                    manager: manager.clone(),
                    path,
                });
            }
            conflict_sets.insert(manager.clone(), contested);
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(conflicts);
    }
    for (manager, owned) in managers.iter_mut() {
        if manager == workflow {
            continue;
        }
        if let Some(contested) = conflict_sets.get(manager) {
            owned.set = owned.set.difference(contested);
        }
        owned.set = owned.set.difference(&compare.removed);
    }
    managers.retain(|_, owned| !owned.set.is_empty());
    Ok(compare)
}

/// Records an update (create, update, non-apply patch) by `manager` (`Updater.Update`).
pub fn record_update(
    ty: &Type,
    live: &Value,
    new: &Value,
    api_version: &str,
    managers: &mut Managers,
    manager: &str,
) {
    let compare = update(ty, live, new, managers, manager, true).expect("forced update");
    let previous = managers
        .get(manager)
        .map(|m| m.set.clone())
        .unwrap_or_default();
    let set = previous
        .difference(&compare.removed)
        .union(&compare.modified)
        .union(&compare.added);
    if set.is_empty() {
        managers.remove(manager);
    } else {
        managers.insert(
            manager.to_string(),
            VersionedSet {
                set,
                api_version: api_version.to_string(),
                applied: false,
            },
        );
    }
}

/// Applies `config` as `manager` (`Updater.Apply`): returns the new object, or `None` when
/// nothing but ownership changed.
pub fn apply(
    ty: &Type,
    live: &Value,
    config: &Value,
    api_version: &str,
    managers: &mut Managers,
    manager: &str,
    force: bool,
) -> Result<Option<Value>, Vec<Conflict>> {
    let merged = walk::merge(ty, live, config);
    let last = managers.get(manager).cloned();
    managers.insert(
        manager.to_string(),
        VersionedSet {
            set: walk::to_field_set(ty, config),
            api_version: api_version.to_string(),
            applied: true,
        },
    );
    let pruned = prune(ty, merged, managers, last.as_ref());
    update(ty, live, &pruned, managers, manager, force)?;
    if &pruned == live {
        Ok(None)
    } else {
        Ok(Some(pruned))
    }
}

/// Removes what `manager` applied last time, dropped now, and nobody else owns.
fn prune(ty: &Type, merged: Value, managers: &Managers, last: Option<&VersionedSet>) -> Value {
    let Some(last) = last.filter(|l| !l.set.is_empty()) else {
        return merged;
    };
    let pruned = walk::remove_items(ty, &merged, &last.set);
    // Add back whatever any manager (including the applier's new config) owns.
    let owned = managers
        .values()
        .fold(Set::new(), |acc, m| acc.union(&m.set));
    let merged_set = walk::to_field_set(ty, &merged);
    let pruned_set = walk::to_field_set(ty, &pruned);
    let pruned = walk::remove_items(
        ty,
        &merged,
        &merged_set.difference(&pruned_set.union(&owned)),
    );
    // Only ever remove what the applier owned before.
    let pruned_set = walk::to_field_set(ty, &pruned);
    walk::remove_items(
        ty,
        &merged,
        &merged_set.difference(&pruned_set).intersection(&last.set),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::definitions::SERVICE_ACCOUNT;
    use serde_json::json;

    fn annotations(v: &Value) -> Value {
        v["metadata"]["annotations"].clone()
    }

    #[test]
    fn second_applier_conflicts_unless_forced() {
        let mut managers = Managers::new();
        let live = json!({"metadata":{"name":"sa"}});
        let first = json!({"metadata":{"annotations":{"arn":"a"}}});
        let obj = apply(
            &SERVICE_ACCOUNT,
            &live,
            &first,
            "v1",
            &mut managers,
            "tf",
            false,
        )
        .expect("apply")
        .expect("changed");
        let second = json!({"metadata":{"annotations":{"arn":"b"}}});
        let err = apply(
            &SERVICE_ACCOUNT,
            &obj,
            &second,
            "v1",
            &mut managers.clone(),
            "pb",
            false,
        )
        .expect_err("conflict");
        assert_eq!(err[0].manager, "tf");
        let forced = apply(
            &SERVICE_ACCOUNT,
            &obj,
            &second,
            "v1",
            &mut managers,
            "pb",
            true,
        )
        .expect("forced")
        .expect("changed");
        assert_eq!(annotations(&forced), json!({"arn":"b"}));
        assert!(!managers.contains_key("tf"));
    }

    #[test]
    fn dropped_field_survives_while_another_applier_owns_it() {
        let mut managers = Managers::new();
        let live = json!({"metadata":{"name":"sa"}});
        let cfg = json!({"metadata":{"annotations":{"arn":"a","owner":"p"}}});
        let obj = apply(
            &SERVICE_ACCOUNT,
            &live,
            &cfg,
            "v1",
            &mut managers,
            "tf",
            false,
        )
        .expect("apply")
        .expect("changed");
        let shared = json!({"metadata":{"annotations":{"arn":"a"}}});
        let same = apply(
            &SERVICE_ACCOUNT,
            &obj,
            &shared,
            "v1",
            &mut managers,
            "pb",
            false,
        )
        .expect("no conflict");
        assert!(same.is_none());
        let without = json!({"metadata":{"labels":{"x":"y"}}});
        let obj = apply(
            &SERVICE_ACCOUNT,
            &obj,
            &without,
            "v1",
            &mut managers,
            "tf",
            false,
        )
        .expect("apply")
        .expect("changed");
        assert_eq!(annotations(&obj), json!({"arn":"a"}));
    }

    #[test]
    fn update_takes_ownership_from_applier() {
        let mut managers = Managers::new();
        let live = json!({"metadata":{"name":"sa"}});
        let cfg = json!({"metadata":{"annotations":{"arn":"a"}}});
        let obj = apply(
            &SERVICE_ACCOUNT,
            &live,
            &cfg,
            "v1",
            &mut managers,
            "tf",
            false,
        )
        .expect("apply")
        .expect("changed");
        let edited = json!({"metadata":{"name":"sa","annotations":{"arn":"b"}}});
        record_update(&SERVICE_ACCOUNT, &obj, &edited, "v1", &mut managers, "edit");
        assert!(!managers.contains_key("tf"));
        assert_eq!(
            managers["edit"].set.to_fields_v1(),
            json!({"f:metadata":{"f:annotations":{"f:arn":{}}}})
        );
    }
}
