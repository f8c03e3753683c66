//! `RequestInfo`: what a URL addresses, parsed like `k8s.io/apiserver`'s
//! `RequestInfoFactory` (verbs, namespaces, names, subresources, list vs get).

use super::request::ApiRequest;
use crate::selectors::fields;
use crate::validation::names;

/// The parsed request target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// An API resource (else a non-resource path such as `/version`).
    pub resource_request: bool,
    /// Path.
    pub path: String,
    /// Authorization verb.
    pub verb: String,
    /// API group.
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Namespace.
    pub namespace: String,
    /// Resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Name.
    pub name: String,
    /// Path parts from the resource on.
    pub parts: Vec<String>,
}

/// Parses `req`.
pub fn parse(req: &ApiRequest) -> RequestInfo {
    let mut info = RequestInfo {
        path: req.path.clone(),
        verb: req.method.to_lowercase(),
        ..RequestInfo::default()
    };
    let mut parts: Vec<String> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if parts.len() < 3 || !(parts[0] == "api" || parts[0] == "apis") {
        return info;
    }
    let prefix = parts.remove(0);
    if prefix == "apis" {
        if parts.len() < 3 {
            return info;
        }
        info.api_group = parts.remove(0);
    }
    info.resource_request = true;
    info.api_version = parts.remove(0);
    if parts.first().is_some_and(|p| p == "watch" || p == "proxy") && parts.len() >= 2 {
        info.verb = parts.remove(0);
    } else {
        info.verb = match req.method.as_str() {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
        .to_string();
    }
    if parts.first().is_some_and(|p| p == "namespaces") && parts.len() > 1 {
        info.namespace = parts[1].clone();
        if parts.len() > 2 && !matches!(parts[2].as_str(), "status" | "finalize") {
            parts.drain(..2);
        }
    }
    if parts.len() >= 3 && info.verb != "proxy" {
        info.subresource = parts[2].clone();
    }
    if parts.len() >= 2 {
        info.name = parts[1].clone();
    }
    if !parts.is_empty() {
        info.resource = parts[0].clone();
    }
    info.parts = parts;
    if info.name.is_empty() && info.verb == "get" {
        info.verb = if req.flag("watch") { "watch" } else { "list" }.into();
        if let Some(selector) = req
            .param("fieldSelector")
            .and_then(|s| fields::parse(s).ok())
            && let Some(name) = selector.exact("metadata.name")
            && names::path_segment_name(name).is_empty()
        {
            info.name = name.to_string();
        }
    }
    if info.name.is_empty() && info.verb == "delete" {
        info.verb = "deletecollection".into();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, query: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: method.into(),
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ApiRequest::default()
        }
    }

    #[test]
    fn namespace_get_names_itself_as_namespace() {
        let i = parse(&req("GET", "/api/v1/namespaces/ci-runner", &[]));
        assert_eq!(
            (
                i.verb.as_str(),
                i.resource.as_str(),
                i.name.as_str(),
                i.namespace.as_str()
            ),
            ("get", "namespaces", "ci-runner", "ci-runner")
        );
    }

    #[test]
    fn subresources_and_lists_are_recognized() {
        let i = parse(&req(
            "POST",
            "/api/v1/namespaces/ci/serviceaccounts/sa/token",
            &[],
        ));
        assert_eq!(
            (i.verb.as_str(), i.resource.as_str(), i.subresource.as_str()),
            ("create", "serviceaccounts", "token")
        );
        let l = parse(&req(
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            &[("watch", "true")],
        ));
        assert_eq!(
            (l.verb.as_str(), l.api_group.as_str()),
            ("watch", "rbac.authorization.k8s.io")
        );
        let d = parse(&req("GET", "/api/v1", &[]));
        assert!(!d.resource_request);
        assert_eq!(d.verb, "get");
    }

    #[test]
    fn list_with_name_field_selector_carries_the_name() {
        let i = parse(&req(
            "GET",
            "/api/v1/serviceaccounts",
            &[("fieldSelector", "metadata.name=x")],
        ));
        assert_eq!((i.verb.as_str(), i.name.as_str()), ("list", "x"));
    }
}
