//! The Kubernetes REST API: authentication outcome -> authorization -> routing to the
//! discovery, object, subresource and review handlers.

pub mod body;
pub mod create;
pub mod delete;
pub mod discovery;
pub mod options;
pub mod patch;
pub mod read;
pub mod request;
pub mod request_info;
pub mod reviews;
pub mod status;
pub mod token_request;
pub mod update;
pub mod watch;
pub mod write;

use serde_json::json;

use crate::authn::{Authn, UserInfo};
use crate::authn::{impersonation, service_account};
use crate::cluster::Ctx;
use crate::kinds;
use crate::rbac::authorizer::{self, Attributes};
use request::{ApiRequest, ApiResponse, ApiResult};
use request_info::RequestInfo;
use status::StatusError;

/// Handles one request whose credentials were already checked.
pub fn handle(ctx: &mut Ctx, req: &ApiRequest, authn: &Authn) -> ApiResponse {
    let user = match authn {
        Authn::User(u) => u.clone(),
        Authn::Anonymous => UserInfo::anonymous(),
        Authn::Failed => return ApiResponse::error(&StatusError::unauthorized()),
    };
    let user = match impersonation::impersonate(&ctx.cluster.store, &user, req) {
        Ok(None) => user,
        Ok(Some(impersonated)) => impersonated,
        Err(refused) => return refused,
    };
    let info = request_info::parse(req);
    let attrs = Attributes {
        user: user.clone(),
        verb: info.verb.clone(),
        resource_request: info.resource_request,
        namespace: info.namespace.clone(),
        api_group: info.api_group.clone(),
        api_version: info.api_version.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone(),
        name: info.name.clone(),
        path: info.path.clone(),
    };
    let decision = authorizer::authorize(&ctx.cluster.store, &attrs);
    if !decision.allowed {
        return ApiResponse::error(&authorizer::forbidden(&attrs, &decision.reason));
    }
    let result = if info.resource_request {
        resource(ctx, req, &info, &user)
    } else {
        non_resource(ctx, req, &info)
    };
    result.unwrap_or_else(|e| ApiResponse::error(&e))
}

fn non_resource(ctx: &Ctx, req: &ApiRequest, info: &RequestInfo) -> ApiResult {
    if req.method != "GET" && req.method != "HEAD" {
        return Ok(ApiResponse::page_not_found());
    }
    let path = info.path.trim_end_matches('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let resp = match parts.as_slice() {
        ["version"] => ApiResponse::json(200, &discovery::version()),
        ["healthz" | "livez" | "readyz", ..] => ApiResponse::text(200, "ok"),
        ["api"] => ApiResponse::json(200, &discovery::core_versions(&ctx.env.server_address)),
        ["api", version] => match discovery::resource_list("", version) {
            Some(v) => ApiResponse::json(200, &v),
            None => ApiResponse::page_not_found(),
        },
        ["apis"] => ApiResponse::json(200, &discovery::group_list()),
        ["apis", group] => match discovery::group(group) {
            Some(v) => ApiResponse::json(200, &v),
            None => ApiResponse::page_not_found(),
        },
        ["apis", group, version] => match discovery::resource_list(group, version) {
            Some(v) => ApiResponse::json(200, &v),
            None => ApiResponse::page_not_found(),
        },
        [".well-known", "openid-configuration"] => ApiResponse::json(
            200,
            &service_account::openid_configuration(&ctx.env.issuer, &ctx.env.jwks_uri),
        ),
        ["openid", "v1", "jwks"] if !accepts(req, JWK_SET) => {
            ApiResponse::error(&StatusError::not_acceptable(JWK_SET))
        }
        ["openid", "v1", "jwks"] => {
            let mut resp = ApiResponse::json(200, &ctx.signer.get().jwks());
            resp.content_type = JWK_SET.into();
            resp
        }
        _ => ApiResponse::page_not_found(),
    };
    Ok(resp)
}

/// The only media type `/openid/v1/jwks` is served as.
const JWK_SET: &str = "application/jwk-set+json";

/// Whether the request's `Accept` header admits `media_type` (no header admits anything).
fn accepts(req: &ApiRequest, media_type: &str) -> bool {
    let Some(accept) = req.header("accept") else {
        return true;
    };
    let (kind, _) = media_type.split_once('/').unwrap_or((media_type, ""));
    accept.split(',').any(|range| {
        let range = range.split(';').next().unwrap_or("").trim();
        range == media_type || range == "*/*" || range == format!("{kind}/*")
    })
}

fn served_group_version(group: &str, version: &str) -> bool {
    version == "v1" && (group.is_empty() || discovery::GROUPS.contains(&group))
}

fn resource(ctx: &mut Ctx, req: &ApiRequest, info: &RequestInfo, user: &UserInfo) -> ApiResult {
    if !served_group_version(&info.api_group, &info.api_version) {
        return Ok(ApiResponse::page_not_found());
    }
    if let Some(kind) = kinds::find(&info.api_group, &info.api_version, &info.resource) {
        let namespaced = kind.info().namespaced;
        if !namespaced && !info.namespace.is_empty() && info.resource != "namespaces" {
            return Err(StatusError::not_found_resource());
        }
        if !info.subresource.is_empty() {
            return match (
                info.resource.as_str(),
                info.subresource.as_str(),
                info.verb.as_str(),
            ) {
                ("serviceaccounts", "token", "create") => token_request::create(ctx, info, req),
                ("serviceaccounts", "token", _) => Err(StatusError::method_not_allowed()),
                _ => Err(StatusError::not_found_resource()),
            };
        }
        let collection_in_namespace = !namespaced || !info.namespace.is_empty();
        return match info.verb.as_str() {
            "get" => read::get(ctx, kind, info),
            "list" => read::list(ctx, kind, info, req),
            "watch" => watch::watch(ctx, kind, info, req),
            "create" if info.name.is_empty() && collection_in_namespace => {
                create::create(ctx, kind, info, req, user)
            }
            "update" => update::update(ctx, kind, info, req, user),
            "patch" => patch::patch(ctx, kind, info, req, user),
            "delete" => delete::delete(ctx, kind, info, req),
            "deletecollection" if collection_in_namespace => {
                delete::delete_collection(ctx, kind, info, req)
            }
            _ => Err(StatusError::method_not_allowed()),
        };
    }
    let review = match (info.api_group.as_str(), info.resource.as_str()) {
        (
            "authorization.k8s.io",
            "subjectaccessreviews" | "selfsubjectaccessreviews" | "selfsubjectrulesreviews",
        )
        | ("authentication.k8s.io", "selfsubjectreviews" | "tokenreviews") => {
            info.namespace.is_empty()
        }
        ("authorization.k8s.io", "localsubjectaccessreviews") => !info.namespace.is_empty(),
        _ => return Err(StatusError::not_found_resource()),
    };
    if !review || !info.name.is_empty() {
        return Err(StatusError::not_found_resource());
    }
    if info.verb != "create" {
        return Err(StatusError::method_not_allowed());
    }
    match info.resource.as_str() {
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            reviews::subject_access_review(ctx, info, req)
        }
        "selfsubjectaccessreviews" => reviews::self_subject_access_review(ctx, req, user),
        "selfsubjectrulesreviews" => reviews::self_subject_rules_review(ctx, req, user),
        "selfsubjectreviews" => reviews::self_subject_review(ctx, req, user),
        "tokenreviews" => reviews::token_review(ctx, req),
        _ => Ok(ApiResponse::json(404, &json!({}))),
    }
}
