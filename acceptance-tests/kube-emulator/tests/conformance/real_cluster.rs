//! The replay against a real kube-apiserver (`acceptance-tests/scripts/real-kube.sh start`, whose
//! `cluster.json` `KUBE_CONFORMANCE_CLUSTER` names): what the capture waited for between steps,
//! the cleanup between scenarios, and the few fields that differ only because the recordings
//! come from v1.28.7 and the server is newer.
//!
//! The waits follow the fixtures' README ("How the capture waited"): after a namespace is
//! created, until kube-controller-manager has made its `default` ServiceAccount; after an RBAC
//! change, until the authorizer's informers have seen it; and reads that depend on a
//! controller (a namespace emptied, a token's cached authentication expiring) are repeated until
//! they match or [`READ_SETTLE`] has passed.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Client;

/// How long a GET may be repeated while a controller or a cache catches up. Longer than the
/// API server's 10 s cache of successful token authentications.
pub const READ_SETTLE: Duration = Duration::from_secs(30);

/// How long a namespace may take to go once deleted.
const NAMESPACE_GONE: Duration = Duration::from_secs(120);

/// The namespace holding the RBAC barrier's objects.
const BARRIER_NAMESPACE: &str = "conformance-barrier";

/// A real control plane, as `real-kube.sh start` describes it in `cluster.json`.
pub struct RealCluster {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The CA that signed the serving certificate.
    pub ca_pem: String,
    /// The `admin` user's token (system:masters).
    pub admin_token: String,
    /// The `dev-user` token (no RBAC grants).
    pub limited_token: String,
    /// What `/version` answered at start.
    pub git_version: String,
    client: Client,
    barriers: std::sync::atomic::AtomicUsize,
}

