//! Checks that need only the configuration: every rule Kubernetes or IAM would enforce (and
//! some they would not, such as IAM's role-name length, which emulators skip), reported with
//! the attribute path before any API call. Unknown values are skipped; they are checked again
//! when known.

use std::collections::BTreeMap;

use crate::aws::{Arn, OidcProviderArn, policy};
use crate::codec::{AttributePath, Diagnostic, Diagnostics, Value};
use crate::data_sources::oidc_provider::invalid_arn;
use crate::ownership;

use super::irsa::RESERVED_ANNOTATIONS;
use super::{escalation, presets};

/// IAM allows 50 tags per role; the provider's two ownership tags take two of them.
const MAX_USER_TAGS: usize = 50 - 2;
/// IAM's hard limit on managed policies per role (the default quota is 10).
const MAX_MANAGED_POLICIES: usize = 20;
/// The shortest projected-token lifetime the EKS Pod Identity Webhook accepts (10 minutes,
/// kube-apiserver's TokenRequest minimum).
pub const MIN_TOKEN_EXPIRATION: i64 = 600;
/// The longest (24 hours, EKS's maximum).
pub const MAX_TOKEN_EXPIRATION: i64 = 86_400;
/// IAM's limit on the total size of a role's inline policies (whitespace not counted).
const MAX_INLINE_POLICY_CHARS: usize = 10_240;

/// Validates a configuration.
pub fn validate(config: &Value) -> Diagnostics {
    let mut checks = Checks::default();
    checks.identity(config);
    checks.iam(config);
    checks.service_account(config);
    checks.grants(config);
    checks.pod_identity(config);
    checks.verify(config);
    checks.diagnostics
}

/// The longest EKS cluster name (EKS API reference, CreateCluster, `name`: "Length
/// Constraints: Minimum length of 1. Maximum length of 100."
/// <https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html>).
pub const MAX_CLUSTER_NAME: usize = 100;

/// An EKS cluster name as CreateCluster accepts it: 1 to 100 characters matching
/// `^[0-9A-Za-z][A-Za-z0-9\-_]*` (EKS API reference, CreateCluster, `name`).
pub fn eks_cluster_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    let count = name.chars().count();
    if count > MAX_CLUSTER_NAME {
        return Err(format!(
            "it has {count} characters, at most {MAX_CLUSTER_NAME} are allowed"
        ));
    }
    if name.starts_with("arn:") {
        return Err("it is an ARN; give the cluster's name (the part after \"cluster/\")".into());
    }
    let first = name.chars().next().unwrap_or_default();
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "it starts with {first:?}; it must start with a letter or digit"
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(bad) => Err(format!(
            "it contains {bad:?}; only letters, digits, '-' and '_' are allowed"
        )),
        None => Ok(()),
    }
}

/// The error of `irsa = false` without a `pod_identity` block (validate and plan).
pub fn no_mechanism() -> Diagnostic {
    Diagnostic::error(
        "irsa = false without pod_identity",
        "With irsa = false the role would serve no mechanism at all: no OIDC trust statement \
         and no Pod Identity association. Add a pod_identity block with the cluster's name \
         (Pod Identity only), or remove irsa = false (IRSA).",
    )
    .at(AttributePath::new("irsa"))
}

/// What `irsa = false` makes meaningless, and why, for the error that names it.
const IRSA_ONLY_SETTINGS: [(&str, &str); 4] = [
    (
        "oidc_provider_arn",
        "the role gets no OIDC trust statement, so there is no OIDC provider to name (the \
         provider block's default is not used either)",
    ),
    (
        "audience",
        "it is the audience of the OIDC trust statement and the eks.amazonaws.com/audience \
         annotation, neither of which exists; EKS Pod Identity tokens always have the audience \
         pods.eks.amazonaws.com",
    ),
    (
        "sts_regional_endpoints",
        "it sets the eks.amazonaws.com/sts-regional-endpoints annotation for the EKS Pod \
         Identity Webhook (IRSA), and the binding writes no eks.amazonaws.com/* annotations \
         without IRSA",
    ),
    (
        "token_expiration",
        "it sets the eks.amazonaws.com/token-expiration annotation for the EKS Pod Identity \
         Webhook (IRSA), and the binding writes no eks.amazonaws.com/* annotations without \
         IRSA; the EKS Pod Identity Agent manages its own credentials",
    ),
];

