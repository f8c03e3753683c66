//! Replays every recorded kube-apiserver v1.28.7 exchange in `../shared/kube-conformance/`
//! against the emulator and compares status codes, content types, warnings, Status bodies,
//! object fields (key order included) and token claims, normalized like the fixtures.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Client;
use kube_emulator::{Emulator, EmulatorConfig, StaticToken};
use serde_json::{Map, Value, json};

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("KUBE_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kube-conformance"),
    }
}

fn is_uuid(s: &str) -> bool {
    kube_emulator::ids::is_uuid(s)
}

fn is_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3
}

/// Per-scenario normalization state (resourceVersion numbering).
#[derive(Default)]
struct Normalizer {
    rvs: HashMap<String, usize>,
    kept_uuids: BTreeSet<String>,
}

impl Normalizer {
    fn rv(&mut self, rv: &str) -> String {
        let next = self.rvs.len() + 1;
        let n = *self.rvs.entry(rv.to_string()).or_insert(next);
        format!("<rv:{n}>")
    }

    fn uuids_in_text(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while !rest.is_empty() {
            let candidate = rest.get(..36).filter(|c| is_uuid(c));
            match candidate {
                Some(c) if !self.kept_uuids.contains(c) => {
                    out.push_str("<uid>");
                    rest = &rest[36..];
                }
                _ => {
                    let ch = rest.chars().next().expect("char");
                    out.push(ch);
                    rest = &rest[ch.len_utf8()..];
                }
            }
        }
        out
    }

    fn rvs_in_message(&mut self, s: &str) -> String {
        let mut out = s.to_string();
        for marker in [
            "ResourceVersion in the precondition (",
            "ResourceVersion in record (",
            "ResourceVersion in precondition: ",
            "ResourceVersion in object meta: ",
        ] {
            if let Some(start) = out.find(marker) {
                let from = start + marker.len();
                let len = out[from..].chars().take_while(char::is_ascii_digit).count();
                if len > 0 {
                    let rv = out[from..from + len].to_string();
                    let replacement = self.rv(&rv);
                    out.replace_range(from..from + len, &replacement);
                }
            }
        }
        out
    }

    fn value(&mut self, v: &Value, key: &str, parent: &str) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, child) in m {
                    out.insert(k.clone(), self.value(child, k, key));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(|c| self.value(c, key, parent)).collect()),
            Value::String(s) => Value::String(self.string(s, key, parent)),
            other => other.clone(),
        }
    }

    fn string(&mut self, s: &str, key: &str, parent: &str) -> String {
        match key {
            "resourceVersion" if parent == "list-metadata" => "<rv:list>".into(),
            "resourceVersion" => self.rv(s),
            "creationTimestamp"
            | "deletionTimestamp"
            | "expirationTimestamp"
            | "lastTransitionTime"
            | "buildDate" => "<timestamp>".into(),
            "time" if parent == "managedFields" => "<timestamp>".into(),
            "continue" if parent == "metadata" => "<continue>".into(),
            "serverAddress" => "<host:port>".into(),
            "jwks_uri" => match s.strip_prefix("https://").and_then(|r| r.split_once('/')) {
                Some((_, path)) => format!("https://<host:port>/{path}"),
                None => s.to_string(),
            },
            "kid" if parent == "keys" => "<kid>".into(),
            "n" if parent == "keys" => "<n>".into(),
            "message" => {
                let s = self.rvs_in_message(s);
                self.uuids_in_text(&s)
            }
            _ if is_jwt(s) => "<jwt>".into(),
            _ => self.uuids_in_text(s),
        }
    }

    /// Normalizes a response body (lists get `<rv:list>`).
    fn body(&mut self, v: &Value) -> Value {
        let is_list = v.get("items").is_some()
            && v.get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"));
        if !is_list {
            return self.value(v, "", "");
        }
        let mut out = Map::new();
        for (k, child) in v.as_object().expect("object") {
            let normalized = if k == "metadata" {
                let mut meta = Map::new();
                for (mk, mv) in child.as_object().cloned().unwrap_or_default() {
                    let n = match (mk.as_str(), &mv) {
                        ("resourceVersion", Value::String(_)) => json!("<rv:list>"),
                        ("continue", Value::String(_)) => json!("<continue>"),
                        _ => self.value(&mv, &mk, "metadata"),
                    };
                    meta.insert(mk, n);
                }
                Value::Object(meta)
            } else {
                self.value(child, k, "")
            };
            out.insert(k.clone(), normalized);
        }
        Value::Object(out)
    }

    fn claims(&mut self, claims: &Value) -> Value {
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        let mut out = Map::new();
        for (k, v) in claims.as_object().cloned().unwrap_or_default() {
            let n = match k.as_str() {
                "iat" => json!("<iat>"),
                "nbf" | "exp" => match v.as_i64().map(|t| t - iat) {
                    Some(0) => json!("<iat>"),
                    Some(d) => json!(format!("<iat+{d}>")),
                    None => v,
                },
                _ => self.value(&v, &k, ""),
            };
            out.insert(k, n);
        }
        Value::Object(out)
    }
}

