//! What kube-controller-manager would do after a write, done at once: the `default`
//! ServiceAccount and `kube-root-ca.crt` ConfigMap of new namespaces, emptying deleted
//! namespaces, and ClusterRole aggregation.

use serde_json::{Value, json};

use crate::api::write::{self, Actor};
use crate::authn::UserInfo;
use crate::cluster::{self, Ctx};
use crate::kinds::{self, Kind, object};
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
        "namespaces" => populate_namespace(ctx, object::name(obj)),
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

/// Runs the controllers interested in a deleted object.
pub fn after_delete(ctx: &mut Ctx, kind: &dyn Kind, _obj: &Value) {
    if kind.info().plural == "clusterroles" {
        aggregate(ctx);
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

/// The namespace controller: deletes everything in `namespace`, then the namespace.
pub fn finalize_namespace(ctx: &mut Ctx, namespace: &str) {
    for kind in kinds::all().iter().filter(|k| k.info().namespaced) {
        let keys: Vec<Key> = ctx
            .cluster
            .store
            .list(kind.info().plural, Some(namespace))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(obj) = ctx.cluster.store.delete(&key) {
                after_delete(ctx, *kind, &obj);
            }
        }
    }
    ctx.cluster
        .store
        .delete(&Key::new("namespaces", "", namespace));
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
