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
