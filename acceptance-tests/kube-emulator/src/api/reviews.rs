//! Access and identity reviews: SubjectAccessReview, LocalSubjectAccessReview,
//! SelfSubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview and TokenReview.

use serde_json::{Map, Value, json};

use super::body::{self, FieldValidation};
use super::options;
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::StatusError;
use crate::authn::{TokenAuthenticator, UserInfo};
use crate::cluster::Ctx;
use crate::kinds::object;
use crate::managed_fields::FieldManager;
use crate::rbac::authorizer::{self, Attributes};
use crate::rbac::resolver::{self, Lookup};
use crate::schema::Type;
use crate::schema::decode;
use crate::schema::definitions::{
    SELF_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_REVIEW, SELF_SUBJECT_RULES_REVIEW,
    SUBJECT_ACCESS_REVIEW, TOKEN_REVIEW,
};
use crate::validation::{BadValue, FieldError};

const AUTHZ: &str = "authorization.k8s.io";
const AUTHZ_V1: &str = "authorization.k8s.io/v1";
const AUTHN_V1: &str = "authentication.k8s.io/v1";

/// Decodes a review body and records its managedFields like the create handler does.
fn decode_review(
    ctx: &Ctx,
    req: &ApiRequest,
    schema: &'static Type,
    kind: &str,
    api_version: &str,
    namespace: &str,
) -> Result<(Value, Vec<String>), StatusError> {
    let value = body::parse(req)?;
    body::check_type_meta(&value, api_version, kind)?;
    let (decoded, warnings) = body::decode_typed(
        schema,
        kind,
        "v1",
        &value,
        FieldValidation::from_request(req)?,
    )?;
    let mut obj = object::with_type_meta(&decoded, kind, api_version);
    if !namespace.is_empty() && object::namespace(&obj).is_empty() {
        object::set_meta(&mut obj, "namespace", json!(namespace));
    }
    let fm = FieldManager {
        schema,
        api_version: api_version.into(),
        reset_fields: &[],
        subresource: "",
    };
    fm.update(
        &decode::zero(schema),
        &mut obj,
        &options::manager(req)?,
        &ctx.env.clock.timestamp(),
    );
    Ok((
        body::canonical_typed(schema, kind, api_version, &obj),
        warnings,
    ))
}

fn attributes(spec: &Value, user: UserInfo) -> Attributes {
    let s = |p: &str| object::str_at(spec, p).to_string();
    if spec.get("resourceAttributes").is_some_and(|v| !v.is_null()) {
        Attributes {
            user,
            verb: s("/resourceAttributes/verb"),
            resource_request: true,
            namespace: s("/resourceAttributes/namespace"),
            api_group: s("/resourceAttributes/group"),
            api_version: s("/resourceAttributes/version"),
            resource: s("/resourceAttributes/resource"),
            subresource: s("/resourceAttributes/subresource"),
            name: s("/resourceAttributes/name"),
            path: String::new(),
        }
    } else {
        Attributes {
            user,
            verb: s("/nonResourceAttributes/verb"),
            path: s("/nonResourceAttributes/path"),
            ..Attributes::default()
        }
    }
}

fn present(spec: &Value, key: &str) -> bool {
    spec.get(key).is_some_and(|v| !v.is_null())
}