impl RealCluster {
    /// Reads `cluster.json` at `path`; panics with the reason when it is unusable, since the
    /// caller asked for a real cluster.
    pub fn load(path: &Path) -> RealCluster {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!(
                "KUBE_CONFORMANCE_CLUSTER={}: {e} (start one with acceptance-tests/scripts/real-kube.sh start)",
                path.display()
            )
        });
        let json: Value = serde_json::from_str(&text).expect("cluster.json is JSON");
        let field = |name: &str| {
            json[name]
                .as_str()
                .unwrap_or_else(|| panic!("cluster.json lacks {name}"))
                .to_string()
        };
        let ca_pem = std::fs::read_to_string(field("ca_file")).expect("the cluster's CA file");
        let url = field("url");
        RealCluster {
            client: Client::new(&url, &ca_pem),
            url,
            ca_pem,
            admin_token: field("admin_token"),
            limited_token: field("limited_token"),
            git_version: field("git_version"),
            barriers: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut headers = vec![
            ("Accept", "application/json".to_string()),
            ("Authorization", format!("Bearer {}", self.admin_token)),
        ];
        let content_type = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        if body.is_some() {
            headers.push(("Content-Type", content_type.to_string()));
        }
        let body = body.map(|b| serde_json::to_vec(&b).expect("JSON"));
        let resp = self
            .client
            .send(method, path, &headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.url));
        (
            resp.status,
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
        )
    }

    /// Deletes `namespace` (releasing ServiceAccount finalizers a failed scenario left) and waits
    /// until it is gone, so the next scenario starts where the capture did.
    pub async fn remove_namespace(&self, namespace: &str) {
        let path = format!("/api/v1/namespaces/{namespace}");
        let deadline = Instant::now() + NAMESPACE_GONE;
        let (status, _) = self.admin("DELETE", &path, None).await;
        if status == 404 {
            return;
        }
        loop {
            if self.admin("GET", &path, None).await.0 == 404 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "namespace {namespace} still exists {} s after its deletion",
                NAMESPACE_GONE.as_secs()
            );
            let (_, accounts) = self
                .admin("GET", &format!("{path}/serviceaccounts"), None)
                .await;
            for account in accounts["items"].as_array().into_iter().flatten() {
                if account["metadata"]["finalizers"].is_array() {
                    let name = account["metadata"]["name"].as_str().unwrap_or_default();
                    self.admin(
                        "PATCH",
                        &format!("{path}/serviceaccounts/{name}"),
                        Some(json!({"metadata": {"finalizers": null}})),
                    )
                    .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until kube-controller-manager has created the `default` ServiceAccount of
    /// `namespace` (real clusters always have one; the capture waited for it).
    pub async fn wait_for_default_service_account(&self, namespace: &str) {
        let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/default");
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.admin("GET", &path, None).await.0 != 200 {
            assert!(
                Instant::now() < deadline,
                "namespace {namespace} has no default ServiceAccount after 60 s: is kube-controller-manager running?"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Returns once the RBAC authorizer has seen every Role and RoleBinding written before the
    /// call. Its informers deliver each kind's changes in order, so a Role and RoleBinding
    /// written now and seen by a SubjectAccessReview mean the earlier writes are seen too.
    pub async fn rbac_barrier(&self) {
        let n = self
            .barriers
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 0 {
            let (status, body) = self
                .admin(
                    "POST",
                    "/api/v1/namespaces",
                    Some(json!({"metadata": {"name": BARRIER_NAMESPACE}})),
                )
                .await;
            assert!(
                status == 201 || status == 409,
                "create {BARRIER_NAMESPACE}: {status} {body}"
            );
        }
        let name = format!("barrier-{n}");
        let user = format!("conformance-barrier-{n}");
        let rbac = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{BARRIER_NAMESPACE}");
        let role = json!({"metadata": {"name": name},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]});
        let binding = json!({"metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]});
        for (kind, body) in [("roles", role), ("rolebindings", binding)] {
            let (status, answer) = self
                .admin("POST", &format!("{rbac}/{kind}"), Some(body))
                .await;
            assert_eq!(status, 201, "barrier {kind}: {answer}");
        }
        let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": {"namespace": BARRIER_NAMESPACE,
                "verb": "get", "resource": "configmaps"}}});
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, answer) = self
                .admin(
                    "POST",
                    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                    Some(review.clone()),
                )
                .await;
            if answer["status"]["allowed"] == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the RBAC authorizer did not see a new RoleBinding within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Removes what the barrier made.
    pub async fn remove_barrier(&self) {
        if self.barriers.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            self.remove_namespace(BARRIER_NAMESPACE).await;
        }
    }
}

/// The `/version` fields that name the build, not the API: they differ between any two
/// builds (the recordings come from a v1.28.7 release build, the server here is built from the
/// Go module proxy without git metadata).
const BUILD_METADATA: [&str; 7] = [
    "major",
    "minor",
    "gitVersion",
    "gitCommit",
    "gitTreeState",
    "buildDate",
    "goVersion",
];

/// `/version` fields newer servers add (compatibility versions).
const VERSION_ADDITIONS: [&str; 4] = [
    "emulationMajor",
    "emulationMinor",
    "minCompatibilityMajor",
    "minCompatibilityMinor",
];

/// Leaves out of the comparison what really varies between the recording's server (v1.28.7)
/// and this one: `expected` is the recorded response, `actual` what [`crate::observed`] made of
/// the server's. Each rule either rewrites the recorded v1.28 form into the form newer servers
/// give (so the rest still has to match exactly) or drops a field only newer servers add, and
/// only when the server's answer has exactly that shape. Returns one line per rule used.
pub fn version_exceptions(expected: &mut Value, actual: &mut Value) -> Vec<String> {
    let mut used = Vec::new();
    build_metadata(expected, actual, &mut used);
    non_resource_rules_order(expected, actual, &mut used);
    zero_creation_timestamp(expected, actual, &mut used);
    credential_id(expected, actual, &mut used);
    admin_role_growth(expected, actual, &mut used);
    constrained_impersonation(expected, actual, &mut used);
    group_without_user(expected, actual, &mut used);
    field_errors(expected, actual, &mut used);
    used
}

fn build_metadata(expected: &mut Value, actual: &mut Value, used: &mut Vec<String>) {
    let body = &mut expected["body"];
    if body.get("gitVersion").is_none() || body.get("platform").is_none() {
        return;
    }
    for key in BUILD_METADATA {
        for side in [&mut *body, &mut actual["body"]] {
            if let Some(value) = side.get_mut(key) {
                *value = json!("<build>");
            }
        }
    }
    used.push("/version: the build metadata (major, minor, gitVersion, gitCommit, gitTreeState, buildDate, goVersion) names the build".into());
    if let Some(fields) = actual["body"].as_object_mut() {
        let before = fields.len();
        fields.retain(|key, _| !VERSION_ADDITIONS.contains(&key.as_str()));
        if fields.len() < before {
            used.push("/version: emulationMajor, emulationMinor, minCompatibilityMajor and minCompatibilityMinor are newer than v1.28 (compatibility versions)".into());
        }
    }
}

fn non_resource_rules_order(expected: &mut Value, actual: &mut Value, used: &mut Vec<String>) {
    let mut sorted = false;
    for side in [&mut expected["body"], &mut actual["body"]] {
        if let Some(rules) = side
            .pointer_mut("/status/nonResourceRules")
            .and_then(Value::as_array_mut)
        {
            rules.sort_by_key(Value::to_string);
            sorted = true;
        }
    }
    if sorted {
        used.push(
            "a SelfSubjectRulesReview's nonResourceRules: the server lists them in no fixed order"
                .into(),
        );
    }
}

/// Review objects are never stored: v1.28 wrote their zero `creationTimestamp` as `null`,
/// newer servers leave it out.
fn zero_creation_timestamp(expected: &mut Value, actual: &Value, used: &mut Vec<String>) {
    let recorded_null = expected
        .pointer("/body/metadata/creationTimestamp")
        .is_some_and(Value::is_null);
    let absent = actual
        .pointer("/body/metadata")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.contains_key("creationTimestamp"));
    if recorded_null && absent {
        if let Some(metadata) = expected["body"]["metadata"].as_object_mut() {
            metadata.shift_remove("creationTimestamp");
        }
        used.push("an access review's metadata.creationTimestamp: null: newer servers omit a zero timestamp".into());
    }
}

