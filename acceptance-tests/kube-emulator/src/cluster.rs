//! The emulated cluster: object store, static tokens, the settings request handling needs,
//! and the boot sequence (built-in namespaces, bootstrap RBAC policy).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::write::{self, Actor};
use crate::authn::UserInfo;
use crate::authn::service_account::SignerSource;
use crate::authn::token_file::StaticToken;
use crate::clock::Clock;
use crate::kinds;
use crate::rbac::bootstrap;
use crate::store::Store;

/// Settings fixed for the life of an emulator.
#[derive(Debug)]
pub struct Env {
    /// ServiceAccount token issuer (`--service-account-issuer`).
    pub issuer: String,
    /// Audiences the API accepts (`--api-audiences`).
    pub api_audiences: Vec<String>,
    /// PEM of the CA, published in every namespace's `kube-root-ca.crt`.
    pub ca_pem: String,
    /// `host:port` clients reach the server at.
    pub server_address: String,
    /// `jwks_uri` of the OIDC discovery document.
    pub jwks_uri: String,
    /// Wall clock.
    pub clock: Arc<Clock>,
    /// Turns true when the emulator shuts down (ends watches).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Delay of the controllers that populate a new namespace.
    pub controller_delay: std::time::Duration,
}

/// Mutable cluster state.
#[derive(Debug)]
pub struct Cluster {
    /// Objects.
    pub store: Store,
    /// Static bearer tokens.
    pub static_tokens: Vec<StaticToken>,
    /// True while the boot sequence runs (ClusterRole aggregation waits for its end).
    pub booting: bool,
    /// Controller work not done yet: (when it is due, the namespace to populate).
    pub pending: Vec<(std::time::Instant, String)>,
}

/// Everything a request handler works with.
pub struct Ctx<'a> {
    /// Cluster state.
    pub cluster: &'a mut Cluster,
    /// Settings.
    pub env: &'a Env,
    /// ServiceAccount token key.
    pub signer: &'a SignerSource,
}

/// Namespaces every cluster has.
pub const BUILTIN_NAMESPACES: &[&str] =
    &["default", "kube-node-lease", "kube-public", "kube-system"];

fn system_user() -> UserInfo {
    UserInfo::authenticated("system:apiserver", "", &["system:masters".to_string()])
}

impl Cluster {
    /// A freshly booted cluster: built-in namespaces (with their controllers' objects) and
    /// the bootstrap RBAC policy.
    pub fn boot(env: &Env, signer: &SignerSource, static_tokens: Vec<StaticToken>) -> Cluster {
        let mut cluster = Cluster {
            store: Store::new(1000),
            static_tokens,
            booting: true,
            pending: Vec::new(),
        };
        let mut ctx = Ctx {
            cluster: &mut cluster,
            env,
            signer,
        };
        let user = system_user();
        let actor = Actor::system(&user, "kube-apiserver");
        for ns in BUILTIN_NAMESPACES {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            write::create_as(&mut ctx, kinds::by_plural("namespaces"), obj, &actor)
                .expect("built-in namespace");
        }
        for role in bootstrap::cluster_roles() {
            write::create_as(
                &mut ctx,
                kinds::by_plural("clusterroles"),
                bootstrap::cluster_role_object(&role),
                &actor,
            )
            .expect("bootstrap cluster role");
        }
        for binding in bootstrap::cluster_role_bindings() {
            write::create_as(
                &mut ctx,
                kinds::by_plural("clusterrolebindings"),
                bootstrap::cluster_role_binding_object(&binding),
                &actor,
            )
            .expect("bootstrap cluster role binding");
        }
        ctx.cluster.booting = false;
        crate::controllers::aggregate(&mut ctx);
        cluster
    }
}

/// The `kube-root-ca.crt` ConfigMap the root-ca-cert-publisher puts in every namespace.
pub fn root_ca_config_map(namespace: &str, ca_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "kube-root-ca.crt",
            "namespace": namespace,
            "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."},
        },
        "data": {"ca.crt": ca_pem},
    })
}
