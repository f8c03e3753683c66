//! Replays every recorded kube-apiserver v1.28.7 exchange in `../shared/kube-conformance/`
//! against the emulator, and against a real kube-apiserver when `KUBE_CONFORMANCE_CLUSTER` names
//! one (see `conformance/real_cluster.rs`), and compares status codes, content types, warnings,
//! Status bodies, object fields (key order included) and token claims, normalized like the
//! fixtures.

mod common;
#[path = "conformance/real_cluster.rs"]
mod real_cluster;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Client;
use kube_emulator::{Emulator, EmulatorConfig, StaticToken};
use real_cluster::RealCluster;
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
#[derive(Clone, Default)]
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

/// One step's request, ready to send.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

fn build_request(rq: &Value, raw: &[Value], ids: &Identities) -> Request {
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
    let mut headers = vec![
        ("Accept".to_string(), "application/json".to_string()),
        (
            "User-Agent".to_string(),
            "kube-conformance-capture/1.0".to_string(),
        ),
    ];
    if let Some(ct) = rq["content_type"].as_str() {
        headers.push(("Content-Type".into(), ct.to_string()));
    }
    // Headers the step sent besides those (Impersonate-User, an Accept of its own).
    for (name, value) in rq["headers"].as_object().into_iter().flatten() {
        let value = value.as_str().expect("header value").to_string();
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(existing) => existing.1 = value,
            None => headers.push((name.clone(), value)),
        }
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
        headers.push(("Authorization".into(), format!("Bearer {t}")));
    }
    let body =
        (!request["body"].is_null()).then(|| serde_json::to_vec(&request["body"]).expect("body"));
    Request {
        method: rq["method"].as_str().expect("method").to_string(),
        path,
        headers,
        body,
    }
}

/// What a response is compared on, normalized like the fixtures: `status`, `content_type`,
/// `warnings`, `body` (parsed JSON, truncated as the fixture says) or `body_text`, and for a
/// TokenRequest `jwt_header` and `jwt_claims`.
fn observed(rs: &Value, resp: &common::Response, norm: &mut Normalizer) -> Value {
    let mut view = json!({
        "status": resp.status,
        "content_type": resp.content_type,
        "warnings": resp.warnings,
    });
    let raw: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    if rs["body"].is_null() {
        view["body_text"] = json!(String::from_utf8_lossy(&resp.body));
    } else {
        let mut body = raw.clone();
        if let Some(t) = rs.get("truncated").filter(|t| t.is_object()) {
            let field = t["field"].as_str().expect("field");
            let kept: Vec<&str> = t["kept"]
                .as_array()
                .expect("kept")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if let Some(items) = body.get_mut(field).and_then(Value::as_array_mut) {
                items.retain(|it| it["name"].as_str().is_some_and(|n| kept.contains(&n)));
            }
        }
        view["body"] = norm.body(&body);
    }
    if rs.get("jwt_header").is_some_and(Value::is_object) {
        let token = raw["status"]["token"].as_str().unwrap_or("");
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() == 3 {
            let mut header = decode_jwt_part(parts[0]);
            header["kid"] = json!("<kid>");
            view["jwt_header"] = header;
            view["jwt_claims"] = norm.claims(&decode_jwt_part(parts[1]));
        }
    }
    view
}

/// How the observed response differs from the recorded response `rs` (empty when it matches).
fn compare(rs: &Value, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if actual["status"] != rs["status"] {
        problems.push(format!(
            "status {} (expected {})",
            actual["status"], rs["status"]
        ));
    }
    if actual["content_type"].as_str() != Some(rs["content_type"].as_str().unwrap_or("")) {
        problems.push(format!(
            "content type {} (expected {})",
            actual["content_type"], rs["content_type"]
        ));
    }
    let expected_warnings = rs
        .get("warnings")
        .filter(|w| w.is_array())
        .cloned()
        .unwrap_or_else(|| json!([]));
    if actual["warnings"] != expected_warnings {
        problems.push(format!(
            "warnings {} (expected {expected_warnings})",
            actual["warnings"]
        ));
    }
    if rs["body"].is_null() {
        let text = actual["body_text"].as_str().unwrap_or("");
        if text != rs["body_text"].as_str().unwrap_or("") {
            problems.push(format!("body text {text:?} (expected {})", rs["body_text"]));
        }
    } else if let Some(d) = first_difference(&rs["body"], &actual["body"], "") {
        problems.push(format!("body differs at {d}"));
    }
    if let Some(expected_header) = rs.get("jwt_header").filter(|v| v.is_object()) {
        if actual["jwt_header"].is_null() {
            problems.push("no JWT in status.token".into());
        } else {
            if let Some(d) = first_difference(expected_header, &actual["jwt_header"], "jwt_header")
            {
                problems.push(d);
            }
            if let Some(d) =
                first_difference(&rs["jwt_claims"], &actual["jwt_claims"], "jwt_claims")
            {
                problems.push(d);
            }
        }
    }
    problems
}

