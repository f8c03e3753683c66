# GitLab Runner on EKS with IRSA or EKS Pod Identity (var.identity_mode), complete: the runner
# manager, job pods with their own AWS role, and the S3 build cache. The outputs are the Helm
# values and config.toml they need.

# The cluster's IAM OIDC provider, found by the issuer the cluster itself reports (its
# /.well-known/openid-configuration): no issuer URL or ARN to pass around. A role's trust
# policy names it; a wrong one is the classic "not authorized to perform
# sts:AssumeRoleWithWebIdentity", and the bindings check at plan time that it is this
# cluster's and that it accepts their audience. With identity_mode = "pod_identity" no trust
# names it, so it is not looked up (a cluster without one works).
data "gitlabrunner_oidc_provider" "this" {
  count = local.irsa ? 1 : 0
}

locals {
  # Which mechanisms the roles serve: IRSA, EKS Pod Identity, or both while moving.
  irsa         = var.identity_mode != "pod_identity"
  pod_identity = var.identity_mode != "irsa"
  eks_cluster  = coalesce(var.eks_cluster_name, var.cluster_name)

  oidc_provider_arn = local.irsa ? data.gitlabrunner_oidc_provider.this[0].arn : null

  # The partition and account, from the manager role's ARN (known at plan time, whichever mode):
  # arn:PARTITION:iam::ACCOUNT:role/NAME.
  partition  = split(":", gitlabrunner_irsa_binding.manager.role_arn)[1]
  account_id = split(":", gitlabrunner_irsa_binding.manager.role_arn)[4]
}

# The runner manager: the long-lived pod the Helm chart runs. Its role may only be assumed by
# its ServiceAccount; it starts job pods (and their secrets) in the job namespace, and it
# pre-signs the cache URLs, so the cache permissions go on its role.
resource "gitlabrunner_irsa_binding" "manager" {
  namespace            = var.runner_namespace
  service_account_name = "gitlab-runner"
  irsa                 = local.irsa
  oidc_provider_arn    = local.oidc_provider_arn
  role_name            = "${var.cluster_name}-gitlab-runner-manager"
  role_description     = "GitLab Runner manager: starts job pods, pre-signs cache URLs"

  # EKS Pod Identity: a trust statement for pods.eks.amazonaws.com scoped by the session tags to
  # this cluster, namespace and ServiceAccount, and the association.
  dynamic "pod_identity" {
    for_each = local.pod_identity ? [local.eks_cluster] : []
    content {
      cluster_name = pod_identity.value
    }
  }

  # A Role and RoleBinding in the job namespace, with exactly the permissions GitLab documents
  # for the Kubernetes executor: no ClusterRole, nothing in other namespaces.
  grant {
    namespace = var.job_namespace
    preset    = "kubernetes-executor"
  }

  # After every apply, exchange a token of the ServiceAccount for role credentials, the way
  # the pod will: proves the trust policy, the annotation and the OIDC provider agree (with
  # Pod Identity only: the trust's session-tag conditions and the association, via EKS Auth).
  verify {
    timeout_seconds = 120
  }
}

# The job pods: their own ServiceAccount and role in the job namespace, with what the jobs
# need from AWS (here: pushing images to ECR repositories under ci/), and no Kubernetes API
# token mounted, since jobs have no business with the API.
resource "gitlabrunner_irsa_binding" "jobs" {
  namespace                       = var.job_namespace
  service_account_name            = "gitlab-job"
  irsa                            = local.irsa
  oidc_provider_arn               = local.oidc_provider_arn
  role_name                       = "${var.cluster_name}-gitlab-runner-jobs"
  role_description                = "GitLab CI jobs"
  automount_service_account_token = false
  # An IRSA annotation (eks.amazonaws.com/sts-regional-endpoints); Pod Identity credentials
  # come from the node's EKS Pod Identity Agent, not from STS, so it is not set there.
  sts_regional_endpoints = local.irsa ? true : null

  dynamic "pod_identity" {
    for_each = local.pod_identity ? [local.eks_cluster] : []
    content {
      cluster_name = pod_identity.value
    }
  }

  inline_policies = {
    ecr-push = jsonencode({
      Version = "2012-10-17"
      Statement = [
        {
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = "*"
        },
        {
          Effect = "Allow"
          Action = [
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:GetDownloadUrlForLayer",
            "ecr:InitiateLayerUpload",
            "ecr:PutImage",
            "ecr:UploadLayerPart",
          ]
          Resource = "arn:${local.partition}:ecr:*:${local.account_id}:repository/ci/*"
        },
      ]
    })
  }
}

# The S3 build cache: a bucket with secure defaults (no public access, encryption, TLS only,
# objects expire), and least-privilege permissions on the manager's role for the cache path.
resource "gitlabrunner_cache" "this" {
  role_name       = gitlabrunner_irsa_binding.manager.role_name
  bucket_name     = coalesce(var.cache_bucket_name, "gitlab-runner-cache-${local.account_id}-${var.cluster_name}")
  path            = "runner"
  shared          = true
  create_bucket   = true
  expiration_days = 14
}

locals {
  # One [[runners]] entry: job pods run in the job namespace as the jobs' ServiceAccount, and
  # the cache is the bucket above. (The manager binding's own runner_config_toml names the
  # same namespace: the one its grant lets it start pods in.)
  runner_config_toml = join("\n", [
    "[[runners]]",
    trimspace(gitlabrunner_irsa_binding.jobs.runner_config_toml),
    "",
    trimspace(gitlabrunner_cache.this.config_toml),
    "",
  ])
}
