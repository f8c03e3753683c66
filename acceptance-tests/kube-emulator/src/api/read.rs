//! GET and LIST of stored objects (selectors, all-namespace lists, `limit`/`continue`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::StatusError;
use crate::cluster::Ctx;
use crate::kinds::{Kind, object};
use crate::selectors::fields::{self, FieldSelector};
use crate::selectors::labels::{self, LabelSelector};
use crate::store::Key;

/// GET of one object.
pub fn get(ctx: &Ctx, kind: &dyn Kind, info: &RequestInfo) -> ApiResult {
    let i = kind.info();
    let ns = if i.namespaced {
        info.namespace.as_str()
    } else {
        ""
    };
    ctx.cluster
        .store
        .get(&Key::new(i.plural, ns, &info.name))
        .map(|obj| ApiResponse::json(200, obj))
        .ok_or_else(|| StatusError::not_found(i.group, i.plural, &info.name))
}

/// Parsed list filters.
pub struct Filters {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
}

impl Filters {
    /// Parses `labelSelector` and `fieldSelector` for `kind`.
    pub fn from_request(kind: &dyn Kind, req: &ApiRequest) -> Result<Filters, StatusError> {
        let labels = labels::parse(req.param("labelSelector").unwrap_or(""))
            .map_err(StatusError::bad_request)?;
        let fields = fields::parse(req.param("fieldSelector").unwrap_or(""))
            .map_err(StatusError::bad_request)?;
        for term in &fields.terms {
            kind.check_field_label(&term.field)
                .map_err(StatusError::bad_request)?;
        }
        Ok(Filters { labels, fields })
    }

    /// True when `obj` passes both selectors.
    pub fn matches(&self, kind: &dyn Kind, obj: &Value) -> bool {
        self.labels.matches(&object::string_map(obj, "labels"))
            && self.fields.matches(|f| kind.field_value(obj, f))
    }

    fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.terms.is_empty()
    }
}

fn encode_continue(rv: u64, key: &Key) -> String {
    let start = format!("{}/{}\u{0}", key.namespace, key.name);
    URL_SAFE_NO_PAD.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String, String), StatusError> {
    let invalid = || {
        StatusError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(invalid)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(invalid)?;
    let (ns, name) = start
        .trim_end_matches('\u{0}')
        .split_once('/')
        .ok_or_else(invalid)?;
    Ok((rv, ns.to_string(), name.to_string()))
}

/// LIST (in one namespace, or across all when the URL has none).
pub fn list(ctx: &Ctx, kind: &dyn Kind, info: &RequestInfo, req: &ApiRequest) -> ApiResult {
    let i = kind.info();
    let filters = Filters::from_request(kind, req)?;
    let limit: usize = match req.param("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .map(|n| n.max(0) as usize)
            .map_err(|_| StatusError::bad_request(format!("invalid limit: {l}")))?,
    };
    let namespace = (i.namespaced && !info.namespace.is_empty()).then_some(info.namespace.as_str());
    let store = &ctx.cluster.store;
    let mut list_rv = store.revision();
    let mut after: Option<(String, String)> = None;
    if let Some(token) = req.param("continue").filter(|t| !t.is_empty()) {
        let (rv, ns, name) = decode_continue(token)?;
        list_rv = rv;
        after = Some((ns, name));
    }
    let matching: Vec<(&Key, &Value)> = store
        .list(i.plural, namespace)
        .filter(|(k, _)| {
            after.as_ref().is_none_or(|(ns, name)| {
                (k.namespace.as_str(), k.name.as_str()) > (ns.as_str(), name.as_str())
            })
        })
        .filter(|(_, obj)| filters.matches(kind, obj))
        .collect();
    let total = matching.len();
    let page: Vec<&(&Key, &Value)> = if limit > 0 {
        matching.iter().take(limit).collect()
    } else {
        matching.iter().collect()
    };
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), json!(list_rv.to_string()));
    if limit > 0 && total > page.len() {
        let last = page.last().expect("non-empty page").0;
        meta.insert("continue".into(), json!(encode_continue(list_rv, last)));
        if filters.is_everything() {
            meta.insert("remainingItemCount".into(), json!(total - page.len()));
        }
    }
    let items: Vec<Value> = page
        .iter()
        .map(|(_, o)| object::without_type_meta(o))
        .collect();
    Ok(ApiResponse::json(
        200,
        &json!({
            "kind": format!("{}List", i.kind),
            "apiVersion": i.api_version(),
            "metadata": meta,
            "items": items,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, &Key::new("serviceaccounts", "ci", "default"));
        assert_eq!(
            decode_continue(&token).expect("decode"),
            (42, "ci".into(), "default".into())
        );
        assert!(decode_continue("not-base64!").is_err());
    }
}