fn validate_attributes(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (res, non) = (
        present(spec, "resourceAttributes"),
        present(spec, "nonResourceAttributes"),
    );
    if res && non {
        errs.push(FieldError::invalid(
            "spec.nonResourceAttributes",
            BadValue::Rendered("&v1.NonResourceAttributes{...}".into()),
            "cannot be specified in combination with resourceAttributes",
        ));
    }
    if !res && !non {
        errs.push(FieldError::invalid(
            "spec.resourceAttributes",
            BadValue::Null,
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
    errs
}

fn meta_is_empty(obj: &Value, allow_namespace: bool) -> bool {
    object::meta(obj).is_none_or(|m| {
        m.iter().all(|(k, v)| {
            k == "managedFields"
                || (k == "creationTimestamp" && v.is_null())
                || (allow_namespace && k == "namespace")
        })
    })
}

fn decide(ctx: &Ctx, mut review: Value, attrs: &Attributes) -> Value {
    let d = authorizer::authorize(&ctx.cluster.store, attrs);
    let mut status = Map::new();
    status.insert("allowed".into(), json!(d.allowed));
    if !d.reason.is_empty() {
        status.insert("reason".into(), json!(d.reason));
    }
    review["status"] = Value::Object(status);
    review
}

/// POST `subjectaccessreviews` and `namespaces/{ns}/localsubjectaccessreviews`.
pub fn subject_access_review(ctx: &Ctx, info: &RequestInfo, req: &ApiRequest) -> ApiResult {
    let local = info.resource == "localsubjectaccessreviews";
    let kind = if local {
        "LocalSubjectAccessReview"
    } else {
        "SubjectAccessReview"
    };
    let (review, warnings) = decode_review(
        ctx,
        req,
        &SUBJECT_ACCESS_REVIEW,
        kind,
        AUTHZ_V1,
        &info.namespace,
    )?;
    let spec = review.get("spec").cloned().unwrap_or_default();
    let mut errs = validate_attributes(&spec);
    if object::str_at(&spec, "/user").is_empty() && object::strings_at(&spec, "/groups").is_empty()
    {
        errs.push(FieldError::invalid(
            "spec.user",
            BadValue::Str(String::new()),
            "at least one of user or group must be specified",
        ));
    }
    if !meta_is_empty(&review, local) {
        let detail = if local {
            "must be empty except for namespace"
        } else {
            "must be empty"
        };
        errs.push(FieldError::invalid(
            "metadata",
            BadValue::Rendered("v1.ObjectMeta{...}".into()),
            detail,
        ));
    }
    if local {
        let ns = object::namespace(&review);
        if present(&spec, "resourceAttributes")
            && object::str_at(&spec, "/resourceAttributes/namespace") != ns
        {
            errs.push(FieldError::invalid(
                "spec.resourceAttributes.namespace",
                BadValue::Str(object::str_at(&spec, "/resourceAttributes/namespace").into()),
                "must match metadata.namespace",
            ));
        }
        if present(&spec, "nonResourceAttributes") {
            errs.push(FieldError::invalid(
                "spec.nonResourceAttributes",
                BadValue::Rendered("&v1.NonResourceAttributes{...}".into()),
                "disallowed on this kind of request",
            ));
        }
    }
    if !errs.is_empty() {
        return Err(StatusError::invalid(AUTHZ, "", "", &errs));
    }
    if local && object::namespace(&review) != info.namespace {
        return Err(StatusError::bad_request(format!(
            "spec.resourceAttributes.namespace must match namespace: {}",
            info.namespace
        )));
    }
    let extra = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), object::strings_at(v, "")))
                .collect()
        })
        .unwrap_or_default();
    let user = UserInfo {
        name: object::str_at(&spec, "/user").into(),
        uid: object::str_at(&spec, "/uid").into(),
        groups: object::strings_at(&spec, "/groups"),
        extra,
    };
    let out = decide(ctx, review, &attributes(&spec, user));
    Ok(ApiResponse::json(201, &out).with_warnings(warnings))
}

/// POST `selfsubjectaccessreviews`.
pub fn self_subject_access_review(ctx: &Ctx, req: &ApiRequest, user: &UserInfo) -> ApiResult {
    let (review, warnings) = decode_review(
        ctx,
        req,
        &SELF_SUBJECT_ACCESS_REVIEW,
        "SelfSubjectAccessReview",
        AUTHZ_V1,
        "",
    )?;
    let spec = review.get("spec").cloned().unwrap_or_default();
    let errs = validate_attributes(&spec);
    if !errs.is_empty() {
        return Err(StatusError::invalid(AUTHZ, "", "", &errs));
    }
    let out = decide(ctx, review, &attributes(&spec, user.clone()));
    Ok(ApiResponse::json(201, &out).with_warnings(warnings))
}

