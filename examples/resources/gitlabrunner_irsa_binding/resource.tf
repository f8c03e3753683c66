# The runner manager: an IAM role only its ServiceAccount can assume, that ServiceAccount
# annotated with the role's ARN, and the RBAC it needs in the namespaces where it starts jobs.
resource "gitlabrunner_irsa_binding" "manager" {
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"

  # Omit to use the provider's oidc_provider_arn.
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"

  role_description = "GitLab Runner manager (pre-signs cache URLs, starts job pods)"
  tags = {
    team = "platform"
  }

  # The gitlab-runner Helm chart made the ServiceAccount: take it over instead of failing,
  # and on destroy remove only what this binding added.
  adopt_existing_service_account = true

  grant {
    namespace = "ci-jobs"
    preset    = "kubernetes-executor"
  }

  grant {
    namespace = "ci-jobs-gpu"
    preset    = "kubernetes-executor"

    # Extra permissions the jobs of this namespace need from the manager.
    rule {
      api_groups = [""]
      resources  = ["configmaps"]
      verbs      = ["get", "list"]
    }
  }

  # After every apply, exchange a ServiceAccount token for role credentials.
  verify {
    timeout_seconds = 120
  }
}

# Job pods that need AWS themselves: their own role, and no Kubernetes API token.
resource "gitlabrunner_irsa_binding" "jobs" {
  namespace                       = "ci-jobs"
  service_account_name            = "ci-job"
  automount_service_account_token = false
  sts_regional_endpoints          = true

  managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]

  inline_policies = {
    artifacts = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject"]
        Resource = "arn:aws:s3:::example-ci-artifacts/*"
      }]
    })
  }
}

# The [runners.kubernetes] lines for the runner's config.toml.
output "runner_kubernetes_config" {
  value = gitlabrunner_irsa_binding.manager.runner_config_toml
}

output "job_pods_config" {
  value = gitlabrunner_irsa_binding.jobs.runner_config_toml
}