/// The opt-ins that let a `rule` block grant more than a runner needs.
#[derive(Clone, Copy)]
struct Allowances {
    /// `allow_wildcards`.
    wildcards: bool,
    /// `allow_privilege_escalation`.
    privilege_escalation: bool,
}

#[derive(Default)]
struct Checks {
    diagnostics: Diagnostics,
}

impl Checks {
    fn error(&mut self, path: AttributePath, summary: &str, detail: String) {
        self.diagnostics
            .push(Diagnostic::error(summary, detail).at(path));
    }

    fn warning(&mut self, path: AttributePath, summary: &str, detail: String) {
        self.diagnostics
            .push(Diagnostic::warning(summary, detail).at(path));
    }

    fn identity(&mut self, config: &Value) {
        if let Some(namespace) = config.get("namespace").as_str()
            && let Err(why) = dns1123_label(namespace)
        {
            self.error(
                AttributePath::new("namespace"),
                "Invalid namespace name",
                format!("{namespace:?} is not a valid Kubernetes namespace name: {why}."),
            );
        }
        let name = config.get("service_account_name");
        if let Some(name) = name.as_str() {
            if let Err(why) = dns1123_subdomain(name) {
                self.error(
                    AttributePath::new("service_account_name"),
                    "Invalid ServiceAccount name",
                    format!("{name:?} is not a valid ServiceAccount name: {why}."),
                );
            } else if name == "default"
                && config.get("adopt_existing_service_account").as_bool() != Some(true)
            {
                self.error(
                    AttributePath::new("service_account_name"),
                    "The default ServiceAccount always exists",
                    "Kubernetes creates a ServiceAccount named \"default\" in every namespace, \
                     so creating it would fail. Use a dedicated ServiceAccount for the runner, \
                     or set adopt_existing_service_account = true to take over \"default\"."
                        .to_string(),
                );
            }
        }
    }