/// Replays one scenario; returns its step count, the failures, and on a real server the
/// version differences that were left out of the comparison.
async fn replay(
    client: &Client,
    ids: &Identities,
    scenario: &Value,
    real: Option<&RealCluster>,
) -> (usize, Vec<String>, Vec<String>) {
    let name = scenario["scenario"].as_str().unwrap_or("?");
    let steps = scenario["steps"].as_array().expect("steps");
    let mut raw: Vec<Value> = Vec::new();
    let mut norm = Normalizer::default();
    let mut failures = Vec::new();
    let mut exceptions = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let rq = &step["request"];
        let mut kept = BTreeSet::new();
        collect_uuids(&rq["body"], &mut kept);
        norm.kept_uuids = kept;
        let request = build_request(rq, &raw, ids);
        let headers: Vec<(&str, String)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        // A real server's controllers and caches act in the background: a read is repeated
        // until it matches or the time is up (a write is never repeated).
        let settle = match real {
            Some(_) if request.method == "GET" => real_cluster::READ_SETTLE,
            _ => std::time::Duration::ZERO,
        };
        let deadline = std::time::Instant::now() + settle;
        let rs = &step["response"];
        let (resp, problems) = loop {
            let resp = client
                .send(
                    &request.method,
                    &request.path,
                    &headers,
                    request.body.clone(),
                )
                .await
                .expect("request");
            let mut attempt = norm.clone();
            let mut actual = observed(rs, &resp, &mut attempt);
            let mut expected = rs.clone();
            let mut applied = Vec::new();
            if real.is_some() {
                applied = real_cluster::version_exceptions(&mut expected, &mut actual);
            }
            let problems = compare(&expected, &actual);
            if problems.is_empty() || std::time::Instant::now() >= deadline {
                norm = attempt;
                exceptions.extend(applied);
                break (resp, problems);
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        };
        if !problems.is_empty() {
            failures.push(format!(
                "{name} step {i} ({} {}): {}\n    actual body: {}",
                request.method,
                rq["path"].as_str().unwrap_or(""),
                problems.join("; "),
                String::from_utf8_lossy(&resp.body)
            ));
        }
        let actual_raw: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if let Some(cluster) = real {
            let path = rq["path"].as_str().unwrap_or("");
            let written = request.method != "GET" && (200..300).contains(&resp.status);
            if written && request.method == "POST" && path == "/api/v1/namespaces" {
                let created = actual_raw["metadata"]["name"].as_str().unwrap_or_default();
                cluster.wait_for_default_service_account(created).await;
            }
            if written && path.starts_with("/apis/rbac.authorization.k8s.io/") {
                cluster.rbac_barrier().await;
            }
        }
        raw.push(json!({"body": actual_raw}));
        // The emulator's `default` ServiceAccount also comes shortly after its namespace (a real
        // cluster is waited for above).
        if real.is_none()
            && request.method == "POST"
            && rq["path"] == "/api/v1/namespaces"
            && resp.status == 201
        {
            let name = actual_raw["metadata"]["name"].as_str().unwrap_or_default();
            wait_for_default_service_account(client, &ids.admin, name).await;
        }
    }
    (steps.len(), failures, exceptions)
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

/// Every scenario file, in name order.
fn scenarios() -> Vec<Value> {
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
    files
        .iter()
        .map(|file| {
            serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("parse")
        })
        .collect()
}

/// Prints one line per scenario and returns the lines.
fn summary_line(scenario: &Value, total: usize, failed: usize) -> String {
    let line = format!(
        "{:<36} {:>2}/{:<2} steps pass",
        scenario["scenario"].as_str().unwrap_or("?"),
        total - failed,
        total
    );
    println!("{line}");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_scenario_replays_against_the_emulator() {
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
    for scenario in scenarios() {
        emulator.reset();
        emulator.freeze_clock(Some(time::OffsetDateTime::now_utc()));
        let (total, failures, _) = replay(&client, &ids, &scenario, None).await;
        summary.push(summary_line(&scenario, total, failures.len()));
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

/// The same replay against a real kube-apiserver and kube-controller-manager, when
/// `KUBE_CONFORMANCE_CLUSTER` names the `cluster.json` of `real-kube.sh start` (test.sh's
/// `acc-kube` stage sets it). Every step must match, except the version differences
/// [`real_cluster::version_exceptions`] lists; the log names each one that was used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorded_scenario_replays_against_a_real_kube_apiserver() {
    let Some(path) = std::env::var_os("KUBE_CONFORMANCE_CLUSTER") else {
        eprintln!(
            "conformance: skipped the replay against a real kube-apiserver: KUBE_CONFORMANCE_CLUSTER \
             is not set (acceptance-tests/scripts/real-kube.sh start writes target/real-kube/cluster.json; \
             test.sh's acc-kube stage sets it)"
        );
        return;
    };
    let cluster = RealCluster::load(std::path::Path::new(&path));
    println!(
        "conformance: replaying against a real kube-apiserver {} at {}",
        cluster.git_version, cluster.url
    );
    let client = Client::new(&cluster.url, &cluster.ca_pem);
    let ids = Identities {
        admin: cluster.admin_token.clone(),
        limited: cluster.limited_token.clone(),
    };
    let mut all_failures = Vec::new();
    let mut summary = Vec::new();
    let mut used = BTreeSet::new();
    for scenario in scenarios() {
        // Each scenario starts where the capture did: without its namespaces.
        for namespace in ["ci-runner", "ci-jobs"] {
            cluster.remove_namespace(namespace).await;
        }
        let (total, failures, exceptions) = replay(&client, &ids, &scenario, Some(&cluster)).await;
        summary.push(summary_line(&scenario, total, failures.len()));
        all_failures.extend(failures);
        used.extend(exceptions);
    }
    for namespace in ["ci-runner", "ci-jobs"] {
        cluster.remove_namespace(namespace).await;
    }
    cluster.remove_barrier().await;
    for exception in &used {
        println!("conformance: left out of the comparison: {exception}");
    }
    assert!(
        all_failures.is_empty(),
        "{}\n\n{}",
        summary.join("\n"),
        all_failures.join("\n")
    );
}
