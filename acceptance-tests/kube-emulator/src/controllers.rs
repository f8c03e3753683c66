//! What kube-controller-manager would do after a write, done at once: the `default`
//! ServiceAccount and `kube-root-ca.crt` ConfigMap of new namespaces, emptying deleted
//! namespaces (finalizers honoured), and ClusterRole aggregation.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::api::write::{self, Actor};
use crate::authn::UserInfo;
use crate::cluster::{self, Ctx};
use crate::kinds::{self, Kind, object};
use crate::managed_fields::FieldManager;
use crate::rbac::aggregation;
use crate::store::Key;

fn controller_user() -> UserInfo {
    UserInfo::authenticated(
        "system:kube-controller-manager",
        "",
        &["system:masters".to_string()],
    )
}

/// Runs the controllers interested in a created object.
pub fn after_create(ctx: &mut Ctx, kind: &dyn Kind, obj: &Value) {
    match kind.info().plural {
        "namespaces" if ctx.cluster.booting => populate_namespace(ctx, object::name(obj)),
        "namespaces" => {
            let due = Instant::now() + ctx.env.controller_delay;
            ctx.cluster
                .pending
                .push((due, object::name(obj).to_string()));
        }
        "clusterroles" => aggregate(ctx),
        _ => {}
    }
}

/// Runs the controllers interested in an updated object.
pub fn after_update(ctx: &mut Ctx, kind: &dyn Kind, _obj: &Value) {
    if kind.info().plural == "clusterroles" {
        aggregate(ctx);
    }
}

/// Runs the controllers interested in a deleted object: the namespace controller looks
/// again at a namespace being deleted once content in it goes.
pub fn after_delete(ctx: &mut Ctx, kind: &dyn Kind, obj: &Value) {
    if kind.info().plural == "clusterroles" {
        aggregate(ctx);
    }
    let namespace = object::namespace(obj).to_string();
    if kind.info().namespaced && is_terminating(ctx, &namespace) {
        finalize_namespace(ctx, &namespace);
    }
}

/// Does the controller work that is due at `now`: the `default` ServiceAccount and the
/// `kube-root-ca.crt` ConfigMap of namespaces created at least `controller_delay` ago (and
/// still there, not being deleted). Work becomes visible to the first request after it is
/// due, which is all a client can observe of an asynchronous controller.
pub fn run_due(ctx: &mut Ctx, now: Instant) {
    if ctx.cluster.pending.is_empty() {
        return;
    }
    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut ctx.cluster.pending)
        .into_iter()
        .partition(|(at, _)| *at <= now);
    ctx.cluster.pending = later;
    for (_, namespace) in due {
        let exists = ctx.cluster.store.namespace_exists(&namespace);
        if exists && !is_terminating(ctx, &namespace) {
            populate_namespace(ctx, &namespace);
        }
    }
}

fn populate_namespace(ctx: &mut Ctx, namespace: &str) {
    let user = controller_user();
    let actor = Actor::system(&user, "kube-controller-manager");
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": namespace}});
    let _ = write::create_as(ctx, kinds::by_plural("serviceaccounts"), sa, &actor);
    let ca = cluster::root_ca_config_map(namespace, &ctx.env.ca_pem);
    let _ = write::create_as(ctx, kinds::by_plural("configmaps"), ca, &actor);
}

/// Whether `namespace` exists and is being deleted.
pub fn is_terminating(ctx: &Ctx, namespace: &str) -> bool {
    ctx.cluster
        .store
        .get(&Key::new("namespaces", "", namespace))
        .is_some_and(|ns| !object::meta_str(ns, "deletionTimestamp").is_empty())
}

