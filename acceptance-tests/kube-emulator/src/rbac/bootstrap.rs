//! The bootstrap RBAC policy of a v1.28 API server
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`): the user-facing and system
//! ClusterRoles, the aggregated admin/edit/view roles and their bindings.

use serde_json::{Map, Value, json};

use super::rule::PolicyRule;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

const CORE: &str = "";
const APPS: &str = "apps";
const AUTHENTICATION: &str = "authentication.k8s.io";
const AUTHORIZATION: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTIFICATES: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EXTENSIONS: &str = "extensions";
const NETWORKING: &str = "networking.k8s.io";
const POLICY: &str = "policy";
const RBAC: &str = "rbac.authorization.k8s.io";
const STORAGE: &str = "storage.k8s.io";
const EVENTS: &str = "events.k8s.io";

fn r(verbs: &[&str], group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule::resource(verbs, &[group], resources)
}

fn events_rule() -> PolicyRule {
    PolicyRule::resource(&["create", "update", "patch"], &[CORE, EVENTS], &["events"])
}

/// A bootstrap ClusterRole.
pub struct BootstrapRole {
    /// Name.
    pub name: &'static str,
    /// Rules (empty for aggregated roles).
    pub rules: Vec<PolicyRule>,
    /// Extra labels (aggregation labels).
    pub labels: &'static [(&'static str, &'static str)],
    /// `aggregationRule` matchLabels selectors.
    pub aggregate_from: &'static [(&'static str, &'static str)],
}

fn role(name: &'static str, rules: Vec<PolicyRule>) -> BootstrapRole {
    BootstrapRole {
        name,
        rules,
        labels: &[],
        aggregate_from: &[],
    }
}

fn aggregate_to_view() -> Vec<PolicyRule> {
    vec![
        r(
            READ,
            CORE,
            &[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        r(
            READ,
            CORE,
            &[
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        r(READ, CORE, &["namespaces"]),
        r(&["get", "list", "watch"], DISCOVERY, &["endpointslices"]),
        r(
            READ,
            APPS,
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        r(
            READ,
            AUTOSCALING,
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        r(
            READ,
            BATCH,
            &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
        ),
        r(
            READ,
            EXTENSIONS,
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        r(
            READ,
            POLICY,
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        r(
            READ,
            NETWORKING,
            &["networkpolicies", "ingresses", "ingresses/status"],
        ),
    ]
}

fn aggregate_to_edit() -> Vec<PolicyRule> {
    vec![
        r(
            READ,
            CORE,
            &[
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ],
        ),
        r(&["impersonate"], CORE, &["serviceaccounts"]),
        r(
            WRITE,
            CORE,
            &[
                "pods",
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
            ],
        ),
        r(&["create"], CORE, &["pods/eviction"]),
        r(
            WRITE,
            CORE,
            &[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
                "events",
            ],
        ),
        r(&["create"], CORE, &["serviceaccounts/token"]),
        r(
            WRITE,
            APPS,
            &[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        r(WRITE, AUTOSCALING, &["horizontalpodautoscalers"]),
        r(WRITE, BATCH, &["jobs", "cronjobs"]),
        r(
            WRITE,
            EXTENSIONS,
            &[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        r(WRITE, POLICY, &["poddisruptionbudgets"]),
        r(WRITE, NETWORKING, &["networkpolicies", "ingresses"]),
        r(READ_WRITE, COORDINATION, &["leases"]),
    ]
}

/// Every bootstrap ClusterRole.
pub fn cluster_roles() -> Vec<BootstrapRole> {
    vec![
        role(
            "cluster-admin",
            vec![
                PolicyRule::resource(&["*"], &["*"], &["*"]),
                PolicyRule::urls(&["*"], &["*"]),
            ],
        ),
        role(
            "system:discovery",
            vec![PolicyRule::urls(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        role(
            "system:monitoring",
            vec![PolicyRule::urls(
                &["get"],
                &[
                    "/metrics",
                    "/metrics/slis",
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/livez/*",
                    "/readyz/*",
                    "/healthz/*",
                ],
            )],
        ),
        role(
            "system:basic-user",
            vec![
                r(
                    &["create"],
                    AUTHORIZATION,
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                r(&["create"], AUTHENTICATION, &["selfsubjectreviews"]),
            ],
        ),
        role(
            "system:public-info-viewer",
            vec![PolicyRule::urls(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        BootstrapRole {
            name: "admin",
            rules: vec![],
            labels: &[],
            aggregate_from: &[("rbac.authorization.k8s.io/aggregate-to-admin", "true")],
        },
        BootstrapRole {
            name: "edit",
            rules: vec![],
            labels: &[("rbac.authorization.k8s.io/aggregate-to-admin", "true")],
            aggregate_from: &[("rbac.authorization.k8s.io/aggregate-to-edit", "true")],
        },
        BootstrapRole {
            name: "view",
            rules: vec![],
            labels: &[("rbac.authorization.k8s.io/aggregate-to-edit", "true")],
            aggregate_from: &[("rbac.authorization.k8s.io/aggregate-to-view", "true")],
        },
        BootstrapRole {
            name: "system:aggregate-to-admin",
            rules: vec![
                r(&["create"], AUTHORIZATION, &["localsubjectaccessreviews"]),
                r(READ_WRITE, RBAC, &["roles", "rolebindings"]),
            ],
            labels: &[("rbac.authorization.k8s.io/aggregate-to-admin", "true")],
            aggregate_from: &[],
        },
        BootstrapRole {
            name: "system:aggregate-to-edit",
            rules: aggregate_to_edit(),
            labels: &[("rbac.authorization.k8s.io/aggregate-to-edit", "true")],
            aggregate_from: &[],
        },
        BootstrapRole {
            name: "system:aggregate-to-view",
            rules: aggregate_to_view(),
            labels: &[("rbac.authorization.k8s.io/aggregate-to-view", "true")],
            aggregate_from: &[],
        },
        role(
            "system:heapster",
            vec![
                r(READ, CORE, &["events", "pods", "nodes", "namespaces"]),
                r(READ, EXTENSIONS, &["deployments"]),
            ],
        ),
        role(
            "system:node-problem-detector",
            vec![
                r(&["get"], CORE, &["nodes"]),
                r(&["patch"], CORE, &["nodes/status"]),
                events_rule(),
            ],
        ),
        role(
            "system:kubelet-api-admin",
            vec![
                r(&["get", "list", "watch"], CORE, &["nodes"]),
                r(&["proxy"], CORE, &["nodes"]),
                r(
                    &["*"],
                    CORE,
                    &["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"],
                ),
            ],
        ),
        role(
            "system:node-bootstrapper",
            vec![r(
                &["create", "get", "list", "watch"],
                CERTIFICATES,
                &["certificatesigningrequests"],
            )],
        ),
        role(
            "system:auth-delegator",
            vec![
                r(&["create"], AUTHENTICATION, &["tokenreviews"]),
                r(&["create"], AUTHORIZATION, &["subjectaccessreviews"]),
            ],
        ),
        role(
            "system:kube-aggregator",
            vec![r(READ, CORE, &["services", "endpoints"])],
        ),
        role(
            "system:kube-dns",
            vec![
                r(&["list", "watch"], CORE, &["endpoints", "services"]),
                r(&["list", "watch"], DISCOVERY, &["endpointslices"]),
            ],
        ),
        role(
            "system:persistent-volume-provisioner",
            vec![
                r(
                    &["get", "list", "watch", "create", "delete"],
                    CORE,
                    &["persistentvolumes"],
                ),
                r(
                    &["get", "list", "watch", "update"],
                    CORE,
                    &["persistentvolumeclaims"],
                ),
                r(READ, STORAGE, &["storageclasses"]),
                r(&["watch"], CORE, &["events"]),
                events_rule(),
            ],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![r(
                &["create"],
                CERTIFICATES,
                &["certificatesigningrequests/nodeclient"],
            )],
        ),
        role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![r(
                &["create"],
                CERTIFICATES,
                &["certificatesigningrequests/selfnodeclient"],
            )],
        ),
        role(
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            vec![
                r(&["approve"], CERTIFICATES, &["signers"])
                    .names(&["kubernetes.io/kube-apiserver-client"]),
            ],
        ),
        role(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            vec![
                r(&["approve"], CERTIFICATES, &["signers"])
                    .names(&["kubernetes.io/kube-apiserver-client-kubelet"]),
            ],
        ),
        role(
            "system:certificates.k8s.io:kubelet-serving-approver",
            vec![
                r(&["approve"], CERTIFICATES, &["signers"])
                    .names(&["kubernetes.io/kubelet-serving"]),
            ],
        ),
        role(
            "system:certificates.k8s.io:legacy-unknown-approver",
            vec![
                r(&["approve"], CERTIFICATES, &["signers"])
                    .names(&["kubernetes.io/legacy-unknown"]),
            ],
        ),
        role(
            "system:service-account-issuer-discovery",
            vec![PolicyRule::urls(
                &["get"],
                &[
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ],
            )],
        ),
        role(
            "system:volume-scheduler",
            vec![
                r(READ, CORE, &["persistentvolumes"]),
                r(READ, STORAGE, &["storageclasses"]),
                r(
                    &["get", "list", "patch", "update", "watch"],
                    CORE,
                    &["persistentvolumeclaims"],
                ),
            ],
        ),
    ]
}

/// A bootstrap ClusterRoleBinding: name, role, subjects (kind, name, namespace).
pub type BootstrapBinding = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

/// Every bootstrap ClusterRoleBinding.
pub fn cluster_role_bindings() -> Vec<BootstrapBinding> {
    vec![
        (
            "cluster-admin",
            "cluster-admin",
            &[("Group", "system:masters", "")],
        ),
        (
            "system:monitoring",
            "system:monitoring",
            &[("Group", "system:monitoring", "")],
        ),
        (
            "system:discovery",
            "system:discovery",
            &[("Group", "system:authenticated", "")],
        ),
        (
            "system:basic-user",
            "system:basic-user",
            &[("Group", "system:authenticated", "")],
        ),
        (
            "system:public-info-viewer",
            "system:public-info-viewer",
            &[
                ("Group", "system:authenticated", ""),
                ("Group", "system:unauthenticated", ""),
            ],
        ),
        (
            "system:kube-dns",
            "system:kube-dns",
            &[("ServiceAccount", "kube-dns", "kube-system")],
        ),
        (
            "system:volume-scheduler",
            "system:volume-scheduler",
            &[("User", "system:kube-scheduler", "")],
        ),
        (
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            &[("Group", "system:serviceaccounts", "")],
        ),
    ]
}

fn string_map(pairs: &[(&str, &str)]) -> Value {
    let mut sorted: Vec<_> = pairs.to_vec();
    sorted.sort();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

fn bootstrap_meta(name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = vec![("kubernetes.io/bootstrapping", "rbac-defaults")];
    labels.extend_from_slice(extra_labels);
    json!({
        "name": name,
        "labels": string_map(&labels),
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

/// The ClusterRole object of `role`.
pub fn cluster_role_object(role: &BootstrapRole) -> Value {
    let mut obj = Map::new();
    obj.insert("kind".into(), json!("ClusterRole"));
    obj.insert("apiVersion".into(), json!("rbac.authorization.k8s.io/v1"));
    obj.insert("metadata".into(), bootstrap_meta(role.name, role.labels));
    if role.aggregate_from.is_empty() {
        obj.insert(
            "rules".into(),
            Value::Array(role.rules.iter().map(PolicyRule::to_json).collect()),
        );
    } else {
        obj.insert(
            "aggregationRule".into(),
            json!({"clusterRoleSelectors": [{"matchLabels": string_map(role.aggregate_from)}]}),
        );
    }
    Value::Object(obj)
}

/// The ClusterRoleBinding object of `binding`.
pub fn cluster_role_binding_object(binding: &BootstrapBinding) -> Value {
    let (name, role, subjects) = binding;
    let subjects: Vec<Value> = subjects
        .iter()
        .map(|(kind, name, ns)| {
            let mut s = Map::new();
            s.insert("kind".into(), json!(kind));
            if *kind != "ServiceAccount" {
                s.insert("apiGroup".into(), json!(RBAC));
            }
            s.insert("name".into(), json!(name));
            if !ns.is_empty() {
                s.insert("namespace".into(), json!(ns));
            }
            Value::Object(s)
        })
        .collect();
    json!({
        "kind": "ClusterRoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": bootstrap_meta(name, &[]),
        "subjects": subjects,
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
    })
}
