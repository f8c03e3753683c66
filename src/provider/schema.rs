//! The provider block's schema. Its descriptions are the provider's reference documentation.

use crate::codec::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

/// The retries an AWS call gets when `aws.max_retries` is not set (see [`super::aws`]).
pub const DEFAULT_MAX_RETRIES: u32 = 10;
/// The largest `aws.max_retries` accepted.
pub const MAX_RETRIES_LIMIT: u32 = 25;

/// The provider block's schema.
pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "Wires GitLab Runner on EKS with IRSA. Every setting is optional: AWS settings fall \
             back to the standard AWS chain (environment, shared config, SSO, web identity, \
             instance and container credentials) and Kubernetes settings to `KUBECONFIG`, \
             `~/.kube/config` or the in-cluster ServiceAccount. The provider contacts AWS or \
             Kubernetes only when a resource needs it.",
        )
        .attr(Attribute::optional(
            "oidc_provider_arn",
            Type::String,
            "ARN of the cluster's IAM OIDC identity provider, \
             `arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST/PATH`, used by every resource \
             that does not name its own. The `gitlabrunner_oidc_provider` data source looks it up \
             from the cluster's issuer URL. Its partition must match the AWS region's.",
        ))
        .attr(Attribute::optional(
            "default_tags",
            Type::map(Type::String),
            "Tags put on every IAM role and other taggable AWS object the provider creates; a \
             resource's own tags win for the same key. IAM tag rules apply: keys of 1 to 128 and \
             values of up to 256 letters, digits, spaces and `_ . : / = + - @`, no key starting \
             with `aws:`, at most 50 tags. `managed-by` and `terraform-provider-gitlabrunner/owner` \
             are reserved for the ownership markers the provider sets itself.",
        ))
        .block(NestedBlock::new("aws", Nesting::Single, aws_block()))
        .block(NestedBlock::new(
            "kubernetes",
            Nesting::Single,
            kubernetes_block(),
        )),
    )
}

