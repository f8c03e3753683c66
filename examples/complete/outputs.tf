output "runner_config_toml" {
  description = "The [[runners]] entry for config.toml (the Helm chart's runners.config)."
  value       = local.runner_config_toml
}

output "helm_values" {
  description = "Values for the gitlab-runner Helm chart, installed in the runner namespace: helm upgrade --install gitlab-runner gitlab/gitlab-runner -n RUNNER_NAMESPACE -f values.yaml --set gitlabUrl=...,runnerToken=..."
  value       = <<-EOT
    # The binding made and annotated the ServiceAccount and the RBAC: the chart creates neither.
    serviceAccount:
      create: false
      name: ${gitlabrunner_irsa_binding.manager.service_account_name}
    rbac:
      create: false
    runners:
      config: |
        ${indent(4, trimspace(local.runner_config_toml))}
  EOT
}

output "manager_role_arn" {
  description = "The runner manager's IAM role."
  value       = gitlabrunner_irsa_binding.manager.role_arn
}

output "jobs_role_arn" {
  description = "The job pods' IAM role."
  value       = gitlabrunner_irsa_binding.jobs.role_arn
}

output "manager_verified_as" {
  description = "The assumed-role ARN STS returned for the manager's ServiceAccount token (verify)."
  value       = gitlabrunner_irsa_binding.manager.verified_identity_arn
}

output "cache_policy" {
  description = "The cache permissions on the manager's role."
  value       = gitlabrunner_cache.this.policy_document
}