/// The namespace controller, for a namespace being deleted (kubernetes/kubernetes
/// pkg/controller/namespace/deletion/namespaced_resources_deleter.go): deletes its content,
/// marks content that carries finalizers for deletion instead, and while such content remains
/// reports it in the namespace's conditions. Once the namespace is empty it drops the
/// `kubernetes` finalizer; the namespace goes when no finalizer (spec or metadata) is left.
pub fn finalize_namespace(ctx: &mut Ctx, namespace: &str) {
    let now = ctx.env.clock.timestamp();
    let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
    let mut finalizers: BTreeMap<String, usize> = BTreeMap::new();
    for kind in kinds::all().iter().filter(|k| k.info().namespaced) {
        let info = kind.info();
        let objects: Vec<(Key, Value)> = ctx
            .cluster
            .store
            .list(info.plural, Some(namespace))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        for (key, obj) in objects {
            let held = object::strings_at(&obj, "/metadata/finalizers");
            if held.is_empty() {
                ctx.cluster.store.delete(&key);
                continue;
            }
            if object::meta_str(&obj, "deletionTimestamp").is_empty() {
                let mut marked = obj.clone();
                object::set_meta_ordered(&mut marked, "deletionTimestamp", json!(now));
                object::set_meta_ordered(&mut marked, "deletionGracePeriodSeconds", json!(0));
                ctx.cluster.store.put(key, marked);
            }
            *remaining
                .entry(format!("{}.{}", info.plural, info.group))
                .or_default() += 1;
            for finalizer in held {
                *finalizers.entry(finalizer).or_default() += 1;
            }
        }
    }
    let key = Key::new("namespaces", "", namespace);
    let Some(old) = ctx.cluster.store.get(&key).cloned() else {
        return;
    };
    let mut new = old.clone();
    if remaining.is_empty() {
        let spec_finalizers: Vec<String> = object::strings_at(&old, "/spec/finalizers")
            .into_iter()
            .filter(|f| f != "kubernetes")
            .collect();
        let meta_finalizers = object::strings_at(&old, "/metadata/finalizers");
        if spec_finalizers.is_empty() && meta_finalizers.is_empty() {
            ctx.cluster.store.delete(&key);
            return;
        }
        new["spec"] = json!({"finalizers": spec_finalizers});
        if spec_finalizers.is_empty() {
            new["spec"] = json!({});
        }
    } else {
        let conditions = deletion_conditions(&old, &remaining, &finalizers, &now);
        new["status"]["conditions"] = Value::Array(conditions);
    }
    let kind = kinds::by_plural("namespaces");
    let status_manager = FieldManager {
        subresource: "status",
        reset_fields: &["spec"],
        ..write::field_manager(kind)
    };
    status_manager.update(&old, &mut new, "kube-controller-manager", &now);
    let new = crate::api::body::stored_form(kind, &new);
    if new != old {
        ctx.cluster.store.put(key, new);
    }
}

/// The namespace's deletion conditions while content remains, in the controller's order;
/// a condition keeps its `lastTransitionTime` while its status stays the same.
fn deletion_conditions(
    namespace: &Value,
    remaining: &BTreeMap<String, usize>,
    finalizers: &BTreeMap<String, usize>,
    now: &str,
) -> Vec<Value> {
    let resources: Vec<String> = remaining
        .iter()
        .map(|(resource, n)| format!("{resource} has {n} resource instances"))
        .collect();
    let held: Vec<String> = finalizers
        .iter()
        .map(|(finalizer, n)| format!("{finalizer} in {n} resource instances"))
        .collect();
    let mut wanted = vec![
        (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_string(),
        ),
        (
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", resources.join(", ")),
        ),
    ];
    if held.is_empty() {
        wanted.push((
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_string(),
        ));
    } else {
        wanted.push((
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                held.join(", ")
            ),
        ));
    }
    let previous = namespace
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    wanted
        .into_iter()
        .map(|(kind, status, reason, message)| {
            let since = previous
                .iter()
                .find(|c| c["type"] == kind && c["status"] == status)
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(now));
            json!({"type": kind, "status": status, "lastTransitionTime": since,
                   "reason": reason, "message": message})
        })
        .collect()
}

/// The clusterrole-aggregation controller, run to a fixed point.
pub fn aggregate(ctx: &mut Ctx) {
    if ctx.cluster.booting {
        return;
    }
    let kind = kinds::by_plural("clusterroles");
    let user = controller_user();
    let actor = Actor::system(&user, "clusterrole-aggregation-controller");
    for _ in 0..16 {
        let updates = aggregation::pending_updates(&ctx.cluster.store);
        if updates.is_empty() {
            return;
        }
        for (name, rules) in updates {
            let Some(old) = ctx
                .cluster
                .store
                .get(&Key::new("clusterroles", "", &name))
                .cloned()
            else {
                continue;
            };
            let mut new = old.clone();
            new["rules"] = Value::Array(rules.iter().map(|r| r.to_json()).collect());
            write::field_manager(kind).update(
                &old,
                &mut new,
                &actor.manager,
                &ctx.env.clock.timestamp(),
            );
            // Aggregation writes the stored object directly; it is never re-aggregated here.
            let stored = crate::api::body::stored_form(kind, &new);
            if stored != old {
                ctx.cluster.store.put(write::key_of(kind, &old), stored);
            }
        }
    }
}
