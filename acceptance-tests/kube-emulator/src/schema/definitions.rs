//! Schemas of the kinds the emulator serves, transcribed from the v1.28 Go types
//! (field order, `omitempty`, pointers, list types and patch strategies).

use super::{Field, ListType, StructType, Type};

/// `string`.
pub static STRING: Type = Type::String;
/// `bool`.
pub static BOOL: Type = Type::Bool;
/// `int64`.
pub static INT: Type = Type::Int;
/// `metav1.Time`.
pub static TIME: Type = Type::Time;
/// `[]byte`.
pub static BYTES: Type = Type::Bytes;
/// Untyped JSON owned as a whole.
pub static RAW: Type = Type::Raw;
/// `map[string]string`.
pub static STRING_MAP: Type = Type::Map(&STRING);
/// `map[string][]byte`.
pub static BYTES_MAP: Type = Type::Map(&BYTES);
/// Atomic `[]string`.
pub static STRING_LIST: Type = Type::List(&STRING, ListType::Atomic);
/// `[]string` with `listType=set`.
pub static STRING_SET: Type = Type::List(&STRING, ListType::Set);
/// `map[string][]string`.
pub static STRING_LIST_MAP: Type = Type::Map(&STRING_LIST);

// ---- meta.k8s.io ----

static OWNER_REFERENCE: StructType = StructType {
    go_name: "v1.OwnerReference",
    fields: &[
        Field::req("apiVersion", &STRING),
        Field::req("kind", &STRING),
        Field::req("name", &STRING),
        Field::req("uid", &STRING),
        Field::ptr("controller", &BOOL),
        Field::ptr("blockOwnerDeletion", &BOOL),
    ],
    atomic: true,
};
static OWNER_REFERENCE_TYPE: Type = Type::Struct(&OWNER_REFERENCE);
static OWNER_REFERENCES: Type = Type::List(&OWNER_REFERENCE_TYPE, ListType::Map(&["uid"]));

static MANAGED_FIELDS_ENTRY: StructType = StructType {
    go_name: "v1.ManagedFieldsEntry",
    fields: &[
        Field::opt("manager", &STRING),
        Field::opt("operation", &STRING),
        Field::opt("apiVersion", &STRING),
        Field::ptr("time", &TIME),
        Field::opt("fieldsType", &STRING),
        Field::ptr("fieldsV1", &RAW),
        Field::opt("subresource", &STRING),
    ],
    atomic: false,
};
static MANAGED_FIELDS_ENTRY_TYPE: Type = Type::Struct(&MANAGED_FIELDS_ENTRY);
static MANAGED_FIELDS: Type = Type::List(&MANAGED_FIELDS_ENTRY_TYPE, ListType::Atomic);

static OBJECT_META_STRUCT: StructType = StructType {
    go_name: "v1.ObjectMeta",
    fields: &[
        Field::opt("name", &STRING),
        Field::opt("generateName", &STRING),
        Field::opt("namespace", &STRING),
        Field::opt("selfLink", &STRING),
        Field::opt("uid", &STRING),
        Field::opt("resourceVersion", &STRING),
        Field::opt("generation", &INT),
        Field::opt("creationTimestamp", &TIME),
        Field::ptr("deletionTimestamp", &TIME),
        Field::ptr("deletionGracePeriodSeconds", &INT),
        Field::opt("labels", &STRING_MAP),
        Field::opt("annotations", &STRING_MAP),
        Field::opt("ownerReferences", &OWNER_REFERENCES),
        Field::opt("finalizers", &STRING_SET),
        Field::opt("managedFields", &MANAGED_FIELDS),
    ],
    atomic: false,
};
/// `metav1.ObjectMeta`.
pub static OBJECT_META: Type = Type::Struct(&OBJECT_META_STRUCT);

static LABEL_SELECTOR_REQUIREMENT: StructType = StructType {
    go_name: "v1.LabelSelectorRequirement",
    fields: &[
        Field::req("key", &STRING),
        Field::req("operator", &STRING),
        Field::opt("values", &STRING_LIST),
    ],
    atomic: false,
};
static LABEL_SELECTOR_REQUIREMENT_TYPE: Type = Type::Struct(&LABEL_SELECTOR_REQUIREMENT);
static LABEL_SELECTOR_REQUIREMENTS: Type =
    Type::List(&LABEL_SELECTOR_REQUIREMENT_TYPE, ListType::Atomic);