/// ServiceAccount tokens newer than v1.28 carry a credential id: a `jti` claim, the
/// TokenRequest's `metadata.uid`, and `authentication.kubernetes.io/credential-id` in the
/// user's extra.
fn credential_id(expected: &Value, actual: &mut Value, used: &mut Vec<String>) {
    let uid = json!("<uid>");
    if expected["body"]["kind"] == json!("TokenRequest")
        && expected.pointer("/body/metadata/uid").is_none()
        && actual.pointer("/body/metadata/uid") == Some(&uid)
    {
        if let Some(metadata) = actual["body"]["metadata"].as_object_mut() {
            metadata.shift_remove("uid");
        }
        used.push("a TokenRequest's metadata.uid: newer than v1.28".into());
    }
    if expected["jwt_claims"].get("jti").is_none() && actual["jwt_claims"].get("jti") == Some(&uid)
    {
        if let Some(claims) = actual["jwt_claims"].as_object_mut() {
            claims.shift_remove("jti");
        }
        used.push("the jti claim of ServiceAccount tokens: newer than v1.28".into());
    }
    let credential = json!({"authentication.kubernetes.io/credential-id": ["JTI=<uid>"]});
    if expected.pointer("/body/status/userInfo/extra").is_none()
        && actual.pointer("/body/status/userInfo/extra") == Some(&credential)
    {
        if let Some(info) = actual["body"]["status"]["userInfo"].as_object_mut() {
            info.shift_remove("extra");
        }
        used.push(
            "the credential-id extra of a ServiceAccount token's user: newer than v1.28".into(),
        );
    }
}

