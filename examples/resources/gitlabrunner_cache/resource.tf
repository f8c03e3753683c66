# The runner manager's role and ServiceAccount (see gitlabrunner_irsa_binding).
resource "gitlabrunner_irsa_binding" "manager" {
  namespace            = "gitlab-runner"
  service_account_name = "gitlab-runner"
  role_name            = "gitlab-runner-manager"

  grant {
    namespace = "ci-jobs"
    preset    = "kubernetes-executor"
  }
}

# A cache bucket created with secure defaults, and the manager's permissions on it.
resource "gitlabrunner_cache" "runner" {
  role_name       = gitlabrunner_irsa_binding.manager.role_name
  bucket_name     = "example-gitlab-runner-cache"
  path            = "runner"
  shared          = true
  create_bucket   = true
  expiration_days = 14
}

# An existing bucket encrypted with a customer-managed key: the policy grants that key only,
# and the runner configuration asks for SSE-KMS with it.
resource "gitlabrunner_cache" "team" {
  role_name     = gitlabrunner_irsa_binding.manager.role_name
  bucket_name   = "example-shared-build-cache"
  bucket_region = "eu-central-1"
  path          = "teams/platform"
  kms_key_arn   = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}

# Paste into the runner's config.toml, below its [[runners]] entry ...
output "runner_cache_toml" {
  value = gitlabrunner_cache.runner.config_toml
}

# ... or hand it to the gitlab-runner Helm chart as a values file, when runners.config holds
# nothing else (Helm replaces the runners.config string as a whole; with [runners.kubernetes]
# settings of your own, put config_toml into your runners.config instead).
output "runner_cache_helm_values" {
  value = gitlabrunner_cache.runner.helm_values
}
