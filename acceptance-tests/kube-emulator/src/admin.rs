//! `/__emulator/`: control endpoints for out-of-process tests (admin token required).
//!
//! | method | path | body | effect |
//! |---|---|---|---|
//! | GET | `/__emulator/requests` | | the request log (JSON array) |
//! | DELETE | `/__emulator/requests` | | empties the log |
//! | GET | `/__emulator/faults` | | active faults |
//! | POST | `/__emulator/faults` | a fault or an array of faults | injects them |
//! | DELETE | `/__emulator/faults` | | removes all faults |
//! | GET/PUT | `/__emulator/latency` | `{"fixed_ms": N, "jitter_ms": M}` | reads/sets latency |
//! | POST | `/__emulator/reset` | | back to the boot state |
//! | POST | `/__emulator/users` | `{"user": "...", "groups": [...], "uid": "..."}` | adds a static token, returns `{"token": ...}` |

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::request::{ApiRequest, ApiResponse};
use crate::api::status::StatusError;
use crate::emulator::Shared;
use crate::faults::{Fault, Latency};

#[derive(Debug, Serialize, Deserialize)]
struct LatencyJson {
    #[serde(default)]
    fixed_ms: u64,
    #[serde(default)]
    jitter_ms: u64,
}

#[derive(Debug, Deserialize)]
struct NewUser {
    user: String,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

fn bad(msg: String) -> ApiResponse {
    ApiResponse::error(&StatusError::bad_request(msg))
}

fn ok(value: &Value) -> ApiResponse {
    ApiResponse::json(200, value)
}

fn authorized(shared: &Shared, req: &ApiRequest) -> bool {
    req.authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == shared.admin_token)
}

/// Serves one admin request.
pub fn handle(shared: &Shared, req: &ApiRequest) -> ApiResponse {
    if !authorized(shared, req) {
        return ApiResponse::error(&StatusError::unauthorized());
    }
    let route = req
        .path
        .trim_end_matches('/')
        .trim_start_matches("/__emulator");
    match (req.method.as_str(), route) {
        ("GET", "/requests") => {
            let records = shared
                .log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .records();
            ok(&serde_json::to_value(records).expect("records"))
        }
        ("DELETE", "/requests") => {
            shared
                .log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
            ok(&json!({}))
        }
        ("GET", "/faults") => {
            let faults = shared
                .faults
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .list();
            ok(&serde_json::to_value(faults).expect("faults"))
        }
        ("POST", "/faults") => {
            let parsed: Result<Vec<Fault>, _> = serde_json::from_slice::<Vec<Fault>>(&req.body)
                .or_else(|_| serde_json::from_slice::<Fault>(&req.body).map(|f| vec![f]));
            match parsed {
                Ok(faults) => {
                    let mut set = shared
                        .faults
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for f in faults {
                        set.add(f);
                    }
                    ApiResponse::json(201, &serde_json::to_value(set.list()).expect("faults"))
                }
                Err(e) => bad(format!("invalid fault: {e}")),
            }
        }
        ("DELETE", "/faults") => {
            shared
                .faults
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
            ok(&json!({}))
        }
        ("GET", "/latency") => {
            let l = *shared
                .latency
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            ok(
                &json!({"fixed_ms": l.fixed.as_millis() as u64, "jitter_ms": l.jitter.as_millis() as u64}),
            )
        }
        ("PUT", "/latency") => match serde_json::from_slice::<LatencyJson>(&req.body) {
            Ok(l) => {
                *shared
                    .latency
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Latency {
                    fixed: Duration::from_millis(l.fixed_ms),
                    jitter: Duration::from_millis(l.jitter_ms),
                };
                ok(&serde_json::to_value(l).expect("latency"))
            }
            Err(e) => bad(format!("invalid latency: {e}")),
        },
        ("POST", "/reset") => {
            shared.reset();
            ok(&json!({}))
        }
        ("POST", "/users") => match serde_json::from_slice::<NewUser>(&req.body) {
            Ok(u) => {
                let uid = u.uid.unwrap_or_else(|| format!("{}-uid", u.user));
                let token = shared.add_user(&u.user, &uid, &u.groups);
                ApiResponse::json(201, &json!({"token": token}))
            }
            Err(e) => bad(format!("invalid user: {e}")),
        },
        _ => ApiResponse::page_not_found(),
    }
}