fn decode_jwt_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn forged_jwt() -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "forged"}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"aud": ["https://kubernetes.default.svc.cluster.local"], "exp": 4_102_444_800i64,
               "iat": 1_700_000_000, "iss": "https://kubernetes.default.svc.cluster.local",
               "kubernetes.io": {"namespace": "ci-runner", "serviceaccount": {"name": "gitlab-runner",
               "uid": "11111111-1111-1111-1111-111111111111"}}, "nbf": 1_700_000_000,
               "sub": "system:serviceaccount:ci-runner:gitlab-runner"})
        .to_string(),
    );
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]))
}

fn set_pointer(target: &mut Value, pointer: &str, value: Value) {
    let mut cur = target;
    let tokens: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, t) in tokens.iter().enumerate() {
        if i == tokens.len() - 1 {
            cur[t.as_str()] = value;
            return;
        }
        cur = &mut cur[t.as_str()];
    }
}

fn collect_uuids(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if is_uuid(s) => {
            out.insert(s.clone());
        }
        Value::Object(m) => m.values().for_each(|c| collect_uuids(c, out)),
        Value::Array(a) => a.iter().for_each(|c| collect_uuids(c, out)),
        _ => {}
    }
}

/// The first JSON pointer where `a` and `b` differ (key order counts).
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            for k in kx.iter().chain(ky.iter()) {
                if let Some(d) = first_difference(
                    x.get(*k).unwrap_or(&Value::Null),
                    y.get(*k).unwrap_or(&Value::Null),
                    &format!("{path}/{k}"),
                ) {
                    return Some(d);
                }
                if x.contains_key(*k) != y.contains_key(*k) {
                    return Some(format!("{path}/{k}: present in only one"));
                }
            }
            (kx != ky).then(|| format!("{path}: key order {kx:?} vs {ky:?}"))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (p, q)) in x.iter().zip(y.iter()).enumerate() {
                if let Some(d) = first_difference(p, q, &format!("{path}/{i}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: length {} vs {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: expected {a} got {b}")),
    }
}

struct Identities {
    admin: String,
    limited: String,
}