fn aws_block() -> Block {
    Block::new(
        "How to reach AWS (IAM, STS and S3). Anything left out comes from the standard AWS \
         chain, exactly as the AWS CLI finds it: `AWS_REGION`/`AWS_DEFAULT_REGION`, \
         `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, the shared config and \
         credentials files, SSO, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`) and instance or \
         container credentials. Settings here win over the environment.",
    )
    .attr(Attribute::optional(
        "region",
        Type::String,
        "AWS region, e.g. `eu-central-1`. Defaults to `AWS_REGION`, `AWS_DEFAULT_REGION`, the \
         profile's `region`, then the EC2 instance metadata (given at most one second). The \
         partition of every ARN the provider builds follows from it: `aws`, `aws-us-gov` for \
         `us-gov-*`, `aws-cn` for `cn-*`, `aws-eusc` for `eusc-de-*`, `aws-iso`, `aws-iso-b`, \
         `aws-iso-e` and `aws-iso-f` for `us-iso-*`, `us-isob-*`, `eu-isoe-*` and `us-isof-*`. A \
         region of none of these partitions is refused.",
    ))
    .attr(Attribute::optional(
        "profile",
        Type::String,
        "Named profile of the shared config and credentials files. Defaults to `AWS_PROFILE`, \
         else `default`.",
    ))
    .attr(Attribute::optional(
        "endpoint_url",
        Type::String,
        "Endpoint URL for the provider's IAM, STS and S3 calls, for an emulator (moto, \
         LocalStack) or a VPC endpoint, e.g. `http://127.0.0.1:4566`. Defaults to the `AWS_ENDPOINT_URL_<SERVICE>` \
         and `AWS_ENDPOINT_URL` variables, else the public AWS endpoints. S3 is always \
         addressed path-style (`http://host/bucket/key`), which emulators need.",
    ))
    .attr(Attribute::optional(
        "max_retries",
        Type::Number,
        "How often a failed AWS call is retried when the failure is transient (throttling, \
         HTTP 5xx, connection errors). Each wait is random (full jitter) up to 1, 2, 4, then 5 \
         seconds. `0` to `25`; defaults to `10`: enough to ride out sustained IAM throttling \
         across a large apply, while an unreachable endpoint still fails after about 20 \
         seconds of waiting. Only this number bounds the retries: the SDK's client-side retry \
         quota, which stops retrying altogether under sustained throttling, is disabled.",
    ))
    .block(NestedBlock::new(
        "endpoints",
        Nesting::Single,
        Block::new("Endpoint URLs per service; each wins over `endpoint_url` for its service.")
            .attr(Attribute::optional(
                "iam",
                Type::String,
                "Endpoint URL for IAM, e.g. an emulator or a proxy. Defaults to \
                 `endpoint_url`, then `AWS_ENDPOINT_URL_IAM` and `AWS_ENDPOINT_URL`.",
            ))
            .attr(Attribute::optional(
                "sts",
                Type::String,
                "Endpoint URL for STS (also used for `assume_role` and `verify`), e.g. a regional \
                 endpoint such as `https://sts.eu-central-1.amazonaws.com`. Defaults to \
                 `endpoint_url`, then `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL`.",
            ))
            .attr(Attribute::optional(
                "s3",
                Type::String,
                "Endpoint URL for S3, addressed path-style. Defaults to `endpoint_url`, then \
                 `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL`. Only the provider's own calls use it: the runner's cache endpoint \
                 is `gitlabrunner_cache.server_address`.",
            ))
            .attr(Attribute::optional(
                "eks",
                Type::String,
                "Endpoint URL for EKS (the Pod Identity associations of \
                 `gitlabrunner_irsa_binding`'s `pod_identity` block). Defaults to \
                 `endpoint_url`, then `AWS_ENDPOINT_URL_EKS` and `AWS_ENDPOINT_URL`.",
            )),
    ))
    .block(NestedBlock::new(
        "assume_role",
        Nesting::Single,
        Block::new(
            "Assume this IAM role (STS `AssumeRole`) with the credentials found as described \
             above, and make every AWS call as that role. The session is renewed before it \
             expires.",
        )
        .attr(Attribute::required(
            "role_arn",
            Type::String,
            "ARN of the role to assume, `arn:PARTITION:iam::ACCOUNT:role/NAME`.",
        ))
        .attr(Attribute::optional(
            "session_name",
            Type::String,
            "Session name, shown in CloudTrail: 2 to 64 letters, digits and `_ + = , . @ -`. \
             Defaults to one the SDK generates.",
        ))
        .attr(Attribute::optional(
            "external_id",
            Type::String,
            "External id the role's trust policy requires (`sts:ExternalId`): 2 to 1224 \
             letters, digits and `_ + = , . @ : / -`.",
        )),
    ))
}