static LABEL_SELECTOR: StructType = StructType {
    go_name: "v1.LabelSelector",
    fields: &[
        Field::opt("matchLabels", &STRING_MAP),
        Field::opt("matchExpressions", &LABEL_SELECTOR_REQUIREMENTS),
    ],
    atomic: true,
};
static LABEL_SELECTOR_TYPE: Type = Type::Struct(&LABEL_SELECTOR);

macro_rules! object {
    ($name:ident, $go:literal, [$($field:expr),* $(,)?]) => {
        static $name: StructType = StructType {
            go_name: $go,
            fields: &[
                Field::opt("kind", &STRING),
                Field::opt("apiVersion", &STRING),
                Field::opt("metadata", &OBJECT_META),
                $($field),*
            ],
            atomic: false,
        };
    };
}

// ---- core/v1 ----

static NAMESPACE_SPEC: StructType = StructType {
    go_name: "v1.NamespaceSpec",
    fields: &[Field::opt("finalizers", &STRING_LIST)],
    atomic: false,
};
static NAMESPACE_CONDITION: StructType = StructType {
    go_name: "v1.NamespaceCondition",
    fields: &[
        Field::req("type", &STRING),
        Field::req("status", &STRING),
        Field::opt("lastTransitionTime", &TIME),
        Field::opt("reason", &STRING),
        Field::opt("message", &STRING),
    ],
    atomic: false,
};
static NAMESPACE_CONDITION_TYPE: Type = Type::Struct(&NAMESPACE_CONDITION);
static NAMESPACE_CONDITIONS: Type = Type::List(&NAMESPACE_CONDITION_TYPE, ListType::Map(&["type"]));
static NAMESPACE_STATUS: StructType = StructType {
    go_name: "v1.NamespaceStatus",
    fields: &[
        Field::opt("phase", &STRING),
        Field::opt("conditions", &NAMESPACE_CONDITIONS),
    ],
    atomic: false,
};
static NAMESPACE_SPEC_TYPE: Type = Type::Struct(&NAMESPACE_SPEC);
static NAMESPACE_STATUS_TYPE: Type = Type::Struct(&NAMESPACE_STATUS);
object!(
    NAMESPACE_STRUCT,
    "v1.Namespace",
    [
        Field::opt("spec", &NAMESPACE_SPEC_TYPE),
        Field::opt("status", &NAMESPACE_STATUS_TYPE),
    ]
);
/// `v1.Namespace`.
pub static NAMESPACE: Type = Type::Struct(&NAMESPACE_STRUCT);

static OBJECT_REFERENCE: StructType = StructType {
    go_name: "v1.ObjectReference",
    fields: &[
        Field::opt("kind", &STRING),
        Field::opt("namespace", &STRING),
        Field::opt("name", &STRING),
        Field::opt("uid", &STRING),
        Field::opt("apiVersion", &STRING),
        Field::opt("resourceVersion", &STRING),
        Field::opt("fieldPath", &STRING),
    ],
    atomic: true,
};
static OBJECT_REFERENCE_TYPE: Type = Type::Struct(&OBJECT_REFERENCE);
static OBJECT_REFERENCES: Type = Type::List(&OBJECT_REFERENCE_TYPE, ListType::Map(&["name"]));
static LOCAL_OBJECT_REFERENCE: StructType = StructType {
    go_name: "v1.LocalObjectReference",
    fields: &[Field::opt("name", &STRING)],
    atomic: true,
};
static LOCAL_OBJECT_REFERENCE_TYPE: Type = Type::Struct(&LOCAL_OBJECT_REFERENCE);
static LOCAL_OBJECT_REFERENCES: Type = Type::List(&LOCAL_OBJECT_REFERENCE_TYPE, ListType::Atomic);
object!(
    SERVICE_ACCOUNT_STRUCT,
    "v1.ServiceAccount",
    [
        Field::opt("secrets", &OBJECT_REFERENCES),
        Field::opt("imagePullSecrets", &LOCAL_OBJECT_REFERENCES),
        Field::ptr("automountServiceAccountToken", &BOOL),
    ]
);
/// `v1.ServiceAccount`.
pub static SERVICE_ACCOUNT: Type = Type::Struct(&SERVICE_ACCOUNT_STRUCT);

object!(
    SECRET_STRUCT,
    "v1.Secret",
    [
        Field::ptr("immutable", &BOOL),
        Field::opt("data", &BYTES_MAP),
        Field::opt("stringData", &STRING_MAP),
        Field::opt("type", &STRING),
    ]
);
/// `v1.Secret`.
pub static SECRET: Type = Type::Struct(&SECRET_STRUCT);