async fn replay(client: &Client, ids: &Identities, scenario: &Value) -> (usize, Vec<String>) {
    let steps = scenario["steps"].as_array().expect("steps");
    let mut raw: Vec<Value> = Vec::new();
    let mut norm = Normalizer::default();
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let rq = &step["request"];
        let mut kept = BTreeSet::new();
        collect_uuids(&rq["body"], &mut kept);
        norm.kept_uuids = kept;
        let mut request = json!({"body": rq["body"].clone(), "query": rq["query"].clone()});
        for r in rq["refs"].as_array().into_iter().flatten() {
            let from = raw[r["step"].as_u64().expect("step") as usize]
                .pointer(r["from"].as_str().expect("from"))
                .cloned()
                .unwrap_or(Value::Null);
            set_pointer(&mut request, r["at"].as_str().expect("at"), from);
        }
        let mut path = rq["path"].as_str().expect("path").to_string();
        if let Some(q) = request["query"].as_object() {
            let pairs: Vec<String> = q
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    format!("{}={}", enc(k), enc(&v))
                })
                .collect();
            if !pairs.is_empty() {
                path = format!("{path}?{}", pairs.join("&"));
            }
        }
        let mut headers: Vec<(&str, String)> = vec![
            ("Accept", "application/json".to_string()),
            ("User-Agent", "kube-conformance-capture/1.0".to_string()),
        ];
        if let Some(ct) = rq["content_type"].as_str() {
            headers.push(("Content-Type", ct.to_string()));
        }
        // Extra headers the capture sent (Impersonate-User, an Accept of its own).
        for (name, value) in rq["headers"].as_object().into_iter().flatten() {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(name));
            headers.push((
                name.as_str(),
                value.as_str().unwrap_or_default().to_string(),
            ));
        }
        let identity = rq["identity"].as_str().expect("identity");
        let token = match identity {
            "admin" => Some(ids.admin.clone()),
            "limited" => Some(ids.limited.clone()),
            "none" => None,
            "bad-token" => Some("not-a-token-anyone-knows".to_string()),
            "forged-jwt" => Some(forged_jwt()),
            sa if sa.starts_with("serviceaccount:") => {
                let from = rq["token_from_step"].as_u64().expect("token_from_step") as usize;
                raw[from]["body"]["status"]["token"]
                    .as_str()
                    .map(str::to_string)
            }
            other => panic!("unknown identity {other}"),
        };
        if let Some(t) = token {
            headers.push(("Authorization", format!("Bearer {t}")));
        }
        let body = (!request["body"].is_null())
            .then(|| serde_json::to_vec(&request["body"]).expect("body"));
        let method = rq["method"].as_str().expect("method");
        let resp = client
            .send(method, &path, &headers, body)
            .await
            .expect("request");
        let rs = &step["response"];
        let mut problems = Vec::new();
        if u64::from(resp.status) != rs["status"].as_u64().expect("status") {
            problems.push(format!(
                "status {} (expected {})",
                resp.status, rs["status"]
            ));
        }
        if resp.content_type != rs["content_type"].as_str().unwrap_or("") {
            problems.push(format!(
                "content type {:?} (expected {})",
                resp.content_type, rs["content_type"]
            ));
        }
        let expected_warnings: Vec<String> = rs["warnings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if resp.warnings != expected_warnings {
            problems.push(format!(
                "warnings {:?} (expected {expected_warnings:?})",
                resp.warnings
            ));
        }
        let actual_raw: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if rs["body"].is_null() {
            let text = String::from_utf8_lossy(&resp.body);
            if text != rs["body_text"].as_str().unwrap_or("") {
                problems.push(format!("body text {text:?} (expected {})", rs["body_text"]));
            }
        } else {
            let mut actual = actual_raw.clone();
            if let Some(t) = rs.get("truncated").filter(|t| t.is_object()) {
                let field = t["field"].as_str().expect("field");
                let kept: Vec<&str> = t["kept"]
                    .as_array()
                    .expect("kept")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(items) = actual.get_mut(field).and_then(Value::as_array_mut) {
                    items.retain(|it| it["name"].as_str().is_some_and(|n| kept.contains(&n)));
                }
            }
            let actual = norm.body(&actual);
            if let Some(d) = first_difference(&rs["body"], &actual, "") {
                problems.push(format!("body differs at {d}"));
            }
        }
        if let Some(expected_header) = rs.get("jwt_header").filter(|v| v.is_object()) {
            let token = actual_raw["status"]["token"].as_str().unwrap_or("");
            let parts: Vec<&str> = token.split('.').collect();
            if parts.len() != 3 {
                problems.push("no JWT in status.token".into());
            } else {
                let mut header = decode_jwt_part(parts[0]);
                header["kid"] = json!("<kid>");
                if let Some(d) = first_difference(expected_header, &header, "jwt_header") {
                    problems.push(d);
                }
                let claims = norm.claims(&decode_jwt_part(parts[1]));
                if let Some(d) = first_difference(&rs["jwt_claims"], &claims, "jwt_claims") {
                    problems.push(d);
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{} step {i} ({method} {}): {}\n    actual body: {}",
                scenario["scenario"].as_str().unwrap_or("?"),
                rq["path"].as_str().unwrap_or(""),
                problems.join("; "),
                String::from_utf8_lossy(&resp.body)
            ));
        }
        raw.push(json!({"body": actual_raw}));
        if method == "POST" && rq["path"] == "/api/v1/namespaces" && resp.status == 201 {
            let name = actual_raw["metadata"]["name"].as_str().unwrap_or_default();
            wait_for_default_service_account(client, &ids.admin, name).await;
        }
    }
    (steps.len(), failures)
}

/// Waits, as the capture did after creating a namespace, until kube-controller-manager's
/// `default` ServiceAccount exists in it (the emulator creates it shortly after, too).
async fn wait_for_default_service_account(client: &Client, admin: &str, namespace: &str) {
    let path = format!("/api/v1/namespaces/{namespace}/serviceaccounts/default");
    let headers = [("Authorization", format!("Bearer {admin}"))];
    for _ in 0..200 {
        let resp = client
            .send("GET", &path, &headers, None)
            .await
            .expect("GET");
        if resp.status == 200 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no default ServiceAccount in {namespace} after 2 s");
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_scenario_replays_against_the_emulator() {
    let dir = fixtures_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "conformance fixtures missing at {} ({e}); set KUBE_CONFORMANCE_DIR",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in {}", dir.display());
    let limited = "limited-user-token".to_string();
    let emulator = Emulator::start(EmulatorConfig {
        static_tokens: vec![StaticToken {
            token: limited.clone(),
            user: "dev-user".into(),
            uid: "dev-uid".into(),
            groups: vec!["dev-group".into()],
        }],
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let client = Client::new(emulator.url(), emulator.ca_pem());
    let ids = Identities {
        admin: emulator.admin_token().to_string(),
        limited,
    };
    let mut all_failures = Vec::new();
    let mut summary = Vec::new();
    for file in &files {
        let scenario: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("parse");
        emulator.reset();
        emulator.freeze_clock(Some(time::OffsetDateTime::now_utc()));
        let (total, failures) = replay(&client, &ids, &scenario).await;
        let line = format!(
            "{:<36} {:>2}/{:<2} steps pass",
            scenario["scenario"].as_str().unwrap_or("?"),
            total - failures.len(),
            total
        );
        println!("{line}");
        summary.push(line);
        all_failures.extend(failures);
    }
    emulator.shutdown().await;
    assert!(
        all_failures.is_empty(),
        "{}\n\n{}",
        summary.join("\n"),
        all_failures.join("\n")
    );
}
