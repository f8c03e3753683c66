//! Discovery documents and the other non-resource endpoints (`/version`, `/healthz`).

use serde_json::{Map, Value, json};

use crate::kinds::{self, KindInfo};

/// Groups served under `/apis` (the core group is `/api`).
pub const GROUPS: &[&str] = &[
    "authentication.k8s.io",
    "authorization.k8s.io",
    "rbac.authorization.k8s.io",
];

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "28",
        "gitVersion": "v1.28.7",
        "gitCommit": "c8dcb00be9961ec36d141d2e4103f85f92bcf291",
        "gitTreeState": "archive",
        "buildDate": "2024-02-14T10:32:39Z",
        "goVersion": "go1.21.13",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `/apis`.
pub fn group_list() -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": GROUPS.iter().map(|g| group_entry(g)).collect::<Vec<_>>(),
    })
}

/// `/apis/{group}`.
pub fn group(name: &str) -> Option<Value> {
    GROUPS.contains(&name).then(|| {
        let mut entry = group_entry(name);
        let obj = entry.as_object_mut().expect("object");
        let mut out = Map::new();
        out.insert("kind".into(), json!("APIGroup"));
        out.insert("apiVersion".into(), json!("v1"));
        out.extend(std::mem::take(obj));
        Value::Object(out)
    })
}

fn stored_resource(info: &KindInfo) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(info.plural));
    m.insert("singularName".into(), json!(info.singular));
    m.insert("namespaced".into(), json!(info.namespaced));
    m.insert("kind".into(), json!(info.kind));
    m.insert("verbs".into(), json!(info.verbs));
    if !info.short_names.is_empty() {
        m.insert("shortNames".into(), json!(info.short_names));
    }
    m.insert(
        "storageVersionHash".into(),
        json!(info.storage_version_hash),
    );
    Value::Object(m)
}

fn create_only(name: &str, singular: &str, namespaced: bool, kind: &str) -> Value {
    json!({"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": ["create"]})
}

fn stored_resources(group: &str) -> Vec<Value> {
    let mut infos: Vec<&KindInfo> = kinds::all()
        .iter()
        .map(|k| k.info())
        .filter(|i| i.group == group)
        .collect();
    infos.sort_by_key(|i| i.plural);
    infos.into_iter().map(stored_resource).collect()
}

/// `/api/v1` or `/apis/{group}/v1`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    if version != "v1" {
        return None;
    }
    let resources: Vec<Value> = match group {
        "" => {
            let mut r = stored_resources("");
            r.push(
                json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true,
                          "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
                          "verbs": ["create"]}),
            );
            return Some(json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": r}));
        }
        "rbac.authorization.k8s.io" => stored_resources(group),
        "authorization.k8s.io" => vec![
            create_only(
                "localsubjectaccessreviews",
                "localsubjectaccessreview",
                true,
                "LocalSubjectAccessReview",
            ),
            create_only(
                "selfsubjectaccessreviews",
                "selfsubjectaccessreview",
                false,
                "SelfSubjectAccessReview",
            ),
            create_only(
                "selfsubjectrulesreviews",
                "selfsubjectrulesreview",
                false,
                "SelfSubjectRulesReview",
            ),
            create_only(
                "subjectaccessreviews",
                "subjectaccessreview",
                false,
                "SubjectAccessReview",
            ),
        ],
        "authentication.k8s.io" => vec![
            create_only(
                "selfsubjectreviews",
                "selfsubjectreview",
                false,
                "SelfSubjectReview",
            ),
            create_only("tokenreviews", "tokenreview", false, "TokenReview"),
        ],
        _ => return None,
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"),
        "resources": resources,
    }))
}