    fn iam(&mut self, config: &Value) {
        if let Some(arn) = config.get("oidc_provider_arn").as_str()
            && let Err(why) = OidcProviderArn::parse(arn)
        {
            self.diagnostics
                .push(invalid_arn(arn, &why).at(AttributePath::new("oidc_provider_arn")));
        }
        if let Some(name) = config.get("role_name").as_str()
            && let Err(why) = iam_name(name, 64)
        {
            let default = if name.len() > 64 {
                " Or leave role_name out: the default, NAMESPACE-SERVICE_ACCOUNT_NAME, is \
                 shortened to 64 characters with a stable hash suffix."
            } else {
                ""
            };
            self.error(
                AttributePath::new("role_name"),
                "Invalid IAM role name",
                format!("{name:?} is not a valid IAM role name: {why}.{default}"),
            );
        }
        if let Some(path) = config.get("role_path").as_str()
            && let Err(why) = role_path(path)
        {
            self.error(
                AttributePath::new("role_path"),
                "Invalid IAM role path",
                format!("{path:?} is not a valid IAM path: {why}."),
            );
        }
        if let Some(description) = config.get("role_description").as_str() {
            if description.chars().count() > 1000 {
                self.error(
                    AttributePath::new("role_description"),
                    "Role description too long",
                    format!(
                        "IAM allows at most 1000 characters; this one has {}.",
                        description.chars().count()
                    ),
                );
            } else if let Some(bad) = description.chars().find(|c| !description_char(*c)) {
                self.error(
                    AttributePath::new("role_description"),
                    "Invalid role description",
                    format!(
                        "IAM refuses the character {bad:?} in role descriptions (allowed: \
                         printable ASCII, tab, line breaks and Latin-1 letters)."
                    ),
                );
            }
        }
        if let Some(seconds) = not_whole_within(config.get("max_session_duration"), 3600..=43200) {
            self.error(
                AttributePath::new("max_session_duration"),
                "Invalid maximum session duration",
                format!(
                    "{seconds} is not a whole number of seconds in the range IAM allows, 3600 \
                     to 43200."
                ),
            );
        }
        if let Some(arn) = config.get("permissions_boundary_arn").as_str()
            && let Err(why) = Arn::parse_policy(arn)
        {
            self.error(
                AttributePath::new("permissions_boundary_arn"),
                "Invalid permissions boundary ARN",
                format!("{arn:?} is not a valid ARN: {why}."),
            );
        }
        self.tags(config.get("tags"));
        self.managed_policies(config.get("managed_policy_arns"));
        self.inline_policies(config.get("inline_policies"));
        if let Some(audience) = config.get("audience").as_str()
            && (audience.is_empty()
                || audience.contains(['*', '?'])
                || audience.contains(char::is_whitespace))
        {
            self.error(
                AttributePath::new("audience"),
                "Invalid audience",
                format!(
                    "{audience:?} cannot be an exact token audience: it must be non-empty, \
                     without whitespace, and without the wildcard characters * and ? (the \
                     trust policy matches it with StringEquals)."
                ),
            );
        }
    }

    fn tags(&mut self, tags: &Value) {
        let Some(entries) = tags.as_map() else {
            return;
        };
        if entries.len() > MAX_USER_TAGS {
            self.error(
                AttributePath::new("tags"),
                "Too many tags",
                format!(
                    "IAM allows 50 tags per role and the provider uses 2 to mark ownership, \
                     so at most {MAX_USER_TAGS} remain; this configuration has {}.",
                    entries.len()
                ),
            );
        }
        for (key, value) in entries {
            let path = AttributePath::new("tags").key(key);
            if key == ownership::MANAGED_BY_TAG || key == ownership::OWNER_KEY {
                self.error(
                    path,
                    "Reserved tag key",
                    format!(
                        "The tag {key:?} marks the role as managed by this binding and is set \
                         by the provider; remove it from tags."
                    ),
                );
            } else if key.to_ascii_lowercase().starts_with("aws:") {
                self.error(
                    path,
                    "Reserved tag key",
                    format!("Tag keys starting with \"aws:\" are reserved by AWS ({key:?})."),
                );
            } else if key.is_empty() || key.chars().count() > 128 || !key.chars().all(tag_char) {
                self.error(
                    path,
                    "Invalid tag key",
                    format!(
                        "{key:?} is not a valid IAM tag key: 1 to 128 letters, digits, spaces \
                         and _ . : / = + - @."
                    ),
                );
            } else if let Some(value) = value.as_str()
                && (value.chars().count() > 256 || !value.chars().all(tag_char))
            {
                self.error(
                    path,
                    "Invalid tag value",
                    format!(
                        "The value of tag {key:?} is not a valid IAM tag value: at most 256 \
                         letters, digits, spaces and _ . : / = + - @."
                    ),
                );
            }
        }
    }

    fn managed_policies(&mut self, arns: &Value) {
        let Some(elements) = arns.as_elements() else {
            return;
        };
        if elements.len() > MAX_MANAGED_POLICIES {
            self.error(
                AttributePath::new("managed_policy_arns"),
                "Too many managed policies",
                format!(
                    "IAM attaches at most {MAX_MANAGED_POLICIES} managed policies to a role (10 \
                     unless the quota was raised); this configuration lists {}.",
                    elements.len()
                ),
            );
        }
        // A set has no element positions Terraform can map back to the configuration (it
        // orders set elements its own way), so the diagnostic points at the attribute and the
        // detail names the element.
        for arn in elements {
            if let Some(arn) = arn.as_str()
                && let Err(why) = Arn::parse_policy(arn)
            {
                self.error(
                    AttributePath::new("managed_policy_arns"),
                    "Invalid managed policy ARN",
                    format!("{arn:?} is not a valid ARN: {why}."),
                );
            }
        }
    }

