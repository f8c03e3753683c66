//! PUT of a stored kind (conditional and unconditional updates, create-on-update).

use super::body::{self, FieldValidation};
use super::options;
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::StatusError;
use super::write::{self, Actor};
use crate::authn::UserInfo;
use crate::cluster::Ctx;
use crate::kinds::{Kind, object};
use crate::store::Key;

/// Replaces an object with the request body.
pub fn update(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    info: &RequestInfo,
    req: &ApiRequest,
    user: &UserInfo,
) -> ApiResult {
    let i = kind.info();
    let validation = FieldValidation::from_request(req)?;
    let dry_run = options::dry_run(req)?;
    let value = body::parse(req)?;
    let (mut new, warnings) = body::decode_object(kind, &value, validation)?;
    let ns = if i.namespaced {
        info.namespace.as_str()
    } else {
        ""
    };
    options::check_name(&new, &info.name, ns, i)?;
    options::ensure_namespace(&mut new, ns, i)?;
    let actor = Actor {
        user,
        manager: options::manager(req)?,
        dry_run,
    };
    let key = Key::new(i.plural, ns, &info.name);
    let Some(old) = ctx.cluster.store.get(&key).cloned() else {
        if !i.create_on_update {
            return Err(StatusError::not_found(i.group, i.plural, &info.name));
        }
        // Create on update ignores the resourceVersion the client read before the object
        // went (registry `Store.Update`: a missing object has version 0).
        object::set_meta(&mut new, "resourceVersion", serde_json::Value::Null);
        write::record_create(ctx, kind, &mut new, &actor.manager);
        let created = write::create(ctx, kind, new, &actor, &info.name)?;
        return Ok(ApiResponse::json(201, &created).with_warnings(warnings));
    };
    let uid = object::meta_str(&new, "uid");
    let old_uid = object::meta_str(&old, "uid");
    if !uid.is_empty() && uid != old_uid {
        return Err(StatusError::conflict(
            i.group,
            i.plural,
            &info.name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}"
            ),
        ));
    }
    write::field_manager(kind).update(&old, &mut new, &actor.manager, &ctx.env.clock.timestamp());
    let stored = write::update(ctx, kind, new, &old, &actor, &info.name)?;
    Ok(ApiResponse::json(200, &stored).with_warnings(warnings))
}
