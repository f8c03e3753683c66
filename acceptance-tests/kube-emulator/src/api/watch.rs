//! Watches: a stream of `{"type": ..., "object": ...}` lines for the objects of a resource,
//! starting with the current objects (no `resourceVersion`, or `0`) or with the changes
//! after a given one.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::read::Filters;
use super::request::{ApiRequest, ApiResponse, ApiResult};
use super::request_info::RequestInfo;
use super::status::StatusError;
use crate::cluster::Ctx;
use crate::kinds::{self, Kind, object};
use crate::store::Event;

struct Selection {
    resource: &'static str,
    namespace: Option<String>,
    filters: Filters,
}

impl Selection {
    fn matches(&self, resource: &str, obj: &Value) -> bool {
        resource == self.resource
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| object::namespace(obj) == ns)
            && self.filters.matches(kinds::by_plural(self.resource), obj)
    }
}

fn line(kind: &str, obj: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(&json!({"type": kind, "object": obj})).expect("JSON");
    bytes.push(b'\n');
    bytes
}

fn expired(requested: u64, current: u64) -> Vec<u8> {
    let status = StatusError {
        code: 410,
        reason: "Expired".into(),
        message: format!("too old resource version: {requested} ({current})"),
        details: None,
    };
    line("ERROR", &status.to_json())
}

/// Starts a watch.
pub fn watch(ctx: &Ctx, kind: &dyn Kind, info: &RequestInfo, req: &ApiRequest) -> ApiResult {
    let i = kind.info();
    let selection = Selection {
        resource: i.plural,
        namespace: (i.namespaced && !info.namespace.is_empty()).then(|| info.namespace.clone()),
        filters: Filters::from_request(kind, req)?,
    };
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let store = &ctx.cluster.store;
    let mut initial: Vec<Vec<u8>> = Vec::new();
    match req.param("resourceVersion").unwrap_or("") {
        "" | "0" => {
            for (_, obj) in store.list(i.plural, selection.namespace.as_deref()) {
                if selection.matches(i.plural, obj) {
                    initial.push(line("ADDED", obj));
                }
            }
        }
        rv => {
            let rev: u64 = rv
                .parse()
                .map_err(|_| StatusError::bad_request(format!("invalid resource version: {rv}")))?;
            match store.events_since(rev) {
                Some(events) => initial.extend(
                    events
                        .iter()
                        .filter(|e| selection.matches(e.resource, &e.object))
                        .map(|e| line(e.kind, &e.object)),
                ),
                None => initial.push(expired(rev, store.revision())),
            }
        }
    }
    let events = store.subscribe();
    let (tx, rx) = mpsc::channel(256);
    let stopping = ctx.env.stopping.clone();
    tokio::spawn(forward(initial, events, selection, tx, timeout, stopping));
    let mut resp = ApiResponse::json(200, &Value::Null);
    resp.body.clear();
    resp.stream = Some(rx);
    Ok(resp)
}

async fn forward(
    initial: Vec<Vec<u8>>,
    mut events: broadcast::Receiver<Event>,
    selection: Selection,
    tx: mpsc::Sender<Vec<u8>>,
    timeout: Option<Duration>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    for chunk in initial {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(30 * 60)));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(e) if selection.matches(e.resource, &e.object) => {
                    if tx.send(line(e.kind, &e.object)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = tx.send(expired(0, 0)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = stopping.changed() => return,
        }
    }
}