/// POST `selfsubjectrulesreviews`.
pub fn self_subject_rules_review(ctx: &Ctx, req: &ApiRequest, user: &UserInfo) -> ApiResult {
    let (review, _) = decode_review(
        ctx,
        req,
        &SELF_SUBJECT_RULES_REVIEW,
        "SelfSubjectRulesReview",
        AUTHZ_V1,
        "",
    )?;
    let namespace = object::str_at(&review, "/spec/namespace");
    if namespace.is_empty() {
        return Err(StatusError::bad_request("no namespace on request"));
    }
    let (rules, errors) = resolver::rules_for(&ctx.cluster.store, user, namespace, Lookup::Lister);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in rules {
        if !rule.resources.is_empty() {
            let mut m = Map::new();
            m.insert("verbs".into(), json!(rule.verbs));
            for (k, v) in [
                ("apiGroups", &rule.api_groups),
                ("resources", &rule.resources),
                ("resourceNames", &rule.resource_names),
            ] {
                if !v.is_empty() {
                    m.insert(k.into(), json!(v));
                }
            }
            resource_rules.push(Value::Object(m));
        }
        if !rule.non_resource_urls.is_empty() {
            non_resource_rules
                .push(json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls}));
        }
    }
    let mut status = Map::new();
    status.insert("resourceRules".into(), json!(resource_rules));
    status.insert("nonResourceRules".into(), json!(non_resource_rules));
    status.insert("incomplete".into(), json!(false));
    if !errors.is_empty() {
        let messages: Vec<String> = errors.iter().map(|e| e.message()).collect();
        let aggregate = if messages.len() == 1 {
            messages[0].clone()
        } else {
            format!("[{}]", messages.join(", "))
        };
        status.insert("evaluationError".into(), json!(aggregate));
    }
    Ok(ApiResponse::json(
        201,
        &json!({"kind": "SelfSubjectRulesReview", "apiVersion": AUTHZ_V1,
                "metadata": {"creationTimestamp": null}, "spec": {}, "status": status}),
    ))
}

/// POST `selfsubjectreviews`: who am I.
pub fn self_subject_review(ctx: &Ctx, req: &ApiRequest, user: &UserInfo) -> ApiResult {
    decode_review(
        ctx,
        req,
        &SELF_SUBJECT_REVIEW,
        "SelfSubjectReview",
        AUTHN_V1,
        "",
    )?;
    Ok(ApiResponse::json(
        201,
        &json!({"kind": "SelfSubjectReview", "apiVersion": AUTHN_V1,
                "metadata": {"creationTimestamp": ctx.env.clock.timestamp()},
                "status": {"userInfo": user.to_json()}}),
    ))
}

/// POST `tokenreviews`.
pub fn token_review(ctx: &Ctx, req: &ApiRequest) -> ApiResult {
    let (mut review, warnings) =
        decode_review(ctx, req, &TOKEN_REVIEW, "TokenReview", AUTHN_V1, "")?;
    let token = object::str_at(&review, "/spec/token").to_string();
    if token.is_empty() {
        return Err(StatusError::invalid(
            "authentication.k8s.io",
            "TokenReview",
            "",
            &[FieldError::required("spec.token", "")],
        ));
    }
    let requested = object::strings_at(&review, "/spec/audiences");
    let audiences = if requested.is_empty() {
        ctx.env.api_audiences.clone()
    } else {
        requested
    };
    let authenticator = TokenAuthenticator {
        static_tokens: &ctx.cluster.static_tokens,
        signer: ctx.signer,
        issuer: &ctx.env.issuer,
        api_audiences: &audiences,
        store: &ctx.cluster.store,
        now: ctx.env.clock.now().unix_timestamp(),
    };
    review["status"] = match authenticator.token_user(&token) {
        Some(user) => {
            json!({"authenticated": true, "user": user.to_json(), "audiences": audiences})
        }
        None => {
            json!({"user": {}, "error": "[invalid bearer token, service account token has been invalidated]"})
        }
    };
    Ok(ApiResponse::json(201, &review).with_warnings(warnings))
}