    fn inline_policies(&mut self, policies: &Value) {
        let Some(entries) = policies.as_map() else {
            return;
        };
        let mut total = 0;
        for (name, document) in entries {
            let path = AttributePath::new("inline_policies").key(name);
            if let Err(why) = iam_name(name, 128) {
                self.error(
                    path.clone(),
                    "Invalid inline policy name",
                    format!("{name:?} is not a valid IAM policy name: {why}."),
                );
            }
            let Some(document) = document.as_str() else {
                continue;
            };
            total += document.chars().filter(|c| !c.is_whitespace()).count();
            match policy::parse_policy(document) {
                Ok(parsed) => {
                    if parsed
                        .get("Statement")
                        .is_some_and(|s| s.as_array().is_some_and(Vec::is_empty) || s.is_null())
                    {
                        self.error(
                            path,
                            "Invalid inline policy document",
                            format!("The policy {name:?} has no statements."),
                        );
                    } else if let Some(problem) = statement_problem(&parsed) {
                        self.error(
                            path,
                            "Invalid inline policy document",
                            format!("The policy {name:?} cannot be used: {problem}."),
                        );
                    }
                }
                Err(why) => self.error(
                    path,
                    "Invalid inline policy document",
                    format!("The policy {name:?} cannot be used: {why}."),
                ),
            }
        }
        if total > MAX_INLINE_POLICY_CHARS {
            self.error(
                AttributePath::new("inline_policies"),
                "Inline policies too large",
                format!(
                    "IAM allows {MAX_INLINE_POLICY_CHARS} characters (whitespace not counted) \
                     across all inline policies of a role; these have {total}. Move some of \
                     them into managed policies."
                ),
            );
        }
    }

    fn service_account(&mut self, config: &Value) {
        if let Some(labels) = config.get("labels").as_map() {
            for (key, value) in labels {
                let path = AttributePath::new("labels").key(key);
                if key == ownership::MANAGED_BY_LABEL {
                    self.error(
                        path,
                        "Reserved label",
                        format!(
                            "The label {key:?} is set by the provider to mark objects it \
                             manages; remove it from labels."
                        ),
                    );
                } else if let Err(why) = qualified_name(key) {
                    self.error(
                        path,
                        "Invalid label key",
                        format!("{key:?} is not a valid Kubernetes label key: {why}."),
                    );
                } else if let Some(value) = value.as_str()
                    && let Err(why) = label_value(value)
                {
                    self.error(
                        path,
                        "Invalid label value",
                        format!("The value of label {key:?} is not valid: {why}."),
                    );
                }
            }
        }
        if let Some(annotations) = config.get("annotations").as_map() {
            for key in annotations.keys() {
                let path = AttributePath::new("annotations").key(key);
                if RESERVED_ANNOTATIONS.contains(&key.as_str()) {
                    self.error(
                        path,
                        "Reserved annotation",
                        format!(
                            "The annotation {key:?} is maintained by the binding itself (see \
                             irsa_annotations; use role_name, audience, sts_regional_endpoints \
                             or token_expiration instead)."
                        ),
                    );
                } else if let Err(why) = qualified_name(key) {
                    self.error(
                        path,
                        "Invalid annotation key",
                        format!("{key:?} is not a valid Kubernetes annotation key: {why}."),
                    );
                }
            }
        }
        // The webhook's floor is kube-apiserver's TokenRequest minimum, 10 minutes
        // (aws/amazon-eks-pod-identity-webhook, pkg/constants.go `MinTokenExpiration`); its
        // ceiling is EKS's 24 hours (`DefaultTokenExpiration`).
        if let Some(seconds) = not_whole_within(
            config.get("token_expiration"),
            MIN_TOKEN_EXPIRATION..=MAX_TOKEN_EXPIRATION,
        ) {
            self.error(
                AttributePath::new("token_expiration"),
                "Invalid token expiration",
                format!(
                    "{seconds} is not what the EKS Pod Identity Webhook accepts, a whole number \
                     of seconds from {MIN_TOKEN_EXPIRATION} to {MAX_TOKEN_EXPIRATION}."
                ),
            );
        }
    }