object!(
    CONFIG_MAP_STRUCT,
    "v1.ConfigMap",
    [
        Field::ptr("immutable", &BOOL),
        Field::opt("data", &STRING_MAP),
        Field::opt("binaryData", &BYTES_MAP),
    ]
);
/// `v1.ConfigMap`.
pub static CONFIG_MAP: Type = Type::Struct(&CONFIG_MAP_STRUCT);

// ---- rbac.authorization.k8s.io/v1 ----

static POLICY_RULE: StructType = StructType {
    go_name: "v1.PolicyRule",
    fields: &[
        Field::req("verbs", &STRING_LIST),
        Field::opt("apiGroups", &STRING_LIST),
        Field::opt("resources", &STRING_LIST),
        Field::opt("resourceNames", &STRING_LIST),
        Field::opt("nonResourceURLs", &STRING_LIST),
    ],
    atomic: false,
};
static POLICY_RULE_TYPE: Type = Type::Struct(&POLICY_RULE);
static POLICY_RULES: Type = Type::List(&POLICY_RULE_TYPE, ListType::Atomic);
object!(ROLE_STRUCT, "v1.Role", [Field::req("rules", &POLICY_RULES)]);
/// `rbac/v1.Role`.
pub static ROLE: Type = Type::Struct(&ROLE_STRUCT);

static LABEL_SELECTORS: Type = Type::List(&LABEL_SELECTOR_TYPE, ListType::Atomic);
static AGGREGATION_RULE: StructType = StructType {
    go_name: "v1.AggregationRule",
    fields: &[Field::opt("clusterRoleSelectors", &LABEL_SELECTORS)],
    atomic: false,
};
static AGGREGATION_RULE_TYPE: Type = Type::Struct(&AGGREGATION_RULE);
object!(
    CLUSTER_ROLE_STRUCT,
    "v1.ClusterRole",
    [
        Field::req("rules", &POLICY_RULES),
        Field::ptr("aggregationRule", &AGGREGATION_RULE_TYPE),
    ]
);
/// `rbac/v1.ClusterRole`.
pub static CLUSTER_ROLE: Type = Type::Struct(&CLUSTER_ROLE_STRUCT);

static SUBJECT: StructType = StructType {
    go_name: "v1.Subject",
    fields: &[
        Field::req("kind", &STRING),
        Field::opt("apiGroup", &STRING),
        Field::req("name", &STRING),
        Field::opt("namespace", &STRING),
    ],
    atomic: true,
};
static SUBJECT_TYPE: Type = Type::Struct(&SUBJECT);
static SUBJECTS: Type = Type::List(&SUBJECT_TYPE, ListType::Atomic);
static ROLE_REF: StructType = StructType {
    go_name: "v1.RoleRef",
    fields: &[
        Field::req("apiGroup", &STRING),
        Field::req("kind", &STRING),
        Field::req("name", &STRING),
    ],
    atomic: true,
};
static ROLE_REF_TYPE: Type = Type::Struct(&ROLE_REF);
object!(
    ROLE_BINDING_STRUCT,
    "v1.RoleBinding",
    [
        Field::opt("subjects", &SUBJECTS),
        Field::req("roleRef", &ROLE_REF_TYPE),
    ]
);
/// `rbac/v1.RoleBinding` and `ClusterRoleBinding` (same shape).
pub static ROLE_BINDING: Type = Type::Struct(&ROLE_BINDING_STRUCT);

// ---- authorization.k8s.io/v1 ----

