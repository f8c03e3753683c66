//! The schema of `gitlabrunner_irsa_binding`. Its descriptions are the attribute reference of
//! `docs/resources/irsa_binding.md`.

use crate::codec::{Attribute, Block, NestedBlock, Nesting, Schema, Type, Value};

/// The default `audience`: what the EKS Pod Identity Webhook requests for projected tokens.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
/// The default `max_session_duration` in seconds (IAM's default).
pub const DEFAULT_MAX_SESSION_DURATION: i64 = 3600;
/// The default `role_path`.
pub const DEFAULT_ROLE_PATH: &str = "/";

/// The schema version. Version 1 (issue 14) added `irsa` and the `pod_identity` block; see
/// [`super::upgrade`] for how version 0 states (0.1.0) are brought to it.
pub const SCHEMA_VERSION: i64 = 1;

/// The resource schema.
pub fn schema() -> Schema {
    Schema::new(SCHEMA_VERSION, root())
}

fn root() -> Block {
    Block::new(
        "One IRSA wiring for GitLab Runner on EKS, managed as a unit: an **IAM role** whose trust \
         policy admits exactly one Kubernetes ServiceAccount through the cluster's IAM OIDC \
         provider, that **ServiceAccount** annotated with the role's ARN, and a namespaced \
         **Role and RoleBinding** in every namespace listed in a `grant` block. Created all or \
         nothing, checked for drift in every part, and repaired in place.",
    )
    .attr(
        Attribute::computed(
            "id",
            Type::String,
            "`NAMESPACE/SERVICE_ACCOUNT_NAME`: the ServiceAccount this binding is about, also \
             the import id.",
        )
        .use_state_for_unknown(),
    )
    .attr(
        Attribute::required(
            "namespace",
            Type::String,
            "Namespace of the ServiceAccount (a DNS-1123 label: lower-case letters, digits and \
             `-`, at most 63 characters). The namespace must exist.",
        )
        .requires_replace(),
    )
    .attr(
        Attribute::required(
            "service_account_name",
            Type::String,
            "Name of the ServiceAccount the runner (or its job pods) runs as (a DNS-1123 \
             subdomain, at most 253 characters). It is the `sub` the trust policy admits: \
             `system:serviceaccount:NAMESPACE:NAME`.",
        )
        .requires_replace(),
    )
    .attr(Attribute::with_default(
        "irsa",
        Type::Bool,
        true.into(),
        "Whether the role serves IRSA (IAM roles for service accounts): a trust statement for \
         the cluster's OIDC provider and the `eks.amazonaws.com/role-arn` annotation on the \
         ServiceAccount. Defaults to `true`. Set `false` together with a `pod_identity` block \
         for Pod Identity only: no OIDC statement, no `eks.amazonaws.com/*` annotations, and \
         `oidc_provider_arn`, `audience`, `sts_regional_endpoints` and `token_expiration` must \
         not be set. Changing it is an update in place that keeps the role.",
    ))
    .attr(Attribute::optional_computed(
        "oidc_provider_arn",
        Type::String,
        "ARN of the cluster's IAM OIDC identity provider, \
         `arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST/PATH` (e.g. from the \
         `gitlabrunner_oidc_provider` data source). Defaults to the provider's \
         `oidc_provider_arn`. The role's partition and account and the trust condition keys \
         (`ISSUER_HOST/PATH:sub`, `ISSUER_HOST/PATH:aud`) all come from it; its partition must \
         match the provider's region. Not used (null) when `irsa = false`.",
    ))
    .attr(Attribute::optional_computed(
        "role_name",
        Type::String,
        "Name of the IAM role (1-64 characters of `A-Za-z0-9+=,.@_-`). Defaults to \
         `NAMESPACE-SERVICE_ACCOUNT_NAME`, shortened to 64 characters with a stable 8-character \
         hash suffix when longer. Role names are unique per AWS account: set it when several \
         clusters in one account use the same namespace and ServiceAccount name. Changing it \
         creates the new role first, switches the ServiceAccount annotation, then deletes the \
         old role.",
    ))
    .attr(Attribute::with_default(
        "role_path",
        Type::String,
        DEFAULT_ROLE_PATH.into(),
        "Path of the IAM role: `/` or `/segment/.../` (at most 512 characters). IAM cannot \
         move a role, so changing the path deletes the role and creates it again under the \
         new path.",
    ))
    .attr(Attribute::optional(
        "role_description",
        Type::String,
        "Description of the IAM role (at most 1000 characters).",
    ))
    .attr(Attribute::with_default(
        "max_session_duration",
        Type::Number,
        Value::int(DEFAULT_MAX_SESSION_DURATION),
        "Maximum session duration of the role in seconds, 3600 to 43200.",
    ))
    .attr(Attribute::optional(
        "permissions_boundary_arn",
        Type::String,
        "ARN of a managed policy set as the role's permissions boundary.",
    ))
    .attr(Attribute::optional(
        "tags",
        Type::map(Type::String),
        "Tags on the IAM role, merged over the provider's `default_tags`. The keys \
         `managed-by` and `terraform-provider-gitlabrunner/owner` are reserved: the provider \
         sets them to mark the role as this binding's.",
    ))
    .attr(Attribute::computed(
        "tags_all",
        Type::map(Type::String),
        "All tags of the role except the ownership markers: the provider's `default_tags` \
         with `tags` over them.",
    ))
    .attr(Attribute::optional(
        "managed_policy_arns",
        Type::set(Type::String),
        "ARNs of managed policies to attach to the role (at most 20). Policies attached \
         outside this binding (for example by `gitlabrunner_cache`) are left alone; removing \
         an ARN here detaches it.",
    ))
    .attr(Attribute::optional(
        "inline_policies",
        Type::map(Type::String),
        "Inline policies of the role: policy name to JSON document (e.g. from `jsonencode` or \
         `aws_iam_policy_document`). Documents are compared by meaning, so key order, \
         whitespace and single-value-versus-list forms never show as a change. Inline \
         policies with other names (for example the one `gitlabrunner_cache` writes) are left \
         alone.",
    ))
    .attr(Attribute::with_default(
        "audience",
        Type::String,
        DEFAULT_AUDIENCE.into(),
        "The token audience the trust policy requires (`ISSUER:aud`, matched exactly with \
         `StringEquals`). When it is not `sts.amazonaws.com`, the ServiceAccount is also \
         annotated `eks.amazonaws.com/audience` so that the EKS Pod Identity Webhook requests \
         tokens for it.",
    ))
    .attr(Attribute::optional(
        "labels",
        Type::map(Type::String),
        "Extra labels on the ServiceAccount. `app.kubernetes.io/managed-by` is reserved. Only \
         the keys listed here are managed: labels others add are left alone.",
    ))
    .attr(Attribute::optional(
        "annotations",
        Type::map(Type::String),
        "Extra annotations on the ServiceAccount. The `eks.amazonaws.com/...` keys the \
         binding sets itself (see `irsa_annotations`) and \
         `terraform-provider-gitlabrunner/owner` are reserved. Only the keys listed here are \
         managed.",
    ))
    .attr(Attribute::optional(
        "automount_service_account_token",
        Type::Bool,
        "Sets `automountServiceAccountToken` on the ServiceAccount. Set `false` for job pods \
         that need AWS but no Kubernetes API access. Left unmanaged when unset.",
    ))
    .attr(Attribute::optional(
        "sts_regional_endpoints",
        Type::Bool,
        "Sets the `eks.amazonaws.com/sts-regional-endpoints` annotation, which makes pods use \
         the regional STS endpoint.",
    ))
    .attr(Attribute::optional(
        "token_expiration",
        Type::Number,
        "Sets the `eks.amazonaws.com/token-expiration` annotation: lifetime in seconds of the \
         projected token the webhook mounts, 600 (the webhook's and kube-apiserver's minimum) to \
         86400.",
    ))
    .attr(Attribute::with_default(
        "adopt_existing_service_account",
        Type::Bool,
        false.into(),
        "Take over a ServiceAccount that already exists (for example one the gitlab-runner \
         Helm chart made) instead of failing. The binding then writes only its own fields, \
         with server-side apply without force: a field another manager owns with a different \
         value is an error naming both (see `take_over_conflicting_fields`). Annotations, \
         labels and `automountServiceAccountToken` the binding does not set are left as they \
         are, including other tools' `eks.amazonaws.com/*` annotations. On destroy it removes \
         exactly the fields it owns instead of deleting the ServiceAccount.",
    ))
    .attr(Attribute::with_default(
        "force_detach_policies",
        Type::Bool,
        false.into(),
        "Let destroy (and a role rename, for the old role) detach managed policies and delete \
         inline policies that this binding does not manage, such as ones attached by hand or \
         by another tool. By default the binding removes only its own `managed_policy_arns` \
         and `inline_policies`; when IAM then refuses to delete the role because others are \
         still attached, the role is left in place with an error naming them. Destroy uses the \
         value in the state: apply `true` first, then destroy.",
    ))
    .attr(Attribute::with_default(
        "take_over_conflicting_fields",
        Type::Bool,
        false.into(),
        "With `adopt_existing_service_account`: take over fields of the ServiceAccount that \
         another field manager (Helm, kubectl, another controller) owns with a different \
         value. By default such a field is an error naming the manager and the field, and \
         nothing is written. With `true`, the binding applies with force, records each \
         field's manager and previous value in `taken_over_fields`, and gives them back on \
         destroy (or when the binding stops setting the field).",
    ))
    .attr(Attribute::with_default(
        "allow_wildcards",
        Type::Bool,
        false.into(),
        "Allow `*` in the `api_groups`, `resources` or `verbs` of `rule` blocks. Refused by \
         default: a wildcard grants far more than a runner needs.",
    ))
    .attr(Attribute::with_default(
        "allow_privilege_escalation",
        Type::Bool,
        false.into(),
        "Allow `rule` blocks that are privilege-escalation paths in Kubernetes \
         [RBAC good practices](https://kubernetes.io/docs/concepts/security/rbac-good-practices/): \
         the verbs `escalate`, `bind` and `impersonate`, `create` on `serviceaccounts/token`, \
         and `create`, `update`, `patch`, `delete` or `deletecollection` on `roles`, \
         `rolebindings`, `clusterroles` or `clusterrolebindings` (wildcards count for what \
         they cover). Refused by default: a runner needs none of them, and each lets the \
         ServiceAccount gain permissions it was not given.",
    ))
    .attr(Attribute::computed(
        "role_arn",
        Type::String,
        "ARN of the IAM role, known at plan time: \
         `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`.",
    ))
    .attr(
        Attribute::computed(
            "role_unique_id",
            Type::String,
            "The role's unique id (`AROA...`), as IAM assigned it.",
        )
        .use_state_for_unknown(),
    )
    .attr(Attribute::computed(
        "trust_policy",
        Type::String,
        "The role's trust policy as JSON: `sts:AssumeRoleWithWebIdentity` for the OIDC \
         provider, with `StringEquals` on `ISSUER:sub` = \
         `system:serviceaccount:NAMESPACE:NAME` and `ISSUER:aud` = `audience` (unless \
         `irsa = false`); with `pod_identity`, also the statement `EksPodIdentity` for \
         `pods.eks.amazonaws.com`.",
    ))
    .attr(
        Attribute::computed(
            "service_account_uid",
            Type::String,
            "The ServiceAccount's uid, as Kubernetes assigned it.",
        )
        .use_state_for_unknown(),
    )
    .attr(
        Attribute::computed(
            "service_account_adopted",
            Type::Bool,
            "Whether the binding took over a ServiceAccount that already existed (then destroy \
             removes only the binding's fields) rather than creating it (then destroy deletes \
             it).",
        )
        .use_state_for_unknown(),
    )
    .attr(Attribute::computed(
        "taken_over_fields",
        Type::list(Type::object([
            ("field", Type::String),
            ("manager", Type::String),
            ("previous_value", Type::String),
        ])),
        "Fields of an adopted ServiceAccount the binding took over from another field manager \
         (`take_over_conflicting_fields`): the field as the API server names it, the manager \
         that owned it and its value then. Destroy writes each value back as that manager, \
         unless someone else has set the field since.",
    ))
    .attr(Attribute::computed(
        "irsa_annotations",
        Type::map(Type::String),
        "The annotations the binding itself maintains on the ServiceAccount: \
         `eks.amazonaws.com/role-arn`, and `eks.amazonaws.com/audience`, \
         `eks.amazonaws.com/sts-regional-endpoints`, `eks.amazonaws.com/token-expiration` when \
         configured; empty with `irsa = false`. A change made outside Terraform shows here.",
    ))
    .attr(Attribute::computed(
        "runner_config_toml",
        Type::String,
        "The `[runners.kubernetes]` lines of the runner's `config.toml` that go with this \
         binding. With `grant` blocks (a runner manager's binding): `namespace` is the first \
         grant's namespace and, with several grants, `namespace_overwrite_allowed` admits \
         exactly the granted namespaces. Without grants (a job pods' binding): `namespace` and \
         `service_account` name this ServiceAccount.",
    ))
    .attr(Attribute::computed(
        "verified_identity_arn",
        Type::String,
        "With a `verify` block: the assumed-role ARN STS returned when the last apply \
         exchanged a ServiceAccount token for role credentials. Null without `verify`.",
    ))
    .block(grant_block())
    .block(pod_identity_block())
    .block(verify_block())
}