    fn grants(&mut self, config: &Value) {
        let Some(grants) = config.get("grant").as_elements() else {
            return;
        };
        let allow = Allowances {
            wildcards: config.get("allow_wildcards").as_bool().unwrap_or(false),
            privilege_escalation: config
                .get("allow_privilege_escalation")
                .as_bool()
                .unwrap_or(false),
        };
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, grant) in grants.iter().enumerate() {
            let path = AttributePath::new("grant").index(index);
            if let Some(namespace) = grant.get("namespace").as_str() {
                if let Err(why) = dns1123_label(namespace) {
                    self.error(
                        path.clone().attr("namespace"),
                        "Invalid namespace name",
                        format!("{namespace:?} is not a valid Kubernetes namespace name: {why}."),
                    );
                } else if let Some(first) = seen.insert(namespace, index) {
                    self.error(
                        path.clone().attr("namespace"),
                        "Duplicate grant namespace",
                        format!(
                            "grant[{first}] already covers namespace {namespace:?}; merge the \
                             two grants (one Role and RoleBinding per namespace)."
                        ),
                    );
                }
            }
            let preset = grant.get("preset");
            if let Some(name) = preset.as_str()
                && presets::rules(name).is_none()
            {
                self.error(
                    path.clone().attr("preset"),
                    "Unknown preset",
                    format!(
                        "{name:?} is not a preset; the presets are {}.",
                        presets::PRESET_NAMES
                            .iter()
                            .map(|p| format!("{p:?}"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                );
            }
            let rules = grant.get("rule");
            let rule_count = rules.as_elements().map(<[Value]>::len);
            let grants_nothing = rule_count == Some(0)
                && (preset.is_null() || preset.as_str() == Some(presets::NONE));
            if grants_nothing {
                self.error(
                    path.clone(),
                    "Grant without permissions",
                    "A grant needs a preset other than \"none\" or at least one rule block; \
                     otherwise its Role would grant nothing."
                        .to_string(),
                );
            }
            for (rule_index, rule) in rules.as_elements().unwrap_or_default().iter().enumerate() {
                self.rule(path.clone().attr("rule").index(rule_index), rule, allow);
            }
        }
    }

    fn rule(&mut self, path: AttributePath, rule: &Value, allow: Allowances) {
        let allow_wildcards = allow.wildcards;
        let lists = [
            ("api_groups", rule.get("api_groups")),
            ("resources", rule.get("resources")),
            ("verbs", rule.get("verbs")),
        ];
        for (name, list) in lists {
            let Some(items) = list.as_elements() else {
                continue;
            };
            let path = path.clone().attr(name);
            if items.is_empty() {
                self.error(
                    path.clone(),
                    "Empty rule list",
                    format!(
                        "{name} needs at least one entry (Kubernetes refuses resource rules \
                         without it; use [\"\"] for the core API group)."
                    ),
                );
            }
            for (index, item) in items.iter().enumerate() {
                let Some(item) = item.as_str() else { continue };
                let item_path = path.clone().index(index);
                if item.contains('*') {
                    if !allow_wildcards {
                        self.error(
                            item_path,
                            "Wildcard in RBAC rule",
                            format!(
                                "{name} contains {item:?}: a wildcard grants every present and \
                                 future {} and is refused unless allow_wildcards = true.",
                                match name {
                                    "api_groups" => "API group",
                                    "resources" => "resource",
                                    _ => "verb",
                                }
                            ),
                        );
                    }
                    continue;
                }
                let valid = match name {
                    "api_groups" => item.is_empty() || dns1123_subdomain(item).is_ok(),
                    "resources" => resource_name(item),
                    _ => !item.is_empty() && item.bytes().all(|b| b.is_ascii_lowercase()),
                };
                if !valid {
                    self.error(
                        item_path,
                        match name {
                            "api_groups" => "Invalid API group",
                            "resources" => "Invalid resource",
                            _ => "Invalid verb",
                        },
                        match name {
                            "api_groups" => format!(
                                "{item:?} is not an API group: use \"\" for the core group or \
                                 a DNS name such as \"apps\" or \"batch\"."
                            ),
                            "resources" => format!(
                                "{item:?} is not a resource name: lower-case plural names, \
                                 with a subresource as \"pods/log\"."
                            ),
                            _ => format!(
                                "{item:?} is not a verb: lower-case letters only, such as \
                                 \"get\" or \"create\"."
                            ),
                        },
                    );
                }
            }
        }
        if !allow.privilege_escalation {
            self.escalation(path.clone(), rule);
        }
        if let Some(names) = rule.get("resource_names").as_elements() {
            if names.iter().any(|n| n.as_str() == Some("")) {
                self.error(
                    path.clone().attr("resource_names"),
                    "Empty resource name",
                    "resource_names entries must be object names, not empty strings.".to_string(),
                );
            }
            let verbs = rule.get("verbs").string_elements();
            let unrestrictable: Vec<&str> = verbs
                .iter()
                .map(String::as_str)
                .filter(|v| matches!(*v, "create" | "list" | "watch" | "deletecollection"))
                .collect();
            if !names.is_empty() && !unrestrictable.is_empty() {
                self.warning(
                    path.attr("resource_names"),
                    "resource_names does not restrict every verb",
                    format!(
                        "Kubernetes cannot restrict {} by object name, so those verbs apply to \
                         every object of the resource.",
                        unrestrictable.join(", ")
                    ),
                );
            }
        }
    }

    /// Refuses a rule that is a privilege-escalation path (see [`escalation`]).
    fn escalation(&mut self, path: AttributePath, rule: &Value) {
        let lists = [
            rule.get("api_groups"),
            rule.get("resources"),
            rule.get("verbs"),
        ];
        if lists.iter().any(|list| !list.is_wholly_known()) {
            return;
        }
        let [groups, resources, verbs] = lists.map(Value::string_elements);
        let paths = escalation::escalation_paths(&groups, &resources, &verbs);
        if paths.is_empty() {
            return;
        }
        self.error(
            path.attr("verbs"),
            "Privilege escalation in RBAC rule",
            format!(
                "This rule is a privilege-escalation path: {}. Kubernetes \"RBAC good \
                 practices\" (https://kubernetes.io/docs/concepts/security/rbac-good-practices/) \
                 lists these as escalation risks, and a runner does not need them. It is \
                 refused unless allow_privilege_escalation = true.",
                paths.join("; ")
            ),
        );
    }

    /// The `pod_identity` block and `irsa`: the cluster name rules, at most one block, and
    /// `irsa = false` only with the block and without the IRSA-only settings.
    fn pod_identity(&mut self, config: &Value) {
        let blocks = config.get("pod_identity");
        let items = blocks.as_elements().unwrap_or_default();
        if items.len() > 1 {
            self.error(
                AttributePath::new("pod_identity").index(1),
                "Too many pod_identity blocks",
                format!(
                    "A binding has at most one pod_identity block (one ServiceAccount, one \
                     cluster); this one has {}.",
                    items.len()
                ),
            );
        }
        for (index, block) in items.iter().enumerate() {
            if let Some(name) = block.get("cluster_name").as_str()
                && let Err(why) = eks_cluster_name(name)
            {
                self.error(
                    AttributePath::new("pod_identity")
                        .index(index)
                        .attr("cluster_name"),
                    "Invalid EKS cluster name",
                    format!(
                        "{name:?} is not a valid EKS cluster name: {why}. EKS cluster names \
                         have 1 to {MAX_CLUSTER_NAME} characters, a letter or digit followed \
                         by letters, digits, '-' and '_' (EKS API reference, CreateCluster: \
                         https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html)."
                    ),
                );
            }
        }
        if config.get("irsa").as_bool() != Some(false) {
            return;
        }
        // `irsa = false`: Pod Identity only. An unknown block count is checked once known.
        if matches!(blocks, Value::Null) || matches!(blocks, Value::List(b) if b.is_empty()) {
            self.diagnostics.push(no_mechanism());
        }
        for (name, why) in IRSA_ONLY_SETTINGS {
            if !config.get(name).is_null() {
                self.error(
                    AttributePath::new(name),
                    "Setting for IRSA with irsa = false",
                    format!(
                        "{name} is set, but irsa = false makes this binding Pod Identity only: \
                         {why}. Remove {name}, or set irsa = true to keep IRSA beside Pod \
                         Identity."
                    ),
                );
            }
        }
        if let Some(annotations) = config.get("annotations").as_map() {
            let irsa_only = annotations.keys().filter(|k| {
                k.starts_with("eks.amazonaws.com/") && !RESERVED_ANNOTATIONS.contains(&k.as_str())
            });
            for key in irsa_only {
                self.error(
                    AttributePath::new("annotations").key(key),
                    "IRSA annotation with irsa = false",
                    format!(
                        "The annotation {key:?} is read by the EKS Pod Identity Webhook, \
                         which only serves IRSA; with irsa = false the ServiceAccount carries \
                         no eks.amazonaws.com/* annotations, so that pods use Pod Identity. \
                         Remove it, or set irsa = true."
                    ),
                );
            }
        }
    }

    fn verify(&mut self, config: &Value) {
        if let Some(seconds) =
            not_whole_within(config.get("verify").get("timeout_seconds"), 5..=900)
        {
            self.error(
                AttributePath::new("verify").attr("timeout_seconds"),
                "Invalid verify timeout",
                format!("{seconds} is not a whole number of seconds from 5 to 900."),
            );
        }
    }
}

/// The first thing IAM would refuse (MalformedPolicyDocument) in a role's inline policy, if any:
/// the version, the shape of `Statement`, and each statement's `Effect`, action, resource and
/// (forbidden in a policy attached to a role) principal.
fn statement_problem(policy: &serde_json::Value) -> Option<String> {
    use serde_json::Value as Json;
    if let Some(version) = policy.get("Version")
        && !matches!(version.as_str(), Some("2012-10-17" | "2008-10-17"))
    {
        return Some(format!(
            "its Version is {version}; IAM accepts \"2012-10-17\" (or the older \"2008-10-17\")"
        ));
    }
    let statements: Vec<&Json> = match policy.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(single @ Json::Object(_)) => vec![single],
        _ => return Some("Statement must be an object or a list of objects".to_string()),
    };
    for (index, statement) in statements.iter().enumerate() {
        let Some(fields) = statement.as_object() else {
            return Some(format!("statement {index} is not an object"));
        };
        let has = |a: &str, b: &str| fields.contains_key(a) || fields.contains_key(b);
        if !matches!(
            fields.get("Effect").and_then(Json::as_str),
            Some("Allow" | "Deny")
        ) {
            return Some(format!(
                "statement {index} needs \"Effect\": \"Allow\" or \"Deny\""
            ));
        }
        if !has("Action", "NotAction") {
            return Some(format!("statement {index} has no Action or NotAction"));
        }
        if !has("Resource", "NotResource") {
            return Some(format!("statement {index} has no Resource or NotResource"));
        }
        if has("Principal", "NotPrincipal") {
            return Some(format!(
                "statement {index} names a Principal, which a policy on a role must not \
                 (the role is the principal)"
            ));
        }
    }
    None
}

/// The number as written when `value` is a known number that is not a whole number within
/// `range` (fractions and numbers beyond `i64` included); `None` when it is fine, null or
/// unknown.
fn not_whole_within(value: &Value, range: std::ops::RangeInclusive<i64>) -> Option<String> {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(whole) if range.contains(&whole) => None,
            _ => Some(number.canonical()),
        },
        _ => None,
    }
}