static RESOURCE_ATTRIBUTES: StructType = StructType {
    go_name: "v1.ResourceAttributes",
    fields: &[
        Field::opt("namespace", &STRING),
        Field::opt("verb", &STRING),
        Field::opt("group", &STRING),
        Field::opt("version", &STRING),
        Field::opt("resource", &STRING),
        Field::opt("subresource", &STRING),
        Field::opt("name", &STRING),
    ],
    atomic: false,
};
static RESOURCE_ATTRIBUTES_TYPE: Type = Type::Struct(&RESOURCE_ATTRIBUTES);
static NON_RESOURCE_ATTRIBUTES: StructType = StructType {
    go_name: "v1.NonResourceAttributes",
    fields: &[Field::opt("path", &STRING), Field::opt("verb", &STRING)],
    atomic: false,
};
static NON_RESOURCE_ATTRIBUTES_TYPE: Type = Type::Struct(&NON_RESOURCE_ATTRIBUTES);
static SUBJECT_ACCESS_REVIEW_SPEC: StructType = StructType {
    go_name: "v1.SubjectAccessReviewSpec",
    fields: &[
        Field::ptr("resourceAttributes", &RESOURCE_ATTRIBUTES_TYPE),
        Field::ptr("nonResourceAttributes", &NON_RESOURCE_ATTRIBUTES_TYPE),
        Field::opt("user", &STRING),
        Field::opt("groups", &STRING_LIST),
        Field::opt("extra", &STRING_LIST_MAP),
        Field::opt("uid", &STRING),
    ],
    atomic: false,
};
static SUBJECT_ACCESS_REVIEW_STATUS: StructType = StructType {
    go_name: "v1.SubjectAccessReviewStatus",
    fields: &[
        Field::req("allowed", &BOOL),
        Field::opt("denied", &BOOL),
        Field::opt("reason", &STRING),
        Field::opt("evaluationError", &STRING),
    ],
    atomic: false,
};
static SUBJECT_ACCESS_REVIEW_SPEC_TYPE: Type = Type::Struct(&SUBJECT_ACCESS_REVIEW_SPEC);
static SUBJECT_ACCESS_REVIEW_STATUS_TYPE: Type = Type::Struct(&SUBJECT_ACCESS_REVIEW_STATUS);
object!(
    SUBJECT_ACCESS_REVIEW_STRUCT,
    "v1.SubjectAccessReview",
    [
        Field::req("spec", &SUBJECT_ACCESS_REVIEW_SPEC_TYPE),
        Field::opt("status", &SUBJECT_ACCESS_REVIEW_STATUS_TYPE),
    ]
);
/// `SubjectAccessReview` and `LocalSubjectAccessReview`.
pub static SUBJECT_ACCESS_REVIEW: Type = Type::Struct(&SUBJECT_ACCESS_REVIEW_STRUCT);

static SELF_SUBJECT_ACCESS_REVIEW_SPEC: StructType = StructType {
    go_name: "v1.SelfSubjectAccessReviewSpec",
    fields: &[
        Field::ptr("resourceAttributes", &RESOURCE_ATTRIBUTES_TYPE),
        Field::ptr("nonResourceAttributes", &NON_RESOURCE_ATTRIBUTES_TYPE),
    ],
    atomic: false,
};
static SELF_SUBJECT_ACCESS_REVIEW_SPEC_TYPE: Type = Type::Struct(&SELF_SUBJECT_ACCESS_REVIEW_SPEC);
object!(
    SELF_SUBJECT_ACCESS_REVIEW_STRUCT,
    "v1.SelfSubjectAccessReview",
    [
        Field::req("spec", &SELF_SUBJECT_ACCESS_REVIEW_SPEC_TYPE),
        Field::opt("status", &SUBJECT_ACCESS_REVIEW_STATUS_TYPE),
    ]
);
/// `SelfSubjectAccessReview`.
pub static SELF_SUBJECT_ACCESS_REVIEW: Type = Type::Struct(&SELF_SUBJECT_ACCESS_REVIEW_STRUCT);

static SELF_SUBJECT_RULES_REVIEW_SPEC: StructType = StructType {
    go_name: "v1.SelfSubjectRulesReviewSpec",
    fields: &[Field::opt("namespace", &STRING)],
    atomic: false,
};
static SELF_SUBJECT_RULES_REVIEW_SPEC_TYPE: Type = Type::Struct(&SELF_SUBJECT_RULES_REVIEW_SPEC);
object!(
    SELF_SUBJECT_RULES_REVIEW_STRUCT,
    "v1.SelfSubjectRulesReview",
    [
        Field::req("spec", &SELF_SUBJECT_RULES_REVIEW_SPEC_TYPE),
        Field::opt("status", &RAW),
    ]
);
/// `SelfSubjectRulesReview` (status is produced by the server only).
pub static SELF_SUBJECT_RULES_REVIEW: Type = Type::Struct(&SELF_SUBJECT_RULES_REVIEW_STRUCT);

// ---- authentication.k8s.io/v1 ----

static USER_INFO: StructType = StructType {
    go_name: "v1.UserInfo",
    fields: &[
        Field::opt("username", &STRING),
        Field::opt("uid", &STRING),
        Field::opt("groups", &STRING_LIST),
        Field::opt("extra", &STRING_LIST_MAP),
    ],
    atomic: false,
};
static USER_INFO_TYPE: Type = Type::Struct(&USER_INFO);
static SELF_SUBJECT_REVIEW_STATUS: StructType = StructType {
    go_name: "v1.SelfSubjectReviewStatus",
    fields: &[Field::opt("userInfo", &USER_INFO_TYPE)],
    atomic: false,
};
static SELF_SUBJECT_REVIEW_STATUS_TYPE: Type = Type::Struct(&SELF_SUBJECT_REVIEW_STATUS);
object!(
    SELF_SUBJECT_REVIEW_STRUCT,
    "v1.SelfSubjectReview",
    [Field::opt("status", &SELF_SUBJECT_REVIEW_STATUS_TYPE),]
);
/// `SelfSubjectReview`.
pub static SELF_SUBJECT_REVIEW: Type = Type::Struct(&SELF_SUBJECT_REVIEW_STRUCT);

