variable "oidc_issuer_url" {
  description = "The cluster's OIDC issuer URL: `aws eks describe-cluster --name NAME --query cluster.identity.oidc.issuer`."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider. Leave it null to look the provider up by oidc_issuer_url; when set, it must be that issuer's provider."
  type        = string
  default     = null
}

variable "cluster_name" {
  description = "Names the IAM roles (role names are unique per AWS account, so two clusters need two names)."
  type        = string
  default     = "example"
}

variable "kubernetes_context" {
  description = "Context of the kubeconfig to use; null for its current context."
  type        = string
  default     = null
}

variable "runner_namespace" {
  description = "Namespace of the runner manager (the Helm release's namespace). It must exist."
  type        = string
  default     = "gitlab-runner"
}

variable "job_namespace" {
  description = "Namespace where the runner starts job pods. It must exist."
  type        = string
  default     = "gitlab-jobs"
}

variable "cache_bucket_name" {
  description = "Name of the S3 cache bucket the example creates; null for gitlab-runner-cache-ACCOUNT_ID-CLUSTER_NAME."
  type        = string
  default     = null
}