/// An RBAC escalation refusal lists the rules the user lacks; binding the built-in `admin`
/// ClusterRole lists that role's rules, which newer releases extend with newer APIs. The
/// recorded lines must all be there, in order; only added lines are left out.
fn admin_role_growth(expected: &Value, actual: &mut Value, used: &mut Vec<String>) {
    const HEADER: &str = "is attempting to grant RBAC permissions not currently held:\n";
    let (Some(want), Some(got)) = (
        expected.pointer("/body/message").and_then(Value::as_str),
        actual.pointer("/body/message").and_then(Value::as_str),
    ) else {
        return;
    };
    let (Some((want_head, want_rules)), Some((got_head, got_rules))) =
        (want.split_once(HEADER), got.split_once(HEADER))
    else {
        return;
    };
    if want_head != got_head || want == got {
        return;
    }
    let mut got_lines = got_rules.lines();
    let mut added = Vec::new();
    for line in want_rules.lines() {
        loop {
            match got_lines.next() {
                Some(l) if l == line => break,
                Some(l) => added.push(l.to_string()),
                None => return,
            }
        }
    }
    added.extend(got_lines.map(str::to_string));
    let want = want.to_string();
    actual["body"]["message"] = json!(want);
    used.push(format!(
        "an escalation refusal's rule lines of the built-in admin ClusterRole: {} lines newer than v1.28 ({})",
        added.len(),
        added.join(" ")
    ));
}

/// Newer servers try constrained impersonation (`impersonate-on:<mode>:<verb>` on the request's
/// resource) before the legacy `impersonate` check, and when both refuse name the first mode
/// tried: the legacy one if it last succeeded for that user, else the constrained one.
fn constrained_impersonation(expected: &Value, actual: &mut Value, used: &mut Vec<String>) {
    let Some(want) = expected.pointer("/body/message").and_then(Value::as_str) else {
        return;
    };
    let Some((user, mode)) = legacy_impersonation_refusal(want) else {
        return;
    };
    let group = actual["body"]["details"]["group"].as_str().unwrap_or("");
    let resource = actual["body"]["details"]["kind"].as_str().unwrap_or("");
    let constrained = format!(
        "{resource}.{group} is forbidden: User \"{user}\" cannot impersonate-on:{mode}:create resource \"{resource}\" in API group \"{group}\" at the cluster scope"
    );
    if actual["status"] == json!(403) && actual["body"]["message"] == json!(constrained) {
        actual["body"] = expected["body"].clone();
        used.push(format!("a refused impersonation named the constrained-impersonation check (impersonate-on:{mode}:create) instead of the legacy one: newer than v1.28"));
    }
}

/// `(user, mode)` of a legacy refusal such as `serviceaccounts "x" is forbidden: User "u"
/// cannot impersonate resource "serviceaccounts" ...`.
fn legacy_impersonation_refusal(message: &str) -> Option<(String, &'static str)> {
    let (_, rest) = message.split_once(" is forbidden: User \"")?;
    let (user, rest) = rest.split_once('"')?;
    let mode = if rest.starts_with(" cannot impersonate resource \"serviceaccounts\"") {
        "serviceaccount"
    } else if rest.starts_with(" cannot impersonate resource \"users\"") {
        "user-info"
    } else {
        return None;
    };
    Some((user.to_string(), mode))
}

/// Impersonating groups without a user: v1.28 answered 500 with a text body, newer servers
/// 400 BadRequest with a Status naming the same groups.
fn group_without_user(expected: &mut Value, actual: &mut Value, used: &mut Vec<String>) {
    let Some(text) = expected["body_text"].as_str() else {
        return;
    };
    let Some(groups) = text
        .split_once("requested [")
        .and_then(|(_, rest)| rest.split_once("] without impersonating a user\n"))
        .map(|(groups, _)| groups)
    else {
        return;
    };
    let names: Vec<String> = groups
        .split("} {")
        .map(|g| {
            let g = g.trim_matches(|c| c == '{' || c == '}');
            format!("{:?}", g.trim_start_matches("Group").trim())
        })
        .collect();
    let message = format!(
        "requested &user.DefaultInfo{{Name:\"\", UID:\"\", Groups:[]string{{{}}}, Extra:map[string][]string(nil)}} without impersonating a user name",
        names.join(", ")
    );
    *expected = json!({
        "status": 400,
        "content_type": "application/json",
        "body": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": message, "reason": "BadRequest", "code": 400},
    });
    let parsed: Value =
        serde_json::from_str(actual["body_text"].as_str().unwrap_or("")).unwrap_or(Value::Null);
    actual["body"] = parsed;
    used.push("impersonating groups without a user: 400 BadRequest (a Status) instead of v1.28's 500 text".into());
}

