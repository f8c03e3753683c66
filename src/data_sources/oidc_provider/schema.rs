//! The schema of `gitlabrunner_oidc_provider`; its descriptions are the data source's
//! documentation.

use crate::codec::{Attribute, Block, Schema, Type};

/// The data source's schema.
pub fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "Looks up the cluster's IAM OIDC identity provider and returns what IRSA trust \
             policies need: the ARN (the `Federated` principal), the issuer host path (the \
             prefix of the `:sub` and `:aud` condition keys), the account and the partition. \
             With no argument it finds the provider whose URL is the configured cluster's \
             service account issuer, read from the cluster itself \
             (`/.well-known/openid-configuration`, else the `iss` claim of a TokenRequest \
             token), among the account's OIDC providers; then it also returns the cluster's \
             `issuer` and `jwks_uri`. Alternatively set one of `arn` and `url`. Fails with an \
             error naming what was looked up when no such provider exists; for the cluster's \
             issuer, the error shows the `aws_iam_openid_connect_provider` block and the \
             `eksctl utils associate-iam-oidc-provider` command that would create it.\n\n\
             ```terraform\n\
             data \"gitlabrunner_oidc_provider\" \"this\" {}\n\
             ```",
        )
        .attr(Attribute::optional_computed(
            "arn",
            Type::String,
            "ARN of the OIDC provider, \
             `arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST/PATH`. Set it to look the \
             provider up by ARN; otherwise it is the ARN found for `url`.",
        ))
        .attr(Attribute::optional_computed(
            "url",
            Type::String,
            "Issuer URL of the cluster, e.g. `https://oidc.eks.eu-central-1.amazonaws.com/id/\
             EXAMPLED539D4633E53DE1B71EXAMPLE` (the EKS cluster's `identity[0].oidc[0].issuer`). \
             Set it to look the provider up by issuer among the account's OIDC providers \
             (`iam:ListOpenIDConnectProviders`); the host is compared case-insensitively, a \
             trailing `/` is ignored. Otherwise it is the OIDC provider's URL, with `https://`.",
        ))
        .attr(Attribute::computed(
            "issuer_host_path",
            Type::String,
            "The issuer URL without `https://`, e.g. \
             `oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`: the \
             prefix of the condition keys `<issuer_host_path>:sub` and \
             `<issuer_host_path>:aud` in a role's trust policy.",
        ))
        .attr(Attribute::computed(
            "account_id",
            Type::String,
            "The 12-digit id of the AWS account that owns the OIDC provider.",
        ))
        .attr(Attribute::computed(
            "partition",
            Type::String,
            "The partition of the OIDC provider's ARN: `aws`, `aws-us-gov`, `aws-cn`, `aws-eusc` or an \
             ISO partition (`aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`). Roles that trust it \
             must be in the same partition.",
        ))
        .attr(Attribute::computed(
            "client_ids",
            Type::list(Type::String),
            "The audiences the OIDC provider accepts (its client ID list), e.g. \
             `[\"sts.amazonaws.com\"]`. IRSA needs the binding's `audience` here, by default \
             `sts.amazonaws.com`; without it STS refuses the pods' tokens.",
        ))
        .attr(Attribute::computed(
            "thumbprints",
            Type::list(Type::String),
            "The server certificate thumbprints registered with the OIDC provider (hex SHA-1).",
        ))
        .attr(Attribute::computed(
            "tags",
            Type::map(Type::String),
            "The OIDC provider's IAM tags.",
        ))
        .attr(Attribute::computed(
            "issuer",
            Type::String,
            "The configured cluster's service account issuer as the cluster reports it (the \
             `iss` claim of its tokens), e.g. `https://oidc.eks.eu-central-1.amazonaws.com/id/\
             EXAMPLED539D4633E53DE1B71EXAMPLE`. Set by the lookup without arguments; null when \
             `arn` or `url` is set.",
        ))
        .attr(Attribute::computed(
            "jwks_uri",
            Type::String,
            "The `jwks_uri` of the cluster's OIDC discovery document: where the keys that sign \
             its service account tokens are published. Set by the lookup without arguments \
             when the discovery document was readable; null otherwise.",
        )),
    )
}
