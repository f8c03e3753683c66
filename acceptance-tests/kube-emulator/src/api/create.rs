//! POST of a stored kind.

use super::body::{self, FieldValidation};
use super::options;
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::write::{self, Actor};
use crate::authn::UserInfo;
use crate::cluster::Ctx;
use crate::kinds::Kind;

/// Creates an object from the request body.
pub fn create(
    ctx: &mut Ctx,
    kind: &dyn Kind,
    info: &RequestInfo,
    req: &ApiRequest,
    user: &UserInfo,
) -> ApiResult {
    let validation = FieldValidation::from_request(req)?;
    let dry_run = options::dry_run(req)?;
    let value = body::parse(req)?;
    let (mut obj, warnings) = body::decode_object(kind, &value, validation)?;
    options::ensure_namespace(&mut obj, &info.namespace, kind.info())?;
    let actor = Actor {
        user,
        manager: options::manager(req)?,
        dry_run,
    };
    write::record_create(ctx, kind, &mut obj, &actor.manager);
    let created = write::create(ctx, kind, obj, &actor, "")?;
    Ok(ApiResponse::json(201, &created).with_warnings(warnings))
}
