//! DELETE of one object (preconditions, finalizers, namespace termination) and of a
//! collection.

use serde_json::{Value, json};

use super::body::{self, FieldValidation};
use super::options;
use super::read::Filters;
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::{self, StatusError};
use crate::cluster::Ctx;
use crate::controllers;
use crate::kinds::{Kind, object};
use crate::schema::definitions::DELETE_OPTIONS;
use crate::store::Key;

const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Parsed `DeleteOptions` (body and query).
struct DeleteOptions {
    uid: Option<String>,
    resource_version: Option<String>,
    dry_run: bool,
}

fn delete_options(req: &ApiRequest) -> Result<DeleteOptions, StatusError> {
    let mut dry_run = options::dry_run(req)?;
    let mut uid = None;
    let mut resource_version = None;
    if !req.body.is_empty() {
        let value = body::parse(req)?;
        let (opts, _) = body::decode_typed(
            &DELETE_OPTIONS,
            "DeleteOptions",
            "v1",
            &value,
            FieldValidation::Ignore,
        )?;
        uid = opts
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        resource_version = opts
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(values) = opts.get("dryRun").and_then(Value::as_array) {
            for v in values {
                if v.as_str() != Some("All") {
                    return Err(StatusError::bad_request(format!(
                        "Invalid dryRun value: {v}; supported values: [All]"
                    )));
                }
                dry_run = true;
            }
        }
    }
    Ok(DeleteOptions {
        uid,
        resource_version,
        dry_run,
    })
}

/// Deletes one object.
pub fn delete(ctx: &mut Ctx, kind: &dyn Kind, info: &RequestInfo, req: &ApiRequest) -> ApiResult {
    let i = kind.info();
    let opts = delete_options(req)?;
    let ns = if i.namespaced {
        info.namespace.as_str()
    } else {
        ""
    };
    let key = Key::new(i.plural, ns, &info.name);
    let Some(current) = ctx.cluster.store.get(&key).cloned() else {
        return Err(StatusError::not_found(i.group, i.plural, &info.name));
    };
    let uid = object::meta_str(&current, "uid").to_string();
    if let Some(want) = &opts.uid
        && *want != uid
    {
        return Err(StatusError::conflict(
            i.group,
            i.kind,
            &info.name,
            &format!(
                "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
            ),
        ));
    }
    let rv = object::meta_str(&current, "resourceVersion").to_string();
    if let Some(want) = &opts.resource_version
        && *want != rv
    {
        return Err(StatusError::conflict(
            i.group,
            i.kind,
            &info.name,
            &format!(
                "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
            ),
        ));
    }
    if i.plural == "namespaces" && IMMORTAL_NAMESPACES.contains(&info.name.as_str()) {
        return Err(StatusError::forbidden(
            "",
            "namespaces",
            &info.name,
            "this namespace may not be deleted",
        ));
    }
    let finalizers = object::meta(&current)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if i.plural == "namespaces" || finalizers {
        return delete_gracefully(ctx, kind, key, current, opts.dry_run);
    }
    let deleted = if opts.dry_run {
        current
    } else {
        let deleted = ctx.cluster.store.delete(&key).expect("object present");
        controllers::after_delete(ctx, kind, &deleted);
        deleted
    };
    if i.return_deleted_object {
        Ok(ApiResponse::json(200, &deleted))
    } else {
        Ok(ApiResponse::json(
            200,
            &status::delete_success(i.group, i.plural, &info.name, &uid),
        ))
    }
}

/// Marks an object for deletion; namespaces are then emptied and removed at once.
fn delete_gracefully(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    key: Key,
    current: Value,
    dry_run: bool,
) -> ApiResult {
    let mut marked = current.clone();
    if object::meta_str(&marked, "deletionTimestamp").is_empty() {
        object::set_meta(
            &mut marked,
            "deletionTimestamp",
            json!(ctx.env.clock.timestamp()),
        );
        if kind.info().plural != "namespaces" {
            object::set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
        }
    }
    if kind.info().plural == "namespaces" {
        marked["status"] = json!({"phase": "Terminating"});
    }
    let marked = body::stored_form(kind, &marked);
    if dry_run {
        return Ok(ApiResponse::json(200, &marked));
    }
    let stored = if marked == current {
        current
    } else {
        ctx.cluster.store.put(key.clone(), marked)
    };
    if kind.info().plural == "namespaces" {
        controllers::finalize_namespace(ctx, &key.name);
    }
    Ok(ApiResponse::json(200, &stored))
}

/// Deletes every object of a collection that matches the selectors.
pub fn delete_collection(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    info: &RequestInfo,
    req: &ApiRequest,
) -> ApiResult {
    let i = kind.info();
    let filters = Filters::from_request(kind, req)?;
    let opts = delete_options(req)?;
    let namespace = (i.namespaced && !info.namespace.is_empty()).then_some(info.namespace.as_str());
    let keys: Vec<Key> = ctx
        .cluster
        .store
        .list(i.plural, namespace)
        .filter(|(_, o)| filters.matches(kind, o))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = Vec::new();
    for key in keys {
        if i.plural == "namespaces" && IMMORTAL_NAMESPACES.contains(&key.name.as_str()) {
            continue;
        }
        let item = if opts.dry_run {
            ctx.cluster.store.get(&key).cloned()
        } else {
            let deleted = ctx.cluster.store.delete(&key);
            if let Some(d) = &deleted {
                controllers::after_delete(ctx, kind, d);
            }
            deleted
        };
        items.extend(item.map(|o| object::without_type_meta(&o)));
    }
    Ok(ApiResponse::json(
        200,
        &json!({
            "kind": format!("{}List", i.kind),
            "apiVersion": i.api_version(),
            "metadata": {"resourceVersion": ctx.cluster.store.revision().to_string()},
            "items": items,
        }),
    ))
}