/// The `pod_identity` block: at most one (a list of at most one, like the other single blocks
/// whose computed attributes Terraform must carry).
fn pod_identity_block() -> NestedBlock {
    let block = Block::new(
        "EKS Pod Identity for the ServiceAccount: the role's trust policy gains a statement for \
         the service principal `pods.eks.amazonaws.com` (`sts:AssumeRole` and `sts:TagSession`), \
         scoped with `StringEquals` on the session tags EKS passes (`eks-cluster-arn`, \
         `eks-cluster-name`, `kubernetes-namespace`, `kubernetes-service-account`) to exactly \
         this ServiceAccount of this cluster, and an EKS Pod Identity association (cluster, \
         namespace, ServiceAccount, role) is created. With `irsa = true` (the default) both \
         mechanisms work side by side; with `irsa = false` only Pod Identity does. Adding, \
         removing or moving the block is an update in place: the new trust statement and \
         association come first, the old ones go last. An association that already exists for \
         the ServiceAccount and this role is adopted; one for another role is an error naming \
         it.",
    )
    .attr(Attribute::required(
        "cluster_name",
        Type::String,
        "Name of the EKS cluster (1-100 characters: a letter or digit, then letters, digits, \
         `-` and `_`, as EKS CreateCluster requires). The cluster is in the provider's region \
         and the role's account.",
    ))
    .attr(Attribute::computed(
        "association_id",
        Type::String,
        "The id of the Pod Identity association (`a-` and 17 characters). Null when the \
         association is missing (deleted outside Terraform; the next apply makes it again).",
    ))
    .attr(Attribute::computed(
        "association_arn",
        Type::String,
        "The ARN of the Pod Identity association. Null while the association gives another \
         role than this binding's (changed outside Terraform; the next apply points it back).",
    ));
    NestedBlock::new("pod_identity", Nesting::List, block).items(0, 1)
}

