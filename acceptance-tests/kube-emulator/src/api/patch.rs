//! PATCH of a stored kind: JSON patch, merge patch, strategic merge patch and server-side
//! apply.

use serde_json::Value;

use super::body::{self, FieldValidation};
use super::options;
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::StatusError;
use super::write::{self, Actor};
use crate::authn::UserInfo;
use crate::cluster::Ctx;
use crate::kinds::{Kind, object};
use crate::patch::{json, merge, strategic};
use crate::schema::decode;
use crate::store::Key;
use crate::validation::FieldError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_type(req: &ApiRequest) -> Result<PatchType, StatusError> {
    match req.media_type() {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" => Ok(PatchType::Apply),
        _ => Err(StatusError::unsupported_media_type()),
    }
}

fn patch_options_invalid(errors: &[FieldError]) -> StatusError {
    StatusError::invalid("meta.k8s.io", "PatchOptions", "", errors)
}

/// Applies a PATCH request.
pub fn patch(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    info: &RequestInfo,
    req: &ApiRequest,
    user: &UserInfo,
) -> ApiResult {
    let i = kind.info();
    let ptype = patch_type(req)?;
    let validation = FieldValidation::from_request(req)?;
    let dry_run = options::dry_run(req)?;
    let force = req.param("force");
    if ptype == PatchType::Apply {
        if req.param("fieldManager").unwrap_or("").is_empty() {
            return Err(patch_options_invalid(&[FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )]));
        }
    } else if force.is_some() {
        return Err(patch_options_invalid(&[FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        )]));
    }
    let actor = Actor {
        user,
        manager: options::manager(req)?,
        dry_run,
    };
    let ns = if i.namespaced {
        info.namespace.as_str()
    } else {
        ""
    };
    let existing = ctx
        .cluster
        .store
        .get(&Key::new(i.plural, ns, &info.name))
        .cloned();
    if ptype == PatchType::Apply {
        return apply(
            ctx,
            kind,
            info,
            req,
            &actor,
            existing,
            matches!(force, Some("true" | "1")),
        );
    }
    let Some(old) = existing else {
        return Err(StatusError::not_found(i.group, i.plural, &info.name));
    };
    let patch: Value = serde_json::from_slice(&req.body)
        .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
    let patched = match ptype {
        PatchType::Json => json::apply(&old, &patch).map_err(|e| match e {
            json::JsonPatchError::Malformed(m) => StatusError::bad_request(m),
            json::JsonPatchError::Failed(_) => StatusError::unprocessable(),
        })?,
        PatchType::Merge => merge::apply(&old, &patch),
        _ => strategic::apply(i.schema, &old, &patch).map_err(|e| StatusError::bad_request(e.0))?,
    };
    let (mut new, warnings) = body::decode_object(kind, &patched, validation)?;
    options::check_name(&new, &info.name, ns, i)?;
    write::field_manager(kind).update(&old, &mut new, &actor.manager, &ctx.env.clock.timestamp());
    let stored = write::update(ctx, kind, new, &old, &actor, &info.name)?;
    Ok(ApiResponse::json(200, &stored).with_warnings(warnings))
}

fn apply(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    info: &RequestInfo,
    req: &ApiRequest,
    actor: &Actor,
    existing: Option<Value>,
    force: bool,
) -> ApiResult {
    let i = kind.info();
    let ns = if i.namespaced {
        info.namespace.as_str()
    } else {
        ""
    };
    let config = body::parse_yaml(&req.body)?;
    if !config.is_object() {
        return Err(StatusError::bad_request("apply patch must be an object"));
    }
    let config_kind = object::str_at(&config, "/kind");
    if !config_kind.is_empty() && config_kind != i.kind {
        return Err(StatusError::bad_request(format!(
            "the kind in the data ({config_kind}) does not match the expected kind ({})",
            i.kind
        )));
    }
    let live = existing.clone().unwrap_or_else(|| decode::zero(i.schema));
    let gvk = format!(
        "{}, Kind={}",
        if i.group.is_empty() {
            format!("/{}", i.version)
        } else {
            i.api_version()
        },
        i.kind
    );
    let merged = write::field_manager(kind).apply(
        &live,
        &config,
        &actor.manager,
        force,
        &ctx.env.clock.timestamp(),
        &gvk,
    )?;
    let mut obj = merged;
    kind.default(&mut obj);
    let mut obj = body::canonical(kind, &obj);
    options::check_name(&obj, &info.name, ns, i)?;
    if i.namespaced && object::namespace(&obj).is_empty() {
        object::set_meta(&mut obj, "namespace", Value::String(ns.to_string()));
    }
    match existing {
        None => {
            let created = write::create(ctx, kind, obj, actor, &info.name)?;
            Ok(ApiResponse::json(201, &created))
        }
        Some(old) => {
            let stored = write::update(ctx, kind, obj, &old, actor, &info.name)?;
            Ok(ApiResponse::json(200, &stored))
        }
    }
}