fn kubernetes_block() -> Block {
    Block::new(
        "How to reach the Kubernetes API. Either `host` with one way to authenticate (`token`, \
         `client_certificate` + `client_key`, or `exec`); or a kubeconfig file (`config_path`, \
         else `KUBECONFIG`, else `~/.kube/config`) and its `config_context`; otherwise the \
         in-cluster ServiceAccount, when Terraform runs in a pod. TLS is verified against the \
         cluster's CA unless `insecure = true`.",
    )
    .attr(Attribute::optional(
        "config_path",
        Type::String,
        "Path of a kubeconfig file (`~` is expanded). Defaults to `KUBECONFIG` (several files \
         separated by `:` are merged, as kubectl does), else `~/.kube/config` when it exists. \
         Conflicts with `host`.",
    ))
    .attr(Attribute::optional(
        "config_context",
        Type::String,
        "Context of the kubeconfig to use. Defaults to its `current-context`. Conflicts with \
         `host`.",
    ))
    .attr(Attribute::optional(
        "host",
        Type::String,
        "URL of the Kubernetes API server, e.g. the EKS cluster's `endpoint` \
         (`https://ABC.gr7.eu-central-1.eks.amazonaws.com`). Needs one of `token`, \
         `client_certificate` + `client_key` or `exec`, and usually `cluster_ca_certificate`.",
    ))
    .attr(
        Attribute::optional(
            "token",
            Type::String,
            "Bearer token for `host`. Conflicts with client certificates and `exec`. Never \
             logged.",
        )
        .sensitive(),
    )
    .attr(Attribute::optional(
        "cluster_ca_certificate",
        Type::String,
        "PEM-encoded CA certificate(s) the API server's certificate must chain to, e.g. \
         `base64decode(aws_eks_cluster.this.certificate_authority[0].data)`. Defaults to the \
         system's trusted roots.",
    ))
    .attr(Attribute::optional(
        "client_certificate",
        Type::String,
        "PEM-encoded client certificate for `host`, with `client_key`.",
    ))
    .attr(
        Attribute::optional(
            "client_key",
            Type::String,
            "PEM-encoded private key of `client_certificate`. Never logged.",
        )
        .sensitive(),
    )
    .attr(Attribute::optional(
        "insecure",
        Type::Bool,
        "Skip verifying the API server's TLS certificate. Only for throwaway test clusters: \
         anyone on the path can then read the credentials. The provider warns whenever it is \
         `true`. Conflicts with `cluster_ca_certificate`.",
    ))
    .block(NestedBlock::new(
        "exec",
        Nesting::Single,
        Block::new(
            "Get a short-lived token from a command (a client-go credential plugin), e.g. \
             `aws eks get-token --cluster-name NAME`. Use with `host`.",
        )
        .attr(Attribute::required(
            "api_version",
            Type::String,
            "API version of the plugin's `ExecCredential`: \
             `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`.",
        ))
        .attr(Attribute::required(
            "command",
            Type::String,
            "Command to run, e.g. `aws`.",
        ))
        .attr(Attribute::optional(
            "args",
            Type::list(Type::String),
            "Arguments, e.g. `[\"eks\", \"get-token\", \"--cluster-name\", \"prod\"]`.",
        ))
        .attr(
            Attribute::optional(
                "env",
                Type::map(Type::String),
                "Extra environment variables for the command. Sensitive: it often carries AWS \
                 credentials (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) or a profile.",
            )
            .sensitive(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<'a>(block: &'a Block, name: &str) -> &'a Block {
        &block.nested_block(name).expect(name).block
    }

    #[test]
    fn provider_block_has_the_settings_of_the_specification() {
        let schema = schema();
        let root = &schema.block;
        for name in ["oidc_provider_arn", "default_tags"] {
            assert!(root.attribute(name).is_some(), "{name}");
        }
        let aws = block(root, "aws");
        for name in ["region", "profile", "endpoint_url", "max_retries"] {
            assert!(aws.attribute(name).is_some(), "aws.{name}");
        }
        for name in ["iam", "sts", "s3", "eks"] {
            assert!(block(aws, "endpoints").attribute(name).is_some(), "{name}");
        }
        let assume_role = block(aws, "assume_role");
        assert!(assume_role.attribute("role_arn").unwrap().required);
        for name in ["session_name", "external_id"] {
            assert!(assume_role.attribute(name).is_some(), "{name}");
        }
        let kubernetes = block(root, "kubernetes");
        for name in [
            "config_path",
            "config_context",
            "host",
            "token",
            "cluster_ca_certificate",
            "client_certificate",
            "client_key",
            "insecure",
        ] {
            assert!(kubernetes.attribute(name).is_some(), "kubernetes.{name}");
        }
        let exec = block(kubernetes, "exec");
        for name in ["api_version", "command", "args", "env"] {
            assert!(exec.attribute(name).is_some(), "exec.{name}");
        }
    }

    #[test]
    fn secrets_are_sensitive_and_nothing_else_is() {
        let schema = schema();
        let kubernetes = block(&schema.block, "kubernetes");
        let sensitive: Vec<&str> = kubernetes
            .attributes
            .iter()
            .filter(|a| a.sensitive)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(sensitive, ["token", "client_key"]);
        // exec.env often carries AWS credentials (issue 15).
        let exec = block(kubernetes, "exec");
        let sensitive: Vec<&str> = exec
            .attributes
            .iter()
            .filter(|a| a.sensitive)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(sensitive, ["env"]);
    }

    #[test]
    fn every_setting_is_optional_and_documented() {
        fn check(block: &Block, path: &str) {
            assert!(!block.description.is_empty(), "{path}");
            for attr in &block.attributes {
                assert!(!attr.description.is_empty(), "{path}.{}", attr.name);
                assert!(!attr.computed, "{path}.{}", attr.name);
            }
            for nested in &block.blocks {
                check(&nested.block, &format!("{path}.{}", nested.name));
            }
        }
        let schema = schema();
        check(&schema.block, "provider");
        let top_level_required = schema.block.attributes.iter().any(|a| a.required);
        assert!(!top_level_required);
    }
}
