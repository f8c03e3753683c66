//! The registry write path shared by POST, PUT and PATCH: namespace admission, RBAC
//! escalation checks, `BeforeCreate`/`BeforeUpdate`, validation, optimistic concurrency,
//! no-op detection and storage.

use serde_json::Value;

use super::body;
use super::status::StatusError;
use crate::authn::UserInfo;
use crate::cluster::Ctx;
use crate::controllers;
use crate::ids;
use crate::kinds::{Kind, object};
use crate::managed_fields::FieldManager;
use crate::rbac::escalation;
use crate::schema::decode;
use crate::store::Key;

/// Who writes, and how.
pub struct Actor<'a> {
    /// The requesting user.
    pub user: &'a UserInfo,
    /// Field manager name.
    pub manager: String,
    /// `dryRun=All`.
    pub dry_run: bool,
}

impl<'a> Actor<'a> {
    /// A system component writing as `manager`.
    pub fn system(user: &'a UserInfo, manager: &str) -> Actor<'a> {
        Actor {
            user,
            manager: manager.to_string(),
            dry_run: false,
        }
    }
}

/// The field manager of a kind's main resource.
pub fn field_manager(kind: &dyn Kind) -> FieldManager<'static> {
    let info = kind.info();
    FieldManager {
        schema: info.schema,
        api_version: info.api_version(),
        reset_fields: kind.reset_fields(),
        subresource: "",
    }
}

/// The storage key of `obj`.
pub fn key_of(kind: &dyn Kind, obj: &Value) -> Key {
    let info = kind.info();
    let ns = if info.namespaced {
        object::namespace(obj)
    } else {
        ""
    };
    Key::new(info.plural, ns, object::name(obj))
}

/// Records `manager` as the creator of `obj` in its managedFields.
pub fn record_create(ctx: &Ctx, kind: &dyn Kind, obj: &mut Value, manager: &str) {
    let zero = decode::zero(kind.info().schema);
    field_manager(kind).update(&zero, obj, manager, &ctx.env.clock.timestamp());
}

/// Creates `obj` (raw JSON) the way a client with `actor`'s identity would.
pub fn create_as(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    obj: Value,
    actor: &Actor,
) -> Result<Value, StatusError> {
    let (mut obj, _) = body::decode_object(kind, &obj, body::FieldValidation::Ignore)?;
    record_create(ctx, kind, &mut obj, &actor.manager);
    create(ctx, kind, obj, actor, "")
}

/// `NamespaceLifecycle` admission of a create in `namespace`.
pub fn admit_create(
    ctx: &Ctx,
    kind: &dyn Kind,
    namespace: &str,
    name: &str,
) -> Result<(), StatusError> {
    let info = kind.info();
    if !info.namespaced {
        return Ok(());
    }
    let Some(ns) = ctx
        .cluster
        .store
        .get(&Key::new("namespaces", "", namespace))
    else {
        return Err(StatusError::not_found("", "namespaces", namespace));
    };
    if !object::meta_str(ns, "deletionTimestamp").is_empty() {
        return Err(StatusError::namespace_terminating(
            info.group,
            info.plural,
            name,
            namespace,
        ));
    }
    Ok(())
}

fn check_escalation(
    ctx: &Ctx,
    kind: &dyn Kind,
    actor: &Actor,
    obj: &Value,
    request_name: &str,
) -> Result<(), StatusError> {
    let info = kind.info();
    let ns = if info.namespaced {
        object::namespace(obj)
    } else {
        ""
    };
    let store = &ctx.cluster.store;
    match info.plural {
        "roles" | "clusterroles" => {
            escalation::check_role_write(store, actor.user, info.plural, ns, request_name, obj)
        }
        "rolebindings" | "clusterrolebindings" => {
            escalation::check_binding_write(store, actor.user, info.plural, ns, obj)
        }
        _ => Ok(()),
    }
}