fn grant_block() -> NestedBlock {
    let rule = Block::new(
        "An explicit RBAC rule, added after the preset's rules (Kubernetes `PolicyRule`).",
    )
    .attr(Attribute::required(
        "api_groups",
        Type::list(Type::String),
        "API groups, e.g. `[\"\"]` for the core group or `[\"apps\"]`.",
    ))
    .attr(Attribute::required(
        "resources",
        Type::list(Type::String),
        "Resources (plural, lower case), with subresources as `pods/log`.",
    ))
    .attr(Attribute::required(
        "verbs",
        Type::list(Type::String),
        "Verbs: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...",
    ))
    .attr(Attribute::optional(
        "resource_names",
        Type::list(Type::String),
        "Restricts the rule to objects of these names (not effective for `create`, `list`, \
         `watch` or `deletecollection`).",
    ));
    let rule_object = Type::object([
        ("api_groups", Type::list(Type::String)),
        ("resources", Type::list(Type::String)),
        ("verbs", Type::list(Type::String)),
        ("resource_names", Type::list(Type::String)),
    ]);
    let grant = Block::new(
        "RBAC for the ServiceAccount in one namespace, where the runner manager creates job \
         pods and secrets: a Role with the preset's rules followed by the `rule` blocks, and a \
         RoleBinding of that Role to this ServiceAccount. Namespace-scoped only; no ClusterRole \
         is ever created.",
    )
    .attr(Attribute::required(
        "namespace",
        Type::String,
        "The namespace (must exist). Each namespace may appear in one grant only.",
    ))
    .attr(Attribute::optional(
        "preset",
        Type::String,
        "A named rule set. `kubernetes-executor`: the permissions GitLab documents for the \
         runner manager of the Kubernetes executor (\"Configure runner API permissions\"), \
         row for row as the table of GitLab Runner 17.9 to 18.x has them: `events` list/watch, `pods` \
         create/delete/get/list/watch, `pods/attach` and `pods/exec` create/delete/get/patch, \
         `pods/log` get/list, `secrets` create/delete/get/update, `serviceaccounts` get, \
         `services` create/get; the documented `namespaces` create/delete for \
         `namespace_per_job` is left out because a namespaced Role cannot grant it. Newer \
         runner documentation adds optional rows (for `kubernetes.autoscaler`, \
         `pod_disruption_budget` and `FF_SUSPENDABLE_ENVIRONMENTS`) that the preset does not \
         include: add them as `rule` blocks when you use those settings (the resource page \
         shows them). `none`: no rules besides the `rule` blocks.",
    ))
    .attr(Attribute::computed(
        "role_name",
        Type::String,
        "Name of the Role in this namespace (`SA_NAMESPACE.SA_NAME`, shortened with a hash \
         suffix when longer than 253 characters). Null when the Role is missing.",
    ))
    .attr(Attribute::computed(
        "role_binding_name",
        Type::String,
        "Name of the RoleBinding (the same as the Role). Null when it is missing or no longer \
         binds exactly this ServiceAccount to the Role.",
    ))
    .attr(Attribute::computed(
        "role_rules",
        Type::list(rule_object),
        "The Role's rules: the preset's followed by the `rule` blocks. A change made outside \
         Terraform shows here.",
    ))
    .block(NestedBlock::new("rule", Nesting::List, rule));
    NestedBlock::new("grant", Nesting::List, grant)
}

