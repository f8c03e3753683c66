//! `serviceaccounts/{name}/token`: TokenRequest, as `pkg/registry/core/serviceaccount/storage/token.go`.

use serde_json::{Value, json};

use super::body::{self, FieldValidation};
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::StatusError;
use super::write;
use crate::authn::service_account;
use crate::clock;
use crate::cluster::Ctx;
use crate::kinds::{self, object};
use crate::managed_fields::FieldManager;
use crate::schema::decode;
use crate::schema::definitions::TOKEN_REQUEST;
use crate::store::Key;
use crate::validation::{BadValue, FieldError};

const GROUP: &str = "authentication.k8s.io";
const API_VERSION: &str = "authentication.k8s.io/v1";

fn invalid(name: &str, errors: &[FieldError]) -> StatusError {
    StatusError::invalid(GROUP, "TokenRequest", name, errors)
}

/// Mints a token for a ServiceAccount.
pub fn create(ctx: &mut Ctx, info: &RequestInfo, req: &ApiRequest) -> ApiResult {
    let ns = info.namespace.as_str();
    let name = info.name.as_str();
    let sa_kind = kinds::by_plural("serviceaccounts");
    write::admit_create(ctx, sa_kind, ns, name)?;
    let value = body::parse(req)?;
    body::check_type_meta(&value, API_VERSION, "TokenRequest")?;
    let (mut tr, warnings) = body::decode_typed(
        &TOKEN_REQUEST,
        "TokenRequest",
        "v1",
        &value,
        FieldValidation::from_request(req)?,
    )?;
    if tr
        .pointer("/spec/expirationSeconds")
        .is_none_or(Value::is_null)
    {
        tr["spec"]["expirationSeconds"] = json!(3600);
    }
    let mut tr = object::with_type_meta(&tr, "TokenRequest", API_VERSION);
    let manager = super::options::manager(req)?;
    let fm = FieldManager {
        schema: &TOKEN_REQUEST,
        api_version: API_VERSION.into(),
        reset_fields: &[],
        subresource: "token",
    };
    fm.update(
        &decode::zero(&TOKEN_REQUEST),
        &mut tr,
        &manager,
        &ctx.env.clock.timestamp(),
    );
    let body_name = object::name(&tr).to_string();
    if !body_name.is_empty() && body_name != name {
        return Err(invalid(
            name,
            &[FieldError::invalid(
                "metadata.name",
                BadValue::Str(body_name),
                "must match the service account name if specified",
            )],
        ));
    }
    let body_ns = object::namespace(&tr).to_string();
    if !body_ns.is_empty() && body_ns != ns {
        return Err(invalid(
            name,
            &[FieldError::invalid(
                "metadata.namespace",
                BadValue::Str(body_ns),
                "must match the service account namespace if specified",
            )],
        ));
    }
    let Some(sa) = ctx
        .cluster
        .store
        .get(&Key::new("serviceaccounts", ns, name))
        .cloned()
    else {
        return Err(StatusError::not_found("", "serviceaccounts", name));
    };
    let mut audiences = object::strings_at(&tr, "/spec/audiences");
    if audiences.is_empty() {
        audiences = ctx.env.api_audiences.clone();
        tr["spec"]["audiences"] = json!(audiences);
    }
    object::set_meta(&mut tr, "name", json!(name));
    object::set_meta(&mut tr, "namespace", json!(ns));
    let now = ctx.env.clock.now();
    object::set_meta(
        &mut tr,
        "creationTimestamp",
        json!(clock::format_timestamp(now)),
    );
    let expiration = tr
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600);
    let mut errors = Vec::new();
    if expiration < 600 {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            BadValue::Int(expiration),
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > 1 << 32 {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            BadValue::Int(expiration),
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if !errors.is_empty() {
        return Err(invalid("", &errors));
    }
    let mut claims = service_account::claims(
        &ctx.env.issuer,
        &audiences,
        ns,
        name,
        object::meta_str(&sa, "uid"),
        now.unix_timestamp(),
        expiration,
    );
    bind_object(ctx, &tr, ns, &mut claims)?;
    let token = ctx.signer.get().sign(&claims);
    let expires = now + time::Duration::seconds(expiration);
    tr["status"] = json!({"token": token, "expirationTimestamp": clock::format_timestamp(expires)});
    let out = body::canonical_typed(&TOKEN_REQUEST, "TokenRequest", API_VERSION, &tr);
    Ok(ApiResponse::json(201, &out).with_warnings(warnings))
}

/// Adds the bound object (only Secrets exist here) to the claims.
fn bind_object(ctx: &Ctx, tr: &Value, ns: &str, claims: &mut Value) -> Result<(), StatusError> {
    let Some(bound) = tr.pointer("/spec/boundObjectRef").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let kind = object::str_at(bound, "/kind");
    let name = object::str_at(bound, "/name");
    let uid = object::str_at(bound, "/uid");
    match kind {
        "Secret" => {
            let Some(secret) = ctx.cluster.store.get(&Key::new("secrets", ns, name)) else {
                return Err(StatusError::not_found("", "secrets", name));
            };
            let actual = object::meta_str(secret, "uid");
            if !uid.is_empty() && uid != actual {
                return Err(StatusError::conflict(
                    "",
                    "secrets",
                    name,
                    &format!(
                        "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                ));
            }
            claims["kubernetes.io"]["secret"] = json!({"name": name, "uid": actual});
            Ok(())
        }
        "Pod" => Err(StatusError::not_found("", "pods", name)),
        "Node" => Err(StatusError::not_found("", "nodes", name)),
        other => Err(StatusError::bad_request(format!(
            "cannot bind token for object of type {other}"
        ))),
    }
}