/// Creates `obj`, whose managedFields are already recorded.
pub fn create(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    mut obj: Value,
    actor: &Actor,
    request_name: &str,
) -> Result<Value, StatusError> {
    let info = kind.info();
    let name = object::name(&obj).to_string();
    admit_create(ctx, kind, object::namespace(&obj), &name)?;
    check_escalation(ctx, kind, actor, &obj, request_name)?;
    // BeforeCreate
    object::set_meta(&mut obj, "deletionTimestamp", Value::Null);
    object::set_meta(&mut obj, "deletionGracePeriodSeconds", Value::Null);
    kind.prepare_for_create(&mut obj);
    object::set_meta(&mut obj, "uid", Value::String(ids::uuid()));
    object::set_meta(
        &mut obj,
        "creationTimestamp",
        Value::String(ctx.env.clock.timestamp()),
    );
    let generate_name = object::meta_str(&obj, "generateName").to_string();
    if name.is_empty() && !generate_name.is_empty() {
        object::set_meta(
            &mut obj,
            "name",
            Value::String(format!("{generate_name}{}", ids::name_suffix())),
        );
    }
    let name = object::name(&obj).to_string();
    let errors = kind.validate(&obj);
    if !errors.is_empty() {
        return Err(StatusError::invalid(info.group, info.kind, &name, &errors));
    }
    let key = key_of(kind, &obj);
    if ctx.cluster.store.get(&key).is_some() {
        return Err(StatusError::already_exists(info.group, info.plural, &name));
    }
    if !object::meta_str(&obj, "resourceVersion").is_empty() {
        return Err(StatusError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let obj = body::stored_form(kind, &obj);
    if actor.dry_run {
        return Ok(obj);
    }
    let stored = ctx.cluster.store.put(key, obj);
    controllers::after_create(ctx, kind, &stored);
    Ok(stored)
}

fn only_gc_fields_changed(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "ownerReferences",
                "finalizers",
                "managedFields",
                "resourceVersion",
            ] {
                m.shift_remove(k);
            }
        }
        v
    };
    strip(new) == strip(old)
}

/// Stores `new` as the successor of `old` (its managedFields already recorded). Returns the
/// stored object; a no-op update returns `old` unchanged.
pub fn update(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    mut new: Value,
    old: &Value,
    actor: &Actor,
    request_name: &str,
) -> Result<Value, StatusError> {
    let info = kind.info();
    let name = object::name(old).to_string();
    if !(matches!(info.plural, "rolebindings" | "clusterrolebindings")
        && only_gc_fields_changed(&new, old))
    {
        check_escalation(ctx, kind, actor, &new, request_name)?;
    }
    let new_rv = object::meta_str(&new, "resourceVersion").to_string();
    let old_rv = object::meta_str(old, "resourceVersion").to_string();
    if new_rv.is_empty() {
        object::set_meta(&mut new, "resourceVersion", Value::String(old_rv.clone()));
    } else if new_rv != old_rv {
        return Err(StatusError::stale(info.group, info.plural, &name));
    }
    // BeforeUpdate
    let old_meta = object::meta(old).cloned().unwrap_or_default();
    object::set_meta(
        &mut new,
        "generation",
        old_meta.get("generation").cloned().unwrap_or(Value::Null),
    );
    kind.prepare_for_update(&mut new, old);
    if object::meta_str(&new, "uid").is_empty() {
        object::set_meta(
            &mut new,
            "uid",
            old_meta.get("uid").cloned().unwrap_or(Value::Null),
        );
    }
    for key in [
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        object::set_meta(
            &mut new,
            key,
            old_meta.get(key).cloned().unwrap_or(Value::Null),
        );
    }
    let errors = kind.validate_update(&new, old);
    if !errors.is_empty() {
        return Err(StatusError::invalid(info.group, info.kind, &name, &errors));
    }
    let new = body::stored_form(kind, &new);
    if &new == old {
        return Ok(old.clone());
    }
    if actor.dry_run {
        return Ok(new);
    }
    let finalized = !object::meta_str(&new, "deletionTimestamp").is_empty()
        && object::meta(&new)
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        // A namespace also waits for its spec finalizers (`ShouldDeleteNamespaceDuringUpdate`).
        && (info.plural != "namespaces" || object::strings_at(&new, "/spec/finalizers").is_empty());
    if finalized {
        // The last finalizer is gone: the object is deleted (`ShouldDeleteDuringUpdate`).
        // The answer is the object as updated, at the resourceVersion it had
        // (`deleteWithoutFinalizers` hands the update's object to the delete).
        ctx.cluster.store.delete(&key_of(kind, old));
        controllers::after_delete(ctx, kind, &new);
        return Ok(new);
    }
    let stored = ctx.cluster.store.put(key_of(kind, old), new);
    controllers::after_update(ctx, kind, &stored);
    Ok(stored)
}