fn verify_block() -> NestedBlock {
    let verify = Block::new(
        "Check the wiring end to end after every apply: mint a short-lived token for the \
         ServiceAccount (TokenRequest, with `audience`), check locally what STS checks (its \
         signature against the cluster's JWKS, `exp`, `iss` and `aud` against the OIDC \
         provider read with `iam:GetOpenIDConnectProvider`, and the role's trust policy as IAM \
         holds it), then exchange it for credentials with STS `AssumeRoleWithWebIdentity`, \
         retrying until it works or `timeout_seconds` pass (IAM changes take a few seconds to \
         propagate). A failed check names the claim or condition key, the expected value and \
         the value found; the apply then fails, and a create is rolled back.",
    )
    .attr(Attribute::optional(
        "timeout_seconds",
        Type::Number,
        "How long to keep trying, 5 to 900 seconds. Defaults to 120.",
    ));
    NestedBlock::new("verify", Nesting::Single, verify)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_identity_replaces_the_resource() {
        let schema = schema();
        let replacing: Vec<&str> = schema
            .block
            .attributes
            .iter()
            .filter(|a| a.requires_replace)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(replacing, ["namespace", "service_account_name"]);
        assert!(schema.block.blocks.iter().all(|b| !b.requires_replace));
    }

    #[test]
    fn every_attribute_and_block_is_described() {
        fn check(block: &Block) {
            assert!(!block.description.is_empty());
            for attr in &block.attributes {
                assert!(
                    attr.description.len() > 20,
                    "{} lacks a description",
                    attr.name
                );
            }
            for nested in &block.blocks {
                check(&nested.block);
            }
        }
        check(&schema().block);
    }

    #[test]
    fn the_docs_page_carries_the_current_schema() {
        let page = include_str!("../../../docs/resources/irsa_binding.md");
        let generated = crate::docs::render_schema(&schema());
        assert!(
            page.contains(generated.trim_end()),
            "docs/resources/irsa_binding.md is stale: regenerate its schema section"
        );
    }
}