/// A DNS-1123 label: what Kubernetes requires of namespace names.
pub fn dns1123_label(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 63 {
        return Err(format!(
            "it has {} characters, at most 63 are allowed",
            name.len()
        ));
    }
    label_chars(name)
}

/// A DNS-1123 subdomain: what Kubernetes requires of ServiceAccount names.
pub fn dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "it has {} characters, at most 253 are allowed",
            name.len()
        ));
    }
    name.split('.').try_for_each(label_chars)
}

fn label_chars(label: &str) -> Result<(), String> {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() {
        return Err("it has an empty part between dots".into());
    }
    if let Some(bad) = bytes.iter().find(|b| !alnum(b) && **b != b'-') {
        return Err(format!(
            "it contains {:?}; only lower-case letters, digits and '-' are allowed",
            char::from(*bad)
        ));
    }
    if !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return Err("it must start and end with a lower-case letter or digit".into());
    }
    Ok(())
}

/// A Kubernetes qualified name (label and annotation keys): `[prefix/]name`.
fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        dns1123_subdomain(prefix)
            .map_err(|why| format!("its prefix {prefix:?} is invalid: {why}"))?;
    }
    if name.is_empty() || name.len() > 63 {
        return Err("the name part must have 1 to 63 characters".into());
    }
    label_value(name)
}