static TOKEN_REVIEW_SPEC: StructType = StructType {
    go_name: "v1.TokenReviewSpec",
    fields: &[
        Field::opt("token", &STRING),
        Field::opt("audiences", &STRING_LIST),
    ],
    atomic: false,
};
static TOKEN_REVIEW_STATUS: StructType = StructType {
    go_name: "v1.TokenReviewStatus",
    fields: &[
        Field::opt("authenticated", &BOOL),
        Field::opt("user", &USER_INFO_TYPE),
        Field::opt("audiences", &STRING_LIST),
        Field::opt("error", &STRING),
    ],
    atomic: false,
};
static TOKEN_REVIEW_SPEC_TYPE: Type = Type::Struct(&TOKEN_REVIEW_SPEC);
static TOKEN_REVIEW_STATUS_TYPE: Type = Type::Struct(&TOKEN_REVIEW_STATUS);
object!(
    TOKEN_REVIEW_STRUCT,
    "v1.TokenReview",
    [
        Field::req("spec", &TOKEN_REVIEW_SPEC_TYPE),
        Field::opt("status", &TOKEN_REVIEW_STATUS_TYPE),
    ]
);
/// `TokenReview`.
pub static TOKEN_REVIEW: Type = Type::Struct(&TOKEN_REVIEW_STRUCT);

static BOUND_OBJECT_REFERENCE: StructType = StructType {
    go_name: "v1.BoundObjectReference",
    fields: &[
        Field::opt("kind", &STRING),
        Field::opt("apiVersion", &STRING),
        Field::opt("name", &STRING),
        Field::opt("uid", &STRING),
    ],
    atomic: false,
};
static BOUND_OBJECT_REFERENCE_TYPE: Type = Type::Struct(&BOUND_OBJECT_REFERENCE);
static TOKEN_REQUEST_SPEC: StructType = StructType {
    go_name: "v1.TokenRequestSpec",
    fields: &[
        Field::req("audiences", &STRING_LIST),
        Field::ptr("expirationSeconds", &INT),
        Field::nullable("boundObjectRef", &BOUND_OBJECT_REFERENCE_TYPE),
    ],
    atomic: false,
};
static TOKEN_REQUEST_STATUS: StructType = StructType {
    go_name: "v1.TokenRequestStatus",
    fields: &[
        Field::req("token", &STRING),
        Field::req("expirationTimestamp", &TIME),
    ],
    atomic: false,
};
static TOKEN_REQUEST_SPEC_TYPE: Type = Type::Struct(&TOKEN_REQUEST_SPEC);
static TOKEN_REQUEST_STATUS_TYPE: Type = Type::Struct(&TOKEN_REQUEST_STATUS);
object!(
    TOKEN_REQUEST_STRUCT,
    "v1.TokenRequest",
    [
        Field::req("spec", &TOKEN_REQUEST_SPEC_TYPE),
        Field::opt("status", &TOKEN_REQUEST_STATUS_TYPE),
    ]
);
/// `TokenRequest` (the `serviceaccounts/token` subresource).
pub static TOKEN_REQUEST: Type = Type::Struct(&TOKEN_REQUEST_STRUCT);

// ---- DeleteOptions ----

static PRECONDITIONS: StructType = StructType {
    go_name: "v1.Preconditions",
    fields: &[
        Field::ptr("uid", &STRING),
        Field::ptr("resourceVersion", &STRING),
    ],
    atomic: false,
};
static PRECONDITIONS_TYPE: Type = Type::Struct(&PRECONDITIONS);
static DELETE_OPTIONS_STRUCT: StructType = StructType {
    go_name: "v1.DeleteOptions",
    fields: &[
        Field::opt("kind", &STRING),
        Field::opt("apiVersion", &STRING),
        Field::ptr("gracePeriodSeconds", &INT),
        Field::ptr("preconditions", &PRECONDITIONS_TYPE),
        Field::ptr("orphanDependents", &BOOL),
        Field::ptr("propagationPolicy", &STRING),
        Field::opt("dryRun", &STRING_LIST),
    ],
    atomic: false,
};
/// `metav1.DeleteOptions`.
pub static DELETE_OPTIONS: Type = Type::Struct(&DELETE_OPTIONS_STRUCT);