/// Field errors of a 422 Invalid in the wording of newer servers: invalid values as JSON
/// instead of Go syntax, a changed roleRef as "field is immutable", no extra detail after
/// "Required value" for empty verbs, a SubjectAccessReview without attributes reported on
/// `spec` with the value `null`, and several errors of one object in field order.
fn field_errors(expected: &mut Value, actual: &Value, used: &mut Vec<String>) {
    if expected["body"]["reason"] != json!("Invalid") || expected["body"] == actual["body"] {
        return;
    }
    let before = expected["body"].clone();
    let body = &mut expected["body"];
    if let Some(message) = body["message"].as_str() {
        body["message"] = json!(newer_field_error(message));
    }
    for cause in body["details"]["causes"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if let Some(message) = cause["message"].as_str() {
            cause["message"] = json!(newer_field_error(message));
        }
        if cause["field"] == json!("spec.resourceAttributes")
            && cause["message"]
                .as_str()
                .is_some_and(|m| m.contains("exactly one of nonResourceAttributes"))
        {
            cause["field"] = json!("spec");
        }
    }
    if let Some(message) = body["message"].as_str() {
        body["message"] = json!(message.replace(
            "spec.resourceAttributes: Invalid value: null: exactly one of",
            "spec: Invalid value: null: exactly one of"
        ));
    }
    reorder_causes(body, &actual["body"]);
    if expected["body"] != before {
        used.push("422 field errors in the wording of newer servers (values as JSON, roleRef \"field is immutable\", no detail after an empty verbs' \"Required value\", errors in field order)".into());
    }
}

/// One field error message, v1.28 wording -> newer wording.
fn newer_field_error(message: &str) -> String {
    let mut out = go_values_as_json(message);
    out = out.replace(": cannot change roleRef", ": field is immutable");
    out = out.replace(
        "Required value: verbs must contain at least one value",
        "Required value",
    );
    out.replace(
        "Invalid value: \"null\": exactly one of",
        "Invalid value: null: exactly one of",
    )
}

/// `[]string{"a", "b"}` -> `["a","b"]` and `pkg.Type{A:"x", B:"y"}` -> `{"A":"x","B":"y"}`
/// after `Invalid value: `.
fn go_values_as_json(message: &str) -> String {
    const MARK: &str = "Invalid value: ";
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at + MARK.len()]);
        rest = &rest[at + MARK.len()..];
        let Some(open) = rest.find('{') else { continue };
        let type_name = &rest[..open];
        let is_go_type = type_name == "[]string"
            || (type_name.contains('.')
                && type_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.'));
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            continue;
        };
        if !is_go_type {
            continue;
        }
        let inner = &rest[open + 1..close];
        let items: Vec<&str> = if inner.is_empty() {
            Vec::new()
        } else {
            inner.split(", ").collect()
        };
        let json = if type_name == "[]string" {
            format!("[{}]", items.join(","))
        } else {
            let fields: Vec<String> = items
                .iter()
                .filter_map(|item| item.split_once(':'))
                .map(|(key, value)| format!("\"{key}\":{value}"))
                .collect();
            format!("{{{}}}", fields.join(","))
        };
        out.push_str(&json);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// When the recorded causes are the server's in another order: the server's order, and the
/// aggregated `[field: message, ...]` message rebuilt in it.
fn reorder_causes(expected: &mut Value, actual: &Value) {
    let (Some(want), Some(got)) = (
        expected["details"]["causes"].as_array(),
        actual["details"]["causes"].as_array(),
    ) else {
        return;
    };
    if want.len() < 2 || want == got {
        return;
    }
    let key = |c: &Value| c.to_string();
    let mut a: Vec<String> = want.iter().map(key).collect();
    let mut b: Vec<String> = got.iter().map(key).collect();
    a.sort();
    b.sort();
    if a != b {
        return;
    }
    let line = |c: &Value| {
        format!(
            "{}: {}",
            c["field"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        )
    };
    let old_list = format!("[{}]", want.iter().map(line).collect::<Vec<_>>().join(", "));
    let new_list = format!("[{}]", got.iter().map(line).collect::<Vec<_>>().join(", "));
    if let Some(message) = expected["message"].as_str() {
        expected["message"] = json!(message.replace(&old_list, &new_list));
    }
    expected["details"]["causes"] = json!(got);
}