/// A label value: empty, or up to 63 alphanumerics with `-`, `_`, `.` inside.
fn label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err(format!(
            "it has {} characters, at most 63 are allowed",
            value.len()
        ));
    }
    let bytes = value.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    let inner = |b: &u8| alnum(b) || matches!(b, b'-' | b'_' | b'.');
    if !bytes.is_empty()
        && (!alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) || !bytes.iter().all(inner))
    {
        return Err(
            "only letters, digits, '-', '_' and '.' are allowed, starting and ending with a \
             letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// An IAM role or policy name: 1 to `max` characters of `A-Za-z0-9+=,.@_-`.
fn iam_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "it has {} characters, at most {max} are allowed",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        Some(bad) => Err(format!(
            "it contains {bad:?}; only letters, digits and + = , . @ _ - are allowed"
        )),
        None => Ok(()),
    }
}

/// An IAM path as IAM's CreateRole accepts it: the pattern `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`
/// (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html>, `Path`), at most
/// 512 characters. `//` matches the pattern, so empty segments are allowed.
fn role_path(path: &str) -> Result<(), String> {
    if path.len() > 512 {
        return Err(format!(
            "it has {} characters, at most 512 are allowed",
            path.len()
        ));
    }
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err("it must start and end with '/'".into());
    }
    if let Some(bad) = path.chars().find(|c| !('\u{21}'..='\u{7e}').contains(c)) {
        return Err(format!(
            "it contains {bad:?}; only printable ASCII without spaces is allowed"
        ));
    }
    Ok(())
}

fn description_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}')
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// A resource, optionally with a subresource: `pods`, `pods/log`.
fn resource_name(resource: &str) -> bool {
    let valid_part = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    match resource.split_once('/') {
        Some((resource, sub)) => valid_part(resource) && valid_part(sub),
        None => valid_part(resource),
    }
}
